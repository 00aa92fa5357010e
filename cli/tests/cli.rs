//! The `quickpass` binary without PC/SC: simulated cards and the conformance vectors.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

fn quickpass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quickpass"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn dump_of_the_transit_purse_shows_ef15_and_the_balance() {
    let profile_path = vectors().join("cards/transit-purse-capp.json");
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&profile_path).unwrap()).unwrap();
    let app = &profile["applications"][0];
    let output = quickpass(&[
        "dump",
        "--profile",
        profile_path.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let out: Value = serde_json::from_str(text.trim()).unwrap();
    let purse_app = out["applications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["aid"] == app["df_name"])
        .unwrap_or_else(|| panic!("no purse application in {out}"));
    let purse = &purse_app["purse"];
    assert_eq!(purse["balance"], app["ep_balance"], "{purse}");
    let serial = app["ef15"]["serial"].as_str().unwrap();
    let masked = format!(
        "{}{}{}",
        &serial[..4],
        "*".repeat(serial.len() - 8),
        &serial[serial.len() - 4..]
    );
    assert_eq!(purse["ef15"]["card_number"], masked.as_str(), "{purse}");
    assert!(!text.contains(serial), "card number in clear");
    assert_eq!(purse["ef15"]["expiry_date"], "2034-12-31");
}

#[test]
fn conformance_runs_the_vectors() {
    let output = quickpass(&["conformance", vectors().to_str().unwrap()]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    let last = stdout.lines().last().unwrap();
    let (passed, failed) = last
        .split_once(" passed, ")
        .unwrap_or_else(|| panic!("last line {last:?}"));
    assert!(passed.parse::<u32>().unwrap() > 0);
    assert_eq!(failed, "0 failed");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count(),
        passed.parse::<usize>().unwrap()
    );
}

#[test]
fn conformance_needs_an_existing_path() {
    assert!(!quickpass(&["conformance"]).status.success());
    assert!(!quickpass(&["conformance", "/nonexistent/vectors"])
        .status
        .success());
}
