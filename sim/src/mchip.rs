//! A simulated Mastercard M/Chip contactless application for the C-2 kernel (pboc-notes §9):
//! personalised with the project's test CA under the Mastercard RID (test index `F1`),
//! answering GPO, EXCHANGE RELAY RESISTANCE DATA, READ RECORD, GENERATE AC with CDA and
//! RECOVER AC.
//!
//! ☢ TEST ONLY. Its certificates are signed by the test CA, whose private keys are public.
//!
//! What it models, and what it does not:
//!
//! - an offline spending balance: a TC is given only when the amount fits it, and the TC
//!   debits it (once: the balance and the ATC move only in GENERATE AC);
//! - the last GENERATE AC answer is kept in the card's memory (power cycles keep it) with its
//!   DRDOL data; RECOVER AC with the same DRDOL data returns that answer again, moving nothing;
//! - relay resistance: the answer carries the card's entropy and time bounds, and the CDA
//!   signature of the next GENERATE AC signs them;
//! - the cryptogram is a retail MAC under the PBOC session key of a UDK derived from the issuer
//!   master key (the simulator's, not Mastercard's key derivation: only the simulated host
//!   checks it).

use std::collections::BTreeMap;

use quickpass_crypto::oda::issue::{
    self, pan_field, IccCertificateFields, IssuerCertificateFields,
};
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::dol::{Dol, DolSource};
use quickpass_kernel::values::bcd::digits_to_cn;
use quickpass_kernel::values::StatusWord;
use quickpass_kernel::{tags, tlv, Format, Tag};
use serde::Deserialize;

use crate::apdu::{CommandApdu, Reply};
use crate::ca::{self, TestCa};
use crate::card::Application;
use crate::pboc::crypto as pboc_crypto;
use crate::profile::ProfileError;

/// The Mastercard RID, under which the test CA key is also published for the simulated
/// Mastercard card (index [`ca::RSA_CA_INDEX`], never a Mastercard index).
pub const MASTERCARD_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x00, 0x04];

/// `9F51` DRDOL (C-2's meaning).
const DRDOL: Tag = Tag::new(0x9F51);

const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
const WRONG_DATA: StatusWord = StatusWord(0x6A80);
const RECORD_NOT_FOUND: StatusWord = StatusWord(0x6A83);
const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);

/// The card's relay resistance bounds, in units of 100 µs.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RrpTimes {
    /// Min Time For Processing Relay Resistance APDU.
    pub min: u16,
    /// Max Time For Processing Relay Resistance APDU.
    pub max: u16,
    /// Device Estimated Transmission Time For Relay Resistance R-APDU.
    pub estimated: u16,
}

impl Default for RrpTimes {
    fn default() -> Self {
        RrpTimes {
            min: 10,
            max: 50,
            estimated: 18,
        }
    }
}

/// Faults the card can be personalised with.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MchipFaults {
    /// The CDA signature is made over a wrong transaction data hash.
    #[serde(default)]
    pub tamper_sdad: bool,
    /// The CDA signature does not carry the relay resistance values.
    #[serde(default)]
    pub unsigned_relay_data: bool,
}

fn yes() -> bool {
    true
}

fn default_label() -> String {
    "MASTERCARD".into()
}

fn default_iac() -> Option<[String; 3]> {
    Some([
        "F450848000".into(),
        "0000000000".into(),
        "F450848000".into(),
    ])
}

fn default_cvm_list() -> String {
    // X = Y = 0; online PIN if the terminal supports it, signature, no CVM.
    "000000000000000042031E031F03".into()
}

/// A Mastercard M/Chip application profile (`"type": "mchip"` in a card profile).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MchipProfile {
    /// The AID, hex (`A0000000041010`).
    pub aid: String,
    /// Application label.
    #[serde(default = "default_label")]
    pub label: String,
    /// PAN digits.
    pub pan: String,
    /// PAN sequence number.
    #[serde(default)]
    pub psn: u8,
    /// Expiry date, `YYMMDD`.
    pub expiry: String,
    /// Issuer master key for cryptograms, 16 bytes hex.
    pub issuer_master_key: String,
    /// Initial ATC.
    #[serde(default)]
    pub atc: u16,
    /// Offline spending balance, minor units: a TC is given only within it.
    pub offline_balance: u64,
    /// The card supports CDA (AIP byte 1 b1).
    #[serde(default = "yes")]
    pub cda: bool,
    /// The card supports relay resistance (AIP byte 2 b1).
    #[serde(default = "yes")]
    pub relay_resistance: bool,
    /// Relay resistance time bounds.
    #[serde(default)]
    pub rrp_times: RrpTimes,
    /// The card supports on-device CVM (AIP byte 1 b2).
    #[serde(default)]
    pub on_device_cvm: bool,
    /// The card offers mag-stripe mode only (AIP byte 2 b8 clear).
    #[serde(default)]
    pub mag_stripe_only: bool,
    /// The card supports RECOVER AC (it has a DRDOL).
    #[serde(default = "yes")]
    pub recover_ac: bool,
    /// CVM list `8E`, hex.
    #[serde(default = "default_cvm_list")]
    pub cvm_list: String,
    /// Issuer action codes default / denial / online, hex; default `F450848000`,
    /// `0000000000`, `F450848000` (TVR byte 5 left to the reader's TACs). `null`: not
    /// personalised (then EMV's absent-IAC rule sends every flagged TVR online).
    #[serde(default = "default_iac")]
    pub iac: Option<[String; 3]>,
    /// Faults.
    #[serde(default)]
    pub faults: MchipFaults,
}

/// The last GENERATE AC the card answered, kept for RECOVER AC.
#[derive(Clone)]
struct LastAc {
    drdol_data: Vec<u8>,
    response: Vec<u8>,
}

/// Session state (dropped on reset and SELECT).
#[derive(Clone, Default)]
struct Session {
    gpo_done: bool,
    pdol_data: Vec<u8>,
    rrp: Option<[u8; 14]>,
}

/// A simulated Mastercard M/Chip application.
#[derive(Clone)]
pub struct MchipApplication {
    aid: Vec<u8>,
    directory_entry: Vec<u8>,
    fci: Vec<u8>,
    pdol: Dol,
    cdol1: Dol,
    drdol: Option<Dol>,
    aip: [u8; 2],
    afl: Vec<u8>,
    records: BTreeMap<(u8, u8), Vec<u8>>,
    udk: SecretKey,
    icc: &'static issue::RsaSigner,
    rrp_times: RrpTimes,
    faults: MchipFaults,
    atc: u16,
    balance: u64,
    last_ac: Option<LastAc>,
    session: Session,
}

impl std::fmt::Debug for MchipApplication {
    /// The AID and counters; never the PAN or keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MchipApplication")
            .field("aid", &hex::encode_upper(&self.aid))
            .field("atc", &self.atc)
            .field("balance", &self.balance)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> ProfileError {
    ProfileError::invalid(field, reason)
}

fn unhex(field: &str, text: &str) -> Result<Vec<u8>, ProfileError> {
    hex::decode(text).map_err(|e| invalid(field, e.to_string()))
}

fn record(objects: &[(Tag, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (tag, value) in objects {
        tlv::encode(*tag, value, &mut body);
    }
    tlv::encoded(Tag::new(0x70), &body)
}

/// The PDOL the simulated card asks for: terminal type, country, currency, UN.
const PDOL: &str = "9F35019F1A025F2A029F3704";
/// CDOL1: amount, other amount, country, TVR, currency, date, type, UN, terminal type, CVM
/// results.
const CDOL1: &str = "9F02069F03069F1A0295055F2A029A039C019F37049F35019F3403";
/// DRDOL: the values that identify a torn transaction.
const DRDOL_VALUE: &str = "9F02069F1A025F2A029A039F3704";

impl MchipApplication {
    /// Personalises the application: records built, certificates issued by the test CA.
    /// `field` is the profile path used in errors.
    pub fn personalise(profile: &MchipProfile, field: &str) -> Result<Self, ProfileError> {
        let at = |name: &str| format!("{field}.{name}");
        let aid = unhex(&at("aid"), &profile.aid)?;
        if !(5..=16).contains(&aid.len()) {
            return Err(invalid(&at("aid"), "5 to 16 bytes"));
        }
        if !(12..=19).contains(&profile.pan.len())
            || !profile.pan.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(&at("pan"), "12 to 19 digits"));
        }
        let pan_bcd = digits_to_cn(&profile.pan, profile.pan.len().div_ceil(2))
            .map_err(|e| invalid(&at("pan"), e.to_string()))?;
        let expiry = unhex(&at("expiry"), &profile.expiry)?;
        let expiry: [u8; 3] = expiry
            .try_into()
            .map_err(|_| invalid(&at("expiry"), "YYMMDD"))?;
        let udk_source: [u8; 16] = unhex(&at("issuer_master_key"), &profile.issuer_master_key)?
            .try_into()
            .map_err(|_| invalid(&at("issuer_master_key"), "16 bytes"))?;
        let udk = pboc_crypto::derive_udk(&udk_source, &profile.pan, profile.psn)
            .map_err(|e| invalid(&at("issuer_master_key"), e.to_string()))?;
        let cvm_list = unhex(&at("cvm_list"), &profile.cvm_list)?;

        let mut aip = [0x18u8, 0x00];
        if profile.cda {
            aip[0] |= 0x01;
        }
        if profile.on_device_cvm {
            aip[0] |= 0x02;
        }
        if !profile.mag_stripe_only {
            aip[1] |= 0x80;
        }
        if profile.relay_resistance {
            aip[1] |= 0x01;
        }

        let track2 = {
            // PAN ‖ D ‖ YYMM ‖ service code 201 ‖ discretionary data, F-padded to whole bytes.
            let mut text = format!(
                "{}D{:02X}{:02X}2010000000000",
                profile.pan, expiry[0], expiry[1]
            );
            if text.len() % 2 == 1 {
                text.push('F');
            }
            unhex(&at("pan"), &text)?
        };
        let mut signed = vec![
            (tags::PAN, pan_bcd.clone()),
            (tags::APPLICATION_EXPIRATION_DATE, expiry.to_vec()),
            (tags::PAN_SEQUENCE_NUMBER, vec![profile.psn]),
            (tags::APPLICATION_CURRENCY_CODE, vec![0x01, 0x56]),
            (tags::CDOL1, unhex("cdol1", CDOL1)?),
            (tags::CVM_LIST, cvm_list),
            (tags::SDA_TAG_LIST, vec![0x82]),
        ];
        if let Some([default, denial, online]) = &profile.iac {
            signed.push((tags::IAC_DEFAULT, unhex(&at("iac"), default)?));
            signed.push((tags::IAC_DENIAL, unhex(&at("iac"), denial)?));
            signed.push((tags::IAC_ONLINE, unhex(&at("iac"), online)?));
        }
        if profile.recover_ac {
            signed.push((DRDOL, unhex("drdol", DRDOL_VALUE)?));
        }
        let signed_record = record(&signed);
        let mut static_data = tlv::parse_single(&signed_record)
            .map_err(|e| invalid(field, e.to_string()))?
            .value()
            .to_vec();
        static_data.extend_from_slice(&aip);

        let ca = TestCa::shared().map_err(|e| invalid(field, e.to_string()))?;
        let issuer_fields = IssuerCertificateFields {
            issuer_identifier: ca::issuer_identifier(&profile.pan, 6)
                .ok_or_else(|| invalid(&at("pan"), "no issuer identifier"))?,
            expiry: [0x12, 0x49],
            serial: [0x00, 0x00, 0x01],
            hash_algorithm: 0x01,
            pk_algorithm: 0x01,
        };
        let icc_fields = IccCertificateFields {
            pan: pan_field(&pan_bcd).map_err(|e| invalid(&at("pan"), e.to_string()))?,
            expiry: [expiry[1], expiry[0]],
            serial: [0x00, 0x00, 0x02],
            hash_algorithm: 0x01,
            pk_algorithm: 0x01,
        };
        let issue_err = |e: ca::CaError| invalid(field, e.to_string());
        let issuer = ca
            .issuer_certificate_rsa(ca::DEFAULT_RSA_ISSUER, &issuer_fields)
            .map_err(issue_err)?;
        let icc = ca
            .icc_certificate_rsa(
                ca::DEFAULT_RSA_ISSUER,
                ca::DEFAULT_RSA_ICC,
                &icc_fields,
                &static_data,
            )
            .map_err(issue_err)?;
        let issuer_key = ca.rsa_key(ca::DEFAULT_RSA_ISSUER).map_err(issue_err)?;
        let icc_key = ca.rsa_key(ca::DEFAULT_RSA_ICC).map_err(issue_err)?;
        let mut issuer_record = vec![
            (tags::CA_PUBLIC_KEY_INDEX, vec![ca::RSA_CA_INDEX]),
            (tags::ISSUER_PUBLIC_KEY_CERTIFICATE, issuer.certificate),
            (
                tags::ISSUER_PUBLIC_KEY_EXPONENT,
                issuer_key.exponent().to_vec(),
            ),
        ];
        if !issuer.remainder.is_empty() {
            issuer_record.push((tags::ISSUER_PUBLIC_KEY_REMAINDER, issuer.remainder));
        }
        let mut icc_record = vec![
            (tags::ICC_PUBLIC_KEY_CERTIFICATE, icc.certificate),
            (tags::ICC_PUBLIC_KEY_EXPONENT, icc_key.exponent().to_vec()),
        ];
        if !icc.remainder.is_empty() {
            icc_record.push((tags::ICC_PUBLIC_KEY_REMAINDER, icc.remainder));
        }
        let mut records = BTreeMap::new();
        records.insert((1, 1), record(&[(tags::TRACK2_EQUIVALENT_DATA, track2)]));
        records.insert((2, 1), signed_record);
        records.insert((3, 1), record(&issuer_record));
        records.insert((3, 2), record(&icc_record));
        // SFI 1 record 1; SFI 2 record 1 (signed); SFI 3 records 1-2.
        let afl = hex::decode("080101001001010118010200").unwrap_or_default();

        let label = profile.label.as_bytes().to_vec();
        let mut entry = Vec::new();
        tlv::encode(tags::AID, &aid, &mut entry);
        tlv::encode(tags::APPLICATION_LABEL, &label, &mut entry);
        tlv::encode(tags::APPLICATION_PRIORITY_INDICATOR, &[0x01], &mut entry);
        tlv::encode(Tag::new(0x9F2A), &[0x02], &mut entry);
        let mut proprietary = Vec::new();
        tlv::encode(tags::APPLICATION_LABEL, &label, &mut proprietary);
        tlv::encode(
            tags::APPLICATION_PRIORITY_INDICATOR,
            &[0x01],
            &mut proprietary,
        );
        tlv::encode(tags::PDOL, &unhex("pdol", PDOL)?, &mut proprietary);
        let mut body = tlv::encoded(tags::DF_NAME, &aid);
        tlv::encode(tags::FCI_PROPRIETARY_TEMPLATE, &proprietary, &mut body);
        let fci = tlv::encoded(tags::FCI_TEMPLATE, &body);

        let dol =
            |text: &str| Dol::parse(&hex::decode(text).unwrap_or_default()).unwrap_or_default();
        Ok(MchipApplication {
            aid,
            directory_entry: entry,
            fci,
            pdol: dol(PDOL),
            cdol1: dol(CDOL1),
            drdol: profile.recover_ac.then(|| dol(DRDOL_VALUE)),
            aip,
            afl,
            records,
            udk,
            icc: icc_key,
            rrp_times: profile.rrp_times,
            faults: profile.faults,
            atc: profile.atc,
            balance: profile.offline_balance,
            last_ac: None,
            session: Session::default(),
        })
    }

    /// The ATC (moves once per GENERATE AC, never on RECOVER AC).
    pub fn atc(&self) -> u16 {
        self.atc
    }

    /// The offline spending balance (a TC debits it).
    pub fn offline_balance(&self) -> u64 {
        self.balance
    }

    /// Sets the card's faults.
    pub fn set_faults(&mut self, faults: MchipFaults) {
        self.faults = faults;
    }

    fn gpo(&mut self, command: &CommandApdu<'_>) -> Reply {
        let data = command.data;
        let inner = match tlv::parse_single(data) {
            Ok(t) if t.tag() == Tag::new(0x83) => t.value().to_vec(),
            _ => return Reply::status(WRONG_DATA),
        };
        if inner.len() != self.pdol.total_length() {
            return Reply::status(WRONG_DATA);
        }
        self.session = Session {
            gpo_done: true,
            pdol_data: inner,
            rrp: None,
        };
        let mut body = Vec::new();
        tlv::encode(tags::AIP, &self.aip, &mut body);
        tlv::encode(tags::AFL, &self.afl, &mut body);
        Reply::ok(tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body))
    }

    fn errd(&mut self, command: &CommandApdu<'_>) -> Reply {
        if !self.session.gpo_done || self.aip[1] & 0x01 == 0 {
            return Reply::status(CONDITIONS_NOT_SATISFIED);
        }
        let Ok(terminal) = <[u8; 4]>::try_from(command.data) else {
            return Reply::status(WRONG_DATA);
        };
        let device = [0x5A, terminal[3], (self.atc >> 8) as u8, self.atc as u8];
        let t = self.rrp_times;
        let mut value = device.to_vec();
        value.extend(t.min.to_be_bytes());
        value.extend(t.max.to_be_bytes());
        value.extend(t.estimated.to_be_bytes());
        let mut signed = [0u8; 14];
        signed[..4].copy_from_slice(&terminal);
        signed[4..].copy_from_slice(&value);
        self.session.rrp = Some(signed);
        Reply::ok(tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_1, &value))
    }

    fn read_record(&self, command: &CommandApdu<'_>) -> Reply {
        let sfi = command.p2 >> 3;
        match self.records.get(&(sfi, command.p1)) {
            Some(record) if command.p2 & 0x07 == 0x04 => Reply::ok(record.clone()),
            _ => Reply::status(RECORD_NOT_FOUND),
        }
    }

    fn generate_ac(&mut self, command: &CommandApdu<'_>) -> Reply {
        if !self.session.gpo_done || command.p2 != 0x00 {
            return Reply::status(CONDITIONS_NOT_SATISFIED);
        }
        let data = command.data;
        let Ok(fields) = self.cdol1.split(data) else {
            return Reply::status(WRONG_DATA);
        };
        let values: BTreeMap<Tag, Vec<u8>> =
            fields.into_iter().map(|(t, v)| (t, v.to_vec())).collect();
        let amount = values
            .get(&tags::AMOUNT_AUTHORISED)
            .and_then(|v| quickpass_kernel::values::bcd::bcd_to_u64(v).ok())
            .unwrap_or(u64::MAX);
        let un = values
            .get(&tags::UNPREDICTABLE_NUMBER)
            .cloned()
            .unwrap_or_default();
        let asked = command.p1 & 0xC0;
        let cda = command.p1 & 0x10 != 0 && self.aip[0] & 0x01 != 0;
        // Card risk management: a TC only within the offline balance; never more than asked.
        let cid = match asked {
            0x40 if amount <= self.balance => 0x40,
            0x40 | 0x80 => 0x80,
            _ => 0x00,
        };
        self.atc = self.atc.wrapping_add(1);
        if cid == 0x40 {
            self.balance -= amount;
        }
        let atc = self.atc.to_be_bytes();
        let mut ac_data = data.to_vec();
        ac_data.extend_from_slice(&self.aip);
        ac_data.extend_from_slice(&atc);
        let Ok(ac) = pboc_crypto::application_cryptogram(&self.udk, atc, &ac_data) else {
            return Reply::status(CONDITIONS_NOT_SATISFIED);
        };
        let iad = [
            0x01, 0x10, cid, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0xFF,
        ];
        let mut objects = Vec::new();
        tlv::encode(tags::CID, &[cid], &mut objects);
        tlv::encode(tags::ATC, &atc, &mut objects);
        if !(cda && cid != 0x00) {
            tlv::encode(tags::APPLICATION_CRYPTOGRAM, &ac, &mut objects);
        }
        tlv::encode(tags::ISSUER_APPLICATION_DATA, &iad, &mut objects);
        let mut body = Vec::new();
        if cda && cid != 0x00 {
            let mut hashed = self.session.pdol_data.clone();
            hashed.extend_from_slice(data);
            hashed.extend_from_slice(&objects);
            if self.faults.tamper_sdad {
                hashed.push(0x00);
            }
            let number = [0x4D, 0x43, atc[0], atc[1]];
            let Ok(mut dynamic) = issue::cda_icc_dynamic_data(&number, cid, ac, &hashed) else {
                return Reply::status(CONDITIONS_NOT_SATISFIED);
            };
            if let (Some(rrp), false) = (self.session.rrp, self.faults.unsigned_relay_data) {
                dynamic.extend_from_slice(&rrp);
            }
            let Ok(sdad) = issue::sdad(self.icc, 0x05, &dynamic, &un) else {
                return Reply::status(CONDITIONS_NOT_SATISFIED);
            };
            // CID, ATC, SDAD, IAD: the hash covers the objects other than 9F4B in order.
            tlv::encode(tags::CID, &[cid], &mut body);
            tlv::encode(tags::ATC, &atc, &mut body);
            tlv::encode(tags::SIGNED_DYNAMIC_APPLICATION_DATA, &sdad, &mut body);
            tlv::encode(tags::ISSUER_APPLICATION_DATA, &iad, &mut body);
        } else {
            body = objects;
        }
        let response = tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body);
        if let Some(drdol) = &self.drdol {
            let source = Values(&values);
            self.last_ac = Some(LastAc {
                drdol_data: drdol.build(&source),
                response: response.clone(),
            });
        }
        self.session.gpo_done = false;
        Reply::ok(response)
    }

    /// RECOVER AC: the stored answer when the DRDOL data match the last GENERATE AC's.
    fn recover_ac(&mut self, command: &CommandApdu<'_>) -> Reply {
        match &self.last_ac {
            Some(last) if self.drdol.is_some() && last.drdol_data == command.data => {
                Reply::ok(last.response.clone())
            }
            _ => Reply::status(CONDITIONS_NOT_SATISFIED),
        }
    }
}

struct Values<'a>(&'a BTreeMap<Tag, Vec<u8>>);

impl DolSource for Values<'_> {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.0.get(&tag).map(Vec::as_slice)
    }
    fn format(&self, tag: Tag) -> Format {
        tags::format_of(tag)
    }
}

impl Application for MchipApplication {
    fn df_name(&self) -> &[u8] {
        &self.aid
    }

    fn directory_entry(&self) -> Option<Vec<u8>> {
        Some(self.directory_entry.clone())
    }

    fn in_ppse(&self) -> bool {
        true
    }

    fn in_pse(&self) -> bool {
        false
    }

    fn select(&mut self) -> Reply {
        self.session = Session::default();
        Reply::ok(self.fci.clone())
    }

    fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
        match (command.cla, command.ins) {
            (0x80, 0xA8) => self.gpo(command),
            (0x80, 0xEA) => self.errd(command),
            (0x00, 0xB2) => self.read_record(command),
            (0x80, 0xAE) => self.generate_ac(command),
            (0x80, 0xD0) => self.recover_ac(command),
            _ => Reply::status(INS_NOT_SUPPORTED),
        }
    }

    fn reset(&mut self) {
        self.session = Session::default();
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn duplicate(&self) -> Option<Box<dyn Application>> {
        Some(Box::new(self.clone()))
    }
}
