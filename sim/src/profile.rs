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
    #[error("not a card profile in JSON")]
    Json(#[from] JsonError),
    /// The `schema` field is not [`SCHEMA`].
    #[error("not a card profile (schema {0:?})")]
    Schema(String),
    /// The profile could not be read from disk.
    #[error("cannot read the file")]
    Io(#[from] std::io::Error),
    /// A profile file could not be loaded: which file, then why (the source).
    #[error("card profile {}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why it could not be loaded ([`ProfileError::Io`], [`ProfileError::Json`], …).
        #[source]
        source: Box<ProfileError>,
    },
    /// A value in the profile is invalid (which field, and why).
    #[error("invalid card profile field {field}: {reason}")]
    Invalid {
        /// The field, as a path (`applications[0].pan`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where a profile's JSON is wrong and what kind of fault it is, without the offending
/// value: serde_json quotes values in its messages (`invalid type: integer `6228…`, expected
/// a string` for a PAN written as a number), and profiles hold PANs, PINs and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at line {line} column {column}")]
pub struct JsonError {
    /// The line of the fault (1-based; 0 when unknown).
    pub line: usize,
    /// The column of the fault (1-based; 0 when unknown).
    pub column: usize,
    what: String,
}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let message = error.to_string();
        // Field names are the format's, never card data: keep them.
        let field_message = ["missing field `", "unknown field `", "duplicate field `"]
            .iter()
            .any(|start| message.starts_with(start));
        let what = match error.classify() {
            Category::Data if field_message => message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(head, _)| head)
                .to_owned(),
            Category::Data => "a value of the wrong type or out of range".to_owned(),
            Category::Syntax => "a JSON syntax error".to_owned(),
            Category::Eof => "the JSON ends too early".to_owned(),
            Category::Io => "a read error".to_owned(),
        };
        JsonError {
            line: error.line(),
            column: error.column(),
            what,
        }
    }
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
    /// A Mastercard M/Chip contactless application (the C-2 kernel's card).
    Mchip(crate::mchip::MchipProfile),
}

impl CardProfile {
    /// Parses a profile from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ProfileError> {
        let profile: CardProfile = serde_json::from_str(text).map_err(JsonError::from)?;
        if profile.schema != SCHEMA {
            return Err(ProfileError::Schema(profile.schema));
        }
        Ok(profile)
    }

    /// Reads a profile file.
    ///
    /// Errors name the file ([`ProfileError::File`]), with the reason as their source.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        std::fs::read_to_string(path)
            .map_err(ProfileError::from)
            .and_then(|text| Self::from_json(&text))
            .map_err(|source| ProfileError::File {
                path: path.to_path_buf(),
                source: Box::new(source),
            })
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
                ApplicationProfile::Mchip(profile) => card.add_application(Box::new(
                    crate::mchip::MchipApplication::personalise(profile, &field)?,
                )),
            }
        }
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn load_errors_name_the_file_and_say_the_reason_once() {
        let missing = std::env::temp_dir().join("quickpass-no-such-profile.json");
        let error = CardProfile::load(&missing).expect_err("no such file");
        assert!(matches!(&error, ProfileError::File { path, .. } if *path == missing));
        assert!(error.to_string().contains("quickpass-no-such-profile.json"));
        let cause = error.source().expect("the reason");
        assert_eq!(cause.to_string(), "cannot read the file");
        // Each level says its own part: no text repeats along the chain.
        let io = cause.source().expect("the I/O error").to_string();
        assert!(!error.to_string().contains(&io) && !cause.to_string().contains(&io));

        let garbage =
            std::env::temp_dir().join(format!("quickpass-bad-{}.json", std::process::id()));
        std::fs::write(&garbage, "{ not json").expect("write");
        let error = CardProfile::load(&garbage).expect_err("not JSON");
        let ProfileError::File { source, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(matches!(**source, ProfileError::Json(_)), "{source:?}");
        let _ = std::fs::remove_file(&garbage);
    }

    /// Every level of the error chain of `text` parsed as a profile, joined.
    fn chain(text: &str) -> String {
        let error = CardProfile::from_json(text).expect_err("refused");
        let mut all = format!("{error} {error:?}");
        let mut source = error.source();
        while let Some(cause) = source {
            all.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        all
    }

    #[test]
    fn json_errors_never_echo_a_value() {
        // A PAN written as a number: serde_json would say "invalid type: integer `6228…`".
        let text = r#"{"schema": "quickpass-card/1", "name": "x", "applications": [
            {"type": "pboc", "aid": "A000000333010101", "pan": 6228480012345671,
             "issuer_master_key": "00112233445566778899AABBCCDDEEFF"}]}"#;
        // (serde_json's own message does quote it: what this test guards against.)
        let raw = serde_json::from_str::<CardProfile>(text).expect_err("refused");
        assert!(raw.to_string().contains("6228480012345671"), "{raw}");
        let all = chain(text);
        assert!(!all.contains("6228480012345671"), "{all}");
        assert!(!all.contains("622848"), "{all}");
        // Where it is stays.
        assert!(all.contains(" at line "), "{all}");
        // A string where a number is expected: the string is not echoed either.
        let text = r#"{"schema": "quickpass-card/1", "name": "x", "applications": [
            {"type": "pboc", "aid": "A000000333010101", "pan": "6228480012345671",
             "atc": "SECRETVALUE", "issuer_master_key": "00112233445566778899AABBCCDDEEFF"}]}"#;
        let all = chain(text);
        assert!(
            !all.contains("SECRETVALUE") && !all.contains("6228"),
            "{all}"
        );
        // Field names are still said.
        let all = chain(r#"{"schema": "quickpass-card/1", "nmae": "x", "applications": []}"#);
        assert!(all.contains("unknown field `nmae`"), "{all}");
        assert!(all.contains("line 1 column"), "{all}");
    }
}
