//! Block ciphers (DES, 3DES, SM4, AES) with ECB and CBC, no padding (vectors README §3.2).
//!
//! # Hazardous
//!
//! These are raw primitives: ECB leaks equal blocks and CBC without a MAC is malleable. They
//! exist to build the EMV / PBOC algorithms of [`crate::mac`], [`crate::emv`] and
//! [`crate::purse`], and for test tooling. The ciphers themselves come from the RustCrypto
//! `des`, `sm4` and `aes` crates, the modes from `ecb` and `cbc`.

use alloc::vec::Vec;
use des::cipher::{
    common::InnerInit, Array, Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt,
    BlockModeEncrypt, BlockSizeUser, InnerIvInit, KeyInit,
};
use thiserror::Error;

/// A block cipher algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherAlgorithm {
    /// Single DES (FIPS 46-3), 8-byte key, 8-byte block.
    Des,
    /// Triple DES EDE (ISO/IEC 18033-3, "3DES" of EMV Book 2 Annex A1.1): 16-byte key K1‖K2
    /// (two-key, E = e_K1 ∘ d_K2 ∘ e_K1) or 24-byte key K1‖K2‖K3; 8-byte block.
    Tdes,
    /// SM4 (GB/T 32907-2016), 16-byte key, 16-byte block.
    Sm4,
    /// AES (FIPS 197), 16, 24 or 32-byte key, 16-byte block.
    Aes,
}

impl CipherAlgorithm {
    /// Block size in bytes (8 for DES and 3DES, 16 for SM4 and AES).
    pub const fn block_size(self) -> usize {
        match self {
            CipherAlgorithm::Des | CipherAlgorithm::Tdes => 8,
            CipherAlgorithm::Sm4 | CipherAlgorithm::Aes => 16,
        }
    }

    /// Whether `len` is a valid key length for this algorithm.
    pub const fn is_valid_key_len(self, len: usize) -> bool {
        match self {
            CipherAlgorithm::Des => len == 8,
            CipherAlgorithm::Tdes => len == 16 || len == 24,
            CipherAlgorithm::Sm4 => len == 16,
            CipherAlgorithm::Aes => len == 16 || len == 24 || len == 32,
        }
    }
}

/// Misuse of a [`BlockCipher`]: all of these are caller errors.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CipherError {
    /// The key length is not valid for the algorithm.
    #[error("invalid key length {len} for {algorithm:?}")]
    InvalidKeyLength {
        /// The algorithm.
        algorithm: CipherAlgorithm,
        /// The length given.
        len: usize,
    },
    /// The IV is not exactly one block.
    #[error("invalid IV length {len}, expected {block_size}")]
    InvalidIvLength {
        /// The length given.
        len: usize,
        /// The cipher's block size.
        block_size: usize,
    },
    /// A single-block operation was given something other than exactly one block.
    #[error("block length {len}, expected {block_size}")]
    InvalidBlockLength {
        /// The length given.
        len: usize,
        /// The cipher's block size.
        block_size: usize,
    },
    /// The input is not a whole number of blocks (no padding is ever applied here).
    #[error("input length {len} is not a multiple of the block size {block_size}")]
    NotBlockAligned {
        /// The length given.
        len: usize,
        /// The cipher's block size.
        block_size: usize,
    },
}

#[derive(Clone)]
enum Inner {
    Des(des::Des),
    Tdes2(des::TdesEde2),
    Tdes3(des::TdesEde3),
    Sm4(sm4::Sm4),
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
}

/// Runs `$body` with `$c` bound to the concrete RustCrypto cipher inside `$inner`.
macro_rules! with_cipher {
    ($inner:expr, $c:ident => $body:expr) => {
        match $inner {
            Inner::Des($c) => $body,
            Inner::Tdes2($c) => $body,
            Inner::Tdes3($c) => $body,
            Inner::Sm4($c) => $body,
            Inner::Aes128($c) => $body,
            Inner::Aes192($c) => $body,
            Inner::Aes256($c) => $body,
        }
    };
}

/// A keyed block cipher.
///
/// # Hazardous
///
/// Raw block cipher access; see the [module documentation](self).
///
/// # Examples
///
/// ```
/// use quickpass_crypto::cipher::{BlockCipher, CipherAlgorithm};
///
/// let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
/// let sm4 = BlockCipher::new(CipherAlgorithm::Sm4, &key).unwrap();
/// let ct = sm4.encrypt_ecb(&key).unwrap();
/// assert_eq!(hex::encode_upper(&ct), "681EDF34D206965E86B3E94F536E4246");
/// assert_eq!(sm4.decrypt_ecb(&ct).unwrap(), key);
/// assert!(sm4.encrypt_ecb(&[0; 15]).is_err());
/// ```
#[derive(Clone)]
pub struct BlockCipher {
    algorithm: CipherAlgorithm,
    inner: Inner,
}

impl core::fmt::Debug for BlockCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the key schedule.
        f.debug_struct("BlockCipher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl BlockCipher {
    /// Keys `algorithm` with `key`. Key lengths: DES 8; 3DES 16 (K1‖K2, used as K1‖K2‖K1) or 24;
    /// SM4 16; AES 16, 24 or 32. DES parity bits are ignored, weak keys are not rejected.
    pub fn new(algorithm: CipherAlgorithm, key: &[u8]) -> Result<Self, CipherError> {
        let bad_len = || CipherError::InvalidKeyLength {
            algorithm,
            len: key.len(),
        };
        let inner = match (algorithm, key.len()) {
            (CipherAlgorithm::Des, 8) => {
                Inner::Des(des::Des::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Tdes, 16) => {
                Inner::Tdes2(des::TdesEde2::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Tdes, 24) => {
                Inner::Tdes3(des::TdesEde3::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Sm4, 16) => {
                Inner::Sm4(sm4::Sm4::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Aes, 16) => {
                Inner::Aes128(aes::Aes128::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Aes, 24) => {
                Inner::Aes192(aes::Aes192::new_from_slice(key).map_err(|_| bad_len())?)
            }
            (CipherAlgorithm::Aes, 32) => {
                Inner::Aes256(aes::Aes256::new_from_slice(key).map_err(|_| bad_len())?)
            }
            _ => return Err(bad_len()),
        };
        Ok(Self { algorithm, inner })
    }

    /// Single DES from an 8-byte key; cannot fail.
    pub fn des(key: &[u8; 8]) -> Self {
        Self {
            algorithm: CipherAlgorithm::Des,
            inner: Inner::Des(des::Des::new(&Array::from(*key))),
        }
    }

    /// Two-key 3DES (K1‖K2) from a 16-byte key; cannot fail.
    pub fn tdes2(key: &[u8; 16]) -> Self {
        Self {
            algorithm: CipherAlgorithm::Tdes,
            inner: Inner::Tdes2(des::TdesEde2::new(&Array::from(*key))),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> CipherAlgorithm {
        self.algorithm
    }

    /// Block size in bytes.
    pub fn block_size(&self) -> usize {
        self.algorithm.block_size()
    }

    fn check_block(&self, len: usize) -> Result<(), CipherError> {
        let block_size = self.block_size();
        if len == block_size {
            Ok(())
        } else {
            Err(CipherError::InvalidBlockLength { len, block_size })
        }
    }

    fn check_blocks(&self, len: usize) -> Result<(), CipherError> {
        let block_size = self.block_size();
        if len % block_size == 0 {
            Ok(())
        } else {
            Err(CipherError::NotBlockAligned { len, block_size })
        }
    }

    fn check_iv(&self, iv: &[u8]) -> Result<(), CipherError> {
        let block_size = self.block_size();
        if iv.len() == block_size {
            Ok(())
        } else {
            Err(CipherError::InvalidIvLength {
                len: iv.len(),
                block_size,
            })
        }
    }

    /// Encrypts one block in place. Internal callers guarantee `block.len() == block_size()`;
    /// anything else is left untouched.
    pub(crate) fn encrypt_block_unchecked(&self, block: &mut [u8]) {
        with_cipher!(&self.inner, c => block_op(c, block, Direction::Encrypt));
    }

    /// Decrypts one block in place; same contract as [`Self::encrypt_block_unchecked`].
    pub(crate) fn decrypt_block_unchecked(&self, block: &mut [u8]) {
        with_cipher!(&self.inner, c => block_op(c, block, Direction::Decrypt));
    }

    /// Encrypts exactly one block in place.
    pub fn encrypt_block(&self, block: &mut [u8]) -> Result<(), CipherError> {
        self.check_block(block.len())?;
        self.encrypt_block_unchecked(block);
        Ok(())
    }

    /// Decrypts exactly one block in place.
    pub fn decrypt_block(&self, block: &mut [u8]) -> Result<(), CipherError> {
        self.check_block(block.len())?;
        self.decrypt_block_unchecked(block);
        Ok(())
    }

    /// ECB encryption of whole blocks (no padding).
    pub fn encrypt_ecb(&self, data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.check_blocks(data.len())?;
        let mut out = data.to_vec();
        with_cipher!(&self.inner, c => ecb_op(c, &mut out, Direction::Encrypt));
        Ok(out)
    }

    /// ECB decryption of whole blocks (no padding).
    pub fn decrypt_ecb(&self, data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.check_blocks(data.len())?;
        let mut out = data.to_vec();
        with_cipher!(&self.inner, c => ecb_op(c, &mut out, Direction::Decrypt));
        Ok(out)
    }

    /// CBC encryption of whole blocks (no padding) with a one-block `iv`.
    pub fn encrypt_cbc(&self, iv: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.check_iv(iv)?;
        self.check_blocks(data.len())?;
        let mut out = data.to_vec();
        with_cipher!(&self.inner, c => cbc_op(c, iv, &mut out, Direction::Encrypt));
        Ok(out)
    }

    /// CBC decryption of whole blocks (no padding) with a one-block `iv`.
    pub fn decrypt_cbc(&self, iv: &[u8], data: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.check_iv(iv)?;
        self.check_blocks(data.len())?;
        let mut out = data.to_vec();
        with_cipher!(&self.inner, c => cbc_op(c, iv, &mut out, Direction::Decrypt));
        Ok(out)
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

fn block_op<C>(c: &C, block: &mut [u8], dir: Direction)
where
    C: BlockCipherEncrypt + BlockCipherDecrypt,
{
    if let Ok(b) = <&mut Block<C>>::try_from(block) {
        match dir {
            Direction::Encrypt => c.encrypt_block(b),
            Direction::Decrypt => c.decrypt_block(b),
        }
    }
}

/// `data` is a whole number of blocks (checked by the caller); a trailing partial block would be
/// left untouched.
fn ecb_op<C>(c: &C, data: &mut [u8], dir: Direction)
where
    C: BlockCipherEncrypt + BlockCipherDecrypt + BlockSizeUser,
{
    let (blocks, _) = Block::<C>::slice_as_chunks_mut(data);
    match dir {
        Direction::Encrypt => ecb::Encryptor::<&C>::inner_init(c).encrypt_blocks(blocks),
        Direction::Decrypt => ecb::Decryptor::<&C>::inner_init(c).decrypt_blocks(blocks),
    }
}

/// `iv` is one block and `data` whole blocks (checked by the caller).
fn cbc_op<C>(c: &C, iv: &[u8], data: &mut [u8], dir: Direction)
where
    C: BlockCipherEncrypt + BlockCipherDecrypt + BlockSizeUser,
{
    let (blocks, _) = Block::<C>::slice_as_chunks_mut(data);
    match dir {
        Direction::Encrypt => {
            if let Ok(mut m) = cbc::Encryptor::<&C>::inner_iv_slice_init(c, iv) {
                m.encrypt_blocks(blocks);
            }
        }
        Direction::Decrypt => {
            if let Ok(mut m) = cbc::Decryptor::<&C>::inner_iv_slice_init(c, iv) {
                m.decrypt_blocks(blocks);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_lengths() {
        for (alg, ok) in [
            (CipherAlgorithm::Des, &[8][..]),
            (CipherAlgorithm::Tdes, &[16, 24]),
            (CipherAlgorithm::Sm4, &[16]),
            (CipherAlgorithm::Aes, &[16, 24, 32]),
        ] {
            for len in 0..40 {
                assert_eq!(
                    BlockCipher::new(alg, &vec![0x5A; len]).is_ok(),
                    ok.contains(&len),
                    "{alg:?} {len}"
                );
            }
        }
    }

    #[test]
    fn tdes2_is_k1k2k1() {
        let k = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let mut k3 = k.clone();
        k3.extend_from_slice(&k[..8]);
        let a = BlockCipher::new(CipherAlgorithm::Tdes, &k).unwrap();
        let b = BlockCipher::new(CipherAlgorithm::Tdes, &k3).unwrap();
        let data = [0x42u8; 16];
        assert_eq!(a.encrypt_ecb(&data).unwrap(), b.encrypt_ecb(&data).unwrap());
    }

    #[test]
    fn des_fips81_ecb() {
        // FIPS 81 Appendix B, Table B1.
        let c = BlockCipher::des(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        let ct = c.encrypt_ecb(b"Now is the time for all ").unwrap();
        assert_eq!(
            hex::encode_upper(ct),
            "3FA40E8A984D48156A271787AB8883F9893D51EC4B563B53"
        );
    }

    #[test]
    fn bad_lengths_are_errors() {
        let c = BlockCipher::des(&[1; 8]);
        assert_eq!(
            c.encrypt_block(&mut [0; 16]),
            Err(CipherError::InvalidBlockLength {
                len: 16,
                block_size: 8
            })
        );
        assert!(c.encrypt_block(&mut [0; 7]).is_err());
        assert!(c.decrypt_block(&mut [0; 9]).is_err());
        assert!(c.encrypt_cbc(&[0; 7], &[0; 8]).is_err());
        assert!(c.decrypt_cbc(&[0; 8], &[0; 9]).is_err());
        assert!(c.encrypt_ecb(&[]).unwrap().is_empty());
    }

    #[test]
    fn debug_hides_schedule() {
        let c = BlockCipher::des(&[1; 8]);
        assert_eq!(format!("{c:?}"), "BlockCipher { algorithm: Des, .. }");
    }
}
