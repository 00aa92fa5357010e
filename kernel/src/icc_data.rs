//! ICC system related data (field 55) for the host: one tag list for the contactless and the
//! contact flow (JR/T 0025 part 7 / EMV Book 4 §12, Annex C).

use crate::tag::Tag;
use crate::tags;
use crate::tlv;
use alloc::vec::Vec;

/// Field 55 objects, in order: card objects first, terminal objects after. An object the card
/// and the terminal both lack is left out (e.g. `9F6C` CTQ on contact, `9F34` CVM results on
/// contactless).
pub const FIELD_55_TAGS: &[Tag] = &[
    tags::APPLICATION_CRYPTOGRAM,
    tags::CID,
    tags::ISSUER_APPLICATION_DATA,
    tags::UNPREDICTABLE_NUMBER,
    tags::ATC,
    tags::TVR,
    tags::TRANSACTION_DATE,
    tags::TRANSACTION_TYPE,
    tags::AMOUNT_AUTHORISED,
    tags::TRANSACTION_CURRENCY_CODE,
    tags::AIP,
    tags::TERMINAL_COUNTRY_CODE,
    tags::AMOUNT_OTHER,
    tags::TERMINAL_CAPABILITIES,
    tags::CVM_RESULTS,
    tags::TERMINAL_TYPE,
    tags::IFD_SERIAL_NUMBER,
    tags::DF_NAME,
    tags::APPLICATION_VERSION_NUMBER_TERMINAL,
    tags::TRANSACTION_SEQUENCE_COUNTER,
    tags::PAN_SEQUENCE_NUMBER,
    tags::CTQ,
    tags::EC_ISSUER_AUTHORISATION_CODE,
    tags::PRODUCT_IDENTIFICATION_INFORMATION,
];

/// Field 55 in [`FIELD_55_TAGS`] order, each value from `value` (the flow decides where each
/// object comes from: the GENERATE AC answer, the card data, the terminal values).
pub fn field_55<'a>(value: impl Fn(Tag) -> Option<&'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for &tag in FIELD_55_TAGS {
        if let Some(value) = value(tag) {
            tlv::encode(tag, value, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_55_keeps_the_list_order_and_skips_absent_objects() {
        let atc = [0x00, 0x2A];
        let ctq = [0x80, 0x00];
        let out = field_55(|tag| match tag {
            tags::CTQ => Some(&ctq[..]),
            tags::ATC => Some(&atc[..]),
            _ => None,
        });
        assert_eq!(hex::encode_upper(out), "9F3602002A9F6C028000");
    }

    #[test]
    fn the_list_has_no_duplicates() {
        for (i, tag) in FIELD_55_TAGS.iter().enumerate() {
            assert!(!FIELD_55_TAGS[i + 1..].contains(tag), "{tag} twice");
        }
    }
}
