//! A metro gate or bus validator for bank cards (issue 11): UnionPay online ODA with a deny list
//! and deferred authorisation, electronic cash offline, or plain online authorisation.
//!
//! ```text
//! cargo run --example transit_gate -- [--mode online-oda|ec|online] [--deny-list PATH]
//!     [--fare N] [--taps N] [--reader NAME] [--profile PATH] [--riders N] [--capk-file PATH]...
//!     [--store PATH] [--json] [--export-batch PATH] [--apply-results PATH]
//!     [--repeat-interval-s S] [--test-keys] [--exchange-deadline-ms MS] [--tap-deadline-ms MS]
//! ```
//!
//! The flags are a contract for outside scripts:
//!
//! - `--mode`: `online-oda` (default; `vectors/terminals/transit.json`: the card is
//!   authenticated offline and accepted for travel, its ARQC kept for the acquirer),
//!   `ec` (an offline-only reader: electronic cash pays with a TC), `online` (the ARQC is
//!   authorised at once, here by the simulated issuer).
//! - `--deny-list PATH`: the deny list (`quickpass-deny-list/1`, see `docs/deny-list.md`), also
//!   where `--apply-results` adds the cards the acquirer declined. The store keeps the list as
//!   well (`Store::save_deny_list`): the newer of the two is used and kept there, so with
//!   `--store` a gate restarted without the file still checks the last list it had.
//! - `--fare N` (minor units, 0 allowed: the back office computes the fare), `--taps N`,
//!   `--reader NAME` (PC/SC; the production CA keys only, unless `--test-keys`), `--profile
//!   PATH` (the simulated card, default `vectors/cards/transit-online-oda.json`), `--riders N`
//!   (N simulated cards made from the profile, PANs varied; tap k presents rider k mod N),
//!   `--capk-file PATH` (extra CA keys).
//! - `--store PATH`: the terminal's store (`quickpass::store`); every accepted tap's record is
//!   written there **before** the gate opens (the JSON line is printed after the commit).
//!   Without it the store is a temporary file, removed at the end.
//! - `--json`: one JSON object per tap: `result` (`accepted`, `declined`, `already_paid`,
//!   `try_again`), `reason`, `oda`, `pan` (masked), `atc`, `deferred` (a record waits for the
//!   acquirer), `apdus`, plus `outcome` (the kernel's) and `record` (the store's record id).
//! - `--export-batch PATH`: after the taps, the deferred authorisations not yet delivered,
//!   as JSON lines (`quickpass::store::Batch::write_json_lines`), marked sent.
//! - `--apply-results PATH`: before the taps, the acquirer's answers, JSON lines
//!   `{"id": N, "decision": "approved" | "declined"}`; a declined card goes on the deny list
//!   in the same store transaction as the decision (`Store::apply_results_to_deny_list`);
//!   needs a deny list (`--deny-list`, rewritten with the next version, or `--store` holding
//!   one).
//! - `--repeat-interval-s S` (default 60, 0 = off): the same card accepted again within S
//!   seconds is `already_paid` and no second record is kept (online-ODA and online modes; in EC
//!   mode the card has paid at GPO before the terminal can know it, so only waiting for the card
//!   to leave protects it there).
//!
//! A tap torn after the card answered its GPO with a TC is completed on the re-tap without a
//! second GPO (`contactless::transact_after_tear`). With a reader, the gate waits for the card to
//! leave before the next tap, however long it stays. Exit status: 0 after the taps, 1 when the
//! set-up fails (profile, configuration, keys, store, deny list, results file), 2 on bad
//! arguments.

#[macro_use]
mod stdout;
mod deadlines;
mod open_store;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use quickpass::kernel::config::{KernelConfig, SharedDenyList, TerminalConfig};
use quickpass::kernel::contactless::{self, TornTap, TransactionResult};
use quickpass::kernel::deny_list::DenyList;
use quickpass::kernel::tags;
use quickpass::kernel::transport::{ApduLayer, Transport};
use quickpass::kernel::values::Amount;
use quickpass::kernel::{Outcome, TransactionInput};
use quickpass::report::error_chain as chain;
use quickpass::store::{CardKey, Created, Decision, RecordKind, Store};
use quickpass_sim::host::emv::EmvHost;
use quickpass_sim::{ApplicationProfile, CardProfile, VirtualCard};

/// A tap's deadline: three seconds is six times the 500 ms the field allows a tap.
type Deadlines = deadlines::Deadlines<3000>;

/// How the gate takes a bank card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// UnionPay online ODA: authenticated offline, accepted for travel, authorised later.
    OnlineOda,
    /// Electronic cash, offline: the card pays with a TC.
    Ec,
    /// Online authorisation at once.
    Online,
}

/// A metro gate / bus validator for bank cards.
#[derive(clap::Parser)]
#[command(name = "transit_gate")]
#[command(group = clap::ArgGroup::new("deny_source").multiple(true).args(["deny_list", "store"]))]
struct Options {
    /// online-oda (deferred authorisation), ec (electronic cash offline) or online.
    #[arg(long, value_enum, default_value_t = Mode::OnlineOda)]
    mode: Mode,
    /// Deny list file (quickpass-deny-list/1).
    #[arg(long, value_name = "PATH")]
    deny_list: Option<PathBuf>,
    /// Fare in minor units (0: the back office computes it).
    #[arg(long, value_name = "N", default_value_t = 0)]
    fare: u64,
    /// Taps to run.
    #[arg(long, value_name = "N", default_value_t = 1)]
    taps: u32,
    /// PC/SC reader of the card (default: the simulated card).
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// Simulated card profile.
    #[arg(long, value_name = "PATH", default_value_os_t = quickpass_sim::data::card_profile("transit-online-oda"))]
    profile: PathBuf,
    /// Simulated riders: N cards made from the profile (PANs varied).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    riders: u32,
    /// Extra CA keys (quickpass-vectors/1 capk format).
    #[arg(long = "capk-file", value_name = "PATH")]
    capk_files: Vec<PathBuf>,
    /// The terminal's store (default: a temporary one, removed at the end).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// One JSON object per tap.
    #[arg(long)]
    json: bool,
    /// Write the undelivered deferred authorisations (JSON lines) here after the taps.
    #[arg(long, value_name = "PATH")]
    export_batch: Option<PathBuf>,
    /// Apply the acquirer's answers (JSON lines) before the taps (needs a deny list: the file,
    /// or the one in the store).
    #[arg(long, value_name = "PATH", requires = "deny_source")]
    apply_results: Option<PathBuf>,
    /// The same card accepted again within S seconds is already_paid (0: off).
    #[arg(long, value_name = "S", default_value_t = 60)]
    repeat_interval_s: u32,
    /// Trust the simulator's TEST CA for a card in a reader (a test card only).
    #[arg(long)]
    test_keys: bool,
    #[command(flatten)]
    deadlines: Deadlines,
}

fn main() -> ExitCode {
    let options = <Options as clap::Parser>::parse();
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("transit_gate: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let mut open = open_store::open_store(options.store.as_deref(), "transit-gate")?;
    let mut deny_list = deny_list(&mut open.store, options)?;
    if let Some(path) = &options.apply_results {
        let list = deny_list.as_mut().ok_or_else(|| {
            "--apply-results: no deny list (give --deny-list, or a --store holding one)".to_owned()
        })?;
        apply_results(&mut open.store, path, list, options)?;
    }
    let mut config = kernel_config(options)?;
    config.deny_list = deny_list.clone().map(|list| SharedDenyList(Arc::new(list)));
    let mut riders = Riders::new(&options.profile, options.riders)?;
    let mut issuer = EmvHost::new();
    if options.mode == Mode::Online {
        riders.add_to(&mut issuer)?;
    }
    let mut gate = Gate {
        config,
        deny_list,
        store: &mut open.store,
        torn: None,
        recent: HashMap::new(),
        issuer,
        options,
    };
    for tap in 1..=options.taps {
        gate.tap(tap, &mut riders)?;
    }
    if let Some(path) = &options.export_batch {
        export_batch(gate.store, path, options.json)?;
    }
    Ok(())
}

/// The terminal configuration of a mode, with the production CA keys (+ the test CA for the
/// simulated cards).
fn kernel_config(options: &Options) -> Result<KernelConfig, String> {
    let data = quickpass_sim::data::data_dir().join("terminals");
    let file = match options.mode {
        Mode::OnlineOda => data.join("transit.json"),
        Mode::Ec | Mode::Online => data.join("default.json"),
    };
    let mut capk_files = quickpass_sim::data::production_capk_files().map_err(|e| chain(&e))?;
    capk_files.extend(options.capk_files.iter().cloned());
    let loaded = quickpass::setup::load_kernel_config(&file, &capk_files).map_err(|e| chain(&e))?;
    let mut config = loaded.config;
    let mut parts = config.terminal.parts().clone();
    match options.mode {
        Mode::OnlineOda => {}
        // An offline-only validator: electronic cash or nothing.
        Mode::Ec => {
            parts.terminal.online_capable = false;
            parts.terminal.contact_supported = false;
            parts.terminal.ttq = None;
        }
        // Every tap asks for an online cryptogram.
        Mode::Online => {
            for aid in &mut parts.aids {
                aid.floor_limit = 0;
                aid.contactless_floor_limit = Some(0);
            }
        }
    }
    config.terminal = TerminalConfig::new(parts).map_err(|e| chain(&e))?;
    if options.reader.is_none() || options.test_keys {
        let ca = quickpass_sim::ca::TestCa::shared().map_err(|e| chain(&e))?;
        for key in ca.capk_store().map_err(|e| chain(&e))?.iter() {
            config.capks.insert(key.clone()).map_err(|e| chain(&e))?;
        }
    }
    Ok(config)
}

/// The simulated riders: one profile, PANs varied (Luhn-correct), each card built on its first
/// tap and kept (its counters and balance live on between taps).
struct Riders {
    profile: serde_json::Value,
    pans: Vec<String>,
    imk: String,
    cards: HashMap<usize, VirtualCard>,
}

impl Riders {
    fn new(path: &Path, count: u32) -> Result<Riders, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let profile: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let app = &profile["applications"][0];
        let base = app["pan"].as_str().unwrap_or_default().to_owned();
        let imk = app["issuer_master_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if base.len() < 13 || !base.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{}: the first application has no PAN",
                path.display()
            ));
        }
        let pans = (0..count)
            .map(|i| {
                if count == 1 {
                    base.clone()
                } else {
                    rider_pan(&base, i)
                }
            })
            .collect();
        Ok(Riders {
            profile,
            pans,
            imk,
            cards: HashMap::new(),
        })
    }

    fn card(&mut self, index: usize) -> Result<&mut VirtualCard, String> {
        if !self.cards.contains_key(&index) {
            let mut profile = self.profile.clone();
            profile["applications"][0]["pan"] = self.pans[index].clone().into();
            let card = CardProfile::from_json(&profile.to_string())
                .and_then(|p| p.build())
                .map_err(|e| format!("rider {index}: {}", chain(&e)))?;
            self.cards.insert(index, card);
        }
        self.cards
            .get_mut(&index)
            .ok_or_else(|| format!("rider {index}"))
    }

    /// Gives the simulated issuer every rider's keys (the profile's master key).
    fn add_to(&self, issuer: &mut EmvHost) -> Result<(), String> {
        let card = CardProfile::from_json(&self.profile.to_string()).map_err(|e| chain(&e))?;
        let Some(ApplicationProfile::Pboc(app)) = card.applications.first() else {
            return Err("the profile's first application is not a bank card".into());
        };
        let psn = u8::from_str_radix(&app.psn, 16).map_err(|e| format!("psn: {e}"))?;
        let imk: [u8; 16] = hex::decode(&self.imk)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or("issuer_master_key is not 16 hex bytes")?;
        for pan in &self.pans {
            issuer
                .add_card(pan, psn, imk, None)
                .map_err(|e| chain(&e))?;
        }
        Ok(())
    }
}

/// Rider `index`'s PAN: the base PAN with its last five digits before the check digit replaced
/// by the index, and the Luhn check digit recomputed.
fn rider_pan(base: &str, index: u32) -> String {
    let body = &base[..base.len() - 1];
    let keep = &body[..body.len() - 5];
    let mut pan = format!("{keep}{index:05}");
    let check = luhn_check_digit(&pan);
    pan.push(char::from(b'0' + check));
    pan
}

fn luhn_check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let twice = d * 2;
                twice / 10 + twice % 10
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The gate between taps.
struct Gate<'a> {
    config: KernelConfig,
    deny_list: Option<DenyList>,
    store: &'a mut Store,
    torn: Option<TornTap>,
    /// Cards accepted lately (by card key or PAN digits), with when.
    recent: HashMap<String, std::time::Instant>,
    issuer: EmvHost,
    options: &'a Options,
}

/// What the gate tells the rider.
struct Verdict {
    result: &'static str,
    reason: Option<String>,
    deferred: bool,
    record: Option<u64>,
}

impl Gate<'_> {
    fn tap(&mut self, tap: u32, riders: &mut Riders) -> Result<(), String> {
        let (date, time) = quickpass::clock::now();
        let input = TransactionInput {
            amount: Amount::from_minor(self.options.fare).map_err(|e| format!("--fare: {e}"))?,
            amount_other: Amount::ZERO,
            transaction_type: 0x00,
            date,
            time,
            unpredictable_number: quickpass::random::unpredictable_number()
                .map_err(|e| e.to_string())?,
        };
        let result = match &self.options.reader {
            None => {
                let index = (tap as usize - 1) % riders.pans.len();
                let card = riders.card(index)?;
                self.transact(&input, card)
            }
            Some(reader) => self.transact_reader(reader, &input)?,
        };
        let verdict = self.decide(&result, &input)?;
        self.report(tap, &result, &verdict);
        Ok(())
    }

    fn transact<T: Transport>(
        &mut self,
        input: &TransactionInput,
        card: &mut T,
    ) -> TransactionResult {
        let mut layer = ApduLayer::new(card);
        contactless::transact_after_tear(&self.config, input, &mut layer, &mut self.torn).result
    }

    #[cfg(feature = "pcsc")]
    fn transact_reader(
        &mut self,
        reader: &str,
        input: &TransactionInput,
    ) -> Result<TransactionResult, String> {
        let mut pcsc = quickpass::pcsc::PcscTransport::new().map_err(|e| chain(&e))?;
        self.options.deadlines.apply_to_card(&mut pcsc);
        pcsc.wait_for_card(reader, std::time::Duration::from_secs(3600))
            .map_err(|e| format!("{reader}: {}", chain(&e)))?;
        pcsc.connect(reader)
            .map_err(|e| format!("{reader}: {}", chain(&e)))?;
        let result = self.transact(input, &mut pcsc);
        // The next tap waits for this card to leave, however long it stays.
        loop {
            match pcsc.wait_for_removal(reader, std::time::Duration::from_secs(60)) {
                Ok(()) => break,
                Err(quickpass::pcsc::PcscError::Timeout) => continue,
                Err(e) => return Err(format!("{reader}: {}", chain(&e))),
            }
        }
        Ok(result)
    }

    #[cfg(not(feature = "pcsc"))]
    fn transact_reader(
        &mut self,
        _: &str,
        _: &TransactionInput,
    ) -> Result<TransactionResult, String> {
        Err("--reader needs the pcsc feature".into())
    }

    /// The card's key for the deny list and the store (with a deny list), else its PAN digits
    /// for the repeat guard only.
    fn card_identity(&self, result: &TransactionResult) -> (Option<CardKey>, Option<String>) {
        let card = result.card_phase.card();
        let Some(pan) = card.pan() else {
            return (None, None);
        };
        let psn = card
            .get(tags::PAN_SEQUENCE_NUMBER)
            .and_then(|p| p.first().copied());
        match &self.deny_list {
            Some(list) => {
                let key = list.card_key(&pan, psn);
                (Some(key), Some(hex::encode(key.as_bytes())))
            }
            None => (None, Some(format!("{}/{psn:?}", pan.expose_digits()))),
        }
    }

    fn paid_recently(&self, who: &Option<String>) -> bool {
        let interval = std::time::Duration::from_secs(u64::from(self.options.repeat_interval_s));
        match who {
            Some(who) if !interval.is_zero() => self
                .recent
                .get(who)
                .is_some_and(|at| at.elapsed() < interval),
            _ => false,
        }
    }

    fn decide(
        &mut self,
        result: &TransactionResult,
        input: &TransactionInput,
    ) -> Result<Verdict, String> {
        let created = Created::new(input.date, input.time);
        let (card_key, who) = self.card_identity(result);
        let verdict = |result, reason: Option<String>, deferred, record| Verdict {
            result,
            reason,
            deferred,
            record,
        };
        let store_error = |e: quickpass::store::StoreError| format!("store: {}", chain(&e));
        Ok(match result.outcome {
            Outcome::AcceptedForTravel | Outcome::OnlineRequest if self.paid_recently(&who) => {
                verdict("already_paid", None, false, None)
            }
            Outcome::AcceptedForTravel => {
                let Some(deferred) = result.deferred_authorisation(&self.config) else {
                    return Ok(verdict(
                        "declined",
                        Some("incomplete card data for the acquirer".into()),
                        false,
                        None,
                    ));
                };
                // On durable storage before the gate opens.
                let id = self
                    .store
                    .add_record(RecordKind::TransitDeferred, &created, card_key, &deferred)
                    .map_err(store_error)?;
                self.remember(who);
                verdict("accepted", None, true, Some(id))
            }
            Outcome::OnlineRequest => {
                let card = result.card_phase.card();
                let pan = card
                    .pan()
                    .map(|p| p.expose_digits().to_owned())
                    .unwrap_or_default();
                let psn = card
                    .get(tags::PAN_SEQUENCE_NUMBER)
                    .and_then(|p| p.first().copied())
                    .unwrap_or(0);
                let icc = result.icc_data();
                match self.issuer.authorise(&pan, psn, &icc) {
                    Ok(answer) if answer.approved => {
                        let id = self
                            .store
                            .add_record(
                                RecordKind::Contactless,
                                &created,
                                card_key,
                                &clearing_payload(result, "online_approved", &self.config),
                            )
                            .map_err(store_error)?;
                        self.remember(who);
                        verdict("accepted", None, false, Some(id))
                    }
                    Ok(_) => verdict(
                        "declined",
                        Some("declined by the issuer".into()),
                        false,
                        None,
                    ),
                    Err(e) => verdict("declined", Some(format!("issuer: {e}")), false, None),
                }
            }
            Outcome::Approved => {
                // The card paid (a TC): its clearing record is kept before the gate opens.
                let id = self
                    .store
                    .add_record(
                        RecordKind::Contactless,
                        &created,
                        card_key,
                        &clearing_payload(result, "approved", &self.config),
                    )
                    .map_err(store_error)?;
                self.remember(who);
                verdict("accepted", None, false, Some(id))
            }
            Outcome::TryAgain => verdict(
                "try_again",
                Some(format!(
                    "present the card again ({})",
                    result.reason.as_deref().unwrap_or("card left the field")
                )),
                false,
                None,
            ),
            _ => verdict("declined", result.reason.clone(), false, None),
        })
    }

    fn remember(&mut self, who: Option<String>) {
        let Some(who) = who else {
            return;
        };
        // Forget the cards whose interval has passed, so a gate that runs for days keeps only
        // the last minute's riders.
        if self.recent.len() >= 1024 {
            let interval =
                std::time::Duration::from_secs(u64::from(self.options.repeat_interval_s));
            self.recent.retain(|_, at| at.elapsed() < interval);
        }
        self.recent.insert(who, std::time::Instant::now());
    }

    fn report(&self, tap: u32, result: &TransactionResult, verdict: &Verdict) {
        let record = result.record();
        if self.options.json {
            outln!(
                "{}",
                serde_json::json!({
                    "tap": tap,
                    "result": verdict.result,
                    "reason": verdict.reason,
                    "oda": record.oda,
                    "pan": record.pan,
                    "atc": record.atc,
                    "deferred": verdict.deferred,
                    "apdus": record.apdus,
                    "outcome": record.outcome.as_str(),
                    "record": verdict.record,
                })
            );
            return;
        }
        let mut line = format!(
            "tap {tap}: {} {}",
            verdict.result,
            record.pan.as_deref().unwrap_or("(no card number)")
        );
        if verdict.deferred {
            line.push_str(", authorisation deferred");
        }
        if let Some(reason) = &verdict.reason {
            line.push_str(&format!(" ({reason})"));
        }
        line.push_str(&format!(", {} APDUs", record.apdus));
        outln!("{line}");
    }
}

/// What clearing keeps of an approval: the masked record and field 55 as before, and the
/// clearing record (`clearing`: PAN, PSN, expiry, cryptogram and the field-55 set, in clear
/// for the acquirer — the store is terminal-private and the batch goes to the back office).
fn clearing_payload(
    result: &TransactionResult,
    outcome: &str,
    config: &KernelConfig,
) -> serde_json::Value {
    serde_json::json!({
        "outcome": outcome,
        "record": result.record(),
        "field_55": hex::encode_upper(result.icc_data()),
        "clearing": result.clearing_record(config),
    })
}

/// The deny list the gate checks: the newer of the `--deny-list` file and the store's, the
/// file's saved into the store when it is newer (the back office sent a new version), so a
/// gate restarted without the file keeps the last list it had. An older file never replaces
/// the store's list: that would let cards declined since ride again.
fn deny_list(store: &mut Store, options: &Options) -> Result<Option<DenyList>, String> {
    let store_error = |e: quickpass::store::StoreError| format!("store: {}", chain(&e));
    let file = match &options.deny_list {
        Some(path) => Some(quickpass::deny_list::load(path).map_err(|e| chain(&e))?),
        None => None,
    };
    let stored = store.deny_list_version().map_err(store_error)?;
    match file {
        Some(file) if stored.is_none_or(|version| file.version() > version) => {
            store.save_deny_list(&file).map_err(store_error)?;
            Ok(Some(file))
        }
        Some(file) if stored == Some(file.version()) => Ok(Some(file)),
        _ => store.deny_list().map_err(store_error),
    }
}

/// `--apply-results`: the acquirer's answers; declined cards go on the deny list, saved as its
/// next version.
fn apply_results(
    store: &mut Store,
    path: &Path,
    list: &mut DenyList,
    options: &Options,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut results = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        // Other fields (an acquirer's cause, say) are for people and ignored.
        #[derive(serde::Deserialize)]
        struct Answer {
            id: u64,
            decision: String,
        }
        let answer: Answer = serde_json::from_str(&line)
            .map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))?;
        let decision = match answer.decision.as_str() {
            "approved" => Decision::Approved,
            "declined" => Decision::Declined,
            other => {
                return Err(format!(
                    "{} line {}: decision {other:?} is not approved or declined",
                    path.display(),
                    n + 1
                ))
            }
        };
        results.push((answer.id, decision));
    }
    // The decisions and the cards they put on the deny list commit together, in the store.
    let (applied, added) = store
        .apply_results_to_deny_list(&results)
        .map_err(|e| format!("store: {}", chain(&e)))?;
    let added = added.map_or(0, |change| change.added);
    if added > 0 {
        *list = store
            .deny_list()
            .map_err(|e| format!("store: {}", chain(&e)))?
            .ok_or("store: the deny list went missing")?;
        if let Some(list_path) = &options.deny_list {
            quickpass::deny_list::save_list(list, list_path).map_err(|e| chain(&e))?;
        }
    }
    let summary = serde_json::json!({
        "applied": {
            "approved": applied.approved.len(),
            "declined": applied.declined.len(),
            "denied_cards_added": added,
            "already_decided": applied.already_decided.len(),
            "ignored": applied.ignored.len(),
        }
    });
    if options.json {
        outln!("{summary}");
    } else {
        outln!(
            "results: {} approved, {} declined ({} cards added to the deny list), {} ignored",
            applied.approved.len(),
            applied.declined.len(),
            added,
            applied.ignored.len()
        );
    }
    Ok(())
}

/// `--export-batch`: the deferred authorisations not yet delivered, as JSON lines.
fn export_batch(store: &mut Store, path: &Path, json: bool) -> Result<(), String> {
    let batch = store
        .export_batch(Some(RecordKind::TransitDeferred), usize::MAX)
        .map_err(|e| format!("store: {}", chain(&e)))?;
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let count = match &batch {
        Some(batch) => {
            batch
                .write_json_lines(std::io::BufWriter::new(&file))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            file.sync_all()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            batch.records.len()
        }
        None => 0,
    };
    let batch_id = batch.as_ref().map(|b| b.id);
    if json {
        outln!(
            "{}",
            serde_json::json!({ "exported": { "batch": batch_id, "records": count } })
        );
    } else {
        outln!(
            "exported {count} deferred authorisation(s) to {}",
            path.display()
        );
    }
    Ok(())
}
