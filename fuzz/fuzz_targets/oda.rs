//! Offline data authentication cryptography (EMV Book 2 §5–6; PBOC 3.0 part 17 for SM2):
//! issuer and ICC certificate recovery under the simulator's test CA keys (RSA `F1`, SM2 `F2`),
//! SSAD, SDAD (fDDA and DDA formats) and CDA verification, and SDAD verification under a key
//! taken from the input as given. Never panics; a verified signature's dynamic number lies
//! inside its dynamic data.
//!
//! Input: one selector byte (bit 0: SM2 CA instead of RSA; the rest: the CID for CDA) ‖ chunks
//! (`quickpass_fuzz::split_chunks`): `90`, `92`, `9F32`, `9F46`, `9F48`, `9F47`, `5A`, static
//! data to be authenticated, `9F4B`, dynamic data (fDDA terminal data), `93`. Missing chunks
//! are empty.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quickpass::crypto::capk::CaPublicKey;
use quickpass::crypto::date::Date;
use quickpass::crypto::oda::{self, IccPublicKey, SdadFormats};
use quickpass_sim::ca::TestCa;

fn ca_keys() -> &'static (CaPublicKey, CaPublicKey) {
    static KEYS: OnceLock<(CaPublicKey, CaPublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ca = TestCa::shared().expect("test CA");
        (
            ca.rsa_ca_public_key().expect("RSA CA key"),
            ca.sm2_ca_public_key().expect("SM2 CA key"),
        )
    })
}

fn check_sdad(icc: &IccPublicKey, sdad: &[u8], dynamic: &[u8], cid: u8, static_data: &[u8]) {
    for formats in [SdadFormats::FDDA, SdadFormats::DDA] {
        if let Ok(signature) = oda::verify_sdad(icc, sdad, dynamic, formats) {
            assert!(signature.icc_dynamic_number().len() < signature.icc_dynamic_data().len());
        }
    }
    let _ = oda::verify_cda(icc, sdad, dynamic, &[static_data, dynamic], cid);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let chunks = quickpass_fuzz::split_chunks(rest);
    let field = |i: usize| chunks.get(i).copied().unwrap_or_default();
    let (issuer_cert, issuer_rem, issuer_exp) = (field(0), field(1), field(2));
    let (icc_cert, icc_rem, icc_exp) = (field(3), field(4), field(5));
    let (pan, static_data, sdad, dynamic, ssad) =
        (field(6), field(7), field(8), field(9), field(10));
    let today = Date::new(2026, 11, 28).expect("date");
    let (rsa, sm2) = ca_keys();
    let ca = if selector & 1 == 0 { rsa } else { sm2 };
    let cid = selector & 0xFE;

    if let Ok(issuer) =
        oda::recover_issuer_public_key(ca, issuer_cert, issuer_rem, issuer_exp, pan, today)
    {
        let _ = (
            issuer.issuer_identifier(),
            issuer.certificate_serial(),
            issuer.expiry(),
        );
        let _ = oda::verify_ssad(&issuer, ssad, static_data);
        if let Ok(icc) = oda::recover_icc_public_key(
            &issuer,
            icc_cert,
            icc_rem,
            icc_exp,
            pan,
            static_data,
            today,
        ) {
            assert!(icc.is_certified());
            check_sdad(&icc, sdad, dynamic, cid, static_data);
        }
    }
    // A key as given (diagnostics path): odd moduli, tiny or huge exponents, off-curve points.
    if let Ok(icc) = IccPublicKey::from_raw_parts_unverified(icc_cert, icc_exp) {
        assert!(!icc.is_certified());
        check_sdad(&icc, sdad, dynamic, cid, static_data);
    }
    if let Ok(icc) = IccPublicKey::from_sm2_unverified(icc_cert) {
        check_sdad(&icc, sdad, dynamic, cid, static_data);
    }
});
