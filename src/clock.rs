//! The local clock, read for the kernel: the kernel itself reads no clock, so a terminal passes
//! the transaction date and time in as values (and a replay passes the recorded ones).

use std::time::{SystemTime, UNIX_EPOCH};

use quickpass_kernel::values::{TransactionDate, TransactionTime};

/// China Standard Time (UTC+8), the time zone of the transactions' dates and times.
const UTC_OFFSET_SECONDS: u64 = 8 * 3600;

/// Local date and time (China, UTC+8) from the system clock.
///
/// A clock set before 1970 reads as 1970-01-01; a date past 2049 (tag `9A` carries YYMMDD in
/// the 1950–2049 window) reads as 2049-12-31.
pub fn now() -> (TransactionDate, TransactionTime) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + UTC_OFFSET_SECONDS;
    from_unix_seconds(secs)
}

/// The date and time `secs` seconds after 1970-01-01 00:00:00 (already shifted to local time).
pub fn from_unix_seconds(secs: u64) -> (TransactionDate, TransactionTime) {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let date = u16::try_from(year)
        .ok()
        .and_then(|year| TransactionDate::new(year, month, day).ok())
        .or_else(|| TransactionDate::new(2049, 12, 31).ok())
        .unwrap_or_else(|| unreachable!("a valid constant date"));
    let time = TransactionTime::new(
        (rest / 3600) as u8,
        (rest / 60 % 60) as u8,
        (rest % 60) as u8,
    )
    .unwrap_or_else(|_| unreachable!("hours, minutes and seconds in range"));
    (date, time)
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2025-12-06 21:32:39, local time.
        let (date, time) = from_unix_seconds(20_428 * 86_400 + 21 * 3600 + 32 * 60 + 39);
        assert_eq!(date, TransactionDate::new(2025, 12, 6).expect("date"));
        assert_eq!(time, TransactionTime::new(21, 32, 39).expect("time"));
        let (date, _) = from_unix_seconds(0);
        assert_eq!(date, TransactionDate::new(1970, 1, 1).expect("date"));
        // 2000-02-29, a leap day of a century leap year.
        let (date, _) = from_unix_seconds(11_016 * 86_400);
        assert_eq!(date, TransactionDate::new(2000, 2, 29).expect("date"));
        // Past the 9A window: the last representable day.
        let (date, _) = from_unix_seconds(40_000 * 86_400);
        assert_eq!(date, TransactionDate::new(2049, 12, 31).expect("date"));
    }
}

/// The relay resistance environment of a real reader for the Mastercard kernel
/// ([`quickpass_kernel::c2::RelayEnvironment`]): a monotonic clock for timing EXCHANGE RELAY
/// RESISTANCE DATA, and fresh unpredictable numbers from the operating system
/// ([`crate::random`]) for a retried exchange.
#[derive(Debug, Clone, Copy)]
pub struct SystemRelayEnvironment {
    origin: std::time::Instant,
}

impl SystemRelayEnvironment {
    /// A clock starting now.
    pub fn new() -> Self {
        SystemRelayEnvironment {
            origin: std::time::Instant::now(),
        }
    }
}

impl Default for SystemRelayEnvironment {
    fn default() -> Self {
        Self::new()
    }
}

impl quickpass_kernel::c2::RelayEnvironment for SystemRelayEnvironment {
    fn now_micros(&mut self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
        // The OS refusing randomness (no entropy source at all) leaves the clock's low bits:
        // still fresh per exchange, which is what relay resistance needs of it.
        crate::random::unpredictable_number().unwrap_or_else(|_| {
            let nanos = self.origin.elapsed().as_nanos() as u32;
            nanos.to_be_bytes()
        })
    }
}
