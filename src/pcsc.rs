//! The PC/SC transport: the kernel's [`Transport`] over a real (or virtual) card reader.
//!
//! [`PcscTransport`] wraps one PC/SC context and at most one connected card. It talks to the
//! resource manager (`pcscd` from pcsc-lite on Linux and macOS, WinSCard on Windows) through the
//! [`pcsc`] crate, so this module is only built with the `pcsc` cargo feature (which needs
//! `libpcsclite-dev` and `pkg-config` at build time on Linux).
//!
//! What it does: list readers, wait for a card, connect in shared mode with T=0 or T=1 and
//! report the negotiated protocol, exchange APDUs, reset and disconnect the card. What it does
//! not do: interpret status words (the kernel's
//! [`ApduLayer`](quickpass_kernel::transport::ApduLayer) handles `61xx`/`6Cxx` once, for every
//! transport), or retry anything behind the caller's back.
//!
//! Every failure is a typed [`PcscError`] that says who is at fault: the card left the field,
//! the reader is gone, the service (`pcscd`) is not running, the caller misused the API.
//!
//! # Deadlines
//!
//! Every exchange has a deadline ([`PcscTransport::set_exchange_deadline`], default
//! [`DEFAULT_EXCHANGE_DEADLINE`], 2 s). `SCardTransmit` itself cannot be interrupted: pcsc-lite
//! waits as long as the reader driver does (a mute card behind vpcd blocked a tap for more than
//! 150 s), and `SCardCancel` only cancels `SCardGetStatusChange`. So the transmit runs on a
//! short-lived worker thread that owns a handle to the card; the caller waits for its answer
//! only until the deadline. When the deadline passes, the exchange is **abandoned**:
//!
//! - the call returns [`PcscError::Timeout`] (its [`link_failure`](TransportError::link_failure)
//!   is [`LinkFailure::Timeout`], so the kernel ends the tap with Try Again), or
//!   [`PcscError::CardRemoved`] if the reader already reports no card;
//! - the connection is dropped: the transport is not connected any more
//!   ([`PcscError::NotConnected`] until the next [`connect`](PcscTransport::connect)), because
//!   the card's state after a command it may or may not have executed is unknown;
//! - the transport takes a fresh PC/SC context, because pcsc-lite holds a context's lock for the
//!   whole of a transmit: any later call on the old context would wait for the hung one.
//!
//! The worker keeps the old card handle and context until the driver finally returns, then
//! releases them (disconnect with a card reset) and ends. Limits: a driver that never returns
//! keeps that one thread (and its handle inside pcscd) for the life of the process; the
//! reader itself may stay busy inside pcscd until its driver gives up, so a `connect` to the same
//! reader right after an abandoned exchange can wait or fail — the terminal loop should wait for
//! the card to be removed and tapped again. Each exchange costs one thread spawn (tens of
//! microseconds, small next to a contactless APDU round trip); `set_exchange_deadline(None)`
//! restores the plain blocking transmit on the caller's thread.
//!
//! A whole tap can have a deadline too ([`PcscTransport::set_tap_deadline`], off by default):
//! its clock starts at [`connect`](PcscTransport::connect) (a validator connects once per card
//! presented) and every exchange of the tap waits only until the earlier of its own deadline and
//! the tap's. An exchange asked for after the tap's deadline is not sent at all: it fails with
//! [`PcscError::TapDeadline`] (a [`LinkFailure::Timeout`]) and the card is released, as after
//! an abandoned exchange. So a card that answers each command just inside the exchange deadline
//! still cannot hold a validator longer than the tap deadline (plus the one exchange in flight,
//! which is itself cut at the tap deadline).
//!
//! A terminal with a PSAM in a second reader (bus validators, ETC top-up machines) simply opens
//! a second `PcscTransport` on that reader: each value owns its own context and card handle, so
//! the two never interfere and can live on different threads.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use quickpass::kernel::selection::read_ppse_directory;
//! use quickpass::kernel::transport::ApduLayer;
//! use quickpass::pcsc::PcscTransport;
//!
//! let mut reader = PcscTransport::new()?;
//! let name = reader
//!     .list_readers()?
//!     .into_iter()
//!     .next()
//!     .ok_or("no reader attached")?;
//! reader.wait_for_card(&name, Duration::from_secs(30))?;
//! let protocol = reader.connect(&name)?;
//! println!("connected to {name} with {protocol:?}, ATR {}", hex::encode(reader.atr()));
//!
//! let mut layer = ApduLayer::new(reader);
//! for entry in read_ppse_directory(&mut layer)? {
//!     println!("{:?} {:?}", entry.aid, entry.label);
//! }
//!
//! // A PSAM in a second reader is just a second transport.
//! let mut psam = PcscTransport::new()?;
//! psam.connect("SAM reader 01 00")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::{CStr, CString};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State};
use quickpass_kernel::transport::{
    Atr, CardPresence, LifecycleError, LinkFailure, Transport, TransportError,
};

pub use pcsc::{Disposition, Protocol};

/// Longest single `get_status_change` wait, so a vanished reader or a stopped service is noticed
/// promptly even when the caller gave a long timeout.
const STATUS_POLL: Duration = Duration::from_millis(500);

/// The default deadline of one exchange ([`PcscTransport::set_exchange_deadline`]).
///
/// A contactless card answers a command in milliseconds: EMV Book D caps the frame waiting time
/// at FWI 7 (about 40 ms), extended with S(WTX) only while the card computes, and a whole qPBOC
/// tap is designed to take under 500 ms, RSA/SM2 signatures included. A contact PSAM doing an
/// MAC or a key diversification answers in tens of milliseconds. Two seconds is several times
/// the slowest legitimate answer, yet short enough that a validator with a mute card or a hung
/// reader is back to "present card" before the rider gives up.
pub const DEFAULT_EXCHANGE_DEADLINE: Duration = Duration::from_secs(2);

/// How long a failed exchange waits, by default, for the reader to report the card removed.
const DEFAULT_REMOVAL_CHECK: Duration = Duration::from_secs(1);

/// Why a PC/SC operation failed, by who is at fault.
///
/// Built from the [`pcsc::Error`] the resource manager returned; every code an application can
/// act on has its own variant, the rest are kept as they are in [`PcscError::Other`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcscError {
    /// The card was removed (left the field) since it was connected (`SCARD_W_REMOVED_CARD`),
    /// or an exchange with it failed and the reader now reports no card.
    #[error("card removed")]
    CardRemoved,
    /// There is no card in the reader (`SCARD_E_NO_SMARTCARD`).
    #[error("no card in the reader")]
    NoCard,
    /// The card was reset by another application sharing it (`SCARD_W_RESET_CARD`): its
    /// session state (selected application, GPO, …) is gone; [`PcscTransport::reconnect`].
    #[error("card was reset by another application")]
    CardReset,
    /// The card is present but does not answer (mute, no ATR, unpowered, unsupported:
    /// `SCARD_W_UNRESPONSIVE_CARD`, `SCARD_W_UNPOWERED_CARD`, `SCARD_W_UNSUPPORTED_CARD`,
    /// `SCARD_E_INVALID_ATR`).
    #[error("card does not respond")]
    Unresponsive,
    /// The exchange with the card failed (`SCARD_E_NOT_TRANSACTED`, `SCARD_F_COMM_ERROR`)
    /// while the reader still reports a card: the card answered garbage or the field dropped.
    #[error("exchange with the card failed")]
    Transmission,
    /// The reader is known but cannot be used any more: unplugged or its driver failed
    /// (`SCARD_E_READER_UNAVAILABLE`).
    #[error("reader unavailable")]
    ReaderUnavailable,
    /// No reader has that name (`SCARD_E_UNKNOWN_READER`): wrong name, or it was unplugged.
    #[error("unknown reader")]
    UnknownReader,
    /// No reader is attached at all (`SCARD_E_NO_READERS_AVAILABLE`).
    #[error("no readers available")]
    NoReaders,
    /// The PC/SC service is not running (`SCARD_E_NO_SERVICE`): start `pcscd`.
    #[error("PC/SC service not running (start pcscd)")]
    NoService,
    /// The PC/SC service stopped while in use (`SCARD_E_SERVICE_STOPPED`, `SCARD_P_SHUTDOWN`).
    #[error("PC/SC service stopped")]
    ServiceStopped,
    /// The operation did not complete in time (`SCARD_E_TIMEOUT`; no card appeared within
    /// the timeout given to [`PcscTransport::wait_for_card`]; or an exchange passed its
    /// [deadline](PcscTransport::set_exchange_deadline) and was abandoned, the transport is then
    /// disconnected).
    #[error("timed out")]
    Timeout,
    /// Another application holds the card exclusively (`SCARD_E_SHARING_VIOLATION`).
    #[error("card held exclusively by another application")]
    Sharing,
    /// Neither T=0 nor T=1 could be negotiated (`SCARD_E_PROTO_MISMATCH`,
    /// `SCARD_E_CARD_UNSUPPORTED`), or the reader reported no protocol.
    #[error("no usable protocol (T=0 or T=1)")]
    Protocol,
    /// The caller asked for an exchange but no card is connected: call
    /// [`PcscTransport::connect`] first.
    #[error("not connected to a card")]
    NotConnected,
    /// The reader name contains a NUL byte, so it cannot name a reader.
    #[error("invalid reader name (contains NUL)")]
    InvalidReaderName,
    /// The tap's [deadline](PcscTransport::set_tap_deadline) passed: the exchange was not sent
    /// (or was abandoned at the deadline) and the card released; the terminal waits for the
    /// card to be presented again.
    #[error("the tap's deadline passed")]
    TapDeadline,
    /// Any other PC/SC error, as the resource manager reported it.
    #[error("PC/SC error: {0}")]
    Other(pcsc::Error),
}

impl From<pcsc::Error> for PcscError {
    fn from(error: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match error {
            E::RemovedCard => PcscError::CardRemoved,
            E::NoSmartcard => PcscError::NoCard,
            E::ResetCard => PcscError::CardReset,
            E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::InvalidAtr => {
                PcscError::Unresponsive
            }
            E::NotTransacted | E::CommError => PcscError::Transmission,
            E::ReaderUnavailable => PcscError::ReaderUnavailable,
            E::UnknownReader => PcscError::UnknownReader,
            E::NoReadersAvailable => PcscError::NoReaders,
            E::NoService => PcscError::NoService,
            E::ServiceStopped | E::Shutdown => PcscError::ServiceStopped,
            E::Timeout => PcscError::Timeout,
            E::SharingViolation => PcscError::Sharing,
            E::ProtoMismatch | E::CardUnsupported => PcscError::Protocol,
            other => PcscError::Other(other),
        }
    }
}

/// A connected card.
struct Connection {
    /// Shared with the worker thread of an exchange in progress (which drops its clone before it
    /// answers, so between exchanges this is the only one and `Arc::get_mut` succeeds).
    card: Arc<pcsc::Card>,
    reader: CString,
    protocol: Protocol,
    atr: Vec<u8>,
}

/// The kernel's [`Transport`] over one PC/SC reader.
///
/// Make one with [`PcscTransport::new`], find a reader with [`list_readers`](Self::list_readers),
/// wait for a card with [`wait_for_card`](Self::wait_for_card), then [`connect`](Self::connect)
/// and hand the transport to an [`ApduLayer`](quickpass_kernel::transport::ApduLayer). The card
/// is opened in shared mode, so tools such as `pcsc_scan` keep working alongside.
///
/// Dropping a connected transport disconnects with a card reset (PC/SC's default), like
/// [`disconnect`](Self::disconnect)`(Disposition::ResetCard)`.
pub struct PcscTransport {
    context: Context,
    connection: Option<Connection>,
    removal_check: Duration,
    exchange_deadline: Option<Duration>,
    /// The deadline of a whole tap, counted from `connect`.
    tap_deadline: Option<Duration>,
    /// When the current tap's deadline passes (set by `connect` when there is a tap deadline).
    tap_ends: Option<Instant>,
}

impl core::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = f.debug_struct("PcscTransport");
        match &self.connection {
            Some(c) => s
                .field("reader", &c.reader)
                .field("protocol", &c.protocol)
                .field("atr", &hex::encode(&c.atr)),
            None => s.field("reader", &Option::<()>::None),
        };
        s.finish()
    }
}

impl PcscTransport {
    /// Establishes a PC/SC context (system scope). Fails with [`PcscError::NoService`] when the
    /// resource manager is not running.
    pub fn new() -> Result<Self, PcscError> {
        let context = Context::establish(Scope::System)?;
        Ok(PcscTransport {
            context,
            connection: None,
            removal_check: DEFAULT_REMOVAL_CHECK,
            exchange_deadline: Some(DEFAULT_EXCHANGE_DEADLINE),
            tap_deadline: None,
            tap_ends: None,
        })
    }

    /// The names of the attached readers, in the resource manager's order (an empty list when
    /// there are none). Names that are not UTF-8 are converted lossily.
    pub fn list_readers(&self) -> Result<Vec<String>, PcscError> {
        match self.context.list_readers_owned() {
            Ok(names) => Ok(names
                .iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()),
            Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until a card is present (and not mute) in `reader`, and returns its ATR.
    ///
    /// A reader that does not exist yet is waited for too (it may be plugged in); if it never
    /// appears, the error is [`PcscError::UnknownReader`], otherwise [`PcscError::Timeout`].
    pub fn wait_for_card(&self, reader: &str, timeout: Duration) -> Result<Vec<u8>, PcscError> {
        let name = reader_name(reader)?;
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        let mut reader_seen = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let known = match self
                .context
                .get_status_change(remaining.min(STATUS_POLL), &mut states)
            {
                Ok(()) | Err(pcsc::Error::Timeout) => !states[0]
                    .event_state()
                    .intersects(State::UNKNOWN | State::IGNORE),
                Err(pcsc::Error::UnknownReader) => false,
                Err(e) => return Err(e.into()),
            };
            reader_seen |= known;
            let event = states[0].event_state();
            if known && event.contains(State::PRESENT) && !event.contains(State::MUTE) {
                return Ok(states[0].atr().to_vec());
            }
            if remaining.is_zero() {
                return Err(if reader_seen {
                    PcscError::Timeout
                } else {
                    PcscError::UnknownReader
                });
            }
            if known {
                states[0].sync_current_state();
            } else {
                // The reader does not exist (yet): get_status_change would return at once.
                std::thread::sleep(remaining.min(Duration::from_millis(100)));
                states[0] = ReaderState::new(reader_name(reader)?, State::UNAWARE);
            }
        }
    }

    /// Waits until `reader` has no card (after "remove card"; a reader that is gone counts as
    /// empty). [`PcscError::Timeout`] if the card is still there after `timeout`.
    pub fn wait_for_removal(&self, reader: &str, timeout: Duration) -> Result<(), PcscError> {
        let name = reader_name(reader)?;
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(name, State::UNAWARE)];
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self
                .context
                .get_status_change(remaining.min(STATUS_POLL), &mut states)
            {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(pcsc::Error::UnknownReader) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            let event = states[0].event_state();
            if event.intersects(State::EMPTY | State::UNKNOWN | State::IGNORE) {
                return Ok(());
            }
            if remaining.is_zero() {
                return Err(PcscError::Timeout);
            }
            states[0].sync_current_state();
        }
    }

    /// Connects to the card in `reader` (shared mode, T=0 or T=1) and returns the negotiated
    /// protocol. A previous connection is first released with a card reset. Starts the clock of
    /// the [tap deadline](Self::set_tap_deadline), if there is one.
    pub fn connect(&mut self, reader: &str) -> Result<Protocol, PcscError> {
        let name = reader_name(reader)?;
        self.connection = None;
        self.tap_ends = self.tap_deadline.map(|budget| Instant::now() + budget);
        let card = self
            .context
            .connect(&name, ShareMode::Shared, Protocols::T0 | Protocols::T1)?;
        let status = card.status2_owned()?;
        let protocol = status.protocol2().ok_or(PcscError::Protocol)?;
        self.connection = Some(Connection {
            atr: status.atr().to_vec(),
            card: Arc::new(card),
            reader: name,
            protocol,
        });
        Ok(protocol)
    }

    /// Whether a card is connected.
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    /// The connected reader's name.
    pub fn reader(&self) -> Option<String> {
        self.connection
            .as_ref()
            .map(|c| c.reader.to_string_lossy().into_owned())
    }

    /// The negotiated protocol of the connected card.
    pub fn protocol(&self) -> Option<Protocol> {
        self.connection.as_ref().map(|c| c.protocol)
    }

    /// The connected card's ATR (empty when not connected), as read at connection or last
    /// reset.
    pub fn atr(&self) -> &[u8] {
        self.connection.as_ref().map_or(&[], |c| c.atr.as_slice())
    }

    /// Re-establishes the connection after [`PcscError::CardReset`] without resetting the card
    /// again, and returns the protocol.
    pub fn reconnect(&mut self) -> Result<Protocol, PcscError> {
        self.reconnect_with(Disposition::LeaveCard)
    }

    /// Warm-resets the card (its session state is gone: nothing selected) and returns the
    /// protocol negotiated after the reset.
    pub fn reset(&mut self) -> Result<Protocol, PcscError> {
        self.reconnect_with(Disposition::ResetCard)
    }

    /// Powers the card down and up again (cold reset) and returns the protocol.
    pub fn cold_reset(&mut self) -> Result<Protocol, PcscError> {
        self.reconnect_with(Disposition::UnpowerCard)
    }

    fn reconnect_with(&mut self, initialization: Disposition) -> Result<Protocol, PcscError> {
        let connection = self.connection.as_mut().ok_or(PcscError::NotConnected)?;
        // Between exchanges no worker holds the card (see `Connection::card`).
        let card = Arc::get_mut(&mut connection.card).ok_or(PcscError::NotConnected)?;
        card.reconnect(
            ShareMode::Shared,
            Protocols::T0 | Protocols::T1,
            initialization,
        )?;
        let status = connection.card.status2_owned()?;
        connection.protocol = status.protocol2().ok_or(PcscError::Protocol)?;
        connection.atr = status.atr().to_vec();
        Ok(connection.protocol)
    }

    /// Releases the card with `disposition` (`LeaveCard` keeps it powered and selected for the
    /// next connection, `ResetCard` resets it, `UnpowerCard` powers it down). Does nothing when
    /// not connected. The connection is gone afterwards even if the resource manager reported
    /// an error (which is returned).
    pub fn disconnect(&mut self, disposition: Disposition) -> Result<(), PcscError> {
        match self.connection.take() {
            None => Ok(()),
            Some(connection) => match Arc::try_unwrap(connection.card) {
                Ok(card) => card.disconnect(disposition).map_err(|(_card, e)| e.into()),
                // A worker still holds it (not reachable between exchanges): it resets the card
                // when it lets go.
                Err(_shared) => Ok(()),
            },
        }
    }

    /// Exchanges one APDU: the C-APDU bytes in, the R-APDU bytes (data ‖ SW1 SW2) out, through
    /// a [`pcsc::MAX_BUFFER_SIZE`] receive buffer (short APDUs: up to 256 data bytes + SW).
    ///
    /// With a deadline the transmit runs on a worker thread and is abandoned at the deadline
    /// (see the module documentation, "Deadlines").
    fn exchange(&mut self, command: &[u8]) -> Result<Vec<u8>, PcscError> {
        let connection = self.connection.as_ref().ok_or(PcscError::NotConnected)?;
        let (wait, cut_by_tap) = match self.wait_allowed() {
            Wait::TapOver => {
                // Nothing is sent: the tap is over. Release the card (reset) as after an
                // abandoned exchange, so the next tap starts from a fresh connection.
                let _ = self.disconnect(Disposition::ResetCard);
                return Err(PcscError::TapDeadline);
            }
            Wait::Unbounded => {
                return transmit(&connection.card, command).map_err(|error| self.blame(error))
            }
            Wait::Until { wait, cut_by_tap } => (wait, cut_by_tap),
        };
        let card = Arc::clone(&connection.card);
        let owned = command.to_vec();
        let (answer, answered) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("pcsc-transmit".into())
            .spawn(move || {
                let result = transmit(&card, &owned);
                // Let go of the card before answering, so the caller holds the only handle again
                // (or, when the caller has given up, the card is released here).
                drop(card);
                // The caller may have given up: nobody to tell.
                let _ = answer.send(result);
            });
        if spawned.is_err() {
            // No thread to be had (resource exhaustion): a blocking exchange beats no exchange.
            return transmit(&connection.card, command).map_err(|error| self.blame(error));
        }
        match answered.recv_timeout(wait) {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(self.blame(error)),
            Err(_) => Err(match self.abandon() {
                PcscError::Timeout if cut_by_tap => PcscError::TapDeadline,
                other => other,
            }),
        }
    }

    /// How long the next exchange may wait: the earlier of the exchange deadline and what is
    /// left of the tap's.
    fn wait_allowed(&self) -> Wait {
        let left_of_tap = self
            .tap_ends
            .map(|ends| ends.saturating_duration_since(Instant::now()));
        match (self.exchange_deadline, left_of_tap) {
            (_, Some(left)) if left.is_zero() => Wait::TapOver,
            (None, None) => Wait::Unbounded,
            (Some(exchange), None) => Wait::Until {
                wait: exchange,
                cut_by_tap: false,
            },
            (None, Some(left)) => Wait::Until {
                wait: left,
                cut_by_tap: true,
            },
            (Some(exchange), Some(left)) => Wait::Until {
                wait: exchange.min(left),
                cut_by_tap: left < exchange,
            },
        }
    }

    /// Gives up on a connection whose exchange is past its deadline: the worker keeps the card
    /// handle and the old context until the driver returns; this transport takes a new context
    /// (pcsc-lite holds the old one's lock for the whole of the hung transmit) and is no longer
    /// connected. [`PcscError::CardRemoved`] when the reader already reports no card, otherwise
    /// [`PcscError::Timeout`].
    fn abandon(&mut self) -> PcscError {
        let reader = self.connection.take().map(|c| c.reader);
        match Context::establish(Scope::System) {
            Ok(context) => self.context = context,
            // Keep the old one: later calls may wait for the hung transmit, but still work.
            Err(_) => return PcscError::Timeout,
        }
        let Some(reader) = reader else {
            return PcscError::Timeout;
        };
        let mut states = [ReaderState::new(reader, State::UNAWARE)];
        match self.context.get_status_change(Duration::ZERO, &mut states) {
            Err(pcsc::Error::UnknownReader) => PcscError::CardRemoved,
            Ok(()) | Err(pcsc::Error::Timeout)
                if states[0]
                    .event_state()
                    .intersects(State::EMPTY | State::UNKNOWN | State::IGNORE) =>
            {
                PcscError::CardRemoved
            }
            _ => PcscError::Timeout,
        }
    }

    /// The deadline of every exchange (default [`DEFAULT_EXCHANGE_DEADLINE`], 2 s; `None`: wait
    /// as long as the driver does, on the caller's thread). Past it the exchange is abandoned
    /// and the transport disconnected: see the module documentation, "Deadlines".
    pub fn set_exchange_deadline(&mut self, deadline: Option<Duration>) {
        self.exchange_deadline = deadline;
    }

    /// The deadline of every exchange ([`set_exchange_deadline`](Self::set_exchange_deadline)).
    pub fn exchange_deadline(&self) -> Option<Duration> {
        self.exchange_deadline
    }

    /// The deadline of a whole tap (default `None`: none), counted from each
    /// [`connect`](Self::connect): every exchange of the tap ends by then, and one asked for
    /// later fails at once with [`PcscError::TapDeadline`] without being sent. See the module
    /// documentation, "Deadlines". Takes effect at the next `connect`.
    pub fn set_tap_deadline(&mut self, deadline: Option<Duration>) {
        self.tap_deadline = deadline;
    }

    /// The deadline of a whole tap ([`set_tap_deadline`](Self::set_tap_deadline)).
    pub fn tap_deadline(&self) -> Option<Duration> {
        self.tap_deadline
    }

    /// Sharpens a failed exchange. When the resource manager only says the exchange failed
    /// (`SCARD_E_NOT_TRANSACTED`), the card has usually just left the field but the reader's
    /// state is not updated yet (pcscd polls some readers, vpcd every 400 ms): wait up to
    /// [`removal_check`](Self::set_removal_check) for the reader to report the card gone, so a
    /// tear reads as [`PcscError::CardRemoved`] rather than [`PcscError::Transmission`].
    fn blame(&self, error: pcsc::Error) -> PcscError {
        let typed = PcscError::from(error);
        if typed != PcscError::Transmission {
            return typed;
        }
        match self.connection.as_ref() {
            Some(connection) if self.card_left(&connection.reader) => PcscError::CardRemoved,
            _ => typed,
        }
    }

    /// Whether the card in `reader` is gone (or was swapped) within the removal check time.
    fn card_left(&self, reader: &CStr) -> bool {
        let mut states = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
        match self.context.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::UnknownReader) => return true,
            Err(_) => return false,
        }
        let inserted_at = states[0].event_count();
        let deadline = Instant::now() + self.removal_check;
        loop {
            let event = states[0].event_state();
            if event.intersects(State::EMPTY | State::UNKNOWN | State::IGNORE | State::UNAVAILABLE)
                || states[0].event_count() != inserted_at
            {
                return true;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return false;
            }
            states[0].sync_current_state();
            match self.context.get_status_change(remaining, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::UnknownReader) => return true,
                Err(_) => return false,
            }
        }
    }

    /// How long a failed exchange waits for the reader to report a removed card before it is
    /// reported as [`PcscError::Transmission`] (default 1 s; zero: do not wait). Only failed
    /// exchanges wait, and only until the reader's state changes.
    pub fn set_removal_check(&mut self, wait: Duration) {
        self.removal_check = wait;
    }
}

impl TransportError for PcscError {
    fn link_failure(&self) -> LinkFailure {
        match self {
            PcscError::CardRemoved | PcscError::NoCard => LinkFailure::CardRemoved,
            PcscError::Timeout | PcscError::TapDeadline | PcscError::Unresponsive => {
                LinkFailure::Timeout
            }
            _ => LinkFailure::Other,
        }
    }
}

impl Transport for PcscTransport {
    type Error = PcscError;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, PcscError> {
        self.exchange(command)
    }

    /// The connected reader's state now (no wait): [`CardPresence::Absent`] when it reports no
    /// card, [`CardPresence::Unknown`] when not connected.
    fn card_presence(&mut self) -> Result<CardPresence, PcscError> {
        let Some(connection) = self.connection.as_ref() else {
            return Ok(CardPresence::Unknown);
        };
        let mut states = [ReaderState::new(connection.reader.clone(), State::UNAWARE)];
        match self.context.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::UnknownReader) => return Ok(CardPresence::Absent),
            Err(e) => return Err(e.into()),
        }
        let event = states[0].event_state();
        Ok(if event.contains(State::PRESENT) {
            CardPresence::Present
        } else if event.intersects(State::EMPTY) {
            CardPresence::Absent
        } else {
            CardPresence::Unknown
        })
    }

    /// [`PcscTransport::reset`] (`SCardReconnect` with `SCARD_RESET_CARD`), then the new ATR.
    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<PcscError>> {
        self.reset().map_err(LifecycleError::Transport)?;
        Ok(Atr::new(self.atr().to_vec()))
    }

    /// [`PcscTransport::cold_reset`] (`SCARD_UNPOWER_CARD`), then the new ATR.
    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<PcscError>> {
        PcscTransport::cold_reset(self).map_err(LifecycleError::Transport)?;
        Ok(Atr::new(self.atr().to_vec()))
    }
}

/// How long an exchange may wait for its answer.
enum Wait {
    /// The tap's deadline has passed: send nothing.
    TapOver,
    /// No deadline at all: a plain blocking transmit.
    Unbounded,
    /// Wait this long; `cut_by_tap` when the tap's deadline is what limits it.
    Until { wait: Duration, cut_by_tap: bool },
}

/// One `SCardTransmit` through a [`pcsc::MAX_BUFFER_SIZE`] receive buffer.
fn transmit(card: &pcsc::Card, command: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
    let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE];
    card.transmit(command, &mut buffer).map(<[u8]>::to_vec)
}

fn reader_name(reader: &str) -> Result<CString, PcscError> {
    CString::new(reader).map_err(|_| PcscError::InvalidReaderName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_by_blame() {
        assert_eq!(
            PcscError::from(pcsc::Error::RemovedCard),
            PcscError::CardRemoved
        );
        assert_eq!(PcscError::from(pcsc::Error::NoSmartcard), PcscError::NoCard);
        assert_eq!(
            PcscError::from(pcsc::Error::NoService),
            PcscError::NoService
        );
        assert_eq!(
            PcscError::from(pcsc::Error::ServiceStopped),
            PcscError::ServiceStopped
        );
        assert_eq!(
            PcscError::from(pcsc::Error::UnknownReader),
            PcscError::UnknownReader
        );
        assert_eq!(
            PcscError::from(pcsc::Error::ReaderUnavailable),
            PcscError::ReaderUnavailable
        );
        assert_eq!(PcscError::from(pcsc::Error::Timeout), PcscError::Timeout);
        assert_eq!(
            PcscError::from(pcsc::Error::SharingViolation),
            PcscError::Sharing
        );
        assert_eq!(
            PcscError::from(pcsc::Error::ProtoMismatch),
            PcscError::Protocol
        );
        assert_eq!(
            PcscError::from(pcsc::Error::InvalidHandle),
            PcscError::Other(pcsc::Error::InvalidHandle)
        );
    }

    #[test]
    fn bad_reader_name_is_typed() {
        assert_eq!(reader_name("a\0b"), Err(PcscError::InvalidReaderName));
    }
}
