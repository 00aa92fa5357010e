//! `quickpass tap`: one qPBOC/EMV contactless transaction, reported as `examples/transact.rs`
//! does (the same text report and the same JSON fields).
//!
//! The kernel is used in one place ([`tap`]); everything else here is input and output.

use std::path::PathBuf;

use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::Amount;
use quickpass::kernel::TransactionInput;
use quickpass::setup;
use quickpass_sim::tap_report::{transaction_date, unpredictable_number};

use crate::error_chain;

/// The terminal configuration and CA keys a tap (or a dump's GPO) runs with.
///
/// The production CA lists of `vectors/capk/` plus `extra_capk_files`; the simulator's test CA
/// is added when `trust_test_ca` (a simulated card, or `--test-keys`).
pub fn kernel_config(
    config: &std::path::Path,
    extra_capk_files: &[PathBuf],
    trust_test_ca: bool,
) -> Result<KernelConfig, String> {
    let mut capk_files = quickpass_sim::data::production_capk_files().map_err(error_chain)?;
    capk_files.extend(extra_capk_files.iter().cloned());
    let loaded = setup::load_kernel_config(config, &capk_files).map_err(error_chain)?;
    for refused in &loaded.refused_capks {
        eprintln!(
            "warning: CA key {} in {} refused: {}",
            refused.id,
            refused.path.display(),
            refused.error
        );
    }
    let mut config = loaded.config;
    if trust_test_ca {
        // The simulated cards are signed by the test CA (RSA F1, SM2 F2).
        let ca = quickpass_sim::ca::TestCa::shared().map_err(error_chain)?;
        for key in ca.capk_store().map_err(error_chain)?.iter() {
            config.capks.insert(key.clone()).map_err(error_chain)?;
        }
    }
    Ok(config)
}

/// The transaction input from the command line: `--amount`, `--date YYMMDD` (default today,
/// China time), `--un HEX` (default four bytes from a randomly seeded hasher).
pub fn input(
    amount: u64,
    date: Option<&str>,
    un: Option<&str>,
) -> Result<TransactionInput, String> {
    Ok(TransactionInput {
        amount: Amount::from_minor(amount)
            .map_err(|e| format!("--amount takes minor units, at most 999999999999: {e}"))?,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: transaction_date(date)?,
        time: quickpass::clock::now().1,
        unpredictable_number: unpredictable_number(un)?,
    })
}

/// Runs the whole tap on `card` ([`contactless::transact`]): an exchange failure still ends
/// in the outcome the error calls for (try again for a card taken away), reported as such.
pub fn tap<T: Transport>(
    card: &mut T,
    config: &KernelConfig,
    input: &TransactionInput,
) -> TransactionResult {
    let mut layer = ApduLayer::new(card);
    contactless::transact(config, input, &mut layer).result
}
