//! The whole contactless kernel (JR/T 0025.12 qPBOC) against a card whose every answer comes
//! from the fuzzer: `read_card` (PPSE, SELECT, GPO, READ RECORD × AFL, T=0 `61xx`/`6Cxx`
//! handling included) and `complete` (fDDA, expiry, exception file, outcome), with the default
//! terminal configuration and all CA keys loaded once.
//!
//! Invariants: never panics; an offline approval only with a TC and a verified fDDA (the
//! `OdaVerified` token, and the record saying ODA passed); field 55 only on an online request;
//! the card phase never sends more APDUs than the card answered plus one.
//!
//! Input: one byte choosing the amount (`quickpass_fuzz::CONTACTLESS_AMOUNTS`) ‖ chunks
//! (`quickpass_fuzz::split_chunks`), one R-APDU each (data ‖ SW1 SW2); when they run out the
//! card has left the field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::bits::CryptogramType;
use quickpass::kernel::contactless;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::OdaStatus;
use quickpass::kernel::Outcome;
use quickpass_fuzz::{ScriptedCard, CONTACTLESS_AMOUNTS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let amount = CONTACTLESS_AMOUNTS[usize::from(selector) % CONTACTLESS_AMOUNTS.len()];
    let responses = quickpass_fuzz::split_chunks(rest);
    let available = responses.len() as u64;
    let config = quickpass_fuzz::contactless_config();
    let input = quickpass_fuzz::contactless_input(amount);
    let mut layer = ApduLayer::new(ScriptedCard::new(responses));
    let phase = contactless::read_card(config, &input, &mut layer);
    assert!(
        layer.transport().commands <= available + 1,
        "kept talking to a removed card"
    );
    let phase = match phase {
        Ok(phase) => phase,
        Err(error) => {
            assert_ne!(error.outcome(), Outcome::Approved);
            return;
        }
    };
    let result = phase.complete(config);
    let record = result.record();
    if result.outcome == Outcome::Approved {
        assert!(
            result.oda.verified.is_some(),
            "offline approval without verified ODA"
        );
        assert_eq!(
            record.oda,
            OdaStatus::Ok,
            "offline approval, record says ODA {:?}",
            record.oda
        );
        assert_eq!(
            result.cryptogram_type,
            Some(CryptogramType::Tc),
            "approval without a TC"
        );
    }
    assert_eq!(
        result.field_55.is_some(),
        result.outcome == Outcome::OnlineRequest,
        "field 55 present exactly on an online request"
    );
    let _ = result.ec_balance();
});
