//! One module per vector kind (README §3), each running a case through the public API.

mod tlv;

use super::case::{unsupported, Case, Check};

/// Dispatches a case to its kind.
pub(super) fn run(kind: &str, case: &Case<'_>) -> Check {
    match kind {
        "tlv" => tlv::run(case),
        other => unsupported("kind", other),
    }
}
