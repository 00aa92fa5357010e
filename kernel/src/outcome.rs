//! What a transaction ends in (EMV Book A §6.2 outcomes), and the record a terminal keeps.
//!
//! An outcome is a normal result, not an error: approvals, declines, online requests and
//! "try another interface" all come back as [`Outcome`] with the TVR that says why. Failures of
//! the exchange itself are [`crate::error::KernelError`]s, and
//! [`crate::error::KernelError::outcome`] maps each to an outcome explicitly.

use alloc::string::String;
use serde::Serialize;

use crate::bits::CryptogramType;
use crate::oda::OdaStatus;

/// The end of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved offline (a TC, with ODA verified).
    Approved,
    /// Declined (offline, by the card or by the terminal).
    Declined,
    /// Send the authorisation request (field 55 data) to the host.
    OnlineRequest,
    /// Ask the cardholder to use another interface (contact chip).
    TryAnotherInterface,
    /// The transaction cannot go on with this card.
    EndApplication,
    /// Select the next application (the chosen one refused).
    SelectNext,
    /// Present the card again: it left the field or stopped answering mid-tap (EMV Book A
    /// §6.2 "Try Again").
    TryAgain,
    /// Transit (UnionPay online ODA, [`crate::transit`]): the card is authenticated offline and
    /// gave an ARQC; the rider travels now and the authorisation request (field 55) goes to the
    /// acquirer later, in a batch. Not an approval of the payment: the acquirer may still
    /// decline it (the card then goes on the deny list).
    AcceptedForTravel,
}

impl Outcome {
    /// The lower-case name used in JSON (`online_request`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Declined => "declined",
            Outcome::OnlineRequest => "online_request",
            Outcome::TryAnotherInterface => "try_another_interface",
            Outcome::EndApplication => "end_application",
            Outcome::SelectNext => "select_next",
            Outcome::TryAgain => "try_again",
            Outcome::AcceptedForTravel => "accepted_for_travel",
        }
    }
}

/// Serialises a cryptogram type as `TC` / `ARQC` / `AAC`.
pub fn cryptogram_name(cryptogram: CryptogramType) -> &'static str {
    match cryptogram {
        CryptogramType::Aac => "AAC",
        CryptogramType::Tc => "TC",
        CryptogramType::Arqc => "ARQC",
        CryptogramType::Rfu => "RFU",
    }
}

/// The serialisable record of one transaction (PAN masked, no track 2, no keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionRecord {
    /// The outcome.
    pub outcome: Outcome,
    /// `TC` / `ARQC` / `AAC`, when the card gave a cryptogram.
    pub cryptogram_type: Option<&'static str>,
    /// ODA result.
    pub oda: OdaStatus,
    /// TVR (hex).
    pub tvr: String,
    /// TSI (hex).
    pub tsi: String,
    /// The selected application (hex), when one was selected.
    pub aid: Option<String>,
    /// The PAN, masked.
    pub pan: Option<String>,
    /// Amount authorised, minor units.
    pub amount: u64,
    /// Application cryptogram (hex).
    pub application_cryptogram: Option<String>,
    /// ATC (hex).
    pub atc: Option<String>,
    /// EC balance / available offline spending amount, minor units, when known.
    pub ec_balance: Option<u64>,
    /// APDUs sent to the card.
    pub apdus: u64,
    /// Field 55 (ICC system related data) for the host, hex, on an online request.
    pub field_55: Option<String>,
    /// Cardholder verification: `online_pin`, `signature`, `cdcvm`, `no_cvm` (contactless; null
    /// when the tap ended without an approval, online request or acceptance).
    pub cvm: Option<&'static str>,
    /// Why the kernel ended where it did, for humans.
    pub reason: Option<String>,
}
