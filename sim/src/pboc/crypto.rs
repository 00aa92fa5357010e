//! The card's symmetric cryptography, shared with the host simulator so both sides compute the
//! same bytes: application cryptogram data (CVN 01), the issuer application data, and the
//! issuer script secure messaging MAC.
//!
//! Keys: the card's AC key (UDK) is the option A ICC master key of the issuer's IMK-AC
//! (EMV Book 2 A1.4.1, pboc-notes §5.5); the AC session key is the PBOC 2.0 ATC-based key of
//! pboc-notes §2.11 (⚠ single source, BT). The secure messaging key is the EMV common session
//! key (Book 2 A1.3) of the card's MK-SMI with R = the ARQC (⚠ choice, no PBOC source seen).

use quickpass_crypto::emv::{self, EmvKeyError};
use quickpass_crypto::mac::Padding;
use quickpass_crypto::secret::SecretKey;
use quickpass_kernel::dol::{fit, DolSource};
use quickpass_kernel::tags;
use quickpass_kernel::Tag;

/// Cryptogram version number of the only AC layout the simulated card computes (pboc-notes
/// §2.11, "CVN 01").
pub const CVN_01: u8 = 0x01;

/// IAD byte 8: algorithm indicator (⚠ `01` in the real trace; taken to mean 3DES, pboc-notes
/// §2.9).
pub const IAD_ALGORITHM_3DES: u8 = 0x01;

/// Issuer-discretionary data identifier `01`: EC balance (pboc-notes §2.9).
pub const IAD_ID_EC_BALANCE: u8 = 0x01;

/// The terminal data objects of the CVN 01 AC data, in order, with their lengths
/// (pboc-notes §2.11): `9F02 | 9F03 | 9F1A | 95 | 5F2A | 9A | 9C | 9F37`.
pub const CVN_01_TERMINAL_DATA: [(Tag, usize); 8] = [
    (tags::AMOUNT_AUTHORISED, 6),
    (tags::AMOUNT_OTHER, 6),
    (tags::TERMINAL_COUNTRY_CODE, 2),
    (tags::TVR, 5),
    (tags::TRANSACTION_CURRENCY_CODE, 2),
    (tags::TRANSACTION_DATE, 3),
    (tags::TRANSACTION_TYPE, 1),
    (tags::UNPREDICTABLE_NUMBER, 4),
];

/// The data an application cryptogram of CVN 01 is computed over (pboc-notes §2.11):
/// `9F02 | 9F03 | 9F1A | 95 | 5F2A | 9A | 9C | 9F37 | 82 | 9F36 | IAD[3..7]` — the last part is
/// the CVR with its length byte (`03` + 3 bytes). Terminal values missing from `terminal` are
/// zeros; values of another length are fitted as a DOL would (EMV Book 3 §5.4).
pub fn cvn01_ac_data(
    terminal: &(impl DolSource + ?Sized),
    aip: [u8; 2],
    atc: [u8; 2],
    iad: &[u8],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(37);
    for (tag, length) in CVN_01_TERMINAL_DATA {
        match terminal.value(tag) {
            Some(value) => fit(value, length, tags::format_of(tag), &mut data),
            None => data.resize(data.len() + length, 0),
        }
    }
    data.extend_from_slice(&aip);
    data.extend_from_slice(&atc);
    match iad.get(3..7) {
        Some(cvr) => data.extend_from_slice(cvr),
        None => data.resize(data.len() + 4, 0),
    }
    data
}

/// The card's AC key (UDK): option A ICC master key of `imk` for the PAN and PSN.
pub fn derive_udk(imk: &[u8; 16], pan: &str, psn: u8) -> Result<SecretKey, EmvKeyError> {
    emv::derive_icc_master_key_option_a(imk, pan, psn)
}

/// The application cryptogram: retail MAC (ISO 9797-1 alg. 3, padding method 2) under the PBOC
/// ATC session key of `udk` over `data`.
pub fn application_cryptogram(
    udk: &SecretKey,
    atc: [u8; 2],
    data: &[u8],
) -> Result<[u8; 8], EmvKeyError> {
    let session = emv::pboc_ac_session_key(udk, atc)?;
    emv::application_cryptogram(&session, data, Padding::Method2)
}

/// ARPC method 1 (EMV Book 2 §8.2.1) with the AC session key of `udk` — what the card checks in
/// EXTERNAL AUTHENTICATE (⚠ PBOC key choice per pboc-notes §5.6).
pub fn arpc(
    udk: &SecretKey,
    atc: [u8; 2],
    arqc: [u8; 8],
    arc: [u8; 2],
) -> Result<[u8; 8], EmvKeyError> {
    let session = emv::pboc_ac_session_key(udk, atc)?;
    emv::arpc_method_1(&session, arqc, arc)
}

/// Issuer application data `9F10` (pboc-notes §2.9, layout of the real trace), 19 bytes:
/// `07 | DKI | CVN | 03 CVR(3) | 01 | 0A 01 <EC balance, low 5 bytes of n12> MAC(4)`.
///
/// ⚠ The 4-byte MAC of the discretionary part is the leftmost 4 bytes of the retail MAC
/// (padding method 2) under the AC session key over `ATC ‖ 01 ‖ balance(5)`: the notes only
/// say "a session key over ATC || data".
pub fn issuer_application_data(
    udk: &SecretKey,
    dki: u8,
    cvr: [u8; 3],
    atc: [u8; 2],
    ec_balance: [u8; 6],
) -> Result<Vec<u8>, EmvKeyError> {
    let mut iad = vec![0x07, dki, CVN_01, 0x03, cvr[0], cvr[1], cvr[2]];
    iad.push(IAD_ALGORITHM_3DES);
    let mut discretionary = vec![IAD_ID_EC_BALANCE];
    discretionary.extend_from_slice(&ec_balance[1..]);
    let mut mac_data = atc.to_vec();
    mac_data.extend_from_slice(&discretionary);
    let session = emv::pboc_ac_session_key(udk, atc)?;
    let mac = emv::application_cryptogram(&session, &mac_data, Padding::Method2)?;
    iad.push((discretionary.len() + 4) as u8); // 10
    iad.extend_from_slice(&discretionary);
    iad.extend_from_slice(&mac[..4]);
    Ok(iad)
}

/// The issuer script MAC (⚠ layout chosen here; pboc-notes has no PBOC source):
///
/// - key: EMV common session key (Book 2 A1.3) of the card's MK-SMI with R = the ARQC of the
///   current transaction;
/// - data: `CLA INS P1 P2 Lc ‖ ATC ‖ ARQC ‖ command data without the MAC`, Lc counting the MAC;
/// - MAC: ISO 9797-1 algorithm 3, padding method 2, leftmost `mac_length` (4 or 8) bytes.
pub fn script_mac(
    mk_smi: &SecretKey,
    header: [u8; 4],
    data: &[u8],
    atc: [u8; 2],
    arqc: [u8; 8],
    mac_length: usize,
) -> Result<Vec<u8>, EmvKeyError> {
    let key = emv::common_session_key(mk_smi, arqc)?;
    let lc = data.len() + mac_length;
    let mut input = header.to_vec();
    input.push(lc as u8);
    input.extend_from_slice(&atc);
    input.extend_from_slice(&arqc);
    input.extend_from_slice(data);
    let mac = emv::secure_messaging_mac(&key, &input)?;
    Ok(mac[..mac_length.min(8)].to_vec())
}

/// A complete issuer script command with its MAC: `header Lc data MAC`.
pub fn script_command(
    mk_smi: &SecretKey,
    header: [u8; 4],
    data: &[u8],
    atc: [u8; 2],
    arqc: [u8; 8],
    mac_length: usize,
) -> Result<Vec<u8>, EmvKeyError> {
    let mac = script_mac(mk_smi, header, data, atc, arqc, mac_length)?;
    let mut command = header.to_vec();
    command.push((data.len() + mac.len()) as u8);
    command.extend_from_slice(data);
    command.extend_from_slice(&mac);
    Ok(command)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use quickpass_kernel::dol::DolValues;

    #[test]
    fn ac_data_layout_and_iad_length() {
        let mut terminal = DolValues::new();
        terminal.set_value(tags::AMOUNT_AUTHORISED, vec![0, 0, 0, 0, 0x10, 0]);
        terminal.set_value(tags::UNPREDICTABLE_NUMBER, vec![1, 2, 3, 4]);
        let udk = SecretKey::new(&[0x11; 16]);
        let iad =
            issuer_application_data(&udk, 1, [0x90, 0, 0], [0, 5], [0, 0, 0, 0, 1, 0]).unwrap();
        assert_eq!(iad.len(), 19);
        assert_eq!(&iad[..9], &[0x07, 0x01, 0x01, 0x03, 0x90, 0, 0, 0x01, 0x0A]);
        assert_eq!(&iad[9..15], &[0x01, 0, 0, 0, 0x01, 0x00]);
        let data = cvn01_ac_data(&terminal, [0x7C, 0x00], [0, 5], &iad);
        assert_eq!(data.len(), 29 + 2 + 2 + 4);
        assert_eq!(&data[..6], &[0, 0, 0, 0, 0x10, 0]);
        assert_eq!(&data[25..29], &[1, 2, 3, 4]);
        assert_eq!(&data[29..], &[0x7C, 0x00, 0, 5, 0x03, 0x90, 0, 0]);
    }

    #[test]
    fn script_mac_binds_header_and_data() {
        let key = SecretKey::new(&[0x22; 16]);
        let a = script_mac(&key, [4, 0xDA, 0x9F, 0x79], &[1; 6], [0, 1], [9; 8], 4).unwrap();
        let b = script_mac(&key, [4, 0xDA, 0x9F, 0x78], &[1; 6], [0, 1], [9; 8], 4).unwrap();
        assert_eq!(a.len(), 4);
        assert_ne!(a, b);
        let command =
            script_command(&key, [4, 0xDA, 0x9F, 0x79], &[1; 6], [0, 1], [9; 8], 4).unwrap();
        assert_eq!(command[4], 10);
        assert_eq!(&command[11..], &a[..]);
    }
}
