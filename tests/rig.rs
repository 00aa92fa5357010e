//! The flow rig (`quickpass::rig`): every flow's APDU count and traffic, replay of a recorded
//! tap against the kernel alone, and a long alternating run where every outcome is the expected
//! one (the logic of the `long_run` example, at a size a test can afford).
#![allow(clippy::unwrap_used)]

use quickpass::kernel::purse::MemoryJournal;
use quickpass::kernel::transport::ApduLayer;
use quickpass::rig::{self, Flow, Rig};

#[test]
fn explore() {
    let mut rig = Rig::new().unwrap();
    for flow in Flow::ALL {
        for _ in 0..2 {
        let (report, rec) = rig.record(flow).unwrap();
        println!("{:?} {:?} card {} sam {}", report, rec.input, rec.card.len(), rec.sam.len());
        let mut card = ApduLayer::new(rec.card());
        let mut sam = rec.validator(rig.fixtures()).unwrap();
        let again = rig::tap(rig.fixtures(), flow, &rec.input, &mut card, &mut sam, &mut MemoryJournal::new());
        println!("replay {:?}", again);
        }
    }
}
