//! The C-2 torn transaction log (pboc-notes §9.6): when the card leaves the field after the
//! GENERATE AC was sent but before its answer came back, the card may have produced the
//! cryptogram (and, for a TC, counted the payment). The reader keeps what it sent, keyed by
//! PAN and PAN sequence number; on the next tap of the same card it sends RECOVER AC with the
//! torn transaction's DRDOL data and takes the card's stored answer instead of a second
//! GENERATE AC — one payment, not two.
//!
//! The log lives with the reader (the caller owns it, across taps); records older than the
//! configured lifetime, or beyond the configured number, leave the log and are handed back
//! ([`TornLog::take_expired`]) so the reader can report them for clearing.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::apdu::RequestedCryptogram;
use crate::values::{Amount, TransactionDate, TransactionTime};

use super::rrp::RrpData;

/// A card as the torn log knows it: PAN digits and PAN sequence number. `Debug` masks the PAN.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TornKey {
    pan: alloc::string::String,
    psn: Option<u8>,
}

impl TornKey {
    /// The key of a card: its PAN digits and PAN sequence number (`5F34`), when it has one.
    pub fn new(pan: &str, psn: Option<u8>) -> Self {
        TornKey {
            pan: pan.into(),
            psn,
        }
    }
}

impl core::fmt::Debug for TornKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let masked = crate::values::Pan::from_digits(&self.pan)
            .map(|pan| pan.masked())
            .unwrap_or_else(|_| "<PAN>".into());
        f.debug_struct("TornKey")
            .field("pan", &format_args!("{masked}"))
            .field("psn", &self.psn)
            .finish()
    }
}

/// What the reader sent in the torn transaction: enough to ask RECOVER AC and to verify the
/// recovered answer's CDA exactly as the lost GENERATE AC answer would have been verified.
#[derive(Clone, PartialEq, Eq)]
pub struct TornRecord {
    pub(crate) key: TornKey,
    /// Seconds since 2000-01-01 when the record was written.
    pub(crate) written_at: u64,
    pub(crate) amount: Amount,
    pub(crate) date: TransactionDate,
    pub(crate) time: TransactionTime,
    pub(crate) unpredictable_number: [u8; 4],
    pub(crate) pdol_data: Vec<u8>,
    pub(crate) cdol1_data: Vec<u8>,
    pub(crate) drdol_data: Vec<u8>,
    pub(crate) requested: RequestedCryptogram,
    pub(crate) cda: bool,
    pub(crate) rrp: Option<RrpData>,
    pub(crate) tvr: [u8; 5],
    pub(crate) cvm_results: [u8; 3],
}

impl TornRecord {
    /// The card the record belongs to.
    pub fn key(&self) -> &TornKey {
        &self.key
    }

    /// The amount of the torn transaction.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The date of the torn transaction.
    pub fn date(&self) -> TransactionDate {
        self.date
    }

    /// The cryptogram the torn GENERATE AC asked for.
    pub fn requested(&self) -> RequestedCryptogram {
        self.requested
    }
}

impl core::fmt::Debug for TornRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TornRecord")
            .field("key", &self.key)
            .field("written_at", &self.written_at)
            .field("amount", &self.amount)
            .field("requested", &self.requested)
            .field("cda", &self.cda)
            .finish_non_exhaustive()
    }
}

/// The reader's torn transaction log (`DF811D` records at most, each kept `DF811C` seconds).
#[derive(Debug, Clone, Default)]
pub struct TornLog {
    records: BTreeMap<TornKey, TornRecord>,
    expired: Vec<TornRecord>,
}

/// Seconds since 2000-01-01 00:00:00 of a transaction date and time (proleptic Gregorian).
pub(crate) fn seconds_since_2000(date: TransactionDate, time: TransactionTime) -> u64 {
    // Days from civil (H. Hinnant's algorithm), shifted to 2000-03-01 based eras.
    let (y, m, d) = (
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 730_425; // 730 425: days from 0000-03-01 to 2000-01-01
    let seconds = days * 86_400
        + i64::from(time.hour()) * 3_600
        + i64::from(time.minute()) * 60
        + i64::from(time.second());
    u64::try_from(seconds).unwrap_or(0)
}

impl TornLog {
    /// An empty log.
    pub fn new() -> Self {
        TornLog::default()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record of a card, if any.
    pub fn get(&self, key: &TornKey) -> Option<&TornRecord> {
        self.records.get(key)
    }

    /// Records that left the log unrecovered (too old, or pushed out by a newer one) since the
    /// last call: the reader reports them (their cryptogram, if any, was never received).
    pub fn take_expired(&mut self) -> Vec<TornRecord> {
        core::mem::take(&mut self.expired)
    }

    /// Removes records older than `lifetime_s` at `now` (seconds since 2000).
    pub(crate) fn expire(&mut self, now: u64, lifetime_s: u16) {
        let old: Vec<TornKey> = self
            .records
            .iter()
            .filter(|(_, r)| now.saturating_sub(r.written_at) > u64::from(lifetime_s))
            .map(|(k, _)| k.clone())
            .collect();
        for key in old {
            if let Some(record) = self.records.remove(&key) {
                self.expired.push(record);
            }
        }
    }

    /// Adds (or replaces) the record of its card; beyond `max` records the oldest leaves.
    pub(crate) fn insert(&mut self, record: TornRecord, max: u8) {
        if max == 0 {
            self.expired.push(record);
            return;
        }
        self.records.insert(record.key.clone(), record);
        while self.records.len() > usize::from(max) {
            let oldest = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.written_at)
                .map(|(k, _)| k.clone());
            match oldest.and_then(|k| self.records.remove(&k)) {
                Some(record) => self.expired.push(record),
                None => break,
            }
        }
    }

    /// Takes the record of a card out of the log.
    pub(crate) fn remove(&mut self, key: &TornKey) -> Option<TornRecord> {
        self.records.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pan: &str, at: u64) -> TornRecord {
        TornRecord {
            key: TornKey::new(pan, Some(1)),
            written_at: at,
            amount: Amount::from_minor(100).unwrap(),
            date: TransactionDate::new(2026, 12, 7).unwrap(),
            time: TransactionTime::new(4, 0, 0).unwrap(),
            unpredictable_number: [1, 2, 3, 4],
            pdol_data: Vec::new(),
            cdol1_data: Vec::new(),
            drdol_data: Vec::new(),
            requested: RequestedCryptogram::Tc,
            cda: true,
            rrp: None,
            tvr: [0; 5],
            cvm_results: [0x3F, 0, 0],
        }
    }

    #[test]
    fn epoch_arithmetic() {
        let at = |y, mo, d, h, mi, s| {
            seconds_since_2000(
                TransactionDate::new(y, mo, d).unwrap(),
                TransactionTime::new(h, mi, s).unwrap(),
            )
        };
        assert_eq!(at(2000, 1, 1, 0, 0, 0), 0);
        assert_eq!(at(2000, 3, 1, 0, 0, 1), (31 + 29) * 86_400 + 1);
        assert_eq!(at(2001, 1, 1, 0, 0, 0), 366 * 86_400);
        assert_eq!(at(2026, 12, 8, 0, 0, 0) - at(2026, 12, 7, 23, 59, 59), 1);
    }

    #[test]
    fn lifetime_and_capacity() {
        let mut log = TornLog::new();
        log.insert(record("5413330089010434", 100), 2);
        log.insert(record("5413330089010442", 200), 2);
        log.insert(record("5413330089010459", 300), 2);
        assert_eq!(log.len(), 2);
        let out = log.take_expired();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].written_at, 100);
        log.expire(600, 300);
        assert_eq!(
            log.len(),
            1,
            "the record written at 200 is older than 300 s"
        );
        assert_eq!(log.take_expired().len(), 1);
    }

    #[test]
    fn debug_masks_the_pan() {
        let text = format!("{:?}", record("5413330089010434", 0));
        assert!(!text.contains("5413330089010434"), "{text}");
        assert!(!text.contains("33300890"), "{text}");
    }
}
