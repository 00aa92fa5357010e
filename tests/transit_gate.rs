//! Issue 11's round trip through the `transit_gate` and `acquirer` examples: 1,000 riders tap
//! an online-ODA gate (each accepted for travel, its deferred authorisation in the store), the
//! batch goes to the simulated acquirer, which declines five cards; the gate applies the answers
//! (the five go on the deny list, saved as its next version) and refuses exactly those five on
//! their next tap, at step 4, while the 995 others ride again. The store keeps the list too: a
//! gate restarted with the store alone, or with an older list file, still refuses the five.
#![allow(clippy::unwrap_used)]

mod support;
use support::example;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(name: &str, args: &[&str]) -> Vec<Value> {
    let output = Command::new(example(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn taps(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("tap").is_some()).collect()
}

#[test]
fn a_thousand_taps_a_batch_five_declines_and_those_five_refused_next_time() {
    let dir = std::env::temp_dir().join(format!("quickpass-transit-gate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/deny-list/list-v1.deny");
    std::fs::copy(&data, dir.join("deny.deny")).unwrap();
    let before = quickpass::deny_list::load(dir.join("deny.deny")).unwrap();
    let (store, deny, batch, results) = (
        path("store.db"),
        path("deny.deny"),
        path("batch.jsonl"),
        path("results.jsonl"),
    );
    let gate = |extra: &[&str]| {
        let mut args = vec![
            "--taps",
            "1000",
            "--riders",
            "1000",
            "--json",
            "--store",
            &store,
            "--deny-list",
            &deny,
        ];
        args.extend_from_slice(extra);
        run("transit_gate", &args)
    };

    let first = gate(&["--export-batch", &batch]);
    let first_taps = taps(&first);
    assert_eq!(first_taps.len(), 1000);
    for tap in &first_taps {
        assert_eq!(tap["result"], "accepted", "{tap}");
        assert_eq!(tap["deferred"], true, "{tap}");
        assert_eq!(tap["oda"], "ok", "{tap}");
        assert!(tap["record"].is_u64(), "{tap}");
        // The PAN is masked in every line.
        assert!(tap["pan"].as_str().unwrap().contains("******"), "{tap}");
    }
    let exported = first.last().unwrap();
    assert_eq!(exported["exported"]["records"], 1000, "{exported}");
    assert_eq!(
        std::fs::read_to_string(&batch).unwrap().lines().count(),
        1000
    );

    let answer = run(
        "acquirer",
        &[
            "--batch",
            &batch,
            "--out",
            &results,
            "--decline",
            "5",
            "--json",
        ],
    );
    assert_eq!(answer[0]["approved"], 995, "{answer:?}");
    assert_eq!(answer[0]["declined"], 5, "{answer:?}");

    let second = gate(&["--apply-results", &results]);
    let applied = &second[0]["applied"];
    assert_eq!(
        (
            &applied["approved"],
            &applied["declined"],
            &applied["denied_cards_added"]
        ),
        (&Value::from(995), &Value::from(5), &Value::from(5)),
        "{applied}"
    );
    let after = quickpass::deny_list::load(dir.join("deny.deny")).unwrap();
    assert_eq!(after.len(), before.len() + 5);
    assert_eq!(after.version(), before.version() + 1);
    let second_taps = taps(&second);
    let refused: Vec<&&Value> = second_taps
        .iter()
        .filter(|t| t["result"] == "declined")
        .collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
    // The acquirer declined the batch's first five cards: riders 1 to 5, taps 1 to 5.
    for (tap, line) in refused.iter().enumerate() {
        assert_eq!(line["tap"], tap as u64 + 1, "{line}");
        assert!(
            line["reason"].as_str().unwrap().contains("(deny_list)"),
            "{line}"
        );
        assert_eq!(
            line["record"],
            Value::Null,
            "nothing deferred for a refusal"
        );
    }
    assert_eq!(
        second_taps
            .iter()
            .filter(|t| t["result"] == "accepted")
            .count(),
        995
    );

    // The store kept the list with the five added: a gate restarted without the file still
    // refuses exactly those five.
    let third = run(
        "transit_gate",
        &[
            "--taps", "10", "--riders", "1000", "--json", "--store", &store,
        ],
    );
    let results: Vec<&Value> = taps(&third).iter().map(|t| &t["result"]).collect();
    assert_eq!(
        results,
        [
            "declined", "declined", "declined", "declined", "declined", "accepted", "accepted",
            "accepted", "accepted", "accepted"
        ],
        "{third:?}"
    );
    // An older list file never replaces the store's newer one.
    std::fs::copy(&data, dir.join("old.deny")).unwrap();
    let fourth = run(
        "transit_gate",
        &[
            "--taps",
            "5",
            "--riders",
            "1000",
            "--json",
            "--store",
            &store,
            "--deny-list",
            &path("old.deny"),
        ],
    );
    assert!(
        taps(&fourth).iter().all(|t| t["result"] == "declined"),
        "{fourth:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
