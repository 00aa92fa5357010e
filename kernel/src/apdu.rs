//! Command and response APDUs (ISO/IEC 7816-4 §5; EMV Book 1 §9.4, Book 3 §6) and the builders
//! for every command the kernel sends.
//!
//! Commands are short APDUs only: EMV never uses extended length (Book 1 §9.4.1), so data is
//! at most 255 bytes and Le is one byte (`00` meaning 256).
//!
//! # Why not the `iso7816` crate
//! `iso7816` 0.2's `CommandBuilder` was considered for encoding and not used:
//! it silently switches to *extended* length encoding when the data exceeds 255 bytes (a
//! command no EMV card accepts, where we want an error), it `assert!`s (panics) on data over
//! 65 535 bytes, its `serialize_to_vec` needs the crate's `std` feature, which the workspace does
//! not enable, and its `Status` enum hides unknown status words in a `__Unknown` variant. Short
//! APDU encoding is a few lines, so [`Command::to_bytes`] does it directly.
//!
//! ```
//! use quickpass_kernel::apdu::Command;
//! assert_eq!(
//!     hex::encode_upper(Command::select_ppse().to_bytes()),
//!     "00A404000E325041592E5359532E444446303100"
//! );
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::bits::CryptogramType;
use crate::tag::Tag;
use crate::values::{
    Aid, PurseAmount, Sfi, StatusWord, TransactionDate, TransactionTime, ValueError,
};

/// Why a command could not be built or a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    /// Command data longer than a short APDU allows (255 bytes; for GPO, 252 bytes of PDOL
    /// data inside tag `83`).
    #[error("command data of {len} bytes exceeds the short APDU maximum of {max}")]
    DataTooLong {
        /// Length given.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// A response shorter than the two status bytes.
    #[error("response of {len} bytes has no status word")]
    ResponseTooShort {
        /// Length received.
        len: usize,
    },
    /// A parameter is outside the range the command allows.
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),
    /// A typed value could not be encoded (e.g. an amount too large for 4 bytes).
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// Which occurrence SELECT asks for: P2 `00` first or only, `02` next (ISO/IEC 7816-4 §11.1.1,
/// EMV Book 1 §11.3.2; used for partial AID matching, pboc-notes §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occurrence {
    /// P2 = `00`: first or only occurrence.
    First,
    /// P2 = `02`: next occurrence.
    Next,
}

/// The cryptogram a GENERATE AC asks for (EMV Book 3 §6.5.5.2 Table 12). RFU cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestedCryptogram {
    /// AAC: decline.
    Aac,
    /// TC: approve offline.
    Tc,
    /// ARQC: go online.
    Arqc,
}

impl From<RequestedCryptogram> for CryptogramType {
    fn from(r: RequestedCryptogram) -> CryptogramType {
        match r {
            RequestedCryptogram::Aac => CryptogramType::Aac,
            RequestedCryptogram::Tc => CryptogramType::Tc,
            RequestedCryptogram::Arqc => CryptogramType::Arqc,
        }
    }
}

/// The PBOC ED/EP purse a command addresses: P2 `01` electronic deposit, `02` electronic purse
/// (pboc-notes §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purse {
    /// `01`: electronic deposit (ED, 电子存折).
    Deposit,
    /// `02`: electronic purse (EP, 电子钱包).
    Purse,
}

impl Purse {
    const fn p2(self) -> u8 {
        match self {
            Purse::Deposit => 0x01,
            Purse::Purse => 0x02,
        }
    }
}

/// Whether a command may be transmitted to the card a second time (issue 15 item 2).
///
/// The APDU layer re-sends a command once when the card answers `6Cxx` (wrong Le,
/// ISO/IEC 7816-3 §12.2.3). That is harmless for a command that only reads, and wrong for one
/// that moves money or a counter: the card may have executed the first one (a relay or a broken
/// card can answer `6Cxx` to anything), and a second transmission would execute it again.
/// [`Command::idempotence`] says which kind a command is, from one table ([`COMMAND_IDEMPOTENCE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotence {
    /// Only reads (or replaces session data the terminal never received): safe to send again.
    Repeatable,
    /// Moves money, a counter, a try limit or the card's state: sent at most once.
    NotRepeatable,
}

/// Which class a table row of [`COMMAND_IDEMPOTENCE`] matches: the class byte's b8
/// (ISO/IEC 7816-4 §5.4.1: `0x` interindustry, `8x` proprietary — EMV/PBOC payment commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassKind {
    /// CLA b8 = 0: `00`, `04` (secure messaging), `0C`, …
    Interindustry,
    /// CLA b8 = 1: `80`, `84` (secure messaging), …
    Proprietary,
}

impl ClassKind {
    /// The kind of a class byte.
    pub const fn of(cla: u8) -> ClassKind {
        if cla & 0x80 == 0 {
            ClassKind::Interindustry
        } else {
            ClassKind::Proprietary
        }
    }
}

/// The one table of commands the kernel knows, by class kind and INS, with their
/// [`Idempotence`] and name. A command not in the table is [`Idempotence::NotRepeatable`]: when
/// in doubt, send once.
///
/// Sources: EMV Book 3 §6.5 (the debit/credit commands and the issuer script commands, §6.5.1–
/// §6.5.12 and Book 3 Annex A for PUT DATA / UPDATE RECORD), pboc-notes §2 (qPBOC: the GPO
/// itself debits the EC balance, §2.9) and §4.1 (the ED/EP purse commands).
///
/// Decisions worth a word:
/// - **GET PROCESSING OPTIONS** is not repeatable: it increments the ATC, and in qPBOC a card
///   that answers TC has already debited its EC balance inside the GPO (pboc-notes §2.9).
/// - **INITIALIZE FOR PURCHASE / LOAD / CAPP** (`80 50`) moves no money and no counter (the
///   ATC moves at DEBIT / CREDIT), but it starts the purse session: the card draws a new
///   pseudo-random number and, for a load, a MAC1 the host verifies. A re-send would silently
///   replace the session whose answer the terminal never saw, and a `6Cxx` to a command whose Le
///   is fixed by the specification (`0F`, `10`) is itself a sign of a broken or tampered link.
///   Kept conservative: not repeatable. The cost is one declined tap (nothing has moved yet),
///   against a session the terminal cannot account for.
/// - **GET CHALLENGE**, **INTERNAL AUTHENTICATE**: repeatable — they advance no counter; the
///   challenge or signature the first one produced never reached the terminal.
/// - **GET BALANCE**, **GET TRANSACTION PROVE**: read only (pboc-notes §4.1).
pub const COMMAND_IDEMPOTENCE: &[(ClassKind, u8, Idempotence, &str)] = {
    use ClassKind::{Interindustry as I, Proprietary as P};
    use Idempotence::{NotRepeatable as Once, Repeatable as Again};
    &[
        // Reads (EMV Book 1 §11, Book 3 §6.5; ISO/IEC 7816-4 §11).
        (I, 0xA4, Again, "SELECT"),
        (I, 0xB2, Again, "READ RECORD"),
        (I, 0xB0, Again, "READ BINARY"),
        (I, 0xC0, Again, "GET RESPONSE"),
        (I, 0xCA, Again, "GET DATA"),
        (P, 0xCA, Again, "GET DATA"),
        (I, 0x84, Again, "GET CHALLENGE"),
        (I, 0x88, Again, "INTERNAL AUTHENTICATE"),
        (P, 0x5C, Again, "GET BALANCE"),
        (P, 0x5A, Again, "GET TRANSACTION PROVE"),
        // Counters and cryptograms (EMV Book 3 §6.5.5, §6.5.8; pboc-notes §2.9).
        (P, 0xA8, Once, "GET PROCESSING OPTIONS"),
        (P, 0xAE, Once, "GENERATE AC"),
        // Mastercard C-2 (pboc-notes §9.5, §9.6): RECOVER AC returns a stored answer but
        // is sent once like the GENERATE AC it stands for; the relay resistance exchange is
        // timed, so a re-send would measure nothing.
        (P, 0xD0, Once, "RECOVER AC"),
        (P, 0xEA, Once, "EXCHANGE RELAY RESISTANCE DATA"),
        // Try counters and issuer authentication (Book 3 §6.5.4, §6.5.12).
        (I, 0x20, Once, "VERIFY"),
        (I, 0x82, Once, "EXTERNAL AUTHENTICATE"),
        (I, 0x24, Once, "CHANGE REFERENCE DATA"),
        (I, 0x2C, Once, "RESET RETRY COUNTER"),
        // Issuer script commands (Book 3 §6.5.1–§6.5.3, §6.5.10, Annex A; secure messaging
        // `84`/`04`).
        (P, 0x1E, Once, "APPLICATION BLOCK"),
        (P, 0x18, Once, "APPLICATION UNBLOCK"),
        (P, 0x16, Once, "CARD BLOCK"),
        (P, 0x24, Once, "PIN CHANGE/UNBLOCK"),
        (I, 0xDA, Once, "PUT DATA"),
        (P, 0xDA, Once, "PUT DATA"),
        (I, 0xDC, Once, "UPDATE RECORD"),
        (I, 0xD6, Once, "UPDATE BINARY"),
        (I, 0xE2, Once, "APPEND RECORD"),
        // The ED/EP purse (pboc-notes §4.1).
        (P, 0x50, Once, "INITIALIZE FOR PURCHASE/LOAD/CAPP"),
        (P, 0x54, Once, "DEBIT FOR PURCHASE"),
        (P, 0x52, Once, "CREDIT FOR LOAD"),
        (P, 0x58, Once, "UPDATE OVERDRAW LIMIT"),
        (P, 0xDC, Once, "UPDATE CAPP DATA CACHE / UPDATE RECORD"),
        (P, 0x5E, Once, "CHANGE/RELOAD PIN"),
    ]
};

/// A command APDU (ISO/IEC 7816-4 §5.1), short form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    le: Option<u8>,
}

/// Largest data field of a short command APDU.
pub const MAX_DATA: usize = 255;

const fn header(cla: u8, ins: u8, p1: u8, p2: u8, le: Option<u8>) -> Command {
    Command {
        cla,
        ins,
        p1,
        p2,
        data: Vec::new(),
        le,
    }
}

impl Command {
    /// A command with data (at most 255 bytes) and an optional Le (`Some(0)` is `00`: up to 256).
    pub fn new(
        cla: u8,
        ins: u8,
        p1: u8,
        p2: u8,
        data: impl Into<Vec<u8>>,
        le: Option<u8>,
    ) -> Result<Command, ApduError> {
        let data = data.into();
        if data.len() > MAX_DATA {
            return Err(ApduError::DataTooLong {
                len: data.len(),
                max: MAX_DATA,
            });
        }
        Ok(Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }

    /// A command without data.
    pub const fn header_only(cla: u8, ins: u8, p1: u8, p2: u8, le: Option<u8>) -> Command {
        header(cla, ins, p1, p2, le)
    }

    /// The class byte.
    pub const fn cla(&self) -> u8 {
        self.cla
    }

    /// The instruction byte.
    pub const fn ins(&self) -> u8 {
        self.ins
    }

    /// Parameter 1.
    pub const fn p1(&self) -> u8 {
        self.p1
    }

    /// Parameter 2.
    pub const fn p2(&self) -> u8 {
        self.p2
    }

    /// The data field (maybe empty).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Le, if present (`Some(0)` = `00`).
    pub const fn le(&self) -> Option<u8> {
        self.le
    }

    /// Whether this command may be sent again ([`COMMAND_IDEMPOTENCE`]; a command the table
    /// does not list is [`Idempotence::NotRepeatable`]).
    pub fn idempotence(&self) -> Idempotence {
        let class = ClassKind::of(self.cla);
        COMMAND_IDEMPOTENCE
            .iter()
            .find(|(kind, ins, _, _)| *kind == class && *ins == self.ins)
            .map_or(Idempotence::NotRepeatable, |(_, _, idempotence, _)| {
                *idempotence
            })
    }

    /// `true` when [`Command::idempotence`] is [`Idempotence::Repeatable`].
    pub fn is_repeatable(&self) -> bool {
        self.idempotence() == Idempotence::Repeatable
    }

    /// The same command with another Le (used for the `6Cxx` re-send, ISO/IEC 7816-3 §12.2.3).
    pub fn with_le(mut self, le: Option<u8>) -> Command {
        self.le = le;
        self
    }

    /// The encoded APDU: `CLA INS P1 P2 [Lc data] [Le]` (ISO/IEC 7816-4 §5.1, cases 1–4).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            // `new` guarantees data.len() <= 255.
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        out
    }

    // --- EMV / PBOC debit-credit commands (EMV Book 1 §11, Book 3 §6.5) ----------------------

    /// SELECT by DF name (EMV Book 1 §11.3): `00 A4 04 P2 Lc name 00`, name 1–16 bytes.
    pub fn select_df_name(name: &[u8], occurrence: Occurrence) -> Result<Command, ApduError> {
        if name.is_empty() || name.len() > 16 {
            return Err(ApduError::InvalidParameter("DF name must be 1 to 16 bytes"));
        }
        let p2 = match occurrence {
            Occurrence::First => 0x00,
            Occurrence::Next => 0x02,
        };
        Command::new(0x00, 0xA4, 0x04, p2, name, Some(0x00))
    }

    /// SELECT an application by AID (EMV Book 1 §12.3, pboc-notes §1.1).
    pub fn select_aid(aid: &Aid, occurrence: Occurrence) -> Command {
        let p2 = match occurrence {
            Occurrence::First => 0x00,
            Occurrence::Next => 0x02,
        };
        Command {
            data: aid.as_bytes().to_vec(),
            ..header(0x00, 0xA4, 0x04, p2, Some(0x00))
        }
    }

    /// SELECT the contactless directory `2PAY.SYS.DDF01` (PPSE; pboc-notes §1.1).
    pub fn select_ppse() -> Command {
        Command {
            data: b"2PAY.SYS.DDF01".to_vec(),
            ..header(0x00, 0xA4, 0x04, 0x00, Some(0x00))
        }
    }

    /// SELECT the contact directory `1PAY.SYS.DDF01` (PSE; EMV Book 1 §12.2.2, pboc-notes §1.2).
    pub fn select_pse() -> Command {
        Command {
            data: b"1PAY.SYS.DDF01".to_vec(),
            ..header(0x00, 0xA4, 0x04, 0x00, Some(0x00))
        }
    }

    /// SELECT by file identifier, `00 A4 00 00 02 FID` (ISO/IEC 7816-4 §11.1.1), as legacy
    /// ED/EP cards need for ADF `1001` (pboc-notes §1.3).
    pub fn select_file_id(fid: u16) -> Command {
        Command {
            data: fid.to_be_bytes().to_vec(),
            ..header(0x00, 0xA4, 0x00, 0x00, None)
        }
    }

    /// READ RECORD (EMV Book 3 §6.5.11): `00 B2 record (SFI<<3)|4 00`. Record 0 (the
    /// "current record" of ISO 7816-4) is refused: EMV numbers records from 1.
    pub fn read_record(record: u8, sfi: Sfi) -> Result<Command, ApduError> {
        if record == 0 {
            return Err(ApduError::InvalidParameter("record number 0"));
        }
        Ok(header(
            0x00,
            0xB2,
            record,
            (sfi.value() << 3) | 0x04,
            Some(0x00),
        ))
    }

    /// GET PROCESSING OPTIONS (EMV Book 3 §6.5.8): `80 A8 00 00 Lc 83 L <PDOL data> 00`. With
    /// no PDOL, pass empty data (`83 00`). PDOL data may be at most 252 bytes.
    pub fn get_processing_options(pdol_data: &[u8]) -> Result<Command, ApduError> {
        const MAX: usize = MAX_DATA - 3;
        if pdol_data.len() > MAX {
            return Err(ApduError::DataTooLong {
                len: pdol_data.len(),
                max: MAX,
            });
        }
        let data = crate::tlv::encoded(Tag::new(0x83), pdol_data);
        Command::new(0x80, 0xA8, 0x00, 0x00, data, Some(0x00))
    }

    /// GET DATA (EMV Book 3 §6.5.7): `80 CA P1 P2 00` with P1 P2 the tag (one- or two-byte tags,
    /// e.g. `9F79` EC balance, `9F36` ATC, `9F4F` log format; pboc-notes §2.10).
    pub fn get_data(tag: Tag) -> Result<Command, ApduError> {
        if tag.len() > 2 {
            return Err(ApduError::InvalidParameter(
                "GET DATA takes a one- or two-byte tag",
            ));
        }
        let [_, _, p1, p2] = tag.packed().to_be_bytes();
        Ok(header(0x80, 0xCA, p1, p2, Some(0x00)))
    }

    /// INTERNAL AUTHENTICATE (EMV Book 3 §6.5.9): `00 88 00 00 Lc <DDOL data> 00`.
    pub fn internal_authenticate(ddol_data: &[u8]) -> Result<Command, ApduError> {
        Command::new(0x00, 0x88, 0x00, 0x00, ddol_data, Some(0x00))
    }

    /// GENERATE AC (EMV Book 3 §6.5.5): `80 AE P1 00 Lc <CDOL data> 00`, P1 = cryptogram type
    /// (b8–b7) | `10` when CDA is requested (b5).
    pub fn generate_ac(
        cryptogram: RequestedCryptogram,
        cda: bool,
        cdol_data: &[u8],
    ) -> Result<Command, ApduError> {
        let p1 = CryptogramType::from(cryptogram).bits() | if cda { 0x10 } else { 0x00 };
        Command::new(0x80, 0xAE, p1, 0x00, cdol_data, Some(0x00))
    }

    /// GET CHALLENGE (EMV Book 3 §6.5.6): `00 84 00 00 00`.
    pub fn get_challenge() -> Command {
        header(0x00, 0x84, 0x00, 0x00, Some(0x00))
    }

    /// VERIFY with a plaintext offline PIN (EMV Book 3 §6.5.12): `00 20 00 80 08 <PIN block>`.
    pub fn verify_plaintext(pin_block: &[u8; 8]) -> Command {
        Command {
            data: pin_block.to_vec(),
            ..header(0x00, 0x20, 0x00, 0x80, None)
        }
    }

    /// VERIFY with an enciphered offline PIN (EMV Book 3 §6.5.12): `00 20 00 88 Lc <data>`,
    /// the data being the PIN block enciphered with the ICC (PIN) public key.
    pub fn verify_enciphered(enciphered: &[u8]) -> Result<Command, ApduError> {
        Command::new(0x00, 0x20, 0x00, 0x88, enciphered, None)
    }

    /// EXTERNAL AUTHENTICATE (EMV Book 3 §6.5.4): `00 82 00 00 Lc <issuer authentication data>`,
    /// 8 to 16 bytes (tag `91`).
    pub fn external_authenticate(issuer_auth_data: &[u8]) -> Result<Command, ApduError> {
        if !(8..=16).contains(&issuer_auth_data.len()) {
            return Err(ApduError::InvalidParameter(
                "issuer authentication data must be 8 to 16 bytes",
            ));
        }
        Command::new(0x00, 0x82, 0x00, 0x00, issuer_auth_data, None)
    }

    /// GET RESPONSE (ISO/IEC 7816-4 §7.6.1; EMV Book 1 §9.3.1.3): `00 C0 00 00 Le`.
    pub const fn get_response(le: u8) -> Command {
        header(0x00, 0xC0, 0x00, 0x00, Some(le))
    }

    // --- PBOC ED/EP commands (JR/T 0025 Part 1 as digested in pboc-notes §4.1) -------------

    /// GET BALANCE: `80 5C 00 P2 04`, P2 `01` ED / `02` EP. The card answers the 4-byte binary
    /// balance ([`PurseAmount::from_be_bytes`]).
    pub const fn get_balance(purse: Purse) -> Command {
        header(0x80, 0x5C, 0x00, purse.p2(), Some(0x04))
    }

    /// GET BALANCE with another P1 (`80 5C P1 P2 04`): Shanghai/T-Union cards read balance,
    /// overdraft and limit with P1 `01`–`03` (pboc-notes §4.1, meanings vary by issuer ⚠).
    pub const fn get_balance_variant(p1: u8, purse: Purse) -> Command {
        header(0x80, 0x5C, p1, purse.p2(), Some(0x04))
    }

    fn initialize(
        p1: u8,
        p2: u8,
        key_index: u8,
        amount: PurseAmount,
        terminal_id: &[u8; 6],
        le: u8,
    ) -> Command {
        let mut data = Vec::with_capacity(11);
        data.push(key_index);
        data.extend_from_slice(&amount.to_be_bytes());
        data.extend_from_slice(terminal_id);
        Command {
            data,
            ..header(0x80, 0x50, p1, p2, Some(le))
        }
    }

    /// INITIALIZE FOR PURCHASE: `80 50 01 P2 0B <key index ‖ amount(4) ‖ terminal no.(6)> 0F`.
    pub fn initialize_for_purchase(
        purse: Purse,
        key_index: u8,
        amount: PurseAmount,
        terminal_id: &[u8; 6],
    ) -> Command {
        Command::initialize(0x01, purse.p2(), key_index, amount, terminal_id, 0x0F)
    }

    /// INITIALIZE FOR CAPP PURCHASE (composite purchase): `80 50 03 02 0B <…> 0F`, EP only.
    pub fn initialize_for_capp_purchase(
        key_index: u8,
        amount: PurseAmount,
        terminal_id: &[u8; 6],
    ) -> Command {
        Command::initialize(0x03, 0x02, key_index, amount, terminal_id, 0x0F)
    }

    /// INITIALIZE FOR LOAD: `80 50 00 P2 0B <key index ‖ amount(4) ‖ terminal no.(6)> 10`.
    pub fn initialize_for_load(
        purse: Purse,
        key_index: u8,
        amount: PurseAmount,
        terminal_id: &[u8; 6],
    ) -> Command {
        Command::initialize(0x00, purse.p2(), key_index, amount, terminal_id, 0x10)
    }

    /// DEBIT FOR PURCHASE / CAPP PURCHASE: `80 54 01 00 0F <terminal transaction serial(4) ‖
    /// date YYYYMMDD(4) ‖ time hhmmss(3) ‖ MAC1(4)> 08`.
    pub fn debit_for_purchase(
        terminal_serial: u32,
        date: TransactionDate,
        time: TransactionTime,
        mac1: &[u8; 4],
    ) -> Command {
        let mut data = Vec::with_capacity(15);
        data.extend_from_slice(&terminal_serial.to_be_bytes());
        data.extend_from_slice(&date.to_yyyymmdd_bcd());
        data.extend_from_slice(&time.to_bcd());
        data.extend_from_slice(mac1);
        Command {
            data,
            ..header(0x80, 0x54, 0x01, 0x00, Some(0x08))
        }
    }

    /// CREDIT FOR LOAD: `80 52 00 00 0B <date YYYYMMDD(4) ‖ time hhmmss(3) ‖ MAC2(4)> 04`.
    pub fn credit_for_load(
        date: TransactionDate,
        time: TransactionTime,
        mac2: &[u8; 4],
    ) -> Command {
        let mut data = Vec::with_capacity(11);
        data.extend_from_slice(&date.to_yyyymmdd_bcd());
        data.extend_from_slice(&time.to_bcd());
        data.extend_from_slice(mac2);
        Command {
            data,
            ..header(0x80, 0x52, 0x00, 0x00, Some(0x04))
        }
    }

    /// UPDATE CAPP DATA CACHE (JT/T 978 / ED-EP): `80 DC <record id> <SFI<<3> Lc <record>`,
    /// issued between INITIALIZE FOR CAPP PURCHASE and DEBIT (pboc-notes §4.1).
    pub fn update_capp_data_cache(
        record_id: u8,
        sfi: Sfi,
        record: &[u8],
    ) -> Result<Command, ApduError> {
        Command::new(0x80, 0xDC, record_id, sfi.value() << 3, record, None)
    }

    /// GET TRANSACTION PROVE: `80 5A 00 <transaction type> 02 <ATC(2)> 08`; returns MAC2 and TAC
    /// of an interrupted transaction (pboc-notes §4.1; type e.g. `06` EP purchase, `09` CAPP).
    pub fn get_transaction_prove(transaction_type: u8, atc: u16) -> Command {
        Command {
            data: atc.to_be_bytes().to_vec(),
            ..header(0x80, 0x5A, 0x00, transaction_type, Some(0x08))
        }
    }

    /// READ BINARY with a short file identifier (ISO/IEC 7816-4 §11.2.3):
    /// `00 B0 <80|SFI> <offset> <Le>`, e.g. `00 B0 95 00 1E` reads EF15 (pboc-notes §4.1).
    pub fn read_binary_sfi(sfi: Sfi, offset: u8, le: u8) -> Command {
        header(0x00, 0xB0, 0x80 | sfi.value(), offset, Some(le))
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({})", hex::encode_upper(self.to_bytes()))
    }
}

/// A response APDU: data and status word (ISO/IEC 7816-4 §5.1, EMV Book 1 §9.4.2).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// The response data (maybe empty).
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: StatusWord,
}

impl Response {
    /// Makes a response from its parts.
    pub fn new(data: impl Into<Vec<u8>>, sw: StatusWord) -> Response {
        Response {
            data: data.into(),
            sw,
        }
    }

    /// Splits R-APDU bytes into data and the final two status bytes. Fewer than 2 bytes is an
    /// error.
    pub fn split(bytes: &[u8]) -> Result<Response, ApduError> {
        match bytes {
            [data @ .., sw1, sw2] => Ok(Response {
                data: data.to_vec(),
                sw: StatusWord::from_bytes(*sw1, *sw2),
            }),
            _ => Err(ApduError::ResponseTooShort { len: bytes.len() }),
        }
    }

    /// True when the status word is `9000`.
    pub fn is_success(&self) -> bool {
        self.sw.is_success()
    }

    /// The encoded R-APDU: data ‖ SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} {})", hex::encode_upper(&self.data), self.sw)
    }
}

/// The *core* of an encoded short command APDU: the APDU without its Le byte (vectors README
/// §4). 4 bytes → as is; 5 bytes → the 4-byte header; header ‖ Lc ‖ data → as is;
/// header ‖ Lc ‖ data ‖ Le → without the last byte. Bytes that fit none of these shapes
/// (shorter than 4, or a length that disagrees with Lc) are returned unchanged.
pub fn core(encoded: &[u8]) -> &[u8] {
    match encoded.len() {
        5 => &encoded[..4],
        n if n > 5 => {
            let lc = usize::from(encoded[4]);
            if lc != 0 && n == 5 + lc + 1 {
                &encoded[..n - 1]
            } else {
                encoded
            }
        }
        _ => encoded,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn core_shapes() {
        assert_eq!(core(&[0, 0x84, 0, 0]), &[0, 0x84, 0, 0]);
        assert_eq!(core(&[0, 0x84, 0, 0, 0]), &[0, 0x84, 0, 0]);
        assert_eq!(core(&[0, 0x20, 0, 0x80, 1, 9]), &[0, 0x20, 0, 0x80, 1, 9]);
        assert_eq!(core(&[0, 0xA4, 4, 0, 1, 9, 0]), &[0, 0xA4, 4, 0, 1, 9]);
        assert_eq!(core(&[1, 2]), &[1, 2]);
    }
}
