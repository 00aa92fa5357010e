//! What the terminal's store costs a purse purchase as it fills up (issue 12 acceptance): the
//! time of whole purchase taps — simulated T-Union card and PSAM, as `benches/purse.rs` runs
//! them — with the journal in a `quickpass::store::Store` holding 0, 10³, 10⁴ and 10⁵ settlement
//! records, and the bytes each tap writes (`write_bytes` of `/proc/self/io`: what this process
//! sent towards the disk, page-cache pages it dirtied included).
//!
//! ```sh
//! cargo run --release --example store_bench -- [--taps N] [--sizes 0,1000,10000,100000]
//!                                              [--dir DIR] [--json]
//! ```
//!
//! Each store is built first, quickly: a `quickpass-journal/1` file with that many records is
//! imported (one transaction), and the store reopened (open checks every row: its time is
//! reported too). The records stay `unsent`, the worst case for a validator that has not
//! uploaded. Then `--taps N` (default 2000) purchases per store are timed one by one, the
//! stores taking turns of 100 taps (so load from elsewhere on the machine falls on every size
//! alike); the card is personalised afresh before each tap (not timed), so its balance never
//! runs out. The same taps with the kernel's `MemoryJournal`, in the same turns, give the
//! baseline. Prints, per size: open time, median and
//! p99 of a tap, bytes written per tap (mean, p99, and the share of taps above 16 KiB) and the
//! file's size after the taps. Exit status 1 if any tap does not end `paid`.

#[macro_use]
mod stdout;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use quickpass::kernel::purse::{
    purchase, Journal, MemoryJournal, Psam, PurchaseRequest, PurseApplication, PurseConfig,
    PurseOutcome, RecordStatus, SelectBy, SettlementRecord,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{PurseAmount, TransactionDate, TransactionTime};
use quickpass::store::Store;
use quickpass_sim::{CardProfile, VirtualCard};

/// Store cost per purchase tap as the store fills up.
#[derive(clap::Parser)]
#[command(name = "store_bench")]
struct Options {
    /// Timed taps per store size.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    taps: usize,
    /// Records in the store before the taps, comma-separated.
    #[arg(long, value_name = "N,N,...", value_delimiter = ',',
          default_values_t = [0usize, 1_000, 10_000, 100_000])]
    sizes: Vec<usize>,
    /// Where the stores are made (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// One JSON object per size.
    #[arg(long)]
    json: bool,
}

fn profile(name: &str) -> Result<CardProfile, String> {
    let path = format!("{}/vectors/cards/{name}.json", env!("CARGO_MANIFEST_DIR"));
    CardProfile::load(&path).map_err(|e| format!("{path}: {e}"))
}

/// `write_bytes` of `/proc/self/io`.
fn write_bytes() -> Result<u64, String> {
    let io = std::fs::read_to_string("/proc/self/io").map_err(|e| format!("/proc/self/io: {e}"))?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "/proc/self/io has no write_bytes".into())
}

/// The taps' rig: the profiles, the configuration and the request.
struct Rig {
    card: CardProfile,
    psam: CardProfile,
    config: PurseConfig,
    request: PurchaseRequest,
}

/// One tap's time and bytes written.
struct Sample {
    time: Duration,
    bytes: u64,
}

impl Rig {
    fn new() -> Result<Rig, String> {
        Ok(Rig {
            card: profile("transit-purse-capp")?,
            psam: profile("psam")?,
            config: PurseConfig::new(PurseApplication::t_union()),
            request: PurchaseRequest {
                amount: PurseAmount::from_fen(200),
                date: TransactionDate::new(2024, 5, 17).map_err(|e| e.to_string())?,
                time: TransactionTime::new(8, 30, 15).map_err(|e| e.to_string())?,
            },
        })
    }

    /// `taps` purchases against `journal`, each timed alone.
    fn taps<J: Journal>(&self, journal: &mut J, taps: usize) -> Result<Vec<Sample>, String> {
        let mut psam = Psam::open(
            self.psam.build().map_err(|e| e.to_string())?,
            &SelectBy::FileId(0x8011),
        )
        .map_err(|e| format!("PSAM: {e}"))?;
        let mut samples = Vec::with_capacity(taps);
        for _ in 0..taps {
            let mut card: ApduLayer<VirtualCard> =
                ApduLayer::new(self.card.build().map_err(|e| e.to_string())?);
            let bytes = write_bytes()?;
            let start = Instant::now();
            let result = purchase(&mut card, &mut psam, journal, &self.config, &self.request);
            let time = start.elapsed();
            let bytes = write_bytes()? - bytes;
            match result {
                Ok(tap) if tap.outcome == PurseOutcome::Paid => {}
                other => return Err(format!("a tap did not end paid: {other:?}")),
            }
            samples.push(Sample { time, bytes });
        }
        Ok(samples)
    }
}

/// A `quickpass-journal/1` file holding `n` paid settlement records.
fn journal_file(path: &Path, n: usize) -> Result<(), String> {
    let template = SettlementRecord {
        id: 0,
        status: RecordStatus::Paid,
        kind: quickpass::kernel::purse::TransactionKind::PursePurchase,
        transaction_type: [0x06],
        card_number: "3104************5678".into(),
        amount: PurseAmount::from_fen(200),
        balance_before: PurseAmount::from_fen(5000),
        balance_after: PurseAmount::from_fen(4800),
        card_counter: 17,
        key_index: 1,
        key_version: 1,
        terminal_id: [0x31, 0x01, 0, 0, 0, 1],
        terminal_serial: Some(1),
        date: [0x20, 0x24, 0x05, 0x16],
        time: [0x08, 0x30, 0x15],
        tac: Some([1, 2, 3, 4]),
        tac_verified: true,
        mac2_verified: true,
        trip: None,
        clearing: None,
    };
    // MemoryJournal's serde form, built directly (begin + complete would do the same).
    let records: Vec<SettlementRecord> = (1..=n as u64)
        .map(|id| SettlementRecord {
            id,
            card_counter: id as u16,
            terminal_serial: Some(id as u32),
            ..template.clone()
        })
        .collect();
    let state = serde_json::json!({
        "next_id": n as u64 + 1,
        "pending": [],
        "records": records,
    });
    // Through MemoryJournal so the file is exactly its canonical (pretty) form.
    let state: MemoryJournal = serde_json::from_value(state).map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec_pretty(&state).map_err(|e| e.to_string())?;
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Summary {
    median_us: u64,
    p99_us: u64,
    bytes_mean: u64,
    bytes_p99: u64,
    /// Per mille of taps that wrote more than 16 KiB.
    over_16k_permille: u64,
}

fn summarise(samples: &[Sample]) -> Summary {
    let mut times: Vec<u64> = samples.iter().map(|s| s.time.as_micros() as u64).collect();
    times.sort_unstable();
    let mut bytes: Vec<u64> = samples.iter().map(|s| s.bytes).collect();
    bytes.sort_unstable();
    Summary {
        median_us: quantile(&times, 0.5),
        p99_us: quantile(&times, 0.99),
        bytes_mean: bytes.iter().sum::<u64>() / bytes.len().max(1) as u64,
        bytes_p99: quantile(&bytes, 0.99),
        over_16k_permille: bytes.iter().filter(|&&b| b > 16 * 1024).count() as u64 * 1000
            / bytes.len().max(1) as u64,
    }
}

/// A store of `size` records at `path`, built quickly (one import transaction).
fn build_store(dir: &Path, path: &Path, size: usize) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.to_owned().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    let mut store = Store::open(path).map_err(|e| e.to_string())?;
    if size > 0 {
        let json = dir.join(format!("journal-{size}.json"));
        journal_file(&json, size)?;
        let imported = store
            .import_json_journal(&json)
            .map_err(|e| e.to_string())?;
        if imported.records != size {
            return Err(format!("imported {} of {size} records", imported.records));
        }
        let _ = std::fs::remove_file(&json);
    }
    Ok(())
}

/// Taps per turn: the sizes take turns, so a burst of load from elsewhere on the machine falls
/// on all of them alike.
const TURN: usize = 100;

fn run(options: Options) -> Result<(), String> {
    let rig = Rig::new()?;
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("quickpass-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut stores = Vec::new();
    for &size in &options.sizes {
        let path = dir.join(format!("store-{size}.db"));
        build_store(&dir, &path, size)?;
        let start = Instant::now();
        let store = Store::open(&path).map_err(|e| e.to_string())?;
        let open_ms = start.elapsed().as_secs_f64() * 1e3;
        stores.push((size, path, open_ms, store, Vec::new()));
    }
    // Warm-up, then the taps, the sizes and the in-memory baseline taking turns.
    let mut memory = MemoryJournal::new();
    rig.taps(&mut memory, 50)?;
    let mut memory_samples = Vec::new();
    let mut done = 0;
    while done < options.taps {
        let turn = TURN.min(options.taps - done);
        memory_samples.extend(rig.taps(&mut memory, turn)?);
        for (_, _, _, store, samples) in &mut stores {
            samples.extend(rig.taps(store, turn)?);
        }
        done += turn;
    }
    let memory = summarise(&memory_samples);
    if options.json {
        outln!(
            "{}",
            serde_json::json!({"journal": "memory", "taps": options.taps,
                "median_us": memory.median_us, "p99_us": memory.p99_us})
        );
    } else {
        outln!(
            "{} taps per size; journal in memory: median {} µs, p99 {} µs",
            options.taps,
            memory.median_us,
            memory.p99_us
        );
        outln!(
            "records  open (ms)  median (µs)  p99 (µs)  written/tap mean (B)  p99 (B)  >16 KiB (‰)  file (MiB)"
        );
    }
    for (size, path, open_ms, store, samples) in stores {
        let summary = summarise(&samples);
        let records = store.counts().map_err(|e| e.to_string())?.total();
        drop(store);
        let file_mib = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
        if options.json {
            outln!(
                "{}",
                serde_json::json!({"journal": "store", "records_before": size,
                    "records_after": records, "taps": options.taps,
                    "open_ms": (open_ms * 10.0).round() / 10.0,
                    "median_us": summary.median_us, "p99_us": summary.p99_us,
                    "write_bytes_per_tap_mean": summary.bytes_mean,
                    "write_bytes_per_tap_p99": summary.bytes_p99,
                    "taps_over_16k_permille": summary.over_16k_permille,
                    "file_mib": (file_mib * 10.0).round() / 10.0})
            );
        } else {
            outln!(
                "{size:>7}  {open_ms:>9.1}  {:>11}  {:>8}  {:>20}  {:>7}  {:>11}  {file_mib:>10.1}",
                summary.median_us,
                summary.p99_us,
                summary.bytes_mean,
                summary.bytes_p99,
                summary.over_16k_permille
            );
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store_bench: {e}");
            ExitCode::from(1)
        }
    }
}
