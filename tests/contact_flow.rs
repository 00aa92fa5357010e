//! The contact EMV / PBOC flow against the simulated cards: PSE or list-of-AIDs selection, DDA
//! with INTERNAL AUTHENTICATE, CDA on both GENERATE ACs, CVM through a scripted PIN pad, risk
//! management, action analysis, and online processing with the simulator's issuer host (ARQC,
//! ARPC through EXTERNAL AUTHENTICATE, issuer scripts). Faults and card data are set through
//! the profile JSON.

use quickpass::kernel::bits::{Bit, CryptogramType, Tsi, Tvr};
use quickpass::kernel::config::{KernelConfig, RandomSelection, TerminalConfigParts};
use quickpass::kernel::contact::{
    self, ContactInput, ContactResult, FirstPhase, HostResponse, Pin, PinEntry, PinPad, PinPrompt,
    ScriptStatus, SelectionMethod,
};
use quickpass::kernel::contact::{CvmResults, OnlinePinResult};
use quickpass::kernel::contactless;
use quickpass::kernel::tags;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::Outcome;
use quickpass::kernel::TransactionInput;
use quickpass::kernel::{OdaMethod, OdaStatus};
use quickpass_sim::host::emv::{issuer_script_template, EmvHost, IssuerDecision};
use quickpass_sim::pboc::PbocApplication;
use quickpass_sim::{ApplicationProfile, CardProfile, VirtualCard};
use serde_json::Value;

const PAN: &str = "6228480012345671";
const PSN: u8 = 0x01;

/// The default terminal, made contact-like: plaintext PIN, signature and no-CVM (no online PIN,
/// so the cards' default CVM list ends in a signature), SDA + DDA + CDA.
fn config() -> KernelConfig {
    let mut config = quickpass_sim::data::default_kernel_config().expect("default configuration");
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.capabilities = [0xE0, 0xA8, 0xC8])
        .expect("valid configuration");
    config
}

/// The contact terminal with its configuration parts edited (and checked again).
fn config_with(edit: impl FnOnce(&mut TerminalConfigParts)) -> KernelConfig {
    let mut c = config();
    c.terminal = c.terminal.edited(edit).expect("valid configuration");
    c
}

fn profile_json(name: &str) -> Value {
    let path = quickpass_sim::data::data_dir().join(format!("cards/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn debit() -> Value {
    profile_json("qpboc-debit-offline")
}

fn debit_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = debit();
    edit(&mut p["applications"][0]);
    p
}

fn card(profile: &Value) -> VirtualCard {
    CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation")
}

fn host(profile: &Value) -> EmvHost {
    let profile = CardProfile::from_json(&profile.to_string()).expect("profile");
    let mut host = EmvHost::new();
    for app in &profile.applications {
        if let ApplicationProfile::Pboc(p) = app {
            host.add_profile(p).expect("host keys");
        }
    }
    host
}

fn input_on(amount: u64, date: TransactionDate) -> ContactInput {
    ContactInput::new(TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date,
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    })
}

fn input(amount: u64) -> ContactInput {
    input_on(amount, TransactionDate::new(2026, 11, 28).expect("date"))
}

/// A PIN pad that answers from a script and records the prompts.
#[derive(Default)]
struct ScriptedPinPad {
    offline: Vec<Option<&'static str>>,
    prompts: Vec<PinPrompt>,
}

impl ScriptedPinPad {
    fn with(pins: &[Option<&'static str>]) -> Self {
        ScriptedPinPad {
            offline: pins.iter().rev().copied().collect(),
            prompts: Vec::new(),
        }
    }
}

impl PinPad for ScriptedPinPad {
    fn offline_pin(&mut self, prompt: &PinPrompt) -> PinEntry {
        self.prompts.push(*prompt);
        match self.offline.pop() {
            Some(Some(pin)) => PinEntry::Pin(Pin::new(pin).expect("pin")),
            Some(None) => PinEntry::Bypassed,
            None => PinEntry::Unavailable,
        }
    }

    fn online_pin(&mut self, _prompt: &PinPrompt) -> OnlinePinResult {
        OnlinePinResult::Entered
    }
}

fn first_phase(
    card: &mut VirtualCard,
    config: &KernelConfig,
    input: &ContactInput,
    pin_pad: &mut dyn PinPad,
) -> FirstPhase {
    let mut layer = ApduLayer::new(card);
    contact::start(config, input, &mut layer, pin_pad).expect("first phase")
}

fn complete(phase: FirstPhase) -> ContactResult {
    match phase {
        FirstPhase::Complete(result) => *result,
        FirstPhase::Online(request) => panic!(
            "online request, TVR {:?}, reason: {:?}",
            request.tvr(),
            request.oda().failure
        ),
    }
}

fn run(card: &mut VirtualCard, config: &KernelConfig, amount: u64) -> FirstPhase {
    first_phase(card, config, &input(amount), &mut ScriptedPinPad::default())
}

fn assert_bits(tvr: &Tvr, bits: &[Bit<Tvr>]) {
    for bit in bits {
        assert!(tvr.contains(*bit), "{bit:?} not in {tvr:?}");
    }
}

fn app(card: &mut VirtualCard) -> &mut PbocApplication {
    card.application_mut::<PbocApplication>().expect("pboc")
}

#[test]
fn offline_approval_with_cda_and_the_host_verifies_the_tc() {
    let profile = debit();
    let mut card = card(&profile);
    let result = complete(run(&mut card, &config(), 1_000));
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.selection, Some(SelectionMethod::Pse));
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Tc));
    assert_eq!(result.oda.method, Some(OdaMethod::Cda));
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    let approval = result.offline_approval.expect("approval basis");
    assert!(approval.oda_verified().is_some());
    let first = result.first_ac.as_ref().expect("first GAC");
    assert!(first.cda_requested && first.sdad.is_some());
    assert!(result.tvr.is_empty(), "{:?}", result.tvr);
    for bit in [
        Tsi::OFFLINE_DATA_AUTHENTICATION_PERFORMED,
        Tsi::CARDHOLDER_VERIFICATION_PERFORMED,
        Tsi::CARD_RISK_MANAGEMENT_PERFORMED,
        Tsi::TERMINAL_RISK_MANAGEMENT_PERFORMED,
    ] {
        assert!(result.tsi.contains(bit), "{bit:?}");
    }
    assert!(!result.tsi.contains(Tsi::ISSUER_AUTHENTICATION_PERFORMED));
    let cvm = result.cvm.as_ref().expect("cvm");
    assert_eq!(cvm.results, CvmResults([0x1E, 0x03, 0x00]));
    assert!(cvm.signature_required);
    // The TC (recovered from the CDA signature) verifies at the issuer with field 55 as sent.
    let field_55 = result.field_55.as_ref().expect("field 55");
    assert!(host(&profile)
        .verify_arqc(PAN, PSN, field_55)
        .expect("host"));
    assert_eq!(app(&mut card).ec_balance(), Some(49_000));
}

#[test]
fn offline_approval_with_dda_and_internal_authenticate() {
    let profile = debit();
    let mut card = card(&profile);
    let config = config_with(|c| c.terminal.capabilities[2] = 0xC0);
    let result = complete(run(&mut card, &config, 1_000));
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.oda.method, Some(OdaMethod::Dda));
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    assert_eq!(
        result.oda.icc_dynamic_number.as_ref().map(Vec::len),
        Some(8)
    );
    assert!(!result.first_ac.as_ref().expect("GAC").cda_requested);
    assert!(result.tvr.is_empty(), "{:?}", result.tvr);
    let field_55 = result.field_55.as_ref().expect("field 55");
    assert!(host(&profile)
        .verify_arqc(PAN, PSN, field_55)
        .expect("host"));
}

#[test]
fn sda_without_a_signed_static_data_object_never_approves_offline() {
    // The simulated card offers SDA in its AIP but holds no 93: SDA fails (ICC data missing).
    let mut card = card(&debit());
    let config = config_with(|c| c.terminal.capabilities[2] = 0x80);
    let phase = run(&mut card, &config, 1_000);
    let request = phase.online_request().expect("SDA failed is in TAC-online");
    assert_bits(
        &request.tvr(),
        &[Tvr::SDA_SELECTED, Tvr::SDA_FAILED, Tvr::ICC_DATA_MISSING],
    );
    let mut layer = ApduLayer::new(&mut card);
    let result = phase
        .complete_unable_to_go_online(&mut layer)
        .expect("completion");
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.arc, Some(*b"Z3"));
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
}

#[test]
fn online_approval_with_arpc_checked_by_external_authenticate() {
    let profile = debit();
    let host = host(&profile);
    let mut card = card(&profile);
    let config = config();
    let mut layer = ApduLayer::new(&mut card);
    // 600.00: above the floor limit (and the card's EC single transaction limit).
    let phase = contact::start(
        &config,
        &input(60_000),
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let request = phase.online_request().expect("online");
    assert_bits(&request.tvr(), &[Tvr::FLOOR_LIMIT_EXCEEDED]);
    assert_eq!(request.oda().status(), OdaStatus::Ok, "CDA on the ARQC");
    let authorisation = host.authorise(PAN, PSN, request.field_55()).expect("host");
    assert!(authorisation.cryptogram_valid && authorisation.approved);
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(authorisation.issuer_authentication_data().to_vec()),
        scripts: Vec::new(),
    };
    let result = phase
        .complete_online(response, &mut layer)
        .expect("completion");
    drop(layer);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Tc));
    assert!(result.tsi.contains(Tsi::ISSUER_AUTHENTICATION_PERFORMED));
    assert!(!result.tvr.contains(Tvr::ISSUER_AUTHENTICATION_FAILED));
    let second = result.second_ac.as_ref().expect("second GAC");
    assert!(second.cda_requested);
    assert_eq!(result.oda.status(), OdaStatus::Ok, "CDA on the second TC");
    // The card accepted the ARPC: its last online ATC register moved to the ATC.
    let app = app(&mut card);
    assert_eq!(app.last_online_atc(), app.atc());
    // The second TC verifies with the final field 55 (the TVR sent in CDOL2).
    assert!(host
        .verify_arqc(PAN, PSN, result.field_55.as_ref().expect("field 55"))
        .expect("host"));
    // Its clearing record (issue 12 item 1): the second TC, which the issuer verifies from the
    // record's field 55 alone.
    let record = result.clearing_record(&config).expect("clearing record");
    assert_eq!(
        (record.outcome.as_str(), record.cryptogram_type.as_str()),
        ("approved", "TC")
    );
    assert_eq!(record.atc.to_be_bytes().to_vec(), second.atc);
    assert_eq!(record.psn, Some(PSN));
    let field_55 = hex::decode(&record.field_55).expect("hex");
    assert!(host.verify_arqc(&record.pan, PSN, &field_55).expect("host"));
}

#[test]
fn host_decline_gives_an_aac() {
    let profile = debit();
    let mut host = host(&profile);
    host.set_decision(IssuerDecision::Decline);
    let mut card = card(&profile);
    let config = config();
    let mut layer = ApduLayer::new(&mut card);
    let phase = contact::start(
        &config,
        &input(60_000),
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let authorisation = host
        .authorise(PAN, PSN, phase.online_request().expect("online").field_55())
        .expect("host");
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(authorisation.issuer_authentication_data().to_vec()),
        scripts: Vec::new(),
    };
    let result = phase.complete_online(response, &mut layer).expect("done");
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
    assert_eq!(result.arc, Some(*b"05"));
    assert!(!result.tvr.contains(Tvr::ISSUER_AUTHENTICATION_FAILED));
    // A decline after online completion is kept for clearing too: the card's AAC verifies.
    let record = result.clearing_record(&config).expect("clearing record");
    assert_eq!(
        (record.outcome.as_str(), record.cryptogram_type.as_str()),
        ("declined", "AAC")
    );
    let field_55 = hex::decode(&record.field_55).expect("hex");
    assert!(host.verify_arqc(PAN, PSN, &field_55).expect("host"));
}

#[test]
fn issuer_scripts_before_and_after_the_final_generate_ac() {
    let profile = debit();
    let host = host(&profile);
    let mut card = card(&profile);
    let config = config();
    let mut layer = ApduLayer::new(&mut card);
    let phase = contact::start(
        &config,
        &input(60_000),
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let authorisation = host
        .authorise(PAN, PSN, phase.online_request().expect("online").field_55())
        .expect("host");
    let session = authorisation.session;
    // 71: EC load to 700.00. 72: reset threshold, then a script whose MAC is wrong.
    let load = host
        .put_data_amount(PAN, PSN, &session, tags::EC_BALANCE, 70_000)
        .expect("script");
    let threshold = host
        .put_data_amount(PAN, PSN, &session, tags::EC_RESET_THRESHOLD, 2_000)
        .expect("script");
    let mut bad = threshold.clone();
    if let Some(last) = bad.last_mut() {
        *last ^= 1;
    }
    let mut scripts =
        issuer_script_template(tags::ISSUER_SCRIPT_TEMPLATE_1, Some([0, 0, 0, 1]), &[load]);
    scripts.extend(issuer_script_template(
        tags::ISSUER_SCRIPT_TEMPLATE_2,
        Some([0, 0, 0, 2]),
        &[threshold],
    ));
    scripts.extend(issuer_script_template(
        tags::ISSUER_SCRIPT_TEMPLATE_2,
        Some([0, 0, 0, 3]),
        &[bad.clone(), bad],
    ));
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(authorisation.issuer_authentication_data().to_vec()),
        scripts,
    };
    let result = phase.complete_online(response, &mut layer).expect("done");
    drop(layer);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    let statuses: Vec<_> = result
        .script_results
        .iter()
        .map(|r| (r.status, r.sequence, r.identifier[3]))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (ScriptStatus::Successful, 0, 1),
            (ScriptStatus::Successful, 0, 2),
            (ScriptStatus::Failed, 1, 3),
        ]
    );
    assert_eq!(
        result.issuer_script_results(),
        Some(hex::decode("200000000120000000021100000003").expect("hex"))
    );
    assert!(result.tsi.contains(Tsi::SCRIPT_PROCESSING_PERFORMED));
    assert!(result
        .tvr
        .contains(Tvr::SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC));
    assert!(!result
        .tvr
        .contains(Tvr::SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC));
    let field_55 = result.field_55.as_ref().expect("field 55");
    assert!(hex::encode_upper(field_55).ends_with("9F5B0F200000000120000000021100000003"));
    assert_eq!(app(&mut card).ec_balance(), Some(70_000));
}

fn wrong_arpc(config: &KernelConfig) -> ContactResult {
    let profile = debit();
    let host = host(&profile);
    let mut card = card(&profile);
    let mut layer = ApduLayer::new(&mut card);
    let phase = contact::start(
        config,
        &input(60_000),
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let authorisation = host
        .authorise(PAN, PSN, phase.online_request().expect("online").field_55())
        .expect("host");
    let mut iad = authorisation.issuer_authentication_data().to_vec();
    iad[0] ^= 0x01;
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(iad),
        scripts: Vec::new(),
    };
    phase.complete_online(response, &mut layer).expect("done")
}

#[test]
fn wrong_arpc_sets_issuer_authentication_failed_and_declines() {
    // Default TACs: the terminal asks for a TC, the card refuses it after the failed ARPC.
    let result = wrong_arpc(&config());
    assert_bits(&result.tvr, &[Tvr::ISSUER_AUTHENTICATION_FAILED]);
    assert!(result.tsi.contains(Tsi::ISSUER_AUTHENTICATION_PERFORMED));
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
    assert_eq!(
        result.second_ac.as_ref().map(|ac| ac.requested),
        Some(quickpass::kernel::apdu::RequestedCryptogram::Tc)
    );
    // TAC-denial naming "issuer authentication failed": the terminal itself asks for an AAC.
    let strict = config_with(|c| c.aids[0].tac_denial = [0, 0x10, 0, 0, 0x40]);
    let result = wrong_arpc(&strict);
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(
        result.second_ac.as_ref().map(|ac| ac.requested),
        Some(quickpass::kernel::apdu::RequestedCryptogram::Aac)
    );
    assert_eq!(
        result.reason.as_deref(),
        Some("denial action codes after online processing")
    );
}

/// A card whose CVM list is "offline plaintext PIN, always; fail if unsuccessful".
fn pin_card(counter: Option<u8>) -> VirtualCard {
    card(&debit_with(|app| {
        app["cvm_list"] = Value::from("00000000000000000100");
        if let Some(counter) = counter {
            app["pin_try_counter"] = Value::from(counter);
        }
    }))
}

#[test]
fn offline_pin_right_after_a_wrong_one() {
    let mut card = pin_card(None);
    let mut pad = ScriptedPinPad::with(&[Some("9999"), Some("1234")]);
    let result = complete(first_phase(&mut card, &config(), &input(1_000), &mut pad));
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    let cvm = result.cvm.as_ref().expect("cvm");
    assert_eq!(cvm.results, CvmResults([0x01, 0x00, 0x02]));
    assert!(result.tvr.is_empty(), "{:?}", result.tvr);
    assert_eq!(pad.prompts.len(), 2);
    assert_eq!(pad.prompts[0].tries_left, Some(3), "from GET DATA 9F17");
    assert_eq!(pad.prompts[1].tries_left, Some(2), "from 63C2");
    assert_eq!(app(&mut card).pin_try_counter(), 3);
}

#[test]
fn wrong_pin_to_the_limit_and_tac_denial_declines() {
    let mut card = pin_card(None);
    let mut pad = ScriptedPinPad::with(&[Some("0000"), Some("1111"), Some("2222")]);
    // TAC-denial on "cardholder verification was not successful".
    let config = config_with(|c| c.aids[0].tac_denial = [0, 0x10, 0x80, 0, 0]);
    let result = complete(first_phase(&mut card, &config, &input(1_000), &mut pad));
    assert_bits(
        &result.tvr,
        &[
            Tvr::PIN_TRY_LIMIT_EXCEEDED,
            Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL,
        ],
    );
    assert_eq!(
        result.cvm.as_ref().map(|c| c.results),
        Some(CvmResults([0x01, 0x00, 0x01]))
    );
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(
        result.first_ac.as_ref().map(|ac| ac.requested),
        Some(quickpass::kernel::apdu::RequestedCryptogram::Aac)
    );
    assert_eq!(pad.prompts.len(), 3);
    assert_eq!(app(&mut card).pin_try_counter(), 0);
}

#[test]
fn blocked_pin_is_not_asked_for_and_bypass_is_recorded() {
    let mut card = pin_card(Some(0));
    let mut pad = ScriptedPinPad::with(&[Some("1234")]);
    let phase = first_phase(&mut card, &config(), &input(1_000), &mut pad);
    // The card will not pay from EC with a blocked PIN: it asks for the issuer.
    let request = phase.online_request().expect("ARQC from the card");
    assert_bits(
        &request.tvr(),
        &[
            Tvr::PIN_TRY_LIMIT_EXCEEDED,
            Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL,
        ],
    );
    assert!(pad.prompts.is_empty(), "no prompt when 9F17 is 0");

    let mut card = pin_card(None);
    let mut pad = ScriptedPinPad::with(&[None]);
    let result = complete(first_phase(&mut card, &config(), &input(1_000), &mut pad));
    assert_bits(
        &result.tvr,
        &[
            Tvr::PIN_NOT_ENTERED,
            Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL,
        ],
    );
    assert!(!result.tvr.contains(Tvr::PIN_TRY_LIMIT_EXCEEDED));
}

#[test]
fn floor_limit_both_sides() {
    let config = config_with(|c| c.aids[0].floor_limit = 1_000);
    let mut card = card(&debit());
    let phase = run(&mut card, &config, 1_000);
    let request = phase.online_request().expect("at the floor limit: online");
    assert_bits(&request.tvr(), &[Tvr::FLOOR_LIMIT_EXCEEDED]);
    let result = complete(run(&mut card, &config, 999));
    assert!(!result.tvr.contains(Tvr::FLOOR_LIMIT_EXCEEDED));
    assert_eq!(result.outcome, Outcome::Approved);
}

#[test]
fn random_selection_with_a_fixed_random_number_both_ways() {
    let config = config_with(|c| {
        c.aids[0].random_selection = Some(RandomSelection {
            threshold: 10_000,
            target_percent: 50,
            max_target_percent: 50,
        })
    });
    let mut card = card(&debit());
    let mut selected = input(1_000);
    selected.random_number = 50;
    let phase = first_phase(
        &mut card,
        &config,
        &selected,
        &mut ScriptedPinPad::default(),
    );
    let request = phase.online_request().expect("selected: online");
    assert_bits(&request.tvr(), &[Tvr::RANDOMLY_SELECTED_FOR_ONLINE]);
    let mut not_selected = input(1_000);
    not_selected.random_number = 51;
    let result = complete(first_phase(
        &mut card,
        &config,
        &not_selected,
        &mut ScriptedPinPad::default(),
    ));
    assert!(result.tvr.is_empty(), "{:?}", result.tvr);
    assert_eq!(result.outcome, Outcome::Approved);
}

#[test]
fn velocity_checking_and_new_card() {
    // ATC 16 → 17 after GPO, last online 15: 2 offline transactions > LCOL 1, ≤ UCOL 3.
    let mut first = card(&debit_with(|app| {
        app["data"] = serde_json::json!({"9F14": "01", "9F23": "03"});
    }));
    let phase = run(&mut first, &config(), 1_000);
    let tvr = phase.online_request().expect("LCOL is in TAC-online").tvr();
    assert_bits(&tvr, &[Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED]);
    assert!(!tvr.contains(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
    assert!(!tvr.contains(Tvr::NEW_CARD));
    // Never online: new card, and 17 > UCOL.
    let mut new_card = card(&debit_with(|app| {
        app["data"] = serde_json::json!({"9F14": "01", "9F23": "03"});
        app["last_online_atc"] = Value::from(0);
    }));
    let phase = run(&mut new_card, &config(), 1_000);
    let tvr = phase.online_request().expect("online").tvr();
    assert_bits(
        &tvr,
        &[
            Tvr::NEW_CARD,
            Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
            Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED,
        ],
    );
    // Without 9F14/9F23 no velocity check at all.
    let result = complete(run(&mut card_plain(), &config(), 1_000));
    assert!(result.tvr.is_empty());
}

fn card_plain() -> VirtualCard {
    card(&debit())
}

#[test]
fn expiry_effective_date_version_and_usage_control() {
    let config = config();
    // Expired (the ICC certificate has expired too, so CDA fails as well).
    let after = TransactionDate::new(2031, 1, 1).expect("date");
    let phase = first_phase(
        &mut card_plain(),
        &config,
        &input_on(1_000, after),
        &mut ScriptedPinPad::default(),
    );
    let request = phase.online_request().expect("expired is in TAC-online");
    assert_bits(&request.tvr(), &[Tvr::EXPIRED_APPLICATION]);
    // Not yet effective.
    let before = TransactionDate::new(2023, 6, 1).expect("date");
    let phase = first_phase(
        &mut card_plain(),
        &config,
        &input_on(1_000, before),
        &mut ScriptedPinPad::default(),
    );
    let tvr = match &phase {
        FirstPhase::Complete(r) => r.tvr,
        FirstPhase::Online(r) => r.tvr(),
    };
    assert_bits(&tvr, &[Tvr::APPLICATION_NOT_YET_EFFECTIVE]);
    assert!(!tvr.contains(Tvr::EXPIRED_APPLICATION));
    // Different application versions.
    let old_terminal = config_with(|c| c.aids[0].application_version = [0x00, 0x20]);
    let result = complete(run(&mut card_plain(), &old_terminal, 1_000));
    assert_bits(&result.tvr, &[Tvr::DIFFERENT_APPLICATION_VERSIONS]);
    // AUC without "valid at terminals other than ATMs": service not allowed, TAC-denial → AAC.
    let mut card = card(&debit_with(|app| app["auc"] = Value::from("FE00")));
    let result = complete(run(&mut card, &config, 1_000));
    assert_bits(&result.tvr, &[Tvr::SERVICE_NOT_ALLOWED]);
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
}

#[test]
fn tampered_signatures_never_approve_offline() {
    let tampered = debit_with(|app| app["faults"]["tamper_sdad"] = Value::Bool(true));
    // CDA: the card's TC carries a bad signature.
    let result = complete(run(&mut card(&tampered), &config(), 1_000));
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    assert_bits(&result.tvr, &[Tvr::CDA_FAILED]);
    assert_eq!(result.oda.status(), OdaStatus::Fail);
    assert!(result.offline_approval.is_none());
    // CDA on an ARQC: declined without going online, the card closed with an AAC.
    let phase = run(&mut card(&tampered), &config(), 60_000);
    let result = complete(phase);
    assert_eq!(result.outcome, Outcome::Declined);
    assert_bits(&result.tvr, &[Tvr::CDA_FAILED]);
    assert_eq!(result.arc, Some(*b"Z1"));
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Aac));
    // DDA: DDA failed, which TAC-online sends online; unable to go online → declined.
    let dda = config_with(|c| c.terminal.capabilities[2] = 0xC0);
    let mut card = card(&tampered);
    let phase = run(&mut card, &dda, 1_000);
    assert_bits(
        &phase.online_request().expect("online").tvr(),
        &[Tvr::DDA_FAILED],
    );
    let mut layer = ApduLayer::new(&mut card);
    let result = phase
        .complete_unable_to_go_online(&mut layer)
        .expect("completion");
    assert_eq!(result.outcome, Outcome::Declined);
}

#[test]
fn list_of_aids_with_partial_match_and_next_occurrence() {
    let mut profile = debit();
    profile["pse"] = Value::Bool(false);
    // One terminal AID, A0000003330101, partial match: SELECT finds 010101, then (P2 = 02)
    // 010102; the priority indicator puts the debit application first.
    let config = config_with(|c| {
        let mut aid = c.aids[0].clone();
        aid.aid = "A0000003330101".parse().expect("aid");
        aid.partial_match = true;
        c.aids = vec![aid];
    });
    let mut card = card(&profile);
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let phase = contact::start(
        &config,
        &input(1_000),
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let log = layer.take_log();
    let selects: Vec<String> = log
        .iter()
        .filter(|e| e.command.get(1) == Some(&0xA4))
        .map(|e| hex::encode_upper(&e.command))
        .collect();
    assert!(
        selects[0].contains("315041592E5359532E4444463031"),
        "PSE first"
    );
    assert_eq!(selects[1], "00A4040007A000000333010100");
    assert_eq!(selects[2], "00A4040207A000000333010100");
    assert_eq!(selects[3], "00A4040207A000000333010100");
    assert_eq!(selects[4], "00A4040008A00000033301010100");
    drop(layer);
    let result = complete(phase);
    assert_eq!(result.selection, Some(SelectionMethod::ListOfAids));
    assert_eq!(
        result.card_phase.aid().map(|a| a.to_string()).as_deref(),
        Some("A000000333010101")
    );
    assert_eq!(result.outcome, Outcome::Approved);
}

#[test]
fn contactless_full_pboc_continues_with_the_contact_flow() {
    let profile = debit_with(|app| app["contactless_path"] = Value::from("full"));
    let host = host(&profile);
    let mut card = card(&profile);
    // TTQ with "contactless full PBOC supported" (and no online PIN: this terminal's
    // capabilities have none, which the configuration checks refuse to contradict).
    let config = config_with(|c| c.terminal.ttq = Some([0x72, 0x00, 0x00, 0x80]));
    // Above the floor limit and the card's EC single-transaction limit: it asks the issuer.
    let input = input(60_000);
    let mut layer = ApduLayer::new(&mut card);
    let card_phase =
        contactless::read_card(&config, &input.transaction, &mut layer).expect("card phase");
    let phase = contact::continue_contactless_full(
        &config,
        &input,
        card_phase,
        &mut layer,
        &mut ScriptedPinPad::default(),
    )
    .expect("first phase");
    let request = phase.online_request().expect("online");
    assert_eq!(request.oda().status(), OdaStatus::Ok);
    let authorisation = host.authorise(PAN, PSN, request.field_55()).expect("host");
    assert!(authorisation.cryptogram_valid);
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(authorisation.issuer_authentication_data().to_vec()),
        scripts: Vec::new(),
    };
    let result = phase.complete_online(response, &mut layer).expect("done");
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
}

#[test]
fn offline_only_terminal_completes_itself_with_default_action_codes() {
    let config = config_with(|c| c.terminal.online_capable = false);
    // Above the floor limit and the card's EC limit: TAC-default declines.
    let result = complete(run(&mut card_plain(), &config, 60_000));
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(
        result.first_ac.as_ref().map(|ac| ac.requested),
        Some(quickpass::kernel::apdu::RequestedCryptogram::Aac)
    );
    // Below: TC, approved with CDA.
    let result = complete(run(&mut card_plain(), &config, 1_000));
    assert_eq!(result.outcome, Outcome::Approved);
}

/// The terminal the conformance runner configures for a contact trace (README §3.15), so that a
/// recording made here replays command for command.
fn trace_terminal() -> KernelConfig {
    config_with(|c| {
        let t = &mut c.terminal;
        t.terminal_type = [0x22];
        t.capabilities = [0xE0, 0x28, 0xC0];
        t.additional_capabilities = [0x60, 0x00, 0xF0, 0xA0, 0x01];
        t.ifd_serial = "QPTRACE1".into();
        t.terminal_id = String::new();
        t.merchant_id = String::new();
        t.merchant_name_location = String::new();
        t.merchant_category_code = 0;
        t.online_capable = true;
        let mut aid = c.aids[0].clone();
        aid.partial_match = false;
        aid.tac_default = [0; 5];
        aid.tac_denial = [0; 5];
        aid.tac_online = [0; 5];
        aid.floor_limit = u64::MAX;
        aid.random_selection = None;
        aid.default_ddol = vec![0x9F, 0x37, 0x04];
        aid.default_tdol = Vec::new();
        aid.ec_supported = false;
        aid.ec_terminal_limit = None;
        c.aids = vec![aid];
    })
}

fn write_trace(name: &str, case: Value) -> std::path::PathBuf {
    let file = serde_json::json!({
        "schema": "quickpass-vectors/1",
        "kind": "trace",
        "title": "contact trace recorded from the simulated debit card",
        "source": ["tests/contact_flow.rs"],
        "cases": [case],
    });
    let dir = std::env::temp_dir().join(format!("quickpass-contact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, file.to_string()).expect("write trace");
    path
}

#[test]
fn contact_trace_replays_through_the_conformance_runner() {
    let config = trace_terminal();
    let input = input(1_000);
    let mut card = card(&debit());
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let phase =
        contact::start(&config, &input, &mut layer, &mut contact::NoPinPad).expect("first phase");
    let log = layer.take_log();
    // EC off: the card answers the TC request with an ARQC.
    let request = phase.online_request().expect("online");
    let oda = request.oda();
    assert_eq!(oda.method, Some(OdaMethod::Dda));
    assert!(log.iter().any(|e| e.command.starts_with(&[0x00, 0x88])));
    let hex = |b: &[u8]| hex::encode_upper(b);
    let card_phase = request.card_phase();
    let capk: Value = serde_json::from_str(
        &std::fs::read_to_string(quickpass_sim::data::test_capk_file()).expect("capk"),
    )
    .expect("json");
    let capk = &capk["cases"][0];
    let expect = serde_json::json!({
        "selected_aid": "A000000333010101",
        "gpo_command": hex(card_phase.gpo_command().expect("gpo")),
        "aip": hex(card_phase.card().get(tags::AIP).expect("aip")),
        "afl": hex(card_phase.card().get(tags::AFL).expect("afl")),
        "static_data": hex(card_phase.static_data().as_deref().expect("static data")),
        "cryptogram_type": "ARQC",
        "atc": hex(card_phase.card().get(tags::ATC).expect("atc")),
        "oda": "ok",
        "issuer_public_key": hex(oda.issuer_public_key.as_deref().expect("issuer key")),
        "icc_public_key": hex(oda.icc_public_key.as_deref().expect("icc key")),
        "icc_dynamic_number": hex(oda.icc_dynamic_number.as_deref().expect("number")),
    });
    let case = |expect: Value| {
        serde_json::json!({
            "id": "sim_debit_contact_dda",
            "flow": "contact",
            "complete": true,
            "terminal": {
                "amount": 1000, "amount_other": 0, "currency": 156, "country": 156,
                "date": "261128", "time": "083000", "transaction_type": "00", "un": "12345678",
                "tags": {}
            },
            "terminal_aids": [{"aid": "A000000333010101", "match": "exact"}],
            "capks": [{
                "rid": capk["rid"], "index": capk["index"],
                "modulus": capk["modulus"], "exponent": capk["exponent"]
            }],
            "exchanges": log.iter().map(|e| serde_json::json!({
                "command": hex(&e.command), "response": hex(&e.response)
            })).collect::<Vec<_>>(),
            "expect": expect,
        })
    };
    let good = write_trace("contact-good.json", case(expect.clone()));
    let report = quickpass_sim::conformance::run_paths(&[good]);
    assert_eq!(report.failed(), 0, "{:?}", report.lines());
    assert_eq!(report.passed(), 1);
    // A wrong expectation fails: the runner really compares.
    let mut wrong = expect;
    wrong["icc_dynamic_number"] = Value::from("0000000000000000");
    let bad = write_trace("contact-bad.json", case(wrong));
    let report = quickpass_sim::conformance::run_paths(&[bad]);
    assert_eq!(report.failed(), 1, "{:?}", report.lines());
}

// --- Issue 15 item 5: track 2 (57) cross-checked against 5A and 5F24 --------------------------

/// The debit card with its `57` edited: `edit(nibbles, index of D)` on the hex digits of the
/// track 2 the simulator personalises (read back from a contact first phase).
fn debit_with_track2(edit: impl FnOnce(&mut Vec<u8>, usize)) -> Value {
    let mut layer_card = card(&debit());
    let phase = run(&mut layer_card, &config(), 1_000);
    let track2 = match &phase {
        FirstPhase::Complete(result) => result.card_phase.card().get(tags::TRACK2_EQUIVALENT_DATA),
        FirstPhase::Online(request) => request
            .card_phase()
            .card()
            .get(tags::TRACK2_EQUIVALENT_DATA),
    }
    .map(hex::encode_upper)
    .expect("57 on the card");
    let mut nibbles = track2.into_bytes();
    let separator = nibbles.iter().position(|&n| n == b'D').expect("separator");
    edit(&mut nibbles, separator);
    let track2 = String::from_utf8(nibbles).expect("hex");
    debit_with(|app| app["data"]["57"] = Value::from(track2))
}

fn bump(digit: &mut u8) {
    *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
}

/// The contact flow ends before any GENERATE AC, with the typed mismatch, and no PAN printed.
fn assert_ends_before_generate_ac(profile: &Value, amount: u64, what: &str) {
    let config = config();
    let mut card = card(profile);
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let error = match contact::start(
        &config,
        &input(amount),
        &mut layer,
        &mut ScriptedPinPad::default(),
    ) {
        Ok(FirstPhase::Complete(result)) => panic!("completed: {:?}", result.record()),
        Ok(FirstPhase::Online(request)) => panic!("online request, TVR {:?}", request.tvr()),
        Err(error) => error,
    };
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
    assert_eq!(error.outcome(), Outcome::EndApplication);
    let text = quickpass::report::error_chain(&error);
    assert!(text.contains(what), "{text}");
    let track2 = profile["applications"][0]["data"]["57"]
        .as_str()
        .expect("edited 57");
    for digits in [PAN, &track2[..track2.find('D').expect("D")]] {
        assert!(!text.contains(digits), "PAN in {text}");
        assert!(!format!("{error:?}").contains(digits), "PAN in {error:?}");
    }
    // No cryptogram was asked for over the inconsistent data.
    let log = layer.take_log();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|e| e.command.get(1) != Some(&0xAE)),
        "GENERATE AC sent"
    );
}

#[test]
fn unmodified_track2_still_approves_offline_and_goes_online() {
    // Baseline for the two tests below: the same edit with the card's own 57 changes nothing.
    let same = debit_with_track2(|_, _| {});
    let result = complete(run(&mut card(&same), &config(), 1_000));
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    let online = run(&mut card(&same), &config(), 60_000);
    assert!(online.online_request().is_some());
}

#[test]
fn track2_pan_differing_from_5a_ends_before_generate_ac() {
    let profile = debit_with_track2(|nibbles, separator| bump(&mut nibbles[separator - 3]));
    assert_ends_before_generate_ac(&profile, 1_000, "track 2 PAN mismatch");
    assert_ends_before_generate_ac(&profile, 60_000, "track 2 PAN mismatch");
}

#[test]
fn track2_expiry_differing_from_5f24_ends_before_generate_ac() {
    let profile = debit_with_track2(|nibbles, separator| bump(&mut nibbles[separator + 2]));
    assert_ends_before_generate_ac(&profile, 1_000, "track 2 expiry mismatch");
    assert_ends_before_generate_ac(&profile, 60_000, "track 2 expiry mismatch");
}
