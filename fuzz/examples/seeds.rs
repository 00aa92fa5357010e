//! Writes the committed seed corpora, `fuzz/corpus/<target>/`, from the virtual card's real
//! exchanges: contactless taps (every card profile of `vectors/cards/`, every amount the
//! kernel target can choose, and the personalisation faults), contact transactions up to the
//! first GENERATE AC, PSE directory reads and purse purchases, each through a recording
//! transport; plus the vector files the JSON loaders read.
//!
//! ```text
//! cd fuzz && cargo run --release --example seeds      # rewrites fuzz/corpus/*/seed-*
//! ```
//!
//! Files are named `seed-<what>` (rerunning replaces them; files the fuzzer or `cargo fuzz cmin`
//! added are left alone) and deduplicated by content within a target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use quickpass::kernel::apdu::Command;
use quickpass::kernel::contact::{self, ContactInput};
use quickpass::kernel::contactless;
use quickpass::kernel::purse::fare::{FareDecision, FarePhase, Station, TripRecord};
use quickpass::kernel::purse::{self, MemoryJournal};
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{PurseAmount, Sfi, TransactionTime};
use quickpass::kernel::Tag;
use quickpass::kernel::{tags, tlv};
use quickpass_fuzz::{join_chunks, Recorder, CONTACTLESS_AMOUNTS};
use quickpass_sim::{CardProfile, VirtualCard};
use serde_json::Value;

/// Seeds per target, by file name; a set of contents to drop duplicates.
#[derive(Default)]
struct Corpora {
    files: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
    seen: BTreeMap<&'static str, BTreeSet<Vec<u8>>>,
}

impl Corpora {
    fn add(&mut self, target: &'static str, name: &str, bytes: Vec<u8>) {
        if self.seen.entry(target).or_default().insert(bytes.clone()) {
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            self.files
                .entry(target)
                .or_default()
                .insert(format!("seed-{name}"), bytes);
        }
    }

    fn write(&self, root: &Path) -> std::io::Result<()> {
        for (target, files) in &self.files {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir)?;
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
                {
                    std::fs::remove_file(path)?;
                }
            }
            for (name, bytes) in files {
                std::fs::write(dir.join(name), bytes)?;
            }
            println!("{target}: {} seeds", files.len());
        }
        Ok(())
    }
}

/// One recorded exchange: the command and the raw response (data ‖ SW).
type Exchange = (Vec<u8>, Vec<u8>);

/// Wraps [`Recorder`] to keep commands too, so responses can be told apart by instruction.
struct Tape<T> {
    recorder: Recorder<T>,
    commands: Vec<Vec<u8>>,
}

impl<T: Transport> Transport for Tape<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        self.commands.push(command.to_vec());
        self.recorder.transmit(command)
    }
}

impl<T> Tape<T> {
    fn new(inner: T) -> Self {
        Tape {
            recorder: Recorder::new(inner),
            commands: Vec::new(),
        }
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.commands
            .iter()
            .cloned()
            .zip(self.recorder.responses.iter().cloned())
            .collect()
    }
}

fn data_of(response: &[u8]) -> &[u8] {
    &response[..response.len().saturating_sub(2)]
}

fn ins(command: &[u8]) -> u8 {
    command.get(1).copied().unwrap_or_default()
}

fn profiles() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(quickpass_sim::data::data_dir().join("cards"))
        .expect("vectors/cards")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("profile");
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        out.push((name, serde_json::from_str(&text).expect("profile JSON")));
    }
    out
}

fn build(profile: &Value) -> Option<VirtualCard> {
    CardProfile::from_json(&profile.to_string())
        .ok()?
        .build()
        .ok()
}

/// The responses' data per instruction, for the single-parser targets.
fn harvest(corpora: &mut Corpora, name: &str, exchanges: &[Exchange]) {
    let mut records = Vec::new();
    let mut gpo = None;
    for (i, (command, response)) in exchanges.iter().enumerate() {
        let data = data_of(response);
        if !data.is_empty() {
            corpora.add("tlv", &format!("{name}-{i}"), data.to_vec());
        }
        match ins(command) {
            0xA4 => {
                corpora.add("selection", &format!("{name}-select-{i}"), data.to_vec());
                if let Ok(fci) = tlv::parse_single(data) {
                    if let Ok(Some(pdol)) = fci.find(tags::PDOL) {
                        add_dol(corpora, &format!("{name}-pdol"), pdol.value());
                    }
                }
            }
            0xA8 => gpo = Some(data.to_vec()),
            0xB2 => {
                let p2 = command.get(3).copied().unwrap_or_default();
                if p2 >> 3 == 1 && command.get(2) == Some(&1) && gpo.is_none() {
                    // A PSE directory record (before any GPO).
                    corpora.add("selection", &format!("{name}-directory-{i}"), data.to_vec());
                }
                records.push(data.to_vec());
                if let Ok(record) = tlv::parse_single(data) {
                    for (tag, what) in [
                        (tags::CDOL1, "cdol1"),
                        (tags::CDOL2, "cdol2"),
                        (tags::DDOL, "ddol"),
                    ] {
                        if let Ok(Some(dol)) = record.find(tag) {
                            add_dol(corpora, &format!("{name}-{what}"), dol.value());
                        }
                    }
                    if let Ok(Some(cvm)) = record.find(tags::CVM_LIST) {
                        corpora.add(
                            "generate_ac",
                            &format!("{name}-cvm"),
                            [&[0][..], cvm.value()].concat(),
                        );
                    }
                }
            }
            0xAE => {
                // P1 b8–b7: AAC 00, TC 40, ARQC 80; b5: CDA.
                let p1 = command.get(2).copied().unwrap_or_default();
                let requested = match p1 & 0xC0 {
                    0x00 => 0u8,
                    0x40 => 1,
                    _ => 2,
                };
                let cda = if p1 & 0x10 != 0 { 0x80 } else { 0 };
                corpora.add(
                    "generate_ac",
                    &format!("{name}-ac-{i}"),
                    [&[requested | cda][..], data].concat(),
                );
            }
            _ => {}
        }
    }
    if let Some(gpo) = gpo {
        let mut chunks = vec![gpo];
        chunks.extend(records);
        corpora.add("gpo_records", name, join_chunks(&chunks));
    }
}

/// A DOL seed: `k` ‖ DOL ‖ a value per entry (its length, then bytes).
fn add_dol(corpora: &mut Corpora, name: &str, dol: &[u8]) {
    let Ok(parsed) = quickpass::kernel::dol::Dol::parse(dol) else {
        return;
    };
    let mut seed = vec![dol.len().min(255) as u8];
    seed.extend_from_slice(dol);
    for (i, entry) in parsed.entries().iter().enumerate() {
        let len = (entry.length + i % 3).saturating_sub(1).min(255);
        seed.push(len as u8);
        seed.extend(std::iter::repeat_n(0x10 + i as u8, len));
    }
    corpora.add("dol", name, seed);
}

fn contactless_taps(corpora: &mut Corpora) {
    let config = quickpass_fuzz::contactless_config();
    const FAULTS: [&str; 5] = [
        "tamper_sdad",
        "issuer_cert_expired",
        "icc_cert_expired",
        "wrong_capk_index",
        "tamper_static_data",
    ];
    for (name, profile) in profiles() {
        let mut variants = vec![(name.clone(), profile.clone())];
        for fault in FAULTS {
            let mut faulty = profile.clone();
            if let Some(app) = faulty["applications"].get_mut(0) {
                if app.get("type").and_then(Value::as_str) == Some("pboc") {
                    app["faults"][fault] = Value::Bool(true);
                    variants.push((format!("{name}-{fault}"), faulty));
                }
            }
        }
        for (variant, profile) in variants {
            for (selector, amount) in CONTACTLESS_AMOUNTS.iter().enumerate() {
                // Faults only at the offline amount: that is where ODA decides.
                if variant != name && selector != 0 {
                    continue;
                }
                let Some(card) = build(&profile) else {
                    continue;
                };
                let mut layer = ApduLayer::new(Tape::new(card));
                let input = quickpass_fuzz::contactless_input(*amount);
                let phase = contactless::read_card(config, &input, &mut layer);
                let tape = layer.into_inner();
                let label = format!("{variant}-{amount}");
                let mut seed = vec![selector as u8];
                seed.extend(join_chunks(&tape.recorder.responses));
                corpora.add("kernel_contactless", &label, seed);
                harvest(corpora, &label, &tape.exchanges());
                if let Ok(phase) = phase {
                    oda_seed(corpora, &label, &phase);
                    let result = phase.complete(config);
                    println!("  tap {label}: {:?}", result.outcome);
                }
            }
        }
    }
}

fn oda_seed(corpora: &mut Corpora, name: &str, phase: &contactless::CardPhase) {
    let card = &phase.card();
    let get = |tag: u32| card.get(Tag::new(tag)).unwrap_or_default().to_vec();
    if card.get(tags::SIGNED_DYNAMIC_APPLICATION_DATA).is_none() {
        return;
    }
    let sm2 = card.get(Tag::new(0x8F)) == Some(&[0xF2][..]);
    let static_data = phase.static_data().unwrap_or_default().to_vec();
    let dynamic = contactless::fdda_dynamic_data(phase.values(), card);
    let fields = [
        get(0x90),
        get(0x92),
        get(0x9F32),
        get(0x9F46),
        get(0x9F48),
        get(0x9F47),
        get(0x5A),
        static_data,
        get(0x9F4B),
        dynamic,
        get(0x93),
    ];
    let mut seed = vec![u8::from(sm2)];
    seed.extend(join_chunks(&fields));
    corpora.add("oda", name, seed);
}

fn contact_transactions(corpora: &mut Corpora) {
    let config = quickpass_fuzz::contactless_config();
    for (name, profile) in profiles() {
        for amount in [100u64, 60_000] {
            let Some(card) = build(&profile) else {
                continue;
            };
            let mut layer = ApduLayer::new(Tape::new(card));
            let input = ContactInput::new(quickpass_fuzz::contactless_input(amount));
            let _ = contact::start(config, &input, &mut layer, &mut contact::NoPinPad);
            let tape = layer.into_inner();
            harvest(
                corpora,
                &format!("contact-{name}-{amount}"),
                &tape.exchanges(),
            );
        }
        // The PSE and its first directory record, sent directly.
        if let Some(mut card) = build(&profile) {
            let mut exchanges = Vec::new();
            let sfi = Sfi::new(1).expect("SFI 1");
            for command in [
                Command::select_pse(),
                Command::read_record(1, sfi).expect("READ RECORD"),
            ] {
                let bytes = command.to_bytes();
                if let Ok(response) = card.transmit(&bytes) {
                    exchanges.push((bytes, response));
                }
            }
            harvest(corpora, &format!("pse-{name}"), &exchanges);
        }
    }
}

fn purse_purchases(corpora: &mut Corpora) {
    // EF15: 20 bytes of issuer data and serial, start 2010-01-01, expiry as given.
    let ef15 = |start: &str, expiry: &str| format!("{}{start}{expiry}", "00".repeat(19) + "01");
    let variants = [
        ("paid", ef15("20100101", "20491231"), 10_000u32),
        ("insufficient", ef15("20100101", "20491231"), 100),
        ("expired", ef15("20100101", "20111231"), 10_000),
        ("not-yet-valid", ef15("20200101", "20491231"), 10_000),
    ];
    for (name, ef15, balance) in variants {
        let card = CardProfile::from_json(&quickpass_fuzz::purse_profile_json(&ef15, balance))
            .expect("purse profile")
            .build()
            .expect("purse card");
        corpora.add(
            "card_profile",
            &format!("purse-{name}"),
            quickpass_fuzz::purse_profile_json(&ef15, balance).into_bytes(),
        );
        let mut layer = ApduLayer::new(Tape::new(card));
        let result = purse::purchase(
            &mut layer,
            &mut quickpass_fuzz::purse_sam(),
            &mut MemoryJournal::new(),
            &quickpass_fuzz::purse_config(),
            &quickpass_fuzz::purse_request(),
        );
        println!("  purse {name}: {:?}", result.as_ref().map(|r| r.outcome));
        let mut tape = layer.into_inner();
        let responses = tape.recorder.responses.clone();
        corpora.add("purse_purchase", name, join_chunks(&responses));
        if responses.len() > 1 {
            // The same tap torn before the card's last answer.
            corpora.add(
                "purse_purchase",
                &format!("{name}-torn"),
                join_chunks(&responses[..responses.len() - 1]),
            );
        }
        for (i, (command, response)) in tape.exchanges().iter().enumerate() {
            let data = data_of(response);
            if !data.is_empty() {
                corpora.add(
                    "purse_responses",
                    &format!("{name}-{:02X}-{i}", ins(command)),
                    [&[0][..], data].concat(),
                );
            }
        }
        // EF18 log records and GET TRANSACTION PROVE, asked directly after the purchase.
        let card = tape.recorder.inner_mut();
        for record in 1..=2u8 {
            let sfi = Sfi::new(0x18).expect("SFI 18");
            let command = Command::read_record(record, sfi)
                .expect("READ RECORD")
                .to_bytes();
            if let Ok(response) = card.transmit(&command) {
                corpora.add(
                    "purse_responses",
                    &format!("{name}-ef18-{record}"),
                    [&[0][..], data_of(&response)].concat(),
                );
            }
        }
        let prove = Command::get_transaction_prove(0x06, 1).to_bytes();
        if let Ok(response) = card.transmit(&prove) {
            corpora.add(
                "purse_responses",
                &format!("{name}-prove"),
                [&[0][..], data_of(&response)].concat(),
            );
        }
    }
    // A Shanghai EF1A trip record after an entry (valid CRC), and the blank one.
    let blank = vec![0u8; 128];
    corpora.add(
        "purse_responses",
        "trip-blank",
        [&[0][..], &blank[..]].concat(),
    );
    if let Ok(record) = TripRecord::parse(&blank) {
        let decision = FareDecision {
            phase: FarePhase::Entry,
            amount: PurseAmount::ZERO,
            trip_fare: PurseAmount::ZERO,
            cap: PurseAmount::from_fen(600),
        };
        let inside = record.updated(
            &decision,
            Station {
                line: 2,
                number: 17,
            },
            &[0x31, 0x01, 0, 0, 0, 1],
            PurseAmount::from_fen(5_000),
            quickpass_fuzz::transaction_date(),
            TransactionTime::new(8, 30, 0).expect("time"),
        );
        corpora.add(
            "purse_responses",
            "trip-inside",
            [&[0][..], &inside[..]].concat(),
        );
    }
}

/// The example deny list and delta (`vectors/deny-list/`), each as is (selector 0) and with the
/// checksum recomputed by the target (selector 1).
fn deny_list_files(corpora: &mut Corpora) {
    let dir = quickpass_sim::data::data_dir().join("deny-list");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("vectors/deny-list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deny"))
        .collect();
    paths.sort();
    for path in paths {
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&path).expect("read");
        for selector in [0u8, 1] {
            let mut seed = vec![selector];
            seed.extend_from_slice(&bytes);
            corpora.add("deny_list", &format!("{stem}-{selector}"), seed);
        }
    }
}

fn json_files(corpora: &mut Corpora) {
    let dir = quickpass_sim::data::data_dir();
    let list = |sub: &str| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
        paths.sort();
        paths
    };
    let stem = |p: &Path| p.file_stem().expect("stem").to_string_lossy().into_owned();
    for path in list("cards") {
        corpora.add(
            "card_profile",
            &stem(&path),
            std::fs::read(&path).expect("read"),
        );
    }
    for path in list("terminals") {
        corpora.add(
            "terminal_config",
            &stem(&path),
            std::fs::read(&path).expect("read"),
        );
    }
    for path in list("capk") {
        let text = std::fs::read_to_string(&path).expect("read");
        corpora.add("capk", &stem(&path), text.clone().into_bytes());
        // Each key also as a UnionPay terminal-parameter TLV record (pboc-notes §3.2).
        let file: Value = serde_json::from_str(&text).expect("capk JSON");
        for (n, case) in file["cases"].as_array().into_iter().flatten().enumerate() {
            let field = |k: &str| case.get(k).and_then(Value::as_str).unwrap_or_default();
            if let Ok(record) = hex::decode(field("tlv")) {
                if !record.is_empty() {
                    corpora.add("capk", &format!("{}-{n}-tlv", stem(&path)), record);
                    continue;
                }
            }
            let mut record = Vec::new();
            let hash = if field("hash_algorithm") == "sm3" {
                0x07
            } else {
                0x01
            };
            for (tag, value) in [
                (0x9F06, hex::decode(field("rid")).unwrap_or_default()),
                (0x9F22, hex::decode(field("index")).unwrap_or_default()),
                (0xDF05, b"20401231".to_vec()),
                (0xDF06, vec![hash]),
                (0xDF07, vec![0x01]),
                (0xDF02, hex::decode(field("modulus")).unwrap_or_default()),
                (0xDF04, hex::decode(field("exponent")).unwrap_or_default()),
                (0xDF03, hex::decode(field("checksum")).unwrap_or_default()),
            ] {
                tlv::encode(Tag::new(tag), &value, &mut record);
            }
            corpora.add("capk", &format!("{}-{n}-tlv", stem(&path)), record);
        }
    }
    // Issuer scripts as a host sends them (EMV Book 3 §10.10), for the script parser.
    let mut script = Vec::new();
    tlv::encode(Tag::new(0x9F18), &[0, 0, 0, 1], &mut script);
    tlv::encode(
        Tag::new(0x86),
        &hex::decode("8418000004AABBCCDD").expect("hex"),
        &mut script,
    );
    let mut scripts = Vec::new();
    tlv::encode(Tag::new(0x71), &script, &mut scripts);
    tlv::encode(Tag::new(0x72), &script, &mut scripts);
    corpora.add("generate_ac", "scripts", [&[0][..], &scripts[..]].concat());
}

fn main() -> std::io::Result<()> {
    let mut corpora = Corpora::default();
    contactless_taps(&mut corpora);
    contact_transactions(&mut corpora);
    purse_purchases(&mut corpora);
    json_files(&mut corpora);
    deny_list_files(&mut corpora);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    corpora.write(&root)
}
