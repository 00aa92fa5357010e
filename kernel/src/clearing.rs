//! The clearing record of an EMV / qPBOC transaction (issue 12 item 1; JR/T 0025 part 7 §12,
//! EMV Book 4 §12.1 "data capture"): what the terminal keeps and uploads so the acquirer can
//! clear a TC — or reconcile an ARQC, an AAC or a tap torn after the card paid — from the record
//! alone: the outcome and its reason, the cryptogram and field 55 (the objects of
//! the field-55 list (`icc_data`) that the tap has, `9F27` derived from the IAD when the card gave
//! none), the card (PAN, PSN, expiry), amounts, date and time, TVR/TSI, CVM and the terminal.
//!
//! ```text
//! contactless: TransactionResult::clearing_record ─┐
//! torn tap:    TornTap::clearing_record ───────────┼─▶ ClearingRecord ─▶ terminal store ─▶ batch
//! contact:     ContactResult::clearing_record ─────┘        (clear PAN)      │
//!                                                   ClearingRecord::masked ─▶ logs, stdout
//! ```
//!
//! A record is built whenever the card gave a cryptogram, whatever the outcome: a qPBOC TC has
//! already debited the electronic-cash balance inside GPO, so a tap the terminal declines after
//! a TC (an expired card, a deny-listed one) still moved money and must be reconciled.
//!
//! The record holds the **clear PAN**: clearing needs it (the issuer derives the card's AC key
//! from PAN ‖ PSN). Keep it only in the terminal's store, never in a log: `Debug` masks the PAN
//! and hides PSN and expiry, and [`ClearingRecord::masked`] is the form to print. A torn tap
//! later completed yields two records with the same PAN and ATC (`torn`, then the completion's):
//! clearing counts that cryptogram once.

use alloc::{borrow::ToOwned, string::String};
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::bits::CryptogramType;
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::outcome::cryptogram_name;
use crate::tags;
use crate::values::{Amount, Pan};

/// The interface the transaction ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interface {
    /// Contactless (qPBOC, or the contactless full-PBOC path).
    Contactless,
    /// Contact chip (PBOC / EMV).
    Contact,
}

/// The outcome name of a tap torn after the card answered its GPO with a TC.
pub const TORN: &str = "torn";

/// One EMV / qPBOC transaction for clearing (see the [module docs](self)). Serialised as the
/// payload of a store record; every hex field is upper case.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearingRecord {
    /// Contactless or contact.
    pub interface: Interface,
    /// The outcome name ([`Outcome::as_str`](crate::Outcome::as_str), or [`TORN`]).
    pub outcome: String,
    /// Why the kernel ended where it did, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `TC`, `ARQC` or `AAC` (`9F27`, or derived from the IAD on a qPBOC card).
    pub cryptogram_type: String,
    /// PAN digits: clear in the store, masked (first 6, last 4) in [`ClearingRecord::masked`].
    pub pan: String,
    /// PAN sequence number `5F34` (the BCD byte), when the card has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psn: Option<u8>,
    /// Application expiration date `5F24` (YYMMDD, hex), when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// The application (hex).
    pub aid: String,
    /// Amount, authorised (`9F02`), minor units.
    pub amount: u64,
    /// Amount, other (`9F03`), minor units.
    pub amount_other: u64,
    /// Transaction type `9C` (hex).
    pub transaction_type: String,
    /// Transaction date `9A` (YYMMDD, hex).
    pub date: String,
    /// Transaction time `9F21` (hhmmss, hex).
    pub time: String,
    /// Application transaction counter `9F36`.
    pub atc: u16,
    /// Application cryptogram `9F26` (hex).
    pub application_cryptogram: String,
    /// Field 55 (hex): the objects of the field-55 list (`icc_data`) present on this transaction,
    /// the terminal values as the cryptogram covers them.
    pub field_55: String,
    /// Terminal verification results at the end (hex).
    pub tvr: String,
    /// Transaction status information at the end (hex).
    pub tsi: String,
    /// The cardholder verification (`online_pin`, `signature`, `cdcvm`, `no_cvm`), when one was
    /// chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvm: Option<String>,
    /// The electronic-cash balance the card reported (`9F5D` or `9F79`), minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec_balance: Option<u64>,
    /// Terminal identification `9F1C`.
    pub terminal_id: String,
    /// Merchant identifier `9F16`.
    pub merchant_id: String,
}

impl ClearingRecord {
    /// The PAN masked as receipts show it (first 6, last 4).
    pub fn masked_pan(&self) -> String {
        Pan::from_digits(&self.pan)
            .map(|pan| pan.masked())
            .unwrap_or_else(|_| "(invalid PAN)".to_owned())
    }

    /// This record for display, logs and stdout: the PAN masked, PSN and expiry left out (field
    /// 55 keeps its `5F34`, one byte the issuer needs, and holds no PAN).
    pub fn masked(&self) -> ClearingRecord {
        ClearingRecord {
            pan: self.masked_pan(),
            psn: None,
            expiry: None,
            ..self.clone()
        }
    }

    /// The cryptogram type, parsed back from [`ClearingRecord::cryptogram_type`].
    pub fn cryptogram(&self) -> Option<CryptogramType> {
        match self.cryptogram_type.as_str() {
            "TC" => Some(CryptogramType::Tc),
            "ARQC" => Some(CryptogramType::Arqc),
            "AAC" => Some(CryptogramType::Aac),
            _ => None,
        }
    }
}

impl fmt::Debug for ClearingRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClearingRecord")
            .field("interface", &self.interface)
            .field("outcome", &self.outcome)
            .field("reason", &self.reason)
            .field("cryptogram_type", &self.cryptogram_type)
            .field("pan", &self.masked_pan())
            .field("psn", &self.psn.map(|_| "**"))
            .field("expiry", &self.expiry.as_ref().map(|_| "****"))
            .field("aid", &self.aid)
            .field("amount", &self.amount)
            .field("date", &self.date)
            .field("time", &self.time)
            .field("atc", &self.atc)
            .field("tvr", &self.tvr)
            .finish_non_exhaustive()
    }
}

/// What a flow hands over to build a record; the card objects come from `card`.
pub(crate) struct Parts<'a> {
    pub interface: Interface,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub cryptogram: CryptogramType,
    pub card: &'a CardData,
    pub aid: String,
    pub input: &'a crate::terminal_values::TransactionInput,
    pub atc: &'a [u8],
    pub application_cryptogram: &'a [u8],
    pub field_55: &'a [u8],
    pub tvr: &'a [u8],
    pub tsi: &'a [u8],
    pub cvm: Option<&'static str>,
}

impl Parts<'_> {
    /// The record; `None` without a PAN or with a malformed ATC.
    pub(crate) fn build(self, config: &KernelConfig) -> Option<ClearingRecord> {
        let card = self.card;
        let terminal = config.terminal.terminal();
        let atc = <[u8; 2]>::try_from(self.atc).ok().map(u16::from_be_bytes)?;
        Some(ClearingRecord {
            interface: self.interface,
            outcome: self.outcome.to_owned(),
            reason: self.reason.map(str::to_owned),
            cryptogram_type: cryptogram_name(self.cryptogram).to_owned(),
            pan: card.pan()?.expose_digits().to_owned(),
            psn: card
                .get(tags::PAN_SEQUENCE_NUMBER)
                .and_then(|p| p.first().copied()),
            expiry: card
                .get(tags::APPLICATION_EXPIRATION_DATE)
                .map(hex::encode_upper),
            aid: self.aid,
            amount: self.input.amount.minor(),
            amount_other: self.input.amount_other.minor(),
            transaction_type: hex::encode_upper([self.input.transaction_type]),
            date: hex::encode_upper(self.input.date.to_bcd()),
            time: hex::encode_upper(self.input.time.to_bcd()),
            atc,
            application_cryptogram: hex::encode_upper(self.application_cryptogram),
            field_55: hex::encode_upper(self.field_55),
            tvr: hex::encode_upper(self.tvr),
            tsi: hex::encode_upper(self.tsi),
            cvm: self.cvm.map(str::to_owned),
            ec_balance: ec_balance(card).map(Amount::minor),
            terminal_id: terminal.terminal_id.clone(),
            merchant_id: terminal.merchant_id.clone(),
        })
    }
}

/// The EC balance (`9F5D` available offline spending amount, or `9F79`), when the card said.
pub(crate) fn ec_balance(card: &CardData) -> Option<Amount> {
    [tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT, tags::EC_BALANCE]
        .into_iter()
        .find_map(|tag| card.get(tag))
        .and_then(|v| Amount::from_n12_slice(v).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record() -> ClearingRecord {
        ClearingRecord {
            interface: Interface::Contactless,
            outcome: "approved".into(),
            reason: None,
            cryptogram_type: "TC".into(),
            pan: "6228480012345671".into(),
            psn: Some(1),
            expiry: Some("301231".into()),
            aid: "A000000333010101".into(),
            amount: 100,
            amount_other: 0,
            transaction_type: "00".into(),
            date: "261207".into(),
            time: "080000".into(),
            atc: 7,
            application_cryptogram: "0011223344556677".into(),
            field_55: "9F3602000700".into(),
            tvr: "0000000000".into(),
            tsi: "0000".into(),
            cvm: Some("no_cvm".into()),
            ec_balance: Some(49900),
            terminal_id: "12345678".into(),
            merchant_id: "123456789012345".into(),
        }
    }

    #[test]
    fn debug_and_masked_hide_the_pan() {
        let record = record();
        let debug = format!("{record:?}");
        assert!(!debug.contains("0012345"), "{debug}");
        assert!(!debug.contains("301231"), "{debug}");
        let masked = record.masked();
        assert_eq!(masked.pan, "622848******5671");
        assert_eq!((masked.psn, masked.expiry.as_deref()), (None, None));
        let json = serde_json::to_string(&masked).unwrap();
        assert!(!json.contains("6228480012345671"), "{json}");
    }

    #[test]
    fn round_trips_through_json() {
        let record = record();
        let json = serde_json::to_string(&record).unwrap();
        let back: ClearingRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.cryptogram(), Some(CryptogramType::Tc));
    }
}
