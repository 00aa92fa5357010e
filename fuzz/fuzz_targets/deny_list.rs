//! Deny-list files (`quickpass::deny_list::parse_list` / `parse_delta`, docs/deny-list.md):
//! never panics; an accepted list or delta writes back to exactly its bytes (one canonical
//! form) and every entry of an accepted list is found; an accepted delta applies to the list it
//! was made against (its removed keys, at its base version), adding every add and removing
//! every remove, and is refused — list unchanged — by a list at another version.
//!
//! Input: one selector byte, then the file. An odd selector recomputes the file's checksum first
//! (`quickpass_fuzz::resign_deny_file`), so mutations reach the accepting paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::deny_list::{parse_delta, parse_list, write_delta, write_list};
use quickpass::kernel::deny_list::{Change, DeltaError, DenyList};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let bytes = if selector & 1 == 1 {
        quickpass_fuzz::resign_deny_file(file)
    } else {
        file.to_vec()
    };
    if let Ok(list) = parse_list(&bytes) {
        let mut out = Vec::new();
        write_list(&list, &mut out).expect("writing to memory");
        assert_eq!(out, bytes, "an accepted list is in canonical form");
        assert!(list.iter().all(|key| list.contains(key)));
    }
    if let Ok(delta) = parse_delta(&bytes) {
        let mut out = Vec::new();
        write_delta(&delta, &mut out).expect("writing to memory");
        assert_eq!(out, bytes, "an accepted delta is in canonical form");
        let removed: Vec<_> = delta
            .changes()
            .iter()
            .filter_map(|change| match change {
                Change::Remove(key) => Some(*key),
                Change::Add(_) => None,
            })
            .collect();
        let at = |version| {
            DenyList::from_keys(delta.salt().clone(), version, removed.iter().copied())
                .expect("keys of a parsed delta")
        };
        let mut list = at(delta.base());
        let applied = list.apply(&delta).expect("a delta applies to its own base");
        assert_eq!(list.len(), applied.added);
        assert_eq!(list.version(), delta.version());
        for change in delta.changes() {
            assert_eq!(
                list.contains(change.key()),
                matches!(change, Change::Add(_))
            );
        }
        if let Some(wrong) = delta.base().checked_sub(1) {
            let mut other = at(wrong);
            assert!(matches!(
                other.apply(&delta),
                Err(DeltaError::VersionMismatch { .. })
            ));
            assert!(other.iter().eq(removed.iter()) && other.version() == wrong);
        }
    }
});
