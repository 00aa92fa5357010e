//! Issue real RSA chains with `oda::issue` and show that the good chain verifies (SDA, DDA,
//! fDDA, CDA) and that each single check failure yields its own error variant
//! (EMV Book 2 §5.3, §5.4, §6.3–§6.6; vectors README §3.14).
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

mod oda_support;

use std::collections::HashSet;
use std::mem::discriminant;
use std::sync::OnceLock;

use oda_support::*;
use quickpass_crypto::oda::issue::{self, seal_block, RsaCertificate};
use quickpass_crypto::oda::{
    format, recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad,
    verify_ssad, IccPublicKey, IssuerPublicKey, OdaError, OdaObject, SdadFormats,
};
use quickpass_crypto::{Date, PkAlgorithm};

const ISS: OdaObject = OdaObject::IssuerCertificate;
const ICC: OdaObject = OdaObject::IccCertificate;

fn fixture() -> &'static Card {
    static CARD: OnceLock<Card> = OnceLock::new();
    CARD.get_or_init(|| card("issuer", "icc"))
}

fn issuer_key(c: &Card) -> IssuerPublicKey {
    recover_issuer_public_key(
        &c.capk,
        &c.issuer_cert,
        &c.issuer_rem,
        c.issuer.exponent(),
        &PAN,
        today(),
    )
    .unwrap()
}

fn icc_key(c: &Card) -> IccPublicKey {
    recover_icc_public_key(
        &issuer_key(c),
        &c.icc_cert,
        &c.icc_rem,
        c.icc.exponent(),
        &PAN,
        STATIC_DATA,
        today(),
    )
    .unwrap()
}

// ---- good chains ---------------------------------------------------------------------------

#[test]
fn good_chain_with_remainders_sda_dda_fdda_cda() {
    let c = fixture();
    assert_eq!(c.issuer_rem.len(), 144 - (176 - 36));
    assert_eq!(c.icc_rem.len(), 128 - (144 - 42));
    let issuer = issuer_key(c);
    assert_eq!(issuer.modulus().unwrap(), c.issuer.modulus());
    assert_eq!(issuer.exponent().unwrap(), c.issuer.exponent());
    assert_eq!(issuer.algorithm(), PkAlgorithm::Rsa);
    assert_eq!(issuer.certificate_serial(), SERIAL);
    assert_eq!(issuer.issuer_identifier(), ISSUER_ID);
    assert_eq!(issuer.expiry(), Date::new(2026, 12, 31).unwrap());
    let icc = icc_key(c);
    assert_eq!(icc.modulus().unwrap(), c.icc.modulus());
    assert!(icc.is_certified());
    assert_eq!(icc.certificate_serial(), Some([0, 0, 0x42]));

    // SDA
    let ssad = issue::ssad(&c.issuer, [0xDA, 0xC0], STATIC_DATA).unwrap();
    assert_eq!(
        verify_ssad(&issuer, &ssad, STATIC_DATA).unwrap().value(),
        [0xDA, 0xC0]
    );

    // DDA (format 05) with a DDOL of 9F37
    let un = [1, 2, 3, 4];
    let dd = [0x08, 1, 2, 3, 4, 5, 6, 7, 8];
    let sdad = issue::sdad(&c.icc, format::SDAD, &dd, &un).unwrap();
    let sig = verify_sdad(&icc, &sdad, &un, SdadFormats::DDA).unwrap();
    assert_eq!(sig.icc_dynamic_data(), dd);
    assert_eq!(sig.icc_dynamic_number(), &dd[1..]);
    assert_eq!(sig.format(), format::SDAD);

    // fDDA, Visa format 95 and plain 05
    for fmt in [format::SDAD_FDDA_VISA, format::SDAD] {
        let sdad = issue::sdad(&c.icc, fmt, ICC_DYNAMIC_DATA, FDDA_DATA).unwrap();
        let sig = verify_sdad(&icc, &sdad, FDDA_DATA, SdadFormats::FDDA).unwrap();
        assert_eq!(sig.icc_dynamic_number(), [0x00, 0xC3]);
        assert_eq!(sig.format(), fmt);
    }

    // CDA
    let td = b"PDOL data CDOL1 data 9F2701 40 9F3602 0001".to_vec();
    let ac = [0xAC; 8];
    let dd = issue::cda_icc_dynamic_data(&[9, 8, 7, 6, 5, 4, 3, 2], 0x40, ac, &td).unwrap();
    let sdad = issue::sdad(&c.icc, format::SDAD, &dd, &un).unwrap();
    let (a, b) = td.split_at(9);
    let sig = verify_cda(&icc, &sdad, &un, &[a, b], 0x40).unwrap();
    assert_eq!(sig.cid(), 0x40);
    assert_eq!(sig.application_cryptogram(), ac);
    assert_eq!(sig.icc_dynamic_number(), [9, 8, 7, 6, 5, 4, 3, 2]);
    assert_eq!(sig.icc_dynamic_data(), dd.as_slice());
    assert_eq!(sig.transaction_data_hash_code(), &dd[dd.len() - 20..]);
}

#[test]
fn good_chains_without_remainders_and_exponent_65537() {
    // Issuer key fits in the CA certificate (128 ≤ 176 − 36); ICC key needs 10 bytes of remainder.
    let c = card("issuer_small", "icc_small");
    assert!(c.issuer_rem.is_empty());
    assert_eq!(c.icc_rem.len(), 96 - (128 - 42));
    assert_eq!(c.issuer.exponent(), [1, 0, 1]);
    assert_eq!(issuer_key(&c).exponent().unwrap(), [1, 0, 1]);
    let icc = icc_key(&c);
    assert_eq!(icc.modulus().unwrap(), c.icc.modulus());
    let sdad = issue::sdad(&c.icc, format::SDAD_FDDA_VISA, ICC_DYNAMIC_DATA, FDDA_DATA).unwrap();
    assert!(verify_sdad(&icc, &sdad, FDDA_DATA, SdadFormats::FDDA).is_ok());
    // ICC key fits in the issuer certificate (96 ≤ 144 − 42).
    let c = card("issuer", "icc_small");
    assert!(c.icc_rem.is_empty());
    let icc = icc_key(&c);
    assert_eq!(icc.modulus().unwrap(), c.icc.modulus());
    assert_eq!(icc.exponent().unwrap(), [1, 0, 1]);
    let sdad = issue::sdad(&c.icc, format::SDAD, ICC_DYNAMIC_DATA, FDDA_DATA).unwrap();
    assert!(verify_sdad(&icc, &sdad, FDDA_DATA, SdadFormats::DDA).is_ok());
}

#[test]
fn unnecessary_remainder_is_hashed() {
    // Book 2: the remainder, when present, is part of the hash even if the key fits.
    let c = card("issuer_small", "icc_small");
    let err = recover_issuer_public_key(
        &c.capk,
        &c.issuer_cert,
        &[0x55],
        c.issuer.exponent(),
        &PAN,
        today(),
    )
    .unwrap_err();
    assert_eq!(err, OdaError::HashMismatch { object: ISS });
}

// ---- issuer certificate: one failure per check ---------------------------------------------

/// Issuer certificate from a tampered block; `reseal` recomputes the hash after tampering.
fn issuer_cert_with(
    c: &Card,
    fields: &issue::IssuerCertificateFields,
    tamper: impl FnOnce(&mut Vec<u8>),
    reseal: bool,
) -> RsaCertificate {
    let (mut block, remainder) = issue::issuer_certificate_block(
        c.ca.modulus().len(),
        fields,
        c.issuer.modulus(),
        c.issuer.exponent(),
    )
    .unwrap();
    tamper(&mut block);
    if reseal {
        seal_block(&mut block, &[&remainder, c.issuer.exponent()]).unwrap();
    }
    RsaCertificate {
        certificate: c.ca.sign_block(&block).unwrap(),
        remainder,
    }
}

fn recover_issuer(c: &Card, cert: &RsaCertificate) -> Result<IssuerPublicKey, OdaError> {
    recover_issuer_public_key(
        &c.capk,
        &cert.certificate,
        &cert.remainder,
        c.issuer.exponent(),
        &PAN,
        today(),
    )
}

fn issuer_fail(tamper: impl FnOnce(&mut Vec<u8>), reseal: bool) -> OdaError {
    let c = fixture();
    recover_issuer(c, &issuer_cert_with(c, &issuer_fields(), tamper, reseal)).unwrap_err()
}

fn issuer_fail_fields(f: impl FnOnce(&mut issue::IssuerCertificateFields)) -> OdaError {
    let c = fixture();
    let mut fields = issuer_fields();
    f(&mut fields);
    recover_issuer(c, &issuer_cert_with(c, &fields, |_| {}, false)).unwrap_err()
}

#[test]
fn issuer_signature_length() {
    let c = fixture();
    let e = recover_issuer_public_key(
        &c.capk,
        &c.issuer_cert[1..],
        &c.issuer_rem,
        c.issuer.exponent(),
        &PAN,
        today(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        OdaError::SignatureLength {
            object: ISS,
            expected: 176,
            found: 175
        }
    );
}

#[test]
fn issuer_signature_not_below_modulus() {
    let c = fixture();
    for sig in [c.ca.modulus().to_vec(), vec![0xFF; 176]] {
        let e = recover_issuer_public_key(&c.capk, &sig, &[], &[3], &PAN, today()).unwrap_err();
        assert_eq!(e, OdaError::SignatureNotBelowModulus { object: ISS });
    }
}

#[test]
fn issuer_bad_trailer() {
    let e = issuer_fail(|b| *b.last_mut().unwrap() = 0xBD, false);
    assert_eq!(
        e,
        OdaError::BadTrailer {
            object: ISS,
            found: 0xBD
        }
    );
}

#[test]
fn issuer_bad_header() {
    let e = issuer_fail(|b| b[0] = 0x6B, false);
    assert_eq!(
        e,
        OdaError::BadHeader {
            object: ISS,
            found: 0x6B
        }
    );
}

#[test]
fn issuer_wrong_format() {
    let e = issuer_fail(|b| b[1] = 0x04, true);
    assert_eq!(
        e,
        OdaError::WrongFormat {
            object: ISS,
            expected: 0x02,
            found: 0x04
        }
    );
}

#[test]
fn issuer_unsupported_hash_algorithm() {
    let e = issuer_fail_fields(|f| f.hash_algorithm = 0x02);
    assert_eq!(
        e,
        OdaError::UnsupportedHashAlgorithm {
            object: ISS,
            found: 0x02
        }
    );
}

#[test]
fn issuer_unsupported_pk_algorithm() {
    let e = issuer_fail_fields(|f| f.pk_algorithm = 0x04);
    assert_eq!(
        e,
        OdaError::UnsupportedPublicKeyAlgorithm {
            object: ISS,
            found: 0x04
        }
    );
}

#[test]
fn issuer_identifier_invalid() {
    for id in [
        [0x62, 0x1A, 0x22, 0xFF], // non-decimal digit
        [0x62, 0xFF, 0xFF, 0xFF], // 2 digits only
        [0x62, 0x1F, 0x22, 0xFF], // digit after padding
        [0xFF, 0xFF, 0xFF, 0xFF],
    ] {
        let e = issuer_fail_fields(|f| f.issuer_identifier = id);
        assert_eq!(e, OdaError::IssuerIdentifierInvalid, "{id:02X?}");
    }
}

#[test]
fn issuer_identifier_mismatch() {
    for id in [[0x62, 0x20, 0x22, 0xFF], [0x62, 0x10, 0x22, 0x02]] {
        let e = issuer_fail_fields(|f| f.issuer_identifier = id);
        assert_eq!(e, OdaError::IssuerIdentifierMismatch);
    }
    // 3 and 8 digit identifiers that match are fine.
    let c = fixture();
    for id in [[0x62, 0x1F, 0xFF, 0xFF], [0x62, 0x10, 0x22, 0x01]] {
        let mut fields = issuer_fields();
        fields.issuer_identifier = id;
        let cert = issuer_cert_with(c, &fields, |_| {}, false);
        assert!(recover_issuer(c, &cert).is_ok());
    }
}

#[test]
fn issuer_certificate_expired() {
    let c = fixture();
    let last_day = Date::new(2026, 12, 31).unwrap();
    let run = |today| {
        recover_issuer_public_key(
            &c.capk,
            &c.issuer_cert,
            &c.issuer_rem,
            c.issuer.exponent(),
            &PAN,
            today,
        )
    };
    assert!(run(last_day).is_ok());
    assert_eq!(
        run(Date::new(2027, 1, 1).unwrap()).unwrap_err(),
        OdaError::CertificateExpired {
            object: ISS,
            expiry: last_day
        }
    );
}

#[test]
fn issuer_certificate_date_invalid() {
    let e = issuer_fail_fields(|f| f.expiry = [0x13, 0x26]);
    assert_eq!(e, OdaError::CertificateDateInvalid { object: ISS });
}

#[test]
fn issuer_exponent_length() {
    let c = fixture();
    let e = recover_issuer_public_key(
        &c.capk,
        &c.issuer_cert,
        &c.issuer_rem,
        &[0x01, 0x00, 0x01],
        &PAN,
        today(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        OdaError::ExponentLength {
            object: ISS,
            expected: 1,
            found: 3
        }
    );
}

#[test]
fn issuer_key_length() {
    // N_I > N_CA
    let e = issuer_fail(|b| b[13] = 177, true);
    assert_eq!(
        e,
        OdaError::KeyLength {
            object: ISS,
            length: 177,
            min: 64,
            max: 176
        }
    );
    // N_I below the minimum
    let e = issuer_fail(|b| b[13] = 16, true);
    assert_eq!(
        e,
        OdaError::KeyLength {
            object: ISS,
            length: 16,
            min: 64,
            max: 176
        }
    );
}

#[test]
fn issuer_remainder_length() {
    let c = fixture();
    for rem in [&c.issuer_rem[..3], &[][..], &[0u8; 5][..]] {
        let e = recover_issuer_public_key(
            &c.capk,
            &c.issuer_cert,
            rem,
            c.issuer.exponent(),
            &PAN,
            today(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            OdaError::RemainderLength {
                object: ISS,
                expected: 4,
                found: rem.len()
            }
        );
    }
}

#[test]
fn issuer_hash_mismatch() {
    // A field changed without resealing.
    let e = issuer_fail(|b| b[8] ^= 1, false);
    assert_eq!(e, OdaError::HashMismatch { object: ISS });
    // The remainder changed.
    let c = fixture();
    let mut rem = c.issuer_rem.clone();
    rem[0] ^= 1;
    let e = recover_issuer_public_key(&c.capk, &c.issuer_cert, &rem, &[3], &PAN, today());
    assert_eq!(e.unwrap_err(), OdaError::HashMismatch { object: ISS });
}

#[test]
fn issuer_invalid_public_key() {
    let c = fixture();
    let mut even = c.issuer.modulus().to_vec();
    *even.last_mut().unwrap() &= 0xFE;
    let cert = issue::issuer_certificate(&c.ca, &issuer_fields(), &even, &[3]).unwrap();
    let e = recover_issuer(c, &cert).unwrap_err();
    assert_eq!(e, OdaError::InvalidPublicKey { object: ISS });
}

#[test]
fn malformed_pan() {
    let c = fixture();
    for pan in [&[0x62, 0xAB][..], &[][..], &[0xFF][..], &[0x11; 11][..]] {
        let e =
            recover_issuer_public_key(&c.capk, &c.issuer_cert, &c.issuer_rem, &[3], pan, today())
                .unwrap_err();
        assert!(matches!(e, OdaError::Malformed { .. }), "{pan:02X?}: {e}");
    }
}

// ---- ICC certificate -------------------------------------------------------------------------

fn icc_cert_with(
    c: &Card,
    fields: &issue::IccCertificateFields,
    tamper: impl FnOnce(&mut Vec<u8>),
    reseal: bool,
) -> RsaCertificate {
    let (mut block, remainder) = issue::icc_certificate_block(
        c.issuer.modulus().len(),
        fields,
        c.icc.modulus(),
        c.icc.exponent(),
        STATIC_DATA,
    )
    .unwrap();
    tamper(&mut block);
    if reseal {
        seal_block(&mut block, &[&remainder, c.icc.exponent(), STATIC_DATA]).unwrap();
    }
    RsaCertificate {
        certificate: c.issuer.sign_block(&block).unwrap(),
        remainder,
    }
}

fn recover_icc(
    c: &Card,
    cert: &RsaCertificate,
    exponent: &[u8],
    static_data: &[u8],
    today: Date,
) -> Result<IccPublicKey, OdaError> {
    recover_icc_public_key(
        &issuer_key(c),
        &cert.certificate,
        &cert.remainder,
        exponent,
        &PAN,
        static_data,
        today,
    )
}

fn icc_fail(tamper: impl FnOnce(&mut Vec<u8>), reseal: bool) -> OdaError {
    let c = fixture();
    let cert = icc_cert_with(c, &icc_fields(), tamper, reseal);
    recover_icc(c, &cert, c.icc.exponent(), STATIC_DATA, today()).unwrap_err()
}

fn icc_fail_fields(f: impl FnOnce(&mut issue::IccCertificateFields)) -> OdaError {
    let c = fixture();
    let mut fields = icc_fields();
    f(&mut fields);
    let cert = icc_cert_with(c, &fields, |_| {}, false);
    recover_icc(c, &cert, c.icc.exponent(), STATIC_DATA, today()).unwrap_err()
}

#[test]
fn icc_envelope_checks() {
    let c = fixture();
    let mut short = c.icc_cert.clone();
    short.push(0);
    let cert = RsaCertificate {
        certificate: short,
        remainder: c.icc_rem.clone(),
    };
    assert_eq!(
        recover_icc(c, &cert, &[3], STATIC_DATA, today()).unwrap_err(),
        OdaError::SignatureLength {
            object: ICC,
            expected: 144,
            found: 145
        }
    );
    let cert = RsaCertificate {
        certificate: c.issuer.modulus().to_vec(),
        remainder: vec![],
    };
    assert_eq!(
        recover_icc(c, &cert, &[3], STATIC_DATA, today()).unwrap_err(),
        OdaError::SignatureNotBelowModulus { object: ICC }
    );
    assert_eq!(
        icc_fail(|b| *b.last_mut().unwrap() = 0x00, false),
        OdaError::BadTrailer {
            object: ICC,
            found: 0
        }
    );
    assert_eq!(
        icc_fail(|b| b[0] = 0x00, false),
        OdaError::BadHeader {
            object: ICC,
            found: 0
        }
    );
    assert_eq!(
        icc_fail(|b| b[1] = 0x02, true),
        OdaError::WrongFormat {
            object: ICC,
            expected: 4,
            found: 2
        }
    );
    assert_eq!(
        icc_fail_fields(|f| f.hash_algorithm = 0x07),
        OdaError::UnsupportedHashAlgorithm {
            object: ICC,
            found: 7
        }
    );
    assert_eq!(
        icc_fail_fields(|f| f.pk_algorithm = 0x00),
        OdaError::UnsupportedPublicKeyAlgorithm {
            object: ICC,
            found: 0
        }
    );
}

#[test]
fn icc_pan_mismatch() {
    let mut other = PAN;
    other[7] = 0x08;
    assert_eq!(icc_fail_fields(|f| f.pan = other), OdaError::PanMismatch);
    // The ICC PAN may not be a prefix/extension of 5A either.
    let short = issue::pan_field(&PAN[..8]).unwrap();
    assert_eq!(icc_fail_fields(|f| f.pan = short), OdaError::PanMismatch);
    let mut junk = issue::pan_field(&PAN).unwrap();
    junk[9] = 0x5A;
    assert_eq!(icc_fail_fields(|f| f.pan = junk), OdaError::PanMismatch);
}

#[test]
fn icc_expired_and_invalid_date() {
    let c = fixture();
    let mut fields = icc_fields();
    fields.expiry = [0x04, 0x24]; // April 2024; today is 1 May 2024
    let cert = icc_cert_with(c, &fields, |_| {}, false);
    assert_eq!(
        recover_icc(c, &cert, &[3], STATIC_DATA, today()).unwrap_err(),
        OdaError::CertificateExpired {
            object: ICC,
            expiry: Date::new(2024, 4, 30).unwrap()
        }
    );
    assert!(recover_icc(c, &cert, &[3], STATIC_DATA, Date::new(2024, 4, 30).unwrap()).is_ok());
    assert_eq!(
        icc_fail_fields(|f| f.expiry = [0x00, 0x24]),
        OdaError::CertificateDateInvalid { object: ICC }
    );
}

#[test]
fn icc_exponent_key_remainder_hash() {
    let c = fixture();
    let good = RsaCertificate {
        certificate: c.icc_cert.clone(),
        remainder: c.icc_rem.clone(),
    };
    assert_eq!(
        recover_icc(c, &good, &[0, 3], STATIC_DATA, today()).unwrap_err(),
        OdaError::ExponentLength {
            object: ICC,
            expected: 1,
            found: 2
        }
    );
    // N_IC > N_I
    assert_eq!(
        icc_fail(|b| b[19] = 145, true),
        OdaError::KeyLength {
            object: ICC,
            length: 145,
            min: 64,
            max: 144
        }
    );
    let bad_rem = RsaCertificate {
        certificate: c.icc_cert.clone(),
        remainder: vec![],
    };
    assert_eq!(
        recover_icc(c, &bad_rem, &[3], STATIC_DATA, today()).unwrap_err(),
        OdaError::RemainderLength {
            object: ICC,
            expected: 26,
            found: 0
        }
    );
    // Static data is part of the ICC certificate hash.
    assert_eq!(
        recover_icc(c, &good, &[3], &STATIC_DATA[1..], today()).unwrap_err(),
        OdaError::HashMismatch { object: ICC }
    );
    assert_eq!(
        icc_fail(|b| b[30] ^= 0x80, false),
        OdaError::HashMismatch { object: ICC }
    );
}

// ---- SSAD ------------------------------------------------------------------------------------

fn ssad_fail(tamper: impl FnOnce(&mut Vec<u8>), reseal: bool) -> OdaError {
    let c = fixture();
    let mut block = issue::ssad_block(144, [0xDA, 0xC0], STATIC_DATA).unwrap();
    tamper(&mut block);
    if reseal {
        seal_block(&mut block, &[STATIC_DATA]).unwrap();
    }
    let ssad = c.issuer.sign_block(&block).unwrap();
    verify_ssad(&issuer_key(c), &ssad, STATIC_DATA).unwrap_err()
}

#[test]
fn ssad_checks() {
    const S: OdaObject = OdaObject::Ssad;
    let c = fixture();
    let issuer = issuer_key(c);
    assert_eq!(
        verify_ssad(&issuer, &[0x10; 128], STATIC_DATA).unwrap_err(),
        OdaError::SignatureLength {
            object: S,
            expected: 144,
            found: 128
        }
    );
    assert_eq!(
        verify_ssad(&issuer, c.issuer.modulus(), STATIC_DATA).unwrap_err(),
        OdaError::SignatureNotBelowModulus { object: S }
    );
    assert_eq!(
        ssad_fail(|b| b[143] = 0xBB, false),
        OdaError::BadTrailer {
            object: S,
            found: 0xBB
        }
    );
    assert_eq!(
        ssad_fail(|b| b[0] = 0x4A, false),
        OdaError::BadHeader {
            object: S,
            found: 0x4A
        }
    );
    assert_eq!(
        ssad_fail(|b| b[1] = 0x05, true),
        OdaError::WrongFormat {
            object: S,
            expected: 3,
            found: 5
        }
    );
    assert_eq!(
        ssad_fail(|b| b[2] = 0x00, true),
        OdaError::UnsupportedHashAlgorithm {
            object: S,
            found: 0
        }
    );
    assert_eq!(
        ssad_fail(|b| b[3] ^= 1, false),
        OdaError::HashMismatch { object: S }
    );
    let ssad = issue::ssad(&c.issuer, [0xDA, 0xC0], STATIC_DATA).unwrap();
    assert_eq!(
        verify_ssad(&issuer, &ssad, b"other static data").unwrap_err(),
        OdaError::HashMismatch { object: S }
    );
}

// ---- SDAD and CDA ----------------------------------------------------------------------------

fn sdad_fail(
    fmt: u8,
    dd: &[u8],
    tamper: impl FnOnce(&mut Vec<u8>),
    reseal: bool,
    accept: SdadFormats,
) -> OdaError {
    let c = fixture();
    let mut block = issue::sdad_block(128, fmt, dd, FDDA_DATA).unwrap();
    tamper(&mut block);
    if reseal {
        seal_block(&mut block, &[FDDA_DATA]).unwrap();
    }
    let sdad = c.icc.sign_block(&block).unwrap();
    verify_sdad(&icc_key(c), &sdad, FDDA_DATA, accept).unwrap_err()
}

#[test]
fn sdad_checks() {
    const S: OdaObject = OdaObject::Sdad;
    let c = fixture();
    let icc = icc_key(c);
    assert_eq!(
        verify_sdad(&icc, &[1; 127], FDDA_DATA, SdadFormats::FDDA).unwrap_err(),
        OdaError::SignatureLength {
            object: S,
            expected: 128,
            found: 127
        }
    );
    assert_eq!(
        verify_sdad(&icc, c.icc.modulus(), FDDA_DATA, SdadFormats::FDDA).unwrap_err(),
        OdaError::SignatureNotBelowModulus { object: S }
    );
    let none = |_: &mut Vec<u8>| {};
    let fdda = SdadFormats::FDDA;
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[127] = 0xB0, false, fdda),
        OdaError::BadTrailer {
            object: S,
            found: 0xB0
        }
    );
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[0] = 0x6C, false, fdda),
        OdaError::BadHeader {
            object: S,
            found: 0x6C
        }
    );
    // 95 is fDDA only; 06 is never a signed data format here.
    assert_eq!(
        sdad_fail(0x95, ICC_DYNAMIC_DATA, none, false, SdadFormats::DDA),
        OdaError::WrongFormat {
            object: S,
            expected: 5,
            found: 0x95
        }
    );
    assert_eq!(
        sdad_fail(0x06, ICC_DYNAMIC_DATA, none, false, fdda),
        OdaError::WrongFormat {
            object: S,
            expected: 5,
            found: 0x06
        }
    );
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[2] = 0x02, true, fdda),
        OdaError::UnsupportedHashAlgorithm {
            object: S,
            found: 2
        }
    );
    // L_DD runs into the hash: 4 + L > N − 21.
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[3] = 104, true, fdda),
        OdaError::DynamicDataLength { length: 104 }
    );
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[3] = 0, true, fdda),
        OdaError::DynamicDataLength { length: 0 }
    );
    // k = 3 does not fit in L = 3.
    assert_eq!(
        sdad_fail(5, &[0x03, 0x00, 0xC3], none, false, fdda),
        OdaError::DynamicDataLength { length: 3 }
    );
    // L = 103 is the largest that fits.
    let c2 = fixture();
    let dd = [&[0x02u8][..], &[0x11; 102]].concat();
    let sdad = issue::sdad(&c2.icc, 5, &dd, FDDA_DATA).unwrap();
    assert_eq!(
        verify_sdad(&icc, &sdad, FDDA_DATA, fdda)
            .unwrap()
            .icc_dynamic_data()
            .len(),
        103
    );
    assert_eq!(
        sdad_fail(5, ICC_DYNAMIC_DATA, |b| b[5] ^= 1, false, fdda),
        OdaError::HashMismatch { object: S }
    );
    // Terminal dynamic data (e.g. the amount) changed.
    let sdad = issue::sdad(&c.icc, 0x95, ICC_DYNAMIC_DATA, FDDA_DATA).unwrap();
    let mut changed = FDDA_DATA.to_vec();
    changed[9] ^= 1;
    assert_eq!(
        verify_sdad(&icc, &sdad, &changed, fdda).unwrap_err(),
        OdaError::HashMismatch { object: S }
    );
}

#[test]
fn cda_checks() {
    let c = fixture();
    let icc = icc_key(c);
    let un = [9, 9, 9, 9];
    let td = b"transaction data".to_vec();
    let dd = issue::cda_icc_dynamic_data(&[1, 2, 3, 4, 5, 6, 7, 8], 0x80, [7; 8], &td).unwrap();
    let sdad = issue::sdad(&c.icc, format::SDAD, &dd, &un).unwrap();
    assert!(verify_cda(&icc, &sdad, &un, &[&td], 0x80).is_ok());
    assert_eq!(
        verify_cda(&icc, &sdad, &un, &[&td], 0x40).unwrap_err(),
        OdaError::CidMismatch {
            signed: 0x80,
            returned: 0x40
        }
    );
    assert_eq!(
        verify_cda(&icc, &sdad, &un, &[&td, b"x"], 0x80).unwrap_err(),
        OdaError::TransactionDataHashMismatch
    );
    assert_eq!(
        verify_cda(&icc, &sdad, &[9, 9, 9, 8], &[&td], 0x80).unwrap_err(),
        OdaError::HashMismatch {
            object: OdaObject::Sdad
        }
    );
    // A DDA-style signature is too short to hold the CDA fields.
    let sdad = issue::sdad(&c.icc, format::SDAD, &[0x08, 1, 2, 3, 4, 5, 6, 7, 8], &un).unwrap();
    assert_eq!(
        verify_cda(&icc, &sdad, &un, &[&td], 0x80).unwrap_err(),
        OdaError::DynamicDataLength { length: 9 }
    );
    // CDA never accepts the fDDA format 95.
    let sdad = issue::sdad(&c.icc, 0x95, &dd, &un).unwrap();
    assert!(matches!(
        verify_cda(&icc, &sdad, &un, &[&td], 0x80).unwrap_err(),
        OdaError::WrongFormat { found: 0x95, .. }
    ));
}

#[test]
fn raw_icc_key_is_marked_unverified() {
    let c = fixture();
    let k = IccPublicKey::from_raw_parts_unverified(c.icc.modulus(), c.icc.exponent()).unwrap();
    assert!(!k.is_certified());
    assert_eq!(k.expiry(), None);
    let sdad = issue::sdad(&c.icc, 5, ICC_DYNAMIC_DATA, FDDA_DATA).unwrap();
    assert!(verify_sdad(&k, &sdad, FDDA_DATA, SdadFormats::DDA).is_ok());
    assert_eq!(
        IccPublicKey::from_raw_parts_unverified(&[0xC3; 10], &[3]).unwrap_err(),
        OdaError::InvalidPublicKey { object: ICC }
    );
}

/// Every check above produced a different variant.
#[test]
fn each_check_has_its_own_variant() {
    let errors = [
        OdaError::SignatureLength {
            object: ISS,
            expected: 0,
            found: 0,
        },
        OdaError::SignatureNotBelowModulus { object: ISS },
        issuer_fail(|b| b[0] = 0, false),
        issuer_fail(|b| *b.last_mut().unwrap() = 0, false),
        issuer_fail(|b| b[1] = 0, true),
        issuer_fail_fields(|f| f.hash_algorithm = 0),
        issuer_fail_fields(|f| f.pk_algorithm = 0),
        issuer_fail_fields(|f| f.issuer_identifier = [0xFF; 4]),
        issuer_fail_fields(|f| f.issuer_identifier = [0x99, 0x9F, 0xFF, 0xFF]),
        icc_fail_fields(|f| f.pan = [0x11; 10]),
        icc_fail_fields(|f| f.expiry = [0x01, 0x01]),
        issuer_fail_fields(|f| f.expiry = [0x99, 0x99]),
        OdaError::ExponentLength {
            object: ISS,
            expected: 0,
            found: 0,
        },
        issuer_fail(|b| b[13] = 0xFF, true),
        OdaError::RemainderLength {
            object: ISS,
            expected: 0,
            found: 0,
        },
        issuer_fail(|b| b[9] ^= 1, false),
        OdaError::SignatureInvalid { object: ISS },
        sdad_fail(5, &[9, 9], |_| {}, false, SdadFormats::DDA),
        OdaError::CidMismatch {
            signed: 0,
            returned: 0,
        },
        OdaError::TransactionDataHashMismatch,
        OdaError::InvalidPublicKey { object: ISS },
        OdaError::Malformed { what: "" },
    ];
    let distinct: HashSet<_> = errors.iter().map(discriminant).collect();
    assert_eq!(distinct.len(), errors.len(), "{errors:#?}");
}
