//! ISO/IEC 9797-1 MAC algorithms 1–3 and padding methods 1–3 (vectors README §3.3), and
//! HMAC-SHA-256 (RFC 2104, FIPS 198-1) as a keyed hash ([`HmacSha256`]).
//!
//! EMV uses algorithm 3 with DES ("retail MAC", EMV Book 2 Annex A1.2.1) for application
//! cryptograms and secure messaging; the PBOC purse uses algorithm 1 with single DES
//! ([`crate::purse`]). The functions here return the **full** final block; truncation belongs to
//! the scheme that uses the MAC.
//!
//! # Hazardous
//!
//! Plain CBC-MAC (algorithm 1) is only secure for messages of a fixed length or with an
//! unambiguous padding; use it only where a spec demands it.

use alloc::{vec, vec::Vec};
use thiserror::Error;

use crate::cipher::{BlockCipher, CipherAlgorithm, CipherError};

/// ISO/IEC 9797-1 MAC algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// Algorithm 1: plain CBC-MAC, MAC = H_q. Key K.
    Alg1,
    /// Algorithm 2: MAC = e_K′(H_q). Key K‖K′.
    Alg2,
    /// Algorithm 3: MAC = e_K(d_K′(H_q)) ("retail MAC" with DES). Key K‖K′.
    Alg3,
}

/// ISO/IEC 9797-1 padding method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Padding {
    /// Method 1: append `00` bytes up to a multiple of the block size (nothing if already
    /// aligned); an empty message becomes one block of `00`.
    Method1,
    /// Method 2: append `80`, then `00` bytes up to a multiple of the block size (EMV, PBOC).
    Method2,
    /// Method 3: a block holding the bit length of the message, then the message padded as
    /// method 1 (nothing added if already aligned, an empty message adds no block).
    Method3,
}

impl Padding {
    /// The padding for the ISO/IEC 9797-1 method number (1, 2 or 3).
    pub const fn from_method(method: u8) -> Option<Self> {
        match method {
            1 => Some(Padding::Method1),
            2 => Some(Padding::Method2),
            3 => Some(Padding::Method3),
            _ => None,
        }
    }
}

/// A MAC could not be computed because of the caller's inputs.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MacError {
    /// Algorithms 2 and 3 take K‖K′: the key length must be twice a valid key length.
    #[error("invalid MAC key length {len} for {algorithm:?} with {cipher:?}")]
    InvalidKeyLength {
        /// The MAC algorithm.
        algorithm: MacAlgorithm,
        /// The block cipher.
        cipher: CipherAlgorithm,
        /// The length given.
        len: usize,
    },
    /// The IV is not exactly one block.
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

/// Pads `message` with ISO/IEC 9797-1 `padding` for blocks of `block_size` bytes (8 for DES and
/// 3DES, 16 for SM4 and AES).
///
/// A `block_size` of 0 is treated as 1. For method 3 the length block holds the bit length of
/// the message big-endian, right-aligned in the block.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::mac::{pad, Padding};
///
/// assert_eq!(pad(Padding::Method2, 8, &[1, 2, 3]), [1, 2, 3, 0x80, 0, 0, 0, 0]);
/// assert_eq!(pad(Padding::Method1, 8, &[]), [0; 8]);
/// ```
pub fn pad(padding: Padding, block_size: u8, message: &[u8]) -> Vec<u8> {
    pad_to(padding, usize::from(block_size.max(1)), message)
}

/// [`pad`] for an internal block size `n` ≥ 1 (always 8 or 16 here).
pub(crate) fn pad_to(padding: Padding, n: usize, message: &[u8]) -> Vec<u8> {
    let n = n.max(1);
    let zero_fill = |v: &mut Vec<u8>| {
        let rem = v.len() % n;
        if rem != 0 {
            v.resize(v.len() + (n - rem), 0);
        }
    };
    match padding {
        Padding::Method1 => {
            let mut v = message.to_vec();
            if v.is_empty() {
                v.resize(n, 0);
            }
            zero_fill(&mut v);
            v
        }
        Padding::Method2 => {
            let mut v = Vec::with_capacity(message.len() + n);
            v.extend_from_slice(message);
            v.push(0x80);
            zero_fill(&mut v);
            v
        }
        Padding::Method3 => {
            // usize always fits in u128, so the bit length cannot overflow.
            let bits = (message.len() as u128).saturating_mul(8).to_be_bytes();
            let mut v = vec![0u8; n];
            let take = n.min(bits.len());
            v[n - take..].copy_from_slice(&bits[bits.len() - take..]);
            v.extend_from_slice(message);
            zero_fill(&mut v);
            v
        }
    }
}

/// CBC chaining H_i = e(H_{i-1} ⊕ D_i) over already padded `data` (whole blocks), starting from
/// `h` (one block); leaves H_q in `h`.
pub(crate) fn cbc_mac_chain(e: &BlockCipher, h: &mut [u8], padded: &[u8]) {
    let n = e.block_size();
    for block in padded.chunks_exact(n) {
        for (x, d) in h.iter_mut().zip(block) {
            *x ^= d;
        }
        e.encrypt_block_unchecked(h);
    }
}

/// ISO/IEC 9797-1 MAC algorithm `alg` with block cipher `cipher`, padding `padding` and optional
/// initial value `iv` (default zero). Returns the full final block.
///
/// `key` is K for algorithm 1 and K‖K′ (two keys of `cipher`, split in the middle) for
/// algorithms 2 and 3 — e.g. 16 bytes for DES.
///
/// # Examples
///
/// ISO/IEC 9797-1 Annex B, algorithm 3, padding 2:
///
/// ```
/// use quickpass_crypto::cipher::CipherAlgorithm;
/// use quickpass_crypto::mac::{iso9797_1_mac, MacAlgorithm, Padding};
///
/// let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
/// let mac = iso9797_1_mac(
///     MacAlgorithm::Alg3,
///     CipherAlgorithm::Des,
///     &key,
///     Padding::Method2,
///     b"Now is the time for all ",
///     None,
/// )
/// .unwrap();
/// assert_eq!(hex::encode_upper(mac), "E9086230CA3BE796");
/// ```
pub fn iso9797_1_mac(
    alg: MacAlgorithm,
    cipher: CipherAlgorithm,
    key: &[u8],
    padding: Padding,
    message: &[u8],
    iv: Option<&[u8]>,
) -> Result<Vec<u8>, MacError> {
    let bad_key = || MacError::InvalidKeyLength {
        algorithm: alg,
        cipher,
        len: key.len(),
    };
    let (k, k_prime) = match alg {
        MacAlgorithm::Alg1 => (key, None),
        MacAlgorithm::Alg2 | MacAlgorithm::Alg3 => {
            if key.len() % 2 != 0 {
                return Err(bad_key());
            }
            let (a, b) = key.split_at(key.len() / 2);
            (a, Some(b))
        }
    };
    if !cipher.is_valid_key_len(k.len()) {
        return Err(bad_key());
    }
    let e = BlockCipher::new(cipher, k)?;
    let e_prime = k_prime.map(|kp| BlockCipher::new(cipher, kp)).transpose()?;

    let n = cipher.block_size();
    let mut h = match iv {
        None => vec![0u8; n],
        Some(iv) if iv.len() == n => iv.to_vec(),
        Some(iv) => {
            return Err(CipherError::InvalidIvLength {
                len: iv.len(),
                block_size: n,
            }
            .into())
        }
    };
    cbc_mac_chain(&e, &mut h, &pad_to(padding, n, message));
    match (alg, e_prime) {
        (MacAlgorithm::Alg2, Some(e2)) => e2.encrypt_block_unchecked(&mut h),
        (MacAlgorithm::Alg3, Some(e2)) => {
            e2.decrypt_block_unchecked(&mut h);
            e.encrypt_block_unchecked(&mut h);
        }
        _ => {}
    }
    Ok(h)
}

/// ISO/IEC 9797-1 algorithm 3 with single DES, K‖K′ = `key`, zero IV: the EMV "retail MAC"
/// (EMV Book 2 Annex A1.2.1). Returns the full 8-byte MAC.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::mac::{retail_mac, Padding};
///
/// let key: [u8; 16] = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap().try_into().unwrap();
/// let mac = retail_mac(&key, b"Now is the time for it", Padding::Method1);
/// assert_eq!(hex::encode_upper(mac), "2E2B1428CC78254F");
/// ```
pub fn retail_mac(key: &[u8; 16], data: &[u8], padding: Padding) -> [u8; 8] {
    let (k, k_prime) = split_16(key);
    let e = BlockCipher::des(&k);
    let e_prime = BlockCipher::des(&k_prime);
    let mut h = [0u8; 8];
    cbc_mac_chain(&e, &mut h, &pad_to(padding, 8, data));
    e_prime.decrypt_block_unchecked(&mut h);
    e.encrypt_block_unchecked(&mut h);
    h
}

/// ISO/IEC 9797-1 algorithm 1 with single DES, zero IV; full 8-byte result.
pub(crate) fn des_cbc_mac(key: &[u8; 8], data: &[u8], padding: Padding) -> [u8; 8] {
    let mut h = [0u8; 8];
    cbc_mac_chain(&BlockCipher::des(key), &mut h, &pad_to(padding, 8, data));
    h
}

/// Splits a 16-byte key into its two 8-byte halves.
pub(crate) fn split_16(key: &[u8; 16]) -> ([u8; 8], [u8; 8]) {
    let mut l = [0u8; 8];
    let mut r = [0u8; 8];
    l.copy_from_slice(&key[..8]);
    r.copy_from_slice(&key[8..]);
    (l, r)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn padding_methods() {
        assert_eq!(pad(Padding::Method1, 8, &[1; 8]), vec![1; 8]);
        assert_eq!(pad(Padding::Method2, 8, &[1; 8]).len(), 16);
        assert_eq!(pad(Padding::Method2, 8, &[]), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(pad(Padding::Method3, 8, &[]), [0; 8]);
        assert_eq!(
            pad(Padding::Method3, 8, &[0xAA]),
            [0, 0, 0, 0, 0, 0, 0, 8, 0xAA, 0, 0, 0, 0, 0, 0, 0]
        );
        let p = pad(Padding::Method3, 16, &[0xAA; 32]);
        assert_eq!(p.len(), 48);
        assert_eq!(p[15], 0);
        assert_eq!(p[14], 1);
        assert_eq!(pad(Padding::Method1, 0, &[1, 2]), [1, 2]);
    }

    #[test]
    fn retail_mac_matches_generic() {
        let key = [0x13u8; 16];
        for len in 0..20 {
            let data = vec![0x5Au8; len];
            let generic = iso9797_1_mac(
                MacAlgorithm::Alg3,
                CipherAlgorithm::Des,
                &key,
                Padding::Method2,
                &data,
                None,
            )
            .unwrap();
            assert_eq!(generic, retail_mac(&key, &data, Padding::Method2));
        }
    }

    #[test]
    fn bad_keys() {
        for (alg, len) in [
            (MacAlgorithm::Alg1, 16),
            (MacAlgorithm::Alg2, 8),
            (MacAlgorithm::Alg3, 15),
            (MacAlgorithm::Alg3, 0),
        ] {
            assert!(matches!(
                iso9797_1_mac(
                    alg,
                    CipherAlgorithm::Des,
                    &vec![0; len],
                    Padding::Method1,
                    b"x",
                    None
                ),
                Err(MacError::InvalidKeyLength { .. })
            ));
        }
        assert!(iso9797_1_mac(
            MacAlgorithm::Alg1,
            CipherAlgorithm::Des,
            &[0; 8],
            Padding::Method1,
            b"x",
            Some(&[0; 16])
        )
        .is_err());
    }
}

/// HMAC-SHA-256 (RFC 2104 / FIPS 198-1) under one key, set up once: the key's inner and outer
/// pad blocks are hashed when the value is made, so each [`HmacSha256::compute`] of a short
/// message costs two SHA-256 compressions.
///
/// Used as a keyed hash (a pseudo-random function), e.g. the deny list's card keys; the full
/// 32-byte tag is returned, truncation belongs to the scheme.
///
/// `Debug` shows nothing of the key.
///
/// # Examples
///
/// RFC 4231 test case 2:
///
/// ```
/// use quickpass_crypto::mac::HmacSha256;
///
/// let mac = HmacSha256::new(b"Jefe");
/// let tag = mac.compute(&[b"what do ya want ", b"for nothing?"]);
/// assert_eq!(
///     hex::encode(tag),
///     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
#[derive(Clone)]
pub struct HmacSha256(hmac::Hmac<sha2::Sha256>);

impl HmacSha256 {
    /// The HMAC under `key` (any length: a key longer than SHA-256's 64-byte block is hashed
    /// first, as RFC 2104 says).
    pub fn new(key: &[u8]) -> Self {
        use hmac::KeyInit as _;
        // HMAC takes keys of every length: `new_from_slice` cannot fail for it.
        match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
            Ok(mac) => HmacSha256(mac),
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    /// The tag of the concatenation of `parts`.
    pub fn compute(&self, parts: &[&[u8]]) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl core::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacSha256(..)")
    }
}
