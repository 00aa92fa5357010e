//! Contact application selection (EMV Book 1 §12.3–§12.4; pboc-notes §1.2): the PSE directory
//! first, the list-of-AIDs method when the card has no usable PSE, then final selection of
//! the first candidate that answers.
//!
//! Without a cardholder interface the terminal takes the candidates in priority order; a
//! candidate whose priority indicator asks for confirmation is taken too (the integrator who
//! has a display can reorder [`CandidateList`] before final selection). Nested DDFs (`9D`
//! entries) are not followed.

use crate::apdu::{Command, Occurrence};
use crate::error::KernelError;
use crate::selection::{
    self, Candidate, CandidateList, DirectoryEntry, PriorityIndicator, SelectionError, TerminalAid,
};
use crate::tags;
use crate::tlv;
use crate::transport::{ApduLayer, Transport};
use crate::values::{Aid, StatusWord};
use alloc::{string::String, vec::Vec};

/// Most SELECT "next occurrence" commands sent for one terminal AID, so a card answering
/// `9000` forever cannot loop the terminal.
const MAX_OCCURRENCES: usize = 16;

/// How the candidate list was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMethod {
    /// From the `1PAY.SYS.DDF01` directory.
    Pse,
    /// By selecting each terminal AID (Book 1 §12.3.3).
    ListOfAids,
}

/// The application final selection chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedApplication {
    /// The DF name (`84`) of the selected ADF.
    pub aid: Aid,
    /// The FCI as the card returned it.
    pub fci: Vec<u8>,
    /// Index into the terminal AID list of the AID it matched.
    pub terminal_aid: usize,
    /// The candidate's directory or FCI entry.
    pub entry: DirectoryEntry,
}

/// Reads an ADF's FCI (`6F { 84, A5 { 50, 87, 9F12, … } }`) as a directory entry.
pub fn fci_entry(fci: &[u8]) -> Option<DirectoryEntry> {
    let root = tlv::parse_single(fci).ok()?;
    if root.tag() != tags::FCI_TEMPLATE {
        return None;
    }
    let aid = Aid::new(root.find(tags::DF_NAME).ok()??.value()).ok()?;
    let text = |tag| {
        root.find(tag).ok().flatten().map(|t| {
            t.value()
                .iter()
                .map(|&b| {
                    if (0x20..0x7F).contains(&b) {
                        b as char
                    } else {
                        '?'
                    }
                })
                .collect::<String>()
        })
    };
    let priority = match root
        .find(tags::APPLICATION_PRIORITY_INDICATOR)
        .ok()
        .flatten()
    {
        Some(p) => match p.value() {
            [b] => Some(PriorityIndicator(*b)),
            _ => return None,
        },
        None => None,
    };
    Some(DirectoryEntry {
        aid,
        label: text(tags::APPLICATION_LABEL),
        preferred_name: text(tags::APPLICATION_PREFERRED_NAME),
        priority,
        kernel_identifier: None,
    })
}

/// Builds the candidate list: the PSE when the card has one that names a supported
/// application, else the list of AIDs. `6A81` to SELECT PSE (card blocked or SELECT not
/// supported) terminates; any other PSE trouble falls back to the list of AIDs.
pub fn candidates<T: Transport>(
    layer: &mut ApduLayer<T>,
    terminal_aids: &[TerminalAid],
) -> Result<(CandidateList, SelectionMethod), KernelError<T::Error>> {
    match selection::read_pse_directory(layer) {
        Ok(entries) => {
            let list = CandidateList::build(entries, terminal_aids);
            if !list.candidates.is_empty() {
                return Ok((list, SelectionMethod::Pse));
            }
        }
        Err(SelectionError::Exchange(e)) => return Err(e.into()),
        Err(SelectionError::CardBlocked) => {
            return Err(KernelError::Refused {
                command: "SELECT PSE",
                sw: StatusWord::FUNCTION_NOT_SUPPORTED,
            })
        }
        Err(_) => {}
    }
    let entries = list_of_aids(layer, terminal_aids)?;
    Ok((
        CandidateList::build(entries, terminal_aids),
        SelectionMethod::ListOfAids,
    ))
}

/// The list-of-AIDs method (Book 1 §12.3.3): SELECT each terminal AID; an FCI whose DF name
/// equals it is a candidate (then the next terminal AID); a longer DF name that starts with
/// it is a candidate when the AID allows partial matching, and the terminal asks for the next
/// occurrence (P2 = `02`) until the card has none. A blocked application (`6283`) is no
/// candidate.
pub fn list_of_aids<T: Transport>(
    layer: &mut ApduLayer<T>,
    terminal_aids: &[TerminalAid],
) -> Result<Vec<DirectoryEntry>, KernelError<T::Error>> {
    let mut entries: Vec<DirectoryEntry> = Vec::new();
    for terminal in terminal_aids {
        let mut occurrence = Occurrence::First;
        for _ in 0..MAX_OCCURRENCES {
            let response = layer.exchange(&Command::select_aid(&terminal.aid, occurrence))?;
            occurrence = Occurrence::Next;
            let blocked = response.sw == StatusWord::SELECTED_FILE_INVALIDATED;
            if response.sw != StatusWord::OK && !blocked {
                break;
            }
            let Some(entry) = fci_entry(&response.data) else {
                break;
            };
            if entry.aid == terminal.aid {
                if !blocked && !entries.iter().any(|e| e.aid == entry.aid) {
                    entries.push(entry);
                }
                break;
            }
            if !entry.aid.starts_with(&terminal.aid) {
                break;
            }
            if terminal.partial_match && !blocked && !entries.iter().any(|e| e.aid == entry.aid) {
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// Final selection (Book 1 §12.4): SELECTs candidates in order until one answers `9000` with
/// an FCI whose DF name is the candidate's; the others are removed from the list. `None` when
/// no candidate is left.
pub fn final_selection<T: Transport>(
    layer: &mut ApduLayer<T>,
    candidates: &mut CandidateList,
) -> Result<Option<SelectedApplication>, KernelError<T::Error>> {
    while let Some(Candidate {
        entry,
        terminal_aid,
    }) = candidates.take_first()
    {
        let response = layer.exchange(&Command::select_aid(&entry.aid, Occurrence::First))?;
        if response.sw != StatusWord::OK {
            continue;
        }
        match fci_entry(&response.data) {
            Some(fci) if fci.aid == entry.aid => {
                return Ok(Some(SelectedApplication {
                    aid: entry.aid,
                    fci: response.data,
                    terminal_aid,
                    entry,
                }))
            }
            _ => continue,
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fci_entries() {
        let mut body = Vec::new();
        tlv::encode(tags::APPLICATION_LABEL, b"PBOC DEBIT", &mut body);
        tlv::encode(tags::APPLICATION_PRIORITY_INDICATOR, &[0x81], &mut body);
        let mut fci = Vec::new();
        tlv::encode(
            tags::DF_NAME,
            &hex::decode("A000000333010101").unwrap(),
            &mut fci,
        );
        tlv::encode(tags::FCI_PROPRIETARY_TEMPLATE, &body, &mut fci);
        let fci = tlv::encoded(tags::FCI_TEMPLATE, &fci);
        let entry = fci_entry(&fci).unwrap();
        assert_eq!(entry.aid.to_string(), "A000000333010101");
        assert_eq!(entry.label.as_deref(), Some("PBOC DEBIT"));
        assert!(entry.priority.unwrap().confirmation_required());
        assert!(fci_entry(&[0x6F, 0x00]).is_none());
        assert!(fci_entry(&[0x70, 0x03, 0x84, 0x01, 0xA0]).is_none());
    }
}
