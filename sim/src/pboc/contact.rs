//! Contact and contactless full PBOC: GENERATE AC (with CDA), INTERNAL AUTHENTICATE (DDA),
//! EXTERNAL AUTHENTICATE (ARPC) and issuer script commands with secure messaging.

use quickpass_crypto::oda::issue::cda_icc_dynamic_data;
use quickpass_kernel::bits::{Aip, CryptogramType};
use quickpass_kernel::tags;
use quickpass_kernel::tlv;
use quickpass_kernel::values::bcd::bcd_to_u64;
use quickpass_kernel::values::StatusWord;

use super::{
    crypto, cvr_byte, n12, FirstAc, Path, PbocApplication, SW_CONDITIONS, SW_INTERNAL,
    SW_WRONG_LENGTH,
};
use crate::apdu::{CommandApdu, Reply};
use crate::card::push_tlv;

/// `6988`: secure messaging data object incorrect (the script MAC does not verify).
const SW_BAD_MAC: StatusWord = StatusWord::SM_DATA_INCORRECT;

impl PbocApplication {
    /// GENERATE AC (EMV Book 3 §6.5.5). Card risk management, kept simple:
    ///
    /// - first GAC: AAC asked → AAC; TC asked → TC when the EC sub-account can pay (`9F7A` =
    ///   01 from the terminal, currency matches, amount ≤ `9F79` and ≤ `9F78`, PIN not
    ///   blocked: the balance is debited), else ARQC; ARQC asked → ARQC. An offline-only (pure
    ///   EC) card answers AAC instead of ARQC, a blocked one AAC.
    /// - second GAC (only after an ARQC): TC when TC is asked and issuer authentication did not
    ///   fail and the application is not blocked, else AAC.
    /// - CDA (P1 b5, AIP CDA bit, TC or ARQC): `9F4B` replaces `9F26`, ICC dynamic data per
    ///   EMV Book 2 Table 19, transaction data = PDOL data ‖ CDOL1 data ‖ [CDOL2 data] ‖ the
    ///   response TLVs `9F27`, `9F36`, `9F10` in that order; the SDAD hash covers `9F37`.
    pub(super) fn generate_ac(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p2 != 0 || command.p1 & 0x2F != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let requested = CryptogramType::from_bits(command.p1 & 0xC0);
        if requested == CryptogramType::Rfu {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let cda = command.p1 & 0x10 != 0;
        match (self.session.path, self.session.first) {
            (Some(Path::Contact | Path::ContactlessFull), None) => {
                self.first_generate_ac(command.data, requested, cda)
            }
            (Some(Path::Contact | Path::ContactlessFull), Some(first))
                if first.kind == CryptogramType::Arqc && !self.session.second_done =>
            {
                self.second_generate_ac(command.data, requested, cda)
            }
            _ => Reply::status(SW_CONDITIONS),
        }
    }

    /// The ARQC of a contact or contactless full PBOC transaction: issuer authentication and
    /// scripts need one. A qPBOC transaction ends at GPO (the card leaves the field before the
    /// online response), so its ARQC does not count.
    fn online_arqc(&self) -> Option<FirstAc> {
        match self.session.path {
            Some(Path::Contact | Path::ContactlessFull) => self
                .session
                .first
                .filter(|f| f.kind == CryptogramType::Arqc),
            _ => None,
        }
    }

    fn take_dol_data(&mut self, second: bool, data: &[u8]) -> bool {
        let dol = if second {
            &self.card.cdol2
        } else {
            &self.card.cdol1
        };
        let Ok(values) = dol.split(data) else {
            return false;
        };
        for (tag, value) in values {
            self.session.terminal.insert(tag, value.to_vec());
        }
        true
    }

    /// The EC sub-account can pay this contact transaction (pboc-notes §2.8, BT).
    fn contact_ec_ok(&self) -> Option<u64> {
        let ec = self.state.ec?;
        let amount = self.amount()?;
        let eligible = self.terminal(tags::EC_TERMINAL_SUPPORT_INDICATOR) == Some(&[0x01])
            && self.currency_ok()
            && amount <= ec.balance
            && amount <= ec.single_transaction_limit
            && self.state.pin_tries > 0;
        eligible.then_some(amount)
    }

    fn first_generate_ac(&mut self, data: &[u8], requested: CryptogramType, cda: bool) -> Reply {
        if !self.take_dol_data(false, data) {
            return Reply::status(SW_WRONG_LENGTH);
        }
        self.session.cdol1_data = data.to_vec();
        let offline_only = self.card.cap.offline_only;
        let mut debit = None;
        let kind = match requested {
            _ if self.state.blocked => CryptogramType::Aac,
            CryptogramType::Tc => match self.contact_ec_ok() {
                Some(amount) => {
                    debit = Some(amount);
                    CryptogramType::Tc
                }
                None if offline_only => CryptogramType::Aac,
                None => CryptogramType::Arqc,
            },
            CryptogramType::Arqc if !offline_only => CryptogramType::Arqc,
            _ => CryptogramType::Aac,
        };
        if let (Some(amount), Some(ec)) = (debit, self.state.ec.as_mut()) {
            ec.balance = ec.balance.saturating_sub(amount);
        }
        let reply = self.ac_response(kind, cvr_byte(kind, None), cda, &[]);
        if reply.sw == StatusWord::OK && kind == CryptogramType::Tc {
            self.log_transaction();
        }
        reply
    }

    fn second_generate_ac(&mut self, data: &[u8], requested: CryptogramType, cda: bool) -> Reply {
        if !self.take_dol_data(true, data) {
            return Reply::status(SW_WRONG_LENGTH);
        }
        self.session.second_done = true;
        let kind = if requested == CryptogramType::Tc
            && self.session.issuer_authentication != Some(false)
            && !self.state.blocked
        {
            CryptogramType::Tc
        } else {
            CryptogramType::Aac
        };
        let cvr = cvr_byte(CryptogramType::Arqc, Some(kind));
        let reply = self.ac_response(kind, cvr, cda, data);
        if reply.sw == StatusWord::OK && kind == CryptogramType::Tc {
            self.log_transaction();
        }
        reply
    }

    /// `77 { 9F27, 9F36, 9F26 | 9F4B, 9F10 }`.
    fn ac_response(&mut self, kind: CryptogramType, cvr1: u8, cda: bool, cdol2: &[u8]) -> Reply {
        let Some((iad, ac)) = self.cryptogram([cvr1, 0, 0]) else {
            return Reply::status(SW_INTERNAL);
        };
        if self.session.first.is_none() {
            self.session.first = Some(FirstAc { kind, ac });
        }
        let cid = [kind.bits()];
        let atc = self.atc_bytes();
        let aip = Aip::from_bytes(self.card.aip);
        let with_cda = cda
            && kind != CryptogramType::Aac
            && aip.contains(Aip::CDA_SUPPORTED)
            && self.card.signer.is_some();
        let mut body = Vec::new();
        push_tlv(&mut body, tags::CID, &cid);
        push_tlv(&mut body, tags::ATC, &atc);
        if with_cda {
            let mut transaction = self.session.pdol_data.clone();
            transaction.extend_from_slice(&self.session.cdol1_data);
            transaction.extend_from_slice(cdol2);
            transaction.extend_from_slice(&body);
            tlv::encode(tags::ISSUER_APPLICATION_DATA, &iad, &mut transaction);
            let number = self.random();
            let Ok(dynamic) = cda_icc_dynamic_data(&number, cid[0], ac, &transaction) else {
                return Reply::status(SW_INTERNAL);
            };
            let mut un = Vec::new();
            match self.terminal(tags::UNPREDICTABLE_NUMBER) {
                Some(v) => un.extend_from_slice(v),
                None => un.resize(4, 0),
            }
            let Some(sdad) = self.sign_sdad(&dynamic, &un) else {
                return Reply::status(SW_INTERNAL);
            };
            push_tlv(&mut body, tags::SIGNED_DYNAMIC_APPLICATION_DATA, &sdad);
        } else {
            push_tlv(&mut body, tags::APPLICATION_CRYPTOGRAM, &ac);
        }
        push_tlv(&mut body, tags::ISSUER_APPLICATION_DATA, &iad);
        Reply::ok(tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body))
    }

    /// INTERNAL AUTHENTICATE (EMV Book 3 §6.5.9, Book 2 §6.5): SDAD over the command data (the
    /// DDOL data) with ICC dynamic data `08 ‖ ICC dynamic number (8)`; response `77 { 9F4B }`.
    pub(super) fn internal_authenticate(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        if command.data.is_empty() {
            return Reply::status(SW_WRONG_LENGTH);
        }
        if self.card.signer.is_none() {
            return Reply::status(StatusWord::FUNCTION_NOT_SUPPORTED);
        }
        let number = self.random();
        let mut dynamic = vec![0x08];
        dynamic.extend_from_slice(&number);
        match self.sign_sdad(&dynamic, command.data) {
            Some(sdad) => Reply::ok(tlv::encoded(
                tags::RESPONSE_TEMPLATE_FORMAT_2,
                &tlv::encoded(tags::SIGNED_DYNAMIC_APPLICATION_DATA, &sdad),
            )),
            None => Reply::status(SW_INTERNAL),
        }
    }

    /// EXTERNAL AUTHENTICATE (EMV Book 3 §6.5.4): `ARPC (8) ‖ ARC (2)`, ARPC method 1 with the
    /// AC session key over the first GAC's ARQC. `9000` and last online ATC := ATC, or `6300`.
    /// Once per transaction, between an ARQC and the second GAC.
    pub(super) fn external_authenticate(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.p1 != 0 || command.p2 != 0 {
            return Reply::status(StatusWord::INCORRECT_P1_P2);
        }
        let first = match self.online_arqc() {
            Some(first)
                if !self.session.second_done && self.session.issuer_authentication.is_none() =>
            {
                first
            }
            _ => return Reply::status(SW_CONDITIONS),
        };
        let Ok(data) = <[u8; 10]>::try_from(command.data) else {
            return Reply::status(SW_WRONG_LENGTH);
        };
        let arc = [data[8], data[9]];
        let Ok(expected) = crypto::arpc(&self.card.udk, self.atc_bytes(), first.ac, arc) else {
            return Reply::status(SW_INTERNAL);
        };
        let ok = expected[..] == data[..8];
        self.session.issuer_authentication = Some(ok);
        if ok {
            self.state.last_online_atc = self.state.atc;
            Reply::status(StatusWord::OK)
        } else {
            Reply::status(StatusWord::AUTHENTICATION_FAILED)
        }
    }

    /// Issuer script commands with secure messaging ([`crypto::script_mac`] layout, ⚠):
    /// PUT DATA `04 DA` (`9F79` EC balance — logged in the load log —, `9F77`, `9F78`, `9F6D`,
    /// each n12), APPLICATION BLOCK `84 1E`, APPLICATION UNBLOCK `84 18`. Accepted only after
    /// an ARQC of a contact or full PBOC transaction (the MAC key depends on it).
    pub(super) fn issuer_script(&mut self, command: &CommandApdu<'_>) -> Reply {
        let Some(first) = self.online_arqc() else {
            return Reply::status(SW_CONDITIONS);
        };
        let mac_length = self.card.script_mac_length;
        let Some(split) = command.data.len().checked_sub(mac_length) else {
            return Reply::status(SW_WRONG_LENGTH);
        };
        let (value, mac) = command.data.split_at(split);
        let header = [command.cla, command.ins, command.p1, command.p2];
        let Ok(expected) = crypto::script_mac(
            &self.card.mk_smi,
            header,
            value,
            self.atc_bytes(),
            first.ac,
            mac_length,
        ) else {
            return Reply::status(SW_INTERNAL);
        };
        if expected != mac {
            return Reply::status(SW_BAD_MAC);
        }
        match command.ins {
            0x1E | 0x18 => {
                if command.p1 != 0 || command.p2 != 0 || !value.is_empty() {
                    return Reply::status(StatusWord::INCORRECT_P1_P2);
                }
                self.state.blocked = command.ins == 0x1E;
                Reply::status(StatusWord::OK)
            }
            _ => self.put_data(command.p1, command.p2, value),
        }
    }

    fn put_data(&mut self, p1: u8, p2: u8, value: &[u8]) -> Reply {
        let Some(mut ec) = self.state.ec else {
            return Reply::status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if value.len() != 6 {
            return Reply::status(SW_WRONG_LENGTH);
        }
        let Ok(amount) = bcd_to_u64(value) else {
            return Reply::status(StatusWord::INCORRECT_DATA);
        };
        let before = ec.balance;
        match u16::from_be_bytes([p1, p2]) {
            0x9F79 if amount <= ec.balance_limit => ec.balance = amount,
            0x9F79 => return Reply::status(StatusWord::INCORRECT_DATA),
            0x9F77 if amount >= ec.balance => ec.balance_limit = amount,
            0x9F77 => return Reply::status(StatusWord::INCORRECT_DATA),
            0x9F78 => ec.single_transaction_limit = amount,
            0x9F6D => ec.reset_threshold = amount,
            _ => return Reply::status(StatusWord::REFERENCED_DATA_NOT_FOUND),
        }
        self.state.ec = Some(ec);
        if [p1, p2] == [0x9F, 0x79] {
            self.log_load([p1, p2], n12(before), n12(ec.balance));
        }
        Reply::status(StatusWord::OK)
    }
}
