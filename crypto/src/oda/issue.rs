//! Issuing side of ODA, for tests and card personalisation (not used by a terminal): builds and
//! signs issuer certificates (`02`/`12`), ICC certificates (`04`/`14`), SSAD (`03`/`13`) and SDAD
//! (`05`/`95`/`15`) as EMV Book 2 §5.1–§6.6 (Tables 6, 7, 14, 17, 19) and the ⚠ SM2 guess of
//! [`super::sm2`] define them, splitting key remainders as needed.
//!
//! The RSA builders are split in two so tests can make any single check fail: a `*_block`
//! function returns the recovered-data block X (header, fields, padding `BB`, hash, trailer)
//! and [`RsaSigner::sign_block`] turns any N-byte block into the signature. After tampering a
//! field, [`seal_block`] recomputes the hash so only the tampered check fails.
//!
//! ☢ Private keys are handled without blinding or side-channel protection: test and
//! personalisation use only.

use alloc::{vec, vec::Vec};
use crypto_bigint::modular::BoxedMontyForm;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, PrivateKey};
use sha1::{Digest, Sha1};

use super::sm2::{
    ICC_CERTIFICATE_LEN, ISSUER_CERTIFICATE_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN, SM2_ALGORITHM,
    USER_ID,
};
use super::{format, HEADER, TRAILER};

const HASH_LEN: usize = 20;
const PAD: u8 = 0xBB;

/// Why an object could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The private key components do not form an RSA key.
    #[error("invalid RSA private key")]
    InvalidRsaKey,
    /// The SM2 private key is not a valid scalar.
    #[error("invalid SM2 private key")]
    InvalidSm2Key,
    /// A block has the wrong length for the signing key, or is not below its modulus.
    #[error("block does not fit the signing key")]
    BlockSize,
    /// A field does not fit the object (key too long, dynamic data too long, …).
    #[error("field does not fit: {0}")]
    FieldSize(&'static str),
    /// The SM2 signer failed.
    #[error("SM2 signing failed")]
    Sm2Sign,
}

/// An RSA private key for signing EMV objects (☢ test/personalisation use).
pub struct RsaSigner {
    key: PrivateKey,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl core::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaSigner")
            .field("modulus_len", &self.modulus.len())
            .finish_non_exhaustive()
    }
}

impl RsaSigner {
    /// From big-endian components: modulus n, public exponent e, private exponent d and the
    /// two primes.
    pub fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, IssueError> {
        let big = |b: &[u8]| BoxedUint::from_be_slice_vartime(b);
        let key = PrivateKey::from_components(big(n), big(e), big(d), vec![big(p), big(q)])
            .map_err(|_| IssueError::InvalidRsaKey)?;
        Self::from_private_key(key)
    }

    /// From an `rsa` private key.
    pub fn from_private_key(key: PrivateKey) -> Result<Self, IssueError> {
        let modulus = key.n().to_be_bytes_trimmed_vartime().to_vec();
        let exponent = key.e().to_be_bytes_trimmed_vartime().to_vec();
        if modulus.is_empty() || exponent.is_empty() {
            return Err(IssueError::InvalidRsaKey);
        }
        Ok(Self {
            key,
            modulus,
            exponent,
        })
    }

    /// The public modulus (N bytes).
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The public exponent, minimal big-endian.
    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    /// ☢ Raw private operation S = X^d mod n on an N-byte block below n, as N bytes. No
    /// padding, no blinding: the caller supplies an EMV-formatted block.
    pub fn sign_block(&self, block: &[u8]) -> Result<Vec<u8>, IssueError> {
        let n = self.modulus.len();
        if block.len() != n || block >= &self.modulus[..] {
            return Err(IssueError::BlockSize);
        }
        let params = self.key.n_params();
        let x = BoxedUint::from_be_slice(block, params.bits_precision())
            .map_err(|_| IssueError::BlockSize)?;
        let d = self.key.d();
        let s = BoxedMontyForm::new(x, params)
            .pow_bounded_exp(d, d.bits_precision())
            .retrieve()
            .to_be_bytes();
        let start = s.len().checked_sub(n).ok_or(IssueError::BlockSize)?;
        Ok(s[start..].to_vec())
    }
}

/// Recomputes the hash of an RSA block: X[N−21..N−2] = SHA-1(X[1..N−22] ‖ parts…)
/// (EMV Book 2 Tables 6, 7, 14, 17 hash rule).
pub fn seal_block(block: &mut [u8], parts: &[&[u8]]) -> Result<(), IssueError> {
    let n = block.len();
    if n < HASH_LEN + 2 {
        return Err(IssueError::BlockSize);
    }
    let mut h = Sha1::new();
    h.update(&block[1..n - HASH_LEN - 1]);
    for p in parts {
        h.update(p);
    }
    block[n - HASH_LEN - 1..n - 1].copy_from_slice(&h.finalize());
    Ok(())
}

/// Fields of an issuer public key certificate (EMV Book 2 Table 6) besides the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerCertificateFields {
    /// Issuer identifier: leftmost 3–8 PAN digits, BCD, `F`-padded.
    pub issuer_identifier: [u8; 4],
    /// Expiry MMYY, BCD.
    pub expiry: [u8; 2],
    /// Certificate serial number.
    pub serial: [u8; 3],
    /// Hash algorithm indicator (`01`).
    pub hash_algorithm: u8,
    /// Public key algorithm indicator (`01` RSA).
    pub pk_algorithm: u8,
}

/// Fields of an ICC public key certificate (EMV Book 2 Table 14) besides the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IccCertificateFields {
    /// Application PAN, BCD, `F`-padded to 10 bytes (see [`pan_field`]).
    pub pan: [u8; 10],
    /// Expiry MMYY, BCD.
    pub expiry: [u8; 2],
    /// Certificate serial number.
    pub serial: [u8; 3],
    /// Hash algorithm indicator (`01`).
    pub hash_algorithm: u8,
    /// Public key algorithm indicator (`01` RSA).
    pub pk_algorithm: u8,
}

/// The 10-byte certificate PAN field from tag `5A` (right-padded with `F`).
pub fn pan_field(pan: &[u8]) -> Result<[u8; 10], IssueError> {
    if pan.len() > 10 {
        return Err(IssueError::FieldSize("PAN"));
    }
    let mut out = [0xFF; 10];
    out[..pan.len()].copy_from_slice(pan);
    Ok(out)
}

/// An RSA certificate and the key remainder that did not fit (tags `90`/`92` or `9F46`/`9F48`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaCertificate {
    /// The certificate (signature, N bytes of the signing key).
    pub certificate: Vec<u8>,
    /// The public key remainder, empty when the key fits.
    pub remainder: Vec<u8>,
}

/// Block and remainder of a certificate whose key field starts at `key_offset` with overhead
/// `overhead`; `head` are the fields from the format byte up to the key length and exponent
/// length bytes (exclusive).
fn certificate_block(
    n: usize,
    head: &[u8],
    overhead: usize,
    modulus: &[u8],
    exponent: &[u8],
    extra: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), IssueError> {
    if n < overhead + 1 || modulus.len() > usize::from(u8::MAX) || exponent.len() > 3 {
        return Err(IssueError::FieldSize("certified key"));
    }
    let room = n - overhead;
    let mut x = Vec::with_capacity(n);
    x.push(HEADER);
    x.extend_from_slice(head);
    x.push(modulus.len() as u8); // ≤ 255, checked above
    x.push(exponent.len() as u8);
    let (left, remainder) = modulus.split_at(modulus.len().min(room));
    x.extend_from_slice(left);
    x.resize(n - HASH_LEN - 1, PAD);
    x.resize(n - 1, 0);
    x.push(TRAILER);
    seal_block(&mut x, &[remainder, exponent, extra])?;
    Ok((x, remainder.to_vec()))
}

/// Recovered-data block of an issuer certificate for a CA key of `ca_len` bytes
/// (EMV Book 2 Table 6), with its remainder.
pub fn issuer_certificate_block(
    ca_len: usize,
    fields: &IssuerCertificateFields,
    modulus: &[u8],
    exponent: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), IssueError> {
    let mut head = vec![format::ISSUER_CERTIFICATE];
    head.extend_from_slice(&fields.issuer_identifier);
    head.extend_from_slice(&fields.expiry);
    head.extend_from_slice(&fields.serial);
    head.push(fields.hash_algorithm);
    head.push(fields.pk_algorithm);
    certificate_block(ca_len, &head, 36, modulus, exponent, &[])
}

/// Issuer public key certificate (tag `90`) and remainder (`92`), EMV Book 2 §5.3 Table 6.
pub fn issuer_certificate(
    ca: &RsaSigner,
    fields: &IssuerCertificateFields,
    modulus: &[u8],
    exponent: &[u8],
) -> Result<RsaCertificate, IssueError> {
    let (block, remainder) =
        issuer_certificate_block(ca.modulus().len(), fields, modulus, exponent)?;
    Ok(RsaCertificate {
        certificate: ca.sign_block(&block)?,
        remainder,
    })
}

/// Recovered-data block of an ICC certificate for an issuer key of `issuer_len` bytes
/// (EMV Book 2 Table 14, hash over the static data too), with its remainder.
pub fn icc_certificate_block(
    issuer_len: usize,
    fields: &IccCertificateFields,
    modulus: &[u8],
    exponent: &[u8],
    static_data: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), IssueError> {
    let mut head = vec![format::ICC_CERTIFICATE];
    head.extend_from_slice(&fields.pan);
    head.extend_from_slice(&fields.expiry);
    head.extend_from_slice(&fields.serial);
    head.push(fields.hash_algorithm);
    head.push(fields.pk_algorithm);
    certificate_block(issuer_len, &head, 42, modulus, exponent, static_data)
}

/// ICC public key certificate (tag `9F46`) and remainder (`9F48`), EMV Book 2 §6.4 Table 14.
pub fn icc_certificate(
    issuer: &RsaSigner,
    fields: &IccCertificateFields,
    modulus: &[u8],
    exponent: &[u8],
    static_data: &[u8],
) -> Result<RsaCertificate, IssueError> {
    let (block, remainder) = icc_certificate_block(
        issuer.modulus().len(),
        fields,
        modulus,
        exponent,
        static_data,
    )?;
    Ok(RsaCertificate {
        certificate: issuer.sign_block(&block)?,
        remainder,
    })
}

/// Recovered-data block of an SSAD (EMV Book 2 Table 7) for an issuer key of `issuer_len` bytes.
pub fn ssad_block(
    issuer_len: usize,
    data_authentication_code: [u8; 2],
    static_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    if issuer_len < 26 {
        return Err(IssueError::FieldSize("issuer key"));
    }
    let mut x = vec![HEADER, format::SSAD, 0x01];
    x.extend_from_slice(&data_authentication_code);
    x.resize(issuer_len - HASH_LEN - 1, PAD);
    x.resize(issuer_len - 1, 0);
    x.push(TRAILER);
    seal_block(&mut x, &[static_data])?;
    Ok(x)
}

/// Signed static application data (tag `93`), EMV Book 2 §5.4 Table 7.
pub fn ssad(
    issuer: &RsaSigner,
    data_authentication_code: [u8; 2],
    static_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    issuer.sign_block(&ssad_block(
        issuer.modulus().len(),
        data_authentication_code,
        static_data,
    )?)
}

/// Recovered-data block of an SDAD (EMV Book 2 Table 17) for an ICC key of `icc_len` bytes;
/// `format` is `05` (or `95` for Visa fDDA), `dynamic_data` the terminal data appended to the hash.
pub fn sdad_block(
    icc_len: usize,
    format: u8,
    icc_dynamic_data: &[u8],
    dynamic_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    let l = icc_dynamic_data.len();
    if l > usize::from(u8::MAX) || icc_len < 25 + l {
        return Err(IssueError::FieldSize("ICC dynamic data"));
    }
    let mut x = vec![HEADER, format, 0x01, l as u8]; // l ≤ 255, checked above
    x.extend_from_slice(icc_dynamic_data);
    x.resize(icc_len - HASH_LEN - 1, PAD);
    x.resize(icc_len - 1, 0);
    x.push(TRAILER);
    seal_block(&mut x, &[dynamic_data])?;
    Ok(x)
}

/// Signed dynamic application data (tag `9F4B`), EMV Book 2 §6.5 Table 17.
pub fn sdad(
    icc: &RsaSigner,
    format: u8,
    icc_dynamic_data: &[u8],
    dynamic_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    icc.sign_block(&sdad_block(
        icc.modulus().len(),
        format,
        icc_dynamic_data,
        dynamic_data,
    )?)
}

/// ICC dynamic data for CDA (EMV Book 2 Table 19): k ‖ ICC dynamic number ‖ CID ‖ AC (8) ‖
/// SHA-1(transaction data).
pub fn cda_icc_dynamic_data(
    icc_dynamic_number: &[u8],
    cid: u8,
    application_cryptogram: [u8; 8],
    transaction_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    let k = u8::try_from(icc_dynamic_number.len())
        .map_err(|_| IssueError::FieldSize("ICC dynamic number"))?;
    let mut dd = vec![k];
    dd.extend_from_slice(icc_dynamic_number);
    dd.push(cid);
    dd.extend_from_slice(&application_cryptogram);
    dd.extend_from_slice(&Sha1::digest(transaction_data));
    Ok(dd)
}

// ---------------------------------------------------------------------------------------------
// SM2 (⚠ layout of super::sm2)
// ---------------------------------------------------------------------------------------------

/// An SM2 private key for signing PBOC SM2 ODA objects (☢ test/personalisation use).
/// Signatures are deterministic (RFC 6979 nonces), with the user ID of [`super::sm2::USER_ID`].
pub struct Sm2Signer {
    key: sm2::dsa::SigningKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl core::fmt::Debug for Sm2Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2Signer").finish_non_exhaustive()
    }
}

impl Sm2Signer {
    /// From the 32-byte private scalar.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<Self, IssueError> {
        let id = core::str::from_utf8(USER_ID).map_err(|_| IssueError::InvalidSm2Key)?;
        let key =
            sm2::dsa::SigningKey::from_slice(id, secret).map_err(|_| IssueError::InvalidSm2Key)?;
        let sec1 = key.verifying_key().to_sec1_bytes();
        let public = sec1
            .get(1..)
            .and_then(|xy| <[u8; PUBLIC_KEY_LEN]>::try_from(xy).ok())
            .ok_or(IssueError::InvalidSm2Key)?;
        Ok(Self { key, public })
    }

    /// The public key X ‖ Y.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// Signature r ‖ s over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> Result<[u8; SIGNATURE_LEN], IssueError> {
        use sm2::dsa::signature::MultipartSigner;
        let sig: sm2::dsa::Signature = self
            .key
            .try_multipart_sign(parts)
            .map_err(|_| IssueError::Sm2Sign)?;
        Ok(sig.to_bytes().into())
    }

    /// Appends the signature over `body` ‖ `extra` to `body`.
    pub fn seal(&self, mut body: Vec<u8>, extra: &[u8]) -> Result<Vec<u8>, IssueError> {
        let sig = self.sign(&[&body, extra])?;
        body.extend_from_slice(&sig);
        Ok(body)
    }
}

/// The key part shared by SM2 certificates `12` and `14` (⚠ layout of [`super::sm2`]):
/// algorithm ‖ public key parameter indicator ‖ key length ‖ X ‖ Y.
fn push_sm2_public_key(b: &mut Vec<u8>, pk_algorithm: u8, public_key: &[u8; PUBLIC_KEY_LEN]) {
    b.push(pk_algorithm);
    b.push(0x00); // public key parameter indicator ⚠
    b.push(PUBLIC_KEY_LEN as u8);
    b.extend_from_slice(public_key);
}

/// Unsigned body of an SM2 issuer certificate `12` (everything before r ‖ s).
pub fn sm2_issuer_certificate_body(
    fields: &IssuerCertificateFields,
    public_key: &[u8; PUBLIC_KEY_LEN],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(ISSUER_CERTIFICATE_LEN);
    b.push(format::SM2_ISSUER_CERTIFICATE);
    b.extend_from_slice(&fields.issuer_identifier);
    b.extend_from_slice(&fields.expiry);
    b.extend_from_slice(&fields.serial);
    push_sm2_public_key(&mut b, fields.pk_algorithm, public_key);
    b
}

/// SM2 issuer certificate `12` signed by the CA (⚠ layout of [`super::sm2`]).
/// `fields.pk_algorithm` should be `04`; `fields.hash_algorithm` is not part of the layout.
pub fn sm2_issuer_certificate(
    ca: &Sm2Signer,
    fields: &IssuerCertificateFields,
    public_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<Vec<u8>, IssueError> {
    ca.seal(sm2_issuer_certificate_body(fields, public_key), &[])
}

/// Unsigned body of an SM2 ICC certificate `14` (everything before r ‖ s).
pub fn sm2_icc_certificate_body(
    fields: &IccCertificateFields,
    public_key: &[u8; PUBLIC_KEY_LEN],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(ICC_CERTIFICATE_LEN);
    b.push(format::SM2_ICC_CERTIFICATE);
    b.extend_from_slice(&fields.pan);
    b.extend_from_slice(&fields.expiry);
    b.extend_from_slice(&fields.serial);
    push_sm2_public_key(&mut b, fields.pk_algorithm, public_key);
    b
}

/// SM2 ICC certificate `14` signed by the issuer over body ‖ static data (⚠ layout).
pub fn sm2_icc_certificate(
    issuer: &Sm2Signer,
    fields: &IccCertificateFields,
    public_key: &[u8; PUBLIC_KEY_LEN],
    static_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    issuer.seal(sm2_icc_certificate_body(fields, public_key), static_data)
}

/// SM2 SSAD `13` (⚠ layout): `13` ‖ DAC ‖ signature over that ‖ static data.
pub fn sm2_ssad(
    issuer: &Sm2Signer,
    data_authentication_code: [u8; 2],
    static_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    let mut body = vec![format::SM2_SSAD];
    body.extend_from_slice(&data_authentication_code);
    issuer.seal(body, static_data)
}

/// Unsigned body of an SM2 SDAD `15`: `15` ‖ L ‖ ICC dynamic data.
pub fn sm2_sdad_body(icc_dynamic_data: &[u8]) -> Result<Vec<u8>, IssueError> {
    let l = u8::try_from(icc_dynamic_data.len())
        .map_err(|_| IssueError::FieldSize("ICC dynamic data"))?;
    let mut body = vec![format::SM2_SDAD, l];
    body.extend_from_slice(icc_dynamic_data);
    Ok(body)
}

/// SM2 SDAD `15` (⚠ layout), signed over body ‖ terminal dynamic data.
pub fn sm2_sdad(
    icc: &Sm2Signer,
    icc_dynamic_data: &[u8],
    dynamic_data: &[u8],
) -> Result<Vec<u8>, IssueError> {
    icc.seal(sm2_sdad_body(icc_dynamic_data)?, dynamic_data)
}

/// The SM2 algorithm indicator to put in [`IssuerCertificateFields::pk_algorithm`] /
/// [`IccCertificateFields::pk_algorithm`] for SM2 certificates.
pub const SM2_PK_ALGORITHM: u8 = SM2_ALGORITHM;
