//! `selection` cases (README §3.13): the PSE candidate list of a contact card.

use quickpass_kernel::selection::{self, CandidateList, TerminalAid};
use quickpass_kernel::transport::ApduLayer;
use quickpass_kernel::values::Aid;
use serde_json::{json, Value};

use crate::conformance::case::{decode_hex, unsupported, Case, Check};
use crate::replay::{Exchange, ReplayCard};

pub(super) fn run(case: &Case<'_>) -> Check {
    match case.str("method")? {
        "pse" => {}
        other => return unsupported("method", other),
    }
    let terminal_aids = terminal_aids(case.required("terminal_aids")?)?;
    let mut card = ReplayCard::new(exchanges(case.required("exchanges")?)?);
    let mut layer = ApduLayer::new(&mut card);
    let entries = selection::read_pse_directory(&mut layer).map_err(|e| e.to_string())?;
    let list = CandidateList::build(entries, &terminal_aids);
    let candidates: Vec<Value> = list
        .candidates
        .iter()
        .map(|c| {
            json!({
                "aid": c.entry.aid.to_string(),
                "label": c.entry.label,
                "priority": c.entry.priority.and_then(|p| p.order()),
                "confirmation_required": c.entry.priority.is_some_and(|p| p.confirmation_required()),
            })
        })
        .collect();
    case.expect_json("candidates", &Value::Array(candidates))?;
    case.expect_bool(
        "cardholder_selection_required",
        list.cardholder_selection_required(),
    )
}

/// Reads `terminal_aids` (README §3.13).
pub(super) fn terminal_aids(value: &Value) -> Check<Vec<TerminalAid>> {
    value
        .as_array()
        .ok_or("terminal_aids is not an array")?
        .iter()
        .map(|entry| {
            let aid = Aid::new(&decode_hex(entry.get("aid").ok_or("aid missing")?, "aid")?)
                .map_err(|e| e.to_string())?;
            let partial_match = match entry.get("match").and_then(Value::as_str) {
                Some("exact") => false,
                Some("partial") => true,
                Some(other) => return unsupported("match", other),
                None => return Err("terminal aid without match".to_owned()),
            };
            Ok(TerminalAid { aid, partial_match })
        })
        .collect()
}

/// Reads `exchanges` (README §4).
pub(super) fn exchanges(value: &Value) -> Check<Vec<Exchange>> {
    value
        .as_array()
        .ok_or("exchanges is not an array")?
        .iter()
        .map(|e| {
            Ok(Exchange {
                command: decode_hex(e.get("command").ok_or("command missing")?, "command")?,
                response: decode_hex(e.get("response").ok_or("response missing")?, "response")?,
            })
        })
        .collect()
}
