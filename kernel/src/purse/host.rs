//! The issuer side of a load (top-up, pboc-notes §4.5): the terminal forwards the card's
//! INITIALIZE FOR LOAD answer to a [`Host`], which verifies MAC1 and returns MAC2 for CREDIT FOR
//! LOAD. [`SoftwareHost`] holds the issuer master keys itself (tests, demos); a real terminal
//! implements [`Host`] over its network link.

use alloc::{boxed::Box, format, string::String, vec::Vec};
use core::fmt;

use quickpass_crypto::purse as crypto;
use quickpass_crypto::secret::SecretKey;

use super::card::{CardIdentity, LoadInit};
use super::sam::TacCheck;
use super::sam::{DiversifyError, KeyDiversifier};
use crate::values::{PurseAmount, StatusWord, TransactionDate, TransactionTime};

/// What the terminal sends the host for a load (pboc-notes §4.5 step 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadAuthorisation {
    /// The card.
    pub card: CardIdentity,
    /// Key index sent in INITIALIZE FOR LOAD.
    pub key_index: u8,
    /// The card's INITIALIZE FOR LOAD answer (old balance, online ATC, random, MAC1).
    pub init: LoadInit,
    /// Amount, fen.
    pub amount: PurseAmount,
    /// Transaction type (`02` EP load, `01` ED load).
    pub transaction_type: u8,
    /// Terminal number.
    pub terminal_id: [u8; 6],
    /// Date for MAC2 and CREDIT FOR LOAD.
    pub date: TransactionDate,
    /// Time for MAC2 and CREDIT FOR LOAD.
    pub time: TransactionTime,
}

/// The host's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostDecision {
    /// MAC1 verified; MAC2 for CREDIT FOR LOAD.
    Approved {
        /// MAC2.
        mac2: [u8; 4],
    },
    /// Refused (MAC1 wrong, account refused, …), with the host's reason.
    Declined {
        /// Why.
        reason: String,
    },
}

/// Why a load the host approved is reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReversalReason {
    /// The card refused CREDIT FOR LOAD with this status word: nothing was credited.
    CardRefusedCredit(StatusWord),
    /// The load was torn and, on the card's next tap, neither its proof nor its log showed the
    /// credit: the journal entry is voided.
    NotCarriedOut,
}

/// A reversal advice for a load the host approved (it returned MAC2) but the card did not
/// carry out (pboc-notes §4.5; ISO 8583 reversal `0400`): the host undoes the account side.
///
/// `Debug` masks the card serial ([`CardIdentity`]'s own `Debug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReversal {
    /// The card (serial masked in `Debug`).
    pub card: CardIdentity,
    /// Key index of the load.
    pub key_index: u8,
    /// Amount approved, fen.
    pub amount: PurseAmount,
    /// The card's online transaction counter from INITIALIZE FOR LOAD.
    pub online_counter: u16,
    /// Terminal number.
    pub terminal_id: [u8; 6],
    /// The terminal's transaction number: the journal entry id of the load.
    pub terminal_transaction: u64,
    /// Date of the load, BCD `YYYYMMDD`.
    pub date: [u8; 4],
    /// Time of the load, BCD `hhmmss`.
    pub time: [u8; 3],
    /// Why.
    pub reason: ReversalReason,
}

/// The data of a load TAC, as the terminal knows it after CREDIT FOR LOAD (⚠ layout,
/// pboc-notes §4.2 \[TC\]): the crypto crate's type, re-exported for [`Host`] implementors.
pub use quickpass_crypto::purse::LoadTacData;

/// The issuer host for loads (pboc-notes §4.5).
pub trait Host {
    /// A failed exchange with the host (network down, …).
    type Error: core::error::Error + Send + Sync + 'static;

    /// Verifies the card's MAC1 and, if the load is allowed, returns MAC2.
    fn authorise_load(&mut self, request: &LoadAuthorisation) -> Result<HostDecision, Self::Error>;

    /// Reverses a load this host approved that the card did not carry out. Called once per
    /// voided load, before the journal entry is voided (an error leaves the entry pending, and
    /// the reversal is sent again on the card's next load tap: hosts match reversals by
    /// terminal and [`LoadReversal::terminal_transaction`]). Required: no default could be
    /// safe — a silently dropped reversal leaves the cardholder debited for nothing.
    fn reverse_load(&mut self, reversal: &LoadReversal) -> Result<(), Self::Error>;

    /// Checks a load TAC, if the host can now (default: [`TacCheck::Unavailable`], checked at
    /// settlement).
    fn check_load_tac(
        &mut self,
        _card: &CardIdentity,
        _key_index: u8,
        _data: &LoadTacData,
        _tac: &[u8; 4],
    ) -> Result<TacCheck, Self::Error> {
        Ok(TacCheck::Unavailable)
    }
}

impl<H: Host + ?Sized> Host for &mut H {
    type Error = H::Error;

    fn authorise_load(&mut self, request: &LoadAuthorisation) -> Result<HostDecision, Self::Error> {
        (**self).authorise_load(request)
    }

    fn reverse_load(&mut self, reversal: &LoadReversal) -> Result<(), Self::Error> {
        (**self).reverse_load(reversal)
    }

    fn check_load_tac(
        &mut self,
        card: &CardIdentity,
        key_index: u8,
        data: &LoadTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, Self::Error> {
        (**self).check_load_tac(card, key_index, data, tac)
    }
}

/// The issuer keys of one card key index.
#[derive(Debug, Clone)]
pub struct HostKeys {
    /// Card key index.
    pub index: u8,
    /// Load master key (MLK), 16 bytes.
    pub load: SecretKey,
    /// TAC master key (MTK), 16 bytes, if the host checks TACs.
    pub tac: Option<SecretKey>,
}

/// A host in software (tests, demos): verifies load MAC1 and makes MAC2 with
/// `quickpass_crypto::purse`, the card keys derived by a [`KeyDiversifier`]. Keys never in
/// `Debug`.
pub struct SoftwareHost {
    keys: Vec<HostKeys>,
    diversifier: Box<dyn KeyDiversifier>,
    reversals: Vec<LoadReversal>,
}

impl fmt::Debug for SoftwareHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareHost")
            .field("key_sets", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// Why a [`SoftwareHost`] could not answer (a key problem; refusals are decisions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostKeyError {
    /// The card key could not be derived from the host's master key.
    #[error("host could not derive the card key")]
    Diversify(#[source] DiversifyError),
    /// A key could not be used for a step (wrong length).
    #[error("host key unusable for the {step}")]
    Key {
        /// The step (`load session key`, `MAC1`, `MAC2`, `TAC`).
        step: &'static str,
        /// Why.
        #[source]
        source: crypto::PurseError,
    },
}

impl SoftwareHost {
    /// A host with these key sets and diversification scheme.
    pub fn new(keys: Vec<HostKeys>, diversifier: impl KeyDiversifier + 'static) -> Self {
        SoftwareHost {
            keys,
            diversifier: Box::new(diversifier),
            reversals: Vec::new(),
        }
    }

    /// The reversals received, oldest first.
    pub fn reversals(&self) -> &[LoadReversal] {
        &self.reversals
    }

    fn card_key(&self, master: &SecretKey, card: &CardIdentity) -> Result<SecretKey, HostKeyError> {
        self.diversifier
            .card_key(master, card)
            .map_err(HostKeyError::Diversify)
    }
}

impl Host for SoftwareHost {
    type Error = HostKeyError;

    /// Records the reversal ([`SoftwareHost::reversals`]).
    fn reverse_load(&mut self, reversal: &LoadReversal) -> Result<(), HostKeyError> {
        self.reversals.push(*reversal);
        Ok(())
    }

    fn authorise_load(
        &mut self,
        request: &LoadAuthorisation,
    ) -> Result<HostDecision, HostKeyError> {
        let Some(keys) = self.keys.iter().find(|k| k.index == request.key_index) else {
            return Ok(HostDecision::Declined {
                reason: format!("no keys for key index {}", request.key_index),
            });
        };
        let dlk = self.card_key(&keys.load, &request.card)?;
        let key_error = |step| move |source| HostKeyError::Key { step, source };
        let sk = crypto::load_session_key(&dlk, request.init.random, request.init.online_atc)
            .map_err(key_error("load session key"))?;
        let mac1 = crypto::load_mac1(
            &sk,
            request.init.balance.fen(),
            request.amount.fen(),
            request.transaction_type,
            request.terminal_id,
        )
        .map_err(key_error("MAC1"))?;
        if mac1 != request.init.mac1 {
            return Ok(HostDecision::Declined {
                reason: "load MAC1 does not verify".into(),
            });
        }
        let mac2 = crypto::load_mac2(
            &sk,
            &crypto::LoadMac2Data {
                amount: request.amount.fen(),
                transaction_type: request.transaction_type,
                terminal_id: request.terminal_id,
                date: request.date.to_yyyymmdd_bcd(),
                time: request.time.to_bcd(),
            },
        )
        .map_err(key_error("MAC2"))?;
        Ok(HostDecision::Approved { mac2 })
    }

    fn check_load_tac(
        &mut self,
        card: &CardIdentity,
        key_index: u8,
        data: &LoadTacData,
        tac: &[u8; 4],
    ) -> Result<TacCheck, HostKeyError> {
        let Some(master) = self
            .keys
            .iter()
            .find(|k| k.index == key_index)
            .and_then(|k| k.tac.as_ref())
        else {
            return Ok(TacCheck::Unavailable);
        };
        let dtk = self.card_key(master, card)?;
        let expected = crypto::load_tac(&dtk, data).map_err(|source| HostKeyError::Key {
            step: "TAC",
            source,
        })?;
        Ok(if expected == *tac {
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
    use crate::purse::sam::NoDiversification;

    fn request() -> LoadAuthorisation {
        LoadAuthorisation {
            card: CardIdentity {
                serial: [0; 8],
                second_diversifier: None,
            },
            key_index: 1,
            init: LoadInit {
                balance: PurseAmount::from_fen(100),
                online_atc: 0,
                key_version: 1,
                algorithm_id: 0,
                random: [0; 4],
                mac1: [0; 4],
            },
            amount: PurseAmount::from_fen(1000),
            transaction_type: 0x02,
            terminal_id: [0; 6],
            date: TransactionDate::new(2024, 5, 17).unwrap(),
            time: TransactionTime::new(8, 30, 15).unwrap(),
        }
    }

    /// Issue 10 item 3: a host key failure names the step and keeps its cause as the source.
    #[test]
    fn key_failures_are_typed_with_the_cause_as_source() {
        let keys = |load: SecretKey| {
            vec![HostKeys {
                index: 1,
                load,
                tac: None,
            }]
        };
        let mut host = SoftwareHost::new(keys(SecretKey::new(&[1; 8])), NoDiversification);
        let err = host.authorise_load(&request()).unwrap_err();
        assert!(
            matches!(
                &err,
                HostKeyError::Key {
                    step: "load session key",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "host key unusable for the load session key"
        );
        assert!(core::error::Error::source(&err).is_some());

        let refuse = |_: &SecretKey, _: &CardIdentity| {
            Err(DiversifyError::MasterKeyLength {
                expected: 16,
                actual: 0,
            })
        };
        let mut host = SoftwareHost::new(keys(SecretKey::new(&[1; 16])), refuse);
        let err = host.authorise_load(&request()).unwrap_err();
        assert_eq!(
            err,
            HostKeyError::Diversify(DiversifyError::MasterKeyLength {
                expected: 16,
                actual: 0
            })
        );
        // A wrong MAC1 is a decision, not an error.
        let mut host = SoftwareHost::new(keys(SecretKey::new(&[1; 16])), NoDiversification);
        assert!(matches!(
            host.authorise_load(&request()),
            Ok(HostDecision::Declined { .. })
        ));
    }
}
