//! The terminal side of the PBOC electronic deposit / electronic purse (ED/EP, JR/T 0025 Part 1
//! as digested in pboc-notes §4): purchase with a PSAM, load (top-up) through the issuer host,
//! composite (CAPP) purchases for segmented fares, torn-transaction recovery with a journal, and
//! the settlement record of every transaction.
//!
//! ```text
//!            card (ApduLayer)                      SAM / host / journal (traits)
//! tap ─▶ SELECT ─▶ EF15 (FCI 9F0C or READ BINARY) ─▶ validity, deny list
//!     ─▶ pending journal entry for this card? ─▶ GET TRANSACTION PROVE ─▶ recovered / retry
//!     ─▶ GET BALANCE ─▶ [CAPP: READ RECORD trip ─▶ fare hook]
//!     ─▶ INITIALIZE FOR (CAPP) PURCHASE ─▶ [CAPP: UPDATE CAPP DATA CACHE]
//!     ─▶ SAM INIT (serial, MAC1) ─▶ journal.begin ─▶ DEBIT ─▶ SAM MAC2 check ─▶ TAC ─▶ record
//! load: … INITIALIZE FOR LOAD ─▶ host (MAC1 ✓, MAC2) ─▶ journal.begin ─▶ CREDIT ─▶ TAC ─▶ record
//! ```
//!
//! The kernel does no I/O: the card is an [`ApduLayer`](crate::transport::ApduLayer), the PSAM a
//! [`Sam`] (a real one through [`Psam`] over any transport, or the
//! [`SoftwareSam`]), the issuer a [`Host`], the write-ahead
//! journal a [`Journal`]; the date and time come in with each request.
//!
//! "Paid" is only ever reached with a MAC2 the SAM verified (or, for a recovered transaction, a
//! proof the card gave for the very transaction the journal holds), and a TAC that the SAM did
//! not reject; everything a card or SAM sends is parsed once, at the edge ([`card`]), into typed
//! values, and every refusal is a typed [`PurseOutcome`] or [`FlowError`].
//!
//! Every layout the notes mark ⚠ (unverified) lives in [`layout`], one constant or function
//! each, so it can be corrected in one place once the primary standards are checked.

pub mod card;
pub mod fare;
pub mod flow;
pub mod host;
pub mod journal;
pub mod layout;
pub mod record;
pub mod repeat;
pub mod sam;

pub use card::{CardIdentity, CardInfo, CardNumber, PurseLogRecord};
pub use flow::{
    capp_purchase, load, purchase, resolve_dispute, CappFile, CappRequest, DeclineReason,
    DisputeResolution, FlowError, LoadRequest, PurchaseRequest, PurseApplication, PurseConfig,
    PurseOutcome, TapResult,
};
pub use host::{
    Host, HostDecision, HostKeys, LoadAuthorisation, LoadReversal, ReversalReason, SoftwareHost,
};
pub use journal::{Journal, JournalEntry, MemoryJournal, Pending, UnwrittenRecords};
pub use record::{PurseClearingData, RecordStatus, SettlementRecord};
pub use repeat::RepeatGuard;
pub use sam::{
    DiversifyError, KeyDiversifier, Mac2Check, NoDiversification, Psam, Sam, SamError, SelectBy,
    SoftwareSam, SoftwareSamKey, TacCheck,
};

/// An ED/EP transaction type byte (pboc-notes §4.1 transaction type codes, \[ZY\] ✅).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// `01` ED load.
    DepositLoad,
    /// `02` EP load.
    PurseLoad,
    /// `05` ED purchase.
    DepositPurchase,
    /// `06` EP purchase.
    PursePurchase,
    /// `09` composite (CAPP) purchase.
    CappPurchase,
}

impl TransactionKind {
    /// The type byte sent in INIT SAM FOR PURCHASE, covered by MAC1/MAC2/TAC, written to EF18
    /// and named in GET TRANSACTION PROVE (pboc-notes §4.1).
    pub const fn type_byte(self) -> u8 {
        match self {
            TransactionKind::DepositLoad => 0x01,
            TransactionKind::PurseLoad => 0x02,
            TransactionKind::DepositPurchase => 0x05,
            TransactionKind::PursePurchase => 0x06,
            TransactionKind::CappPurchase => 0x09,
        }
    }

    /// Loads increase the online counter; purchases the offline one (pboc-notes §4.1).
    pub const fn is_load(self) -> bool {
        matches!(
            self,
            TransactionKind::DepositLoad | TransactionKind::PurseLoad
        )
    }
}
