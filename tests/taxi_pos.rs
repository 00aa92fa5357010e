//! Issue 12 item 3: online completion of a contactless tap as a taxi POS runs it — the host's
//! answer decides; no answer gives a reversal, an approval whose issuer update cannot reach the
//! card an advice — and the `taxi_pos` example's JSON for each host behaviour.
#![allow(clippy::unwrap_used)]

mod support;
use support::example;

use quickpass::kernel::contact::HostResponse;
use quickpass::kernel::contactless::{self, BackOfficeMessage, HostReply, TransactionResult};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

fn credit_card(ctq: &str) -> VirtualCard {
    let path = quickpass_sim::data::card_profile("qpboc-credit-online");
    let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    profile["applications"][0]["ctq"] = Value::from(ctq);
    CardProfile::from_json(&profile.to_string())
        .unwrap()
        .build()
        .unwrap()
}

fn online_tap(card: &mut VirtualCard) -> TransactionResult {
    let config = quickpass_sim::data::default_kernel_config().unwrap();
    let input = TransactionInput {
        amount: Amount::from_minor(6000).unwrap(),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 12, 7).unwrap(),
        time: TransactionTime::new(9, 0, 0).unwrap(),
        unpredictable_number: [1, 2, 3, 4],
    };
    let tap = contactless::transact(&config, &input, &mut ApduLayer::new(card)).result;
    assert_eq!(tap.outcome, Outcome::OnlineRequest, "{:?}", tap.record());
    tap
}

/// A `71` script with one command (`84 24 00 00 00`: APPLICATION BLOCK without its MAC — the
/// card refuses it, which still counts as delivered).
fn scripts() -> Vec<u8> {
    hex::decode("710F9F1804000000018605842400000000").unwrap()
}

fn approve(scripts: Vec<u8>) -> HostReply {
    let mut response = HostResponse::new(*b"00");
    response.scripts = scripts;
    HostReply::Answered(response)
}

type Layer<'a> = ApduLayer<&'a mut VirtualCard>;

#[test]
fn the_hosts_answer_decides_and_the_right_message_is_kept() {
    let mut card = credit_card("8000");
    let tap = online_tap(&mut card);
    let done = contactless::complete_online(&tap, approve(Vec::new()), None::<&mut Layer>).unwrap();
    assert_eq!(
        (done.outcome, done.message),
        (Outcome::Approved, Some(BackOfficeMessage::Clearing))
    );
    let declined = contactless::complete_online(
        &tap,
        HostReply::Answered(HostResponse::new(*b"05")),
        None::<&mut Layer>,
    )
    .unwrap();
    assert_eq!(
        (declined.outcome, declined.message),
        (Outcome::Declined, None)
    );
    let silent =
        contactless::complete_online(&tap, HostReply::NoAnswer, None::<&mut Layer>).unwrap();
    assert_eq!(
        (silent.outcome, silent.message),
        (Outcome::Declined, Some(BackOfficeMessage::Reversal))
    );
}

#[test]
fn an_issuer_update_reaches_a_present_card_or_becomes_an_advice() {
    // The card has gone: advice.
    let mut card = credit_card("8040");
    let tap = online_tap(&mut card);
    let gone = contactless::complete_online(&tap, approve(scripts()), None::<&mut Layer>).unwrap();
    assert_eq!(
        (gone.outcome, gone.message),
        (Outcome::Approved, Some(BackOfficeMessage::Advice))
    );
    // Still present, issuer update supported (CTQ byte 2 b7): the script runs (the card refuses
    // the unsigned command, so the result says failed at command 1), clearing.
    let mut layer = ApduLayer::new(&mut card);
    let present = contactless::complete_online(&tap, approve(scripts()), Some(&mut layer)).unwrap();
    assert_eq!(present.message, Some(BackOfficeMessage::Clearing));
    assert_eq!(present.script_results.len(), 1);
    assert_eq!(present.script_results[0].sequence, 1, "{present:?}");
    // Present, but the card does not support issuer update: nothing sent, advice.
    let mut plain = credit_card("8000");
    let tap = online_tap(&mut plain);
    let sent = {
        let mut layer = ApduLayer::new(&mut plain);
        let done =
            contactless::complete_online(&tap, approve(scripts()), Some(&mut layer)).unwrap();
        assert_eq!(done.message, Some(BackOfficeMessage::Advice));
        layer.counters().apdus_sent
    };
    assert_eq!(sent, 0, "no script command sent");
}

#[test]
fn only_an_online_request_is_completed_online() {
    let config = quickpass_sim::data::default_kernel_config().unwrap();
    let path = quickpass_sim::data::card_profile("qpboc-debit-offline");
    let mut card = CardProfile::load(&path).unwrap().build().unwrap();
    let input = TransactionInput {
        amount: Amount::from_minor(100).unwrap(),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 12, 7).unwrap(),
        time: TransactionTime::new(9, 0, 0).unwrap(),
        unpredictable_number: [1, 2, 3, 4],
    };
    let tap = contactless::transact(&config, &input, &mut ApduLayer::new(&mut card)).result;
    assert_eq!(tap.outcome, Outcome::Approved);
    assert!(contactless::complete_online(&tap, HostReply::NoAnswer, None::<&mut Layer>).is_err());
}

#[test]
fn taxi_pos_reports_each_host_behaviour() {
    let exe = example("taxi_pos");
    let run = |host: &str| -> Value {
        let output = std::process::Command::new(&exe)
            .args(["--host", host, "--json"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let approve = run("approve");
    assert_eq!(
        (
            &approve["tap"],
            &approve["outcome"],
            &approve["message"],
            &approve["cvm"]
        ),
        (
            &Value::from("online_request"),
            &Value::from("approved"),
            &Value::from("clearing"),
            &Value::from("online_pin")
        ),
        "{approve}"
    );
    assert!(approve["record"].is_u64());
    let decline = run("decline");
    assert_eq!(
        (&decline["outcome"], &decline["message"]),
        (&Value::from("declined"), &Value::Null)
    );
    let timeout = run("timeout");
    assert_eq!(
        (&timeout["outcome"], &timeout["message"]),
        (&Value::from("declined"), &Value::from("reversal"))
    );
    assert!(timeout["record"].is_u64(), "the reversal is kept");
    assert!(
        !timeout.to_string().contains("6250940012345675"),
        "no clear PAN"
    );
}
