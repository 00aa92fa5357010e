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

/// Answers every command with the same status word and keeps what it was sent.
#[derive(Debug, Default)]
struct AlwaysAnswers {
    sw: [u8; 2],
    sent: Vec<String>,
}

impl Transport for AlwaysAnswers {
    type Error = Removed;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Removed> {
        self.sent.push(hex::encode_upper(command));
        Ok(self.sw.to_vec())
    }
}

fn debit() -> Command {
    use quickpass_kernel::values::{TransactionDate, TransactionTime};
    Command::debit_for_purchase(
        7,
        TransactionDate::new(2026, 12, 6).unwrap(),
        TransactionTime::new(22, 41, 0).unwrap(),
        &[1, 2, 3, 4],
    )
}

/// Every command the kernel sends that moves money, a counter or the card's state.
fn money_and_counter_commands() -> Vec<(&'static str, Command)> {
    use quickpass_kernel::apdu::{Purse, RequestedCryptogram};
    use quickpass_kernel::values::{PurseAmount, Sfi, TransactionDate, TransactionTime};
    let date = TransactionDate::new(2026, 12, 6).unwrap();
    let time = TransactionTime::new(22, 41, 0).unwrap();
    let amount = PurseAmount::from_fen(200);
    let terminal = [0, 0, 0, 0, 0, 1];
    vec![
        ("DEBIT FOR PURCHASE", debit()),
        (
            "CREDIT FOR LOAD",
            Command::credit_for_load(date, time, &[9, 9, 9, 9]),
        ),
        (
            "UPDATE CAPP DATA CACHE",
            Command::update_capp_data_cache(0xAA, Sfi::new(0x19).unwrap(), &[0xAA, 0x29, 0])
                .unwrap(),
        ),
        (
            "GENERATE AC",
            Command::generate_ac(RequestedCryptogram::Arqc, false, &[0; 29]).unwrap(),
        ),
        (
            "GET PROCESSING OPTIONS",
            Command::get_processing_options(&[0; 4]).unwrap(),
        ),
        (
            "INITIALIZE FOR PURCHASE",
            Command::initialize_for_purchase(Purse::Purse, 1, amount, &terminal),
        ),
        (
            "INITIALIZE FOR CAPP PURCHASE",
            Command::initialize_for_capp_purchase(1, amount, &terminal),
        ),
        (
            "INITIALIZE FOR LOAD",
            Command::initialize_for_load(Purse::Purse, 1, amount, &terminal),
        ),
        (
            "VERIFY",
            Command::verify_plaintext(&[0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ),
        (
            "EXTERNAL AUTHENTICATE",
            Command::external_authenticate(&[0; 10]).unwrap(),
        ),
        // Issuer script commands arrive as raw APDUs (tag 86), with secure messaging.
        (
            "PUT DATA (04)",
            Command::new(0x04, 0xDA, 0x9F, 0x79, [0; 10], None).unwrap(),
        ),
        (
            "PUT DATA (84)",
            Command::new(0x84, 0xDA, 0x9F, 0x79, [0; 10], None).unwrap(),
        ),
        (
            "APPLICATION BLOCK",
            Command::new(0x84, 0x1E, 0, 0, [0; 4], None).unwrap(),
        ),
        (
            "APPLICATION UNBLOCK",
            Command::new(0x84, 0x18, 0, 0, [0; 4], None).unwrap(),
        ),
        (
            "PIN CHANGE/UNBLOCK",
            Command::new(0x84, 0x24, 0, 0, [0; 12], None).unwrap(),
        ),
        (
            "unknown proprietary command",
            Command::new(0x80, 0x99, 0, 0, [0; 2], Some(0)).unwrap(),
        ),
    ]
}

#[test]
fn a_debit_answered_6cxx_is_transmitted_exactly_once() {
    // header ‖ Lc ‖ serial 7 ‖ date 20261206 ‖ time 224100 ‖ MAC1 ‖ Le
    let mut layer = ApduLayer::new(Scripted::new(&[(
        concat!("805401000F000000072026120622410001020304", "08"),
        "6C10",
    )]));
    // A second transmission would find the script exhausted (Removed) or mismatched (panic).
    let r = layer.exchange(&debit()).unwrap();
    assert_eq!(r.sw, StatusWord(0x6C10));
    assert!(r.data.is_empty());
    assert_eq!(layer.counters().apdus_sent, 1);
}

#[test]
fn no_command_that_moves_money_or_a_counter_is_resent_on_6cxx() {
    for (name, command) in money_and_counter_commands() {
        assert!(!command.is_repeatable(), "{name} says it is repeatable");
        let mut layer = ApduLayer::new(AlwaysAnswers {
            sw: [0x6C, 0x10],
            sent: Vec::new(),
        });
        let r = layer.exchange(&command).unwrap();
        assert_eq!(r.sw, StatusWord(0x6C10), "{name}");
        assert_eq!(
            layer.transport().sent,
            vec![hex::encode_upper(command.to_bytes())],
            "{name} was transmitted more than once"
        );
    }
}

#[test]
fn reads_answered_6c10_are_still_resent_with_le_10() {
    let sfi = quickpass_kernel::values::Sfi::new(1).unwrap();
    let reads = [
        Command::select_ppse(),
        Command::read_record(1, sfi).unwrap(),
        Command::get_balance(quickpass_kernel::apdu::Purse::Purse),
        Command::get_transaction_prove(0x06, 0x0042),
    ];
    for command in reads {
        assert!(command.is_repeatable(), "{command:?}");
        let mut layer = ApduLayer::new(AlwaysAnswers {
            sw: [0x6C, 0x10],
            sent: Vec::new(),
        });
        let r = layer.exchange(&command).unwrap();
        // The card answers 6C10 again: handed back after exactly one re-send.
        assert_eq!(r.sw, StatusWord(0x6C10));
        let sent = &layer.transport().sent;
        assert_eq!(sent.len(), 2, "{command:?}");
        assert_eq!(sent[0], hex::encode_upper(command.to_bytes()));
        assert_eq!(
            sent[1],
            hex::encode_upper(command.clone().with_le(Some(0x10)).to_bytes())
        );
        assert!(sent[1].ends_with("10"));
    }

    // And the re-send's answer is the response.
    let mut layer = ApduLayer::new(Scripted::new(&[
        ("00B2010C00", "6C10"),
        ("00B2010C10", "700A5A0862509400123456759000"),
    ]));
    let r = layer
        .exchange(&Command::read_record(1, sfi).unwrap())
        .unwrap();
    assert!(r.is_success());
    assert_eq!(hex::encode_upper(&r.data), "700A5A086250940012345675");
}

#[test]
fn a_debit_answered_61xx_is_fetched_with_get_response() {
    let debit = hex::encode_upper(debit().to_bytes());
    // Fetching the answer is not re-executing: GET RESPONSE (itself repeatable, so its own
    // 6Cxx is obeyed) brings TAC ‖ MAC2.
    let mut layer = ApduLayer::new(Scripted::new(&[
        (debit.as_str(), "6108"),
        ("00C0000008", "6C08"),
        ("00C0000008", "11223344556677889000"),
    ]));
    let r = layer.exchange(&self::debit()).unwrap();
    assert!(r.is_success());
    assert_eq!(hex::encode_upper(&r.data), "1122334455667788");
    let log_len = layer.counters().apdus_sent;
    assert_eq!(log_len, 3);
}
