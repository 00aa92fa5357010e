//! The deny list kept in the store (schema version 2): the list a gate checks every tap
//! against lives beside the records whose declines put cards on it, so the back office's
//! answers ([`Store::apply_results`]) and the list they change can be written by one program
//! into one file, and a validator that boots with no list file still has the last one it had.
//!
//! Two tables: `deny_meta` (one row: version, salt, entry count, SHA-256 of the whole list) and
//! `deny_keys` (one row per 16-byte card key, the key itself the primary key). A delta is
//! written as its changes only — a handful of rows for a daily delta, not the 16 MB a list of
//! 10⁶ cards takes — and the meta row in the same transaction. The list's digest covers the
//! salt, version, count and every key in order; [`Store::deny_list`] recomputes it while it
//! reads, so a damaged or edited key (or a lost one) is refused as
//! [`StoreError::Integrity`] on table `deny_keys`, never a list that silently denies no one.

use quickpass_crypto::hash::Sha256Hasher;
use quickpass_kernel::deny_list::{Change, DeltaApplied, DenyDelta, DenyList, Salt};
use rusqlite::OptionalExtension;

use super::error::{db, IntegrityProblem, StoreError};
use super::{sql_id, Applied, CardKey, Decision, Store};

/// The digest the meta row keeps: salt length and salt, version, count, keys in order.
fn list_digest<'a>(
    salt: &Salt,
    version: u64,
    count: u64,
    keys: impl Iterator<Item = &'a CardKey>,
) -> [u8; 32] {
    let mut hasher = Sha256Hasher::new();
    hasher.update(b"quickpass-store-deny-list/1|");
    let salt = salt.as_bytes();
    hasher.update(&(salt.len() as u64).to_be_bytes());
    hasher.update(salt);
    hasher.update(&version.to_be_bytes());
    hasher.update(&count.to_be_bytes());
    for key in keys {
        hasher.update(key.as_bytes());
    }
    hasher.finish()
}

/// The meta row as read.
struct Meta {
    version: u64,
    salt: Salt,
    count: u64,
    sha256: Vec<u8>,
}

/// Every problem with the meta row is an integrity problem of row 1 of `deny_meta`.
fn meta_problem(problem: IntegrityProblem) -> StoreError {
    StoreError::integrity("deny_meta", 1, problem)
}

impl Store {
    /// The deny list in the store, checked against its digest; `None` when none was saved.
    ///
    /// # Errors
    ///
    /// [`StoreError::Integrity`] when a key, the count or the meta row does not match the
    /// digest saved with them; [`StoreError::Database`] when reading fails.
    pub fn deny_list(&self) -> Result<Option<DenyList>, StoreError> {
        let Some(meta) = self.deny_meta()? else {
            return Ok(None);
        };
        let op = "read deny list";
        let mut statement = self
            .conn
            .prepare("SELECT key FROM deny_keys ORDER BY key")
            .map_err(db(op))?;
        let mut rows = statement.query([]).map_err(db(op))?;
        let mut keys = Vec::with_capacity(usize::try_from(meta.count).unwrap_or(0));
        while let Some(row) = rows.next().map_err(db(op))? {
            let bytes: Vec<u8> = row.get(0).map_err(db(op))?;
            let bytes: [u8; CardKey::LEN] = bytes.try_into().map_err(|_| {
                StoreError::integrity("deny_keys", sql_id(keys.len() as u64), {
                    IntegrityProblem::Field("key")
                })
            })?;
            keys.push(CardKey::from_bytes(bytes));
        }
        let digest = list_digest(&meta.salt, meta.version, keys.len() as u64, keys.iter());
        if keys.len() as u64 != meta.count || digest.as_slice() != meta.sha256.as_slice() {
            return Err(StoreError::integrity(
                "deny_keys",
                0,
                IntegrityProblem::Checksum,
            ));
        }
        DenyList::from_sorted(meta.salt, meta.version, keys)
            .map(Some)
            .map_err(|_| StoreError::integrity("deny_keys", 0, IntegrityProblem::Field("key")))
    }

    /// The version of the deny list in the store, without reading its keys.
    pub fn deny_list_version(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.deny_meta()?.map(|meta| meta.version))
    }

    /// Saves `list` as the store's deny list, replacing the one there (if any), in one
    /// transaction.
    pub fn save_deny_list(&mut self, list: &DenyList) -> Result<(), StoreError> {
        self.usable()?;
        let op = "save deny list";
        let tx = self.conn.transaction().map_err(db(op))?;
        tx.execute("DELETE FROM deny_keys", []).map_err(db(op))?;
        {
            let mut insert = tx
                .prepare("INSERT INTO deny_keys (key) VALUES (?1)")
                .map_err(db(op))?;
            for key in list.iter() {
                insert
                    .execute([key.as_bytes().as_slice()])
                    .map_err(db(op))?;
            }
        }
        write_meta(&tx, list, op)?;
        tx.commit().map_err(db(op))
    }

    /// Applies `delta` to the store's deny list: the kernel's delta rules
    /// ([`DenyList::apply`]: version, salt, no key added twice or removed when absent), then
    /// its changes and the new meta row in one transaction. Returns what changed.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoDenyList`] when the store holds none (save a full list first),
    /// [`StoreError::DenyDelta`] when the delta does not apply, and the errors of
    /// [`Store::deny_list`].
    pub fn apply_deny_delta(&mut self, delta: &DenyDelta) -> Result<DeltaApplied, StoreError> {
        self.usable()?;
        let mut list = self.deny_list()?.ok_or(StoreError::NoDenyList)?;
        let applied = list.apply(delta).map_err(StoreError::DenyDelta)?;
        let op = "apply deny delta";
        let tx = self.conn.transaction().map_err(db(op))?;
        {
            let mut add = tx
                .prepare("INSERT INTO deny_keys (key) VALUES (?1)")
                .map_err(db(op))?;
            let mut remove = tx
                .prepare("DELETE FROM deny_keys WHERE key = ?1")
                .map_err(db(op))?;
            for change in delta.changes() {
                match change {
                    Change::Add(key) => add.execute([key.as_bytes().as_slice()]),
                    Change::Remove(key) => remove.execute([key.as_bytes().as_slice()]),
                }
                .map_err(db(op))?;
            }
        }
        write_meta(&tx, &list, op)?;
        tx.commit().map_err(db(op))?;
        Ok(applied)
    }

    /// [`Store::apply_results`] and the deny list it changes, in **one** transaction: the cards
    /// of declined deferred authorisations (those with a card key, not yet listed) go on the
    /// store's deny list as its next version. A crash can no longer leave a decline recorded
    /// with its card still riding. Returns what was applied and the list's new version and
    /// additions (`None` when no card was added).
    ///
    /// # Errors
    ///
    /// [`StoreError::NoDenyList`] when the store holds none (nothing is applied), and the
    /// errors of [`Store::apply_results`] and [`Store::deny_list`].
    pub fn apply_results_to_deny_list(
        &mut self,
        results: &[(u64, Decision)],
    ) -> Result<(Applied, Option<DeltaApplied>), StoreError> {
        self.usable()?;
        let list = self.deny_list()?.ok_or(StoreError::NoDenyList)?;
        let op = "apply results";
        let tx = self.conn.transaction().map_err(db(op))?;
        let applied = super::queue::apply_results_in(&tx, results)?;
        let mut new_keys: Vec<CardKey> = applied
            .declined
            .iter()
            .filter_map(|declined| declined.card_key)
            .filter(|key| !list.contains(key))
            .collect();
        new_keys.sort_unstable();
        new_keys.dedup();
        let change = if new_keys.is_empty() {
            None
        } else {
            let version = list.version() + 1;
            let keys = list.iter().copied().chain(new_keys.iter().copied());
            let next = DenyList::from_keys(list.salt().clone(), version, keys).map_err(|_| {
                StoreError::integrity("deny_keys", 0, IntegrityProblem::Field("key"))
            })?;
            {
                let mut add = tx
                    .prepare("INSERT INTO deny_keys (key) VALUES (?1)")
                    .map_err(db(op))?;
                for key in &new_keys {
                    add.execute([key.as_bytes().as_slice()]).map_err(db(op))?;
                }
            }
            write_meta(&tx, &next, op)?;
            Some(DeltaApplied {
                added: new_keys.len(),
                removed: 0,
                version,
            })
        };
        tx.commit().map_err(db(op))?;
        Ok((applied, change))
    }

    /// The meta row, decoded; `None` when no list was saved.
    fn deny_meta(&self) -> Result<Option<Meta>, StoreError> {
        let op = "read deny list";
        let row = self
            .conn
            .query_row(
                "SELECT version, salt, count, sha256 FROM deny_meta WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(db(op))?;
        let Some((version, salt, count, sha256)) = row else {
            return Ok(None);
        };
        Ok(Some(Meta {
            version: u64::try_from(version)
                .map_err(|_| meta_problem(IntegrityProblem::Field("version")))?,
            salt: Salt::new(&salt).map_err(|_| meta_problem(IntegrityProblem::Field("salt")))?,
            count: u64::try_from(count)
                .map_err(|_| meta_problem(IntegrityProblem::Field("count")))?,
            sha256,
        }))
    }
}

/// Writes the meta row of `list` (version, salt, count, digest) inside `tx`.
fn write_meta(
    tx: &rusqlite::Transaction<'_>,
    list: &DenyList,
    op: &'static str,
) -> Result<(), StoreError> {
    let count = list.len() as u64;
    let digest = list_digest(list.salt(), list.version(), count, list.iter());
    tx.execute(
        "INSERT OR REPLACE INTO deny_meta (id, version, salt, count, sha256) \
         VALUES (1, ?1, ?2, ?3, ?4)",
        rusqlite::params![
            sql_id(list.version()),
            list.salt().as_bytes(),
            sql_id(count),
            digest.as_slice()
        ],
    )
    .map_err(db(op))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use quickpass_kernel::deny_list::{DenyDelta, DenyList, Salt};

    use super::*;

    fn key(n: u8) -> CardKey {
        CardKey::from_bytes([n; CardKey::LEN])
    }

    fn salt() -> Salt {
        Salt::new(&[0x5A; 16]).unwrap()
    }

    fn temp_store(name: &str) -> (tempdir::Dir, Store) {
        let dir = tempdir::Dir::new(name);
        let store = Store::open(dir.path().join("store.db")).unwrap();
        (dir, store)
    }

    /// A directory under the system's temporary directory, removed on drop (no crate needed
    /// for so little).
    mod tempdir {
        use std::path::{Path, PathBuf};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new(name: &str) -> Dir {
                let path = std::env::temp_dir().join(format!(
                    "quickpass-store-deny-{name}-{}",
                    std::process::id()
                ));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn a_saved_list_survives_reopening_and_a_delta_changes_only_its_keys() {
        let (dir, mut store) = temp_store("roundtrip");
        assert!(store.deny_list().unwrap().is_none());
        let list = DenyList::from_keys(salt(), 3, vec![key(9), key(1), key(5)]).unwrap();
        store.save_deny_list(&list).unwrap();
        drop(store);
        let mut store = Store::open(dir.path().join("store.db")).unwrap();
        let read = store.deny_list().unwrap().unwrap();
        assert_eq!(read.version(), 3);
        assert_eq!(
            read.iter().copied().collect::<Vec<_>>(),
            [key(1), key(5), key(9)]
        );
        let delta = DenyDelta::new(
            salt(),
            3,
            4,
            vec![Change::Add(key(2)), Change::Remove(key(5))],
        )
        .unwrap();
        let applied = store.apply_deny_delta(&delta).unwrap();
        assert_eq!((applied.added, applied.removed, applied.version), (1, 1, 4));
        let read = store.deny_list().unwrap().unwrap();
        assert_eq!(
            read.iter().copied().collect::<Vec<_>>(),
            [key(1), key(2), key(9)]
        );
        assert_eq!(store.deny_list_version().unwrap(), Some(4));
        // The same delta again no longer applies (the list is at version 4), and changes nothing.
        assert!(matches!(
            store.apply_deny_delta(&delta),
            Err(StoreError::DenyDelta(_))
        ));
        assert_eq!(store.deny_list().unwrap().unwrap().len(), 3);
    }

    #[test]
    fn a_delta_needs_a_list_first() {
        let (_dir, mut store) = temp_store("nolist");
        let delta = DenyDelta::new(salt(), 0, 1, vec![Change::Add(key(1))]).unwrap();
        assert!(matches!(
            store.apply_deny_delta(&delta),
            Err(StoreError::NoDenyList)
        ));
    }

    #[test]
    fn an_edited_or_deleted_key_is_refused_not_read_as_a_shorter_list() {
        let (_dir, mut store) = temp_store("edited");
        let list = DenyList::from_keys(salt(), 1, vec![key(1), key(2), key(3)]).unwrap();
        store.save_deny_list(&list).unwrap();
        store
            .conn
            .execute(
                "DELETE FROM deny_keys WHERE key = ?1",
                [key(2).as_bytes().as_slice()],
            )
            .unwrap();
        assert!(matches!(
            store.deny_list(),
            Err(StoreError::Integrity {
                table: "deny_keys",
                ..
            })
        ));
        store.save_deny_list(&list).unwrap();
        store
            .conn
            .execute(
                "UPDATE deny_keys SET key = ?1 WHERE key = ?2",
                [key(4).as_bytes().as_slice(), key(3).as_bytes().as_slice()],
            )
            .unwrap();
        assert!(matches!(
            store.deny_list(),
            Err(StoreError::Integrity { .. })
        ));
    }
}
