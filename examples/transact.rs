//! One contactless tap: on the built-in simulated card by default, or on a PC/SC reader.
//!
//! ```text
//! cargo run --example transact -- [--profile PATH] [--amount N] [--date YYMMDD] [--un HEX]
//!                                 [--capk-file PATH]... [--config PATH] [--reader NAME]
//!                                 [--test-keys] [--json]
//! ```
//!
//! The flags are a contract outside scripts rely on: `--reader NAME` (PC/SC, needs the `pcsc`
//! feature), `--profile PATH`, `--amount N` (minor units), `--date YYMMDD`, `--un HEX` (fixed
//! unpredictable number), `--capk-file PATH` (extra CA keys in the `quickpass-vectors/1` `capk`
//! format, added to the production lists), `--json` (one JSON object). `--config PATH` chooses the
//! terminal configuration (default `vectors/terminals/default.json`).
//!
//! CA keys: the production lists of `vectors/capk/` plus `--capk-file`, through the product's
//! loader, which refuses a list holding a test key. The simulated card (no `--reader`) is
//! signed by the simulator's test CA, which is then trusted too. A card in a real reader is
//! checked against the production keys only, unless `--test-keys` (a test card: prints a
//! warning) adds the test CA.

use std::path::PathBuf;
use std::process::ExitCode;

use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Amount, TransactionDate};
use quickpass::kernel::TransactionInput;
use quickpass::kernel::{dump, tlv};
use quickpass::setup;

struct Args {
    profile: PathBuf,
    reader: Option<String>,
    amount: Amount,
    date: Option<String>,
    un: Option<String>,
    capk_files: Vec<PathBuf>,
    config: PathBuf,
    test_keys: bool,
    json: bool,
}

const USAGE: &str =
    "usage: transact [--profile PATH | --reader NAME] [--amount N] [--date YYMMDD] \
                     [--un HEX] [--capk-file PATH]... [--config PATH] [--test-keys] [--json]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        profile: quickpass_sim::data::card_profile("qpboc-debit-offline"),
        reader: None,
        amount: Amount::from_minor(100).map_err(|e| e.to_string())?,
        date: None,
        un: None,
        capk_files: Vec::new(),
        config: quickpass_sim::data::default_terminal(),
        test_keys: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--profile" => args.profile = PathBuf::from(value()?),
            "--reader" => args.reader = Some(value()?),
            "--amount" => {
                args.amount = value()?
                    .parse()
                    .map_err(|e| format!("--amount takes minor units, at most 999999999999: {e}"))?
            }
            "--date" => args.date = Some(value()?),
            "--un" => args.un = Some(value()?),
            "--capk-file" => args.capk_files.push(PathBuf::from(value()?)),
            "--config" => args.config = PathBuf::from(value()?),
            "--test-keys" => args.test_keys = true,
            "--json" => args.json = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut capk_files = quickpass_sim::data::production_capk_files().map_err(error_chain)?;
    capk_files.extend(args.capk_files.iter().cloned());
    let loaded = setup::load_kernel_config(&args.config, &capk_files).map_err(error_chain)?;
    for refused in &loaded.refused_capks {
        eprintln!(
            "warning: CA key {} in {} refused: {}",
            refused.id,
            refused.path.display(),
            refused.error
        );
    }
    let mut config = loaded.config;
    if args.reader.is_none() || args.test_keys {
        if args.reader.is_some() {
            eprintln!(
                "warning: --test-keys: the simulator's TEST CA (private key public) is trusted \
                 for this card; never use this with a real payment card"
            );
        }
        // The simulated cards are signed by the test CA (RSA F1, SM2 F2).
        let ca = quickpass_sim::ca::TestCa::shared().map_err(error_chain)?;
        for key in ca.capk_store().map_err(error_chain)?.iter() {
            config.capks.insert(key.clone()).map_err(error_chain)?;
        }
    }
    let input = TransactionInput {
        amount: args.amount,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: date(args.date.as_deref())?,
        time: quickpass::clock::now().1,
        unpredictable_number: unpredictable_number(args.un.as_deref())?,
    };
    let result = match &args.reader {
        Some(reader) => tap_reader(reader, &config, &input)?,
        None => {
            let profile =
                quickpass_sim::CardProfile::load(&args.profile).map_err(|e| e.to_string())?;
            let mut card = profile.build().map_err(|e| e.to_string())?;
            tap(&mut card, &config, &input)?
        }
    };
    if args.json {
        println!("{}", json(&result));
    } else {
        print_report(&result);
    }
    Ok(())
}

/// An error and its causes, each said once (`a: b: c`).
fn error_chain(error: impl std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn tap<T: Transport>(
    card: &mut T,
    config: &quickpass::kernel::config::KernelConfig,
    input: &TransactionInput,
) -> Result<TransactionResult, String> {
    let mut layer = ApduLayer::new(card);
    // One call: an exchange failure still ends in an outcome (try again, end application, …)
    // with the error as its reason.
    Ok(contactless::transact(config, input, &mut layer).result)
}

#[cfg(feature = "pcsc")]
fn tap_reader(
    reader: &str,
    config: &quickpass::kernel::config::KernelConfig,
    input: &TransactionInput,
) -> Result<TransactionResult, String> {
    let mut transport = quickpass::pcsc::PcscTransport::new().map_err(|e| e.to_string())?;
    transport
        .wait_for_card(reader, std::time::Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    transport.connect(reader).map_err(|e| e.to_string())?;
    tap(&mut transport, config, input)
}

#[cfg(not(feature = "pcsc"))]
fn tap_reader(
    _reader: &str,
    _config: &quickpass::kernel::config::KernelConfig,
    _input: &TransactionInput,
) -> Result<TransactionResult, String> {
    Err("--reader needs the pcsc feature: cargo run --features pcsc --example transact".into())
}

/// `--date YYMMDD`, or today's date from the system clock (China time).
fn date(text: Option<&str>) -> Result<TransactionDate, String> {
    let bcd = match text {
        Some(text) if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) => {
            hex::decode(text).map_err(|e| e.to_string())?
        }
        Some(_) => return Err("--date takes YYMMDD".into()),
        None => return Ok(quickpass::clock::now().0),
    };
    TransactionDate::from_bcd(&bcd).map_err(|e| format!("--date: {e}"))
}

/// `--un HEX`, or four bytes from the standard library's randomly seeded hasher.
fn unpredictable_number(text: Option<&str>) -> Result<[u8; 4], String> {
    match text {
        Some(text) => hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "--un takes 4 bytes of hex".to_owned()),
        None => {
            use std::hash::{BuildHasher, RandomState};
            let value = RandomState::new().hash_one(unix_seconds());
            Ok((value as u32).to_be_bytes())
        }
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn json(result: &TransactionResult) -> String {
    let record = result.record();
    serde_json::json!({
        "outcome": record.outcome.as_str(),
        "cryptogram_type": record.cryptogram_type,
        "oda": record.oda,
        "tvr": record.tvr,
        "tsi": record.tsi,
        "aid": record.aid,
        "pan": record.pan,
        "apdus": record.apdus,
        "ec_balance": record.ec_balance,
        "amount": record.amount,
        "atc": record.atc,
        "application_cryptogram": record.application_cryptogram,
        "field_55": record.field_55,
        "reason": record.reason,
    })
    .to_string()
}

fn print_report(result: &TransactionResult) {
    let record = result.record();
    println!("outcome          {}", record.outcome.as_str());
    if let Some(reason) = &record.reason {
        println!("reason           {reason}");
    }
    println!("application      {}", record.aid.as_deref().unwrap_or("-"));
    println!("PAN              {}", record.pan.as_deref().unwrap_or("-"));
    println!("amount           {}", record.amount);
    println!("cryptogram       {}", record.cryptogram_type.unwrap_or("-"));
    println!("ODA              {:?}", record.oda);
    println!("TVR              {} {:?}", record.tvr, result.tvr);
    println!("TSI              {} {:?}", record.tsi, result.tsi);
    if let Some(balance) = record.ec_balance {
        println!("EC balance       {balance}");
    }
    println!("APDUs            {}", record.apdus);
    let card = &result.card_phase.card();
    let mut objects = Vec::new();
    for tag in card.tags() {
        if let Some(value) = card.get(*tag) {
            tlv::encode(*tag, value, &mut objects);
        }
    }
    println!("\ncard data (sensitive values masked):");
    print!("{}", dump::dump(&objects));
    if let Some(field_55) = &result.field_55 {
        println!("\nfield 55 for the host:");
        print!("{}", dump::dump(field_55));
    }
}
