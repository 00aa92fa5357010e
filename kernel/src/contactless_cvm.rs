//! Cardholder verification on a contactless tap (qPBOC / qVSDC; pboc-notes §2.14 ⚠, recalled,
//! not checked against a public copy of the specification): what the
//! card asks in its CTQ `9F6C`, what the reader offers in its TTQ `9F66`, and whether the
//! transaction goes online, decide the CVM — or that none the terminal can perform fits, and
//! the tap goes to the contact interface or is declined. Cash and cashback transactions are
//! sent to the contact interface when the CTQ asks.

use serde::Serialize;

use crate::bits::{Ctq, Ttq};

/// The cardholder verification a contactless tap needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactlessCvm {
    /// Online PIN: the terminal asks for the PIN and sends it enciphered with the request.
    OnlinePin,
    /// A signature on the receipt.
    Signature,
    /// The cardholder was verified on the consumer device (phone, watch).
    Cdcvm,
    /// No verification.
    NoCvm,
}

impl ContactlessCvm {
    /// `online_pin`, `signature`, `cdcvm`, `no_cvm`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactlessCvm::OnlinePin => "online_pin",
            ContactlessCvm::Signature => "signature",
            ContactlessCvm::Cdcvm => "cdcvm",
            ContactlessCvm::NoCvm => "no_cvm",
        }
    }
}

/// Why no CVM the terminal can perform fits the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvmRefusal {
    /// The card requires online PIN, and the terminal cannot take one (no PIN pad, or the
    /// tap is not going online).
    OnlinePinUnavailable,
    /// The card requires a signature the terminal cannot take.
    SignatureUnavailable,
    /// The amount needs a CVM (TTQ "CVM required") and the terminal supports none that applies.
    NoSupportedCvm,
    /// A cash transaction, and the CTQ asks for the contact interface.
    CashOnContact,
    /// A cashback transaction, and the CTQ asks for the contact interface.
    CashbackOnContact,
}

impl core::fmt::Display for CvmRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CvmRefusal::OnlinePinUnavailable => "the card requires online PIN, not available here",
            CvmRefusal::SignatureUnavailable => "the card requires a signature, not available here",
            CvmRefusal::NoSupportedCvm => {
                "a CVM is required and none the terminal supports applies"
            }
            CvmRefusal::CashOnContact => "the card takes cash transactions on contact only",
            CvmRefusal::CashbackOnContact => "the card takes cashback transactions on contact only",
        })
    }
}

/// Transaction type `9C` for cash (ISO 8583 processing code).
pub const TRANSACTION_TYPE_CASH: u8 = 0x01;
/// Transaction type `9C` for purchase with cashback.
pub const TRANSACTION_TYPE_CASHBACK: u8 = 0x09;

/// The CVM of a tap: `ctq` as the card gave it (`None` when absent), `ttq` as sent, `online`
/// when the tap goes online (an ARQC), `transaction_type` the `9C` sent.
///
/// In this order (pboc-notes §2.14 ⚠): cash / cashback on contact when the CTQ asks; online PIN
/// when the card requires it (and the tap goes online with a reader that takes PINs); CDCVM
/// when the device did it; a signature when the card requires one; otherwise, when the reader
/// requires a CVM for this amount, a signature if it takes them, else online PIN on an online
/// tap; otherwise none.
pub fn select(
    ctq: Option<Ctq>,
    ttq: Ttq,
    online: bool,
    transaction_type: u8,
) -> Result<ContactlessCvm, CvmRefusal> {
    let ctq = ctq.unwrap_or_default();
    match transaction_type {
        TRANSACTION_TYPE_CASH if ctq.contains(Ctq::SWITCH_INTERFACE_FOR_CASH) => {
            return Err(CvmRefusal::CashOnContact)
        }
        TRANSACTION_TYPE_CASHBACK if ctq.contains(Ctq::SWITCH_INTERFACE_FOR_CASHBACK) => {
            return Err(CvmRefusal::CashbackOnContact)
        }
        _ => {}
    }
    let online_pin = online && ttq.contains(Ttq::ONLINE_PIN_SUPPORTED);
    let signature = ttq.contains(Ttq::SIGNATURE_SUPPORTED);
    if ctq.contains(Ctq::ONLINE_PIN_REQUIRED) {
        return if online_pin {
            Ok(ContactlessCvm::OnlinePin)
        } else if ctq.contains(Ctq::CONSUMER_DEVICE_CVM_PERFORMED) {
            // A device that verified its holder satisfies the card's PIN requirement.
            Ok(ContactlessCvm::Cdcvm)
        } else {
            Err(CvmRefusal::OnlinePinUnavailable)
        };
    }
    if ctq.contains(Ctq::CONSUMER_DEVICE_CVM_PERFORMED) {
        return Ok(ContactlessCvm::Cdcvm);
    }
    if ctq.contains(Ctq::SIGNATURE_REQUIRED) {
        return if signature {
            Ok(ContactlessCvm::Signature)
        } else {
            Err(CvmRefusal::SignatureUnavailable)
        };
    }
    if ttq.contains(Ttq::CVM_REQUIRED) {
        return if signature {
            Ok(ContactlessCvm::Signature)
        } else if online_pin {
            Ok(ContactlessCvm::OnlinePin)
        } else {
            Err(CvmRefusal::NoSupportedCvm)
        };
    }
    Ok(ContactlessCvm::NoCvm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttq(hex: &str) -> Ttq {
        hex.parse().expect("ttq")
    }

    fn ctq(hex: &str) -> Option<Ctq> {
        Some(hex.parse().expect("ctq"))
    }

    #[test]
    fn the_card_asks_and_the_reader_offers() {
        // 36 00: online PIN and signature supported; 36 40: CVM required too.
        let reader = ttq("36000080");
        let required = ttq("36400080");
        assert_eq!(
            select(ctq("8000"), reader, true, 0),
            Ok(ContactlessCvm::OnlinePin)
        );
        assert_eq!(
            select(ctq("8000"), reader, false, 0),
            Err(CvmRefusal::OnlinePinUnavailable),
            "offline: no online PIN"
        );
        assert_eq!(
            select(ctq("8000"), ttq("32000080"), true, 0),
            Err(CvmRefusal::OnlinePinUnavailable),
            "no PIN pad"
        );
        assert_eq!(
            select(ctq("8080"), ttq("32000080"), true, 0),
            Ok(ContactlessCvm::Cdcvm)
        );
        assert_eq!(
            select(ctq("0080"), reader, true, 0),
            Ok(ContactlessCvm::Cdcvm)
        );
        assert_eq!(
            select(ctq("4000"), reader, false, 0),
            Ok(ContactlessCvm::Signature)
        );
        assert_eq!(
            select(ctq("4000"), ttq("34000080"), true, 0),
            Err(CvmRefusal::SignatureUnavailable)
        );
        assert_eq!(
            select(ctq("0000"), reader, true, 0),
            Ok(ContactlessCvm::NoCvm)
        );
        assert_eq!(select(None, reader, true, 0), Ok(ContactlessCvm::NoCvm));
        // The reader requires a CVM for this amount and the card asks nothing.
        assert_eq!(
            select(ctq("0000"), required, true, 0),
            Ok(ContactlessCvm::Signature)
        );
        assert_eq!(
            select(None, ttq("34400080"), true, 0),
            Ok(ContactlessCvm::OnlinePin)
        );
        assert_eq!(
            select(None, ttq("30400080"), true, 0),
            Err(CvmRefusal::NoSupportedCvm)
        );
    }

    #[test]
    fn cash_and_cashback_go_to_contact_when_the_card_says() {
        let reader = ttq("36000080");
        assert_eq!(
            select(ctq("0400"), reader, true, TRANSACTION_TYPE_CASH),
            Err(CvmRefusal::CashOnContact)
        );
        assert_eq!(
            select(ctq("0200"), reader, true, TRANSACTION_TYPE_CASHBACK),
            Err(CvmRefusal::CashbackOnContact)
        );
        // The bits only matter for their own transaction type.
        assert_eq!(
            select(ctq("0600"), reader, true, 0),
            Ok(ContactlessCvm::NoCvm)
        );
    }
}
