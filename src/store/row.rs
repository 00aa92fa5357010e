//! The typed edges of a row — kinds, states, the caller's date-time text, the card key — and the
//! per-row SHA-256 over the canonical serialisation of the fields that matter.

use std::fmt;

use quickpass_kernel::values::{TransactionDate, TransactionTime};

use super::error::{IntegrityProblem, StoreError};

/// What a record in the store's queue is (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// An ED/EP settlement record, written by the purse journal
    /// ([`Journal::complete`](quickpass_kernel::purse::Journal::complete)); its payload is a
    /// [`SettlementRecord`](quickpass_kernel::purse::SettlementRecord).
    PurseSettlement,
    /// A contactless (qPBOC) clearing record.
    Contactless,
    /// A contact (PBOC/EMV) clearing record.
    Contact,
    /// A transit tap accepted before its online authorisation (deferred, online ODA): waits for
    /// the acquirer's [`Decision`].
    TransitDeferred,
}

impl RecordKind {
    /// Every kind, in column order.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::PurseSettlement,
        RecordKind::Contactless,
        RecordKind::Contact,
        RecordKind::TransitDeferred,
    ];

    /// The text in the `kind` column and in exported batches.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::PurseSettlement => "purse_settlement",
            RecordKind::Contactless => "contactless",
            RecordKind::Contact => "contact",
            RecordKind::TransitDeferred => "transit_deferred",
        }
    }

    /// The kind named by `text`, if any.
    pub fn parse(text: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether records of this kind wait for an authorisation [`Decision`] after delivery.
    pub const fn is_deferred(self) -> bool {
        matches!(self, RecordKind::TransitDeferred)
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record is on its way to the back office (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordState {
    /// Written, not yet exported.
    Unsent,
    /// Exported in a batch not yet acknowledged (re-exported by the next export).
    Sent,
    /// The back office acknowledged a batch holding it. Final for every kind but deferred
    /// authorisations, which then wait for their [`Decision`].
    Acknowledged,
    /// A deferred authorisation the acquirer approved (final).
    Approved,
    /// A deferred authorisation the acquirer declined (final; its card key went back to the
    /// caller for the deny list).
    Declined,
}

impl RecordState {
    /// Every state.
    pub const ALL: [RecordState; 5] = [
        RecordState::Unsent,
        RecordState::Sent,
        RecordState::Acknowledged,
        RecordState::Approved,
        RecordState::Declined,
    ];

    /// The text in the `state` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordState::Unsent => "unsent",
            RecordState::Sent => "sent",
            RecordState::Acknowledged => "acknowledged",
            RecordState::Approved => "approved",
            RecordState::Declined => "declined",
        }
    }

    /// The state named by `text`, if any.
    pub fn parse(text: &str) -> Option<RecordState> {
        RecordState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a record of `kind` in this state is done with: prunable after the retention
    /// period.
    pub const fn is_final(self, kind: RecordKind) -> bool {
        match self {
            RecordState::Unsent | RecordState::Sent => false,
            RecordState::Acknowledged => !kind.is_deferred(),
            RecordState::Approved | RecordState::Declined => true,
        }
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The acquirer's answer to a deferred authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Authorised: the record is done.
    Approved,
    /// Refused: the record's card key goes back to the caller, for the deny list.
    Declined,
}

/// The terminal's date-time of a record, as the caller gives it: `YYYY-MM-DDThh:mm:ss` (the
/// store compares these as text for pruning, so the format is fixed). The store takes no clock
/// decision of its own.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Created(String);

impl Created {
    /// From the kernel's transaction date and time.
    pub fn new(date: TransactionDate, time: TransactionTime) -> Created {
        Created(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            date.year(),
            date.month(),
            date.day(),
            time.hour(),
            time.minute(),
            time.second()
        ))
    }

    /// Checks `text` (`YYYY-MM-DDThh:mm:ss`, month 01–12, day 01–31, hour 00–23, minute and
    /// second 00–59).
    pub fn parse(text: &str) -> Result<Created, StoreError> {
        let bad = || StoreError::InvalidCreated(text.to_owned());
        let b = text.as_bytes();
        if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return Err(bad());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let digits = text.get(range)?;
            digits
                .bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| digits.parse().ok())?
        };
        let fields = [
            (number(0..4), 0, 9999),
            (number(5..7), 1, 12),
            (number(8..10), 1, 31),
            (number(11..13), 0, 23),
            (number(14..16), 0, 59),
            (number(17..19), 0, 59),
        ];
        if fields
            .iter()
            .all(|&(n, lo, hi)| n.is_some_and(|n| (lo..=hi).contains(&n)))
        {
            Ok(Created(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// From a purse entry's BCD `YYYYMMDD` date and `hhmmss` time; the hex digits as they are
    /// when they are not a valid date-time (the kernel only writes valid ones).
    pub(super) fn from_bcd(date: [u8; 4], time: [u8; 3]) -> Created {
        let d = hex::encode_upper(date);
        let t = hex::encode_upper(time);
        let text = format!(
            "{}-{}-{}T{}:{}:{}",
            &d[0..4],
            &d[4..6],
            &d[6..8],
            &t[0..2],
            &t[2..4],
            &t[4..6]
        );
        Created::parse(&text).unwrap_or(Created(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A row's `created` text, as stored (checked by the row's digest, not re-parsed).
    pub(super) fn stored(text: String) -> Created {
        Created(text)
    }
}

impl fmt::Debug for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Created({})", self.0)
    }
}

impl fmt::Display for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A card's key for the deny list: the kernel's hashed card key
/// ([`quickpass_kernel::deny_list::CardKey`], computed by the caller; it is not a card number).
pub use quickpass_kernel::deny_list::CardKey;

/// A `card_key` column: 16 bytes, or a typed integrity error naming the row.
pub(super) fn card_key_from_column(
    table: &'static str,
    id: i64,
    bytes: Option<Vec<u8>>,
) -> Result<Option<CardKey>, StoreError> {
    bytes
        .map(|b| {
            <[u8; 16]>::try_from(b.as_slice())
                .map(CardKey::from_bytes)
                .map_err(|_| StoreError::integrity(table, id, IntegrityProblem::Field("card_key")))
        })
        .transpose()
}

/// The version tag of the canonical serialisations below; part of every digest.
const CANONICAL: &str = "quickpass-store/1";

/// SHA-256 of a pending entry row: the compact JSON array
/// `["quickpass-store/1", "pending", id, created, entry]` (`entry` the stored JSON text).
pub(super) fn pending_digest(id: i64, created: &str, entry: &str) -> [u8; 32] {
    digest(&serde_json::json!([
        CANONICAL, "pending", id, created, entry
    ]))
}

/// The fields of a `records` row that its digest covers.
pub(super) struct RecordFields<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub state: &'a str,
    pub batch: Option<i64>,
    pub created: &'a str,
    pub card_key: Option<&'a [u8]>,
    pub payload: &'a str,
}

/// SHA-256 of a record row: the compact JSON array
/// `["quickpass-store/1", "record", id, kind, state, batch, created, card_key, payload]`
/// (`batch` and `card_key` null when absent, `card_key` lower-case hex, `payload` the stored
/// JSON text). The state is covered: a record edited from `unsent` to `acknowledged` (never
/// delivered) or from `declined` to `approved` is caught.
pub(super) fn record_digest(row: &RecordFields<'_>) -> [u8; 32] {
    digest(&serde_json::json!([
        CANONICAL,
        "record",
        row.id,
        row.kind,
        row.state,
        row.batch,
        row.created,
        row.card_key.map(hex::encode),
        row.payload
    ]))
}

/// SHA-256 of what an import brought in under an id (pending entry or record), to recognise
/// the same import again: `["quickpass-store/1", "import", what, id, json]`.
pub(super) fn import_digest(what: &str, id: i64, json: &str) -> [u8; 32] {
    digest(&serde_json::json!([CANONICAL, "import", what, id, json]))
}

fn digest(value: &serde_json::Value) -> [u8; 32] {
    // An array of strings, numbers and nulls: serde_json writes it one way only.
    quickpass_crypto::hash::sha256(value.to_string().as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn created_is_checked() {
        for good in [
            "2024-05-17T08:30:15",
            "0000-01-01T00:00:00",
            "9999-12-31T23:59:59",
        ] {
            assert_eq!(Created::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "2024-05-17 08:30:15",
            "2024-13-17T08:30:15",
            "2024-00-17T08:30:15",
            "2024-05-32T08:30:15",
            "2024-05-17T24:30:15",
            "2024-05-17T08:60:15",
            "2024-05-17T08:30:1x",
            "2024-05-17T08:30:+5",
            "2024-05-17T08:30:150",
            "２024-05-17T08:30:1",
        ] {
            assert!(Created::parse(bad).is_err(), "{bad}");
        }
        let date = TransactionDate::new(2024, 5, 17).unwrap();
        let time = TransactionTime::new(8, 30, 15).unwrap();
        assert_eq!(Created::new(date, time).as_str(), "2024-05-17T08:30:15");
        assert_eq!(
            Created::from_bcd([0x20, 0x24, 0x05, 0x17], [0x08, 0x30, 0x15]).as_str(),
            "2024-05-17T08:30:15"
        );
    }

    #[test]
    fn kinds_and_states_round_trip() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
        }
        for state in RecordState::ALL {
            assert_eq!(RecordState::parse(state.as_str()), Some(state));
        }
        assert_eq!(RecordKind::parse("purse"), None);
        assert!(!RecordState::Acknowledged.is_final(RecordKind::TransitDeferred));
        assert!(RecordState::Acknowledged.is_final(RecordKind::Contactless));
    }

    #[test]
    fn every_covered_field_changes_the_digest() {
        let key = [7u8; 16];
        let base = RecordFields {
            id: 5,
            kind: "contactless",
            state: "unsent",
            batch: None,
            created: "2024-05-17T08:30:15",
            card_key: Some(&key),
            payload: r#"{"amount":200}"#,
        };
        let d = record_digest(&base);
        let other = [8u8; 16];
        for changed in [
            RecordFields { id: 6, ..base },
            RecordFields {
                kind: "contact",
                ..base
            },
            RecordFields {
                state: "acknowledged",
                ..base
            },
            RecordFields {
                batch: Some(1),
                ..base
            },
            RecordFields {
                created: "2024-05-17T08:30:16",
                ..base
            },
            RecordFields {
                card_key: None,
                ..base
            },
            RecordFields {
                card_key: Some(&other),
                ..base
            },
            RecordFields {
                payload: r#"{"amount":20}"#,
                ..base
            },
        ] {
            assert_ne!(record_digest(&changed), d);
        }
        assert_ne!(pending_digest(1, "a", "{}"), pending_digest(2, "a", "{}"));
    }
}
