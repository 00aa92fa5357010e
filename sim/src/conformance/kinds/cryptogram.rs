//! `cryptogram` cases (README §3.7): application cryptograms over assembled data.

use quickpass_crypto::emv;

use super::mac::padding;
use crate::conformance::case::{decode_hex, unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    case.informational(&["scheme"]);
    match case.str("method")? {
        "emv-ac" => {}
        other => return unsupported("method", other),
    }
    let key: [u8; 16] = case.hex_array("key")?;
    let data = case.hex("data")?;
    check_fields(case, &data)?;
    let padding = padding(case.int("padding")?)?;
    let cryptogram =
        emv::application_cryptogram(&key, &data, padding).map_err(|e| e.to_string())?;
    case.expect_hex("cryptogram", &cryptogram)
}

/// `fields` is informational, but when present its values must concatenate to `data`.
fn check_fields(case: &Case<'_>, data: &[u8]) -> Check {
    let Some(fields) = case.input("fields") else {
        return Ok(());
    };
    let mut assembled = Vec::new();
    for field in fields.as_array().ok_or("fields is not an array")? {
        let value = field.get("value").ok_or("field without value")?;
        assembled.extend(decode_hex(value, "fields.value")?);
    }
    if assembled == data {
        Ok(())
    } else {
        Err("fields do not concatenate to data".to_owned())
    }
}
