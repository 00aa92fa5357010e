//! RSA public keys with cached Montgomery arithmetic, and the raw recovery primitive of
//! EMV Book 2 §5.1 / §6.1 (the "recover function": X = S^e mod n).
//!
//! The raw public operation is the `rsa` crate's `hazmat::rsa_encrypt`, run on the Montgomery
//! parameters the `rsa::PublicKey` precomputed when the key was built, so no per-call key setup.

use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey};

use super::{OdaError, OdaObject};

/// Smallest RSA modulus accepted anywhere in ODA, in bytes (512 bits). Every EMV format's fixed
/// fields fit in it.
pub(crate) const MIN_MODULUS_LEN: usize = 64;
/// Largest RSA modulus EMV allows, in bytes (1984 bits, EMV Book 2 Annex A2.1).
pub(crate) const MAX_MODULUS_LEN: usize = 248;

/// Why key material does not make a usable RSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaKeyError {
    /// Modulus length outside [`MIN_MODULUS_LEN`, `MAX_MODULUS_LEN`] or with a leading zero byte.
    ModulusLength(usize),
    /// Exponent empty, longer than 3 bytes (EMV Book 2 Annex A2.1: 3 or 2^16+1) or zero.
    Exponent,
    /// Modulus even, exponent even, or exponent not below the modulus.
    Invalid,
}

/// An RSA public key as EMV uses it: modulus and exponent bytes exactly as given (they are
/// hashed and compared byte-wise) plus the `rsa` crate key holding the precomputed Montgomery
/// parameters, built once.
#[derive(Clone)]
pub(crate) struct RsaKey {
    modulus: Box<[u8]>,
    exponent_bytes: Box<[u8]>,
    key: PublicKey,
}

impl RsaKey {
    /// Validates the sizes and prepares the arithmetic state.
    pub(crate) fn new(modulus: &[u8], exponent: &[u8]) -> Result<Self, RsaKeyError> {
        let len = modulus.len();
        if !(MIN_MODULUS_LEN..=MAX_MODULUS_LEN).contains(&len) || modulus[0] == 0 {
            return Err(RsaKeyError::ModulusLength(len));
        }
        if exponent.is_empty() || exponent.len() > 3 {
            return Err(RsaKeyError::Exponent);
        }
        let e = exponent
            .iter()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        if e == 0 {
            return Err(RsaKeyError::Exponent);
        }
        let bits = u32::try_from(len * 8).map_err(|_| RsaKeyError::Invalid)?;
        let n = BoxedUint::from_be_slice(modulus, bits).map_err(|_| RsaKeyError::Invalid)?;
        let key = PublicKey::new_with_size_limits(
            n,
            BoxedUint::from(u64::from(e)),
            (MIN_MODULUS_LEN * 8 - 7)..=(MAX_MODULUS_LEN * 8),
        )
        .map_err(|_| RsaKeyError::Invalid)?;
        Ok(Self {
            modulus: modulus.into(),
            exponent_bytes: exponent.into(),
            key,
        })
    }

    /// Modulus length N in bytes.
    pub(crate) fn len(&self) -> usize {
        self.modulus.len()
    }

    /// The modulus bytes.
    pub(crate) fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The exponent bytes as given.
    pub(crate) fn exponent(&self) -> &[u8] {
        &self.exponent_bytes
    }

    /// EMV Book 2 §5.3 step 1 / §6.3 step 1 / §5.4 / §6.5: checks that `len(S) = N` and
    /// `S < n`, then returns X = S^e mod n as exactly N bytes.
    pub(crate) fn recover(&self, signature: &[u8], object: OdaObject) -> Result<Vec<u8>, OdaError> {
        if signature.len() != self.len() {
            return Err(OdaError::SignatureLength {
                object,
                expected: self.len(),
                found: signature.len(),
            });
        }
        // Equal lengths: big-endian byte order is numeric order.
        if signature >= &self.modulus[..] {
            return Err(OdaError::SignatureNotBelowModulus { object });
        }
        self.public_op(signature)
            .ok_or(OdaError::InvalidPublicKey { object })
    }

    /// Raw RSA public operation on an N-byte input known to be below n. `None` only if the
    /// input does not fit, which the callers rule out.
    fn public_op(&self, input: &[u8]) -> Option<Vec<u8>> {
        let params = self.key.n_params();
        let m = BoxedUint::from_be_slice(input, params.bits_precision()).ok()?;
        let bytes = rsa::hazmat::rsa_encrypt(&self.key, &m).ok()?.to_be_bytes();
        let n = self.len();
        let start = bytes.len().checked_sub(n)?;
        if bytes[..start].iter().any(|&b| b != 0) {
            return None;
        }
        Some(bytes[start..].to_vec())
    }
}
