//! Named-bit bitfields: set/clear/contains, Debug names, serde, real values from traces.

#![allow(clippy::unwrap_used)]

use quickpass_kernel::bits::{Aip, Cid, CryptogramType, Ctq, Tsi, Ttq, Tvr};

#[test]
fn tvr_set_clear_contains() {
    let mut tvr = Tvr::new();
    assert!(tvr.is_empty());
    tvr.set(Tvr::EXPIRED_APPLICATION);
    tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
    tvr.set(Tvr::FLOOR_LIMIT_EXCEEDED);
    tvr.set(Tvr::ISSUER_AUTHENTICATION_FAILED);
    assert_eq!(tvr.as_bytes(), &[0x80, 0x40, 0x00, 0x80, 0x40]);
    assert!(tvr.contains(Tvr::EXPIRED_APPLICATION));
    assert!(!tvr.contains(Tvr::NEW_CARD));
    tvr.clear(Tvr::EXPIRED_APPLICATION);
    assert!(!tvr.contains(Tvr::EXPIRED_APPLICATION));
    tvr.assign(Tvr::NEW_CARD, true);
    assert_eq!(tvr.as_bytes(), &[0x80, 0x08, 0x00, 0x80, 0x40]);
    assert_eq!(
        format!("{tvr:?}"),
        "Tvr(8008008040) [OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED, NEW_CARD, \
         FLOOR_LIMIT_EXCEEDED, ISSUER_AUTHENTICATION_FAILED]"
    );
    assert_eq!(tvr.to_string(), "8008008040");
}

#[test]
fn action_analysis_style_intersection() {
    let tvr = Tvr::new().with(Tvr::FLOOR_LIMIT_EXCEEDED);
    let tac_online: Tvr = "DC4004F800".parse().unwrap();
    let tac_denial: Tvr = "0000000000".parse().unwrap();
    assert!(tvr.intersects(&tac_online));
    assert!(!tvr.intersects(&tac_denial));
    assert_eq!((tvr & tac_online).as_bytes(), &[0, 0, 0, 0x80, 0]);
    assert_eq!((tvr | tac_online).as_bytes(), tac_online.as_bytes());
}

#[test]
fn unnamed_bits_round_trip_and_show() {
    let tvr = Tvr::from_bytes([0, 0x04, 0, 0, 0x01]);
    assert_eq!(tvr.as_bytes(), &[0, 0x04, 0, 0, 0x01]);
    assert_eq!(
        format!("{tvr:?}"),
        "Tvr(0004000001) [byte 2 0x04, byte 5 0x01]"
    );
    assert!(Tvr::from_slice(&[0; 4]).is_err());
    assert_eq!(
        Tsi::from_slice(&[0xE8, 0x00]).unwrap().as_bytes(),
        &[0xE8, 0]
    );
}

#[test]
fn tsi_names() {
    let mut tsi = Tsi::new();
    tsi.set(Tsi::OFFLINE_DATA_AUTHENTICATION_PERFORMED);
    tsi.set(Tsi::TERMINAL_RISK_MANAGEMENT_PERFORMED);
    assert_eq!(tsi.as_bytes(), &[0x88, 0x00]);
    let names: Vec<&str> = tsi.set_bits().map(|b| b.name()).collect();
    assert_eq!(
        names,
        [
            "OFFLINE_DATA_AUTHENTICATION_PERFORMED",
            "TERMINAL_RISK_MANAGEMENT_PERFORMED"
        ]
    );
}

#[test]
fn real_ttq_values() {
    // 36 80 00 00 from the QK trace (pboc-notes §2.2).
    let ttq = Ttq::new()
        .with(Ttq::QPBOC_SUPPORTED)
        .with(Ttq::CONTACT_PBOC_SUPPORTED)
        .with(Ttq::ONLINE_PIN_SUPPORTED)
        .with(Ttq::SIGNATURE_SUPPORTED)
        .with(Ttq::ONLINE_CRYPTOGRAM_REQUIRED);
    assert_eq!(ttq.as_bytes(), &[0x36, 0x80, 0x00, 0x00]);
    // 28 00 00 80 from the XA metro reader.
    let metro = Ttq::from_bytes([0x28, 0x00, 0x00, 0x80]);
    assert!(metro.contains(Ttq::OFFLINE_ONLY_READER));
    assert!(metro.contains(Ttq::FDDA_V01_SUPPORTED));
    assert!(!metro.contains(Ttq::ONLINE_PIN_SUPPORTED));
    assert_eq!(serde_json::to_string(&metro).unwrap(), "\"28000080\"");
    assert_eq!(serde_json::from_str::<Ttq>("\"28000080\"").unwrap(), metro);
    assert!(serde_json::from_str::<Ttq>("\"280000\"").is_err());
}

#[test]
fn aip_and_ctq() {
    // 7C00 from the real ARQC response (pboc-notes §2.4).
    let aip = Aip::from_slice(&[0x7C, 0x00]).unwrap();
    assert!(aip.contains(Aip::SDA_SUPPORTED));
    assert!(aip.contains(Aip::DDA_SUPPORTED));
    assert!(aip.contains(Aip::CARDHOLDER_VERIFICATION_SUPPORTED));
    assert!(aip.contains(Aip::TERMINAL_RISK_MANAGEMENT_REQUIRED));
    assert!(aip.contains(Aip::ISSUER_AUTHENTICATION_SUPPORTED));
    assert!(!aip.contains(Aip::CDA_SUPPORTED));
    assert!(!aip.contains(Aip::CONTACTLESS_FULL_PBOC));
    assert!(Aip::from_bytes([0, 0x80]).contains(Aip::CONTACTLESS_FULL_PBOC));
    let ctq = Ctq::from_bytes([0x30, 0x00]);
    assert!(ctq.contains(Ctq::GO_ONLINE_IF_ODA_FAILS));
    assert!(ctq.contains(Ctq::SWITCH_INTERFACE_IF_ODA_FAILS));
    assert!(!ctq.contains(Ctq::ONLINE_PIN_REQUIRED));
    assert_eq!(Aip::TAG.to_string(), "82");
    assert_eq!(Ctq::TAG.to_string(), "9F6C");
}

#[test]
fn cid_cryptogram_types() {
    for (byte, want) in [
        (0x00, CryptogramType::Aac),
        (0x40, CryptogramType::Tc),
        (0x80, CryptogramType::Arqc),
        (0xC0, CryptogramType::Rfu),
        (0x88, CryptogramType::Arqc),
    ] {
        assert_eq!(Cid::from_byte(byte).cryptogram_type(), want, "{byte:02X}");
    }
    assert!(Cid::from_byte(0x88).advice_required());
    assert!(!Cid::from_byte(0x80).advice_required());
}
