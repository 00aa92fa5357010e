//! Runs `quickpass-vectors/1` files through the library and reports per case.
//!
//! `cargo run --release --example conformance -- PATH...` (files or directories, recursively).
//! Prints `PASS file#id` / `FAIL file#id: reason` per case and, last, `N passed, M failed`;
//! exits with status 1 when any case failed. Symbolic links met in a directory walk are not
//! followed (a `SKIP` line each, before the summary); a link named as a PATH is.

#[macro_use]
mod stdout;

use std::path::PathBuf;
use std::process::ExitCode;

/// Runs quickpass-vectors/1 files: `PASS`/`FAIL` per case, then `N passed, M failed`.
#[derive(clap::Parser)]
#[command(name = "conformance")]
struct Options {
    /// Vector files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let Options { paths } = <Options as clap::Parser>::parse();
    let report = quickpass_sim::conformance::run_paths(&paths);
    for line in report.lines() {
        outln!("{line}");
    }
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
