//! quickpass-sim: the test tooling of quickpass, never compiled into the product.
//!
//! ☢ This crate trusts a test certification authority whose private keys are public
//! ([`ca`], `sim/test-ca/`). Depend on it for tests, demos and card/reader testing only
//! (`[dev-dependencies]`); a terminal build links `quickpass` alone.
//!
//! - A simulated PBOC card, PSAM and issuer hosts ([`VirtualCard`], [`psam`], [`host`]).
//! - [`vpcd`]: the card side of vsmartcard's vpcd protocol, so pcscd sees a simulated card.
//! - [`replay`]: a card that answers from a recorded transcript.
//! - [`rig`]: every terminal flow against the simulated cards, one tap at a time.
//! - [`tap_report`]: a contactless tap's inputs from a command line and its report (text, JSON).
//! - [`conformance`]: the runner for `quickpass-vectors/1` test vector files.
//! - [`data`]: where profiles and configurations live, and the configuration simulated cards
//!   run with (production CA keys plus the test CA).
//!
//! A [`VirtualCard`] holds applications personalised from a JSON card profile
//! (`vectors/cards/README.md` defines the format): UnionPay debit/credit/EC applications with
//! qPBOC and contact behaviour, ED/EP purses, a PSAM. It implements the kernel's
//! [`Transport`](quickpass_kernel::transport::Transport), so the kernel talks to it exactly as
//! to a real reader; the `serve_card` example puts it behind pcscd for any PC/SC application.
//!
//! The cryptography is real: certificates come from a test CA at personalisation, cryptograms,
//! MACs and signatures are computed with `quickpass-crypto`, and the host simulator checks them.

pub mod apdu;
pub mod ca;
pub mod card;
pub mod conformance;
pub mod data;
pub mod faults;
pub mod host;
pub mod mchip;
pub mod pboc;
pub mod profile;
pub mod psam;
pub mod purse;
pub mod relay;
pub mod replay;
pub mod rig;
pub mod tap_report;
pub mod vpcd;

/// Hex text in profiles (upper case when written; either case read), as the kernel's
/// configuration does.
pub(crate) type UpperHex = serde_with::hex::Hex<serde_with::formats::Uppercase>;

pub use apdu::{CommandApdu, Reply};
pub use card::{Application, SimError, VirtualCard};
pub use profile::{ApplicationProfile, CardProfile, JsonError, ProfileError};
