//! Terminal action analysis (EMV Book 3 §10.7; pboc-notes §5.4) and card action analysis
//! (§10.8): TVR × terminal/issuer action codes → the cryptogram to ask for, and the card's
//! cryptogram information data → what happens next.

use crate::apdu::RequestedCryptogram;
use crate::bits::{Cid, CryptogramType, Tvr};
use crate::card_data::CardData;
use crate::config::AidParameters;
use crate::tag::Tag;
use crate::tags;

/// One set of action codes (denial, online, default), as TVR masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionCodes {
    /// Denial: a common bit declines offline.
    pub denial: Tvr,
    /// Online: a common bit sends the transaction online.
    pub online: Tvr,
    /// Default: a common bit declines when the terminal cannot go online.
    pub default: Tvr,
}

impl ActionCodes {
    /// The terminal action codes of the AID.
    pub fn terminal(parameters: &AidParameters) -> ActionCodes {
        ActionCodes {
            denial: Tvr::from_bytes(parameters.tac_denial),
            online: Tvr::from_bytes(parameters.tac_online),
            default: Tvr::from_bytes(parameters.tac_default),
        }
    }

    /// The issuer action codes `9F0E` / `9F0F` / `9F0D`. Absent (or not 5 bytes): denial all
    /// zeros, online and default all ones (Book 3 §10.7 as recalled, pboc-notes §5.4 ⚠).
    pub fn issuer(card: &CardData) -> ActionCodes {
        let code = |tag: Tag, absent: [u8; 5]| {
            Tvr::from_bytes(
                card.get(tag)
                    .and_then(|v| <[u8; 5]>::try_from(v).ok())
                    .unwrap_or(absent),
            )
        };
        ActionCodes {
            denial: code(tags::IAC_DENIAL, [0x00; 5]),
            online: code(tags::IAC_ONLINE, [0xFF; 5]),
            default: code(tags::IAC_DEFAULT, [0xFF; 5]),
        }
    }
}

/// Terminal action analysis before the first GENERATE AC (§10.7):
///
/// 1. TVR ∧ (TAC-denial ∨ IAC-denial) ≠ 0 → AAC;
/// 2. online-capable: TVR ∧ (TAC-online ∨ IAC-online) ≠ 0 → ARQC, else TC;
/// 3. offline-only: TVR ∧ (TAC-default ∨ IAC-default) ≠ 0 → AAC, else TC.
pub fn terminal_action_analysis(
    tvr: &Tvr,
    terminal: &ActionCodes,
    issuer: &ActionCodes,
    online_capable: bool,
) -> RequestedCryptogram {
    if tvr.intersects(&(terminal.denial | issuer.denial)) {
        return RequestedCryptogram::Aac;
    }
    if online_capable {
        if tvr.intersects(&(terminal.online | issuer.online)) {
            RequestedCryptogram::Arqc
        } else {
            RequestedCryptogram::Tc
        }
    } else {
        default_action(tvr, terminal, issuer)
    }
}

/// The default action codes, when the terminal cannot go online (§10.7, and after a failed
/// online attempt, §10.9): TVR ∧ (TAC-default ∨ IAC-default) ≠ 0 → AAC, else TC.
pub fn default_action(
    tvr: &Tvr,
    terminal: &ActionCodes,
    issuer: &ActionCodes,
) -> RequestedCryptogram {
    if tvr.intersects(&(terminal.default | issuer.default)) {
        RequestedCryptogram::Aac
    } else {
        RequestedCryptogram::Tc
    }
}

/// Whether the denial codes decline with this TVR (used again after online processing,
/// once issuer authentication and scripts may have set bits; ⚠ a conservative re-check of
/// ours, Book 3 does not ask for it).
pub fn denied(tvr: &Tvr, terminal: &ActionCodes, issuer: &ActionCodes) -> bool {
    tvr.intersects(&(terminal.denial | issuer.denial))
}

/// What the card's answer to GENERATE AC means (§10.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardDecision {
    /// TC: approve offline (subject to ODA).
    Approve,
    /// ARQC: go online.
    Online,
    /// AAC: decline.
    Decline,
}

/// The card answered a cryptogram the request does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("card returned {returned:?} to a request for {requested:?}")]
pub struct CardActionError {
    /// What the terminal asked for.
    pub requested: CryptogramType,
    /// What the card returned.
    pub returned: CryptogramType,
}

fn rank(cryptogram: CryptogramType) -> u8 {
    match cryptogram {
        CryptogramType::Aac => 0,
        CryptogramType::Arqc => 1,
        CryptogramType::Tc => 2,
        CryptogramType::Rfu => 3,
    }
}

/// Card action analysis: the card may answer a cryptogram of the requested type or a lower
/// one (TC > ARQC > AAC, Book 3 §6.5.5.4); a higher one, or the RFU type, is an error that
/// terminates the transaction.
pub fn card_action_analysis(
    requested: RequestedCryptogram,
    cid: Cid,
) -> Result<CardDecision, CardActionError> {
    let requested = CryptogramType::from(requested);
    let returned = cid.cryptogram_type();
    if returned == CryptogramType::Rfu || rank(returned) > rank(requested) {
        return Err(CardActionError {
            requested,
            returned,
        });
    }
    Ok(match returned {
        CryptogramType::Tc => CardDecision::Approve,
        CryptogramType::Arqc => CardDecision::Online,
        _ => CardDecision::Decline,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn codes(denial: [u8; 5], online: [u8; 5], default: [u8; 5]) -> ActionCodes {
        ActionCodes {
            denial: Tvr::from_bytes(denial),
            online: Tvr::from_bytes(online),
            default: Tvr::from_bytes(default),
        }
    }

    const ZERO: [u8; 5] = [0; 5];

    #[test]
    fn taa_matrix() {
        let mut floor = Tvr::new();
        floor.set(Tvr::FLOOR_LIMIT_EXCEEDED);
        let clean = Tvr::new();
        let floor_bit = [0, 0, 0, 0x80, 0];
        let none = codes(ZERO, ZERO, ZERO);
        // (tvr, terminal, issuer, online capable) → expected
        let cases = [
            // Clean TVR: TC whatever the codes.
            (clean, none, none, true, RequestedCryptogram::Tc),
            (clean, none, none, false, RequestedCryptogram::Tc),
            // Denial from the terminal or the issuer.
            (
                floor,
                codes(floor_bit, ZERO, ZERO),
                none,
                true,
                RequestedCryptogram::Aac,
            ),
            (
                floor,
                none,
                codes(floor_bit, ZERO, ZERO),
                false,
                RequestedCryptogram::Aac,
            ),
            // Online codes on an online-capable terminal.
            (
                floor,
                codes(ZERO, floor_bit, ZERO),
                none,
                true,
                RequestedCryptogram::Arqc,
            ),
            (
                floor,
                none,
                codes(ZERO, floor_bit, ZERO),
                true,
                RequestedCryptogram::Arqc,
            ),
            // Online codes do not matter offline; default codes do.
            (
                floor,
                codes(ZERO, floor_bit, ZERO),
                none,
                false,
                RequestedCryptogram::Tc,
            ),
            (
                floor,
                codes(ZERO, ZERO, floor_bit),
                none,
                false,
                RequestedCryptogram::Aac,
            ),
            (
                floor,
                none,
                codes(ZERO, ZERO, floor_bit),
                false,
                RequestedCryptogram::Aac,
            ),
            // Default codes do not matter online.
            (
                floor,
                codes(ZERO, ZERO, floor_bit),
                none,
                true,
                RequestedCryptogram::Tc,
            ),
            // Denial wins over online.
            (
                floor,
                codes(floor_bit, floor_bit, ZERO),
                none,
                true,
                RequestedCryptogram::Aac,
            ),
        ];
        for (i, (tvr, t, iac, online, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                terminal_action_analysis(&tvr, &t, &iac, online),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn absent_iacs_default_to_online_and_decline() {
        let card = CardData::new();
        let iac = ActionCodes::issuer(&card);
        assert!(iac.denial.is_empty());
        assert_eq!(iac.online.as_bytes(), &[0xFF; 5]);
        let none = codes(ZERO, ZERO, ZERO);
        let mut tvr = Tvr::new();
        tvr.set(Tvr::NEW_CARD);
        assert_eq!(
            terminal_action_analysis(&tvr, &none, &iac, true),
            RequestedCryptogram::Arqc
        );
        assert_eq!(
            terminal_action_analysis(&tvr, &none, &iac, false),
            RequestedCryptogram::Aac
        );
        assert_eq!(
            terminal_action_analysis(&Tvr::new(), &none, &iac, false),
            RequestedCryptogram::Tc
        );
        // A malformed IAC counts as absent.
        let mut card = CardData::new();
        card.insert(tags::IAC_DENIAL, &[0xFF; 4]);
        assert!(ActionCodes::issuer(&card).denial.is_empty());
        assert!(denied(&tvr, &codes([0, 0x08, 0, 0, 0], ZERO, ZERO), &iac));
    }

    #[test]
    fn card_may_only_answer_lower() {
        use CardDecision::*;
        let tc = Cid::from_byte(0x40);
        let arqc = Cid::from_byte(0x80);
        let aac = Cid::from_byte(0x00);
        assert_eq!(
            card_action_analysis(RequestedCryptogram::Tc, tc),
            Ok(Approve)
        );
        assert_eq!(
            card_action_analysis(RequestedCryptogram::Tc, arqc),
            Ok(Online)
        );
        assert_eq!(
            card_action_analysis(RequestedCryptogram::Tc, aac),
            Ok(Decline)
        );
        assert_eq!(
            card_action_analysis(RequestedCryptogram::Arqc, aac),
            Ok(Decline)
        );
        assert!(card_action_analysis(RequestedCryptogram::Arqc, tc).is_err());
        assert!(card_action_analysis(RequestedCryptogram::Aac, arqc).is_err());
        assert!(card_action_analysis(RequestedCryptogram::Tc, Cid::from_byte(0xC0)).is_err());
    }
}
