//! The examples as processes (issue 15): no panic on a non-UTF-8 argument or a closed pipe,
//! exit 0 for `--help`, 2 for bad arguments, 1 for set-up failures; boolean flags take no
//! value; the conformance runner does not follow symbolic links in its walk.
//!
//! Each example is built by `cargo build --example` from here (as `tests/pcsc_purse.rs` does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::example;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(exe: &Path, args: &[&OsStr]) -> Output {
    Command::new(exe)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the example")
}

fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

fn assert_no_panic(what: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && output.status.code() != Some(101),
        "{what}: {:?}\n{stderr}",
        output.status
    );
}

/// The programs without PC/SC, each with one flag taking a text value and one taking a path.
const PROGRAMS: &[(&str, &str, &str)] = &[
    ("transact", "--date", "--profile"),
    ("bus_fare", "--reader", "--profile"),
    ("etc_topup", "--reader", "--profile"),
    ("serve_card", "--port", "--profile"),
];

#[test]
fn examples_never_panic_and_share_exit_codes() {
    let bad = OsStr::from_bytes(b"\xff\xfe");
    for &(name, text_flag, path_flag) in PROGRAMS {
        let exe = example(name);
        let help = run(&exe, &[os("--help")]);
        assert_eq!(help.status.code(), Some(0), "{name} --help");
        // A non-UTF-8 value where text is needed: a usage error, exit 2, no panic.
        let output = run(&exe, &[os(text_flag), bad]);
        assert_no_panic(name, &output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{name} {text_flag} <non-UTF-8>"
        );
        // A non-UTF-8 unknown argument: a usage error too.
        let output = run(&exe, &[bad]);
        assert_no_panic(name, &output);
        assert_eq!(output.status.code(), Some(2), "{name} <non-UTF-8>");
        // A non-UTF-8 path is a path: it does not exist, a set-up failure, exit 1.
        let output = run(&exe, &[os(path_flag), bad]);
        assert_no_panic(name, &output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name} {path_flag} <non-UTF-8>"
        );
        let output = run(&exe, &[os("--no-such-flag")]);
        assert_eq!(output.status.code(), Some(2), "{name} --no-such-flag");
    }
}

#[test]
fn examples_without_paths_refuse_non_utf8_as_usage_errors() {
    let bad = OsStr::from_bytes(b"\xff");
    for (name, flag) in [("long_run", "--taps"), ("flow_stats", "--no-such-flag")] {
        let exe = example(name);
        assert_eq!(run(&exe, &[os("--help")]).status.code(), Some(0), "{name}");
        for args in [vec![bad], vec![os(flag), bad]] {
            let output = run(&exe, &args);
            assert_no_panic(name, &output);
            assert_eq!(output.status.code(), Some(2), "{name} {args:?}");
        }
    }
    // conformance: a non-UTF-8 path is a path (no such file: a failed case, exit 1).
    let output = run(&example("conformance"), &[bad]);
    assert_no_panic("conformance", &output);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"), "{text}");
}

#[test]
fn boolean_flags_take_no_value_and_set_up_failures_exit_1() {
    let transact = example("transact");
    for args in [["--json=false"], ["--json=true"], ["--test-keys=no"]] {
        let output = run(&transact, &args.map(os));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            output.stdout.is_empty(),
            "{args:?}: no JSON on a usage error"
        );
    }
    let output = run(
        &transact,
        &[os("--config"), os("/nonexistent/terminal.json")],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "transact: unreadable configuration"
    );
    let output = run(&transact, &[os("--json"), os("--un"), os("01020304")]);
    assert_eq!(output.status.code(), Some(0));
    let value: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert!(value["outcome"].is_string(), "{value}");
}

#[test]
fn a_closed_pipe_ends_the_output_without_a_panic() {
    let exe = example("bus_fare");
    let mut child = Command::new(exe)
        .args(["--taps", "2000", "--json"])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bus_fare");
    let mut first = String::new();
    {
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut first).expect("one line");
        // The reader goes away (as `| head -1`).
    }
    let output = child.wait_with_output().expect("bus_fare ends");
    let line: Value = serde_json::from_str(&first).expect("a JSON line");
    assert_eq!(line["result"], "paid", "{line}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn conformance_does_not_follow_symlinks_in_its_walk() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let exe = example("conformance");
    let baseline = run(&exe, &[vectors.as_os_str()]);
    let summary = |output: &Output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let last = text.lines().last().unwrap_or_default().to_owned();
        let cases = text
            .lines()
            .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
            .count();
        (last, cases, text)
    };
    let (base_last, base_cases, _) = summary(&baseline);
    assert!(base_cases > 0, "{base_last}");

    let dir = std::env::temp_dir().join(format!("quickpass-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("self")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("sub").join("up")).unwrap();
    std::os::unix::fs::symlink(&vectors, dir.join("vectors")).unwrap();
    std::fs::create_dir(dir.join("real")).unwrap();

    // The walk over links: terminates, follows none, counts nothing twice.
    let mut child = Command::new(&exe)
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("conformance did not end over a self-referencing link");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let (last, cases, text) = summary(&output);
    assert_eq!(cases, 0, "{text}");
    assert_eq!(last, "0 passed, 0 failed", "{text}");
    assert_eq!(text.matches("SKIP ").count(), 3, "{text}");

    // The vectors named once on the command line, plus the link dir: each vector once.
    let output = run(&exe, &[vectors.as_os_str(), dir.as_os_str()]);
    let (last, cases, _) = summary(&output);
    assert_eq!((last.as_str(), cases), (base_last.as_str(), base_cases));
    // A link named on the command line is followed.
    let output = run(&exe, &[dir.join("vectors").as_os_str()]);
    let (last, cases, _) = summary(&output);
    assert_eq!((last.as_str(), cases), (base_last.as_str(), base_cases));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 15 reproduction 4: a journal that cannot be written is refused at start-up (exit 1,
/// the reason on stderr, no tap), not a run declining every tap and exiting 0.
#[test]
fn an_unusable_journal_is_refused_at_start_up() {
    let dir = std::env::temp_dir().join(format!("quickpass-cli-journal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("nonexistent/dir/j.json");
    for name in ["bus_fare", "etc_topup"] {
        let exe = example(name);
        // A missing directory and a directory in place of the file: set-up failure, exit 1.
        for path in [missing.as_os_str(), dir.as_os_str()] {
            let output = run(&exe, &[os("--journal"), path, os("--json")]);
            assert_no_panic(name, &output);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{name} --journal {path:?}: {stderr}"
            );
            assert!(stderr.contains("journal"), "{name}: {stderr}");
            assert!(output.stdout.is_empty(), "{name}: no tap was made");
        }
        // An empty path is refused by the argument parser already: a usage error, exit 2.
        let output = run(&exe, &[os("--journal"), os(""), os("--json")]);
        assert_no_panic(name, &output);
        assert_eq!(output.status.code(), Some(2), "{name} --journal ''");
        assert!(output.stdout.is_empty(), "{name}: no tap was made");
        // A writable path works and leaves a checked journal behind.
        let path = dir.join(format!("{name}.json"));
        let output = run(&exe, &[os("--journal"), path.as_os_str(), os("--json")]);
        assert_eq!(output.status.code(), Some(0), "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("quickpass-journal/2"), "{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
