//! How the test tools (`transact`, `quickpass tap`) take a tap's inputs from the command line
//! and report its result: the text report and the JSON object whose fields outside scripts read
//! (`outcome`, `cryptogram_type`, `oda`, `tvr`, `tsi`, `aid`, `pan`, `apdus`, `ec_balance`,
//! `amount`, `atc`, `application_cryptogram`, `field_55`, `cvm`, `reason`, and `record`: the
//! clearing record, PAN masked). Sensitive values are masked by the kernel's record, clearing
//! record and dump; nothing here prints.

use std::fmt::Write as _;

use quickpass_kernel::config::KernelConfig;
use quickpass_kernel::contactless::TransactionResult;
use quickpass_kernel::values::TransactionDate;
use quickpass_kernel::{dump, tlv};

/// `--date YYMMDD`, or today's date from the system clock (China time).
pub fn transaction_date(text: Option<&str>) -> Result<TransactionDate, String> {
    let bcd = match text {
        Some(text) if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) => {
            hex::decode(text).map_err(|e| e.to_string())?
        }
        Some(_) => return Err("--date takes YYMMDD".into()),
        None => return Ok(quickpass::clock::now().0),
    };
    TransactionDate::from_bcd(&bcd).map_err(|e| format!("--date: {e}"))
}

/// `--un HEX`, or a fresh unpredictable number from the operating system.
pub fn unpredictable_number(text: Option<&str>) -> Result<[u8; 4], String> {
    match text {
        Some(text) => hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "--un takes 4 bytes of hex".to_owned()),
        None => quickpass::random::unpredictable_number().map_err(|e| e.to_string()),
    }
}

/// The JSON object of `transact --json` / `quickpass tap --json`. `record` is the tap's
/// clearing record ([`TransactionResult::clearing_record`]) in its masked form (PAN masked, no
/// PSN or expiry), `null` when the card gave no cryptogram (nothing to clear).
pub fn json(result: &TransactionResult, config: &KernelConfig) -> serde_json::Value {
    let clearing = result.clearing_record(config).map(|r| r.masked());
    let record = result.record();
    serde_json::json!({
        "outcome": record.outcome.as_str(),
        "cryptogram_type": record.cryptogram_type,
        "oda": record.oda,
        "tvr": record.tvr,
        "tsi": record.tsi,
        "aid": record.aid,
        "pan": record.pan,
        "apdus": record.apdus,
        "ec_balance": record.ec_balance,
        "amount": record.amount,
        "atc": record.atc,
        "application_cryptogram": record.application_cryptogram,
        "field_55": record.field_55,
        "cvm": record.cvm,
        "reason": record.reason,
        "record": clearing,
        "kernel": result.kernel.map(|k| k.as_str()),
        "outcome_parameters": outcome_parameters(&result.outcome_parameters),
    })
}

/// The Outcome Parameter Set as JSON (pboc-notes §8.1): its fields, with the UI requests'
/// message and status codes and the C-2 wire form (`DF8129`) in hex.
fn outcome_parameters(
    set: &quickpass_kernel::outcome_parameters::OutcomeParameterSet,
) -> serde_json::Value {
    let ui = |request: Option<quickpass_kernel::outcome_parameters::UiRequest>| {
        request.map(|r| {
            serde_json::json!({
                "message": r.message,
                "message_id": format!("{:02X}", r.message.code()),
                "status": r.status,
                "hold_time_ms": r.hold_time.as_millis(),
                "value": r.value,
            })
        })
    };
    serde_json::json!({
        "outcome": set.outcome.as_str(),
        "start": set.start,
        "online_response_data": set.online_response_data,
        "cvm": set.cvm,
        "ui_request_on_outcome": ui(set.ui_request_on_outcome),
        "ui_request_on_restart": ui(set.ui_request_on_restart),
        "data_record_present": set.data_record_present,
        "discretionary_data_present": set.discretionary_data_present,
        "alternate_interface": set.alternate_interface,
        "receipt": set.receipt,
        "field_off_request_ms": set.field_off_request.map(|d| d.as_millis()),
        "removal_timeout_ms": set.removal_timeout.as_millis(),
        "bytes": hex::encode_upper(set.to_bytes()),
    })
}

/// The readable report: outcome, the record's fields, then every card data object and field 55
/// as a masked TLV dump.
pub fn text(result: &TransactionResult) -> String {
    let record = result.record();
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<17}{value}");
    };
    line("outcome", record.outcome.as_str().to_owned());
    if let Some(kernel) = result.kernel {
        line("kernel", kernel.as_str().to_owned());
    }
    if let Some(cvm) = record.cvm {
        line("cvm", cvm.to_owned());
    }
    if let Some(reason) = &record.reason {
        line("reason", reason.clone());
    }
    line(
        "application",
        record.aid.as_deref().unwrap_or("-").to_owned(),
    );
    line("PAN", record.pan.as_deref().unwrap_or("-").to_owned());
    line("amount", record.amount.to_string());
    line(
        "cryptogram",
        record.cryptogram_type.unwrap_or("-").to_owned(),
    );
    line("ODA", format!("{:?}", record.oda));
    line("TVR", format!("{} {:?}", record.tvr, result.tvr));
    line("TSI", format!("{} {:?}", record.tsi, result.tsi));
    if let Some(balance) = record.ec_balance {
        line("EC balance", balance.to_string());
    }
    line("APDUs", record.apdus.to_string());
    let card = result.card_phase.card();
    let mut objects = Vec::new();
    for tag in card.tags() {
        if let Some(value) = card.get(*tag) {
            tlv::encode(*tag, value, &mut objects);
        }
    }
    out.push_str("\ncard data (sensitive values masked):\n");
    out.push_str(&dump::dump(&objects));
    if let Some(field_55) = &result.field_55 {
        out.push_str("\nfield 55 for the host:\n");
        out.push_str(&dump::dump(field_55));
    }
    out
}
