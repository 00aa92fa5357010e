//! EMV / PBOC cryptography for quickpass.
#![forbid(unsafe_code)]

pub mod capk;
pub mod cipher;
pub mod emv;
pub mod hash;
pub mod kcv;
pub mod mac;
pub mod oda;
pub mod purse;
pub mod secret;
pub mod sm2;
