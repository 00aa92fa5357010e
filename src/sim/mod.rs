//! A simulated PBOC card, PSAM and issuer host, for tests, demos and integrators' own testing.
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
pub mod faults;
pub mod host;
pub mod pboc;
pub mod profile;
pub mod psam;
pub mod purse;

pub use apdu::{CommandApdu, Reply};
pub use card::{Application, SimError, VirtualCard};
pub use profile::{ApplicationProfile, CardProfile, ProfileError};
