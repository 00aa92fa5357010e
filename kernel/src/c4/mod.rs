//! American Express ExpressPay, EMV Book C-4 (kernel id `04`), EMV mode as far as public
//! material describes it (pboc-notes §9.8): what runs after Entry Point has selected an Amex
//! application.
//!
//! ```text
//! transact(fci): GPO (PDOL: 9F6E Enhanced Contactless Reader Capabilities, 9F35, amounts, UN…)
//!   ─▶ READ RECORD × AFL ─▶ reader limits ─▶ processing restrictions ─▶ CVM by the CVM limit
//!   ─▶ floor limit, CDA key recovery, terminal action analysis
//!   ─▶ GENERATE AC with CDA (the GENERATE AC / CDA of C-2, shared: P1 50 / 90)
//!   ══ card can be removed ══ ─▶ CDA verified ─▶ outcome
//! ```
//!
//! Not implemented (no public description at hand): mag-stripe mode (ends in Try Another
//! Interface), Delayed Authorisation, the second GENERATE AC after an online response (issuer
//! update), the Amex "dynamic reader limits". An offline approval needs a TC with a verified CDA
//! signature, as in C-2.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::apdu::{Command, RequestedCryptogram};
use crate::bits::{CryptogramType, Tvr};
use crate::c2::cvm::{self, CvmInputs};
use crate::card_data::CardData;
use crate::cda_ac;
use crate::cda_ac::KernelValues;
use crate::config::KernelConfig;
use crate::contact::action::{self, ActionCodes};
use crate::dol::{Dol, DolSource};
use crate::error::{malformed, CardObject, KernelError, Malformation, GPO};
use crate::oda::{self, OdaReport};
use crate::outcome::Outcome;
use crate::outcome_parameters::{
    AlternateInterface, MessageId, OutcomeCvm, OutcomeParameterSet, ReaderStatus, StartPoint,
    UiRequest,
};
use crate::read_records::{absorb_gpo_response, read_records, AflPolicy};
use crate::tag::Tag;
use crate::terminal_values::{TerminalValues, TransactionInput};
use crate::tlv;
use crate::transport::{ApduLayer, Transport};
use crate::values::{Aid, StatusWord};

/// The C-4 kernel identifier (Book B).
pub const KERNEL_ID: u8 = 0x04;
/// `9F6D` Contactless Reader Capabilities (C-4's meaning).
pub const CONTACTLESS_READER_CAPABILITIES: Tag = Tag::new(0x9F6D);
/// `9F6E` Enhanced Contactless Reader Capabilities (C-4's meaning, 4 bytes).
pub const ENHANCED_CONTACTLESS_READER_CAPABILITIES: Tag = Tag::new(0x9F6E);

/// The C-4 reader configuration for one combination (AID, kernel 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C4Config {
    /// `9F6D` Contactless Reader Capabilities (⚠ pboc-notes §9.8: `C8`, EMV and mag-stripe
    /// capable, CVM required).
    pub reader_capabilities: u8,
    /// `9F6E` Enhanced Contactless Reader Capabilities.
    pub enhanced_reader_capabilities: [u8; 4],
    /// `9F33` with CVM capability above the CVM required limit in byte 2.
    pub terminal_capabilities_cvm_required: [u8; 3],
    /// `9F33` byte 2 at or below the CVM required limit.
    pub cvm_capability_no_cvm_required: u8,
    /// TAC – default.
    pub tac_default: [u8; 5],
    /// TAC – denial.
    pub tac_denial: [u8; 5],
    /// TAC – online.
    pub tac_online: [u8; 5],
    /// Reader contactless floor limit.
    pub floor_limit: u64,
    /// Reader contactless transaction limit.
    pub transaction_limit: u64,
    /// Reader CVM required limit.
    pub cvm_required_limit: u64,
    /// `9F09` Application Version Number (Reader).
    pub application_version: [u8; 2],
}

impl Default for C4Config {
    /// An online-capable unattended reader with CDA, signature and no CVM.
    fn default() -> Self {
        C4Config {
            reader_capabilities: 0xC8,
            enhanced_reader_capabilities: [0xD8, 0xE0, 0x00, 0x00],
            terminal_capabilities_cvm_required: [0x00, 0x60, 0x08],
            cvm_capability_no_cvm_required: 0x08,
            tac_default: [0xDC, 0x50, 0x84, 0x00, 0x00],
            tac_denial: [0x00, 0x00, 0x00, 0x00, 0x00],
            tac_online: [0xC4, 0x00, 0x00, 0x00, 0x00],
            floor_limit: 0,
            transaction_limit: 100_000,
            cvm_required_limit: 10_000,
            application_version: [0x00, 0x01],
        }
    }
}

/// The result of one C-4 transaction.
#[derive(Debug)]
pub struct C4Result<E: core::error::Error + 'static> {
    /// The Outcome Parameter Set.
    pub outcome: OutcomeParameterSet,
    /// The cryptogram the card returned.
    pub cryptogram_type: Option<CryptogramType>,
    /// The application cryptogram (`9F26`, or from the verified CDA signature).
    pub application_cryptogram: Option<Vec<u8>>,
    /// The GENERATE AC command's P1 (`50` TC with CDA, `90` ARQC with CDA, …), when sent.
    pub generate_ac_p1: Option<u8>,
    /// TVR as sent in CDOL1.
    pub tvr: Tvr,
    /// What CDA did.
    pub oda: OdaReport,
    /// Field 55 for the host, on an online request.
    pub field_55: Option<Vec<u8>>,
    /// Why the kernel ended where it did.
    pub reason: Option<String>,
    /// The typed error, when the exchange broke.
    pub error: Option<KernelError<E>>,
}

impl<E: core::error::Error + 'static> C4Result<E> {
    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome.outcome
    }
}

/// What the flow reached before the result is assembled.
struct Reached {
    outcome: Outcome,
    reason: Option<String>,
    cryptogram: Option<(CryptogramType, Option<Vec<u8>>, u8)>,
    field_55: Option<Vec<u8>>,
}

/// One C-4 transaction after Entry Point selected the application (`fci`: the card's answer
/// to SELECT).
pub fn transact<T: Transport>(
    kernel: &KernelConfig,
    config: &C4Config,
    input: &TransactionInput,
    fci: &[u8],
    layer: &mut ApduLayer<T>,
) -> C4Result<T::Error> {
    let terminal = TerminalValues::new(kernel.terminal.terminal(), input);
    let mut values = KernelValues::new(&terminal);
    values.set(
        CONTACTLESS_READER_CAPABILITIES,
        alloc::vec![config.reader_capabilities],
    );
    values.set(
        ENHANCED_CONTACTLESS_READER_CAPABILITIES,
        config.enhanced_reader_capabilities.to_vec(),
    );
    values.set(
        crate::tags::APPLICATION_VERSION_NUMBER_TERMINAL,
        config.application_version.to_vec(),
    );
    let mut tvr = Tvr::new();
    let mut oda = OdaReport::not_performed();
    let mut cvm = None;
    let run = run(
        kernel,
        config,
        input,
        fci,
        layer,
        &mut values,
        &mut tvr,
        &mut oda,
        &mut cvm,
    );
    let (reached, error) = match run {
        Ok(reached) => (reached, None),
        Err(error) => (
            Reached {
                outcome: error.outcome(),
                reason: Some(error.to_string()),
                cryptogram: None,
                field_55: None,
            },
            Some(error),
        ),
    };
    let mut outcome = OutcomeParameterSet::new(reached.outcome);
    let ui = |message| Some(UiRequest::new(message, ReaderStatus::CardReadSuccessfully));
    match reached.outcome {
        Outcome::Approved => {
            outcome.cvm = cvm;
            outcome.receipt = cvm == Some(OutcomeCvm::ObtainSignature);
            outcome.ui_request_on_outcome = ui(MessageId::Approved);
        }
        Outcome::OnlineRequest | Outcome::AcceptedForTravel => {
            outcome.cvm = cvm;
            outcome.ui_request_on_outcome = ui(MessageId::AuthorisingPleaseWait);
        }
        Outcome::Declined => outcome.ui_request_on_outcome = ui(MessageId::NotAuthorised),
        Outcome::TryAgain => {
            outcome.start = Some(StartPoint::B);
            outcome.ui_request_on_restart = Some(UiRequest::new(
                MessageId::PresentCardAgain,
                ReaderStatus::ReadyToRead,
            ));
        }
        Outcome::SelectNext => outcome.start = Some(StartPoint::C),
        Outcome::TryAnotherInterface => {
            outcome.alternate_interface = Some(AlternateInterface::ContactChip);
            outcome.ui_request_on_outcome = ui(MessageId::InsertCard);
        }
        Outcome::EndApplication => outcome.ui_request_on_outcome = ui(MessageId::TryAnotherCard),
    }
    outcome.data_record_present = reached.cryptogram.is_some();
    let (cryptogram_type, application_cryptogram, generate_ac_p1) = match reached.cryptogram {
        Some((kind, ac, p1)) => (Some(kind), ac, Some(p1)),
        None => (None, None, None),
    };
    C4Result {
        outcome,
        cryptogram_type,
        application_cryptogram,
        generate_ac_p1,
        tvr,
        oda,
        field_55: reached.field_55,
        reason: reached.reason,
        error,
    }
}

#[allow(clippy::too_many_arguments)]
fn run<T: Transport>(
    kernel: &KernelConfig,
    config: &C4Config,
    input: &TransactionInput,
    fci: &[u8],
    layer: &mut ApduLayer<T>,
    values: &mut KernelValues<'_>,
    tvr: &mut Tvr,
    oda: &mut OdaReport,
    cvm_out: &mut Option<OutcomeCvm>,
) -> Result<Reached, KernelError<T::Error>> {
    let bad = |reason: Malformation| malformed(CardObject::Fci, reason);
    let root = tlv::parse_single(fci).map_err(|e| bad(e.into()))?;
    let name = root
        .find(crate::tags::DF_NAME)
        .map_err(|e| bad(e.into()))?
        .ok_or(bad(Malformation::MissingTag(crate::tags::DF_NAME)))?;
    let aid = Aid::new(name.value())
        .map_err(|_| bad(Malformation::InvalidValue(crate::tags::DF_NAME)))?;
    let pdol = match root
        .find(crate::tags::FCI_PROPRIETARY_TEMPLATE)
        .map_err(|e| bad(e.into()))?
    {
        Some(a5) => match a5.find(crate::tags::PDOL).map_err(|e| bad(e.into()))? {
            Some(pdol) => Dol::parse(pdol.value()).map_err(|e| malformed(CardObject::Pdol, e))?,
            None => Dol::default(),
        },
        None => Dol::default(),
    };
    let pdol_data = pdol.build(&*values);
    let command =
        Command::get_processing_options(&pdol_data).map_err(|e| malformed(CardObject::Pdol, e))?;
    let response = layer.exchange(&command)?;
    if response.sw != StatusWord::OK {
        return Err(KernelError::Refused {
            command: GPO,
            sw: response.sw,
        });
    }
    let mut card = CardData::new();
    absorb_gpo_response(&mut card, &response.data)?;
    let aip: [u8; 2] = card
        .get(crate::tags::AIP)
        .and_then(|a| a.try_into().ok())
        .unwrap_or([0, 0]);
    // AIP byte 2 b8: EMV mode (⚠ as C-2; pboc-notes §9.8).
    if aip[1] & 0x80 == 0 {
        return Ok(Reached {
            outcome: Outcome::TryAnotherInterface,
            reason: Some("the card offers mag-stripe mode only; not implemented for C-4".into()),
            cryptogram: None,
            field_55: None,
        });
    }
    let static_data = read_records(layer, &mut card, AflPolicy::Mandatory)?;
    card.check_consistency()
        .map_err(|e| malformed(CardObject::ApplicationData, e))?;
    for tag in [crate::tags::PAN, crate::tags::CDOL1] {
        if !card.contains(tag) {
            return Err(malformed(
                CardObject::ApplicationData,
                Malformation::MissingTag(tag),
            ));
        }
    }
    let amount = input.amount.minor();
    if amount > config.transaction_limit {
        return Ok(Reached {
            outcome: Outcome::SelectNext,
            reason: Some("amount above the reader contactless transaction limit".into()),
            cryptogram: None,
            field_55: None,
        });
    }
    *tvr = *tvr
        | crate::contact::restrictions::check(
            &card,
            kernel.terminal.terminal(),
            config.application_version,
            input,
        );
    let choice = cvm::select(&CvmInputs {
        amount,
        cvm_required_limit: config.cvm_required_limit,
        on_device: false,
        card_supports_cvm: aip[0] & 0x10 != 0,
        capability_cvm_required: config.terminal_capabilities_cvm_required[1],
        capability_no_cvm_required: config.cvm_capability_no_cvm_required,
        cvm_list: card.get(crate::tags::CVM_LIST),
        card: &card,
        terminal: kernel.terminal.terminal(),
        input,
    });
    *tvr = *tvr | choice.tvr;
    *cvm_out = Some(choice.cvm);
    let mut capabilities = config.terminal_capabilities_cvm_required;
    capabilities[1] = choice.capability;
    values.set(crate::tags::TERMINAL_CAPABILITIES, capabilities.to_vec());
    values.set(crate::tags::CVM_RESULTS, choice.results.to_vec());
    if amount > config.floor_limit {
        tvr.set(Tvr::FLOOR_LIMIT_EXCEEDED);
    }
    let cda_supported = aip[0] & 0x01 != 0 && capabilities[2] & 0x08 != 0;
    let key = if cda_supported {
        match oda::prepare_cda(kernel, &aid, &card, &static_data, input.date) {
            Ok(key) => Some(key),
            Err(report) => {
                report.apply(tvr, &mut crate::bits::Tsi::new());
                *oda = report;
                None
            }
        }
    } else {
        tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
        None
    };
    let requested = action::terminal_action_analysis(
        tvr,
        &ActionCodes {
            denial: Tvr::from_bytes(config.tac_denial),
            online: Tvr::from_bytes(config.tac_online),
            default: Tvr::from_bytes(config.tac_default),
        },
        &ActionCodes::issuer(&card),
        kernel.terminal.terminal().online_capable,
    );
    let cda = key.is_some() && requested != RequestedCryptogram::Aac;
    values.set(crate::tags::TVR, tvr.as_bytes().to_vec());
    let cdol1 = Dol::parse(card.get(crate::tags::CDOL1).unwrap_or_default())
        .map_err(|e| malformed(CardObject::Cdol1, e))?;
    let cdol1_data = cdol1.build(&*values);
    let mut ac = cda_ac::send_generate_ac(layer, requested, cda, &cdol1_data)?;
    let p1 = crate::bits::CryptogramType::from(requested).bits() | if cda { 0x10 } else { 0 };
    // ══ the card can be removed ══
    let given = ac.cid.cryptogram_type();
    let mut verified = false;
    if let (Some(key), true) = (&key, cda && given != CryptogramType::Aac) {
        let check = cda_ac::verify_cda(key, &ac, &pdol_data, &input.unpredictable_number);
        check.report.apply(tvr, &mut crate::bits::Tsi::new());
        verified = check.report.verified.is_some();
        if verified && ac.application_cryptogram.is_none() {
            ac.application_cryptogram = check.application_cryptogram;
        }
        *oda = check.report;
    }
    let online_capable = kernel.terminal.terminal().online_capable;
    let oda_not_required = !cda_supported;
    let (outcome, reason): (Outcome, Option<String>) = match given {
        CryptogramType::Aac => (Outcome::Declined, Some("the card declined (AAC)".into())),
        CryptogramType::Tc if verified || (!cda && oda_not_required) => (Outcome::Approved, None),
        CryptogramType::Tc => (Outcome::Declined, Some("TC without a verified CDA".into())),
        CryptogramType::Arqc if cda && !verified => {
            (Outcome::Declined, Some("ARQC whose CDA failed".into()))
        }
        CryptogramType::Arqc if online_capable => (Outcome::OnlineRequest, None),
        CryptogramType::Arqc => (
            Outcome::Declined,
            Some("ARQC on an offline-only reader".into()),
        ),
        CryptogramType::Rfu => (Outcome::EndApplication, Some("RFU cryptogram type".into())),
    };
    let cid = [ac.cid.byte()];
    let field_55 = (outcome == Outcome::OnlineRequest).then(|| {
        crate::icc_data::field_55(|tag| match tag {
            crate::tags::APPLICATION_CRYPTOGRAM => ac.application_cryptogram.as_deref(),
            crate::tags::CID => Some(&cid[..]),
            crate::tags::ATC => Some(ac.atc.as_slice()),
            crate::tags::ISSUER_APPLICATION_DATA => ac.iad.as_deref(),
            crate::tags::DF_NAME => Some(aid.as_bytes()),
            _ => card.get(tag).or_else(|| values.value(tag)),
        })
    });
    Ok(Reached {
        outcome,
        reason,
        cryptogram: Some((given, ac.application_cryptogram.clone(), p1)),
        field_55,
    })
}
