//! Every case of the `capk` vector files (vectors README §3.5) and the store's refusal rules.
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

use quickpass_crypto::capk::{
    rsa_checksum, sm2_checksum, CaPublicKey, CapkError, CapkIndex, CapkStore, HashAlgorithm,
    PkAlgorithm, Rid,
};
use quickpass_crypto::Date;
use serde_json::Value;

const FILES: &[(&str, &str)] = &[
    (
        "capk-emv.json",
        include_str!("../../vectors/capk/capk-emv.json"),
    ),
    (
        "capk-unionpay.json",
        include_str!("../../vectors/capk/capk-unionpay.json"),
    ),
];

fn hx(case: &Value, k: &str) -> Vec<u8> {
    hex::decode(case[k].as_str().unwrap()).unwrap()
}

fn key_of(case: &Value) -> CaPublicKey {
    assert_eq!(case["hash_algorithm"], "sha1");
    CaPublicKey::new_rsa(
        Rid(hx(case, "rid").try_into().unwrap()),
        CapkIndex(hx(case, "index")[0]),
        &hx(case, "modulus"),
        &hx(case, "exponent"),
        HashAlgorithm::Sha1,
        case["expiry"]
            .as_str()
            .map(|e| Date::from_yymmdd(e).unwrap()),
        &hx(case, "checksum"),
    )
    .unwrap()
}

#[test]
fn every_capk_case_valid_flag() {
    let mut n = 0;
    for (name, text) in FILES {
        let file: Value = serde_json::from_str(text).unwrap();
        assert_eq!(file["kind"], "capk");
        for case in file["cases"].as_array().unwrap() {
            n += 1;
            let id = case["id"].as_str().unwrap();
            let key = key_of(case);
            let want = case["expect"]["valid"].as_bool().unwrap();
            assert_eq!(key.checksum_is_valid(), want, "{name}#{id}");
            assert_eq!(key.pk_algorithm(), PkAlgorithm::Rsa);
            assert_eq!(key.modulus().unwrap(), hx(case, "modulus").as_slice());
            assert_eq!(key.exponent().unwrap(), hx(case, "exponent").as_slice());
            assert_eq!(key.checksum(), hx(case, "checksum").as_slice());
            // `tlv` fields: checked in capk_file.rs (`capk::tlv`); here only the store's refusal matters.
            let mut store = CapkStore::new();
            let inserted = store.insert(key.clone());
            assert_eq!(inserted.is_ok(), want, "{name}#{id}");
            if !want {
                assert_eq!(
                    inserted.unwrap_err(),
                    CapkError::ChecksumMismatch {
                        rid: key.rid(),
                        index: key.index()
                    }
                );
                assert!(store.is_empty());
            } else {
                assert!(store.get(key.rid(), key.index()).is_some());
            }
        }
    }
    assert_eq!(n, 70);
}

#[test]
fn load_vector_files_into_store() {
    let mut store = CapkStore::new();
    let emv = store.load_vector_file(FILES[0].1).unwrap();
    assert_eq!(emv.loaded.len(), 62);
    assert!(emv.refused.is_empty());
    let cup = store.load_vector_file(FILES[1].1).unwrap();
    assert_eq!(cup.loaded.len(), 7);
    assert_eq!(cup.refused.len(), 1);
    assert_eq!(cup.refused[0].id, "cup_0B_wrong_checksum");
    let rid = Rid([0xA0, 0, 0, 0x03, 0x33]);
    assert!(matches!(
        cup.refused[0].error,
        CapkError::ChecksumMismatch { rid: r, index: CapkIndex(0x0B) } if r == rid
    ));
    // The good 0B stays.
    let k = store.get(rid, CapkIndex(0x0B)).unwrap();
    assert!(k.checksum_is_valid());
    assert_eq!(k.expiry(), Some(Date::new(2016, 12, 31).unwrap()));
    assert!(k.is_expired(Date::new(2017, 1, 1).unwrap()));
    assert!(!k.is_expired(Date::new(2016, 12, 31).unwrap()));
    // Distinct (RID, index) pairs: openemv and pm3 lists overlap; pm3 has two A000000004/05.
    assert!(store.len() < 69);
    assert!(store.get(rid, CapkIndex(0x99)).is_none());
}

#[test]
fn load_refuses_non_capk_files() {
    let mut store = CapkStore::new();
    assert!(matches!(
        store.load_vector_file(include_str!("../../vectors/oda-proxmark3.json")),
        Err(CapkError::VectorFile(_))
    ));
    assert!(matches!(
        store.load_vector_file("{\"schema\":\"other\",\"kind\":\"capk\",\"cases\":[]}"),
        Err(CapkError::VectorFile(_))
    ));
    assert!(matches!(
        store.load_vector_file("not json"),
        Err(CapkError::VectorFile(_))
    ));
    let bad_case = r#"{"schema":"quickpass-vectors/1","kind":"capk","cases":[
        {"id":"x","rid":"A0000000","index":"01","modulus":"C3","exponent":"03","hash_algorithm":"sha1","checksum":"00","expect":{"valid":false}},
        {"id":"y","expect":{"valid":false}}]}"#;
    let r = store.load_vector_file(bad_case).unwrap();
    assert_eq!(r.refused.len(), 2);
    assert_eq!(r.refused[0].error, CapkError::RidLength { found: 4 });
    assert!(matches!(r.refused[1].error, CapkError::VectorCase(_)));
}

#[test]
fn construction_validates_sizes() {
    let rid = Rid([0xB0, 0x12, 0x34, 0x56, 0x78]);
    let i = CapkIndex(1);
    let mut m = vec![0xC1; 128];
    m[127] = 0x01;
    let ok = CaPublicKey::new_rsa(
        rid,
        i,
        &m,
        &[3],
        HashAlgorithm::Sha1,
        None,
        &rsa_checksum(rid, i, &m, &[3]),
    );
    assert!(ok.unwrap().checksum_is_valid());
    let err = |m: &[u8], e: &[u8], c: &[u8]| {
        CaPublicKey::new_rsa(rid, i, m, e, HashAlgorithm::Sha1, None, c).unwrap_err()
    };
    let c = [0u8; 20];
    assert_eq!(
        err(&m[..63], &[3], &c),
        CapkError::ModulusLength { length: 63 }
    );
    assert_eq!(
        err(&[0xC1; 249], &[3], &c),
        CapkError::ModulusLength { length: 249 }
    );
    let mut lead0 = m.clone();
    lead0[0] = 0;
    assert_eq!(
        err(&lead0, &[3], &c),
        CapkError::ModulusLength { length: 128 }
    );
    assert_eq!(err(&m, &[], &c), CapkError::Exponent);
    assert_eq!(err(&m, &[1, 0, 0, 1], &c), CapkError::Exponent);
    assert_eq!(err(&m, &[0], &c), CapkError::Exponent);
    assert_eq!(err(&m, &[2], &c), CapkError::InvalidRsaKey);
    let mut even = m.clone();
    even[127] = 0x02;
    assert_eq!(err(&even, &[3], &c), CapkError::InvalidRsaKey);
    assert_eq!(
        err(&m, &[3], &c[..19]),
        CapkError::ChecksumLength {
            expected: 20,
            found: 19
        }
    );
    assert_eq!(
        CaPublicKey::new_rsa(rid, i, &m, &[3], HashAlgorithm::Sm3, None, &c).unwrap_err(),
        CapkError::UnsupportedHashAlgorithm(0x07)
    );
}

#[test]
fn sm2_capk_checksum_rule() {
    // Any valid SM2 point serves as key material here.
    let signer = quickpass_crypto::oda::issue::Sm2Signer::from_bytes(&[0x11; 32]).unwrap();
    let pk = *signer.public_key();
    let rid = Rid([0xA0, 0, 0, 0x03, 0x33]);
    let idx = CapkIndex(0x18);
    for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha1] {
        let c = sm2_checksum(rid, idx, &pk, alg);
        assert_eq!(c.len(), if alg == HashAlgorithm::Sm3 { 32 } else { 20 });
        let k = CaPublicKey::new_sm2(rid, idx, &pk, alg, None, &c).unwrap();
        assert!(k.checksum_is_valid());
        assert_eq!(k.pk_algorithm(), PkAlgorithm::Sm2);
        assert_eq!(k.sm2_public_key(), Some(&pk));
        assert!(k.modulus().is_none());
        let mut bad = c.clone();
        bad[0] ^= 1;
        let k = CaPublicKey::new_sm2(rid, idx, &pk, alg, None, &bad).unwrap();
        assert!(!k.checksum_is_valid());
        assert!(CapkStore::new().insert(k).is_err());
    }
    let mut off_curve = pk;
    off_curve[63] ^= 1;
    assert_eq!(
        CaPublicKey::new_sm2(rid, idx, &off_curve, HashAlgorithm::Sm3, None, &[0; 32]).unwrap_err(),
        CapkError::InvalidSm2Key
    );
}

#[test]
fn debug_does_not_print_key_material() {
    let file: Value = serde_json::from_str(FILES[1].1).unwrap();
    let case = &file["cases"][0];
    let key = key_of(case);
    let dbg = format!("{key:?}");
    let modulus = case["modulus"].as_str().unwrap();
    assert!(!dbg.contains(&modulus[..16]));
    assert!(!dbg.to_lowercase().contains(&modulus[..16].to_lowercase()));
}
