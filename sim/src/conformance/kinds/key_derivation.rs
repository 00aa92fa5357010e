//! `key_derivation` cases (README §3.6): ICC master keys and session keys.

use quickpass_crypto::cipher::CipherAlgorithm;
use quickpass_crypto::{emv, kcv, secret::SecretKey};

use super::kcv::compare_prefix;
use crate::conformance::case::{decode_hex, unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    let key = derive(case)?;
    compare_des_key(case, "key", key.as_bytes())?;
    let check_value =
        kcv::key_check_value(CipherAlgorithm::Tdes, key.as_bytes()).map_err(|e| e.to_string())?;
    compare_prefix(case, "kcv", &check_value)
}

fn derive(case: &Case<'_>) -> Check<SecretKey> {
    let method = case.str("method")?;
    let result = match method {
        "emv-option-a" | "emv-option-b" => {
            let imk: [u8; 16] = case.hex_array("issuer_master_key")?;
            let pan = case.str("pan")?;
            let [psn] = case.hex_array::<1>("psn")?;
            if method == "emv-option-a" {
                emv::derive_icc_master_key_option_a(&imk, pan, psn)
            } else {
                emv::derive_icc_master_key_option_b(&imk, pan, psn)
            }
        }
        "emv-csk" => {
            let mk: [u8; 16] = case.hex_array("icc_master_key")?;
            emv::common_session_key(&mk, case.hex_array("r")?)
        }
        "mastercard-skd" => {
            let mk: [u8; 16] = case.hex_array("icc_master_key")?;
            emv::mastercard_session_key(&mk, case.hex_array("atc")?, case.hex_array("un")?)
        }
        "visa-sm-session" => {
            let mk: [u8; 16] = case.hex_array("icc_master_key")?;
            emv::visa_sm_session_key(&mk, case.hex_array("atc")?)
        }
        "pboc-ac-session" => {
            let mk: [u8; 16] = case.hex_array("icc_master_key")?;
            emv::pboc_ac_session_key(&mk, case.hex_array("atc")?)
        }
        "emv2000-tree" => {
            let mk: [u8; 16] = case.hex_array("icc_master_key")?;
            let height = u8::try_from(case.int("height")?).map_err(|e| e.to_string())?;
            let branch = u32::try_from(case.int("branch_factor")?).map_err(|e| e.to_string())?;
            emv::emv2000_tree_session_key(
                &mk,
                case.hex_array("atc")?,
                height,
                branch,
                case.hex_array("iv")?,
            )
        }
        other => return unsupported("method", other),
    };
    result.map_err(|e| e.to_string())
}

/// Compares an expected DES key ignoring every byte's parity bit (README §1.2).
pub(super) fn compare_des_key(case: &Case<'_>, name: &str, actual: &[u8]) -> Check {
    let Some(value) = case.expect(name) else {
        return Ok(());
    };
    let want = decode_hex(value, name)?;
    let strip = |key: &[u8]| key.iter().map(|b| b & 0xFE).collect::<Vec<u8>>();
    if strip(&want) == strip(actual) {
        Ok(())
    } else {
        Err(format!(
            "{name} mismatch (parity ignored): expected {}, got {}",
            hex::encode_upper(&want),
            hex::encode_upper(actual)
        ))
    }
}
