//! Runs `quickpass-vectors/1` files through the library and reports per case.
//!
//! `cargo run --release --example conformance -- PATH...` (files or directories, recursively).
//! Prints `PASS file#id` / `FAIL file#id: reason` per case and, last, `N passed, M failed`;
//! exits with status 1 when any case failed.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: conformance PATH...");
        return ExitCode::from(2);
    }
    let report = quickpass_sim::conformance::run_paths(&paths);
    for line in report.lines() {
        println!("{line}");
    }
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
