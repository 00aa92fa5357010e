//! `hash` cases (README §3.1).

use quickpass_crypto::hash::{self, HashFunction};

use crate::conformance::case::{unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    let algorithm = match case.str("algorithm")? {
        "sha1" => HashFunction::Sha1,
        "sha256" => HashFunction::Sha256,
        "sm3" => HashFunction::Sm3,
        other => return unsupported("algorithm", other),
    };
    let message = case.hex("message")?;
    case.expect_hex("digest", &hash::digest(algorithm, &message))
}
