//! No panic on any input: every ODA entry point returns a value or a typed error for arbitrary
//! certificate, remainder, exponent, PAN, static and dynamic data bytes, including arbitrary
//! *recovered* blocks (signed with the test keys so that recovery yields attacker-chosen data).
#![allow(clippy::unwrap_used)] // tests: a panic is a test failure

mod oda_support;

use std::sync::OnceLock;

use oda_support::*;
use proptest::prelude::*;
use quickpass_crypto::capk::{sm2_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::oda::issue::{seal_block, Sm2Signer};
use quickpass_crypto::oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad, verify_ssad,
    IccPublicKey, IssuerPublicKey, SdadFormats,
};
use quickpass_crypto::Date;

struct Fx {
    card: Card,
    issuer: IssuerPublicKey,
    icc: IccPublicKey,
    sm2_capk: CaPublicKey,
    sm2_issuer: IssuerPublicKey,
    sm2_icc: IccPublicKey,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let card = card("issuer", "icc");
        let issuer = recover_issuer_public_key(
            &card.capk,
            &card.issuer_cert,
            &card.issuer_rem,
            card.issuer.exponent(),
            &PAN,
            today(),
        )
        .unwrap();
        let icc = IccPublicKey::from_raw_parts_unverified(card.icc.modulus(), card.icc.exponent())
            .unwrap();
        let s = Sm2Signer::from_bytes(&[0x42; 32]).unwrap();
        let rid = Rid([0xA0, 0, 0, 3, 0x33]);
        let sum = sm2_checksum(rid, CapkIndex(1), s.public_key(), HashAlgorithm::Sm3);
        let sm2_capk = CaPublicKey::new_sm2(
            rid,
            CapkIndex(1),
            s.public_key(),
            HashAlgorithm::Sm3,
            None,
            &sum,
        )
        .unwrap();
        let mut f = issuer_fields();
        f.pk_algorithm = quickpass_crypto::oda::issue::SM2_PK_ALGORITHM;
        let cert =
            quickpass_crypto::oda::issue::sm2_issuer_certificate(&s, &f, s.public_key()).unwrap();
        let sm2_issuer =
            recover_issuer_public_key(&sm2_capk, &cert, &[], &[], &PAN, today()).unwrap();
        let sm2_icc = IccPublicKey::from_sm2_unverified(s.public_key()).unwrap();
        Fx {
            card,
            issuer,
            icc,
            sm2_capk,
            sm2_issuer,
            sm2_icc,
        }
    })
}

fn date() -> impl Strategy<Value = Date> {
    (0u8..100, 1u8..13, 1u8..29).prop_map(|(y, m, d)| Date::new(2000 + u16::from(y), m, d).unwrap())
}

/// A block of `n` bytes below the modulus, mostly well-formed around the edges.
fn block(n: usize, fmt: u8) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), n),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(mut b, header, trailer)| {
            b[0] = if header { 0x6A } else { b[0] & 0x3F };
            b[1] = if header { fmt } else { b[1] };
            if trailer {
                b[n - 1] = 0xBC;
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_inputs_never_panic(
        cert in prop::collection::vec(any::<u8>(), 0..300),
        rem in prop::collection::vec(any::<u8>(), 0..40),
        exp in prop::collection::vec(any::<u8>(), 0..5),
        pan in prop::collection::vec(any::<u8>(), 0..12),
        data in prop::collection::vec(any::<u8>(), 0..40),
        cid in any::<u8>(),
        today in date(),
    ) {
        let f = fx();
        let _ = recover_issuer_public_key(&f.card.capk, &cert, &rem, &exp, &pan, today);
        let _ = recover_issuer_public_key(&f.sm2_capk, &cert, &rem, &exp, &pan, today);
        let _ = recover_icc_public_key(&f.issuer, &cert, &rem, &exp, &pan, &data, today);
        let _ = recover_icc_public_key(&f.sm2_issuer, &cert, &rem, &exp, &pan, &data, today);
        let _ = verify_ssad(&f.issuer, &cert, &data);
        let _ = verify_ssad(&f.sm2_issuer, &cert, &data);
        for icc in [&f.icc, &f.sm2_icc] {
            let _ = verify_sdad(icc, &cert, &data, SdadFormats::FDDA);
            let _ = verify_cda(icc, &cert, &data, &[&rem], cid);
        }
        let _ = IccPublicKey::from_raw_parts_unverified(&cert, &exp);
        let _ = IccPublicKey::from_sm2_unverified(&cert);
    }

}

proptest! {
    // Each case costs one unblinded RSA private operation (slow in debug builds).
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_recovered_issuer_blocks_never_panic(
        x in block(176, 0x02),
        rem in prop::collection::vec(any::<u8>(), 0..40),
        exp in prop::collection::vec(any::<u8>(), 0..4),
        today in date(),
        deep in any::<bool>(),
    ) {
        let f = fx();
        let mut x = x;
        if deep {
            // Valid indicators and hash, so the later checks and key building see junk.
            x[11] = 1;
            x[12] = 1;
            x[2..6].copy_from_slice(&ISSUER_ID);
            seal_block(&mut x, &[&rem, &exp]).unwrap();
        }
        let cert = f.card.ca.sign_block(&x).unwrap();
        let _ = recover_issuer_public_key(&f.card.capk, &cert, &rem, &exp, &PAN, today);
    }

    #[test]
    fn arbitrary_recovered_icc_blocks_never_panic(
        x in block(144, 0x04),
        rem in prop::collection::vec(any::<u8>(), 0..40),
        exp in prop::collection::vec(any::<u8>(), 0..4),
        today in date(),
        deep in any::<bool>(),
    ) {
        let f = fx();
        let mut x = x;
        if deep {
            x[17] = 1;
            x[18] = 1;
            seal_block(&mut x, &[&rem, &exp, STATIC_DATA]).unwrap();
        }
        let cert = f.card.issuer.sign_block(&x).unwrap();
        let _ = recover_icc_public_key(&f.issuer, &cert, &rem, &exp, &PAN, STATIC_DATA, today);
        let _ = verify_ssad(&f.issuer, &cert, STATIC_DATA);
    }

    #[test]
    fn arbitrary_recovered_sdad_blocks_never_panic(
        x in block(128, 0x05),
        cid in any::<u8>(),
        deep in any::<bool>(),
    ) {
        let f = fx();
        let mut x = x;
        if deep {
            x[2] = 1;
            seal_block(&mut x, &[FDDA_DATA]).unwrap();
        }
        let sdad = f.card.icc.sign_block(&x).unwrap();
        let _ = verify_sdad(&f.icc, &sdad, FDDA_DATA, SdadFormats::FDDA);
        let _ = verify_cda(&f.icc, &sdad, FDDA_DATA, &[b"t"], cid);
    }
}
