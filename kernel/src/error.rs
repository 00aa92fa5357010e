//! What can break in an EMV / PBOC flow (contactless qPBOC and contact), split by blame, and the
//! one function that says what the terminal does about each: [`KernelError::outcome`].
//!
//! "Outcome is not an error": approvals, declines and "try another interface" are normal
//! results ([`Outcome`]). A [`KernelError`] is something that broke — the card left, the card
//! sent junk, the card refused a command the flow cannot do without, the terminal's own
//! configuration is wrong. Each error says its cause once: the `Display` text names this layer's
//! part, the cause below it is [`std::error::Error::source`].

pub use crate::afl::{AflError, RecordError, StaticDataError};
use crate::apdu::ApduError;
use crate::contact::action::CardActionError;
use crate::dol::DolError;
use crate::outcome::Outcome;
use crate::selection::SelectionError;
use crate::tag::Tag;
use crate::tags;
use crate::tlv::TlvError;
use crate::transport::{ExchangeError, LinkFailure, TransportError};
use crate::values::{Aid, StatusWord};

/// The card object that was malformed (the step of the flow that read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum CardObject {
    /// The PPSE / PSE directory (EMV Book B §3.3, Book 1 §12.3.2).
    #[error("PPSE directory")]
    Ppse,
    /// The FCI of the selected application.
    #[error("FCI")]
    Fci,
    /// The PDOL in the FCI.
    #[error("PDOL")]
    Pdol,
    /// The GET PROCESSING OPTIONS response (format 1 or 2).
    #[error("GPO response")]
    GpoResponse,
    /// The application file locator.
    #[error("AFL")]
    Afl,
    /// One record read by READ RECORD.
    #[error("record {record} of SFI {sfi}")]
    Record {
        /// Short file identifier.
        sfi: u8,
        /// Record number.
        record: u8,
    },
    /// The data objects read from the records as a whole (a mandatory one missing).
    #[error("application data")]
    ApplicationData,
    /// CDOL1 (`8C`).
    #[error("CDOL1")]
    Cdol1,
    /// CDOL2 (`8D`).
    #[error("CDOL2")]
    Cdol2,
    /// The answer to the first GENERATE AC.
    #[error("first GENERATE AC response")]
    FirstGenerateAc,
    /// The answer to the second GENERATE AC.
    #[error("second GENERATE AC response")]
    SecondGenerateAc,
    /// The answer to EXCHANGE RELAY RESISTANCE DATA (Mastercard C-2, pboc-notes §9.5).
    #[error("EXCHANGE RELAY RESISTANCE DATA response")]
    RelayResistance,
}

/// What was wrong with a card object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformation {
    /// Not well-formed BER-TLV.
    #[error("not BER-TLV")]
    Tlv(#[source] TlvError),
    /// A data object list that cannot be parsed.
    #[error("bad data object list")]
    Dol(#[source] DolError),
    /// An AFL that cannot be parsed.
    #[error("bad AFL")]
    Afl(#[source] AflError),
    /// A record that is not a `70` template of BER-TLV.
    #[error("bad record")]
    Record(#[source] RecordError),
    /// Card data that makes the next command impossible to encode (e.g. PDOL data > 255 bytes).
    #[error("the next command cannot be built from it")]
    Command(#[source] ApduError),
    /// A mandatory data object is missing.
    #[error("mandatory {0} missing")]
    MissingTag(Tag),
    /// A data object has the wrong length.
    #[error("{tag} has length {len}")]
    BadLength {
        /// The object.
        tag: Tag,
        /// Its length.
        len: usize,
    },
    /// A data object's value is invalid for its type.
    #[error("invalid value in {0}")]
    InvalidValue(Tag),
    /// The response is a template this step does not accept.
    #[error("unexpected template {0}")]
    UnexpectedTemplate(Tag),
    /// A directory that does not end within the record limit.
    #[error("too many directory records")]
    TooManyRecords,
    /// The card returned a cryptogram it may not return here (e.g. an ARQC to the second
    /// GENERATE AC, or more than was asked for: Book 3 §9.3).
    #[error("cryptogram not allowed here")]
    CryptogramNotAllowed(#[source] CardActionError),
    /// The card chose the full PBOC path but the flow cannot follow it, or did not choose it
    /// and the caller asked to continue as if it had.
    #[error("AIP does not choose full PBOC")]
    NotFullPboc,
    /// Two data objects that must agree do not (issue 15 item 5): the card's data is
    /// inconsistent, so neither copy can be trusted for an approval or an online request.
    #[error("inconsistent card data")]
    Inconsistent(#[source] DataMismatch),
}

/// Which two card data objects disagree ([`Malformation::Inconsistent`]). The text names the
/// objects, never their values: no PAN or expiry date is ever printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DataMismatch {
    /// The PAN in track 2 data (`track`: `57`, or `9F6B` when it holds track 2 data) differs
    /// from the application PAN `5A` (EMV Book 3 Annex A: both are the same PAN).
    #[error("track 2 PAN mismatch: the PAN in {track} differs from the application PAN (5A)")]
    Track2Pan {
        /// The track 2 object (`57` or `9F6B`).
        track: Tag,
    },
    /// The expiry YYMM in track 2 data differs from the application expiration date `5F24`.
    #[error(
        "track 2 expiry mismatch: the expiry in {track} differs from the application expiration date (5F24)"
    )]
    Track2Expiry {
        /// The track 2 object (`57` or `9F6B`).
        track: Tag,
    },
}

impl From<TlvError> for Malformation {
    fn from(e: TlvError) -> Self {
        Malformation::Tlv(e)
    }
}

impl From<DolError> for Malformation {
    fn from(e: DolError) -> Self {
        Malformation::Dol(e)
    }
}

impl From<AflError> for Malformation {
    fn from(e: AflError) -> Self {
        Malformation::Afl(e)
    }
}

impl From<RecordError> for Malformation {
    fn from(e: RecordError) -> Self {
        Malformation::Record(e)
    }
}

impl From<ApduError> for Malformation {
    fn from(e: ApduError) -> Self {
        Malformation::Command(e)
    }
}

/// The terminal's own configuration cannot serve the card (the terminal's fault, not the
/// card's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFault {
    /// No AID parameters for the application the flow selected.
    #[error("no terminal parameters for the selected application {0}")]
    NoAidParameters(Aid),
    /// The caller continued a flow from a card phase that selected nothing.
    #[error("no application was selected in the card phase")]
    NoApplicationSelected,
}

/// Something went wrong in the exchange with the card: not an outcome by itself, but each maps
/// to one through [`KernelError::outcome`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError<E: core::error::Error + 'static> {
    /// The card left the field during the exchange (a tear; the transport said
    /// [`LinkFailure::CardRemoved`]).
    #[error("card removed")]
    CardRemoved(#[source] E),
    /// The link to the card failed otherwise (timeout, reader fault).
    #[error("communication with the card lost ({failure:?})")]
    LinkLost {
        /// The kind of failure ([`LinkFailure::Timeout`] or [`LinkFailure::Other`]).
        failure: LinkFailure,
        /// The transport's error.
        #[source]
        error: E,
    },
    /// The card's answer was unusable at the APDU layer (fewer than 2 bytes, endless `61xx`,
    /// too long).
    #[error("card answer unusable")]
    Exchange(#[source] ExchangeError<E>),
    /// The card sent malformed data: which object, and what was wrong.
    #[error("card sent malformed {object}")]
    CardData {
        /// The object.
        object: CardObject,
        /// What was wrong.
        #[source]
        reason: Malformation,
    },
    /// The card refused a command the flow cannot do without.
    #[error("card refused {command} with {sw}")]
    Refused {
        /// The command.
        command: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// The card has no PPSE or no application the terminal supports.
    #[error("no supported application on the card")]
    NoApplication,
    /// The terminal's configuration (or the caller) is at fault.
    #[error("terminal configuration")]
    Config(#[source] ConfigFault),
}

impl<E: TransportError> From<ExchangeError<E>> for KernelError<E> {
    /// A transport failure becomes [`KernelError::CardRemoved`] or [`KernelError::LinkLost`] by
    /// its [`LinkFailure`]; an unusable answer stays an [`KernelError::Exchange`].
    fn from(e: ExchangeError<E>) -> Self {
        match e {
            ExchangeError::Transport(error) => match error.link_failure() {
                LinkFailure::CardRemoved => KernelError::CardRemoved(error),
                failure => KernelError::LinkLost { failure, error },
            },
            other => KernelError::Exchange(other),
        }
    }
}

impl<E: TransportError> KernelError<E> {
    /// The error for a selection failure reading the PPSE / PSE directory.
    pub(crate) fn from_selection(e: SelectionError<E>, command: &'static str) -> Self {
        match e {
            SelectionError::Exchange(e) => e.into(),
            SelectionError::NoDirectory => KernelError::NoApplication,
            SelectionError::CardBlocked => KernelError::Refused {
                command,
                sw: StatusWord::FUNCTION_NOT_SUPPORTED,
            },
            SelectionError::Refused(sw) => KernelError::Refused { command, sw },
            SelectionError::Malformed(e) => malformed(CardObject::Ppse, e),
            SelectionError::Missing(tag) => {
                malformed(CardObject::Ppse, Malformation::MissingTag(tag))
            }
            SelectionError::Invalid(tag) => {
                malformed(CardObject::Ppse, Malformation::InvalidValue(tag))
            }
            SelectionError::TooManyRecords => {
                malformed(CardObject::Ppse, Malformation::TooManyRecords)
            }
        }
    }
}

impl<E: core::error::Error + 'static> KernelError<E> {
    /// What the terminal does about this error (EMV Book A §6.2 outcomes, Book B §3.5; EMV
    /// Book 1 §12.4 and Book 3 §10.1 for selection):
    ///
    /// | error | outcome |
    /// |---|---|
    /// | card removed, link lost (mid-tap) | [`Outcome::TryAgain`]: present the card again |
    /// | unusable answer, malformed card data | [`Outcome::EndApplication`] |
    /// | SELECT / GPO refused with `6985` | [`Outcome::SelectNext`] (Book 3 §10.1) |
    /// | SELECT refused with `6A81` (card blocked) | [`Outcome::EndApplication`] |
    /// | any other refusal | [`Outcome::EndApplication`] |
    /// | no application | [`Outcome::EndApplication`] |
    /// | configuration | [`Outcome::EndApplication`] (terminal fault) |
    pub fn outcome(&self) -> Outcome {
        match self {
            KernelError::CardRemoved(_) | KernelError::LinkLost { .. } => Outcome::TryAgain,
            KernelError::Exchange(_) | KernelError::CardData { .. } => Outcome::EndApplication,
            KernelError::Refused { command, sw } => {
                let selection = command.starts_with("SELECT") || *command == GPO;
                if selection && *sw == StatusWord::CONDITIONS_NOT_SATISFIED {
                    Outcome::SelectNext
                } else {
                    Outcome::EndApplication
                }
            }
            KernelError::NoApplication | KernelError::Config(_) => Outcome::EndApplication,
        }
    }

    /// Whether the card left the field.
    pub fn is_card_removed(&self) -> bool {
        matches!(self, KernelError::CardRemoved(_))
    }
}

/// The GET PROCESSING OPTIONS command's name in [`KernelError::Refused`].
pub(crate) const GPO: &str = "GET PROCESSING OPTIONS";

/// The one constructor of [`KernelError::CardData`].
pub(crate) fn malformed<E: core::error::Error + 'static>(
    object: CardObject,
    reason: impl Into<Malformation>,
) -> KernelError<E> {
    KernelError::CardData {
        object,
        reason: reason.into(),
    }
}

/// A missing AIP is the GPO response's fault; a present one must be 2 bytes.
pub(crate) fn aip_check(len: Option<usize>) -> Result<(), Malformation> {
    match len {
        Some(2) => Ok(()),
        Some(len) => Err(Malformation::BadLength {
            tag: tags::AIP,
            len,
        }),
        None => Err(Malformation::MissingTag(tags::AIP)),
    }
}

#[cfg(test)]
mod tests {
    use core::error::Error as _;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Link {
        #[error("card left the field")]
        Gone,
        #[error("card mute")]
        Mute,
    }

    impl TransportError for Link {
        fn link_failure(&self) -> LinkFailure {
            match self {
                Link::Gone => LinkFailure::CardRemoved,
                Link::Mute => LinkFailure::Timeout,
            }
        }
    }

    fn refused(command: &'static str, sw: u16) -> KernelError<Link> {
        KernelError::Refused {
            command,
            sw: StatusWord(sw),
        }
    }

    #[test]
    fn each_error_maps_to_what_the_terminal_does() {
        let removed: KernelError<Link> = ExchangeError::Transport(Link::Gone).into();
        assert!(removed.is_card_removed());
        assert_eq!(removed.outcome(), Outcome::TryAgain);
        let mute: KernelError<Link> = ExchangeError::Transport(Link::Mute).into();
        assert!(!mute.is_card_removed());
        assert!(matches!(
            mute,
            KernelError::LinkLost {
                failure: LinkFailure::Timeout,
                ..
            }
        ));
        assert_eq!(mute.outcome(), Outcome::TryAgain);
        let endless: KernelError<Link> = ExchangeError::TooManyGetResponses { rounds: 16 }.into();
        assert_eq!(endless.outcome(), Outcome::EndApplication);
        let junk: KernelError<Link> =
            malformed(CardObject::GpoResponse, Malformation::MissingTag(tags::AIP));
        assert_eq!(junk.outcome(), Outcome::EndApplication);
        assert_eq!(refused(GPO, 0x6985).outcome(), Outcome::SelectNext);
        assert_eq!(refused("SELECT", 0x6985).outcome(), Outcome::SelectNext);
        assert_eq!(refused(GPO, 0x6A81).outcome(), Outcome::EndApplication);
        assert_eq!(
            refused("READ RECORD", 0x6985).outcome(),
            Outcome::EndApplication
        );
        assert_eq!(
            refused("GENERATE AC", 0x6985).outcome(),
            Outcome::EndApplication
        );
        assert_eq!(
            KernelError::<Link>::NoApplication.outcome(),
            Outcome::EndApplication
        );
        let config = KernelError::<Link>::Config(ConfigFault::NoApplicationSelected);
        assert_eq!(config.outcome(), Outcome::EndApplication);
    }

    #[test]
    fn errors_say_their_cause_once() {
        let removed: KernelError<Link> = ExchangeError::Transport(Link::Gone).into();
        assert_eq!(removed.to_string(), "card removed");
        assert_eq!(
            removed.source().map(ToString::to_string).as_deref(),
            Some("card left the field")
        );
        let junk: KernelError<Link> = malformed(
            CardObject::Record { sfi: 2, record: 3 },
            Malformation::BadLength {
                tag: tags::ATC,
                len: 3,
            },
        );
        let text = junk.to_string();
        assert_eq!(text, "card sent malformed record 3 of SFI 2");
        let cause = junk.source().map(ToString::to_string).expect("cause");
        assert!(cause.contains("length 3"), "{cause}");
        assert!(!text.contains(&cause));
    }

    #[test]
    fn selection_failures_keep_their_blame() {
        let blocked =
            KernelError::from_selection(SelectionError::<Link>::CardBlocked, "SELECT PSE");
        assert!(
            matches!(blocked, KernelError::Refused { sw, .. } if sw == StatusWord::FUNCTION_NOT_SUPPORTED)
        );
        let missing =
            KernelError::from_selection(SelectionError::<Link>::Missing(tags::DF_NAME), "SELECT");
        assert!(matches!(
            missing,
            KernelError::CardData {
                object: CardObject::Ppse,
                reason: Malformation::MissingTag(tag)
            } if tag == tags::DF_NAME
        ));
        let gone = KernelError::from_selection(
            SelectionError::Exchange(ExchangeError::Transport(Link::Gone)),
            "SELECT PPSE",
        );
        assert!(gone.is_card_removed());
    }
}
