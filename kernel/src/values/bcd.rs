//! Binary-coded decimal helpers for the EMV numeric formats (EMV Book 3 §4.3).
//!
//! - `n` (numeric): two digits per byte, right-justified, left-padded with `0` digits.
//! - `cn` (compressed numeric): two digits per byte, left-justified, right-padded with `F` nibbles.
//!
//! Every function checks every nibble and reports the offending one; none of them panics.

use alloc::{string::String, string::ToString, vec, vec::Vec};

/// Why bytes or digits are not valid BCD of the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BcdError {
    /// A nibble is not a decimal digit (`A`–`F`) where a digit is required.
    #[error("nibble {nibble:X} at nibble index {index} is not a decimal digit")]
    InvalidNibble {
        /// Index of the nibble, counting from the high nibble of the first byte.
        index: usize,
        /// The nibble's value.
        nibble: u8,
    },
    /// A character of a digit string is not `0`–`9`.
    #[error("character {ch:?} at index {index} is not a decimal digit")]
    InvalidDigit {
        /// Index of the character.
        index: usize,
        /// The character.
        ch: char,
    },
    /// There are more digits than the field can hold.
    #[error("{digits} digits do not fit in {capacity} digits")]
    TooManyDigits {
        /// Number of digits given.
        digits: usize,
        /// Number of digits the field can hold.
        capacity: usize,
    },
    /// A numeric value does not fit in the target integer type.
    #[error("numeric value does not fit in 64 bits")]
    Overflow,
}

/// The nibbles of `bytes`, high nibble first.
fn nibbles(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0F])
}

/// Decodes format `n` BCD into its decimal digits, keeping leading zeros (Book 3 §4.3).
///
/// Every nibble must be `0`–`9`.
pub fn bcd_to_digits(bytes: &[u8]) -> Result<String, BcdError> {
    let mut digits = String::with_capacity(bytes.len() * 2);
    for (index, nibble) in nibbles(bytes).enumerate() {
        if nibble > 9 {
            return Err(BcdError::InvalidNibble { index, nibble });
        }
        digits.push(char::from(b'0' + nibble));
    }
    Ok(digits)
}

/// Decodes format `cn` BCD: digits followed by zero or more `F` pad nibbles (Book 3 §4.3).
///
/// A digit after a pad nibble, or a nibble `A`–`E`, is an error.
pub fn cn_to_digits(bytes: &[u8]) -> Result<String, BcdError> {
    let mut digits = String::with_capacity(bytes.len() * 2);
    let mut padding = false;
    for (index, nibble) in nibbles(bytes).enumerate() {
        match nibble {
            0xF => padding = true,
            0..=9 if !padding => digits.push(char::from(b'0' + nibble)),
            _ => return Err(BcdError::InvalidNibble { index, nibble }),
        }
    }
    Ok(digits)
}

fn digit_values(digits: &str) -> Result<Vec<u8>, BcdError> {
    digits
        .chars()
        .enumerate()
        .map(|(index, ch)| {
            if ch.is_ascii_digit() {
                Ok(ch as u8 - b'0')
            } else {
                Err(BcdError::InvalidDigit { index, ch })
            }
        })
        .collect()
}

/// Encodes decimal digits as BCD; an odd number of digits gets one leading `0` nibble.
///
/// `"12345"` → `01 23 45`. Use [`digits_to_n`] for a fixed-length `n` field.
pub fn digits_to_bcd(digits: &str) -> Result<Vec<u8>, BcdError> {
    let len = digits.len().div_ceil(2);
    digits_to_n(digits, len)
}

/// Encodes decimal digits as a format `n` field of `len` bytes: right-justified, left-padded
/// with `0` digits (Book 3 §4.3). More digits than `2 × len` is an error.
pub fn digits_to_n(digits: &str, len: usize) -> Result<Vec<u8>, BcdError> {
    let values = digit_values(digits)?;
    let capacity = len.saturating_mul(2);
    if values.len() > capacity {
        return Err(BcdError::TooManyDigits {
            digits: values.len(),
            capacity,
        });
    }
    let mut nibbles = vec![0u8; capacity - values.len()];
    nibbles.extend_from_slice(&values);
    Ok(nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Encodes decimal digits as a format `cn` field of `len` bytes: left-justified, right-padded
/// with `F` nibbles (Book 3 §4.3). More digits than `2 × len` is an error.
pub fn digits_to_cn(digits: &str, len: usize) -> Result<Vec<u8>, BcdError> {
    let mut values = digit_values(digits)?;
    let capacity = len.saturating_mul(2);
    if values.len() > capacity {
        return Err(BcdError::TooManyDigits {
            digits: values.len(),
            capacity,
        });
    }
    values.resize(capacity, 0x0F);
    Ok(values.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Decodes format `n` BCD as an unsigned integer (leading zero digits allowed).
pub fn bcd_to_u64(bytes: &[u8]) -> Result<u64, BcdError> {
    let mut value: u64 = 0;
    for (index, nibble) in nibbles(bytes).enumerate() {
        if nibble > 9 {
            return Err(BcdError::InvalidNibble { index, nibble });
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(nibble)))
            .ok_or(BcdError::Overflow)?;
    }
    Ok(value)
}

/// Encodes `value` as a format `n` field of `N` bytes; an error if it needs more than `2 × N`
/// digits.
pub fn u64_to_bcd<const N: usize>(value: u64) -> Result<[u8; N], BcdError> {
    let mut out = [0u8; N];
    let mut rest = value;
    for byte in out.iter_mut().rev() {
        let low = (rest % 10) as u8;
        rest /= 10;
        let high = (rest % 10) as u8;
        rest /= 10;
        *byte = (high << 4) | low;
    }
    if rest != 0 {
        return Err(BcdError::TooManyDigits {
            digits: value.to_string().len(),
            capacity: N * 2,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn n_round_trip_and_errors() {
        assert_eq!(bcd_to_digits(&[0x01, 0x23]).unwrap(), "0123");
        assert_eq!(
            bcd_to_digits(&[0x01, 0x2A]),
            Err(BcdError::InvalidNibble {
                index: 3,
                nibble: 0xA
            })
        );
        assert_eq!(digits_to_bcd("12345").unwrap(), vec![0x01, 0x23, 0x45]);
        assert_eq!(digits_to_n("156", 2).unwrap(), vec![0x01, 0x56]);
        assert_eq!(
            digits_to_n("12345", 2),
            Err(BcdError::TooManyDigits {
                digits: 5,
                capacity: 4
            })
        );
        assert_eq!(
            digits_to_bcd("1x"),
            Err(BcdError::InvalidDigit { index: 1, ch: 'x' })
        );
        assert!(digits_to_bcd("١").is_err(), "non-ASCII digits are rejected");
    }

    #[test]
    fn cn_padding_rules() {
        assert_eq!(cn_to_digits(&[0x12, 0x3F]).unwrap(), "123");
        assert_eq!(cn_to_digits(&[0x12, 0xFF]).unwrap(), "12");
        assert!(cn_to_digits(&[0x1F, 0x23]).is_err(), "digit after pad");
        assert!(cn_to_digits(&[0x1D]).is_err());
        assert_eq!(digits_to_cn("123", 3).unwrap(), vec![0x12, 0x3F, 0xFF]);
    }

    #[test]
    fn integers() {
        assert_eq!(bcd_to_u64(&[0x00, 0x00, 0x01, 0x23]).unwrap(), 123);
        assert_eq!(u64_to_bcd::<3>(123_456).unwrap(), [0x12, 0x34, 0x56]);
        assert!(u64_to_bcd::<3>(1_234_567).is_err());
        assert_eq!(bcd_to_u64(&[0x99; 10]), Err(BcdError::Overflow));
    }
}
