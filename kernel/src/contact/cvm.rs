//! Cardholder verification (EMV Book 3 §10.5, Annex C3): the CVM list `8E`, its condition
//! codes, and the CVM results `9F34`.
//!
//! The rule walk is pure: the PIN steps that talk to the card (VERIFY) or the cardholder (the
//! PIN pad) go through a [`CvmPerformer`], which the flow implements over the APDU layer and
//! the integrator's [`PinPad`]. Tests drive the walk with a scripted performer.

use alloc::vec::Vec;
use core::fmt;

use crate::bits::Tvr;
use crate::values::Amount;

/// Why a CVM list cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvmListError {
    /// Fewer than the 8 bytes of amounts X and Y.
    #[error("CVM list shorter than its two amounts")]
    TooShort,
    /// The rules do not come in pairs of bytes.
    #[error("CVM list rules are not 2-byte pairs")]
    OddRules,
}

/// A parsed CVM list (EMV Book 3 §10.5, Annex C3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvmList {
    /// Amount X, binary, in the application currency (`9F42`).
    pub amount_x: u32,
    /// Amount Y, binary, in the application currency.
    pub amount_y: u32,
    /// The rules, in card order.
    pub rules: Vec<CvmRule>,
}

impl CvmList {
    /// Parses `8E`: X (4) ‖ Y (4) ‖ rules (2 bytes each).
    pub fn parse(bytes: &[u8]) -> Result<CvmList, CvmListError> {
        if bytes.len() < 8 {
            return Err(CvmListError::TooShort);
        }
        let (amounts, rules) = bytes.split_at(8);
        if rules.len() % 2 != 0 {
            return Err(CvmListError::OddRules);
        }
        Ok(CvmList {
            amount_x: u32::from_be_bytes([amounts[0], amounts[1], amounts[2], amounts[3]]),
            amount_y: u32::from_be_bytes([amounts[4], amounts[5], amounts[6], amounts[7]]),
            rules: rules
                .chunks_exact(2)
                .map(|r| CvmRule {
                    code: r[0],
                    condition: r[1],
                })
                .collect(),
        })
    }
}

/// One CVM rule: the CVM code (b7 "apply succeeding rule if unsuccessful", b6–b1 the method)
/// and the condition code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CvmRule {
    /// Byte 1: CVM code.
    pub code: u8,
    /// Byte 2: CVM condition code.
    pub condition: u8,
}

impl CvmRule {
    /// The method (b6–b1).
    pub fn method(self) -> CvmMethod {
        CvmMethod::from_code(self.code)
    }

    /// The condition.
    pub fn condition(self) -> CvmCondition {
        CvmCondition::from_code(self.condition)
    }

    /// b7: go on with the next rule when this one fails.
    pub fn continue_if_unsuccessful(self) -> bool {
        self.code & 0x40 != 0
    }
}

/// A cardholder verification method (EMV Book 3 Annex C3 Table 39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvmMethod {
    /// `000000`: fail CVM processing.
    FailCvmProcessing,
    /// `000001`: plaintext PIN verified by the ICC.
    OfflinePlaintextPin,
    /// `000010`: enciphered PIN verified online.
    OnlinePin,
    /// `000011`: plaintext PIN verified by the ICC and signature.
    OfflinePlaintextPinAndSignature,
    /// `000100`: enciphered PIN verified by the ICC (not implemented by this kernel).
    OfflineEncipheredPin,
    /// `000101`: enciphered PIN verified by the ICC and signature (not implemented).
    OfflineEncipheredPinAndSignature,
    /// `011110`: signature (paper).
    Signature,
    /// `011111`: no CVM required.
    NoCvmRequired,
    /// Anything else (RFU, payment-system or issuer specific; PBOC's cardholder ID
    /// presentation `20` is one of them here).
    Unrecognised(u8),
}

impl CvmMethod {
    /// The method of a CVM code byte (b6–b1).
    pub fn from_code(code: u8) -> CvmMethod {
        match code & 0x3F {
            0x00 => CvmMethod::FailCvmProcessing,
            0x01 => CvmMethod::OfflinePlaintextPin,
            0x02 => CvmMethod::OnlinePin,
            0x03 => CvmMethod::OfflinePlaintextPinAndSignature,
            0x04 => CvmMethod::OfflineEncipheredPin,
            0x05 => CvmMethod::OfflineEncipheredPinAndSignature,
            0x1E => CvmMethod::Signature,
            0x1F => CvmMethod::NoCvmRequired,
            other => CvmMethod::Unrecognised(other),
        }
    }

    fn needs_pin(self) -> bool {
        matches!(
            self,
            CvmMethod::OfflinePlaintextPin
                | CvmMethod::OnlinePin
                | CvmMethod::OfflinePlaintextPinAndSignature
                | CvmMethod::OfflineEncipheredPin
                | CvmMethod::OfflineEncipheredPinAndSignature
        )
    }
}

/// A CVM condition (EMV Book 3 Annex C3 Table 40).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvmCondition {
    /// `00`: always.
    Always,
    /// `01`: if unattended cash.
    UnattendedCash,
    /// `02`: if not unattended cash, not manual cash and not purchase with cashback.
    NotCashNorCashback,
    /// `03`: if the terminal supports the CVM.
    TerminalSupportsCvm,
    /// `04`: if manual cash.
    ManualCash,
    /// `05`: if purchase with cashback.
    PurchaseWithCashback,
    /// `06`: if in the application currency and under X.
    UnderX,
    /// `07`: if in the application currency and over X.
    OverX,
    /// `08`: if in the application currency and under Y.
    UnderY,
    /// `09`: if in the application currency and over Y.
    OverY,
    /// `0A`–`FF`: RFU or payment-system specific: never satisfied here.
    Unrecognised(u8),
}

impl CvmCondition {
    /// The condition of a condition code byte.
    pub fn from_code(code: u8) -> CvmCondition {
        match code {
            0x00 => CvmCondition::Always,
            0x01 => CvmCondition::UnattendedCash,
            0x02 => CvmCondition::NotCashNorCashback,
            0x03 => CvmCondition::TerminalSupportsCvm,
            0x04 => CvmCondition::ManualCash,
            0x05 => CvmCondition::PurchaseWithCashback,
            0x06 => CvmCondition::UnderX,
            0x07 => CvmCondition::OverX,
            0x08 => CvmCondition::UnderY,
            0x09 => CvmCondition::OverY,
            other => CvmCondition::Unrecognised(other),
        }
    }
}

/// What the CVM conditions look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CvmContext {
    /// Amount, authorised (minor units).
    pub amount: u64,
    /// The transaction currency (`5F2A`) is the application currency (`9F42`); conditions
    /// `06`–`09` need it.
    pub in_application_currency: bool,
    /// The terminal is unattended (terminal type `x4`–`x6`).
    pub unattended: bool,
    /// A cash transaction (`9C` = `01`).
    pub cash: bool,
    /// A purchase with cashback.
    pub cashback: bool,
    /// Terminal capabilities `9F33`.
    pub capabilities: [u8; 3],
}

impl CvmContext {
    /// Whether the terminal supports `method` (`9F33` byte 2: b8 plaintext offline PIN, b7
    /// online PIN, b6 signature, b4 no CVM). Enciphered offline PIN is never supported: the kernel
    /// does not implement PIN encipherment, whatever the capabilities say.
    pub fn supports(&self, method: CvmMethod) -> bool {
        let cvm = self.capabilities[1];
        match method {
            CvmMethod::FailCvmProcessing => true,
            CvmMethod::OfflinePlaintextPin => cvm & 0x80 != 0,
            CvmMethod::OnlinePin => cvm & 0x40 != 0,
            CvmMethod::Signature => cvm & 0x20 != 0,
            CvmMethod::OfflinePlaintextPinAndSignature => cvm & 0xA0 == 0xA0,
            CvmMethod::NoCvmRequired => cvm & 0x08 != 0,
            CvmMethod::OfflineEncipheredPin
            | CvmMethod::OfflineEncipheredPinAndSignature
            | CvmMethod::Unrecognised(_) => false,
        }
    }

    /// Whether `rule`'s condition holds (amounts X and Y from `list`).
    pub fn satisfied(&self, rule: CvmRule, list: &CvmList) -> bool {
        let x = u64::from(list.amount_x);
        let y = u64::from(list.amount_y);
        let in_currency = self.in_application_currency;
        match rule.condition() {
            CvmCondition::Always => true,
            CvmCondition::UnattendedCash => self.unattended && self.cash,
            CvmCondition::NotCashNorCashback => !self.cash && !self.cashback,
            CvmCondition::TerminalSupportsCvm => self.supports(rule.method()),
            CvmCondition::ManualCash => !self.unattended && self.cash,
            CvmCondition::PurchaseWithCashback => self.cashback,
            CvmCondition::UnderX => in_currency && self.amount < x,
            CvmCondition::OverX => in_currency && self.amount > x,
            CvmCondition::UnderY => in_currency && self.amount < y,
            CvmCondition::OverY => in_currency && self.amount > y,
            CvmCondition::Unrecognised(_) => false,
        }
    }
}

/// How an offline PIN step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinResult {
    /// The card accepted the PIN (`9000`).
    Verified,
    /// The PIN try counter is zero, or reached zero, or the card says PIN blocked
    /// (`63C0`, `6983`, `6984`): TVR "PIN try limit exceeded".
    TryLimitExceeded,
    /// The cardholder bypassed PIN entry: TVR "PIN entry required, PIN pad present, but PIN was
    /// not entered".
    NotEntered,
    /// No working PIN pad: TVR "PIN entry required and PIN pad not present or not working".
    PinPadUnavailable,
    /// The card refused VERIFY otherwise.
    Failed,
}

/// How online PIN entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnlinePinResult {
    /// Entered; the PIN pad keeps the enciphered block for the authorisation request.
    Entered,
    /// Bypassed by the cardholder.
    NotEntered,
    /// No working PIN pad.
    PinPadUnavailable,
}

/// The PIN steps of CVM processing: implemented by the flow over the card and the PIN pad.
pub trait CvmPerformer {
    /// What breaks the exchange (the transport).
    type Error;
    /// Offline plaintext PIN: prompt, VERIFY, retry while the card allows.
    fn offline_plaintext_pin(&mut self) -> Result<PinResult, Self::Error>;
    /// Online PIN entry.
    fn online_pin(&mut self) -> OnlinePinResult;
}

/// A cardholder PIN, 4 to 12 digits. `Debug` never shows it; the digits are overwritten on
/// drop (best effort: the kernel has no `zeroize` dependency).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin {
    digits: Vec<u8>,
}

impl Pin {
    /// Takes the digits (ASCII `0`–`9`), 4 to 12 of them.
    pub fn new(digits: &str) -> Option<Pin> {
        let ok = (4..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Pin {
            digits: digits.bytes().map(|b| b - b'0').collect(),
        })
    }

    /// The plaintext offline PIN block (EMV Book 3 §6.5.12.2): `2N P P … F F`, 8 bytes.
    pub fn plaintext_block(&self) -> [u8; 8] {
        let mut nibbles = [0x0F_u8; 14];
        for (slot, digit) in nibbles.iter_mut().zip(&self.digits) {
            *slot = *digit;
        }
        let mut block = [0u8; 8];
        // `new` bounds the length to 12, so it fits the low nibble.
        block[0] = 0x20 | (self.digits.len() as u8 & 0x0F);
        for (i, pair) in nibbles.chunks_exact(2).enumerate() {
            block[i + 1] = (pair[0] << 4) | pair[1];
        }
        block
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.digits.iter_mut().for_each(|d| *d = 0);
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// What the PIN pad shows the cardholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPrompt {
    /// The amount to confirm.
    pub amount: Amount,
    /// Tries left, when the card told (`9F17` or `63Cx`).
    pub tries_left: Option<u8>,
    /// 1 for the first prompt of this CVM, 2 after a wrong PIN, …
    pub attempt: u8,
}

/// What the cardholder did at an offline PIN prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinEntry {
    /// A PIN was entered.
    Pin(Pin),
    /// PIN entry bypassed.
    Bypassed,
    /// The PIN pad is missing or broken.
    Unavailable,
}

/// The integrator's PIN pad. The kernel never stores a PIN beyond the VERIFY command.
pub trait PinPad {
    /// Asks for an offline PIN (plaintext VERIFY follows).
    fn offline_pin(&mut self, prompt: &PinPrompt) -> PinEntry;
    /// Asks for an online PIN; the PIN pad enciphers it for the host itself.
    fn online_pin(&mut self, prompt: &PinPrompt) -> OnlinePinResult;
}

/// A terminal without a PIN pad.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPinPad;

impl PinPad for NoPinPad {
    fn offline_pin(&mut self, _prompt: &PinPrompt) -> PinEntry {
        PinEntry::Unavailable
    }

    fn online_pin(&mut self, _prompt: &PinPrompt) -> OnlinePinResult {
        OnlinePinResult::PinPadUnavailable
    }
}

/// CVM results, tag `9F34` (EMV Book 3 Annex A): CVM performed (the rule's code byte),
/// condition, result (`00` unknown, `01` failed, `02` successful).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CvmResults(pub [u8; 3]);

impl CvmResults {
    /// `3F 00 00`: no CVM performed (CVM not supported by the card, or no CVM list).
    pub const NOT_PERFORMED: CvmResults = CvmResults([0x3F, 0x00, 0x00]);
    /// `3F 00 01`: no rule's condition was satisfied.
    pub const NO_RULE_APPLIED: CvmResults = CvmResults([0x3F, 0x00, 0x01]);
    /// Result byte: unknown (signature, online PIN).
    pub const UNKNOWN: u8 = 0x00;
    /// Result byte: failed.
    pub const FAILED: u8 = 0x01;
    /// Result byte: successful.
    pub const SUCCESSFUL: u8 = 0x02;

    fn of(rule: CvmRule, result: u8) -> CvmResults {
        CvmResults([rule.code, rule.condition, result])
    }
}

/// What CVM processing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvmOutcome {
    /// `9F34`.
    pub results: CvmResults,
    /// TVR bits set by the processing.
    pub tvr: Tvr,
    /// Whether to set TSI "cardholder verification was performed".
    pub performed: bool,
    /// The receipt needs the cardholder's signature.
    pub signature_required: bool,
    /// An online PIN was entered (the authorisation request carries it).
    pub online_pin: bool,
}

/// Walks the CVM list (EMV Book 3 §10.5).
///
/// - AIP without "cardholder verification supported": nothing, `3F0000`.
/// - No `8E` (or an unreadable one): TVR "ICC data missing", `3F0000`; an empty rule list:
///   `3F0000`; neither sets the TSI bit.
/// - Each rule whose condition holds: an unrecognised method sets "unrecognised CVM" and fails;
///   a method the terminal does not support fails (a PIN method also sets "PIN pad not present
///   or not working", ⚠ from recall of Book 3 §10.5.1); a failed rule ends CVM processing unless
///   its b7 asks for the next rule.
/// - Nothing succeeded: TVR "cardholder verification was not successful", `9F34` = the last
///   failed rule with result `01`, or `3F0001` when no condition held.
pub fn process<P: CvmPerformer>(
    cvm_supported: bool,
    list: Option<&[u8]>,
    context: &CvmContext,
    performer: &mut P,
) -> Result<CvmOutcome, P::Error> {
    let mut outcome = CvmOutcome {
        results: CvmResults::NOT_PERFORMED,
        tvr: Tvr::new(),
        performed: false,
        signature_required: false,
        online_pin: false,
    };
    if !cvm_supported {
        return Ok(outcome);
    }
    let list = match list.map(CvmList::parse) {
        Some(Ok(list)) => list,
        None | Some(Err(_)) => {
            outcome.tvr.set(Tvr::ICC_DATA_MISSING);
            return Ok(outcome);
        }
    };
    if list.rules.is_empty() {
        return Ok(outcome);
    }
    outcome.performed = true;
    let mut last_failed = None;
    for &rule in &list.rules {
        if !context.satisfied(rule, &list) {
            continue;
        }
        let method = rule.method();
        let result = if let CvmMethod::Unrecognised(_) = method {
            outcome.tvr.set(Tvr::UNRECOGNISED_CVM);
            None
        } else if !context.supports(method) {
            if method.needs_pin() {
                outcome.tvr.set(Tvr::PIN_PAD_NOT_PRESENT_OR_NOT_WORKING);
            }
            None
        } else {
            perform(method, performer, &mut outcome)?
        };
        match result {
            Some(result) => {
                outcome.results = CvmResults::of(rule, result);
                return Ok(outcome);
            }
            None => {
                last_failed = Some(rule);
                if !rule.continue_if_unsuccessful() {
                    break;
                }
            }
        }
    }
    outcome.tvr.set(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL);
    outcome.results = match last_failed {
        Some(rule) => CvmResults::of(rule, CvmResults::FAILED),
        None => CvmResults::NO_RULE_APPLIED,
    };
    Ok(outcome)
}

/// Performs one supported method: `Some(result byte)` on success, `None` on failure.
fn perform<P: CvmPerformer>(
    method: CvmMethod,
    performer: &mut P,
    outcome: &mut CvmOutcome,
) -> Result<Option<u8>, P::Error> {
    let pin = |performer: &mut P, outcome: &mut CvmOutcome| -> Result<bool, P::Error> {
        let result = performer.offline_plaintext_pin()?;
        match result {
            PinResult::Verified => return Ok(true),
            PinResult::TryLimitExceeded => outcome.tvr.set(Tvr::PIN_TRY_LIMIT_EXCEEDED),
            PinResult::NotEntered => outcome.tvr.set(Tvr::PIN_NOT_ENTERED),
            PinResult::PinPadUnavailable => {
                outcome.tvr.set(Tvr::PIN_PAD_NOT_PRESENT_OR_NOT_WORKING)
            }
            PinResult::Failed => {}
        }
        Ok(false)
    };
    Ok(match method {
        CvmMethod::FailCvmProcessing => None,
        CvmMethod::OfflinePlaintextPin => {
            pin(performer, outcome)?.then_some(CvmResults::SUCCESSFUL)
        }
        CvmMethod::OfflinePlaintextPinAndSignature => {
            let ok = pin(performer, outcome)?;
            outcome.signature_required |= ok;
            ok.then_some(CvmResults::UNKNOWN)
        }
        CvmMethod::OnlinePin => match performer.online_pin() {
            OnlinePinResult::Entered => {
                outcome.tvr.set(Tvr::ONLINE_PIN_ENTERED);
                outcome.online_pin = true;
                Some(CvmResults::UNKNOWN)
            }
            OnlinePinResult::NotEntered => {
                outcome.tvr.set(Tvr::PIN_NOT_ENTERED);
                None
            }
            OnlinePinResult::PinPadUnavailable => {
                outcome.tvr.set(Tvr::PIN_PAD_NOT_PRESENT_OR_NOT_WORKING);
                None
            }
        },
        CvmMethod::Signature => {
            outcome.signature_required = true;
            Some(CvmResults::UNKNOWN)
        }
        CvmMethod::NoCvmRequired => Some(CvmResults::SUCCESSFUL),
        CvmMethod::OfflineEncipheredPin
        | CvmMethod::OfflineEncipheredPinAndSignature
        | CvmMethod::Unrecognised(_) => None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A scripted performer: offline PIN results in order, one online PIN result.
    struct Script {
        offline: Vec<PinResult>,
        online: OnlinePinResult,
        offline_calls: usize,
        online_calls: usize,
    }

    impl Script {
        fn new(offline: &[PinResult], online: OnlinePinResult) -> Self {
            Script {
                offline: offline.to_vec(),
                online,
                offline_calls: 0,
                online_calls: 0,
            }
        }
    }

    impl CvmPerformer for Script {
        type Error = ();
        fn offline_plaintext_pin(&mut self) -> Result<PinResult, ()> {
            let r = self
                .offline
                .get(self.offline_calls)
                .copied()
                .unwrap_or(PinResult::Failed);
            self.offline_calls += 1;
            Ok(r)
        }
        fn online_pin(&mut self) -> OnlinePinResult {
            self.online_calls += 1;
            self.online
        }
    }

    fn context(amount: u64) -> CvmContext {
        CvmContext {
            amount,
            in_application_currency: true,
            unattended: false,
            cash: false,
            cashback: false,
            capabilities: [0xE0, 0xE8, 0xC8],
        }
    }

    fn list(x: u32, y: u32, rules: &[[u8; 2]]) -> Vec<u8> {
        let mut v = x.to_be_bytes().to_vec();
        v.extend_from_slice(&y.to_be_bytes());
        for r in rules {
            v.extend_from_slice(r);
        }
        v
    }

    fn run(bytes: &[u8], ctx: &CvmContext, script: &mut Script) -> CvmOutcome {
        process(true, Some(bytes), ctx, script).unwrap()
    }

    #[test]
    fn parse_the_sim_default_list() {
        let l = CvmList::parse(&hex::decode("000000000000000042031E031F03").unwrap()).unwrap();
        assert_eq!((l.amount_x, l.amount_y), (0, 0));
        assert_eq!(l.rules.len(), 3);
        assert_eq!(l.rules[0].method(), CvmMethod::OnlinePin);
        assert!(l.rules[0].continue_if_unsuccessful());
        assert_eq!(l.rules[0].condition(), CvmCondition::TerminalSupportsCvm);
        assert_eq!(l.rules[1].method(), CvmMethod::Signature);
        assert!(!l.rules[1].continue_if_unsuccessful());
        assert_eq!(l.rules[2].method(), CvmMethod::NoCvmRequired);
        assert_eq!(CvmList::parse(&[0; 7]), Err(CvmListError::TooShort));
        assert_eq!(CvmList::parse(&[0; 9]), Err(CvmListError::OddRules));
        assert_eq!(CvmMethod::from_code(0x20), CvmMethod::Unrecognised(0x20));
        assert_eq!(
            CvmMethod::from_code(0x43),
            CvmMethod::OfflinePlaintextPinAndSignature
        );
        assert_eq!(CvmMethod::from_code(0x04), CvmMethod::OfflineEncipheredPin);
        assert_eq!(
            CvmMethod::from_code(0x45),
            CvmMethod::OfflineEncipheredPinAndSignature
        );
        assert_eq!(CvmMethod::from_code(0x00), CvmMethod::FailCvmProcessing);
        assert_eq!(
            CvmCondition::from_code(0x0A),
            CvmCondition::Unrecognised(0x0A)
        );
    }

    #[test]
    fn every_condition_code() {
        let l = CvmList::parse(&list(1000, 5000, &[])).unwrap();
        let rule = |condition: u8| CvmRule {
            code: 0x1E,
            condition,
        };
        let base = context(2000);
        let cash = CvmContext { cash: true, ..base };
        let unattended_cash = CvmContext {
            unattended: true,
            ..cash
        };
        let cashback = CvmContext {
            cashback: true,
            ..base
        };
        let foreign = CvmContext {
            in_application_currency: false,
            ..base
        };
        // 00 always.
        assert!(base.satisfied(rule(0x00), &l));
        // 01 unattended cash.
        assert!(unattended_cash.satisfied(rule(0x01), &l));
        assert!(!cash.satisfied(rule(0x01), &l));
        // 02 not cash, not cashback.
        assert!(base.satisfied(rule(0x02), &l));
        assert!(!cash.satisfied(rule(0x02), &l));
        assert!(!unattended_cash.satisfied(rule(0x02), &l));
        assert!(!cashback.satisfied(rule(0x02), &l));
        // 03 terminal supports: signature yes, enciphered offline PIN never.
        assert!(base.satisfied(rule(0x03), &l));
        assert!(!base.satisfied(
            CvmRule {
                code: 0x04,
                condition: 0x03
            },
            &l
        ));
        // 04 manual (attended) cash.
        assert!(cash.satisfied(rule(0x04), &l));
        assert!(!unattended_cash.satisfied(rule(0x04), &l));
        // 05 cashback.
        assert!(cashback.satisfied(rule(0x05), &l));
        assert!(!base.satisfied(rule(0x05), &l));
        // 06–09 amounts, only in the application currency.
        assert!(!base.satisfied(rule(0x06), &l));
        assert!(base.satisfied(rule(0x07), &l));
        assert!(base.satisfied(rule(0x08), &l));
        assert!(!base.satisfied(rule(0x09), &l));
        assert!(!foreign.satisfied(rule(0x07), &l));
        assert!(!foreign.satisfied(rule(0x08), &l));
        let at_x = context(1000);
        assert!(!at_x.satisfied(rule(0x06), &l) && !at_x.satisfied(rule(0x07), &l));
        // RFU.
        assert!(!base.satisfied(rule(0x0A), &l));
        assert!(!base.satisfied(rule(0x80), &l));
    }

    #[test]
    fn online_pin_then_signature_fallback() {
        let bytes = hex::decode("000000000000000042031E031F03").unwrap();
        let mut s = Script::new(&[], OnlinePinResult::Entered);
        let o = run(&bytes, &context(100), &mut s);
        assert_eq!(o.results, CvmResults([0x42, 0x03, 0x00]));
        assert!(o.tvr.contains(Tvr::ONLINE_PIN_ENTERED) && o.online_pin && o.performed);
        // Bypassed: next rule, signature.
        let mut s = Script::new(&[], OnlinePinResult::NotEntered);
        let o = run(&bytes, &context(100), &mut s);
        assert_eq!(o.results, CvmResults([0x1E, 0x03, 0x00]));
        assert!(o.signature_required);
        assert!(o.tvr.contains(Tvr::PIN_NOT_ENTERED));
        assert!(!o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        // A terminal with no online PIN and no signature: no CVM required.
        let ctx = CvmContext {
            capabilities: [0xE0, 0x08, 0xC8],
            ..context(100)
        };
        let mut s = Script::new(&[], OnlinePinResult::Entered);
        let o = run(&bytes, &ctx, &mut s);
        assert_eq!(o.results, CvmResults([0x1F, 0x03, 0x02]));
        assert_eq!(s.online_calls, 0);
        assert!(o.tvr.is_empty());
    }

    #[test]
    fn offline_pin_results() {
        let bytes = list(0, 0, &[[0x01, 0x00]]);
        let mut s = Script::new(&[PinResult::Verified], OnlinePinResult::Entered);
        let o = run(&bytes, &context(100), &mut s);
        assert_eq!(o.results, CvmResults([0x01, 0x00, 0x02]));
        assert!(o.tvr.is_empty());
        for (result, bit) in [
            (PinResult::TryLimitExceeded, Tvr::PIN_TRY_LIMIT_EXCEEDED),
            (PinResult::NotEntered, Tvr::PIN_NOT_ENTERED),
            (
                PinResult::PinPadUnavailable,
                Tvr::PIN_PAD_NOT_PRESENT_OR_NOT_WORKING,
            ),
        ] {
            let mut s = Script::new(&[result], OnlinePinResult::Entered);
            let o = run(&bytes, &context(100), &mut s);
            assert_eq!(o.results, CvmResults([0x01, 0x00, 0x01]), "{result:?}");
            assert!(o.tvr.contains(bit));
            assert!(o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        }
        // Failed PIN, b7 set: go on to signature.
        let bytes = list(0, 0, &[[0x41, 0x00], [0x1E, 0x00]]);
        let mut s = Script::new(&[PinResult::TryLimitExceeded], OnlinePinResult::Entered);
        let o = run(&bytes, &context(100), &mut s);
        assert_eq!(o.results, CvmResults([0x1E, 0x00, 0x00]));
        assert!(o.tvr.contains(Tvr::PIN_TRY_LIMIT_EXCEEDED));
        assert!(!o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        // PIN and signature.
        let bytes = list(0, 0, &[[0x03, 0x00]]);
        let mut s = Script::new(&[PinResult::Verified], OnlinePinResult::Entered);
        let o = run(&bytes, &context(100), &mut s);
        assert_eq!(o.results, CvmResults([0x03, 0x00, 0x00]));
        assert!(o.signature_required);
    }

    #[test]
    fn failures_unrecognised_and_missing() {
        // Fail CVM processing.
        let mut s = Script::new(&[], OnlinePinResult::Entered);
        let o = run(&list(0, 0, &[[0x00, 0x00]]), &context(1), &mut s);
        assert_eq!(o.results, CvmResults([0x00, 0x00, 0x01]));
        assert!(o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        // Unrecognised, then no CVM.
        let o = run(
            &list(0, 0, &[[0x60, 0x00], [0x1F, 0x00]]),
            &context(1),
            &mut s,
        );
        assert!(o.tvr.contains(Tvr::UNRECOGNISED_CVM));
        assert_eq!(o.results, CvmResults([0x1F, 0x00, 0x02]));
        // Unrecognised without b7: fails.
        let o = run(
            &list(0, 0, &[[0x20, 0x00], [0x1F, 0x00]]),
            &context(1),
            &mut s,
        );
        assert_eq!(o.results, CvmResults([0x20, 0x00, 0x01]));
        assert!(o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        // Offline PIN on a terminal without a PIN pad.
        let ctx = CvmContext {
            capabilities: [0xE0, 0x28, 0xC8],
            ..context(1)
        };
        let o = run(&list(0, 0, &[[0x01, 0x00]]), &ctx, &mut s);
        assert!(o.tvr.contains(Tvr::PIN_PAD_NOT_PRESENT_OR_NOT_WORKING));
        assert_eq!(s.offline_calls, 0);
        // No condition holds.
        let o = run(&list(0, 0, &[[0x1E, 0x05]]), &context(1), &mut s);
        assert_eq!(o.results, CvmResults::NO_RULE_APPLIED);
        assert!(o.tvr.contains(Tvr::CARDHOLDER_VERIFICATION_NOT_SUCCESSFUL));
        // No list: ICC data missing, no TSI; AIP without CVM: nothing.
        let o = process(true, None, &context(1), &mut s).unwrap();
        assert_eq!(o.results, CvmResults::NOT_PERFORMED);
        assert!(o.tvr.contains(Tvr::ICC_DATA_MISSING) && !o.performed);
        let o = process(false, Some(&list(0, 0, &[[0, 0]])), &context(1), &mut s).unwrap();
        assert!(o.tvr.is_empty() && !o.performed);
        assert_eq!(o.results, CvmResults::NOT_PERFORMED);
        let o = process(true, Some(&list(0, 0, &[])), &context(1), &mut s).unwrap();
        assert!(o.tvr.is_empty() && !o.performed);
    }

    #[test]
    fn pin_block_and_debug() {
        let pin = Pin::new("1234").unwrap();
        assert_eq!(
            pin.plaintext_block(),
            [0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            Pin::new("123456789012").unwrap().plaintext_block(),
            [0x2C, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xFF]
        );
        assert!(Pin::new("123").is_none() && Pin::new("12a4").is_none());
        assert_eq!(format!("{pin:?}"), "Pin(****)");
    }
}
