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
//! The file is JSON ([`MemoryJournal`]'s serde form). It holds the full card identity of
//! pending entries (needed to recognise the card on its next tap): keep it terminal-private.

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
    /// Opens the journal at `path`, or starts an empty one if the file does not exist. A
    /// leftover `<path>.tmp` (a crash during a write) is discarded: the rename never happened,
    /// so `<path>` holds the last complete state.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, FileJournalError> {
        let path = path.into();
        let tmp = Self::tmp_path(&path);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(io(&tmp))?;
        }
        let state = match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| FileJournalError::Corrupt {
                    path: path.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => MemoryJournal::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(FileJournal { path, state })
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
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|source| FileJournalError::Corrupt {
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
}
