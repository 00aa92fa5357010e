//! Online completion of a contactless tap, as a taxi POS runs it (issue 12 item 3): the card
//! gave an ARQC and usually left the field; the host's answer decides, and the terminal keeps
//! the message the back office needs.
//!
//! | host | card | outcome | message kept |
//! |---|---|---|---|
//! | approves, no issuer update | — | approved | clearing |
//! | approves with scripts (`71`/`72`) | still present, CTQ "issuer update" | approved, scripts run | clearing (with `9F5B`) |
//! | approves with scripts | gone, or no issuer update, or it left during the scripts | approved | advice (the update did not reach the card) |
//! | declines | — | declined | none |
//! | no answer | — | declined | reversal (the host may have approved: cancel it) |
//!
//! No second GENERATE AC: a qPBOC card ends its part at GPO. The terminal keeps the message
//! durably before it tells the cardholder (`quickpass::store`).

use alloc::{format, string::String, vec::Vec};
use serde::Serialize;

use crate::bits::Ctq;
use crate::contact::online::{self, HostResponse, ScriptResult};
use crate::contactless::TransactionResult;
use crate::outcome::Outcome;
use crate::tags;
use crate::transport::{ApduLayer, Transport};

/// What the host did with the authorisation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostReply {
    /// It answered (ARC, optional issuer authentication data and scripts).
    Answered(HostResponse),
    /// It did not answer in time (or the link failed).
    NoAnswer,
}

/// The message the terminal keeps for the back office after an online completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackOfficeMessage {
    /// The approved transaction, for clearing.
    Clearing,
    /// The host did not answer: it may have approved, so the terminal cancels the
    /// authorisation (ISO 8583 reversal).
    Reversal,
    /// Approved, but the issuer's update (scripts) could not be delivered to the card: the
    /// issuer is told (ISO 8583 advice).
    Advice,
}

impl BackOfficeMessage {
    /// `clearing`, `reversal`, `advice`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackOfficeMessage::Clearing => "clearing",
            BackOfficeMessage::Reversal => "reversal",
            BackOfficeMessage::Advice => "advice",
        }
    }
}

/// How an online request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineCompletion {
    /// [`Outcome::Approved`] or [`Outcome::Declined`].
    pub outcome: Outcome,
    /// The host's response code, when it answered.
    pub arc: Option<[u8; 2]>,
    /// What the terminal keeps for the back office (`None` after a decline).
    pub message: Option<BackOfficeMessage>,
    /// Issuer script results (`9F5B` entries), when scripts ran.
    pub script_results: Vec<ScriptResult>,
    /// Why, for people.
    pub reason: Option<String>,
}

/// The tap was not an online request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("only an online request is completed online (the tap ended {0:?})")]
pub struct NotAnOnlineRequest(pub Outcome);

/// Completes an online request with the host's reply. `card` is the card when it is still (or
/// again) in the field, for the issuer update; `None` when it has gone.
///
/// | host | card | outcome | message kept |
/// |---|---|---|---|
/// | approves, no issuer update | — | approved | clearing |
/// | approves with scripts (`71`/`72`) | still present, CTQ "issuer update" | approved, scripts run | clearing (with `9F5B`) |
/// | approves with scripts | gone, or no issuer update, or it left during the scripts | approved | advice |
/// | declines | — | declined | none |
/// | no answer | — | declined | reversal |
///
/// No second GENERATE AC: a qPBOC card ends its part at GPO.
pub fn complete_online<T: Transport>(
    tap: &TransactionResult,
    reply: HostReply,
    card: Option<&mut ApduLayer<T>>,
) -> Result<OnlineCompletion, NotAnOnlineRequest> {
    if tap.outcome != Outcome::OnlineRequest {
        return Err(NotAnOnlineRequest(tap.outcome));
    }
    let response = match reply {
        HostReply::NoAnswer => {
            return Ok(OnlineCompletion {
                outcome: Outcome::Declined,
                arc: None,
                message: Some(BackOfficeMessage::Reversal),
                script_results: Vec::new(),
                reason: Some("no answer from the host: declined, authorisation reversed".into()),
            })
        }
        HostReply::Answered(response) => response,
    };
    if !response.approved() {
        return Ok(OnlineCompletion {
            outcome: Outcome::Declined,
            arc: Some(response.arc),
            message: None,
            script_results: Vec::new(),
            reason: Some(format!(
                "declined by the issuer (ARC {})",
                String::from_utf8_lossy(&response.arc)
            )),
        });
    }
    let scripts = online::parse_scripts(&response.scripts);
    let mut completion = OnlineCompletion {
        outcome: Outcome::Approved,
        arc: Some(response.arc),
        message: Some(BackOfficeMessage::Clearing),
        script_results: Vec::new(),
        reason: None,
    };
    if scripts.is_empty() {
        return Ok(completion);
    }
    let updatable = tap
        .card_phase
        .card()
        .get(tags::CTQ)
        .and_then(|c| Ctq::from_slice(c).ok())
        .is_some_and(|ctq| ctq.contains(Ctq::ISSUER_UPDATE_PROCESSING_SUPPORTED));
    let delivered = match card {
        Some(layer) if updatable => {
            let mut results = Vec::new();
            let mut ok = true;
            for template in [
                tags::ISSUER_SCRIPT_TEMPLATE_1,
                tags::ISSUER_SCRIPT_TEMPLATE_2,
            ] {
                match online::run_scripts(layer, &scripts, template) {
                    Ok((mut ran, _)) => results.append(&mut ran),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            completion.script_results = results;
            ok
        }
        _ => false,
    };
    if !delivered {
        completion.message = Some(BackOfficeMessage::Advice);
        completion.reason = Some("approved; the issuer update could not reach the card".into());
    }
    Ok(completion)
}
