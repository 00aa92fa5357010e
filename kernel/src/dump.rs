//! Human-readable dumps of BER-TLV buffers (card responses, DOL-built data, parameter files).
//!
//! Each data object gets one line — tag, dictionary name ([`crate::tags`]), value length in
//! brackets, decoded value — and templates are recursed with two spaces of indentation per
//! level. Values are decoded by their EMV format (Book 3 §4.3): `n` and `cn` as digits, `a`,
//! `an` and `ans` as quoted ASCII with non-printable bytes escaped, `b` as hex (with the ASCII
//! alongside when every byte is printable). Tags the dictionary does not know are named
//! `unknown` and shown in hex.
//!
//! Sensitive values ([`crate::tags::TagInfo::sensitive`]) never appear in full: a PAN keeps at
//! most its first 6 and last 4 digits, track 2 shows only the masked PAN, and anything else
//! sensitive is replaced by `<n bytes hidden>`.
//!
//! A malformed buffer is dumped as far as it parses, followed by an `error:` line with the
//! offset (in the outermost buffer) where parsing stopped. Dumping never panics, whatever the
//! bytes.
//!
//! ```
//! use quickpass_kernel::dump::dump;
//!
//! // The PPSE response of a real UnionPay debit card (pboc-notes §1.1).
//! let ppse = hex::decode(
//!     "6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101\
//!      500A50424F43204445424954870101",
//! )
//! .unwrap();
//! assert_eq!(
//!     dump(&ppse),
//!     "6F File Control Information (FCI) Template [48]\n\
//!      \x20 84 Dedicated File (DF) Name [14]: 325041592E5359532E4444463031 \"2PAY.SYS.DDF01\"\n\
//!      \x20 A5 File Control Information (FCI) Proprietary Template [30]\n\
//!      \x20   BF0C File Control Information (FCI) Issuer Discretionary Data [27]\n\
//!      \x20     61 Application Template [25]\n\
//!      \x20       4F Application Identifier (AID) - card [8]: A000000333010101\n\
//!      \x20       50 Application Label [10]: \"PBOC DEBIT\"\n\
//!      \x20       87 Application Priority Indicator [1]: 01\n"
//! );
//! ```

use alloc::{string::String, string::ToString};
use core::fmt::{self, Write};

use crate::tag::{Format, Tag};
use crate::tags::{self, TagInfo};
use crate::tlv::{Tlv, TlvIter};

/// Templates nested deeper than this are not expanded, so hostile input cannot exhaust the
/// stack.
pub const MAX_DEPTH: usize = 32;

/// A TLV buffer that formats itself as an indented, human-readable tree (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy)]
pub struct Dump<'a> {
    buffer: &'a [u8],
}

impl<'a> Dump<'a> {
    /// Wraps `buffer` (a sequence of BER-TLV objects, padding allowed) for display.
    pub fn new(buffer: &'a [u8]) -> Self {
        Dump { buffer }
    }
}

impl fmt::Display for Dump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let written = write_sequence(f, TlvIter::new(self.buffer), 0)?;
        if written == 0 {
            writeln!(f, "(no data objects)")?;
        }
        Ok(())
    }
}

/// Dumps `buffer` as an indented tree, one line per data object (see the [module docs](self)).
pub fn dump(buffer: &[u8]) -> String {
    Dump::new(buffer).to_string()
}

/// Writes every object of `objects` at `depth`; returns how many lines it wrote at this level.
fn write_sequence<W: Write>(
    out: &mut W,
    objects: TlvIter<'_>,
    depth: usize,
) -> Result<usize, fmt::Error> {
    let mut lines = 0;
    for object in objects {
        lines += 1;
        match object {
            Ok(object) => write_object(out, &object, depth)?,
            Err(error) => {
                indent(out, depth)?;
                writeln!(out, "error: {error}")?;
            }
        }
    }
    Ok(lines)
}

fn indent<W: Write>(out: &mut W, depth: usize) -> fmt::Result {
    for _ in 0..depth {
        out.write_str("  ")?;
    }
    Ok(())
}

fn write_object<W: Write>(out: &mut W, object: &Tlv<'_>, depth: usize) -> fmt::Result {
    let tag = object.tag();
    let info = tags::lookup(tag);
    let name = info.map_or("unknown", |info| info.name);
    let value = object.value();
    indent(out, depth)?;
    write!(out, "{tag} {name} [{}]", value.len())?;
    if !object.is_constructed() {
        out.write_str(": ")?;
        write_value(out, tag, info, value)?;
        return out.write_char('\n');
    }
    if depth + 1 >= MAX_DEPTH {
        return writeln!(
            out,
            ": <{} bytes not shown: nesting deeper than {MAX_DEPTH}>",
            value.len()
        );
    }
    out.write_char('\n')?;
    write_sequence(out, object.children(), depth + 1).map(|_| ())
}

/// Writes a primitive value decoded by its dictionary format, masking sensitive ones.
fn write_value<W: Write>(
    out: &mut W,
    tag: Tag,
    info: Option<&TagInfo>,
    value: &[u8],
) -> fmt::Result {
    if value.is_empty() {
        return out.write_str("(empty)");
    }
    let Some(info) = info else {
        return write_binary(out, value);
    };
    if info.sensitive {
        return write_masked(out, tag, value);
    }
    match info.format {
        Format::N => match bcd_digits(value) {
            Some(digits) => out.write_str(&digits),
            None => write!(out, "{} (not BCD)", hex::encode_upper(value)),
        },
        Format::Cn => match cn_digits(value) {
            Some(digits) => out.write_str(&digits),
            None => write!(out, "{} (not cn)", hex::encode_upper(value)),
        },
        Format::A | Format::An | Format::Ans => write_quoted(out, value),
        Format::B | Format::Var | Format::Template => write_binary(out, value),
    }
}

/// Hex, followed by the quoted text when every byte is printable ASCII (DF names, RIDs in
/// text form, …) and there are enough bytes for that to mean something.
fn write_binary<W: Write>(out: &mut W, value: &[u8]) -> fmt::Result {
    out.write_str(&hex::encode_upper(value))?;
    if value.len() >= 4 && value.iter().all(|b| (0x20..=0x7E).contains(b)) {
        out.write_char(' ')?;
        write_quoted(out, value)?;
    }
    Ok(())
}

/// Quoted ASCII; `"` and `\` are backslash-escaped and other non-printables shown as `\xNN`.
fn write_quoted<W: Write>(out: &mut W, value: &[u8]) -> fmt::Result {
    out.write_char('"')?;
    for &byte in value {
        match byte {
            b'"' => out.write_str("\\\"")?,
            b'\\' => out.write_str("\\\\")?,
            0x20..=0x7E => out.write_char(char::from(byte))?,
            _ => write!(out, "\\x{byte:02X}")?,
        }
    }
    out.write_char('"')
}

/// The masked form of a sensitive value: PAN and track 2 keep a truncated PAN, anything
/// else is only counted.
fn write_masked<W: Write>(out: &mut W, tag: Tag, value: &[u8]) -> fmt::Result {
    let hidden = |out: &mut W| write!(out, "<{} bytes hidden>", value.len());
    if tag == tags::PAN {
        return match cn_digits(value) {
            Some(digits) => out.write_str(&mask_pan(&digits)),
            None => hidden(out),
        };
    }
    if tag == tags::TRACK2_EQUIVALENT_DATA {
        return match track2_pan(value) {
            Some(digits) => write!(
                out,
                "{} (expiry, service code and discretionary data hidden)",
                mask_pan(&digits)
            ),
            None => hidden(out),
        };
    }
    hidden(out)
}

/// A PAN with at most its first 6 and last 4 digits visible; short PANs show less, so that
/// a good part of the number is always masked.
fn mask_pan(digits: &str) -> String {
    let len = digits.len();
    let (head, tail) = if len >= 13 {
        (6, 4)
    } else if len >= 8 {
        (0, 4)
    } else {
        (0, 0)
    };
    digits
        .chars()
        .enumerate()
        .map(|(i, c)| if i < head || i + tail >= len { c } else { '*' })
        .collect()
}

/// The value's nibbles, high first.
fn nibbles(value: &[u8]) -> impl Iterator<Item = u8> + '_ {
    value.iter().flat_map(|b| [b >> 4, b & 0x0F])
}

/// `n` format: every nibble a decimal digit.
fn bcd_digits(value: &[u8]) -> Option<String> {
    nibbles(value)
        .map(|n| char::from_digit(u32::from(n), 10))
        .collect()
}

/// `cn` format: decimal digits, then only `F` padding nibbles.
fn cn_digits(value: &[u8]) -> Option<String> {
    let mut digits = String::with_capacity(value.len() * 2);
    let mut padding = false;
    for nibble in nibbles(value) {
        match (nibble, padding) {
            (0x0F, _) => padding = true,
            (0..=9, false) => digits.push(char::from(b'0' + nibble)),
            _ => return None,
        }
    }
    Some(digits)
}

/// The PAN digits of track 2 equivalent data: the digits before the `D` field separator.
fn track2_pan(value: &[u8]) -> Option<String> {
    let mut digits = String::new();
    for nibble in nibbles(value) {
        match nibble {
            0..=9 => digits.push(char::from(b'0' + nibble)),
            0x0D => return Some(digits),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_masking_keeps_at_most_six_and_four() {
        assert_eq!(mask_pan("6234567890123456"), "623456******3456");
        assert_eq!(mask_pan("6234567890123456789"), "623456*********6789");
        assert_eq!(mask_pan("1234567890"), "******7890");
        assert_eq!(mask_pan("1234"), "****");
    }

    #[test]
    fn digit_decoders() {
        assert_eq!(bcd_digits(&[0x00, 0x10, 0x00]).as_deref(), Some("001000"));
        assert_eq!(bcd_digits(&[0x1A]), None);
        assert_eq!(
            cn_digits(&[0x12, 0x34, 0x5F, 0xFF]).as_deref(),
            Some("12345")
        );
        assert_eq!(cn_digits(&[0x1F, 0x23]), None);
        assert_eq!(
            track2_pan(&[0x62, 0x34, 0xD2, 0x51, 0x2F]).as_deref(),
            Some("6234")
        );
        assert_eq!(track2_pan(&[0x62, 0x34]), None);
    }

    #[test]
    fn quoting_escapes() {
        let mut out = String::new();
        write_quoted(&mut out, b"a\"b\\c\x01").expect("string write");
        assert_eq!(out, "\"a\\\"b\\\\c\\x01\"");
    }
}
