//! `cipher` cases (README §3.2): block ciphers in ECB and CBC, possibly iterated.

use quickpass_crypto::cipher::{BlockCipher, CipherAlgorithm};

use crate::conformance::case::{unsupported, Case, Check};

/// Reads a vector `algorithm` value naming a block cipher.
pub(super) fn algorithm(name: &str) -> Check<CipherAlgorithm> {
    match name {
        "des" => Ok(CipherAlgorithm::Des),
        "tdes" => Ok(CipherAlgorithm::Tdes),
        "sm4" => Ok(CipherAlgorithm::Sm4),
        "aes" => Ok(CipherAlgorithm::Aes),
        other => unsupported("algorithm", other),
    }
}

pub(super) fn run(case: &Case<'_>) -> Check {
    let algorithm = algorithm(case.str("algorithm")?)?;
    let cipher = BlockCipher::new(algorithm, &case.hex("key")?).map_err(|e| e.to_string())?;
    let cbc = match case.str("mode")? {
        "ecb" => false,
        "cbc" => true,
        other => return unsupported("mode", other),
    };
    let iv = if cbc { Some(case.hex("iv")?) } else { None };
    let encrypt = match case.str("direction")? {
        "encrypt" => true,
        "decrypt" => false,
        other => return unsupported("direction", other),
    };
    let iterations = case.int_opt("iterations")?.unwrap_or(1);
    if iterations == 0 {
        return Err("iterations must be at least 1".to_owned());
    }
    let mut data = case.hex("input")?;
    for _ in 0..iterations {
        data = match (&iv, encrypt) {
            (None, true) => cipher.encrypt_ecb(&data),
            (None, false) => cipher.decrypt_ecb(&data),
            (Some(iv), true) => cipher.encrypt_cbc(iv, &data),
            (Some(iv), false) => cipher.decrypt_cbc(iv, &data),
        }
        .map_err(|e| e.to_string())?;
    }
    case.expect_hex("output", &data)
}
