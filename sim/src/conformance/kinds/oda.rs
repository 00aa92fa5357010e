//! `oda` cases (README §3.14): offline data authentication chains, RSA with SHA-1.
//!
//! Every method runs the same crypto-crate functions the kernel uses; `expect.result = "fail"`
//! passes when one of them refuses.

use quickpass_crypto::capk::rsa_checksum;
use quickpass_crypto::capk::{CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::date::Date;
use quickpass_crypto::oda::{self, IccPublicKey, IssuerPublicKey, SdadFormats};
use serde_json::Value;

use crate::conformance::case::{object_hex, unsupported, Case, Check};

/// What a run found, compared with `expect` when the chain succeeded.
#[derive(Default)]
struct Found {
    issuer_public_key: Option<Vec<u8>>,
    icc_public_key: Option<Vec<u8>>,
    data_authentication_code: Option<Vec<u8>>,
    icc_dynamic_data: Option<Vec<u8>>,
    icc_dynamic_number: Option<Vec<u8>>,
    cryptogram_information_data: Option<Vec<u8>>,
    application_cryptogram: Option<Vec<u8>>,
    transaction_data_hash_code: Option<Vec<u8>>,
}

pub(super) fn run(case: &Case<'_>) -> Check {
    let method = case.str("method")?;
    let outcome = match method {
        "issuer-certificate" | "icc-certificate" | "sda" | "dda" | "fdda" | "cda" | "sdad" => {
            run_method(case, method)
        }
        other => return unsupported("method", other),
    };
    let found = match outcome {
        Ok(found) => found,
        Err(Outcome::Refused(reason)) => {
            // The chain stopped at the refusing step; the later inputs were legitimately unused.
            case.informational(method_inputs(method));
            return match case.expect("result").and_then(Value::as_str) {
                Some("fail") => Ok(()),
                _ => Err(reason),
            };
        }
        Err(Outcome::Broken(reason)) => return Err(reason),
    };
    match case.expect("result").and_then(Value::as_str) {
        Some("ok") => {}
        Some("fail") => return Err("expected a failure, but every check passed".to_owned()),
        _ => return Err("expect.result is not ok/fail".to_owned()),
    }
    let compare = |name: &str, value: &Option<Vec<u8>>| -> Check {
        match value {
            Some(bytes) => case.expect_hex(name, bytes),
            None if case.expect(name).is_some() => Err(format!("{method} does not produce {name}")),
            None => Ok(()),
        }
    };
    compare("issuer_public_key", &found.issuer_public_key)?;
    compare("icc_public_key", &found.icc_public_key)?;
    compare("data_authentication_code", &found.data_authentication_code)?;
    compare("icc_dynamic_data", &found.icc_dynamic_data)?;
    compare("icc_dynamic_number", &found.icc_dynamic_number)?;
    compare(
        "cryptogram_information_data",
        &found.cryptogram_information_data,
    )?;
    compare("application_cryptogram", &found.application_cryptogram)?;
    compare(
        "transaction_data_hash_code",
        &found.transaction_data_hash_code,
    )
}

/// The inputs each method takes (README §3.14 method table).
fn method_inputs(method: &str) -> &'static [&'static str] {
    match method {
        "issuer-certificate" => &["capk", "issuer", "pan", "today"],
        "icc-certificate" => &["capk", "issuer", "icc", "pan", "static_data", "today"],
        "sda" => &["capk", "issuer", "pan", "static_data", "ssad", "today"],
        "dda" | "fdda" => &[
            "capk",
            "issuer",
            "icc",
            "pan",
            "static_data",
            "sdad",
            "dynamic_data",
            "today",
        ],
        "cda" => &[
            "capk",
            "issuer",
            "icc",
            "pan",
            "static_data",
            "sdad",
            "dynamic_data",
            "today",
            "transaction_data",
            "cid",
        ],
        "sdad" => &["icc_public_key", "sdad", "dynamic_data"],
        _ => &[],
    }
}

/// A case either could not be run (bad vector data) or the library refused it.
enum Outcome {
    Refused(String),
    Broken(String),
}

impl From<String> for Outcome {
    fn from(reason: String) -> Self {
        Outcome::Broken(reason)
    }
}

fn refused(error: oda::OdaError) -> Outcome {
    Outcome::Refused(error.to_string())
}

fn run_method(case: &Case<'_>, method: &str) -> Result<Found, Outcome> {
    let mut found = Found::default();
    if method == "sdad" {
        let key = case.required("icc_public_key")?;
        let icc = IccPublicKey::from_raw_parts_unverified(
            &object_hex(key, "modulus")?,
            &object_hex(key, "exponent")?,
        )
        .map_err(refused)?;
        let signature = oda::verify_sdad(
            &icc,
            &case.hex("sdad")?,
            &case.hex("dynamic_data")?,
            SdadFormats::FDDA,
        )
        .map_err(refused)?;
        found.icc_dynamic_data = Some(signature.icc_dynamic_data().to_vec());
        found.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
        return Ok(found);
    }

    let today = Date::from_yymmdd(case.str("today")?).map_err(|e| e.to_string())?;
    let pan = case.hex("pan")?;
    let capk = capk(case.required("capk")?)?;
    let issuer_object = case.required("issuer")?;
    let issuer = oda::recover_issuer_public_key(
        &capk,
        &object_hex(issuer_object, "certificate")?,
        &object_hex(issuer_object, "remainder")?,
        &object_hex(issuer_object, "exponent")?,
        &pan,
        today,
    )
    .map_err(refused)?;
    found.issuer_public_key = issuer.modulus().map(<[u8]>::to_vec);
    if method == "issuer-certificate" {
        return Ok(found);
    }

    let static_data = case.hex("static_data")?;
    if method == "sda" {
        let code = oda::verify_ssad(&issuer, &case.hex("ssad")?, &static_data).map_err(refused)?;
        found.data_authentication_code = Some(code.value().to_vec());
        return Ok(found);
    }

    let icc = icc_key(case, &issuer, &pan, &static_data, today)?;
    found.icc_public_key = icc.modulus().map(<[u8]>::to_vec);
    if method == "icc-certificate" {
        return Ok(found);
    }

    let sdad = case.hex("sdad")?;
    let dynamic_data = case.hex("dynamic_data")?;
    if method == "cda" {
        let transaction_data = case.hex("transaction_data")?;
        let [cid] = case.hex_array::<1>("cid")?;
        let signature = oda::verify_cda(&icc, &sdad, &dynamic_data, &[&transaction_data], cid)
            .map_err(refused)?;
        found.icc_dynamic_data = Some(signature.icc_dynamic_data().to_vec());
        found.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
        found.cryptogram_information_data = Some(vec![signature.cid()]);
        found.application_cryptogram = Some(signature.application_cryptogram().to_vec());
        found.transaction_data_hash_code = Some(signature.transaction_data_hash_code().to_vec());
        return Ok(found);
    }
    let formats = if method == "fdda" {
        SdadFormats::FDDA
    } else {
        SdadFormats::DDA
    };
    let signature = oda::verify_sdad(&icc, &sdad, &dynamic_data, formats).map_err(refused)?;
    found.icc_dynamic_data = Some(signature.icc_dynamic_data().to_vec());
    found.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
    Ok(found)
}

fn icc_key(
    case: &Case<'_>,
    issuer: &IssuerPublicKey,
    pan: &[u8],
    static_data: &[u8],
    today: Date,
) -> Result<IccPublicKey, Outcome> {
    let icc_object = case.required("icc")?;
    oda::recover_icc_public_key(
        issuer,
        &object_hex(icc_object, "certificate")?,
        &object_hex(icc_object, "remainder")?,
        &object_hex(icc_object, "exponent")?,
        pan,
        static_data,
        today,
    )
    .map_err(refused)
}

/// A CA key given as `{"rid", "index", "modulus", "exponent"}` (`oda` and `trace` cases). The
/// vectors give no checksum, so the key is built with its own.
pub(super) fn capk(object: &Value) -> Check<CaPublicKey> {
    let rid = Rid(object_hex(object, "rid")?
        .try_into()
        .map_err(|_| "capk.rid is not 5 bytes")?);
    let index = match object_hex(object, "index")?.as_slice() {
        [index] => CapkIndex(*index),
        _ => return Err("capk.index is not 1 byte".to_owned()),
    };
    let modulus = object_hex(object, "modulus")?;
    let exponent = object_hex(object, "exponent")?;
    let checksum = rsa_checksum(rid, index, &modulus, &exponent);
    CaPublicKey::new_rsa(
        rid,
        index,
        &modulus,
        &exponent,
        HashAlgorithm::Sha1,
        None,
        &checksum,
    )
    .map_err(|e| e.to_string())
}
