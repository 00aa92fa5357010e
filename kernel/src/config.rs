//! Terminal configuration: terminal data, per-AID parameters, CA keys, revocation list and
//! exception file (EMV Book 4 §6, JR/T 0025.12 terminal parameters).
//!
//! Loaded from JSON (serde) and validated when built, so the flow never re-checks it.

use alloc::{borrow::ToOwned, format, string::String, string::ToString, vec, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_with::As;

use quickpass_crypto::capk::{CapkIndex, CapkStore, Rid};

use crate::bits::Ttq;
use crate::selection::TerminalAid;
use crate::values::{Aid, Amount};
use crate::UpperHex;

/// Why a configuration is refused. Both variants name where, as a JSON path
/// (`terminal.capabilities`, `aids[2].cvm_limit`), whether the configuration came from JSON or
/// was built in code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JSON does not fit the configuration format.
    #[error("{path}: {source}")]
    Json {
        /// Where in the document (`terminal.capabilities`; `.` for the whole document).
        path: String,
        /// What serde_json said.
        #[source]
        source: serde_json::Error,
    },
    /// A value is out of range or inconsistent (which field, and why).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as a JSON path with the AID index (`aids[2].cvm_limit`).
        field: String,
        /// Why.
        reason: InvalidReason,
    },
    /// A DOL field does not parse as a DOL (EMV Book 3 §5.4).
    #[error("{field}: not a valid DOL")]
    Dol {
        /// The field, as a JSON path with the AID index (`aids[0].default_ddol`).
        field: String,
        /// What is wrong with the DOL.
        #[source]
        source: crate::dol::DolError,
    },
}

impl ConfigError {
    /// The JSON path of the offending field.
    pub fn path(&self) -> &str {
        match self {
            ConfigError::Json { path, .. } => path,
            ConfigError::Invalid { field, .. } | ConfigError::Dol { field, .. } => field,
        }
    }
}

/// Why a configuration value is refused ([`ConfigError::Invalid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// An n3 code (`9F1A`, `5F2A`) above 999.
    #[error("more than 3 digits")]
    MoreThanThreeDigits,
    /// The currency exponent (`5F36`) is above 3.
    #[error("above 3")]
    ExponentAboveThree,
    /// The IFD serial number (`9F1E`, an8) is longer than 8 characters or not ASCII.
    #[error("at most 8 ASCII characters")]
    IfdSerial,
    /// The TTQ does not set byte 1 b4 (offline-only reader) on an offline-only terminal.
    #[error(
        "online_capable is false but byte 1 b4 (offline-only reader, 08) is clear: \
         cards would answer with an online request"
    )]
    TtqOfflineOnlyClear,
    /// The TTQ sets byte 1 b4 (offline-only reader) on an online-capable terminal.
    #[error("byte 1 b4 (offline-only reader, 08) is set but online_capable is true")]
    TtqOfflineOnlySet,
    /// The TTQ sets byte 1 b5 (contact PBOC) on a terminal without the contact interface.
    #[error("byte 1 b5 (contact PBOC, 10) is set but contact_supported is false")]
    TtqContactUnsupported,
    /// The TTQ sets byte 1 b3 (online PIN) on an offline-only terminal.
    #[error("byte 1 b3 (online PIN, 04) is set on an offline-only terminal")]
    TtqOnlinePinOffline,
    /// The TTQ sets byte 1 b3 (online PIN) without `9F33` byte 2 b7.
    #[error("byte 1 b3 (online PIN, 04) is set but capabilities byte 2 b7 is clear")]
    TtqOnlinePinNotCapable,
    /// The TTQ sets byte 1 b2 (signature) without `9F33` byte 2 b6.
    #[error("byte 1 b2 (signature, 02) is set but capabilities byte 2 b6 is clear")]
    TtqSignatureNotCapable,
    /// The TTQ sets byte 2 b6 (offline PIN) without `9F33` byte 2 b8 or b5.
    #[error("byte 2 b6 (offline PIN, 20) is set but capabilities byte 2 b8 and b5 are clear")]
    TtqOfflinePinNotCapable,
    /// The AID list is empty.
    #[error("no AID configured")]
    NoAid,
    /// A kernel identifier this kernel does not implement or know (pboc-notes §8.2).
    #[error("not a kernel identifier this reader knows (2, 3, 4, 7)")]
    UnknownKernel,
    /// A dynamic reader limit set with an empty or over-long program identifier.
    #[error("the program identifier must be 1 to 16 bytes")]
    ProgramId,
    /// Random selection percentages above 99 or target above maximum target.
    #[error("percentages out of order")]
    RandomSelectionPercentages,
    /// The random selection threshold is not below the floor limit.
    #[error("threshold not below floor limit")]
    RandomSelectionThreshold,
    /// The CVM limit is above the contactless transaction limit.
    #[error("above the contactless limit")]
    CvmLimitAboveContactlessLimit,
    /// The EC terminal limit is more than its n12 tag `9F7B` holds.
    #[error("above 999999999999, more than its n12 tag 9F7B holds")]
    EcLimitAboveN12,
    /// An exception file entry is not a PAN of 1–19 digits.
    #[error("a PAN is not 1–19 digits")]
    ExceptionFilePan,
}

fn invalid(field: impl Into<String>, reason: InvalidReason) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason,
    }
}

/// What the terminal is and can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalData {
    /// Terminal country code, ISO 3166 numeric (`9F1A`); 156 for China.
    pub country_code: u16,
    /// Transaction currency code, ISO 4217 numeric (`5F2A`); 156 for CNY.
    pub currency_code: u16,
    /// Transaction currency exponent (`5F36`); 2 for CNY.
    pub currency_exponent: u8,
    /// Terminal type (`9F35`), e.g. `22` attended offline-capable, `25` unattended.
    #[serde(with = "As::<UpperHex>")]
    pub terminal_type: [u8; 1],
    /// Terminal capabilities (`9F33`).
    #[serde(with = "As::<UpperHex>")]
    pub capabilities: [u8; 3],
    /// Additional terminal capabilities (`9F40`).
    #[serde(with = "As::<UpperHex>")]
    pub additional_capabilities: [u8; 5],
    /// Interface device serial number (`9F1E`, an 8).
    pub ifd_serial: String,
    /// Terminal identification (`9F1C`, an 8).
    #[serde(default)]
    pub terminal_id: String,
    /// Merchant identifier (`9F16`, ans 15).
    #[serde(default)]
    pub merchant_id: String,
    /// Merchant name and location (`9F4E`).
    #[serde(default)]
    pub merchant_name_location: String,
    /// Merchant category code (`9F15`, n4).
    #[serde(default)]
    pub merchant_category_code: u16,
    /// Terminal transaction qualifiers (`9F66`) before pre-processing adds per-transaction bits.
    /// When absent, derived from the capabilities ([`TerminalData::derived_ttq`]); when given,
    /// it must not contradict them ([`TerminalConfig::new`] checks).
    #[serde(
        with = "As::<Option<UpperHex>>",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ttq: Option<[u8; 4]>,
    /// The terminal can go online.
    pub online_capable: bool,
    /// The terminal has a contact interface ("try another interface" is possible).
    pub contact_supported: bool,
    /// The terminal supports the SM algorithms (puts `01` in `DF69`).
    #[serde(default)]
    pub sm_supported: bool,
}

/// Random transaction selection parameters (EMV Book 3 §10.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSelection {
    /// Threshold value, minor units.
    pub threshold: u64,
    /// Target percentage (0–99).
    pub target_percent: u8,
    /// Maximum target percentage (target–99).
    pub max_target_percent: u8,
}

/// Per-AID parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AidParameters {
    /// The AID.
    pub aid: Aid,
    /// Application selection indicator: a card AID that starts with `aid` also matches.
    #[serde(default)]
    pub partial_match: bool,
    /// Terminal application version number (`9F09`).
    #[serde(with = "As::<UpperHex>")]
    pub application_version: [u8; 2],
    /// Terminal action code – default.
    #[serde(with = "As::<UpperHex>")]
    pub tac_default: [u8; 5],
    /// Terminal action code – denial.
    #[serde(with = "As::<UpperHex>")]
    pub tac_denial: [u8; 5],
    /// Terminal action code – online.
    #[serde(with = "As::<UpperHex>")]
    pub tac_online: [u8; 5],
    /// Terminal floor limit (`9F1B`), minor units.
    pub floor_limit: u64,
    /// Contactless transaction limit: at or above it, contactless is not allowed.
    #[serde(default)]
    pub contactless_transaction_limit: Option<u64>,
    /// Contactless CVM required limit: at or above it, a CVM is required.
    #[serde(default)]
    pub cvm_limit: Option<u64>,
    /// Contactless offline floor limit: above it, an online cryptogram is required
    /// (falls back to `floor_limit`).
    #[serde(default)]
    pub contactless_floor_limit: Option<u64>,
    /// Random selection; none when absent.
    #[serde(default)]
    pub random_selection: Option<RandomSelection>,
    /// Default DDOL (used when the card has no `9F49`).
    #[serde(with = "As::<UpperHex>", default = "default_ddol")]
    pub default_ddol: Vec<u8>,
    /// Default TDOL.
    #[serde(with = "As::<UpperHex>", default)]
    pub default_tdol: Vec<u8>,
    /// Electronic cash supported for this AID (contact: `9F7A` = 01 when eligible).
    #[serde(default)]
    pub ec_supported: bool,
    /// EC terminal transaction limit (`9F7B`), minor units.
    #[serde(default)]
    pub ec_terminal_limit: Option<u64>,
    /// "Status check": an amount of one currency unit asks for an online cryptogram.
    #[serde(default)]
    pub status_check: bool,
    /// Transit acceptance in UnionPay's online-ODA mode for this AID ([`crate::transit`]; off
    /// by default): the TTQ follows the card's `DF61`, an ARQC with ODA verified is accepted
    /// for travel and its authorisation deferred, and a zero amount is allowed.
    #[serde(default)]
    pub transit_online_oda: bool,
    /// The kernel this AID runs on (EMV Book B kernel identifier: 2 Mastercard C-2, 3 Visa
    /// C-3, 4 Amex C-4, 7 UnionPay qPBOC; [`crate::entry_point::KernelId`]). Absent: the
    /// default kernel of the AID's RID ([`AidParameters::kernel`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_id: Option<u8>,
    /// This combination's TTQ (`9F66`) before the per-transaction bits, when it differs from
    /// the terminal's (Book B §3.1: pre-processing is per combination); absent: the
    /// terminal's [`TerminalData::effective_ttq`].
    #[serde(
        with = "As::<Option<UpperHex>>",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ttq: Option<[u8; 4]>,
    /// Book A "zero amount allowed" for this combination: `false` makes a zero amount
    /// contactless-not-allowed here; absent or `true`, a zero amount asks for an online
    /// cryptogram (an offline-only reader cannot take it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_amount_allowed: Option<bool>,
    /// Visa dynamic reader limits (C-3, pboc-notes §8.3): the limit sets chosen by the
    /// application program identifier (`9F5A`) in the card's FCI. Empty: the AID's own limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program_limits: Vec<ProgramLimits>,
}

/// One dynamic reader limit set (Visa C-3 "DRL", pboc-notes §8.3 ⚠): when the card's
/// application program identifier (`9F5A`) starts with `program_id`, these limits replace the
/// AID's contactless limits for the tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramLimits {
    /// The application program identifier (prefix), hex, 1 to 16 bytes.
    #[serde(with = "As::<UpperHex>")]
    pub program_id: Vec<u8>,
    /// Contactless transaction limit of the program, minor units (absent: none).
    #[serde(default)]
    pub contactless_transaction_limit: Option<u64>,
    /// CVM required limit of the program.
    #[serde(default)]
    pub cvm_limit: Option<u64>,
    /// Contactless floor limit of the program.
    #[serde(default)]
    pub contactless_floor_limit: Option<u64>,
}

impl AidParameters {
    /// The kernel this AID runs on: [`AidParameters::kernel_id`] when configured, else the
    /// default of its RID (Book B §3.3.2; pboc-notes §8.2), else qPBOC — the kernel quickpass
    /// ran every AID on before it had others, so a configuration written then keeps working.
    /// `None` only for a configured id the kernel does not know (refused when the configuration
    /// is built).
    pub fn kernel(&self) -> Option<crate::entry_point::KernelId> {
        use crate::entry_point::KernelId;
        match self.kernel_id {
            Some(id) => KernelId::from_id(id),
            None => Some(KernelId::default_for_aid(&self.aid).unwrap_or(KernelId::Qpboc)),
        }
    }

    /// The parameters with the program's limits in place of the AID's (C-3 dynamic reader
    /// limits), when a set matches `program_id`; unchanged otherwise.
    pub fn with_program_limits(&self, program_id: Option<&[u8]>) -> AidParameters {
        let mut parameters = self.clone();
        let Some(program_id) = program_id else {
            return parameters;
        };
        if let Some(set) = self
            .program_limits
            .iter()
            .find(|set| !set.program_id.is_empty() && program_id.starts_with(&set.program_id))
        {
            parameters.contactless_transaction_limit = set.contactless_transaction_limit;
            parameters.cvm_limit = set.cvm_limit;
            parameters.contactless_floor_limit = set.contactless_floor_limit;
        }
        parameters
    }
}

fn default_ddol() -> Vec<u8> {
    vec![0x9F, 0x37, 0x04]
}

/// A revoked issuer public key certificate (EMV Book 2 §5.3 step 10): RID, CA key index and
/// the certificate serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevokedCertificate {
    /// RID.
    #[serde(with = "As::<UpperHex>")]
    pub rid: [u8; 5],
    /// CA public key index.
    pub index: u8,
    /// Certificate serial number.
    #[serde(with = "As::<UpperHex>")]
    pub serial: [u8; 3],
}

impl TerminalData {
    /// The TTQ (`9F66`) this terminal's capabilities imply (pboc-notes §2.2): qPBOC supported
    /// (byte 1 b6) and fDDA version 01 (byte 4 b8) always; contact PBOC (byte 1 b5) when
    /// `contact_supported`; offline-only reader (byte 1 b4) when not `online_capable`; online
    /// PIN (byte 1 b3) when online-capable and `9F33` byte 2 b7 (enciphered PIN online) is set;
    /// signature (byte 1 b2) when `9F33` byte 2 b6 is set. `36000080` for the default
    /// configuration, `28000080` for an offline-only validator without contact.
    pub fn derived_ttq(&self) -> Ttq {
        let mut ttq = Ttq::new()
            .with(Ttq::QPBOC_SUPPORTED)
            .with(Ttq::FDDA_V01_SUPPORTED);
        ttq.assign(Ttq::CONTACT_PBOC_SUPPORTED, self.contact_supported);
        ttq.assign(Ttq::OFFLINE_ONLY_READER, !self.online_capable);
        ttq.assign(
            Ttq::ONLINE_PIN_SUPPORTED,
            self.online_capable && self.capabilities[1] & CAP_ONLINE_PIN != 0,
        );
        ttq.assign(
            Ttq::SIGNATURE_SUPPORTED,
            self.capabilities[1] & CAP_SIGNATURE != 0,
        );
        ttq
    }

    /// The TTQ the terminal sends before per-transaction bits: the configured one, or
    /// [`TerminalData::derived_ttq`] when none is configured.
    pub fn effective_ttq(&self) -> Ttq {
        self.ttq.map_or_else(|| self.derived_ttq(), Ttq::from_bytes)
    }

    /// Refuses a configured TTQ that says something the rest of the terminal data denies
    /// (pboc-notes §2.2): an offline-only bit that disagrees with `online_capable` either way,
    /// contact PBOC without `contact_supported`, online PIN on an offline-only terminal or
    /// without `9F33` byte 2 b7, signature without `9F33` byte 2 b6, (contact) offline PIN
    /// without `9F33` byte 2 b8 or b5. Not advertising something the terminal can do is
    /// allowed.
    fn check_ttq(&self) -> Result<(), ConfigError> {
        let Some(bytes) = self.ttq else {
            return Ok(());
        };
        let ttq = Ttq::from_bytes(bytes);
        let refuse = |reason| Err(invalid("terminal.ttq", reason));
        let offline_only = ttq.contains(Ttq::OFFLINE_ONLY_READER);
        if !self.online_capable && !offline_only {
            return refuse(InvalidReason::TtqOfflineOnlyClear);
        }
        if self.online_capable && offline_only {
            return refuse(InvalidReason::TtqOfflineOnlySet);
        }
        if ttq.contains(Ttq::CONTACT_PBOC_SUPPORTED) && !self.contact_supported {
            return refuse(InvalidReason::TtqContactUnsupported);
        }
        if ttq.contains(Ttq::ONLINE_PIN_SUPPORTED) {
            if !self.online_capable {
                return refuse(InvalidReason::TtqOnlinePinOffline);
            }
            if self.capabilities[1] & CAP_ONLINE_PIN == 0 {
                return refuse(InvalidReason::TtqOnlinePinNotCapable);
            }
        }
        if ttq.contains(Ttq::SIGNATURE_SUPPORTED) && self.capabilities[1] & CAP_SIGNATURE == 0 {
            return refuse(InvalidReason::TtqSignatureNotCapable);
        }
        if ttq.contains(Ttq::OFFLINE_PIN_SUPPORTED)
            && self.capabilities[1] & (CAP_PLAINTEXT_PIN_OFFLINE | CAP_ENCIPHERED_PIN_OFFLINE) == 0
        {
            return refuse(InvalidReason::TtqOfflinePinNotCapable);
        }
        Ok(())
    }
}

/// Terminal capabilities (`9F33`) byte 2 b8: plaintext PIN for ICC verification (EMV Book 4
/// Annex A2).
const CAP_PLAINTEXT_PIN_OFFLINE: u8 = 0x80;
/// `9F33` byte 2 b7: enciphered PIN for online verification.
const CAP_ONLINE_PIN: u8 = 0x40;
/// `9F33` byte 2 b6: signature (paper).
const CAP_SIGNATURE: u8 = 0x20;
/// `9F33` byte 2 b5: enciphered PIN for offline verification.
const CAP_ENCIPHERED_PIN_OFFLINE: u8 = 0x10;

/// The parts of a [`TerminalConfig`] as written: the raw, unchecked form. JSON is read into
/// this, and code builds it; either way [`TerminalConfig::new`] checks it, so both share one
/// validation path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfigParts {
    /// Terminal data.
    pub terminal: TerminalData,
    /// Supported AIDs with their parameters, in the terminal's preference order.
    pub aids: Vec<AidParameters>,
    /// Revoked issuer certificates.
    #[serde(default)]
    pub revoked_certificates: Vec<RevokedCertificate>,
    /// PANs (digits) on the exception file (hot list).
    #[serde(default)]
    pub exception_file: Vec<String>,
}

/// The configuration a terminal runs with, checked when it is made ([`TerminalConfig::new`],
/// [`TerminalConfig::from_json`], or serde, which runs the same checks when a configuration is
/// embedded in a larger document), so the flow never re-checks it. Read-only: to change one,
/// edit its parts and build it again ([`TerminalConfig::edited`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TerminalConfigParts", into = "TerminalConfigParts")]
pub struct TerminalConfig {
    parts: TerminalConfigParts,
}

impl TryFrom<TerminalConfigParts> for TerminalConfig {
    type Error = ConfigError;

    /// Same as [`TerminalConfig::new`].
    fn try_from(parts: TerminalConfigParts) -> Result<Self, ConfigError> {
        TerminalConfig::new(parts)
    }
}

impl From<TerminalConfig> for TerminalConfigParts {
    fn from(config: TerminalConfig) -> Self {
        config.parts
    }
}

impl TerminalConfig {
    /// Checks the parts and makes the configuration: ranges, consistency between fields (the
    /// TTQ against the capabilities, limits against each other), DOLs that parse. The error
    /// names the field as a JSON path (`aids[1].cvm_limit`).
    pub fn new(parts: TerminalConfigParts) -> Result<Self, ConfigError> {
        validate(&parts)?;
        Ok(TerminalConfig { parts })
    }

    /// Parses and validates a JSON configuration. A format error names its JSON path
    /// (`terminal.capabilities: …`); the checks are those of [`TerminalConfig::new`].
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let json_error = |path: String| move |source| ConfigError::Json { path, source };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let parts: TerminalConfigParts = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| {
                let path = e.path().to_string();
                ConfigError::Json {
                    path,
                    source: e.into_inner(),
                }
            })?;
        deserializer.end().map_err(json_error(".".to_owned()))?;
        TerminalConfig::new(parts)
    }

    /// The parts, read-only.
    pub fn parts(&self) -> &TerminalConfigParts {
        &self.parts
    }

    /// The parts, to edit and build again.
    pub fn into_parts(self) -> TerminalConfigParts {
        self.parts
    }

    /// A copy with `edit` applied to its parts, checked again.
    pub fn edited(
        &self,
        edit: impl FnOnce(&mut TerminalConfigParts),
    ) -> Result<TerminalConfig, ConfigError> {
        let mut parts = self.parts.clone();
        edit(&mut parts);
        TerminalConfig::new(parts)
    }

    /// Terminal data.
    pub fn terminal(&self) -> &TerminalData {
        &self.parts.terminal
    }

    /// Supported AIDs with their parameters, in the terminal's preference order (never empty).
    pub fn aids(&self) -> &[AidParameters] {
        &self.parts.aids
    }

    /// Revoked issuer certificates.
    pub fn revoked_certificates(&self) -> &[RevokedCertificate] {
        &self.parts.revoked_certificates
    }

    /// PANs (digits) on the exception file (hot list).
    pub fn exception_file(&self) -> &[String] {
        &self.parts.exception_file
    }

    /// The terminal AID list for selection.
    pub fn terminal_aids(&self) -> Vec<TerminalAid> {
        self.parts
            .aids
            .iter()
            .map(|a| TerminalAid {
                aid: a.aid,
                partial_match: a.partial_match,
            })
            .collect()
    }

    /// The parameters of the configured AID that `card_aid` matched.
    pub fn parameters_for(&self, card_aid: &Aid) -> Option<&AidParameters> {
        self.parts
            .aids
            .iter()
            .find(|a| &a.aid == card_aid || (a.partial_match && card_aid.starts_with(&a.aid)))
    }

    /// True when the certificate is on the revocation list.
    pub fn is_revoked(&self, rid: Rid, index: CapkIndex, serial: [u8; 3]) -> bool {
        self.parts
            .revoked_certificates
            .iter()
            .any(|r| r.rid == rid.0 && r.index == index.0 && r.serial == serial)
    }

    /// True when the PAN digits are on the exception file.
    pub fn is_on_exception_file(&self, pan_digits: &str) -> bool {
        self.parts.exception_file.iter().any(|p| p == pan_digits)
    }
}

/// Checks values the types cannot: ranges and consistency.
fn validate(parts: &TerminalConfigParts) -> Result<(), ConfigError> {
    let t = &parts.terminal;
    if t.country_code > 999 {
        return Err(invalid(
            "terminal.country_code",
            InvalidReason::MoreThanThreeDigits,
        ));
    }
    if t.currency_code > 999 {
        return Err(invalid(
            "terminal.currency_code",
            InvalidReason::MoreThanThreeDigits,
        ));
    }
    if t.currency_exponent > 3 {
        return Err(invalid(
            "terminal.currency_exponent",
            InvalidReason::ExponentAboveThree,
        ));
    }
    if t.ifd_serial.len() > 8 || !t.ifd_serial.is_ascii() {
        return Err(invalid("terminal.ifd_serial", InvalidReason::IfdSerial));
    }
    t.check_ttq()?;
    if parts.aids.is_empty() {
        return Err(invalid("aids", InvalidReason::NoAid));
    }
    for (i, aid) in parts.aids.iter().enumerate() {
        let field = |name: &str| format!("aids[{i}].{name}");
        if let Some(random) = aid.random_selection {
            if random.target_percent > 99
                || random.max_target_percent > 99
                || random.target_percent > random.max_target_percent
            {
                return Err(invalid(
                    field("random_selection"),
                    InvalidReason::RandomSelectionPercentages,
                ));
            }
            if random.threshold >= aid.floor_limit && aid.floor_limit > 0 {
                return Err(invalid(
                    field("random_selection"),
                    InvalidReason::RandomSelectionThreshold,
                ));
            }
        }
        if let Some(id) = aid.kernel_id {
            if crate::entry_point::KernelId::from_id(id).is_none() {
                return Err(invalid(field("kernel_id"), InvalidReason::UnknownKernel));
            }
        }
        if aid.ttq.is_some() {
            // The combination's TTQ must agree with the terminal as the terminal's must.
            let mut own = t.clone();
            own.ttq = aid.ttq;
            own.check_ttq().map_err(|e| match e {
                ConfigError::Invalid { reason, .. } => invalid(field("ttq"), reason),
                other => other,
            })?;
        }
        for (j, set) in aid.program_limits.iter().enumerate() {
            if set.program_id.is_empty() || set.program_id.len() > 16 {
                return Err(invalid(
                    field(&format!("program_limits[{j}].program_id")),
                    InvalidReason::ProgramId,
                ));
            }
            if let (Some(cvm), Some(limit)) = (set.cvm_limit, set.contactless_transaction_limit) {
                if cvm > limit {
                    return Err(invalid(
                        field(&format!("program_limits[{j}].cvm_limit")),
                        InvalidReason::CvmLimitAboveContactlessLimit,
                    ));
                }
            }
        }
        if let (Some(cvm), Some(limit)) = (aid.cvm_limit, aid.contactless_transaction_limit) {
            if cvm > limit {
                return Err(invalid(
                    field("cvm_limit"),
                    InvalidReason::CvmLimitAboveContactlessLimit,
                ));
            }
        }
        if let Some(limit) = aid.ec_terminal_limit {
            if Amount::from_minor(limit).is_err() {
                return Err(invalid(
                    field("ec_terminal_limit"),
                    InvalidReason::EcLimitAboveN12,
                ));
            }
        }
        crate::dol::Dol::parse(&aid.default_ddol).map_err(|source| ConfigError::Dol {
            field: field("default_ddol"),
            source,
        })?;
    }
    for (i, pan) in parts.exception_file.iter().enumerate() {
        if pan.is_empty() || pan.len() > 19 || !pan.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                format!("exception_file[{i}]"),
                InvalidReason::ExceptionFilePan,
            ));
        }
    }
    Ok(())
}

/// The configuration and the CA keys the kernel runs with.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Terminal configuration.
    pub terminal: TerminalConfig,
    /// CA public keys.
    pub capks: CapkStore,
    /// The deny list (hot list) every flow consults besides the configuration's exception
    /// file; `None`: no deny list.
    pub deny_list: Option<SharedDenyList>,
}

impl KernelConfig {
    /// A configuration with these terminal data and CA keys and no deny list.
    pub fn new(terminal: TerminalConfig, capks: CapkStore) -> Self {
        KernelConfig {
            terminal,
            capks,
            deny_list: None,
        }
    }

    /// Whether the card (PAN, PAN sequence number `5F34`) is refused: on the exception file
    /// or on the deny list.
    pub fn is_denied(&self, pan: &crate::values::Pan, psn: Option<u8>) -> bool {
        self.terminal.is_on_exception_file(pan.expose_digits())
            || self
                .deny_list
                .as_ref()
                .is_some_and(|list| list.0.is_denied(pan, psn))
    }
}

/// A deny list shared by every tap and thread: the kernel's [`crate::deny_list::DenyList`] or
/// an integrator's own store (which, when it cannot answer, says "denied").
#[derive(Clone)]
pub struct SharedDenyList(pub alloc::sync::Arc<dyn crate::deny_list::DenyCheck + Send + Sync>);

/// Two handles are equal when they share the same list.
impl PartialEq for SharedDenyList {
    fn eq(&self, other: &Self) -> bool {
        alloc::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedDenyList {}

impl core::fmt::Debug for SharedDenyList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedDenyList(..)")
    }
}
