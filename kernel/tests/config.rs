//! Terminal configuration: one validation path for JSON, code and embedding; errors that name
//! their JSON path; the TTQ derived from, and checked against, the capabilities.

#![allow(clippy::unwrap_used)]

use quickpass_kernel::bits::Ttq;
use quickpass_kernel::config::{ConfigError, InvalidReason, TerminalConfig, TerminalConfigParts};
use serde_json::Value;

const DEFAULT: &str = include_str!("../../vectors/terminals/default.json");

fn default_json() -> Value {
    serde_json::from_str(DEFAULT).unwrap()
}

fn from_value(json: &Value) -> Result<TerminalConfig, ConfigError> {
    TerminalConfig::from_json(&json.to_string())
}

fn default_parts() -> TerminalConfigParts {
    TerminalConfig::from_json(DEFAULT).unwrap().into_parts()
}

#[test]
fn a_format_error_names_its_json_path() {
    let mut json = default_json();
    json["terminal"]["capabilities"] = "E0E1".into();
    let err = from_value(&json).unwrap_err();
    assert!(matches!(err, ConfigError::Json { .. }), "{err:?}");
    assert_eq!(err.path(), "terminal.capabilities");
    assert!(
        err.to_string().starts_with("terminal.capabilities: "),
        "{err}"
    );

    let mut json = default_json();
    json["aids"][1]["floor_limit"] = "lots".into();
    let err = from_value(&json).unwrap_err();
    assert_eq!(err.path(), "aids[1].floor_limit");
    assert!(
        err.to_string().starts_with("aids[1].floor_limit: "),
        "{err}"
    );

    let mut json = default_json();
    json["aids"][3]["tac_online"] = "not hex!!!".into();
    assert_eq!(from_value(&json).unwrap_err().path(), "aids[3].tac_online");
}

#[test]
fn a_validation_error_names_the_aid_index() {
    let mut json = default_json();
    json["aids"][2]["cvm_limit"] = 200_000.into();
    let err = from_value(&json).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                reason: InvalidReason::CvmLimitAboveContactlessLimit,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.path(), "aids[2].cvm_limit");
    assert_eq!(
        err.to_string(),
        "aids[2].cvm_limit: above the contactless limit"
    );

    let mut json = default_json();
    json["exception_file"] = serde_json::json!(["6210220110002707355", "62102201X"]);
    assert_eq!(from_value(&json).unwrap_err().path(), "exception_file[1]");
}

#[test]
fn a_broken_ddol_names_its_field_and_keeps_the_dol_error_as_source() {
    let mut json = default_json();
    json["aids"][1]["default_ddol"] = "9F37".into();
    let err = from_value(&json).unwrap_err();
    assert!(matches!(err, ConfigError::Dol { .. }), "{err:?}");
    assert_eq!(err.path(), "aids[1].default_ddol");
    assert_eq!(err.to_string(), "aids[1].default_ddol: not a valid DOL");
    let source = std::error::Error::source(&err).expect("the DOL error");
    assert!(!err.to_string().contains(&source.to_string()), "{err}");
}

#[test]
fn code_and_json_are_refused_with_the_same_error() {
    /// What is wrong, the edit to the JSON, the same edit to the parts.
    type Case = (&'static str, fn(&mut Value), fn(&mut TerminalConfigParts));
    let cases: [Case; 4] = [
        (
            "cvm limit above the contactless limit",
            |j| j["aids"][2]["cvm_limit"] = 200_000.into(),
            |p| p.aids[2].cvm_limit = Some(200_000),
        ),
        (
            "no AID",
            |j| j["aids"] = serde_json::json!([]),
            |p| p.aids.clear(),
        ),
        (
            "offline-only terminal with an online TTQ",
            |j| j["terminal"]["online_capable"] = false.into(),
            |p| {
                p.terminal.online_capable = false;
                p.terminal.ttq = Some([0x36, 0x00, 0x00, 0x80]);
            },
        ),
        (
            "EC terminal limit over n12",
            |j| j["aids"][0]["ec_terminal_limit"] = 1_000_000_000_000u64.into(),
            |p| p.aids[0].ec_terminal_limit = Some(1_000_000_000_000),
        ),
    ];
    for (what, edit_json, edit_parts) in cases {
        let mut json = default_json();
        if json["terminal"].get("ttq").is_none() && what.contains("TTQ") {
            json["terminal"]["ttq"] = "36000080".into();
        }
        edit_json(&mut json);
        let from_json = from_value(&json).unwrap_err();
        let mut parts = default_parts();
        edit_parts(&mut parts);
        let from_code = TerminalConfig::new(parts.clone()).unwrap_err();
        assert_eq!(from_json.to_string(), from_code.to_string(), "{what}");
        assert_eq!(from_json.path(), from_code.path(), "{what}");
        // The same parts edited from a valid configuration are refused the same way.
        let edited = TerminalConfig::from_json(DEFAULT)
            .unwrap()
            .edited(|p| *p = parts)
            .unwrap_err();
        assert_eq!(edited.to_string(), from_code.to_string(), "{what}");
    }
}

#[test]
fn a_configuration_embedded_in_another_document_is_validated() {
    #[derive(serde::Deserialize)]
    struct Integrator {
        #[allow(dead_code)]
        depot: String,
        terminal: TerminalConfig,
    }
    let good = format!(r#"{{"depot": "north", "terminal": {DEFAULT}}}"#);
    let parsed: Integrator = serde_json::from_str(&good).unwrap();
    assert_eq!(parsed.terminal.aids().len(), 4);

    let mut json = default_json();
    json["aids"][2]["cvm_limit"] = 200_000.into();
    let bad = format!(r#"{{"depot": "north", "terminal": {json}}}"#);
    let err = serde_json::from_str::<Integrator>(&bad).err().unwrap();
    assert!(
        err.to_string()
            .contains("aids[2].cvm_limit: above the contactless limit"),
        "{err}"
    );
}

#[test]
fn hex_round_trips_in_upper_case() {
    let mut json = default_json();
    json["terminal"]["capabilities"] = "e0e1c8".into();
    json["terminal"]["ttq"] = "36000080".into();
    let config = from_value(&json).unwrap();
    assert_eq!(config.terminal().capabilities, [0xE0, 0xE1, 0xC8]);
    let out = serde_json::to_value(&config).unwrap();
    assert_eq!(out["terminal"]["capabilities"], "E0E1C8");
    assert_eq!(out["terminal"]["ttq"], "36000080");
    assert_eq!(out["aids"][0]["tac_default"], "D84000A800");
    assert_eq!(out["aids"][0]["default_ddol"], "9F3704");
    let again: TerminalConfig = serde_json::from_value(out).unwrap();
    assert_eq!(again, config);
    // Without a TTQ, none is written back: it stays derived.
    let derived = TerminalConfig::from_json(DEFAULT).unwrap();
    assert_eq!(derived.terminal().ttq, None);
    assert!(serde_json::to_value(&derived).unwrap()["terminal"]
        .get("ttq")
        .is_none());
}

/// pboc-notes §2.2: the TTQ follows the capabilities when none is configured.
#[test]
fn the_ttq_is_derived_from_the_capabilities() {
    let parts = default_parts();
    assert_eq!(parts.terminal.ttq, None, "default.json derives its TTQ");
    assert_eq!(
        parts.terminal.effective_ttq().as_bytes(),
        &[0x36, 0x00, 0x00, 0x80]
    );

    let mut offline = parts.terminal.clone();
    offline.online_capable = false;
    offline.contact_supported = false;
    let ttq = offline.effective_ttq();
    // qPBOC, offline-only, signature (9F33 byte 2 E1 has it), fDDA v01.
    assert_eq!(ttq.as_bytes(), &[0x2A, 0x00, 0x00, 0x80]);
    assert!(ttq.contains(Ttq::OFFLINE_ONLY_READER));
    assert!(!ttq.contains(Ttq::ONLINE_PIN_SUPPORTED));

    let mut no_signature = offline.clone();
    no_signature.capabilities[1] &= !0x20;
    assert_eq!(
        no_signature.derived_ttq().as_bytes(),
        &[0x28, 0x00, 0x00, 0x80],
        "the XA metro reader of pboc-notes §2.2"
    );

    // A configured TTQ wins over the derived one.
    let mut given = parts.terminal;
    given.ttq = Some([0x76, 0x00, 0x00, 0x80]);
    assert_eq!(given.effective_ttq().as_bytes(), &[0x76, 0x00, 0x00, 0x80]);
}

#[test]
fn a_ttq_that_contradicts_the_capabilities_is_refused() {
    let refused = |edit: fn(&mut TerminalConfigParts)| {
        let mut parts = default_parts();
        edit(&mut parts);
        let err = TerminalConfig::new(parts).unwrap_err();
        assert_eq!(err.path(), "terminal.ttq", "{err}");
        err.to_string()
    };
    // Offline-only terminal, online TTQ (the issue's bus validator), and the reverse.
    let msg = refused(|p| {
        p.terminal.online_capable = false;
        p.terminal.contact_supported = false;
        p.terminal.ttq = Some([0x20, 0x00, 0x00, 0x80]);
    });
    assert!(msg.contains("offline-only"), "{msg}");
    refused(|p| p.terminal.ttq = Some([0x3E, 0x00, 0x00, 0x80]));
    // Contact PBOC advertised without a contact interface.
    refused(|p| {
        p.terminal.contact_supported = false;
        p.terminal.ttq = Some([0x36, 0x00, 0x00, 0x80]);
    });
    // Online PIN on an offline-only reader; online PIN and signature without the capability.
    refused(|p| {
        p.terminal.online_capable = false;
        p.terminal.ttq = Some([0x3C, 0x00, 0x00, 0x80]);
    });
    refused(|p| {
        p.terminal.capabilities[1] = 0x20;
        p.terminal.ttq = Some([0x36, 0x00, 0x00, 0x80]);
    });
    refused(|p| {
        p.terminal.capabilities[1] = 0x40;
        p.terminal.ttq = Some([0x36, 0x00, 0x00, 0x80]);
    });
    // The consistent ones are accepted: the XA metro reader and advertising less than it can.
    let mut parts = default_parts();
    parts.terminal.online_capable = false;
    parts.terminal.contact_supported = false;
    parts.terminal.ttq = Some([0x28, 0x00, 0x00, 0x80]);
    assert!(TerminalConfig::new(parts).is_ok());
    let mut parts = default_parts();
    parts.terminal.ttq = Some([0x20, 0x00, 0x00, 0x80]);
    assert!(TerminalConfig::new(parts).is_ok());
}
