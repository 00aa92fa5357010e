//! Key check values (vectors README §3.4).

use crate::cipher::{BlockCipher, CipherAlgorithm, CipherError};
use alloc::{vec, vec::Vec};

/// The key check value of `key`: the encryption of one all-zero block with `key` under `alg`
/// (the usual payment-industry KCV, e.g. ANSI X9.24 / EMV key management), returned as the
/// **full block**. Callers keep the leftmost 2 or 3 bytes.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::cipher::CipherAlgorithm;
/// use quickpass_crypto::kcv::key_check_value;
///
/// let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
/// let kcv = key_check_value(CipherAlgorithm::Tdes, &key).unwrap();
/// assert_eq!(hex::encode_upper(&kcv[..3]), "08D7B4");
/// ```
pub fn key_check_value(alg: CipherAlgorithm, key: &[u8]) -> Result<Vec<u8>, CipherError> {
    let cipher = BlockCipher::new(alg, key)?;
    let mut block = vec![0u8; alg.block_size()];
    cipher.encrypt_block(&mut block)?;
    Ok(block)
}
