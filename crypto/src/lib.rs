//! EMV / PBOC cryptography for quickpass.
#![forbid(unsafe_code)]

pub mod capk;
pub mod cipher;
pub mod date;
pub mod emv;
pub mod hash;
pub mod kcv;
pub mod mac;
pub mod oda;
pub mod purse;
pub mod secret;
pub mod sm2;

pub use capk::{CaPublicKey, CapkError, CapkIndex, CapkStore, HashAlgorithm, PkAlgorithm, Rid};
pub use date::Date;
pub use oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad, verify_ssad,
    CdaSignature, DataAuthenticationCode, DynamicSignature, IccPublicKey, IssuerPublicKey,
    OdaError, SdadFormats,
};
