//! RSA public keys with cached Montgomery arithmetic, and the raw recovery primitive of
//! EMV Book 2 §5.1 / §6.1 (the "recover function": X = S^e mod n).
//!
//! The raw public operation is the `rsa` crate's `hazmat::rsa_encrypt`, run on Montgomery
//! parameters computed once when the key is built. Everything here is public data (CA, issuer
//! and ICC public keys, certificates), so the parameters are computed with crypto-bigint's
//! variable-time routines: the constant-time ones `rsa::PublicKey::new` uses cost several times
//! more and protect nothing here. That set-up is most of the cost of recovering a key.

use alloc::sync::Arc;
use alloc::{boxed::Box, vec::Vec};
#[cfg(feature = "std")]
use std::sync::Mutex;

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{NonZero, Odd};
use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;

#[cfg(feature = "std")]
use super::memo::BoundedMap;
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
    key: PublicParts,
    exponent: u32,
    #[cfg(feature = "std")]
    memo: Arc<Mutex<Memo>>,
}

/// What a key has already computed on public, static inputs: the RSA recovery of a signature it
/// saw before (a pure function of the signature bytes), and the keys built from moduli it
/// certified (their Montgomery set-up is most of a recovery's cost). Every check on the recovered
/// data still runs on each call: only the arithmetic is remembered.
#[cfg(feature = "std")]
#[derive(Default)]
struct Memo {
    recovered: BoundedMap<Box<[u8]>, Arc<[u8]>>,
    children: BoundedMap<KeyId, RsaKey>,
}

/// A certified key's modulus and exponent bytes.
#[cfg(feature = "std")]
type KeyId = (Box<[u8]>, Box<[u8]>);

/// n, e and the Montgomery parameters of n, as the `rsa` crate's hazmat operations take them.
#[derive(Clone)]
struct PublicParts {
    n: NonZero<BoxedUint>,
    e: BoxedUint,
    params: BoxedMontyParams,
}

impl PublicKeyParts for PublicParts {
    fn n(&self) -> &NonZero<BoxedUint> {
        &self.n
    }

    fn e(&self) -> &BoxedUint {
        &self.e
    }

    fn n_params(&self) -> &BoxedMontyParams {
        &self.params
    }
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
        // An even modulus or exponent is no RSA key; e < n holds since n has ≥ 64 bytes.
        if e % 2 == 0 || e < 3 {
            return Err(RsaKeyError::Invalid);
        }
        let n = BoxedUint::from_be_slice(modulus, bits).map_err(|_| RsaKeyError::Invalid)?;
        let odd =
            Option::<Odd<BoxedUint>>::from(Odd::new(n.clone())).ok_or(RsaKeyError::Invalid)?;
        let n = Option::<NonZero<BoxedUint>>::from(NonZero::new(n)).ok_or(RsaKeyError::Invalid)?;
        let key = PublicParts {
            n,
            e: BoxedUint::from(u64::from(e)),
            params: BoxedMontyParams::new_vartime(odd),
        };
        Ok(Self {
            modulus: modulus.into(),
            exponent_bytes: exponent.into(),
            key,
            exponent: e,
            #[cfg(feature = "std")]
            memo: Arc::default(),
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

    /// [`RsaKey::recover`] for a static object (a certificate or the SSAD): the same checks and
    /// result, with the arithmetic remembered for the next time the same bytes come by (with
    /// `std`: the memo needs a lock).
    pub(crate) fn recover_static(
        &self,
        signature: &[u8],
        object: OdaObject,
    ) -> Result<Arc<[u8]>, OdaError> {
        #[cfg(feature = "std")]
        if let Some(recovered) = self
            .memo
            .lock()
            .ok()
            .and_then(|m| m.recovered.get(signature))
        {
            return Ok(recovered);
        }
        let recovered: Arc<[u8]> = self.recover(signature, object)?.into();
        #[cfg(feature = "std")]
        if let Ok(mut memo) = self.memo.lock() {
            memo.recovered
                .insert(signature.into(), Arc::clone(&recovered));
        }
        Ok(recovered)
    }

    /// A key this key certified, built once per modulus and exponent (with `std`; without, on
    /// each call).
    pub(crate) fn certified_key(
        &self,
        modulus: &[u8],
        exponent: &[u8],
    ) -> Result<RsaKey, RsaKeyError> {
        #[cfg(feature = "std")]
        let id: KeyId = (modulus.into(), exponent.into());
        #[cfg(feature = "std")]
        if let Some(key) = self.memo.lock().ok().and_then(|m| m.children.get(&id)) {
            return Ok(key);
        }
        let key = RsaKey::new(modulus, exponent)?;
        #[cfg(feature = "std")]
        if let Ok(mut memo) = self.memo.lock() {
            memo.children.insert(id, key.clone());
        }
        Ok(key)
    }

    /// m^e mod n by left-to-right square-and-multiply in Montgomery form, with crypto-bigint's
    /// arithmetic. EMV exponents are 3 or 65537, so this is 1 square + 1 multiply (or 16 + 1)
    /// plus the two conversions: about 3× faster than the generic windowed exponentiation
    /// behind `rsa::hazmat::rsa_encrypt`, which builds a table of powers first (measured in
    /// `benches/oda.rs`; the result is identical, checked by the vector tests).
    fn pow_public_exponent(&self, m: BoxedUint) -> BoxedUint {
        let base = BoxedMontyForm::new(m, self.key.n_params());
        let e = self.exponent;
        let top = u32::BITS - 1 - e.leading_zeros();
        let mut acc = base.clone();
        for bit in (0..top).rev() {
            acc = acc.square();
            if (e >> bit) & 1 == 1 {
                acc = acc.mul(&base);
            }
        }
        acc.retrieve()
    }

    /// Raw RSA public operation on an N-byte input known to be below n. `None` only if the
    /// input does not fit, which the callers rule out.
    fn public_op(&self, input: &[u8]) -> Option<Vec<u8>> {
        let params = self.key.n_params();
        let m = BoxedUint::from_be_slice(input, params.bits_precision()).ok()?;
        let bytes = self.pow_public_exponent(m).to_be_bytes();
        let n = self.len();
        let start = bytes.len().checked_sub(n)?;
        if bytes[..start].iter().any(|&b| b != 0) {
            return None;
        }
        Some(bytes[start..].to_vec())
    }
}
