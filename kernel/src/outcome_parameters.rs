//! The Outcome Parameter Set every contactless kernel hands back to Entry Point (EMV Contactless
//! Book A §6.2, pboc-notes §8.1): not only *what* happened ([`Outcome`]) but what the reader
//! does next — where to restart, what to show, whether to keep the field off, which CVM, whether
//! a data record and discretionary data come with it.
//!
//! Every kernel (qPBOC, Visa C-3, Mastercard C-2, Amex C-4) fills one; the C-2 wire form (tag
//! `DF8129`, 8 bytes) and the UI Request Data (`DF8116`, 22 bytes) are built by
//! [`OutcomeParameterSet::to_bytes`] and [`UiRequest::to_bytes`].

use serde::Serialize;

use crate::outcome::Outcome;

/// Where Entry Point starts again after the outcome (Book A §3: start A is a fresh
/// transaction with pre-processing, B waits for a card and polls, C goes to combination
/// selection with the remaining candidates, D goes straight to the kernel with the online
/// response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StartPoint {
    /// Start A: pre-processing, then protocol activation.
    A,
    /// Start B: protocol activation (present the card again).
    B,
    /// Start C: combination selection (the next candidate).
    C,
    /// Start D: kernel activation with the issuer's response (issuer update).
    D,
}

/// What the kernel needs back from the host to finish, when the outcome is an online request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnlineResponseData {
    /// EMV data (ARPC, issuer scripts) for a second presentation.
    EmvData,
    /// Any response data.
    Any,
}

/// The cardholder verification the outcome asks the reader to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCvm {
    /// No CVM.
    NoCvm,
    /// Obtain the cardholder's signature on the receipt.
    ObtainSignature,
    /// Online PIN (enciphered, sent with the authorisation request).
    OnlinePin,
    /// The consumer device verified the cardholder (CDCVM, "confirmation code verified").
    ConfirmationCodeVerified,
}

/// The interface the kernel prefers when it asks for another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlternateInterface {
    /// Insert the card (contact chip).
    ContactChip,
    /// Swipe the card (magnetic stripe).
    Magstripe,
}

/// A duration in the unit Book A uses for hold times and timeouts: 100 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Deciseconds(pub u16);

impl Deciseconds {
    /// The duration in milliseconds.
    pub fn as_millis(self) -> u32 {
        u32::from(self.0) * 100
    }
}

/// The message the reader shows (Book A §9.4 message identifiers, pboc-notes §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageId {
    /// `03` Approved.
    Approved,
    /// `07` Not authorised.
    NotAuthorised,
    /// `09` Please enter your PIN.
    EnterPin,
    /// `0F` Processing error.
    ProcessingError,
    /// `10` Remove card.
    RemoveCard,
    /// `14` Welcome.
    Welcome,
    /// `15` Present card.
    PresentCard,
    /// `16` Processing.
    Processing,
    /// `17` Card read OK, please remove card.
    CardReadOk,
    /// `18` Please insert or swipe card.
    InsertOrSwipeCard,
    /// `19` Please present one card only.
    PresentOneCardOnly,
    /// `1A` Approved, please sign.
    ApprovedPleaseSign,
    /// `1B` Authorising, please wait.
    AuthorisingPleaseWait,
    /// `1C` Insert, swipe or try another card.
    TryAnotherCard,
    /// `1D` Please insert card.
    InsertCard,
    /// `1E` Clear display.
    ClearDisplay,
    /// `20` See phone for instructions.
    SeePhone,
    /// `21` Present card again.
    PresentCardAgain,
}

impl MessageId {
    /// The one-byte identifier (Book A Table 9-x).
    pub fn code(self) -> u8 {
        match self {
            MessageId::Approved => 0x03,
            MessageId::NotAuthorised => 0x07,
            MessageId::EnterPin => 0x09,
            MessageId::ProcessingError => 0x0F,
            MessageId::RemoveCard => 0x10,
            MessageId::Welcome => 0x14,
            MessageId::PresentCard => 0x15,
            MessageId::Processing => 0x16,
            MessageId::CardReadOk => 0x17,
            MessageId::InsertOrSwipeCard => 0x18,
            MessageId::PresentOneCardOnly => 0x19,
            MessageId::ApprovedPleaseSign => 0x1A,
            MessageId::AuthorisingPleaseWait => 0x1B,
            MessageId::TryAnotherCard => 0x1C,
            MessageId::InsertCard => 0x1D,
            MessageId::ClearDisplay => 0x1E,
            MessageId::SeePhone => 0x20,
            MessageId::PresentCardAgain => 0x21,
        }
    }
}

/// The reader's status indicator (lights / sound) with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderStatus {
    /// `00` Not ready.
    NotReady,
    /// `01` Idle.
    Idle,
    /// `02` Ready to read (present card).
    ReadyToRead,
    /// `03` Processing.
    Processing,
    /// `04` Card read successfully (the card may be removed).
    CardReadSuccessfully,
    /// `05` Processing error.
    ProcessingError,
}

impl ReaderStatus {
    /// The one-byte status code.
    pub fn code(self) -> u8 {
        match self {
            ReaderStatus::NotReady => 0x00,
            ReaderStatus::Idle => 0x01,
            ReaderStatus::ReadyToRead => 0x02,
            ReaderStatus::Processing => 0x03,
            ReaderStatus::CardReadSuccessfully => 0x04,
            ReaderStatus::ProcessingError => 0x05,
        }
    }
}

/// A value shown with the message: an amount or a balance, minor units, with its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UiValue {
    /// `true` for a balance, `false` for an amount.
    pub balance: bool,
    /// The value, minor units (n12).
    pub value: u64,
    /// ISO 4217 numeric currency code.
    pub currency_code: u16,
}

/// A user-interface request (UI Request Data, C-2 tag `DF8116`): the message, the status, how
/// long to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UiRequest {
    /// The message to show.
    pub message: MessageId,
    /// The status indicator.
    pub status: ReaderStatus,
    /// How long to hold the message before the next one may replace it.
    pub hold_time: Deciseconds,
    /// A value to show with the message.
    pub value: Option<UiValue>,
}

impl UiRequest {
    /// A request with no hold time and no value.
    pub fn new(message: MessageId, status: ReaderStatus) -> Self {
        UiRequest {
            message,
            status,
            hold_time: Deciseconds(0),
            value: None,
        }
    }

    /// The 22-byte UI Request Data (`DF8116`): message, status, hold time (n6), language
    /// preference (8 bytes, none: zeros), value qualifier (`00` none, `10` amount, `20`
    /// balance), value (n12), currency code (n4).
    pub fn to_bytes(&self) -> [u8; 22] {
        let mut out = [0u8; 22];
        out[0] = self.message.code();
        out[1] = self.status.code();
        out[2..5].copy_from_slice(&bcd::<3>(u64::from(self.hold_time.0)));
        if let Some(value) = self.value {
            out[13] = if value.balance { 0x20 } else { 0x10 };
            out[14..20].copy_from_slice(&bcd::<6>(value.value));
            out[20..22].copy_from_slice(&bcd::<2>(u64::from(value.currency_code)));
        }
        out
    }
}

/// Packs the low decimal digits of `value` into `N` bytes of BCD (digits above `N * 2` are
/// dropped: callers pass values that fit).
fn bcd<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for byte in out.iter_mut().rev() {
        let low = (value % 10) as u8;
        value /= 10;
        let high = (value % 10) as u8;
        value /= 10;
        *byte = (high << 4) | low;
    }
    out
}

/// The Outcome Parameter Set: the outcome and everything the reader does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeParameterSet {
    /// The outcome.
    pub outcome: Outcome,
    /// Where Entry Point starts again (`None`: N/A, the transaction is over).
    pub start: Option<StartPoint>,
    /// What the kernel needs from the host to finish (`None`: N/A).
    pub online_response_data: Option<OnlineResponseData>,
    /// The CVM to complete (`None`: N/A).
    pub cvm: Option<OutcomeCvm>,
    /// The message to show with the outcome.
    pub ui_request_on_outcome: Option<UiRequest>,
    /// The message to show when the reader restarts (start B / C / D).
    pub ui_request_on_restart: Option<UiRequest>,
    /// The kernel returns a data record (the data for the authorisation or clearing).
    pub data_record_present: bool,
    /// The kernel returns discretionary data (balances, error indication, …).
    pub discretionary_data_present: bool,
    /// The interface to try instead (`None`: N/A).
    pub alternate_interface: Option<AlternateInterface>,
    /// The cardholder should get a receipt.
    pub receipt: bool,
    /// Switch the field off for this long before restarting (`None`: N/A).
    pub field_off_request: Option<Deciseconds>,
    /// How long to wait for the card to leave before the next poll.
    pub removal_timeout: Deciseconds,
}

impl OutcomeParameterSet {
    /// An outcome with every other parameter N/A / absent.
    pub fn new(outcome: Outcome) -> Self {
        OutcomeParameterSet {
            outcome,
            start: None,
            online_response_data: None,
            cvm: None,
            ui_request_on_outcome: None,
            ui_request_on_restart: None,
            data_record_present: false,
            discretionary_data_present: false,
            alternate_interface: None,
            receipt: false,
            field_off_request: None,
            removal_timeout: Deciseconds(0),
        }
    }

    /// The 8-byte C-2 wire form (tag `DF8129`): status, start, online response data, CVM,
    /// presence flags, alternate interface, field-off request, removal timeout; `F0` / `FF`
    /// where N/A.
    pub fn to_bytes(&self) -> [u8; 8] {
        let status = match self.outcome {
            Outcome::Approved => 0x10,
            Outcome::Declined => 0x20,
            // Accepted for travel is an online request whose authorisation is deferred.
            Outcome::OnlineRequest | Outcome::AcceptedForTravel => 0x30,
            Outcome::EndApplication => 0x40,
            Outcome::SelectNext => 0x50,
            Outcome::TryAnotherInterface => 0x60,
            Outcome::TryAgain => 0x70,
        };
        let start = match self.start {
            Some(StartPoint::A) => 0x00,
            Some(StartPoint::B) => 0x10,
            Some(StartPoint::C) => 0x20,
            Some(StartPoint::D) => 0x30,
            None => 0xF0,
        };
        let online_response = match self.online_response_data {
            // C-2 defines no values other than N/A for this byte; EMV data and Any are
            // Book A's, carried in the high nibble as the other bytes are.
            Some(OnlineResponseData::EmvData) => 0x10,
            Some(OnlineResponseData::Any) => 0x20,
            None => 0xF0,
        };
        let cvm = match self.cvm {
            Some(OutcomeCvm::NoCvm) => 0x00,
            Some(OutcomeCvm::ObtainSignature) => 0x10,
            Some(OutcomeCvm::OnlinePin) => 0x20,
            Some(OutcomeCvm::ConfirmationCodeVerified) => 0x30,
            None => 0xF0,
        };
        let mut flags = 0u8;
        if self.ui_request_on_outcome.is_some() {
            flags |= 0x80;
        }
        if self.ui_request_on_restart.is_some() {
            flags |= 0x40;
        }
        if self.data_record_present {
            flags |= 0x20;
        }
        if self.discretionary_data_present {
            flags |= 0x10;
        }
        if self.receipt {
            flags |= 0x08;
        }
        let alternate = match self.alternate_interface {
            Some(AlternateInterface::ContactChip) => 0x10,
            Some(AlternateInterface::Magstripe) => 0x20,
            None => 0xF0,
        };
        let field_off = match self.field_off_request {
            Some(hold) => u8::try_from(hold.0).unwrap_or(0xFE),
            None => 0xFF,
        };
        let removal = u8::try_from(self.removal_timeout.0).unwrap_or(0xFF);
        [
            status,
            start,
            online_response,
            cvm,
            flags,
            alternate,
            field_off,
            removal,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_again_restarts_at_b_and_encodes_as_c2_does() {
        let mut set = OutcomeParameterSet::new(Outcome::TryAgain);
        set.start = Some(StartPoint::B);
        set.ui_request_on_restart = Some(UiRequest::new(
            MessageId::PresentCardAgain,
            ReaderStatus::ReadyToRead,
        ));
        assert_eq!(
            set.to_bytes(),
            [0x70, 0x10, 0xF0, 0xF0, 0x40, 0xF0, 0xFF, 0x00]
        );
    }

    #[test]
    fn approved_with_signature_and_receipt() {
        let mut set = OutcomeParameterSet::new(Outcome::Approved);
        set.cvm = Some(OutcomeCvm::ObtainSignature);
        set.receipt = true;
        set.data_record_present = true;
        set.ui_request_on_outcome = Some(UiRequest::new(
            MessageId::ApprovedPleaseSign,
            ReaderStatus::CardReadSuccessfully,
        ));
        assert_eq!(
            set.to_bytes(),
            [0x10, 0xF0, 0xF0, 0x10, 0xA8, 0xF0, 0xFF, 0x00]
        );
    }

    #[test]
    fn ui_request_carries_hold_time_and_balance_in_bcd() {
        let request = UiRequest {
            message: MessageId::Approved,
            status: ReaderStatus::CardReadSuccessfully,
            hold_time: Deciseconds(13),
            value: Some(UiValue {
                balance: true,
                value: 49_900,
                currency_code: 156,
            }),
        };
        let bytes = request.to_bytes();
        assert_eq!(&bytes[..5], &[0x03, 0x04, 0x00, 0x00, 0x13]);
        assert_eq!(&bytes[5..13], &[0u8; 8]);
        assert_eq!(bytes[13], 0x20);
        assert_eq!(&bytes[14..20], &[0x00, 0x00, 0x00, 0x04, 0x99, 0x00]);
        assert_eq!(&bytes[20..], &[0x01, 0x56]);
    }
}
