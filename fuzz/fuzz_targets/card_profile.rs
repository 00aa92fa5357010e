//! Simulated card profiles (`quickpass-card/1`, vectors/cards/README.md): `CardProfile::
//! from_json` and personalisation (`build`) never panic on any JSON; a card that builds answers
//! a SELECT PPSE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::apdu::Command;
use quickpass::kernel::transport::Transport;
use quickpass_sim::CardProfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(profile) = CardProfile::from_json(text) else {
        return;
    };
    if let Ok(mut card) = profile.build() {
        let response = card
            .transmit(&Command::select_ppse().to_bytes())
            .expect("the virtual card always answers");
        assert!(response.len() >= 2, "R-APDU without a status word");
    }
});
