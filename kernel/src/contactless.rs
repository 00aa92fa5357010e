//! The contactless qPBOC / qVSDC transaction (JR/T 0025.12; EMV Book C-3 for the shared
//! structure; pboc-notes §1–2): a **card phase** that sends every APDU, then a **completion
//! phase** with no I/O that runs fDDA and decides, so the terminal can tell the passenger to
//! remove the card between the two.
//!
//! ```text
//! read_card:  PPSE ─▶ candidates ─▶ SELECT AID ─▶ GPO (PDOL) ─▶ READ RECORD × AFL
//! complete:   cryptogram type ─▶ fDDA ─▶ expiry / exception file ─▶ Outcome
//! ```
//!
//! An offline approval needs a TC from the card **and** an [`OdaVerified`](crate::oda::OdaVerified)
//! token; anything less declines, goes online or switches interface as the CTQ says.

use crate::afl::{self, StaticData, StaticDataError};
use crate::apdu::{Command, Occurrence};
use crate::bits::{Aip, CryptogramType, Ctq, Tsi, Ttq, Tvr};
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::dol::Dol;
use crate::oda::{self, OdaReport, OdaStatus};
use crate::outcome::{cryptogram_name, Outcome, TransactionRecord};
use crate::preprocess;
use crate::selection::{self, CandidateList, SelectionError};
use crate::tag::Tag;
use crate::tags;
use crate::terminal_values::{TerminalValues, TransactionInput};
use crate::tlv::{self, TlvIter};
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{Aid, Amount, StatusWord};

/// Something went wrong in the exchange with the card: not an outcome by itself, but each maps
/// to one through [`KernelError::outcome`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError<E: std::error::Error + 'static> {
    /// The transport failed (card removed, reader gone) or the card's answer was unusable.
    #[error("exchange failed: {0}")]
    Exchange(#[source] ExchangeError<E>),
    /// The card sent malformed data (which object, and what was wrong).
    #[error("card sent malformed {what}: {reason}")]
    CardData {
        /// The object (`FCI`, `GPO response`, `record 2 of SFI 1`).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// The card refused a command the flow cannot do without.
    #[error("card refused {command} with {sw}")]
    Refused {
        /// The command.
        command: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// The card has no PPSE or no application the terminal supports.
    #[error("no supported application on the card")]
    NoApplication,
}

impl<E: std::error::Error + 'static> KernelError<E> {
    /// The outcome a terminal shows for this error: the card cannot be used contactless, so
    /// end the application (the terminal may ask the passenger to tap again).
    pub fn outcome(&self) -> Outcome {
        Outcome::EndApplication
    }
}

fn malformed<E: std::error::Error + 'static>(
    what: impl Into<String>,
    reason: impl ToString,
) -> KernelError<E> {
    KernelError::CardData {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// Everything the card phase gathered; [`CardPhase::complete`] turns it into a result.
///
/// `Debug` shows the static data to be authenticated only by its length: it holds the PAN (and
/// whatever else the issuer signed) in clear.
#[derive(Clone)]
pub struct CardPhase {
    /// The transaction input.
    pub input: TransactionInput,
    /// The terminal values used (with the TTQ and TVR as sent).
    pub values: TerminalValues,
    /// The selected application's DF name, when one was selected.
    pub aid: Option<Aid>,
    /// The FCI of the selected application (its `BF0C` holds the log entries `9F4D`/`DF4D`).
    pub fci: Vec<u8>,
    /// The GET PROCESSING OPTIONS command as sent (without Le), when sent.
    pub gpo_command: Option<Vec<u8>>,
    /// Data objects from the GPO response and the records.
    pub card: CardData,
    /// The static data to be authenticated, or why it could not be assembled.
    pub static_data: Result<Vec<u8>, StaticDataError>,
    /// APDUs sent.
    pub apdus: u64,
    /// An outcome the card phase already reached (e.g. try another interface), with a reason.
    pub early_outcome: Option<(Outcome, String)>,
}

impl std::fmt::Debug for CardPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let static_data = match &self.static_data {
            Ok(bytes) => format!("Ok(<{} bytes>)", bytes.len()),
            Err(e) => format!("Err({e:?})"),
        };
        f.debug_struct("CardPhase")
            .field("input", &self.input)
            .field("values", &self.values)
            .field("aid", &self.aid)
            .field("fci", &self.fci)
            .field("gpo_command", &self.gpo_command)
            .field("card", &self.card)
            .field("static_data", &format_args!("{static_data}"))
            .field("apdus", &self.apdus)
            .field("early_outcome", &self.early_outcome)
            .finish()
    }
}

/// The result of a whole transaction.
#[derive(Debug, Clone)]
pub struct TransactionResult {
    /// The outcome.
    pub outcome: Outcome,
    /// The cryptogram type the card returned.
    pub cryptogram_type: Option<CryptogramType>,
    /// What ODA did.
    pub oda: OdaReport,
    /// Terminal verification results.
    pub tvr: Tvr,
    /// Transaction status information.
    pub tsi: Tsi,
    /// Field 55 for the host, on an online request.
    pub field_55: Option<Vec<u8>>,
    /// Why the kernel ended where it did.
    pub reason: Option<String>,
    /// The card phase it came from.
    pub card_phase: CardPhase,
}

/// Runs the card phase with terminal values from configuration and input.
pub fn read_card<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
) -> Result<CardPhase, KernelError<T::Error>> {
    read_card_with_overrides(config, input, &[], layer)
}

/// Runs the card phase; `overrides` replace terminal values after pre-processing (used to
/// replay a recorded terminal exactly).
pub fn read_card_with_overrides<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
) -> Result<CardPhase, KernelError<T::Error>> {
    let mut phase = CardPhase::new(config, input);
    run_card_phase(config, overrides, layer, &mut phase)?;
    Ok(phase)
}

impl CardPhase {
    /// An empty card phase for a transaction, before any APDU.
    pub fn new(config: &KernelConfig, input: &TransactionInput) -> Self {
        CardPhase {
            input: *input,
            values: TerminalValues::new(config.terminal.terminal(), input),
            aid: None,
            fci: Vec::new(),
            gpo_command: None,
            card: CardData::new(),
            static_data: Ok(Vec::new()),
            apdus: 0,
            early_outcome: None,
        }
    }
}

/// The card phase, filling `phase` as it goes: after an error, `phase` holds what was read
/// before it (useful to report on a torn or truncated exchange).
pub fn run_card_phase<T: Transport>(
    config: &KernelConfig,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
    phase: &mut CardPhase,
) -> Result<(), KernelError<T::Error>> {
    let start = layer.counters().apdus_sent;
    let result = card_phase_steps(config, overrides, layer, phase);
    phase.apdus = layer.counters().apdus_sent - start;
    result
}

fn card_phase_steps<T: Transport>(
    config: &KernelConfig,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
    phase: &mut CardPhase,
) -> Result<(), KernelError<T::Error>> {
    let terminal = &config.terminal;
    let input = phase.input;
    // Pre-processing: AIDs whose limits forbid contactless at this amount drop out.
    let allowed: Vec<_> = terminal
        .aids()
        .iter()
        .filter(|aid| {
            !preprocess::indicators(terminal.terminal(), aid, input.amount).contactless_not_allowed
        })
        .collect();
    if allowed.is_empty() {
        phase.early_outcome = Some((
            another_interface_or_end(config),
            "amount not allowed contactless for any AID".to_owned(),
        ));
        return Ok(());
    }
    let terminal_aids: Vec<_> = allowed
        .iter()
        .map(|a| selection::TerminalAid {
            aid: a.aid,
            partial_match: a.partial_match,
        })
        .collect();

    let entries = selection::read_ppse_directory(layer).map_err(|e| match e {
        SelectionError::Exchange(e) => KernelError::Exchange(e),
        SelectionError::NoDirectory | SelectionError::CardBlocked => KernelError::NoApplication,
        other => malformed("PPSE", other),
    })?;
    let mut candidates = CandidateList::build(entries, &terminal_aids);

    while let Some(candidate) = candidates.take_first() {
        let aid = candidate.entry.aid;
        let command = Command::select_aid(&aid, Occurrence::First);
        let response = layer.exchange(&command).map_err(KernelError::Exchange)?;
        if response.sw != StatusWord::OK {
            continue; // blocked (6283) or absent: select next
        }
        let response_fci = response.data.clone();
        let fci = tlv::parse_single(&response_fci).map_err(|e| malformed("FCI", e))?;
        let pdol = match fci.find(tags::PDOL).map_err(|e| malformed("FCI", e))? {
            Some(pdol) => Some(Dol::parse(pdol.value()).map_err(|e| malformed("PDOL", e))?),
            None => None,
        };
        let parameters = allowed[candidate.terminal_aid];
        let indicators = preprocess::indicators(terminal.terminal(), parameters, input.amount);
        phase.values.set_aid_parameters(parameters);
        phase
            .values
            .set_ttq(preprocess::ttq(terminal.terminal(), &indicators));
        for (tag, value) in overrides {
            phase.values.set(*tag, value.clone());
        }
        let pdol_data = pdol.map(|d| d.build(&phase.values)).unwrap_or_default();
        let gpo =
            Command::get_processing_options(&pdol_data).map_err(|e| malformed("PDOL data", e))?;
        let response = layer.exchange(&gpo).map_err(KernelError::Exchange)?;
        phase.aid = Some(aid);
        phase.fci = response_fci;
        phase.gpo_command = Some(crate::apdu::core(&gpo.to_bytes()).to_vec());
        match response.sw {
            StatusWord::OK => {}
            StatusWord::CONDITIONS_NOT_SATISFIED if !candidates.candidates.is_empty() => continue,
            StatusWord::CONDITIONS_NOT_SATISFIED => {
                // JR/T 0025.12 §6.5.3 (pboc-notes §1.1): the card wants another interface.
                phase.early_outcome = Some((
                    another_interface_or_end(config),
                    "GPO refused with 6985".to_owned(),
                ));
                return Ok(());
            }
            sw => {
                return Err(KernelError::Refused {
                    command: "GET PROCESSING OPTIONS",
                    sw,
                })
            }
        }
        absorb_gpo_response(&mut phase.card, &response.data)?;
        phase.static_data = read_records(layer, &mut phase.card)?;
        return Ok(());
    }
    Err(KernelError::NoApplication)
}

fn another_interface_or_end(config: &KernelConfig) -> Outcome {
    if config.terminal.terminal().contact_supported {
        Outcome::TryAnotherInterface
    } else {
        Outcome::EndApplication
    }
}

/// Reads a GPO response, format 1 (`80`: AIP ‖ AFL) or format 2 (`77`), into the card data.
pub fn absorb_gpo_response<E: std::error::Error + 'static>(
    card: &mut CardData,
    data: &[u8],
) -> Result<(), KernelError<E>> {
    let response = tlv::parse_single(data).map_err(|e| malformed("GPO response", e))?;
    match response.tag() {
        tags::RESPONSE_TEMPLATE_FORMAT_1 => {
            let value = response.value();
            if value.len() < 2 || (value.len() - 2) % 4 != 0 {
                return Err(malformed("GPO response", "format 1 length"));
            }
            card.insert(tags::AIP, &value[..2]);
            card.insert(tags::AFL, &value[2..]);
        }
        tags::RESPONSE_TEMPLATE_FORMAT_2 => card
            .absorb(TlvIter::with_offset(
                response.value(),
                response.value_offset(),
            ))
            .map_err(|e| malformed("GPO response", e))?,
        other => return Err(malformed("GPO response", format!("template {other}"))),
    }
    match card.get(tags::AIP) {
        Some(aip) if aip.len() == 2 => Ok(()),
        _ => Err(malformed("GPO response", "no AIP")),
    }
}

/// READ RECORD for every record of the AFL, in order; returns the static data (or why not).
fn read_records<T: Transport>(
    layer: &mut ApduLayer<T>,
    card: &mut CardData,
) -> Result<Result<Vec<u8>, StaticDataError>, KernelError<T::Error>> {
    let entries = match card.get(tags::AFL) {
        Some(afl) => afl::parse_afl(afl).map_err(|e| malformed("AFL", e))?,
        None => Vec::new(),
    };
    let mut static_data = StaticData::default();
    for entry in &entries {
        for (record, signed) in entry.records() {
            let command =
                Command::read_record(record, entry.sfi).map_err(|e| malformed("AFL", e))?;
            let response = layer.exchange(&command).map_err(KernelError::Exchange)?;
            if response.sw != StatusWord::OK {
                return Err(KernelError::Refused {
                    command: "READ RECORD",
                    sw: response.sw,
                });
            }
            if signed {
                static_data.add_record(entry.sfi, record, &response.data);
            }
            if entry.sfi.value() <= 10 {
                afl::absorb_record(card, &response.data).map_err(|e| {
                    malformed(format!("record {record} of SFI {}", entry.sfi.value()), e)
                })?;
            }
        }
    }
    Ok(static_data.finish(card))
}

/// The cryptogram type: `9F27` bits 8–7 when present, else the PBOC CVR in the IAD
/// (`9F10` byte index 4, bits 6–5; pboc-notes §2.5).
pub fn cryptogram_type(card: &CardData) -> Option<CryptogramType> {
    if let Some([cid]) = card.get(tags::CID) {
        return Some(CryptogramType::from_bits(*cid));
    }
    card.get(tags::ISSUER_APPLICATION_DATA)
        .and_then(|iad| iad.get(4))
        .map(|byte| CryptogramType::from_pboc_cvr_byte(*byte))
}

/// The fDDA dynamic data: `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69` for fDDA version 01, else `9F37`.
pub fn fdda_dynamic_data(values: &TerminalValues, card: &CardData) -> Vec<u8> {
    let mut data = values
        .get(tags::UNPREDICTABLE_NUMBER)
        .unwrap_or_default()
        .to_vec();
    if let Some(related) = card.get(tags::CARD_AUTHENTICATION_RELATED_DATA) {
        if related.first() == Some(&0x01) {
            for tag in [tags::AMOUNT_AUTHORISED, tags::TRANSACTION_CURRENCY_CODE] {
                data.extend_from_slice(values.get(tag).unwrap_or_default());
            }
            data.extend_from_slice(related);
        }
    }
    data
}

/// Field 55 objects sent to the host on an online request (JR/T 0025 part 7 / EMV Book 4 §12).
const FIELD_55_TAGS: &[Tag] = &[
    tags::APPLICATION_CRYPTOGRAM,
    tags::CID,
    tags::ISSUER_APPLICATION_DATA,
    tags::UNPREDICTABLE_NUMBER,
    tags::ATC,
    tags::TVR,
    tags::TRANSACTION_DATE,
    tags::TRANSACTION_TYPE,
    tags::AMOUNT_AUTHORISED,
    tags::TRANSACTION_CURRENCY_CODE,
    tags::AIP,
    tags::TERMINAL_COUNTRY_CODE,
    tags::AMOUNT_OTHER,
    tags::TERMINAL_CAPABILITIES,
    tags::TERMINAL_TYPE,
    tags::IFD_SERIAL_NUMBER,
    tags::DF_NAME,
    tags::APPLICATION_VERSION_NUMBER_TERMINAL,
    tags::PAN_SEQUENCE_NUMBER,
    tags::CTQ,
    tags::PRODUCT_IDENTIFICATION_INFORMATION,
];

impl CardPhase {
    /// The completion phase (no I/O): fDDA, card checks and the outcome.
    pub fn complete(self, config: &KernelConfig) -> TransactionResult {
        let mut tvr = Tvr::new();
        let mut tsi = Tsi::new();
        let cryptogram = cryptogram_type(&self.card);
        if let Some((outcome, reason)) = self.early_outcome.clone() {
            return self.finish(
                outcome,
                cryptogram,
                OdaReport::not_performed(),
                tvr,
                tsi,
                Some(reason),
            );
        }
        let Some(aid) = self.aid else {
            return self.finish(
                Outcome::EndApplication,
                cryptogram,
                OdaReport::not_performed(),
                tvr,
                tsi,
                Some("no application".into()),
            );
        };
        let aip = self
            .card
            .get(tags::AIP)
            .and_then(|a| Aip::from_slice(a).ok())
            .unwrap_or_default();
        let ctq = self
            .card
            .get(tags::CTQ)
            .and_then(|c| Ctq::from_slice(c).ok())
            .unwrap_or_default();
        let ttq = self
            .values
            .get(tags::TTQ)
            .and_then(|t| Ttq::from_slice(t).ok())
            .unwrap_or_default();

        // fDDA whenever the card offers it (also on online authorisations: the trace shows
        // kernels verifying it; a failure is reported in the TVR).
        let oda = if aip.contains(Aip::DDA_SUPPORTED)
            && self.card.contains(tags::SIGNED_DYNAMIC_APPLICATION_DATA)
        {
            let dynamic = fdda_dynamic_data(&self.values, &self.card);
            oda::run_fdda(
                config,
                &aid,
                &self.card,
                &self.static_data,
                &dynamic,
                self.input.date,
            )
        } else {
            OdaReport::not_performed()
        };
        oda.apply(&mut tvr, &mut tsi);

        let (outcome, reason) = match cryptogram {
            None => (
                Outcome::EndApplication,
                Some("no cryptogram from the card".to_owned()),
            ),
            Some(CryptogramType::Aac) | Some(CryptogramType::Rfu) => {
                (Outcome::Declined, Some("card declined (AAC)".to_owned()))
            }
            Some(CryptogramType::Arqc) => (Outcome::OnlineRequest, None),
            Some(CryptogramType::Tc) => self.offline_decision(config, &oda, &ctq, &ttq, &mut tvr),
        };
        self.finish(outcome, cryptogram, oda, tvr, tsi, reason)
    }

    /// A TC: approve offline only if nothing is wrong (pboc-notes §2.5 step 3).
    fn offline_decision(
        &self,
        config: &KernelConfig,
        oda: &OdaReport,
        ctq: &Ctq,
        ttq: &Ttq,
        tvr: &mut Tvr,
    ) -> (Outcome, Option<String>) {
        let online_capable =
            config.terminal.terminal().online_capable && !ttq.contains(Ttq::OFFLINE_ONLY_READER);
        if self.is_expired() {
            tvr.set(Tvr::EXPIRED_APPLICATION);
            return if ctq.contains(Ctq::GO_ONLINE_IF_APPLICATION_EXPIRED) && online_capable {
                (
                    Outcome::OnlineRequest,
                    Some("application expired: online per CTQ".into()),
                )
            } else {
                (Outcome::Declined, Some("application expired".into()))
            };
        }
        if let Some(pan) = self.card.pan() {
            if config.terminal.is_on_exception_file(pan.expose_digits()) {
                tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
                return (Outcome::Declined, Some("card on the exception file".into()));
            }
        }
        if oda.verified.is_some() {
            return (Outcome::Approved, None);
        }
        let why = match &oda.failure {
            Some(failure) => format!("fDDA failed: {failure}"),
            None => "no fDDA signature for an offline approval".to_owned(),
        };
        if oda.status() == OdaStatus::NotPerformed {
            tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
        }
        if ctq.contains(Ctq::GO_ONLINE_IF_ODA_FAILS) && online_capable {
            (Outcome::OnlineRequest, Some(why))
        } else if ctq.contains(Ctq::SWITCH_INTERFACE_IF_ODA_FAILS)
            && config.terminal.terminal().contact_supported
        {
            (Outcome::TryAnotherInterface, Some(why))
        } else {
            (Outcome::Declined, Some(why))
        }
    }

    /// `5F24` (YYMMDD) before the transaction date. A malformed date counts as expired.
    fn is_expired(&self) -> bool {
        let Some(expiry) = self.card.get(tags::APPLICATION_EXPIRATION_DATE) else {
            return false;
        };
        match crate::values::TransactionDate::from_bcd(expiry) {
            Ok(expiry) => expiry < self.input.date,
            Err(_) => true,
        }
    }

    fn finish(
        self,
        outcome: Outcome,
        cryptogram_type: Option<CryptogramType>,
        oda: OdaReport,
        tvr: Tvr,
        tsi: Tsi,
        reason: Option<String>,
    ) -> TransactionResult {
        let field_55 = (outcome == Outcome::OnlineRequest).then(|| self.field_55());
        TransactionResult {
            outcome,
            cryptogram_type,
            oda,
            tvr,
            tsi,
            field_55,
            reason,
            card_phase: self,
        }
    }

    /// Field 55 in [`FIELD_55_TAGS`] order. Terminal objects — the TVR included — are the
    /// values sent to the card in the GPO: the card's cryptogram covers those, so the issuer can
    /// only verify it with them. The TVR after completion is in the result, for the terminal.
    fn field_55(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for &tag in FIELD_55_TAGS {
            let value = if tag == tags::DF_NAME {
                self.aid.as_ref().map(Aid::as_bytes)
            } else {
                self.card.get(tag).or_else(|| self.values.get(tag))
            };
            if let Some(value) = value {
                tlv::encode(tag, value, &mut out);
            }
        }
        out
    }
}

impl TransactionResult {
    /// The EC balance (`9F5D` available offline spending amount, or `9F79`), when the card said.
    pub fn ec_balance(&self) -> Option<Amount> {
        [tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT, tags::EC_BALANCE]
            .into_iter()
            .find_map(|tag| self.card_phase.card.get(tag))
            .and_then(|v| Amount::from_n12_slice(v).ok())
    }

    /// The serialisable record (PAN masked).
    pub fn record(&self) -> TransactionRecord {
        let card = &self.card_phase.card;
        TransactionRecord {
            outcome: self.outcome,
            cryptogram_type: self.cryptogram_type.map(cryptogram_name),
            oda: self.oda.status(),
            tvr: hex::encode_upper(self.tvr.as_bytes()),
            tsi: hex::encode_upper(self.tsi.as_bytes()),
            aid: self.card_phase.aid.map(|a| a.to_string()),
            pan: card.pan().map(|p| p.masked()),
            amount: self.card_phase.input.amount.minor(),
            application_cryptogram: card
                .get(tags::APPLICATION_CRYPTOGRAM)
                .map(hex::encode_upper),
            atc: card.get(tags::ATC).map(hex::encode_upper),
            ec_balance: self.ec_balance().map(Amount::minor),
            apdus: self.card_phase.apdus,
            field_55: self.field_55.as_ref().map(hex::encode_upper),
            reason: self.reason.clone(),
        }
    }
}
