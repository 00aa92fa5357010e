//! `mac` cases (README §3.3): ISO/IEC 9797-1 MAC algorithms 1–3, full final block.

use quickpass_crypto::mac::{self, MacAlgorithm, Padding};

use super::cipher::algorithm as cipher_algorithm;
use crate::conformance::case::{unsupported, Case, Check};

/// Reads a vector `padding` value.
pub(super) fn padding(method: u64) -> Check<Padding> {
    match method {
        1 => Ok(Padding::Method1),
        2 => Ok(Padding::Method2),
        3 => Ok(Padding::Method3),
        other => unsupported("padding", &other.to_string()),
    }
}

pub(super) fn run(case: &Case<'_>) -> Check {
    let algorithm = match case.str("algorithm")? {
        "iso9797-1-alg1" => MacAlgorithm::Alg1,
        "iso9797-1-alg2" => MacAlgorithm::Alg2,
        "iso9797-1-alg3" => MacAlgorithm::Alg3,
        other => return unsupported("algorithm", other),
    };
    let cipher = cipher_algorithm(case.str("cipher")?)?;
    let padding = padding(case.int("padding")?)?;
    let key = case.hex("key")?;
    let message = case.hex("message")?;
    let iv = case.hex_opt("iv")?;
    let mac = mac::iso9797_1_mac(algorithm, cipher, &key, padding, &message, iv.as_deref())
        .map_err(|e| e.to_string())?;
    case.expect_hex("mac", &mac)
}
