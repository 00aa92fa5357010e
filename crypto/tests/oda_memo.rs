//! The recovery memo remembers arithmetic, never verdicts: after a success, the same
//! certificates with a changed input must still fail each check, and after a failure the
//! genuine inputs must still pass.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::date::Date;
use quickpass_crypto::oda::{self, OdaError, SdadFormats};
use serde_json::Value;

fn case(id: &str) -> Value {
    let text = include_str!("../../vectors/oda-proxmark3.json");
    let document: Value = serde_json::from_str(text).unwrap();
    document["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone()
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap()).unwrap()
}

#[test]
fn remembered_recoveries_still_run_every_check() {
    let case = case("pm3_dda_mc05");
    let rid = Rid(bytes(&case["capk"]["rid"]).try_into().unwrap());
    let index = CapkIndex(bytes(&case["capk"]["index"])[0]);
    let (modulus, exponent) = (
        bytes(&case["capk"]["modulus"]),
        bytes(&case["capk"]["exponent"]),
    );
    let checksum = rsa_checksum(rid, index, &modulus, &exponent);
    let capk = CaPublicKey::new_rsa(
        rid,
        index,
        &modulus,
        &exponent,
        HashAlgorithm::Sha1,
        None,
        &checksum,
    )
    .unwrap();
    let today = Date::from_yymmdd(case["today"].as_str().unwrap()).unwrap();
    let pan = bytes(&case["pan"]);
    let static_data = bytes(&case["static_data"]);
    let issuer = |pan: &[u8], today: Date| {
        oda::recover_issuer_public_key(
            &capk,
            &bytes(&case["issuer"]["certificate"]),
            &bytes(&case["issuer"]["remainder"]),
            &bytes(&case["issuer"]["exponent"]),
            pan,
            today,
        )
    };
    let issuer_key = issuer(&pan, today).unwrap();
    let icc = |static_data: &[u8]| {
        oda::recover_icc_public_key(
            &issuer_key,
            &bytes(&case["icc"]["certificate"]),
            &bytes(&case["icc"]["remainder"]),
            &bytes(&case["icc"]["exponent"]),
            &pan,
            static_data,
            today,
        )
    };
    let icc_key = icc(&static_data).unwrap();

    // Same certificates, remembered, with one input changed at a time.
    let mut other_static = static_data.clone();
    other_static[0] ^= 1;
    assert!(matches!(
        icc(&other_static),
        Err(OdaError::HashMismatch { .. })
    ));
    let late = Date::new(2099, 1, 1).unwrap();
    assert!(matches!(
        issuer(&pan, late),
        Err(OdaError::CertificateExpired { .. })
    ));
    let mut other_pan = pan.clone();
    other_pan[0] ^= 0x10;
    assert!(issuer(&other_pan, today).is_err());

    // And the genuine inputs still pass afterwards, down to the dynamic signature.
    assert!(issuer(&pan, today).is_ok());
    let again = icc(&static_data).unwrap();
    assert_eq!(again.modulus(), icc_key.modulus());
    let signature = oda::verify_sdad(
        &again,
        &bytes(&case["sdad"]),
        &bytes(&case["dynamic_data"]),
        SdadFormats::DDA,
    );
    assert!(signature.is_ok());
}
