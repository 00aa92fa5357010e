//! EMV and PBOC issuer-side key derivation, application cryptograms and ARPC
//! (EMV 4.x Book 2 Annex A1 and §8; PBOC 2.0 / JR/T 0025; vectors README §3.6–3.8).
//!
//! Every derived key is returned as a [`SecretKey`]; keys are taken as `&impl KeyMaterial<16>`,
//! so both a `[u8; 16]` and a 16-byte `SecretKey` work. Derived DES keys are **not** parity
//! adjusted (DES ignores parity); use [`SecretKey::with_odd_parity`] to print them the way most
//! HSMs do.
//!
//! # Examples
//!
//! Issuer side of an online PBOC transaction: derive the card's AC key (UDK) and the session key,
//! check the ARQC, answer with an ARPC.
//!
//! ```
//! use quickpass_crypto::emv;
//! use quickpass_crypto::mac::Padding;
//!
//! # fn main() -> Result<(), emv::EmvKeyError> {
//! let imk: [u8; 16] = hex::decode("C4D689158AD9FB9D23105B91CE046D0E").unwrap().try_into().unwrap();
//! let udk = emv::derive_icc_master_key_option_a(&imk, "6210220110002707355", 0x01)?;
//! let sk = emv::pboc_ac_session_key(&udk, [0x03, 0xD3])?;
//! assert_eq!(hex::encode_upper(sk.as_bytes()), "4A43440B2D932ACDC4E2776ED562EE43");
//!
//! let arqc = emv::application_cryptogram(&sk, b"transaction data", Padding::Method2)?;
//! let arpc = emv::arpc_method_1(&sk, arqc, *b"00")?;
//! assert_eq!(arpc.len(), 8);
//! # Ok(())
//! # }
//! ```

use alloc::{vec, vec::Vec};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::cipher::BlockCipher;
use crate::hash;
use crate::mac::{retail_mac, Padding};
use crate::secret::{KeyMaterial, SecretKey};

/// Invalid input to an EMV / PBOC key or cryptogram function (a caller error).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmvKeyError {
    /// The PAN is empty, longer than 19 digits, or has a non-digit character.
    #[error("PAN must be 1 to 19 decimal digits")]
    InvalidPan,
    /// The PAN sequence number (tag `5F34`) is not a BCD byte.
    #[error("PAN sequence number {0:#04X} is not BCD")]
    InvalidPsn(u8),
    /// A key has the wrong length.
    #[error("key must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// Required length.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// EMV2000 tree height must be at least 1.
    #[error("EMV2000 tree height must be at least 1")]
    InvalidTreeHeight,
    /// EMV2000 tree branch factor must be at least 2.
    #[error("EMV2000 tree branch factor {0} must be at least 2")]
    InvalidBranchFactor(u32),
    /// ARPC method 2 proprietary authentication data is at most 8 bytes.
    #[error("proprietary authentication data is {0} bytes, at most 8 allowed")]
    ProprietaryDataTooLong(usize),
}

/// The 16-byte key inside `key`, or a length error.
fn key16<K: KeyMaterial<16> + ?Sized>(key: &K) -> Result<&[u8; 16], EmvKeyError> {
    key.key_bytes().ok_or(EmvKeyError::InvalidKeyLength {
        expected: 16,
        actual: key.key_len(),
    })
}

/// One-block two-key 3DES encryption ("3DES_K(x)" of the vectors README).
fn tdes(key: &[u8; 16], block: [u8; 8]) -> [u8; 8] {
    let mut out = block;
    BlockCipher::tdes2(key).encrypt_block_unchecked(&mut out);
    out
}

fn xor8(a: [u8; 8], b: [u8; 8]) -> [u8; 8] {
    let mut out = a;
    for (o, x) in out.iter_mut().zip(b) {
        *o ^= x;
    }
    out
}

fn concat16(l: [u8; 8], r: [u8; 8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    out[..8].copy_from_slice(&l);
    out[8..].copy_from_slice(&r);
    out
}

fn halves(x: &[u8; 16]) -> ([u8; 8], [u8; 8]) {
    crate::mac::split_16(x)
}

/// PAN digits as values 0–9, validated.
fn pan_digits(pan: &str) -> Result<Vec<u8>, EmvKeyError> {
    if pan.is_empty() || pan.len() > 19 || !pan.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EmvKeyError::InvalidPan);
    }
    Ok(pan.bytes().map(|b| b - b'0').collect())
}

/// The two digits of a BCD PSN byte.
fn psn_digits(psn: u8) -> Result<[u8; 2], EmvKeyError> {
    let (hi, lo) = (psn >> 4, psn & 0x0F);
    if hi > 9 || lo > 9 {
        return Err(EmvKeyError::InvalidPsn(psn));
    }
    Ok([hi, lo])
}

/// Packs exactly 16 digits (values 0–9 or nibbles) into 8 bytes.
fn pack16(digits: &[u8]) -> [u8; 8] {
    let mut y = [0u8; 8];
    for (out, pair) in y.iter_mut().zip(digits.chunks_exact(2)) {
        *out = (pair[0] << 4) | (pair[1] & 0x0F);
    }
    y
}

/// Option A input Y: rightmost 16 digits of PAN ‖ PSN, left-padded with `0`.
fn option_a_y(pan: &[u8], psn: [u8; 2]) -> [u8; 8] {
    let mut s: Vec<u8> = pan.iter().chain(psn.iter()).copied().collect();
    if s.len() < 16 {
        let mut padded = vec![0u8; 16 - s.len()];
        padded.extend_from_slice(&s);
        s = padded;
    }
    pack16(&s[s.len() - 16..])
}

/// Option B input Y for PANs longer than 16 digits (EMV Book 2 A1.4.2).
fn option_b_y(pan: &[u8], psn: [u8; 2]) -> [u8; 8] {
    let mut x: Vec<u8> = Vec::with_capacity(22);
    if (pan.len() + 2) % 2 == 1 {
        x.push(0);
    }
    x.extend_from_slice(pan);
    x.extend_from_slice(&psn);
    let bcd: Vec<u8> = x.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect();
    let h = hash::sha1(&bcd);
    let nibbles: Vec<u8> = h.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
    // Decimal digits in order, then the letters A–F in order mapped to 0–5.
    let y: Vec<u8> = nibbles
        .iter()
        .filter(|&&n| n <= 9)
        .copied()
        .chain(nibbles.iter().filter(|&&n| n > 9).map(|n| n - 10))
        .take(16)
        .collect();
    pack16(&y)
}

/// MK = 3DES_IMK(Y) ‖ 3DES_IMK(Y ⊕ FF…FF) (EMV Book 2 A1.4.1 step 2).
fn master_key_from_y(imk: &[u8; 16], y: [u8; 8]) -> SecretKey {
    let key = concat16(tdes(imk, y), tdes(imk, xor8(y, [0xFF; 8])));
    SecretKey::new(&key[..])
}

/// ICC master key derivation, **option A** (EMV Book 2 Annex A1.4.1; also the PBOC "UDK").
///
/// `pan` is the PAN as decimal digits (1–19, no `F` padding); `psn` is the PAN sequence number
/// (tag `5F34`) as one BCD byte (use `0x00` when the card has none).
/// Y = rightmost 16 digits of PAN ‖ PSN (left-padded with `0`), MK = 3DES_IMK(Y) ‖
/// 3DES_IMK(Y ⊕ FF…FF). The key is not parity adjusted.
///
/// # Examples
///
/// ```
/// use quickpass_crypto::emv::derive_icc_master_key_option_a;
///
/// let imk: [u8; 16] = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap().try_into().unwrap();
/// let mk = derive_icc_master_key_option_a(&imk, "12345678901234567", 0x01).unwrap();
/// assert_eq!(
///     hex::encode_upper(mk.with_odd_parity().as_bytes()),
///     "73AD54688CEF2934B0979857E3C719F1"
/// );
/// assert!(derive_icc_master_key_option_a(&imk, "1234x", 0x01).is_err());
/// ```
pub fn derive_icc_master_key_option_a(
    imk: &(impl KeyMaterial<16> + ?Sized),
    pan: &str,
    psn: u8,
) -> Result<SecretKey, EmvKeyError> {
    let imk = key16(imk)?;
    let y = option_a_y(&pan_digits(pan)?, psn_digits(psn)?);
    Ok(master_key_from_y(imk, y))
}

/// ICC master key derivation, **option B** (EMV Book 2 Annex A1.4.2): identical to option A
/// for PANs of at most 16 digits; for longer PANs Y is the decimalised SHA-1 of PAN ‖ PSN.
pub fn derive_icc_master_key_option_b(
    imk: &(impl KeyMaterial<16> + ?Sized),
    pan: &str,
    psn: u8,
) -> Result<SecretKey, EmvKeyError> {
    let imk = key16(imk)?;
    let pan = pan_digits(pan)?;
    let psn = psn_digits(psn)?;
    let y = if pan.len() <= 16 {
        option_a_y(&pan, psn)
    } else {
        option_b_y(&pan, psn)
    };
    Ok(master_key_from_y(imk, y))
}

/// EMV common session key derivation (EMV 4.x Book 2 Annex A1.3.1):
/// SK = 3DES_MK(R with byte 2 = `F0`) ‖ 3DES_MK(R with byte 2 = `0F`).
///
/// For application cryptograms R = ATC ‖ `000000000000`; for secure messaging R is the ARQC.
pub fn common_session_key(
    mk: &(impl KeyMaterial<16> + ?Sized),
    r: [u8; 8],
) -> Result<SecretKey, EmvKeyError> {
    let mk = key16(mk)?;
    let (mut r_l, mut r_r) = (r, r);
    r_l[2] = 0xF0;
    r_r[2] = 0x0F;
    let key = concat16(tdes(mk, r_l), tdes(mk, r_r));
    Ok(SecretKey::new(&key[..]))
}

/// Mastercard session key derivation (M/Chip "SKD", CVN 16/17): the EMV common session key
/// with R = ATC ‖ `0000` ‖ UN.
pub fn mastercard_session_key(
    mk: &(impl KeyMaterial<16> + ?Sized),
    atc: [u8; 2],
    un: [u8; 4],
) -> Result<SecretKey, EmvKeyError> {
    let r = [atc[0], atc[1], 0, 0, un[0], un[1], un[2], un[3]];
    common_session_key(mk, r)
}

/// Visa secure-messaging session key (Visa VIS): MK_L ⊕ (`000000000000` ‖ ATC) ‖
/// MK_R ⊕ (`000000000000` ‖ (ATC ⊕ `FFFF`)). No encryption is involved.
pub fn visa_sm_session_key(
    mk: &(impl KeyMaterial<16> + ?Sized),
    atc: [u8; 2],
) -> Result<SecretKey, EmvKeyError> {
    let mut key = Zeroizing::new(*key16(mk)?);
    key[6] ^= atc[0];
    key[7] ^= atc[1];
    key[14] ^= !atc[0];
    key[15] ^= !atc[1];
    Ok(SecretKey::new(&key[..]))
}

/// The PBOC 2.0 ATC-based AC session key (pboc-notes §2.11, ⚠ single-source description,
/// confirmed by the key-derivation-pboc vector): SK = 3DES_MK(`000000000000` ‖ ATC) ‖
/// 3DES_MK(`000000000000` ‖ (ATC ⊕ `FFFF`)). `mk` is the card's AC key (UDK). This is **not**
/// the EMV common session key.
pub fn pboc_ac_session_key(
    mk: &(impl KeyMaterial<16> + ?Sized),
    atc: [u8; 2],
) -> Result<SecretKey, EmvKeyError> {
    let mk = key16(mk)?;
    let left = [0, 0, 0, 0, 0, 0, atc[0], atc[1]];
    let right = [0, 0, 0, 0, 0, 0, !atc[0], !atc[1]];
    let key = concat16(tdes(mk, left), tdes(mk, right));
    Ok(SecretKey::new(&key[..]))
}

/// EMV2000 tree Map(X, Y, j) = 3DES_X(Y_L ⊕ J) ‖ 3DES_X(Y_R ⊕ J ⊕ `00000000000000F0`),
/// J = (j mod b) as 8 bytes big-endian.
fn tree_map(x: &[u8; 16], y: &[u8; 16], j: u64, b: u64) -> Zeroizing<[u8; 16]> {
    let jj = (j % b).to_be_bytes();
    let (y_l, y_r) = halves(y);
    let left = tdes(x, xor8(y_l, jj));
    let right = tdes(x, xor8(xor8(y_r, jj), [0, 0, 0, 0, 0, 0, 0, 0xF0]));
    concat16(left, right)
}

/// EMV2000 tree session key derivation (EMV 2000 Book 2 Annex A1.3; vectors README §3.6
/// `emv2000-tree`), with tree height `height` (H ≥ 1), branch factor `branch_factor` (b ≥ 2) and
/// initial value `iv`.
///
/// P = MK, G = IV; for level 1…H−1: j = ⌊ATC / b^(H−level)⌋, (P, G) ← (Map(P, G, j), P);
/// SK = Map(P, G, ATC) ⊕ G. Powers that exceed 64 bits give j = 0 (checked arithmetic).
pub fn emv2000_tree_session_key(
    mk: &(impl KeyMaterial<16> + ?Sized),
    atc: [u8; 2],
    height: u8,
    branch_factor: u32,
    iv: [u8; 16],
) -> Result<SecretKey, EmvKeyError> {
    let mk = key16(mk)?;
    if height == 0 {
        return Err(EmvKeyError::InvalidTreeHeight);
    }
    if branch_factor < 2 {
        return Err(EmvKeyError::InvalidBranchFactor(branch_factor));
    }
    let a = u64::from(u16::from_be_bytes(atc));
    let b = u64::from(branch_factor);
    let mut p = Zeroizing::new(*mk);
    let mut g = Zeroizing::new(iv);
    for level in 1..height {
        let j = match b.checked_pow(u32::from(height - level)) {
            Some(divisor) => a / divisor,
            None => 0, // b^(H-level) > u64::MAX > ATC
        };
        let next = tree_map(&p, &g, j, b);
        *g = *p;
        *p = *next;
    }
    let mut key = tree_map(&p, &g, a, b);
    for (k, x) in key.iter_mut().zip(g.iter()) {
        *k ^= x;
    }
    Ok(SecretKey::new(&key[..]))
}

/// Application cryptogram (ARQC, TC, AAC) over already assembled `data` (EMV Book 2 §8.1.2 and
/// Annex A1.2.1): ISO/IEC 9797-1 MAC algorithm 3 with DES, K‖K′ = `key`, the full 8 bytes.
///
/// EMV and PBOC use [`Padding::Method2`]; Visa CVN 10 uses [`Padding::Method1`].
pub fn application_cryptogram(
    key: &(impl KeyMaterial<16> + ?Sized),
    data: &[u8],
    padding: Padding,
) -> Result<[u8; 8], EmvKeyError> {
    Ok(retail_mac(key16(key)?, data, padding))
}

/// ARPC method 1 (EMV Book 2 §8.2.1): 3DES_key(ARQC ⊕ (ARC ‖ `000000000000`)).
pub fn arpc_method_1(
    key: &(impl KeyMaterial<16> + ?Sized),
    arqc: [u8; 8],
    arc: [u8; 2],
) -> Result<[u8; 8], EmvKeyError> {
    let key = key16(key)?;
    Ok(tdes(key, xor8(arqc, [arc[0], arc[1], 0, 0, 0, 0, 0, 0])))
}

/// ARPC method 2 (EMV Book 2 §8.2.2): the leftmost 4 bytes of ISO/IEC 9797-1 MAC algorithm 3
/// (DES, padding method 2) over ARQC ‖ CSU ‖ proprietary authentication data (0–8 bytes).
pub fn arpc_method_2(
    key: &(impl KeyMaterial<16> + ?Sized),
    arqc: [u8; 8],
    csu: [u8; 4],
    proprietary: &[u8],
) -> Result<[u8; 4], EmvKeyError> {
    let key = key16(key)?;
    if proprietary.len() > 8 {
        return Err(EmvKeyError::ProprietaryDataTooLong(proprietary.len()));
    }
    let mut data = Vec::with_capacity(20);
    data.extend_from_slice(&arqc);
    data.extend_from_slice(&csu);
    data.extend_from_slice(proprietary);
    let mac = retail_mac(key, &data, Padding::Method2);
    Ok([mac[0], mac[1], mac[2], mac[3]])
}

/// Issuer script secure-messaging MAC (EMV Book 2 §9.2, secure messaging for integrity): ISO/IEC 9797-1 MAC algorithm 3
/// with DES and padding method 2 under the secure-messaging integrity session key, full 8 bytes
/// (the card command takes the leftmost 4–8). `data` is what the scheme MACs, e.g. the command
/// header (CLA INS P1 P2 Lc) ‖ ATC ‖ ARQC ‖ command data.
pub fn secure_messaging_mac(
    key: &(impl KeyMaterial<16> + ?Sized),
    data: &[u8],
) -> Result<[u8; 8], EmvKeyError> {
    Ok(retail_mac(key16(key)?, data, Padding::Method2))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn option_a_y_layout() {
        let pan = pan_digits("12345678901234567").unwrap();
        assert_eq!(
            option_a_y(&pan, [0, 1]),
            [0x45, 0x67, 0x89, 0x01, 0x23, 0x45, 0x67, 0x01]
        );
        let short = pan_digits("123").unwrap();
        assert_eq!(
            option_a_y(&short, [4, 5]),
            [0, 0, 0, 0, 0, 0x01, 0x23, 0x45]
        );
    }

    #[test]
    fn invalid_inputs() {
        let k = [0u8; 16];
        assert_eq!(
            derive_icc_master_key_option_a(&k, "", 0).unwrap_err(),
            EmvKeyError::InvalidPan
        );
        assert_eq!(
            derive_icc_master_key_option_b(&k, "12345678901234567890", 0).unwrap_err(),
            EmvKeyError::InvalidPan
        );
        assert_eq!(
            derive_icc_master_key_option_a(&k, "1234", 0x1A).unwrap_err(),
            EmvKeyError::InvalidPsn(0x1A)
        );
        assert_eq!(
            common_session_key(&SecretKey::new(&[0; 8]), [0; 8]).unwrap_err(),
            EmvKeyError::InvalidKeyLength {
                expected: 16,
                actual: 8
            }
        );
        assert_eq!(
            emv2000_tree_session_key(&k, [0, 0], 0, 2, [0; 16]).unwrap_err(),
            EmvKeyError::InvalidTreeHeight
        );
        assert_eq!(
            emv2000_tree_session_key(&k, [0, 0], 8, 1, [0; 16]).unwrap_err(),
            EmvKeyError::InvalidBranchFactor(1)
        );
        assert!(emv2000_tree_session_key(&k, [0xFF, 0xFF], 255, u32::MAX, [0; 16]).is_ok());
        assert_eq!(
            arpc_method_2(&k, [0; 8], [0; 4], &[0; 9]).unwrap_err(),
            EmvKeyError::ProprietaryDataTooLong(9)
        );
    }
}
