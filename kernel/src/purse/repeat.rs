//! The same card presented again soon after it paid (a rider tapping twice, a card left on or
//! put back on the validator): answered [`PurseOutcome::AlreadyPaid`] without any command that
//! moves money (issue 11 item 4).
//!
//! The terminal loop owns a [`RepeatGuard`] in its [`PurseConfig`](super::PurseConfig) and calls
//! [`RepeatGuard::remember`] after each tap; the purchase flows look the card up right after
//! reading its identity (before GET BALANCE, INITIALIZE and DEBIT). Time comes from the
//! requests' date and time, so the guard is as deterministic as the rest of the kernel. It lives
//! in memory: a validator that restarts forgets it (the journal still prevents charging twice
//! for a torn tap).

use super::card::CardIdentity;
use super::flow::{PurseOutcome, TapResult};
use crate::values::{PurseAmount, TransactionDate, TransactionTime};
use alloc::collections::VecDeque;

/// How many recent cards the guard keeps: a bus takes a few riders per stop, a gate a few per
/// second; 256 covers several minutes of either at the default interval.
const CAPACITY: usize = 256;

/// The default interval, in seconds: long enough to catch a rider tapping twice or a card put
/// straight back, short enough not to refuse a rider who legitimately rides again (a transfer
/// on the same line takes minutes). Paying for a companion with the same card needs the
/// operator's "one more passenger" action, which a terminal implements by not consulting the
/// guard for that tap (or with an interval of 0).
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;

/// The cards this terminal charged lately; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatGuard {
    interval_seconds: u32,
    recent: VecDeque<RecentTap>,
}

/// One card that paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentTap {
    /// The card.
    pub card: CardIdentity,
    /// When it paid, seconds on the guard's clock (days since 2000-01-01 × 86 400 + seconds).
    pub at: i64,
    /// What it paid.
    pub amount: PurseAmount,
}

impl Default for RepeatGuard {
    fn default() -> Self {
        RepeatGuard::new(DEFAULT_INTERVAL_SECONDS)
    }
}

impl RepeatGuard {
    /// A guard refusing a card again within `interval_seconds` (0: off).
    pub fn new(interval_seconds: u32) -> Self {
        RepeatGuard {
            interval_seconds,
            recent: VecDeque::new(),
        }
    }

    /// The interval in seconds (0: off).
    pub fn interval_seconds(&self) -> u32 {
        self.interval_seconds
    }

    /// Notes a tap: a card that paid (or whose torn payment was recovered) is remembered with
    /// the tap's date and time.
    pub fn remember(&mut self, tap: &TapResult, date: TransactionDate, time: TransactionTime) {
        if self.interval_seconds == 0 {
            return;
        }
        let paid = matches!(
            tap.outcome,
            PurseOutcome::Paid | PurseOutcome::Recovered | PurseOutcome::PaidUnrecorded
        );
        let Some(card) = tap.card.filter(|_| paid) else {
            return;
        };
        let at = seconds(date, time);
        self.recent.retain(|recent| recent.card != card);
        if self.recent.len() == CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back(RecentTap {
            card,
            at,
            amount: tap.amount,
        });
    }

    /// The card's earlier payment, when it was within the interval before `date` `time`. A
    /// clock that went backwards counts as within (the safe side: no second charge).
    pub fn paid_within(
        &self,
        card: &CardIdentity,
        date: TransactionDate,
        time: TransactionTime,
    ) -> Option<&RecentTap> {
        if self.interval_seconds == 0 {
            return None;
        }
        let now = seconds(date, time);
        self.recent
            .iter()
            .rev()
            .find(|recent| &recent.card == card)
            .filter(|recent| now - recent.at < i64::from(self.interval_seconds))
    }
}

/// Seconds since 2000-01-01 00:00:00 on the terminal's local clock.
fn seconds(date: TransactionDate, time: TransactionTime) -> i64 {
    days_since_2000(date.year(), date.month(), date.day()) * 86_400
        + i64::from(time.hour()) * 3_600
        + i64::from(time.minute()) * 60
        + i64::from(time.second())
}

/// Days from 2000-01-01 to the civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_since_2000(year: u16, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 730_425
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: u16, m: u8, d: u8) -> TransactionDate {
        TransactionDate::new(y, m, d).expect("date")
    }

    fn time(h: u8, m: u8, s: u8) -> TransactionTime {
        TransactionTime::new(h, m, s).expect("time")
    }

    #[test]
    fn the_clock_counts_days_across_months_years_and_leap_days() {
        assert_eq!(days_since_2000(2000, 1, 1), 0);
        assert_eq!(days_since_2000(2000, 3, 1), 60, "2000 is a leap year");
        assert_eq!(days_since_2000(2001, 1, 1), 366);
        assert_eq!(days_since_2000(2026, 12, 7), 9_837);
        assert_eq!(
            seconds(date(2026, 12, 8), time(0, 0, 0))
                - seconds(date(2026, 12, 7), time(23, 59, 30)),
            30
        );
    }

    fn paid(card: CardIdentity) -> TapResult {
        TapResult {
            outcome: PurseOutcome::Paid,
            reason: None,
            card_number: None,
            card: Some(card),
            amount: PurseAmount::from_fen(200),
            balance_before: None,
            balance_after: None,
            tac: None,
            record: None,
            voided: Vec::new(),
            apdus: 4,
            sam_apdus: 4,
        }
    }

    fn card(last: u8) -> CardIdentity {
        CardIdentity {
            serial: [0, 0, 0, 0, 0, 0, 0, last],
            second_diversifier: None,
        }
    }

    #[test]
    fn a_card_is_refused_within_the_interval_and_charged_after_it() {
        let mut guard = RepeatGuard::new(60);
        guard.remember(&paid(card(1)), date(2026, 12, 7), time(8, 0, 0));
        let at = |h, m, s| guard.paid_within(&card(1), date(2026, 12, 7), time(h, m, s));
        assert!(at(8, 0, 59).is_some());
        assert!(at(8, 1, 0).is_none());
        // A clock gone backwards: within (no second charge).
        assert!(at(7, 0, 0).is_some());
        // Another card is not affected.
        assert!(guard
            .paid_within(&card(2), date(2026, 12, 7), time(8, 0, 1))
            .is_none());
        // Off: never refused.
        let mut off = RepeatGuard::new(0);
        off.remember(&paid(card(1)), date(2026, 12, 7), time(8, 0, 0));
        assert!(off
            .paid_within(&card(1), date(2026, 12, 7), time(8, 0, 1))
            .is_none());
    }

    #[test]
    fn only_payments_are_remembered_and_the_list_is_bounded() {
        let mut guard = RepeatGuard::new(60);
        let mut declined = paid(card(1));
        declined.outcome = PurseOutcome::Declined;
        guard.remember(&declined, date(2026, 12, 7), time(8, 0, 0));
        assert!(guard
            .paid_within(&card(1), date(2026, 12, 7), time(8, 0, 1))
            .is_none());
        for i in 0..=CAPACITY {
            let mut tap = paid(card(0));
            tap.card = Some(CardIdentity {
                serial: (i as u64).to_be_bytes(),
                second_diversifier: None,
            });
            guard.remember(&tap, date(2026, 12, 7), time(8, 0, 0));
        }
        assert_eq!(guard.recent.len(), CAPACITY);
        // The oldest (serial 0) was dropped.
        assert!(guard
            .paid_within(&card(0), date(2026, 12, 7), time(8, 0, 1))
            .is_none());
    }
}
