//! Entry Point (EMV Contactless Book B; UnionPay QuickPass reader rules as far as public
//! material describes them; pboc-notes §8.2): pre-processing per combination, the PPSE and the
//! candidate list of (AID, kernel) combinations, final selection, routing to the kernel the
//! combination names, and the Outcome Parameter Set every kernel returns.
//!
//! ```text
//! start A: pre-processing (each combination: limits, status check, zero amount, TTQ)
//! start B: protocol activation (a card in the field; after Try Again: "present card again")
//! start C: combination selection: PPSE ─▶ Candidates (priority, directory order, terminal order)
//!          ─▶ SELECT ─▶ kernel activation by KernelId ─▶ Select Next ─▶ start C again
//! start D: kernel activation with the issuer's response (C-3 issuer update)
//! ```
//!
//! | kernel | [`KernelId`] | module |
//! |---|---|---|
//! | UnionPay qPBOC (kernel 7) | [`KernelId::Qpboc`] | [`crate::contactless`] |
//! | Visa qVSDC (C-3) | [`KernelId::C3`] | [`crate::c3`] |
//! | Mastercard (C-2), Amex (C-4) | [`KernelId::C2`], [`KernelId::C4`] | not in this build ([`KernelId::is_built`]) |
//!
//! The qPBOC and C-3 kernels share the card phase (GPO with the PDOL, READ RECORD, fDDA); the
//! kernel that completes a tap is [`crate::CardPhase::kernel`]. A card answering an L1 error
//! mid-tap (removed, link lost) ends in *Try Again*, start B, "present card again"; the next
//! presentation runs the tap again from start B ([`EntryPoint`]).

mod combination;
mod kernel_id;
pub(crate) mod preprocessing;
pub(crate) mod start;

pub use combination::{Candidates, Combination, Skipped};
pub use kernel_id::{KernelId, RequestedKernel};
pub use preprocessing::AidIndicators;

use alloc::vec::Vec;

use crate::config::KernelConfig;
use crate::contactless::Transacted;
use crate::outcome::Outcome;
use crate::outcome_parameters::StartPoint;
use crate::terminal_values::TransactionInput;
use crate::transport::{ApduLayer, Transport};

/// Which kernels Entry Point may route to: every one a combination names (`Auto`), or only
/// one (a reader, or a test, that runs a single kernel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The kernel each combination names.
    #[default]
    Auto,
    /// Only combinations of this kernel.
    Only(KernelId),
}

impl KernelChoice {
    /// Whether a combination whose terminal AID runs `kernel` may be selected.
    pub fn allows(self, kernel: Option<KernelId>) -> bool {
        match self {
            KernelChoice::Auto => kernel.is_some(),
            KernelChoice::Only(only) => kernel == Some(only),
        }
    }
}

/// Pre-processing's verdict for each configured combination at an amount (start A): what
/// [`crate::CardPhase::read`] uses to keep or drop them.
pub fn preprocess(config: &KernelConfig, amount: crate::values::Amount) -> Vec<AidIndicators> {
    config
        .terminal
        .aids()
        .iter()
        .map(|aid| preprocessing::indicators(config.terminal.terminal(), aid, amount))
        .collect()
}

/// A reader's Entry Point across presentations of one transaction: it runs taps from start A
/// and, after an outcome with a start point, from there — a *Try Again* (start B) runs the same
/// transaction again when the card is presented again, as Book A says.
///
/// It also keeps the tap that tore after the card had paid in its GPO
/// ([`crate::contactless::TornTap`]): presented again, that card completes the torn tap instead
/// of paying twice.
#[derive(Debug, Clone)]
pub struct EntryPoint {
    input: TransactionInput,
    choice: KernelChoice,
    restart: Option<StartPoint>,
    presentations: u32,
    torn: Option<crate::contactless::TornTap>,
}

impl EntryPoint {
    /// A transaction at start A.
    pub fn new(input: TransactionInput, choice: KernelChoice) -> Self {
        EntryPoint {
            input,
            choice,
            restart: None,
            presentations: 0,
            torn: None,
        }
    }

    /// Where the next presentation starts (`None`: start A, or the transaction is over).
    pub fn restart(&self) -> Option<StartPoint> {
        self.restart
    }

    /// Cards presented so far in this transaction.
    pub fn presentations(&self) -> u32 {
        self.presentations
    }

    /// Whether the transaction is over: the last outcome names no start point to go on from.
    pub fn is_final(&self) -> bool {
        self.presentations > 0 && self.restart.is_none()
    }

    /// One presentation of the card: a whole tap ([`crate::contactless::transact_after_tear`]
    /// with this transaction's kernel choice); its outcome parameter set says whether and where the
    /// transaction starts again. A tap after *Try Again* (start B) is the same transaction:
    /// same amount, date and unpredictable number, pre-processing unchanged.
    pub fn present<T: Transport>(
        &mut self,
        config: &KernelConfig,
        layer: &mut ApduLayer<T>,
    ) -> Transacted<T::Error> {
        self.presentations += 1;
        let tap = crate::contactless::transact_after_tear_with(
            config,
            &self.input,
            layer,
            &mut self.torn,
            self.choice,
        );
        let parameters = &tap.result.outcome_parameters;
        self.restart = match parameters.outcome {
            Outcome::TryAgain => parameters.start,
            _ => None,
        };
        tap
    }
}
