//! What the purse examples (`bus_fare`, `etc_topup`) share around the kernel: a card or PSAM
//! reached through the simulator or a PC/SC reader, journal adaptors, and the report of a tap.
//! Example code, not library code: it prints.
#![allow(dead_code)]

use quickpass::kernel::purse::flow::FlowError;
use quickpass::kernel::purse::{
    Journal, Pending, PurseApplication, SelectBy, TapResult, UnwrittenRecords,
};
use quickpass::kernel::transport::Transport;
use quickpass::kernel::values::PurseAmount;

use quickpass_sim::faults::FaultyCard;
use quickpass_sim::purse::{KeyDerivation, PurseProfile};
use quickpass_sim::{SimError, VirtualCard};

#[derive(Debug, thiserror::Error)]
/// Why a card or PSAM link failed.
pub enum LinkError {
    /// The simulated card (removed by a fault).
    #[error(transparent)]
    Sim(#[from] SimError),
    #[cfg(feature = "pcsc")]
    /// The PC/SC reader.
    #[error(transparent)]
    Pcsc(#[from] quickpass::pcsc::PcscError),
}

impl quickpass_kernel::transport::TransportError for LinkError {
    fn link_failure(&self) -> quickpass_kernel::transport::LinkFailure {
        match self {
            LinkError::Sim(e) => e.link_failure(),
            #[cfg(feature = "pcsc")]
            LinkError::Pcsc(e) => e.link_failure(),
        }
    }
}

/// The card: the simulated one (with fault injection for `--tear-after`) or a PC/SC reader.
pub enum CardLink {
    /// The simulated card, behind fault injection.
    Virtual(FaultyCard<VirtualCard>),
    /// A PC/SC reader, by name.
    #[cfg(feature = "pcsc")]
    Pcsc(quickpass::pcsc::PcscTransport, String),
}

impl Transport for CardLink {
    type Error = LinkError;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, LinkError> {
        match self {
            CardLink::Virtual(card) => Ok(card.transmit(command)?),
            #[cfg(feature = "pcsc")]
            CardLink::Pcsc(pcsc, _) => Ok(pcsc.transmit(command)?),
        }
    }
}

impl CardLink {
    /// Waits for a card (PC/SC) or puts the simulated one back in the field.
    pub fn present(&mut self) -> Result<(), String> {
        match self {
            CardLink::Virtual(card) => {
                if card.is_removed() {
                    card.reinsert();
                }
                Ok(())
            }
            #[cfg(feature = "pcsc")]
            CardLink::Pcsc(pcsc, reader) => {
                pcsc.wait_for_card(reader, std::time::Duration::from_secs(60))
                    .map_err(|e| format!("waiting for a card: {e}"))?;
                pcsc.connect(reader)
                    .map(|_| ())
                    .map_err(|e| format!("connecting: {e}"))
            }
        }
    }

    /// The simulated card, for fault injection.
    pub fn faulty(&mut self) -> Option<&mut FaultyCard<VirtualCard>> {
        match self {
            CardLink::Virtual(card) => Some(card),
            #[cfg(feature = "pcsc")]
            CardLink::Pcsc(..) => None,
        }
    }

    /// Waits until the card has left (PC/SC), however long it stays: a card left on the
    /// reader is never tapped again (issue 11 item 4; before, the wait gave up after 60 s and
    /// the same card was charged again). Fails only when the reader itself fails.
    pub fn away(&mut self) -> Result<(), String> {
        #[cfg(feature = "pcsc")]
        if let CardLink::Pcsc(pcsc, reader) = self {
            loop {
                match pcsc.wait_for_removal(reader, std::time::Duration::from_secs(60)) {
                    Ok(()) => break,
                    Err(quickpass::pcsc::PcscError::Timeout) => continue,
                    Err(e) => return Err(format!("waiting for the card to leave: {e}")),
                }
            }
        }
        Ok(())
    }
}

/// The PSAM: the simulated one or a PC/SC reader.
pub enum SamLink {
    /// The simulated PSAM.
    Virtual(VirtualCard),
    /// A PC/SC reader holding the PSAM.
    #[cfg(feature = "pcsc")]
    Pcsc(quickpass::pcsc::PcscTransport),
}

impl Transport for SamLink {
    type Error = LinkError;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, LinkError> {
        match self {
            SamLink::Virtual(card) => Ok(card.transmit(command)?),
            #[cfg(feature = "pcsc")]
            SamLink::Pcsc(pcsc) => Ok(pcsc.transmit(command)?),
        }
    }
}

/// The card in a PC/SC reader, with its exchange and tap deadlines (the tap's clock starts at
/// each [`CardLink::present`]).
#[cfg(feature = "pcsc")]
pub fn pcsc_card(
    reader: &str,
    exchange_deadline: Option<std::time::Duration>,
    tap_deadline: Option<std::time::Duration>,
) -> Result<CardLink, String> {
    let mut pcsc = quickpass::pcsc::PcscTransport::new().map_err(|e| format!("PC/SC: {e}"))?;
    pcsc.set_exchange_deadline(exchange_deadline);
    pcsc.set_tap_deadline(tap_deadline);
    Ok(CardLink::Pcsc(pcsc, reader.to_owned()))
}

/// Connects to the card (a PSAM) in a PC/SC reader, waiting up to 10 s for one, with the
/// exchange deadline given.
#[cfg(feature = "pcsc")]
pub fn pcsc_link(
    reader: &str,
    exchange_deadline: Option<std::time::Duration>,
) -> Result<quickpass::pcsc::PcscTransport, String> {
    let mut pcsc = quickpass::pcsc::PcscTransport::new().map_err(|e| format!("PC/SC: {e}"))?;
    pcsc.set_exchange_deadline(exchange_deadline);
    pcsc.wait_for_card(reader, std::time::Duration::from_secs(10))
        .map_err(|e| format!("{reader}: {e}"))?;
    pcsc.connect(reader).map_err(|e| format!("{reader}: {e}"))?;
    Ok(pcsc)
}

/// The message for a PC/SC flag in a build without the `pcsc` feature.
#[cfg(not(feature = "pcsc"))]
pub fn pcsc_unavailable(flag: &str) -> String {
    format!("{flag} needs PC/SC: build with --features pcsc")
}

/// The kernel's view of a simulated purse profile's application, and the PSAM DF its keys
/// need (`8011` one-level, `DF01` two-level).
pub fn application(purse: &PurseProfile) -> Result<(PurseApplication, u16), String> {
    let mut app = match (&purse.df_name, &purse.df_name_text, &purse.file_id) {
        (Some(name), _, _) => {
            let mut app = PurseApplication::t_union();
            if *name != app_name(&app) {
                app = PurseApplication::city(name);
            }
            app
        }
        (None, Some(text), _) => PurseApplication::city(text.as_bytes()),
        (None, None, Some(fid)) => {
            let mut app = PurseApplication::etc();
            app.select = SelectBy::FileId(u16::from_be_bytes(*fid));
            app
        }
        (None, None, None) => return Err("profile names no application".into()),
    };
    app.ef15_from_fci = purse.fci_ef15;
    app.two_level = purse.key_derivation == KeyDerivation::TwoLevel;
    let psam_df = if app.two_level { 0xDF01 } else { 0x8011 };
    Ok((app, psam_df))
}

/// The name the application is selected by (DF name, AID or file identifier bytes).
pub fn app_name(app: &PurseApplication) -> Vec<u8> {
    match &app.select {
        SelectBy::DfName(name) => name.clone(),
        SelectBy::Aid(aid) => aid.as_bytes().to_vec(),
        SelectBy::FileId(fid) => fid.to_be_bytes().to_vec(),
    }
}

/// The sum of `amounts` as yuan (`12.34`), or a note when it passes what 4 bytes of fen hold.
pub fn total(amounts: impl IntoIterator<Item = PurseAmount>) -> String {
    amounts
        .into_iter()
        .try_fold(PurseAmount::ZERO, PurseAmount::checked_add)
        .map_or_else(
            || format!("more than {}", PurseAmount::MAX),
            |t| t.to_string(),
        )
}

/// A journal error as text (lets one program use the file and the memory journal alike).
#[derive(Debug, thiserror::Error)]
#[error("journal: {0}")]
pub struct JournalFailure(pub String);

/// Wraps any displayable error.
pub fn failure(e: impl std::fmt::Display) -> JournalFailure {
    JournalFailure(e.to_string())
}

/// A journal with its errors turned into [`JournalFailure`].
pub struct Boxed<J>(pub J);

impl<J: Journal> Journal for Boxed<J> {
    type Error = JournalFailure;

    fn begin(
        &mut self,
        entry: &quickpass::kernel::purse::JournalEntry,
    ) -> Result<u64, Self::Error> {
        self.0.begin(entry).map_err(failure)
    }

    fn complete(
        &mut self,
        record: &quickpass::kernel::purse::SettlementRecord,
    ) -> Result<(), Self::Error> {
        self.0.complete(record).map_err(failure)
    }

    fn void(&mut self, id: u64) -> Result<(), Self::Error> {
        self.0.void(id).map_err(failure)
    }

    fn pending(&self) -> Vec<quickpass::kernel::purse::Pending> {
        self.0.pending()
    }

    fn records(&self) -> Vec<quickpass::kernel::purse::SettlementRecord> {
        self.0.records()
    }

    fn take_records(
        &mut self,
    ) -> Result<Vec<quickpass::kernel::purse::SettlementRecord>, Self::Error> {
        self.0.take_records().map_err(failure)
    }

    fn newest_id(&self) -> Option<u64> {
        self.0.newest_id()
    }
}

/// The purse journal of `--journal PATH` (a JSON file), `--store PATH` (the terminal's SQLite
/// store) or, with neither, in memory. Either file is opened — and written — here, before any
/// tap: an unusable one (missing directory, read-only, full disk, held by another process)
/// ends the program with exit status 1 and no card touched.
pub fn open_journal(
    journal: Option<&std::path::Path>,
    store: Option<&std::path::Path>,
) -> Result<Box<dyn Journal<Error = JournalFailure>>, String> {
    Ok(match (journal, store) {
        (_, Some(path)) => Box::new(Boxed(
            quickpass::store::Store::open(path).map_err(|e| quickpass::report::error_chain(&e))?,
        )),
        (Some(path), None) => Box::new(Boxed(
            quickpass::journal::FileJournal::open(path).map_err(|e| format!("journal: {e}"))?,
        )),
        (None, None) => Box::new(Boxed(quickpass::kernel::purse::MemoryJournal::new())),
    })
}

/// The records of taps the journal refused after the card paid (the kernel's
/// [`UnwrittenRecords`]), for the examples' loop: kept, retried before each tap, and an error at
/// the end while any is still not written.
#[derive(Default)]
pub struct Unrecorded(UnwrittenRecords);

impl Unrecorded {
    /// Keeps the record of a tap the journal refused.
    pub fn keep(&mut self, result: &Result<TapResult, FlowError<LinkError>>) {
        if let Ok(tap) = result {
            self.0.keep(tap);
        }
    }

    /// Writes the kept records again (see [`UnwrittenRecords::retry`]).
    pub fn retry(&mut self, journal: &mut dyn Journal<Error = JournalFailure>) {
        self.0.retry(journal);
    }

    /// The end of the run: an error naming how many records are still not written (their
    /// entries stay pending in the journal for the back office), or `Ok`.
    pub fn finish(
        mut self,
        journal: &mut dyn Journal<Error = JournalFailure>,
    ) -> Result<(), String> {
        self.0.retry(journal);
        match self.0.len() {
            0 => Ok(()),
            n => Err(format!(
                "{n} settled transaction(s) could not be written to the journal; their entries \
                 stay pending there (the card's next tap, or the back office, settles them)"
            )),
        }
    }
}

/// Prints one purse tap as a line of text or, with `json`, one JSON object (the `bus_fare` /
/// `etc_topup` contract: `result`, `amount`, `balance_before`, `balance_after`, `tac`, `apdus`,
/// …; `sam_apdus` when `with_sam` — the terminal has a PSAM). `amount` is what the tap asked
/// for; a torn tap reports what its pending journal entry (if any) holds.
#[allow(clippy::too_many_arguments)]
pub fn report_tap(
    tap: u32,
    result: &Result<TapResult, FlowError<LinkError>>,
    apdus: u64,
    amount: PurseAmount,
    json: bool,
    with_sam: bool,
    pending: Option<&Pending>,
) {
    let (outcome, tap_result) = match result {
        Ok(r) => (r.outcome, Some(r)),
        Err(e) => (e.outcome(), None),
    };
    // A torn tap reports what its pending journal entry (if any) holds.
    let amount = tap_result.map_or(pending.map_or(amount, |p| p.entry.amount), |r| r.amount);
    let tac = tap_result.and_then(|r| r.tac).map(hex::encode_upper);
    let before = match tap_result {
        Some(r) => r.balance_before,
        None => pending.map(|p| p.entry.balance_before),
    };
    let after = tap_result.and_then(|r| r.balance_after);
    if json {
        let mut object = serde_json::json!({
            "tap": tap,
            "result": outcome.as_str(),
            "amount": amount,
            "balance_before": before,
            "balance_after": after,
            "tac": tac,
            "apdus": apdus,
            "card": tap_result.and_then(|r| r.card_number.as_ref()).map(|n| n.masked()),
            "reason": tap_result.and_then(|r| r.reason.as_ref()),
            "error": result.as_ref().err().map(|e| e.to_string()),
            "record": tap_result.and_then(|r| r.record.as_ref()).map(quickpass::kernel::purse::SettlementRecord::printable),
        });
        if with_sam {
            object["sam_apdus"] = tap_result.map_or(0, |r| r.sam_apdus).into();
        }
        outln!("{object}");
        return;
    }
    let mut line = format!("tap {tap}: {} {amount}", outcome.as_str());
    if let (Some(before), Some(after)) = (before, after) {
        line.push_str(&format!(", balance {before} → {after}"));
    } else if let Some(before) = before {
        line.push_str(&format!(", balance {before}"));
    }
    if let Some(tac) = &tac {
        line.push_str(&format!(", TAC {tac}"));
    }
    if let Some(reason) = tap_result.and_then(|r| r.reason.as_ref()) {
        line.push_str(&format!(", {reason:?}"));
    }
    if let Err(e) = result {
        line.push_str(&format!(" ({e})"));
    }
    line.push_str(&format!(", {apdus} APDUs"));
    outln!("{line}");
}
