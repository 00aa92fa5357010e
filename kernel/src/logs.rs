//! Reading the card's transaction log and load log (EMV Book 3 Annex D; PBOC electronic cash,
//! pboc-notes §2.10): the log entry (`9F4D` / `DF4D`, SFI ‖ number of records) comes in the FCI,
//! the record format (`9F4F` / `DF4F`, a DOL) from GET DATA, and each record is the
//! concatenation of the DOL's values without tags. This is extra card I/O: a terminal reads logs
//! on request (a balance enquiry), never during a tap.

use crate::apdu::Command;
use crate::dol::Dol;
use crate::tag::Tag;
use crate::tags;
use crate::tlv;
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{Sfi, StatusWord};
use alloc::{format, string::String, string::ToString, vec::Vec};

/// Which log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// The transaction log: entry `9F4D`, format `9F4F`.
    Transactions,
    /// The electronic cash load log: entry `DF4D`, format `DF4F`.
    Loads,
}

impl LogKind {
    fn entry_tag(self) -> Tag {
        match self {
            LogKind::Transactions => tags::LOG_ENTRY,
            LogKind::Loads => tags::LOAD_LOG_ENTRY,
        }
    }

    fn format_tag(self) -> Tag {
        match self {
            LogKind::Transactions => tags::LOG_FORMAT,
            LogKind::Loads => tags::LOAD_LOG_FORMAT,
        }
    }

    /// Bytes before the DOL values in each record. ⚠ Load log: PUT DATA P1 P2 (2) ‖ EC balance
    /// before (6) ‖ after (6), as the PBOC card sample (BT) writes it; the transaction log has
    /// no prefix. One place to correct.
    pub fn prefix_len(self) -> usize {
        match self {
            LogKind::Transactions => 0,
            LogKind::Loads => 14,
        }
    }
}

/// One log record: the fixed prefix (load log) and the values named by the format DOL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Record number (1 = most recent).
    pub number: u8,
    /// The bytes before the DOL values (see [`LogKind::prefix_len`]).
    pub prefix: Vec<u8>,
    /// `(tag, value)` in the format's order.
    pub fields: Vec<(Tag, Vec<u8>)>,
}

impl LogRecord {
    /// The value of `tag` in this record.
    pub fn get(&self, tag: Tag) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError<E: core::error::Error + 'static> {
    /// The application has no such log (no entry in its FCI).
    #[error("the application keeps no such log")]
    NoLog,
    /// The log entry, format or a record is malformed.
    #[error("malformed log data: {0}")]
    Malformed(String),
    /// The card refused a command.
    #[error("card answered {0}")]
    Refused(StatusWord),
    /// The exchange failed.
    #[error("exchange failed: {0}")]
    Exchange(#[source] ExchangeError<E>),
}

/// Reads every record of a log, most recent first, given the selected application's FCI.
pub fn read_log<T: Transport>(
    layer: &mut ApduLayer<T>,
    fci: &[u8],
    kind: LogKind,
) -> Result<Vec<LogRecord>, LogError<T::Error>> {
    let fci = tlv::parse_single(fci).map_err(|e| LogError::Malformed(e.to_string()))?;
    let entry = fci
        .find(kind.entry_tag())
        .map_err(|e| LogError::Malformed(e.to_string()))?
        .ok_or(LogError::NoLog)?;
    let (sfi, count) = match entry.value() {
        [sfi, count] => (
            Sfi::new(*sfi).map_err(|e| LogError::Malformed(e.to_string()))?,
            *count,
        ),
        _ => return Err(LogError::Malformed("log entry is not 2 bytes".into())),
    };
    let format = read_format(layer, kind)?;
    let mut records = Vec::new();
    for number in 1..=count {
        let command =
            Command::read_record(number, sfi).map_err(|e| LogError::Malformed(e.to_string()))?;
        let response = layer.exchange(&command).map_err(LogError::Exchange)?;
        match response.sw {
            StatusWord::OK => {}
            StatusWord::RECORD_NOT_FOUND => break,
            sw => return Err(LogError::Refused(sw)),
        }
        let data = response.data;
        let (prefix, values) = data
            .split_at_checked(kind.prefix_len())
            .ok_or_else(|| LogError::Malformed(format!("record {number} too short")))?;
        let fields = format
            .split(values)
            .map_err(|e| LogError::Malformed(format!("record {number}: {e}")))?
            .into_iter()
            .map(|(tag, value)| (tag, value.to_vec()))
            .collect();
        records.push(LogRecord {
            number,
            prefix: prefix.to_vec(),
            fields,
        });
    }
    Ok(records)
}

/// GET DATA of the log format: `9F4F`/`DF4F` ‖ length ‖ DOL.
fn read_format<T: Transport>(
    layer: &mut ApduLayer<T>,
    kind: LogKind,
) -> Result<Dol, LogError<T::Error>> {
    let command =
        Command::get_data(kind.format_tag()).map_err(|e| LogError::Malformed(e.to_string()))?;
    let response = layer.exchange(&command).map_err(LogError::Exchange)?;
    if response.sw != StatusWord::OK {
        return Err(LogError::Refused(response.sw));
    }
    let object =
        tlv::parse_single(&response.data).map_err(|e| LogError::Malformed(e.to_string()))?;
    if object.tag() != kind.format_tag() {
        return Err(LogError::Malformed(format!(
            "GET DATA answered {}",
            object.tag()
        )));
    }
    Dol::parse(object.value()).map_err(|e| LogError::Malformed(e.to_string()))
}
