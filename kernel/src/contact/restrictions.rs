//! Processing restrictions (EMV Book 3 §10.4): application version numbers, application usage
//! control against the transaction and the terminal, effective and expiration dates.
//!
//! Pure: the card data and terminal values in, the TVR bits to set out. A restriction never
//! stops the transaction by itself; terminal action analysis weighs the bits.

use crate::bits::Tvr;
use crate::card_data::CardData;
use crate::config::TerminalData;
use crate::tags;
use crate::terminal_values::TransactionInput;
use crate::values::bcd;
use crate::values::TransactionDate;

/// Application usage control, tag `9F07`, 2 bytes (EMV Book 3 Annex C2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationUsageControl(pub [u8; 2]);

impl ApplicationUsageControl {
    /// Byte 1 b8: valid for domestic cash transactions.
    pub const DOMESTIC_CASH: (usize, u8) = (0, 0x80);
    /// Byte 1 b7: valid for international cash transactions.
    pub const INTERNATIONAL_CASH: (usize, u8) = (0, 0x40);
    /// Byte 1 b6: valid for domestic goods.
    pub const DOMESTIC_GOODS: (usize, u8) = (0, 0x20);
    /// Byte 1 b5: valid for international goods.
    pub const INTERNATIONAL_GOODS: (usize, u8) = (0, 0x10);
    /// Byte 1 b4: valid for domestic services.
    pub const DOMESTIC_SERVICES: (usize, u8) = (0, 0x08);
    /// Byte 1 b3: valid for international services.
    pub const INTERNATIONAL_SERVICES: (usize, u8) = (0, 0x04);
    /// Byte 1 b2: valid at ATMs.
    pub const ATMS: (usize, u8) = (0, 0x02);
    /// Byte 1 b1: valid at terminals other than ATMs.
    pub const NON_ATM_TERMINALS: (usize, u8) = (0, 0x01);
    /// Byte 2 b8: domestic cashback allowed.
    pub const DOMESTIC_CASHBACK: (usize, u8) = (1, 0x80);
    /// Byte 2 b7: international cashback allowed.
    pub const INTERNATIONAL_CASHBACK: (usize, u8) = (1, 0x40);

    /// Reads the tag value; it must be 2 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 2]>::try_from(bytes).ok().map(ApplicationUsageControl)
    }

    /// True when the bit `(byte index, mask)` is set.
    pub fn allows(&self, bit: (usize, u8)) -> bool {
        self.0.get(bit.0).is_some_and(|b| b & bit.1 != 0)
    }
}

/// What kind of service the transaction asks for, as the AUC check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `9C` = `01`: cash.
    Cash,
    /// `9C` = `09`, or a purchase with an amount, other: purchase with cashback.
    PurchaseWithCashback,
    /// `9C` = `00` (and anything not listed): purchase of goods or services.
    Purchase,
    /// `9C` = `20`: refund. Book 3 names no AUC bit for it; only the ATM check applies.
    Refund,
}

impl Service {
    /// The service of the transaction (`9C` and whether `9F03` is non-zero).
    pub fn of(input: &TransactionInput) -> Service {
        match input.transaction_type {
            0x01 => Service::Cash,
            0x09 => Service::PurchaseWithCashback,
            0x20 => Service::Refund,
            _ if !input.amount_other.is_zero() => Service::PurchaseWithCashback,
            _ => Service::Purchase,
        }
    }
}

/// True for an ATM: terminal type `14`, `15` or `16` with cash capability (`9F40` byte 1 b8)
/// (EMV Book 4 Annex A1).
pub fn is_atm(terminal: &TerminalData) -> bool {
    matches!(terminal.terminal_type[0], 0x14..=0x16)
        && terminal.additional_capabilities[0] & 0x80 != 0
}

/// The processing restrictions: the TVR bits they set.
///
/// - `9F08` present and different from the terminal's `9F09` → "ICC and terminal have different
///   application versions" (absent `9F08`: assumed compatible).
/// - `9F07` present: ATM / non-ATM validity; when `5F28` is present too, domestic (= `9F1A`) or
///   international validity for cash, goods/services and cashback → "requested service not
///   allowed". A purchase needs the goods **or** the services bit: the kernel does not know which
///   one the merchant sells (⚠ our reading).
/// - `5F25` after the transaction date → "application not yet effective"; `5F24` before it →
///   "expired application". A malformed date counts as failing its check.
pub fn check(
    card: &CardData,
    terminal: &TerminalData,
    terminal_version: [u8; 2],
    input: &TransactionInput,
) -> Tvr {
    let mut tvr = Tvr::new();
    if let Some(version) = card.get(tags::APPLICATION_VERSION_NUMBER_CARD) {
        if version != terminal_version {
            tvr.set(Tvr::DIFFERENT_APPLICATION_VERSIONS);
        }
    }
    if let Some(auc) = card.get(tags::APPLICATION_USAGE_CONTROL) {
        let allowed = match ApplicationUsageControl::from_slice(auc) {
            Some(auc) => usage_allowed(&auc, card, terminal, input),
            None => false,
        };
        if !allowed {
            tvr.set(Tvr::SERVICE_NOT_ALLOWED);
        }
    }
    if let Some(effective) = card.get(tags::APPLICATION_EFFECTIVE_DATE) {
        if TransactionDate::from_bcd(effective).map_or(true, |d| d > input.date) {
            tvr.set(Tvr::APPLICATION_NOT_YET_EFFECTIVE);
        }
    }
    if let Some(expiry) = card.get(tags::APPLICATION_EXPIRATION_DATE) {
        if TransactionDate::from_bcd(expiry).map_or(true, |d| d < input.date) {
            tvr.set(Tvr::EXPIRED_APPLICATION);
        }
    }
    tvr
}

fn usage_allowed(
    auc: &ApplicationUsageControl,
    card: &CardData,
    terminal: &TerminalData,
    input: &TransactionInput,
) -> bool {
    type A = ApplicationUsageControl;
    let place = if is_atm(terminal) {
        A::ATMS
    } else {
        A::NON_ATM_TERMINALS
    };
    if !auc.allows(place) {
        return false;
    }
    let Some(issuer_country) = card.get(tags::ISSUER_COUNTRY_CODE) else {
        return true;
    };
    let domestic = bcd::bcd_to_u64(issuer_country).ok() == Some(u64::from(terminal.country_code));
    let pick = |domestic_bit, international_bit| {
        if domestic {
            domestic_bit
        } else {
            international_bit
        }
    };
    let goods_or_services = auc.allows(pick(A::DOMESTIC_GOODS, A::INTERNATIONAL_GOODS))
        || auc.allows(pick(A::DOMESTIC_SERVICES, A::INTERNATIONAL_SERVICES));
    match Service::of(input) {
        Service::Cash => auc.allows(pick(A::DOMESTIC_CASH, A::INTERNATIONAL_CASH)),
        Service::Purchase => goods_or_services,
        Service::PurchaseWithCashback => {
            goods_or_services && auc.allows(pick(A::DOMESTIC_CASHBACK, A::INTERNATIONAL_CASHBACK))
        }
        Service::Refund => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::values::{Amount, TransactionTime};

    fn terminal() -> TerminalData {
        TerminalData {
            country_code: 156,
            currency_code: 156,
            currency_exponent: 2,
            terminal_type: [0x22],
            capabilities: [0xE0, 0xA8, 0xC8],
            additional_capabilities: [0x60, 0, 0xF0, 0xA0, 0x01],
            ifd_serial: "T1".into(),
            terminal_id: String::new(),
            merchant_id: String::new(),
            merchant_name_location: String::new(),
            merchant_category_code: 0,
            ttq: None,
            online_capable: true,
            contact_supported: true,
            sm_supported: false,
        }
    }

    fn input(kind: u8, other: u64) -> TransactionInput {
        TransactionInput {
            amount: Amount::from_minor(100).unwrap(),
            amount_other: Amount::from_minor(other).unwrap(),
            transaction_type: kind,
            date: TransactionDate::new(2025, 6, 1).unwrap(),
            time: TransactionTime::new(1, 2, 3).unwrap(),
            unpredictable_number: [0; 4],
        }
    }

    fn card(auc: &[u8], country: &[u8]) -> CardData {
        let mut card = CardData::new();
        card.insert(tags::APPLICATION_USAGE_CONTROL, auc);
        card.insert(tags::ISSUER_COUNTRY_CODE, country);
        card
    }

    #[test]
    fn versions_and_dates() {
        let mut c = CardData::new();
        c.insert(tags::APPLICATION_VERSION_NUMBER_CARD, &[0x00, 0x30]);
        c.insert(tags::APPLICATION_EFFECTIVE_DATE, &[0x25, 0x06, 0x01]);
        c.insert(tags::APPLICATION_EXPIRATION_DATE, &[0x25, 0x06, 0x01]);
        let t = terminal();
        assert!(check(&c, &t, [0x00, 0x30], &input(0, 0)).is_empty());
        let tvr = check(&c, &t, [0x00, 0x20], &input(0, 0));
        assert_eq!(tvr.as_bytes(), &[0, 0x80, 0, 0, 0]);
        let mut later = input(0, 0);
        later.date = TransactionDate::new(2025, 6, 2).unwrap();
        assert!(check(&c, &t, [0x00, 0x30], &later).contains(Tvr::EXPIRED_APPLICATION));
        let mut earlier = input(0, 0);
        earlier.date = TransactionDate::new(2025, 5, 31).unwrap();
        let tvr = check(&c, &t, [0x00, 0x30], &earlier);
        assert!(tvr.contains(Tvr::APPLICATION_NOT_YET_EFFECTIVE));
        assert!(!tvr.contains(Tvr::EXPIRED_APPLICATION));
        let mut bad = CardData::new();
        bad.insert(tags::APPLICATION_EXPIRATION_DATE, &[0x25, 0x13, 0x01]);
        assert!(check(&bad, &t, [0, 0x30], &input(0, 0)).contains(Tvr::EXPIRED_APPLICATION));
    }

    #[test]
    fn usage_control_domestic_and_international() {
        let t = terminal();
        let domestic = [0x01, 0x56];
        let foreign = [0x08, 0x40];
        let ok = |auc: [u8; 2], country: [u8; 2], kind: u8, other: u64| {
            !check(&card(&auc, &country), &t, [0, 0x30], &input(kind, other))
                .contains(Tvr::SERVICE_NOT_ALLOWED)
        };
        assert!(ok([0xFF, 0x00], domestic, 0x00, 0));
        // Not valid at non-ATM terminals.
        assert!(!ok([0xFE, 0x00], domestic, 0x00, 0));
        // Domestic goods only: fine at home, refused abroad.
        assert!(ok([0x21, 0x00], domestic, 0x00, 0));
        assert!(!ok([0x21, 0x00], foreign, 0x00, 0));
        // Services suffice for a purchase.
        assert!(ok([0x05, 0x00], foreign, 0x00, 0));
        // Cash.
        assert!(ok([0x81, 0x00], domestic, 0x01, 0));
        assert!(!ok([0x81, 0x00], foreign, 0x01, 0));
        // Cashback needs the cashback bit as well.
        assert!(!ok([0x21, 0x00], domestic, 0x09, 0));
        assert!(ok([0x21, 0x80], domestic, 0x09, 0));
        assert!(ok([0x21, 0x80], domestic, 0x00, 500));
        assert!(!ok([0x21, 0x00], domestic, 0x00, 500));
        // A malformed AUC is refused.
        let mut c = CardData::new();
        c.insert(tags::APPLICATION_USAGE_CONTROL, &[0xFF]);
        assert!(check(&c, &t, [0, 0x30], &input(0, 0)).contains(Tvr::SERVICE_NOT_ALLOWED));
    }

    #[test]
    fn atm_needs_the_atm_bit() {
        let mut atm = terminal();
        atm.terminal_type = [0x14];
        atm.additional_capabilities[0] = 0x80;
        assert!(is_atm(&atm));
        let c = card(&[0xFD, 0x00], &[0x01, 0x56]);
        assert!(check(&c, &atm, [0, 0x30], &input(0x01, 0)).contains(Tvr::SERVICE_NOT_ALLOWED));
        let c = card(&[0x82, 0x00], &[0x01, 0x56]);
        assert!(check(&c, &atm, [0, 0x30], &input(0x01, 0)).is_empty());
    }
}
