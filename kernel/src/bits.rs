//! Bitfields with named bits: TVR, TSI, AIP, TTQ, CTQ, and the CID.
//!
//! Every bit is a typed constant carrying its byte, mask and name, so code reads
//! `tvr.set(Tvr::EXPIRED_APPLICATION)` and a TVR bit cannot be set in a TSI by mistake.
//! Bits without a name (RFU, or not yet given one) are kept and round-trip unchanged; `Debug`
//! lists the names of the set bits and shows unnamed ones as `byte N 0xMM`.
//!
//! ```
//! use quickpass_kernel::bits::Tvr;
//! let mut tvr = Tvr::new();
//! tvr.set(Tvr::EXPIRED_APPLICATION);
//! assert!(tvr.contains(Tvr::EXPIRED_APPLICATION));
//! assert_eq!(tvr.as_bytes(), &[0x00, 0x40, 0x00, 0x00, 0x00]);
//! ```

use alloc::{format, string::String};
use core::fmt;
use core::marker::PhantomData;

use crate::tag::Tag;
use crate::values::ValueError;

/// One named bit of the bitfield `F`: byte index (0-based) and mask.
///
/// Constants are written with the spec's 1-based byte numbers and `bN` bit numbers in their
/// doc comments (e.g. "byte 2 b7").
pub struct Bit<F> {
    index: usize,
    mask: u8,
    name: &'static str,
    field: PhantomData<fn() -> F>,
}

impl<F> Bit<F> {
    /// Makes a bit from its 1-based byte number (as the specs write it) and mask.
    const fn new(byte: usize, mask: u8, name: &'static str) -> Self {
        Bit {
            index: byte - 1,
            mask,
            name,
            field: PhantomData,
        }
    }

    /// Byte number as the specifications count it (1-based).
    pub const fn byte(&self) -> usize {
        self.index + 1
    }

    /// The mask within the byte.
    pub const fn mask(&self) -> u8 {
        self.mask
    }

    /// The constant's name, e.g. `"EXPIRED_APPLICATION"`.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<F> Clone for Bit<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Bit<F> {}

impl<F> PartialEq for Bit<F> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.mask == other.mask
    }
}

impl<F> Eq for Bit<F> {}

impl<F> fmt::Debug for Bit<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Defines a bitfield type with named bits.
macro_rules! bitfield {
    (
        $(#[$meta:meta])*
        $name:ident, $len:literal, $tag:literal, $what:literal {
            $( $(#[$bmeta:meta])* $bit:ident = ($byte:literal, $mask:literal); )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length of the field in bytes.
            pub const LEN: usize = $len;
            /// The EMV tag that carries this field.
            pub const TAG: Tag = Tag::new($tag);

            $( $(#[$bmeta])* pub const $bit: Bit<$name> = Bit::new($byte, $mask, stringify!($bit)); )*

            /// Every named bit, in byte and bit order.
            pub const NAMED_BITS: &'static [Bit<$name>] = &[$($name::$bit),*];

            /// All bits clear.
            pub const fn new() -> Self {
                $name([0; $len])
            }

            /// Takes the wire bytes as they are (unnamed bits are kept).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            /// Takes a tag value; it must have exactly the field's length.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
                <[u8; $len]>::try_from(bytes)
                    .map($name)
                    .map_err(|_| ValueError::Length {
                        what: $what,
                        expected: stringify!($len),
                        actual: bytes.len(),
                    })
            }

            /// The wire bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Sets `bit`.
            pub fn set(&mut self, bit: Bit<$name>) {
                self.0[bit.index] |= bit.mask;
            }

            /// Clears `bit`.
            pub fn clear(&mut self, bit: Bit<$name>) {
                self.0[bit.index] &= !bit.mask;
            }

            /// Sets or clears `bit`.
            pub fn assign(&mut self, bit: Bit<$name>, value: bool) {
                if value {
                    self.set(bit)
                } else {
                    self.clear(bit)
                }
            }

            /// A copy with `bit` set, for building constants: `Ttq::new().with(Ttq::QPBOC_SUPPORTED)`.
            pub const fn with(mut self, bit: Bit<$name>) -> Self {
                self.0[bit.index] |= bit.mask;
                self
            }

            /// True when `bit` is set.
            pub const fn contains(&self, bit: Bit<$name>) -> bool {
                self.0[bit.index] & bit.mask != 0
            }

            /// True when no bit at all is set.
            pub fn is_empty(&self) -> bool {
                self.0.iter().all(|b| *b == 0)
            }

            /// True when `self` and `other` have a set bit in common (e.g. TVR ∧ TAC ≠ 0,
            /// EMV Book 3 §10.7).
            pub fn intersects(&self, other: &Self) -> bool {
                self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
            }

            /// The named bits that are set.
            pub fn set_bits(&self) -> impl Iterator<Item = Bit<$name>> + '_ {
                Self::NAMED_BITS.iter().copied().filter(move |b| self.contains(*b))
            }

            /// The set bits that have no name (RFU or not modelled), as bytes.
            pub fn unnamed_bits(&self) -> [u8; $len] {
                let mut rest = self.0;
                for bit in Self::NAMED_BITS {
                    rest[bit.index] &= !bit.mask;
                }
                rest
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(mut self, rhs: $name) -> $name {
                for (a, b) in self.0.iter_mut().zip(rhs.0) {
                    *a |= b;
                }
                self
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(mut self, rhs: $name) -> $name {
                for (a, b) in self.0.iter_mut().zip(rhs.0) {
                    *a &= b;
                }
                self
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({}) [", stringify!($name), hex::encode_upper(self.0))?;
                let mut first = true;
                for bit in self.set_bits() {
                    if !first {
                        f.write_str(", ")?;
                    }
                    first = false;
                    f.write_str(bit.name)?;
                }
                for (i, b) in self.unnamed_bits().iter().enumerate() {
                    if *b != 0 {
                        if !first {
                            f.write_str(", ")?;
                        }
                        first = false;
                        write!(f, "byte {} 0x{:02X}", i + 1, b)?;
                    }
                }
                f.write_str("]")
            }
        }

        impl fmt::Display for $name {
            /// Uppercase hex of the wire bytes.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode_upper(self.0))
            }
        }

        impl core::str::FromStr for $name {
            type Err = ValueError;

            /// Parses the wire bytes written as hex.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; $len];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| ValueError::Hex { what: $what })?;
                Ok($name(bytes))
            }
        }

        crate::values::serde_via_str!($name);
    };
}

bitfield!(
    /// Terminal verification results, tag `95`, 5 bytes (EMV Book 3 Annex C5; pboc-notes §5.1).
    Tvr, 5, 0x95, "TVR" {
        /// Byte 1 b8: offline data authentication was not performed.
        OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED = (1, 0x80);
        /// Byte 1 b7: SDA failed.
        SDA_FAILED = (1, 0x40);
        /// Byte 1 b6: ICC data missing.
        ICC_DATA_MISSING = (1, 0x20);
        /// Byte 1 b5: card appears on terminal exception file.
        CARD_ON_EXCEPTION_FILE = (1, 0x10);
        /// Byte 1 b4: DDA failed (also used for fDDA).
        DDA_FAILED = (1, 0x08);
        /// Byte 1 b3: CDA failed.
        CDA_FAILED = (1, 0x04);
        /// Byte 1 b2: SDA selected.
        SDA_SELECTED = (1, 0x02);
        /// Byte 1 b1: XDA selected.
        XDA_SELECTED = (1, 0x01);
        /// Byte 2 b8: ICC and terminal have different application versions.
        DIFFERENT_APPLICATION_VERSIONS = (2, 0x80);
        /// Byte 2 b7: expired application.
        EXPIRED_APPLICATION = (2, 0x40);
        /// Byte 2 b6: application not yet effective.
        APPLICATION_NOT_YET_EFFECTIVE = (2, 0x20);
        /// Byte 2 b5: requested service not allowed for card product.
        SERVICE_NOT_ALLOWED = (2, 0x10);
        /// Byte 2 b4: new card.
        NEW_CARD = (2, 0x08);
        /// Byte 2 b2: biometric performed and successful.
        BIOMETRIC_SUCCESSFUL = (2, 0x02);
        /// Byte 2 b1: biometric template format not supported.
        BIOMETRIC_TEMPLATE_NOT_SUPPORTED = (2, 0x01);
        /// Byte 3 b8: cardholder verification was not successful.
        CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL = (3, 0x80);
        /// Byte 3 b7: unrecognised CVM.
        UNRECOGNISED_CVM = (3, 0x40);
        /// Byte 3 b6: PIN try limit exceeded.
        PIN_TRY_LIMIT_EXCEEDED = (3, 0x20);
        /// Byte 3 b5: PIN entry required and PIN pad not present or not working.
        PIN_PAD_NOT_PRESENT_OR_NOT_WORKING = (3, 0x10);
        /// Byte 3 b4: PIN entry required, PIN pad present, but PIN was not entered.
        PIN_NOT_ENTERED = (3, 0x08);
        /// Byte 3 b3: online PIN entered.
        ONLINE_PIN_ENTERED = (3, 0x04);
        /// Byte 3 b2: biometric capture failed.
        BIOMETRIC_CAPTURE_FAILED = (3, 0x02);
        /// Byte 3 b1: biometric subtype bypassed.
        BIOMETRIC_SUBTYPE_BYPASSED = (3, 0x01);
        /// Byte 4 b8: transaction exceeds floor limit.
        FLOOR_LIMIT_EXCEEDED = (4, 0x80);
        /// Byte 4 b7: lower consecutive offline limit exceeded.
        LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = (4, 0x40);
        /// Byte 4 b6: upper consecutive offline limit exceeded.
        UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = (4, 0x20);
        /// Byte 4 b5: transaction selected randomly for online processing.
        RANDOMLY_SELECTED_FOR_ONLINE = (4, 0x10);
        /// Byte 4 b4: merchant forced transaction online.
        MERCHANT_FORCED_ONLINE = (4, 0x08);
        /// Byte 4 b3: biometric try limit exceeded.
        BIOMETRIC_TRY_LIMIT_EXCEEDED = (4, 0x04);
        /// Byte 4 b2: a selected biometric type not supported.
        BIOMETRIC_TYPE_NOT_SUPPORTED = (4, 0x02);
        /// Byte 4 b1: XDA signature verification failed.
        XDA_FAILED = (4, 0x01);
        /// Byte 5 b8: default TDOL used.
        DEFAULT_TDOL_USED = (5, 0x80);
        /// Byte 5 b7: issuer authentication failed.
        ISSUER_AUTHENTICATION_FAILED = (5, 0x40);
        /// Byte 5 b6: script processing failed before final GENERATE AC.
        SCRIPT_FAILED_BEFORE_FINAL_GENERATE_AC = (5, 0x20);
        /// Byte 5 b5: script processing failed after final GENERATE AC.
        SCRIPT_FAILED_AFTER_FINAL_GENERATE_AC = (5, 0x10);
        /// Byte 5 b3: CA ECC key missing.
        CA_ECC_KEY_MISSING = (5, 0x04);
        /// Byte 5 b2: ECC key recovery failed.
        ECC_KEY_RECOVERY_FAILED = (5, 0x02);
    }
);

bitfield!(
    /// Transaction status information, tag `9B`, 2 bytes (EMV Book 3 Annex C6; pboc-notes §5.2).
    /// Byte 1 b2–b1 and all of byte 2 are RFU.
    Tsi, 2, 0x9B, "TSI" {
        /// Byte 1 b8: offline data authentication was performed.
        OFFLINE_DATA_AUTHENTICATION_PERFORMED = (1, 0x80);
        /// Byte 1 b7: cardholder verification was performed.
        CARDHOLDER_VERIFICATION_PERFORMED = (1, 0x40);
        /// Byte 1 b6: card risk management was performed.
        CARD_RISK_MANAGEMENT_PERFORMED = (1, 0x20);
        /// Byte 1 b5: issuer authentication was performed.
        ISSUER_AUTHENTICATION_PERFORMED = (1, 0x10);
        /// Byte 1 b4: terminal risk management was performed.
        TERMINAL_RISK_MANAGEMENT_PERFORMED = (1, 0x08);
        /// Byte 1 b3: script processing was performed.
        SCRIPT_PROCESSING_PERFORMED = (1, 0x04);
    }
);

bitfield!(
    /// Application interchange profile, tag `82`, 2 bytes (EMV Book 3 Annex C1; byte 2 b8 per
    /// JR/T 0025.12 as read by pboc-notes §2.5).
    Aip, 2, 0x82, "AIP" {
        /// Byte 1 b7: SDA supported.
        SDA_SUPPORTED = (1, 0x40);
        /// Byte 1 b6: DDA supported.
        DDA_SUPPORTED = (1, 0x20);
        /// Byte 1 b5: cardholder verification is supported.
        CARDHOLDER_VERIFICATION_SUPPORTED = (1, 0x10);
        /// Byte 1 b4: terminal risk management is to be performed.
        TERMINAL_RISK_MANAGEMENT_REQUIRED = (1, 0x08);
        /// Byte 1 b3: issuer authentication is supported.
        ISSUER_AUTHENTICATION_SUPPORTED = (1, 0x04);
        /// Byte 1 b1: CDA supported.
        CDA_SUPPORTED = (1, 0x01);
        /// Byte 2 b8: in a contactless GPO response, the card chose the contactless full
        /// PBOC/EMV path (READ RECORD + GENERATE AC) rather than qPBOC (pboc-notes §2.5, GL).
        CONTACTLESS_FULL_PBOC = (2, 0x80);
    }
);

bitfield!(
    /// Terminal transaction qualifiers, tag `9F66`, 4 bytes, with the PBOC (JR/T 0025.12)
    /// meanings of pboc-notes §2.2. Where PBOC leaves a bit unused, the EMV/Visa meaning is
    /// named and marked so.
    Ttq, 4, 0x9F66, "TTQ" {
        /// Byte 1 b8: mag-stripe mode supported (EMV/Visa meaning; unused in PBOC).
        MAG_STRIPE_MODE_SUPPORTED = (1, 0x80);
        /// Byte 1 b7: contactless full PBOC supported (PBOC meaning; RFU in EMV/Visa).
        CONTACTLESS_FULL_PBOC_SUPPORTED = (1, 0x40);
        /// Byte 1 b6: qPBOC supported (EMV/Visa: EMV mode supported).
        QPBOC_SUPPORTED = (1, 0x20);
        /// Byte 1 b5: contact PBOC (contact chip) supported.
        CONTACT_PBOC_SUPPORTED = (1, 0x10);
        /// Byte 1 b4: offline-only reader.
        OFFLINE_ONLY_READER = (1, 0x08);
        /// Byte 1 b3: online PIN supported.
        ONLINE_PIN_SUPPORTED = (1, 0x04);
        /// Byte 1 b2: signature supported.
        SIGNATURE_SUPPORTED = (1, 0x02);
        /// Byte 1 b1: ODA for online authorisations supported (EMV/Visa meaning; UnionPay's online
        /// ODA for transit turns it on, pboc-notes §2.13).
        ODA_FOR_ONLINE_AUTHORISATIONS_SUPPORTED = (1, 0x01);
        /// Byte 2 b8: online cryptogram required.
        ONLINE_CRYPTOGRAM_REQUIRED = (2, 0x80);
        /// Byte 2 b7: CVM required.
        CVM_REQUIRED = (2, 0x40);
        /// Byte 2 b6: (contact) offline PIN supported.
        OFFLINE_PIN_SUPPORTED = (2, 0x20);
        /// Byte 3 b8: issuer update processing supported (EMV/Visa meaning).
        ISSUER_UPDATE_PROCESSING_SUPPORTED = (3, 0x80);
        /// Byte 4 b8: fDDA version 01 supported.
        FDDA_V01_SUPPORTED = (4, 0x80);
    }
);

bitfield!(
    /// Card transaction qualifiers, tag `9F6C`, 2 bytes (pboc-notes §2.6, EU).
    Ctq, 2, 0x9F6C, "CTQ" {
        /// Byte 1 b8: online PIN required.
        ONLINE_PIN_REQUIRED = (1, 0x80);
        /// Byte 1 b7: signature required.
        SIGNATURE_REQUIRED = (1, 0x40);
        /// Byte 1 b6: go online if offline data authentication fails and the reader is
        /// online-capable.
        GO_ONLINE_IF_ODA_FAILS = (1, 0x20);
        /// Byte 1 b5: switch interface if offline data authentication fails and the reader
        /// supports contact.
        SWITCH_INTERFACE_IF_ODA_FAILS = (1, 0x10);
        /// Byte 1 b4: go online if the application has expired.
        GO_ONLINE_IF_APPLICATION_EXPIRED = (1, 0x08);
        /// Byte 1 b3: switch interface for cash transactions.
        SWITCH_INTERFACE_FOR_CASH = (1, 0x04);
        /// Byte 1 b2: switch interface for cashback transactions.
        SWITCH_INTERFACE_FOR_CASHBACK = (1, 0x02);
        /// Byte 1 b1: not valid for contactless ATM transactions.
        NOT_VALID_FOR_CONTACTLESS_ATM = (1, 0x01);
        /// Byte 2 b8: consumer device CVM performed.
        CONSUMER_DEVICE_CVM_PERFORMED = (2, 0x80);
        /// Byte 2 b7: card supports issuer update processing.
        ISSUER_UPDATE_PROCESSING_SUPPORTED = (2, 0x40);
    }
);

/// The cryptogram type: bits 8–7 of the CID (EMV Book 3 §6.5.5.4 Table 15) and of the GENERATE
/// AC reference control parameter (Table 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CryptogramType {
    /// `00`: application authentication cryptogram (decline).
    Aac,
    /// `01` (`0x40`): transaction certificate (offline approval).
    Tc,
    /// `10` (`0x80`): authorisation request cryptogram (go online).
    Arqc,
    /// `11`: reserved for future use.
    Rfu,
}

impl CryptogramType {
    /// Reads bits 8–7 of a CID or reference control byte.
    pub const fn from_bits(byte: u8) -> CryptogramType {
        match byte & 0xC0 {
            0x00 => CryptogramType::Aac,
            0x40 => CryptogramType::Tc,
            0x80 => CryptogramType::Arqc,
            _ => CryptogramType::Rfu,
        }
    }

    /// The value of bits 8–7 (`00`, `40`, `80`, `C0`).
    pub const fn bits(self) -> u8 {
        match self {
            CryptogramType::Aac => 0x00,
            CryptogramType::Tc => 0x40,
            CryptogramType::Arqc => 0x80,
            CryptogramType::Rfu => 0xC0,
        }
    }

    /// The cryptogram type a qPBOC card reports in its CVR when `9F27` is absent: IAD (`9F10`)
    /// byte at index 4 (the second CVR byte) masked with `0x30`; `00` AAC, `10` TC, `20` ARQC
    /// (pboc-notes §2.5, QK and GL; `30` maps to RFU).
    pub const fn from_pboc_cvr_byte(byte: u8) -> CryptogramType {
        match byte & 0x30 {
            0x00 => CryptogramType::Aac,
            0x10 => CryptogramType::Tc,
            0x20 => CryptogramType::Arqc,
            _ => CryptogramType::Rfu,
        }
    }
}

/// The reason/advice code in CID bits 3–1 (EMV Book 3 §6.5.5.4 Table 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CidReason {
    /// `000`: no information given.
    NoInformation,
    /// `001`: service not allowed.
    ServiceNotAllowed,
    /// `010`: PIN try limit exceeded.
    PinTryLimitExceeded,
    /// `011`: issuer authentication failed.
    IssuerAuthenticationFailed,
    /// `1xx`: reserved for future use (the 3-bit value is kept).
    Rfu(u8),
}

/// Cryptogram information data, tag `9F27`, 1 byte (EMV Book 3 §6.5.5.4 Table 15): cryptogram
/// type (b8–b7), payment-system-specific bits (b6–b5), advice required (b4), reason code (b3–b1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cid(u8);

impl Cid {
    /// The EMV tag of the CID.
    pub const TAG: Tag = Tag::new(0x9F27);

    /// Takes the wire byte (every value is representable).
    pub const fn from_byte(byte: u8) -> Cid {
        Cid(byte)
    }

    /// Takes a tag value; it must be exactly one byte.
    pub fn from_slice(bytes: &[u8]) -> Result<Cid, ValueError> {
        match bytes {
            [b] => Ok(Cid(*b)),
            _ => Err(ValueError::Length {
                what: "CID",
                expected: "1",
                actual: bytes.len(),
            }),
        }
    }

    /// The wire byte.
    pub const fn byte(self) -> u8 {
        self.0
    }

    /// Bits 8–7: the type of cryptogram the card returned.
    pub const fn cryptogram_type(self) -> CryptogramType {
        CryptogramType::from_bits(self.0)
    }

    /// Bits 6–5: payment system-specific cryptogram bits.
    pub const fn payment_system_bits(self) -> u8 {
        (self.0 >> 4) & 0x03
    }

    /// Bit 4: advice required.
    pub const fn advice_required(self) -> bool {
        self.0 & 0x08 != 0
    }

    /// Bits 3–1: reason/advice code.
    pub const fn reason(self) -> CidReason {
        match self.0 & 0x07 {
            0 => CidReason::NoInformation,
            1 => CidReason::ServiceNotAllowed,
            2 => CidReason::PinTryLimitExceeded,
            3 => CidReason::IssuerAuthenticationFailed,
            other => CidReason::Rfu(other),
        }
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cid({:02X} {:?}{}{})",
            self.0,
            self.cryptogram_type(),
            if self.advice_required() {
                " advice"
            } else {
                ""
            },
            match self.reason() {
                CidReason::NoInformation => String::new(),
                r => format!(" {r:?}"),
            }
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn named_bits_match_the_tables() {
        assert_eq!(Tvr::EXPIRED_APPLICATION.byte(), 2);
        assert_eq!(Tvr::EXPIRED_APPLICATION.mask(), 0x40);
        assert_eq!(Tvr::NAMED_BITS.len(), 37);
        assert_eq!(Tsi::NAMED_BITS.len(), 6);
        // Every named bit is distinct within its field.
        let mut all = Tvr::new();
        for bit in Tvr::NAMED_BITS {
            assert!(!all.contains(*bit), "{bit:?} duplicated");
            all.set(*bit);
        }
        assert_eq!(all.unnamed_bits(), [0; 5]);
        // RFU: byte 2 b3, byte 5 b4 and b1 (reserved for contactless).
        assert_eq!(
            Tvr::from_bytes([0xFF; 5]).unnamed_bits(),
            [0, 0x04, 0, 0, 0x09]
        );
    }

    #[test]
    fn cid() {
        let cid = Cid::from_byte(0x80);
        assert_eq!(cid.cryptogram_type(), CryptogramType::Arqc);
        assert_eq!(Cid::from_byte(0x40).cryptogram_type(), CryptogramType::Tc);
        assert_eq!(Cid::from_byte(0x00).cryptogram_type(), CryptogramType::Aac);
        assert_eq!(Cid::from_byte(0xC0).cryptogram_type(), CryptogramType::Rfu);
        let advice = Cid::from_byte(0x0A);
        assert!(advice.advice_required());
        assert_eq!(advice.reason(), CidReason::PinTryLimitExceeded);
        assert_eq!(Cid::from_byte(0x05).reason(), CidReason::Rfu(5));
        assert_eq!(
            format!("{advice:?}"),
            "Cid(0A Aac advice PinTryLimitExceeded)"
        );
        assert_eq!(
            CryptogramType::from_pboc_cvr_byte(0xA0),
            CryptogramType::Arqc
        );
        assert!(Cid::from_slice(&[]).is_err());
    }
}
