//! Runs the conformance runner over the project's vector files, as the README's main job does.

use std::path::PathBuf;

use quickpass_sim::conformance::run_paths;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

#[test]
fn every_vector_case_passes() {
    // The test CA's published key is a capk vector file too: it is checked with the rest.
    let report = run_paths(&[vectors(), quickpass_sim::data::test_ca_dir()]);
    assert!(
        report
            .results
            .iter()
            .any(|r| r.file.contains("capk-quickpass-test")),
        "the test CA's key list is part of the run"
    );
    assert!(
        report.results.len() > 200,
        "too few cases found: {}",
        report.results.len()
    );
    assert!(
        report.results.iter().any(|r| r.file.starts_with("trace-")),
        "the trace vectors are part of the run"
    );
    let failures: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.failure.is_some())
        .map(ToString::to_string)
        .collect();
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
    let last = report.lines().pop().expect("summary line");
    assert_eq!(
        last,
        format!("{} passed, {} failed", report.passed(), report.failed())
    );
}

#[test]
fn a_tampered_expectation_fails_its_case() {
    let dir = std::env::temp_dir().join(format!("quickpass-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let original = std::fs::read_to_string(vectors().join("hash-sm3.json")).expect("read");
    let mut document: serde_json::Value = serde_json::from_str(&original).expect("json");
    let cases = document["cases"].as_array_mut().expect("cases");
    let digest = cases[0]["expect"]["digest"]
        .as_str()
        .expect("digest")
        .to_owned();
    let flipped = if digest.starts_with('0') { "1" } else { "0" };
    cases[0]["expect"]["digest"] = format!("{flipped}{}", &digest[1..]).into();
    cases[1]["expect"]["surprise"] = "00".into();
    cases[2]["algorithm"] = "md5".into();
    let path = dir.join("tampered.json");
    std::fs::write(&path, serde_json::to_string(&document).expect("json")).expect("write");
    let report = run_paths(&[path]);
    std::fs::remove_dir_all(&dir).ok();
    let failures: Vec<_> = report.results.iter().map(|r| r.failure.clone()).collect();
    assert!(failures[0]
        .as_deref()
        .is_some_and(|f| f.contains("digest mismatch")));
    assert_eq!(
        failures[1].as_deref(),
        Some("unsupported expect field `surprise`")
    );
    assert_eq!(failures[2].as_deref(), Some("unsupported algorithm md5"));
    assert!(failures[3].is_none());
}

#[test]
fn unreadable_file_is_one_failed_case_and_foreign_json_is_ignored() {
    let dir =
        std::env::temp_dir().join(format!("quickpass-conformance-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("broken.json"), "{ not json").expect("write");
    std::fs::write(
        dir.join("profile.json"),
        r#"{"schema": "quickpass-card/1"}"#,
    )
    .expect("write");
    std::fs::write(
        dir.join("nocases.json"),
        r#"{"schema": "quickpass-vectors/1", "kind": "hash", "source": ["x"], "cases": []}"#,
    )
    .expect("write");
    let report = run_paths(std::slice::from_ref(&dir));
    std::fs::remove_dir_all(&dir).ok();
    let lines = report.lines();
    assert_eq!(report.results.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("FAIL broken.json#*: not JSON"));
    assert!(lines[1].starts_with("FAIL nocases.json#*: no non-empty cases"));
    assert_eq!(lines[2], "0 passed, 2 failed");
}
