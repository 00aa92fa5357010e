//! RSA public keys as ODA uses them, and the raw recovery primitive of EMV Book 2 §5.1 / §6.1
//! (the "recover function": X = S^e mod n).
//!
//! The arithmetic is [`super::rsa_public_op`]: variable-time schoolbook products and long
//! division with a per-key reciprocal (everything here is public: CA, issuer and ICC public keys
//! and certificates). Building a key costs a byte-to-limb conversion and one word division, so
//! an issuer or ICC key used once costs little more than its one operation.

use alloc::sync::Arc;
use alloc::{boxed::Box, vec::Vec};
#[cfg(feature = "std")]
use std::sync::Mutex;

#[cfg(feature = "std")]
use super::memo::BoundedMap;
use super::rsa_public_op::PublicModulus;
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
/// hashed and compared byte-wise) plus the modulus prepared for the public operation. Clones
/// share everything (one reference count), including the memo.
#[derive(Clone)]
pub(crate) struct RsaKey {
    inner: Arc<KeyParts>,
}

struct KeyParts {
    modulus: Box<[u8]>,
    exponent_bytes: Box<[u8]>,
    arithmetic: PublicModulus,
    exponent: u32,
    /// Without `std` there is no memo (it needs a lock): every check does its arithmetic.
    #[cfg(feature = "std")]
    memo: Mutex<Memo>,
}

/// What a key has already computed on public, static inputs: the RSA recovery of a signature it
/// saw before (a pure function of the signature bytes), and the keys built from moduli it
/// certified (with their own memo of the cards they signed). Every check on the recovered data
/// still runs on each call: only the arithmetic is remembered.
#[cfg(feature = "std")]
#[derive(Default)]
struct Memo {
    recovered: BoundedMap<Box<[u8]>, Arc<[u8]>>,
    children: BoundedMap<Box<[u8]>, RsaKey>,
}

/// A certified key's memo key: exponent length (1 byte) ‖ exponent ‖ modulus, so no two
/// (modulus, exponent) pairs share one.
#[cfg(feature = "std")]
fn key_id(modulus: &[u8], exponent: &[u8]) -> Box<[u8]> {
    let mut id = Vec::with_capacity(1 + exponent.len() + modulus.len());
    // Exponents have at most 3 bytes (checked by the caller).
    id.push(exponent.len() as u8);
    id.extend_from_slice(exponent);
    id.extend_from_slice(modulus);
    id.into_boxed_slice()
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
        // An even modulus or exponent is no RSA key; e < n holds since n has ≥ 64 bytes.
        let odd_modulus = modulus.last().is_some_and(|b| b & 1 == 1);
        if e % 2 == 0 || e < 3 || !odd_modulus {
            return Err(RsaKeyError::Invalid);
        }
        let arithmetic = PublicModulus::new(modulus).ok_or(RsaKeyError::Invalid)?;
        Ok(Self {
            inner: Arc::new(KeyParts {
                modulus: modulus.into(),
                exponent_bytes: exponent.into(),
                arithmetic,
                exponent: e,
                #[cfg(feature = "std")]
                memo: Mutex::default(),
            }),
        })
    }

    /// Modulus length N in bytes.
    pub(crate) fn len(&self) -> usize {
        self.inner.modulus.len()
    }

    /// The modulus bytes.
    pub(crate) fn modulus(&self) -> &[u8] {
        &self.inner.modulus
    }

    /// The exponent bytes as given.
    pub(crate) fn exponent(&self) -> &[u8] {
        &self.inner.exponent_bytes
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
        if signature >= &self.inner.modulus[..] {
            return Err(OdaError::SignatureNotBelowModulus { object });
        }
        self.public_op(signature)
            .ok_or(OdaError::InvalidPublicKey { object })
    }

    /// [`RsaKey::recover`] for a static object (a certificate or the SSAD): the same checks and
    /// result, with the arithmetic remembered for the next time the same bytes come by.
    pub(crate) fn recover_static(
        &self,
        signature: &[u8],
        object: OdaObject,
    ) -> Result<Arc<[u8]>, OdaError> {
        #[cfg(feature = "std")]
        if let Some(recovered) = self
            .inner
            .memo
            .lock()
            .ok()
            .and_then(|m| m.recovered.get(signature))
        {
            return Ok(recovered);
        }
        let recovered: Arc<[u8]> = self.recover(signature, object)?.into();
        #[cfg(feature = "std")]
        if let Ok(mut memo) = self.inner.memo.lock() {
            memo.recovered
                .insert(signature.into(), Arc::clone(&recovered));
        }
        Ok(recovered)
    }

    /// A key this key certified, built once per modulus and exponent.
    pub(crate) fn certified_key(
        &self,
        modulus: &[u8],
        exponent: &[u8],
    ) -> Result<RsaKey, RsaKeyError> {
        // Checked here too, before the lookup: the memo key's length prefix is one byte.
        if exponent.is_empty() || exponent.len() > 3 {
            return Err(RsaKeyError::Exponent);
        }
        #[cfg(feature = "std")]
        let id = key_id(modulus, exponent);
        #[cfg(feature = "std")]
        if let Some(key) = self
            .inner
            .memo
            .lock()
            .ok()
            .and_then(|m| m.children.get(&id))
        {
            return Ok(key);
        }
        let key = RsaKey::new(modulus, exponent)?;
        #[cfg(feature = "std")]
        if let Ok(mut memo) = self.inner.memo.lock() {
            memo.children.insert(id, key.clone());
        }
        Ok(key)
    }

    /// Raw RSA public operation on an N-byte input known to be below n. `None` only if the
    /// input does not fit, which the callers rule out.
    fn public_op(&self, input: &[u8]) -> Option<Vec<u8>> {
        self.inner.arithmetic.pow(input, self.inner.exponent)
    }
}
