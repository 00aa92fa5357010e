//! The SM2 memo remembers verified signatures on exact bytes, never verdicts on anything else:
//! after a certificate, ICC certificate or SSAD verified (and was remembered), every one-byte
//! change of it, of the static data or of any other input fails with exactly the error a key
//! that never saw it gives, and the genuine inputs still pass afterwards.

#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

use quickpass_crypto::capk::{sm2_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::oda::issue::{
    self, IccCertificateFields, IssuerCertificateFields, Sm2Signer,
};
use quickpass_crypto::oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_sdad, verify_ssad, IccPublicKey,
    IssuerPublicKey, OdaError, OdaObject, SdadFormats,
};
use quickpass_crypto::Date;

const PAN: [u8; 8] = [0x62, 0x28, 0x48, 0x00, 0x12, 0x34, 0x56, 0x78];
const STATIC: &[u8] = b"static data to be authenticated";
const TERMINAL: &[u8] = b"\x12\x34\x56\x78";

fn signer(byte: u8) -> Sm2Signer {
    Sm2Signer::from_bytes(&[byte; 32]).unwrap()
}

fn capk(ca: &Sm2Signer) -> CaPublicKey {
    let (rid, index) = (Rid([0xA0, 0, 0, 0x03, 0x33]), CapkIndex(0x18));
    let sum = sm2_checksum(rid, index, ca.public_key(), HashAlgorithm::Sm3);
    CaPublicKey::new_sm2(rid, index, ca.public_key(), HashAlgorithm::Sm3, None, &sum).unwrap()
}

fn today() -> Date {
    Date::new(2025, 1, 15).unwrap()
}

struct Card {
    ca: Sm2Signer,
    issuer_cert: Vec<u8>,
    icc_cert: Vec<u8>,
    ssad: Vec<u8>,
    sdad: Vec<u8>,
}

fn card() -> Card {
    let (ca, issuer, icc) = (signer(0x11), signer(0x22), signer(0x33));
    let issuer_fields = IssuerCertificateFields {
        issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
        expiry: [0x06, 0x30],
        serial: [0xAB, 0xCD, 0xEF],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    };
    let icc_fields = IccCertificateFields {
        pan: issue::pan_field(&PAN).unwrap(),
        expiry: [0x12, 0x29],
        serial: [0, 0, 1],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    };
    Card {
        issuer_cert: issue::sm2_issuer_certificate(&ca, &issuer_fields, issuer.public_key())
            .unwrap(),
        icc_cert: issue::sm2_icc_certificate(&issuer, &icc_fields, icc.public_key(), STATIC)
            .unwrap(),
        ssad: issue::sm2_ssad(&issuer, [0x12, 0x34], STATIC).unwrap(),
        sdad: issue::sm2_sdad(&icc, &[0x02, 0x00, 0x07], TERMINAL).unwrap(),
        ca,
    }
}

fn issuer_of(
    capk: &CaPublicKey,
    cert: &[u8],
    pan: &[u8],
    today: Date,
) -> Result<Vec<u8>, OdaError> {
    recover_issuer_public_key(capk, cert, &[], &[], pan, today).map(|k| k.key_bytes().to_vec())
}

fn icc_of(
    issuer: &IssuerPublicKey,
    cert: &[u8],
    pan: &[u8],
    static_data: &[u8],
    today: Date,
) -> Result<IccPublicKey, OdaError> {
    recover_icc_public_key(issuer, cert, &[], &[], pan, static_data, today)
}

/// Every byte of `data` changed in turn (two ways).
fn one_byte_changes(data: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..data.len()).flat_map(move |i| {
        [0x01u8, 0x80].map(|flip| {
            let mut changed = data.to_vec();
            changed[i] ^= flip;
            changed
        })
    })
}

#[test]
fn remembered_certificates_still_run_every_check() {
    let c = card();
    let warm = capk(&c.ca);
    let fresh = || capk(&c.ca);
    let genuine = issuer_of(&warm, &c.issuer_cert, &PAN, today()).unwrap();

    // Issuer certificate: each one-byte change fails as it does on a key that never saw it.
    for cert in one_byte_changes(&c.issuer_cert) {
        let remembered = issuer_of(&warm, &cert, &PAN, today());
        assert!(remembered.is_err());
        assert_eq!(remembered, issuer_of(&fresh(), &cert, &PAN, today()));
    }
    // The non-signature checks of a remembered certificate.
    let late = Date::new(2031, 1, 1).unwrap();
    assert!(matches!(
        issuer_of(&warm, &c.issuer_cert, &PAN, late),
        Err(OdaError::CertificateExpired {
            object: OdaObject::IssuerCertificate,
            ..
        })
    ));
    let mut other_pan = PAN;
    other_pan[0] = 0x52;
    let wrong = issuer_of(&warm, &c.issuer_cert, &other_pan, today());
    assert!(wrong.is_err());
    assert_eq!(
        wrong,
        issuer_of(&fresh(), &c.issuer_cert, &other_pan, today())
    );
    // Another CA key never accepts it, whatever this one remembered.
    let other_ca = capk(&signer(0x44));
    assert_eq!(
        issuer_of(&other_ca, &c.issuer_cert, &PAN, today()),
        Err(OdaError::SignatureInvalid {
            object: OdaObject::IssuerCertificate
        })
    );
    assert_eq!(issuer_of(&warm, &c.issuer_cert, &PAN, today()), Ok(genuine));

    // ICC certificate under a remembering issuer key and a fresh one.
    let warm_issuer =
        recover_issuer_public_key(&warm, &c.issuer_cert, &[], &[], &PAN, today()).unwrap();
    let icc = icc_of(&warm_issuer, &c.icc_cert, &PAN, STATIC, today()).unwrap();
    let fresh_issuer =
        || recover_issuer_public_key(&fresh(), &c.issuer_cert, &[], &[], &PAN, today()).unwrap();
    let key_of = |r: Result<IccPublicKey, OdaError>| r.map(|k| k.key_bytes().to_vec());
    for cert in one_byte_changes(&c.icc_cert) {
        let remembered = key_of(icc_of(&warm_issuer, &cert, &PAN, STATIC, today()));
        assert!(remembered.is_err());
        assert_eq!(
            remembered,
            key_of(icc_of(&fresh_issuer(), &cert, &PAN, STATIC, today()))
        );
    }
    for static_data in one_byte_changes(STATIC) {
        let remembered = key_of(icc_of(
            &warm_issuer,
            &c.icc_cert,
            &PAN,
            &static_data,
            today(),
        ));
        assert_eq!(
            remembered,
            Err(OdaError::SignatureInvalid {
                object: OdaObject::IccCertificate
            })
        );
    }
    assert!(matches!(
        icc_of(&warm_issuer, &c.icc_cert, &PAN, STATIC, late),
        Err(OdaError::CertificateExpired {
            object: OdaObject::IccCertificate,
            ..
        })
    ));
    let mut other_card = PAN;
    other_card[7] ^= 0x01;
    let wrong = key_of(icc_of(
        &warm_issuer,
        &c.icc_cert,
        &other_card,
        STATIC,
        today(),
    ));
    assert!(wrong.is_err());
    assert_eq!(
        wrong,
        key_of(icc_of(
            &fresh_issuer(),
            &c.icc_cert,
            &other_card,
            STATIC,
            today()
        ))
    );

    // SSAD.
    let dac = verify_ssad(&warm_issuer, &c.ssad, STATIC).unwrap().value();
    for ssad in one_byte_changes(&c.ssad) {
        let remembered = verify_ssad(&warm_issuer, &ssad, STATIC).map(|d| d.value());
        assert!(remembered.is_err());
        assert_eq!(
            remembered,
            verify_ssad(&fresh_issuer(), &ssad, STATIC).map(|d| d.value())
        );
    }
    for static_data in one_byte_changes(STATIC) {
        assert!(verify_ssad(&warm_issuer, &c.ssad, &static_data).is_err());
    }

    // And the genuine chain still passes afterwards, down to the dynamic signature.
    assert_eq!(
        verify_ssad(&warm_issuer, &c.ssad, STATIC).unwrap().value(),
        dac
    );
    let again = icc_of(&warm_issuer, &c.icc_cert, &PAN, STATIC, today()).unwrap();
    assert_eq!(again.key_bytes(), icc.key_bytes());
    assert!(verify_sdad(&again, &c.sdad, TERMINAL, SdadFormats::FDDA).is_ok());
    let mut terminal = TERMINAL.to_vec();
    terminal[0] ^= 1;
    assert!(verify_sdad(&again, &c.sdad, &terminal, SdadFormats::FDDA).is_err());
}
