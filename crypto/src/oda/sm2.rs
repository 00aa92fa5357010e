//! PBOC 3.0 (JR/T 0025.17) SM2/SM3 offline data authentication.
//!
//! # ⚠ UNVERIFIED LAYOUT — pboc-notes §3.5 and §7 item 1
//!
//! Only the codes are confirmed (formats `12` issuer certificate, `13` SSAD, `14` ICC
//! certificate, `15` SDAD; public key algorithm `04` = SM2; hash `07` = SM3). The field layouts
//! below are the notes' best guess: SM2 has no message recovery, so every object is plain data
//! followed by a 64-byte signature r ‖ s over **all preceding fields** (plus the static data for
//! `13`/`14`, plus the terminal dynamic data for `15`), with the default user ID
//! `1234567812345678`. No header `6A`/trailer `BC`, no padding, no hash field. Everything about
//! the layout lives in this file (parsers here, builders in [`super::issue`] use the constants
//! here), so correcting it against the standard touches only this module.
//!
//! | object | layout (offsets 0-based) |
//! |---|---|
//! | issuer cert `12` | `12` ‖ issuer id (4) ‖ expiry MMYY (2) ‖ serial (3) ‖ signature algorithm `04` (1) ‖ public key parameter indicator (1, not checked) ‖ key length `40` (1) ‖ X ‖ Y (64) ‖ r ‖ s (64) = 141 bytes |
//! | ICC cert `14` | `14` ‖ PAN (10, `F`-padded) ‖ expiry (2) ‖ serial (3) ‖ `04` ‖ parameter indicator ‖ `40` ‖ X ‖ Y (64) ‖ r ‖ s (64) = 147 bytes; signed message = all before r ‖ static data |
//! | SSAD `13` | `13` ‖ data authentication code (2) ‖ r ‖ s (64) = 67 bytes; signed message = `13` ‖ DAC ‖ static data |
//! | SDAD `15` | `15` ‖ L_DD (1) ‖ ICC dynamic data (L_DD) ‖ r ‖ s (64); signed message = all before r ‖ terminal dynamic data |
//!
//! The issuer public key exponent/remainder objects do not exist for SM2 and are ignored.

#[cfg(feature = "std")]
use super::memo::BoundedMap;
use super::{
    check_certified_pan, check_expiry, check_issuer_identifier_format,
    check_issuer_identifier_matches, format, DataAuthenticationCode, Digits, DynamicSignature,
    IccPublicKey, IssuerPublicKey, OdaError, OdaObject,
};
use crate::date::Date;
use crate::sm2::{PublicVerifier, VerifyTables};
use crate::sm2_vartime::FixedBaseTable;
#[cfg(feature = "std")]
use crate::sm2_vartime::{generator_table, FIXED_WINDOW, ISSUER_WINDOW};
#[cfg(feature = "std")]
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
#[cfg(feature = "std")]
use std::sync::Mutex;

/// SM2 signature length r ‖ s.
pub const SIGNATURE_LEN: usize = 64;
/// SM2 public key length X ‖ Y.
pub const PUBLIC_KEY_LEN: usize = 64;
/// Signature algorithm indicator for SM2 with SM3 (pboc-notes §3.5: PK algorithm `04`).
pub const SM2_ALGORITHM: u8 = 0x04;
/// Length of an issuer certificate `12`.
pub const ISSUER_CERTIFICATE_LEN: usize = 13 + PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Length of an ICC certificate `14`.
pub const ICC_CERTIFICATE_LEN: usize = 19 + PUBLIC_KEY_LEN + SIGNATURE_LEN;
/// Length of an SSAD `13`.
pub const SSAD_LEN: usize = 3 + SIGNATURE_LEN;
/// The SM2 user ID used for all ODA signatures (GM/T 0009 default, pboc-notes §3.5) ⚠.
pub const USER_ID: &[u8] = crate::sm2::DEFAULT_USER_ID;

/// A validated SM2 public key X ‖ Y (a point of the SM2 curve), prepared for verification: the
/// parsed point and its Z_A for [`USER_ID`] are computed once, when the key is built. It also
/// remembers, like the RSA keys, the static objects it verified (see [`Memo`]); clones share
/// that memo.
///
/// Precomputed tables (variable-time verification on public data, [`crate::sm2_vartime`]):
/// a CA key builds the generator's table and its own when it is loaded (width 6: 90,112 bytes
/// each, 176 KiB per SM2 CA key, a few milliseconds to build on the project's machine); the
/// keys it certifies share its generator table. An issuer key builds its own table (width 5:
/// 54,272 bytes, about 1 ms) at its **second** verification, not its first: building costs as
/// much as several verifications, so an issuer met once (a cold chain) does not pay for it and
/// one met again pays once, then verifies in about a third of the time. The table lives in the
/// issuer key's memo, which the CA key's memo holds: at most [`super::memo::MEMO_CAPACITY`]
/// (64) issuer tables per CA key, 3.3 MiB in the worst case (a bus's 20 issuers: 1.04 MiB).
/// ICC keys get no table (a card is seen too rarely).
///
/// Without the `std` feature (a microcontroller) there is no memo and no table: the CA key's
/// 176 KiB would not fit a validator's RAM, and the memo needs a lock. Verification is then
/// the `sm2` crate's w-NAF, as before the tables.
#[derive(Clone)]
pub(crate) struct Sm2Point {
    xy: [u8; PUBLIC_KEY_LEN],
    verifier: PublicVerifier,
    #[cfg(feature = "std")]
    memo: Arc<Mutex<Memo>>,
    /// The generator's table, shared with the keys this one certified; `None` for a key made
    /// without a CA key (`IccPublicKey::from_sm2_unverified`), which verifies with the `sm2`
    /// crate's w-NAF instead.
    generator: Option<Arc<FixedBaseTable>>,
    /// This key's own table, built with it (CA keys).
    table: Option<Arc<FixedBaseTable>>,
    role: KeyRole,
}

/// Which key of the chain a point is, for the table policy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyRole {
    Ca,
    Issuer,
    Icc,
}

/// What an SM2 key has already verified. SM2 has no message recovery, so what is remembered is
/// that a signature verified: keyed by the **whole** signed message followed by the signature
/// (an exact byte comparison on lookup, never a hash), under this key (the memo belongs to one
/// key). Only successes are stored. Every other check of a certificate (length, format,
/// algorithm, key length, issuer identifier or PAN, expiry) runs on each call, before or after
/// the lookup exactly as without the memo, so a hit gives the same result as verifying again.
/// The signed message starts with the object's format byte (`12`, `13` or `14`, checked before
/// the lookup), so objects of different kinds never share an entry. Bounded like the RSA memo:
/// [`super::memo::MEMO_CAPACITY`] entries per map, oldest out first.
#[cfg(feature = "std")]
#[derive(Default)]
struct Memo {
    /// Certificates `12` / `14` (plus, for `14`, the static data it signs) → the key they
    /// certify, with its own memo.
    certified: BoundedMap<Box<[u8]>, Sm2Point>,
    /// SSADs `13` (plus the static data) whose signature verified.
    ssad: BoundedMap<Box<[u8]>, ()>,
    /// Signatures verified with this key so far (issuer keys: the table is built at the second).
    verifications: u32,
    /// An issuer key's table, once built.
    table: Option<Arc<FixedBaseTable>>,
}

impl PartialEq for Sm2Point {
    fn eq(&self, other: &Self) -> bool {
        self.xy == other.xy
    }
}

impl Eq for Sm2Point {}

impl Sm2Point {
    /// `None` unless 64 bytes (or 65 with the `04` prefix) forming a curve point. No tables:
    /// for a key taken as given, outside a certificate chain.
    pub(crate) fn new(bytes: &[u8]) -> Option<Self> {
        Self::with_tables(bytes, KeyRole::Icc, None)
    }

    /// A CA key: [`Sm2Point::new`] plus the generator's table and its own, built now (a
    /// terminal loads its CA keys once, at start-up).
    #[cfg(feature = "std")]
    pub(crate) fn new_ca(bytes: &[u8]) -> Option<Self> {
        let generator = Arc::new(generator_table()?);
        let mut key = Self::with_tables(bytes, KeyRole::Ca, Some(generator))?;
        key.table = Some(Arc::new(FixedBaseTable::new(
            key.verifier.point(),
            FIXED_WINDOW,
        )?));
        Some(key)
    }

    /// A CA key without tables (no `std`: see the type's doc).
    #[cfg(not(feature = "std"))]
    pub(crate) fn new_ca(bytes: &[u8]) -> Option<Self> {
        Self::with_tables(bytes, KeyRole::Ca, None)
    }

    /// A key this key certified (issuer or ICC), sharing its generator table.
    fn certified(&self, bytes: &[u8], object: OdaObject) -> Option<Self> {
        let role = match object {
            OdaObject::IssuerCertificate => KeyRole::Issuer,
            _ => KeyRole::Icc,
        };
        Self::with_tables(bytes, role, self.generator.clone())
    }

    fn with_tables(
        bytes: &[u8],
        role: KeyRole,
        generator: Option<Arc<FixedBaseTable>>,
    ) -> Option<Self> {
        let xy: [u8; PUBLIC_KEY_LEN] = match bytes.len() {
            PUBLIC_KEY_LEN => bytes.try_into().ok()?,
            65 if bytes[0] == 0x04 => bytes[1..].try_into().ok()?,
            _ => return None,
        };
        let verifier = PublicVerifier::new(&xy, USER_ID).ok()?;
        Some(Self {
            xy,
            verifier,
            #[cfg(feature = "std")]
            memo: Arc::default(),
            generator,
            table: None,
            role,
        })
    }

    /// This key's table: a CA key's own, or an issuer key's, built here at its second
    /// verification (see the type's doc). Counts the verification.
    fn key_table(&self) -> Option<Arc<FixedBaseTable>> {
        if self.table.is_some() || self.role != KeyRole::Issuer || cfg!(not(feature = "std")) {
            return self.table.clone();
        }
        #[cfg(feature = "std")]
        {
            let mut memo = self.memo.lock().ok()?;
            if memo.table.is_some() {
                return memo.table.clone();
            }
            memo.verifications = memo.verifications.saturating_add(1);
            if memo.verifications < 2 {
                return None;
            }
        }
        // Built outside the lock; a concurrent builder's table is as good as this one.
        #[cfg(feature = "std")]
        {
            let table = Arc::new(FixedBaseTable::new(self.verifier.point(), ISSUER_WINDOW)?);
            let mut memo = self.memo.lock().ok()?;
            Some(Arc::clone(memo.table.get_or_insert(table)))
        }
        #[cfg(not(feature = "std"))]
        None
    }

    /// Whether this key has its own table now (tests and benches).
    #[cfg(all(test, feature = "std"))]
    fn has_table(&self) -> bool {
        self.table.is_some() || self.memo.lock().map(|m| m.table.is_some()).unwrap_or(false)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.xy
    }
    pub(crate) fn as_array(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.xy
    }

    /// The key a certificate with exactly this signed input verified by this key before.
    #[cfg(feature = "std")]
    fn remembered_certificate(&self, input: &[u8]) -> Option<Sm2Point> {
        self.memo.lock().ok()?.certified.get(input)
    }

    #[cfg(feature = "std")]
    fn remember_certificate(&self, input: Vec<u8>, certified: &Sm2Point) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.certified
                .insert(input.into_boxed_slice(), certified.clone());
        }
    }

    #[cfg(feature = "std")]
    fn remembered_ssad(&self, input: &[u8]) -> bool {
        self.memo
            .lock()
            .ok()
            .and_then(|m| m.ssad.get(input))
            .is_some()
    }

    #[cfg(feature = "std")]
    fn remember_ssad(&self, input: Vec<u8>) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.ssad.insert(input.into_boxed_slice(), ());
        }
    }

    // Without `std`: nothing is remembered.
    #[cfg(not(feature = "std"))]
    fn remembered_certificate(&self, _input: &[u8]) -> Option<Sm2Point> {
        None
    }

    #[cfg(not(feature = "std"))]
    fn remember_certificate(&self, _input: Vec<u8>, _certified: &Sm2Point) {}

    #[cfg(not(feature = "std"))]
    fn remembered_ssad(&self, _input: &[u8]) -> bool {
        false
    }

    #[cfg(not(feature = "std"))]
    fn remember_ssad(&self, _input: Vec<u8>) {}

    /// Number of remembered certificates and SSADs.
    #[cfg(all(test, feature = "std"))]
    fn memo_len(&self) -> (usize, usize) {
        self.memo
            .lock()
            .map(|m| (m.certified.len(), m.ssad.len()))
            .unwrap_or_default()
    }
}

/// The one SM2 verification call of ODA: signature r ‖ s over `parts` concatenated, with
/// [`USER_ID`]. Everything verified here is public, so this is the variable-time verification
/// of [`crate::sm2`] on the key's prepared point and Z_A, with the precomputed tables the key
/// has (same verdict as [`crate::sm2::verify`]).
fn verify_signature(key: &Sm2Point, parts: &[&[u8]], signature: &[u8]) -> bool {
    let own = key.key_table();
    let tables = key.generator.as_deref().map(|generator| VerifyTables {
        generator,
        key: own.as_deref(),
    });
    key.verifier
        .verify_public_vartime(tables, parts, signature)
        .is_ok()
}

/// A memo key: the signed message `parts` followed by the signature (fixed length, last), i.e.
/// exactly the bytes a verification depends on besides the key.
fn memo_input(parts: &[&[u8]], signature: &[u8]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum::<usize>() + signature.len();
    let mut input = Vec::with_capacity(len);
    for part in parts {
        input.extend_from_slice(part);
    }
    input.extend_from_slice(signature);
    input
}

fn check_length(data: &[u8], expected: usize, object: OdaObject) -> Result<(), OdaError> {
    if data.len() == expected {
        Ok(())
    } else {
        Err(OdaError::SignatureLength {
            object,
            expected,
            found: data.len(),
        })
    }
}

fn check_format(found: u8, expected: u8, object: OdaObject) -> Result<(), OdaError> {
    if found == expected {
        Ok(())
    } else {
        Err(OdaError::WrongFormat {
            object,
            expected,
            found,
        })
    }
}

/// Checks the shared certificate tail `04 ‖ param ‖ 40 ‖ X ‖ Y ‖ r ‖ s` starting at `at`, and
/// the signature over `data[..at + 67]` ‖ `extra`. Returns the certified point. The signature
/// check and the point validation are remembered by `key` (exact input bytes); the algorithm
/// and length checks run every time.
fn check_certified_key(
    key: &Sm2Point,
    data: &[u8],
    at: usize,
    extra: &[u8],
    object: OdaObject,
) -> Result<Sm2Point, OdaError> {
    if data[at] != SM2_ALGORITHM {
        return Err(OdaError::UnsupportedPublicKeyAlgorithm {
            object,
            found: data[at],
        });
    }
    let len = usize::from(data[at + 2]);
    if len != PUBLIC_KEY_LEN {
        return Err(OdaError::KeyLength {
            object,
            length: len,
            min: PUBLIC_KEY_LEN,
            max: PUBLIC_KEY_LEN,
        });
    }
    let signed_end = at + 3 + PUBLIC_KEY_LEN;
    let (signed, signature) = ([&data[..signed_end], extra], &data[signed_end..]);
    let input = memo_input(&signed, signature);
    if let Some(point) = key.remembered_certificate(&input) {
        return Ok(point);
    }
    if !verify_signature(key, &signed, signature) {
        return Err(OdaError::SignatureInvalid { object });
    }
    let point = key
        .certified(&data[at + 3..signed_end], object)
        .ok_or(OdaError::InvalidPublicKey { object })?;
    key.remember_certificate(input, &point);
    Ok(point)
}

/// SM2 issuer certificate, format `12` (⚠ layout per the module doc).
pub(crate) fn recover_issuer(
    ca: &Sm2Point,
    cert: &[u8],
    pan: &Digits,
    today: Date,
) -> Result<IssuerPublicKey, OdaError> {
    const OBJ: OdaObject = OdaObject::IssuerCertificate;
    check_length(cert, ISSUER_CERTIFICATE_LEN, OBJ)?;
    check_format(cert[0], format::SM2_ISSUER_CERTIFICATE, OBJ)?;
    let id = check_issuer_identifier_format(&cert[1..5])?;
    let point = check_certified_key(ca, cert, 10, &[], OBJ)?;
    check_issuer_identifier_matches(&id, pan)?;
    let expiry = check_expiry([cert[5], cert[6]], today, OBJ)?;
    Ok(IssuerPublicKey::new_sm2(
        point,
        [cert[1], cert[2], cert[3], cert[4]],
        [cert[7], cert[8], cert[9]],
        expiry,
    ))
}

/// SM2 ICC certificate, format `14` (⚠ layout per the module doc).
pub(crate) fn recover_icc(
    issuer: &Sm2Point,
    cert: &[u8],
    pan: &Digits,
    static_data: &[u8],
    today: Date,
) -> Result<IccPublicKey, OdaError> {
    const OBJ: OdaObject = OdaObject::IccCertificate;
    check_length(cert, ICC_CERTIFICATE_LEN, OBJ)?;
    check_format(cert[0], format::SM2_ICC_CERTIFICATE, OBJ)?;
    let point = check_certified_key(issuer, cert, 16, static_data, OBJ)?;
    check_certified_pan(&cert[1..11], pan)?;
    let expiry = check_expiry([cert[11], cert[12]], today, OBJ)?;
    Ok(IccPublicKey::new_sm2(
        point,
        [cert[13], cert[14], cert[15]],
        expiry,
    ))
}

/// SM2 SSAD, format `13` (⚠ layout per the module doc).
pub(crate) fn verify_ssad(
    issuer: &Sm2Point,
    ssad: &[u8],
    static_data: &[u8],
) -> Result<DataAuthenticationCode, OdaError> {
    const OBJ: OdaObject = OdaObject::Ssad;
    check_length(ssad, SSAD_LEN, OBJ)?;
    check_format(ssad[0], format::SM2_SSAD, OBJ)?;
    let (signed, signature) = ([&ssad[..3], static_data], &ssad[3..]);
    let input = memo_input(&signed, signature);
    if !issuer.remembered_ssad(&input) {
        if !verify_signature(issuer, &signed, signature) {
            return Err(OdaError::SignatureInvalid { object: OBJ });
        }
        issuer.remember_ssad(input);
    }
    Ok(DataAuthenticationCode::new([ssad[1], ssad[2]]))
}

/// SM2 SDAD, format `15` (⚠ layout per the module doc).
pub(crate) fn verify_sdad(
    icc: &Sm2Point,
    sdad: &[u8],
    dynamic_data: &[u8],
) -> Result<DynamicSignature, OdaError> {
    const OBJ: OdaObject = OdaObject::Sdad;
    if sdad.len() < 2 + 1 + SIGNATURE_LEN {
        return Err(OdaError::SignatureLength {
            object: OBJ,
            expected: 2 + 1 + SIGNATURE_LEN,
            found: sdad.len(),
        });
    }
    check_format(sdad[0], format::SM2_SDAD, OBJ)?;
    let l = usize::from(sdad[1]);
    if l == 0 || 2 + l + SIGNATURE_LEN != sdad.len() {
        return Err(OdaError::DynamicDataLength { length: l });
    }
    let signed_end = 2 + l;
    if !verify_signature(
        icc,
        &[&sdad[..signed_end], dynamic_data],
        &sdad[signed_end..],
    ) {
        return Err(OdaError::SignatureInvalid { object: OBJ });
    }
    DynamicSignature::new(format::SM2_SDAD, &sdad[2..signed_end])
}

// The memo's and tables' tests: neither exists without std.
#[cfg(test)]
#[cfg(feature = "std")]
#[allow(clippy::unwrap_used)] // tests: a panic is a test failure
mod tests {
    use super::super::memo::MEMO_CAPACITY;
    use super::super::parse_pan;
    use super::*;
    use crate::oda::issue::{self, IccCertificateFields, IssuerCertificateFields, Sm2Signer};

    const PAN: [u8; 8] = [0x62, 0x28, 0x48, 0x00, 0x12, 0x34, 0x56, 0x78];

    fn today() -> Date {
        Date::new(2025, 1, 15).unwrap()
    }

    fn issuer_fields(serial: u32) -> IssuerCertificateFields {
        let [_, a, b, c] = serial.to_be_bytes();
        IssuerCertificateFields {
            issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
            expiry: [0x12, 0x49],
            serial: [a, b, c],
            hash_algorithm: 0x07,
            pk_algorithm: SM2_ALGORITHM,
        }
    }

    /// 10⁴ distinct certificates through one CA key (and distinct ICC certificates and SSADs
    /// through one issuer key): the memo never holds more than its capacity, the oldest entry
    /// went first, and a forgotten certificate still verifies (and is remembered again).
    #[test]
    fn memo_stays_bounded() {
        let ca = Sm2Signer::from_bytes(&[0x11; 32]).unwrap();
        let issuer = Sm2Signer::from_bytes(&[0x22; 32]).unwrap();
        let icc = Sm2Signer::from_bytes(&[0x33; 32]).unwrap();
        let ca_key = Sm2Point::new_ca(ca.public_key()).unwrap();
        let pan = parse_pan(&PAN).unwrap();
        let certificate = |serial: u32| {
            issue::sm2_issuer_certificate(&ca, &issuer_fields(serial), issuer.public_key()).unwrap()
        };
        let first = certificate(0);
        for serial in 0..10_000 {
            let cert = if serial == 0 {
                first.clone()
            } else {
                certificate(serial)
            };
            recover_issuer(&ca_key, &cert, &pan, today()).unwrap();
            assert!(ca_key.memo_len().0 <= MEMO_CAPACITY);
        }
        assert_eq!(ca_key.memo_len(), (MEMO_CAPACITY, 0));
        let input = memo_input(&[&first[..77]], &first[77..]);
        assert!(ca_key.remembered_certificate(&input).is_none());
        let again = recover_issuer(&ca_key, &first, &pan, today()).unwrap();
        assert!(ca_key.remembered_certificate(&input).is_some());
        assert_eq!(ca_key.memo_len(), (MEMO_CAPACITY, 0));

        let issuer_key = match again.key {
            super::super::KeyMaterial::Sm2(p) => p,
            super::super::KeyMaterial::Rsa(_) => unreachable!(),
        };
        let fields = IccCertificateFields {
            pan: issue::pan_field(&PAN).unwrap(),
            expiry: [0x12, 0x49],
            serial: [0, 0, 1],
            hash_algorithm: 0x07,
            pk_algorithm: SM2_ALGORITHM,
        };
        assert!(!issuer_key.has_table());
        for card in 0..(2 * MEMO_CAPACITY as u32) {
            // The issuer key's table comes with its second verification, not its first.
            assert_eq!(issuer_key.has_table(), card > 0);
            let static_data = card.to_be_bytes();
            let cert = issue::sm2_icc_certificate(&issuer, &fields, icc.public_key(), &static_data)
                .unwrap();
            recover_icc(&issuer_key, &cert, &pan, &static_data, today()).unwrap();
            let ssad = issue::sm2_ssad(&issuer, [0x12, 0x34], &static_data).unwrap();
            verify_ssad(&issuer_key, &ssad, &static_data).unwrap();
        }
        assert_eq!(issuer_key.memo_len(), (MEMO_CAPACITY, MEMO_CAPACITY));
        assert!(ca_key.has_table());
    }
}
