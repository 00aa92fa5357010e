//! The terminal's security module for ED/EP purchases (pboc-notes §4.3): a [`Sam`] computes
//! MAC1 for the card (INIT SAM FOR PURCHASE, `80 70`), verifies the card's MAC2 (CREDIT SAM FOR
//! PURCHASE, `80 72`) and, where it can, the TAC (DES INIT `80 1A` / DES CRYPT `80 FA`, ⚠
//! [`layout::psam_tac`]).
//!
//! - [`Psam`] talks to a real PSAM (a second PC/SC reader, or the simulator's virtual PSAM)
//!   through any [`Transport`];
//! - [`SoftwareSam`] holds the purchase (and TAC) master keys itself, for tests and demos. Its
//!   keys are zeroizing [`SecretKey`]s and never shown by `Debug`. How a card key comes from a
//!   master (⚠ pboc-notes §4.2 end, §7 item 5) is a [`KeyDiversifier`] the caller supplies.

use alloc::{boxed::Box, vec::Vec};
use core::fmt;

use quickpass_crypto::purse as crypto;
use quickpass_crypto::secret::SecretKey;

use super::card::{CardIdentity, PurchaseInit};
use super::layout;
use crate::apdu::{ApduError, Command, Occurrence};
use crate::transport::{ApduLayer, ExchangeError, Transport};
use crate::values::{Aid, PurseAmount, Sfi, StatusWord, TransactionDate, TransactionTime};
use quickpass_crypto::cipher::CipherError;

/// How an application (card ADF or PSAM DF) is selected (pboc-notes §1.3, §4.3 step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectBy {
    /// SELECT by AID (`00 A4 04 00`), e.g. T-Union `A000000632010105`.
    Aid(Aid),
    /// SELECT by DF name (`00 A4 04 00`), e.g. `PAY.SZT`; 1–16 bytes.
    DfName(Vec<u8>),
    /// SELECT by file identifier (`00 A4 00 00 02`), e.g. ETC ADF `1001`, PSAM DF `8011`/`DF01`.
    FileId(u16),
}

impl SelectBy {
    /// The SELECT command; a DF name outside 1–16 bytes is an error.
    pub fn command(&self) -> Result<Command, ApduError> {
        match self {
            SelectBy::Aid(aid) => Ok(Command::select_aid(aid, Occurrence::First)),
            SelectBy::DfName(name) => Command::select_df_name(name, Occurrence::First),
            SelectBy::FileId(fid) => Ok(Command::select_file_id(*fid)),
        }
    }
}

/// What INIT SAM FOR PURCHASE needs (pboc-notes §4.3 step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamPurchase {
    /// The card (serial, optional second diversifier).
    pub card: CardIdentity,
    /// The card's INITIALIZE FOR (CAPP) PURCHASE answer.
    pub init: PurchaseInit,
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Transaction type (`06` EP purchase, `09` CAPP, `05` ED purchase).
    pub transaction_type: u8,
    /// Transaction date.
    pub date: TransactionDate,
    /// Transaction time.
    pub time: TransactionTime,
}

/// The SAM's answer to INIT SAM FOR PURCHASE: terminal transaction serial 4 ‖ MAC1 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamAuthorisation {
    /// Terminal transaction serial (goes into DEBIT, the session key and the TAC).
    pub terminal_serial: u32,
    /// MAC1 for DEBIT FOR PURCHASE.
    pub mac1: [u8; 4],
}

/// What the SAM says about a MAC2 (CREDIT SAM FOR PURCHASE, pboc-notes §4.3 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac2Check {
    /// `9000`: MAC2 belongs to the pending purchase.
    Verified,
    /// `9302`: MAC2 is wrong (forged, replayed or corrupted).
    Invalid,
    /// `6985`: the SAM has no pending purchase (reset, or another purchase since).
    NoSession,
}

/// What the SAM says about a purchase TAC (pboc-notes §4.3 step 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TacCheck {
    /// The TAC verifies with the SAM's TAC key.
    Verified,
    /// The TAC does not verify: never recorded as paid.
    Invalid,
    /// The SAM cannot check TACs: kept for the host to verify at settlement.
    Unavailable,
}

/// Why the SAM could not answer (the terminal's side is at fault, not the card's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamError<E: core::error::Error + 'static> {
    /// The exchange with the PSAM failed.
    #[error("PSAM exchange failed")]
    Exchange(#[source] ExchangeError<E>),
    /// The PSAM refused a command.
    #[error("PSAM refused {command} with {sw}")]
    Refused {
        /// The command.
        command: &'static str,
        /// Its status word.
        sw: StatusWord,
    },
    /// The PSAM's answer has the wrong length.
    #[error("PSAM sent a malformed answer to {command}: {actual} bytes, expected {expected}")]
    Malformed {
        /// The command.
        command: &'static str,
        /// The lengths the answer may have, in words (`"8"`, `"4 or 8"`, `"0"`).
        expected: &'static str,
        /// The length received.
        actual: usize,
    },
    /// The SAM holds no key for the card's key version / algorithm id.
    #[error("no SAM key for key version {key_version}, algorithm {algorithm_id}")]
    NoKey {
        /// Key version from the card.
        key_version: u8,
        /// Algorithm id from the card.
        algorithm_id: u8,
    },
    /// The card key could not be derived from the SAM's master key.
    #[error("SAM could not derive the card key")]
    Diversify(#[source] DiversifyError),
    /// A key could not be used for a step (wrong length).
    #[error("SAM key unusable for the {step}")]
    Key {
        /// The step (`purchase session key`, `MAC1`, `MAC2`, `TAC`).
        step: &'static str,
        /// Why.
        #[source]
        source: crypto::PurseError,
    },
    /// A command could not be built.
    #[error("cannot build a PSAM command")]
    Command(#[from] ApduError),
}

/// The terminal's purchase security module (pboc-notes §4.3).
pub trait Sam {
    /// What a failed exchange with the SAM reports.
    type Error: core::error::Error + Send + Sync + 'static;

    /// The terminal number (PSAM EF16, 6 bytes), sent in INITIALIZE and covered by the MACs.
    fn terminal_id(&self) -> [u8; 6];

    /// The purchase key index sent in INITIALIZE FOR PURCHASE (PSAM EF17, ⚠ one byte).
    fn key_index(&self) -> u8;

    /// INIT SAM FOR PURCHASE: the terminal transaction serial and MAC1.
    fn init_purchase(
        &mut self,
        request: &SamPurchase,
    ) -> Result<SamAuthorisation, SamError<Self::Error>>;

    /// CREDIT SAM FOR PURCHASE: checks the card's MAC2 against the pending purchase (one try:
    /// the pending purchase is gone afterwards, so a replayed MAC2 cannot pass later).
    fn verify_mac2(&mut self, mac2: &[u8; 4]) -> Result<Mac2Check, SamError<Self::Error>>;

    /// Checks a purchase TAC, if this SAM can (default: [`TacCheck::Unavailable`]).
    fn check_purchase_tac(
        &mut self,
        _card: &CardIdentity,
        _key_version: u8,
        _data: &crypto::PurchaseTacData,
        _tac: &[u8; 4],
    ) -> Result<TacCheck, SamError<Self::Error>> {
        Ok(TacCheck::Unavailable)
    }

    /// APDUs sent to the SAM so far (0 for a software SAM).
    fn apdus(&self) -> u64 {
        0
    }
}

impl<S: Sam + ?Sized> Sam for &mut S {
    type Error = S::Error;

    fn terminal_id(&self) -> [u8; 6] {
        (**self).terminal_id()
    }

    fn key_index(&self) -> u8 {
        (**self).key_index()
    }

    fn init_purchase(
        &mut self,
        request: &SamPurchase,
    ) -> Result<SamAuthorisation, SamError<Self::Error>> {
        (**self).init_purchase(request)
    }

    fn verify_mac2(&mut self, mac2: &[u8; 4]) -> Result<Mac2Check, SamError<Self::Error>> {
        (**self).verify_mac2(mac2)
    }

    fn check_purchase_tac(
        &mut self,
        card: &CardIdentity,
        key_version: u8,
        data: &crypto::PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, SamError<Self::Error>> {
        (**self).check_purchase_tac(card, key_version, data, tac)
    }

    fn apdus(&self) -> u64 {
        (**self).apdus()
    }
}

/// The INIT SAM FOR PURCHASE data (pboc-notes §4.3 step 5): card random 4 ‖ card offline ATC 2
/// ‖ amount 4 ‖ type 1 ‖ date 4 ‖ time 3 ‖ key version 1 ‖ algorithm id 1 ‖ serial 8 ‖
/// [second diversifier 8] — Lc `1C` or `24` (⚠ `1C` not seen in a trace).
pub fn init_sam_data(request: &SamPurchase) -> Vec<u8> {
    let mut data = Vec::with_capacity(0x24);
    data.extend_from_slice(&request.init.random);
    data.extend_from_slice(&request.init.offline_atc.to_be_bytes());
    data.extend_from_slice(&request.amount.to_be_bytes());
    data.push(request.transaction_type);
    data.extend_from_slice(&request.date.to_yyyymmdd_bcd());
    data.extend_from_slice(&request.time.to_bcd());
    data.push(request.init.key_version);
    data.push(request.init.algorithm_id);
    data.extend_from_slice(&request.card.serial);
    if let Some(second) = &request.card.second_diversifier {
        data.extend_from_slice(second);
    }
    data
}

/// A PSAM reached through any [`Transport`] (pboc-notes §4.3): [`Psam::open`] selects its
/// application and reads the terminal number (EF16) and key index (EF17 ⚠).
pub struct Psam<T: Transport> {
    layer: ApduLayer<T>,
    terminal_id: [u8; 6],
    key_index: u8,
}

impl<T: Transport> fmt::Debug for Psam<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Psam")
            .field("terminal_id", &hex::encode_upper(self.terminal_id))
            .field("key_index", &self.key_index)
            .field("apdus", &self.layer.counters().apdus_sent)
            .finish_non_exhaustive()
    }
}

const SFI_TERMINAL_ID: u8 = 0x16;
const SFI_KEY_INDEX: u8 = 0x17;

impl<T: Transport> Psam<T> {
    /// Selects the PSAM application (`8011` T-Union/MOT, `1001` MoHURD, `DF01` ETC), reads
    /// EF16 (`00 B0 96 00 06`) and EF17 (`00 B0 97 00 01`, ⚠ [`layout::KEY_INDEX_LEN`]).
    pub fn open(transport: T, application: &SelectBy) -> Result<Self, SamError<T::Error>> {
        let mut layer = ApduLayer::new(transport);
        let select = layer
            .exchange(&application.command()?)
            .map_err(SamError::Exchange)?;
        if !select.is_success() {
            return Err(SamError::Refused {
                command: "SELECT",
                sw: select.sw,
            });
        }
        let terminal_id = Self::read(&mut layer, SFI_TERMINAL_ID, 6, "6", "READ BINARY EF16")?;
        let key_index = Self::read(
            &mut layer,
            SFI_KEY_INDEX,
            layout::KEY_INDEX_LEN,
            "1",
            "READ BINARY EF17",
        )?;
        Ok(Psam {
            layer,
            terminal_id: terminal_id
                .as_slice()
                .try_into()
                .map_err(|_| SamError::Malformed {
                    command: "READ BINARY EF16",
                    expected: "6",
                    actual: terminal_id.len(),
                })?,
            key_index: key_index[0],
        })
    }

    fn read(
        layer: &mut ApduLayer<T>,
        sfi: u8,
        len: u8,
        expected: &'static str,
        command: &'static str,
    ) -> Result<Vec<u8>, SamError<T::Error>> {
        let sfi = Sfi::new(sfi).map_err(|e| SamError::Command(e.into()))?;
        let response = layer
            .exchange(&Command::read_binary_sfi(sfi, 0, len))
            .map_err(SamError::Exchange)?;
        if !response.is_success() {
            return Err(SamError::Refused {
                command,
                sw: response.sw,
            });
        }
        if response.data.len() != usize::from(len) {
            return Err(SamError::Malformed {
                command,
                expected,
                actual: response.data.len(),
            });
        }
        Ok(response.data)
    }

    /// Overrides the key index read from EF17 (for PSAMs whose EF17 holds something else).
    pub fn set_key_index(&mut self, key_index: u8) {
        self.key_index = key_index;
    }

    /// The APDU layer to the PSAM (counters, traces).
    pub fn layer(&self) -> &ApduLayer<T> {
        &self.layer
    }

    /// The APDU layer, mutably.
    pub fn layer_mut(&mut self) -> &mut ApduLayer<T> {
        &mut self.layer
    }

    /// Gives the transport back (e.g. to re-open the PSAM after a reset).
    pub fn into_transport(self) -> T {
        self.layer.into_inner()
    }
}

impl<T: Transport> Sam for Psam<T>
where
    T::Error: Send + Sync,
{
    type Error = T::Error;

    fn terminal_id(&self) -> [u8; 6] {
        self.terminal_id
    }

    fn key_index(&self) -> u8 {
        self.key_index
    }

    fn init_purchase(
        &mut self,
        request: &SamPurchase,
    ) -> Result<SamAuthorisation, SamError<T::Error>> {
        const COMMAND: &str = "INIT SAM FOR PURCHASE";
        let command = Command::new(0x80, 0x70, 0x00, 0x00, init_sam_data(request), Some(0x08))?;
        let response = self.layer.exchange(&command).map_err(SamError::Exchange)?;
        if !response.is_success() {
            return Err(SamError::Refused {
                command: COMMAND,
                sw: response.sw,
            });
        }
        match response.data.as_slice() {
            [s0, s1, s2, s3, m0, m1, m2, m3] => Ok(SamAuthorisation {
                terminal_serial: u32::from_be_bytes([*s0, *s1, *s2, *s3]),
                mac1: [*m0, *m1, *m2, *m3],
            }),
            other => Err(SamError::Malformed {
                command: COMMAND,
                expected: "8",
                actual: other.len(),
            }),
        }
    }

    fn verify_mac2(&mut self, mac2: &[u8; 4]) -> Result<Mac2Check, SamError<T::Error>> {
        let command = Command::new(0x80, 0x72, 0x00, 0x00, mac2.to_vec(), None)?;
        let response = self.layer.exchange(&command).map_err(SamError::Exchange)?;
        match response.sw {
            StatusWord::OK => Ok(Mac2Check::Verified),
            StatusWord::MAC_INVALID | StatusWord::SM_DATA_INCORRECT => Ok(Mac2Check::Invalid),
            StatusWord::CONDITIONS_NOT_SATISFIED => Ok(Mac2Check::NoSession),
            sw => Err(SamError::Refused {
                command: "CREDIT SAM FOR PURCHASE",
                sw,
            }),
        }
    }

    /// DES INIT then DES CRYPT (pboc-notes §4.3 step 8, every byte ⚠ in
    /// [`layout::psam_tac`]): the PSAM derives the card's TAC key from the card's factors and
    /// MACs the TAC input; the MAC is compared with the card's TAC in constant time. 2 APDUs.
    /// A PSAM that refuses DES INIT with a [`layout::psam_tac::UNAVAILABLE`] status word has no
    /// TAC key: [`TacCheck::Unavailable`].
    fn check_purchase_tac(
        &mut self,
        card: &CardIdentity,
        key_version: u8,
        data: &crypto::PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, SamError<T::Error>> {
        use layout::psam_tac;
        const INIT: &str = "DES INIT";
        const CRYPT: &str = "DES CRYPT";
        let init = Command::new(
            0x80,
            psam_tac::DES_INIT_INS,
            psam_tac::DES_INIT_P1,
            psam_tac::des_init_p2(key_version),
            psam_tac::des_init_data(card),
            None,
        )?;
        let response = self.layer.exchange(&init).map_err(SamError::Exchange)?;
        if psam_tac::UNAVAILABLE.contains(&response.sw) {
            return Ok(TacCheck::Unavailable);
        }
        if !response.is_success() {
            return Err(SamError::Refused {
                command: INIT,
                sw: response.sw,
            });
        }
        if !response.data.is_empty() {
            return Err(SamError::Malformed {
                command: INIT,
                expected: "0",
                actual: response.data.len(),
            });
        }
        let crypt = Command::new(
            0x80,
            psam_tac::DES_CRYPT_INS,
            psam_tac::DES_CRYPT_P1,
            0x00,
            psam_tac::des_crypt_data(&data.to_bytes()),
            Some(0x00),
        )?;
        let response = self.layer.exchange(&crypt).map_err(SamError::Exchange)?;
        if !response.is_success() {
            return Err(SamError::Refused {
                command: CRYPT,
                sw: response.sw,
            });
        }
        let expected = psam_tac::parse_mac(&response.data).ok_or(SamError::Malformed {
            command: CRYPT,
            expected: "4 or 8",
            actual: response.data.len(),
        })?;
        Ok(if same_mac(&expected, tac) {
            TacCheck::Verified
        } else {
            TacCheck::Invalid
        })
    }

    fn apdus(&self) -> u64 {
        self.layer.counters().apdus_sent
    }
}

/// Compares two MACs without an early exit (a terminal that answered faster for a closer forgery
/// would help an attacker guess a TAC byte by byte).
fn same_mac(a: &[u8; 4], b: &[u8; 4]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Why a [`KeyDiversifier`] could not derive a card key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiversifyError {
    /// The master key has a length the scheme cannot use.
    #[error("master key is {actual} bytes, the scheme needs {expected}")]
    MasterKeyLength {
        /// The length the scheme needs.
        expected: usize,
        /// The length of the master key given.
        actual: usize,
    },
    /// The block cipher refused the derivation.
    #[error("card key derivation failed")]
    Cipher(#[source] CipherError),
}

impl From<CipherError> for DiversifyError {
    fn from(error: CipherError) -> Self {
        DiversifyError::Cipher(error)
    }
}

/// How a card's 16-byte key comes from an issuer master key for a given card (⚠ pboc-notes §4.2
/// end: the formula rests on recall). The simulator's `quickpass_sim::purse::keys::card_key`
/// fits as a closure; [`NoDiversification`] uses the master as the card key (published vectors).
pub trait KeyDiversifier: Send {
    /// The card key, or why it could not be derived.
    fn card_key(
        &self,
        master: &SecretKey,
        card: &CardIdentity,
    ) -> Result<SecretKey, DiversifyError>;
}

impl<F> KeyDiversifier for F
where
    F: Fn(&SecretKey, &CardIdentity) -> Result<SecretKey, DiversifyError> + Send,
{
    fn card_key(
        &self,
        master: &SecretKey,
        card: &CardIdentity,
    ) -> Result<SecretKey, DiversifyError> {
        self(master, card)
    }
}

/// The master key *is* the card key (the published vectors, pboc-notes §4.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDiversification;

impl KeyDiversifier for NoDiversification {
    fn card_key(
        &self,
        master: &SecretKey,
        _card: &CardIdentity,
    ) -> Result<SecretKey, DiversifyError> {
        Ok(master.clone())
    }
}

/// One key of a [`SoftwareSam`], chosen by the card's key version and algorithm id.
#[derive(Debug, Clone)]
pub struct SoftwareSamKey {
    /// Card key version it serves.
    pub version: u8,
    /// Algorithm id (`00` 3DES only, ⚠ pboc-notes §4.1).
    pub algorithm_id: u8,
    /// Purchase master key (MPK), 16 bytes.
    pub purchase: SecretKey,
    /// TAC master key (MTK), 16 bytes, to check TACs locally; `None` = TACs go to settlement.
    pub tac: Option<SecretKey>,
}

struct SoftPending {
    session_key: SecretKey,
    amount: PurseAmount,
}

/// A SAM in software, for tests and demos: the keys live in this process (zeroized on drop,
/// never in `Debug`). Same rules as a PSAM: one MAC2 try per INIT, serial +1 per INIT.
pub struct SoftwareSam {
    terminal_id: [u8; 6],
    key_index: u8,
    next_serial: u32,
    keys: Vec<SoftwareSamKey>,
    diversifier: Box<dyn KeyDiversifier>,
    pending: Option<SoftPending>,
}

impl fmt::Debug for SoftwareSam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSam")
            .field("terminal_id", &hex::encode_upper(self.terminal_id))
            .field("key_index", &self.key_index)
            .field("next_serial", &self.next_serial)
            .field("keys", &self.keys.len())
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

impl SoftwareSam {
    /// A software SAM with a terminal number, the key index it tells the card, the first
    /// terminal transaction serial, its keys and the diversification scheme.
    pub fn new(
        terminal_id: [u8; 6],
        key_index: u8,
        first_serial: u32,
        keys: Vec<SoftwareSamKey>,
        diversifier: impl KeyDiversifier + 'static,
    ) -> Self {
        SoftwareSam {
            terminal_id,
            key_index,
            next_serial: first_serial,
            keys,
            diversifier: Box::new(diversifier),
            pending: None,
        }
    }

    /// The serial the next INIT returns.
    pub fn next_serial(&self) -> u32 {
        self.next_serial
    }

    fn key(&self, version: u8, algorithm_id: u8) -> Option<&SoftwareSamKey> {
        self.keys
            .iter()
            .find(|k| k.version == version && k.algorithm_id == algorithm_id)
    }
}

impl Sam for SoftwareSam {
    type Error = core::convert::Infallible;

    fn terminal_id(&self) -> [u8; 6] {
        self.terminal_id
    }

    fn key_index(&self) -> u8 {
        self.key_index
    }

    fn init_purchase(
        &mut self,
        request: &SamPurchase,
    ) -> Result<SamAuthorisation, SamError<Self::Error>> {
        self.pending = None;
        let (version, algorithm_id) = (request.init.key_version, request.init.algorithm_id);
        let key = self.key(version, algorithm_id).ok_or(SamError::NoKey {
            key_version: version,
            algorithm_id,
        })?;
        let dpk = self
            .diversifier
            .card_key(&key.purchase, &request.card)
            .map_err(SamError::Diversify)?;
        let serial = self.next_serial;
        let key_error = |step| move |source| SamError::Key { step, source };
        let session_key = crypto::purchase_session_key(
            &dpk,
            request.init.random,
            request.init.offline_atc,
            serial,
        )
        .map_err(key_error("purchase session key"))?;
        let mac1 = crypto::purchase_mac1(
            &session_key,
            &crypto::PurchaseMacData {
                amount: request.amount.fen(),
                transaction_type: request.transaction_type,
                terminal_id: self.terminal_id,
                date: request.date.to_yyyymmdd_bcd(),
                time: request.time.to_bcd(),
            },
        )
        .map_err(key_error("MAC1"))?;
        self.next_serial = self.next_serial.wrapping_add(1);
        self.pending = Some(SoftPending {
            session_key,
            amount: request.amount,
        });
        Ok(SamAuthorisation {
            terminal_serial: serial,
            mac1,
        })
    }

    fn verify_mac2(&mut self, mac2: &[u8; 4]) -> Result<Mac2Check, SamError<Self::Error>> {
        let Some(pending) = self.pending.take() else {
            return Ok(Mac2Check::NoSession);
        };
        let expected = crypto::purchase_mac2(&pending.session_key, pending.amount.fen()).map_err(
            |source| SamError::Key {
                step: "MAC2",
                source,
            },
        )?;
        Ok(if expected == *mac2 {
            Mac2Check::Verified
        } else {
            Mac2Check::Invalid
        })
    }

    fn check_purchase_tac(
        &mut self,
        card: &CardIdentity,
        key_version: u8,
        data: &crypto::PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, SamError<Self::Error>> {
        let Some(master) = self
            .keys
            .iter()
            .find(|k| k.version == key_version)
            .and_then(|k| k.tac.as_ref())
        else {
            return Ok(TacCheck::Unavailable);
        };
        let dtk = self
            .diversifier
            .card_key(master, card)
            .map_err(SamError::Diversify)?;
        let expected = crypto::purchase_tac(&dtk, data).map_err(|source| SamError::Key {
            step: "TAC",
            source,
        })?;
        Ok(if same_mac(&expected, tac) {
            TacCheck::Verified
        } else {
            TacCheck::Invalid
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vector_key() -> SecretKey {
        SecretKey::new(&hex::decode("11223344556677888877665544332211").unwrap())
    }

    /// pboc-notes §4.2 purchase vector \[V1, V2\] through the software SAM.
    #[test]
    fn software_sam_reproduces_the_purchase_vector() {
        let mut sam = SoftwareSam::new(
            [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            1,
            1,
            vec![SoftwareSamKey {
                version: 1,
                algorithm_id: 0,
                purchase: vector_key(),
                tac: None,
            }],
            NoDiversification,
        );
        let request = SamPurchase {
            card: CardIdentity {
                serial: [0; 8],
                second_diversifier: None,
            },
            init: PurchaseInit {
                balance: PurseAmount::from_fen(10000),
                offline_atc: 0,
                overdraft_limit: PurseAmount::from_fen(0),
                key_version: 1,
                algorithm_id: 0,
                random: [0x11, 0x22, 0x33, 0x44],
            },
            amount: PurseAmount::from_fen(0x1000),
            transaction_type: 0x06,
            date: TransactionDate::new(2012, 2, 29).unwrap(),
            time: TransactionTime::new(13, 51, 0).unwrap(),
        };
        let auth = sam.init_purchase(&request).unwrap();
        assert_eq!(auth.terminal_serial, 1);
        assert_eq!(auth.mac1, [0xF1, 0x5C, 0xAB, 0x75]);
        assert_eq!(
            sam.verify_mac2(&[0x56, 0x98, 0x8A, 0x13]).unwrap(),
            Mac2Check::Verified
        );
        // One try only: the same MAC2 again meets no session.
        assert_eq!(
            sam.verify_mac2(&[0x56, 0x98, 0x8A, 0x13]).unwrap(),
            Mac2Check::NoSession
        );
        sam.init_purchase(&request).unwrap();
        assert_eq!(
            sam.verify_mac2(&[0x56, 0x98, 0x8A, 0x13]).unwrap(),
            Mac2Check::Invalid,
            "serial 2 gives another session key"
        );
        let mut unknown = request;
        unknown.init.key_version = 9;
        assert!(matches!(
            sam.init_purchase(&unknown),
            Err(SamError::NoKey { key_version: 9, .. })
        ));
        let shown = format!("{sam:?}");
        assert!(!shown.contains("88776655"), "{shown}");
    }

    /// A PSAM answering SELECT and EF16/EF17, then the scripted answers; records what it got.
    struct ScriptedPsam {
        answers: std::collections::VecDeque<Vec<u8>>,
        sent: Vec<Vec<u8>>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("script exhausted")]
    struct Exhausted;

    impl crate::transport::TransportError for Exhausted {}

    impl Transport for ScriptedPsam {
        type Error = Exhausted;

        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Exhausted> {
            self.sent.push(command.to_vec());
            self.answers.pop_front().ok_or(Exhausted)
        }
    }

    fn scripted(answers: &[&str]) -> Psam<ScriptedPsam> {
        let mut all: Vec<Vec<u8>> = ["9000", "3101000000019000", "019000"]
            .iter()
            .map(|a| hex::decode(a).unwrap())
            .collect();
        all.extend(answers.iter().map(|a| hex::decode(a).unwrap()));
        Psam::open(
            ScriptedPsam {
                answers: all.into(),
                sent: Vec::new(),
            },
            &SelectBy::FileId(0x8011),
        )
        .unwrap()
    }

    fn tac_data() -> crypto::PurchaseTacData {
        crypto::PurchaseTacData {
            amount: 200,
            transaction_type: 0x06,
            terminal_id: [0x31, 0x01, 0, 0, 0, 1],
            terminal_serial: 7,
            date: [0x20, 0x24, 0x05, 0x17],
            time: [0x08, 0x30, 0x15],
        }
    }

    const CARD: CardIdentity = CardIdentity {
        serial: [1, 2, 3, 4, 5, 6, 7, 8],
        second_diversifier: None,
    };
    const TAC: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

    fn check(
        psam: &mut Psam<ScriptedPsam>,
        card: &CardIdentity,
    ) -> Result<TacCheck, SamError<Exhausted>> {
        psam.check_purchase_tac(card, 2, &tac_data(), &TAC)
    }

    /// The DES INIT / DES CRYPT bytes on the wire (⚠ layout::psam_tac).
    #[test]
    fn psam_tac_check_sends_des_init_then_des_crypt() {
        let mut psam = scripted(&["9000", "A1B2C3D49000"]);
        assert_eq!(check(&mut psam, &CARD).unwrap(), TacCheck::Verified);
        assert_eq!(psam.apdus(), 3 + 2);
        let sent = &psam.layer().transport().sent;
        assert_eq!(hex::encode_upper(&sent[3]), "801A4402080102030405060708");
        assert_eq!(
            hex::encode_upper(&sent[4]),
            concat!(
                "80FA050020",
                "0000000000000000",
                "000000C8063101000000010000000720240517083015",
                "8000",
                "00"
            )
        );
        // Two-level cards send their second diversifier too (Lc 10).
        let mut psam = scripted(&["9000", "A1B2C3D49000"]);
        let two_level = CardIdentity {
            second_diversifier: Some([9; 8]),
            ..CARD
        };
        assert_eq!(check(&mut psam, &two_level).unwrap(), TacCheck::Verified);
        assert_eq!(
            hex::encode_upper(&psam.layer().transport().sent[3]),
            "801A44021001020304050607080909090909090909"
        );
    }

    #[test]
    fn psam_tac_answers_are_parsed_strictly() {
        // An 8-byte last block: the leftmost 4 bytes are the MAC.
        let mut psam = scripted(&["9000", "A1B2C3D4000000009000"]);
        assert_eq!(check(&mut psam, &CARD).unwrap(), TacCheck::Verified);
        // A different MAC, even by one bit, is a wrong TAC.
        let mut psam = scripted(&["9000", "A1B2C3D59000"]);
        assert_eq!(check(&mut psam, &CARD).unwrap(), TacCheck::Invalid);
        let mut psam = scripted(&["9000", "A1B2C3D4A1B2C3D49000"]);
        assert_eq!(check(&mut psam, &CARD).unwrap(), TacCheck::Verified);
        // Short, long or in-between MACs are malformed, never a verdict.
        for (answer, actual) in [
            ("9000", 0),
            ("A1B2C39000", 3),
            ("A1B2C3D4009000", 5),
            ("A1B2C3D4A1B2C3D4009000", 9),
        ] {
            let mut psam = scripted(&["9000", answer]);
            assert!(
                matches!(
                    check(&mut psam, &CARD),
                    Err(SamError::Malformed {
                        command: "DES CRYPT",
                        expected: "4 or 8",
                        actual: a,
                    }) if a == actual
                ),
                "{answer}"
            );
        }
        // DES INIT answers nothing but its status word.
        let mut psam = scripted(&["AA9000"]);
        assert!(matches!(
            check(&mut psam, &CARD),
            Err(SamError::Malformed {
                command: "DES INIT",
                expected: "0",
                actual: 1,
            })
        ));
        // Not even a status word.
        let mut psam = scripted(&["9000", "90"]);
        assert!(matches!(
            check(&mut psam, &CARD),
            Err(SamError::Exchange(ExchangeError::Malformed(_)))
        ));
    }

    #[test]
    fn psam_without_a_tac_key_is_unavailable_other_refusals_are_errors() {
        for sw in ["6D00", "6A81", "6A88", "6985"] {
            let mut psam = scripted(&[sw]);
            assert_eq!(
                check(&mut psam, &CARD).unwrap(),
                TacCheck::Unavailable,
                "{sw}"
            );
            assert_eq!(psam.apdus(), 3 + 1, "no DES CRYPT after {sw}");
        }
        let mut psam = scripted(&["6A80"]);
        assert!(matches!(
            check(&mut psam, &CARD),
            Err(SamError::Refused {
                command: "DES INIT",
                sw: StatusWord(0x6A80)
            })
        ));
        // DES CRYPT refusing after a DES INIT that worked is an error, not "no key".
        let mut psam = scripted(&["9000", "6985"]);
        assert!(matches!(
            check(&mut psam, &CARD),
            Err(SamError::Refused {
                command: "DES CRYPT",
                sw: StatusWord::CONDITIONS_NOT_SATISFIED
            })
        ));
        // The PSAM gone mid-check.
        let mut psam = scripted(&["9000"]);
        assert!(matches!(
            check(&mut psam, &CARD),
            Err(SamError::Exchange(ExchangeError::Transport(Exhausted)))
        ));
    }

    /// Issue 10 item 3: a key failure names the step, and says its cause once (as the source).
    #[test]
    fn key_failures_are_typed_with_the_cause_as_source() {
        let request = SamPurchase {
            card: CardIdentity {
                serial: [0; 8],
                second_diversifier: None,
            },
            init: PurchaseInit {
                balance: PurseAmount::from_fen(100),
                offline_atc: 0,
                overdraft_limit: PurseAmount::ZERO,
                key_version: 1,
                algorithm_id: 0,
                random: [0; 4],
            },
            amount: PurseAmount::from_fen(1),
            transaction_type: 0x06,
            date: TransactionDate::new(2024, 5, 17).unwrap(),
            time: TransactionTime::new(8, 30, 15).unwrap(),
        };
        let sam_with = |purchase: SecretKey, diversifier: Box<dyn KeyDiversifier>| {
            let keys = vec![SoftwareSamKey {
                version: 1,
                algorithm_id: 0,
                purchase,
                tac: None,
            }];
            SoftwareSam {
                terminal_id: [0; 6],
                key_index: 1,
                next_serial: 1,
                keys,
                diversifier,
                pending: None,
            }
        };
        // A card key of 8 bytes cannot make the purchase session key.
        let mut sam = sam_with(SecretKey::new(&[1; 8]), Box::new(NoDiversification));
        let err = sam.init_purchase(&request).unwrap_err();
        assert!(
            matches!(
                &err,
                SamError::Key {
                    step: "purchase session key",
                    source: crypto::PurseError::InvalidKeyLength {
                        expected: 16,
                        actual: 8
                    },
                }
            ),
            "{err:?}"
        );
        let source = core::error::Error::source(&err).unwrap().to_string();
        assert!(!err.to_string().contains(&source), "{err}");
        // A diversifier that refuses.
        let refuse = |master: &SecretKey, _: &CardIdentity| {
            Err(DiversifyError::MasterKeyLength {
                expected: 16,
                actual: master.as_bytes().len(),
            })
        };
        let mut sam = sam_with(vector_key(), Box::new(refuse));
        let err = sam.init_purchase(&request).unwrap_err();
        assert!(
            matches!(
                &err,
                SamError::Diversify(DiversifyError::MasterKeyLength {
                    expected: 16,
                    actual: 16
                })
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "SAM could not derive the card key");
        assert!(core::error::Error::source(&err).is_some());
    }

    #[test]
    fn macs_compare_whole() {
        assert!(same_mac(&[1, 2, 3, 4], &[1, 2, 3, 4]));
        for i in 0..4 {
            let mut other = [1, 2, 3, 4];
            other[i] ^= 0x80;
            assert!(!same_mac(&[1, 2, 3, 4], &other));
        }
    }

    #[test]
    fn init_sam_data_layout() {
        let mut request = SamPurchase {
            card: CardIdentity {
                serial: [8; 8],
                second_diversifier: None,
            },
            init: PurchaseInit {
                balance: PurseAmount::from_fen(0),
                offline_atc: 0x0102,
                overdraft_limit: PurseAmount::from_fen(0),
                key_version: 3,
                algorithm_id: 0,
                random: [0xA, 0xB, 0xC, 0xD],
            },
            amount: PurseAmount::from_fen(0x28),
            transaction_type: 0x09,
            date: TransactionDate::new(2024, 5, 17).unwrap(),
            time: TransactionTime::new(8, 30, 15).unwrap(),
        };
        assert_eq!(
            hex::encode_upper(init_sam_data(&request)),
            "0A0B0C0D010200000028092024051708301503000808080808080808"
        );
        request.card.second_diversifier = Some([7; 8]);
        assert_eq!(init_sam_data(&request).len(), 0x24);
    }
}
