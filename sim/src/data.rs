//! Where the simulator's data lives, and the kernel configuration simulated cards run with.
//!
//! Card profiles, terminal configurations and the production CA key lists are in the
//! repository's `vectors/`; the test CA (its key pairs and its published public key) is in
//! `sim/test-ca/`, beside the only code allowed to trust it. [`kernel_config`] loads a terminal
//! configuration with the production lists (through the product's own loader, which refuses a
//! test key) and then adds the test CA: the configuration for simulated cards, and only for them.

use std::path::{Path, PathBuf};

use quickpass::setup::{self, SetupError};
use quickpass_kernel::config::KernelConfig;

use crate::ca::{CaError, TestCa};

/// The repository's data directory (`vectors/`: card profiles, terminal configurations,
/// production CA key lists, test vectors).
pub fn data_dir() -> PathBuf {
    let sim = Path::new(env!("CARGO_MANIFEST_DIR"));
    sim.parent().unwrap_or(sim).join("vectors")
}

/// The test CA's directory (`sim/test-ca/`): its key pairs and its published public key.
pub fn test_ca_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-ca")
}

/// The test CA's public key list (`sim/test-ca/capk-quickpass-test.json`).
pub fn test_capk_file() -> PathBuf {
    test_ca_dir().join("capk-quickpass-test.json")
}

/// The production CA key lists shipped in `vectors/capk/` (public EMV and UnionPay keys).
pub fn production_capk_files() -> Result<Vec<PathBuf>, SetupError> {
    setup::capk_files_in(&data_dir().join("capk"))
}

/// The default terminal configuration (`vectors/terminals/default.json`).
pub fn default_terminal() -> PathBuf {
    data_dir().join("terminals/default.json")
}

/// A card profile of `vectors/cards/` by name (`qpboc-debit-offline` → its JSON file).
pub fn card_profile(name: &str) -> PathBuf {
    data_dir().join(format!("cards/{name}.json"))
}

/// Why the simulated cards' configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The terminal configuration or a production CA key list.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The test CA.
    #[error(transparent)]
    TestCa(#[from] CaError),
}

/// The terminal configuration at `terminal` with the production CA keys and the RSA test CA
/// (`F1`, as published in [`test_capk_file`], and under Visa's and Mastercard's RIDs for the
/// simulated Visa and M/Chip cards): what a terminal needs to approve the simulated
/// RSA cards offline. SM2 cards also need [`TestCa::sm2_ca_public_key`]. ☢ Test only.
pub fn kernel_config(terminal: &Path) -> Result<KernelConfig, DataError> {
    let loaded = setup::load_kernel_config(terminal, &production_capk_files()?)?;
    let mut config = loaded.config;
    config
        .capks
        .insert(TestCa::shared()?.rsa_ca_public_key()?)
        .map_err(CaError::from)?;
    // The simulated Visa card's chain is the same test CA, looked up under Visa's RID.
    config
        .capks
        .insert(TestCa::shared()?.rsa_ca_public_key_under(crate::ca::TEST_VISA_RID)?)
        .map_err(CaError::from)?;
    // The simulated Mastercard card is certified by the same test CA under its own RID.
    config
        .capks
        .insert(TestCa::shared()?.rsa_ca_public_key_under(crate::mchip::MASTERCARD_RID)?)
        .map_err(CaError::from)?;
    Ok(config)
}

/// [`kernel_config`] with the default terminal configuration.
pub fn default_kernel_config() -> Result<KernelConfig, DataError> {
    kernel_config(&default_terminal())
}
