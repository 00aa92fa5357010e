//! Offline data authentication (EMV Book 2 §5 SDA, §6 DDA/CDA; qPBOC/qVSDC fDDA; PBOC 3.0 SM2
//! variant).
//!
//! The checks follow vectors README §3.14 steps I, C, S, D and X exactly; each failed check has
//! its own [`OdaError`] variant.
//!
//! Keys are minted only by verification, so a dangerous mistake cannot be written:
//!
//! ```text
//! CaPublicKey ──recover_issuer_public_key──▶ IssuerPublicKey ──recover_icc_public_key──▶ IccPublicKey
//!                                                 │                                        │
//!                                            verify_ssad                        verify_sdad / verify_cda
//!                                                 ▼                                        ▼
//!                                      DataAuthenticationCode               DynamicSignature / CdaSignature
//! ```
//!
//! The only other way to an [`IccPublicKey`] is the explicitly hazardous
//! [`IccPublicKey::from_raw_parts_unverified`] (for test vectors that give a key directly).
//!
//! RSA keys carry their precomputed Montgomery parameters (built once per key); hashes are fed
//! slice by slice, never over concatenated copies. SM2 keys (PBOC 3.0 Part 17) go through the
//! same functions; their certificate layouts are an unverified guess isolated in [`sm2`]. SM2
//! keys carry their parsed point and Z_A, and verify in variable time (all ODA data is public).
//! Both kinds of key remember, boundedly and by exact input bytes, the certificates and SSAD they
//! verified (RSA: the recovered data; SM2: the certified key); every other check re-runs.
//! [`issue`] builds and signs the same objects for tests and card personalisation.

pub mod issue;
// The memo needs a lock (std::sync::Mutex); without `std` keys remember nothing.
#[cfg(feature = "std")]
mod memo;
pub(crate) mod rsa_key;
mod rsa_public_op;
pub mod sm2;

use alloc::{boxed::Box, vec::Vec};
use core::fmt;

use sha1::{Digest, Sha1};

use crate::capk::{CaKey, CaPublicKey, PkAlgorithm};
use crate::date::Date;
use rsa_key::{RsaKey, RsaKeyError, MIN_MODULUS_LEN};
use sm2::Sm2Point;

/// Recovered data header (EMV Book 2 Tables 2, 4, 6, 13, 17).
pub const HEADER: u8 = 0x6A;
/// Recovered data trailer (EMV Book 2 Tables 2, 4, 6, 13, 17).
pub const TRAILER: u8 = 0xBC;
/// Length of a SHA-1 hash result.
const HASH_LEN: usize = 20;

/// Certificate formats and signed data formats (EMV Book 2 Tables 2, 4, 6, 13, 17; PBOC 3.0
/// Part 17 codes per pboc-notes §3.5).
pub mod format {
    /// Issuer public key certificate, RSA (EMV Book 2 Table 6).
    pub const ISSUER_CERTIFICATE: u8 = 0x02;
    /// Signed static application data, RSA (EMV Book 2 Table 7).
    pub const SSAD: u8 = 0x03;
    /// ICC public key certificate, RSA (EMV Book 2 Table 14).
    pub const ICC_CERTIFICATE: u8 = 0x04;
    /// Signed dynamic application data, RSA (EMV Book 2 Table 17).
    pub const SDAD: u8 = 0x05;
    /// Signed dynamic application data of Visa fDDA version 01 (vectors README §3.14).
    pub const SDAD_FDDA_VISA: u8 = 0x95;
    /// Issuer public key certificate, SM2 (PBOC 3.0 Part 17).
    pub const SM2_ISSUER_CERTIFICATE: u8 = 0x12;
    /// Signed static application data, SM2 (PBOC 3.0 Part 17).
    pub const SM2_SSAD: u8 = 0x13;
    /// ICC public key certificate, SM2 (PBOC 3.0 Part 17).
    pub const SM2_ICC_CERTIFICATE: u8 = 0x14;
    /// Signed dynamic application data, SM2 (PBOC 3.0 Part 17).
    pub const SM2_SDAD: u8 = 0x15;
}

/// Which signed object a check failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OdaObject {
    /// Issuer public key certificate, tag `90` (EMV Book 2 §5.3, §6.3).
    IssuerCertificate,
    /// ICC public key certificate, tag `9F46` (EMV Book 2 §6.4).
    IccCertificate,
    /// Signed static application data, tag `93` (EMV Book 2 §5.4).
    Ssad,
    /// Signed dynamic application data, tag `9F4B` (EMV Book 2 §6.5, §6.6).
    Sdad,
}

impl fmt::Display for OdaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IssuerCertificate => "issuer public key certificate (90)",
            Self::IccCertificate => "ICC public key certificate (9F46)",
            Self::Ssad => "signed static application data (93)",
            Self::Sdad => "signed dynamic application data (9F4B)",
        })
    }
}

/// A failed offline data authentication check: one variant per check of EMV Book 2 §5.3, §5.4,
/// §6.3–§6.6 (vectors README §3.14). Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OdaError {
    /// Signature/certificate length differs from the key's modulus length (Book 2 §5.3 step 1,
    /// §5.4 step 1, §6.3 step 1, §6.4 step 1, §6.5.2 step 1); for SM2 the object has the wrong
    /// total length.
    #[error("{object}: length {found} differs from the expected {expected}")]
    SignatureLength {
        /// The object checked.
        object: OdaObject,
        /// Length required by the key.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The signature as an integer is not below the modulus (RSA recovery precondition).
    #[error("{object}: value is not below the key modulus")]
    SignatureNotBelowModulus {
        /// The object checked.
        object: OdaObject,
    },
    /// Recovered data header is not `6A` (Book 2 §5.3 step 3 and analogues).
    #[error("{object}: recovered data header is {found:02X}, expected 6A")]
    BadHeader {
        /// The object checked.
        object: OdaObject,
        /// Header found.
        found: u8,
    },
    /// Recovered data trailer is not `BC` (Book 2 §5.3 step 2 and analogues).
    #[error("{object}: recovered data trailer is {found:02X}, expected BC")]
    BadTrailer {
        /// The object checked.
        object: OdaObject,
        /// Trailer found.
        found: u8,
    },
    /// Certificate format or signed data format is not the expected one (Book 2 §5.3 step 4,
    /// §5.4 step 4, §6.3 step 4, §6.4 step 4, §6.5.2 step 4).
    #[error("{object}: format {found:02X}, expected {expected:02X}")]
    WrongFormat {
        /// The object checked.
        object: OdaObject,
        /// Format expected (the first accepted one when several are).
        expected: u8,
        /// Format found.
        found: u8,
    },
    /// Hash algorithm indicator not supported (Book 2 Annex B2.3: `01` SHA-1).
    #[error("{object}: unsupported hash algorithm indicator {found:02X}")]
    UnsupportedHashAlgorithm {
        /// The object checked.
        object: OdaObject,
        /// Indicator found.
        found: u8,
    },
    /// Public key (or SM2 signature) algorithm indicator not supported (Book 2 Annex B2.4:
    /// `01` RSA; PBOC `04` SM2).
    #[error("{object}: unsupported public key algorithm indicator {found:02X}")]
    UnsupportedPublicKeyAlgorithm {
        /// The object checked.
        object: OdaObject,
        /// Indicator found.
        found: u8,
    },
    /// Issuer identifier is not 3–8 BCD digits right-padded with `F` (Book 2 Table 6).
    #[error("issuer identifier is not 3 to 8 BCD digits padded with F")]
    IssuerIdentifierInvalid,
    /// Issuer identifier does not match the leftmost PAN digits (Book 2 §5.3 step 7).
    #[error("issuer identifier does not match the leftmost PAN digits")]
    IssuerIdentifierMismatch,
    /// The PAN in the ICC certificate differs from tag `5A` (Book 2 §6.4 step 7).
    #[error("PAN in the ICC public key certificate differs from the application PAN")]
    PanMismatch,
    /// Certificate expiry `MMYY` is not a valid month (Book 2 §5.3 step 8, §6.4 step 8).
    #[error("{object}: certificate expiration date is not a valid MMYY")]
    CertificateDateInvalid {
        /// The object checked.
        object: OdaObject,
    },
    /// Certificate expired before the transaction date (Book 2 §5.3 step 8, §6.4 step 8).
    #[error("{object}: certificate expired on {expiry}")]
    CertificateExpired {
        /// The object checked.
        object: OdaObject,
        /// Last valid day.
        expiry: Date,
    },
    /// Exponent length in the certificate differs from the exponent given (`9F32`/`9F47`).
    #[error("{object}: certificate says exponent length {expected}, exponent given has {found}")]
    ExponentLength {
        /// The object checked.
        object: OdaObject,
        /// Length in the certificate.
        expected: usize,
        /// Length of the exponent data object.
        found: usize,
    },
    /// Certified key length inconsistent: N_I > N_CA, N_IC > N_I, below the 64-byte minimum, or an
    /// SM2 key not 64 bytes (Book 2 §5.3 step 10, §6.4 step 10).
    #[error("{object}: certified key length {length} outside {min}..={max}")]
    KeyLength {
        /// The object checked.
        object: OdaObject,
        /// Length in the certificate.
        length: usize,
        /// Smallest acceptable.
        min: usize,
        /// Largest acceptable.
        max: usize,
    },
    /// Public key remainder missing or of the wrong length (Book 2 §5.3 step 5, §6.4 step 5).
    #[error("{object}: key remainder has {found} bytes, expected {expected}")]
    RemainderLength {
        /// The object checked.
        object: OdaObject,
        /// Bytes the certificate requires.
        expected: usize,
        /// Bytes given (`92`/`9F48`).
        found: usize,
    },
    /// Hash result differs (Book 2 §5.3 step 6, §5.4 step 6, §6.4 step 6, §6.5.2 step 7).
    #[error("{object}: hash result does not match")]
    HashMismatch {
        /// The object checked.
        object: OdaObject,
    },
    /// SM2 signature does not verify (PBOC 3.0 Part 17 counterpart of the hash check).
    #[error("{object}: SM2 signature does not verify")]
    SignatureInvalid {
        /// The object checked.
        object: OdaObject,
    },
    /// ICC dynamic data length L_DD (or the number length inside it) does not fit
    /// (Book 2 Table 17, §6.6.2 Table 19).
    #[error("ICC dynamic data length {length} is invalid")]
    DynamicDataLength {
        /// The offending length.
        length: usize,
    },
    /// CID in the CDA signature differs from the CID returned (Book 2 §6.6.2 step 8).
    #[error("CDA: signed CID {signed:02X} differs from the CID returned {returned:02X}")]
    CidMismatch {
        /// CID inside the signature.
        signed: u8,
        /// CID (`9F27`) the card returned.
        returned: u8,
    },
    /// Transaction data hash code differs (Book 2 §6.6.2 step 9).
    #[error("CDA: transaction data hash code does not match")]
    TransactionDataHashMismatch,
    /// The recovered public key is not usable (even modulus, leading zero byte, exponent not
    /// below the modulus, SM2 point not on the curve).
    #[error("{object}: certified public key is not a valid key")]
    InvalidPublicKey {
        /// The object checked.
        object: OdaObject,
    },
    /// Caller input malformed (e.g. PAN `5A` not BCD).
    #[error("malformed input: {what}")]
    Malformed {
        /// What was malformed.
        what: &'static str,
    },
}

/// Key material of an issuer or ICC public key.
#[derive(Clone)]
pub(crate) enum KeyMaterial {
    Rsa(RsaKey),
    Sm2(Box<Sm2Point>),
}

impl KeyMaterial {
    fn algorithm(&self) -> PkAlgorithm {
        match self {
            Self::Rsa(_) => PkAlgorithm::Rsa,
            Self::Sm2(_) => PkAlgorithm::Sm2,
        }
    }
    fn key_bytes(&self) -> &[u8] {
        match self {
            Self::Rsa(k) => k.modulus(),
            Self::Sm2(p) => p.as_bytes(),
        }
    }
}

macro_rules! key_accessors {
    () => {
        /// The public key algorithm (RSA or SM2).
        pub fn algorithm(&self) -> PkAlgorithm {
            self.key.algorithm()
        }
        /// The RSA modulus, `None` for SM2.
        pub fn modulus(&self) -> Option<&[u8]> {
            match &self.key {
                KeyMaterial::Rsa(k) => Some(k.modulus()),
                KeyMaterial::Sm2(_) => None,
            }
        }
        /// The RSA exponent, `None` for SM2.
        pub fn exponent(&self) -> Option<&[u8]> {
            match &self.key {
                KeyMaterial::Rsa(k) => Some(k.exponent()),
                KeyMaterial::Sm2(_) => None,
            }
        }
        /// The SM2 public key X ‖ Y, `None` for RSA.
        pub fn sm2_public_key(&self) -> Option<&[u8; 64]> {
            match &self.key {
                KeyMaterial::Rsa(_) => None,
                KeyMaterial::Sm2(p) => Some(p.as_array()),
            }
        }
        /// The key bytes: RSA modulus or SM2 X ‖ Y.
        pub fn key_bytes(&self) -> &[u8] {
            self.key.key_bytes()
        }
    };
}

/// An issuer public key recovered from its certificate with a CA public key (EMV Book 2 §5.3,
/// §6.3). Obtainable only from [`recover_issuer_public_key`].
#[derive(Clone)]
pub struct IssuerPublicKey {
    key: KeyMaterial,
    issuer_identifier: [u8; 4],
    serial: [u8; 3],
    expiry: Date,
}

impl fmt::Debug for IssuerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerPublicKey")
            .field("algorithm", &self.algorithm())
            .field("key_len", &self.key_bytes().len())
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl IssuerPublicKey {
    key_accessors!();

    /// Issuer identifier as certified (4 bytes BCD, `F`-padded; Book 2 Table 6).
    pub fn issuer_identifier(&self) -> [u8; 4] {
        self.issuer_identifier
    }

    /// Certificate serial number, for the revocation list check (Book 2 §5.3 step 9).
    pub fn certificate_serial(&self) -> [u8; 3] {
        self.serial
    }

    /// Last day the certificate is valid (Book 2 §5.3 step 8).
    pub fn expiry(&self) -> Date {
        self.expiry
    }
}

/// An ICC public key (EMV Book 2 §6.4). Obtainable from [`recover_icc_public_key`], or —
/// hazardously, without any verification — from [`IccPublicKey::from_raw_parts_unverified`].
#[derive(Clone)]
pub struct IccPublicKey {
    key: KeyMaterial,
    certificate: Option<([u8; 3], Date)>,
}

impl fmt::Debug for IccPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IccPublicKey")
            .field("algorithm", &self.algorithm())
            .field("key_len", &self.key_bytes().len())
            .field("certified", &self.is_certified())
            .finish_non_exhaustive()
    }
}

impl IccPublicKey {
    key_accessors!();

    /// ☢ HAZARDOUS: an RSA ICC public key taken as given, with **no certificate check at all**.
    ///
    /// For test vectors that give the key directly (vectors README §3.14 method `sdad`) and for
    /// diagnostics. A terminal must never base an offline decision on a key made this way; use
    /// [`recover_icc_public_key`]. [`IccPublicKey::is_certified`] is `false` for such keys.
    pub fn from_raw_parts_unverified(modulus: &[u8], exponent: &[u8]) -> Result<Self, OdaError> {
        let key = RsaKey::new(modulus, exponent).map_err(|_| OdaError::InvalidPublicKey {
            object: OdaObject::IccCertificate,
        })?;
        Ok(Self {
            key: KeyMaterial::Rsa(key),
            certificate: None,
        })
    }

    /// ☢ HAZARDOUS: an SM2 ICC public key (X ‖ Y) taken as given, with no certificate check.
    /// Same caveats as [`IccPublicKey::from_raw_parts_unverified`].
    pub fn from_sm2_unverified(public_key: &[u8]) -> Result<Self, OdaError> {
        let point = Sm2Point::new(public_key).ok_or(OdaError::InvalidPublicKey {
            object: OdaObject::IccCertificate,
        })?;
        Ok(Self {
            key: KeyMaterial::Sm2(Box::new(point)),
            certificate: None,
        })
    }

    /// `true` when the key was recovered from a verified ICC certificate.
    pub fn is_certified(&self) -> bool {
        self.certificate.is_some()
    }

    /// Certificate serial number, `None` for an unverified raw key.
    pub fn certificate_serial(&self) -> Option<[u8; 3]> {
        self.certificate.map(|c| c.0)
    }

    /// Last day the certificate is valid, `None` for an unverified raw key (Book 2 §6.4 step 8).
    pub fn expiry(&self) -> Option<Date> {
        self.certificate.map(|c| c.1)
    }
}

/// Data authentication code from a verified SSAD (tag `9F45`, EMV Book 2 §5.4 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataAuthenticationCode([u8; 2]);

impl DataAuthenticationCode {
    /// The 2 bytes.
    pub fn value(self) -> [u8; 2] {
        self.0
    }
}

/// Signed data formats accepted by [`verify_sdad`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdadFormats {
    fdda_95: bool,
}

impl SdadFormats {
    /// DDA (EMV Book 2 §6.5): format `05` only (`15` for SM2).
    pub const DDA: Self = Self { fdda_95: false };
    /// fDDA (qVSDC/qPBOC, vectors README §3.14): `05` or Visa's `95` (`15` for SM2).
    pub const FDDA: Self = Self { fdda_95: true };

    fn accepts(self, format: u8) -> bool {
        format == format::SDAD || (self.fdda_95 && format == format::SDAD_FDDA_VISA)
    }
}

/// A verified signed dynamic application data (EMV Book 2 §6.5.2, Table 17).
#[derive(Clone, PartialEq, Eq)]
pub struct DynamicSignature {
    format: u8,
    icc_dynamic_data: Vec<u8>,
}

impl fmt::Debug for DynamicSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSignature")
            .field("format", &format_args!("{:02X}", self.format))
            .field("icc_dynamic_data_len", &self.icc_dynamic_data.len())
            .finish()
    }
}

impl DynamicSignature {
    /// Build after the signature checks; `icc_dynamic_data[0]` = k must satisfy k + 1 ≤ L.
    pub(crate) fn new(format: u8, icc_dynamic_data: &[u8]) -> Result<Self, OdaError> {
        match icc_dynamic_data.first() {
            Some(&k) if usize::from(k) < icc_dynamic_data.len() => Ok(Self {
                format,
                icc_dynamic_data: icc_dynamic_data.to_vec(),
            }),
            _ => Err(OdaError::DynamicDataLength {
                length: icc_dynamic_data.len(),
            }),
        }
    }

    /// The signed data format found (`05`, `95` or SM2 `15`).
    pub fn format(&self) -> u8 {
        self.format
    }

    /// The whole ICC dynamic data (L_DD bytes, starting with the number's length).
    pub fn icc_dynamic_data(&self) -> &[u8] {
        &self.icc_dynamic_data
    }

    /// The ICC dynamic number (tag `9F4C`; for qPBOC/qVSDC fDDA the ATC).
    pub fn icc_dynamic_number(&self) -> &[u8] {
        let k = usize::from(self.icc_dynamic_data[0]);
        &self.icc_dynamic_data[1..=k]
    }
}

/// A verified combined DDA/AC signature (EMV Book 2 §6.6.2, Table 19).
#[derive(Clone, PartialEq, Eq)]
pub struct CdaSignature {
    dynamic: DynamicSignature,
}

impl fmt::Debug for CdaSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdaSignature")
            .field("cid", &format_args!("{:02X}", self.cid()))
            .finish_non_exhaustive()
    }
}

impl CdaSignature {
    fn k(&self) -> usize {
        usize::from(self.dynamic.icc_dynamic_data[0])
    }
    /// The whole ICC dynamic data.
    pub fn icc_dynamic_data(&self) -> &[u8] {
        self.dynamic.icc_dynamic_data()
    }
    /// The ICC dynamic number.
    pub fn icc_dynamic_number(&self) -> &[u8] {
        self.dynamic.icc_dynamic_number()
    }
    /// The cryptogram information data inside the signature (equal to the returned `9F27`).
    pub fn cid(&self) -> u8 {
        self.dynamic.icc_dynamic_data[self.k() + 1]
    }
    /// The application cryptogram (`9F26`) inside the signature (8 bytes).
    pub fn application_cryptogram(&self) -> &[u8] {
        let k = self.k();
        &self.dynamic.icc_dynamic_data[k + 2..k + 10]
    }
    /// The transaction data hash code inside the signature (20 bytes).
    pub fn transaction_data_hash_code(&self) -> &[u8] {
        let k = self.k();
        &self.dynamic.icc_dynamic_data[k + 10..k + 30]
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Decimal digits of a BCD, `F`-padded number (at most 20 digits).
#[derive(Clone, Copy)]
pub(crate) struct Digits {
    d: [u8; 20],
    len: usize,
}

impl Digits {
    /// Digits then only `F` nibbles; `None` if anything else.
    pub(crate) fn from_padded_bcd(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > 10 {
            return None;
        }
        let mut out = Self { d: [0; 20], len: 0 };
        let mut padding = false;
        for nib in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
            match nib {
                0..=9 if !padding => {
                    out.d[out.len] = nib;
                    out.len += 1;
                }
                0x0F => padding = true,
                _ => return None,
            }
        }
        Some(out)
    }
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.d[..self.len]
    }
}

/// PAN from tag `5A`: 1–19 BCD digits, `F`-padded.
pub(crate) fn parse_pan(pan: &[u8]) -> Result<Digits, OdaError> {
    const BAD: OdaError = OdaError::Malformed {
        what: "PAN (5A) is not 1 to 19 BCD digits padded with F",
    };
    let d = Digits::from_padded_bcd(pan).ok_or(BAD)?;
    if d.len == 0 || d.len > 19 {
        return Err(BAD);
    }
    Ok(d)
}

/// Issuer identifier: 3–8 digits, `F`-padded (EMV Book 2 Table 6).
pub(crate) fn check_issuer_identifier_format(id: &[u8]) -> Result<Digits, OdaError> {
    match Digits::from_padded_bcd(id) {
        Some(d) if (3..=8).contains(&d.len) => Ok(d),
        _ => Err(OdaError::IssuerIdentifierInvalid),
    }
}

/// EMV Book 2 §5.3 step 7: the issuer identifier equals the leftmost PAN digits.
pub(crate) fn check_issuer_identifier_matches(id: &Digits, pan: &Digits) -> Result<(), OdaError> {
    if pan.as_slice().starts_with(id.as_slice()) {
        Ok(())
    } else {
        Err(OdaError::IssuerIdentifierMismatch)
    }
}

/// EMV Book 2 §6.4 step 7: the certified PAN (10 bytes, `F`-padded) equals tag `5A`.
pub(crate) fn check_certified_pan(field: &[u8], pan: &Digits) -> Result<(), OdaError> {
    match Digits::from_padded_bcd(field) {
        Some(d) if d.as_slice() == pan.as_slice() => Ok(()),
        _ => Err(OdaError::PanMismatch),
    }
}

/// EMV Book 2 §5.3 step 8 / §6.4 step 8: valid through the last day of `MMYY`.
pub(crate) fn check_expiry(
    mmyy: [u8; 2],
    today: Date,
    object: OdaObject,
) -> Result<Date, OdaError> {
    let expiry = Date::from_bcd_mmyy_expiry(mmyy)
        .map_err(|_| OdaError::CertificateDateInvalid { object })?;
    if today > expiry {
        return Err(OdaError::CertificateExpired { object, expiry });
    }
    Ok(expiry)
}

fn rsa_key_error(_: RsaKeyError, object: OdaObject) -> OdaError {
    OdaError::InvalidPublicKey { object }
}

/// Recovered-block envelope checks shared by every RSA format, in Book 2 order: trailer
/// (step 2), header (step 3), format (step 4).
fn check_envelope(x: &[u8], object: OdaObject, expected_format: u8) -> Result<u8, OdaError> {
    // x.len() = N ≥ MIN_MODULUS_LEN, guaranteed by RsaKey.
    let (Some(&first), Some(&last)) = (x.first(), x.last()) else {
        return Err(OdaError::SignatureLength {
            object,
            expected: MIN_MODULUS_LEN,
            found: 0,
        });
    };
    if last != TRAILER {
        return Err(OdaError::BadTrailer {
            object,
            found: last,
        });
    }
    if first != HEADER {
        return Err(OdaError::BadHeader {
            object,
            found: first,
        });
    }
    let found = x[1];
    if found != expected_format {
        return Err(OdaError::WrongFormat {
            object,
            expected: expected_format,
            found,
        });
    }
    Ok(found)
}

fn check_sha1_indicator(value: u8, object: OdaObject) -> Result<(), OdaError> {
    if value == 0x01 {
        Ok(())
    } else {
        Err(OdaError::UnsupportedHashAlgorithm {
            object,
            found: value,
        })
    }
}

fn check_rsa_indicator(value: u8, object: OdaObject) -> Result<(), OdaError> {
    if value == 0x01 {
        Ok(())
    } else {
        Err(OdaError::UnsupportedPublicKeyAlgorithm {
            object,
            found: value,
        })
    }
}

/// SHA-1 over X[1..N−22] ‖ parts compared with X[N−21..N−2] (hash fed slice by slice).
fn check_hash(x: &[u8], parts: &[&[u8]], object: OdaObject) -> Result<(), OdaError> {
    let n = x.len();
    let mut h = Sha1::new();
    h.update(&x[1..n - HASH_LEN - 1]);
    for p in parts {
        h.update(p);
    }
    if h.finalize().as_slice() == &x[n - HASH_LEN - 1..n - 1] {
        Ok(())
    } else {
        Err(OdaError::HashMismatch { object })
    }
}

/// Certified key: length check (N_x ≤ N, ≥ 64), exponent length, remainder length; returns the
/// leftmost part within the certificate. `start` is the offset of the key field, `fixed` the
/// certificate overhead (36 issuer, 42 ICC).
struct CertifiedKeyLayout {
    object: OdaObject,
    length_offset: usize,
    key_offset: usize,
    overhead: usize,
}

fn certified_key_part<'x>(
    x: &'x [u8],
    layout: &CertifiedKeyLayout,
    remainder: &[u8],
    exponent: &[u8],
) -> Result<&'x [u8], OdaError> {
    let n = x.len();
    let object = layout.object;
    let key_len = usize::from(x[layout.length_offset]);
    let exp_len = usize::from(x[layout.length_offset + 1]);
    if exp_len != exponent.len() {
        return Err(OdaError::ExponentLength {
            object,
            expected: exp_len,
            found: exponent.len(),
        });
    }
    if !(MIN_MODULUS_LEN..=n).contains(&key_len) {
        return Err(OdaError::KeyLength {
            object,
            length: key_len,
            min: MIN_MODULUS_LEN,
            max: n,
        });
    }
    let room = n - layout.overhead;
    if key_len <= room {
        Ok(&x[layout.key_offset..layout.key_offset + key_len])
    } else {
        let expected = key_len - room;
        if remainder.len() != expected {
            return Err(OdaError::RemainderLength {
                object,
                expected,
                found: remainder.len(),
            });
        }
        Ok(&x[layout.key_offset..layout.key_offset + room])
    }
}

fn build_rsa_key(
    signer: &RsaKey,
    left: &[u8],
    remainder: &[u8],
    key_len: usize,
    exponent: &[u8],
    object: OdaObject,
) -> Result<RsaKey, OdaError> {
    let modulus;
    let m: &[u8] = if left.len() == key_len {
        left
    } else {
        modulus = [left, remainder].concat();
        &modulus
    };
    signer
        .certified_key(m, exponent)
        .map_err(|e| rsa_key_error(e, object))
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// ☢ HAZARDOUS, public data only: the raw RSA public operation `base^exponent mod modulus` that
/// every ODA recovery runs (EMV Book 2 §5.1, the "recover function"), as exactly
/// `modulus.len()` big-endian bytes, in **variable time** (schoolbook products and long
/// division; see `rsa_public_op.rs`). Exposed for differential testing: the `rsa_public_op`
/// fuzz target compares it with crypto-bigint. `None` for a modulus under 16 or over 248 bytes
/// or with a leading zero byte, a base longer than the modulus, or exponent 0. A base at or
/// above the modulus is reduced first. Its timing depends on every input: never use it with a
/// secret value.
pub fn rsa_public_operation_vartime(modulus: &[u8], base: &[u8], exponent: u32) -> Option<Vec<u8>> {
    rsa_public_op::PublicModulus::new(modulus)?.pow(base, exponent)
}

/// Recovers and verifies the issuer public key (EMV Book 2 §5.3 / §6.3, Table 6; vectors README
/// §3.14 step I), or for an SM2 CA key the PBOC format `12` certificate ([`sm2`]).
///
/// - `certificate`: tag `90`; `remainder`: tag `92` (empty if absent); `exponent`: tag `9F32`
///   (ignored for SM2).
/// - `pan`: tag `5A` as BCD; `today`: the transaction date `9A`.
///
/// The revocation list check (step 9) is the caller's, with [`IssuerPublicKey::certificate_serial`].
pub fn recover_issuer_public_key(
    capk: &CaPublicKey,
    certificate: &[u8],
    remainder: &[u8],
    exponent: &[u8],
    pan: &[u8],
    today: Date,
) -> Result<IssuerPublicKey, OdaError> {
    let pan = parse_pan(pan)?;
    let ca = match &capk.key {
        CaKey::Rsa(k) => k,
        CaKey::Sm2(p) => return sm2::recover_issuer(p, certificate, &pan, today),
    };
    const OBJ: OdaObject = OdaObject::IssuerCertificate;
    let x = ca.recover_static(certificate, OBJ)?;
    check_envelope(&x, OBJ, format::ISSUER_CERTIFICATE)?;
    check_sha1_indicator(x[11], OBJ)?;
    check_rsa_indicator(x[12], OBJ)?;
    let id = check_issuer_identifier_format(&x[2..6])?;
    let layout = CertifiedKeyLayout {
        object: OBJ,
        length_offset: 13,
        key_offset: 15,
        overhead: 36,
    };
    let left = certified_key_part(&x, &layout, remainder, exponent)?;
    check_hash(&x, &[remainder, exponent], OBJ)?;
    check_issuer_identifier_matches(&id, &pan)?;
    let expiry = check_expiry([x[6], x[7]], today, OBJ)?;
    let key = build_rsa_key(ca, left, remainder, usize::from(x[13]), exponent, OBJ)?;
    Ok(IssuerPublicKey {
        key: KeyMaterial::Rsa(key),
        issuer_identifier: [x[2], x[3], x[4], x[5]],
        serial: [x[8], x[9], x[10]],
        expiry,
    })
}

/// Recovers and verifies the ICC public key (EMV Book 2 §6.4, Table 14; vectors README §3.14
/// step C), or for an SM2 issuer key the PBOC format `14` certificate ([`sm2`]).
///
/// - `certificate`: tag `9F46`; `remainder`: `9F48` (empty if absent); `exponent`: `9F47`
///   (ignored for SM2).
/// - `static_data`: the static data to be authenticated (Book 3 §10.3), part of the hash.
pub fn recover_icc_public_key(
    issuer: &IssuerPublicKey,
    certificate: &[u8],
    remainder: &[u8],
    exponent: &[u8],
    pan: &[u8],
    static_data: &[u8],
    today: Date,
) -> Result<IccPublicKey, OdaError> {
    let pan = parse_pan(pan)?;
    let key = match &issuer.key {
        KeyMaterial::Rsa(k) => k,
        KeyMaterial::Sm2(p) => return sm2::recover_icc(p, certificate, &pan, static_data, today),
    };
    const OBJ: OdaObject = OdaObject::IccCertificate;
    let x = key.recover_static(certificate, OBJ)?;
    check_envelope(&x, OBJ, format::ICC_CERTIFICATE)?;
    check_sha1_indicator(x[17], OBJ)?;
    check_rsa_indicator(x[18], OBJ)?;
    let layout = CertifiedKeyLayout {
        object: OBJ,
        length_offset: 19,
        key_offset: 21,
        overhead: 42,
    };
    let left = certified_key_part(&x, &layout, remainder, exponent)?;
    check_hash(&x, &[remainder, exponent, static_data], OBJ)?;
    check_certified_pan(&x[2..12], &pan)?;
    let expiry = check_expiry([x[12], x[13]], today, OBJ)?;
    let key = build_rsa_key(key, left, remainder, usize::from(x[19]), exponent, OBJ)?;
    Ok(IccPublicKey {
        key: KeyMaterial::Rsa(key),
        certificate: Some(([x[14], x[15], x[16]], expiry)),
    })
}

/// Verifies the signed static application data, tag `93` (EMV Book 2 §5.4, Table 7; vectors
/// README §3.14 step S), or the SM2 format `13` ([`sm2`]). Returns the data authentication code.
pub fn verify_ssad(
    issuer: &IssuerPublicKey,
    ssad: &[u8],
    static_data: &[u8],
) -> Result<DataAuthenticationCode, OdaError> {
    let key = match &issuer.key {
        KeyMaterial::Rsa(k) => k,
        KeyMaterial::Sm2(p) => return sm2::verify_ssad(p, ssad, static_data),
    };
    const OBJ: OdaObject = OdaObject::Ssad;
    let x = key.recover_static(ssad, OBJ)?;
    check_envelope(&x, OBJ, format::SSAD)?;
    check_sha1_indicator(x[2], OBJ)?;
    check_hash(&x, &[static_data], OBJ)?;
    Ok(DataAuthenticationCode([x[3], x[4]]))
}

/// RSA SDAD (Book 2 Table 17) checks shared by DDA, fDDA and CDA.
fn verify_sdad_rsa(
    key: &RsaKey,
    sdad: &[u8],
    dynamic_data: &[u8],
    accept: SdadFormats,
) -> Result<DynamicSignature, OdaError> {
    const OBJ: OdaObject = OdaObject::Sdad;
    let x = key.recover(sdad, OBJ)?;
    let format = x.get(1).copied().unwrap_or_default();
    let expected = if accept.accepts(format) {
        format
    } else {
        format::SDAD
    };
    check_envelope(&x, OBJ, expected)?;
    check_sha1_indicator(x[2], OBJ)?;
    let n = x.len();
    let l = usize::from(x[3]);
    // ICC dynamic data must end before the hash result: 4 + L ≤ N − 21.
    if l == 0 || 4 + l > n - HASH_LEN - 1 {
        return Err(OdaError::DynamicDataLength { length: l });
    }
    check_hash(&x, &[dynamic_data], OBJ)?;
    DynamicSignature::new(format, &x[4..4 + l])
}

/// Verifies signed dynamic application data, tag `9F4B` (EMV Book 2 §6.5.2, Table 17; vectors
/// README §3.14 step D), or the SM2 format `15` ([`sm2`]).
///
/// `dynamic_data` is appended to the hash: the DDOL data of INTERNAL AUTHENTICATE (DDA), or
/// the fDDA terminal data (`9F37`, or `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69` for fDDA version 01;
/// pboc-notes §2.7). `accept` chooses format `05` only ([`SdadFormats::DDA`]) or also `95`
/// ([`SdadFormats::FDDA`]).
pub fn verify_sdad(
    icc: &IccPublicKey,
    sdad: &[u8],
    dynamic_data: &[u8],
    accept: SdadFormats,
) -> Result<DynamicSignature, OdaError> {
    match &icc.key {
        KeyMaterial::Rsa(k) => verify_sdad_rsa(k, sdad, dynamic_data, accept),
        KeyMaterial::Sm2(p) => sm2::verify_sdad(p, sdad, dynamic_data),
    }
}

/// Verifies a combined DDA/application cryptogram signature (CDA, EMV Book 2 §6.6.2, Table 19;
/// vectors README §3.14 steps D and X).
///
/// - `unpredictable_number`: what is appended to the SDAD hash (the terminal's `9F37`).
/// - `transaction_data`: the pieces whose SHA-1 is the transaction data hash code (PDOL data,
///   CDOL1 data, GENERATE AC response objects except `9F4B`), hashed in order without copying.
/// - `cid`: the CID (`9F27`) the card returned.
pub fn verify_cda(
    icc: &IccPublicKey,
    sdad: &[u8],
    unpredictable_number: &[u8],
    transaction_data: &[&[u8]],
    cid: u8,
) -> Result<CdaSignature, OdaError> {
    let dynamic = verify_sdad(icc, sdad, unpredictable_number, SdadFormats::DDA)?;
    let dd = &dynamic.icc_dynamic_data;
    let k = usize::from(dd[0]);
    // k ‖ number (k) ‖ CID (1) ‖ AC (8) ‖ transaction data hash code (20) ‖ …
    if dd.len() < k + 30 {
        return Err(OdaError::DynamicDataLength { length: dd.len() });
    }
    let signed = dd[k + 1];
    if signed != cid {
        return Err(OdaError::CidMismatch {
            signed,
            returned: cid,
        });
    }
    let mut h = Sha1::new();
    for p in transaction_data {
        h.update(p);
    }
    if h.finalize().as_slice() != &dd[k + 10..k + 30] {
        return Err(OdaError::TransactionDataHashMismatch);
    }
    Ok(CdaSignature { dynamic })
}

impl IssuerPublicKey {
    pub(crate) fn new_sm2(
        point: Sm2Point,
        issuer_identifier: [u8; 4],
        serial: [u8; 3],
        expiry: Date,
    ) -> Self {
        Self {
            key: KeyMaterial::Sm2(Box::new(point)),
            issuer_identifier,
            serial,
            expiry,
        }
    }
}

impl IccPublicKey {
    pub(crate) fn new_sm2(point: Sm2Point, serial: [u8; 3], expiry: Date) -> Self {
        Self {
            key: KeyMaterial::Sm2(Box::new(point)),
            certificate: Some((serial, expiry)),
        }
    }
}

impl DataAuthenticationCode {
    pub(crate) fn new(value: [u8; 2]) -> Self {
        Self(value)
    }
}
