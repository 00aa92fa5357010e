//! Shared fixtures for the ODA tests: the committed test RSA keys (tests/data/oda-test-rsa-keys.json,
//! made with `openssl genpkey`) and a personalised card chain issued with `oda::issue`.
#![allow(dead_code)]

use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::oda::issue::{
    self, IccCertificateFields, IssuerCertificateFields, RsaSigner,
};
use quickpass_crypto::Date;
use serde_json::Value;

pub const KEYS: &str = include_str!("../data/oda-test-rsa-keys.json");

pub fn signer(name: &str) -> RsaSigner {
    let all: Value = serde_json::from_str(KEYS).unwrap();
    let k = &all["keys"][name];
    let h = |f: &str| hex::decode(k[f].as_str().unwrap()).unwrap();
    RsaSigner::from_components(
        &h("modulus"),
        &h("exponent"),
        &h("private_exponent"),
        &h("prime1"),
        &h("prime2"),
    )
    .unwrap()
}

pub const RID: Rid = Rid([0xA0, 0x00, 0x00, 0x03, 0x33]);
pub const INDEX: CapkIndex = CapkIndex(0x80);
/// Tag 5A: 19 digits, F-padded.
pub const PAN: [u8; 10] = [0x62, 0x10, 0x22, 0x01, 0x10, 0x00, 0x27, 0x07, 0x35, 0x5F];
pub const ISSUER_ID: [u8; 4] = [0x62, 0x10, 0x22, 0xFF];
pub const EXPIRY: [u8; 2] = [0x12, 0x26]; // December 2026
pub const SERIAL: [u8; 3] = [0x01, 0x02, 0x03];
pub const STATIC_DATA: &[u8] =
    b"\x5A\x0A\x62\x10\x22\x01\x10\x00\x27\x07\x35\x5F\x5F\x24\x03\x26\x12\x31\x7C\x00";
/// fDDA v01 terminal data: 9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69.
pub const FDDA_DATA: &[u8] =
    b"\x11\x22\x33\x44\x00\x00\x00\x00\x10\x00\x01\x56\x01\xAA\xBB\xCC\xDD\x80\x00\x00";
pub const ICC_DYNAMIC_DATA: &[u8] = &[0x02, 0x00, 0xC3];

pub fn today() -> Date {
    Date::new(2024, 5, 1).unwrap()
}

pub fn capk(ca: &RsaSigner) -> CaPublicKey {
    let c = rsa_checksum(RID, INDEX, ca.modulus(), ca.exponent());
    CaPublicKey::new_rsa(
        RID,
        INDEX,
        ca.modulus(),
        ca.exponent(),
        HashAlgorithm::Sha1,
        None,
        &c,
    )
    .unwrap()
}

pub fn issuer_fields() -> IssuerCertificateFields {
    IssuerCertificateFields {
        issuer_identifier: ISSUER_ID,
        expiry: EXPIRY,
        serial: SERIAL,
        hash_algorithm: 0x01,
        pk_algorithm: 0x01,
    }
}

pub fn icc_fields() -> IccCertificateFields {
    IccCertificateFields {
        pan: issue::pan_field(&PAN).unwrap(),
        expiry: EXPIRY,
        serial: [0x00, 0x00, 0x42],
        hash_algorithm: 0x01,
        pk_algorithm: 0x01,
    }
}

/// The card objects of one personalised chain.
pub struct Card {
    pub ca: RsaSigner,
    pub issuer: RsaSigner,
    pub icc: RsaSigner,
    pub capk: CaPublicKey,
    pub issuer_cert: Vec<u8>,
    pub issuer_rem: Vec<u8>,
    pub icc_cert: Vec<u8>,
    pub icc_rem: Vec<u8>,
}

pub fn card(issuer_name: &str, icc_name: &str) -> Card {
    let ca = signer("ca");
    let issuer = signer(issuer_name);
    let icc = signer(icc_name);
    let ic = issue::issuer_certificate(&ca, &issuer_fields(), issuer.modulus(), issuer.exponent())
        .unwrap();
    let cc = issue::icc_certificate(
        &issuer,
        &icc_fields(),
        icc.modulus(),
        icc.exponent(),
        STATIC_DATA,
    )
    .unwrap();
    Card {
        capk: capk(&ca),
        ca,
        issuer,
        icc,
        issuer_cert: ic.certificate,
        issuer_rem: ic.remainder,
        icc_cert: cc.certificate,
        icc_rem: cc.remainder,
    }
}
