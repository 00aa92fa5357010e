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

use crate::apdu::{Command, Occurrence};
use crate::bits::{Aip, CryptogramType, Ctq, Tsi, Ttq, Tvr};
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::dol::Dol;
use crate::entry_point::{preprocessing, start, Candidates, KernelChoice, KernelId};
use crate::error::{malformed, CardObject, GPO};
use crate::icc_data;
use crate::oda::{self, OdaReport, OdaStatus};
use crate::outcome::{cryptogram_name, Outcome, TransactionRecord};
use crate::outcome_parameters::OutcomeParameterSet;
use crate::read_records::{absorb_gpo_response, read_records, AflPolicy};
use crate::selection;
use crate::tag::Tag;
use crate::tags;
use crate::terminal_values::{TerminalValues, TransactionInput};
use crate::tlv;
use crate::transit;
use crate::transport::{ApduLayer, Transport};
use crate::values::{Aid, Amount, StatusWord};
use alloc::{borrow::ToOwned, format, string::String, string::ToString, vec::Vec};

pub use crate::card_phase::{CardPhase, CardPhaseError};
pub use crate::contactless_cvm::{ContactlessCvm, CvmRefusal};
pub use crate::contactless_online::{
    complete_online, BackOfficeMessage, HostReply, NotAnOnlineRequest, OnlineCompletion,
};
pub use crate::error::KernelError;

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
    /// The cardholder verification the tap needs (online PIN, signature, CDCVM, none), on an
    /// approval, an online request or an acceptance for travel.
    pub cvm: Option<ContactlessCvm>,
    /// Why the kernel ended where it did.
    pub reason: Option<String>,
    /// The card phase it came from.
    pub card_phase: CardPhase,
    /// The kernel that completed the tap (the selected combination's), when one was selected.
    pub kernel: Option<KernelId>,
    /// What the reader does next (EMV Book A §6.2, pboc-notes §8.1–8.2): start point, UI
    /// requests, CVM, alternate interface, data record. Follows `outcome` and `cvm`.
    pub outcome_parameters: OutcomeParameterSet,
}

/// Runs the card phase with terminal values from configuration and input. On an error the
/// [`CardPhaseError`] still holds what was read (see also [`CardPhase::read`]).
pub fn read_card<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
) -> Result<CardPhase, CardPhaseError<T::Error>> {
    read_card_with_overrides(config, input, &[], layer)
}

/// Runs the card phase; `overrides` replace terminal values after pre-processing (used to
/// replay a recorded terminal exactly).
pub fn read_card_with_overrides<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
) -> Result<CardPhase, CardPhaseError<T::Error>> {
    let mut phase = CardPhase::new(config, input);
    match phase.read_with_overrides(config, overrides, layer) {
        Ok(()) => Ok(phase),
        Err(error) => Err(CardPhaseError::new(error, phase)),
    }
}

/// A whole contactless tap in one call: the card phase, then the completion phase; an error
/// is folded into its outcome ([`KernelError::outcome`]) and kept as the typed reason. Use
/// [`CardPhase::read`] and [`CardPhase::complete`] instead to tell the cardholder "card read,
/// remove card" between the phases.
pub fn transact<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
) -> Transacted<T::Error> {
    transact_with(config, input, layer, KernelChoice::Auto)
}

/// [`transact`] routing only to the kernels `choice` allows (Entry Point, pboc-notes §8.2).
/// Mastercard (C-2) combinations are skipped: they need [`transact_routed`].
pub fn transact_with<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
    choice: KernelChoice,
) -> Transacted<T::Error> {
    transact_routed(config, input, layer, choice, None)
}

/// What a reader keeps for the Mastercard kernel between taps: its configuration (`DF81xx`),
/// its torn transaction log (the same log on every tap, so a torn GENERATE AC is recovered on
/// the card's next tap) and the clock and random source of relay resistance.
pub struct ReaderKernels<'a> {
    /// The C-2 reader configuration.
    pub c2: &'a crate::c2::C2Config,
    /// The C-2 torn transaction log.
    pub torn: &'a mut crate::c2::TornLog,
    /// Relay resistance's clock and fresh unpredictable numbers.
    pub relay: &'a mut dyn crate::c2::RelayEnvironment,
}

/// A whole contactless tap routed by Entry Point to the kernel of the selected combination:
/// qPBOC, Visa C-3, and — when `kernels` brings the reader's C-2 state — Mastercard C-2 (the
/// card phase stops after SELECT and [`crate::c2::transact`] runs the tap). The result has the
/// same shape whichever kernel ran ([`TransactionResult::kernel`] says which; the outcome
/// parameter set is the kernel's own).
pub fn transact_routed<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
    choice: KernelChoice,
    kernels: Option<&mut ReaderKernels<'_>>,
) -> Transacted<T::Error> {
    let mut phase = CardPhase::with_kernel_choice(config, input, choice);
    phase.c2_available = kernels.is_some();
    let read = phase.read(config, layer);
    if let (Ok(()), true, Some(kernels)) = (&read, phase.handed_to_c2, kernels) {
        return run_c2(config, phase, layer, kernels);
    }
    match read {
        Ok(()) if phase.chose_full_pboc() => continue_full_pboc(config, phase, layer),
        Ok(()) => Transacted {
            result: phase.complete(config),
            error: None,
        },
        Err(error) => phase.fail(error),
    }
}

/// Runs C-2 on the combination Entry Point selected and gives its result the shape of every
/// other kernel's: the card's data, the cryptogram, the CDA report, field 55, the CVM, and
/// C-2's own outcome parameter set.
fn run_c2<T: Transport>(
    config: &KernelConfig,
    mut phase: CardPhase,
    layer: &mut ApduLayer<T>,
    kernels: &mut ReaderKernels<'_>,
) -> Transacted<T::Error> {
    let fci = core::mem::take(&mut phase.fci);
    let done = crate::c2::transact(
        config,
        kernels.c2,
        &phase.input,
        &fci,
        layer,
        kernels.torn,
        &mut *kernels.relay,
    );
    phase.fci = fci;
    phase.apdus += done.apdus;
    phase.card = done.card;
    let cvm = done.outcome.cvm.map(|cvm| match cvm {
        crate::outcome_parameters::OutcomeCvm::NoCvm => ContactlessCvm::NoCvm,
        crate::outcome_parameters::OutcomeCvm::ObtainSignature => ContactlessCvm::Signature,
        crate::outcome_parameters::OutcomeCvm::OnlinePin => ContactlessCvm::OnlinePin,
        crate::outcome_parameters::OutcomeCvm::ConfirmationCodeVerified => ContactlessCvm::Cdcvm,
    });
    Transacted {
        result: TransactionResult {
            outcome: done.outcome.outcome,
            cryptogram_type: done.cryptogram_type,
            oda: done.oda,
            tvr: done.tvr,
            tsi: Tsi::new(),
            field_55: done.field_55,
            cvm,
            reason: done.reason,
            kernel: Some(KernelId::C2),
            card_phase: phase,
            outcome_parameters: done.outcome,
        },
        error: done.error,
    }
}

/// The card answered the GPO with the contactless full-PBOC path (AIP byte 2 b8, no
/// cryptogram; it may when the TTQ offers byte 1 b7, as transit mode does for a legacy card):
/// ODA, restrictions, CVM (no PIN pad at a contactless reader), risk management, action
/// analysis and GENERATE AC as on contact ([`crate::contact::continue_contactless_full`]), then
/// the transit acceptance when the AID is in transit mode. The card is not asked for a second
/// GENERATE AC: an ARQC ends the tap as an online request (or accepted for travel).
fn continue_full_pboc<T: Transport>(
    config: &KernelConfig,
    phase: CardPhase,
    layer: &mut ApduLayer<T>,
) -> Transacted<T::Error> {
    let input = crate::contact::ContactInput::new(phase.input);
    let kept = phase.clone();
    let first = match crate::contact::continue_contactless_full(
        config,
        &input,
        phase,
        layer,
        &mut crate::contact::NoPinPad,
    ) {
        Ok(first) => first,
        Err(error) => return kept.fail(error),
    };
    let result = match first {
        crate::contact::FirstPhase::Online(request) => {
            let mut tvr = request.tvr();
            let phase = request.card_phase().clone();
            let oda = request.oda().clone();
            let (outcome, reason) = if phase.transit.is_some() {
                phase.transit_decision(config, &oda, Some(CryptogramType::Arqc), &mut tvr)
            } else {
                (Outcome::OnlineRequest, None)
            };
            TransactionResult {
                outcome,
                cryptogram_type: Some(CryptogramType::Arqc),
                oda,
                tvr,
                tsi: request.tsi(),
                field_55: matches!(outcome, Outcome::OnlineRequest | Outcome::AcceptedForTravel)
                    .then(|| request.field_55().to_vec()),
                cvm: full_path_cvm(outcome, request.cvm()),
                reason,
                kernel: phase.kernel,
                card_phase: phase,
                outcome_parameters: OutcomeParameterSet::new(outcome),
            }
            .sealed()
        }
        crate::contact::FirstPhase::Complete(done) => {
            let done = *done;
            let mut tvr = done.tvr;
            let (outcome, reason) = match (done.outcome, done.card_phase.transit) {
                // A refusal in transit mode names the guide's step that failed, when one did.
                (Outcome::Declined, Some(_)) => {
                    let (_, step) = done.card_phase.transit_decision(
                        config,
                        &done.oda,
                        done.cryptogram_type,
                        &mut tvr,
                    );
                    (Outcome::Declined, step.or(done.reason))
                }
                (outcome, _) => (outcome, done.reason),
            };
            TransactionResult {
                outcome,
                cryptogram_type: done.cryptogram_type,
                oda: done.oda,
                tvr,
                tsi: done.tsi,
                field_55: None,
                cvm: full_path_cvm(outcome, done.cvm.as_ref()),
                reason,
                kernel: done.card_phase.kernel,
                card_phase: done.card_phase,
                outcome_parameters: OutcomeParameterSet::new(outcome),
            }
            .sealed()
        }
    };
    Transacted {
        result,
        error: None,
    }
}

/// A tap that broke after the card answered its GPO with a TC (removed before the records were
/// read): the card has already paid — a qPBOC TC debits the EC balance inside GPO — but the
/// terminal could not verify it (fDDA needs the records). Keep it and pass it to
/// [`transact_after_tear`] on the next tap, with the "present card again" message
/// ([`Outcome::TryAgain`]).
#[derive(Debug, Clone)]
pub struct TornTap {
    phase: CardPhase,
}

impl TornTap {
    /// The torn tap of `result`: `Some` when it ended in Try Again after the card answered the
    /// GPO with a TC.
    pub fn from_result(result: &TransactionResult) -> Option<TornTap> {
        let phase = &result.card_phase;
        let paid = cryptogram_type(&phase.card) == Some(CryptogramType::Tc);
        (result.outcome == Outcome::TryAgain
            && paid
            && phase.aid.is_some()
            && tc_atc(phase).is_some())
        .then(|| TornTap {
            phase: phase.clone(),
        })
    }

    /// The card phase of the torn tap (its GPO answer and the values sent).
    pub fn card_phase(&self) -> &CardPhase {
        &self.phase
    }

    /// The clearing record of the torn tap (outcome [`crate::clearing::TORN`]): the card paid
    /// at its GPO, so the TC is kept for reconciliation even if the tap is never completed.
    /// `None` when the card gave no PAN (a qPBOC GPO answer carries track 2 `57`, whose PAN is
    /// used then) or no cryptogram.
    pub fn clearing_record(
        &self,
        config: &KernelConfig,
    ) -> Option<crate::clearing::ClearingRecord> {
        let phase = &self.phase;
        let tvr = Tvr::new();
        let tsi = Tsi::new();
        crate::clearing::Parts {
            interface: crate::clearing::Interface::Contactless,
            outcome: crate::clearing::TORN,
            reason: Some("card removed after its GPO returned a TC; not yet completed"),
            cryptogram: CryptogramType::Tc,
            card: &phase.card,
            aid: phase.aid?.to_string(),
            input: &phase.input,
            atc: phase.card.get(tags::ATC)?,
            application_cryptogram: phase.card.get(tags::APPLICATION_CRYPTOGRAM)?,
            field_55: &phase.field_55(),
            tvr: tvr.as_bytes(),
            tsi: tsi.as_bytes(),
            cvm: None,
        }
        .build(config)
    }
}

/// The CVM the contact flow's CVM list processing chose, for an approval, an online request or
/// an acceptance for travel on the contactless full-PBOC path.
fn full_path_cvm(
    outcome: Outcome,
    cvm: Option<&crate::contact::CvmOutcome>,
) -> Option<ContactlessCvm> {
    if !matches!(
        outcome,
        Outcome::Approved | Outcome::OnlineRequest | Outcome::AcceptedForTravel
    ) {
        return None;
    }
    Some(match cvm {
        Some(cvm) if cvm.online_pin => ContactlessCvm::OnlinePin,
        Some(cvm) if cvm.signature_required => ContactlessCvm::Signature,
        _ => ContactlessCvm::NoCvm,
    })
}

/// The reason a resumed torn tap carries.
const RESUMED: &str = "completed the torn tap: the card paid at that tap's GPO, no new GPO sent";

/// The ATC of a card phase's GPO answer.
fn tc_atc(phase: &CardPhase) -> Option<[u8; 2]> {
    phase
        .card
        .get(tags::ATC)
        .and_then(|atc| atc.try_into().ok())
}

/// A tap that remembers tears (issue 11 item 4): [`transact`], with the terminal's slot for a
/// torn tap. Pass the same slot on every tap: a tap that tears after a TC GPO fills it; on a
/// later tap, when the card selected is the torn tap's — GET DATA `9F36` gives the torn GPO's
/// ATC (and GET DATA `9F79` the EC balance that GPO reported, when it reported one), so that
/// GPO was the card's last transaction — no new GPO is sent: the records are read, the torn tap
/// is completed (fDDA on its signature) and the slot emptied. The card pays once, and the torn
/// tap cannot be completed twice. Any other card, or the same card after another transaction,
/// is tapped as usual and the slot kept. Costs one or two GET DATA, only while a tap is torn.
pub fn transact_after_tear<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
    torn: &mut Option<TornTap>,
) -> Transacted<T::Error> {
    transact_after_tear_with(config, input, layer, torn, KernelChoice::Auto)
}

/// [`transact_after_tear`] routing only to the kernels `choice` allows.
pub fn transact_after_tear_with<T: Transport>(
    config: &KernelConfig,
    input: &TransactionInput,
    layer: &mut ApduLayer<T>,
    torn: &mut Option<TornTap>,
    choice: KernelChoice,
) -> Transacted<T::Error> {
    let mut phase = CardPhase::with_kernel_choice(config, input, choice);
    let start = layer.counters().apdus_sent;
    let read = card_phase_steps(
        config,
        &[],
        layer,
        &mut phase,
        torn.as_ref().map(|t| &t.phase),
    );
    phase.apdus += layer.counters().apdus_sent - start;
    let done = match read {
        Ok(()) if phase.chose_full_pboc() => continue_full_pboc(config, phase, layer),
        Ok(()) => Transacted {
            result: phase.complete(config),
            error: None,
        },
        Err(error) => phase.fail(error),
    };
    if let Some(tear) = TornTap::from_result(&done.result) {
        // This tap tore after its own GPO, or tore again while completing the torn one (the
        // resumed phase is the torn tap's): remember it.
        *torn = Some(tear);
    } else if done.result.card_phase.resumed_torn_tap {
        *torn = None;
    }
    done
}

/// What [`transact`] (or [`CardPhase::fail`]) returns: always a result with an outcome, and
/// the error when the card phase broke.
#[derive(Debug)]
pub struct Transacted<E: core::error::Error + 'static> {
    /// The result: on an error, its outcome is [`KernelError::outcome`], its card phase what was
    /// read before the error, its reason the error's text.
    pub result: TransactionResult,
    /// The typed reason, when the card phase broke.
    pub error: Option<KernelError<E>>,
}

impl<E: core::error::Error + 'static> Transacted<E> {
    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        self.result.outcome
    }
}

impl CardPhase {
    /// The card phase (PPSE, SELECT, GPO, READ RECORD), filling this value as it goes: after an
    /// error it still holds what was read before it (the AID, the FCI, the GPO answer, the
    /// records), so a torn tap can be reported or completed with [`CardPhase::fail`].
    pub fn read<T: Transport>(
        &mut self,
        config: &KernelConfig,
        layer: &mut ApduLayer<T>,
    ) -> Result<(), KernelError<T::Error>> {
        self.read_with_overrides(config, &[], layer)
    }

    /// [`CardPhase::read`] with `overrides` (terminal values replaced after pre-processing, to
    /// replay a recorded terminal exactly).
    pub fn read_with_overrides<T: Transport>(
        &mut self,
        config: &KernelConfig,
        overrides: &[(Tag, Vec<u8>)],
        layer: &mut ApduLayer<T>,
    ) -> Result<(), KernelError<T::Error>> {
        let start = layer.counters().apdus_sent;
        let result = card_phase_steps(config, overrides, layer, self, None);
        self.apdus += layer.counters().apdus_sent - start;
        result
    }

    /// Ends the transaction on `error`: the outcome [`KernelError::outcome`] says, with this
    /// card phase (what was read) in the result and the error kept as the reason.
    pub fn fail<E: core::error::Error + 'static>(self, error: KernelError<E>) -> Transacted<E> {
        let reason = error_text(&error);
        let cryptogram = cryptogram_type(&self.card);
        let result = self.finish(
            error.outcome(),
            cryptogram,
            OdaReport::not_performed(),
            Tvr::new(),
            Tsi::new(),
            Some(reason),
        );
        Transacted {
            result,
            error: Some(error),
        }
    }
}

/// An error with its causes, each said once: a cause whose text the chain already says (the
/// transport's "card removed" under the kernel's "card removed") is left out.
fn error_text(error: &dyn core::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

fn card_phase_steps<T: Transport>(
    config: &KernelConfig,
    overrides: &[(Tag, Vec<u8>)],
    layer: &mut ApduLayer<T>,
    phase: &mut CardPhase,
    torn: Option<&CardPhase>,
) -> Result<(), KernelError<T::Error>> {
    let terminal = &config.terminal;
    let input = phase.input;
    let aids = terminal.aids();
    // Pre-processing per combination (pboc-notes §8.2): combinations whose limits forbid
    // contactless at this amount, or whose kernel the caller excluded, drop out.
    let allowed: Vec<bool> = aids
        .iter()
        .map(|aid| {
            phase.kernel_choice.allows(aid.kernel())
                && preprocessing::any_limit_set_allows(terminal.terminal(), aid, input.amount)
        })
        .collect();
    if !aids
        .iter()
        .any(|aid| phase.kernel_choice.allows(aid.kernel()))
    {
        phase.early_outcome = Some((
            Outcome::EndApplication,
            "no configured combination runs the chosen kernel".to_owned(),
        ));
        return Ok(());
    }
    if !allowed.contains(&true) {
        phase.early_outcome = Some((
            another_interface_or_end(config),
            "amount not allowed contactless for any combination".to_owned(),
        ));
        return Ok(());
    }

    let entries = selection::read_ppse_directory(layer).map_err(|e| match e {
        selection::SelectionError::CardBlocked => KernelError::NoApplication,
        other => KernelError::from_selection(other, "SELECT PPSE"),
    })?;
    let mut candidates = Candidates::build(entries, aids, |i| allowed[i]);
    // Why the last combination tried was refused (Select Next), for the tap's reason when no
    // combination is left.
    let mut refused: Option<String> = None;

    while let Some(combination) = candidates.take_first() {
        let aid = combination.entry.aid;
        if combination.kernel == KernelId::C2 && !phase.c2_available {
            // C-2 needs the reader's torn log and relay clock: without them (the plain
            // `transact`), the next combination, before any APDU is spent on this one.
            refused = Some(format!(
                "{aid}: C-2 runs through contactless::transact_routed (torn log, relay clock)"
            ));
            continue;
        }
        let command = Command::select_aid(&aid, Occurrence::First);
        let response = layer.exchange(&command)?;
        if response.sw != StatusWord::OK {
            // Blocked (6283), not supported (6A81) or absent: select next (Book B §3.3.3).
            continue;
        }
        let response_fci = response.data.clone();
        let fci = tlv::parse_single(&response_fci).map_err(|e| malformed(CardObject::Fci, e))?;
        if combination.kernel == KernelId::C2 {
            // C-2 takes the tap from here, with the FCI (pboc-notes §9.3).
            phase.aid = Some(aid);
            phase.fci = response_fci;
            phase.kernel = Some(KernelId::C2);
            phase.handed_to_c2 = true;
            return Ok(());
        }
        if let Some(torn) = torn.filter(|torn| torn.aid == Some(aid)) {
            if torn_gpo_was_the_last(layer, torn)? {
                return resume_torn_tap(layer, phase, torn);
            }
        }
        let pdol = match fci
            .find(tags::PDOL)
            .map_err(|e| malformed(CardObject::Fci, e))?
        {
            Some(pdol) => {
                Some(Dol::parse(pdol.value()).map_err(|e| malformed(CardObject::Pdol, e))?)
            }
            None => None,
        };
        // qPBOC and C-3 tell the card the reader's qualifiers in the GPO: a card whose PDOL
        // does not ask for the TTQ cannot run either kernel (pboc-notes §8.2): select next.
        if !pdol.as_ref().is_some_and(|d| d.contains(tags::TTQ)) {
            refused = Some(format!("{aid}: the PDOL does not ask for the TTQ (9F66)"));
            continue;
        }
        let parameters = match combination.kernel {
            // C-3 dynamic reader limits: the program the card names picks the limit set.
            KernelId::C3 => aids[combination.terminal_aid].with_program_limits(
                fci.find(tags::APPLICATION_PROGRAM_ID)
                    .ok()
                    .flatten()
                    .map(|p| p.value()),
            ),
            _ => aids[combination.terminal_aid].clone(),
        };
        let indicators = preprocessing::indicators(terminal.terminal(), &parameters, input.amount);
        phase.kernel = Some(combination.kernel);
        if indicators.contactless_not_allowed {
            // The limit set of the card's program (or the AID's own, when the card's program has
            // none) does not allow the amount, though another set did before the card was read.
            phase.aid = Some(aid);
            phase.fci = response_fci;
            phase.early_outcome = Some((
                another_interface_or_end(config),
                "amount not allowed contactless for the card's program".to_owned(),
            ));
            return Ok(());
        }
        phase.values.set_aid_parameters(&parameters);
        // Transit mode: the card's FCI decides the TTQ (pboc-notes §2.13).
        phase.transit =
            transit::enabled(&parameters).then(|| transit::TransitCard::from_fci(&response_fci));
        let ttq = match phase.transit {
            Some(card) => card.ttq(terminal.terminal()),
            None => preprocessing::ttq(terminal.terminal(), &parameters, &indicators),
        };
        phase.values.set_ttq(ttq);
        for (tag, value) in overrides {
            phase.values.set(*tag, value.clone());
        }
        let pdol_data = pdol.map(|d| d.build(&phase.values)).unwrap_or_default();
        let gpo = Command::get_processing_options(&pdol_data)
            .map_err(|e| malformed(CardObject::Pdol, e))?;
        let response = layer.exchange(&gpo)?;
        phase.aid = Some(aid);
        phase.fci = response_fci;
        phase.gpo_command = Some(crate::apdu::core(&gpo.to_bytes()).to_vec());
        match response.sw {
            StatusWord::OK => {}
            StatusWord::CONDITIONS_NOT_SATISFIED if !candidates.is_empty() => {
                // The kernel rejects the application: Select Next (Book B §3.5).
                continue;
            }
            StatusWord::CONDITIONS_NOT_SATISFIED => {
                // JR/T 0025.12 §6.5.3 (pboc-notes §1.1): the card wants another interface.
                phase.early_outcome = Some((
                    another_interface_or_end(config),
                    "GPO refused with 6985".to_owned(),
                ));
                return Ok(());
            }
            sw => return Err(KernelError::Refused { command: GPO, sw }),
        }
        absorb_gpo_response(&mut phase.card, &response.data)?;
        phase.static_data = read_records(layer, &mut phase.card, AflPolicy::Optional)?;
        // Issue 15 item 5: the PAN and expiry copies must agree before anything is decided.
        phase
            .card
            .check_consistency()
            .map_err(|e| malformed(CardObject::ApplicationData, e))?;
        return Ok(());
    }
    match refused {
        // Every combination was tried and refused: end the application with the last reason.
        Some(reason) => {
            phase.early_outcome = Some((Outcome::EndApplication, reason));
            Ok(())
        }
        None => Err(KernelError::NoApplication),
    }
}

/// Whether the card just selected is the torn tap's card with nothing done since: its ATC is the
/// torn GPO's and, when that GPO reported the EC balance, so is its balance.
fn torn_gpo_was_the_last<T: Transport>(
    layer: &mut ApduLayer<T>,
    torn: &CardPhase,
) -> Result<bool, KernelError<T::Error>> {
    let Some(atc) = tc_atc(torn) else {
        return Ok(false);
    };
    if crate::contact::get_data(layer, tags::ATC)?.as_deref() != Some(&atc[..]) {
        return Ok(false);
    }
    match torn.card.get(tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT) {
        Some(balance) => {
            Ok(crate::contact::get_data(layer, tags::EC_BALANCE)?.as_deref() == Some(balance))
        }
        None => Ok(true),
    }
}

/// Continues the torn tap on this card: its GPO answer and terminal values, then the records
/// it could not read. A card whose records name another PAN than the torn GPO's track 2 is not
/// the torn card after all: its data fails the consistency check and the tap ends there (no GPO
/// was sent, nothing charged).
fn resume_torn_tap<T: Transport>(
    layer: &mut ApduLayer<T>,
    phase: &mut CardPhase,
    torn: &CardPhase,
) -> Result<(), KernelError<T::Error>> {
    let apdus = phase.apdus;
    *phase = torn.clone();
    phase.apdus = apdus;
    phase.resumed_torn_tap = true;
    phase.static_data = read_records(layer, &mut phase.card, AflPolicy::Optional)?;
    phase
        .card
        .check_consistency()
        .map_err(|e| malformed(CardObject::ApplicationData, e))?;
    Ok(())
}

fn another_interface_or_decline(config: &KernelConfig) -> Outcome {
    if config.terminal.terminal().contact_supported {
        Outcome::TryAnotherInterface
    } else {
        Outcome::Declined
    }
}

fn another_interface_or_end(config: &KernelConfig) -> Outcome {
    if config.terminal.terminal().contact_supported {
        Outcome::TryAnotherInterface
    } else {
        Outcome::EndApplication
    }
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

impl CardPhase {
    /// Whether the card answered the GPO with the contactless full-PBOC path: no cryptogram,
    /// AIP byte 2 b8, and a TTQ that offered it (byte 1 b7).
    fn chose_full_pboc(&self) -> bool {
        let aip = self
            .card
            .get(tags::AIP)
            .and_then(|a| Aip::from_slice(a).ok())
            .unwrap_or_default();
        let offered = self
            .values
            .get(tags::TTQ)
            .and_then(|t| Ttq::from_slice(t).ok())
            .is_some_and(|ttq| ttq.contains(Ttq::CONTACTLESS_FULL_PBOC_SUPPORTED));
        self.early_outcome.is_none()
            && self.aid.is_some()
            && offered
            && aip.contains(Aip::CONTACTLESS_FULL_PBOC)
            && cryptogram_type(&self.card).is_none()
    }

    /// The completion phase (no I/O): fDDA, card checks and the outcome, by the kernel of the
    /// selected combination (Entry Point routing, pboc-notes §8.2): C-3 ([`crate::c3`]) for a
    /// Visa combination, qPBOC otherwise.
    pub fn complete(self, config: &KernelConfig) -> TransactionResult {
        match self.kernel {
            Some(KernelId::C3) => crate::c3::complete(self, config),
            // Qpboc, and a tap that ended before a combination was selected.
            _ => self.complete_qpboc(config),
        }
    }

    /// The qPBOC completion (JR/T 0025.12; pboc-notes §2).
    fn complete_qpboc(self, config: &KernelConfig) -> TransactionResult {
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

        let oda = self.fdda(config, &aid, aip);
        oda.apply(&mut tvr, &mut tsi);

        let (outcome, reason) = match cryptogram {
            None if self.transit.is_some() => self.transit_decision(config, &oda, None, &mut tvr),
            None => (
                Outcome::EndApplication,
                Some("no cryptogram from the card".to_owned()),
            ),
            Some(CryptogramType::Aac) | Some(CryptogramType::Rfu) => {
                (Outcome::Declined, Some("card declined (AAC)".to_owned()))
            }
            Some(CryptogramType::Arqc) if self.transit.is_some() => {
                self.transit_decision(config, &oda, cryptogram, &mut tvr)
            }
            Some(CryptogramType::Arqc) if !self.online_capable(config, &ttq) => (
                Outcome::Declined,
                Some("online cryptogram on an offline-only reader".to_owned()),
            ),
            Some(CryptogramType::Arqc) => self.online_decision(config, &mut tvr),
            // Also in transit mode: a TC means the card has already paid from its EC balance, so
            // it is judged as the offline approval it is (refusing it would take the fare and
            // keep the gate shut).
            Some(CryptogramType::Tc) => self.offline_decision(config, &oda, &ctq, &ttq, &mut tvr),
        };
        let (outcome, reason, cvm) =
            self.cardholder_verification(config, outcome, reason, &ttq, &mut tvr);
        let mut result = self.finish(outcome, cryptogram, oda, tvr, tsi, reason);
        result.cvm = cvm;
        result.sealed()
    }

    /// fDDA whenever the card offers it (also on online authorisations: the trace shows kernels
    /// verifying it; a failure is reported in the TVR): versions 00 and 01, SDAD formats `05`
    /// and `95` (pboc-notes §2.7, §8.3).
    pub(crate) fn fdda(&self, config: &KernelConfig, aid: &Aid, aip: Aip) -> OdaReport {
        if aip.contains(Aip::DDA_SUPPORTED)
            && self.card.contains(tags::SIGNED_DYNAMIC_APPLICATION_DATA)
        {
            let dynamic = fdda_dynamic_data(&self.values, &self.card);
            oda::run_fdda(
                config,
                aid,
                &self.card,
                &self.static_data,
                &dynamic,
                self.input.date,
            )
        } else {
            OdaReport::not_performed()
        }
    }

    /// The CVM of an approval or online request (pboc-notes §2.14 ⚠): none that fits sends the
    /// tap to contact when the reader has it, else declines (TVR "cardholder verification was
    /// not successful"). A transit gate verifies no cardholder.
    pub(crate) fn cardholder_verification(
        &self,
        config: &KernelConfig,
        outcome: Outcome,
        reason: Option<String>,
        ttq: &Ttq,
        tvr: &mut Tvr,
    ) -> (Outcome, Option<String>, Option<ContactlessCvm>) {
        let online = match outcome {
            Outcome::OnlineRequest => true,
            Outcome::Approved => false,
            Outcome::AcceptedForTravel => return (outcome, reason, Some(ContactlessCvm::NoCvm)),
            _ => return (outcome, reason, None),
        };
        let ctq = self
            .card
            .get(tags::CTQ)
            .and_then(|c| Ctq::from_slice(c).ok());
        match crate::contactless_cvm::select(ctq, *ttq, online, self.input.transaction_type) {
            Ok(cvm) => (outcome, reason, Some(cvm)),
            Err(refusal) => {
                tvr.set(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL);
                (
                    another_interface_or_decline(config),
                    Some(refusal.to_string()),
                    None,
                )
            }
        }
    }

    /// An ARQC outside transit mode: declined when the card is on the exception file, else an
    /// online request whose TVR says "expired application" when `5F24` is past (the issuer,
    /// which sees the TVR, decides on an expired card it authorises online, as EMV terminals
    /// leave it to do).
    pub(crate) fn online_decision(
        &self,
        config: &KernelConfig,
        tvr: &mut Tvr,
    ) -> (Outcome, Option<String>) {
        if self.is_denied(config) {
            tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
            return (Outcome::Declined, Some("card on the exception file".into()));
        }
        match self.expiry() {
            transit::Expiry::Expired => tvr.set(Tvr::EXPIRED_APPLICATION),
            // No expiry date anywhere: "ICC data missing", not "not expired" (pboc-notes §8.2).
            transit::Expiry::Missing => tvr.set(Tvr::ICC_DATA_MISSING),
            transit::Expiry::Valid => {}
        }
        (Outcome::OnlineRequest, None)
    }

    /// Whether the reader can go online on this tap: configured online-capable and the TTQ
    /// sent did not say "offline-only reader".
    pub(crate) fn online_capable(&self, config: &KernelConfig, ttq: &Ttq) -> bool {
        config.terminal.terminal().online_capable && !ttq.contains(Ttq::OFFLINE_ONLY_READER)
    }

    /// Transit mode (pboc-notes §2.13): the guide's steps on an ARQC (or on no cryptogram).
    pub(crate) fn transit_decision(
        &self,
        config: &KernelConfig,
        oda: &OdaReport,
        cryptogram: Option<CryptogramType>,
        tvr: &mut Tvr,
    ) -> (Outcome, Option<String>) {
        let facts = transit::Facts {
            oda,
            cryptogram,
            atc: self
                .card
                .get(tags::ATC)
                .and_then(|atc| <[u8; 2]>::try_from(atc).ok())
                .map(u16::from_be_bytes),
            denied: self.is_denied(config),
            expiry: self.expiry(),
        };
        match transit::check(&facts, tvr) {
            Ok(()) => (Outcome::AcceptedForTravel, None),
            Err(refusal) => (Outcome::Declined, Some(refusal.to_string())),
        }
    }

    /// Whether the card (PAN and PAN sequence number) is on the exception file or the deny list.
    pub(crate) fn is_denied(&self, config: &KernelConfig) -> bool {
        let psn = self
            .card
            .get(tags::PAN_SEQUENCE_NUMBER)
            .and_then(|p| p.first().copied());
        self.card
            .pan()
            .is_some_and(|pan| config.is_denied(&pan, psn))
    }

    /// The application's expiry against the transaction date: `5F24` when the card gave it,
    /// else the expiry month of track 2 (`57`, valid to the end of that month) — a qPBOC ARQC
    /// answer carries track 2 but no records.
    pub(crate) fn expiry(&self) -> transit::Expiry {
        if self.card.get(tags::APPLICATION_EXPIRATION_DATE).is_some() {
            return if self.is_expired() {
                transit::Expiry::Expired
            } else {
                transit::Expiry::Valid
            };
        }
        match self.card.track2() {
            Some(track) => {
                let expiry = track.expiry();
                let today = (self.input.date.year(), self.input.date.month());
                if (expiry.year(), expiry.month()) < today {
                    transit::Expiry::Expired
                } else {
                    transit::Expiry::Valid
                }
            }
            None => transit::Expiry::Missing,
        }
    }

    /// A TC: approve offline only if nothing is wrong (pboc-notes §2.5 step 3).
    pub(crate) fn offline_decision(
        &self,
        config: &KernelConfig,
        oda: &OdaReport,
        ctq: &Ctq,
        ttq: &Ttq,
        tvr: &mut Tvr,
    ) -> (Outcome, Option<String>) {
        let online_capable = self.online_capable(config, ttq);
        if !self.card.contains(tags::APPLICATION_EXPIRATION_DATE) {
            // An offline approval needs the expiry date: without it, "ICC data missing"
            // (TVR byte 1 b6, pboc-notes §8.2), never "not expired".
            tvr.set(Tvr::ICC_DATA_MISSING);
            return (
                Outcome::Declined,
                Some("ICC data missing: no application expiration date (5F24)".into()),
            );
        }
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
        if self.is_denied(config) {
            tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
            return (Outcome::Declined, Some("card on the exception file".into()));
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
    pub(crate) fn is_expired(&self) -> bool {
        let Some(expiry) = self.card.get(tags::APPLICATION_EXPIRATION_DATE) else {
            return false;
        };
        match crate::values::TransactionDate::from_bcd(expiry) {
            Ok(expiry) => expiry < self.input.date,
            Err(_) => true,
        }
    }

    pub(crate) fn finish(
        self,
        outcome: Outcome,
        cryptogram_type: Option<CryptogramType>,
        oda: OdaReport,
        tvr: Tvr,
        tsi: Tsi,
        reason: Option<String>,
    ) -> TransactionResult {
        let field_55 = matches!(outcome, Outcome::OnlineRequest | Outcome::AcceptedForTravel)
            .then(|| self.field_55());
        let reason = match (self.resumed_torn_tap, reason) {
            (false, reason) => reason,
            (true, None) => Some(RESUMED.to_owned()),
            (true, Some(why)) => Some(format!("{RESUMED}; {why}")),
        };
        TransactionResult {
            outcome,
            cryptogram_type,
            oda,
            tvr,
            tsi,
            field_55,
            cvm: None,
            reason,
            kernel: self.kernel,
            card_phase: self,
            outcome_parameters: OutcomeParameterSet::new(outcome),
        }
        .sealed()
    }

    /// Field 55 in [`icc_data::FIELD_55_TAGS`] order. Terminal objects — the TVR included — are the
    /// values sent to the card in the GPO: the card's cryptogram covers those, so the issuer can
    /// only verify it with them. The TVR after completion is in the result, for the terminal.
    /// A qPBOC card that gives no `9F27` has its cryptogram type in the IAD (pboc-notes §2.5):
    /// field 55 carries the CID derived from it, so the host and clearing see one.
    fn field_55(&self) -> Vec<u8> {
        let derived_cid = cryptogram_type(&self.card).map(|c| [c.bits()]);
        icc_data::field_55(|tag| match tag {
            tags::DF_NAME => self.aid.as_ref().map(Aid::as_bytes),
            tags::CID => self
                .card
                .get(tag)
                .or(derived_cid.as_ref().map(|cid| &cid[..])),
            _ => self.card.get(tag).or_else(|| self.values.get(tag)),
        })
    }
}

impl TransactionResult {
    /// The result with its [`OutcomeParameterSet`] made from its outcome, CVM, cryptogram,
    /// kernel and balance (Entry Point's one place for it, pboc-notes §8.2).
    pub(crate) fn sealed(mut self) -> Self {
        let phase = &self.card_phase;
        let currency = phase
            .values
            .get(tags::TRANSACTION_CURRENCY_CODE)
            .and_then(|c| <[u8; 2]>::try_from(c).ok())
            .map(|[high, low]| {
                let digit = |n: u8| u16::from(n >> 4) * 10 + u16::from(n & 0x0F);
                digit(high) * 100 + digit(low)
            });
        self.outcome_parameters = start::parameters(start::Facts {
            outcome: self.outcome,
            cvm: self.cvm,
            cryptogram: self.cryptogram_type.is_some(),
            issuer_update: self.kernel == Some(KernelId::C3)
                && crate::c3::issuer_update_requested(phase),
            balance: self.ec_balance().zip(currency).map(|(b, c)| (b.minor(), c)),
        });
        self
    }

    /// Field 55 of this tap whatever its outcome (the field-55 tag list, the terminal
    /// values as sent to the card): for the clearing record of a TC, or of a TC the terminal
    /// declined. `field_55` is filled only on an online request or an acceptance for travel.
    pub fn icc_data(&self) -> Vec<u8> {
        self.card_phase.field_55()
    }

    /// The record of a tap [accepted for travel](Outcome::AcceptedForTravel), for the acquirer's
    /// deferred authorisation (keep it durably before the gate opens); `None` for any other
    /// outcome, or when the card gave no PAN or ARQC.
    pub fn deferred_authorisation(
        &self,
        config: &KernelConfig,
    ) -> Option<transit::DeferredAuthorisation> {
        if self.outcome != Outcome::AcceptedForTravel {
            return None;
        }
        let phase = &self.card_phase;
        let card = &phase.card;
        let terminal = config.terminal.terminal();
        Some(transit::DeferredAuthorisation {
            pan: card.pan()?.expose_digits().to_owned(),
            psn: card
                .get(tags::PAN_SEQUENCE_NUMBER)
                .and_then(|p| p.first().copied()),
            expiry: card
                .get(tags::APPLICATION_EXPIRATION_DATE)
                .map(hex::encode_upper),
            aid: phase.aid?.to_string(),
            card: phase.transit?,
            oda: self.oda.method.map(oda_name)?.to_owned(),
            amount: phase.input.amount.minor(),
            date: hex::encode_upper(phase.input.date.to_bcd()),
            time: hex::encode_upper(phase.input.time.to_bcd()),
            atc: card
                .get(tags::ATC)
                .and_then(|atc| <[u8; 2]>::try_from(atc).ok())
                .map(u16::from_be_bytes)?,
            arqc: card
                .get(tags::APPLICATION_CRYPTOGRAM)
                .map(hex::encode_upper)?,
            field_55: self.field_55.as_ref().map(hex::encode_upper)?,
            tvr: hex::encode_upper(self.tvr.as_bytes()),
            terminal_id: terminal.terminal_id.clone(),
            merchant_id: terminal.merchant_id.clone(),
        })
    }

    /// The EC balance (`9F5D` available offline spending amount, or `9F79`), when the card said.
    pub fn ec_balance(&self) -> Option<Amount> {
        crate::clearing::ec_balance(&self.card_phase.card)
    }

    /// The clearing record of this tap ([`crate::clearing`]), for **every** outcome where the
    /// card gave a cryptogram: an offline approval (TC), a decline after a TC (the card has
    /// already debited its EC balance), an online request, an acceptance for travel, a TC or
    /// ARQC the terminal switched to another interface. `None` when the card gave no
    /// cryptogram, PAN or ATC. Write it to the terminal's store (the PAN is clear); print
    /// [`ClearingRecord::masked`](crate::clearing::ClearingRecord::masked).
    pub fn clearing_record(
        &self,
        config: &KernelConfig,
    ) -> Option<crate::clearing::ClearingRecord> {
        let phase = &self.card_phase;
        let card = &phase.card;
        let cryptogram = self.cryptogram_type.or_else(|| cryptogram_type(card))?;
        crate::clearing::Parts {
            interface: crate::clearing::Interface::Contactless,
            outcome: self.outcome.as_str(),
            reason: self.reason.as_deref(),
            cryptogram,
            card,
            aid: phase.aid?.to_string(),
            input: &phase.input,
            atc: card.get(tags::ATC)?,
            application_cryptogram: card.get(tags::APPLICATION_CRYPTOGRAM)?,
            field_55: &self.field_55.clone().unwrap_or_else(|| self.icc_data()),
            tvr: self.tvr.as_bytes(),
            tsi: self.tsi.as_bytes(),
            cvm: self.cvm.map(ContactlessCvm::as_str),
        }
        .build(config)
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
            cvm: self.cvm.map(ContactlessCvm::as_str),
            reason: self.reason.clone(),
        }
    }
}

/// The lower-case name of an ODA method, as records carry it.
fn oda_name(method: crate::oda::OdaMethod) -> &'static str {
    use crate::oda::OdaMethod;
    match method {
        OdaMethod::Sda => "sda",
        OdaMethod::Dda => "dda",
        OdaMethod::Cda => "cda",
        OdaMethod::Fdda => "fdda",
    }
}
