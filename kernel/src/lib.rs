//! The pure PBOC / EMV payment kernel: everything between the card's bytes and the terminal's
//! decision — application selection, the contactless qPBOC tap, the contact EMV / PBOC
//! transaction, the ED/EP purse flows — with no I/O of its own.
//!
//! # What it does, and what it does not
//!
//! It builds every command, parses every answer once into typed values, runs offline data
//! authentication (with `quickpass-crypto`) and takes every decision a terminal kernel takes,
//! ending in an [`Outcome`] with its TVR and data record.
//!
//! It does **not** touch a reader, socket, file, clock or random source, and it stores no keys:
//!
//! - the card comes in through a [`transport::Transport`] you implement (one method:
//!   C-APDU bytes in, R-APDU bytes out); PC/SC lives in the `quickpass` facade;
//! - the date, time and unpredictable number come in as values ([`TransactionInput`]), so every
//!   tap replays byte for byte;
//! - CA keys come in with the configuration ([`config::KernelConfig`]); a PSAM, issuer host,
//!   PIN pad and torn-transaction journal come in through traits ([`purse::Sam`],
//!   [`purse::Host`], [`contact::PinPad`], [`purse::Journal`]).
//!
//! A PAN or track 2 never prints in clear: [`values::Pan`] and the data records mask them.
//!
//! # The API
//!
//! | module | what |
//! |---|---|
//! | [`entry_point`] | Entry Point (EMV Book B): combinations (AID, [`entry_point::KernelId`]), pre-processing per combination, the candidate list, routing to the kernel, Try Again / Select Next, [`entry_point::EntryPoint`] across presentations |
//! | [`contactless`] | the qPBOC tap (kernel 7): [`contactless::transact`], or [`CardPhase`] then `complete` (which runs the selected combination's kernel) |
//! | [`c3`] | the Visa C-3 (qVSDC) kernel: dynamic reader limits, CVM from the CTQ, fDDA 00/01 with format `95`, ODA for online authorisations, issuer update |
//! | [`contact`] | the contact (and contactless full-PBOC) EMV / PBOC transaction |
//! | [`c2`] | the Mastercard contactless kernel (EMV Book C-2, M/Chip): [`c2::transact`] after Entry Point selected the application |
//! | [`c4`] | American Express ExpressPay (EMV Book C-4), EMV mode: [`c4::transact`]; shares the GENERATE AC with CDA of C-2 |
//! | [`purse`] | ED/EP purchase, CAPP purchase and load, with the SAM, host and journal traits |
//! | [`config`] | terminal configuration and CA keys, validated when built |
//! | [`deny_list`] | the deny list (hot list) of hashed card keys, its deltas, and the [`deny_list::DenyCheck`] trait the flows take |
//! | [`transport`] | the card link ([`transport::Transport`]) and the APDU layer over it |
//! | [`selection`] | PSE / PPSE directories and the candidate list |
//! | [`error`] | [`error::KernelError`]: what broke, and the outcome each error maps to |
//! | [`outcome_parameters`] | the Outcome Parameter Set every contactless kernel returns to Entry Point (start point, UI requests, CVM, field off, removal timeout) |
//! | [`apdu`], [`tlv`], [`tags`], [`dol`], [`bits`], [`values`], [`dump`] | the wire-value layer: commands and responses, BER-TLV, the tag dictionary, data object lists, TVR / TSI / AIP / TTQ / CTQ bits, typed values, readable dumps |
//!
//! The crate root re-exports what every flow shares: [`Outcome`] and [`TransactionRecord`],
//! [`TransactionInput`] and [`TerminalValues`], [`CardPhase`] (with [`CardData`], what the card
//! sent), the ODA result ([`OdaReport`], [`OdaStatus`], …), the card's transaction log
//! ([`read_log`]) and the [`Tag`] type with its [`Format`]. The steps of the flows (AFL, record
//! reading, pre-processing, field 55, the ODA runs) are private.
//!
//! # Data flow
//!
//! Data flows one way, one module a step:
//!
//! ```text
//! your Transport ─▶ transport::ApduLayer (61xx / 6Cxx, counters, recorder)
//!   ─▶ apdu (commands, responses) ─▶ tlv / tags (BER-TLV, dictionary) ─▶ dol (PDOL, CDOL, DDOL)
//!   ─▶ selection (PPSE / PSE ─▶ candidate list ─▶ SELECT)
//!   ─▶ contactless:  CardPhase::read   GPO (PDOL from TerminalValues) ─▶ READ RECORD × AFL ─▶ CardData
//!                    ══ "card read, remove card" ══
//!                    CardPhase::complete   cryptogram type ─▶ fDDA ─▶ card checks
//!                    ─▶ TransactionResult { Outcome, TVR, TSI, field 55, TransactionRecord }
//!   ─▶ contact:      start ─▶ ODA, CVM, risk management, action analysis ─▶ GENERATE AC
//!                    ─▶ complete_online (issuer authentication, scripts) ─▶ ContactResult
//!   ─▶ purse:        purchase / capp_purchase / load (card + Sam / Host + Journal) ─▶ TapResult
//! ```
//!
//! # A tap in two phases
//!
//! A contactless tap is a **card phase** that sends every APDU ([`CardPhase::read`]: PPSE,
//! SELECT, GPO, READ RECORD) and a **completion phase** with no I/O ([`CardPhase::complete`]:
//! fDDA, expiry, exception file, the decision). The terminal can beep "card read, remove card"
//! between the two, before the signature check runs. [`contactless::transact`] does both in one
//! call.
//!
//! # Errors are not outcomes
//!
//! An approval, a decline, an online request, "try another interface" are normal results: an
//! [`Outcome`] with the TVR that says why. Only a failed exchange is an error
//! ([`error::KernelError`]: the card left, the link broke, the card sent malformed data or
//! refused a command it must accept, the configuration is wrong), and each error maps to an
//! outcome through one function, [`error::KernelError::outcome`] (a card taken away mid-tap is
//! [`Outcome::TryAgain`]). [`contactless::transact`] folds the error into its result and keeps
//! it as the typed reason, so a caller always has an outcome to act on.
//!
//! # Example: a whole contactless tap
//!
//! A [`transport::Transport`] that answers from a recorded table (a real tap of the simulated
//! online-only UnionPay credit card, `vectors/cards/qpboc-credit-online.json`): PPSE, SELECT,
//! GPO. The card answers an ARQC, so the outcome is an online request with field 55 for the
//! host.
//!
//! ```
//! use quickpass_kernel::config::{KernelConfig, TerminalConfig};
//! use quickpass_kernel::contactless;
//! use quickpass_kernel::transport::{ApduLayer, Transport};
//! use quickpass_kernel::values::{Amount, TransactionDate, TransactionTime};
//! use quickpass_kernel::{CardPhase, Outcome, TransactionInput};
//!
//! /// A card that answers from a table of recorded exchanges (C-APDU hex → R-APDU hex).
//! struct Recorded(&'static [(&'static str, &'static str)]);
//!
//! impl Transport for Recorded {
//!     type Error = std::io::Error;
//!
//!     fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
//!         let command = hex::encode_upper(command);
//!         let (_, response) = self.0.iter().find(|(c, _)| *c == command).ok_or_else(|| {
//!             std::io::Error::other(format!("no recorded answer to {command}"))
//!         })?;
//!         Ok(hex::decode(response).expect("recorded hex"))
//!     }
//! }
//!
//! const TAP: &[(&str, &str)] = &[
//!     // SELECT 2PAY.SYS.DDF01 (PPSE): one application, A000000333010102 "PBOC CREDIT".
//!     ("00A404000E325041592E5359532E444446303100",
//!      "6F43840E325041592E5359532E4444463031A531BF0C2E612C4F08A000000333010102500B50424F432043\
//!       52454449549F120F554E494F4E504159204352454449548701019000"),
//!     // SELECT the application: its FCI with the PDOL 9F38.
//!     ("00A4040008A00000033301010200",
//!      "6F618408A000000333010102A555500B50424F43204352454449548701019F38189F66049F02069F03069F\
//!       1A0295055F2A029A039C019F37045F2D047A68656E9F1101019F120F554E494F4E50415920435245444954\
//!       BF0C0A9F4D020B0ADF4D020C0A9000"),
//!     // GET PROCESSING OPTIONS with the PDOL data (TTQ, amount 1.50, date, UN 12345678):
//!     // AIP, ATC, an ARQC (9F26), IAD, track 2; no AFL, so no READ RECORD.
//!     ("80A8000023832136800080000000000150000000000000015600000000000156261128001234567800",
//!      "774882027C009F360203E99F2608003E250DEC93C03F9F101307010103A00000010A01000000000011388A\
//!       FF57136250940012345675D29112200000000000000F5F3401019F6C0280009000"),
//! ];
//!
//! // The terminal: a UnionPay contactless terminal, one AID, no CA keys (online only).
//! let terminal = TerminalConfig::from_json(r#"{
//!     "terminal": {
//!         "country_code": 156, "currency_code": 156, "currency_exponent": 2,
//!         "terminal_type": "22", "capabilities": "E0E1C8",
//!         "additional_capabilities": "6000F0A001", "ifd_serial": "QP000001",
//!         "terminal_id": "12345678", "merchant_id": "123456789012345",
//!         "merchant_name_location": "QUICKPASS BUS 1", "merchant_category_code": 4111,
//!         "online_capable": true, "contact_supported": true, "sm_supported": false
//!     },
//!     "aids": [{
//!         "aid": "A000000333010102", "partial_match": true, "application_version": "0030",
//!         "tac_default": "D84000A800", "tac_denial": "0010000000", "tac_online": "D84004F800",
//!         "floor_limit": 0, "contactless_transaction_limit": 100000, "cvm_limit": 30000,
//!         "contactless_floor_limit": 0
//!     }],
//!     "revoked_certificates": [],
//!     "exception_file": []
//! }"#)?;
//! let config = KernelConfig::new(terminal, quickpass_crypto::capk::CapkStore::new());
//!
//! // What the caller brings: amount, date, time and the unpredictable number.
//! let input = TransactionInput {
//!     amount: Amount::from_minor(150)?,
//!     amount_other: Amount::ZERO,
//!     transaction_type: 0x00,
//!     date: TransactionDate::new(2026, 11, 28)?,
//!     time: TransactionTime::new(8, 30, 0)?,
//!     unpredictable_number: [0x12, 0x34, 0x56, 0x78],
//! };
//!
//! // One call: card phase, then completion.
//! let tap = contactless::transact(&config, &input, &mut ApduLayer::new(Recorded(TAP)));
//! assert!(tap.error.is_none());
//! assert_eq!(tap.outcome(), Outcome::OnlineRequest);
//! let record = tap.result.record();
//! assert_eq!(record.apdus, 3);
//! assert_eq!(record.pan.as_deref(), Some("625094******5675"));
//! let field_55 = tap.result.field_55.as_deref().expect("field 55 for the host");
//! assert!(field_55.starts_with(&hex::decode("9F2608003E250DEC93C03F")?)); // the ARQC
//!
//! // The same tap in two phases, with "remove card" in between.
//! let mut phase = CardPhase::new(&config, &input);
//! phase.read(&config, &mut ApduLayer::new(Recorded(TAP)))?;
//! // ... beep, "card read, remove card" ...
//! let result = phase.complete(&config);
//! assert_eq!(result.outcome, Outcome::OnlineRequest);
//!
//! // A card that stops answering after the PPSE is an error, folded into the outcome "try
//! // again" (present the card again); the typed error is kept.
//! let torn = contactless::transact(&config, &input, &mut ApduLayer::new(Recorded(&TAP[..1])));
//! assert!(torn.error.is_some());
//! assert_eq!(torn.outcome(), Outcome::TryAgain);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: build a PDOL answer and parse a card response
//!
//! ```
//! use quickpass_kernel::dol::{Dol, DolValues};
//! use quickpass_kernel::{tags, tlv, Format};
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
//!
//! # `no_std`
//!
//! With the default `std` feature off the crate is `#![no_std]` and needs only `alloc` and a
//! global allocator: `cargo build -p quickpass-kernel --no-default-features --target
//! thumbv7em-none-eabihf` (CI does), and `embedded/tap-m4` runs a whole qPBOC tap with fDDA on a
//! Cortex-M4. The flows are the same; `std` adds [`transport::TransportError`] for
//! `std::io::Error` and the crypto crate's ODA memo and SM2 generator tables.
#![forbid(unsafe_code)]
// Unit tests always link std (the test harness needs it); see the `std` feature above.
#![cfg_attr(not(any(feature = "std", test)), no_std)]

extern crate alloc;

/// Byte strings written as upper-case hex in JSON (`"E0E1C8"`, as every JSON file of the project
/// has them); reading accepts either case. `hex::serde` would write lower case.
pub(crate) type UpperHex = serde_with::hex::Hex<serde_with::formats::Uppercase>;

// The integrator's namespaces: the two EMV flows, the purse flows, configuration, the card link,
// application selection, and the wire-value layer.
pub mod apdu;
pub mod bits;
pub mod c2;
pub mod c3;
pub mod c4;
pub mod clearing;
pub mod config;
pub mod contact;
pub mod contactless;
pub mod deny_list;
pub mod dol;
pub mod dump;
pub mod entry_point;
pub mod error;
pub mod outcome_parameters;
pub mod purse;
pub mod selection;
pub mod tags;
pub mod tlv;
pub mod transit;
pub mod transport;
pub mod values;

// The steps of the flows: private, what the API needs is re-exported below.
mod afl;
mod capk_params;
mod card_data;
mod card_phase;
mod cda_ac;
mod contactless_cvm;
mod contactless_online;
mod icc_data;
mod logs;
mod oda;
mod outcome;
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
    /// The JSON name of a cryptogram type.
    pub use crate::outcome::cryptogram_name;
    /// The GPO response and the READ RECORD loop.
    pub mod read_records {
        pub use crate::read_records::*;
    }
}
