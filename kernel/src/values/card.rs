//! Cardholder data: PAN (tag `5A`) and Track 2 equivalent data (tag `57`).
//!
//! Both types mask themselves in `Debug`, `Display` and `Serialize` so that a PAN never reaches
//! a log by accident; the full digits are only available through methods named `expose_*`.

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::fmt;

use super::{bcd, ValueError};

/// A primary account number, 12 to 19 digits (tag `5A`, cn up to 10 bytes; EMV Book 3 Annex A,
/// ISO/IEC 7812-1).
///
/// `Debug`, `Display` and `Serialize` show the first 6 and last 4 digits and replace the rest
/// with `*` (`621022*********7355`). There is deliberately no `Deserialize`: the masked form
/// cannot be read back.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pan {
    digits: String,
}

impl Pan {
    /// Fewest digits in a PAN.
    pub const MIN_DIGITS: usize = 12;
    /// Most digits in a PAN.
    pub const MAX_DIGITS: usize = 19;

    /// Takes the PAN as decimal digits; 12 to 19 ASCII digits.
    pub fn from_digits(digits: &str) -> Result<Pan, ValueError> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Malformed {
                what: "PAN",
                reason: "not all decimal digits",
            });
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(ValueError::Malformed {
                what: "PAN",
                reason: "not 12 to 19 digits",
            });
        }
        Ok(Pan {
            digits: digits.to_owned(),
        })
    }

    /// Decodes the value of tag `5A`: cn, digits then `F` padding, at most 10 bytes.
    pub fn from_bcd(bytes: &[u8]) -> Result<Pan, ValueError> {
        if bytes.len() > 10 {
            return Err(ValueError::Length {
                what: "PAN",
                expected: "at most 10",
                actual: bytes.len(),
            });
        }
        let digits = bcd::cn_to_digits(bytes).map_err(ValueError::bcd("PAN"))?;
        Pan::from_digits(&digits)
    }

    /// The full PAN digits. Named so that every place that unmasks the PAN is easy to find.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }

    /// The full PAN as cn (F-padded) bytes, as tag `5A` carries it; also unmasked.
    pub fn to_bcd(&self) -> Vec<u8> {
        // Digits were checked on construction, so this cannot fail; an empty result is
        // impossible but harmless.
        bcd::digits_to_cn(&self.digits, self.digits.len().div_ceil(2)).unwrap_or_default()
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.digits.len()
    }

    /// Always false (a PAN has at least 12 digits); present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// True when the last digit is the correct Luhn check digit (ISO/IEC 7812-1 Annex B).
    pub fn luhn_valid(&self) -> bool {
        let sum: u32 = self
            .digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 {
                    let dd = d * 2;
                    if dd > 9 {
                        dd - 9
                    } else {
                        dd
                    }
                } else {
                    d
                }
            })
            .sum();
        sum % 10 == 0
    }

    /// The masked form: first 6 and last 4 digits, `*` between.
    pub fn masked(&self) -> String {
        let len = self.digits.len();
        self.digits
            .char_indices()
            .map(|(i, c)| if i < 6 || i + 4 >= len { c } else { '*' })
            .collect()
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl serde::Serialize for Pan {
    /// Writes the masked form only.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// A card expiry month, `YYMM` (Track 2, ISO/IEC 7813 §10; the first four digits of tag `5F24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpiryDate {
    year: u16,
    month: u8,
}

impl ExpiryDate {
    /// Makes an expiry date from a two-digit year (00–49 → 20YY, 50–99 → 19YY, EMV Book 3
    /// Annex A "Application Expiration Date") and a month 1–12.
    pub fn from_yymm(yy: u8, mm: u8) -> Result<ExpiryDate, ValueError> {
        if yy > 99 || !(1..=12).contains(&mm) {
            return Err(ValueError::OutOfRange {
                what: "expiry date",
            });
        }
        let year = if yy < 50 { 2000 } else { 1900 } + u16::from(yy);
        Ok(ExpiryDate { year, month: mm })
    }

    /// The full year (e.g. 2027).
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }
}

/// Track 2 equivalent data, tag `57` (EMV Book 3 Annex A; layout of ISO/IEC 7813 track 2):
/// PAN ‖ `D` ‖ expiry YYMM ‖ service code (3) ‖ discretionary data ‖ `F` pad, as nibbles.
///
/// `Debug`, `Display` and `Serialize` show only the masked PAN; expiry, service code and
/// discretionary data are never printed. There is no `Deserialize`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Track2 {
    bytes: Vec<u8>,
    pan: Pan,
    expiry: ExpiryDate,
    service_code: u16,
    discretionary: String,
}

impl Track2 {
    /// Parses the value of tag `57` (at most 19 bytes). Every nibble before the pad must be a
    /// digit except the single `D` separator; `F` may only pad the end.
    pub fn parse(bytes: &[u8]) -> Result<Track2, ValueError> {
        const WHAT: &str = "track 2";
        if bytes.len() > 19 {
            return Err(ValueError::Length {
                what: WHAT,
                expected: "at most 19",
                actual: bytes.len(),
            });
        }
        let nibbles: Vec<u8> = bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
        // Strip trailing F padding.
        let end = nibbles
            .iter()
            .rposition(|&n| n != 0x0F)
            .map_or(0, |i| i + 1);
        let body = &nibbles[..end];
        let sep = body
            .iter()
            .position(|&n| n == 0x0D)
            .ok_or(ValueError::Malformed {
                what: WHAT,
                reason: "no field separator D",
            })?;
        let (pan_nibbles, rest) = body.split_at(sep);
        let rest = &rest[1..];
        if body.iter().enumerate().any(|(i, &n)| n > 9 && i != sep) {
            return Err(ValueError::Malformed {
                what: WHAT,
                reason: "non-digit nibble",
            });
        }
        let as_digits = |ns: &[u8]| -> String { ns.iter().map(|n| char::from(b'0' + n)).collect() };
        let pan = Pan::from_digits(&as_digits(pan_nibbles))?;
        if rest.len() < 7 {
            return Err(ValueError::Malformed {
                what: WHAT,
                reason: "expiry or service code missing",
            });
        }
        let expiry = ExpiryDate::from_yymm(rest[0] * 10 + rest[1], rest[2] * 10 + rest[3])?;
        let service_code = u16::from(rest[4]) * 100 + u16::from(rest[5]) * 10 + u16::from(rest[6]);
        Ok(Track2 {
            bytes: bytes.to_vec(),
            pan,
            expiry,
            service_code,
            discretionary: as_digits(&rest[7..]),
        })
    }

    /// The PAN (itself masked when printed).
    pub fn pan(&self) -> &Pan {
        &self.pan
    }

    /// The expiry date.
    pub fn expiry(&self) -> ExpiryDate {
        self.expiry
    }

    /// The three-digit service code (ISO/IEC 7813), e.g. 220 or 201.
    pub fn service_code(&self) -> u16 {
        self.service_code
    }

    /// The discretionary data digits, unmasked.
    pub fn expose_discretionary_data(&self) -> &str {
        &self.discretionary
    }

    /// The raw tag `57` value, unmasked (for the online authorisation message).
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Display for Track2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}D<redacted>", self.pan)
    }
}

impl fmt::Debug for Track2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Track2({self})")
    }
}

impl serde::Serialize for Track2 {
    /// Writes the masked form only.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
