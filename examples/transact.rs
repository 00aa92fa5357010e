//! One contactless tap: on the built-in simulated card by default, or on a PC/SC reader.
//!
//! ```text
//! cargo run --example transact -- [--profile PATH] [--amount N] [--date YYMMDD] [--un HEX]
//!                                 [--capk-file PATH]... [--config PATH] [--reader NAME]
//!                                 [--test-keys] [--exchange-deadline-ms MS]
//!                                 [--tap-deadline-ms MS] [--kernel auto|qpboc|c2|c3]
//!                                 [--store PATH] [--json]
//! ```
//!
//! The flags are a contract outside scripts rely on: `--reader NAME` (PC/SC, needs the `pcsc`
//! feature), `--profile PATH`, `--amount N` (minor units), `--date YYMMDD`, `--un HEX` (fixed
//! unpredictable number), `--capk-file PATH` (extra CA keys in the `quickpass-vectors/1` `capk`
//! format, added to the production lists), `--json` (one JSON object). `--config PATH` chooses the
//! terminal configuration (default `vectors/terminals/default.json`; `international.json` adds the
//! Visa and Mastercard AIDs). `--kernel auto|qpboc|c2|c3` (default `auto`) limits which kernel
//! Entry Point may route the tap to;
//! the JSON reports the `kernel` that ran and the `outcome_parameters`. With `--reader`,
//! `--exchange-deadline-ms MS` (default 2000) bounds each exchange and `--tap-deadline-ms MS`
//! (default 3000) the whole tap; 0 turns either off. Past a deadline the tap ends with
//! `try_again`. `--store PATH` keeps the tap's clearing record (PAN in clear, for the acquirer)
//! in the terminal's store (`quickpass::store`) before the outcome is printed; the JSON then
//! has `stored_record` (the record's id, null when the card gave no cryptogram). The store is
//! opened before the card is touched: an unwritable one exits 1 with nothing sent.
//!
//! CA keys: the production lists of `vectors/capk/` plus `--capk-file`, through the product's
//! loader, which refuses a list holding a test key. The simulated card (no `--reader`) is
//! signed by the simulator's test CA, which is then trusted too. A card in a real reader is
//! checked against the production keys only, unless `--test-keys` (a test card: prints a
//! warning) adds the test CA.
//!
//! Exit status: 0 after the tap (whatever its outcome) and for `--help`, 1 when the set-up
//! fails (profile, configuration or CA keys unreadable, PC/SC unavailable), 2 on bad arguments.

#[macro_use]
mod stdout;
mod deadlines;

use std::path::PathBuf;
use std::process::ExitCode;

use quickpass::clock::SystemRelayEnvironment;
use quickpass::kernel::c2::{C2Config, RelayEnvironment, TornLog};
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::entry_point::{KernelChoice, KernelId};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::Amount;
use quickpass::kernel::TransactionInput;
use quickpass::report::error_chain as chain;
use quickpass::setup;
use quickpass::store::{Created, RecordKind, Store};
use quickpass_sim::relay::SimulatedRelay;
use quickpass_sim::tap_report::{self, transaction_date, unpredictable_number};

/// One contactless tap: on the built-in simulated card by default, or on a PC/SC reader.
#[derive(clap::Parser)]
#[command(name = "transact")]
struct Args {
    /// Simulated card profile (the offline-capable debit card by default).
    #[arg(long, value_name = "PATH", default_value_os_t = quickpass_sim::data::card_profile("qpboc-debit-offline"))]
    profile: PathBuf,
    /// PC/SC reader of the card (needs the pcsc feature).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// Amount authorised, minor units (at most 999999999999).
    #[arg(long, value_name = "N", default_value = "100", value_parser = amount)]
    amount: Amount,
    /// Transaction date YYMMDD (default today, China time).
    #[arg(long, value_name = "YYMMDD")]
    date: Option<String>,
    /// Fixed unpredictable number, 4 bytes of hex.
    #[arg(long, value_name = "HEX")]
    un: Option<String>,
    /// Extra CA keys (quickpass-vectors/1 capk format), added to the production lists.
    #[arg(long = "capk-file", value_name = "PATH")]
    capk_files: Vec<PathBuf>,
    /// Terminal configuration.
    #[arg(long, value_name = "PATH", default_value_os_t = quickpass_sim::data::default_terminal())]
    config: PathBuf,
    /// Trust the simulator's TEST CA for a card in a reader (a test card only).
    #[arg(long)]
    test_keys: bool,
    /// The terminal's store: the tap's clearing record is kept there (quickpass::store).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    /// Which kernel Entry Point may route to: the one each combination names (auto), or only
    /// qPBOC, C-2 or C-3 (pboc-notes §8.2).
    #[arg(long, value_enum, default_value_t = KernelArg::Auto)]
    kernel: KernelArg,
    #[command(flatten)]
    deadlines: Deadlines,
}

/// `--kernel`: the kernels Entry Point may route the tap to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KernelArg {
    /// The kernel each combination names (the card's `9F2A`, else its RID's default).
    Auto,
    /// UnionPay qPBOC (kernel 7) only.
    Qpboc,
    /// Mastercard C-2 (kernel 2) only.
    C2,
    /// Visa C-3 (kernel 3) only.
    C3,
}

impl KernelArg {
    /// The Entry Point choice, or why the kernel cannot run in this build.
    fn choice(self) -> Result<KernelChoice, String> {
        let only = match self {
            KernelArg::Auto => return Ok(KernelChoice::Auto),
            KernelArg::Qpboc => KernelId::Qpboc,
            KernelArg::C2 => KernelId::C2,
            KernelArg::C3 => KernelId::C3,
        };
        if only.is_built() {
            Ok(KernelChoice::Only(only))
        } else {
            Err(format!("--kernel {only}: that kernel is not built yet"))
        }
    }
}

/// A tap's deadline: three seconds is six times the 500 ms the field allows a tap, yet short
/// enough that a validator with a stuck card is back to "present card" at once.
type Deadlines = deadlines::Deadlines<3000>;

fn amount(text: &str) -> Result<Amount, String> {
    text.parse()
        .map_err(|e| format!("minor units, at most 999999999999: {e}"))
}

fn parse_args() -> Args {
    <Args as clap::Parser>::parse()
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
    let args = parse_args();
    let choice = args.kernel.choice()?;
    let mut capk_files = quickpass_sim::data::production_capk_files().map_err(|e| chain(&e))?;
    capk_files.extend(args.capk_files.iter().cloned());
    let loaded = setup::load_kernel_config(&args.config, &capk_files).map_err(|e| chain(&e))?;
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
        let ca = quickpass_sim::ca::TestCa::shared().map_err(|e| chain(&e))?;
        for key in ca.capk_store().map_err(|e| chain(&e))?.iter() {
            config.capks.insert(key.clone()).map_err(|e| chain(&e))?;
        }
        // The simulated Visa card (`visa-qvsdc`) is signed by the same CA, under Visa's RID.
        let visa = ca
            .rsa_ca_public_key_under(quickpass_sim::ca::TEST_VISA_RID)
            .map_err(|e| chain(&e))?;
        config.capks.insert(visa).map_err(|e| chain(&e))?;
        // And the simulated Mastercard card (`mastercard-mchip`), under Mastercard's RID.
        let mastercard = ca
            .rsa_ca_public_key_under(quickpass_sim::mchip::MASTERCARD_RID)
            .map_err(|e| chain(&e))?;
        config.capks.insert(mastercard).map_err(|e| chain(&e))?;
    }
    // Opened before the card is touched: a store that cannot be written refuses the run here.
    let mut store = match &args.store {
        Some(path) => Some(Store::open(path).map_err(|e| format!("store: {}", chain(&e)))?),
        None => None,
    };
    let input = TransactionInput {
        amount: args.amount,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: transaction_date(args.date.as_deref())?,
        time: quickpass::clock::now().1,
        unpredictable_number: unpredictable_number(args.un.as_deref())?,
    };
    let result = match &args.reader {
        Some(reader) => tap_reader(reader, &args.deadlines, &config, &input, choice)?,
        None => {
            let profile = quickpass_sim::CardProfile::load(&args.profile).map_err(|e| chain(&e))?;
            let mut card = profile.build().map_err(|e| e.to_string())?;
            tap(&mut card, &config, &input, choice, false)?
        }
    };
    // Kept before the outcome is reported: what clearing needs is on disk first.
    let stored = match (&mut store, result.clearing_record(&config)) {
        (Some(store), Some(record)) => Some(
            store
                .add_record(
                    RecordKind::Contactless,
                    &Created::new(input.date, input.time),
                    None,
                    &record,
                )
                .map_err(|e| format!("store: {}", chain(&e)))?,
        ),
        _ => None,
    };
    if args.json {
        let mut report = tap_report::json(&result, &config);
        report["stored_record"] = stored.into();
        outln!("{report}");
    } else {
        out!("{}", tap_report::text(&result));
        match (stored, &args.store) {
            (Some(id), Some(path)) => outln!("clearing record {id} kept in {}", path.display()),
            (None, Some(_)) => outln!("no clearing record (the card gave no cryptogram)"),
            _ => {}
        }
    }
    Ok(())
}

fn tap<T: Transport>(
    card: &mut T,
    config: &quickpass::kernel::config::KernelConfig,
    input: &TransactionInput,
    choice: KernelChoice,
    real_reader: bool,
) -> Result<TransactionResult, String> {
    let mut layer = ApduLayer::new(card);
    // The Mastercard kernel's reader state: one tap here, so a fresh torn log. Relay
    // resistance is timed by the system clock on a real reader; the simulated card answers in
    // microseconds, so its exchanges take a simulated card's time instead.
    let c2 = C2Config::default();
    let mut torn = TornLog::new();
    let mut system = SystemRelayEnvironment::new();
    let mut simulated = SimulatedRelay::default();
    let relay: &mut dyn RelayEnvironment = if real_reader {
        &mut system
    } else {
        &mut simulated
    };
    let mut kernels = contactless::ReaderKernels {
        c2: &c2,
        torn: &mut torn,
        relay,
    };
    // One call: an exchange failure still ends in an outcome (try again, end application, …)
    // with the error as its reason.
    Ok(contactless::transact_routed(config, input, &mut layer, choice, Some(&mut kernels)).result)
}

#[cfg(feature = "pcsc")]
fn tap_reader(
    reader: &str,
    deadlines: &Deadlines,
    config: &quickpass::kernel::config::KernelConfig,
    input: &TransactionInput,
    choice: KernelChoice,
) -> Result<TransactionResult, String> {
    let mut transport = quickpass::pcsc::PcscTransport::new().map_err(|e| e.to_string())?;
    deadlines.apply_to_card(&mut transport);
    transport
        .wait_for_card(reader, std::time::Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    transport.connect(reader).map_err(|e| e.to_string())?;
    tap(&mut transport, config, input, choice, true)
}

#[cfg(not(feature = "pcsc"))]
fn tap_reader(
    _reader: &str,
    _deadlines: &Deadlines,
    _config: &quickpass::kernel::config::KernelConfig,
    _input: &TransactionInput,
    _choice: KernelChoice,
) -> Result<TransactionResult, String> {
    Err("--reader needs the pcsc feature: cargo run --features pcsc --example transact".into())
}
