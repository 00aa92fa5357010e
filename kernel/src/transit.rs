//! Transit acceptance of bank cards in UnionPay's online-ODA mode (联机ODA, "Deferred Online
//! ODA"; pboc-notes §2.13 ⚠ — every fact here rests on the sources cited there, and each one
//! lives in one constant or function of this module so it is easy to correct).
//!
//! The gate authenticates the card offline (fDDA on the GPO's ARQC answer, or SDA/DDA/CDA on
//! the contactless full-PBOC path for a legacy card) and lets the rider through at once; the
//! ARQC goes to the acquirer later, in a batch ([`DeferredAuthorisation`]); a card whose deferred
//! authorisation fails goes on the deny list.
//!
//! ```text
//! SELECT: FCI DF61 byte 1 b7?  ── yes ─▶ online-ODA card: TTQ 21 80 00 80 (+ online PIN / signature)
//!                              └─ no ──▶ legacy card:     TTQ 61 00 00 80 (contactless full PBOC)
//! complete: ODA ok ─▶ ARQC ─▶ ATC > 0 ─▶ not on the deny list ─▶ not expired ─▶ AcceptedForTravel
//!           (any step failing: Declined, the step in the reason, the TVR bit where one exists)
//! ```
//!
//! Transit mode is per AID ([`AidParameters::transit_online_oda`], off by default): a normal
//! reader still treats an ARQC as an online request. In transit mode a zero amount is allowed
//! whatever the reader's online capability (the fare is computed at the back office).

use alloc::{borrow::ToOwned, format, string::String};
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::bits::{CryptogramType, Ttq, Tvr};
use crate::config::{AidParameters, TerminalData};
use crate::oda::OdaReport;
use crate::tags;
use crate::tlv;

/// `DF61` byte 1 b7: the card supports online ODA (pboc-notes §2.13 ⚠, one public source).
pub const ONLINE_ODA_CARD_BIT: u8 = 0x40;

/// The TTQ for an online-ODA card, before the terminal's CVM bits: qPBOC (byte 1 b6), ODA for
/// online authorisations (byte 1 b1), online cryptogram required (byte 2 b8), fDDA 01 (byte 4
/// b8) — `21 80 00 80` (pboc-notes §2.13 ⚠).
pub const ONLINE_ODA_TTQ: [u8; 4] = [0x21, 0x80, 0x00, 0x80];

/// The TTQ for a legacy card: contactless full PBOC (byte 1 b7), qPBOC (b6), ODA for online
/// authorisations (b1), fDDA 01 — `61 00 00 80` (pboc-notes §2.13 ⚠). The card then runs the
/// full PBOC flow: records, SDA/DDA, GENERATE AC asking for an ARQC.
pub const LEGACY_TTQ: [u8; 4] = [0x61, 0x00, 0x00, 0x80];

/// What the card's FCI says about online ODA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitCard {
    /// `DF61` present with byte 1 b7 set.
    OnlineOda,
    /// No `DF61`, or the bit clear: the contactless full-PBOC path.
    Legacy,
}

impl TransitCard {
    /// From the FCI returned by SELECT: `DF61` anywhere in it (the cards put it in `BF0C`).
    /// An FCI that does not parse is a legacy card (the card phase refuses a malformed FCI
    /// before this matters).
    pub fn from_fci(fci: &[u8]) -> TransitCard {
        let df61 = tlv::parse_single(fci)
            .ok()
            .and_then(|fci| fci.find(tags::SEGMENTED_FEE_APPLICATION_ID).ok().flatten())
            .map(|object| object.value().first().copied());
        match df61 {
            Some(Some(byte)) if byte & ONLINE_ODA_CARD_BIT != 0 => TransitCard::OnlineOda,
            _ => TransitCard::Legacy,
        }
    }

    /// The TTQ for this card: [`ONLINE_ODA_TTQ`] plus the online PIN and signature bits the
    /// terminal's own TTQ carries, or [`LEGACY_TTQ`].
    pub fn ttq(self, terminal: &TerminalData) -> Ttq {
        match self {
            TransitCard::OnlineOda => {
                let mut ttq = Ttq::from_bytes(ONLINE_ODA_TTQ);
                let own = terminal.effective_ttq();
                for bit in [Ttq::ONLINE_PIN_SUPPORTED, Ttq::SIGNATURE_SUPPORTED] {
                    ttq.assign(bit, own.contains(bit));
                }
                ttq
            }
            TransitCard::Legacy => Ttq::from_bytes(LEGACY_TTQ),
        }
    }

    /// `online_oda` / `legacy`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitCard::OnlineOda => "online_oda",
            TransitCard::Legacy => "legacy",
        }
    }
}

/// Whether transit mode is on for this AID.
pub fn enabled(parameters: &AidParameters) -> bool {
    parameters.transit_online_oda
}

/// A step of the guide's acceptance, in its order (the guide numbers them 4–8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceStep {
    /// Offline data authentication must succeed: otherwise the card is taken as counterfeit.
    Oda,
    /// The card must have returned an ARQC.
    Arqc,
    /// The application transaction counter must be above zero.
    Atc,
    /// The card (PAN + PAN sequence number) must not be on the deny list.
    DenyList,
    /// Operator checks: the application must not have expired (and its expiry be known).
    Expiry,
}

impl AcceptanceStep {
    /// The step's number in our order (1–5).
    pub fn number(self) -> u8 {
        match self {
            AcceptanceStep::Oda => 1,
            AcceptanceStep::Arqc => 2,
            AcceptanceStep::Atc => 3,
            AcceptanceStep::DenyList => 4,
            AcceptanceStep::Expiry => 5,
        }
    }

    /// `oda`, `arqc`, `atc`, `deny_list`, `expiry`.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptanceStep::Oda => "oda",
            AcceptanceStep::Arqc => "arqc",
            AcceptanceStep::Atc => "atc",
            AcceptanceStep::DenyList => "deny_list",
            AcceptanceStep::Expiry => "expiry",
        }
    }
}

/// Why a transit tap was refused: the first step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The step.
    pub step: AcceptanceStep,
    /// What was found (no card data).
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transit step {} ({}): {}",
            self.step.number(),
            self.step.as_str(),
            self.detail
        )
    }
}

/// The card's expiry as the acceptance sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `5F24` is on or after the transaction date.
    Valid,
    /// `5F24` is before the transaction date, or not a date.
    Expired,
    /// The card gave no `5F24`.
    Missing,
}

/// What the acceptance looks at, gathered by the flow that ran the card.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// What ODA did (fDDA, or SDA/DDA/CDA on the full path).
    pub oda: &'a OdaReport,
    /// The cryptogram the card returned.
    pub cryptogram: Option<CryptogramType>,
    /// The ATC `9F36`, when the card gave one.
    pub atc: Option<u16>,
    /// The card is on the deny list.
    pub denied: bool,
    /// The application's expiry.
    pub expiry: Expiry,
}

/// Runs the guide's steps in order; the first that fails refuses the tap and sets the TVR bit
/// that says why, where EMV has one (ODA bits are set by ODA itself).
pub fn check(facts: &Facts<'_>, tvr: &mut Tvr) -> Result<(), Refusal> {
    let refuse = |step, detail: String| Err(Refusal { step, detail });
    if facts.oda.verified.is_none() {
        let detail = match &facts.oda.failure {
            Some(failure) => format!("offline data authentication failed: {failure}"),
            None => {
                tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
                "no offline data authentication (counterfeit not excluded)".to_owned()
            }
        };
        return refuse(AcceptanceStep::Oda, detail);
    }
    match facts.cryptogram {
        Some(CryptogramType::Arqc) => {}
        Some(other) => {
            return refuse(
                AcceptanceStep::Arqc,
                format!("the card returned {other:?}, not an ARQC"),
            )
        }
        None => return refuse(AcceptanceStep::Arqc, "no cryptogram".to_owned()),
    }
    match facts.atc {
        Some(atc) if atc > 0 => {}
        Some(_) => return refuse(AcceptanceStep::Atc, "ATC is 0".to_owned()),
        None => {
            tvr.set(Tvr::ICC_DATA_MISSING);
            return refuse(AcceptanceStep::Atc, "no ATC".to_owned());
        }
    }
    if facts.denied {
        tvr.set(Tvr::CARD_ON_EXCEPTION_FILE);
        return refuse(AcceptanceStep::DenyList, "card on the deny list".to_owned());
    }
    match facts.expiry {
        Expiry::Valid => Ok(()),
        Expiry::Expired => {
            tvr.set(Tvr::EXPIRED_APPLICATION);
            refuse(AcceptanceStep::Expiry, "application expired".to_owned())
        }
        Expiry::Missing => {
            tvr.set(Tvr::ICC_DATA_MISSING);
            refuse(AcceptanceStep::Expiry, "no expiry date (5F24)".to_owned())
        }
    }
}

/// What the acquirer needs to authorise a tap accepted for travel, later, in a batch (issue 11
/// item 3): the ARQC with the terminal values it covers (field 55), the card (PAN, PAN sequence
/// number, expiry), what ODA proved, and the terminal.
///
/// It holds the PAN in clear, for the acquirer: keep it only in the terminal's store (terminal-
/// private) and the batch sent to the acquirer. `Debug` masks it; nothing else prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredAuthorisation {
    /// PAN digits (clear; see the type's docs).
    pub pan: String,
    /// PAN sequence number `5F34` (BCD byte), when the card has one.
    pub psn: Option<u8>,
    /// Application expiration date `5F24` (YYMMDD, hex), when read.
    pub expiry: Option<String>,
    /// The application (hex).
    pub aid: String,
    /// Online-ODA card or legacy card.
    pub card: TransitCard,
    /// The ODA method that authenticated the card (`fdda`, `dda`, `cda`, `sda`).
    pub oda: String,
    /// Amount authorised, minor units (0 for an entry tap whose fare the back office computes).
    pub amount: u64,
    /// Transaction date YYMMDD and time hhmmss (hex BCD), as sent to the card.
    pub date: String,
    /// Transaction time hhmmss (hex BCD).
    pub time: String,
    /// Application transaction counter.
    pub atc: u16,
    /// The ARQC `9F26` (hex).
    pub arqc: String,
    /// Field 55 (hex): the objects of the field-55 tag list present on this tap.
    pub field_55: String,
    /// TVR at acceptance (hex).
    pub tvr: String,
    /// Terminal identification `9F1C`.
    pub terminal_id: String,
    /// Merchant identifier `9F16`.
    pub merchant_id: String,
}

impl DeferredAuthorisation {
    /// The PAN masked as receipts show it (first 6, last 4).
    pub fn masked_pan(&self) -> String {
        crate::values::Pan::from_digits(&self.pan)
            .map(|pan| pan.masked())
            .unwrap_or_else(|_| "(invalid PAN)".to_owned())
    }
}

impl fmt::Debug for DeferredAuthorisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredAuthorisation")
            .field("pan", &self.masked_pan())
            .field("psn", &self.psn.map(|_| "**"))
            .field("aid", &self.aid)
            .field("card", &self.card)
            .field("oda", &self.oda)
            .field("amount", &self.amount)
            .field("date", &self.date)
            .field("time", &self.time)
            .field("atc", &self.atc)
            .field("tvr", &self.tvr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oda::{OdaFailure, OdaMethod};

    fn fci(discretionary: &[u8]) -> Vec<u8> {
        let bf0c = tlv::encoded(tags::FCI_ISSUER_DISCRETIONARY_DATA, discretionary);
        let a5 = tlv::encoded(tags::FCI_PROPRIETARY_TEMPLATE, &bf0c);
        let mut body = tlv::encoded(tags::DF_NAME, &[0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, 0x01]);
        body.extend_from_slice(&a5);
        tlv::encoded(tags::FCI_TEMPLATE, &body)
    }

    #[test]
    fn df61_b7_marks_an_online_oda_card() {
        assert_eq!(
            TransitCard::from_fci(&fci(&[0xDF, 0x61, 0x01, 0x40])),
            TransitCard::OnlineOda
        );
        assert_eq!(
            TransitCard::from_fci(&fci(&[0xDF, 0x61, 0x01, 0xFF])),
            TransitCard::OnlineOda
        );
        // The bit clear, an empty DF61, no DF61, a broken FCI: legacy.
        for legacy in [
            fci(&[0xDF, 0x61, 0x01, 0xBF]),
            fci(&[0xDF, 0x61, 0x00]),
            fci(&[0x9F, 0x4D, 0x02, 0x0B, 0x0A]),
            vec![0x6F, 0x05, 0x84],
        ] {
            assert_eq!(TransitCard::from_fci(&legacy), TransitCard::Legacy);
        }
    }

    fn verified() -> OdaReport {
        let mut report = OdaReport::not_performed();
        report.method = Some(OdaMethod::Fdda);
        report.verified = Some(crate::oda::OdaVerified::for_tests());
        report
    }

    fn facts(oda: &OdaReport) -> Facts<'_> {
        Facts {
            oda,
            cryptogram: Some(CryptogramType::Arqc),
            atc: Some(7),
            denied: false,
            expiry: Expiry::Valid,
        }
    }

    fn step(facts: &Facts<'_>) -> (Option<AcceptanceStep>, Tvr) {
        let mut tvr = Tvr::new();
        (check(facts, &mut tvr).err().map(|r| r.step), tvr)
    }

    #[test]
    fn every_step_refuses_in_the_guides_order() {
        let good = verified();
        assert_eq!(step(&facts(&good)).0, None);

        let mut failed = OdaReport::not_performed();
        failed.method = Some(OdaMethod::Fdda);
        failed.failure = Some(OdaFailure::Revoked);
        // A failed ODA wins over every later failure.
        let all_bad = Facts {
            oda: &failed,
            cryptogram: Some(CryptogramType::Tc),
            atc: Some(0),
            denied: true,
            expiry: Expiry::Expired,
        };
        assert_eq!(step(&all_bad).0, Some(AcceptanceStep::Oda));
        let none = OdaReport::not_performed();
        let (first, tvr) = step(&facts(&none));
        assert_eq!(first, Some(AcceptanceStep::Oda));
        assert!(tvr.contains(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED));

        let tc = Facts {
            cryptogram: Some(CryptogramType::Tc),
            atc: Some(0),
            ..facts(&good)
        };
        assert_eq!(step(&tc).0, Some(AcceptanceStep::Arqc));
        let zero = Facts {
            atc: Some(0),
            denied: true,
            ..facts(&good)
        };
        assert_eq!(step(&zero).0, Some(AcceptanceStep::Atc));
        let denied = Facts {
            denied: true,
            expiry: Expiry::Expired,
            ..facts(&good)
        };
        let (first, tvr) = step(&denied);
        assert_eq!(first, Some(AcceptanceStep::DenyList));
        assert!(tvr.contains(Tvr::CARD_ON_EXCEPTION_FILE));
        let expired = Facts {
            expiry: Expiry::Expired,
            ..facts(&good)
        };
        let (first, tvr) = step(&expired);
        assert_eq!(first, Some(AcceptanceStep::Expiry));
        assert!(tvr.contains(Tvr::EXPIRED_APPLICATION));
        let missing = Facts {
            expiry: Expiry::Missing,
            ..facts(&good)
        };
        let (first, tvr) = step(&missing);
        assert_eq!(first, Some(AcceptanceStep::Expiry));
        assert!(tvr.contains(Tvr::ICC_DATA_MISSING));
    }

    #[test]
    fn refusals_name_their_step() {
        let refusal = Refusal {
            step: AcceptanceStep::Atc,
            detail: "ATC is 0".into(),
        };
        assert_eq!(refusal.to_string(), "transit step 3 (atc): ATC is 0");
    }
}
