//! Scripted faults between a terminal and a card: tears, lost responses, altered status words,
//! corrupted or truncated responses, latency.
//!
//! [`FaultyCard`] wraps any [`Transport`] (a [`VirtualCard`] with a purse or a PBOC application,
//! or a real reader) and applies a plan of [`Fault`]s, each fired by a [`Trigger`]:
//!
//! - [`Fault::TearBefore`]: the card leaves the field before the command reaches it — nothing is
//!   processed, the exchange fails with [`SimError::CardRemoved`];
//! - [`Fault::TearAfter`]: the card processes the command (its state changes) and then leaves
//!   the field; the response is lost and the exchange fails with [`SimError::CardRemoved`];
//! - [`Fault::Mute`]: the command is not delivered and the exchange fails with
//!   [`SimError::Timeout`]; the card stays in the field;
//! - [`Fault::ReplaceSw`], [`Fault::CorruptByte`], [`Fault::Truncate`]: the command is processed
//!   and the response is altered on its way back;
//! - [`Fault::Latency`]: the exchange is reported (and, if enabled, really is) slower.
//!
//! After a tear the card stays out of the field — every exchange fails with `CardRemoved`
//! without reaching it — until [`FaultyCard::reinsert`], which power-cycles the inner card
//! ([`PowerCycle`]): session state is dropped, stored state kept.
//!
//! APDUs are numbered from 1 in the order the terminal offers them while the card is present
//! (GET RESPONSE and re-sends included; exchanges refused because the card is out are not
//! counted).

use std::time::Duration;

use quickpass_kernel::transport::{Atr, CardPresence, LifecycleError, Transport};
use quickpass_kernel::values::StatusWord;

use super::card::{SimError, VirtualCard};

/// A card that can be power-cycled (reset) when it is put back into the field.
pub trait PowerCycle {
    /// Cold reset: session state dropped, stored state kept.
    fn power_cycle(&mut self);
}

impl PowerCycle for VirtualCard {
    fn power_cycle(&mut self) {
        self.reset();
    }
}

impl<T: PowerCycle + ?Sized> PowerCycle for &mut T {
    fn power_cycle(&mut self) {
        (**self).power_cycle();
    }
}

impl<T: PowerCycle + ?Sized> PowerCycle for Box<T> {
    fn power_cycle(&mut self) {
        (**self).power_cycle();
    }
}

/// When a fault fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The n-th APDU (from 1).
    Apdu(u64),
    /// The n-th APDU (from 1) whose bytes start with `prefix` (e.g. `[0x80, 0x54]` for DEBIT).
    Matching {
        /// Leading command bytes to match.
        prefix: Vec<u8>,
        /// Which match, from 1.
        occurrence: u64,
    },
    /// Every APDU whose bytes start with the prefix.
    EveryMatching(Vec<u8>),
}

impl Trigger {
    /// The n-th APDU starting with `prefix`.
    pub fn matching(prefix: &[u8], occurrence: u64) -> Trigger {
        Trigger::Matching {
            prefix: prefix.to_vec(),
            occurrence,
        }
    }
}

/// What happens to an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Card removed before the command: not processed, `CardRemoved`.
    TearBefore,
    /// Card removed after processing the command: state changed, response lost, `CardRemoved`.
    TearAfter,
    /// The command is not delivered and the exchange times out (`Timeout`); no tear.
    Mute,
    /// The status word of the response is replaced.
    ReplaceSw(StatusWord),
    /// The response byte at `offset` (status word included) is XORed with `mask`; nothing
    /// happens when the response is shorter.
    CorruptByte {
        /// Offset in the R-APDU bytes.
        offset: usize,
        /// XOR mask (non-zero to change anything).
        mask: u8,
    },
    /// Only the first `len` bytes of the response come back.
    Truncate(usize),
    /// The exchange takes this much longer.
    Latency(Duration),
    /// The command byte at `offset` is XORed with `mask` before the card sees it (a damaged
    /// MAC1 / host MAC2: the card genuinely refuses); nothing happens when it is shorter.
    CorruptCommand {
        /// Offset in the C-APDU bytes.
        offset: usize,
        /// XOR mask (non-zero to change anything).
        mask: u8,
    },
}

/// A fault that fired, for assertions and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredFault {
    /// The APDU number it fired on.
    pub apdu: u64,
    /// The fault.
    pub fault: Fault,
}

#[derive(Debug, Clone)]
struct Planned {
    trigger: Trigger,
    fault: Fault,
    matches: u64,
}

impl Planned {
    /// Counts the APDU and says whether the fault fires on it.
    fn fires(&mut self, number: u64, command: &[u8]) -> bool {
        match &self.trigger {
            Trigger::Apdu(n) => *n == number,
            Trigger::Matching { prefix, occurrence } => {
                if command.starts_with(prefix) {
                    self.matches += 1;
                    self.matches == *occurrence
                } else {
                    false
                }
            }
            Trigger::EveryMatching(prefix) => command.starts_with(prefix),
        }
    }
}

/// A [`Transport`] wrapper that applies scripted faults; see the [module docs](self).
#[derive(Debug)]
pub struct FaultyCard<T> {
    inner: T,
    plan: Vec<Planned>,
    offered: u64,
    delivered: u64,
    removed: bool,
    sleep: bool,
    latency: Duration,
    last_latency: Duration,
    fired: Vec<FiredFault>,
}

impl<T> FaultyCard<T> {
    /// Wraps `inner` with an empty plan; latency is reported, not slept.
    pub fn new(inner: T) -> Self {
        FaultyCard {
            inner,
            plan: Vec::new(),
            offered: 0,
            delivered: 0,
            removed: false,
            sleep: false,
            latency: Duration::ZERO,
            last_latency: Duration::ZERO,
            fired: Vec::new(),
        }
    }

    /// Adds a fault to the plan.
    pub fn plan(&mut self, trigger: Trigger, fault: Fault) -> &mut Self {
        self.plan.push(Planned {
            trigger,
            fault,
            matches: 0,
        });
        self
    }

    /// Tears before the n-th APDU (from 1).
    pub fn tear_before(&mut self, apdu: u64) -> &mut Self {
        self.plan(Trigger::Apdu(apdu), Fault::TearBefore)
    }

    /// Tears after the n-th APDU (from 1).
    pub fn tear_after(&mut self, apdu: u64) -> &mut Self {
        self.plan(Trigger::Apdu(apdu), Fault::TearAfter)
    }

    /// Empties the plan (counters are kept).
    pub fn clear_plan(&mut self) {
        self.plan.clear();
    }

    /// Whether [`Fault::Latency`] really sleeps (default: no, it is only reported).
    pub fn set_sleep(&mut self, sleep: bool) {
        self.sleep = sleep;
    }

    /// Takes the card out of the field now.
    pub fn remove(&mut self) {
        self.removed = true;
    }

    /// Whether the card is out of the field.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// APDUs offered while the card was present (the numbering of [`Trigger::Apdu`]).
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// APDUs the inner card received and processed.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Total latency added so far.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Latency added to the last exchange.
    pub fn last_latency(&self) -> Duration {
        self.last_latency
    }

    /// The faults that fired, in order.
    pub fn fired(&self) -> &[FiredFault] {
        &self.fired
    }

    /// The wrapped card.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped card, mutably (to inspect or change its state).
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the card.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: PowerCycle> FaultyCard<T> {
    /// Puts the card back into the field: it is power-cycled (session state dropped).
    pub fn reinsert(&mut self) {
        self.removed = false;
        self.inner.power_cycle();
    }
}

impl<T> Transport for FaultyCard<T>
where
    T: Transport,
    T::Error: From<SimError>,
{
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        self.last_latency = Duration::ZERO;
        if self.removed {
            return Err(SimError::CardRemoved.into());
        }
        self.offered += 1;
        let number = self.offered;
        let mut firing = Vec::new();
        for planned in &mut self.plan {
            if planned.fires(number, command) {
                firing.push(planned.fault);
            }
        }
        self.fired.extend(firing.iter().map(|&fault| FiredFault {
            apdu: number,
            fault,
        }));
        let latency: Duration = firing
            .iter()
            .filter_map(|f| match f {
                Fault::Latency(d) => Some(*d),
                _ => None,
            })
            .sum();
        self.last_latency = latency;
        self.latency += latency;
        if self.sleep && !latency.is_zero() {
            std::thread::sleep(latency);
        }
        if firing.contains(&Fault::TearBefore) {
            self.removed = true;
            return Err(SimError::CardRemoved.into());
        }
        if firing.contains(&Fault::Mute) {
            return Err(SimError::Timeout.into());
        }
        let mut damaged = command.to_vec();
        for fault in &firing {
            if let Fault::CorruptCommand { offset, mask } = *fault {
                if let Some(byte) = damaged.get_mut(offset) {
                    *byte ^= mask;
                }
            }
        }
        let mut response = self.inner.transmit(&damaged)?;
        self.delivered += 1;
        if firing.contains(&Fault::TearAfter) {
            self.removed = true;
            return Err(SimError::CardRemoved.into());
        }
        for fault in firing {
            match fault {
                Fault::ReplaceSw(sw) => {
                    let keep = response.len().saturating_sub(2);
                    response.truncate(keep);
                    response.extend_from_slice(&sw.0.to_be_bytes());
                }
                Fault::CorruptByte { offset, mask } => {
                    if let Some(byte) = response.get_mut(offset) {
                        *byte ^= mask;
                    }
                }
                Fault::Truncate(len) => response.truncate(len),
                Fault::TearBefore
                | Fault::TearAfter
                | Fault::Mute
                | Fault::Latency(_)
                | Fault::CorruptCommand { .. } => {}
            }
        }
        Ok(response)
    }

    /// Absent after a tear or [`FaultyCard::remove`], else what the inner card says.
    fn card_presence(&mut self) -> Result<CardPresence, T::Error> {
        if self.removed {
            return Ok(CardPresence::Absent);
        }
        self.inner.card_presence()
    }

    /// A removed card cannot be reset ([`SimError::CardRemoved`]); else the inner card's.
    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<T::Error>> {
        if self.removed {
            return Err(LifecycleError::Transport(SimError::CardRemoved.into()));
        }
        self.inner.warm_reset()
    }

    /// A removed card cannot be powered ([`SimError::CardRemoved`]); else the inner card's.
    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<T::Error>> {
        if self.removed {
            return Err(LifecycleError::Transport(SimError::CardRemoved.into()));
        }
        self.inner.cold_reset()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A transport that echoes the command with `9000` and counts resets.
    #[derive(Default)]
    struct Echo {
        seen: Vec<Vec<u8>>,
        resets: usize,
    }

    impl Transport for Echo {
        type Error = SimError;
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, SimError> {
            self.seen.push(command.to_vec());
            Ok([command, &[0x90, 0x00]].concat())
        }
    }

    impl PowerCycle for Echo {
        fn power_cycle(&mut self) {
            self.resets += 1;
        }
    }

    #[test]
    fn tear_before_is_not_delivered_and_sticks_until_reinsert() {
        let mut card = FaultyCard::new(Echo::default());
        card.tear_before(2);
        assert!(card.transmit(&[1]).is_ok());
        assert_eq!(card.transmit(&[2]), Err(SimError::CardRemoved));
        assert_eq!(card.transmit(&[3]), Err(SimError::CardRemoved));
        assert_eq!(card.inner().seen, vec![vec![1]]);
        card.reinsert();
        assert_eq!(card.inner().resets, 1);
        assert_eq!(card.transmit(&[4]).unwrap(), vec![4, 0x90, 0]);
        assert_eq!((card.offered(), card.delivered()), (3, 2));
    }

    #[test]
    fn tear_after_is_delivered_but_lost() {
        let mut card = FaultyCard::new(Echo::default());
        card.plan(Trigger::matching(&[0x80, 0x54], 2), Fault::TearAfter);
        card.transmit(&[0x80, 0x54, 1]).unwrap();
        card.transmit(&[0x00, 0xB2]).unwrap();
        assert_eq!(card.transmit(&[0x80, 0x54, 2]), Err(SimError::CardRemoved));
        assert_eq!(card.inner().seen.len(), 3);
        assert!(card.is_removed());
        assert_eq!(
            card.fired(),
            &[FiredFault {
                apdu: 3,
                fault: Fault::TearAfter
            }]
        );
    }

    #[test]
    fn responses_are_altered() {
        let mut card = FaultyCard::new(Echo::default());
        card.plan(Trigger::Apdu(1), Fault::ReplaceSw(StatusWord(0x6985)))
            .plan(
                Trigger::Apdu(2),
                Fault::CorruptByte {
                    offset: 0,
                    mask: 0xFF,
                },
            )
            .plan(Trigger::Apdu(3), Fault::Truncate(1))
            .plan(
                Trigger::EveryMatching(vec![7]),
                Fault::Latency(Duration::from_millis(5)),
            )
            .plan(Trigger::Apdu(4), Fault::Mute);
        assert_eq!(card.transmit(&[1, 2]).unwrap(), vec![1, 2, 0x69, 0x85]);
        assert_eq!(card.transmit(&[1]).unwrap(), vec![0xFE, 0x90, 0]);
        assert_eq!(card.transmit(&[7]).unwrap(), vec![7]);
        assert_eq!(card.last_latency(), Duration::from_millis(5));
        assert_eq!(card.transmit(&[7]), Err(SimError::Timeout));
        assert!(!card.is_removed());
        assert_eq!(card.latency(), Duration::from_millis(10));
        assert_eq!(card.delivered(), 3);
    }
}
