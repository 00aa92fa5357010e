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

/// The example deny list and delta of `vectors/deny-list/` come out of the tool byte for byte.
#[test]
fn deny_list_vectors_are_the_tools_output() {
    let dir = vectors().join("deny-list");
    let out = std::env::temp_dir().join(format!("quickpass-cli-deny-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let salt = "276245CEEEFA926C9FD9C1F6FD9FF9F6";
    let list = out.join("list-v1.deny");
    let delta = out.join("delta-v1-v2.deny");
    let built = quickpass(&[
        "deny-list",
        "build",
        "--salt",
        salt,
        "--list-version",
        "1",
        "--pans",
        &path("cards-v1.pans"),
        "--out",
        list.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "{built:?}");
    assert_eq!(
        String::from_utf8(built.stdout).unwrap(),
        format!(
            "wrote deny list version 1: 3 entries to {}\n",
            list.display()
        )
    );
    let made = quickpass(&[
        "deny-list",
        "delta",
        "--salt",
        salt,
        "--base-version",
        "1",
        "--list-version",
        "2",
        "--add",
        &path("add-v2.pans"),
        "--remove",
        &path("remove-v2.pans"),
        "--out",
        delta.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{made:?}");
    for (name, written) in [("list-v1.deny", &list), ("delta-v1-v2.deny", &delta)] {
        assert_eq!(
            std::fs::read(written).unwrap(),
            std::fs::read(dir.join(name)).unwrap(),
            "{name} is not what the tool writes"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Every card of the example PAN files is a simulated card; the list denies what its README
/// says, before and after the delta (the PSN tells two cards with one PAN apart).
#[test]
fn deny_list_vectors_deny_the_documented_cards() {
    use quickpass::kernel::values::Pan;

    let mut profiles = Vec::new();
    for entry in std::fs::read_dir(vectors().join("cards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let profile: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for app in profile["applications"].as_array().unwrap() {
                if let (Some(pan), Some(psn)) = (app["pan"].as_str(), app["psn"].as_str()) {
                    profiles.push(format!("{pan} {psn}"));
                }
            }
        }
    }
    let dir = vectors().join("deny-list");
    for name in ["cards-v1.pans", "add-v2.pans", "remove-v2.pans"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            assert!(
                profiles.iter().any(|p| p == line),
                "{name}: {line} is not a simulated card"
            );
        }
    }
    let card = |pan: &str, psn: u8| (Pan::from_digits(pan).unwrap(), Some(psn));
    let debit = card("6228480012345671", 0x01);
    let credit_on_debit = card("6250940012345675", 0x00);
    let credit_online = card("6250940012345675", 0x01);
    let pure_ec = card("6235010000000003", 0x00);
    let sm2 = card("6217001234567890122", 0x01);
    let mut list = quickpass::deny_list::load(dir.join("list-v1.deny")).unwrap();
    let denied = |list: &quickpass::kernel::deny_list::DenyList, (pan, psn): &(Pan, Option<u8>)| {
        list.is_denied(pan, *psn)
    };
    assert_eq!((list.version(), list.len()), (1, 3));
    assert!(denied(&list, &debit) && denied(&list, &credit_on_debit) && denied(&list, &pure_ec));
    assert!(!denied(&list, &credit_online) && !denied(&list, &sm2));
    assert!(!list.is_denied(&debit.0, None), "no PSN is not PSN 01");
    let applied =
        quickpass::deny_list::apply_delta(&mut list, dir.join("delta-v1-v2.deny")).unwrap();
    assert_eq!((applied.added, applied.removed, list.version()), (1, 1, 2));
    assert!(denied(&list, &debit) && denied(&list, &credit_on_debit) && denied(&list, &sm2));
    assert!(!denied(&list, &credit_online) && !denied(&list, &pure_ec));
}

#[test]
fn deny_list_inspect_and_refusals() {
    let dir = vectors().join("deny-list");
    let list = dir.join("list-v1.deny");
    let delta = dir.join("delta-v1-v2.deny");
    let output = quickpass(&[
        "deny-list",
        "inspect",
        list.to_str().unwrap(),
        "--delta",
        delta.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["kind"], "list");
    assert_eq!(
        (value["version"].as_u64(), value["entries"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(value["after_deltas"]["version"], 2);
    let output = quickpass(&["deny-list", "inspect", delta.to_str().unwrap(), "--json"]);
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (value["base"].as_u64(), value["version"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        (value["adds"].as_u64(), value["removes"].as_u64()),
        (Some(1), Some(1))
    );

    // A damaged file: exit 1 with the file and line; the same delta twice: refused.
    let out = std::env::temp_dir().join(format!("quickpass-cli-deny-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let damaged = out.join("damaged.deny");
    let mut bytes = std::fs::read(&list).unwrap();
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&damaged, &bytes).unwrap();
    let output = quickpass(&["deny-list", "inspect", damaged.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("damaged.deny") && stderr.contains("line 4: truncated"),
        "{stderr}"
    );
    let twice = quickpass(&[
        "deny-list",
        "inspect",
        list.to_str().unwrap(),
        "--delta",
        delta.to_str().unwrap(),
        "--delta",
        delta.to_str().unwrap(),
    ]);
    assert_eq!(twice.status.code(), Some(1));
    let stderr = String::from_utf8(twice.stderr).unwrap();
    assert!(
        stderr.contains("applies to version 1, the list is at version 2"),
        "{stderr}"
    );

    // A bad PAN file: the file and line, never the line's content.
    let pans = out.join("bad.pans");
    std::fs::write(
        &pans,
        "6228480012345671 01\n# comment\n\n62284800123X5671\n",
    )
    .unwrap();
    let output = quickpass(&[
        "deny-list",
        "build",
        "--salt",
        "276245CEEEFA926C9FD9C1F6FD9FF9F6",
        "--list-version",
        "1",
        "--pans",
        pans.to_str().unwrap(),
        "--out",
        out.join("x.deny").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("bad.pans:4: not a PAN"), "{stderr}");
    assert!(!stderr.contains("62284800123X5671") && !stderr.contains("6228480012345671"));
    assert!(!out.join("x.deny").exists());
    // A card both added and removed; a salt too short (usage error, exit 2).
    std::fs::write(&pans, "6228480012345671 01\n").unwrap();
    let output = quickpass(&[
        "deny-list",
        "delta",
        "--salt",
        "276245CEEEFA926C9FD9C1F6FD9FF9F6",
        "--base-version",
        "1",
        "--list-version",
        "2",
        "--add",
        pans.to_str().unwrap(),
        "--remove",
        pans.to_str().unwrap(),
        "--out",
        out.join("x.deny").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("the same card is added and removed"));
    let output = quickpass(&[
        "deny-list",
        "build",
        "--salt",
        "0011",
        "--list-version",
        "1",
        "--pans",
        "-",
        "--out",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    std::fs::remove_dir_all(&out).unwrap();
}
