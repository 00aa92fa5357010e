//! Loading a terminal's configuration and CA keys from files: the I/O the pure kernel leaves to
//! its caller.

use std::path::{Path, PathBuf};

use quickpass_crypto::capk::CapkStore;
use quickpass_kernel::config::{KernelConfig, TerminalConfig};

/// Why the configuration or a CA key file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The terminal configuration is invalid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: quickpass_kernel::config::ConfigError,
    },
    /// A CA key file is not a `quickpass-vectors/1` `capk` file.
    #[error("{path}: {source}")]
    Capk {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: quickpass_crypto::capk::CapkError,
    },
}

/// The project's data directory (`vectors/` beside the workspace manifest).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// The built-in CA key lists: every `*.json` in `vectors/capk/` (public EMV, UnionPay, and the
/// simulator's test CA).
pub fn builtin_capk_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join("capk"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read(path: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(|source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads CA keys from `capk` vector files into a store; keys whose checksum fails are refused
/// (and counted in the returned number of refusals).
pub fn load_capks(files: &[PathBuf]) -> Result<(CapkStore, usize), SetupError> {
    let mut store = CapkStore::new();
    let mut refused = 0;
    for path in files {
        let report = store
            .load_vector_file(&read(path)?)
            .map_err(|source| SetupError::Capk {
                path: path.clone(),
                source,
            })?;
        refused += report.refused.len();
    }
    Ok((store, refused))
}

/// Loads a terminal configuration and the CA keys of `capk_files`.
pub fn load_kernel_config(
    config: &Path,
    capk_files: &[PathBuf],
) -> Result<KernelConfig, SetupError> {
    let terminal =
        TerminalConfig::from_json(&read(config)?).map_err(|source| SetupError::Config {
            path: config.to_path_buf(),
            source,
        })?;
    let (capks, _) = load_capks(capk_files)?;
    Ok(KernelConfig { terminal, capks })
}
