//! A simulated acquirer for transit's deferred authorisations (issue 11 item 6): it authorises
//! each [`DeferredAuthorisation`] from the record alone — the ARQC recomputed from field 55
//! with the simulated issuer's keys ([`EmvHost`]) — and declines the cards it was told to (an
//! account without funds), every record whose cryptogram does not verify, and every card it
//! has no keys for.

use std::collections::HashSet;

use quickpass_kernel::transit::DeferredAuthorisation;

use super::emv::EmvHost;

/// What the acquirer answered for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquirerDecision {
    /// Authorised: the fare is charged to the account.
    Approved,
    /// Declined: the card goes on the deny list until the debt is paid.
    Declined(DeclineCause),
}

/// Why the acquirer declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineCause {
    /// The account cannot pay (the simulated cards told to decline).
    InsufficientFunds,
    /// The ARQC does not verify against field 55.
    BadCryptogram,
    /// Field 55 or the card is unusable (unknown card, missing or malformed data).
    Unprocessable,
}

/// The simulated acquirer (with its issuers' keys).
#[derive(Debug, Default)]
pub struct SimAcquirer {
    issuer: EmvHost,
    declined_cards: HashSet<(String, u8)>,
}

impl SimAcquirer {
    /// An acquirer whose issuers are `issuer`.
    pub fn new(issuer: EmvHost) -> Self {
        SimAcquirer {
            issuer,
            declined_cards: HashSet::new(),
        }
    }

    /// From now on the card (PAN digits, PSN) is declined for lack of funds.
    pub fn decline_card(&mut self, pan: &str, psn: u8) {
        self.declined_cards.insert((pan.to_owned(), psn));
    }

    /// Authorises one record from the record alone.
    pub fn authorise(&self, record: &DeferredAuthorisation) -> AcquirerDecision {
        let psn = record.psn.unwrap_or(0);
        let Ok(field_55) = hex::decode(&record.field_55) else {
            return AcquirerDecision::Declined(DeclineCause::Unprocessable);
        };
        match self.issuer.verify_arqc(&record.pan, psn, &field_55) {
            Ok(true) if self.declined_cards.contains(&(record.pan.clone(), psn)) => {
                AcquirerDecision::Declined(DeclineCause::InsufficientFunds)
            }
            Ok(true) => AcquirerDecision::Approved,
            Ok(false) => AcquirerDecision::Declined(DeclineCause::BadCryptogram),
            // Unknown card, missing or malformed data objects, an unknown cryptogram version.
            Err(_) => AcquirerDecision::Declined(DeclineCause::Unprocessable),
        }
    }
}
