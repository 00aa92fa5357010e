//! `quickpass tap`: one qPBOC/EMV contactless transaction, reported as `examples/transact.rs`
//! does (the same text report and the same JSON fields).
//!
//! The kernel is used in one place ([`tap`]); everything else here is input and output.

use std::path::PathBuf;

use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Amount, TransactionDate};
use quickpass::kernel::TransactionInput;
use quickpass::kernel::{dump, tlv};
use quickpass::setup;

use crate::error_chain;

/// The terminal configuration and CA keys a tap (or a dump's GPO) runs with.
///
/// The production CA lists of `vectors/capk/` plus `extra_capk_files`; the simulator's test CA
/// is added when `trust_test_ca` (a simulated card, or `--test-keys`).
pub fn kernel_config(
    config: &std::path::Path,
    extra_capk_files: &[PathBuf],
    trust_test_ca: bool,
) -> Result<KernelConfig, String> {
    let mut capk_files = quickpass_sim::data::production_capk_files().map_err(error_chain)?;
    capk_files.extend(extra_capk_files.iter().cloned());
    let loaded = setup::load_kernel_config(config, &capk_files).map_err(error_chain)?;
    for refused in &loaded.refused_capks {
        eprintln!(
            "warning: CA key {} in {} refused: {}",
            refused.id,
            refused.path.display(),
            refused.error
        );
    }
    let mut config = loaded.config;
    if trust_test_ca {
        // The simulated cards are signed by the test CA (RSA F1, SM2 F2).
        let ca = quickpass_sim::ca::TestCa::shared().map_err(error_chain)?;
        for key in ca.capk_store().map_err(error_chain)?.iter() {
            config.capks.insert(key.clone()).map_err(error_chain)?;
        }
    }
    Ok(config)
}

/// The transaction input from the command line: `--amount`, `--date YYMMDD` (default today,
/// China time), `--un HEX` (default four bytes from a randomly seeded hasher).
pub fn input(
    amount: u64,
    date: Option<&str>,
    un: Option<&str>,
) -> Result<TransactionInput, String> {
    Ok(TransactionInput {
        amount: Amount::from_minor(amount)
            .map_err(|e| format!("--amount takes minor units, at most 999999999999: {e}"))?,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: transaction_date(date)?,
        time: quickpass::clock::now().1,
        unpredictable_number: unpredictable_number(un)?,
    })
}

/// Runs the whole tap on `card` ([`contactless::transact`]): an exchange failure still ends
/// in the outcome the error calls for (try again for a card taken away), reported as such.
pub fn tap<T: Transport>(
    card: &mut T,
    config: &KernelConfig,
    input: &TransactionInput,
) -> TransactionResult {
    let mut layer = ApduLayer::new(card);
    contactless::transact(config, input, &mut layer).result
}

fn transaction_date(text: Option<&str>) -> Result<TransactionDate, String> {
    let bcd = match text {
        Some(text) if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) => {
            hex::decode(text).map_err(|e| e.to_string())?
        }
        Some(_) => return Err("--date takes YYMMDD".into()),
        None => return Ok(quickpass::clock::now().0),
    };
    TransactionDate::from_bcd(&bcd).map_err(|e| format!("--date: {e}"))
}

fn unpredictable_number(text: Option<&str>) -> Result<[u8; 4], String> {
    match text {
        Some(text) => hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "--un takes 4 bytes of hex".to_owned()),
        None => {
            use std::hash::{BuildHasher, RandomState};
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            Ok((RandomState::new().hash_one(now) as u32).to_be_bytes())
        }
    }
}

/// The JSON object of `transact --json` (PAN masked by the kernel's record).
pub fn json(result: &TransactionResult) -> serde_json::Value {
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
        "reason": record.reason,
    })
}

/// The readable report of `transact` (sensitive values masked by the kernel's dump).
pub fn print_report(result: &TransactionResult) {
    let record = result.record();
    outln!("outcome          {}", record.outcome.as_str());
    if let Some(reason) = &record.reason {
        outln!("reason           {reason}");
    }
    outln!("application      {}", record.aid.as_deref().unwrap_or("-"));
    outln!("PAN              {}", record.pan.as_deref().unwrap_or("-"));
    outln!("amount           {}", record.amount);
    outln!("cryptogram       {}", record.cryptogram_type.unwrap_or("-"));
    outln!("ODA              {:?}", record.oda);
    outln!("TVR              {} {:?}", record.tvr, result.tvr);
    outln!("TSI              {} {:?}", record.tsi, result.tsi);
    if let Some(balance) = record.ec_balance {
        outln!("EC balance       {balance}");
    }
    outln!("APDUs            {}", record.apdus);
    let card = &result.card_phase.card();
    let mut objects = Vec::new();
    for tag in card.tags() {
        if let Some(value) = card.get(*tag) {
            tlv::encode(*tag, value, &mut objects);
        }
    }
    outln!("\ncard data (sensitive values masked):");
    out!("{}", dump::dump(&objects));
    if let Some(field_55) = &result.field_55 {
        outln!("\nfield 55 for the host:");
        out!("{}", dump::dump(field_55));
    }
}
