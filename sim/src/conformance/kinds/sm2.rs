//! `sm2` cases (README §3.10): SM2 signatures, verification and encryption.

use quickpass_crypto::sm2;

use crate::conformance::case::{unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    match case.str("curve")? {
        "sm2p256v1" => {}
        other => return unsupported("curve", other),
    }
    let public_key = case.hex("public_key")?;
    let private_key = case.hex_opt("private_key")?;
    if let Some(private_key) = &private_key {
        let private_key: [u8; 32] = private_key
            .as_slice()
            .try_into()
            .map_err(|_| "private_key is not 32 bytes")?;
        let derived = sm2::public_key_from_private(&private_key).map_err(|e| e.to_string())?;
        if strip_prefix(&derived) != strip_prefix(&public_key) {
            return Err("private_key does not match public_key".to_owned());
        }
    }
    match case.str("operation")? {
        "sign" | "verify" => {
            let user_id = case.hex("user_id")?;
            let message = case.hex("message")?;
            let za = sm2::za(&public_key, &user_id).map_err(|e| e.to_string())?;
            case.expect_hex("za", &za)?;
            let e =
                sm2::message_digest(&public_key, &user_id, &message).map_err(|e| e.to_string())?;
            case.expect_hex("e", &e)?;
            if case.str("operation")? == "sign" {
                let private_key = private_key.ok_or("sign needs private_key")?;
                let private_key: [u8; 32] = private_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| "private_key is not 32 bytes")?;
                let k: [u8; 32] = case.hex_array("k")?;
                let signature = sm2::sign_with_k(&private_key, &user_id, &message, &k)
                    .map_err(|e| e.to_string())?;
                case.expect_hex("signature", &signature)
            } else {
                let signature = case.hex("signature")?;
                let valid = sm2::verify(&public_key, &user_id, &message, &signature).is_ok();
                case.expect_bool("valid", valid)
            }
        }
        "encrypt" => {
            let k: [u8; 32] = case.hex_array("k")?;
            let message = case.hex("message")?;
            let ciphertext =
                sm2::encrypt_with_k(&public_key, &k, &message).map_err(|e| e.to_string())?;
            case.expect_hex("ciphertext", &ciphertext)
        }
        other => unsupported("operation", other),
    }
}

fn strip_prefix(key: &[u8]) -> &[u8] {
    match key {
        [0x04, rest @ ..] if rest.len() == 64 => rest,
        other => other,
    }
}
