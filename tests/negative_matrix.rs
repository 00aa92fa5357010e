//! The negative ODA matrix (issue 6, part 2): for every card profile with ODA and every method
//! it runs — contactless qPBOC fDDA (RSA and SM2), Visa C-3 fDDA (SDAD format 95, issue 13),
//! contact SDA, DDA and CDA — the unmodified
//! card is first approved offline with ODA ok (so the matrix can fail), then each case taps a
//! freshly personalised card once:
//!
//! - every byte of the issuer certificate `90`, the ICC certificate `9F46`, the SSAD `93` (SDA)
//!   and the SDAD `9F4B` (fDDA in the GPO answer, DDA in the INTERNAL AUTHENTICATE answer, CDA in
//!   the first GENERATE AC answer), corrupted in flight;
//! - every byte of the static data to be authenticated: the *values* of the objects in the
//!   records the AFL marks for ODA (tags and lengths are left alone so the record still parses),
//!   and the AIP `82` that `9F4A` adds, corrupted in flight in the READ RECORD / GPO answer;
//! - issuer / ICC certificate expired, issuer certificate revoked (terminal list), CA key
//!   expired, `8F` naming an absent CA key, the CA key index present with another key, and the
//!   certificates issued for another PAN than `5A` (issuer identifier, ICC certificate PAN).
//!
//! Each corrupted byte is XORed with [`MASK`] (`01`): a change is guaranteed, and the smallest
//! one keeps most values in their domain, so more cases reach ODA instead of stopping at a
//! parser. The position is found in the baseline exchange log (the card is deterministic: the
//! same tap on a fresh card sends the same bytes) and applied by [`FaultyCard`]; each case
//! checks that its fault fired.
//!
//! No case may end in an offline approval — a contact online request is also completed as
//! "unable to go online", where the default action codes could approve — and every case whose
//! outcome carries a TVR must have the bit EMV Book 3 §10.3 names: "SDA failed" (byte 1 b7),
//! "DDA failed" (byte 1 b4, also fDDA) or "CDA failed" (byte 1 b3), and not the failed bit of
//! another method. When the corrupted byte is in the AIP, the method is the one the corrupted
//! AIP selects (the test's own table of Book 3 §10.3), or "ODA not performed" (byte 1 b8) when
//! it selects none. A card answer the kernel cannot parse ends the tap with an error; that
//! counts separately ("ended before ODA" / "ended after ODA", with the TVR the contact
//! [`Progress`] kept).
//!
//! Mastercard C-2 (`c2_cda_mchip_card`, issue 13): the same corruption of `90`, `9F46`, the
//! GENERATE AC's `9F4B`, the AIP and the signed record on the simulated M/Chip card through the
//! C-2 kernel; no case approves, and each that reaches a decision has "CDA failed" (or "ODA not
//! performed" when the corrupted AIP drops CDA).
//!
//! Run with `--nocapture` to see the table.

use std::collections::BTreeMap;

use quickpass::crypto::capk::{
    rsa_checksum, sm2_checksum, CaPublicKey, CapkIndex, HashAlgorithm, PkAlgorithm, Rid,
};
use quickpass::crypto::date::Date;
use quickpass::kernel::bits::{Bit, Tvr};
use quickpass::kernel::config::{KernelConfig, RevokedCertificate};
use quickpass::kernel::contact::{self, ContactInput, FirstPhase, NoPinPad, Progress};
use quickpass::kernel::contactless;
use quickpass::kernel::transport::{ApduLayer, RawExchange};
use quickpass::kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass::kernel::Outcome;
use quickpass::kernel::TransactionInput;
use quickpass::kernel::{OdaMethod, OdaStatus};
use quickpass_sim::ca::{TestCa, RSA_CA_INDEX, SM2_CA_INDEX};
use quickpass_sim::faults::{Fault, FaultyCard, Trigger};
use quickpass_sim::pboc::PbocFields;
use quickpass_sim::{ApplicationProfile, CardProfile, VirtualCard};

/// What every corrupted byte is XORed with.
const MASK: u8 = 0x01;

const TAG_AIP: u32 = 0x82;
const TAG_AFL: u32 = 0x94;
const TAG_ISSUER_CERTIFICATE: u32 = 0x90;
const TAG_ICC_CERTIFICATE: u32 = 0x9F46;
const TAG_SSAD: u32 = 0x93;
const TAG_SDAD: u32 = 0x9F4B;

/// The ODA method a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Fdda,
    Sda,
    Dda,
    Cda,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Fdda => "fDDA",
            Method::Sda => "SDA",
            Method::Dda => "DDA",
            Method::Cda => "CDA",
        }
    }

    fn kernel(self) -> OdaMethod {
        match self {
            Method::Fdda => OdaMethod::Fdda,
            Method::Sda => OdaMethod::Sda,
            Method::Dda => OdaMethod::Dda,
            Method::Cda => OdaMethod::Cda,
        }
    }

    /// The TVR bit EMV Book 3 §10.3 sets when this method fails.
    fn failed_bit(self) -> Bit<Tvr> {
        match self {
            Method::Sda => Tvr::SDA_FAILED,
            Method::Dda | Method::Fdda => Tvr::DDA_FAILED,
            Method::Cda => Tvr::CDA_FAILED,
        }
    }
}

/// One profile × method: the card, the terminal, the amount.
struct Scenario {
    profile_name: &'static str,
    method: Method,
    profile: CardProfile,
    config: KernelConfig,
    amount: u64,
}

impl Scenario {
    fn contactless(&self) -> bool {
        self.method == Method::Fdda
    }

    /// The terminal capabilities byte 3 (ODA methods) of the scenario's terminal.
    fn oda_capabilities(&self) -> u8 {
        self.config.terminal.terminal().capabilities[2]
    }

    /// The ODA the kernel must run for a card presenting `aip`: the test's own reading of
    /// EMV Book 3 §10.3 (contact: CDA, else DDA, else SDA among what both support;
    /// contactless: fDDA when the AIP offers DDA). `None`: no ODA.
    fn expected_method(&self, aip: [u8; 2]) -> Option<Method> {
        if self.contactless() {
            return (aip[0] & 0x20 != 0).then_some(Method::Fdda);
        }
        let terminal = self.oda_capabilities();
        if aip[0] & 0x01 != 0 && terminal & 0x08 != 0 {
            Some(Method::Cda)
        } else if aip[0] & 0x20 != 0 && terminal & 0x40 != 0 {
            Some(Method::Dda)
        } else if aip[0] & 0x40 != 0 && terminal & 0x80 != 0 {
            Some(Method::Sda)
        } else {
            None
        }
    }
}

fn base_config() -> KernelConfig {
    quickpass_sim::data::default_kernel_config().expect("default configuration")
}

fn load_profile(name: &str) -> CardProfile {
    CardProfile::load(quickpass_sim::data::data_dir().join(format!("cards/{name}.json")))
        .expect("profile")
}

fn pboc(profile: &mut CardProfile) -> &mut PbocFields {
    match profile.applications.first_mut() {
        Some(ApplicationProfile::Pboc(p)) => p,
        _ => panic!("the first application is not PBOC"),
    }
}

fn pboc_ref(profile: &CardProfile) -> &PbocFields {
    match profile.applications.first() {
        Some(ApplicationProfile::Pboc(p)) => p,
        _ => panic!("the first application is not PBOC"),
    }
}

/// The default terminal; with the SM2 test CA key and SM support for SM2 cards.
fn terminal(sm2: bool) -> KernelConfig {
    let mut config = base_config();
    if sm2 {
        config.terminal = config
            .terminal
            .edited(|p| p.terminal.sm_supported = true)
            .expect("valid configuration");
        config
            .capks
            .insert(
                TestCa::shared()
                    .expect("test CA")
                    .sm2_ca_public_key()
                    .expect("SM2 CA key"),
            )
            .expect("insert");
    }
    config
}

/// The contactless terminal.
fn contactless_scenario(profile_name: &'static str, sm2: bool) -> Scenario {
    let config = terminal(sm2);
    Scenario {
        profile_name,
        method: Method::Fdda,
        profile: load_profile(profile_name),
        config,
        amount: 100,
    }
}

/// The RID of the card application's AID: where the terminal looks its CA key up (the test CA
/// under UnionPay's RID, or under Visa's for the simulated Visa card).
fn rid_of(p: &PbocFields) -> [u8; 5] {
    let aid = hex::decode(&p.aid).expect("AID hex");
    aid[..5].try_into().expect("an AID has a RID")
}

/// The simulated Visa card (C-3, fDDA with SDAD format 95) at the international terminal.
fn visa_scenario() -> Scenario {
    let terminal = quickpass_sim::data::data_dir().join("terminals/international.json");
    Scenario {
        profile_name: "visa-qvsdc",
        method: Method::Fdda,
        profile: load_profile("visa-qvsdc"),
        config: quickpass_sim::data::kernel_config(&terminal).expect("international terminal"),
        amount: 100,
    }
}

/// The contact terminal of tests/contact_flow.rs (plaintext PIN, signature, no CVM), with
/// only the ODA methods of `oda` in its capabilities byte 3.
fn contact_scenario(profile_name: &'static str, method: Method, sm2: bool) -> Scenario {
    let mut config = terminal(sm2);
    let capabilities = [
        0xE0,
        0xA8,
        match method {
            Method::Sda => 0x80,
            Method::Dda => 0xC0,
            Method::Cda | Method::Fdda => 0xC8,
        },
    ];
    config.terminal = config
        .terminal
        .edited(|p| p.terminal.capabilities = capabilities)
        .expect("valid configuration");
    let mut profile = load_profile(profile_name);
    if method == Method::Sda {
        // The profiles carry no 93 (like the real cards); this variant adds one.
        pboc(&mut profile).oda.data_authentication_code = Some("DAC1".into());
    }
    Scenario {
        profile_name,
        method,
        profile,
        config,
        amount: 1_000,
    }
}

fn input(amount: u64) -> TransactionInput {
    TransactionInput {
        amount: Amount::from_minor(amount).expect("amount"),
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(2026, 11, 28).expect("date"),
        time: TransactionTime::new(8, 30, 0).expect("time"),
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    }
}

/// A byte of a card answer to corrupt: the `occurrence`-th command starting with `prefix`
/// (CLA INS P1 P2), response byte `offset`.
#[derive(Debug, Clone)]
struct Flip {
    prefix: Vec<u8>,
    occurrence: u64,
    offset: usize,
}

/// How a tap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Outcome(Outcome),
    /// A kernel error before ODA ran (malformed card data).
    ErrorBeforeOda,
    /// A kernel error after ODA ran (the TVR is the contact progress's).
    ErrorAfterOda,
}

/// One tap's result.
#[derive(Debug)]
struct Tap {
    ending: Ending,
    /// Also true for a contact online request completed "unable to go online" into Approved.
    approved: bool,
    tvr: Option<Tvr>,
    oda_method: Option<OdaMethod>,
    oda_ok: bool,
    aip: Option<[u8; 2]>,
    fired: usize,
    detail: String,
}

/// Taps `card` once, with `flip` applied in flight, and records the log.
fn tap(
    scenario: &Scenario,
    card: VirtualCard,
    config: &KernelConfig,
    flip: Option<&Flip>,
) -> (Tap, Vec<RawExchange>) {
    let mut faulty = FaultyCard::new(card);
    if let Some(flip) = flip {
        faulty.plan(
            Trigger::matching(&flip.prefix, flip.occurrence),
            Fault::CorruptByte {
                offset: flip.offset,
                mask: MASK,
            },
        );
    }
    let mut layer = ApduLayer::new(&mut faulty);
    layer.record();
    let input = input(scenario.amount);
    let mut tap = if scenario.contactless() {
        match contactless::read_card(config, &input, &mut layer) {
            Err(e) => Tap {
                ending: Ending::ErrorBeforeOda,
                approved: e.outcome() == Outcome::Approved,
                tvr: None,
                oda_method: None,
                oda_ok: false,
                aip: None,
                fired: 0,
                detail: e.to_string(),
            },
            Ok(phase) => {
                let result = phase.complete(config);
                Tap {
                    ending: Ending::Outcome(result.outcome),
                    approved: result.outcome == Outcome::Approved,
                    tvr: Some(result.tvr),
                    oda_method: result.oda.method,
                    oda_ok: result.oda.status() == OdaStatus::Ok,
                    aip: aip_of(result.card_phase.card().get(quickpass::kernel::tags::AIP)),
                    fired: 0,
                    detail: format!("{:?}", result.record()),
                }
            }
        }
    } else {
        let input = ContactInput::new(input);
        let mut progress = Progress::new(config, &input);
        match contact::start_with(
            config,
            &input,
            &[],
            &mut layer,
            &mut NoPinPad,
            &mut progress,
        ) {
            Err(e) => {
                let after = progress.oda.method.is_some();
                Tap {
                    ending: if after {
                        Ending::ErrorAfterOda
                    } else {
                        Ending::ErrorBeforeOda
                    },
                    approved: false,
                    tvr: after.then_some(progress.tvr),
                    oda_method: progress.oda.method,
                    oda_ok: progress.oda.status() == OdaStatus::Ok,
                    aip: aip_of(progress.card_phase.card().get(quickpass::kernel::tags::AIP)),
                    fired: 0,
                    detail: e.to_string(),
                }
            }
            Ok(FirstPhase::Complete(result)) => Tap {
                ending: Ending::Outcome(result.outcome),
                approved: result.outcome == Outcome::Approved,
                tvr: Some(result.tvr),
                oda_method: result.oda.method,
                oda_ok: result.oda.status() == OdaStatus::Ok,
                aip: aip_of(result.card_phase.card().get(quickpass::kernel::tags::AIP)),
                fired: 0,
                detail: format!("{:?}", result.record()),
            },
            Ok(FirstPhase::Online(request)) => {
                let tvr = request.tvr();
                let oda_method = request.oda().method;
                let oda_ok = request.oda().status() == OdaStatus::Ok;
                let aip = aip_of(
                    request
                        .card_phase()
                        .card()
                        .get(quickpass::kernel::tags::AIP),
                );
                // The terminal cannot reach the issuer: the default action codes decide, and
                // a TC must still not approve without ODA.
                let (approved, detail) = match request.complete_unable_to_go_online(&mut layer) {
                    Ok(result) => (
                        result.outcome == Outcome::Approved,
                        format!("unable to go online: {:?}", result.record()),
                    ),
                    Err(e) => (false, format!("unable to go online: {e}")),
                };
                Tap {
                    ending: Ending::Outcome(Outcome::OnlineRequest),
                    approved,
                    tvr: Some(tvr),
                    oda_method,
                    oda_ok,
                    aip,
                    fired: 0,
                    detail,
                }
            }
        }
    };
    let log = layer.take_log();
    drop(layer);
    tap.fired = faulty.fired().len();
    (tap, log)
}

fn aip_of(value: Option<&[u8]>) -> Option<[u8; 2]> {
    value.and_then(|v| v.try_into().ok())
}

/// A primitive data object found in a card answer: tag, absolute value offset and length.
#[derive(Debug, Clone, Copy)]
struct Found {
    tag: u32,
    start: usize,
    len: usize,
}

/// The primitive objects of BER-TLV `data` (recursing into constructed ones), offsets from
/// `base`. Written here, not taken from the kernel, so the oracle does not share its parser.
fn walk(data: &[u8], base: usize, out: &mut Vec<Found>) {
    let mut i = 0;
    while i < data.len() {
        let first = data[i];
        let mut tag = u32::from(first);
        i += 1;
        if first & 0x1F == 0x1F {
            while let Some(&b) = data.get(i) {
                tag = (tag << 8) | u32::from(b);
                i += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let Some(&l0) = data.get(i) else { return };
        i += 1;
        let len = match l0 {
            0x81 => {
                let Some(&l) = data.get(i) else { return };
                i += 1;
                usize::from(l)
            }
            0x82 => {
                let (Some(&a), Some(&b)) = (data.get(i), data.get(i + 1)) else {
                    return;
                };
                i += 2;
                usize::from(a) << 8 | usize::from(b)
            }
            l if l < 0x80 => usize::from(l),
            _ => return,
        };
        let Some(value) = data.get(i..i + len) else {
            return;
        };
        if first & 0x20 != 0 {
            walk(value, base + i, out);
        } else {
            out.push(Found {
                tag,
                start: base + i,
                len,
            });
        }
        i += len;
    }
}

/// The baseline exchanges, with the objects of each answer and the trigger that names it.
struct Transcript {
    exchanges: Vec<(Flip, Vec<Found>, Vec<u8>)>,
}

impl Transcript {
    fn new(log: &[RawExchange]) -> Self {
        let mut seen: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let exchanges = log
            .iter()
            .map(|exchange| {
                let prefix = exchange.command[..4.min(exchange.command.len())].to_vec();
                let occurrence = seen.entry(prefix.clone()).or_insert(0);
                *occurrence += 1;
                let data = &exchange.response[..exchange.response.len().saturating_sub(2)];
                let mut objects = Vec::new();
                walk(data, 0, &mut objects);
                let flip = Flip {
                    prefix,
                    occurrence: *occurrence,
                    offset: 0,
                };
                (flip, objects, exchange.response.clone())
            })
            .collect();
        Transcript { exchanges }
    }

    /// Every value byte of the first object `tag` found in an answer.
    fn value_bytes(&self, tag: u32) -> Vec<Flip> {
        self.exchanges
            .iter()
            .find_map(|(flip, objects, _)| {
                objects.iter().find(|o| o.tag == tag).map(|o| {
                    (o.start..o.start + o.len)
                        .map(|offset| Flip {
                            offset,
                            ..flip.clone()
                        })
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// The value of the first object `tag` found in an answer.
    fn value(&self, tag: u32) -> Option<Vec<u8>> {
        self.exchanges.iter().find_map(|(_, objects, response)| {
            objects
                .iter()
                .find(|o| o.tag == tag)
                .map(|o| response[o.start..o.start + o.len].to_vec())
        })
    }

    /// Every value byte of every object in the records the AFL marks for ODA (SFI 1–10: the
    /// objects of the `70` template), read after GPO.
    fn static_record_bytes(&self) -> Vec<Flip> {
        let afl = self.value(TAG_AFL).expect("AFL in the GPO answer");
        let gpo = self
            .exchanges
            .iter()
            .position(|(flip, _, _)| flip.prefix.starts_with(&[0x80, 0xA8]))
            .expect("GPO");
        let mut flips = Vec::new();
        for entry in afl.chunks(4) {
            let (sfi, first, count) = (entry[0] >> 3, entry[1], entry[3]);
            assert!(
                sfi <= 10,
                "ODA record of SFI {sfi}: values only for SFI 1-10"
            );
            for record in first..first + count {
                let prefix = vec![0x00, 0xB2, record, (sfi << 3) | 0x04];
                let (flip, objects, _) = self.exchanges[gpo..]
                    .iter()
                    .find(|(flip, _, _)| flip.prefix == prefix)
                    .expect("ODA record read");
                for object in objects {
                    flips.extend(
                        (object.start..object.start + object.len).map(|offset| Flip {
                            offset,
                            ..flip.clone()
                        }),
                    );
                }
            }
        }
        flips
    }
}

/// Counts for one row of the printed matrix.
#[derive(Debug, Default)]
struct Row {
    cases: usize,
    approvals: usize,
    online: usize,
    declined: usize,
    other: usize,
    ended_before_oda: usize,
    ended_after_oda: usize,
    with_tvr: usize,
    tvr_right: usize,
}

/// The matrix of one scenario: rows by mutation class, and the failures found.
struct Matrix<'a> {
    scenario: &'a Scenario,
    rows: BTreeMap<&'static str, Row>,
    failures: Vec<String>,
}

impl<'a> Matrix<'a> {
    fn new(scenario: &'a Scenario) -> Self {
        Matrix {
            scenario,
            rows: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// Runs one case and checks it.
    fn case(
        &mut self,
        class: &'static str,
        what: &str,
        card: VirtualCard,
        config: &KernelConfig,
        flip: Option<&Flip>,
    ) {
        let (tap, _) = tap(self.scenario, card, config, flip);
        let row = self.rows.entry(class).or_default();
        row.cases += 1;
        let name = format!("{class} {what}");
        if flip.is_some() && tap.fired != 1 {
            self.failures
                .push(format!("{name}: the fault fired {} times", tap.fired));
        }
        if tap.approved {
            row.approvals += 1;
            self.failures
                .push(format!("{name}: APPROVED OFFLINE: {}", tap.detail));
        }
        match tap.ending {
            Ending::Outcome(Outcome::OnlineRequest) => row.online += 1,
            Ending::Outcome(Outcome::Declined) => row.declined += 1,
            Ending::Outcome(Outcome::Approved) => {}
            Ending::Outcome(_) => row.other += 1,
            Ending::ErrorBeforeOda => row.ended_before_oda += 1,
            Ending::ErrorAfterOda => row.ended_after_oda += 1,
        }
        let Some(tvr) = tap.tvr else { return };
        row.with_tvr += 1;
        let presented = tap.aip.unwrap_or_default();
        let expected = self.scenario.expected_method(presented);
        let mut problems = Vec::new();
        match expected {
            Some(method) => {
                if tap.oda_method != Some(method.kernel()) {
                    problems.push(format!("method {:?}, expected {method:?}", tap.oda_method));
                }
                if tap.oda_ok {
                    problems.push("ODA ok".to_owned());
                }
                if !tvr.contains(method.failed_bit()) {
                    problems.push(format!("{:?} not set", method.failed_bit()));
                }
                for other in [Method::Sda, Method::Dda, Method::Cda] {
                    if other.failed_bit() != method.failed_bit() && tvr.contains(other.failed_bit())
                    {
                        problems.push(format!("{:?} set too", other.failed_bit()));
                    }
                }
            }
            None => {
                if !tvr.contains(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED) {
                    problems.push("ODA not performed not set".to_owned());
                }
            }
        }
        if problems.is_empty() {
            row.tvr_right += 1;
        } else {
            self.failures.push(format!(
                "{name}: TVR {tvr:?}: {}; {}",
                problems.join(", "),
                tap.detail
            ));
        }
    }

    /// Prints the rows and returns the number of cases.
    fn print(&self) -> usize {
        let s = self.scenario;
        println!(
            "\nODA negative matrix — {} × {} (XOR {MASK:02X})",
            s.profile_name,
            s.method.name()
        );
        println!(
            "{:<28} {:>6} {:>9} {:>7} {:>8} {:>6} {:>12} {:>11} {:>10}",
            "mutation class",
            "cases",
            "approvals",
            "online",
            "declined",
            "other",
            "ended<ODA",
            "ended>ODA",
            "TVR right"
        );
        let mut total = Row::default();
        for (class, row) in &self.rows {
            println!(
                "{:<28} {:>6} {:>9} {:>7} {:>8} {:>6} {:>12} {:>11} {:>6}/{:<4}",
                class,
                row.cases,
                row.approvals,
                row.online,
                row.declined,
                row.other,
                row.ended_before_oda,
                row.ended_after_oda,
                row.tvr_right,
                row.with_tvr
            );
            total.cases += row.cases;
            total.approvals += row.approvals;
            total.ended_before_oda += row.ended_before_oda;
            total.tvr_right += row.tvr_right;
            total.with_tvr += row.with_tvr;
        }
        println!(
            "matrix size {} — offline approvals {}, ended before ODA {}, TVR right {}/{}",
            total.cases, total.approvals, total.ended_before_oda, total.tvr_right, total.with_tvr
        );
        total.cases
    }
}

/// The same CA key with another expiry, or another key under the same RID and index.
fn replace_capk(
    config: &KernelConfig,
    rid: [u8; 5],
    index: u8,
    make: impl FnOnce(&CaPublicKey) -> CaPublicKey,
) -> KernelConfig {
    let mut config = config.clone();
    let old = config
        .capks
        .get(Rid(rid), CapkIndex(index))
        .expect("test CA key in the store");
    let new = make(old);
    config.capks.insert(new).expect("insert");
    config
}

fn expired_capk(key: &CaPublicKey) -> CaPublicKey {
    let expiry = Some(Date::new(2025, 12, 31).expect("date"));
    match key.pk_algorithm() {
        PkAlgorithm::Rsa => CaPublicKey::new_rsa(
            key.rid(),
            key.index(),
            key.modulus().expect("modulus"),
            key.exponent().expect("exponent"),
            key.hash_algorithm(),
            expiry,
            key.checksum(),
        ),
        _ => CaPublicKey::new_sm2(
            key.rid(),
            key.index(),
            key.sm2_public_key().expect("SM2 key"),
            key.hash_algorithm(),
            expiry,
            key.checksum(),
        ),
    }
    .expect("expired CA key")
}

/// Another key under the same RID and index (checksum valid, so the store takes it): the RSA
/// modulus with one middle byte changed (same length), or the SM2 issuer's point.
fn other_capk(key: &CaPublicKey) -> CaPublicKey {
    let (rid, index) = (key.rid(), key.index());
    match key.pk_algorithm() {
        PkAlgorithm::Rsa => {
            let mut modulus = key.modulus().expect("modulus").to_vec();
            let middle = modulus.len() / 2;
            modulus[middle] ^= 0x10;
            let exponent = key.exponent().expect("exponent");
            let checksum = rsa_checksum(rid, index, &modulus, exponent);
            CaPublicKey::new_rsa(
                rid,
                index,
                &modulus,
                exponent,
                HashAlgorithm::Sha1,
                None,
                &checksum,
            )
        }
        _ => {
            let point = TestCa::shared()
                .expect("test CA")
                .sm2_key("issuer")
                .expect("SM2 issuer")
                .public_key();
            let checksum = sm2_checksum(rid, index, point, HashAlgorithm::Sm3);
            CaPublicKey::new_sm2(rid, index, point, HashAlgorithm::Sm3, None, &checksum)
        }
    }
    .expect("other CA key")
}

/// `pan` with digit `i` changed.
fn other_pan(pan: &str, i: usize) -> String {
    pan.char_indices()
        .map(|(j, c)| {
            if j == i {
                if c == '9' {
                    '0'
                } else {
                    char::from(c as u8 + 1)
                }
            } else {
                c
            }
        })
        .collect()
}

/// Runs the whole matrix of a scenario, prints it and asserts it.
fn run_matrix(scenario: &Scenario) {
    let started = std::time::Instant::now();
    // Baseline: the unmodified card approves offline with the method under test.
    let fresh = || scenario.profile.build().expect("personalisation");
    let template = fresh();
    let copy = || template.duplicate().expect("a PBOC card can be copied");
    let (baseline, log) = tap(scenario, fresh(), &scenario.config, None);
    assert!(
        baseline.approved && baseline.ending == Ending::Outcome(Outcome::Approved),
        "baseline not approved: {baseline:?}"
    );
    assert!(baseline.oda_ok, "baseline ODA: {baseline:?}");
    assert_eq!(baseline.oda_method, Some(scenario.method.kernel()));
    let aip = baseline.aip.expect("AIP");
    assert_eq!(scenario.expected_method(aip), Some(scenario.method));
    assert!(baseline
        .tvr
        .is_some_and(|t| !t.contains(scenario.method.failed_bit())));

    // A copy of a personalised card answers byte for byte as a freshly personalised one: the
    // byte positions found in the baseline log hold for every copy.
    let (again, copy_log) = tap(scenario, copy(), &scenario.config, None);
    assert!(again.approved);
    assert_eq!(format!("{log:?}"), format!("{copy_log:?}"));
    let transcript = Transcript::new(&log);
    let mut matrix = Matrix::new(scenario);
    let profile = &scenario.profile;
    let config = &scenario.config;

    // Every byte of the signed objects and of the static data, in flight.
    let mut flip_classes = vec![
        ("issuer certificate 90", TAG_ISSUER_CERTIFICATE),
        ("static data: AIP 82", TAG_AIP),
    ];
    if scenario.method == Method::Sda {
        flip_classes.push(("SSAD 93", TAG_SSAD));
    } else {
        flip_classes.push(("ICC certificate 9F46", TAG_ICC_CERTIFICATE));
        flip_classes.push(("SDAD 9F4B", TAG_SDAD));
    }
    for (class, tag) in flip_classes {
        let flips = transcript.value_bytes(tag);
        assert!(!flips.is_empty(), "{class}: not in the baseline answers");
        for (k, flip) in flips.iter().enumerate() {
            matrix.case(class, &format!("byte {k}"), copy(), config, Some(flip));
        }
    }
    let statics = transcript.static_record_bytes();
    assert!(statics.len() > 20, "static data found: {}", statics.len());
    for (k, flip) in statics.iter().enumerate() {
        matrix.case(
            "static data: record values",
            &format!("byte {k}"),
            copy(),
            config,
            Some(flip),
        );
    }

    // Certificates and CA keys.
    let p = pboc_ref(profile);
    let index = match &p.oda.capk_index {
        Some(text) => hex::decode(text).expect("hex")[0],
        None if p.oda.algorithm == quickpass_sim::pboc::OdaAlgorithm::Sm2 => SM2_CA_INDEX,
        None => RSA_CA_INDEX,
    };
    // Personalised anew: the fault changes what is signed.
    let with = |edit: &dyn Fn(&mut PbocFields)| {
        let mut profile = profile.clone();
        edit(pboc(&mut profile));
        profile.build().expect("personalisation")
    };
    matrix.case(
        "issuer certificate expired",
        "",
        with(&|p| p.faults.issuer_cert_expired = true),
        config,
        None,
    );
    if scenario.method != Method::Sda {
        // SDA does not use the ICC certificate: an expired one must not matter there.
        matrix.case(
            "ICC certificate expired",
            "",
            with(&|p| p.faults.icc_cert_expired = true),
            config,
            None,
        );
    }
    let mut revoked = config.clone();
    let rid = rid_of(p);
    let serial = hex::decode(&p.oda.issuer_cert_serial).expect("serial");
    revoked.terminal = revoked
        .terminal
        .edited(|p| {
            p.revoked_certificates.push(RevokedCertificate {
                rid,
                index,
                serial: serial.try_into().expect("3 bytes"),
            })
        })
        .expect("valid configuration");
    matrix.case("issuer certificate revoked", "", copy(), &revoked, None);
    matrix.case(
        "CA key expired",
        "",
        copy(),
        &replace_capk(config, rid_of(p), index, expired_capk),
        None,
    );
    matrix.case(
        "CA key index absent (8F)",
        "",
        with(&|p| p.faults.wrong_capk_index = true),
        config,
        None,
    );
    matrix.case(
        "CA key index, other key",
        "",
        copy(),
        &replace_capk(config, rid_of(p), index, other_capk),
        None,
    );
    let pan = p.pan.clone();
    matrix.case(
        "PAN mismatch: issuer id",
        "",
        with(&|p| p.faults.certificate_pan = Some(other_pan(&pan, 2))),
        config,
        None,
    );
    if scenario.method != Method::Sda {
        // SDA checks only the issuer identifier against the PAN.
        let last = pan.len() - 1;
        matrix.case(
            "PAN mismatch: ICC certificate",
            "",
            with(&|p| p.faults.certificate_pan = Some(other_pan(&pan, last))),
            config,
            None,
        );
    }

    let size = matrix.print();
    println!(
        "{} × {}: {size} taps in {:.1} s",
        scenario.profile_name,
        scenario.method.name(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        matrix.failures.is_empty(),
        "{} failures:\n{}",
        matrix.failures.len(),
        matrix.failures.join("\n")
    );
}

#[test]
fn fdda_rsa_debit_card() {
    run_matrix(&contactless_scenario("qpboc-debit-offline", false));
}

#[test]
fn fdda_rsa_pure_ec_card() {
    run_matrix(&contactless_scenario("pure-ec", false));
}

#[test]
fn fdda_sm2_card() {
    run_matrix(&contactless_scenario("pboc3-sm2", true));
}

#[test]
fn fdda_rsa_visa_card_c3() {
    run_matrix(&visa_scenario());
}

#[test]
fn contact_sda() {
    run_matrix(&contact_scenario("qpboc-debit-offline", Method::Sda, false));
}

#[test]
fn contact_dda() {
    run_matrix(&contact_scenario("qpboc-debit-offline", Method::Dda, false));
}

#[test]
fn contact_cda() {
    run_matrix(&contact_scenario("qpboc-debit-offline", Method::Cda, false));
}

#[test]
fn contact_sda_sm2() {
    run_matrix(&contact_scenario("pboc3-sm2", Method::Sda, true));
}

#[test]
fn contact_cda_sm2() {
    run_matrix(&contact_scenario("pboc3-sm2", Method::Cda, true));
}

// ---------------------------------------------------------------------------------------------
// Mastercard C-2 (issue 13): CDA on the simulated M/Chip card, every signed byte corrupted.
// ---------------------------------------------------------------------------------------------

/// A C-2 reader clock: every relay resistance exchange takes 6.6 ms (inside the card's
/// bounds), so relay resistance never decides a case.
struct C2Clock(u64);

impl quickpass::kernel::c2::RelayEnvironment for C2Clock {
    fn now_micros(&mut self) -> u64 {
        self.0 += 6_600;
        self.0
    }

    fn fresh_unpredictable_number(&mut self) -> [u8; 4] {
        [0xC2, 0xC2, 0xC2, 0xC2]
    }
}

/// One C-2 tap on a fresh M/Chip card with `flip` (if any) applied in flight: the result and
/// the exchange log.
fn c2_tap(
    flip: Option<&Flip>,
) -> (
    quickpass::kernel::c2::C2Result<quickpass_sim::SimError>,
    Vec<RawExchange>,
    usize,
) {
    use quickpass::kernel::apdu::{Command, Occurrence};
    use quickpass::kernel::c2::{self, C2Config, TornLog};
    use quickpass::kernel::values::Aid;
    let mut card = load_profile("mastercard-mchip")
        .build()
        .expect("personalisation");
    let mut faulty = FaultyCard::new(&mut card);
    if let Some(flip) = flip {
        faulty.plan(
            Trigger::matching(&flip.prefix, flip.occurrence),
            Fault::CorruptByte {
                offset: flip.offset,
                mask: MASK,
            },
        );
    }
    let mut layer = ApduLayer::new(&mut faulty);
    layer.record();
    let aid = Aid::new(&[0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10]).expect("AID");
    let fci = layer
        .exchange(&Command::select_aid(&aid, Occurrence::First))
        .expect("SELECT");
    // An offline-approving reader: floor limit 100.00, the amount 5.00.
    let reader = C2Config {
        floor_limit: 10_000,
        ..C2Config::default()
    };
    let result = c2::transact(
        &base_config(),
        &reader,
        &input(500),
        &fci.data,
        &mut layer,
        &mut TornLog::new(),
        &mut C2Clock(0),
    );
    let log = layer.take_log();
    drop(layer);
    (result, log, faulty.fired().len())
}

#[test]
fn c2_cda_mchip_card() {
    let (baseline, log, _) = c2_tap(None);
    assert_eq!(
        baseline.outcome(),
        Outcome::Approved,
        "{:?}",
        baseline.reason
    );
    assert_eq!(baseline.oda.status(), OdaStatus::Ok);
    let transcript = Transcript::new(&log);
    let mut flips: Vec<(&str, Flip)> = Vec::new();
    for (name, tag) in [
        ("issuer certificate 90", TAG_ISSUER_CERTIFICATE),
        ("ICC certificate 9F46", TAG_ICC_CERTIFICATE),
        ("SDAD 9F4B (GENERATE AC)", TAG_SDAD),
        ("AIP 82", TAG_AIP),
    ] {
        let bytes = transcript.value_bytes(tag);
        assert!(!bytes.is_empty(), "{name} in the baseline");
        flips.extend(bytes.into_iter().map(|flip| (name, flip)));
    }
    flips.extend(
        transcript
            .static_record_bytes()
            .into_iter()
            .map(|flip| ("static data (signed record)", flip)),
    );
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (name, flip) in &flips {
        let (result, _, fired) = c2_tap(Some(flip));
        assert_eq!(fired, 1, "{name} {flip:?}: the fault fired");
        assert_ne!(
            result.outcome(),
            Outcome::Approved,
            "{name} {flip:?}: approved offline ({:?})",
            result.reason
        );
        let entry = counts.entry(name).or_default();
        entry.0 += 1;
        if result.error.is_some() {
            entry.2 += 1;
        } else {
            // CDA ran and failed, or the corrupted AIP chose no CDA ("ODA not performed").
            assert!(
                result.tvr.contains(Tvr::CDA_FAILED)
                    || result
                        .tvr
                        .contains(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED),
                "{name} {flip:?}: TVR {:?}",
                result.tvr
            );
            entry.1 += 1;
        }
    }
    println!("C-2 CDA (mastercard-mchip): cases / TVR says CDA failed or not performed / ended on an error");
    for (name, (cases, flagged, errors)) in &counts {
        println!("  {name:<30} {cases:>5} {flagged:>5} {errors:>5}");
    }
    assert!(counts.values().map(|c| c.0).sum::<usize>() > 500);
}
