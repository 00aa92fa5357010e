//! Every terminal flow of the kernel driven against the simulated cards, PSAM and hosts, one tap
//! at a time: the rig behind the `long_run` memory example, the `flow_stats` figures, the
//! per-flow benches and their tests.
//!
//! A [`Rig`] owns one personalised card per [`Flow`], the simulated PSAM, the issuer hosts and
//! an in-memory journal. [`Rig::tap`] runs one tap of a flow and checks that its outcome is the
//! one that card must give (an offline approval with ODA, an online request whose ARQC the
//! simulated issuer verifies, a purse payment whose MAC2 and TAC the PSAM verifies, …). A card
//! is re-personalised after [`CARD_LIFETIME`] taps, so balances and counters never run out
//! however long the run. [`Rig::record`] also keeps the tap's exchanges, which [`tap`] replays
//! against the kernel alone ([`Recording::card`], [`Recording::validator`]) in the benches.
//!
//! The flows, with the profile of `vectors/cards/` each one taps:
//!
//! | [`Flow`] | card | what the tap is |
//! |---|---|---|
//! | `QpbocOffline` | `qpboc-debit-offline` | qPBOC, EC balance, fDDA, offline approval |
//! | `QpbocOnline` | `qpboc-credit-online` | qPBOC online request; the simulated issuer checks the ARQC |
//! | `PureEc` | `pure-ec` | qPBOC on a pure electronic-cash card, offline approval |
//! | `Sm2` | `pboc3-sm2` | qPBOC with SM2 fDDA (SM terminal, SM2 test CA key) |
//! | `ContactCda` | `qpboc-debit-offline` | contact PBOC to the first GENERATE AC, CDA, TC |
//! | `Purchase` | `transit-purse-capp` + `psam` | ED/EP purchase, TAC checked |
//! | `Capp` | `transit-purse-capp` + `psam` | CAPP entry, then exit charged by segments |
//! | `Load` | `etc-user-card` + issuer host | ED/EP load (圈存) through the host, TAC checked |

use quickpass_crypto::purse::PurchaseTacData;
use quickpass_kernel::config::KernelConfig;
use quickpass_kernel::contact::{self, ContactInput, FirstPhase, NoPinPad};
use quickpass_kernel::contactless;
use quickpass_kernel::purse::fare::{SegmentFareTable, Station};
use quickpass_kernel::purse::sam::{SamAuthorisation, SamPurchase};
use quickpass_kernel::purse::{
    self, CappRequest, CardIdentity, Journal, LoadRequest, Mac2Check, MemoryJournal, Psam,
    PurchaseRequest, PurseConfig, Sam, SamError, SelectBy, TacCheck, TapResult,
};
use quickpass_kernel::transport::{ApduLayer, Counters, Transport};
use quickpass_kernel::values::{Amount, PurseAmount, TransactionDate, TransactionTime};
use quickpass_kernel::OdaStatus;
use quickpass_kernel::Outcome;
use quickpass_kernel::TransactionInput;

use crate::data::{self, DataError};
use crate::host::emv::EmvHost;
use crate::host::purse::PurseHost;
use crate::replay::{Exchange, ReplayCard};
use crate::{ApplicationProfile, CardProfile, VirtualCard};

/// Taps a card serves before it is re-personalised. 20 keeps every balance positive: the
/// T-Union purse (50.00) pays 20 fares of 2.00, or 10 CAPP exits of 4.00; the EC balances
/// (100.00 and up) pay 20 taps of 1.00. Even, so a fresh card always starts with a CAPP entry.
pub const CARD_LIFETIME: u32 = 20;

/// Amount of the EMV taps (minor units): under every floor limit and EC balance.
const EMV_AMOUNT: u64 = 100;
/// The flat fare of the purse purchase (fen).
const FARE: PurseAmount = PurseAmount::from_fen(200);
/// CAPP stations: entry at 2, exit at 9 (7 segments: 2.00 for 3, then 4 × 0.50).
const ENTRY_STATION: u16 = 2;
const EXIT_STATION: u16 = 9;
const CAPP_EXIT_FARE: PurseAmount = PurseAmount::from_fen(400);
/// The amount loaded on the ETC card (fen).
const LOAD_AMOUNT: PurseAmount = PurseAmount::from_fen(10_000);
/// The top-up terminal's number in the load (a top-up machine has no PSAM purchase key).
const TOPUP_TERMINAL: [u8; 6] = [0x44, 0x01, 0x00, 0x00, 0x00, 0x09];

/// One terminal flow the rig can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flow {
    /// qPBOC offline approval with fDDA (debit card, EC balance).
    QpbocOffline,
    /// qPBOC online request (online-only credit card); the issuer verifies the ARQC.
    QpbocOnline,
    /// qPBOC on a pure electronic-cash card.
    PureEc,
    /// qPBOC with SM2 fDDA.
    Sm2,
    /// Contact PBOC to the first GENERATE AC with CDA, offline TC.
    ContactCda,
    /// ED/EP purchase with the PSAM.
    Purchase,
    /// CAPP entry or exit with the PSAM.
    Capp,
    /// ED/EP load through the issuer host.
    Load,
}

impl Flow {
    /// Every flow, in the order a long run alternates them.
    pub const ALL: [Flow; 8] = [
        Flow::QpbocOffline,
        Flow::QpbocOnline,
        Flow::PureEc,
        Flow::Sm2,
        Flow::ContactCda,
        Flow::Purchase,
        Flow::Capp,
        Flow::Load,
    ];

    /// The flow of the `n`-th tap of a run that alternates them all.
    pub fn nth(n: u64) -> Flow {
        Flow::ALL[(n % Flow::ALL.len() as u64) as usize]
    }

    /// A short name for tables and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Flow::QpbocOffline => "qpboc_fdda",
            Flow::QpbocOnline => "qpboc_online",
            Flow::PureEc => "pure_ec",
            Flow::Sm2 => "sm2_fdda",
            Flow::ContactCda => "contact_cda",
            Flow::Purchase => "purse_purchase",
            Flow::Capp => "capp",
            Flow::Load => "purse_load",
        }
    }

    /// The card profile the flow taps (`vectors/cards/NAME.json`).
    pub const fn profile(self) -> &'static str {
        match self {
            Flow::QpbocOffline | Flow::ContactCda => "qpboc-debit-offline",
            Flow::QpbocOnline => "qpboc-credit-online",
            Flow::PureEc => "pure-ec",
            Flow::Sm2 => "pboc3-sm2",
            Flow::Purchase | Flow::Capp => "transit-purse-capp",
            Flow::Load => "etc-user-card",
        }
    }

    /// The flow's place in [`Flow::ALL`] (declaration order).
    fn index(self) -> usize {
        self as usize
    }
}

/// Why the rig could not be set up or a card re-personalised (never a tap's outcome: those are
/// [`TapReport`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// The terminal configuration or CA keys.
    #[error(transparent)]
    Setup(#[from] DataError),
    /// A card profile, or its personalisation.
    #[error("{profile}: {source}")]
    Profile {
        /// The profile name.
        profile: &'static str,
        /// What is wrong.
        source: crate::ProfileError,
    },
    /// The simulator's test CA, issuer host or PSAM.
    #[error("{0}")]
    Simulator(String),
}

/// What one tap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapReport {
    /// The flow.
    pub flow: Flow,
    /// The outcome's name (`approved`, `online_request`, `paid`, `loaded`, …, or the outcome
    /// an error maps to).
    pub outcome: &'static str,
    /// Why the tap is not what its card must give, if it is not. Never holds card data.
    pub unexpected: Option<String>,
    /// Card traffic: APDUs, command bytes sent, response bytes received (status words
    /// included).
    pub card: Counters,
    /// PSAM traffic, the same way (purchase and CAPP only).
    pub sam: Counters,
}

impl TapReport {
    /// Whether the outcome is the one the flow's card must give.
    pub fn is_expected(&self) -> bool {
        self.unexpected.is_none()
    }
}

/// The per-tap terminal inputs that vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapInput {
    /// The unpredictable number of an EMV tap.
    pub unpredictable_number: [u8; 4],
    /// How many taps the card served before this one (CAPP: even = entry, odd = exit).
    pub nth_on_card: u32,
}

/// The configuration, hosts and card profiles every tap needs; immutable during a run.
pub struct Fixtures {
    rsa: KernelConfig,
    sm2: KernelConfig,
    contact: KernelConfig,
    emv_host: EmvHost,
    issuer_check: bool,
    credit_card: (String, u8),
    t_union: PurseConfig,
    etc: PurseConfig,
    fares: SegmentFareTable,
    issuer: PurseHost,
    profiles: Vec<CardProfile>,
    psam: CardProfile,
}

impl core::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fixtures").finish_non_exhaustive()
    }
}

fn profile(name: &'static str) -> Result<CardProfile, RigError> {
    CardProfile::load(data::data_dir().join(format!("cards/{name}.json"))).map_err(|source| {
        RigError::Profile {
            profile: name,
            source,
        }
    })
}

fn purse_host(card: &CardProfile, name: &'static str) -> Result<PurseHost, RigError> {
    let Some(ApplicationProfile::Purse(purse)) = card.applications.first() else {
        return Err(RigError::Simulator(format!("{name}: no purse first")));
    };
    PurseHost::from_purse_profile(purse, "applications[0]").map_err(|source| RigError::Profile {
        profile: name,
        source,
    })
}

fn simulator(e: impl core::fmt::Display) -> RigError {
    RigError::Simulator(e.to_string())
}

impl Fixtures {
    /// Loads the default terminal configuration, the CA keys (with the simulator's SM2 test CA
    /// key), the card profiles and the hosts.
    pub fn load() -> Result<Fixtures, RigError> {
        let rsa = data::default_kernel_config()?;
        let mut sm2 = rsa.clone();
        sm2.terminal = sm2
            .terminal
            .edited(|p| p.terminal.sm_supported = true)
            .map_err(simulator)?;
        let ca = crate::ca::TestCa::shared().map_err(simulator)?;
        sm2.capks
            .insert(ca.sm2_ca_public_key().map_err(simulator)?)
            .map_err(simulator)?;
        let mut contact = rsa.clone();
        // Plaintext offline PIN, signature, no CVM; SDA, DDA, CDA (as the contact tests use).
        contact.terminal = contact
            .terminal
            .edited(|p| p.terminal.capabilities = [0xE0, 0xA8, 0xC8])
            .map_err(simulator)?;

        let profiles = Flow::ALL
            .iter()
            .map(|flow| profile(flow.profile()))
            .collect::<Result<Vec<_>, _>>()?;
        let credit = &profiles[Flow::QpbocOnline.index()];
        let Some(ApplicationProfile::Pboc(application)) = credit.applications.first() else {
            return Err(simulator("qpboc-credit-online: no PBOC application first"));
        };
        let mut emv_host = EmvHost::new();
        emv_host.add_profile(application).map_err(simulator)?;
        let psn = hex::decode(&application.psn)
            .ok()
            .and_then(|b| <[u8; 1]>::try_from(b).ok())
            .ok_or_else(|| simulator("qpboc-credit-online: psn"))?[0];
        let credit_card = (application.pan.clone(), psn);

        let issuer = purse_host(&profiles[Flow::Load.index()], "etc-user-card")?;
        Ok(Fixtures {
            rsa,
            sm2,
            contact,
            emv_host,
            issuer_check: true,
            credit_card,
            t_union: PurseConfig::new(purse::PurseApplication::t_union()),
            etc: PurseConfig::new(purse::PurseApplication::etc()),
            fares: SegmentFareTable::EXAMPLE,
            issuer,
            profiles,
            psam: profile("psam")?,
        })
    }

    /// Whether [`tap`] has the simulated issuer verify the online request's ARQC (on by
    /// default). Benches of the kernel alone turn it off: that is the host's work.
    pub fn set_issuer_check(&mut self, on: bool) {
        self.issuer_check = on;
    }

    /// A freshly personalised card for `flow`.
    pub fn card(&self, flow: Flow) -> Result<VirtualCard, RigError> {
        self.profiles[flow.index()]
            .build()
            .map_err(|source| RigError::Profile {
                profile: flow.profile(),
                source,
            })
    }

    /// The kernel configuration `flow` runs with.
    pub fn kernel_config(&self, flow: Flow) -> &KernelConfig {
        match flow {
            Flow::Sm2 => &self.sm2,
            Flow::ContactCda => &self.contact,
            _ => &self.rsa,
        }
    }

    /// Opens the PSAM (purse DF `8011`, the T-Union keys) over `transport`.
    pub fn validator<S: Transport>(&self, transport: S) -> Result<Validator<S>, RigError> {
        let psam = Psam::open(transport, &SelectBy::FileId(0x8011)).map_err(simulator)?;
        Ok(Validator { psam })
    }

    /// A freshly personalised simulated PSAM.
    pub fn psam_card(&self) -> Result<VirtualCard, RigError> {
        self.psam.build().map_err(|source| RigError::Profile {
            profile: "psam",
            source,
        })
    }
}

/// The PSAM as the purse flows' [`Sam`] (it checks TACs itself, DES INIT / DES CRYPT), with
/// access to its traffic counters and transport for the rig's accounting and recording.
pub struct Validator<S: Transport> {
    psam: Psam<S>,
}

impl<S: Transport> Validator<S> {
    /// The PSAM's traffic counters.
    pub fn counters(&self) -> Counters {
        self.psam.layer().counters()
    }

    /// The PSAM's transport.
    pub fn transport_mut(&mut self) -> &mut S {
        self.psam.layer_mut().transport_mut()
    }
}

impl<S: Transport> Sam for Validator<S>
where
    S::Error: Send + Sync,
{
    type Error = S::Error;

    fn terminal_id(&self) -> [u8; 6] {
        self.psam.terminal_id()
    }

    fn key_index(&self) -> u8 {
        self.psam.key_index()
    }

    fn init_purchase(
        &mut self,
        request: &SamPurchase,
    ) -> Result<SamAuthorisation, SamError<S::Error>> {
        self.psam.init_purchase(request)
    }

    fn verify_mac2(&mut self, mac2: &[u8; 4]) -> Result<Mac2Check, SamError<S::Error>> {
        self.psam.verify_mac2(mac2)
    }

    fn check_purchase_tac(
        &mut self,
        card: &CardIdentity,
        key_version: u8,
        data: &PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, SamError<S::Error>> {
        self.psam.check_purchase_tac(card, key_version, data, tac)
    }

    fn apdus(&self) -> u64 {
        self.psam.apdus()
    }
}

fn date() -> TransactionDate {
    TransactionDate::new(2026, 11, 28).unwrap_or_else(|_| unreachable!("a valid constant date"))
}

fn time() -> TransactionTime {
    TransactionTime::new(8, 30, 0).unwrap_or_else(|_| unreachable!("a valid constant time"))
}

fn emv_input(input: &TapInput) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(EMV_AMOUNT)
            .unwrap_or_else(|_| unreachable!("a constant amount in range")),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: date(),
        time: time(),
        unpredictable_number: input.unpredictable_number,
    }
}

/// Runs one tap of `flow` with `card` (and, for purchase and CAPP, `sam`), records settled
/// purse transactions in `journal`, and says whether the outcome is the one the flow's card
/// must give.
pub fn tap<C: Transport, S: Transport>(
    fixtures: &Fixtures,
    flow: Flow,
    input: &TapInput,
    card: &mut ApduLayer<C>,
    sam: &mut Validator<S>,
    journal: &mut MemoryJournal,
) -> TapReport
where
    C::Error: Send + Sync,
    S::Error: Send + Sync,
{
    let (card_before, sam_before) = (card.counters(), sam.counters());
    let (outcome, unexpected) = match flow {
        Flow::QpbocOffline | Flow::QpbocOnline | Flow::PureEc | Flow::Sm2 => {
            qpboc_tap(fixtures, flow, input, card)
        }
        Flow::ContactCda => contact_tap(fixtures, input, card),
        Flow::Purchase | Flow::Capp | Flow::Load => {
            purse_tap(fixtures, flow, input, card, sam, journal)
        }
    };
    TapReport {
        flow,
        outcome,
        unexpected,
        card: difference(card.counters(), card_before),
        sam: difference(sam.counters(), sam_before),
    }
}

fn difference(after: Counters, before: Counters) -> Counters {
    Counters {
        apdus_sent: after.apdus_sent - before.apdus_sent,
        bytes_sent: after.bytes_sent - before.bytes_sent,
        bytes_received: after.bytes_received - before.bytes_received,
    }
}

type Checked = (&'static str, Option<String>);

fn qpboc_tap<C: Transport>(
    fixtures: &Fixtures,
    flow: Flow,
    input: &TapInput,
    card: &mut ApduLayer<C>,
) -> Checked {
    let config = fixtures.kernel_config(flow);
    let result = match contactless::read_card(config, &emv_input(input), card) {
        Ok(phase) => phase.complete(config),
        Err(error) => return (error.outcome().as_str(), Some(error.to_string())),
    };
    let outcome = result.outcome.as_str();
    let unexpected = if flow == Flow::QpbocOnline {
        let (pan, psn) = &fixtures.credit_card;
        match (&result.outcome, &result.field_55) {
            (Outcome::OnlineRequest, Some(_)) if !fixtures.issuer_check => None,
            (Outcome::OnlineRequest, Some(field_55)) => {
                match fixtures.emv_host.verify_arqc(pan, *psn, field_55) {
                    Ok(true) => None,
                    Ok(false) => Some("the issuer rejects the ARQC".to_owned()),
                    Err(e) => Some(format!("the issuer cannot check the ARQC: {e}")),
                }
            }
            _ => Some("an online request with field 55 expected".to_owned()),
        }
    } else if result.outcome != Outcome::Approved {
        Some("an offline approval expected".to_owned())
    } else if result.oda.status() != OdaStatus::Ok {
        Some(format!("ODA {:?}", result.oda.status()))
    } else {
        None
    };
    (outcome, unexpected)
}

fn contact_tap<C: Transport>(
    fixtures: &Fixtures,
    input: &TapInput,
    card: &mut ApduLayer<C>,
) -> Checked {
    let config = fixtures.kernel_config(Flow::ContactCda);
    let input = ContactInput::new(emv_input(input));
    match contact::start(config, &input, card, &mut NoPinPad) {
        Ok(FirstPhase::Complete(result)) => (
            result.outcome.as_str(),
            match (result.outcome, result.oda.status()) {
                (Outcome::Approved, OdaStatus::Ok) => None,
                (outcome, oda) => Some(format!("{} with ODA {oda:?}", outcome.as_str())),
            },
        ),
        Ok(FirstPhase::Online(_)) => (
            Outcome::OnlineRequest.as_str(),
            Some("an offline CDA approval expected".to_owned()),
        ),
        Err(error) => (error.outcome().as_str(), Some(error.to_string())),
    }
}

fn purse_tap<C: Transport, S: Transport>(
    fixtures: &Fixtures,
    flow: Flow,
    input: &TapInput,
    card: &mut ApduLayer<C>,
    sam: &mut Validator<S>,
    journal: &mut MemoryJournal,
) -> Checked
where
    C::Error: Send + Sync,
    S::Error: Send + Sync,
{
    let exit = input.nth_on_card % 2 == 1;
    let (result, expected, amount) = match flow {
        Flow::Capp => {
            let request = CappRequest {
                station: Station {
                    line: 1,
                    number: if exit { EXIT_STATION } else { ENTRY_STATION },
                },
                date: date(),
                time: time(),
            };
            let result = purse::capp_purchase(
                card,
                sam,
                journal,
                &fixtures.t_union,
                &fixtures.fares,
                &request,
            );
            (
                result.map_err(|e| (e.outcome(), e.to_string())),
                purse::PurseOutcome::Paid,
                if exit {
                    CAPP_EXIT_FARE
                } else {
                    PurseAmount::ZERO
                },
            )
        }
        Flow::Load => {
            let request = LoadRequest {
                amount: LOAD_AMOUNT,
                terminal_id: TOPUP_TERMINAL,
                key_index: 1,
                date: date(),
                time: time(),
            };
            let mut host = &fixtures.issuer;
            let result = purse::load(card, &mut host, journal, &fixtures.etc, &request);
            (
                result.map_err(|e| (e.outcome(), e.to_string())),
                purse::PurseOutcome::Loaded,
                LOAD_AMOUNT,
            )
        }
        _ => {
            let request = PurchaseRequest {
                amount: FARE,
                date: date(),
                time: time(),
            };
            let result = purse::purchase(card, sam, journal, &fixtures.t_union, &request);
            (
                result.map_err(|e| (e.outcome(), e.to_string())),
                purse::PurseOutcome::Paid,
                FARE,
            )
        }
    };
    match result {
        Ok(result) => (
            result.outcome.as_str(),
            check_purse(&result, expected, amount),
        ),
        Err((outcome, error)) => (outcome.as_str(), Some(error)),
    }
}

/// A paid or loaded tap with the expected amount, a settled record whose MAC2 and TAC were
/// verified, and the balance moved by the amount.
fn check_purse(
    result: &TapResult,
    expected: purse::PurseOutcome,
    amount: PurseAmount,
) -> Option<String> {
    if result.outcome != expected {
        return Some(format!("{} expected", expected.as_str()));
    }
    if result.amount != amount {
        return Some(format!("amount {} instead of {amount}", result.amount));
    }
    let moved = match (result.balance_before, result.balance_after) {
        (Some(before), Some(after)) => PurseAmount::from_fen(before.fen().abs_diff(after.fen())),
        _ => return Some("balances missing".to_owned()),
    };
    if moved != amount {
        return Some(format!("balance moved by {moved} instead of {amount}"));
    }
    match &result.record {
        Some(record) if record.mac2_verified && record.tac_verified => None,
        Some(_) => Some("MAC2 or TAC not verified".to_owned()),
        None => Some("no settlement record".to_owned()),
    }
}

/// A transport that can keep every exchange (for the PSAM, whose link the [`Psam`] owns).
#[derive(Debug)]
pub struct Recorder<T> {
    inner: T,
    log: Option<Vec<Exchange>>,
}

impl<T> Recorder<T> {
    /// Wraps `inner`, recording from the start.
    pub fn new(inner: T) -> Self {
        Recorder {
            inner,
            log: Some(Vec::new()),
        }
    }

    /// Stops recording and returns what was recorded.
    pub fn stop(&mut self) -> Vec<Exchange> {
        self.log.take().unwrap_or_default()
    }

    /// Starts recording again (from nothing).
    pub fn start(&mut self) {
        self.log = Some(Vec::new());
    }
}

impl<T: Transport> Transport for Recorder<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        let response = self.inner.transmit(command)?;
        if let Some(log) = self.log.as_mut() {
            log.push(Exchange {
                command: command.to_vec(),
                response: response.clone(),
            });
        }
        Ok(response)
    }
}

/// One recorded tap: what the card and the PSAM were sent and answered, to replay against the
/// kernel alone.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The flow.
    pub flow: Flow,
    /// The tap's inputs (replaying needs the same).
    pub input: TapInput,
    /// The card's exchanges.
    pub card: Vec<Exchange>,
    /// The PSAM's exchanges: opening it, then the tap's (empty for flows without one).
    pub sam: Vec<Exchange>,
}

impl Recording {
    /// A card answering as recorded.
    pub fn card(&self) -> ReplayCard {
        ReplayCard::new(self.card.iter().cloned())
    }

    /// The PSAM answering as recorded, opened.
    pub fn validator(&self, fixtures: &Fixtures) -> Result<Validator<ReplayCard>, RigError> {
        fixtures.validator(ReplayCard::new(self.sam.iter().cloned()))
    }
}

struct Slot {
    card: VirtualCard,
    taps: u32,
}

/// Every flow's card, the PSAM, the hosts and the journal: a terminal estate in one value.
pub struct Rig {
    fixtures: Fixtures,
    slots: Vec<Slot>,
    validator: Validator<Recorder<VirtualCard>>,
    psam_open: Vec<Exchange>,
    journal: MemoryJournal,
    taps: u64,
    personalisations: u64,
}

impl core::fmt::Debug for Rig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Rig")
            .field("taps", &self.taps)
            .field("personalisations", &self.personalisations)
            .finish_non_exhaustive()
    }
}

impl Rig {
    /// Loads the fixtures, personalises a card per flow and opens the PSAM.
    pub fn new() -> Result<Rig, RigError> {
        let fixtures = Fixtures::load()?;
        let slots = Flow::ALL
            .iter()
            .map(|&flow| {
                Ok(Slot {
                    card: fixtures.card(flow)?,
                    taps: 0,
                })
            })
            .collect::<Result<Vec<_>, RigError>>()?;
        let mut validator = fixtures.validator(Recorder::new(fixtures.psam_card()?))?;
        let psam_open = validator.transport_mut().stop();
        Ok(Rig {
            fixtures,
            slots,
            validator,
            psam_open,
            journal: MemoryJournal::new(),
            taps: 0,
            personalisations: Flow::ALL.len() as u64,
        })
    }

    /// The fixtures.
    pub fn fixtures(&self) -> &Fixtures {
        &self.fixtures
    }

    /// The fixtures, to change (e.g. [`Fixtures::set_issuer_check`]).
    pub fn fixtures_mut(&mut self) -> &mut Fixtures {
        &mut self.fixtures
    }

    /// Taps run so far.
    pub fn taps(&self) -> u64 {
        self.taps
    }

    /// Cards personalised so far (one per flow at the start, then one per [`CARD_LIFETIME`]
    /// taps of a flow).
    pub fn personalisations(&self) -> u64 {
        self.personalisations
    }

    /// Runs one tap of `flow` on its card (re-personalised first if it served
    /// [`CARD_LIFETIME`] taps). Settlement records are uploaded (taken out of the journal)
    /// after each tap, as a terminal would do in the background.
    pub fn tap(&mut self, flow: Flow) -> Result<TapReport, RigError> {
        let input = self.next_input(flow)?;
        let slot = &mut self.slots[flow.index()];
        let mut card = ApduLayer::new(&mut slot.card);
        let mut report = tap(
            &self.fixtures,
            flow,
            &input,
            &mut card,
            &mut self.validator,
            &mut self.journal,
        );
        slot.taps += 1;
        self.upload(&mut report);
        Ok(report)
    }

    /// [`Rig::tap`], keeping the card's and the PSAM's exchanges.
    pub fn record(&mut self, flow: Flow) -> Result<(TapReport, Recording), RigError> {
        let input = self.next_input(flow)?;
        let slot = &mut self.slots[flow.index()];
        let mut card = ApduLayer::new(&mut slot.card);
        card.record();
        self.validator.transport_mut().start();
        let mut report = tap(
            &self.fixtures,
            flow,
            &input,
            &mut card,
            &mut self.validator,
            &mut self.journal,
        );
        slot.taps += 1;
        let mut sam = self.psam_open.clone();
        sam.extend(self.validator.transport_mut().stop());
        let recording = Recording {
            flow,
            input,
            card: card
                .take_log()
                .into_iter()
                .map(|e| Exchange {
                    command: e.command,
                    response: e.response,
                })
                .collect(),
            sam,
        };
        self.upload(&mut report);
        Ok((report, recording))
    }

    /// The next tap's inputs; re-personalises the flow's card when it is due.
    fn next_input(&mut self, flow: Flow) -> Result<TapInput, RigError> {
        let slot = &mut self.slots[flow.index()];
        if slot.taps == CARD_LIFETIME {
            slot.card = self.fixtures.card(flow)?;
            slot.taps = 0;
            self.personalisations += 1;
        }
        self.taps += 1;
        Ok(TapInput {
            unpredictable_number: (self.taps as u32).to_be_bytes(),
            nth_on_card: slot.taps,
        })
    }

    /// Takes the settlement records out of the journal; a transaction still pending after a
    /// tap (none should be: nothing tears here) makes the tap unexpected.
    fn upload(&mut self, report: &mut TapReport) {
        if let Err(e) = self.journal.take_records() {
            report.unexpected.get_or_insert(format!("journal: {e}"));
        }
        if !self.journal.pending().is_empty() && report.unexpected.is_none() {
            report.unexpected = Some("a journal entry left pending".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Flow;

    #[test]
    fn all_lists_the_flows_in_declaration_order() {
        for (place, flow) in Flow::ALL.iter().enumerate() {
            assert_eq!(flow.index(), place, "{flow:?}");
            assert_eq!(Flow::nth((place + Flow::ALL.len()) as u64), *flow);
        }
    }
}
