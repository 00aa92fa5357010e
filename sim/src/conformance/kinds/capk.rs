//! `capk` cases (README §3.5): CA public keys and their checksums, plain and in the
//! UnionPay/PBOC terminal-parameter TLV layout.

use quickpass_crypto::capk::{CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_kernel::internal::capk_params;

use crate::conformance::case::{ensure_eq, unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    case.informational(&["expiry"]);
    let rid = Rid(case.hex_array("rid")?);
    let [index] = case.hex_array::<1>("index")?;
    let index = CapkIndex(index);
    let modulus = case.hex("modulus")?;
    let exponent = case.hex("exponent")?;
    let hash_algorithm = match case.str("hash_algorithm")? {
        "sha1" => HashAlgorithm::Sha1,
        other => return unsupported("hash_algorithm", other),
    };
    let checksum = case.hex("checksum")?;
    let key = CaPublicKey::new_rsa(
        rid,
        index,
        &modulus,
        &exponent,
        hash_algorithm,
        None,
        &checksum,
    )
    .map_err(|e| e.to_string())?;
    case.expect_bool("valid", key.checksum_is_valid())?;

    if let Some(record) = case.hex_opt("tlv")? {
        let parsed = capk_params::parse_capk_record(&record).map_err(|e| e.to_string())?;
        ensure_eq("tlv rid", rid, parsed.rid())?;
        ensure_eq("tlv index", index, parsed.index())?;
        ensure_eq("tlv modulus", Some(modulus.as_slice()), parsed.modulus())?;
        ensure_eq("tlv exponent", Some(exponent.as_slice()), parsed.exponent())?;
        ensure_eq("tlv checksum", checksum.as_slice(), parsed.checksum())?;
        ensure_eq(
            "tlv checksum validity",
            key.checksum_is_valid(),
            parsed.checksum_is_valid(),
        )?;
    }
    Ok(())
}
