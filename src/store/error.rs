//! Why the store refused: typed, split by what went wrong, naming files and row ids only — never
//! a card number, a key or a payload.

use std::path::PathBuf;

/// Why the [`Store`](super::Store) refused an open or a change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The path is empty, or the database file could not be opened or created (a missing
    /// directory, a directory in its place).
    #[error("store {path}: cannot open: {source}")]
    Open {
        /// The store file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another process, or another [`Store`](super::Store) in this one, has the store open: one
    /// writer at a time.
    #[error(
        "store {path} is in use by another process (or another open store): one writer at a time"
    )]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// The store opened but could not be written (read-only file or directory, full disk, I/O
    /// error): refused at open, before any card is touched.
    #[error("store {path} cannot be written: {source}")]
    Unwritable {
        /// The store file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not a quickpass store (not an SQLite database, or another application's).
    #[error("store {path} is not a quickpass store ({detail})")]
    NotAStore {
        /// The store file.
        path: PathBuf,
        /// What was found instead.
        detail: &'static str,
    },
    /// The database file is damaged: SQLite reports corruption, or `PRAGMA integrity_check`
    /// (run at every open) finds a damaged page or an index that disagrees with its table.
    #[error("store {path} is damaged: {detail}")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// SQLite's first finding (pages, tables, indexes and row numbers; no row content).
        detail: String,
    },
    /// The store was written by a newer version of this software (its schema is newer than the
    /// one this build knows): refused rather than misread.
    #[error("store {path} has schema version {found}; this build supports up to {supported}")]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A migration to a newer schema failed (the store is left at its old version).
    #[error("store {path}: migration to schema version {to} failed: {source}")]
    Migration {
        /// The store file.
        path: PathBuf,
        /// The version the migration was to reach.
        to: u32,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A row fails its check: its SHA-256 does not match its fields (edited or damaged), or a
    /// field does not decode. The row is never used.
    #[error("store row {table}#{id} fails its integrity check: {problem}")]
    Integrity {
        /// The table (`pending`, `records`, `meta`, `deny_meta`, `deny_keys`).
        table: &'static str,
        /// The row id.
        id: i64,
        /// What is wrong.
        problem: IntegrityProblem,
    },
    /// Reading or writing the database failed after open (the change was rolled back).
    #[error("store: {op}: {source}")]
    Database {
        /// What the store was doing.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A value could not be serialised for the store.
    #[error("store: {what} cannot be serialised: {source}")]
    Serialise {
        /// What was being written.
        what: &'static str,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
    /// No pending journal entry has this id (completed twice, or never begun).
    #[error("no pending journal entry {0}")]
    UnknownEntry(u64),
    /// No batch has this id (never exported, or pruned).
    #[error("no batch {0}")]
    UnknownBatch(u64),
    /// The caller's text is not a store date-time (`YYYY-MM-DDThh:mm:ss`).
    #[error("not a store date-time (YYYY-MM-DDThh:mm:ss): {0:?}")]
    InvalidCreated(String),
    /// Purse settlement records are written by the purse journal only
    /// ([`Journal::complete`](quickpass_kernel::purse::Journal::complete)), never by
    /// [`add_record`](super::Store::add_record).
    #[error("purse settlement records are written by the purse journal, not add_record")]
    ReservedKind,
    /// An imported journal entry or record has an id the store already uses for something else.
    #[error("import: id {id} is already used in the store by a different entry or record")]
    ImportConflict {
        /// The id.
        id: u64,
    },
    /// The JSON journal to import could not be read or fails its own checks.
    #[error("import: {0}")]
    Import(#[from] crate::journal::FileJournalError),
    /// The store holds no deny list to apply a delta to (save a full list first).
    #[error("the store holds no deny list (save a full list before applying a delta)")]
    NoDenyList,
    /// The deny-list delta does not apply to the store's list (version, salt, or a key added
    /// twice or removed when absent); nothing was changed.
    #[error("deny-list delta refused")]
    DenyDelta(#[source] quickpass_kernel::deny_list::DeltaError),
    /// An earlier read (through the purse journal's infallible
    /// [`records`](quickpass_kernel::purse::Journal::records)) failed; the store refuses every
    /// change until reopened, so no card is charged on a store whose answers are incomplete.
    #[error("store unusable after an earlier failure: {0}")]
    Unusable(String),
}

/// What is wrong with a row (see [`StoreError::Integrity`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityProblem {
    /// The row's SHA-256 does not match its fields.
    #[error("checksum mismatch (edited or damaged)")]
    Checksum,
    /// A field does not decode (unknown kind or state, bad JSON, wrong length).
    #[error("field {0} does not decode")]
    Field(&'static str),
    /// The id is outside what the store can have issued.
    #[error("id out of range")]
    Id,
}

impl StoreError {
    /// The row-level integrity error for `table`/`id`.
    pub(super) fn integrity(table: &'static str, id: i64, problem: IntegrityProblem) -> Self {
        StoreError::Integrity { table, id, problem }
    }
}

/// Maps an error during an operation after open.
pub(super) fn db(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Database { op, source }
}
