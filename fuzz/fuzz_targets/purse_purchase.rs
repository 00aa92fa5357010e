//! The whole ED/EP purse purchase (pboc-notes §4.3) against a card whose every answer comes
//! from the fuzzer: SELECT, EF15 (FCI or READ BINARY), journal recovery, GET BALANCE,
//! INITIALIZE FOR PURCHASE, DEBIT FOR PURCHASE, with a software SAM holding the seed card's
//! keys and an in-memory journal.
//!
//! Invariants: never panics; `Paid` only with a MAC2 the SAM verified, a settlement record in
//! the journal and a TAC; the balance after is the balance before minus the amount; the journal
//! never holds more than one entry for one tap; a refusal that moved nothing reports the
//! balance it saw as the balance after.
//!
//! Input: chunks (`quickpass_fuzz::split_chunks`), one R-APDU each (data ‖ SW1 SW2); when they
//! run out the card has left the field (a torn tap).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::purse::{self, Journal, MemoryJournal, PurseOutcome, RecordStatus};
use quickpass::kernel::transport::ApduLayer;
use quickpass_fuzz::ScriptedCard;

fuzz_target!(|data: &[u8]| {
    let mut layer = ApduLayer::new(ScriptedCard::new(quickpass_fuzz::split_chunks(data)));
    let mut sam = quickpass_fuzz::purse_sam();
    let mut journal = MemoryJournal::new();
    let request = quickpass_fuzz::purse_request();
    let result = purse::purchase(
        &mut layer,
        &mut sam,
        &mut journal,
        &quickpass_fuzz::purse_config(),
        &request,
    );
    let Ok(result) = result else {
        // A torn or malformed tap: at most the one entry this tap began, still pending.
        assert!(journal.pending().len() <= 1);
        assert!(
            journal.records().is_empty(),
            "a failed tap settled something"
        );
        return;
    };
    if result.outcome == PurseOutcome::Paid {
        let record = result
            .record
            .as_ref()
            .expect("a paid tap has a settlement record");
        assert!(record.mac2_verified, "paid without a verified MAC2");
        assert_eq!(record.status, RecordStatus::Paid);
        assert!(result.tac.is_some());
        assert_eq!(result.amount, request.amount);
        let before = result.balance_before.expect("balance before");
        assert_eq!(result.balance_after, before.checked_sub(request.amount));
        assert_eq!(journal.records(), vec![record.clone()]);
    } else {
        match result.outcome {
            PurseOutcome::Recovered => {}
            // A refusal that moved nothing shows the balance the card holds, before and after
            // (issue 11 item 4).
            PurseOutcome::Declined | PurseOutcome::InsufficientBalance
                if result.record.is_none() =>
            {
                assert_eq!(result.balance_after, result.balance_before);
            }
            _ => assert!(result.balance_after.is_none()),
        }
    }
});
