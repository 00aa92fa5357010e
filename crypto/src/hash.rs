//! Hash functions: SHA-1 (FIPS 180-4, EMV ODA and CA key checksums), SHA-256 (FIPS 180-4) and
//! SM3 (GB/T 32905-2016, PBOC 3.0 Part 17 SM ODA and SM2 signatures).

use alloc::vec::Vec;
use sha1::Digest as _;

/// A hash function used by EMV / PBOC, for [`digest`].
///
/// The wire value that names one in a certificate or CA key (EMV Book 2 Annex B2.3 hash
/// algorithm indicator: `01` SHA-1; PBOC 3.0, JR/T 0025.17: `07` SM3) is
/// [`crate::capk::HashAlgorithm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFunction {
    /// SHA-1 (FIPS 180-4), 20-byte digest.
    Sha1,
    /// SHA-256 (FIPS 180-4), 32-byte digest.
    Sha256,
    /// SM3 (GB/T 32905-2016), 32-byte digest.
    Sm3,
}

impl HashFunction {
    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            HashFunction::Sha1 => 20,
            HashFunction::Sha256 | HashFunction::Sm3 => 32,
        }
    }
}

/// The digest of `data` with `alg` (vectors README §3.1).
///
/// # Examples
///
/// ```
/// use quickpass_crypto::hash::{digest, HashFunction};
///
/// let d = digest(HashFunction::Sm3, b"abc");
/// assert_eq!(hex::encode_upper(&d[..4]), "66C7F0F4");
/// ```
pub fn digest(alg: HashFunction, data: &[u8]) -> Vec<u8> {
    match alg {
        HashFunction::Sha1 => sha1(data).to_vec(),
        HashFunction::Sha256 => sha256(data).to_vec(),
        HashFunction::Sm3 => sm3(data).to_vec(),
    }
}

/// SHA-1 (FIPS 180-4) of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1::Sha1::digest(data).into()
}

/// SHA-256 (FIPS 180-4) of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// SM3 (GB/T 32905-2016) of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    sm3::Sm3::digest(data).into()
}

/// SHA-256 (FIPS 180-4) over data given in pieces, for input read as a stream (a file checked
/// while it is parsed, without holding it whole).
///
/// # Examples
///
/// ```
/// use quickpass_crypto::hash::{sha256, Sha256Hasher};
///
/// let mut hasher = Sha256Hasher::new();
/// hasher.update(b"a");
/// hasher.update(b"bc");
/// assert_eq!(hasher.finish(), sha256(b"abc"));
/// ```
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    /// A hasher over no data yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything appended.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

impl core::fmt::Debug for Sha256Hasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sha256Hasher")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            hex::encode_upper(sha1(b"abc")),
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
        assert_eq!(
            hex::encode_upper(sha256(b"abc")),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
        for alg in [HashFunction::Sha1, HashFunction::Sha256, HashFunction::Sm3] {
            assert_eq!(digest(alg, b"").len(), alg.output_len());
        }
    }
}
