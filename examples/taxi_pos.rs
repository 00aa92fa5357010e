//! A taxi POS (issue 12): one contactless tap, the host's answer, the online completion, and
//! the records it keeps — the clearing record of an approval, a reversal when the host does not
//! answer, an advice when the issuer's update could not reach the card.
//!
//! ```sh
//! cargo run --example taxi_pos -- [--profile PATH] [--amount N] [--host approve|decline|timeout]
//!                                 [--store PATH] [--json]
//! ```
//!
//! The flags are a contract for outside scripts: `--profile PATH` (the simulated card, default
//! the online-only credit card `vectors/cards/qpboc-credit-online.json`), `--amount N` (minor
//! units, default 6000), `--host approve | decline | timeout` (what the simulated issuer does
//! with the ARQC, default `approve`), `--store PATH` (the terminal's store; default a temporary
//! one), `--json` (one object: `tap` = the kernel's outcome of the tap, `cvm`, `outcome` =
//! `approved` | `declined` after completion (or the tap's own when it did not go online), `arc`,
//! `message` = `clearing` | `reversal` | `advice` | null, `record` (the store's id), `pan`
//! masked, `amount`, `reason`). An offline approval (a TC) is kept as a clearing record too.
//! Exit status: 0 after the transaction, 1 when the set-up fails, 2 on bad arguments.

#[macro_use]
mod stdout;
mod open_store;

use std::path::PathBuf;
use std::process::ExitCode;

use quickpass::kernel::contact::HostResponse;
use quickpass::kernel::contactless::{self, BackOfficeMessage, HostReply};
use quickpass::kernel::tags;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::Amount;
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass::report::error_chain as chain;
use quickpass::store::{Created, RecordKind, Store};
use quickpass_sim::host::emv::EmvHost;
use quickpass_sim::{ApplicationProfile, CardProfile};

/// What the simulated issuer does with the ARQC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum HostBehaviour {
    /// Approves a valid cryptogram.
    Approve,
    /// Declines.
    Decline,
    /// Never answers.
    Timeout,
}

/// A taxi POS: a tap, the host's answer, completion, the records kept.
#[derive(clap::Parser)]
#[command(name = "taxi_pos")]
struct Options {
    /// Simulated card profile.
    #[arg(long, value_name = "PATH", default_value_os_t = quickpass_sim::data::card_profile("qpboc-credit-online"))]
    profile: PathBuf,
    /// Amount, minor units.
    #[arg(long, value_name = "N", default_value_t = 6000)]
    amount: u64,
    /// What the simulated issuer does.
    #[arg(long, value_enum, default_value_t = HostBehaviour::Approve)]
    host: HostBehaviour,
    /// The terminal's store (default: a temporary one, removed at the end).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("taxi_pos: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let mut open = open_store::open_store(options.store.as_deref(), "taxi-pos")?;
    transaction(options, &mut open.store)
}

fn transaction(options: &Options, store: &mut Store) -> Result<(), String> {
    let config = quickpass_sim::data::default_kernel_config().map_err(|e| chain(&e))?;
    let profile = CardProfile::load(&options.profile).map_err(|e| chain(&e))?;
    let mut card = profile.build().map_err(|e| chain(&e))?;
    let mut issuer = EmvHost::new();
    if let Some(ApplicationProfile::Pboc(app)) = profile.applications.first() {
        issuer.add_profile(app).map_err(|e| chain(&e))?;
    }
    let (date, time) = quickpass::clock::now();
    let input = TransactionInput {
        amount: Amount::from_minor(options.amount).map_err(|e| format!("--amount: {e}"))?,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date,
        time,
        unpredictable_number: quickpass::random::unpredictable_number()
            .map_err(|e| e.to_string())?,
    };
    let mut layer = ApduLayer::new(&mut card);
    let tap = contactless::transact(&config, &input, &mut layer).result;
    let record = tap.record();
    let created = Created::new(date, time);
    let (outcome, arc, message, reason) = match tap.outcome {
        Outcome::OnlineRequest => {
            let reply = match options.host {
                HostBehaviour::Timeout => HostReply::NoAnswer,
                HostBehaviour::Approve | HostBehaviour::Decline => {
                    let card = tap.card_phase.card();
                    let pan = card
                        .pan()
                        .map(|p| p.expose_digits().to_owned())
                        .unwrap_or_default();
                    let psn = card
                        .get(tags::PAN_SEQUENCE_NUMBER)
                        .and_then(|p| p.first().copied())
                        .unwrap_or(0);
                    if options.host == HostBehaviour::Decline {
                        issuer.set_decision(quickpass_sim::host::emv::IssuerDecision::Decline);
                    }
                    match issuer.authorise(&pan, psn, &tap.icc_data()) {
                        Ok(answer) => HostReply::Answered(HostResponse::new(answer.arc)),
                        Err(e) => return Err(format!("issuer: {}", chain(&e))),
                    }
                }
            };
            // The card has usually left by now: no issuer update is delivered here.
            let done = contactless::complete_online(
                &tap,
                reply,
                None::<&mut ApduLayer<&mut quickpass_sim::VirtualCard>>,
            )
            .map_err(|e| e.to_string())?;
            (done.outcome, done.arc, done.message, done.reason)
        }
        Outcome::Approved => (
            Outcome::Approved,
            None,
            Some(BackOfficeMessage::Clearing),
            None,
        ),
        other => (other, None, None, tap.reason.clone()),
    };
    // Kept durably before the cardholder is told.
    let kept = match message {
        Some(message) => Some(
            store
                .add_record(
                    RecordKind::Contactless,
                    &created,
                    None,
                    &serde_json::json!({
                        "message": message.as_str(),
                        "outcome": outcome.as_str(),
                        "arc": arc.map(|a| String::from_utf8_lossy(&a).into_owned()),
                        "record": &record,
                        "field_55": hex::encode_upper(tap.icc_data()),
                        // PAN, PSN, expiry and the field-55 set in clear, for the acquirer.
                        "clearing": tap.clearing_record(&config),
                    }),
                )
                .map_err(|e| format!("store: {}", chain(&e)))?,
        ),
        None => None,
    };
    let arc_text = arc.map(|a| String::from_utf8_lossy(&a).into_owned());
    if options.json {
        outln!(
            "{}",
            serde_json::json!({
                "tap": record.outcome.as_str(),
                "cvm": record.cvm,
                "outcome": outcome.as_str(),
                "arc": arc_text,
                "message": message.map(BackOfficeMessage::as_str),
                "record": kept,
                "pan": record.pan,
                "amount": record.amount,
                "reason": reason,
            })
        );
    } else {
        outln!(
            "{} {} ({}, CVM {}), host ARC {}, kept: {}",
            outcome.as_str(),
            record.pan.as_deref().unwrap_or("(no card)"),
            record.outcome.as_str(),
            record.cvm.unwrap_or("none"),
            arc_text.as_deref().unwrap_or("-"),
            message.map_or("nothing", BackOfficeMessage::as_str)
        );
        if let Some(reason) = &reason {
            outln!("  {reason}");
        }
    }
    Ok(())
}
