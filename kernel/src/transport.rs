//! The card interface and the APDU layer above it.
//!
//! [`Transport`] moves one C-APDU to the card and brings back the R-APDU bytes; it is the only
//! way the kernel reaches a card (a PC/SC reader, a simulated card, a replayed transcript).
//! [`ApduLayer`] sits on top and is the *one* place that handles the T=0 status words
//! `61xx` (GET RESPONSE) and `6Cxx` (re-send with the right Le), as EMV Book 1 §9.3.1.3 and
//! ISO/IEC 7816-3 §12.2 describe. Processing steps above it only see complete responses.
//!
//! The layer does no I/O of its own and reads no clock: it only calls the transport.

use alloc::{boxed::Box, vec::Vec};
use core::fmt;

use crate::apdu::{ApduError, Command, Response};
use crate::values::SwKind;

#[cfg(feature = "tracing")]
pub mod trace;

/// What kind of link failure a transport error is, so the kernel can tell a card taken away
/// (EMV Book A "Try Again": present the card again) from a reader fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkFailure {
    /// The card left the field or the slot (a tear).
    CardRemoved,
    /// The card did not answer in time (mute, field too weak).
    Timeout,
    /// Anything else (reader unplugged, driver or service failure, …).
    Other,
}

/// The error side of a [`Transport`]: a failure that says what kind of [`LinkFailure`] it is.
///
/// The provided [`TransportError::link_failure`] answers [`LinkFailure::Other`]; a transport
/// whose errors can say "card removed" overrides it. An error type opts in with one line:
/// `impl TransportError for MyError {}`.
pub trait TransportError: core::error::Error + 'static {
    /// What kind of link failure this is (default: [`LinkFailure::Other`]).
    fn link_failure(&self) -> LinkFailure {
        LinkFailure::Other
    }
}

impl TransportError for core::convert::Infallible {}

// With `std` (and in unit tests, which always link std).
#[cfg(any(feature = "std", test))]
impl TransportError for std::io::Error {
    fn link_failure(&self) -> LinkFailure {
        match self.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => LinkFailure::Timeout,
            _ => LinkFailure::Other,
        }
    }
}

/// Whether a card is in the field / slot, as far as the transport knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CardPresence {
    /// A card is there.
    Present,
    /// No card.
    Absent,
    /// The transport cannot tell (the provided default).
    Unknown,
}

/// An answer to reset (ISO/IEC 7816-3 §8), as the transport reports it after a reset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Atr(Vec<u8>);

impl Atr {
    /// An ATR from its bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Atr(bytes)
    }

    /// The ATR bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Why a lifecycle call ([`Transport::warm_reset`], [`Transport::cold_reset`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError<E: core::error::Error + 'static> {
    /// This transport cannot do that (the provided default).
    #[error("operation not supported by this transport")]
    Unsupported,
    /// The transport tried and failed.
    #[error("transport failed")]
    Transport(#[source] E),
}

/// A link to a card: one C-APDU in, the R-APDU bytes (data ‖ SW1 SW2) out, and the card's
/// lifecycle (presence, warm reset, cold reset / power cycle).
///
/// Only [`Transport::transmit`] is required: the lifecycle methods are provided (presence
/// [`CardPresence::Unknown`], resets [`LifecycleError::Unsupported`]), so a transport written
/// with `transmit` alone compiles. Implementations must not interpret status words;
/// [`ApduLayer`] does. The trait stays usable as `dyn Transport<Error = E>`.
pub trait Transport {
    /// What a failed exchange reports (reader removed, card mute, …), classified by
    /// [`TransportError::link_failure`].
    type Error: TransportError;

    /// Sends one encoded C-APDU and returns the R-APDU bytes.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error>;

    /// Whether a card is in the field (default: [`CardPresence::Unknown`]).
    fn card_presence(&mut self) -> Result<CardPresence, Self::Error> {
        Ok(CardPresence::Unknown)
    }

    /// Warm reset (ISO/IEC 7816-3 §6.2.3): the card's session state is gone, its stored state
    /// kept; returns the ATR (default: [`LifecycleError::Unsupported`]).
    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        Err(LifecycleError::Unsupported)
    }

    /// Cold reset / power cycle (ISO/IEC 7816-3 §6.2.2, EMV Book A: power the field off and on
    /// for a new tap); returns the ATR (default: [`LifecycleError::Unsupported`]).
    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        Err(LifecycleError::Unsupported)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
        (**self).transmit(command)
    }

    fn card_presence(&mut self) -> Result<CardPresence, Self::Error> {
        (**self).card_presence()
    }

    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        (**self).warm_reset()
    }

    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        (**self).cold_reset()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
        (**self).transmit(command)
    }

    fn card_presence(&mut self) -> Result<CardPresence, Self::Error> {
        (**self).card_presence()
    }

    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        (**self).warm_reset()
    }

    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<Self::Error>> {
        (**self).cold_reset()
    }
}

/// Why [`ApduLayer::exchange`] could not produce a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError<E: core::error::Error + 'static> {
    /// The transport failed (the reader's fault, or the card left the field: see
    /// [`ExchangeError::link_failure`]).
    #[error("transport failed")]
    Transport(#[source] E),
    /// The card sent something that is not an R-APDU (fewer than 2 bytes).
    #[error("malformed response from card")]
    Malformed(#[source] ApduError),
    /// The card kept answering `61xx` beyond the configured number of GET RESPONSE rounds.
    #[error("card still answering 61xx after {rounds} GET RESPONSE rounds")]
    TooManyGetResponses {
        /// The limit that was reached.
        rounds: usize,
    },
    /// The chained response data grew beyond the configured maximum.
    #[error("chained response exceeds {limit} bytes")]
    ResponseTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl<E: TransportError> ExchangeError<E> {
    /// The kind of link failure, when the transport failed (`None`: the card answered, but
    /// unusably).
    pub fn link_failure(&self) -> Option<LinkFailure> {
        match self {
            ExchangeError::Transport(e) => Some(e.link_failure()),
            _ => None,
        }
    }

    /// Whether the card left the field during the exchange.
    pub fn is_card_removed(&self) -> bool {
        self.link_failure() == Some(LinkFailure::CardRemoved)
    }
}

/// Caps that stop a hostile or broken card from keeping the terminal busy forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most GET RESPONSE commands sent for one exchange.
    pub max_get_response_rounds: usize,
    /// Most response data bytes accumulated for one exchange.
    pub max_response_len: usize,
}

impl Default for Limits {
    /// 16 rounds and 16 KiB: far above any EMV/PBOC response (the largest, a 248-byte
    /// certificate record or a 256-byte GET RESPONSE block, fits in one or two rounds).
    fn default() -> Self {
        Limits {
            max_get_response_rounds: 16,
            max_response_len: 16 * 1024,
        }
    }
}

/// Traffic counters since the layer was made or last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// C-APDUs handed to the transport (GET RESPONSE and re-sends included).
    pub apdus_sent: u64,
    /// Bytes of C-APDUs sent.
    pub bytes_sent: u64,
    /// Bytes of R-APDUs received, status words included.
    pub bytes_received: u64,
}

/// INS bytes whose command data is a PIN block: VERIFY (`20`), CHANGE REFERENCE DATA (`24`),
/// RESET RETRY COUNTER (`2C`).
const PIN_INSTRUCTIONS: [u8; 3] = [0x20, 0x24, 0x2C];

/// The command as traces see it: a PIN block never leaves the layer — its data bytes are
/// replaced with `FF` (length kept, so a trace still shows what was sent).
fn masked_for_trace(mut command: Vec<u8>) -> Vec<u8> {
    if command.len() > 5 && PIN_INSTRUCTIONS.contains(&command[1]) {
        let end = (5 + usize::from(command[4])).min(command.len());
        command[5..end].fill(0xFF);
    }
    command
}

/// One low-level exchange as it happened on the wire, for traces.
///
/// The bytes are the card's and hold the PAN and track 2; `Debug` shows only the command
/// header, the lengths and the status word. Print the bytes on purpose, through
/// [`crate::dump`], which masks sensitive objects.
#[derive(Clone, PartialEq, Eq)]
pub struct RawExchange {
    /// The C-APDU bytes sent.
    pub command: Vec<u8>,
    /// The R-APDU bytes received.
    pub response: Vec<u8>,
}

impl core::fmt::Debug for RawExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let header = self.command.get(..4).unwrap_or(&self.command);
        let sw = self
            .response
            .len()
            .checked_sub(2)
            .map(|i| &self.response[i..]);
        f.debug_struct("RawExchange")
            .field("header", &format_args!("{}", hex::encode_upper(header)))
            .field("command_len", &self.command.len())
            .field("response_len", &self.response.len())
            .field(
                "sw",
                &format_args!("{}", sw.map(hex::encode_upper).unwrap_or_default()),
            )
            .finish()
    }
}

type Hook = Box<dyn FnMut(&[u8], &[u8]) + Send>;

/// The APDU layer (EMV Book 1 §9.3 "transport layer" as seen by the application layer):
/// turns a [`Command`] into one complete [`Response`], handling `61xx` and `6Cxx`.
///
/// - `61xx`: send GET RESPONSE with Le = `xx`, append its data, repeat while the card answers
///   `61xx`, up to [`Limits::max_get_response_rounds`] rounds and
///   [`Limits::max_response_len`] bytes; the final status word is the last one received.
/// - `6Cxx`: re-send the same command once with Le = `xx` (also for a GET RESPONSE); a second
///   `6Cxx` is returned to the caller as the response. Only a [repeatable](Command::idempotence)
///   command is re-sent: a command that moves money or a counter (DEBIT, CREDIT, GENERATE AC,
///   GPO, VERIFY, issuer script commands, …) is transmitted exactly once, and its `6Cxx` is
///   returned as it is — the caller treats it as a failure whose outcome on the card is unknown.
///   Fetching a `61xx` answer with GET RESPONSE is not a re-execution and works for every
///   command.
///
/// Every low-level exchange can be recorded ([`ApduLayer::record`]) or passed to a hook
/// ([`ApduLayer::set_hook`]) for traces; with the cargo feature `tracing`, each one is also a
/// `tracing::debug!` event with its body masked (module `trace`, present with the feature).
pub struct ApduLayer<T: Transport> {
    transport: T,
    limits: Limits,
    counters: Counters,
    log: Option<Vec<RawExchange>>,
    hook: Option<Hook>,
}

impl<T: Transport> ApduLayer<T> {
    /// A layer over `transport` with the default [`Limits`].
    pub fn new(transport: T) -> Self {
        ApduLayer::with_limits(transport, Limits::default())
    }

    /// A layer over `transport` with explicit limits.
    pub fn with_limits(transport: T, limits: Limits) -> Self {
        ApduLayer {
            transport,
            limits,
            counters: Counters::default(),
            log: None,
            hook: None,
        }
    }

    /// The traffic counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Sets the counters back to zero.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// Starts (or keeps) recording every low-level exchange.
    pub fn record(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The exchanges recorded so far (recording continues).
    pub fn take_log(&mut self) -> Vec<RawExchange> {
        self.log.as_mut().map(core::mem::take).unwrap_or_default()
    }

    /// Calls `hook(command, response)` after every low-level exchange that returned bytes.
    pub fn set_hook(&mut self, hook: impl FnMut(&[u8], &[u8]) + Send + 'static) {
        self.hook = Some(Box::new(hook));
    }

    /// Removes the hook.
    pub fn clear_hook(&mut self) {
        self.hook = None;
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (e.g. to power the field off between phases).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    fn send(&mut self, command: &Command) -> Result<Response, ExchangeError<T::Error>> {
        let bytes = command.to_bytes();
        self.counters.apdus_sent += 1;
        self.counters.bytes_sent += bytes.len() as u64;
        let reply = self.transport.transmit(&bytes);
        #[cfg(feature = "tracing")]
        trace::exchange(&masked_for_trace(bytes.clone()), reply.as_deref().ok());
        let reply = reply.map_err(ExchangeError::Transport)?;
        self.counters.bytes_received += reply.len() as u64;
        let response = Response::split(&reply).map_err(ExchangeError::Malformed);
        if self.hook.is_some() || self.log.is_some() {
            let traced = masked_for_trace(bytes);
            if let Some(hook) = self.hook.as_mut() {
                hook(&traced, &reply);
            }
            if let Some(log) = self.log.as_mut() {
                log.push(RawExchange {
                    command: traced,
                    response: reply,
                });
            }
        }
        response
    }

    /// Sends `command`, re-sending once on `6Cxx` when the command is repeatable (a
    /// non-repeatable command's `6Cxx` is returned as the response: never a second
    /// transmission).
    fn send_with_le_retry(
        &mut self,
        command: &Command,
    ) -> Result<Response, ExchangeError<T::Error>> {
        let response = self.send(command)?;
        match response.sw.kind() {
            SwKind::WrongLe(le) if command.is_repeatable() => {
                self.send(&command.clone().with_le(Some(le)))
            }
            _ => Ok(response),
        }
    }

    /// Sends `command` and returns the complete response (see the type's documentation for
    /// `61xx`/`6Cxx`). Any other status word, success or not, is returned as it is: refusing
    /// is the caller's decision.
    pub fn exchange(&mut self, command: &Command) -> Result<Response, ExchangeError<T::Error>> {
        let mut response = self.send_with_le_retry(command)?;
        let mut rounds = 0;
        while let SwKind::BytesAvailable(available) = response.sw.kind() {
            if rounds == self.limits.max_get_response_rounds {
                return Err(ExchangeError::TooManyGetResponses { rounds });
            }
            rounds += 1;
            let next = self.send_with_le_retry(&Command::get_response(available))?;
            if response.data.len() + next.data.len() > self.limits.max_response_len {
                return Err(ExchangeError::ResponseTooLong {
                    limit: self.limits.max_response_len,
                });
            }
            response.data.extend_from_slice(&next.data);
            response.sw = next.sw;
        }
        if response.data.len() > self.limits.max_response_len {
            return Err(ExchangeError::ResponseTooLong {
                limit: self.limits.max_response_len,
            });
        }
        Ok(response)
    }
}

impl<T: Transport + fmt::Debug> fmt::Debug for ApduLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApduLayer")
            .field("transport", &self.transport)
            .field("limits", &self.limits)
            .field("counters", &self.counters)
            .field("recording", &self.log.is_some())
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

#[cfg(test)]
mod pin_trace_tests {
    use super::masked_for_trace;

    #[test]
    fn pin_blocks_never_reach_traces() {
        let verify = vec![
            0x00, 0x20, 0x00, 0x80, 0x08, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        let traced = masked_for_trace(verify);
        assert_eq!(&traced[..5], &[0x00, 0x20, 0x00, 0x80, 0x08]);
        assert!(traced[5..].iter().all(|b| *b == 0xFF));
        let read = vec![0x00, 0xB2, 0x01, 0x0C, 0x00];
        assert_eq!(masked_for_trace(read.clone()), read);
    }
}
