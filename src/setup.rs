//! Loading a terminal's configuration and its production CA key lists from explicit paths: the
//! file I/O the pure kernel leaves to its caller.
//!
//! Trust is explicit. [`load_production_capks`] reads the CA key lists a terminal is given and
//! refuses the whole load when one of them holds a key known to be a test key (a key whose
//! private half is public, such as the simulator's test CA): a card personalised under such a
//! key could otherwise be approved offline by anyone. Test keys reach a store only through the
//! simulator crate, never through this module. Keys a list carries with a wrong checksum are
//! not loaded, and every refusal is reported with its file and key id, never dropped silently.

use std::path::{Path, PathBuf};

use quickpass_crypto::capk::{CaPublicKey, CapkError, CapkStore};
use quickpass_crypto::hash::sha1;
use quickpass_kernel::config::{KernelConfig, TerminalConfig};

/// Why the configuration or a CA key list could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The terminal configuration is invalid.
    #[error("terminal configuration {path}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: quickpass_kernel::config::ConfigError,
    },
    /// A CA key list is not in a format the loader reads.
    #[error("CA key list {path}")]
    Capk {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: CapkError,
    },
    /// A production CA key list holds a test key (its private key is public).
    #[error(
        "CA key list {path} holds the test key {rid}/{index:02X}: test keys are never trusted \
         for real cards; remove it from the production list"
    )]
    TestKeyInProductionList {
        /// The file.
        path: PathBuf,
        /// The key's RID, hex.
        rid: String,
        /// The key's index.
        index: u8,
    },
    /// A CA key directory holds no key list.
    #[error("no CA key list (*.json, *.tlv, *.bin, *.hex, *.txt) in {dir}")]
    NoCapkFiles {
        /// The directory.
        dir: PathBuf,
    },
}

/// A key a CA key list carried but the loader refused (wrong checksum, malformed key).
#[derive(Debug)]
pub struct RefusedCapk {
    /// The list it came from.
    pub path: PathBuf,
    /// The key's id in the list.
    pub id: String,
    /// Why it was refused.
    pub error: CapkError,
}

/// CA keys loaded from production lists, with what was refused.
#[derive(Debug, Default)]
pub struct CapkLoad {
    /// The keys loaded.
    pub store: CapkStore,
    /// The keys refused, each with its list and reason.
    pub refused: Vec<RefusedCapk>,
}

/// A terminal configuration and its CA keys, with the keys the lists carried but were refused.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The configuration the kernel runs with.
    pub config: KernelConfig,
    /// CA keys refused while loading (wrong checksum, malformed), to be reported.
    pub refused_capks: Vec<RefusedCapk>,
}

/// SHA-1 of the key bytes (RSA modulus, SM2 X ‖ Y) of every key known to be a test key: the
/// simulator's test CA (RSA and SM2). Public data: a fingerprint, not the key.
const TEST_KEY_FINGERPRINTS: [[u8; 20]; 2] = [
    // quickpass test CA, RSA 1408 bits (sim/test-ca/capk-quickpass-test.json, index F1).
    hex_literal("13B3C1EC955FDC31BE0B0AEDE9CEB7260F5851C4"),
    // quickpass test CA, SM2 (sim/test-ca/test-sm2.json `ca`, index F2).
    hex_literal("9F31AE5338513950140C3D36FD647E1B34A69C6D"),
];

const fn hex_literal(text: &str) -> [u8; 20] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("upper-case hex expected"),
        }
    }
    let bytes = text.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

/// Whether `key` is a known test key (its private key is public), whatever RID and index it is
/// filed under.
pub fn is_known_test_key(key: &CaPublicKey) -> bool {
    let fingerprint = sha1(key.key_bytes());
    TEST_KEY_FINGERPRINTS.contains(&fingerprint)
}

fn read(path: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(|source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The file name extensions of CA key lists: JSON lists, and terminal parameter files of
/// TLV records as binary (`.tlv`, `.bin`) or hex text (`.hex`, `.txt`).
const CAPK_EXTENSIONS: [&str; 5] = ["json", "tlv", "bin", "hex", "txt"];

/// The CA key lists of a directory (`*.json`, `*.tlv`, `*.bin`, `*.hex`, `*.txt`), sorted; an
/// unreadable directory, or one with no key list, is an error.
pub fn capk_files_in(dir: &Path) -> Result<Vec<PathBuf>, SetupError> {
    let io = |source| SetupError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if CAPK_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(SetupError::NoCapkFiles {
            dir: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

/// Loads production CA key lists into one store: JSON lists (`quickpass-vectors/1` `capk`
/// files) and terminal parameter files of EMV/UnionPay TLV records (several per file, RSA and
/// SM2; binary or hex text), each file's form recognised from its content.
///
/// Refuses the whole load if a list holds a known test key ([`is_known_test_key`]); keys with a
/// wrong checksum or a malformed key are not loaded and come back in [`CapkLoad::refused`].
pub fn load_production_capks(files: &[PathBuf]) -> Result<CapkLoad, SetupError> {
    let mut load = CapkLoad::default();
    for path in files {
        let mut store = CapkStore::new();
        let report =
            store
                .load_key_file(&read_bytes(path)?)
                .map_err(|source| SetupError::Capk {
                    path: path.clone(),
                    source,
                })?;
        if let Some(test_key) = store.iter().find(|key| is_known_test_key(key)) {
            return Err(SetupError::TestKeyInProductionList {
                path: path.clone(),
                rid: hex::encode_upper(test_key.rid().0),
                index: test_key.index().0,
            });
        }
        for key in store.iter() {
            load.store
                .insert(key.clone())
                .map_err(|source| SetupError::Capk {
                    path: path.clone(),
                    source,
                })?;
        }
        load.refused
            .extend(report.refused.into_iter().map(|refused| RefusedCapk {
                path: path.clone(),
                id: refused.id,
                error: refused.error,
            }));
    }
    Ok(load)
}

/// Loads a terminal configuration (JSON, validated) from `path`.
pub fn load_terminal_config(path: &Path) -> Result<TerminalConfig, SetupError> {
    TerminalConfig::from_json(&read(path)?).map_err(|source| SetupError::Config {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a terminal configuration and the production CA key lists `capk_files`.
pub fn load_kernel_config(
    config: &Path,
    capk_files: &[PathBuf],
) -> Result<LoadedConfig, SetupError> {
    let terminal = load_terminal_config(config)?;
    let capks = load_production_capks(capk_files)?;
    Ok(LoadedConfig {
        config: KernelConfig::new(terminal, capks.store),
        refused_capks: capks.refused,
    })
}
