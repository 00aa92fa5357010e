//! The contact (and contactless full-PBOC) EMV / PBOC debit-credit transaction (EMV Book 3 §10,
//! JR/T 0025 Part 5 / Part 6 as digested in pboc-notes §1.2, §3, §5).
//!
//! ```text
//! start:            PSE or list of AIDs ─▶ final selection ─▶ GPO (PDOL) ─▶ READ RECORD × AFL
//!                   ─▶ ODA (SDA / DDA with INTERNAL AUTHENTICATE / CDA key recovery)
//!                   ─▶ processing restrictions ─▶ CVM (VERIFY through the PinPad)
//!                   ─▶ terminal risk management (GET DATA 9F36 / 9F13) ─▶ terminal action analysis
//!                   ─▶ first GENERATE AC (CDA verified) ─▶ card action analysis
//!                   ═▶ FirstPhase::Complete(result) | FirstPhase::Online(request, field 55)
//! complete_online:  ARC, issuer authentication (EXTERNAL AUTHENTICATE, or 91 in CDOL2)
//!                   ─▶ scripts 71 ─▶ second GENERATE AC ─▶ scripts 72 ─▶ ContactResult
//! ```
//!
//! Every APDU is sent from this module's card-phase functions over an [`ApduLayer`]; every
//! decision is a pure function of the submodules ([`restrictions`], [`cvm`], [`risk`],
//! [`action`], [`online`]). The date, time, unpredictable number and the random number for
//! random transaction selection come in as values ([`ContactInput`]); the PIN comes in through
//! the integrator's [`PinPad`].
//!
//! An offline approval needs a TC from the card **and** an [`OfflineApproval`], which only this
//! module makes: from an [`OdaVerified`] token, or explicitly "ODA not required" when the card
//! and the terminal share no ODA method (TVR "offline data authentication was not performed",
//! which the action codes weighed). A failed SDA / DDA / CDA never approves offline, whatever
//! the action codes say (⚠ stricter than Book 3 for SDA / DDA, where permissive action codes
//! would let a TC through).
//!
//! ⚠ The APDU layer's recorder and hook see the plaintext PIN block of VERIFY; an integrator
//! who records exchanges must mask `00 20` commands.

pub mod action;
pub mod cvm;
pub mod online;
pub mod restrictions;
pub mod risk;
pub mod selection;

pub use cvm::{
    CvmOutcome, CvmResults, NoPinPad, OnlinePinResult, Pin, PinEntry, PinPad, PinPrompt,
};
pub use online::{HostResponse, ScriptResult, ScriptStatus};
pub use selection::SelectionMethod;

use alloc::{borrow::ToOwned, boxed::Box, format, string::String, string::ToString, vec, vec::Vec};
use quickpass_crypto::hash::sha1;

use crate::apdu::{Command, RequestedCryptogram};
use crate::bits::{Aip, Cid, CryptogramType, Tsi, Tvr};
use crate::card_data::CardData;
use crate::card_phase::CardPhase;
use crate::config::{AidParameters, KernelConfig};
use crate::dol::{Dol, DolSource};
use crate::error::{malformed, CardObject, ConfigFault, KernelError, Malformation, GPO};
use crate::icc_data;
use crate::oda::{self, CdaKey, OdaFailure, OdaMethod, OdaReport, OdaVerified};
use crate::outcome::{cryptogram_name, Outcome, TransactionRecord};
use crate::read_records::{absorb_gpo_response, read_records, AflPolicy};
use crate::tag::{Format, Tag};
use crate::tags;
use crate::terminal_values::TransactionInput;
use crate::tlv;
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{Aid, Amount, StatusWord};

use action::{ActionCodes, CardDecision};
use cvm::{CvmContext, CvmPerformer, PinResult};
use risk::VelocityData;

/// Most PIN prompts for one offline PIN CVM, whatever the card says about tries left.
const MAX_PIN_PROMPTS: u8 = 15;

/// The inputs of one contact transaction that are not configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactInput {
    /// Amount, type, date, time and unpredictable number.
    pub transaction: TransactionInput,
    /// A number the caller drew uniformly from 1 to 99, for random transaction selection
    /// (Book 3 §10.6.2). The kernel draws nothing itself.
    pub random_number: u8,
    /// The merchant forces the transaction online (TVR byte 4 b4, then ARQC unless denied).
    pub merchant_forced_online: bool,
}

impl ContactInput {
    /// An input with random number 99 (selected only at a 99 % target) and no forcing.
    pub fn new(transaction: TransactionInput) -> Self {
        ContactInput {
            transaction,
            random_number: 99,
            merchant_forced_online: false,
        }
    }
}

/// Why a TC may be approved offline. Only this module makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineApproval {
    basis: ApprovalBasis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApprovalBasis {
    Verified(OdaVerified),
    OdaNotRequired,
}

impl OfflineApproval {
    /// The ODA token, when ODA succeeded (`None`: ODA was not required).
    pub fn oda_verified(&self) -> Option<OdaVerified> {
        match self.basis {
            ApprovalBasis::Verified(token) => Some(token),
            ApprovalBasis::OdaNotRequired => None,
        }
    }

    /// From the ODA report: verified → token; no method ran → not required; failed → none.
    fn from_report(report: &OdaReport) -> Option<OfflineApproval> {
        match (report.method, report.verified) {
            (_, Some(token)) => Some(OfflineApproval {
                basis: ApprovalBasis::Verified(token),
            }),
            (None, None) => Some(OfflineApproval {
                basis: ApprovalBasis::OdaNotRequired,
            }),
            (Some(_), None) => None,
        }
    }
}

/// One GENERATE AC answer, parsed (EMV Book 3 §6.5.5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcResponse {
    /// The cryptogram asked for.
    pub requested: RequestedCryptogram,
    /// Whether CDA was asked for (P1 b5).
    pub cda_requested: bool,
    /// Cryptogram information data `9F27`.
    pub cid: Cid,
    /// ATC `9F36`.
    pub atc: Vec<u8>,
    /// Application cryptogram: `9F26`, or from the verified CDA signature.
    pub application_cryptogram: Option<Vec<u8>>,
    /// Signed dynamic application data `9F4B` (CDA).
    pub sdad: Option<Vec<u8>>,
    /// Issuer application data `9F10`.
    pub iad: Option<Vec<u8>>,
    /// The answer's objects other than `9F4B`, as received (TLV), in order: the CDA hash input.
    pub objects: Vec<Vec<u8>>,
    /// The CDOL data sent.
    pub cdol_data: Vec<u8>,
}

/// Parses a GENERATE AC answer: format 1 (`80`: CID ‖ ATC ‖ AC ‖ IAD) or format 2 (`77`)
/// (Book 3 §6.5.5.4).
pub fn parse_ac_response(
    data: &[u8],
    requested: RequestedCryptogram,
    cda_requested: bool,
) -> Result<AcResponse, Malformation> {
    let root = tlv::parse_single(data)?;
    let mut response = AcResponse {
        requested,
        cda_requested,
        cid: Cid::from_byte(0),
        atc: Vec::new(),
        application_cryptogram: None,
        sdad: None,
        iad: None,
        objects: Vec::new(),
        cdol_data: Vec::new(),
    };
    match root.tag() {
        tags::RESPONSE_TEMPLATE_FORMAT_1 => {
            let v = root.value();
            if v.len() < 11 || v.len() > 11 + 32 {
                return Err(Malformation::BadLength {
                    tag: tags::RESPONSE_TEMPLATE_FORMAT_1,
                    len: v.len(),
                });
            }
            response.cid = Cid::from_byte(v[0]);
            response.atc = v[1..3].to_vec();
            response.application_cryptogram = Some(v[3..11].to_vec());
            response.iad = (v.len() > 11).then(|| v[11..].to_vec());
        }
        tags::RESPONSE_TEMPLATE_FORMAT_2 => {
            let mut cid = None;
            for child in root.children() {
                let child = child?;
                let value = child.value().to_vec();
                match child.tag() {
                    tags::SIGNED_DYNAMIC_APPLICATION_DATA => {
                        response.sdad.get_or_insert(value);
                        continue;
                    }
                    tags::CID => {
                        let parsed =
                            Cid::from_slice(&value).map_err(|_| Malformation::BadLength {
                                tag: tags::CID,
                                len: value.len(),
                            })?;
                        cid.get_or_insert(parsed);
                    }
                    tags::ATC if response.atc.is_empty() => response.atc = value,
                    tags::APPLICATION_CRYPTOGRAM => {
                        response.application_cryptogram.get_or_insert(value);
                    }
                    tags::ISSUER_APPLICATION_DATA => {
                        response.iad.get_or_insert(value);
                    }
                    _ => {}
                }
                response.objects.push(child.encoded().to_vec());
            }
            response.cid = cid.ok_or(Malformation::MissingTag(tags::CID))?;
        }
        other => return Err(Malformation::UnexpectedTemplate(other)),
    }
    match response.atc.len() {
        2 => {}
        0 => return Err(Malformation::MissingTag(tags::ATC)),
        len => {
            return Err(Malformation::BadLength {
                tag: tags::ATC,
                len,
            })
        }
    }
    match &response.application_cryptogram {
        Some(ac) if ac.len() != 8 => {
            return Err(Malformation::BadLength {
                tag: tags::APPLICATION_CRYPTOGRAM,
                len: ac.len(),
            })
        }
        None if response.sdad.is_none() => {
            return Err(Malformation::MissingTag(tags::APPLICATION_CRYPTOGRAM))
        }
        _ => {}
    }
    Ok(response)
}

/// The ODA method for the card and the terminal (Book 3 §10.3): CDA when both support it, else
/// DDA, else SDA (AIP byte 1 b1 / b6 / b7; `9F33` byte 3 b4 / b7 / b8).
pub fn select_oda_method(aip: &Aip, capabilities: [u8; 3]) -> Option<OdaMethod> {
    let terminal = capabilities[2];
    if aip.contains(Aip::CDA_SUPPORTED) && terminal & 0x08 != 0 {
        Some(OdaMethod::Cda)
    } else if aip.contains(Aip::DDA_SUPPORTED) && terminal & 0x40 != 0 {
        Some(OdaMethod::Dda)
    } else if aip.contains(Aip::SDA_SUPPORTED) && terminal & 0x80 != 0 {
        Some(OdaMethod::Sda)
    } else {
        None
    }
}

/// How far a transaction got, kept up to date by [`start_with`]: after an error it still says
/// what the card phase read and what ODA found (for torn or truncated exchanges and traces).
#[derive(Debug, Clone)]
pub struct Progress {
    /// Selection, GPO and records (and the first GENERATE AC's objects once it answered).
    pub card_phase: CardPhase,
    /// ODA so far.
    pub oda: OdaReport,
    /// TVR so far.
    pub tvr: Tvr,
    /// TSI so far.
    pub tsi: Tsi,
    /// How the candidate list was built.
    pub selection: Option<SelectionMethod>,
}

impl Progress {
    /// Nothing done yet.
    pub fn new(config: &KernelConfig, input: &ContactInput) -> Self {
        Progress {
            card_phase: CardPhase::new(config, &input.transaction),
            oda: OdaReport::not_performed(),
            tvr: Tvr::new(),
            tsi: Tsi::new(),
            selection: None,
        }
    }
}

/// The result of a whole contact transaction.
#[derive(Debug, Clone)]
pub struct ContactResult {
    /// The outcome.
    pub outcome: Outcome,
    /// The type of the last cryptogram the card returned.
    pub cryptogram_type: Option<CryptogramType>,
    /// What ODA did (for CDA, the last signature checked).
    pub oda: OdaReport,
    /// Terminal verification results at the end.
    pub tvr: Tvr,
    /// Transaction status information at the end.
    pub tsi: Tsi,
    /// Cardholder verification (`9F34`, signature needed, online PIN entered).
    pub cvm: Option<CvmOutcome>,
    /// The first and (after online processing or a terminal decision) second GENERATE AC.
    pub first_ac: Option<AcResponse>,
    /// The second GENERATE AC.
    pub second_ac: Option<AcResponse>,
    /// ICC data (field 55) of the last cryptogram, with the terminal values sent in that
    /// GENERATE AC (the TVR the cryptogram covers), plus `9F5B` when scripts ran: for the
    /// clearing record of a TC, or a reversal/advice of an AAC.
    pub field_55: Option<Vec<u8>>,
    /// Issuer script results (`9F5B` entries), scripts `71` then `72`.
    pub script_results: Vec<ScriptResult>,
    /// The ARC used in the second GENERATE AC (host's, or `Y3`/`Z3`/`Z1` of the terminal).
    pub arc: Option<[u8; 2]>,
    /// Why a TC was approved offline, when it was.
    pub offline_approval: Option<OfflineApproval>,
    /// How the candidate list was built.
    pub selection: Option<SelectionMethod>,
    /// Why the kernel ended where it did.
    pub reason: Option<String>,
    /// Selection, GPO and records.
    pub card_phase: CardPhase,
}

impl ContactResult {
    /// `9F5B` issuer script results, when any script ran.
    pub fn issuer_script_results(&self) -> Option<Vec<u8>> {
        (!self.script_results.is_empty())
            .then(|| online::script_results_bytes(&self.script_results))
    }

    /// The clearing record of this transaction ([`crate::clearing`]) whenever the card gave a
    /// cryptogram: approved or declined offline, after online completion (the second GENERATE
    /// AC's TC or AAC), or still an online request. Its cryptogram, ATC and field 55 are the
    /// last GENERATE AC's. `None` when the card gave no cryptogram, PAN or field 55. Write it
    /// to the terminal's store (the PAN is clear); print
    /// [`ClearingRecord::masked`](crate::clearing::ClearingRecord::masked).
    pub fn clearing_record(
        &self,
        config: &KernelConfig,
    ) -> Option<crate::clearing::ClearingRecord> {
        let phase = &self.card_phase;
        let last = self.second_ac.as_ref().or(self.first_ac.as_ref())?;
        let cvm = self.cvm.as_ref().map(|cvm| {
            if cvm.online_pin {
                "online_pin"
            } else if cvm.signature_required {
                "signature"
            } else {
                "no_cvm"
            }
        });
        crate::clearing::Parts {
            interface: crate::clearing::Interface::Contact,
            outcome: self.outcome.as_str(),
            reason: self.reason.as_deref(),
            cryptogram: last.cid.cryptogram_type(),
            card: &phase.card,
            aid: phase.aid?.to_string(),
            input: &phase.input,
            atc: &last.atc,
            application_cryptogram: last.application_cryptogram.as_deref()?,
            field_55: self.field_55.as_deref()?,
            tvr: self.tvr.as_bytes(),
            tsi: self.tsi.as_bytes(),
            cvm,
        }
        .build(config)
    }

    /// The serialisable record (PAN masked).
    pub fn record(&self) -> TransactionRecord {
        let card = &self.card_phase.card;
        let last = self.second_ac.as_ref().or(self.first_ac.as_ref());
        TransactionRecord {
            outcome: self.outcome,
            cryptogram_type: self.cryptogram_type.map(cryptogram_name),
            oda: self.oda.status(),
            tvr: hex::encode_upper(self.tvr.as_bytes()),
            tsi: hex::encode_upper(self.tsi.as_bytes()),
            aid: self.card_phase.aid.map(|a| a.to_string()),
            pan: card.pan().map(|p| p.masked()),
            amount: self.card_phase.input.amount.minor(),
            application_cryptogram: last
                .and_then(|ac| ac.application_cryptogram.as_ref())
                .map(hex::encode_upper),
            atc: last.map(|ac| hex::encode_upper(&ac.atc)),
            ec_balance: [tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT, tags::EC_BALANCE]
                .into_iter()
                .find_map(|tag| card.get(tag))
                .and_then(|v| Amount::from_n12_slice(v).ok())
                .map(Amount::minor),
            apdus: self.card_phase.apdus,
            field_55: self.field_55.as_ref().map(hex::encode_upper),
            cvm: self.cvm.as_ref().map(|cvm| {
                if cvm.online_pin {
                    "online_pin"
                } else if cvm.signature_required {
                    "signature"
                } else {
                    "no_cvm"
                }
            }),
            reason: self.reason.clone(),
        }
    }
}

/// The end of the first phase: a final result, or a request for the issuer.
#[derive(Debug)]
pub enum FirstPhase {
    /// The transaction is over (offline approval, decline, or unable to go online).
    Complete(Box<ContactResult>),
    /// Send [`OnlineRequest::field_55`] to the issuer, then complete.
    Online(Box<OnlineRequest>),
}

impl FirstPhase {
    /// The online request, when the card asked for one.
    pub fn online_request(&self) -> Option<&OnlineRequest> {
        match self {
            FirstPhase::Online(request) => Some(request),
            FirstPhase::Complete(_) => None,
        }
    }

    /// The result, when the transaction is already over.
    pub fn result(&self) -> Option<&ContactResult> {
        match self {
            FirstPhase::Complete(result) => Some(result),
            FirstPhase::Online(_) => None,
        }
    }

    /// Completes with the host's response (a complete transaction is returned as it is).
    pub fn complete_online<T: Transport>(
        self,
        response: HostResponse,
        layer: &mut ApduLayer<T>,
    ) -> Result<ContactResult, KernelError<T::Error>> {
        match self {
            FirstPhase::Complete(result) => Ok(*result),
            FirstPhase::Online(request) => request.complete_online(response, layer),
        }
    }

    /// Completes without the host (a complete transaction is returned as it is).
    pub fn complete_unable_to_go_online<T: Transport>(
        self,
        layer: &mut ApduLayer<T>,
    ) -> Result<ContactResult, KernelError<T::Error>> {
        match self {
            FirstPhase::Complete(result) => Ok(*result),
            FirstPhase::Online(request) => request.complete_unable_to_go_online(layer),
        }
    }
}

/// An authorisation request: the card returned an ARQC.
#[derive(Debug)]
pub struct OnlineRequest {
    field_55: Vec<u8>,
    tx: Transaction,
}

impl OnlineRequest {
    /// Field 55 (ICC system related data) for the authorisation request: the ARQC with the
    /// terminal values it covers.
    pub fn field_55(&self) -> &[u8] {
        &self.field_55
    }

    /// The TVR sent with the first GENERATE AC.
    pub fn tvr(&self) -> Tvr {
        self.tx.tvr
    }

    /// The TSI so far.
    pub fn tsi(&self) -> Tsi {
        self.tx.tsi
    }

    /// ODA so far.
    pub fn oda(&self) -> &OdaReport {
        &self.tx.oda
    }

    /// Cardholder verification (an online PIN block is the PIN pad's to add).
    pub fn cvm(&self) -> Option<&CvmOutcome> {
        self.tx.cvm.as_ref()
    }

    /// Selection, GPO and records.
    pub fn card_phase(&self) -> &CardPhase {
        &self.tx.phase
    }

    /// Online processing with the host's answer (Book 3 §10.9–§10.10): issuer authentication
    /// (`91` in CDOL2 when the card asks for it there, else EXTERNAL AUTHENTICATE: TSI "issuer
    /// authentication performed", a refusal sets TVR "issuer authentication failed"), scripts
    /// `71`, the second GENERATE AC (TC when the ARC approves and the denial action codes do not
    /// match the updated TVR, else AAC), scripts `72`.
    pub fn complete_online<T: Transport>(
        self,
        response: HostResponse,
        layer: &mut ApduLayer<T>,
    ) -> Result<ContactResult, KernelError<T::Error>> {
        let mut tx = self.tx;
        let start = layer.counters().apdus_sent;
        let result = tx.online(response, layer);
        tx.phase.apdus += layer.counters().apdus_sent - start;
        let (outcome, reason, approval) = result?;
        Ok(tx.finish(outcome, reason, approval))
    }

    /// The terminal could not reach the issuer (Book 3 §10.7 default action codes): TC when
    /// TVR ∧ (TAC-default ∨ IAC-default) = 0, else AAC, with ARC `Y3` / `Z3`. A TC approves only
    /// with an [`OfflineApproval`].
    pub fn complete_unable_to_go_online<T: Transport>(
        self,
        layer: &mut ApduLayer<T>,
    ) -> Result<ContactResult, KernelError<T::Error>> {
        let mut tx = self.tx;
        let start = layer.counters().apdus_sent;
        let result = tx.unable_to_go_online(layer);
        tx.phase.apdus += layer.counters().apdus_sent - start;
        let (outcome, reason, approval) = result?;
        Ok(tx.finish(outcome, reason, approval))
    }
}

/// Runs a contact transaction up to the first GENERATE AC and card action analysis.
pub fn start<T: Transport, P: PinPad + ?Sized>(
    config: &KernelConfig,
    input: &ContactInput,
    layer: &mut ApduLayer<T>,
    pin_pad: &mut P,
) -> Result<FirstPhase, KernelError<T::Error>> {
    let mut progress = Progress::new(config, input);
    start_with(config, input, &[], layer, pin_pad, &mut progress)
}

/// [`start`] with `overrides` (terminal values replaced after selection, to replay a recorded
/// terminal) and a [`Progress`] kept up to date (also on error).
pub fn start_with<T: Transport, P: PinPad + ?Sized>(
    config: &KernelConfig,
    input: &ContactInput,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
    pin_pad: &mut P,
    progress: &mut Progress,
) -> Result<FirstPhase, KernelError<T::Error>> {
    let mut tx = Transaction::new(config, input, progress.card_phase.clone());
    let start = layer.counters().apdus_sent;
    let result = tx.contact_first_phase(config, input, overrides, layer, pin_pad);
    tx.phase.apdus = layer.counters().apdus_sent - start;
    progress.card_phase = tx.phase.clone();
    progress.oda = tx.oda.clone();
    progress.tvr = tx.tvr;
    progress.tsi = tx.tsi;
    progress.selection = tx.selection;
    result.map(|step| tx.first_phase_result(step))
}

/// Continues a contactless transaction whose card chose the full PBOC path (AIP byte 2 b8 in
/// the GPO answer; pboc-notes §2.5) after the contactless card phase read the records: ODA,
/// restrictions, CVM, risk management, action analysis and GENERATE AC as on contact.
pub fn continue_contactless_full<T: Transport, P: PinPad + ?Sized>(
    config: &KernelConfig,
    input: &ContactInput,
    card_phase: CardPhase,
    layer: &mut ApduLayer<T>,
    pin_pad: &mut P,
) -> Result<FirstPhase, KernelError<T::Error>> {
    let aid = card_phase
        .aid
        .ok_or(KernelError::Config(ConfigFault::NoApplicationSelected))?;
    let aip = card_aip(&card_phase.card);
    if !aip.contains(Aip::CONTACTLESS_FULL_PBOC) {
        return Err(malformed(
            CardObject::GpoResponse,
            Malformation::NotFullPboc,
        ));
    }
    let params = config
        .terminal
        .parameters_for(&aid)
        .cloned()
        .ok_or(KernelError::Config(ConfigFault::NoAidParameters(aid)))?;
    let pdol_data = card_phase
        .gpo_command
        .as_deref()
        .and_then(|gpo| gpo.get(5..))
        .and_then(|data| tlv::parse_single(data).ok().map(|t| t.value().to_vec()))
        .unwrap_or_default();
    let transit = card_phase.transit.is_some();
    let mut tx = Transaction::new(config, input, card_phase);
    tx.params = Some(params);
    tx.pdol_data = pdol_data;
    let mut input = *input;
    if transit {
        // Transit (pboc-notes §2.13): the authorisation is online, deferred to a batch, so the
        // gate asks for an ARQC whatever its own link (the merchant forces online).
        tx.online_capable = true;
        input.merchant_forced_online = true;
    }
    let start = layer.counters().apdus_sent;
    let result = tx.after_records(config, &input, layer, pin_pad);
    tx.phase.apdus += layer.counters().apdus_sent - start;
    result.map(|step| tx.first_phase_result(step))
}

/// How a transaction ends: outcome, reason, offline approval basis.
type Ending = (Outcome, Option<String>, Option<OfflineApproval>);

/// What the first phase ended in.
enum Step {
    Final {
        outcome: Outcome,
        reason: Option<String>,
        approval: Option<OfflineApproval>,
    },
    Online,
}

/// The transaction's state between steps.
#[derive(Debug)]
struct Transaction {
    phase: CardPhase,
    params: Option<AidParameters>,
    online_capable: bool,
    unpredictable_number: [u8; 4],
    capabilities: [u8; 3],
    pdol_data: Vec<u8>,
    tvr: Tvr,
    tsi: Tsi,
    oda: OdaReport,
    cda_key: Option<CdaKey>,
    cvm: Option<CvmOutcome>,
    first_ac: Option<AcResponse>,
    second_ac: Option<AcResponse>,
    field_55: Option<Vec<u8>>,
    script_results: Vec<ScriptResult>,
    arc: Option<[u8; 2]>,
    selection: Option<SelectionMethod>,
}

/// Terminal values first, then card data: what a CDOL / DDOL / TDOL may ask for.
struct Sources<'a> {
    phase: &'a CardPhase,
}

impl DolSource for Sources<'_> {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.phase
            .values
            .get(tag)
            .or_else(|| self.phase.card.get(tag))
    }

    fn format(&self, tag: Tag) -> Format {
        tags::format_of(tag)
    }
}

fn card_aip(card: &CardData) -> Aip {
    card.get(tags::AIP)
        .and_then(|a| Aip::from_slice(a).ok())
        .unwrap_or_default()
}

fn exchange_error<E: crate::transport::TransportError>(e: ExchangeError<E>) -> KernelError<E> {
    e.into()
}

/// GET DATA of a primitive object (`80 CA`): its value, or `None` when the card refuses or
/// answers something else (Book 3 §6.5.7).
pub(crate) fn get_data<T: Transport>(
    layer: &mut ApduLayer<T>,
    tag: Tag,
) -> Result<Option<Vec<u8>>, ExchangeError<T::Error>> {
    let Ok(command) = Command::get_data(tag) else {
        return Ok(None);
    };
    let response = layer.exchange(&command)?;
    if response.sw != StatusWord::OK {
        return Ok(None);
    }
    Ok(match tlv::parse_single(&response.data) {
        Ok(object) if object.tag() == tag && !object.is_constructed() => {
            Some(object.value().to_vec())
        }
        _ => None,
    })
}

fn u16_value(value: Option<Vec<u8>>) -> Option<u16> {
    value
        .and_then(|v| <[u8; 2]>::try_from(v.as_slice()).ok())
        .map(u16::from_be_bytes)
}

/// The VERIFY side of CVM processing: GET DATA `9F17`, the PIN pad, VERIFY (plaintext).
struct CardPins<'a, T: Transport, P: PinPad + ?Sized> {
    layer: &'a mut ApduLayer<T>,
    pin_pad: &'a mut P,
    amount: Amount,
}

impl<T: Transport, P: PinPad + ?Sized> CvmPerformer for CardPins<'_, T, P> {
    type Error = ExchangeError<T::Error>;

    fn offline_plaintext_pin(&mut self) -> Result<PinResult, Self::Error> {
        let mut tries_left = get_data(self.layer, tags::PIN_TRY_COUNTER)?
            .and_then(|v| v.first().copied().filter(|_| v.len() == 1));
        if tries_left == Some(0) {
            return Ok(PinResult::TryLimitExceeded);
        }
        for attempt in 1..=MAX_PIN_PROMPTS {
            let prompt = PinPrompt {
                amount: self.amount,
                tries_left,
                attempt,
            };
            let pin = match self.pin_pad.offline_pin(&prompt) {
                PinEntry::Pin(pin) => pin,
                PinEntry::Bypassed => return Ok(PinResult::NotEntered),
                PinEntry::Unavailable => return Ok(PinResult::PinPadUnavailable),
            };
            let mut block = pin.plaintext_block();
            drop(pin);
            let command = Command::verify_plaintext(&block);
            block.iter_mut().for_each(|b| *b = 0);
            let response = self.layer.exchange(&command)?;
            drop(command);
            let sw = response.sw;
            match (sw.sw1(), sw.sw2()) {
                (0x90, 0x00) => return Ok(PinResult::Verified),
                (0x63, left) if left & 0xF0 == 0xC0 => {
                    if left & 0x0F == 0 {
                        return Ok(PinResult::TryLimitExceeded);
                    }
                    tries_left = Some(left & 0x0F);
                }
                (0x69, 0x83) | (0x69, 0x84) => return Ok(PinResult::TryLimitExceeded),
                _ => return Ok(PinResult::Failed),
            }
        }
        Ok(PinResult::Failed)
    }

    fn online_pin(&mut self) -> OnlinePinResult {
        self.pin_pad.online_pin(&PinPrompt {
            amount: self.amount,
            tries_left: None,
            attempt: 1,
        })
    }
}

impl Transaction {
    fn new(config: &KernelConfig, input: &ContactInput, phase: CardPhase) -> Self {
        Transaction {
            phase,
            params: None,
            online_capable: config.terminal.terminal().online_capable,
            unpredictable_number: input.transaction.unpredictable_number,
            capabilities: config.terminal.terminal().capabilities,
            pdol_data: Vec::new(),
            tvr: Tvr::new(),
            tsi: Tsi::new(),
            oda: OdaReport::not_performed(),
            cda_key: None,
            cvm: None,
            first_ac: None,
            second_ac: None,
            field_55: None,
            script_results: Vec::new(),
            arc: None,
            selection: None,
        }
    }

    fn action_codes(&self) -> (ActionCodes, ActionCodes) {
        let terminal = match &self.params {
            Some(p) => ActionCodes::terminal(p),
            None => ActionCodes {
                denial: Tvr::new(),
                online: Tvr::new(),
                default: Tvr::new(),
            },
        };
        (terminal, ActionCodes::issuer(&self.phase.card))
    }

    /// The terminal values for the chosen application: per-AID values, no TTQ (contact), the EC
    /// terminal support indicator, then the overrides.
    fn prepare_values(
        &mut self,
        config: &KernelConfig,
        params: &AidParameters,
        input: &ContactInput,
        overrides: &[(Tag, Vec<u8>)],
    ) {
        let values = &mut self.phase.values;
        *values = crate::terminal_values::TerminalValues::new(
            config.terminal.terminal(),
            &input.transaction,
        );
        values.set_aid_parameters(params);
        values.set(tags::TTQ, vec![0; 4]);
        // EC (pboc-notes §2.8): the terminal offers electronic cash when the AID supports it and
        // the amount is below the EC terminal transaction limit.
        let amount = input.transaction.amount.minor();
        let ec = params.ec_supported
            && amount > 0
            && params.ec_terminal_limit.is_none_or(|limit| amount < limit);
        values.set(tags::EC_TERMINAL_SUPPORT_INDICATOR, vec![u8::from(ec)]);
        for (tag, value) in overrides {
            values.set(*tag, value.clone());
        }
    }

    fn contact_first_phase<T: Transport, P: PinPad + ?Sized>(
        &mut self,
        config: &KernelConfig,
        input: &ContactInput,
        overrides: &[(Tag, Vec<u8>)],
        layer: &mut ApduLayer<T>,
        pin_pad: &mut P,
    ) -> Result<Step, KernelError<T::Error>> {
        let (mut candidates, method) =
            selection::candidates(layer, &config.terminal.terminal_aids())?;
        self.selection = Some(method);
        loop {
            let Some(selected) = selection::final_selection(layer, &mut candidates)? else {
                return Err(KernelError::NoApplication);
            };
            let params = config
                .terminal
                .aids()
                .get(selected.terminal_aid)
                .cloned()
                .ok_or(KernelError::NoApplication)?;
            self.prepare_values(config, &params, input, overrides);
            let fci =
                tlv::parse_single(&selected.fci).map_err(|e| malformed(CardObject::Fci, e))?;
            let pdol = match fci
                .find(tags::PDOL)
                .map_err(|e| malformed(CardObject::Fci, e))?
            {
                Some(pdol) => {
                    Dol::parse(pdol.value()).map_err(|e| malformed(CardObject::Pdol, e))?
                }
                None => Dol::default(),
            };
            let pdol_data = pdol.build(&self.phase.values);
            let gpo = Command::get_processing_options(&pdol_data)
                .map_err(|e| malformed(CardObject::Pdol, e))?;
            let response = layer.exchange(&gpo).map_err(exchange_error)?;
            self.phase.aid = Some(selected.aid);
            self.phase.gpo_command = Some(crate::apdu::core(&gpo.to_bytes()).to_vec());
            match response.sw {
                StatusWord::OK => {}
                // Book 3 §10.1: conditions not satisfied → back to selection, next candidate.
                StatusWord::CONDITIONS_NOT_SATISFIED => continue,
                sw => return Err(KernelError::Refused { command: GPO, sw }),
            }
            self.params = Some(params);
            self.pdol_data = pdol_data;
            absorb_gpo_response(&mut self.phase.card, &response.data)?;
            self.phase.static_data =
                read_records(layer, &mut self.phase.card, AflPolicy::Mandatory)?;
            return self.after_records(config, input, layer, pin_pad);
        }
    }

    /// ODA, restrictions, CVM, TRM, TAA, first GENERATE AC, card action analysis.
    fn after_records<T: Transport, P: PinPad + ?Sized>(
        &mut self,
        config: &KernelConfig,
        input: &ContactInput,
        layer: &mut ApduLayer<T>,
        pin_pad: &mut P,
    ) -> Result<Step, KernelError<T::Error>> {
        // Book 3 §7.2: mandatory data objects.
        for tag in [
            tags::APPLICATION_EXPIRATION_DATE,
            tags::PAN,
            tags::CDOL1,
            tags::CDOL2,
        ] {
            if !self.phase.card.contains(tag) {
                return Err(malformed(
                    CardObject::ApplicationData,
                    Malformation::MissingTag(tag),
                ));
            }
        }
        // Issue 15 item 5: track 2 against 5A / 5F24, before ODA, CVM or any GENERATE AC, so
        // the card never produces a cryptogram over inconsistent data.
        self.phase
            .card
            .check_consistency()
            .map_err(|e| malformed(CardObject::ApplicationData, e))?;
        self.offline_data_authentication(config, input, layer)?;
        let version = self
            .params
            .as_ref()
            .map(|p| p.application_version)
            .unwrap_or_default();
        self.tvr = self.tvr
            | restrictions::check(
                &self.phase.card,
                config.terminal.terminal(),
                version,
                &input.transaction,
            );
        self.cardholder_verification(config, input, layer, pin_pad)?;
        self.terminal_risk_management(config, input, layer)?;

        let (tac, iac) = self.action_codes();
        let mut requested =
            action::terminal_action_analysis(&self.tvr, &tac, &iac, self.online_capable);
        if input.merchant_forced_online
            && self.online_capable
            && requested == RequestedCryptogram::Tc
        {
            requested = RequestedCryptogram::Arqc;
        }
        let first = self.generate_ac(layer, requested, false)?;
        self.tsi.set(Tsi::CARD_RISK_MANAGEMENT_PERFORMED);
        for object in &first.objects {
            if let Ok(object) = tlv::parse_single(object) {
                self.phase.card.insert(object.tag(), object.value());
            }
        }
        let decision = action::card_action_analysis(requested, first.cid).map_err(|e| {
            malformed(
                CardObject::FirstGenerateAc,
                Malformation::CryptogramNotAllowed(e),
            )
        })?;
        let first = self.check_cda(first, decision != CardDecision::Decline);
        if let Some(ac) = &first.application_cryptogram {
            self.phase.card.insert(tags::APPLICATION_CRYPTOGRAM, ac);
        }
        self.field_55 = Some(self.build_field_55(&first));
        let cda_failed = first.cda_requested && self.oda.verified.is_none();
        self.first_ac = Some(first);
        match decision {
            CardDecision::Decline => Ok(Step::Final {
                outcome: Outcome::Declined,
                reason: Some("card declined (AAC)".into()),
                approval: None,
            }),
            CardDecision::Approve => Ok(self.offline_tc(cda_failed)),
            CardDecision::Online if cda_failed => {
                // Book 2 §6.6.2 (recalled): a failed CDA on an ARQC declines; the terminal
                // closes the card's transaction with an AAC.
                self.terminal_second_ac(layer, RequestedCryptogram::Aac, *b"Z1")?;
                Ok(Step::Final {
                    outcome: Outcome::Declined,
                    reason: Some(self.oda_reason("CDA failed")),
                    approval: None,
                })
            }
            CardDecision::Online if !self.online_capable => {
                self.unable_to_go_online(layer)
                    .map(|(outcome, reason, approval)| Step::Final {
                        outcome,
                        reason,
                        approval,
                    })
            }
            CardDecision::Online => Ok(Step::Online),
        }
    }

    fn oda_reason(&self, what: &str) -> String {
        match &self.oda.failure {
            Some(failure) => format!("{what}: {failure}"),
            None => what.to_owned(),
        }
    }

    /// A TC from the card: approve offline only with an [`OfflineApproval`].
    fn offline_tc(&self, cda_failed: bool) -> Step {
        if cda_failed {
            return Step::Final {
                outcome: Outcome::Declined,
                reason: Some(self.oda_reason("CDA failed")),
                approval: None,
            };
        }
        match OfflineApproval::from_report(&self.oda) {
            Some(approval) => Step::Final {
                outcome: Outcome::Approved,
                reason: None,
                approval: Some(approval),
            },
            None => Step::Final {
                outcome: Outcome::Declined,
                reason: Some(self.oda_reason("offline data authentication failed")),
                approval: None,
            },
        }
    }

    /// Book 3 §10.3: the method both sides support; SDA and DDA run now, CDA recovers its key
    /// (the signature comes with GENERATE AC).
    fn offline_data_authentication<T: Transport>(
        &mut self,
        config: &KernelConfig,
        input: &ContactInput,
        layer: &mut ApduLayer<T>,
    ) -> Result<(), KernelError<T::Error>> {
        let aip = card_aip(&self.phase.card);
        let Some(aid) = self.phase.aid else {
            return Err(KernelError::NoApplication);
        };
        let date = input.transaction.date;
        let phase = &self.phase;
        match select_oda_method(&aip, self.capabilities) {
            None => {
                self.oda = OdaReport::not_performed();
                self.oda.apply(&mut self.tvr, &mut self.tsi);
            }
            Some(OdaMethod::Sda) => {
                self.tvr.set(Tvr::SDA_SELECTED);
                self.oda = oda::run_sda(config, &aid, &phase.card, &phase.static_data, date);
                self.oda.apply(&mut self.tvr, &mut self.tsi);
            }
            Some(OdaMethod::Dda) | Some(OdaMethod::Fdda) => {
                let ddol = match phase.card.get(tags::DDOL) {
                    Some(ddol) => Dol::parse(ddol).ok(),
                    None => self
                        .params
                        .as_ref()
                        .and_then(|p| Dol::parse(&p.default_ddol).ok()),
                };
                let (ddol_data, signature) = match ddol {
                    Some(ddol) if ddol.contains(tags::UNPREDICTABLE_NUMBER) => {
                        let data = ddol.build(&Sources { phase });
                        let signature = internal_authenticate(layer, &data)?;
                        (data, signature)
                    }
                    Some(_) => (Vec::new(), Err(OdaFailure::DdolWithoutUnpredictableNumber)),
                    None => (Vec::new(), Err(OdaFailure::IccDataMissing(tags::DDOL))),
                };
                self.oda = oda::run_dda(
                    config,
                    &aid,
                    &phase.card,
                    &phase.static_data,
                    &ddol_data,
                    signature.as_deref().map_err(Clone::clone),
                    date,
                );
                self.oda.apply(&mut self.tvr, &mut self.tsi);
            }
            Some(OdaMethod::Cda) => {
                match oda::prepare_cda(config, &aid, &phase.card, &phase.static_data, date) {
                    Ok(key) => {
                        self.cda_key = Some(key);
                        self.oda = OdaReport {
                            method: Some(OdaMethod::Cda),
                            ..OdaReport::not_performed()
                        };
                        self.tsi.set(Tsi::OFFLINE_DATA_AUTHENTICATION_PERFORMED);
                    }
                    Err(report) => {
                        // Book 2 §6.6.1 (recalled): CDA failed now; GENERATE AC without CDA.
                        self.oda = report;
                        self.oda.apply(&mut self.tvr, &mut self.tsi);
                    }
                }
            }
        }
        Ok(())
    }

    fn cardholder_verification<T: Transport, P: PinPad + ?Sized>(
        &mut self,
        config: &KernelConfig,
        input: &ContactInput,
        layer: &mut ApduLayer<T>,
        pin_pad: &mut P,
    ) -> Result<(), KernelError<T::Error>> {
        let card = &self.phase.card;
        let terminal = config.terminal.terminal();
        let in_application_currency = match (
            card.get(tags::APPLICATION_CURRENCY_CODE),
            self.phase.values.get(tags::TRANSACTION_CURRENCY_CODE),
        ) {
            (Some(a), Some(t)) => a == t,
            _ => false,
        };
        let context = CvmContext {
            amount: input.transaction.amount.minor(),
            in_application_currency,
            unattended: matches!(terminal.terminal_type[0] & 0x0F, 4..=6),
            cash: input.transaction.transaction_type == 0x01,
            cashback: restrictions::Service::of(&input.transaction)
                == restrictions::Service::PurchaseWithCashback,
            capabilities: terminal.capabilities,
        };
        let cvm_supported = card_aip(card).contains(Aip::CARDHOLDER_VERIFICATION_SUPPORTED);
        let list = card.get(tags::CVM_LIST).map(<[u8]>::to_vec);
        let mut performer = CardPins {
            layer,
            pin_pad,
            amount: input.transaction.amount,
        };
        let outcome = cvm::process(cvm_supported, list.as_deref(), &context, &mut performer)
            .map_err(exchange_error)?;
        self.tvr = self.tvr | outcome.tvr;
        if outcome.performed {
            self.tsi.set(Tsi::CARDHOLDER_VERIFICATION_PERFORMED);
        }
        self.phase
            .values
            .set(tags::CVM_RESULTS, outcome.results.0.to_vec());
        self.cvm = Some(outcome);
        Ok(())
    }

    /// Book 3 §10.6, when the AIP asks for it: exception file, floor limit, random selection,
    /// velocity (GET DATA `9F36` and `9F13` when the card has `9F14` and `9F23`), merchant
    /// forcing.
    fn terminal_risk_management<T: Transport>(
        &mut self,
        config: &KernelConfig,
        input: &ContactInput,
        layer: &mut ApduLayer<T>,
    ) -> Result<(), KernelError<T::Error>> {
        if input.merchant_forced_online {
            self.tvr.set(Tvr::MERCHANT_FORCED_ONLINE);
        }
        if !card_aip(&self.phase.card).contains(Aip::TERMINAL_RISK_MANAGEMENT_REQUIRED) {
            return Ok(());
        }
        let Some(params) = self.params.clone() else {
            return Ok(());
        };
        if let Some(pan) = self.phase.card.pan() {
            let psn = self
                .phase
                .card
                .get(tags::PAN_SEQUENCE_NUMBER)
                .and_then(|p| p.first().copied());
            if config.is_denied(&pan, psn) {
                self.tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
            }
        }
        let amount = input.transaction.amount.minor();
        if risk::floor_limit_exceeded(amount, params.floor_limit) {
            self.tvr.set(Tvr::FLOOR_LIMIT_EXCEEDED);
        }
        if risk::randomly_selected(
            amount,
            params.floor_limit,
            params.random_selection.as_ref(),
            input.random_number,
        ) {
            self.tvr.set(Tvr::RANDOMLY_SELECTED_FOR_ONLINE);
        }
        let one_byte = |tag| match self.phase.card.get(tag) {
            Some([value]) => Some(*value),
            _ => None,
        };
        if let (Some(lower_limit), Some(upper_limit)) = (
            one_byte(tags::LOWER_CONSECUTIVE_OFFLINE_LIMIT),
            one_byte(tags::UPPER_CONSECUTIVE_OFFLINE_LIMIT),
        ) {
            let atc = u16_value(get_data(layer, tags::ATC).map_err(exchange_error)?);
            let last_online_atc =
                u16_value(get_data(layer, tags::LAST_ONLINE_ATC_REGISTER).map_err(exchange_error)?);
            self.tvr = self.tvr
                | risk::velocity(&VelocityData {
                    lower_limit,
                    upper_limit,
                    atc,
                    last_online_atc,
                });
        }
        self.tsi.set(Tsi::TERMINAL_RISK_MANAGEMENT_PERFORMED);
        Ok(())
    }

    /// Sends GENERATE AC with CDOL1 (`second` false) or CDOL2 data built from the current
    /// terminal values (TVR, TSI, CVM results, ARC, TC hash).
    fn generate_ac<T: Transport>(
        &mut self,
        layer: &mut ApduLayer<T>,
        requested: RequestedCryptogram,
        second: bool,
    ) -> Result<AcResponse, KernelError<T::Error>> {
        let cda = self.cda_key.is_some() && requested != RequestedCryptogram::Aac;
        let (tag, what, answer) = if second {
            (tags::CDOL2, CardObject::Cdol2, CardObject::SecondGenerateAc)
        } else {
            (tags::CDOL1, CardObject::Cdol1, CardObject::FirstGenerateAc)
        };
        let cdol = Dol::parse(self.phase.card.get(tag).unwrap_or_default())
            .map_err(|e| malformed(what, e))?;
        if cdol.contains(tags::TC_HASH_VALUE) {
            self.tc_hash();
        }
        self.phase.values.set_tvr(self.tvr);
        self.phase
            .values
            .set(tags::TSI, self.tsi.as_bytes().to_vec());
        let data = cdol.build(&Sources { phase: &self.phase });
        let command =
            Command::generate_ac(requested, cda, &data).map_err(|e| malformed(what, e))?;
        let response = layer.exchange(&command).map_err(exchange_error)?;
        if response.sw != StatusWord::OK {
            return Err(KernelError::Refused {
                command: "GENERATE AC",
                sw: response.sw,
            });
        }
        let mut ac =
            parse_ac_response(&response.data, requested, cda).map_err(|e| malformed(answer, e))?;
        ac.cdol_data = data;
        Ok(ac)
    }

    /// TC hash value `98` (Book 3 §5.4): SHA-1 of the TDOL data, the card's `97` or the
    /// configured default TDOL (TVR "default TDOL used").
    fn tc_hash(&mut self) {
        let tdol = match self.phase.card.get(tags::TDOL) {
            Some(tdol) => Dol::parse(tdol).unwrap_or_default(),
            None => {
                let default = self
                    .params
                    .as_ref()
                    .map(|p| p.default_tdol.clone())
                    .unwrap_or_default();
                if !default.is_empty() {
                    self.tvr.set(Tvr::DEFAULT_TDOL_USED);
                }
                Dol::parse(&default).unwrap_or_default()
            }
        };
        let data = tdol.build(&Sources { phase: &self.phase });
        self.phase
            .values
            .set(tags::TC_HASH_VALUE, sha1(&data).to_vec());
    }

    /// Verifies CDA on an answer that carries one (TC / ARQC asked with CDA). The report
    /// replaces the ODA report, and TVR / TSI are set from it.
    fn check_cda(&mut self, mut ac: AcResponse, signed: bool) -> AcResponse {
        if !ac.cda_requested || !signed {
            return ac;
        }
        let Some(key) = &self.cda_key else {
            return ac;
        };
        let mut pieces: Vec<&[u8]> = vec![&self.pdol_data];
        if let Some(first) = &self.first_ac {
            pieces.push(&first.cdol_data);
        }
        pieces.push(&ac.cdol_data);
        pieces.extend(ac.objects.iter().map(Vec::as_slice));
        let outcome = oda::run_cda(
            key,
            ac.sdad.as_deref(),
            &self.unpredictable_number,
            &pieces,
            ac.cid.byte(),
        );
        self.oda = outcome.report;
        self.oda.apply(&mut self.tvr, &mut self.tsi);
        if ac.application_cryptogram.is_none() {
            ac.application_cryptogram = outcome.application_cryptogram;
        }
        ac
    }

    fn build_field_55(&self, ac: &AcResponse) -> Vec<u8> {
        let cid = [ac.cid.byte()];
        icc_data::field_55(|tag| match tag {
            tags::APPLICATION_CRYPTOGRAM => ac.application_cryptogram.as_deref(),
            tags::CID => Some(&cid[..]),
            tags::ATC => Some(ac.atc.as_slice()),
            tags::ISSUER_APPLICATION_DATA => ac.iad.as_deref(),
            tags::DF_NAME => self.phase.aid.as_ref().map(Aid::as_bytes),
            _ => self
                .phase
                .card
                .get(tag)
                .or_else(|| self.phase.values.get(tag)),
        })
    }

    /// A second GENERATE AC the terminal decides alone (CDA failure on an ARQC, unable to go
    /// online): ARC in the CDOL2 data, the answer checked; returns the card's decision.
    fn terminal_second_ac<T: Transport>(
        &mut self,
        layer: &mut ApduLayer<T>,
        requested: RequestedCryptogram,
        arc: [u8; 2],
    ) -> Result<CardDecision, KernelError<T::Error>> {
        self.arc = Some(arc);
        self.phase
            .values
            .set(tags::AUTHORISATION_RESPONSE_CODE, arc.to_vec());
        self.second_generate_ac(layer, requested)
    }

    fn second_generate_ac<T: Transport>(
        &mut self,
        layer: &mut ApduLayer<T>,
        requested: RequestedCryptogram,
    ) -> Result<CardDecision, KernelError<T::Error>> {
        let second = self.generate_ac(layer, requested, true)?;
        let decision = action::card_action_analysis(requested, second.cid).map_err(|e| {
            malformed(
                CardObject::SecondGenerateAc,
                Malformation::CryptogramNotAllowed(e),
            )
        })?;
        if decision == CardDecision::Online {
            return Err(malformed(
                CardObject::SecondGenerateAc,
                Malformation::CryptogramNotAllowed(action::CardActionError {
                    requested: requested.into(),
                    returned: CryptogramType::Arqc,
                }),
            ));
        }
        let second = self.check_cda(second, decision == CardDecision::Approve);
        let cda_failed = second.cda_requested
            && decision == CardDecision::Approve
            && self.oda.verified.is_none();
        self.field_55 = Some(self.build_field_55(&second));
        self.second_ac = Some(second);
        Ok(if cda_failed {
            CardDecision::Decline
        } else {
            decision
        })
    }

    fn unable_to_go_online<T: Transport>(
        &mut self,
        layer: &mut ApduLayer<T>,
    ) -> Result<Ending, KernelError<T::Error>> {
        let (tac, iac) = self.action_codes();
        let requested = action::default_action(&self.tvr, &tac, &iac);
        let arc = if requested == RequestedCryptogram::Tc {
            online::ARC_UNABLE_ONLINE_APPROVED
        } else {
            online::ARC_UNABLE_ONLINE_DECLINED
        };
        let decision = self.terminal_second_ac(layer, requested, arc)?;
        Ok(match decision {
            CardDecision::Approve => match OfflineApproval::from_report(&self.oda) {
                Some(approval) => (
                    Outcome::Approved,
                    Some("unable to go online: approved offline".into()),
                    Some(approval),
                ),
                None => (
                    Outcome::Declined,
                    Some(self.oda_reason("unable to go online; ODA failed")),
                    None,
                ),
            },
            _ => (
                Outcome::Declined,
                Some(if self.cda_failed_last() {
                    self.oda_reason("unable to go online; CDA failed")
                } else {
                    "unable to go online: declined".to_owned()
                }),
                None,
            ),
        })
    }

    fn cda_failed_last(&self) -> bool {
        self.second_ac.as_ref().is_some_and(|ac| ac.cda_requested) && self.oda.verified.is_none()
    }

    fn online<T: Transport>(
        &mut self,
        response: HostResponse,
        layer: &mut ApduLayer<T>,
    ) -> Result<Ending, KernelError<T::Error>> {
        let scripts = online::parse_scripts(&response.scripts);
        self.arc = Some(response.arc);
        self.phase
            .values
            .set(tags::AUTHORISATION_RESPONSE_CODE, response.arc.to_vec());
        let card = &self.phase.card;
        let cdol2 = Dol::parse(card.get(tags::CDOL2).unwrap_or_default())
            .map_err(|e| malformed(CardObject::Cdol2, e))?;
        if let Some(data) = &response.issuer_authentication_data {
            if card_aip(card).contains(Aip::ISSUER_AUTHENTICATION_SUPPORTED) {
                if cdol2.contains(tags::ISSUER_AUTHENTICATION_DATA) {
                    // The card authenticates the issuer in the second GENERATE AC.
                    self.phase
                        .values
                        .set(tags::ISSUER_AUTHENTICATION_DATA, data.clone());
                } else {
                    self.tsi.set(Tsi::ISSUER_AUTHENTICATION_PERFORMED);
                    let ok = match Command::external_authenticate(data) {
                        Ok(command) => {
                            layer.exchange(&command).map_err(exchange_error)?.sw == StatusWord::OK
                        }
                        Err(_) => false,
                    };
                    if !ok {
                        self.tvr.set(Tvr::ISSUER_AUTHENTICATION_FAILED);
                    }
                }
            }
        }
        let before = tags::ISSUER_SCRIPT_TEMPLATE_1;
        let (results, failed) =
            online::run_scripts(layer, &scripts, before).map_err(exchange_error)?;
        if !results.is_empty() {
            self.tsi.set(Tsi::SCRIPT_PROCESSING_PERFORMED);
        }
        if failed {
            self.tvr.set(Tvr::SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC);
        }
        self.script_results.extend(results);

        let (tac, iac) = self.action_codes();
        let (requested, why) = if !response.approved() {
            (RequestedCryptogram::Aac, "issuer declined")
        } else if action::denied(&self.tvr, &tac, &iac) {
            (
                RequestedCryptogram::Aac,
                "denial action codes after online processing",
            )
        } else {
            (RequestedCryptogram::Tc, "")
        };
        let decision = self.second_generate_ac(layer, requested)?;

        let after = tags::ISSUER_SCRIPT_TEMPLATE_2;
        let (results, failed) =
            online::run_scripts(layer, &scripts, after).map_err(exchange_error)?;
        if !results.is_empty() {
            self.tsi.set(Tsi::SCRIPT_PROCESSING_PERFORMED);
        }
        if failed {
            self.tvr.set(Tvr::SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC);
        }
        self.script_results.extend(results);
        if !self.script_results.is_empty() {
            if let Some(field_55) = self.field_55.as_mut() {
                let results = online::script_results_bytes(&self.script_results);
                tlv::encode(online::ISSUER_SCRIPT_RESULTS, &results, field_55);
            }
        }
        Ok(match decision {
            CardDecision::Approve => (Outcome::Approved, None, None),
            _ if self.cda_failed_last() => {
                (Outcome::Declined, Some(self.oda_reason("CDA failed")), None)
            }
            _ if requested == RequestedCryptogram::Aac => {
                (Outcome::Declined, Some(why.to_owned()), None)
            }
            _ => (
                Outcome::Declined,
                Some("card declined after online approval (AAC)".into()),
                None,
            ),
        })
    }

    fn first_phase_result(self, step: Step) -> FirstPhase {
        match step {
            Step::Final {
                outcome,
                reason,
                approval,
            } => FirstPhase::Complete(Box::new(self.finish(outcome, reason, approval))),
            Step::Online => FirstPhase::Online(Box::new(OnlineRequest {
                field_55: self.field_55.clone().unwrap_or_default(),
                tx: self,
            })),
        }
    }

    fn finish(
        self,
        outcome: Outcome,
        reason: Option<String>,
        offline_approval: Option<OfflineApproval>,
    ) -> ContactResult {
        let last = self.second_ac.as_ref().or(self.first_ac.as_ref());
        ContactResult {
            outcome,
            cryptogram_type: last.map(|ac| ac.cid.cryptogram_type()),
            oda: self.oda,
            tvr: self.tvr,
            tsi: self.tsi,
            cvm: self.cvm,
            first_ac: self.first_ac,
            second_ac: self.second_ac,
            field_55: self.field_55,
            script_results: self.script_results,
            arc: self.arc,
            offline_approval,
            selection: self.selection,
            reason,
            card_phase: self.phase,
        }
    }
}

/// INTERNAL AUTHENTICATE (Book 3 §6.5.9): the SDAD of a `80` or `77` answer, or why none.
fn internal_authenticate<T: Transport>(
    layer: &mut ApduLayer<T>,
    ddol_data: &[u8],
) -> Result<Result<Vec<u8>, OdaFailure>, KernelError<T::Error>> {
    let Ok(command) = Command::internal_authenticate(ddol_data) else {
        return Ok(Err(OdaFailure::MalformedResponse("DDOL data")));
    };
    let response = layer.exchange(&command).map_err(exchange_error)?;
    if response.sw != StatusWord::OK {
        return Ok(Err(OdaFailure::CardRefused(response.sw)));
    }
    let malformed = OdaFailure::MalformedResponse("INTERNAL AUTHENTICATE");
    let Ok(root) = tlv::parse_single(&response.data) else {
        return Ok(Err(malformed));
    };
    Ok(match root.tag() {
        tags::RESPONSE_TEMPLATE_FORMAT_1 => Ok(root.value().to_vec()),
        tags::RESPONSE_TEMPLATE_FORMAT_2 => {
            match root.find(tags::SIGNED_DYNAMIC_APPLICATION_DATA) {
                Ok(Some(sdad)) => Ok(sdad.value().to_vec()),
                Ok(None) => Err(OdaFailure::IccDataMissing(
                    tags::SIGNED_DYNAMIC_APPLICATION_DATA,
                )),
                Err(_) => Err(malformed),
            }
        }
        _ => Err(malformed),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oda_method_choice() {
        let aip = |b: u8| Aip::from_bytes([b, 0]);
        let all = [0xE0, 0x08, 0xC8];
        assert_eq!(select_oda_method(&aip(0x61), all), Some(OdaMethod::Cda));
        assert_eq!(
            select_oda_method(&aip(0x61), [0xE0, 0x08, 0xC0]),
            Some(OdaMethod::Dda)
        );
        assert_eq!(
            select_oda_method(&aip(0x61), [0xE0, 0x08, 0x80]),
            Some(OdaMethod::Sda)
        );
        assert_eq!(select_oda_method(&aip(0x40), all), Some(OdaMethod::Sda));
        assert_eq!(select_oda_method(&aip(0x00), all), None);
        assert_eq!(select_oda_method(&aip(0x61), [0xE0, 0x08, 0x00]), None);
    }

    #[test]
    fn ac_responses() {
        let f1 = hex::decode("800E80000A1122334455667788AABBCC").unwrap();
        let ac = parse_ac_response(&f1, RequestedCryptogram::Arqc, false).unwrap();
        assert_eq!(ac.cid.cryptogram_type(), CryptogramType::Arqc);
        assert_eq!(ac.atc, vec![0, 0x0A]);
        assert_eq!(ac.iad.as_deref(), Some(&[0xAA, 0xBB, 0xCC][..]));
        let mut body = Vec::new();
        tlv::encode(tags::CID, &[0x40], &mut body);
        tlv::encode(tags::ATC, &[0, 1], &mut body);
        tlv::encode(tags::SIGNED_DYNAMIC_APPLICATION_DATA, &[1, 2, 3], &mut body);
        tlv::encode(tags::ISSUER_APPLICATION_DATA, &[7], &mut body);
        let f2 = tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body);
        let ac = parse_ac_response(&f2, RequestedCryptogram::Tc, true).unwrap();
        assert_eq!(ac.sdad.as_deref(), Some(&[1, 2, 3][..]));
        assert_eq!(ac.objects.len(), 3);
        assert_eq!(ac.objects[2], vec![0x9F, 0x10, 0x01, 0x07]);
        // No CID, no ATC, no cryptogram, short format 1, other template: errors.
        for bad in [
            "77059F36020001",
            "77049F270140",
            "77089F2701409F36020001",
            "8005800001020304",
            "70039F2700",
        ] {
            let bytes = hex::decode(bad).unwrap();
            assert!(
                parse_ac_response(&bytes, RequestedCryptogram::Tc, false).is_err(),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        /// No parser of card or host bytes panics, whatever the bytes.
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let mut template = vec![0x77, bytes.len().min(0x7F) as u8];
            template.extend_from_slice(&bytes[..bytes.len().min(0x7F)]);
            for data in [&bytes[..], &template[..]] {
                let _ = parse_ac_response(data, RequestedCryptogram::Tc, true);
                let _ = online::parse_scripts(data);
                let _ = online::script_command(data);
                let _ = selection::fci_entry(data);
                let _ = cvm::CvmList::parse(data);
            }
        }
    }

    #[test]
    fn offline_approval_needs_a_token_or_no_method() {
        assert!(OfflineApproval::from_report(&OdaReport::not_performed())
            .is_some_and(|a| a.oda_verified().is_none()));
        let failed = OdaReport {
            method: Some(OdaMethod::Dda),
            ..OdaReport::not_performed()
        };
        assert!(OfflineApproval::from_report(&failed).is_none());
    }
}
