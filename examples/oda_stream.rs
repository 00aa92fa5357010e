//! A bus validator's stream of taps: distinct cards (default 10⁴) from a few issuers (default
//! 20) drawn Zipf-distributed (a few big banks, a long tail), each card tapped once, qPBOC
//! with fDDA. What is timed per tap is the kernel alone — the card phase on a replayed
//! exchange (selection, GPO, records, parsing) and the completion phase (fDDA, card checks, the
//! outcome) — with the terminal's CA keys (and their memos) kept across taps, as a validator
//! does. Prints the median, p99 and maximum per mix: RSA cards, SM2 cards, and both (odd
//! issuers SM2).
//!
//! ```sh
//! cargo run --release --example oda_stream                      # 10⁴ cards, every mix
//! cargo run --release --example oda_stream -- --mix rsa --cards 2000
//! ```
//!
//! The cards are personalised by the simulator from `vectors/cards/qpboc-debit-offline.json`
//! (RSA) and `vectors/cards/pboc3-sm2.json` (SM2) with a PAN, issuer certificate serial and
//! ICC certificate serial of their own, and each tap is recorded once against the simulated
//! card: all that is set-up, not timed. The test CA has one issuer key and one ICC key per
//! algorithm, so the 20 issuers' certificates (distinct bytes, each verified on its own) carry
//! the same key, and the cards' certificates (distinct bytes) carry the same ICC key; the work
//! per tap is the same as with distinct keys, except that an RSA issuer key is built once per
//! key rather than once per issuer (a few microseconds, once).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless;
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass_sim::ca::TestCa;
use quickpass_sim::replay::{Exchange, ReplayCard};
use quickpass_sim::CardProfile;
use serde_json::Value;

/// The bus stream benchmark: distinct cards, Zipf-distributed issuers, the kernel alone per
/// tap.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Distinct cards (one tap each).
    #[arg(long, default_value_t = 10_000)]
    cards: usize,
    /// Issuers the cards come from.
    #[arg(long, default_value_t = 20)]
    issuers: usize,
    /// Zipf exponent of the issuers' shares (issuer k gets a share ∝ 1 / k^s).
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// `rsa`, `sm2`, `mixed` or `all` (the three in turn).
    #[arg(long, default_value = "all")]
    mix: String,
}

/// SplitMix64, so every run draws the same stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Issuer of each card: Zipf(s) over `issuers`.
fn zipf_issuers(cards: usize, issuers: usize, s: f64) -> Vec<usize> {
    let weights: Vec<f64> = (1..=issuers).map(|k| 1.0 / (k as f64).powf(s)).collect();
    let total: f64 = weights.iter().sum();
    let mut rng = Rng(0x0B05_5EED);
    (0..cards)
        .map(|_| {
            let mut x = rng.unit() * total;
            for (k, w) in weights.iter().enumerate() {
                if x < *w {
                    return k;
                }
                x -= w;
            }
            issuers - 1
        })
        .collect()
}

/// `digits` followed by its Luhn check digit.
fn with_luhn(digits: &str) -> String {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn profile_json(name: &str) -> Value {
    let path = quickpass_sim::data::card_profile(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("profile")).expect("json")
}

fn input() -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(100).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(8, 0, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

/// A terminal announcing SM support, trusting both test CA keys.
fn config() -> KernelConfig {
    let mut config = quickpass_sim::data::default_kernel_config().expect("configuration");
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.sm_supported = true)
        .expect("valid configuration");
    let ca = TestCa::shared().expect("test CA");
    config
        .capks
        .insert(ca.sm2_ca_public_key().expect("SM2 CA key"))
        .expect("checksum");
    config
}

/// Card `n` of `issuer`: its profile, personalised, and one tap recorded (set-up).
fn recorded_tap(config: &KernelConfig, sm2: bool, issuer: usize, n: usize) -> Vec<Exchange> {
    let mut profile = profile_json(if sm2 {
        "pboc3-sm2"
    } else {
        "qpboc-debit-offline"
    });
    let app = &mut profile["applications"][0];
    let pan = if sm2 {
        with_luhn(&format!("621700{issuer:02}{n:010}"))
    } else {
        with_luhn(&format!("622848{issuer:02}{n:07}"))
    };
    app["pan"] = Value::String(pan);
    app["oda"]["issuer_cert_serial"] = Value::String(format!("{:06X}", 0x100 + issuer));
    app["oda"]["icc_cert_serial"] = Value::String(format!("{:06X}", n + 1));
    let mut card = CardProfile::from_json(&profile.to_string())
        .expect("profile")
        .build()
        .expect("personalisation");
    let mut layer = ApduLayer::new(&mut card);
    layer.record();
    let result = contactless::read_card(config, &input(), &mut layer)
        .expect("card phase")
        .complete(config);
    assert_eq!(
        result.outcome,
        Outcome::Approved,
        "set-up tap: {:?}",
        result.reason
    );
    layer
        .take_log()
        .into_iter()
        .map(|e| Exchange {
            command: e.command,
            response: e.response,
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn run(args: &Args, mix: &str) -> Result<(), String> {
    let sm2_of = |issuer: usize| match mix {
        "rsa" => false,
        "sm2" => true,
        _ => issuer % 2 == 1,
    };
    let issuers = zipf_issuers(args.cards, args.issuers.max(1), args.zipf);
    // Set-up: every card's tap recorded (the simulator's signing happens here).
    let setup_config = config();
    let started = Instant::now();
    let taps: Vec<(usize, Vec<Exchange>)> = issuers
        .iter()
        .enumerate()
        .map(|(n, &issuer)| {
            (
                issuer,
                recorded_tap(&setup_config, sm2_of(issuer), issuer, n),
            )
        })
        .collect();
    let setup = started.elapsed();
    // The stream: a fresh terminal (CA keys never used), every card once.
    let config = config();
    let mut seen = vec![false; args.issuers.max(1)];
    let mut times = Vec::with_capacity(taps.len());
    let mut new_issuer_times = Vec::new();
    for (issuer, exchanges) in taps {
        let mut card = ReplayCard::new(exchanges);
        let start = Instant::now();
        let mut layer = ApduLayer::new(&mut card);
        let result = contactless::read_card(&config, &input(), &mut layer)
            .map_err(|e| format!("card phase: {e}"))?
            .complete(&config);
        let elapsed = start.elapsed();
        if result.outcome != Outcome::Approved {
            return Err(format!("tap not approved: {:?}", result.reason));
        }
        if std::mem::replace(&mut seen[issuer], true) {
            times.push(elapsed);
        } else {
            new_issuer_times.push(elapsed);
        }
    }
    let mut all: Vec<Duration> = times.iter().chain(&new_issuer_times).copied().collect();
    all.sort_unstable();
    times.sort_unstable();
    let first_median = {
        let mut t = new_issuer_times.clone();
        t.sort_unstable();
        percentile(&t, 0.5)
    };
    println!(
        "{mix:<6} {} taps ({} issuers, Zipf s = {}): median {}, p99 {}, max {} \
         | known issuer: median {}, p99 {} | first tap of an issuer ({}): median {} \
         | set-up {:.1} s",
        all.len(),
        args.issuers,
        args.zipf,
        micros(percentile(&all, 0.5)),
        micros(percentile(&all, 0.99)),
        micros(percentile(&all, 1.0)),
        micros(percentile(&times, 0.5)),
        micros(percentile(&times, 0.99)),
        new_issuer_times.len(),
        micros(first_median),
        setup.as_secs_f64(),
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mixes: Vec<&str> = match args.mix.as_str() {
        "all" => vec!["rsa", "sm2", "mixed"],
        "rsa" => vec!["rsa"],
        "sm2" => vec!["sm2"],
        "mixed" => vec!["mixed"],
        other => {
            eprintln!("--mix: expected rsa, sm2, mixed or all, not {other:?}");
            return ExitCode::from(2);
        }
    };
    if args.cards == 0 {
        eprintln!("--cards: at least 1");
        return ExitCode::from(2);
    }
    for mix in mixes {
        if let Err(e) = run(&args, mix) {
            eprintln!("{mix}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
