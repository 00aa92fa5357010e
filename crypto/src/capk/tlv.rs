//! CA public key files in the terminal-parameter TLV layout of Chinese POS terminals
//! (pboc-notes §3.2, §3.5; vectors README §3.5 `tlv`).
//!
//! UnionPay acquirers and terminal management systems distribute CA keys as records of
//! primitive BER-TLV data objects (EMV Book 3 Annex B coding):
//!
//! | tag | object | |
//! |---|---|---|
//! | `9F06` | RID | 5 bytes, mandatory |
//! | `9F22` | CA public key index | 1 byte, mandatory |
//! | `DF05` | expiry date | 8 ASCII digits `YYYYMMDD` or 4 bytes BCD; optional |
//! | `DF06` | hash algorithm indicator | `01` SHA-1, `07` SM3; mandatory |
//! | `DF07` | public key algorithm indicator | `01` RSA, `04` SM2; mandatory |
//! | `DF02` | RSA modulus, or SM2 public key X ‖ Y (64 bytes, or 65 with `04`) | mandatory |
//! | `DF04` | RSA exponent | mandatory for RSA, ignored for SM2 |
//! | `DF03` | checksum | mandatory; checked as [`super`] documents (⚠ for SM2) |
//!
//! Other tags in a record are ignored. A **file** holds several records, each either
//! wrapped in a constructed template (any constructed tag: `70`, `BF01`, `FF01`, … — vendors
//! differ) or bare, one after the other; a bare record ends where the next begins, recognised
//! by a tag repeating (every record carries `9F06`, so a second `9F06` starts a new record
//! whatever the order of the objects). `00` bytes between objects are padding (EMV Book 3
//! Annex B1). The structure of the whole file is checked before any key is built: a truncated or
//! malformed file is a [`CapkError::Tlv`] and loads nothing.
//!
//! Everything here is hostile input: every length is checked, nothing panics.

use alloc::{vec, vec::Vec};
use core::fmt;

use crate::date::Date;

use super::{CaPublicKey, CapkError, CapkIndex, HashAlgorithm, KeyId, PkAlgorithm, Rid};

/// `9F06`: registered application provider identifier.
pub const TAG_RID: u32 = 0x9F06;
/// `9F22`: CA public key index.
pub const TAG_INDEX: u32 = 0x9F22;
/// `DF05`: key expiry date, 8 ASCII digits `YYYYMMDD` (some SDKs: 4 bytes BCD).
pub const TAG_EXPIRY: u32 = 0xDF05;
/// `DF06`: hash algorithm indicator (`01` SHA-1, `07` SM3).
pub const TAG_HASH_ALGORITHM: u32 = 0xDF06;
/// `DF07`: public key algorithm indicator (`01` RSA, `04` SM2).
pub const TAG_PK_ALGORITHM: u32 = 0xDF07;
/// `DF02`: RSA modulus, or the SM2 public key X ‖ Y.
pub const TAG_MODULUS: u32 = 0xDF02;
/// `DF04`: RSA exponent.
pub const TAG_EXPONENT: u32 = 0xDF04;
/// `DF03`: key checksum.
pub const TAG_CHECKSUM: u32 = 0xDF03;

/// What is wrong with the BER-TLV coding of a CA key file or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvProblem {
    /// The input ends inside a tag.
    #[error("truncated tag")]
    TruncatedTag,
    /// A tag longer than 3 bytes (EMV uses at most 2; 3 is tolerated).
    #[error("tag longer than 3 bytes")]
    TagTooLong,
    /// The input ends inside a length.
    #[error("truncated length")]
    TruncatedLength,
    /// Indefinite length (`80`) or a length of more than 4 bytes.
    #[error("unsupported length encoding")]
    UnsupportedLength,
    /// The value runs past the end of its input.
    #[error("value runs past the end of the input")]
    TruncatedValue,
    /// A template holds something that is not a record of primitive objects (a nested
    /// template), or the same tag twice.
    #[error("template is not a CA key record")]
    NotARecord,
}

/// One data object: tag, value, the offset of its tag and of its value in the file.
#[derive(Clone, Copy)]
struct Object<'a> {
    tag: u32,
    constructed: bool,
    value: &'a [u8],
    offset: usize,
    value_offset: usize,
}

/// Reads the objects of `input` (offsets reported relative to `base`), skipping `00` padding.
struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8], base: usize) -> Self {
        Self { input, at: 0, base }
    }

    fn error(&self, at: usize, problem: TlvProblem) -> CapkError {
        CapkError::Tlv {
            offset: self.base + at,
            problem,
        }
    }

    fn byte(&mut self, problem: TlvProblem) -> Result<u8, CapkError> {
        let b = *self
            .input
            .get(self.at)
            .ok_or_else(|| self.error(self.at, problem))?;
        self.at += 1;
        Ok(b)
    }

    fn next_object(&mut self) -> Option<Result<Object<'a>, CapkError>> {
        while self.input.get(self.at) == Some(&0x00) {
            self.at += 1;
        }
        if self.at >= self.input.len() {
            return None;
        }
        Some(self.read_object())
    }

    fn read_object(&mut self) -> Result<Object<'a>, CapkError> {
        let start = self.at;
        let first = self.byte(TlvProblem::TruncatedTag)?;
        let constructed = first & 0x20 != 0;
        let mut tag = u32::from(first);
        if first & 0x1F == 0x1F {
            let mut more = 0;
            loop {
                let b = self.byte(TlvProblem::TruncatedTag)?;
                more += 1;
                if more > 2 {
                    return Err(self.error(start, TlvProblem::TagTooLong));
                }
                tag = (tag << 8) | u32::from(b);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let first_len = self.byte(TlvProblem::TruncatedLength)?;
        let length = match first_len {
            0x00..=0x7F => usize::from(first_len),
            0x81..=0x84 => {
                let mut length = 0usize;
                for _ in 0..(first_len & 0x7F) {
                    let b = self.byte(TlvProblem::TruncatedLength)?;
                    length = (length << 8) | usize::from(b);
                }
                length
            }
            _ => return Err(self.error(start, TlvProblem::UnsupportedLength)),
        };
        let value = self
            .input
            .get(self.at..)
            .and_then(|rest| rest.get(..length))
            .ok_or_else(|| self.error(start, TlvProblem::TruncatedValue))?;
        let value_offset = self.at;
        self.at += length;
        Ok(Object {
            tag,
            constructed,
            value,
            offset: self.base + start,
            value_offset: self.base + value_offset,
        })
    }
}

/// One record: its primitive objects, each tag at most once, and where it starts.
struct Record<'a> {
    objects: Vec<Object<'a>>,
    offset: usize,
}

impl<'a> Record<'a> {
    fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.objects.iter().find(|o| o.tag == tag).map(|o| o.value)
    }

    fn has(&self, tag: u32) -> bool {
        self.objects.iter().any(|o| o.tag == tag)
    }

    /// RID and index, when both are readable (for reports about a refused record).
    fn key_id(&self) -> Option<KeyId> {
        let rid = Rid::try_from(self.get(TAG_RID)?).ok()?;
        match self.get(TAG_INDEX)? {
            [index] => Some(KeyId {
                rid,
                index: CapkIndex(*index),
            }),
            _ => None,
        }
    }
}

/// The contents of a template: primitive objects only, no tag twice.
fn template_record(template: Object<'_>) -> Result<Record<'_>, CapkError> {
    let mut reader = Reader::new(template.value, template.value_offset);
    let mut record = Record {
        objects: Vec::new(),
        offset: template.offset,
    };
    while let Some(object) = reader.next_object() {
        let object = object?;
        if object.constructed || record.has(object.tag) {
            return Err(CapkError::Tlv {
                offset: object.offset,
                problem: TlvProblem::NotARecord,
            });
        }
        record.objects.push(object);
    }
    Ok(record)
}

/// Splits a file into records (see the module documentation). Checks the structure of the whole
/// file first.
fn split_records(file: &[u8]) -> Result<Vec<Record<'_>>, CapkError> {
    let mut reader = Reader::new(file, 0);
    let mut records = Vec::new();
    let mut bare: Option<Record<'_>> = None;
    while let Some(object) = reader.next_object() {
        let object = object?;
        if object.constructed {
            records.extend(bare.take());
            records.push(template_record(object)?);
            continue;
        }
        match &mut bare {
            Some(record) if !record.has(object.tag) => record.objects.push(object),
            _ => {
                records.extend(bare.take());
                bare = Some(Record {
                    objects: vec![object],
                    offset: object.offset,
                });
            }
        }
    }
    records.extend(bare);
    Ok(records)
}

fn field<'a>(record: &Record<'a>, tag: u32) -> Result<&'a [u8], CapkError> {
    record.get(tag).ok_or(CapkError::MissingField { tag })
}

fn one_byte(record: &Record<'_>, tag: u32) -> Result<u8, CapkError> {
    match field(record, tag)? {
        [b] => Ok(*b),
        _ => Err(CapkError::InvalidField { tag }),
    }
}

fn record_to_key(record: &Record<'_>) -> Result<CaPublicKey, CapkError> {
    let rid = Rid::try_from(field(record, TAG_RID)?)
        .map_err(|_| CapkError::InvalidField { tag: TAG_RID })?;
    let index = CapkIndex(one_byte(record, TAG_INDEX)?);
    let expiry = record.get(TAG_EXPIRY).map(parse_expiry).transpose()?;
    let hash_indicator = one_byte(record, TAG_HASH_ALGORITHM)?;
    let hash_algorithm = HashAlgorithm::from_indicator(hash_indicator)
        .ok_or(CapkError::UnsupportedHashAlgorithm(hash_indicator))?;
    let pk_indicator = one_byte(record, TAG_PK_ALGORITHM)?;
    let checksum = field(record, TAG_CHECKSUM)?;
    match PkAlgorithm::from_indicator(pk_indicator) {
        Some(PkAlgorithm::Rsa) => CaPublicKey::new_rsa(
            rid,
            index,
            field(record, TAG_MODULUS)?,
            field(record, TAG_EXPONENT)?,
            hash_algorithm,
            expiry,
            checksum,
        ),
        Some(PkAlgorithm::Sm2) => CaPublicKey::new_sm2(
            rid,
            index,
            field(record, TAG_MODULUS)?,
            hash_algorithm,
            expiry,
            checksum,
        ),
        None => Err(CapkError::UnsupportedPkAlgorithm(pk_indicator)),
    }
}

/// Parses one CA key record: the objects of the table above in any order, bare or wrapped in
/// one template. The key is built (sizes validated) but its checksum is only recorded:
/// [`CaPublicKey::checksum_is_valid`] tells, and [`super::CapkStore::insert`] refuses a key
/// whose checksum fails.
pub fn parse_record(record: &[u8]) -> Result<CaPublicKey, CapkError> {
    let mut records = split_records(record)?.into_iter();
    match (records.next(), records.next()) {
        (Some(only), None) => record_to_key(&only),
        (None, _) => Err(CapkError::MissingField { tag: TAG_RID }),
        (Some(_), Some(second)) => Err(CapkError::Tlv {
            offset: second.offset,
            problem: TlvProblem::NotARecord,
        }),
    }
}

/// What one record of a file gave: the key, or why not and which key it was (when its RID and
/// index are readable), with the record's position.
pub(super) struct ParsedRecord {
    pub(super) position: usize,
    pub(super) offset: usize,
    pub(super) result: Result<CaPublicKey, (Option<KeyId>, CapkError)>,
}

/// Parses every record of a file; fails as a whole when the file's TLV structure is malformed
/// or the file holds no record.
pub(super) fn parse_file(file: &[u8]) -> Result<Vec<ParsedRecord>, CapkError> {
    let records = split_records(file)?;
    if records.is_empty() {
        return Err(CapkError::NoRecords);
    }
    Ok(records
        .iter()
        .enumerate()
        .map(|(position, record)| ParsedRecord {
            position,
            offset: record.offset,
            result: record_to_key(record).map_err(|e| (record.key_id(), e)),
        })
        .collect())
}

/// Reads `DF05`: 8 ASCII digits `YYYYMMDD`, or 4 bytes BCD `YYYYMMDD`.
pub(super) fn parse_expiry(value: &[u8]) -> Result<Date, CapkError> {
    let invalid = CapkError::InvalidField { tag: TAG_EXPIRY };
    let mut digits = [0u8; 8];
    match value.len() {
        8 if value.iter().all(u8::is_ascii_digit) => {
            for (d, v) in digits.iter_mut().zip(value) {
                *d = v - b'0';
            }
        }
        4 => {
            for (pair, b) in digits.chunks_exact_mut(2).zip(value) {
                pair[0] = b >> 4;
                pair[1] = b & 0x0F;
            }
        }
        _ => return Err(invalid),
    }
    if digits.iter().any(|d| *d > 9) {
        return Err(invalid);
    }
    let number = |from: usize, to: usize| {
        digits[from..to]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(*d))
    };
    let month = u8::try_from(number(4, 6)).map_err(|_| invalid.clone())?;
    let day = u8::try_from(number(6, 8)).map_err(|_| invalid.clone())?;
    Date::new(number(0, 4), month, day).map_err(|_| invalid)
}

/// Hex text (digits and whitespace only, an even number of digits) decoded, or `None`.
pub(super) fn decode_hex_text(file: &[u8]) -> Option<Vec<u8>> {
    if file.is_empty()
        || !file
            .iter()
            .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
    {
        return None;
    }
    let digits: Vec<u8> = file.iter().copied().filter(u8::is_ascii_hexdigit).collect();
    hex::decode(digits).ok()
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.rid, self.index)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expiry_in_ascii_and_bcd() {
        let ascii = parse_expiry(b"20401231").unwrap();
        assert_eq!((ascii.year(), ascii.month(), ascii.day()), (2040, 12, 31));
        let bcd = parse_expiry(&[0x20, 0x30, 0x02, 0x28]).unwrap();
        assert_eq!((bcd.year(), bcd.month(), bcd.day()), (2030, 2, 28));
        assert!(parse_expiry(b"20401332").is_err());
        assert!(parse_expiry(&[0x20, 0x3A, 0x01, 0x01]).is_err());
        assert!(parse_expiry(b"2040").is_err());
    }

    #[test]
    fn missing_and_malformed_fields_are_typed_errors() {
        assert_eq!(
            parse_record(&hex::decode("9F0605A000000333").unwrap()).unwrap_err(),
            CapkError::MissingField { tag: TAG_INDEX }
        );
        assert_eq!(
            parse_record(&hex::decode("9F0604A0000003").unwrap()).unwrap_err(),
            CapkError::InvalidField { tag: TAG_RID }
        );
        assert_eq!(
            parse_record(&hex::decode("9F0605A0000003").unwrap()).unwrap_err(),
            CapkError::Tlv {
                offset: 0,
                problem: TlvProblem::TruncatedValue
            }
        );
        assert_eq!(
            parse_record(&hex::decode("9F22").unwrap()).unwrap_err(),
            CapkError::Tlv {
                offset: 2,
                problem: TlvProblem::TruncatedLength
            }
        );
        assert_eq!(
            parse_record(&hex::decode("9F06800000").unwrap()).unwrap_err(),
            CapkError::Tlv {
                offset: 0,
                problem: TlvProblem::UnsupportedLength
            }
        );
        assert_eq!(
            parse_record(&hex::decode("9FFFFF7F00").unwrap()).unwrap_err(),
            CapkError::Tlv {
                offset: 0,
                problem: TlvProblem::TagTooLong
            }
        );
        // Two records where one is expected.
        assert!(matches!(
            parse_record(&hex::decode("9F220101 9F220102".replace(' ', "")).unwrap()),
            Err(CapkError::Tlv {
                offset: 4,
                problem: TlvProblem::NotARecord
            })
        ));
        // A nested template, and a tag twice inside a template.
        assert!(matches!(
            parse_record(&hex::decode("700570039F2200").unwrap()),
            Err(CapkError::Tlv {
                problem: TlvProblem::NotARecord,
                ..
            })
        ));
        assert!(matches!(
            parse_record(&hex::decode("70089F2201019F220102").unwrap()),
            Err(CapkError::Tlv {
                offset: 6,
                problem: TlvProblem::NotARecord
            })
        ));
    }

    #[test]
    fn offsets_inside_templates_are_file_offsets() {
        // 00 padding, then a template whose second object is truncated.
        let file = hex::decode("000070089F220101DF0205C1").unwrap();
        assert_eq!(
            split_records(&file).err(),
            Some(CapkError::Tlv {
                offset: 8,
                problem: TlvProblem::TruncatedValue
            })
        );
        let file = hex::decode("0000700C9F220101DF0205C1C2C3C4C5").unwrap();
        let records = split_records(&file).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].offset, 2);
        assert_eq!(records[0].objects[1].offset, 8);
    }

    #[test]
    fn hex_text_is_recognised() {
        assert_eq!(
            decode_hex_text(b"9F06 05\nA000000333\r\n"),
            Some(hex::decode("9F0605A000000333").unwrap())
        );
        assert_eq!(decode_hex_text(b"9F0"), None);
        assert_eq!(decode_hex_text(b"9F06 zz"), None);
        assert_eq!(decode_hex_text(b""), None);
        assert_eq!(decode_hex_text(&[0x9F, 0x06]), None);
    }
}
