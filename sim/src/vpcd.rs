//! The card side of vsmartcard's `vpcd` protocol: puts a card object behind `pcscd`.
//!
//! vsmartcard's `vpcd` is a pcsc-lite reader driver whose "card" is whatever answers on a TCP
//! socket. With the Debian/Ubuntu package `vsmartcard-vpcd` installed, `pcscd` shows two readers,
//! **"Virtual PCD 00 00"** listening on port [`DEFAULT_PORT`] (35963) and **"Virtual PCD 00 01"**
//! on [`SECOND_PORT`] (35964). [`serve`] connects a [`VpcdCard`] (a [`VirtualCard`] from
//! [`VirtualCard`](crate::VirtualCard), or anything else implementing the trait) to one of those ports, and from
//! then on every PC/SC application — the `quickpass::pcsc` transport, `pcsc_scan`,
//! `scriptor`, a vendor's terminal software — sees a card inserted in that reader.
//!
//! ```text
//!  PC/SC application ── libpcsclite ── pcscd ── vpcd driver ── TCP 127.0.0.1:35963 ── serve(card)
//! ```
//!
//! # Wire protocol (vsmartcard 0.8, `vpcd.h`)
//!
//! Every message, both ways, is a 2-byte big-endian length and that many bytes. From vpcd, a
//! one-byte message is a control command: `00` power off, `01` power on, `02` reset (no reply)
//! and `04` get ATR (reply: the ATR). Anything else is a C-APDU, passed unchanged from the
//! application; the reply is the R-APDU. The card never sends anything unasked.
//!
//! vpcd (inside pcscd) listens and the card connects. pcscd polls for presence every 400 ms with
//! an ATR request; closing the socket is "card removed" (the reader shows it within ~400 ms).
//!
//! Two details matter for speed: the card sets `TCP_NODELAY`, and sets `TCP_QUICKACK` after
//! *every* read. vpcd 0.8 sends length and body in two writes without `TCP_NODELAY`, so without
//! the quick ACK every APDU waits for Linux's ~40 ms delayed ACK (≈44 ms per APDU instead of
//! ≈0.09 ms). Each reply goes out in one write.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::atomic::AtomicBool;
//! use quickpass_sim::CardProfile;
//! use quickpass_sim::vpcd::{self, DEFAULT_PORT};
//!
//! let mut card = CardProfile::load("vectors/cards/qpboc-debit-offline.json")?.build()?;
//! let stop = AtomicBool::new(false); // set it from another thread to stop
//! // Serves until `stop` is set; reconnects whenever pcscd restarts.
//! let stats = vpcd::serve(&mut card, vpcd::localhost(DEFAULT_PORT), &stop);
//! println!("{} APDUs served", stats.apdus);
//! # Ok(())
//! # }
//! ```
//!
//! [`VirtualCard`]: crate::VirtualCard

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The port of the first vpcd reader, "Virtual PCD 00 00" (`VPCDPORT` in `vpcd.h`).
pub const DEFAULT_PORT: u16 = 35963;
/// The port of the second vpcd reader, "Virtual PCD 00 01" (the driver has two slots).
pub const SECOND_PORT: u16 = 35964;
/// The largest payload one frame can carry (the length prefix is 16 bits).
pub const MAX_FRAME: usize = 0xFFFF;

/// Control command `00`: power the card off (no reply).
pub const CTRL_OFF: u8 = 0x00;
/// Control command `01`: power the card on (no reply).
pub const CTRL_ON: u8 = 0x01;
/// Control command `02`: reset the card (no reply).
pub const CTRL_RESET: u8 = 0x02;
/// Control command `04`: send the ATR.
pub const CTRL_ATR: u8 = 0x04;

/// `6F00` (no precise diagnosis): sent instead of a response that does not fit a frame.
const SW_NO_PRECISE_DIAGNOSIS: [u8; 2] = [0x6F, 0x00];

/// `127.0.0.1:port`, where vpcd listens (the card should never connect elsewhere).
pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// A card as vpcd drives it.
pub trait VpcdCard {
    /// The answer to reset (sent for every `04`, i.e. every 400 ms while inserted).
    fn atr(&self) -> Vec<u8>;
    /// Power on (`01`) or reset (`02`): a cold or warm reset, session state dropped.
    fn reset(&mut self);
    /// Power off (`00`): session state dropped.
    fn power_off(&mut self);
    /// One C-APDU in, the R-APDU (data ‖ SW1 SW2) out.
    fn process(&mut self, apdu: &[u8]) -> Vec<u8>;
}

impl VpcdCard for crate::VirtualCard {
    fn atr(&self) -> Vec<u8> {
        crate::VirtualCard::atr(self).to_vec()
    }

    fn reset(&mut self) {
        crate::VirtualCard::reset(self);
    }

    fn power_off(&mut self) {
        crate::VirtualCard::reset(self);
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.process_apdu(apdu)
    }
}

impl<C: VpcdCard + ?Sized> VpcdCard for &mut C {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn power_off(&mut self) {
        (**self).power_off();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).process(apdu)
    }
}

impl<C: VpcdCard + ?Sized> VpcdCard for Box<C> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn power_off(&mut self) {
        (**self).power_off();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        (**self).process(apdu)
    }
}

/// A card shared with other threads: serve a clone of the `Arc` and inspect, change or swap the
/// card (`*shared.lock() = other_card`) while it stays inserted. A poisoned lock is recovered
/// (the card's state is whatever the panicking thread left).
impl<C: VpcdCard + ?Sized> VpcdCard for Arc<Mutex<C>> {
    fn atr(&self) -> Vec<u8> {
        self.lock().unwrap_or_else(|e| e.into_inner()).atr()
    }
    fn reset(&mut self) {
        self.lock().unwrap_or_else(|e| e.into_inner()).reset();
    }
    fn power_off(&mut self) {
        self.lock().unwrap_or_else(|e| e.into_inner()).power_off();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.lock().unwrap_or_else(|e| e.into_inner()).process(apdu)
    }
}

/// Something that happened while serving, for logs ([`Server::serve_with`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Connected to vpcd: the reader will show the card within ~400 ms.
    Connected(SocketAddr),
    /// vpcd is not listening (pcscd not running, or vpcd not installed); retrying.
    Waiting(&'a io::Error),
    /// The connection ended (pcscd stopped or restarted); reconnecting unless stopping.
    Disconnected(&'a io::Error),
    /// A control command arrived (`00`, `01` or `02`; `04` ATR polls are not reported).
    Control(u8),
    /// An APDU was processed.
    Apdu {
        /// The C-APDU received.
        command: &'a [u8],
        /// The R-APDU sent back.
        response: &'a [u8],
    },
}

/// What a [`serve`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections made to vpcd.
    pub connections: u64,
    /// C-APDUs answered.
    pub apdus: u64,
    /// ATR requests answered.
    pub atr_requests: u64,
    /// Power on / power off / reset commands received.
    pub resets: u64,
}

/// A vpcd card server: where to connect and how often to look at the stop flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    addr: SocketAddr,
    retry_interval: Duration,
    stop_check_interval: Duration,
}

impl Server {
    /// A server for vpcd at `addr` (normally [`localhost`]`(`[`DEFAULT_PORT`]`)`), retrying
    /// every 100 ms and checking the stop flag every 100 ms.
    pub fn new(addr: SocketAddr) -> Self {
        Server {
            addr,
            retry_interval: Duration::from_millis(100),
            stop_check_interval: Duration::from_millis(100),
        }
    }

    /// How long to wait between connection attempts while vpcd is not listening (at least 1 ms).
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How often an idle connection looks at the stop flag (at least 1 ms).
    pub fn stop_check_interval(mut self, interval: Duration) -> Self {
        self.stop_check_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `card` until `stop` is set; see [`serve`].
    pub fn serve(&self, card: &mut impl VpcdCard, stop: &AtomicBool) -> Stats {
        self.serve_with(card, stop, |_| {})
    }

    /// Serves `card` until `stop` is set, calling `on_event` for connections, disconnections,
    /// control commands and APDUs.
    pub fn serve_with(
        &self,
        card: &mut impl VpcdCard,
        stop: &AtomicBool,
        mut on_event: impl FnMut(&Event<'_>),
    ) -> Stats {
        let mut stats = Stats::default();
        let mut waiting_reported = false;
        while !stop.load(Ordering::Relaxed) {
            let stream = match TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                Ok(stream) => stream,
                Err(error) => {
                    if !waiting_reported {
                        on_event(&Event::Waiting(&error));
                        waiting_reported = true;
                    }
                    std::thread::sleep(self.retry_interval);
                    continue;
                }
            };
            waiting_reported = false;
            stats.connections += 1;
            on_event(&Event::Connected(self.addr));
            if let Err(error) = self.serve_connection(stream, card, stop, &mut stats, &mut on_event)
            {
                on_event(&Event::Disconnected(&error));
                // A fresh connection is a card insertion: pcscd will power it on again.
                card.power_off();
                std::thread::sleep(self.retry_interval);
            }
        }
        stats
    }

    /// Answers frames on one connection until the stop flag is set (`Ok`) or the connection
    /// fails or ends (`Err`, with `UnexpectedEof` for an orderly close).
    fn serve_connection(
        &self,
        mut stream: TcpStream,
        card: &mut impl VpcdCard,
        stop: &AtomicBool,
        stats: &mut Stats,
        on_event: &mut impl FnMut(&Event<'_>),
    ) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.stop_check_interval))?;
        quickack(&stream);
        let mut payload = Vec::new();
        loop {
            if !read_frame(&mut stream, &mut payload, stop)? {
                return Ok(());
            }
            match payload.as_slice() {
                [CTRL_ATR] => {
                    stats.atr_requests += 1;
                    write_frame(&mut stream, &card.atr())?;
                }
                [control @ (CTRL_OFF | CTRL_ON | CTRL_RESET)] => {
                    stats.resets += 1;
                    if *control == CTRL_OFF {
                        card.power_off();
                    } else {
                        card.reset();
                    }
                    on_event(&Event::Control(*control));
                }
                command => {
                    stats.apdus += 1;
                    let response = card.process(command);
                    write_frame(&mut stream, &response)?;
                    on_event(&Event::Apdu {
                        command,
                        response: &response,
                    });
                }
            }
        }
    }
}

/// Serves `card` to vpcd at `addr` until `stop` is set, and returns what it did.
///
/// Connects to `addr` (retrying every 100 ms while nothing listens), answers vpcd's frames, and
/// when the connection ends — pcscd stopped or restarted — powers the card off and connects
/// again; the card object keeps its persistent state (balances, counters) throughout. Setting
/// `stop` closes the connection within ~100 ms, which pcscd sees as the card being removed.
/// Never fails: I/O errors end a connection, not the server.
pub fn serve(card: &mut impl VpcdCard, addr: SocketAddr, stop: &AtomicBool) -> Stats {
    Server::new(addr).serve(card, stop)
}

/// A card served on its own thread ([`spawn`]).
#[derive(Debug)]
pub struct ServedCard<C> {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<C>>,
}

/// Serves `card` to vpcd at `addr` on a new thread, until [`ServedCard::remove`] (or drop).
pub fn spawn<C: VpcdCard + Send + 'static>(card: C, addr: SocketAddr) -> io::Result<ServedCard<C>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name(format!("vpcd-card-{}", addr.port()))
        .spawn(move || {
            let mut card = card;
            serve(&mut card, addr, &flag);
            card
        })?;
    Ok(ServedCard {
        stop,
        thread: Some(thread),
    })
}

impl<C> ServedCard<C> {
    /// Stops serving — closes the socket, which pcscd sees as the card being removed — and
    /// returns the card (`None` only if the card panicked).
    pub fn remove(mut self) -> Option<C> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl<C> Drop for ServedCard<C> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one frame into `payload`. `Ok(false)` when `stop` was set while waiting.
fn read_frame(
    stream: &mut TcpStream,
    payload: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let mut header = [0u8; 2];
    if !fill(stream, &mut header, stop)? {
        return Ok(false);
    }
    payload.clear();
    payload.resize(usize::from(u16::from_be_bytes(header)), 0);
    fill(stream, payload, stop)
}

/// Fills `buf` from the stream, tolerating read timeouts (used to look at `stop`), and sets
/// `TCP_QUICKACK` after every read. `Ok(false)` when `stop` was set; `UnexpectedEof` on close.
fn fill(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "vpcd closed the connection",
                ))
            }
            Ok(n) => {
                filled += n;
                quickack(stream);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes one frame (length and payload in a single write). A payload too long for a frame is
/// replaced by `6F00`.
fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let payload = if payload.len() > MAX_FRAME {
        &SW_NO_PRECISE_DIAGNOSIS[..]
    } else {
        payload
    };
    let mut frame = Vec::with_capacity(payload.len() + 2);
    // The length fits: checked above.
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// Asks Linux to ACK at once instead of delaying (the flag does not stick, hence after every
/// read). Elsewhere a no-op; failures are harmless (only speed is at stake).
fn quickack(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = stream;
    }
}

// ---------------------------------------------------------------------------------------------
// The test slot lock

/// One process at a time on the two vpcd slots ("Virtual PCD 00 00" / "00 01"), shared by the
/// workspace's PC/SC test binaries (`tests/pcsc_*.rs`, `cli/tests/pcsc_cli.rs`).
///
/// vpcd takes one card connection per slot, so two test processes serving cards at once (two
/// test binaries under `cargo nextest`, or two checkouts testing on one machine) would steal each
/// other's cards. A `static Mutex` only serialises the threads of one binary; this lock spans
/// processes. It is an abstract Unix socket name (Linux): binding it succeeds in one process at
/// a time, and the kernel releases it when that process exits, crashed or not — no lock file to
/// go stale, no `unsafe` `flock` (and `File::lock` needs Rust 1.89, above the 1.85 MSRV).
/// Elsewhere it does nothing (vpcd runs on Linux).
///
/// The lock is held from the first call until the process exits: a binary keeps its cards
/// served across its tests, so the slots are busy until it is done.
///
/// Takes the slots for the rest of this process (waiting up to 5 minutes for another process to
/// finish); later calls return at once.
#[cfg(target_os = "linux")]
pub fn hold_test_slots() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// How long a process waits for another to finish with the slots.
    const WAIT: Duration = Duration::from_secs(300);

    static HELD: OnceLock<UnixListener> = OnceLock::new();
    HELD.get_or_init(|| {
        let name = SocketAddr::from_abstract_name(b"quickpass-test-vpcd-slots")
            .expect("abstract socket name");
        let deadline = Instant::now() + WAIT;
        let mut told = false;
        loop {
            match UnixListener::bind_addr(&name) {
                Ok(listener) => return listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    assert!(
                        Instant::now() < deadline,
                        "another process held the vpcd slots for {WAIT:?}"
                    );
                    if !told {
                        eprintln!("waiting for another process to finish with the vpcd slots");
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("vpcd slot lock: {e}"),
            }
        }
    });
}

/// Takes the slots for the rest of this process (nothing to do off Linux: vpcd runs on Linux).
#[cfg(not(target_os = "linux"))]
pub fn hold_test_slots() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// Records what vpcd asked of it.
    #[derive(Debug, Default)]
    struct Recorder {
        resets: usize,
        power_offs: usize,
        apdus: Vec<Vec<u8>>,
    }

    impl VpcdCard for Recorder {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x80, 0x80, 0x01, 0x01]
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
        fn power_off(&mut self) {
            self.power_offs += 1;
        }
        fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.apdus.push(apdu.to_vec());
            let mut response = apdu.iter().rev().copied().collect::<Vec<_>>();
            response.extend_from_slice(&[0x90, 0x00]);
            response
        }
    }

    /// vpcd's side of a frame exchange.
    fn send(stream: &mut TcpStream, payload: &[u8]) {
        let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(payload);
        stream.write_all(&frame).unwrap();
    }

    fn receive(stream: &mut TcpStream) -> Vec<u8> {
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
        stream.read_exact(&mut body).unwrap();
        body
    }

    fn served(
        listener: &TcpListener,
    ) -> (
        Arc<AtomicBool>,
        std::thread::JoinHandle<(Recorder, Stats)>,
        mpsc::Receiver<String>,
    ) {
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (events, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut card = Recorder::default();
            let stats = Server::new(addr)
                .retry_interval(Duration::from_millis(10))
                .stop_check_interval(Duration::from_millis(10))
                .serve_with(&mut card, &flag, |event| {
                    let _ = events.send(format!("{event:?}"));
                });
            (card, stats)
        });
        (stop, thread, rx)
    }

    #[test]
    fn atr_apdu_controls_and_reconnect() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (stop, thread, events) = served(&listener);

        let (mut vpcd, _) = listener.accept().unwrap();
        // Insertion as pcscd does it: ATR, ATR, power on, ATR.
        send(&mut vpcd, &[CTRL_ATR]);
        assert_eq!(receive(&mut vpcd), [0x3B, 0x80, 0x80, 0x01, 0x01]);
        send(&mut vpcd, &[CTRL_ON]);
        send(&mut vpcd, &[CTRL_ATR]);
        assert_eq!(receive(&mut vpcd), [0x3B, 0x80, 0x80, 0x01, 0x01]);
        // An APDU round trip.
        send(&mut vpcd, &[0x00, 0xA4, 0x04, 0x00]);
        assert_eq!(receive(&mut vpcd), [0x00, 0x04, 0xA4, 0x00, 0x90, 0x00]);
        // A one-byte message that is not a control command is an APDU too.
        send(&mut vpcd, &[0x03]);
        assert_eq!(receive(&mut vpcd), [0x03, 0x90, 0x00]);
        send(&mut vpcd, &[CTRL_RESET]);
        send(&mut vpcd, &[CTRL_OFF]);
        // A frame split in pieces, as vpcd 0.8 sends it (header, then body).
        vpcd.write_all(&[0x00, 0x05]).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        vpcd.write_all(&[0x80, 0xCA, 0x9F, 0x36, 0x00]).unwrap();
        assert_eq!(
            receive(&mut vpcd),
            [0x00, 0x36, 0x9F, 0xCA, 0x80, 0x90, 0x00]
        );

        // pcscd goes away: EOF. The server reconnects and keeps serving the same card.
        drop(vpcd);
        let (mut vpcd, _) = listener.accept().unwrap();
        send(&mut vpcd, &[CTRL_ATR]);
        assert_eq!(receive(&mut vpcd), [0x3B, 0x80, 0x80, 0x01, 0x01]);
        send(&mut vpcd, &[0x00, 0xB2, 0x01, 0x0C, 0x00]);
        assert_eq!(
            receive(&mut vpcd),
            [0x00, 0x0C, 0x01, 0xB2, 0x00, 0x90, 0x00]
        );

        // Stop: the server closes its socket (card removed).
        stop.store(true, Ordering::Relaxed);
        let (card, stats) = thread.join().unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(vpcd.read(&mut byte).unwrap(), 0, "socket closed on stop");

        assert_eq!(card.resets, 2, "power on and reset both reset the card");
        // Power off command, plus the power-down done on disconnection.
        assert_eq!(card.power_offs, 2);
        assert_eq!(card.apdus.len(), 4);
        assert_eq!(
            stats,
            Stats {
                connections: 2,
                apdus: 4,
                atr_requests: 3,
                resets: 3,
            }
        );
        let events: Vec<String> = events.try_iter().collect();
        assert!(events[0].starts_with("Connected"), "{events:?}");
        assert!(
            events.iter().any(|e| e.starts_with("Disconnected")),
            "{events:?}"
        );
        assert_eq!(
            events.iter().filter(|e| e.starts_with("Connected")).count(),
            2
        );
    }

    #[test]
    fn waits_for_vpcd_and_stops_while_waiting() {
        // Reserve a port, then free it: nothing listens there.
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut card = Recorder::default();
            Server::new(addr)
                .retry_interval(Duration::from_millis(10))
                .serve(&mut card, &flag)
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(thread.join().unwrap().connections, 0);
    }

    #[test]
    fn spawned_card_is_returned_on_removal() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let served = spawn(Recorder::default(), listener.local_addr().unwrap()).unwrap();
        let (mut vpcd, _) = listener.accept().unwrap();
        send(&mut vpcd, &[0x00, 0x84, 0x00, 0x00, 0x08]);
        assert_eq!(receive(&mut vpcd).len(), 7);
        let card = served.remove().unwrap();
        assert_eq!(card.apdus, [vec![0x00, 0x84, 0x00, 0x00, 0x08]]);
    }

    #[test]
    fn oversized_response_becomes_6f00() {
        struct Huge;
        impl VpcdCard for Huge {
            fn atr(&self) -> Vec<u8> {
                Vec::new()
            }
            fn reset(&mut self) {}
            fn power_off(&mut self) {}
            fn process(&mut self, _: &[u8]) -> Vec<u8> {
                vec![0; MAX_FRAME + 1]
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let served = spawn(Huge, listener.local_addr().unwrap()).unwrap();
        let (mut vpcd, _) = listener.accept().unwrap();
        send(&mut vpcd, &[0x00, 0xC0, 0x00, 0x00, 0x00]);
        assert_eq!(receive(&mut vpcd), [0x6F, 0x00]);
        drop(served);
    }

    #[test]
    fn virtual_card_is_a_vpcd_card() {
        let mut card = crate::VirtualCard::new(vec![0x3B, 0x00], true, false);
        assert_eq!(VpcdCard::atr(&card), [0x3B, 0x00]);
        // PPSE with no applications still answers.
        let response = VpcdCard::process(&mut card, b"\x00\xA4\x04\x00\x0E2PAY.SYS.DDF01\x00");
        assert_eq!(response[response.len() - 2..], [0x90, 0x00]);
        VpcdCard::power_off(&mut card);
        VpcdCard::reset(&mut card);
    }
}
