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

#[macro_use]
mod stdout;

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

/// A bus validator on the product alone: PC/SC reader, explicit configuration and CA keys.
#[derive(clap::Parser)]
#[command(name = "validator")]
struct Args {
    /// The PC/SC reader.
    #[arg(long, value_name = "NAME")]
    reader: String,
    /// Terminal configuration.
    #[arg(long, value_name = "PATH")]
    config: PathBuf,
    /// Directory of production CA key lists.
    #[arg(long = "capk-dir", value_name = "DIR")]
    capk_dir: PathBuf,
    /// Fare, minor units.
    #[arg(long, value_name = "N", default_value_t = 200)]
    fare: u64,
    /// Number of taps.
    #[arg(long, value_name = "N", default_value_t = 1)]
    taps: u32,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = <Args as clap::Parser>::parse();
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
        outln!(
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
