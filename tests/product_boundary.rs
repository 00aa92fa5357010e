//! The product boundary: what the facade trusts and what it links.
//!
//! - The simulator's test CA (private keys public) is never in the production CA key lists, and
//!   the product's loader refuses a list that carries it, under any RID and index.
//! - An unreadable key directory is an error; a key refused on its checksum is reported.
//! - The facade crate does not depend on the simulator and embeds no test key.

use std::path::{Path, PathBuf};

use quickpass::crypto::capk::{CapkIndex, Rid};
use quickpass::setup::{self, SetupError};
use quickpass_sim::ca::{TestCa, RSA_CA_INDEX, SM2_CA_INDEX, TEST_RID};
use quickpass_sim::data;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("quickpass-boundary-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn the_test_ca_is_not_in_the_production_lists() {
    let files = data::production_capk_files().expect("production lists");
    assert!(files.len() >= 2, "{files:?}");
    let load = setup::load_production_capks(&files).expect("production lists load");
    assert!(load.store.len() > 10, "{} keys", load.store.len());
    for key in load.store.iter() {
        assert!(!setup::is_known_test_key(key), "{:?}", key.rid());
    }
    for index in [RSA_CA_INDEX, SM2_CA_INDEX] {
        assert!(load.store.get(Rid(TEST_RID), CapkIndex(index)).is_none());
    }
}

#[test]
fn both_test_ca_keys_are_recognised_as_test_keys() {
    let ca = TestCa::shared().expect("test CA");
    let rsa = ca.rsa_ca_public_key().expect("RSA CA key");
    let sm2 = ca.sm2_ca_public_key().expect("SM2 CA key");
    println!(
        "fingerprints: RSA {} SM2 {}",
        hex::encode_upper(quickpass::crypto::hash::sha1(rsa.key_bytes())),
        hex::encode_upper(quickpass::crypto::hash::sha1(sm2.key_bytes()))
    );
    assert!(setup::is_known_test_key(&rsa));
    assert!(setup::is_known_test_key(&sm2));
}

/// The UnionPay production list with the test CA's key appended as one more case, filed under
/// `rid`/`index`.
fn unionpay_list_with_the_test_key(rid: &str, index: &str) -> String {
    let production = data::data_dir().join("capk/capk-unionpay.json");
    let mut list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(production).expect("list")).expect("json");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data::test_capk_file()).expect("test CA"))
            .expect("json");
    let mut case = test["cases"][0].clone();
    case["rid"] = rid.into();
    case["index"] = index.into();
    // The checksum covers RID and index: recompute it so only the key itself gives it away.
    let modulus = hex::decode(case["modulus"].as_str().expect("modulus")).expect("hex");
    let rid_bytes: [u8; 5] = hex::decode(rid).expect("hex").try_into().expect("5 bytes");
    let index_byte = u8::from_str_radix(index, 16).expect("index");
    let checksum = quickpass::crypto::capk::rsa_checksum(
        Rid(rid_bytes),
        CapkIndex(index_byte),
        &modulus,
        &[0x03],
    );
    case["checksum"] = hex::encode_upper(checksum).into();
    case.as_object_mut().expect("case").remove("tlv");
    list["cases"].as_array_mut().expect("cases").push(case);
    list.to_string()
}

#[test]
fn a_production_list_holding_the_test_key_is_refused_under_any_rid_and_index() {
    let dir = scratch("mixed");
    for (rid, index) in [("A000000333", "F1"), ("A000000003", "09")] {
        let path = dir.join(format!("mixed-{rid}-{index}.json"));
        std::fs::write(&path, unionpay_list_with_the_test_key(rid, index)).expect("write");
        let files = vec![data::data_dir().join("capk/capk-emv.json"), path.clone()];
        match setup::load_production_capks(&files) {
            Err(SetupError::TestKeyInProductionList {
                path: refused,
                rid: r,
                index: i,
            }) => {
                assert_eq!(refused, path);
                assert_eq!(r, rid);
                assert_eq!(format!("{i:02X}"), index);
            }
            other => panic!("{rid}/{index}: expected a refusal, got {other:?}"),
        }
        // The error names the file and says what to do.
        let message = setup::load_production_capks(&files)
            .expect_err("refused")
            .to_string();
        assert!(message.contains("test key"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_or_empty_key_directory_is_an_error_not_an_empty_list() {
    let dir = scratch("empty");
    assert!(matches!(
        setup::capk_files_in(&dir),
        Err(SetupError::NoCapkFiles { .. })
    ));
    assert!(matches!(
        setup::capk_files_in(&dir.join("missing")),
        Err(SetupError::Io { .. })
    ));
    assert!(matches!(
        setup::load_production_capks(&[dir.join("missing.json")]),
        Err(SetupError::Io { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_refused_on_their_checksum_are_reported_with_file_and_id() {
    let unionpay = data::data_dir().join("capk/capk-unionpay.json");
    let load = setup::load_production_capks(std::slice::from_ref(&unionpay)).expect("loads");
    let refused: Vec<&str> = load.refused.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(refused, ["cup_0B_wrong_checksum"]);
    assert_eq!(load.refused[0].path, unionpay);
}

/// The `[dependencies]` table of a manifest, as text.
fn normal_dependencies(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let start = text.find("\n[dependencies]").expect("[dependencies]");
    let rest = &text[start + 1..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |n| n + 1);
    rest[..end].to_owned()
}

#[test]
fn the_product_crates_neither_depend_on_the_simulator_nor_embed_a_test_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for manifest in ["Cargo.toml", "kernel/Cargo.toml", "crypto/Cargo.toml"] {
        let deps = normal_dependencies(&root.join(manifest));
        assert!(!deps.contains("quickpass-sim"), "{manifest}: {deps}");
    }
    let facade = std::fs::read_to_string(root.join("Cargo.toml")).expect("manifest");
    assert!(
        facade.contains("default = []"),
        "no default feature pulls test tooling"
    );
    // No product source embeds or names a file of the test CA's keys.
    let mut stack = vec![
        root.join("src"),
        root.join("kernel/src"),
        root.join("crypto/src"),
    ];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                let text = std::fs::read_to_string(&path).expect("source");
                for needle in [
                    "test-rsa.json",
                    "test-sm2.json",
                    "test-ca/",
                    "quickpass_sim",
                ] {
                    let code = text
                        .lines()
                        .filter(|line| !line.trim_start().starts_with("//"))
                        .any(|line| line.contains(needle));
                    assert!(!code, "{} uses {needle}", path.display());
                }
            }
        }
    }
    assert!(seen > 50, "{seen} product sources checked");
    // And the private half of the test CA appears in none of them (hex, either case).
    let keys: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data::test_ca_dir().join("test-rsa.json")).expect("keys"),
    )
    .expect("json");
    let private = keys["keys"]["ca"]["private_exponent"]
        .as_str()
        .expect("private exponent")
        .to_ascii_uppercase();
    assert!(private.len() > 100);
    for dir in ["src", "kernel/src", "crypto/src"] {
        let mut stack = vec![root.join(dir)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    assert!(!text.to_ascii_uppercase().contains(&private[..64]));
                }
            }
        }
    }
}

/// The `tlv` fields of a capk vector file's valid cases: the same keys as terminal parameter
/// records.
fn tlv_records(path: &Path) -> Vec<u8> {
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("list")).expect("json");
    let mut out = Vec::new();
    for case in list["cases"].as_array().expect("cases") {
        if case["expect"]["valid"] == true {
            if let Some(tlv) = case["tlv"].as_str() {
                out.extend(hex::decode(tlv).expect("hex"));
            }
        }
    }
    out
}

#[test]
fn terminal_parameter_files_of_tlv_records_load_and_a_test_key_among_them_is_refused() {
    let dir = scratch("tlv");
    let unionpay = tlv_records(&data::data_dir().join("capk/capk-unionpay.json"));
    assert!(!unionpay.is_empty());
    let binary = dir.join("unionpay.tlv");
    std::fs::write(&binary, &unionpay).expect("write");
    let text = dir.join("unionpay.hex");
    std::fs::write(&text, hex::encode_upper(&unionpay)).expect("write");
    let files = setup::capk_files_in(&dir).expect("two lists");
    assert_eq!(files, [text.clone(), binary.clone()]);
    let load = setup::load_production_capks(&files).expect("TLV lists load");
    assert!(load.store.len() >= 5, "{} keys", load.store.len());
    assert!(load.refused.is_empty(), "{:?}", load.refused);

    let mut mixed = unionpay.clone();
    mixed.extend(tlv_records(&data::test_capk_file()));
    let path = dir.join("mixed.tlv");
    std::fs::write(&path, mixed).expect("write");
    assert!(matches!(
        setup::load_production_capks(&[path]),
        Err(SetupError::TestKeyInProductionList { index: 0xF1, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
