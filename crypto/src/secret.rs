//! Owned secret key bytes that are wiped on drop and never printed.
//!
//! Every key derived by this crate ([`crate::emv`], [`crate::purse`]) is returned as a
//! [`SecretKey`]. Functions that *take* a key of a fixed length accept anything that implements
//! [`KeyMaterial<N>`]: a plain `[u8; N]` array, or a [`SecretKey`] of exactly `N` bytes.

use alloc::vec::Vec;
use core::fmt;

use sm2::elliptic_curve::subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret key bytes (DES, 3DES, SM4, AES keys and the like).
///
/// The bytes are zeroised when the value is dropped, `Debug` shows only the length
/// (`SecretKey { len: 16 }`), and equality is compared in constant time.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::secret::SecretKey;
///
/// let key = SecretKey::new(&[0x11; 16]);
/// assert_eq!(key.len(), 16);
/// assert_eq!(format!("{key:?}"), "SecretKey { len: 16 }");
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    bytes: Vec<u8>,
}

impl SecretKey {
    /// Copies `bytes` into a new secret key. The caller remains responsible for wiping its own
    /// copy.
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
        }
    }

    /// The raw key bytes.
    ///
    /// # Hazardous
    ///
    /// This exposes the secret. Do not log it, copy it into long-lived buffers or compare it
    /// with `==` on slices (not constant time); pass the `SecretKey` itself to this crate's
    /// functions instead.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Key length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` for a zero-length key.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A copy with every byte adjusted to odd parity (DES convention, FIPS 46-3: the least
    /// significant bit of each byte is the parity bit). DES ignores these bits, so the adjusted
    /// key encrypts exactly like the original; some HSMs and test sources print keys this way.
    pub fn with_odd_parity(&self) -> SecretKey {
        let mut out = self.clone();
        for b in out.bytes.iter_mut() {
            let high = *b & 0xFE;
            *b = high | u8::from(high.count_ones() % 2 == 0);
        }
        out
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl PartialEq for SecretKey {
    /// Constant-time in the key contents (the lengths are not secret).
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for SecretKey {}

impl<const N: usize> From<[u8; N]> for SecretKey {
    fn from(bytes: [u8; N]) -> Self {
        Self::new(&bytes)
    }
}

/// Key material of exactly `N` bytes: a `[u8; N]` or a [`SecretKey`] whose length is `N`.
///
/// Functions of this crate that need a fixed-length key take `&impl KeyMaterial<N>` and report a
/// typed length error when a `SecretKey` of another length is passed.
pub trait KeyMaterial<const N: usize> {
    /// The key as a fixed-size array, or `None` if its length is not `N`.
    ///
    /// # Hazardous
    ///
    /// Exposes the secret bytes (see [`SecretKey::as_bytes`]).
    fn key_bytes(&self) -> Option<&[u8; N]>;

    /// The actual length of the key, for error messages.
    fn key_len(&self) -> usize;
}

impl<const N: usize> KeyMaterial<N> for [u8; N] {
    fn key_bytes(&self) -> Option<&[u8; N]> {
        Some(self)
    }

    fn key_len(&self) -> usize {
        N
    }
}

impl<const N: usize> KeyMaterial<N> for SecretKey {
    fn key_bytes(&self) -> Option<&[u8; N]> {
        self.bytes.as_slice().try_into().ok()
    }

    fn key_len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_bytes() {
        let key = SecretKey::new(&[0xAB; 8]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "SecretKey { len: 8 }");
        assert!(!shown.contains("AB") && !shown.contains("ab") && !shown.contains("171"));
    }

    #[test]
    fn odd_parity() {
        let key = SecretKey::new(&[0x00, 0x01, 0x02, 0x03, 0xFE, 0xFF]);
        assert_eq!(
            key.with_odd_parity().as_bytes(),
            &[0x01, 0x01, 0x02, 0x02, 0xFE, 0xFE]
        );
    }

    #[test]
    fn key_material_lengths() {
        let key = SecretKey::new(&[1; 16]);
        assert!(KeyMaterial::<16>::key_bytes(&key).is_some());
        assert!(KeyMaterial::<8>::key_bytes(&key).is_none());
        assert_eq!(KeyMaterial::<8>::key_len(&key), 16);
    }

    #[test]
    fn equality() {
        assert_eq!(SecretKey::new(&[1, 2]), SecretKey::from([1u8, 2]));
        assert_ne!(SecretKey::new(&[1, 2]), SecretKey::new(&[1, 3]));
        assert_ne!(SecretKey::new(&[1, 2]), SecretKey::new(&[1, 2, 3]));
    }
}
