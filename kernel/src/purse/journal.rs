//! The terminal's write-ahead journal for torn transactions (pboc-notes §4.3 step 9): an entry
//! is made durable *before* DEBIT FOR PURCHASE / CREDIT FOR LOAD is sent; when the card's
//! answer comes back the entry becomes a [`SettlementRecord`]; when it does not (the card left
//! the field), the entry stays pending until the same card taps again and GET TRANSACTION
//! PROVE says whether the card did the transaction.
//!
//! [`Journal`] is the trait; [`MemoryJournal`] keeps everything in memory (and is the
//! serialisable state the facade's file-backed journal persists).

use alloc::{string::String, vec::Vec};
use serde::{Deserialize, Serialize};

use super::card::CardIdentity;
use serde_with::As;

use super::record::{PurseClearingData, SettlementRecord, TripNote};
use super::TransactionKind;
use crate::values::PurseAmount;
use crate::UpperHex;

/// What the terminal knows right before DEBIT / CREDIT: enough to ask the card for proof, to
/// recognise its EF18 record and to write the settlement record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Purchase, CAPP purchase or load.
    pub kind: TransactionKind,
    /// The card (full serial: the journal is terminal-private; `Debug` masks it).
    pub card: CardIdentity,
    /// Card number, masked, for the record.
    pub card_number: String,
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Balance before (from INITIALIZE), fen.
    pub balance_before: PurseAmount,
    /// The counter INITIALIZE returned (the transaction is this + 1).
    pub counter: u16,
    /// Key index sent in INITIALIZE.
    pub key_index: u8,
    /// Key version the card returned.
    pub key_version: u8,
    /// Terminal number.
    #[serde(with = "As::<UpperHex>")]
    pub terminal_id: [u8; 6],
    /// Terminal transaction serial (purchases).
    pub terminal_serial: Option<u32>,
    /// Date, BCD `YYYYMMDD`.
    #[serde(with = "As::<UpperHex>")]
    pub date: [u8; 4],
    /// Time, BCD `hhmmss`.
    #[serde(with = "As::<UpperHex>")]
    pub time: [u8; 3],
    /// The host's MAC2 sent in CREDIT FOR LOAD (loads).
    #[serde(with = "As::<Option<UpperHex>>")]
    pub host_mac2: Option<[u8; 4]>,
    /// Trip details (CAPP purchases).
    pub trip: Option<TripNote>,
    /// What the settlement record hands to clearing (absent in entries journaled before it
    /// existed: their records then carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing: Option<PurseClearingData>,
}

impl JournalEntry {
    /// The counter of the transaction itself (INITIALIZE's + 1, ⚠ `layout::PROVE_ATC_OFFSET`).
    pub fn transaction_counter(&self) -> u16 {
        self.counter.wrapping_add(super::layout::PROVE_ATC_OFFSET)
    }
}

/// A journal entry still waiting for its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Its number (also the settlement record's id).
    pub id: u64,
    /// The entry.
    pub entry: JournalEntry,
}

/// The write-ahead journal (see the [module docs](self)).
pub trait Journal {
    /// Why the journal could not be written or read.
    type Error: core::error::Error + Send + Sync + 'static;

    /// Records `entry` durably and returns its id. Returns only once the entry would survive
    /// a crash: DEBIT / CREDIT is sent after this.
    fn begin(&mut self, entry: &JournalEntry) -> Result<u64, Self::Error>;

    /// The pending entry `id` ended with `record` (which carries the same id).
    fn complete(&mut self, record: &SettlementRecord) -> Result<(), Self::Error>;

    /// The pending entry `id` was not carried out by the card: dropped, no record.
    fn void(&mut self, id: u64) -> Result<(), Self::Error>;

    /// Entries still pending, oldest first.
    fn pending(&self) -> Vec<Pending>;

    /// Settlement records not yet taken, oldest first.
    fn records(&self) -> Vec<SettlementRecord>;

    /// Hands the settlement records over (e.g. for upload) and forgets them.
    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, Self::Error>;

    /// The id of the newest entry this journal has begun (pending or since settled), if it
    /// knows one. The flows ask it on every tap: only that entry can own the SAM's pending MAC2
    /// session. The default looks through [`pending`](Self::pending) and
    /// [`records`](Self::records); a journal holding many records answers from its own index
    /// instead, so a tap does not cost more as records accumulate. Answering an id newer than
    /// every pending entry (e.g. one issued to a record of another kind) is safe: recovery then
    /// relies on the card's EF18 record rather than the SAM.
    fn newest_id(&self) -> Option<u64> {
        self.pending()
            .iter()
            .map(|p| p.id)
            .chain(self.records().iter().map(|r| r.id))
            .max()
    }
}

/// Why a [`MemoryJournal`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryJournalError {
    /// No pending entry has this id (completed twice, or never begun).
    #[error("no pending journal entry {0}")]
    UnknownEntry(u64),
}

/// A journal in memory (lost with the process); also the serialisable state of a persistent one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryJournal {
    next_id: u64,
    pending: Vec<Pending>,
    records: Vec<SettlementRecord>,
}

impl MemoryJournal {
    /// An empty journal; ids start at 1.
    pub fn new() -> Self {
        MemoryJournal {
            next_id: 1,
            pending: Vec::new(),
            records: Vec::new(),
        }
    }

    fn remove_pending(&mut self, id: u64) -> Result<Pending, MemoryJournalError> {
        let index = self
            .pending
            .iter()
            .position(|p| p.id == id)
            .ok_or(MemoryJournalError::UnknownEntry(id))?;
        Ok(self.pending.remove(index))
    }
}

impl Journal for MemoryJournal {
    type Error = MemoryJournalError;

    fn begin(&mut self, entry: &JournalEntry) -> Result<u64, MemoryJournalError> {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        self.pending.push(Pending {
            id,
            entry: entry.clone(),
        });
        Ok(id)
    }

    fn complete(&mut self, record: &SettlementRecord) -> Result<(), MemoryJournalError> {
        self.remove_pending(record.id)?;
        self.records.push(record.clone());
        Ok(())
    }

    fn void(&mut self, id: u64) -> Result<(), MemoryJournalError> {
        self.remove_pending(id).map(|_| ())
    }

    fn pending(&self) -> Vec<Pending> {
        self.pending.clone()
    }

    fn records(&self) -> Vec<SettlementRecord> {
        self.records.clone()
    }

    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, MemoryJournalError> {
        Ok(core::mem::take(&mut self.records))
    }

    /// The last id [`begin`](Journal::begin) issued: no copy of the records per tap, and still
    /// right after [`take_records`](Journal::take_records) emptied them.
    fn newest_id(&self) -> Option<u64> {
        self.next_id.checked_sub(1).filter(|&id| id > 0)
    }
}

impl<J: Journal + ?Sized> Journal for &mut J {
    type Error = J::Error;

    fn begin(&mut self, entry: &JournalEntry) -> Result<u64, Self::Error> {
        (**self).begin(entry)
    }

    fn complete(&mut self, record: &SettlementRecord) -> Result<(), Self::Error> {
        (**self).complete(record)
    }

    fn void(&mut self, id: u64) -> Result<(), Self::Error> {
        (**self).void(id)
    }

    fn pending(&self) -> Vec<Pending> {
        (**self).pending()
    }

    fn records(&self) -> Vec<SettlementRecord> {
        (**self).records()
    }

    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, Self::Error> {
        (**self).take_records()
    }

    fn newest_id(&self) -> Option<u64> {
        (**self).newest_id()
    }
}

/// Settlement records the journal refused after the card had paid or been credited (the tap
/// ended [`PaidUnrecorded`](super::PurseOutcome::PaidUnrecorded) or
/// [`LoadedUnrecorded`](super::PurseOutcome::LoadedUnrecorded)), kept by the terminal loop and
/// written again before every tap and at the end.
///
/// Their journal entries stay pending, so the card's next tap settles them from its evidence
/// anyway; the retry is for the card that never comes back while the journal recovers (space
/// freed, medium replaced) — its record still becomes claimable.
#[derive(Debug, Default)]
pub struct UnwrittenRecords(Vec<SettlementRecord>);

impl UnwrittenRecords {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the record of a tap whose outcome says the journal refused it.
    pub fn keep(&mut self, tap: &super::TapResult) {
        if matches!(
            tap.outcome,
            super::PurseOutcome::PaidUnrecorded | super::PurseOutcome::LoadedUnrecorded
        ) {
            self.0.extend(tap.record.clone());
        }
    }

    /// Writes the kept records again. Drops each one written, and each whose entry is no longer
    /// pending (a later tap of that card settled it from the card's evidence).
    pub fn retry<J: Journal + ?Sized>(&mut self, journal: &mut J) {
        if self.0.is_empty() {
            return;
        }
        let pending: Vec<u64> = journal.pending().iter().map(|p| p.id).collect();
        self.0
            .retain(|record| pending.contains(&record.id) && journal.complete(record).is_err());
    }

    /// How many records are still not written.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every kept record has been written (or settled otherwise).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
