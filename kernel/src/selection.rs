//! Application selection: PSE (contact) and PPSE (contactless) directories and the candidate
//! list (EMV Book 1 §12.3, EMV Book B §3.3, JR/T 0025.12 §6).
//!
//! The pure parts — reading an FCI or directory record into [`DirectoryEntry`] values and turning
//! those into an ordered [`CandidateList`] — are functions on bytes; [`read_pse_directory`] and
//! [`read_ppse_directory`] drive the card through an [`ApduLayer`].

use crate::apdu::Command;
use crate::tag::Tag;
use crate::tags;
use crate::tlv::{self, Tlv, TlvError};
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{Aid, Sfi, StatusWord};
use alloc::{string::String, vec::Vec};

/// Upper bound on directory records read, so a card answering 9000 forever cannot loop us.
const MAX_DIRECTORY_RECORDS: u8 = 32;

/// Why selection could not build a candidate list from the card's directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError<E: core::error::Error + 'static> {
    /// The card has no PSE/PPSE (`6A82`): use the list-of-AIDs method.
    #[error("no payment system environment on the card")]
    NoDirectory,
    /// The card is blocked or does not support SELECT (`6A81`): terminate.
    #[error("card blocked or SELECT not supported")]
    CardBlocked,
    /// The card refused a command with an unexpected status word.
    #[error("card answered {0}")]
    Refused(StatusWord),
    /// The FCI or a directory record is not well-formed BER-TLV.
    #[error("malformed directory data")]
    Malformed(#[from] TlvError),
    /// A mandatory data object is missing from the FCI or a directory entry.
    #[error("mandatory data object {0} missing")]
    Missing(Tag),
    /// A data object has an invalid value.
    #[error("invalid value in data object {0}")]
    Invalid(Tag),
    /// The card directory did not end within the record limit.
    #[error("directory has too many records")]
    TooManyRecords,
    /// The exchange with the card failed.
    #[error("exchange failed")]
    Exchange(#[source] ExchangeError<E>),
}

/// The application priority indicator (tag `87`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityIndicator(pub u8);

impl PriorityIndicator {
    /// The priority order 1 (highest) to 15, or `None` for "no priority" (low nibble 0).
    pub fn order(self) -> Option<u8> {
        match self.0 & 0x0F {
            0 => None,
            order => Some(order),
        }
    }

    /// Bit 8: the application may not be selected without cardholder confirmation.
    pub fn confirmation_required(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// One application entry (tag `61`) of a PSE/PPSE directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// ADF name (`4F`).
    pub aid: Aid,
    /// Application label (`50`), when present.
    pub label: Option<String>,
    /// Application preferred name (`9F12`), when present.
    pub preferred_name: Option<String>,
    /// Application priority indicator (`87`), when present.
    pub priority: Option<PriorityIndicator>,
    /// Kernel identifier (`9F2A`), when present (contactless).
    pub kernel_identifier: Option<Vec<u8>>,
}

impl DirectoryEntry {
    /// Reads a `61` directory entry.
    pub fn parse<E: core::error::Error + 'static>(
        entry: &Tlv<'_>,
    ) -> Result<Self, SelectionError<E>> {
        let mut aid = None;
        let mut label = None;
        let mut preferred_name = None;
        let mut priority = None;
        let mut kernel_identifier = None;
        for child in entry.children() {
            let child = child?;
            let value = child.value();
            match child.tag() {
                tags::AID => {
                    aid = Some(Aid::new(value).map_err(|_| SelectionError::Invalid(tags::AID))?)
                }
                tags::APPLICATION_LABEL => label = Some(ascii_text(value)),
                tags::APPLICATION_PREFERRED_NAME => preferred_name = Some(ascii_text(value)),
                tags::APPLICATION_PRIORITY_INDICATOR => {
                    let [byte] = value else {
                        return Err(SelectionError::Invalid(
                            tags::APPLICATION_PRIORITY_INDICATOR,
                        ));
                    };
                    priority = Some(PriorityIndicator(*byte));
                }
                tags::KERNEL_IDENTIFIER => kernel_identifier = Some(value.to_vec()),
                _ => {}
            }
        }
        Ok(DirectoryEntry {
            aid: aid.ok_or(SelectionError::Missing(tags::AID))?,
            label,
            preferred_name,
            priority,
            kernel_identifier,
        })
    }
}

/// Labels are `ans`; anything outside printable ASCII is replaced so the text is safe to show.
fn ascii_text(value: &[u8]) -> String {
    value
        .iter()
        .map(|&b| {
            if (0x20..0x7F).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// An AID the terminal supports, with its application selection indicator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TerminalAid {
    /// The terminal's AID.
    pub aid: Aid,
    /// ASI: true when a card AID that merely starts with `aid` also matches (partial match).
    pub partial_match: bool,
}

impl TerminalAid {
    /// True when the card's `aid` matches this terminal AID under its ASI.
    pub fn matches(&self, aid: &Aid) -> bool {
        aid == &self.aid || (self.partial_match && aid.starts_with(&self.aid))
    }
}

/// A directory entry the terminal supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The card's entry.
    pub entry: DirectoryEntry,
    /// Index into the terminal AID list of the AID it matched.
    pub terminal_aid: usize,
}

/// The ordered candidate list (EMV Book 1 §12.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateList {
    /// Candidates, highest priority first.
    pub candidates: Vec<Candidate>,
}

impl CandidateList {
    /// Keeps the entries some terminal AID matches and orders them: priority 1 first, entries
    /// without a priority last, equal priorities in directory order.
    pub fn build(entries: Vec<DirectoryEntry>, terminal_aids: &[TerminalAid]) -> Self {
        let mut candidates: Vec<Candidate> = entries
            .into_iter()
            .filter_map(|entry| {
                let terminal_aid = terminal_aids.iter().position(|t| t.matches(&entry.aid))?;
                Some(Candidate {
                    entry,
                    terminal_aid,
                })
            })
            .collect();
        // A stable sort keeps directory order among equal priorities.
        candidates.sort_by_key(|c| {
            c.entry
                .priority
                .and_then(PriorityIndicator::order)
                .unwrap_or(u8::MAX)
        });
        CandidateList { candidates }
    }

    /// True when the cardholder must choose or confirm (contact): more than one candidate, or
    /// any candidate whose priority indicator asks for confirmation.
    pub fn cardholder_selection_required(&self) -> bool {
        self.candidates.len() > 1
            || self.candidates.iter().any(|c| {
                c.entry
                    .priority
                    .is_some_and(PriorityIndicator::confirmation_required)
            })
    }

    /// The first candidate, which a terminal without a cardholder takes.
    pub fn first(&self) -> Option<&Candidate> {
        self.candidates.first()
    }

    /// Removes and returns the first candidate ("select next" after a refusal).
    pub fn take_first(&mut self) -> Option<Candidate> {
        (!self.candidates.is_empty()).then(|| self.candidates.remove(0))
    }
}

/// Reads the SFI of the directory elementary file (`88`) from a PSE FCI.
pub fn pse_directory_sfi<E: core::error::Error + 'static>(
    fci: &[u8],
) -> Result<Sfi, SelectionError<E>> {
    let root = tlv::parse_single(fci)?;
    let sfi = root
        .find(tags::SFI)?
        .ok_or(SelectionError::Missing(tags::SFI))?;
    match sfi.value() {
        [sfi] => Sfi::new(*sfi).map_err(|_| SelectionError::Invalid(tags::SFI)),
        _ => Err(SelectionError::Invalid(tags::SFI)),
    }
}

/// Reads the `61` entries of one PSE directory record (a `70` template).
pub fn directory_record_entries<E: core::error::Error + 'static>(
    record: &[u8],
) -> Result<Vec<DirectoryEntry>, SelectionError<E>> {
    let root = tlv::parse_single(record)?;
    if root.tag() != tags::RECORD_TEMPLATE {
        return Err(SelectionError::Invalid(tags::RECORD_TEMPLATE));
    }
    entries_in(root.children())
}

/// Reads the `61` entries inside `BF0C` of a PPSE FCI.
pub fn ppse_entries<E: core::error::Error + 'static>(
    fci: &[u8],
) -> Result<Vec<DirectoryEntry>, SelectionError<E>> {
    let root = tlv::parse_single(fci)?;
    let discretionary = root
        .find(tags::FCI_ISSUER_DISCRETIONARY_DATA)?
        .ok_or(SelectionError::Missing(tags::FCI_ISSUER_DISCRETIONARY_DATA))?;
    // Book B §3.3.2 (pboc-notes §8.2): an entry that is not well formed inside (no `4F`, an
    // invalid AID or priority) is skipped, the others still make combinations. The directory
    // itself must still be well-formed BER-TLV.
    let mut entries = Vec::new();
    for object in discretionary.children() {
        let object = object?;
        if object.tag() == tags::APPLICATION_TEMPLATE {
            match DirectoryEntry::parse::<E>(&object) {
                Ok(entry) => entries.push(entry),
                Err(SelectionError::Malformed(e)) => return Err(SelectionError::Malformed(e)),
                Err(_) => {}
            }
        }
    }
    Ok(entries)
}

fn entries_in<E: core::error::Error + 'static>(
    objects: tlv::TlvIter<'_>,
) -> Result<Vec<DirectoryEntry>, SelectionError<E>> {
    let mut entries = Vec::new();
    for object in objects {
        let object = object?;
        if object.tag() == tags::APPLICATION_TEMPLATE {
            entries.push(DirectoryEntry::parse(&object)?);
        }
    }
    Ok(entries)
}

/// SELECTs the PSE and reads its directory records until `6A83` (EMV Book 1 §12.3.2).
pub fn read_pse_directory<T: Transport>(
    layer: &mut ApduLayer<T>,
) -> Result<Vec<DirectoryEntry>, SelectionError<T::Error>> {
    let fci = select_directory(layer, Command::select_pse())?;
    let sfi = pse_directory_sfi(&fci)?;
    let mut entries = Vec::new();
    for record in 1..=MAX_DIRECTORY_RECORDS {
        let command =
            Command::read_record(record, sfi).map_err(|_| SelectionError::TooManyRecords)?;
        let response = layer.exchange(&command).map_err(SelectionError::Exchange)?;
        match response.sw {
            StatusWord::OK => entries.extend(directory_record_entries(&response.data)?),
            StatusWord::RECORD_NOT_FOUND => return Ok(entries),
            other => return Err(SelectionError::Refused(other)),
        }
    }
    Err(SelectionError::TooManyRecords)
}

/// SELECTs the PPSE and returns its directory entries (EMV Book B §3.3.2).
pub fn read_ppse_directory<T: Transport>(
    layer: &mut ApduLayer<T>,
) -> Result<Vec<DirectoryEntry>, SelectionError<T::Error>> {
    let fci = select_directory(layer, Command::select_ppse())?;
    ppse_entries(&fci)
}

fn select_directory<T: Transport>(
    layer: &mut ApduLayer<T>,
    select: Command,
) -> Result<Vec<u8>, SelectionError<T::Error>> {
    let response = layer.exchange(&select).map_err(SelectionError::Exchange)?;
    match response.sw {
        StatusWord::OK => Ok(response.data),
        StatusWord::FILE_NOT_FOUND => Err(SelectionError::NoDirectory),
        StatusWord::FUNCTION_NOT_SUPPORTED => Err(SelectionError::CardBlocked),
        other => Err(SelectionError::Refused(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Error = SelectionError<std::io::Error>;

    fn aid(text: &str) -> Aid {
        Aid::new(&hex::decode(text).expect("hex")).expect("aid")
    }

    fn entry(aid_hex: &str, priority: Option<u8>) -> DirectoryEntry {
        DirectoryEntry {
            aid: aid(aid_hex),
            label: None,
            preferred_name: None,
            priority: priority.map(PriorityIndicator),
            kernel_identifier: None,
        }
    }

    #[test]
    fn real_ppse_response_gives_the_unionpay_debit_entry() {
        let fci = hex::decode(
            "6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101500A50424F43204445424954870101",
        )
        .expect("hex");
        let entries = ppse_entries::<std::io::Error>(&fci).expect("valid");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].aid, aid("A000000333010101"));
        assert_eq!(entries[0].label.as_deref(), Some("PBOC DEBIT"));
        assert_eq!(
            entries[0].priority.and_then(PriorityIndicator::order),
            Some(1)
        );
    }

    #[test]
    fn candidates_ordered_by_priority_then_directory_order() {
        let terminal = [
            TerminalAid {
                aid: aid("A000000333010101"),
                partial_match: false,
            },
            TerminalAid {
                aid: aid("A0000003330101"),
                partial_match: true,
            },
        ];
        let list = CandidateList::build(
            vec![
                entry("A000000333010102", None),
                entry("A000000333010101", Some(2)),
                entry("A000000333010106", Some(0x81)),
                entry("A000000632010105", Some(1)),
                entry("A000000333010103", Some(2)),
            ],
            &terminal,
        );
        let order: Vec<String> = list
            .candidates
            .iter()
            .map(|c| c.entry.aid.to_string())
            .collect();
        assert_eq!(
            order,
            [
                "A000000333010106",
                "A000000333010101",
                "A000000333010103",
                "A000000333010102"
            ]
        );
        assert!(list.cardholder_selection_required());
        assert_eq!(list.candidates[1].terminal_aid, 0);
    }

    #[test]
    fn a_ppse_entry_without_aid_is_skipped_not_fatal() {
        // BF0C: an entry with only a label (no 4F), then the UnionPay debit entry.
        let fci = hex::decode(
            "6F38840E325041592E5359532E4444463031A526BF0C23610650044241442161194F08A000000333010101500A50424F43204445424954870101",
        )
        .expect("hex");
        let entries = ppse_entries::<std::io::Error>(&fci).expect("the good entry survives");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].aid, aid("A000000333010101"));
        // The PSE (contact) keeps refusing a record with such an entry.
        assert!(matches!(
            directory_record_entries::<std::io::Error>(&hex::decode("700461025000").expect("hex")),
            Err(Error::Missing(tags::AID))
        ));
    }

    #[test]
    fn exact_match_refuses_longer_card_aid() {
        let exact = TerminalAid {
            aid: aid("A0000003330101"),
            partial_match: false,
        };
        assert!(!exact.matches(&aid("A000000333010101")));
        assert!(exact.matches(&aid("A0000003330101")));
    }

    #[test]
    fn malformed_directory_data_is_an_error() {
        assert!(matches!(
            directory_record_entries::<std::io::Error>(&[0x70, 0x03, 0x61, 0x01]),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            directory_record_entries::<std::io::Error>(&hex::decode("700461025000").expect("hex")),
            Err(Error::Missing(tags::AID))
        ));
        assert!(matches!(
            pse_directory_sfi::<std::io::Error>(&hex::decode("6F05A503880100").expect("hex")),
            Err(Error::Invalid(_))
        ));
    }
}
