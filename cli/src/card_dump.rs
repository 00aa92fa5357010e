//! `quickpass dump`: everything a card shows without a transaction.
//!
//! PPSE and PSE directories; for each application its FCI; for an EMV/PBOC application a GPO
//! with a zero amount (reading needs the AFL; a GPO without a transaction is normal for a
//! reader), the AFL's records, the transaction and load logs (`9F4D` / `DF4D`) and the EC
//! balance (GET DATA `9F79`); for an ED/EP purse EF15 (READ BINARY), GET BALANCE and the EF18
//! transaction records. TLV data is shown through the kernel's [`dump`](quickpass::kernel::dump)
//! module, which masks the PAN and track 2 and hides other sensitive values; the purse card
//! number is masked too. Nothing is shown in clear that the kernel would hide.

use quickpass::kernel::apdu::{Command, Occurrence, Purse, Response};
use quickpass::kernel::config::TerminalConfig;
use quickpass::kernel::dol::Dol;
use quickpass::kernel::internal::afl::parse_afl;
use quickpass::kernel::internal::read_records::absorb_gpo_response;
use quickpass::kernel::purse::card::{CardInfo, PurseLogRecord};
use quickpass::kernel::selection::{self, DirectoryEntry};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Aid, Sfi};
use quickpass::kernel::CardData;
use quickpass::kernel::{dump, tags, tlv};
use quickpass::kernel::{read_log, LogKind};
use quickpass::kernel::{TerminalValues, TransactionInput};
use serde_json::{json, Value};

/// The ETC user card's ADF, selected by file identifier (it is in no directory).
const ETC_ADF: u16 = 0x1001;
/// EF15, public application information of a purse.
const SFI_EF15: u8 = 0x15;
/// EF18, the purse transaction log.
const SFI_EF18: u8 = 0x18;
/// At most this many records are read from one file (a hostile card cannot loop us forever).
const MAX_RECORDS: u8 = 50;

/// Reads everything from the card behind `transport` and returns it as one JSON object with an
/// array of applications. `config` supplies the terminal values for the PDOL; `input` has a
/// zero amount. No CA key is needed: nothing is authenticated.
pub fn read<T: Transport>(
    transport: T,
    config: &TerminalConfig,
    input: &TransactionInput,
) -> Value {
    let mut layer = ApduLayer::new(transport);
    let mut aids: Vec<(Aid, Option<String>)> = Vec::new();
    let ppse = directory(&mut layer, true, &mut aids);
    let pse = directory(&mut layer, false, &mut aids);
    let mut applications: Vec<Value> = aids
        .iter()
        .map(|(aid, label)| application(&mut layer, config, input, aid, label.as_deref()))
        .collect();
    // An ETC card's ADF is selected by file identifier and listed in no directory.
    if let Ok(response) = layer.exchange(&Command::select_file_id(ETC_ADF)) {
        if response.is_success() {
            let mut app = json!({
                "aid": null,
                "file_id": format!("{ETC_ADF:04X}"),
                "label": "ETC",
                "select_sw": sw(&response),
                "fci": tlv_text(&response.data),
            });
            app["purse"] = purse(&mut layer);
            applications.push(app);
        }
    }
    json!({
        "ppse": ppse,
        "pse": pse,
        "applications": applications,
        "apdus": layer.counters().apdus_sent,
    })
}

/// A directory (PPSE or PSE) as JSON, adding its applications to `aids` (no duplicates).
fn directory<T: Transport>(
    layer: &mut ApduLayer<T>,
    ppse: bool,
    aids: &mut Vec<(Aid, Option<String>)>,
) -> Value {
    let entries: Result<Vec<DirectoryEntry>, String> = if ppse {
        selection::read_ppse_directory(layer).map_err(|e| e.to_string())
    } else {
        selection::read_pse_directory(layer).map_err(|e| e.to_string())
    };
    match entries {
        Ok(entries) => {
            let list: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({
                        "aid": hex::encode_upper(e.aid.as_bytes()),
                        "label": e.label,
                        "preferred_name": e.preferred_name,
                        "priority": e.priority.map(|p| p.0),
                        "kernel_identifier": e.kernel_identifier.as_ref().map(hex::encode_upper),
                    })
                })
                .collect();
            for entry in entries {
                if !aids.iter().any(|(aid, _)| *aid == entry.aid) {
                    aids.push((entry.aid, entry.label));
                }
            }
            json!({ "entries": list })
        }
        Err(error) => json!({ "error": error }),
    }
}

fn application<T: Transport>(
    layer: &mut ApduLayer<T>,
    config: &TerminalConfig,
    input: &TransactionInput,
    aid: &Aid,
    label: Option<&str>,
) -> Value {
    let mut app = json!({
        "aid": hex::encode_upper(aid.as_bytes()),
        "label": label,
    });
    let response = match layer.exchange(&Command::select_aid(aid, Occurrence::First)) {
        Ok(response) => response,
        Err(error) => {
            app["error"] = json!(format!("SELECT: {error}"));
            return app;
        }
    };
    app["select_sw"] = json!(sw(&response));
    app["fci"] = json!(tlv_text(&response.data));
    if !response.is_success() {
        return app;
    }
    let fci = response.data;
    let has_pdol = tlv::parse_single(&fci)
        .ok()
        .and_then(|t| t.find(tags::PDOL).ok().flatten())
        .is_some();
    let unionpay = aid.rid() == [0xA0, 0x00, 0x00, 0x03, 0x33];
    if has_pdol || unionpay {
        emv(layer, config, input, aid, &fci, &mut app);
    } else {
        app["purse"] = purse(layer);
    }
    app
}

/// GPO with a zero amount, the AFL's records, logs and the EC balance.
fn emv<T: Transport>(
    layer: &mut ApduLayer<T>,
    config: &TerminalConfig,
    input: &TransactionInput,
    aid: &Aid,
    fci: &[u8],
    app: &mut Value,
) {
    let mut values = TerminalValues::new(config.terminal(), input);
    if let Some(parameters) = config.parameters_for(aid) {
        values.set_aid_parameters(parameters);
    }
    let pdol_data = tlv::parse_single(fci)
        .ok()
        .and_then(|t| {
            t.find(tags::PDOL)
                .ok()
                .flatten()
                .map(|p| p.value().to_vec())
        })
        .and_then(|p| Dol::parse(&p).ok())
        .map(|dol| dol.build(&values))
        .unwrap_or_default();
    let mut card = CardData::new();
    match Command::get_processing_options(&pdol_data).map(|gpo| layer.exchange(&gpo)) {
        Ok(Ok(response)) => {
            app["gpo"] = json!({ "sw": sw(&response), "response": tlv_text(&response.data) });
            if response.is_success() {
                if let Err(error) = absorb_gpo_response::<T::Error>(&mut card, &response.data) {
                    app["gpo"]["error"] = json!(error.to_string());
                }
            }
        }
        Ok(Err(error)) => app["gpo"] = json!({ "error": error.to_string() }),
        Err(error) => app["gpo"] = json!({ "error": error.to_string() }),
    }
    let mut records = Vec::new();
    if let Some(afl) = card.get(tags::AFL) {
        match parse_afl(afl) {
            Ok(entries) => {
                for entry in entries {
                    for record in entry.first..=entry.last {
                        records.push(read_record(layer, entry.sfi, record));
                    }
                }
            }
            Err(error) => app["afl_error"] = json!(error.to_string()),
        }
    }
    app["records"] = json!(records);
    app["transaction_log"] = log(layer, fci, LogKind::Transactions);
    app["load_log"] = log(layer, fci, LogKind::Loads);
    app["ec_balance"] = match Command::get_data(tags::EC_BALANCE).map(|c| layer.exchange(&c)) {
        Ok(Ok(response)) if response.is_success() => tlv::parse_single(&response.data)
            .ok()
            .filter(|t| t.tag() == tags::EC_BALANCE)
            .and_then(|t| bcd_number(t.value()))
            .map_or(Value::Null, |n| json!(n)),
        _ => Value::Null,
    };
}

fn read_record<T: Transport>(layer: &mut ApduLayer<T>, sfi: Sfi, record: u8) -> Value {
    let result = Command::read_record(record, sfi)
        .map_err(|e| e.to_string())
        .and_then(|c| layer.exchange(&c).map_err(|e| e.to_string()));
    match result {
        Ok(response) => json!({
            "sfi": sfi.value(),
            "record": record,
            "sw": sw(&response),
            "data": tlv_text(&response.data),
        }),
        Err(error) => json!({ "sfi": sfi.value(), "record": record, "error": error }),
    }
}

/// A log (`9F4D` / `DF4D` entry in the FCI), each record's fields shown masked.
fn log<T: Transport>(layer: &mut ApduLayer<T>, fci: &[u8], kind: LogKind) -> Value {
    match read_log(layer, fci, kind) {
        Ok(records) => json!(records
            .iter()
            .map(|r| {
                let mut objects = Vec::new();
                for (tag, value) in &r.fields {
                    tlv::encode(*tag, value, &mut objects);
                }
                json!({
                    "number": r.number,
                    "prefix": hex::encode_upper(&r.prefix),
                    "data": dump::dump(&objects),
                })
            })
            .collect::<Vec<_>>()),
        Err(quickpass::kernel::LogError::NoLog) => Value::Null,
        Err(error) => json!({ "error": error.to_string() }),
    }
}

/// EF15 (card number masked), the EP balance and the EF18 records of a selected purse.
fn purse<T: Transport>(layer: &mut ApduLayer<T>) -> Value {
    let mut purse = json!({});
    let ef15 = Sfi::new(SFI_EF15)
        .map_err(|e| e.to_string())
        .and_then(|sfi| {
            layer
                .exchange(&Command::read_binary_sfi(sfi, 0, 0))
                .map_err(|e| e.to_string())
        });
    purse["ef15"] = match ef15 {
        Ok(response) if response.is_success() => ef15_json(&response.data),
        Ok(response) => json!({ "sw": sw(&response) }),
        Err(error) => json!({ "error": error }),
    };
    purse["balance"] = match layer.exchange(&Command::get_balance(Purse::Purse)) {
        Ok(response) if response.is_success() => match <[u8; 4]>::try_from(response.data) {
            Ok(bytes) => json!(u32::from_be_bytes(bytes)),
            Err(_) => Value::Null,
        },
        _ => Value::Null,
    };
    let mut records = Vec::new();
    if let Ok(sfi) = Sfi::new(SFI_EF18) {
        for number in 1..=MAX_RECORDS {
            let Ok(command) = Command::read_record(number, sfi) else {
                break;
            };
            match layer.exchange(&command) {
                Ok(response) if response.is_success() => {
                    records.push(match PurseLogRecord::parse(&response.data) {
                        Ok(record) => json!({ "number": number, "record": record }),
                        Err(error) => json!({ "number": number, "error": error.to_string() }),
                    })
                }
                _ => break,
            }
        }
    }
    purse["ef18"] = json!(records);
    purse
}

/// EF15: the card number masked (first and last 4 digits), dates, length. Tried as a one-level
/// layout (T-Union, city) and, when that fails, as given.
fn ef15_json(ef15: &[u8]) -> Value {
    match CardInfo::parse(ef15, false, false) {
        Ok(info) => json!({
            "length": ef15.len(),
            "card_number": info.number.masked(),
            "start_date": info.start_date.to_string(),
            "expiry_date": info.expiry_date.to_string(),
        }),
        Err(error) => json!({ "length": ef15.len(), "error": error.to_string() }),
    }
}

/// `n` digits (BCD) to a number; `None` when not BCD.
fn bcd_number(bytes: &[u8]) -> Option<u64> {
    let text = hex::encode(bytes);
    if text.len() > 18 {
        return None;
    }
    text.parse().ok()
}

fn sw(response: &Response) -> String {
    format!("{:04X}", response.sw.0)
}

/// TLV data as the kernel's masked dump, or a note when it is not TLV.
fn tlv_text(data: &[u8]) -> String {
    if data.is_empty() {
        String::new()
    } else {
        dump::dump(data)
    }
}

/// Prints the JSON of [`read`] as text.
pub fn print(value: &Value) {
    for (name, key) in [("PPSE", "ppse"), ("PSE", "pse")] {
        match value[key]["entries"].as_array() {
            Some(entries) => {
                outln!("{name}: {} application(s)", entries.len());
                for e in entries {
                    outln!(
                        "  {} {}",
                        e["aid"].as_str().unwrap_or("-"),
                        e["label"].as_str().unwrap_or("")
                    );
                }
            }
            None => outln!("{name}: {}", value[key]["error"].as_str().unwrap_or("-")),
        }
    }
    for app in value["applications"].as_array().into_iter().flatten() {
        outln!(
            "\n== application {} {} (SELECT {})",
            app["aid"]
                .as_str()
                .or(app["file_id"].as_str())
                .unwrap_or("-"),
            app["label"].as_str().unwrap_or(""),
            app["select_sw"].as_str().unwrap_or("-")
        );
        section("FCI", &app["fci"]);
        if let Some(gpo) = app.get("gpo") {
            outln!("-- GPO (zero amount) {}", gpo["sw"].as_str().unwrap_or("-"));
            section("", &gpo["response"]);
        }
        for record in app["records"].as_array().into_iter().flatten() {
            outln!(
                "-- record SFI {} #{} {}",
                record["sfi"],
                record["record"],
                record["sw"].as_str().unwrap_or("")
            );
            section("", &record["data"]);
        }
        for (name, key) in [
            ("transaction log", "transaction_log"),
            ("load log", "load_log"),
        ] {
            if let Some(records) = app[key].as_array() {
                outln!("-- {name}: {} record(s)", records.len());
                for r in records {
                    outln!("   #{} {}", r["number"], r["prefix"].as_str().unwrap_or(""));
                    section("", &r["data"]);
                }
            }
        }
        if !app["ec_balance"].is_null() {
            outln!("-- EC balance {}", app["ec_balance"]);
        }
        if let Some(purse) = app.get("purse") {
            outln!("-- purse EF15 {}", purse["ef15"]);
            outln!("-- purse balance {}", purse["balance"]);
            for r in purse["ef18"].as_array().into_iter().flatten() {
                outln!("   EF18 #{} {}", r["number"], r["record"]);
            }
        }
    }
    outln!("\nAPDUs {}", value["apdus"]);
}

fn section(title: &str, text: &Value) {
    if let Some(text) = text.as_str().filter(|t| !t.is_empty()) {
        if !title.is_empty() {
            outln!("-- {title}");
        }
        for line in text.lines() {
            outln!("   {line}");
        }
    }
}
