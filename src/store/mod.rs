//! The terminal's store: an embedded SQLite database (through `rusqlite`, SQLite compiled in —
//! nothing to install) holding the purse journal, the records on their way to the back office,
//! the deferred authorisation queue and the deny list ([`Store::deny_list`],
//! [`Store::save_deny_list`], [`Store::apply_deny_delta`]).
//!
//! ```text
//!  purse flows ──Journal::begin──▶ pending ──complete──▶ records: purse_settlement ─┐
//!  clearing and transit callers ──add_record──▶ records: contactless, contact,     ├─┐
//!                                                        transit_deferred ─────────┘ │
//!  ┌─────────────────────────────────────────────────────────────────────────────────┘
//!  ▼
//!  unsent ──export_batch──▶ sent ──acknowledge──▶ acknowledged ──prune_acknowledged──▶ deleted
//!                  ▲         │                          │
//!                  └─────────┘ next export, until       └─ transit_deferred: apply_results
//!                              acknowledged                ──▶ approved / declined ──▶ prune
//! ```
//!
//! # Durability
//!
//! - **One transaction per state change**: a journal entry begun, completed or voided, a record
//!   added, a batch exported or acknowledged, results applied, a prune — each commits on its
//!   own or not at all.
//! - **WAL with `synchronous = FULL`.** In WAL mode `NORMAL` does not sync the log on commit
//!   (only at checkpoints): the database stays consistent after a power cut but the last
//!   commits can be lost. That is not good enough here: [`Journal::begin`] must return only
//!   once the entry is on disk, because DEBIT is sent right after it (and a deferred
//!   authorisation must be on disk before the gate opens). `FULL` syncs the log at every
//!   commit, so a commit that returned survives a power cut. Measured cost: see the README.
//! - **Small pages** (1 KiB): a tap changes a handful of rows, each commit appends whole pages
//!   to the log, and every synced commit dirties its disk blocks anew. Measured with
//!   `examples/store_bench.rs` (`write_bytes` per purchase tap, checkpoints included): 14.4 KB
//!   with 1 KiB pages, 18.2 KB with 2 KiB, 26.4 KB with SQLite's default 4 KiB.
//!
//! # One writer at a time
//!
//! The store is opened with `PRAGMA locking_mode = EXCLUSIVE` and written at once: the file
//! lock taken by that write is held until the [`Store`] is dropped, so a second process — or a
//! second `Store::open` in this one — is refused at open with [`StoreError::Locked`] (it does
//! not wait). Two validators can no longer write one journal from their own memory and lose
//! each other's records. (The write-ahead log then lives in the process's memory: no `-shm`
//! file.)
//!
//! # Refused at open, before any card is touched
//!
//! [`Store::open`] runs SQLite's `PRAGMA integrity_check` (pages, free list, every index
//! against its table), migrates the schema (see `schema`), then increments an `opens` counter
//! in its own transaction: a store that cannot be written (missing directory, read-only file or
//! directory, full disk) fails there, not on the first tap. It then reads every row and checks
//! it (below); a damaged store does not open. All of that takes about half a second with 10⁵
//! records (README, Performance): once per start-up.
//!
//! # Integrity
//!
//! Every row of `pending` and `records` carries a SHA-256 over the canonical serialisation of
//! the fields that matter (id, kind, state, batch, the caller's date-time, card key and the
//! payload's JSON text; see `row`). It is checked at open for every row and again whenever a row
//! is read; a mismatch is [`StoreError::Integrity`] naming the table and row id, and the row is
//! never used. The checksum catches corruption and edits with the SQLite shell; it does **not**
//! stop someone with write access who recomputes it (that would need an HMAC under a terminal
//! key, not done here), nor a deleted row. Ids are unique across pending entries and records by
//! schema and never reused (pruned ids stay below `id_floor`).
//!
//! # Terminal-private
//!
//! The file holds the full card identity of pending entries (needed to recognise the card on
//! its next tap) and whatever the callers put in their payloads: keep it terminal-private.
//! Errors and `Debug` output name files, tables and row ids only — never a payload.
//!
//! # The purse journal
//!
//! `Store` implements the kernel's [`Journal`]. A pending entry is a `pending` row;
//! [`Journal::complete`] deletes it and writes the settlement record as a `records` row of kind
//! [`RecordKind::PurseSettlement`] (state `unsent`) under the same id, in one transaction.
//! [`Journal::pending`] answers from memory (read and checked at open, kept in step with every
//! commit); [`Journal::records`] are the purse settlement records not yet delivered (unsent, or
//! sent in a batch not yet acknowledged), oldest (lowest id) first; [`Journal::take_records`]
//! hands them over and marks them acknowledged in a batch of their own (a terminal that uploads
//! through [`Store::export_batch`] does not call it). [`Journal::newest_id`] is the newest id
//! the store issued, so a tap costs the same with 10 or 10⁵ records. Should the infallible
//! `records` fail (a damaged row), it returns nothing and the store refuses every later change
//! ([`StoreError::Unusable`]): no card is charged on a store whose answers are incomplete.
//!
//! # Batches: at-least-once delivery
//!
//! [`Store::export_batch`] marks the records it returns `sent` in a new batch, in one
//! transaction; [`Batch::write_json_lines`] writes them for the upload. A batch exported but
//! never acknowledged (the upload failed, or its answer was lost) is exported again — its
//! records, under a new batch id — by the next export: delivery is **at least once**, and the
//! back office deduplicates by record id (ids are stable and never reused). Acknowledging
//! either batch acknowledges the records. Deferred authorisations
//! ([`RecordKind::TransitDeferred`]) then wait for [`Store::apply_results`]; declined ones come
//! back with their [`CardKey`] for the caller's deny list. [`Store::prune_acknowledged`]
//! deletes what is done with and older than the caller's retention cut.
//!
//! # The JSON file journal
//!
//! [`crate::journal::FileJournal`] rewrites its whole file on every change (measured in issue
//! 12: 41 ms per tap averaged over 5,000 taps, megabytes written per tap). It stays for tests
//! and PC tools that want a readable, diffable file, and as the format
//! [`Store::import_json_journal`] reads; a terminal uses this store.
//!
//! [`Journal`]: quickpass_kernel::purse::Journal
//! [`Journal::begin`]: quickpass_kernel::purse::Journal::begin
//! [`Journal::complete`]: quickpass_kernel::purse::Journal::complete
//! [`Journal::pending`]: quickpass_kernel::purse::Journal::pending
//! [`Journal::records`]: quickpass_kernel::purse::Journal::records
//! [`Journal::take_records`]: quickpass_kernel::purse::Journal::take_records
//! [`Journal::newest_id`]: quickpass_kernel::purse::Journal::newest_id

mod deny;
mod error;
mod journal;
mod queue;
mod row;
mod schema;

use std::cell::OnceCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use quickpass_kernel::purse::Pending;

pub use error::{IntegrityProblem, StoreError};
pub use journal::Imported;
pub use queue::{Applied, Batch, Counts, DeclinedRecord, Ignored, StoredRecord};
pub use row::{CardKey, Created, Decision, RecordKind, RecordState};

/// The database page size of a new store (see the [module docs](self)).
const PAGE_SIZE: u32 = 1024;

/// The terminal's store; see the [module docs](self).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The pending journal entries, oldest first: read and checked at open, kept in step with
    /// every committed change (the flows ask for them on every tap).
    pending: Vec<Pending>,
    /// The next id to issue (ids are never reused).
    next_id: u64,
    /// Set when an infallible read failed: every later change is refused.
    failure: OnceCell<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("pending", &self.pending.len())
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

/// Sorts an error met while opening into what it says about the store.
fn at_open(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        Some(ErrorCode::NotADatabase) => StoreError::NotAStore {
            path,
            detail: "not an SQLite database",
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: source.to_string(),
        },
        Some(ErrorCode::CannotOpen) => StoreError::Open { path, source },
        Some(
            ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::PermissionDenied
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unwritable { path, source },
        _ => StoreError::Open { path, source },
    }
}

/// A value as an SQLite integer (ids and counts stay far below 2⁶³).
fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens the store at `path`, creating it if the file does not exist; see the
    /// [module docs](self) for what is checked and written before this returns.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] (no such directory, empty path, a directory in the file's place),
    /// [`StoreError::Locked`] (another process or `Store` has it open),
    /// [`StoreError::Unwritable`] (read-only, full disk), [`StoreError::NotAStore`],
    /// [`StoreError::Corrupt`], [`StoreError::NewerSchema`], [`StoreError::Migration`],
    /// [`StoreError::Integrity`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(StoreError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::InvalidPath(path.to_owned()),
            });
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| at_open(path, e))?;
        Self::configure(&conn).map_err(|e| at_open(path, e))?;
        Self::migrate_and_mark_open(&mut conn, path, schema::MIGRATIONS)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            pending: Vec::new(),
            next_id: 1,
            failure: OnceCell::new(),
        };
        store.load()?;
        Ok(store)
    }

    /// The connection's settings: exclusive locking, then WAL, `synchronous = FULL`, no wait on
    /// a lock held elsewhere.
    fn configure(conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        // Only takes effect on a new, empty database (and must precede WAL).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // E.g. a read-only file: SQLite keeps the rollback journal it can read with.
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                Some(format!("journal mode {mode}, not wal")),
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "trusted_schema", false)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(())
    }

    /// The open's transaction: schema check and migrations, then the `opens` write.
    fn migrate_and_mark_open(
        conn: &mut Connection,
        path: &Path,
        migrations: &[schema::Migration],
    ) -> Result<(), StoreError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| at_open(path, e))?;
        // The structure first (pages, free list, every index against its table): the row
        // checksums cannot see a damaged index, which could hide a record from an export.
        let first: String = tx
            .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
            .map_err(|e| at_open(path, e))?;
        if first != "ok" {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                detail: first.chars().take(200).collect(),
            });
        }
        let version = match schema::found(&tx).map_err(|e| at_open(path, e))? {
            schema::Found::Foreign => {
                return Err(StoreError::NotAStore {
                    path: path.to_owned(),
                    detail: "another application's database",
                })
            }
            schema::Found::Version(v) if v > schema::CURRENT => {
                return Err(StoreError::NewerSchema {
                    path: path.to_owned(),
                    found: v,
                    supported: schema::CURRENT,
                })
            }
            schema::Found::Version(v) => v,
        };
        if version < schema::CURRENT {
            schema::migrate(&tx, migrations, version, schema::CURRENT).map_err(
                |(to, source)| match at_open(path, source) {
                    StoreError::Open { source, .. } => StoreError::Migration {
                        path: path.to_owned(),
                        to,
                        source,
                    },
                    other => other,
                },
            )?;
        }
        tx.execute("UPDATE meta SET value = value + 1 WHERE key = 'opens'", [])
            .map_err(|e| at_open(path, e))?;
        tx.commit().map_err(|e| at_open(path, e))
    }

    /// Reads and checks every row: the pending entries into memory, every record's digest, the
    /// next id.
    fn load(&mut self) -> Result<(), StoreError> {
        let floor: i64 = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'id_floor'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| at_open(&self.path, e))?
            .ok_or(StoreError::integrity(
                "meta",
                0,
                IntegrityProblem::Field("id_floor"),
            ))?;
        let floor = u64::try_from(floor)
            .map_err(|_| StoreError::integrity("meta", 0, IntegrityProblem::Id))?;
        self.pending = journal::read_pending(&self.conn).map_err(|e| self.reclassify(e))?;
        let newest_record = queue::check_all(&self.conn).map_err(|e| self.reclassify(e))?;
        let newest = self
            .pending
            .iter()
            .map(|p| p.id)
            .chain(newest_record)
            .fold(floor, u64::max);
        self.next_id = newest + 1;
        Ok(())
    }

    /// A database error met while loading is an open error (damage, I/O) rather than an
    /// operation's.
    fn reclassify(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database { source, .. } => at_open(&self.path, source),
            other => other,
        }
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a change once an infallible read has failed (see [`StoreError::Unusable`]).
    fn usable(&self) -> Result<(), StoreError> {
        match self.failure.get() {
            Some(why) => Err(StoreError::Unusable(why.clone())),
            None => Ok(()),
        }
    }

    /// Remembers the first failure of an infallible read.
    fn fail(&self, e: &StoreError) {
        let _ = self.failure.set(e.to_string());
    }

    /// Takes the next id (after the change using it commits).
    fn issued(&mut self, id: u64) {
        self.next_id = self.next_id.max(id + 1);
    }
}
