//! CA public keys in the terminal-parameter TLV layout of Chinese POS terminals.
//!
//! UnionPay acquirers distribute CA keys as a sequence of primitive TLVs (pboc-notes §3.2, source
//! \[CP\], repeated across POS SDKs): `9F06` RID, `9F22` index, `DF05` expiry, `DF06` hash
//! algorithm indicator, `DF07` public key algorithm indicator, `DF02` modulus (or SM2 X ‖ Y),
//! `DF04` exponent, `DF03` checksum. This module turns such a record into a
//! [`CaPublicKey`]; the key's checksum is checked by the crypto crate (and a
//! [`quickpass_crypto::capk::CapkStore`] refuses a key whose checksum fails).

use quickpass_crypto::capk::{CaPublicKey, CapkError, CapkIndex, HashAlgorithm, PkAlgorithm, Rid};
use quickpass_crypto::date::Date;

use crate::tag::Tag;
use crate::tlv::{self, TlvError, TlvIter};

/// `9F06`: registered application provider identifier.
pub const RID: Tag = Tag::new(0x9F06);
/// `9F22`: CA public key index.
pub const INDEX: Tag = Tag::new(0x9F22);
/// `DF05`: key expiry date, 8 ASCII digits `YYYYMMDD` (some SDKs: 4 bytes BCD).
pub const EXPIRY: Tag = Tag::new(0xDF05);
/// `DF06`: hash algorithm indicator (`01` SHA-1, `07` SM3).
pub const HASH_ALGORITHM: Tag = Tag::new(0xDF06);
/// `DF07`: public key algorithm indicator (`01` RSA, `04` SM2).
pub const PK_ALGORITHM: Tag = Tag::new(0xDF07);
/// `DF02`: RSA modulus, or the SM2 public key X ‖ Y.
pub const MODULUS: Tag = Tag::new(0xDF02);
/// `DF04`: RSA exponent.
pub const EXPONENT: Tag = Tag::new(0xDF04);
/// `DF03`: key checksum.
pub const CHECKSUM: Tag = Tag::new(0xDF03);

/// Why a CA key parameter record could not be turned into a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CapkParamError {
    /// The record is not well-formed BER-TLV.
    #[error("malformed CA key record: {0}")]
    Tlv(#[from] TlvError),
    /// A mandatory data object is absent.
    #[error("CA key record lacks {0}")]
    Missing(Tag),
    /// A data object has an invalid value.
    #[error("CA key record has an invalid {0}")]
    Invalid(Tag),
    /// The crypto crate refused the key.
    #[error(transparent)]
    Key(#[from] CapkError),
}

/// Parses one CA key record (a sequence of the TLVs above, in any order).
pub fn parse_capk_record(record: &[u8]) -> Result<CaPublicKey, CapkParamError> {
    // Validate the whole record first so that a malformed object anywhere is an error.
    tlv::parse_sequence(record)?;
    let field = |tag: Tag| -> Result<&[u8], CapkParamError> {
        tlv::find_in(TlvIter::new(record), tag)?
            .map(|object| object.value())
            .ok_or(CapkParamError::Missing(tag))
    };
    let rid = Rid(field(RID)?
        .try_into()
        .map_err(|_| CapkParamError::Invalid(RID))?);
    let index = match field(INDEX)? {
        [index] => CapkIndex(*index),
        _ => return Err(CapkParamError::Invalid(INDEX)),
    };
    let expiry = match tlv::find_in(TlvIter::new(record), EXPIRY)? {
        Some(object) => Some(parse_expiry(object.value())?),
        None => None,
    };
    let hash_algorithm = match field(HASH_ALGORITHM)? {
        [indicator] => HashAlgorithm::from_indicator(*indicator)
            .ok_or(CapkParamError::Invalid(HASH_ALGORITHM))?,
        _ => return Err(CapkParamError::Invalid(HASH_ALGORITHM)),
    };
    let algorithm = match field(PK_ALGORITHM)? {
        [indicator] => {
            PkAlgorithm::from_indicator(*indicator).ok_or(CapkParamError::Invalid(PK_ALGORITHM))?
        }
        _ => return Err(CapkParamError::Invalid(PK_ALGORITHM)),
    };
    let checksum = field(CHECKSUM)?;
    let key = match algorithm {
        PkAlgorithm::Rsa => CaPublicKey::new_rsa(
            rid,
            index,
            field(MODULUS)?,
            field(EXPONENT)?,
            hash_algorithm,
            expiry,
            checksum,
        )?,
        PkAlgorithm::Sm2 => CaPublicKey::new_sm2(
            rid,
            index,
            field(MODULUS)?,
            hash_algorithm,
            expiry,
            checksum,
        )?,
        _ => return Err(CapkParamError::Invalid(PK_ALGORITHM)),
    };
    Ok(key)
}

/// Reads `DF05`: 8 ASCII digits `YYYYMMDD`, or 4 bytes BCD `YYYYMMDD`.
fn parse_expiry(value: &[u8]) -> Result<Date, CapkParamError> {
    let invalid = || CapkParamError::Invalid(EXPIRY);
    let digits: Vec<u8> = match value.len() {
        8 if value.iter().all(u8::is_ascii_digit) => value.iter().map(|d| d - b'0').collect(),
        4 => value
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .collect::<Vec<u8>>(),
        _ => return Err(invalid()),
    };
    if digits.iter().any(|d| *d > 9) {
        return Err(invalid());
    }
    let number = |range: core::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(*d))
    };
    let month = u8::try_from(number(4..6)).map_err(|_| invalid())?;
    let day = u8::try_from(number(6..8)).map_err(|_| invalid())?;
    Date::new(number(0..4), month, day).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_ascii_and_bcd() {
        let ascii = parse_expiry(b"20401231").expect("valid");
        assert_eq!((ascii.year(), ascii.month(), ascii.day()), (2040, 12, 31));
        let bcd = parse_expiry(&[0x20, 0x30, 0x02, 0x28]).expect("valid");
        assert_eq!((bcd.year(), bcd.month(), bcd.day()), (2030, 2, 28));
        assert!(parse_expiry(b"20401332").is_err());
        assert!(parse_expiry(&[0x20, 0x3A, 0x01, 0x01]).is_err());
        assert!(parse_expiry(b"2040").is_err());
    }

    #[test]
    fn missing_and_malformed_fields_are_typed_errors() {
        assert!(matches!(
            parse_capk_record(&hex::decode("9F0605A000000333").expect("hex")),
            Err(CapkParamError::Missing(INDEX))
        ));
        assert!(matches!(
            parse_capk_record(&hex::decode("9F0604A0000003").expect("hex")),
            Err(CapkParamError::Invalid(RID))
        ));
        assert!(matches!(
            parse_capk_record(&hex::decode("9F0605A0000003").expect("hex")),
            Err(CapkParamError::Tlv(_))
        ));
    }
}
