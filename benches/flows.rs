//! Every flow of `quickpass_sim::rig`, kernel alone: a tap recorded on the simulated card (and
//! PSAM) is replayed, so what is measured is the kernel's CPU for the whole tap — selection,
//! DOLs, parsing, ODA, decisions, the purse flows' journal and MAC/TAC bookkeeping — with a card
//! that answers instantly. The purse flows' TAC check (purchase, CAPP) and the load's MAC2 and
//! TAC (issuer host) are software DES/3DES computed in process and counted in, as a terminal
//! with a software SAM would; the PSAM's answers are replayed. The simulated issuer's check of
//! the online request's ARQC is left out (host work).
//!
//! ```sh
//! cargo bench --bench flows
//! ```

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass::kernel::purse::MemoryJournal;
use quickpass::kernel::transport::ApduLayer;
use quickpass_sim::rig::{self, Flow, Recording, Rig};

/// One recorded tap per flow (CAPP: the entry and the exit).
fn recordings(rig: &mut Rig) -> Vec<(String, Recording)> {
    let mut recorded = Vec::new();
    for flow in Flow::ALL {
        let labels: &[&str] = if flow == Flow::Capp {
            &["capp_entry", "capp_exit"]
        } else {
            &[flow.name()]
        };
        for label in labels {
            let (report, recording) = rig.record(flow).expect("rig");
            assert!(report.is_expected(), "{label}: {report:?}");
            recorded.push(((*label).to_owned(), recording));
        }
    }
    recorded
}

fn bench_flows(c: &mut Criterion) {
    let mut rig = Rig::new().expect("rig");
    let recorded = recordings(&mut rig);
    // The issuer's ARQC check is the host's work, not the kernel's.
    rig.fixtures_mut().set_issuer_check(false);
    let fixtures = rig.fixtures();
    let mut group = c.benchmark_group("flow_kernel_only");
    for (label, recording) in &recorded {
        group.bench_function(label.as_str(), |b| {
            b.iter_batched(
                || {
                    (
                        ApduLayer::new(recording.card()),
                        recording.validator(fixtures).expect("PSAM replay"),
                        MemoryJournal::new(),
                    )
                },
                |(mut card, mut sam, mut journal)| {
                    let report = rig::tap(
                        fixtures,
                        recording.flow,
                        &recording.input,
                        &mut card,
                        &mut sam,
                        &mut journal,
                    );
                    assert!(report.is_expected(), "{label}: {report:?}");
                    report
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_flows);
criterion_main!(benches);
