//! Terminal risk management (EMV Book 3 §10.6; pboc-notes §5.3): floor limit, random
//! transaction selection, velocity checking and the new-card check.
//!
//! Pure: amounts, limits and counters in, TVR bits out. The random number for random selection
//! comes from the caller (no OS randomness in the kernel), and the ATC / last online ATC come
//! from GET DATA in the flow's card phase.

use crate::bits::Tvr;
use crate::config::RandomSelection;

/// Floor limit check (§10.6.1): an amount at or above the floor limit sets "transaction exceeds
/// floor limit". (The kernel keeps no transaction log, so no same-PAN amounts are added.)
pub fn floor_limit_exceeded(amount: u64, floor_limit: u64) -> bool {
    amount >= floor_limit
}

/// The transaction target percentage (§10.6.2) as a fraction `numerator / denominator`:
/// the target percentage below the threshold, rising linearly to the maximum target
/// percentage at the floor limit. `None` when random selection does not apply (no
/// parameters, or the amount is at or above the floor limit).
pub fn target_percentage(
    amount: u64,
    floor_limit: u64,
    parameters: Option<&RandomSelection>,
) -> Option<(u128, u128)> {
    let p = parameters?;
    if amount >= floor_limit {
        return None;
    }
    let target = u128::from(p.target_percent);
    if amount < p.threshold || floor_limit <= p.threshold {
        return Some((target, 1));
    }
    let span = u128::from(floor_limit - p.threshold);
    let above = u128::from(amount - p.threshold);
    let max = u128::from(p.max_target_percent.max(p.target_percent));
    Some((target * span + (max - target) * above, span))
}

/// Random transaction selection (§10.6.2): `random` is a number the caller drew uniformly
/// from 1 to 99; the transaction is selected when it is at most the transaction target
/// percentage. Only below the floor limit.
pub fn randomly_selected(
    amount: u64,
    floor_limit: u64,
    parameters: Option<&RandomSelection>,
    random: u8,
) -> bool {
    match target_percentage(amount, floor_limit, parameters) {
        Some((numerator, denominator)) => u128::from(random) * denominator <= numerator,
        None => false,
    }
}

/// What velocity checking read from the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VelocityData {
    /// Lower consecutive offline limit `9F14`.
    pub lower_limit: u8,
    /// Upper consecutive offline limit `9F23`.
    pub upper_limit: u8,
    /// ATC `9F36` from GET DATA, when the card returned it.
    pub atc: Option<u16>,
    /// Last online ATC register `9F13` from GET DATA, when the card returned it.
    pub last_online_atc: Option<u16>,
}

/// Velocity checking (§10.6.3), the TVR bits it sets:
///
/// - ATC or last online ATC not obtained → both "lower" and "upper consecutive offline limit
///   exceeded" (Book 3 as recalled; the notes' ⚠ "ICC data missing" too is not set here);
/// - otherwise ATC − last online ATC above `9F14` → lower, above `9F23` → upper; an ATC below the
///   last online ATC (inconsistent card) sets both (⚠ our choice);
/// - last online ATC = 0 → "new card".
pub fn velocity(data: &VelocityData) -> Tvr {
    let mut tvr = Tvr::new();
    match (data.atc, data.last_online_atc) {
        (Some(atc), Some(last)) => {
            if last == 0 {
                tvr.set(Tvr::NEW_CARD);
            }
            match atc.checked_sub(last) {
                Some(offline) => {
                    if offline > u16::from(data.lower_limit) {
                        tvr.set(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
                    }
                    if offline > u16::from(data.upper_limit) {
                        tvr.set(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
                    }
                }
                None => {
                    tvr.set(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
                    tvr.set(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
                }
            }
        }
        (_, last) => {
            tvr.set(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
            tvr.set(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED);
            if last == Some(0) {
                tvr.set(Tvr::NEW_CARD);
            }
        }
    }
    tvr
}

#[cfg(test)]
mod tests {
    use super::*;

    const RS: RandomSelection = RandomSelection {
        threshold: 1_000,
        target_percent: 20,
        max_target_percent: 60,
    };

    #[test]
    fn floor_limit_is_inclusive() {
        assert!(!floor_limit_exceeded(9_999, 10_000));
        assert!(floor_limit_exceeded(10_000, 10_000));
        assert!(floor_limit_exceeded(0, 0));
    }

    #[test]
    fn target_percentages() {
        // Below the threshold: the target.
        assert_eq!(target_percentage(999, 10_000, Some(&RS)), Some((20, 1)));
        // At the threshold, 20 %; halfway to the floor, 40 %; just below the floor, ~60 %.
        let at = |amount| {
            let (n, d) = target_percentage(amount, 10_000, Some(&RS)).unwrap_or((0, 1));
            n as f64 / d as f64
        };
        assert!((at(1_000) - 20.0).abs() < 1e-9);
        assert!((at(5_500) - 40.0).abs() < 1e-9);
        assert!((at(9_999) - 59.995_555).abs() < 1e-3);
        assert_eq!(target_percentage(10_000, 10_000, Some(&RS)), None);
        assert_eq!(target_percentage(100, 10_000, None), None);
    }

    #[test]
    fn random_selection_both_ways() {
        // Below the threshold: selected iff random ≤ 20.
        assert!(randomly_selected(500, 10_000, Some(&RS), 1));
        assert!(randomly_selected(500, 10_000, Some(&RS), 20));
        assert!(!randomly_selected(500, 10_000, Some(&RS), 21));
        assert!(!randomly_selected(500, 10_000, Some(&RS), 99));
        // Halfway: 40 %.
        assert!(randomly_selected(5_500, 10_000, Some(&RS), 40));
        assert!(!randomly_selected(5_500, 10_000, Some(&RS), 41));
        // Never at or above the floor limit, never without parameters.
        assert!(!randomly_selected(10_000, 10_000, Some(&RS), 1));
        assert!(!randomly_selected(500, 10_000, None, 1));
        // 0 % never, 99 % always (random is 1–99).
        let never = RandomSelection {
            threshold: 0,
            target_percent: 0,
            max_target_percent: 0,
        };
        let always = RandomSelection {
            threshold: 10_000,
            target_percent: 99,
            max_target_percent: 99,
        };
        assert!((1..=99).all(|r| !randomly_selected(10, 20_000, Some(&never), r)));
        assert!((1..=99).all(|r| randomly_selected(10, 20_000, Some(&always), r)));
        // Over many draws the selection rate is the target percentage.
        let hits = (1..=99u8)
            .filter(|&r| randomly_selected(500, 10_000, Some(&RS), r))
            .count();
        assert_eq!(hits, 20);
    }

    #[test]
    fn velocity_bits() {
        let data = |atc, last| VelocityData {
            lower_limit: 2,
            upper_limit: 5,
            atc,
            last_online_atc: last,
        };
        assert!(velocity(&data(Some(12), Some(10))).is_empty());
        let v = velocity(&data(Some(13), Some(10)));
        assert!(v.contains(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
        assert!(!v.contains(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
        let v = velocity(&data(Some(16), Some(10)));
        assert!(v.contains(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
        let v = velocity(&data(Some(1), Some(0)));
        assert!(v.contains(Tvr::NEW_CARD));
        assert!(!v.contains(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
        for missing in [
            data(None, Some(3)),
            data(Some(3), None),
            data(Some(3), Some(9)),
        ] {
            let v = velocity(&missing);
            assert!(v.contains(Tvr::LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
            assert!(v.contains(Tvr::UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED));
            assert!(!v.contains(Tvr::ICC_DATA_MISSING));
        }
    }
}
