//! Transaction date (`9A`) and time (`9F21`), validated on construction. The kernel never reads
//! a clock: the terminal passes these in.

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

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

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
    fn times() {
        let t = TransactionTime::from_bcd(&[0x23, 0x59, 0x59]).unwrap();
        assert_eq!(t.to_bcd(), [0x23, 0x59, 0x59]);
        assert_eq!(t.to_string(), "23:59:59");
        assert!(TransactionTime::from_bcd(&[0x24, 0x00, 0x00]).is_err());
        assert!(TransactionTime::from_bcd(&[0x12, 0x60, 0x00]).is_err());
        assert!(TransactionTime::from_bcd(&[0x12, 0x00]).is_err());
    }
}
