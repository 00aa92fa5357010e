//! quickpass: the PBOC / EMV contactless ("QuickPass", qPBOC) payment kernel.
//!
//! This facade crate gathers the pieces a terminal embeds:
//!
//! - [`kernel`] (`quickpass-kernel`): TLV, tag dictionary, DOL, APDUs, the [`kernel::transport::Transport`]
//!   trait and its APDU layer, application selection. Pure: no I/O, clock or randomness.
//! - [`crypto`] (`quickpass-crypto`): hashes, ciphers, MACs, EMV/PBOC key derivation, cryptograms,
//!   purse MACs, SM2, CA keys and offline data authentication.
//! - [`replay`]: a card that answers from a recorded transcript, for tests and field traces.
//! - [`conformance`]: the runner for `quickpass-vectors/1` test vector files.
//! - `rig` (feature `sim`): every terminal flow against the simulated cards, one tap at a time
//!   (long runs, per-flow figures, benches).
//!
//! # Example: select the PPSE of a recorded card
//!
//! ```
//! use quickpass::kernel::selection::{read_ppse_directory, CandidateList, TerminalAid};
//! use quickpass::kernel::transport::ApduLayer;
//! use quickpass::replay::{Exchange, ReplayCard};
//!
//! let hex = |s: &str| hex::decode(s).unwrap();
//! // A real UnionPay card's PPSE answer (pboc-notes §1.1).
//! let mut card = ReplayCard::new([Exchange {
//!     command: hex("00A404000E325041592E5359532E444446303100"),
//!     response: hex("6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101500A50424F43204445424954870101\
//!                    9000"),
//! }]);
//! let mut layer = ApduLayer::new(&mut card);
//! let entries = read_ppse_directory(&mut layer)?;
//! let terminal = [TerminalAid { aid: "A000000333010101".parse()?, partial_match: false }];
//! let candidates = CandidateList::build(entries, &terminal);
//! assert_eq!(candidates.first().unwrap().entry.label.as_deref(), Some("PBOC DEBIT"));
//! assert_eq!(layer.counters().apdus_sent, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod conformance;
pub mod journal;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod replay;
#[cfg(feature = "sim")]
pub mod rig;
pub mod setup;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "sim")]
pub mod terminal;
pub mod vpcd;

pub use quickpass_crypto as crypto;
pub use quickpass_kernel as kernel;
