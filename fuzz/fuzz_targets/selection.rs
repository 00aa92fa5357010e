//! Application selection (EMV Book 1 §12, Book B §3.3): the PPSE FCI, PSE FCI, PSE directory
//! record and application FCI parsers, and the candidate list built from what they return:
//! every candidate matches a terminal AID and candidates come in priority order.
#![no_main]

use std::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::contact;
use quickpass::kernel::selection::{self, CandidateList, DirectoryEntry, PriorityIndicator};

fn check_candidates(entries: Vec<DirectoryEntry>) {
    let terminal_aids = quickpass_fuzz::contactless_config()
        .terminal
        .terminal_aids();
    let list = CandidateList::build(entries, &terminal_aids);
    let mut last = 0u8;
    for candidate in &list.candidates {
        assert!(terminal_aids[candidate.terminal_aid].matches(&candidate.entry.aid));
        let order = candidate
            .entry
            .priority
            .and_then(PriorityIndicator::order)
            .unwrap_or(u8::MAX);
        assert!(order >= last, "candidates out of priority order");
        last = order;
    }
    let _ = list.cardholder_selection_required();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = selection::ppse_entries::<Infallible>(data) {
        check_candidates(entries);
    }
    if let Ok(entries) = selection::directory_record_entries::<Infallible>(data) {
        check_candidates(entries);
    }
    if let Ok(sfi) = selection::pse_directory_sfi::<Infallible>(data) {
        assert!((1..=30).contains(&sfi.value()));
    }
    if let Some(entry) = contact::selection::fci_entry(data) {
        check_candidates(vec![entry]);
    }
});
