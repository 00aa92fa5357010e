//! BER-TLV tags as EMV uses them (EMV Book 3 Annex B1).
//!
//! A [`Tag`] holds the complete tag bytes (one to four of them) packed big-endian in a `u32`, so
//! `Tag::new(0x9F02)` is the amount-authorised tag and comparisons are integer comparisons.

use alloc::{borrow::ToOwned, string::String};
use core::fmt;

/// Why a tag could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// The input ended before the tag was complete.
    #[error("tag truncated at offset {offset}")]
    Truncated {
        /// Offset of the byte that is missing.
        offset: usize,
    },
    /// The tag has more than four bytes, which EMV never uses.
    #[error("tag longer than 4 bytes at offset {offset}")]
    TooLong {
        /// Offset of the tag's first byte.
        offset: usize,
    },
}

/// The class of a tag (bits 8–7 of its first byte, ISO/IEC 8825-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagClass {
    /// `00`: universal.
    Universal,
    /// `01`: application (EMV's `5F..`, `4F`, `50`, …).
    Application,
    /// `10`: context-specific (EMV's `8x`, `9F..`).
    ContextSpecific,
    /// `11`: private (`DFxx`, `FFxx`, …).
    Private,
}

/// A BER-TLV tag of one to four bytes.
///
/// Unknown tags are perfectly valid values: the type never rejects a tag because the
/// dictionary ([`crate::tags`]) does not know it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// Makes a tag from its bytes packed big-endian, e.g. `Tag::new(0x9F02)`.
    ///
    /// The value is taken as given; use [`Tag::parse`] for bytes that come from a card.
    pub const fn new(packed: u32) -> Self {
        Tag(packed)
    }

    /// Reads one tag at the start of `input`; returns it and the number of bytes it took.
    ///
    /// `offset` is the position of `input[0]` in the whole buffer, used only for error reports.
    /// The first byte's low five bits all set (`1F`) mean more bytes follow, each followed by
    /// another while its bit 8 is set (Book 3 Annex B1).
    pub fn parse(input: &[u8], offset: usize) -> Result<(Tag, usize), TagError> {
        let first = *input.first().ok_or(TagError::Truncated { offset })?;
        let mut packed = u32::from(first);
        let mut len = 1;
        if first & 0x1F == 0x1F {
            loop {
                let byte = *input.get(len).ok_or(TagError::Truncated {
                    offset: offset + len,
                })?;
                if len == 4 {
                    return Err(TagError::TooLong { offset });
                }
                packed = (packed << 8) | u32::from(byte);
                len += 1;
                if byte & 0x80 == 0 {
                    break;
                }
            }
        }
        Ok((Tag(packed), len))
    }

    /// The tag bytes packed big-endian.
    pub const fn packed(self) -> u32 {
        self.0
    }

    /// Number of bytes in the encoded tag (1 to 4).
    pub const fn len(self) -> usize {
        if self.0 > 0xFF_FFFF {
            4
        } else if self.0 > 0xFFFF {
            3
        } else if self.0 > 0xFF {
            2
        } else {
            1
        }
    }

    /// Always false: a tag has at least one byte. Present for API symmetry with `len`.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// The encoded tag bytes.
    pub fn to_bytes(self) -> TagBytes {
        let all = self.0.to_be_bytes();
        let len = self.len();
        let mut bytes = [0u8; 4];
        bytes[..len].copy_from_slice(&all[4 - len..]);
        TagBytes { bytes, len }
    }

    /// The first byte of the encoded tag (which carries class and construction).
    pub const fn first_byte(self) -> u8 {
        (self.0 >> ((self.len() - 1) * 8)) as u8
    }

    /// True when bit 6 of the first byte is set: the value is itself a sequence of TLVs.
    pub const fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// The tag's class.
    pub const fn class(self) -> TagClass {
        match self.first_byte() >> 6 {
            0 => TagClass::Universal,
            1 => TagClass::Application,
            2 => TagClass::ContextSpecific,
            _ => TagClass::Private,
        }
    }
}

/// The encoded bytes of a [`Tag`], borrowed as a slice with [`TagBytes::as_slice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagBytes {
    bytes: [u8; 4],
    len: usize,
}

impl TagBytes {
    /// The tag bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl AsRef<[u8]> for TagBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.to_bytes().as_slice() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl core::str::FromStr for Tag {
    type Err = TagParseError;

    /// Parses a tag written as hex (`"9F02"`), as the vector files and configuration do.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|_| TagParseError(s.to_owned()))?;
        match Tag::parse(&bytes, 0) {
            Ok((tag, used)) if used == bytes.len() => Ok(tag),
            _ => Err(TagParseError(s.to_owned())),
        }
    }
}

/// A tag written as text was not exactly one well-formed tag in hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tag in hex: {0:?}")]
pub struct TagParseError(pub String);

impl serde::Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The EMV data element formats (Book 3 §4.3) that decide how a DOL pads a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `n`: numeric, BCD, right-justified and left-padded with `0` digits.
    N,
    /// `cn`: compressed numeric, left-justified and right-padded with `F` nibbles.
    Cn,
    /// `b`: binary.
    B,
    /// `a`: alphabetic (ASCII).
    A,
    /// `an`: alphanumeric (ASCII).
    An,
    /// `ans`: alphanumeric and special characters (ASCII).
    Ans,
    /// A constructed (template) data object: a sequence of TLVs.
    Template,
    /// Variable or proprietary content (no EMV format given).
    Var,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_two_and_three_byte_tags() {
        assert_eq!(Tag::parse(&[0x5A, 0x08], 0), Ok((Tag::new(0x5A), 1)));
        assert_eq!(
            Tag::parse(&[0x9F, 0x02, 0x06], 0),
            Ok((Tag::new(0x9F02), 2))
        );
        assert_eq!(
            Tag::parse(&[0xDF, 0x81, 0x01, 0x01], 0),
            Ok((Tag::new(0xDF8101), 3))
        );
    }

    #[test]
    fn truncated_and_overlong_tags_are_errors_with_offsets() {
        assert_eq!(Tag::parse(&[], 7), Err(TagError::Truncated { offset: 7 }));
        assert_eq!(
            Tag::parse(&[0x9F], 3),
            Err(TagError::Truncated { offset: 4 })
        );
        assert_eq!(
            Tag::parse(&[0x1F, 0x81, 0x82, 0x83, 0x04], 0),
            Err(TagError::TooLong { offset: 0 })
        );
    }

    #[test]
    fn bytes_display_and_flags() {
        let tag = Tag::new(0xBF0C);
        assert_eq!(tag.to_bytes().as_slice(), &[0xBF, 0x0C]);
        assert_eq!(tag.to_string(), "BF0C");
        assert!(tag.is_constructed());
        assert_eq!(tag.class(), TagClass::ContextSpecific);
        assert_eq!(Tag::new(0xDF4D).class(), TagClass::Private);
        assert!(!Tag::new(0x9F02).is_constructed());
        assert_eq!(Tag::new(0x70).class(), TagClass::Application);
        assert_eq!("9F4B".parse::<Tag>(), Ok(Tag::new(0x9F4B)));
        assert!("9F".parse::<Tag>().is_err());
        assert!("9F0201".parse::<Tag>().is_err());
    }
}
