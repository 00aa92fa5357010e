//! The variable-time RSA public operation of ODA (`oda::rsa_public_operation_vartime`:
//! schoolbook products, long division with a per-key reciprocal) against crypto-bigint's
//! Montgomery exponentiation, on any modulus of EMV's sizes and any base: the two results must
//! be equal, byte for byte.
//!
//! Input: one selector byte (bit 0: exponent 65537 instead of 3) ‖ one length byte (the modulus
//! is 64 + (byte mod 185) bytes, 512–1984 bits) ‖ modulus bytes ‖ base bytes (as many as the
//! modulus, zero-padded on the left when short). The modulus is made odd with a non-zero first
//! byte (what an RSA key has; crypto-bigint's Montgomery form needs it odd).
#![no_main]

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use libfuzzer_sys::fuzz_target;
use quickpass::crypto::oda::rsa_public_operation_vartime;

fn reference(modulus: &[u8], base: &[u8], exponent: u32) -> Vec<u8> {
    let bits = u32::try_from(modulus.len() * 8).expect("bits");
    let n = BoxedUint::from_be_slice(modulus, bits).expect("modulus");
    let params = BoxedMontyParams::new_vartime(Odd::new(n).expect("odd"));
    let x = BoxedUint::from_be_slice(base, bits).expect("base");
    // crypto-bigint's Montgomery form takes a base below n: reduce it first.
    let x = x.rem_vartime(params.modulus().as_nz_ref());
    let x = BoxedMontyForm::new(x, &params);
    let e = BoxedUint::from(u64::from(exponent));
    let bytes = x.pow(&e).retrieve().to_be_bytes();
    bytes[bytes.len() - modulus.len()..].to_vec()
}

fuzz_target!(|data: &[u8]| {
    let [selector, length, rest @ ..] = data else {
        return;
    };
    let exponent = if selector & 1 == 1 { 65_537 } else { 3 };
    let len = 64 + usize::from(*length) % 185;
    if rest.len() < len {
        return;
    }
    let (modulus, base) = rest.split_at(len);
    let mut modulus = modulus.to_vec();
    if modulus[0] == 0 {
        modulus[0] = 1;
    }
    modulus[len - 1] |= 1;
    let mut padded = vec![0u8; len];
    let take = base.len().min(len);
    padded[len - take..].copy_from_slice(&base[..take]);
    let ours = rsa_public_operation_vartime(&modulus, &padded, exponent).expect("valid inputs");
    assert_eq!(ours, reference(&modulus, &padded, exponent));
});
