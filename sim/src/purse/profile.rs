//! The `purse` application profile (`vectors/cards/purse.md` documents every field).

use core::fmt;

use quickpass_kernel::values::PurseAmount;
use serde::Deserialize;
use serde_with::As;

use crate::profile::ProfileError;
use crate::UpperHex;

/// Hex text of a secret key in a profile: never shown by `Debug`, wiped when dropped.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct KeyHex(String);

impl KeyHex {
    /// Decodes the key; it must be 16 bytes (a 2-key 3DES key).
    pub(crate) fn decode16(
        &self,
        field: &str,
    ) -> Result<quickpass_crypto::secret::SecretKey, ProfileError> {
        let mut bytes = hex::decode(&self.0)
            .map_err(|e| ProfileError::invalid(field, format!("not hex: {e}")))?;
        let key = quickpass_crypto::secret::SecretKey::new(&bytes);
        let len = bytes.len();
        super::keys::wipe(&mut bytes);
        if len != 16 {
            return Err(ProfileError::invalid(
                field,
                format!("key must be 16 bytes, got {len}"),
            ));
        }
        Ok(key)
    }
}

impl From<&str> for KeyHex {
    fn from(text: &str) -> Self {
        KeyHex(text.to_owned())
    }
}

impl fmt::Debug for KeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHex(..)")
    }
}

impl Drop for KeyHex {
    fn drop(&mut self) {
        let mut bytes = core::mem::take(&mut self.0).into_bytes();
        super::keys::wipe(&mut bytes);
    }
}

/// How the card's keys come from the keys in its profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDerivation {
    /// The profile keys are the card's own keys (used to replay the published vectors).
    None,
    /// Card key = diversify(master, application serial) ⚠ ([`super::keys`]).
    Serial,
    /// Card key = diversify(diversify(master, second diversifier), application serial) ⚠; the
    /// terminal then sends the second diversifier in INIT SAM FOR PURCHASE (Lc `24`).
    TwoLevel,
}

/// One key set of the card, chosen by the key index of the INITIALIZE commands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurseKeyProfile {
    /// Key index (the first data byte of INITIALIZE FOR PURCHASE / LOAD).
    pub index: u8,
    /// Key version, returned by INITIALIZE and sent to the PSAM.
    pub version: u8,
    /// Algorithm id returned by INITIALIZE; only `0` (3DES) is implemented (⚠ pboc-notes §7
    /// item 6).
    #[serde(default)]
    pub algorithm_id: u8,
    /// Purchase key (DPK, or the issuer master key it is derived from), 16 bytes hex.
    #[serde(default)]
    pub purchase: Option<KeyHex>,
    /// Load key (DLK, or its master), 16 bytes hex.
    #[serde(default)]
    pub load: Option<KeyHex>,
    /// TAC key (DTK, or its master), 16 bytes hex.
    pub tac: KeyHex,
}

/// EF15 (public application information), by layout. `Debug` shows the layout and the card
/// serial masked as the kernel masks card numbers (first 4, last 4 digits), nothing else.
#[derive(Clone, Deserialize)]
#[serde(tag = "layout", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Ef15Profile {
    /// China T-Union, 30 bytes (pboc-notes §4.7).
    TUnion {
        /// Issuer code, 8 bytes hex (city code at bytes 2–3).
        #[serde(with = "As::<UpperHex>")]
        issuer_code: [u8; 8],
        /// Application type, 1 byte hex.
        #[serde(with = "As::<UpperHex>")]
        application_type: [u8; 1],
        /// Application version, 1 byte hex.
        #[serde(with = "As::<UpperHex>")]
        application_version: [u8; 1],
        /// Application serial number, 10 bytes BCD hex; its rightmost 8 bytes are the serial
        /// the keys are diversified with.
        #[serde(with = "As::<UpperHex>")]
        serial: [u8; 10],
        /// Start date `YYYYMMDD`, 4 bytes BCD hex.
        #[serde(with = "As::<UpperHex>")]
        start_date: [u8; 4],
        /// Expiry date `YYYYMMDD`, 4 bytes BCD hex.
        #[serde(with = "As::<UpperHex>")]
        expiry_date: [u8; 4],
        /// Issuer custom FCI data, 2 bytes hex; default `0000`.
        #[serde(default, with = "As::<Option<UpperHex>>")]
        custom: Option<[u8; 2]>,
    },
    /// ETC user card, 43 bytes (pboc-notes §4.8).
    Etc {
        /// Issuer, 8 bytes hex (the 4-byte issuer code twice in the samples).
        #[serde(with = "As::<UpperHex>")]
        issuer: [u8; 8],
        /// Card type, 1 byte hex (`16` stored value, `17` account).
        #[serde(with = "As::<UpperHex>")]
        card_type: [u8; 1],
        /// Version, 1 byte hex.
        #[serde(with = "As::<UpperHex>")]
        version: [u8; 1],
        /// Network id, 2 bytes hex.
        #[serde(with = "As::<UpperHex>")]
        network_id: [u8; 2],
        /// Card serial, 8 bytes hex (the diversification serial).
        #[serde(with = "As::<UpperHex>")]
        serial: [u8; 8],
        /// Start date `YYYYMMDD`, 4 bytes BCD hex.
        #[serde(with = "As::<UpperHex>")]
        start_date: [u8; 4],
        /// Expiry date `YYYYMMDD`, 4 bytes BCD hex.
        #[serde(with = "As::<UpperHex>")]
        expiry_date: [u8; 4],
        /// Plate number, up to 12 bytes hex (GBK text), padded with `00`.
        #[serde(with = "As::<UpperHex>")]
        plate: Vec<u8>,
        /// User type, 1 byte hex.
        #[serde(with = "As::<UpperHex>")]
        user_type: [u8; 1],
        /// Bytes 41–42, 2 bytes hex; default `0000`.
        #[serde(default, with = "As::<Option<UpperHex>>")]
        reserved: Option<[u8; 2]>,
    },
    /// Any bytes (at least 20: the serial is bytes 12–19).
    Raw {
        /// The file, hex.
        #[serde(with = "As::<UpperHex>")]
        data: Vec<u8>,
    },
}

impl std::fmt::Debug for Ef15Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |serial: &[u8]| {
            let serial = hex::encode_upper(serial);
            match serial.len() {
                n if n > 8 => format!("{}{}{}", &serial[..4], "*".repeat(n - 8), &serial[n - 4..]),
                n => "*".repeat(n),
            }
        };
        match self {
            Ef15Profile::TUnion { serial, .. } => f
                .debug_struct("TUnion")
                .field("serial", &masked(serial))
                .finish_non_exhaustive(),
            Ef15Profile::Etc { serial, .. } => f
                .debug_struct("Etc")
                .field("serial", &masked(serial))
                .finish_non_exhaustive(),
            Ef15Profile::Raw { data } => f
                .debug_struct("Raw")
                .field("bytes", &data.len())
                .finish_non_exhaustive(),
        }
    }
}

/// A transparent file other than EF15 (EF16 cardholder information, EF17 management, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryFileProfile {
    /// Short file identifier, 1–30.
    pub sfi: u8,
    /// Contents, hex.
    #[serde(with = "As::<UpperHex>")]
    pub data: Vec<u8>,
}

/// The CAPP record file (T-Union EF1A, ETC EF19).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CappProfile {
    /// Short file identifier (26 = EF1A, 25 = EF19).
    pub sfi: u8,
    /// The records, in record-number order.
    pub records: Vec<CappRecordProfile>,
}

/// One CAPP record: `id ‖ length ‖ lock ‖ …` (⚠ pboc-notes §4.7/§4.8, §7 item 10).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CappRecordProfile {
    /// Record identifier, 1 byte hex (the P1 of UPDATE CAPP DATA CACHE).
    #[serde(with = "As::<UpperHex>")]
    pub id: [u8; 1],
    /// Record size in bytes, header included (3 to 255).
    pub size: usize,
    /// Initial contents, hex, exactly `size` bytes starting with `id`; default
    /// `id ‖ size−2 ‖ 00 …`.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub data: Option<Vec<u8>>,
}

/// Profile of an ED/EP purse application (`"type": "purse"`; `vectors/cards/purse.md`): the
/// [`PurseFields`], boxed so the profile enum stays small. Derefs to the fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct PurseProfile(Box<PurseFields>);

impl PurseProfile {
    /// Wraps the fields.
    pub fn new(fields: PurseFields) -> Self {
        PurseProfile(Box::new(fields))
    }
}

impl core::ops::Deref for PurseProfile {
    type Target = PurseFields;
    fn deref(&self) -> &PurseFields {
        &self.0
    }
}

/// The fields of a [`PurseProfile`]; see `vectors/cards/purse.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurseFields {
    /// DF name (AID), hex, e.g. `A000000632010105`.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub df_name: Option<Vec<u8>>,
    /// DF name as ASCII text, e.g. `PAY.SZT` (instead of `df_name`).
    #[serde(default)]
    pub df_name_text: Option<String>,
    /// File identifier the ADF can be selected by, 2 bytes hex (`1001`).
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub file_id: Option<[u8; 2]>,
    /// Application label (`50`) in the FCI and the directory entry.
    #[serde(default)]
    pub label: Option<String>,
    /// Listed in the PPSE.
    #[serde(default)]
    pub ppse: bool,
    /// Listed in the PSE.
    #[serde(default)]
    pub pse: bool,
    /// `9F08` application version in the FCI, hex; omitted when absent.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub fci_version: Option<Vec<u8>>,
    /// Whether the FCI carries a copy of EF15 in `9F0C` (T-Union, pboc-notes §4.7).
    #[serde(default)]
    pub fci_ef15: bool,
    /// EF15 public application information.
    pub ef15: Ef15Profile,
    /// Other transparent files.
    #[serde(default)]
    pub binary_files: Vec<BinaryFileProfile>,
    /// Electronic purse balance, fen.
    pub ep_balance: PurseAmount,
    /// Electronic deposit balance, fen; absent = the card has no ED.
    #[serde(default)]
    pub ed_balance: Option<PurseAmount>,
    /// Overdraft limit, fen (3 bytes); reported, never used (⚠ no overdraft simulated).
    #[serde(default)]
    pub overdraft_limit: PurseAmount,
    /// Largest balance a load may reach, fen; default 4 294 967 295.
    #[serde(default)]
    pub max_balance: Option<PurseAmount>,
    /// Offline transaction counter (purchases so far).
    #[serde(default)]
    pub offline_counter: u16,
    /// Online transaction counter (loads so far).
    #[serde(default)]
    pub online_counter: u16,
    /// How the card keys come from `keys`.
    pub key_derivation: KeyDerivation,
    /// Second diversifier for `two-level`, 8 bytes hex; default the first 8 bytes of EF15.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub second_diversifier: Option<[u8; 8]>,
    /// Key sets by key index.
    pub keys: Vec<PurseKeyProfile>,
    /// EF18 log capacity in records; default 10.
    #[serde(default = "default_log_records")]
    pub log_records: usize,
    /// EF1E travel record capacity; 0 (default) = no EF1E.
    #[serde(default)]
    pub travel_records: usize,
    /// The CAPP record file, if the card does composite purchases.
    #[serde(default)]
    pub capp: Option<CappProfile>,
    /// First pseudo-random number, 4 bytes hex; default `A5A5A5A5`.
    #[serde(default, with = "As::<Option<UpperHex>>")]
    pub random_seed: Option<[u8; 4]>,
    /// The application is blocked (SELECT answers `6283`, transactions `9303`).
    #[serde(default)]
    pub blocked: bool,
}

fn default_log_records() -> usize {
    10
}

impl Ef15Profile {
    /// The file bytes.
    pub(crate) fn build(&self, field: &str) -> Result<Vec<u8>, ProfileError> {
        let f = |name: &str| format!("{field}.{name}");
        let mut out = Vec::new();
        match self {
            Ef15Profile::TUnion {
                issuer_code,
                application_type,
                application_version,
                serial,
                start_date,
                expiry_date,
                custom,
            } => {
                out.extend_from_slice(issuer_code);
                out.extend_from_slice(application_type);
                out.extend_from_slice(application_version);
                out.extend_from_slice(serial);
                out.extend_from_slice(start_date);
                out.extend_from_slice(expiry_date);
                out.extend_from_slice(&custom.unwrap_or([0; 2]));
            }
            Ef15Profile::Etc {
                issuer,
                card_type,
                version,
                network_id,
                serial,
                start_date,
                expiry_date,
                plate,
                user_type,
                reserved,
            } => {
                out.extend_from_slice(issuer);
                out.extend_from_slice(card_type);
                out.extend_from_slice(version);
                out.extend_from_slice(network_id);
                out.extend_from_slice(serial);
                out.extend_from_slice(start_date);
                out.extend_from_slice(expiry_date);
                let mut plate = plate.clone();
                if plate.len() > 12 {
                    return Err(ProfileError::invalid(f("plate"), "at most 12 bytes"));
                }
                plate.resize(12, 0);
                out.extend_from_slice(&plate);
                out.extend_from_slice(user_type);
                out.extend_from_slice(&reserved.unwrap_or([0; 2]));
            }
            Ef15Profile::Raw { data } => {
                out.clone_from(data);
                if out.len() < 20 || out.len() > 255 {
                    return Err(ProfileError::invalid(f("data"), "must be 20 to 255 bytes"));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_their_lengths() {
        let t_union: Ef15Profile = serde_json::from_str(
            r#"{"layout": "t-union", "issuer_code": "01011000FFFFFFFF", "application_type": "02",
                "application_version": "01", "serial": "31000000000012345678",
                "start_date": "20240101", "expiry_date": "20340101"}"#,
        )
        .unwrap();
        let ef15 = t_union.build("ef15").unwrap();
        assert_eq!(ef15.len(), 30);
        assert_eq!(&ef15[12..20], &hex::decode("0000000012345678").unwrap()[..]);
        let etc: Ef15Profile = serde_json::from_str(
            r#"{"layout": "etc", "issuer": "B9E3B6AB01440001", "card_type": "16", "version": "40",
                "network_id": "4401", "serial": "2301000012345678", "start_date": "20240101",
                "expiry_date": "20340101", "plate": "D4C142313233343500", "user_type": "00"}"#,
        )
        .unwrap();
        assert_eq!(etc.build("ef15").unwrap().len(), 43);
        let typo =
            serde_json::from_str::<Ef15Profile>(r#"{"layout": "raw", "data": "00", "x": 1}"#);
        assert!(typo.is_err());
        let short: Ef15Profile =
            serde_json::from_str(r#"{"layout": "raw", "data": "00"}"#).unwrap();
        assert!(short.build("ef15").is_err());
    }

    #[test]
    fn hex_fields_are_checked_when_read() {
        let t_union = |serial: &str| {
            serde_json::from_str::<Ef15Profile>(&format!(
                r#"{{"layout": "t-union", "issuer_code": "01011000ffffffff",
                    "application_type": "02", "application_version": "01", "serial": "{serial}",
                    "start_date": "20240101", "expiry_date": "20340101", "custom": "0A0b"}}"#
            ))
        };
        // Either case is read; the bytes are what the hex says.
        let ef15 = t_union("31000000000012345678")
            .unwrap()
            .build("ef15")
            .unwrap();
        assert_eq!(&ef15[..8], &[1, 1, 0x10, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(&ef15[28..], &[0x0A, 0x0B]);
        // A field of the wrong length or not hex is refused while parsing.
        assert!(t_union("310000000000123456").is_err());
        assert!(t_union("3100000000001234567G").is_err());
        let record: CappRecordProfile =
            serde_json::from_str(r#"{"id": "02", "size": 4, "data": "02020000"}"#).unwrap();
        assert_eq!((record.id, record.data), ([2], Some(vec![2, 2, 0, 0])));
        assert!(serde_json::from_str::<CappRecordProfile>(r#"{"id": "0202", "size": 4}"#).is_err());
    }

    #[test]
    fn key_hex_is_hidden() {
        let key = KeyHex::from("11223344556677888877665544332211");
        assert_eq!(format!("{key:?}"), "KeyHex(..)");
        assert!(key.decode16("k").is_ok());
        assert!(KeyHex::from("1122").decode16("k").is_err());
    }
}
