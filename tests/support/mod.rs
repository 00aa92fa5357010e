//! What the tests that run the example programs share: building an example into the test's own
//! target directory and profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Builds example `name` into this test's target directory and profile, with the same features
/// as this test binary (so nothing is rebuilt for another feature set), and returns its
/// executable. `cargo test` builds examples only for `--examples`, hence the explicit build.
pub fn example(name: &str) -> PathBuf {
    // <target>/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let target_dir = profile_dir.parent().expect("target dir");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--example", name])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--target-dir",
        ])
        .arg(target_dir)
        .stderr(Stdio::inherit());
    if cfg!(feature = "pcsc") {
        cargo.args(["--features", "pcsc"]);
    }
    if profile_dir.file_name() == Some("release".as_ref()) {
        cargo.arg("--release");
    }
    let output = cargo.output().expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no executable for example {name}"))
}
