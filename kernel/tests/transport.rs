//! The APDU layer against scripted fake cards: 61xx chaining, 6Cxx re-send, caps, errors,
//! counters and the exchange log.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use quickpass_kernel::apdu::{Command, Response};
use quickpass_kernel::transport::{
    ApduLayer, CardPresence, Counters, ExchangeError, LifecycleError, Limits, LinkFailure,
    Transport, TransportError,
};
use quickpass_kernel::values::StatusWord;

#[derive(Debug, thiserror::Error)]
#[error("card removed")]
struct Removed;

impl TransportError for Removed {
    fn link_failure(&self) -> LinkFailure {
        LinkFailure::CardRemoved
    }
}

/// Answers each expected command with a recorded response, in order; fails the test when the
/// layer sends something else, and reports `Removed` when the script is exhausted.
#[derive(Debug)]
struct Scripted {
    script: VecDeque<(String, String)>,
}

impl Scripted {
    fn new(script: &[(&str, &str)]) -> Self {
        Scripted {
            script: script
                .iter()
                .map(|(c, r)| (c.to_string(), r.to_string()))
                .collect(),
        }
    }
}

impl Transport for Scripted {
    type Error = Removed;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Removed> {
        let (want, response) = self.script.pop_front().ok_or(Removed)?;
        assert_eq!(hex::encode_upper(command), want, "unexpected command");
        Ok(hex::decode(response).expect("hex"))
    }
}

/// A hostile card that answers everything with data and `61FF`.
struct Endless;

impl Transport for Endless {
    type Error = Removed;

    fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, Removed> {
        let mut r = vec![0xAB; 255];
        r.extend_from_slice(&[0x61, 0xFF]);
        Ok(r)
    }
}

#[test]
fn plain_exchange_and_counters() {
    let mut layer = ApduLayer::new(Scripted::new(&[("0084000000", "01020304050607089000")]));
    let r = layer.exchange(&Command::get_challenge()).unwrap();
    assert_eq!(
        r,
        Response::new(vec![1, 2, 3, 4, 5, 6, 7, 8], StatusWord::OK)
    );
    assert_eq!(
        layer.counters(),
        Counters {
            apdus_sent: 1,
            bytes_sent: 5,
            bytes_received: 10
        }
    );
    layer.reset_counters();
    assert_eq!(layer.counters(), Counters::default());
}

#[test]
fn get_response_chaining_over_several_rounds() {
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("80A8000002830000", "6104"),
        ("00C0000004", "770A82026104"),
        ("00C0000004", "7C009F366104"),
        ("00C0000004", "020001909000"),
    ]));
    layer.record();
    let r = layer
        .exchange(&Command::get_processing_options(&[]).unwrap())
        .unwrap();
    assert_eq!(hex::encode_upper(&r.data), "770A82027C009F3602000190");
    assert_eq!(r.sw, StatusWord::OK);
    let c = layer.counters();
    assert_eq!(c.apdus_sent, 4);
    assert_eq!(c.bytes_sent, 8 + 5 * 3);
    assert_eq!(c.bytes_received, 2 + 6 + 6 + 6);
    let log = layer.take_log();
    assert_eq!(log.len(), 4);
    assert_eq!(hex::encode_upper(&log[1].command), "00C0000004");
    assert_eq!(hex::encode_upper(&log[3].response), "020001909000");
}

#[test]
fn chaining_keeps_the_final_status_word() {
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("00B2010C00", "6102"),
        ("00C0000002", "70006283"),
    ]));
    let sfi = quickpass_kernel::values::Sfi::new(1).unwrap();
    let r = layer
        .exchange(&Command::read_record(1, sfi).unwrap())
        .unwrap();
    assert_eq!(r.data, vec![0x70, 0x00]);
    assert_eq!(r.sw, StatusWord::SELECTED_FILE_INVALIDATED);
}

#[test]
fn wrong_le_is_resent_once_with_the_exact_length() {
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("805C000204", "6C04"),
        ("805C000204", "000003E89000"),
    ]));
    // The card wants Le 04 even though we sent 04: the layer obeys the card, once.
    let r = layer
        .exchange(&Command::get_balance(quickpass_kernel::apdu::Purse::Purse))
        .unwrap();
    assert_eq!(r.data, vec![0, 0, 3, 0xE8]);

    let mut layer = ApduLayer::new(Scripted::new(&[
        ("80CA9F7900", "6C09"),
        ("80CA9F7909", "9F79060000000100009000"),
    ]));
    let r = layer
        .exchange(&Command::get_data(quickpass_kernel::Tag::new(0x9F79)).unwrap())
        .unwrap();
    assert_eq!(hex::encode_upper(&r.data), "9F7906000000010000");
    assert!(r.is_success());

    // A second 6Cxx is handed back, not retried again.
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("0084000000", "6C08"),
        ("0084000008", "6C10"),
    ]));
    let r = layer.exchange(&Command::get_challenge()).unwrap();
    assert_eq!(r.sw, StatusWord(0x6C10));
    assert_eq!(layer.counters().apdus_sent, 2);
}

#[test]
fn wrong_le_then_chaining() {
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("00A404000E325041592E5359532E444446303100", "6C20"),
        ("00A404000E325041592E5359532E444446303120", "6103"),
        ("00C0000003", "6C02"),
        ("00C0000002", "6F009000"),
    ]));
    let r = layer.exchange(&Command::select_ppse()).unwrap();
    assert_eq!(r, Response::new(vec![0x6F, 0x00], StatusWord::OK));
    assert_eq!(layer.counters().apdus_sent, 4);
}

#[test]
fn endless_61xx_is_capped() {
    let limits = Limits {
        max_get_response_rounds: 3,
        max_response_len: 1 << 20,
    };
    let mut layer = ApduLayer::with_limits(Endless, limits);
    match layer.exchange(&Command::get_challenge()) {
        Err(ExchangeError::TooManyGetResponses { rounds: 3 }) => {}
        other => panic!("expected the round cap, got {other:?}"),
    }
    assert_eq!(layer.counters().apdus_sent, 4);

    // The size cap stops a card that sends large blocks before the round cap does.
    let mut layer = ApduLayer::with_limits(
        Endless,
        Limits {
            max_get_response_rounds: 1000,
            max_response_len: 1000,
        },
    );
    match layer.exchange(&Command::get_challenge()) {
        Err(ExchangeError::ResponseTooLong { limit: 1000 }) => {}
        other => panic!("expected the size cap, got {other:?}"),
    }
    assert_eq!(layer.counters().apdus_sent, 4);
    // The default limits also end the exchange, after at most 1 + 16 commands.
    let mut layer = ApduLayer::new(Endless);
    assert!(layer.exchange(&Command::get_challenge()).is_err());
    assert!(layer.counters().apdus_sent <= 17);
}

#[test]
fn transport_errors_and_malformed_responses() {
    let mut layer = ApduLayer::new(Scripted::new(&[]));
    let err = layer.exchange(&Command::get_challenge()).unwrap_err();
    assert!(matches!(err, ExchangeError::Transport(Removed)));
    assert_eq!(err.to_string(), "transport failed");
    assert_eq!(
        std::error::Error::source(&err).map(|s| s.to_string()),
        Some("card removed".to_owned())
    );

    // Card leaves in the middle of chaining.
    let mut layer = ApduLayer::new(Scripted::new(&[("0084000000", "6108")]));
    assert!(matches!(
        layer.exchange(&Command::get_challenge()),
        Err(ExchangeError::Transport(Removed))
    ));

    for short in ["", "90"] {
        let mut layer = ApduLayer::new(Scripted::new(&[("0084000000", short)]));
        assert!(matches!(
            layer.exchange(&Command::get_challenge()),
            Err(ExchangeError::Malformed(_))
        ));
    }
}

#[test]
fn hook_sees_every_low_level_exchange() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let mut card = Scripted::new(&[("0084000000", "6102"), ("00C0000002", "AABB9000")]);
    // The layer also works over `&mut T`.
    let mut layer = ApduLayer::new(&mut card);
    layer.set_hook(move |c, r| {
        sink.lock().unwrap().push(format!(
            "{} -> {}",
            hex::encode_upper(c),
            hex::encode_upper(r)
        ))
    });
    layer.exchange(&Command::get_challenge()).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["0084000000 -> 6102", "00C0000002 -> AABB9000"]
    );
    drop(layer);
    assert!(card.script.is_empty());
}

#[test]
fn dyn_transport_is_usable() {
    let mut boxed: Box<dyn Transport<Error = Removed>> =
        Box::new(Scripted::new(&[("0084000000", "9000")]));
    let mut layer = ApduLayer::new(&mut boxed);
    assert!(layer
        .exchange(&Command::get_challenge())
        .unwrap()
        .is_success());
}

/// A user-written transport with `transmit` only: the lifecycle methods are provided.
struct Minimal;

#[derive(Debug, thiserror::Error)]
#[error("reader fault")]
struct Fault;

impl TransportError for Fault {}

impl Transport for Minimal {
    type Error = Fault;

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, Fault> {
        Err(Fault)
    }
}

#[test]
fn a_transport_with_only_transmit_gets_lifecycle_defaults() {
    let mut minimal = Minimal;
    assert_eq!(
        minimal.card_presence().expect("presence"),
        CardPresence::Unknown
    );
    assert!(matches!(
        minimal.warm_reset(),
        Err(LifecycleError::Unsupported)
    ));
    assert!(matches!(
        minimal.cold_reset(),
        Err(LifecycleError::Unsupported)
    ));
    // Through `&mut` and `Box<dyn>` too.
    let mut boxed: Box<dyn Transport<Error = Fault>> = Box::new(Minimal);
    assert!(matches!(
        boxed.cold_reset(),
        Err(LifecycleError::Unsupported)
    ));
}

#[test]
fn exchange_errors_say_whether_the_card_left() {
    let mut layer = ApduLayer::new(Scripted::new(&[]));
    let err = layer
        .exchange(&Command::select_ppse())
        .expect_err("no script");
    assert!(err.is_card_removed());
    assert_eq!(err.link_failure(), Some(LinkFailure::CardRemoved));
    let mut layer = ApduLayer::new(Minimal);
    let err = layer.exchange(&Command::select_ppse()).expect_err("fault");
    assert!(!err.is_card_removed());
    assert_eq!(err.link_failure(), Some(LinkFailure::Other));
}
