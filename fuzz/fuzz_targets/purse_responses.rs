//! The ED/EP purse response parsers (pboc-notes §4): EF15 (`CardInfo`), the INITIALIZE FOR
//! PURCHASE / LOAD responses, EF18 log records, the GET TRANSACTION PROVE split and the
//! Shanghai EF1A trip record (whose update must keep a valid CRC). Fixed-size answers are
//! accepted at exactly their size and no other; a card number never prints in clear.
//!
//! Input: one selector byte (two-level EF15, blocked) ‖ the response data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::purse::card::{LoadInit, PurchaseInit, LOG_RECORD_LEN};
use quickpass::kernel::purse::fare::{FareDecision, FarePhase, Station, TripRecord, TripState};
use quickpass::kernel::purse::layout::{self, trip};
use quickpass::kernel::purse::{CardInfo, PurseLogRecord};
use quickpass::kernel::values::{PurseAmount, TransactionDate, TransactionTime};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, response)) = data.split_first() else {
        return;
    };
    if let Ok(info) = CardInfo::parse(response, selector & 1 != 0, selector & 2 != 0) {
        assert!(response.len() >= layout::EF15_MIN_LEN);
        // Ten bytes of number, twenty digits: none of the printed forms may hold them all.
        let digits = info.number.expose_digits();
        assert_eq!(digits.len(), 20);
        assert_ne!(info.number.masked(), digits, "card number masked to itself");
        assert!(
            !format!("{info:?}").contains(digits),
            "card number in clear in Debug"
        );
    }
    assert_eq!(PurchaseInit::parse(response).is_ok(), response.len() == 15);
    assert_eq!(LoadInit::parse(response).is_ok(), response.len() == 16);
    assert_eq!(
        PurseLogRecord::parse(response).is_ok(),
        response.len() == LOG_RECORD_LEN
    );
    assert_eq!(layout::split_prove(response).is_some(), response.len() == 8);

    if let Ok(record) = TripRecord::parse(response) {
        assert_eq!(record.bytes(), response);
        let _ = record.id();
        let phase = match record.state() {
            TripState::Inside { .. } => FarePhase::Exit,
            _ => FarePhase::Entry,
        };
        let decision = FareDecision {
            phase,
            amount: PurseAmount::from_fen(u32::from(selector)),
            cap: PurseAmount::from_fen(1_000),
            trip_fare: PurseAmount::from_fen(300),
        };
        let updated = record.updated(
            &decision,
            Station {
                line: 1,
                number: u16::from(selector),
            },
            &[0x31, 0x01, 0, 0, 0, 1],
            PurseAmount::from_fen(5_000),
            TransactionDate::new(2026, 11, 28).expect("date"),
            TransactionTime::new(8, 30, 0).expect("time"),
        );
        assert_eq!(updated.len(), response.len());
        let crc = u32::from_be_bytes(updated[trip::CRC].try_into().expect("4 bytes"));
        assert_eq!(crc, layout::crc32(&updated[trip::CRC_COVERS]));
        let reread = TripRecord::parse(&updated).expect("updated record parses");
        if phase == FarePhase::Entry {
            assert!(matches!(reread.state(), TripState::Inside { .. }));
        }
    }
});
