//! A simulated PBOC ED/EP electronic purse application (JR/T 0025 Part 1 ED/EP as digested in
//! pboc-notes §4): China T-Union transit purses (JT/T 978, with the CAPP record for segmented
//! fares), city purses selected by ASCII DF name, and ETC user cards (ADF `1001`).
//!
//! # Commands (pboc-notes §4.1)
//!
//! | Command | APDU | Notes |
//! |---|---|---|
//! | READ BINARY | `00 B0 80\|SFI offset Le` | EF15 and the profile's other transparent files |
//! | READ RECORD | `00 B2 n (SFI<<3)\|4 Le` | EF18 log `C4`, EF1E travel `F4`, the CAPP file; n = 1 newest |
//! | GET BALANCE | `80 5C P1 01\|02 04` | P1 `00` balance, `01` overdraft limit, `02` overdrawn amount (always 0), `03` balance without overdraft ⚠ |
//! | INITIALIZE FOR LOAD / PURCHASE / CAPP PURCHASE | `80 50 00\|01\|03 P2 0B` | responses as §4.1 |
//! | DEBIT FOR PURCHASE / CAPP PURCHASE | `80 54 01 00 0F` | TAC ‖ MAC2 |
//! | CREDIT FOR LOAD | `80 52 00 00 0B` | TAC |
//! | UPDATE CAPP DATA CACHE | `80 DC id SFI<<3 Lc record` | only after INITIALIZE FOR CAPP PURCHASE |
//! | GET TRANSACTION PROVE | `80 5A 00 type 02 ATC` | MAC2 and TAC in [`TRANSACTION_PROVE_ORDER`] |
//!
//! # Sessions and tearing
//!
//! An INITIALIZE opens a session; DEBIT or CREDIT closes it. SELECT, a reset, another
//! INITIALIZE, a failed DEBIT/CREDIT and any command other than READ BINARY, READ RECORD, GET
//! BALANCE and (in a CAPP session) UPDATE CAPP DATA CACHE drop it; DEBIT or CREDIT without a
//! matching session answers `6985`.
//!
//! DEBIT and CREDIT change the stored state in one step: every check and every computation
//! happens first, then balance, counter, log record, cached CAPP records and the journal entry
//! are written together ([`SimPurseApplication`]'s `commit`). A tear therefore leaves the card
//! either untouched or fully debited/credited, which is what GET TRANSACTION PROVE recovery
//! relies on.
//!
//! # Counters
//!
//! INITIALIZE returns the counter *before* the transaction (N, the session-key input); the
//! transaction itself is number N+1: its EF18 record, its journal entry and the ATC that GET
//! TRANSACTION PROVE takes (pboc-notes §4.1 notes, §4.3 step 9).
//!
//! Keys are derived at personalisation ([`keys`]) and kept as zeroizing
//! [`SecretKey`]s; every MAC and TAC comes from
//! `quickpass_crypto::purse`, the same functions a terminal uses.

pub mod keys;
pub mod profile;

use std::collections::VecDeque;

use quickpass_crypto::purse as crypto;
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::apdu::Purse;
use quickpass_kernel::purse::layout::ProveOrder;
use quickpass_kernel::values::{PurseAmount, StatusWord};
use quickpass_kernel::Tag;
use quickpass_kernel::{tags, tlv};

use super::apdu::{CommandApdu, Reply};
use super::card::{push_tlv, Application};
use super::profile::ProfileError;

pub use profile::{
    BinaryFileProfile, CappProfile, CappRecordProfile, Ef15Profile, KeyDerivation, KeyHex,
    PurseFields, PurseKeyProfile, PurseProfile,
};

/// Transaction type `01`: ED load (pboc-notes §4.1, \[ZY\] ✅).
pub const TYPE_ED_LOAD: u8 = 0x01;
/// Transaction type `02`: EP load.
pub const TYPE_EP_LOAD: u8 = 0x02;
/// Transaction type `05`: ED purchase.
pub const TYPE_ED_PURCHASE: u8 = 0x05;
/// Transaction type `06`: EP purchase.
pub const TYPE_EP_PURCHASE: u8 = 0x06;
/// Transaction type `09`: composite (CAPP) purchase.
pub const TYPE_CAPP_PURCHASE: u8 = 0x09;

/// SFI of EF15, public application information.
pub const SFI_EF15: u8 = 0x15;
/// SFI of EF18, the transaction log (cyclic, 23-byte records, pboc-notes §4.6).
pub const SFI_LOG: u8 = 0x18;
/// SFI of EF1E, T-Union travel records (cyclic, 48-byte records, pboc-notes §4.7).
pub const SFI_TRAVEL: u8 = 0x1E;
/// Length of an EF18 log record.
pub const LOG_RECORD_LEN: usize = 23;
/// Length of an EF1E travel record.
pub const TRAVEL_RECORD_LEN: usize = 48;
/// How many transactions the journal behind GET TRANSACTION PROVE remembers.
pub const JOURNAL_LEN: usize = 8;

/// ⚠ pboc-notes §4.1 and §7 item 3: the order of MAC2 and TAC in the GET TRANSACTION PROVE
/// response is unverified. The notes (and the kernel's builder) describe the response as "MAC2
/// and TAC", so the simulated card answers MAC2 ‖ TAC. Change it here only: the card's order is
/// its own constant (the kernel's [`ProveOrder`] type, not its `PROVE_ORDER`), so a card that
/// answers in the other order can be simulated.
pub const TRANSACTION_PROVE_ORDER: ProveOrder = ProveOrder::Mac2ThenTac;

/// `9303`: application permanently locked (⚠ recall, pboc-notes §4.9 lists no code).
pub const SW_APPLICATION_LOCKED: StatusWord = StatusWord(0x9303);
/// `9402`: transaction counter at its maximum (⚠ recall).
pub const SW_COUNTER_LIMIT: StatusWord = StatusWord(0x9402);
/// `9406`: the requested MAC is not available — GET TRANSACTION PROVE for a transaction the
/// card did not complete (⚠ recall).
pub const SW_MAC_NOT_AVAILABLE: StatusWord = StatusWord(0x9406);

/// T-Union FCI: `9F0C` carries the 30-byte EF15 copy (pboc-notes §4.7; not the EMV IINE).
const TAG_FCI_EF15: Tag = Tag::new(0x9F0C);

/// One key set of the card (already the card's own keys).
#[derive(Debug)]
struct KeySet {
    index: u8,
    version: u8,
    algorithm_id: u8,
    purchase: Option<SecretKey>,
    load: Option<SecretKey>,
    tac: SecretKey,
}

/// A cyclic record file, newest record first.
#[derive(Debug, Clone)]
struct CyclicFile {
    capacity: usize,
    records: VecDeque<Vec<u8>>,
}

impl CyclicFile {
    fn new(capacity: usize) -> Self {
        CyclicFile {
            capacity,
            records: VecDeque::with_capacity(capacity),
        }
    }

    fn push(&mut self, record: Vec<u8>) {
        self.records.push_front(record);
        self.records.truncate(self.capacity);
    }

    fn record(&self, number: u8) -> Option<&[u8]> {
        let index = usize::from(number).checked_sub(1)?;
        self.records.get(index).map(Vec::as_slice)
    }
}

/// The CAPP record file: records found by number (READ RECORD) or by id (UPDATE CAPP DATA
/// CACHE), each `id ‖ length ‖ lock ‖ …` (⚠ the header beyond these three bytes is opaque).
#[derive(Debug, Clone)]
struct CappFile {
    sfi: u8,
    records: Vec<Vec<u8>>,
}

/// Offset of the lock byte in a CAPP record (⚠ pboc-notes §4.7/§4.8: `id ‖ length ‖ lock`).
const CAPP_LOCK_OFFSET: usize = 2;

/// A transaction the card completed, for GET TRANSACTION PROVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JournalEntry {
    transaction_type: u8,
    counter: u16,
    mac2: [u8; 4],
    tac: [u8; 4],
}

/// An UPDATE CAPP DATA CACHE waiting for the DEBIT.
#[derive(Debug, Clone)]
enum CacheUpdate {
    /// Replace CAPP record number `index` (0-based).
    Capp { index: usize, record: Vec<u8> },
    /// Append a travel record to EF1E.
    Travel(Vec<u8>),
}

#[derive(Debug, Clone)]
struct PurchaseSession {
    purse: Purse,
    transaction_type: u8,
    key: usize,
    amount: PurseAmount,
    terminal_id: [u8; 6],
    random: [u8; 4],
    counter: u16,
    cache: Vec<CacheUpdate>,
}

#[derive(Debug)]
struct LoadSession {
    purse: Purse,
    transaction_type: u8,
    key: usize,
    amount: PurseAmount,
    terminal_id: [u8; 6],
    counter: u16,
    old_balance: PurseAmount,
    session_key: SecretKey,
}

#[derive(Debug, Default)]
enum Session {
    #[default]
    Idle,
    Purchase(PurchaseSession),
    Load(LoadSession),
}

/// Everything a DEBIT or CREDIT writes, computed before anything is written.
struct Commit {
    purse: Purse,
    balance: PurseAmount,
    offline: bool,
    counter: u16,
    log: Vec<u8>,
    cache: Vec<CacheUpdate>,
    journal: JournalEntry,
}

/// A simulated ED/EP purse application; see the [module docs](self).
#[derive(Debug)]
pub struct SimPurseApplication {
    df_name: Vec<u8>,
    file_id: Option<[u8; 2]>,
    label: Option<Vec<u8>>,
    ppse: bool,
    pse: bool,
    fci: Vec<u8>,
    serial: [u8; 8],
    binary_files: Vec<(u8, Vec<u8>)>,
    ep_balance: PurseAmount,
    ed_balance: Option<PurseAmount>,
    overdraft_limit: PurseAmount,
    max_balance: PurseAmount,
    offline_counter: u16,
    online_counter: u16,
    keys: Vec<KeySet>,
    log: CyclicFile,
    travel: Option<CyclicFile>,
    capp: Option<CappFile>,
    journal: VecDeque<JournalEntry>,
    blocked: bool,
    random: u32,
    session: Session,
}

/// `6700` when `data` is not `n` bytes long.
fn exact<const N: usize>(data: &[u8]) -> Result<[u8; N], Reply> {
    data.try_into()
        .map_err(|_| Reply::status(StatusWord::WRONG_LENGTH))
}

fn be32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn purse_of(p2: u8) -> Option<Purse> {
    match p2 {
        0x01 => Some(Purse::Deposit),
        0x02 => Some(Purse::Purse),
        _ => None,
    }
}

/// The answer when a purse MAC function fails: it cannot, since every key length is checked at
/// personalisation, but a card never panics.
fn internal_error<E>(_: E) -> Reply {
    Reply::status(StatusWord::NO_PRECISE_DIAGNOSIS)
}

impl SimPurseApplication {
    /// Personalises the application from its profile: EF15 and the other files built, keys
    /// derived (⚠ [`keys`]), balances and counters set. `field` names the profile entry in
    /// errors (`applications[0]`).
    pub fn personalise(profile: &PurseProfile, field: &str) -> Result<Self, ProfileError> {
        let f = |name: &str| format!("{field}.{name}");
        let df_name = match (&profile.df_name, &profile.df_name_text) {
            (Some(name), None) => name.clone(),
            (None, Some(text)) => text.as_bytes().to_vec(),
            (None, None) if profile.file_id.is_some() => Vec::new(),
            _ => {
                return Err(ProfileError::invalid(
                    f("df_name"),
                    "give df_name or df_name_text (or only file_id), not both",
                ))
            }
        };
        if df_name.len() > 16 {
            return Err(ProfileError::invalid(f("df_name"), "at most 16 bytes"));
        }
        let file_id = profile.file_id;
        let ef15 = profile.ef15.build(&f("ef15"))?;
        let serial = keys::application_serial(&ef15)
            .ok_or_else(|| ProfileError::invalid(f("ef15"), "shorter than 20 bytes"))?;
        let second = match profile.key_derivation {
            KeyDerivation::TwoLevel => Some(match &profile.second_diversifier {
                Some(second) => *second,
                None => keys::default_second_diversifier(&ef15)
                    .ok_or_else(|| ProfileError::invalid(f("ef15"), "shorter than 8 bytes"))?,
            }),
            _ if profile.second_diversifier.is_some() => {
                return Err(ProfileError::invalid(
                    f("second_diversifier"),
                    "only with key_derivation two-level",
                ))
            }
            _ => None,
        };

        let mut key_sets = Vec::with_capacity(profile.keys.len());
        for (i, set) in profile.keys.iter().enumerate() {
            let kf = |name: &str| format!("{field}.keys[{i}].{name}");
            if set.algorithm_id != 0 {
                return Err(ProfileError::invalid(
                    kf("algorithm_id"),
                    "only 0 (3DES) is implemented",
                ));
            }
            if key_sets.iter().any(|k: &KeySet| k.index == set.index) {
                return Err(ProfileError::invalid(kf("index"), "duplicate key index"));
            }
            let derive = |key: &KeyHex, name: &str| -> Result<SecretKey, ProfileError> {
                let given = key.decode16(&kf(name))?;
                match profile.key_derivation {
                    KeyDerivation::None => Ok(given),
                    KeyDerivation::Serial | KeyDerivation::TwoLevel => {
                        keys::card_key(&given, &serial, second.as_ref())
                            .map_err(|e| ProfileError::invalid(kf(name), e.to_string()))
                    }
                }
            };
            key_sets.push(KeySet {
                index: set.index,
                version: set.version,
                algorithm_id: set.algorithm_id,
                purchase: set
                    .purchase
                    .as_ref()
                    .map(|k| derive(k, "purchase"))
                    .transpose()?,
                load: set.load.as_ref().map(|k| derive(k, "load")).transpose()?,
                tac: derive(&set.tac, "tac")?,
            });
        }

        let mut binary_files = vec![(SFI_EF15, ef15.clone())];
        for (i, file) in profile.binary_files.iter().enumerate() {
            let ff = format!("{field}.binary_files[{i}]");
            let reserved = [SFI_EF15, SFI_LOG, SFI_TRAVEL];
            if !(1..=30).contains(&file.sfi)
                || reserved.contains(&file.sfi)
                || binary_files.iter().any(|(sfi, _)| *sfi == file.sfi)
            {
                return Err(ProfileError::invalid(
                    format!("{ff}.sfi"),
                    "must be 1–30, unique, and not 21, 24 or 30",
                ));
            }
            binary_files.push((file.sfi, file.data.clone()));
        }

        let capp = profile
            .capp
            .as_ref()
            .map(|capp| Self::capp_file(capp, &f("capp"), &binary_files))
            .transpose()?;
        if profile.overdraft_limit > PurseAmount::from_fen(0x00FF_FFFF) {
            return Err(ProfileError::invalid(
                f("overdraft_limit"),
                "at most 3 bytes",
            ));
        }
        let max_balance = profile.max_balance.unwrap_or(PurseAmount::MAX);
        if profile.ep_balance > max_balance
            || profile.ed_balance.unwrap_or(PurseAmount::ZERO) > max_balance
        {
            return Err(ProfileError::invalid(f("max_balance"), "below a balance"));
        }
        if profile.log_records == 0 || profile.log_records > 255 {
            return Err(ProfileError::invalid(f("log_records"), "must be 1 to 255"));
        }
        if profile.travel_records > 255 {
            return Err(ProfileError::invalid(f("travel_records"), "at most 255"));
        }
        let random = profile.random_seed.map_or(0xA5A5_A5A5, u32::from_be_bytes);

        let label = profile.label.as_ref().map(|l| l.as_bytes().to_vec());
        let mut proprietary = Vec::new();
        if let Some(label) = &label {
            push_tlv(&mut proprietary, tags::APPLICATION_LABEL, label);
        }
        if let Some(version) = &profile.fci_version {
            push_tlv(
                &mut proprietary,
                tags::APPLICATION_VERSION_NUMBER_CARD,
                version,
            );
        }
        if profile.fci_ef15 {
            push_tlv(&mut proprietary, TAG_FCI_EF15, &ef15);
        }
        let mut fci_body = tlv::encoded(tags::DF_NAME, &df_name);
        fci_body.extend(tlv::encoded(tags::FCI_PROPRIETARY_TEMPLATE, &proprietary));

        Ok(SimPurseApplication {
            fci: tlv::encoded(tags::FCI_TEMPLATE, &fci_body),
            df_name,
            file_id,
            label,
            ppse: profile.ppse,
            pse: profile.pse,
            serial,
            binary_files,
            ep_balance: profile.ep_balance,
            ed_balance: profile.ed_balance,
            overdraft_limit: profile.overdraft_limit,
            max_balance,
            offline_counter: profile.offline_counter,
            online_counter: profile.online_counter,
            keys: key_sets,
            log: CyclicFile::new(profile.log_records),
            travel: (profile.travel_records > 0).then(|| CyclicFile::new(profile.travel_records)),
            capp,
            journal: VecDeque::with_capacity(JOURNAL_LEN),
            blocked: profile.blocked,
            random,
            session: Session::Idle,
        })
    }

    fn capp_file(
        capp: &CappProfile,
        field: &str,
        binary_files: &[(u8, Vec<u8>)],
    ) -> Result<CappFile, ProfileError> {
        if !(1..=30).contains(&capp.sfi)
            || [SFI_LOG, SFI_TRAVEL].contains(&capp.sfi)
            || binary_files.iter().any(|(sfi, _)| *sfi == capp.sfi)
        {
            return Err(ProfileError::invalid(
                format!("{field}.sfi"),
                "must be 1–30 and not used by another file",
            ));
        }
        let mut records: Vec<Vec<u8>> = Vec::with_capacity(capp.records.len());
        for (i, record) in capp.records.iter().enumerate() {
            let rf = |name: &str| format!("{field}.records[{i}].{name}");
            let [id] = record.id;
            if !(3..=255).contains(&record.size) {
                return Err(ProfileError::invalid(rf("size"), "must be 3 to 255"));
            }
            let data = match &record.data {
                Some(data) => data.clone(),
                None => {
                    let mut data = vec![0u8; record.size];
                    data[0] = id;
                    data[1] = (record.size - 2) as u8;
                    data
                }
            };
            if data.len() != record.size || data[0] != id {
                return Err(ProfileError::invalid(
                    rf("data"),
                    "must be `size` bytes starting with the id",
                ));
            }
            if records.iter().any(|r| r[0] == id) {
                return Err(ProfileError::invalid(rf("id"), "duplicate record id"));
            }
            records.push(data);
        }
        Ok(CappFile {
            sfi: capp.sfi,
            records,
        })
    }

    // --- inspection, for tests and tools ------------------------------------------------------

    /// The balance of the electronic purse or deposit, fen (`None`: the card has no ED).
    pub fn balance(&self, purse: Purse) -> Option<PurseAmount> {
        match purse {
            Purse::Purse => Some(self.ep_balance),
            Purse::Deposit => self.ed_balance,
        }
    }

    /// The offline (purchase) transaction counter.
    pub fn offline_counter(&self) -> u16 {
        self.offline_counter
    }

    /// The online (load) transaction counter.
    pub fn online_counter(&self) -> u16 {
        self.online_counter
    }

    /// The 8-byte application serial the keys are diversified with (EF15 bytes 12–19).
    pub fn application_serial(&self) -> [u8; 8] {
        self.serial
    }

    /// A transparent file by SFI (EF15 is `0x15`).
    pub fn binary_file(&self, sfi: u8) -> Option<&[u8]> {
        self.binary_files
            .iter()
            .find(|(s, _)| *s == sfi)
            .map(|(_, data)| data.as_slice())
    }

    /// The EF18 log records, newest first.
    pub fn log_records(&self) -> Vec<&[u8]> {
        self.log.records.iter().map(Vec::as_slice).collect()
    }

    /// The EF1E travel records, newest first (empty when the card has no EF1E).
    pub fn travel_records(&self) -> Vec<&[u8]> {
        self.travel
            .iter()
            .flat_map(|t| t.records.iter().map(Vec::as_slice))
            .collect()
    }

    /// The stored (committed) CAPP record with identifier `id`.
    pub fn capp_record(&self, id: u8) -> Option<&[u8]> {
        self.capp
            .as_ref()?
            .records
            .iter()
            .find(|r| r[0] == id)
            .map(Vec::as_slice)
    }

    /// MAC2 and TAC the card remembers for the transaction of `transaction_type` and number
    /// `counter` (what GET TRANSACTION PROVE answers).
    pub fn transaction_proof(
        &self,
        transaction_type: u8,
        counter: u16,
    ) -> Option<([u8; 4], [u8; 4])> {
        self.journal
            .iter()
            .find(|e| e.transaction_type == transaction_type && e.counter == counter)
            .map(|e| (e.mac2, e.tac))
    }

    /// Whether a purchase or load session is open.
    pub fn in_session(&self) -> bool {
        !matches!(self.session, Session::Idle)
    }

    /// Whether the application is blocked.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Blocks or unblocks the application (as an issuer script would).
    pub fn set_blocked(&mut self, blocked: bool) {
        self.blocked = blocked;
        self.session = Session::Idle;
    }

    // --- commands -----------------------------------------------------------------------------

    /// The next card pseudo-random number (xorshift32: deterministic, so transcripts replay).
    fn next_random(&mut self) -> [u8; 4] {
        let current = self.random;
        let mut x = if current == 0 { 0xA5A5_A5A5 } else { current };
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.random = x;
        current.to_be_bytes()
    }

    fn balance_mut(&mut self, purse: Purse) -> Option<&mut PurseAmount> {
        match purse {
            Purse::Purse => Some(&mut self.ep_balance),
            Purse::Deposit => self.ed_balance.as_mut(),
        }
    }

    fn read_binary(&self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 & 0x80 == 0 {
            // No EF is ever current: the dispatcher owns SELECT.
            return Reply::status(StatusWord::COMMAND_NOT_ALLOWED);
        }
        let sfi = command.p1 & 0x1F;
        let Some(file) = self.binary_file(sfi) else {
            return Reply::status(StatusWord::FILE_NOT_FOUND);
        };
        let offset = usize::from(command.p2);
        if offset >= file.len() {
            return Reply::status(StatusWord::WRONG_P1_P2);
        }
        let rest = &file[offset..];
        match command.le {
            None | Some(256) => Reply::ok(&rest[..rest.len().min(256)]),
            Some(le) if le <= rest.len() => Reply::ok(&rest[..le]),
            Some(_) => Reply::status(StatusWord(0x6C00 | rest.len() as u16)),
        }
    }

    fn read_record(&self, command: &CommandApdu<'_>) -> Reply {
        if command.p2 & 0x07 != 0x04 || command.p1 == 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let sfi = command.p2 >> 3;
        let record = if sfi == SFI_LOG {
            self.log.record(command.p1)
        } else if let (SFI_TRAVEL, Some(travel)) = (sfi, &self.travel) {
            travel.record(command.p1)
        } else if let Some(capp) = self.capp.as_ref().filter(|c| c.sfi == sfi) {
            capp.records
                .get(usize::from(command.p1) - 1)
                .map(Vec::as_slice)
        } else {
            return Reply::status(StatusWord::FILE_NOT_FOUND);
        };
        match (record, command.le) {
            (None, _) => Reply::status(StatusWord::RECORD_NOT_FOUND),
            (Some(record), None | Some(256)) => Reply::ok(record),
            (Some(record), Some(le)) if le == record.len() => Reply::ok(record),
            (Some(record), Some(_)) => Reply::status(StatusWord(0x6C00 | record.len() as u16)),
        }
    }

    fn get_balance(&self, command: &CommandApdu<'_>) -> Reply {
        let Some(balance) = purse_of(command.p2).and_then(|p| self.balance(p)) else {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        };
        // ⚠ pboc-notes §4.1: P1 meanings vary by issuer; no overdraft is ever used here.
        let value = match command.p1 {
            0x00 | 0x03 => balance,
            0x01 => self.overdraft_limit,
            0x02 => PurseAmount::ZERO,
            _ => return Reply::status(StatusWord::INCORRECT_P1_P2),
        };
        Reply::ok(value.to_be_bytes())
    }

    fn initialize(&mut self, command: &CommandApdu<'_>) -> Reply {
        let (Some(purse), true) = (
            purse_of(command.p2),
            matches!(command.p1, 0x00 | 0x01 | 0x03),
        ) else {
            return Reply::status(if matches!(command.p1, 0x02 | 0x04 | 0x05) {
                StatusWord::FUNCTION_NOT_SUPPORTED
            } else {
                StatusWord::INCORRECT_P1_P2
            });
        };
        if command.p1 == 0x03 && (purse != Purse::Purse || self.capp.is_none()) {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let Some(balance) = self.balance(purse) else {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        };
        let data = match exact::<11>(command.data) {
            Ok(data) => data,
            Err(reply) => return reply,
        };
        if self.blocked {
            return Reply::status(SW_APPLICATION_LOCKED);
        }
        let key_index = data[0];
        let amount = PurseAmount::from_be_bytes([data[1], data[2], data[3], data[4]]);
        let mut terminal_id = [0u8; 6];
        terminal_id.copy_from_slice(&data[5..11]);
        let Some(key) = self.keys.iter().position(|k| k.index == key_index) else {
            return Reply::status(StatusWord::KEY_INDEX_NOT_SUPPORTED);
        };
        let load = command.p1 == 0x00;
        let key_set = &self.keys[key];
        let has_key = if load {
            key_set.load.is_some()
        } else {
            key_set.purchase.is_some()
        };
        if !has_key {
            return Reply::status(StatusWord::KEY_INDEX_NOT_SUPPORTED);
        }
        let (version, algorithm_id) = (key_set.version, key_set.algorithm_id);
        if load {
            self.initialize_load(
                purse,
                key,
                amount,
                terminal_id,
                balance,
                version,
                algorithm_id,
            )
        } else {
            if amount > balance {
                return Reply::status(StatusWord::INSUFFICIENT_BALANCE);
            }
            if self.offline_counter == u16::MAX {
                return Reply::status(SW_COUNTER_LIMIT);
            }
            let transaction_type = match (command.p1, purse) {
                (0x03, _) => TYPE_CAPP_PURCHASE,
                (_, Purse::Purse) => TYPE_EP_PURCHASE,
                (_, Purse::Deposit) => TYPE_ED_PURCHASE,
            };
            let random = self.next_random();
            let counter = self.offline_counter;
            self.session = Session::Purchase(PurchaseSession {
                purse,
                transaction_type,
                key,
                amount,
                terminal_id,
                random,
                counter,
                cache: Vec::new(),
            });
            // old balance 4 ‖ offline ATC 2 ‖ overdraft limit 3 ‖ key version ‖ algorithm ‖ random 4
            let mut out = Vec::with_capacity(15);
            out.extend_from_slice(&balance.to_be_bytes());
            out.extend_from_slice(&counter.to_be_bytes());
            out.extend_from_slice(&self.overdraft_limit.to_be_bytes()[1..]);
            out.push(version);
            out.push(algorithm_id);
            out.extend_from_slice(&random);
            Reply::ok(out)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn initialize_load(
        &mut self,
        purse: Purse,
        key: usize,
        amount: PurseAmount,
        terminal_id: [u8; 6],
        balance: PurseAmount,
        version: u8,
        algorithm_id: u8,
    ) -> Reply {
        if balance
            .checked_add(amount)
            .is_none_or(|b| b > self.max_balance)
        {
            // ⚠ no source names the status word for "load above the maximum balance".
            return Reply::status(StatusWord::INCORRECT_DATA);
        }
        if self.online_counter == u16::MAX {
            return Reply::status(SW_COUNTER_LIMIT);
        }
        let transaction_type = match purse {
            Purse::Purse => TYPE_EP_LOAD,
            Purse::Deposit => TYPE_ED_LOAD,
        };
        let random = self.next_random();
        let counter = self.online_counter;
        let Some(dlk) = self.keys[key].load.as_ref() else {
            return Reply::status(StatusWord::KEY_INDEX_NOT_SUPPORTED);
        };
        let session_key = match crypto::load_session_key(dlk, random, counter) {
            Ok(key) => key,
            Err(e) => return internal_error(e),
        };
        let mac1 = match crypto::load_mac1(
            &session_key,
            balance.fen(),
            amount.fen(),
            transaction_type,
            terminal_id,
        ) {
            Ok(mac) => mac,
            Err(e) => return internal_error(e),
        };
        self.session = Session::Load(LoadSession {
            purse,
            transaction_type,
            key,
            amount,
            terminal_id,
            counter,
            old_balance: balance,
            session_key,
        });
        // old balance 4 ‖ online ATC 2 ‖ key version ‖ algorithm ‖ random 4 ‖ MAC1 4
        let mut out = Vec::with_capacity(16);
        out.extend_from_slice(&balance.to_be_bytes());
        out.extend_from_slice(&counter.to_be_bytes());
        out.push(version);
        out.push(algorithm_id);
        out.extend_from_slice(&random);
        out.extend_from_slice(&mac1);
        Reply::ok(out)
    }

    fn debit(&mut self, command: &CommandApdu<'_>, session: Session) -> Reply {
        if command.p1 != 0x01 || command.p2 != 0x00 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let Session::Purchase(session) = session else {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let data = match exact::<15>(command.data) {
            Ok(data) => data,
            Err(reply) => return reply,
        };
        let terminal_serial = be32(&data[..4]);
        let mut date = [0u8; 4];
        date.copy_from_slice(&data[4..8]);
        let mut time = [0u8; 3];
        time.copy_from_slice(&data[8..11]);
        let key_set = &self.keys[session.key];
        let Some(dpk) = key_set.purchase.as_ref() else {
            return Reply::status(StatusWord::KEY_INDEX_NOT_SUPPORTED);
        };
        let sk = match crypto::purchase_session_key(
            dpk,
            session.random,
            session.counter,
            terminal_serial,
        ) {
            Ok(sk) => sk,
            Err(e) => return internal_error(e),
        };
        let mac_data = crypto::PurchaseMacData {
            amount: session.amount.fen(),
            transaction_type: session.transaction_type,
            terminal_id: session.terminal_id,
            date,
            time,
        };
        match crypto::purchase_mac1(&sk, &mac_data) {
            Ok(mac1) if mac1[..] == data[11..] => {}
            Ok(_) => return Reply::status(StatusWord::MAC_INVALID),
            Err(e) => return internal_error(e),
        }
        let Some(balance) = self
            .balance(session.purse)
            .and_then(|b| b.checked_sub(session.amount))
        else {
            return Reply::status(StatusWord::INSUFFICIENT_BALANCE);
        };
        let mac2 = match crypto::purchase_mac2(&sk, session.amount.fen()) {
            Ok(mac) => mac,
            Err(e) => return internal_error(e),
        };
        let tac_data = crypto::PurchaseTacData {
            amount: session.amount.fen(),
            transaction_type: session.transaction_type,
            terminal_id: session.terminal_id,
            terminal_serial,
            date,
            time,
        };
        let tac = match crypto::purchase_tac(&key_set.tac, &tac_data) {
            Ok(tac) => tac,
            Err(e) => return internal_error(e),
        };
        let counter = session.counter.wrapping_add(1);
        self.commit(Commit {
            purse: session.purse,
            balance,
            offline: true,
            counter,
            log: self.log_record(counter, &mac_data),
            cache: session.cache,
            journal: JournalEntry {
                transaction_type: session.transaction_type,
                counter,
                mac2,
                tac,
            },
        });
        let mut out = Vec::with_capacity(8);
        out.extend_from_slice(&tac);
        out.extend_from_slice(&mac2);
        Reply::ok(out)
    }

    fn credit(&mut self, command: &CommandApdu<'_>, session: Session) -> Reply {
        if command.p1 != 0x00 || command.p2 != 0x00 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let Session::Load(session) = session else {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let data = match exact::<11>(command.data) {
            Ok(data) => data,
            Err(reply) => return reply,
        };
        let mut date = [0u8; 4];
        date.copy_from_slice(&data[..4]);
        let mut time = [0u8; 3];
        time.copy_from_slice(&data[4..7]);
        let mac_data = crypto::LoadMac2Data {
            amount: session.amount.fen(),
            transaction_type: session.transaction_type,
            terminal_id: session.terminal_id,
            date,
            time,
        };
        let mac2 = match crypto::load_mac2(&session.session_key, &mac_data) {
            Ok(mac2) if mac2[..] == data[7..] => mac2,
            Ok(_) => return Reply::status(StatusWord::MAC_INVALID),
            Err(e) => return internal_error(e),
        };
        let Some(balance) = session
            .old_balance
            .checked_add(session.amount)
            .filter(|b| *b <= self.max_balance)
        else {
            return Reply::status(StatusWord::INCORRECT_DATA);
        };
        // ⚠ TAC over the counter returned by INITIALIZE FOR LOAD (pboc-notes §4.2 [TC]).
        let tac_data = crypto::LoadTacData {
            new_balance: balance.fen(),
            online_counter: session.counter,
            amount: session.amount.fen(),
            transaction_type: session.transaction_type,
            terminal_id: session.terminal_id,
            date,
            time,
        };
        let tac = match crypto::load_tac(&self.keys[session.key].tac, &tac_data) {
            Ok(tac) => tac,
            Err(e) => return internal_error(e),
        };
        let counter = session.counter.wrapping_add(1);
        self.commit(Commit {
            purse: session.purse,
            balance,
            offline: false,
            counter,
            log: self.log_record(counter, &mac_data),
            cache: Vec::new(),
            journal: JournalEntry {
                transaction_type: session.transaction_type,
                counter,
                mac2,
                tac,
            },
        });
        Reply::ok(tac)
    }

    /// EF18 record (pboc-notes §4.6): ATC 2 ‖ overdraft limit 3 ‖ amount 4 ‖ type 1 ‖
    /// terminal 6 ‖ date 4 ‖ time 3.
    fn log_record(&self, counter: u16, data: &crypto::PurchaseMacData) -> Vec<u8> {
        let mut record = Vec::with_capacity(LOG_RECORD_LEN);
        record.extend_from_slice(&counter.to_be_bytes());
        record.extend_from_slice(&self.overdraft_limit.to_be_bytes()[1..]);
        record.extend_from_slice(&data.to_bytes());
        record
    }

    /// Writes a completed DEBIT or CREDIT. Infallible by construction: every check was made
    /// before, so the card is never left half-updated.
    fn commit(&mut self, commit: Commit) {
        if let Some(balance) = self.balance_mut(commit.purse) {
            *balance = commit.balance;
        }
        if commit.offline {
            self.offline_counter = commit.counter;
        } else {
            self.online_counter = commit.counter;
        }
        self.log.push(commit.log);
        for update in commit.cache {
            match update {
                CacheUpdate::Capp { index, record } => {
                    if let Some(slot) = self.capp.as_mut().and_then(|c| c.records.get_mut(index)) {
                        *slot = record;
                    }
                }
                CacheUpdate::Travel(record) => {
                    if let Some(travel) = self.travel.as_mut() {
                        travel.push(record);
                    }
                }
            }
        }
        self.journal.push_front(commit.journal);
        self.journal.truncate(JOURNAL_LEN);
    }

    fn update_capp_cache(&mut self, command: &CommandApdu<'_>) -> Reply {
        let Session::Purchase(session) = &mut self.session else {
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        if session.transaction_type != TYPE_CAPP_PURCHASE {
            self.session = Session::Idle;
            return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        if command.p2 & 0x07 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let sfi = command.p2 >> 3;
        let record = command.data;
        if let Some(capp) = self.capp.as_ref().filter(|c| c.sfi == sfi) {
            let Some(index) = capp.records.iter().position(|r| r[0] == command.p1) else {
                return Reply::status(StatusWord::RECORD_NOT_FOUND);
            };
            let stored = &capp.records[index];
            if record.len() != stored.len() {
                return Reply::status(StatusWord::WRONG_LENGTH);
            }
            if record[0] != command.p1 {
                return Reply::status(StatusWord::INCORRECT_DATA);
            }
            if stored[CAPP_LOCK_OFFSET] != 0 {
                // ⚠ a locked record (lock byte ≠ 00) refuses updates (pboc-notes §7 item 10).
                return Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED);
            }
            session
                .cache
                .retain(|u| !matches!(u, CacheUpdate::Capp { index: i, .. } if *i == index));
            session.cache.push(CacheUpdate::Capp {
                index,
                record: record.to_vec(),
            });
            Reply::status(StatusWord::OK)
        } else if sfi == SFI_TRAVEL && self.travel.is_some() {
            if command.p1 != 0x00 {
                return Reply::status(StatusWord::INCORRECT_P1_P2);
            }
            if record.len() != TRAVEL_RECORD_LEN {
                return Reply::status(StatusWord::WRONG_LENGTH);
            }
            session
                .cache
                .retain(|u| !matches!(u, CacheUpdate::Travel(_)));
            session.cache.push(CacheUpdate::Travel(record.to_vec()));
            Reply::status(StatusWord::OK)
        } else {
            Reply::status(StatusWord::FILE_NOT_FOUND)
        }
    }

    fn transaction_prove(&self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0x00 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let atc = match exact::<2>(command.data) {
            Ok(atc) => u16::from_be_bytes(atc),
            Err(reply) => return reply,
        };
        match self.transaction_proof(command.p2, atc) {
            Some((mac2, tac)) => {
                let (first, second) = match TRANSACTION_PROVE_ORDER {
                    ProveOrder::Mac2ThenTac => (mac2, tac),
                    ProveOrder::TacThenMac2 => (tac, mac2),
                };
                Reply::ok([first, second].concat())
            }
            None => Reply::status(SW_MAC_NOT_AVAILABLE),
        }
    }
}

impl Application for SimPurseApplication {
    fn df_name(&self) -> &[u8] {
        &self.df_name
    }

    fn file_id(&self) -> Option<[u8; 2]> {
        self.file_id
    }

    fn directory_entry(&self) -> Option<Vec<u8>> {
        if self.df_name.is_empty() {
            return None;
        }
        let mut entry = tlv::encoded(tags::AID, &self.df_name);
        if let Some(label) = &self.label {
            push_tlv(&mut entry, tags::APPLICATION_LABEL, label);
        }
        Some(entry)
    }

    fn in_ppse(&self) -> bool {
        self.ppse
    }

    fn in_pse(&self) -> bool {
        self.pse
    }

    fn select(&mut self) -> Reply {
        self.session = Session::Idle;
        Reply {
            data: self.fci.clone(),
            sw: if self.blocked {
                StatusWord::SELECTED_FILE_INVALIDATED
            } else {
                StatusWord::OK
            },
        }
    }

    fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
        match (command.cla, command.ins) {
            (0x00, 0xB0) => self.read_binary(command),
            (0x00, 0xB2) => self.read_record(command),
            (0x80, 0x5C) => self.get_balance(command),
            (0x80, 0xDC) => {
                if self.blocked {
                    return Reply::status(SW_APPLICATION_LOCKED);
                }
                self.update_capp_cache(command)
            }
            (0x80, ins) => {
                let session = std::mem::take(&mut self.session);
                match ins {
                    0x50 => self.initialize(command),
                    _ if self.blocked => Reply::status(SW_APPLICATION_LOCKED),
                    0x54 => self.debit(command, session),
                    0x52 => self.credit(command, session),
                    0x5A => self.transaction_prove(command),
                    _ => Reply::status(StatusWord::INS_NOT_SUPPORTED),
                }
            }
            (0x00, _) => {
                self.session = Session::Idle;
                Reply::status(StatusWord::INS_NOT_SUPPORTED)
            }
            _ => {
                self.session = Session::Idle;
                Reply::status(StatusWord::CLA_NOT_SUPPORTED)
            }
        }
    }

    fn reset(&mut self) {
        self.session = Session::Idle;
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn application(extra: &str) -> SimPurseApplication {
        let profile: PurseProfile = serde_json::from_str(&format!(
            r#"{{"df_name_text": "PAY.SZT", "ef15": {{"layout": "raw",
                "data": "0102030405060708090A0B0C0D0E0F1011121314"}}, "ep_balance": 100,
                "key_derivation": "serial", "log_records": 2,
                "keys": [{{"index": 1, "version": 3, "purchase": "00112233445566778899AABBCCDDEEFF",
                           "tac": "FFEEDDCCBBAA99887766554433221100"}}]{extra}}}"#
        ))
        .unwrap();
        SimPurseApplication::personalise(&profile, "p").unwrap()
    }

    fn run(app: &mut SimPurseApplication, apdu: &str) -> Reply {
        let bytes = hex::decode(apdu).unwrap();
        app.process(&CommandApdu::parse(&bytes).unwrap())
    }

    #[test]
    fn cyclic_file_keeps_the_newest() {
        let mut file = CyclicFile::new(2);
        for n in 1..=3u8 {
            file.push(vec![n]);
        }
        assert_eq!(file.record(1), Some(&[3u8][..]));
        assert_eq!(file.record(2), Some(&[2u8][..]));
        assert_eq!(file.record(3), None);
        assert_eq!(file.record(0), None);
    }

    #[test]
    fn random_is_deterministic_and_moves() {
        let mut a = application(r#", "random_seed": "11223344""#);
        let mut b = application(r#", "random_seed": "11223344""#);
        assert_eq!(a.next_random(), [0x11, 0x22, 0x33, 0x44]);
        b.next_random();
        assert_eq!(a.next_random(), b.next_random());
        assert_ne!(a.next_random(), [0x11, 0x22, 0x33, 0x44]);
    }

    #[test]
    fn initialize_layout_and_prove_order() {
        let mut app = application(r#", "random_seed": "0A0B0C0D", "offline_counter": 7"#);
        app.select();
        // 80 50 01 02 0B: key index 1, amount 0x28, terminal 010203040506.
        let init = run(&mut app, "805001020B0100000028010203040506");
        assert_eq!(
            hex::encode_upper(&init.data),
            "00000064000700000003000A0B0C0D"
        );
        assert!(app.in_session());
        // Unknown INS drops the session.
        assert_eq!(
            run(&mut app, "80CA9F3600").sw,
            StatusWord::INS_NOT_SUPPORTED
        );
        assert!(!app.in_session());
        // A journalled transaction is proved in the documented order.
        app.journal.push_front(JournalEntry {
            transaction_type: TYPE_EP_PURCHASE,
            counter: 8,
            mac2: [1, 1, 1, 1],
            tac: [2, 2, 2, 2],
        });
        let prove = run(&mut app, "805A000602000808");
        let expected = match TRANSACTION_PROVE_ORDER {
            ProveOrder::Mac2ThenTac => "0101010102020202",
            ProveOrder::TacThenMac2 => "0202020201010101",
        };
        assert_eq!(hex::encode_upper(&prove.data), expected);
        assert_eq!(run(&mut app, "805A0006020007").sw, SW_MAC_NOT_AVAILABLE);
        assert_eq!(run(&mut app, "805A000601").sw, StatusWord::WRONG_LENGTH);
    }

    #[test]
    fn read_record_le_and_missing_files() {
        let mut app = application("");
        app.log.push(vec![0xAB; LOG_RECORD_LEN]);
        assert_eq!(run(&mut app, "00B201C417").data.len(), LOG_RECORD_LEN);
        assert_eq!(run(&mut app, "00B201C410").sw, StatusWord(0x6C17));
        assert_eq!(run(&mut app, "00B201C400").data.len(), LOG_RECORD_LEN);
        assert_eq!(run(&mut app, "00B202C400").sw, StatusWord::RECORD_NOT_FOUND);
        assert_eq!(run(&mut app, "00B201F400").sw, StatusWord::FILE_NOT_FOUND);
        assert_eq!(run(&mut app, "00B200C400").sw, StatusWord::INCORRECT_P1_P2);
        assert_eq!(
            run(&mut app, "00B0150000").sw,
            StatusWord::COMMAND_NOT_ALLOWED
        );
        assert_eq!(run(&mut app, "00B0951400").sw, StatusWord::WRONG_P1_P2);
        assert_eq!(
            run(&mut app, "805001010B0100000001010203040506").sw,
            StatusWord::INCORRECT_P1_P2
        );
        assert_eq!(
            run(&mut app, "805003020B0100000001010203040506").sw,
            StatusWord::INCORRECT_P1_P2
        );
        assert_eq!(
            run(&mut app, "805002010B0100000001010203040506").sw,
            StatusWord::FUNCTION_NOT_SUPPORTED
        );
        assert_eq!(
            run(&mut app, "845C000204").sw,
            StatusWord::CLA_NOT_SUPPORTED
        );
    }

    #[test]
    fn keys_are_diversified_from_the_masters() {
        let app = application("");
        let master = SecretKey::new(&hex::decode("00112233445566778899AABBCCDDEEFF").unwrap());
        let expected = keys::card_key(&master, &app.serial, None).unwrap();
        assert_eq!(app.keys[0].purchase.as_ref(), Some(&expected));
        assert_eq!(app.serial, [0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14]);
        assert!(!format!("{app:?}").contains("0011223344"));
    }
}
