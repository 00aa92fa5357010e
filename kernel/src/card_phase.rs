//! What a card phase gathered (selection, GPO, records): the state a tap keeps between its
//! APDUs, owned by the caller so it survives an error mid-tap.
//!
//! The contactless flow fills it ([`CardPhase::read`]) and completes it
//! ([`CardPhase::complete`]); the contact flow starts from it too. Its fields are read through
//! accessors; only the kernel's flows write them.

use crate::afl::StaticDataError;
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::entry_point::{KernelChoice, KernelId};
use crate::error::KernelError;
use crate::outcome::Outcome;
use crate::terminal_values::{TerminalValues, TransactionInput};
use crate::values::Aid;
use alloc::{boxed::Box, format, string::String, vec::Vec};

/// Everything the card phase gathered; [`CardPhase::complete`] turns it into a result.
///
/// `Debug` shows the static data to be authenticated only by its length: it holds the PAN (and
/// whatever else the issuer signed) in clear.
#[derive(Clone)]
pub struct CardPhase {
    pub(crate) input: TransactionInput,
    pub(crate) values: TerminalValues,
    pub(crate) aid: Option<Aid>,
    pub(crate) fci: Vec<u8>,
    pub(crate) gpo_command: Option<Vec<u8>>,
    pub(crate) card: CardData,
    pub(crate) static_data: Result<Vec<u8>, StaticDataError>,
    pub(crate) apdus: u64,
    pub(crate) early_outcome: Option<(Outcome, String)>,
    /// In transit mode (the selected AID's), what the card's FCI said about online ODA.
    pub(crate) transit: Option<crate::transit::TransitCard>,
    /// This card phase resumed a torn tap's GPO answer instead of sending a new GPO.
    pub(crate) resumed_torn_tap: bool,
    /// The kernel of the selected combination (pboc-notes §8.2), once one was selected.
    pub(crate) kernel: Option<KernelId>,
    /// Which kernels the caller lets Entry Point route to.
    pub(crate) kernel_choice: KernelChoice,
    /// The caller brought the reader state C-2 needs (its torn log and relay clock,
    /// [`crate::contactless::transact_routed`]): C-2 combinations may be selected.
    pub(crate) c2_available: bool,
    /// A C-2 combination was selected: the card phase stops after SELECT and C-2 runs the rest
    /// of the tap (its GENERATE AC cannot wait for a completion phase).
    pub(crate) handed_to_c2: bool,
}

impl CardPhase {
    /// An empty card phase for a transaction, before any APDU.
    pub fn new(config: &KernelConfig, input: &TransactionInput) -> Self {
        CardPhase {
            input: *input,
            values: TerminalValues::new(config.terminal.terminal(), input),
            aid: None,
            fci: Vec::new(),
            gpo_command: None,
            card: CardData::new(),
            static_data: Ok(Vec::new()),
            apdus: 0,
            early_outcome: None,
            transit: None,
            resumed_torn_tap: false,
            kernel: None,
            kernel_choice: KernelChoice::Auto,
            c2_available: false,
            handed_to_c2: false,
        }
    }

    /// An empty card phase whose Entry Point only routes to the kernels `choice` allows.
    pub fn with_kernel_choice(
        config: &KernelConfig,
        input: &TransactionInput,
        choice: KernelChoice,
    ) -> Self {
        CardPhase {
            kernel_choice: choice,
            ..CardPhase::new(config, input)
        }
    }

    /// The kernel of the selected combination (qPBOC, C-3, …), once one was selected.
    pub fn kernel(&self) -> Option<KernelId> {
        self.kernel
    }

    /// The transaction input.
    pub fn input(&self) -> &TransactionInput {
        &self.input
    }

    /// The terminal values used (with the TTQ and TVR as sent).
    pub fn values(&self) -> &TerminalValues {
        &self.values
    }

    /// The selected application's DF name, once the card accepted the GPO.
    pub fn aid(&self) -> Option<Aid> {
        self.aid
    }

    /// The FCI of the selected application (its `BF0C` holds the log entries `9F4D`/`DF4D`).
    pub fn fci(&self) -> &[u8] {
        &self.fci
    }

    /// The GET PROCESSING OPTIONS command as sent (without Le), when sent.
    pub fn gpo_command(&self) -> Option<&[u8]> {
        self.gpo_command.as_deref()
    }

    /// Data objects from the GPO response and the records.
    pub fn card(&self) -> &CardData {
        &self.card
    }

    /// The static data to be authenticated, or why it could not be assembled.
    pub fn static_data(&self) -> Result<&[u8], StaticDataError> {
        self.static_data.as_deref().map_err(|e| *e)
    }

    /// APDUs sent in this card phase.
    pub fn apdus(&self) -> u64 {
        self.apdus
    }

    /// In transit mode, what the card's FCI said about online ODA (`None`: not transit mode).
    pub fn transit(&self) -> Option<crate::transit::TransitCard> {
        self.transit
    }

    /// Whether this card phase completed a torn tap (the card had answered that tap's GPO) by
    /// reading its records, without a new GPO: see [`crate::contactless::TornTap`].
    pub fn resumed_torn_tap(&self) -> bool {
        self.resumed_torn_tap
    }

    /// An outcome the card phase already reached (e.g. try another interface), with a reason.
    pub fn early_outcome(&self) -> Option<(Outcome, &str)> {
        self.early_outcome
            .as_ref()
            .map(|(outcome, reason)| (*outcome, reason.as_str()))
    }
}

impl core::fmt::Debug for CardPhase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let static_data = match &self.static_data {
            Ok(bytes) => format!("Ok(<{} bytes>)", bytes.len()),
            Err(e) => format!("Err({e:?})"),
        };
        f.debug_struct("CardPhase")
            .field("input", &self.input)
            .field("values", &self.values)
            .field("aid", &self.aid)
            .field("fci", &self.fci)
            .field("gpo_command", &self.gpo_command)
            .field("card", &self.card)
            .field("static_data", &format_args!("{static_data}"))
            .field("apdus", &self.apdus)
            .field("early_outcome", &self.early_outcome)
            .field("transit", &self.transit)
            .field("resumed_torn_tap", &self.resumed_torn_tap)
            .field("kernel", &self.kernel)
            .field("kernel_choice", &self.kernel_choice)
            .finish()
    }
}

/// A card phase that broke: the error, and the card phase as far as it got (nothing lost).
/// Displays as the error (transparently: its source is the error's source).
#[derive(Debug)]
pub struct CardPhaseError<E: core::error::Error + 'static> {
    error: KernelError<E>,
    phase: Box<CardPhase>,
}

impl<E: core::error::Error + 'static> CardPhaseError<E> {
    /// An error with the card phase it interrupted.
    pub fn new(error: KernelError<E>, phase: CardPhase) -> Self {
        CardPhaseError {
            error,
            phase: Box::new(phase),
        }
    }

    /// The error.
    pub fn error(&self) -> &KernelError<E> {
        &self.error
    }

    /// What was read before the error.
    pub fn phase(&self) -> &CardPhase {
        &self.phase
    }

    /// The outcome the error maps to ([`KernelError::outcome`]).
    pub fn outcome(&self) -> Outcome {
        self.error.outcome()
    }

    /// The error and the card phase.
    pub fn into_parts(self) -> (KernelError<E>, CardPhase) {
        (self.error, *self.phase)
    }
}

impl<E: core::error::Error + 'static> core::fmt::Display for CardPhaseError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.error, f)
    }
}

impl<E: core::error::Error + 'static> core::error::Error for CardPhaseError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.error.source()
    }
}
