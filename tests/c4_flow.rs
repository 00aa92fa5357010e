//! The Amex C-4 kernel (EMV mode) against a simulated EMV-mode contactless card with an Amex AID
//! (`A00000002501`; the simulator's M/Chip application, personalised under the Amex RID with the
//! test CA, without relay resistance): the GENERATE AC with CDA it shares with C-2 — P1 `90`
//! answered by an ARQC whose CDA verifies, as the public Amex traces end — and the offline TC.

use quickpass::kernel::apdu::{Command, Occurrence};
use quickpass::kernel::bits::{CryptogramType, Tvr};
use quickpass::kernel::c4::{self, C4Config, C4Result};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Aid, Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{OdaStatus, Outcome, TransactionInput};
use quickpass_sim::ca::TestCa;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::{CardProfile, VirtualCard};

const AMEX_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x00, 0x25];
const AID: [u8; 6] = [0xA0, 0x00, 0x00, 0x00, 0x25, 0x01];

fn kernel_config() -> KernelConfig {
    let mut config = quickpass_sim::data::default_kernel_config().expect("configuration");
    let ca = TestCa::shared().expect("test CA");
    config
        .capks
        .insert(ca.rsa_ca_public_key_under(AMEX_RID).expect("key"))
        .expect("insert");
    config
}

fn card(faults: serde_json::Value) -> VirtualCard {
    let profile = serde_json::json!({
        "schema": "quickpass-card/1",
        "name": "amex-emv-mode",
        "pse": false,
        "applications": [{
            "type": "mchip",
            "aid": hex::encode_upper(AID),
            "label": "AMERICAN EXPRESS",
            "pan": "374245455400126",
            "expiry": "301231",
            "issuer_master_key": "00112233445566778899AABBCCDDEEFF",
            "offline_balance": 20000,
            "relay_resistance": false,
            "faults": faults
        }]
    });
    CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation")
}

fn tap<T: Transport>(transport: T, config: &C4Config, amount: u64) -> C4Result<T::Error> {
    let mut layer = ApduLayer::new(transport);
    let fci = layer
        .exchange(&Command::select_aid(
            &Aid::new(&AID).expect("test value"),
            Occurrence::First,
        ))
        .expect("SELECT");
    let input = TransactionInput {
        amount: Amount::from_minor(amount).expect("test value"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 12, 7).expect("test value"),
        time: TransactionTime::new(9, 0, 0).expect("test value"),
        unpredictable_number: [0xCA, 0xFE, 0x00, 0x04],
    };
    c4::transact(&kernel_config(), config, &input, &fci.data, &mut layer)
}

#[test]
fn arqc_with_cda_p1_90_verifies_and_goes_online() {
    let result = tap(&mut card(serde_json::json!({})), &C4Config::default(), 500);
    assert!(result.error.is_none(), "{:?}", result.error);
    assert_eq!(result.generate_ac_p1, Some(0x90));
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Arqc));
    assert_eq!(result.oda.status(), OdaStatus::Ok, "{:?}", result.oda);
    assert_eq!(
        result.outcome(),
        Outcome::OnlineRequest,
        "{:?}",
        result.reason
    );
    let field_55 = result.field_55.expect("field 55");
    assert!(
        field_55.starts_with(&[0x9F, 0x26, 0x08]),
        "the AC from the signature"
    );
    assert_eq!(result.outcome.to_bytes()[0], 0x30);
}

#[test]
fn tc_with_cda_is_approved_offline_and_a_tampered_one_is_not() {
    let reader = C4Config {
        floor_limit: 10_000,
        ..C4Config::default()
    };
    let result = tap(&mut card(serde_json::json!({})), &reader, 500);
    assert_eq!(result.generate_ac_p1, Some(0x50));
    assert_eq!(
        result.outcome(),
        Outcome::Approved,
        "{:?} {:?}",
        result.reason,
        result.tvr
    );
    let tampered = tap(
        &mut card(serde_json::json!({"tamper_sdad": true})),
        &reader,
        500,
    );
    assert_eq!(tampered.outcome(), Outcome::Declined);
    assert!(tampered.tvr.contains(Tvr::CDA_FAILED));
    // The answer altered in flight: never approved.
    for offset in (0..160).step_by(9) {
        let mut card = card(serde_json::json!({}));
        let mut faulty = FaultyCard::new(&mut card);
        faulty.plan(
            Trigger::matching(&[0x80, 0xAE], 1),
            Fault::CorruptByte { offset, mask: 0x01 },
        );
        let result = tap(&mut faulty, &reader, 500);
        assert_ne!(result.outcome(), Outcome::Approved, "offset {offset}");
    }
}

#[test]
fn a_tear_at_generate_ac_is_try_again() {
    let mut card = card(serde_json::json!({}));
    let mut faulty = FaultyCard::new(&mut card);
    faulty.plan(Trigger::matching(&[0x80, 0xAE], 1), Fault::TearAfter);
    let result = tap(&mut faulty, &C4Config::default(), 500);
    assert_eq!(result.outcome(), Outcome::TryAgain);
    assert_eq!(&result.outcome.to_bytes()[..2], &[0x70, 0x10]);
}
