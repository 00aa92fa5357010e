//! Calendar dates as EMV uses them: the transaction date (tag `9A`, BCD `YYMMDD`) and the
//! `MMYY` expiry dates of ODA certificates (EMV Book 2 §5.3 step 7, §6.3 step 7).
//!
//! Two-digit years follow the vector convention (vectors README §1.2): `YY` 00–49 is 20YY,
//! 50–99 is 19YY.

use core::fmt;

/// Why a date could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// The text or BCD input has the wrong length.
    #[error("date has {found} digits, expected {expected}")]
    Length {
        /// Digits expected.
        expected: usize,
        /// Digits found.
        found: usize,
    },
    /// A character or nibble is not a decimal digit.
    #[error("date contains a non-decimal digit")]
    NotDecimal,
    /// The digits do not name a real calendar day.
    #[error("{year:04}-{month:02}-{day:02} is not a calendar date")]
    NotACalendarDate {
        /// Full year.
        year: u16,
        /// Month as given.
        month: u8,
        /// Day as given.
        day: u8,
    },
}

/// A real calendar date (proleptic Gregorian), ordered chronologically.
///
/// Used for the transaction date `9A` (EMV Book 3 Annex A) and for certificate expiry checks
/// (EMV Book 2 §5.3 step 7, §6.3 step 7).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    // Field order gives the derived chronological ordering.
    year: u16,
    month: u8,
    day: u8,
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Full year for a two-digit EMV year: 00–49 → 20YY, 50–99 → 19YY (vectors README §1.2).
/// `yy` must be below 100.
fn full_year(yy: u8) -> u16 {
    if yy < 50 {
        2000 + u16::from(yy)
    } else {
        1900 + u16::from(yy)
    }
}

/// True for a Gregorian leap year. The project's one leap-year rule: the kernel's date types
/// use it too.
pub fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`, proleptic Gregorian; 0 for a month out of range. The
/// project's one calendar rule: the kernel's date types use it too.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Two BCD digits of one byte, or `None` if a nibble is above 9.
fn bcd_byte(b: u8) -> Option<u8> {
    let (hi, lo) = (b >> 4, b & 0x0F);
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

impl Date {
    /// A date from a full year, month (1–12) and day; refuses anything that is not a real day.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateError::NotACalendarDate { year, month, day });
        }
        Ok(Self { year, month, day })
    }

    /// Parses the vectors' `yymmdd` text (6 decimal digits, README §1.2).
    pub fn from_yymmdd(text: &str) -> Result<Self, DateError> {
        let b = text.as_bytes();
        if b.len() != 6 {
            return Err(DateError::Length {
                expected: 6,
                found: b.len(),
            });
        }
        let mut v = [0u8; 3];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let (h, l) = (pair[0], pair[1]);
            if !h.is_ascii_digit() || !l.is_ascii_digit() {
                return Err(DateError::NotDecimal);
            }
            v[i] = (h - b'0') * 10 + (l - b'0');
        }
        Self::new(full_year(v[0]), v[1], v[2])
    }

    /// Parses the 3-byte BCD `YYMMDD` of the transaction date, tag `9A` (EMV Book 3 Annex A).
    pub fn from_bcd_yymmdd(bcd: &[u8]) -> Result<Self, DateError> {
        let [y, m, d] = <[u8; 3]>::try_from(bcd).map_err(|_| DateError::Length {
            expected: 6,
            found: bcd.len() * 2,
        })?;
        let (Some(y), Some(m), Some(d)) = (bcd_byte(y), bcd_byte(m), bcd_byte(d)) else {
            return Err(DateError::NotDecimal);
        };
        Self::new(full_year(y), m, d)
    }

    /// The last day a certificate with BCD expiry `MMYY` is valid (EMV Book 2 §5.3 step 7:
    /// the certificate expiration date is valid through the last day of that month).
    pub fn from_bcd_mmyy_expiry(mmyy: [u8; 2]) -> Result<Self, DateError> {
        let (Some(mm), Some(yy)) = (bcd_byte(mmyy[0]), bcd_byte(mmyy[1])) else {
            return Err(DateError::NotDecimal);
        };
        end_of_month(yy, mm)
    }

    /// The year, e.g. 2024.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }
}

/// Last day of month `mm` (1–12) of two-digit year `yy` (0–99; 00–49 → 20YY, 50–99 → 19YY).
///
/// EMV certificates carry `MMYY` and are valid through the last day of that month
/// (EMV Book 2 §5.3 step 7 and §6.3 step 7).
pub fn end_of_month(yy: u8, mm: u8) -> Result<Date, DateError> {
    if yy > 99 {
        return Err(DateError::NotDecimal);
    }
    let year = full_year(yy);
    Date::new(year, mm, days_in_month(year, mm))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let a = Date::from_yymmdd("081101").unwrap();
        assert_eq!((a.year(), a.month(), a.day()), (2008, 11, 1));
        let b = Date::from_bcd_yymmdd(&[0x99, 0x12, 0x31]).unwrap();
        assert_eq!(b.year(), 1999);
        assert!(b < a);
        assert_eq!(Date::from_yymmdd("240229").unwrap().day(), 29);
        assert!(Date::from_yymmdd("230229").is_err());
        assert!(Date::from_yymmdd("231301").is_err());
        assert!(Date::from_yymmdd("2301").is_err());
        assert!(Date::from_yymmdd("23a101").is_err());
        assert!(Date::from_bcd_yymmdd(&[0x23, 0x1A, 0x01]).is_err());
        assert!(Date::from_bcd_yymmdd(&[0x23, 0x01]).is_err());
    }

    #[test]
    fn end_of_month_rules() {
        assert_eq!(
            end_of_month(24, 2).unwrap(),
            Date::new(2024, 2, 29).unwrap()
        );
        assert_eq!(end_of_month(0, 2).unwrap(), Date::new(2000, 2, 29).unwrap());
        assert_eq!(
            end_of_month(50, 2).unwrap(),
            Date::new(1950, 2, 28).unwrap()
        );
        assert_eq!(
            end_of_month(9, 12).unwrap(),
            Date::new(2009, 12, 31).unwrap()
        );
        assert!(end_of_month(9, 13).is_err());
        assert!(end_of_month(9, 0).is_err());
        assert!(end_of_month(100, 1).is_err());
        assert_eq!(
            Date::from_bcd_mmyy_expiry([0x06, 0x15]).unwrap(),
            Date::new(2015, 6, 30).unwrap()
        );
    }
}
