//! The contact flow's card-response parsers (EMV Book 3 §6.5.5, §10.5; Book 4 §10.10): the
//! GENERATE AC response (format 1 `80` and format 2 `77`), the CVM list, the issuer scripts and
//! their commands, and the application usage control. An accepted GENERATE AC answer always has
//! a 2-byte ATC and either an 8-byte cryptogram or (CDA) a signature carrying it.
//!
//! Input: one selector byte (cryptogram asked for, CDA requested) ‖ the response data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::apdu::RequestedCryptogram;
use quickpass::kernel::contact::cvm::CvmList;
use quickpass::kernel::contact::online;
use quickpass::kernel::contact::parse_ac_response;
use quickpass::kernel::contact::restrictions::ApplicationUsageControl;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, response)) = data.split_first() else {
        return;
    };
    let requested = match selector % 3 {
        0 => RequestedCryptogram::Aac,
        1 => RequestedCryptogram::Tc,
        _ => RequestedCryptogram::Arqc,
    };
    let cda = selector & 0x80 != 0;
    if let Ok(ac) = parse_ac_response(response, requested, cda) {
        assert_eq!(ac.atc.len(), 2, "accepted without a 2-byte ATC");
        match &ac.application_cryptogram {
            Some(cryptogram) => assert_eq!(cryptogram.len(), 8),
            None => assert!(ac.sdad.is_some(), "accepted with neither AC nor SDAD"),
        }
        assert_eq!(ac.requested, requested);
    }

    if let Ok(list) = CvmList::parse(response) {
        assert_eq!(list.rules.len() * 2 + 8, response.len());
        for rule in &list.rules {
            let _ = (
                rule.method(),
                rule.condition(),
                rule.continue_if_unsuccessful(),
            );
        }
    }
    for script in online::parse_scripts(response) {
        for command in &script.commands {
            if let Some(command) = online::script_command(command) {
                let _ = command.to_bytes();
            }
        }
    }
    let _ = ApplicationUsageControl::from_slice(response);
});
