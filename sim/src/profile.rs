//! Card profiles: the JSON that personalises a [`VirtualCard`] (format: `vectors/cards/README.md`).

use serde::Deserialize;

use super::card::{VirtualCard, CONTACTLESS_ATR};
use super::{pboc, psam, purse};

/// The `schema` value of a card profile.
pub const SCHEMA: &str = "quickpass-card/1";

/// Why a profile could not be read or personalised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The text is not valid JSON of the profile format.
    #[error("invalid card profile: {0}")]
    Json(#[from] serde_json::Error),
    /// The `schema` field is not [`SCHEMA`].
    #[error("not a card profile (schema {0:?})")]
    Schema(String),
    /// The profile could not be read from disk.
    #[error("cannot read card profile: {0}")]
    Io(#[from] std::io::Error),
    /// A value in the profile is invalid (which field, and why).
    #[error("invalid card profile field {field}: {reason}")]
    Invalid {
        /// The field, as a path (`applications[0].pan`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ProfileError {
    /// An invalid field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ProfileError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A whole card.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardProfile {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Short name (`qpboc-debit-offline`).
    pub name: String,
    /// What the card is for, for humans.
    #[serde(default)]
    pub description: String,
    /// Answer to reset, hex; default the contactless ATR `3B80800101`.
    #[serde(default)]
    pub atr: Option<String>,
    /// Whether the card has a PPSE (contactless directory); default true.
    #[serde(default = "yes")]
    pub ppse: bool,
    /// Whether the card has a PSE (contact directory); default true.
    #[serde(default = "yes")]
    pub pse: bool,
    /// The applications, in directory order.
    pub applications: Vec<ApplicationProfile>,
}

fn yes() -> bool {
    true
}

/// One application of a card profile, by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ApplicationProfile {
    /// A UnionPay debit/credit/EC application (qPBOC and contact PBOC).
    Pboc(pboc::PbocProfile),
    /// An ED/EP electronic purse (transit, ETC).
    Purse(purse::PurseProfile),
    /// A PSAM (the terminal's security module).
    Psam(psam::PsamProfile),
}

impl CardProfile {
    /// Parses a profile from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ProfileError> {
        let profile: CardProfile = serde_json::from_str(text)?;
        if profile.schema != SCHEMA {
            return Err(ProfileError::Schema(profile.schema));
        }
        Ok(profile)
    }

    /// Reads a profile file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, ProfileError> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }

    /// Personalises a card from the profile: keys derived, certificates issued by the test CA,
    /// files and counters set.
    pub fn build(&self) -> Result<VirtualCard, ProfileError> {
        let atr = match &self.atr {
            Some(text) => {
                hex::decode(text).map_err(|e| ProfileError::invalid("atr", e.to_string()))?
            }
            None => CONTACTLESS_ATR.to_vec(),
        };
        let mut card = VirtualCard::new(atr, self.ppse, self.pse);
        for (index, application) in self.applications.iter().enumerate() {
            let field = format!("applications[{index}]");
            match application {
                ApplicationProfile::Pboc(profile) => card.add_application(Box::new(
                    pboc::PbocApplication::personalise(profile, &field)?,
                )),
                ApplicationProfile::Purse(profile) => card.add_application(Box::new(
                    purse::SimPurseApplication::personalise(profile, &field)?,
                )),
                ApplicationProfile::Psam(profile) => card.add_application(Box::new(
                    psam::PsamApplication::personalise(profile, &field)?,
                )),
            }
        }
        Ok(card)
    }
}
