//! The Visa contactless kernel, C-3 (qVSDC; EMV Contactless Book C-3 and Visa's VCPS as public
//! material describes them; pboc-notes §8.3–8.5 ⚠). Entry Point routes a Visa combination here
//! (kernel 3, or RID `A000000003` without a `9F2A`).
//!
//! C-3 shares the qPBOC card phase — PPSE, SELECT, GPO with the PDOL, READ RECORD, fDDA
//! versions 00/01 with the SDAD formats `05` and `95` — and differs where Visa does:
//!
//! - **dynamic reader limits**: the card's application program identifier (`9F5A`) picks the
//!   combination's limit set before the GPO ([`crate::config::AidParameters::program_limits`]);
//! - **TTQ**: byte 1 b1 "ODA for online authorisations" — an ARQC whose fDDA fails is declined,
//!   as a transit reader that lets the rider in on the strength of that ODA must; byte 3 b8
//!   "issuer update processing" — with the card's CTQ byte 2 b7, an online request asks for
//!   the issuer's response on a second presentation (start D);
//! - **CVM from the CTQ**: online PIN, signature, CDCVM ([`cvm`]); a CDCVM claim is trusted
//!   only when the signed copy of the CTQ in `9F69` makes it too;
//! - an ARQC on an offline-only reader is declined.
//!
//! [`crate::contactless::TransactionResult`] is C-3's result too (its `kernel` is
//! [`KernelId::C3`](crate::entry_point::KernelId::C3)), with the Outcome Parameter Set.

pub mod cvm;

use alloc::{borrow::ToOwned, format, string::String, string::ToString};

use crate::bits::{Aip, CryptogramType, Ctq, Tsi, Ttq, Tvr};
use crate::card_phase::CardPhase;
use crate::config::KernelConfig;
use crate::contactless::{cryptogram_type, TransactionResult};
use crate::oda::{OdaReport, OdaStatus};
use crate::outcome::Outcome;
use crate::tags;

/// Whether the tap asks for issuer update processing (pboc-notes §8.4 ⚠): the reader offered it
/// (TTQ byte 3 b8) and the card supports it (CTQ byte 2 b7).
pub(crate) fn issuer_update_requested(phase: &CardPhase) -> bool {
    let ttq = sent_ttq(phase);
    let ctq = card_ctq(phase);
    ttq.contains(Ttq::ISSUER_UPDATE_PROCESSING_SUPPORTED)
        && ctq.contains(Ctq::ISSUER_UPDATE_PROCESSING_SUPPORTED)
}

fn sent_ttq(phase: &CardPhase) -> Ttq {
    phase
        .values
        .get(tags::TTQ)
        .and_then(|t| Ttq::from_slice(t).ok())
        .unwrap_or_default()
}

fn card_ctq(phase: &CardPhase) -> Ctq {
    phase
        .card
        .get(tags::CTQ)
        .and_then(|c| Ctq::from_slice(c).ok())
        .unwrap_or_default()
}

/// The C-3 completion phase (no I/O): fDDA, the card checks, the decision and the CVM.
pub(crate) fn complete(phase: CardPhase, config: &KernelConfig) -> TransactionResult {
    let mut tvr = Tvr::new();
    let mut tsi = Tsi::new();
    let cryptogram = cryptogram_type(&phase.card);
    if let Some((outcome, reason)) = phase.early_outcome.clone() {
        let oda = OdaReport::not_performed();
        return phase.finish(outcome, cryptogram, oda, tvr, tsi, Some(reason));
    }
    let Some(aid) = phase.aid else {
        let oda = OdaReport::not_performed();
        let reason = Some("no application".to_owned());
        return phase.finish(Outcome::EndApplication, cryptogram, oda, tvr, tsi, reason);
    };
    let aip = phase
        .card
        .get(tags::AIP)
        .and_then(|a| Aip::from_slice(a).ok())
        .unwrap_or_default();
    let ctq = card_ctq(&phase);
    let ttq = sent_ttq(&phase);

    let oda = phase.fdda(config, &aid, aip);
    oda.apply(&mut tvr, &mut tsi);

    let (outcome, reason) = match cryptogram {
        None => (
            Outcome::EndApplication,
            Some("no cryptogram from the card".to_owned()),
        ),
        Some(CryptogramType::Aac) | Some(CryptogramType::Rfu) => {
            (Outcome::Declined, Some("card declined (AAC)".to_owned()))
        }
        Some(CryptogramType::Arqc) => online(&phase, config, &oda, &ttq, &mut tvr),
        Some(CryptogramType::Tc) => phase.offline_decision(config, &oda, &ctq, &ttq, &mut tvr),
    };
    let (outcome, reason, cvm) = match outcome {
        Outcome::Approved | Outcome::OnlineRequest => {
            let online = outcome == Outcome::OnlineRequest;
            match cvm::select(&phase, &oda, online) {
                Ok(cvm) => (outcome, reason, Some(cvm)),
                Err(refusal) => {
                    tvr.set(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL);
                    let outcome = if config.terminal.terminal().contact_supported {
                        Outcome::TryAnotherInterface
                    } else {
                        Outcome::Declined
                    };
                    (outcome, Some(refusal.to_string()), None)
                }
            }
        }
        other => (other, reason, None),
    };
    let mut result = phase.finish(outcome, cryptogram, oda, tvr, tsi, reason);
    result.cvm = cvm;
    result.sealed()
}

/// An ARQC (pboc-notes §8.3 ⚠): declined on an offline-only reader, and when the reader
/// offered "ODA for online authorisations" and the card's fDDA failed; declined on the exception
/// file; otherwise an online request (TVR "expired" / "ICC data missing" for the issuer).
fn online(
    phase: &CardPhase,
    config: &KernelConfig,
    oda: &OdaReport,
    ttq: &Ttq,
    tvr: &mut Tvr,
) -> (Outcome, Option<String>) {
    if !phase.online_capable(config, ttq) {
        return (
            Outcome::Declined,
            Some("online cryptogram on an offline-only reader".to_owned()),
        );
    }
    if ttq.contains(Ttq::ODA_FOR_ONLINE_AUTHORISATIONS_SUPPORTED) && oda.status() == OdaStatus::Fail
    {
        let why = oda
            .failure
            .as_ref()
            .map_or_else(String::new, |f| format!(": {f}"));
        return (
            Outcome::Declined,
            Some(format!(
                "fDDA failed on an online authorisation with ODA for online authorisations{why}"
            )),
        );
    }
    phase.online_decision(config, tvr)
}
