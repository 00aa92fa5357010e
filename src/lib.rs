//! quickpass: the PBOC / EMV contactless ("QuickPass", qPBOC) payment kernel, as a terminal
//! embeds it.
//!
//! This facade is the product: what a bus validator, taxi POS or top-up machine links.
//!
//! - [`kernel`] (`quickpass-kernel`): the pure kernel — TLV, DOL, APDUs, the
//!   [`Transport`](kernel::transport::Transport) trait, application selection, the contactless
//!   (qPBOC) and contact (PBOC/EMV) flows, ODA decisions, the ED/EP purse flows. No I/O, clock or
//!   randomness of its own.
//! - [`crypto`] (`quickpass-crypto`): hashes, ciphers, MACs, EMV/PBOC key derivation,
//!   cryptograms, purse MACs, SM2, CA keys and offline data authentication.
//! - [`setup`]: the terminal configuration and the production CA key lists, from explicit paths;
//!   a list holding a known test key is refused.
//! - [`deny_list`]: deny-list files (a full list and its deltas, hashed card keys only) for the
//!   kernel's [`kernel::deny_list::DenyList`].
//! - [`store`]: the terminal's store, an embedded SQLite database — the purse journal, the
//!   records on their way to the back office (batches, acknowledgement, pruning) and the
//!   deferred authorisation queue; one writer at a time, refused at start-up when unusable.
//! - [`journal`]: the JSON file journal for purse transactions (tests and PC tools, and the
//!   format the store imports; a terminal uses [`store`]).
//! - [`clock`] and [`random`]: the local date and time, and the unpredictable number, that the
//!   kernel takes as values.
//! - [`report`]: an error and its causes as one line, each said once.
//! - `pcsc` (feature `pcsc`): the kernel's `Transport` over a PC/SC reader.
//!
//! What is not here: the simulated card, PSAM and hosts, the test CA, the vpcd card server, the
//! replay card and the conformance runner live in the `quickpass-sim` crate, which is never
//! compiled into the product (no test key is in any build of this crate).
//!
//! # Example: a whole contactless tap
//!
//! Against the simulated UnionPay debit card of `quickpass-sim` (a dev-dependency: its test CA
//! is trusted here, as it must never be in a terminal): one call runs PPSE, SELECT, GPO, the
//! records and fDDA, and always returns an outcome.
//!
//! ```
//! use quickpass::kernel::contactless;
//! use quickpass::kernel::Outcome;
//! use quickpass::kernel::TransactionInput;
//! use quickpass::kernel::transport::ApduLayer;
//! use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
//! use quickpass_sim::{data, CardProfile};
//!
//! // A terminal loads its configuration and production CA keys with `quickpass::setup`;
//! // this one also trusts the simulator's test CA.
//! let config = data::default_kernel_config()?;
//! let mut card = CardProfile::load(data::card_profile("qpboc-debit-offline"))?.build()?;
//!
//! let input = TransactionInput {
//!     amount: Amount::from_minor(150)?, // ¥1.50
//!     amount_other: Amount::ZERO,
//!     transaction_type: 0x00,
//!     date: TransactionDate::new(2026, 3, 1)?,
//!     time: TransactionTime::new(8, 30, 0)?,
//!     unpredictable_number: [0x12, 0x34, 0x56, 0x78], // quickpass::random in a terminal
//! };
//! let mut layer = ApduLayer::new(&mut card);
//! let tapped = contactless::transact(&config, &input, &mut layer);
//! assert!(tapped.error.is_none());
//! assert_eq!(tapped.outcome(), Outcome::Approved); // offline: TC and fDDA verified
//! let record = tapped.result.record();
//! assert_eq!(record.cryptogram_type, Some("TC"));
//! assert_eq!(record.apdus, 7); // PPSE, SELECT, GPO and the AFL's four records
//! let pan = record.pan.as_deref().expect("PAN read");
//! assert!(pan.starts_with("622848") && !pan.contains("6228480012345671")); // masked
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: select the PPSE of a card through your own transport
//!
//! ```
//! use quickpass::kernel::selection::{read_ppse_directory, CandidateList, TerminalAid};
//! use quickpass::kernel::transport::{ApduLayer, Transport};
//!
//! /// A reader of your own: here it answers SELECT PPSE like a real UnionPay card.
//! struct MyReader;
//!
//! impl Transport for MyReader {
//!     type Error = std::io::Error;
//!
//!     fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
//!         assert_eq!(command[..4], [0x00, 0xA4, 0x04, 0x00]);
//!         Ok(hex::decode(
//!             "6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101500A50424F\
//!              43204445424954870101\
//!              9000",
//!         )
//!         .expect("hex"))
//!     }
//! }
//!
//! let mut reader = MyReader;
//! let mut layer = ApduLayer::new(&mut reader);
//! let entries = read_ppse_directory(&mut layer)?;
//! let terminal = [TerminalAid { aid: "A000000333010101".parse()?, partial_match: false }];
//! let candidates = CandidateList::build(entries, &terminal);
//! assert_eq!(candidates.first().unwrap().entry.label.as_deref(), Some("PBOC DEBIT"));
//! assert_eq!(layer.counters().apdus_sent, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod clock;
pub mod deny_list;
pub mod journal;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod random;
pub mod report;
pub mod setup;
pub mod store;

pub use quickpass_crypto as crypto;
pub use quickpass_kernel as kernel;
