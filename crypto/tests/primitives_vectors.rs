//! Known-answer tests: every case of the primitive / issuer-side vector files in `vectors/`
//! (format `quickpass-vectors/1`, vectors/README.md §1 and §3.1–3.10), with every `expect`
//! field compared. An `expect` field the runner does not know fails the case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use quickpass_crypto::cipher::{BlockCipher, CipherAlgorithm};
use quickpass_crypto::emv;
use quickpass_crypto::kcv::key_check_value;
use quickpass_crypto::mac::{iso9797_1_mac, MacAlgorithm, Padding};
use quickpass_crypto::purse::{self, PurchaseMacData};
use quickpass_crypto::secret::SecretKey;
use quickpass_crypto::{hash, sm2};
use serde_json::{Map, Value};

type Case = Map<String, Value>;
type Outcome = Result<(), String>;

fn load(name: &str) -> Value {
    let path = format!("{}/../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(v["schema"], "quickpass-vectors/1", "{name}: schema");
    v
}

// ---- field access -------------------------------------------------------------------------

fn field<'a>(c: &'a Case, name: &str) -> Result<&'a Value, String> {
    c.get(name).ok_or_else(|| format!("missing field {name}"))
}

fn s<'a>(c: &'a Case, name: &str) -> Result<&'a str, String> {
    field(c, name)?
        .as_str()
        .ok_or_else(|| format!("{name} is not a string"))
}

fn hx(c: &Case, name: &str) -> Result<Vec<u8>, String> {
    let text = s(c, name)?;
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(format!("{name}: hex must be uppercase"));
    }
    hex::decode(text).map_err(|e| format!("{name}: {e}"))
}

fn hx_opt(c: &Case, name: &str) -> Result<Option<Vec<u8>>, String> {
    if c.contains_key(name) {
        hx(c, name).map(Some)
    } else {
        Ok(None)
    }
}

fn arr<const N: usize>(c: &Case, name: &str) -> Result<[u8; N], String> {
    hx(c, name)?
        .try_into()
        .map_err(|v: Vec<u8>| format!("{name}: expected {N} bytes, got {}", v.len()))
}

fn int(c: &Case, name: &str) -> Result<u64, String> {
    field(c, name)?
        .as_u64()
        .ok_or_else(|| format!("{name} is not a non-negative integer"))
}

fn int_as<T: TryFrom<u64>>(c: &Case, name: &str) -> Result<T, String> {
    T::try_from(int(c, name)?).map_err(|_| format!("{name}: out of range"))
}

fn expect(c: &Case) -> Result<&Case, String> {
    let e = field(c, "expect")?
        .as_object()
        .ok_or("expect is not an object")?;
    if e.is_empty() {
        return Err("expect is empty".into());
    }
    Ok(e)
}

/// Fails on any `expect` field not in `known`, so no expectation is silently skipped.
fn only_known(e: &Case, known: &[&str]) -> Outcome {
    match e.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("unsupported expect field {k}")),
        None => Ok(()),
    }
}

fn eq_bytes(what: &str, got: &[u8], want: &[u8]) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what} mismatch: got {}, want {}",
            hex::encode_upper(got),
            hex::encode_upper(want)
        ))
    }
}

/// DES keys compare with the parity bit (least significant bit) of every byte ignored.
fn eq_des_key(what: &str, got: &[u8], want: &[u8]) -> Outcome {
    let strip = |k: &[u8]| k.iter().map(|b| b & 0xFE).collect::<Vec<_>>();
    if got.len() == want.len() && strip(got) == strip(want) {
        Ok(())
    } else {
        Err(format!(
            "{what} mismatch (parity ignored): got {}, want {}",
            hex::encode_upper(got),
            hex::encode_upper(want)
        ))
    }
}

fn cipher_alg(name: &str) -> Result<CipherAlgorithm, String> {
    match name {
        "des" => Ok(CipherAlgorithm::Des),
        "tdes" => Ok(CipherAlgorithm::Tdes),
        "sm4" => Ok(CipherAlgorithm::Sm4),
        "aes" => Ok(CipherAlgorithm::Aes),
        other => Err(format!("unsupported algorithm {other}")),
    }
}

fn padding(c: &Case) -> Result<Padding, String> {
    let n = int(c, "padding")?;
    u8::try_from(n)
        .ok()
        .and_then(Padding::from_method)
        .ok_or_else(|| format!("unsupported padding {n}"))
}

// ---- kinds --------------------------------------------------------------------------------

fn run_hash(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["digest"])?;
    let alg = match s(c, "algorithm")? {
        "sha1" => hash::HashFunction::Sha1,
        "sha256" => hash::HashFunction::Sha256,
        "sm3" => hash::HashFunction::Sm3,
        other => return Err(format!("unsupported algorithm {other}")),
    };
    eq_bytes(
        "digest",
        &hash::digest(alg, &hx(c, "message")?),
        &hx(e, "digest")?,
    )
}

fn run_cipher(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["output"])?;
    let cipher = BlockCipher::new(cipher_alg(s(c, "algorithm")?)?, &hx(c, "key")?)
        .map_err(|err| err.to_string())?;
    let iterations = if c.contains_key("iterations") {
        int(c, "iterations")?
    } else {
        1
    };
    if iterations == 0 {
        return Err("iterations must be >= 1".into());
    }
    let encrypt = match s(c, "direction")? {
        "encrypt" => true,
        "decrypt" => false,
        other => return Err(format!("unsupported direction {other}")),
    };
    let mode = s(c, "mode")?;
    let iv = hx_opt(c, "iv")?;
    let mut data = hx(c, "input")?;
    for _ in 0..iterations {
        data = match (mode, encrypt, &iv) {
            ("ecb", true, _) => cipher.encrypt_ecb(&data),
            ("ecb", false, _) => cipher.decrypt_ecb(&data),
            ("cbc", true, Some(iv)) => cipher.encrypt_cbc(iv, &data),
            ("cbc", false, Some(iv)) => cipher.decrypt_cbc(iv, &data),
            ("cbc", _, None) => return Err("cbc without iv".into()),
            (other, _, _) => return Err(format!("unsupported mode {other}")),
        }
        .map_err(|err| err.to_string())?;
    }
    eq_bytes("output", &data, &hx(e, "output")?)
}

fn run_mac(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["mac"])?;
    let alg = match s(c, "algorithm")? {
        "iso9797-1-alg1" => MacAlgorithm::Alg1,
        "iso9797-1-alg2" => MacAlgorithm::Alg2,
        "iso9797-1-alg3" => MacAlgorithm::Alg3,
        other => return Err(format!("unsupported algorithm {other}")),
    };
    let cipher = match s(c, "cipher")? {
        "aes" => return Err("unsupported cipher aes".into()),
        other => cipher_alg(other)?,
    };
    let iv = hx_opt(c, "iv")?;
    let mac = iso9797_1_mac(
        alg,
        cipher,
        &hx(c, "key")?,
        padding(c)?,
        &hx(c, "message")?,
        iv.as_deref(),
    )
    .map_err(|err| err.to_string())?;
    eq_bytes("mac", &mac, &hx(e, "mac")?)
}

fn kcv_prefix(alg: CipherAlgorithm, key: &[u8], want: &[u8]) -> Outcome {
    let kcv = key_check_value(alg, key).map_err(|err| err.to_string())?;
    if want.is_empty() || want.len() > kcv.len() {
        return Err(format!("kcv length {} out of range", want.len()));
    }
    eq_bytes("kcv", &kcv[..want.len()], want)
}

fn run_kcv(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["kcv"])?;
    let alg = match s(c, "algorithm")? {
        "aes" => return Err("unsupported algorithm aes".into()),
        other => cipher_alg(other)?,
    };
    kcv_prefix(alg, &hx(c, "key")?, &hx(e, "kcv")?)
}

fn psn(c: &Case) -> Result<u8, String> {
    Ok(arr::<1>(c, "psn")?[0])
}

fn run_key_derivation(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["key", "kcv"])?;
    let err = |x: emv::EmvKeyError| x.to_string();
    let key: SecretKey = match s(c, "method")? {
        "emv-option-a" => emv::derive_icc_master_key_option_a(
            &arr::<16>(c, "issuer_master_key")?,
            s(c, "pan")?,
            psn(c)?,
        )
        .map_err(err)?,
        "emv-option-b" => emv::derive_icc_master_key_option_b(
            &arr::<16>(c, "issuer_master_key")?,
            s(c, "pan")?,
            psn(c)?,
        )
        .map_err(err)?,
        "emv-csk" => {
            emv::common_session_key(&arr::<16>(c, "icc_master_key")?, arr(c, "r")?).map_err(err)?
        }
        "mastercard-skd" => emv::mastercard_session_key(
            &arr::<16>(c, "icc_master_key")?,
            arr(c, "atc")?,
            arr(c, "un")?,
        )
        .map_err(err)?,
        "visa-sm-session" => {
            emv::visa_sm_session_key(&arr::<16>(c, "icc_master_key")?, arr(c, "atc")?)
                .map_err(err)?
        }
        "pboc-ac-session" => {
            emv::pboc_ac_session_key(&arr::<16>(c, "icc_master_key")?, arr(c, "atc")?)
                .map_err(err)?
        }
        "emv2000-tree" => emv::emv2000_tree_session_key(
            &arr::<16>(c, "icc_master_key")?,
            arr(c, "atc")?,
            int_as(c, "height")?,
            int_as(c, "branch_factor")?,
            arr(c, "iv")?,
        )
        .map_err(err)?,
        other => return Err(format!("unsupported method {other}")),
    };
    eq_des_key("key", key.as_bytes(), &hx(e, "key")?)?;
    if let Some(want) = hx_opt(e, "kcv")? {
        kcv_prefix(CipherAlgorithm::Tdes, key.as_bytes(), &want)?;
    }
    Ok(())
}

fn run_cryptogram(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["cryptogram"])?;
    if s(c, "method")? != "emv-ac" {
        return Err(format!("unsupported method {}", s(c, "method")?));
    }
    let data = hx(c, "data")?;
    // Informational, but cheap to check: `data` is the concatenation of `fields`.
    if let Some(fields) = c.get("fields") {
        let fields = fields.as_array().ok_or("fields is not an array")?;
        let mut joined = Vec::new();
        for f in fields {
            let f = f.as_object().ok_or("field is not an object")?;
            joined.extend(hx(f, "value")?);
        }
        eq_bytes("fields concatenation", &joined, &data)?;
    }
    let ac = emv::application_cryptogram(&arr::<16>(c, "key")?, &data, padding(c)?)
        .map_err(|err| err.to_string())?;
    eq_bytes("cryptogram", &ac, &hx(e, "cryptogram")?)
}

fn run_arpc(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["arpc"])?;
    let key = arr::<16>(c, "key")?;
    let arqc = arr(c, "arqc")?;
    let got = match int(c, "method")? {
        1 => emv::arpc_method_1(&key, arqc, arr(c, "arc")?)
            .map_err(|err| err.to_string())?
            .to_vec(),
        2 => {
            let prop = hx_opt(c, "proprietary_data")?.unwrap_or_default();
            emv::arpc_method_2(&key, arqc, arr(c, "csu")?, &prop)
                .map_err(|err| err.to_string())?
                .to_vec()
        }
        other => return Err(format!("unsupported method {other}")),
    };
    eq_bytes("arpc", &got, &hx(e, "arpc")?)
}

fn run_purse(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["session_key", "mac1", "mac2"])?;
    if s(c, "cipher")? != "tdes" {
        return Err(format!("unsupported cipher {}", s(c, "cipher")?));
    }
    let key = arr::<16>(c, "key")?;
    let card_random = arr(c, "card_random")?;
    let counter: u16 = int_as(c, "counter")?;
    let amount: u32 = int_as(c, "amount")?;
    let transaction_type = arr::<1>(c, "transaction_type")?[0];
    let terminal_id = arr(c, "terminal_id")?;
    let err = |x: purse::PurseError| x.to_string();
    let mac_data = || -> Result<PurchaseMacData, String> {
        Ok(PurchaseMacData {
            amount,
            transaction_type,
            terminal_id,
            date: arr(c, "date")?,
            time: arr(c, "time")?,
        })
    };
    let (sk, mac1, mac2) = match s(c, "operation")? {
        "purchase" => {
            let sk = purse::purchase_session_key(
                &key,
                card_random,
                counter,
                int_as(c, "terminal_serial")?,
            )
            .map_err(err)?;
            let mac1 = purse::purchase_mac1(&sk, &mac_data()?).map_err(err)?;
            let mac2 = purse::purchase_mac2(&sk, amount).map_err(err)?;
            (sk, mac1, mac2)
        }
        "load" => {
            let sk = purse::load_session_key(&key, card_random, counter).map_err(err)?;
            let mac1 = purse::load_mac1(
                &sk,
                int_as(c, "balance")?,
                amount,
                transaction_type,
                terminal_id,
            )
            .map_err(err)?;
            let mac2 = purse::load_mac2(&sk, &mac_data()?).map_err(err)?;
            (sk, mac1, mac2)
        }
        other => return Err(format!("unsupported operation {other}")),
    };
    if let Some(want) = hx_opt(e, "session_key")? {
        eq_des_key("session_key", sk.as_bytes(), &want)?;
    }
    if let Some(want) = hx_opt(e, "mac1")? {
        eq_bytes("mac1", &mac1, &want)?;
    }
    if let Some(want) = hx_opt(e, "mac2")? {
        eq_bytes("mac2", &mac2, &want)?;
    }
    Ok(())
}

fn run_sm2(c: &Case) -> Outcome {
    let e = expect(c)?;
    only_known(e, &["za", "e", "valid", "signature", "ciphertext"])?;
    match field(c, "curve")?.as_str() {
        Some("sm2p256v1") => {}
        _ => return Err("unsupported curve".into()),
    }
    let err = |x: sm2::Sm2Error| x.to_string();
    let public_key = hx(c, "public_key")?;
    if let Some(d) = hx_opt(c, "private_key")? {
        let d: [u8; 32] = d.try_into().map_err(|_| "private_key: 32 bytes")?;
        eq_bytes(
            "public key of private_key",
            &sm2::public_key_from_private(&d).map_err(err)?,
            &public_key,
        )?;
    }
    let message = hx(c, "message")?;
    let user_id = hx_opt(c, "user_id")?;
    if let Some(want) = hx_opt(e, "za")? {
        let id = user_id.as_deref().ok_or("za needs user_id")?;
        eq_bytes("za", &sm2::za(&public_key, id).map_err(err)?, &want)?;
    }
    if let Some(want) = hx_opt(e, "e")? {
        let id = user_id.as_deref().ok_or("e needs user_id")?;
        eq_bytes(
            "e",
            &sm2::message_digest(&public_key, id, &message).map_err(err)?,
            &want,
        )?;
    }
    match s(c, "operation")? {
        "verify" => {
            only_known(e, &["za", "e", "valid"])?;
            let want = field(e, "valid")?.as_bool().ok_or("valid is not a bool")?;
            let id = user_id.as_deref().ok_or("verify needs user_id")?;
            let got = sm2::verify(&public_key, id, &message, &hx(c, "signature")?).is_ok();
            if got != want {
                return Err(format!("valid: got {got}, want {want}"));
            }
        }
        "sign" => {
            only_known(e, &["za", "e", "signature"])?;
            let d: [u8; 32] = arr(c, "private_key")?;
            let id = user_id.as_deref().ok_or("sign needs user_id")?;
            let sig = sm2::sign_with_k(&d, id, &message, &arr(c, "k")?).map_err(err)?;
            eq_bytes("signature", &sig, &hx(e, "signature")?)?;
            sm2::verify(&public_key, id, &message, &sig).map_err(err)?;
        }
        "encrypt" => {
            only_known(e, &["za", "e", "ciphertext"])?;
            let ct = sm2::encrypt_with_k(&public_key, &arr(c, "k")?, &message).map_err(err)?;
            eq_bytes("ciphertext", &ct, &hx(e, "ciphertext")?)?;
        }
        other => return Err(format!("unsupported operation {other}")),
    }
    Ok(())
}

fn run_case(kind: &str, c: &Case) -> Outcome {
    match kind {
        "hash" => run_hash(c),
        "cipher" => run_cipher(c),
        "mac" => run_mac(c),
        "kcv" => run_kcv(c),
        "key_derivation" => run_key_derivation(c),
        "cryptogram" => run_cryptogram(c),
        "arpc" => run_arpc(c),
        "purse" => run_purse(c),
        "sm2" => run_sm2(c),
        other => Err(format!("unsupported kind {other}")),
    }
}

/// Runs every case of `name`, asserting that the file's kind is `kind` and that all pass.
fn run_file(name: &str, kind: &str) {
    let v = load(name);
    assert_eq!(v["kind"], kind, "{name}: kind");
    let cases = v["cases"].as_array().expect("cases array");
    assert!(!cases.is_empty(), "{name}: no cases");
    let mut failures = Vec::new();
    for case in cases {
        let case = case.as_object().expect("case object");
        let id = case.get("id").and_then(Value::as_str).unwrap_or("?");
        if let Err(reason) = run_case(kind, case) {
            failures.push(format!("FAIL {name}#{id}: {reason}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn hash_sm3() {
    run_file("hash-sm3.json", "hash");
}

#[test]
fn cipher_sm4() {
    run_file("cipher-sm4.json", "cipher");
}

#[test]
fn mac_iso9797() {
    run_file("mac-iso9797.json", "mac");
}

#[test]
fn mac_emv_secure_messaging() {
    run_file("mac-emv-secure-messaging.json", "mac");
}

#[test]
fn kcv_tdes() {
    run_file("kcv-tdes.json", "kcv");
}

#[test]
fn key_derivation_emv() {
    run_file("key-derivation-emv.json", "key_derivation");
}

#[test]
fn key_derivation_pboc() {
    run_file("key-derivation-pboc.json", "key_derivation");
}

#[test]
fn cryptogram_emv() {
    run_file("cryptogram-emv.json", "cryptogram");
}

#[test]
fn arpc_emv() {
    run_file("arpc-emv.json", "arpc");
}

#[test]
fn purse_pboc_load() {
    run_file("purse-pboc-load.json", "purse");
}

#[test]
fn sm2_gmt0003() {
    run_file("sm2-gmt0003.json", "sm2");
}

/// The runner itself must be able to fail: flipping one bit of any expected value, or adding an
/// unknown expect field, makes every case of every file fail.
#[test]
fn runner_rejects_tampered_cases() {
    for (name, kind) in [
        ("hash-sm3.json", "hash"),
        ("cipher-sm4.json", "cipher"),
        ("mac-iso9797.json", "mac"),
        ("mac-emv-secure-messaging.json", "mac"),
        ("kcv-tdes.json", "kcv"),
        ("key-derivation-emv.json", "key_derivation"),
        ("key-derivation-pboc.json", "key_derivation"),
        ("cryptogram-emv.json", "cryptogram"),
        ("arpc-emv.json", "arpc"),
        ("purse-pboc-load.json", "purse"),
        ("sm2-gmt0003.json", "sm2"),
    ] {
        let v = load(name);
        for case in v["cases"].as_array().unwrap() {
            let case = case.as_object().unwrap();
            if case.get("iterations").is_some() {
                continue; // the million-iteration case is slow; it is run once above
            }
            let id = &case["id"];
            let expect = case["expect"].as_object().unwrap();
            for (field_name, value) in expect {
                let mut tampered = case.clone();
                let new_value = match value {
                    // Flip bit 1 (not the DES parity bit 0) of the last byte.
                    Value::String(h) => {
                        let mut bytes = hex::decode(h).unwrap();
                        *bytes.last_mut().unwrap() ^= 0x02;
                        Value::String(hex::encode_upper(bytes))
                    }
                    Value::Bool(b) => Value::Bool(!b),
                    other => panic!("{name}#{id}: unexpected expect value {other}"),
                };
                tampered["expect"]
                    .as_object_mut()
                    .unwrap()
                    .insert(field_name.clone(), new_value);
                assert!(
                    run_case(kind, &tampered).is_err(),
                    "{name}#{id}: tampered {field_name} still passes"
                );
            }
            let mut extra = case.clone();
            extra["expect"]
                .as_object_mut()
                .unwrap()
                .insert("unknown_field".into(), Value::Bool(true));
            assert!(
                run_case(kind, &extra).is_err(),
                "{name}#{id}: unknown field"
            );
        }
    }
}
