//! What the terminal reads from an ED/EP card, parsed once at the edge: EF15 (public
//! application information), the INITIALIZE responses and EF18 log records (JR/T 0025 Part 1
//! ED/EP; pboc-notes §4.1, §4.6–§4.8). A card number never prints in clear.

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::layout;
use crate::values::{CalendarDate, PurseAmount, ValueError};
use crate::UpperHex;
use serde_with::As;

/// Why card bytes could not be parsed: which object (`what`: `EF15`, `INITIALIZE FOR PURCHASE
/// response`, `EF18 record`, …), and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardDataError {
    /// The object has the wrong length.
    #[error("card sent malformed {what}: {actual} bytes, expected {expected}")]
    Length {
        /// The object.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The object is shorter than its layout needs.
    #[error("card sent malformed {what}: {actual} bytes, expected at least {min}")]
    TooShort {
        /// The object.
        what: &'static str,
        /// The least length its layout needs.
        min: usize,
        /// The length received.
        actual: usize,
    },
    /// A field of the object is missing.
    #[error("card sent malformed {what}: bytes {start}–{end} missing")]
    Missing {
        /// The object.
        what: &'static str,
        /// First byte of the missing field.
        start: usize,
        /// One past its last byte.
        end: usize,
    },
    /// A date field is not a valid BCD `YYYYMMDD` date.
    #[error("card sent malformed {what}: invalid date")]
    Date {
        /// The object.
        what: &'static str,
        /// What is wrong with the date.
        #[source]
        source: ValueError,
    },
}

impl CardDataError {
    /// The object that was malformed.
    pub fn what(&self) -> &'static str {
        match self {
            CardDataError::Length { what, .. }
            | CardDataError::TooShort { what, .. }
            | CardDataError::Missing { what, .. }
            | CardDataError::Date { what, .. } => what,
        }
    }

    /// `what` is not `expected` bytes long.
    pub(crate) fn length(what: &'static str, expected: usize, actual: usize) -> CardDataError {
        CardDataError::Length {
            what,
            expected,
            actual,
        }
    }
}

fn array<const N: usize>(
    bytes: &[u8],
    range: core::ops::Range<usize>,
    what: &'static str,
) -> Result<[u8; N], CardDataError> {
    bytes
        .get(range.clone())
        .and_then(|b| b.try_into().ok())
        .ok_or(CardDataError::Missing {
            what,
            start: range.start,
            end: range.end,
        })
}

/// The card number (EF15 [`layout::CARD_NUMBER_RANGE`], pboc-notes §4.7/§4.8) as hex digits.
///
/// `Debug`, `Display` and `Serialize` show the first 4 and last 4 digits only
/// (`3104************5678`); the digits are available through [`CardNumber::expose_digits`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber {
    digits: String,
}

impl CardNumber {
    /// From the raw bytes (BCD digits are shown as they are; other nibbles as hex).
    pub fn from_bytes(bytes: &[u8]) -> CardNumber {
        CardNumber {
            digits: hex::encode_upper(bytes),
        }
    }

    /// From hex digits (for deny lists in configuration); `None` unless 8–32 hex digits.
    pub fn from_digits(digits: &str) -> Option<CardNumber> {
        let ok = (8..=32).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| CardNumber {
            digits: digits.to_ascii_uppercase(),
        })
    }

    /// The full digits. Named so every place that unmasks the number is easy to find.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }

    /// The masked form: first 4 and last 4 digits, `*` between.
    pub fn masked(&self) -> String {
        let len = self.digits.len();
        self.digits
            .char_indices()
            .map(|(i, c)| if i < 4 || i + 4 >= len { c } else { '*' })
            .collect()
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl Serialize for CardNumber {
    /// Writes the masked form only.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// Which card a SAM or host computes for: the 8-byte application serial
/// ([`layout::SERIAL_RANGE`]) and, for two-level key schemes, the second diversifier
/// ([`layout::SECOND_DIVERSIFIER_RANGE`], pboc-notes §4.4).
///
/// `Debug` shows only the last 2 serial bytes. `Serialize` writes the full values (hex): the
/// journal needs them to recognise the card on its next tap and is terminal-private storage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CardIdentity {
    /// The application serial sent in INIT SAM FOR PURCHASE.
    #[serde(with = "As::<UpperHex>")]
    pub serial: [u8; 8],
    /// The second diversifier (INIT SAM FOR PURCHASE Lc `24`), or `None` (Lc `1C`).
    #[serde(with = "As::<Option<UpperHex>>")]
    pub second_diversifier: Option<[u8; 8]>,
}

impl fmt::Debug for CardIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardIdentity(serial ************{:02X}{:02X}, {})",
            self.serial[6],
            self.serial[7],
            if self.second_diversifier.is_some() {
                "two-level"
            } else {
                "one-level"
            }
        )
    }
}

/// EF15, public application information (pboc-notes §4.7 T-Union 30 bytes, §4.8 ETC 43 bytes),
/// reduced to what the terminal acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// The card number (masked when printed).
    pub number: CardNumber,
    /// The identity the SAM and host diversify with.
    pub identity: CardIdentity,
    /// First valid day (4-digit year: `YYYYMMDD`).
    pub start_date: CalendarDate,
    /// Last valid day (4-digit year: a card valid to `20991231` is valid today).
    pub expiry_date: CalendarDate,
    /// The application answered SELECT with `6283` (blocked, EMV Book 1 §12.3.3).
    pub blocked: bool,
    /// Issuer code ([`layout::ISSUER_CODE_RANGE`]; the city code is bytes 2–3 of it).
    pub issuer_code: [u8; 8],
    /// Application / card type ([`layout::CARD_TYPE`]).
    pub card_type: u8,
}

fn bcd_date(bytes: [u8; 4], what: &'static str) -> Result<CalendarDate, CardDataError> {
    CalendarDate::from_yyyymmdd_bcd(&bytes).map_err(|source| CardDataError::Date { what, source })
}

impl CardInfo {
    /// Parses EF15. `two_level` takes the second diversifier from EF15 bytes 0–7 (ETC,
    /// Shanghai; pboc-notes §4.4).
    pub fn parse(ef15: &[u8], two_level: bool, blocked: bool) -> Result<CardInfo, CardDataError> {
        const WHAT: &str = "EF15";
        if ef15.len() < layout::EF15_MIN_LEN {
            return Err(CardDataError::TooShort {
                what: WHAT,
                min: layout::EF15_MIN_LEN,
                actual: ef15.len(),
            });
        }
        let serial = array::<8>(ef15, layout::SERIAL_RANGE, WHAT)?;
        let second_diversifier = if two_level {
            Some(array::<8>(ef15, layout::SECOND_DIVERSIFIER_RANGE, WHAT)?)
        } else {
            None
        };
        let number = ef15
            .get(layout::CARD_NUMBER_RANGE)
            .map(CardNumber::from_bytes)
            .ok_or(CardDataError::Missing {
                what: WHAT,
                start: layout::CARD_NUMBER_RANGE.start,
                end: layout::CARD_NUMBER_RANGE.end,
            })?;
        Ok(CardInfo {
            number,
            identity: CardIdentity {
                serial,
                second_diversifier,
            },
            start_date: bcd_date(array(ef15, layout::START_DATE_RANGE, WHAT)?, WHAT)?,
            expiry_date: bcd_date(array(ef15, layout::EXPIRY_DATE_RANGE, WHAT)?, WHAT)?,
            blocked,
            issuer_code: array::<8>(ef15, layout::ISSUER_CODE_RANGE, WHAT)?,
            card_type: ef15[layout::CARD_TYPE],
        })
    }
}

/// The 15-byte INITIALIZE FOR PURCHASE / CAPP PURCHASE response (pboc-notes §4.1 ✅): old
/// balance 4 ‖ offline ATC 2 ‖ overdraft limit 3 ‖ key version 1 ‖ algorithm id 1 ‖
/// pseudo-random 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseInit {
    /// Balance before the purchase, fen.
    pub balance: PurseAmount,
    /// Offline counter before the purchase (the session-key input; the transaction is +1).
    pub offline_atc: u16,
    /// Overdraft limit, fen.
    pub overdraft_limit: PurseAmount,
    /// Key version (selects the PSAM key).
    pub key_version: u8,
    /// Algorithm id (`00` 3DES ⚠ pboc-notes §4.1).
    pub algorithm_id: u8,
    /// Card pseudo-random.
    pub random: [u8; 4],
}

impl PurchaseInit {
    /// Parses the response data; exactly 15 bytes.
    pub fn parse(data: &[u8]) -> Result<PurchaseInit, CardDataError> {
        const WHAT: &str = "INITIALIZE FOR PURCHASE response";
        if data.len() != 15 {
            return Err(CardDataError::length(WHAT, 15, data.len()));
        }
        Ok(PurchaseInit {
            balance: PurseAmount::from_be_bytes([data[0], data[1], data[2], data[3]]),
            offline_atc: u16::from_be_bytes([data[4], data[5]]),
            overdraft_limit: PurseAmount::from_be_bytes([0, data[6], data[7], data[8]]),
            key_version: data[9],
            algorithm_id: data[10],
            random: [data[11], data[12], data[13], data[14]],
        })
    }
}

/// The 16-byte INITIALIZE FOR LOAD response (pboc-notes §4.1 ✅, \[V4\]): old balance 4 ‖ online
/// ATC 2 ‖ key version 1 ‖ algorithm id 1 ‖ pseudo-random 4 ‖ MAC1 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadInit {
    /// Balance before the load, fen.
    pub balance: PurseAmount,
    /// Online counter before the load.
    pub online_atc: u16,
    /// Key version.
    pub key_version: u8,
    /// Algorithm id.
    pub algorithm_id: u8,
    /// Card pseudo-random.
    pub random: [u8; 4],
    /// The card's MAC1, checked by the host.
    pub mac1: [u8; 4],
}

impl LoadInit {
    /// Parses the response data; exactly 16 bytes.
    pub fn parse(data: &[u8]) -> Result<LoadInit, CardDataError> {
        const WHAT: &str = "INITIALIZE FOR LOAD response";
        if data.len() != 16 {
            return Err(CardDataError::length(WHAT, 16, data.len()));
        }
        Ok(LoadInit {
            balance: PurseAmount::from_be_bytes([data[0], data[1], data[2], data[3]]),
            online_atc: u16::from_be_bytes([data[4], data[5]]),
            key_version: data[6],
            algorithm_id: data[7],
            random: [data[8], data[9], data[10], data[11]],
            mac1: [data[12], data[13], data[14], data[15]],
        })
    }
}

/// One EF18 log record (23 bytes, pboc-notes §4.6 ✅): ATC 2 ‖ overdraft limit 3 ‖ amount 4 ‖
/// type 1 ‖ terminal 6 ‖ date 4 ‖ time 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PurseLogRecord {
    /// Online or offline counter of that transaction.
    pub atc: u16,
    /// Overdraft limit, fen.
    pub overdraft_limit: PurseAmount,
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Transaction type (`02` load, `06` purchase, `09` CAPP, …).
    pub transaction_type: u8,
    /// Terminal number.
    #[serde(serialize_with = "As::<UpperHex>::serialize")]
    pub terminal_id: [u8; 6],
    /// Date, BCD `YYYYMMDD`.
    #[serde(serialize_with = "As::<UpperHex>::serialize")]
    pub date: [u8; 4],
    /// Time, BCD `hhmmss`.
    #[serde(serialize_with = "As::<UpperHex>::serialize")]
    pub time: [u8; 3],
}

/// Length of an EF18 record.
pub const LOG_RECORD_LEN: usize = 23;

impl PurseLogRecord {
    /// Parses one record; exactly 23 bytes.
    pub fn parse(data: &[u8]) -> Result<PurseLogRecord, CardDataError> {
        const WHAT: &str = "EF18 record";
        if data.len() != LOG_RECORD_LEN {
            return Err(CardDataError::length(WHAT, LOG_RECORD_LEN, data.len()));
        }
        Ok(PurseLogRecord {
            atc: u16::from_be_bytes([data[0], data[1]]),
            overdraft_limit: PurseAmount::from_be_bytes([0, data[2], data[3], data[4]]),
            amount: PurseAmount::from_be_bytes([data[5], data[6], data[7], data[8]]),
            transaction_type: data[9],
            terminal_id: array(data, 10..16, WHAT)?,
            date: array(data, 16..20, WHAT)?,
            time: array(data, 20..23, WHAT)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t_union_ef15() -> Vec<u8> {
        hex::decode(
            "01011000FFFFFFFF020131040000000012345678202401012034123100 00".replace(' ', ""),
        )
        .unwrap()
    }

    #[test]
    fn ef15_t_union_and_masking() {
        let info = CardInfo::parse(&t_union_ef15(), false, false).unwrap();
        assert_eq!(info.number.expose_digits(), "31040000000012345678");
        assert_eq!(info.number.to_string(), "3104************5678");
        assert_eq!(info.identity.serial, [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(info.identity.second_diversifier, None);
        assert_eq!(info.expiry_date, CalendarDate::new(2034, 12, 31).unwrap());
        let shown = format!("{info:?}");
        assert!(
            !shown.contains("12345678") && !shown.contains("0012"),
            "{shown}"
        );
        assert_eq!(
            serde_json::to_string(&info.number).unwrap(),
            "\"3104************5678\""
        );
        let two = CardInfo::parse(&t_union_ef15(), true, false).unwrap();
        assert_eq!(
            two.identity.second_diversifier,
            Some([1, 1, 0x10, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        );
    }

    #[test]
    fn ef15_junk_is_refused() {
        assert_eq!(
            CardInfo::parse(&t_union_ef15()[..27], false, false),
            Err(CardDataError::TooShort {
                what: "EF15",
                min: layout::EF15_MIN_LEN,
                actual: 27
            })
        );
        let mut bad_date = t_union_ef15();
        bad_date[24] = 0xAB;
        let err = CardInfo::parse(&bad_date, false, false).unwrap_err();
        assert!(
            matches!(err, CardDataError::Date { what: "EF15", .. }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "card sent malformed EF15: invalid date");
        assert!(core::error::Error::source(&err).is_some());
        let mut zero_month = t_union_ef15();
        zero_month[26] = 0x00;
        assert!(CardInfo::parse(&zero_month, false, false).is_err());
    }

    #[test]
    fn init_and_log_layouts() {
        let init =
            PurchaseInit::parse(&hex::decode("00001388001000000001000A0B0C0D").unwrap()).unwrap();
        assert_eq!(
            (init.balance.fen(), init.offline_atc, init.key_version),
            (5000, 16, 1)
        );
        assert_eq!(init.random, [0x0A, 0x0B, 0x0C, 0x0D]);
        assert_eq!(
            PurchaseInit::parse(&[0; 14]),
            Err(CardDataError::Length {
                what: "INITIALIZE FOR PURCHASE response",
                expected: 15,
                actual: 14
            })
        );
        assert!(PurchaseInit::parse(&[0; 16]).is_err());
        let load =
            LoadInit::parse(&hex::decode("0000000000000100112233442988AE5A").unwrap()).unwrap();
        assert_eq!(load.mac1, [0x29, 0x88, 0xAE, 0x5A]);
        assert_eq!(load.key_version, 1);
        assert!(LoadInit::parse(&[0; 15]).is_err());
        let log = PurseLogRecord::parse(
            &hex::decode("0011000000000000C806310100000001202405170830 15".replace(' ', ""))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (log.atc, log.amount, log.transaction_type),
            (17, PurseAmount::from_fen(200), 6)
        );
        assert!(PurseLogRecord::parse(&[0; 22]).is_err());
    }

    #[test]
    fn identity_round_trips_and_hides_in_debug() {
        let id = CardIdentity {
            serial: [1, 2, 3, 4, 5, 6, 7, 8],
            second_diversifier: Some([9; 8]),
        };
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<CardIdentity>(&json).unwrap(), id);
        assert!(!format!("{id:?}").contains("0102030405"));
        assert!(CardNumber::from_digits("12345").is_none());
        assert!(CardNumber::from_digits("1234567G").is_none());
    }
}
