//! The bounded memo shared by RSA and SM2 keys: what a key already computed on public, static
//! inputs (certificates, SSAD), keyed by the exact input bytes.
//!
//! Lookups go through a 64-bit fingerprint of the key bytes (a multiply–xorshift mix, a few
//! cycles per 8 bytes: the memo keys are 64–300 bytes and SipHash over them was a measurable
//! part of a cold chain) into a `BTreeMap`; every entry under a fingerprint is then compared
//! byte for byte, so a fingerprint collision (accidental or crafted by a hostile card) costs a
//! comparison, never a wrong answer.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::borrow::Borrow;

/// How many static objects (certificates, SSAD) and child keys one key remembers. A CA key
/// signs a few issuer certificates; an issuer key signs many ICC certificates. The bound keeps a
/// terminal's memory flat over millions of taps (oldest entries go first): at most 64 issuer
/// keys per CA key, each remembering at most 64 cards, about 5 MB in the worst case.
pub(crate) const MEMO_CAPACITY: usize = 64;

/// A map from byte strings that forgets its oldest entry beyond [`MEMO_CAPACITY`].
pub(crate) struct BoundedMap<K, V> {
    /// Fingerprint → the entries with that fingerprint (almost always one), each with the
    /// insertion number that identifies it in `order`.
    map: BTreeMap<u64, Vec<(u64, K, V)>>,
    /// (fingerprint, insertion number) of every entry, oldest first.
    order: VecDeque<(u64, u64)>,
    /// The next insertion number.
    next: u64,
}

impl<K, V> Default for BoundedMap<K, V> {
    fn default() -> Self {
        BoundedMap {
            map: BTreeMap::new(),
            order: VecDeque::new(),
            next: 0,
        }
    }
}

impl<K: Borrow<[u8]>, V: Clone> BoundedMap<K, V> {
    /// The value stored under a key equal to `key` (full equality, never a fingerprint alone).
    pub(crate) fn get(&self, key: &[u8]) -> Option<V> {
        self.map
            .get(&fingerprint(key))?
            .iter()
            .find(|(_, k, _)| k.borrow() == key)
            .map(|(_, _, v)| v.clone())
    }

    /// Stores `value` under `key` (unless an equal key is there already), forgetting the
    /// oldest entry beyond [`MEMO_CAPACITY`].
    pub(crate) fn insert(&mut self, key: K, value: V) {
        let print = fingerprint(key.borrow());
        let bucket = self.map.entry(print).or_default();
        if bucket.iter().any(|(_, k, _)| k.borrow() == key.borrow()) {
            return;
        }
        let id = self.next;
        self.next += 1;
        bucket.push((id, key, value));
        self.order.push_back((print, id));
        if self.order.len() > MEMO_CAPACITY {
            if let Some((print, id)) = self.order.pop_front() {
                if let Some(bucket) = self.map.get_mut(&print) {
                    bucket.retain(|(i, _, _)| *i != id);
                    if bucket.is_empty() {
                        self.map.remove(&print);
                    }
                }
            }
        }
    }

    /// Number of entries (at most [`MEMO_CAPACITY`]).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let entries = self.map.values().map(Vec::len).sum::<usize>();
        debug_assert_eq!(entries, self.order.len());
        entries
    }
}

/// A 64-bit fingerprint of `bytes`: not cryptographic, only a fast spread of the bits (8 bytes
/// a step, a multiply and a rotate each, a final avalanche). The length is mixed in first.
fn fingerprint(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    h = (h ^ tail).wrapping_mul(K);
    // Final mix (SplitMix64's), so every input bit reaches every output bit.
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is a test failure
mod tests {
    use super::*;
    use alloc::boxed::Box;

    /// Entries that share a fingerprint are told apart by their bytes; eviction removes exactly
    /// the oldest entry even inside a shared bucket.
    #[test]
    fn collisions_compare_bytes_and_evict_oldest() {
        let mut map: BoundedMap<Box<[u8]>, u32> = BoundedMap::default();
        // Force collisions by inserting under one fingerprint directly.
        let keys: Vec<Box<[u8]>> = (0..3u8).map(|i| vec![i; 40].into_boxed_slice()).collect();
        let print = 42;
        for (i, key) in keys.iter().enumerate() {
            let id = map.next;
            map.next += 1;
            map.map
                .entry(print)
                .or_default()
                .push((id, key.clone(), i as u32));
            map.order.push_back((print, id));
        }
        let lookup = |map: &BoundedMap<Box<[u8]>, u32>, key: &[u8]| {
            map.map
                .get(&print)?
                .iter()
                .find(|(_, k, _)| &k[..] == key)
                .map(|(_, _, v)| *v)
        };
        assert_eq!(lookup(&map, &keys[1]), Some(1));
        for i in 0..MEMO_CAPACITY as u32 {
            map.insert(i.to_be_bytes().to_vec().into_boxed_slice(), 100 + i);
        }
        assert_eq!(map.len(), MEMO_CAPACITY);
        // The three colliding entries were the oldest: all gone, their bucket removed.
        assert!(!map.map.contains_key(&print));
        assert_eq!(map.get(&5u32.to_be_bytes()), Some(105));
    }

    #[test]
    fn equal_keys_are_stored_once_and_lengths_differ() {
        let mut map: BoundedMap<Box<[u8]>, u8> = BoundedMap::default();
        map.insert(Box::from(&b"abc"[..]), 1);
        map.insert(Box::from(&b"abc"[..]), 2);
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(b"abc"), Some(1));
        assert_eq!(map.get(b"abc\0"), None);
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abc\0"));
        assert_ne!(fingerprint(&[0; 8]), fingerprint(&[0; 16]));
    }
}
