//! A simulated PSAM (the terminal's purchase security module) for PBOC ED/EP purchases
//! (pboc-notes §4.3).
//!
//! | Command | APDU | Answer |
//! |---|---|---|
//! | READ BINARY EF16 | `00 B0 96 00 06` | terminal number (6) |
//! | READ BINARY EF17 | `00 B0 97 00 01` | purchase key index (1) ⚠ (EF17 contents vary, §7 item 5) |
//! | INIT SAM FOR PURCHASE | `80 70 00 00 1C\|24 …` | terminal transaction serial (4) ‖ MAC1 (4) |
//! | CREDIT SAM FOR PURCHASE | `80 72 00 00 04 MAC2` | `9000`, or `9302` for a wrong MAC2 |
//! | DES INIT | `80 1A 44 <key version> 08\|10` serial 8 ‖ [second diversifier 8] | `9000`; `6A88` no TAC key for that version |
//! | DES CRYPT | `80 FA 05 00 Lc` IV 8 ‖ data padded `80 00…` | MAC (4) |
//!
//! INIT SAM FOR PURCHASE data (§4.3 step 5): card random 4 ‖ card offline ATC 2 ‖ amount 4 ‖
//! type 1 ‖ date 4 ‖ time 3 ‖ key version 1 ‖ algorithm id 1 ‖ card application serial 8 ‖
//! optional second diversifier 8. The PSAM picks its purchase master key by the card's key
//! version, derives the card's DPK with [`card_key`] (⚠ the same
//! diversification the simulated card is personalised with; one level without the second
//! diversifier, two levels with it), then the session key and MAC1 with
//! `quickpass_crypto::purse`. It returns its terminal transaction serial and increments it.
//!
//! CREDIT SAM FOR PURCHASE checks MAC2 against the *pending* session only: after it answers
//! (right or wrong) the session is gone, so a MAC2 replayed from an earlier transaction is
//! refused (`6985` with no session, `9302` against a newer one). ⚠ Real PSAMs may allow a
//! retry after a wrong MAC2; this one allows none. A reset or re-selection also drops it.
//!
//! DES INIT / DES CRYPT check a TAC locally (pboc-notes §4.3 step 8, every byte ⚠ and kept in
//! `quickpass_kernel::purse::layout::psam_tac`): DES INIT picks the TAC master key by the card
//! key version in P2 and diversifies it with the factors in its data exactly as the card was
//! personalised ([`card_key`]), giving the card's DTK; DES CRYPT then computes the PBOC MAC
//! under DTK_left ⊕ DTK_right (`quickpass_crypto::purse::tac_key` and `purse_mac`, the two
//! halves of the `purchase_tac` the card uses) over the data after the initial value, with the
//! terminal's `80 00…` padding removed. ⚠ Only the zero initial value is simulated (`6A80`
//! otherwise), and one DES CRYPT ends the DES session: DES CRYPT without a DES INIT before it
//! answers `6985`. A reset or re-selection drops the DES session too.
//!
//! Keys are kept as zeroizing [`SecretKey`]s and never shown by `Debug`.

use quickpass_crypto::purse as crypto;
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::tags;
use quickpass_kernel::tlv;
use quickpass_kernel::values::{PurseAmount, StatusWord};
use serde::Deserialize;

use super::apdu::{CommandApdu, Reply};
use super::card::Application;
use super::profile::ProfileError;
use super::purse::keys::card_key;
use super::purse::profile::KeyHex;
use crate::UpperHex;
use serde_with::As;

/// SFI of EF16, the terminal number.
pub const SFI_TERMINAL_ID: u8 = 0x16;
/// SFI of EF17, the key index (⚠ here one byte: the purchase key index to send the card).
pub const SFI_KEY_INDEX: u8 = 0x17;

/// One purchase key of the PSAM, chosen by the key version the card returns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsamKeyProfile {
    /// Card key version this key serves.
    pub version: u8,
    /// Algorithm id; only `0` (3DES) is implemented.
    #[serde(default)]
    pub algorithm_id: u8,
    /// Purchase master key (MPK), 16 bytes hex.
    pub purchase: KeyHex,
    /// TAC master key, 16 bytes hex, for DES INIT / DES CRYPT and
    /// [`PsamApplication::verify_purchase_tac`]; without it DES INIT answers `6A88`.
    #[serde(default)]
    pub tac: Option<KeyHex>,
    /// Whether the card key is diversified from `purchase` (default) or is `purchase` itself
    /// (`false`: only to replay published vectors, whose keys are card keys).
    #[serde(default = "yes")]
    pub diversify: bool,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// Profile of a PSAM application (`"type": "psam"`); see `vectors/cards/purse.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsamProfile {
    /// DF name (AID), hex; optional.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub df_name: Option<Vec<u8>>,
    /// File identifier of the application DF, hex: `8011` (T-Union / MOT), `1001` (MoHURD),
    /// `DF01` (ETC).
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub file_id: Option<[u8; 2]>,
    /// Terminal number (EF16), 6 bytes hex.
    #[serde(with = "As::<UpperHex>")]
    pub terminal_id: [u8; 6],
    /// Purchase key index (EF17), sent by the terminal in INITIALIZE FOR PURCHASE.
    pub key_index: u8,
    /// The next terminal transaction serial; default 1.
    #[serde(default = "one")]
    pub next_serial: u32,
    /// Purchase keys by card key version.
    pub keys: Vec<PsamKeyProfile>,
}

#[derive(Debug)]
struct PsamKey {
    version: u8,
    algorithm_id: u8,
    purchase: SecretKey,
    tac: Option<SecretKey>,
    diversify: bool,
}

/// The purchase waiting for its MAC2.
#[derive(Debug)]
struct Pending {
    session_key: SecretKey,
    amount: PurseAmount,
}

/// Why [`PsamApplication::verify_purchase_tac`] did not confirm a TAC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TacError {
    /// The PSAM holds no TAC key for that key version.
    #[error("no TAC key for key version {0}")]
    NoKey(u8),
    /// The TAC does not match.
    #[error("TAC does not match")]
    Mismatch,
}

/// A simulated PSAM application; see the [module docs](self).
#[derive(Debug)]
pub struct PsamApplication {
    df_name: Vec<u8>,
    file_id: Option<[u8; 2]>,
    terminal_id: [u8; 6],
    key_index: u8,
    next_serial: u32,
    keys: Vec<PsamKey>,
    pending: Option<Pending>,
    /// The single-DES TAC key DES INIT set up for the next DES CRYPT.
    des_session: Option<SecretKey>,
}

/// DES CRYPT P1: MAC with an initial value, last block (⚠ pboc-notes §4.3 step 8).
const DES_CRYPT_MAC: u8 = 0x05;
/// DES INIT P1: the TAC key (⚠ pboc-notes §4.3 step 8).
const DES_INIT_TAC_KEY: u8 = 0x44;

impl PsamApplication {
    /// Personalises the PSAM from its profile. `field` names the profile entry in errors.
    pub fn personalise(profile: &PsamProfile, field: &str) -> Result<Self, ProfileError> {
        let f = |name: &str| format!("{field}.{name}");
        let df_name = profile.df_name.clone().unwrap_or_default();
        let file_id = profile.file_id;
        if df_name.is_empty() && file_id.is_none() {
            return Err(ProfileError::invalid(
                f("file_id"),
                "give file_id or df_name",
            ));
        }
        let mut keys: Vec<PsamKey> = Vec::with_capacity(profile.keys.len());
        for (i, key) in profile.keys.iter().enumerate() {
            let kf = |name: &str| format!("{field}.keys[{i}].{name}");
            if key.algorithm_id != 0 {
                return Err(ProfileError::invalid(kf("algorithm_id"), "only 0 (3DES)"));
            }
            if keys.iter().any(|k| k.version == key.version) {
                return Err(ProfileError::invalid(
                    kf("version"),
                    "duplicate key version",
                ));
            }
            keys.push(PsamKey {
                version: key.version,
                algorithm_id: key.algorithm_id,
                purchase: key.purchase.decode16(&kf("purchase"))?,
                tac: key
                    .tac
                    .as_ref()
                    .map(|k| k.decode16(&kf("tac")))
                    .transpose()?,
                diversify: key.diversify,
            });
        }
        Ok(PsamApplication {
            df_name,
            file_id,
            terminal_id: profile.terminal_id,
            key_index: profile.key_index,
            next_serial: profile.next_serial,
            keys,
            pending: None,
            des_session: None,
        })
    }

    /// The terminal number (EF16).
    pub fn terminal_id(&self) -> [u8; 6] {
        self.terminal_id
    }

    /// The serial the next INIT SAM FOR PURCHASE will return.
    pub fn next_serial(&self) -> u32 {
        self.next_serial
    }

    /// Whether a purchase waits for its MAC2.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Checks a purchase TAC with the PSAM's TAC master key — what a terminal does with DES INIT
    /// / DES CRYPT (`80 1A`, `80 FA`, see the [module docs](self)), as a Rust call.
    /// `serial` and `second` identify the card as in INIT SAM FOR PURCHASE.
    pub fn verify_purchase_tac(
        &self,
        key_version: u8,
        serial: &[u8; 8],
        second: Option<&[u8; 8]>,
        data: &crypto::PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<(), TacError> {
        let dtk = self.card_tac_key(key_version, serial, second)?;
        match crypto::purchase_tac(&dtk, data) {
            Ok(expected) if expected == *tac => Ok(()),
            _ => Err(TacError::Mismatch),
        }
    }

    /// The card's TAC key DTK (16 bytes): the TAC master of `key_version`, diversified with the
    /// card's factors as the card was personalised.
    fn card_tac_key(
        &self,
        key_version: u8,
        serial: &[u8; 8],
        second: Option<&[u8; 8]>,
    ) -> Result<SecretKey, TacError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.version == key_version)
            .ok_or(TacError::NoKey(key_version))?;
        let master = key.tac.as_ref().ok_or(TacError::NoKey(key_version))?;
        if key.diversify {
            card_key(master, serial, second).map_err(|_| TacError::NoKey(key_version))
        } else {
            Ok(master.clone())
        }
    }

    /// DES INIT (`80 1A 44 <key version>`, data serial 8 ‖ [second diversifier 8]).
    fn des_init(&mut self, command: &CommandApdu<'_>) -> Reply {
        self.des_session = None;
        if command.p1 != DES_INIT_TAC_KEY {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let data = command.data;
        let (serial, second) = match data.len() {
            8 | 16 => (
                <[u8; 8]>::try_from(&data[..8]).ok(),
                <[u8; 8]>::try_from(&data[8..]).ok(),
            ),
            _ => return Reply::status(StatusWord::WRONG_LENGTH),
        };
        let Some(serial) = serial else {
            return Reply::status(StatusWord::WRONG_LENGTH);
        };
        let dtk = match self.card_tac_key(command.p2, &serial, second.as_ref()) {
            Ok(dtk) => dtk,
            Err(_) => return Reply::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        match crypto::tac_key(&dtk) {
            Ok(key) => {
                self.des_session = Some(key);
                Reply::status(StatusWord::OK)
            }
            Err(_) => Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    /// DES CRYPT (`80 FA 05 00`, data IV 8 ‖ message padded `80 00…`): the 4-byte MAC.
    fn des_crypt(&mut self, command: &CommandApdu<'_>) -> Reply {
        let Some(key) = self.des_session.take() else {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if command.p1 != DES_CRYPT_MAC || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let data = command.data;
        if data.len() < 16 || data.len() % 8 != 0 {
            return Reply::status(StatusWord::WRONG_LENGTH);
        }
        let (iv, padded) = data.split_at(8);
        let Some(message) = strip_method2(padded).filter(|_| iv == [0; 8]) else {
            return Reply::status(StatusWord::INCORRECT_DATA);
        };
        match crypto::purse_mac(&key, message) {
            Ok(mac) => Reply::ok(mac),
            Err(_) => Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }

    fn read_binary(&self, command: &CommandApdu<'_>) -> Reply {
        let key_index = [self.key_index];
        let file: &[u8] = match command.p1 {
            p1 if p1 == 0x80 | SFI_TERMINAL_ID => &self.terminal_id,
            p1 if p1 == 0x80 | SFI_KEY_INDEX => &key_index,
            p1 if p1 & 0x80 == 0 => return Reply::status(StatusWord::COMMAND_NOT_ALLOWED),
            _ => return Reply::status(StatusWord::FILE_NOT_FOUND),
        };
        let offset = usize::from(command.p2);
        if offset >= file.len() {
            return Reply::status(StatusWord::WRONG_P1_P2);
        }
        let rest = &file[offset..];
        match command.le {
            None | Some(256) => Reply::ok(rest),
            Some(le) if le <= rest.len() => Reply::ok(&rest[..le]),
            Some(_) => Reply::status(StatusWord(0x6C00 | rest.len() as u16)),
        }
    }

    fn init_for_purchase(&mut self, command: &CommandApdu<'_>) -> Reply {
        self.pending = None;
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let data = command.data;
        let second: Option<[u8; 8]> = match data.len() {
            0x1C => None,
            0x24 => data[28..36].try_into().ok(),
            _ => return Reply::status(StatusWord::WRONG_LENGTH),
        };
        let take = |range: core::ops::Range<usize>| &data[range];
        let mut random = [0u8; 4];
        random.copy_from_slice(take(0..4));
        let counter = u16::from_be_bytes([data[4], data[5]]);
        let amount = PurseAmount::from_be_bytes([data[6], data[7], data[8], data[9]]);
        let transaction_type = data[10];
        let mut date = [0u8; 4];
        date.copy_from_slice(take(11..15));
        let mut time = [0u8; 3];
        time.copy_from_slice(take(15..18));
        let (key_version, algorithm_id) = (data[18], data[19]);
        let mut serial = [0u8; 8];
        serial.copy_from_slice(take(20..28));

        let Some(key) = self
            .keys
            .iter()
            .find(|k| k.version == key_version && k.algorithm_id == algorithm_id)
        else {
            // ⚠ no source names the PSAM's status word for an unknown key version.
            return Reply::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let dpk = if key.diversify {
            match card_key(&key.purchase, &serial, second.as_ref()) {
                Ok(dpk) => dpk,
                Err(_) => return Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS),
            }
        } else {
            key.purchase.clone()
        };
        let terminal_serial = self.next_serial;
        let macs =
            crypto::purchase_session_key(&dpk, random, counter, terminal_serial).and_then(|sk| {
                let mac1 = crypto::purchase_mac1(
                    &sk,
                    &crypto::PurchaseMacData {
                        amount: amount.fen(),
                        transaction_type,
                        terminal_id: self.terminal_id,
                        date,
                        time,
                    },
                )?;
                Ok((sk, mac1))
            });
        let Ok((session_key, mac1)) = macs else {
            return Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS);
        };
        self.pending = Some(Pending {
            session_key,
            amount,
        });
        self.next_serial = self.next_serial.wrapping_add(1);
        let mut out = Vec::with_capacity(8);
        out.extend_from_slice(&terminal_serial.to_be_bytes());
        out.extend_from_slice(&mac1);
        Reply::ok(out)
    }

    fn credit_for_purchase(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let Some(pending) = self.pending.take() else {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if command.data.len() != 4 {
            return Reply::status(StatusWord::WRONG_LENGTH);
        }
        match crypto::purchase_mac2(&pending.session_key, pending.amount.fen()) {
            Ok(mac2) if mac2[..] == *command.data => Reply::status(StatusWord::OK),
            Ok(_) => Reply::status(StatusWord::MAC_INVALID),
            Err(_) => Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS),
        }
    }
}

impl Application for PsamApplication {
    fn df_name(&self) -> &[u8] {
        &self.df_name
    }

    fn file_id(&self) -> Option<[u8; 2]> {
        self.file_id
    }

    fn directory_entry(&self) -> Option<Vec<u8>> {
        None
    }

    fn in_ppse(&self) -> bool {
        false
    }

    fn in_pse(&self) -> bool {
        false
    }

    fn select(&mut self) -> Reply {
        self.pending = None;
        self.des_session = None;
        let mut body = tlv::encoded(tags::DF_NAME, &self.df_name);
        body.extend(tlv::encoded(tags::FCI_PROPRIETARY_TEMPLATE, &[]));
        Reply::ok(tlv::encoded(tags::FCI_TEMPLATE, &body))
    }

    fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
        match (command.cla, command.ins) {
            (0x00, 0xB0) => self.read_binary(command),
            (0x80, 0x70) => self.init_for_purchase(command),
            (0x80, 0x72) => self.credit_for_purchase(command),
            (0x80, 0x1A) => self.des_init(command),
            (0x80, 0xFA) => self.des_crypt(command),
            (0x00 | 0x80, _) => Reply::status(StatusWord::INS_NOT_SUPPORTED),
            _ => Reply::status(StatusWord::CLA_NOT_SUPPORTED),
        }
    }

    fn reset(&mut self) {
        self.pending = None;
        self.des_session = None;
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The message inside ISO/IEC 9797-1 method 2 padding (`80` then `00`s up to the block); `None`
/// when the padding is not there.
fn strip_method2(padded: &[u8]) -> Option<&[u8]> {
    let end = padded.iter().rposition(|&b| b != 0)?;
    (padded[end] == 0x80 && padded.len() - end <= 8).then(|| &padded[..end])
}
