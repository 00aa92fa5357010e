//! The Mastercard C-2 kernel against the simulated M/Chip card (`vectors/cards/mastercard-mchip.json`):
//! offline approval with CDA, online request, CVM by the reader limits, tampered CDA never
//! approved offline, a torn GENERATE AC recovered on the next tap without a second debit,
//! relay resistance inside and outside the grace period, malformed answers as typed errors.
//!
//! Entry Point is not part of this kernel: each tap SELECTs the AID itself and hands the FCI to
//! `c2::transact`, as the router will.

use quickpass::kernel::apdu::{Command, Occurrence};
use quickpass::kernel::bits::{CryptogramType, Tvr};
use quickpass::kernel::c2::{self, C2Config, C2Result, RelayEnvironment, RrpResult, TornLog};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::outcome_parameters::OutcomeCvm;
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Aid, Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{tags, OdaStatus, Outcome, TransactionInput};
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::mchip::MchipApplication;
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

const AID: &str = "A0000000041010";
/// Microseconds an ERRD exchange takes inside the grace period: terminal expected C + R
/// (1.8 ms each) + 3 ms of card processing (the card says 1 ms to 5 ms).
const ERRD_IN_TIME_US: u64 = 6_600;

fn kernel_config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("default configuration")
}

fn profile() -> Value {
    let path = quickpass_sim::data::data_dir().join("cards/mastercard-mchip.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn card_with(edit: impl FnOnce(&mut Value)) -> VirtualCard {
    let mut profile = profile();
    edit(&mut profile["applications"][0]);
    CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation")
}

fn card() -> VirtualCard {
    card_with(|_| {})
}

/// An offline-approving reader: floor limit 100.00, CVM required above 100.00.
fn offline_reader() -> C2Config {
    C2Config {
        floor_limit: 10_000,
        ..C2Config::default()
    }
}

fn input(amount: u64) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 12, 7).expect("date"),
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

/// A reader clock where each ERRD exchange takes the next of `delays` (the last repeats).
struct Clock {
    delays: Vec<u64>,
    now: u64,
    calls: usize,
    fresh: u8,
}

impl Clock {
    fn new(delays: &[u64]) -> Self {
        Clock {
            delays: delays.to_vec(),
            now: 1_000_000,
            calls: 0,
            fresh: 0,
        }
    }
}

impl RelayEnvironment for Clock {
    fn now_micros(&mut self) -> u64 {
        // Calls come in pairs around each exchange: the second of a pair adds the delay.
        if self.calls % 2 == 1 {
            let i = (self.calls / 2).min(self.delays.len() - 1);
            self.now += self.delays[i];
        }
        self.calls += 1;
        self.now
    }

    fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
        self.fresh += 1;
        [0xA0, 0xB0, 0xC0, self.fresh]
    }
}

/// SELECT the AID, then the C-2 kernel; the layer records every exchange.
fn tap<T: Transport>(
    transport: T,
    config: &C2Config,
    amount: u64,
    torn: &mut TornLog,
    clock: &mut Clock,
) -> (C2Result<T::Error>, Vec<Vec<u8>>) {
    let mut layer = ApduLayer::new(transport);
    layer.record();
    let aid = Aid::new(&hex::decode(AID).expect("test value")).expect("aid");
    let fci = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("SELECT");
    assert!(fci.is_success());
    let result = c2::transact(
        &kernel_config(),
        config,
        &input(amount),
        &fci.data,
        &mut layer,
        torn,
        clock,
    );
    let commands = layer.take_log().into_iter().map(|e| e.command).collect();
    (result, commands)
}

fn mchip(card: &mut VirtualCard) -> &mut MchipApplication {
    card.application_mut::<MchipApplication>()
        .expect("M/Chip application")
}

fn count(commands: &[Vec<u8>], header: [u8; 2]) -> usize {
    commands.iter().filter(|c| c[..2] == header).count()
}

#[test]
fn offline_approval_with_cda_and_relay_resistance() {
    let mut card = card();
    let (atc, balance) = (mchip(&mut card).atc(), mchip(&mut card).offline_balance());
    let mut torn = TornLog::new();
    let (result, commands) = tap(
        &mut card,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert!(result.error.is_none(), "{:?}", result.error);
    assert_eq!(
        result.outcome(),
        Outcome::Approved,
        "{:?} {:?} {:?}",
        result.reason,
        result.tvr,
        result.cryptogram_type
    );
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Tc));
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    assert!(matches!(
        result.rrp,
        RrpResult::Performed {
            threshold_exceeded: false,
            ..
        }
    ));
    assert_eq!(result.tvr.as_bytes()[4] & 0x03, 0x02, "RRP performed");
    assert!(!result.tvr.contains(Tvr::CDA_FAILED));
    // GENERATE AC asked for a TC with CDA (P1 = 50).
    let gac = commands
        .iter()
        .find(|c| c[..2] == [0x80, 0xAE])
        .expect("GAC");
    assert_eq!(gac[2], 0x50);
    assert_eq!(count(&commands, [0x80, 0xEA]), 1);
    // The card paid once.
    assert_eq!(mchip(&mut card).atc(), atc + 1);
    assert_eq!(mchip(&mut card).offline_balance(), balance - 500);
    // Outcome Parameter Set: approved, no CVM, data record and discretionary data present.
    let ops = result.outcome.to_bytes();
    assert_eq!(ops[0], 0x10);
    assert_eq!(ops[3], 0x00, "no CVM");
    assert_eq!(ops[4] & 0x30, 0x30, "data record and discretionary data");
    let record = result.data_record.as_ref().expect("data record");
    assert_eq!(
        record.get(tags::APPLICATION_CRYPTOGRAM).map(<[u8]>::len),
        Some(8)
    );
    assert_eq!(record.get(tags::CID), Some(&[0x40][..]));
    assert_eq!(
        record.get(tags::AMOUNT_AUTHORISED),
        Some(&[0, 0, 0, 0, 0x05, 0x00][..])
    );
    assert_eq!(
        &result.data_record.as_ref().expect("test value").to_tlv()[..3],
        &[0xFF, 0x81, 0x05]
    );
    let discretionary = result.discretionary_data.to_tlv();
    assert_eq!(&discretionary[..3], &[0xFF, 0x81, 0x06]);
    assert!(
        hex::encode_upper(&discretionary).contains(&format!("DF812908{}", hex::encode_upper(ops)))
    );
    assert!(!format!("{result:?}").contains("5413330089010434"));
}

#[test]
fn online_request_above_the_floor_limit() {
    let mut card = card();
    let balance = mchip(&mut card).offline_balance();
    let (result, commands) = tap(
        &mut card,
        &C2Config::default(),
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(
        result.outcome(),
        Outcome::OnlineRequest,
        "{:?}",
        result.reason
    );
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Arqc));
    assert!(result.tvr.contains(Tvr::FLOOR_LIMIT_EXCEEDED));
    let gac = commands
        .iter()
        .find(|c| c[..2] == [0x80, 0xAE])
        .expect("GAC");
    assert_eq!(gac[2], 0x90, "ARQC with CDA");
    assert_eq!(
        result.oda.status(),
        OdaStatus::Ok,
        "the ARQC's CDA verified too"
    );
    let field_55 = result.field_55.as_deref().expect("field 55");
    assert!(field_55.starts_with(&[0x9F, 0x26, 0x08]));
    assert_eq!(
        mchip(&mut card).offline_balance(),
        balance,
        "an ARQC moves no money"
    );
    assert_eq!(result.outcome.to_bytes()[0], 0x30);
}

#[test]
fn cvm_by_the_reader_cvm_required_limit() {
    let reader = C2Config {
        floor_limit: 100_000,
        ..C2Config::default()
    };
    let clock = || Clock::new(&[ERRD_IN_TIME_US]);
    // Up to the limit: no CVM.
    let (low, _) = tap(
        &mut card(),
        &reader,
        10_000,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(low.outcome(), Outcome::Approved, "{:?}", low.reason);
    assert_eq!(low.outcome.cvm, Some(OutcomeCvm::NoCvm));
    assert_eq!(low.cvm_results, [0x1F, 0x03, 0x02]);
    // Above it: the CVM list's online PIN (DF8118 offers it), which sends the tap online.
    let (high, commands) = tap(
        &mut card(),
        &reader,
        10_001,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(high.outcome(), Outcome::OnlineRequest, "{:?}", high.reason);
    assert_eq!(high.outcome.cvm, Some(OutcomeCvm::OnlinePin));
    assert!(high.tvr.contains(Tvr::ONLINE_PIN_ENTERED));
    let gac = commands
        .iter()
        .find(|c| c[..2] == [0x80, 0xAE])
        .expect("test value");
    assert_eq!(
        &gac[gac.len() - 4..gac.len() - 1],
        &[0x42, 0x03, 0x00],
        "9F34 sent"
    );
    // Without online PIN in DF8118: signature.
    let signature = C2Config {
        cvm_capability_cvm_required: 0x20,
        ..reader.clone()
    };
    let (sig, _) = tap(
        &mut card(),
        &signature,
        10_001,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(sig.outcome(), Outcome::Approved, "{:?}", sig.reason);
    assert_eq!(sig.outcome.cvm, Some(OutcomeCvm::ObtainSignature));
    assert!(sig.outcome.receipt);
    // A card that verifies on the device: CDCVM above the limit.
    let mut phone = card_with(|a| a["on_device_cvm"] = true.into());
    let (cdcvm, _) = tap(
        &mut phone,
        &reader,
        10_001,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(cdcvm.outcome(), Outcome::Approved, "{:?}", cdcvm.reason);
    assert_eq!(
        cdcvm.outcome.cvm,
        Some(OutcomeCvm::ConfirmationCodeVerified)
    );
    assert_eq!(cdcvm.cvm_results, [0x01, 0x00, 0x02]);
    // Above the reader contactless transaction limit: Select Next, nothing asked of the card.
    let (over, commands) = tap(
        &mut card(),
        &reader,
        100_001,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(over.outcome(), Outcome::SelectNext);
    assert_eq!(
        over.error_indication.to_bytes()[1],
        0x05,
        "max limit exceeded"
    );
    assert_eq!(count(&commands, [0x80, 0xAE]), 0);
    // The on-device limit applies to a card that verifies on the device.
    let roomy = C2Config {
        transaction_limit_on_device_cvm: 200_000,
        ..reader
    };
    let mut phone = card_with(|a| {
        a["on_device_cvm"] = true.into();
        a["offline_balance"] = 500_000.into();
    });
    let (phone_over, _) = tap(
        &mut phone,
        &roomy,
        150_000,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_ne!(phone_over.outcome(), Outcome::SelectNext);
}

#[test]
fn tampered_cda_is_never_approved_offline() {
    let clock = || Clock::new(&[ERRD_IN_TIME_US]);
    // The card signs a wrong hash.
    let mut tampered = card_with(|a| {
        a["faults"] = serde_json::json!({"tamper_sdad": true});
    });
    let (result, _) = tap(
        &mut tampered,
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(result.outcome(), Outcome::Declined, "{:?}", result.reason);
    assert_eq!(result.oda.status(), OdaStatus::Fail);
    assert!(result.tvr.contains(Tvr::CDA_FAILED));
    assert_eq!(result.error_indication.to_bytes()[1], 0x02, "CAM failed");
    // The same for an ARQC: not sent online with a broken signature.
    let (online, _) = tap(
        &mut tampered,
        &C2Config::default(),
        500,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(online.outcome(), Outcome::Declined, "{:?}", online.reason);
    // Every byte of the GENERATE AC answer altered in flight (CID, ATC, SDAD, IAD): never an
    // approval.
    let answer_len = gac_answer_len();
    assert!(answer_len > 150, "CID, ATC, a 128-byte SDAD, IAD");
    let mut approvals = 0;
    for offset in (0..answer_len).step_by(5) {
        let mut card = card();
        let mut faulty = FaultyCard::new(&mut card);
        faulty.plan(
            Trigger::matching(&[0x80, 0xAE], 1),
            Fault::CorruptByte { offset, mask: 0x01 },
        );
        let (result, _) = tap(
            &mut faulty,
            &offline_reader(),
            500,
            &mut TornLog::new(),
            &mut clock(),
        );
        if result.outcome() == Outcome::Approved {
            approvals += 1;
        }
    }
    assert_eq!(approvals, 0);
    // The signature without the relay resistance values it must carry.
    let mut unsigned = card_with(|a| {
        a["faults"] = serde_json::json!({"unsigned_relay_data": true});
    });
    let (result, _) = tap(
        &mut unsigned,
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut clock(),
    );
    assert_eq!(result.outcome(), Outcome::Declined, "{:?}", result.reason);
}

/// The length of a clean GENERATE AC answer (without its status word).
fn gac_answer_len() -> usize {
    let mut card = card();
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let aid = Aid::new(&hex::decode(AID).expect("test value")).expect("test value");
    let fci = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("test value");
    let result = c2::transact(
        &kernel_config(),
        &offline_reader(),
        &input(500),
        &fci.data,
        &mut layer,
        &mut TornLog::new(),
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(result.outcome(), Outcome::Approved);
    let log = layer.take_log();
    let gac = log
        .iter()
        .find(|e| e.command[..2] == [0x80, 0xAE])
        .expect("test value");
    gac.response.len() - 2
}

#[test]
fn cda_with_an_unknown_ca_key_declines_a_tc() {
    // No test CA under the Mastercard RID: CDA cannot even start; the TACs send it online,
    // and an offline-only reader declines.
    let mut card = card();
    let mut layer = ApduLayer::new(&mut card);
    let aid = Aid::new(&hex::decode(AID).expect("test value")).expect("test value");
    let fci = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("test value");
    let mut config = kernel_config();
    config.capks = quickpass_sim::ca::TestCa::shared()
        .expect("test value")
        .capk_store()
        .expect("test value");
    let result = c2::transact(
        &config,
        &offline_reader(),
        &input(500),
        &fci.data,
        &mut layer,
        &mut TornLog::new(),
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert!(result.tvr.contains(Tvr::CDA_FAILED), "{:?}", result.tvr);
    assert_ne!(result.outcome(), Outcome::Approved);
}

#[test]
fn torn_generate_ac_is_recovered_without_a_second_debit() {
    let mut card = card();
    let (atc, balance) = (mchip(&mut card).atc(), mchip(&mut card).offline_balance());
    let mut torn = TornLog::new();
    let mut faulty = FaultyCard::new(&mut card);
    // The card executes the GENERATE AC and leaves before its answer reaches the reader.
    faulty.plan(Trigger::matching(&[0x80, 0xAE], 1), Fault::TearAfter);
    let (first, _) = tap(
        &mut faulty,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(first.outcome(), Outcome::TryAgain);
    assert!(first.error.as_ref().is_some_and(|e| e.is_card_removed()));
    let ops = first.outcome.to_bytes();
    assert_eq!(&ops[..2], &[0x70, 0x10], "try again, start B");
    assert_eq!(ops[4] & 0x40, 0x40, "UI request on restart");
    assert_eq!(torn.len(), 1);
    faulty.reinsert();
    drop(faulty);
    assert_eq!(
        mchip(&mut card).atc(),
        atc + 1,
        "the torn GENERATE AC ran on the card"
    );
    assert_eq!(mchip(&mut card).offline_balance(), balance - 500);

    // The next tap: RECOVER AC, no second GENERATE AC, no second debit.
    let (second, commands) = tap(
        &mut card,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(second.outcome(), Outcome::Approved, "{:?}", second.reason);
    assert!(second.recovered);
    assert_eq!(
        second.oda.status(),
        OdaStatus::Ok,
        "the recovered answer's CDA verified"
    );
    assert_eq!(count(&commands, [0x80, 0xD0]), 1);
    assert_eq!(count(&commands, [0x80, 0xAE]), 0);
    assert_eq!(mchip(&mut card).atc(), atc + 1, "ATC moved once");
    assert_eq!(
        mchip(&mut card).offline_balance(),
        balance - 500,
        "debited once"
    );
    assert!(torn.is_empty());
    assert_eq!(second.atc, Some((atc + 1).to_be_bytes()));

    // A third tap is a new transaction: a new GENERATE AC, a new debit.
    let (third, commands) = tap(
        &mut card,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(third.outcome(), Outcome::Approved);
    assert!(!third.recovered);
    assert_eq!(count(&commands, [0x80, 0xD0]), 0);
    assert_eq!(mchip(&mut card).atc(), atc + 2);
}

#[test]
fn a_tear_before_the_card_ran_the_command_is_a_new_transaction() {
    let mut card = card();
    let atc = mchip(&mut card).atc();
    let mut torn = TornLog::new();
    let mut faulty = FaultyCard::new(&mut card);
    faulty.plan(Trigger::matching(&[0x80, 0xAE], 1), Fault::TearBefore);
    let (first, _) = tap(
        &mut faulty,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(first.outcome(), Outcome::TryAgain);
    faulty.reinsert();
    drop(faulty);
    assert_eq!(mchip(&mut card).atc(), atc, "nothing ran");
    let (second, commands) = tap(
        &mut card,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(count(&commands, [0x80, 0xD0]), 1, "asked, refused");
    assert_eq!(count(&commands, [0x80, 0xAE]), 1);
    assert_eq!(second.outcome(), Outcome::Approved);
    assert!(!second.recovered);
    assert_eq!(mchip(&mut card).atc(), atc + 1);
    assert!(torn.is_empty());
}

#[test]
fn another_card_does_not_recover_the_torn_one() {
    let mut torn = TornLog::new();
    let mut first = card();
    let mut faulty = FaultyCard::new(&mut first);
    faulty.plan(Trigger::matching(&[0x80, 0xAE], 1), Fault::TearAfter);
    tap(
        &mut faulty,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(torn.len(), 1);
    let mut other = card_with(|a| a["pan"] = "5413330089010442".into());
    let (result, commands) = tap(
        &mut other,
        &offline_reader(),
        500,
        &mut torn,
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(count(&commands, [0x80, 0xD0]), 0);
    assert_eq!(result.outcome(), Outcome::Approved);
    assert_eq!(torn.len(), 1, "kept for its own card");
}

#[test]
fn relay_resistance_inside_and_outside_the_grace_period() {
    // Max 5 ms + 0.5 ms grace: 3.6 ms of transmission + 5.5 ms is the last acceptable answer.
    let (edge, commands) = tap(
        &mut card(),
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[9_100]),
    );
    assert_eq!(edge.outcome(), Outcome::Approved, "{:?}", edge.reason);
    assert_eq!(count(&commands, [0x80, 0xEA]), 1);

    // Too slow three times: retried twice with new numbers, then "time limits exceeded"; the
    // TACs (byte 5 b3) send the tap online.
    let mut clock = Clock::new(&[9_200]);
    let (slow, commands) = tap(
        &mut card(),
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut clock,
    );
    assert_eq!(count(&commands, [0x80, 0xEA]), 3);
    assert!(
        matches!(slow.rrp, RrpResult::TimeLimitsExceeded { .. }),
        "{:?}",
        slow.rrp
    );
    assert_eq!(slow.tvr.as_bytes()[4] & 0x07, 0x06);
    assert_eq!(slow.outcome(), Outcome::OnlineRequest, "{:?}", slow.reason);
    // The retries' new unpredictable number is the one CDOL1 and CDA used.
    let erd: Vec<_> = commands.iter().filter(|c| c[..2] == [0x80, 0xEA]).collect();
    assert_eq!(&erd[2][5..9], &[0xA0, 0xB0, 0xC0, 0x02]);
    assert_eq!(slow.oda.status(), OdaStatus::Ok);

    // Slow once, then in time: performed after one retry, approved offline.
    let (retried, commands) = tap(
        &mut card(),
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[20_000, ERRD_IN_TIME_US]),
    );
    assert_eq!(count(&commands, [0x80, 0xEA]), 2);
    assert!(matches!(retried.rrp, RrpResult::Performed { data, .. } if data.counter == 1));
    assert_eq!(retried.outcome(), Outcome::Approved, "{:?}", retried.reason);

    // Faster than the card's own minimum (1 ms − 0.5 ms grace): the card's data is not to be
    // trusted, the application ends.
    let (fast, _) = tap(
        &mut card(),
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[3_600 + 400]),
    );
    assert_eq!(fast.outcome(), Outcome::EndApplication, "{:?}", fast.reason);
    assert!(fast.error.is_some());

    // A reader without relay resistance: no ERRD, TVR "not performed".
    let mut reader = offline_reader();
    reader.kernel_configuration.relay_resistance_supported = false;
    let (none, commands) = tap(
        &mut card(),
        &reader,
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[0]),
    );
    assert_eq!(count(&commands, [0x80, 0xEA]), 0);
    assert_eq!(none.rrp, RrpResult::NotSupported);
    assert_eq!(none.outcome(), Outcome::Approved);
}

#[test]
fn mag_stripe_only_card_ends_with_try_another_interface() {
    let mut card = card_with(|a| a["mag_stripe_only"] = true.into());
    let (result, commands) = tap(
        &mut card,
        &offline_reader(),
        500,
        &mut TornLog::new(),
        &mut Clock::new(&[0]),
    );
    assert_eq!(result.outcome(), Outcome::TryAnotherInterface);
    assert!(result
        .reason
        .as_deref()
        .expect("test value")
        .contains("mag-stripe"));
    assert_eq!(result.error_indication.to_bytes()[1], 0x07);
    assert_eq!(count(&commands, [0x00, 0xB2]), 0);
}

#[test]
fn malformed_answers_are_typed_errors_never_panics_nor_approvals() {
    // Each of the first 12 APDUs after SELECT, truncated or altered.
    for apdu in 2..=10u64 {
        for fault in [
            Fault::Truncate(3),
            Fault::CorruptByte {
                offset: 0,
                mask: 0x20,
            },
            Fault::CorruptByte {
                offset: 1,
                mask: 0x7F,
            },
            Fault::ReplaceSw(quickpass::kernel::values::StatusWord(0x6A82)),
        ] {
            let mut card = card();
            let mut faulty = FaultyCard::new(&mut card);
            faulty.plan(Trigger::Apdu(apdu), fault);
            let (result, _) = tap(
                &mut faulty,
                &offline_reader(),
                500,
                &mut TornLog::new(),
                &mut Clock::new(&[ERRD_IN_TIME_US]),
            );
            if result.outcome() == Outcome::Approved {
                // Only a fault that changed nothing the decision rests on may still approve:
                // then CDA verified.
                assert_eq!(result.oda.status(), OdaStatus::Ok, "APDU {apdu} {fault:?}");
            } else if let Some(error) = &result.error {
                // A typed error, said without card data.
                assert!(!error.to_string().contains("5413330089010434"));
            }
        }
    }
    // A junk FCI is the card's fault, not a panic.
    let mut layer = ApduLayer::new(card());
    let result = c2::transact(
        &kernel_config(),
        &offline_reader(),
        &input(500),
        &[0x6F, 0x03, 0x84, 0x05],
        &mut layer,
        &mut TornLog::new(),
        &mut Clock::new(&[0]),
    );
    assert_eq!(result.outcome(), Outcome::EndApplication);
    assert!(result.error.is_some());
}

#[test]
fn a_card_on_the_exception_file_is_asked_for_a_decline() {
    let mut card = card();
    let balance = mchip(&mut card).offline_balance();
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let aid = Aid::new(&hex::decode(AID).expect("hex")).expect("aid");
    let fci = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("SELECT");
    let mut config = kernel_config();
    config.terminal = config
        .terminal
        .edited(|p| p.exception_file.push("5413330089010434".into()))
        .expect("configuration");
    let result = c2::transact(
        &config,
        &offline_reader(),
        &input(500),
        &fci.data,
        &mut layer,
        &mut TornLog::new(),
        &mut Clock::new(&[ERRD_IN_TIME_US]),
    );
    assert_eq!(result.outcome(), Outcome::Declined, "{:?}", result.reason);
    assert!(result.tvr.contains(Tvr::CARD_ON_EXCEPTION_FILE));
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
    let log = layer.take_log();
    let gac = log
        .iter()
        .find(|e| e.command[..2] == [0x80, 0xAE])
        .expect("GAC");
    assert_eq!(gac.command[2], 0x00, "AAC asked, no CDA");
    drop(layer);
    assert_eq!(mchip(&mut card).offline_balance(), balance);
}
