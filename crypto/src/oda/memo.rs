//! The bounded memo shared by RSA and SM2 keys: what a key already computed on public, static
//! inputs (certificates, SSAD), keyed by the exact input bytes.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// How many static objects (certificates, SSAD) and child keys one key remembers. A CA key
/// signs a few issuer certificates; an issuer key signs many ICC certificates. The bound keeps a
/// terminal's memory flat over millions of taps (oldest entries go first): at most 64 issuer
/// keys per CA key, each remembering at most 64 cards, about 5 MB in the worst case.
pub(crate) const MEMO_CAPACITY: usize = 64;

/// A map that forgets its oldest entry beyond [`MEMO_CAPACITY`].
pub(crate) struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for BoundedMap<K, V> {
    fn default() -> Self {
        BoundedMap {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedMap<K, V> {
    /// The value stored under a key equal to `key` (full equality, never a hash alone).
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).cloned()
    }

    /// Stores `value` under `key`, forgetting the oldest entry beyond [`MEMO_CAPACITY`].
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            if self.order.len() > MEMO_CAPACITY {
                if let Some(oldest) = self.order.pop_front() {
                    self.map.remove(&oldest);
                }
            }
        }
    }

    /// Number of entries (at most [`MEMO_CAPACITY`]).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.map.len(), self.order.len());
        self.map.len()
    }
}
