//! The kernel's ED/EP terminal flows (`quickpass::kernel::purse`) against the simulated purse,
//! PSAM and host: purchases, loads and CAPP entry/exit with APDU counts, declines, forged and
//! replayed MAC2, wrong TACs, every tear position of every flow with recovery on the next tap,
//! and the purse vectors through the same SAM/host functions the flows use.
//!
//! `cargo test --test purse_flow -- --nocapture` prints the tearing table.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use quickpass::crypto::purse::PurchaseTacData;
use quickpass::crypto::secret::SecretKey;
use quickpass::journal::FileJournal;
use quickpass::kernel::apdu::Purse;
use quickpass::kernel::purse::card::PurseLogRecord;
use quickpass::kernel::purse::fare::{SegmentFareTable, Station};
use quickpass::kernel::purse::flow::FlowError;
use quickpass::kernel::purse::layout::{self, ProveOrder};
use quickpass::kernel::purse::sam::SamPurchase;
use quickpass::kernel::purse::{
    capp_purchase, load, purchase, CappRequest, CardIdentity, CardNumber, DeclineReason,
    DiversifyError, Host, HostDecision, HostKeys, Journal, LoadAuthorisation, LoadRequest,
    Mac2Check, MemoryJournal, NoDiversification, Psam, PurchaseRequest, PurseApplication,
    PurseConfig, PurseOutcome, RecordStatus, Sam, SelectBy, SettlementRecord, SoftwareHost,
    SoftwareSam, SoftwareSamKey, TapResult, TransactionKind,
};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{PurseAmount, StatusWord, TransactionDate, TransactionTime};
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::host::purse::{HostCardIdentity, PurseHost};
use quickpass_sim::purse::keys::card_key;
use quickpass_sim::purse::SimPurseApplication;
use quickpass_sim::{ApplicationProfile, CardProfile, SimError, VirtualCard};

// --- rig ---------------------------------------------------------------------------------

/// Fen as a purse amount.
fn fen(fen: u32) -> PurseAmount {
    PurseAmount::from_fen(fen)
}

fn profile(name: &str) -> CardProfile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/cards")
        .join(format!("{name}.json"));
    CardProfile::load(path).unwrap()
}

fn date() -> TransactionDate {
    TransactionDate::new(2024, 5, 17).unwrap()
}

fn time() -> TransactionTime {
    TransactionTime::new(8, 30, 15).unwrap()
}

/// The simulator's (⚠) key diversification, handed to the kernel as a closure.
fn sim_diversifier(master: &SecretKey, card: &CardIdentity) -> Result<SecretKey, DiversifyError> {
    Ok(card_key(
        master,
        &card.serial,
        card.second_diversifier.as_ref(),
    )?)
}

/// The virtual PSAM (`vectors/cards/psam.json`) through the kernel's [`Psam`]: MAC1, MAC2 and
/// the TAC check (DES INIT / DES CRYPT) all come from its APDUs.
type SimPsam = Psam<VirtualCard>;

/// The PSAM application `df` (`8011` T-Union, `DF01` ETC).
fn sim_psam(df: u16) -> SimPsam {
    psam_from(profile("psam"), df)
}

fn psam_from(profile: CardProfile, df: u16) -> SimPsam {
    Psam::open(profile.build().unwrap(), &SelectBy::FileId(df)).unwrap()
}

fn sim_host(name: &str) -> PurseHost {
    let card = profile(name);
    let ApplicationProfile::Purse(purse) = &card.applications[0] else {
        panic!("{name} has no purse first")
    };
    PurseHost::from_purse_profile(purse, "applications[0]").unwrap()
}

type CardLayer = ApduLayer<FaultyCard<VirtualCard>>;

fn card_layer(name: &str) -> CardLayer {
    ApduLayer::new(FaultyCard::new(profile(name).build().unwrap()))
}

fn sim_purse(layer: &mut CardLayer) -> &mut SimPurseApplication {
    layer
        .transport_mut()
        .inner_mut()
        .application_mut::<SimPurseApplication>()
        .unwrap()
}

fn purchase_request(amount: u32) -> PurchaseRequest {
    PurchaseRequest {
        amount: fen(amount),
        date: date(),
        time: time(),
    }
}

fn t_union() -> PurseConfig {
    PurseConfig::new(PurseApplication::t_union())
}

fn etc() -> PurseConfig {
    PurseConfig::new(PurseApplication::etc())
}

const TOPUP_TERMINAL: [u8; 6] = [0x44, 0x01, 0x00, 0x00, 0x00, 0x09];

fn load_request(amount: u32) -> LoadRequest {
    LoadRequest {
        amount: fen(amount),
        terminal_id: TOPUP_TERMINAL,
        key_index: 1,
        date: date(),
        time: time(),
    }
}

fn station(number: u16) -> CappRequest {
    CappRequest {
        station: Station { line: 1, number },
        date: date(),
        time: time(),
    }
}

/// Checks a purchase record's TAC at the (simulated) clearing host.
fn settle_purchase(host: &PurseHost, card: &CardIdentity, record: &SettlementRecord) -> bool {
    let data = PurchaseTacData {
        amount: record.amount.fen(),
        transaction_type: record.transaction_type[0],
        terminal_id: record.terminal_id,
        terminal_serial: record.terminal_serial.unwrap(),
        date: record.date,
        time: record.time,
    };
    host.verify_purchase_tac(
        &HostCardIdentity::from(card),
        record.key_index,
        &data,
        &record.tac.unwrap(),
    )
    .is_ok()
}

fn t_union_identity(layer: &mut CardLayer) -> CardIdentity {
    CardIdentity {
        serial: sim_purse(layer).application_serial(),
        second_diversifier: None,
    }
}

// --- the flows -----------------------------------------------------------------------------

#[test]
fn purchase_pays_records_and_settles_in_four_card_apdus() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid, "{result:?}");
    assert_eq!(
        (result.apdus, result.sam_apdus),
        (4, 4),
        "SELECT, GET BALANCE, INIT, DEBIT; 80 70, 80 72, DES INIT, DES CRYPT"
    );
    assert_eq!(
        (result.balance_before, result.balance_after),
        (Some(fen(5000)), Some(fen(4800)))
    );
    let record = result.record.clone().unwrap();
    assert_eq!(record.status, RecordStatus::Paid);
    assert!(record.mac2_verified && record.tac_verified);
    assert_eq!((record.card_counter, record.terminal_serial), (17, Some(1)));
    assert_eq!(record.terminal_id, [0x31, 0x01, 0, 0, 0, 1]);
    assert_eq!(journal.records(), vec![record.clone()]);
    assert!(journal.pending().is_empty());
    // The card agrees, and its EF18 record parses to this transaction.
    let identity = t_union_identity(&mut card);
    let purse = sim_purse(&mut card);
    assert_eq!(
        (purse.balance(Purse::Purse), purse.offline_counter()),
        (Some(fen(4800)), 17)
    );
    let log = PurseLogRecord::parse(purse.log_records()[0]).unwrap();
    assert_eq!(
        (log.atc, log.amount, log.transaction_type),
        (17, fen(200), 0x06)
    );
    assert_eq!((log.date, log.time), (record.date, record.time));
    // The clearing host accepts the TAC.
    assert!(settle_purchase(
        &sim_host("transit-purse-capp"),
        &identity,
        &record
    ));
    // The card number never shows in clear: record JSON, tap result JSON and Debug.
    let json = serde_json::to_string(&result).unwrap();
    let shown = format!("{result:?}{json}");
    assert!(
        json.contains("\"card_number\":\"3104************5678\""),
        "{json}"
    );
    assert!(!shown.contains("0000000012345678") && !shown.contains("31040000000012345678"));
}

/// Issue 10 item 3: a command the configuration cannot encode is a typed error naming the
/// command, with the APDU error as its source; nothing reaches the card.
#[test]
fn a_df_name_too_long_to_select_is_a_typed_request_error() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let config = PurseConfig::new(PurseApplication::city(&[b'A'; 17]));
    let err = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &config,
        &purchase_request(200),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            FlowError::Request {
                command: "SELECT",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "cannot encode SELECT");
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(err.outcome(), PurseOutcome::Declined);
    assert_eq!(card.counters().apdus_sent, 0);
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(5000)));
}

#[test]
fn etc_purchase_reads_ef15_and_sends_the_second_diversifier() {
    let mut card = card_layer("etc-user-card");
    let mut sam = sim_psam(0xDF01);
    let mut journal = MemoryJournal::new();
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &etc(),
        &purchase_request(1500),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid, "{result:?}");
    assert_eq!(
        (result.apdus, result.sam_apdus),
        (5, 4),
        "READ BINARY EF15 added"
    );
    let record = result.record.unwrap();
    assert_eq!(record.terminal_serial, Some(1000));
    assert!(
        record.tac_verified,
        "DES INIT with serial ‖ second diversifier (Lc 10)"
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(18500)));
}

#[test]
fn insufficient_balance_and_refusals_are_typed_outcomes() {
    let config = t_union();
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    // Balance 50.00, fare 50.01: stopped after GET BALANCE, no INITIALIZE.
    let mut card = card_layer("transit-purse-capp");
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &config,
        &purchase_request(5001),
    )
    .unwrap();
    assert_eq!(
        (result.outcome, result.apdus),
        (PurseOutcome::InsufficientBalance, 2)
    );
    // A refused tap shows the balance the card holds (issue 11 item 4), before and after.
    assert_eq!(
        (result.balance_before, result.balance_after),
        (Some(fen(5000)), Some(fen(5000)))
    );
    // The card itself answering 9401 to INITIALIZE.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x50], 1),
        Fault::ReplaceSw(StatusWord::INSUFFICIENT_BALANCE),
    );
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &config,
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::InsufficientBalance);
    // Any other status word to INITIALIZE or DEBIT is a typed decline; nothing is journalled.
    // The DEBIT is really refused by the card (its MAC1 damaged on the way in): the terminal
    // voids only after the card proved it did not debit (counter and balance unchanged).
    for (prefix, fault, sw, command) in [
        (
            [0x80u8, 0x50],
            Fault::ReplaceSw(StatusWord(0x9403)),
            StatusWord(0x9403),
            "INITIALIZE FOR PURCHASE",
        ),
        (
            [0x80, 0x54],
            Fault::CorruptCommand {
                offset: 19,
                mask: 0x01,
            },
            StatusWord::MAC_INVALID,
            "DEBIT FOR PURCHASE",
        ),
        (
            [0x80, 0x5C],
            Fault::ReplaceSw(StatusWord(0x6F00)),
            StatusWord(0x6F00),
            "GET BALANCE",
        ),
    ] {
        let mut card = card_layer("transit-purse-capp");
        card.transport_mut()
            .plan(Trigger::matching(&prefix, 1), fault);
        let result = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &config,
            &purchase_request(100),
        )
        .unwrap();
        assert_eq!(result.outcome, PurseOutcome::Declined);
        assert_eq!(
            result.reason,
            Some(DeclineReason::CardRefused { command, sw })
        );
        assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(5000)));
    }
    assert!(journal.pending().is_empty());
    assert!(journal.records().is_empty());
}

#[test]
fn blocked_expired_not_yet_valid_and_denied_cards_are_declined() {
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let run = |card: &mut CardLayer,
               sam: &mut SimPsam,
               journal: &mut MemoryJournal,
               config: &PurseConfig,
               on: TransactionDate| {
        let request = PurchaseRequest {
            amount: fen(100),
            date: on,
            time: time(),
        };
        purchase(card, sam, journal, config, &request).unwrap()
    };
    let mut card = card_layer("transit-purse-capp");
    let expired = run(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        TransactionDate::new(2035, 1, 1).unwrap(),
    );
    assert_eq!(expired.reason, Some(DeclineReason::Expired));
    let early = run(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        TransactionDate::new(2023, 12, 31).unwrap(),
    );
    assert_eq!(early.reason, Some(DeclineReason::NotYetValid));
    let mut denied = t_union();
    denied
        .deny_list
        .push(CardNumber::from_digits("31040000000012345678").unwrap());
    let result = run(&mut card, &mut sam, &mut journal, &denied, date());
    assert_eq!(
        (result.outcome, result.reason),
        (PurseOutcome::Declined, Some(DeclineReason::Denied))
    );
    assert_eq!(result.apdus, 1, "SELECT only: EF15 came in the FCI");
    sim_purse(&mut card).set_blocked(true);
    let blocked = run(&mut card, &mut sam, &mut journal, &t_union(), date());
    assert_eq!(blocked.reason, Some(DeclineReason::Blocked));
    // No such application.
    let mut wrong = t_union();
    wrong.application.select = SelectBy::DfName(b"PAY.SZT".to_vec());
    let absent = run(&mut card, &mut sam, &mut journal, &wrong, date());
    assert!(matches!(
        absent.reason,
        Some(DeclineReason::NoApplication { .. })
    ));
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(5000)));
    assert!(journal.records().is_empty());
}

/// Issue 10 item 3: EF15 dates have 4-digit years. A card valid to 20991231 used to go through
/// the `9A` YYMMDD window (1950–2049), fail to parse and end every tap `Torn`; it pays, and one
/// that expired in 1949 (also outside the window) is declined as expired.
#[test]
fn a_card_valid_past_2049_pays_and_one_expired_before_1950_is_declined() {
    let card_with_dates = |start: &str, expiry: &str| {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/cards/transit-purse-capp.json");
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ef15 = &mut json["applications"][0]["ef15"];
        assert_eq!(
            ef15["expiry_date"], "20341231",
            "the profile this test edits"
        );
        ef15["start_date"] = start.into();
        ef15["expiry_date"] = expiry.into();
        let card = CardProfile::from_json(&json.to_string())
            .unwrap()
            .build()
            .unwrap();
        ApduLayer::new(FaultyCard::new(card))
    };
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let mut card = card_with_dates("20240101", "20991231");
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid, "{result:?}");
    assert_eq!(
        (result.balance_before, result.balance_after),
        (Some(fen(5000)), Some(fen(4800)))
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));

    let mut card = card_with_dates("19400101", "19491231");
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(
        (result.outcome, result.reason),
        (PurseOutcome::Declined, Some(DeclineReason::Expired))
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(5000)));
}

#[test]
fn load_through_the_host_in_four_card_apdus() {
    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = MemoryJournal::new();
    let result = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Loaded, "{result:?}");
    assert_eq!(
        result.apdus, 4,
        "SELECT, READ BINARY, INITIALIZE FOR LOAD, CREDIT"
    );
    assert_eq!(
        (result.balance_before, result.balance_after),
        (Some(fen(20_000)), Some(fen(30_000)))
    );
    let record = result.record.unwrap();
    assert_eq!(
        (record.status, record.card_counter),
        (RecordStatus::Loaded, 6)
    );
    assert!(record.tac_verified && record.mac2_verified);
    let purse = sim_purse(&mut card);
    assert_eq!(
        (purse.balance(Purse::Purse), purse.online_counter()),
        (Some(fen(30_000)), 6)
    );
    // A host that refuses (no keys for the index) is a typed decline.
    let mut request = load_request(100);
    request.key_index = 7;
    let refused = load(&mut card, &mut host, &mut journal, &etc(), &request).unwrap();
    assert_eq!(refused.outcome, PurseOutcome::Declined);
    assert!(matches!(
        refused.reason,
        Some(DeclineReason::CardRefused {
            sw: StatusWord(0x9403),
            ..
        })
    ));
    // The card refusing the host's MAC2 (damaged on the way in) is voided once the card has
    // shown it did not credit; nothing recorded.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x52], 1),
        Fault::CorruptCommand {
            offset: 15,
            mask: 0x01,
        },
    );
    let forged = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(100),
    )
    .unwrap();
    assert_eq!(forged.outcome, PurseOutcome::Declined);
    assert_eq!(journal.records().len(), 1);
    assert!(journal.pending().is_empty());
    // A load TAC that does not verify is never recorded as loaded.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x52], 1),
        Fault::CorruptByte {
            offset: 1,
            mask: 0x40,
        },
    );
    let bad_tac = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(100),
    )
    .unwrap();
    assert_eq!(
        (bad_tac.outcome, bad_tac.reason),
        (PurseOutcome::Declined, Some(DeclineReason::TacInvalid))
    );
    assert_eq!(bad_tac.record.unwrap().status, RecordStatus::TacInvalid);
}

#[test]
fn capp_entry_then_exit_charges_by_segments() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let fares = SegmentFareTable::EXAMPLE;
    let entry = capp_purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &fares,
        &station(2),
    )
    .unwrap();
    assert_eq!(
        (entry.outcome, entry.amount),
        (PurseOutcome::Paid, PurseAmount::ZERO),
        "{entry:?}"
    );
    assert_eq!(
        (entry.apdus, entry.sam_apdus),
        (7, 4),
        "SELECT, GET BALANCE, READ RECORD, INIT CAPP, 2 × UPDATE CAPP DATA CACHE, DEBIT; \
         80 70, 80 72, DES INIT, DES CRYPT"
    );
    let exit = capp_purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &fares,
        &station(9),
    )
    .unwrap();
    // 7 segments: 2.00 for 3, 4 × 0.50.
    assert_eq!(
        (exit.outcome, exit.amount, exit.balance_after),
        (PurseOutcome::Paid, fen(400), Some(fen(4600)))
    );
    let record = exit.record.unwrap();
    assert_eq!(record.kind, TransactionKind::CappPurchase);
    assert_eq!(record.transaction_type, [0x09]);
    let trip = record.trip.unwrap();
    assert_eq!(
        (trip.entry, trip.station, trip.entry_station),
        (false, 9, Some(2))
    );
    let identity = t_union_identity(&mut card);
    assert!(settle_purchase(
        &sim_host("transit-purse-capp"),
        &identity,
        &record
    ));
    let purse = sim_purse(&mut card);
    assert_eq!(purse.balance(Purse::Purse), Some(fen(4600)));
    assert_eq!(
        purse.capp_record(0x02).unwrap()[14],
        0x02,
        "exit written to EF1A"
    );
    let travel = purse.travel_records();
    assert_eq!((travel.len(), travel[0][0], travel[1][0]), (2, 0x04, 0x03));
    // The next tap is an entry again; an ETC configuration has no CAPP layout.
    let again = capp_purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &fares,
        &station(9),
    )
    .unwrap();
    assert_eq!(
        (again.outcome, again.amount),
        (PurseOutcome::Paid, PurseAmount::ZERO)
    );
    let mut etc_card = card_layer("etc-user-card");
    let mut etc_sam = sim_psam(0xDF01);
    let none = capp_purchase(
        &mut etc_card,
        &mut etc_sam,
        &mut journal,
        &etc(),
        &fares,
        &station(1),
    )
    .unwrap();
    assert_eq!(none.reason, Some(DeclineReason::NoCapp));
}

#[test]
fn wrong_mac2_or_tac_is_never_recorded_as_paid() {
    // MAC2 corrupted on its way back (byte 4 of TAC ‖ MAC2), and the card's proof (MAC2 and
    // TAC) too: the card did debit (EF18 shows it) but nothing verifies — a record flagged for
    // the clearing host, never paid, never voided.
    let (prove_mac2_offset, prove_tac_offset) = match layout::PROVE_ORDER {
        ProveOrder::Mac2ThenTac => (0, 4),
        ProveOrder::TacThenMac2 => (4, 0),
    };
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    card.transport_mut()
        .plan(
            Trigger::matching(&[0x80, 0x54], 1),
            Fault::CorruptByte {
                offset: 4,
                mask: 0x01,
            },
        )
        .plan(
            Trigger::matching(&[0x80, 0x5A], 1),
            Fault::CorruptByte {
                offset: prove_mac2_offset,
                mask: 0x01,
            },
        )
        .plan(
            Trigger::matching(&[0x80, 0x5A], 1),
            Fault::CorruptByte {
                offset: prove_tac_offset,
                mask: 0x01,
            },
        );
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(
        (result.outcome, result.reason.clone()),
        (PurseOutcome::Declined, Some(DeclineReason::TacInvalid)),
        "{result:?}"
    );
    let record = result.record.unwrap();
    assert_eq!(record.status, RecordStatus::TacInvalid);
    assert!(!record.status.is_settled() && !record.mac2_verified && !record.tac_verified);
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4900)));
    // Only the DEBIT answer's MAC2 corrupted: the PSAM closed its session on the bad MAC2, so
    // the card's proof is confirmed by EF18 and its TAC by the PSAM — the debit it really made
    // is paid (not voided, not left unclaimed), with `mac2_verified: false`.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x54], 1),
        Fault::CorruptByte {
            offset: 4,
            mask: 0x01,
        },
    );
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid, "{result:?}");
    let record = result.record.unwrap();
    assert!(record.status.is_settled() && record.tac_verified && !record.mac2_verified);
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
    // TAC corrupted: the PSAM's DES INIT / DES CRYPT MAC differs.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x54], 1),
        Fault::CorruptByte {
            offset: 0,
            mask: 0x80,
        },
    );
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(
        (result.outcome, result.reason, result.sam_apdus),
        (PurseOutcome::Declined, Some(DeclineReason::TacInvalid), 4),
        "80 70, 80 72, DES INIT, DES CRYPT"
    );
    let record = result.record.unwrap();
    assert_eq!(record.status, RecordStatus::TacInvalid);
    assert!(record.mac2_verified && !record.tac_verified);
    // Only the second purchase (proved by the card) is claimable.
    let settled: Vec<u64> = journal
        .records()
        .iter()
        .filter(|r| r.status.is_settled())
        .map(|r| r.id)
        .collect();
    assert_eq!(settled, vec![2]);
    // The same purchase, untouched, verifies: the check is not a blanket refusal.
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid);
    assert!(result.record.unwrap().tac_verified);
}

/// A PSAM without TAC keys (DES INIT `6A88`), or a terminal configured not to ask: the purchase
/// is paid with `tac_verified: false` and the clearing host refuses a wrong TAC.
#[test]
fn without_a_psam_tac_check_the_clearing_host_catches_a_wrong_tac() {
    let mut no_tac_key = profile("psam");
    for application in &mut no_tac_key.applications {
        let ApplicationProfile::Psam(psam) = application else {
            panic!("psam.json holds PSAM applications only")
        };
        psam.keys.iter_mut().for_each(|key| key.tac = None);
    }
    let mut configured_off = t_union();
    configured_off.check_tac = false;
    for (mut sam, config, sam_apdus) in [
        (psam_from(no_tac_key, 0x8011), t_union(), 3),
        (sim_psam(0x8011), configured_off, 2),
    ] {
        let mut card = card_layer("transit-purse-capp");
        let mut journal = MemoryJournal::new();
        card.transport_mut().plan(
            Trigger::matching(&[0x80, 0x54], 1),
            Fault::CorruptByte {
                offset: 0,
                mask: 0x80,
            },
        );
        let result = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &config,
            &purchase_request(100),
        )
        .unwrap();
        let record = result.record.unwrap();
        assert_eq!(
            (result.outcome, record.tac_verified, result.sam_apdus),
            (PurseOutcome::Paid, false, sam_apdus)
        );
        let identity = t_union_identity(&mut card);
        assert!(!settle_purchase(
            &sim_host("transit-purse-capp"),
            &identity,
            &record
        ));
    }
}

/// Recovery checks the TAC of the proof too: a torn purchase whose GET TRANSACTION PROVE answer
/// carries a wrong TAC is recorded `TacInvalid`, never recovered as paid.
#[test]
fn recovery_checks_the_proved_tac() {
    let tac_offset = match layout::PROVE_ORDER {
        ProveOrder::Mac2ThenTac => 4,
        ProveOrder::TacThenMac2 => 0,
    };
    for corrupt in [false, true] {
        let mut card = card_layer("transit-purse-capp");
        let mut sam = sim_psam(0x8011);
        let mut journal = MemoryJournal::new();
        card.transport_mut()
            .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearAfter);
        let torn = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap_err();
        assert_eq!(torn.outcome(), PurseOutcome::Torn);
        card.transport_mut().reinsert();
        if corrupt {
            card.transport_mut().plan(
                Trigger::matching(&[0x80, 0x5A], 1),
                Fault::CorruptByte {
                    offset: tac_offset,
                    mask: 0x01,
                },
            );
        }
        let again = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap();
        let record = again.record.clone().unwrap();
        assert_eq!(
            again.sam_apdus, 3,
            "80 72 for the proved MAC2, DES INIT, DES CRYPT"
        );
        assert!(record.mac2_verified, "the PSAM still held the session");
        if corrupt {
            assert_eq!(
                (again.outcome, again.reason, record.status),
                (
                    PurseOutcome::Declined,
                    Some(DeclineReason::TacInvalid),
                    RecordStatus::TacInvalid
                )
            );
            assert!(!record.tac_verified && !record.status.is_settled());
        } else {
            assert_eq!(
                (again.outcome, record.status),
                (PurseOutcome::Recovered, RecordStatus::Recovered)
            );
            assert!(record.tac_verified);
        }
        // Charged once either way: the card was debited by the torn tap only.
        assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4750)));
        assert!(journal.pending().is_empty());
    }
}

/// Replaces every DEBIT answer after the first with the first one: a card replaying a fixed
/// TAC ‖ MAC2 (it still debits).
struct ReplayDebit<T> {
    inner: T,
    first: Option<Vec<u8>>,
}

impl<T: Transport> Transport for ReplayDebit<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        let response = self.inner.transmit(command)?;
        if !command.starts_with(&[0x80, 0x54]) {
            return Ok(response);
        }
        Ok(match &self.first {
            Some(first) => first.clone(),
            None => {
                self.first = Some(response.clone());
                response
            }
        })
    }
}

#[test]
fn replayed_mac2_is_caught() {
    let mut card = ApduLayer::new(ReplayDebit {
        inner: profile("transit-purse-capp").build().unwrap(),
        first: None,
    });
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let first = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(150),
    )
    .unwrap();
    assert_eq!(first.outcome, PurseOutcome::Paid);
    let second = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(150),
    )
    .unwrap();
    // The replayed MAC2 is rejected; the card (which did debit again) is then asked for its
    // proof of this transaction, which verifies: paid on that proof, not on the replay.
    assert_eq!(second.outcome, PurseOutcome::Paid, "{second:?}");
    assert_ne!(
        second.tac, first.tac,
        "the record carries the card's own TAC"
    );
    let settled: Vec<_> = journal
        .records()
        .into_iter()
        .filter(|r| r.status.is_settled())
        .collect();
    assert_eq!(settled.len(), 2, "the card debited twice");
}

#[test]
fn recovery_when_the_psam_lost_the_session_uses_the_card_log() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    card.transport_mut()
        .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearAfter);
    let torn = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(250),
    )
    .unwrap_err();
    assert_eq!(torn.outcome(), PurseOutcome::Torn);
    assert_eq!(journal.pending().len(), 1);
    // The PSAM is re-selected (another passenger, a reset): the pending MAC2 session is gone.
    let transport = sam.into_transport();
    sam = Psam::open(transport, &SelectBy::FileId(0x8011)).unwrap();
    card.transport_mut().reinsert();
    let again = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(250),
    )
    .unwrap();
    assert_eq!(again.outcome, PurseOutcome::Recovered, "{again:?}");
    let record = again.record.unwrap();
    assert!(
        !record.mac2_verified,
        "no SAM session: proved by the card's proof and EF18"
    );
    assert!(record.tac_verified);
    assert_eq!(
        again.apdus, 3,
        "SELECT, GET TRANSACTION PROVE, READ RECORD EF18"
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4750)));
}

#[test]
fn software_sam_with_the_simulator_diversification_pays_and_checks_the_tac() {
    let masters = |purchase: &str, tac: &str| SoftwareSamKey {
        version: 1,
        algorithm_id: 0,
        purchase: SecretKey::new(&hex::decode(purchase).unwrap()),
        tac: Some(SecretKey::new(&hex::decode(tac).unwrap())),
    };
    // The transit masters of psam.json (DF 8011).
    let mut sam = SoftwareSam::new(
        [0x31, 0x01, 0, 0, 0, 7],
        1,
        50,
        vec![masters(
            "5431A8E2C47D0B9F16E3725A8CD04B61",
            "C3B5086FE1927A4D5B8C0E3F6172A9D4",
        )],
        sim_diversifier,
    );
    let mut card = card_layer("transit-purse-capp");
    let mut journal = MemoryJournal::new();
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(300),
    )
    .unwrap();
    assert_eq!((result.outcome, result.sam_apdus), (PurseOutcome::Paid, 0));
    let record = result.record.unwrap();
    assert!(record.tac_verified && record.mac2_verified);
    assert_eq!(record.terminal_serial, Some(50));
    assert!(!format!("{sam:?}").contains("5431"));
    // Without diversification the SAM computes another MAC1 and the card refuses the DEBIT.
    let mut plain = SoftwareSam::new(
        [0x31, 0x01, 0, 0, 0, 7],
        1,
        1,
        vec![masters(
            "5431A8E2C47D0B9F16E3725A8CD04B61",
            "C3B5086FE1927A4D5B8C0E3F6172A9D4",
        )],
        NoDiversification,
    );
    let refused = purchase(
        &mut card,
        &mut plain,
        &mut journal,
        &t_union(),
        &purchase_request(300),
    )
    .unwrap();
    assert_eq!(
        refused.reason,
        Some(DeclineReason::CardRefused {
            command: "DEBIT FOR PURCHASE",
            sw: StatusWord::MAC_INVALID
        })
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4700)));
}

// --- every tear position ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flow {
    Purchase,
    Load,
    CappExit,
}

struct Terminal {
    card: CardLayer,
    sam: SimPsam,
    host: PurseHost,
    journal_path: PathBuf,
    journal: FileJournal,
}

impl Terminal {
    fn new(flow: Flow, dir: &Path, name: &str) -> Terminal {
        let journal_path = dir.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&journal_path);
        let card = match flow {
            Flow::Load => card_layer("etc-user-card"),
            _ => card_layer("transit-purse-capp"),
        };
        Terminal {
            card,
            sam: sim_psam(0x8011),
            host: sim_host(match flow {
                Flow::Load => "etc-user-card",
                _ => "transit-purse-capp",
            }),
            journal: FileJournal::open(&journal_path).unwrap(),
            journal_path,
        }
    }

    fn tap(&mut self, flow: Flow) -> Result<TapResult, FlowError<SimError>> {
        match flow {
            Flow::Purchase => purchase(
                &mut self.card,
                &mut self.sam,
                &mut self.journal,
                &t_union(),
                &purchase_request(AMOUNT),
            ),
            Flow::Load => load(
                &mut self.card,
                &mut self.host,
                &mut self.journal,
                &etc(),
                &load_request(AMOUNT),
            ),
            Flow::CappExit => capp_purchase(
                &mut self.card,
                &mut self.sam,
                &mut self.journal,
                &t_union(),
                &SegmentFareTable::EXAMPLE,
                &station(9),
            ),
        }
    }

    /// The CAPP entry tap before the exit under test (station 2).
    fn enter(&mut self) {
        let entry = capp_purchase(
            &mut self.card,
            &mut self.sam,
            &mut self.journal,
            &t_union(),
            &SegmentFareTable::EXAMPLE,
            &station(2),
        )
        .unwrap();
        assert_eq!(
            (entry.outcome, entry.amount),
            (PurseOutcome::Paid, PurseAmount::ZERO)
        );
    }

    /// The terminal restarts: the journal is read back from its file.
    fn restart(&mut self) {
        self.journal = FileJournal::open(&self.journal_path).unwrap();
    }

    fn balance(&mut self) -> u32 {
        sim_purse(&mut self.card)
            .balance(Purse::Purse)
            .unwrap()
            .fen()
    }

    fn counter(&mut self, flow: Flow) -> u16 {
        let purse = sim_purse(&mut self.card);
        if flow == Flow::Load {
            purse.online_counter()
        } else {
            purse.offline_counter()
        }
    }
}

const AMOUNT: u32 = 180;
const CAPP_EXIT_FARE: u32 = 400;

fn command_name(apdu: &[u8]) -> &'static str {
    match (apdu[0], apdu[1], apdu.get(2).copied().unwrap_or(0)) {
        (0x00, 0xA4, _) => "SELECT",
        (0x00, 0xB0, _) => "READ BINARY EF15",
        (0x00, 0xB2, _) => "READ RECORD",
        (0x80, 0x5C, _) => "GET BALANCE",
        (0x80, 0x50, 0x00) => "INIT FOR LOAD",
        (0x80, 0x50, 0x01) => "INIT FOR PURCHASE",
        (0x80, 0x50, 0x03) => "INIT FOR CAPP",
        (0x80, 0xDC, _) => "UPDATE CAPP CACHE",
        (0x80, 0x54, _) => "DEBIT",
        (0x80, 0x52, _) => "CREDIT FOR LOAD",
        (0x80, 0x5A, _) => "GET TRANS. PROVE",
        _ => "?",
    }
}

fn result_name(result: &Result<TapResult, FlowError<SimError>>) -> String {
    match result {
        Ok(r) => r.outcome.as_str().to_owned(),
        Err(e) => e.outcome().as_str().to_owned(),
    }
}

/// For purchase, load and CAPP (exit) purchase: the card is removed before and after every
/// single APDU of the tap in turn; the terminal restarts (journal read back from disk); the
/// card taps again. Afterwards card balance and counter, the journal and the settlement
/// records agree: exactly one settled transaction, nothing pending, nothing charged twice.
#[test]
fn every_tear_position_of_every_flow_settles_exactly_once() {
    let dir = std::env::temp_dir().join(format!("quickpass-purse-tears-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut table = vec![format!(
        "{:<9} {:>3} {:<18} {:<11} {:<10} {:<10} {:>7} {:>7} {:>7} {:>7} {:>19}",
        "flow",
        "apdu",
        "command",
        "fault",
        "tap 1",
        "tap 2",
        "balance",
        "counter",
        "records",
        "pending",
        "pending after tap 1"
    )];
    let mut cases = 0;
    for flow in [Flow::Purchase, Flow::Load, Flow::CappExit] {
        // A clean run gives the APDUs of the tap.
        let mut clean = Terminal::new(flow, &dir, "clean");
        if flow == Flow::CappExit {
            clean.enter();
        }
        clean.card.record();
        let clean_result = clean.tap(flow).unwrap();
        assert!(matches!(
            clean_result.outcome,
            PurseOutcome::Paid | PurseOutcome::Loaded
        ));
        let apdus: Vec<Vec<u8>> = clean
            .card
            .take_log()
            .into_iter()
            .map(|e| e.command)
            .collect();
        let amount = clean_result.amount.fen();
        assert_eq!(
            amount,
            if flow == Flow::CappExit {
                CAPP_EXIT_FARE
            } else {
                AMOUNT
            }
        );

        for (index, apdu) in apdus.iter().enumerate() {
            for fault in [Fault::TearBefore, Fault::TearAfter] {
                cases += 1;
                let mut t = Terminal::new(flow, &dir, "torn");
                if flow == Flow::CappExit {
                    t.enter();
                }
                let (balance0, counter0) = (t.balance(), t.counter(flow));
                let settled0 = t.journal.records().len();
                let position = t.card.transport().offered() + index as u64 + 1;
                t.card.transport_mut().plan(Trigger::Apdu(position), fault);
                let first = t.tap(flow);
                assert!(
                    first.is_err(),
                    "{flow:?} #{} {fault:?}: the tear must show",
                    index + 1
                );
                let pending_after_tear = t.journal.pending().len();
                t.restart();
                t.card.transport_mut().reinsert();
                let second = t.tap(flow);
                let second_outcome = second
                    .as_ref()
                    .map(|r| r.outcome)
                    .unwrap_or(PurseOutcome::Torn);
                assert!(
                    matches!(
                        second_outcome,
                        PurseOutcome::Paid | PurseOutcome::Loaded | PurseOutcome::Recovered
                    ),
                    "{flow:?} #{} {fault:?}: {second:?}",
                    index + 1
                );
                let (balance, counter) = (t.balance(), t.counter(flow));
                let expected = if flow == Flow::Load {
                    balance0 + amount
                } else {
                    balance0 - amount
                };
                assert_eq!(
                    balance,
                    expected,
                    "{flow:?} #{} {fault:?}: charged once",
                    index + 1
                );
                assert_eq!(counter, counter0 + 1, "one card transaction");
                let records = t.journal.records();
                let new: Vec<_> = records[settled0..].to_vec();
                assert_eq!(
                    new.len(),
                    1,
                    "{flow:?} #{} {fault:?}: one record",
                    index + 1
                );
                let record = &new[0];
                assert!(record.status.is_settled());
                assert_eq!(
                    (record.amount, record.balance_after, record.card_counter),
                    (fen(amount), fen(balance), counter)
                );
                assert!(t.journal.pending().is_empty(), "nothing left pending");
                // The record on disk is the same as in memory.
                assert_eq!(
                    FileJournal::open(&t.journal_path).unwrap().records(),
                    records
                );
                // Debited on tap 1 exactly when the tear came after DEBIT/CREDIT was processed.
                let card_write = matches!(apdu[..2], [0x80, 0x54] | [0x80, 0x52]);
                let done_on_tap_1 = card_write && fault == Fault::TearAfter;
                assert_eq!(
                    second_outcome == PurseOutcome::Recovered,
                    done_on_tap_1,
                    "{flow:?} #{} {fault:?}",
                    index + 1
                );
                table.push(format!(
                    "{:<9} {:>3} {:<18} {:<11} {:<10} {:<10} {:>7} {:>7} {:>7} {:>7} {:>19}",
                    format!("{flow:?}"),
                    index + 1,
                    command_name(apdu),
                    format!("{fault:?}"),
                    result_name(&first),
                    second_outcome.as_str(),
                    balance,
                    counter,
                    new.len(),
                    t.journal.pending().len(),
                    pending_after_tear
                ));
                assert_eq!(
                    pending_after_tear,
                    usize::from(card_write),
                    "journal written before DEBIT/CREDIT only"
                );
            }
        }
    }
    println!("\nTearing table ({cases} cases):\n{}", table.join("\n"));
    assert_eq!(cases, 2 * (4 + 4 + 7));
    let _ = std::fs::remove_dir_all(&dir);
}

// --- vectors ---------------------------------------------------------------------------------

fn vector_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/vectors");
    let dir = if shared.is_dir() {
        shared
    } else {
        root.join("vectors")
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("purse-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no purse vectors in {}", dir.display());
    files
}

fn hex_field<const N: usize>(case: &serde_json::Value, name: &str) -> [u8; N] {
    let text = case[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name}"));
    hex::decode(text).unwrap().try_into().unwrap()
}

fn bcd_date(bytes: [u8; 4]) -> TransactionDate {
    let d = |b: u8| u16::from(b >> 4) * 10 + u16::from(b & 0x0F);
    TransactionDate::new(
        d(bytes[0]) * 100 + d(bytes[1]),
        d(bytes[2]) as u8,
        d(bytes[3]) as u8,
    )
    .unwrap()
}

fn bcd_time(bytes: [u8; 3]) -> TransactionTime {
    let d = |b: u8| (b >> 4) * 10 + (b & 0x0F);
    TransactionTime::new(d(bytes[0]), d(bytes[1]), d(bytes[2])).unwrap()
}

/// Every `purse` case of the shared vectors through the kernel's SoftwareSam (purchase) or
/// SoftwareHost (load) — the functions the flows call — and, for loads, a whole `load` tap
/// against a card personalised with the vector's key, random and counter.
#[test]
fn purse_vectors_pass_through_the_flow_functions() {
    let mut ran = 0;
    for file in vector_files() {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(json["kind"], "purse");
        for case in json["cases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap();
            assert_eq!(case["cipher"], "tdes", "{id}");
            let key: [u8; 16] = hex_field(case, "key");
            let random: [u8; 4] = hex_field(case, "card_random");
            let counter = case["counter"].as_u64().unwrap() as u16;
            let amount = case["amount"].as_u64().unwrap() as u32;
            let balance = case["balance"].as_u64().unwrap() as u32;
            let [transaction_type]: [u8; 1] = hex_field(case, "transaction_type");
            let terminal_id: [u8; 6] = hex_field(case, "terminal_id");
            let (date, time) = (
                bcd_date(hex_field(case, "date")),
                bcd_time(hex_field(case, "time")),
            );
            let expect = &case["expect"];
            let expect4 = |name: &str| -> Option<[u8; 4]> {
                expect[name]
                    .as_str()
                    .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            };
            let card = CardIdentity {
                serial: [0; 8],
                second_diversifier: None,
            };
            match case["operation"].as_str().unwrap() {
                "purchase" => {
                    let serial = case["terminal_serial"].as_u64().unwrap() as u32;
                    let mut sam = SoftwareSam::new(
                        terminal_id,
                        1,
                        serial,
                        vec![SoftwareSamKey {
                            version: 1,
                            algorithm_id: 0,
                            purchase: SecretKey::new(&key),
                            tac: None,
                        }],
                        NoDiversification,
                    );
                    let init = quickpass::kernel::purse::card::PurchaseInit {
                        balance: fen(balance),
                        offline_atc: counter,
                        overdraft_limit: PurseAmount::ZERO,
                        key_version: 1,
                        algorithm_id: 0,
                        random,
                    };
                    let auth = sam
                        .init_purchase(&SamPurchase {
                            card,
                            init,
                            amount: fen(amount),
                            transaction_type,
                            date,
                            time,
                        })
                        .unwrap();
                    if let Some(mac1) = expect4("mac1") {
                        assert_eq!(auth.mac1, mac1, "{id}");
                    }
                    if let Some(mac2) = expect4("mac2") {
                        assert_eq!(sam.verify_mac2(&mac2).unwrap(), Mac2Check::Verified, "{id}");
                    }
                }
                "load" => {
                    let mut host = SoftwareHost::new(
                        vec![HostKeys {
                            index: 1,
                            load: SecretKey::new(&key),
                            tac: Some(SecretKey::new(&key)),
                        }],
                        NoDiversification,
                    );
                    let init = quickpass::kernel::purse::card::LoadInit {
                        balance: fen(balance),
                        online_atc: counter,
                        key_version: 1,
                        algorithm_id: 0,
                        random,
                        mac1: expect4("mac1").expect("load vectors give MAC1"),
                    };
                    let request = LoadAuthorisation {
                        card,
                        key_index: 1,
                        init,
                        amount: fen(amount),
                        transaction_type,
                        terminal_id,
                        date,
                        time,
                    };
                    let decision = host.authorise_load(&request).unwrap();
                    if let Some(mac2) = expect4("mac2") {
                        assert_eq!(decision, HostDecision::Approved { mac2 }, "{id}");
                    }
                    // The whole load tap against a card personalised with the vector.
                    let deposit = transaction_type == 0x01;
                    let purse_json = format!(
                        r#"{{"type": "purse", "df_name_text": "PAY.APPY", "ef15": {{"layout": "raw",
                            "data": "00000000000000000000000000000000000000002000010120491231"}},
                            "ep_balance": {ep}, {ed} "online_counter": {counter},
                            "key_derivation": "none", "random_seed": "{random}",
                            "keys": [{{"index": 1, "version": 1, "load": "{key}", "tac": "{key}"}}]}}"#,
                        ep = if deposit { 0 } else { balance },
                        ed = if deposit {
                            format!("\"ed_balance\": {balance},")
                        } else {
                            String::new()
                        },
                        random = hex::encode_upper(random),
                        key = hex::encode_upper(key),
                    );
                    let card_json = format!(
                        r#"{{"schema": "quickpass-card/1", "name": "vector", "ppse": false, "pse": false, "applications": [{purse_json}]}}"#
                    );
                    let mut layer = ApduLayer::new(
                        CardProfile::from_json(&card_json).unwrap().build().unwrap(),
                    );
                    let mut config = PurseConfig::new(PurseApplication::city(b"PAY.APPY"));
                    config.application.purse = if deposit {
                        Purse::Deposit
                    } else {
                        Purse::Purse
                    };
                    let mut journal = MemoryJournal::new();
                    layer.record();
                    let result = load(
                        &mut layer,
                        &mut host,
                        &mut journal,
                        &config,
                        &LoadRequest {
                            amount: fen(amount),
                            terminal_id,
                            key_index: 1,
                            date,
                            time,
                        },
                    )
                    .unwrap();
                    assert_eq!(result.outcome, PurseOutcome::Loaded, "{id}: {result:?}");
                    assert!(result.record.unwrap().tac_verified, "{id}");
                    let log = layer.take_log();
                    let init = log
                        .iter()
                        .find(|e| e.command.starts_with(&[0x80, 0x50]))
                        .unwrap();
                    let credit = log
                        .iter()
                        .find(|e| e.command.starts_with(&[0x80, 0x52]))
                        .unwrap();
                    if let Some(mac1) = expect4("mac1") {
                        assert_eq!(init.response[12..16], mac1, "{id}: card MAC1");
                    }
                    if let Some(mac2) = expect4("mac2") {
                        assert_eq!(credit.command[12..16], mac2, "{id}: MAC2 sent");
                    }
                }
                other => panic!("{id}: unsupported operation {other}"),
            }
            ran += 1;
        }
    }
    assert!(ran > 0);
}

/// pboc-notes §4.2 purchase vector \[V1, V2\] through a whole `purchase` tap: the software SAM
/// computes MAC1 `F15CAB75`, the card answers MAC2 `56988A13`, the SAM verifies it.
#[test]
fn purchase_vector_through_a_whole_tap() {
    const KEY: &str = "11223344556677888877665544332211";
    let card_json = format!(
        r#"{{"schema": "quickpass-card/1", "name": "vector", "ppse": false, "pse": false, "applications": [
            {{"type": "purse", "df_name_text": "PAY.SZT", "ef15": {{"layout": "raw",
              "data": "00000000000000000000000000000000000000012010010120491231"}},
              "ep_balance": 10000, "key_derivation": "none", "random_seed": "11223344",
              "keys": [{{"index": 1, "version": 1, "purchase": "{KEY}", "tac": "{KEY}"}}]}}]}}"#
    );
    let mut layer = ApduLayer::new(CardProfile::from_json(&card_json).unwrap().build().unwrap());
    let key = SecretKey::new(&hex::decode(KEY).unwrap());
    let mut sam = SoftwareSam::new(
        [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
        1,
        1,
        vec![SoftwareSamKey {
            version: 1,
            algorithm_id: 0,
            purchase: key.clone(),
            tac: Some(key),
        }],
        NoDiversification,
    );
    let mut journal = MemoryJournal::new();
    layer.record();
    let request = PurchaseRequest {
        amount: fen(0x1000),
        date: TransactionDate::new(2012, 2, 29).unwrap(),
        time: TransactionTime::new(13, 51, 0).unwrap(),
    };
    let result = purchase(
        &mut layer,
        &mut sam,
        &mut journal,
        &PurseConfig::new(PurseApplication::city(b"PAY.SZT")),
        &request,
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Paid, "{result:?}");
    assert!(result.record.unwrap().tac_verified);
    let log = layer.take_log();
    let debit = log
        .iter()
        .find(|e| e.command.starts_with(&[0x80, 0x54]))
        .unwrap();
    assert_eq!(hex::encode_upper(&debit.command[16..20]), "F15CAB75");
    assert_eq!(hex::encode_upper(&debit.response[4..8]), "56988A13");
}

// --- hostile cards ---------------------------------------------------------------------------

/// A card that answers each command with the next scripted bytes.
struct Scripted(Vec<Vec<u8>>);

#[derive(Debug, thiserror::Error)]
#[error("script exhausted")]
struct Exhausted;

impl quickpass::kernel::transport::TransportError for Exhausted {}

impl Transport for Scripted {
    type Error = Exhausted;
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, Exhausted> {
        if self.0.is_empty() {
            return Err(Exhausted);
        }
        Ok(self.0.remove(0))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any answers at all (mostly 9000 so the flow goes deep): never a panic, never "paid"
    /// without a MAC2 the SAM computed, never a load without the host.
    #[test]
    fn hostile_card_never_panics_or_pays(answers in prop::collection::vec(
        (prop::collection::vec(any::<u8>(), 0..40), prop::bool::weighted(0.8)), 0..12)) {
        let script: Vec<Vec<u8>> = answers
            .into_iter()
            .map(|(mut data, ok)| {
                if ok {
                    data.extend_from_slice(&[0x90, 0x00]);
                }
                data
            })
            .collect();
        let mut layer = ApduLayer::new(Scripted(script.clone()));
        let key = SecretKey::new(&[0x11; 16]);
        let mut sam = SoftwareSam::new([1; 6], 1, 1,
            vec![SoftwareSamKey { version: 1, algorithm_id: 0, purchase: key.clone(), tac: None }],
            NoDiversification);
        let mut journal = MemoryJournal::new();
        let config = PurseConfig::new(PurseApplication::city(b"PAY.SZT"));
        if let Ok(result) = purchase(&mut layer, &mut sam, &mut journal, &config, &purchase_request(100)) {
            prop_assert!(result.outcome != PurseOutcome::Paid || result.record.as_ref().is_some_and(|r| r.mac2_verified));
        }
        let mut layer = ApduLayer::new(Scripted(script));
        let mut host = SoftwareHost::new(vec![HostKeys { index: 1, load: key, tac: None }], NoDiversification);
        if let Ok(result) = load(&mut layer, &mut host, &mut journal, &config, &load_request(100)) {
            prop_assert!(result.outcome != PurseOutcome::Loaded, "random bytes carry no valid MAC1");
        }
    }
}

#[test]
fn journal_failure_stops_before_the_debit() {
    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct DiskFull;
    struct Broken;
    impl Journal for Broken {
        type Error = DiskFull;
        fn begin(&mut self, _: &quickpass::kernel::purse::JournalEntry) -> Result<u64, DiskFull> {
            Err(DiskFull)
        }
        fn complete(&mut self, _: &SettlementRecord) -> Result<(), DiskFull> {
            Err(DiskFull)
        }
        fn void(&mut self, _: u64) -> Result<(), DiskFull> {
            Err(DiskFull)
        }
        fn pending(&self) -> Vec<quickpass::kernel::purse::Pending> {
            Vec::new()
        }
        fn records(&self) -> Vec<SettlementRecord> {
            Vec::new()
        }
        fn take_records(&mut self) -> Result<Vec<SettlementRecord>, DiskFull> {
            Err(DiskFull)
        }
    }
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let error = purchase(
        &mut card,
        &mut sam,
        &mut Broken,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap_err();
    assert!(matches!(error, FlowError::Journal(_)));
    assert_eq!(error.outcome(), PurseOutcome::Declined);
    let purse = sim_purse(&mut card);
    assert_eq!(
        (purse.balance(Purse::Purse), purse.offline_counter()),
        (Some(fen(5000)), 16),
        "no DEBIT sent"
    );
}

/// A journal whose `complete` fails (disk full once DEBIT / CREDIT has gone through): the
/// pending entry written by `begin` stays.
struct CompleteFails(MemoryJournal);

#[derive(Debug, thiserror::Error)]
#[error("No space left on device")]
struct NoSpace;

impl Journal for CompleteFails {
    type Error = NoSpace;
    fn begin(&mut self, entry: &quickpass::kernel::purse::JournalEntry) -> Result<u64, NoSpace> {
        Ok(self.0.begin(entry).unwrap())
    }
    fn complete(&mut self, _: &SettlementRecord) -> Result<(), NoSpace> {
        Err(NoSpace)
    }
    fn void(&mut self, id: u64) -> Result<(), NoSpace> {
        self.0.void(id).map_err(|_| NoSpace)
    }
    fn pending(&self) -> Vec<quickpass::kernel::purse::Pending> {
        self.0.pending()
    }
    fn records(&self) -> Vec<SettlementRecord> {
        self.0.records()
    }
    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, NoSpace> {
        Err(NoSpace)
    }
}

/// Issue 15 reproduction 4: a journal failure after the card moved money is not a decline; the
/// settlement record is in the result and the pending entry stays for recovery.
#[test]
fn journal_failure_after_the_debit_or_credit_is_not_a_decline() {
    // Purchase.
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = CompleteFails(MemoryJournal::new());
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::PaidUnrecorded, "{result:?}");
    assert_eq!(result.outcome.as_str(), "paid_unrecorded");
    assert!(matches!(
        &result.reason,
        Some(DeclineReason::JournalFailed { detail }) if detail.contains("No space left")
    ));
    let record = result.record.clone().unwrap();
    assert_eq!(record.status, RecordStatus::Paid);
    assert_eq!((record.amount, record.balance_after), (fen(200), fen(4800)));
    assert_eq!(
        (result.balance_before, result.balance_after),
        (Some(fen(5000)), Some(fen(4800)))
    );
    let pending = journal.pending();
    assert_eq!(pending.len(), 1, "the entry begun before DEBIT stays");
    assert_eq!(
        (pending[0].id, pending[0].entry.amount),
        (record.id, fen(200))
    );
    assert!(journal.records().is_empty());
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
    // The record kept in the result lets the caller retry once the disk has room.
    let mut retry = journal.0.clone();
    retry.complete(&record).unwrap();
    assert!(retry.pending().is_empty() && retry.records() == vec![record]);
    let json = serde_json::to_string(&result).unwrap();
    assert!(json.contains("\"outcome\":\"paid_unrecorded\""), "{json}");
    assert!(!json.contains("0000000012345678"), "{json}");

    // Load.
    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = CompleteFails(MemoryJournal::new());
    let result = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::LoadedUnrecorded, "{result:?}");
    let record = result.record.clone().unwrap();
    assert_eq!(
        (record.status, record.amount, record.balance_after),
        (RecordStatus::Loaded, fen(10_000), fen(30_000))
    );
    assert_eq!(journal.pending().len(), 1);
    assert_eq!(journal.pending()[0].id, record.id);
}

/// A second T-Union card: the profile with another application serial (its keys are
/// diversified from it, so the same PSAM serves both).
fn other_t_union_card() -> CardLayer {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors/cards/transit-purse-capp.json");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("31040000000012345678", "31040000000087654321");
    ApduLayer::new(FaultyCard::new(
        CardProfile::from_json(&text).unwrap().build().unwrap(),
    ))
}

/// Card A torn after DEBIT, then card B torn after DEBIT: the PSAM's pending session is B's.
/// A's recovery must not show A's MAC2 to the PSAM (it would be judged against B's session);
/// it is recovered through A's EF18. B's recovery then still verifies with the PSAM.
#[test]
fn two_torn_cards_recover_in_any_order() {
    let mut a = card_layer("transit-purse-capp");
    let mut b = other_t_union_card();
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    for card in [&mut a, &mut b] {
        card.transport_mut()
            .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearAfter);
        let torn = purchase(
            card,
            &mut sam,
            &mut journal,
            &t_union(),
            &purchase_request(120),
        );
        assert_eq!(torn.unwrap_err().outcome(), PurseOutcome::Torn);
        card.transport_mut().reinsert();
    }
    assert_eq!(journal.pending().len(), 2);
    let first = purchase(
        &mut a,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(120),
    )
    .unwrap();
    assert_eq!(first.outcome, PurseOutcome::Recovered, "{first:?}");
    assert!(!first.record.unwrap().mac2_verified);
    let second = purchase(
        &mut b,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(120),
    )
    .unwrap();
    assert_eq!(second.outcome, PurseOutcome::Recovered, "{second:?}");
    assert!(
        second.record.unwrap().mac2_verified,
        "B's session was still in the PSAM"
    );
    assert_eq!(sim_purse(&mut a).balance(Purse::Purse), Some(fen(4880)));
    assert_eq!(sim_purse(&mut b).balance(Purse::Purse), Some(fen(4880)));
    assert!(journal.pending().is_empty());
    assert_eq!(
        journal
            .records()
            .iter()
            .filter(|r| r.status.is_settled())
            .count(),
        2
    );
}

/// A load the host approved, torn before CREDIT FOR LOAD reached the card: the next load tap
/// finds no proof and voids the entry, and the host gets exactly one reversal advice with what
/// it needs (amount, online counter, terminal and its transaction number, reason).
#[test]
fn torn_load_after_host_approval_is_reversed_exactly_once() {
    use quickpass::kernel::purse::ReversalReason;

    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = MemoryJournal::new();
    card.transport_mut()
        .plan(Trigger::matching(&[0x80, 0x52], 1), Fault::TearBefore);
    let torn = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap_err();
    assert_eq!(torn.outcome(), PurseOutcome::Torn);
    assert_eq!(journal.pending().len(), 1);
    let pending_id = journal.pending()[0].id;
    assert!(host.reversals().is_empty(), "no reversal before the void");

    card.transport_mut().reinsert();
    card.transport_mut().clear_plan();
    let again = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(again.voided, vec![pending_id]);
    assert_eq!(again.outcome, PurseOutcome::Loaded, "{again:?}");
    let reversals = host.reversals();
    assert_eq!(reversals.len(), 1, "{reversals:?}");
    let reversal = reversals[0];
    assert_eq!(reversal.amount, fen(10_000));
    assert_eq!(reversal.terminal_id, TOPUP_TERMINAL);
    assert_eq!(reversal.terminal_transaction, pending_id);
    assert_eq!(reversal.reason, ReversalReason::NotCarriedOut);
    assert_eq!(
        reversal.online_counter, 5,
        "the torn load's INITIALIZE FOR LOAD counter"
    );
    // The card serial never prints in clear.
    let debug = format!("{reversal:?}");
    let serial = hex::encode_upper(reversal.card.serial);
    assert!(!debug.contains(&serial), "{debug}");
    // A further tap sends nothing more.
    load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(100),
    )
    .unwrap();
    assert_eq!(host.reversals().len(), 1);
}

/// A card that really refuses CREDIT FOR LOAD after the host approved (the host's MAC2 damaged
/// on the way in): once the card has shown it did not credit, reversed at once.
#[test]
fn refused_credit_after_host_approval_is_reversed() {
    use quickpass::kernel::purse::ReversalReason;

    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = MemoryJournal::new();
    let before = sim_purse(&mut card).balance(Purse::Purse);
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x52], 1),
        Fault::CorruptCommand {
            offset: 15,
            mask: 0x01,
        },
    );
    let result = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(result.outcome, PurseOutcome::Declined);
    let reversals = host.reversals();
    assert_eq!(reversals.len(), 1);
    assert_eq!(
        reversals[0].reason,
        ReversalReason::CardRefusedCredit(StatusWord(0x9302))
    );
    assert!(journal.pending().is_empty());
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), before);
}

// --- issue 15: the purse state machine asks before it voids --------------------------------

fn settled_sum(journal: &MemoryJournal) -> u32 {
    journal
        .records()
        .iter()
        .filter(|r| r.status.is_settled())
        .map(|r| r.amount.fen())
        .sum()
}

/// Reproduction 1 (purchase): DEBIT answered 6581 after the card debited. It used to be
/// "declined" and voided, and the next tap paid again (the rider paid 400, the operator could
/// claim 200). Now the card is asked (GET TRANSACTION PROVE, MAC2 checked by the PSAM): paid.
#[test]
fn debit_answered_6581_after_debiting_is_proved_not_charged_twice() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x54], 1),
        Fault::ReplaceSw(StatusWord(0x6581)),
    );
    let first = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(first.outcome, PurseOutcome::Paid, "{first:?}");
    let record = first.record.clone().unwrap();
    assert!(record.status.is_settled() && record.mac2_verified && record.tac_verified);
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
    assert!(journal.pending().is_empty());
    let second = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(second.outcome, PurseOutcome::Paid);
    // Σ card debits = Σ claimable records.
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4600)));
    assert_eq!(settled_sum(&journal), 400);
}

/// The same for a CAPP (segmented fare) debit.
#[test]
fn capp_debit_answered_6581_after_debiting_is_proved() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let fares = SegmentFareTable::EXAMPLE;
    let entry = capp_purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &fares,
        &station(2),
    )
    .unwrap();
    assert_eq!(entry.outcome, PurseOutcome::Paid, "{entry:?}");
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x54], 1),
        Fault::ReplaceSw(StatusWord(0x6581)),
    );
    let exit = capp_purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &fares,
        &station(6),
    )
    .unwrap();
    assert_eq!(exit.outcome, PurseOutcome::Paid, "{exit:?}");
    assert!(exit.amount > PurseAmount::ZERO);
    let debited = 5000 - sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
    assert_eq!(settled_sum(&journal), debited);
    assert!(journal.pending().is_empty());
}

/// Reproduction 1 (load): CREDIT answered 6581 after the card credited. It used to be voided
/// and reversed while the card kept the money, and a second load tap credited again. Now the
/// card's proof (the host's MAC2) settles it: loaded once, no reversal.
#[test]
fn credit_answered_6581_after_crediting_is_loaded_once() {
    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = MemoryJournal::new();
    let before = sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x52], 1),
        Fault::ReplaceSw(StatusWord(0x6581)),
    );
    let first = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(first.outcome, PurseOutcome::Loaded, "{first:?}");
    assert!(host.reversals().is_empty(), "the card did credit");
    let second = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(second.outcome, PurseOutcome::Loaded);
    let after = sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
    assert_eq!(after - before, 20_000);
    assert_eq!(settled_sum(&journal), 20_000, "every credit has its record");
    assert!(host.reversals().is_empty() && journal.pending().is_empty());
}

/// No proof either way on the tap itself (DEBIT answered 6581, GET TRANSACTION PROVE and EF18
/// refused, the counter advanced): `disputed`, the entry stays pending, and the next tap settles
/// it from the card's proof instead of charging again.
#[test]
fn unprovable_debit_is_disputed_then_settled_by_evidence_not_charged_twice() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    card.transport_mut()
        .plan(
            Trigger::matching(&[0x80, 0x54], 1),
            Fault::ReplaceSw(StatusWord(0x6581)),
        )
        .plan(
            Trigger::matching(&[0x80, 0x5A], 1),
            Fault::ReplaceSw(StatusWord(0x9406)),
        )
        .plan(
            Trigger::EveryMatching(vec![0x00, 0xB2]),
            Fault::ReplaceSw(StatusWord(0x6A83)),
        );
    let first = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(
        (first.outcome, first.reason.clone()),
        (
            PurseOutcome::Disputed,
            Some(DeclineReason::CardRefused {
                command: "DEBIT FOR PURCHASE",
                sw: StatusWord(0x6581)
            })
        )
    );
    assert_eq!(PurseOutcome::Disputed.as_str(), "disputed");
    assert_eq!(journal.pending().len(), 1);
    assert!(journal.records().is_empty());
    card.transport_mut().clear_plan();
    let second = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(200),
    )
    .unwrap();
    assert_eq!(second.outcome, PurseOutcome::Recovered, "{second:?}");
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
    assert_eq!(settled_sum(&journal), 200);
    assert!(journal.pending().is_empty());
}

/// Reproduction 3: a tear at terminal A, then purchases elsewhere until EF18 and the card's
/// proof journal no longer reach A's counter, then back at A. "The log no longer reaches our
/// counter" is not "the card did not debit": A must neither void nor charge again. After 9
/// purchases EF18 still shows A's debit (a disputed record for the clearing host); after 10 the
/// entry stays pending, the tap is `disputed`, and the back office settles it.
#[test]
fn torn_debit_unprovable_after_the_log_wrapped_is_disputed_not_charged_again() {
    use quickpass::kernel::purse::{resolve_dispute, DisputeResolution};

    for elsewhere in [9u32, 10] {
        let mut card = card_layer("transit-purse-capp");
        let mut sam_a = sim_psam(0x8011);
        let mut sam_b = sim_psam(0x8011);
        let mut journal_a = MemoryJournal::new();
        let mut journal_b = MemoryJournal::new();
        card.transport_mut()
            .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearAfter);
        let torn = purchase(
            &mut card,
            &mut sam_a,
            &mut journal_a,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap_err();
        assert_eq!(torn.outcome(), PurseOutcome::Torn);
        card.transport_mut().reinsert();
        card.transport_mut().clear_plan();
        for minute in 0..elsewhere {
            let request = PurchaseRequest {
                amount: fen(10),
                date: date(),
                time: TransactionTime::new(9, minute as u8, 0).unwrap(),
            };
            let paid =
                purchase(&mut card, &mut sam_b, &mut journal_b, &t_union(), &request).unwrap();
            assert_eq!(paid.outcome, PurseOutcome::Paid);
        }
        let debited = 250 + 10 * elsewhere;
        assert_eq!(
            sim_purse(&mut card).balance(Purse::Purse),
            Some(fen(5000 - debited))
        );
        let back = purchase(
            &mut card,
            &mut sam_a,
            &mut journal_a,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap();
        // Not charged again either way.
        assert_eq!(
            sim_purse(&mut card).balance(Purse::Purse),
            Some(fen(5000 - debited)),
            "{elsewhere}: {back:?}"
        );
        assert!(back.voided.is_empty(), "{elsewhere}: {back:?}");
        if elsewhere == 9 {
            assert_eq!(back.reason, Some(DeclineReason::RecoveryDisputed));
            let record = back.record.unwrap();
            assert_eq!(record.status, RecordStatus::Disputed);
            assert!(journal_a.pending().is_empty());
            continue;
        }
        let pending = journal_a.pending();
        assert_eq!(pending.len(), 1);
        let id = pending[0].id;
        assert_eq!(
            (back.outcome, back.reason),
            (
                PurseOutcome::Disputed,
                Some(DeclineReason::Unresolved { entry: id })
            )
        );
        // And again: still not charged while the dispute stands.
        let again = purchase(
            &mut card,
            &mut sam_a,
            &mut journal_a,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap();
        assert_eq!(again.outcome, PurseOutcome::Disputed);
        assert_eq!(
            sim_purse(&mut card).balance(Purse::Purse),
            Some(fen(5000 - debited))
        );
        // The back office (the clearing host saw the card's debit) settles it: a disputed
        // record for clearing, and the card is charged normally again.
        let record = resolve_dispute(&mut journal_a, id, DisputeResolution::Executed)
            .unwrap()
            .unwrap();
        assert_eq!(record.status, RecordStatus::Disputed);
        assert!(journal_a.pending().is_empty());
        let normal = purchase(
            &mut card,
            &mut sam_a,
            &mut journal_a,
            &t_union(),
            &purchase_request(250),
        )
        .unwrap();
        assert_eq!(normal.outcome, PurseOutcome::Paid);
    }
}

/// A tear *before* DEBIT reached the card at A, then 10 purchases elsewhere: EF18 shows another
/// transaction with A's counter, which proves A's was never carried out: voided, charged anew.
#[test]
fn another_transaction_with_our_counter_proves_ours_was_not_done() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam_a = sim_psam(0x8011);
    let mut sam_b = sim_psam(0x8011);
    let mut journal_a = MemoryJournal::new();
    let mut journal_b = MemoryJournal::new();
    card.transport_mut()
        .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearBefore);
    purchase(
        &mut card,
        &mut sam_a,
        &mut journal_a,
        &t_union(),
        &purchase_request(250),
    )
    .unwrap_err();
    card.transport_mut().reinsert();
    card.transport_mut().clear_plan();
    for minute in 0..10u8 {
        let request = PurchaseRequest {
            amount: fen(10),
            date: date(),
            time: TransactionTime::new(9, minute, 0).unwrap(),
        };
        purchase(&mut card, &mut sam_b, &mut journal_b, &t_union(), &request).unwrap();
    }
    let back = purchase(
        &mut card,
        &mut sam_a,
        &mut journal_a,
        &t_union(),
        &purchase_request(250),
    )
    .unwrap();
    assert_eq!(back.outcome, PurseOutcome::Paid, "{back:?}");
    assert_eq!(back.voided.len(), 1);
    assert_eq!(
        sim_purse(&mut card).balance(Purse::Purse),
        Some(fen(5000 - 100 - 250))
    );
}

/// Item 6 (purse half): INITIALIZE FOR PURCHASE's old balance differs from GET BALANCE's
/// answer just before: a typed decline, no DEBIT, nothing journalled.
#[test]
fn initialize_balance_differing_from_get_balance_is_not_debited() {
    let mut card = card_layer("transit-purse-capp");
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    // Byte 3 of the answer is the last byte of the 4-byte old balance.
    card.transport_mut().plan(
        Trigger::matching(&[0x80, 0x50], 1),
        Fault::CorruptByte {
            offset: 3,
            mask: 0x01,
        },
    );
    let result = purchase(
        &mut card,
        &mut sam,
        &mut journal,
        &t_union(),
        &purchase_request(100),
    )
    .unwrap();
    assert_eq!(
        (result.outcome, result.reason),
        (
            PurseOutcome::Declined,
            Some(DeclineReason::BalanceMismatch {
                get_balance: fen(5000),
                initialize: fen(5001),
            })
        )
    );
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(5000)));
    assert!(journal.pending().is_empty() && journal.records().is_empty());
    assert_eq!(result.apdus, 3, "SELECT, GET BALANCE, INITIALIZE: no DEBIT");
}

/// The same for a load with no proof on the tap: `disputed`, no reversal, and the next load
/// tap settles it from the card's proof instead of crediting again.
#[test]
fn unprovable_credit_is_disputed_then_recovered_not_credited_twice() {
    let mut card = card_layer("etc-user-card");
    let mut host = sim_host("etc-user-card");
    let mut journal = MemoryJournal::new();
    let before = sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
    card.transport_mut()
        .plan(
            Trigger::matching(&[0x80, 0x52], 1),
            Fault::ReplaceSw(StatusWord(0x6581)),
        )
        .plan(
            Trigger::matching(&[0x80, 0x5A], 1),
            Fault::ReplaceSw(StatusWord(0x9406)),
        )
        .plan(
            Trigger::EveryMatching(vec![0x00, 0xB2]),
            Fault::ReplaceSw(StatusWord(0x6A83)),
        );
    let first = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(first.outcome, PurseOutcome::Disputed, "{first:?}");
    assert_eq!(journal.pending().len(), 1);
    assert!(host.reversals().is_empty(), "not reversed without proof");
    card.transport_mut().clear_plan();
    let second = load(
        &mut card,
        &mut host,
        &mut journal,
        &etc(),
        &load_request(10_000),
    )
    .unwrap();
    assert_eq!(second.outcome, PurseOutcome::Recovered, "{second:?}");
    let after = sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
    assert_eq!(after - before, 10_000);
    assert_eq!(settled_sum(&journal), 10_000);
    assert!(journal.pending().is_empty() && host.reversals().is_empty());
}

/// Money conservation over a sweep of hostile answers: one fault on DEBIT (or on the command
/// that asks the card afterwards), then two clean taps. Every fen the card lost has a record
/// (claimable or flagged for the clearing host), no record lacks a debit, nothing stays
/// pending, and a tap that ended `disputed` charged nothing.
#[test]
fn purchase_money_is_conserved_under_answer_faults() {
    let faults = [
        Fault::ReplaceSw(StatusWord(0x6581)),
        Fault::ReplaceSw(StatusWord(0x9302)),
        Fault::ReplaceSw(StatusWord(0x6F00)),
        Fault::CorruptByte {
            offset: 0,
            mask: 0x10,
        },
        Fault::CorruptByte {
            offset: 4,
            mask: 0x10,
        },
        Fault::Truncate(2),
        Fault::Truncate(5),
        Fault::TearAfter,
        Fault::TearBefore,
        Fault::Mute,
    ];
    let followers: [Option<(&[u8], u64)>; 4] = [
        None,
        Some((&[0x80, 0x5A], 1)),
        Some((&[0x00, 0xB2], 1)),
        Some((&[0x80, 0x50], 2)),
    ];
    let (mut cases, mut charged_thrice) = (0, 0);
    for debit_fault in faults {
        for follower in followers {
            for follow_fault in [Fault::ReplaceSw(StatusWord(0x6F00)), Fault::TearAfter] {
                let mut card = card_layer("transit-purse-capp");
                let mut sam = sim_psam(0x8011);
                let mut journal = MemoryJournal::new();
                card.transport_mut()
                    .plan(Trigger::matching(&[0x80, 0x54], 1), debit_fault);
                if let Some((prefix, occurrence)) = follower {
                    card.transport_mut()
                        .plan(Trigger::matching(prefix, occurrence), follow_fault);
                }
                let case = format!("{debit_fault:?} then {follower:?} {follow_fault:?}");
                for tap in 0..3 {
                    let before = sim_purse(&mut card).balance(Purse::Purse).unwrap();
                    let result = purchase(
                        &mut card,
                        &mut sam,
                        &mut journal,
                        &t_union(),
                        &purchase_request(100),
                    );
                    if let Ok(result) = &result {
                        if result.outcome == PurseOutcome::Disputed && tap > 0 {
                            assert_eq!(
                                sim_purse(&mut card).balance(Purse::Purse).unwrap(),
                                before,
                                "{case}: a disputed tap charged"
                            );
                        }
                    }
                    card.transport_mut().clear_plan();
                    card.transport_mut().reinsert();
                }
                let debited = 5000 - sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
                cases += 1;
                if debited == 300 {
                    charged_thrice += 1;
                }
                let recorded: u32 = journal.records().iter().map(|r| r.amount.fen()).sum();
                assert_eq!(debited, recorded, "{case}: {:?}", journal.records());
                assert!(journal.pending().is_empty(), "{case}");
            }
        }
    }
    // The sweep ran every case, and the faults mostly ended with the card charged once per
    // tap (the first tap's debit proved or voided and retried).
    assert_eq!(cases, 80);
    assert!(charged_thrice > 40, "{charged_thrice} of {cases}");
}

/// Issue 15 items 3–4: a PSAM that goes mute once the card has been sent DEBIT (on the MAC2
/// check `80 72`, or on the TAC check's DES INIT `80 1A`) is a tear with the entry pending —
/// never a decline while the card's balance went down — and the next tap of the card settles
/// that entry from the card's evidence: the card pays once, one record to claim.
#[test]
fn a_psam_mute_after_the_debit_leaves_the_entry_pending_not_declined() {
    for (command, name) in [([0x80, 0x72], "MAC2 check"), ([0x80, 0x1A], "DES INIT")] {
        let mut card = card_layer("transit-purse-capp");
        let mut faulty_psam = FaultyCard::new(profile("psam").build().unwrap());
        faulty_psam.plan(Trigger::matching(&command, 1), Fault::Mute);
        let mut sam = Psam::open(faulty_psam, &SelectBy::FileId(0x8011)).unwrap();
        let mut journal = MemoryJournal::new();
        let error = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &t_union(),
            &purchase_request(200),
        )
        .expect_err("the PSAM failed");
        assert!(
            matches!(
                error,
                FlowError::Unsettled {
                    party: quickpass::kernel::purse::flow::Party::Sam,
                    ..
                }
            ),
            "{name}: {error:?}"
        );
        assert_eq!(error.outcome(), PurseOutcome::Torn, "{name}");
        assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
        assert_eq!(
            journal.pending().len(),
            1,
            "{name}: the entry stays pending"
        );
        assert!(journal.records().is_empty());

        // The PSAM answers again; the card comes back.
        let second = purchase(
            &mut card,
            &mut sam,
            &mut journal,
            &t_union(),
            &purchase_request(200),
        )
        .unwrap_or_else(|e| panic!("{name}: second tap: {e:?}"));
        let debited = 5000 - sim_purse(&mut card).balance(Purse::Purse).unwrap().fen();
        let settled: u32 = journal
            .records()
            .iter()
            .filter(|r| r.status.is_settled())
            .map(|r| r.amount.fen())
            .sum();
        assert!(journal.pending().is_empty(), "{name}: {second:?}");
        assert_eq!(debited, settled, "{name}: every fen debited is claimable");
        assert!(
            journal.records().iter().any(|r| r.card_counter == 17),
            "{name}: the muted tap's debit (counter 17) is recorded: {:?}",
            journal.records()
        );
    }
}

/// Issue 11 item 4: the same card presented again within the repeat interval is answered
/// `already_paid` with no command that moves money (SELECT and the EF15 read only); after the
/// interval, or with the guard off, it is charged as a new tap.
#[test]
fn a_card_presented_again_within_the_interval_is_already_paid_not_charged() {
    use quickpass::kernel::purse::RepeatGuard;
    let mut config = t_union();
    config.repeat = RepeatGuard::new(60);
    let mut sam = sim_psam(0x8011);
    let mut journal = MemoryJournal::new();
    let mut card = card_layer("transit-purse-capp");
    let at = |second: u8| PurchaseRequest {
        amount: fen(200),
        date: date(),
        time: TransactionTime::new(9, 0, second).unwrap(),
    };
    let tap = |card: &mut CardLayer,
               sam: &mut SimPsam,
               journal: &mut MemoryJournal,
               config: &mut PurseConfig,
               request: PurchaseRequest| {
        let result = purchase(card, sam, journal, config, &request).unwrap();
        config.repeat.remember(&result, request.date, request.time);
        result
    };
    let first = tap(&mut card, &mut sam, &mut journal, &mut config, at(0));
    assert_eq!(first.outcome, PurseOutcome::Paid);
    let sent_before = card.counters().apdus_sent;
    let again = tap(&mut card, &mut sam, &mut journal, &mut config, at(30));
    assert_eq!(again.outcome, PurseOutcome::AlreadyPaid, "{again:?}");
    assert_eq!(again.amount, fen(200), "what it paid then");
    assert_eq!(again.apdus, 1, "SELECT only (EF15 is in the FCI)");
    assert_eq!(card.counters().apdus_sent - sent_before, 1);
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4800)));
    assert_eq!(journal.records().len(), 1);
    // This card again once the interval has passed: a new tap, charged.
    let later = PurchaseRequest {
        amount: fen(200),
        date: date(),
        time: TransactionTime::new(9, 1, 0).unwrap(),
    };
    let after = tap(&mut card, &mut sam, &mut journal, &mut config, later);
    assert_eq!(after.outcome, PurseOutcome::Paid, "{after:?}");
    assert_eq!(sim_purse(&mut card).balance(Purse::Purse), Some(fen(4600)));
    // The guard off: charged again at once.
    config.repeat = RepeatGuard::new(0);
    let off = tap(&mut card, &mut sam, &mut journal, &mut config, at(59));
    assert_eq!(off.outcome, PurseOutcome::Paid);
}
