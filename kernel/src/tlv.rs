//! BER-TLV as EMV uses it (EMV Book 3 Annex B): zero-copy parsing and encoding.
//!
//! Parsing borrows the input: a [`Tlv`] is a tag and a slice of the buffer it came from, and
//! iterating a template's children allocates nothing. Errors carry the offset of the offending
//! byte in the outermost buffer, so a bad card response can be pinpointed in a trace.
//!
//! Book 3 Annex B allows `00` (and ISO/IEC 7816-4 also `FF`) bytes before, between and after
//! data objects; [`TlvIter`] skips them. A consequence, as in ISO/IEC 7816-4: no tag inside a
//! sequence may start with `FF` (EMV defines none). [`parse_single`] is strict: exactly one object, nothing after.
//!
//! ```
//! use quickpass_kernel::tlv::{self, Tlv};
//! use quickpass_kernel::Tag;
//!
//! let fci = hex::decode("6F0A8408A000000333010101").unwrap();
//! let root = tlv::parse_single(&fci).unwrap();
//! assert_eq!(root.tag(), Tag::new(0x6F));
//! let aid = root.find(Tag::new(0x84)).unwrap().unwrap();
//! assert_eq!(aid.value(), hex::decode("A000000333010101").unwrap());
//! ```

use crate::tag::{Tag, TagError};
use alloc::vec::Vec;

/// What went wrong while parsing BER-TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvErrorKind {
    /// There was nothing to parse.
    Empty,
    /// A tag ran past the end of its enclosing buffer.
    TruncatedTag,
    /// A tag is longer than four bytes.
    TagTooLong,
    /// A length field ran past the end of its enclosing buffer.
    TruncatedLength,
    /// The first length byte is `80` (indefinite form), `FF`, or a long form of more than 4 bytes.
    InvalidLength,
    /// The value runs past the end of its enclosing buffer.
    TruncatedValue,
    /// Bytes follow the single object that was expected.
    TrailingData,
}

/// A BER-TLV parse error: what went wrong, and at which offset of the outermost buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed TLV at offset {offset}: {kind:?}")]
pub struct TlvError {
    /// What went wrong.
    pub kind: TlvErrorKind,
    /// Offset of the offending byte (or of the object that runs past the end).
    pub offset: usize,
}

impl TlvError {
    fn new(kind: TlvErrorKind, offset: usize) -> Self {
        TlvError { kind, offset }
    }
}

/// One data object borrowed from a buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    tag: Tag,
    value: &'a [u8],
    encoded: &'a [u8],
    offset: usize,
}

impl<'a> Tlv<'a> {
    /// The object's tag.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// The value field (for a template: the encoded children).
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The whole encoded object: tag, length and value.
    pub fn encoded(&self) -> &'a [u8] {
        self.encoded
    }

    /// Offset of the tag's first byte in the outermost buffer.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Offset of the value's first byte in the outermost buffer.
    pub fn value_offset(&self) -> usize {
        self.offset + (self.encoded.len() - self.value.len())
    }

    /// True when the tag says the value is itself a sequence of objects.
    pub fn is_constructed(&self) -> bool {
        self.tag.is_constructed()
    }

    /// Iterates the children of a constructed object (none for a primitive one).
    pub fn children(&self) -> TlvIter<'a> {
        if self.is_constructed() {
            TlvIter::with_offset(self.value, self.value_offset())
        } else {
            TlvIter::with_offset(&[], self.value_offset())
        }
    }

    /// Depth-first search for the first object with `tag` below this one (not this one itself).
    ///
    /// Returns `Ok(None)` when it is absent, and the parse error if a template on the way is
    /// malformed.
    pub fn find(&self, tag: Tag) -> Result<Option<Tlv<'a>>, TlvError> {
        find_in(self.children(), tag)
    }

    /// Checks that every template below this object is well formed, all the way down.
    pub fn validate(&self) -> Result<(), TlvError> {
        for child in self.children() {
            child?.validate()?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for Tlv<'_> {
    /// Shows the tag and the value length only: values may hold a PAN or track 2.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tlv")
            .field("tag", &self.tag)
            .field("len", &self.value.len())
            .field("offset", &self.offset)
            .finish()
    }
}

/// Depth-first search for `tag` in a sequence of objects and their templates.
pub fn find_in<'a>(objects: TlvIter<'a>, tag: Tag) -> Result<Option<Tlv<'a>>, TlvError> {
    for object in objects {
        let object = object?;
        if object.tag() == tag {
            return Ok(Some(object));
        }
        if object.is_constructed() {
            if let Some(found) = object.find(tag)? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// Iterates a sequence of objects back to back, skipping `00`/`FF` padding between them.
///
/// After the first error the iterator yields nothing more.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    input: &'a [u8],
    position: usize,
    base: usize,
    failed: bool,
}

impl<'a> TlvIter<'a> {
    /// Iterates `input`, whose first byte is at offset 0.
    pub fn new(input: &'a [u8]) -> Self {
        Self::with_offset(input, 0)
    }

    /// Iterates `input`, whose first byte is at offset `base` of some outer buffer.
    pub fn with_offset(input: &'a [u8], base: usize) -> Self {
        TlvIter {
            input,
            position: 0,
            base,
            failed: false,
        }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while matches!(self.input.get(self.position), Some(0x00 | 0xFF)) {
            self.position += 1;
        }
        let rest = self.input.get(self.position..).filter(|r| !r.is_empty())?;
        match read_object(rest, self.base + self.position) {
            Ok(tlv) => {
                self.position += tlv.encoded.len();
                Some(Ok(tlv))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// Reads the object at the start of `input` (no padding skipped); `offset` is where `input`
/// starts in the outermost buffer.
fn read_object(input: &[u8], offset: usize) -> Result<Tlv<'_>, TlvError> {
    let (tag, tag_len) = Tag::parse(input, offset).map_err(|error| match error {
        TagError::Truncated { offset } => TlvError::new(TlvErrorKind::TruncatedTag, offset),
        TagError::TooLong { offset } => TlvError::new(TlvErrorKind::TagTooLong, offset),
    })?;
    let (value_len, len_len) = read_length(&input[tag_len..], offset + tag_len)?;
    let header = tag_len + len_len;
    let end = header
        .checked_add(value_len)
        .filter(|end| *end <= input.len())
        .ok_or(TlvError::new(TlvErrorKind::TruncatedValue, offset))?;
    Ok(Tlv {
        tag,
        value: &input[header..end],
        encoded: &input[..end],
        offset,
    })
}

/// Reads a BER length field: one byte below `80`, or `81`–`84` followed by that many bytes.
fn read_length(input: &[u8], offset: usize) -> Result<(usize, usize), TlvError> {
    let first = *input
        .first()
        .ok_or(TlvError::new(TlvErrorKind::TruncatedLength, offset))?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7F);
    if count == 0 || count > 4 {
        return Err(TlvError::new(TlvErrorKind::InvalidLength, offset));
    }
    let bytes = input
        .get(1..=count)
        .ok_or(TlvError::new(TlvErrorKind::TruncatedLength, offset))?;
    let length = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Ok((length, 1 + count))
}

/// Parses exactly one complete object, checking every template inside it; nothing may follow.
pub fn parse_single(input: &[u8]) -> Result<Tlv<'_>, TlvError> {
    if input.is_empty() {
        return Err(TlvError::new(TlvErrorKind::Empty, 0));
    }
    let object = read_object(input, 0)?;
    object.validate()?;
    if object.encoded.len() != input.len() {
        return Err(TlvError::new(
            TlvErrorKind::TrailingData,
            object.encoded.len(),
        ));
    }
    Ok(object)
}

/// Parses a non-empty sequence of complete objects (padding allowed between them), checking
/// every template inside them.
pub fn parse_sequence(input: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
    let mut objects = Vec::new();
    for object in TlvIter::new(input) {
        let object = object?;
        object.validate()?;
        objects.push(object);
    }
    if objects.is_empty() {
        return Err(TlvError::new(TlvErrorKind::Empty, 0));
    }
    Ok(objects)
}

/// Appends the BER length encoding of `len` (short form below 128, else `81`–`84`).
pub fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Appends one encoded object.
pub fn encode(tag: Tag, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag.to_bytes().as_slice());
    encode_length(value.len(), out);
    out.extend_from_slice(value);
}

/// Encodes one object into a new buffer.
pub fn encoded(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    encode(tag, value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Vec<u8> {
        hex::decode(text).expect("test hex")
    }

    #[test]
    fn nested_template_and_find() {
        let input = bytes("6F1A840E315041592E5359532E4444463031A5088801025F2D02656E");
        let root = parse_single(&input).expect("valid");
        assert_eq!(root.tag(), Tag::new(0x6F));
        let children: Vec<_> = root.children().map(|c| c.expect("child").tag()).collect();
        assert_eq!(children, vec![Tag::new(0x84), Tag::new(0xA5)]);
        let lang = root.find(Tag::new(0x5F2D)).expect("ok").expect("present");
        assert_eq!(lang.value(), b"en");
        assert_eq!(lang.offset(), 23);
        assert!(root.find(Tag::new(0x9F38)).expect("ok").is_none());
    }

    #[test]
    fn long_form_lengths() {
        let mut value = vec![0xAB; 300];
        let encoded_obj = encoded(Tag::new(0x9F46), &value);
        assert_eq!(&encoded_obj[..5], &[0x9F, 0x46, 0x82, 0x01, 0x2C]);
        let parsed = parse_single(&encoded_obj).expect("valid");
        assert_eq!(parsed.value(), &value[..]);
        value.truncate(200);
        let encoded_obj = encoded(Tag::new(0x90), &value);
        assert_eq!(&encoded_obj[..3], &[0x90, 0x81, 0xC8]);
        let four = bytes("9F0284000000010A");
        assert_eq!(parse_single(&four).expect("valid").value(), &[0x0A]);
    }

    #[test]
    fn invalid_lengths_are_rejected_with_offset() {
        for (input, kind, offset) in [
            ("9F0280", TlvErrorKind::InvalidLength, 2),
            ("9F02FF", TlvErrorKind::InvalidLength, 2),
            ("9F028500000000010A", TlvErrorKind::InvalidLength, 2),
            ("9F0281", TlvErrorKind::TruncatedLength, 2),
            ("9F", TlvErrorKind::TruncatedTag, 1),
            ("9F020301", TlvErrorKind::TruncatedValue, 0),
            ("70049F0201", TlvErrorKind::TruncatedValue, 0),
            ("70039F0201", TlvErrorKind::TruncatedValue, 2),
            ("", TlvErrorKind::Empty, 0),
            ("700000", TlvErrorKind::TrailingData, 2),
        ] {
            let data = bytes(input);
            let error = parse_single(&data).expect_err(input);
            assert_eq!((error.kind, error.offset), (kind, offset), "{input}");
        }
    }

    #[test]
    fn padding_between_objects_is_skipped_in_sequences() {
        let input = bytes("005A0112FFFF9F02010100");
        let tags: Vec<_> = parse_sequence(&input)
            .expect("valid")
            .iter()
            .map(|t| (t.tag(), t.offset()))
            .collect();
        assert_eq!(tags, vec![(Tag::new(0x5A), 1), (Tag::new(0x9F02), 6)]);
        let template = bytes("7008005A0112009F0200");
        let root = parse_single(&template).expect("valid");
        assert_eq!(root.children().count(), 2);
    }

    #[test]
    fn empty_template_is_valid() {
        let root = parse_single(&[0x70, 0x00]).expect("valid");
        assert_eq!(root.children().count(), 0);
    }

    #[test]
    fn error_inside_template_reports_outer_offset() {
        let input = bytes("6F04A5038801");
        let error = parse_single(&input).expect_err("truncated inner");
        assert_eq!(error.kind, TlvErrorKind::TruncatedValue);
        assert_eq!(error.offset, 2);
    }
}
