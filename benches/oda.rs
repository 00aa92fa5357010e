//! Offline data authentication, full chain per method (SDA, DDA, CDA, fDDA; RSA and SM2), in
//! the three states of `examples/oda_cases`: known issuer + new card (a bus's usual tap), cold
//! (nothing seen before) and memo hit (the same card again); every check included. RSA chains
//! run on public certificates of real cards, SM2 chains on test-CA certificates. CA keys are
//! built outside the measurement, as a terminal does at start-up.
//!
//! Groups: `oda_rsa_<state>/<method>`, `oda_sm2_<state>/<method>`, and
//! `oda_sm2_verification/{key_with_table,key_without_table}` (one SM2 verification; compare it
//! with `openssl speed sm2` through `cargo run --release --example oda_bench -- --openssl`).

#[path = "../examples/oda_cases/mod.rs"]
mod oda_cases;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use oda_cases::{Method, RsaChain, Sm2Chains, State};

fn bench_rsa(c: &mut Criterion) {
    let chains = RsaChain::all();
    for state in State::ALL {
        let mut group = c.benchmark_group(format!("oda_rsa_{}", state.name()));
        for chain in &chains {
            // The CA key in its state is made and dropped outside the measurement.
            group.bench_function(chain.method.name(), |b| {
                b.iter_batched_ref(
                    || chain.ca_in_state(state),
                    |ca| chain.run(ca),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

fn bench_sm2(c: &mut Criterion) {
    let chains = Sm2Chains::new();
    chains.warm();
    for state in State::ALL {
        let mut group = c.benchmark_group(format!("oda_sm2_{}", state.name()));
        for method in Method::ALL {
            let mut i = 0usize;
            group.bench_function(method.name(), |b| {
                b.iter(|| {
                    i += 1;
                    chains.run(method, state, i)
                })
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("oda_sm2_verification");
    let key = chains.known_issuer_key();
    let mut i = 0usize;
    group.bench_function("key_with_table", |b| {
        b.iter(|| {
            i += 1;
            chains.verify_icc_certificate(&key, i)
        })
    });
    let icc = chains.icc_key();
    group.bench_function("key_without_table", |b| b.iter(|| chains.verify_sdad(&icc)));
    group.finish();
}

criterion_group!(benches, bench_rsa, bench_sm2);
criterion_main!(benches);
