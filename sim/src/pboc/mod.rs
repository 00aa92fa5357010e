//! The simulated UnionPay PBOC application: debit, credit and electronic cash (EC) with qPBOC
//! (JR/T 0025.12 as digested in pboc-notes §2), contactless full PBOC and contact PBOC
//! (EMV Book 3), ODA with RSA or SM2 certificates from the [test CA](crate::ca).
//!
//! A [`PbocApplication`] is personalised from a [`PbocProfile`] (`vectors/cards/pboc.md`) and
//! plugs into a [`VirtualCard`](crate::VirtualCard). Commands it answers:
//!
//! | command | bytes | notes |
//! |---|---|---|
//! | GET PROCESSING OPTIONS | `80 A8 00 00` | qPBOC decision (§2.9), full-path/contact AIP+AFL |
//! | READ RECORD | `00 B2` | AFL records, transaction log (`9F4D`), load log (`DF4D`) |
//! | GET DATA | `80 CA` | `9F79 9F77 9F78 9F6D 9F36 9F13 9F17 9F4F DF4F 9F51` |
//! | GENERATE AC | `80 AE` | first and second, CDA when P1 b5 is set |
//! | INTERNAL AUTHENTICATE | `00 88` | DDA, SDAD over the command data |
//! | EXTERNAL AUTHENTICATE | `00 82` | ARPC method 1, `9000` / `6300` |
//! | GET CHALLENGE | `00 84` | 8 bytes |
//! | VERIFY | `00 20 00 80` | plaintext offline PIN with try counter |
//! | PUT DATA | `04 DA` | issuer script (MAC), EC balance/limits |
//! | APPLICATION BLOCK / UNBLOCK | `84 1E` / `84 18` | issuer script (MAC) |
//!
//! The card's "random" numbers (GET CHALLENGE, ICC dynamic number, card unpredictable number in
//! `9F69`) come from SHA-1 over a per-card seed and a counter, so a transaction replays
//! byte for byte. Nothing here panics on any command bytes.

mod contact;
pub mod crypto;
mod personalise;
mod profile;
mod qpboc;

use std::collections::BTreeMap;
use std::fmt;

use quickpass_crypto::oda::issue;
use quickpass_kernel::bits::CryptogramType;
use quickpass_kernel::dol::DolSource;
use quickpass_kernel::tags;
use quickpass_kernel::tlv;
use quickpass_kernel::values::bcd::{bcd_to_u64, u64_to_bcd};
use quickpass_kernel::values::StatusWord;
use quickpass_kernel::{Format, Tag};

use super::apdu::{CommandApdu, Reply};
use super::card::Application;
use super::profile::ProfileError;
use personalise::{Personalised, Signer, State};

pub use profile::{
    CapProfile, ContactlessPath, EcProfile, FaultProfile, LogProfile, OdaAlgorithm, OdaProfile,
    PbocFields, PbocProfile, RecordProfile, Secret,
};
pub use qpboc::{qpboc_decision, QpbocDecision, QpbocInputs};

const SW_WRONG_LENGTH: StatusWord = StatusWord::WRONG_LENGTH;
const SW_CONDITIONS: StatusWord = StatusWord::CONDITIONS_NOT_SATISFIED;
const SW_INTERNAL: StatusWord = StatusWord::NO_PRECISE_DIAGNOSIS;

/// Which path the transaction took at GPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// qPBOC: the GPO response held the cryptogram.
    Qpboc,
    /// Contactless full PBOC (READ RECORD + GENERATE AC).
    ContactlessFull,
    /// Contact PBOC.
    Contact,
}

/// The first cryptogram of the transaction.
#[derive(Debug, Clone, Copy)]
struct FirstAc {
    kind: CryptogramType,
    ac: [u8; 8],
}

/// Per-transaction state, dropped on SELECT and reset.
#[derive(Clone, Default)]
struct Session {
    path: Option<Path>,
    terminal: BTreeMap<Tag, Vec<u8>>,
    pdol_data: Vec<u8>,
    cdol1_data: Vec<u8>,
    first: Option<FirstAc>,
    second_done: bool,
    issuer_authentication: Option<bool>,
}

/// A UnionPay PBOC application on a simulated card.
#[derive(Clone)]
pub struct PbocApplication {
    card: Personalised,
    state: State,
    session: Session,
}

impl fmt::Debug for PbocApplication {
    /// The AID, label and counters; never the PAN, keys or PIN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PbocApplication")
            .field("aid", &hex::encode_upper(&self.card.aid))
            .field("atc", &self.state.atc)
            .field("ec_balance", &self.state.ec.map(|e| e.balance))
            .field("blocked", &self.state.blocked)
            .finish_non_exhaustive()
    }
}

/// Values looked up first in `first`, then in `second`; formats from the tag dictionary.
struct Values<'a> {
    first: &'a BTreeMap<Tag, Vec<u8>>,
    second: &'a BTreeMap<Tag, Vec<u8>>,
}

impl DolSource for Values<'_> {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.first
            .get(&tag)
            .or_else(|| self.second.get(&tag))
            .map(Vec::as_slice)
    }
    fn format(&self, tag: Tag) -> Format {
        tags::format_of(tag)
    }
}

/// `n12` of an amount (values were checked to fit at personalisation / PUT DATA).
fn n12(value: u64) -> [u8; 6] {
    u64_to_bcd::<6>(value).unwrap_or([0x99; 6])
}

/// CVR byte 1 (pboc-notes §2.9): b8–b7 the 2nd GAC type (`10` = not requested), b6–b5 the
/// 1st GAC / GPO type (`00` AAC, `01` TC, `10` ARQC).
fn cvr_byte(first: CryptogramType, second: Option<CryptogramType>) -> u8 {
    let bits = |kind: CryptogramType| match kind {
        CryptogramType::Tc => 0b01,
        CryptogramType::Arqc => 0b10,
        _ => 0b00,
    };
    let second_bits = second.map_or(0b10, bits);
    (second_bits << 6) | (bits(first) << 4)
}

impl PbocApplication {
    /// Personalises the application from its profile: keys derived, certificates issued by the
    /// test CA, records and counters set. `field` is the profile path used in errors.
    pub fn personalise(profile: &PbocProfile, field: &str) -> Result<Self, ProfileError> {
        let (card, state) = personalise::personalise(profile, field)?;
        Ok(PbocApplication {
            card,
            state,
            session: Session::default(),
        })
    }

    /// The application transaction counter `9F36`.
    pub fn atc(&self) -> u16 {
        self.state.atc
    }

    /// The last online ATC register `9F13`.
    pub fn last_online_atc(&self) -> u16 {
        self.state.last_online_atc
    }

    /// The EC balance `9F79`, `None` without an EC account.
    pub fn ec_balance(&self) -> Option<u64> {
        self.state.ec.map(|e| e.balance)
    }

    /// Sets the EC balance (a test shortcut for an issuer load); refused above the balance limit
    /// or without an EC account.
    pub fn set_ec_balance(&mut self, balance: u64) -> bool {
        match self.state.ec.as_mut() {
            Some(ec) if balance <= ec.balance_limit => {
                ec.balance = balance;
                true
            }
            _ => false,
        }
    }

    /// The PIN try counter `9F17`.
    pub fn pin_try_counter(&self) -> u8 {
        self.state.pin_tries
    }

    /// Whether the application is blocked.
    pub fn is_blocked(&self) -> bool {
        self.state.blocked
    }

    /// The records of the transaction log, newest first.
    pub fn transaction_log(&self) -> impl Iterator<Item = &[u8]> {
        self.state.transaction_log.iter().map(Vec::as_slice)
    }

    /// The card data object `tag` as personalised (records, certificates, …).
    pub fn data_object(&self, tag: Tag) -> Option<&[u8]> {
        self.card.data.get(&tag).map(Vec::as_slice)
    }

    /// The next 8 "random" bytes: SHA-1(seed ‖ counter), deterministic per card.
    fn random(&mut self) -> [u8; 8] {
        self.state.random_counter = self.state.random_counter.wrapping_add(1);
        let mut input = self.card.seed.to_vec();
        input.extend_from_slice(&self.state.random_counter.to_be_bytes());
        let digest = quickpass_crypto::hash::sha1(&input);
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }

    fn atc_bytes(&self) -> [u8; 2] {
        if self.card.faults.atc_zero {
            return [0, 0];
        }
        self.state.atc.to_be_bytes()
    }

    /// Increments the ATC at GPO; `None` when it is exhausted.
    fn next_atc(&mut self) -> Option<[u8; 2]> {
        self.state.atc = self.state.atc.checked_add(1)?;
        Some(self.atc_bytes())
    }

    /// A terminal value from the session (PDOL / CDOL data), or `None`.
    fn terminal(&self, tag: Tag) -> Option<&[u8]> {
        self.session.terminal.get(&tag).map(Vec::as_slice)
    }

    /// The transaction amount `9F02`; `None` if it is not BCD. Missing counts as zero.
    fn amount(&self) -> Option<u64> {
        match self.terminal(tags::AMOUNT_AUTHORISED) {
            Some(value) => bcd_to_u64(value).ok(),
            None => Some(0),
        }
    }

    /// True when the transaction currency `5F2A` is the card's (or mismatch is allowed).
    fn currency_ok(&self) -> bool {
        self.card.cap.allow_currency_mismatch
            || self.terminal(tags::TRANSACTION_CURRENCY_CODE) == Some(&self.card.currency[..])
    }

    fn ec_balance_n12(&self) -> [u8; 6] {
        n12(self.state.ec.map_or(0, |e| e.balance))
    }

    /// IAD and AC for the current terminal data, ATC and CVR.
    fn cryptogram(&self, cvr: [u8; 3]) -> Option<(Vec<u8>, [u8; 8])> {
        let atc = self.atc_bytes();
        let iad = crypto::issuer_application_data(
            &self.card.udk,
            self.card.dki,
            cvr,
            atc,
            self.ec_balance_n12(),
        )
        .ok()?;
        let terminal = Values {
            first: &self.session.terminal,
            second: &BTreeMap::new(),
        };
        let data = crypto::cvn01_ac_data(&terminal, self.card.aip, atc, &iad);
        let mut ac = crypto::application_cryptogram(&self.card.udk, atc, &data).ok()?;
        if self.card.faults.tamper_ac {
            ac[7] ^= 0x01;
        }
        Some((iad, ac))
    }

    /// Signed dynamic application data (`9F4B`): RSA format `05` (EMV Book 2 Table 17) or
    /// SM2 format `15` (⚠ crypto crate layout), over `icc_dynamic_data` with `dynamic_data`
    /// appended to the hash / signed message. The `tamper_sdad` fault signs a wrong hash.
    fn sign_sdad(&self, icc_dynamic_data: &[u8], dynamic_data: &[u8]) -> Option<Vec<u8>> {
        let tamper = self.card.faults.tamper_sdad;
        match self.card.signer? {
            Signer::Rsa(key) => {
                let mut block = issue::sdad_block(
                    key.modulus().len(),
                    self.card.sdad_format,
                    icc_dynamic_data,
                    dynamic_data,
                )
                .ok()?;
                if tamper {
                    let n = block.len();
                    block[n - 2] ^= 0x01;
                }
                key.sign_block(&block).ok()
            }
            Signer::Sm2(key) => {
                let mut sdad = issue::sm2_sdad(key, icc_dynamic_data, dynamic_data).ok()?;
                if tamper {
                    if let Some(last) = sdad.last_mut() {
                        *last ^= 0x01;
                    }
                }
                Some(sdad)
            }
        }
    }

    /// Appends a transaction log record (values of the `9F4F` DOL, newest first).
    fn log_transaction(&mut self) {
        let log = &self.card.transaction_log;
        if log.records == 0 {
            return;
        }
        let mut card = BTreeMap::new();
        card.insert(tags::ATC, self.atc_bytes().to_vec());
        card.insert(tags::EC_BALANCE, self.ec_balance_n12().to_vec());
        let record = log.format.build(&Values {
            first: &self.session.terminal,
            second: &card,
        });
        self.state.transaction_log.push_front(record);
        self.state
            .transaction_log
            .truncate(usize::from(log.records));
    }

    /// Appends a load log record: PUT DATA P1 P2 ‖ value before (6) ‖ value after (6) ‖ values
    /// of the `DF4F` DOL (⚠ layout recalled from JR/T 0025.13, not in pboc-notes).
    fn log_load(&mut self, p1p2: [u8; 2], before: [u8; 6], after: [u8; 6]) {
        let log = &self.card.load_log;
        if log.records == 0 {
            return;
        }
        let mut card = BTreeMap::new();
        card.insert(tags::ATC, self.atc_bytes().to_vec());
        let mut record = p1p2.to_vec();
        record.extend_from_slice(&before);
        record.extend_from_slice(&after);
        record.extend_from_slice(&log.format.build(&Values {
            first: &self.session.terminal,
            second: &card,
        }));
        self.state.load_log.push_front(record);
        self.state.load_log.truncate(usize::from(log.records));
    }

    /// READ RECORD (EMV Book 3 §6.5.11): AFL records, then the two logs (pboc-notes §2.10).
    fn read_record(&self, command: &CommandApdu<'_>) -> Reply {
        if command.p2 & 0x07 != 0x04 || command.p2 >> 3 == 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let sfi = command.p2 >> 3;
        let number = command.p1;
        let log = if sfi == self.card.transaction_log.sfi && self.card.transaction_log.records > 0 {
            Some(&self.state.transaction_log)
        } else if sfi == self.card.load_log.sfi && self.card.load_log.records > 0 {
            Some(&self.state.load_log)
        } else {
            None
        };
        if let Some(log) = log {
            return match usize::from(number).checked_sub(1).and_then(|i| log.get(i)) {
                Some(record) => Reply::ok(record.clone()),
                None => Reply::status(StatusWord::RECORD_NOT_FOUND),
            };
        }
        if !self.card.records.keys().any(|&(s, _)| s == sfi) {
            return Reply::status(StatusWord::FILE_NOT_FOUND);
        }
        match self.card.records.get(&(sfi, number)) {
            Some(record) => Reply::ok(record.clone()),
            None => Reply::status(StatusWord::RECORD_NOT_FOUND),
        }
    }

    /// GET DATA (EMV Book 3 §6.5.7; pboc-notes §2.10).
    fn get_data(&self, command: &CommandApdu<'_>) -> Reply {
        let tag = Tag::new(u32::from(u16::from_be_bytes([command.p1, command.p2])));
        let ec = self.state.ec;
        let value: Option<Vec<u8>> = match tag {
            tags::ATC => Some(self.atc_bytes().to_vec()),
            tags::LAST_ONLINE_ATC_REGISTER => {
                Some(self.state.last_online_atc.to_be_bytes().to_vec())
            }
            tags::PIN_TRY_COUNTER => Some(vec![self.state.pin_tries]),
            tags::EC_BALANCE => ec.map(|e| n12(e.balance).to_vec()),
            tags::EC_BALANCE_LIMIT => ec.map(|e| n12(e.balance_limit).to_vec()),
            tags::EC_SINGLE_TRANSACTION_LIMIT => {
                ec.map(|e| n12(e.single_transaction_limit).to_vec())
            }
            tags::EC_RESET_THRESHOLD => ec.map(|e| n12(e.reset_threshold).to_vec()),
            tags::PBOC_APPLICATION_CURRENCY_CODE => ec.map(|_| self.card.currency.to_vec()),
            tags::LOG_FORMAT if self.card.transaction_log.records > 0 => {
                Some(self.card.transaction_log.format_bytes.clone())
            }
            tags::LOAD_LOG_FORMAT if self.card.load_log.records > 0 => {
                Some(self.card.load_log.format_bytes.clone())
            }
            _ => None,
        };
        match value {
            Some(value) if command.p1 != 0 || command.p2 != 0 => {
                Reply::ok(tlv::encoded(tag, &value))
            }
            _ => Reply::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        }
    }

    /// GET CHALLENGE (EMV Book 3 §6.5.6): 8 bytes.
    fn get_challenge(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        Reply::ok(self.random().to_vec())
    }

    /// VERIFY, plaintext offline PIN (EMV Book 3 §6.5.12): PIN block `2N PP…PF…F`.
    fn verify(&mut self, command: &CommandApdu<'_>) -> Reply {
        match (command.p1, command.p2) {
            (0x00, 0x80) => {}
            (0x00, 0x88) => return Reply::status(StatusWord::FUNCTION_NOT_SUPPORTED),
            _ => return Reply::status(StatusWord::INCORRECT_P1_P2),
        }
        let Ok(block) = <[u8; 8]>::try_from(command.data) else {
            return Reply::status(SW_WRONG_LENGTH);
        };
        let nibbles: Vec<u8> = block.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
        let length = usize::from(nibbles[1]);
        let well_formed = nibbles[0] == 0x2
            && (4..=12).contains(&length)
            && nibbles[2..2 + length].iter().all(|&n| n <= 9)
            && nibbles[2 + length..].iter().all(|&n| n == 0x0F);
        if !well_formed {
            return Reply::status(StatusWord::INCORRECT_DATA);
        }
        if self.state.pin_tries == 0 {
            return Reply::status(StatusWord::AUTHENTICATION_METHOD_BLOCKED);
        }
        if nibbles[2..2 + length] == self.card.pin[..] {
            self.state.pin_tries = self.card.pin_try_limit;
            Reply::status(StatusWord::OK)
        } else {
            self.state.pin_tries -= 1;
            Reply::status(StatusWord(0x63C0 | u16::from(self.state.pin_tries)))
        }
    }

    fn dispatch(&mut self, command: &CommandApdu<'_>) -> Reply {
        match (command.cla, command.ins) {
            (0x80, 0xA8) => self.gpo(command),
            (0x00, 0xB2) => self.read_record(command),
            (0x80, 0xCA) => self.get_data(command),
            (0x80, 0xAE) => self.generate_ac(command),
            (0x00, 0x88) => self.internal_authenticate(command),
            (0x00, 0x82) => self.external_authenticate(command),
            (0x00, 0x84) => self.get_challenge(command),
            (0x00, 0x20) => self.verify(command),
            (0x04, 0xDA) | (0x84, 0x1E) | (0x84, 0x18) => self.issuer_script(command),
            (_, 0xA8 | 0xB2 | 0xCA | 0xAE | 0x88 | 0x82 | 0x84 | 0x20 | 0xDA | 0x1E | 0x18) => {
                Reply::status(StatusWord::CLA_NOT_SUPPORTED)
            }
            _ => Reply::status(StatusWord::INS_NOT_SUPPORTED),
        }
    }
}

impl Application for PbocApplication {
    fn df_name(&self) -> &[u8] {
        &self.card.aid
    }

    fn directory_entry(&self) -> Option<Vec<u8>> {
        Some(self.card.directory_entry.clone())
    }

    fn in_ppse(&self) -> bool {
        self.card.in_ppse
    }

    fn in_pse(&self) -> bool {
        self.card.in_pse
    }

    /// The FCI (pboc-notes §1.1 layout); `6283` with the FCI when blocked.
    fn select(&mut self) -> Reply {
        self.session = Session::default();
        let mut reply = Reply::ok(self.card.fci.clone());
        if self.state.blocked {
            reply.sw = StatusWord::SELECTED_FILE_INVALIDATED;
        }
        reply
    }

    fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
        self.dispatch(command)
    }

    fn reset(&mut self) {
        self.session = Session::default();
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn duplicate(&self) -> Option<Box<dyn Application>> {
        Some(Box::new(self.clone()))
    }
}

#[cfg(test)]
mod tests;
