//! Issue 11: transit acceptance in UnionPay's online-ODA mode (pboc-notes §2.13), against the
//! simulated cards at the transit gate configuration (`vectors/terminals/transit.json`): each
//! step of the guide refuses with the step in the reason, a good online-ODA card and a legacy
//! card (contactless full PBOC with CDA or DDA) are accepted for travel with field 55 for the deferred
//! authorisation, and a reader not in transit mode still treats the ARQC as an online request.

use quickpass::kernel::bits::{Ttq, Tvr};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::tags;
use quickpass::kernel::transit::TransitCard;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{OdaMethod, OdaStatus, Outcome, TransactionInput};
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

fn transit_config() -> KernelConfig {
    quickpass_sim::data::kernel_config(
        &quickpass_sim::data::data_dir().join("terminals/transit.json"),
    )
    .expect("transit configuration")
}

fn profile_json(name: &str) -> Value {
    let path = quickpass_sim::data::card_profile(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn card(profile: &Value) -> VirtualCard {
    CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation")
}

fn with(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut profile = profile_json(name);
    edit(&mut profile["applications"][0]);
    profile
}

fn input(amount: u64) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 12, 7).expect("date"),
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

fn tap(card: &mut VirtualCard, config: &KernelConfig, amount: u64) -> TransactionResult {
    contactless::transact(config, &input(amount), &mut ApduLayer::new(card)).result
}

fn sent_ttq(result: &TransactionResult) -> Ttq {
    result
        .card_phase
        .values()
        .get(tags::TTQ)
        .and_then(|t| Ttq::from_slice(t).ok())
        .expect("a TTQ was sent")
}

fn assert_refused_at(result: &TransactionResult, step: &str) {
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    let reason = result.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("transit step ") && reason.contains(&format!("({step})")),
        "expected a refusal at step {step}: {reason}"
    );
    assert!(result.field_55.is_none(), "nothing to submit for a refusal");
}

#[test]
fn an_online_oda_card_is_accepted_for_travel_with_its_deferred_authorisation() {
    let config = transit_config();
    let mut card = card(&profile_json("transit-online-oda"));
    // A zero-amount entry tap on a gate with no online link.
    let result = tap(&mut card, &config, 0);
    assert_eq!(
        result.outcome,
        Outcome::AcceptedForTravel,
        "{:?}",
        result.record()
    );
    assert_eq!(result.card_phase.transit(), Some(TransitCard::OnlineOda));
    assert_eq!(sent_ttq(&result).as_bytes(), &[0x21, 0x80, 0x00, 0x80]);
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    let field_55 = hex::encode_upper(result.field_55.as_ref().expect("field 55 for the batch"));
    // The ARQC itself and the ATC travel in field 55.
    let ac = hex::encode_upper(
        result
            .card_phase
            .card()
            .get(tags::APPLICATION_CRYPTOGRAM)
            .unwrap(),
    );
    assert!(field_55.contains(&format!("9F2608{ac}")), "{field_55}");
    assert!(field_55.contains("9F3602002A"), "ATC 42: {field_55}");
    assert_eq!(result.record().outcome.as_str(), "accepted_for_travel");
    // Records (for the certificates), no more: PPSE, SELECT, GPO, READ RECORD × 4.
    assert_eq!(result.card_phase.apdus(), 7);
}

#[test]
fn a_legacy_card_is_accepted_through_the_contactless_full_pboc_path_with_cda() {
    let config = transit_config();
    let mut card = card(&profile_json("transit-legacy"));
    let result = tap(&mut card, &config, 0);
    assert_eq!(
        result.outcome,
        Outcome::AcceptedForTravel,
        "{:?}",
        result.record()
    );
    assert_eq!(result.card_phase.transit(), Some(TransitCard::Legacy));
    assert_eq!(sent_ttq(&result).as_bytes(), &[0x61, 0x00, 0x00, 0x80]);
    // The profile's AIP offers CDA: the GENERATE AC's signature is verified.
    assert_eq!(result.oda.method, Some(OdaMethod::Cda), "{:?}", result.oda);
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    assert_eq!(
        result.cryptogram_type.map(|c| format!("{c:?}")),
        Some("Arqc".into())
    );
    assert!(result.field_55.is_some());
    // The gate forced the ARQC (merchant forced online), whatever its own link.
    assert!(
        result.tvr.contains(Tvr::MERCHANT_FORCED_ONLINE),
        "{:?}",
        result.tvr
    );
}

#[test]
fn a_counterfeit_card_is_refused_at_step_one() {
    let config = transit_config();
    for name in ["transit-online-oda", "transit-legacy"] {
        let profile = with(name, |app| app["faults"]["tamper_sdad"] = Value::Bool(true));
        let result = tap(&mut card(&profile), &config, 0);
        assert_refused_at(&result, "oda");
        assert_eq!(result.oda.status(), OdaStatus::Fail, "{name}");
    }
    // No signature at all (a card without ODA): not excluded as counterfeit, refused too.
    let result = tap(&mut card(&profile_json("qpboc-credit-online")), &config, 0);
    assert_refused_at(&result, "oda");
    assert!(result
        .tvr
        .contains(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED));
}

#[test]
fn a_legacy_card_with_dda_only_is_accepted_too() {
    let config = transit_config();
    // AIP 7C00: SDA and DDA, no CDA: INTERNAL AUTHENTICATE before the GENERATE AC.
    let profile = with("transit-legacy", |app| app["aip"] = Value::from("7C00"));
    let result = tap(&mut card(&profile), &config, 0);
    assert_eq!(
        result.outcome,
        Outcome::AcceptedForTravel,
        "{:?}",
        result.record()
    );
    assert_eq!(result.oda.method, Some(OdaMethod::Dda), "{:?}", result.oda);
}

#[test]
fn a_card_that_does_not_give_an_arqc_is_refused_at_step_two() {
    let config = transit_config();
    // A legacy card (DDA, verified before the GENERATE AC) that cannot go online: it answers
    // the gate's ARQC request with an AAC.
    let profile = with("transit-legacy", |app| {
        app["aip"] = Value::from("7C00");
        app["cap"]["offline_only"] = Value::Bool(true);
        app["ec"] = serde_json::json!({
            "balance": 1000, "balance_limit": 100000,
            "single_transaction_limit": 20000, "reset_threshold": 100
        });
    });
    let result = tap(&mut card(&profile), &config, 0);
    assert_eq!(result.oda.status(), OdaStatus::Ok, "{:?}", result.record());
    assert_refused_at(&result, "arqc");
}

#[test]
fn a_card_reporting_atc_zero_is_refused_at_step_three() {
    let config = transit_config();
    let profile = with("transit-online-oda", |app| {
        app["faults"]["atc_zero"] = Value::Bool(true);
    });
    let result = tap(&mut card(&profile), &config, 0);
    assert_eq!(result.oda.status(), OdaStatus::Ok, "signed over ATC 0000");
    assert_refused_at(&result, "atc");
}

#[test]
fn a_deny_listed_card_is_refused_at_step_four() {
    let mut config = transit_config();
    let mut parts = config.terminal.parts().clone();
    parts.exception_file = vec!["6228480099887766".into()];
    config.terminal = quickpass::kernel::config::TerminalConfig::new(parts).expect("config");
    let result = tap(&mut card(&profile_json("transit-online-oda")), &config, 0);
    assert_refused_at(&result, "deny_list");
    assert!(result.tvr.contains(Tvr::CARD_ON_EXCEPTION_FILE));
    // Another card is not affected.
    let other = tap(&mut card(&profile_json("transit-legacy")), &config, 0);
    assert_eq!(other.outcome, Outcome::AcceptedForTravel);
}

#[test]
fn an_expired_card_is_refused_at_step_five() {
    let config = transit_config();
    let profile = with("transit-online-oda", |app| {
        // Expired on 1 December; its certificates (valid to the end of the month) still are.
        app["expiry"] = Value::from("261201");
    });
    let result = tap(&mut card(&profile), &config, 0);
    assert_refused_at(&result, "expiry");
    assert!(result.tvr.contains(Tvr::EXPIRED_APPLICATION));
}

#[test]
fn outside_transit_mode_an_arqc_stays_an_online_request_and_expiry_is_flagged() {
    // The same online-ODA card at the default reader: no DF61 handling, an ARQC is an online
    // request (the normal reader does not accept it for travel).
    let config = quickpass_sim::data::default_kernel_config().expect("default configuration");
    let result = tap(
        &mut card(&profile_json("transit-online-oda")),
        &config,
        60_000,
    );
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    assert_eq!(result.card_phase.transit(), None);
    // An expired card's ARQC goes online with the TVR saying so (today's ARQC path checked
    // neither expiry nor the exception file).
    let expired = with("qpboc-credit-online", |app| {
        app["expiry"] = Value::from("261130")
    });
    let result = tap(&mut card(&expired), &config, 100);
    assert_eq!(result.outcome, Outcome::OnlineRequest);
    assert!(
        result.tvr.contains(Tvr::EXPIRED_APPLICATION),
        "{:?}",
        result.tvr
    );
    let mut denied = config.clone();
    let mut parts = denied.terminal.parts().clone();
    parts.exception_file = vec!["6250940012345675".into()];
    denied.terminal = quickpass::kernel::config::TerminalConfig::new(parts).expect("config");
    let result = tap(
        &mut card(&profile_json("qpboc-credit-online")),
        &denied,
        100,
    );
    assert_eq!(result.outcome, Outcome::Declined);
    assert!(result.tvr.contains(Tvr::CARD_ON_EXCEPTION_FILE));
}

#[test]
fn an_ec_card_paying_offline_at_the_gate_is_an_ordinary_approval() {
    // A debit card with electronic cash and no online ODA answers the legacy TTQ with a qPBOC
    // TC: it has paid from its EC balance, so the gate approves it as the offline payment it
    // is (refusing would take the fare and keep the gate shut).
    let config = transit_config();
    let mut card = card(&profile_json("qpboc-debit-offline"));
    let result = tap(&mut card, &config, 200);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.ec_balance().map(Amount::minor), Some(49_800));
}

fn acquirer_for(profiles: &[&Value]) -> quickpass_sim::host::acquirer::SimAcquirer {
    let mut issuer = quickpass_sim::host::emv::EmvHost::new();
    for profile in profiles {
        let profile = CardProfile::from_json(&profile.to_string()).expect("profile");
        let Some(quickpass_sim::ApplicationProfile::Pboc(app)) = profile.applications.first()
        else {
            panic!("not a pboc card");
        };
        issuer.add_profile(app).expect("issuer keys");
    }
    quickpass_sim::host::acquirer::SimAcquirer::new(issuer)
}

#[test]
fn the_deferred_record_is_authorised_from_the_record_alone() {
    use quickpass_sim::host::acquirer::{AcquirerDecision, DeclineCause};
    let config = transit_config();
    let online_oda = profile_json("transit-online-oda");
    let legacy = profile_json("transit-legacy");
    let mut acquirer = acquirer_for(&[&online_oda, &legacy]);
    for profile in [&online_oda, &legacy] {
        let result = tap(&mut card(profile), &config, 300);
        let record = result
            .deferred_authorisation(&config)
            .expect("a deferred authorisation");
        assert_eq!(record.amount, 300);
        assert_eq!(record.terminal_id, "87654321");
        // Only the record (as the store keeps it) reaches the acquirer.
        let stored: quickpass::kernel::transit::DeferredAuthorisation =
            serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(
            acquirer.authorise(&stored),
            AcquirerDecision::Approved,
            "{record:?}"
        );
        // Debug never shows the PAN.
        assert!(!format!("{record:?}").contains(&record.pan));
    }
    // A card the acquirer's account refuses, and a cryptogram that does not verify.
    acquirer.decline_card("6228480099887766", 0x01);
    let record = tap(&mut card(&online_oda), &config, 0)
        .deferred_authorisation(&config)
        .unwrap();
    assert_eq!(
        acquirer.authorise(&record),
        AcquirerDecision::Declined(DeclineCause::InsufficientFunds)
    );
    let forged = with("transit-legacy", |app| {
        app["faults"]["tamper_ac"] = Value::Bool(true);
    });
    let record = tap(&mut card(&forged), &config, 0)
        .deferred_authorisation(&config)
        .expect("accepted: the gate cannot check the ARQC");
    assert_eq!(
        acquirer.authorise(&record),
        AcquirerDecision::Declined(DeclineCause::BadCryptogram)
    );
    // Nothing to defer for a refusal.
    let refused = tap(
        &mut card(&with("transit-online-oda", |app| {
            app["faults"]["atc_zero"] = Value::Bool(true)
        })),
        &config,
        0,
    );
    assert!(refused.deferred_authorisation(&config).is_none());
}

/// Issue 11 item 2: the deny list (hashed PAN + PSN) refuses the card on every path — transit
/// (step 4), a qPBOC ARQC, a qPBOC TC — and a card with another PSN is not refused.
#[test]
fn the_deny_list_refuses_the_card_on_every_path() {
    use quickpass::kernel::config::SharedDenyList;
    use quickpass::kernel::deny_list::{card_key, DenyList, Salt};
    use quickpass::kernel::values::Pan;
    use std::sync::Arc;
    let salt = Salt::new(&[0x5A; 16]).expect("salt");
    let key = |pan: &str, psn: Option<u8>| card_key(&salt, &Pan::from_digits(pan).unwrap(), psn);
    let list = DenyList::from_keys(
        salt.clone(),
        1,
        [
            key("6228480099887766", Some(0x01)),
            key("6250940012345675", Some(0x01)),
            key("6228480012345671", Some(0x01)),
        ],
    )
    .expect("list");
    let shared = SharedDenyList(Arc::new(list));

    let mut transit = transit_config();
    transit.deny_list = Some(shared.clone());
    let refused = tap(&mut card(&profile_json("transit-online-oda")), &transit, 0);
    assert_refused_at(&refused, "deny_list");
    // The same PAN with another sequence number is another card.
    let other_psn = with("transit-online-oda", |app| app["psn"] = Value::from("02"));
    let accepted = tap(&mut card(&other_psn), &transit, 0);
    assert_eq!(accepted.outcome, Outcome::AcceptedForTravel);

    let mut reader = quickpass_sim::data::default_kernel_config().expect("default");
    reader.deny_list = Some(shared);
    // An online request (ARQC) and an offline approval (TC) alike.
    for (profile, amount) in [("qpboc-credit-online", 100), ("qpboc-debit-offline", 100)] {
        let result = tap(&mut card(&profile_json(profile)), &reader, amount);
        assert_eq!(
            result.outcome,
            Outcome::Declined,
            "{profile}: {:?}",
            result.record()
        );
        assert!(
            result.tvr.contains(Tvr::CARD_ON_EXCEPTION_FILE),
            "{profile}"
        );
    }
}
