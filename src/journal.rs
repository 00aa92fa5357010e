//! A file-backed write-ahead journal for ED/EP transactions (the kernel's
//! [`Journal`], pboc-notes §4.3 step 9): the terminal's
//! pending DEBIT / CREDIT entries and its settlement records survive a crash or power cut.
//!
//! Every change writes the whole journal to `<path>.tmp`, `fsync`s it, renames it over `<path>`
//! (atomic on POSIX file systems) and `fsync`s the directory, and only then returns — so
//! [`Journal::begin`] returns after the entry is on
//! disk, before the flow sends DEBIT. A crash at any point leaves either the old or the new
//! journal, never a mix. When writing fails, the in-memory state is left as it was, matching
//! the file.
//!
//! The file is JSON, format `quickpass-journal/2`:
//! `{"format": "quickpass-journal/2", "sha256": "<hex>", "state": {…}}` where `state` is
//! [`MemoryJournal`]'s serde form and `sha256` the SHA-256 of the state's compact JSON. At open
//! the checksum is verified, the file must be byte-for-byte the canonical form this module
//! writes (so no edit that still parses passes, even in a field the state would default), and
//! the state is checked structurally: no id twice among pending entries and records, every id
//! below `next_id`. Any failure is [`FileJournalError::Corrupt`] / [`FileJournalError::Integrity`]:
//! the terminal does not start on a journal it cannot trust. The checksum catches corruption
//! (a flipped bit, a truncated or hand-edited file), **not** a forger with write access to the
//! file, who can recompute it; an HMAC under a terminal key would, and is not done here.
//!
//! The old format (version 1: the bare `MemoryJournal` JSON, no checksum) is still read, with
//! the structural checks, and migrated at once: [`FileJournal::open`] writes the journal back
//! (which also proves the file can be written, see there).
//!
//! The file holds the full card identity of
//! pending entries (needed to recognise the card on its next tap): keep it terminal-private.
//!
//! # Not for a terminal: use the store
//!
//! Rewriting the whole file on every change costs more with every record (issue 12: 41 ms per
//! tap averaged over 5,000 taps, megabytes written per tap), and two processes on one file lose
//! each other's records. A terminal keeps its journal in [`crate::store::Store`] (SQLite: one
//! transaction per change, one writer at a time, flat cost). This journal stays because it
//! still earns a place: a readable, diffable single file for tests, fault-injection rigs and PC
//! tools, and the format [`Store::import_json_journal`](crate::store::Store::import_json_journal)
//! reads when a terminal moves to the store. It is not deprecated with an attribute (tests on
//! other branches use it under `-D warnings`); new terminal code should not use it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use quickpass_kernel::purse::journal::{
    Journal, JournalEntry, MemoryJournal, MemoryJournalError, Pending,
};
use quickpass_kernel::purse::SettlementRecord;

/// Why the file journal failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileJournalError {
    /// Reading, writing, syncing or renaming failed.
    #[error("journal file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a journal.
    #[error("journal file {path} is corrupt: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The file parses but fails the integrity checks (checksum, canonical form, duplicate
    /// ids, an id not below `next_id`, unknown format).
    #[error("journal file {path} fails its integrity check: {detail}")]
    Integrity {
        /// The file.
        path: PathBuf,
        /// What is wrong (no card data: ids and checksums only).
        detail: String,
    },
    /// The change does not apply (unknown entry id).
    #[error(transparent)]
    Entry(#[from] MemoryJournalError),
}

/// A [`Journal`] kept in one JSON file; see the [module docs](self).
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    state: MemoryJournal,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileJournalError + '_ {
    move |source| FileJournalError::Io {
        path: path.to_owned(),
        source,
    }
}

impl FileJournal {
    /// Opens the journal at `path`, or starts an empty one if the file does not exist, and
    /// writes it back before returning: a journal whose file or directory cannot be written
    /// (missing directory, empty path, read-only, disk full) is refused here, at start-up,
    /// rather than on the first tap. A leftover `<path>.tmp` (a crash during a write) is
    /// discarded: the rename never happened, so `<path>` holds the last complete state. The
    /// file is verified as the [module docs](self) say.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, FileJournalError> {
        let path = path.into();
        if path.as_os_str().is_empty() {
            return Err(io(&path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty journal path",
            )));
        }
        let tmp = Self::tmp_path(&path);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(io(&tmp))?;
        }
        let state = match fs::read(&path) {
            Ok(bytes) => decode(&path, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => MemoryJournal::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut journal = FileJournal {
            path,
            state: MemoryJournal::new(),
        };
        // Proves the directory writable (and migrates a version-1 file).
        journal.commit(state)?;
        Ok(journal)
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tmp_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    }

    /// Writes `next` durably (tmp, fsync, rename, fsync directory), then adopts it.
    fn commit(&mut self, next: MemoryJournal) -> Result<(), FileJournalError> {
        let bytes = encode(&next).map_err(|source| FileJournalError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let tmp = Self::tmp_path(&self.path);
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(io(&tmp))?;
            file.write_all(&bytes).map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        // The rename is durable once the directory is synced (POSIX); directories cannot be
        // opened for syncing everywhere, so only a failing sync of an opened one is an error.
        if let Ok(dir_file) = File::open(&dir) {
            dir_file.sync_all().map_err(io(&dir))?;
        }
        self.state = next;
        Ok(())
    }
}

/// The current file format.
const FORMAT: &str = "quickpass-journal/2";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    sha256: String,
    state: MemoryJournal,
}

/// Only the ids of a state, for the structural checks (`MemoryJournal` keeps `next_id` private).
#[derive(serde::Deserialize)]
struct Ids {
    next_id: u64,
    pending: Vec<Id>,
    records: Vec<Id>,
}

#[derive(serde::Deserialize)]
struct Id {
    id: u64,
}

fn checksum(state: &MemoryJournal) -> Result<String, serde_json::Error> {
    Ok(hex::encode(quickpass_crypto::hash::sha256(
        &serde_json::to_vec(state)?,
    )))
}

/// The file's bytes for `state` (format 2, canonical).
fn encode(state: &MemoryJournal) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(&Envelope {
        format: FORMAT.to_owned(),
        sha256: checksum(state)?,
        state: state.clone(),
    })
}

/// Reads and verifies the journal file at `path` without writing anything (the store's
/// import): its state and the next id it would have issued.
pub(crate) fn read(path: &Path) -> Result<(MemoryJournal, u64), FileJournalError> {
    let bytes = fs::read(path).map_err(io(path))?;
    decode_with_next_id(path, &bytes)
}

/// Parses and verifies a journal file (format 2, or format 1 without a checksum).
fn decode(path: &Path, bytes: &[u8]) -> Result<MemoryJournal, FileJournalError> {
    decode_with_next_id(path, bytes).map(|(state, _)| state)
}

/// [`decode`], also returning the state's next id.
fn decode_with_next_id(
    path: &Path,
    bytes: &[u8],
) -> Result<(MemoryJournal, u64), FileJournalError> {
    let corrupt = |source| FileJournalError::Corrupt {
        path: path.to_owned(),
        source,
    };
    let integrity = |detail: String| FileJournalError::Integrity {
        path: path.to_owned(),
        detail,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(corrupt)?;
    let versioned = value.as_object().is_some_and(|o| {
        o.contains_key("format") || o.contains_key("sha256") || o.contains_key("state")
    });
    let (state, canonical, ids) = if versioned {
        let envelope: Envelope = serde_json::from_value(value.clone()).map_err(corrupt)?;
        if envelope.format != FORMAT {
            return Err(integrity("unknown format".into()));
        }
        if checksum(&envelope.state).map_err(corrupt)? != envelope.sha256 {
            return Err(integrity("checksum mismatch".into()));
        }
        let canonical = encode(&envelope.state).map_err(corrupt)?;
        let ids: Ids = serde_json::from_value(value["state"].clone()).map_err(corrupt)?;
        (envelope.state, canonical, ids)
    } else {
        // Version 1: the bare state, written by `to_vec_pretty`; migrated by `open`.
        let state: MemoryJournal = serde_json::from_value(value.clone()).map_err(corrupt)?;
        let canonical = serde_json::to_vec_pretty(&state).map_err(corrupt)?;
        let ids: Ids = serde_json::from_value(value).map_err(corrupt)?;
        (state, canonical, ids)
    };
    if canonical != bytes {
        return Err(integrity(
            "not in canonical form (edited or damaged)".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in ids.pending.iter().chain(&ids.records).map(|i| i.id) {
        if !seen.insert(id) {
            return Err(integrity(format!("entry id {id} appears twice")));
        }
        if id == 0 || id >= ids.next_id {
            return Err(integrity(format!(
                "entry id {id} was never issued (next id {})",
                ids.next_id
            )));
        }
    }
    Ok((state, ids.next_id))
}

impl Journal for FileJournal {
    type Error = FileJournalError;

    fn begin(&mut self, entry: &JournalEntry) -> Result<u64, FileJournalError> {
        let mut next = self.state.clone();
        let id = next.begin(entry)?;
        self.commit(next)?;
        Ok(id)
    }

    fn complete(&mut self, record: &SettlementRecord) -> Result<(), FileJournalError> {
        let mut next = self.state.clone();
        next.complete(record)?;
        self.commit(next)
    }

    fn void(&mut self, id: u64) -> Result<(), FileJournalError> {
        let mut next = self.state.clone();
        next.void(id)?;
        self.commit(next)
    }

    fn pending(&self) -> Vec<Pending> {
        self.state.pending()
    }

    fn records(&self) -> Vec<SettlementRecord> {
        self.state.records()
    }

    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, FileJournalError> {
        let mut next = self.state.clone();
        let records = next.take_records()?;
        self.commit(next)?;
        Ok(records)
    }

    fn newest_id(&self) -> Option<u64> {
        self.state.newest_id()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use quickpass_kernel::purse::{CardIdentity, TransactionKind};
    use quickpass_kernel::values::PurseAmount;

    fn entry(amount: u32) -> JournalEntry {
        let amount = PurseAmount::from_fen(amount);
        JournalEntry {
            kind: TransactionKind::PursePurchase,
            card: CardIdentity {
                serial: [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78],
                second_diversifier: None,
            },
            card_number: "3104************5678".into(),
            amount,
            balance_before: PurseAmount::from_fen(5000),
            counter: 16,
            key_index: 1,
            key_version: 1,
            terminal_id: [0x31, 0x01, 0, 0, 0, 1],
            terminal_serial: Some(1),
            date: [0x20, 0x24, 0x05, 0x17],
            time: [0x08, 0x30, 0x15],
            host_mac2: None,
            trip: None,
            clearing: None,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("quickpass-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn pending_entries_survive_a_crash() {
        let dir = temp_dir("crash");
        let path = dir.join("journal.json");
        {
            let mut journal = FileJournal::open(&path).unwrap();
            assert_eq!(journal.begin(&entry(200)).unwrap(), 1);
            assert_eq!(journal.begin(&entry(300)).unwrap(), 2);
            journal.void(1).unwrap();
            // Dropped without any shutdown: the "crash".
        }
        // A half-written temporary file from a crash during the next write is ignored.
        fs::write(FileJournal::tmp_path(&path), b"{ not json").unwrap();
        let mut journal = FileJournal::open(&path).unwrap();
        let pending = journal.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].id, pending[0].entry.amount.fen()), (2, 300));
        assert!(!FileJournal::tmp_path(&path).exists());
        assert_eq!(journal.begin(&entry(1)).unwrap(), 3, "ids are not reused");
        assert!(matches!(
            journal.void(1),
            Err(FileJournalError::Entry(MemoryJournalError::UnknownEntry(1)))
        ));
        // A failed change leaves the state as it was.
        assert_eq!(journal.pending().len(), 2);
        fs::write(&path, b"garbage").unwrap();
        assert!(matches!(
            FileJournal::open(&path),
            Err(FileJournalError::Corrupt { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 15 Build 3: a journal that cannot be written is refused at open, not per tap.
    #[test]
    fn an_unwritable_journal_is_refused_at_open() {
        let dir = temp_dir("unwritable");
        assert!(matches!(
            FileJournal::open(dir.join("missing/dir/journal.json")),
            Err(FileJournalError::Io { .. })
        ));
        assert!(matches!(
            FileJournal::open(""),
            Err(FileJournalError::Io { .. })
        ));
        // A directory where the file should be.
        assert!(matches!(
            FileJournal::open(&dir),
            Err(FileJournalError::Io { .. })
        ));
        // Opening writes the file: a usable journal exists on disk right after open.
        let path = dir.join("journal.json");
        FileJournal::open(&path).unwrap();
        assert!(path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A small journal file: two pending entries (one voided before), ids 1..=3.
    fn small_journal(dir: &Path) -> (PathBuf, Vec<u8>) {
        let path = dir.join("journal.json");
        let mut journal = FileJournal::open(&path).unwrap();
        journal.begin(&entry(200)).unwrap();
        journal.begin(&entry(300)).unwrap();
        journal.begin(&entry(400)).unwrap();
        journal.void(1).unwrap();
        let bytes = fs::read(&path).unwrap();
        (path, bytes)
    }

    /// Rewrites the file from an edited state with a correct checksum (what a forger with file
    /// access could do): only the structural checks can catch it.
    fn forge(path: &Path, bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) {
        let mut value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        edit(&mut value["state"]);
        let state: MemoryJournal = serde_json::from_value(value["state"].clone()).unwrap();
        fs::write(path, encode(&state).unwrap()).unwrap();
    }

    /// Issue 15 reproduction 7: every single-bit flip of a journal file is refused at open.
    #[test]
    fn every_single_bit_flip_is_refused_at_open() {
        let dir = temp_dir("flips");
        let (path, bytes) = small_journal(&dir);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains("\"format\": \"quickpass-journal/2\""),
            "{text}"
        );
        assert!(text.contains("\"sha256\""), "{text}");
        let (mut flips, mut refused) = (0usize, 0usize);
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                fs::write(&path, &damaged).unwrap();
                flips += 1;
                match FileJournal::open(&path) {
                    Err(FileJournalError::Corrupt { .. } | FileJournalError::Integrity { .. }) => {
                        refused += 1
                    }
                    other => panic!("flip of bit {bit} of byte {byte} accepted: {other:?}"),
                }
            }
        }
        assert_eq!((flips, refused), (bytes.len() * 8, bytes.len() * 8));
        // The undamaged file still opens.
        fs::write(&path, &bytes).unwrap();
        assert_eq!(FileJournal::open(&path).unwrap().pending().len(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_ids_reset_next_id_and_edits_are_refused() {
        let dir = temp_dir("forged");
        let (path, bytes) = small_journal(&dir);
        let refused = |path: &Path| {
            matches!(
                FileJournal::open(path),
                Err(FileJournalError::Integrity { .. })
            )
        };
        // next_id reset below an existing id (checksum recomputed).
        forge(&path, &bytes, |state| state["next_id"] = 2.into());
        assert!(refused(&path));
        forge(&path, &bytes, |state| state["next_id"] = 3.into());
        assert!(refused(&path), "id 3 == next_id");
        // A duplicate id.
        forge(&path, &bytes, |state| state["pending"][1]["id"] = 2.into());
        assert!(refused(&path));
        // Id 0 is never issued.
        forge(&path, &bytes, |state| state["pending"][0]["id"] = 0.into());
        assert!(refused(&path));
        // An edit without recomputing the checksum: a dropped pending entry, an amount.
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        value["state"]["pending"].as_array_mut().unwrap().remove(0);
        fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
        assert!(refused(&path), "dropped pending entry");
        // A dropped entry with the checksum recomputed is consistent: not detectable (a forger
        // with file access; an HMAC under a terminal key would be needed).
        forge(&path, &bytes, |state| {
            state["pending"].as_array_mut().unwrap().remove(0);
        });
        assert_eq!(FileJournal::open(&path).unwrap().pending().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Version 1 files (bare state, no checksum) are read, checked and migrated at open.
    #[test]
    fn a_version_1_journal_is_migrated_at_open() {
        let dir = temp_dir("v1");
        let path = dir.join("journal.json");
        let mut state = MemoryJournal::new();
        state.begin(&entry(200)).unwrap();
        fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        let journal = FileJournal::open(&path).unwrap();
        assert_eq!(journal.pending().len(), 1);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("quickpass-journal/2") && text.contains("sha256"),
            "{text}"
        );
        assert_eq!(
            FileJournal::open(&path).unwrap().pending(),
            journal.pending()
        );
        // A version-1 file with a duplicate id is refused too.
        let mut value = serde_json::to_value(&state).unwrap();
        let first = value["pending"][0].clone();
        value["pending"].as_array_mut().unwrap().push(first);
        value["next_id"] = 5.into();
        fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
        assert!(matches!(
            FileJournal::open(&path),
            Err(FileJournalError::Integrity { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
