//! Typed values: amounts, PAN and Track 2 masking, AIDs, status words, dates, codes.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use quickpass_kernel::values::{
    bcd, Aid, Amount, CurrencyCode, Pan, PurseAmount, StatusWord, Track2, TransactionDate,
    ValueError,
};

const PAN: &str = "6210220110002707355";

fn amount(minor: u64) -> Amount {
    Amount::from_minor(minor).unwrap()
}

#[test]
fn amount_n12() {
    let a = Amount::from_n12(&[0x00, 0x00, 0x00, 0x01, 0x23, 0x45]).unwrap();
    assert_eq!(a.minor(), 12_345);
    assert_eq!(a.to_n12(), [0x00, 0x00, 0x00, 0x01, 0x23, 0x45]);
    assert_eq!(Amount::MAX.to_n12(), [0x99; 6]);
    assert_eq!(Amount::MAX.minor(), 999_999_999_999);
    assert!(matches!(
        Amount::from_n12(&[0x00, 0x00, 0x00, 0x01, 0x2A, 0x45]),
        Err(ValueError::Bcd { .. })
    ));
    assert!(Amount::from_n12_slice(&[0; 5]).is_err());
    assert_eq!(
        Amount::from_n12_slice(&[0, 0, 0, 0, 0x10, 0]).unwrap(),
        amount(1000)
    );
    assert_eq!(amount(5).checked_add(amount(7)), Some(amount(12)));
    assert_eq!(amount(5).checked_sub(amount(7)), None);
    assert_eq!(Amount::MAX.checked_add(amount(1)), None);
    assert_eq!(Amount::MAX.checked_add(Amount::ZERO), Some(Amount::MAX));
    assert_eq!(Amount::from_be_bytes([0, 0, 0x03, 0xE8]), amount(1000));
    assert_eq!(amount(1000).to_be_bytes().unwrap(), [0, 0, 0x03, 0xE8]);
    assert!(amount(1 << 32).to_be_bytes().is_err());
}

/// Issue 10 item 7: ED/EP amounts and balances are one type, 4-byte binary on the wire,
/// losslessly an [`Amount`].
#[test]
fn purse_amount_conversions() {
    let max = Amount::from(PurseAmount::MAX);
    assert_eq!(
        max.minor(),
        u64::from(u32::MAX),
        "every ED/EP amount is an Amount"
    );
    assert_eq!(PurseAmount::try_from(max), Ok(PurseAmount::MAX));
    assert_eq!(
        PurseAmount::try_from(amount(1234)),
        Ok(PurseAmount::from_fen(1234))
    );
    for minor in [1 << 32, (1 << 32) + 1, Amount::MAX.minor()] {
        assert!(matches!(
            PurseAmount::try_from(amount(minor)),
            Err(ValueError::OutOfRange { .. })
        ));
    }
    assert_eq!(u32::from(PurseAmount::from(77u32)), 77);
    assert_eq!(
        PurseAmount::from_be_bytes([0, 0, 0x03, 0xE8]),
        PurseAmount::from_fen(1000)
    );
    assert_eq!(
        PurseAmount::from_fen(1000).to_be_bytes(),
        [0, 0, 0x03, 0xE8]
    );
}

#[test]
fn purse_amount_arithmetic_refuses_to_wrap() {
    let fen = PurseAmount::from_fen;
    assert_eq!(fen(5).checked_add(fen(7)), Some(fen(12)));
    assert_eq!(fen(5).checked_sub(fen(7)), None);
    assert_eq!(fen(7).checked_sub(fen(7)), Some(PurseAmount::ZERO));
    assert_eq!(PurseAmount::MAX.checked_add(fen(1)), None);
    assert_eq!(
        PurseAmount::MAX.checked_add(PurseAmount::ZERO),
        Some(PurseAmount::MAX)
    );
    assert_eq!(fen(5).saturating_sub(fen(7)), PurseAmount::ZERO);
    assert_eq!(PurseAmount::MAX.saturating_add(fen(1)), PurseAmount::MAX);
    assert!(fen(5) < fen(7));
}

#[test]
fn purse_amount_shows_yuan_and_serializes_fen() {
    let fen = PurseAmount::from_fen;
    assert_eq!(fen(1234).to_string(), "12.34");
    assert_eq!(fen(5).to_string(), "0.05");
    assert_eq!(fen(100).to_string(), "1.00");
    assert_eq!(PurseAmount::MAX.to_string(), "42949672.95");
    assert_eq!(serde_json::to_string(&fen(1234)).unwrap(), "1234");
    assert_eq!(
        serde_json::from_str::<PurseAmount>("1234").unwrap(),
        fen(1234)
    );
    assert!(serde_json::from_str::<PurseAmount>("4294967296").is_err());
    assert!(serde_json::from_str::<PurseAmount>("-1").is_err());
}

proptest! {
    #[test]
    fn purse_amount_wire_and_amount_round_trip(fen in any::<u32>()) {
        let value = PurseAmount::from_fen(fen);
        prop_assert_eq!(PurseAmount::from_be_bytes(value.to_be_bytes()), value);
        prop_assert_eq!(value.to_be_bytes(), fen.to_be_bytes());
        prop_assert_eq!(PurseAmount::try_from(Amount::from(value)), Ok(value));
        prop_assert_eq!(Amount::from(value).to_be_bytes(), Ok(value.to_be_bytes()));
    }
}

/// Issue 10 item 4: an amount n12 cannot carry is refused where it is made (code, text, JSON),
/// so it can never reach a PDOL as `000000000000`.
#[test]
fn amount_above_n12_cannot_be_made() {
    for minor in [1_000_000_000_000, 1_000_000_000_001, u64::MAX] {
        assert!(matches!(
            Amount::from_minor(minor),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            Amount::try_from(minor),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(matches!(
            minor.to_string().parse::<Amount>(),
            Err(ValueError::OutOfRange { .. })
        ));
        let json = serde_json::from_str::<Amount>(&minor.to_string()).unwrap_err();
        assert!(json.to_string().contains("out of range"), "{json}");
    }
    assert_eq!("999999999999".parse::<Amount>().unwrap(), Amount::MAX);
    assert_eq!("0".parse::<Amount>().unwrap(), Amount::ZERO);
    for junk in ["", "-1", "1.5", " 1", "0x10", "0000000000001"] {
        assert!(junk.parse::<Amount>().is_err(), "{junk:?}");
    }
    assert_eq!(
        serde_json::from_str::<Amount>("12345").unwrap(),
        amount(12_345)
    );
    assert_eq!(serde_json::to_string(&amount(12_345)).unwrap(), "12345");
}

#[test]
fn pan_is_masked_everywhere() {
    let pan = Pan::from_bcd(&hex::decode("6210220110002707355F").unwrap()).unwrap();
    assert_eq!(pan.expose_digits(), PAN);
    assert_eq!(pan.to_bcd(), hex::decode("6210220110002707355F").unwrap());
    let shown = [
        format!("{pan}"),
        format!("{pan:?}"),
        format!("{pan:#?}"),
        serde_json::to_string(&pan).unwrap(),
    ];
    for s in &shown {
        assert!(!s.contains(PAN), "{s}");
        assert!(!s.contains("011000"), "middle digits leak in {s}");
    }
    assert_eq!(shown[0], "621022*********7355");
    assert_eq!(shown[1], "Pan(621022*********7355)");
    assert_eq!(shown[3], "\"621022*********7355\"");
    let short = Pan::from_digits("123456789012").unwrap();
    assert_eq!(short.to_string(), "123456**9012");
    assert!(Pan::from_digits("12345678901").is_err());
    assert!(Pan::from_digits("12345678901234567890").is_err());
    assert!(Pan::from_bcd(&hex::decode("62102201F0002707355F").unwrap()).is_err());
    assert!(Pan::from_digits("4111111111111111").unwrap().luhn_valid());
    assert!(!Pan::from_digits("4111111111111112").unwrap().luhn_valid());
}

#[test]
fn track2_hides_pan_and_discretionary_data() {
    let raw = hex::decode("6210220110002707355D27122201234567891F").unwrap();
    let t2 = Track2::parse(&raw).unwrap();
    assert_eq!(t2.pan().expose_digits(), PAN);
    assert_eq!((t2.expiry().year(), t2.expiry().month()), (2027, 12));
    assert_eq!(t2.service_code(), 220);
    assert_eq!(t2.expose_discretionary_data(), "1234567891");
    assert_eq!(t2.expose_bytes(), raw.as_slice());
    for s in [
        format!("{t2}"),
        format!("{t2:?}"),
        format!("{t2:#?}"),
        serde_json::to_string(&t2).unwrap(),
    ] {
        assert!(!s.contains(PAN), "{s}");
        assert!(!s.contains("123456789"), "{s}");
        assert!(!s.contains("2712"), "{s}");
    }
    assert!(Track2::parse(&hex::decode("6210220110002707355F").unwrap()).is_err());
    assert!(Track2::parse(&hex::decode("6210220110002707355D2713220F").unwrap()).is_err());
    assert!(Track2::parse(&hex::decode("6210220110002707355D2712").unwrap()).is_err());
    assert!(Track2::parse(&hex::decode("6210220110002707355D2712220A").unwrap()).is_err());
    assert!(Track2::parse(&hex::decode("6210F20110002707355D2712220F").unwrap()).is_err());
}

#[test]
fn aid_serde_and_partial_match() {
    let aid: Aid = serde_json::from_str("\"A000000333010101\"").unwrap();
    assert_eq!(serde_json::to_string(&aid).unwrap(), "\"A000000333010101\"");
    let terminal = Aid::new(&hex::decode("A0000003330101").unwrap()).unwrap();
    assert!(aid.starts_with(&terminal));
    assert!(serde_json::from_str::<Aid>("\"A0\"").is_err());
}

#[test]
fn status_words() {
    assert_eq!(
        StatusWord::from([0x94, 0x01]),
        StatusWord::INSUFFICIENT_BALANCE
    );
    assert_eq!(StatusWord::MAC_INVALID.to_string(), "9302");
    assert_eq!(StatusWord::CONDITIONS_NOT_SATISFIED.sw1(), 0x69);
    assert_eq!(StatusWord::CONDITIONS_NOT_SATISFIED.sw2(), 0x85);
    assert!(StatusWord::OK.is_success());
    assert!(!StatusWord(0x9001).is_success());
    assert_eq!(
        "6a83".parse::<StatusWord>().unwrap(),
        StatusWord::RECORD_NOT_FOUND
    );
    assert_eq!(serde_json::to_string(&StatusWord::OK).unwrap(), "\"9000\"");
    assert_eq!(StatusWord(0x6A82).description(), Some("file not found"));
    assert_eq!(StatusWord(0x6A99).description(), None);
}

#[test]
fn dates_and_codes() {
    let d = TransactionDate::from_bcd(&[0x24, 0x02, 0x17]).unwrap();
    assert_eq!(d.to_string(), "2024-02-17");
    assert_eq!(serde_json::to_string(&CurrencyCode::CNY).unwrap(), "156");
    assert!(serde_json::from_str::<CurrencyCode>("1000").is_err());
}

proptest! {
    #[test]
    fn n12_round_trip(minor in 0u64..=999_999_999_999) {
        let a = Amount::from_minor(minor).unwrap();
        let n12 = a.to_n12();
        prop_assert_eq!(Amount::from_n12(&n12).unwrap(), a);
        prop_assert_eq!(bcd::bcd_to_digits(&n12).unwrap(), format!("{minor:012}"));
    }

    #[test]
    fn n12_too_big_is_an_error(minor in 1_000_000_000_000u64..) {
        prop_assert!(Amount::from_minor(minor).is_err());
        prop_assert!(serde_json::from_str::<Amount>(&minor.to_string()).is_err());
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
        let _ = Pan::from_bcd(&bytes);
        let _ = Track2::parse(&bytes);
        let _ = Aid::new(&bytes);
        let _ = TransactionDate::from_bcd(&bytes);
        let _ = quickpass_kernel::values::TransactionTime::from_bcd(&bytes);
        let _ = CurrencyCode::from_bcd(&bytes);
        let _ = Amount::from_n12_slice(&bytes);
        let _ = bcd::cn_to_digits(&bytes);
        if let Ok(t2) = Track2::parse(&bytes) {
            let pan = t2.pan().expose_digits().to_owned();
            let shown = format!("{:?} {}", t2, t2);
            prop_assert!(!shown.contains(&pan));
        }
    }

    #[test]
    fn pan_display_never_shows_the_middle(digits in "[0-9]{12,19}") {
        let pan = Pan::from_digits(&digits).unwrap();
        let shown = format!("{pan} {pan:?}");
        prop_assert!(!shown.contains(&digits));
        let masked = pan.masked();
        prop_assert_eq!(&masked[..6], &digits[..6]);
        prop_assert_eq!(&masked[masked.len() - 4..], &digits[digits.len() - 4..]);
        prop_assert_eq!(masked.matches('*').count(), digits.len() - 10);
    }
}
