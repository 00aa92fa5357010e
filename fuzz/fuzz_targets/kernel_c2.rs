//! The Mastercard C-2 kernel (and its configuration parser) against a card whose every answer
//! comes from the fuzzer: `c2::transact` after Entry Point (the FCI is the first chunk) — GPO,
//! relay resistance, READ RECORD × AFL, the torn log with RECOVER AC, GENERATE AC with CDA —
//! with the default terminal configuration and all CA keys (the test CA under the Mastercard
//! RID too), and `C2Config::from_tlv` on the whole input.
//!
//! Invariants: never panics; an offline approval only with a TC and a verified CDA; field 55
//! only on an online request; a Try Again only ever keeps at most one torn record; no command
//! after the card left.
//!
//! Input: one byte choosing the amount (`quickpass_fuzz::CONTACTLESS_AMOUNTS`) and the relay
//! resistance timing ‖ chunks (`quickpass_fuzz::split_chunks`): the FCI, then one R-APDU each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::bits::CryptogramType;
use quickpass::kernel::c2::{self, C2Config, RelayEnvironment, TornLog};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::{OdaStatus, Outcome};
use quickpass_fuzz::{ScriptedCard, CONTACTLESS_AMOUNTS};

/// Each exchange takes `step` microseconds.
struct Clock {
    now: u64,
    step: u64,
}

impl RelayEnvironment for Clock {
    fn now_micros(&mut self) -> u64 {
        self.now += self.step;
        self.now
    }

    fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
        [0x01, 0x02, 0x03, (self.now & 0xFF) as u8]
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = C2Config::from_tlv(data);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let amount = CONTACTLESS_AMOUNTS[usize::from(selector & 0x03) % CONTACTLESS_AMOUNTS.len()];
    let mut chunks = quickpass_fuzz::split_chunks(rest).into_iter();
    let Some(fci) = chunks.next() else {
        return;
    };
    let responses: Vec<&[u8]> = chunks.collect();
    let available = responses.len() as u64;
    let config = quickpass_fuzz::contactless_config();
    let input = quickpass_fuzz::contactless_input(amount);
    let reader = C2Config {
        floor_limit: 100_000,
        ..C2Config::default()
    };
    let mut torn = TornLog::new();
    let mut clock = Clock {
        now: 0,
        step: u64::from(selector >> 2) * 250,
    };
    let mut layer = ApduLayer::new(ScriptedCard::new(responses));
    let result = c2::transact(config, &reader, &input, fci, &mut layer, &mut torn, &mut clock);
    assert!(
        layer.transport().commands <= available + 1,
        "kept talking to a removed card"
    );
    if result.outcome() == Outcome::Approved {
        assert_eq!(result.oda.status(), OdaStatus::Ok, "approved without CDA");
        assert_eq!(result.cryptogram_type, Some(CryptogramType::Tc));
    }
    assert_eq!(
        result.field_55.is_some(),
        result.outcome() == Outcome::OnlineRequest
    );
    assert!(torn.len() <= 1);
});
