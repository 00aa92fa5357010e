//! The Visa C-3 kernel (issue 13, pboc-notes §8.3–8.5) against the simulated Visa card
//! (`vectors/cards/visa-qvsdc.json`: fDDA version 01, SDAD format 95, test CA under Visa's
//! RID) at the international terminal (`vectors/terminals/international.json`: the Visa AID on
//! kernel 3, a dynamic reader limit set for the card's program `3101560156`: floor 200.00, CVM
//! 100.00, contactless limit 800.00, where the AID's own are 500.00 / 300.00 / 1000.00), and the
//! real Visa trace routed to C-3.

use quickpass::kernel::bits::{Ttq, Tvr};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless::{self, CardPhase, ContactlessCvm, TransactionResult};
use quickpass::kernel::entry_point::KernelId;
use quickpass::kernel::outcome_parameters::{
    MessageId, OnlineResponseData, OutcomeCvm, StartPoint,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{tags, OdaStatus, Outcome, TransactionInput};
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

fn international() -> KernelConfig {
    let path = quickpass_sim::data::data_dir().join("terminals/international.json");
    quickpass_sim::data::kernel_config(&path).expect("international configuration")
}

fn edited(edit: impl FnOnce(&mut quickpass::kernel::config::TerminalConfigParts)) -> KernelConfig {
    let config = international();
    KernelConfig {
        terminal: config.terminal.edited(edit).expect("valid configuration"),
        ..config
    }
}

fn visa_profile() -> Value {
    let path = quickpass_sim::data::card_profile("visa-qvsdc");
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
    let result = contactless::transact(config, &input(amount), &mut layer).result;
    assert_eq!(result.kernel, Some(KernelId::C3), "{:?}", result.record());
    result
}

fn ttq_sent(result: &TransactionResult) -> Ttq {
    Ttq::from_slice(result.card_phase.values().get(tags::TTQ).expect("TTQ")).expect("4 bytes")
}

#[test]
fn offline_approval_with_fdda_format_95() {
    let result = tap(&mut card(&visa_profile()), &international(), 1_000);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.oda.status(), OdaStatus::Ok);
    assert!(result.oda.verified.is_some());
    assert_eq!(
        result.oda.signed_data_format,
        Some(0x95),
        "Visa's SDAD format"
    );
    assert_eq!(result.cvm, Some(ContactlessCvm::NoCvm));
    // fDDA version 01: the card's 9F69 went into the signed data.
    let related = result
        .card_phase
        .card()
        .get(tags::CARD_AUTHENTICATION_RELATED_DATA)
        .expect("9F69");
    assert_eq!(related[0], 0x01);
    let parameters = &result.outcome_parameters;
    assert_eq!(parameters.cvm, Some(OutcomeCvm::NoCvm));
    let ui = parameters.ui_request_on_outcome.expect("UI");
    assert_eq!(ui.message, MessageId::Approved);
    // The balance the card reported is shown with the approval.
    assert_eq!(ui.value.map(|v| v.value), Some(50_000 - 1_000));
    assert!(parameters.data_record_present);
}

/// Dynamic reader limits: the card's program `3101560156` brings floor 200.00 and CVM 100.00
/// where the Visa AID's own say 500.00 and 300.00.
#[test]
fn cvm_and_online_by_the_programs_limits() {
    // (amount, outcome, CVM with the program's limits, CVM with the AID's limits); at 250.00
    // the card goes online by itself either way (over its own single-transaction limit, 200.00).
    let table = [
        (
            5_000,
            Outcome::Approved,
            ContactlessCvm::NoCvm,
            ContactlessCvm::NoCvm,
        ),
        (
            15_000,
            Outcome::Approved,
            ContactlessCvm::Signature,
            ContactlessCvm::NoCvm,
        ),
        (
            25_000,
            Outcome::OnlineRequest,
            ContactlessCvm::Signature,
            ContactlessCvm::NoCvm,
        ),
    ];
    let without_program = edited(|p| p.aids[4].program_limits.clear());
    for (amount, outcome, cvm, cvm_without) in table {
        let result = tap(&mut card(&visa_profile()), &international(), amount);
        assert_eq!(result.outcome, outcome, "{amount}: {:?}", result.record());
        assert_eq!(result.cvm, Some(cvm), "{amount}");
        assert_eq!(
            ttq_sent(&result).contains(Ttq::CVM_REQUIRED),
            cvm == ContactlessCvm::Signature
        );
        if outcome == Outcome::OnlineRequest {
            assert!(result.field_55.is_some());
            assert!(ttq_sent(&result).contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED));
        }
        if cvm == ContactlessCvm::Signature {
            assert!(result.outcome_parameters.receipt);
        }

        let result = tap(&mut card(&visa_profile()), &without_program, amount);
        assert_eq!(
            result.cvm,
            Some(cvm_without),
            "{amount} without the program"
        );
        assert_eq!(result.outcome, outcome, "{amount} without the program");
        assert!(!ttq_sent(&result).contains(Ttq::CVM_REQUIRED));
    }
    // Over the program's contactless limit (800.00), under the AID's (1000.00): not contactless.
    let result = tap(&mut card(&visa_profile()), &international(), 90_000);
    assert_eq!(result.outcome, Outcome::TryAnotherInterface);
    assert_eq!(result.card_phase.gpo_command(), None, "no GPO sent");
    // A program allowed more than the AID (1200.00 against 1000.00): the card is read, and its
    // program's set decides.
    let looser = edited(|p| {
        p.aids[4].program_limits[0].contactless_transaction_limit = Some(120_000);
        p.aids[4].program_limits[0].cvm_limit = Some(10_000);
    });
    let result = tap(&mut card(&visa_profile()), &looser, 110_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    let mut other_program = visa_profile();
    other_program["applications"][0]["fci_discretionary"]["9F5A"] = "3109780276".into();
    let result = tap(&mut card(&other_program), &looser, 110_000);
    assert_eq!(
        result.outcome,
        Outcome::TryAnotherInterface,
        "the AID's own limit"
    );
}

#[test]
fn online_request_with_online_pin_when_the_card_requires_it() {
    let mut profile = visa_profile();
    profile["applications"][0]["ctq"] = "A000".into(); // online PIN required, go online if ODA fails
    let result = tap(&mut card(&profile), &international(), 25_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    assert_eq!(result.cvm, Some(ContactlessCvm::OnlinePin));
    assert_eq!(result.outcome_parameters.cvm, Some(OutcomeCvm::OnlinePin));
    // Offline, online PIN cannot be done: the card would need another interface.
    let result = tap(&mut card(&profile), &international(), 1_000);
    assert_ne!(result.outcome, Outcome::Approved);
    assert!(result
        .tvr
        .contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
}

#[test]
fn cdcvm_needs_the_signed_ctq() {
    let mut profile = visa_profile();
    profile["applications"][0]["ctq"] = "2080".into(); // consumer device CVM performed
    let result = tap(&mut card(&profile), &international(), 15_000);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.cvm, Some(ContactlessCvm::Cdcvm));
    assert_eq!(
        result.outcome_parameters.cvm,
        Some(OutcomeCvm::ConfirmationCodeVerified)
    );
}

/// A CTQ changed in flight to claim a consumer device CVM: the copy the card signed in `9F69`
/// does not claim it, so C-3 does not take it (the amount needs a CVM: signature otherwise).
#[test]
fn cdcvm_claimed_in_flight_is_refused() {
    let profile = visa_profile(); // CTQ 2000: no CDCVM
    let template = card(&profile);
    let mut baseline = template.duplicate().expect("copy");
    let mut layer = ApduLayer::new(&mut baseline);
    layer.record();
    let result = contactless::transact(&international(), &input(15_000), &mut layer).result;
    assert_eq!(result.cvm, Some(ContactlessCvm::Signature));
    let log = layer.take_log();
    let gpo = log
        .iter()
        .find(|e| e.command.starts_with(&[0x80, 0xA8]))
        .expect("GPO");
    let at = gpo
        .response
        .windows(4)
        .position(|w| w == [0x9F, 0x6C, 0x02, 0x20])
        .expect("CTQ in the GPO answer");
    let mut faulty = quickpass_sim::faults::FaultyCard::new(template.duplicate().expect("copy"));
    faulty.plan(
        quickpass_sim::faults::Trigger::matching(&[0x80, 0xA8], 1),
        quickpass_sim::faults::Fault::CorruptByte {
            offset: at + 4,
            mask: 0x80,
        },
    );
    let mut layer = ApduLayer::new(&mut faulty);
    let result = contactless::transact(&international(), &input(15_000), &mut layer).result;
    assert_eq!(result.kernel, Some(KernelId::C3));
    assert_eq!(
        result.card_phase.card().get(tags::CTQ),
        Some(&[0x20, 0x80][..]),
        "the fault fired"
    );
    assert_eq!(
        result.oda.status(),
        OdaStatus::Ok,
        "9F6C itself is not signed"
    );
    assert_ne!(result.outcome, Outcome::Approved, "{:?}", result.record());
    assert_eq!(result.outcome, Outcome::TryAnotherInterface);
    assert!(result
        .tvr
        .contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
}

#[test]
fn tampered_sdad_is_never_approved_offline() {
    let mut profile = visa_profile();
    profile["applications"][0]["faults"]["tamper_sdad"] = true.into();
    // CTQ 2000: go online if ODA fails, on an online-capable reader.
    let result = tap(&mut card(&profile), &international(), 1_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    assert!(result.tvr.contains(Tvr::DDA_FAILED));
    // An offline-only reader declines.
    let offline = edited(|p| p.terminal.online_capable = false);
    let result = tap(&mut card(&profile), &offline, 1_000);
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    assert!(result.tvr.contains(Tvr::DDA_FAILED));
    // "ODA for online authorisations" (TTQ byte 1 b1): the card signs its ARQC too (the
    // simulator does so with its online-ODA switch); an ARQC whose fDDA fails is declined.
    let oda_online = edited(|p| p.aids[4].ttq = Some([0x37, 0x00, 0x00, 0x80]));
    profile["applications"][0]["cap"]["online_oda"] = true.into();
    let result = tap(&mut card(&profile), &oda_online, 25_000);
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    assert!(result.tvr.contains(Tvr::DDA_FAILED));
    let mut signing = visa_profile();
    signing["applications"][0]["cap"]["online_oda"] = true.into();
    let result = tap(&mut card(&signing), &oda_online, 25_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    assert_eq!(result.oda.status(), OdaStatus::Ok);
}

#[test]
fn issuer_update_asks_for_the_issuer_response_at_start_d() {
    let mut profile = visa_profile();
    profile["applications"][0]["ctq"] = "2040".into(); // card supports issuer update processing
    let update = edited(|p| p.aids[4].ttq = Some([0x36, 0x00, 0x80, 0x80]));
    let result = tap(&mut card(&profile), &update, 25_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    let parameters = &result.outcome_parameters;
    assert_eq!(
        parameters.online_response_data,
        Some(OnlineResponseData::EmvData)
    );
    assert_eq!(parameters.start, Some(StartPoint::D));
    assert_eq!(
        parameters.ui_request_on_restart.map(|u| u.message),
        Some(MessageId::PresentCardAgain)
    );
    // Without the reader's offer, a plain online request.
    let result = tap(&mut card(&profile), &international(), 25_000);
    assert_eq!(result.outcome_parameters.online_response_data, None);
    assert_eq!(result.outcome_parameters.start, None);
}

#[test]
fn missing_expiry_date_is_icc_data_missing() {
    let mut profile = visa_profile();
    // Records without 5F24 (the PAN and track 2 still agree).
    profile["applications"][0]["records"] = serde_json::json!([
        {"sfi": 1, "oda": true, "tags": ["5A", "5F34", "9F07", "5F28", "9F4A"]},
        {"sfi": 2, "tags": ["8F", "90", "92", "9F32"]},
        {"sfi": 3, "tags": ["9F46", "9F47", "9F48"]}
    ]);
    let mut card = card(&profile);
    let result = tap(&mut card, &international(), 1_000);
    assert!(result
        .card_phase
        .card()
        .get(tags::APPLICATION_EXPIRATION_DATE)
        .is_none());
    // The card paid (TC) with a valid signature: only the missing expiry stops the approval.
    assert_eq!(result.oda.status(), OdaStatus::Ok, "{:?}", result.record());
    assert_eq!(result.outcome, Outcome::Declined, "{:?}", result.record());
    assert!(
        result.tvr.contains(Tvr::ICC_DATA_MISSING),
        "{:?}",
        result.record()
    );
    assert!(!result.tvr.contains(Tvr::EXPIRED_APPLICATION));
}

/// The real Visa Debit trace (`vectors/trace-visa-debit-qvsdc.json`) routes to C-3 by its RID
/// and ends as the recording shows: an online request (ARQC) with fDDA verified.
#[test]
fn the_real_visa_trace_replays_through_c3() {
    let path = quickpass_sim::data::data_dir().join("trace-visa-debit-qvsdc.json");
    let report = quickpass_sim::conformance::run_paths(std::slice::from_ref(&path));
    assert_eq!(report.failed(), 0, "{:?}", report.lines());
    assert_eq!(report.passed(), 1);

    let trace: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("trace")).expect("json");
    let case = &trace["cases"][0];
    let exchanges = case["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .map(|e| quickpass_sim::replay::Exchange {
            command: hex::decode(e["command"].as_str().expect("test data")).expect("test data"),
            response: hex::decode(e["response"].as_str().expect("test data")).expect("test data"),
        });
    let capk = &case["capks"][0];
    let config = KernelConfig::new(
        quickpass::kernel::config::TerminalConfig::from_json(
            &serde_json::json!({
                "terminal": {
                    "country_code": 978, "currency_code": 978, "currency_exponent": 2,
                    "terminal_type": "22", "capabilities": "E0E1C8",
                    "additional_capabilities": "6000F0A001", "ifd_serial": "QPTRACE1",
                    "terminal_id": "", "merchant_id": "", "merchant_name_location": "",
                    "merchant_category_code": 0, "ttq": "27000000",
                    "online_capable": true, "contact_supported": true
                },
                "aids": [{
                    "aid": "A0000000031010", "partial_match": true,
                    "application_version": "0096", "tac_default": "0000000000",
                    "tac_denial": "0000000000", "tac_online": "0000000000",
                    "floor_limit": 100000
                }],
                "revoked_certificates": [], "exception_file": []
            })
            .to_string(),
        )
        .expect("terminal"),
        {
            let mut store = quickpass::crypto::capk::CapkStore::new();
            let modulus =
                hex::decode(capk["modulus"].as_str().expect("test data")).expect("test data");
            let exponent =
                hex::decode(capk["exponent"].as_str().expect("test data")).expect("test data");
            let (rid, index) = (
                quickpass::crypto::capk::Rid([0xA0, 0, 0, 0, 0x03]),
                quickpass::crypto::capk::CapkIndex(0x09),
            );
            let checksum = quickpass::crypto::capk::rsa_checksum(rid, index, &modulus, &exponent);
            store
                .insert(
                    quickpass::crypto::capk::CaPublicKey::new_rsa(
                        rid,
                        index,
                        &modulus,
                        &exponent,
                        quickpass::crypto::capk::HashAlgorithm::Sha1,
                        None,
                        &checksum,
                    )
                    .expect("Visa CA key 09"),
                )
                .expect("insert");
            store
        },
    );
    let recorded = &case["terminal"];
    let un: [u8; 4] = hex::decode(recorded["un"].as_str().expect("test data"))
        .expect("test data")
        .try_into()
        .expect("test data");
    let input = TransactionInput {
        amount: Amount::from_minor(1000).expect("test data"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2023, 3, 1).expect("test data"),
        time: TransactionTime::new(0, 0, 0).expect("test data"),
        unpredictable_number: un,
    };
    // The recorded terminal's values, as the conformance runner replays them.
    let overrides: Vec<_> = recorded["tags"]
        .as_object()
        .expect("test data")
        .iter()
        .map(|(tag, value)| {
            let tag = u32::from_str_radix(tag, 16).expect("test data");
            (
                quickpass::kernel::Tag::new(tag),
                hex::decode(value.as_str().expect("test data")).expect("test data"),
            )
        })
        .collect();
    let mut replay = quickpass_sim::replay::ReplayCard::new(exchanges);
    let mut layer = ApduLayer::new(&mut replay);
    let mut phase = CardPhase::new(&config, &input);
    phase
        .read_with_overrides(&config, &overrides, &mut layer)
        .expect("card phase");
    assert_eq!(phase.kernel(), Some(KernelId::C3));
    let result = phase.complete(&config);
    assert_eq!(result.kernel, Some(KernelId::C3));
    assert_eq!(result.oda.status(), OdaStatus::Ok, "{:?}", result.record());
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.record()
    );
    // The real Visa card signs its fDDA in Visa's format 95 (pboc-notes §8.3).
    assert_eq!(result.oda.signed_data_format, Some(0x95));
    // The card's CTQ asks for nothing, the amount is under any CVM limit: no CVM.
    assert_eq!(result.cvm, Some(ContactlessCvm::NoCvm));
    // The card expired in 2025 and the trace is from 2023: not expired, expiry present.
    assert!(!result.tvr.contains(Tvr::EXPIRED_APPLICATION));
    assert!(!result.tvr.contains(Tvr::ICC_DATA_MISSING));
}
