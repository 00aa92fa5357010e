//! The contactless card data path (JR/T 0025.12, EMV Book 3 §10.2–10.3): the GPO response
//! (format 1 `80` or format 2 `77`), the AFL, the records it names and the static data to be
//! authenticated, then the cryptogram type, fDDA dynamic data, PAN and track 2 read from them.
//!
//! Input: chunks (`quickpass_fuzz::split_chunks`): the GPO response data, then record
//! responses in AFL order.
#![no_main]

use std::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::contactless;
use quickpass::kernel::internal::afl::{self, StaticData};
use quickpass::kernel::internal::read_records;
use quickpass::kernel::tags;
use quickpass::kernel::CardData;
use quickpass::kernel::TerminalValues;

fuzz_target!(|data: &[u8]| {
    let chunks = quickpass_fuzz::split_chunks(data);
    let Some((gpo, records)) = chunks.split_first() else {
        return;
    };
    let mut card = CardData::new();
    if read_records::absorb_gpo_response::<Infallible>(&mut card, gpo).is_err() {
        return;
    }
    assert_eq!(
        card.get(tags::AIP).map(<[u8]>::len),
        Some(2),
        "accepted GPO without AIP"
    );

    let entries = match card.get(tags::AFL).map(afl::parse_afl) {
        Some(Ok(entries)) => entries,
        Some(Err(_)) => return,
        None => Vec::new(),
    };
    let mut static_data = StaticData::default();
    let mut records = records.iter();
    'afl: for entry in &entries {
        let listed: Vec<_> = entry.records().collect();
        assert_eq!(listed.len(), usize::from(entry.last - entry.first) + 1);
        assert_eq!(
            listed.iter().filter(|(_, signed)| *signed).count(),
            usize::from(entry.oda_records)
        );
        for (number, signed) in listed {
            let Some(record) = records.next() else {
                break 'afl;
            };
            if signed {
                static_data.add_record(entry.sfi, number, record);
            }
            let _ = afl::absorb_record(&mut card, record);
        }
    }
    let _ = static_data.finish(&card);
    let _ = contactless::cryptogram_type(&card);
    let config = quickpass_fuzz::contactless_config();
    let values = TerminalValues::new(
        config.terminal.terminal(),
        &quickpass_fuzz::contactless_input(100),
    );
    let _ = contactless::fdda_dynamic_data(&values, &card);
    if let Some(pan) = card.pan() {
        let _ = pan.masked();
    }
    let _ = card.track2();
    if let Some(list) = card.get(tags::SDA_TAG_LIST) {
        let _ = afl::parse_tag_list(list);
    }
});
