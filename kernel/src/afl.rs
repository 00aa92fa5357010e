//! The application file locator (`94`) and the records it names (EMV Book 3 §10.2), with the
//! static data to be authenticated assembled as EMV Book 3 §10.3 says.

use crate::card_data::CardData;
use crate::tag::Tag;
use crate::tags;
use crate::tlv::{self, TlvIter};
use crate::values::Sfi;
use alloc::{vec, vec::Vec};

/// One AFL entry: records `first..=last` of `sfi`, the first `oda_records` of them signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AflEntry {
    /// The short file identifier (1–30).
    pub sfi: Sfi,
    /// First record number (≥ 1).
    pub first: u8,
    /// Last record number (≥ first).
    pub last: u8,
    /// How many records from `first` take part in offline data authentication.
    pub oda_records: u8,
}

/// Why an AFL is malformed (EMV Book 3 §10.2: the terminal terminates the transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed AFL entry {index}")]
pub struct AflError {
    /// Index of the offending 4-byte entry.
    pub index: usize,
}

/// Parses an AFL: a multiple of four bytes, each entry with SFI 1–30, first record ≥ 1,
/// last ≥ first, and no more ODA records than records in the range.
pub fn parse_afl(afl: &[u8]) -> Result<Vec<AflEntry>, AflError> {
    if afl.len() % 4 != 0 {
        return Err(AflError {
            index: afl.len() / 4,
        });
    }
    afl.chunks_exact(4)
        .enumerate()
        .map(|(index, entry)| {
            let error = AflError { index };
            let sfi = Sfi::new(entry[0] >> 3).map_err(|_| error)?;
            let (first, last, oda_records) = (entry[1], entry[2], entry[3]);
            if entry[0] & 0x07 != 0 || first == 0 || last < first || oda_records > last - first + 1
            {
                return Err(error);
            }
            Ok(AflEntry {
                sfi,
                first,
                last,
                oda_records,
            })
        })
        .collect()
}

impl AflEntry {
    /// The records of the entry, each with whether it is signed for ODA.
    pub fn records(&self) -> impl Iterator<Item = (u8, bool)> + '_ {
        (self.first..=self.last).map(move |record| (record, record - self.first < self.oda_records))
    }
}

/// Why the records do not make valid static data (the kernel then fails ODA, it does not stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaticDataError {
    /// A signed record of SFI 1–10 is not a `70` template (EMV Book 3 §10.3).
    #[error("signed record {record} of SFI {sfi} is not a 70 template")]
    NotATemplate {
        /// SFI of the record.
        sfi: u8,
        /// Record number.
        record: u8,
    },
    /// `9F4A` lists something other than `82` (EMV Book 3 §10.3).
    #[error("static data authentication tag list holds more than the AIP")]
    InvalidTagList,
}

/// Collects records as they arrive and builds the static data to be authenticated.
#[derive(Debug, Default, Clone)]
pub struct StaticData {
    bytes: Vec<u8>,
    error: Option<StaticDataError>,
}

impl StaticData {
    /// Adds a signed record: the value of the `70` template for SFI 1–10, the whole record
    /// (tag and length included) for SFI 11–30.
    pub fn add_record(&mut self, sfi: Sfi, record: u8, response: &[u8]) {
        if sfi.value() > 10 {
            self.bytes.extend_from_slice(response);
            return;
        }
        match tlv::parse_single(response) {
            Ok(template) if template.tag() == tags::RECORD_TEMPLATE => {
                self.bytes.extend_from_slice(template.value())
            }
            _ => {
                self.error.get_or_insert(StaticDataError::NotATemplate {
                    sfi: sfi.value(),
                    record,
                });
            }
        }
    }

    /// Finishes with the AIP when `9F4A` asks for it; the bytes, or why they are not usable.
    pub fn finish(mut self, card: &CardData) -> Result<Vec<u8>, StaticDataError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some(list) = card.get(tags::SDA_TAG_LIST) {
            if parse_tag_list(list) != Some(vec![tags::AIP]) {
                return Err(StaticDataError::InvalidTagList);
            }
            let aip = card.get(tags::AIP).ok_or(StaticDataError::InvalidTagList)?;
            self.bytes.extend_from_slice(aip);
        }
        Ok(self.bytes)
    }
}

/// A tag list (tags back to back, no lengths), or `None` when a tag is cut short.
pub fn parse_tag_list(list: &[u8]) -> Option<Vec<Tag>> {
    let mut tags = Vec::new();
    let mut offset = 0;
    while offset < list.len() {
        let (tag, used) = Tag::parse(&list[offset..], offset).ok()?;
        tags.push(tag);
        offset += used;
    }
    Some(tags)
}

/// Reads one record response into the card data (`70` template expected; other content is
/// kept out of the store but reported).
pub fn absorb_record(card: &mut CardData, response: &[u8]) -> Result<(), RecordError> {
    let template = tlv::parse_single(response).map_err(RecordError::Malformed)?;
    if template.tag() != tags::RECORD_TEMPLATE {
        return Err(RecordError::NotATemplate(template.tag()));
    }
    card.absorb(TlvIter::with_offset(
        template.value(),
        template.value_offset(),
    ))
    .map_err(RecordError::Malformed)
}

/// A record that cannot be read into the card data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not BER-TLV.
    #[error("malformed record: {0}")]
    Malformed(tlv::TlvError),
    /// Not a `70` template.
    #[error("record is a {0} object, not a 70 template")]
    NotATemplate(Tag),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn afl_entries_and_their_records() {
        let entries = parse_afl(&[0x08, 0x01, 0x03, 0x02, 0x10, 0x01, 0x01, 0x00]).expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].sfi.value(), 1);
        let records: Vec<_> = entries[0].records().collect();
        assert_eq!(records, vec![(1, true), (2, true), (3, false)]);
        assert_eq!(entries[1].records().collect::<Vec<_>>(), vec![(1, false)]);
    }

    #[test]
    fn malformed_afls_are_rejected() {
        for afl in [
            &[0x08, 0x01, 0x03][..],
            &[0x00, 0x01, 0x01, 0x00],
            &[0x08, 0x00, 0x01, 0x00],
            &[0x08, 0x02, 0x01, 0x00],
            &[0x08, 0x01, 0x01, 0x02],
            &[0x0A, 0x01, 0x01, 0x00],
            &[0xF8, 0x01, 0x01, 0x00],
        ] {
            assert!(parse_afl(afl).is_err(), "{afl:02X?}");
        }
    }

    #[test]
    fn static_data_follows_book_3() {
        let mut card = CardData::new();
        card.insert(tags::AIP, &[0x20, 0x20]);
        card.insert(tags::SDA_TAG_LIST, &[0x82]);
        let mut data = StaticData::default();
        data.add_record(
            Sfi::new(1).expect("sfi"),
            1,
            &[0x70, 0x03, 0x5F, 0x25, 0x00],
        );
        data.add_record(Sfi::new(11).expect("sfi"), 1, &[0x70, 0x01, 0xAA]);
        assert_eq!(
            data.finish(&card).expect("valid"),
            vec![0x5F, 0x25, 0x00, 0x70, 0x01, 0xAA, 0x20, 0x20]
        );
        let mut bad = StaticData::default();
        bad.add_record(Sfi::new(2).expect("sfi"), 4, &[0x77, 0x00]);
        assert_eq!(
            bad.finish(&card),
            Err(StaticDataError::NotATemplate { sfi: 2, record: 4 })
        );
        card = CardData::new();
        card.insert(tags::SDA_TAG_LIST, &[0x82, 0x9F, 0x36]);
        assert_eq!(
            StaticData::default().finish(&card),
            Err(StaticDataError::InvalidTagList)
        );
    }
}
