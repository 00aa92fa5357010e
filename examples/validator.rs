//! A bus validator built on the product alone: `quickpass` with its `pcsc` feature, no
//! simulator, no test key. Each tap is one call, [`contactless::transact`], that always ends in
//! an outcome.
//!
//! ```text
//! cargo run --release --features pcsc --example validator -- \
//!     --reader NAME --config PATH --capk-dir DIR [--fare N] [--taps N]
//! ```
//!
//! The terminal configuration and the CA key directory are explicit paths (a production key
//! list holding a test key is refused). CI builds this binary in release and checks that it
//! carries no test key (`.ci/boundary`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use quickpass::kernel::contactless;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::Amount;
use quickpass::kernel::TransactionInput;
use quickpass::pcsc::PcscTransport;
use quickpass::report::error_chain;
use quickpass::{clock, random, setup};

struct Args {
    reader: String,
    config: PathBuf,
    capk_dir: PathBuf,
    fare: u64,
    taps: u32,
}

const USAGE: &str =
    "usage: validator --reader NAME --config PATH --capk-dir DIR [--fare N] [--taps N]";

fn parse_args() -> Result<Args, String> {
    let (mut reader, mut config, mut capk_dir) = (None, None, None);
    let (mut fare, mut taps) = (200, 1);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--reader" => reader = Some(value()?),
            "--config" => config = Some(PathBuf::from(value()?)),
            "--capk-dir" => capk_dir = Some(PathBuf::from(value()?)),
            "--fare" => fare = value()?.parse().map_err(|_| "--fare takes minor units")?,
            "--taps" => taps = value()?.parse().map_err(|_| "--taps takes a count")?,
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(Args {
        reader: reader.ok_or(USAGE)?,
        config: config.ok_or(USAGE)?,
        capk_dir: capk_dir.ok_or(USAGE)?,
        fare,
        taps,
    })
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
    let capk_files = setup::capk_files_in(&args.capk_dir).map_err(|e| error_chain(&e))?;
    let loaded =
        setup::load_kernel_config(&args.config, &capk_files).map_err(|e| error_chain(&e))?;
    for refused in &loaded.refused_capks {
        eprintln!(
            "CA key {} in {} refused: {}",
            refused.id,
            refused.path.display(),
            refused.error
        );
    }
    let config = loaded.config;
    let fare = Amount::from_minor(args.fare).map_err(|e| format!("--fare: {e}"))?;
    let mut reader = PcscTransport::new().map_err(|e| error_chain(&e))?;
    for tap in 1..=args.taps {
        reader
            .wait_for_card(&args.reader, Duration::from_secs(60))
            .map_err(|e| error_chain(&e))?;
        reader.connect(&args.reader).map_err(|e| error_chain(&e))?;
        let (date, time) = clock::now();
        let input = TransactionInput {
            amount: fare,
            amount_other: Amount::ZERO,
            transaction_type: 0x00,
            date,
            time,
            unpredictable_number: random::unpredictable_number().map_err(|e| e.to_string())?,
        };
        let mut layer = ApduLayer::new(&mut reader);
        let tapped = contactless::transact(&config, &input, &mut layer);
        let record = tapped.result.record();
        println!(
            "tap {tap}: {} (ODA {:?}, {} APDUs){}",
            record.outcome.as_str(),
            record.oda,
            record.apdus,
            tapped
                .error
                .as_ref()
                .map(|e| format!(": {}", error_chain(e)))
                .unwrap_or_default()
        );
        let _ = reader.wait_for_removal(&args.reader, Duration::from_secs(60));
    }
    Ok(())
}
