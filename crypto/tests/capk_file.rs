//! Production CA key files (UnionPay/PBOC terminal-parameter TLV, `capk::tlv`): several RSA
//! records and an SM2 record in one file, refusals with their RID/index, hostile input.
//!
//! The files are built here from public keys only: the RSA keys of `vectors/capk/capk-emv.json`
//! and `capk-unionpay.json` (their published checksums, so the SHA-1 rule is checked against
//! independent data), the test CA RSA key `A000000333/F1` of `capk-quickpass-test.json`, and the
//! public point of the SM2 test CA of `vectors/keys/test-sm2.json` (the file holds only the
//! private scalar; the public point is derived and only it goes into the key file). The SM2
//! checksum is computed here with the `sm3` crate directly, following the crypto crate's ⚠ rule
//! (SM3 over RID ‖ index ‖ X ‖ Y, pboc-notes §3.5/§7 item 8).
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

use proptest::prelude::*;
use quickpass_crypto::capk::tlv::{self, TlvProblem};
use quickpass_crypto::capk::{CapkError, CapkIndex, CapkStore, HashAlgorithm, KeyId, Rid};
use quickpass_crypto::oda::issue::{self, IssuerCertificateFields, RsaSigner, Sm2Signer};
use quickpass_crypto::oda::recover_issuer_public_key;
use quickpass_crypto::{Date, PkAlgorithm};
use serde_json::Value;
use sm3::{Digest, Sm3};

const EMV: &str = include_str!("../../vectors/capk/capk-emv.json");
const CUP: &str = include_str!("../../vectors/capk/capk-unionpay.json");
const TEST_CA: &str = include_str!("../../sim/test-ca/capk-quickpass-test.json");
const SM2_KEYS: &str = include_str!("../../sim/test-ca/test-sm2.json");
const RSA_KEYS: &str = include_str!("../../sim/test-ca/test-rsa.json");

const CUP_RID: [u8; 5] = [0xA0, 0, 0, 0x03, 0x33];
const SM2_INDEX: u8 = 0xF2;

/// One primitive TLV (short or `81`/`82` long form length).
fn tlv_object(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = tag.to_be_bytes().to_vec();
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// A template around `content` (constructed tag of 1 or 2 bytes).
fn template(tag: u16, content: &[u8]) -> Vec<u8> {
    let mut out = if tag > 0xFF {
        tag.to_be_bytes().to_vec()
    } else {
        vec![tag as u8]
    };
    match content.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

struct Capk {
    rid: [u8; 5],
    index: u8,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    checksum: Vec<u8>,
    expiry: Option<String>,
    valid: bool,
}

impl Capk {
    fn id(&self) -> KeyId {
        KeyId {
            rid: Rid(self.rid),
            index: CapkIndex(self.index),
        }
    }

    /// The record, objects in the usual order, expiry as 8 ASCII digits.
    fn record(&self) -> Vec<u8> {
        let mut r = tlv_object(0x9F06, &self.rid);
        r.extend(tlv_object(0x9F22, &[self.index]));
        if let Some(e) = &self.expiry {
            r.extend(tlv_object(0xDF05, format!("20{e}").as_bytes()));
        }
        r.extend(tlv_object(0xDF06, &[0x01]));
        r.extend(tlv_object(0xDF07, &[0x01]));
        r.extend(tlv_object(0xDF02, &self.modulus));
        r.extend(tlv_object(0xDF04, &self.exponent));
        r.extend(tlv_object(0xDF03, &self.checksum));
        r
    }
}

fn cases(file: &str) -> Vec<Capk> {
    let file: Value = serde_json::from_str(file).unwrap();
    let hx = |c: &Value, k: &str| hex::decode(c[k].as_str().unwrap()).unwrap();
    file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Capk {
            rid: hx(c, "rid").try_into().unwrap(),
            index: hx(c, "index")[0],
            modulus: hx(c, "modulus"),
            exponent: hx(c, "exponent"),
            checksum: hx(c, "checksum"),
            expiry: c["expiry"].as_str().map(str::to_owned),
            valid: c["expect"]["valid"].as_bool().unwrap(),
        })
        .collect()
}

fn sm2_ca() -> Sm2Signer {
    let keys: Value = serde_json::from_str(SM2_KEYS).unwrap();
    let scalar = hex::decode(keys["keys"]["ca"]["private"].as_str().unwrap()).unwrap();
    Sm2Signer::from_bytes(&scalar.try_into().unwrap()).unwrap()
}

/// The SM2 record: public point only, SM3 checksum computed independently of the crate.
fn sm2_record(public_key: &[u8; 64], checksum_flip: u8) -> Vec<u8> {
    let mut checksum = Sm3::new()
        .chain_update(CUP_RID)
        .chain_update([SM2_INDEX])
        .chain_update(public_key)
        .finalize()
        .to_vec();
    checksum[0] ^= checksum_flip;
    // A different object order and a BCD expiry, as some SDKs write it.
    let mut r = tlv_object(0x9F22, &[SM2_INDEX]);
    r.extend(tlv_object(0x9F06, &CUP_RID));
    r.extend(tlv_object(0xDF07, &[0x04]));
    r.extend(tlv_object(0xDF06, &[0x07]));
    r.extend(tlv_object(0xDF05, &[0x20, 0x35, 0x12, 0x31]));
    r.extend(tlv_object(0xDF02, public_key));
    r.extend(tlv_object(0xDF03, &checksum));
    r
}

/// Several valid RSA keys (EMV, UnionPay, the test CA), distinct (RID, index).
fn rsa_keys() -> Vec<Capk> {
    let mut keys: Vec<Capk> = Vec::new();
    for c in cases(EMV)
        .into_iter()
        .take(5)
        .chain(cases(CUP))
        .chain(cases(TEST_CA))
    {
        if c.valid && !keys.iter().any(|k| k.id() == c.id()) {
            keys.push(c);
        }
    }
    keys
}

/// A file: RSA records bare, in a `70` template and in a `BF01` template in turn, `00` padding
/// between some, then the SM2 record in a `FF01` template.
fn production_file(keys: &[Capk], sm2: &[u8]) -> Vec<u8> {
    let mut file = Vec::new();
    for (n, k) in keys.iter().enumerate() {
        match n % 3 {
            0 => file.extend(k.record()),
            1 => file.extend(template(0x70, &k.record())),
            _ => {
                file.extend([0x00, 0x00]);
                file.extend(template(0xBF01, &k.record()));
            }
        }
    }
    file.extend(template(0xFF01, sm2));
    file
}

#[test]
fn file_with_rsa_and_sm2_records_loads_all() {
    let keys = rsa_keys();
    assert!(keys.len() >= 10, "{}", keys.len());
    let ca = sm2_ca();
    let file = production_file(&keys, &sm2_record(ca.public_key(), 0));
    let mut store = CapkStore::new();
    let report = store.load_tlv_file(&file).unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let mut expected: Vec<KeyId> = keys.iter().map(Capk::id).collect();
    let sm2_id = KeyId {
        rid: Rid(CUP_RID),
        index: CapkIndex(SM2_INDEX),
    };
    expected.push(sm2_id);
    assert_eq!(report.loaded, expected);
    assert_eq!(store.len(), keys.len() + 1);
    for k in &keys {
        let got = store.get(k.id().rid, k.id().index).unwrap();
        assert_eq!(got.pk_algorithm(), PkAlgorithm::Rsa);
        assert_eq!(got.modulus(), Some(k.modulus.as_slice()));
        assert_eq!(got.exponent(), Some(k.exponent.as_slice()));
        assert_eq!(
            got.expiry(),
            k.expiry.as_deref().map(|e| Date::from_yymmdd(e).unwrap())
        );
    }
    let sm2 = store.get(sm2_id.rid, sm2_id.index).unwrap();
    assert_eq!(sm2.pk_algorithm(), PkAlgorithm::Sm2);
    assert_eq!(sm2.hash_algorithm(), HashAlgorithm::Sm3);
    assert_eq!(sm2.sm2_public_key(), Some(ca.public_key()));
    assert_eq!(sm2.expiry(), Some(Date::new(2035, 12, 31).unwrap()));
    assert!(sm2.is_expired(Date::new(2036, 1, 1).unwrap()));

    // The same file as hex text, through the any-form entry point, gives the same report.
    let text = hex::encode_upper(&file)
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let mut again = CapkStore::new();
    assert_eq!(again.load_key_file(text.as_bytes()).unwrap(), report);
    assert_eq!(again.load_key_file(&file).unwrap(), report);
}

fn issuer_fields(pk_algorithm: u8) -> IssuerCertificateFields {
    IssuerCertificateFields {
        issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
        expiry: [0x12, 0x30],
        serial: [0x00, 0x00, 0x01],
        hash_algorithm: if pk_algorithm == 0x01 { 0x01 } else { 0x07 },
        pk_algorithm,
    }
}

/// A store loaded from a production file serves RSA and SM2 ODA alike: certificates signed by
/// the test CAs (RSA `F1`, SM2 `F2`) recover with the loaded keys.
#[test]
fn loaded_store_serves_rsa_and_sm2_oda() {
    let ca = sm2_ca();
    let file = production_file(&rsa_keys(), &sm2_record(ca.public_key(), 0));
    let mut store = CapkStore::new();
    store.load_key_file(&file).unwrap();
    let pan = [0x62, 0x28, 0x48, 0x00, 0x12, 0x34, 0x56, 0x78];
    let today = Date::new(2026, 6, 1).unwrap();

    let issuer = Sm2Signer::from_bytes(&[0x5A; 32]).unwrap();
    let cert =
        issue::sm2_issuer_certificate(&ca, &issuer_fields(0x04), issuer.public_key()).unwrap();
    let sm2_capk = store.get(Rid(CUP_RID), CapkIndex(SM2_INDEX)).unwrap();
    let recovered = recover_issuer_public_key(sm2_capk, &cert, &[], &[], &pan, today).unwrap();
    assert_eq!(recovered.sm2_public_key(), Some(issuer.public_key()));

    let keys: Value = serde_json::from_str(RSA_KEYS).unwrap();
    let part = |k: &str, f: &str| hex::decode(keys["keys"][k][f].as_str().unwrap()).unwrap();
    let signer = |k: &str| {
        RsaSigner::from_components(
            &part(k, "modulus"),
            &part(k, "exponent"),
            &part(k, "private_exponent"),
            &part(k, "prime1"),
            &part(k, "prime2"),
        )
        .unwrap()
    };
    let (rsa_ca, rsa_issuer) = (signer("ca"), signer("issuer"));
    let rsa_capk = store.get(Rid(CUP_RID), CapkIndex(0xF1)).unwrap();
    assert_eq!(rsa_capk.modulus(), Some(rsa_ca.modulus()));
    let cert = issue::issuer_certificate(
        &rsa_ca,
        &issuer_fields(0x01),
        rsa_issuer.modulus(),
        rsa_issuer.exponent(),
    )
    .unwrap();
    let recovered = recover_issuer_public_key(
        rsa_capk,
        &cert.certificate,
        &cert.remainder,
        rsa_issuer.exponent(),
        &pan,
        today,
    )
    .unwrap();
    assert_eq!(recovered.modulus(), Some(rsa_issuer.modulus()));
}

#[test]
fn bad_checksum_record_is_refused_with_its_rid_and_index() {
    let mut keys = rsa_keys();
    // The UnionPay file's wrong-checksum case, and one good key with its checksum flipped.
    let wrong = cases(CUP).into_iter().find(|c| !c.valid).unwrap();
    keys[3].checksum[5] ^= 0x40;
    let flipped = keys[3].id();
    keys.push(wrong);
    let ca = sm2_ca();
    let file = production_file(&keys, &sm2_record(ca.public_key(), 0x01));
    let mut store = CapkStore::new();
    let report = store.load_tlv_file(&file).unwrap();

    let refused: Vec<(Option<KeyId>, &CapkError)> =
        report.refused.iter().map(|r| (r.key, &r.error)).collect();
    let wrong_id = keys.last().unwrap().id();
    let sm2_id = KeyId {
        rid: Rid(CUP_RID),
        index: CapkIndex(SM2_INDEX),
    };
    let mismatch = |k: KeyId| CapkError::ChecksumMismatch {
        rid: k.rid,
        index: k.index,
    };
    assert_eq!(
        refused,
        vec![
            (Some(flipped), &mismatch(flipped)),
            (Some(wrong_id), &mismatch(wrong_id)),
            (Some(sm2_id), &mismatch(sm2_id)),
        ]
    );
    assert_eq!(
        report.refused[0].id,
        format!("record #3 at byte {}", {
            // Offset of the 4th record: bare, 70-wrapped, 00 00 + BF01-wrapped before it.
            let k = &keys;
            k[0].record().len()
                + template(0x70, &k[1].record()).len()
                + 2
                + template(0xBF01, &k[2].record()).len()
        })
    );
    assert!(report.refused[0].error.to_string().contains("A000000"));
    assert_eq!(report.loaded.len(), keys.len() - 2);
    assert!(store.get(flipped.rid, flipped.index).is_none());
    assert!(store.get(sm2_id.rid, sm2_id.index).is_none());
    assert!(store.iter().all(|k| k.checksum_is_valid()));
}

#[test]
fn malformed_records_are_refused_with_the_reason() {
    let k = &rsa_keys()[0];
    let without = |tag: u16| {
        let mut r = tlv_object(0x9F06, &k.rid);
        r.extend(tlv_object(0x9F22, &[k.index]));
        for (t, v) in [
            (0xDF06, vec![0x01]),
            (0xDF07, vec![0x01]),
            (0xDF02, k.modulus.clone()),
            (0xDF04, k.exponent.clone()),
            (0xDF03, k.checksum.clone()),
        ] {
            if t != tag {
                r.extend(tlv_object(t, &v));
            }
        }
        template(0x70, &r)
    };
    let mut unknown_algorithm = k.record();
    let at = unknown_algorithm
        .windows(4)
        .position(|w| w == [0xDF, 0x07, 0x01, 0x01])
        .unwrap();
    unknown_algorithm[at + 3] = 0x02;
    let mut file = without(0xDF03);
    file.extend(without(0xDF04));
    file.extend(template(0x70, &unknown_algorithm));
    file.extend(template(0x70, &tlv_object(0xDF02, &k.modulus)));
    let report = CapkStore::new().load_tlv_file(&file).unwrap();
    assert!(report.loaded.is_empty());
    let got: Vec<(Option<KeyId>, CapkError)> = report
        .refused
        .into_iter()
        .map(|r| (r.key, r.error))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(k.id()), CapkError::MissingField { tag: 0xDF03 }),
            (Some(k.id()), CapkError::MissingField { tag: 0xDF04 }),
            (Some(k.id()), CapkError::UnsupportedPkAlgorithm(0x02)),
            (None, CapkError::MissingField { tag: 0x9F06 }),
        ]
    );
}

#[test]
fn truncated_and_garbage_files_are_typed_errors_and_load_nothing() {
    let keys = rsa_keys();
    let file = production_file(&keys[..4], &sm2_record(sm2_ca().public_key(), 0));
    // Cut inside the last (templated SM2) record: the structure check fails, nothing loads.
    for cut in [file.len() - 1, file.len() - 40, file.len() - 66] {
        let mut store = CapkStore::new();
        let err = store.load_tlv_file(&file[..cut]).unwrap_err();
        assert!(
            matches!(err, CapkError::Tlv { .. }),
            "cut at {cut}: {err:?}"
        );
        assert!(store.is_empty(), "cut at {cut}");
    }
    let mut store = CapkStore::new();
    assert_eq!(store.load_tlv_file(&[]).unwrap_err(), CapkError::NoRecords);
    assert_eq!(
        store.load_tlv_file(&[0, 0, 0]).unwrap_err(),
        CapkError::NoRecords
    );
    assert_eq!(
        store
            .load_key_file(b"\x9F\x06\x85\x01\x02\x03\x04\x05")
            .unwrap_err(),
        CapkError::Tlv {
            offset: 0,
            problem: TlvProblem::UnsupportedLength
        }
    );
    assert!(matches!(
        store.load_key_file(b"{ not json"),
        Err(CapkError::VectorFile(_))
    ));
    // Plain text that is not hex is read as binary TLV, and is not a key file.
    assert!(matches!(
        store.load_key_file(b"hello, world"),
        Err(CapkError::Tlv {
            offset: 0,
            problem: TlvProblem::TruncatedValue
        })
    ));
    assert!(store.is_empty());
}

#[test]
fn json_list_form_through_the_any_form_loader() {
    let mut store = CapkStore::new();
    let report = store.load_key_file(CUP.as_bytes()).unwrap();
    assert_eq!(report.loaded.len(), 7);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].id, "cup_0B_wrong_checksum");
    assert_eq!(
        report.refused[0].key,
        Some(KeyId {
            rid: Rid(CUP_RID),
            index: CapkIndex(0x0B)
        })
    );
}

/// Each JSON `tlv` field parses to the same key as the case (the conformance runner's check,
/// here on the crypto crate's parser directly).
#[test]
fn vector_tlv_records_match_their_cases() {
    let file: Value = serde_json::from_str(CUP).unwrap();
    let mut n = 0;
    for (case, want) in file["cases"].as_array().unwrap().iter().zip(cases(CUP)) {
        let Some(record) = case["tlv"].as_str() else {
            continue;
        };
        n += 1;
        let key = tlv::parse_record(&hex::decode(record).unwrap()).unwrap();
        assert_eq!(key.key_id(), want.id());
        assert_eq!(key.modulus(), Some(want.modulus.as_slice()));
        assert_eq!(key.exponent(), Some(want.exponent.as_slice()));
        assert_eq!(key.checksum(), want.checksum.as_slice());
        assert_eq!(key.checksum_is_valid(), want.valid);
    }
    assert!(n >= 5, "{n}");
}

#[test]
fn known_key_material_is_found_under_any_id() {
    let keys = rsa_keys();
    let ca = sm2_ca();
    let mut store = CapkStore::new();
    store
        .load_tlv_file(&production_file(&keys, &sm2_record(ca.public_key(), 0)))
        .unwrap();
    let test_ca = cases(TEST_CA).remove(0);
    assert!(store.contains_key_with_modulus(&test_ca.modulus));
    assert!(store.contains_key_with_modulus(ca.public_key()));
    let found = store.key_with_modulus(&test_ca.modulus).unwrap();
    assert_eq!(found.key_id(), test_ca.id());
    assert_eq!(
        store
            .key_with_fingerprint(&found.fingerprint())
            .unwrap()
            .key_id(),
        test_ca.id()
    );
    let mut other = test_ca.modulus.clone();
    other[10] ^= 1;
    assert!(!store.contains_key_with_modulus(&other));
    assert!(!store.contains_key_with_modulus(&test_ca.modulus[1..]));
    assert!(store.key_with_fingerprint(&[0; 32]).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: a typed result, never a panic; the store only ever holds valid keys.
    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut store = CapkStore::new();
        if let Ok(report) = store.load_key_file(&data) {
            prop_assert!(store.len() <= report.loaded.len());
        }
        prop_assert!(store.iter().all(|k| k.checksum_is_valid()));
        let _ = tlv::parse_record(&data);
    }

    /// A real file cut and mutated anywhere: never a panic; what loads has a valid checksum, and
    /// every record is either loaded or refused.
    #[test]
    fn mutated_files_never_panic(
        cut in 0usize..4000,
        flips in proptest::collection::vec((0usize..4000, any::<u8>()), 0..6),
    ) {
        let keys = rsa_keys();
        let mut file = production_file(&keys[..3], &sm2_record(sm2_ca().public_key(), 0));
        for (at, x) in flips {
            let len = file.len();
            file[at % len] ^= x;
        }
        file.truncate(cut.min(file.len()));
        let mut store = CapkStore::new();
        match store.load_tlv_file(&file) {
            Ok(report) => {
                prop_assert!(!report.loaded.is_empty() || !report.refused.is_empty());
                prop_assert!(store.len() <= report.loaded.len());
            }
            Err(_) => prop_assert!(store.is_empty()),
        }
        prop_assert!(store.iter().all(|k| k.checksum_is_valid()));
    }
}
