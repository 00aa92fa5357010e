//! The simulated clearing host: checks each record of a terminal's exported batch **from the
//! record alone** (issue 12 item 1) — no terminal state, no card.
//!
//! - EMV / qPBOC ([`ClearingRecord`], kinds `contactless` and `contact`; and the deferred
//!   authorisations of transit, kind `transit_deferred`): the application cryptogram — TC, ARQC
//!   or AAC alike, CVN 01 computes them the same way — is recomputed from field 55 with the
//!   simulated issuer's keys for the record's PAN and PSN ([`EmvHost::verify_arqc`]). The
//!   record's own cryptogram and ATC must be the ones field 55 carries.
//! - ED/EP purse ([`SettlementRecord`], kind `purse_settlement`): the issuer is chosen by the
//!   record's issuer code, and the TAC recomputed with that issuer's TAC master key, diversified
//!   with the record's card serial (and second diversifier) from its
//!   [`PurseClearingData`](quickpass_kernel::purse::PurseClearingData), over the purchase or
//!   load TAC data the record holds (pboc-notes §4.2 ⚠ layout).
//!
//! ```
//! use quickpass_sim::host::clearing::ClearingHost;
//! use quickpass_sim::host::emv::EmvHost;
//! use quickpass_sim::host::purse::PurseHost;
//!
//! let mut host = ClearingHost::new(EmvHost::new());
//! host.add_purse_issuer([0x01, 0x01, 0x10, 0x00, 0xFF, 0xFF, 0xFF, 0xFF], PurseHost::new());
//! assert!(host.verify_line("not json").is_err());
//! ```

use quickpass_crypto::purse::{LoadTacData, PurchaseTacData};
use quickpass_kernel::clearing::ClearingRecord;
use quickpass_kernel::purse::{layout, SettlementRecord};
use quickpass_kernel::tags;
use quickpass_kernel::tlv::TlvIter;
use quickpass_kernel::transit::DeferredAuthorisation;
use quickpass_kernel::Tag;

use super::emv::{EmvHost, EmvHostError};
use super::purse::{HostCardIdentity, PurseHost, PurseHostError};

/// Why the clearing host rejected a record (who is at fault is in the variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClearingError {
    /// The batch line or payload is not what its kind says.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// A kind the clearing host does not clear.
    #[error("unknown record kind {0:?}")]
    UnknownKind(String),
    /// The application cryptogram does not verify.
    #[error("application cryptogram does not verify")]
    CryptogramInvalid,
    /// The record's cryptogram or ATC is not the one its field 55 carries.
    #[error("record's {0} differs from field 55")]
    Inconsistent(Tag),
    /// The issuer host could not check the cryptogram (unknown card, missing object, …).
    #[error("issuer: {0}")]
    Emv(#[from] EmvHostError),
    /// The purse record has no TAC, or no clearing data to derive the TAC key.
    #[error("purse record has no {0}")]
    Missing(&'static str),
    /// No purse issuer has the record's issuer code.
    #[error("unknown purse issuer {0}")]
    UnknownIssuer(String),
    /// The purse host refused the TAC (wrong TAC, unknown key index).
    #[error("purse issuer: {0}")]
    Purse(#[from] PurseHostError),
}

/// What a verified batch line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cleared {
    /// An EMV / qPBOC cryptogram (TC, ARQC or AAC).
    Cryptogram,
    /// A purse purchase or load TAC.
    Tac,
}

/// The simulated clearing host (see the [module docs](self)).
#[derive(Debug)]
pub struct ClearingHost {
    emv: EmvHost,
    purses: Vec<([u8; 8], PurseHost)>,
}

impl ClearingHost {
    /// A clearing host with the EMV issuer's keys and no purse issuer yet.
    pub fn new(emv: EmvHost) -> Self {
        ClearingHost {
            emv,
            purses: Vec::new(),
        }
    }

    /// Adds (or replaces) the purse issuer of EF15 issuer code `issuer_code`.
    pub fn add_purse_issuer(&mut self, issuer_code: [u8; 8], host: PurseHost) {
        self.purses.retain(|(code, _)| *code != issuer_code);
        self.purses.push((issuer_code, host));
    }

    /// Verifies one line of [`Batch::write_json_lines`](quickpass::store::Batch::write_json_lines)
    /// (`{"kind":…,"payload":{…},…}`) by its kind.
    pub fn verify_line(&self, line: &str) -> Result<Cleared, ClearingError> {
        let malformed = |e: serde_json::Error| ClearingError::Malformed(e.to_string());
        let value: serde_json::Value = serde_json::from_str(line).map_err(malformed)?;
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .ok_or_else(|| ClearingError::Malformed("no kind".into()))?;
        let payload = value
            .get("payload")
            .cloned()
            .ok_or_else(|| ClearingError::Malformed("no payload".into()))?;
        match kind {
            "contactless" | "contact" => {
                let record: ClearingRecord = serde_json::from_value(payload).map_err(malformed)?;
                self.verify_emv(&record).map(|()| Cleared::Cryptogram)
            }
            "transit_deferred" => {
                let record: DeferredAuthorisation =
                    serde_json::from_value(payload).map_err(malformed)?;
                self.verify_deferred(&record).map(|()| Cleared::Cryptogram)
            }
            "purse_settlement" => {
                let record: SettlementRecord =
                    serde_json::from_value(payload).map_err(malformed)?;
                self.verify_purse(&record).map(|()| Cleared::Tac)
            }
            other => Err(ClearingError::UnknownKind(other.to_owned())),
        }
    }

    /// Verifies an EMV / qPBOC clearing record: its cryptogram and ATC are field 55's, and the
    /// cryptogram recomputes from field 55 with the card's issuer keys.
    pub fn verify_emv(&self, record: &ClearingRecord) -> Result<(), ClearingError> {
        self.verify_cryptogram(
            &record.pan,
            record.psn,
            &record.field_55,
            &record.application_cryptogram,
            record.atc,
        )
    }

    /// Verifies a transit deferred authorisation's ARQC the same way.
    pub fn verify_deferred(&self, record: &DeferredAuthorisation) -> Result<(), ClearingError> {
        self.verify_cryptogram(
            &record.pan,
            record.psn,
            &record.field_55,
            &record.arqc,
            record.atc,
        )
    }

    fn verify_cryptogram(
        &self,
        pan: &str,
        psn: Option<u8>,
        field_55: &str,
        cryptogram: &str,
        atc: u16,
    ) -> Result<(), ClearingError> {
        let icc = hex::decode(field_55)
            .map_err(|e| ClearingError::Malformed(format!("field 55: {e}")))?;
        let object = |tag: Tag| -> Result<Vec<u8>, ClearingError> {
            for object in TlvIter::new(&icc) {
                let object = object.map_err(|e| ClearingError::Malformed(e.to_string()))?;
                if object.tag() == tag {
                    return Ok(object.value().to_vec());
                }
            }
            Err(ClearingError::Emv(EmvHostError::Missing(tag)))
        };
        let ac = hex::decode(cryptogram)
            .map_err(|e| ClearingError::Malformed(format!("cryptogram: {e}")))?;
        if object(tags::APPLICATION_CRYPTOGRAM)? != ac {
            return Err(ClearingError::Inconsistent(tags::APPLICATION_CRYPTOGRAM));
        }
        if object(tags::ATC)? != atc.to_be_bytes() {
            return Err(ClearingError::Inconsistent(tags::ATC));
        }
        // A card without `5F34` is keyed with PSN 00 (EMV Book 2 Annex A1.4.1).
        if self.emv.verify_arqc(pan, psn.unwrap_or(0), &icc)? {
            Ok(())
        } else {
            Err(ClearingError::CryptogramInvalid)
        }
    }

    /// Verifies a purse settlement record's TAC from the record alone.
    pub fn verify_purse(&self, record: &SettlementRecord) -> Result<(), ClearingError> {
        let tac = record.tac.ok_or(ClearingError::Missing("TAC"))?;
        let clearing = record
            .clearing
            .as_ref()
            .ok_or(ClearingError::Missing("clearing data"))?;
        let purse = self
            .purses
            .iter()
            .find(|(code, _)| *code == clearing.issuer_code)
            .map(|(_, host)| host)
            .ok_or_else(|| ClearingError::UnknownIssuer(hex::encode_upper(clearing.issuer_code)))?;
        let card = HostCardIdentity::from(&clearing.identity());
        let transaction_type = record.transaction_type[0];
        if record.kind.is_load() {
            let data = LoadTacData {
                new_balance: record.balance_after.fen(),
                // The counter INITIALIZE FOR LOAD returned; the record keeps the transaction's.
                online_counter: record.card_counter.wrapping_sub(layout::PROVE_ATC_OFFSET),
                amount: record.amount.fen(),
                transaction_type,
                terminal_id: record.terminal_id,
                date: record.date,
                time: record.time,
            };
            purse.verify_load_tac(&card, record.key_index, &data, &tac)?;
        } else {
            let data = PurchaseTacData {
                amount: record.amount.fen(),
                transaction_type,
                terminal_id: record.terminal_id,
                terminal_serial: record
                    .terminal_serial
                    .ok_or(ClearingError::Missing("terminal serial"))?,
                date: record.date,
                time: record.time,
            };
            purse.verify_purchase_tac(&card, record.key_index, &data, &tac)?;
        }
        Ok(())
    }
}
