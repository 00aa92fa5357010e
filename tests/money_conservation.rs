//! Issue 15, acceptance: money conservation under hostile card answers, as a property.
//!
//! For purchase, CAPP purchase (entry then exit) and load: a card whose answers to the command
//! that moves money (DEBIT `80 54`, CREDIT `80 52`, UPDATE CAPP DATA CACHE `80 DC`) and to the
//! evidence commands after it (GET TRANSACTION PROVE `80 5A`, READ RECORD `00 B2`, INITIALIZE
//! `80 50`, GET BALANCE `80 5C`) are replaced at random (status word, corrupted byte — MAC2/TAC
//! included —, truncation, tear before/after, mute) on one tap at terminal A; then 1–3 clean
//! follow-up taps, each at A or at another terminal (its own SAM/host and a fresh journal); then a
//! final clean tap at A. Checked:
//!
//! - after every tap: a tap at a terminal whose journal still holds an unsettled (pending)
//!   entry after the tap did not move the card's money — no charge (credit) while unsettled;
//!   a clean tap moved exactly the amounts of the new records it wrote for new transactions;
//! - at the end: Σ card debits (credits) = Σ amounts of every settlement record across the
//!   journals — every [`RecordStatus`] is written only for a transaction the card carried out
//!   (`paid`/`loaded`/`recovered` claimable; `mac2_invalid`, `tac_invalid`, `disputed` flagged
//!   for the clearing host) —, and A holds no pending entry unless its last tap ended `disputed`
//!   (then that tap did not move money).
//!
//! Each terminal's journal is the kernel's `MemoryJournal`, or (the `*_with_the_store` cases)
//! a `quickpass::store::Store` in a file of its own, reopened between taps: the same property
//! through the terminal's real store.
//!
//! `PROPTEST_CASES` sets the cases per flow (default 256; with the store a sixteenth of it, at
//! least 8: every commit is synced to disk). The acceptance run:
//! `PROPTEST_CASES=100000 cargo test --release --test money_conservation`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use quickpass::kernel::apdu::Purse;
use quickpass::kernel::purse::fare::{SegmentFareTable, Station};
use quickpass::kernel::purse::flow::FlowError;
use quickpass::kernel::purse::{
    capp_purchase, load, purchase, CappRequest, Journal, LoadRequest, MemoryJournal, Psam,
    PurchaseRequest, PurseApplication, PurseConfig, PurseOutcome, RecordStatus, SelectBy,
    TapResult,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{PurseAmount, StatusWord, TransactionDate, TransactionTime};
use quickpass::store::Store;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::host::purse::PurseHost;
use quickpass_sim::purse::SimPurseApplication;
use quickpass_sim::{ApplicationProfile, CardProfile, SimError, VirtualCard};

// --- rig (as in tests/purse_flow.rs) -------------------------------------------------------

fn profile(name: &str) -> CardProfile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/cards")
        .join(format!("{name}.json"));
    CardProfile::load(path).unwrap()
}

fn date() -> TransactionDate {
    TransactionDate::new(2024, 5, 17).unwrap()
}

fn time(tap: u8) -> TransactionTime {
    TransactionTime::new(8, 30, tap).unwrap()
}

type CardLayer = ApduLayer<FaultyCard<VirtualCard>>;

fn sim_purse(layer: &mut CardLayer) -> &mut SimPurseApplication {
    layer
        .transport_mut()
        .inner_mut()
        .application_mut::<SimPurseApplication>()
        .unwrap()
}

fn balance(card: &mut CardLayer) -> i64 {
    i64::from(sim_purse(card).balance(Purse::Purse).unwrap().fen())
}

fn sim_host(name: &str) -> PurseHost {
    let card = profile(name);
    let ApplicationProfile::Purse(purse) = &card.applications[0] else {
        panic!("{name} has no purse first")
    };
    PurseHost::from_purse_profile(purse, "applications[0]").unwrap()
}

const AMOUNT: u32 = 180;
const TOPUP_TERMINAL: [u8; 6] = [0x44, 0x01, 0x00, 0x00, 0x00, 0x09];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Purchase,
    Capp,
    Load,
}

/// A terminal's journal: in memory, or a store file (reopened before every tap, as after a
/// restart: what the property sees is what was on disk).
trait TestJournal: Journal {
    fn reopen(&mut self) {}
}

impl TestJournal for MemoryJournal {}

/// A store in a file of its own.
struct FileStore {
    store: Option<Store>,
    path: PathBuf,
}

impl FileStore {
    fn new(dir: &Path) -> FileStore {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = dir.join(format!("t{}.db", NEXT.fetch_add(1, Ordering::Relaxed)));
        FileStore {
            store: Some(Store::open(&path).unwrap()),
            path,
        }
    }

    fn get(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
}

impl Journal for FileStore {
    type Error = <Store as Journal>::Error;
    fn begin(
        &mut self,
        entry: &quickpass::kernel::purse::JournalEntry,
    ) -> Result<u64, Self::Error> {
        self.store.as_mut().unwrap().begin(entry)
    }
    fn complete(
        &mut self,
        record: &quickpass::kernel::purse::SettlementRecord,
    ) -> Result<(), Self::Error> {
        self.store.as_mut().unwrap().complete(record)
    }
    fn void(&mut self, id: u64) -> Result<(), Self::Error> {
        self.store.as_mut().unwrap().void(id)
    }
    fn pending(&self) -> Vec<quickpass::kernel::purse::Pending> {
        self.get().pending()
    }
    fn records(&self) -> Vec<quickpass::kernel::purse::SettlementRecord> {
        // The fallible form: a failure fails the test instead of reading as "no records".
        self.get().settlement_records().unwrap()
    }
    fn take_records(
        &mut self,
    ) -> Result<Vec<quickpass::kernel::purse::SettlementRecord>, Self::Error> {
        self.store.as_mut().unwrap().take_records()
    }
    fn newest_id(&self) -> Option<u64> {
        self.get().newest_id()
    }
}

impl TestJournal for FileStore {
    fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(Store::open(&self.path).unwrap());
    }
}

/// A directory removed when the case ends.
struct CaseDir(PathBuf);

impl CaseDir {
    fn new() -> CaseDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "quickpass-money-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        CaseDir(dir)
    }
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One terminal: its PSAM (purchases) or issuer host (loads), and its own journal.
struct Terminal<J> {
    sam: Psam<VirtualCard>,
    host: PurseHost,
    journal: J,
}

impl<J: TestJournal> Terminal<J> {
    fn new(psam: &CardProfile, journal: J) -> Terminal<J> {
        Terminal {
            sam: Psam::open(psam.build().unwrap(), &SelectBy::FileId(0x8011)).unwrap(),
            host: sim_host("etc-user-card"),
            journal,
        }
    }

    fn tap(
        &mut self,
        flow: Flow,
        card: &mut CardLayer,
        station: u16,
        tap: u8,
    ) -> Result<TapResult, FlowError<SimError>> {
        match flow {
            Flow::Purchase => purchase(
                card,
                &mut self.sam,
                &mut self.journal,
                &PurseConfig::new(PurseApplication::t_union()),
                &PurchaseRequest {
                    amount: PurseAmount::from_fen(AMOUNT),
                    date: date(),
                    time: time(tap),
                },
            ),
            Flow::Capp => capp_purchase(
                card,
                &mut self.sam,
                &mut self.journal,
                &PurseConfig::new(PurseApplication::t_union()),
                &SegmentFareTable::EXAMPLE,
                &CappRequest {
                    station: Station {
                        line: 1,
                        number: station,
                    },
                    date: date(),
                    time: time(tap),
                },
            ),
            Flow::Load => load(
                card,
                &mut self.host,
                &mut self.journal,
                &PurseConfig::new(PurseApplication::etc()),
                &LoadRequest {
                    amount: PurseAmount::from_fen(AMOUNT),
                    terminal_id: TOPUP_TERMINAL,
                    key_index: 1,
                    date: date(),
                    time: time(tap),
                },
            ),
        }
    }
}

// --- the strategy --------------------------------------------------------------------------

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        prop_oneof![
            Just(0x9000u16),
            Just(0x6581),
            Just(0x9302),
            Just(0x9406),
            Just(0x6F00),
            Just(0x6A83),
            Just(0x6985),
            Just(0x6C04),
            Just(0x6108),
            any::<u16>(),
        ]
        .prop_map(|sw| Fault::ReplaceSw(StatusWord(sw))),
        (0usize..24, 1u8..=255).prop_map(|(offset, mask)| Fault::CorruptByte { offset, mask }),
        (0usize..20).prop_map(Fault::Truncate),
        Just(Fault::TearAfter),
        Just(Fault::TearBefore),
        Just(Fault::Mute),
    ]
}

/// The commands faulted: the one that moves money (index 0–2) and the evidence commands that
/// follow it (3–6).
const PREFIXES: [&[u8]; 7] = [
    &[0x80, 0x54],
    &[0x80, 0x52],
    &[0x80, 0xDC],
    &[0x80, 0x5A],
    &[0x00, 0xB2],
    &[0x80, 0x50],
    &[0x80, 0x5C],
];

/// (prefix index, occurrence in the tap, fault)
type Planned = (usize, u64, Fault);

/// Always a fault on the flow's money command (for CAPP: DEBIT or UPDATE CAPP DATA CACHE), then
/// 0–3 faults on evidence commands (1st or 2nd occurrence in the tap).
fn plan(flow: Flow) -> impl Strategy<Value = Vec<Planned>> {
    let money = match flow {
        Flow::Purchase => Just(0usize).boxed(),
        Flow::Load => Just(1usize).boxed(),
        Flow::Capp => prop_oneof![Just(0usize), Just(2usize)].boxed(),
    };
    (
        money,
        fault(),
        prop::collection::vec((3..PREFIXES.len(), 1u64..=2, fault()), 0..=3),
    )
        .prop_map(|(money, fault, mut evidence)| {
            evidence.insert(0, (money, 1, fault));
            evidence
        })
}

/// Follow-up taps: `None` at A, `Some(_)` at another terminal (fresh journal), plus a CAPP
/// station for each.
fn follow_ups() -> impl Strategy<Value = Vec<(bool, u16)>> {
    prop::collection::vec((any::<bool>(), 1u16..=9), 1..=3)
}

// --- the property --------------------------------------------------------------------------

fn run(flow: Flow, planned: &[Planned], follow: &[(bool, u16)]) -> Result<(), TestCaseError> {
    run_with(flow, planned, follow, &mut MemoryJournal::new)
}

/// [`run`] with each terminal's journal a store file.
fn run_with_stores(
    flow: Flow,
    planned: &[Planned],
    follow: &[(bool, u16)],
) -> Result<(), TestCaseError> {
    let dir = CaseDir::new();
    run_with(flow, planned, follow, &mut || FileStore::new(&dir.0))
}

fn run_with<J: TestJournal>(
    flow: Flow,
    planned: &[Planned],
    follow: &[(bool, u16)],
    new_journal: &mut dyn FnMut() -> J,
) -> Result<(), TestCaseError> {
    let psam = profile("psam");
    let mut card = CardLayer::new(FaultyCard::new(
        profile(if flow == Flow::Load {
            "etc-user-card"
        } else {
            "transit-purse-capp"
        })
        .build()
        .unwrap(),
    ));
    let mut terminals = vec![Terminal::new(&psam, new_journal())];
    let start = balance(&mut card);
    // Signed card change: debits for purchases, credits for loads.
    let moved = |card: &mut CardLayer| {
        let now = balance(card);
        if flow == Flow::Load {
            now - start
        } else {
            start - now
        }
    };
    let mut tap_no = 0u8;
    if flow == Flow::Capp {
        // A clean entry at A; the faulted tap is the exit.
        let entry = terminals[0].tap(flow, &mut card, 2, tap_no).unwrap();
        prop_assert_eq!(entry.outcome, PurseOutcome::Paid);
        tap_no += 1;
    }
    for &(prefix, occurrence, fault) in planned {
        card.transport_mut()
            .plan(Trigger::matching(PREFIXES[prefix], occurrence), fault);
    }
    // The taps: (terminal index, station, faulted?)
    let mut taps = vec![(0usize, 9u16, true)];
    for &(elsewhere, station) in follow {
        if elsewhere {
            terminals.push(Terminal::new(&psam, new_journal()));
            taps.push((terminals.len() - 1, station, false));
        } else {
            taps.push((0, station, false));
        }
    }
    taps.push((0, 5, false));
    let mut last: Option<(PurseOutcome, i64)> = None;
    for (t, station, faulted) in taps {
        let before = moved(&mut card);
        terminals[t].journal.reopen();
        let pending_before: Vec<u64> = terminals[t]
            .journal
            .pending()
            .iter()
            .map(|p| p.id)
            .collect();
        let records_before: BTreeSet<u64> = terminals[t]
            .journal
            .records()
            .iter()
            .map(|r| r.id)
            .collect();
        let result = terminals[t].tap(flow, &mut card, station, tap_no);
        tap_no += 1;
        let outcome = match &result {
            Ok(r) => r.outcome,
            Err(e) => e.outcome(),
        };
        let delta = moved(&mut card) - before;
        let pending_after: Vec<u64> = terminals[t]
            .journal
            .pending()
            .iter()
            .map(|p| p.id)
            .collect();
        let fired = card.transport().fired().to_vec();
        // No charge (credit) while an entry of this terminal stays unsettled.
        if pending_before.iter().any(|id| pending_after.contains(id)) {
            prop_assert_eq!(
                delta,
                0,
                "tap at {} moved money while an entry stayed pending: {:?}",
                t,
                result
            );
        }
        if !faulted {
            // A clean tap moved exactly what its new records for new transactions say.
            let new_money: i64 = terminals[t]
                .journal
                .records()
                .iter()
                .filter(|r| !records_before.contains(&r.id))
                .filter(|r| !pending_before.contains(&r.id))
                .map(|r| i64::from(r.amount.fen()))
                .sum();
            prop_assert_eq!(
                delta,
                new_money,
                "clean tap at {}: {:?}; fired {:?}",
                t,
                result,
                fired
            );
            if outcome == PurseOutcome::Disputed {
                prop_assert_eq!(delta, 0, "a disputed clean tap moved money");
            }
        }
        card.transport_mut().clear_plan();
        card.transport_mut().reinsert();
        last = Some((outcome, delta));
    }
    let (last_outcome, last_delta) = last.unwrap();
    let recorded: i64 = terminals
        .iter()
        .flat_map(|t| t.journal.records())
        .map(|r| {
            // Every status is a transaction the card carried out.
            let _: RecordStatus = r.status;
            i64::from(r.amount.fen())
        })
        .sum();
    let pending_a = terminals[0].journal.pending();
    let total = moved(&mut card);
    if pending_a.is_empty() {
        prop_assert_eq!(
            total,
            recorded,
            "Σ card {} ≠ Σ records; records {:?}",
            if flow == Flow::Load {
                "credits"
            } else {
                "debits"
            },
            terminals
                .iter()
                .map(|t| t.journal.records())
                .collect::<Vec<_>>()
        );
    } else {
        prop_assert_eq!(last_outcome, PurseOutcome::Disputed, "pending left at A");
        prop_assert_eq!(last_delta, 0);
        let unsettled: i64 = pending_a
            .iter()
            .map(|p| i64::from(p.entry.amount.fen()))
            .sum();
        prop_assert!(
            total == recorded || total == recorded + unsettled,
            "Σ card {} vs Σ records {} + pending {}",
            total,
            recorded,
            unsettled
        );
    }
    for t in &terminals[1..] {
        prop_assert!(
            t.journal.pending().is_empty(),
            "pending left at a clean terminal"
        );
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fewer cases through the store (each commit is synced to disk).
fn store_config() -> ProptestConfig {
    ProptestConfig {
        cases: (config().cases / 16).max(8),
        ..config()
    }
}

proptest! {
    #![proptest_config(store_config())]

    #[test]
    fn purchase_money_is_conserved_with_the_store(
        planned in plan(Flow::Purchase),
        follow in follow_ups(),
    ) {
        run_with_stores(Flow::Purchase, &planned, &follow)?;
    }

    #[test]
    fn capp_money_is_conserved_with_the_store(planned in plan(Flow::Capp), follow in follow_ups()) {
        run_with_stores(Flow::Capp, &planned, &follow)?;
    }

    #[test]
    fn load_money_is_conserved_with_the_store(planned in plan(Flow::Load), follow in follow_ups()) {
        run_with_stores(Flow::Load, &planned, &follow)?;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn purchase_money_is_conserved(planned in plan(Flow::Purchase), follow in follow_ups()) {
        run(Flow::Purchase, &planned, &follow)?;
    }

    #[test]
    fn capp_money_is_conserved(planned in plan(Flow::Capp), follow in follow_ups()) {
        run(Flow::Capp, &planned, &follow)?;
    }

    #[test]
    fn load_money_is_conserved(planned in plan(Flow::Load), follow in follow_ups()) {
        run(Flow::Load, &planned, &follow)?;
    }
}

/// The cases this property found against the first version of the evidence table, which took a
/// damaged read of our own EF18 record (one byte flipped) for "another transaction used our
/// counter" and voided an entry the card had carried out: money moved with no record.
#[test]
fn a_damaged_ef18_read_never_voids_an_executed_entry() {
    damaged_ef18_reads(run);
}

/// The same three cases with the terminals' journals in store files.
#[test]
fn a_damaged_ef18_read_never_voids_an_executed_entry_with_the_store() {
    damaged_ef18_reads(run_with_stores);
}

type Runner = fn(Flow, &[Planned], &[(bool, u16)]) -> Result<(), TestCaseError>;

fn damaged_ef18_reads(run: Runner) {
    let damaged = |offset| Fault::CorruptByte { offset, mask: 0x01 };
    // Purchase: MAC2 of DEBIT broken, then the first EF18 read damaged.
    run(
        Flow::Purchase,
        &[(0, 1, damaged(4)), (4, 1, damaged(5))],
        &[(false, 1)],
    )
    .expect("purchase");
    // CAPP exit: the same two faults (the first READ RECORD is the trip record).
    run(
        Flow::Capp,
        &[(0, 1, damaged(4)), (4, 2, damaged(5))],
        &[(false, 1)],
    )
    .expect("CAPP");
    // Load: CREDIT and GET TRANSACTION PROVE answered 6581, then the first EF18 read damaged.
    run(
        Flow::Load,
        &[
            (1, 1, Fault::ReplaceSw(StatusWord(0x6581))),
            (3, 1, Fault::ReplaceSw(StatusWord(0x6581))),
            (4, 1, damaged(5)),
        ],
        &[(false, 1)],
    )
    .expect("load");
}
