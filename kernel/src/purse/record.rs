//! The settlement record of one ED/EP transaction (pboc-notes §4.3 step 8: the TAC is kept for
//! settlement): card number masked, amounts, counters, terminal number and serial, TAC, date and
//! time. Serialised with serde for the clearing upload and the journal file.

use alloc::{format, string::String};
use serde::{Deserialize, Serialize};

use serde_with::As;

use super::TransactionKind;
use crate::values::PurseAmount;
use crate::UpperHex;

/// How a transaction that reached DEBIT / CREDIT ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Purchase debited, MAC2 verified by the SAM, TAC not rejected: claimable.
    Paid,
    /// Load credited with the host's MAC2, TAC not rejected.
    Loaded,
    /// Torn, then proved by the card on a later tap (GET TRANSACTION PROVE): claimable.
    Recovered,
    /// The card answered DEBIT, but the SAM rejected its MAC2: not claimable.
    Mac2Invalid,
    /// The TAC does not verify: not claimable.
    TacInvalid,
    /// The card's log shows this terminal's debit but the card could not prove it (or proved it
    /// with a MAC2 the SAM rejects): for the operator, not claimable automatically.
    Disputed,
}

impl RecordStatus {
    /// Whether the operator may claim (purchase) or the issuer owes (load) this amount.
    pub const fn is_settled(self) -> bool {
        matches!(
            self,
            RecordStatus::Paid | RecordStatus::Loaded | RecordStatus::Recovered
        )
    }
}

/// Trip details of a CAPP (segmented fare) transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripNote {
    /// `true` at entry, `false` at exit.
    pub entry: bool,
    /// Line of this tap.
    pub line: u8,
    /// Station of this tap.
    pub station: u16,
    /// Entry station (at exit, where the trip began).
    pub entry_station: Option<u16>,
}

/// What the clearing house needs beyond the settlement fields to check a TAC and book the
/// transaction to the right card and issuer (issue 12, "what is wrong" item 4): the card's
/// application serial (and second diversifier) that derive its TAC key, the issuer and city
/// code, the card type and the algorithm id of INITIALIZE. The PSAM terminal number, its
/// transaction serial and the key index / version are settlement fields already.
///
/// `Serialize` writes the **full serial** (the clearing house derives the key from it): this
/// belongs in the terminal's journal / store and the upload, not on a screen or in a log —
/// [`PurseClearingData::masked_serial`] is the form to print; `Debug` masks it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurseClearingData {
    /// The 8-byte application serial (EF15 bytes 12–19), the TAC key diversifier.
    #[serde(with = "As::<UpperHex>")]
    pub card_serial: [u8; 8],
    /// The second diversifier of a two-level key scheme (EF15 bytes 0–7), when used.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "As::<Option<UpperHex>>"
    )]
    pub second_diversifier: Option<[u8; 8]>,
    /// Issuer code (EF15 bytes 0–7).
    #[serde(with = "As::<UpperHex>")]
    pub issuer_code: [u8; 8],
    /// City code (EF15 bytes 2–3, ⚠ T-Union layout).
    #[serde(with = "As::<UpperHex>")]
    pub city_code: [u8; 2],
    /// Application / card type (EF15 byte 8).
    pub card_type: u8,
    /// Algorithm id from the INITIALIZE response (`00` 3DES ⚠).
    pub algorithm_id: u8,
}

impl PurseClearingData {
    /// From the card's EF15 and the INITIALIZE response's algorithm id.
    pub fn new(card: &super::CardInfo, algorithm_id: u8) -> PurseClearingData {
        let mut city_code = [0u8; 2];
        city_code.copy_from_slice(&card.issuer_code[super::layout::CITY_CODE_RANGE]);
        PurseClearingData {
            card_serial: card.identity.serial,
            second_diversifier: card.identity.second_diversifier,
            issuer_code: card.issuer_code,
            city_code,
            card_type: card.card_type,
            algorithm_id,
        }
    }

    /// The card identity (serial and second diversifier) the TAC key is diversified with.
    pub fn identity(&self) -> super::CardIdentity {
        super::CardIdentity {
            serial: self.card_serial,
            second_diversifier: self.second_diversifier,
        }
    }

    /// The serial for display: its last 2 bytes only (`************5678`).
    pub fn masked_serial(&self) -> String {
        format!(
            "************{:02X}{:02X}",
            self.card_serial[6], self.card_serial[7]
        )
    }
}

impl core::fmt::Debug for PurseClearingData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PurseClearingData")
            .field("card_serial", &self.masked_serial())
            .field("two_level", &self.second_diversifier.is_some())
            .field("issuer_code", &hex::encode_upper(self.issuer_code))
            .field("card_type", &self.card_type)
            .field("algorithm_id", &self.algorithm_id)
            .finish()
    }
}

impl SettlementRecord {
    /// This record as tools print it (JSON): the clearing data's card serial masked
    /// ([`PurseClearingData::masked_serial`]) and its second diversifier left out. The
    /// journal, the store and the upload use the full `Serialize` form.
    pub fn printable(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let (Some(clearing), Some(object)) = (
            self.clearing.as_ref(),
            value.get_mut("clearing").and_then(|c| c.as_object_mut()),
        ) {
            object.insert("card_serial".into(), clearing.masked_serial().into());
            object.remove("second_diversifier");
        }
        value
    }
}

/// Serialises a tap's settlement record in its [printable](SettlementRecord::printable) form.
pub(crate) fn serialize_printable<S: serde::Serializer>(
    record: &Option<SettlementRecord>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    record
        .as_ref()
        .map(SettlementRecord::printable)
        .serialize(serializer)
}

/// One transaction for settlement (pboc-notes §4.3 step 8, §4.5): no key, no clear card number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    /// The journal's number for it.
    pub id: u64,
    /// How it ended.
    pub status: RecordStatus,
    /// Purchase, CAPP purchase or load.
    pub kind: TransactionKind,
    /// Transaction type byte (hex), as in the MACs and EF18.
    #[serde(with = "As::<UpperHex>")]
    pub transaction_type: [u8; 1],
    /// Card number, masked (`3104************5678`).
    pub card_number: String,
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Balance before, fen (from INITIALIZE).
    pub balance_before: PurseAmount,
    /// Balance after, fen.
    pub balance_after: PurseAmount,
    /// The card's counter *of* this transaction (INITIALIZE's + 1; EF18 and GET TRANSACTION
    /// PROVE use it).
    pub card_counter: u16,
    /// Card key index and version.
    pub key_index: u8,
    /// Card key version.
    pub key_version: u8,
    /// Terminal number (hex).
    #[serde(with = "As::<UpperHex>")]
    pub terminal_id: [u8; 6],
    /// Terminal transaction serial from the SAM (purchases).
    pub terminal_serial: Option<u32>,
    /// Date, BCD `YYYYMMDD` (hex).
    #[serde(with = "As::<UpperHex>")]
    pub date: [u8; 4],
    /// Time, BCD `hhmmss` (hex).
    #[serde(with = "As::<UpperHex>")]
    pub time: [u8; 3],
    /// TAC (hex), `null` when the card gave none.
    #[serde(with = "As::<Option<UpperHex>>")]
    pub tac: Option<[u8; 4]>,
    /// Whether a SAM or host checked the TAC (otherwise the clearing host does).
    pub tac_verified: bool,
    /// Whether the SAM verified MAC2 (purchases) / the card's proof matched the host MAC2 (loads).
    pub mac2_verified: bool,
    /// Trip details, for CAPP purchases.
    pub trip: Option<TripNote>,
    /// What clearing needs to verify the TAC from this record alone (full card serial: see
    /// [`PurseClearingData`]); absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing: Option<PurseClearingData>,
}
