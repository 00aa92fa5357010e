//! Trust regression: a card signed by the simulator's test CA, presented through `--reader`
//! without `--test-keys`, is not approved offline by `examples/transact.rs` (its fDDA needs CA
//! key F1, which only the test CA has); with `--test-keys` the same card is approved, which
//! shows the first check can fail.
//!
//! ```text
//! transact ─ PcscTransport ─ pcscd ─ vpcd slot 0 (35963) ─ this test: qpboc-debit-offline
//! ```
//!
//! The example is built by `cargo build --example transact --features pcsc` from here (as
//! `pcsc_purse.rs` does for its examples). Needs pcscd with vsmartcard's vpcd (`.ci/test` starts
//! both). Without them the test says so on stderr and returns; under `CI=true` it fails instead.
#![allow(clippy::unwrap_used)]

mod support;
use support::example;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use quickpass::pcsc::{PcscError, PcscTransport};
use quickpass_sim::vpcd;
use quickpass_sim::CardProfile;
use serde_json::Value;

const PROFILE: &str = "qpboc-debit-offline";

/// pcscd (or vpcd) is missing: fail under CI, otherwise say so visibly and skip.
fn unavailable(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pcsc_transact: {reason} (CI=true: PC/SC tests must run)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED pcsc_transact: {reason}");
}

#[test]
fn a_test_ca_card_in_a_reader_is_not_approved_offline_without_test_keys() {
    let pcsc = match PcscTransport::new() {
        Ok(pcsc) => pcsc,
        Err(PcscError::NoService) => {
            return unavailable("pcscd not running: start it as .ci/test does")
        }
        Err(e) => panic!("establishing a PC/SC context: {e}"),
    };
    vpcd::hold_test_slots();
    let names = pcsc.list_readers().expect("list readers");
    let Some(reader) = names
        .iter()
        .find(|r| r.starts_with("Virtual PCD") && r.ends_with(" 00"))
        .cloned()
    else {
        return unavailable("no \"Virtual PCD .. 00\" reader: install vsmartcard-vpcd");
    };
    let transact = example("transact");
    pcsc.wait_for_removal(&reader, Duration::from_secs(3))
        .expect("reader empty before the test");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("vectors/cards/{PROFILE}.json"));
    let card = CardProfile::load(&path).unwrap().build().unwrap();
    let served = vpcd::spawn(card, vpcd::localhost(vpcd::DEFAULT_PORT)).expect("serve the card");
    pcsc.wait_for_card(&reader, Duration::from_secs(10))
        .expect("card present in the reader");

    let tap = |extra: &[&str]| {
        let output = Command::new(&transact)
            .args(["--reader", &reader, "--json", "--amount", "100"])
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            output.status.success(),
            "transact {extra:?}: {}; stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str::<Value>(stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    };
    let untrusted = tap(&[]);
    let trusted = tap(&["--test-keys"]);
    served.remove();
    let _ = pcsc.wait_for_removal(&reader, Duration::from_secs(5));

    assert_ne!(untrusted["outcome"], "approved", "{untrusted}");
    assert_eq!(untrusted["oda"], "fail", "{untrusted}");
    let reason = untrusted["reason"].as_str().unwrap_or("");
    assert!(reason.contains("F1"), "no CA key F1 expected: {untrusted}");
    // The same card, the test CA trusted: approved offline.
    assert_eq!(trusted["outcome"], "approved", "{trusted}");
    assert_eq!(trusted["oda"], "ok", "{trusted}");
    assert_eq!(trusted["cryptogram_type"], "TC", "{trusted}");
}
