//! The ED/EP transaction flows (JR/T 0025 Part 1 ED/EP; pboc-notes §4.3 purchase, §4.5 load,
//! §4.7 segmented fares, §4.3 step 9 tearing): [`purchase`], [`capp_purchase`] and [`load`].
//!
//! Each is one tap. It selects the application, reads EF15 (from the FCI when the card puts it
//! there), checks the card, then **first** settles any journal entry this card left pending on
//! an earlier tap by asking the card (`examine`: GET TRANSACTION PROVE, EF18, INITIALIZE's
//! counter and balance). Proof that the card did it completes the record and the tap ends as
//! [`PurseOutcome::Recovered`] — the card is not charged again; proof that it did not voids the
//! entry and the tap goes on; no proof either way keeps the entry pending and the tap ends
//! [`PurseOutcome::Disputed`] without charging (until evidence or [`resolve_dispute`] settles it).
//!
//! The journal entry is written before DEBIT / CREDIT. From then on only a verified success
//! settles it directly; any other answer (status word, malformed data, a MAC2 the SAM rejects)
//! goes through the same table on the same tap, and a tear while the command is under way
//! returns [`FlowError::Card`] ([`PurseOutcome::Torn`]) and leaves the entry pending. The state
//! table is on `examine` and in `vectors/cards/purse.md`.
//!
//! APDU counts (card; T-Union card with EF15 in its FCI, no pending entry):
//!
//! | flow | card APDUs | SAM APDUs |
//! |---|---|---|
//! | purchase | SELECT, GET BALANCE, INITIALIZE, DEBIT = 4 (+1 READ BINARY without EF15 in the FCI) | `80 70`, `80 72`, TAC check `80 1A`, `80 FA` = 4 |
//! | CAPP purchase | SELECT, GET BALANCE, READ RECORD, INITIALIZE CAPP, UPDATE CAPP DATA CACHE (+1 for EF1E), DEBIT = 6–7 | 4 |
//! | load | SELECT, INITIALIZE FOR LOAD, CREDIT = 3 (+1 READ BINARY) | host |
//! | recovery (proved) | SELECT, GET TRANSACTION PROVE = 2 (+ EF18 reads when the SAM lost the session) | `80 72` + TAC check = 3 |
//! | recovery / a bad answer (no proof) | + GET TRANSACTION PROVE, EF18 reads, INITIALIZE (counter and balance) | — |
//!
//! The TAC check ([`PurseConfig::check_tac`], on by default) runs after the card's last APDU;
//! without it, or with a SAM that has no TAC key, purchases take 2 SAM APDUs and recovery 1.

use alloc::{boxed::Box, string::String, string::ToString, vec, vec::Vec};
use quickpass_crypto::purse as crypto;
use serde::Serialize;

use super::card::CardIdentity;
use super::card::{CardDataError, CardInfo, CardNumber, LoadInit, PurchaseInit, PurseLogRecord};
use super::fare::{travel_record, FareDecision, FarePhase, FarePolicy, Station, TripRecord};
use super::host::{Host, HostDecision, LoadAuthorisation, LoadReversal, ReversalReason};
use super::journal::{Journal, JournalEntry, Pending};
use super::layout;
use super::record::{PurseClearingData, RecordStatus, SettlementRecord, TripNote};
use super::sam::{Mac2Check, Sam, SamPurchase, TacCheck};
use super::TransactionKind;
use crate::apdu::{ApduError, Command, Purse, Response};
use crate::tag::Tag;
use crate::tlv;
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{PurseAmount, Sfi, StatusWord, TransactionDate, TransactionTime};
use crate::UpperHex;
use serde_with::As;

pub use super::sam::SelectBy;

/// A boxed error from a SAM, host or journal (its own type names who failed).
pub type BoxError = Box<dyn core::error::Error + Send + Sync + 'static>;

/// Where the CAPP (composite purchase) records are (pboc-notes §4.7, §4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CappFile {
    /// SFI of the CAPP record file (T-Union EF1A = 26, ETC EF19 = 25).
    pub sfi: Sfi,
    /// Record number of the trip record for READ RECORD (Shanghai T-Union: 2).
    pub record: u8,
    /// EF1E, if a 48-byte travel record is appended with each CAPP purchase.
    pub travel_sfi: Option<Sfi>,
}

/// How to reach and read one purse application (pboc-notes §1.3, §4.7, §4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurseApplication {
    /// How it is selected.
    pub select: SelectBy,
    /// ED (`01`) or EP (`02`).
    pub purse: Purse,
    /// EF15 length for READ BINARY (`1E` T-Union, `2B` ETC).
    pub ef15_len: u8,
    /// Take EF15 from FCI tag `9F0C` when present (T-Union, §4.7) and skip READ BINARY.
    pub ef15_from_fci: bool,
    /// Keys diversified twice: the SAM gets the second diversifier (§4.4).
    pub two_level: bool,
    /// The CAPP records, if the card does composite purchases.
    pub capp: Option<CappFile>,
}

/// The T-Union AID (pboc-notes §1.3).
pub const T_UNION_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05];

impl PurseApplication {
    /// China T-Union (JT/T 978): AID `A000000632010105`, EF15 in the FCI, EF1A record 2 for
    /// trips and EF1E travel records, one-level keys (pboc-notes §4.7; the simulator's profile).
    pub fn t_union() -> PurseApplication {
        PurseApplication {
            select: SelectBy::DfName(T_UNION_AID.to_vec()),
            purse: Purse::Purse,
            ef15_len: 0x1E,
            ef15_from_fci: true,
            two_level: false,
            capp: Some(CappFile {
                sfi: SFI_EF1A,
                record: 2,
                travel_sfi: Some(SFI_EF1E),
            }),
        }
    }

    /// ETC user card: ADF `1001`, 43-byte EF15, two-level keys (pboc-notes §4.8). CAPP (EF19)
    /// is left out: no field layout was collected.
    pub fn etc() -> PurseApplication {
        PurseApplication {
            select: SelectBy::FileId(0x1001),
            purse: Purse::Purse,
            ef15_len: 0x2B,
            ef15_from_fci: false,
            two_level: true,
            capp: None,
        }
    }

    /// A city purse selected by its ASCII DF name (`PAY.SZT`, `AP1.WHCTC`, …), 30-byte EF15.
    pub fn city(df_name: &[u8]) -> PurseApplication {
        PurseApplication {
            select: SelectBy::DfName(df_name.to_vec()),
            purse: Purse::Purse,
            ef15_len: 0x1E,
            ef15_from_fci: false,
            two_level: false,
            capp: None,
        }
    }
}

const fn sfi(value: u8) -> Sfi {
    match Sfi::new(value) {
        Ok(sfi) => sfi,
        Err(_) => panic!("SFI constant out of range"),
    }
}

/// EF15, public application information (pboc-notes §4.7).
const SFI_EF15: Sfi = sfi(0x15);
/// EF1A, the T-Union CAPP record file.
const SFI_EF1A: Sfi = sfi(0x1A);
/// EF1E, T-Union travel records.
const SFI_EF1E: Sfi = sfi(0x1E);

/// Terminal configuration for the purse flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurseConfig {
    /// The application.
    pub application: PurseApplication,
    /// Card numbers refused (a short list given in the configuration).
    pub deny_list: Vec<CardNumber>,
    /// The terminal's deny list (hashed keys, [`crate::deny_list`]): a card number that is a
    /// valid PAN is looked up with no PAN sequence number. `None`: none.
    pub deny_check: Option<crate::config::SharedDenyList>,
    /// How many EF18 records recovery reads at most to find this terminal's transaction.
    pub log_scan: u8,
    /// Ask the SAM to check each purchase TAC (pboc-notes §4.3 step 8; on by default): 2 more
    /// SAM APDUs per purchase (DES INIT, DES CRYPT), PSAM-local, after the card's last APDU, so
    /// the card does not wait for them. A TAC the SAM rejects is recorded
    /// [`RecordStatus::TacInvalid`], never paid, on the tap and on recovery alike. Turn it off
    /// only for an operator whose PSAM holds no TAC key: purchases are then recorded paid with
    /// `tac_verified = false` and the clearing host alone checks the TAC (a PSAM that says it has
    /// no TAC key gives the same result with the check on).
    pub check_tac: bool,
    /// The cards charged lately, refused again within its interval ([`PurseOutcome::AlreadyPaid`]);
    /// the terminal loop calls [`RepeatGuard::remember`](super::RepeatGuard::remember) after
    /// each tap. Off (interval 0) in [`PurseConfig::new`]: a terminal opts in with
    /// `RepeatGuard::default()` (60 s) or its own interval.
    pub repeat: super::RepeatGuard,
}

impl PurseConfig {
    /// A configuration for `application`, empty deny list, 10 log records scanned, TACs
    /// checked by the SAM, no repeat guard.
    pub fn new(application: PurseApplication) -> Self {
        PurseConfig {
            application,
            deny_list: Vec::new(),
            deny_check: None,
            log_scan: 10,
            check_tac: true,
            repeat: super::RepeatGuard::new(0),
        }
    }
}

/// A purchase (pboc-notes §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseRequest {
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Transaction date (the kernel reads no clock).
    pub date: TransactionDate,
    /// Transaction time.
    pub time: TransactionTime,
}

/// A composite purchase at a station (pboc-notes §4.7 segmented fares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CappRequest {
    /// Where the terminal is.
    pub station: Station,
    /// Transaction date.
    pub date: TransactionDate,
    /// Transaction time.
    pub time: TransactionTime,
}

/// A load (pboc-notes §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadRequest {
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Terminal number.
    pub terminal_id: [u8; 6],
    /// Load key index sent in INITIALIZE FOR LOAD.
    pub key_index: u8,
    /// Transaction date.
    pub date: TransactionDate,
    /// Transaction time.
    pub time: TransactionTime,
}

/// How a tap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PurseOutcome {
    /// Purchase debited, MAC2 verified by the SAM, TAC kept.
    Paid,
    /// Load credited, TAC kept.
    Loaded,
    /// `9401` (or the balance read before) does not cover the amount.
    InsufficientBalance,
    /// Refused; see the [`DeclineReason`].
    Declined,
    /// An earlier torn transaction of this card was proved and completed; not charged again.
    Recovered,
    /// The card left (or stopped answering) during the tap; a journal entry may be pending.
    Torn,
    /// Not charged: a DEBIT / CREDIT of this card was answered with something other than a
    /// verified success and the card could not prove whether it carried it out (this tap or an
    /// earlier one). The journal entry stays pending; the card is not charged (or loaded) again
    /// until evidence on a later tap or the back office settles it (see the state table in
    /// `examine` and vectors/cards/purse.md).
    Disputed,
    /// The card debited (DEBIT FOR PURCHASE executed, proved) but the terminal's journal could
    /// not record the settlement (disk full, I/O error). Not a decline: the money moved. The
    /// settlement record is in [`TapResult::record`] (kept in memory for the caller to retry
    /// [`Journal::complete`] with), and the journal's pending entry, written before DEBIT, is
    /// still on durable storage so the next open / recovery can settle it from the card's proof.
    PaidUnrecorded,
    /// As [`PurseOutcome::PaidUnrecorded`], for a load (CREDIT FOR LOAD executed).
    LoadedUnrecorded,
    /// Not charged: the same card paid at this terminal within the configured interval
    /// ([`RepeatGuard`](super::RepeatGuard)); no command that moves money was sent. `amount`
    /// is what it paid then.
    AlreadyPaid,
}

impl PurseOutcome {
    /// The name used in JSON output (`paid`, `insufficient_balance`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            PurseOutcome::Paid => "paid",
            PurseOutcome::Loaded => "loaded",
            PurseOutcome::InsufficientBalance => "insufficient_balance",
            PurseOutcome::Declined => "declined",
            PurseOutcome::Recovered => "recovered",
            PurseOutcome::Torn => "torn",
            PurseOutcome::Disputed => "disputed",
            PurseOutcome::PaidUnrecorded => "paid_unrecorded",
            PurseOutcome::LoadedUnrecorded => "loaded_unrecorded",
            PurseOutcome::AlreadyPaid => "already_paid",
        }
    }
}

/// Why a tap was declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum DeclineReason {
    /// SELECT did not find the application.
    NoApplication {
        /// Status word of SELECT.
        sw: StatusWord,
    },
    /// SELECT answered `6283`: the application is blocked.
    Blocked,
    /// Before EF15's start date.
    NotYetValid,
    /// After EF15's expiry date.
    Expired,
    /// On the deny list.
    Denied,
    /// The card refused a command.
    CardRefused {
        /// The command.
        command: &'static str,
        /// Its status word.
        sw: StatusWord,
    },
    /// The host refused the load.
    HostDeclined {
        /// The host's reason.
        detail: String,
    },
    /// The SAM rejected the card's MAC2 (forged, replayed or corrupted).
    Mac2Invalid,
    /// The TAC does not verify.
    TacInvalid,
    /// The trip record is locked or unusable.
    TripRecord {
        /// What is wrong.
        detail: String,
    },
    /// Recovery found this terminal's debit in the card log but no valid proof.
    RecoveryDisputed,
    /// The card is not a CAPP card in this configuration.
    NoCapp,
    /// INITIALIZE FOR LOAD's balance plus the amount does not fit the purse's 4-byte balance:
    /// the card's answer is implausible, so the host is not asked and nothing is credited.
    BalanceOverflow,
    /// INITIALIZE FOR PURCHASE's old balance differs from the GET BALANCE answer just before:
    /// the card contradicts itself, so nothing is debited.
    BalanceMismatch {
        /// GET BALANCE's answer, fen.
        get_balance: PurseAmount,
        /// INITIALIZE's old balance, fen.
        initialize: PurseAmount,
    },
    /// The answer to a money-moving command was malformed (not the expected length).
    BadAnswer {
        /// The command.
        command: &'static str,
    },
    /// An earlier DEBIT / CREDIT of this card is still unresolved (pending with no proof either
    /// way): not charged again until it is settled.
    Unresolved {
        /// The pending journal entry.
        entry: u64,
    },
    /// With [`PurseOutcome::PaidUnrecorded`] / [`PurseOutcome::LoadedUnrecorded`]: the card
    /// moved money but the journal could not record the settlement.
    JournalFailed {
        /// The journal's error (the journal's path and the I/O error; no card data).
        detail: String,
    },
}

/// What one tap did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TapResult {
    /// The outcome.
    pub outcome: PurseOutcome,
    /// Why, for [`PurseOutcome::Declined`] and [`PurseOutcome::Disputed`].
    pub reason: Option<DeclineReason>,
    /// The card number (masked in every output).
    pub card_number: Option<CardNumber>,
    /// The card's identity (serial, second diversifier), once read: for the terminal's
    /// [`RepeatGuard`](super::RepeatGuard). Never serialised (`Debug` masks it).
    #[serde(skip)]
    pub card: Option<CardIdentity>,
    /// Amount of the transaction, fen (for a recovery, the recovered transaction's).
    pub amount: PurseAmount,
    /// Balance before, when known.
    pub balance_before: Option<PurseAmount>,
    /// Balance after, when the transaction happened.
    pub balance_after: Option<PurseAmount>,
    /// The TAC kept for settlement.
    #[serde(serialize_with = "As::<Option<UpperHex>>::serialize")]
    pub tac: Option<[u8; 4]>,
    /// The settlement record this tap wrote (also in the journal). Serialised in its
    /// [printable](SettlementRecord::printable) form (card serial masked): the journal keeps
    /// the full one.
    #[serde(serialize_with = "super::record::serialize_printable")]
    pub record: Option<SettlementRecord>,
    /// Journal entries of this card found not carried out and voided on this tap.
    pub voided: Vec<u64>,
    /// Card APDUs of this tap.
    pub apdus: u64,
    /// SAM APDUs of this tap.
    pub sam_apdus: u64,
}

/// Something broke (not an outcome by itself; [`FlowError::outcome`] maps each to one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError<E: core::error::Error + 'static> {
    /// The card exchange failed (card removed, mute, broken response): a tear.
    #[error("card exchange failed")]
    Card(#[source] ExchangeError<E>),
    /// The card sent malformed data.
    #[error(transparent)]
    CardData(#[from] CardDataError),
    /// The SAM failed or refused (the terminal's side).
    #[error("SAM failed")]
    Sam(#[source] BoxError),
    /// The host could not be reached or failed.
    #[error("host failed")]
    Host(#[source] BoxError),
    /// The SAM or the host failed once the card had been sent the command that moves money
    /// (DEBIT, CREDIT) or while a pending entry was being settled: whether money moved is not
    /// known here, so the journal entry stays pending and the next tap of this card settles it
    /// from the card's evidence. Reported as [`PurseOutcome::Torn`], never as a decline.
    #[error("{party} failed with money possibly moved (journal entry left pending)")]
    Unsettled {
        /// Who failed.
        party: Party,
        /// How it failed.
        #[source]
        source: BoxError,
    },
    /// The journal could not be written: nothing was sent to the card after it.
    #[error("journal failed")]
    Journal(#[source] BoxError),
    /// A command of the flow cannot be encoded from the request or configuration (DF name,
    /// record number).
    #[error("cannot encode {command}")]
    Request {
        /// The command.
        command: &'static str,
        /// Why it cannot be encoded.
        #[source]
        source: ApduError,
    },
}

/// The terminal-side party of a [`FlowError::Unsettled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The PSAM (MAC2 or TAC check).
    Sam,
    /// The issuer host (load TAC check, reversal).
    Host,
}

impl core::fmt::Display for Party {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Party::Sam => "SAM",
            Party::Host => "host",
        })
    }
}

impl<E: core::error::Error + 'static> FlowError<E> {
    /// The outcome a terminal reports for this error: a card exchange failure, or a SAM or
    /// host failure once money may have moved, is a tear (a journal entry may be pending);
    /// anything else a decline (nothing moved).
    pub fn outcome(&self) -> PurseOutcome {
        match self {
            FlowError::Card(_) | FlowError::CardData(_) | FlowError::Unsettled { .. } => {
                PurseOutcome::Torn
            }
            _ => PurseOutcome::Declined,
        }
    }
}

/// A SAM failure with a journal entry pending.
fn sam_unsettled<E: core::error::Error + 'static>(source: BoxError) -> FlowError<E> {
    FlowError::Unsettled {
        party: Party::Sam,
        source,
    }
}

/// A host failure with a journal entry pending.
fn host_unsettled<E: core::error::Error + 'static>(source: BoxError) -> FlowError<E> {
    FlowError::Unsettled {
        party: Party::Host,
        source,
    }
}

type Flow<T, E> = Result<T, FlowError<E>>;

fn exchange<T: Transport>(layer: &mut ApduLayer<T>, command: &Command) -> Flow<Response, T::Error> {
    layer.exchange(command).map_err(FlowError::Card)
}

/// Maps an encoding failure of `command` to [`FlowError::Request`].
fn encoding<E: core::error::Error + 'static>(
    command: &'static str,
) -> impl FnOnce(ApduError) -> FlowError<E> {
    move |source| FlowError::Request { command, source }
}

fn boxed<E: core::error::Error + Send + Sync + 'static>(e: E) -> BoxError {
    Box::new(e)
}

/// The result skeleton of a tap.
struct Tap {
    start: u64,
    sam_start: u64,
    card_number: Option<CardNumber>,
    card: Option<CardIdentity>,
}

impl Tap {
    fn result<T: Transport>(
        &self,
        layer: &ApduLayer<T>,
        sam_apdus: u64,
        outcome: PurseOutcome,
        reason: Option<DeclineReason>,
    ) -> TapResult {
        TapResult {
            outcome,
            reason,
            card_number: self.card_number.clone(),
            card: self.card,
            amount: PurseAmount::ZERO,
            balance_before: None,
            balance_after: None,
            tac: None,
            record: None,
            voided: Vec::new(),
            apdus: layer.counters().apdus_sent - self.start,
            sam_apdus: sam_apdus - self.sam_start,
        }
    }
}

enum Opened {
    Card(CardInfo),
    Declined(DeclineReason, Option<CardNumber>),
}

/// EF15 from the T-Union FCI: `6F { …, A5 { …, 9F0C EF15 } }` (pboc-notes §4.7).
fn fci_ef15(fci: &[u8]) -> Option<Vec<u8>> {
    let template = tlv::parse_single(fci).ok()?;
    let ef15 = template.find(Tag::new(0x9F0C)).ok()??;
    Some(ef15.value().to_vec())
}

/// SELECT, EF15, status / validity / deny list (pboc-notes §4.3 step 2).
fn open_card<T: Transport>(
    layer: &mut ApduLayer<T>,
    config: &PurseConfig,
    date: TransactionDate,
) -> Flow<Opened, T::Error> {
    let app = &config.application;
    let command = app.select.command().map_err(encoding("SELECT"))?;
    let select = exchange(layer, &command)?;
    let blocked = select.sw == StatusWord::SELECTED_FILE_INVALIDATED;
    if !select.is_success() && !blocked {
        return Ok(Opened::Declined(
            DeclineReason::NoApplication { sw: select.sw },
            None,
        ));
    }
    let from_fci = if app.ef15_from_fci {
        fci_ef15(&select.data)
    } else {
        None
    };
    let ef15 = match from_fci {
        Some(ef15) => ef15,
        None => {
            let read = exchange(layer, &Command::read_binary_sfi(SFI_EF15, 0, app.ef15_len))?;
            if !read.is_success() {
                return Ok(Opened::Declined(
                    DeclineReason::CardRefused {
                        command: "READ BINARY EF15",
                        sw: read.sw,
                    },
                    None,
                ));
            }
            read.data
        }
    };
    let info = CardInfo::parse(&ef15, app.two_level, blocked)?;
    let number = Some(info.number.clone());
    let refusal = if info.blocked {
        Some(DeclineReason::Blocked)
    } else if date < info.start_date {
        Some(DeclineReason::NotYetValid)
    } else if date > info.expiry_date {
        Some(DeclineReason::Expired)
    } else if config.deny_list.contains(&info.number) || on_deny_list(config, &info.number) {
        Some(DeclineReason::Denied)
    } else {
        None
    };
    Ok(match refusal {
        Some(reason) => Opened::Declined(reason, number),
        None => Opened::Card(info),
    })
}

/// Checks a recovered proof: the SAM (purchases) or the journalled host MAC2 (loads), and the
/// TAC where possible.
trait Verifier {
    fn mac2(&mut self, entry: &JournalEntry, mac2: &[u8; 4]) -> Result<Mac2Check, BoxError>;
    fn tac(&mut self, entry: &JournalEntry, tac: &[u8; 4]) -> Result<TacCheck, BoxError>;
    /// Sends a reversal; `false` when there is no host link on this tap (the entry then stays
    /// pending until a load tap).
    fn reverse(&mut self, reversal: &LoadReversal) -> Result<bool, BoxError>;
    fn apdus(&self) -> u64;
}

/// The reversal of a load entry the host approved (`None`: not a host-approved load).
fn load_reversal(id: u64, entry: &JournalEntry, reason: ReversalReason) -> Option<LoadReversal> {
    (entry.kind.is_load() && entry.host_mac2.is_some()).then_some(LoadReversal {
        card: entry.card,
        key_index: entry.key_index,
        amount: entry.amount,
        online_counter: entry.counter,
        terminal_id: entry.terminal_id,
        terminal_transaction: id,
        date: entry.date,
        time: entry.time,
        reason,
    })
}

fn load_mac2_check(entry: &JournalEntry, mac2: &[u8; 4]) -> Mac2Check {
    match entry.host_mac2 {
        Some(sent) if sent == *mac2 => Mac2Check::Verified,
        Some(_) => Mac2Check::Invalid,
        None => Mac2Check::NoSession,
    }
}

fn purchase_tac_data(entry: &JournalEntry) -> crypto::PurchaseTacData {
    crypto::PurchaseTacData {
        amount: entry.amount.fen(),
        transaction_type: entry.kind.type_byte(),
        terminal_id: entry.terminal_id,
        terminal_serial: entry.terminal_serial.unwrap_or(0),
        date: entry.date,
        time: entry.time,
    }
}

fn load_tac_data(entry: &JournalEntry) -> crypto::LoadTacData {
    crypto::LoadTacData {
        new_balance: entry.balance_before.saturating_add(entry.amount).fen(),
        online_counter: entry.counter,
        amount: entry.amount.fen(),
        transaction_type: entry.kind.type_byte(),
        terminal_id: entry.terminal_id,
        date: entry.date,
        time: entry.time,
    }
}

/// Purchase proofs go to the SAM; `check_tac` is [`PurseConfig::check_tac`].
struct SamVerifier<'a, S: Sam + ?Sized> {
    sam: &'a mut S,
    check_tac: bool,
}

impl<S: Sam + ?Sized> Verifier for SamVerifier<'_, S> {
    fn mac2(&mut self, entry: &JournalEntry, mac2: &[u8; 4]) -> Result<Mac2Check, BoxError> {
        if entry.kind.is_load() {
            return Ok(load_mac2_check(entry, mac2));
        }
        self.sam.verify_mac2(mac2).map_err(boxed)
    }

    fn tac(&mut self, entry: &JournalEntry, tac: &[u8; 4]) -> Result<TacCheck, BoxError> {
        if entry.kind.is_load() || !self.check_tac {
            return Ok(TacCheck::Unavailable);
        }
        self.sam
            .check_purchase_tac(
                &entry.card,
                entry.key_version,
                &purchase_tac_data(entry),
                tac,
            )
            .map_err(boxed)
    }

    fn reverse(&mut self, _reversal: &LoadReversal) -> Result<bool, BoxError> {
        Ok(false)
    }

    fn apdus(&self) -> u64 {
        self.sam.apdus()
    }
}

struct HostVerifier<'a, H: Host + ?Sized>(&'a mut H);

impl<H: Host + ?Sized> Verifier for HostVerifier<'_, H> {
    fn mac2(&mut self, entry: &JournalEntry, mac2: &[u8; 4]) -> Result<Mac2Check, BoxError> {
        Ok(if entry.kind.is_load() {
            load_mac2_check(entry, mac2)
        } else {
            Mac2Check::NoSession
        })
    }

    fn tac(&mut self, entry: &JournalEntry, tac: &[u8; 4]) -> Result<TacCheck, BoxError> {
        if !entry.kind.is_load() {
            return Ok(TacCheck::Unavailable);
        }
        self.0
            .check_load_tac(&entry.card, entry.key_index, &load_tac_data(entry), tac)
            .map_err(boxed)
    }

    fn reverse(&mut self, reversal: &LoadReversal) -> Result<bool, BoxError> {
        self.0.reverse_load(reversal).map_err(boxed)?;
        Ok(true)
    }

    fn apdus(&self) -> u64 {
        0
    }
}

fn settlement_record(
    id: u64,
    entry: &JournalEntry,
    status: RecordStatus,
    tac: Option<[u8; 4]>,
    mac2_verified: bool,
    tac_verified: bool,
) -> SettlementRecord {
    let balance_after = if entry.kind.is_load() {
        entry.balance_before.saturating_add(entry.amount)
    } else {
        entry.balance_before.saturating_sub(entry.amount)
    };
    SettlementRecord {
        id,
        status,
        kind: entry.kind,
        transaction_type: [entry.kind.type_byte()],
        card_number: entry.card_number.clone(),
        amount: entry.amount,
        balance_before: entry.balance_before,
        balance_after,
        card_counter: entry.transaction_counter(),
        key_index: entry.key_index,
        key_version: entry.key_version,
        terminal_id: entry.terminal_id,
        terminal_serial: entry.terminal_serial,
        date: entry.date,
        time: entry.time,
        tac,
        tac_verified,
        mac2_verified,
        trip: entry.trip,
        clearing: entry.clearing,
    }
}

/// What the card's EF18 log says about a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogEvidence {
    /// A record of this entry's counter and type with this terminal's number, amount, date and
    /// time: the card did it.
    Ours,
    /// A record of this entry's counter and type from another transaction — differing from ours
    /// in at least two fields, and read twice alike: the counter was used by something else, so
    /// this entry was not carried out.
    Other,
    /// The log does not reach this counter (wrapped, empty, unreadable, or ends before it).
    Unknown,
}

/// Reads EF18 (newest first, at most `scan` records) for the entry's transaction (pboc-notes
/// §4.6). "Not found" is [`LogEvidence::Unknown`], never proof that the card did not execute.
fn log_evidence<T: Transport>(
    layer: &mut ApduLayer<T>,
    entry: &JournalEntry,
    scan: u8,
) -> Flow<LogEvidence, T::Error> {
    let counter = entry.transaction_counter();
    let type_byte = entry.kind.type_byte();
    let is_load = |t: u8| t == 0x01 || t == 0x02;
    for number in 1..=scan {
        let command = Command::new(
            0x00,
            0xB2,
            number,
            (0x18 << 3) | 0x04,
            Vec::new(),
            Some(0x17),
        )
        .map_err(encoding("READ RECORD EF18"))?;
        let response = exchange(layer, &command)?;
        if !response.is_success() {
            return Ok(LogEvidence::Unknown);
        }
        let Ok(record) = PurseLogRecord::parse(&response.data) else {
            return Ok(LogEvidence::Unknown);
        };
        if record.atc == counter && record.transaction_type == type_byte {
            let ours = record.amount == entry.amount
                && record.terminal_id == entry.terminal_id
                && record.date == entry.date
                && record.time == entry.time;
            if ours {
                return Ok(LogEvidence::Ours);
            }
            // EF18 is not authenticated, so "another transaction used our counter" voids an
            // entry only when it cannot be our own record damaged in flight: it must differ from
            // ours in at least two independent fields (another terminal's transaction differs
            // in terminal number and in amount or time; one corrupted byte changes one field),
            // and a second read of the record must give the same bytes.
            let differing = [
                record.amount != entry.amount,
                record.terminal_id != entry.terminal_id,
                record.date != entry.date || record.time != entry.time,
            ]
            .into_iter()
            .filter(|&differs| differs)
            .count();
            let again = exchange(layer, &command)?;
            let confirmed = again.is_success() && again.data == response.data;
            return Ok(if differing >= 2 && confirmed {
                LogEvidence::Other
            } else {
                LogEvidence::Unknown
            });
        }
        // Newest first: an older transaction of the same counter kind means ours is not there
        // (the counter check decides whether it ever happened).
        if is_load(record.transaction_type) == entry.kind.is_load() && record.atc < counter {
            return Ok(LogEvidence::Unknown);
        }
    }
    Ok(LogEvidence::Unknown)
}

/// Proof that the card did **not** carry out `entry`: INITIALIZE (FOR PURCHASE or FOR LOAD,
/// which moves nothing) shows the counter still at the value the entry's INITIALIZE returned —
/// every DEBIT / CREDIT advances it — and, on the tap that sent the command (`same_tap`), the
/// balance unchanged. Anything else (refused, malformed, counter moved, balance moved) is no
/// proof.
fn counter_unchanged<T: Transport>(
    layer: &mut ApduLayer<T>,
    entry: &JournalEntry,
    same_tap: bool,
) -> Flow<bool, T::Error> {
    let purse = match entry.kind {
        TransactionKind::DepositLoad | TransactionKind::DepositPurchase => Purse::Deposit,
        _ => Purse::Purse,
    };
    let load = entry.kind.is_load();
    let command = if load {
        Command::initialize_for_load(purse, entry.key_index, entry.amount, &entry.terminal_id)
    } else {
        Command::initialize_for_purchase(purse, entry.key_index, entry.amount, &entry.terminal_id)
    };
    let response = exchange(layer, &command)?;
    if !response.is_success() {
        return Ok(false);
    }
    let state = if load {
        LoadInit::parse(&response.data).map(|init| (init.balance, init.online_atc))
    } else {
        PurchaseInit::parse(&response.data).map(|init| (init.balance, init.offline_atc))
    };
    Ok(match state {
        Ok((balance, counter)) => {
            counter == entry.counter && (!same_tap || balance == entry.balance_before)
        }
        Err(_) => false,
    })
}

/// What the card's evidence says about an entry whose DEBIT / CREDIT was sent.
#[derive(Debug)]
enum Evidence {
    /// The card did it: the record to write (claimable, or flagged for the clearing host).
    Executed(SettlementRecord),
    /// Proved not done: the entry may be voided.
    NotExecuted,
    /// No proof either way: the entry stays pending (disputed).
    Unknown,
}

/// Asks the card whether it carried out the pending entry `id` — the purse state machine's
/// one decision point, used on the tap that sent DEBIT / CREDIT (`same_tap`, after an answer
/// that was not a verified success) and by recovery on a later tap:
///
/// | evidence, in the order asked | decision | journal |
/// |---|---|---|
/// | GET TRANSACTION PROVE gives a MAC2 the SAM (purchase) / the host's MAC2 (load) verifies | executed | record `paid` / `loaded` (same tap) or `recovered`; `tac_invalid` when the TAC is rejected |
/// | a proof whose MAC2 cannot be checked (SAM lost the session) + EF18 holds our record | executed | `recovered`, `mac2_verified: false`, TAC checked; `tac_invalid` when rejected |
/// | a proof whose MAC2 is rejected + EF18 holds our record | executed | `disputed` record (flagged for the clearing host) |
/// | no proof + EF18 holds our record | executed | `disputed` record (flagged for the clearing host) |
/// | EF18 holds *another* transaction with our counter and type (differing from ours in two or more of amount, terminal, date/time; a second read gives the same bytes) | not executed | voided (a load: reversed first) |
/// | INITIALIZE shows the counter not advanced (and, same tap, the balance unchanged) | not executed | voided (a load: reversed first) |
/// | none of the above (log wrapped past our counter, counter advanced, card refuses, …) | **unknown** | stays **pending**: the tap ends `disputed`; the card is not charged (loaded) again until evidence on a later tap or the back office ([`resolve_dispute`]) settles it |
///
/// `ask_sam`: the SAM's MAC2 session can only be this entry's when it is the newest the
/// terminal began (or on the same tap).
#[allow(clippy::too_many_arguments)]
fn examine<T: Transport>(
    layer: &mut ApduLayer<T>,
    verifier: &mut dyn Verifier,
    id: u64,
    entry: &JournalEntry,
    ask_sam: bool,
    same_tap: bool,
    config: &PurseConfig,
) -> Flow<Evidence, T::Error> {
    let prove = exchange(
        layer,
        &Command::get_transaction_prove(entry.kind.type_byte(), entry.transaction_counter()),
    )?;
    let proof = if prove.is_success() {
        layout::split_prove(&prove.data)
    } else {
        None
    };
    let proved_status = match (same_tap, entry.kind.is_load()) {
        (false, _) => RecordStatus::Recovered,
        (true, false) => RecordStatus::Paid,
        (true, true) => RecordStatus::Loaded,
    };
    let log = match proof {
        Some((mac2, tac)) => {
            let check = if entry.kind.is_load() || ask_sam {
                verifier.mac2(entry, &mac2).map_err(sam_unsettled)?
            } else {
                Mac2Check::NoSession
            };
            let log = if check == Mac2Check::Verified {
                LogEvidence::Ours
            } else {
                log_evidence(layer, entry, config.log_scan)?
            };
            match (check, log) {
                (Mac2Check::Invalid, LogEvidence::Ours) => {
                    return Ok(Evidence::Executed(settlement_record(
                        id,
                        entry,
                        RecordStatus::Disputed,
                        Some(tac),
                        false,
                        false,
                    )))
                }
                (_, LogEvidence::Ours) => {
                    let tac_check = verifier.tac(entry, &tac).map_err(sam_unsettled)?;
                    let status = if tac_check == TacCheck::Invalid {
                        RecordStatus::TacInvalid
                    } else {
                        proved_status
                    };
                    return Ok(Evidence::Executed(settlement_record(
                        id,
                        entry,
                        status,
                        Some(tac),
                        check == Mac2Check::Verified,
                        tac_check == TacCheck::Verified,
                    )));
                }
                (_, log) => log,
            }
        }
        None => match log_evidence(layer, entry, config.log_scan)? {
            LogEvidence::Ours => {
                return Ok(Evidence::Executed(settlement_record(
                    id,
                    entry,
                    RecordStatus::Disputed,
                    None,
                    false,
                    false,
                )))
            }
            log => log,
        },
    };
    if log == LogEvidence::Other || counter_unchanged(layer, entry, same_tap)? {
        Ok(Evidence::NotExecuted)
    } else {
        Ok(Evidence::Unknown)
    }
}

/// What recovery did with this card's pending entries.
#[derive(Default)]
struct Recovery {
    /// The last entry completed (recovered, disputed, TAC invalid), with its class.
    completed: Option<SettlementRecord>,
    voided: Vec<u64>,
    /// Entries left pending with no proof either way, and whether each is a load.
    unresolved: Vec<(u64, bool)>,
}

fn journal_err<E: core::error::Error + 'static, J: core::error::Error + Send + Sync + 'static>(
    e: J,
) -> FlowError<E> {
    FlowError::Journal(Box::new(e))
}

/// Records `record` (the card has moved money) and fills `result` from it. A journal that
/// cannot record it does not turn the tap into a decline: the outcome becomes
/// [`PurseOutcome::PaidUnrecorded`] / [`PurseOutcome::LoadedUnrecorded`] with the record kept
/// in the result, and the pending entry (durable since `begin`) stays for recovery.
fn settle<J: Journal + ?Sized>(journal: &mut J, result: &mut TapResult, record: SettlementRecord) {
    let failed = journal.complete(&record).err();
    let load = record.kind.is_load();
    finish(result, record);
    if let Some(e) = failed {
        result.outcome = if load {
            PurseOutcome::LoadedUnrecorded
        } else {
            PurseOutcome::PaidUnrecorded
        };
        result.reason = Some(DeclineReason::JournalFailed {
            detail: e.to_string(),
        });
    }
}

/// Settles every pending entry of this card it can (pboc-notes §4.3 step 9) with [`examine`].
fn recover<T: Transport, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    journal: &mut J,
    verifier: &mut dyn Verifier,
    info: &CardInfo,
    config: &PurseConfig,
) -> Flow<Recovery, T::Error> {
    let mut recovery = Recovery::default();
    let pending = journal.pending();
    // The SAM's pending MAC2 session can only belong to the newest entry this terminal began:
    // any later purchase ran its own INIT SAM FOR PURCHASE. Older entries are not shown to the
    // SAM (its answer would be about another transaction) and rely on EF18 instead.
    let newest = journal.newest_id();
    let mine: Vec<Pending> = pending
        .into_iter()
        .filter(|p| p.entry.card == info.identity)
        .collect();
    for Pending { id, entry } in mine {
        match examine(
            layer,
            verifier,
            id,
            &entry,
            Some(id) == newest,
            false,
            config,
        )? {
            Evidence::Executed(record) => {
                journal.complete(&record).map_err(journal_err)?;
                recovery.completed = Some(record);
            }
            Evidence::NotExecuted => {
                // A load the host approved is reversed before its entry is voided; without a
                // host link (a purchase tap) it stays pending for the next load tap.
                if let Some(reversal) = load_reversal(id, &entry, ReversalReason::NotCarriedOut) {
                    if !verifier.reverse(&reversal).map_err(host_unsettled)? {
                        continue;
                    }
                }
                journal.void(id).map_err(journal_err)?;
                recovery.voided.push(id);
            }
            Evidence::Unknown => recovery.unresolved.push((id, entry.kind.is_load())),
        }
    }
    Ok(recovery)
}

/// How the back office settles a disputed entry (one left pending because the card could not
/// prove either way), from evidence outside the terminal (the clearing host's card statement,
/// the issuer's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeResolution {
    /// The card did carry it out: a [`RecordStatus::Disputed`] record is written for the
    /// clearing host (not claimable automatically).
    Executed,
    /// The card did not: the entry is voided (for a load the host approved, the operator sends
    /// the reversal).
    NotExecuted,
}

/// Settles the pending entry `id` by the back office's decision; `Ok(None)` when no entry has
/// that id. The next tap of the card is then charged normally.
pub fn resolve_dispute<J: Journal + ?Sized>(
    journal: &mut J,
    id: u64,
    resolution: DisputeResolution,
) -> Result<Option<SettlementRecord>, J::Error> {
    let Some(Pending { entry, .. }) = journal.pending().into_iter().find(|p| p.id == id) else {
        return Ok(None);
    };
    match resolution {
        DisputeResolution::Executed => {
            let record = settlement_record(id, &entry, RecordStatus::Disputed, None, false, false);
            journal.complete(&record)?;
            Ok(Some(record))
        }
        DisputeResolution::NotExecuted => {
            journal.void(id)?;
            Ok(None)
        }
    }
}

/// Turns a recovery of the same class (purchase / load) into the tap's result.
fn recovered_result<T: Transport>(
    tap: &Tap,
    layer: &ApduLayer<T>,
    sam_apdus: u64,
    recovery: &Recovery,
    load: bool,
) -> Option<TapResult> {
    match &recovery.completed {
        Some(record) if record.kind.is_load() == load => {
            let (outcome, reason) = match record.status {
                RecordStatus::Recovered => (PurseOutcome::Recovered, None),
                RecordStatus::TacInvalid => {
                    (PurseOutcome::Declined, Some(DeclineReason::TacInvalid))
                }
                _ => (
                    PurseOutcome::Declined,
                    Some(DeclineReason::RecoveryDisputed),
                ),
            };
            let mut result = tap.result(layer, sam_apdus, outcome, reason);
            result.amount = record.amount;
            result.balance_before = Some(record.balance_before);
            result.balance_after = Some(record.balance_after);
            result.tac = record.tac;
            result.record = recovery.completed.clone();
            result.voided = recovery.voided.clone();
            Some(result)
        }
        _ => None,
    }
}

fn balance<T: Transport>(
    layer: &mut ApduLayer<T>,
    purse: Purse,
) -> Flow<Result<PurseAmount, DeclineReason>, T::Error> {
    let response = exchange(layer, &Command::get_balance(purse))?;
    if !response.is_success() {
        return Ok(Err(DeclineReason::CardRefused {
            command: "GET BALANCE",
            sw: response.sw,
        }));
    }
    match response.data.as_slice() {
        [a, b, c, d] => Ok(Ok(PurseAmount::from_be_bytes([*a, *b, *c, *d]))),
        other => Err(FlowError::CardData(CardDataError::length(
            "GET BALANCE response",
            4,
            other.len(),
        ))),
    }
}

/// The purchase half shared by [`purchase`] and [`capp_purchase`]: after INITIALIZE, the
/// SAM's MAC1, the journal, DEBIT, MAC2 and TAC.
struct Debit<'a> {
    info: &'a CardInfo,
    init: PurchaseInit,
    amount: PurseAmount,
    kind: TransactionKind,
    key_index: u8,
    date: TransactionDate,
    time: TransactionTime,
    trip: Option<TripNote>,
}

fn debit<T: Transport, S: Sam + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    sam: &mut S,
    journal: &mut J,
    config: &PurseConfig,
    tap: &Tap,
    debit: Debit<'_>,
    voided: Vec<u64>,
) -> Flow<TapResult, T::Error> {
    let Debit {
        info,
        init,
        amount,
        kind,
        key_index,
        date,
        time,
        trip,
    } = debit;
    let auth = sam
        .init_purchase(&SamPurchase {
            card: info.identity,
            init,
            amount,
            transaction_type: kind.type_byte(),
            date,
            time,
        })
        .map_err(|e| FlowError::Sam(boxed(e)))?;
    let entry = JournalEntry {
        kind,
        card: info.identity,
        card_number: info.number.masked(),
        amount,
        balance_before: init.balance,
        counter: init.offline_atc,
        key_index,
        key_version: init.key_version,
        terminal_id: sam.terminal_id(),
        terminal_serial: Some(auth.terminal_serial),
        date: date.to_yyyymmdd_bcd(),
        time: time.to_bcd(),
        host_mac2: None,
        trip,
        clearing: Some(PurseClearingData::new(info, init.algorithm_id)),
    };
    let id = journal.begin(&entry).map_err(journal_err)?;
    // From here on the card may have moved money: every answer but a verified success goes to
    // `examine`, which asks the card before anything is voided.
    let response = exchange(
        layer,
        &Command::debit_for_purchase(auth.terminal_serial, date, time, &auth.mac1),
    )?;
    let mut result = tap.result(layer, sam.apdus(), PurseOutcome::Declined, None);
    result.amount = amount;
    result.balance_before = Some(init.balance);
    result.voided = voided;
    // TAC 4 ‖ MAC2 4 (pboc-notes §4.1).
    let answer = match response.data.as_slice() {
        [t0, t1, t2, t3, m0, m1, m2, m3] if response.is_success() => {
            Some(([*t0, *t1, *t2, *t3], [*m0, *m1, *m2, *m3]))
        }
        _ => None,
    };
    let failure = match answer {
        Some((tac, mac2)) => {
            // A SAM that lost the session or failed leaves the entry pending.
            match sam
                .verify_mac2(&mac2)
                .map_err(|e| sam_unsettled(boxed(e)))?
            {
                Mac2Check::Verified => {
                    // The card has done its part: the TAC check is SAM-local (see
                    // PurseConfig::check_tac).
                    let tac_check = if config.check_tac {
                        sam.check_purchase_tac(
                            &info.identity,
                            init.key_version,
                            &purchase_tac_data(&entry),
                            &tac,
                        )
                        .map_err(|e| sam_unsettled(boxed(e)))?
                    } else {
                        TacCheck::Unavailable
                    };
                    let status = match tac_check {
                        TacCheck::Invalid => RecordStatus::TacInvalid,
                        TacCheck::Verified | TacCheck::Unavailable => RecordStatus::Paid,
                    };
                    let record = settlement_record(
                        id,
                        &entry,
                        status,
                        Some(tac),
                        true,
                        tac_check == TacCheck::Verified,
                    );
                    settle(journal, &mut result, record);
                    result.sam_apdus = sam.apdus() - tap.sam_start;
                    result.apdus = layer.counters().apdus_sent - tap.start;
                    return Ok(result);
                }
                Mac2Check::Invalid => DeclineReason::Mac2Invalid,
                Mac2Check::NoSession => {
                    return Err(sam_unsettled(
                        "SAM lost the purchase session before MAC2".into(),
                    ))
                }
            }
        }
        None if response.is_success() => DeclineReason::BadAnswer {
            command: "DEBIT FOR PURCHASE",
        },
        None => DeclineReason::CardRefused {
            command: "DEBIT FOR PURCHASE",
            sw: response.sw,
        },
    };
    let evidence = examine(
        layer,
        &mut SamVerifier {
            sam: &mut *sam,
            check_tac: config.check_tac,
        },
        id,
        &entry,
        true,
        true,
        config,
    )?;
    match evidence {
        Evidence::Executed(record) => {
            settle(journal, &mut result, record);
        }
        Evidence::NotExecuted => {
            journal.void(id).map_err(journal_err)?;
            result.reason = Some(failure);
        }
        Evidence::Unknown => {
            result.outcome = PurseOutcome::Disputed;
            result.reason = Some(failure);
        }
    }
    result.sam_apdus = sam.apdus() - tap.sam_start;
    result.apdus = layer.counters().apdus_sent - tap.start;
    Ok(result)
}

/// Fills a tap's result from the record the card's answer (or proof) settled.
fn finish(result: &mut TapResult, record: SettlementRecord) {
    let (outcome, reason) = match record.status {
        RecordStatus::Paid | RecordStatus::Recovered if !record.kind.is_load() => {
            (PurseOutcome::Paid, None)
        }
        RecordStatus::Loaded | RecordStatus::Recovered => (PurseOutcome::Loaded, None),
        RecordStatus::Mac2Invalid => (PurseOutcome::Declined, Some(DeclineReason::Mac2Invalid)),
        RecordStatus::TacInvalid => (PurseOutcome::Declined, Some(DeclineReason::TacInvalid)),
        RecordStatus::Paid | RecordStatus::Disputed => (
            PurseOutcome::Declined,
            Some(DeclineReason::RecoveryDisputed),
        ),
    };
    result.outcome = outcome;
    result.reason = reason;
    result.tac = record.tac;
    if record.status.is_settled() {
        result.balance_after = Some(record.balance_after);
    }
    result.record = Some(record);
}

/// A card opened for a tap: the tap's counters, EF15, and the entries recovery voided.
type OpenedTap = (Tap, CardInfo, Vec<u64>);

/// Opens the card and settles its pending entries; `Err(result)` ends the tap.
fn begin_tap<T: Transport, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    journal: &mut J,
    verifier: &mut dyn Verifier,
    config: &PurseConfig,
    date: TransactionDate,
    time: TransactionTime,
    load: bool,
) -> Flow<Result<OpenedTap, TapResult>, T::Error> {
    let mut tap = Tap {
        start: layer.counters().apdus_sent,
        sam_start: verifier.apdus(),
        card_number: None,
        card: None,
    };
    let info = match open_card(layer, config, date)? {
        Opened::Card(info) => info,
        Opened::Declined(reason, number) => {
            tap.card_number = number;
            return Ok(Err(tap.result(
                layer,
                verifier.apdus(),
                PurseOutcome::Declined,
                Some(reason),
            )));
        }
    };
    tap.card_number = Some(info.number.clone());
    tap.card = Some(info.identity);
    let recovery = recover(layer, journal, verifier, &info, config)?;
    match recovered_result(&tap, layer, verifier.apdus(), &recovery, load) {
        Some(result) => Ok(Err(result)),
        None => {
            // A disputed entry of the same class (purchases share the offline counter, loads
            // the online one) blocks the tap: charging again could take the money twice.
            match recovery
                .unresolved
                .iter()
                .find(|(_, is_load)| *is_load == load)
            {
                Some(&(entry, _)) => {
                    let mut result = tap.result(
                        layer,
                        verifier.apdus(),
                        PurseOutcome::Disputed,
                        Some(DeclineReason::Unresolved { entry }),
                    );
                    result.voided = recovery.voided;
                    Ok(Err(result))
                }
                None => match config.repeat.paid_within(&info.identity, date, time) {
                    // The same card paid here moments ago (issue 11 item 4): nothing that moves
                    // money is sent.
                    Some(earlier) if !load => {
                        let mut result =
                            tap.result(layer, verifier.apdus(), PurseOutcome::AlreadyPaid, None);
                        result.amount = earlier.amount;
                        result.voided = recovery.voided;
                        Ok(Err(result))
                    }
                    _ => Ok(Ok((tap, info, recovery.voided))),
                },
            }
        }
    }
}

/// Whether the terminal's deny list refuses this card number (looked up as a PAN without a
/// sequence number; a number that is not a valid PAN cannot be on it).
fn on_deny_list(config: &PurseConfig, number: &CardNumber) -> bool {
    let Some(list) = &config.deny_check else {
        return false;
    };
    crate::values::Pan::from_digits(number.expose_digits())
        .is_ok_and(|pan| list.0.is_denied(&pan, None))
}

/// A refused tap reports the balance the card showed: when nothing moved (no record, no
/// pending entry of this tap), the balance after is the balance before.
fn show_unchanged_balance(mut result: TapResult) -> TapResult {
    let refused = matches!(
        result.outcome,
        PurseOutcome::Declined | PurseOutcome::InsufficientBalance
    );
    if refused && result.record.is_none() && result.balance_after.is_none() {
        result.balance_after = result.balance_before;
    }
    result
}

/// A purchase tap (pboc-notes §4.3): see the [module docs](self).
pub fn purchase<T: Transport, S: Sam + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    sam: &mut S,
    journal: &mut J,
    config: &PurseConfig,
    request: &PurchaseRequest,
) -> Flow<TapResult, T::Error> {
    purchase_tap(layer, sam, journal, config, request).map(show_unchanged_balance)
}

fn purchase_tap<T: Transport, S: Sam + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    sam: &mut S,
    journal: &mut J,
    config: &PurseConfig,
    request: &PurchaseRequest,
) -> Flow<TapResult, T::Error> {
    let (tap, info, voided) = match begin_tap(
        layer,
        journal,
        &mut SamVerifier {
            sam,
            check_tac: config.check_tac,
        },
        config,
        request.date,
        request.time,
        false,
    )? {
        Ok(opened) => opened,
        Err(result) => return Ok(result),
    };
    let purse = config.application.purse;
    let declined = |layer: &ApduLayer<T>, sam: &S, outcome, reason, voided| {
        let mut result = tap.result(layer, sam.apdus(), outcome, reason);
        result.amount = request.amount;
        result.voided = voided;
        result
    };
    let balance = match balance(layer, purse)? {
        Ok(balance) => balance,
        Err(reason) => {
            return Ok(declined(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
            ))
        }
    };
    if balance < request.amount {
        let mut result = declined(layer, sam, PurseOutcome::InsufficientBalance, None, voided);
        result.balance_before = Some(balance);
        return Ok(result);
    }
    let key_index = sam.key_index();
    let kind = match purse {
        Purse::Purse => TransactionKind::PursePurchase,
        Purse::Deposit => TransactionKind::DepositPurchase,
    };
    let init =
        Command::initialize_for_purchase(purse, key_index, request.amount, &sam.terminal_id());
    let init = exchange(layer, &init)?;
    let init = match init.sw {
        StatusWord::OK => PurchaseInit::parse(&init.data)?,
        StatusWord::INSUFFICIENT_BALANCE => {
            let mut result = declined(layer, sam, PurseOutcome::InsufficientBalance, None, voided);
            result.balance_before = Some(balance);
            return Ok(result);
        }
        sw => {
            let reason = DeclineReason::CardRefused {
                command: "INITIALIZE FOR PURCHASE",
                sw,
            };
            return Ok(declined(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
            ));
        }
    };
    // INITIALIZE's old balance is the one the debit, the record and the TAC rest on: it must be
    // the balance GET BALANCE just gave (issue 15: "paid" results reported invented balances).
    if init.balance != balance {
        let reason = DeclineReason::BalanceMismatch {
            get_balance: balance,
            initialize: init.balance,
        };
        let mut result = declined(layer, sam, PurseOutcome::Declined, Some(reason), voided);
        result.balance_before = Some(balance);
        return Ok(result);
    }
    // A card whose INITIALIZE balance does not cover the amount is not debited (no overdraft
    // is used, as for GET BALANCE). Found by the purse_purchase fuzz target: the tap was paid
    // with balance after = 0 saturated from a negative value.
    if init.balance < request.amount {
        let mut result = declined(layer, sam, PurseOutcome::InsufficientBalance, None, voided);
        result.balance_before = Some(init.balance);
        return Ok(result);
    }
    let step = Debit {
        info: &info,
        init,
        amount: request.amount,
        kind,
        key_index,
        date: request.date,
        time: request.time,
        trip: None,
    };
    debit(layer, sam, journal, config, &tap, step, voided)
}

/// A composite (CAPP) purchase tap for segmented fares (pboc-notes §4.7): reads the trip record
/// (before INITIALIZE, because the amount goes into INITIALIZE), asks `fare`, then INITIALIZE
/// FOR CAPP PURCHASE, UPDATE CAPP DATA CACHE with the new record (and an EF1E travel record),
/// and the purchase half.
pub fn capp_purchase<T: Transport, S: Sam + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    sam: &mut S,
    journal: &mut J,
    config: &PurseConfig,
    fare: &dyn FarePolicy,
    request: &CappRequest,
) -> Flow<TapResult, T::Error> {
    capp_purchase_tap(layer, sam, journal, config, fare, request).map(show_unchanged_balance)
}

fn capp_purchase_tap<T: Transport, S: Sam + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    sam: &mut S,
    journal: &mut J,
    config: &PurseConfig,
    fare: &dyn FarePolicy,
    request: &CappRequest,
) -> Flow<TapResult, T::Error> {
    let (tap, info, voided) = match begin_tap(
        layer,
        journal,
        &mut SamVerifier {
            sam,
            check_tac: config.check_tac,
        },
        config,
        request.date,
        request.time,
        false,
    )? {
        Ok(opened) => opened,
        Err(result) => return Ok(result),
    };
    let end = |layer: &ApduLayer<T>, sam: &S, outcome, reason, voided, amount| {
        let mut result = tap.result(layer, sam.apdus(), outcome, reason);
        result.amount = amount;
        result.voided = voided;
        result
    };
    let Some(capp) = config.application.capp else {
        return Ok(end(
            layer,
            sam,
            PurseOutcome::Declined,
            Some(DeclineReason::NoCapp),
            voided,
            PurseAmount::ZERO,
        ));
    };
    let balance = match balance(layer, Purse::Purse)? {
        Ok(balance) => balance,
        Err(reason) => {
            return Ok(end(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
                PurseAmount::ZERO,
            ))
        }
    };
    let read = Command::read_record(capp.record, capp.sfi).map_err(encoding("READ RECORD trip"))?;
    let read = exchange(layer, &read)?;
    if !read.is_success() {
        let reason = DeclineReason::CardRefused {
            command: "READ RECORD trip",
            sw: read.sw,
        };
        return Ok(end(
            layer,
            sam,
            PurseOutcome::Declined,
            Some(reason),
            voided,
            PurseAmount::ZERO,
        ));
    }
    let trip = match TripRecord::parse(&read.data) {
        Ok(trip) => trip,
        Err(e) => {
            let reason = DeclineReason::TripRecord {
                detail: e.to_string(),
            };
            return Ok(end(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
                PurseAmount::ZERO,
            ));
        }
    };
    let decision: FareDecision = fare.decide(trip.state(), request.station);
    if balance < decision.amount {
        let mut result = end(
            layer,
            sam,
            PurseOutcome::InsufficientBalance,
            None,
            voided,
            decision.amount,
        );
        result.balance_before = Some(balance);
        return Ok(result);
    }
    let key_index = sam.key_index();
    let terminal_id = sam.terminal_id();
    let init = Command::initialize_for_capp_purchase(key_index, decision.amount, &terminal_id);
    let init = exchange(layer, &init)?;
    let init = match init.sw {
        StatusWord::OK => PurchaseInit::parse(&init.data)?,
        StatusWord::INSUFFICIENT_BALANCE => {
            let mut result = end(
                layer,
                sam,
                PurseOutcome::InsufficientBalance,
                None,
                voided,
                decision.amount,
            );
            result.balance_before = Some(balance);
            return Ok(result);
        }
        sw => {
            let reason = DeclineReason::CardRefused {
                command: "INITIALIZE FOR CAPP PURCHASE",
                sw,
            };
            return Ok(end(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
                decision.amount,
            ));
        }
    };
    // As in [`purchase`]: INITIALIZE's balance must be GET BALANCE's and cover the amount.
    if init.balance != balance {
        let reason = DeclineReason::BalanceMismatch {
            get_balance: balance,
            initialize: init.balance,
        };
        let mut result = end(
            layer,
            sam,
            PurseOutcome::Declined,
            Some(reason),
            voided,
            decision.amount,
        );
        result.balance_before = Some(balance);
        return Ok(result);
    }
    if init.balance < decision.amount {
        let mut result = end(
            layer,
            sam,
            PurseOutcome::InsufficientBalance,
            None,
            voided,
            decision.amount,
        );
        result.balance_before = Some(init.balance);
        return Ok(result);
    }
    let updated = trip.updated(
        &decision,
        request.station,
        &terminal_id,
        init.balance,
        request.date,
        request.time,
    );
    let mut updates = vec![(trip.id(), capp.sfi, updated)];
    if let Some(travel) = capp.travel_sfi {
        let after = init.balance.saturating_sub(decision.amount);
        let record = travel_record(
            &decision,
            request.station,
            &terminal_id,
            after,
            request.date,
            request.time,
        );
        updates.push((0x00, travel, record));
    }
    for (id, file, record) in updates {
        let command = Command::update_capp_data_cache(id, file, &record)
            .map_err(encoding("UPDATE CAPP DATA CACHE"))?;
        let response = exchange(layer, &command)?;
        if !response.is_success() {
            let reason = DeclineReason::CardRefused {
                command: "UPDATE CAPP DATA CACHE",
                sw: response.sw,
            };
            return Ok(end(
                layer,
                sam,
                PurseOutcome::Declined,
                Some(reason),
                voided,
                decision.amount,
            ));
        }
    }
    let entry_station = match trip.state() {
        super::fare::TripState::Inside { entry, .. } => Some(entry.number),
        _ => None,
    };
    let step = Debit {
        info: &info,
        init,
        amount: decision.amount,
        kind: TransactionKind::CappPurchase,
        key_index,
        date: request.date,
        time: request.time,
        trip: Some(TripNote {
            entry: decision.phase == FarePhase::Entry,
            line: request.station.line,
            station: request.station.number,
            entry_station,
        }),
    };
    debit(layer, sam, journal, config, &tap, step, voided)
}

/// A load (top-up) tap (pboc-notes §4.5): INITIALIZE FOR LOAD, the host verifies MAC1 and gives
/// MAC2, the journal, CREDIT FOR LOAD, TAC.
pub fn load<T: Transport, H: Host + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    host: &mut H,
    journal: &mut J,
    config: &PurseConfig,
    request: &LoadRequest,
) -> Flow<TapResult, T::Error> {
    load_tap(layer, host, journal, config, request).map(show_unchanged_balance)
}

fn load_tap<T: Transport, H: Host + ?Sized, J: Journal + ?Sized>(
    layer: &mut ApduLayer<T>,
    host: &mut H,
    journal: &mut J,
    config: &PurseConfig,
    request: &LoadRequest,
) -> Flow<TapResult, T::Error> {
    let (tap, info, voided) = match begin_tap(
        layer,
        journal,
        &mut HostVerifier(host),
        config,
        request.date,
        request.time,
        true,
    )? {
        Ok(opened) => opened,
        Err(result) => return Ok(result),
    };
    let purse = config.application.purse;
    let kind = match purse {
        Purse::Purse => TransactionKind::PurseLoad,
        Purse::Deposit => TransactionKind::DepositLoad,
    };
    let mut result = tap.result(layer, 0, PurseOutcome::Declined, None);
    result.amount = request.amount;
    result.voided = voided;
    let init = Command::initialize_for_load(
        purse,
        request.key_index,
        request.amount,
        &request.terminal_id,
    );
    let init = exchange(layer, &init)?;
    if !init.is_success() {
        result.apdus = layer.counters().apdus_sent - tap.start;
        result.reason = Some(DeclineReason::CardRefused {
            command: "INITIALIZE FOR LOAD",
            sw: init.sw,
        });
        return Ok(result);
    }
    let init = LoadInit::parse(&init.data)?;
    result.balance_before = Some(init.balance);
    // The new balance goes into the TAC and the record; a card claiming a balance the amount
    // would overflow is refused here rather than recorded with a saturated balance.
    if init.balance.checked_add(request.amount).is_none() {
        result.apdus = layer.counters().apdus_sent - tap.start;
        result.reason = Some(DeclineReason::BalanceOverflow);
        return Ok(result);
    }
    let decision = host
        .authorise_load(&LoadAuthorisation {
            card: info.identity,
            key_index: request.key_index,
            init,
            amount: request.amount,
            transaction_type: kind.type_byte(),
            terminal_id: request.terminal_id,
            date: request.date,
            time: request.time,
        })
        .map_err(|e| FlowError::Host(boxed(e)))?;
    let mac2 = match decision {
        HostDecision::Approved { mac2 } => mac2,
        HostDecision::Declined { reason } => {
            result.apdus = layer.counters().apdus_sent - tap.start;
            result.reason = Some(DeclineReason::HostDeclined { detail: reason });
            return Ok(result);
        }
    };
    let entry = JournalEntry {
        kind,
        card: info.identity,
        card_number: info.number.masked(),
        amount: request.amount,
        balance_before: init.balance,
        counter: init.online_atc,
        key_index: request.key_index,
        key_version: init.key_version,
        terminal_id: request.terminal_id,
        terminal_serial: None,
        date: request.date.to_yyyymmdd_bcd(),
        time: request.time.to_bcd(),
        host_mac2: Some(mac2),
        trip: None,
        clearing: Some(PurseClearingData::new(&info, init.algorithm_id)),
    };
    let id = journal.begin(&entry).map_err(journal_err)?;
    // From here on the card may have moved money (see `debit`).
    let credit = exchange(
        layer,
        &Command::credit_for_load(request.date, request.time, &mac2),
    )?;
    let tac: Option<[u8; 4]> = if credit.is_success() {
        credit.data.as_slice().try_into().ok()
    } else {
        None
    };
    if let Some(tac) = tac {
        let tac_check = host
            .check_load_tac(
                &info.identity,
                request.key_index,
                &load_tac_data(&entry),
                &tac,
            )
            .map_err(|e| host_unsettled(boxed(e)))?;
        let status = if tac_check == TacCheck::Invalid {
            RecordStatus::TacInvalid
        } else {
            RecordStatus::Loaded
        };
        let record = settlement_record(
            id,
            &entry,
            status,
            Some(tac),
            true,
            tac_check == TacCheck::Verified,
        );
        settle(journal, &mut result, record);
        result.apdus = layer.counters().apdus_sent - tap.start;
        return Ok(result);
    }
    let (failure, reversal_reason) = if credit.is_success() {
        (
            DeclineReason::BadAnswer {
                command: "CREDIT FOR LOAD",
            },
            ReversalReason::NotCarriedOut,
        )
    } else {
        (
            DeclineReason::CardRefused {
                command: "CREDIT FOR LOAD",
                sw: credit.sw,
            },
            ReversalReason::CardRefusedCredit(credit.sw),
        )
    };
    let evidence = examine(
        layer,
        &mut HostVerifier(&mut *host),
        id,
        &entry,
        true,
        true,
        config,
    )?;
    match evidence {
        Evidence::Executed(record) => {
            settle(journal, &mut result, record);
        }
        Evidence::NotExecuted => {
            // Nothing credited: the host, which approved, is told before the entry is voided.
            if let Some(reversal) = load_reversal(id, &entry, reversal_reason) {
                host.reverse_load(&reversal)
                    .map_err(|e| host_unsettled(boxed(e)))?;
            }
            journal.void(id).map_err(journal_err)?;
            result.reason = Some(failure);
        }
        Evidence::Unknown => {
            result.outcome = PurseOutcome::Disputed;
            result.reason = Some(failure);
        }
    }
    result.apdus = layer.counters().apdus_sent - tap.start;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::purse::sam::{NoDiversification, SoftwareSam, SoftwareSamKey};
    use crate::purse::{MemoryJournal, UnwrittenRecords};
    use quickpass_crypto::secret::SecretKey;

    /// A card answering from a list (the fuzz target's card), counting commands.
    struct Scripted {
        responses: std::vec::IntoIter<Vec<u8>>,
        commands: Vec<Vec<u8>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("card removed")]
    struct Removed;

    impl crate::transport::TransportError for Removed {
        fn link_failure(&self) -> crate::transport::LinkFailure {
            crate::transport::LinkFailure::CardRemoved
        }
    }

    impl Transport for Scripted {
        type Error = Removed;

        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Removed> {
            self.commands.push(command.to_vec());
            self.responses.next().ok_or(Removed)
        }
    }

    /// purse_purchase fuzz crash `29ea2af0…`: GET BALANCE says 100.00 yuan, INITIALIZE FOR
    /// PURCHASE says 0.16 yuan for a 40.96 yuan purchase, and DEBIT answers a MAC2 that verifies
    /// (MAC2 does not cover the balance). The tap used to be paid with a balance after of 0.
    #[test]
    fn initialize_balance_below_the_amount_is_not_debited() {
        let responses = [
            "6F0B84075041592E535A54A5009000",
            "000000000000000000000000000000000000000120100101204912319000",
            "000027109000",
            "0000001000000000000100112233449000",
            "F5B221C956988A139000",
        ];
        let mut layer = ApduLayer::new(Scripted {
            responses: responses
                .iter()
                .map(|r| hex::decode(r).expect("hex"))
                .collect::<Vec<_>>()
                .into_iter(),
            commands: Vec::new(),
        });
        let key = || SecretKey::new(&hex::decode("11223344556677888877665544332211").expect("hex"));
        let mut sam = SoftwareSam::new(
            [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            1,
            1,
            vec![SoftwareSamKey {
                version: 1,
                algorithm_id: 0,
                purchase: key(),
                tac: Some(key()),
            }],
            NoDiversification,
        );
        let mut journal = MemoryJournal::new();
        let request = PurchaseRequest {
            amount: PurseAmount::from_fen(0x1000),
            date: TransactionDate::new(2012, 2, 29).expect("date"),
            time: TransactionTime::new(13, 51, 0).expect("time"),
        };
        let result = purchase(
            &mut layer,
            &mut sam,
            &mut journal,
            &PurseConfig::new(PurseApplication::city(b"PAY.SZT")),
            &request,
        )
        .expect("a typed outcome");
        // GET BALANCE and INITIALIZE disagree (issue 15 item 6): a typed decline, no DEBIT.
        assert_eq!(
            (result.outcome, result.reason.clone()),
            (
                PurseOutcome::Declined,
                Some(DeclineReason::BalanceMismatch {
                    get_balance: PurseAmount::from_fen(0x2710),
                    initialize: PurseAmount::from_fen(0x10),
                })
            ),
            "{result:?}"
        );
        assert_eq!(result.balance_before, Some(PurseAmount::from_fen(0x2710)));
        assert!(journal.records().is_empty() && journal.pending().is_empty());
        let sent = &layer.transport().commands;
        assert!(
            sent.iter().all(|c| c[1] != 0x54),
            "DEBIT FOR PURCHASE must not be sent"
        );
    }

    /// A host that must not be asked.
    struct NoHost;

    impl Host for NoHost {
        type Error = Removed;

        fn authorise_load(&mut self, _: &LoadAuthorisation) -> Result<HostDecision, Removed> {
            panic!("the host must not be asked for an implausible load");
        }

        fn reverse_load(&mut self, _: &LoadReversal) -> Result<(), Removed> {
            panic!("nothing was approved, so nothing is reversed");
        }
    }

    /// INITIALIZE FOR LOAD claiming a balance the amount would overflow: refused before the
    /// host, never recorded with a saturated balance.
    #[test]
    fn a_load_overflowing_the_balance_is_refused_before_the_host() {
        let responses = [
            "6F0B84075041592E535A54A5009000",
            "000000000000000000000000000000000000000120100101204912319000",
            // balance FFFFFF00 ‖ online ATC ‖ key version ‖ algorithm ‖ random ‖ MAC1
            "FFFFFF000001010011223344556677889000",
        ];
        let mut layer = ApduLayer::new(Scripted {
            responses: responses
                .iter()
                .map(|r| hex::decode(r).expect("hex"))
                .collect::<Vec<_>>()
                .into_iter(),
            commands: Vec::new(),
        });
        let mut journal = MemoryJournal::new();
        let request = LoadRequest {
            amount: PurseAmount::from_fen(0x1000),
            terminal_id: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            key_index: 1,
            date: TransactionDate::new(2026, 11, 28).expect("date"),
            time: TransactionTime::new(9, 0, 0).expect("time"),
        };
        let result = load(
            &mut layer,
            &mut NoHost,
            &mut journal,
            &PurseConfig::new(PurseApplication::city(b"PAY.SZT")),
            &request,
        )
        .expect("a typed outcome");
        assert_eq!(result.outcome, PurseOutcome::Declined, "{result:?}");
        assert_eq!(result.reason, Some(DeclineReason::BalanceOverflow));
        assert_eq!(
            result.balance_before,
            Some(PurseAmount::from_fen(0xFFFF_FF00))
        );
        assert!(journal.records().is_empty() && journal.pending().is_empty());
        assert!(
            layer.transport().commands.iter().all(|c| c[1] != 0x52),
            "CREDIT FOR LOAD must not be sent"
        );
    }

    /// A memory journal whose `complete` fails while `full` (a full disk).
    #[derive(Default)]
    struct Flaky {
        inner: MemoryJournal,
        full: bool,
    }

    impl Journal for Flaky {
        type Error = crate::purse::journal::MemoryJournalError;
        fn begin(&mut self, entry: &JournalEntry) -> Result<u64, Self::Error> {
            self.inner.begin(entry)
        }
        fn complete(&mut self, record: &SettlementRecord) -> Result<(), Self::Error> {
            if self.full {
                return Err(Self::Error::UnknownEntry(record.id));
            }
            self.inner.complete(record)
        }
        fn void(&mut self, id: u64) -> Result<(), Self::Error> {
            self.inner.void(id)
        }
        fn pending(&self) -> Vec<Pending> {
            self.inner.pending()
        }
        fn records(&self) -> Vec<SettlementRecord> {
            self.inner.records()
        }
        fn take_records(&mut self) -> Result<Vec<SettlementRecord>, Self::Error> {
            self.inner.take_records()
        }
    }

    /// A purchase entry begun in `journal`, and the tap that paid it but whose record the
    /// journal refused.
    fn paid_but_unrecorded(journal: &mut Flaky) -> (SettlementRecord, TapResult) {
        let entry = test_entry();
        let id = journal.begin(&entry).expect("begin");
        let record = settlement_record(id, &entry, RecordStatus::Paid, Some([1; 4]), true, true);
        let mut tap = TapResult {
            outcome: PurseOutcome::Declined,
            reason: None,
            card_number: None,
            card: None,
            amount: entry.amount,
            balance_before: Some(entry.balance_before),
            balance_after: None,
            tac: None,
            record: None,
            voided: Vec::new(),
            apdus: 4,
            sam_apdus: 4,
        };
        settle(journal, &mut tap, record.clone());
        (record, tap)
    }

    /// A purchase entry of 2.00.
    fn test_entry() -> JournalEntry {
        JournalEntry {
            kind: TransactionKind::PursePurchase,
            card: CardIdentity {
                serial: [0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78],
                second_diversifier: None,
            },
            card_number: "3104************5678".into(),
            amount: PurseAmount::from_fen(200),
            balance_before: PurseAmount::from_fen(5000),
            counter: 16,
            key_index: 1,
            key_version: 1,
            terminal_id: [0x31, 0x01, 0, 0, 0, 1],
            terminal_serial: Some(1),
            date: [0x20, 0x26, 0x12, 0x07],
            time: [0x08, 0x00, 0x00],
            host_mac2: None,
            trip: None,
            clearing: None,
        }
    }

    #[test]
    fn a_refused_record_is_written_once_the_journal_recovers() {
        let mut journal = Flaky {
            full: true,
            ..Flaky::default()
        };
        let (record, tap) = paid_but_unrecorded(&mut journal);
        assert_eq!(tap.outcome, PurseOutcome::PaidUnrecorded);
        let mut unwritten = UnwrittenRecords::new();
        unwritten.keep(&tap);
        assert_eq!(unwritten.len(), 1);
        unwritten.retry(&mut journal);
        assert_eq!(unwritten.len(), 1, "still full: kept");
        journal.full = false;
        unwritten.retry(&mut journal);
        assert!(unwritten.is_empty());
        assert_eq!(journal.records(), vec![record]);
        assert!(journal.pending().is_empty());
    }

    #[test]
    fn a_record_settled_by_the_cards_next_tap_is_dropped_not_written_twice() {
        let mut journal = Flaky {
            full: true,
            ..Flaky::default()
        };
        let (record, tap) = paid_but_unrecorded(&mut journal);
        let mut unwritten = UnwrittenRecords::new();
        unwritten.keep(&tap);
        // The card came back and recovery settled the entry once the journal worked again.
        journal.full = false;
        journal.complete(&record).expect("recovery");
        unwritten.retry(&mut journal);
        assert!(unwritten.is_empty());
        assert_eq!(journal.records().len(), 1);
    }

    /// The newest id is the last one begun, also once the records were taken (the default
    /// method would then answer an older pending entry, which cannot own the SAM's session).
    #[test]
    fn the_newest_id_is_the_last_one_begun() {
        let mut journal = MemoryJournal::new();
        assert_eq!(journal.newest_id(), None);
        let entry = test_entry();
        let first = journal.begin(&entry).expect("begin");
        let second = journal.begin(&entry).expect("begin");
        let record = settlement_record(second, &entry, RecordStatus::Paid, None, true, true);
        journal.complete(&record).expect("complete");
        journal.take_records().expect("take");
        assert_eq!(journal.pending().len(), 1);
        assert_eq!(journal.pending()[0].id, first);
        assert_eq!(journal.newest_id(), Some(second));
    }

    #[test]
    fn only_unrecorded_taps_are_kept() {
        let mut journal = Flaky::default();
        let (_, tap) = paid_but_unrecorded(&mut journal);
        assert_eq!(tap.outcome, PurseOutcome::Paid);
        let mut unwritten = UnwrittenRecords::new();
        unwritten.keep(&tap);
        assert!(unwritten.is_empty());
    }
}
