//! A mute card through the real PC/SC stack ends the tap at the transport's exchange deadline:
//! `contactless::transact` → `PcscTransport` → pcscd → vpcd → a card that never answers its GPO.
//! A slow card, answering every command well inside the exchange deadline, still cannot hold a
//! tap past the tap deadline.
//!
//! Without the deadline this tap blocks for as long as pcscd's vpcd driver waits (minutes). With
//! it, the exchange is abandoned, the kernel sees `LinkFailure::Timeout` and ends the tap with
//! Try Again; the transport is disconnected, works again after a new `connect`, and the card's
//! serving thread can be stopped afterwards (nothing in the process stays stuck).
//!
//! Needs pcscd with vsmartcard's vpcd (`.ci/pcsc.sh`). The card is served on the second vpcd
//! slot, held against other test processes with `quickpass_sim::vpcd::hold_test_slots`. Without
//! pcscd the test says so on stderr and returns; under `CI=true` it fails instead.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quickpass::kernel::apdu::Command;
use quickpass::kernel::contactless;
use quickpass::kernel::error::KernelError;
use quickpass::kernel::transport::{ApduLayer, LinkFailure, Transport, TransportError};
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass::pcsc::{PcscError, PcscTransport};
use quickpass_sim::vpcd::{self, VpcdCard};
use quickpass_sim::{CardProfile, VirtualCard};

/// The deadline under test, and how long the tap may take in all (the APDUs before the GPO,
/// the deadline, the removal check of the abandoned exchange, a slow shared CI machine).
const DEADLINE: Duration = Duration::from_millis(500);
const TAP_LIMIT: Duration = Duration::from_secs(3);
/// How long the mute card stays mute unless released: far beyond the deadline.
const MUTE_FOR: Duration = Duration::from_secs(120);

/// A real card that goes mute on GET PROCESSING OPTIONS (`80 A8`), once, until released: its
/// vpcd connection stays open and silent, as a card stuck in the field would be.
struct MuteOnGpo {
    inner: VirtualCard,
    release: Arc<AtomicBool>,
    gpos_seen: Arc<AtomicU32>,
}

impl VpcdCard for MuteOnGpo {
    fn atr(&self) -> Vec<u8> {
        VpcdCard::atr(&self.inner)
    }
    fn reset(&mut self) {
        VpcdCard::reset(&mut self.inner);
    }
    fn power_off(&mut self) {
        VpcdCard::power_off(&mut self.inner);
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        if apdu.starts_with(&[0x80, 0xA8]) && self.gpos_seen.fetch_add(1, Ordering::SeqCst) == 0 {
            let until = Instant::now() + MUTE_FOR;
            while !self.release.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.inner.process_apdu(apdu)
    }
}

/// A real card that takes `delay` over every command.
struct SlowCard {
    inner: VirtualCard,
    delay: Duration,
    commands: Arc<AtomicU32>,
}

impl VpcdCard for SlowCard {
    fn atr(&self) -> Vec<u8> {
        VpcdCard::atr(&self.inner)
    }
    fn reset(&mut self) {
        VpcdCard::reset(&mut self.inner);
    }
    fn power_off(&mut self) {
        VpcdCard::power_off(&mut self.inner);
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.commands.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.process_apdu(apdu)
    }
}

/// One test at a time in this binary: both serve their card in the second vpcd slot (the
/// cross-process lock, `hold_test_slots`, is held too).
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The PC/SC context and the second vpcd reader, empty, or `None` after saying why not.
fn second_reader() -> Option<(PcscTransport, String)> {
    let transport = match PcscTransport::new() {
        Ok(transport) => transport,
        Err(PcscError::NoService) => {
            unavailable("pcscd not running: see .ci/pcsc.sh");
            return None;
        }
        Err(e) => panic!("establishing a PC/SC context: {e}"),
    };
    vpcd::hold_test_slots();
    let readers = transport.list_readers().expect("list readers");
    let Some(reader) = readers
        .into_iter()
        .find(|r| r.starts_with("Virtual PCD") && r.ends_with(" 01"))
    else {
        unavailable("no \"Virtual PCD .. 01\" reader: install vsmartcard-vpcd");
        return None;
    };
    transport
        .wait_for_removal(&reader, Duration::from_secs(3))
        .expect("reader empty before insertion");
    Some((transport, reader))
}

fn debit_card() -> VirtualCard {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/cards/qpboc-debit-offline.json");
    CardProfile::load(&path)
        .and_then(|profile| profile.build())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn input() -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(100).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

/// pcscd (or its vpcd reader) is missing: fail under CI, otherwise say so visibly and skip.
fn unavailable(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pcsc_deadline: {reason} (CI=true: PC/SC tests must run)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED pcsc_deadline: {reason}");
}

/// Connects, retrying for up to 5 s (pcscd powers a new card up on its 400 ms poll, and after
/// an abandoned exchange the reader is busy until the driver returns).
fn connect(transport: &mut PcscTransport, reader: &str) {
    let started = Instant::now();
    loop {
        match transport.connect(reader) {
            Ok(_) => return,
            Err(error) if started.elapsed() < Duration::from_secs(5) => {
                eprintln!("connect: {error}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("connect: {error:?}"),
        }
    }
}

#[test]
fn a_mute_card_ends_the_tap_at_the_exchange_deadline_with_try_again() {
    let _turn = turn();
    let Some((mut transport, reader)) = second_reader() else {
        return;
    };

    let release = Arc::new(AtomicBool::new(false));
    let gpos_seen = Arc::new(AtomicU32::new(0));
    let card = MuteOnGpo {
        inner: debit_card(),
        release: Arc::clone(&release),
        gpos_seen: Arc::clone(&gpos_seen),
    };
    let served = vpcd::spawn(card, vpcd::localhost(vpcd::SECOND_PORT)).expect("serve the card");
    transport
        .wait_for_card(&reader, Duration::from_secs(5))
        .expect("card present within 5 s");
    connect(&mut transport, &reader);
    transport.set_exchange_deadline(Some(DEADLINE));
    assert_eq!(transport.exchange_deadline(), Some(DEADLINE));

    let config = quickpass_sim::data::default_kernel_config().expect("default configuration");
    let started = Instant::now();
    let tapped = contactless::transact(&config, &input(), &mut ApduLayer::new(&mut transport));
    let took = started.elapsed();

    assert_eq!(gpos_seen.load(Ordering::SeqCst), 1, "the card got its GPO");
    assert!(took >= DEADLINE, "ended before the deadline: {took:?}");
    assert!(took < TAP_LIMIT, "the tap took {took:?}");
    assert_eq!(tapped.result.outcome, Outcome::TryAgain, "{tapped:?}");
    match &tapped.error {
        Some(KernelError::LinkLost {
            failure: LinkFailure::Timeout,
            error: PcscError::Timeout,
        }) => {}
        other => panic!("expected the link lost on a timeout, got {other:?}"),
    }
    assert_eq!(PcscError::Timeout.link_failure(), LinkFailure::Timeout);

    // The abandoned connection is gone: nothing is sent to a card in an unknown state.
    assert!(!transport.is_connected());
    assert_eq!(
        transport.transmit(&Command::select_ppse().to_bytes()),
        Err(PcscError::NotConnected)
    );

    // The card answers at last: the abandoned exchange completes on its worker, and the same
    // transport (on its fresh context) connects and talks to the card again.
    // The worker then lets go of its old handle with a reset, which may land just after our
    // reconnect: a transmit that meets it fails once, and a reconnect recovers (within 5 s).
    release.store(true, Ordering::SeqCst);
    let recovering = Instant::now();
    let response = loop {
        connect(&mut transport, &reader);
        match transport.transmit(&Command::select_ppse().to_bytes()) {
            Ok(response) => break response,
            Err(error) if recovering.elapsed() < Duration::from_secs(5) => {
                eprintln!("PPSE after reconnecting: {error:?}; reconnecting");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("PPSE after reconnecting for 5 s: {error:?}"),
        }
    };
    assert_eq!(response[response.len() - 2..], [0x90, 0x00]);
    drop(transport);

    // The serving thread stops promptly: the process is not stuck on the mute card.
    let removing = Instant::now();
    let card = served
        .remove()
        .expect("the card thread ended without panicking");
    assert!(
        removing.elapsed() < Duration::from_secs(5),
        "stopping the card took {:?}",
        removing.elapsed()
    );
    assert_eq!(card.gpos_seen.load(Ordering::SeqCst), 1, "one GPO only");
}

#[test]
fn a_slow_card_cannot_hold_the_tap_past_the_tap_deadline() {
    /// Each command takes this long: well inside the exchange deadline (2 s).
    const PER_COMMAND: Duration = Duration::from_millis(150);
    /// The tap's budget: fewer commands than a tap needs fit in it.
    const TAP: Duration = Duration::from_millis(400);
    let _turn = turn();
    let Some((mut transport, reader)) = second_reader() else {
        return;
    };
    let commands = Arc::new(AtomicU32::new(0));
    let card = SlowCard {
        inner: debit_card(),
        delay: PER_COMMAND,
        commands: Arc::clone(&commands),
    };
    let served = vpcd::spawn(card, vpcd::localhost(vpcd::SECOND_PORT)).expect("serve the card");
    transport
        .wait_for_card(&reader, Duration::from_secs(5))
        .expect("card present within 5 s");
    transport.set_tap_deadline(Some(TAP));
    assert_eq!(transport.tap_deadline(), Some(TAP));
    // The tap's clock starts at the connection.
    connect(&mut transport, &reader);
    let config = quickpass_sim::data::default_kernel_config().expect("default configuration");
    let started = Instant::now();
    let tapped = contactless::transact(&config, &input(), &mut ApduLayer::new(&mut transport));
    let took = started.elapsed();

    assert!(took < TAP_LIMIT, "the tap took {took:?}");
    assert_eq!(tapped.result.outcome, Outcome::TryAgain, "{tapped:?}");
    match &tapped.error {
        Some(KernelError::LinkLost {
            failure: LinkFailure::Timeout,
            error: PcscError::TapDeadline,
        }) => {}
        other => panic!("expected the link lost at the tap deadline, got {other:?}"),
    }
    let seen = commands.load(Ordering::SeqCst);
    // Within 400 ms at 150 ms each the card sees at most three commands (the third cut short);
    // a whole offline tap needs more (PPSE, SELECT, GPO, READ RECORD…).
    assert!((1..=3).contains(&seen), "{seen} commands reached the card");
    assert!(!transport.is_connected(), "the card was released");
    drop(transport);
    served
        .remove()
        .expect("the card thread ended without panicking");
}
