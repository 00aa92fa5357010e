//! The terminal's data objects for one transaction: what the kernel puts into the PDOL, CDOL,
//! DDOL and field 55 (EMV Book 3 Annex A, terminal-sourced elements).

use crate::bits::{Tsi, Ttq, Tvr};
use crate::config::{AidParameters, TerminalData};
use crate::dol::DolSource;
use crate::tag::{Format, Tag};
use crate::tags;
use crate::values::{bcd, Amount, TransactionDate, TransactionTime};
use alloc::collections::BTreeMap;
use alloc::{vec, vec::Vec};

/// The inputs of one transaction that do not come from configuration: they are values, not
/// clocks or random sources, so a transaction replays byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionInput {
    /// Amount, authorised (`9F02`).
    pub amount: Amount,
    /// Amount, other (`9F03`), e.g. cashback.
    pub amount_other: Amount,
    /// Transaction type (`9C`): `00` purchase, `01` cash, `09` cashback, `20` refund.
    pub transaction_type: u8,
    /// Transaction date (`9A`); also the date for certificate and application expiry.
    pub date: TransactionDate,
    /// Transaction time (`9F21`).
    pub time: TransactionTime,
    /// Unpredictable number (`9F37`), drawn by the caller.
    pub unpredictable_number: [u8; 4],
}

/// Every terminal data object of a transaction, with the EMV format of each for DOL padding.
#[derive(Debug, Clone)]
pub struct TerminalValues {
    values: BTreeMap<Tag, Vec<u8>>,
}

impl TerminalValues {
    /// The data objects from configuration and the transaction input. Every [`Amount`] fits
    /// n12, so `9F02`/`9F03` are always present; the 4-byte binary `81` only when it fits.
    pub fn new(terminal: &TerminalData, input: &TransactionInput) -> Self {
        let mut values = BTreeMap::new();
        let mut put = |tag: Tag, value: Vec<u8>| {
            values.insert(tag, value);
        };
        put(tags::AMOUNT_AUTHORISED, input.amount.to_n12().to_vec());
        if let Ok(binary) = input.amount.to_be_bytes() {
            put(tags::AMOUNT_AUTHORISED_BINARY, binary.to_vec());
        }
        put(tags::AMOUNT_OTHER, input.amount_other.to_n12().to_vec());
        put(tags::TRANSACTION_TYPE, vec![input.transaction_type]);
        put(tags::TRANSACTION_DATE, input.date.to_bcd().to_vec());
        put(tags::TRANSACTION_TIME, input.time.to_bcd().to_vec());
        put(
            tags::UNPREDICTABLE_NUMBER,
            input.unpredictable_number.to_vec(),
        );
        if let Ok(country) = bcd::u64_to_bcd::<2>(u64::from(terminal.country_code)) {
            put(tags::TERMINAL_COUNTRY_CODE, country.to_vec());
        }
        if let Ok(currency) = bcd::u64_to_bcd::<2>(u64::from(terminal.currency_code)) {
            put(tags::TRANSACTION_CURRENCY_CODE, currency.to_vec());
        }
        put(
            tags::TRANSACTION_CURRENCY_EXPONENT,
            vec![terminal.currency_exponent],
        );
        put(tags::TERMINAL_TYPE, terminal.terminal_type.to_vec());
        put(tags::TERMINAL_CAPABILITIES, terminal.capabilities.to_vec());
        put(
            tags::ADDITIONAL_TERMINAL_CAPABILITIES,
            terminal.additional_capabilities.to_vec(),
        );
        put(
            tags::IFD_SERIAL_NUMBER,
            terminal.ifd_serial.as_bytes().to_vec(),
        );
        put(
            tags::TERMINAL_IDENTIFICATION,
            terminal.terminal_id.as_bytes().to_vec(),
        );
        put(
            tags::MERCHANT_IDENTIFIER,
            terminal.merchant_id.as_bytes().to_vec(),
        );
        put(
            tags::MERCHANT_NAME_AND_LOCATION,
            terminal.merchant_name_location.as_bytes().to_vec(),
        );
        if let Ok(mcc) = bcd::u64_to_bcd::<2>(u64::from(terminal.merchant_category_code)) {
            put(tags::MERCHANT_CATEGORY_CODE, mcc.to_vec());
        }
        put(tags::TTQ, terminal.effective_ttq().as_bytes().to_vec());
        put(tags::TVR, Tvr::new().as_bytes().to_vec());
        put(tags::TSI, Tsi::new().as_bytes().to_vec());
        put(
            tags::SM_ALGORITHM_SUPPORT_INDICATOR,
            vec![u8::from(terminal.sm_supported)],
        );
        TerminalValues { values }
    }

    /// Adds the per-AID values (`9F09`, `9F1B`, `9F7B`) once the application is chosen.
    pub fn set_aid_parameters(&mut self, parameters: &AidParameters) {
        self.set(
            tags::APPLICATION_VERSION_NUMBER_TERMINAL,
            parameters.application_version.to_vec(),
        );
        if let Ok(floor) = u32::try_from(parameters.floor_limit) {
            self.set(tags::TERMINAL_FLOOR_LIMIT, floor.to_be_bytes().to_vec());
        }
        if let Some(limit) = parameters.ec_terminal_limit {
            if let Ok(limit) = Amount::from_minor(limit) {
                self.set(tags::EC_TERMINAL_TRANSACTION_LIMIT, limit.to_n12().to_vec());
            }
        }
        let eligible = self.electronic_cash_eligible(parameters);
        self.set(
            tags::EC_TERMINAL_SUPPORT_INDICATOR,
            vec![u8::from(eligible)],
        );
    }

    /// `9F7A` = 01 only when the AID supports electronic cash, the transaction is a purchase
    /// and the amount is below the EC terminal limit `9F7B`, or the floor limit when there is
    /// none (pboc-notes §2.3, from the GL source's `EmvModul.c`).
    fn electronic_cash_eligible(&self, parameters: &AidParameters) -> bool {
        let purchase = self.get(tags::TRANSACTION_TYPE) == Some(&[0x00]);
        let amount = self
            .get(tags::AMOUNT_AUTHORISED)
            .and_then(|a| Amount::from_n12_slice(a).ok());
        let limit = parameters
            .ec_terminal_limit
            .unwrap_or(parameters.floor_limit);
        parameters.ec_supported && purchase && amount.is_some_and(|a| a.minor() < limit)
    }

    /// Sets (or replaces) one value.
    pub fn set(&mut self, tag: Tag, value: Vec<u8>) {
        self.values.insert(tag, value);
    }

    /// The value of `tag`.
    pub fn get(&self, tag: Tag) -> Option<&[u8]> {
        self.values.get(&tag).map(Vec::as_slice)
    }

    /// Sets the TTQ.
    pub fn set_ttq(&mut self, ttq: Ttq) {
        self.set(tags::TTQ, ttq.as_bytes().to_vec());
    }

    /// Sets the TVR.
    pub fn set_tvr(&mut self, tvr: Tvr) {
        self.set(tags::TVR, tvr.as_bytes().to_vec());
    }
}

impl DolSource for TerminalValues {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.get(tag)
    }

    fn format(&self, tag: Tag) -> Format {
        tags::format_of(tag)
    }
}
