//! Every ED/EP layout and code the terminal relies on that pboc-notes §4 marks ⚠ (unverified)
//! or that varies by issuer, one item each, so a correction happens in one place.
//!
//! | item | choice | notes |
//! |---|---|---|
//! | [`PROVE_ORDER`] | MAC2 ‖ TAC | §4.1 GET TRANSACTION PROVE, §7 item 3 |
//! | [`PROVE_ATC_OFFSET`] | ATC from INITIALIZE + 1 | §4.1 notes, §4.3 step 9 (✅ common practice) |
//! | [`SERIAL_RANGE`] | EF15 bytes 12–19 | §4.7 (T-Union rightmost 8 of the serial ⚠), §4.8 ETC |
//! | [`CARD_NUMBER_RANGE`] | EF15 bytes 10–19 | T-Union serial (10 B BCD) / ETC network id ‖ serial |
//! | [`SECOND_DIVERSIFIER_RANGE`] | EF15 bytes 0–7 | §4.4 (ETC ✅, Shanghai) |
//! | [`START_DATE_RANGE`], [`EXPIRY_DATE_RANGE`] | EF15 bytes 20–23, 24–27 | §4.7, §4.8 ✅ |
//! | [`KEY_INDEX_LEN`] | PSAM EF17 = 1 byte, the key index | §4.3 step 1 ⚠ (EF17 varies) |
//! | [`trip`] | Shanghai EF1A offsets | §4.7 ⚠ (one operator's layout) |
//! | [`crc32`] | CRC-32/ISO-HDLC, big-endian, bytes 6–123 | §4.7 ⚠ (polynomial and order not stated) |
//! | [`psam_tac`] | PSAM DES INIT `80 1A 44 <key version>` / DES CRYPT `80 FA 05 00` | §4.3 step 8 ⚠ (\[PS\], single source) |

use core::ops::Range;

use super::card::CardIdentity;
use crate::values::StatusWord;

/// The order of the two 4-byte fields in the GET TRANSACTION PROVE response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProveOrder {
    /// MAC2 (4) ‖ TAC (4).
    Mac2ThenTac,
    /// TAC (4) ‖ MAC2 (4), the order DEBIT FOR PURCHASE answers in.
    TacThenMac2,
}

/// ⚠ pboc-notes §4.1 / §7 item 3: the notes describe the answer as "MAC2 and TAC"; the order is
/// not confirmed by a trace. Change it here only.
pub const PROVE_ORDER: ProveOrder = ProveOrder::Mac2ThenTac;

/// Splits a GET TRANSACTION PROVE answer into (MAC2, TAC) by [`PROVE_ORDER`]; `None` unless it
/// is exactly 8 bytes.
pub fn split_prove(data: &[u8]) -> Option<([u8; 4], [u8; 4])> {
    let first: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let second: [u8; 4] = data.get(4..8)?.try_into().ok()?;
    if data.len() != 8 {
        return None;
    }
    Some(match PROVE_ORDER {
        ProveOrder::Mac2ThenTac => (first, second),
        ProveOrder::TacThenMac2 => (second, first),
    })
}

/// GET TRANSACTION PROVE takes the counter *of* the interrupted transaction: the one
/// INITIALIZE returned plus this (pboc-notes §4.1 notes, §4.3 step 9). EF18 records carry the
/// same number.
pub const PROVE_ATC_OFFSET: u16 = 1;

/// The 8-byte application serial sent to the PSAM (and used for key diversification): EF15
/// bytes 12–19 — the rightmost 8 bytes of the T-Union 10-byte serial (⚠ pboc-notes §4.7) and
/// the ETC card serial (§4.8).
pub const SERIAL_RANGE: Range<usize> = 12..20;

/// The card number shown (masked) in records: EF15 bytes 10–19 — the T-Union 10-byte BCD
/// application serial (§4.7) and, on ETC cards, network id ‖ card serial (§4.8), the number
/// printed on the card.
pub const CARD_NUMBER_RANGE: Range<usize> = 10..20;

/// The second diversifier for two-level key schemes: EF15 bytes 0–7 (ETC: the issuer code
/// twice; Shanghai T-Union: issuer ‖ `FFFFFFFF`; pboc-notes §4.4).
pub const SECOND_DIVERSIFIER_RANGE: Range<usize> = 0..8;

/// EF15 issuer code (§4.7 T-Union; §4.8 ETC "issuer"), for the clearing record.
pub const ISSUER_CODE_RANGE: Range<usize> = 0..8;

/// The city code inside the issuer code: EF15 bytes 2–3 (⚠ §4.7 T-Union; on an ETC card these
/// bytes are simply part of the issuer code).
pub const CITY_CODE_RANGE: Range<usize> = 2..4;

/// EF15 byte 8: application type (T-Union, §4.7) / card type (ETC, §4.8: `16` stored value,
/// `17` account).
pub const CARD_TYPE: usize = 8;

/// EF15 start date, BCD `YYYYMMDD` (§4.7, §4.8).
pub const START_DATE_RANGE: Range<usize> = 20..24;

/// EF15 expiry date, BCD `YYYYMMDD` (§4.7, §4.8).
pub const EXPIRY_DATE_RANGE: Range<usize> = 24..28;

/// Shortest EF15 the terminal accepts: up to the expiry date.
pub const EF15_MIN_LEN: usize = 28;

/// ⚠ PSAM EF17 (`00 B0 97 00 01`): one byte, the purchase key index the terminal sends in
/// INITIALIZE (pboc-notes §4.3 step 1; real EF17 contents vary, §7 item 5).
pub const KEY_INDEX_LEN: u8 = 1;

/// The Shanghai T-Union EF1A layout the segmented-fare hook reads and writes (pboc-notes §4.7,
/// \[SH\] ⚠: one operator's offsets; JT/T 978 only fixes the header). The record is at least
/// [`trip::RECORD_LEN`] bytes.
pub mod trip {
    use core::ops::Range;

    /// Record length the layout needs.
    pub const RECORD_LEN: usize = 128;
    /// Record header: id ‖ length ‖ lock … (bytes 0–5); kept as read.
    pub const HEADER: Range<usize> = 0..6;
    /// Offset of the lock byte in the header (`00` = writable).
    pub const LOCK: usize = 2;
    /// Trip status: `01` entry, `02` exit.
    pub const STATUS: usize = 14;
    /// Entry station (8 bytes; here the station number, big-endian).
    pub const ENTRY_STATION: Range<usize> = 35..43;
    /// Exit station.
    pub const EXIT_STATION: Range<usize> = 43..51;
    /// Entry device (8 bytes; here the terminal number, left-aligned).
    pub const ENTRY_DEVICE: Range<usize> = 51..59;
    /// Exit device.
    pub const EXIT_DEVICE: Range<usize> = 59..67;
    /// Entry time, BCD `YYYYMMDDhhmmss` (7 bytes).
    pub const ENTRY_TIME: Range<usize> = 67..74;
    /// Exit time.
    pub const EXIT_TIME: Range<usize> = 74..81;
    /// Maximum fare (cap), 4 bytes binary.
    pub const MAX_FARE: Range<usize> = 81..85;
    /// Entry line.
    pub const ENTRY_LINE: usize = 85;
    /// Exit line.
    pub const EXIT_LINE: usize = 86;
    /// Amount charged at entry, 4 bytes binary.
    pub const ENTRY_AMOUNT: Range<usize> = 87..91;
    /// Balance at entry, 4 bytes binary.
    pub const ENTRY_BALANCE: Range<usize> = 91..95;
    /// Amount actually charged for the trip, 4 bytes binary.
    pub const ACTUAL_AMOUNT: Range<usize> = 95..99;
    /// In/out state: [`IN`] after entry, [`OUT`] after exit.
    pub const IN_OUT: usize = 122;
    /// `55`: passenger inside.
    pub const IN: u8 = 0x55;
    /// `66`: passenger outside.
    pub const OUT: u8 = 0x66;
    /// Status byte value after an entry.
    pub const STATUS_ENTRY: u8 = 0x01;
    /// Status byte value after an exit.
    pub const STATUS_EXIT: u8 = 0x02;
    /// Bytes covered by the CRC.
    pub const CRC_COVERS: Range<usize> = 6..124;
    /// The CRC-32 ([`super::crc32`]), big-endian.
    pub const CRC: Range<usize> = 124..128;
}

/// ⚠ The CRC-32 of the Shanghai EF1A (pboc-notes §4.7 gives "CRC-32 over bytes 6–123" only):
/// here CRC-32/ISO-HDLC (reflected polynomial `EDB88320`, initial and final XOR `FFFFFFFF`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The EF1E travel record (48 bytes, pboc-notes §4.7 \[TU, SH\] ✅ field list): type ‖ terminal
/// 8 ‖ industry ‖ line 2 ‖ station 2 ‖ operator 2 ‖ RFU ‖ amount 4 ‖ balance after 4 ‖
/// date-time 7 ‖ city 2 ‖ acquirer 8 ‖ RFU 6.
pub mod travel {
    use core::ops::Range;

    /// Record length.
    pub const RECORD_LEN: usize = 48;
    /// `03` entry, `04` exit, `06` single-fare.
    pub const TYPE: usize = 0;
    /// Terminal (8 bytes; the 6-byte terminal number left-aligned).
    pub const TERMINAL: Range<usize> = 1..9;
    /// Industry code.
    pub const INDUSTRY: usize = 9;
    /// Line.
    pub const LINE: Range<usize> = 10..12;
    /// Station.
    pub const STATION: Range<usize> = 12..14;
    /// Operator.
    pub const OPERATOR: Range<usize> = 14..16;
    /// Amount, 4 bytes binary.
    pub const AMOUNT: Range<usize> = 17..21;
    /// Balance after, 4 bytes binary.
    pub const BALANCE_AFTER: Range<usize> = 21..25;
    /// Date-time, BCD `YYYYMMDDhhmmss`.
    pub const DATE_TIME: Range<usize> = 25..32;
    /// City code.
    pub const CITY: Range<usize> = 32..34;
    /// Type value for an entry.
    pub const ENTRY: u8 = 0x03;
    /// Type value for an exit.
    pub const EXIT: u8 = 0x04;
}

/// The PSAM's local TAC check (pboc-notes §4.3 step 8, \[PS\] ⚠ single source: only the two
/// command headers `80 1A 44 00 10` and `80 FA 05 00` were seen; every other detail below is a
/// guess from how PSAMs compute MACs elsewhere). Used by
/// [`Psam::check_purchase_tac`](super::sam::Psam) and answered by the simulated PSAM.
///
/// 1. DES INIT `80 1A` [`DES_INIT_P1`](psam_tac::DES_INIT_P1) `<key version>` Lc
///    [`des_init_data`](psam_tac::des_init_data): the PSAM derives the card's TAC key from its
///    TAC master key with the card's factors.
/// 2. DES CRYPT `80 FA` [`DES_CRYPT_P1`](psam_tac::DES_CRYPT_P1) `00` Lc
///    [`des_crypt_data`](psam_tac::des_crypt_data) Le `00`: the MAC over the TAC input under
///    that key, parsed by [`parse_mac`](psam_tac::parse_mac).
pub mod psam_tac {
    use super::{CardIdentity, StatusWord};
    use alloc::vec::Vec;
    use quickpass_crypto::mac::{pad, Padding};

    /// DES INIT instruction (`80 1A`).
    pub const DES_INIT_INS: u8 = 0x1A;

    /// ⚠ DES INIT P1 `44`: key usage "TAC key" (\[PS\] shows `44` in a TAC check; the meaning
    /// of the value is inferred, not documented).
    pub const DES_INIT_P1: u8 = 0x44;

    /// ⚠ DES INIT P2: here the card's key version (the byte INITIALIZE FOR PURCHASE returns),
    /// because the PSAM keeps its master keys by card key version, as it does for
    /// INIT SAM FOR PURCHASE (its `key version` field). \[PS\] shows `00`, which may instead be a
    /// PSAM key index; if real PSAMs want that, return it from here.
    pub const fn des_init_p2(key_version: u8) -> u8 {
        key_version
    }

    /// ⚠ DES INIT data, the diversification factors: card application serial 8 ‖ second
    /// diversifier 8 when the card has one (Lc `10`, the length \[PS\] shows), else the serial
    /// alone (Lc `08`) — the same factors, in the same order, as INIT SAM FOR PURCHASE
    /// (pboc-notes §4.3 step 5).
    pub fn des_init_data(card: &CardIdentity) -> Vec<u8> {
        let mut data = Vec::with_capacity(16);
        data.extend_from_slice(&card.serial);
        if let Some(second) = &card.second_diversifier {
            data.extend_from_slice(second);
        }
        data
    }

    /// DES CRYPT instruction (`80 FA`).
    pub const DES_CRYPT_INS: u8 = 0xFA;

    /// ⚠ DES CRYPT P1 `05`: "MAC, initial value given, last block" (\[PS\] shows `05`; the bit
    /// meanings are inferred).
    pub const DES_CRYPT_P1: u8 = 0x05;

    /// ⚠ DES CRYPT data: initial value 8 zero bytes ‖ the TAC input padded by the terminal with
    /// ISO/IEC 9797-1 method 2 (`80 00…`) to a multiple of 8 — the PBOC MAC's padding
    /// (pboc-notes §4.2), applied here because a PSAM MACs the blocks it is given as they are.
    /// A 22-byte purchase TAC input gives Lc `20`.
    pub fn des_crypt_data(tac_input: &[u8]) -> Vec<u8> {
        let padded = pad(Padding::Method2, 8, tac_input);
        let mut data = Vec::with_capacity(8 + padded.len());
        data.extend_from_slice(&[0; 8]);
        data.extend_from_slice(&padded);
        data
    }

    /// ⚠ The DES CRYPT answer: the PBOC MAC is the leftmost 4 bytes (pboc-notes §4.2), and a PSAM
    /// may return the 4-byte MAC or the whole 8-byte last block; `None` for any other length.
    pub fn parse_mac(data: &[u8]) -> Option<[u8; 4]> {
        match data {
            [a, b, c, d] | [a, b, c, d, _, _, _, _] => Some([*a, *b, *c, *d]),
            _ => None,
        }
    }

    /// ⚠ Status words to DES INIT that mean "this PSAM cannot check TACs" (no TAC key for that
    /// version, or no DES INIT at all): the TAC then goes to settlement unchecked
    /// ([`TacCheck::Unavailable`](crate::purse::TacCheck::Unavailable)) instead of failing the
    /// tap. `6D00` instruction not supported, `6A81` function not supported, `6A88` key not
    /// found, `6985` conditions of use not satisfied (key usage refused). Any other refusal is an
    /// error. Status words from ISO 7816-4 meanings, not from a PSAM manual.
    pub const UNAVAILABLE: [StatusWord; 4] = [
        StatusWord::INS_NOT_SUPPORTED,
        StatusWord::FUNCTION_NOT_SUPPORTED,
        StatusWord::REFERENCED_DATA_NOT_FOUND,
        StatusWord::CONDITIONS_NOT_SATISFIED,
    ];
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn prove_split_follows_the_order() {
        let data = [1, 1, 1, 1, 2, 2, 2, 2];
        let (mac2, tac) = split_prove(&data).unwrap();
        match PROVE_ORDER {
            ProveOrder::Mac2ThenTac => assert_eq!((mac2, tac), ([1; 4], [2; 4])),
            ProveOrder::TacThenMac2 => assert_eq!((mac2, tac), ([2; 4], [1; 4])),
        }
        assert!(split_prove(&data[..7]).is_none());
        assert!(split_prove(&[0; 9]).is_none());
    }

    #[test]
    fn psam_tac_command_data() {
        let mut card = CardIdentity {
            serial: [1, 2, 3, 4, 5, 6, 7, 8],
            second_diversifier: None,
        };
        assert_eq!(psam_tac::des_init_data(&card), card.serial);
        card.second_diversifier = Some([9; 8]);
        let data = psam_tac::des_init_data(&card);
        assert_eq!((data.len(), &data[8..]), (0x10, &[9u8; 8][..]));
        assert_eq!(psam_tac::des_init_p2(2), 2);
        // IV ‖ 22 bytes ‖ 80 00: Lc 20.
        let crypt = psam_tac::des_crypt_data(&[0xAB; 22]);
        assert_eq!(crypt.len(), 0x20);
        assert_eq!(&crypt[..8], &[0; 8]);
        assert_eq!(&crypt[8..30], &[0xAB; 22]);
        assert_eq!(&crypt[30..], &[0x80, 0x00]);
        // An aligned input still gets a whole padding block.
        assert_eq!(psam_tac::des_crypt_data(&[1; 8]).len(), 8 + 16);
    }

    #[test]
    fn psam_tac_mac_lengths() {
        assert_eq!(psam_tac::parse_mac(&[1, 2, 3, 4]), Some([1, 2, 3, 4]));
        assert_eq!(
            psam_tac::parse_mac(&[1, 2, 3, 4, 5, 6, 7, 8]),
            Some([1, 2, 3, 4])
        );
        for len in [0, 3, 5, 7, 9, 16] {
            assert_eq!(psam_tac::parse_mac(&vec![0; len]), None, "{len} bytes");
        }
    }
}
