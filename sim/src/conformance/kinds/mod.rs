//! One module per vector kind (README §3), each running a case through the public API.

mod arpc;
mod capk;
mod cipher;
mod cryptogram;
mod dol;
mod hash;
mod kcv;
mod key_derivation;
mod mac;
mod oda;
mod purse;
mod selection;
mod sm2;
mod tlv;
mod trace;

use super::case::{unsupported, Case, Check};

/// Dispatches a case to its kind.
pub(super) fn run(kind: &str, case: &Case<'_>) -> Check {
    match kind {
        "arpc" => arpc::run(case),
        "capk" => capk::run(case),
        "cipher" => cipher::run(case),
        "cryptogram" => cryptogram::run(case),
        "dol" => dol::run(case),
        "hash" => hash::run(case),
        "kcv" => kcv::run(case),
        "key_derivation" => key_derivation::run(case),
        "mac" => mac::run(case),
        "oda" => oda::run(case),
        "purse" => purse::run(case),
        "selection" => selection::run(case),
        "sm2" => sm2::run(case),
        "tlv" => tlv::run(case),
        "trace" => trace::run(case),
        other => unsupported("kind", other),
    }
}
