//! No PAN, track 2 or key in clear: every public type a tap produces, formatted with `Debug`,
//! `Display` and serde, and the exchange log, are searched for the card's secrets.

use quickpass::kernel::contactless;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{
    Amount, Pan, PurseAmount, Track2, TransactionDate, TransactionTime,
};
use quickpass::kernel::TransactionInput;
use quickpass_sim::CardProfile;

const PAN: &str = "6228480012345671";
const ISSUER_MASTER_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";

/// Every way a secret could show up in text.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned(), secret.to_lowercase()];
    if let Ok(bytes) = hex::decode(secret) {
        // Byte lists as Debug prints them, without the brackets so a longer list matches too.
        for list in [
            format!("{bytes:?}"),
            format!("{bytes:02x?}"),
            format!("{bytes:02X?}"),
        ] {
            forms.push(list.trim_matches(|c| c == '[' || c == ']').to_owned());
        }
    }
    forms
}

fn assert_clean(what: &str, text: &str) {
    for secret in [PAN, ISSUER_MASTER_KEY] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows a secret in clear ({form}):\n{text}"
            );
        }
    }
}

#[test]
fn a_whole_tap_never_prints_the_pan_track2_or_keys() {
    let config = quickpass_sim::data::default_kernel_config().expect("config");
    let profile =
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"))
            .expect("profile");
    assert_clean("card profile Debug", &format!("{profile:?}"));
    let mut card = profile.build().expect("card");
    assert_clean("virtual card Debug", &format!("{card:?}"));
    let input = TransactionInput {
        amount: Amount::from_minor(60_000).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(9, 0, 0).expect("time"),
        unpredictable_number: [9, 8, 7, 6],
    };
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let phase = contactless::read_card(&config, &input, &mut layer).expect("card phase");
    assert_clean("card phase Debug", &format!("{phase:?}"));
    assert_clean("card data Debug", &format!("{:?}", phase.card()));
    let log = layer.take_log();
    assert!(!log.is_empty());
    assert_clean("exchange log Debug", &format!("{log:?}"));
    let result = phase.complete(&config);
    assert_clean("result Debug", &format!("{result:?}"));
    let record = result.record();
    assert_clean("record Debug", &format!("{record:?}"));
    assert_clean(
        "record JSON",
        &serde_json::to_string(&record).expect("json"),
    );
    assert!(record.pan.as_deref().is_some_and(|p| p.contains('*')));
    assert_clean("config Debug", &format!("{config:?}"));
}

#[test]
fn pan_and_track2_types_mask_every_format() {
    let pan = Pan::from_digits(PAN).expect("pan");
    for text in [
        format!("{pan:?}"),
        format!("{pan}"),
        format!("{pan:#?}"),
        serde_json::to_string(&pan).expect("json"),
    ] {
        assert_clean("Pan", &text);
    }
    let track2 = Track2::parse(&hex::decode(format!("{PAN}D3012201123456789F")).expect("hex"))
        .expect("track 2");
    for text in [
        format!("{track2:?}"),
        format!("{track2}"),
        serde_json::to_string(&track2).expect("json"),
    ] {
        assert_clean("Track2", &text);
        assert!(!text.contains("123456789"), "discretionary data in {text}");
    }
}

#[test]
fn keys_never_print() {
    let key =
        quickpass::crypto::secret::SecretKey::new(&hex::decode(ISSUER_MASTER_KEY).expect("hex"));
    assert_clean("SecretKey", &format!("{key:?} {key:#?}"));
}

// --- contact, online, purse, journal, errors (issue 6 part 3) ------------------------------

use std::sync::{Arc, Mutex};

use quickpass::crypto::secret::SecretKey;
use quickpass::journal::FileJournal;
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contact::{
    self, ContactInput, HostResponse, OnlinePinResult, Pin, PinEntry, PinPad, PinPrompt,
};
use quickpass::kernel::dump::dump;
use quickpass::kernel::purse::fare::{SegmentFareTable, Station};
use quickpass::kernel::purse::{
    capp_purchase, load, purchase, CappRequest, CardIdentity, DiversifyError, HostKeys,
    LoadRequest, PurchaseRequest, PurseApplication, PurseConfig, SoftwareHost, SoftwareSam,
    SoftwareSamKey,
};
use quickpass::kernel::transport::Transport;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::host::emv::EmvHost;
use quickpass_sim::host::purse::PurseHost;
use quickpass_sim::purse::keys::card_key;
use quickpass_sim::{ApplicationProfile, VirtualCard};
use serde_json::Value;

/// Everything secret in a profile file: its PAN, and every 16-byte key (every string of 32 hex
/// digits: issuer master keys, purse masters, PSAM keys).
fn profile_secrets(name: &str) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push(s.to_uppercase())
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("pan", Value::String(pan)) => out.push(pan.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            _ => {}
        }
    }
    let text =
        std::fs::read_to_string(quickpass_sim::data::data_dir().join(format!("cards/{name}.json")))
            .expect("profile");
    let mut out = Vec::new();
    walk(&serde_json::from_str(&text).expect("json"), &mut out);
    assert!(!out.is_empty(), "{name} has secrets");
    out
}

fn assert_clean_of(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} shows a secret in clear ({form}):\n{text}"
            );
        }
    }
}

/// Collects what an integrator's APDU hook would print: the command header and every
/// response through the masking dump; and the raw commands, hex (they must hold no PIN block).
#[derive(Clone, Default)]
struct HookOutput {
    dumps: Arc<Mutex<String>>,
    commands: Arc<Mutex<String>>,
}

impl HookOutput {
    fn install<T: Transport>(&self, layer: &mut ApduLayer<T>) {
        let (dumps, commands) = (self.dumps.clone(), self.commands.clone());
        layer.set_hook(move |command, response| {
            let data = &response[..response.len().saturating_sub(2)];
            let mut text = dumps.lock().expect("lock");
            text.push_str(&hex::encode_upper(command.get(..4).unwrap_or(command)));
            text.push('\n');
            text.push_str(&dump(data));
            commands
                .lock()
                .expect("lock")
                .push_str(&format!("{}\n", hex::encode_upper(command)));
        });
    }

    fn dumps(&self) -> String {
        self.dumps.lock().expect("lock").clone()
    }

    fn commands(&self) -> String {
        self.commands.lock().expect("lock").clone()
    }
}

/// Enters the PIN for every offline PIN prompt.
struct Keypad(&'static str);

impl PinPad for Keypad {
    fn offline_pin(&mut self, _prompt: &PinPrompt) -> PinEntry {
        PinEntry::Pin(Pin::new(self.0).expect("pin"))
    }

    fn online_pin(&mut self, _prompt: &PinPrompt) -> OnlinePinResult {
        OnlinePinResult::Entered
    }
}

fn default_config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("config")
}

#[test]
fn a_contact_tap_with_offline_pin_and_online_completion_never_prints_secrets() {
    const PIN: &str = "1234";
    // Plaintext PIN block (EMV Book 3 §6.5.12): 2 | length | digits | F padding.
    const PIN_BLOCK: &str = "241234FFFFFFFFFF";
    let mut secrets = profile_secrets("qpboc-debit-offline");
    secrets.push(PIN_BLOCK.to_owned());
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(
            quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"),
        )
        .expect("profile"),
    )
    .expect("json");
    json["applications"][0]["cvm_list"] = Value::from("00000000000000000100");
    json["applications"][0]["pin"] = Value::from(PIN);
    let profile = CardProfile::from_json(&json.to_string()).expect("profile");
    let ApplicationProfile::Pboc(pboc) = &profile.applications[0] else {
        panic!("pboc")
    };
    let mut card = profile.build().expect("card");
    let track2 = hex::encode_upper(pboc_track2(&mut card));
    secrets.push(track2.clone());
    secrets.push(track2.replace('D', "="));
    let mut host = EmvHost::new();
    host.add_profile(pboc).expect("host");
    assert_clean_of("EMV host Debug", &format!("{host:?}"), &secrets);

    let mut config = default_config();
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.capabilities = [0xE0, 0xA8, 0xC8])
        .expect("valid configuration");
    let input = ContactInput::new(TransactionInput {
        amount: Amount::from_minor(60_000).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(9, 0, 0).expect("time"),
        unpredictable_number: [9, 8, 7, 6],
    });
    let hook = HookOutput::default();
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    hook.install(&mut layer);
    let phase = contact::start(&config, &input, &mut layer, &mut Keypad(PIN)).expect("phase");
    assert_clean_of("first phase Debug", &format!("{phase:?}"), &secrets);
    let request = phase.online_request().expect("online");
    assert!(request.cvm().is_some_and(|c| c.results.0[0] & 0x3F == 0x01));
    assert_clean_of("field 55", &hex::encode_upper(request.field_55()), &secrets);
    let authorisation = host.authorise(PAN, 0x01, request.field_55()).expect("host");
    assert!(authorisation.approved);
    assert_clean_of("host answer Debug", &format!("{authorisation:?}"), &secrets);
    let response = HostResponse {
        arc: authorisation.arc,
        issuer_authentication_data: Some(authorisation.issuer_authentication_data().to_vec()),
        scripts: Vec::new(),
    };
    assert_clean_of("host response Debug", &format!("{response:?}"), &secrets);
    let result = phase
        .complete_online(response, &mut layer)
        .expect("completion");
    assert_eq!(result.outcome, quickpass::kernel::Outcome::Approved);
    assert_clean_of("contact result Debug", &format!("{result:?}"), &secrets);
    let record = result.record();
    assert_clean_of(
        "contact record JSON",
        &serde_json::to_string(&record).expect("json"),
        &secrets,
    );
    assert_clean_of(
        "final field 55",
        &hex::encode_upper(result.field_55.as_deref().unwrap_or_default()),
        &secrets,
    );
    let log = layer.take_log();
    drop(layer);
    assert_clean_of("contact exchange log Debug", &format!("{log:?}"), &secrets);
    // The VERIFY command went through the layer, and neither the log nor the hook saw its
    // PIN block.
    assert!(log.iter().any(|e| e.command.starts_with(&[0x00, 0x20])));
    for exchange in &log {
        assert_clean_of(
            "recorded command",
            &hex::encode_upper(&exchange.command),
            &[PIN_BLOCK.to_owned()],
        );
    }
    assert!(hook.commands().contains("00200080"));
    assert_clean_of("hook commands", &hook.commands(), &[PIN_BLOCK.to_owned()]);
    assert_clean_of("hook dumps", &hook.dumps(), &secrets);
    let pin = Pin::new(PIN).expect("pin");
    for text in [format!("{pin:?}"), format!("{:?}", PinEntry::Pin(pin))] {
        assert!(!text.contains(PIN), "PIN in {text}");
    }
    assert_clean_of("sim card Debug", &format!("{card:?}"), &secrets);
    assert_clean_of("kernel config Debug", &format!("{config:?}"), &secrets);
    // CA public keys are public: the store may print them, and holds no card secret.
    assert_clean_of("CAPK store Debug", &format!("{:?}", config.capks), &secrets);
}

/// The card's track 2 equivalent data `57`.
fn pboc_track2(card: &mut VirtualCard) -> Vec<u8> {
    card.application_mut::<quickpass_sim::pboc::PbocApplication>()
        .and_then(|a| a.data_object(quickpass::kernel::tags::TRACK2_EQUIVALENT_DATA))
        .expect("57")
        .to_vec()
}

/// The simulator's (⚠) key diversification.
fn sim_diversifier(master: &SecretKey, card: &CardIdentity) -> Result<SecretKey, DiversifyError> {
    Ok(card_key(
        master,
        &card.serial,
        card.second_diversifier.as_ref(),
    )?)
}

fn key(hex_text: &str) -> SecretKey {
    SecretKey::new(&hex::decode(hex_text).expect("hex"))
}

#[test]
fn purse_purchase_capp_and_load_never_print_keys_or_the_card_number() {
    const SERIAL: &str = "31040000000012345678";
    let mut secrets = profile_secrets("transit-purse-capp");
    secrets.extend(profile_secrets("psam"));
    secrets.push(SERIAL.to_owned());
    secrets.push(SERIAL[4..].to_owned());
    let date = TransactionDate::new(2024, 5, 17).expect("date");
    let time = TransactionTime::new(8, 30, 15).expect("time");
    let profile =
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/transit-purse-capp.json"))
            .expect("profile");
    assert_clean_of("purse profile Debug", &format!("{profile:?}"), &secrets);
    let psam =
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/psam.json")).expect("psam");
    assert_clean_of("PSAM profile Debug", &format!("{psam:?}"), &secrets);
    let psam_card = psam.build().expect("psam card");
    assert_clean_of("PSAM card Debug", &format!("{psam_card:?}"), &secrets);
    let ApplicationProfile::Purse(purse_profile) = &profile.applications[0] else {
        panic!("purse")
    };
    let purse_host = PurseHost::from_purse_profile(purse_profile, "applications[0]").expect("host");
    assert_clean_of("purse host Debug", &format!("{purse_host:?}"), &secrets);

    let mut sam = SoftwareSam::new(
        [0x31, 0x01, 0, 0, 0, 7],
        1,
        50,
        vec![SoftwareSamKey {
            version: 1,
            algorithm_id: 0,
            purchase: key("5431A8E2C47D0B9F16E3725A8CD04B61"),
            tac: Some(key("C3B5086FE1927A4D5B8C0E3F6172A9D4")),
        }],
        sim_diversifier,
    );
    let mut host = SoftwareHost::new(
        vec![HostKeys {
            index: 1,
            load: key("9E2D47B1035CA8F6D17B30E59A4C862F"),
            tac: Some(key("C3B5086FE1927A4D5B8C0E3F6172A9D4")),
        }],
        sim_diversifier,
    );
    let dir = std::env::temp_dir().join(format!("quickpass-no-leaks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let journal_path = dir.join("journal.json");
    let _ = std::fs::remove_file(&journal_path);
    let mut journal = FileJournal::open(&journal_path).expect("journal");
    let config = PurseConfig::new(PurseApplication::t_union());
    let hook = HookOutput::default();
    let mut layer = ApduLayer::new(FaultyCard::new(profile.build().expect("card")));
    layer.record();
    hook.install(&mut layer);

    let mut texts = Vec::new();
    let paid = purchase(
        &mut layer,
        &mut sam,
        &mut journal,
        &config,
        &PurchaseRequest {
            amount: PurseAmount::from_fen(200),
            date,
            time,
        },
    )
    .expect("purchase");
    let fares = SegmentFareTable::EXAMPLE;
    let entry = capp_purchase(
        &mut layer,
        &mut sam,
        &mut journal,
        &config,
        &fares,
        &CappRequest {
            station: Station { line: 1, number: 2 },
            date,
            time,
        },
    )
    .expect("CAPP entry");
    let loaded = load(
        &mut layer,
        &mut host,
        &mut journal,
        &config,
        &LoadRequest {
            amount: PurseAmount::from_fen(1_000),
            terminal_id: [0x44, 0x01, 0, 0, 0, 9],
            key_index: 1,
            date,
            time,
        },
    )
    .expect("load");
    for result in [&paid, &entry, &loaded] {
        let record = result.record.as_ref().expect("record");
        assert!(record.card_number.contains('*'), "{}", record.card_number);
        texts.push((
            "tap result",
            format!("{result:?}{}", serde_json::to_string(result).expect("json")),
        ));
        texts.push((
            "settlement record",
            format!("{record:?}{}", record.printable()),
        ));
        // The full form (journal, store, clearing upload) carries the card serial for
        // clearing (issue 12 item 4: the TAC key is diversified from it), never a key.
        assert_clean_of(
            "settlement record for clearing",
            &serde_json::to_string(record).expect("json"),
            &secrets[..secrets.len() - 2],
        );
    }
    texts.push(("exchange log", format!("{:?}", layer.take_log())));
    texts.push(("hook dumps", hook.dumps()));
    texts.push(("software SAM", format!("{sam:?}")));
    texts.push(("software host", format!("{host:?}")));
    texts.push(("file journal", format!("{journal:?}")));
    // The journal file holds the settlement records' card serial (clearing data), never a key.
    assert_clean_of(
        "journal file",
        &std::fs::read_to_string(&journal_path).expect("journal file"),
        &secrets[..secrets.len() - 2],
    );
    texts.push(("purse card", format!("{:?}", layer.transport())));

    // A DEBIT torn after the card processed it leaves a pending entry: the file then holds
    // the full card identity (the next tap must recognise the card to recover — documented
    // in quickpass::journal), never a key.
    layer
        .transport_mut()
        .plan(Trigger::matching(&[0x80, 0x54], 1), Fault::TearAfter);
    let torn = purchase(
        &mut layer,
        &mut sam,
        &mut journal,
        &config,
        &PurchaseRequest {
            amount: PurseAmount::from_fen(100),
            date,
            time,
        },
    );
    match &torn {
        Ok(result) => texts.push(("torn tap result", format!("{result:?}"))),
        Err(e) => texts.push(("torn tap error", format!("{e} {e:?}"))),
    }
    for (what, text) in &texts {
        assert_clean_of(what, text, &secrets);
    }
    let torn_file = std::fs::read_to_string(&journal_path).expect("journal file");
    assert_clean_of(
        "journal file with a pending entry",
        &torn_file,
        &secrets[..secrets.len() - 2],
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn errors_never_print_secrets() {
    let mut secrets = profile_secrets("qpboc-debit-offline");
    secrets.extend(profile_secrets("transit-purse-capp"));
    let mut texts: Vec<String> = Vec::new();
    // A torn contactless tap: the kernel error.
    let mut card = FaultyCard::new(
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"))
            .expect("profile")
            .build()
            .expect("card"),
    );
    card.plan(Trigger::matching(&[0x00, 0xB2], 2), Fault::TearAfter);
    let config = default_config();
    let input = TransactionInput {
        amount: Amount::from_minor(100).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(9, 0, 0).expect("time"),
        unpredictable_number: [9, 8, 7, 6],
    };
    let mut layer = ApduLayer::new(&mut card);
    let err = contactless::read_card(&config, &input, &mut layer).expect_err("torn");
    texts.push(format!("{err} {err:?}"));
    // The simulated issuer refusing a malformed field 55.
    let mut host = EmvHost::new();
    let profile =
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"))
            .expect("profile");
    let ApplicationProfile::Pboc(pboc) = &profile.applications[0] else {
        panic!("pboc")
    };
    host.add_profile(pboc).expect("keys");
    let err = host
        .authorise(PAN, 1, &[0x9F, 0x26])
        .expect_err("malformed");
    texts.push(format!("{err} {err:?}"));
    // A corrupt journal file.
    let path = std::env::temp_dir().join(format!("quickpass-no-leaks-bad-{}", std::process::id()));
    std::fs::write(&path, b"{not json").expect("write");
    let err = FileJournal::open(&path).expect_err("corrupt");
    texts.push(format!("{err} {err:?}"));
    std::fs::remove_file(&path).expect("cleanup");
    // A profile refused for a bad key names the field, not the value.
    let mut json: Value = serde_json::from_str(
        &std::fs::read_to_string(
            quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"),
        )
        .expect("profile"),
    )
    .expect("json");
    json["applications"][0]["issuer_master_key"] = Value::from("0123456789ABCDEFFEDCBA98765432");
    let err = CardProfile::from_json(&json.to_string())
        .expect("json")
        .build()
        .expect_err("short key");
    texts.push(format!("{err} {err:?}"));
    for text in &texts {
        assert_clean_of("error", text, &secrets);
    }
}
