//! What the quickpass fuzz targets share with the seed generator (`examples/seeds.rs`): the
//! input format of the multi-response targets, the card that answers from it, and the fixed
//! terminal side (configuration, CA keys, software SAM, transaction input), built once.
//!
//! Keeping these in one place is what makes the committed seeds meaningful: the generator
//! records the virtual card with exactly the terminal the targets replay against, so a seed
//! reaches the end of the flow (an fDDA-verified approval, a paid purchase) before mutation.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use quickpass::kernel::config::KernelConfig;
use quickpass::kernel::purse::sam::NoDiversification;
use quickpass::kernel::purse::{
    PurchaseRequest, PurseApplication, PurseConfig, SoftwareSam, SoftwareSamKey,
};
use quickpass::kernel::transport::Transport;
use quickpass::kernel::values::{Amount, PurseAmount, TransactionDate, TransactionTime};
use quickpass::kernel::TransactionInput;

// ---------------------------------------------------------------------------------------------
// Input format: length-prefixed chunks
// ---------------------------------------------------------------------------------------------

/// Splits an input into chunks, each a 2-byte big-endian length followed by that many bytes.
/// A last chunk shorter than its length takes what is left, so every input means something
/// (the fuzzer never wastes executions on rejected framing).
pub fn split_chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(chunk);
        data = tail;
    }
    chunks
}

/// The inverse of [`split_chunks`] for chunks of at most 65535 bytes (longer ones are cut).
pub fn join_chunks<C: AsRef<[u8]>>(chunks: &[C]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks {
        let chunk = chunk.as_ref();
        let chunk = &chunk[..chunk.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cards: one answering from the fuzz input, one recording a real (virtual) card
// ---------------------------------------------------------------------------------------------

/// The card left the field: what [`ScriptedCard`] reports once its responses run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardRemoved;

impl std::fmt::Display for CardRemoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card removed (fuzz input exhausted)")
    }
}

impl std::error::Error for CardRemoved {}

impl quickpass::kernel::transport::TransportError for CardRemoved {
    fn link_failure(&self) -> quickpass::kernel::transport::LinkFailure {
        quickpass::kernel::transport::LinkFailure::CardRemoved
    }
}

/// A card whose R-APDUs (data ‖ SW1 SW2) are taken, in order, from the fuzz input; it ignores
/// the commands, so the flow sees whatever the fuzzer wrote, including answers that do not
/// fit the command.
#[derive(Debug)]
pub struct ScriptedCard<'a> {
    responses: std::vec::IntoIter<&'a [u8]>,
    /// Commands received so far.
    pub commands: u64,
}

impl<'a> ScriptedCard<'a> {
    /// A card answering with `responses` and then leaving the field.
    pub fn new(responses: Vec<&'a [u8]>) -> Self {
        ScriptedCard {
            responses: responses.into_iter(),
            commands: 0,
        }
    }
}

impl Transport for ScriptedCard<'_> {
    type Error = CardRemoved;

    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, CardRemoved> {
        self.commands += 1;
        self.responses.next().map(<[u8]>::to_vec).ok_or(CardRemoved)
    }
}

/// Wraps a transport and keeps every raw response it returns (the seed generator's recorder;
/// raw, so T=0 `61xx` rounds are kept as the card sent them).
#[derive(Debug)]
pub struct Recorder<T> {
    inner: T,
    /// Every response, in order.
    pub responses: Vec<Vec<u8>>,
}

impl<T> Recorder<T> {
    /// Starts recording `inner`.
    pub fn new(inner: T) -> Self {
        Recorder {
            inner,
            responses: Vec::new(),
        }
    }

    /// The wrapped transport.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Transport> Transport for Recorder<T> {
    type Error = T::Error;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, T::Error> {
        let response = self.inner.transmit(command)?;
        self.responses.push(response.clone());
        Ok(response)
    }
}

// ---------------------------------------------------------------------------------------------
// The contactless terminal
// ---------------------------------------------------------------------------------------------

/// Amounts (minor units) the first input byte of `kernel_contactless` selects from: offline
/// approvals, above the floor limit (online), above the contactless limit.
pub const CONTACTLESS_AMOUNTS: [u64; 4] = [100, 1_000, 60_000, 2_000_000];

/// The transaction date of every fuzzed or recorded tap (a fixed date so expiry checks and
/// certificate dates replay the same).
pub fn transaction_date() -> TransactionDate {
    TransactionDate::new(2026, 11, 28).expect("valid date")
}

/// The contactless transaction input for `amount`: fixed date, time and unpredictable number,
/// so a recorded fDDA signature verifies again when replayed.
pub fn contactless_input(amount: u64) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("a fuzz amount in n12 range"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: transaction_date(),
        time: TransactionTime::new(8, 30, 0).expect("valid time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

/// The default terminal configuration (`vectors/terminals/default.json`) with every built-in
/// CA key and the simulator's SM2 test CA key, loaded once per process.
pub fn contactless_config() -> &'static KernelConfig {
    static CONFIG: OnceLock<KernelConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut config = quickpass_sim::data::default_kernel_config()
            .expect("default terminal configuration and CA keys");
        let ca = quickpass_sim::ca::TestCa::shared().expect("test CA");
        config
            .capks
            .insert(ca.sm2_ca_public_key().expect("SM2 test CA key"))
            .expect("SM2 test CA key accepted");
        config
    })
}

// ---------------------------------------------------------------------------------------------
// The purse terminal
// ---------------------------------------------------------------------------------------------

/// The purse key shared by the seed card and the software SAM (pboc-notes §4.2 vector key),
/// used without diversification.
pub const PURSE_KEY_HEX: &str = "11223344556677888877665544332211";

/// The purse application name of the seed cards and of [`purse_config`].
pub const PURSE_DF_NAME: &[u8] = b"PAY.SZT";

/// A purse card profile (`quickpass-card/1`) answering to [`purse_config`] and [`purse_sam`]:
/// `ef15_hex` is EF15, `balance` the e-purse balance in fen.
pub fn purse_profile_json(ef15_hex: &str, balance: u32) -> String {
    format!(
        r#"{{"schema": "quickpass-card/1", "name": "fuzz-purse", "ppse": false, "pse": false,
            "applications": [{{"type": "purse", "df_name_text": "PAY.SZT",
              "ef15": {{"layout": "raw", "data": "{ef15_hex}"}},
              "ep_balance": {balance}, "key_derivation": "none", "random_seed": "11223344",
              "keys": [{{"index": 1, "version": 1, "purchase": "{PURSE_KEY_HEX}",
                         "tac": "{PURSE_KEY_HEX}"}}]}}]}}"#
    )
}

/// The purse terminal configuration of the purse targets.
pub fn purse_config() -> PurseConfig {
    PurseConfig::new(PurseApplication::city(PURSE_DF_NAME))
}

/// A fresh software SAM holding [`PURSE_KEY_HEX`] (purchase and TAC keys), terminal
/// `001122334455`, key index 1.
pub fn purse_sam() -> SoftwareSam {
    let key =
        || quickpass::crypto::secret::SecretKey::new(&hex::decode(PURSE_KEY_HEX).expect("hex key"));
    SoftwareSam::new(
        [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
        1,
        1,
        vec![SoftwareSamKey {
            version: 1,
            algorithm_id: 0,
            purchase: key(),
            tac: Some(key()),
        }],
        NoDiversification,
    )
}

/// The purchase every purse seed and fuzz run makes: 40.96 yuan on 29 February 2012, 13:51.
pub fn purse_request() -> PurchaseRequest {
    PurchaseRequest {
        amount: PurseAmount::from_fen(0x1000),
        date: TransactionDate::new(2012, 2, 29).expect("valid date"),
        time: TransactionTime::new(13, 51, 0).expect("valid time"),
    }
}

// ---------------------------------------------------------------------------------------------
// Deny-list files
// ---------------------------------------------------------------------------------------------

/// Recomputes a deny-list file's checksum (`docs/deny-list.md` §3): if the first line holds
/// `"sha256":"…"`, its value is replaced by the SHA-256 of that line with the value empty, its
/// `\n` and the rest of the input. Any other input comes back unchanged. The `deny_list` target
/// uses it on odd-selector inputs, so mutated files get past the checksum and reach the
/// accepting paths (a random mutation almost never keeps a valid SHA-256).
pub fn resign_deny_file(data: &[u8]) -> Vec<u8> {
    const FIELD: &[u8] = b"\"sha256\":\"";
    let Some(end) = data.iter().position(|&b| b == b'\n') else {
        return data.to_vec();
    };
    let header = &data[..end];
    let Some(at) = header.windows(FIELD.len()).rposition(|w| w == FIELD) else {
        return data.to_vec();
    };
    let start = at + FIELD.len();
    let Some(len) = header[start..].iter().position(|&b| b == b'"') else {
        return data.to_vec();
    };
    let (before, after) = (&header[..start], &header[start + len..]);
    let mut hasher = quickpass::crypto::hash::Sha256Hasher::new();
    hasher.update(before);
    hasher.update(after);
    hasher.update(&data[end..]);
    let mut out = before.to_vec();
    out.extend_from_slice(hex::encode_upper(hasher.finish()).as_bytes());
    out.extend_from_slice(after);
    out.extend_from_slice(&data[end..]);
    out
}
