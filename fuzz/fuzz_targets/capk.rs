//! CA public key loaders: the `quickpass-vectors/1` `capk` JSON file (`CapkStore::
//! load_vector_file`) and the UnionPay terminal-parameter TLV record (`capk_params::
//! parse_capk_record`, pboc-notes §3.2). Every case of a loaded file is either loaded or
//! refused, and the store only ever holds keys whose checksum is valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::crypto::capk::CapkStore;
use quickpass::kernel::internal::capk_params;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut store = CapkStore::new();
        if let Ok(report) = store.load_vector_file(text) {
            // serde_json's `Value` refuses a lone UTF-16 surrogate escape (`"\uDA0E"`) that the
            // loader skips inside a field it ignores (long run, 2026-11-28), so the cases are
            // counted only when the file is strict JSON.
            let cases = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("cases").and_then(|c| c.as_array()).map(Vec::len));
            if let Some(cases) = cases {
                assert_eq!(report.loaded.len() + report.refused.len(), cases);
            }
            assert!(store.len() <= report.loaded.len());
            assert!(store.iter().all(|key| key.checksum_is_valid()));
        }
    }
    if let Ok(key) = capk_params::parse_capk_record(data) {
        let valid = key.checksum_is_valid();
        let _ = (
            key.rid(),
            key.index(),
            key.modulus(),
            key.sm2_public_key(),
            key.expiry(),
        );
        let mut store = CapkStore::new();
        assert_eq!(
            store.insert(key).is_ok(),
            valid,
            "store accepted a bad checksum"
        );
    }
});
