//! `quickpass reader-bench`: the APDU round-trip latency of a reader, measured with N SELECT
//! PPSE commands (a command every card answers quickly, with or without a PPSE).

use std::time::Duration;

/// Latency statistics of N round trips, in microseconds.
#[cfg_attr(not(feature = "pcsc"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Number of samples.
    pub samples: usize,
    /// Fastest round trip.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// Slowest round trip.
    pub max: f64,
}

#[cfg_attr(not(feature = "pcsc"), allow(dead_code))]
impl Stats {
    /// From the measured durations; `None` without samples.
    pub fn new(mut samples: Vec<Duration>) -> Option<Stats> {
        samples.sort_unstable();
        let n = samples.len();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let rank = |q: f64| us(samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1]);
        (n > 0).then(|| Stats {
            samples: n,
            min: us(samples[0]),
            median: if n % 2 == 1 {
                us(samples[n / 2])
            } else {
                (us(samples[n / 2 - 1]) + us(samples[n / 2])) / 2.0
            },
            p90: rank(0.9),
            max: us(samples[n - 1]),
        })
    }
}

/// Runs the benchmark on `reader` (or the first reader with a card) and prints the result.
#[cfg(feature = "pcsc")]
pub fn run(reader: Option<&str>, n: u32, json: bool) -> Result<(), String> {
    use quickpass::kernel::apdu::Command;
    use quickpass::kernel::transport::Transport;
    use quickpass::pcsc::PcscTransport;
    use std::time::Instant;

    let name = match reader {
        Some(reader) => reader.to_owned(),
        None => {
            let pcsc = PcscTransport::new().map_err(crate::error_chain)?;
            let names = pcsc.list_readers().map_err(crate::error_chain)?;
            names
                .into_iter()
                .find(|r| pcsc.wait_for_card(r, Duration::ZERO).is_ok())
                .ok_or("no reader has a card; name one with --reader")?
        }
    };
    let mut transport = crate::reader::open(&name, None)?;
    let command = Command::select_ppse().to_bytes();
    let mut samples = Vec::with_capacity(n as usize);
    let mut last_sw = String::new();
    for _ in 0..n {
        let start = Instant::now();
        let response = transport
            .transmit(&command)
            .map_err(|e| format!("{name}: {}", crate::error_chain(e)))?;
        samples.push(start.elapsed());
        last_sw = hex::encode_upper(&response[response.len().saturating_sub(2)..]);
    }
    let stats = Stats::new(samples).ok_or("no sample")?;
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "reader": name,
                "command": "SELECT PPSE",
                "sw": last_sw,
                "samples": stats.samples,
                "unit": "us",
                "min": stats.min,
                "median": stats.median,
                "p90": stats.p90,
                "max": stats.max,
            })
        );
    } else {
        outln!("reader   {name}");
        outln!(
            "command  SELECT PPSE (last SW {last_sw}), {} round trips",
            stats.samples
        );
        outln!(
            "{:>10} {:>10} {:>10} {:>10}",
            "min µs",
            "median µs",
            "p90 µs",
            "max µs"
        );
        outln!(
            "{:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            stats.min,
            stats.median,
            stats.p90,
            stats.max
        );
    }
    Ok(())
}

/// Without PC/SC there is no reader to measure.
#[cfg(not(feature = "pcsc"))]
pub fn run(_reader: Option<&str>, _n: u32, _json: bool) -> Result<(), String> {
    Err(crate::reader::NO_PCSC.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        let samples = (1..=10u64).rev().map(Duration::from_micros).collect();
        let stats = Stats::new(samples).unwrap();
        assert_eq!(stats.samples, 10);
        assert_eq!((stats.min, stats.max), (1.0, 10.0));
        assert_eq!(stats.median, 5.5);
        assert_eq!(stats.p90, 9.0);
        assert!(Stats::new(Vec::new()).is_none());
    }
}
