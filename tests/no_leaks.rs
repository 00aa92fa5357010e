//! No PAN, track 2 or key in clear: every public type a tap produces, formatted with `Debug`,
//! `Display` and serde, and the exchange log, are searched for the card's secrets.

use quickpass::kernel::contactless;
use quickpass::kernel::terminal_values::TransactionInput;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, Pan, Track2, TransactionDate, TransactionTime};
use quickpass::setup;
use quickpass::sim::CardProfile;

const PAN: &str = "6228480012345671";
const ISSUER_MASTER_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";

/// Every way a secret could show up in text.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), secret.to_lowercase()];
    if let Ok(bytes) = hex::decode(secret) {
        // Byte lists as Debug prints them, without the brackets so a longer list matches too.
        for list in [
            format!("{bytes:?}"),
            format!("{bytes:02x?}"),
            format!("{bytes:02X?}"),
        ] {
            forms.push(list.trim_matches(|c| c == '[' || c == ']').to_owned());
        }
    }
    forms
}

fn assert_clean(what: &str, text: &str) {
    for secret in [PAN, ISSUER_MASTER_KEY] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows a secret in clear ({form}):\n{text}"
            );
        }
    }
}

#[test]
fn a_whole_tap_never_prints_the_pan_track2_or_keys() {
    let config = setup::load_kernel_config(
        &setup::data_dir().join("terminals/default.json"),
        &setup::builtin_capk_files(),
    )
    .expect("config");
    let profile = CardProfile::load(setup::data_dir().join("cards/qpboc-debit-offline.json"))
        .expect("profile");
    assert_clean("card profile Debug", &format!("{profile:?}"));
    let mut card = profile.build().expect("card");
    assert_clean("virtual card Debug", &format!("{card:?}"));
    let input = TransactionInput {
        amount: Amount::from_minor(60_000),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(9, 0, 0).expect("time"),
        unpredictable_number: [9, 8, 7, 6],
    };
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let phase = contactless::read_card(&config, &input, &mut layer).expect("card phase");
    assert_clean("card phase Debug", &format!("{phase:?}"));
    assert_clean("card data Debug", &format!("{:?}", phase.card));
    let log = layer.take_log();
    assert!(!log.is_empty());
    assert_clean("exchange log Debug", &format!("{log:?}"));
    let result = phase.complete(&config);
    assert_clean("result Debug", &format!("{result:?}"));
    let record = result.record();
    assert_clean("record Debug", &format!("{record:?}"));
    assert_clean(
        "record JSON",
        &serde_json::to_string(&record).expect("json"),
    );
    assert!(record.pan.as_deref().is_some_and(|p| p.contains('*')));
    assert_clean("config Debug", &format!("{config:?}"));
}

#[test]
fn pan_and_track2_types_mask_every_format() {
    let pan = Pan::from_digits(PAN).expect("pan");
    for text in [
        format!("{pan:?}"),
        format!("{pan}"),
        format!("{pan:#?}"),
        serde_json::to_string(&pan).expect("json"),
    ] {
        assert_clean("Pan", &text);
    }
    let track2 = Track2::parse(&hex::decode(format!("{PAN}D3012201123456789F")).expect("hex"))
        .expect("track 2");
    for text in [
        format!("{track2:?}"),
        format!("{track2}"),
        serde_json::to_string(&track2).expect("json"),
    ] {
        assert_clean("Track2", &text);
        assert!(!text.contains("123456789"), "discretionary data in {text}");
    }
}

#[test]
fn keys_never_print() {
    let key =
        quickpass::crypto::secret::SecretKey::new(&hex::decode(ISSUER_MASTER_KEY).expect("hex"));
    assert_clean("SecretKey", &format!("{key:?} {key:#?}"));
}
