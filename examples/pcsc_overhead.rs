//! What the kernel adds to a tap on a real PC/SC stack: whole qPBOC fDDA taps through
//! `PcscTransport` → pcscd → vpcd → the simulated debit card (served on a thread), timing the
//! whole tap and, at the transport boundary, the time spent inside each `transmit`.
//!
//! ```sh
//! . .ci/pcsc.sh; pcsc_start          # pcscd with vsmartcard-vpcd, as .ci/test starts it
//! cargo run --release --features pcsc --example pcsc_overhead -- [--taps N]
//! ```
//!
//! For each tap: the tap time, Σtransmit (the card's time as the terminal sees it: pcscd, vpcd,
//! the sockets and the card's own work, its RSA signature included — the card's share is timed
//! on the card's side and shown apart), and the kernel's overhead (tap − Σtransmit) as a share
//! of the tap. Prints median and p90 of each over `--taps N`
//! (default 200) after 10 warm-up taps. The card is served on the second vpcd slot ("Virtual
//! PCD 00 01", port 35964). Exit status: 0 when every tap was approved, 1 otherwise or when the
//! stack is missing, 2 on bad arguments.

#[macro_use]
mod stdout;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::contactless;
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::Outcome;
use quickpass::kernel::TransactionInput;
use quickpass::pcsc::PcscTransport;
use quickpass_sim::vpcd::{self, VpcdCard};
use quickpass_sim::{CardProfile, VirtualCard};

/// Taps before the measured ones (connection set-up, first-use allocations, caches).
const WARM_UP: usize = 10;
/// 0.01 a tap: the card's EC balance (500.00) lasts 50 000 taps.
const AMOUNT: u64 = 1;

/// Sums the time spent inside `transmit`.
struct Timed<T> {
    inner: T,
    spent: Duration,
}

impl<T: Transport> Transport for Timed<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        let start = Instant::now();
        let response = self.inner.transmit(command);
        self.spent += start.elapsed();
        response
    }
}

/// The served card, summing the nanoseconds it spends processing APDUs (its share of
/// Σtransmit; the rest is pcscd, vpcd and the sockets).
struct TimedCard {
    card: VirtualCard,
    busy_ns: Arc<AtomicU64>,
}

impl VpcdCard for TimedCard {
    fn atr(&self) -> Vec<u8> {
        VpcdCard::atr(&self.card)
    }

    fn reset(&mut self) {
        VpcdCard::reset(&mut self.card);
    }

    fn power_off(&mut self) {
        VpcdCard::power_off(&mut self.card);
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let start = Instant::now();
        let response = self.card.process_apdu(apdu);
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.busy_ns.fetch_add(ns, Ordering::Relaxed);
        response
    }
}

/// Whole qPBOC taps through pcscd + vpcd against the sum of their bare transmits (pcscd with
/// vsmartcard-vpcd running).
#[derive(clap::Parser)]
#[command(name = "pcsc_overhead")]
struct Options {
    /// Measured taps (after 10 warm-up taps).
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..))]
    taps: u64,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    let taps = usize::try_from(options.taps).unwrap_or(usize::MAX);
    match run(taps) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pcsc_overhead: {e}");
            ExitCode::from(1)
        }
    }
}

/// Connects to the served card.
fn connect() -> Result<PcscTransport, String> {
    let mut transport = PcscTransport::new().map_err(|e| format!("pcscd: {e}"))?;
    let reader = transport
        .list_readers()
        .map_err(|e| format!("list readers: {e}"))?
        .into_iter()
        .find(|r| r.starts_with("Virtual PCD") && r.ends_with(" 01"))
        .ok_or("no \"Virtual PCD .. 01\" reader (is pcscd running with vsmartcard-vpcd?)")?;
    transport
        .wait_for_card(&reader, Duration::from_secs(5))
        .map_err(|e| format!("waiting for the card: {e}"))?;
    transport
        .connect(&reader)
        .map_err(|e| format!("connect: {e}"))?;
    Ok(transport)
}

/// One tap's timings.
struct Timing {
    tap: Duration,
    transmit: Duration,
    card: Duration,
}

fn tap(
    transport: &mut PcscTransport,
    card_busy_ns: &AtomicU64,
    config: &KernelConfig,
    n: usize,
) -> Result<Timing, String> {
    let input = TransactionInput {
        amount: Amount::from_minor(AMOUNT).map_err(|e| e.to_string())?,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 11, 28).map_err(|e| e.to_string())?,
        time: TransactionTime::new(8, 30, 0).map_err(|e| e.to_string())?,
        unpredictable_number: (n as u32).to_be_bytes(),
    };
    let card_before = card_busy_ns.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut layer = ApduLayer::new(Timed {
        inner: &mut *transport,
        spent: Duration::ZERO,
    });
    let result = contactless::read_card(config, &input, &mut layer)
        .map_err(|e| format!("tap {n}: {e}"))?
        .complete(config);
    let tap = start.elapsed();
    if result.outcome != Outcome::Approved {
        return Err(format!("tap {n}: {}", result.outcome.as_str()));
    }
    Ok(Timing {
        tap,
        transmit: layer.transport().spent,
        card: Duration::from_nanos(card_busy_ns.load(Ordering::Relaxed) - card_before),
    })
}

/// The value at `fraction` (0.5 = median) of sorted `values`.
fn quantile(values: &mut [f64], fraction: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() - 1) as f64 * fraction).round() as usize;
    values[index]
}

fn run(taps: usize) -> Result<(), String> {
    let config = quickpass_sim::data::default_kernel_config().map_err(|e| e.to_string())?;
    let card =
        CardProfile::load(quickpass_sim::data::data_dir().join("cards/qpboc-debit-offline.json"))
            .and_then(|p| p.build())
            .map_err(|e| e.to_string())?;
    let busy_ns = Arc::new(AtomicU64::new(0));
    let card = TimedCard {
        card,
        busy_ns: Arc::clone(&busy_ns),
    };
    let served = vpcd::spawn(card, vpcd::localhost(vpcd::SECOND_PORT))
        .map_err(|e| format!("card thread: {e}"))?;
    let mut transport = connect()?;

    for n in 0..WARM_UP {
        tap(&mut transport, &busy_ns, &config, n)?;
    }
    let mut timings = Vec::with_capacity(taps);
    for n in WARM_UP..WARM_UP + taps {
        timings.push(tap(&mut transport, &busy_ns, &config, n)?);
    }
    drop(transport);
    drop(served);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut tap_us: Vec<f64> = timings.iter().map(|t| us(t.tap)).collect();
    let mut transmit_us: Vec<f64> = timings.iter().map(|t| us(t.transmit)).collect();
    let mut card_us: Vec<f64> = timings.iter().map(|t| us(t.card)).collect();
    let mut stack_us: Vec<f64> = timings
        .iter()
        .map(|t| us(t.transmit.saturating_sub(t.card)))
        .collect();
    let mut kernel_us: Vec<f64> = timings.iter().map(|t| us(t.tap - t.transmit)).collect();
    let mut share: Vec<f64> = timings
        .iter()
        .map(|t| 100.0 * (t.tap - t.transmit).as_secs_f64() / t.tap.as_secs_f64())
        .collect();
    outln!("{taps} qPBOC fDDA taps (7 APDUs) through pcscd + vpcd, after {WARM_UP} warm-up taps\n");
    outln!("| per tap | median | p90 |");
    outln!("|---|---|---|");
    for (what, values, unit) in [
        ("whole tap", &mut tap_us, "µs"),
        ("Σ transmit (pcscd + vpcd + card)", &mut transmit_us, "µs"),
        ("… of which the card's own work", &mut card_us, "µs"),
        ("… of which pcscd + vpcd + sockets", &mut stack_us, "µs"),
        ("kernel (tap − Σ transmit)", &mut kernel_us, "µs"),
        ("kernel overhead", &mut share, "%"),
    ] {
        outln!(
            "| {what} | {:.1} {unit} | {:.1} {unit} |",
            quantile(values, 0.5),
            quantile(values, 0.9)
        );
    }
    Ok(())
}
