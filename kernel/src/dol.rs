//! Data object lists (EMV Book 3 §5.4): PDOL `9F38`, CDOL1/2 `8C`/`8D`, DDOL `9F49`, TDOL `97`,
//! and the PBOC transaction-log formats `9F4F` / `DF4F` (pboc-notes §2.10).
//!
//! A DOL is a list of (tag, length) pairs with a one-byte length and no values. The terminal
//! *builds* the DOL-related data by concatenating, in list order, each object's value fitted to
//! the requested length ([`Dol::build`]); a log record is the same concatenation made by the
//! card, which [`Dol::split`] takes apart again.
//!
//! ```
//! use quickpass_kernel::dol::{Dol, DolValues};
//! use quickpass_kernel::{Format, Tag};
//!
//! let pdol = Dol::parse(&hex::decode("9F66049F020695055F2A02").unwrap()).unwrap();
//! let mut values = DolValues::new();
//! values.insert(Tag::new(0x9F02), Format::N, vec![0x01, 0x00]);
//! let data = pdol.build(&values);
//! assert_eq!(data.len(), pdol.total_length());
//! // 9F66: 4 zeros | 9F02 (n): left-padded | 95: 5 zeros | 5F2A: 2 zeros
//! let want = ["00000000", "000000000100", "0000000000", "0000"].concat();
//! assert_eq!(hex::encode_upper(&data), want);
//! ```

use crate::tag::{Format, Tag, TagError};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Why a DOL or a DOL-formatted record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DolError {
    /// The list ends inside a tag.
    #[error("DOL truncated inside a tag at offset {offset}")]
    TruncatedTag {
        /// Offset of the missing byte.
        offset: usize,
    },
    /// A tag has more than four bytes.
    #[error("DOL tag longer than 4 bytes at offset {offset}")]
    TagTooLong {
        /// Offset of the tag's first byte.
        offset: usize,
    },
    /// The list ends after a tag, without its length byte.
    #[error("DOL entry {tag} at offset {offset} has no length byte")]
    MissingLength {
        /// The tag whose length is missing.
        tag: Tag,
        /// Offset where the length byte should be.
        offset: usize,
    },
    /// A record does not have the length the DOL describes.
    #[error("record of {actual} bytes does not match the DOL's {expected} bytes")]
    RecordLength {
        /// Sum of the DOL's lengths.
        expected: usize,
        /// Length of the record.
        actual: usize,
    },
}

/// One entry of a DOL: the tag asked for and the number of bytes wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DolEntry {
    /// The data object's tag.
    pub tag: Tag,
    /// The length the card wants (0 to 255).
    pub length: usize,
}

/// Where [`Dol::build`] finds values and their formats.
///
/// The caller decides formats: the conformance runner takes them from the vector file, the
/// kernel from the tag dictionary.
pub trait DolSource {
    /// The value of `tag`, or `None` when the terminal has none.
    fn value(&self, tag: Tag) -> Option<&[u8]>;
    /// The EMV format of `tag` (EMV Book 3 §4.3), which decides padding and truncation.
    fn format(&self, tag: Tag) -> Format;
}

impl<S: DolSource + ?Sized> DolSource for &S {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        (**self).value(tag)
    }

    fn format(&self, tag: Tag) -> Format {
        (**self).format(tag)
    }
}

/// A parsed data object list (EMV Book 3 §5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Dol {
    entries: Vec<DolEntry>,
}

impl Dol {
    /// Parses a DOL: tags encoded as in BER-TLV (Book 3 Annex B1), each followed by one length
    /// byte. The empty list is valid. Fails when the list ends inside a tag or without a
    /// length byte.
    pub fn parse(bytes: &[u8]) -> Result<Dol, DolError> {
        let mut entries = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (tag, used) = Tag::parse(&bytes[pos..], pos).map_err(|e| match e {
                TagError::TooLong { offset } => DolError::TagTooLong { offset },
                TagError::Truncated { offset } => DolError::TruncatedTag { offset },
                // `TagError` is non-exhaustive; anything new is a malformed tag here.
                #[allow(unreachable_patterns)]
                _ => DolError::TruncatedTag { offset: pos },
            })?;
            pos += used;
            let length = *bytes
                .get(pos)
                .ok_or(DolError::MissingLength { tag, offset: pos })?;
            pos += 1;
            entries.push(DolEntry {
                tag,
                length: usize::from(length),
            });
        }
        Ok(Dol { entries })
    }

    /// Makes a DOL from entries (lengths above 255 cannot be encoded by [`Dol::to_bytes`] and
    /// are written as their low byte; keep them ≤ 255).
    pub fn from_entries(entries: Vec<DolEntry>) -> Dol {
        Dol { entries }
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[DolEntry] {
        &self.entries
    }

    /// True when the list asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when the list asks for `tag`.
    pub fn contains(&self, tag: Tag) -> bool {
        self.entries.iter().any(|e| e.tag == tag)
    }

    /// The length of the DOL-related data: the sum of the entry lengths.
    pub fn total_length(&self) -> usize {
        self.entries.iter().map(|e| e.length).sum()
    }

    /// The encoded list (tags and one-byte lengths).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.entries {
            out.extend_from_slice(e.tag.to_bytes().as_slice());
            out.push(e.length as u8);
        }
        out
    }

    /// Builds the DOL-related data (EMV Book 3 §5.4): for each entry in order, the value fitted
    /// to the entry's length by [`fit`]. A missing value, or a constructed tag (Book 3 §5.4:
    /// "represents a constructed data object"), gives `length` zero bytes. The output is always
    /// [`total_length`](Dol::total_length) bytes.
    pub fn build(&self, source: &(impl DolSource + ?Sized)) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.total_length());
        for e in &self.entries {
            match source.value(e.tag) {
                Some(value) if !e.tag.is_constructed() => {
                    fit(value, e.length, source.format(e.tag), &mut out)
                }
                _ => out.resize(out.len() + e.length, 0),
            }
        }
        out
    }

    /// Splits DOL-formatted data (a PBOC transaction or load log record, pboc-notes §2.10: the
    /// concatenation of the DOL's values without tags) into `(tag, value)` pairs in DOL order.
    /// The data must be exactly [`total_length`](Dol::total_length) bytes.
    pub fn split<'a>(&self, data: &'a [u8]) -> Result<Vec<(Tag, &'a [u8])>, DolError> {
        let expected = self.total_length();
        if data.len() != expected {
            return Err(DolError::RecordLength {
                expected,
                actual: data.len(),
            });
        }
        let mut rest = data;
        let mut out = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let (value, tail) = rest.split_at(e.length);
            out.push((e.tag, value));
            rest = tail;
        }
        Ok(out)
    }
}

/// Appends `value` fitted to `length` bytes according to `format` (EMV Book 3 §5.4; vectors
/// README §3.12):
///
/// - exactly `length` bytes: copied;
/// - longer: format `n` keeps the rightmost `length` bytes, every other format the leftmost;
/// - shorter: `n` is left-padded with `00`, `cn` right-padded with `FF`, every other format
///   right-padded with `00`;
/// - `length` 0 appends nothing.
pub fn fit(value: &[u8], length: usize, format: Format, out: &mut Vec<u8>) {
    use core::cmp::Ordering;
    match (value.len().cmp(&length), format) {
        (Ordering::Equal, _) => out.extend_from_slice(value),
        (Ordering::Greater, Format::N) => out.extend_from_slice(&value[value.len() - length..]),
        (Ordering::Greater, _) => out.extend_from_slice(&value[..length]),
        (Ordering::Less, Format::N) => {
            out.resize(out.len() + (length - value.len()), 0x00);
            out.extend_from_slice(value);
        }
        (Ordering::Less, format) => {
            out.extend_from_slice(value);
            let pad = if format == Format::Cn { 0xFF } else { 0x00 };
            out.resize(out.len() + (length - value.len()), pad);
        }
    }
}

/// A simple [`DolSource`]: values and formats in hash maps; tags without a format are `b`
/// (vectors README §3.12).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DolValues {
    values: BTreeMap<Tag, Vec<u8>>,
    formats: BTreeMap<Tag, Format>,
}

impl DolValues {
    /// No values.
    pub fn new() -> DolValues {
        DolValues::default()
    }

    /// Sets the value and format of `tag`.
    pub fn insert(&mut self, tag: Tag, format: Format, value: impl Into<Vec<u8>>) {
        self.values.insert(tag, value.into());
        self.formats.insert(tag, format);
    }

    /// Sets the value of `tag`, keeping its format (`b` unless set).
    pub fn set_value(&mut self, tag: Tag, value: impl Into<Vec<u8>>) {
        self.values.insert(tag, value.into());
    }

    /// Sets the format of `tag` without touching its value.
    pub fn set_format(&mut self, tag: Tag, format: Format) {
        self.formats.insert(tag, format);
    }

    /// Removes the value of `tag`; returns it.
    pub fn remove(&mut self, tag: Tag) -> Option<Vec<u8>> {
        self.values.remove(&tag)
    }
}

impl DolSource for DolValues {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.values.get(&tag).map(Vec::as_slice)
    }

    fn format(&self, tag: Tag) -> Format {
        self.formats.get(&tag).copied().unwrap_or(Format::B)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fit_rules() {
        let run = |v: &[u8], len, fmt| {
            let mut out = vec![0xAA];
            fit(v, len, fmt, &mut out);
            out
        };
        assert_eq!(run(&[1, 2, 3], 2, Format::N), [0xAA, 2, 3]);
        assert_eq!(run(&[1, 2, 3], 2, Format::B), [0xAA, 1, 2]);
        assert_eq!(run(&[1], 3, Format::N), [0xAA, 0, 0, 1]);
        assert_eq!(run(&[1], 3, Format::Cn), [0xAA, 1, 0xFF, 0xFF]);
        assert_eq!(run(&[1], 3, Format::An), [0xAA, 1, 0, 0]);
        assert_eq!(run(&[1], 0, Format::N), [0xAA]);
    }

    #[test]
    fn constructed_tags_give_zeros() {
        let dol = Dol::parse(&[0x70, 0x02]).unwrap();
        let mut v = DolValues::new();
        v.set_value(Tag::new(0x70), vec![1, 2]);
        assert_eq!(dol.build(&v), vec![0, 0]);
    }
}
