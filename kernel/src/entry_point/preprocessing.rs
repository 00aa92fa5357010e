//! Pre-processing per combination (EMV Contactless Book A §3.1.1 / Book B §3.1; JR/T 0025.12
//! §7.8 as cited in pboc-notes §2.1 and §8.2): before the card is touched, each configured
//! combination's limits decide whether contactless is allowed at this amount and which TTQ bits
//! the transaction needs. Every combination has its own limits, status check, zero-amount rule
//! and TTQ; a Visa combination may trade its limits for a program's (dynamic reader limits,
//! applied once the card's FCI names its program: [`AidParameters::with_program_limits`]).

use crate::bits::Ttq;
use crate::config::{AidParameters, TerminalData};
use crate::values::Amount;

/// What pre-processing decided for one combination (Book A "Entry Point Pre-Processing
/// Indicators").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AidIndicators {
    /// Amount at or above the contactless transaction limit, or a zero amount the combination
    /// cannot take: the combination may not be used contactless.
    pub contactless_not_allowed: bool,
    /// Amount at or above the CVM limit: TTQ byte 2 b7.
    pub cvm_required: bool,
    /// Amount above the offline floor limit, zero amount or status check: TTQ byte 2 b8.
    pub online_cryptogram_required: bool,
}

/// Runs pre-processing for one combination.
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
        // Book A: a combination that does not allow a zero amount is not allowed at zero; one
        // that does can only authorise it online (pboc-notes §8.2).
        if aid.zero_amount_allowed == Some(false) || !terminal.online_capable {
            result.contactless_not_allowed = true;
        } else {
            result.online_cryptogram_required = true;
        }
    }
    // Status check: one currency unit asks the card for an online cryptogram (pboc-notes §2.1).
    let one_unit = 10u64.pow(u32::from(terminal.currency_exponent));
    if aid.status_check && amount == one_unit {
        result.online_cryptogram_required = true;
    }
    result
}

/// Whether the combination may be used contactless at `amount` under its own limits or under
/// any of its programs' (C-3 dynamic reader limits, pboc-notes §8.3): the card's program is
/// known only after SELECT, where the chosen set is checked again.
pub fn any_limit_set_allows(terminal: &TerminalData, aid: &AidParameters, amount: Amount) -> bool {
    !indicators(terminal, aid, amount).contactless_not_allowed
        || aid.program_limits.iter().any(|set| {
            let program = aid.with_program_limits(Some(&set.program_id));
            !indicators(terminal, &program, amount).contactless_not_allowed
        })
}

/// The TTQ for the transaction on this combination: its configured qualifiers (the
/// combination's own TTQ, else the terminal's) plus the per-transaction bits.
pub fn ttq(terminal: &TerminalData, aid: &AidParameters, indicators: &AidIndicators) -> Ttq {
    let mut ttq = aid
        .ttq
        .map_or_else(|| terminal.effective_ttq(), Ttq::from_bytes);
    ttq.assign(
        Ttq::ONLINE_CRYPTOGRAM_REQUIRED,
        indicators.online_cryptogram_required,
    );
    ttq.assign(Ttq::CVM_REQUIRED, indicators.cvm_required);
    ttq
}
