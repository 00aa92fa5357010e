//! The simulated ED/EP purse, PSAM and purse host, driven through the kernel's APDU layer and
//! ED/EP command builders as a terminal would: purchases, loads, CAPP entry/exit, tears and
//! their recovery with GET TRANSACTION PROVE, and the pboc-notes §4.2 vectors.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use quickpass::crypto::purse::{LoadTacData, PurchaseTacData};
use quickpass::kernel::apdu::{Command, Occurrence, Purse, Response};
use quickpass::kernel::purse::layout::ProveOrder;
use quickpass::kernel::transport::{ApduLayer, ExchangeError, Transport};
use quickpass::kernel::values::{PurseAmount, Sfi, StatusWord, TransactionDate, TransactionTime};
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::host::purse::{HostCardIdentity, HostLoadRequest, PurseHost, PurseHostError};
use quickpass_sim::psam::PsamApplication;
use quickpass_sim::purse::{
    SimPurseApplication, SW_MAC_NOT_AVAILABLE, TRANSACTION_PROVE_ORDER, TYPE_CAPP_PURCHASE,
    TYPE_ED_LOAD, TYPE_EP_LOAD, TYPE_EP_PURCHASE,
};
use quickpass_sim::{ApplicationProfile, CardProfile, SimError, VirtualCard};

type Layer<T> = ApduLayer<T>;

const T_UNION_AID: &str = "A000000632010105";
const EF15: u8 = 0x15;

/// Fen as a purse amount.
fn fen(fen: u32) -> PurseAmount {
    PurseAmount::from_fen(fen)
}

fn profile(name: &str) -> CardProfile {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/cards")
        .join(format!("{name}.json"));
    CardProfile::load(path).unwrap()
}

fn purse_host(name: &str) -> PurseHost {
    let card = profile(name);
    let ApplicationProfile::Purse(purse) = &card.applications[0] else {
        panic!("{name} has no purse first")
    };
    PurseHost::from_purse_profile(purse, "applications[0]").unwrap()
}

fn sfi(value: u8) -> Sfi {
    Sfi::new(value).unwrap()
}

fn date() -> TransactionDate {
    TransactionDate::new(2024, 5, 17).unwrap()
}

fn time() -> TransactionTime {
    TransactionTime::new(8, 30, 15).unwrap()
}

fn expect_ok(response: Response) -> Vec<u8> {
    assert_eq!(response.sw, StatusWord::OK, "unexpected status");
    response.data
}

fn purse_of(card: &mut VirtualCard) -> &mut SimPurseApplication {
    card.application_mut::<SimPurseApplication>().unwrap()
}

/// Which card application a terminal talks to.
#[derive(Clone, Copy)]
enum Card {
    TUnion,
    Etc,
}

impl Card {
    fn select(self) -> Command {
        match self {
            Card::TUnion => Command::select_aid(&T_UNION_AID.parse().unwrap(), Occurrence::First),
            Card::Etc => Command::select_file_id(0x1001),
        }
    }

    fn psam_df(self) -> u16 {
        match self {
            Card::TUnion => 0x8011,
            Card::Etc => 0xDF01,
        }
    }

    fn two_level(self) -> bool {
        matches!(self, Card::Etc)
    }

    fn profile(self) -> &'static str {
        match self {
            Card::TUnion => "transit-purse-capp",
            Card::Etc => "etc-user-card",
        }
    }
}

/// The fields of an INITIALIZE FOR PURCHASE response (pboc-notes §4.1).
#[derive(Debug, Clone, Copy)]
struct InitPurchase {
    balance: u32,
    atc: u16,
    key_version: u8,
    algorithm_id: u8,
    random: [u8; 4],
}

impl InitPurchase {
    fn parse(data: &[u8]) -> InitPurchase {
        assert_eq!(data.len(), 15, "INITIALIZE FOR PURCHASE answers 15 bytes");
        InitPurchase {
            balance: u32::from_be_bytes(data[..4].try_into().unwrap()),
            atc: u16::from_be_bytes([data[4], data[5]]),
            key_version: data[9],
            algorithm_id: data[10],
            random: data[11..15].try_into().unwrap(),
        }
    }
}

/// A PSAM session prepared for one card.
struct Psam {
    layer: Layer<VirtualCard>,
    terminal_id: [u8; 6],
    key_index: u8,
}

impl Psam {
    fn open(df: u16) -> Psam {
        let mut layer = ApduLayer::new(profile("psam").build().unwrap());
        expect_ok(layer.exchange(&Command::select_file_id(df)).unwrap());
        let terminal_id = expect_ok(
            layer
                .exchange(&Command::read_binary_sfi(sfi(0x16), 0, 6))
                .unwrap(),
        );
        let key_index = expect_ok(
            layer
                .exchange(&Command::read_binary_sfi(sfi(0x17), 0, 1))
                .unwrap(),
        );
        Psam {
            layer,
            terminal_id: terminal_id.try_into().unwrap(),
            key_index: key_index[0],
        }
    }

    /// INIT SAM FOR PURCHASE (`80 70`, §4.3 step 5) → (terminal serial, MAC1).
    #[allow(clippy::too_many_arguments)]
    fn init(
        &mut self,
        init: &InitPurchase,
        amount: u32,
        transaction_type: u8,
        serial: &[u8; 8],
        second: Option<&[u8; 8]>,
        date: TransactionDate,
        time: TransactionTime,
    ) -> Response {
        let mut data = Vec::new();
        data.extend_from_slice(&init.random);
        data.extend_from_slice(&init.atc.to_be_bytes());
        data.extend_from_slice(&amount.to_be_bytes());
        data.push(transaction_type);
        data.extend_from_slice(&date.to_yyyymmdd_bcd());
        data.extend_from_slice(&time.to_bcd());
        data.push(init.key_version);
        data.push(init.algorithm_id);
        data.extend_from_slice(serial);
        if let Some(second) = second {
            data.extend_from_slice(second);
        }
        let command = Command::new(0x80, 0x70, 0, 0, data, Some(0x08)).unwrap();
        self.layer.exchange(&command).unwrap()
    }

    fn credit(&mut self, mac2: &[u8]) -> StatusWord {
        let command = Command::new(0x80, 0x72, 0, 0, mac2.to_vec(), None).unwrap();
        self.layer.exchange(&command).unwrap().sw
    }

    /// DES INIT `80 1A 44 <version>` with the card's factors (pboc-notes §4.3 step 8 ⚠).
    fn des_init(
        &mut self,
        key_version: u8,
        serial: &[u8; 8],
        second: Option<&[u8; 8]>,
    ) -> Response {
        let mut factors = serial.to_vec();
        factors.extend(second.into_iter().flatten());
        let command = Command::new(0x80, 0x1A, 0x44, key_version, factors, None).unwrap();
        self.layer.exchange(&command).unwrap()
    }

    /// DES CRYPT `80 FA 05 00`: IV zero ‖ `message` padded `80 00…` by hand.
    fn des_crypt(&mut self, message: &[u8]) -> Response {
        let mut data = vec![0u8; 8];
        data.extend_from_slice(message);
        data.push(0x80);
        while data.len() % 8 != 0 {
            data.push(0);
        }
        let command = Command::new(0x80, 0xFA, 0x05, 0x00, data, Some(0)).unwrap();
        self.layer.exchange(&command).unwrap()
    }
}

/// What a completed purchase leaves with the terminal.
#[derive(Debug)]
struct Receipt {
    init: InitPurchase,
    terminal_serial: u32,
    tac: [u8; 4],
    mac2: [u8; 4],
    ef15: Vec<u8>,
}

type CardLayer = Layer<FaultyCard<VirtualCard>>;
type Step<T> = Result<T, ExchangeError<SimError>>;

/// The card half of a purchase up to INITIALIZE (SELECT, READ BINARY EF15, GET BALANCE, INIT).
fn start_purchase(
    layer: &mut CardLayer,
    card: Card,
    psam: &Psam,
    amount: u32,
    capp: bool,
) -> Step<(Vec<u8>, Response)> {
    let fci = layer.exchange(&card.select())?;
    assert_eq!(fci.sw, StatusWord::OK);
    let ef15_len = if matches!(card, Card::Etc) {
        0x2B
    } else {
        0x1E
    };
    let ef15 = expect_ok(layer.exchange(&Command::read_binary_sfi(sfi(EF15), 0, ef15_len))?);
    let balance = layer.exchange(&Command::get_balance(Purse::Purse))?;
    assert_eq!(balance.sw, StatusWord::OK);
    let amount = fen(amount);
    let init = if capp {
        Command::initialize_for_capp_purchase(psam.key_index, amount, &psam.terminal_id)
    } else {
        Command::initialize_for_purchase(Purse::Purse, psam.key_index, amount, &psam.terminal_id)
    };
    Ok((ef15, layer.exchange(&init)?))
}

fn identity(card: Card, ef15: &[u8]) -> ([u8; 8], Option<[u8; 8]>) {
    let serial: [u8; 8] = ef15[12..20].try_into().unwrap();
    let second = card.two_level().then(|| ef15[..8].try_into().unwrap());
    (serial, second)
}

/// The rest: PSAM `80 70`, DEBIT, PSAM `80 72`.
fn finish_purchase(
    layer: &mut CardLayer,
    card: Card,
    psam: &mut Psam,
    ef15: Vec<u8>,
    init: InitPurchase,
    amount: u32,
    transaction_type: u8,
) -> Step<Receipt> {
    let (serial, second) = identity(card, &ef15);
    let sam = expect_ok(psam.init(
        &init,
        amount,
        transaction_type,
        &serial,
        second.as_ref(),
        date(),
        time(),
    ));
    let terminal_serial = u32::from_be_bytes(sam[..4].try_into().unwrap());
    let mac1: [u8; 4] = sam[4..8].try_into().unwrap();
    let debit = layer.exchange(&Command::debit_for_purchase(
        terminal_serial,
        date(),
        time(),
        &mac1,
    ))?;
    let data = expect_ok(debit);
    assert_eq!(data.len(), 8);
    assert_eq!(
        psam.credit(&data[4..8]),
        StatusWord::OK,
        "PSAM accepts MAC2"
    );
    Ok(Receipt {
        init,
        terminal_serial,
        tac: data[..4].try_into().unwrap(),
        mac2: data[4..8].try_into().unwrap(),
        ef15,
    })
}

fn purchase(layer: &mut CardLayer, card: Card, psam: &mut Psam, amount: u32) -> Step<Receipt> {
    let (ef15, init) = start_purchase(layer, card, psam, amount, false)?;
    let init = InitPurchase::parse(&expect_ok(init));
    finish_purchase(layer, card, psam, ef15, init, amount, TYPE_EP_PURCHASE)
}

fn card_layer(card: Card) -> CardLayer {
    ApduLayer::new(FaultyCard::new(profile(card.profile()).build().unwrap()))
}

fn tac_data(
    receipt: &Receipt,
    amount: u32,
    transaction_type: u8,
    terminal_id: [u8; 6],
) -> PurchaseTacData {
    PurchaseTacData {
        amount,
        transaction_type,
        terminal_id,
        terminal_serial: receipt.terminal_serial,
        date: date().to_yyyymmdd_bcd(),
        time: time().to_bcd(),
    }
}

fn host_identity(card: Card, ef15: &[u8]) -> HostCardIdentity {
    if card.two_level() {
        HostCardIdentity::from_ef15_two_level(ef15).unwrap()
    } else {
        HostCardIdentity::from_ef15(ef15).unwrap()
    }
}

#[test]
fn full_purchase_debits_logs_and_settles() {
    let mut layer = card_layer(Card::TUnion);
    let mut psam = Psam::open(Card::TUnion.psam_df());
    let receipt = purchase(&mut layer, Card::TUnion, &mut psam, 200).unwrap();
    assert_eq!(receipt.init.balance, 5000);
    assert_eq!(receipt.init.atc, 16);
    assert_eq!(receipt.terminal_serial, 1);

    // The host verifies the TAC with the issuer TAC master key; a flipped bit fails.
    let host = purse_host("transit-purse-capp");
    let id = host_identity(Card::TUnion, &receipt.ef15);
    let data = tac_data(&receipt, 200, TYPE_EP_PURCHASE, psam.terminal_id);
    host.verify_purchase_tac(&id, 1, &data, &receipt.tac)
        .unwrap();
    let mut bad = receipt.tac;
    bad[0] ^= 1;
    assert_eq!(
        host.verify_purchase_tac(&id, 1, &data, &bad),
        Err(PurseHostError::TacInvalid)
    );
    // So does the PSAM's helper.
    let sam = psam
        .layer
        .transport_mut()
        .application_mut::<PsamApplication>()
        .unwrap();
    sam.verify_purchase_tac(1, &id.serial, None, &data, &receipt.tac)
        .unwrap();

    // Balance, counter and the newest EF18 record.
    let balance = expect_ok(layer.exchange(&Command::get_balance(Purse::Purse)).unwrap());
    assert_eq!(balance, 4800u32.to_be_bytes());
    let log = expect_ok(
        layer
            .exchange(&Command::read_record(1, sfi(0x18)).unwrap())
            .unwrap(),
    );
    let mut expected = vec![0x00, 0x11, 0, 0, 0, 0, 0, 0, 200, TYPE_EP_PURCHASE];
    expected.extend_from_slice(&psam.terminal_id);
    expected.extend_from_slice(&date().to_yyyymmdd_bcd());
    expected.extend_from_slice(&time().to_bcd());
    assert_eq!(log, expected);
    assert_eq!(
        layer
            .exchange(&Command::read_record(2, sfi(0x18)).unwrap())
            .unwrap()
            .sw,
        StatusWord::RECORD_NOT_FOUND
    );
    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(card.offline_counter(), 17);
    assert!(!card.in_session());
}

#[test]
fn t_union_fci_directory_and_files() {
    let mut layer = card_layer(Card::TUnion);
    let ppse = expect_ok(layer.exchange(&Command::select_ppse()).unwrap());
    assert!(hex::encode_upper(&ppse).contains("4F08A000000632010105"));
    let fci = expect_ok(layer.exchange(&Card::TUnion.select()).unwrap());
    let ef15 = expect_ok(
        layer
            .exchange(&Command::read_binary_sfi(sfi(EF15), 0, 0x1E))
            .unwrap(),
    );
    assert_eq!(ef15.len(), 30);
    // 6F { 84 AID, A5 { 50, 9F08, 9F0C <EF15> } }
    let fci_hex = hex::encode_upper(&fci);
    assert!(fci_hex.starts_with("6F"));
    assert!(fci_hex.contains(&format!("9F0C1E{}", hex::encode_upper(&ef15))));
    assert!(fci_hex.contains("9F08020002"));
    // READ BINARY with an offset, a wrong Le (6Cxx, re-sent by the layer) and a missing file.
    let tail = expect_ok(
        layer
            .exchange(&Command::read_binary_sfi(sfi(EF15), 20, 4))
            .unwrap(),
    );
    assert_eq!(tail, hex::decode("20240101").unwrap());
    let resent = expect_ok(
        layer
            .exchange(&Command::read_binary_sfi(sfi(EF15), 28, 9))
            .unwrap(),
    );
    assert_eq!(resent, vec![0, 0]);
    let missing = layer
        .exchange(&Command::read_binary_sfi(sfi(0x05), 0, 1))
        .unwrap();
    assert_eq!(missing.sw, StatusWord::FILE_NOT_FOUND);
    // GET BALANCE variants (⚠ P1 meanings) and no ED on this card.
    for (p1, value) in [(0u8, 5000u32), (1, 0), (2, 0), (3, 5000)] {
        let response = layer
            .exchange(&Command::get_balance_variant(p1, Purse::Purse))
            .unwrap();
        assert_eq!(expect_ok(response), value.to_be_bytes(), "P1 {p1}");
    }
    let ed = layer
        .exchange(&Command::get_balance(Purse::Deposit))
        .unwrap();
    assert_eq!(ed.sw, StatusWord::INCORRECT_P1_P2);
}

#[test]
fn insufficient_balance_and_unknown_key_index() {
    let mut layer = card_layer(Card::TUnion);
    let psam = Psam::open(Card::TUnion.psam_df());
    let (_, init) = start_purchase(&mut layer, Card::TUnion, &psam, 5001, false).unwrap();
    assert_eq!(init.sw, StatusWord::INSUFFICIENT_BALANCE);
    let (_, init) = start_purchase(&mut layer, Card::TUnion, &psam, 5000, false).unwrap();
    assert_eq!(init.sw, StatusWord::OK);
    let command = Command::initialize_for_purchase(Purse::Purse, 7, fen(1), &psam.terminal_id);
    assert_eq!(
        layer.exchange(&command).unwrap().sw,
        StatusWord::KEY_INDEX_NOT_SUPPORTED
    );
    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(
        (card.balance(Purse::Purse), card.offline_counter()),
        (Some(fen(5000)), 16)
    );
}

#[test]
fn wrong_mac1_is_refused_without_debit() {
    let mut layer = card_layer(Card::TUnion);
    let mut psam = Psam::open(Card::TUnion.psam_df());
    let (ef15, init) = start_purchase(&mut layer, Card::TUnion, &psam, 300, false).unwrap();
    let init = InitPurchase::parse(&expect_ok(init));
    let (serial, _) = identity(Card::TUnion, &ef15);
    let sam = expect_ok(psam.init(&init, 300, TYPE_EP_PURCHASE, &serial, None, date(), time()));
    let terminal_serial = u32::from_be_bytes(sam[..4].try_into().unwrap());
    let mut mac1: [u8; 4] = sam[4..8].try_into().unwrap();
    mac1[3] ^= 0x01;
    let debit = layer
        .exchange(&Command::debit_for_purchase(
            terminal_serial,
            date(),
            time(),
            &mac1,
        ))
        .unwrap();
    assert_eq!(debit.sw, StatusWord::MAC_INVALID);
    // The session is gone: the right MAC1 now meets 6985.
    mac1[3] ^= 0x01;
    let again = layer
        .exchange(&Command::debit_for_purchase(
            terminal_serial,
            date(),
            time(),
            &mac1,
        ))
        .unwrap();
    assert_eq!(again.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(card.balance(Purse::Purse), Some(fen(5000)));
    assert_eq!(card.offline_counter(), 16);
    assert!(card.log_records().is_empty());
}

#[test]
fn debit_needs_an_initialize_and_a_reset_drops_the_session() {
    let mut layer = card_layer(Card::TUnion);
    let mut psam = Psam::open(Card::TUnion.psam_df());
    let debit = Command::debit_for_purchase(1, date(), time(), &[0; 4]);
    layer.exchange(&Card::TUnion.select()).unwrap();
    assert_eq!(
        layer.exchange(&debit).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );

    let (ef15, init) = start_purchase(&mut layer, Card::TUnion, &psam, 100, false).unwrap();
    let init = InitPurchase::parse(&expect_ok(init));
    let (serial, _) = identity(Card::TUnion, &ef15);
    let sam = expect_ok(psam.init(&init, 100, TYPE_EP_PURCHASE, &serial, None, date(), time()));
    let mac1: [u8; 4] = sam[4..8].try_into().unwrap();
    let serial_no = u32::from_be_bytes(sam[..4].try_into().unwrap());
    layer.transport_mut().inner_mut().reset();
    layer.exchange(&Card::TUnion.select()).unwrap();
    let debit = Command::debit_for_purchase(serial_no, date(), time(), &mac1);
    assert_eq!(
        layer.exchange(&debit).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // CREDIT FOR LOAD in a purchase session is refused too.
    start_purchase(&mut layer, Card::TUnion, &psam, 100, false).unwrap();
    let credit = Command::credit_for_load(date(), time(), &[0; 4]);
    assert_eq!(
        layer.exchange(&credit).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    assert_eq!(
        purse_of(layer.transport_mut().inner_mut()).balance(Purse::Purse),
        Some(fen(5000))
    );
}

#[test]
fn blocked_application_answers_6283_and_refuses_transactions() {
    let mut layer = card_layer(Card::TUnion);
    purse_of(layer.transport_mut().inner_mut()).set_blocked(true);
    let fci = layer.exchange(&Card::TUnion.select()).unwrap();
    assert_eq!(fci.sw, StatusWord::SELECTED_FILE_INVALIDATED);
    let init = Command::initialize_for_purchase(Purse::Purse, 1, fen(1), &[0; 6]);
    assert_eq!(layer.exchange(&init).unwrap().sw, StatusWord(0x9303));
    // Reading still works.
    assert_eq!(
        layer
            .exchange(&Command::get_balance(Purse::Purse))
            .unwrap()
            .sw,
        StatusWord::OK
    );
}

#[test]
fn load_through_the_host() {
    let mut layer = card_layer(Card::TUnion);
    let host = purse_host("transit-purse-capp");
    let terminal_id = [0x31, 0x01, 0x00, 0x00, 0x00, 0x09];
    layer.exchange(&Card::TUnion.select()).unwrap();
    let ef15 = expect_ok(
        layer
            .exchange(&Command::read_binary_sfi(sfi(EF15), 0, 0x1E))
            .unwrap(),
    );
    let card_id = HostCardIdentity::from_ef15(&ef15).unwrap();

    let run_load =
        |layer: &mut CardLayer, amount: u32, tamper: bool| -> (Response, HostLoadRequest) {
            let init = Command::initialize_for_load(Purse::Purse, 1, fen(amount), &terminal_id);
            let data = expect_ok(layer.exchange(&init).unwrap());
            assert_eq!(data.len(), 16);
            let request = HostLoadRequest {
                card: card_id,
                key_index: 1,
                old_balance: PurseAmount::from_be_bytes(data[..4].try_into().unwrap()),
                amount: fen(amount),
                transaction_type: TYPE_EP_LOAD,
                terminal_id,
                online_counter: u16::from_be_bytes([data[4], data[5]]),
                card_random: data[8..12].try_into().unwrap(),
                mac1: data[12..16].try_into().unwrap(),
                date: date().to_yyyymmdd_bcd(),
                time: time().to_bcd(),
            };
            assert_eq!(data[6], 1, "key version");
            let mut mac2 = host.authorise_load(&request).unwrap();
            if tamper {
                mac2[0] ^= 0x80;
            }
            (
                layer
                    .exchange(&Command::credit_for_load(date(), time(), &mac2))
                    .unwrap(),
                request,
            )
        };

    // A wrong MAC2 is refused and nothing changes.
    let (refused, _) = run_load(&mut layer, 1000, true);
    assert_eq!(refused.sw, StatusWord::MAC_INVALID);
    assert_eq!(
        purse_of(layer.transport_mut().inner_mut()).online_counter(),
        3
    );

    let (credited, request) = run_load(&mut layer, 10000, false);
    assert_eq!(request.old_balance, fen(5000));
    assert_eq!(request.online_counter, 3);
    let tac: [u8; 4] = expect_ok(credited).try_into().unwrap();
    let tac_data = LoadTacData {
        new_balance: 15000,
        online_counter: 3,
        amount: 10000,
        transaction_type: TYPE_EP_LOAD,
        terminal_id,
        date: date().to_yyyymmdd_bcd(),
        time: time().to_bcd(),
    };
    host.verify_load_tac(&card_id, 1, &tac_data, &tac).unwrap();
    assert_eq!(
        expect_ok(layer.exchange(&Command::get_balance(Purse::Purse)).unwrap()),
        15000u32.to_be_bytes()
    );
    let log = expect_ok(
        layer
            .exchange(&Command::read_record(1, sfi(0x18)).unwrap())
            .unwrap(),
    );
    assert_eq!(&log[..2], &[0, 4]);
    assert_eq!(log[9], TYPE_EP_LOAD);

    // The host refuses a MAC1 that does not verify; the card refuses a load above its maximum.
    let mut forged = request;
    forged.mac1[1] ^= 0x10;
    assert_eq!(
        host.authorise_load(&forged),
        Err(PurseHostError::Mac1Invalid)
    );
    let too_much = Command::initialize_for_load(Purse::Purse, 1, fen(90_000), &terminal_id);
    assert_eq!(
        layer.exchange(&too_much).unwrap().sw,
        StatusWord::INCORRECT_DATA
    );
    // GET TRANSACTION PROVE knows the load (type 02, online ATC 4).
    let prove = expect_ok(
        layer
            .exchange(&Command::get_transaction_prove(TYPE_EP_LOAD, 4))
            .unwrap(),
    );
    assert!(prove.windows(4).any(|w| w == tac));
}

fn with_record_byte(record: &[u8], offset: usize, value: u8) -> Vec<u8> {
    let mut record = record.to_vec();
    record[offset] = value;
    record
}

/// One CAPP (segmented fare) step: INIT CAPP, read the record, UPDATE CAPP DATA CACHE for the
/// record (and a travel record), PSAM, DEBIT, PSAM.
fn capp_step(layer: &mut CardLayer, psam: &mut Psam, amount: u32, status: u8) -> Receipt {
    let (ef15, init) = start_purchase(layer, Card::TUnion, psam, amount, true).unwrap();
    let init = InitPurchase::parse(&expect_ok(init));
    let record = expect_ok(
        layer
            .exchange(&Command::read_record(2, sfi(0x1A)).unwrap())
            .unwrap(),
    );
    assert_eq!((record.len(), record[0], record[1]), (128, 0x02, 0x7E));
    let updated = with_record_byte(&record, 14, status);
    let update = Command::update_capp_data_cache(0x02, sfi(0x1A), &updated).unwrap();
    assert_eq!(layer.exchange(&update).unwrap().sw, StatusWord::OK);
    let mut travel = vec![0u8; 48];
    travel[0] = if status == 1 { 0x03 } else { 0x04 };
    travel[19..23].copy_from_slice(&amount.to_be_bytes());
    let update = Command::update_capp_data_cache(0x00, sfi(0x1E), &travel).unwrap();
    assert_eq!(layer.exchange(&update).unwrap().sw, StatusWord::OK);
    // Not yet written: the cache is committed with the DEBIT.
    assert_eq!(
        purse_of(layer.transport_mut().inner_mut())
            .capp_record(0x02)
            .unwrap()[14],
        record[14]
    );
    finish_purchase(
        layer,
        Card::TUnion,
        psam,
        ef15,
        init,
        amount,
        TYPE_CAPP_PURCHASE,
    )
    .unwrap()
}

#[test]
fn capp_entry_and_exit() {
    let mut layer = card_layer(Card::TUnion);
    let mut psam = Psam::open(Card::TUnion.psam_df());
    // UPDATE CAPP DATA CACHE outside a CAPP session is refused.
    layer.exchange(&Card::TUnion.select()).unwrap();
    let stray = Command::update_capp_data_cache(0x02, sfi(0x1A), &[0x02; 128]).unwrap();
    assert_eq!(
        layer.exchange(&stray).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    start_purchase(&mut layer, Card::TUnion, &psam, 10, false).unwrap();
    assert_eq!(
        layer.exchange(&stray).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );

    let entry = capp_step(&mut layer, &mut psam, 0, 0x01);
    assert_eq!(entry.init.balance, 5000);
    let exit = capp_step(&mut layer, &mut psam, 300, 0x02);
    assert_eq!(exit.init.atc, entry.init.atc + 1);

    let host = purse_host("transit-purse-capp");
    let id = HostCardIdentity::from_ef15(&exit.ef15).unwrap();
    host.verify_purchase_tac(
        &id,
        1,
        &tac_data(&exit, 300, TYPE_CAPP_PURCHASE, psam.terminal_id),
        &exit.tac,
    )
    .unwrap();

    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(card.balance(Purse::Purse), Some(fen(4700)));
    assert_eq!(card.capp_record(0x02).unwrap()[14], 0x02);
    let travel = card.travel_records();
    assert_eq!((travel.len(), travel[0][0], travel[1][0]), (2, 0x04, 0x03));
    let log = card.log_records();
    assert_eq!(
        (log.len(), log[0][9], log[1][9]),
        (2, TYPE_CAPP_PURCHASE, TYPE_CAPP_PURCHASE)
    );
    assert!(card.transaction_proof(TYPE_CAPP_PURCHASE, 18).is_some());
}

#[test]
fn capp_cache_is_dropped_when_the_debit_fails() {
    let mut layer = card_layer(Card::TUnion);
    let psam = Psam::open(Card::TUnion.psam_df());
    start_purchase(&mut layer, Card::TUnion, &psam, 100, true).unwrap();
    let record = purse_of(layer.transport_mut().inner_mut())
        .capp_record(0x01)
        .unwrap()
        .to_vec();
    let update =
        Command::update_capp_data_cache(0x01, sfi(0x1A), &with_record_byte(&record, 20, 0x77))
            .unwrap();
    assert_eq!(layer.exchange(&update).unwrap().sw, StatusWord::OK);
    // Wrong length, wrong id, unknown record.
    let short = Command::update_capp_data_cache(0x01, sfi(0x1A), &record[..100]).unwrap();
    assert_eq!(layer.exchange(&short).unwrap().sw, StatusWord::WRONG_LENGTH);
    let unknown = Command::update_capp_data_cache(0x05, sfi(0x1A), &record).unwrap();
    assert_eq!(
        layer.exchange(&unknown).unwrap().sw,
        StatusWord::RECORD_NOT_FOUND
    );
    let debit = Command::debit_for_purchase(1, date(), time(), &[1, 2, 3, 4]);
    assert_eq!(layer.exchange(&debit).unwrap().sw, StatusWord::MAC_INVALID);
    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(card.capp_record(0x01).unwrap(), &record[..]);
    assert!(card.travel_records().is_empty());
}

#[test]
fn etc_card_two_level_keys_and_ef19() {
    let mut layer = card_layer(Card::Etc);
    let mut psam = Psam::open(Card::Etc.psam_df());
    // Not reachable by PPSE; selected by FID 1001.
    assert_eq!(
        layer.exchange(&Command::select_ppse()).unwrap().sw,
        StatusWord::FILE_NOT_FOUND
    );
    let (ef15, init) = start_purchase(&mut layer, Card::Etc, &psam, 1500, true).unwrap();
    assert_eq!(ef15.len(), 43);
    assert_eq!(&ef15[28..36], &hex::decode("D4C1423132333435").unwrap()[..]);
    let init = InitPurchase::parse(&expect_ok(init));
    assert_eq!((init.balance, init.atc, init.key_version), (20000, 41, 2));
    // EF19 record 1: id AA, length 29, lock 00 (pboc-notes §4.8, 80 DC AA C8 2B).
    let record = expect_ok(
        layer
            .exchange(&Command::new(0x00, 0xB2, 0x01, 0xCC, vec![], Some(0x2B)).unwrap())
            .unwrap(),
    );
    assert_eq!(&record[..3], &[0xAA, 0x29, 0x00]);
    let updated = with_record_byte(&record, 3, 0x01);
    let update = Command::update_capp_data_cache(0xAA, sfi(0x19), &updated).unwrap();
    assert_eq!(hex::encode_upper(&update.to_bytes()[..6]), "80DCAAC82BAA");
    assert_eq!(layer.exchange(&update).unwrap().sw, StatusWord::OK);
    // Without the second diversifier the PSAM derives another key: the card refuses MAC1.
    let (serial, second) = identity(Card::Etc, &ef15);
    let wrong = expect_ok(psam.init(
        &init,
        1500,
        TYPE_CAPP_PURCHASE,
        &serial,
        None,
        date(),
        time(),
    ));
    let debit = Command::debit_for_purchase(
        u32::from_be_bytes(wrong[..4].try_into().unwrap()),
        date(),
        time(),
        &wrong[4..8].try_into().unwrap(),
    );
    assert_eq!(layer.exchange(&debit).unwrap().sw, StatusWord::MAC_INVALID);
    assert!(second.is_some());

    let receipt = purchase_capp_etc(&mut layer, &mut psam, 1500);
    let host = purse_host("etc-user-card");
    let id = HostCardIdentity::from_ef15_two_level(&receipt.ef15).unwrap();
    host.verify_purchase_tac(
        &id,
        1,
        &tac_data(&receipt, 1500, TYPE_CAPP_PURCHASE, psam.terminal_id),
        &receipt.tac,
    )
    .unwrap();
    let card = purse_of(layer.transport_mut().inner_mut());
    assert_eq!(card.balance(Purse::Purse), Some(fen(18500)));
    assert_eq!(card.capp_record(0xAA).unwrap()[3], 0x02);
    assert_eq!(receipt.terminal_serial, 1001);
}

fn purchase_capp_etc(layer: &mut CardLayer, psam: &mut Psam, amount: u32) -> Receipt {
    let (ef15, init) = start_purchase(layer, Card::Etc, psam, amount, true).unwrap();
    let init = InitPurchase::parse(&expect_ok(init));
    let record = purse_of(layer.transport_mut().inner_mut())
        .capp_record(0xAA)
        .unwrap()
        .to_vec();
    let update =
        Command::update_capp_data_cache(0xAA, sfi(0x19), &with_record_byte(&record, 3, 0x02))
            .unwrap();
    assert_eq!(layer.exchange(&update).unwrap().sw, StatusWord::OK);
    finish_purchase(
        layer,
        Card::Etc,
        psam,
        ef15,
        init,
        amount,
        TYPE_CAPP_PURCHASE,
    )
    .unwrap()
}

#[test]
fn replayed_mac2_is_refused_by_the_psam() {
    let mut layer = card_layer(Card::TUnion);
    let mut psam = Psam::open(Card::TUnion.psam_df());
    let first = purchase(&mut layer, Card::TUnion, &mut psam, 120).unwrap();
    // No pending session any more.
    assert_eq!(
        psam.credit(&first.mac2),
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // A new session: the old MAC2 does not verify, and the session is then gone.
    let (ef15, init) = start_purchase(&mut layer, Card::TUnion, &psam, 120, false).unwrap();
    let init = InitPurchase::parse(&expect_ok(init));
    let (serial, _) = identity(Card::TUnion, &ef15);
    expect_ok(psam.init(&init, 120, TYPE_EP_PURCHASE, &serial, None, date(), time()));
    assert_eq!(psam.credit(&first.mac2), StatusWord::MAC_INVALID);
    assert_eq!(
        psam.credit(&first.mac2),
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
}

/// Splits a GET TRANSACTION PROVE answer into (MAC2, TAC) by the documented order.
fn prove_fields(data: &[u8]) -> ([u8; 4], [u8; 4]) {
    let a: [u8; 4] = data[..4].try_into().unwrap();
    let b: [u8; 4] = data[4..8].try_into().unwrap();
    match TRANSACTION_PROVE_ORDER {
        ProveOrder::Mac2ThenTac => (a, b),
        ProveOrder::TacThenMac2 => (b, a),
    }
}

#[test]
fn transaction_prove_after_tear_after_and_tear_before_debit() {
    for tear_after in [true, false] {
        let mut layer = card_layer(Card::TUnion);
        let mut psam = Psam::open(Card::TUnion.psam_df());
        let fault = if tear_after {
            Fault::TearAfter
        } else {
            Fault::TearBefore
        };
        layer
            .transport_mut()
            .plan(Trigger::matching(&[0x80, 0x54], 1), fault);
        let (ef15, init) = start_purchase(&mut layer, Card::TUnion, &psam, 250, false).unwrap();
        let init = InitPurchase::parse(&expect_ok(init));
        let torn = finish_purchase(
            &mut layer,
            Card::TUnion,
            &mut psam,
            ef15.clone(),
            init,
            250,
            TYPE_EP_PURCHASE,
        );
        assert!(matches!(
            torn,
            Err(ExchangeError::Transport(SimError::CardRemoved))
        ));
        // Still out of the field until reinserted.
        assert!(layer.exchange(&Card::TUnion.select()).is_err());
        layer.transport_mut().reinsert();
        expect_ok(layer.exchange(&Card::TUnion.select()).unwrap());
        let prove = layer
            .exchange(&Command::get_transaction_prove(
                TYPE_EP_PURCHASE,
                init.atc + 1,
            ))
            .unwrap();
        let card = purse_of(layer.transport_mut().inner_mut());
        if tear_after {
            let (mac2, tac) = prove_fields(&expect_ok(prove));
            assert_eq!(card.balance(Purse::Purse), Some(fen(4750)));
            // The PSAM still waits for this MAC2 and the host accepts the TAC.
            assert_eq!(psam.credit(&mac2), StatusWord::OK);
            let host = purse_host("transit-purse-capp");
            let receipt = Receipt {
                init,
                terminal_serial: 1,
                tac,
                mac2,
                ef15: ef15.clone(),
            };
            let data = tac_data(&receipt, 250, TYPE_EP_PURCHASE, psam.terminal_id);
            host.verify_purchase_tac(&HostCardIdentity::from_ef15(&ef15).unwrap(), 1, &data, &tac)
                .unwrap();
        } else {
            assert_eq!(prove.sw, SW_MAC_NOT_AVAILABLE);
            assert_eq!(card.balance(Purse::Purse), Some(fen(5000)));
            assert_eq!(card.offline_counter(), 16);
        }
        // A wrong type or ATC is never proved.
        let other = layer
            .exchange(&Command::get_transaction_prove(
                TYPE_CAPP_PURCHASE,
                init.atc + 1,
            ))
            .unwrap();
        assert_eq!(other.sw, SW_MAC_NOT_AVAILABLE);
    }
}

/// Every tear-before / tear-after position of a purchase (the card APDUs: SELECT, READ BINARY,
/// GET BALANCE, INITIALIZE, DEBIT) leaves the card consistent, and the terminal's recovery
/// (GET TRANSACTION PROVE, else retry) debits exactly once.
#[test]
fn every_tear_position_debits_exactly_once() {
    const AMOUNT: u32 = 180;
    for position in 1..=5u64 {
        for fault in [Fault::TearBefore, Fault::TearAfter] {
            let mut layer = card_layer(Card::TUnion);
            let mut psam = Psam::open(Card::TUnion.psam_df());
            layer.transport_mut().plan(Trigger::Apdu(position), fault);
            let mut known_atc = None;
            let torn = (|| {
                let (ef15, init) = start_purchase(&mut layer, Card::TUnion, &psam, AMOUNT, false)?;
                let init = InitPurchase::parse(&expect_ok(init));
                known_atc = Some(init.atc);
                finish_purchase(
                    &mut layer,
                    Card::TUnion,
                    &mut psam,
                    ef15,
                    init,
                    AMOUNT,
                    TYPE_EP_PURCHASE,
                )
            })();
            assert!(torn.is_err(), "position {position} {fault:?} must tear");
            assert_eq!(
                layer.transport().delivered(),
                position - u64::from(fault == Fault::TearBefore)
            );

            let card = purse_of(layer.transport_mut().inner_mut());
            let (balance, counter) = (
                card.balance(Purse::Purse).unwrap().fen(),
                card.offline_counter(),
            );
            let debited = balance == 5000 - AMOUNT;
            assert!(
                debited || balance == 5000,
                "position {position} {fault:?}: balance {balance}"
            );
            assert_eq!(
                counter,
                16 + u16::from(debited),
                "counter follows the balance"
            );
            assert_eq!(card.log_records().len(), usize::from(debited));
            assert_eq!(debited, position == 5 && fault == Fault::TearAfter);

            // Recovery.
            layer.transport_mut().reinsert();
            let mut recovered = false;
            if let Some(atc) = known_atc {
                expect_ok(layer.exchange(&Card::TUnion.select()).unwrap());
                let prove = layer
                    .exchange(&Command::get_transaction_prove(TYPE_EP_PURCHASE, atc + 1))
                    .unwrap();
                if prove.sw == StatusWord::OK {
                    let (mac2, _) = prove_fields(&prove.data);
                    assert_eq!(psam.credit(&mac2), StatusWord::OK);
                    recovered = true;
                }
            }
            if !recovered {
                purchase(&mut layer, Card::TUnion, &mut psam, AMOUNT).unwrap();
            }
            let card = purse_of(layer.transport_mut().inner_mut());
            assert_eq!(
                card.balance(Purse::Purse),
                Some(fen(5000 - AMOUNT)),
                "position {position} {fault:?}"
            );
            assert_eq!(card.offline_counter(), 17);
        }
    }
}

#[test]
fn faults_alter_responses_of_the_purse() {
    let mut layer = card_layer(Card::TUnion);
    layer
        .transport_mut()
        .plan(
            Trigger::matching(&[0x80, 0x5C], 1),
            Fault::ReplaceSw(StatusWord(0x6F00)),
        )
        .plan(
            Trigger::matching(&[0x80, 0x5C], 2),
            Fault::CorruptByte {
                offset: 3,
                mask: 0xFF,
            },
        )
        .plan(Trigger::matching(&[0x80, 0x5C], 3), Fault::Truncate(1));
    layer.exchange(&Card::TUnion.select()).unwrap();
    let balance = Command::get_balance(Purse::Purse);
    assert_eq!(layer.exchange(&balance).unwrap().sw, StatusWord(0x6F00));
    assert_eq!(
        layer.exchange(&balance).unwrap().data,
        vec![0x00, 0x00, 0x13, 0x88 ^ 0xFF]
    );
    assert!(matches!(
        layer.exchange(&balance),
        Err(ExchangeError::Malformed(_))
    ));
    assert_eq!(
        layer.exchange(&balance).unwrap().data,
        5000u32.to_be_bytes()
    );
    assert_eq!(layer.transport().delivered(), 5);
}

// --- pboc-notes §4.2 vectors through the card, the PSAM and the host -------------------------

fn vector_card(purse_json: &str) -> VirtualCard {
    let json = format!(
        r#"{{"schema": "quickpass-card/1", "name": "vector", "ppse": false, "pse": false,
            "applications": [{purse_json}]}}"#
    );
    CardProfile::from_json(&json).unwrap().build().unwrap()
}

const VECTOR_KEY: &str = "11223344556677888877665544332211";

#[test]
fn purchase_vector_v1_v2_through_card_and_psam() {
    let mut card = ApduLayer::new(vector_card(&format!(
        r#"{{"type": "purse", "df_name_text": "PAY.SZT", "ef15": {{"layout": "raw",
            "data": "0000000000000000000000000000000000000001"}}, "ep_balance": 10000,
            "key_derivation": "none", "random_seed": "11223344",
            "keys": [{{"index": 1, "version": 1, "purchase": "{VECTOR_KEY}", "tac": "{VECTOR_KEY}"}}]}}"#
    )));
    let psam_json = format!(
        r#"{{"schema": "quickpass-card/1", "name": "psam-vector", "ppse": false, "pse": false,
            "applications": [{{"type": "psam", "file_id": "8011", "terminal_id": "001122334455",
            "key_index": 1, "keys": [{{"version": 1, "purchase": "{VECTOR_KEY}", "diversify": false}}]}}]}}"#
    );
    let mut psam = Psam {
        layer: ApduLayer::new(CardProfile::from_json(&psam_json).unwrap().build().unwrap()),
        terminal_id: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
        key_index: 1,
    };
    expect_ok(
        psam.layer
            .exchange(&Command::select_file_id(0x8011))
            .unwrap(),
    );
    expect_ok(
        card.exchange(&Command::select_df_name(b"PAY.SZT", Occurrence::First).unwrap())
            .unwrap(),
    );
    let init = Command::initialize_for_purchase(Purse::Purse, 1, fen(0x1000), &psam.terminal_id);
    let init = InitPurchase::parse(&expect_ok(card.exchange(&init).unwrap()));
    assert_eq!((init.random, init.atc), ([0x11, 0x22, 0x33, 0x44], 0));
    let (date, time) = (
        TransactionDate::new(2012, 2, 29).unwrap(),
        TransactionTime::new(13, 51, 0).unwrap(),
    );
    let sam = expect_ok(psam.init(&init, 0x1000, TYPE_EP_PURCHASE, &[0; 8], None, date, time));
    assert_eq!(hex::encode_upper(&sam), "00000001F15CAB75");
    let debit = Command::debit_for_purchase(1, date, time, &sam[4..8].try_into().unwrap());
    let answer = expect_ok(card.exchange(&debit).unwrap());
    assert_eq!(hex::encode_upper(&answer[4..]), "56988A13");
    assert_eq!(psam.credit(&answer[4..]), StatusWord::OK);
}

#[test]
fn load_vectors_v3_v4_through_card_and_host() {
    // V3: ED load (type 01), key 1122…2211, random 11223344, online ATC 0, MAC1 2988AE5A,
    // MAC2 3A845BF0 on 2011-12-21 21:48:22.
    let mut card = ApduLayer::new(vector_card(&format!(
        r#"{{"type": "purse", "df_name_text": "PAY.APPY", "ef15": {{"layout": "raw",
            "data": "0000000000000000000000000000000000000002"}}, "ep_balance": 0, "ed_balance": 0,
            "key_derivation": "none", "random_seed": "11223344",
            "keys": [{{"index": 1, "version": 1, "load": "{VECTOR_KEY}", "tac": "{VECTOR_KEY}"}}]}}"#
    )));
    expect_ok(
        card.exchange(&Command::select_df_name(b"PAY.APPY", Occurrence::First).unwrap())
            .unwrap(),
    );
    let terminal_id = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    let init = Command::initialize_for_load(Purse::Deposit, 1, fen(0x1000), &terminal_id);
    let data = expect_ok(card.exchange(&init).unwrap());
    assert_eq!(hex::encode_upper(&data), "0000000000000100112233442988AE5A");
    let mut host = PurseHost::new();
    host.add_key_set(quickpass_sim::host::purse::HostKeySet {
        index: 1,
        load: Some(hex::decode(VECTOR_KEY).unwrap().as_slice().into_secret()),
        tac: hex::decode(VECTOR_KEY).unwrap().as_slice().into_secret(),
        diversify: false,
    });
    let request = HostLoadRequest {
        card: HostCardIdentity {
            serial: [0; 8],
            second_diversifier: None,
        },
        key_index: 1,
        old_balance: PurseAmount::ZERO,
        amount: fen(0x1000),
        transaction_type: TYPE_ED_LOAD,
        terminal_id,
        online_counter: 0,
        card_random: [0x11, 0x22, 0x33, 0x44],
        mac1: [0x29, 0x88, 0xAE, 0x5A],
        date: [0x20, 0x11, 0x12, 0x21],
        time: [0x21, 0x48, 0x22],
    };
    let mac2 = host.authorise_load(&request).unwrap();
    assert_eq!(mac2, [0x3A, 0x84, 0x5B, 0xF0]);
    let credit = Command::credit_for_load(
        TransactionDate::new(2011, 12, 21).unwrap(),
        TransactionTime::new(21, 48, 22).unwrap(),
        &mac2,
    );
    expect_ok(card.exchange(&credit).unwrap());
    assert_eq!(
        card.transport_mut()
            .application_mut::<SimPurseApplication>()
            .unwrap()
            .balance(Purse::Deposit),
        Some(fen(0x1000))
    );

    // V4: EP load, key 3F01…, random F9CABA91, amount 0x1234, terminal 000000000001 → 6C394D64.
    let mut card = ApduLayer::new(vector_card(
        r#"{"type": "purse", "df_name": "A00000000386980701", "ef15": {"layout": "raw",
            "data": "0000000000000000000000000000000000000003"}, "ep_balance": 0,
            "key_derivation": "none", "random_seed": "F9CABA91",
            "keys": [{"index": 1, "version": 1, "load": "3F013F013F013F013F013F013F013F01",
                      "tac": "3F013F013F013F013F013F013F013F01"}]}"#,
    ));
    expect_ok(
        card.exchange(
            &Command::select_df_name(
                &hex::decode("A00000000386980701").unwrap(),
                Occurrence::First,
            )
            .unwrap(),
        )
        .unwrap(),
    );
    let init = Command::initialize_for_load(Purse::Purse, 1, fen(0x1234), &[0, 0, 0, 0, 0, 1]);
    let data = expect_ok(card.exchange(&init).unwrap());
    assert_eq!(hex::encode_upper(&data[12..]), "6C394D64");
}

trait IntoSecret {
    fn into_secret(self) -> quickpass::crypto::secret::SecretKey;
}

impl IntoSecret for &[u8] {
    fn into_secret(self) -> quickpass::crypto::secret::SecretKey {
        quickpass::crypto::secret::SecretKey::new(self)
    }
}

#[test]
fn profile_errors_name_the_field_and_debug_hides_keys() {
    let bad = CardProfile::from_json(
        r#"{"schema": "quickpass-card/1", "name": "bad", "applications": [{"type": "purse",
            "df_name": "A000000632010105", "ef15": {"layout": "raw", "data": "0000000000000000000000000000000000000000"},
            "ep_balance": 1, "key_derivation": "serial",
            "keys": [{"index": 1, "version": 1, "tac": "1122"}]}]}"#,
    )
    .unwrap()
    .build()
    .unwrap_err();
    assert!(
        bad.to_string().contains("applications[0].keys[0].tac"),
        "{bad}"
    );
    let typo = CardProfile::from_json(
        r#"{"schema": "quickpass-card/1", "name": "bad", "applications": [{"type": "psam",
            "file_id": "8011", "terminal_id": "000000000001", "key_index": 1, "keys": [], "serial": 3}]}"#,
    );
    assert!(typo.is_err());

    let profile = profile("psam");
    let shown = format!("{profile:?} {:?}", profile.build().unwrap());
    assert!(!shown.contains("5431A8E2"), "{shown}");
    let mut card = profile.build().unwrap();
    let psam = card.application_mut::<PsamApplication>().unwrap();
    assert!(!format!("{psam:?}").contains("5431"));
    let mut transit = self::profile("transit-purse-capp").build().unwrap();
    let shown = format!("{:?}", purse_of(&mut transit));
    assert!(!shown.to_uppercase().contains("5431A8E2"));
}

#[test]
fn psam_refuses_bad_input() {
    let mut psam = ApduLayer::new(profile("psam").build().unwrap());
    expect_ok(psam.exchange(&Command::select_file_id(0x8011)).unwrap());
    let short = Command::new(0x80, 0x70, 0, 0, vec![0; 0x1B], Some(8)).unwrap();
    assert_eq!(psam.exchange(&short).unwrap().sw, StatusWord::WRONG_LENGTH);
    // Key version 9 is unknown.
    let mut data = vec![0u8; 0x1C];
    data[18] = 9;
    let unknown = Command::new(0x80, 0x70, 0, 0, data, Some(8)).unwrap();
    assert_eq!(
        psam.exchange(&unknown).unwrap().sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    let credit = Command::new(0x80, 0x72, 0, 0, vec![0; 4], None).unwrap();
    assert_eq!(
        psam.exchange(&credit).unwrap().sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // The serial increments per INIT SAM FOR PURCHASE.
    let mut data = vec![0u8; 0x1C];
    data[18] = 1;
    let init = Command::new(0x80, 0x70, 0, 0, data, Some(8)).unwrap();
    let first = expect_ok(psam.exchange(&init).unwrap());
    let second = expect_ok(psam.exchange(&init).unwrap());
    assert_eq!(
        (&first[..4], &second[..4]),
        (&[0, 0, 0, 1][..], &[0, 0, 0, 2][..])
    );
    assert_ne!(first[4..], second[4..]);
}

/// The PSAM's DES INIT / DES CRYPT give the card's TAC for the card's own transaction, one- and
/// two-level cards alike, and nothing else.
#[test]
fn psam_des_init_and_des_crypt_reproduce_the_card_tac() {
    for card in [Card::TUnion, Card::Etc] {
        let mut layer = card_layer(card);
        let mut psam = Psam::open(card.psam_df());
        let receipt = purchase(&mut layer, card, &mut psam, 300).unwrap();
        let (serial, second) = identity(card, &receipt.ef15);
        let message = tac_data(&receipt, 300, TYPE_EP_PURCHASE, psam.terminal_id).to_bytes();
        let version = receipt.init.key_version;

        assert_eq!(
            psam.des_init(version, &serial, second.as_ref()).sw,
            StatusWord::OK
        );
        assert_eq!(expect_ok(psam.des_crypt(&message)), receipt.tac);
        // One DES CRYPT per DES INIT.
        assert_eq!(
            psam.des_crypt(&message).sw,
            StatusWord::CONDITIONS_NOT_SATISFIED
        );
        // Another amount, another card, or the other level of factors: another MAC.
        let mut other = message;
        other[3] ^= 1;
        psam.des_init(version, &serial, second.as_ref());
        assert_ne!(expect_ok(psam.des_crypt(&other)), receipt.tac);
        let mut other_serial = serial;
        other_serial[7] ^= 1;
        psam.des_init(version, &other_serial, second.as_ref());
        assert_ne!(expect_ok(psam.des_crypt(&message)), receipt.tac);
        let flipped = if second.is_some() {
            None
        } else {
            Some([0xFF; 8])
        };
        psam.des_init(version, &serial, flipped.as_ref());
        assert_ne!(expect_ok(psam.des_crypt(&message)), receipt.tac);
    }
}

#[test]
fn psam_des_commands_refuse_bad_input() {
    let mut psam = Psam::open(0x8011);
    let serial = [1u8; 8];
    // No DES INIT yet.
    assert_eq!(
        psam.des_crypt(&[0; 22]).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // No TAC key for version 9; a key usage other than 44; factors of 7 bytes.
    assert_eq!(
        psam.des_init(9, &serial, None).sw,
        StatusWord::REFERENCED_DATA_NOT_FOUND
    );
    let usage = Command::new(0x80, 0x1A, 0x45, 1, serial.to_vec(), None).unwrap();
    assert_eq!(
        psam.layer.exchange(&usage).unwrap().sw,
        StatusWord::INCORRECT_P1_P2
    );
    let short = Command::new(0x80, 0x1A, 0x44, 1, vec![1; 7], None).unwrap();
    assert_eq!(
        psam.layer.exchange(&short).unwrap().sw,
        StatusWord::WRONG_LENGTH
    );
    // A failed DES INIT leaves no session behind.
    assert_eq!(
        psam.des_crypt(&[0; 22]).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
    // DES CRYPT: a nonzero initial value, missing padding, a length off the block.
    let crypt = |data: Vec<u8>| Command::new(0x80, 0xFA, 0x05, 0x00, data, Some(0)).unwrap();
    let mut bad_iv = vec![0u8; 8 + 24];
    bad_iv[0] = 1;
    bad_iv[8 + 22] = 0x80;
    let mut unpadded = vec![0u8; 8 + 24];
    unpadded[8 + 23] = 0x01;
    for (data, sw) in [
        (bad_iv, StatusWord::INCORRECT_DATA),
        (unpadded, StatusWord::INCORRECT_DATA),
        (vec![0u8; 8 + 20], StatusWord::WRONG_LENGTH),
        (vec![0u8; 8], StatusWord::WRONG_LENGTH),
    ] {
        assert_eq!(psam.des_init(1, &serial, None).sw, StatusWord::OK);
        assert_eq!(psam.layer.exchange(&crypt(data)).unwrap().sw, sw);
    }
    // A reset drops a DES session.
    assert_eq!(psam.des_init(1, &serial, None).sw, StatusWord::OK);
    psam.layer.transport_mut().reset();
    expect_ok(
        psam.layer
            .exchange(&Command::select_file_id(0x8011))
            .unwrap(),
    );
    assert_eq!(
        psam.des_crypt(&[0; 22]).sw,
        StatusWord::CONDITIONS_NOT_SATISFIED
    );
}

fn any_apdu() -> impl Strategy<Value = Vec<u8>> {
    let structured = (
        prop::sample::select(vec![0x00u8, 0x80, 0x84, 0xFF]),
        prop::sample::select(vec![
            0xA4u8, 0xB0, 0xB2, 0x5C, 0x50, 0x54, 0x52, 0xDC, 0x5A, 0x70, 0x72, 0x00,
        ]),
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..60),
        prop::option::of(any::<u8>()),
    )
        .prop_map(|(cla, ins, p1, p2, data, le)| {
            let mut apdu = vec![cla, ins, p1, p2];
            if !data.is_empty() {
                apdu.push(data.len() as u8);
                apdu.extend_from_slice(&data);
            }
            apdu.extend(le);
            apdu
        });
    prop_oneof![structured, prop::collection::vec(any::<u8>(), 0..270)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random APDUs (after selecting the application, with sessions opened along the way) never
    /// make the purse or the PSAM panic, and every answer ends with a status word.
    #[test]
    fn random_apdus_never_panic(apdus in prop::collection::vec(any_apdu(), 1..40), which in 0usize..3) {
        let (name, select) = match which {
            0 => ("transit-purse-capp", Card::TUnion.select()),
            1 => ("etc-user-card", Card::Etc.select()),
            _ => ("psam", Command::select_file_id(0x8011)),
        };
        let mut card = profile(name).build().unwrap();
        card.transmit(&select.to_bytes()).unwrap();
        let init = Command::initialize_for_capp_purchase(1, fen(1), &[0; 6]);
        card.transmit(&init.to_bytes()).unwrap();
        for apdu in apdus {
            let response = card.transmit(&apdu).unwrap();
            prop_assert!(response.len() >= 2);
        }
    }
}
