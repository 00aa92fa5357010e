//! GET PROCESSING OPTIONS: the qPBOC card decision and GPO response (pboc-notes §2.4–§2.9),
//! and the contact / contactless full PBOC answer (AIP + AFL).

use quickpass_kernel::bits::{CryptogramType, Ttq};
use quickpass_kernel::tags;
use quickpass_kernel::tlv;
use quickpass_kernel::values::StatusWord;

use super::{
    cvr_byte, n12, OdaAlgorithm, Path, PbocApplication, SW_CONDITIONS, SW_INTERNAL, SW_WRONG_LENGTH,
};
use crate::apdu::{CommandApdu, Reply};
use crate::card::push_tlv;

/// Everything the qPBOC decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpbocInputs {
    /// The terminal's TTQ `9F66`.
    pub ttq: Ttq,
    /// Amount authorised `9F02`, minor units.
    pub amount: u64,
    /// The EC sub-account can pay this transaction at all: the card has one, the currency
    /// matches, and the terminal can authenticate the card offline (SM2 cards: `DF69` = 01).
    pub ec_usable: bool,
    /// EC balance `9F79`.
    pub balance: u64,
    /// EC single transaction limit `9F78`.
    pub single_transaction_limit: u64,
    /// EC reset threshold `9F6D`.
    pub reset_threshold: u64,
    /// CAP "offline only" (pure EC: ARQC becomes AAC).
    pub offline_only: bool,
    /// CAP "prefer contact for online".
    pub prefer_contact_for_online: bool,
}

/// What the card answers to a qPBOC GPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpbocDecision {
    /// Offline approval, the EC balance is debited.
    Tc,
    /// Online authorisation request.
    Arqc,
    /// Decline.
    Aac,
    /// `6985`: use another interface (CAP "prefer contact for online").
    SwitchInterface,
}

/// The card's qPBOC decision, exactly as pboc-notes §2.9 (BT):
///
/// - offline-only reader (TTQ byte 1 b4): AAC when EC is unusable, amount > balance or amount >
///   `9F78`; otherwise TC;
/// - online-capable reader: ARQC when TTQ "online cryptogram required", EC unusable, amount >
///   `9F78` or balance − amount < `9F6D`; otherwise TC;
/// - then an ARQC becomes AAC on an offline-only card, or `6985` when the card prefers contact
///   for online and the TTQ says the terminal supports contact.
pub fn qpboc_decision(inputs: &QpbocInputs) -> QpbocDecision {
    let ttq = &inputs.ttq;
    let over_single = inputs.amount > inputs.single_transaction_limit;
    let decision = if ttq.contains(Ttq::OFFLINE_ONLY_READER) {
        if !inputs.ec_usable || inputs.amount > inputs.balance || over_single {
            QpbocDecision::Aac
        } else {
            QpbocDecision::Tc
        }
    } else {
        let below_threshold = inputs
            .balance
            .checked_sub(inputs.amount)
            .is_none_or(|rest| rest < inputs.reset_threshold);
        if ttq.contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED)
            || !inputs.ec_usable
            || over_single
            || below_threshold
        {
            QpbocDecision::Arqc
        } else {
            QpbocDecision::Tc
        }
    };
    match decision {
        QpbocDecision::Arqc if inputs.offline_only => QpbocDecision::Aac,
        QpbocDecision::Arqc
            if inputs.prefer_contact_for_online && ttq.contains(Ttq::CONTACT_PBOC_SUPPORTED) =>
        {
            QpbocDecision::SwitchInterface
        }
        other => other,
    }
}

impl PbocApplication {
    /// GET PROCESSING OPTIONS (EMV Book 3 §6.5.8): `83 L <PDOL data>`.
    pub(super) fn gpo(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        if self.state.blocked || self.session.path.is_some() {
            return Reply::status(SW_CONDITIONS);
        }
        let pdol_data = match tlv::parse_single(command.data) {
            Ok(object) if object.tag() == tags::COMMAND_TEMPLATE => object.value(),
            _ => return Reply::status(StatusWord::INCORRECT_DATA),
        };
        let Ok(values) = self.card.pdol.split(pdol_data) else {
            return Reply::status(SW_WRONG_LENGTH);
        };
        for (tag, value) in values {
            self.session.terminal.insert(tag, value.to_vec());
        }
        self.session.pdol_data = pdol_data.to_vec();

        let ttq = self
            .terminal(tags::TTQ)
            .and_then(|v| Ttq::from_slice(v).ok())
            .filter(|t| !t.is_empty());
        let Some(ttq) = ttq else {
            return self.gpo_full(Path::Contact);
        };
        if self.card.path == super::ContactlessPath::Full {
            if !ttq.contains(Ttq::CONTACTLESS_FULL_PBOC_SUPPORTED) {
                return Reply::status(SW_CONDITIONS);
            }
            return self.gpo_full(Path::ContactlessFull);
        }
        if !ttq.contains(Ttq::QPBOC_SUPPORTED) {
            return Reply::status(SW_CONDITIONS);
        }
        self.gpo_qpboc(ttq)
    }

    /// Contact or contactless full PBOC: `77 { 82, 94 }`.
    fn gpo_full(&mut self, path: Path) -> Reply {
        if self.next_atc().is_none() {
            return Reply::status(SW_CONDITIONS);
        }
        self.session.path = Some(path);
        let mut body = Vec::new();
        push_tlv(&mut body, tags::AIP, &self.card.aip);
        push_tlv(&mut body, tags::AFL, &self.card.afl);
        Reply::ok(tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body))
    }

    fn gpo_qpboc(&mut self, ttq: Ttq) -> Reply {
        let Some(amount) = self.amount() else {
            return Reply::status(StatusWord::INCORRECT_DATA);
        };
        let oda_usable = match self.card.oda {
            OdaAlgorithm::Sm2 => self.terminal(tags::SM_ALGORITHM_SUPPORT_INDICATOR) == Some(&[1]),
            _ => true,
        };
        let ec = self.state.ec;
        let inputs = QpbocInputs {
            ttq,
            amount,
            ec_usable: ec.is_some() && self.currency_ok() && oda_usable,
            balance: ec.map_or(0, |e| e.balance),
            single_transaction_limit: ec.map_or(0, |e| e.single_transaction_limit),
            reset_threshold: ec.map_or(0, |e| e.reset_threshold),
            offline_only: self.card.cap.offline_only,
            prefer_contact_for_online: self.card.cap.prefer_contact_for_online,
        };
        let kind = match qpboc_decision(&inputs) {
            QpbocDecision::SwitchInterface => return Reply::status(SW_CONDITIONS),
            QpbocDecision::Tc => CryptogramType::Tc,
            QpbocDecision::Arqc => CryptogramType::Arqc,
            QpbocDecision::Aac => CryptogramType::Aac,
        };
        let Some(atc) = self.next_atc() else {
            return Reply::status(SW_CONDITIONS);
        };
        self.session.path = Some(Path::Qpboc);
        if kind == CryptogramType::Tc {
            if let Some(ec) = self.state.ec.as_mut() {
                ec.balance = ec.balance.saturating_sub(amount);
            }
        }
        let Some((iad, ac)) = self.cryptogram([cvr_byte(kind, None), 0, 0]) else {
            return Reply::status(SW_INTERNAL);
        };
        self.session.first = Some(super::FirstAc { kind, ac });

        // Online ODA (pboc-notes §2.13): an ARQC the terminal will authenticate offline comes
        // with the records to read and an fDDA signature, as a TC does.
        let signed = kind == CryptogramType::Tc
            || (kind == CryptogramType::Arqc
                && self.card.cap.online_oda
                && ttq.contains(Ttq::ODA_FOR_ONLINE_AUTHORISATIONS_SUPPORTED));
        let data = &self.card.data;
        let value = |tag| data.get(&tag).map(Vec::as_slice).unwrap_or_default();
        let mut body = Vec::new();
        push_tlv(&mut body, tags::AIP, &self.card.aip);
        if signed {
            push_tlv(&mut body, tags::AFL, &self.card.afl);
        }
        push_tlv(&mut body, tags::ATC, &atc);
        push_tlv(&mut body, tags::APPLICATION_CRYPTOGRAM, &ac);
        push_tlv(&mut body, tags::ISSUER_APPLICATION_DATA, &iad);
        push_tlv(
            &mut body,
            tags::TRACK2_EQUIVALENT_DATA,
            value(tags::TRACK2_EQUIVALENT_DATA),
        );
        push_tlv(
            &mut body,
            tags::PAN_SEQUENCE_NUMBER,
            value(tags::PAN_SEQUENCE_NUMBER),
        );
        if signed && self.card.signer.is_some() {
            let Some((sdad, card_data)) = self.fdda(&ttq, atc) else {
                return Reply::status(SW_INTERNAL);
            };
            push_tlv(&mut body, tags::SIGNED_DYNAMIC_APPLICATION_DATA, &sdad);
            if let Some(card_data) = &card_data {
                push_tlv(&mut body, tags::CARD_AUTHENTICATION_RELATED_DATA, card_data);
            }
        }
        push_tlv(&mut body, tags::CTQ, &self.card.ctq);
        if let Some(ec) = self.state.ec {
            push_tlv(
                &mut body,
                tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT,
                &n12(ec.balance),
            );
        }
        if kind == CryptogramType::Tc {
            self.log_transaction();
        }
        Reply::ok(tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body))
    }

    /// fDDA (pboc-notes §2.7): ICC dynamic data `02 ‖ ATC`; the terminal data signed is
    /// `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69` for fDDA version 01 (TTQ byte 4 b8), with
    /// `9F69 = 01 ‖ card UN (4) ‖ CTQ (2) ‖ 00`, else `9F37` alone. Returns the SDAD and `9F69`.
    fn fdda(&mut self, ttq: &Ttq, atc: [u8; 2]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let card_data = if ttq.contains(Ttq::FDDA_V01_SUPPORTED) {
            let un = self.random();
            let ctq = self.card.ctq;
            Some(vec![0x01, un[0], un[1], un[2], un[3], ctq[0], ctq[1], 0x00])
        } else {
            None
        };
        let mut dynamic = Vec::new();
        let fixed = |tag, len: usize, out: &mut Vec<u8>| match self.terminal(tag) {
            Some(v) => quickpass_kernel::dol::fit(v, len, tags::format_of(tag), out),
            None => out.resize(out.len() + len, 0),
        };
        fixed(tags::UNPREDICTABLE_NUMBER, 4, &mut dynamic);
        if let Some(card_data) = &card_data {
            fixed(tags::AMOUNT_AUTHORISED, 6, &mut dynamic);
            fixed(tags::TRANSACTION_CURRENCY_CODE, 2, &mut dynamic);
            dynamic.extend_from_slice(card_data);
        }
        let sdad = self.sign_sdad(&[0x02, atc[0], atc[1]], &dynamic)?;
        Some((sdad, card_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(ttq: &str, amount: u64) -> QpbocInputs {
        QpbocInputs {
            ttq: ttq.parse().expect("ttq"),
            amount,
            ec_usable: true,
            balance: 10_000,
            single_transaction_limit: 5_000,
            reset_threshold: 1_000,
            offline_only: false,
            prefer_contact_for_online: false,
        }
    }

    #[test]
    fn offline_only_reader() {
        let ttq = "28000080";
        assert_eq!(qpboc_decision(&inputs(ttq, 5_000)), QpbocDecision::Tc);
        assert_eq!(qpboc_decision(&inputs(ttq, 5_001)), QpbocDecision::Aac);
        let mut poor = inputs(ttq, 3_000);
        poor.balance = 2_999;
        assert_eq!(qpboc_decision(&poor), QpbocDecision::Aac);
        // The reset threshold does not apply to an offline-only reader.
        poor.balance = 3_000;
        assert_eq!(qpboc_decision(&poor), QpbocDecision::Tc);
        let mut unusable = inputs(ttq, 1);
        unusable.ec_usable = false;
        assert_eq!(qpboc_decision(&unusable), QpbocDecision::Aac);
    }

    #[test]
    fn online_capable_reader() {
        let ttq = "26000080";
        assert_eq!(qpboc_decision(&inputs(ttq, 5_000)), QpbocDecision::Tc);
        assert_eq!(qpboc_decision(&inputs(ttq, 5_001)), QpbocDecision::Arqc);
        // 4 999 − 4 000 = 999 < 1 000
        let mut low = inputs(ttq, 4_000);
        low.balance = 4_999;
        assert_eq!(qpboc_decision(&low), QpbocDecision::Arqc);
        low.balance = 5_000;
        assert_eq!(qpboc_decision(&low), QpbocDecision::Tc);
        assert_eq!(qpboc_decision(&inputs("26800080", 1)), QpbocDecision::Arqc);
        let mut pure = inputs("26800080", 1);
        pure.offline_only = true;
        assert_eq!(qpboc_decision(&pure), QpbocDecision::Aac);
        let mut prefer = inputs("36800000", 1);
        prefer.prefer_contact_for_online = true;
        assert_eq!(qpboc_decision(&prefer), QpbocDecision::SwitchInterface);
        prefer.ttq = "26800000".parse().expect("ttq");
        assert_eq!(qpboc_decision(&prefer), QpbocDecision::Arqc);
    }
}
