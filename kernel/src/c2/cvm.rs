//! C-2 CVM selection (pboc-notes §9.4): on-device CVM when the card and the reader support it,
//! else the card's CVM list walked with the reader's CVM capability for the amount — `DF8118`
//! above the reader CVM required limit `DF8126`, `DF8119` up to it — as `9F33` byte 2.
//!
//! The reader has no offline PIN at a contactless interface: the list walk never performs
//! one (the rule fails, as for a terminal without the capability).

use core::convert::Infallible;

use crate::bits::Tvr;
use crate::card_data::CardData;
use crate::config::TerminalData;
use crate::contact::cvm::{self, CvmContext, CvmPerformer, OnlinePinResult, PinResult};
use crate::outcome_parameters::OutcomeCvm;
use crate::terminal_values::TransactionInput;

/// What CVM selection looks at.
pub(crate) struct CvmInputs<'a> {
    pub amount: u64,
    pub cvm_required_limit: u64,
    pub on_device: bool,
    pub card_supports_cvm: bool,
    pub capability_cvm_required: u8,
    pub capability_no_cvm_required: u8,
    pub cvm_list: Option<&'a [u8]>,
    pub card: &'a CardData,
    pub terminal: &'a TerminalData,
    pub input: &'a TransactionInput,
}

/// What CVM selection decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CvmChoice {
    pub cvm: OutcomeCvm,
    pub results: [u8; 3],
    pub tvr: Tvr,
    /// `9F33` byte 2 for this amount.
    pub capability: u8,
}

/// A reader at a contactless interface: no offline PIN; online PIN is captured by the reader
/// after the tap (the outcome asks for it), so the list walk counts it as entered.
struct ContactlessReader;

impl CvmPerformer for ContactlessReader {
    type Error = Infallible;

    fn offline_plaintext_pin(&mut self) -> Result<PinResult, Infallible> {
        Ok(PinResult::PinPadUnavailable)
    }

    fn online_pin(&mut self) -> OnlinePinResult {
        OnlinePinResult::Entered
    }
}

/// CVM results `9F34` for on-device CVM ("confirmation code verified": method `01`,
/// condition `00`, successful).
const ON_DEVICE_RESULTS: [u8; 3] = [0x01, 0x00, 0x02];
/// CVM results for "no CVM" when the card was not asked (method `3F`, successful).
const NO_CVM_RESULTS: [u8; 3] = [0x3F, 0x00, 0x02];

pub(crate) fn select(inputs: &CvmInputs<'_>) -> CvmChoice {
    let required = inputs.amount > inputs.cvm_required_limit;
    let capability = if required {
        inputs.capability_cvm_required
    } else {
        inputs.capability_no_cvm_required
    };
    if inputs.on_device {
        return if required {
            CvmChoice {
                cvm: OutcomeCvm::ConfirmationCodeVerified,
                results: ON_DEVICE_RESULTS,
                tvr: Tvr::new(),
                capability,
            }
        } else {
            CvmChoice {
                cvm: OutcomeCvm::NoCvm,
                results: NO_CVM_RESULTS,
                tvr: Tvr::new(),
                capability,
            }
        };
    }
    if !inputs.card_supports_cvm {
        return CvmChoice {
            cvm: OutcomeCvm::NoCvm,
            results: [0x3F, 0x00, 0x00],
            tvr: Tvr::new(),
            capability,
        };
    }
    let unattended = matches!(inputs.terminal.terminal_type[0] & 0x0F, 4..=6);
    let context = CvmContext {
        amount: inputs.amount,
        in_application_currency: inputs
            .card
            .get(crate::tags::APPLICATION_CURRENCY_CODE)
            .zip(crate::values::bcd::u64_to_bcd::<2>(u64::from(inputs.terminal.currency_code)).ok())
            .is_some_and(|(card, terminal)| card == terminal),
        unattended,
        cash: inputs.input.transaction_type == 0x01,
        cashback: inputs.input.transaction_type == 0x09,
        capabilities: [0x00, capability, 0x00],
    };
    let Ok(outcome) = cvm::process(true, inputs.cvm_list, &context, &mut ContactlessReader);
    let cvm = if outcome.online_pin {
        OutcomeCvm::OnlinePin
    } else if outcome.signature_required {
        OutcomeCvm::ObtainSignature
    } else {
        OutcomeCvm::NoCvm
    };
    let mut tvr = outcome.tvr;
    if outcome.online_pin {
        tvr.set(Tvr::ONLINE_PIN_ENTERED);
    }
    CvmChoice {
        cvm,
        results: outcome.results.0,
        tvr,
        capability,
    }
}

/// The outcome CVM a recorded `9F34` stands for (a recovered torn transaction).
pub(crate) fn outcome_cvm_of_results(results: [u8; 3]) -> Option<OutcomeCvm> {
    Some(match results[0] & 0x3F {
        0x01 if results == ON_DEVICE_RESULTS => OutcomeCvm::ConfirmationCodeVerified,
        0x02 => OutcomeCvm::OnlinePin,
        0x1E => OutcomeCvm::ObtainSignature,
        _ => OutcomeCvm::NoCvm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Amount, TransactionDate, TransactionTime};

    fn terminal() -> TerminalData {
        serde_json::from_str(
            r#"{"country_code": 156, "currency_code": 156, "currency_exponent": 2,
                "terminal_type": "22", "capabilities": "E0E1C8",
                "additional_capabilities": "6000F0A001", "ifd_serial": "QP000001",
                "online_capable": true, "contact_supported": true}"#,
        )
        .unwrap()
    }

    fn choose(amount: u64, on_device: bool, list: Option<&[u8]>) -> CvmChoice {
        let mut card = CardData::new();
        card.insert(crate::tags::APPLICATION_CURRENCY_CODE, &[0x01, 0x56]);
        let input = TransactionInput {
            amount: Amount::from_minor(amount).unwrap(),
            amount_other: Amount::ZERO,
            transaction_type: 0,
            date: TransactionDate::new(2026, 12, 7).unwrap(),
            time: TransactionTime::new(4, 0, 0).unwrap(),
            unpredictable_number: [0; 4],
        };
        select(&CvmInputs {
            amount,
            cvm_required_limit: 10_000,
            on_device,
            card_supports_cvm: true,
            capability_cvm_required: 0x60,
            capability_no_cvm_required: 0x08,
            cvm_list: list,
            card: &card,
            terminal: &terminal(),
            input: &input,
        })
    }

    #[test]
    fn by_the_cvm_required_limit() {
        // Online PIN, then signature, then no CVM; X = Y = 0.
        let list = hex::decode("000000000000000042031E031F03").unwrap();
        let low = choose(500, false, Some(&list));
        assert_eq!(low.cvm, OutcomeCvm::NoCvm);
        assert_eq!(low.capability, 0x08);
        assert_eq!(low.results, [0x1F, 0x03, 0x02]);
        let high = choose(20_000, false, Some(&list));
        assert_eq!(high.cvm, OutcomeCvm::OnlinePin);
        assert_eq!(high.results, [0x42, 0x03, 0x00]);
        let on_device = choose(20_000, true, Some(&list));
        assert_eq!(on_device.cvm, OutcomeCvm::ConfirmationCodeVerified);
        assert_eq!(on_device.results, ON_DEVICE_RESULTS);
        assert_eq!(choose(500, true, None).cvm, OutcomeCvm::NoCvm);
    }

    #[test]
    fn signature_when_no_online_pin() {
        let list = hex::decode("00000000000000001E031F03").unwrap();
        assert_eq!(
            choose(20_000, false, Some(&list)).cvm,
            OutcomeCvm::ObtainSignature
        );
    }
}
