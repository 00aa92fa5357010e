//! The committed seeds still drive the flows to their end: if a kernel change makes a recorded
//! tap stop at an earlier step, the fuzzer would silently lose the deep paths, so the seeds must
//! be regenerated (`cargo run --release --example seeds`).

use quickpass::kernel::contactless;
use quickpass::kernel::purse::{self, MemoryJournal};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::OdaStatus;
use quickpass::kernel::Outcome;
use quickpass_fuzz::{split_chunks, ScriptedCard, CONTACTLESS_AMOUNTS};

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/corpus/{target}/seed-{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn replay_contactless(name: &str) -> (Outcome, OdaStatus) {
    let bytes = seed("kernel_contactless", name);
    let config = quickpass_fuzz::contactless_config();
    let input = quickpass_fuzz::contactless_input(CONTACTLESS_AMOUNTS[usize::from(bytes[0])]);
    let mut layer = ApduLayer::new(ScriptedCard::new(split_chunks(&bytes[1..])));
    let result = contactless::read_card(config, &input, &mut layer)
        .expect("card phase")
        .complete(config);
    (result.outcome, result.oda.status())
}

#[test]
fn offline_card_seeds_replay_to_an_fdda_verified_approval() {
    for name in ["qpboc-debit-offline-100", "pure-ec-100"] {
        assert_eq!(
            replay_contactless(name),
            (Outcome::Approved, OdaStatus::Ok),
            "{name}"
        );
    }
}

#[test]
fn a_tampered_signature_seed_replays_to_failed_oda_without_approval() {
    let (outcome, oda) = replay_contactless("pure-ec-tamper_sdad-100");
    assert_ne!(outcome, Outcome::Approved);
    assert_eq!(oda, OdaStatus::Fail);
}

#[test]
fn the_paid_purse_seed_replays_to_a_paid_purchase() {
    let bytes = seed("purse_purchase", "paid");
    let mut layer = ApduLayer::new(ScriptedCard::new(split_chunks(&bytes)));
    let result = purse::purchase(
        &mut layer,
        &mut quickpass_fuzz::purse_sam(),
        &mut MemoryJournal::new(),
        &quickpass_fuzz::purse_config(),
        &quickpass_fuzz::purse_request(),
    )
    .expect("purchase");
    assert_eq!(result.outcome, purse::PurseOutcome::Paid, "{result:?}");
    assert!(result.record.expect("record").mac2_verified);
}

#[test]
fn chunks_round_trip() {
    let chunks: Vec<Vec<u8>> = vec![vec![], vec![0x90, 0x00], vec![7; 300]];
    let joined = quickpass_fuzz::join_chunks(&chunks);
    let split = split_chunks(&joined);
    assert_eq!(split, chunks.iter().map(Vec::as_slice).collect::<Vec<_>>());
    // A last chunk shorter than its length takes what is left.
    assert_eq!(split_chunks(&[0x00, 0x05, 0xAA]), vec![&[0xAA][..]]);
}

#[test]
fn the_deny_list_seeds_are_accepted_as_they_are_and_re_signed() {
    use quickpass::deny_list::{parse_delta, parse_list};
    for (name, list) in [
        ("list-v1-0", true),
        ("list-v1-1", true),
        ("delta-v1-v2-0", false),
        ("delta-v1-v2-1", false),
    ] {
        let bytes = seed("deny_list", name);
        let file = &bytes[1..];
        assert_eq!(
            quickpass_fuzz::resign_deny_file(file),
            file,
            "{name}: re-signing a valid file changes nothing"
        );
        if list {
            assert!(parse_list(file).is_ok(), "{name}");
        } else {
            assert!(parse_delta(file).is_ok(), "{name}");
        }
    }
}

/// The C-2 seed (a recorded tap of `vectors/cards/mastercard-mchip.json`, amount 1.00, relay
/// resistance timed at 6.5 ms) replays to a CDA-verified offline approval, as the `kernel_c2`
/// target runs it.
#[test]
fn the_c2_seed_replays_to_a_cda_verified_approval() {
    use quickpass::kernel::c2::{self, C2Config, RelayEnvironment, TornLog};
    struct Clock(u64);
    impl RelayEnvironment for Clock {
        fn now_micros(&mut self) -> u64 {
            self.0 += 6_500;
            self.0
        }
        fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
            [0; 4]
        }
    }
    let bytes = seed("kernel_c2", "mastercard-mchip-100");
    assert_eq!(bytes[0] >> 2, 26, "the selector the seed was recorded with");
    let chunks = split_chunks(&bytes[1..]);
    let config = quickpass_fuzz::contactless_config();
    let input = quickpass_fuzz::contactless_input(CONTACTLESS_AMOUNTS[usize::from(bytes[0] & 3)]);
    let reader = C2Config {
        floor_limit: 100_000,
        ..C2Config::default()
    };
    let mut layer = ApduLayer::new(ScriptedCard::new(chunks[1..].to_vec()));
    let result = c2::transact(
        config,
        &reader,
        &input,
        chunks[0],
        &mut layer,
        &mut TornLog::new(),
        &mut Clock(0),
    );
    assert_eq!(result.outcome(), Outcome::Approved, "{:?}", result.reason);
    assert_eq!(result.oda.status(), OdaStatus::Ok);
}
