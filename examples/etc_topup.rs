//! An ETC top-up machine: loads (圈存) an ETC user card through the issuer host
//! (`quickpass::kernel::purse::load`, pboc-notes §4.5), with a write-ahead journal and
//! torn-load recovery.
//!
//! ```sh
//! cargo run --example etc_topup -- [--amount N] [--taps N] [--tear-after K] [--json]
//!                                  [--profile PATH] [--reader NAME] [--sam-reader NAME]
//!                                  [--journal PATH | --store PATH]
//!                                  [--load-key HEX | --host-keys PATH]
//!                                  [--exchange-deadline-ms MS] [--tap-deadline-ms MS]
//! ```
//!
//! By default the card is the simulated ETC user card (`vectors/cards/etc-user-card.json`), the
//! host the simulated issuer holding that profile's keys, and the terminal number comes from the
//! simulated PSAM's EF16 (`vectors/cards/psam.json`); `--reader` / `--sam-reader` use PC/SC
//! readers instead (build with `--features pcsc`; the host stays the simulated one). The flags
//! are a contract for outside scripts: `--amount N` (minor units), `--reader NAME`,
//! `--sam-reader NAME`, `--profile PATH`, `--json` (one JSON object per transaction: `result` =
//! `loaded` | `declined` | `recovered` | `torn` | …, `amount`, `balance_before`,
//! `balance_after`, `tac` (hex or null), `apdus`), plus `--taps N` (default 1), `--tear-after K`
//! (the card leaves after the K-th APDU of the first tap; the next tap recovers), `--journal
//! PATH` (JSON file journal) or `--store PATH` (the terminal's SQLite store,
//! `quickpass::store`; the two conflict; either is opened and written before the first tap, and
//! one that cannot be written, or a store another process holds, exits 1),
//! `--exchange-deadline-ms MS` (default 2000) and `--tap-deadline-ms MS` (default 0:
//! none — the issuer host's answer comes in the middle of the tap, so its own timeout, not the
//! card's, bounds a top-up; set one when the host is fast and local) for PC/SC readers, and
//! `--help`. Exit status: 0 after the taps, 1 when the set-up fails or a load's record could
//! not be written to the journal by the end (`loaded_unrecorded`, retried before every tap), 2
//! on bad arguments.
//!
//! Keying the simulated issuer host for a tester's own purse card (by default it holds the
//! profile's master keys):
//!
//! - `--load-key HEX`: the card's own load key (DLK, 16 bytes, already diversified), for the
//!   card's first key index. The host then cannot check the load TAC (no TAC key): the record
//!   says `tac_verified: false`, for the clearing side to check.
//! - `--host-keys PATH`: issuer master keys, diversified per card as the simulated issuer does
//!   (`quickpass_sim::purse::keys::card_key`: `3DES_MK(D) ‖ 3DES_MK(NOT D)` with the 8-byte
//!   application serial of EF15 bytes 12–19, after a first step with EF15 bytes 0–7 for
//!   two-level cards such as ETC). The file (`quickpass-host-keys/1`):
//!
//!   ```json
//!   {
//!     "schema": "quickpass-host-keys/1",
//!     "key_sets": [
//!       { "index": 1, "load": "32 hex digits", "tac": "32 hex digits", "diversify": true }
//!     ]
//!   }
//!   ```
//!
//!   `index` is the card key index, `load` the load master key (MLK, optional: without it that
//!   index cannot load), `tac` the TAC master key (MTK), `diversify` (default `true`) `false`
//!   when the keys are the card's own. Keys are test keys: never put production keys in a file.

#[macro_use]
mod stdout;
mod deadlines;

use std::convert::Infallible;
use std::process::ExitCode;

mod common;

#[cfg(not(feature = "pcsc"))]
use common::pcsc_unavailable;
use common::{application, open_journal, report_tap, total, CardLink, SamLink, Unrecorded};
#[cfg(feature = "pcsc")]
use common::{pcsc_card, pcsc_link};
use quickpass::crypto::purse::LoadTacData;
use quickpass::crypto::secret::SecretKey;
use quickpass::kernel::purse::sam::TacCheck;
use quickpass::kernel::purse::{
    load, CardIdentity, Host, HostDecision, LoadAuthorisation, LoadRequest, LoadReversal, Psam,
    PurseConfig, Sam, SelectBy,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::PurseAmount;
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::host::purse::{HostKeySet, PurseHost};
use quickpass_sim::{ApplicationProfile, CardProfile};

const DEFAULT_PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/vectors/cards/etc-user-card.json"
);
const PSAM_PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/cards/psam.json");

/// An ETC top-up machine: PBOC ED/EP load through the issuer host, torn-load recovery.
#[derive(clap::Parser)]
#[command(name = "etc_topup")]
struct Options {
    /// Amount to load in fen.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    amount: u32,
    /// Taps to run (at least 2 with --tear-after).
    #[arg(long, value_name = "N", default_value_t = 1)]
    taps: u32,
    /// The card leaves after the K-th APDU of the first tap; the next tap recovers.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with = "reader")]
    tear_after: Option<u64>,
    /// Card profile.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PROFILE)]
    profile: std::path::PathBuf,
    /// PC/SC reader of the card (default: the simulated card).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// PC/SC reader of the PSAM giving the terminal number (default: simulated).
    #[arg(long, value_name = "NAME")]
    sam_reader: Option<String>,
    /// Journal file (default: in memory).
    #[arg(long, value_name = "PATH")]
    journal: Option<std::path::PathBuf>,
    /// The terminal's store (SQLite): purse journal and settlement records.
    #[arg(long, value_name = "PATH", conflicts_with = "journal")]
    store: Option<std::path::PathBuf>,
    /// The card's own (diversified) 16-byte load key for the simulated issuer.
    #[arg(long, value_name = "HEX", conflicts_with = "host_keys")]
    load_key: Option<String>,
    /// Issuer master keys for the simulated issuer (quickpass-host-keys/1 JSON).
    #[arg(long, value_name = "PATH")]
    host_keys: Option<std::path::PathBuf>,
    /// One JSON object per transaction.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    deadlines: Deadlines,
}

/// No tap deadline by default: the host's round trip is inside the tap (see the module).
type Deadlines = deadlines::Deadlines<0>;

// --- the issuer host ---------------------------------------------------------------------------

/// The simulated issuer host, keyed from the profile, `--load-key` or `--host-keys`.
struct IssuerHost {
    host: PurseHost,
    /// Whether the host holds the TAC key (not with `--load-key`): without it the load TAC is
    /// left to the clearing side instead of being refused.
    tac_key: bool,
}

/// One key set of a `quickpass-host-keys/1` file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySetFile {
    index: u8,
    #[serde(default)]
    load: Option<String>,
    tac: String,
    #[serde(default = "yes")]
    diversify: bool,
}

/// A `quickpass-host-keys/1` file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostKeysFile {
    schema: String,
    key_sets: Vec<KeySetFile>,
}

fn yes() -> bool {
    true
}

/// A 16-byte key from hex; the message never repeats the text (it is a key).
fn key16(text: &str, what: &str) -> Result<SecretKey, String> {
    match hex::decode(text.trim()) {
        Ok(mut bytes) if bytes.len() == 16 => {
            let key = SecretKey::new(&bytes);
            bytes.fill(0);
            Ok(key)
        }
        Ok(bytes) => Err(format!("{what}: {} bytes, expected 16", bytes.len())),
        Err(_) => Err(format!("{what}: not hex")),
    }
}

impl IssuerHost {
    fn with_load_key(index: u8, text: &str) -> Result<IssuerHost, String> {
        let mut host = PurseHost::new();
        host.add_key_set(HostKeySet {
            index,
            load: Some(key16(text, "--load-key")?),
            // Never used: the TAC is not checked without the TAC key (`tac_key: false`).
            tac: SecretKey::new(&[0; 16]),
            diversify: false,
        });
        Ok(IssuerHost {
            host,
            tac_key: false,
        })
    }

    fn from_file(file_path: &std::path::Path) -> Result<IssuerHost, String> {
        let path = file_path.display();
        let text = std::fs::read_to_string(file_path).map_err(|e| format!("{path}: {e}"))?;
        // serde_json's message may quote a value (a key written as a number): say where only.
        let file: HostKeysFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{path}: not a quickpass-host-keys/1 file (line {} column {})",
                e.line(),
                e.column()
            )
        })?;
        if file.schema != "quickpass-host-keys/1" {
            return Err(format!(
                "{path}: schema {:?}, expected quickpass-host-keys/1",
                file.schema
            ));
        }
        let mut host = PurseHost::new();
        for (i, set) in file.key_sets.iter().enumerate() {
            let what = |name: &str| format!("{path}: key_sets[{i}].{name}");
            host.add_key_set(HostKeySet {
                index: set.index,
                load: set
                    .load
                    .as_deref()
                    .map(|k| key16(k, &what("load")))
                    .transpose()?,
                tac: key16(&set.tac, &what("tac"))?,
                diversify: set.diversify,
            });
        }
        Ok(IssuerHost {
            host,
            tac_key: true,
        })
    }
}

impl Host for IssuerHost {
    type Error = Infallible;

    fn authorise_load(&mut self, request: &LoadAuthorisation) -> Result<HostDecision, Infallible> {
        Host::authorise_load(&mut self.host, request)
    }

    fn reverse_load(&mut self, reversal: &LoadReversal) -> Result<(), Infallible> {
        Host::reverse_load(&mut self.host, reversal)
    }

    fn check_load_tac(
        &mut self,
        card: &CardIdentity,
        key_index: u8,
        data: &LoadTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, Infallible> {
        if self.tac_key {
            Host::check_load_tac(&mut self.host, card, key_index, data, tac)
        } else {
            Ok(TacCheck::Unavailable)
        }
    }
}

// --- reporting -----------------------------------------------------------------------------

fn run(options: Options) -> Result<(), String> {
    let profile =
        CardProfile::load(&options.profile).map_err(|e| quickpass::report::error_chain(&e))?;
    let Some(ApplicationProfile::Purse(purse)) = profile.applications.first() else {
        return Err(format!(
            "{}: the first application is not a purse",
            options.profile.display()
        ));
    };
    let (app, psam_df) = application(purse)?;
    let key_index = purse.keys.first().map_or(1, |k| k.index);
    let mut host = match (&options.load_key, &options.host_keys) {
        (Some(hex_key), _) => IssuerHost::with_load_key(key_index, hex_key)?,
        (None, Some(path)) => IssuerHost::from_file(path)?,
        (None, None) => IssuerHost {
            host: PurseHost::from_purse_profile(purse, "applications[0]")
                .map_err(|e| format!("{}: {e}", options.profile.display()))?,
            tac_key: true,
        },
    };

    let mut card = ApduLayer::new(match &options.reader {
        None => CardLink::Virtual(FaultyCard::new(
            profile
                .build()
                .map_err(|e| format!("{}: {e}", options.profile.display()))?,
        )),
        #[cfg(feature = "pcsc")]
        Some(reader) => pcsc_card(
            reader,
            options.deadlines.exchange(),
            options.deadlines.tap(),
        )?,
        #[cfg(not(feature = "pcsc"))]
        Some(_) => return Err(pcsc_unavailable("--reader")),
    });
    let sam_link = match &options.sam_reader {
        None => SamLink::Virtual(
            CardProfile::load(PSAM_PROFILE)
                .and_then(|p| p.build())
                .map_err(|e| format!("{PSAM_PROFILE}: {e}"))?,
        ),
        #[cfg(feature = "pcsc")]
        Some(reader) => SamLink::Pcsc(pcsc_link(reader, options.deadlines.exchange())?),
        #[cfg(not(feature = "pcsc"))]
        Some(_) => return Err(pcsc_unavailable("--sam-reader")),
    };
    let terminal_id = Psam::open(sam_link, &SelectBy::FileId(psam_df))
        .map_err(|e| format!("PSAM: {e}"))?
        .terminal_id();
    let mut journal = open_journal(options.journal.as_deref(), options.store.as_deref())?;
    let config = PurseConfig::new(app);
    if !options.json {
        outln!("top-up terminal {}", hex::encode_upper(terminal_id));
    }
    let mut unrecorded = Unrecorded::default();
    for tap in 1..=options.taps {
        unrecorded.retry(&mut *journal);
        card.transport_mut().present()?;
        if let (1, Some(k), Some(faulty)) = (tap, options.tear_after, card.transport_mut().faulty())
        {
            let at = faulty.offered() + k;
            faulty.plan(Trigger::Apdu(at), Fault::TearAfter);
        }
        let start = card.counters().apdus_sent;
        let (date, time) = quickpass::clock::now();
        let request = LoadRequest {
            amount: PurseAmount::from_fen(options.amount),
            terminal_id,
            key_index,
            date,
            time,
        };
        let result = load(&mut card, &mut host, &mut *journal, &config, &request);
        if let Some(faulty) = card.transport_mut().faulty() {
            faulty.clear_plan();
        }
        let apdus = card.counters().apdus_sent - start;
        unrecorded.keep(&result);
        let pending = journal.pending();
        let torn_entry = match &result {
            Err(_) => pending.last(),
            Ok(_) => None,
        };
        report_tap(
            tap,
            &result,
            apdus,
            PurseAmount::from_fen(options.amount),
            options.json,
            false,
            torn_entry,
        );
        card.transport_mut().away()?;
    }
    if !options.json {
        let records = journal.records();
        let settled_total = total(
            records
                .iter()
                .filter(|r| r.status.is_settled())
                .map(|r| r.amount),
        );
        outln!(
            "settlement: {} records, {} loaded, {} pending",
            records.len(),
            settled_total,
            journal.pending().len()
        );
    }
    unrecorded.finish(&mut *journal)
}

fn main() -> ExitCode {
    let mut options = <Options as clap::Parser>::parse();
    if options.tear_after.is_some() {
        // The torn first tap is recovered by the second.
        options.taps = options.taps.max(2);
    }
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etc_topup: {e}");
            ExitCode::from(1)
        }
    }
}
