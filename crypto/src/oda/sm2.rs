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

use super::{
    check_certified_pan, check_expiry, check_issuer_identifier_format,
    check_issuer_identifier_matches, format, DataAuthenticationCode, Digits, DynamicSignature,
    IccPublicKey, IssuerPublicKey, OdaError, OdaObject,
};
use crate::date::Date;

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

/// A validated SM2 public key X ‖ Y (a point of the SM2 curve).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sm2Point([u8; PUBLIC_KEY_LEN]);

impl Sm2Point {
    /// `None` unless 64 bytes (or 65 with the `04` prefix) forming a curve point.
    pub(crate) fn new(bytes: &[u8]) -> Option<Self> {
        let xy: [u8; PUBLIC_KEY_LEN] = match bytes.len() {
            PUBLIC_KEY_LEN => bytes.try_into().ok()?,
            65 if bytes[0] == 0x04 => bytes[1..].try_into().ok()?,
            _ => return None,
        };
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..].copy_from_slice(&xy);
        ::sm2::PublicKey::from_sec1_bytes(&sec1).ok()?;
        Some(Self(xy))
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub(crate) fn as_array(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }
}

/// The one SM2 verification call of ODA: signature r ‖ s over `parts` concatenated, with
/// [`USER_ID`].
fn verify_signature(key: &Sm2Point, parts: &[&[u8]], signature: &[u8]) -> bool {
    let message = parts.concat();
    crate::sm2::verify(key.as_bytes(), USER_ID, &message, signature).is_ok()
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
/// the signature over `data[..at + 67]` ‖ `extra`. Returns the certified point.
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
    if !verify_signature(key, &[&data[..signed_end], extra], &data[signed_end..]) {
        return Err(OdaError::SignatureInvalid { object });
    }
    Sm2Point::new(&data[at + 3..signed_end]).ok_or(OdaError::InvalidPublicKey { object })
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
    if !verify_signature(issuer, &[&ssad[..3], static_data], &ssad[3..]) {
        return Err(OdaError::SignatureInvalid { object: OBJ });
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
