//! C-3 cardholder verification (pboc-notes §8.5 ⚠): what the card's CTQ (`9F6C`) asks and
//! the reader's TTQ offers decide the CVM, in the order the qPBOC kernel also uses
//! ([`crate::contactless::ContactlessCvm`]); Visa adds that a consumer device's CVM is trusted
//! only when the CTQ the card *signed* (fDDA version 01: `9F69` bytes 6–7) says so as well, so
//! that a CTQ altered in flight cannot turn a PIN requirement into "verified on the phone".

use crate::bits::{Ctq, Ttq};
use crate::card_phase::CardPhase;
use crate::contactless_cvm::{self, ContactlessCvm, CvmRefusal};
use crate::oda::OdaReport;
use crate::tags;

/// Why C-3 refuses the tap's CVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum C3CvmRefusal {
    /// The CVM rules of the CTQ and TTQ leave none the reader can perform.
    Rules(CvmRefusal),
    /// The CTQ claims CDCVM, but the signed copy of the CTQ does not (or is not verified).
    CdcvmNotConfirmed,
}

impl core::fmt::Display for C3CvmRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            C3CvmRefusal::Rules(refusal) => refusal.fmt(f),
            C3CvmRefusal::CdcvmNotConfirmed => f.write_str(
                "the card claims a consumer device CVM its signed CTQ (9F69) does not confirm",
            ),
        }
    }
}

/// The CVM of a C-3 approval (`online` false) or online request.
pub(crate) fn select(
    phase: &CardPhase,
    oda: &OdaReport,
    online: bool,
) -> Result<ContactlessCvm, C3CvmRefusal> {
    let ctq = phase
        .card
        .get(tags::CTQ)
        .and_then(|c| Ctq::from_slice(c).ok());
    let ttq = phase
        .values
        .get(tags::TTQ)
        .and_then(|t| Ttq::from_slice(t).ok())
        .unwrap_or_default();
    let cvm = contactless_cvm::select(ctq, ttq, online, phase.input.transaction_type)
        .map_err(C3CvmRefusal::Rules)?;
    if cvm == ContactlessCvm::Cdcvm && !online && !signed_ctq_confirms_cdcvm(phase, oda) {
        // Offline, nothing but the signature vouches for the CTQ; online, the issuer sees the
        // CTQ in the authorisation and decides.
        return Err(C3CvmRefusal::CdcvmNotConfirmed);
    }
    Ok(cvm)
}

/// fDDA verified, version 01, and its signed CTQ copy (`9F69` bytes 6–7) has "consumer device
/// CVM performed" (CTQ byte 2 b8).
fn signed_ctq_confirms_cdcvm(phase: &CardPhase, oda: &OdaReport) -> bool {
    let Some(related) = phase.card.get(tags::CARD_AUTHENTICATION_RELATED_DATA) else {
        return false;
    };
    oda.verified.is_some()
        && related.first() == Some(&0x01)
        && related
            .get(5..7)
            .and_then(|c| Ctq::from_slice(c).ok())
            .is_some_and(|c| c.contains(Ctq::CONSUMER_DEVICE_CVM_PERFORMED))
}
