//! The purse journal in the store — the kernel's [`Journal`] — and the import of a JSON journal
//! file (`quickpass-journal/2` or `/1`).
//!
//! A pending entry is a `pending` row; [`Journal::complete`] deletes it and writes its
//! settlement record as a `records` row of kind `purse_settlement` (state `unsent`) under the
//! same id, in one transaction. [`Journal::records`] are the purse settlement records not yet
//! delivered (unsent, or sent in a batch not yet acknowledged); [`Journal::take_records`] hands
//! them over and marks them acknowledged in a batch of their own (a terminal that uploads
//! through [`Store::export_batch`] does not call it).

use std::path::Path;

use quickpass_kernel::purse::{Journal, JournalEntry, Pending, SettlementRecord};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::error::{db, IntegrityProblem, StoreError};
use super::row::{import_digest, pending_digest, Created, RecordKind, RecordState};
use super::{queue, sql_id, Store};

/// Reads and checks every pending row, oldest first.
pub(super) fn read_pending(conn: &Connection) -> Result<Vec<Pending>, StoreError> {
    let op = "read pending entries";
    let mut statement = conn
        .prepare("SELECT id, created, entry, sha256 FROM pending ORDER BY id")
        .map_err(db(op))?;
    let rows = statement
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Value>(1)?,
                r.get::<_, Value>(2)?,
                r.get::<_, Value>(3)?,
            ))
        })
        .map_err(db(op))?;
    let mut pending = Vec::new();
    for row in rows {
        let (id, created, entry, sha256) = row.map_err(db(op))?;
        let bad = |problem| StoreError::integrity("pending", id, problem);
        let (Value::Text(created), Value::Text(entry), Value::Blob(sha256)) =
            (created, entry, sha256)
        else {
            return Err(bad(IntegrityProblem::Field("entry")));
        };
        if sha256 != pending_digest(id, &created, &entry) {
            return Err(bad(IntegrityProblem::Checksum));
        }
        let entry: JournalEntry =
            serde_json::from_str(&entry).map_err(|_| bad(IntegrityProblem::Field("entry")))?;
        let id = u64::try_from(id)
            .ok()
            .filter(|&id| id > 0)
            .ok_or(bad(IntegrityProblem::Id))?;
        pending.push(Pending { id, entry });
    }
    Ok(pending)
}

/// A purse settlement row's record, checked against the row's id.
fn settlement(row: &queue::Row) -> Result<SettlementRecord, StoreError> {
    let bad = |problem| StoreError::integrity("records", row.id, problem);
    let record: SettlementRecord =
        serde_json::from_str(&row.payload).map_err(|_| bad(IntegrityProblem::Field("payload")))?;
    if sql_id(record.id) != row.id {
        return Err(bad(IntegrityProblem::Id));
    }
    Ok(record)
}

fn serialise(what: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |source| StoreError::Serialise { what, source }
}

/// What [`Store::import_json_journal`] brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Pending entries added.
    pub pending: usize,
    /// Settlement records added.
    pub records: usize,
    /// Entries and records already imported earlier (skipped).
    pub already: usize,
}

impl Store {
    /// The purse settlement records not yet delivered, oldest first, each checked (the
    /// fallible form of [`Journal::records`]).
    pub fn settlement_records(&self) -> Result<Vec<SettlementRecord>, StoreError> {
        queue::undelivered(&self.conn, Some(RecordKind::PurseSettlement), None)?
            .iter()
            .map(settlement)
            .collect()
    }

    /// Imports a JSON journal file (`quickpass-journal/2`, or `/1`, checked as
    /// [`FileJournal::open`](crate::journal::FileJournal::open) checks it, but only read):
    /// its pending entries and settlement records keep their ids; the store's next id moves
    /// past the file's. One transaction. Importing the same file again adds nothing (each id
    /// is remembered with a digest of what it brought); an id the store already uses for
    /// something else is [`StoreError::ImportConflict`] and nothing is imported — import into a
    /// new store, before its first tap.
    pub fn import_json_journal(&mut self, path: impl AsRef<Path>) -> Result<Imported, StoreError> {
        self.usable()?;
        let (state, next_id) = crate::journal::read(path.as_ref())?;
        let op = "import journal";
        let tx = self.conn.transaction().map_err(db(op))?;
        let mut imported = Imported::default();
        let mut new_pending = Vec::new();
        for pending in state.pending() {
            let id = sql_id(pending.id);
            let entry =
                serde_json::to_string(&pending.entry).map_err(serialise("journal entry"))?;
            if !claim(&tx, "pending", pending.id, &entry)? {
                imported.already += 1;
                continue;
            }
            let created = Created::from_bcd(pending.entry.date, pending.entry.time);
            insert_pending(&tx, id, created.as_str(), &entry)?;
            imported.pending += 1;
            new_pending.push(pending);
        }
        for record in state.records() {
            let payload = serde_json::to_string(&record).map_err(serialise("settlement record"))?;
            if !claim(&tx, "record", record.id, &payload)? {
                imported.already += 1;
                continue;
            }
            let created = Created::from_bcd(record.date, record.time);
            queue::insert(
                &tx,
                sql_id(record.id),
                RecordKind::PurseSettlement,
                created.as_str(),
                None,
                &payload,
            )?;
            imported.records += 1;
        }
        let floor = next_id.saturating_sub(1);
        tx.execute(
            "UPDATE meta SET value = max(value, ?1) WHERE key = 'id_floor'",
            [sql_id(floor)],
        )
        .map_err(db(op))?;
        tx.commit().map_err(db(op))?;
        self.issued(floor);
        self.pending.extend(new_pending);
        self.pending.sort_by_key(|p| p.id);
        Ok(imported)
    }
}

/// Remembers that an import brought `json` under `id`: `false` when the same was imported
/// before, an error when the id is used by anything else.
fn claim(tx: &Transaction<'_>, what: &str, id: u64, json: &str) -> Result<bool, StoreError> {
    let op = "import journal";
    let id_sql = sql_id(id);
    let digest = import_digest(what, id_sql, json);
    let before: Option<Vec<u8>> = tx
        .query_row("SELECT sha256 FROM imported WHERE id = ?1", [id_sql], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db(op))?;
    match before {
        Some(d) if d == digest => return Ok(false),
        Some(_) => return Err(StoreError::ImportConflict { id }),
        None => {}
    }
    let used: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM pending WHERE id = ?1 UNION ALL SELECT 1 FROM records WHERE id = ?1",
            [id_sql],
            |r| r.get(0),
        )
        .optional()
        .map_err(db(op))?;
    if used.is_some() || id == 0 {
        return Err(StoreError::ImportConflict { id });
    }
    tx.execute(
        "INSERT INTO imported (id, sha256) VALUES (?1, ?2)",
        params![id_sql, &digest[..]],
    )
    .map_err(db(op))?;
    Ok(true)
}

fn insert_pending(
    tx: &Transaction<'_>,
    id: i64,
    created: &str,
    entry: &str,
) -> Result<(), StoreError> {
    let sha256 = pending_digest(id, created, entry);
    tx.prepare_cached("INSERT INTO pending (id, created, entry, sha256) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![id, created, entry, &sha256[..]]))
        .map_err(db("begin journal entry"))?;
    Ok(())
}

impl Journal for Store {
    type Error = StoreError;

    /// Writes the entry as a `pending` row and commits (the log synced: `synchronous = FULL`)
    /// before returning its id.
    fn begin(&mut self, entry: &JournalEntry) -> Result<u64, StoreError> {
        self.usable()?;
        let id = self.next_id;
        let created = Created::from_bcd(entry.date, entry.time);
        let text = serde_json::to_string(entry).map_err(serialise("journal entry"))?;
        let tx = self.conn.transaction().map_err(db("begin journal entry"))?;
        insert_pending(&tx, sql_id(id), created.as_str(), &text)?;
        tx.commit().map_err(db("begin journal entry"))?;
        self.issued(id);
        self.pending.push(Pending {
            id,
            entry: entry.clone(),
        });
        Ok(id)
    }

    /// Deletes the pending row and writes the settlement record (`purse_settlement`, `unsent`)
    /// under the same id, in one transaction.
    fn complete(&mut self, record: &SettlementRecord) -> Result<(), StoreError> {
        self.usable()?;
        let Some(index) = self.pending.iter().position(|p| p.id == record.id) else {
            return Err(StoreError::UnknownEntry(record.id));
        };
        let op = "complete journal entry";
        let id = sql_id(record.id);
        let payload = serde_json::to_string(record).map_err(serialise("settlement record"))?;
        let created = Created::from_bcd(record.date, record.time);
        let tx = self.conn.transaction().map_err(db(op))?;
        let deleted = tx
            .prepare_cached("DELETE FROM pending WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db(op))?;
        if deleted != 1 {
            return Err(StoreError::UnknownEntry(record.id));
        }
        queue::insert(
            &tx,
            id,
            RecordKind::PurseSettlement,
            created.as_str(),
            None,
            &payload,
        )?;
        tx.commit().map_err(db(op))?;
        self.pending.remove(index);
        Ok(())
    }

    /// Deletes the pending row.
    fn void(&mut self, id: u64) -> Result<(), StoreError> {
        self.usable()?;
        let Some(index) = self.pending.iter().position(|p| p.id == id) else {
            return Err(StoreError::UnknownEntry(id));
        };
        let op = "void journal entry";
        let tx = self.conn.transaction().map_err(db(op))?;
        let deleted = tx
            .prepare_cached("DELETE FROM pending WHERE id = ?1")
            .and_then(|mut s| s.execute([sql_id(id)]))
            .map_err(db(op))?;
        if deleted != 1 {
            return Err(StoreError::UnknownEntry(id));
        }
        tx.commit().map_err(db(op))?;
        self.pending.remove(index);
        Ok(())
    }

    /// From memory (read and checked at open, kept in step with every commit).
    fn pending(&self) -> Vec<Pending> {
        self.pending.clone()
    }

    /// [`Store::settlement_records`]; when that fails (a damaged row, an I/O error) this
    /// returns nothing and the store refuses every later change ([`StoreError::Unusable`]).
    fn records(&self) -> Vec<SettlementRecord> {
        self.settlement_records().unwrap_or_else(|e| {
            self.fail(&e);
            Vec::new()
        })
    }

    /// Hands the undelivered purse settlement records over: acknowledged, in a batch of their
    /// own, in one transaction.
    fn take_records(&mut self) -> Result<Vec<SettlementRecord>, StoreError> {
        self.usable()?;
        let op = "take records";
        let tx = self.conn.transaction().map_err(db(op))?;
        let mut rows = queue::undelivered(&tx, Some(RecordKind::PurseSettlement), None)?;
        let records = rows.iter().map(settlement).collect::<Result<Vec<_>, _>>()?;
        if !rows.is_empty() {
            queue::batch(&tx, "taken", &mut rows, RecordState::Acknowledged)?;
        }
        tx.commit().map_err(db(op))?;
        Ok(records)
    }

    /// The newest id the store issued (ids are shared with the other kinds of record: an id
    /// newer than the purse's last entry only makes recovery rely on the card's EF18).
    fn newest_id(&self) -> Option<u64> {
        self.next_id.checked_sub(1).filter(|&id| id > 0)
    }
}
