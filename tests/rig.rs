//! The flow rig (`quickpass_sim::rig`): every flow's outcome, APDU count and traffic, replay of a
//! recorded tap against the kernel alone, and a long alternating run where every outcome is the
//! expected one (the logic of the `long_run` example, at a size a test can afford; memory is
//! left to the example: RSS over a short run is noise).
#![allow(clippy::unwrap_used)]

use quickpass::kernel::purse::MemoryJournal;
use quickpass::kernel::transport::ApduLayer;
use quickpass_sim::replay::Exchange;
use quickpass_sim::rig::{self, Flow, Rig, CARD_LIFETIME};

fn bytes(exchanges: &[Exchange]) -> (u64, u64) {
    exchanges.iter().fold((0, 0), |(sent, received), e| {
        (
            sent + e.command.len() as u64,
            received + e.response.len() as u64,
        )
    })
}

/// The PSAM is opened once per rig with 3 exchanges (SELECT, READ BINARY of EF16 and EF17);
/// recordings start with them.
const PSAM_OPEN: usize = 3;

#[test]
fn every_flow_gives_its_outcome_in_the_expected_apdus_and_replays_identically() {
    let mut rig = Rig::new().unwrap();
    // (flow, outcome, card APDUs, PSAM APDUs); CAPP is tapped twice: entry, then exit.
    let expected = [
        // PPSE, SELECT, GPO, 4 READ RECORD (exactly the AFL's records).
        (Flow::QpbocOffline, "approved", 7, 0),
        // PPSE, SELECT, GPO: an online-only card's GPO carries the ARQC, nothing is read.
        (Flow::QpbocOnline, "online_request", 3, 0),
        (Flow::PureEc, "approved", 7, 0),
        (Flow::Sm2, "approved", 7, 0),
        // SELECT PSE, 3 READ RECORD of its directory, SELECT, GPO, 4 READ RECORD, GENERATE AC
        // with CDA.
        (Flow::ContactCda, "approved", 11, 0),
        // SELECT, GET BALANCE, INITIALIZE FOR PURCHASE, DEBIT; PSAM 80 70, 80 72, and the TAC
        // check DES INIT 80 1A, DES CRYPT 80 FA.
        (Flow::Purchase, "paid", 4, 4),
        // SELECT, GET BALANCE, READ RECORD, INIT CAPP, 2 × UPDATE CAPP DATA CACHE, DEBIT.
        (Flow::Capp, "paid", 7, 4),
        (Flow::Capp, "paid", 7, 4),
        // SELECT, READ BINARY (EF15), INITIALIZE FOR LOAD, CREDIT FOR LOAD.
        (Flow::Load, "loaded", 4, 0),
    ];
    for (flow, outcome, card_apdus, sam_apdus) in expected {
        let (report, recording) = rig.record(flow).unwrap();
        assert_eq!(report.unexpected, None, "{flow:?}");
        assert_eq!(report.outcome, outcome, "{flow:?}");
        assert_eq!(
            (report.card.apdus_sent, report.sam.apdus_sent),
            (card_apdus, sam_apdus),
            "{flow:?}"
        );
        // The layer's byte counters are the recorded exchanges' lengths.
        assert_eq!(recording.card.len() as u64, card_apdus, "{flow:?}");
        assert_eq!(
            bytes(&recording.card),
            (report.card.bytes_sent, report.card.bytes_received),
            "{flow:?}"
        );
        assert_eq!(
            bytes(&recording.sam[PSAM_OPEN..]),
            (report.sam.bytes_sent, report.sam.bytes_received),
            "{flow:?}"
        );
        // The kernel alone, against the recording, does the same tap.
        let mut card = ApduLayer::new(recording.card());
        let mut sam = recording.validator(rig.fixtures()).unwrap();
        let replayed = rig::tap(
            rig.fixtures(),
            flow,
            &recording.input,
            &mut card,
            &mut sam,
            &mut MemoryJournal::new(),
        );
        assert_eq!(replayed, report, "{flow:?} replayed");
        assert_eq!(card.transport().commands_seen().len() as u64, card_apdus);
    }
}

#[test]
fn a_tap_that_is_not_the_recorded_one_is_reported_unexpected() {
    let mut rig = Rig::new().unwrap();
    let (_, recording) = rig.record(Flow::QpbocOffline).unwrap();
    let mut input = recording.input;
    // Another unpredictable number changes the GPO command: the recorded card has no answer
    // for it (6D00), so the tap ends without an approval.
    input.unpredictable_number[0] ^= 0xFF;
    let mut card = ApduLayer::new(recording.card());
    let mut sam = recording.validator(rig.fixtures()).unwrap();
    let report = rig::tap(
        rig.fixtures(),
        Flow::QpbocOffline,
        &input,
        &mut card,
        &mut sam,
        &mut MemoryJournal::new(),
    );
    assert!(!report.is_expected(), "{report:?}");
    assert_ne!(report.outcome, "approved");
}

#[test]
fn a_long_alternating_run_gives_every_expected_outcome_across_re_personalisations() {
    const TAPS: u64 = 2_000;
    let mut rig = Rig::new().unwrap();
    let mut per_flow = [0u64; Flow::ALL.len()];
    let mut capp_apdus = Vec::new();
    for n in 0..TAPS {
        let flow = Flow::nth(n);
        let report = rig.tap(flow).unwrap();
        assert_eq!(
            report.unexpected, None,
            "tap {n}: {flow:?} {}",
            report.outcome
        );
        per_flow[Flow::ALL.iter().position(|f| *f == flow).unwrap()] += 1;
        if flow == Flow::Capp {
            capp_apdus.push(report.card.apdus_sent);
        }
    }
    let each = TAPS / Flow::ALL.len() as u64;
    assert_eq!(per_flow, [each; Flow::ALL.len()]);
    assert_eq!(rig.taps(), TAPS);
    // One card per flow at the start, then a fresh one after every CARD_LIFETIME taps.
    let renewals = (each - 1) / u64::from(CARD_LIFETIME);
    assert!(renewals > 0, "the run crosses re-personalisations");
    assert_eq!(
        rig.personalisations(),
        Flow::ALL.len() as u64 * (1 + renewals)
    );
    assert!(capp_apdus.iter().all(|&apdus| apdus == 7));
}

#[test]
fn a_forged_arqc_is_caught_by_the_simulated_issuer_unless_its_check_is_off() {
    let mut rig = Rig::new().unwrap();
    let (report, mut recording) = rig.record(Flow::QpbocOnline).unwrap();
    assert!(report.is_expected(), "{report:?}");
    let gpo = recording
        .card
        .iter_mut()
        .find(|e| e.command.starts_with(&[0x80, 0xA8]))
        .unwrap();
    let at = gpo
        .response
        .windows(3)
        .position(|w| w == [0x9F, 0x26, 0x08])
        .expect("9F26 in the GPO response");
    gpo.response[at + 3] ^= 0x01;
    let replay = |rig: &Rig| {
        rig::tap(
            rig.fixtures(),
            Flow::QpbocOnline,
            &recording.input,
            &mut ApduLayer::new(recording.card()),
            &mut recording.validator(rig.fixtures()).unwrap(),
            &mut MemoryJournal::new(),
        )
    };
    let forged = replay(&rig);
    assert_eq!(forged.outcome, "online_request");
    assert_eq!(
        forged.unexpected.as_deref(),
        Some("the issuer rejects the ARQC")
    );
    rig.fixtures_mut().set_issuer_check(false);
    assert!(replay(&rig).is_expected());
}
