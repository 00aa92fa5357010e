//! The `quickpass` binary against a real PC/SC stack: a simulated card
//! (`vectors/cards/qpboc-debit-offline.json`) served from this process through vpcd slot 0
//! ("Virtual PCD 00 00", port 35963), the tool run as a child process on that reader.
//!
//! Needs pcscd with vsmartcard's vpcd (`.ci/test` starts both). Without them each test says so on
//! stderr and returns; under `CI=true` it fails instead. The vpcd slots are held against other
//! test processes for the life of this one (`quickpass_sim::vpcd::hold_test_slots`).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use quickpass::pcsc::{PcscError, PcscTransport};
use quickpass_sim::vpcd::{self, ServedCard};
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

const PROFILE: &str = "qpboc-debit-offline";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// The card's PAN as the profile holds it (to check it never appears in clear).
fn profile_pan() -> String {
    let path = vectors().join(format!("cards/{PROFILE}.json"));
    let profile: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pan = profile["applications"][0]["pan"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pan.len() >= 13, "PAN {} digits", pan.len());
    pan
}

static TURN: Mutex<()> = Mutex::new(());

/// The card served in slot 0 for one test; taken out (and waited for) on drop.
struct Served {
    reader: String,
    pcsc: PcscTransport,
    served: Option<ServedCard<VirtualCard>>,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(served) = self.served.take() {
            served.remove();
        }
        let _ = self
            .pcsc
            .wait_for_removal(&self.reader, Duration::from_secs(5));
    }
}

/// pcscd (or vpcd) is missing: fail under CI, otherwise say so visibly and skip.
fn unavailable<T>(reason: &str) -> Option<T> {
    let test = std::thread::current()
        .name()
        .unwrap_or("pcsc_cli")
        .to_owned();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {reason} (CI=true: PC/SC tests must run)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    None
}

/// Serves the profile in "Virtual PCD 00 00" and waits until pcscd shows the card.
fn serve() -> Option<Served> {
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
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
    pcsc.wait_for_removal(&reader, Duration::from_secs(3))
        .expect("reader empty before the test");
    let card = CardProfile::load(vectors().join(format!("cards/{PROFILE}.json")))
        .unwrap()
        .build()
        .unwrap();
    let served = vpcd::spawn(card, vpcd::localhost(vpcd::DEFAULT_PORT)).expect("serve the card");
    pcsc.wait_for_card(&reader, Duration::from_secs(10))
        .expect("card present in the reader");
    Some(Served {
        reader,
        pcsc,
        served: Some(served),
        _turn: turn,
    })
}

/// Runs `quickpass ARGS`, expects success, returns stdout.
fn quickpass(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_quickpass"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "quickpass {args:?}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn readers_lists_the_vpcd_reader_with_the_card() {
    let Some(served) = serve() else { return };
    let out = json(&quickpass(&["readers", "--json"]));
    let readers = out["readers"].as_array().unwrap();
    let ours = readers
        .iter()
        .find(|r| r["name"] == served.reader.as_str())
        .unwrap_or_else(|| panic!("{} not listed: {out}", served.reader));
    assert_eq!(ours["card_present"], true, "{out}");
    let atr = ours["atr"].as_str().unwrap();
    assert_eq!(
        hex::decode(atr).unwrap(),
        served
            .pcsc
            .wait_for_card(&served.reader, Duration::ZERO)
            .unwrap()
    );
    // The text form names it too.
    assert!(quickpass(&["readers"]).contains(&served.reader));
}

#[test]
fn dump_through_the_reader_shows_the_unionpay_application_with_the_pan_masked() {
    let Some(served) = serve() else { return };
    let text = quickpass(&["dump", "--reader", &served.reader, "--json"]);
    let out = json(&text);
    let apps = out["applications"].as_array().unwrap();
    let debit = apps
        .iter()
        .find(|a| a["aid"] == "A000000333010101")
        .unwrap_or_else(|| panic!("no UnionPay debit application: {out}"));
    assert_eq!(debit["select_sw"], "9000");
    assert_eq!(debit["gpo"]["sw"], "9000", "{debit}");
    assert!(!debit["records"].as_array().unwrap().is_empty());
    let pan = profile_pan();
    assert!(!text.contains(&pan), "PAN in clear in the dump");
    let masked = format!("{}******{}", &pan[..6], &pan[pan.len() - 4..]);
    assert!(text.contains(&masked), "masked PAN {masked} not shown");
}

#[test]
fn reader_bench_measures_the_requested_round_trips() {
    let Some(served) = serve() else { return };
    let out = json(&quickpass(&[
        "reader-bench",
        "--reader",
        &served.reader,
        "-n",
        "20",
        "--json",
    ]));
    assert_eq!(out["samples"], 20, "{out}");
    assert_eq!(out["sw"], "9000", "{out}");
    let get = |k: &str| out[k].as_f64().unwrap_or_else(|| panic!("{k} in {out}"));
    assert!(get("min") > 0.0);
    assert!(get("min") <= get("median"));
    assert!(get("median") <= get("p90"));
    assert!(get("p90") <= get("max"));
}

#[test]
fn tap_on_a_test_card_in_a_reader_is_approved_only_with_test_keys() {
    let Some(served) = serve() else { return };
    let tap = |extra: &[&str]| {
        let mut args = vec![
            "tap",
            "--reader",
            &served.reader,
            "--json",
            "--amount",
            "100",
        ];
        args.extend_from_slice(extra);
        json(&quickpass(&args))
    };
    let untrusted = tap(&[]);
    assert_ne!(untrusted["outcome"], "approved", "{untrusted}");
    assert_eq!(untrusted["oda"], "fail", "{untrusted}");
    // The card's TC is not taken offline: without the CA key the kernel goes online.
    assert!(
        untrusted["reason"].as_str().unwrap_or("").contains("F1"),
        "{untrusted}"
    );
    let pan = profile_pan();
    assert!(!untrusted.to_string().contains(&pan));
    // The same card with the test CA trusted is approved: the check above can fail.
    let trusted = tap(&["--test-keys"]);
    assert_eq!(trusted["outcome"], "approved", "{trusted}");
    assert_eq!(trusted["oda"], "ok", "{trusted}");
}
