//! The contactless kernel against the simulated cards: every decision of the qPBOC flow, with
//! the card's real cryptography (fDDA signed by the test CA's chain).

use quickpass::kernel::bits::{Ttq, Tvr};
use quickpass::kernel::config::{KernelConfig, RevokedCertificate};
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::OdaStatus;
use quickpass::kernel::Outcome;
use quickpass::kernel::TransactionInput;
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

fn config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("default configuration")
}

fn profile_json(name: &str) -> Value {
    let path = quickpass_sim::data::data_dir().join(format!("cards/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn card(profile: &Value) -> VirtualCard {
    CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation")
}

fn input(amount: u64) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

fn tap(card: &mut VirtualCard, config: &KernelConfig, amount: u64) -> TransactionResult {
    let mut layer = ApduLayer::new(card);
    contactless::read_card(config, &input(amount), &mut layer)
        .expect("card phase")
        .complete(config)
}

fn with_fault(name: &str, fault: &str) -> Value {
    let mut profile = profile_json(name);
    profile["applications"][0]["faults"][fault] = Value::Bool(true);
    profile
}

fn assert_not_approved_with(result: &TransactionResult, bit: quickpass::kernel::bits::Bit<Tvr>) {
    assert_ne!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert!(result.tvr.contains(bit), "TVR {:?}", result.tvr);
}

#[test]
fn offline_approval_with_fdda_sends_only_ppse_select_gpo_and_records() {
    let config = config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    let result = tap(&mut card, &config, 100);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    assert!(result.tvr.is_empty());
    assert_eq!(
        result.ec_balance(),
        Some(Amount::from_minor(49_900).expect("amount"))
    );
    // PPSE + SELECT + GPO + one READ RECORD per AFL record, nothing else.
    let afl = result
        .card_phase
        .card()
        .get(quickpass::kernel::tags::AFL)
        .expect("AFL");
    let records: u64 = afl.chunks(4).map(|e| u64::from(e[2] - e[1] + 1)).sum();
    assert_eq!(result.card_phase.apdus(), 3 + records);
    assert_eq!(card.exchanges(), 3 + records);
}

#[test]
fn pure_ec_card_approves_offline_and_debits_the_balance() {
    let config = config();
    let mut card = card(&profile_json("pure-ec"));
    let first = tap(&mut card, &config, 1_000);
    assert_eq!(first.outcome, Outcome::Approved, "{:?}", first.record());
    let before = first.ec_balance().expect("balance");
    let second = tap(&mut card, &config, 1_000);
    assert_eq!(second.outcome, Outcome::Approved);
    assert_eq!(
        second.ec_balance(),
        before.checked_sub(Amount::from_minor(1_000).expect("amount"))
    );
}

#[test]
fn online_only_credit_card_gives_an_online_request_with_field_55() {
    let config = config();
    let mut card = card(&profile_json("qpboc-credit-online"));
    let result = tap(&mut card, &config, 100);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    let field_55 = result.field_55.as_ref().expect("field 55");
    let objects = quickpass::kernel::tlv::parse_sequence(field_55).expect("TLV");
    let tags: Vec<_> = objects.iter().map(|o| o.tag()).collect();
    for tag in [
        quickpass::kernel::tags::APPLICATION_CRYPTOGRAM,
        quickpass::kernel::tags::ATC,
        quickpass::kernel::tags::UNPREDICTABLE_NUMBER,
    ] {
        assert!(tags.contains(&tag), "{tag} in field 55");
    }
}

#[test]
fn amount_above_the_floor_limit_goes_online_and_sets_the_ttq_bit() {
    let config = config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    let result = tap(&mut card, &config, 60_000);
    assert_eq!(result.outcome, Outcome::OnlineRequest);
    let ttq = result
        .card_phase
        .values()
        .get(quickpass::kernel::tags::TTQ)
        .expect("TTQ");
    let ttq = Ttq::from_slice(ttq).expect("ttq");
    assert!(ttq.contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED));
    assert!(
        ttq.contains(Ttq::CVM_REQUIRED),
        "60.00 is above the 300.00 CVM limit? no: 600.00"
    );
}

#[test]
fn cvm_required_amount_sets_the_ttq_cvm_bit_only() {
    let config = config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    let result = tap(&mut card, &config, 30_000);
    let ttq = Ttq::from_slice(
        result
            .card_phase
            .values()
            .get(quickpass::kernel::tags::TTQ)
            .expect("TTQ"),
    )
    .expect("ttq");
    assert!(ttq.contains(Ttq::CVM_REQUIRED));
    assert!(!ttq.contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED));
}

#[test]
fn amount_over_the_contactless_limit_asks_for_another_interface() {
    let config = config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    let result = tap(&mut card, &config, 100_000);
    assert_eq!(result.outcome, Outcome::TryAnotherInterface);
    assert_eq!(
        result.card_phase.apdus(),
        0,
        "no APDU for a transaction that cannot happen"
    );
}

#[test]
fn ec_balance_too_low_is_the_cards_decision() {
    let config = config();
    let mut profile = profile_json("pure-ec");
    profile["applications"][0]["ec"]["balance"] = Value::from(500);
    let mut card = card(&profile);
    let result = tap(&mut card, &config, 1_000);
    // An offline-only EC card cannot go online: it declines (AAC).
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    let mut debit = profile_json("qpboc-debit-offline");
    debit["applications"][0]["ec"]["balance"] = Value::from(500);
    let result = tap(&mut card_from(&debit), &config, 1_000);
    // A debit card with an online link asks for authorisation instead.
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
}

fn card_from(profile: &Value) -> VirtualCard {
    card(profile)
}

#[test]
fn tampered_sdad_never_approves_offline_and_sets_dda_failed() {
    let config = config();
    let mut card = card(&with_fault("qpboc-debit-offline", "tamper_sdad"));
    let result = tap(&mut card, &config, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
    assert_eq!(result.oda.status(), OdaStatus::Fail);
}

#[test]
fn expired_issuer_certificate_never_approves_offline() {
    let config = config();
    let mut card = card(&with_fault("qpboc-debit-offline", "issuer_cert_expired"));
    let result = tap(&mut card, &config, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
    assert!(
        result
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("expired")),
        "{:?}",
        result.reason
    );
}

#[test]
fn revoked_issuer_certificate_never_approves_offline() {
    let mut config = config();
    let profile = profile_json("qpboc-debit-offline");
    let serial = hex::decode(
        profile["applications"][0]["oda"]["issuer_cert_serial"]
            .as_str()
            .expect("serial"),
    )
    .expect("hex");
    config.terminal = config
        .terminal
        .edited(|p| {
            p.revoked_certificates.push(RevokedCertificate {
                rid: [0xA0, 0x00, 0x00, 0x03, 0x33],
                index: 0xF1,
                serial: serial.try_into().expect("3 bytes"),
            })
        })
        .expect("valid configuration");
    let mut card = card(&profile);
    let result = tap(&mut card, &config, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
    assert!(result
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("revoked")));
}

#[test]
fn wrong_capk_index_never_approves_offline() {
    let config = config();
    let mut card = card(&with_fault("qpboc-debit-offline", "wrong_capk_index"));
    let result = tap(&mut card, &config, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
    assert!(result
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("CA public key")));
}

#[test]
fn tampered_static_data_never_approves_offline() {
    let config = config();
    let mut card = card(&with_fault("qpboc-debit-offline", "tamper_static_data"));
    let result = tap(&mut card, &config, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
}

#[test]
fn exception_file_declines() {
    let mut config = config();
    let profile = profile_json("qpboc-debit-offline");
    let pan = profile["applications"][0]["pan"]
        .as_str()
        .expect("pan")
        .to_owned();
    config.terminal = config
        .terminal
        .edited(|p| p.exception_file.push(pan))
        .expect("valid configuration");
    let result = tap(&mut card(&profile), &config, 100);
    assert_not_approved_with(&result, Tvr::CARD_ON_EXCEPTION_FILE);
    assert_eq!(result.outcome, Outcome::Declined);
}

#[test]
fn blocked_first_application_selects_the_next() {
    let config = config();
    let mut profile = profile_json("qpboc-debit-offline");
    profile["applications"][0]["blocked"] = Value::Bool(true);
    let result = tap(&mut card(&profile), &config, 100);
    assert_eq!(
        result.card_phase.aid().map(|a| a.to_string()).as_deref(),
        Some("A000000333010102")
    );
    assert_ne!(result.outcome, Outcome::Approved);
}

#[test]
fn missing_ca_key_store_means_no_offline_approval() {
    let mut config = config();
    config.capks = quickpass::crypto::capk::CapkStore::new();
    let result = tap(
        &mut card(&profile_json("qpboc-debit-offline")),
        &config,
        100,
    );
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
}

#[test]
fn same_inputs_replay_byte_for_byte() {
    let config = config();
    let run = || {
        let mut card = card(&profile_json("qpboc-debit-offline"));
        let mut layer = ApduLayer::new(&mut card);
        layer.record();
        let result = contactless::read_card(&config, &input(100), &mut layer)
            .expect("card phase")
            .complete(&config);
        (layer.take_log(), result.record())
    };
    let (first_log, first) = run();
    let (second_log, second) = run();
    assert_eq!(first, second);
    assert_eq!(first_log, second_log);
}

#[test]
fn field_55_carries_what_the_cryptogram_covers_so_the_host_verifies_it() {
    let config = config();
    let profile = profile_json("qpboc-credit-online");
    let result = tap(&mut card(&profile), &config, 100);
    assert_eq!(result.outcome, Outcome::OnlineRequest);
    let parsed = CardProfile::from_json(&profile.to_string()).expect("profile");
    let mut host = quickpass_sim::host::emv::EmvHost::new();
    let quickpass_sim::ApplicationProfile::Pboc(application) = &parsed.applications[0] else {
        panic!("a PBOC application");
    };
    host.add_profile(application).expect("host knows the card");
    let pan = profile["applications"][0]["pan"].as_str().expect("pan");
    let psn = u8::from_str_radix(profile["applications"][0]["psn"].as_str().expect("psn"), 16)
        .expect("psn");
    let field_55 = result.field_55.as_ref().expect("field 55");
    assert!(host.verify_arqc(pan, psn, field_55).expect("host check"));
    // And a changed amount is caught.
    let mut forged = field_55.clone();
    let at = forged
        .windows(3)
        .position(|w| w == [0x9F, 0x02, 0x06])
        .expect("9F02 in field 55");
    forged[at + 8] ^= 0x01;
    assert!(!host.verify_arqc(pan, psn, &forged).expect("host check"));
}

#[test]
fn sm2_card_approves_offline_with_an_sm_terminal_and_the_sm2_ca_key() {
    let mut config = config();
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.sm_supported = true)
        .expect("valid configuration");
    let ca = quickpass_sim::ca::TestCa::shared().expect("test CA");
    config
        .capks
        .insert(ca.sm2_ca_public_key().expect("SM2 CA key"))
        .expect("checksum");
    let mut card = card(&profile_json("pboc3-sm2"));
    let result = tap(&mut card, &config, 100);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    // Without the SM2 CA key the same card is never approved offline.
    let mut without = self::config();
    without.terminal = without
        .terminal
        .edited(|p| p.terminal.sm_supported = true)
        .expect("valid configuration");
    let result = tap(&mut card_from(&profile_json("pboc3-sm2")), &without, 100);
    assert_not_approved_with(&result, Tvr::DDA_FAILED);
}

#[test]
fn ec_support_indicator_follows_amount_type_and_the_ec_terminal_limit() {
    let config = config();
    let debit = config.terminal.aids()[0].clone();
    let credit = config.terminal.aids()[1].clone();
    let values = |amount: u64,
                  transaction_type: u8,
                  aid: &quickpass::kernel::config::AidParameters| {
        let mut input = input(amount);
        input.transaction_type = transaction_type;
        let mut values = quickpass::kernel::TerminalValues::new(config.terminal.terminal(), &input);
        values.set_aid_parameters(aid);
        values
            .get(quickpass::kernel::tags::EC_TERMINAL_SUPPORT_INDICATOR)
            .map(<[u8]>::to_vec)
    };
    assert_eq!(values(100, 0x00, &debit), Some(vec![0x01]));
    assert_eq!(
        values(100_000, 0x00, &debit),
        Some(vec![0x00]),
        "at the 9F7B limit"
    );
    assert_eq!(
        values(100, 0x01, &debit),
        Some(vec![0x00]),
        "cash is no EC purchase"
    );
    assert_eq!(
        values(100, 0x00, &credit),
        Some(vec![0x00]),
        "AID without EC"
    );
}

#[test]
fn transaction_log_shows_the_offline_purchases_most_recent_first() {
    use quickpass::kernel::{read_log, LogKind};
    let config = config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    for amount in [100, 250] {
        assert_eq!(tap(&mut card, &config, amount).outcome, Outcome::Approved);
    }
    let mut layer = ApduLayer::new(&mut card);
    let phase = contactless::read_card(&config, &input(300), &mut layer).expect("card phase");
    let records = read_log(&mut layer, phase.fci(), LogKind::Transactions).expect("log");
    assert!(records.len() >= 3, "{records:?}");
    let amounts: Vec<_> = records
        .iter()
        .take(3)
        .map(|r| {
            r.get(quickpass::kernel::tags::AMOUNT_AUTHORISED)
                .map(<[u8]>::to_vec)
        })
        .collect();
    assert_eq!(
        amounts,
        [300u64, 250, 100]
            .map(|a| Some(Amount::from_minor(a).expect("amount").to_n12().to_vec()))
            .to_vec()
    );
    // The load log is readable too (empty or not), and a missing log is a typed error.
    assert!(read_log(&mut layer, phase.fci(), LogKind::Loads).is_ok());
    assert!(matches!(
        read_log(&mut layer, &[0x6F, 0x00], LogKind::Transactions),
        Err(quickpass::kernel::LogError::NoLog)
    ));
}

/// The default terminal as an offline bus validator (issue 10 item 5): `online_capable` false,
/// no contact interface, no SM support, and no TTQ, so the TTQ is derived from the
/// capabilities.
fn offline_validator() -> KernelConfig {
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(quickpass_sim::data::default_terminal()).expect("default.json"),
    )
    .expect("json");
    let terminal = json["terminal"].as_object_mut().expect("terminal");
    terminal.insert("online_capable".into(), Value::Bool(false));
    terminal.insert("contact_supported".into(), Value::Bool(false));
    assert!(
        terminal.remove("ttq").is_none(),
        "default.json derives its TTQ"
    );
    let mut config = config();
    config.terminal = quickpass::kernel::config::TerminalConfig::from_json(&json.to_string())
        .expect("an offline-only configuration without TTQ is valid");
    config
}

/// An offline-only terminal tells the card so (TTQ byte 1 b4, pboc-notes §2.2): the credit card
/// and the SM2 card (at a terminal without SM), which answer an online-capable reader with an
/// ARQC, decline offline instead of ending in an online request the validator could not act on.
#[test]
fn an_offline_only_terminal_without_a_ttq_gets_offline_declines_not_online_requests() {
    let offline = offline_validator();
    let mut online = offline.clone();
    online.terminal = online
        .terminal
        .edited(|p| p.terminal.online_capable = true)
        .expect("valid configuration");
    for name in ["qpboc-credit-online", "pboc3-sm2"] {
        // The same card at an online-capable terminal asks to go online.
        let result = tap(&mut card(&profile_json(name)), &online, 100);
        assert_eq!(
            result.outcome,
            Outcome::OnlineRequest,
            "{name} online: {:?}",
            result.record()
        );

        let result = tap(&mut card(&profile_json(name)), &offline, 100);
        let ttq = result
            .card_phase
            .values()
            .get(quickpass::kernel::tags::TTQ)
            .expect("TTQ");
        let ttq = Ttq::from_slice(ttq).expect("ttq");
        assert!(ttq.contains(Ttq::OFFLINE_ONLY_READER), "{name}: {ttq:?}");
        assert!(
            !ttq.contains(Ttq::CONTACT_PBOC_SUPPORTED),
            "{name}: {ttq:?}"
        );
        assert_eq!(
            result.outcome,
            Outcome::Declined,
            "{name}: {:?}",
            result.record()
        );
        assert_eq!(result.record().cryptogram_type, Some("AAC"), "{name}");
    }
}

/// A card taken away after the GPO (before the first READ RECORD): the card phase the caller
/// keeps still holds the AID and the GPO answer, without rebuilding anything, and the error
/// says "card removed" and maps to "try again".
#[test]
fn card_removed_after_gpo_keeps_the_card_phase_and_asks_to_try_again() {
    use quickpass::kernel::error::KernelError;
    use quickpass::kernel::tags;
    use quickpass_sim::faults::FaultyCard;

    let config = config();
    let profile = profile_json("qpboc-debit-offline");
    let expected_aid = {
        let mut whole = card(&profile);
        tap(&mut whole, &config, 100)
            .card_phase
            .aid()
            .expect("aid on a whole tap")
    };

    // The session object: the caller owns the phase, the error does not take it away.
    let mut faulty = FaultyCard::new(card(&profile));
    faulty.tear_before(4);
    let mut layer = ApduLayer::new(&mut faulty);
    let mut phase = contactless::CardPhase::new(&config, &input(100));
    let error = phase.read(&config, &mut layer).expect_err("torn");
    assert!(matches!(error, KernelError::CardRemoved(_)), "{error:?}");
    assert!(error.is_card_removed());
    assert_eq!(error.outcome(), Outcome::TryAgain);
    assert_eq!(phase.aid(), Some(expected_aid));
    assert!(phase.card().get(tags::AIP).is_some());
    assert!(phase.card().get(tags::AFL).is_some());
    assert!(phase.gpo_command().is_some());
    // PPSE, SELECT, GPO, and the READ RECORD handed to the transport when the card left.
    assert_eq!(phase.apdus(), 4);

    // read_card: the error carries the partial phase.
    let mut faulty = FaultyCard::new(card(&profile));
    faulty.tear_before(4);
    let mut layer = ApduLayer::new(&mut faulty);
    let error = contactless::read_card(&config, &input(100), &mut layer).expect_err("torn");
    assert_eq!(error.outcome(), Outcome::TryAgain);
    assert_eq!(error.phase().aid(), Some(expected_aid));
    assert!(error.phase().card().get(tags::AIP).is_some());

    // transact: one call, always an outcome, the error kept as the typed reason.
    let mut faulty = FaultyCard::new(card(&profile));
    faulty.tear_before(4);
    let mut layer = ApduLayer::new(&mut faulty);
    let tapped = contactless::transact(&config, &input(100), &mut layer);
    assert_eq!(tapped.outcome(), Outcome::TryAgain);
    assert!(matches!(tapped.error, Some(KernelError::CardRemoved(_))));
    assert_eq!(tapped.result.card_phase.aid(), Some(expected_aid));
    let reason = tapped.result.reason.as_deref().expect("reason");
    assert!(reason.starts_with("card removed"), "{reason}");
    assert_eq!(reason.matches("card removed").count(), 1, "{reason}");
}

/// `transact` on a whole tap is the two-phase API's result.
#[test]
fn transact_equals_read_then_complete() {
    let config = config();
    let profile = profile_json("qpboc-debit-offline");
    let two_phase = tap(&mut card(&profile), &config, 100);
    let mut whole = card(&profile);
    let mut layer = ApduLayer::new(&mut whole);
    let one_call = contactless::transact(&config, &input(100), &mut layer);
    assert!(one_call.error.is_none());
    assert_eq!(one_call.outcome(), two_phase.outcome);
    assert_eq!(one_call.outcome(), Outcome::Approved);
    assert_eq!(one_call.result.record(), two_phase.record());
}

// --- Issue 15 item 5: track 2 (57) cross-checked against 5A and 5F24 --------------------------

/// The card's `57` as personalised (read from an unmodified tap), as hex nibbles.
fn track2_nibbles(profile: &Value) -> String {
    let result = tap(&mut card(profile), &config(), 100);
    hex::encode_upper(
        result
            .card_phase
            .card()
            .get(quickpass::kernel::tags::TRACK2_EQUIVALENT_DATA)
            .expect("57 on the card"),
    )
}

/// `profile` with its first application's `57` replaced by `edit(nibbles, index of D)`.
fn with_track2(mut profile: Value, edit: impl FnOnce(&mut Vec<u8>, usize)) -> Value {
    let mut nibbles = track2_nibbles(&profile).into_bytes();
    let separator = nibbles.iter().position(|&n| n == b'D').expect("separator");
    edit(&mut nibbles, separator);
    let track2 = String::from_utf8(nibbles).expect("hex");
    profile["applications"][0]["data"]["57"] = Value::from(track2);
    profile
}

/// One decimal digit up (9 → 0), as an ASCII hex nibble.
fn bump(digit: &mut u8) {
    *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
}

fn pan_off_by_one_digit(profile: Value) -> Value {
    with_track2(profile, |nibbles, separator| {
        bump(&mut nibbles[separator - 3])
    })
}

fn expiry_off_by_one_year(profile: Value) -> Value {
    // YYMM follows D: the year's last digit moves (30 → 31 stays a valid date).
    with_track2(profile, |nibbles, separator| {
        bump(&mut nibbles[separator + 2])
    })
}

/// A tap that must end without approval and without an online request, naming the mismatch
/// and printing no PAN.
fn assert_refused_for(profile: &Value, amount: u64, what: &str) {
    let config = config();
    let pan = profile["applications"][0]["pan"]
        .as_str()
        .expect("pan")
        .to_owned();
    let mut card = card(profile);
    let mut layer = ApduLayer::new(&mut card);
    let tapped = contactless::transact(&config, &input(amount), &mut layer);
    let result = &tapped.result;
    assert_ne!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_ne!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    assert!(result.field_55.is_none(), "no online message");
    let error = tapped.error.as_ref().expect("a typed reason");
    assert!(
        matches!(
            error,
            contactless::KernelError::CardData {
                object: quickpass::kernel::error::CardObject::ApplicationData,
                reason: quickpass::kernel::error::Malformation::Inconsistent(_),
            }
        ),
        "{error:?}"
    );
    let reason = result.reason.as_deref().expect("reason");
    assert!(reason.contains(what), "{reason}");
    assert!(reason.contains("57"), "{reason}");
    let record = serde_json::to_string(&result.record()).expect("record");
    let track2 = profile["applications"][0]["data"]["57"]
        .as_str()
        .expect("edited 57");
    let track2_pan = &track2[..track2.find('D').expect("D")];
    for digits in [pan.as_str(), track2_pan] {
        assert!(!reason.contains(digits), "PAN in {reason}");
        assert!(!record.contains(digits), "PAN in {record}");
        assert!(!format!("{error:?}").contains(digits), "PAN in {error:?}");
    }
}

/// The debit card with a tampered fDDA signature: its TC is not approved offline, and its CTQ
/// (`3000`: go online if ODA fails) turns it into an online request — one that carries the
/// records read (`5A`, `5F24`), unlike an ARQC straight from the GPO, which reads no record and
/// so has no `5A` to compare `57` with (the issuer checks that ARQC against its own PAN).
fn online_after_records() -> Value {
    with_fault("qpboc-debit-offline", "tamper_sdad")
}

#[test]
fn unmodified_cards_are_still_approved_or_sent_online() {
    // The baseline for the mismatch tests below: the same cards, untouched.
    let config = config();
    let debit = profile_json("qpboc-debit-offline");
    let approved = tap(&mut card(&debit), &config, 100);
    assert_eq!(
        approved.outcome,
        Outcome::Approved,
        "{:?}",
        approved.record()
    );
    let online = tap(&mut card(&online_after_records()), &config, 100);
    assert_eq!(
        online.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        online.record()
    );
    assert!(online
        .card_phase
        .card()
        .contains(quickpass::kernel::tags::PAN));
    // A 57 rewritten to its own value changes nothing: the override itself is not the cause.
    let same = with_track2(debit, |_, _| {});
    let result = tap(&mut card(&same), &config, 100);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    let same = with_track2(online_after_records(), |_, _| {});
    let result = tap(&mut card(&same), &config, 100);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
}

#[test]
fn track2_pan_differing_from_5a_by_one_digit_is_never_approved_nor_sent_online() {
    let debit = pan_off_by_one_digit(profile_json("qpboc-debit-offline"));
    assert_refused_for(&debit, 100, "track 2 PAN mismatch");
    let online = pan_off_by_one_digit(online_after_records());
    assert_refused_for(&online, 100, "track 2 PAN mismatch");
}

#[test]
fn track2_expiry_differing_from_5f24_is_never_approved_nor_sent_online() {
    let debit = expiry_off_by_one_year(profile_json("qpboc-debit-offline"));
    assert_refused_for(&debit, 100, "track 2 expiry mismatch");
    let online = expiry_off_by_one_year(online_after_records());
    assert_refused_for(&online, 100, "track 2 expiry mismatch");
}

fn with_pan(pan: &str) -> VirtualCard {
    let mut profile = profile_json("qpboc-debit-offline");
    profile["applications"][0]["pan"] = Value::from(pan);
    card(&profile)
}

/// Issue 11 item 4: a qPBOC tap torn after the GPO (the card left before its records were read)
/// ends in Try Again; on the re-tap the kernel learns from GET DATA ATC and EC balance that the
/// torn GPO — which already debited the EC balance — was the card's last transaction, reads the
/// records and completes it without a new GPO: the rider pays once.
#[test]
fn a_qpboc_tap_torn_after_gpo_is_completed_on_the_retap_without_a_second_charge() {
    use quickpass::kernel::contactless::TornTap;
    use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
    use quickpass_sim::pboc::PbocApplication;
    let config = config();
    let mut card = FaultyCard::new(card(&profile_json("qpboc-debit-offline")));
    // PPSE, SELECT, GPO, then the first READ RECORD never reaches the card.
    card.plan(Trigger::Apdu(4), Fault::TearBefore);
    let mut torn: Option<TornTap> = None;
    let first = contactless::transact_after_tear(
        &config,
        &input(200),
        &mut ApduLayer::new(&mut card),
        &mut torn,
    )
    .result;
    assert_eq!(first.outcome, Outcome::TryAgain, "{:?}", first.record());
    assert!(torn.is_some(), "the card answered the GPO with a TC");
    let state = |card: &mut FaultyCard<VirtualCard>| {
        let app = card
            .inner_mut()
            .application_mut::<PbocApplication>()
            .expect("a pboc application");
        (app.atc(), app.ec_balance())
    };
    let (atc, balance) = state(&mut card);
    assert_eq!(balance, Some(49_800), "the torn GPO debited the EC balance");

    // Another card taps in between: an ordinary tap, the torn tap kept for its card.
    let mut other = with_pan("6228480012340001");
    let between = contactless::transact_after_tear(
        &config,
        &input(100),
        &mut ApduLayer::new(&mut other),
        &mut torn,
    )
    .result;
    assert_eq!(between.outcome, Outcome::Approved, "{:?}", between.record());
    assert!(!between.card_phase.resumed_torn_tap());
    assert!(torn.is_some());

    card.reinsert();
    let second = contactless::transact_after_tear(
        &config,
        &input(200),
        &mut ApduLayer::new(&mut card),
        &mut torn,
    )
    .result;
    assert_eq!(second.outcome, Outcome::Approved, "{:?}", second.record());
    assert!(second.card_phase.resumed_torn_tap());
    assert!(second
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("torn tap"));
    assert_eq!(second.oda.status(), OdaStatus::Ok);
    // No new GPO (the ATC did not move) and no second debit.
    assert_eq!(state(&mut card), (atc, Some(49_800)));
    // PPSE, SELECT, GET DATA ATC, GET DATA EC balance, READ RECORD x 4.
    assert_eq!(second.card_phase.apdus(), 8);

    assert!(torn.is_none(), "completed: it cannot be completed twice");
    // Another tap of the same card, now an ordinary one: charged.
    let third = contactless::transact_after_tear(
        &config,
        &input(100),
        &mut ApduLayer::new(&mut card),
        &mut torn,
    )
    .result;
    assert_eq!(third.outcome, Outcome::Approved);
    assert!(!third.card_phase.resumed_torn_tap());
    assert_eq!(state(&mut card).1, Some(49_700));
}

/// Issue 12 reproduction (3): the credit card (CTQ 8000, online PIN required) above the CVM
/// limit gave an online request with no CVM at all; now the outcome asks for the online PIN, a
/// reader without PIN pad sends the tap to contact (or declines without contact), and a card
/// asking nothing gets no CVM below the limit and the reader's CVM (signature) above it.
#[test]
fn the_cards_cvm_request_is_honoured_on_online_requests() {
    use quickpass::kernel::contactless::ContactlessCvm;
    let config = config();
    let mut credit = card(&profile_json("qpboc-credit-online"));
    let result = tap(&mut credit, &config, 60_000);
    assert_eq!(result.outcome, Outcome::OnlineRequest);
    assert_eq!(
        result.cvm,
        Some(ContactlessCvm::OnlinePin),
        "{:?}",
        result.record()
    );
    assert_eq!(result.record().cvm, Some("online_pin"));
    // A reader whose TTQ offers no online PIN (capabilities without enciphered online PIN).
    let mut parts = config.terminal.parts().clone();
    parts.terminal.capabilities[1] &= !0x40;
    let mut no_pin_pad = config.clone();
    no_pin_pad.terminal = quickpass::kernel::config::TerminalConfig::new(parts).expect("config");
    let mut credit = card(&profile_json("qpboc-credit-online"));
    let result = tap(&mut credit, &no_pin_pad, 60_000);
    assert_eq!(
        result.outcome,
        Outcome::TryAnotherInterface,
        "{:?}",
        result.record()
    );
    assert!(result
        .tvr
        .contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
    // A card that asks nothing (CTQ 0000): no CVM below the CVM limit (300.00), the reader's
    // signature above it.
    let mut quiet = profile_json("qpboc-credit-online");
    quiet["applications"][0]["ctq"] = Value::from("0000");
    let result = tap(&mut card(&quiet), &config, 100);
    assert_eq!(
        result.cvm,
        Some(ContactlessCvm::NoCvm),
        "{:?}",
        result.record()
    );
    let result = tap(&mut card(&quiet), &config, 60_000);
    assert_eq!(
        result.cvm,
        Some(ContactlessCvm::Signature),
        "{:?}",
        result.record()
    );
}
