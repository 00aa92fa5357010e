//! The simulated PBOC cards driven through the kernel's APDU layer, selection and APDU
//! builders, with every cryptographic object checked by the crypto crate: certificate chains
//! from the published test CAPK, fDDA / DDA / CDA signatures, ARQC and ARPC through the host
//! simulator, EC balance and logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use quickpass::crypto::capk::{CapkIndex, CapkStore, Rid};
use quickpass::crypto::date::Date;
use quickpass::crypto::emv;
use quickpass::crypto::mac::Padding;
use quickpass::crypto::oda::{
    recover_icc_public_key, recover_issuer_public_key, verify_cda, verify_sdad, IccPublicKey,
    IssuerPublicKey, OdaError, OdaObject, SdadFormats,
};
use quickpass::kernel::apdu::{Command, Occurrence, RequestedCryptogram, Response};
use quickpass::kernel::bits::Aip;
use quickpass::kernel::dol::{Dol, DolValues};
use quickpass::kernel::selection::{read_ppse_directory, read_pse_directory};
use quickpass::kernel::tags;
use quickpass::kernel::tlv;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::bcd::{bcd_to_u64, u64_to_bcd};
use quickpass::kernel::values::{Aid, Sfi, StatusWord};
use quickpass::kernel::Tag;
use quickpass_sim::ca::TestCa;
use quickpass_sim::host::emv::{EmvHost, IssuerDecision};
use quickpass_sim::pboc::{OdaAlgorithm, PbocApplication, PbocProfile};
use quickpass_sim::{ApplicationProfile, CardProfile, VirtualCard};

type Layer<'a> = ApduLayer<&'a mut VirtualCard>;
type Objects = BTreeMap<Tag, Vec<u8>>;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn profile(name: &str) -> CardProfile {
    CardProfile::load(vectors().join("cards").join(format!("{name}.json"))).expect("profile")
}

fn pboc(card: &CardProfile, index: usize) -> PbocProfile {
    match &card.applications[index] {
        ApplicationProfile::Pboc(p) => p.clone(),
        other => panic!("not pboc: {other:?}"),
    }
}

/// A card profile with its first application replaced.
fn with_first(mut card: CardProfile, edit: impl FnOnce(&mut PbocProfile)) -> CardProfile {
    let mut app = pboc(&card, 0);
    edit(&mut app);
    card.applications[0] = ApplicationProfile::Pboc(app);
    card
}

fn capks() -> CapkStore {
    let mut store = CapkStore::new();
    let text = std::fs::read_to_string(quickpass_sim::data::test_capk_file()).unwrap();
    let report = store.load_vector_file(&text).unwrap();
    assert_eq!(report.loaded.len(), 1);
    store
        .insert(TestCa::shared().unwrap().sm2_ca_public_key().unwrap())
        .unwrap();
    store
}

fn today() -> Date {
    Date::new(2025, 6, 1).unwrap()
}

fn h(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn send(layer: &mut Layer<'_>, command: &Command) -> Response {
    layer.exchange(command).expect("exchange")
}

/// Sends raw command bytes `CLA INS P1 P2 Lc data` (issuer scripts).
fn send_raw(layer: &mut Layer<'_>, bytes: &[u8]) -> Response {
    let command = Command::new(
        bytes[0],
        bytes[1],
        bytes[2],
        bytes[3],
        bytes.get(5..).unwrap_or_default().to_vec(),
        None,
    )
    .unwrap();
    send(layer, &command)
}

/// The children of a constructed template (`77`, `70`, `6F`…), one level deep.
fn objects(template: &[u8]) -> Objects {
    let root = tlv::parse_single(template).expect("template");
    let mut out = BTreeMap::new();
    for child in root.children() {
        let child = child.expect("child");
        out.insert(child.tag(), child.value().to_vec());
    }
    out
}

/// The terminal: its data objects, used to fill PDOL, CDOL and DDOL.
struct Terminal {
    values: DolValues,
}

impl Terminal {
    fn new(ttq: &str, amount: u64) -> Self {
        let mut t = Terminal {
            values: DolValues::new(),
        };
        t.set(tags::TTQ, &h(ttq));
        t.set_amount(amount);
        t.set(tags::AMOUNT_OTHER, &[0; 6]);
        t.set(tags::TERMINAL_COUNTRY_CODE, &[0x01, 0x56]);
        t.set(tags::TVR, &[0; 5]);
        t.set(tags::TRANSACTION_CURRENCY_CODE, &[0x01, 0x56]);
        t.set(tags::TRANSACTION_DATE, &[0x25, 0x06, 0x01]);
        t.set(tags::TRANSACTION_TIME, &[0x12, 0x34, 0x56]);
        t.set(tags::TRANSACTION_TYPE, &[0x00]);
        t.set(tags::UNPREDICTABLE_NUMBER, &[0x1A, 0x2B, 0x3C, 0x4D]);
        t.set(tags::MERCHANT_NAME_AND_LOCATION, b"QUICKPASS TEST SHOP");
        t.set(tags::EC_TERMINAL_SUPPORT_INDICATOR, &[0x01]);
        t.set(tags::SM_ALGORITHM_SUPPORT_INDICATOR, &[0x01]);
        t
    }

    fn set(&mut self, tag: Tag, value: &[u8]) {
        self.values
            .insert(tag, tags::format_of(tag), value.to_vec());
    }

    fn set_amount(&mut self, amount: u64) {
        self.set(tags::AMOUNT_AUTHORISED, &u64_to_bcd::<6>(amount).unwrap());
    }

    fn get(&self, tag: Tag) -> Vec<u8> {
        use quickpass::kernel::dol::DolSource;
        self.values.value(tag).unwrap_or_default().to_vec()
    }

    fn dol_data(&self, dol: &[u8]) -> Vec<u8> {
        Dol::parse(dol).unwrap().build(&self.values)
    }
}

/// What a tap read: the selected FCI, PDOL data, GPO objects.
struct Tap {
    fci: Objects,
    pdol_data: Vec<u8>,
    gpo: Objects,
}

fn select(layer: &mut Layer<'_>, aid: &str) -> Objects {
    let aid: Aid = aid.parse().unwrap();
    let response = send(layer, &Command::select_aid(&aid, Occurrence::First));
    assert_eq!(response.sw, StatusWord::OK);
    let fci = objects(&response.data);
    objects(&tlv::encoded(
        tags::FCI_TEMPLATE,
        &fci[&tags::FCI_PROPRIETARY_TEMPLATE],
    ))
}

/// SELECT then GPO; the GPO status word is returned with whatever objects came back.
fn run_tap(layer: &mut Layer<'_>, aid: &str, terminal: &Terminal) -> (Tap, StatusWord) {
    let fci = select(layer, aid);
    let pdol_data = terminal.dol_data(&fci[&tags::PDOL]);
    let response = send(layer, &Command::get_processing_options(&pdol_data).unwrap());
    let gpo = if response.sw == StatusWord::OK {
        objects(&response.data)
    } else {
        BTreeMap::new()
    };
    (
        Tap {
            fci,
            pdol_data,
            gpo,
        },
        response.sw,
    )
}

/// The cryptogram type a qPBOC terminal reads from IAD byte 4 (pboc-notes §2.5).
fn iad_type(gpo: &Objects) -> u8 {
    gpo[&tags::ISSUER_APPLICATION_DATA][4] & 0x30
}
const TC: u8 = 0x10;
const ARQC: u8 = 0x20;
const AAC: u8 = 0x00;

/// Reads the AFL records: all their objects, and the static data to authenticate (EMV Book 3
/// §10.3: `70` values of the ODA records of SFI 1–10, then the AIP when `9F4A` lists it).
fn read_records(layer: &mut Layer<'_>, afl: &[u8], aip: &[u8]) -> (Objects, Vec<u8>) {
    let mut all = BTreeMap::new();
    let mut static_data = Vec::new();
    for entry in afl.chunks_exact(4) {
        let sfi = entry[0] >> 3;
        for (i, record) in (entry[1]..=entry[2]).enumerate() {
            let response = send(
                layer,
                &Command::read_record(record, Sfi::new(sfi).unwrap()).unwrap(),
            );
            assert_eq!(response.sw, StatusWord::OK, "SFI {sfi} record {record}");
            let parsed = tlv::parse_single(&response.data).unwrap();
            assert_eq!(parsed.tag(), tags::RECORD_TEMPLATE);
            if i < usize::from(entry[3]) {
                static_data.extend_from_slice(parsed.value());
            }
            all.extend(objects(&response.data));
        }
    }
    if all.get(&tags::SDA_TAG_LIST).map(Vec::as_slice) == Some(&[0x82][..]) {
        static_data.extend_from_slice(aip);
    }
    (all, static_data)
}

fn issuer_key(store: &CapkStore, records: &Objects) -> Result<IssuerPublicKey, OdaError> {
    let index = records[&tags::CA_PUBLIC_KEY_INDEX][0];
    let capk = store
        .get(Rid([0xA0, 0, 0, 0x03, 0x33]), CapkIndex(index))
        .expect("CAPK for 8F");
    let empty = Vec::new();
    recover_issuer_public_key(
        capk,
        &records[&tags::ISSUER_PUBLIC_KEY_CERTIFICATE],
        records
            .get(&tags::ISSUER_PUBLIC_KEY_REMAINDER)
            .unwrap_or(&empty),
        records
            .get(&tags::ISSUER_PUBLIC_KEY_EXPONENT)
            .unwrap_or(&empty),
        &records[&tags::PAN],
        today(),
    )
}

fn icc_key(
    store: &CapkStore,
    records: &Objects,
    static_data: &[u8],
) -> Result<IccPublicKey, OdaError> {
    let issuer = issuer_key(store, records)?;
    let empty = Vec::new();
    recover_icc_public_key(
        &issuer,
        &records[&tags::ICC_PUBLIC_KEY_CERTIFICATE],
        records
            .get(&tags::ICC_PUBLIC_KEY_REMAINDER)
            .unwrap_or(&empty),
        records
            .get(&tags::ICC_PUBLIC_KEY_EXPONENT)
            .unwrap_or(&empty),
        &records[&tags::PAN],
        static_data,
        today(),
    )
}

/// fDDA terminal dynamic data (pboc-notes §2.7).
fn fdda_data(terminal: &Terminal, gpo: &Objects) -> Vec<u8> {
    let mut data = terminal.get(tags::UNPREDICTABLE_NUMBER);
    if let Some(card) = gpo.get(&tags::CARD_AUTHENTICATION_RELATED_DATA) {
        data.extend(terminal.get(tags::AMOUNT_AUTHORISED));
        data.extend(terminal.get(tags::TRANSACTION_CURRENCY_CODE));
        data.extend_from_slice(card);
    }
    data
}

/// Field-55 style ICC data for the host: the CVN 01 terminal objects and the card's.
fn icc_data(terminal: &Terminal, card: &Objects, ac: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for tag in [
        tags::AMOUNT_AUTHORISED,
        tags::AMOUNT_OTHER,
        tags::TERMINAL_COUNTRY_CODE,
        tags::TVR,
        tags::TRANSACTION_CURRENCY_CODE,
        tags::TRANSACTION_DATE,
        tags::TRANSACTION_TYPE,
        tags::UNPREDICTABLE_NUMBER,
    ] {
        tlv::encode(tag, &terminal.get(tag), &mut out);
    }
    for tag in [tags::AIP, tags::ATC, tags::ISSUER_APPLICATION_DATA] {
        tlv::encode(tag, &card[&tag], &mut out);
    }
    tlv::encode(tags::APPLICATION_CRYPTOGRAM, ac, &mut out);
    out
}

fn host_for(card: &CardProfile) -> EmvHost {
    let mut host = EmvHost::new();
    for app in &card.applications {
        if let ApplicationProfile::Pboc(p) = app {
            host.add_profile(p).unwrap();
        }
    }
    host
}

fn ec_balance(layer: &mut Layer<'_>) -> u64 {
    let response = send(layer, &Command::get_data(tags::EC_BALANCE).unwrap());
    assert_eq!(response.sw, StatusWord::OK);
    bcd_to_u64(&objects_flat(&response.data)[&tags::EC_BALANCE]).unwrap()
}

/// A sequence of primitive TLVs (GET DATA response).
fn objects_flat(data: &[u8]) -> Objects {
    tlv::parse_sequence(data)
        .unwrap()
        .into_iter()
        .map(|o| (o.tag(), o.value().to_vec()))
        .collect()
}

const DEBIT: &str = "A000000333010101";
const CREDIT: &str = "A000000333010102";
/// qPBOC, online PIN, signature; fDDA v01.
const TTQ_ONLINE: &str = "26000080";
/// qPBOC, offline-only reader; fDDA v01.
const TTQ_OFFLINE: &str = "28000080";
/// Online cryptogram required.
const TTQ_ARQC: &str = "26800080";

#[test]
fn ppse_and_pse_list_debit_then_credit() {
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let ppse = read_ppse_directory(&mut layer).unwrap();
    let labels: Vec<_> = ppse.iter().map(|e| e.label.clone().unwrap()).collect();
    assert_eq!(labels, ["PBOC DEBIT", "PBOC CREDIT"]);
    assert_eq!(ppse[0].aid.as_bytes(), h(DEBIT));
    assert_eq!(ppse[1].priority.map(|p| p.0), Some(2));
    let pse = read_pse_directory(&mut layer).unwrap();
    assert_eq!(pse.len(), 2);
    assert_eq!(pse[1].aid.as_bytes(), h(CREDIT));

    let mut pure = profile("pure-ec").build().unwrap();
    let mut layer = ApduLayer::new(&mut pure);
    assert_eq!(read_ppse_directory(&mut layer).unwrap().len(), 1);
    assert!(read_pse_directory(&mut layer).is_err());
}

#[test]
fn qpboc_offline_tc_with_fdda_v01_debits_ec_and_logs() {
    let store = capks();
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new(TTQ_ONLINE, 10_000);
    let (tap, sw) = run_tap(&mut layer, DEBIT, &terminal);
    assert_eq!(sw, StatusWord::OK);
    let gpo = &tap.gpo;
    assert_eq!(iad_type(gpo), TC);
    assert!(!gpo.contains_key(&tags::CID), "qPBOC sends no 9F27");
    assert_eq!(gpo[&tags::ATC], [0x00, 0x11]);
    assert_eq!(
        gpo[&tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT],
        h("000000040000")
    );
    assert_eq!(gpo[&tags::CTQ], h("3000"));
    // EC balance in the IAD's issuer-discretionary part (pboc-notes §2.9).
    assert_eq!(
        &gpo[&tags::ISSUER_APPLICATION_DATA][8..15],
        &h("0A010000040000")[..]
    );
    let card_data = &gpo[&tags::CARD_AUTHENTICATION_RELATED_DATA];
    assert_eq!(card_data.len(), 8);
    assert_eq!((card_data[0], &card_data[5..]), (0x01, &h("300000")[..]));

    let (records, static_data) = read_records(&mut layer, &gpo[&tags::AFL], &gpo[&tags::AIP]);
    assert_eq!(records[&tags::PAN], h("6228480012345671"));
    let issuer = issuer_key(&store, &records).unwrap();
    assert_eq!(issuer.certificate_serial(), [0x1A, 0x2B, 0x3C]);
    let icc = icc_key(&store, &records, &static_data).unwrap();
    let dynamic = fdda_data(&terminal, gpo);
    let signature = verify_sdad(
        &icc,
        &gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
        &dynamic,
        SdadFormats::FDDA,
    )
    .unwrap();
    assert_eq!(signature.icc_dynamic_number(), &gpo[&tags::ATC][..]);
    // The signature covers the terminal's unpredictable number and amount.
    let mut other = dynamic.clone();
    other[0] ^= 0xFF;
    assert!(verify_sdad(
        &icc,
        &gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
        &other,
        SdadFormats::FDDA
    )
    .is_err());
    // The static data is part of the ICC certificate.
    let mut wrong_static = static_data.clone();
    wrong_static[3] ^= 1;
    assert!(icc_key(&store, &records, &wrong_static).is_err());

    // The TC is computed like an ARQC: the host recomputes it.
    let host = host_for(&profile("qpboc-debit-offline"));
    let data = icc_data(&terminal, gpo, &gpo[&tags::APPLICATION_CRYPTOGRAM]);
    assert!(host.verify_arqc("6228480012345671", 0x01, &data).unwrap());

    assert_eq!(ec_balance(&mut layer), 40_000);
    // Transaction log: the 9F4F format, newest first.
    let format = send(&mut layer, &Command::get_data(tags::LOG_FORMAT).unwrap());
    let format = Dol::parse(&objects_flat(&format.data)[&tags::LOG_FORMAT]).unwrap();
    let record = send(
        &mut layer,
        &Command::read_record(1, Sfi::new(11).unwrap()).unwrap(),
    );
    assert_eq!(record.sw, StatusWord::OK);
    let fields: BTreeMap<Tag, Vec<u8>> = format
        .split(&record.data)
        .unwrap()
        .into_iter()
        .map(|(t, v)| (t, v.to_vec()))
        .collect();
    assert_eq!(fields[&tags::AMOUNT_AUTHORISED], h("000000010000"));
    assert_eq!(fields[&tags::ATC], h("0011"));
    assert_eq!(fields[&tags::TRANSACTION_DATE], h("250601"));
    let second = send(
        &mut layer,
        &Command::read_record(2, Sfi::new(11).unwrap()).unwrap(),
    );
    assert_eq!(second.sw, StatusWord::RECORD_NOT_FOUND);
    drop(layer);
    let app = card.application_mut::<PbocApplication>().unwrap();
    assert_eq!((app.ec_balance(), app.atc()), (Some(40_000), 0x11));
}

#[test]
fn fdda_v00_signs_the_unpredictable_number_alone() {
    let store = capks();
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new("26000000", 500);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    assert_eq!(iad_type(&tap.gpo), TC);
    assert!(!tap
        .gpo
        .contains_key(&tags::CARD_AUTHENTICATION_RELATED_DATA));
    let (records, static_data) =
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    let icc = icc_key(&store, &records, &static_data).unwrap();
    let sdad = &tap.gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA];
    verify_sdad(
        &icc,
        sdad,
        &terminal.get(tags::UNPREDICTABLE_NUMBER),
        SdadFormats::FDDA,
    )
    .unwrap();
    assert!(verify_sdad(
        &icc,
        sdad,
        &fdda_data(&terminal, &tap.gpo),
        SdadFormats::FDDA
    )
    .is_ok());
    let mut v01 = terminal.get(tags::UNPREDICTABLE_NUMBER);
    v01.extend(terminal.get(tags::AMOUNT_AUTHORISED));
    assert!(verify_sdad(&icc, sdad, &v01, SdadFormats::FDDA).is_err());
}

#[test]
fn arqc_leaves_the_balance_and_the_host_checks_it() {
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new(TTQ_ARQC, 1_000);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    let gpo = &tap.gpo;
    assert_eq!(iad_type(gpo), ARQC);
    for absent in [
        tags::AFL,
        tags::SIGNED_DYNAMIC_APPLICATION_DATA,
        tags::CARD_AUTHENTICATION_RELATED_DATA,
    ] {
        assert!(!gpo.contains_key(&absent), "{absent}");
    }
    assert_eq!(
        gpo[&tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT],
        h("000000050000")
    );
    assert_eq!(ec_balance(&mut layer), 50_000);

    // Recomputed independently of the simulator's helpers: UDK (option A), PBOC ATC session
    // key, MAC over the CVN 01 layout (pboc-notes §2.11).
    let imk: [u8; 16] = h("0123456789ABCDEFFEDCBA9876543210").try_into().unwrap();
    let udk = emv::derive_icc_master_key_option_a(&imk, "6228480012345671", 0x01).unwrap();
    let atc: [u8; 2] = gpo[&tags::ATC].clone().try_into().unwrap();
    let session_key = emv::pboc_ac_session_key(&udk, atc).unwrap();
    let mut ac_data = Vec::new();
    for tag in [
        tags::AMOUNT_AUTHORISED,
        tags::AMOUNT_OTHER,
        tags::TERMINAL_COUNTRY_CODE,
        tags::TVR,
        tags::TRANSACTION_CURRENCY_CODE,
        tags::TRANSACTION_DATE,
        tags::TRANSACTION_TYPE,
        tags::UNPREDICTABLE_NUMBER,
    ] {
        ac_data.extend(terminal.get(tag));
    }
    ac_data.extend(&gpo[&tags::AIP]);
    ac_data.extend(atc);
    ac_data.extend(&gpo[&tags::ISSUER_APPLICATION_DATA][3..7]);
    assert_eq!(ac_data.len(), 37);
    let expected = emv::application_cryptogram(&session_key, &ac_data, Padding::Method2).unwrap();
    assert_eq!(gpo[&tags::APPLICATION_CRYPTOGRAM], expected);

    let host = host_for(&profile("qpboc-debit-offline"));
    let data = icc_data(&terminal, gpo, &gpo[&tags::APPLICATION_CRYPTOGRAM]);
    let response = host.authorise("6228480012345671", 0x01, &data).unwrap();
    assert!(response.cryptogram_valid && response.approved);
    assert_eq!(response.arc, *b"00");
    assert_eq!(
        response.arpc,
        emv::arpc_method_1(&session_key, expected, *b"00").unwrap()
    );
    // Any changed input breaks the cryptogram.
    let mut changed = Terminal::new(TTQ_ARQC, 1_001);
    changed.set(
        tags::UNPREDICTABLE_NUMBER,
        &terminal.get(tags::UNPREDICTABLE_NUMBER),
    );
    let data = icc_data(&changed, gpo, &gpo[&tags::APPLICATION_CRYPTOGRAM]);
    let response = host.authorise("6228480012345671", 0x01, &data).unwrap();
    assert!(!response.cryptogram_valid && !response.approved);
    assert_eq!(response.arc, *b"05");
    // qPBOC has no EXTERNAL AUTHENTICATE.
    let ea = send(
        &mut layer,
        &Command::external_authenticate(&response.issuer_authentication_data()).unwrap(),
    );
    assert_eq!(ea.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
}

fn outcome(layer: &mut Layer<'_>, ttq: &str, amount: u64) -> u8 {
    let (tap, sw) = tap_again(layer, DEBIT, ttq, amount);
    assert_eq!(sw, StatusWord::OK);
    iad_type(&tap.gpo)
}

#[test]
fn ec_single_transaction_limit_and_reset_threshold() {
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    // 9F78 = 200.00
    assert_eq!(outcome(&mut layer, TTQ_ONLINE, 20_001), ARQC);
    assert_eq!(outcome(&mut layer, TTQ_OFFLINE, 20_001), AAC);
    assert_eq!(outcome(&mut layer, TTQ_ONLINE, 20_000), TC);
    assert_eq!(ec_balance(&mut layer), 30_000);
    // Reset threshold 10.00: 100.00 − 90.01 < 10.00
    assert_eq!(outcome(&mut layer, TTQ_ONLINE, 20_000), TC);
    assert_eq!(outcome(&mut layer, TTQ_ONLINE, 9_001), ARQC);
    assert_eq!(outcome(&mut layer, TTQ_ONLINE, 9_000), TC);
    assert_eq!(ec_balance(&mut layer), 1_000);
    // An offline-only reader ignores the threshold but not the balance.
    assert_eq!(outcome(&mut layer, TTQ_OFFLINE, 1_001), AAC);
    assert_eq!(outcome(&mut layer, TTQ_OFFLINE, 1_000), TC);
    assert_eq!(ec_balance(&mut layer), 0);
    // A foreign currency cannot be paid from EC.
    let mut usd = Terminal::new(TTQ_OFFLINE, 1);
    usd.set(tags::TRANSACTION_CURRENCY_CODE, &[0x08, 0x40]);
    drop(layer);
    card.application_mut::<PbocApplication>()
        .unwrap()
        .set_ec_balance(5_000);
    let mut layer = ApduLayer::new(&mut card);
    let (tap, _) = run_tap(&mut layer, DEBIT, &usd);
    assert_eq!(iad_type(&tap.gpo), AAC);
    assert_eq!(ec_balance(&mut layer), 5_000);
}

#[test]
fn credit_online_only_always_asks_the_issuer() {
    let card_profile = profile("qpboc-credit-online");
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new(TTQ_ONLINE, 1);
    let (tap, _) = run_tap(&mut layer, CREDIT, &terminal);
    assert_eq!(iad_type(&tap.gpo), ARQC);
    assert!(!tap
        .gpo
        .contains_key(&tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT));
    assert_eq!(tap.gpo[&tags::CTQ], h("8000"));
    assert_eq!(
        tap.fci[&tags::APPLICATION_PREFERRED_NAME],
        b"UNIONPAY CREDIT"
    );
    let host = host_for(&card_profile);
    let data = icc_data(&terminal, &tap.gpo, &tap.gpo[&tags::APPLICATION_CRYPTOGRAM]);
    assert!(host.verify_arqc("6250940012345675", 0x01, &data).unwrap());
    let (tap, _) = tap_again(&mut layer, CREDIT, TTQ_OFFLINE, 1);
    assert_eq!(iad_type(&tap.gpo), AAC);
    let ec = send(&mut layer, &Command::get_data(tags::EC_BALANCE).unwrap());
    assert_eq!(ec.sw, StatusWord::REFERENCED_DATA_NOT_FOUND);

    // Contact: a TC request gets an ARQC.
    let (tap, _) = tap_again(&mut layer, CREDIT, "00000000", 1);
    assert!(!tap.gpo.contains_key(&tags::APPLICATION_CRYPTOGRAM));
    let cdol1 = Terminal::new("00000000", 1)
        .dol_data(&h("9F02069F03069F1A0295055F2A029A039C019F37049F21039F4E14"));
    let gac = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, false, &cdol1).unwrap(),
    );
    assert_eq!(objects(&gac.data)[&tags::CID], [0x80]);
}

fn tap_again(layer: &mut Layer<'_>, aid: &str, ttq: &str, amount: u64) -> (Tap, StatusWord) {
    run_tap(layer, aid, &Terminal::new(ttq, amount))
}

#[test]
fn pure_ec_never_goes_online() {
    let store = capks();
    let mut card = profile("pure-ec").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let aid = "A000000333010106";
    let (tap, _) = tap_again(&mut layer, aid, TTQ_ONLINE, 10_001);
    assert_eq!(iad_type(&tap.gpo), AAC);
    let (tap, _) = tap_again(&mut layer, aid, TTQ_ARQC, 1);
    assert_eq!(iad_type(&tap.gpo), AAC);
    let terminal = Terminal::new(TTQ_ONLINE, 2_500);
    let (tap, _) = run_tap(&mut layer, aid, &terminal);
    assert_eq!(iad_type(&tap.gpo), TC);
    let (records, static_data) =
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    let icc = icc_key(&store, &records, &static_data).unwrap();
    assert_eq!(icc.modulus().map(<[u8]>::len), Some(96));
    verify_sdad(
        &icc,
        &tap.gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
        &fdda_data(&terminal, &tap.gpo),
        SdadFormats::FDDA,
    )
    .unwrap();
    assert_eq!(ec_balance(&mut layer), 7_500);
}

#[test]
fn prefer_contact_and_blocked_answer_6985() {
    let card_profile = with_first(profile("qpboc-debit-offline"), |p| {
        p.cap.prefer_contact_for_online = true;
    });
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let (_, sw) = tap_again(&mut layer, DEBIT, "36800080", 100);
    assert_eq!(sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    let (tap, sw) = tap_again(&mut layer, DEBIT, TTQ_ARQC, 100);
    assert_eq!((sw, iad_type(&tap.gpo)), (StatusWord::OK, ARQC));
    // An offline approval is not affected.
    let (tap, _) = tap_again(&mut layer, DEBIT, "36000080", 100);
    assert_eq!(iad_type(&tap.gpo), TC);
    drop(layer);
    assert_eq!(
        card.application_mut::<PbocApplication>().unwrap().atc(),
        0x12
    );

    let blocked = with_first(profile("qpboc-debit-offline"), |p| p.blocked = true);
    let mut card = blocked.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let response = send(
        &mut layer,
        &Command::select_aid(&DEBIT.parse().unwrap(), Occurrence::First),
    );
    assert_eq!(response.sw, StatusWord::SELECTED_FILE_INVALIDATED);
    let gpo = send(
        &mut layer,
        &Command::get_processing_options(&[0; 34]).unwrap(),
    );
    assert_eq!(gpo.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
}

/// Contact transaction: PSE, GPO, records, DDA, first GAC ARQC with CDA, host, EXTERNAL
/// AUTHENTICATE, issuer scripts, second GAC TC with CDA.
#[test]
fn contact_dda_cda_arpc_and_issuer_scripts() {
    let store = capks();
    let card_profile = profile("qpboc-debit-offline");
    let host = host_for(&card_profile);
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let pse = read_pse_directory(&mut layer).unwrap();
    assert_eq!(pse[0].aid.as_bytes(), h(DEBIT));
    let mut terminal = Terminal::new("00000000", 30_000);
    terminal.set(tags::EC_TERMINAL_SUPPORT_INDICATOR, &[0x00]);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    let aip = Aip::from_slice(&tap.gpo[&tags::AIP]).unwrap();
    assert!(aip.contains(Aip::CDA_SUPPORTED) && aip.contains(Aip::DDA_SUPPORTED));
    let (records, static_data) =
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    let icc = icc_key(&store, &records, &static_data).unwrap();

    // DDA.
    let ddol_data = terminal.dol_data(&records[&tags::DDOL]);
    let ia = send(
        &mut layer,
        &Command::internal_authenticate(&ddol_data).unwrap(),
    );
    let sdad = &objects(&ia.data)[&tags::SIGNED_DYNAMIC_APPLICATION_DATA];
    let dda = verify_sdad(&icc, sdad, &ddol_data, SdadFormats::DDA).unwrap();
    assert_eq!(dda.icc_dynamic_number().len(), 8);
    assert!(verify_sdad(&icc, sdad, &[0, 0, 0, 0], SdadFormats::DDA).is_err());

    // First GENERATE AC: TC asked, the EC indicator is off, so the card asks for ARQC; CDA.
    let cdol1_data = terminal.dol_data(&records[&tags::CDOL1]);
    let gac = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, true, &cdol1_data).unwrap(),
    );
    assert_eq!(gac.sw, StatusWord::OK);
    let first = objects(&gac.data);
    assert_eq!(first[&tags::CID], [0x80]);
    assert!(!first.contains_key(&tags::APPLICATION_CRYPTOGRAM));
    let response_objects: Vec<Vec<u8>> = [tags::CID, tags::ATC, tags::ISSUER_APPLICATION_DATA]
        .iter()
        .map(|t| tlv::encoded(*t, &first[t]))
        .collect();
    let pieces = |extra: &[u8]| -> Vec<Vec<u8>> {
        let mut v = vec![tap.pdol_data.clone(), cdol1_data.clone(), extra.to_vec()];
        v.extend(response_objects.iter().cloned());
        v
    };
    let transaction = pieces(&[]);
    let refs: Vec<&[u8]> = transaction.iter().map(Vec::as_slice).collect();
    let un = terminal.get(tags::UNPREDICTABLE_NUMBER);
    let cda = verify_cda(
        &icc,
        &first[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
        &un,
        &refs,
        0x80,
    )
    .unwrap();
    assert_eq!(cda.cid(), 0x80);
    assert!(matches!(
        verify_cda(
            &icc,
            &first[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
            &un,
            &refs[1..],
            0x80
        ),
        Err(OdaError::TransactionDataHashMismatch)
    ));
    let arqc = cda.application_cryptogram().to_vec();
    let mut card_objects = first.clone();
    card_objects.insert(tags::AIP, tap.gpo[&tags::AIP].clone());
    let authorisation = host
        .authorise(
            "6228480012345671",
            0x01,
            &icc_data(&terminal, &card_objects, &arqc),
        )
        .unwrap();
    assert!(authorisation.cryptogram_valid);

    // Issuer authentication.
    let ea = send(
        &mut layer,
        &Command::external_authenticate(&authorisation.issuer_authentication_data()).unwrap(),
    );
    assert_eq!(ea.sw, StatusWord::OK);
    let again = send(
        &mut layer,
        &Command::external_authenticate(&authorisation.issuer_authentication_data()).unwrap(),
    );
    assert_eq!(again.sw, StatusWord::CONDITIONS_NOT_SATISFIED);

    // Issuer scripts: EC load 600.00, a bad MAC, then the new balance and the load log.
    let (pan, session) = ("6228480012345671", authorisation.session);
    let load = host
        .put_data_amount(pan, 1, &session, tags::EC_BALANCE, 60_000)
        .unwrap();
    let mut bad = load.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(send_raw(&mut layer, &bad).sw, StatusWord::SM_DATA_INCORRECT);
    assert_eq!(send_raw(&mut layer, &load).sw, StatusWord::OK);
    let limit = host
        .put_data_amount(pan, 1, &session, tags::EC_BALANCE_LIMIT, 1)
        .unwrap();
    assert_eq!(send_raw(&mut layer, &limit).sw, StatusWord::INCORRECT_DATA);
    let threshold = host
        .put_data_amount(pan, 1, &session, tags::EC_RESET_THRESHOLD, 2_000)
        .unwrap();
    assert_eq!(send_raw(&mut layer, &threshold).sw, StatusWord::OK);
    assert_eq!(ec_balance(&mut layer), 60_000);
    let log = send(
        &mut layer,
        &Command::read_record(1, Sfi::new(12).unwrap()).unwrap(),
    );
    assert_eq!(&log.data[..14], &h("9F79000000050000000000060000")[..]);

    // Second GENERATE AC: TC with CDA over PDOL ‖ CDOL1 ‖ CDOL2 data and the response.
    let mut terminal2 = Terminal::new("00000000", 30_000);
    terminal2.set(Tag::new(0x8A), b"00");
    let cdol2_data = terminal2.dol_data(&records[&tags::CDOL2]);
    let gac2 = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, true, &cdol2_data).unwrap(),
    );
    let second = objects(&gac2.data);
    assert_eq!(second[&tags::CID], [0x40]);
    assert_eq!(second[&tags::ISSUER_APPLICATION_DATA][4], 0x60);
    let mut transaction = vec![
        tap.pdol_data.clone(),
        cdol1_data.clone(),
        cdol2_data.clone(),
    ];
    for t in [tags::CID, tags::ATC, tags::ISSUER_APPLICATION_DATA] {
        transaction.push(tlv::encoded(t, &second[&t]));
    }
    let refs: Vec<&[u8]> = transaction.iter().map(Vec::as_slice).collect();
    verify_cda(
        &icc,
        &second[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
        &un,
        &refs,
        0x40,
    )
    .unwrap();
    let third = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, false, &cdol2_data).unwrap(),
    );
    assert_eq!(third.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    // Scripts still work after the final GENERATE AC (template 72): block the application.
    let block = host.application_block(pan, 1, &session).unwrap();
    assert_eq!(send_raw(&mut layer, &block).sw, StatusWord::OK);
    let reselect = send(
        &mut layer,
        &Command::select_aid(&DEBIT.parse().unwrap(), Occurrence::First),
    );
    assert_eq!(reselect.sw, StatusWord::SELECTED_FILE_INVALIDATED);
    drop(layer);
    let app = card.application_mut::<PbocApplication>().unwrap();
    assert!(app.is_blocked());
    assert_eq!(app.last_online_atc(), app.atc());
    assert_eq!(app.transaction_log().count(), 1);
}

#[test]
fn failed_issuer_authentication_turns_the_second_tc_into_aac() {
    let card_profile = profile("qpboc-credit-online");
    let mut host = host_for(&card_profile);
    host.set_decision(IssuerDecision::Decline);
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new("00000000", 100);
    let (tap, _) = run_tap(&mut layer, CREDIT, &terminal);
    let (records, _) = read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    let cdol1_data = terminal.dol_data(&records[&tags::CDOL1]);
    let gac = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Arqc, false, &cdol1_data).unwrap(),
    );
    let mut first = objects(&gac.data);
    assert_eq!(first[&tags::CID], [0x80]);
    first.insert(tags::AIP, tap.gpo[&tags::AIP].clone());
    let arqc = first[&tags::APPLICATION_CRYPTOGRAM].clone();
    let response = host
        .authorise("6250940012345675", 1, &icc_data(&terminal, &first, &arqc))
        .unwrap();
    assert!(response.cryptogram_valid && !response.approved);
    let mut wrong = response.issuer_authentication_data();
    wrong[0] ^= 1;
    let ea = send(&mut layer, &Command::external_authenticate(&wrong).unwrap());
    assert_eq!(ea.sw, StatusWord::AUTHENTICATION_FAILED);
    let cdol2_data = terminal.dol_data(&records[&tags::CDOL2]);
    let gac2 = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, false, &cdol2_data).unwrap(),
    );
    assert_eq!(objects(&gac2.data)[&tags::CID], [0x00]);
    drop(layer);
    let app = card.application_mut::<PbocApplication>().unwrap();
    assert_eq!(app.last_online_atc(), 1000);
}

#[test]
fn contact_ec_transaction_is_approved_offline() {
    let mut card = profile("qpboc-debit-offline").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new("00000000", 12_345);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    let (records, _) = read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    assert_eq!(records[&tags::EC_ISSUER_AUTHORISATION_CODE], b"ECC001");
    let cdol1_data = terminal.dol_data(&records[&tags::CDOL1]);
    let gac = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, false, &cdol1_data).unwrap(),
    );
    let objects = objects(&gac.data);
    assert_eq!(objects[&tags::CID], [0x40]);
    assert_eq!(objects[&tags::ISSUER_APPLICATION_DATA][4], 0x90);
    assert_eq!(ec_balance(&mut layer), 50_000 - 12_345);
}

#[test]
fn sm2_card_chain_and_fdda() {
    let store = capks();
    let mut card = profile("pboc3-sm2").build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new(TTQ_ONLINE, 1_000);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    assert!(hex::encode_upper(&tap.fci[&tags::PDOL]).ends_with("9F7A01DF6901"));
    assert_eq!(iad_type(&tap.gpo), TC);
    let (records, static_data) =
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    assert_eq!(records[&tags::CA_PUBLIC_KEY_INDEX], [0xF2]);
    assert_eq!(records[&tags::ISSUER_PUBLIC_KEY_CERTIFICATE][0], 0x12);
    assert_eq!(records[&tags::ICC_PUBLIC_KEY_CERTIFICATE][0], 0x14);
    assert!(!records.contains_key(&tags::ISSUER_PUBLIC_KEY_EXPONENT));
    let issuer = issuer_key(&store, &records).unwrap();
    assert_eq!(issuer.certificate_serial(), [0x00, 0x07, 0x77]);
    let icc = icc_key(&store, &records, &static_data).unwrap();
    assert!(icc.sm2_public_key().is_some());
    let sdad = &tap.gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA];
    assert_eq!(sdad[0], 0x15);
    let signature = verify_sdad(
        &icc,
        sdad,
        &fdda_data(&terminal, &tap.gpo),
        SdadFormats::FDDA,
    )
    .unwrap();
    assert_eq!(signature.icc_dynamic_number(), &tap.gpo[&tags::ATC][..]);
    assert!(verify_sdad(
        &icc,
        sdad,
        &terminal.get(tags::UNPREDICTABLE_NUMBER),
        SdadFormats::FDDA
    )
    .is_err());

    // Without SM support the card cannot be authenticated offline: online, or AAC offline.
    let mut no_sm = Terminal::new(TTQ_ONLINE, 1_000);
    no_sm.set(tags::SM_ALGORITHM_SUPPORT_INDICATOR, &[0x00]);
    let (tap, _) = run_tap(&mut layer, DEBIT, &no_sm);
    assert_eq!(iad_type(&tap.gpo), ARQC);
    let mut no_sm_offline = Terminal::new(TTQ_OFFLINE, 1_000);
    no_sm_offline.set(tags::SM_ALGORITHM_SUPPORT_INDICATOR, &[0x00]);
    let (tap, _) = run_tap(&mut layer, DEBIT, &no_sm_offline);
    assert_eq!(iad_type(&tap.gpo), AAC);

    // DDA with SM2 on the contact path.
    let (_, _) = tap_again(&mut layer, DEBIT, "00000000", 1);
    let ia = send(
        &mut layer,
        &Command::internal_authenticate(&[1, 2, 3, 4]).unwrap(),
    );
    let sdad = &objects(&ia.data)[&tags::SIGNED_DYNAMIC_APPLICATION_DATA];
    verify_sdad(&icc, sdad, &[1, 2, 3, 4], SdadFormats::DDA).unwrap();
}

#[test]
fn tampered_sdad_fails_verification() {
    let store = capks();
    for (name, expect_sm2) in [("qpboc-debit-offline", false), ("pboc3-sm2", true)] {
        let card_profile = with_first(profile(name), |p| p.faults.tamper_sdad = true);
        let mut card = card_profile.build().unwrap();
        let mut layer = ApduLayer::new(&mut card);
        let terminal = Terminal::new(TTQ_ONLINE, 100);
        let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
        assert_eq!(iad_type(&tap.gpo), TC);
        let (records, static_data) =
            read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
        let icc = icc_key(&store, &records, &static_data).unwrap();
        let err = verify_sdad(
            &icc,
            &tap.gpo[&tags::SIGNED_DYNAMIC_APPLICATION_DATA],
            &fdda_data(&terminal, &tap.gpo),
            SdadFormats::FDDA,
        )
        .unwrap_err();
        let expected = if expect_sm2 {
            OdaError::SignatureInvalid {
                object: OdaObject::Sdad,
            }
        } else {
            OdaError::HashMismatch {
                object: OdaObject::Sdad,
            }
        };
        assert_eq!(err, expected, "{name}");
    }
}

#[test]
fn certificate_faults_fail_where_they_should() {
    let store = capks();
    let read = |edit: fn(&mut PbocProfile)| {
        let mut card = with_first(profile("qpboc-debit-offline"), edit)
            .build()
            .unwrap();
        let mut layer = ApduLayer::new(&mut card);
        let (tap, _) = tap_again(&mut layer, DEBIT, TTQ_ONLINE, 100);
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP])
    };
    let (records, _) = read(|p| p.faults.issuer_cert_expired = true);
    assert!(matches!(
        issuer_key(&store, &records),
        Err(OdaError::CertificateExpired {
            object: OdaObject::IssuerCertificate,
            ..
        })
    ));
    let (records, static_data) = read(|p| p.faults.icc_cert_expired = true);
    assert!(matches!(
        icc_key(&store, &records, &static_data),
        Err(OdaError::CertificateExpired {
            object: OdaObject::IccCertificate,
            ..
        })
    ));
    let (records, static_data) = read(|p| p.faults.tamper_static_data = true);
    assert_eq!(
        icc_key(&store, &records, &static_data).unwrap_err(),
        OdaError::HashMismatch {
            object: OdaObject::IccCertificate
        }
    );
    let (records, _) = read(|p| p.faults.wrong_capk_index = true);
    assert_eq!(records[&tags::CA_PUBLIC_KEY_INDEX], [0xFE]);
    assert!(store
        .get(Rid([0xA0, 0, 0, 3, 0x33]), CapkIndex(0xFE))
        .is_none());
    let (records, _) = read(|p| p.oda.issuer_cert_serial = "ABCDEF".into());
    assert_eq!(
        issuer_key(&store, &records).unwrap().certificate_serial(),
        [0xAB, 0xCD, 0xEF]
    );
    let (records, _) = read(|p| p.oda.algorithm = OdaAlgorithm::None);
    assert!(!records.contains_key(&tags::ICC_PUBLIC_KEY_CERTIFICATE));
}

#[test]
fn tampered_ac_is_rejected_by_the_host() {
    let card_profile = with_first(profile("qpboc-debit-offline"), |p| {
        p.faults.tamper_ac = true
    });
    let host = host_for(&card_profile);
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let terminal = Terminal::new(TTQ_ARQC, 100);
    let (tap, _) = run_tap(&mut layer, DEBIT, &terminal);
    let data = icc_data(&terminal, &tap.gpo, &tap.gpo[&tags::APPLICATION_CRYPTOGRAM]);
    assert!(!host.verify_arqc("6228480012345671", 1, &data).unwrap());
}

#[test]
fn contactless_full_pboc_path() {
    let store = capks();
    let card_profile = with_first(profile("qpboc-debit-offline"), |p| {
        p.contactless_path = quickpass_sim::pboc::ContactlessPath::Full;
    });
    let mut card = card_profile.build().unwrap();
    let mut layer = ApduLayer::new(&mut card);
    let (_, sw) = tap_again(&mut layer, DEBIT, TTQ_ONLINE, 100);
    assert_eq!(sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    let terminal = Terminal::new("66000080", 100);
    let (tap, sw) = run_tap(&mut layer, DEBIT, &terminal);
    assert_eq!(sw, StatusWord::OK);
    let aip = Aip::from_slice(&tap.gpo[&tags::AIP]).unwrap();
    assert!(aip.contains(Aip::CONTACTLESS_FULL_PBOC));
    assert!(!tap.gpo.contains_key(&tags::APPLICATION_CRYPTOGRAM));
    let (records, static_data) =
        read_records(&mut layer, &tap.gpo[&tags::AFL], &tap.gpo[&tags::AIP]);
    icc_key(&store, &records, &static_data).unwrap();
    let cdol1_data = terminal.dol_data(&records[&tags::CDOL1]);
    let gac = send(
        &mut layer,
        &Command::generate_ac(RequestedCryptogram::Tc, false, &cdol1_data).unwrap(),
    );
    assert_eq!(objects(&gac.data)[&tags::CID], [0x40]);
    assert_eq!(ec_balance(&mut layer), 49_900);
}

#[test]
fn profiles_document_every_field() {
    let doc = std::fs::read_to_string(vectors().join("cards/pboc.md")).unwrap();
    for field in [
        "aid",
        "label",
        "preferred_name",
        "priority",
        "kernel_id",
        "contactless",
        "contact",
        "language",
        "pan",
        "psn",
        "expiry",
        "effective",
        "service_code",
        "track2_discretionary",
        "cardholder_name",
        "issuer_country",
        "currency",
        "aip",
        "contactless_path",
        "records",
        "pdol",
        "cdol1",
        "cdol2",
        "ddol",
        "cvm_list",
        "iac_default",
        "iac_denial",
        "iac_online",
        "application_version",
        "auc",
        "ctq",
        "cap",
        "ec",
        "oda",
        "issuer_master_key",
        "issuer_smi_key",
        "dki",
        "atc",
        "last_online_atc",
        "pin",
        "pin_try_limit",
        "pin_try_counter",
        "blocked",
        "transaction_log",
        "load_log",
        "script_mac_length",
        "data",
        "faults",
        "prefer_contact_for_online",
        "offline_only",
        "allow_currency_mismatch",
        "balance",
        "balance_limit",
        "single_transaction_limit",
        "reset_threshold",
        "issuer_authorisation_code",
        "algorithm",
        "capk_index",
        "issuer_key",
        "icc_key",
        "issuer_identifier_digits",
        "issuer_cert_expiry",
        "issuer_cert_serial",
        "icc_cert_expiry",
        "icc_cert_serial",
        "tamper_sdad",
        "issuer_cert_expired",
        "icc_cert_expired",
        "wrong_capk_index",
        "tamper_static_data",
        "tamper_ac",
        "sfi",
        "records",
        "format",
        "tags",
    ] {
        assert!(
            doc.contains(&format!("`{field}`")),
            "pboc.md does not document `{field}`"
        );
    }
    for name in [
        "qpboc-debit-offline",
        "qpboc-credit-online",
        "pure-ec",
        "pboc3-sm2",
    ] {
        profile(name).build().unwrap();
    }
}

/// The kernel's own contactless flow (read_card + complete) against the simulated cards: an
/// offline approval with fDDA verified from the published CAPK, an online request whose field 55
/// the host accepts, a decline from the pure EC card, and the SM2 card.
#[test]
fn kernel_contactless_flow_against_the_simulated_cards() {
    use quickpass::kernel::bits::CryptogramType;
    use quickpass::kernel::config::{KernelConfig, TerminalConfig};
    use quickpass::kernel::contactless::read_card;
    use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
    use quickpass::kernel::Outcome;
    use quickpass::kernel::TransactionInput;

    let terminal = |online: bool, sm: bool| {
        let text = format!(
            r#"{{
            "terminal": {{
                "country_code": 156, "currency_code": 156, "currency_exponent": 2,
                "terminal_type": "22", "capabilities": "E0E1C8", "additional_capabilities": "6000F0A001",
                "ifd_serial": "SIM00001", "ttq": "{ttq}", "online_capable": {online},
                "contact_supported": false, "sm_supported": {sm}
            }},
            "aids": [
                {{ "aid": "A000000333010101", "application_version": "0030", "tac_default": "0000000000",
                   "tac_denial": "0000000000", "tac_online": "0000000000", "floor_limit": 50000,
                   "contactless_floor_limit": 50000, "contactless_transaction_limit": 100000,
                   "ec_supported": true, "ec_terminal_limit": 50000 }},
                {{ "aid": "A000000333010106", "application_version": "0030", "tac_default": "0000000000",
                   "tac_denial": "0000000000", "tac_online": "0000000000", "floor_limit": 50000,
                   "contactless_floor_limit": 50000, "contactless_transaction_limit": 100000,
                   "ec_supported": true, "ec_terminal_limit": 50000 }}
            ]
        }}"#,
            ttq = if online { "26000080" } else { "28000080" },
        );
        KernelConfig::new(TerminalConfig::from_json(&text).unwrap(), capks())
    };
    let input = |amount: u64| TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2025, 6, 1).unwrap(),
        time: TransactionTime::new(12, 0, 0).unwrap(),
        unpredictable_number: [0x11, 0x22, 0x33, 0x44],
    };
    let run = |card: &mut VirtualCard, config: &KernelConfig, amount: u64| {
        let mut layer = ApduLayer::new(card);
        read_card(config, &input(amount), &mut layer)
            .unwrap()
            .complete(config)
    };

    let online = terminal(true, false);
    let mut debit = profile("qpboc-debit-offline").build().unwrap();
    let result = run(&mut debit, &online, 1_000);
    assert_eq!(result.outcome, Outcome::Approved, "{:?}", result.reason);
    assert_eq!(result.ec_balance().map(Amount::minor), Some(49_000));

    // Above the single transaction limit: online, and the host accepts field 55.
    let result = run(&mut debit, &online, 30_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.reason
    );
    // The card's qPBOC ARQC covers the TVR sent in the GPO (the PDOL data); the kernel's field
    // 55 carries exactly that, so the host verifies it as sent.
    let host = host_for(&profile("qpboc-debit-offline"));
    let field_55 = result.field_55.clone().unwrap();
    let sent_tvr = result.card_phase.values().get(tags::TVR).unwrap().to_vec();
    let mut icc_data = Vec::new();
    for object in tlv::parse_sequence(&field_55).unwrap() {
        let value = if object.tag() == tags::TVR {
            sent_tvr.clone()
        } else {
            object.value().to_vec()
        };
        tlv::encode(object.tag(), &value, &mut icc_data);
    }
    let response = host.authorise("6228480012345671", 0x01, &icc_data).unwrap();
    assert!(response.cryptogram_valid);
    let as_sent = host.authorise("6228480012345671", 0x01, &field_55).unwrap();
    assert!(as_sent.cryptogram_valid);

    // A tampered SDAD is caught by the kernel: not approved offline.
    let mut tampered = with_first(profile("qpboc-debit-offline"), |p| {
        p.faults.tamper_sdad = true
    })
    .build()
    .unwrap();
    let result = run(&mut tampered, &online, 1_000);
    assert_ne!(result.outcome, Outcome::Approved);

    let offline = terminal(false, false);
    let mut pure = profile("pure-ec").build().unwrap();
    assert_eq!(run(&mut pure, &offline, 20_000).outcome, Outcome::Declined);
    assert_eq!(run(&mut pure, &offline, 2_000).outcome, Outcome::Approved);

    // The SM2 card gives a TC with an SM2 fDDA signature to an SM terminal (checked with the
    // crypto crate in `sm2_card_chain_and_fdda`). ⚠ The kernel's fDDA does not approve it yet:
    // it asks for the issuer exponent 9F32, which SM2 certificates do not have.
    let mut sm2 = profile("pboc3-sm2").build().unwrap();
    let result = run(&mut sm2, &terminal(true, true), 1_000);
    assert_eq!(result.cryptogram_type, Some(CryptogramType::Tc));
    assert!(result
        .card_phase
        .card()
        .get(tags::SIGNED_DYNAMIC_APPLICATION_DATA)
        .is_some_and(|sdad| sdad[0] == 0x15));
    let result = run(&mut sm2, &terminal(true, false), 1_000);
    assert_eq!(
        result.outcome,
        Outcome::OnlineRequest,
        "{:?}",
        result.reason
    );
}
