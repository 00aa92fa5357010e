//! Typed wire values: every EMV/PBOC data element the kernel reasons about gets a type that is
//! validated once, when it is read from the card or built from configuration.
//!
//! - [`Aid`] (tag `4F`/`84`, ISO/IEC 7816-4 §8.2.1.2, EMV Book 1 §12.2.1)
//! - [`StatusWord`] (ISO/IEC 7816-4 §5.1.3, EMV Book 1 §9.4, JR/T 0025 ED/EP status words)
//! - [`Amount`] (n12 amounts `9F02`/`9F03`/`9F79`, EMV Book 3 Annex A; 4-byte binary ED/EP amounts)
//! - [`Pan`] and [`Track2`] (tags `5A`, `57`), masked whenever printed
//! - [`TransactionDate`] (`9A`), [`TransactionTime`] (`9F21`), [`CalendarDate`] (ED/EP
//!   `YYYYMMDD` dates: EF15 start and expiry)
//! - [`CountryCode`] (`9F1A`, `5F28`), [`CurrencyCode`] (`5F2A`, `9F51`), [`TransactionType`] (`9C`)
//! - [`Sfi`] (short file identifier, EMV Book 3 §5.3.2.2 / Book 1 §11)
//! - [`bcd`]: the `n` / `cn` digit helpers underneath them.

pub mod bcd;
mod card;
mod datetime;

use core::fmt;
use core::str::FromStr;

pub use bcd::BcdError;
pub use card::{ExpiryDate, Pan, Track2};
pub use datetime::{CalendarDate, TransactionDate, TransactionTime};

/// A value that is not valid for its type. The caller adds the blame (which tag, from whom).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The encoded value has the wrong number of bytes.
    #[error("{what}: expected {expected} bytes, got {actual}")]
    Length {
        /// The kind of value.
        what: &'static str,
        /// The allowed lengths, in words (`"6"`, `"5 to 16"`).
        expected: &'static str,
        /// The length received.
        actual: usize,
    },
    /// A BCD field holds something other than the digits its format allows.
    #[error("{what}: {source}")]
    Bcd {
        /// The kind of value.
        what: &'static str,
        /// The BCD problem.
        #[source]
        source: BcdError,
    },
    /// The value is well formed but outside the range its type allows.
    #[error("{what}: out of range")]
    OutOfRange {
        /// The kind of value.
        what: &'static str,
    },
    /// Text that should be hex is not.
    #[error("{what}: not valid hex")]
    Hex {
        /// The kind of value.
        what: &'static str,
    },
    /// The structure of a composite value (such as Track 2) is wrong.
    #[error("{what}: {reason}")]
    Malformed {
        /// The kind of value.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ValueError {
    pub(crate) fn bcd(what: &'static str) -> impl Fn(BcdError) -> ValueError {
        move |source| ValueError::Bcd { what, source }
    }
}

/// Implements `Serialize` as the `Display` text and `Deserialize` through `FromStr`.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <alloc::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

// ---------------------------------------------------------------------------------------------
// AID
// ---------------------------------------------------------------------------------------------

/// An application identifier: RID (5 bytes) ‖ PIX (0–11 bytes), 5 to 16 bytes in all
/// (ISO/IEC 7816-4 §8.2.1.2; EMV Book 1 §12.2.1).
///
/// Displayed, parsed and serialised as uppercase hex (`"A000000333010101"`).
/// ISO DF names that are not AIDs (`"2PAY.SYS.DDF01"` happens to be 14 bytes, `"OC"` is 2) are
/// selected with [`crate::apdu::Command::select_df_name`] instead.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aid {
    bytes: [u8; Aid::MAX_LEN],
    len: u8,
}

impl Aid {
    /// Shortest AID: the 5-byte RID alone.
    pub const MIN_LEN: usize = 5;
    /// Longest AID: RID plus an 11-byte PIX.
    pub const MAX_LEN: usize = 16;

    /// Takes the AID bytes; 5 to 16 bytes.
    pub fn new(bytes: &[u8]) -> Result<Aid, ValueError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(ValueError::Length {
                what: "AID",
                expected: "5 to 16",
                actual: bytes.len(),
            });
        }
        let mut out = [0u8; Self::MAX_LEN];
        out[..bytes.len()].copy_from_slice(bytes);
        Ok(Aid {
            bytes: out,
            len: bytes.len() as u8,
        })
    }

    /// The AID bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The registered application provider identifier (first 5 bytes), e.g. `A000000333` for
    /// UnionPay; used to choose the CA public key (EMV Book 2 §5.1, §6.1).
    pub fn rid(&self) -> [u8; 5] {
        let mut rid = [0u8; 5];
        rid.copy_from_slice(&self.bytes[..5]);
        rid
    }

    /// The proprietary application identifier extension (the bytes after the RID, maybe none).
    pub fn pix(&self) -> &[u8] {
        &self.as_bytes()[5..]
    }

    /// True when this (card) AID begins with `prefix` (a terminal AID): the partial-match test
    /// of EMV Book 1 §12.3.1 / pboc-notes §1.1. Equal AIDs also match.
    pub fn starts_with(&self, prefix: &Aid) -> bool {
        self.as_bytes().starts_with(prefix.as_bytes())
    }
}

impl fmt::Display for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aid({self})")
    }
}

impl FromStr for Aid {
    type Err = ValueError;

    /// Parses hex (either case), as configuration files and vectors write AIDs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|_| ValueError::Hex { what: "AID" })?;
        Aid::new(&bytes)
    }
}

impl TryFrom<&[u8]> for Aid {
    type Error = ValueError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Aid::new(bytes)
    }
}

impl AsRef<[u8]> for Aid {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

serde_via_str!(Aid);

// ---------------------------------------------------------------------------------------------
// Status word
// ---------------------------------------------------------------------------------------------

/// The status word SW1 SW2 ending every R-APDU (ISO/IEC 7816-4 §5.1.3, EMV Book 1 §9.4 and
/// Book 3 §6.3.5). Every 16-bit value is representable; named constants cover the ones the
/// kernel acts on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusWord(pub u16);

/// The broad meaning of a status word, from SW1 (ISO/IEC 7816-4 §5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SwKind {
    /// `9000`: normal processing.
    Success,
    /// `61xx`: normal processing, `xx` more bytes available with GET RESPONSE (T=0).
    BytesAvailable(u8),
    /// `6Cxx`: wrong Le, the exact length is `xx` (T=0).
    WrongLe(u8),
    /// `63Cx`: warning, counter (e.g. PIN tries left) is `x`.
    Counter(u8),
    /// `62xx` / `63xx`: warning, the command completed.
    Warning,
    /// `64xx`–`66xx`: execution error.
    ExecutionError,
    /// `67xx`–`6Fxx` (other than `6Cxx`): checking error, the command was refused.
    CheckingError,
    /// `9xxx` other than `9000`: proprietary (PBOC ED/EP uses `93xx`/`94xx`).
    Proprietary,
    /// SW1 outside `6x`/`9x`: not a valid status word.
    Invalid,
}

impl StatusWord {
    /// `9000`: normal processing.
    pub const OK: StatusWord = StatusWord(0x9000);
    /// `6283`: selected file invalidated — the application is blocked (EMV Book 1 §12.3.3).
    pub const SELECTED_FILE_INVALIDATED: StatusWord = StatusWord(0x6283);
    /// `6300`: authentication failed (e.g. EXTERNAL AUTHENTICATE).
    pub const AUTHENTICATION_FAILED: StatusWord = StatusWord(0x6300);
    /// `6700`: wrong length.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// `6982`: security status not satisfied.
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// `6983`: authentication method blocked (PIN blocked).
    pub const AUTHENTICATION_METHOD_BLOCKED: StatusWord = StatusWord(0x6983);
    /// `6984`: referenced data invalidated.
    pub const REFERENCED_DATA_INVALIDATED: StatusWord = StatusWord(0x6984);
    /// `6985`: conditions of use not satisfied; on a contactless GPO it means "use another
    /// interface" (JR/T 0025.12 §6.5.3 as cited in pboc-notes §1.1).
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    /// `6986`: command not allowed.
    pub const COMMAND_NOT_ALLOWED: StatusWord = StatusWord(0x6986);
    /// `6988`: secure messaging data object incorrect (a wrong MAC, pboc-notes §4.9).
    pub const SM_DATA_INCORRECT: StatusWord = StatusWord(0x6988);
    /// `6A80`: incorrect parameters in the data field.
    pub const INCORRECT_DATA: StatusWord = StatusWord(0x6A80);
    /// `6A81`: function not supported — card or application blocked (EMV Book 1 §12.3.2).
    pub const FUNCTION_NOT_SUPPORTED: StatusWord = StatusWord(0x6A81);
    /// `6A82`: file or application not found.
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    /// `6A83`: record not found (end of a directory or log, EMV Book 1 §12.2.3).
    pub const RECORD_NOT_FOUND: StatusWord = StatusWord(0x6A83);
    /// `6A86`: incorrect P1 P2.
    pub const INCORRECT_P1_P2: StatusWord = StatusWord(0x6A86);
    /// `6A88`: referenced data not found (GET DATA of an absent object).
    pub const REFERENCED_DATA_NOT_FOUND: StatusWord = StatusWord(0x6A88);
    /// `6B00`: wrong parameters P1 P2.
    pub const WRONG_P1_P2: StatusWord = StatusWord(0x6B00);
    /// `6D00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// `6F00`: no precise diagnosis.
    pub const NO_PRECISE_DIAGNOSIS: StatusWord = StatusWord(0x6F00);
    /// `9302`: MAC invalid (PBOC ED/EP, pboc-notes §4.9).
    pub const MAC_INVALID: StatusWord = StatusWord(0x9302);
    /// `9401`: insufficient balance (PBOC ED/EP, pboc-notes §4.9).
    pub const INSUFFICIENT_BALANCE: StatusWord = StatusWord(0x9401);
    /// `9403`: key index not supported (PBOC ED/EP; pboc-notes §4.9 marks it ⚠ recall).
    pub const KEY_INDEX_NOT_SUPPORTED: StatusWord = StatusWord(0x9403);

    /// Builds a status word from SW1 and SW2.
    pub const fn from_bytes(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord(((sw1 as u16) << 8) | sw2 as u16)
    }

    /// SW1, the high byte.
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// SW2, the low byte.
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }

    /// The two bytes as sent on the wire.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// True only for `9000` (EMV Book 3 §6.3.5: other `9xxx` values are not success).
    pub const fn is_success(self) -> bool {
        self.0 == 0x9000
    }

    /// The broad class of the status word (ISO/IEC 7816-4 §5.1.3).
    pub const fn kind(self) -> SwKind {
        match (self.sw1(), self.sw2()) {
            (0x90, 0x00) => SwKind::Success,
            (0x61, n) => SwKind::BytesAvailable(n),
            (0x6C, n) => SwKind::WrongLe(n),
            (0x63, n) if n & 0xF0 == 0xC0 => SwKind::Counter(n & 0x0F),
            (0x62 | 0x63, _) => SwKind::Warning,
            (0x64..=0x66, _) => SwKind::ExecutionError,
            (0x67..=0x6F, _) => SwKind::CheckingError,
            (0x90..=0x9F, _) => SwKind::Proprietary,
            _ => SwKind::Invalid,
        }
    }

    /// A short English description for traces, for the status words named above.
    pub const fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            0x9000 => "normal processing",
            0x6283 => "selected file invalidated",
            0x6300 => "authentication failed",
            0x6700 => "wrong length",
            0x6982 => "security status not satisfied",
            0x6983 => "authentication method blocked",
            0x6984 => "referenced data invalidated",
            0x6985 => "conditions of use not satisfied",
            0x6986 => "command not allowed",
            0x6988 => "secure messaging data object incorrect",
            0x6A80 => "incorrect data",
            0x6A81 => "function not supported",
            0x6A82 => "file not found",
            0x6A83 => "record not found",
            0x6A86 => "incorrect P1 P2",
            0x6A88 => "referenced data not found",
            0x6B00 => "wrong P1 P2",
            0x6D00 => "instruction not supported",
            0x6E00 => "class not supported",
            0x6F00 => "no precise diagnosis",
            0x9302 => "MAC invalid",
            0x9401 => "insufficient balance",
            0x9403 => "key index not supported",
            _ => return None,
        })
    }
}

impl From<[u8; 2]> for StatusWord {
    fn from(bytes: [u8; 2]) -> Self {
        StatusWord(u16::from_be_bytes(bytes))
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(text) => write!(f, "StatusWord({self} {text})"),
            None => write!(f, "StatusWord({self})"),
        }
    }
}

impl FromStr for StatusWord {
    type Err = ValueError;

    /// Parses four hex digits (`"6A82"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 2];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ValueError::Hex {
            what: "status word",
        })?;
        Ok(StatusWord::from(bytes))
    }
}

serde_via_str!(StatusWord);

// ---------------------------------------------------------------------------------------------
// Amount
// ---------------------------------------------------------------------------------------------

/// A monetary amount in minor units of its currency (fen for CNY), at most
/// [`Amount::MAX`] = 999 999 999 999: what an n12 field carries.
///
/// EMV amounts (`9F02`, `9F03`, `9F79`, `9F5D`, …) are n12: 6 bytes of BCD (EMV Book 3 Annex A).
/// An `Amount` only exists in that range, so [`Amount::to_n12`] cannot fail and an amount the
/// card could not be sent is refused where it is made ([`Amount::from_minor`], JSON), before any
/// APDU. PBOC ED/EP amounts and balances are 4-byte big-endian binary
/// ([`PurseAmount`], pboc-notes §4.1); every one of them is an
/// `Amount`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct Amount(u64);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(0);
    /// The largest amount: 999 999 999 999, the most an n12 field holds.
    pub const MAX: Amount = Amount(999_999_999_999);
    /// The largest amount an n12 field holds (same as [`Amount::MAX`]).
    pub const MAX_N12: Amount = Amount::MAX;

    /// An amount of `minor` minor units; above [`Amount::MAX`] is
    /// [`ValueError::OutOfRange`].
    pub const fn from_minor(minor: u64) -> Result<Amount, ValueError> {
        if minor > Amount::MAX.0 {
            return Err(ValueError::OutOfRange { what: "amount n12" });
        }
        Ok(Amount(minor))
    }

    /// The amount in minor units.
    pub const fn minor(self) -> u64 {
        self.0
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Decodes an n12 field; any nibble `A`–`F` is an error.
    pub fn from_n12(bytes: &[u8; 6]) -> Result<Amount, ValueError> {
        bcd::bcd_to_u64(bytes)
            .map(Amount)
            .map_err(ValueError::bcd("amount n12"))
    }

    /// Decodes an n12 field given as a slice (a tag value): it must be exactly 6 bytes.
    pub fn from_n12_slice(bytes: &[u8]) -> Result<Amount, ValueError> {
        let array: &[u8; 6] = bytes.try_into().map_err(|_| ValueError::Length {
            what: "amount n12",
            expected: "6",
            actual: bytes.len(),
        })?;
        Amount::from_n12(array)
    }

    /// Encodes as n12 (6 bytes of BCD, EMV Book 3 Annex A). Every `Amount` fits.
    pub const fn to_n12(self) -> [u8; 6] {
        let mut out = [0u8; 6];
        let mut rest = self.0;
        let mut i = 6;
        while i > 0 {
            i -= 1;
            let low = (rest % 10) as u8;
            rest /= 10;
            let high = (rest % 10) as u8;
            rest /= 10;
            out[i] = (high << 4) | low;
        }
        out
    }

    /// A 4-byte binary ED/EP amount or balance from its wire bytes.
    pub const fn from_be_bytes(bytes: [u8; 4]) -> Amount {
        Amount(u32::from_be_bytes(bytes) as u64)
    }

    /// Encodes as a 4-byte binary ED/EP amount; above 4 294 967 295 is an error.
    pub fn to_be_bytes(self) -> Result<[u8; 4], ValueError> {
        u32::try_from(self.0)
            .map(u32::to_be_bytes)
            .map_err(|_| ValueError::OutOfRange {
                what: "ED/EP amount",
            })
    }

    /// `self + other`, or `None` above [`Amount::MAX`].
    pub const fn checked_add(self, other: Amount) -> Option<Amount> {
        // Both are at most 10^12, so the sum cannot overflow u64.
        let sum = self.0 + other.0;
        if sum > Amount::MAX.0 {
            return None;
        }
        Some(Amount(sum))
    }

    /// `self - other`, or `None` when `other` is larger.
    pub const fn checked_sub(self, other: Amount) -> Option<Amount> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }
}

impl TryFrom<u64> for Amount {
    type Error = ValueError;

    /// Same as [`Amount::from_minor`].
    fn try_from(minor: u64) -> Result<Amount, ValueError> {
        Amount::from_minor(minor)
    }
}

impl From<Amount> for u64 {
    fn from(amount: Amount) -> u64 {
        amount.0
    }
}

impl FromStr for Amount {
    type Err = ValueError;

    /// Decimal minor units (`"12345"`), 0 to 999 999 999 999: what a command line or a text
    /// field gives. Anything else, and anything above [`Amount::MAX`], is an error.
    fn from_str(s: &str) -> Result<Amount, ValueError> {
        if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::OutOfRange { what: "amount n12" });
        }
        let minor = s
            .parse::<u64>()
            .map_err(|_| ValueError::OutOfRange { what: "amount n12" })?;
        Amount::from_minor(minor)
    }
}

impl fmt::Display for Amount {
    /// The minor units, in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// PurseAmount
// ---------------------------------------------------------------------------------------------

/// A PBOC ED/EP amount or balance in fen: 4-byte big-endian binary on the wire (JR/T 0025
/// Part 1 INITIALIZE FOR PURCHASE/LOAD, GET BALANCE; pboc-notes §4.1).
///
/// Every value the card can send is a `PurseAmount`, so decoding ([`PurseAmount::from_be_bytes`])
/// and encoding ([`PurseAmount::to_be_bytes`]) cannot fail, and balance arithmetic goes through
/// [`PurseAmount::checked_add`] / [`PurseAmount::checked_sub`], which refuse to wrap. Every
/// `PurseAmount` is an [`Amount`] (`From`); an `Amount` above 4 294 967 295 fen is not a
/// `PurseAmount` (`TryFrom`).
///
/// Serialized as the plain integer of fen (records, journals, JSON reports); `Display` shows
/// yuan and fen (`12.34`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct PurseAmount(u32);

impl PurseAmount {
    /// Zero.
    pub const ZERO: PurseAmount = PurseAmount(0);
    /// The largest amount 4 bytes carry: 4 294 967 295 fen.
    pub const MAX: PurseAmount = PurseAmount(u32::MAX);

    /// An amount of `fen` fen; every `u32` is one.
    pub const fn from_fen(fen: u32) -> PurseAmount {
        PurseAmount(fen)
    }

    /// The amount in fen.
    pub const fn fen(self) -> u32 {
        self.0
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Decodes the 4-byte big-endian wire form.
    pub const fn from_be_bytes(bytes: [u8; 4]) -> PurseAmount {
        PurseAmount(u32::from_be_bytes(bytes))
    }

    /// Encodes as the 4-byte big-endian wire form.
    pub const fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// `self + other`, or `None` above [`PurseAmount::MAX`].
    pub const fn checked_add(self, other: PurseAmount) -> Option<PurseAmount> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(PurseAmount(v)),
            None => None,
        }
    }

    /// `self - other`, or `None` when `other` is larger.
    pub const fn checked_sub(self, other: PurseAmount) -> Option<PurseAmount> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(PurseAmount(v)),
            None => None,
        }
    }

    /// `self + other`, at most [`PurseAmount::MAX`] (for fare caps, never for balances).
    pub const fn saturating_add(self, other: PurseAmount) -> PurseAmount {
        PurseAmount(self.0.saturating_add(other.0))
    }

    /// `self - other`, at least zero (for fare differences, never for balances).
    pub const fn saturating_sub(self, other: PurseAmount) -> PurseAmount {
        PurseAmount(self.0.saturating_sub(other.0))
    }
}

impl From<u32> for PurseAmount {
    /// Same as [`PurseAmount::from_fen`].
    fn from(fen: u32) -> PurseAmount {
        PurseAmount(fen)
    }
}

impl From<PurseAmount> for u32 {
    fn from(amount: PurseAmount) -> u32 {
        amount.0
    }
}

impl From<PurseAmount> for Amount {
    /// Lossless: 4 294 967 295 is below [`Amount::MAX`].
    fn from(amount: PurseAmount) -> Amount {
        Amount(u64::from(amount.0))
    }
}

impl TryFrom<Amount> for PurseAmount {
    type Error = ValueError;

    /// An amount above 4 294 967 295 fen is [`ValueError::OutOfRange`].
    fn try_from(amount: Amount) -> Result<PurseAmount, ValueError> {
        u32::try_from(amount.0)
            .map(PurseAmount)
            .map_err(|_| ValueError::OutOfRange {
                what: "ED/EP amount",
            })
    }
}

impl fmt::Display for PurseAmount {
    /// Yuan and fen: `12.34`, `0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

// ---------------------------------------------------------------------------------------------
// n3 codes
// ---------------------------------------------------------------------------------------------

macro_rules! n3_code {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "u16", into = "u16")]
        pub struct $name(u16);

        impl $name {
            /// Makes the code from its numeric value, 0 to 999.
            pub const fn new(code: u16) -> Result<Self, ValueError> {
                if code > 999 {
                    return Err(ValueError::OutOfRange { what: $what });
                }
                Ok($name(code))
            }

            /// Decodes the 2-byte n3 field (`0x01 0x56` = 156); the first nibble must be `0`.
            pub fn from_bcd(bytes: &[u8]) -> Result<Self, ValueError> {
                if bytes.len() != 2 {
                    return Err(ValueError::Length {
                        what: $what,
                        expected: "2",
                        actual: bytes.len(),
                    });
                }
                let value = bcd::bcd_to_u64(bytes).map_err(ValueError::bcd($what))?;
                match u16::try_from(value) {
                    Ok(code) => Self::new(code),
                    Err(_) => Err(ValueError::OutOfRange { what: $what }),
                }
            }

            /// The numeric code.
            pub const fn code(self) -> u16 {
                self.0
            }

            /// The 2-byte n3 encoding.
            pub const fn to_bcd(self) -> [u8; 2] {
                let c = self.0;
                [(c / 100) as u8, ((((c / 10) % 10) as u8) << 4) | (c % 10) as u8]
            }
        }

        impl TryFrom<u16> for $name {
            type Error = ValueError;

            fn try_from(code: u16) -> Result<Self, Self::Error> {
                Self::new(code)
            }
        }

        impl From<$name> for u16 {
            fn from(code: $name) -> u16 {
                code.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:03}", self.0)
            }
        }
    };
}

n3_code!(
    /// An ISO 3166-1 numeric country code, n3 in 2 bytes (tags `9F1A`, `5F28`; EMV Book 3 Annex A).
    CountryCode,
    "country code"
);
n3_code!(
    /// An ISO 4217 numeric currency code, n3 in 2 bytes (tags `5F2A`, `9F51`; EMV Book 3 Annex A).
    CurrencyCode,
    "currency code"
);

impl CountryCode {
    /// China, 156.
    pub const CHINA: CountryCode = CountryCode(156);
}

impl CurrencyCode {
    /// Renminbi (CNY), 156.
    pub const CNY: CurrencyCode = CurrencyCode(156);
}

// ---------------------------------------------------------------------------------------------
// Transaction type
// ---------------------------------------------------------------------------------------------

/// The transaction type `9C`, n2 in one byte: the first two digits of the ISO 8583:1987
/// processing code (EMV Book 3 Annex A). Unknown (but valid BCD) values are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionType(u8);

impl TransactionType {
    /// `00`: goods and services (purchase).
    pub const PURCHASE: TransactionType = TransactionType(0x00);
    /// `01`: cash.
    pub const CASH: TransactionType = TransactionType(0x01);
    /// `09`: purchase with cashback.
    pub const CASHBACK: TransactionType = TransactionType(0x09);
    /// `20`: refund.
    pub const REFUND: TransactionType = TransactionType(0x20);

    /// Takes the wire byte; both nibbles must be digits.
    pub fn from_byte(byte: u8) -> Result<TransactionType, ValueError> {
        bcd::bcd_to_u64(&[byte]).map_err(ValueError::bcd("transaction type"))?;
        Ok(TransactionType(byte))
    }

    /// The wire byte.
    pub const fn byte(self) -> u8 {
        self.0
    }
}

impl fmt::Display for TransactionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

impl fmt::Debug for TransactionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionType({self})")
    }
}

// ---------------------------------------------------------------------------------------------
// SFI
// ---------------------------------------------------------------------------------------------

/// A short file identifier, 1 to 30 (EMV Book 1 §11.2.2 / Book 3 §5.3.2.2; ISO/IEC 7816-4
/// §7.2.2). Used by READ RECORD, READ BINARY and the AFL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sfi(u8);

impl Sfi {
    /// Takes an SFI value; 1 to 30.
    pub const fn new(sfi: u8) -> Result<Sfi, ValueError> {
        if sfi == 0 || sfi > 30 {
            return Err(ValueError::OutOfRange { what: "SFI" });
        }
        Ok(Sfi(sfi))
    }

    /// The SFI value.
    pub const fn value(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aid_basics() {
        let aid: Aid = "A000000333010101".parse().unwrap();
        assert_eq!(aid.rid(), [0xA0, 0, 0, 0x03, 0x33]);
        assert_eq!(aid.pix(), &[1, 1, 1]);
        assert_eq!(aid.to_string(), "A000000333010101");
        let prefix: Aid = "a0000003330101".parse().unwrap();
        assert!(aid.starts_with(&prefix));
        assert!(!prefix.starts_with(&aid));
        assert!(Aid::new(&[0; 4]).is_err());
        assert!(Aid::new(&[0; 17]).is_err());
        assert!("A00000033".parse::<Aid>().is_err());
    }

    #[test]
    fn status_word_kinds() {
        assert_eq!(
            StatusWord::from_bytes(0x6A, 0x82),
            StatusWord::FILE_NOT_FOUND
        );
        assert_eq!(StatusWord::FILE_NOT_FOUND.to_string(), "6A82");
        assert_eq!(StatusWord(0x6110).kind(), SwKind::BytesAvailable(0x10));
        assert_eq!(StatusWord(0x6C05).kind(), SwKind::WrongLe(5));
        assert_eq!(StatusWord(0x63C2).kind(), SwKind::Counter(2));
        assert_eq!(StatusWord::INSUFFICIENT_BALANCE.kind(), SwKind::Proprietary);
        assert!(!StatusWord::INSUFFICIENT_BALANCE.is_success());
        assert_eq!(StatusWord(0x1234).kind(), SwKind::Invalid);
        assert_eq!(
            format!("{:?}", StatusWord::RECORD_NOT_FOUND),
            "StatusWord(6A83 record not found)"
        );
    }

    #[test]
    fn codes() {
        assert_eq!(
            CurrencyCode::from_bcd(&[0x01, 0x56]).unwrap(),
            CurrencyCode::CNY
        );
        assert_eq!(CountryCode::CHINA.to_bcd(), [0x01, 0x56]);
        assert_eq!(CountryCode::new(840).unwrap().to_bcd(), [0x08, 0x40]);
        assert!(CurrencyCode::from_bcd(&[0x10, 0x00]).is_err());
        assert!(CurrencyCode::from_bcd(&[0x01, 0x5A]).is_err());
        assert!(CurrencyCode::from_bcd(&[0x01]).is_err());
        assert_eq!(CurrencyCode::CNY.to_string(), "156");
        assert!(TransactionType::from_byte(0x1A).is_err());
        assert_eq!(
            TransactionType::from_byte(0x09).unwrap(),
            TransactionType::CASHBACK
        );
        assert!(Sfi::new(0).is_err() && Sfi::new(31).is_err() && Sfi::new(30).is_ok());
    }
}
