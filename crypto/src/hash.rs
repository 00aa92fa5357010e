//! Hash functions: SHA-1 (FIPS 180-4, EMV ODA and CA key checksums), SHA-256 (FIPS 180-4) and
//! SM3 (GB/T 32905-2016, PBOC 3.0 Part 17 SM ODA and SM2 signatures).

use sha1::Digest as _;

/// A hash algorithm used by EMV / PBOC.
///
/// EMV Book 2 Annex B2 hash algorithm indicator `01` is SHA-1; PBOC 3.0 (JR/T 0025.17) uses
/// indicator `07` for SM3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-1 (FIPS 180-4), 20-byte digest.
    Sha1,
    /// SHA-256 (FIPS 180-4), 32-byte digest.
    Sha256,
    /// SM3 (GB/T 32905-2016), 32-byte digest.
    Sm3,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 | HashAlgorithm::Sm3 => 32,
        }
    }
}

/// The digest of `data` with `alg` (vectors README §3.1).
///
/// # Examples
///
/// ```
/// use quickpass_crypto::hash::{digest, HashAlgorithm};
///
/// let d = digest(HashAlgorithm::Sm3, b"abc");
/// assert_eq!(hex::encode_upper(&d[..4]), "66C7F0F4");
/// ```
pub fn digest(alg: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        HashAlgorithm::Sha1 => sha1(data).to_vec(),
        HashAlgorithm::Sha256 => sha256(data).to_vec(),
        HashAlgorithm::Sm3 => sm3(data).to_vec(),
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
        for alg in [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sm3,
        ] {
            assert_eq!(digest(alg, b"").len(), alg.output_len());
        }
    }
}
