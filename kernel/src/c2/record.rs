//! What a C-2 transaction hands back besides its outcome (pboc-notes §9.7): the Data Record
//! (`FF8105`, the data for the authorisation or clearing), the Discretionary Data (`FF8106`)
//! and the Error Indication (`DF8115`) it carries.

use alloc::vec::Vec;

use crate::outcome_parameters::MessageId;
use crate::tag::Tag;
use crate::tags;
use crate::tlv;

use super::config::tags as c2tags;

/// The objects of the EMV-mode Data Record, in order (⚠ pboc-notes §9.7).
pub const DATA_RECORD_TAGS: &[Tag] = &[
    tags::AMOUNT_AUTHORISED,
    tags::AMOUNT_OTHER,
    tags::APPLICATION_CRYPTOGRAM,
    tags::APPLICATION_EXPIRATION_DATE,
    tags::AIP,
    tags::APPLICATION_LABEL,
    tags::PAN,
    tags::PAN_SEQUENCE_NUMBER,
    tags::APPLICATION_PREFERRED_NAME,
    tags::ISSUER_APPLICATION_DATA,
    tags::CID,
    tags::ATC,
    tags::APPLICATION_USAGE_CONTROL,
    tags::APPLICATION_VERSION_NUMBER_TERMINAL,
    tags::TERMINAL_CAPABILITIES,
    tags::CVM_RESULTS,
    tags::TERMINAL_TYPE,
    tags::IFD_SERIAL_NUMBER,
    c2tags::TRANSACTION_CATEGORY_CODE,
    tags::DF_NAME,
    tags::TERMINAL_COUNTRY_CODE,
    tags::TRACK2_EQUIVALENT_DATA,
    tags::TVR,
    tags::TRANSACTION_CURRENCY_CODE,
    tags::TRANSACTION_DATE,
    tags::TRANSACTION_TYPE,
    tags::UNPREDICTABLE_NUMBER,
    c2tags::THIRD_PARTY_DATA,
    c2tags::PAYMENT_ACCOUNT_REFERENCE,
];

/// The Data Record (`FF8105`). It holds the PAN and track 2 in clear — it is what the host
/// needs — so `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct C2DataRecord(Vec<u8>);

impl C2DataRecord {
    /// Builds the record from `value` (the flow says where each object comes from).
    pub(crate) fn build<'a>(value: impl Fn(Tag) -> Option<&'a [u8]>) -> Self {
        let mut inner = Vec::new();
        for &tag in DATA_RECORD_TAGS {
            if let Some(v) = value(tag) {
                tlv::encode(tag, v, &mut inner);
            }
        }
        C2DataRecord(inner)
    }

    /// The objects, concatenated (the value of `FF8105`).
    pub fn objects(&self) -> &[u8] {
        &self.0
    }

    /// The whole `FF8105` TLV.
    pub fn to_tlv(&self) -> Vec<u8> {
        tlv::encoded(c2tags::DATA_RECORD, &self.0)
    }

    /// The value of one object of the record.
    pub fn get(&self, tag: Tag) -> Option<&[u8]> {
        tlv::TlvIter::new(&self.0)
            .filter_map(Result::ok)
            .find(|object| object.tag() == tag)
            .map(|object| object.value())
    }
}

impl core::fmt::Debug for C2DataRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "C2DataRecord(<{} bytes>)", self.0.len())
    }
}

/// Level-2 errors of the Error Indication (⚠ pboc-notes §9.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Error {
    /// `00` OK.
    Ok,
    /// `01` card data missing.
    CardDataMissing,
    /// `02` CAM (offline data authentication) failed.
    CamFailed,
    /// `03` status bytes: the card refused a command.
    StatusBytes,
    /// `04` parsing error.
    ParsingError,
    /// `05` the amount exceeds the reader's contactless transaction limit.
    MaxLimitExceeded,
    /// `06` card data error.
    CardDataError,
    /// `07` mag-stripe mode not supported.
    MagstripeNotSupported,
    /// `0F` terminal data error.
    TerminalDataError,
}

impl L2Error {
    fn code(self) -> u8 {
        match self {
            L2Error::Ok => 0x00,
            L2Error::CardDataMissing => 0x01,
            L2Error::CamFailed => 0x02,
            L2Error::StatusBytes => 0x03,
            L2Error::ParsingError => 0x04,
            L2Error::MaxLimitExceeded => 0x05,
            L2Error::CardDataError => 0x06,
            L2Error::MagstripeNotSupported => 0x07,
            L2Error::TerminalDataError => 0x0F,
        }
    }
}

/// Level-1 errors of the Error Indication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L1Error {
    /// `00` OK.
    Ok,
    /// `01` time-out.
    TimeOut,
    /// `02` transmission error (the card left).
    TransmissionError,
    /// `03` protocol error.
    ProtocolError,
}

/// The Error Indication (`DF8115`, 6 bytes): L1, L2, L3, SW1 SW2, message on error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorIndication {
    /// Level 1.
    pub l1: L1Error,
    /// Level 2.
    pub l2: L2Error,
    /// The status word the card answered, when L2 is [`L2Error::StatusBytes`].
    pub sw: [u8; 2],
    /// The message shown on error, when one is.
    pub message_on_error: Option<MessageId>,
}

impl ErrorIndication {
    /// No error.
    pub const OK: ErrorIndication = ErrorIndication {
        l1: L1Error::Ok,
        l2: L2Error::Ok,
        sw: [0, 0],
        message_on_error: None,
    };

    /// The 6 bytes (L3 is always `00`: the kernel has no terminal-side L3 errors).
    pub fn to_bytes(&self) -> [u8; 6] {
        let l1 = match self.l1 {
            L1Error::Ok => 0x00,
            L1Error::TimeOut => 0x01,
            L1Error::TransmissionError => 0x02,
            L1Error::ProtocolError => 0x03,
        };
        [
            l1,
            self.l2.code(),
            0x00,
            self.sw[0],
            self.sw[1],
            self.message_on_error.map_or(0xFF, MessageId::code),
        ]
    }
}

/// Discretionary Data (`FF8106`): application currency code, third party data, the Error
/// Indication and the Outcome Parameter Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2DiscretionaryData(Vec<u8>);

impl C2DiscretionaryData {
    pub(crate) fn build(
        card: &crate::card_data::CardData,
        error: &ErrorIndication,
        outcome: &[u8; 8],
    ) -> Self {
        let mut inner = Vec::new();
        for tag in [
            tags::APPLICATION_CURRENCY_CODE,
            c2tags::APPLICATION_CAPABILITIES_INFORMATION,
            c2tags::THIRD_PARTY_DATA,
        ] {
            if let Some(value) = card.get(tag) {
                tlv::encode(tag, value, &mut inner);
            }
        }
        tlv::encode(c2tags::ERROR_INDICATION, &error.to_bytes(), &mut inner);
        tlv::encode(c2tags::OUTCOME_PARAMETER_SET, outcome, &mut inner);
        C2DiscretionaryData(inner)
    }

    /// The objects, concatenated (the value of `FF8106`).
    pub fn objects(&self) -> &[u8] {
        &self.0
    }

    /// The whole `FF8106` TLV.
    pub fn to_tlv(&self) -> Vec<u8> {
        tlv::encoded(c2tags::DISCRETIONARY_DATA, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_indication_bytes() {
        let e = ErrorIndication {
            l1: L1Error::TransmissionError,
            l2: L2Error::StatusBytes,
            sw: [0x69, 0x85],
            message_on_error: Some(MessageId::PresentCardAgain),
        };
        assert_eq!(e.to_bytes(), [0x02, 0x03, 0x00, 0x69, 0x85, 0x21]);
        assert_eq!(ErrorIndication::OK.to_bytes(), [0, 0, 0, 0, 0, 0xFF]);
    }

    #[test]
    fn data_record_debug_hides_the_pan() {
        let pan = [0x54, 0x13, 0x33, 0x00, 0x89, 0x01, 0x04, 0x34];
        let record = C2DataRecord::build(|tag| (tag == tags::PAN).then_some(&pan[..]));
        assert_eq!(record.get(tags::PAN), Some(&pan[..]));
        assert!(!format!("{record:?}").contains("54"));
        assert_eq!(&record.to_tlv()[..3], &[0xFF, 0x81, 0x05]);
    }
}
