//! Segmented fares for composite (CAPP) purchases (pboc-notes §4.7 "segmented-fare flow"): the
//! terminal reads the trip record (EF1A style), a [`FarePolicy`] decides what this tap charges,
//! and the updated record goes to the card with UPDATE CAPP DATA CACHE before the DEBIT, which
//! commits both together.
//!
//! The record layout is the Shanghai one (⚠ [`layout::trip`]);
//! [`SegmentFareTable`] is an example operator policy: entry charges nothing or the cap, exit
//! charges by segments travelled minus what entry already took.

use super::layout::{self, trip};
use crate::values::{PurseAmount, TransactionDate, TransactionTime};
use alloc::{vec, vec::Vec};

/// Where the terminal stands: its line and station (operator numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Station {
    /// Line number.
    pub line: u8,
    /// Station number along the line (segments are counted between numbers).
    pub number: u16,
}

/// What the trip record says about the passenger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TripState {
    /// No trip in progress (new card, or last tap was an exit).
    Outside,
    /// Inside since an entry.
    Inside {
        /// Entry station.
        entry: Station,
        /// Amount already charged at entry, fen.
        entry_amount: PurseAmount,
    },
    /// The record claims a trip but its CRC does not match: treated as [`TripState::Outside`]
    /// by [`SegmentFareTable`] (operator policy).
    Corrupt,
}

/// A parsed trip record: its bytes (kept, so fields the terminal does not know survive the
/// update) and the state they encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripRecord {
    bytes: Vec<u8>,
    state: TripState,
}

/// Why a trip record cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TripRecordError {
    /// Shorter than the layout (⚠ [`trip::RECORD_LEN`]).
    #[error("trip record of {0} bytes, the layout needs {len}", len = trip::RECORD_LEN)]
    TooShort(usize),
    /// The record's lock byte is set: the card refuses updates (⚠ pboc-notes §7 item 10).
    #[error("trip record is locked")]
    Locked,
}

fn be32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

fn date_time_bcd(date: TransactionDate, time: TransactionTime) -> [u8; 7] {
    let d = date.to_yyyymmdd_bcd();
    let t = time.to_bcd();
    [d[0], d[1], d[2], d[3], t[0], t[1], t[2]]
}

impl TripRecord {
    /// Parses a record read from the CAPP file.
    pub fn parse(bytes: &[u8]) -> Result<TripRecord, TripRecordError> {
        if bytes.len() < trip::RECORD_LEN {
            return Err(TripRecordError::TooShort(bytes.len()));
        }
        if bytes[trip::LOCK] != 0 {
            return Err(TripRecordError::Locked);
        }
        let state = match (bytes[trip::STATUS], bytes[trip::IN_OUT]) {
            (trip::STATUS_ENTRY, trip::IN) => {
                let crc = be32(&bytes[trip::CRC]);
                if crc != layout::crc32(&bytes[trip::CRC_COVERS]) {
                    TripState::Corrupt
                } else {
                    let station = &bytes[trip::ENTRY_STATION];
                    TripState::Inside {
                        entry: Station {
                            line: bytes[trip::ENTRY_LINE],
                            number: u16::from_be_bytes([station[6], station[7]]),
                        },
                        entry_amount: PurseAmount::from_fen(be32(&bytes[trip::ENTRY_AMOUNT])),
                    }
                }
            }
            _ => TripState::Outside,
        };
        Ok(TripRecord {
            bytes: bytes.to_vec(),
            state,
        })
    }

    /// What the record says.
    pub fn state(&self) -> TripState {
        self.state
    }

    /// The record id (its first byte, the P1 of UPDATE CAPP DATA CACHE, pboc-notes §4.1).
    pub fn id(&self) -> u8 {
        self.bytes[0]
    }

    /// The record bytes as read.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The record after this tap (`decision` at `station`), CRC recomputed.
    pub fn updated(
        &self,
        decision: &FareDecision,
        station: Station,
        terminal_id: &[u8; 6],
        balance_before: PurseAmount,
        date: TransactionDate,
        time: TransactionTime,
    ) -> Vec<u8> {
        let mut out = self.bytes.clone();
        let mut station_bytes = [0u8; 8];
        station_bytes[6..].copy_from_slice(&station.number.to_be_bytes());
        let mut device = [0u8; 8];
        device[..6].copy_from_slice(terminal_id);
        let stamp = date_time_bcd(date, time);
        match decision.phase {
            FarePhase::Entry => {
                out[trip::STATUS] = trip::STATUS_ENTRY;
                out[trip::ENTRY_STATION].copy_from_slice(&station_bytes);
                out[trip::ENTRY_DEVICE].copy_from_slice(&device);
                out[trip::ENTRY_TIME].copy_from_slice(&stamp);
                out[trip::ENTRY_LINE] = station.line;
                out[trip::MAX_FARE].copy_from_slice(&decision.cap.to_be_bytes());
                out[trip::ENTRY_AMOUNT].copy_from_slice(&decision.amount.to_be_bytes());
                out[trip::ENTRY_BALANCE].copy_from_slice(&balance_before.to_be_bytes());
                out[trip::EXIT_STATION].fill(0);
                out[trip::EXIT_TIME].fill(0);
                out[trip::ACTUAL_AMOUNT].fill(0);
                out[trip::IN_OUT] = trip::IN;
            }
            FarePhase::Exit => {
                out[trip::STATUS] = trip::STATUS_EXIT;
                out[trip::EXIT_STATION].copy_from_slice(&station_bytes);
                out[trip::EXIT_DEVICE].copy_from_slice(&device);
                out[trip::EXIT_TIME].copy_from_slice(&stamp);
                out[trip::EXIT_LINE] = station.line;
                out[trip::ACTUAL_AMOUNT].copy_from_slice(&decision.trip_fare.to_be_bytes());
                out[trip::IN_OUT] = trip::OUT;
            }
        }
        let crc = layout::crc32(&out[trip::CRC_COVERS]);
        out[trip::CRC].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

/// An EF1E travel record for this tap (48 bytes, pboc-notes §4.7 ✅ fields).
pub fn travel_record(
    decision: &FareDecision,
    station: Station,
    terminal_id: &[u8; 6],
    balance_after: PurseAmount,
    date: TransactionDate,
    time: TransactionTime,
) -> Vec<u8> {
    use layout::travel;
    let mut out = vec![0u8; travel::RECORD_LEN];
    out[travel::TYPE] = match decision.phase {
        FarePhase::Entry => travel::ENTRY,
        FarePhase::Exit => travel::EXIT,
    };
    out[travel::TERMINAL][..6].copy_from_slice(terminal_id);
    out[travel::LINE][1] = station.line;
    out[travel::STATION].copy_from_slice(&station.number.to_be_bytes());
    out[travel::AMOUNT].copy_from_slice(&decision.amount.to_be_bytes());
    out[travel::BALANCE_AFTER].copy_from_slice(&balance_after.to_be_bytes());
    out[travel::DATE_TIME].copy_from_slice(&date_time_bcd(date, time));
    out
}

/// Entry or exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarePhase {
    /// The trip starts here.
    Entry,
    /// The trip ends here.
    Exit,
}

/// What a tap charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FareDecision {
    /// Entry or exit.
    pub phase: FarePhase,
    /// Amount to debit now, fen (may be 0).
    pub amount: PurseAmount,
    /// The whole trip's fare (at exit), fen.
    pub trip_fare: PurseAmount,
    /// The cap written at entry.
    pub cap: PurseAmount,
}

/// The operator's fare rule (the "fare hook" of issue 5).
pub trait FarePolicy {
    /// What tapping at `station` charges, given the card's trip state.
    fn decide(&self, trip: TripState, station: Station) -> FareDecision;
}

/// An example segment fare table: `base` covers the first `base_segments` segments, each
/// further segment adds `per_segment`, never more than `cap`. At entry it charges nothing, or
/// the cap when `charge_cap_at_entry`; at exit the fare minus what entry charged (never below
/// zero: an overpayment at entry is the operator's refund to make).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentFareTable {
    /// Fare for a trip of up to `base_segments` segments, fen.
    pub base: PurseAmount,
    /// Segments covered by `base`.
    pub base_segments: u16,
    /// Each further segment, fen.
    pub per_segment: PurseAmount,
    /// Maximum fare, fen.
    pub cap: PurseAmount,
    /// Charge the cap at entry (deposit style) instead of nothing.
    pub charge_cap_at_entry: bool,
}

impl SegmentFareTable {
    /// The example table: 2.00 for up to 3 segments, +0.50 a segment, at most 6.00, nothing
    /// at entry.
    pub const EXAMPLE: SegmentFareTable = SegmentFareTable {
        base: PurseAmount::from_fen(200),
        base_segments: 3,
        per_segment: PurseAmount::from_fen(50),
        cap: PurseAmount::from_fen(600),
        charge_cap_at_entry: false,
    };

    /// The fare between two stations (different lines count as the cap).
    pub fn fare(&self, from: Station, to: Station) -> PurseAmount {
        if from.line != to.line {
            return self.cap;
        }
        let segments = from.number.abs_diff(to.number);
        let extra = u32::from(segments.saturating_sub(self.base_segments));
        self.base
            .saturating_add(PurseAmount::from_fen(
                extra.saturating_mul(self.per_segment.fen()),
            ))
            .min(self.cap)
    }
}

impl FarePolicy for SegmentFareTable {
    fn decide(&self, trip: TripState, station: Station) -> FareDecision {
        match trip {
            TripState::Inside {
                entry,
                entry_amount,
            } => {
                let trip_fare = self.fare(entry, station);
                FareDecision {
                    phase: FarePhase::Exit,
                    amount: trip_fare.saturating_sub(entry_amount),
                    trip_fare,
                    cap: self.cap,
                }
            }
            TripState::Outside | TripState::Corrupt => FareDecision {
                phase: FarePhase::Entry,
                amount: if self.charge_cap_at_entry {
                    self.cap
                } else {
                    PurseAmount::ZERO
                },
                trip_fare: PurseAmount::ZERO,
                cap: self.cap,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fen(fen: u32) -> PurseAmount {
        PurseAmount::from_fen(fen)
    }

    fn blank() -> Vec<u8> {
        let mut record = vec![0u8; 128];
        record[0] = 0x02;
        record[1] = 0x7E;
        record
    }

    fn when() -> (TransactionDate, TransactionTime) {
        (
            TransactionDate::new(2024, 5, 17).unwrap(),
            TransactionTime::new(8, 30, 15).unwrap(),
        )
    }

    #[test]
    fn table_charges_by_segments_with_a_cap() {
        let t = SegmentFareTable::EXAMPLE;
        let at = |number| Station { line: 1, number };
        assert_eq!(t.fare(at(1), at(1)), fen(200));
        assert_eq!(t.fare(at(1), at(4)), fen(200));
        assert_eq!(t.fare(at(1), at(6)), fen(300));
        assert_eq!(t.fare(at(6), at(1)), fen(300));
        assert_eq!(t.fare(at(1), at(40)), fen(600));
        assert_eq!(t.fare(at(1), Station { line: 2, number: 1 }), fen(600));
        let capped = SegmentFareTable {
            charge_cap_at_entry: true,
            ..t
        };
        assert_eq!(capped.decide(TripState::Outside, at(1)).amount, fen(600));
        let exit = capped.decide(
            TripState::Inside {
                entry: at(1),
                entry_amount: fen(600),
            },
            at(6),
        );
        assert_eq!(
            (exit.phase, exit.amount, exit.trip_fare),
            (FarePhase::Exit, fen(0), fen(300))
        );
    }

    #[test]
    fn entry_then_exit_round_trip_through_the_record() {
        let (date, time) = when();
        let table = SegmentFareTable::EXAMPLE;
        let record = TripRecord::parse(&blank()).unwrap();
        assert_eq!(record.state(), TripState::Outside);
        let entry = table.decide(record.state(), Station { line: 1, number: 2 });
        assert_eq!((entry.phase, entry.amount), (FarePhase::Entry, fen(0)));
        let written = record.updated(
            &entry,
            Station { line: 1, number: 2 },
            &[1; 6],
            fen(5000),
            date,
            time,
        );
        assert_eq!(written[..2], [0x02, 0x7E]);
        let inside = TripRecord::parse(&written).unwrap();
        assert_eq!(
            inside.state(),
            TripState::Inside {
                entry: Station { line: 1, number: 2 },
                entry_amount: fen(0)
            }
        );
        let exit = table.decide(inside.state(), Station { line: 1, number: 9 });
        assert_eq!((exit.phase, exit.amount), (FarePhase::Exit, fen(400)));
        let closed = inside.updated(
            &exit,
            Station { line: 1, number: 9 },
            &[1; 6],
            fen(5000),
            date,
            time,
        );
        assert_eq!(
            TripRecord::parse(&closed).unwrap().state(),
            TripState::Outside
        );
        // A flipped bit inside the CRC range makes the trip unreadable.
        let mut broken = written.clone();
        broken[40] ^= 1;
        assert_eq!(
            TripRecord::parse(&broken).unwrap().state(),
            TripState::Corrupt
        );
        let mut locked = blank();
        locked[2] = 1;
        assert_eq!(TripRecord::parse(&locked), Err(TripRecordError::Locked));
        assert_eq!(
            TripRecord::parse(&[0; 43]),
            Err(TripRecordError::TooShort(43))
        );
        let travel = travel_record(
            &exit,
            Station { line: 1, number: 9 },
            &[1; 6],
            fen(4600),
            date,
            time,
        );
        assert_eq!((travel.len(), travel[0]), (48, 0x04));
    }
}
