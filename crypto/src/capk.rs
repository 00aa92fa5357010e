//! Certification authority public keys (CAPKs) and the terminal's CAPK store
//! (EMV Book 2 §5.1, Annex A2.1 and §11.2 "Certification Authority Public Key Management";
//! PBOC 3.0 adds SM2 keys, pboc-notes §3.2/§3.5).
//!
//! A key is identified by its RID and index (tag `8F`). Its checksum is
//! SHA-1(RID ‖ index ‖ modulus ‖ exponent) (EMV Book 2 Annex A2.1, vectors README §3.5); a store
//! refuses any key whose checksum fails. The RSA arithmetic state (Montgomery parameters) is
//! built once, when the key is constructed, and reused by every ODA operation.
//!
//! Keys come from three places: built in code ([`CaPublicKey::new_rsa`],
//! [`CaPublicKey::new_sm2`]), the project's `quickpass-vectors/1` `capk` JSON files
//! ([`CapkStore::load_vector_file`], RSA only as that format is), and production key files in
//! the UnionPay/PBOC terminal-parameter TLV layout, RSA and SM2 ([`tlv`],
//! [`CapkStore::load_tlv_file`]); [`CapkStore::load_key_file`] takes any of the file forms. One
//! store serves RSA and SM2 ODA: the key's algorithm decides which verification runs.
//!
//! Revocation lists are the kernel's business, not this module's.

pub mod tlv;

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::{boxed::Box, format, vec::Vec};
use core::fmt;

use serde::Deserialize;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use sm3::Sm3;

use crate::date::Date;
use crate::oda::rsa_key::{RsaKey, RsaKeyError};
use crate::oda::sm2::Sm2Point;

/// Registered application provider identifier, tag `9F06` first 5 bytes of the AID
/// (EMV Book 1 §12.2.1, Book 2 §11.2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rid(pub [u8; 5]);

impl fmt::Debug for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rid({self})")
    }
}

impl fmt::Display for Rid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.0))
    }
}

impl TryFrom<&[u8]> for Rid {
    type Error = CapkError;
    fn try_from(b: &[u8]) -> Result<Self, CapkError> {
        <[u8; 5]>::try_from(b)
            .map(Rid)
            .map_err(|_| CapkError::RidLength { found: b.len() })
    }
}

/// Certification authority public key index, tag `8F` (EMV Book 2 §5.2, §11.2.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapkIndex(pub u8);

impl fmt::Debug for CapkIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapkIndex({:02X})", self.0)
    }
}

/// A CA key's identity: RID and index (EMV Book 2 §11.2.2). Displayed `A000000333/08`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    /// The RID.
    pub rid: Rid,
    /// The index (tag `8F`).
    pub index: CapkIndex,
}

impl fmt::Display for CapkIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// Hash algorithm indicator (EMV Book 2 Annex B2.3; PBOC 3.0 Part 17 adds SM3, pboc-notes §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `01`: SHA-1.
    Sha1,
    /// `07`: SM3 (PBOC 3.0).
    Sm3,
}

impl HashAlgorithm {
    /// The wire value of the indicator.
    pub fn indicator(self) -> u8 {
        match self {
            Self::Sha1 => 0x01,
            Self::Sm3 => 0x07,
        }
    }

    /// The algorithm for a wire indicator, if supported.
    pub fn from_indicator(value: u8) -> Option<Self> {
        match value {
            0x01 => Some(Self::Sha1),
            0x07 => Some(Self::Sm3),
            _ => None,
        }
    }
}

/// Public key algorithm indicator (EMV Book 2 Annex B2.4; PBOC 3.0 Part 17 adds SM2,
/// pboc-notes §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PkAlgorithm {
    /// `01`: RSA.
    Rsa,
    /// `04`: SM2 (PBOC 3.0).
    Sm2,
}

impl PkAlgorithm {
    /// The wire value of the indicator.
    pub fn indicator(self) -> u8 {
        match self {
            Self::Rsa => 0x01,
            Self::Sm2 => 0x04,
        }
    }

    /// The algorithm for a wire indicator, if supported.
    pub fn from_indicator(value: u8) -> Option<Self> {
        match value {
            0x01 => Some(Self::Rsa),
            0x04 => Some(Self::Sm2),
            _ => None,
        }
    }
}

/// Errors building, checking or loading CA public keys (EMV Book 2 §11.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapkError {
    /// The checksum does not match the key (EMV Book 2 §11.2.2: the terminal must verify it).
    #[error("CA public key {rid}/{index}: checksum does not match the key")]
    ChecksumMismatch {
        /// RID of the refused key.
        rid: Rid,
        /// Index of the refused key.
        index: CapkIndex,
    },
    /// The RID is not 5 bytes.
    #[error("RID has {found} bytes, expected 5")]
    RidLength {
        /// Bytes found.
        found: usize,
    },
    /// RSA modulus length outside 64–248 bytes (EMV Book 2 Annex A2.1: at most 1984 bits), or
    /// with a leading zero byte.
    #[error(
        "CA public key modulus of {length} bytes is not usable (64 to 248 bytes, no leading zero)"
    )]
    ModulusLength {
        /// Bytes given.
        length: usize,
    },
    /// RSA exponent empty, zero or longer than 3 bytes (EMV Book 2 Annex A2.1: 3 or 2^16+1).
    #[error("CA public key exponent is not usable")]
    Exponent,
    /// RSA key rejected by the arithmetic (even modulus or exponent, exponent ≥ modulus).
    #[error("CA public key is not a valid RSA key")]
    InvalidRsaKey,
    /// SM2 public key not 64 bytes X ‖ Y, or not a point of the curve.
    #[error("CA public key is not a valid SM2 public key")]
    InvalidSm2Key,
    /// The hash algorithm indicator is not supported.
    #[error("unsupported CA public key hash algorithm indicator {0:02X}")]
    UnsupportedHashAlgorithm(u8),
    /// The checksum has the wrong length for its hash algorithm.
    #[error("CA public key checksum has {found} bytes, expected {expected}")]
    ChecksumLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The vector file is not a `quickpass-vectors/1` `capk` file (vectors README §1.1).
    #[error("not a capk vector file: {0}")]
    VectorFile(String),
    /// One case of a vector file is malformed (vectors README §3.5).
    #[error("malformed capk case: {0}")]
    VectorCase(String),
    /// The BER-TLV coding of a CA key file or record is malformed ([`tlv`]).
    #[error("malformed CA key TLV at byte {offset}: {problem}")]
    Tlv {
        /// Offset in the file (or record) of the object at fault.
        offset: usize,
        /// What is wrong.
        problem: tlv::TlvProblem,
    },
    /// A CA key record lacks a mandatory data object ([`tlv`]).
    #[error("CA key record lacks tag {tag:04X}")]
    MissingField {
        /// The tag, e.g. `0x9F22`.
        tag: u32,
    },
    /// A CA key record has a data object of the wrong length or value ([`tlv`]).
    #[error("CA key record has an invalid tag {tag:04X}")]
    InvalidField {
        /// The tag, e.g. `0xDF05`.
        tag: u32,
    },
    /// The public key algorithm indicator (`DF07`) is neither `01` RSA nor `04` SM2.
    #[error("unsupported CA public key algorithm indicator {0:02X}")]
    UnsupportedPkAlgorithm(u8),
    /// A CA key file holds no record at all.
    #[error("CA key file holds no key record")]
    NoRecords,
}

impl From<RsaKeyError> for CapkError {
    fn from(e: RsaKeyError) -> Self {
        match e {
            RsaKeyError::ModulusLength(length) => Self::ModulusLength { length },
            RsaKeyError::Exponent => Self::Exponent,
            RsaKeyError::Invalid => Self::InvalidRsaKey,
        }
    }
}

#[derive(Clone)]
pub(crate) enum CaKey {
    Rsa(RsaKey),
    Sm2(Box<Sm2Point>),
}

/// A certification authority public key (EMV Book 2 §5.1 and Annex A2.1), RSA or SM2.
///
/// Built with [`CaPublicKey::new_rsa`] or [`CaPublicKey::new_sm2`]; construction validates the
/// sizes and prepares the arithmetic state once. A key whose checksum fails can be built (to
/// inspect it) but [`CapkStore::insert`] refuses it.
#[derive(Clone)]
pub struct CaPublicKey {
    rid: Rid,
    index: CapkIndex,
    hash_algorithm: HashAlgorithm,
    expiry: Option<Date>,
    checksum: Box<[u8]>,
    checksum_valid: bool,
    pub(crate) key: CaKey,
}

impl fmt::Debug for CaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Lengths only: no key material in logs.
        f.debug_struct("CaPublicKey")
            .field("rid", &self.rid)
            .field("index", &self.index)
            .field("algorithm", &self.pk_algorithm())
            .field("key_len", &self.key_bytes().len())
            .field("hash_algorithm", &self.hash_algorithm)
            .field("expiry", &self.expiry)
            .field("checksum_valid", &self.checksum_valid)
            .finish()
    }
}

/// ⚠ THE ONE PLACE that decides the CAPK checksum rule (EMV Book 2 Annex A2.1; pboc-notes §3.2
/// and §7 item 8).
///
/// - RSA: SHA-1(RID ‖ index ‖ modulus ‖ exponent) — verified, vectors README §3.5.
/// - SM2: **unverified choice.** No source shows how a PBOC SM2 CAPK checksum is computed. This
///   uses the key's own hash algorithm indicator (`07` SM3 → 32 bytes, `01` SHA-1 → 20 bytes) over
///   RID ‖ index ‖ X ‖ Y (the 64-byte public key in place of modulus ‖ exponent, no exponent).
///   Change it here once JR/T 0025.17 (or UnionPay's CAPK file) says otherwise.
fn compute_checksum(
    rid: &Rid,
    index: CapkIndex,
    key: &[u8],
    exponent: &[u8],
    sm3: bool,
) -> Vec<u8> {
    if sm3 {
        let mut h = Sm3::new();
        h.update(rid.0);
        h.update([index.0]);
        h.update(key);
        h.update(exponent);
        h.finalize().to_vec()
    } else {
        let mut h = Sha1::new();
        h.update(rid.0);
        h.update([index.0]);
        h.update(key);
        h.update(exponent);
        h.finalize().to_vec()
    }
}

fn checksum_of(rid: &Rid, index: CapkIndex, key: &CaKey, hash_algorithm: HashAlgorithm) -> Vec<u8> {
    match key {
        CaKey::Rsa(k) => compute_checksum(rid, index, k.modulus(), k.exponent(), false),
        CaKey::Sm2(p) => compute_checksum(
            rid,
            index,
            p.as_bytes(),
            &[],
            hash_algorithm == HashAlgorithm::Sm3,
        ),
    }
}

/// The checksum an RSA CA public key must carry: SHA-1(RID ‖ index ‖ modulus ‖ exponent)
/// (EMV Book 2 Annex A2.1, vectors README §3.5).
pub fn rsa_checksum(rid: Rid, index: CapkIndex, modulus: &[u8], exponent: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&compute_checksum(&rid, index, modulus, exponent, false));
    out
}

/// The checksum an SM2 CA public key must carry under this crate's ⚠ unverified rule
/// (the key's hash algorithm over RID ‖ index ‖ X ‖ Y; pboc-notes §7 item 8).
pub fn sm2_checksum(
    rid: Rid,
    index: CapkIndex,
    public_key: &[u8; 64],
    hash_algorithm: HashAlgorithm,
) -> Vec<u8> {
    compute_checksum(
        &rid,
        index,
        public_key,
        &[],
        hash_algorithm == HashAlgorithm::Sm3,
    )
}

fn checksum_len(key: &CaKey, hash_algorithm: HashAlgorithm) -> usize {
    match (key, hash_algorithm) {
        (CaKey::Sm2(_), HashAlgorithm::Sm3) => 32,
        _ => 20,
    }
}

impl CaPublicKey {
    /// An RSA CA public key (EMV Book 2 Annex A2.1): modulus 64–248 bytes without leading zero,
    /// exponent 1–3 bytes. The hash algorithm must be SHA-1 (indicator `01`).
    pub fn new_rsa(
        rid: Rid,
        index: CapkIndex,
        modulus: &[u8],
        exponent: &[u8],
        hash_algorithm: HashAlgorithm,
        expiry: Option<Date>,
        checksum: &[u8],
    ) -> Result<Self, CapkError> {
        if hash_algorithm != HashAlgorithm::Sha1 {
            return Err(CapkError::UnsupportedHashAlgorithm(
                hash_algorithm.indicator(),
            ));
        }
        let key = CaKey::Rsa(RsaKey::new(modulus, exponent)?);
        Self::finish(rid, index, key, hash_algorithm, expiry, checksum)
    }

    /// A PBOC SM2 CA public key (pboc-notes §3.2: 64-byte X ‖ Y, algorithm indicator `04`).
    /// The checksum rule is the ⚠ unverified choice documented on the crate-private
    /// checksum function: the key's hash algorithm over RID ‖ index ‖ X ‖ Y.
    pub fn new_sm2(
        rid: Rid,
        index: CapkIndex,
        public_key: &[u8],
        hash_algorithm: HashAlgorithm,
        expiry: Option<Date>,
        checksum: &[u8],
    ) -> Result<Self, CapkError> {
        let point = Sm2Point::new_ca(public_key).ok_or(CapkError::InvalidSm2Key)?;
        Self::finish(
            rid,
            index,
            CaKey::Sm2(Box::new(point)),
            hash_algorithm,
            expiry,
            checksum,
        )
    }

    fn finish(
        rid: Rid,
        index: CapkIndex,
        key: CaKey,
        hash_algorithm: HashAlgorithm,
        expiry: Option<Date>,
        checksum: &[u8],
    ) -> Result<Self, CapkError> {
        let expected = checksum_len(&key, hash_algorithm);
        if checksum.len() != expected {
            return Err(CapkError::ChecksumLength {
                expected,
                found: checksum.len(),
            });
        }
        let checksum_valid = checksum_of(&rid, index, &key, hash_algorithm) == checksum;
        Ok(Self {
            rid,
            index,
            hash_algorithm,
            expiry,
            checksum: checksum.into(),
            checksum_valid,
            key,
        })
    }

    /// `true` when the checksum matches the key (EMV Book 2 Annex A2.1; vectors README §3.5).
    pub fn checksum_is_valid(&self) -> bool {
        self.checksum_valid
    }

    /// The RID.
    pub fn rid(&self) -> Rid {
        self.rid
    }

    /// The index (tag `8F`).
    pub fn index(&self) -> CapkIndex {
        self.index
    }

    /// The public key algorithm (RSA or SM2).
    pub fn pk_algorithm(&self) -> PkAlgorithm {
        match self.key {
            CaKey::Rsa(_) => PkAlgorithm::Rsa,
            CaKey::Sm2(_) => PkAlgorithm::Sm2,
        }
    }

    /// The hash algorithm indicator given with the key.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash_algorithm
    }

    /// RSA modulus, or `None` for an SM2 key.
    pub fn modulus(&self) -> Option<&[u8]> {
        match &self.key {
            CaKey::Rsa(k) => Some(k.modulus()),
            CaKey::Sm2(_) => None,
        }
    }

    /// RSA exponent, or `None` for an SM2 key.
    pub fn exponent(&self) -> Option<&[u8]> {
        match &self.key {
            CaKey::Rsa(k) => Some(k.exponent()),
            CaKey::Sm2(_) => None,
        }
    }

    /// SM2 public key X ‖ Y, or `None` for an RSA key.
    pub fn sm2_public_key(&self) -> Option<&[u8; 64]> {
        match &self.key {
            CaKey::Rsa(_) => None,
            CaKey::Sm2(p) => Some(p.as_array()),
        }
    }

    /// The key bytes: RSA modulus or SM2 X ‖ Y.
    pub fn key_bytes(&self) -> &[u8] {
        match &self.key {
            CaKey::Rsa(k) => k.modulus(),
            CaKey::Sm2(p) => p.as_bytes(),
        }
    }

    /// The checksum as given.
    pub fn checksum(&self) -> &[u8] {
        &self.checksum
    }

    /// The terminal-side expiry date, if configured.
    pub fn expiry(&self) -> Option<Date> {
        self.expiry
    }

    /// RID and index together.
    pub fn key_id(&self) -> KeyId {
        KeyId {
            rid: self.rid,
            index: self.index,
        }
    }

    /// SHA-256 of [`Self::key_bytes`] (RSA modulus or SM2 X ‖ Y): identifies the key material
    /// whatever RID and index a list files it under (see
    /// [`CapkStore::contains_key_with_modulus`]).
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(self.key_bytes()).into()
    }

    /// `true` when the key has an expiry date and `today` is after it (EMV Book 2 §11.2.2:
    /// the key is usable through its expiry date).
    pub fn is_expired(&self, today: Date) -> bool {
        self.expiry.is_some_and(|e| today > e)
    }
}

/// The terminal's CA public keys keyed by (RID, index) (EMV Book 2 §11.2).
#[derive(Debug, Default, Clone)]
pub struct CapkStore {
    keys: BTreeMap<(Rid, CapkIndex), CaPublicKey>,
}

/// A case or record the store refused, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefusedKey {
    /// Where it was: the case `id` of a vector file (`#n` when it has none), or `record #n at
    /// byte B` of a TLV file (n counted from 0).
    pub id: String,
    /// The key's RID and index, when they could be read.
    pub key: Option<KeyId>,
    /// Why it was refused.
    pub error: CapkError,
}

/// What a load did ([`CapkStore::load_vector_file`], [`CapkStore::load_tlv_file`],
/// [`CapkStore::load_key_file`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The keys inserted, in file order (a later key with the same RID and index replaces an
    /// earlier one, in the store and here both are listed).
    pub loaded: Vec<KeyId>,
    /// Cases or records refused (checksum failure, malformed or unsupported key), in file order.
    pub refused: Vec<RefusedKey>,
}

#[derive(Deserialize)]
struct VectorFile {
    schema: String,
    kind: String,
    cases: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct CapkCase {
    rid: String,
    index: String,
    modulus: String,
    exponent: String,
    hash_algorithm: String,
    checksum: String,
    #[serde(default)]
    expiry: Option<String>,
}

fn unhex(field: &str, value: &str) -> Result<Vec<u8>, CapkError> {
    hex::decode(value).map_err(|_| CapkError::VectorCase(format!("{field} is not hex")))
}

fn case_to_key(case: CapkCase) -> Result<CaPublicKey, CapkError> {
    let rid = Rid::try_from(unhex("rid", &case.rid)?.as_slice())?;
    let index = match unhex("index", &case.index)?.as_slice() {
        [i] => CapkIndex(*i),
        _ => return Err(CapkError::VectorCase("index is not 1 byte".into())),
    };
    let hash_algorithm = match case.hash_algorithm.as_str() {
        "sha1" => HashAlgorithm::Sha1,
        "sm3" => HashAlgorithm::Sm3,
        other => {
            return Err(CapkError::VectorCase(format!(
                "unsupported hash_algorithm {other}"
            )))
        }
    };
    // `expiry` is informational (README §1.3); keep it when it parses.
    let expiry = case
        .expiry
        .as_deref()
        .and_then(|e| Date::from_yymmdd(e).ok());
    CaPublicKey::new_rsa(
        rid,
        index,
        &unhex("modulus", &case.modulus)?,
        &unhex("exponent", &case.exponent)?,
        hash_algorithm,
        expiry,
        &unhex("checksum", &case.checksum)?,
    )
}

/// RID and index of a vector case, when both are readable.
fn case_key_id(case: &serde_json::Value) -> Option<KeyId> {
    let bytes = |field: &str| hex::decode(case.get(field)?.as_str()?).ok();
    let rid = Rid::try_from(bytes("rid")?.as_slice()).ok()?;
    match bytes("index")?.as_slice() {
        [index] => Some(KeyId {
            rid,
            index: CapkIndex(*index),
        }),
        _ => None,
    }
}

impl CapkStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, replacing and returning any key with the same RID and index. Refuses a key
    /// whose checksum fails (EMV Book 2 §11.2.2).
    pub fn insert(&mut self, key: CaPublicKey) -> Result<Option<CaPublicKey>, CapkError> {
        if !key.checksum_is_valid() {
            return Err(CapkError::ChecksumMismatch {
                rid: key.rid,
                index: key.index,
            });
        }
        Ok(self.keys.insert((key.rid, key.index), key))
    }

    /// The key for (RID, index), as the terminal looks it up from the AID and tag `8F`
    /// (EMV Book 2 §5.2, §6.2).
    pub fn get(&self, rid: Rid, index: CapkIndex) -> Option<&CaPublicKey> {
        self.keys.get(&(rid, index))
    }

    /// Removes and returns the key for (RID, index).
    pub fn remove(&mut self, rid: Rid, index: CapkIndex) -> Option<CaPublicKey> {
        self.keys.remove(&(rid, index))
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `true` when no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// All keys, ordered by RID then index.
    pub fn iter(&self) -> impl Iterator<Item = &CaPublicKey> {
        self.keys.values()
    }

    /// `true` when the store holds a key whose RSA modulus (or SM2 X ‖ Y) is `key_bytes`, under
    /// any RID and index: lets a terminal refuse a production list that carries a known test
    /// key.
    pub fn contains_key_with_modulus(&self, key_bytes: &[u8]) -> bool {
        self.key_with_modulus(key_bytes).is_some()
    }

    /// The key whose RSA modulus (or SM2 X ‖ Y) is `key_bytes`, if any.
    pub fn key_with_modulus(&self, key_bytes: &[u8]) -> Option<&CaPublicKey> {
        self.keys.values().find(|k| k.key_bytes() == key_bytes)
    }

    /// The key whose [`CaPublicKey::fingerprint`] is `fingerprint`, if any.
    pub fn key_with_fingerprint(&self, fingerprint: &[u8; 32]) -> Option<&CaPublicKey> {
        self.keys.values().find(|k| &k.fingerprint() == fingerprint)
    }

    /// Loads a production CA key file in the UnionPay/PBOC terminal-parameter TLV layout
    /// (binary; [`tlv`] describes records, templates and padding): RSA and SM2 keys.
    ///
    /// The whole file's structure is checked first: a malformed or truncated file, or one
    /// without any record, is an error and loads nothing. Then each record is built and
    /// inserted; a record with a bad checksum, a missing or invalid object, or an unusable key
    /// is refused and listed in the report with its RID/index (when readable) and the reason.
    pub fn load_tlv_file(&mut self, file: &[u8]) -> Result<LoadReport, CapkError> {
        let records = tlv::parse_file(file)?;
        let mut report = LoadReport::default();
        for record in records {
            let id = format!("record #{} at byte {}", record.position, record.offset);
            match record.result {
                Ok(key) => {
                    let key_id = key.key_id();
                    match self.insert(key) {
                        Ok(_) => report.loaded.push(key_id),
                        Err(error) => report.refused.push(RefusedKey {
                            id,
                            key: Some(key_id),
                            error,
                        }),
                    }
                }
                Err((key, error)) => report.refused.push(RefusedKey { id, key, error }),
            }
        }
        Ok(report)
    }

    /// Loads a CA key file in any of the forms a terminal may receive: a `quickpass-vectors/1`
    /// `capk` JSON file (first non-blank character `{`), the TLV layout as hex text (hex digits
    /// and whitespace only), or the TLV layout in binary. See [`Self::load_vector_file`] and
    /// [`Self::load_tlv_file`].
    pub fn load_key_file(&mut self, file: &[u8]) -> Result<LoadReport, CapkError> {
        let first = file.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            let text = core::str::from_utf8(file)
                .map_err(|_| CapkError::VectorFile("not UTF-8".into()))?;
            return self.load_vector_file(text);
        }
        match tlv::decode_hex_text(file) {
            Some(binary) => self.load_tlv_file(&binary),
            None => self.load_tlv_file(file),
        }
    }

    /// Loads every case of a `quickpass-vectors/1` file of kind `capk` (vectors README §3.5).
    ///
    /// Cases whose checksum fails or whose key is malformed are refused and listed in the
    /// report; the `tlv` and `expect` fields are not used here (the conformance runner checks
    /// `tlv` with [`tlv::parse_record`]). Fails as a whole only when the file is not a capk
    /// vector file.
    pub fn load_vector_file(&mut self, json: &str) -> Result<LoadReport, CapkError> {
        let file: VectorFile =
            serde_json::from_str(json).map_err(|e| CapkError::VectorFile(e.to_string()))?;
        if file.schema != "quickpass-vectors/1" {
            return Err(CapkError::VectorFile(format!("schema {}", file.schema)));
        }
        if file.kind != "capk" {
            return Err(CapkError::VectorFile(format!("kind {}", file.kind)));
        }
        let mut report = LoadReport::default();
        for (n, value) in file.cases.into_iter().enumerate() {
            let id = value
                .get("id")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("#{n}"), str::to_owned);
            let key_id = case_key_id(&value);
            let result = serde_json::from_value::<CapkCase>(value)
                .map_err(|e| CapkError::VectorCase(e.to_string()))
                .and_then(case_to_key)
                .and_then(|key| {
                    let key_id = key.key_id();
                    self.insert(key).map(|_| key_id)
                });
            match result {
                Ok(key_id) => report.loaded.push(key_id),
                Err(error) => report.refused.push(RefusedKey {
                    id,
                    key: key_id,
                    error,
                }),
            }
        }
        Ok(report)
    }
}
