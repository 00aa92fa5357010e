//! `arpc` cases (README §3.8): authorisation response cryptograms, methods 1 and 2.

use quickpass_crypto::emv;

use crate::conformance::case::{unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    let key: [u8; 16] = case.hex_array("key")?;
    let arqc: [u8; 8] = case.hex_array("arqc")?;
    match case.int("method")? {
        1 => {
            let arpc = emv::arpc_method_1(&key, arqc, case.hex_array("arc")?)
                .map_err(|e| e.to_string())?;
            case.expect_hex("arpc", &arpc)
        }
        2 => {
            let proprietary = case.hex_opt("proprietary_data")?.unwrap_or_default();
            let arpc = emv::arpc_method_2(&key, arqc, case.hex_array("csu")?, &proprietary)
                .map_err(|e| e.to_string())?;
            case.expect_hex("arpc", &arpc)
        }
        other => unsupported("method", &other.to_string()),
    }
}
