//! EMV / PBOC cryptography for quickpass: the algorithms, none of the card logic.
//!
//! | module | what | spec |
//! |---|---|---|
//! | [`hash`] | SHA-1, SHA-256, SM3 | FIPS 180-4, GB/T 32905 |
//! | [`cipher`] | DES, 3DES, SM4, AES in ECB and CBC | FIPS 46-3, GB/T 32907, FIPS 197 |
//! | [`mac`] | ISO/IEC 9797-1 MAC algorithms 1–3, padding methods 1–3 | ISO/IEC 9797-1 |
//! | [`kcv`] | key check values | — |
//! | [`secret`] | [`secret::SecretKey`]: zeroized on drop, never printed | — |
//! | [`emv`] | ICC master key (options A/B), session keys, AC, ARPC | EMV Book 2 Annex A1 |
//! | [`purse`] | PBOC ED/EP session keys, MAC1/MAC2/TAC | JR/T 0025 part 1 (pboc-notes §4.2) |
//! | [`sm2`] | SM2 signatures and encryption | GB/T 32918 |
//! | [`capk`] | CA public keys, checksums, the key store | EMV Book 2 §11.2 |
//! | [`oda`] | issuer/ICC key recovery, SSAD, SDAD, CDA, and the PBOC SM2 variant | EMV Book 2 §5–6 |
//!
//! Every primitive comes from the RustCrypto crates (`des`, `aes`, `sm4`, `sha1`, `sha2`, `sm3`,
//! `sm2`, `rsa`); this crate does no I/O, reads no clock and draws no randomness.
//!
//! # Example: a real card's fDDA, checked from the CA key to the signature
//!
//! The chain of a Visa debit card's qVSDC tap (`vectors/oda-visa-debit-fdda.json`): the issuer
//! key is recovered with the CA key, the ICC key with the issuer key, and the signed dynamic
//! data is verified over the terminal's data. Each step only takes the previous step's output,
//! so an unverified key cannot reach a later check.
//!
//! ```
//! use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
//! use quickpass_crypto::oda::{recover_icc_public_key, recover_issuer_public_key, verify_sdad, SdadFormats};
//! use quickpass_crypto::Date;
//!
//! let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/oda-visa-debit-fdda.json"))?;
//! let case = &serde_json::from_str::<serde_json::Value>(&file)?["cases"][0];
//! let bytes = |path: &[&str]| {
//!     let value = path.iter().fold(case, |value, key| &value[*key]);
//!     hex::decode(value.as_str().expect("hex field"))
//! };
//!
//! // The terminal's CA key (Visa, index 09), checked against its checksum.
//! let (rid, index) = (Rid(bytes(&["capk", "rid"])?.try_into().expect("5 bytes")), CapkIndex(0x09));
//! let (modulus, exponent) = (bytes(&["capk", "modulus"])?, bytes(&["capk", "exponent"])?);
//! let checksum = rsa_checksum(rid, index, &modulus, &exponent);
//! let ca = CaPublicKey::new_rsa(rid, index, &modulus, &exponent, HashAlgorithm::Sha1, None, &checksum)?;
//!
//! let (pan, today) = (bytes(&["pan"])?, Date::new(2023, 3, 1)?);
//! let issuer = recover_issuer_public_key(
//!     &ca, &bytes(&["issuer", "certificate"])?, &[], &bytes(&["issuer", "exponent"])?, &pan, today,
//! )?;
//! let icc = recover_icc_public_key(
//!     &issuer, &bytes(&["icc", "certificate"])?, &[], &bytes(&["icc", "exponent"])?, &pan,
//!     &bytes(&["static_data"])?, today,
//! )?;
//! let signature = verify_sdad(&icc, &bytes(&["sdad"])?, &bytes(&["dynamic_data"])?, SdadFormats::FDDA)?;
//! assert_eq!(signature.icc_dynamic_number(), [0x00, 0xC3]);
//!
//! // One flipped bit in the terminal's data and the signature no longer verifies.
//! let mut tampered = bytes(&["dynamic_data"])?;
//! tampered[0] ^= 0x01;
//! assert!(verify_sdad(&icc, &bytes(&["sdad"])?, &tampered, SdadFormats::FDDA).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: the PBOC purse MAC2 of a purchase
//!
//! ```
//! use quickpass_crypto::{purse, secret::SecretKey};
//!
//! // pboc-notes §4.2, purchase vector: DPK, card random 11223344, offline counter 0, serial 1.
//! let dpk = SecretKey::new(&hex::decode("11223344556677888877665544332211")?);
//! let session = purse::purchase_session_key(&dpk, [0x11, 0x22, 0x33, 0x44], 0, 1)?;
//! assert_eq!(purse::purchase_mac2(&session, 0x1000)?, [0x56, 0x98, 0x8A, 0x13]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # `no_std`
//!
//! With the default `std` feature off the crate is `#![no_std]` and needs only `alloc` (built
//! for `thumbv7em-none-eabihf` in CI; `embedded/tap-m4` runs a tap on a Cortex-M4). Everything
//! above works the same; what needs `std` is left out: the ODA keys' memo of recovered
//! certificates (it needs a lock, and its worst case of megabytes does not fit an MCU: each ODA
//! check does its arithmetic every time) and the SM2 generator's precomputed tables (a lazily
//! built static; they speed up signing, not ODA's verification).
#![forbid(unsafe_code)]
// Unit tests always link std (the test harness needs it); see the `std` feature above.
#![cfg_attr(not(any(feature = "std", test)), no_std)]

extern crate alloc;

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
mod sm2_vartime;

pub use capk::{
    CaPublicKey, CapkError, CapkIndex, CapkStore, HashAlgorithm, KeyId, PkAlgorithm, Rid,
};
pub use date::Date;
pub use oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad, verify_ssad,
    CdaSignature, DataAuthenticationCode, DynamicSignature, IccPublicKey, IssuerPublicKey,
    OdaError, SdadFormats,
};
