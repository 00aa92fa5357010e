//! A bus validator: a tap loop charging a flat fare, or segmented fares with CAPP entry/exit
//! records, with a PSAM, a write-ahead journal and torn-transaction recovery
//! (`quickpass::kernel::purse`, pboc-notes §4.3, §4.7).
//!
//! ```sh
//! cargo run --example bus_fare -- [--fare N] [--taps N] [--capp] [--tear-after K] [--json]
//!                                 [--profile PATH] [--reader NAME] [--sam-reader NAME]
//!                                 [--journal PATH | --store PATH]
//!                                 [--exchange-deadline-ms MS] [--tap-deadline-ms MS]
//! ```
//!
//! By default the card is the simulated T-Union purse (`vectors/cards/transit-purse-capp.json`)
//! and the PSAM the simulated one (`vectors/cards/psam.json`); `--reader` / `--sam-reader` use
//! PC/SC readers instead (build with `--features pcsc`). The flags are a contract for outside
//! scripts: `--fare N` (minor units), `--taps N`, `--capp` (entry/exit mode), `--tear-after K`
//! (the card leaves the field after the K-th APDU of the first tap; the next tap recovers),
//! `--reader NAME`, `--sam-reader NAME` (between taps the program waits for the card to leave
//! the reader; after the last tap it ends at once), `--profile PATH`, `--json` (one JSON object per
//! transaction: `result` = `paid` | `loaded` | `insufficient_balance` | `declined` |
//! `recovered` | `torn` | `already_paid` | …, `amount`, `balance_before`, `balance_after`, `tac` (hex or null),
//! `apdus`), plus `--journal PATH` (JSON file journal; default in memory), `--store PATH` (the
//! terminal's SQLite store, `quickpass::store`: the pending entries and the settlement records,
//! which stay there for export; conflicts with `--journal`) and `--help`. Either file is opened
//! and written before the first tap: one that cannot be written, or a store another process
//! holds, exits 1 with no card touched. With PC/SC
//! readers `--exchange-deadline-ms MS` (default 2000) bounds each card and PSAM exchange and
//! `--tap-deadline-ms MS` (default 3000) each tap from the card's connection; 0 turns either
//! off. A tap cut by a deadline after the DEBIT was sent ends `torn`, and the next tap of that
//! card settles it from the card's evidence. `--repeat-interval-s S` (default 60, 0 = off): the
//! same card presented again within S seconds of paying is answered `already_paid` (no debit);
//! with a reader the validator waits for the card to leave before the next tap, however long
//! it stays, so a card left on the reader is charged once.
//! Exit status: 0 after the taps, 1 when the set-up fails or a paid tap's record could not
//! be written to the journal by the end (`paid_unrecorded`, retried before every tap), 2 on bad
//! arguments.

#[macro_use]
mod stdout;
mod deadlines;

use std::process::ExitCode;

mod common;

#[cfg(not(feature = "pcsc"))]
use common::pcsc_unavailable;
use common::{application, open_journal, report_tap, total, CardLink, SamLink, Unrecorded};
#[cfg(feature = "pcsc")]
use common::{pcsc_card, pcsc_link};
use quickpass::kernel::purse::fare::{SegmentFareTable, Station};
use quickpass::kernel::purse::{
    capp_purchase, purchase, CappRequest, Psam, PurchaseRequest, PurseConfig, RepeatGuard, Sam,
    SelectBy,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::PurseAmount;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::{ApplicationProfile, CardProfile};

const DEFAULT_PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/vectors/cards/transit-purse-capp.json"
);
const PSAM_PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/cards/psam.json");

/// A bus validator tap loop (PBOC ED/EP purchase with a PSAM, torn-transaction recovery).
#[derive(clap::Parser)]
#[command(name = "bus_fare")]
struct Options {
    /// Flat fare in fen.
    #[arg(long, value_name = "N", default_value_t = 200)]
    fare: u32,
    /// Taps to run.
    #[arg(long, value_name = "N", default_value_t = 3)]
    taps: u32,
    /// Segmented fares: entry/exit records (CAPP), example fare table.
    #[arg(long)]
    capp: bool,
    /// The card leaves after the K-th APDU of the first tap; the next tap recovers.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with = "reader")]
    tear_after: Option<u64>,
    /// Card profile.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    profile: std::path::PathBuf,
    /// PC/SC reader of the card (default: the simulated card).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// PC/SC reader of the PSAM (default: the simulated PSAM).
    #[arg(long, value_name = "NAME")]
    sam_reader: Option<String>,
    /// Journal file (default: in memory).
    #[arg(long, value_name = "PATH")]
    journal: Option<std::path::PathBuf>,
    /// The terminal's store (SQLite): purse journal and settlement records.
    #[arg(long, value_name = "PATH", conflicts_with = "journal")]
    store: Option<std::path::PathBuf>,
    /// One JSON object per transaction.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    deadlines: Deadlines,
    /// The same card presented again within S seconds of paying is answered already_paid,
    /// without a debit (0: off).
    #[arg(long, value_name = "S", default_value_t = quickpass::kernel::purse::repeat::DEFAULT_INTERVAL_SECONDS)]
    repeat_interval_s: u32,
}

/// A tap's deadline: three seconds is six times the 500 ms the field allows a tap, yet short
/// enough that a validator with a stuck card is back to "present card" at once.
type Deadlines = deadlines::Deadlines<3000>;

// --- reporting -----------------------------------------------------------------------------

fn run(options: Options) -> Result<(), String> {
    let profile =
        CardProfile::load(&options.profile).map_err(|e| quickpass::report::error_chain(&e))?;
    let Some(ApplicationProfile::Purse(purse)) = profile.applications.first() else {
        return Err(format!(
            "{}: the first application is not a purse",
            options.profile.display()
        ));
    };
    let (app, psam_df) = application(purse)?;

    let mut card = ApduLayer::new(match &options.reader {
        None => CardLink::Virtual(FaultyCard::new(
            profile
                .build()
                .map_err(|e| format!("{}: {e}", options.profile.display()))?,
        )),
        #[cfg(feature = "pcsc")]
        Some(reader) => pcsc_card(
            reader,
            options.deadlines.exchange(),
            options.deadlines.tap(),
        )?,
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
        Some(reader) => SamLink::Pcsc(pcsc_link(reader, options.deadlines.exchange())?),
        #[cfg(not(feature = "pcsc"))]
        Some(_) => return Err(pcsc_unavailable("--sam-reader")),
    };
    // MAC1, MAC2 and the TAC check (DES INIT / DES CRYPT) all happen in the PSAM.
    let mut sam =
        Psam::open(sam_link, &SelectBy::FileId(psam_df)).map_err(|e| format!("PSAM: {e}"))?;
    let mut journal = open_journal(options.journal.as_deref(), options.store.as_deref())?;
    let mut config = PurseConfig::new(app);
    config.repeat = RepeatGuard::new(options.repeat_interval_s);
    let fares = SegmentFareTable::EXAMPLE;
    if !options.json {
        outln!(
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
    let mut unrecorded = Unrecorded::default();
    for tap in 1..=options.taps {
        unrecorded.retry(&mut *journal);
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
                amount: PurseAmount::from_fen(options.fare),
                date,
                time,
            };
            purchase(&mut card, &mut sam, &mut *journal, &config, &request)
        };
        if let Some(faulty) = card.transport_mut().faulty() {
            faulty.clear_plan();
        }
        let apdus = card.counters().apdus_sent - start;
        if let Ok(tap) = &result {
            config.repeat.remember(tap, date, time);
        }
        unrecorded.keep(&result);
        let pending = journal.pending();
        let torn_entry = match &result {
            Err(_) => pending.last(),
            Ok(_) => None,
        };
        report_tap(
            tap,
            &result,
            apdus,
            PurseAmount::from_fen(options.fare),
            options.json,
            true,
            torn_entry,
        );
        if !matches!(&result, Err(e) if e.outcome() == quickpass::kernel::purse::PurseOutcome::Torn)
        {
            stop += 4;
        }
        // A validator waits for the card to leave before the next tap; after the last tap
        // there is none, so the program ends at once (a test can kill and restart it between
        // taps without taking the card out).
        if tap < options.taps {
            card.transport_mut().away()?;
        }
    }
    if !options.json {
        let settled = journal.records();
        let settled_total = total(
            settled
                .iter()
                .filter(|r| r.status.is_settled())
                .map(|r| r.amount),
        );
        outln!(
            "settlement: {} records, {} to claim, {} pending",
            settled.len(),
            settled_total,
            journal.pending().len()
        );
    }
    unrecorded.finish(&mut *journal)
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bus_fare: {e}");
            ExitCode::from(1)
        }
    }
}
