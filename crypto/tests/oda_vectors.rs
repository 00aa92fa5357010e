//! Runs every case of the `oda` vector files (vectors README §3.14) through the public API and
//! compares every `expect` field.
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

use std::collections::BTreeMap;

use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad, verify_ssad,
    IccPublicKey, IssuerPublicKey, OdaError, SdadFormats,
};
use quickpass_crypto::Date;
use serde_json::Value;

const FILES: &[(&str, &str)] = &[
    (
        "oda-proxmark3.json",
        include_str!("../../vectors/oda-proxmark3.json"),
    ),
    (
        "oda-visa-debit-fdda.json",
        include_str!("../../vectors/oda-visa-debit-fdda.json"),
    ),
];

fn hx(case: &Value, path: &[&str]) -> Vec<u8> {
    let mut v = case;
    for p in path {
        v = &v[*p];
    }
    hex::decode(v.as_str().unwrap_or_else(|| panic!("missing {path:?}"))).unwrap()
}

fn enc(b: &[u8]) -> String {
    hex::encode_upper(b)
}

type Fields = BTreeMap<&'static str, String>;

fn issuer(case: &Value, out: &mut Fields) -> Result<IssuerPublicKey, OdaError> {
    let rid = Rid(hx(case, &["capk", "rid"]).try_into().unwrap());
    let index = CapkIndex(hx(case, &["capk", "index"])[0]);
    let modulus = hx(case, &["capk", "modulus"]);
    let exponent = hx(case, &["capk", "exponent"]);
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
    let key = recover_issuer_public_key(
        &capk,
        &hx(case, &["issuer", "certificate"]),
        &hx(case, &["issuer", "remainder"]),
        &hx(case, &["issuer", "exponent"]),
        &hx(case, &["pan"]),
        today(case),
    )?;
    out.insert("issuer_public_key", enc(key.modulus().unwrap()));
    Ok(key)
}

fn today(case: &Value) -> Date {
    Date::from_yymmdd(case["today"].as_str().unwrap()).unwrap()
}

fn icc(case: &Value, issuer: &IssuerPublicKey, out: &mut Fields) -> Result<IccPublicKey, OdaError> {
    let key = recover_icc_public_key(
        issuer,
        &hx(case, &["icc", "certificate"]),
        &hx(case, &["icc", "remainder"]),
        &hx(case, &["icc", "exponent"]),
        &hx(case, &["pan"]),
        &hx(case, &["static_data"]),
        today(case),
    )?;
    out.insert("icc_public_key", enc(key.modulus().unwrap()));
    Ok(key)
}

fn sdad(
    case: &Value,
    key: &IccPublicKey,
    accept: SdadFormats,
    out: &mut Fields,
) -> Result<(), OdaError> {
    let sig = verify_sdad(
        key,
        &hx(case, &["sdad"]),
        &hx(case, &["dynamic_data"]),
        accept,
    )?;
    out.insert("icc_dynamic_data", enc(sig.icc_dynamic_data()));
    out.insert("icc_dynamic_number", enc(sig.icc_dynamic_number()));
    Ok(())
}

fn run(case: &Value) -> Result<Fields, String> {
    let mut out = Fields::new();
    let method = case["method"].as_str().unwrap();
    let r: Result<(), OdaError> = (|| {
        match method {
            "issuer-certificate" => {
                issuer(case, &mut out)?;
            }
            "icc-certificate" => {
                let i = issuer(case, &mut out)?;
                icc(case, &i, &mut out)?;
            }
            "sda" => {
                let i = issuer(case, &mut out)?;
                let dac = verify_ssad(&i, &hx(case, &["ssad"]), &hx(case, &["static_data"]))?;
                out.insert("data_authentication_code", enc(&dac.value()));
            }
            "dda" | "fdda" => {
                let i = issuer(case, &mut out)?;
                let k = icc(case, &i, &mut out)?;
                let accept = if method == "dda" {
                    SdadFormats::DDA
                } else {
                    SdadFormats::FDDA
                };
                sdad(case, &k, accept, &mut out)?;
            }
            "cda" => {
                let i = issuer(case, &mut out)?;
                let k = icc(case, &i, &mut out)?;
                let td = hx(case, &["transaction_data"]);
                let sig = verify_cda(
                    &k,
                    &hx(case, &["sdad"]),
                    &hx(case, &["dynamic_data"]),
                    &[&td],
                    hx(case, &["cid"])[0],
                )?;
                out.insert("icc_dynamic_data", enc(sig.icc_dynamic_data()));
                out.insert("icc_dynamic_number", enc(sig.icc_dynamic_number()));
                out.insert("cryptogram_information_data", enc(&[sig.cid()]));
                out.insert("application_cryptogram", enc(sig.application_cryptogram()));
                out.insert(
                    "transaction_data_hash_code",
                    enc(sig.transaction_data_hash_code()),
                );
            }
            "sdad" => {
                let k = IccPublicKey::from_raw_parts_unverified(
                    &hx(case, &["icc_public_key", "modulus"]),
                    &hx(case, &["icc_public_key", "exponent"]),
                )?;
                sdad(case, &k, SdadFormats::FDDA, &mut out)?;
            }
            other => panic!("unsupported method {other}"),
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(out),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn every_oda_vector_case() {
    let mut report = Vec::new();
    let mut failed = 0;
    let mut total = 0;
    for (name, text) in FILES {
        let file: Value = serde_json::from_str(text).unwrap();
        assert_eq!(file["schema"], "quickpass-vectors/1");
        assert_eq!(file["kind"], "oda");
        for case in file["cases"].as_array().unwrap() {
            total += 1;
            let id = case["id"].as_str().unwrap();
            let expect = case["expect"].as_object().unwrap();
            let result = run(case);
            let mut problems = Vec::new();
            match (expect["result"].as_str().unwrap(), &result) {
                ("ok", Ok(fields)) => {
                    for (k, v) in expect {
                        if k == "result" {
                            continue;
                        }
                        match fields.get(k.as_str()) {
                            Some(got) if got == v.as_str().unwrap() => {}
                            Some(got) => problems.push(format!("{k}: got {got}, want {v}")),
                            None => problems.push(format!("{k}: not produced")),
                        }
                    }
                }
                ("ok", Err(e)) => problems.push(format!("refused: {e}")),
                ("fail", Ok(_)) => problems.push("accepted, expected fail".into()),
                ("fail", Err(_)) => {}
                (other, _) => problems.push(format!("unknown result {other}")),
            }
            if problems.is_empty() {
                report.push(format!(
                    "PASS {name}#{id}{}",
                    result
                        .err()
                        .map(|e| format!(" (refused: {e})"))
                        .unwrap_or_default()
                ));
            } else {
                failed += 1;
                report.push(format!("FAIL {name}#{id}: {}", problems.join("; ")));
            }
        }
    }
    println!("{}", report.join("\n"));
    println!("{} passed, {failed} failed", total - failed);
    assert_eq!(failed, 0, "{}", report.join("\n"));
    assert_eq!(total, 15);
}

/// The failing vector cases fail for the reason the case comment gives.
#[test]
fn failing_cases_fail_for_the_stated_reason() {
    let want: &[(&str, &str)] = &[
        ("pm3_sda_visa01_issuer_expired", "expired"),
        ("pm3_sda_visa01_static_data_changed", "hash result"),
        ("pm3_icc_mc05_icc_expired", "expired"),
        ("pm3_dda_mc05_wrong_un", "hash result"),
        ("pm3_cda_mc05_cid_mismatch", "CID"),
        (
            "pm3_cda_mc05_transaction_data_changed",
            "transaction data hash",
        ),
        (
            "visa_debit_comdirect_qvsdc_fdda_amount_changed",
            "hash result",
        ),
    ];
    for (_, text) in FILES {
        let file: Value = serde_json::from_str(text).unwrap();
        for case in file["cases"].as_array().unwrap() {
            let id = case["id"].as_str().unwrap();
            if let Some((_, reason)) = want.iter().find(|(i, _)| *i == id) {
                let err = run(case).unwrap_err();
                assert!(err.contains(reason), "{id}: {err}");
            }
        }
    }
}
