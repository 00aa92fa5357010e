//! `transact --kernel auto|qpboc|c2|c3` (issue 13): the JSON reports the `kernel` that ran and
//! the `outcome_parameters` (C-2 on the simulated Mastercard card, C-3 on the Visa card, qPBOC on
//! the UnionPay card); a kernel no configured combination runs ends the application; the
//! existing flags and fields are unchanged.

mod support;
use support::example;

use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn transact(args: &[&str]) -> Output {
    Command::new(example("transact"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run transact")
}

fn json(args: &[&str]) -> Value {
    let mut all = vec!["--json", "--un", "01020304", "--date", "261128"];
    all.extend_from_slice(args);
    let output = transact(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

fn data(path: &str) -> String {
    quickpass_sim::data::data_dir()
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_json_names_the_kernel_and_the_outcome_parameters() {
    let international = data("terminals/international.json");
    let visa = data("cards/visa-qvsdc.json");
    let mastercard = data("cards/mastercard-mchip.json");
    // (arguments, kernel, outcome)
    let table: [(Vec<&str>, Option<&str>, &str); 10] = [
        // The Mastercard card routes to C-2: an ARQC above the reader's floor limit (0), a TC
        // with CDA at a zero amount.
        (
            vec!["--config", &international, "--profile", &mastercard],
            Some("c2"),
            "online_request",
        ),
        (
            vec![
                "--config",
                &international,
                "--profile",
                &mastercard,
                "--amount",
                "0",
            ],
            Some("c2"),
            "approved",
        ),
        (
            vec![
                "--config",
                &international,
                "--profile",
                &mastercard,
                "--kernel",
                "c2",
            ],
            Some("c2"),
            "online_request",
        ),
        (
            vec![
                "--config",
                &international,
                "--profile",
                &mastercard,
                "--kernel",
                "c3",
            ],
            None,
            "end_application",
        ),
        (vec![], Some("qpboc"), "approved"),
        (vec!["--kernel", "auto"], Some("qpboc"), "approved"),
        (vec!["--kernel", "qpboc"], Some("qpboc"), "approved"),
        (vec!["--kernel", "c3"], None, "end_application"),
        (
            vec!["--config", &international, "--profile", &visa],
            Some("c3"),
            "approved",
        ),
        (
            vec![
                "--config",
                &international,
                "--profile",
                &visa,
                "--kernel",
                "qpboc",
            ],
            None,
            "end_application",
        ),
    ];
    for (args, kernel, outcome) in table {
        let value = json(&args);
        assert_eq!(value["kernel"].as_str(), kernel, "{args:?}: {value}");
        assert_eq!(value["outcome"], outcome, "{args:?}: {value}");
        // Existing fields stay.
        for field in [
            "cryptogram_type",
            "oda",
            "tvr",
            "aid",
            "apdus",
            "cvm",
            "reason",
        ] {
            assert!(value.get(field).is_some(), "{args:?}: {field}");
        }
        let parameters = &value["outcome_parameters"];
        assert_eq!(parameters["outcome"], outcome, "{args:?}");
        let bytes = parameters["bytes"].as_str().expect("DF8129 hex");
        assert_eq!(bytes.len(), 16);
        if kernel == Some("c2") {
            // CDA verified on both the TC and the ARQC; the PAN masked.
            assert_eq!(value["oda"], "ok", "{args:?}: {value}");
            assert_eq!(value["pan"], "541333******0434", "{args:?}: {value}");
        }
        let status = match outcome {
            "approved" => "10",
            "online_request" => "30",
            "end_application" => "40",
            other => panic!("{other}"),
        };
        assert_eq!(&bytes[..2], status, "{args:?}");
        if outcome == "approved" {
            assert_eq!(parameters["ui_request_on_outcome"]["message_id"], "03");
            assert_eq!(parameters["data_record_present"], true);
        }
    }
}

#[test]
fn a_kernel_no_combination_runs_ends_the_application_and_a_bad_value_is_a_usage_error() {
    // The default terminal configures no Mastercard AID: no C-2 combination, nothing selected.
    let value = json(&["--kernel", "c2"]);
    assert_eq!(value["outcome"], "end_application", "{value}");
    assert_eq!(value["kernel"], Value::Null, "{value}");
    let output = transact(&["--json", "--kernel", "c9"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}
