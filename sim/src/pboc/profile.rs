//! The `pboc` application profile (JSON, `vectors/cards/pboc.md` documents every field).
//!
//! Everything has a default except `aid`, `pan` and `issuer_master_key`, so a profile states
//! only what makes its card different. Unknown fields are errors.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::Deserialize;

/// A UnionPay debit / credit / electronic cash application (qPBOC and contact PBOC): the
/// [`PbocFields`], boxed so the profile enum stays small. Derefs to the fields.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct PbocProfile(Box<PbocFields>);

impl Deref for PbocProfile {
    type Target = PbocFields;
    fn deref(&self) -> &PbocFields {
        &self.0
    }
}

impl DerefMut for PbocProfile {
    fn deref_mut(&mut self) -> &mut PbocFields {
        &mut self.0
    }
}

impl From<PbocFields> for PbocProfile {
    fn from(fields: PbocFields) -> Self {
        PbocProfile(Box::new(fields))
    }
}

impl fmt::Debug for PbocProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The fields of a `pboc` application profile (`vectors/cards/pboc.md`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbocFields {
    /// AID / DF name, hex (`A000000333010101`).
    pub aid: String,
    /// Application label `50`.
    #[serde(default = "default_label")]
    pub label: String,
    /// Application preferred name `9F12` (with issuer code table index `9F11` = 01).
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// Application priority indicator `87`.
    #[serde(default = "one")]
    pub priority: u8,
    /// Kernel identifier `9F2A` in the directory entry, hex; absent by default (the real
    /// UnionPay trace has none).
    #[serde(default)]
    pub kernel_id: Option<String>,
    /// Listed in the PPSE.
    #[serde(default = "yes")]
    pub contactless: bool,
    /// Listed in the PSE.
    #[serde(default = "yes")]
    pub contact: bool,
    /// Language preference `5F2D` (ASCII).
    #[serde(default = "default_language")]
    pub language: String,
    /// PAN digits (`5A`).
    pub pan: String,
    /// PAN sequence number `5F34`, hex (one BCD byte).
    #[serde(default = "default_psn")]
    pub psn: String,
    /// Application expiration date `5F24`, yymmdd.
    #[serde(default = "default_expiry")]
    pub expiry: String,
    /// Application effective date `5F25`, yymmdd.
    #[serde(default = "default_effective")]
    pub effective: String,
    /// Service code (3 digits), in track 2 and `5F30`.
    #[serde(default = "default_service_code")]
    pub service_code: String,
    /// Track 2 discretionary data (digits) after the service code.
    #[serde(default = "default_track2_discretionary")]
    pub track2_discretionary: String,
    /// Cardholder name `5F20`.
    #[serde(default = "default_cardholder_name")]
    pub cardholder_name: String,
    /// Issuer country code `5F28` (3 digits).
    #[serde(default = "default_country")]
    pub issuer_country: String,
    /// Application currency code `9F42` / EC currency `9F51` (3 digits).
    #[serde(default = "default_country")]
    pub currency: String,
    /// Application interchange profile `82`, hex.
    #[serde(default = "default_aip")]
    pub aip: String,
    /// What the card does on a contactless GPO.
    #[serde(default)]
    pub contactless_path: ContactlessPath,
    /// Records (AFL layout); a default layout when absent.
    #[serde(default)]
    pub records: Option<Vec<RecordProfile>>,
    /// PDOL `9F38`, hex; default the real UnionPay PDOL (+ `9F7A01` with EC, `DF6901` with SM2).
    #[serde(default)]
    pub pdol: Option<String>,
    /// CDOL1 `8C`, hex.
    #[serde(default = "default_cdol1")]
    pub cdol1: String,
    /// CDOL2 `8D`, hex.
    #[serde(default = "default_cdol2")]
    pub cdol2: String,
    /// DDOL `9F49`, hex.
    #[serde(default = "default_ddol")]
    pub ddol: String,
    /// CVM list `8E`, hex.
    #[serde(default = "default_cvm_list")]
    pub cvm_list: String,
    /// Issuer action code default `9F0D`, hex.
    #[serde(default = "default_iac_default")]
    pub iac_default: String,
    /// Issuer action code denial `9F0E`, hex.
    #[serde(default = "default_iac_denial")]
    pub iac_denial: String,
    /// Issuer action code online `9F0F`, hex.
    #[serde(default = "default_iac_online")]
    pub iac_online: String,
    /// Application version number `9F08`, hex.
    #[serde(default = "default_version")]
    pub application_version: String,
    /// Application usage control `9F07`, hex.
    #[serde(default = "default_auc")]
    pub auc: String,
    /// Card transaction qualifiers `9F6C`, hex.
    #[serde(default = "default_ctq")]
    pub ctq: String,
    /// Card additional processes the simulator implements.
    #[serde(default)]
    pub cap: CapProfile,
    /// The electronic cash sub-account; none when absent.
    #[serde(default)]
    pub ec: Option<EcProfile>,
    /// Offline data authentication keys and certificates.
    #[serde(default)]
    pub oda: OdaProfile,
    /// Issuer master key for application cryptograms (IMK-AC), hex, 16 bytes; wiped on drop,
    /// never shown by `Debug`.
    pub issuer_master_key: Secret,
    /// Issuer master key for secure messaging integrity (IMK-SMI), hex; default the IMK-AC.
    #[serde(default)]
    pub issuer_smi_key: Option<Secret>,
    /// Derivation key index (IAD byte 2), hex.
    #[serde(default = "default_dki")]
    pub dki: String,
    /// Application transaction counter at personalisation.
    #[serde(default)]
    pub atc: u16,
    /// Last online ATC register `9F13`.
    #[serde(default)]
    pub last_online_atc: u16,
    /// Offline PIN (digits, 4–12); wiped on drop, never shown by `Debug`.
    #[serde(default = "default_pin")]
    pub pin: Secret,
    /// PIN try limit.
    #[serde(default = "three")]
    pub pin_try_limit: u8,
    /// PIN try counter `9F17` at personalisation; default the limit.
    #[serde(default)]
    pub pin_try_counter: Option<u8>,
    /// The application is blocked (SELECT answers `6283`, GPO `6985`).
    #[serde(default)]
    pub blocked: bool,
    /// Transaction log (`9F4D` / `9F4F`).
    #[serde(default = "default_transaction_log")]
    pub transaction_log: LogProfile,
    /// Load log (`DF4D` / `DF4F`).
    #[serde(default = "default_load_log")]
    pub load_log: LogProfile,
    /// Length of the secure messaging MAC of issuer script commands (4 or 8).
    #[serde(default = "four")]
    pub script_mac_length: u8,
    /// Extra or replacement card data objects: tag (hex) → value (hex).
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Extra objects of the FCI's issuer discretionary data `BF0C`: tag (hex) → value (hex),
    /// e.g. a Visa card's application program identifier `9F5A` (pboc-notes §8.3).
    #[serde(default)]
    pub fci_discretionary: BTreeMap<String, String>,
    /// Personalisation-time faults, for negative tests.
    #[serde(default)]
    pub faults: FaultProfile,
}

impl fmt::Debug for PbocFields {
    /// PAN masked, keys and PIN never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = mask_pan(&self.pan);
        f.debug_struct("PbocProfile")
            .field("aid", &self.aid)
            .field("label", &self.label)
            .field("pan", &masked)
            .field("oda", &self.oda.algorithm)
            .field("ec", &self.ec.is_some())
            .finish_non_exhaustive()
    }
}

/// A PAN for display: the first six and last four digits of a PAN of more than ten ASCII
/// digits, `…` for anything else (shorter, or not digits: never sliced inside a character).
pub(crate) fn mask_pan(pan: &str) -> String {
    let n = pan.len();
    if n > 10 && pan.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}…{}", &pan[..6], &pan[n - 4..])
    } else {
        "…".to_owned()
    }
}

/// A secret text field of a profile (PIN, issuer master keys): its memory is wiped when it
/// is dropped and `Debug` never shows it. Derefs to the text.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Secret(zeroize::Zeroizing::new(text))
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret::from(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::from)
    }
}

/// What the card does when a contactless terminal sends GPO (pboc-notes §2.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactlessPath {
    /// qPBOC: the GPO response carries the cryptogram.
    #[default]
    Qpboc,
    /// Contactless full PBOC: AIP byte 2 b8 set, then READ RECORD and GENERATE AC.
    Full,
}

/// One record of the AFL layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordProfile {
    /// Short file identifier (1–30).
    pub sfi: u8,
    /// Tags of the objects in the `70` template, in order (hex).
    pub tags: Vec<String>,
    /// Counts for offline data authentication (must precede the SFI's other records).
    #[serde(default)]
    pub oda: bool,
}

/// Card additional processes (`9F68`) the simulator models, as named switches (⚠ the bit
/// positions of `9F68` are not known, so the card does not publish `9F68`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapProfile {
    /// "Prefer contact for online": a contactless GPO that would give an ARQC answers `6985`
    /// when the TTQ says the terminal supports contact (BT).
    #[serde(default)]
    pub prefer_contact_for_online: bool,
    /// The card cannot go online (pure EC): every ARQC becomes an AAC.
    #[serde(default)]
    pub offline_only: bool,
    /// Approve EC offline even when the transaction currency differs from `9F51`.
    #[serde(default)]
    pub allow_currency_mismatch: bool,
    /// UnionPay online ODA for transit (pboc-notes §2.13 ⚠): the FCI's `BF0C` carries `DF61`
    /// with byte 1 b7 set, and a qPBOC ARQC asked for with TTQ byte 1 b1 ("ODA for online
    /// authorisations") comes with the AFL and an fDDA signature, as a TC does.
    #[serde(default)]
    pub online_oda: bool,
}

/// The electronic cash sub-account (pboc-notes §2.8), amounts in the currency's minor unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcProfile {
    /// EC balance `9F79`.
    pub balance: u64,
    /// EC balance limit `9F77`.
    #[serde(default = "default_balance_limit")]
    pub balance_limit: u64,
    /// EC single transaction limit `9F78`.
    #[serde(default = "default_single_limit")]
    pub single_transaction_limit: u64,
    /// EC reset threshold `9F6D`.
    #[serde(default)]
    pub reset_threshold: u64,
    /// EC issuer authorisation code `9F74` (ASCII, 6 characters).
    #[serde(default = "default_ec_auth_code")]
    pub issuer_authorisation_code: String,
}

/// The ODA algorithm of the card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OdaAlgorithm {
    /// RSA: certificates `02`/`04`, SDAD `05` (EMV Book 2).
    #[default]
    Rsa,
    /// SM2: certificates `12`/`14`, SDAD `15` (PBOC 3.0 Part 17, ⚠ layout).
    Sm2,
    /// No ODA data at all.
    None,
}

/// ODA keys and certificate fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdaProfile {
    /// RSA, SM2 or none.
    #[serde(default)]
    pub algorithm: OdaAlgorithm,
    /// CA public key index `8F`, hex; default `F1` (RSA) / `F2` (SM2).
    #[serde(default)]
    pub capk_index: Option<String>,
    /// Test CA issuer key name (RSA: `issuer`, `issuer_small`).
    #[serde(default = "default_issuer_key")]
    pub issuer_key: String,
    /// Test CA ICC key name (RSA: `icc`, `icc_small`).
    #[serde(default = "default_icc_key")]
    pub icc_key: String,
    /// Number of PAN digits in the issuer identifier (3–8).
    #[serde(default = "six")]
    pub issuer_identifier_digits: usize,
    /// Issuer certificate expiry, MMYY.
    #[serde(default = "default_issuer_cert_expiry")]
    pub issuer_cert_expiry: String,
    /// Issuer certificate serial number, hex (3 bytes); put it on a revocation list to test one.
    #[serde(default = "default_issuer_serial")]
    pub issuer_cert_serial: String,
    /// ICC certificate expiry, MMYY; default the application expiry month.
    #[serde(default)]
    pub icc_cert_expiry: Option<String>,
    /// ICC certificate serial number, hex (3 bytes).
    #[serde(default = "default_icc_serial")]
    pub icc_cert_serial: String,
    /// Data authentication code `9F45`, hex (2 bytes). When set, the card also carries signed
    /// static application data `93` (SDA, EMV Book 2 §5.4) signed by the issuer key with it;
    /// absent, the card has no `93` (as the real UnionPay cards seen).
    #[serde(default)]
    pub data_authentication_code: Option<String>,
    /// Signed data format of the fDDA / DDA signature: `05` (default, EMV and PBOC) or `95`
    /// (Visa fDDA, pboc-notes §8.3).
    #[serde(default)]
    pub sdad_format: Option<String>,
}

impl Default for OdaProfile {
    fn default() -> Self {
        OdaProfile {
            algorithm: OdaAlgorithm::default(),
            capk_index: None,
            issuer_key: default_issuer_key(),
            icc_key: default_icc_key(),
            issuer_identifier_digits: six(),
            issuer_cert_expiry: default_issuer_cert_expiry(),
            issuer_cert_serial: default_issuer_serial(),
            icc_cert_expiry: None,
            icc_cert_serial: default_icc_serial(),
            data_authentication_code: None,
            sdad_format: None,
        }
    }
}

/// A cyclic log file read with READ RECORD, records formatted by a DOL (pboc-notes §2.10).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogProfile {
    /// SFI of the log (11–30 so it never collides with AFL files).
    pub sfi: u8,
    /// Number of records kept (0 = no log).
    pub records: u8,
    /// The log format DOL (`9F4F` / `DF4F`), hex.
    pub format: String,
}

/// Personalisation-time faults (all off by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultProfile {
    /// Every SDAD (fDDA, DDA, CDA) is signed over a wrong hash, so it fails verification.
    #[serde(default)]
    pub tamper_sdad: bool,
    /// The issuer certificate expired in December 2020.
    #[serde(default)]
    pub issuer_cert_expired: bool,
    /// The ICC certificate expired in December 2020.
    #[serde(default)]
    pub icc_cert_expired: bool,
    /// `8F` names the signing CA's index XOR `0F` (`FE` for RSA, `FD` for SM2): a terminal finds
    /// no key.
    #[serde(default)]
    pub wrong_capk_index: bool,
    /// The ICC certificate is signed over static data with one byte changed.
    #[serde(default)]
    pub tamper_static_data: bool,
    /// Every application cryptogram has its last byte flipped (the host rejects it).
    #[serde(default)]
    pub tamper_ac: bool,
    /// The certificates are issued for these PAN digits instead of the card's `5A` (issuer
    /// identifier and ICC certificate PAN), while the static data still holds the card's `5A`:
    /// a PAN mismatch with otherwise valid certificates.
    #[serde(default)]
    pub certificate_pan: Option<String>,
    /// The card reports (and signs) ATC `0000` in every answer while its counter still counts:
    /// a card the transit acceptance refuses at its step 3 (pboc-notes §2.13).
    #[serde(default)]
    pub atc_zero: bool,
}

fn yes() -> bool {
    true
}
fn one() -> u8 {
    1
}
fn three() -> u8 {
    3
}
fn four() -> u8 {
    4
}
fn six() -> usize {
    6
}
fn default_label() -> String {
    "UnionPay".into()
}
fn default_language() -> String {
    "zhen".into()
}
fn default_psn() -> String {
    "01".into()
}
fn default_expiry() -> String {
    "301231".into()
}
fn default_effective() -> String {
    "200101".into()
}
fn default_service_code() -> String {
    "220".into()
}
fn default_track2_discretionary() -> String {
    "0000000000000".into()
}
fn default_cardholder_name() -> String {
    "QUICKPASS/TEST".into()
}
fn default_country() -> String {
    "156".into()
}
fn default_aip() -> String {
    "7C00".into()
}
fn default_cdol1() -> String {
    "9F02069F03069F1A0295055F2A029A039C019F37049F21039F4E14".into()
}
fn default_cdol2() -> String {
    "8A029F02069F03069F1A0295055F2A029A039C019F3704".into()
}
fn default_ddol() -> String {
    "9F3704".into()
}
fn default_cvm_list() -> String {
    "000000000000000042031E031F03".into()
}
fn default_iac_default() -> String {
    "D84000A800".into()
}
fn default_iac_denial() -> String {
    "0010000000".into()
}
fn default_iac_online() -> String {
    "D84004F800".into()
}
fn default_version() -> String {
    "0030".into()
}
fn default_auc() -> String {
    "FF00".into()
}
fn default_ctq() -> String {
    "0000".into()
}
fn default_dki() -> String {
    "01".into()
}
fn default_pin() -> Secret {
    "1234".into()
}
fn default_balance_limit() -> u64 {
    100_000
}
fn default_single_limit() -> u64 {
    100_000
}
fn default_ec_auth_code() -> String {
    "ECC001".into()
}
fn default_issuer_key() -> String {
    "issuer".into()
}
fn default_icc_key() -> String {
    "icc".into()
}
fn default_issuer_cert_expiry() -> String {
    "1249".into()
}
fn default_issuer_serial() -> String {
    "000001".into()
}
fn default_icc_serial() -> String {
    "000001".into()
}
fn default_transaction_log() -> LogProfile {
    LogProfile {
        sfi: 11,
        records: 10,
        format: "9A039F21039F02069F03069F1A025F2A029F4E149C019F3602".into(),
    }
}
fn default_load_log() -> LogProfile {
    LogProfile {
        sfi: 12,
        records: 10,
        format: "9A039F21039F1A029F4E149F3602".into(),
    }
}
