//! `kcv` cases (README §3.4): key check values.

use quickpass_crypto::kcv;

use super::cipher::algorithm as cipher_algorithm;
use crate::conformance::case::{Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    let algorithm = cipher_algorithm(case.str("algorithm")?)?;
    let full = kcv::key_check_value(algorithm, &case.hex("key")?).map_err(|e| e.to_string())?;
    compare_prefix(case, "kcv", &full)
}

/// Compares an expected check value with the leftmost bytes of `full`.
pub(super) fn compare_prefix(case: &Case<'_>, name: &str, full: &[u8]) -> Check {
    match case.expect(name) {
        None => Ok(()),
        Some(value) => {
            let want = crate::conformance::case::decode_hex(value, name)?;
            match full.get(..want.len()) {
                Some(got) if got == want.as_slice() && !want.is_empty() => Ok(()),
                _ => Err(format!(
                    "{name} mismatch: expected {}, got {}",
                    hex::encode_upper(&want),
                    hex::encode_upper(full)
                )),
            }
        }
    }
}
