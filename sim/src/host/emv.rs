//! The issuer host of the simulated PBOC cards: checks ARQCs, answers with an ARPC and an
//! authorisation response code, and writes issuer script commands with a valid MAC.
//!
//! The host derives each card's keys exactly as the card does ([`crate::pboc::crypto`]):
//! UDK = option A ICC master key of the IMK-AC for PAN ‖ PSN, PBOC ATC session key, AC over the
//! CVN 01 data (pboc-notes §2.11), ARPC method 1 (EMV Book 2 §8.2.1), script MAC under the EMV
//! common session key of MK-SMI with R = ARQC (⚠ chosen layout, see
//! [`script_mac`](crate::pboc::crypto::script_mac)).
//!
//! ```
//! use quickpass_sim::host::emv::{EmvHost, IssuerDecision};
//!
//! let mut host = EmvHost::new();
//! host.add_card("6228480012345671", 0x01, [0x11; 16], None)?;
//! host.set_decision(IssuerDecision::Decline);
//! assert!(host.knows("6228480012345671", 0x01));
//! # Ok::<(), quickpass_sim::host::emv::EmvHostError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::dol::DolSource;
use quickpass_kernel::tags;
use quickpass_kernel::tlv::{self, TlvIter};
use quickpass_kernel::{Format, Tag};

use crate::pboc::crypto::{self, CVN_01};
use crate::pboc::PbocProfile;

/// Authorisation response code `8A` for an approval, `00`.
pub const ARC_APPROVED: [u8; 2] = *b"00";
/// Authorisation response code `8A` the host uses to decline, `05` (do not honour).
pub const ARC_DECLINED: [u8; 2] = *b"05";

/// Why the host could not process a request (who is at fault is in the variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmvHostError {
    /// No keys for this PAN / PSN.
    #[error("unknown card")]
    UnknownCard,
    /// The ICC data lacks a data object the host needs.
    #[error("ICC data has no {0}")]
    Missing(Tag),
    /// A data object has the wrong length or encoding.
    #[error("ICC data object {0} is malformed")]
    Malformed(Tag),
    /// The ICC data is not a sequence of BER-TLV objects.
    #[error("ICC data is not BER-TLV: {0}")]
    Tlv(String),
    /// The cryptogram version (IAD byte 3) is not one the host knows.
    #[error("unsupported cryptogram version {0:02X}")]
    UnsupportedCvn(u8),
    /// A key or PAN is invalid (configuration).
    #[error("invalid card set-up: {0}")]
    Setup(String),
}

/// What the host answers to a valid ARQC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerDecision {
    /// `8A` = `00`.
    Approve,
    /// `8A` = `05`.
    Decline,
    /// A specific response code.
    Code([u8; 2]),
}

/// An ARQC as received and as the host computes it.
type ArqcPair = ([u8; 8], [u8; 8]);

struct CardKeys {
    udk: SecretKey,
    mk_smi: SecretKey,
    mac_length: usize,
}

/// The transaction an issuer script belongs to: its ATC and ARQC (the MAC key and data use
/// both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptSession {
    /// ATC `9F36` of the online transaction.
    pub atc: [u8; 2],
    /// The ARQC `9F26` of that transaction.
    pub arqc: [u8; 8],
}

/// The host's answer to an authorisation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorisationResponse {
    /// The ARQC matched the host's computation.
    pub cryptogram_valid: bool,
    /// The transaction is approved (`arc` = `00`).
    pub approved: bool,
    /// Authorisation response code `8A`. An invalid cryptogram is declined with `05`.
    pub arc: [u8; 2],
    /// ARPC method 1 over the ARQC received and `arc`.
    pub arpc: [u8; 8],
    /// ATC and ARQC, for issuer scripts.
    pub session: ScriptSession,
}

impl AuthorisationResponse {
    /// Issuer authentication data `91` = ARPC ‖ ARC, the EXTERNAL AUTHENTICATE data.
    pub fn issuer_authentication_data(&self) -> [u8; 10] {
        let mut out = [0u8; 10];
        out[..8].copy_from_slice(&self.arpc);
        out[8..].copy_from_slice(&self.arc);
        out
    }
}

/// ICC data objects received (field 55 style), as a [`DolSource`].
struct IccData(BTreeMap<Tag, Vec<u8>>);

impl DolSource for IccData {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.0.get(&tag).map(Vec::as_slice)
    }
    fn format(&self, tag: Tag) -> Format {
        tags::format_of(tag)
    }
}

impl IccData {
    fn parse(bytes: &[u8]) -> Result<Self, EmvHostError> {
        let mut map = BTreeMap::new();
        for object in TlvIter::new(bytes) {
            let object = object.map_err(|e| EmvHostError::Tlv(e.to_string()))?;
            map.insert(object.tag(), object.value().to_vec());
        }
        Ok(IccData(map))
    }

    fn fixed<const N: usize>(&self, tag: Tag) -> Result<[u8; N], EmvHostError> {
        self.value(tag)
            .ok_or(EmvHostError::Missing(tag))?
            .try_into()
            .map_err(|_| EmvHostError::Malformed(tag))
    }
}

/// The simulated issuer host.
pub struct EmvHost {
    cards: HashMap<(String, u8), CardKeys>,
    decision: IssuerDecision,
}

impl fmt::Debug for EmvHost {
    /// Only the number of cards: no PANs, no keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmvHost")
            .field("cards", &self.cards.len())
            .field("decision", &self.decision)
            .finish()
    }
}

impl Default for EmvHost {
    fn default() -> Self {
        Self::new()
    }
}

impl EmvHost {
    /// A host that knows no card and approves valid cryptograms.
    pub fn new() -> Self {
        EmvHost {
            cards: HashMap::new(),
            decision: IssuerDecision::Approve,
        }
    }

    /// Adds a card: its PAN digits, PSN (BCD byte), IMK-AC and IMK-SMI (default the IMK-AC).
    /// Script MACs are 4 bytes; see [`EmvHost::set_script_mac_length`].
    pub fn add_card(
        &mut self,
        pan: &str,
        psn: u8,
        imk_ac: [u8; 16],
        imk_smi: Option<[u8; 16]>,
    ) -> Result<(), EmvHostError> {
        let setup = |e: quickpass_crypto::emv::EmvKeyError| EmvHostError::Setup(e.to_string());
        let udk = crypto::derive_udk(&imk_ac, pan, psn).map_err(setup)?;
        let mk_smi = crypto::derive_udk(&imk_smi.unwrap_or(imk_ac), pan, psn).map_err(setup)?;
        self.cards.insert(
            (pan.to_owned(), psn),
            CardKeys {
                udk,
                mk_smi,
                mac_length: 4,
            },
        );
        Ok(())
    }

    /// Adds the card of a `pboc` profile (PAN, PSN, issuer keys, script MAC length).
    pub fn add_profile(&mut self, profile: &PbocProfile) -> Result<(), EmvHostError> {
        let key = |name: &str, text: &str| -> Result<[u8; 16], EmvHostError> {
            hex::decode(text)
                .ok()
                .and_then(|k| k.try_into().ok())
                .ok_or_else(|| EmvHostError::Setup(format!("{name} is not 16 hex bytes")))
        };
        let psn = hex::decode(&profile.psn)
            .ok()
            .and_then(|p| <[u8; 1]>::try_from(p).ok())
            .ok_or_else(|| EmvHostError::Setup("psn is not one hex byte".into()))?[0];
        let imk = key("issuer_master_key", &profile.issuer_master_key)?;
        let smi = match &profile.issuer_smi_key {
            Some(text) => Some(key("issuer_smi_key", text)?),
            None => None,
        };
        self.add_card(&profile.pan, psn, imk, smi)?;
        self.set_script_mac_length(&profile.pan, psn, usize::from(profile.script_mac_length))
    }

    /// Whether the host has keys for the card.
    pub fn knows(&self, pan: &str, psn: u8) -> bool {
        self.cards.contains_key(&(pan.to_owned(), psn))
    }

    /// Sets the script MAC length (4 or 8) for a known card.
    pub fn set_script_mac_length(
        &mut self,
        pan: &str,
        psn: u8,
        length: usize,
    ) -> Result<(), EmvHostError> {
        if length != 4 && length != 8 {
            return Err(EmvHostError::Setup(
                "script MAC length must be 4 or 8".into(),
            ));
        }
        let card = self
            .cards
            .get_mut(&(pan.to_owned(), psn))
            .ok_or(EmvHostError::UnknownCard)?;
        card.mac_length = length;
        Ok(())
    }

    /// What the host answers to valid ARQCs from now on.
    pub fn set_decision(&mut self, decision: IssuerDecision) {
        self.decision = decision;
    }

    fn card(&self, pan: &str, psn: u8) -> Result<&CardKeys, EmvHostError> {
        self.cards
            .get(&(pan.to_owned(), psn))
            .ok_or(EmvHostError::UnknownCard)
    }

    /// Recomputes the ARQC from the ICC data (a sequence of TLVs: `9F02 9F03 9F1A 95 5F2A 9A
    /// 9C 9F37` as the terminal sent them, and the card's `82 9F36 9F10 9F26`) and reports
    /// whether it matches.
    pub fn verify_arqc(&self, pan: &str, psn: u8, icc_data: &[u8]) -> Result<bool, EmvHostError> {
        let card = self.card(pan, psn)?;
        let data = IccData::parse(icc_data)?;
        let ((received, computed), _) = Self::check(card, &data)?;
        Ok(received == computed)
    }

    /// `((received, computed), atc)`.
    fn check(card: &CardKeys, data: &IccData) -> Result<(ArqcPair, [u8; 2]), EmvHostError> {
        let arqc = data.fixed::<8>(tags::APPLICATION_CRYPTOGRAM)?;
        let atc = data.fixed::<2>(tags::ATC)?;
        let aip = data.fixed::<2>(tags::AIP)?;
        let iad = data
            .value(tags::ISSUER_APPLICATION_DATA)
            .ok_or(EmvHostError::Missing(tags::ISSUER_APPLICATION_DATA))?;
        let cvn = *iad
            .get(2)
            .ok_or(EmvHostError::Malformed(tags::ISSUER_APPLICATION_DATA))?;
        if cvn != CVN_01 {
            return Err(EmvHostError::UnsupportedCvn(cvn));
        }
        let ac_data = crypto::cvn01_ac_data(data, aip, atc, iad);
        let computed = crypto::application_cryptogram(&card.udk, atc, &ac_data)
            .map_err(|e| EmvHostError::Setup(e.to_string()))?;
        Ok(((arqc, computed), atc))
    }

    /// Authorises: checks the ARQC, decides (an invalid cryptogram is always declined `05`),
    /// and computes the ARPC (method 1, AC session key) over the ARQC received and the ARC.
    pub fn authorise(
        &self,
        pan: &str,
        psn: u8,
        icc_data: &[u8],
    ) -> Result<AuthorisationResponse, EmvHostError> {
        let card = self.card(pan, psn)?;
        let data = IccData::parse(icc_data)?;
        let ((arqc, computed), atc) = Self::check(card, &data)?;
        let cryptogram_valid = arqc == computed;
        let arc = match (cryptogram_valid, self.decision) {
            (false, _) | (true, IssuerDecision::Decline) => ARC_DECLINED,
            (true, IssuerDecision::Approve) => ARC_APPROVED,
            (true, IssuerDecision::Code(code)) => code,
        };
        let arpc = crypto::arpc(&card.udk, atc, arqc, arc)
            .map_err(|e| EmvHostError::Setup(e.to_string()))?;
        Ok(AuthorisationResponse {
            cryptogram_valid,
            approved: arc == ARC_APPROVED,
            arc,
            arpc,
            session: ScriptSession { atc, arqc },
        })
    }

    /// An issuer script command `header Lc data MAC` with the card's MAC (⚠ layout of
    /// [`crypto::script_mac`]).
    pub fn script_command(
        &self,
        pan: &str,
        psn: u8,
        session: &ScriptSession,
        header: [u8; 4],
        data: &[u8],
    ) -> Result<Vec<u8>, EmvHostError> {
        let card = self.card(pan, psn)?;
        if data.len() + card.mac_length > 255 {
            return Err(EmvHostError::Setup("script command data too long".into()));
        }
        crypto::script_command(
            &card.mk_smi,
            header,
            data,
            session.atc,
            session.arqc,
            card.mac_length,
        )
        .map_err(|e| EmvHostError::Setup(e.to_string()))
    }

    /// PUT DATA `04 DA` of an n12 amount (`9F79` EC balance load, `9F77`, `9F78`, `9F6D`).
    pub fn put_data_amount(
        &self,
        pan: &str,
        psn: u8,
        session: &ScriptSession,
        tag: Tag,
        amount: u64,
    ) -> Result<Vec<u8>, EmvHostError> {
        let [_, _, p1, p2] = tag.packed().to_be_bytes();
        let value = quickpass_kernel::values::bcd::u64_to_bcd::<6>(amount)
            .map_err(|e| EmvHostError::Setup(e.to_string()))?;
        self.script_command(pan, psn, session, [0x04, 0xDA, p1, p2], &value)
    }

    /// APPLICATION BLOCK `84 1E 00 00`.
    pub fn application_block(
        &self,
        pan: &str,
        psn: u8,
        session: &ScriptSession,
    ) -> Result<Vec<u8>, EmvHostError> {
        self.script_command(pan, psn, session, [0x84, 0x1E, 0x00, 0x00], &[])
    }

    /// APPLICATION UNBLOCK `84 18 00 00`.
    pub fn application_unblock(
        &self,
        pan: &str,
        psn: u8,
        session: &ScriptSession,
    ) -> Result<Vec<u8>, EmvHostError> {
        self.script_command(pan, psn, session, [0x84, 0x18, 0x00, 0x00], &[])
    }
}

/// An issuer script template (`71` before, `72` after the final GENERATE AC; EMV Book 3
/// §10.10): optional script identifier `9F18`, then each command in an `86`.
pub fn issuer_script_template(
    template: Tag,
    identifier: Option<[u8; 4]>,
    commands: &[Vec<u8>],
) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(id) = identifier {
        tlv::encode(tags::ISSUER_SCRIPT_IDENTIFIER, &id, &mut body);
    }
    for command in commands {
        tlv::encode(tags::ISSUER_SCRIPT_COMMAND, command, &mut body);
    }
    tlv::encoded(template, &body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_card_and_missing_data() {
        let mut host = EmvHost::new();
        assert_eq!(
            host.authorise("6228480012345671", 1, &[]).unwrap_err(),
            EmvHostError::UnknownCard
        );
        host.add_card("6228480012345671", 1, [0x11; 16], None)
            .unwrap();
        assert_eq!(
            host.authorise("6228480012345671", 1, &[]).unwrap_err(),
            EmvHostError::Missing(tags::APPLICATION_CRYPTOGRAM)
        );
        assert!(host.add_card("12ab", 1, [0; 16], None).is_err());
        assert!(!format!("{host:?}").contains("622848"));
        let template = issuer_script_template(tags::ISSUER_SCRIPT_TEMPLATE_2, None, &[vec![1, 2]]);
        assert_eq!(template, vec![0x72, 0x04, 0x86, 0x02, 1, 2]);
    }
}
