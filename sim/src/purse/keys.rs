//! Card key diversification shared by the simulated purse card, PSAM and host.
//!
//! ⚠ pboc-notes §4.2 (end) and §7 item 5: the formula rests on recall, no source was read. The
//! card (at personalisation), the PSAM (in INIT SAM FOR PURCHASE) and the host (for loads and
//! TACs) all call [`card_key`], so they always agree with one another; if the real scheme
//! differs, this is the one place to change.
//!
//! - one level: `K = 3DES_MK(D) ‖ 3DES_MK(NOT D)`, D = the 8-byte application serial
//!   ([`application_serial`]);
//! - two levels (when a second diversifier is given, pboc-notes §4.4): first
//!   `K1 = diversify(MK, second diversifier)`, then `K = diversify(K1, D)`.

use quickpass_crypto::cipher::{BlockCipher, CipherAlgorithm, CipherError};
use quickpass_crypto::secret::{KeyMaterial, SecretKey};

/// Where the 8-byte application serial sits in EF15: bytes 12–19. That is the rightmost 8
/// bytes of the 10-byte T-Union serial (pboc-notes §4.7, ⚠) and the ETC card serial (§4.8).
pub const SERIAL_RANGE: core::ops::Range<usize> = 12..20;

/// The 8-byte application serial the PSAM diversifies with, taken from EF15
/// ([`SERIAL_RANGE`]); `None` when EF15 is shorter than 20 bytes.
pub fn application_serial(ef15: &[u8]) -> Option<[u8; 8]> {
    ef15.get(SERIAL_RANGE)?.try_into().ok()
}

/// The default second diversifier: the first 8 bytes of EF15 (ETC: the 4-byte issuer code
/// twice; Shanghai T-Union: issuer 4 ‖ `FFFFFFFF`; pboc-notes §4.4).
pub fn default_second_diversifier(ef15: &[u8]) -> Option<[u8; 8]> {
    ef15.get(..8)?.try_into().ok()
}

/// Best-effort wipe of a temporary copy of key bytes (the facade has no `zeroize` dependency
/// and forbids `unsafe`; long-lived keys are [`SecretKey`]s, which zeroize on drop).
pub(crate) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// One diversification step: `3DES_MK(D) ‖ 3DES_MK(NOT D)` (⚠ see the module docs).
pub fn diversify(
    master: &(impl KeyMaterial<16> + ?Sized),
    data: &[u8; 8],
) -> Result<SecretKey, CipherError> {
    let master = master.key_bytes().ok_or(CipherError::InvalidKeyLength {
        algorithm: CipherAlgorithm::Tdes,
        len: master.key_len(),
    })?;
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(data);
    for (out, byte) in input[8..].iter_mut().zip(data) {
        *out = !byte;
    }
    let mut derived = BlockCipher::tdes2(master).encrypt_ecb(&input)?;
    let key = SecretKey::new(&derived);
    wipe(&mut derived);
    Ok(key)
}

/// The card's own 16-byte key from an issuer master key: one level with the serial, or two
/// levels when `second` is given (⚠ see the module docs).
pub fn card_key(
    master: &(impl KeyMaterial<16> + ?Sized),
    serial: &[u8; 8],
    second: Option<&[u8; 8]>,
) -> Result<SecretKey, CipherError> {
    match second {
        Some(second) => diversify(&diversify(master, second)?, serial),
        None => diversify(master, serial),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn halves_encrypt_the_serial_and_its_complement() {
        let master = [0x11u8; 16];
        let serial = [1, 2, 3, 4, 5, 6, 7, 8];
        let key = diversify(&master, &serial).unwrap();
        let mut left = serial;
        BlockCipher::tdes2(&master)
            .encrypt_block(&mut left)
            .unwrap();
        assert_eq!(&key.as_bytes()[..8], &left);
        assert_ne!(&key.as_bytes()[..8], &key.as_bytes()[8..]);
        let two = card_key(&master, &serial, Some(&[9; 8])).unwrap();
        assert_ne!(two, key);
        assert!(diversify(&SecretKey::new(&[0; 8]), &serial).is_err());
    }

    #[test]
    fn serial_is_bytes_12_to_19() {
        let ef15: Vec<u8> = (0..30).collect();
        assert_eq!(
            application_serial(&ef15),
            Some([12, 13, 14, 15, 16, 17, 18, 19])
        );
        assert_eq!(application_serial(&ef15[..19]), None);
        assert_eq!(
            default_second_diversifier(&ef15),
            Some([0, 1, 2, 3, 4, 5, 6, 7])
        );
    }
}
