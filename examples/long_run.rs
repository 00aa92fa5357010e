//! Memory over a long run: 10⁶ taps on the simulated cards, alternating every flow of
//! `quickpass_sim::rig` (qPBOC offline fDDA, qPBOC online request checked by the simulated issuer,
//! pure EC, SM2 fDDA, contact CDA, purse purchase, CAPP entry/exit, load through the host),
//! with the process's peak and current resident memory after a warm-up, every 10 % and at the
//! end.
//!
//! ```sh
//! cargo run --release --example long_run -- [--taps N] [--json]
//! ```
//!
//! `--taps N` (default 1 000 000), `--json` (the progress table goes to stderr and one JSON
//! summary object to stdout). Exit status: 0 when every tap gave its expected outcome and memory
//! stayed flat, 1 otherwise (or when the set-up fails), 2 on bad arguments.
//!
//! **Flat** means the peak resident set (`VmHWM`) at the end exceeds the peak after the warm-up
//! (1 % of the taps, at least 1 000) by at most [`TOLERANCE_KIB`]. Cards are re-personalised
//! every `rig::CARD_LIFETIME` taps of a flow (so balances and counters never run out) and the
//! settlement records are uploaded after every tap, so a terminal's working set is all there is.
//! Memory figures come from `/proc/self/status` (Linux); elsewhere they print as "unavailable"
//! and only the outcomes are checked.

#[macro_use]
mod stdout;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use quickpass_sim::rig::{Flow, Rig};

/// How much the peak RSS may grow after the warm-up: 1 MiB. The smallest leak that can happen
/// per tap is one heap block (16 bytes with glibc's header), i.e. at least 15 MiB over 10⁶ taps
/// (or 0.8 MiB over the 50 000 re-personalisations), so any leak is caught at the default size;
/// the allocator's own drift (arenas, fragmentation, the last page of a growing buffer) stays in
/// the tens of KiB. With a small `--taps` a leak can hide inside the tolerance: the check is
/// meant for the full run.
const TOLERANCE_KIB: u64 = 1024;
/// Unexpected outcomes printed with their reason (all are counted).
const SHOWN_PROBLEMS: usize = 10;

/// Runs N taps alternating every flow on the simulated cards and reports peak and current RSS
/// after a warm-up, every 10 % and at the end. Exit 1 if a tap is not the expected outcome or
/// the peak RSS grows by more than 1 MiB after the warm-up.
#[derive(clap::Parser)]
#[command(name = "long_run")]
struct Options {
    /// Taps to run.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    taps: u64,
    /// Progress table to stderr, one JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// Peak and current resident set size, KiB (`VmHWM`, `VmRSS`).
#[derive(Debug, Clone, Copy)]
struct Memory {
    peak_kib: u64,
    current_kib: u64,
}

/// Reads `/proc/self/status`; `None` where there is none (not Linux).
fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        peak_kib: field("VmHWM:")?,
        current_kib: field("VmRSS:")?,
    })
}

/// One row of the memory table.
struct Sample {
    label: String,
    taps: u64,
    elapsed: Duration,
    memory: Option<Memory>,
}

impl Sample {
    fn take(label: impl Into<String>, taps: u64, start: Instant) -> Sample {
        Sample {
            label: label.into(),
            taps,
            elapsed: start.elapsed(),
            memory: memory(),
        }
    }

    fn print(&self, out: &mut dyn std::io::Write) {
        let (peak, current) = match self.memory {
            Some(m) => (
                format!("{} KiB", m.peak_kib),
                format!("{} KiB", m.current_kib),
            ),
            None => ("unavailable".into(), "unavailable".into()),
        };
        let _ = writeln!(
            out,
            "| {:<9} | {:>9} | {:>8.1} | {:>12} | {:>12} |",
            self.label,
            self.taps,
            self.elapsed.as_secs_f64(),
            peak,
            current
        );
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "point": self.label,
            "taps": self.taps,
            "seconds": self.elapsed.as_secs_f64(),
            "vm_hwm_kib": self.memory.map(|m| m.peak_kib),
            "vm_rss_kib": self.memory.map(|m| m.current_kib),
        })
    }
}

/// Per-flow tally.
#[derive(Default)]
struct Tally {
    taps: u64,
    unexpected: u64,
    outcomes: BTreeMap<&'static str, u64>,
    busy: Duration,
}

fn run(options: &Options) -> Result<bool, String> {
    let mut rig = Rig::new().map_err(|e| e.to_string())?;
    let warm_up = (options.taps / 100).max(1_000).min(options.taps);
    let tenth = (options.taps / 10).max(1);
    let mut out: Box<dyn std::io::Write> = if options.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let _ = writeln!(
        out,
        "{} taps alternating {} flows; warm-up {warm_up} taps\n",
        options.taps,
        Flow::ALL.len()
    );
    let _ = writeln!(
        out,
        "| point     |      taps |        s |        VmHWM |        VmRSS |"
    );
    let _ = writeln!(
        out,
        "|-----------|-----------|----------|--------------|--------------|"
    );
    let start = Instant::now();
    let mut samples = vec![Sample::take("start", 0, start)];
    samples[0].print(&mut *out);
    let mut tallies: BTreeMap<Flow, Tally> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut warmed = None;
    for n in 0..options.taps {
        let flow = Flow::nth(n);
        let began = Instant::now();
        let report = rig.tap(flow).map_err(|e| e.to_string())?;
        let tally = tallies.entry(flow).or_default();
        tally.busy += began.elapsed();
        tally.taps += 1;
        *tally.outcomes.entry(report.outcome).or_default() += 1;
        if let Some(why) = report.unexpected {
            tally.unexpected += 1;
            if problems.len() < SHOWN_PROBLEMS {
                problems.push(format!(
                    "tap {}: {}: {} ({why})",
                    n + 1,
                    flow.name(),
                    report.outcome
                ));
            }
        }
        let done = n + 1;
        if done == warm_up {
            let sample = Sample::take("warm-up", done, start);
            sample.print(&mut *out);
            warmed = Some(samples.len());
            samples.push(sample);
        }
        if done % tenth == 0 && done != options.taps {
            let sample = Sample::take(format!("{} %", done * 100 / options.taps), done, start);
            sample.print(&mut *out);
            samples.push(sample);
        }
    }
    let elapsed = start.elapsed();
    let end = Sample::take("end", options.taps, start);
    end.print(&mut *out);
    samples.push(end);

    // Flat: the end's peak against the warm-up's.
    let baseline = warmed.and_then(|i| samples[i].memory);
    let last = samples.last().and_then(|s| s.memory);
    let growth_kib = match (baseline, last) {
        (Some(b), Some(e)) => Some(e.peak_kib.saturating_sub(b.peak_kib)),
        _ => None,
    };
    let flat = growth_kib.is_none_or(|g| g <= TOLERANCE_KIB);
    let unexpected: u64 = tallies.values().map(|t| t.unexpected).sum();
    let rate = options.taps as f64 / elapsed.as_secs_f64();

    let _ = writeln!(
        out,
        "\n| flow           |    taps | unexpected | µs/tap (sim card) | outcomes |"
    );
    let _ = writeln!(
        out,
        "|----------------|---------|------------|-------------------|----------|"
    );
    for (flow, tally) in &tallies {
        let outcomes: Vec<String> = tally
            .outcomes
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let _ = writeln!(
            out,
            "| {:<14} | {:>7} | {:>10} | {:>17.1} | {} |",
            flow.name(),
            tally.taps,
            tally.unexpected,
            tally.busy.as_secs_f64() * 1e6 / tally.taps as f64,
            outcomes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "(µs/tap: the whole tap with the simulated card in process — the card's own work and a \
         re-personalisation every {} taps included)",
        quickpass_sim::rig::CARD_LIFETIME
    );
    for problem in &problems {
        let _ = writeln!(out, "unexpected: {problem}");
    }
    let _ = writeln!(
        out,
        "\n{} taps in {:.1} s: {rate:.0} taps/s; {} cards personalised; {unexpected} unexpected \
         outcomes",
        options.taps,
        elapsed.as_secs_f64(),
        rig.personalisations()
    );
    match growth_kib {
        Some(g) => {
            let _ = writeln!(
                out,
                "peak RSS after the warm-up grew by {g} KiB (tolerance {TOLERANCE_KIB} KiB): {}",
                if flat { "flat" } else { "NOT FLAT" }
            );
        }
        None => {
            let _ = writeln!(out, "memory: unavailable (no /proc/self/status)");
        }
    }
    if options.json {
        let flows: serde_json::Map<String, serde_json::Value> = tallies
            .iter()
            .map(|(flow, t)| {
                (
                    flow.name().to_owned(),
                    serde_json::json!({
                        "taps": t.taps,
                        "unexpected": t.unexpected,
                        "outcomes": t.outcomes,
                        "us_per_tap": t.busy.as_secs_f64() * 1e6 / t.taps as f64,
                    }),
                )
            })
            .collect();
        let summary = serde_json::json!({
            "taps": options.taps,
            "seconds": elapsed.as_secs_f64(),
            "taps_per_second": rate,
            "personalisations": rig.personalisations(),
            "unexpected": unexpected,
            "problems": problems,
            "flows": flows,
            "memory": samples.iter().map(Sample::json).collect::<Vec<_>>(),
            "warm_up_vm_hwm_kib": baseline.map(|m| m.peak_kib),
            "end_vm_hwm_kib": last.map(|m| m.peak_kib),
            "growth_kib": growth_kib,
            "tolerance_kib": TOLERANCE_KIB,
            "flat": growth_kib.map(|g| g <= TOLERANCE_KIB),
        });
        outln!("{summary}");
    }
    Ok(flat && unexpected == 0)
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("long_run: {e}");
            ExitCode::from(1)
        }
    }
}
