//! The deny list (hot list, blacklist): cards a transit validator refuses, typically because
//! their deferred online authorisation failed (issue 11, "Deny list"; UnionPay online ODA,
//! acceptance step 4: "the PAN is not on the deny list").
//!
//! # Card keys: no PAN in clear
//!
//! An entry is a [`CardKey`]: the first 16 bytes of
//!
//! ```text
//! HMAC-SHA-256(key = salt, message = "quickpass-deny-list/1|" ‖ PAN digits ‖ "|" ‖ PSN)
//! ```
//!
//! where the PAN is its ASCII decimal digits (tag `5A` without the `F` padding) and the PSN
//! (PAN sequence number, tag `5F34`) is the byte as two upper-case hex digits — for the BCD
//! values a card may carry, its two decimal digits, `"00"` … `"99"` — or **nothing** when the
//! card has no `5F34`. The salt comes with the list (its file header): the back office hashes
//! the PANs it denies with it, the validator hashes the card in front of it, and neither the
//! list file nor the validator's memory holds a PAN. [`card_key`] (or [`CardHasher`], which
//! sets the HMAC key up once) is the one derivation both sides use.
//!
//! - **PSN absent is its own value**, not `00`: `…|` and `…|00` are different keys. EMV treats
//!   two cards with the same PAN and different PSNs as different cards (EMV Book 3 Annex A,
//!   `5F34`: "identifies and differentiates cards with the same PAN"), and the key must be a
//!   function of exactly what the card presents and what the deferred authorisation record
//!   carries, with no normalisation the back office and the validator could do differently.
//!   (EMV Book 2 A1.4 replaces an absent PSN by `00` when it *derives keys*; a deny list is
//!   not key derivation: a card without `5F34` is listed as such.) To refuse a PAN whatever
//!   the PSN, the back office lists each (PAN, PSN) it has seen.
//! - **Why HMAC-SHA-256**: it is the standard keyed hash (a PRF under the salt), any back
//!   office can compute it (`openssl dgst -sha256 -mac HMAC -macopt hexkey:SALT`), and with the
//!   key's pads hashed once ([`CardHasher`]) a card costs two SHA-256 compressions. The domain
//!   prefix versions the derivation. 16 bytes are kept: with 10⁶ entries the chance that some
//!   other card collides with an entry is about 10⁶ / 2¹²⁸.
//! - **What the hash does not do**: the salt travels with the list, so whoever holds the list
//!   file can test candidate PANs; a PAN has few unknown digits once the BIN is known (about
//!   10⁹ per 16-digit BIN), so such a search is feasible. The hash keeps PANs out of files,
//!   memory dumps and logs; it is not encryption. A fast lookup (≤ 1 µs) rules out a
//!   deliberately slow hash.
//!
//! # The list
//!
//! [`DenyList`] keeps the keys in one sorted `Vec` (16 bytes an entry: 16 MB for 10⁶) with a
//! prefix index over the first bits of the key (4 bytes a bucket, about 4–8 entries a bucket):
//! a lookup is one index read and a binary search over a few neighbouring entries. The keys
//! are uniformly random, so the buckets are even. Measured on this project's machine at 10⁶
//! entries: a plain binary search over the 16 MB array took about 1 µs (each step a cache
//! miss), the indexed search about 0.18 µs; a hash set answered in 0.02 µs but took 35 MB
//! (power-of-two tables: 2²¹ slots of 17 bytes for 10⁶ entries), above the 32 MB target.
//!
//! A list has a **version**. A [`DenyDelta`] names the version it applies to (`base`) and the
//! version it makes; [`DenyList::apply`] refuses a delta that does not follow the list's
//! current version, one hashed under another salt, an add of a key already listed and a
//! remove of a key not listed — any of these means the list and the back office disagree, and
//! the cure is a full list. A refused delta leaves the list unchanged.
//!
//! The flows take the list as `&dyn` [`DenyCheck`], so an integrator can plug a store of its
//! own. File formats and loading live in the facade (`quickpass::deny_list`): this module does
//! no I/O and needs nothing of `std` beyond `alloc`.

use alloc::vec::Vec;
use core::fmt;

use quickpass_crypto::mac::HmacSha256;

use crate::values::Pan;

/// The domain-separation prefix of every card key's message (it names the derivation and its
/// version), followed by `|`.
pub const KEY_DOMAIN: &str = "quickpass-deny-list/1";

/// A card's entry in a deny list: 16 bytes of HMAC-SHA-256 over its PAN and PSN (see the
/// [module docs](self)). Holds no PAN; `Debug` shows its first 4 bytes only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardKey([u8; CardKey::LEN]);

impl CardKey {
    /// Bytes in a key.
    pub const LEN: usize = 16;

    /// A key from its bytes (as a list file carries it).
    pub const fn from_bytes(bytes: [u8; CardKey::LEN]) -> CardKey {
        CardKey(bytes)
    }

    /// The key's bytes.
    pub const fn as_bytes(&self) -> &[u8; CardKey::LEN] {
        &self.0
    }

    /// The first 8 bytes, big-endian: where the key sorts, for the prefix index.
    fn prefix(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, ..] = self.0;
        write!(f, "CardKey({a:02X}{b:02X}{c:02X}{d:02X}…)")
    }
}

/// The HMAC key of a list's card keys, chosen by the back office: 16 to 64 bytes (at least 128
/// bits, so that lists of different operators share no keys; at most one SHA-256 block, so
/// that it is used as is). Not secret — it travels in the list file — but `Debug` shows only
/// its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(Vec<u8>);

impl Salt {
    /// Fewest bytes in a salt.
    pub const MIN_LEN: usize = 16;
    /// Most bytes in a salt.
    pub const MAX_LEN: usize = 64;

    /// A salt from its bytes; [`DenyListError::SaltLength`] unless 16 to 64 bytes.
    pub fn new(bytes: &[u8]) -> Result<Salt, DenyListError> {
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Salt(bytes.to_vec()))
        } else {
            Err(DenyListError::SaltLength { len: bytes.len() })
        }
    }

    /// The salt's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({} bytes)", self.0.len())
    }
}

/// Computes [`CardKey`]s under one salt, the HMAC key set up once (the validator's lookups, the
/// back office's list building).
#[derive(Clone)]
pub struct CardHasher {
    salt: Salt,
    mac: HmacSha256,
}

impl CardHasher {
    /// A hasher under `salt`.
    pub fn new(salt: Salt) -> CardHasher {
        let mac = HmacSha256::new(salt.as_bytes());
        CardHasher { salt, mac }
    }

    /// The salt.
    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// The key of the card with `pan` and PAN sequence number `psn` (the value of `5F34`, or
    /// `None` when the card has none: a value of its own, see the [module docs](self)).
    pub fn card_key(&self, pan: &Pan, psn: Option<u8>) -> CardKey {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let psn_hex;
        let psn_part: &[u8] = match psn {
            Some(byte) => {
                psn_hex = [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0x0F)]];
                &psn_hex
            }
            None => &[],
        };
        let tag = self.mac.compute(&[
            KEY_DOMAIN.as_bytes(),
            b"|",
            pan.expose_digits().as_bytes(),
            b"|",
            psn_part,
        ]);
        let mut key = [0u8; CardKey::LEN];
        key.copy_from_slice(&tag[..CardKey::LEN]);
        CardKey(key)
    }
}

impl fmt::Debug for CardHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardHasher")
            .field("salt", &self.salt)
            .finish()
    }
}

/// The key of the card with `pan` and `psn` under `salt` (see [`CardHasher::card_key`]; make a
/// [`CardHasher`] to hash many cards).
pub fn card_key(salt: &Salt, pan: &Pan, psn: Option<u8>) -> CardKey {
    CardHasher::new(salt.clone()).card_key(pan, psn)
}

/// What a transaction flow asks of a deny list: is this card refused? Take it as
/// `&dyn DenyCheck` to accept [`DenyList`] or an integrator's own store (a store that cannot
/// answer should say `true`: refuse, fail closed).
pub trait DenyCheck {
    /// Whether the card with `pan` and PAN sequence number `psn` (`5F34`'s value, `None` when
    /// absent) is on the list.
    fn is_denied(&self, pan: &Pan, psn: Option<u8>) -> bool;
}

/// Why a deny list or a salt could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DenyListError {
    /// A salt must have 16 to 64 bytes.
    #[error("a deny-list salt has 16 to 64 bytes, not {len}")]
    SaltLength {
        /// The length given.
        len: usize,
    },
    /// The keys are not in ascending order: the key at `position` sorts before the one before it.
    #[error("deny-list entry {position} sorts before the entry before it")]
    NotAscending {
        /// Index of the key, from 0.
        position: usize,
    },
    /// The key at `position` equals the one before it.
    #[error("deny-list entry {position} repeats the entry before it")]
    Duplicate {
        /// Index of the key, from 0.
        position: usize,
    },
    /// More entries than the list can index (2³² − 1).
    #[error("a deny list holds at most 4294967295 entries")]
    TooLarge,
}

/// Why a delta could not be built or applied. A delta that fails to apply leaves the list
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// A delta must make a newer version than the one it applies to.
    #[error("a delta from version {base} must make a later version, not {version}")]
    NotNewer {
        /// The version it applies to.
        base: u64,
        /// The version it would make.
        version: u64,
    },
    /// The same key is changed twice in one delta.
    #[error("the delta changes the key {key:?} twice")]
    DuplicateKey {
        /// The key.
        key: CardKey,
    },
    /// The delta applies to another version than the list's.
    #[error("the delta applies to version {base}, the list is at version {current}")]
    VersionMismatch {
        /// The list's version.
        current: u64,
        /// The version the delta applies to.
        base: u64,
    },
    /// The delta's keys are hashed under another salt than the list's.
    #[error("the delta's salt is not the list's")]
    SaltMismatch,
    /// The change at `position` adds a key the list already holds.
    #[error("change {position} of the delta adds a key the list already holds")]
    AlreadyPresent {
        /// Index of the change in [`DenyDelta::changes`], from 0.
        position: usize,
    },
    /// The change at `position` removes a key the list does not hold.
    #[error("change {position} of the delta removes a key the list does not hold")]
    NotPresent {
        /// Index of the change in [`DenyDelta::changes`], from 0.
        position: usize,
    },
    /// The list would grow past what it can index.
    #[error(transparent)]
    List(#[from] DenyListError),
}

/// One change of a [`DenyDelta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// The card goes on the list.
    Add(CardKey),
    /// The card comes off the list.
    Remove(CardKey),
}

impl Change {
    /// The key changed.
    pub fn key(&self) -> &CardKey {
        match self {
            Change::Add(key) | Change::Remove(key) => key,
        }
    }
}

/// Changes that take a list from version `base` to version `version` without a full reload.
/// The changes are kept sorted by key, each key at most once.
#[derive(Clone, PartialEq, Eq)]
pub struct DenyDelta {
    salt: Salt,
    base: u64,
    version: u64,
    changes: Vec<Change>,
}

impl DenyDelta {
    /// A delta from version `base` to `version` (later) under `salt`; the changes are sorted by
    /// key, and a key changed twice is [`DeltaError::DuplicateKey`].
    pub fn new(
        salt: Salt,
        base: u64,
        version: u64,
        mut changes: Vec<Change>,
    ) -> Result<DenyDelta, DeltaError> {
        if version <= base {
            return Err(DeltaError::NotNewer { base, version });
        }
        changes.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        if let Some(pair) = changes
            .windows(2)
            .find(|pair| pair[0].key() == pair[1].key())
        {
            return Err(DeltaError::DuplicateKey {
                key: *pair[0].key(),
            });
        }
        Ok(DenyDelta {
            salt,
            base,
            version,
            changes,
        })
    }

    /// The delta that turns `old` into `new` (same salt, `new` of a later version).
    pub fn between(old: &DenyList, new: &DenyList) -> Result<DenyDelta, DeltaError> {
        if old.salt() != new.salt() {
            return Err(DeltaError::SaltMismatch);
        }
        let (mut a, mut b) = (old.entries.iter().peekable(), new.entries.iter().peekable());
        let mut changes = Vec::new();
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x == y => {
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x < y => {
                    changes.push(Change::Remove(**x));
                    a.next();
                }
                (_, Some(y)) => {
                    changes.push(Change::Add(**y));
                    b.next();
                }
                (Some(x), None) => {
                    changes.push(Change::Remove(**x));
                    a.next();
                }
                (None, None) => break,
            }
        }
        DenyDelta::new(new.salt().clone(), old.version, new.version, changes)
    }

    /// The salt its keys are hashed under.
    pub fn salt(&self) -> &Salt {
        &self.salt
    }

    /// The version it applies to.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The version it makes.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The changes, sorted by key.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// True when it changes nothing (it still moves the version on).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of additions.
    pub fn adds(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c, Change::Add(_)))
            .count()
    }
}

impl fmt::Debug for DenyDelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let adds = self.adds();
        f.debug_struct("DenyDelta")
            .field("base", &self.base)
            .field("version", &self.version)
            .field("adds", &adds)
            .field("removes", &(self.changes.len() - adds))
            .finish()
    }
}

/// What [`DenyList::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaApplied {
    /// Keys added.
    pub added: usize,
    /// Keys removed.
    pub removed: usize,
    /// The list's version now.
    pub version: u64,
}

/// Start positions of the keys by their first `bits` bits: `starts[b]..starts[b + 1]` are the
/// keys whose prefix is `b`.
#[derive(Clone, Default)]
struct PrefixIndex {
    bits: u32,
    starts: Vec<u32>,
}

impl PrefixIndex {
    /// About 4–8 keys a bucket; 2²⁴ buckets at most.
    fn build(entries: &[CardKey]) -> PrefixIndex {
        let bits = (entries.len() / 4).checked_ilog2().unwrap_or(0).min(24);
        let buckets = 1usize << bits;
        let mut starts = alloc::vec![0u32; buckets + 1];
        for key in entries {
            if let Some(count) = starts.get_mut(Self::bucket_of(bits, key) + 1) {
                *count += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        PrefixIndex { bits, starts }
    }

    fn bucket_of(bits: u32, key: &CardKey) -> usize {
        // At most 24 bits: fits a usize everywhere this builds.
        key.prefix().checked_shr(64 - bits).unwrap_or(0) as usize
    }

    /// The range of positions where `key` is, if anywhere.
    fn range(&self, key: &CardKey) -> core::ops::Range<usize> {
        let bucket = Self::bucket_of(self.bits, key);
        match (self.starts.get(bucket), self.starts.get(bucket + 1)) {
            (Some(&start), Some(&end)) => start as usize..end as usize,
            _ => 0..0,
        }
    }
}

/// A deny list: sorted [`CardKey`]s under one [`Salt`], at a version. See the
/// [module docs](self) for the keys, the data structure and the delta rules.
///
/// `Debug` shows the version and the number of entries, never the entries.
#[derive(Clone)]
pub struct DenyList {
    hasher: CardHasher,
    version: u64,
    entries: Vec<CardKey>,
    index: PrefixIndex,
}

impl DenyList {
    /// An empty list at `version`.
    pub fn new(salt: Salt, version: u64) -> DenyList {
        DenyList {
            hasher: CardHasher::new(salt),
            version,
            entries: Vec::new(),
            index: PrefixIndex::build(&[]),
        }
    }

    /// A list of `entries` already in strictly ascending order (as a list file holds them); a
    /// key out of order or repeated is refused with its position.
    pub fn from_sorted(
        salt: Salt,
        version: u64,
        entries: Vec<CardKey>,
    ) -> Result<DenyList, DenyListError> {
        if let Some(position) = entries.windows(2).position(|pair| pair[0] >= pair[1]) {
            let position = position + 1;
            return Err(if entries[position] == entries[position - 1] {
                DenyListError::Duplicate { position }
            } else {
                DenyListError::NotAscending { position }
            });
        }
        if entries.len() >= u32::MAX as usize {
            return Err(DenyListError::TooLarge);
        }
        let index = PrefixIndex::build(&entries);
        Ok(DenyList {
            hasher: CardHasher::new(salt),
            version,
            entries,
            index,
        })
    }

    /// A list of `keys` in any order, repeats merged (the back office building a list).
    pub fn from_keys(
        salt: Salt,
        version: u64,
        keys: impl IntoIterator<Item = CardKey>,
    ) -> Result<DenyList, DenyListError> {
        let mut entries: Vec<CardKey> = keys.into_iter().collect();
        entries.sort_unstable();
        entries.dedup();
        DenyList::from_sorted(salt, version, entries)
    }

    /// The salt the keys are hashed under.
    pub fn salt(&self) -> &Salt {
        self.hasher.salt()
    }

    /// The hasher of this list's card keys.
    pub fn hasher(&self) -> &CardHasher {
        &self.hasher
    }

    /// The list's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no card is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in ascending order.
    pub fn iter(&self) -> core::slice::Iter<'_, CardKey> {
        self.entries.iter()
    }

    /// Bytes held on the heap: the entries' and the index's capacity (the salt aside).
    pub fn memory_bytes(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<CardKey>()
            + self.index.starts.capacity() * core::mem::size_of::<u32>()
    }

    /// Whether `key` is listed.
    pub fn contains(&self, key: &CardKey) -> bool {
        self.position(key).is_ok()
    }

    /// The key of a card under this list's salt.
    pub fn card_key(&self, pan: &Pan, psn: Option<u8>) -> CardKey {
        self.hasher.card_key(pan, psn)
    }

    /// Whether the card with `pan` and `psn` is listed (hashes it, then [`Self::contains`]).
    pub fn is_denied(&self, pan: &Pan, psn: Option<u8>) -> bool {
        self.contains(&self.card_key(pan, psn))
    }

    /// Where `key` is (`Ok`) or would go (`Err`).
    fn position(&self, key: &CardKey) -> Result<usize, usize> {
        let range = self.index.range(key);
        let start = range.start;
        match self.entries.get(range) {
            Some(bucket) => bucket
                .binary_search(key)
                .map(|i| start + i)
                .map_err(|i| start + i),
            // Only if the index and the entries disagree, which `rebuild` prevents.
            None => self.entries.binary_search(key),
        }
    }

    /// Applies `delta`: all of it, or — on an error — nothing. Refuses a delta that does not
    /// apply to this list's version, is under another salt, adds a listed key or removes an
    /// unlisted one. O(entries + changes): removals are compacted in place and additions merged
    /// from the end, so the entries are never held twice.
    pub fn apply(&mut self, delta: &DenyDelta) -> Result<DeltaApplied, DeltaError> {
        if delta.salt() != self.salt() {
            return Err(DeltaError::SaltMismatch);
        }
        if delta.base != self.version {
            return Err(DeltaError::VersionMismatch {
                current: self.version,
                base: delta.base,
            });
        }
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        for (position, change) in delta.changes.iter().enumerate() {
            match (change, self.contains(change.key())) {
                (Change::Add(_), true) => return Err(DeltaError::AlreadyPresent { position }),
                (Change::Remove(_), false) => return Err(DeltaError::NotPresent { position }),
                (Change::Add(key), false) => adds.push(*key),
                (Change::Remove(key), true) => removes.push(*key),
            }
        }
        let new_len = self.entries.len() - removes.len() + adds.len();
        if new_len >= u32::MAX as usize {
            return Err(DenyListError::TooLarge.into());
        }
        // Removals: both sequences are sorted, so one walk finds them.
        if !removes.is_empty() {
            let mut next = removes.iter().peekable();
            self.entries.retain(|key| {
                while next.peek().is_some_and(|r| *r < key) {
                    next.next();
                }
                if next.peek() == Some(&key) {
                    next.next();
                    false
                } else {
                    true
                }
            });
        }
        // Additions: grow, then merge from the back (each entry moves once).
        if !adds.is_empty() {
            let old_len = self.entries.len();
            self.entries.reserve_exact(adds.len());
            self.entries
                .resize(old_len + adds.len(), CardKey([0; CardKey::LEN]));
            let (mut i, mut j, mut k) = (old_len, adds.len(), self.entries.len());
            while j > 0 {
                k -= 1;
                if i > 0 && self.entries[i - 1] > adds[j - 1] {
                    self.entries[k] = self.entries[i - 1];
                    i -= 1;
                } else {
                    self.entries[k] = adds[j - 1];
                    j -= 1;
                }
            }
        }
        self.index = PrefixIndex::build(&self.entries);
        self.version = delta.version;
        Ok(DeltaApplied {
            added: adds.len(),
            removed: removes.len(),
            version: self.version,
        })
    }
}

impl DenyCheck for DenyList {
    fn is_denied(&self, pan: &Pan, psn: Option<u8>) -> bool {
        DenyList::is_denied(self, pan, psn)
    }
}

impl fmt::Debug for DenyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DenyList")
            .field("version", &self.version)
            .field("entries", &self.entries.len())
            .field("salt", self.salt())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::format;
    use alloc::string::String;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn salt() -> Salt {
        Salt::new(&hex::decode("000102030405060708090A0B0C0D0E0F").unwrap()).unwrap()
    }

    fn pan(digits: &str) -> Pan {
        Pan::from_digits(digits).unwrap()
    }

    /// HMAC-SHA-256 written out from RFC 2104 over the `sha2` crate alone (key ≤ 64 bytes).
    fn reference_hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5C))
            .chain_update(inner)
            .finalize()
            .into()
    }

    #[test]
    fn card_key_is_the_documented_hmac_and_stable() {
        let key = card_key(&salt(), &pan("6228480012345671"), Some(0x01));
        let expected = reference_hmac(
            salt().as_bytes(),
            b"quickpass-deny-list/1|6228480012345671|01",
        );
        assert_eq!(key.as_bytes()[..], expected[..16]);
        // Pinned: a change of the derivation breaks every list the back office has issued.
        assert_eq!(
            hex::encode_upper(key.as_bytes()),
            "A449A93141AF542B8B1B285E4305D750",
            "card key derivation changed (value from Python's hmac module)"
        );
        let absent = card_key(&salt(), &pan("6228480012345671"), None);
        let expected = reference_hmac(
            salt().as_bytes(),
            b"quickpass-deny-list/1|6228480012345671|",
        );
        assert_eq!(absent.as_bytes()[..], expected[..16]);
        // A non-BCD byte (the flows refuse such a card earlier) still has its own key.
        let odd = card_key(&salt(), &pan("6228480012345671"), Some(0xAB));
        let expected = reference_hmac(
            salt().as_bytes(),
            b"quickpass-deny-list/1|6228480012345671|AB",
        );
        assert_eq!(odd.as_bytes()[..], expected[..16]);
    }

    #[test]
    fn psn_absent_zero_and_others_are_different_cards() {
        let hasher = CardHasher::new(salt());
        let card = pan("6250940012345675");
        let keys: BTreeSet<CardKey> = [None, Some(0x00), Some(0x01), Some(0x10)]
            .into_iter()
            .map(|psn| hasher.card_key(&card, psn))
            .collect();
        assert_eq!(keys.len(), 4);
        let list = DenyList::from_keys(salt(), 1, [hasher.card_key(&card, Some(0x00))]).unwrap();
        assert!(list.is_denied(&card, Some(0x00)));
        assert!(!list.is_denied(&card, None), "absent is not 00");
        assert!(
            !list.is_denied(&card, Some(0x01)),
            "another PSN, another card"
        );
        // Another salt, another key for the same card.
        let other = Salt::new(&[0x55; 32]).unwrap();
        assert_ne!(
            card_key(&other, &card, Some(0)),
            hasher.card_key(&card, Some(0))
        );
        // A PAN that is a prefix of another does not share keys through the separator.
        assert_ne!(
            hasher.card_key(&pan("625094001234567"), Some(0x50)),
            hasher.card_key(&card, None)
        );
    }

    #[test]
    fn salt_lengths() {
        assert_eq!(
            Salt::new(&[0; 15]),
            Err(DenyListError::SaltLength { len: 15 })
        );
        assert_eq!(
            Salt::new(&[0; 65]),
            Err(DenyListError::SaltLength { len: 65 })
        );
        assert!(Salt::new(&[0; 16]).is_ok() && Salt::new(&[0; 64]).is_ok());
    }

    fn key(n: u32) -> CardKey {
        let tag = reference_hmac(b"test keys, not a salt", &n.to_be_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag[..16]);
        CardKey(bytes)
    }

    fn list_of(version: u64, keys: impl IntoIterator<Item = u32>) -> DenyList {
        DenyList::from_keys(salt(), version, keys.into_iter().map(key)).unwrap()
    }

    #[test]
    fn from_sorted_refuses_disorder_and_repeats() {
        let mut keys: Vec<CardKey> = (0..5).map(key).collect();
        keys.sort();
        assert!(DenyList::from_sorted(salt(), 1, keys.clone()).is_ok());
        let mut repeated = keys.clone();
        repeated[3] = repeated[2];
        assert_eq!(
            DenyList::from_sorted(salt(), 1, repeated).unwrap_err(),
            DenyListError::Duplicate { position: 3 }
        );
        let mut swapped = keys.clone();
        swapped.swap(1, 2);
        assert_eq!(
            DenyList::from_sorted(salt(), 1, swapped).unwrap_err(),
            DenyListError::NotAscending { position: 2 }
        );
    }

    #[test]
    fn delta_must_follow_the_current_version() {
        let mut list = list_of(7, 0..10);
        let delta = |base, version| {
            DenyDelta::new(salt(), base, version, alloc::vec![Change::Add(key(100))])
        };
        assert_eq!(
            delta(7, 7).unwrap_err(),
            DeltaError::NotNewer {
                base: 7,
                version: 7
            }
        );
        assert_eq!(
            delta(7, 6).unwrap_err(),
            DeltaError::NotNewer {
                base: 7,
                version: 6
            }
        );
        for base in [6, 8] {
            assert_eq!(
                list.apply(&delta(base, 9).unwrap()).unwrap_err(),
                DeltaError::VersionMismatch { current: 7, base }
            );
        }
        assert_eq!(
            list.apply(&delta(7, 9).unwrap()).unwrap(),
            DeltaApplied {
                added: 1,
                removed: 0,
                version: 9
            }
        );
        assert!(list.contains(&key(100)));
        // The same delta again no longer follows.
        assert_eq!(
            list.apply(&delta(7, 9).unwrap()).unwrap_err(),
            DeltaError::VersionMismatch {
                current: 9,
                base: 7
            }
        );
        // Another salt.
        let foreign = DenyDelta::new(Salt::new(&[1; 16]).unwrap(), 9, 10, Vec::new()).unwrap();
        assert_eq!(list.apply(&foreign).unwrap_err(), DeltaError::SaltMismatch);
        assert_eq!(list.version(), 9);
    }

    #[test]
    fn remove_of_an_absent_key_and_add_of_a_present_one_change_nothing() {
        let mut list = list_of(1, 0..100);
        let before: Vec<CardKey> = list.iter().copied().collect();
        let delta = DenyDelta::new(
            salt(),
            1,
            2,
            alloc::vec![Change::Add(key(500)), Change::Remove(key(501))],
        )
        .unwrap();
        let position = delta
            .changes()
            .iter()
            .position(|c| *c == Change::Remove(key(501)))
            .unwrap();
        assert_eq!(
            list.apply(&delta).unwrap_err(),
            DeltaError::NotPresent { position }
        );
        let delta = DenyDelta::new(
            salt(),
            1,
            2,
            alloc::vec![Change::Remove(key(5)), Change::Add(key(6))],
        )
        .unwrap();
        let position = delta
            .changes()
            .iter()
            .position(|c| *c == Change::Add(key(6)))
            .unwrap();
        assert_eq!(
            list.apply(&delta).unwrap_err(),
            DeltaError::AlreadyPresent { position }
        );
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), before);
        assert_eq!(list.version(), 1);
        assert!(list.contains(&key(5)) && !list.contains(&key(500)));
    }

    #[test]
    fn a_key_twice_in_a_delta_is_refused() {
        for changes in [
            alloc::vec![Change::Add(key(1)), Change::Add(key(1))],
            alloc::vec![Change::Add(key(1)), Change::Remove(key(1))],
        ] {
            assert_eq!(
                DenyDelta::new(salt(), 1, 2, changes).unwrap_err(),
                DeltaError::DuplicateKey { key: key(1) }
            );
        }
        // from_keys merges repeats (building from a back-office export).
        assert_eq!(list_of(1, [1, 1, 2]).len(), 2);
    }

    #[test]
    fn debug_shows_counts_not_entries() {
        let list = list_of(3, 0..1000);
        let text = format!("{list:?}");
        assert_eq!(
            text,
            "DenyList { version: 3, entries: 1000, salt: Salt(16 bytes) }"
        );
        let first = hex::encode_upper(list.iter().next().unwrap().as_bytes());
        assert!(!text.contains(&first[..8]));
        let delta = DenyDelta::between(&list_of(1, 0..10), &list_of(2, 5..20)).unwrap();
        assert_eq!(
            format!("{delta:?}"),
            "DenyDelta { base: 1, version: 2, adds: 10, removes: 5 }"
        );
        let shown = format!("{:?}", key(1));
        assert_eq!(shown.len(), "CardKey(12345678…)".len());
        let text: String = format!("{:?}", CardHasher::new(salt()));
        assert!(!text.contains("0001020304"), "{text}");
    }

    #[test]
    fn lookups_through_the_index_at_every_size() {
        for n in [0u32, 1, 2, 7, 8, 9, 33, 1000, 5000] {
            let list = list_of(1, 0..n);
            assert_eq!(list.len(), n as usize);
            for i in 0..n {
                assert!(list.contains(&key(i)), "n = {n}, key {i}");
            }
            for i in n..n + 200 {
                assert!(!list.contains(&key(i)), "n = {n}, key {i}");
            }
            // Keys at the extremes of the key space.
            assert!(!list.contains(&CardKey([0; 16])));
            assert!(!list.contains(&CardKey([0xFF; 16])));
        }
        let list = DenyList::from_keys(salt(), 1, [CardKey([0; 16]), CardKey([0xFF; 16])]).unwrap();
        assert!(list.contains(&CardKey([0; 16])) && list.contains(&CardKey([0xFF; 16])));
    }

    #[test]
    fn dyn_deny_check() {
        let hasher = CardHasher::new(salt());
        let card = pan("6228480012345671");
        let list = DenyList::from_keys(salt(), 1, [hasher.card_key(&card, Some(1))]).unwrap();
        let check: &dyn DenyCheck = &list;
        assert!(check.is_denied(&card, Some(1)));
        assert!(!check.is_denied(&pan("6228480012345689"), Some(1)));
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        /// A delta with these adds and removes (keys from a small space, so they collide).
        Delta { adds: Vec<u8>, removes: Vec<u8> },
        /// A delta built against a wrong base version: this far below (true) or above it.
        WrongBase(u8, bool),
        /// A full reload from the model's keys.
        Reload,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (
                proptest::collection::vec(0u8..48, 0..8),
                proptest::collection::vec(0u8..48, 0..8)
            )
                .prop_map(|(adds, removes)| Op::Delta { adds, removes }),
            1 => (1u8..4, any::<bool>()).prop_map(|(off, below)| Op::WrongBase(off, below)),
            1 => Just(Op::Reload),
        ]
    }

    proptest! {
        /// `DenyList` agrees with a `BTreeSet` model under random deltas (valid or not) and
        /// reloads: membership of every key of the space, length, order, version.
        #[test]
        fn agrees_with_a_btreeset_model(ops in proptest::collection::vec(op(), 1..40)) {
            let mut list = DenyList::new(salt(), 0);
            let mut model: BTreeSet<CardKey> = BTreeSet::new();
            let mut version = 0u64;
            for op in ops {
                match op {
                    Op::Delta { adds, removes } => {
                        let changes: Vec<Change> = adds.iter().map(|&n| Change::Add(key(n.into())))
                            .chain(removes.iter().map(|&n| Change::Remove(key(n.into()))))
                            .collect();
                        let mut seen = BTreeSet::new();
                        let unique = changes.iter().all(|c| seen.insert(*c.key()));
                        let valid = changes.iter().all(|c| match c {
                            Change::Add(k) => !model.contains(k),
                            Change::Remove(k) => model.contains(k),
                        });
                        match DenyDelta::new(salt(), version, version + 1, changes.clone()) {
                            Err(e) => {
                                prop_assert!(!unique, "refused a delta without repeats: {e}");
                                prop_assert!(matches!(e, DeltaError::DuplicateKey { .. }), "{e}");
                            }
                            Ok(delta) => {
                                prop_assert!(unique);
                                match list.apply(&delta) {
                                    Ok(applied) => {
                                        prop_assert!(valid);
                                        for change in &changes {
                                            match change {
                                                Change::Add(k) => model.insert(*k),
                                                Change::Remove(k) => model.remove(k),
                                            };
                                        }
                                        version += 1;
                                        prop_assert_eq!(applied.version, version);
                                        prop_assert_eq!(applied.added, adds.len());
                                        prop_assert_eq!(applied.removed, removes.len());
                                    }
                                    Err(e) => {
                                        prop_assert!(!valid, "refused a valid delta: {e}");
                                        prop_assert!(
                                            matches!(
                                                e,
                                                DeltaError::AlreadyPresent { .. }
                                                    | DeltaError::NotPresent { .. }
                                            ),
                                            "{e}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                    Op::WrongBase(off, below) => {
                        let base = if below {
                            version.checked_sub(off.into())
                        } else {
                            Some(version + u64::from(off))
                        };
                        if let Some(base) = base {
                            let delta = DenyDelta::new(salt(), base, base + 1, Vec::new()).unwrap();
                            prop_assert_eq!(
                                list.apply(&delta).unwrap_err(),
                                DeltaError::VersionMismatch { current: version, base }
                            );
                        }
                    }
                    Op::Reload => {
                        version += 1;
                        let reloaded = DenyList::from_keys(salt(), version, model.iter().copied()).unwrap();
                        // The delta between the two lists takes the old one to the new.
                        let delta = DenyDelta::between(&list, &reloaded).unwrap();
                        let mut patched = list.clone();
                        patched.apply(&delta).unwrap();
                        prop_assert!(patched.iter().eq(reloaded.iter()));
                        list = reloaded;
                    }
                }
                prop_assert_eq!(list.version(), version);
                prop_assert_eq!(list.len(), model.len());
                prop_assert!(list.iter().eq(model.iter()));
                for n in 0..48u32 {
                    prop_assert_eq!(list.contains(&key(n)), model.contains(&key(n)));
                }
            }
        }
    }
}
