//! End to end through the real PC/SC stack:
//! `PcscTransport` → libpcsclite → pcscd → vpcd driver → TCP → `vpcd::serve` → `VirtualCard`.
//!
//! Needs pcscd running with vsmartcard's vpcd driver (`.ci/test` installs and starts both). The
//! card is served in-process on the second vpcd slot ("Virtual PCD 00 01", port 35964), so a
//! `serve_card` example running on the first slot does not get in the way. One card connection
//! serves the whole binary (a card swap through pcscd costs ~0.8 s): each test swaps the card
//! object behind it and starts from a reset.
//!
//! Without pcscd every test says so on stderr and returns; under `CI=true` it fails instead. The
//! vpcd slots are held against other test processes (`pcsc_purse`, another checkout) for the life
//! of this one (`quickpass_sim::vpcd::hold_test_slots`).

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use quickpass::kernel::apdu::{Command, Occurrence, Purse};
use quickpass::kernel::dol::{Dol, DolValues};
use quickpass::kernel::internal::afl;
use quickpass::kernel::selection::read_ppse_directory;
use quickpass::kernel::transport::{ApduLayer, ExchangeError, Transport};
use quickpass::kernel::values::{Aid, Sfi, StatusWord};
use quickpass::kernel::Tag;
use quickpass::kernel::{tags, tlv};
use quickpass::pcsc::{Disposition, PcscError, PcscTransport, Protocol};
use quickpass_sim::card::CONTACTLESS_ATR;
use quickpass_sim::vpcd::{self, ServedCard};
use quickpass_sim::{CardProfile, VirtualCard};

const PORT: u16 = vpcd::SECOND_PORT;
const DEBIT_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01];
const TRANSIT_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05];

// ---------------------------------------------------------------------------------------------
// The cards: the project's profiles, personalised by the simulator.

fn profile_card(name: &str) -> VirtualCard {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/cards")
        .join(format!("{name}.json"));
    CardProfile::load(&path)
        .and_then(|profile| profile.build())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// UnionPay debit with EC (qPBOC offline) and a credit application.
fn debit_card() -> VirtualCard {
    profile_card("qpboc-debit-offline")
}

/// China T-Union transit purse, EP balance 50.00.
fn transit_card() -> VirtualCard {
    profile_card("transit-purse-capp")
}

/// The terminal data a qPBOC reader fills the PDOL from (offline-capable, CNY 1.00).
fn terminal() -> DolValues {
    let mut values = DolValues::new();
    let mut set = |tag: Tag, value: Vec<u8>| values.insert(tag, tags::format_of(tag), value);
    set(tags::TTQ, hex("28000080"));
    set(tags::AMOUNT_AUTHORISED, hex("000000000100"));
    set(tags::AMOUNT_OTHER, hex("000000000000"));
    set(tags::TERMINAL_COUNTRY_CODE, hex("0156"));
    set(tags::TVR, hex("0000000000"));
    set(tags::TRANSACTION_CURRENCY_CODE, hex("0156"));
    set(tags::TRANSACTION_DATE, hex("261128"));
    set(tags::TRANSACTION_TIME, hex("120000"));
    set(tags::TRANSACTION_TYPE, hex("00"));
    set(tags::UNPREDICTABLE_NUMBER, hex("1A2B3C4D"));
    set(tags::EC_TERMINAL_SUPPORT_INDICATOR, hex("01"));
    values
}

/// SELECTs `aid` and returns the PDOL data the terminal builds from its FCI.
fn select_and_build_pdol<T: Transport>(layer: &mut ApduLayer<T>, aid: &Aid) -> Vec<u8>
where
    T::Error: std::fmt::Debug,
{
    let select = layer
        .exchange(&Command::select_aid(aid, Occurrence::First))
        .expect("SELECT AID");
    assert_eq!(select.sw, StatusWord::OK);
    let fci = tlv::parse_single(&select.data).expect("FCI");
    assert_eq!(fci.tag(), tags::FCI_TEMPLATE);
    let proprietary = fci
        .find(tags::FCI_PROPRIETARY_TEMPLATE)
        .expect("A5")
        .expect("A5 present");
    let pdol = proprietary
        .find(tags::PDOL)
        .expect("PDOL")
        .expect("PDOL present");
    Dol::parse(pdol.value())
        .expect("PDOL parses")
        .build(&terminal())
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("test hex")
}

// ---------------------------------------------------------------------------------------------
// The fixture: one served card for the whole binary, one test at a time.

struct Slot {
    card: Arc<Mutex<VirtualCard>>,
    served: Option<ServedCard<Arc<Mutex<VirtualCard>>>>,
}

static SLOT: Mutex<Option<Slot>> = Mutex::new(None);

/// A test's connection to the served card.
/// Fields drop in order: the transport first (its handle resets the card as it goes), and only
/// then the slot guard, so the next test never connects before the previous handle's reset.
struct Session {
    transport: PcscTransport,
    reader: String,
    slot: MutexGuard<'static, Option<Slot>>,
}

/// pcscd (or its vpcd reader) is missing: fail under CI, otherwise say so visibly and skip.
fn unavailable<T>(reason: &str) -> Option<T> {
    let test = std::thread::current()
        .name()
        .unwrap_or("pcsc_vpcd")
        .to_owned();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {reason} (CI=true: PC/SC tests must run)"
    );
    // Straight to the process's stderr: libtest's capture only takes print!/eprint!.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    None
}

/// Puts `card` in the reader and connects to it, or `None` (after saying why) when pcscd or
/// the vpcd reader is not there.
fn insert(card: VirtualCard) -> Option<Session> {
    let mut slot = SLOT.lock().unwrap_or_else(|e| e.into_inner());
    let mut transport = match PcscTransport::new() {
        Ok(transport) => transport,
        Err(PcscError::NoService) => {
            return unavailable("pcscd not running: start it as .ci/test does")
        }
        Err(e) => panic!("establishing a PC/SC context: {e}"),
    };
    quickpass_sim::vpcd::hold_test_slots();
    let readers = transport.list_readers().expect("list readers");
    let Some(reader) = readers
        .into_iter()
        .find(|r| r.starts_with("Virtual PCD") && r.ends_with(" 01"))
    else {
        return unavailable(
            "no \"Virtual PCD .. 01\" reader: install vsmartcard-vpcd and restart pcscd",
        );
    };
    let state = slot.get_or_insert_with(|| Slot {
        card: Arc::new(Mutex::new(VirtualCard::new(Vec::new(), false, false))),
        served: None,
    });
    *state.card.lock().unwrap_or_else(|e| e.into_inner()) = card;
    if state.served.is_none() {
        // After a removal, let pcscd see the reader empty before the card comes back.
        transport
            .wait_for_removal(&reader, Duration::from_secs(3))
            .expect("reader empty before insertion");
        let served = vpcd::spawn(Arc::clone(&state.card), vpcd::localhost(PORT))
            .expect("spawn the card thread");
        state.served = Some(served);
    }
    let atr = transport
        .wait_for_card(&reader, Duration::from_secs(5))
        .expect("card present within 5 s");
    assert_eq!(atr, CONTACTLESS_ATR);
    // Just after a card swap pcscd may still be powering the card up (it polls every 400 ms):
    // a connect can fail once with a protocol error. Retry for up to 2 s.
    let mut attempts = 0;
    let protocol = loop {
        match transport.connect(&reader) {
            Ok(protocol) => break protocol,
            Err(error) if attempts < 20 => {
                attempts += 1;
                eprintln!("connect attempt {attempts}: {error}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("connect: {error:?}"),
        }
    };
    assert_eq!(protocol, Protocol::T1, "vpcd always negotiates T=1");
    assert_eq!(transport.atr(), CONTACTLESS_ATR);
    Some(Session {
        transport,
        reader,
        slot,
    })
}

impl Session {
    fn layer(&mut self) -> ApduLayer<&mut PcscTransport> {
        ApduLayer::new(&mut self.transport)
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn ppse_select_gpo_and_records_through_pcscd() {
    let Some(mut session) = insert(debit_card()) else {
        return;
    };
    let mut layer = session.layer();

    let entries = read_ppse_directory(&mut layer).expect("PPSE");
    assert_eq!(entries[0].aid.as_bytes(), DEBIT_AID);
    assert_eq!(entries[0].label.as_deref(), Some("PBOC DEBIT"));

    let pdol_data = select_and_build_pdol(&mut layer, &entries[0].aid);
    let gpo = layer
        .exchange(&Command::get_processing_options(&pdol_data).expect("GPO command"))
        .expect("GPO");
    assert_eq!(gpo.sw, StatusWord::OK);
    let template = tlv::parse_single(&gpo.data).expect("GPO response");
    assert_eq!(template.tag(), Tag::new(0x77), "format 2 response");
    let afl_value = template.find(tags::AFL).expect("AFL").expect("AFL present");
    let entries = afl::parse_afl(afl_value.value()).expect("AFL parses");
    assert!(!entries.is_empty());

    let mut records = 0;
    for entry in &entries {
        for (record, _signed) in entry.records() {
            let response = layer
                .exchange(&Command::read_record(record, entry.sfi).expect("READ RECORD"))
                .expect("READ RECORD exchange");
            assert_eq!(
                response.sw,
                StatusWord::OK,
                "SFI {:?} record {record}",
                entry.sfi
            );
            assert_eq!(response.data.first(), Some(&0x70), "record template");
            records += 1;
        }
    }
    assert!(records > 0);
    assert_eq!(layer.counters().apdus_sent, 3 + records);
}

#[test]
fn transit_purse_balance_through_pcscd() {
    let Some(mut session) = insert(transit_card()) else {
        return;
    };
    let mut layer = session.layer();
    let aid = Aid::new(&TRANSIT_AID).expect("AID");
    let select = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("SELECT purse");
    assert_eq!(select.sw, StatusWord::OK);
    let balance = layer
        .exchange(&Command::get_balance(Purse::Purse))
        .expect("GET BALANCE exchange");
    assert_eq!(balance.sw, StatusWord::OK);
    assert_eq!(balance.data, 5000u32.to_be_bytes(), "EP balance 50.00");
}

#[test]
fn reset_and_reconnect_drop_session_state() {
    let Some(mut session) = insert(debit_card()) else {
        return;
    };
    let aid = Aid::new(&DEBIT_AID).expect("AID");
    let select = Command::select_aid(&aid, Occurrence::First);
    let read = Command::read_record(1, Sfi::new(1).expect("SFI")).expect("READ RECORD");
    let mut layer = session.layer();
    let pdol_data = select_and_build_pdol(&mut layer, &aid);
    let gpo = Command::get_processing_options(&pdol_data).expect("GPO");
    assert_eq!(layer.exchange(&gpo).expect("GPO").sw, StatusWord::OK);

    // A warm reset reaches the card as vpcd `02`: nothing is selected any more.
    assert_eq!(session.transport.reset().expect("reset"), Protocol::T1);
    let mut layer = session.layer();
    assert_eq!(
        layer.exchange(&read).expect("READ").sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // Leave the card as it is, connect again: the selection survives.
    assert_eq!(layer.exchange(&select).expect("SELECT").sw, StatusWord::OK);
    session
        .transport
        .disconnect(Disposition::LeaveCard)
        .expect("leave");
    assert!(matches!(
        session.transport.transmit(&read.to_bytes()),
        Err(PcscError::NotConnected)
    ));
    let reader = session.reader.clone();
    session.transport.connect(&reader).expect("connect again");
    let mut layer = session.layer();
    assert_eq!(layer.exchange(&gpo).expect("GPO").sw, StatusWord::OK);
}

#[test]
fn card_removed_mid_session_is_a_typed_error() {
    let Some(mut session) = insert(debit_card()) else {
        return;
    };
    let ppse = Command::select_ppse().to_bytes();
    let before = session.transport.transmit(&ppse).expect("PPSE");
    assert_eq!(before[before.len() - 2..], [0x90, 0x00]);

    // The card leaves the field: its thread stops and closes the socket.
    let slot = session.slot.as_mut().expect("slot in use");
    let served = slot.served.take().expect("card served");
    assert!(served.remove().is_some());

    let error = session
        .transport
        .transmit(&ppse)
        .expect_err("no card to answer");
    assert!(
        matches!(error, PcscError::CardRemoved | PcscError::NoCard),
        "got {error:?}"
    );
    // Through the APDU layer the same failure is a transport error, not a panic.
    let mut layer = session.layer();
    match layer.exchange(&Command::select_ppse()) {
        Err(ExchangeError::Transport(PcscError::CardRemoved | PcscError::NoCard)) => {}
        other => panic!("expected a typed removal, got {other:?}"),
    }
    // Reconnecting finds no card.
    let reader = session.reader.clone();
    match session.transport.connect(&reader) {
        Err(PcscError::NoCard | PcscError::CardRemoved) => {}
        other => panic!("expected no card, got {other:?}"),
    }
    // Leave the reader empty for the next test (it re-inserts the card).
    session
        .transport
        .wait_for_removal(&reader, Duration::from_secs(3))
        .expect("reader empty");
}

#[test]
fn unknown_reader_and_missing_card_are_typed() {
    let Some(mut session) = insert(debit_card()) else {
        return;
    };
    let mut other = PcscTransport::new().expect("context");
    assert_eq!(
        other.connect("No Such Reader 00 00").err(),
        Some(PcscError::UnknownReader)
    );
    assert_eq!(
        other
            .wait_for_card("No Such Reader 00 00", Duration::from_millis(200))
            .err(),
        Some(PcscError::UnknownReader)
    );
    assert_eq!(
        other.transmit(&[0x00, 0xA4, 0x04, 0x00]).err(),
        Some(PcscError::NotConnected)
    );
    // A second transport on the same reader shares the card (shared mode), as a second one
    // on a PSAM reader would hold the PSAM.
    let reader = session.reader.clone();
    other.connect(&reader).expect("shared connect");
    let response = other
        .transmit(&Command::select_ppse().to_bytes())
        .expect("PPSE through the second transport");
    assert_eq!(response[response.len() - 2..], [0x90, 0x00]);
    other.disconnect(Disposition::LeaveCard).expect("leave");
    let response = session
        .transport
        .transmit(&Command::select_ppse().to_bytes())
        .expect("PPSE");
    assert_eq!(response[response.len() - 2..], [0x90, 0x00]);
}
