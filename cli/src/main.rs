//! `quickpass`: the project's command-line tool.
//!
//! ```text
//! quickpass readers [--json]
//! quickpass tap [--reader NAME | --profile PATH] [--amount N] [--date YYMMDD] [--un HEX]
//!               [--capk-file PATH]... [--config PATH] [--test-keys] [--json]
//!               [--exchange-deadline-ms MS] [--tap-deadline-ms MS]
//! quickpass dump [--reader NAME | --profile PATH] [--json]
//! quickpass reader-bench [--reader NAME] [-n N] [--json]
//! quickpass serve-card [--profile PATH] [--port N]
//! quickpass conformance PATH...
//! quickpass deny-list build --salt HEX --list-version N --pans FILE --out PATH
//! quickpass deny-list delta --salt HEX --base-version N --list-version N [--add FILE]
//!                           [--remove FILE] --out PATH
//! quickpass deny-list inspect PATH [--delta PATH]... [--json]
//! ```
//!
//! `--profile` runs against a simulated card (signed by the simulator's test CA, which is then
//! trusted); `--reader` against a PC/SC reader (feature `pcsc`, on by default), checked against
//! the production CA keys only unless `--test-keys`. Output never shows a PAN, track 2 or key in
//! clear: card data goes through the kernel's masking dump.

// The examples' standard output (a broken pipe ends the program quietly), one copy for both.
#[macro_use]
#[path = "../../examples/stdout/mod.rs"]
mod stdout;

// The PC/SC deadline flags, shared with the examples.
#[path = "../../examples/deadlines/mod.rs"]
mod deadlines;

mod bench;
mod card_dump;
mod deny_list;
mod tap;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use quickpass::kernel::values::Amount;

/// The quickpass command-line tool: PC/SC readers, card dumps, contactless taps, simulated
/// cards and conformance vectors.
#[derive(Debug, Parser)]
#[command(name = "quickpass", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Lists the PC/SC readers and the card in each (present, ATR).
    Readers {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// One qPBOC/EMV contactless transaction (as `examples/transact.rs`).
    Tap(TapArgs),
    /// Everything a card shows without a transaction (directories, FCIs, records, logs,
    /// balances), sensitive values masked.
    Dump {
        #[command(flatten)]
        card: CardSource,
        /// Terminal configuration (for the PDOL of the reading GPO).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// APDU round-trip latency of a reader: N SELECT PPSE commands.
    ReaderBench {
        /// The PC/SC reader (default: the first one with a card).
        #[arg(long, value_name = "NAME")]
        reader: Option<String>,
        /// Number of SELECT PPSE commands.
        #[arg(short = 'n', default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        n: u32,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serves a simulated card to pcscd through vsmartcard's vpcd driver until killed.
    ServeCard {
        /// Card profile (quickpass-card/1 JSON); default the offline-capable debit card.
        #[arg(long, value_name = "PATH")]
        profile: Option<PathBuf>,
        /// vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01".
        #[arg(long, default_value_t = quickpass_sim::vpcd::DEFAULT_PORT,
              value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Runs quickpass-vectors/1 files (files or directories): PASS/FAIL per case, then
    /// `N passed, M failed`; exit status 1 when any failed.
    Conformance {
        /// Vector files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Deny lists for a transit back office: hash PANs into a list or a delta, check a file
    /// (format quickpass-deny-list/1, docs/deny-list.md).
    DenyList {
        #[command(subcommand)]
        command: deny_list::Command,
    },
}

/// Where the card is: a PC/SC reader or a simulated card profile.
#[derive(Debug, Args)]
struct CardSource {
    /// A PC/SC reader by name (waits up to 30 s for a card).
    #[arg(long, value_name = "NAME", conflicts_with = "profile")]
    reader: Option<String>,
    /// A simulated card profile (default vectors/cards/qpboc-debit-offline.json).
    #[arg(long, value_name = "PATH")]
    profile: Option<PathBuf>,
}

/// The flags of `tap`, those of `examples/transact.rs`.
#[derive(Debug, Args)]
struct TapArgs {
    #[command(flatten)]
    card: CardSource,
    /// Amount authorised, minor units.
    #[arg(long, default_value_t = 100, value_parser = amount)]
    amount: u64,
    /// Transaction date YYMMDD (default today, China time).
    #[arg(long, value_name = "YYMMDD")]
    date: Option<String>,
    /// Fixed unpredictable number, 4 bytes of hex.
    #[arg(long, value_name = "HEX")]
    un: Option<String>,
    /// Extra CA keys (quickpass-vectors/1 capk format), added to vectors/capk/.
    #[arg(long = "capk-file", value_name = "PATH")]
    capk_files: Vec<PathBuf>,
    /// Terminal configuration (default vectors/terminals/default.json).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Trust the simulator's TEST CA for a card in a reader (a test card; never a real one).
    #[arg(long)]
    test_keys: bool,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    deadlines: Deadlines,
}

/// A tap's deadline with a card in a reader: three seconds is six times the 500 ms the field
/// allows a tap, yet short enough that a stuck card does not hang the tool.
type Deadlines = deadlines::Deadlines<3000>;

fn amount(text: &str) -> Result<u64, String> {
    let value: u64 = text.parse().map_err(|e| format!("{e}"))?;
    Amount::from_minor(value)
        .map(|_| value)
        .map_err(|e| format!("minor units, at most 999999999999: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Readers { json } => readers(json),
        Commands::Tap(args) => tap_command(&args),
        Commands::Dump { card, config, json } => dump_command(&card, config, json),
        Commands::ReaderBench { reader, n, json } => bench::run(reader.as_deref(), n, json),
        Commands::ServeCard { profile, port } => serve_card(profile, port),
        Commands::Conformance { paths } => return conformance(&paths),
        Commands::DenyList { command } => deny_list::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickpass: {message}");
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once (`a: b: c`).
pub(crate) fn error_chain(error: impl std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn default_profile() -> PathBuf {
    quickpass_sim::data::card_profile("qpboc-debit-offline")
}

fn simulated_card(path: Option<PathBuf>) -> Result<quickpass_sim::VirtualCard, String> {
    let path = path.unwrap_or_else(default_profile);
    let profile =
        quickpass_sim::CardProfile::load(&path).map_err(|e| quickpass::report::error_chain(&e))?;
    profile
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn tap_command(args: &TapArgs) -> Result<(), String> {
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(quickpass_sim::data::default_terminal);
    let on_reader = args.card.reader.is_some();
    if on_reader && args.test_keys {
        eprintln!(
            "warning: --test-keys: the simulator's TEST CA (private key public) is trusted \
             for this card; never use this with a real payment card"
        );
    }
    let config = tap::kernel_config(&config_path, &args.capk_files, !on_reader || args.test_keys)?;
    let input = tap::input(args.amount, args.date.as_deref(), args.un.as_deref())?;
    let result = match &args.card.reader {
        Some(reader) => {
            let mut transport = reader::open(reader, Some(&args.deadlines))?;
            tap::tap(&mut transport, &config, &input)
        }
        None => {
            let mut card = simulated_card(args.card.profile.clone())?;
            tap::tap(&mut card, &config, &input)
        }
    };
    if args.json {
        outln!("{}", quickpass_sim::tap_report::json(&result, &config));
    } else {
        out!("{}", quickpass_sim::tap_report::text(&result));
    }
    Ok(())
}

fn dump_command(card: &CardSource, config: Option<PathBuf>, json: bool) -> Result<(), String> {
    let config_path = config.unwrap_or_else(quickpass_sim::data::default_terminal);
    // Reading needs no CA key: nothing is authenticated.
    let config = quickpass::setup::load_terminal_config(&config_path).map_err(error_chain)?;
    let input = tap::input(0, None, None)?;
    let value = match &card.reader {
        Some(reader) => card_dump::read(reader::open(reader, None)?, &config, &input),
        None => card_dump::read(simulated_card(card.profile.clone())?, &config, &input),
    };
    if json {
        outln!("{value}");
    } else {
        card_dump::print(&value);
    }
    Ok(())
}

fn conformance(paths: &[PathBuf]) -> ExitCode {
    let report = quickpass_sim::conformance::run_paths(paths);
    for line in report.lines() {
        outln!("{line}");
    }
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn serve_card(profile: Option<PathBuf>, port: u16) -> Result<(), String> {
    use quickpass_sim::vpcd::{self, Event, Server};
    use std::sync::atomic::AtomicBool;

    let path = profile.unwrap_or_else(default_profile);
    let loaded =
        quickpass_sim::CardProfile::load(&path).map_err(|e| quickpass::report::error_chain(&e))?;
    let mut card = loaded
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let addr = vpcd::localhost(port);
    let reader = match port {
        vpcd::DEFAULT_PORT => "\"Virtual PCD 00 00\"",
        vpcd::SECOND_PORT => "\"Virtual PCD 00 01\"",
        _ => "the vpcd reader configured for this port",
    };
    outln!(
        "serving card {:?} ({}) from {}",
        loaded.name,
        if loaded.description.is_empty() {
            "no description"
        } else {
            &loaded.description
        },
        path.display()
    );
    outln!(
        "  ATR {}, {} application(s); vpcd at {addr}, reader {reader}",
        hex::encode_upper(card.atr()),
        loaded.applications.len(),
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
    Ok(())
}

#[cfg(feature = "pcsc")]
fn readers(json: bool) -> Result<(), String> {
    use quickpass::pcsc::{PcscError, PcscTransport};
    let pcsc = PcscTransport::new().map_err(error_chain)?;
    let names = pcsc.list_readers().map_err(error_chain)?;
    let mut list = Vec::new();
    for name in names {
        let (present, atr) = match pcsc.wait_for_card(&name, std::time::Duration::ZERO) {
            Ok(atr) => (true, Some(hex::encode_upper(atr))),
            Err(PcscError::Timeout | PcscError::UnknownReader) => (false, None),
            Err(e) => return Err(format!("{name}: {}", error_chain(e))),
        };
        list.push(serde_json::json!({ "name": name, "card_present": present, "atr": atr }));
    }
    if json {
        outln!("{}", serde_json::json!({ "readers": list }));
    } else if list.is_empty() {
        outln!("no PC/SC reader");
    } else {
        for reader in &list {
            outln!(
                "{}  {}",
                reader["name"].as_str().unwrap_or("-"),
                match reader["atr"].as_str() {
                    Some(atr) => format!("card present, ATR {atr}"),
                    None => "no card".to_owned(),
                }
            );
        }
    }
    Ok(())
}

#[cfg(not(feature = "pcsc"))]
fn readers(_json: bool) -> Result<(), String> {
    Err(reader::NO_PCSC.into())
}

/// Opening a card in a PC/SC reader.
#[cfg(feature = "pcsc")]
mod reader {
    use quickpass::pcsc::PcscTransport;

    use crate::error_chain;

    /// Waits (30 s at most) for a card in `reader` and connects to it, with `deadlines` (the
    /// transport's defaults when `None`: 2 s per exchange, no tap deadline).
    pub fn open(
        reader: &str,
        deadlines: Option<&crate::Deadlines>,
    ) -> Result<PcscTransport, String> {
        let mut transport = PcscTransport::new().map_err(error_chain)?;
        if let Some(deadlines) = deadlines {
            deadlines.apply_to_card(&mut transport);
        }
        transport
            .wait_for_card(reader, std::time::Duration::from_secs(30))
            .map_err(|e| format!("{reader}: {}", error_chain(e)))?;
        transport
            .connect(reader)
            .map_err(|e| format!("{reader}: {}", error_chain(e)))?;
        Ok(transport)
    }
}

/// Without PC/SC every reader operation says how to get it.
#[cfg(not(feature = "pcsc"))]
mod reader {
    /// Why a reader cannot be used.
    pub const NO_PCSC: &str = "PC/SC readers need the pcsc feature (on by default)";

    /// Always refused without the `pcsc` feature.
    pub fn open(
        _reader: &str,
        _deadlines: Option<&crate::Deadlines>,
    ) -> Result<quickpass_sim::VirtualCard, String> {
        Err(NO_PCSC.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tap_takes_the_transact_flags() {
        let cli = Cli::try_parse_from([
            "quickpass",
            "tap",
            "--reader",
            "R",
            "--amount",
            "60000",
            "--date",
            "261207",
            "--un",
            "01020304",
            "--capk-file",
            "a.json",
            "--capk-file",
            "b.json",
            "--config",
            "t.json",
            "--test-keys",
            "--json",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Commands::Tap(args) = cli.command else {
            panic!("not tap")
        };
        assert_eq!(args.card.reader.as_deref(), Some("R"));
        assert_eq!(args.amount, 60000);
        assert_eq!(args.capk_files.len(), 2);
        assert!(args.test_keys && args.json);
        // A reader and a profile exclude each other; amounts beyond n12 are refused.
        assert!(
            Cli::try_parse_from(["quickpass", "tap", "--reader", "R", "--profile", "p"]).is_err()
        );
        assert!(Cli::try_parse_from(["quickpass", "tap", "--amount", "1000000000000"]).is_err());
        assert!(Cli::try_parse_from(["quickpass", "reader-bench", "-n", "0"]).is_err());
    }

    /// The deny-list flags are a contract (docs/deny-list.md): these spellings must keep parsing.
    #[test]
    fn deny_list_flags() {
        let salt = "276245CEEEFA926C9FD9C1F6FD9FF9F6";
        let parse = |args: &[&str]| {
            Cli::try_parse_from([&["quickpass", "deny-list"], args].concat()).map(|cli| cli.command)
        };
        let build = parse(&[
            "build",
            "--salt",
            salt,
            "--list-version",
            "3",
            "--pans",
            "-",
            "--out",
            "o",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            build,
            Commands::DenyList {
                command: deny_list::Command::Build {
                    list_version: 3,
                    ..
                }
            }
        ));
        let delta = parse(&[
            "delta",
            "--salt",
            salt,
            "--base-version",
            "3",
            "--list-version",
            "4",
            "--add",
            "a",
            "--remove",
            "r",
            "--out",
            "o",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            delta,
            Commands::DenyList {
                command: deny_list::Command::Delta {
                    base_version: 3,
                    list_version: 4,
                    ..
                }
            }
        ));
        assert!(parse(&["inspect", "l", "--delta", "a", "--delta", "b", "--json"]).is_ok());
        // Required flags, and salts of 16 to 64 bytes of hex.
        assert!(parse(&["build", "--salt", salt, "--pans", "-", "--out", "o"]).is_err());
        for bad in ["00", "XYZ", &"00".repeat(65)] {
            assert!(parse(&[
                "build",
                "--salt",
                bad,
                "--list-version",
                "1",
                "--pans",
                "-",
                "--out",
                "o"
            ])
            .is_err());
        }
    }
}
