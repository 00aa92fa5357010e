//! The records on their way to the back office: purse settlement records, clearing records and
//! deferred authorisations, exported in batches (JSON lines), acknowledged, decided and pruned.
//!
//! Delivery is **at least once**: a batch exported but never acknowledged (the upload failed, or
//! its answer was lost) is exported again — its records, under a new batch id — by the next
//! [`Store::export_batch`]. Record ids are stable, so the back office deduplicates by id;
//! acknowledging either batch acknowledges the records.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::error::{db, IntegrityProblem, StoreError};
use super::row::{
    card_key_from_column, record_digest, CardKey, Created, Decision, RecordFields, RecordKind,
    RecordState,
};
use super::{sql_id, Store};

/// The columns every record query reads, in [`RawRow`] order.
pub(super) const COLUMNS: &str = "id, kind, state, batch, created, card_key, payload, sha256";

/// A `records` row as SQLite holds it, before any check.
pub(super) struct RawRow {
    id: i64,
    kind: Value,
    state: Value,
    batch: Value,
    created: Value,
    card_key: Value,
    payload: Value,
    sha256: Value,
}

impl RawRow {
    /// Reads the [`COLUMNS`] of a result row.
    pub(super) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            id: r.get(0)?,
            kind: r.get(1)?,
            state: r.get(2)?,
            batch: r.get(3)?,
            created: r.get(4)?,
            card_key: r.get(5)?,
            payload: r.get(6)?,
            sha256: r.get(7)?,
        })
    }
}

/// A `records` row that passed its checks.
pub(super) struct Row {
    pub id: i64,
    pub kind: RecordKind,
    pub state: RecordState,
    pub batch: Option<i64>,
    pub created: String,
    pub card_key: Option<CardKey>,
    pub payload: String,
}

impl Row {
    fn fields(&self) -> RecordFields<'_> {
        RecordFields {
            id: self.id,
            kind: self.kind.as_str(),
            state: self.state.as_str(),
            batch: self.batch,
            created: &self.created,
            card_key: self.card_key.as_ref().map(|k| &k.as_bytes()[..]),
            payload: &self.payload,
        }
    }

    /// The row as the caller sees it.
    fn stored(self) -> Result<StoredRecord, StoreError> {
        let bad = |what| StoreError::integrity("records", self.id, IntegrityProblem::Field(what));
        let payload = serde_json::from_str(&self.payload).map_err(|_| bad("payload"))?;
        Ok(StoredRecord {
            id: u64::try_from(self.id).map_err(|_| bad("id"))?,
            kind: self.kind,
            state: self.state,
            batch: self
                .batch
                .map(u64::try_from)
                .transpose()
                .map_err(|_| bad("batch"))?,
            created: Created::stored(self.created),
            card_key: self.card_key,
            payload,
        })
    }
}

/// A text column's value, or the integrity error naming it.
fn text(value: Value, id: i64, name: &'static str) -> Result<String, StoreError> {
    match value {
        Value::Text(t) => Ok(t),
        _ => Err(StoreError::integrity(
            "records",
            id,
            IntegrityProblem::Field(name),
        )),
    }
}

/// Checks a row: its digest over the stored fields first, then that each decodes.
pub(super) fn check(raw: RawRow) -> Result<Row, StoreError> {
    let id = raw.id;
    let field = |name| StoreError::integrity("records", id, IntegrityProblem::Field(name));
    let kind = text(raw.kind, id, "kind")?;
    let state = text(raw.state, id, "state")?;
    let created = text(raw.created, id, "created")?;
    let payload = text(raw.payload, id, "payload")?;
    let batch = match raw.batch {
        Value::Null => None,
        Value::Integer(b) => Some(b),
        _ => return Err(field("batch")),
    };
    let card_key = match raw.card_key {
        Value::Null => None,
        Value::Blob(b) => card_key_from_column("records", id, Some(b))?,
        _ => return Err(field("card_key")),
    };
    let Value::Blob(sha256) = raw.sha256 else {
        return Err(field("sha256"));
    };
    let expected = record_digest(&RecordFields {
        id,
        kind: &kind,
        state: &state,
        batch,
        created: &created,
        card_key: card_key.as_ref().map(|k| &k.as_bytes()[..]),
        payload: &payload,
    });
    if sha256 != expected {
        return Err(StoreError::integrity(
            "records",
            id,
            IntegrityProblem::Checksum,
        ));
    }
    if id <= 0 {
        return Err(StoreError::integrity("records", id, IntegrityProblem::Id));
    }
    Ok(Row {
        id,
        kind: RecordKind::parse(&kind).ok_or(field("kind"))?,
        state: RecordState::parse(&state).ok_or(field("state"))?,
        batch,
        created,
        card_key,
        payload,
    })
}

/// Checks every record row (at open); returns the largest id.
pub(super) fn check_all(conn: &Connection) -> Result<Option<u64>, StoreError> {
    let op = "check records";
    let mut statement = conn
        .prepare(&format!("SELECT {COLUMNS} FROM records"))
        .map_err(db(op))?;
    let mut rows = statement.query([]).map_err(db(op))?;
    let mut newest = None;
    while let Some(r) = rows.next().map_err(db(op))? {
        let row = check(RawRow::read(r).map_err(db(op))?)?;
        newest = newest.max(u64::try_from(row.id).ok());
    }
    Ok(newest)
}

/// The undelivered (unsent or sent) records, of `kind` or every kind, oldest first, at most
/// `limit`, each checked.
pub(super) fn undelivered(
    conn: &Connection,
    kind: Option<RecordKind>,
    limit: Option<usize>,
) -> Result<Vec<Row>, StoreError> {
    let op = "read undelivered records";
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE state IN ('unsent', 'sent') \
             AND (?1 IS NULL OR kind = ?1) ORDER BY id LIMIT ?2"
        ))
        .map_err(db(op))?;
    let rows = statement
        .query_map(params![kind.map(RecordKind::as_str), limit], RawRow::read)
        .map_err(db(op))?;
    rows.map(|r| check(r.map_err(db(op))?)).collect()
}

/// Inserts a new record row.
pub(super) fn insert(
    tx: &Transaction<'_>,
    id: i64,
    kind: RecordKind,
    created: &str,
    card_key: Option<CardKey>,
    payload: &str,
) -> Result<(), StoreError> {
    let state = RecordState::Unsent;
    let sha256 = record_digest(&RecordFields {
        id,
        kind: kind.as_str(),
        state: state.as_str(),
        batch: None,
        created,
        card_key: card_key.as_ref().map(|k| &k.as_bytes()[..]),
        payload,
    });
    tx.prepare_cached(
        "INSERT INTO records (id, kind, state, batch, created, card_key, payload, sha256) \
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            kind.as_str(),
            state.as_str(),
            created,
            card_key.as_ref().map(|k| &k.as_bytes()[..]),
            payload,
            &sha256[..]
        ])
    })
    .map_err(db("insert record"))?;
    Ok(())
}

/// Moves a checked row to `state` in `batch`, with its new digest.
fn set_state(
    tx: &Transaction<'_>,
    row: &mut Row,
    state: RecordState,
    batch: Option<i64>,
) -> Result<(), StoreError> {
    row.state = state;
    row.batch = batch;
    let sha256 = record_digest(&row.fields());
    tx.prepare_cached("UPDATE records SET state = ?1, batch = ?2, sha256 = ?3 WHERE id = ?4")
        .and_then(|mut s| s.execute(params![state.as_str(), batch, &sha256[..], row.id]))
        .map_err(db("update record"))?;
    Ok(())
}

/// Starts a batch (`purpose`: `export` or `taken`) holding `rows`, moving each to `state`.
pub(super) fn batch(
    tx: &Transaction<'_>,
    purpose: &str,
    rows: &mut [Row],
    state: RecordState,
) -> Result<i64, StoreError> {
    let op = "write batch";
    tx.execute("INSERT INTO batches (purpose) VALUES (?1)", [purpose])
        .map_err(db(op))?;
    let id = tx.last_insert_rowid();
    for row in rows.iter_mut() {
        set_state(tx, row, state, Some(id))?;
        tx.prepare_cached("INSERT INTO batch_records (batch, record) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute([id, row.id]))
            .map_err(db(op))?;
    }
    Ok(id)
}

/// One record as the store holds it (`Debug` shows no payload: it may hold card data).
#[derive(Clone, PartialEq)]
pub struct StoredRecord {
    /// The record's id (unique in the store, never reused; the back office deduplicates by it).
    pub id: u64,
    /// Its kind.
    pub kind: RecordKind,
    /// Its state.
    pub state: RecordState,
    /// The last batch it was exported (or handed over) in.
    pub batch: Option<u64>,
    /// The caller's date-time.
    pub created: Created,
    /// The card key the caller gave.
    pub card_key: Option<CardKey>,
    /// The caller's payload.
    pub payload: serde_json::Value,
}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("batch", &self.batch)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// An exported batch: its id (to [`acknowledge`](Store::acknowledge)) and its records, oldest
/// first, now `sent`.
#[derive(Clone, PartialEq)]
pub struct Batch {
    /// The batch id (never reused).
    pub id: u64,
    /// Its records.
    pub records: Vec<StoredRecord>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("id", &self.id)
            .field("records", &self.records.len())
            .finish()
    }
}

impl Batch {
    /// Writes the batch as JSON lines, one object per record:
    /// `{"id":…,"batch":…,"kind":"…","created":"…","payload":{…}}`. The payload is the caller's
    /// record as it was given (card data included: the upload channel must protect it).
    pub fn write_json_lines(&self, mut writer: impl Write) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            id: u64,
            batch: u64,
            kind: &'static str,
            created: &'a str,
            payload: &'a serde_json::Value,
        }
        for record in &self.records {
            serde_json::to_writer(
                &mut writer,
                &Line {
                    id: record.id,
                    batch: self.id,
                    kind: record.kind.as_str(),
                    created: record.created.as_str(),
                    payload: &record.payload,
                },
            )?;
            writer.write_all(b"\n")?;
        }
        writer.flush()
    }
}

/// Why a result of [`Store::apply_results`] was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// No record has this id (never written, or pruned).
    Unknown,
    /// The record is not a deferred authorisation.
    NotDeferred,
    /// The record was never exported: the acquirer cannot have decided it.
    NotSent,
}

/// A declined deferred authorisation, for the caller's deny list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclinedRecord {
    /// The record.
    pub id: u64,
    /// The card key the record was written with.
    pub card_key: Option<CardKey>,
    /// The record's date-time.
    pub created: Created,
}

/// What [`Store::apply_results`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Records now approved.
    pub approved: Vec<u64>,
    /// Records now declined, with their card keys.
    pub declined: Vec<DeclinedRecord>,
    /// Records already decided by an earlier result (the first decision stands).
    pub already_decided: Vec<u64>,
    /// Results not applied, and why.
    pub ignored: Vec<(u64, Ignored)>,
}

/// How many records of each kind are in each state, and the pending journal entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Pending purse journal entries.
    pub pending: usize,
    by: BTreeMap<(RecordKind, RecordState), u64>,
}

impl Counts {
    /// Records of `kind` in `state`.
    pub fn get(&self, kind: RecordKind, state: RecordState) -> u64 {
        self.by.get(&(kind, state)).copied().unwrap_or(0)
    }

    /// Every (kind, state, count) with a count above zero.
    pub fn iter(&self) -> impl Iterator<Item = (RecordKind, RecordState, u64)> + '_ {
        self.by.iter().map(|(&(k, s), &n)| (k, s, n))
    }

    /// All records.
    pub fn total(&self) -> u64 {
        self.by.values().sum()
    }
}

/// [`Store::apply_results`] inside the caller's transaction `tx`.
pub(super) fn apply_results_in(
    tx: &rusqlite::Transaction<'_>,
    results: &[(u64, Decision)],
) -> Result<Applied, StoreError> {
    let op = "apply results";
    let mut applied = Applied::default();
    for &(id, decision) in results {
        let raw = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM records WHERE id = ?1"))
            .and_then(|mut s| s.query_row([sql_id(id)], RawRow::read).optional())
            .map_err(db(op))?;
        let Some(raw) = raw else {
            applied.ignored.push((id, Ignored::Unknown));
            continue;
        };
        let mut row = check(raw)?;
        if !row.kind.is_deferred() {
            applied.ignored.push((id, Ignored::NotDeferred));
            continue;
        }
        match row.state {
            RecordState::Unsent => applied.ignored.push((id, Ignored::NotSent)),
            RecordState::Approved | RecordState::Declined => applied.already_decided.push(id),
            RecordState::Sent | RecordState::Acknowledged => {
                let batch = row.batch;
                match decision {
                    Decision::Approved => {
                        set_state(tx, &mut row, RecordState::Approved, batch)?;
                        applied.approved.push(id);
                    }
                    Decision::Declined => {
                        set_state(tx, &mut row, RecordState::Declined, batch)?;
                        applied.declined.push(DeclinedRecord {
                            id,
                            card_key: row.card_key,
                            created: Created::stored(row.created.clone()),
                        });
                    }
                }
            }
        }
    }
    Ok(applied)
}

fn to_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

impl Store {
    /// Adds a record of `kind` (not [`RecordKind::PurseSettlement`], which the purse journal
    /// writes) with the caller's date-time, optional card key and payload (any serde value:
    /// stored as JSON), `unsent`, in one transaction; returns its id.
    pub fn add_record<T: Serialize + ?Sized>(
        &mut self,
        kind: RecordKind,
        created: &Created,
        card_key: Option<CardKey>,
        payload: &T,
    ) -> Result<u64, StoreError> {
        self.usable()?;
        if kind == RecordKind::PurseSettlement {
            return Err(StoreError::ReservedKind);
        }
        let payload = serde_json::to_value(payload)
            .map_err(|source| StoreError::Serialise {
                what: "record payload",
                source,
            })?
            .to_string();
        let id = self.next_id;
        let tx = self.conn.transaction().map_err(db("add record"))?;
        insert(&tx, sql_id(id), kind, created.as_str(), card_key, &payload)?;
        tx.commit().map_err(db("add record"))?;
        self.issued(id);
        Ok(id)
    }

    /// The record `id`, checked.
    pub fn record(&self, id: u64) -> Result<Option<StoredRecord>, StoreError> {
        let op = "read record";
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM records WHERE id = ?1"))
            .and_then(|mut s| s.query_row([sql_id(id)], RawRow::read).optional())
            .map_err(db(op))?;
        raw.map(|raw| check(raw)?.stored()).transpose()
    }

    /// Exports up to `limit` undelivered records (of `kind`, or of every kind), oldest first,
    /// as a new batch: in one transaction they become `sent` in it. Records of an earlier batch
    /// never acknowledged are undelivered and exported again (at-least-once; see the
    /// [store docs](crate::store)). `None` when there is nothing to export.
    pub fn export_batch(
        &mut self,
        kind: Option<RecordKind>,
        limit: usize,
    ) -> Result<Option<Batch>, StoreError> {
        self.usable()?;
        if limit == 0 {
            return Ok(None);
        }
        let tx = self.conn.transaction().map_err(db("export batch"))?;
        let mut rows = undelivered(&tx, kind, Some(limit))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let id = batch(&tx, "export", &mut rows, RecordState::Sent)?;
        let records = rows
            .into_iter()
            .map(Row::stored)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(db("export batch"))?;
        Ok(Some(Batch {
            id: to_u64(id),
            records,
        }))
    }

    /// The back office received batch `batch`: its records still `sent` become `acknowledged`
    /// (one transaction); returns how many. Acknowledging again changes nothing.
    pub fn acknowledge(&mut self, batch: u64) -> Result<usize, StoreError> {
        self.usable()?;
        let op = "acknowledge batch";
        let tx = self.conn.transaction().map_err(db(op))?;
        let known = tx
            .query_row(
                "SELECT 1 FROM batches WHERE id = ?1",
                [sql_id(batch)],
                |_| Ok(()),
            )
            .optional()
            .map_err(db(op))?;
        if known.is_none() {
            return Err(StoreError::UnknownBatch(batch));
        }
        let mut rows = {
            let mut statement = tx
                .prepare_cached(&format!(
                    "SELECT {} FROM batch_records m JOIN records r ON r.id = m.record \
                     WHERE m.batch = ?1 AND r.state = 'sent' ORDER BY r.id",
                    COLUMNS
                        .split(", ")
                        .map(|c| format!("r.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .map_err(db(op))?;
            let raw = statement
                .query_map([sql_id(batch)], RawRow::read)
                .map_err(db(op))?;
            raw.map(|r| check(r.map_err(db(op))?))
                .collect::<Result<Vec<_>, _>>()?
        };
        for row in &mut rows {
            let batch = row.batch;
            set_state(&tx, row, RecordState::Acknowledged, batch)?;
        }
        tx.commit().map_err(db(op))?;
        Ok(rows.len())
    }

    /// Applies the acquirer's decisions on deferred authorisations (one transaction):
    /// approved → done; declined → done, and returned with its card key so the caller puts the
    /// card on its deny list. A record must have been exported; the first decision on a record
    /// stands.
    pub fn apply_results(&mut self, results: &[(u64, Decision)]) -> Result<Applied, StoreError> {
        self.usable()?;
        let op = "apply results";
        let tx = self.conn.transaction().map_err(db(op))?;
        let applied = apply_results_in(&tx, results)?;
        tx.commit().map_err(db(op))?;
        Ok(applied)
    }

    /// Deletes the records that are done with (acknowledged; for deferred authorisations,
    /// approved or declined) and dated before `before` (the retention period is the caller's:
    /// pass today's date-time minus it), each checked first, in one transaction; returns how
    /// many. Their ids are never issued again.
    pub fn prune_acknowledged(&mut self, before: &Created) -> Result<usize, StoreError> {
        self.usable()?;
        let op = "prune records";
        let tx = self.conn.transaction().map_err(db(op))?;
        let rows = {
            let mut statement = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM records WHERE created < ?1 \
                     AND state IN ('acknowledged', 'approved', 'declined') ORDER BY id"
                ))
                .map_err(db(op))?;
            let raw = statement
                .query_map([before.as_str()], RawRow::read)
                .map_err(db(op))?;
            raw.map(|r| check(r.map_err(db(op))?))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut pruned = 0;
        for row in rows.iter().filter(|r| r.state.is_final(r.kind)) {
            tx.prepare_cached("DELETE FROM records WHERE id = ?1")
                .and_then(|mut s| s.execute([row.id]))
                .map_err(db(op))?;
            pruned += 1;
        }
        if pruned > 0 {
            tx.execute_batch(
                "DELETE FROM batch_records WHERE record NOT IN (SELECT id FROM records);
                 DELETE FROM batches WHERE id NOT IN (SELECT batch FROM batch_records);",
            )
            .map_err(db(op))?;
            tx.execute(
                "UPDATE meta SET value = max(value, ?1) WHERE key = 'id_floor'",
                [sql_id(self.next_id.saturating_sub(1))],
            )
            .map_err(db(op))?;
        }
        tx.commit().map_err(db(op))?;
        Ok(pruned)
    }

    /// Records per kind and state, and the pending journal entries.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let op = "count records";
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT kind, state, count(*), min(id) FROM records GROUP BY kind, state",
            )
            .map_err(db(op))?;
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, Value>(0)?,
                    r.get::<_, Value>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(db(op))?;
        let mut counts = Counts {
            pending: self.pending.len(),
            by: BTreeMap::new(),
        };
        for row in rows {
            let (kind, state, n, id) = row.map_err(db(op))?;
            let kind = text(kind, id, "kind")?;
            let state = text(state, id, "state")?;
            let field = |name| StoreError::integrity("records", id, IntegrityProblem::Field(name));
            let kind = RecordKind::parse(&kind).ok_or(field("kind"))?;
            let state = RecordState::parse(&state).ok_or(field("state"))?;
            counts.by.insert((kind, state), to_u64(n));
        }
        Ok(counts)
    }
}
