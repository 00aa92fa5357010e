//! Per-iteration medians of every ODA chain (SDA, DDA, CDA, fDDA; RSA and SM2) in the three
//! states a terminal meets them in — known issuer + new card (a bus's usual tap), cold, memo
//! hit — measured in interleaved passes, so that a peer's figures taken between our passes on
//! the same machine compare fairly (issue 14). With `--openssl`, also one SM2 verification
//! beside `openssl speed -seconds 3 sm2` run in the same invocation.
//!
//! ```sh
//! cargo run --release --example oda_bench                     # 9 passes, every chain
//! cargo run --release --example oda_bench -- --openssl        # plus SM2 against OpenSSL
//! cargo run --release --example oda_bench -- --only sm2 --passes 3
//! ```
//!
//! Each figure is the median, over the passes, of a pass's median single-iteration time (each
//! iteration timed on its own; the set-up a state needs, such as a fresh CA key for a cold
//! RSA chain, is done between iterations and not timed).

#[path = "oda_cases/mod.rs"]
mod oda_cases;

use std::hint::black_box;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use oda_cases::{Method, RsaChain, Sm2Chains, State};

/// ODA chain timings: per-iteration medians in interleaved passes.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Interleaved passes (each runs every case once).
    #[arg(long, default_value_t = 9)]
    passes: usize,
    /// Timed iterations per case and pass, RSA (SM2 chains take a tenth of it).
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    /// Only `rsa` or only `sm2`.
    #[arg(long)]
    only: Option<String>,
    /// Also print one SM2 verification beside `openssl speed -seconds 3 sm2`.
    #[arg(long)]
    openssl: bool,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// Median of `iterations` single-iteration times of `run`, with `setup` (untimed) before each.
fn per_iteration<S, T>(
    iterations: usize,
    mut setup: impl FnMut(usize) -> S,
    mut run: impl FnMut(usize, &S) -> T,
) -> Duration {
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let state = setup(i);
        let start = Instant::now();
        black_box(run(i, &state));
        times.push(start.elapsed());
    }
    median(times)
}

fn micros(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

/// `openssl speed -seconds 3 sm2`: seconds per verification, from its verify/s column.
fn openssl_sm2_verify() -> Result<f64, String> {
    let output = Command::new("openssl")
        .args(["speed", "-seconds", "3", "sm2"])
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("SM2") && l.contains("bits"))
        .ok_or_else(|| format!("no SM2 line in `openssl speed` output:\n{text}"))?;
    let per_second: f64 = line
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unreadable line: {line}"))?;
    Ok(1.0 / per_second)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let passes = args.passes.max(1);
    let rsa_on = args.only.as_deref() != Some("sm2");
    let sm2_on = args.only.as_deref() != Some("rsa");
    let rsa = RsaChain::all();
    let sm2 = Sm2Chains::new();
    sm2.warm();
    let sm2_iterations = (args.iterations / 10).max(20);

    // (label, per-pass medians)
    let mut rows: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut record = |label: String, d: Duration| match rows.iter_mut().find(|r| r.0 == label) {
        Some(row) => row.1.push(d),
        None => rows.push((label, vec![d])),
    };
    let sm2_counter = std::cell::Cell::new(0usize);
    for _ in 0..passes {
        for state in State::ALL {
            if rsa_on {
                for chain in &rsa {
                    let d = per_iteration(
                        args.iterations,
                        |_| chain.ca_in_state(state),
                        |_, ca| chain.run(ca),
                    );
                    record(format!("rsa {} {}", chain.method.name(), state.name()), d);
                }
            }
            if sm2_on {
                for method in Method::ALL {
                    let d = per_iteration(
                        sm2_iterations,
                        |_| {
                            sm2_counter.set(sm2_counter.get() + 1);
                            sm2_counter.get()
                        },
                        |_, &i| sm2.run(method, state, i),
                    );
                    record(format!("sm2 {} {}", method.name(), state.name()), d);
                }
            }
        }
        if sm2_on {
            let key = sm2.known_issuer_key();
            let d = per_iteration(
                sm2_iterations,
                |_| {
                    sm2_counter.set(sm2_counter.get() + 1);
                    sm2_counter.get()
                },
                |_, &i| sm2.verify_icc_certificate(&key, i),
            );
            record("sm2 one verification, key with table".into(), d);
            let icc = sm2.icc_key();
            let d = per_iteration(sm2_iterations, |_| (), |_, _| sm2.verify_sdad(&icc));
            record("sm2 one verification, key without table".into(), d);
        }
    }
    println!("per-iteration medians, median of {passes} interleaved passes");
    for (label, medians) in &rows {
        println!("{label:<48} {:>12}", micros(median(medians.clone())));
    }
    if args.openssl && sm2_on {
        match openssl_sm2_verify() {
            Ok(seconds) => {
                let openssl = Duration::from_secs_f64(seconds);
                println!(
                    "{:<48} {:>12}",
                    "openssl speed -seconds 3 sm2 (verify)",
                    micros(openssl)
                );
                for (label, medians) in rows.iter().filter(|r| r.0.starts_with("sm2 one")) {
                    let ours = median(medians.clone());
                    println!(
                        "{label:<48} {:>12}  = {:.2}× OpenSSL",
                        micros(ours),
                        ours.as_secs_f64() / seconds
                    );
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
