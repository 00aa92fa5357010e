//! PBOC electronic deposit / electronic purse (ED/EP) purchase and load cryptography
//! (JR/T 0025 Part 1 / PBOC 1.0–2.0 ED/EP; pboc-notes §4.2; vectors README §3.9).
//!
//! Algorithm id `00` (3DES session key derivation, single-DES MACs):
//!
//! - session key SK (8 bytes) = 3DES_K(input) with K the card's 16-byte purchase key DPK or load
//!   key DLK; the inputs are built by [`purchase_session_key_input`] and
//!   [`load_session_key_input`];
//! - MAC(SK, data) = leftmost 4 bytes of a single-DES CBC-MAC, IV zero, ISO/IEC 9797-1 padding
//!   method 2 ([`purse_mac`]);
//! - each MAC's data layout is one small `*_input` function or `to_bytes` method, so a layout
//!   can be corrected in one place.
//!
//! All amounts and balances are 4-byte **binary** big-endian values in fen; dates are BCD
//! `YYYYMMDD` (4 bytes), times BCD `hhmmss` (3 bytes).
//!
//! # Examples
//!
//! The purchase vector of pboc-notes §4.2 (sources V1, V2):
//!
//! ```
//! use quickpass_crypto::purse::{self, PurchaseMacData};
//!
//! # fn main() -> Result<(), purse::PurseError> {
//! let dpk: [u8; 16] = hex::decode("11223344556677888877665544332211").unwrap().try_into().unwrap();
//! let sk = purse::purchase_session_key(&dpk, [0x11, 0x22, 0x33, 0x44], 0, 1)?;
//! assert_eq!(hex::encode_upper(sk.as_bytes()), "003238ABC57659DD");
//!
//! let mac1 = purse::purchase_mac1(&sk, &PurchaseMacData {
//!     amount: 0x1000,
//!     transaction_type: 0x06,
//!     terminal_id: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
//!     date: [0x20, 0x12, 0x02, 0x29],
//!     time: [0x13, 0x51, 0x00],
//! })?;
//! assert_eq!(mac1, [0xF1, 0x5C, 0xAB, 0x75]);
//! assert_eq!(purse::purchase_mac2(&sk, 0x1000)?, [0x56, 0x98, 0x8A, 0x13]);
//! # Ok(())
//! # }
//! ```

use thiserror::Error;
use zeroize::Zeroizing;

use crate::cipher::BlockCipher;
use crate::mac::{des_cbc_mac, split_16, Padding};
use crate::secret::{KeyMaterial, SecretKey};

/// Invalid input to a purse function (a caller error).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PurseError {
    /// A key has the wrong length (card keys 16 bytes, session and TAC keys 8 bytes).
    #[error("key must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// Required length.
        expected: usize,
        /// Length given.
        actual: usize,
    },
}

fn key_n<const N: usize, K: KeyMaterial<N> + ?Sized>(key: &K) -> Result<&[u8; N], PurseError> {
    key.key_bytes().ok_or(PurseError::InvalidKeyLength {
        expected: N,
        actual: key.key_len(),
    })
}

/// Purchase session key input (pboc-notes §4.2 [TC, V1, V2] ✅): card pseudo-random (4) ‖
/// offline transaction counter (2) ‖ rightmost 2 bytes of the terminal transaction serial.
pub fn purchase_session_key_input(
    card_random: [u8; 4],
    offline_counter: u16,
    terminal_serial: u32,
) -> [u8; 8] {
    let c = offline_counter.to_be_bytes();
    let s = terminal_serial.to_be_bytes();
    [
        card_random[0],
        card_random[1],
        card_random[2],
        card_random[3],
        c[0],
        c[1],
        s[2],
        s[3],
    ]
}

/// Load session key input (pboc-notes §4.2 [TC, V3, V4] ✅): card pseudo-random (4) ‖ online
/// transaction counter (2) ‖ `8000`.
pub fn load_session_key_input(card_random: [u8; 4], online_counter: u16) -> [u8; 8] {
    let c = online_counter.to_be_bytes();
    [
        card_random[0],
        card_random[1],
        card_random[2],
        card_random[3],
        c[0],
        c[1],
        0x80,
        0x00,
    ]
}

fn tdes_session_key(card_key: &[u8; 16], input: [u8; 8]) -> SecretKey {
    let mut block = Zeroizing::new(input);
    BlockCipher::tdes2(card_key).encrypt_block_unchecked(&mut block[..]);
    SecretKey::new(&block[..])
}

/// Purchase session key SESPK (8 bytes) = 3DES_DPK([`purchase_session_key_input`]).
/// `offline_counter` is the counter returned by INITIALIZE FOR PURCHASE.
pub fn purchase_session_key(
    dpk: &(impl KeyMaterial<16> + ?Sized),
    card_random: [u8; 4],
    offline_counter: u16,
    terminal_serial: u32,
) -> Result<SecretKey, PurseError> {
    let input = purchase_session_key_input(card_random, offline_counter, terminal_serial);
    Ok(tdes_session_key(key_n(dpk)?, input))
}

/// Load session key (8 bytes) = 3DES_DLK([`load_session_key_input`]). `online_counter` is the
/// counter returned by INITIALIZE FOR LOAD.
pub fn load_session_key(
    dlk: &(impl KeyMaterial<16> + ?Sized),
    card_random: [u8; 4],
    online_counter: u16,
) -> Result<SecretKey, PurseError> {
    let input = load_session_key_input(card_random, online_counter);
    Ok(tdes_session_key(key_n(dlk)?, input))
}

/// The PBOC purse MAC (pboc-notes §4.2 \[V5\] ✅): leftmost 4 bytes of the single-DES CBC-MAC
/// (ISO/IEC 9797-1 algorithm 1) of `data` under the 8-byte `key`, IV zero, padding method 2
/// (`80` is always appended).
pub fn purse_mac(key: &(impl KeyMaterial<8> + ?Sized), data: &[u8]) -> Result<[u8; 4], PurseError> {
    let mac = des_cbc_mac(key_n(key)?, data, Padding::Method2);
    Ok([mac[0], mac[1], mac[2], mac[3]])
}

/// Data of purchase MAC1 and of load MAC2: amount ‖ transaction type ‖ terminal number ‖ date ‖
/// time (pboc-notes §4.2 [TC, V1, V2, V3] ✅).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurchaseMacData {
    /// Transaction amount in fen.
    pub amount: u32,
    /// Transaction type (`01` ED load, `02` EP load, `05` ED purchase, `06` EP purchase, `09`
    /// CAPP purchase).
    pub transaction_type: u8,
    /// Terminal number (6 bytes).
    pub terminal_id: [u8; 6],
    /// Transaction date, BCD `YYYYMMDD`.
    pub date: [u8; 4],
    /// Transaction time, BCD `hhmmss`.
    pub time: [u8; 3],
}

/// Load MAC2 covers the same fields, in the same order, as purchase MAC1.
pub type LoadMac2Data = PurchaseMacData;

impl PurchaseMacData {
    /// amount (4) ‖ type (1) ‖ terminal number (6) ‖ date (4) ‖ time (3).
    pub fn to_bytes(&self) -> [u8; 18] {
        let mut out = [0u8; 18];
        out[..4].copy_from_slice(&self.amount.to_be_bytes());
        out[4] = self.transaction_type;
        out[5..11].copy_from_slice(&self.terminal_id);
        out[11..15].copy_from_slice(&self.date);
        out[15..].copy_from_slice(&self.time);
        out
    }
}

/// Purchase MAC1 (made by the PSAM, checked by the card in DEBIT FOR PURCHASE).
pub fn purchase_mac1(
    session_key: &(impl KeyMaterial<8> + ?Sized),
    data: &PurchaseMacData,
) -> Result<[u8; 4], PurseError> {
    purse_mac(session_key, &data.to_bytes())
}

/// Purchase MAC2 = MAC(SK, amount) (made by the card, checked by the PSAM with `80 72`).
pub fn purchase_mac2(
    session_key: &(impl KeyMaterial<8> + ?Sized),
    amount: u32,
) -> Result<[u8; 4], PurseError> {
    purse_mac(session_key, &amount.to_be_bytes())
}

/// Load MAC1 data (pboc-notes §4.2 [TC, V3, V4] ✅): old balance (4) ‖ amount (4) ‖
/// transaction type (1) ‖ terminal number (6).
pub fn load_mac1_input(
    balance: u32,
    amount: u32,
    transaction_type: u8,
    terminal_id: [u8; 6],
) -> [u8; 15] {
    let mut out = [0u8; 15];
    out[..4].copy_from_slice(&balance.to_be_bytes());
    out[4..8].copy_from_slice(&amount.to_be_bytes());
    out[8] = transaction_type;
    out[9..].copy_from_slice(&terminal_id);
    out
}

/// Load MAC1 (made by the card in INITIALIZE FOR LOAD, checked by the host). `balance` is the
/// balance before the load, as returned by INITIALIZE FOR LOAD.
pub fn load_mac1(
    session_key: &(impl KeyMaterial<8> + ?Sized),
    balance: u32,
    amount: u32,
    transaction_type: u8,
    terminal_id: [u8; 6],
) -> Result<[u8; 4], PurseError> {
    purse_mac(
        session_key,
        &load_mac1_input(balance, amount, transaction_type, terminal_id),
    )
}

/// Load MAC2 (made by the host, checked by the card in CREDIT FOR LOAD).
pub fn load_mac2(
    session_key: &(impl KeyMaterial<8> + ?Sized),
    data: &LoadMac2Data,
) -> Result<[u8; 4], PurseError> {
    purse_mac(session_key, &data.to_bytes())
}

/// The single-DES TAC key: DTK_left ⊕ DTK_right.
///
/// ⚠ Single source (pboc-notes §4.2 \[TC\]), no public test vector.
pub fn tac_key(dtk: &(impl KeyMaterial<16> + ?Sized)) -> Result<SecretKey, PurseError> {
    let (l, r) = split_16(key_n(dtk)?);
    let mut k = Zeroizing::new([0u8; 8]);
    for (i, out) in k.iter_mut().enumerate() {
        *out = l[i] ^ r[i];
    }
    Ok(SecretKey::new(&k[..]))
}

/// Data of the purchase TAC.
///
/// ⚠ Single source (pboc-notes §4.2 \[TC\]), no public test vector: amount ‖ type ‖ terminal
/// number ‖ terminal transaction serial ‖ date ‖ time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurchaseTacData {
    /// Transaction amount in fen.
    pub amount: u32,
    /// Transaction type.
    pub transaction_type: u8,
    /// Terminal number (6 bytes).
    pub terminal_id: [u8; 6],
    /// Terminal transaction serial number.
    pub terminal_serial: u32,
    /// Transaction date, BCD `YYYYMMDD`.
    pub date: [u8; 4],
    /// Transaction time, BCD `hhmmss`.
    pub time: [u8; 3],
}

impl PurchaseTacData {
    /// ⚠ amount (4) ‖ type (1) ‖ terminal number (6) ‖ terminal serial (4) ‖ date (4) ‖ time (3).
    pub fn to_bytes(&self) -> [u8; 22] {
        let mut out = [0u8; 22];
        out[..4].copy_from_slice(&self.amount.to_be_bytes());
        out[4] = self.transaction_type;
        out[5..11].copy_from_slice(&self.terminal_id);
        out[11..15].copy_from_slice(&self.terminal_serial.to_be_bytes());
        out[15..19].copy_from_slice(&self.date);
        out[19..].copy_from_slice(&self.time);
        out
    }
}

/// Purchase TAC = MAC(DTK_left ⊕ DTK_right, [`PurchaseTacData::to_bytes`]).
///
/// ⚠ Single source (pboc-notes §4.2 \[TC\]), no public test vector.
pub fn purchase_tac(
    dtk: &(impl KeyMaterial<16> + ?Sized),
    data: &PurchaseTacData,
) -> Result<[u8; 4], PurseError> {
    purse_mac(&tac_key(dtk)?, &data.to_bytes())
}

/// Data of the load TAC.
///
/// ⚠ Single source (pboc-notes §4.2 \[TC\]), no public test vector: new balance ‖ online counter
/// ‖ amount ‖ type ‖ terminal number ‖ date ‖ time. TC uses the online counter returned by
/// INITIALIZE FOR LOAD (before the increment); that is unconfirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadTacData {
    /// Balance after the load, in fen.
    pub new_balance: u32,
    /// Online transaction counter as returned by INITIALIZE FOR LOAD.
    pub online_counter: u16,
    /// Transaction amount in fen.
    pub amount: u32,
    /// Transaction type.
    pub transaction_type: u8,
    /// Terminal number (6 bytes).
    pub terminal_id: [u8; 6],
    /// Transaction date, BCD `YYYYMMDD`.
    pub date: [u8; 4],
    /// Transaction time, BCD `hhmmss`.
    pub time: [u8; 3],
}

impl LoadTacData {
    /// ⚠ new balance (4) ‖ online counter (2) ‖ amount (4) ‖ type (1) ‖ terminal number (6) ‖
    /// date (4) ‖ time (3).
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..4].copy_from_slice(&self.new_balance.to_be_bytes());
        out[4..6].copy_from_slice(&self.online_counter.to_be_bytes());
        out[6..10].copy_from_slice(&self.amount.to_be_bytes());
        out[10] = self.transaction_type;
        out[11..17].copy_from_slice(&self.terminal_id);
        out[17..21].copy_from_slice(&self.date);
        out[21..].copy_from_slice(&self.time);
        out
    }
}

/// Load TAC = MAC(DTK_left ⊕ DTK_right, [`LoadTacData::to_bytes`]).
///
/// ⚠ Single source (pboc-notes §4.2 \[TC\]), no public test vector.
pub fn load_tac(
    dtk: &(impl KeyMaterial<16> + ?Sized),
    data: &LoadTacData,
) -> Result<[u8; 4], PurseError> {
    purse_mac(&tac_key(dtk)?, &data.to_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(
            purchase_session_key_input([1, 2, 3, 4], 0x0506, 0xAABB_0708),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(
            load_session_key_input([1, 2, 3, 4], 0x0506),
            [1, 2, 3, 4, 5, 6, 0x80, 0]
        );
        assert_eq!(
            hex::encode_upper(load_mac1_input(1, 0x1000, 2, [9; 6])),
            "000000010000100002090909090909"
        );
    }

    #[test]
    fn tac_key_is_xor() {
        let dtk = [[0x0F; 8], [0xF1; 8]].concat();
        let dtk: [u8; 16] = dtk.try_into().unwrap();
        assert_eq!(tac_key(&dtk).unwrap().as_bytes(), &[0xFE; 8]);
        assert!(tac_key(&SecretKey::new(&[0; 8])).is_err());
    }

    #[test]
    fn wrong_session_key_length() {
        let sk16 = SecretKey::new(&[0; 16]);
        assert_eq!(
            purchase_mac2(&sk16, 1).unwrap_err(),
            PurseError::InvalidKeyLength {
                expected: 8,
                actual: 16
            }
        );
    }
}
