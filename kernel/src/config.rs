//! Terminal configuration: terminal data, per-AID parameters, CA keys, revocation list and
//! exception file (EMV Book 4 §6, JR/T 0025.12 terminal parameters).
//!
//! Loaded from JSON (serde) and validated when built, so the flow never re-checks it.

use serde::{Deserialize, Serialize};

use quickpass_crypto::capk::{CapkIndex, CapkStore, Rid};

use crate::selection::TerminalAid;
use crate::values::Aid;

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JSON does not fit the configuration format.
    #[error("invalid configuration: {0}")]
    Json(#[from] serde_json::Error),
    /// A value is out of range or inconsistent (which field, and why).
    #[error("invalid configuration field {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Fixed-size byte strings written as hex in JSON.
mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes of hex")))
    }
}

/// Variable byte strings written as hex in JSON.
mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
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
    #[serde(with = "hex_array")]
    pub terminal_type: [u8; 1],
    /// Terminal capabilities (`9F33`).
    #[serde(with = "hex_array")]
    pub capabilities: [u8; 3],
    /// Additional terminal capabilities (`9F40`).
    #[serde(with = "hex_array")]
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
    #[serde(with = "hex_array")]
    pub ttq: [u8; 4],
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
    #[serde(with = "hex_array")]
    pub application_version: [u8; 2],
    /// Terminal action code – default.
    #[serde(with = "hex_array")]
    pub tac_default: [u8; 5],
    /// Terminal action code – denial.
    #[serde(with = "hex_array")]
    pub tac_denial: [u8; 5],
    /// Terminal action code – online.
    #[serde(with = "hex_array")]
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
    #[serde(with = "hex_vec", default = "default_ddol")]
    pub default_ddol: Vec<u8>,
    /// Default TDOL.
    #[serde(with = "hex_vec", default)]
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
}

fn default_ddol() -> Vec<u8> {
    vec![0x9F, 0x37, 0x04]
}

/// A revoked issuer public key certificate (EMV Book 2 §5.3 step 10): RID, CA key index and
/// the certificate serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevokedCertificate {
    /// RID.
    #[serde(with = "hex_array")]
    pub rid: [u8; 5],
    /// CA public key index.
    pub index: u8,
    /// Certificate serial number.
    #[serde(with = "hex_array")]
    pub serial: [u8; 3],
}

/// The configuration a terminal runs with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalConfig {
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

impl TerminalConfig {
    /// Parses and validates a JSON configuration.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let config: TerminalConfig = serde_json::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values the types cannot: ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.terminal;
        if t.country_code > 999 {
            return Err(invalid("terminal.country_code", "more than 3 digits"));
        }
        if t.currency_code > 999 {
            return Err(invalid("terminal.currency_code", "more than 3 digits"));
        }
        if t.currency_exponent > 3 {
            return Err(invalid("terminal.currency_exponent", "above 3"));
        }
        if t.ifd_serial.len() > 8 || !t.ifd_serial.is_ascii() {
            return Err(invalid("terminal.ifd_serial", "at most 8 ASCII characters"));
        }
        if self.aids.is_empty() {
            return Err(invalid("aids", "no AID configured"));
        }
        for aid in &self.aids {
            if let Some(random) = aid.random_selection {
                if random.target_percent > 99
                    || random.max_target_percent > 99
                    || random.target_percent > random.max_target_percent
                {
                    return Err(invalid("aids.random_selection", "percentages out of order"));
                }
                if random.threshold >= aid.floor_limit && aid.floor_limit > 0 {
                    return Err(invalid(
                        "aids.random_selection",
                        "threshold not below floor limit",
                    ));
                }
            }
            if let (Some(cvm), Some(limit)) = (aid.cvm_limit, aid.contactless_transaction_limit) {
                if cvm > limit {
                    return Err(invalid("aids.cvm_limit", "above the contactless limit"));
                }
            }
            crate::dol::Dol::parse(&aid.default_ddol)
                .map_err(|e| invalid("aids.default_ddol", e.to_string()))?;
        }
        for pan in &self.exception_file {
            if pan.is_empty() || pan.len() > 19 || !pan.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("exception_file", "a PAN is not 1–19 digits"));
            }
        }
        Ok(())
    }

    /// The terminal AID list for selection.
    pub fn terminal_aids(&self) -> Vec<TerminalAid> {
        self.aids
            .iter()
            .map(|a| TerminalAid {
                aid: a.aid,
                partial_match: a.partial_match,
            })
            .collect()
    }

    /// The parameters of the configured AID that `card_aid` matched.
    pub fn parameters_for(&self, card_aid: &Aid) -> Option<&AidParameters> {
        self.aids
            .iter()
            .find(|a| &a.aid == card_aid || (a.partial_match && card_aid.starts_with(&a.aid)))
    }

    /// True when the certificate is on the revocation list.
    pub fn is_revoked(&self, rid: Rid, index: CapkIndex, serial: [u8; 3]) -> bool {
        self.revoked_certificates
            .iter()
            .any(|r| r.rid == rid.0 && r.index == index.0 && r.serial == serial)
    }

    /// True when the PAN digits are on the exception file.
    pub fn is_on_exception_file(&self, pan_digits: &str) -> bool {
        self.exception_file.iter().any(|p| p == pan_digits)
    }
}

/// The configuration and the CA keys the kernel runs with.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Terminal configuration.
    pub terminal: TerminalConfig,
    /// CA public keys.
    pub capks: CapkStore,
}
