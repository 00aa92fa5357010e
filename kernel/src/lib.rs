//! The pure quickpass kernel: everything between the card's bytes and the terminal's decision,
//! with no I/O of its own.
//!
//! Data flows one way, one module a step:
//!
//! ```text
//! Transport ─▶ transport::ApduLayer (61xx/6Cxx) ─▶ apdu (commands, responses)
//!           ─▶ tlv / tag / tags (BER-TLV, dictionary) ─▶ dol (PDOL, CDOL, DDOL)
//!           ─▶ selection (PSE, PPSE, candidate list) ─▶ … transaction flow (next)
//! ```
//!
//! The kernel never touches a socket, file, clock or random source: the card comes in through
//! the [`transport::Transport`] trait, and dates and unpredictable numbers come in as values, so
//! every exchange replays byte for byte. Typed values ([`values::Aid`], [`values::Amount`],
//! [`values::Pan`], [`bits::Tvr`], …) stand for the wire bytes; a PAN or track 2 never prints in
//! clear.
//!
//! # Example: build a PDOL answer and parse a card response
//!
//! ```
//! use quickpass_kernel::dol::{Dol, DolValues};
//! use quickpass_kernel::Format;
//! use quickpass_kernel::{tags, tlv};
//!
//! // The PDOL of a real UnionPay card (pboc-notes §2.3), and what the terminal fills in.
//! let pdol = Dol::parse(&hex::decode("9F66049F02069F03069F1A0295055F2A029A039C019F3704")?)?;
//! let mut values = DolValues::new();
//! values.insert(tags::TTQ, Format::B, hex::decode("36800000")?);
//! values.insert(tags::AMOUNT_AUTHORISED, Format::N, hex::decode("000000000100")?);
//! values.insert(tags::UNPREDICTABLE_NUMBER, Format::B, hex::decode("11223344")?);
//! let data = pdol.build(&values);
//! assert_eq!(data.len(), 33);
//! assert_eq!(&data[..4], &[0x36, 0x80, 0x00, 0x00]);
//!
//! // A format 2 GPO response: AIP and ATC.
//! let bytes = hex::decode("770982027C009F36020ADC")?;
//! let response = tlv::parse_single(&bytes)?;
//! let atc = response.find(tags::ATC)?.expect("ATC present");
//! assert_eq!(atc.value(), &[0x0A, 0xDC]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

/// Byte strings written as upper-case hex in JSON (`"E0E1C8"`, as every JSON file of the project
/// has them); reading accepts either case. `hex::serde` would write lower case.
pub(crate) type UpperHex = serde_with::hex::Hex<serde_with::formats::Uppercase>;

// The integrator's namespaces: the two EMV flows, the purse flows, configuration, the card link,
// application selection, and the wire-value layer.
pub mod apdu;
pub mod bits;
pub mod config;
pub mod contact;
pub mod contactless;
pub mod dol;
pub mod dump;
pub mod error;
pub mod purse;
pub mod selection;
pub mod tags;
pub mod tlv;
pub mod transport;
pub mod values;

// The steps of the flows: private, what the API needs is re-exported below.
mod afl;
mod capk_params;
mod card_data;
mod card_phase;
mod icc_data;
mod logs;
mod oda;
mod outcome;
mod preprocess;
mod read_records;
mod tag;
mod terminal_values;

pub use card_data::CardData;
pub use card_phase::{CardPhase, CardPhaseError};
pub use logs::{read_log, LogError, LogKind, LogRecord};
pub use oda::{OdaFailure, OdaMethod, OdaReport, OdaStatus, OdaVerified};
pub use outcome::{Outcome, TransactionRecord};
pub use tag::{Format, Tag};
pub use terminal_values::{TerminalValues, TransactionInput};

/// Kernel steps that the project's own simulator, tests, fuzz targets and benches drive one at
/// a time. **Not API**: no stability promise, and a terminal has no reason to call them; use the
/// flows in [`contactless`], [`contact`] and [`purse`].
#[doc(hidden)]
pub mod internal {
    /// AFL entries, record absorption and the static data to be authenticated.
    pub mod afl {
        pub use crate::afl::*;
    }
    /// CA key records in the UnionPay terminal-parameter TLV layout (the crypto crate's
    /// `capk::tlv` loads whole files; this is the single-record entry point and the tags).
    pub mod capk_params {
        pub use crate::capk_params::*;
    }
    /// Field 55 assembly.
    pub mod icc_data {
        pub use crate::icc_data::*;
    }
    /// The ODA steps the flows run.
    pub mod oda {
        pub use crate::oda::*;
    }
    /// The JSON name of a cryptogram type.
    pub use crate::outcome::cryptogram_name;
    /// Amount-dependent pre-processing (EMV Book C-3 §3.1.1).
    pub mod preprocess {
        pub use crate::preprocess::*;
    }
    /// The GPO response and the READ RECORD loop.
    pub mod read_records {
        pub use crate::read_records::*;
    }
}
