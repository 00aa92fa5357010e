//! APDUs and bytes exchanged per flow: one tap of every flow of `quickpass_sim::rig` on the
//! simulated cards, printed as a markdown table.
//!
//! ```sh
//! cargo run --example flow_stats
//! ```
//!
//! Bytes are counted at the APDU layer: every C-APDU sent (header, Lc, data, Le) and every
//! R-APDU received (data and the status word). The CAPP flow is shown twice: entry, then exit.
//! `tests/rig.rs` asserts the same APDU counts.

#[macro_use]
mod stdout;

use std::process::ExitCode;

use quickpass::kernel::transport::Counters;
use quickpass_sim::rig::{Flow, Rig, TapReport};

/// APDUs and bytes exchanged per flow, as a markdown table (no options).
#[derive(clap::Parser)]
#[command(name = "flow_stats")]
struct Options {}

fn main() -> ExitCode {
    let Options {} = <Options as clap::Parser>::parse();
    let mut rig = match Rig::new() {
        Ok(rig) => rig,
        Err(e) => {
            eprintln!("flow_stats: {e}");
            return ExitCode::from(1);
        }
    };
    outln!(
        "| flow | outcome | card APDUs | card bytes sent / received | PSAM APDUs | PSAM bytes sent / received | bytes in all |"
    );
    outln!("|---|---|---|---|---|---|---|");
    let mut unexpected = 0;
    for flow in Flow::ALL {
        let labels: &[&str] = if flow == Flow::Capp {
            &["capp entry", "capp exit"]
        } else {
            &[flow.name()]
        };
        for label in labels {
            let report = match rig.tap(flow) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("flow_stats: {e}");
                    return ExitCode::from(1);
                }
            };
            print_row(label, &report);
            if let Some(why) = &report.unexpected {
                eprintln!("{label}: unexpected {} ({why})", report.outcome);
                unexpected += 1;
            }
        }
    }
    if unexpected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_row(label: &str, report: &TapReport) {
    let bytes = |c: &Counters| c.bytes_sent + c.bytes_received;
    let sam = if report.sam.apdus_sent == 0 {
        ("–".to_owned(), "–".to_owned())
    } else {
        (
            report.sam.apdus_sent.to_string(),
            format!("{} / {}", report.sam.bytes_sent, report.sam.bytes_received),
        )
    };
    outln!(
        "| {label} | {} | {} | {} / {} | {} | {} | {} |",
        report.outcome,
        report.card.apdus_sent,
        report.card.bytes_sent,
        report.card.bytes_received,
        sam.0,
        sam.1,
        bytes(&report.card) + bytes(&report.sam)
    );
}
