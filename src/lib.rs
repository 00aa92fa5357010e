//! quickpass: the PBOC / EMV contactless ("QuickPass", qPBOC) payment kernel.
#![forbid(unsafe_code)]

pub mod conformance;
pub mod replay;

pub use quickpass_crypto as crypto;
pub use quickpass_kernel as kernel;
