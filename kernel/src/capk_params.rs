//! CA public keys in the terminal-parameter TLV layout of Chinese POS terminals.
//!
//! UnionPay acquirers distribute CA keys as records of primitive TLVs (pboc-notes §3.2, source
//! \[CP\], repeated across POS SDKs): `9F06` RID, `9F22` index, `DF05` expiry, `DF06` hash
//! algorithm indicator, `DF07` public key algorithm indicator, `DF02` modulus (or SM2 X ‖ Y),
//! `DF04` exponent, `DF03` checksum. The parser lives in the crypto crate
//! ([`quickpass_crypto::capk::tlv`]), which needs none of the kernel's types and also loads
//! whole production files of such records into a [`quickpass_crypto::capk::CapkStore`]
//! ([`CapkStore::load_tlv_file`](quickpass_crypto::capk::CapkStore::load_tlv_file)). This module
//! keeps the tags as kernel [`Tag`]s for the dictionary and the single-record entry point.

use quickpass_crypto::capk::{tlv, CaPublicKey};

use crate::tag::Tag;

/// `9F06`: registered application provider identifier.
pub const RID: Tag = Tag::new(tlv::TAG_RID);
/// `9F22`: CA public key index.
pub const INDEX: Tag = Tag::new(tlv::TAG_INDEX);
/// `DF05`: key expiry date, 8 ASCII digits `YYYYMMDD` (some SDKs: 4 bytes BCD).
pub const EXPIRY: Tag = Tag::new(tlv::TAG_EXPIRY);
/// `DF06`: hash algorithm indicator (`01` SHA-1, `07` SM3).
pub const HASH_ALGORITHM: Tag = Tag::new(tlv::TAG_HASH_ALGORITHM);
/// `DF07`: public key algorithm indicator (`01` RSA, `04` SM2).
pub const PK_ALGORITHM: Tag = Tag::new(tlv::TAG_PK_ALGORITHM);
/// `DF02`: RSA modulus, or the SM2 public key X ‖ Y.
pub const MODULUS: Tag = Tag::new(tlv::TAG_MODULUS);
/// `DF04`: RSA exponent.
pub const EXPONENT: Tag = Tag::new(tlv::TAG_EXPONENT);
/// `DF03`: key checksum.
pub const CHECKSUM: Tag = Tag::new(tlv::TAG_CHECKSUM);

/// Why a CA key parameter record could not be turned into a key: the crypto crate's error
/// (malformed TLV with its offset, a missing or invalid tag, an unusable key).
pub type CapkParamError = quickpass_crypto::capk::CapkError;

/// Parses one CA key record (a sequence of the TLVs above, in any order, optionally wrapped in a
/// template); see [`tlv::parse_record`]. The key's checksum is recorded, not enforced: a
/// [`quickpass_crypto::capk::CapkStore`] refuses a key whose checksum fails.
pub fn parse_capk_record(record: &[u8]) -> Result<CaPublicKey, CapkParamError> {
    tlv::parse_record(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_fields_are_typed_errors() {
        assert_eq!(
            parse_capk_record(&hex::decode("9F0605A000000333").expect("hex")).err(),
            Some(CapkParamError::MissingField {
                tag: INDEX.packed()
            })
        );
        assert!(matches!(
            parse_capk_record(&hex::decode("9F0605A0000003").expect("hex")),
            Err(CapkParamError::Tlv { .. })
        ));
    }
}
