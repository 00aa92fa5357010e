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
//! `PROPTEST_CASES` sets the cases per flow (default 256). The acceptance run:
//! `PROPTEST_CASES=100000 cargo test --release --test money_conservation`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

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

/// One terminal: its PSAM (purchases) or issuer host (loads), and its own journal.
struct Terminal {
    sam: Psam<VirtualCard>,
    host: PurseHost,
    journal: MemoryJournal,
}

impl Terminal {
    fn new(psam: &CardProfile) -> Terminal {
        Terminal {
            sam: Psam::open(psam.build().unwrap(), &SelectBy::FileId(0x8011)).unwrap(),
            host: sim_host("etc-user-card"),
            journal: MemoryJournal::new(),
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
    let mut terminals = vec![Terminal::new(&psam)];
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
            terminals.push(Terminal::new(&psam));
            taps.push((terminals.len() - 1, station, false));
        } else {
            taps.push((0, station, false));
        }
    }
    taps.push((0, 5, false));
    let mut last: Option<(PurseOutcome, i64)> = None;
    for (t, station, faulted) in taps {
        let before = moved(&mut card);
        let pending_before: Vec<u64> = terminals[t]
            .journal
            .pending()
            .iter()
            .map(|p| p.id)
            .collect();
        let records_before = terminals[t].journal.records().len();
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
            let new_money: i64 = terminals[t].journal.records()[records_before..]
                .iter()
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
