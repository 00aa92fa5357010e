//! C-APDU builders byte for byte, R-APDU splitting, command cores.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use quickpass_kernel::apdu::{
    self, ApduError, Command, Occurrence, Purse, RequestedCryptogram, Response,
};
use quickpass_kernel::values::{
    Aid, PurseAmount, Sfi, StatusWord, TransactionDate, TransactionTime,
};
use quickpass_kernel::Tag;

fn hex(c: &Command) -> String {
    hex::encode_upper(c.to_bytes())
}

#[test]
fn selection_commands() {
    assert_eq!(
        hex(&Command::select_ppse()),
        "00A404000E325041592E5359532E444446303100"
    );
    assert_eq!(
        hex(&Command::select_pse()),
        "00A404000E315041592E5359532E444446303100"
    );
    let aid: Aid = "A000000333010101".parse().unwrap();
    assert_eq!(
        hex(&Command::select_aid(&aid, Occurrence::First)),
        "00A4040008A00000033301010100"
    );
    assert_eq!(
        hex(&Command::select_aid(&aid, Occurrence::Next)),
        "00A4040208A00000033301010100"
    );
    assert_eq!(
        hex(&Command::select_df_name(b"PAY.SZT", Occurrence::First).unwrap()),
        "00A40400075041592E535A5400"
    );
    assert!(Command::select_df_name(b"", Occurrence::First).is_err());
    assert!(Command::select_df_name(&[0x41; 17], Occurrence::First).is_err());
    assert_eq!(hex(&Command::select_file_id(0x1001)), "00A40000021001");
}

#[test]
fn gpo_wraps_pdol_data_in_tag_83() {
    // The real QK trace PDOL asks for 33 bytes.
    let pdol_data =
        hex::decode("36800000000000000100000000000000015600000000000156240217000102030405")
            .unwrap();
    let pdol_data = &pdol_data[..33];
    let gpo = Command::get_processing_options(pdol_data).unwrap();
    let encoded = hex(&gpo);
    assert!(encoded.starts_with("80A80000238321368000"), "{encoded}");
    assert!(encoded.ends_with("00"));
    assert_eq!(gpo.to_bytes().len(), 5 + 2 + 33 + 1);
    assert_eq!(
        hex(&Command::get_processing_options(&[]).unwrap()),
        "80A8000002830000"
    );
    // 128 bytes of PDOL data need the long length form 81 80.
    let long = Command::get_processing_options(&[0; 128]).unwrap();
    assert_eq!(&long.to_bytes()[4..8], &[131, 0x83, 0x81, 0x80]);
    assert!(Command::get_processing_options(&[0; 252]).is_ok());
    assert_eq!(
        Command::get_processing_options(&[0; 253]),
        Err(ApduError::DataTooLong { len: 253, max: 252 })
    );
}

#[test]
fn records_and_data() {
    let sfi = |v| Sfi::new(v).unwrap();
    assert_eq!(hex(&Command::read_record(1, sfi(1)).unwrap()), "00B2010C00");
    assert_eq!(
        hex(&Command::read_record(3, sfi(0x0B)).unwrap()),
        "00B2035C00"
    );
    assert_eq!(
        hex(&Command::read_record(1, sfi(0x18)).unwrap()),
        "00B201C400"
    );
    assert!(Command::read_record(0, sfi(1)).is_err());
    assert_eq!(
        hex(&Command::get_data(Tag::new(0x9F79)).unwrap()),
        "80CA9F7900"
    );
    assert_eq!(
        hex(&Command::get_data(Tag::new(0x9F4F)).unwrap()),
        "80CA9F4F00"
    );
    assert_eq!(
        hex(&Command::get_data(Tag::new(0xC1)).unwrap()),
        "80CA00C100"
    );
    assert!(Command::get_data(Tag::new(0xDF8101)).is_err());
    assert_eq!(
        hex(&Command::read_binary_sfi(sfi(0x15), 0, 0x1E)),
        "00B095001E"
    );
}

#[test]
fn authentication_and_cryptograms() {
    assert_eq!(
        hex(&Command::internal_authenticate(&[1, 2, 3, 4]).unwrap()),
        "00880000040102030400"
    );
    let cdol = [0xAB; 4];
    assert_eq!(
        hex(&Command::generate_ac(RequestedCryptogram::Arqc, false, &cdol).unwrap()),
        "80AE800004ABABABAB00"
    );
    assert_eq!(
        hex(&Command::generate_ac(RequestedCryptogram::Tc, true, &cdol).unwrap()),
        "80AE500004ABABABAB00"
    );
    assert_eq!(
        hex(&Command::generate_ac(RequestedCryptogram::Aac, false, &cdol).unwrap()),
        "80AE000004ABABABAB00"
    );
    assert_eq!(hex(&Command::get_challenge()), "0084000000");
    assert_eq!(
        hex(&Command::verify_plaintext(&[
            0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ])),
        "0020008008241234FFFFFFFFFF"
    );
    assert_eq!(
        hex(&Command::verify_enciphered(&[9; 3]).unwrap()),
        "0020008803090909"
    );
    assert_eq!(
        hex(&Command::external_authenticate(&[7; 10]).unwrap()),
        "008200000A07070707070707070707"
    );
    assert!(Command::external_authenticate(&[7; 7]).is_err());
    assert_eq!(hex(&Command::get_response(0x1C)), "00C000001C");
    assert!(Command::internal_authenticate(&[0; 256]).is_err());
}

#[test]
fn purse_commands() {
    let terminal = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    assert_eq!(hex(&Command::get_balance(Purse::Purse)), "805C000204");
    assert_eq!(hex(&Command::get_balance(Purse::Deposit)), "805C000104");
    assert_eq!(
        hex(&Command::get_balance_variant(0x03, Purse::Purse)),
        "805C030204"
    );
    assert_eq!(
        hex(&Command::initialize_for_purchase(
            Purse::Purse,
            1,
            PurseAmount::from_fen(100),
            &terminal
        )),
        "805001020B01000000641122334455660F"
    );
    assert_eq!(
        hex(&Command::initialize_for_capp_purchase(
            1,
            PurseAmount::from_fen(100),
            &terminal
        )),
        "805003020B01000000641122334455660F"
    );
    assert_eq!(
        hex(&Command::initialize_for_load(
            Purse::Deposit,
            2,
            PurseAmount::from_fen(0x0102_0304),
            &terminal
        )),
        "805000010B020102030411223344556610"
    );
    assert_eq!(
        hex(&Command::initialize_for_load(
            Purse::Purse,
            1,
            PurseAmount::MAX,
            &terminal
        )),
        "805000020B01FFFFFFFF11223344556610"
    );
    let date = TransactionDate::new(2024, 2, 17).unwrap();
    let time = TransactionTime::new(13, 5, 9).unwrap();
    assert_eq!(
        hex(&Command::debit_for_purchase(
            0x0000_0102,
            date,
            time,
            &[0xA1, 0xA2, 0xA3, 0xA4]
        )),
        "805401000F0000010220240217130509A1A2A3A408"
    );
    assert_eq!(
        hex(&Command::credit_for_load(
            date,
            time,
            &[0xB1, 0xB2, 0xB3, 0xB4]
        )),
        "805200000B20240217130509B1B2B3B404"
    );
    let record = [0xAA, 0x29, 0x00];
    assert_eq!(
        hex(&Command::update_capp_data_cache(0xAA, Sfi::new(0x19).unwrap(), &record).unwrap()),
        "80DCAAC803AA2900"
    );
    assert_eq!(
        hex(&Command::get_transaction_prove(0x06, 0x0011)),
        "805A000602001108"
    );
}

#[test]
fn response_split() {
    assert_eq!(
        Response::split(&[]),
        Err(ApduError::ResponseTooShort { len: 0 })
    );
    assert_eq!(
        Response::split(&[0x90]),
        Err(ApduError::ResponseTooShort { len: 1 })
    );
    let r = Response::split(&[0x90, 0x00]).unwrap();
    assert!(r.data.is_empty() && r.is_success());
    let r = Response::split(&[0x9F, 0x79, 0x6A, 0x82]).unwrap();
    assert_eq!(r.data, vec![0x9F, 0x79]);
    assert_eq!(r.sw, StatusWord::FILE_NOT_FOUND);
    assert_eq!(r.to_bytes(), vec![0x9F, 0x79, 0x6A, 0x82]);
}

#[test]
fn core_strips_only_le() {
    let ppse = Command::select_ppse().to_bytes();
    assert_eq!(apdu::core(&ppse), &ppse[..ppse.len() - 1]);
    assert_eq!(
        apdu::core(&Command::select_ppse().with_le(None).to_bytes()),
        &ppse[..ppse.len() - 1]
    );
    assert_eq!(
        apdu::core(&Command::get_challenge().to_bytes()),
        &[0x00, 0x84, 0x00, 0x00]
    );
    let verify = Command::verify_enciphered(&[1, 2]).unwrap().to_bytes();
    assert_eq!(apdu::core(&verify), verify.as_slice());
}

proptest! {
    #[test]
    fn split_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        match Response::split(&bytes) {
            Ok(r) => prop_assert_eq!(r.to_bytes(), bytes.clone()),
            Err(_) => prop_assert!(bytes.len() < 2),
        }
        let _ = apdu::core(&bytes);
    }

    #[test]
    fn command_encoding_is_consistent(
        header in any::<[u8; 4]>(),
        data in proptest::collection::vec(any::<u8>(), 0..300),
        le in any::<Option<u8>>(),
    ) {
        match Command::new(header[0], header[1], header[2], header[3], data.clone(), le) {
            Ok(c) => {
                let bytes = c.to_bytes();
                prop_assert!(data.len() <= 255);
                prop_assert_eq!(bytes.len(), 4 + usize::from(!data.is_empty()) + data.len() + usize::from(le.is_some()));
                // The core is the encoding without Le.
                let without_le = c.clone().with_le(None).to_bytes();
                prop_assert_eq!(apdu::core(&bytes), without_le.as_slice());
            }
            Err(_) => prop_assert!(data.len() > 255),
        }
    }
}
