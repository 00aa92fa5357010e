//! `tlv` cases (README §3.11): BER-TLV parsing, valid and malformed.

use quickpass_kernel::tlv::{self, Tlv};
use serde_json::{json, Value};

use crate::conformance::case::{unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    let input = case.hex("input")?;
    let parsed = match case.str("mode")? {
        "single" => tlv::parse_single(&input).map(|one| vec![one]),
        "sequence" => tlv::parse_sequence(&input),
        other => return unsupported("mode", other),
    };
    case.expect_bool("ok", parsed.is_ok())?;
    if let Ok(objects) = parsed {
        let tree = objects.iter().map(node).collect::<Check<Vec<_>>>()?;
        case.expect_json("objects", &Value::Array(tree))?;
    }
    Ok(())
}

/// The README's parse-tree node for one object.
fn node(object: &Tlv<'_>) -> Check<Value> {
    let tag = object.tag().to_string();
    if object.is_constructed() {
        let children = object
            .children()
            .map(|child| node(&child.map_err(|e| e.to_string())?))
            .collect::<Check<Vec<_>>>()?;
        Ok(json!({"tag": tag, "children": children}))
    } else {
        Ok(json!({"tag": tag, "value": hex::encode_upper(object.value())}))
    }
}
