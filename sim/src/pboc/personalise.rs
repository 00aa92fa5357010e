//! Personalisation: turns a [`PbocProfile`] into the card's fixed data (records, AFL, FCI, keys,
//! certificates issued by the test CA) and its initial counters.

use std::collections::{BTreeMap, VecDeque};

use quickpass_crypto::date::Date;
use quickpass_crypto::oda::issue::{
    self, pan_field, IccCertificateFields, IssuerCertificateFields,
};
use quickpass_crypto::oda::issue::{RsaSigner, Sm2Signer, SM2_PK_ALGORITHM};
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::dol::Dol;
use quickpass_kernel::tags;
use quickpass_kernel::tlv;
use quickpass_kernel::values::bcd::{digits_to_cn, digits_to_n};
use quickpass_kernel::Tag;

use super::crypto::derive_udk;
use super::profile::{
    CapProfile, ContactlessPath, FaultProfile, LogProfile, OdaAlgorithm, PbocProfile, RecordProfile,
};
use crate::ca::{self, TestCa};
use crate::profile::ProfileError;

/// The real UnionPay qPBOC PDOL (pboc-notes §2.3, QK trace).
pub(super) const BASE_PDOL: &str = "9F66049F02069F03069F1A0295055F2A029A039C019F3704";

/// Data objects a record of the ODA scope may not hold (they are signed afterwards).
const CERTIFICATE_TAGS: [Tag; 8] = [
    tags::CA_PUBLIC_KEY_INDEX,
    tags::ISSUER_PUBLIC_KEY_CERTIFICATE,
    tags::ISSUER_PUBLIC_KEY_REMAINDER,
    tags::ISSUER_PUBLIC_KEY_EXPONENT,
    tags::ICC_PUBLIC_KEY_CERTIFICATE,
    tags::ICC_PUBLIC_KEY_EXPONENT,
    tags::ICC_PUBLIC_KEY_REMAINDER,
    tags::SIGNED_STATIC_APPLICATION_DATA,
];

/// The ICC private key the card signs with.
#[derive(Clone, Copy)]
pub(super) enum Signer {
    Rsa(&'static RsaSigner),
    Sm2(&'static Sm2Signer),
}

/// A log file's configuration.
#[derive(Clone)]
pub(super) struct LogConfig {
    pub sfi: u8,
    pub records: u8,
    pub format: Dol,
    pub format_bytes: Vec<u8>,
}

/// What personalisation fixed: never changes afterwards.
#[derive(Clone)]
pub(super) struct Personalised {
    pub aid: Vec<u8>,
    pub in_ppse: bool,
    pub in_pse: bool,
    pub directory_entry: Vec<u8>,
    pub fci: Vec<u8>,
    pub data: BTreeMap<Tag, Vec<u8>>,
    pub records: BTreeMap<(u8, u8), Vec<u8>>,
    pub afl: Vec<u8>,
    pub aip: [u8; 2],
    pub path: ContactlessPath,
    pub pdol: Dol,
    pub cdol1: Dol,
    pub cdol2: Dol,
    pub ctq: [u8; 2],
    pub currency: [u8; 2],
    pub cap: CapProfile,
    pub udk: SecretKey,
    pub mk_smi: SecretKey,
    pub signer: Option<Signer>,
    pub oda: OdaAlgorithm,
    /// The signed data format of the SDAD: `05` (EMV / PBOC) or `95` (Visa fDDA).
    pub sdad_format: u8,
    pub faults: FaultProfile,
    pub dki: u8,
    pub pin: Vec<u8>,
    pub pin_try_limit: u8,
    pub transaction_log: LogConfig,
    pub load_log: LogConfig,
    pub script_mac_length: usize,
    pub seed: [u8; 20],
}

/// EC sub-account amounts (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EcState {
    pub balance: u64,
    pub balance_limit: u64,
    pub single_transaction_limit: u64,
    pub reset_threshold: u64,
}

/// What the card stores and changes: counters, balances, logs.
#[derive(Clone)]
pub(super) struct State {
    pub atc: u16,
    pub last_online_atc: u16,
    pub ec: Option<EcState>,
    pub pin_tries: u8,
    pub blocked: bool,
    pub transaction_log: VecDeque<Vec<u8>>,
    pub load_log: VecDeque<Vec<u8>>,
    pub random_counter: u64,
}

/// Field-path aware parsing helpers.
struct Fields<'a> {
    base: &'a str,
}

impl Fields<'_> {
    fn err(&self, field: &str, reason: impl Into<String>) -> ProfileError {
        ProfileError::invalid(format!("{}.{field}", self.base), reason)
    }

    fn hex(&self, field: &str, text: &str) -> Result<Vec<u8>, ProfileError> {
        hex::decode(text).map_err(|e| self.err(field, format!("not hex: {e}")))
    }

    fn hex_n<const N: usize>(&self, field: &str, text: &str) -> Result<[u8; N], ProfileError> {
        self.hex(field, text)?
            .try_into()
            .map_err(|_| self.err(field, format!("must be {N} bytes")))
    }

    fn digits(&self, field: &str, text: &str, min: usize, max: usize) -> Result<(), ProfileError> {
        if text.len() < min || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(field, format!("must be {min} to {max} decimal digits")));
        }
        Ok(())
    }

    fn n(&self, field: &str, text: &str, digits: usize) -> Result<Vec<u8>, ProfileError> {
        self.digits(field, text, digits, digits)?;
        digits_to_n(text, digits.div_ceil(2)).map_err(|e| self.err(field, e.to_string()))
    }

    /// yymmdd text → 3-byte BCD, checked to be a calendar date.
    fn date(&self, field: &str, text: &str) -> Result<[u8; 3], ProfileError> {
        Date::from_yymmdd(text).map_err(|e| self.err(field, e.to_string()))?;
        let bcd = digits_to_n(text, 3).map_err(|e| self.err(field, e.to_string()))?;
        Ok([bcd[0], bcd[1], bcd[2]])
    }

    /// MMYY text → 2-byte BCD.
    fn mmyy(&self, field: &str, text: &str) -> Result<[u8; 2], ProfileError> {
        self.digits(field, text, 4, 4)?;
        let month: u8 = text[..2].parse().map_err(|_| self.err(field, "not MMYY"))?;
        if !(1..=12).contains(&month) {
            return Err(self.err(field, "month must be 01 to 12"));
        }
        let bcd = digits_to_n(text, 2).map_err(|e| self.err(field, e.to_string()))?;
        Ok([bcd[0], bcd[1]])
    }

    fn dol(&self, field: &str, text: &str) -> Result<Dol, ProfileError> {
        Dol::parse(&self.hex(field, text)?).map_err(|e| self.err(field, e.to_string()))
    }

    fn tag(&self, field: &str, text: &str) -> Result<Tag, ProfileError> {
        let bytes = self.hex(field, text)?;
        match Tag::parse(&bytes, 0) {
            Ok((tag, used)) if used == bytes.len() => Ok(tag),
            _ => Err(self.err(field, format!("{text} is not one BER-TLV tag"))),
        }
    }
}

fn put(data: &mut BTreeMap<Tag, Vec<u8>>, tag: Tag, value: impl Into<Vec<u8>>) {
    data.insert(tag, value.into());
}

/// Track 2 equivalent data `57`: PAN `D` YYMM service code discretionary, `F`-padded.
fn track2(pan: &str, expiry: &str, service_code: &str, discretionary: &str) -> Vec<u8> {
    let mut nibbles: Vec<u8> = pan.bytes().map(|b| b - b'0').collect();
    nibbles.push(0x0D);
    nibbles.extend(expiry[..4].bytes().map(|b| b - b'0'));
    nibbles.extend(service_code.bytes().map(|b| b - b'0'));
    nibbles.extend(discretionary.bytes().map(|b| b - b'0'));
    if nibbles.len() % 2 == 1 {
        nibbles.push(0x0F);
    }
    nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// The default record layout (tags absent from the card data are left out); `ssad` adds a
/// record for the signed static application data `93` (too big to share one with `90`).
fn default_records(ssad: bool) -> Vec<(u8, bool, Vec<Tag>)> {
    let t = Tag::new;
    let mut records = vec![
        (1, false, vec![t(0x57), t(0x5F20), t(0x9F1F)]),
        (
            2,
            true,
            vec![
                t(0x5A),
                t(0x5F24),
                t(0x5F25),
                t(0x5F34),
                t(0x5F28),
                t(0x5F30),
                t(0x9F07),
                t(0x9F08),
                t(0x9F0D),
                t(0x9F0E),
                t(0x9F0F),
                t(0x8C),
                t(0x8D),
                t(0x8E),
                t(0x9F42),
                t(0x9F44),
                t(0x9F49),
                t(0x9F4A),
                t(0x9F51),
                t(0x9F74),
                t(0x9F14),
                t(0x9F23),
                t(0x9F63),
            ],
        ),
        (3, false, vec![t(0x8F), t(0x90), t(0x92), t(0x9F32)]),
        (3, false, vec![t(0x9F46), t(0x9F47), t(0x9F48)]),
    ];
    if ssad {
        records.push((3, false, vec![tags::SIGNED_STATIC_APPLICATION_DATA]));
    }
    records
}

/// One record being laid out.
struct Layout {
    sfi: u8,
    number: u8,
    oda: bool,
    tags: Vec<Tag>,
    explicit: bool,
}

fn render(
    f: &Fields<'_>,
    layout: &Layout,
    data: &BTreeMap<Tag, Vec<u8>>,
) -> Result<Vec<u8>, ProfileError> {
    let mut body = Vec::new();
    for tag in &layout.tags {
        match data.get(tag) {
            Some(value) => tlv::encode(*tag, value, &mut body),
            None if layout.explicit => {
                return Err(f.err(
                    "records",
                    format!(
                        "SFI {} record {}: the card has no {tag}",
                        layout.sfi, layout.number
                    ),
                ))
            }
            None => {}
        }
    }
    let record = tlv::encoded(tags::RECORD_TEMPLATE, &body);
    if record.len() > 256 {
        return Err(f.err(
            "records",
            format!(
                "SFI {} record {} is {} bytes (at most 256)",
                layout.sfi,
                layout.number,
                record.len()
            ),
        ));
    }
    Ok(record)
}

fn log_config(f: &Fields<'_>, field: &str, log: &LogProfile) -> Result<LogConfig, ProfileError> {
    if !(11..=30).contains(&log.sfi) {
        return Err(f.err(field, "sfi must be 11 to 30"));
    }
    let format_bytes = f.hex(field, &log.format)?;
    let format = Dol::parse(&format_bytes).map_err(|e| f.err(field, e.to_string()))?;
    Ok(LogConfig {
        sfi: log.sfi,
        records: log.records,
        format,
        format_bytes,
    })
}

/// Personalises: validates every field, builds the data, issues the certificates.
pub(super) fn personalise(
    profile: &PbocProfile,
    field: &str,
) -> Result<(Personalised, State), ProfileError> {
    let f = Fields { base: field };
    let aid = f.hex("aid", &profile.aid)?;
    if !(5..=16).contains(&aid.len()) {
        return Err(f.err("aid", "must be 5 to 16 bytes"));
    }
    f.digits("pan", &profile.pan, 12, 19)?;
    let [psn] = f.hex_n::<1>("psn", &profile.psn)?;
    if psn >> 4 > 9 || psn & 0x0F > 9 {
        return Err(f.err("psn", "must be BCD"));
    }
    let expiry = f.date("expiry", &profile.expiry)?;
    let effective = f.date("effective", &profile.effective)?;
    f.digits("service_code", &profile.service_code, 3, 3)?;
    f.digits("track2_discretionary", &profile.track2_discretionary, 0, 19)?;
    // EMV Book 3 Annex A: `57` is at most 19 bytes (38 nibbles: PAN, D, YYMM, service code,
    // discretionary data); the kernel refuses a longer one.
    if profile.pan.len() + 1 + 4 + 3 + profile.track2_discretionary.len() > 38 {
        return Err(f.err(
            "track2_discretionary",
            "track 2 equivalent data (57) would exceed 19 bytes: shorten it",
        ));
    }
    let mut aip = f.hex_n::<2>("aip", &profile.aip)?;
    if profile.contactless_path == ContactlessPath::Full {
        aip[1] |= 0x80;
    }
    let ctq = f.hex_n::<2>("ctq", &profile.ctq)?;
    let currency_bytes = f.n("currency", &profile.currency, 3)?;
    let currency = [currency_bytes[0], currency_bytes[1]];
    let imk = f.hex_n::<16>("issuer_master_key", &profile.issuer_master_key)?;
    let imk_smi = match &profile.issuer_smi_key {
        Some(text) => f.hex_n::<16>("issuer_smi_key", text)?,
        None => imk,
    };
    let udk = derive_udk(&imk, &profile.pan, psn).map_err(|e| f.err("pan", e.to_string()))?;
    let mk_smi =
        derive_udk(&imk_smi, &profile.pan, psn).map_err(|e| f.err("pan", e.to_string()))?;
    let [dki] = f.hex_n::<1>("dki", &profile.dki)?;
    f.digits("pin", &profile.pin, 4, 12)?;
    if profile.pin_try_limit == 0 || profile.pin_try_limit > 15 {
        return Err(f.err("pin_try_limit", "must be 1 to 15"));
    }
    let pin_tries = profile.pin_try_counter.unwrap_or(profile.pin_try_limit);
    if pin_tries > profile.pin_try_limit {
        return Err(f.err("pin_try_counter", "above the try limit"));
    }
    if profile.script_mac_length != 4 && profile.script_mac_length != 8 {
        return Err(f.err("script_mac_length", "must be 4 or 8"));
    }
    if profile.cap.offline_only && profile.ec.is_none() {
        return Err(f.err(
            "cap.offline_only",
            "an offline-only card needs an ec account",
        ));
    }

    let oda = profile.oda.algorithm;
    let pdol = match &profile.pdol {
        Some(text) => f.dol("pdol", text)?,
        None => {
            let mut text = BASE_PDOL.to_owned();
            if profile.ec.is_some() {
                text.push_str("9F7A01");
            }
            if oda == OdaAlgorithm::Sm2 {
                text.push_str("DF6901");
            }
            f.dol("pdol", &text)?
        }
    };
    let cdol1 = f.dol("cdol1", &profile.cdol1)?;
    let cdol2 = f.dol("cdol2", &profile.cdol2)?;
    let ddol = f.dol("ddol", &profile.ddol)?;

    // Card data objects.
    let mut data = BTreeMap::new();
    let pan_bcd = digits_to_cn(&profile.pan, profile.pan.len().div_ceil(2))
        .map_err(|e| f.err("pan", e.to_string()))?;
    put(&mut data, tags::PAN, pan_bcd.clone());
    put(&mut data, tags::PAN_SEQUENCE_NUMBER, [psn]);
    put(&mut data, tags::APPLICATION_EXPIRATION_DATE, expiry);
    put(&mut data, tags::APPLICATION_EFFECTIVE_DATE, effective);
    put(
        &mut data,
        tags::TRACK2_EQUIVALENT_DATA,
        track2(
            &profile.pan,
            &profile.expiry,
            &profile.service_code,
            &profile.track2_discretionary,
        ),
    );
    put(
        &mut data,
        tags::CARDHOLDER_NAME,
        profile.cardholder_name.as_bytes(),
    );
    put(
        &mut data,
        tags::ISSUER_COUNTRY_CODE,
        f.n("issuer_country", &profile.issuer_country, 3)?,
    );
    put(
        &mut data,
        tags::SERVICE_CODE,
        f.n("service_code", &profile.service_code, 3)?,
    );
    put(
        &mut data,
        tags::APPLICATION_USAGE_CONTROL,
        f.hex_n::<2>("auc", &profile.auc)?,
    );
    put(
        &mut data,
        tags::APPLICATION_VERSION_NUMBER_CARD,
        f.hex_n::<2>("application_version", &profile.application_version)?,
    );
    put(
        &mut data,
        tags::IAC_DEFAULT,
        f.hex_n::<5>("iac_default", &profile.iac_default)?,
    );
    put(
        &mut data,
        tags::IAC_DENIAL,
        f.hex_n::<5>("iac_denial", &profile.iac_denial)?,
    );
    put(
        &mut data,
        tags::IAC_ONLINE,
        f.hex_n::<5>("iac_online", &profile.iac_online)?,
    );
    put(&mut data, tags::CDOL1, cdol1.to_bytes());
    put(&mut data, tags::CDOL2, cdol2.to_bytes());
    put(&mut data, tags::DDOL, ddol.to_bytes());
    put(
        &mut data,
        tags::CVM_LIST,
        f.hex("cvm_list", &profile.cvm_list)?,
    );
    put(&mut data, tags::APPLICATION_CURRENCY_CODE, currency);
    put(&mut data, tags::APPLICATION_CURRENCY_EXPONENT, [0x02]);
    if oda != OdaAlgorithm::None {
        put(&mut data, tags::SDA_TAG_LIST, [0x82]);
    }
    let ec = match &profile.ec {
        Some(ec) => {
            let code = ec.issuer_authorisation_code.as_bytes();
            if code.len() != 6 {
                return Err(f.err("ec.issuer_authorisation_code", "must be 6 characters"));
            }
            put(&mut data, tags::EC_ISSUER_AUTHORISATION_CODE, code);
            put(&mut data, tags::PBOC_APPLICATION_CURRENCY_CODE, currency);
            let limit = 999_999_999_999;
            if [
                ec.balance,
                ec.balance_limit,
                ec.single_transaction_limit,
                ec.reset_threshold,
            ]
            .iter()
            .any(|&v| v > limit)
            {
                return Err(f.err("ec", "amounts must fit n12"));
            }
            if ec.balance > ec.balance_limit {
                return Err(f.err("ec.balance", "above the balance limit"));
            }
            Some(EcState {
                balance: ec.balance,
                balance_limit: ec.balance_limit,
                single_transaction_limit: ec.single_transaction_limit,
                reset_threshold: ec.reset_threshold,
            })
        }
        None => None,
    };
    for (tag_text, value_text) in &profile.data {
        let tag = f.tag("data", tag_text)?;
        let value = f.hex(&format!("data.{tag_text}"), value_text)?;
        data.insert(tag, value);
    }

    // Record layout and AFL.
    let layouts: Vec<Layout> = {
        let raw: Vec<(u8, bool, Vec<Tag>, bool)> = match &profile.records {
            Some(records) => records
                .iter()
                .enumerate()
                .map(|(i, RecordProfile { sfi, tags, oda })| {
                    let tags = tags
                        .iter()
                        .map(|t| f.tag(&format!("records[{i}].tags"), t))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((*sfi, *oda, tags, true))
                })
                .collect::<Result<_, ProfileError>>()?,
            None => default_records(
                oda != OdaAlgorithm::None && profile.oda.data_authentication_code.is_some(),
            )
            .into_iter()
            .map(|(sfi, oda, tags)| (sfi, oda, tags, false))
            .collect(),
        };
        let mut numbers: BTreeMap<u8, u8> = BTreeMap::new();
        let mut out = Vec::new();
        for (sfi, oda, tags, explicit) in raw {
            if !(1..=30).contains(&sfi) {
                return Err(f.err("records", format!("SFI {sfi} is not 1 to 30")));
            }
            let number = numbers.entry(sfi).or_insert(0);
            *number += 1;
            out.push(Layout {
                sfi,
                number: *number,
                oda,
                tags,
                explicit,
            });
        }
        out
    };
    let mut afl = Vec::new();
    let mut sfis: Vec<u8> = Vec::new();
    for layout in &layouts {
        if !sfis.contains(&layout.sfi) {
            sfis.push(layout.sfi);
        }
    }
    for &sfi in &sfis {
        let of_sfi: Vec<&Layout> = layouts.iter().filter(|l| l.sfi == sfi).collect();
        let oda_count = of_sfi.iter().take_while(|l| l.oda).count();
        if of_sfi.iter().filter(|l| l.oda).count() != oda_count {
            return Err(f.err(
                "records",
                format!("SFI {sfi}: records for ODA must come before the others"),
            ));
        }
        afl.extend_from_slice(&[sfi << 3, 1, of_sfi.len() as u8, oda_count as u8]);
    }
    let transaction_log = log_config(&f, "transaction_log", &profile.transaction_log)?;
    let load_log = log_config(&f, "load_log", &profile.load_log)?;
    if transaction_log.sfi == load_log.sfi || sfis.contains(&transaction_log.sfi) {
        return Err(f.err("transaction_log", "SFI collides with another file"));
    }
    if sfis.contains(&load_log.sfi) {
        return Err(f.err("load_log", "SFI collides with another file"));
    }

    // ODA records first, then the static data, then the certificates.
    let mut records = BTreeMap::new();
    let mut static_data = Vec::new();
    for layout in layouts.iter().filter(|l| l.oda) {
        if let Some(tag) = layout.tags.iter().find(|t| CERTIFICATE_TAGS.contains(t)) {
            return Err(f.err(
                "records",
                format!("{tag} cannot be in a record signed for ODA"),
            ));
        }
        let record = render(&f, layout, &data)?;
        if layout.sfi <= 10 {
            let parsed = tlv::parse_single(&record).map_err(|e| f.err("records", e.to_string()))?;
            static_data.extend_from_slice(parsed.value());
        } else {
            static_data.extend_from_slice(&record);
        }
        records.insert((layout.sfi, layout.number), record);
    }
    match data.get(&tags::SDA_TAG_LIST) {
        Some(list) if list.as_slice() == [0x82] => static_data.extend_from_slice(&aip),
        Some(_) => return Err(f.err("data.9F4A", "the tag list may only hold 82")),
        None => {}
    }

    let ca = TestCa::shared().map_err(|e| f.err("oda", e.to_string()))?;
    let signer = issue_certificates(&f, profile, ca, &pan_bcd, expiry, &static_data, &mut data)?;
    for layout in layouts.iter().filter(|l| !l.oda) {
        records.insert((layout.sfi, layout.number), render(&f, layout, &data)?);
    }

    // Directory entry and FCI.
    let mut entry = tlv::encoded(tags::AID, &aid);
    tlv::encode(
        tags::APPLICATION_LABEL,
        profile.label.as_bytes(),
        &mut entry,
    );
    if let Some(name) = &profile.preferred_name {
        tlv::encode(
            tags::APPLICATION_PREFERRED_NAME,
            name.as_bytes(),
            &mut entry,
        );
    }
    tlv::encode(
        tags::APPLICATION_PRIORITY_INDICATOR,
        &[profile.priority],
        &mut entry,
    );
    if let Some(kernel) = &profile.kernel_id {
        tlv::encode(
            tags::KERNEL_IDENTIFIER,
            &f.hex("kernel_id", kernel)?,
            &mut entry,
        );
    }
    let mut proprietary = tlv::encoded(tags::APPLICATION_LABEL, profile.label.as_bytes());
    tlv::encode(
        tags::APPLICATION_PRIORITY_INDICATOR,
        &[profile.priority],
        &mut proprietary,
    );
    tlv::encode(tags::PDOL, &pdol.to_bytes(), &mut proprietary);
    tlv::encode(
        tags::LANGUAGE_PREFERENCE,
        profile.language.as_bytes(),
        &mut proprietary,
    );
    if let Some(name) = &profile.preferred_name {
        tlv::encode(tags::ISSUER_CODE_TABLE_INDEX, &[0x01], &mut proprietary);
        tlv::encode(
            tags::APPLICATION_PREFERRED_NAME,
            name.as_bytes(),
            &mut proprietary,
        );
    }
    let mut discretionary = Vec::new();
    for (tag, log) in [
        (tags::LOG_ENTRY, &transaction_log),
        (tags::LOAD_LOG_ENTRY, &load_log),
    ] {
        if log.records > 0 {
            tlv::encode(tag, &[log.sfi, log.records], &mut discretionary);
        }
    }
    if profile.cap.online_oda {
        tlv::encode(
            tags::SEGMENTED_FEE_APPLICATION_ID,
            &[quickpass_kernel::transit::ONLINE_ODA_CARD_BIT],
            &mut discretionary,
        );
    }
    // Extra objects of the issuer discretionary data (a Visa card's program id `9F5A`).
    for (tag_text, value_text) in &profile.fci_discretionary {
        let tag = f.tag("fci_discretionary", tag_text)?;
        let value = f.hex(&format!("fci_discretionary.{tag_text}"), value_text)?;
        tlv::encode(tag, &value, &mut discretionary);
    }
    if !discretionary.is_empty() {
        tlv::encode(
            tags::FCI_ISSUER_DISCRETIONARY_DATA,
            &discretionary,
            &mut proprietary,
        );
    }
    let mut fci_body = tlv::encoded(tags::DF_NAME, &aid);
    tlv::encode(tags::FCI_PROPRIETARY_TEMPLATE, &proprietary, &mut fci_body);
    let fci = tlv::encoded(tags::FCI_TEMPLATE, &fci_body);

    let pin = profile.pin.bytes().map(|b| b - b'0').collect();
    let mut seed_input = b"quickpass-sim-pboc".to_vec();
    seed_input.extend_from_slice(&aid);
    seed_input.extend_from_slice(&pan_bcd);
    let seed = quickpass_crypto::hash::sha1(&seed_input);

    let card = Personalised {
        aid,
        in_ppse: profile.contactless,
        in_pse: profile.contact,
        directory_entry: entry,
        fci,
        data,
        records,
        afl,
        aip,
        path: profile.contactless_path,
        pdol,
        cdol1,
        cdol2,
        ctq,
        currency,
        cap: profile.cap.clone(),
        udk,
        mk_smi,
        signer,
        oda,
        sdad_format: match profile.oda.sdad_format.as_deref() {
            None | Some("05") => quickpass_crypto::oda::format::SDAD,
            Some("95") => quickpass_crypto::oda::format::SDAD_FDDA_VISA,
            Some(_) => return Err(f.err("oda.sdad_format", "must be 05 or 95")),
        },
        faults: profile.faults.clone(),
        dki,
        pin,
        pin_try_limit: profile.pin_try_limit,
        transaction_log,
        load_log,
        script_mac_length: usize::from(profile.script_mac_length),
        seed,
    };
    let state = State {
        atc: profile.atc,
        last_online_atc: profile.last_online_atc,
        ec,
        pin_tries,
        blocked: profile.blocked,
        transaction_log: VecDeque::new(),
        load_log: VecDeque::new(),
        random_counter: 0,
    };
    Ok((card, state))
}

/// Issues the issuer and ICC certificates with the test CA, adds `8F`, `90`, `92`, `9F32`,
/// `9F46`, `9F47`, `9F48` to the card data and returns the ICC signer.
fn issue_certificates(
    f: &Fields<'_>,
    profile: &PbocProfile,
    ca: &'static TestCa,
    pan_bcd: &[u8],
    expiry: [u8; 3],
    static_data: &[u8],
    data: &mut BTreeMap<Tag, Vec<u8>>,
) -> Result<Option<Signer>, ProfileError> {
    let oda = &profile.oda;
    let (default_index, pk_algorithm, hash_algorithm) = match oda.algorithm {
        OdaAlgorithm::None => return Ok(None),
        OdaAlgorithm::Rsa => (ca::RSA_CA_INDEX, 0x01, 0x01),
        OdaAlgorithm::Sm2 => (ca::SM2_CA_INDEX, SM2_PK_ALGORITHM, 0x07),
    };
    let mut index = match &oda.capk_index {
        Some(text) => f.hex_n::<1>("oda.capk_index", text)?[0],
        None => default_index,
    };
    if profile.faults.wrong_capk_index {
        index ^= 0x0F;
    }
    let expired = [0x12, 0x20];
    // The PAN the certificates are issued for: the card's, unless the fault names another.
    let (certificate_pan, certificate_pan_bcd) = match &profile.faults.certificate_pan {
        Some(digits) => {
            f.digits("faults.certificate_pan", digits, 12, 19)?;
            let bcd = digits_to_cn(digits, digits.len().div_ceil(2))
                .map_err(|e| f.err("faults.certificate_pan", e.to_string()))?;
            (digits.as_str(), bcd)
        }
        None => (profile.pan.as_str(), pan_bcd.to_vec()),
    };
    let issuer_fields = IssuerCertificateFields {
        issuer_identifier: ca::issuer_identifier(certificate_pan, oda.issuer_identifier_digits)
            .ok_or_else(|| f.err("oda.issuer_identifier_digits", "must be 3 to 8"))?,
        expiry: if profile.faults.issuer_cert_expired {
            expired
        } else {
            f.mmyy("oda.issuer_cert_expiry", &oda.issuer_cert_expiry)?
        },
        serial: f.hex_n::<3>("oda.issuer_cert_serial", &oda.issuer_cert_serial)?,
        hash_algorithm,
        pk_algorithm,
    };
    let icc_expiry = match (&oda.icc_cert_expiry, profile.faults.icc_cert_expired) {
        (_, true) => expired,
        (Some(text), false) => f.mmyy("oda.icc_cert_expiry", text)?,
        (None, false) => [expiry[1], expiry[0]],
    };
    let icc_fields = IccCertificateFields {
        pan: pan_field(&certificate_pan_bcd).map_err(|e| f.err("pan", e.to_string()))?,
        expiry: icc_expiry,
        serial: f.hex_n::<3>("oda.icc_cert_serial", &oda.icc_cert_serial)?,
        hash_algorithm,
        pk_algorithm,
    };
    let mut signed_static = static_data.to_vec();
    if profile.faults.tamper_static_data {
        match signed_static.last_mut() {
            Some(last) => *last ^= 0x01,
            None => signed_static.push(0x00),
        }
    }
    let issue_err = |e: ca::CaError| f.err("oda", e.to_string());
    let dac = match &oda.data_authentication_code {
        Some(text) => Some(f.hex_n::<2>("oda.data_authentication_code", text)?),
        None => None,
    };
    data.insert(tags::CA_PUBLIC_KEY_INDEX, vec![index]);
    match oda.algorithm {
        OdaAlgorithm::Rsa => {
            let issuer = ca
                .issuer_certificate_rsa(&oda.issuer_key, &issuer_fields)
                .map_err(issue_err)?;
            let issuer_key = ca.rsa_key(&oda.issuer_key).map_err(issue_err)?;
            data.insert(tags::ISSUER_PUBLIC_KEY_CERTIFICATE, issuer.certificate);
            if !issuer.remainder.is_empty() {
                data.insert(tags::ISSUER_PUBLIC_KEY_REMAINDER, issuer.remainder);
            }
            data.insert(
                tags::ISSUER_PUBLIC_KEY_EXPONENT,
                issuer_key.exponent().to_vec(),
            );
            if let Some(dac) = dac {
                let ssad = issue::ssad(issuer_key, dac, &signed_static)
                    .map_err(|e| f.err("oda", e.to_string()))?;
                data.insert(tags::SIGNED_STATIC_APPLICATION_DATA, ssad);
            }
            let icc = ca
                .icc_certificate_rsa(&oda.issuer_key, &oda.icc_key, &icc_fields, &signed_static)
                .map_err(issue_err)?;
            let icc_key = ca.rsa_key(&oda.icc_key).map_err(issue_err)?;
            data.insert(tags::ICC_PUBLIC_KEY_CERTIFICATE, icc.certificate);
            if !icc.remainder.is_empty() {
                data.insert(tags::ICC_PUBLIC_KEY_REMAINDER, icc.remainder);
            }
            data.insert(tags::ICC_PUBLIC_KEY_EXPONENT, icc_key.exponent().to_vec());
            Ok(Some(Signer::Rsa(icc_key)))
        }
        OdaAlgorithm::Sm2 => {
            let issuer = ca
                .issuer_certificate_sm2(&oda.issuer_key, &issuer_fields)
                .map_err(issue_err)?;
            data.insert(tags::ISSUER_PUBLIC_KEY_CERTIFICATE, issuer);
            if let Some(dac) = dac {
                let issuer_key = ca.sm2_key(&oda.issuer_key).map_err(issue_err)?;
                let ssad = issue::sm2_ssad(issuer_key, dac, &signed_static)
                    .map_err(|e| f.err("oda", e.to_string()))?;
                data.insert(tags::SIGNED_STATIC_APPLICATION_DATA, ssad);
            }
            let icc = ca
                .icc_certificate_sm2(&oda.issuer_key, &oda.icc_key, &icc_fields, &signed_static)
                .map_err(issue_err)?;
            data.insert(tags::ICC_PUBLIC_KEY_CERTIFICATE, icc);
            Ok(Some(Signer::Sm2(
                ca.sm2_key(&oda.icc_key).map_err(issue_err)?,
            )))
        }
        OdaAlgorithm::None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track2_layout() {
        assert_eq!(
            hex::encode_upper(track2("6228480000000001", "301231", "220", "000")),
            "6228480000000001D3012220000F"
        );
    }
}
