//! The `quickpass` binary as a process (issue 15): no panic on a non-UTF-8 argument or a
//! closed pipe; exit 0 for `--help`/`--version`, 2 for bad arguments, 1 for set-up failures;
//! boolean flags take no value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn quickpass(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quickpass"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

fn code(args: &[&OsStr]) -> Option<i32> {
    let output = quickpass(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    output.status.code()
}

#[test]
fn exit_codes_are_those_of_every_program() {
    let bad = OsStr::from_bytes(b"\xff\xfe");
    assert_eq!(code(&[os("--help")]), Some(0));
    assert_eq!(code(&[os("--version")]), Some(0));
    assert_eq!(code(&[os("tap"), os("--help")]), Some(0));
    // Bad arguments: 2.
    assert_eq!(code(&[bad]), Some(2));
    assert_eq!(code(&[os("tap"), bad]), Some(2));
    assert_eq!(code(&[os("tap"), os("--date"), bad]), Some(2));
    assert_eq!(code(&[os("tap"), os("--un"), bad]), Some(2));
    assert_eq!(code(&[os("tap"), os("--json=false")]), Some(2));
    assert_eq!(code(&[os("tap"), os("--test-keys=true")]), Some(2));
    assert_eq!(code(&[os("readers"), os("--json=false")]), Some(2));
    assert_eq!(code(&[os("tap"), os("--no-such-flag")]), Some(2));
    // Set-up failures: 1 (a non-UTF-8 path is a path that does not exist).
    assert_eq!(code(&[os("tap"), os("--profile"), bad]), Some(1));
    assert_eq!(code(&[os("dump"), os("--profile"), bad]), Some(1));
    assert_eq!(
        code(&[os("tap"), os("--config"), os("/nonexistent/t.json")]),
        Some(1)
    );
    assert_eq!(
        code(&[os("serve-card"), os("--profile"), os("/nonexistent/p.json")]),
        Some(1)
    );
    assert_eq!(code(&[os("conformance"), bad]), Some(1));
    // A bad --date is a set-up failure of the run, not a panic.
    assert_eq!(code(&[os("tap"), os("--date"), os("261399")]), Some(1));
    // deny-list: help 0, a bad salt or a value on --json 2, an unreadable file 1.
    assert_eq!(code(&[os("deny-list"), os("build"), os("--help")]), Some(0));
    let salt = os("276245CEEEFA926C9FD9C1F6FD9FF9F6");
    let build = |salt: &OsStr, pans: &OsStr| {
        code(&[
            os("deny-list"),
            os("build"),
            os("--salt"),
            salt,
            os("--list-version"),
            os("1"),
            os("--pans"),
            pans,
            os("--out"),
            os("/nonexistent/dir/list.deny"),
        ])
    };
    assert_eq!(build(bad, os("-")), Some(2));
    assert_eq!(build(os("00"), os("-")), Some(2));
    assert_eq!(build(salt, bad), Some(1));
    // Standard input (empty here) read; the output's directory does not exist.
    assert_eq!(build(salt, os("-")), Some(1));
    assert_eq!(
        code(&[os("deny-list"), os("inspect"), os("--json=false"), os("x")]),
        Some(2)
    );
    assert_eq!(code(&[os("deny-list"), os("inspect"), bad]), Some(1));
}

#[test]
fn a_closed_pipe_ends_the_output_without_a_panic() {
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickpass"))
        .arg("conformance")
        .arg(&vectors)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        first.starts_with("PASS ") || first.starts_with("FAIL "),
        "{first}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
