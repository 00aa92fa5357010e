//! What the PC/SC stack costs per APDU: one SELECT PPSE through
//! `PcscTransport` → pcscd → vpcd → the in-process virtual card, against the same APDU processed
//! directly by the `VirtualCard`.
//!
//! ```sh
//! cargo bench --features pcsc --bench pcsc_roundtrip
//! ```
//!
//! Needs pcscd running with vsmartcard-vpcd (as `.ci/test` starts it); the card is served on the
//! second vpcd slot ("Virtual PCD 00 01", port 35964). Without pcscd only the direct case runs.

use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use quickpass::kernel::apdu::Command;
use quickpass::kernel::transport::Transport;
use quickpass::kernel::Tag;
use quickpass::pcsc::PcscTransport;
use quickpass_sim::card::{push_tlv, CONTACTLESS_ATR};
use quickpass_sim::vpcd;
use quickpass_sim::{Application, CommandApdu, Reply, VirtualCard};

const AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01];

/// Just enough of an application for a PPSE directory entry (the PPSE FCI is ~40 bytes).
struct Listed;

impl Application for Listed {
    fn df_name(&self) -> &[u8] {
        &AID
    }
    fn directory_entry(&self) -> Option<Vec<u8>> {
        let mut entry = Vec::new();
        push_tlv(&mut entry, Tag::new(0x4F), &AID);
        push_tlv(&mut entry, Tag::new(0x50), b"PBOC DEBIT");
        push_tlv(&mut entry, Tag::new(0x87), &[0x01]);
        Some(entry)
    }
    fn in_ppse(&self) -> bool {
        true
    }
    fn in_pse(&self) -> bool {
        false
    }
    fn select(&mut self) -> Reply {
        Reply::ok(Vec::new())
    }
    fn process(&mut self, _: &CommandApdu<'_>) -> Reply {
        Reply::ok(Vec::new())
    }
    fn reset(&mut self) {}
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

fn card() -> VirtualCard {
    let mut card = VirtualCard::new(CONTACTLESS_ATR.to_vec(), true, false);
    card.add_application(Box::new(Listed));
    card
}

/// Connects to the served card, or says why not.
fn connect() -> Result<PcscTransport, String> {
    let mut transport = PcscTransport::new().map_err(|e| format!("pcscd: {e}"))?;
    let reader = transport
        .list_readers()
        .map_err(|e| format!("list readers: {e}"))?
        .into_iter()
        .find(|r| r.starts_with("Virtual PCD") && r.ends_with(" 01"))
        .ok_or("no \"Virtual PCD .. 01\" reader (vsmartcard-vpcd)")?;
    transport
        .wait_for_card(&reader, Duration::from_secs(5))
        .map_err(|e| format!("waiting for the card: {e}"))?;
    transport
        .connect(&reader)
        .map_err(|e| format!("connect: {e}"))?;
    Ok(transport)
}

fn roundtrip(c: &mut Criterion) {
    let select = Command::select_ppse().to_bytes();
    let mut group = c.benchmark_group("select_ppse");

    let mut direct = card();
    group.bench_function("direct", |b| b.iter(|| direct.process_apdu(&select)));

    let served = match vpcd::spawn(card(), vpcd::localhost(vpcd::SECOND_PORT)) {
        Ok(served) => served,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "SKIPPED pcscd_vpcd: card thread: {e}");
            return;
        }
    };
    match connect() {
        Ok(mut transport) => {
            group.bench_function("pcscd_vpcd", |b| {
                b.iter(|| transport.transmit(&select).expect("transmit"))
            });
        }
        Err(reason) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED pcscd_vpcd: {reason}; start pcscd as .ci/test does"
            );
        }
    }
    group.finish();
    drop(served);
}

criterion_group!(benches, roundtrip);
criterion_main!(benches);
