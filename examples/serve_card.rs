//! Puts a simulated card behind pcscd, in a vsmartcard vpcd reader.
//!
//! ```sh
//! cargo run --example serve_card -- [--profile PATH] [--port N]
//! ```
//!
//! Loads a card profile (default `vectors/cards/qpboc-debit-offline.json`), connects to vpcd on
//! `127.0.0.1:PORT` (default 35963, the reader "Virtual PCD 00 00"; 35964 is "Virtual PCD 00
//! 01") and serves the card until killed. Any PC/SC application then sees the card in that
//! reader (`pcsc_scan -r` lists the readers). When pcscd stops or restarts, the card waits and
//! reconnects; its state (balances, counters) lives on in this process. Each APDU is logged as
//! its header, lengths and status word (never the data: responses carry the PAN).
//!
//! The flags are a contract for outside scripts: exactly `--profile` and `--port` (and `--help`).
//! Exit status: 0 on `--help`, 1 when the profile cannot be loaded, 2 on bad arguments.

#[macro_use]
mod stdout;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use quickpass_sim::vpcd::{self, Event, Server};
use quickpass_sim::CardProfile;

const DEFAULT_PROFILE: &str = "vectors/cards/qpboc-debit-offline.json";

/// Serves a simulated card to pcscd through vsmartcard's vpcd driver until killed.
#[derive(Debug, clap::Parser)]
#[command(name = "serve_card")]
struct Options {
    /// Card profile (quickpass-card/1 JSON).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    profile: std::path::PathBuf,
    /// vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01".
    #[arg(long, value_name = "N", default_value_t = vpcd::DEFAULT_PORT,
          value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
}

fn reader_name(port: u16) -> String {
    match port {
        vpcd::DEFAULT_PORT => "\"Virtual PCD 00 00\"".to_owned(),
        vpcd::SECOND_PORT => "\"Virtual PCD 00 01\"".to_owned(),
        _ => "the vpcd reader configured for this port".to_owned(),
    }
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    let profile = match CardProfile::load(&options.profile) {
        Ok(profile) => profile,
        Err(e) => {
            eprintln!("serve_card: {}", quickpass::report::Chain(&e));
            return ExitCode::from(1);
        }
    };
    let mut card = match profile.build() {
        Ok(card) => card,
        Err(e) => {
            eprintln!("serve_card: {}: {e}", options.profile.display());
            return ExitCode::from(1);
        }
    };

    let addr = vpcd::localhost(options.port);
    outln!(
        "serving card {:?} ({}) from {}",
        profile.name,
        if profile.description.is_empty() {
            "no description"
        } else {
            &profile.description
        },
        options.profile.display()
    );
    outln!(
        "  ATR {}, {} application(s); vpcd at {addr}, reader {}",
        hex::encode_upper(card.atr()),
        profile.applications.len(),
        reader_name(options.port)
    );
    outln!("  runs until killed; `pcsc_scan -r` lists the reader");

    // Never set: the process runs until it is killed (the socket then closes: card removed).
    let stop = AtomicBool::new(false);
    let stats = Server::new(addr).serve_with(&mut card, &stop, |event| match event {
        Event::Connected(addr) => outln!("connected to vpcd at {addr}: card inserted"),
        Event::Waiting(error) => {
            outln!("waiting for vpcd at {addr} ({error}); is pcscd running with vsmartcard-vpcd?")
        }
        Event::Disconnected(error) => outln!("pcscd went away ({error}); reconnecting"),
        Event::Control(0x00) => outln!("power off"),
        Event::Control(0x01) => outln!("power on"),
        Event::Control(_) => outln!("reset"),
        // Headers, lengths and status words only: responses carry the PAN and track 2.
        Event::Apdu { command, response } => outln!(
            "> {} ({} B)  < {} ({} B data)",
            hex::encode_upper(&command[..command.len().min(4)]),
            command.len(),
            hex::encode_upper(&response[response.len().saturating_sub(2)..]),
            response.len().saturating_sub(2)
        ),
        _ => {}
    });
    outln!("served {} APDU(s)", stats.apdus);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Options, clap::Error> {
        <Options as clap::Parser>::try_parse_from(
            std::iter::once("serve_card").chain(list.iter().copied()),
        )
    }

    #[test]
    fn flags() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.profile.as_str(), o.port), (DEFAULT_PROFILE, 35963));
        let o = parse(&["--profile", "x.json", "--port", "35964"]).unwrap();
        assert_eq!((o.profile.as_str(), o.port), ("x.json", 35964));
        let o = parse(&["--port=1234"]).unwrap();
        assert_eq!(o.port, 1234);
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
        assert!(parse(&["--port", "0"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--verbose"]).is_err());
    }
}
