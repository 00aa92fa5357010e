//! A bus validator: a tap loop charging a flat fare, or segmented fares with CAPP entry/exit
//! records, with a PSAM, a write-ahead journal and torn-transaction recovery
//! (`quickpass::kernel::purse`, pboc-notes §4.3, §4.7).
//!
//! ```sh
//! cargo run --example bus_fare -- [--fare N] [--taps N] [--capp] [--tear-after K] [--json]
//!                                 [--profile PATH] [--reader NAME] [--sam-reader NAME]
//!                                 [--journal PATH]
//! ```
//!
//! By default the card is the simulated T-Union purse (`vectors/cards/transit-purse-capp.json`)
//! and the PSAM the simulated one (`vectors/cards/psam.json`); `--reader` / `--sam-reader` use
//! PC/SC readers instead (build with `--features pcsc`). The flags are a contract for outside
//! scripts: `--fare N` (minor units), `--taps N`, `--capp` (entry/exit mode), `--tear-after K`
//! (the card leaves the field after the K-th APDU of the first tap; the next tap recovers),
//! `--reader NAME`, `--sam-reader NAME`, `--profile PATH`, `--json` (one JSON object per
//! transaction: `result` = `paid` | `loaded` | `insufficient_balance` | `declined` |
//! `recovered` | `torn`, `amount`, `balance_before`, `balance_after`, `tac` (hex or null),
//! `apdus`), plus `--journal PATH` (file journal; default in memory) and `--help`.
//! Exit status: 0 after the taps, 1 when the set-up fails, 2 on bad arguments.

use std::process::ExitCode;

mod common;

#[cfg(feature = "pcsc")]
use common::pcsc_link;
#[cfg(not(feature = "pcsc"))]
use common::pcsc_unavailable;
use common::{application, money, report_tap, Boxed, CardLink, JournalFailure, SamLink};
use quickpass::journal::FileJournal;
use quickpass::kernel::purse::fare::{SegmentFareTable, Station};
use quickpass::kernel::purse::{
    capp_purchase, purchase, CappRequest, Journal, MemoryJournal, Psam, PurchaseRequest,
    PurseConfig, Sam, SelectBy,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::{ApplicationProfile, CardProfile};

const DEFAULT_PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/vectors/cards/transit-purse-capp.json"
);
const PSAM_PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/cards/psam.json");

const USAGE: &str = "\
usage: bus_fare [--fare N] [--taps N] [--capp] [--tear-after K] [--json]
                [--profile PATH] [--reader NAME] [--sam-reader NAME] [--journal PATH]

A bus validator tap loop (PBOC ED/EP purchase with a PSAM, torn-transaction recovery).

  --fare N          flat fare in fen (default 200)
  --taps N          taps to run (default 3)
  --capp            segmented fares: entry/exit records (CAPP), example fare table
  --tear-after K    the card leaves after the K-th APDU of the first tap; the next tap recovers
  --profile PATH    card profile (default vectors/cards/transit-purse-capp.json)
  --reader NAME     PC/SC reader of the card (default: the simulated card)
  --sam-reader NAME PC/SC reader of the PSAM (default: the simulated PSAM)
  --journal PATH    journal file (default: in memory)
  --json            one JSON object per transaction
  --help            this text";

struct Options {
    fare: u32,
    taps: u32,
    capp: bool,
    tear_after: Option<u64>,
    profile: String,
    reader: Option<String>,
    sam_reader: Option<String>,
    journal: Option<String>,
    json: bool,
}

/// `Ok(None)` for `--help`.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        fare: 200,
        taps: 3,
        capp: false,
        tear_after: None,
        profile: DEFAULT_PROFILE.to_owned(),
        reader: None,
        sam_reader: None,
        journal: None,
        json: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn number<N: std::str::FromStr>(name: &str, text: String) -> Result<N, String> {
            text.parse()
                .map_err(|_| format!("{name}: not a number: {text:?}"))
        }
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--fare" => options.fare = number("--fare", value("--fare")?)?,
            "--taps" => options.taps = number("--taps", value("--taps")?)?,
            "--capp" => options.capp = true,
            "--tear-after" => {
                let k: u64 = number("--tear-after", value("--tear-after")?)?;
                if k == 0 {
                    return Err("--tear-after: APDUs are numbered from 1".into());
                }
                options.tear_after = Some(k);
            }
            "--profile" => options.profile = value("--profile")?,
            "--reader" => options.reader = Some(value("--reader")?),
            "--sam-reader" => options.sam_reader = Some(value("--sam-reader")?),
            "--journal" => options.journal = Some(value("--journal")?),
            "--json" => options.json = true,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if options.tear_after.is_some() && options.reader.is_some() {
        return Err("--tear-after needs the simulated card (no --reader)".into());
    }
    Ok(Some(options))
}

// --- reporting -----------------------------------------------------------------------------

fn run(options: Options) -> Result<(), String> {
    let profile =
        CardProfile::load(&options.profile).map_err(|e| format!("{}: {e}", options.profile))?;
    let Some(ApplicationProfile::Purse(purse)) = profile.applications.first() else {
        return Err(format!(
            "{}: the first application is not a purse",
            options.profile
        ));
    };
    let (app, psam_df) = application(purse)?;

    let mut card = ApduLayer::new(match &options.reader {
        None => CardLink::Virtual(FaultyCard::new(
            profile
                .build()
                .map_err(|e| format!("{}: {e}", options.profile))?,
        )),
        #[cfg(feature = "pcsc")]
        Some(reader) => CardLink::Pcsc(
            quickpass::pcsc::PcscTransport::new().map_err(|e| format!("PC/SC: {e}"))?,
            reader.clone(),
        ),
        #[cfg(not(feature = "pcsc"))]
        Some(_) => return Err(pcsc_unavailable("--reader")),
    });
    let sam_link = match &options.sam_reader {
        None => SamLink::Virtual(
            CardProfile::load(PSAM_PROFILE)
                .and_then(|p| p.build())
                .map_err(|e| format!("{PSAM_PROFILE}: {e}"))?,
        ),
        #[cfg(feature = "pcsc")]
        Some(reader) => SamLink::Pcsc(pcsc_link(reader)?),
        #[cfg(not(feature = "pcsc"))]
        Some(_) => return Err(pcsc_unavailable("--sam-reader")),
    };
    // MAC1, MAC2 and the TAC check (DES INIT / DES CRYPT) all happen in the PSAM.
    let mut sam =
        Psam::open(sam_link, &SelectBy::FileId(psam_df)).map_err(|e| format!("PSAM: {e}"))?;
    let mut journal: Box<dyn Journal<Error = JournalFailure>> = match &options.journal {
        Some(path) => Box::new(Boxed(
            FileJournal::open(path).map_err(|e| format!("journal: {e}"))?,
        )),
        None => Box::new(Boxed(MemoryJournal::new())),
    };
    let config = PurseConfig::new(app);
    let fares = SegmentFareTable::EXAMPLE;
    if !options.json {
        println!(
            "terminal {}, {} mode",
            hex::encode_upper(sam.terminal_id()),
            if options.capp {
                "CAPP entry/exit"
            } else {
                "flat fare"
            }
        );
    }
    let mut stop: u16 = 1;
    for tap in 1..=options.taps {
        card.transport_mut().present()?;
        if let (1, Some(k), Some(faulty)) = (tap, options.tear_after, card.transport_mut().faulty())
        {
            let at = faulty.offered() + k;
            faulty.plan(Trigger::Apdu(at), Fault::TearAfter);
        }
        let start = card.counters().apdus_sent;
        let (date, time) = quickpass::clock::now();
        let result = if options.capp {
            let request = CappRequest {
                station: Station {
                    line: 1,
                    number: stop,
                },
                date,
                time,
            };
            capp_purchase(
                &mut card,
                &mut sam,
                &mut *journal,
                &config,
                &fares,
                &request,
            )
        } else {
            let request = PurchaseRequest {
                amount: options.fare,
                date,
                time,
            };
            purchase(&mut card, &mut sam, &mut *journal, &config, &request)
        };
        if let Some(faulty) = card.transport_mut().faulty() {
            faulty.clear_plan();
        }
        let apdus = card.counters().apdus_sent - start;
        let pending = journal.pending();
        let torn_entry = match &result {
            Err(_) => pending.last(),
            Ok(_) => None,
        };
        report_tap(
            tap,
            &result,
            apdus,
            options.fare,
            options.json,
            true,
            torn_entry,
        );
        if !matches!(&result, Err(e) if e.outcome() == quickpass::kernel::purse::PurseOutcome::Torn)
        {
            stop += 4;
        }
        card.transport_mut().away();
    }
    if !options.json {
        let settled = journal.records();
        let total: u32 = settled
            .iter()
            .filter(|r| r.status.is_settled())
            .map(|r| r.amount)
            .sum();
        println!(
            "settlement: {} records, {} to claim, {} pending",
            settled.len(),
            money(total),
            journal.pending().len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some(options)) => match run(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bus_fare: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("bus_fare: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
