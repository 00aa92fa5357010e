//! Start points and the Outcome Parameter Set of a tap (EMV Contactless Book A §6.2, Book B
//! §3.5; pboc-notes §8.1–8.2): what the reader does after each outcome — where it starts again
//! (B: present the card again after a lost link; C: the next combination; D: the issuer's
//! update on a second presentation), what it shows, which CVM it completes.

use crate::contactless_cvm::ContactlessCvm;
use crate::outcome::Outcome;
use crate::outcome_parameters::{
    AlternateInterface, Deciseconds, MessageId, OnlineResponseData, OutcomeCvm,
    OutcomeParameterSet, ReaderStatus, StartPoint, UiRequest, UiValue,
};

/// How long "present card again" and the outcome messages are held (1.3 s, the hold time the
/// Book A examples use ⚠ pboc-notes §8.1).
const HOLD: Deciseconds = Deciseconds(13);

/// What a kernel's result says, for the parameter set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// The outcome.
    pub outcome: Outcome,
    /// The CVM the tap needs, on an approval, online request or acceptance.
    pub cvm: Option<ContactlessCvm>,
    /// The card gave a cryptogram: a data record (clearing or authorisation) comes with it.
    pub cryptogram: bool,
    /// The kernel wants the issuer's response on a second presentation (C-3 issuer update
    /// processing): online response data "EMV data", restart at D.
    pub issuer_update: bool,
    /// The card's offline balance to show, with the currency.
    pub balance: Option<(u64, u16)>,
}

/// The CVM of the parameter set for a kernel's CVM.
pub(crate) fn outcome_cvm(cvm: ContactlessCvm) -> OutcomeCvm {
    match cvm {
        ContactlessCvm::OnlinePin => OutcomeCvm::OnlinePin,
        ContactlessCvm::Signature => OutcomeCvm::ObtainSignature,
        ContactlessCvm::Cdcvm => OutcomeCvm::ConfirmationCodeVerified,
        ContactlessCvm::NoCvm => OutcomeCvm::NoCvm,
    }
}

/// The Outcome Parameter Set of a tap (pboc-notes §8.2 table ⚠: Book A §6.2 as recalled).
pub(crate) fn parameters(facts: Facts) -> OutcomeParameterSet {
    let mut set = OutcomeParameterSet::new(facts.outcome);
    let show = |message, status| {
        Some(UiRequest {
            message,
            status,
            hold_time: HOLD,
            value: None,
        })
    };
    let read = ReaderStatus::CardReadSuccessfully;
    set.cvm = match facts.outcome {
        Outcome::Approved | Outcome::OnlineRequest | Outcome::AcceptedForTravel => {
            Some(facts.cvm.map_or(OutcomeCvm::NoCvm, outcome_cvm))
        }
        _ => None,
    };
    let signature = set.cvm == Some(OutcomeCvm::ObtainSignature);
    match facts.outcome {
        Outcome::Approved => {
            let message = if signature {
                MessageId::ApprovedPleaseSign
            } else {
                MessageId::Approved
            };
            set.ui_request_on_outcome = show(message, read);
            set.data_record_present = facts.cryptogram;
            set.receipt = signature;
        }
        Outcome::AcceptedForTravel => {
            // The rider passes; the authorisation follows later (pboc-notes §2.13).
            set.ui_request_on_outcome = show(MessageId::Approved, read);
            set.data_record_present = true;
        }
        Outcome::OnlineRequest => {
            set.ui_request_on_outcome = show(MessageId::AuthorisingPleaseWait, read);
            set.data_record_present = true;
            set.receipt = signature;
            if facts.issuer_update {
                set.online_response_data = Some(OnlineResponseData::EmvData);
                set.start = Some(StartPoint::D);
                set.ui_request_on_restart =
                    show(MessageId::PresentCardAgain, ReaderStatus::ReadyToRead);
                set.removal_timeout = Deciseconds(150);
            }
        }
        Outcome::Declined => {
            set.ui_request_on_outcome = show(MessageId::NotAuthorised, read);
            set.data_record_present = facts.cryptogram;
        }
        Outcome::TryAgain => {
            set.start = Some(StartPoint::B);
            set.ui_request_on_restart =
                show(MessageId::PresentCardAgain, ReaderStatus::ReadyToRead);
        }
        Outcome::SelectNext => set.start = Some(StartPoint::C),
        Outcome::TryAnotherInterface => {
            set.alternate_interface = Some(AlternateInterface::ContactChip);
            set.ui_request_on_outcome = show(MessageId::InsertCard, ReaderStatus::ProcessingError);
        }
        Outcome::EndApplication => {
            set.ui_request_on_outcome =
                show(MessageId::TryAnotherCard, ReaderStatus::ProcessingError);
        }
    }
    if let (Some(request), Some((value, currency_code))) =
        (set.ui_request_on_outcome.as_mut(), facts.balance)
    {
        if matches!(facts.outcome, Outcome::Approved | Outcome::Declined) {
            request.value = Some(UiValue {
                balance: true,
                value,
                currency_code,
            });
            set.discretionary_data_present = true;
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(outcome: Outcome) -> Facts {
        Facts {
            outcome,
            cvm: None,
            cryptogram: true,
            issuer_update: false,
            balance: None,
        }
    }

    #[test]
    fn try_again_restarts_at_b_with_present_card_again() {
        let set = parameters(facts(Outcome::TryAgain));
        assert_eq!(set.start, Some(StartPoint::B));
        let restart = set.ui_request_on_restart.expect("UI on restart");
        assert_eq!(restart.message.code(), 0x21);
        assert_eq!(set.to_bytes()[0..2], [0x70, 0x10]);
    }

    #[test]
    fn select_next_restarts_at_c_and_another_interface_prefers_contact() {
        assert_eq!(
            parameters(facts(Outcome::SelectNext)).start,
            Some(StartPoint::C)
        );
        let set = parameters(facts(Outcome::TryAnotherInterface));
        assert_eq!(
            set.alternate_interface,
            Some(AlternateInterface::ContactChip)
        );
        assert_eq!(set.start, None);
    }

    #[test]
    fn issuer_update_asks_for_emv_data_and_start_d() {
        let mut online = facts(Outcome::OnlineRequest);
        assert_eq!(parameters(online).online_response_data, None);
        online.issuer_update = true;
        online.cvm = Some(ContactlessCvm::OnlinePin);
        let set = parameters(online);
        assert_eq!(set.online_response_data, Some(OnlineResponseData::EmvData));
        assert_eq!(set.start, Some(StartPoint::D));
        assert_eq!(set.cvm, Some(OutcomeCvm::OnlinePin));
    }

    #[test]
    fn approval_with_signature_asks_for_a_receipt_and_shows_the_balance() {
        let mut approved = facts(Outcome::Approved);
        approved.cvm = Some(ContactlessCvm::Signature);
        approved.balance = Some((4_990, 156));
        let set = parameters(approved);
        assert!(set.receipt);
        let ui = set.ui_request_on_outcome.expect("UI");
        assert_eq!(ui.message, MessageId::ApprovedPleaseSign);
        assert_eq!(ui.value.map(|v| v.value), Some(4_990));
    }
}
