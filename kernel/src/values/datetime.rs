//! Transaction date (`9A`) and time (`9F21`), and the 8-digit calendar dates of ED/EP files
//! (EF15 start and expiry), validated on construction. The kernel never reads a clock: the
//! terminal passes these in. The calendar rule (days in a month, leap years) is the crypto
//! crate's [`quickpass_crypto::date::days_in_month`], the project's only copy.

use core::fmt;

use super::{bcd, ValueError};

/// The transaction date, tag `9A`: n6 `YYMMDD` (EMV Book 3 Annex A). Two-digit years 00–49 are
/// 20YY and 50–99 are 19YY. Always a real calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionDate {
    year: u16,
    month: u8,
    day: u8,
}

use quickpass_crypto::date::days_in_month;

impl TransactionDate {
    /// Makes a date from a full year 1950–2049 (the years `YY` can express), month and day.
    pub fn new(year: u16, month: u8, day: u8) -> Result<TransactionDate, ValueError> {
        if !(1950..=2049).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(ValueError::OutOfRange {
                what: "transaction date",
            });
        }
        Ok(TransactionDate { year, month, day })
    }

    /// Decodes the 3-byte `YYMMDD` BCD value of tag `9A`.
    pub fn from_bcd(bytes: &[u8]) -> Result<TransactionDate, ValueError> {
        const WHAT: &str = "transaction date";
        if bytes.len() != 3 {
            return Err(ValueError::Length {
                what: WHAT,
                expected: "3",
                actual: bytes.len(),
            });
        }
        let field = |b: u8| bcd::bcd_to_u64(&[b]).map(|v| v as u8);
        let yy = field(bytes[0]).map_err(ValueError::bcd(WHAT))?;
        let mm = field(bytes[1]).map_err(ValueError::bcd(WHAT))?;
        let dd = field(bytes[2]).map_err(ValueError::bcd(WHAT))?;
        let year = if yy < 50 { 2000 } else { 1900 } + u16::from(yy);
        TransactionDate::new(year, mm, dd)
    }

    /// The full year.
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month.
    pub const fn day(self) -> u8 {
        self.day
    }

    /// The `YYMMDD` BCD value for tag `9A`.
    pub const fn to_bcd(self) -> [u8; 3] {
        [
            to_bcd_byte((self.year % 100) as u8),
            to_bcd_byte(self.month),
            to_bcd_byte(self.day),
        ]
    }

    /// The 4-byte `YYYYMMDD` BCD date the PBOC ED/EP commands use (pboc-notes §4.1).
    pub const fn to_yyyymmdd_bcd(self) -> [u8; 4] {
        [
            to_bcd_byte((self.year / 100) as u8),
            to_bcd_byte((self.year % 100) as u8),
            to_bcd_byte(self.month),
            to_bcd_byte(self.day),
        ]
    }
}

impl fmt::Display for TransactionDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A calendar date written with a 4-digit year: the `YYYYMMDD` BCD dates of ED/EP files (EF15
/// start and expiry dates, pboc-notes §4.7/§4.8) and commands (pboc-notes §4.1). Any year
/// 0001–9999, so a card valid to `20991231` (or `99991231`, "no expiry") is not forced through
/// the `YYMMDD` 1950–2049 window of [`TransactionDate`]. Always a real calendar date; ordered
/// chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarDate {
    // Field order gives the derived chronological ordering.
    year: u16,
    month: u8,
    day: u8,
}

impl CalendarDate {
    /// Makes a date from a year 1–9999, month and day.
    pub fn new(year: u16, month: u8, day: u8) -> Result<CalendarDate, ValueError> {
        if !(1..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(ValueError::OutOfRange {
                what: "calendar date",
            });
        }
        Ok(CalendarDate { year, month, day })
    }

    /// Decodes the 4-byte `YYYYMMDD` BCD value.
    pub fn from_yyyymmdd_bcd(bytes: &[u8]) -> Result<CalendarDate, ValueError> {
        const WHAT: &str = "calendar date";
        let &[y1, y2, mm, dd] = bytes else {
            return Err(ValueError::Length {
                what: WHAT,
                expected: "4",
                actual: bytes.len(),
            });
        };
        let field = |b: u8| {
            bcd::bcd_to_u64(&[b])
                .map(|v| v as u8)
                .map_err(ValueError::bcd(WHAT))
        };
        let year = u16::from(field(y1)?) * 100 + u16::from(field(y2)?);
        CalendarDate::new(year, field(mm)?, field(dd)?)
    }

    /// The full year.
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month.
    pub const fn day(self) -> u8 {
        self.day
    }

    /// The 4-byte `YYYYMMDD` BCD value.
    pub const fn to_yyyymmdd_bcd(self) -> [u8; 4] {
        [
            to_bcd_byte((self.year / 100) as u8),
            to_bcd_byte((self.year % 100) as u8),
            to_bcd_byte(self.month),
            to_bcd_byte(self.day),
        ]
    }
}

impl From<TransactionDate> for CalendarDate {
    /// Every transaction date is a calendar date.
    fn from(date: TransactionDate) -> CalendarDate {
        CalendarDate {
            year: date.year,
            month: date.month,
            day: date.day,
        }
    }
}

impl PartialEq<CalendarDate> for TransactionDate {
    fn eq(&self, other: &CalendarDate) -> bool {
        CalendarDate::from(*self) == *other
    }
}

impl PartialOrd<CalendarDate> for TransactionDate {
    /// Chronological: a transaction date compares with an EF15 date directly.
    fn partial_cmp(&self, other: &CalendarDate) -> Option<core::cmp::Ordering> {
        Some(CalendarDate::from(*self).cmp(other))
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The transaction time, tag `9F21`: n6 `HHMMSS` (EMV Book 3 Annex A), 00:00:00–23:59:59.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionTime {
    hour: u8,
    minute: u8,
    second: u8,
}

impl TransactionTime {
    /// Makes a time of day; hour 0–23, minute and second 0–59.
    pub fn new(hour: u8, minute: u8, second: u8) -> Result<TransactionTime, ValueError> {
        if hour > 23 || minute > 59 || second > 59 {
            return Err(ValueError::OutOfRange {
                what: "transaction time",
            });
        }
        Ok(TransactionTime {
            hour,
            minute,
            second,
        })
    }

    /// Decodes the 3-byte `HHMMSS` BCD value of tag `9F21`.
    pub fn from_bcd(bytes: &[u8]) -> Result<TransactionTime, ValueError> {
        const WHAT: &str = "transaction time";
        if bytes.len() != 3 {
            return Err(ValueError::Length {
                what: WHAT,
                expected: "3",
                actual: bytes.len(),
            });
        }
        let field = |b: u8| {
            bcd::bcd_to_u64(&[b])
                .map(|v| v as u8)
                .map_err(ValueError::bcd(WHAT))
        };
        TransactionTime::new(field(bytes[0])?, field(bytes[1])?, field(bytes[2])?)
    }

    /// The hour, 0–23.
    pub const fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, 0–59.
    pub const fn minute(self) -> u8 {
        self.minute
    }

    /// The second, 0–59.
    pub const fn second(self) -> u8 {
        self.second
    }

    /// The `HHMMSS` BCD value (tag `9F21`, and the ED/EP time field of pboc-notes §4.1).
    pub const fn to_bcd(self) -> [u8; 3] {
        [
            to_bcd_byte(self.hour),
            to_bcd_byte(self.minute),
            to_bcd_byte(self.second),
        ]
    }
}

impl fmt::Display for TransactionTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// Two decimal digits (0–99) as one BCD byte.
const fn to_bcd_byte(v: u8) -> u8 {
    ((v / 10 % 10) << 4) | (v % 10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = TransactionDate::from_bcd(&[0x24, 0x02, 0x29]).unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2024, 2, 29));
        assert_eq!(d.to_bcd(), [0x24, 0x02, 0x29]);
        assert_eq!(d.to_yyyymmdd_bcd(), [0x20, 0x24, 0x02, 0x29]);
        assert!(TransactionDate::from_bcd(&[0x23, 0x02, 0x29]).is_err());
        assert!(TransactionDate::from_bcd(&[0x23, 0x13, 0x01]).is_err());
        assert!(TransactionDate::from_bcd(&[0x23, 0x01, 0x00]).is_err());
        assert!(TransactionDate::from_bcd(&[0x23, 0x01, 0x3A]).is_err());
        assert_eq!(
            TransactionDate::from_bcd(&[0x99, 0x12, 0x31])
                .unwrap()
                .year(),
            1999
        );
        assert!(TransactionDate::new(2000, 2, 29).is_ok());
        assert!(TransactionDate::new(2100, 1, 1).is_err());
    }

    #[test]
    fn calendar_dates_have_four_digit_years() {
        let d = CalendarDate::from_yyyymmdd_bcd(&[0x20, 0x99, 0x12, 0x31]).unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2099, 12, 31));
        assert_eq!(d.to_yyyymmdd_bcd(), [0x20, 0x99, 0x12, 0x31]);
        assert_eq!(d.to_string(), "2099-12-31");
        let far = CalendarDate::from_yyyymmdd_bcd(&[0x99, 0x99, 0x12, 0x31]).unwrap();
        assert_eq!(far.year(), 9999);
        let old = CalendarDate::from_yyyymmdd_bcd(&[0x19, 0x00, 0x01, 0x01]).unwrap();
        assert_eq!(old.year(), 1900);
        // 2100 is not a leap year, 2000 is; 1900 is not.
        assert!(CalendarDate::new(2100, 2, 29).is_err());
        assert!(CalendarDate::new(2000, 2, 29).is_ok());
        assert!(CalendarDate::new(1900, 2, 29).is_err());
        assert!(CalendarDate::new(0, 1, 1).is_err());
        assert!(CalendarDate::from_yyyymmdd_bcd(&[0x20, 0x24, 0x13, 0x01]).is_err());
        assert!(CalendarDate::from_yyyymmdd_bcd(&[0x20, 0x2A, 0x01, 0x01]).is_err());
        assert!(CalendarDate::from_yyyymmdd_bcd(&[0x20, 0x24, 0x01]).is_err());
        // Ordering against the 9A date the flow is given.
        let today = TransactionDate::new(2026, 11, 28).unwrap();
        assert!(today < d);
        assert!(today > old);
        assert!(today == CalendarDate::new(2026, 11, 28).unwrap());
        assert_eq!(
            CalendarDate::from(today).to_yyyymmdd_bcd(),
            today.to_yyyymmdd_bcd()
        );
    }

    #[test]
    fn times() {
        let t = TransactionTime::from_bcd(&[0x23, 0x59, 0x59]).unwrap();
        assert_eq!(t.to_bcd(), [0x23, 0x59, 0x59]);
        assert_eq!(t.to_string(), "23:59:59");
        assert!(TransactionTime::from_bcd(&[0x24, 0x00, 0x00]).is_err());
        assert!(TransactionTime::from_bcd(&[0x12, 0x60, 0x00]).is_err());
        assert!(TransactionTime::from_bcd(&[0x12, 0x00]).is_err());
    }
}
