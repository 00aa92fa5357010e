//! The deadline flags of every program that talks to a card or PSAM in a PC/SC reader
//! (`transact`, `bus_fare`, `etc_topup` and the `quickpass` CLI, which includes this file):
//! `--exchange-deadline-ms MS` bounds each exchange, `--tap-deadline-ms MS` the whole tap from
//! the moment the card is connected; 0 turns either off. They only matter with `--reader` /
//! `--sam-reader`: the simulated card answers at once. See `quickpass::pcsc`, "Deadlines".
#![allow(dead_code)]

use std::time::Duration;

/// The exchange and tap deadlines; `TAP_MS` is the program's default tap deadline.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Deadlines<const TAP_MS: u64> {
    /// Longest wait for one answer of the card or PSAM, in milliseconds (0: as long as the
    /// reader's driver waits). Past it the exchange is abandoned and the card treated as gone.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub exchange_deadline_ms: u64,
    /// Longest whole tap, in milliseconds from connecting to the card (0: no limit). Past it no
    /// further command is sent and the tap ends (Try Again, or torn when money may have moved).
    #[arg(long, value_name = "MS", default_value_t = TAP_MS)]
    pub tap_deadline_ms: u64,
}

impl<const TAP_MS: u64> Deadlines<TAP_MS> {
    /// The exchange deadline (`None`: off).
    pub fn exchange(&self) -> Option<Duration> {
        positive(self.exchange_deadline_ms)
    }

    /// The tap deadline (`None`: off).
    pub fn tap(&self) -> Option<Duration> {
        positive(self.tap_deadline_ms)
    }

    /// Sets both deadlines on the card's transport.
    #[cfg(feature = "pcsc")]
    pub fn apply_to_card(&self, transport: &mut quickpass::pcsc::PcscTransport) {
        transport.set_exchange_deadline(self.exchange());
        transport.set_tap_deadline(self.tap());
    }

    /// Sets the exchange deadline on a PSAM's transport (a PSAM stays connected across taps;
    /// the tap deadline belongs to the card).
    #[cfg(feature = "pcsc")]
    pub fn apply_to_sam(&self, transport: &mut quickpass::pcsc::PcscTransport) {
        transport.set_exchange_deadline(self.exchange());
    }
}

fn positive(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}
