//! The schema, its version and the forward migrations.
//!
//! `schema_version` holds one row per version the store has been migrated to; the store's
//! version is the largest. A new store (an empty database) is version 0 and is migrated to
//! [`CURRENT`] at open; an older store is migrated step by step, each step and the version row
//! in the open's transaction, so a failed migration leaves the store at its old version. A
//! store with a newer version than [`CURRENT`] is refused (this build would misread it).
//! `PRAGMA application_id` marks the file as a quickpass store, so another application's
//! database is refused rather than migrated.

use rusqlite::{OptionalExtension, Transaction};

/// The schema version this build writes.
pub(super) const CURRENT: u32 = 2;

/// `PRAGMA application_id` of a quickpass store (`QPST`).
pub(super) const APPLICATION_ID: i32 = 0x5150_5354;

/// One forward migration: from version `to - 1` to `to`.
pub(super) struct Migration {
    /// The version it reaches.
    pub to: u32,
    /// The SQL it runs (a batch of statements).
    pub sql: &'static str,
}

/// The migrations of this build, in order.
pub(super) const MIGRATIONS: &[Migration] =
    &[Migration { to: 1, sql: V1 }, Migration { to: 2, sql: V2 }];

/// Version 1.
///
/// - `meta`: `id_floor` (ids at or below it were issued, even if their rows were pruned: ids
///   are never reused) and `opens` (incremented by every open — the write that proves the store
///   writable).
/// - `pending`: the purse journal's pending entries (`entry`: the kernel's `JournalEntry` as
///   JSON).
/// - `records`: every record on its way to the back office — purse settlement records, clearing
///   records, deferred authorisations — with its kind, state, last batch, the caller's
///   date-time, an optional card key and the payload as JSON.
/// - `batches` and `batch_records`: every export (or hand-over through `take_records`) and
///   the records it held, so acknowledging an older batch still reaches records re-exported
///   since.
/// - `imported`: ids brought in from a JSON journal and a digest of what they were, so a second
///   import of the same file adds nothing.
///
/// Ids are unique across `pending` and `records` by schema: each table's primary key, and a
/// trigger on each refusing an id the other table holds.
const V1: &str = "
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('id_floor', 0), ('opens', 0);
CREATE TABLE pending (
    id INTEGER PRIMARY KEY CHECK (id > 0),
    created TEXT NOT NULL,
    entry TEXT NOT NULL,
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32)
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY CHECK (id > 0),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    batch INTEGER,
    created TEXT NOT NULL,
    card_key BLOB CHECK (card_key IS NULL OR length(card_key) = 16),
    payload TEXT NOT NULL,
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32)
);
CREATE INDEX records_undelivered ON records (id) WHERE state IN ('unsent', 'sent');
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose TEXT NOT NULL
);
CREATE TABLE batch_records (
    batch INTEGER NOT NULL,
    record INTEGER NOT NULL,
    PRIMARY KEY (batch, record)
) WITHOUT ROWID;
CREATE TABLE imported (
    id INTEGER PRIMARY KEY,
    sha256 BLOB NOT NULL
);
CREATE TRIGGER pending_id_unused BEFORE INSERT ON pending
WHEN EXISTS (SELECT 1 FROM records WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'id already used by a record'); END;
CREATE TRIGGER records_id_unused BEFORE INSERT ON records
WHEN EXISTS (SELECT 1 FROM pending WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'id already used by a pending entry'); END;
";

/// Version 2: the deny list (see `deny`).
///
/// - `deny_meta`: one row (id 1): the list's version, salt, entry count and the SHA-256 over
///   salt, version, count and every key in order.
/// - `deny_keys`: one row per card key (16 bytes), the key the primary key, so a delta writes
///   only the keys it changes.
const V2: &str = "
CREATE TABLE deny_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 0),
    salt BLOB NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32)
);
CREATE TABLE deny_keys (
    key BLOB PRIMARY KEY CHECK (length(key) = 16)
) WITHOUT ROWID;
";

/// What the database holds, as far as the schema goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A quickpass store at this version (0: an empty database).
    Version(u32),
    /// Another application's database.
    Foreign,
}

/// The version of the database behind `tx`.
pub(super) fn found(tx: &Transaction<'_>) -> rusqlite::Result<Found> {
    let tables: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    let application_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if tables == 0 && application_id == 0 {
        return Ok(Found::Version(0));
    }
    if application_id != APPLICATION_ID {
        return Ok(Found::Foreign);
    }
    let has_versions: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_versions.is_none() {
        return Ok(Found::Foreign);
    }
    let version: Option<i64> =
        tx.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?;
    Ok(match version.map(u32::try_from) {
        Some(Ok(v)) => Found::Version(v),
        None => Found::Version(0),
        Some(Err(_)) => Found::Foreign,
    })
}

/// Runs `migrations` from version `from` up to `target` inside `tx`; returns the version
/// reached, or the version whose migration failed with its error (the caller rolls back).
pub(super) fn migrate(
    tx: &Transaction<'_>,
    migrations: &[Migration],
    from: u32,
    target: u32,
) -> Result<u32, (u32, rusqlite::Error)> {
    let mut version = from;
    for migration in migrations.iter().filter(|m| m.to > from && m.to <= target) {
        if migration.to != version + 1 {
            // A gap in the list: a programming error, reported as a failed migration.
            return Err((
                migration.to,
                rusqlite::Error::InvalidParameterName(format!(
                    "no migration from version {version}"
                )),
            ));
        }
        let step = || -> rusqlite::Result<()> {
            tx.execute_batch(migration.sql)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [migration.to],
            )?;
            Ok(())
        };
        step().map_err(|e| (migration.to, e))?;
        version = migration.to;
    }
    if version == 0 {
        return Ok(0);
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|e| (version, e))?;
    Ok(version)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A fake history: version 1 keeps amounts in yuan as text, version 2 moves them to fen.
    const FAKE: &[Migration] = &[
        Migration {
            to: 1,
            sql: "CREATE TABLE schema_version (version INTEGER PRIMARY KEY);
                  CREATE TABLE fares (id INTEGER PRIMARY KEY, yuan TEXT NOT NULL);",
        },
        Migration {
            to: 2,
            sql: "ALTER TABLE fares ADD COLUMN fen INTEGER;
                  UPDATE fares SET fen = CAST(round(CAST(yuan AS REAL) * 100) AS INTEGER);",
        },
    ];

    const BROKEN: &[Migration] = &[Migration {
        to: 3,
        sql: "UPDATE fares SET fen = fen * 2; SELECT no_such_function();",
    }];

    fn version(conn: &mut Connection) -> Found {
        let tx = conn.transaction().unwrap();
        found(&tx).unwrap()
    }

    #[test]
    fn migrations_run_forward_one_step_at_a_time_and_roll_back_on_failure() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&mut conn), Found::Version(0));
        // v0 -> v1 (a new database).
        let tx = conn.transaction().unwrap();
        assert_eq!(migrate(&tx, FAKE, 0, 1).unwrap(), 1);
        tx.execute("INSERT INTO fares (yuan) VALUES ('2.00'), ('1.50')", [])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(version(&mut conn), Found::Version(1));
        // v1 -> v2 keeps the data, transformed.
        let tx = conn.transaction().unwrap();
        assert_eq!(migrate(&tx, FAKE, 1, 2).unwrap(), 2);
        tx.commit().unwrap();
        assert_eq!(version(&mut conn), Found::Version(2));
        let fen: Vec<i64> = conn
            .prepare("SELECT fen FROM fares ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(fen, [200, 150]);
        // Nothing to do at the target.
        let tx = conn.transaction().unwrap();
        assert_eq!(migrate(&tx, FAKE, 2, 2).unwrap(), 2);
        drop(tx);
        // A failing step: reported with its version, and rolled back whole by the caller.
        let tx = conn.transaction().unwrap();
        let (to, _) = migrate(&tx, BROKEN, 2, 3).unwrap_err();
        assert_eq!(to, 3);
        drop(tx);
        assert_eq!(version(&mut conn), Found::Version(2));
        let fen: i64 = conn
            .query_row("SELECT fen FROM fares WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fen, 200, "the failed step's update was rolled back");
        // A gap in the list is refused.
        let tx = conn.transaction().unwrap();
        assert!(migrate(&tx, &FAKE[1..], 0, 2).is_err());
    }

    #[test]
    fn a_foreign_database_is_recognised() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x)").unwrap();
        assert_eq!(version(&mut conn), Found::Foreign);
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "application_id", 42).unwrap();
        assert_eq!(version(&mut conn), Found::Foreign);
    }
}
