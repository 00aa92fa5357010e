//! Issue 12 acceptance: "the simulated clearing host verifies 100 % of the TACs and cryptograms
//! of a 1,000-tap mixed run from the exported batch alone". A terminal runs 1,000 taps on the
//! simulated cards — contactless TC approvals, declines after a TC (the card already paid),
//! online requests, transit acceptances, contact CDA approvals, purse purchases and a few loads —
//! writing every record to its store; the batch is exported as JSON lines and the clearing
//! host, which sees nothing but those lines and the issuers' keys, verifies every one. A flipped
//! byte in a TAC or a cryptogram is rejected. Reproduction (2) of the issue: a decline after a
//! TC (`transact --date 351231` on the default card) has a clearing record.

mod support;

use std::path::PathBuf;

use quickpass::kernel::clearing::{ClearingRecord, Interface};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contact::{self, ContactInput, FirstPhase, NoPinPad};
use quickpass::kernel::contactless::{self, TransactionResult};
use quickpass::kernel::purse::{
    load, purchase, LoadRequest, Psam, PurchaseRequest, PurseApplication, PurseConfig,
    PurseOutcome, SelectBy, SettlementRecord,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, PurseAmount, TransactionDate, TransactionTime};
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass::store::{Created, RecordKind, Store};
use quickpass_sim::host::clearing::{Cleared, ClearingError, ClearingHost};
use quickpass_sim::host::emv::EmvHost;
use quickpass_sim::host::purse::PurseHost;
use quickpass_sim::{ApplicationProfile, CardProfile, VirtualCard};

fn profile(name: &str) -> CardProfile {
    CardProfile::load(quickpass_sim::data::card_profile(name)).expect("profile")
}

fn default_config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("default configuration")
}

fn transit_config() -> KernelConfig {
    quickpass_sim::data::kernel_config(
        &quickpass_sim::data::data_dir().join("terminals/transit.json"),
    )
    .expect("transit configuration")
}

fn contact_config() -> KernelConfig {
    let mut config = default_config();
    // Plaintext offline PIN, signature, no CVM; SDA, DDA, CDA (as the rig's contact flow).
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.capabilities = [0xE0, 0xA8, 0xC8])
        .expect("contact capabilities");
    config
}

fn input(amount: u64, date: TransactionDate, n: u32) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date,
        time: time(n),
        unpredictable_number: (n.wrapping_mul(0x9E37_79B9) ^ 0x5A5A_0001).to_be_bytes(),
    }
}

fn today() -> TransactionDate {
    TransactionDate::new(2026, 12, 7).expect("date")
}

fn time(n: u32) -> TransactionTime {
    let s = n % 86_400;
    TransactionTime::new((s / 3600) as u8, ((s / 60) % 60) as u8, (s % 60) as u8).expect("time")
}

/// The issuers: every PBOC card's keys, and each purse issuer by its EF15 issuer code.
fn clearing_host() -> ClearingHost {
    let mut emv = EmvHost::new();
    for name in [
        "qpboc-debit-offline",
        "qpboc-credit-online",
        "transit-online-oda",
    ] {
        let ApplicationProfile::Pboc(application) = &profile(name).applications[0] else {
            panic!("{name}: no PBOC application first")
        };
        emv.add_profile(application).expect("issuer keys");
    }
    let mut host = ClearingHost::new(emv);
    for (name, issuer_code) in [
        ("transit-purse-capp", "01011000FFFFFFFF"),
        ("etc-user-card", "B9E3B6ABB9E3B6AB"),
    ] {
        let ApplicationProfile::Purse(purse) = &profile(name).applications[0] else {
            panic!("{name}: no purse first")
        };
        let code = hex::decode(issuer_code)
            .expect("hex")
            .try_into()
            .expect("8 bytes");
        host.add_purse_issuer(
            code,
            PurseHost::from_purse_profile(purse, "applications[0]").expect("purse keys"),
        );
    }
    host
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("quickpass-clearing-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A card re-personalised every `lifetime` taps (balances and counters never run out).
struct Cards {
    profile: CardProfile,
    lifetime: u32,
    taps: u32,
    card: VirtualCard,
}

impl Cards {
    fn new(name: &str, lifetime: u32) -> Cards {
        let profile = profile(name);
        let card = profile.build().expect("personalisation");
        Cards {
            profile,
            lifetime,
            taps: 0,
            card,
        }
    }

    fn next(&mut self) -> &mut VirtualCard {
        if self.taps == self.lifetime {
            self.card = self.profile.build().expect("personalisation");
            self.taps = 0;
        }
        self.taps += 1;
        &mut self.card
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Approved,
    DeclinedAfterTc,
    Online,
    Transit,
    Contact,
    Purchase,
    Load,
}

/// The mix, per 50 taps: 17 approvals, 5 declines after a TC, 5 online requests, 5 transit
/// acceptances, 2 contact approvals, 15 purse purchases, 1 load.
fn kind(n: u32) -> Kind {
    match n % 50 {
        0..=16 => Kind::Approved,
        17..=21 => Kind::DeclinedAfterTc,
        22..=26 => Kind::Online,
        27..=31 => Kind::Transit,
        32..=33 => Kind::Contact,
        34..=48 => Kind::Purchase,
        _ => Kind::Load,
    }
}

fn contactless_tap(
    card: &mut VirtualCard,
    config: &KernelConfig,
    input: &TransactionInput,
) -> TransactionResult {
    contactless::transact(config, input, &mut ApduLayer::new(card)).result
}

fn add(
    store: &mut Store,
    kind: RecordKind,
    input: &TransactionInput,
    record: &impl serde::Serialize,
) {
    store
        .add_record(kind, &Created::new(input.date, input.time), None, record)
        .expect("record written");
}

#[test]
fn the_clearing_host_verifies_every_record_of_a_thousand_tap_mixed_run_from_the_batch_alone() {
    let dir = temp_dir("run");
    let mut store = Store::open(dir.join("terminal.db")).expect("store");
    let (default, transit, contact) = (default_config(), transit_config(), contact_config());
    let mut debit = Cards::new("qpboc-debit-offline", 20);
    let mut credit = Cards::new("qpboc-credit-online", 20);
    let mut oda = Cards::new("transit-online-oda", 20);
    let mut contact_card = Cards::new("qpboc-debit-offline", 20);
    let mut t_union = Cards::new("transit-purse-capp", 20);
    let mut etc = Cards::new("etc-user-card", 10);
    let psam = profile("psam");
    let mut sam = Psam::open(psam.build().expect("PSAM"), &SelectBy::FileId(0x8011)).expect("PSAM");
    let mut load_host = {
        let ApplicationProfile::Purse(purse) = &profile("etc-user-card").applications[0] else {
            panic!("etc-user-card: no purse first")
        };
        PurseHost::from_purse_profile(purse, "applications[0]").expect("load host")
    };
    let expired = TransactionDate::new(2035, 12, 31).expect("date");
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut written = 0usize;
    for n in 0..1000u32 {
        let kind = kind(n);
        match kind {
            Kind::Approved | Kind::DeclinedAfterTc | Kind::Online | Kind::Transit => {
                let (cards, config, input, expected) = match kind {
                    Kind::Approved => (
                        &mut debit,
                        &default,
                        input(100, today(), n),
                        Outcome::Approved,
                    ),
                    Kind::DeclinedAfterTc => (
                        &mut debit,
                        &default,
                        input(100, expired, n),
                        Outcome::Declined,
                    ),
                    Kind::Online => (
                        &mut credit,
                        &default,
                        input(60_000, today(), n),
                        Outcome::OnlineRequest,
                    ),
                    _ => (
                        &mut oda,
                        &transit,
                        input(0, today(), n),
                        Outcome::AcceptedForTravel,
                    ),
                };
                let result = contactless_tap(cards.next(), config, &input);
                assert_eq!(result.outcome, expected, "tap {n}: {:?}", result.record());
                let record = result.clearing_record(config).expect("a clearing record");
                assert_eq!(record.outcome, expected.as_str());
                add(&mut store, RecordKind::Contactless, &input, &record);
                written += 1;
                if let Some(deferred) = result.deferred_authorisation(config) {
                    add(&mut store, RecordKind::TransitDeferred, &input, &deferred);
                    written += 1;
                }
                *counts.entry(expected.as_str()).or_default() += 1;
            }
            Kind::Contact => {
                let input = input(100, today(), n);
                let started = contact::start(
                    &contact,
                    &ContactInput::new(input),
                    &mut ApduLayer::new(contact_card.next()),
                    &mut NoPinPad,
                );
                let Ok(FirstPhase::Complete(result)) = started else {
                    panic!("tap {n}: a contact approval expected")
                };
                assert_eq!(result.outcome, Outcome::Approved, "tap {n}");
                let record = result.clearing_record(&contact).expect("a clearing record");
                assert_eq!(record.interface, Interface::Contact);
                add(&mut store, RecordKind::Contact, &input, &record);
                written += 1;
                *counts.entry("contact").or_default() += 1;
            }
            Kind::Purchase => {
                let request = PurchaseRequest {
                    amount: PurseAmount::from_fen(200),
                    date: today(),
                    time: time(n),
                };
                let result = purchase(
                    &mut ApduLayer::new(t_union.next()),
                    &mut sam,
                    &mut store,
                    &PurseConfig::new(PurseApplication::t_union()),
                    &request,
                )
                .expect("purchase");
                assert_eq!(result.outcome, PurseOutcome::Paid, "tap {n}");
                written += 1;
                *counts.entry("purchase").or_default() += 1;
            }
            Kind::Load => {
                let request = LoadRequest {
                    amount: PurseAmount::from_fen(1000),
                    terminal_id: [0x44, 0x01, 0x00, 0x00, 0x00, 0x09],
                    key_index: 1,
                    date: today(),
                    time: time(n),
                };
                let result = load(
                    &mut ApduLayer::new(etc.next()),
                    &mut load_host,
                    &mut store,
                    &PurseConfig::new(PurseApplication::etc()),
                    &request,
                )
                .expect("load");
                assert_eq!(result.outcome, PurseOutcome::Loaded, "tap {n}");
                written += 1;
                *counts.entry("load").or_default() += 1;
            }
        }
    }
    assert_eq!(counts.values().sum::<usize>(), 1000, "{counts:?}");
    let expected = [
        ("accepted_for_travel", 100),
        ("approved", 340),
        ("contact", 40),
        ("declined", 100),
        ("load", 20),
        ("online_request", 100),
        ("purchase", 300),
    ];
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), expected);
    let counts: std::collections::BTreeMap<&str, usize> = expected.into_iter().collect();
    assert_eq!(
        written, 1100,
        "1,000 taps, and each transit tap's deferred authorisation"
    );

    let batch = store
        .export_batch(None, 10_000)
        .expect("export")
        .expect("a batch");
    let mut lines = Vec::new();
    batch.write_json_lines(&mut lines).expect("JSON lines");
    drop(store);
    let text = String::from_utf8(lines).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), written, "every record is in the batch");

    // The clearing host sees only the lines (and its issuers' keys).
    let host = clearing_host();
    let (mut cryptograms, mut tacs) = (0, 0);
    for line in &lines {
        match host.verify_line(line) {
            Ok(Cleared::Cryptogram) => cryptograms += 1,
            Ok(Cleared::Tac) => tacs += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => panic!("rejected: {e}: {line}"),
        }
    }
    assert_eq!(cryptograms + tacs, written);
    assert_eq!(tacs, counts["purchase"] + counts["load"]);

    // Negative cases: one flipped byte in a TAC or an application cryptogram is rejected.
    let mut rejected = 0;
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let kind = value["kind"].as_str().expect("kind").to_owned();
        let mut tampered = value.clone();
        let field = match kind.as_str() {
            "purse_settlement" => "tac",
            "transit_deferred" => "field_55",
            _ => "application_cryptogram",
        };
        let original = value["payload"][field]
            .as_str()
            .expect("hex field")
            .to_owned();
        tampered["payload"][field] = flip(&original, field).into();
        let outcome = host.verify_line(&tampered.to_string());
        assert!(outcome.is_err(), "{kind} with a flipped {field} accepted");
        // An AC changed consistently in the record and field 55 still fails the recomputation.
        if kind == "contactless" || kind == "contact" {
            let ac = original.clone();
            let flipped = flip(&ac, "application_cryptogram");
            let mut both = value.clone();
            both["payload"]["application_cryptogram"] = flipped.clone().into();
            let field_55 = value["payload"]["field_55"].as_str().expect("field 55");
            both["payload"]["field_55"] = field_55.replacen(&ac, &flipped, 1).into();
            assert_eq!(
                host.verify_line(&both.to_string()),
                Err(ClearingError::CryptogramInvalid),
                "{kind}"
            );
        }
        rejected += 1;
    }
    assert_eq!(rejected, written);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hex` with its last byte inverted (for field 55, the byte inside the `9F26` value).
fn flip(hex_text: &str, field: &str) -> String {
    let mut bytes = hex::decode(hex_text).expect("hex");
    let at = if field == "field_55" {
        let start = hex_text.find("9F2608").expect("9F26 in field 55") / 2;
        start + 3 + 7
    } else {
        bytes.len() - 1
    };
    bytes[at] ^= 0xFF;
    hex::encode_upper(bytes)
}

#[test]
fn a_decline_after_a_tc_keeps_its_clearing_record() {
    // Issue 12 reproduction (2): `transact --date 351231` on the default card — the card
    // returns a TC (its EC balance already debited), the terminal declines (expired).
    let config = default_config();
    let mut card = profile("qpboc-debit-offline").build().expect("card");
    let date = TransactionDate::new(2035, 12, 31).expect("date");
    let result = contactless_tap(&mut card, &config, &input(100, date, 1));
    assert_eq!(result.outcome, Outcome::Declined);
    assert_eq!(result.ec_balance().map(Amount::minor), Some(49_900));
    let record = result.clearing_record(&config).expect("a clearing record");
    assert_eq!(record.outcome, "declined");
    assert_eq!(record.cryptogram_type, "TC");
    assert_eq!(record.ec_balance, Some(49_900));
    assert!(record.field_55.contains("9F2701"), "CID in field 55");
    assert!(clearing_host().verify_emv(&record).is_ok());
    // Debug and the masked form never show the PAN.
    let debug = format!("{record:?}");
    assert!(!debug.contains(&record.pan[6..12]), "{debug}");
    let masked = serde_json::to_string(&record.masked()).expect("JSON");
    assert!(!masked.contains(&record.pan), "{masked}");
}

#[test]
fn a_purse_record_without_its_clearing_data_is_not_cleared() {
    let line = |record: &SettlementRecord| {
        serde_json::json!({"kind": "purse_settlement", "payload": record}).to_string()
    };
    let dir = temp_dir("purse");
    let mut store = Store::open(dir.join("t.db")).expect("store");
    let psam = profile("psam");
    let mut sam = Psam::open(psam.build().expect("PSAM"), &SelectBy::FileId(0x8011)).expect("PSAM");
    let mut card = profile("transit-purse-capp").build().expect("card");
    let result = purchase(
        &mut ApduLayer::new(&mut card),
        &mut sam,
        &mut store,
        &PurseConfig::new(PurseApplication::t_union()),
        &PurchaseRequest {
            amount: PurseAmount::from_fen(200),
            date: today(),
            time: time(1),
        },
    )
    .expect("purchase");
    let mut record = result.record.expect("a settlement record");
    let clearing = record.clearing.expect("clearing data");
    assert_eq!(hex::encode_upper(clearing.card_serial), "0000000012345678");
    assert_eq!(hex::encode_upper(clearing.city_code), "1000");
    assert_eq!(clearing.card_type, 0x02);
    assert!(!format!("{clearing:?}").contains("12345678"));
    let host = clearing_host();
    assert_eq!(host.verify_line(&line(&record)), Ok(Cleared::Tac));
    // Another card's serial derives another key: the TAC does not verify.
    record.clearing = Some(quickpass::kernel::purse::PurseClearingData {
        card_serial: [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x79],
        ..clearing
    });
    assert!(host.verify_line(&line(&record)).is_err());
    record.clearing = None;
    assert_eq!(
        host.verify_line(&line(&record)),
        Err(ClearingError::Missing("clearing data"))
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_clearing_record_round_trips_through_the_store() {
    let config = default_config();
    let mut card = profile("qpboc-debit-offline").build().expect("card");
    let input = input(100, today(), 2);
    let result = contactless_tap(&mut card, &config, &input);
    let record = result.clearing_record(&config).expect("record");
    let dir = temp_dir("roundtrip");
    let mut store = Store::open(dir.join("t.db")).expect("store");
    let id = store
        .add_record(
            RecordKind::Contactless,
            &Created::new(input.date, input.time),
            None,
            &record,
        )
        .expect("written");
    let stored = store.record(id).expect("read").expect("there");
    let back: ClearingRecord = serde_json::from_value(stored.payload.clone()).expect("payload");
    assert_eq!(back, record);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `quickpass-journal/2` file written by `bus_fare --journal` before settlement records and
/// journal entries carried clearing data (two paid records, one torn purchase pending).
const OLD_JOURNAL: &str = "tests/data/journal-v2-before-clearing.json";

#[test]
fn a_journal_written_before_clearing_data_still_opens_and_new_records_carry_it() {
    use quickpass::journal::FileJournal;
    use quickpass::kernel::purse::Journal;

    let dir = temp_dir("old-journal");
    let path = dir.join("journal.json");
    let original = std::fs::read(OLD_JOURNAL).expect("fixture");
    assert!(!String::from_utf8_lossy(&original).contains("clearing"));
    std::fs::write(&path, &original).expect("copy");
    {
        let journal = FileJournal::open(&path).expect("an existing journal opens");
        assert_eq!(journal.records().len(), 2);
        assert_eq!(journal.pending().len(), 1);
        assert!(journal.records().iter().all(|r| r.clearing.is_none()));
        assert!(journal.pending()[0].entry.clearing.is_none());
    }
    assert_eq!(
        std::fs::read(&path).expect("file"),
        original,
        "left as it was"
    );
    // The store imports it too.
    let mut store = Store::open(dir.join("t.db")).expect("store");
    store.import_json_journal(&path).expect("imported");
    assert_eq!(Journal::records(&store).len(), 2);
    drop(store);

    // A purchase on the old journal: its record carries clearing data, and the file reopens.
    let mut journal = FileJournal::open(&path).expect("opens");
    let mut sam = Psam::open(
        profile("psam").build().expect("PSAM"),
        &SelectBy::FileId(0x8011),
    )
    .expect("PSAM");
    let mut card = profile("transit-purse-capp").build().expect("card");
    let result = purchase(
        &mut ApduLayer::new(&mut card),
        &mut sam,
        &mut journal,
        &PurseConfig::new(PurseApplication::t_union()),
        &PurchaseRequest {
            amount: PurseAmount::from_fen(200),
            date: today(),
            time: time(3),
        },
    )
    .expect("purchase");
    assert!(result.record.expect("record").clearing.is_some());
    drop(journal);
    let journal = FileJournal::open(&path).expect("reopens");
    assert_eq!(
        journal
            .records()
            .iter()
            .filter(|r| r.clearing.is_some())
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A qPBOC tap torn after its GPO returned a TC (the card already paid) has a clearing record
/// (outcome `torn`) that the clearing host verifies; the completed re-tap has its own.
#[test]
fn a_tap_torn_after_a_tc_gpo_has_a_verifiable_clearing_record() {
    use quickpass::kernel::contactless::TornTap;
    use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
    let config = default_config();
    let mut card = FaultyCard::new(profile("qpboc-debit-offline").build().expect("card"));
    // PPSE, SELECT, GPO, then the first READ RECORD never reaches the card.
    card.plan(Trigger::Apdu(4), Fault::TearBefore);
    let mut torn: Option<TornTap> = None;
    let first = contactless::transact_after_tear(
        &config,
        &input(200, today(), 5),
        &mut ApduLayer::new(&mut card),
        &mut torn,
    )
    .result;
    assert_eq!(first.outcome, Outcome::TryAgain);
    let record = torn
        .as_ref()
        .expect("torn after a TC")
        .clearing_record(&config)
        .expect("a clearing record of the torn tap");
    assert_eq!(
        (record.outcome.as_str(), record.cryptogram_type.as_str()),
        ("torn", "TC")
    );
    let host = clearing_host();
    assert_eq!(host.verify_emv(&record), Ok(()));

    card.reinsert();
    let second = contactless::transact_after_tear(
        &config,
        &input(200, today(), 6),
        &mut ApduLayer::new(&mut card),
        &mut torn,
    )
    .result;
    assert_eq!(second.outcome, Outcome::Approved);
    let completed = second.clearing_record(&config).expect("record");
    assert_eq!(
        completed.atc, record.atc,
        "the same cryptogram, cleared once"
    );
    assert_eq!(host.verify_emv(&completed), Ok(()));
}

/// `transact --json` prints the clearing record on every outcome with a cryptogram — with the
/// PAN masked, no PSN, no expiry — and keeps its existing fields: an offline approval, and
/// issue 12 reproduction (2), the decline after a TC (`--date 351231`).
#[test]
fn transact_json_prints_the_masked_clearing_record() {
    let exe = support::example("transact");
    for (args, outcome) in [
        (&["--json", "--un", "01020304"][..], "approved"),
        (
            &["--json", "--un", "01020304", "--date", "351231"][..],
            "declined",
        ),
    ] {
        let output = std::process::Command::new(&exe)
            .args(args)
            .output()
            .expect("transact runs");
        assert!(output.status.success(), "{args:?}");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8");
        assert!(
            !stdout.contains("6228480012345671"),
            "clear PAN on stdout: {stdout}"
        );
        let value: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
        assert_eq!(value["outcome"], outcome);
        assert_eq!(value["cryptogram_type"], "TC");
        assert_eq!(value["pan"], "622848******5671");
        let record = &value["record"];
        assert_eq!(record["outcome"], outcome);
        assert_eq!(record["pan"], "622848******5671");
        assert_eq!(record["interface"], "contactless");
        assert_eq!(
            record["application_cryptogram"],
            value["application_cryptogram"]
        );
        assert!(record.get("psn").is_none() && record.get("expiry").is_none());
        assert!(record["field_55"]
            .as_str()
            .expect("field 55")
            .starts_with("9F2608"));
    }
}

#[test]
fn transact_store_keeps_a_record_the_clearing_host_verifies_from_the_batch() {
    let dir = temp_dir("transact-store");
    let store_path = dir.join("store.db");
    let exe = support::example("transact");
    let tap = |args: &[&str]| {
        let output = std::process::Command::new(&exe)
            .args(args)
            .args([
                "--json",
                "--store",
                store_path.to_str().expect("UTF-8 path"),
            ])
            .output()
            .expect("transact runs");
        assert!(output.status.success(), "{args:?}");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8");
        assert!(!stdout.contains("6228480012345671"), "clear PAN: {stdout}");
        serde_json::from_str::<serde_json::Value>(stdout.trim()).expect("JSON")
    };
    // An offline approval (TC), a decline after a TC, an online request (ARQC).
    let taps = [
        tap(&["--un", "01020304"]),
        tap(&["--un", "01020305", "--date", "351231"]),
        tap(&["--un", "01020306", "--amount", "60000"]),
    ];
    let outcomes: Vec<&str> = taps
        .iter()
        .map(|t| t["outcome"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(outcomes, ["approved", "declined", "online_request"]);
    for (n, tap) in taps.iter().enumerate() {
        assert_eq!(tap["stored_record"], n as u64 + 1, "{tap}");
    }
    let mut store = Store::open(&store_path).expect("store");
    // The store holds the PAN in clear, for the acquirer; the batch verifies from itself alone.
    let record = store.record(1).expect("read").expect("record 1");
    assert_eq!(record.kind, RecordKind::Contactless);
    assert_eq!(record.payload["pan"], "6228480012345671");
    let batch = store
        .export_batch(None, usize::MAX)
        .expect("export")
        .expect("a batch");
    let mut lines = Vec::new();
    batch.write_json_lines(&mut lines).expect("write");
    let host = clearing_host();
    let text = String::from_utf8(lines).expect("UTF-8");
    assert_eq!(text.lines().count(), 3);
    for line in text.lines() {
        assert_eq!(host.verify_line(line), Ok(Cleared::Cryptogram), "{line}");
    }
    // A store that cannot be written: exit 1 before the tap.
    let output = std::process::Command::new(&exe)
        .args(["--json", "--store", "/nonexistent-dir/store.db"])
        .output()
        .expect("transact runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
