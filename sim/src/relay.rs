//! A relay resistance clock for a simulated card: the simulated card answers EXCHANGE RELAY
//! RESISTANCE DATA in microseconds, far faster than any real card could over the air, and the
//! Mastercard kernel rightly refuses a card faster than its own stated minimum
//! (pboc-notes §9.5). [`SimulatedRelay`] makes every exchange take a fixed time instead — by
//! default 6 ms, inside the simulated M/Chip card's window (terminal transmission estimates
//! 1.8 + 1.8 ms, card processing 1–5 ms) — so a tap on the simulated card measures what a tap
//! on a real one would.

use quickpass_kernel::c2::RelayEnvironment;

/// A reader clock on which every relay resistance exchange takes the same time, with
/// unpredictable numbers from a counter (deterministic, so taps replay).
#[derive(Debug, Clone)]
pub struct SimulatedRelay {
    exchange_micros: u64,
    now: u64,
    calls: u64,
    fresh: u32,
}

impl SimulatedRelay {
    /// Each exchange takes 6 ms.
    pub const DEFAULT_EXCHANGE_MICROS: u64 = 6_000;

    /// Each exchange takes `exchange_micros`.
    pub fn new(exchange_micros: u64) -> Self {
        SimulatedRelay {
            exchange_micros,
            now: 1_000_000,
            calls: 0,
            fresh: 0,
        }
    }
}

impl Default for SimulatedRelay {
    fn default() -> Self {
        SimulatedRelay::new(Self::DEFAULT_EXCHANGE_MICROS)
    }
}

impl RelayEnvironment for SimulatedRelay {
    fn now_micros(&mut self) -> u64 {
        // The kernel reads the clock before and after each exchange: the second read of each
        // pair is the first plus the exchange time.
        if self.calls % 2 == 1 {
            self.now += self.exchange_micros;
        }
        self.calls += 1;
        self.now
    }

    fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
        self.fresh = self.fresh.wrapping_add(1);
        (0x5157_0000 | (self.fresh & 0xFFFF)).to_be_bytes()
    }
}
