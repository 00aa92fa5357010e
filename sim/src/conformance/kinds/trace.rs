//! `trace` cases (README §3.15): a real card transcript replayed to the kernel (contactless or
//! contact flow), which must send the recorded commands and reach the recorded results.

use quickpass_crypto::capk::CapkStore;
use quickpass_kernel::config::{
    AidParameters, KernelConfig, TerminalConfig, TerminalConfigParts, TerminalData,
};
use quickpass_kernel::contact::{self, ContactInput, NoPinPad};
use quickpass_kernel::contactless::{self, CardPhase};
use quickpass_kernel::transport::ApduLayer;
use quickpass_kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass_kernel::OdaStatus;
use quickpass_kernel::Tag;
use quickpass_kernel::TransactionInput;
use serde_json::Value;

use super::dol::tag_map;
use super::selection::{exchanges, terminal_aids};
use crate::conformance::case::{decode_hex, object_hex, unsupported, Case, Check};
use crate::replay::ReplayCard;

pub(super) fn run(case: &Case<'_>) -> Check {
    let flow = match case.str("flow")? {
        "contactless" => Flow::Contactless,
        "contact" => Flow::Contact,
        other => return unsupported("flow", other),
    };
    let complete = case
        .required("complete")?
        .as_bool()
        .ok_or("complete is not a boolean")?;
    let terminal = case.required("terminal")?;
    let (input, overrides) = terminal_input(terminal)?;
    let config = config(case, terminal, flow, &overrides)?;
    let mut card = ReplayCard::new(exchanges(case.required("exchanges")?)?);
    let mut layer = ApduLayer::new(&mut card);
    let (cryptogram, oda) = match flow {
        Flow::Contactless => {
            let mut phase = CardPhase::new(&config, &input);
            let read = phase.read_with_overrides(&config, &overrides, &mut layer);
            if let Err(error) = &read {
                if complete {
                    return Err(format!("card phase failed: {error}"));
                }
            }
            compare_card_phase(case, &phase)?;
            let result = phase.complete(&config);
            (result.cryptogram_type, result.oda)
        }
        Flow::Contact => {
            // README §3.15: PSE selection, DDA with INTERNAL AUTHENTICATE, no cardholder (no
            // PIN pad); the run goes as far as the recording allows.
            let input = ContactInput::new(input);
            let mut progress = contact::Progress::new(&config, &input);
            let result = contact::start_with(
                &config,
                &input,
                &overrides,
                &mut layer,
                &mut NoPinPad,
                &mut progress,
            );
            if let Err(error) = &result {
                if complete {
                    return Err(format!("contact transaction failed: {error}"));
                }
            }
            compare_card_phase(case, &progress.card_phase)?;
            (
                contactless::cryptogram_type(progress.card_phase.card()),
                progress.oda,
            )
        }
    };
    case.expect_json(
        "cryptogram_type",
        &cryptogram
            .map(|c| Value::from(quickpass_kernel::internal::cryptogram_name(c)))
            .unwrap_or(Value::Null),
    )?;
    let oda_status = match oda.status() {
        OdaStatus::Ok => "ok",
        OdaStatus::Fail => "fail",
        OdaStatus::NotPerformed => "not-applicable",
    };
    case.expect_json("oda", &Value::from(oda_status))?;
    let signature_checked = oda.icc_dynamic_number.is_some();
    case.expect_json(
        "fdda_signature",
        &Value::from(if signature_checked {
            "valid"
        } else {
            "invalid"
        }),
    )?;
    compare_optional(case, "issuer_public_key", oda.issuer_public_key.as_deref())?;
    compare_optional(case, "icc_public_key", oda.icc_public_key.as_deref())?;
    compare_optional(
        case,
        "icc_dynamic_number",
        oda.icc_dynamic_number.as_deref(),
    )?;
    Ok(())
}

/// Which transaction a trace case replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Contactless,
    Contact,
}

fn compare_optional(case: &Case<'_>, name: &str, actual: Option<&[u8]>) -> Check {
    match actual {
        Some(bytes) => case.expect_hex(name, bytes),
        None if case.expect(name).is_some() => Err(format!("the kernel found no {name}")),
        None => Ok(()),
    }
}

/// Compares what the card phase settled.
fn compare_card_phase(case: &Case<'_>, phase: &CardPhase) -> Check {
    let card = phase.card();
    compare_optional(
        case,
        "selected_aid",
        phase.aid().as_ref().map(|a| a.as_bytes()),
    )?;
    // Compared without Le on both sides (README §3.15 and §4).
    if let Some(value) = case.expect("gpo_command") {
        let expected = decode_hex(value, "gpo_command")?;
        let expected = quickpass_kernel::apdu::core(&expected);
        match phase.gpo_command() {
            Some(sent) if quickpass_kernel::apdu::core(sent) == expected => {}
            sent => {
                return Err(format!(
                    "gpo_command mismatch: expected {}, got {}",
                    hex::encode_upper(expected),
                    sent.map(hex::encode_upper).unwrap_or_default()
                ))
            }
        }
    }
    case.expect_hex(
        "aip",
        card.get(quickpass_kernel::tags::AIP).unwrap_or_default(),
    )?;
    case.expect_hex(
        "afl",
        card.get(quickpass_kernel::tags::AFL).unwrap_or_default(),
    )?;
    if case.expect("static_data").is_some() {
        let data = phase
            .static_data()
            .map_err(|e| format!("static data: {e}"))?;
        case.expect_hex("static_data", data)?;
    }
    if let Some(expected) = case.expect("card_data") {
        let expected = tag_map(Some(expected), decode_hex)?;
        let mut wanted: Vec<_> = expected.into_iter().collect();
        wanted.sort_by_key(|(tag, _)| *tag);
        for (tag, value) in wanted {
            match card.get(tag) {
                Some(found) if found == value.as_slice() => {}
                Some(found) => {
                    return Err(format!(
                        "card_data {tag}: expected {}, got {}",
                        hex::encode_upper(&value),
                        hex::encode_upper(found)
                    ))
                }
                None => return Err(format!("card_data {tag} missing")),
            }
        }
    }
    case.expect_hex(
        "application_cryptogram",
        card.get(quickpass_kernel::tags::APPLICATION_CRYPTOGRAM)
            .unwrap_or_default(),
    )?;
    case.expect_hex(
        "atc",
        card.get(quickpass_kernel::tags::ATC).unwrap_or_default(),
    )
}

/// Terminal data objects exactly as the recorded terminal used them.
type Overrides = Vec<(Tag, Vec<u8>)>;

/// The transaction input and the recorded terminal's exact data objects.
fn terminal_input(terminal: &Value) -> Check<(TransactionInput, Overrides)> {
    let int = |name: &str| -> Check<u64> {
        terminal
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("terminal.{name} missing"))
    };
    let date_text = terminal
        .get("date")
        .and_then(Value::as_str)
        .ok_or("terminal.date missing")?;
    let date_bcd = hex::decode(date_text).map_err(|e| e.to_string())?;
    let date = TransactionDate::from_bcd(&date_bcd).map_err(|e| e.to_string())?;
    let time = match terminal.get("time").and_then(Value::as_str) {
        Some(text) => TransactionTime::from_bcd(&hex::decode(text).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
        None => TransactionTime::new(0, 0, 0).map_err(|e| e.to_string())?,
    };
    let [transaction_type] = <[u8; 1]>::try_from(object_hex(terminal, "transaction_type")?)
        .map_err(|_| "terminal.transaction_type is not 1 byte")?;
    let un: [u8; 4] = object_hex(terminal, "un")?
        .try_into()
        .map_err(|_| "terminal.un is not 4 bytes")?;
    let input = TransactionInput {
        amount: Amount::from_minor(int("amount")?).map_err(|e| format!("amount: {e}"))?,
        amount_other: Amount::from_minor(
            terminal
                .get("amount_other")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        )
        .map_err(|e| format!("amount_other: {e}"))?,
        transaction_type,
        date,
        time,
        unpredictable_number: un,
    };
    let mut overrides: Overrides = tag_map(terminal.get("tags"), decode_hex)?
        .into_iter()
        .collect();
    overrides.sort_by_key(|(tag, _)| *tag);
    Ok((input, overrides))
}

/// A configuration that reproduces the recorded terminal: its AIDs, its TTQ, no limits that
/// would change what it sent, and its CA keys.
///
/// Contact: the terminal capabilities are the recorded `9F33` when the tags hold it (default
/// `E028C0`: signature, no CVM, SDA, DDA), without CDA, so that DDA runs as README §3.15 says.
fn config(
    case: &Case<'_>,
    terminal: &Value,
    flow: Flow,
    overrides: &[(Tag, Vec<u8>)],
) -> Check<KernelConfig> {
    let currency = terminal
        .get("currency")
        .and_then(Value::as_u64)
        .ok_or("terminal.currency missing")?;
    let country = terminal
        .get("country")
        .and_then(Value::as_u64)
        .ok_or("terminal.country missing")?;
    // A contact trace without a TTQ derives it from the capabilities (the contact flow does
    // not send it; a fixed one could contradict the recorded capabilities).
    let ttq: Option<[u8; 4]> = match (terminal.get("ttq"), flow) {
        (Some(_), _) => Some(
            object_hex(terminal, "ttq")?
                .try_into()
                .map_err(|_| "terminal.ttq is not 4 bytes")?,
        ),
        (None, Flow::Contactless) => Some([0x26, 0x00, 0x00, 0x80]),
        (None, Flow::Contact) => None,
    };
    let capabilities = match flow {
        Flow::Contactless => [0xE0, 0xF8, 0xC8],
        Flow::Contact => {
            let recorded = overrides
                .iter()
                .find(|(tag, _)| *tag == quickpass_kernel::tags::TERMINAL_CAPABILITIES)
                .and_then(|(_, v)| <[u8; 3]>::try_from(v.as_slice()).ok());
            let mut capabilities = recorded.unwrap_or([0xE0, 0x28, 0xC0]);
            capabilities[2] &= !0x08;
            capabilities
        }
    };
    let aids = terminal_aids(case.required("terminal_aids")?)?
        .into_iter()
        .map(|t| AidParameters {
            aid: t.aid,
            partial_match: t.partial_match,
            application_version: [0x00, 0x30],
            tac_default: [0; 5],
            tac_denial: [0; 5],
            tac_online: [0; 5],
            floor_limit: u64::MAX,
            contactless_transaction_limit: None,
            cvm_limit: None,
            contactless_floor_limit: None,
            random_selection: None,
            default_ddol: vec![0x9F, 0x37, 0x04],
            default_tdol: Vec::new(),
            ec_supported: false,
            ec_terminal_limit: None,
            status_check: false,
            transit_online_oda: false,
            // The kernel of each AID is its RID's default (Entry Point routing).
            kernel_id: None,
            ttq: None,
            zero_amount_allowed: None,
            program_limits: Vec::new(),
        })
        .collect();
    let terminal_config = TerminalConfig::new(TerminalConfigParts {
        terminal: TerminalData {
            country_code: u16::try_from(country).map_err(|e| e.to_string())?,
            currency_code: u16::try_from(currency).map_err(|e| e.to_string())?,
            currency_exponent: 2,
            terminal_type: [0x22],
            capabilities,
            additional_capabilities: [0x60, 0x00, 0xF0, 0xA0, 0x01],
            ifd_serial: "QPTRACE1".to_owned(),
            terminal_id: String::new(),
            merchant_id: String::new(),
            merchant_name_location: String::new(),
            merchant_category_code: 0,
            ttq,
            online_capable: true,
            contact_supported: true,
            sm_supported: false,
        },
        aids,
        revoked_certificates: Vec::new(),
        exception_file: Vec::new(),
    })
    .map_err(|e| format!("terminal configuration: {e}"))?;
    let mut capks = CapkStore::new();
    for key in case
        .required("capks")?
        .as_array()
        .ok_or("capks is not an array")?
    {
        let key = super::oda::capk(key)?;
        capks.insert(key).map_err(|e| e.to_string())?;
    }
    Ok(KernelConfig::new(terminal_config, capks))
}
