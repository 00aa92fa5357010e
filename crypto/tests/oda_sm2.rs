//! PBOC 3.0 SM2 ODA (formats 12/13/14/15) through the same API as RSA, with the ⚠ unverified
//! layout of `oda::sm2`. Objects are signed with fixed SM2 keys by `oda::issue` (the `sm2`
//! crate's deterministic signer) and verified through `crate::sm2::verify`.
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

use quickpass_crypto::capk::{sm2_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::oda::issue::{
    self, IccCertificateFields, IssuerCertificateFields, Sm2Signer,
};
use quickpass_crypto::oda::{
    format, recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad,
    verify_ssad, IccPublicKey, IssuerPublicKey, OdaError, OdaObject, SdadFormats,
};
use quickpass_crypto::{Date, PkAlgorithm};

const PAN: [u8; 8] = [0x62, 0x28, 0x48, 0x00, 0x12, 0x34, 0x56, 0x78];
const STATIC: &[u8] = b"static data to be authenticated";
const TERMINAL: &[u8] = b"\x12\x34\x56\x78\x00\x00\x00\x00\x01\x00\x01\x56";
const ISS: OdaObject = OdaObject::IssuerCertificate;
const ICC: OdaObject = OdaObject::IccCertificate;

fn key(hex_scalar: &str) -> Sm2Signer {
    Sm2Signer::from_bytes(&hex::decode(hex_scalar).unwrap().try_into().unwrap()).unwrap()
}

struct Sm2Card {
    ca: Sm2Signer,
    issuer: Sm2Signer,
    icc: Sm2Signer,
    capk: CaPublicKey,
    issuer_cert: Vec<u8>,
    icc_cert: Vec<u8>,
}

fn issuer_fields() -> IssuerCertificateFields {
    IssuerCertificateFields {
        issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
        expiry: [0x06, 0x30],
        serial: [0xAB, 0xCD, 0xEF],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    }
}

fn icc_fields() -> IccCertificateFields {
    IccCertificateFields {
        pan: issue::pan_field(&PAN).unwrap(),
        expiry: [0x12, 0x29],
        serial: [0, 0, 1],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    }
}

fn today() -> Date {
    Date::new(2025, 1, 15).unwrap()
}

fn card() -> Sm2Card {
    let ca = key("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8");
    let issuer = key("1649AB77A00637BD5E2EFE283FBF353534AA7F7CB89463F208DDBC2920BB0DA0");
    let icc = key("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21");
    let rid = Rid([0xA0, 0, 0, 0x03, 0x33]);
    let idx = CapkIndex(0x18);
    let sum = sm2_checksum(rid, idx, ca.public_key(), HashAlgorithm::Sm3);
    let capk =
        CaPublicKey::new_sm2(rid, idx, ca.public_key(), HashAlgorithm::Sm3, None, &sum).unwrap();
    let issuer_cert =
        issue::sm2_issuer_certificate(&ca, &issuer_fields(), issuer.public_key()).unwrap();
    let icc_cert =
        issue::sm2_icc_certificate(&issuer, &icc_fields(), icc.public_key(), STATIC).unwrap();
    Sm2Card {
        ca,
        issuer,
        icc,
        capk,
        issuer_cert,
        icc_cert,
    }
}

fn issuer_of(c: &Sm2Card, cert: &[u8]) -> Result<IssuerPublicKey, OdaError> {
    recover_issuer_public_key(&c.capk, cert, &[], &[], &PAN, today())
}

fn icc_of(c: &Sm2Card, cert: &[u8], static_data: &[u8]) -> Result<IccPublicKey, OdaError> {
    let issuer = issuer_of(c, &c.issuer_cert).unwrap();
    recover_icc_public_key(&issuer, cert, &[], &[], &PAN, static_data, today())
}

#[test]
fn sm2_good_chain() {
    let c = card();
    assert!(c.capk.checksum_is_valid());
    assert_eq!(c.issuer_cert.len(), 141);
    assert_eq!(c.icc_cert.len(), 147);
    let issuer = issuer_of(&c, &c.issuer_cert).unwrap();
    assert_eq!(issuer.algorithm(), PkAlgorithm::Sm2);
    assert_eq!(issuer.sm2_public_key(), Some(c.issuer.public_key()));
    assert_eq!(issuer.modulus(), None);
    assert_eq!(issuer.certificate_serial(), [0xAB, 0xCD, 0xEF]);
    assert_eq!(issuer.expiry(), Date::new(2030, 6, 30).unwrap());
    let icc = icc_of(&c, &c.icc_cert, STATIC).unwrap();
    assert_eq!(icc.key_bytes(), c.icc.public_key());
    assert!(icc.is_certified());

    let ssad = issue::sm2_ssad(&c.issuer, [0x12, 0x34], STATIC).unwrap();
    assert_eq!(
        verify_ssad(&issuer, &ssad, STATIC).unwrap().value(),
        [0x12, 0x34]
    );

    let sdad = issue::sm2_sdad(&c.icc, &[0x02, 0x00, 0x07], TERMINAL).unwrap();
    for accept in [SdadFormats::DDA, SdadFormats::FDDA] {
        let sig = verify_sdad(&icc, &sdad, TERMINAL, accept).unwrap();
        assert_eq!(sig.icc_dynamic_number(), [0x00, 0x07]);
        assert_eq!(sig.format(), format::SM2_SDAD);
    }

    let td = b"cda transaction data";
    let dd = issue::cda_icc_dynamic_data(&[1, 2, 3, 4], 0x80, [5; 8], td).unwrap();
    let sdad = issue::sm2_sdad(&c.icc, &dd, &[9, 9, 9, 9]).unwrap();
    let sig = verify_cda(&icc, &sdad, &[9, 9, 9, 9], &[td], 0x80).unwrap();
    assert_eq!(sig.application_cryptogram(), [5; 8]);
    assert_eq!(
        verify_cda(&icc, &sdad, &[9, 9, 9, 9], &[td], 0x40).unwrap_err(),
        OdaError::CidMismatch {
            signed: 0x80,
            returned: 0x40
        }
    );
    assert_eq!(
        verify_cda(&icc, &sdad, &[9, 9, 9, 9], &[b"x"], 0x80).unwrap_err(),
        OdaError::TransactionDataHashMismatch
    );

    // Raw SM2 key escape hatch.
    let raw = IccPublicKey::from_sm2_unverified(c.icc.public_key()).unwrap();
    assert!(!raw.is_certified());
}

#[test]
fn sm2_issuer_certificate_checks() {
    let c = card();
    let signed = |f: &dyn Fn(&mut Vec<u8>), fields: IssuerCertificateFields| {
        let mut body = issue::sm2_issuer_certificate_body(&fields, c.issuer.public_key());
        f(&mut body);
        c.ca.seal(body, &[]).unwrap()
    };
    let fields = issuer_fields();
    // length
    assert_eq!(
        issuer_of(&c, &c.issuer_cert[..140]).unwrap_err(),
        OdaError::SignatureLength {
            object: ISS,
            expected: 141,
            found: 140
        }
    );
    // format
    assert_eq!(
        issuer_of(&c, &signed(&|b| b[0] = 0x02, fields)).unwrap_err(),
        OdaError::WrongFormat {
            object: ISS,
            expected: 0x12,
            found: 0x02
        }
    );
    // algorithm indicator
    let mut f = fields;
    f.pk_algorithm = 0x01;
    assert_eq!(
        issuer_of(&c, &signed(&|_| {}, f)).unwrap_err(),
        OdaError::UnsupportedPublicKeyAlgorithm {
            object: ISS,
            found: 0x01
        }
    );
    // key length
    assert_eq!(
        issuer_of(&c, &signed(&|b| b[12] = 0x41, fields)).unwrap_err(),
        OdaError::KeyLength {
            object: ISS,
            length: 0x41,
            min: 64,
            max: 64
        }
    );
    // signature
    let mut bad = c.issuer_cert.clone();
    bad[20] ^= 1;
    assert_eq!(
        issuer_of(&c, &bad).unwrap_err(),
        OdaError::SignatureInvalid { object: ISS }
    );
    let mut bad = c.issuer_cert.clone();
    bad[140] ^= 1;
    assert_eq!(
        issuer_of(&c, &bad).unwrap_err(),
        OdaError::SignatureInvalid { object: ISS }
    );
    // issuer identifier
    let mut f = fields;
    f.issuer_identifier = [0x62, 0xFF, 0xFF, 0xFF];
    assert_eq!(
        issuer_of(&c, &signed(&|_| {}, f)).unwrap_err(),
        OdaError::IssuerIdentifierInvalid
    );
    f.issuer_identifier = [0x62, 0x28, 0x49, 0xFF];
    assert_eq!(
        issuer_of(&c, &signed(&|_| {}, f)).unwrap_err(),
        OdaError::IssuerIdentifierMismatch
    );
    // expiry
    let mut f = fields;
    f.expiry = [0x12, 0x24];
    assert_eq!(
        issuer_of(&c, &signed(&|_| {}, f)).unwrap_err(),
        OdaError::CertificateExpired {
            object: ISS,
            expiry: Date::new(2024, 12, 31).unwrap()
        }
    );
    f.expiry = [0x1F, 0x24];
    assert_eq!(
        issuer_of(&c, &signed(&|_| {}, f)).unwrap_err(),
        OdaError::CertificateDateInvalid { object: ISS }
    );
    // certified point not on the curve
    assert_eq!(
        issuer_of(&c, &signed(&|b| b[76] ^= 1, fields)).unwrap_err(),
        OdaError::InvalidPublicKey { object: ISS }
    );
    // An RSA certificate presented with an SM2 CA key.
    assert!(matches!(
        issuer_of(&c, &[0x11; 176]).unwrap_err(),
        OdaError::SignatureLength {
            object: ISS,
            expected: 141,
            found: 176
        }
    ));
    // Signed by another key.
    let forged = issue::sm2_issuer_certificate(&c.issuer, &fields, c.issuer.public_key()).unwrap();
    assert_eq!(
        issuer_of(&c, &forged).unwrap_err(),
        OdaError::SignatureInvalid { object: ISS }
    );
    let _ = &c.ca;
}

#[test]
fn sm2_icc_certificate_checks() {
    let c = card();
    let signed = |f: &dyn Fn(&mut Vec<u8>), fields: IccCertificateFields| {
        let body = issue::sm2_icc_certificate_body(&fields, c.icc.public_key());
        let mut body = body;
        f(&mut body);
        c.issuer.seal(body, STATIC).unwrap()
    };
    let fields = icc_fields();
    assert_eq!(
        icc_of(&c, &c.icc_cert[..146], STATIC).unwrap_err(),
        OdaError::SignatureLength {
            object: ICC,
            expected: 147,
            found: 146
        }
    );
    assert_eq!(
        icc_of(&c, &signed(&|b| b[0] = 0x12, fields), STATIC).unwrap_err(),
        OdaError::WrongFormat {
            object: ICC,
            expected: 0x14,
            found: 0x12
        }
    );
    assert_eq!(
        icc_of(&c, &signed(&|b| b[16] = 0x00, fields), STATIC).unwrap_err(),
        OdaError::UnsupportedPublicKeyAlgorithm {
            object: ICC,
            found: 0
        }
    );
    assert_eq!(
        icc_of(&c, &signed(&|b| b[18] = 0x20, fields), STATIC).unwrap_err(),
        OdaError::KeyLength {
            object: ICC,
            length: 0x20,
            min: 64,
            max: 64
        }
    );
    // Static data is signed.
    assert_eq!(
        icc_of(&c, &c.icc_cert, b"other").unwrap_err(),
        OdaError::SignatureInvalid { object: ICC }
    );
    let mut f = fields;
    f.pan = issue::pan_field(&PAN[..7]).unwrap();
    assert_eq!(
        icc_of(&c, &signed(&|_| {}, f), STATIC).unwrap_err(),
        OdaError::PanMismatch
    );
    let mut f = fields;
    f.expiry = [0x12, 0x24];
    assert!(matches!(
        icc_of(&c, &signed(&|_| {}, f), STATIC).unwrap_err(),
        OdaError::CertificateExpired { object: ICC, .. }
    ));
}

#[test]
fn sm2_ssad_and_sdad_checks() {
    let c = card();
    let issuer = issuer_of(&c, &c.issuer_cert).unwrap();
    let icc = icc_of(&c, &c.icc_cert, STATIC).unwrap();
    const SS: OdaObject = OdaObject::Ssad;
    const SD: OdaObject = OdaObject::Sdad;

    let ssad = issue::sm2_ssad(&c.issuer, [1, 2], STATIC).unwrap();
    assert_eq!(
        verify_ssad(&issuer, &ssad[..66], STATIC).unwrap_err(),
        OdaError::SignatureLength {
            object: SS,
            expected: 67,
            found: 66
        }
    );
    let wrong = c.issuer.seal(vec![0x03, 1, 2], STATIC).unwrap();
    assert_eq!(
        verify_ssad(&issuer, &wrong, STATIC).unwrap_err(),
        OdaError::WrongFormat {
            object: SS,
            expected: 0x13,
            found: 0x03
        }
    );
    assert_eq!(
        verify_ssad(&issuer, &ssad, b"changed").unwrap_err(),
        OdaError::SignatureInvalid { object: SS }
    );

    let dd = [0x02, 0x00, 0x07];
    let sdad = issue::sm2_sdad(&c.icc, &dd, TERMINAL).unwrap();
    assert_eq!(
        verify_sdad(&icc, &sdad[..60], TERMINAL, SdadFormats::FDDA).unwrap_err(),
        OdaError::SignatureLength {
            object: SD,
            expected: 67,
            found: 60
        }
    );
    let mut body = issue::sm2_sdad_body(&dd).unwrap();
    body[0] = format::SDAD;
    let wrong = c.icc.seal(body, TERMINAL).unwrap();
    assert_eq!(
        verify_sdad(&icc, &wrong, TERMINAL, SdadFormats::FDDA).unwrap_err(),
        OdaError::WrongFormat {
            object: SD,
            expected: 0x15,
            found: 0x05
        }
    );
    let mut body = issue::sm2_sdad_body(&dd).unwrap();
    body[1] = 4;
    let wrong = c.icc.seal(body, TERMINAL).unwrap();
    assert_eq!(
        verify_sdad(&icc, &wrong, TERMINAL, SdadFormats::FDDA).unwrap_err(),
        OdaError::DynamicDataLength { length: 4 }
    );
    assert_eq!(
        verify_sdad(&icc, &sdad, b"changed amount", SdadFormats::FDDA).unwrap_err(),
        OdaError::SignatureInvalid { object: SD }
    );
    // An RSA key never verifies an SM2 object and vice versa.
    assert!(verify_sdad(&icc, &[0x6A; 128], TERMINAL, SdadFormats::DDA).is_err());
}
