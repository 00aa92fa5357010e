//! The deny list at 10⁶ entries (issue 11 acceptance: lookup ≤ 1 µs median, load ≤ 1 s, memory
//! ≤ 32 MB).
//!
//! - `lookup_hit` / `lookup_miss`: `DenyList::is_denied(pan, psn)` for a listed / an unlisted
//!   card, **including** the card's HMAC-SHA-256; `hash_only` and `contains_only` split the two.
//!   `lookup_hit_cold` / `lookup_miss_cold`: the same with the caches swept before each lookup;
//!   `lookup_hit_cold_16_entries`, the same on a list of 16 cards (what cold costs whatever the
//!   list's size).
//! - `load_1e6`: `quickpass::deny_list::load` of a 10⁶-entry file (33 MB; parse, order and
//!   checksum checks, index build).
//! - `apply_1e4`: applying a delta of 10⁴ changes (5·10³ adds, 5·10³ removes) to the 10⁶ list,
//!   in memory (`DenyList::apply`) and from its file (`apply_delta`); the list's clone for each
//!   run is not timed.
//!
//! Memory is printed on stderr before the benchmarks: the list's heap (`memory_bytes`: entries
//! and index capacity), the resident-set growth over a load from the file (VmRSS from
//! `/proc/self/status`), and the peak during the load (VmHWM after resetting it through
//! `/proc/self/clear_refs`, when the kernel allows).
//!
//! Short run while iterating: `cargo bench --bench deny_list -- --warm-up-time 1
//! --measurement-time 2`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass::deny_list;
use quickpass::kernel::deny_list::{CardHasher, DenyDelta, DenyList, Salt};
use quickpass::kernel::values::Pan;

const ENTRIES: u64 = 1_000_000;
const DELTA_HALF: u64 = 5_000;
const PSN: Option<u8> = Some(0x01);

/// The `i`-th test card: a 16-digit UnionPay-like PAN.
fn pan(i: u64) -> Pan {
    Pan::from_digits(&format!("6228{i:012}")).expect("PAN")
}

fn salt() -> Salt {
    Salt::new(&[
        0x27, 0x62, 0x45, 0xCE, 0xEE, 0xFA, 0x92, 0x6C, 0x9F, 0xD9, 0xC1, 0xF6, 0xFD, 0x9F, 0xF9,
        0xF6,
    ])
    .expect("salt")
}

/// Cards 0 … 10⁶ − 1 (the list) and the delta: removes cards 0, 200, 400 … (5·10³ of them),
/// adds cards 10⁶ … 10⁶ + 5·10³ − 1.
fn lists() -> (DenyList, DenyDelta) {
    let hasher = CardHasher::new(salt());
    let list = DenyList::from_keys(
        salt(),
        1,
        (0..ENTRIES).map(|i| hasher.card_key(&pan(i), PSN)),
    )
    .expect("list");
    let next = DenyList::from_keys(
        salt(),
        2,
        (0..ENTRIES)
            .filter(|i| i % 200 != 0)
            .chain(ENTRIES..ENTRIES + DELTA_HALF)
            .map(|i| hasher.card_key(&pan(i), PSN)),
    )
    .expect("list");
    let delta = DenyDelta::between(&list, &next).expect("delta");
    assert_eq!(delta.len(), 2 * DELTA_HALF as usize);
    (list, delta)
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), if readable.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn bench_deny_list(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("quickpass-bench-deny-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let list_path: PathBuf = dir.join("list.deny");
    let delta_path: PathBuf = dir.join("delta.deny");
    {
        let (list, delta) = lists();
        deny_list::save_list(&list, &list_path).expect("save list");
        deny_list::save_delta(&delta, &delta_path).expect("save delta");
    }

    // Memory: the heap the list holds, and the process's resident set over a load.
    let before = status_kib("VmRSS");
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let list = deny_list::load(&list_path).expect("load");
    let after = status_kib("VmRSS");
    let peak = status_kib("VmHWM");
    let file_size = std::fs::metadata(&list_path).map_or(0, |m| m.len());
    eprintln!(
        "deny list: {} entries, file {:.1} MiB; heap (entries + index capacity) {:.2} MiB",
        list.len(),
        mib(file_size),
        mib(list.memory_bytes() as u64)
    );
    if let (Some(before), Some(after)) = (before, after) {
        eprintln!(
            "deny list: VmRSS {before} KiB before the load, {after} KiB after (+{:.2} MiB)",
            mib(after.saturating_sub(before) * 1024)
        );
        if let (true, Some(peak)) = (hwm_reset, peak) {
            eprintln!(
                "deny list: peak during the load (VmHWM) {peak} KiB (+{:.2} MiB over before)",
                mib(peak.saturating_sub(before) * 1024)
            );
        }
    }

    let mut group = c.benchmark_group("deny_list");
    // 2¹⁶ listed and 2¹⁶ unlisted cards, 13 card numbers apart: their keys are random, so
    // successive lookups land anywhere in the 16 MB of entries (this machine's 32 MB L3 still
    // holds the list; the `_cold` runs evict it before each lookup).
    let hits: Vec<Pan> = (0..1 << 16).map(|i| pan(i * 13 % ENTRIES)).collect();
    let misses: Vec<Pan> = (0..1 << 16).map(|i| pan(2 * ENTRIES + i * 13)).collect();
    assert!(hits.iter().all(|p| list.is_denied(p, PSN)));
    assert!(misses.iter().all(|p| !list.is_denied(p, PSN)));
    let keys: Vec<_> = hits.iter().map(|p| list.card_key(p, PSN)).collect();

    let mut i = 0;
    group.bench_function("lookup_hit", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(list.is_denied(black_box(&hits[i]), PSN))
        })
    });
    group.bench_function("lookup_miss", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            black_box(list.is_denied(black_box(&misses[i]), PSN))
        })
    });
    group.bench_function("hash_only", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(list.card_key(black_box(&hits[i]), PSN))
        })
    });
    group.bench_function("contains_only", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(list.contains(black_box(&keys[i])))
        })
    });

    // A validator looks up one card a tap, with its caches full of other work: before each
    // timed lookup a 64 MiB buffer (twice the L3) is swept, one write a cache line.
    let mut sweep = vec![0u8; 64 << 20];
    let mut evict = || {
        for line in sweep.chunks_mut(64) {
            line[0] = line[0].wrapping_add(1);
        }
        black_box(&sweep);
    };
    // Each timed lookup costs a sweep of milliseconds: fewer samples.
    group.sample_size(20);
    // The control: a list of 16 cards, as cold. What it costs is the hashing code, the key's
    // HMAC state and the page walks to reach them, not the size of the list.
    let small = DenyList::from_keys(
        salt(),
        1,
        hits[..16].iter().map(|card| list.card_key(card, PSN)),
    )
    .expect("list");
    for (name, cards, list) in [
        ("lookup_hit_cold", &hits, &list),
        ("lookup_miss_cold", &misses, &list),
        ("lookup_hit_cold_16_entries", &hits, &small),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    evict();
                    i = (i + 1) % if list.len() == 16 { 16 } else { cards.len() };
                    &cards[i]
                },
                |card| black_box(list.is_denied(card, PSN)),
                BatchSize::PerIteration,
            )
        });
    }
    group.sample_size(10);
    group.bench_function("load_1e6", |b| {
        b.iter(|| black_box(deny_list::load(&list_path).expect("load")))
    });
    let delta = deny_list::load_delta(&delta_path).expect("delta");
    group.bench_function("apply_1e4", |b| {
        b.iter_batched(
            || list.clone(),
            |mut list| {
                list.apply(&delta).expect("apply");
                list
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("apply_delta_file_1e4", |b| {
        b.iter_batched(
            || list.clone(),
            |mut list| {
                deny_list::apply_delta(&mut list, &delta_path).expect("apply");
                list
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_deny_list);
criterion_main!(benches);
