//! Contactless pre-processing (EMV Book A §3.1.1; JR/T 0025.12 §7.8 as cited in pboc-notes
//! §2.1): before the card is touched, each configured AID's limits decide whether contactless is
//! allowed at this amount and which TTQ bits the transaction needs.

use crate::bits::Ttq;
use crate::config::{AidParameters, TerminalData};
use crate::values::Amount;

/// What pre-processing decided for one AID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AidIndicators {
    /// Amount at or above the contactless transaction limit (or zero on an offline-only
    /// terminal): the AID may not be used contactless.
    pub contactless_not_allowed: bool,
    /// Amount at or above the CVM limit: TTQ byte 2 b7.
    pub cvm_required: bool,
    /// Amount above the offline floor limit, zero amount or status check: TTQ byte 2 b8.
    pub online_cryptogram_required: bool,
}

/// Runs pre-processing for one AID.
pub fn indicators(terminal: &TerminalData, aid: &AidParameters, amount: Amount) -> AidIndicators {
    let amount = amount.minor();
    let mut result = AidIndicators {
        contactless_not_allowed: aid
            .contactless_transaction_limit
            .is_some_and(|limit| amount >= limit),
        cvm_required: aid.cvm_limit.is_some_and(|limit| amount >= limit),
        online_cryptogram_required: amount > aid.contactless_floor_limit.unwrap_or(aid.floor_limit),
    };
    if aid.transit_online_oda {
        // Transit (pboc-notes §2.13): every tap's authorisation is online, deferred; a zero
        // amount is an ordinary entry tap whatever the reader's own online capability.
        result.online_cryptogram_required = true;
    } else if amount == 0 {
        // A zero amount can only be authorised online.
        if terminal.online_capable {
            result.online_cryptogram_required = true;
        } else {
            result.contactless_not_allowed = true;
        }
    }
    // Status check: one currency unit asks the card for an online cryptogram (pboc-notes §2.1).
    let one_unit = 10u64.pow(u32::from(terminal.currency_exponent));
    if aid.status_check && amount == one_unit {
        result.online_cryptogram_required = true;
    }
    result
}

/// The TTQ for the transaction: the configured qualifiers plus the per-transaction bits.
pub fn ttq(terminal: &TerminalData, indicators: &AidIndicators) -> Ttq {
    let mut ttq = terminal.effective_ttq();
    ttq.assign(
        Ttq::ONLINE_CRYPTOGRAM_REQUIRED,
        indicators.online_cryptogram_required,
    );
    ttq.assign(Ttq::CVM_REQUIRED, indicators.cvm_required);
    ttq
}
