//! `etc_topup --load-key` / `--host-keys`: the simulated issuer host keyed for a tester's own
//! purse card. The card here is the ETC user card profile with other (test) master keys than the
//! built-in one, so the default host could not load it; the right keys load it, wrong keys are
//! declined by the host (MAC1 refused).
//!
//! The example is built by `cargo build --example etc_topup` from here (`cargo test` does not
//! build examples, and a leftover binary would test old code).
#![allow(clippy::unwrap_used)]

mod support;
use support::example;

use std::path::{Path, PathBuf};
use std::process::Command;

use quickpass::crypto::secret::SecretKey;
use quickpass_sim::purse::keys::card_key;
use quickpass_sim::purse::SimPurseApplication;
use quickpass_sim::CardProfile;
use serde_json::{json, Value};

const LOAD_MASTER: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
const TAC_MASTER: &str = "1234567890ABCDEFFEDCBA0987654321";
const AMOUNT: u32 = 2500;

fn builtin_profile() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/cards/etc-user-card.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The scratch directory of one test of this process (removed by [`Scratch`]'s drop).
fn scratch_dir(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "quickpass-etc-topup-keys-{}-{test}",
        std::process::id()
    ))
}

/// Removes a test's scratch directory when the test ends, passed or not.
struct Scratch(&'static str);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(scratch_dir(self.0));
    }
}

/// A scratch file of test `test`.
fn scratch(test: &str, name: &str, value: &Value) -> PathBuf {
    let dir = scratch_dir(test);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// The tester's card: the ETC profile personalised from other master keys.
fn own_profile(test: &str) -> (PathBuf, Value) {
    let mut profile = builtin_profile();
    let keys = &mut profile["applications"][0]["keys"][0];
    assert_ne!(
        keys["load"], LOAD_MASTER,
        "the test needs keys other than the built-in ones"
    );
    keys["load"] = json!(LOAD_MASTER);
    keys["tac"] = json!(TAC_MASTER);
    (scratch(test, "card.json", &profile), profile)
}

/// The card's own load key, diversified from `master` as the issuer does (two levels for ETC:
/// EF15 bytes 0–7, then the application serial).
fn card_load_key(profile: &Path, master: &str) -> String {
    let mut card = CardProfile::load(profile).unwrap().build().unwrap();
    let serial = card
        .application_mut::<SimPurseApplication>()
        .unwrap()
        .application_serial();
    let issuer = builtin_profile()["applications"][0]["ef15"]["issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    let second: [u8; 8] = hex::decode(issuer).unwrap().try_into().unwrap();
    let master = SecretKey::new(&hex::decode(master).unwrap());
    hex::encode_upper(
        card_key(&master, &serial, Some(&second))
            .unwrap()
            .as_bytes(),
    )
}

fn topup(profile: &Path, keys: &[&str]) -> Value {
    let amount = AMOUNT.to_string();
    let output = Command::new(example("etc_topup"))
        .args([
            "--profile",
            profile.to_str().unwrap(),
            "--amount",
            &amount,
            "--json",
        ])
        .args(keys)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "etc_topup {keys:?}: {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn assert_loaded(line: &Value, tac_verified: bool) {
    assert_eq!(line["result"], "loaded", "{line}");
    let before = line["balance_before"].as_u64().unwrap();
    assert_eq!(
        line["balance_after"].as_u64(),
        Some(before + u64::from(AMOUNT)),
        "{line}"
    );
    assert_eq!(line["record"]["tac_verified"], tac_verified, "{line}");
}

fn assert_mac1_refused(line: &Value) {
    assert_eq!(line["result"], "declined", "{line}");
    assert_eq!(line["reason"]["reason"], "host_declined", "{line}");
    assert!(
        line["reason"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("MAC1"),
        "{line}"
    );
    // Nothing moved: the balance the card showed, before and after (issue 11 item 4).
    assert_eq!(line["balance_after"], line["balance_before"], "{line}");
    assert!(line["balance_after"].is_u64(), "{line}");
}

#[test]
fn load_key_loads_the_testers_card_and_a_wrong_key_is_declined() {
    let _scratch = Scratch("load-key");
    let (profile, _) = own_profile("load-key");
    let right = card_load_key(&profile, LOAD_MASTER);
    let line = topup(&profile, &["--load-key", &right]);
    // No TAC key with --load-key: the TAC is left to clearing, not refused.
    assert_loaded(&line, false);
    // The built-in card's key (diversified the same way) is the wrong one for this card.
    let builtin = builtin_profile()["applications"][0]["keys"][0]["load"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = card_load_key(&profile, &builtin);
    assert_ne!(wrong, right);
    assert_mac1_refused(&topup(&profile, &["--load-key", &wrong]));
    // So is the master itself, undiversified.
    assert_mac1_refused(&topup(&profile, &["--load-key", LOAD_MASTER]));
}

#[test]
fn host_keys_file_diversifies_the_masters_like_the_issuer() {
    let _scratch = Scratch("host-keys");
    let (profile, _) = own_profile("host-keys");
    let index = builtin_profile()["applications"][0]["keys"][0]["index"].clone();
    let keys = |load: &str, tac: &str| {
        json!({
            "schema": "quickpass-host-keys/1",
            "key_sets": [ { "index": index, "load": load, "tac": tac } ]
        })
    };
    let right = scratch(
        "host-keys",
        "right-keys.json",
        &keys(LOAD_MASTER, TAC_MASTER),
    );
    assert_loaded(
        &topup(&profile, &["--host-keys", right.to_str().unwrap()]),
        true,
    );
    let builtin = &builtin_profile()["applications"][0]["keys"][0];
    let wrong = scratch(
        "host-keys",
        "wrong-keys.json",
        &keys(
            builtin["load"].as_str().unwrap(),
            builtin["tac"].as_str().unwrap(),
        ),
    );
    assert_mac1_refused(&topup(&profile, &["--host-keys", wrong.to_str().unwrap()]));
}
