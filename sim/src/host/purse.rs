//! The purse side of the simulated issuer host: authorises loads (top-ups) and checks the TACs
//! of purchases and loads at settlement (pboc-notes §4.2, §4.5).
//!
//! The host holds the issuer master keys and derives each card's load key DLK and TAC key DTK
//! with [`card_key`], the same (⚠) diversification the simulated card is personalised with and
//! the PSAM uses. The card is identified by its 8-byte application serial (EF15 bytes 12–19)
//! and, for two-level diversification, the second diversifier ([`HostCardIdentity`]).

use core::convert::Infallible;

use quickpass_crypto::purse as crypto;
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::purse;
use quickpass_kernel::values::PurseAmount;

use crate::profile::ProfileError;
use crate::purse::keys::{application_serial, card_key, default_second_diversifier};
use crate::purse::{KeyDerivation, PurseProfile};

/// Which card a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCardIdentity {
    /// The 8-byte application serial (EF15 bytes 12–19).
    pub serial: [u8; 8],
    /// The second diversifier, for cards whose keys are diversified twice (pboc-notes §4.4);
    /// `None` for one-level cards.
    pub second_diversifier: Option<[u8; 8]>,
}

impl HostCardIdentity {
    /// The identity of a one-level card from its EF15 (`None` if EF15 is too short).
    pub fn from_ef15(ef15: &[u8]) -> Option<Self> {
        Some(HostCardIdentity {
            serial: application_serial(ef15)?,
            second_diversifier: None,
        })
    }

    /// The identity of a two-level card whose second diversifier is the first 8 bytes of EF15
    /// (ETC, Shanghai T-Union; pboc-notes §4.4).
    pub fn from_ef15_two_level(ef15: &[u8]) -> Option<Self> {
        Some(HostCardIdentity {
            serial: application_serial(ef15)?,
            second_diversifier: Some(default_second_diversifier(ef15)?),
        })
    }
}

/// The issuer keys of one card key index.
#[derive(Debug, Clone)]
pub struct HostKeySet {
    /// Card key index (as in INITIALIZE FOR LOAD / PURCHASE).
    pub index: u8,
    /// Load master key (MLK), 16 bytes; `None` when this index cannot load.
    pub load: Option<SecretKey>,
    /// TAC master key (MTK), 16 bytes.
    pub tac: SecretKey,
    /// `true`: card keys are diversified from these masters; `false`: these are the card keys
    /// themselves (published vectors).
    pub diversify: bool,
}

/// What the terminal forwards for a load after INITIALIZE FOR LOAD (pboc-notes §4.5 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLoadRequest {
    /// The card.
    pub card: HostCardIdentity,
    /// Key index sent in INITIALIZE FOR LOAD.
    pub key_index: u8,
    /// Balance before the load (from INITIALIZE FOR LOAD), fen.
    pub old_balance: PurseAmount,
    /// Amount to load, fen.
    pub amount: PurseAmount,
    /// Transaction type (`01` ED load, `02` EP load).
    pub transaction_type: u8,
    /// Terminal number.
    pub terminal_id: [u8; 6],
    /// Online counter returned by INITIALIZE FOR LOAD.
    pub online_counter: u16,
    /// Card pseudo-random from INITIALIZE FOR LOAD.
    pub card_random: [u8; 4],
    /// MAC1 from INITIALIZE FOR LOAD.
    pub mac1: [u8; 4],
    /// Transaction date, BCD `YYYYMMDD` (goes into MAC2 and the CREDIT FOR LOAD).
    pub date: [u8; 4],
    /// Transaction time, BCD `hhmmss`.
    pub time: [u8; 3],
}

/// Why the host refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurseHostError {
    /// No keys for this key index (or no load key).
    #[error("no issuer keys for key index {0}")]
    UnknownKeyIndex(u8),
    /// The card's load MAC1 is wrong: the card or the request is not genuine.
    #[error("load MAC1 does not verify")]
    Mac1Invalid,
    /// The TAC is wrong.
    #[error("TAC does not verify")]
    TacInvalid,
    /// A key could not be used (wrong length).
    #[error("key error: {0}")]
    Key(String),
}

/// The simulated purse clearing host. It records the load reversals it receives
/// ([`PurseHost::reversals`]); clones share that record (they are the same issuer).
#[derive(Debug, Clone, Default)]
pub struct PurseHost {
    keys: Vec<HostKeySet>,
    reversals: std::sync::Arc<std::sync::Mutex<Vec<purse::LoadReversal>>>,
}

impl PurseHost {
    /// A host without keys.
    pub fn new() -> Self {
        PurseHost::default()
    }

    /// The load reversals received, oldest first.
    pub fn reversals(&self) -> Vec<purse::LoadReversal> {
        self.reversals
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Adds (or replaces) the keys of one key index.
    pub fn add_key_set(&mut self, keys: HostKeySet) {
        self.keys.retain(|k| k.index != keys.index);
        self.keys.push(keys);
    }

    /// A host holding the master keys a purse profile was personalised from (what the issuer
    /// keeps in its HSM).
    pub fn from_purse_profile(profile: &PurseProfile, field: &str) -> Result<Self, ProfileError> {
        let mut host = PurseHost::new();
        for (i, set) in profile.keys.iter().enumerate() {
            let kf = |name: &str| format!("{field}.keys[{i}].{name}");
            host.add_key_set(HostKeySet {
                index: set.index,
                load: set
                    .load
                    .as_ref()
                    .map(|k| k.decode16(&kf("load")))
                    .transpose()?,
                tac: set.tac.decode16(&kf("tac"))?,
                diversify: profile.key_derivation != KeyDerivation::None,
            });
        }
        Ok(host)
    }

    fn key_set(&self, index: u8) -> Result<&HostKeySet, PurseHostError> {
        self.keys
            .iter()
            .find(|k| k.index == index)
            .ok_or(PurseHostError::UnknownKeyIndex(index))
    }

    fn card_key(
        set: &HostKeySet,
        master: &SecretKey,
        card: &HostCardIdentity,
    ) -> Result<SecretKey, PurseHostError> {
        if set.diversify {
            card_key(master, &card.serial, card.second_diversifier.as_ref())
                .map_err(|e| PurseHostError::Key(e.to_string()))
        } else {
            Ok(master.clone())
        }
    }

    /// Verifies the card's load MAC1 and returns MAC2 for CREDIT FOR LOAD (pboc-notes §4.5
    /// step 3).
    pub fn authorise_load(&self, request: &HostLoadRequest) -> Result<[u8; 4], PurseHostError> {
        let set = self.key_set(request.key_index)?;
        let master = set
            .load
            .as_ref()
            .ok_or(PurseHostError::UnknownKeyIndex(request.key_index))?;
        let dlk = Self::card_key(set, master, &request.card)?;
        let key_error = |e: crypto::PurseError| PurseHostError::Key(e.to_string());
        let sk = crypto::load_session_key(&dlk, request.card_random, request.online_counter)
            .map_err(key_error)?;
        let mac1 = crypto::load_mac1(
            &sk,
            request.old_balance.fen(),
            request.amount.fen(),
            request.transaction_type,
            request.terminal_id,
        )
        .map_err(key_error)?;
        if mac1 != request.mac1 {
            return Err(PurseHostError::Mac1Invalid);
        }
        crypto::load_mac2(
            &sk,
            &crypto::LoadMac2Data {
                amount: request.amount.fen(),
                transaction_type: request.transaction_type,
                terminal_id: request.terminal_id,
                date: request.date,
                time: request.time,
            },
        )
        .map_err(key_error)
    }

    fn dtk(&self, card: &HostCardIdentity, key_index: u8) -> Result<SecretKey, PurseHostError> {
        let set = self.key_set(key_index)?;
        Self::card_key(set, &set.tac, card)
    }

    /// Checks a purchase TAC at settlement (⚠ TAC layout single-source, pboc-notes §4.2).
    pub fn verify_purchase_tac(
        &self,
        card: &HostCardIdentity,
        key_index: u8,
        data: &crypto::PurchaseTacData,
        tac: &[u8; 4],
    ) -> Result<(), PurseHostError> {
        let dtk = self.dtk(card, key_index)?;
        match crypto::purchase_tac(&dtk, data) {
            Ok(expected) if expected == *tac => Ok(()),
            Ok(_) => Err(PurseHostError::TacInvalid),
            Err(e) => Err(PurseHostError::Key(e.to_string())),
        }
    }

    /// Checks a load TAC (⚠ TAC layout single-source, pboc-notes §4.2).
    pub fn verify_load_tac(
        &self,
        card: &HostCardIdentity,
        key_index: u8,
        data: &crypto::LoadTacData,
        tac: &[u8; 4],
    ) -> Result<(), PurseHostError> {
        let dtk = self.dtk(card, key_index)?;
        match crypto::load_tac(&dtk, data) {
            Ok(expected) if expected == *tac => Ok(()),
            Ok(_) => Err(PurseHostError::TacInvalid),
            Err(e) => Err(PurseHostError::Key(e.to_string())),
        }
    }
}

/// The kernel's card identity (from EF15) as the host's.
impl From<&purse::CardIdentity> for HostCardIdentity {
    fn from(card: &purse::CardIdentity) -> Self {
        HostCardIdentity {
            serial: card.serial,
            second_diversifier: card.second_diversifier,
        }
    }
}

/// The simulated issuer behind the kernel's load [`purse::Host`] trait, as a terminal's network
/// link to its issuer would be: a refused MAC1 (or an unknown key) is a decline with the host's
/// reason, never an exchange error, so the error type is uninhabited.
impl purse::Host for PurseHost {
    type Error = Infallible;

    fn authorise_load(
        &mut self,
        request: &purse::LoadAuthorisation,
    ) -> Result<purse::HostDecision, Infallible> {
        <&PurseHost as purse::Host>::authorise_load(&mut &*self, request)
    }

    fn reverse_load(&mut self, reversal: &purse::LoadReversal) -> Result<(), Infallible> {
        <&PurseHost as purse::Host>::reverse_load(&mut &*self, reversal)
    }

    fn check_load_tac(
        &mut self,
        card: &purse::CardIdentity,
        key_index: u8,
        data: &crypto::LoadTacData,
        tac: &[u8; 4],
    ) -> Result<purse::TacCheck, Infallible> {
        <&PurseHost as purse::Host>::check_load_tac(&mut &*self, card, key_index, data, tac)
    }
}

/// A shared simulated issuer (several terminals, or a rig's fixtures) as a [`purse::Host`].
impl purse::Host for &PurseHost {
    type Error = Infallible;

    fn authorise_load(
        &mut self,
        r: &purse::LoadAuthorisation,
    ) -> Result<purse::HostDecision, Infallible> {
        let request = HostLoadRequest {
            card: HostCardIdentity::from(&r.card),
            key_index: r.key_index,
            old_balance: r.init.balance,
            amount: r.amount,
            transaction_type: r.transaction_type,
            terminal_id: r.terminal_id,
            online_counter: r.init.online_atc,
            card_random: r.init.random,
            mac1: r.init.mac1,
            date: r.date.to_yyyymmdd_bcd(),
            time: r.time.to_bcd(),
        };
        Ok(match PurseHost::authorise_load(self, &request) {
            Ok(mac2) => purse::HostDecision::Approved { mac2 },
            Err(e) => purse::HostDecision::Declined {
                reason: e.to_string(),
            },
        })
    }

    /// Records the reversal (the simulated issuer's account side has nothing else to undo).
    fn reverse_load(&mut self, reversal: &purse::LoadReversal) -> Result<(), Infallible> {
        let mut reversals = self
            .reversals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        reversals.push(*reversal);
        Ok(())
    }

    fn check_load_tac(
        &mut self,
        card: &purse::CardIdentity,
        key_index: u8,
        data: &crypto::LoadTacData,
        tac: &[u8; 4],
    ) -> Result<purse::TacCheck, Infallible> {
        Ok(
            match self.verify_load_tac(&HostCardIdentity::from(card), key_index, data, tac) {
                Ok(()) => purse::TacCheck::Verified,
                Err(_) => purse::TacCheck::Invalid,
            },
        )
    }
}
