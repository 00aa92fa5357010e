//! The terminal's store (`quickpass::store`, issue 12 Build 4): schema version and refusal of a
//! newer one, one writer at a time (in this process and across processes), refusal at open of a
//! store that cannot be written, row tamper detection, the purse journal across reopen, import
//! of a JSON journal, batches (export, acknowledge, re-export, prune) and deferred results.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use quickpass::journal::FileJournal;
use quickpass::kernel::purse::{
    CardIdentity, Journal, JournalEntry, RecordStatus, SettlementRecord, TransactionKind,
};
use quickpass::kernel::values::PurseAmount;
use quickpass::store::{
    CardKey, Created, Decision, Ignored, IntegrityProblem, RecordKind, RecordState, Store,
    StoreError,
};
use rusqlite::Connection;

// --- helpers -------------------------------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quickpass-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entry(amount: u32) -> JournalEntry {
    JournalEntry {
        kind: TransactionKind::PursePurchase,
        card: CardIdentity {
            serial: [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78],
            second_diversifier: None,
        },
        card_number: "3104************5678".into(),
        amount: PurseAmount::from_fen(amount),
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

fn record(id: u64, entry: &JournalEntry) -> SettlementRecord {
    SettlementRecord {
        id,
        status: RecordStatus::Paid,
        kind: entry.kind,
        transaction_type: [0x06],
        card_number: entry.card_number.clone(),
        amount: entry.amount,
        balance_before: entry.balance_before,
        balance_after: PurseAmount::from_fen(entry.balance_before.fen() - entry.amount.fen()),
        card_counter: entry.transaction_counter(),
        key_index: entry.key_index,
        key_version: entry.key_version,
        terminal_id: entry.terminal_id,
        terminal_serial: entry.terminal_serial,
        date: entry.date,
        time: entry.time,
        tac: Some([1, 2, 3, 4]),
        tac_verified: true,
        mac2_verified: true,
        trip: None,
        clearing: None,
    }
}

/// Begins and completes a purchase of `amount`; returns its id.
fn paid(store: &mut Store, amount: u32) -> u64 {
    let entry = entry(amount);
    let id = store.begin(&entry).unwrap();
    store.complete(&record(id, &entry)).unwrap();
    id
}

fn created(text: &str) -> Created {
    Created::parse(text).unwrap()
}

/// A store with: record 1 paid 200, pending 2 (300), record 3 paid 400, pending 4 (500).
fn small_store(path: &Path) {
    let mut store = Store::open(path).unwrap();
    paid(&mut store, 200);
    store.begin(&entry(300)).unwrap();
    paid(&mut store, 400);
    store.begin(&entry(500)).unwrap();
}

fn integrity(result: Result<Store, StoreError>) -> (&'static str, i64, IntegrityProblem) {
    match result {
        Err(StoreError::Integrity { table, id, problem }) => (table, id, problem),
        other => panic!("expected an integrity error, got {other:?}"),
    }
}

// --- schema --------------------------------------------------------------------------------

#[test]
fn a_new_store_is_version_2_and_a_newer_schema_is_refused() {
    let dir = temp_dir("schema");
    let path = dir.join("store.db");
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let (mode, opens): (String, i64) = (
        conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("SELECT value FROM meta WHERE key = 'opens'", [], |r| {
            r.get(0)
        })
        .unwrap(),
    );
    assert_eq!((mode.as_str(), opens), ("wal", 1));
    // Reopening migrates nothing and counts the open.
    drop(conn);
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let opens: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'opens'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(opens, 2);
    // Written by a newer build: refused, not misread.
    conn.execute("INSERT INTO schema_version (version) VALUES (3)", [])
        .unwrap();
    drop(conn);
    match Store::open(&path) {
        Err(StoreError::NewerSchema {
            found: 3,
            supported: 2,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_version_1_store_migrates_to_2_keeping_its_journal_and_records() {
    let dir = temp_dir("migrate-v1");
    let path = dir.join("store.db");
    let (paid_id, pending_amount) = {
        let mut store = Store::open(&path).unwrap();
        let paid_id = paid(&mut store, 150);
        store.begin(&entry(230)).unwrap();
        (paid_id, 230)
    };
    // Make it the store a version-1 build left: no deny-list tables, version 1.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE deny_meta; DROP TABLE deny_keys; DELETE FROM schema_version WHERE version = 2;",
    )
    .unwrap();
    drop(conn);
    let mut store = Store::open(&path).unwrap();
    assert!(store.deny_list().unwrap().is_none());
    let pending = store.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].entry.amount,
        PurseAmount::from_fen(pending_amount)
    );
    assert!(store.record(paid_id).unwrap().is_some());
    let salt = quickpass::kernel::deny_list::Salt::new(&[7; 16]).unwrap();
    let list = quickpass::kernel::deny_list::DenyList::new(salt, 1);
    store.save_deny_list(&list).unwrap();
    drop(store);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_is_not_a_store_is_refused_without_a_panic() {
    let dir = temp_dir("foreign");
    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 4096]).unwrap();
    assert!(
        matches!(Store::open(&garbage), Err(StoreError::NotAStore { .. })),
        "{:?}",
        Store::open(&garbage)
    );
    let foreign = dir.join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    assert!(matches!(
        Store::open(&foreign),
        Err(StoreError::NotAStore { .. })
    ));
    // A store truncated in the middle: damaged, refused.
    let path = dir.join("store.db");
    {
        let mut store = Store::open(&path).unwrap();
        for _ in 0..40 {
            paid(&mut store, 200);
        }
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for cut in [100, 1024 + 100, bytes.len() / 2] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let result = Store::open(&path);
        assert!(result.is_err(), "cut at {cut}: {result:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Damage anywhere in the file — single bytes flipped at 400 places spread over it — never
/// panics: the open is refused with a typed error, or (damage in unused space) the store opens
/// and every read answers or errs.
#[test]
fn a_damaged_file_never_panics() {
    let dir = temp_dir("damage");
    let clean = dir.join("clean.db");
    {
        let mut store = Store::open(&clean).unwrap();
        for i in 0..30 {
            paid(&mut store, 100 + i);
        }
        store.begin(&entry(7)).unwrap();
        store
            .add_record(
                RecordKind::TransitDeferred,
                &created("2024-05-17T09:00:00"),
                Some(CardKey::from_bytes([9; 16])),
                &Tap { amount: 0, atc: 1 },
            )
            .unwrap();
    }
    let bytes = std::fs::read(&clean).unwrap();
    let path = dir.join("store.db");
    let (mut refused, mut opened) = (0, 0);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = (seed % bytes.len() as u64) as usize;
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << (seed >> 60 & 7);
        std::fs::write(&path, &damaged).unwrap();
        let _ = std::fs::remove_file(dir.join("store.db-wal"));
        match Store::open(&path) {
            Err(_) => refused += 1,
            Ok(mut store) => {
                opened += 1;
                let _ = store.settlement_records();
                let _ = store.counts();
                let _ = store.record(1);
                let _ = store.export_batch(None, 100);
                let _ = store.prune_acknowledged(&created("2030-01-01T00:00:00"));
            }
        }
    }
    eprintln!("damaged files: {refused} refused at open, {opened} opened");
    assert!(
        refused > 0 && refused + opened == 400,
        "{refused} / {opened}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An index that disagrees with its table (it would hide records from an export, and no row
/// checksum covers it) is found by the integrity check at open.
#[test]
fn a_damaged_index_is_refused_at_open() {
    let dir = temp_dir("index");
    let path = dir.join("store.db");
    {
        let mut store = Store::open(&path).unwrap();
        paid(&mut store, 100);
        paid(&mut store, 200);
        store.take_records().unwrap();
        paid(&mut store, 300);
    }
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX records_undelivered ON records (id) \
             WHERE state IN (''unsent'', ''sent'', ''acknowledged'')'
         WHERE name = 'records_undelivered';",
    )
    .unwrap();
    drop(conn);
    match Store::open(&path) {
        Err(e @ StoreError::Corrupt { .. }) => {
            assert!(e.to_string().contains("records_undelivered"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- one writer at a time, unwritable stores -----------------------------------------------

#[test]
fn a_second_opener_in_this_process_is_refused() {
    let dir = temp_dir("second");
    let path = dir.join("store.db");
    let mut first = Store::open(&path).unwrap();
    paid(&mut first, 200);
    assert!(
        matches!(Store::open(&path), Err(StoreError::Locked { .. })),
        "{:?}",
        Store::open(&path)
    );
    // The first goes on writing.
    paid(&mut first, 300);
    drop(first);
    let second = Store::open(&path).unwrap();
    assert_eq!(second.records().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_store_that_cannot_be_written_is_refused_at_open() {
    let dir = temp_dir("unwritable");
    for path in [
        dir.join("missing/dir/store.db"),
        dir.clone(),
        PathBuf::new(),
    ] {
        let result = Store::open(&path);
        assert!(
            matches!(
                result,
                Err(StoreError::Open { .. } | StoreError::Unwritable { .. })
            ),
            "{path:?}: {result:?}"
        );
    }
    // A read-only file (meaningless as root, who writes it anyway).
    let path = dir.join("read-only.db");
    drop(Store::open(&path).unwrap());
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&path, permissions).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        eprintln!("SKIPPED read-only file case: running as a user who can write read-only files");
    } else {
        let result = Store::open(&path);
        assert!(
            matches!(result, Err(StoreError::Unwritable { .. })),
            "{result:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- the purse journal ---------------------------------------------------------------------

#[test]
fn the_journal_survives_a_reopen_and_never_reuses_ids() {
    let dir = temp_dir("journal");
    let path = dir.join("store.db");
    small_store(&path);
    let mut store = Store::open(&path).unwrap();
    let pending: Vec<(u64, u32)> = store
        .pending()
        .iter()
        .map(|p| (p.id, p.entry.amount.fen()))
        .collect();
    assert_eq!(pending, [(2, 300), (4, 500)]);
    let records: Vec<(u64, u32)> = store
        .records()
        .iter()
        .map(|r| (r.id, r.amount.fen()))
        .collect();
    assert_eq!(records, [(1, 200), (3, 400)]);
    assert_eq!(store.newest_id(), Some(4));
    // Unknown entries are refused and change nothing.
    assert!(matches!(store.void(1), Err(StoreError::UnknownEntry(1))));
    assert!(matches!(
        store.complete(&record(9, &entry(1))),
        Err(StoreError::UnknownEntry(9))
    ));
    store.void(2).unwrap();
    assert_eq!(store.begin(&entry(600)).unwrap(), 5);
    // Taken records are handed over once.
    let taken = store.take_records().unwrap();
    assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3]);
    assert!(store.records().is_empty());
    assert!(store.take_records().unwrap().is_empty());
    let counts = store.counts().unwrap();
    assert_eq!(
        counts.get(RecordKind::PurseSettlement, RecordState::Acknowledged),
        2
    );
    assert_eq!(counts.pending, 2);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.pending().iter().map(|p| p.id).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(store.newest_id(), Some(5));
    assert!(store.records().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Edits with the SQLite shell — an amount, a status, a state, a pending entry, a date — are
/// each caught at the next open, naming the row.
#[test]
fn an_edited_row_is_refused_naming_its_id() {
    let dir = temp_dir("tamper");
    let clean = dir.join("clean.db");
    small_store(&clean);
    let path = dir.join("store.db");
    let edits: &[(&str, &str, i64)] = &[
        (
            "UPDATE records SET payload = json_set(payload, '$.amount', 20) WHERE id = 3",
            "records",
            3,
        ),
        (
            "UPDATE records SET payload = json_set(payload, '$.status', 'recovered') WHERE id = 1",
            "records",
            1,
        ),
        (
            "UPDATE records SET state = 'acknowledged' WHERE id = 3",
            "records",
            3,
        ),
        (
            "UPDATE records SET created = '2099-01-01T00:00:00' WHERE id = 1",
            "records",
            1,
        ),
        (
            "UPDATE pending SET entry = json_set(entry, '$.amount', 1) WHERE id = 4",
            "pending",
            4,
        ),
        (
            "UPDATE pending SET sha256 = zeroblob(32) WHERE id = 2",
            "pending",
            2,
        ),
        ("UPDATE records SET payload = 7 WHERE id = 1", "records", 1),
    ];
    for &(sql, table, id) in edits {
        std::fs::copy(&clean, &path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
        drop(conn);
        let (t, i, problem) = integrity(Store::open(&path));
        assert_eq!((t, i), (table, id), "{sql}");
        let text = StoreError::Integrity {
            table: t,
            id: i,
            problem: problem.clone(),
        }
        .to_string();
        assert!(text.contains(&format!("{table}#{id}")), "{text}");
        assert!(
            !text.contains("3104"),
            "no card number in the error: {text}"
        );
    }
    // The clean copy still opens.
    std::fs::copy(&clean, &path).unwrap();
    assert_eq!(Store::open(&path).unwrap().records().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_json_journal_is_imported_once_keeping_its_ids() {
    let dir = temp_dir("import");
    let json = dir.join("journal.json");
    {
        let mut journal = FileJournal::open(&json).unwrap();
        for amount in [200, 300, 400] {
            journal.begin(&entry(amount)).unwrap();
        }
        journal.complete(&record(1, &entry(200))).unwrap();
        journal.void(2).unwrap();
    }
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    let first = store.import_json_journal(&json).unwrap();
    assert_eq!((first.pending, first.records, first.already), (1, 1, 0));
    let again = store.import_json_journal(&json).unwrap();
    assert_eq!((again.pending, again.records, again.already), (0, 0, 2));
    assert_eq!(
        store.pending().iter().map(|p| p.id).collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(
        store.records().iter().map(|r| r.id).collect::<Vec<_>>(),
        [1]
    );
    // Ids go on after the file's (id 2 was issued there, then voided).
    assert_eq!(store.begin(&entry(1)).unwrap(), 4);
    // The imported pending entry settles; importing again still adds nothing back.
    store.complete(&record(3, &entry(400))).unwrap();
    let third = store.import_json_journal(&json).unwrap();
    assert_eq!((third.pending, third.records), (0, 0));
    assert_eq!(
        store.pending().iter().map(|p| p.id).collect::<Vec<_>>(),
        [4]
    );
    // A different journal whose ids collide: refused whole.
    let other = dir.join("other.json");
    {
        let mut journal = FileJournal::open(&other).unwrap();
        journal.begin(&entry(999)).unwrap();
    }
    assert!(matches!(
        store.import_json_journal(&other),
        Err(StoreError::ImportConflict { id: 1 })
    ));
    // A damaged file is refused by the journal's own checks.
    std::fs::write(&other, b"{}").unwrap();
    assert!(matches!(
        store.import_json_journal(&other),
        Err(StoreError::Import(_))
    ));
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.records().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- batches and deferred authorisations ---------------------------------------------------

#[derive(serde::Serialize)]
struct Tap {
    amount: u32,
    atc: u16,
}

#[test]
fn batches_are_exported_acknowledged_and_pruned() {
    let dir = temp_dir("batches");
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    let purse = paid(&mut store, 200);
    let taps: Vec<u64> = (0..3)
        .map(|i| {
            store
                .add_record(
                    RecordKind::Contactless,
                    &created(&format!("2024-05-1{}T09:00:00", 7 + i)),
                    None,
                    &Tap {
                        amount: 150,
                        atc: i,
                    },
                )
                .unwrap()
        })
        .collect();
    assert_eq!(taps, [2, 3, 4]);
    assert!(matches!(
        store.add_record(
            RecordKind::PurseSettlement,
            &created("2024-05-17T09:00:00"),
            None,
            &1
        ),
        Err(StoreError::ReservedKind)
    ));
    // Only contactless, two at most.
    let batch = store
        .export_batch(Some(RecordKind::Contactless), 2)
        .unwrap()
        .unwrap();
    assert_eq!(
        batch.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [2, 3]
    );
    let mut lines = Vec::new();
    batch.write_json_lines(&mut lines).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(lines)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"id": 2, "batch": batch.id, "kind": "contactless",
                           "created": "2024-05-17T09:00:00", "payload": {"amount": 150, "atc": 0}})
    );
    // Debug output shows no payload (a caller's payload may hold card data).
    let pan = "6228480012345671";
    let secret = store
        .add_record(
            RecordKind::Contact,
            &created("2024-05-19T09:00:00"),
            None,
            &serde_json::json!({ "pan": pan }),
        )
        .unwrap();
    let shown = format!(
        "{:?} {:?} {:?}",
        store,
        store.record(secret).unwrap().unwrap(),
        batch
    );
    assert!(!shown.contains(pan) && !shown.contains("150"), "{shown}");
    store
        .export_batch(Some(RecordKind::Contact), 1)
        .unwrap()
        .map(|b| store.acknowledge(b.id).unwrap());
    assert_eq!(store.acknowledge(batch.id).unwrap(), 2);
    assert_eq!(store.acknowledge(batch.id).unwrap(), 0, "idempotent");
    assert!(matches!(
        store.acknowledge(999),
        Err(StoreError::UnknownBatch(999))
    ));
    // The rest: the purse record and tap 4.
    let rest = store.export_batch(None, 100).unwrap().unwrap();
    assert_eq!(
        rest.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [purse, 4],
        "the contact record was acknowledged already"
    );
    assert_eq!(rest.records[0].kind, RecordKind::PurseSettlement);
    assert_eq!(rest.records[0].payload["amount"], 200);
    // Sent but unacknowledged purse records are still the journal's.
    assert_eq!(store.records().len(), 1);
    store.acknowledge(rest.id).unwrap();
    assert!(store.records().is_empty());
    assert!(store.export_batch(None, 100).unwrap().is_none());
    let counts = store.counts().unwrap();
    assert_eq!(
        counts.get(RecordKind::Contactless, RecordState::Acknowledged),
        3
    );
    assert_eq!(counts.total(), 5);
    // Retention: only records dated before the cut go.
    assert_eq!(
        store
            .prune_acknowledged(&created("2024-05-18T12:00:00"))
            .unwrap(),
        3,
        "the purse record (2024-05-17 08:30) and taps 2, 3"
    );
    assert_eq!(
        store.record(4).unwrap().unwrap().state,
        RecordState::Acknowledged
    );
    assert!(store.record(2).unwrap().is_none());
    // Pruned ids are never issued again, even after a reopen.
    drop(store);
    let mut store = Store::open(&path).unwrap();
    store
        .prune_acknowledged(&created("2030-01-01T00:00:00"))
        .unwrap();
    assert_eq!(store.counts().unwrap().total(), 0);
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(paid(&mut store, 100), 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_batch_never_acknowledged_is_exported_again() {
    let dir = temp_dir("again");
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    for atc in 0..3 {
        store
            .add_record(
                RecordKind::Contact,
                &created("2024-05-17T09:00:00"),
                None,
                &Tap { amount: 1, atc },
            )
            .unwrap();
    }
    let first = store.export_batch(None, 10).unwrap().unwrap();
    // The upload failed: nothing acknowledged. A new record arrives; a reopen in between.
    store
        .add_record(
            RecordKind::Contact,
            &created("2024-05-17T09:01:00"),
            None,
            &Tap { amount: 1, atc: 3 },
        )
        .unwrap();
    drop(store);
    let mut store = Store::open(&path).unwrap();
    let second = store.export_batch(None, 10).unwrap().unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        second.records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "the unacknowledged records again, then the new one"
    );
    // The first batch's answer arrives late: its records are acknowledged all the same.
    assert_eq!(store.acknowledge(first.id).unwrap(), 3);
    assert_eq!(store.acknowledge(second.id).unwrap(), 1);
    assert!(store.export_batch(None, 10).unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deferred_results_return_declined_card_keys() {
    let dir = temp_dir("deferred");
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    let when = created("2024-05-17T09:00:00");
    let ids: Vec<u64> = (0..4u8)
        .map(|i| {
            store
                .add_record(
                    RecordKind::TransitDeferred,
                    &when,
                    Some(CardKey::from_bytes([i; 16])),
                    &Tap {
                        amount: 0,
                        atc: u16::from(i),
                    },
                )
                .unwrap()
        })
        .collect();
    let clearing = store
        .add_record(RecordKind::Contactless, &when, None, &1)
        .unwrap();
    // Not exported yet: the acquirer cannot have decided.
    let early = store
        .apply_results(&[(ids[0], Decision::Approved)])
        .unwrap();
    assert_eq!(early.ignored, [(ids[0], Ignored::NotSent)]);
    let batch = store
        .export_batch(Some(RecordKind::TransitDeferred), 3)
        .unwrap()
        .unwrap();
    store.acknowledge(batch.id).unwrap();
    // Acknowledged deferred records wait for their decision: not prunable.
    assert_eq!(
        store
            .prune_acknowledged(&created("2030-01-01T00:00:00"))
            .unwrap(),
        0
    );
    let applied = store
        .apply_results(&[
            (ids[0], Decision::Approved),
            (ids[1], Decision::Declined),
            (ids[1], Decision::Approved),
            (ids[3], Decision::Declined),
            (clearing, Decision::Declined),
            (999, Decision::Approved),
        ])
        .unwrap();
    assert_eq!(applied.approved, [ids[0]]);
    assert_eq!(applied.declined.len(), 1);
    assert_eq!(applied.declined[0].id, ids[1]);
    assert_eq!(
        applied.declined[0].card_key,
        Some(CardKey::from_bytes([1; 16]))
    );
    assert_eq!(
        applied.already_decided,
        [ids[1]],
        "the first decision stands"
    );
    assert_eq!(
        applied.ignored,
        [
            (ids[3], Ignored::NotSent),
            (clearing, Ignored::NotDeferred),
            (999, Ignored::Unknown)
        ]
    );
    let counts = store.counts().unwrap();
    assert_eq!(
        counts.get(RecordKind::TransitDeferred, RecordState::Approved),
        1
    );
    assert_eq!(
        counts.get(RecordKind::TransitDeferred, RecordState::Declined),
        1
    );
    assert_eq!(
        counts.get(RecordKind::TransitDeferred, RecordState::Acknowledged),
        1
    );
    // A state edited from declined to approved (taking a card off the deny list) is caught.
    drop(store);
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE records SET state = 'approved' WHERE id = ?1",
        [ids[1] as i64],
    )
    .unwrap();
    drop(conn);
    let (table, id, problem) = integrity(Store::open(&path));
    assert_eq!(
        (table, id, problem),
        ("records", ids[1] as i64, IntegrityProblem::Checksum)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// --- as processes: bus_fare --store --------------------------------------------------------

/// Runs an example (bus_fare or etc_topup) with `args` and no input.
fn run_example(exe: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the example")
}

/// Two processes on one store: the second is refused at open (exit 1, no tap), whichever opened
/// first; `--store` and `--journal` conflict; an unwritable store exits 1 before any tap.
#[test]
fn bus_fare_keeps_one_writer_per_store_and_refuses_an_unwritable_one() {
    let exe = support::example("bus_fare");
    let dir = temp_dir("bus-fare");
    let path = dir.join("store.db");
    let store_arg = path.to_str().unwrap();
    // This process holds the store: bus_fare is refused.
    let held = Store::open(&path).unwrap();
    let output = run_example(&exe, &["--store", store_arg, "--json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(output.stdout.is_empty(), "no tap was made");
    drop(held);
    // Alone, it runs, and its records are in the store.
    let output = run_example(
        &exe,
        &[
            "--store",
            store_arg,
            "--json",
            "--taps",
            "2",
            "--repeat-interval-s",
            "0",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(Store::open(&path).unwrap().records().len(), 2);
    // A bus_fare process holds it: a second one is refused while the first goes on.
    let mut first = Command::new(&exe)
        .args(["--store", store_arg, "--json", "--taps", "100000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(first.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("\"paid\""), "{line}");
    }
    let second = run_example(&exe, &["--store", store_arg, "--json"]);
    let _ = first.kill();
    let _ = first.wait();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(second.stdout.is_empty());
    // Killed mid-run, the store opens and holds every paid tap (none pending, or one).
    let store = Store::open(&path).unwrap();
    assert!(store.records().len() > 2 && store.pending().len() <= 1);
    drop(store);
    // --store and --journal conflict: a usage error.
    let json = dir.join("j.json");
    let output = run_example(
        &exe,
        &["--store", store_arg, "--journal", json.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(2));
    // Unwritable: a missing directory, a directory, and a full disk (no file may grow:
    // `ulimit -f 0`, with SIGXFSZ ignored so the write fails instead of killing).
    let missing = dir.join("missing/dir/store.db");
    for bad in [missing.to_str().unwrap(), dir.to_str().unwrap()] {
        let output = run_example(&exe, &["--store", bad, "--json"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{bad}: {stderr}");
        assert!(stderr.contains("store"), "{stderr}");
        assert!(output.stdout.is_empty(), "no tap was made");
    }
    let full = dir.join("full.db");
    let output = Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 0; exec \"$0\" --store \"$1\" --json")
        .arg(&exe)
        .arg(&full)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "full disk: {stderr}");
    assert!(stderr.contains("cannot be written"), "{stderr}");
    assert!(output.stdout.is_empty(), "no tap was made");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `etc_topup --store`: the loads' records are in the store; a missing directory exits 1 with no
/// tap.
#[test]
fn etc_topup_keeps_its_loads_in_the_store() {
    let exe = support::example("etc_topup");
    let dir = temp_dir("etc-topup");
    let path = dir.join("store.db");
    let store_arg = path.to_str().unwrap();
    for _ in 0..2 {
        let output = run_example(&exe, &["--store", store_arg, "--json"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let store = Store::open(&path).unwrap();
    let records = store.records();
    assert_eq!(
        records.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>(),
        [(1, RecordStatus::Loaded), (2, RecordStatus::Loaded)]
    );
    drop(store);
    let missing = dir.join("missing/store.db");
    let output = run_example(&exe, &["--store", missing.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no tap was made");
    std::fs::remove_dir_all(&dir).unwrap();
}
