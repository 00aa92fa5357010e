//! SM2 on the recommended curve sm2p256v1 (GB/T 32918.1–5-2016 / GM/T 0003-2012; vectors
//! README §3.10): Z_A, signature with a caller-supplied k, verification, public-key encryption
//! with a caller-supplied k (C1‖C3‖C2) and decryption.
//!
//! Used by PBOC 3.0 Part 17 SM-algorithm offline data authentication (pboc-notes §3.5). All
//! curve and scalar arithmetic is done by the RustCrypto `sm2` crate, hashing by `sm3`.
//!
//! Public keys are accepted as `04`‖X‖Y (65 bytes) or X‖Y (64 bytes); they are checked to be
//! on the curve. Signatures are r‖s, 32 bytes each.

use alloc::vec::Vec;
use sm2::elliptic_curve::ff::PrimeField;
use sm2::elliptic_curve::ops::{MulByGeneratorVartime, Reduce};
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::elliptic_curve::subtle::ConstantTimeEq;
use sm2::elliptic_curve::Group;
use sm2::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sm3::{Digest, Sm3};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::sm2_vartime::{check_signature_point, Affine, FixedBaseTable, KeyPoint};

/// The default user ID `1234567812345678` (GM/T 0009-2012 §10; pboc-notes §3.5), ENTL = 0x0080.
pub const DEFAULT_USER_ID: &[u8] = b"1234567812345678";

/// Curve coefficient a of sm2p256v1 (GB/T 32918.5-2016 §2), for Z_A.
const CURVE_A: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
];

/// Curve coefficient b of sm2p256v1 (GB/T 32918.5-2016 §2), for Z_A.
const CURVE_B: [u8; 32] = [
    0x28, 0xE9, 0xFA, 0x9E, 0x9D, 0x9F, 0x5E, 0x34, 0x4D, 0x5A, 0x9E, 0x4B, 0xCF, 0x65, 0x09, 0xA7,
    0xF3, 0x97, 0x89, 0xF5, 0x15, 0xAB, 0x8F, 0x92, 0xDD, 0xBC, 0xBD, 0x41, 0x4D, 0x94, 0x0E, 0x93,
];

/// Generator x_G ‖ y_G of sm2p256v1 (GB/T 32918.5-2016 §2), for Z_A: a constant, so Z_A does
/// not pay a field inversion to re-encode \[1\]G (checked against the `sm2` crate in the tests).
const GENERATOR_XY: [u8; 64] = [
    0x32, 0xC4, 0xAE, 0x2C, 0x1F, 0x19, 0x81, 0x19, 0x5F, 0x99, 0x04, 0x46, 0x6A, 0x39, 0xC9, 0x94,
    0x8F, 0xE3, 0x0B, 0xBF, 0xF2, 0x66, 0x0B, 0xE1, 0x71, 0x5A, 0x45, 0x89, 0x33, 0x4C, 0x74, 0xC7,
    0xBC, 0x37, 0x36, 0xA2, 0xF4, 0xF6, 0x77, 0x9C, 0x59, 0xBD, 0xCE, 0xE3, 0x6B, 0x69, 0x21, 0x53,
    0xD0, 0xA9, 0x87, 0x7C, 0xC6, 0x2A, 0x47, 0x40, 0x02, 0xDF, 0x32, 0xE5, 0x21, 0x39, 0xF0, 0xA0,
];

/// An SM2 operation failed. Every malformed input is reported, never panicked on.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Sm2Error {
    /// The public key is not 64 or 65 (`04`-prefixed) bytes, or not a point of the curve.
    #[error("invalid SM2 public key")]
    InvalidPublicKey,
    /// The private key is not in [1, n−2].
    #[error("invalid SM2 private key")]
    InvalidPrivateKey,
    /// The per-message random k is not in [1, n−1], or it gives r = 0, r + k = n, s = 0 or an
    /// all-zero KDF output (the standard says: choose another k).
    #[error("unusable SM2 random k")]
    InvalidK,
    /// The user ID is longer than 8191 bytes (ENTL is a 16-bit bit count).
    #[error("SM2 user ID too long")]
    UserIdTooLong,
    /// The signature is not 64 bytes, or r or s is not in [1, n−1].
    #[error("malformed SM2 signature")]
    InvalidSignature,
    /// The signature is well formed but does not verify.
    #[error("SM2 signature verification failed")]
    VerificationFailed,
    /// Encryption of an empty message, or a message too long for the KDF.
    #[error("invalid SM2 plaintext length")]
    InvalidMessageLength,
    /// The ciphertext is too short or C1 is not a curve point.
    #[error("malformed SM2 ciphertext")]
    InvalidCiphertext,
    /// The ciphertext does not decrypt under this key (C3 mismatch).
    #[error("SM2 decryption failed")]
    DecryptionFailed,
}

/// Uncompressed SEC1 encoding `04`‖x‖y of a point, `None` for the identity.
fn encode(point: &AffinePoint) -> Option<[u8; 65]> {
    point.to_sec1_point(false).as_bytes().try_into().ok()
}

/// Affine x-coordinate bytes of `[scalar]point`, with the identity rejected.
fn mul_encoded(point: ProjectivePoint, scalar: &Scalar) -> Option<[u8; 65]> {
    let p = point * scalar;
    if bool::from(p.is_identity()) {
        return None;
    }
    encode(&p.to_affine())
}

/// Parses and validates a public key (`04`‖X‖Y or X‖Y).
fn parse_public_key(public_key: &[u8]) -> Result<AffinePoint, Sm2Error> {
    let mut sec1 = [0x04u8; 65];
    match public_key.len() {
        65 if public_key[0] == 0x04 => sec1.copy_from_slice(public_key),
        64 => sec1[1..].copy_from_slice(public_key),
        _ => return Err(Sm2Error::InvalidPublicKey),
    }
    let pk = sm2::PublicKey::from_sec1_bytes(&sec1).map_err(|_| Sm2Error::InvalidPublicKey)?;
    Ok(*pk.as_affine())
}

/// A scalar in [1, n−1] from 32 big-endian bytes.
fn nonzero_scalar(bytes: &[u8]) -> Option<Scalar> {
    let repr = FieldBytes::try_from(bytes).ok()?;
    let s = Option::<Scalar>::from(Scalar::from_repr(repr))?;
    (!bool::from(s.is_zero())).then_some(s)
}

/// The private key d in [1, n−2] (GB/T 32918.1 §6.1) and (1 + d)⁻¹.
fn private_scalar(private_key: &[u8; 32]) -> Result<(Scalar, Scalar), Sm2Error> {
    let d = nonzero_scalar(private_key).ok_or(Sm2Error::InvalidPrivateKey)?;
    let inv =
        Option::<Scalar>::from((d + Scalar::ONE).invert()).ok_or(Sm2Error::InvalidPrivateKey)?;
    Ok((d, inv))
}

fn scalar_from_x(encoded: &[u8; 65]) -> Scalar {
    let mut x = FieldBytes::default();
    x.copy_from_slice(&encoded[1..33]);
    <Scalar as Reduce<FieldBytes>>::reduce(&x)
}

/// Z_A over an already validated, encoded public key.
fn za_encoded(public_key: &[u8; 65], user_id: &[u8]) -> Result<[u8; 32], Sm2Error> {
    let entl = user_id
        .len()
        .checked_mul(8)
        .and_then(|bits| u16::try_from(bits).ok())
        .ok_or(Sm2Error::UserIdTooLong)?;
    let mut h = Sm3::new();
    h.update(entl.to_be_bytes());
    h.update(user_id);
    h.update(CURVE_A);
    h.update(CURVE_B);
    h.update(GENERATOR_XY);
    h.update(&public_key[1..]);
    Ok(h.finalize().into())
}

fn digest_encoded(
    public_key: &[u8; 65],
    user_id: &[u8],
    message: &[u8],
) -> Result<[u8; 32], Sm2Error> {
    let za = za_encoded(public_key, user_id)?;
    let mut h = Sm3::new();
    h.update(za);
    h.update(message);
    Ok(h.finalize().into())
}

/// Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2-2016 §5.5).
pub fn za(public_key: &[u8], user_id: &[u8]) -> Result<[u8; 32], Sm2Error> {
    let p = parse_public_key(public_key)?;
    let enc = encode(&p).ok_or(Sm2Error::InvalidPublicKey)?;
    za_encoded(&enc, user_id)
}

/// The signed digest e = SM3(Z_A ‖ M) (GB/T 32918.2-2016 §6.1 steps A1–A2), big-endian.
pub fn message_digest(
    public_key: &[u8],
    user_id: &[u8],
    message: &[u8],
) -> Result<[u8; 32], Sm2Error> {
    let p = parse_public_key(public_key)?;
    let enc = encode(&p).ok_or(Sm2Error::InvalidPublicKey)?;
    digest_encoded(&enc, user_id, message)
}

/// The public key `04`‖x‖y = \[d\]G of a private key d in [1, n−2] (GB/T 32918.1 §6.1).
pub fn public_key_from_private(private_key: &[u8; 32]) -> Result<[u8; 65], Sm2Error> {
    let (d, _) = private_scalar(private_key)?;
    mul_encoded(ProjectivePoint::generator(), &d).ok_or(Sm2Error::InvalidPrivateKey)
}

/// SM2 signature r‖s of `message` with the caller's per-message random `k`
/// (GB/T 32918.2-2016 §6.1): e = SM3(Z_A ‖ M), (x₁, y₁) = \[k\]G, r = (e + x₁) mod n,
/// s = (1 + d)⁻¹ · (k − r·d) mod n.
///
/// # Hazardous
///
/// `k` must be secret, uniformly random and never reused: two signatures with the same `k`, or a
/// predictable `k`, reveal the private key. This entry point exists for known-answer tests and
/// for callers with their own vetted random source. A `k` that gives r = 0, r + k = n or s = 0
/// yields [`Sm2Error::InvalidK`]; choose another.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::sm2;
///
/// let d: [u8; 32] = [0x11; 32];
/// let k: [u8; 32] = [0x22; 32];
/// let public_key = sm2::public_key_from_private(&d).unwrap();
/// let sig = sm2::sign_with_k(&d, sm2::DEFAULT_USER_ID, b"message", &k).unwrap();
/// assert!(sm2::verify(&public_key, sm2::DEFAULT_USER_ID, b"message", &sig).is_ok());
/// assert!(sm2::verify(&public_key, sm2::DEFAULT_USER_ID, b"massage", &sig).is_err());
/// ```
pub fn sign_with_k(
    private_key: &[u8; 32],
    user_id: &[u8],
    message: &[u8],
    k: &[u8; 32],
) -> Result<[u8; 64], Sm2Error> {
    let (d, d_plus_1_inv) = private_scalar(private_key)?;
    let public_key =
        mul_encoded(ProjectivePoint::generator(), &d).ok_or(Sm2Error::InvalidPrivateKey)?;
    let e = digest_encoded(&public_key, user_id, message)?;
    let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(e));

    let k = nonzero_scalar(k).ok_or(Sm2Error::InvalidK)?;
    let kg = mul_encoded(ProjectivePoint::generator(), &k).ok_or(Sm2Error::InvalidK)?;
    let r = e + scalar_from_x(&kg);
    if bool::from(r.is_zero() | (r + k).is_zero()) {
        return Err(Sm2Error::InvalidK);
    }
    let s = d_plus_1_inv * (k - r * d);
    if bool::from(s.is_zero()) {
        return Err(Sm2Error::InvalidK);
    }
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r.to_repr());
    sig[32..].copy_from_slice(&s.to_repr());
    Ok(sig)
}

/// Verifies the SM2 signature r‖s (64 bytes) of `message` by `public_key` with `user_id`
/// (GB/T 32918.2-2016 §7.1): 1 ≤ r, s ≤ n−1, t = (r + s) mod n ≠ 0,
/// (x₁, y₁) = \[s\]G + \[t\]P_A, valid iff (e + x₁) mod n = r.
///
/// Returns [`Sm2Error::VerificationFailed`] for a well-formed signature that does not verify,
/// and another error for malformed inputs.
pub fn verify(
    public_key: &[u8],
    user_id: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), Sm2Error> {
    let p = parse_public_key(public_key)?;
    let enc = encode(&p).ok_or(Sm2Error::InvalidPublicKey)?;
    if signature.len() != 64 {
        return Err(Sm2Error::InvalidSignature);
    }
    let r = nonzero_scalar(&signature[..32]).ok_or(Sm2Error::InvalidSignature)?;
    let s = nonzero_scalar(&signature[32..]).ok_or(Sm2Error::InvalidSignature)?;
    let e = digest_encoded(&enc, user_id, message)?;
    let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(e));

    let t = r + s;
    if bool::from(t.is_zero()) {
        return Err(Sm2Error::VerificationFailed);
    }
    let point = ProjectivePoint::generator() * s + ProjectivePoint::from(p) * t;
    if bool::from(point.is_identity()) {
        return Err(Sm2Error::VerificationFailed);
    }
    let x1 = encode(&point.to_affine()).ok_or(Sm2Error::VerificationFailed)?;
    if bool::from((e + scalar_from_x(&x1)).ct_eq(&r)) {
        Ok(())
    } else {
        Err(Sm2Error::VerificationFailed)
    }
}

/// A validated public key with its Z_A for one user ID computed once, for verifying many
/// signatures on **public** data in variable time.
///
/// Offline data authentication is such a case: certificates, signatures and keys are all public
/// (the card sends them in the clear and the keys are published), so the constant-time
/// \[s\]G + \[t\]P_A of [`verify`] protects nothing there and costs several times as much.
/// With the generator's table ([`crate::sm2_vartime`]) the computation is that module's
/// (tables for fixed points, w-NAF for the rest, no final inversion); without it, the `sm2`
/// crate's own ([`MulByGeneratorVartime`]: w-NAF, interleaved). Either way the verdict is
/// [`verify`]'s (checked in the tests). Never use this for anything involving secret values.
#[derive(Clone)]
pub(crate) struct PublicVerifier {
    point: ProjectivePoint,
    affine: Affine,
    za: [u8; 32],
}

/// The precomputed tables a verification may use: the generator's, and the key's own if it has
/// one.
#[derive(Clone, Copy)]
pub(crate) struct VerifyTables<'a> {
    /// The generator's table.
    pub(crate) generator: &'a FixedBaseTable,
    /// The public key's table, if built.
    pub(crate) key: Option<&'a FixedBaseTable>,
}

impl PublicVerifier {
    /// Validates `public_key` (`04`‖X‖Y or X‖Y) and computes Z_A for `user_id`.
    pub(crate) fn new(public_key: &[u8], user_id: &[u8]) -> Result<Self, Sm2Error> {
        let p = parse_public_key(public_key)?;
        let enc = encode(&p).ok_or(Sm2Error::InvalidPublicKey)?;
        Ok(Self {
            point: ProjectivePoint::from(p),
            affine: Affine::from_point(&p).ok_or(Sm2Error::InvalidPublicKey)?,
            za: za_encoded(&enc, user_id)?,
        })
    }

    /// The key as a projective point (to build its table; tables exist with `std` only).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn point(&self) -> &ProjectivePoint {
        &self.point
    }

    /// [`verify`] of the message `parts` concatenated (hashed slice by slice, without copying),
    /// in variable time: same checks, same errors, same verdict. `tables`: the precomputed
    /// tables to use, if any.
    pub(crate) fn verify_public_vartime(
        &self,
        tables: Option<VerifyTables<'_>>,
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), Sm2Error> {
        if signature.len() != 64 {
            return Err(Sm2Error::InvalidSignature);
        }
        let r = nonzero_scalar(&signature[..32]).ok_or(Sm2Error::InvalidSignature)?;
        let s = nonzero_scalar(&signature[32..]).ok_or(Sm2Error::InvalidSignature)?;
        let mut h = Sm3::new();
        h.update(self.za);
        for part in parts {
            h.update(part);
        }
        let e: [u8; 32] = h.finalize().into();
        let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(e));

        let t = r + s;
        if bool::from(t.is_zero()) {
            return Err(Sm2Error::VerificationFailed);
        }
        if let Some(tables) = tables {
            let key = match tables.key {
                Some(table) => KeyPoint::Table(table),
                None => KeyPoint::Point(&self.affine),
            };
            return if check_signature_point(tables.generator, key, &e, &r, &s, &t) {
                Ok(())
            } else {
                Err(Sm2Error::VerificationFailed)
            };
        }
        let point = ProjectivePoint::mul_by_generator_and_mul_add_vartime(&s, &t, &self.point);
        if bool::from(point.is_identity()) {
            return Err(Sm2Error::VerificationFailed);
        }
        let x1 = encode(&point.to_affine()).ok_or(Sm2Error::VerificationFailed)?;
        if e + scalar_from_x(&x1) == r {
            Ok(())
        } else {
            Err(Sm2Error::VerificationFailed)
        }
    }
}

/// KDF(Z, klen) of GB/T 32918.4-2016 §5.4.3 with SM3: SM3(Z ‖ ct) for ct = 1, 2, … (32-bit
/// big-endian), concatenated and truncated to `len` bytes.
fn kdf(z: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, Sm2Error> {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut h = Sm3::new();
        h.update(z);
        h.update(counter.to_be_bytes());
        let block = h.finalize();
        let take = (len - out.len()).min(block.len());
        out.extend_from_slice(&block[..take]);
        counter = counter
            .checked_add(1)
            .ok_or(Sm2Error::InvalidMessageLength)?;
    }
    Ok(out)
}

/// C3 = SM3(x₂ ‖ M ‖ y₂).
fn c3_hash(shared: &[u8; 65], message: &[u8]) -> [u8; 32] {
    let mut h = Sm3::new();
    h.update(&shared[1..33]);
    h.update(message);
    h.update(&shared[33..]);
    h.finalize().into()
}

/// SM2 public-key encryption with the caller's random `k` (GB/T 32918.4-2016 §6.1):
/// C1 = \[k\]G (`04`‖x₁‖y₁), (x₂, y₂) = \[k\]P_B, t = KDF(x₂ ‖ y₂, len(M)), C2 = M ⊕ t,
/// C3 = SM3(x₂ ‖ M ‖ y₂); returns **C1 ‖ C3 ‖ C2** (the 2016 order, not the old C1‖C2‖C3).
///
/// # Hazardous
///
/// `k` must be fresh and secret for every encryption; a reused or known `k` reveals the
/// plaintext. An empty message is rejected.
pub fn encrypt_with_k(
    public_key: &[u8],
    k: &[u8; 32],
    message: &[u8],
) -> Result<Vec<u8>, Sm2Error> {
    let p = parse_public_key(public_key)?;
    if message.is_empty() {
        return Err(Sm2Error::InvalidMessageLength);
    }
    let k = nonzero_scalar(k).ok_or(Sm2Error::InvalidK)?;
    let c1 = mul_encoded(ProjectivePoint::generator(), &k).ok_or(Sm2Error::InvalidK)?;
    // The cofactor h is 1, so S = [h]P_B is P_B itself, already checked not to be the identity.
    let shared =
        Zeroizing::new(mul_encoded(ProjectivePoint::from(p), &k).ok_or(Sm2Error::InvalidK)?);
    let t = kdf(&shared[1..], message.len())?;
    if t.iter().all(|&b| b == 0) {
        return Err(Sm2Error::InvalidK);
    }
    let mut out = Vec::with_capacity(65 + 32 + message.len());
    out.extend_from_slice(&c1);
    out.extend_from_slice(&c3_hash(&shared, message));
    out.extend(message.iter().zip(t.iter()).map(|(m, t)| m ^ t));
    Ok(out)
}

/// SM2 decryption of C1 ‖ C3 ‖ C2 (GB/T 32918.4-2016 §7.1) with private key d.
pub fn decrypt(private_key: &[u8; 32], ciphertext: &[u8]) -> Result<Vec<u8>, Sm2Error> {
    let (d, _) = private_scalar(private_key)?;
    if ciphertext.len() <= 65 + 32 {
        return Err(Sm2Error::InvalidCiphertext);
    }
    let (c1, rest) = ciphertext.split_at(65);
    let (c3, c2) = rest.split_at(32);
    if c1[0] != 0x04 {
        return Err(Sm2Error::InvalidCiphertext);
    }
    let c1 = parse_public_key(c1).map_err(|_| Sm2Error::InvalidCiphertext)?;
    let shared = Zeroizing::new(
        mul_encoded(ProjectivePoint::from(c1), &d).ok_or(Sm2Error::InvalidCiphertext)?,
    );
    let t = kdf(&shared[1..], c2.len())?;
    if t.iter().all(|&b| b == 0) {
        return Err(Sm2Error::DecryptionFailed);
    }
    let message: Vec<u8> = c2.iter().zip(t.iter()).map(|(c, t)| c ^ t).collect();
    if bool::from(c3_hash(&shared, &message).ct_eq(c3)) {
        Ok(message)
    } else {
        Err(Sm2Error::DecryptionFailed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sm2_vartime::{generator_table, ISSUER_WINDOW};

    const N_MINUS_1: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122";

    fn arr(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn private_key_range() {
        assert_eq!(
            public_key_from_private(&[0; 32]).unwrap_err(),
            Sm2Error::InvalidPrivateKey
        );
        // d = n - 1 makes 1 + d = 0, not invertible.
        assert_eq!(
            public_key_from_private(&arr(N_MINUS_1)).unwrap_err(),
            Sm2Error::InvalidPrivateKey
        );
        assert_eq!(
            public_key_from_private(&[0xFF; 32]).unwrap_err(),
            Sm2Error::InvalidPrivateKey
        );
        let mut one = [0u8; 32];
        one[31] = 1;
        let g = public_key_from_private(&one).unwrap();
        assert_eq!(
            hex::encode_upper(&g[1..33]),
            "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
        );
    }

    #[test]
    fn generator_constant() {
        let g = encode(&ProjectivePoint::generator().to_affine()).unwrap();
        assert_eq!(g[1..], GENERATOR_XY);
    }

    /// The variable-time verifier agrees with [`verify`] on good signatures and on every
    /// single-bit change of message, signature or key, including r/s out of range.
    #[test]
    fn public_vartime_matches_verify() {
        let d = [0x5A; 32];
        let pk = public_key_from_private(&d).unwrap();
        let other = public_key_from_private(&[0x5B; 32]).unwrap();
        let message = b"public data to be authenticated".to_vec();
        let sig = sign_with_k(&d, DEFAULT_USER_ID, &message, &[0x77; 32]).unwrap();
        let generator = generator_table().unwrap();
        let keys: Vec<(PublicVerifier, FixedBaseTable)> = [&pk[..], &other[..]]
            .iter()
            .map(|key| {
                let v = PublicVerifier::new(key, DEFAULT_USER_ID).unwrap();
                let table = FixedBaseTable::new(v.point(), ISSUER_WINDOW).unwrap();
                (v, table)
            })
            .collect();
        let both = |key: &[u8], msg: &[u8], sig: &[u8]| {
            let (v, table) = &keys[usize::from(key != &pk[..])];
            let (head, tail) = msg.split_at(msg.len() / 2);
            let expected = verify(key, DEFAULT_USER_ID, msg, sig);
            for tables in [
                None,
                Some(VerifyTables {
                    generator: &generator,
                    key: None,
                }),
                Some(VerifyTables {
                    generator: &generator,
                    key: Some(table),
                }),
            ] {
                assert_eq!(
                    v.verify_public_vartime(tables, &[head, tail], sig),
                    expected
                );
            }
            expected
        };
        assert_eq!(both(&pk, &message, &sig), Ok(()));
        assert_eq!(
            both(&other, &message, &sig),
            Err(Sm2Error::VerificationFailed)
        );
        for bit in 0..message.len() * 8 {
            let mut m = message.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            assert!(both(&pk, &m, &sig).is_err());
        }
        for bit in 0..sig.len() * 8 {
            let mut s = sig;
            s[bit / 8] ^= 1 << (bit % 8);
            assert!(both(&pk, &message, &s).is_err());
        }
        let n_minus_1 = arr(N_MINUS_1);
        for (r, s) in [
            ([0u8; 32], [1u8; 32]),
            ([1u8; 32], [0u8; 32]),
            ([0xFF; 32], [1u8; 32]),
            (n_minus_1, n_minus_1),
        ] {
            let mut bad = [0u8; 64];
            bad[..32].copy_from_slice(&r);
            bad[32..].copy_from_slice(&s);
            assert!(both(&pk, &message, &bad).is_err());
        }
        // r + s = n: rejected before the point computation.
        let mut n_minus_2 = n_minus_1;
        n_minus_2[31] -= 1;
        let mut sum_n = [0u8; 64];
        sum_n[..32].copy_from_slice(&n_minus_2);
        sum_n[63] = 2;
        assert_eq!(
            both(&pk, &message, &sum_n),
            Err(Sm2Error::VerificationFailed)
        );
        assert_eq!(
            PublicVerifier::new(&[0; 64], DEFAULT_USER_ID).err(),
            Some(Sm2Error::InvalidPublicKey)
        );
    }

    /// Random keys, messages and signatures, valid and tampered (message, r, s or key changed):
    /// every variable-time path gives the `sm2` crate's own verdict (`sm2::dsa::VerifyingKey`).
    #[test]
    fn public_vartime_matches_the_sm2_crate_on_random_keys() {
        use sm2::dsa::signature::Verifier;
        let generator = generator_table().unwrap();
        let id = core::str::from_utf8(DEFAULT_USER_ID).unwrap();
        let mut seed = 0x534D_3200u64;
        let mut next = || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let bytes32 = |next: &mut dyn FnMut() -> u64| {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&next().to_be_bytes());
            }
            b
        };
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..48 {
            let d = bytes32(&mut next);
            let Ok(pk) = public_key_from_private(&d) else {
                continue;
            };
            let v = PublicVerifier::new(&pk, DEFAULT_USER_ID).unwrap();
            let table = FixedBaseTable::new(v.point(), ISSUER_WINDOW).unwrap();
            let reference = sm2::dsa::VerifyingKey::from_sec1_bytes(id, &pk).unwrap();
            for round in 0..8 {
                let message: Vec<u8> = (0..(next() % 300)).map(|_| next() as u8).collect();
                let Ok(mut sig) = sign_with_k(&d, DEFAULT_USER_ID, &message, &bytes32(&mut next))
                else {
                    continue;
                };
                let mut message = message;
                match (case + round) % 4 {
                    0 => {}
                    1 if !message.is_empty() => {
                        let i = (next() as usize) % message.len();
                        message[i] ^= 1 << (next() % 8);
                    }
                    2 => sig[(next() as usize) % 64] ^= 1 << (next() % 8),
                    _ => sig[..32].copy_from_slice(&bytes32(&mut next)),
                }
                let expected = sm2::dsa::Signature::try_from(&sig[..])
                    .map(|s| reference.verify(&message, &s).is_ok())
                    .unwrap_or(false);
                if expected {
                    valid += 1;
                } else {
                    invalid += 1;
                }
                for tables in [
                    None,
                    Some(VerifyTables {
                        generator: &generator,
                        key: None,
                    }),
                    Some(VerifyTables {
                        generator: &generator,
                        key: Some(&table),
                    }),
                ] {
                    let ours = v.verify_public_vartime(tables, &[&message], &sig);
                    assert_eq!(ours.is_ok(), expected, "case {case} round {round}");
                }
            }
        }
        assert!(
            valid >= 80 && invalid >= 250,
            "{valid} valid, {invalid} invalid"
        );
    }

    #[test]
    fn malformed_inputs() {
        let d = [0x11; 32];
        let pk = public_key_from_private(&d).unwrap();
        assert_eq!(za(&pk[..64], b"").unwrap_err(), Sm2Error::InvalidPublicKey);
        assert_eq!(za(&[0; 64], b"").unwrap_err(), Sm2Error::InvalidPublicKey);
        assert_eq!(
            za(&pk, &vec![0; 8192]).unwrap_err(),
            Sm2Error::UserIdTooLong
        );
        assert!(za(&pk, &vec![0; 8191]).is_ok());
        assert_eq!(
            verify(&pk, b"", b"", &[0; 64]).unwrap_err(),
            Sm2Error::InvalidSignature
        );
        assert_eq!(
            verify(&pk, b"", b"", &[1; 63]).unwrap_err(),
            Sm2Error::InvalidSignature
        );
        assert_eq!(
            sign_with_k(&d, b"", b"", &[0; 32]).unwrap_err(),
            Sm2Error::InvalidK
        );
        assert_eq!(
            encrypt_with_k(&pk, &[0x22; 32], b"").unwrap_err(),
            Sm2Error::InvalidMessageLength
        );
        assert_eq!(
            decrypt(&d, &[4; 97]).unwrap_err(),
            Sm2Error::InvalidCiphertext
        );
    }

    #[test]
    fn encrypt_decrypt() {
        let d = [0x33; 32];
        let pk = public_key_from_private(&d).unwrap();
        let ct = encrypt_with_k(&pk, &[0x44; 32], b"encryption standard").unwrap();
        assert_eq!(ct.len(), 65 + 32 + 19);
        assert_eq!(decrypt(&d, &ct).unwrap(), b"encryption standard");
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(decrypt(&d, &bad).unwrap_err(), Sm2Error::DecryptionFailed);
        assert_eq!(
            decrypt(&[0x34; 32], &ct).unwrap_err(),
            Sm2Error::DecryptionFailed
        );
    }
}
