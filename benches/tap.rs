//! A whole contactless qPBOC tap with fDDA, and TLV parsing.
//!
//! `kernel_only` replays a recorded exchange of the simulated debit card, so what is measured
//! is the kernel's own CPU for the tap (selection, DOLs, parsing, fDDA, decisions) with a card
//! that answers instantly; `with_simulated_card` adds the simulator's work (its RSA signature
//! for fDDA is most of it), as an in-process end-to-end figure.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless;
use quickpass::kernel::tlv;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::Outcome;
use quickpass::kernel::TransactionInput;
use quickpass_sim::replay::{Exchange, ReplayCard};
use quickpass_sim::CardProfile;

fn config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("configuration")
}

fn input() -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(200).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(8, 0, 0).expect("time"),
        unpredictable_number: [1, 2, 3, 4],
    }
}

fn profile() -> CardProfile {
    CardProfile::load(quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"))
        .expect("profile")
}

/// One tap on the simulated card, recorded.
fn recorded_tap(config: &KernelConfig) -> Vec<Exchange> {
    let mut card = profile().build().expect("card");
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let result = contactless::read_card(config, &input(), &mut layer)
        .expect("card phase")
        .complete(config);
    assert_eq!(result.outcome, Outcome::Approved);
    layer
        .take_log()
        .into_iter()
        .map(|e| Exchange {
            command: e.command,
            response: e.response,
        })
        .collect()
}

fn bench_tap(c: &mut Criterion) {
    let config = config();
    let exchanges = recorded_tap(&config);
    let mut group = c.benchmark_group("qpboc_fdda_tap");
    group.bench_function("kernel_only", |b| {
        b.iter_batched(
            || ReplayCard::new(exchanges.clone()),
            |mut card| {
                let mut layer = ApduLayer::new(&mut card);
                let result = contactless::read_card(&config, &input(), &mut layer)
                    .expect("card phase")
                    .complete(&config);
                assert_eq!(result.outcome, Outcome::Approved);
                result
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("with_simulated_card", |b| {
        b.iter_batched(
            || profile().build().expect("card"),
            |mut card| {
                let mut layer = ApduLayer::new(&mut card);
                contactless::read_card(&config, &input(), &mut layer)
                    .expect("card phase")
                    .complete(&config)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let gpo = exchanges
        .iter()
        .find(|e| e.command.starts_with(&[0x80, 0xA8]))
        .map(|e| e.response[..e.response.len() - 2].to_vec())
        .expect("GPO response");
    let certificate_record = exchanges
        .iter()
        .filter(|e| e.command.starts_with(&[0x00, 0xB2]))
        .map(|e| e.response[..e.response.len() - 2].to_vec())
        .max_by_key(Vec::len)
        .expect("a record");
    let mut tlv_group = c.benchmark_group("tlv");
    tlv_group.bench_function("parse_gpo_response", |b| {
        b.iter(|| tlv::parse_single(&gpo).expect("valid"))
    });
    tlv_group.bench_function("parse_certificate_record", |b| {
        b.iter(|| tlv::parse_single(&certificate_record).expect("valid"))
    });
    tlv_group.finish();
}

/// One contact CDA transaction (PSE, GPO, records, CVM, risk management, action analysis,
/// GENERATE AC with CDA), recorded on the simulated card.
fn contact_input() -> quickpass::kernel::contact::ContactInput {
    quickpass::kernel::contact::ContactInput::new(input())
}

fn contact_config() -> KernelConfig {
    let mut config = config();
    // Plaintext offline PIN, signature, no CVM; SDA, DDA, CDA (as the contact tests use).
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.capabilities = [0xE0, 0xA8, 0xC8])
        .expect("valid configuration");
    config
}

fn contact_transaction<T: quickpass::kernel::transport::Transport>(
    config: &KernelConfig,
    layer: &mut ApduLayer<T>,
) -> quickpass::kernel::contact::FirstPhase {
    use quickpass::kernel::contact::{self, NoPinPad};
    contact::start(config, &contact_input(), layer, &mut NoPinPad).expect("first phase")
}

fn bench_contact(c: &mut Criterion) {
    let config = contact_config();
    let mut card = profile().build().expect("card");
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let phase = contact_transaction(&config, &mut layer);
    assert!(
        matches!(phase, quickpass::kernel::contact::FirstPhase::Complete(ref r) if r.outcome == Outcome::Approved),
        "the recorded contact transaction is an offline CDA approval"
    );
    let exchanges: Vec<Exchange> = layer
        .take_log()
        .into_iter()
        .map(|e| Exchange {
            command: e.command,
            response: e.response,
        })
        .collect();
    let mut group = c.benchmark_group("contact_cda_transaction");
    group.bench_function("kernel_only", |b| {
        b.iter_batched(
            || ReplayCard::new(exchanges.clone()),
            |mut card| contact_transaction(&config, &mut ApduLayer::new(&mut card)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("with_simulated_card", |b| {
        b.iter_batched(
            || profile().build().expect("card"),
            |mut card| contact_transaction(&config, &mut ApduLayer::new(&mut card)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_tap, bench_contact);
criterion_main!(benches);
