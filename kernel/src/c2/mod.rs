//! The Mastercard contactless kernel, EMV Book C-2 (M/Chip, "EMV mode"; pboc-notes §9): what
//! runs after Entry Point has selected a Mastercard application (kernel id `02`).
//!
//! ```text
//! transact(fci):  GPO (PDOL from the terminal values and the C-2 configuration)
//!   ─▶ mag-stripe-only card? ─▶ Try Another Interface (mag-stripe mode not implemented)
//!   ─▶ EXCHANGE RELAY RESISTANCE DATA (AIP b2 b1, DF811B b5), timed by the reader
//!   ─▶ READ RECORD × AFL ─▶ reader limits (DF8124 / DF8125 by on-device CVM) ─▶ Select Next
//!   ─▶ torn log: same PAN + PSN? ─▶ RECOVER AC (80 D0) with the torn DRDOL data
//!   ─▶ processing restrictions, CVM by the reader CVM required limit (DF8126 / DF8118 / DF8119)
//!   ─▶ floor limit (DF8123), CDA key recovery, terminal action analysis (DF8120–DF8122)
//!   ─▶ GENERATE AC, CDA asked (P1 b5) ── card leaves ─▶ torn record, Try Again (start B)
//!   ══ card can be removed ══
//!   ─▶ CDA verified (and the relay resistance values inside it) ─▶ outcome
//!   ─▶ C2Result: Outcome Parameter Set (DF8129), Data Record (FF8105), Discretionary Data (FF8106)
//! ```
//!
//! An offline approval needs a TC **and** a verified CDA signature ([`crate::OdaVerified`]); a
//! tampered signature or cryptogram declines, whatever the action codes say. The torn log
//! ([`TornLog`]) belongs to the reader and is passed to every tap.
//!
//! Mag-stripe mode (a card whose AIP does not offer EMV mode) is recognised and not
//! implemented: the tap ends in Try Another Interface with the reason said.

mod config;
pub(crate) mod cvm;
mod record;
mod rrp;
mod torn;

pub use config::{
    tags, C2Config, C2ConfigError, KernelConfiguration, RelayResistanceConfig,
    SECURITY_CAPABILITY_CDA,
};
pub use record::{
    C2DataRecord, C2DiscretionaryData, ErrorIndication, L1Error, L2Error, DATA_RECORD_TAGS,
};
pub use rrp::{RelayEnvironment, RrpData, RrpResult};
pub use torn::{TornKey, TornLog, TornRecord};

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::apdu::{Command, RequestedCryptogram};
use crate::bits::{CryptogramType, Tvr};
use crate::card_data::CardData;
use crate::cda_ac;
use crate::cda_ac::KernelValues;
use crate::config::KernelConfig;
use crate::contact::action::{self, ActionCodes};
use crate::contact::AcResponse;
use crate::dol::{Dol, DolSource};
use crate::error::{malformed, CardObject, KernelError, Malformation, GPO};
use crate::oda::{self, CdaKey, OdaFailure, OdaReport};
use crate::outcome::Outcome;
use crate::outcome_parameters::{
    AlternateInterface, Deciseconds, MessageId, OutcomeCvm, OutcomeParameterSet, ReaderStatus,
    StartPoint, UiRequest,
};
use crate::read_records::{absorb_gpo_response, read_records, AflPolicy};
use crate::tag::Tag;
use crate::terminal_values::{TerminalValues, TransactionInput};
use crate::tlv;
use crate::transport::{ApduLayer, LinkFailure, Transport};
use crate::values::{Aid, StatusWord};

/// The C-2 kernel identifier (Book B; `DF810C`).
pub const KERNEL_ID: u8 = 0x02;

/// AIP byte 1 b2: on-device cardholder verification supported (C-2's meaning).
const AIP_ON_DEVICE_CVM: u8 = 0x02;
/// AIP byte 1 b5: cardholder verification supported.
const AIP_CVM_SUPPORTED: u8 = 0x10;
/// AIP byte 1 b1: CDA supported.
const AIP_CDA: u8 = 0x01;
/// AIP byte 2 b8: EMV mode supported (C-2's meaning; qPBOC reads the same bit as "full PBOC").
const AIP_EMV_MODE: u8 = 0x80;
/// AIP byte 2 b1: relay resistance protocol supported.
const AIP_RRP: u8 = 0x01;

/// The result of one C-2 transaction: always an outcome, the typed error when the exchange
/// broke.
#[derive(Debug)]
pub struct C2Result<E: core::error::Error + 'static> {
    /// The Outcome Parameter Set (what Entry Point and the reader do next).
    pub outcome: OutcomeParameterSet,
    /// The cryptogram the card returned (or recovered).
    pub cryptogram_type: Option<CryptogramType>,
    /// The application cryptogram (`9F26`, or from the verified CDA signature).
    pub application_cryptogram: Option<Vec<u8>>,
    /// The ATC of the answer.
    pub atc: Option<[u8; 2]>,
    /// Terminal verification results as sent in CDOL1 (the recovered transaction's, after a
    /// recovery).
    pub tvr: Tvr,
    /// CVM results `9F34`.
    pub cvm_results: [u8; 3],
    /// What CDA did.
    pub oda: OdaReport,
    /// What relay resistance did.
    pub rrp: RrpResult,
    /// The answer came from RECOVER AC: the card had produced it in a torn transaction (no
    /// second GENERATE AC was sent).
    pub recovered: bool,
    /// The Data Record (`FF8105`), when the card gave a cryptogram.
    pub data_record: Option<C2DataRecord>,
    /// Discretionary Data (`FF8106`).
    pub discretionary_data: C2DiscretionaryData,
    /// The Error Indication (`DF8115`).
    pub error_indication: ErrorIndication,
    /// Field 55 for the host, on an online request.
    pub field_55: Option<Vec<u8>>,
    /// Why the kernel ended where it did.
    pub reason: Option<String>,
    /// The typed error, when the exchange broke.
    pub error: Option<KernelError<E>>,
    /// APDUs this kernel sent.
    pub apdus: u64,
    /// The application selected (from the FCI), when the FCI named one.
    pub aid: Option<Aid>,
    /// What the card sent: its GPO answer and records, with the GENERATE AC (or RECOVER AC)
    /// answer's cryptogram, CID, ATC and IAD added — the data a clearing record is built from.
    pub card: CardData,
}

impl<E: core::error::Error + 'static> C2Result<E> {
    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome.outcome
    }
}

/// The state of one transaction.
struct Tx<'a> {
    kernel: &'a KernelConfig,
    config: &'a C2Config,
    input: TransactionInput,
    values: KernelValues<'a>,
    aid: Option<Aid>,
    card: CardData,
    pdol_data: Vec<u8>,
    unpredictable_number: [u8; 4],
    tvr: Tvr,
    cvm_results: [u8; 3],
    cvm: Option<OutcomeCvm>,
    rrp: RrpResult,
    oda: OdaReport,
    cda_key: Option<CdaKey>,
    error_indication: ErrorIndication,
}

/// Where the transaction ended, before the result is assembled.
struct End {
    outcome: Outcome,
    reason: Option<String>,
    ac: Option<AcResponse>,
    recovered: bool,
}

/// One C-2 transaction, after Entry Point selected the application: `fci` is the card's
/// answer to SELECT (the `6F` template). `torn` is the reader's torn transaction log, the same
/// on every tap; `env` times relay resistance and gives fresh unpredictable numbers.
pub fn transact<T: Transport>(
    kernel: &KernelConfig,
    config: &C2Config,
    input: &TransactionInput,
    fci: &[u8],
    layer: &mut ApduLayer<T>,
    torn: &mut TornLog,
    env: &mut dyn RelayEnvironment,
) -> C2Result<T::Error> {
    let start = layer.counters().apdus_sent;
    let terminal = TerminalValues::new(kernel.terminal.terminal(), input);
    let mut tx = Tx::new(kernel, config, input, &terminal);
    let mut pending_torn = None;
    let ended = tx.run(fci, layer, torn, env, &mut pending_torn);
    let apdus = layer.counters().apdus_sent - start;
    match ended {
        Ok(end) => tx.finish(end, None, apdus),
        Err(error) => {
            let outcome = error.outcome();
            if outcome == Outcome::TryAgain {
                if let Some(record) = pending_torn {
                    torn.insert(record, config.max_torn_records);
                }
            }
            let reason = Some(error.to_string());
            tx.error_indication = error_indication(&error);
            let end = End {
                outcome,
                reason,
                ac: None,
                recovered: false,
            };
            tx.finish(end, Some(error), apdus)
        }
    }
}

/// The Error Indication of an error.
fn error_indication<E: core::error::Error + 'static>(error: &KernelError<E>) -> ErrorIndication {
    let mut indication = ErrorIndication::OK;
    match error {
        KernelError::CardRemoved(_) => {
            indication.l1 = L1Error::TransmissionError;
            indication.message_on_error = Some(MessageId::PresentCardAgain);
        }
        KernelError::LinkLost { failure, .. } => {
            indication.l1 = if *failure == LinkFailure::Timeout {
                L1Error::TimeOut
            } else {
                L1Error::TransmissionError
            };
            indication.message_on_error = Some(MessageId::PresentCardAgain);
        }
        KernelError::Exchange(_) => indication.l1 = L1Error::ProtocolError,
        KernelError::CardData { reason, .. } => {
            indication.l2 = match reason {
                Malformation::MissingTag(_) => L2Error::CardDataMissing,
                Malformation::Tlv(_) | Malformation::UnexpectedTemplate(_) => L2Error::ParsingError,
                _ => L2Error::CardDataError,
            }
        }
        KernelError::Refused { sw, .. } => {
            indication.l2 = L2Error::StatusBytes;
            indication.sw = sw.0.to_be_bytes();
        }
        KernelError::Config(_) => indication.l2 = L2Error::TerminalDataError,
        _ => indication.l2 = L2Error::CardDataError,
    }
    indication
}

impl<'a> Tx<'a> {
    fn new(
        kernel: &'a KernelConfig,
        config: &'a C2Config,
        input: &TransactionInput,
        terminal: &'a TerminalValues,
    ) -> Self {
        let mut values = KernelValues::new(terminal);
        let capabilities = [
            config.card_data_input_capability,
            config.cvm_capability_no_cvm_required,
            config.security_capability,
        ];
        values.set(crate::tags::TERMINAL_CAPABILITIES, capabilities.to_vec());
        values.set(
            crate::tags::APPLICATION_VERSION_NUMBER_TERMINAL,
            config.application_version.to_vec(),
        );
        values.set(tags::KERNEL_ID, alloc::vec![KERNEL_ID]);
        values.set(tags::TERMINAL_RISK_MANAGEMENT_DATA, alloc::vec![0u8; 8]);
        Tx {
            kernel,
            config,
            input: *input,
            values,
            aid: None,
            card: CardData::new(),
            pdol_data: Vec::new(),
            unpredictable_number: input.unpredictable_number,
            tvr: Tvr::new(),
            cvm_results: [0x3F, 0x00, 0x00],
            cvm: None,
            rrp: RrpResult::NotSupported,
            oda: OdaReport::not_performed(),
            cda_key: None,
            error_indication: ErrorIndication::OK,
        }
    }

    fn aip(&self) -> [u8; 2] {
        self.card
            .get(crate::tags::AIP)
            .and_then(|aip| aip.try_into().ok())
            .unwrap_or([0, 0])
    }

    fn amount(&self) -> u64 {
        self.input.amount.minor()
    }

    fn run<T: Transport>(
        &mut self,
        fci: &[u8],
        layer: &mut ApduLayer<T>,
        torn: &mut TornLog,
        env: &mut dyn RelayEnvironment,
        pending_torn: &mut Option<TornRecord>,
    ) -> Result<End, KernelError<T::Error>> {
        let pdol = self.read_fci(fci)?;
        self.gpo(&pdol, layer)?;
        let aip = self.aip();
        if aip[1] & AIP_EMV_MODE == 0 || self.config.kernel_configuration.emv_mode_not_supported {
            self.error_indication.l2 = L2Error::MagstripeNotSupported;
            return Ok(End {
                outcome: Outcome::TryAnotherInterface,
                reason: Some(
                    "the card offers C-2 mag-stripe mode only; mag-stripe mode is not implemented"
                        .into(),
                ),
                ac: None,
                recovered: false,
            });
        }
        if aip[1] & AIP_RRP != 0 && self.config.kernel_configuration.relay_resistance_supported {
            self.rrp = rrp::perform(
                layer,
                env,
                &self.config.relay_resistance,
                &mut self.unpredictable_number,
            )?;
            self.values.set(
                crate::tags::UNPREDICTABLE_NUMBER,
                self.unpredictable_number.to_vec(),
            );
        }
        let static_data = read_records(layer, &mut self.card, AflPolicy::Mandatory)?;
        self.card
            .check_consistency()
            .map_err(|e| malformed(CardObject::ApplicationData, e))?;
        for tag in [
            crate::tags::PAN,
            crate::tags::APPLICATION_EXPIRATION_DATE,
            crate::tags::CDOL1,
        ] {
            if !self.card.contains(tag) {
                return Err(malformed(
                    CardObject::ApplicationData,
                    Malformation::MissingTag(tag),
                ));
            }
        }
        // Reader limits: which one depends on whether the card verifies on the device.
        let on_device = aip[0] & AIP_ON_DEVICE_CVM != 0
            && self.config.kernel_configuration.on_device_cvm_supported;
        let limit = if on_device {
            self.config.transaction_limit_on_device_cvm
        } else {
            self.config.transaction_limit_no_on_device_cvm
        };
        if self.amount() > limit {
            self.error_indication.l2 = L2Error::MaxLimitExceeded;
            return Ok(End {
                outcome: Outcome::SelectNext,
                reason: Some("amount above the reader contactless transaction limit".into()),
                ac: None,
                recovered: false,
            });
        }
        let key = self.torn_key();
        torn.expire(
            torn::seconds_since_2000(self.input.date, self.input.time),
            self.config.max_torn_lifetime_s,
        );
        let static_data_ok = static_data;
        if let Some(key) = &key {
            if let Some(end) = self.recover(key, torn, &static_data_ok, layer)? {
                return Ok(end);
            }
        }
        self.restrictions();
        self.cardholder_verification(on_device);
        if self.amount() > self.config.floor_limit {
            self.tvr.set(Tvr::FLOOR_LIMIT_EXCEEDED);
        }
        self.prepare_cda(&static_data_ok);
        self.apply_rrp_tvr();
        // The exception file and the deny list (every flow consults them): the TVR says so
        // and the card is asked for a decline.
        let denied = self.card.pan().is_some_and(|pan| {
            let psn = self
                .card
                .get(crate::tags::PAN_SEQUENCE_NUMBER)
                .and_then(|v| v.first().copied());
            self.kernel.is_denied(&pan, psn)
        });
        if denied {
            self.tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
        }
        let requested = action::terminal_action_analysis(
            &self.tvr,
            &ActionCodes {
                denial: Tvr::from_bytes(self.config.tac_denial),
                online: Tvr::from_bytes(self.config.tac_online),
                default: Tvr::from_bytes(self.config.tac_default),
            },
            &ActionCodes::issuer(&self.card),
            self.kernel.terminal.terminal().online_capable,
        );
        let requested = if denied {
            RequestedCryptogram::Aac
        } else {
            requested
        };
        let cda = self.cda_key.is_some() && requested != RequestedCryptogram::Aac;
        self.values
            .set(crate::tags::TVR, self.tvr.as_bytes().to_vec());
        self.values
            .set(crate::tags::CVM_RESULTS, self.cvm_results.to_vec());
        let cdol1 = Dol::parse(self.card.get(crate::tags::CDOL1).unwrap_or_default())
            .map_err(|e| malformed(CardObject::Cdol1, e))?;
        let cdol1_data = cdol1.build(&self.values);
        // What a tear after this point needs to recover: only a card with a DRDOL can answer
        // RECOVER AC (⚠ pboc-notes §9.6).
        *pending_torn = match (&key, self.card.get(tags::DRDOL)) {
            (Some(key), Some(drdol)) => {
                let drdol = Dol::parse(drdol).map_err(|e| malformed(CardObject::Cdol1, e))?;
                Some(TornRecord {
                    key: key.clone(),
                    written_at: torn::seconds_since_2000(self.input.date, self.input.time),
                    amount: self.input.amount,
                    date: self.input.date,
                    time: self.input.time,
                    unpredictable_number: self.unpredictable_number,
                    pdol_data: self.pdol_data.clone(),
                    cdol1_data: cdol1_data.clone(),
                    drdol_data: drdol.build(&self.values),
                    requested,
                    cda,
                    rrp: self.rrp.data().copied(),
                    tvr: *self.tvr.as_bytes(),
                    cvm_results: self.cvm_results,
                })
            }
            _ => None,
        };
        let ac = cda_ac::send_generate_ac(layer, requested, cda, &cdol1_data)?;
        *pending_torn = None;
        // ══ the card can be removed: everything below is computation ══
        Ok(self.decide(ac, false))
    }

    /// Parses the FCI: the DF name and the PDOL.
    fn read_fci<E: core::error::Error + 'static>(
        &mut self,
        fci: &[u8],
    ) -> Result<Dol, KernelError<E>> {
        let bad = |reason: Malformation| malformed(CardObject::Fci, reason);
        let root = tlv::parse_single(fci).map_err(|e| bad(e.into()))?;
        if root.tag() != crate::tags::FCI_TEMPLATE {
            return Err(bad(Malformation::UnexpectedTemplate(root.tag())));
        }
        let name = root
            .find(crate::tags::DF_NAME)
            .map_err(|e| bad(e.into()))?
            .ok_or(bad(Malformation::MissingTag(crate::tags::DF_NAME)))?;
        self.aid = Some(
            Aid::new(name.value())
                .map_err(|_| bad(Malformation::InvalidValue(crate::tags::DF_NAME)))?,
        );
        let proprietary = root
            .find(crate::tags::FCI_PROPRIETARY_TEMPLATE)
            .map_err(|e| bad(e.into()))?;
        let pdol = match proprietary {
            Some(a5) => a5.find(crate::tags::PDOL).map_err(|e| bad(e.into()))?,
            None => None,
        };
        match pdol {
            Some(pdol) => Dol::parse(pdol.value()).map_err(|e| malformed(CardObject::Pdol, e)),
            None => Ok(Dol::default()),
        }
    }

    fn gpo<T: Transport>(
        &mut self,
        pdol: &Dol,
        layer: &mut ApduLayer<T>,
    ) -> Result<(), KernelError<T::Error>> {
        self.pdol_data = pdol.build(&self.values);
        let command = Command::get_processing_options(&self.pdol_data)
            .map_err(|e| malformed(CardObject::Pdol, e))?;
        let response = layer.exchange(&command)?;
        if response.sw != StatusWord::OK {
            return Err(KernelError::Refused {
                command: GPO,
                sw: response.sw,
            });
        }
        absorb_gpo_response(&mut self.card, &response.data)
    }

    fn torn_key(&self) -> Option<TornKey> {
        let pan = self.card.pan()?;
        let psn = self
            .card
            .get(crate::tags::PAN_SEQUENCE_NUMBER)
            .and_then(|v| v.first().copied());
        Some(TornKey::new(pan.expose_digits(), psn))
    }

    /// The torn log holds a transaction of this card: RECOVER AC. The card's stored answer
    /// ends the transaction (verified against the torn transaction's data); a refusal means
    /// the card never produced it, and the transaction goes on as a new one.
    fn recover<T: Transport>(
        &mut self,
        key: &TornKey,
        torn: &mut TornLog,
        static_data: &Result<Vec<u8>, crate::afl::StaticDataError>,
        layer: &mut ApduLayer<T>,
    ) -> Result<Option<End>, KernelError<T::Error>> {
        let Some(record) = torn.get(key) else {
            return Ok(None);
        };
        if !self.card.contains(tags::DRDOL) {
            return Ok(None);
        }
        let record = record.clone();
        let answer = cda_ac::recover_ac(
            layer,
            &record.drdol_data,
            record.requested,
            record.cda,
            &record.cdol1_data,
        )?;
        torn.remove(key);
        let Some(ac) = answer else {
            return Ok(None);
        };
        // The answer belongs to the torn transaction: judge it with that transaction's data.
        self.input.amount = record.amount;
        self.input.date = record.date;
        self.input.time = record.time;
        self.unpredictable_number = record.unpredictable_number;
        self.pdol_data = record.pdol_data.clone();
        self.tvr = Tvr::from_bytes(record.tvr);
        self.cvm_results = record.cvm_results;
        self.rrp = match record.rrp {
            Some(data) => RrpResult::Performed {
                data,
                threshold_exceeded: false,
            },
            None => RrpResult::NotSupported,
        };
        for (tag, value) in [
            (
                crate::tags::AMOUNT_AUTHORISED,
                record.amount.to_n12().to_vec(),
            ),
            (crate::tags::TRANSACTION_DATE, record.date.to_bcd().to_vec()),
            (crate::tags::TRANSACTION_TIME, record.time.to_bcd().to_vec()),
            (
                crate::tags::UNPREDICTABLE_NUMBER,
                record.unpredictable_number.to_vec(),
            ),
            (crate::tags::TVR, record.tvr.to_vec()),
            (crate::tags::CVM_RESULTS, record.cvm_results.to_vec()),
        ] {
            self.values.set(tag, value);
        }
        self.cvm = cvm::outcome_cvm_of_results(record.cvm_results);
        if record.cda {
            self.prepare_cda(static_data);
        }
        Ok(Some(self.decide(ac, true)))
    }

    fn restrictions(&mut self) {
        let restrictions = crate::contact::restrictions::check(
            &self.card,
            self.kernel.terminal.terminal(),
            self.config.application_version,
            &self.input,
        );
        self.tvr = self.tvr | restrictions;
    }

    fn cardholder_verification(&mut self, on_device: bool) {
        let aip = self.aip();
        let choice = cvm::select(&cvm::CvmInputs {
            amount: self.amount(),
            cvm_required_limit: self.config.cvm_required_limit,
            on_device,
            card_supports_cvm: aip[0] & AIP_CVM_SUPPORTED != 0,
            capability_cvm_required: self.config.cvm_capability_cvm_required,
            capability_no_cvm_required: self.config.cvm_capability_no_cvm_required,
            cvm_list: self.card.get(crate::tags::CVM_LIST),
            card: &self.card,
            terminal: self.kernel.terminal.terminal(),
            input: &self.input,
        });
        self.tvr = self.tvr | choice.tvr;
        self.cvm_results = choice.results;
        self.cvm = Some(choice.cvm);
        let capabilities = [
            self.config.card_data_input_capability,
            choice.capability,
            self.config.security_capability,
        ];
        self.values
            .set(crate::tags::TERMINAL_CAPABILITIES, capabilities.to_vec());
    }

    /// Recovers the keys for CDA when the card and the reader support it; a failure sets "CDA
    /// failed" (the GENERATE AC then goes without CDA, and no TC can be approved).
    fn prepare_cda(&mut self, static_data: &Result<Vec<u8>, crate::afl::StaticDataError>) {
        let aip = self.aip();
        if aip[0] & AIP_CDA == 0 || !self.config.cda_supported() {
            self.tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
            return;
        }
        let Some(aid) = self.aid else {
            return;
        };
        match oda::prepare_cda(self.kernel, &aid, &self.card, static_data, self.input.date) {
            Ok(key) => self.cda_key = Some(key),
            Err(report) => {
                let mut tsi = crate::bits::Tsi::new();
                report.apply(&mut self.tvr, &mut tsi);
                self.oda = report;
            }
        }
    }

    fn apply_rrp_tvr(&mut self) {
        let mut bytes = *self.tvr.as_bytes();
        bytes[4] = (bytes[4] & !0x0F) | self.rrp.tvr_byte_5_bits();
        self.tvr = Tvr::from_bytes(bytes);
    }

    /// Everything after the card's answer: CDA, then the outcome. No I/O.
    fn decide(&mut self, mut ac: AcResponse, recovered: bool) -> End {
        let given = ac.cid.cryptogram_type();
        let signed = ac.cda_requested && given != CryptogramType::Aac;
        let mut cda_ok = false;
        if signed {
            if let Some(key) = &self.cda_key {
                let check =
                    cda_ac::verify_cda(key, &ac, &self.pdol_data, &self.unpredictable_number);
                let mut report = check.report;
                if report.verified.is_some() {
                    if let Some(data) = self.rrp.data() {
                        if !rrp_signed(check.icc_dynamic_data.as_deref(), data) {
                            report.verified = None;
                            report.failure = Some(OdaFailure::MalformedResponse(
                                "CDA signature without the relay resistance values",
                            ));
                        }
                    }
                }
                if report.verified.is_some() && ac.application_cryptogram.is_none() {
                    ac.application_cryptogram = check.application_cryptogram;
                }
                let mut tsi = crate::bits::Tsi::new();
                report.apply(&mut self.tvr, &mut tsi);
                cda_ok = report.verified.is_some();
                self.oda = report;
            }
        }
        let online_capable = self.kernel.terminal.terminal().online_capable;
        let (outcome, reason): (Outcome, Option<String>) = match given {
            CryptogramType::Aac => (Outcome::Declined, Some("the card declined (AAC)".into())),
            CryptogramType::Tc if cda_ok => (Outcome::Approved, None),
            CryptogramType::Tc if !ac.cda_requested && self.oda_not_required() => (
                Outcome::Approved,
                Some("no ODA method shared (TACs weighed)".into()),
            ),
            CryptogramType::Tc => (
                Outcome::Declined,
                Some(match &self.oda.failure {
                    Some(failure) => alloc::format!("TC without a verified CDA: {failure}"),
                    None => "TC without a verified CDA".into(),
                }),
            ),
            CryptogramType::Arqc if ac.cda_requested && !cda_ok => (
                Outcome::Declined,
                Some(match &self.oda.failure {
                    Some(failure) => alloc::format!("ARQC whose CDA failed: {failure}"),
                    None => "ARQC whose CDA failed".into(),
                }),
            ),
            CryptogramType::Arqc if online_capable => (Outcome::OnlineRequest, None),
            CryptogramType::Arqc => (
                Outcome::Declined,
                Some("ARQC on an offline-only reader".into()),
            ),
            CryptogramType::Rfu => (
                Outcome::EndApplication,
                Some("the card returned an RFU cryptogram type".into()),
            ),
        };
        if outcome == Outcome::Declined && self.oda.failure.is_some() {
            self.error_indication.l2 = L2Error::CamFailed;
        }
        let reason = match (recovered, reason) {
            (true, Some(r)) => Some(alloc::format!(
                "recovered the torn transaction with RECOVER AC: {r}"
            )),
            (true, None) => Some(
                "recovered the torn transaction with RECOVER AC (no second GENERATE AC)".into(),
            ),
            (false, r) => r,
        };
        End {
            outcome,
            reason,
            ac: Some(ac),
            recovered,
        }
    }

    /// No ODA was asked of the card because the card or the reader has no CDA (TVR "ODA not
    /// performed" set, which the action codes weighed); not when CDA failed.
    fn oda_not_required(&self) -> bool {
        self.oda.method.is_none() && self.cda_key.is_none() && {
            let aip = self.aip();
            aip[0] & AIP_CDA == 0 || !self.config.cda_supported()
        }
    }

    fn finish<E: core::error::Error + 'static>(
        mut self,
        end: End,
        error: Option<KernelError<E>>,
        apdus: u64,
    ) -> C2Result<E> {
        let outcome = self.outcome_parameters(end.outcome);
        let ac = end.ac;
        let cid = ac.as_ref().map(|ac| [ac.cid.byte()]);
        let cryptogram = ac.as_ref().map(|ac| ac.cid.cryptogram_type());
        let atc = ac
            .as_ref()
            .and_then(|ac| <[u8; 2]>::try_from(ac.atc.as_slice()).ok());
        let aid = self.aid;
        let value = |tag: Tag| -> Option<&[u8]> {
            match tag {
                crate::tags::APPLICATION_CRYPTOGRAM => ac
                    .as_ref()
                    .and_then(|ac| ac.application_cryptogram.as_deref()),
                crate::tags::CID => cid.as_ref().map(|c| &c[..]),
                crate::tags::ATC => ac.as_ref().map(|ac| ac.atc.as_slice()),
                crate::tags::ISSUER_APPLICATION_DATA => {
                    ac.as_ref().and_then(|ac| ac.iad.as_deref())
                }
                crate::tags::DF_NAME => aid.as_ref().map(Aid::as_bytes),
                _ => self.card.get(tag).or_else(|| self.values.value(tag)),
            }
        };
        let with_cryptogram = ac
            .as_ref()
            .is_some_and(|ac| ac.application_cryptogram.is_some());
        let data_record = with_cryptogram.then(|| C2DataRecord::build(value));
        let field_55 =
            (end.outcome == Outcome::OnlineRequest).then(|| crate::icc_data::field_55(value));
        let mut outcome = outcome;
        outcome.data_record_present = data_record.is_some();
        outcome.discretionary_data_present = true;
        let discretionary_data =
            C2DiscretionaryData::build(&self.card, &self.error_indication, &outcome.to_bytes());
        let mut card = core::mem::take(&mut self.card);
        if let Some(ac) = &ac {
            if let Some(cryptogram) = &ac.application_cryptogram {
                card.insert(crate::tags::APPLICATION_CRYPTOGRAM, cryptogram);
            }
            card.insert(crate::tags::CID, &[ac.cid.byte()]);
            card.insert(crate::tags::ATC, &ac.atc);
            if let Some(iad) = &ac.iad {
                card.insert(crate::tags::ISSUER_APPLICATION_DATA, iad);
            }
        }
        C2Result {
            aid,
            card,
            cvm_results: self.cvm_results,
            outcome,
            cryptogram_type: cryptogram,
            application_cryptogram: ac.as_ref().and_then(|ac| ac.application_cryptogram.clone()),
            atc,
            tvr: self.tvr,
            oda: core::mem::replace(&mut self.oda, OdaReport::not_performed()),
            rrp: self.rrp,
            recovered: end.recovered,
            data_record,
            discretionary_data,
            error_indication: self.error_indication,
            field_55,
            reason: end.reason,
            error,
            apdus,
        }
    }

    /// The Outcome Parameter Set C-2 gives each outcome (⚠ pboc-notes §9.7).
    fn outcome_parameters(&self, outcome: Outcome) -> OutcomeParameterSet {
        let hold = Deciseconds(self.config.message_hold_time);
        let mut set = OutcomeParameterSet::new(outcome);
        let ui = |message, status| UiRequest {
            message,
            status,
            hold_time: hold,
            value: None,
        };
        match outcome {
            Outcome::Approved => {
                let signature = self.cvm == Some(OutcomeCvm::ObtainSignature);
                set.cvm = self.cvm;
                set.receipt = signature;
                set.ui_request_on_outcome = Some(ui(
                    if signature {
                        MessageId::ApprovedPleaseSign
                    } else {
                        MessageId::Approved
                    },
                    ReaderStatus::CardReadSuccessfully,
                ));
            }
            Outcome::OnlineRequest | Outcome::AcceptedForTravel => {
                set.cvm = self.cvm;
                set.receipt = self.cvm == Some(OutcomeCvm::ObtainSignature);
                set.ui_request_on_outcome = Some(ui(
                    MessageId::AuthorisingPleaseWait,
                    ReaderStatus::CardReadSuccessfully,
                ));
            }
            Outcome::Declined => {
                set.ui_request_on_outcome = Some(ui(
                    MessageId::NotAuthorised,
                    ReaderStatus::CardReadSuccessfully,
                ));
            }
            Outcome::TryAgain => {
                set.start = Some(StartPoint::B);
                set.ui_request_on_restart = Some(UiRequest::new(
                    MessageId::PresentCardAgain,
                    ReaderStatus::ReadyToRead,
                ));
            }
            Outcome::SelectNext => set.start = Some(StartPoint::C),
            Outcome::TryAnotherInterface => {
                set.alternate_interface = Some(AlternateInterface::ContactChip);
                set.ui_request_on_outcome =
                    Some(ui(MessageId::InsertCard, ReaderStatus::ReadyToRead));
            }
            Outcome::EndApplication => {
                set.ui_request_on_outcome =
                    Some(ui(MessageId::TryAnotherCard, ReaderStatus::ProcessingError));
            }
        }
        set
    }
}

/// Whether the ICC dynamic data of a verified CDA signature carries the relay resistance
/// values of the exchange right after the transaction data hash code (⚠ pboc-notes §9.5).
fn rrp_signed(icc_dynamic_data: Option<&[u8]>, data: &RrpData) -> bool {
    let Some(dd) = icc_dynamic_data else {
        return false;
    };
    let Some(&k) = dd.first() else {
        return false;
    };
    let start = 1 + usize::from(k) + 1 + 8 + 20;
    dd.get(start..start + 14) == Some(&data.signed_bytes()[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_values_must_be_inside_the_signature() {
        let data = RrpData {
            terminal_entropy: [1, 2, 3, 4],
            device_entropy: [5, 6, 7, 8],
            min_time: 10,
            max_time: 20,
            device_estimated_r_apdu: 18,
            measured: 12,
            counter: 0,
        };
        let mut dd = alloc::vec![2u8, 0xAA, 0xBB, 0x40];
        dd.extend([0u8; 28]);
        assert!(!rrp_signed(Some(&dd), &data));
        dd.extend(data.signed_bytes());
        assert!(rrp_signed(Some(&dd), &data));
        assert!(!rrp_signed(None, &data));
        assert!(!rrp_signed(Some(&[]), &data));
    }
}
