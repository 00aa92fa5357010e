#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::card::VirtualCard;
use crate::profile::CardProfile;

const DEBIT: &str = include_str!("../../../vectors/cards/qpboc-debit-offline.json");

fn debit_profile() -> PbocProfile {
    let card = CardProfile::from_json(DEBIT).unwrap();
    match &card.applications[0] {
        crate::profile::ApplicationProfile::Pboc(p) => p.clone(),
        _ => panic!("first application is pboc"),
    }
}

fn run(card: &mut VirtualCard, apdu: &str) -> String {
    hex::encode_upper(card.process_apdu(&hex::decode(apdu).unwrap()))
}

fn selected_debit() -> VirtualCard {
    let mut card = CardProfile::from_json(DEBIT).unwrap().build().unwrap();
    assert!(run(&mut card, "00A4040008A00000033301010100").ends_with("9000"));
    card
}

#[test]
fn debug_never_shows_pan_keys_or_pin() {
    let profile = debug_text(&debit_profile());
    let app = PbocApplication::personalise(&debit_profile(), "a").unwrap();
    for text in [profile, format!("{app:?}")] {
        assert!(!text.contains("6228480012345671"), "{text}");
        assert!(!text.contains("0123456789ABCDEF"), "{text}");
        assert!(!text.contains("1234\""), "{text}");
    }
}

#[test]
fn debug_of_a_non_ascii_pan_masks_it_without_panicking() {
    // Byte 6 falls inside a character: slicing bytes would panic.
    for pan in [
        "62284é0012345671",
        "6228480012345é",
        "éééééééééééé",
        "",
        "62284800",
    ] {
        let mut profile = debit_profile();
        profile.pan = pan.into();
        let text = debug_text(&profile);
        assert!(!text.contains("62284"), "{text}");
        assert!(text.contains("pan: \"…\""), "{text}");
    }
    // A PAN of ASCII digits still shows its first six and last four.
    assert!(debug_text(&debit_profile()).contains("622848…5671"));
}

#[test]
fn secret_profile_fields_are_never_shown() {
    let mut profile = debit_profile();
    profile.pin = Secret::from("987654");
    profile.issuer_master_key = Secret::from("FEDCBA9876543210FEDCBA9876543210");
    profile.issuer_smi_key = Some(Secret::from("00112233445566778899AABBCCDDEEFF"));
    for text in [
        debug_text(&profile),
        format!("{:?}", profile.pin),
        format!("{:?}", profile.issuer_master_key),
        format!("{:?}", profile.issuer_smi_key),
    ] {
        assert!(!text.contains("987654"), "{text}");
        assert!(!text.contains("FEDCBA98"), "{text}");
        assert!(!text.contains("00112233"), "{text}");
    }
    // The values are still there for personalisation.
    assert_eq!(profile.pin.expose(), "987654");
    assert_eq!(
        &*profile.issuer_master_key,
        "FEDCBA9876543210FEDCBA9876543210"
    );
    PbocApplication::personalise(&profile, "a").unwrap();
}

fn debug_text(p: &PbocProfile) -> String {
    format!("{p:?}")
}

#[test]
fn personalisation_errors_name_the_field() {
    let mut bad = debit_profile();
    bad.pan = "12AB".into();
    let err = PbocApplication::personalise(&bad, "applications[0]").unwrap_err();
    assert!(err.to_string().contains("applications[0].pan"), "{err}");

    let mut bad = debit_profile();
    bad.records = Some(vec![
        RecordProfile {
            sfi: 2,
            tags: vec!["5A".into()],
            oda: false,
        },
        RecordProfile {
            sfi: 2,
            tags: vec!["5F24".into()],
            oda: true,
        },
    ]);
    let err = PbocApplication::personalise(&bad, "x").unwrap_err();
    assert!(err.to_string().contains("must come before"), "{err}");

    let mut bad = debit_profile();
    bad.records = Some(vec![RecordProfile {
        sfi: 2,
        tags: vec!["5A".into(), "9F46".into()],
        oda: true,
    }]);
    let err = PbocApplication::personalise(&bad, "x").unwrap_err();
    assert!(
        err.to_string().contains("cannot be in a record signed"),
        "{err}"
    );

    let mut bad = debit_profile();
    bad.records = Some(vec![RecordProfile {
        sfi: 1,
        tags: vec!["9F63".into()],
        oda: false,
    }]);
    let err = PbocApplication::personalise(&bad, "x").unwrap_err();
    assert!(err.to_string().contains("has no 9F63"), "{err}");

    let text = DEBIT.replace("\"pin_try_limit\": 3", "\"pin_try_limt\": 3");
    assert!(CardProfile::from_json(&text).is_err());
}

#[test]
fn fci_afl_and_records() {
    let mut card = CardProfile::from_json(DEBIT).unwrap().build().unwrap();
    let fci = run(&mut card, "00A4040008A00000033301010100");
    assert!(fci.starts_with("6F"));
    assert!(fci.contains("9F381B9F6604"), "{fci}");
    assert!(fci.contains("BF0C0A9F4D020B0ADF4D020C0A"), "{fci}");
    // Contact GPO (TTQ zero): AIP and AFL only.
    let pdol_len = 33 + 1;
    let gpo = format!(
        "80A80000{:02X}83{:02X}{}00",
        pdol_len + 2,
        pdol_len,
        "00".repeat(pdol_len)
    );
    let response = run(&mut card, &gpo);
    assert_eq!(
        response,
        "771282027D00940C080101001001010118010200".to_owned() + "9000"
    );
    assert!(run(&mut card, "00B2010C00").starts_with("70"));
    assert!(run(&mut card, "00B2021C00").starts_with("70"));
    assert_eq!(run(&mut card, "00B2031C00"), "6A83");
    assert_eq!(run(&mut card, "00B2012400"), "6A82");
    assert_eq!(run(&mut card, "00B2015C00"), "6A83");
    assert_eq!(run(&mut card, "00B2010800"), "6A86");
    assert_eq!(
        run(&mut card, "80CA9F7900"),
        "9F7906000000050000".to_owned() + "9000"
    );
    assert_eq!(run(&mut card, "80CA9F3600"), "9F360200119000");
    assert_eq!(run(&mut card, "80CA9F1700"), "9F1701039000");
    assert_eq!(run(&mut card, "80CA9F6300"), "6A88");
    assert_eq!(run(&mut card, "80CA000000"), "6A88");
    // A second GPO in the same transaction is refused.
    assert_eq!(run(&mut card, &gpo), "6985");
}

#[test]
fn verify_counts_down_and_blocks() {
    let mut card = selected_debit();
    assert_eq!(run(&mut card, "0020008008241234FFFFFFFFFF"), "9000");
    assert_eq!(run(&mut card, "0020008008241111FFFFFFFFFF"), "63C2");
    assert_eq!(run(&mut card, "0020008008241111FFFFFFFFFF"), "63C1");
    assert_eq!(run(&mut card, "0020008008241234FFFFFFFFFF"), "9000");
    for expected in ["63C2", "63C1", "63C0", "6983", "6983"] {
        assert_eq!(run(&mut card, "0020008008249999FFFFFFFFFF"), expected);
    }
    assert_eq!(run(&mut card, "0020008008241234FFFFFFFFFF"), "6983");
    assert_eq!(run(&mut card, "80CA9F1700"), "9F1701009000");
    assert_eq!(run(&mut card, "002000800834123FFFFFFFFFFF"), "6A80");
    assert_eq!(run(&mut card, "0020008807241234FFFFFFFFFF"), "6A81");
}

#[test]
fn commands_out_of_sequence_are_refused() {
    let mut card = selected_debit();
    assert_eq!(run(&mut card, "80AE8000020000"), "6985");
    assert_eq!(run(&mut card, "008200000A0000000000000000000000"), "6985");
    assert_eq!(run(&mut card, "04DA9F790A0000000100000000000000"), "6985");
    assert_eq!(run(&mut card, "841E00000400000000"), "6985");
    assert_eq!(run(&mut card, "00FF000000"), "6D00");
    assert_eq!(run(&mut card, "90A8000002830000"), "6E00");
    assert_eq!(run(&mut card, "0084000008").len(), 20);
    assert_ne!(run(&mut card, "0084000000"), run(&mut card, "0084000000"));
    assert_eq!(run(&mut card, "80A8000002830000"), "6700");
    assert_eq!(run(&mut card, "80A80000028F0000"), "6A80");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any command bytes after SELECT: no panic, always a status word.
    #[test]
    fn random_apdus_never_panic(
        commands in proptest::collection::vec(
            (
                prop_oneof![Just(0x00u8), Just(0x80), Just(0x04), Just(0x84), any::<u8>()],
                prop_oneof![
                    Just(0xA8u8), Just(0xB2), Just(0xCA), Just(0xAE), Just(0x88),
                    Just(0x82), Just(0x84), Just(0x20), Just(0xDA), Just(0x1E), Just(0x18),
                    any::<u8>()
                ],
                any::<u8>(),
                any::<u8>(),
                proptest::collection::vec(any::<u8>(), 0..60),
                proptest::option::of(any::<u8>()),
            ),
            1..12,
        )
    ) {
        let mut card = selected_debit();
        for (cla, ins, p1, p2, data, le) in commands {
            let mut apdu = vec![cla, ins, p1, p2];
            if !data.is_empty() {
                apdu.push(data.len() as u8);
                apdu.extend_from_slice(&data);
            }
            if let Some(le) = le {
                apdu.push(le);
            }
            let response = card.process_apdu(&apdu);
            prop_assert!(response.len() >= 2);
        }
    }

    /// A well-formed GPO with random PDOL data (any TTQ, amount, currency) never panics and
    /// answers 9000, 6985 or 6A80.
    #[test]
    fn random_gpo_never_panics(pdol in proptest::collection::vec(any::<u8>(), 34)) {
        let mut card = selected_debit();
        let mut apdu = vec![0x80, 0xA8, 0, 0, 36, 0x83, 34];
        apdu.extend_from_slice(&pdol);
        apdu.push(0);
        let response = card.process_apdu(&apdu);
        let sw = &response[response.len() - 2..];
        prop_assert!(matches!(sw, [0x90, 0x00] | [0x69, 0x85] | [0x6A, 0x80]), "{:02X?}", sw);
        // And a GENERATE AC with random data after it.
        let mut gac = vec![0x80, 0xAE, pdol[0] & 0xD0, 0, 52];
        gac.extend(std::iter::repeat_n(pdol[1], 52));
        let response = card.process_apdu(&gac);
        prop_assert!(response.len() >= 2);
    }
}
