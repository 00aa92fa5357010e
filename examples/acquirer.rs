//! The simulated acquirer of `transit_gate`'s deferred authorisations (issue 11): reads a batch
//! the gate exported, authorises every record from the record alone (the ARQC recomputed from
//! field 55 with the simulated issuer's keys, `quickpass_sim::host::acquirer`), declines the
//! first `--decline N` distinct cards of the batch (accounts without funds), and writes the
//! answers for `transit_gate --apply-results`.
//!
//! ```sh
//! cargo run --example acquirer -- --batch PATH --out PATH [--profile PATH] [--decline N] [--json]
//! ```
//!
//! `--profile PATH` is the card profile whose issuer master key the riders' cards derive from
//! (default `vectors/cards/transit-online-oda.json`): every PAN in the batch is given that
//! issuer's keys, as `transit_gate --riders` makes its cards. The answers are JSON lines
//! `{"id": N, "decision": "approved" | "declined", "cause": …}`. Exit status: 0, 1 when a file
//! cannot be read or written or a line is not a deferred authorisation, 2 on bad arguments.

#[macro_use]
mod stdout;

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use quickpass::kernel::transit::DeferredAuthorisation;
use quickpass::report::error_chain as chain;
use quickpass_sim::host::acquirer::{AcquirerDecision, SimAcquirer};
use quickpass_sim::host::emv::EmvHost;
use quickpass_sim::{ApplicationProfile, CardProfile};

/// The simulated acquirer of deferred transit authorisations.
#[derive(clap::Parser)]
#[command(name = "acquirer")]
struct Options {
    /// The batch transit_gate exported (JSON lines).
    #[arg(long, value_name = "PATH")]
    batch: PathBuf,
    /// Where to write the answers (JSON lines).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// The card profile whose issuer keys the riders' cards use.
    #[arg(long, value_name = "PATH", default_value_os_t = quickpass_sim::data::card_profile("transit-online-oda"))]
    profile: PathBuf,
    /// Decline the first N distinct cards of the batch.
    #[arg(long, value_name = "N", default_value_t = 0)]
    decline: usize,
    /// A JSON summary.
    #[arg(long)]
    json: bool,
}

/// One line of a batch.
#[derive(serde::Deserialize)]
struct Line {
    id: u64,
    kind: String,
    payload: serde_json::Value,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("acquirer: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let profile = CardProfile::load(&options.profile).map_err(|e| chain(&e))?;
    let Some(ApplicationProfile::Pboc(app)) = profile.applications.first() else {
        return Err("the profile's first application is not a bank card".into());
    };
    let imk: [u8; 16] = hex::decode(app.issuer_master_key.expose())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("issuer_master_key is not 16 hex bytes")?;
    let batch = std::fs::File::open(&options.batch)
        .map_err(|e| format!("{}: {e}", options.batch.display()))?;
    let mut records = Vec::new();
    for (n, line) in std::io::BufReader::new(batch).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", options.batch.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: serde_json::Error| format!("{} line {}: {e}", options.batch.display(), n + 1);
        let line: Line = serde_json::from_str(&line).map_err(at)?;
        if line.kind != "transit_deferred" {
            continue;
        }
        let record: DeferredAuthorisation = serde_json::from_value(line.payload).map_err(at)?;
        records.push((line.id, record));
    }
    let mut issuer = EmvHost::new();
    for (_, record) in &records {
        let psn = record.psn.unwrap_or(0);
        if !issuer.knows(&record.pan, psn) {
            issuer
                .add_card(&record.pan, psn, imk, None)
                .map_err(|e| chain(&e))?;
        }
    }
    let mut acquirer = SimAcquirer::new(issuer);
    let mut declined_cards = BTreeSet::new();
    for (_, record) in &records {
        if declined_cards.len() == options.decline {
            break;
        }
        let card = (record.pan.clone(), record.psn.unwrap_or(0));
        if declined_cards.insert(card.clone()) {
            acquirer.decline_card(&card.0, card.1);
        }
    }
    let out = std::fs::File::create(&options.out)
        .map_err(|e| format!("{}: {e}", options.out.display()))?;
    let mut out = std::io::BufWriter::new(out);
    let (mut approved, mut declined) = (0usize, 0usize);
    for (id, record) in &records {
        let (decision, cause) = match acquirer.authorise(record) {
            AcquirerDecision::Approved => {
                approved += 1;
                ("approved", None)
            }
            AcquirerDecision::Declined(cause) => {
                declined += 1;
                ("declined", Some(format!("{cause:?}")))
            }
        };
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "id": id, "decision": decision, "cause": cause }),
        )
        .map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    if options.json {
        outln!(
            "{}",
            serde_json::json!({ "records": records.len(), "approved": approved, "declined": declined })
        );
    } else {
        outln!(
            "{} records: {approved} approved, {declined} declined",
            records.len()
        );
    }
    Ok(())
}
