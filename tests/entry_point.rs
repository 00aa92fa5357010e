//! Entry Point as EMV Contactless Book B tests it (issue 13, pboc-notes §8.2), table-driven,
//! against the simulated cards: two applications by priority, kernel id routing, a malformed
//! PPSE entry skipped, an L1 error ending in Try Again with "present card again" and the tap
//! completing on the second presentation, an ARQC on an offline-only reader declined, zero
//! amount per combination.

use quickpass::kernel::c2::{C2Config, TornLog};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::entry_point::{EntryPoint, KernelChoice, KernelId};
use quickpass::kernel::outcome_parameters::{MessageId, StartPoint};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{tags, tlv, Outcome, TransactionInput};
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::mchip::MchipApplication;
use quickpass_sim::relay::SimulatedRelay;
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

const DEBIT: &str = "A000000333010101";
const CREDIT: &str = "A000000333010102";
const VISA: &str = "A0000000031010";

fn default_config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("default configuration")
}

fn international() -> KernelConfig {
    let path = quickpass_sim::data::data_dir().join("terminals/international.json");
    quickpass_sim::data::kernel_config(&path).expect("international configuration")
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

fn tap<T: Transport>(card: T, config: &KernelConfig, amount: u64) -> TransactionResult {
    let mut layer = ApduLayer::new(card);
    contactless::transact(config, &input(amount), &mut layer).result
}

fn selected(result: &TransactionResult) -> Option<String> {
    result.card_phase.aid().map(|a| a.to_string())
}

/// Book B: the candidate list follows the card's priority indicators; equal priorities (and
/// "no priority") keep directory order.
#[test]
fn two_applications_by_priority() {
    // (debit priority, credit priority, the application the tap runs on)
    let table = [
        (1, 2, DEBIT),
        (2, 1, CREDIT),
        (0, 1, CREDIT), // 0: no priority, after any priority
        (3, 3, DEBIT),  // equal: directory order
        (0, 0, DEBIT),
    ];
    let config = default_config();
    for (debit, credit, expected) in table {
        let mut profile = profile_json("qpboc-debit-offline");
        profile["applications"][0]["priority"] = debit.into();
        profile["applications"][1]["priority"] = credit.into();
        let result = tap(&mut card(&profile), &config, 100);
        assert_eq!(
            selected(&result).as_deref(),
            Some(expected),
            "priorities {debit}/{credit}: {:?}",
            result.record()
        );
        assert_eq!(result.kernel, Some(KernelId::Qpboc));
        // The debit application approves offline from EC, the credit one goes online.
        let outcome = if expected == DEBIT {
            Outcome::Approved
        } else {
            Outcome::OnlineRequest
        };
        assert_eq!(result.outcome, outcome);
    }
}

/// Book B: the kernel of a combination is the one the PPSE entry names (`9F2A`), else the
/// RID's default; the terminal's AID must run that kernel; an unknown or unbuilt kernel makes
/// no combination and the next one runs.
#[test]
fn kernel_id_routing() {
    // (9F2A of the debit entry, kernel the terminal configures for the debit AID, expected
    //  application, expected kernel)
    let table: [(Option<&str>, Option<u8>, &str, KernelId); 7] = [
        (None, None, DEBIT, KernelId::Qpboc),
        (Some("07"), None, DEBIT, KernelId::Qpboc),
        (Some("00"), None, DEBIT, KernelId::Qpboc), // short id 0: the RID's default
        (Some("03"), None, CREDIT, KernelId::Qpboc), // the card wants C-3, the AID runs qPBOC
        (Some("09"), None, CREDIT, KernelId::Qpboc), // unknown kernel
        (Some("C10203"), None, CREDIT, KernelId::Qpboc), // proprietary kernel type
        // C-2 without the reader's C-2 state (plain `transact`): skipped, next combination.
        (Some("02"), Some(2), CREDIT, KernelId::Qpboc),
    ];
    for (card_kernel, terminal_kernel, expected, kernel) in table {
        let mut profile = profile_json("qpboc-debit-offline");
        if let Some(id) = card_kernel {
            profile["applications"][0]["kernel_id"] = id.into();
        }
        let config = default_config();
        let config = KernelConfig {
            terminal: config
                .terminal
                .edited(|p| p.aids[0].kernel_id = terminal_kernel)
                .expect("valid"),
            ..config
        };
        let result = tap(&mut card(&profile), &config, 100);
        assert_eq!(
            selected(&result).as_deref(),
            Some(expected),
            "9F2A {card_kernel:?}, terminal {terminal_kernel:?}: {:?}",
            result.record()
        );
        assert_eq!(result.kernel, Some(kernel));
    }

    // A Visa card (no 9F2A) runs C-3 by its RID; a reader limited to qPBOC has no combination.
    let config = international();
    let visa = profile_json("visa-qvsdc");
    let result = tap(&mut card(&visa), &config, 100);
    assert_eq!(selected(&result).as_deref(), Some(VISA));
    assert_eq!(result.kernel, Some(KernelId::C3));
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.record());
    let mut layer = ApduLayer::new(card(&visa));
    let only_qpboc = contactless::transact_with(
        &config,
        &input(100),
        &mut layer,
        KernelChoice::Only(KernelId::Qpboc),
    );
    assert_eq!(only_qpboc.result.kernel, None);
    assert_eq!(only_qpboc.outcome(), Outcome::EndApplication);
    // The same Visa card whose entry names kernel 7 is a qPBOC combination nowhere: the
    // terminal runs its Visa AID on C-3.
    let mut named = visa.clone();
    named["applications"][0]["kernel_id"] = "07".into();
    let result = tap(&mut card(&named), &config, 100);
    assert_eq!(result.kernel, None);
    assert_eq!(result.outcome, Outcome::EndApplication);
}

/// A card whose PPSE answer gets an extra `61` entry without `4F` (at the front of `BF0C`).
struct ExtraPpseEntry<C> {
    card: C,
    entry: Vec<u8>,
}

impl<C: Transport> Transport for ExtraPpseEntry<C> {
    type Error = C::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, C::Error> {
        let response = self.card.transmit(command)?;
        if !command
            .starts_with(&hex::decode("00A404000E325041592E5359532E4444463031").expect("test data"))
        {
            return Ok(response);
        }
        let (fci, sw) = response.split_at(response.len() - 2);
        let root = tlv::parse_single(fci).expect("PPSE FCI");
        let directory = root
            .find(tags::FCI_ISSUER_DISCRETIONARY_DATA)
            .expect("FCI")
            .expect("BF0C");
        let mut entries = self.entry.clone();
        entries.extend_from_slice(directory.value());
        let discretionary = tlv::encoded(tags::FCI_ISSUER_DISCRETIONARY_DATA, &entries);
        let proprietary = tlv::encoded(tags::FCI_PROPRIETARY_TEMPLATE, &discretionary);
        let mut body = tlv::encoded(tags::DF_NAME, b"2PAY.SYS.DDF01");
        body.extend_from_slice(&proprietary);
        let mut out = tlv::encoded(tags::FCI_TEMPLATE, &body);
        out.extend_from_slice(sw);
        Ok(out)
    }
}

/// Book B: a directory entry without an AID is skipped; the others still make combinations.
#[test]
fn malformed_ppse_entry_is_skipped() {
    let table = [
        ("label only", "6106500442414421"),
        ("label and priority 1", "610950044241442187 0101"),
        ("empty", "6100"),
        ("AID too short", "61034F0141"),
    ];
    let config = default_config();
    for (what, entry) in table {
        let entry = hex::decode(entry.replace(' ', "")).expect("hex");
        let mut card = card(&profile_json("qpboc-debit-offline"));
        let result = tap(
            ExtraPpseEntry {
                card: &mut card,
                entry,
            },
            &config,
            100,
        );
        assert_eq!(
            result.outcome,
            Outcome::Approved,
            "{what}: {:?}",
            result.record()
        );
        assert_eq!(selected(&result).as_deref(), Some(DEBIT), "{what}");
    }
}

/// Book A/B: an L1 error mid-tap is Try Again — start B, "present card again" (`21`) on
/// restart — and the same transaction completes when the card is presented again.
#[test]
fn l1_error_try_again_completes_on_the_second_presentation() {
    let config = default_config();
    // (APDU before which the card leaves: 1 PPSE, 2 SELECT, 3 GPO, 4 the first READ RECORD)
    for apdu in 1..=4u64 {
        let mut card = card(&profile_json("qpboc-debit-offline"));
        let mut entry_point = EntryPoint::new(input(100), KernelChoice::Auto);
        let first = {
            let mut faulty = FaultyCard::new(&mut card);
            faulty.tear_before(apdu);
            entry_point.present(&config, &mut ApduLayer::new(&mut faulty))
        };
        assert!(first.error.is_some(), "APDU {apdu}");
        let parameters = &first.result.outcome_parameters;
        assert_eq!(parameters.outcome, Outcome::TryAgain, "APDU {apdu}");
        assert_eq!(parameters.start, Some(StartPoint::B));
        let restart = parameters.ui_request_on_restart.expect("UI on restart");
        assert_eq!(restart.message, MessageId::PresentCardAgain);
        assert_eq!(restart.message.code(), 0x21);
        assert_eq!(parameters.to_bytes()[..2], [0x70, 0x10]);
        assert_eq!(entry_point.restart(), Some(StartPoint::B));
        assert!(!entry_point.is_final());

        let second = entry_point.present(&config, &mut ApduLayer::new(&mut card));
        assert!(second.error.is_none(), "APDU {apdu}: {:?}", second.error);
        assert_eq!(second.outcome(), Outcome::Approved, "APDU {apdu}");
        // Torn after the GPO (the card paid there): completed, not paid twice.
        assert_eq!(second.result.card_phase.resumed_torn_tap(), apdu == 4);
        assert_eq!(
            second.result.ec_balance().map(|b| b.minor()),
            Some(50_000 - 100),
            "APDU {apdu}: one debit"
        );
        assert_eq!(second.result.outcome_parameters.start, None);
        assert_eq!(entry_point.presentations(), 2);
        assert!(entry_point.is_final());
    }
}

/// Book B: a kernel that rejects the application — SELECT answered `6283` (blocked) or GPO
/// answered `6985`, a PDOL that does not ask for the TTQ — sends Entry Point to the next
/// combination; none left: end application.
#[test]
fn select_next_when_the_kernel_rejects_the_application() {
    // (what is wrong with the debit application, the application the tap ends on, outcome)
    let table: [(&str, Option<&str>, Outcome); 3] = [
        ("blocked", Some(CREDIT), Outcome::OnlineRequest),
        ("pdol", Some(CREDIT), Outcome::OnlineRequest),
        ("none", Some(DEBIT), Outcome::Approved),
    ];
    let config = default_config();
    for (fault, expected, outcome) in table {
        let mut profile = profile_json("qpboc-debit-offline");
        match fault {
            "blocked" => profile["applications"][0]["blocked"] = true.into(),
            // The real UnionPay PDOL without 9F66.
            "pdol" => {
                profile["applications"][0]["pdol"] =
                    "9F02069F03069F1A0295055F2A029A039C019F3704".into()
            }
            _ => {}
        }
        let result = tap(&mut card(&profile), &config, 100);
        assert_eq!(selected(&result).as_deref(), expected, "{fault}");
        assert_eq!(result.outcome, outcome, "{fault}: {:?}", result.record());

        // The debit application alone: nothing to select next.
        profile["applications"]
            .as_array_mut()
            .expect("applications")
            .truncate(1);
        let result = tap(&mut card(&profile), &config, 100);
        if fault == "none" {
            assert_eq!(result.outcome, Outcome::Approved);
        } else {
            assert_eq!(result.outcome, Outcome::EndApplication, "{fault} alone");
            assert_eq!(result.card_phase.gpo_command(), None, "{fault}: no GPO");
            if fault == "pdol" {
                let reason = result.reason.as_deref().unwrap_or_default();
                assert!(reason.contains("9F66"), "{reason}");
            }
        }
    }
}

/// A card that answers by instruction, whatever the command's data: PPSE, SELECT, GPO (an
/// ARQC whatever the TTQ says), READ RECORD by P1/P2.
struct Scripted(Vec<(Vec<u8>, Vec<u8>)>);

impl Transport for Scripted {
    type Error = std::io::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
        self.0
            .iter()
            .find(|(prefix, _)| command.starts_with(prefix))
            .map(|(_, response)| response.clone())
            .ok_or_else(|| std::io::Error::other("no scripted answer"))
    }
}

/// The recorded UnionPay credit card of the kernel's crate docs: its GPO answers an ARQC.
fn arqc_card() -> Scripted {
    let pair = |c: &str, r: &str| {
        (
            hex::decode(c).expect("test data"),
            hex::decode(r).expect("test data"),
        )
    };
    Scripted(vec![
        pair(
            "00A404000E325041592E5359532E4444463031",
            "6F43840E325041592E5359532E4444463031A531BF0C2E612C4F08A000000333010102500B50424F43204352454449549F120F554E494F4E504159204352454449548701019000",
        ),
        pair(
            "00A4040008A000000333010102",
            "6F618408A000000333010102A555500B50424F43204352454449548701019F38189F66049F02069F03069F1A0295055F2A029A039C019F37045F2D047A68656E9F1101019F120F554E494F4E50415920435245444954BF0C0A9F4D020B0ADF4D020C0A9000",
        ),
        pair(
            "80A80000",
            "774882027C009F360203E99F2608003E250DEC93C03F9F101307010103A00000010A01000000000011388AFF57136250940012345675D29112200000000000000F5F3401019F6C0280009000",
        ),
    ])
}

/// The real Visa card of `vectors/trace-visa-debit-qvsdc.json`: ARQC with fDDA.
fn visa_trace_card() -> (Scripted, Value) {
    let path = quickpass_sim::data::data_dir().join("trace-visa-debit-qvsdc.json");
    let trace: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("trace")).expect("json");
    let case = trace["cases"][0].clone();
    let exchanges = case["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .map(|e| {
            let command =
                hex::decode(e["command"].as_str().expect("test data")).expect("test data");
            // SELECT and READ RECORD by their header and data, GPO by its header.
            let key = if command.starts_with(&[0x80, 0xA8]) {
                command[..4].to_vec()
            } else {
                command[..command.len() - 1].to_vec()
            };
            (
                key,
                hex::decode(e["response"].as_str().expect("test data")).expect("test data"),
            )
        })
        .collect();
    (Scripted(exchanges), case)
}

/// Book A: an online cryptogram on a reader that cannot go online is declined (for qPBOC and
/// for C-3); the same card on an online reader is an online request.
#[test]
fn arqc_on_an_offline_only_reader_is_declined() {
    for online in [true, false] {
        let config = default_config();
        let config = KernelConfig {
            terminal: config
                .terminal
                .edited(|p| p.terminal.online_capable = online)
                .expect("valid"),
            ..config
        };
        let result = tap(arqc_card(), &config, 150);
        assert_eq!(result.kernel, Some(KernelId::Qpboc));
        let expected = if online {
            Outcome::OnlineRequest
        } else {
            Outcome::Declined
        };
        assert_eq!(
            result.outcome,
            expected,
            "online {online}: {:?}",
            result.record()
        );
        assert_ne!(result.outcome, Outcome::Approved);

        // C-3: the real Visa card, the recorded terminal's country and currency.
        let (visa, _case) = visa_trace_card();
        let mut c3 = international();
        c3.terminal = c3
            .terminal
            .edited(|p| {
                p.terminal.online_capable = online;
                p.terminal.ttq = None;
            })
            .expect("valid");
        // No CA key and another unpredictable number than the recording's: the fDDA fails,
        // which does not matter for an online request without "ODA for online authorisations".
        let result = tap(visa, &c3, 1000);
        assert_eq!(result.kernel, Some(KernelId::C3));
        assert_eq!(
            result.outcome,
            expected,
            "C-3 online {online}: {:?}",
            result.record()
        );
    }
}

/// Book A pre-processing per combination: a combination that does not allow a zero amount
/// drops out and the next one runs; one that allows it asks for an online cryptogram; none left:
/// another interface, before the card is touched.
#[test]
fn zero_amount_per_combination() {
    // (debit zero_amount_allowed, credit zero_amount_allowed, application, outcome)
    let table = [
        (None, None, Some(DEBIT), Outcome::OnlineRequest),
        (Some(false), None, Some(CREDIT), Outcome::OnlineRequest),
        (
            Some(false),
            Some(true),
            Some(CREDIT),
            Outcome::OnlineRequest,
        ),
        (None, Some(false), Some(DEBIT), Outcome::OnlineRequest),
        // No combination on this card is allowed (other AIDs of the terminal are): the PPSE
        // is read, and no candidate is left.
        (Some(false), Some(false), None, Outcome::EndApplication),
    ];
    for (debit, credit, expected, outcome) in table {
        let config = default_config();
        let config = KernelConfig {
            terminal: config
                .terminal
                .edited(|p| {
                    p.aids[0].zero_amount_allowed = debit;
                    p.aids[1].zero_amount_allowed = credit;
                })
                .expect("valid"),
            ..config
        };
        let result = tap(&mut card(&profile_json("qpboc-debit-offline")), &config, 0);
        assert_eq!(
            selected(&result).as_deref(),
            expected,
            "{debit:?}/{credit:?}: {:?}",
            result.record()
        );
        assert_eq!(result.outcome, outcome, "{debit:?}/{credit:?}");
        if expected.is_some() {
            // Zero amount: the TTQ sent asks the card for an online cryptogram.
            let ttq = result.card_phase.values().get(tags::TTQ).expect("TTQ sent");
            assert_eq!(ttq[1] & 0x80, 0x80, "{debit:?}/{credit:?}");
        } else {
            assert_eq!(result.record().apdus, 1, "the PPSE only");
        }
    }
    // No combination of the terminal allows a zero amount: another interface, before the card
    // is touched.
    let config = default_config();
    let config = KernelConfig {
        terminal: config
            .terminal
            .edited(|p| {
                for aid in &mut p.aids {
                    aid.zero_amount_allowed = Some(false);
                }
            })
            .expect("valid"),
        ..config
    };
    let result = tap(&mut card(&profile_json("qpboc-debit-offline")), &config, 0);
    assert_eq!(result.outcome, Outcome::TryAnotherInterface);
    assert_eq!(result.record().apdus, 0, "nothing sent to the card");
}

/// Kernel routing to C-2 (issue 13): the Mastercard card's combination runs C-2 when the reader
/// brings its C-2 state (`transact_routed`), and is skipped — no SELECT spent on it — when it
/// does not (`transact`). A GENERATE AC torn on the first tap is recovered through Entry Point
/// on the next tap with the same torn log: RECOVER AC, no second GENERATE AC, one debit.
#[test]
fn c2_runs_through_entry_point_and_a_torn_tap_is_recovered_on_the_next() {
    let config = international();
    let mastercard = profile_json("mastercard-mchip");
    let mastercard_aid = mastercard["applications"][0]["aid"]
        .as_str()
        .expect("aid")
        .to_owned();

    // Plain transact: no C-2 state, so no combination; the card's AID is never selected.
    let mut plain = card(&mastercard);
    let mut layer = ApduLayer::new(&mut plain);
    layer.record();
    let result = contactless::transact(&config, &input(100), &mut layer).result;
    let selects: Vec<String> = layer
        .take_log()
        .into_iter()
        .map(|e| hex::encode_upper(e.command))
        .filter(|c| c.starts_with("00A40400"))
        .collect();
    assert_eq!(result.kernel, None, "{:?}", result.record());
    assert_eq!(selects.len(), 1, "PPSE only: {selects:?}");

    let reader = C2Config {
        floor_limit: 10_000,
        ..C2Config::default()
    };
    let mut torn = TornLog::new();
    let mut relay = SimulatedRelay::default();
    let mut card = card(&mastercard);
    let mchip = |card: &mut VirtualCard| {
        let app = card
            .application_mut::<MchipApplication>()
            .expect("M/Chip application");
        (app.atc(), app.offline_balance())
    };
    let (atc, balance) = mchip(&mut card);
    // Tap 1: the card executes GENERATE AC and leaves before its answer arrives.
    let first = {
        let mut faulty = FaultyCard::new(&mut card);
        faulty.plan(Trigger::matching(&[0x80, 0xAE], 1), Fault::TearAfter);
        let mut kernels = contactless::ReaderKernels {
            c2: &reader,
            torn: &mut torn,
            relay: &mut relay,
        };
        let mut layer = ApduLayer::new(&mut faulty);
        let result = contactless::transact_routed(
            &config,
            &input(500),
            &mut layer,
            KernelChoice::Auto,
            Some(&mut kernels),
        )
        .result;
        drop(layer);
        faulty.reinsert();
        result
    };
    assert_eq!(first.kernel, Some(KernelId::C2));
    assert_eq!(first.outcome, Outcome::TryAgain, "{:?}", first.reason);
    assert_eq!(first.outcome_parameters.start, Some(StartPoint::B));
    assert_eq!(torn.len(), 1);
    assert_eq!(
        mchip(&mut card),
        (atc + 1, balance - 500),
        "the torn GENERATE AC ran"
    );

    // Tap 2, the same reader state: recovered, approved, debited once.
    let mut kernels = contactless::ReaderKernels {
        c2: &reader,
        torn: &mut torn,
        relay: &mut relay,
    };
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let second = contactless::transact_routed(
        &config,
        &input(500),
        &mut layer,
        KernelChoice::Auto,
        Some(&mut kernels),
    )
    .result;
    let commands: Vec<Vec<u8>> = layer.take_log().into_iter().map(|e| e.command).collect();
    drop(layer);
    assert_eq!(second.kernel, Some(KernelId::C2));
    assert_eq!(second.outcome, Outcome::Approved, "{:?}", second.reason);
    assert_eq!(selected(&second).as_deref(), Some(mastercard_aid.as_str()));
    let count = |header: [u8; 2]| commands.iter().filter(|c| c[..2] == header).count();
    assert_eq!((count([0x80, 0xD0]), count([0x80, 0xAE])), (1, 0));
    assert_eq!(mchip(&mut card), (atc + 1, balance - 500), "debited once");
    assert!(torn.is_empty());
    // The result carries what clearing needs, as every kernel's does.
    let record = second.clearing_record(&config).expect("a clearing record");
    assert_eq!(record.cryptogram_type, "TC");
    assert_eq!(record.atc, atc + 1);
}
