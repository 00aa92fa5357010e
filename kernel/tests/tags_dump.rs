//! Tests of the tag dictionary (`tags.rs`) and the human-readable TLV dump (`dump.rs`).

use proptest::prelude::*;
use quickpass_kernel::dump::{dump, Dump, MAX_DEPTH};
use quickpass_kernel::tags::{self, Length, Source, DICTIONARY};
use quickpass_kernel::tlv;
use quickpass_kernel::{Format, Tag};

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).expect("test hex")
}

const PPSE: &str = "6F30840E325041592E5359532E4444463031A51EBF0C1B61194F08A000000333010101\
                    500A50424F43204445424954870101";

#[test]
fn dictionary_is_sorted_and_unique() {
    for pair in DICTIONARY.windows(2) {
        assert!(
            pair[0].tag.packed() < pair[1].tag.packed(),
            "{} before {}",
            pair[0].tag,
            pair[1].tag
        );
    }
}

#[test]
fn every_entry_is_found_and_consistent() {
    for info in DICTIONARY {
        let found = tags::lookup(info.tag).expect("listed tag found");
        assert_eq!(found.tag, info.tag);
        assert!(!info.name.is_empty(), "{}", info.tag);
        // Constructed tags are templates and templates are constructed.
        assert_eq!(
            info.tag.is_constructed(),
            info.format == Format::Template,
            "{} {}",
            info.tag,
            info.name
        );
        // The encoded tag round-trips through the parser.
        let encoded = info.tag.to_bytes();
        assert_eq!(
            Tag::parse(encoded.as_slice(), 0),
            Ok((info.tag, info.tag.len())),
            "{}",
            info.tag
        );
        match info.length {
            Length::Fixed(n) => assert!(n > 0, "{}", info.tag),
            Length::Range(min, max) => assert!(min < max, "{}", info.tag),
            Length::Var => {}
        }
    }
}

#[test]
fn every_book3_annex_a1_tag_is_present() {
    let annex_a1: &[u32] = &[
        0x42, 0x4F, 0x50, 0x57, 0x5A, 0x5F20, 0x5F24, 0x5F25, 0x5F28, 0x5F2A, 0x5F2D, 0x5F30,
        0x5F34, 0x5F36, 0x5F50, 0x5F53, 0x5F54, 0x5F55, 0x5F56, 0x61, 0x6F, 0x70, 0x71, 0x72, 0x73,
        0x77, 0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x8D, 0x8E, 0x8F,
        0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F01,
        0x9F02, 0x9F03, 0x9F04, 0x9F05, 0x9F06, 0x9F07, 0x9F08, 0x9F09, 0x9F0B, 0x9F0D, 0x9F0E,
        0x9F0F, 0x9F10, 0x9F11, 0x9F12, 0x9F13, 0x9F14, 0x9F15, 0x9F16, 0x9F17, 0x9F18, 0x9F1A,
        0x9F1B, 0x9F1C, 0x9F1D, 0x9F1E, 0x9F1F, 0x9F20, 0x9F21, 0x9F22, 0x9F23, 0x9F26, 0x9F27,
        0x9F2D, 0x9F2E, 0x9F2F, 0x9F32, 0x9F33, 0x9F34, 0x9F35, 0x9F36, 0x9F37, 0x9F38, 0x9F39,
        0x9F3A, 0x9F3B, 0x9F3C, 0x9F3D, 0x9F40, 0x9F41, 0x9F42, 0x9F43, 0x9F44, 0x9F45, 0x9F46,
        0x9F47, 0x9F48, 0x9F49, 0x9F4A, 0x9F4B, 0x9F4C, 0x9F4D, 0x9F4E, 0x9F4F, 0xA5, 0xBF0C,
    ];
    for &packed in annex_a1 {
        assert!(
            tags::lookup(Tag::new(packed)).is_some(),
            "{packed:X} missing"
        );
    }
}

#[test]
fn pboc_tags_have_the_digest_formats() {
    use Format::{An, B, N};
    let expected: &[(Tag, Format, Length)] = &[
        (tags::EC_BALANCE, N, Length::Fixed(6)),
        (tags::EC_BALANCE_LIMIT, N, Length::Fixed(6)),
        (tags::EC_SINGLE_TRANSACTION_LIMIT, N, Length::Fixed(6)),
        (tags::EC_RESET_THRESHOLD, N, Length::Fixed(6)),
        (tags::EC_ISSUER_AUTHORISATION_CODE, An, Length::Fixed(6)),
        (tags::EC_TERMINAL_SUPPORT_INDICATOR, B, Length::Fixed(1)),
        (tags::EC_TERMINAL_TRANSACTION_LIMIT, N, Length::Fixed(6)),
        (tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT, N, Length::Fixed(6)),
        (tags::CARD_ADDITIONAL_PROCESSES, B, Length::Fixed(4)),
        (tags::CARD_CVM_LIMIT, N, Length::Fixed(6)),
        (tags::CTQ, B, Length::Fixed(2)),
        (tags::TTQ, B, Length::Fixed(4)),
        (tags::PBOC_APPLICATION_CURRENCY_CODE, N, Length::Fixed(2)),
        (tags::CTTA_LIMIT, N, Length::Fixed(6)),
        (tags::CTTA_UPPER_LIMIT, N, Length::Fixed(6)),
        (
            tags::PRODUCT_IDENTIFICATION_INFORMATION,
            B,
            Length::Fixed(16),
        ),
        (tags::LOG_ENTRY, B, Length::Fixed(2)),
        (tags::LOAD_LOG_ENTRY, B, Length::Fixed(2)),
        (tags::CAPP_TRANSACTION_INDICATOR, B, Length::Fixed(1)),
        (tags::SEGMENTED_FEE_APPLICATION_ID, B, Length::Fixed(1)),
        (tags::SEGMENTED_FEE_DEDUCTION_LIMIT, N, Length::Fixed(6)),
        (tags::SEGMENTED_FEE_DEDUCTED_AMOUNT, N, Length::Fixed(6)),
        (tags::SM_ALGORITHM_SUPPORT_INDICATOR, B, Length::Fixed(1)),
        (tags::CONTACTLESS_OFFLINE_FLOOR_LIMIT, N, Length::Fixed(6)),
        (tags::CONTACTLESS_TRANSACTION_LIMIT, N, Length::Fixed(6)),
        (tags::CONTACTLESS_CVM_LIMIT, N, Length::Fixed(6)),
        (tags::CAPK_CHECKSUM, B, Length::Fixed(20)),
        (tags::CA_PUBLIC_KEY_INDEX_TERMINAL, B, Length::Fixed(1)),
    ];
    for &(tag, format, length) in expected {
        let info = tags::lookup(tag).expect("PBOC tag present");
        assert_eq!((info.format, info.length), (format, length), "{tag}");
    }
    for packed in [
        0x9F69, 0x9F4F, 0xDF4F, 0x9F06, 0xDF02, 0xDF04, 0xDF05, 0xDF06, 0xDF07, 0xDF71, 0xDF72,
        0xDF76, 0xDF77, 0xDF78, 0xDF79,
    ] {
        assert!(
            tags::lookup(Tag::new(packed)).is_some(),
            "{packed:X} missing"
        );
    }
    // Vendor conventions and unverified facts say so.
    for tag in [
        tags::CONTACTLESS_OFFLINE_FLOOR_LIMIT,
        tags::CONTACTLESS_TRANSACTION_LIMIT,
        tags::CONTACTLESS_CVM_LIMIT,
    ] {
        let info = tags::lookup(tag).expect("present");
        assert_eq!(info.source, Source::PosVendor);
        assert!(info.notes.contains('⚠'), "{tag}");
    }
    assert_eq!(
        tags::lookup(tags::EC_BALANCE).map(|i| i.source),
        Some(Source::Pboc)
    );
}

#[test]
fn named_constants_are_all_in_the_dictionary() {
    let constants = [
        tags::FCI_TEMPLATE,
        tags::DF_NAME,
        tags::FCI_PROPRIETARY_TEMPLATE,
        tags::FCI_ISSUER_DISCRETIONARY_DATA,
        tags::APPLICATION_TEMPLATE,
        tags::AID,
        tags::APPLICATION_LABEL,
        tags::APPLICATION_PRIORITY_INDICATOR,
        tags::SFI,
        tags::DDF_NAME,
        tags::DIRECTORY_DISCRETIONARY_TEMPLATE,
        tags::LANGUAGE_PREFERENCE,
        tags::ISSUER_CODE_TABLE_INDEX,
        tags::APPLICATION_PREFERRED_NAME,
        tags::PDOL,
        tags::KERNEL_IDENTIFIER,
        tags::EXTENDED_SELECTION,
        tags::ASRPD,
        tags::AID_TERMINAL,
        tags::IIN,
        tags::IINE,
        tags::ISSUER_URL,
        tags::IBAN,
        tags::BIC,
        tags::ISSUER_COUNTRY_CODE_ALPHA2,
        tags::ISSUER_COUNTRY_CODE_ALPHA3,
        tags::RECORD_TEMPLATE,
        tags::RESPONSE_TEMPLATE_FORMAT_2,
        tags::RESPONSE_TEMPLATE_FORMAT_1,
        tags::COMMAND_TEMPLATE,
        tags::AIP,
        tags::AFL,
        tags::PAN,
        tags::PAN_SEQUENCE_NUMBER,
        tags::TRACK2_EQUIVALENT_DATA,
        tags::TRACK1_DATA,
        tags::TRACK1_DISCRETIONARY_DATA,
        tags::TRACK2_DISCRETIONARY_DATA,
        tags::CARDHOLDER_NAME,
        tags::CARDHOLDER_NAME_EXTENDED,
        tags::APPLICATION_EXPIRATION_DATE,
        tags::APPLICATION_EFFECTIVE_DATE,
        tags::ISSUER_COUNTRY_CODE,
        tags::SERVICE_CODE,
        tags::APPLICATION_USAGE_CONTROL,
        tags::APPLICATION_VERSION_NUMBER_CARD,
        tags::APPLICATION_DISCRETIONARY_DATA,
        tags::APPLICATION_CURRENCY_CODE,
        tags::APPLICATION_CURRENCY_EXPONENT,
        tags::APPLICATION_REFERENCE_CURRENCY,
        tags::APPLICATION_REFERENCE_CURRENCY_EXPONENT,
        tags::PAYMENT_ACCOUNT_REFERENCE,
        tags::TOKEN_REQUESTOR_ID,
        tags::LAST_4_DIGITS_OF_PAN,
        tags::CDOL1,
        tags::CDOL2,
        tags::TDOL,
        tags::DDOL,
        tags::CA_PUBLIC_KEY_INDEX,
        tags::CA_PUBLIC_KEY_INDEX_TERMINAL,
        tags::ISSUER_PUBLIC_KEY_CERTIFICATE,
        tags::ISSUER_PUBLIC_KEY_REMAINDER,
        tags::ISSUER_PUBLIC_KEY_EXPONENT,
        tags::SIGNED_STATIC_APPLICATION_DATA,
        tags::ICC_PUBLIC_KEY_CERTIFICATE,
        tags::ICC_PUBLIC_KEY_EXPONENT,
        tags::ICC_PUBLIC_KEY_REMAINDER,
        tags::SDA_TAG_LIST,
        tags::SIGNED_DYNAMIC_APPLICATION_DATA,
        tags::ICC_DYNAMIC_NUMBER,
        tags::DATA_AUTHENTICATION_CODE,
        tags::ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_CERTIFICATE,
        tags::ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_EXPONENT,
        tags::ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_REMAINDER,
        tags::CVM_LIST,
        tags::CVM_RESULTS,
        tags::PIN_TRY_COUNTER,
        tags::TRANSACTION_PIN_DATA,
        tags::AMOUNT_AUTHORISED,
        tags::AMOUNT_OTHER,
        tags::AMOUNT_AUTHORISED_BINARY,
        tags::AMOUNT_OTHER_BINARY,
        tags::AMOUNT_REFERENCE_CURRENCY,
        tags::TRANSACTION_CURRENCY_CODE,
        tags::TRANSACTION_CURRENCY_EXPONENT,
        tags::TRANSACTION_REFERENCE_CURRENCY_CODE,
        tags::TRANSACTION_REFERENCE_CURRENCY_EXPONENT,
        tags::TRANSACTION_DATE,
        tags::TRANSACTION_TIME,
        tags::TRANSACTION_TYPE,
        tags::UNPREDICTABLE_NUMBER,
        tags::TRANSACTION_SEQUENCE_COUNTER,
        tags::ACQUIRER_IDENTIFIER,
        tags::MERCHANT_CATEGORY_CODE,
        tags::MERCHANT_IDENTIFIER,
        tags::MERCHANT_NAME_AND_LOCATION,
        tags::TERMINAL_COUNTRY_CODE,
        tags::TERMINAL_FLOOR_LIMIT,
        tags::TERMINAL_IDENTIFICATION,
        tags::TERMINAL_RISK_MANAGEMENT_DATA,
        tags::IFD_SERIAL_NUMBER,
        tags::TERMINAL_CAPABILITIES,
        tags::ADDITIONAL_TERMINAL_CAPABILITIES,
        tags::TERMINAL_TYPE,
        tags::POS_ENTRY_MODE,
        tags::APPLICATION_VERSION_NUMBER_TERMINAL,
        tags::TVR,
        tags::TSI,
        tags::IAC_DEFAULT,
        tags::IAC_DENIAL,
        tags::IAC_ONLINE,
        tags::LAST_ONLINE_ATC_REGISTER,
        tags::LOWER_CONSECUTIVE_OFFLINE_LIMIT,
        tags::UPPER_CONSECUTIVE_OFFLINE_LIMIT,
        tags::LOG_ENTRY,
        tags::LOG_FORMAT,
        tags::APPLICATION_CRYPTOGRAM,
        tags::CID,
        tags::ATC,
        tags::ISSUER_APPLICATION_DATA,
        tags::AUTHORISATION_CODE,
        tags::AUTHORISATION_RESPONSE_CODE,
        tags::ISSUER_AUTHENTICATION_DATA,
        tags::ISSUER_SCRIPT_TEMPLATE_1,
        tags::ISSUER_SCRIPT_TEMPLATE_2,
        tags::ISSUER_SCRIPT_COMMAND,
        tags::ISSUER_SCRIPT_IDENTIFIER,
        tags::TC_HASH_VALUE,
        tags::TTQ,
        tags::CTQ,
        tags::CARD_AUTHENTICATION_RELATED_DATA,
        tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT,
        tags::FORM_FACTOR_INDICATOR,
        tags::CUSTOMER_EXCLUSIVE_DATA,
        tags::EC_BALANCE,
        tags::EC_BALANCE_LIMIT,
        tags::EC_SINGLE_TRANSACTION_LIMIT,
        tags::EC_RESET_THRESHOLD,
        tags::EC_ISSUER_AUTHORISATION_CODE,
        tags::EC_TERMINAL_SUPPORT_INDICATOR,
        tags::EC_TERMINAL_TRANSACTION_LIMIT,
        tags::CARD_ADDITIONAL_PROCESSES,
        tags::CARD_CVM_LIMIT,
        tags::PBOC_APPLICATION_CURRENCY_CODE,
        tags::CTTA_LIMIT,
        tags::CTTA_UPPER_LIMIT,
        tags::PRODUCT_IDENTIFICATION_INFORMATION,
        tags::CARDHOLDER_ID_NUMBER,
        tags::CARDHOLDER_ID_TYPE,
        tags::LOAD_LOG_ENTRY,
        tags::LOAD_LOG_FORMAT,
        tags::SM_ALGORITHM_SUPPORT_INDICATOR,
        tags::CAPP_TRANSACTION_INDICATOR,
        tags::SEGMENTED_FEE_APPLICATION_ID,
        tags::SEGMENTED_FEE_DEDUCTION_LIMIT,
        tags::SEGMENTED_FEE_DEDUCTED_AMOUNT,
        tags::EC_SECOND_CURRENCY_DF71,
        tags::EC_SECOND_CURRENCY_DF72,
        tags::EC_SECOND_CURRENCY_DF76,
        tags::EC_SECOND_CURRENCY_DF77,
        tags::EC_SECOND_CURRENCY_DF78,
        tags::EC_SECOND_CURRENCY_DF79,
        tags::CAPK_MODULUS,
        tags::CAPK_CHECKSUM,
        tags::CAPK_EXPONENT,
        tags::CAPK_EXPIRY_DATE,
        tags::CAPK_HASH_ALGORITHM_INDICATOR,
        tags::CAPK_ALGORITHM_INDICATOR,
        tags::CONTACTLESS_OFFLINE_FLOOR_LIMIT,
        tags::CONTACTLESS_TRANSACTION_LIMIT,
        tags::CONTACTLESS_CVM_LIMIT,
        tags::ISSUER_SCRIPT_RESULTS,
        tags::APPLICATION_PROGRAM_ID,
    ];
    for tag in constants {
        assert!(tags::lookup(tag).is_some(), "{tag} has no dictionary entry");
    }
    // One constant per entry: no entry without a name in code.
    assert_eq!(constants.len(), DICTIONARY.len());
}

#[test]
fn sensitive_flags() {
    for tag in [
        tags::PAN,
        tags::TRACK2_EQUIVALENT_DATA,
        tags::TRACK1_DATA,
        tags::TRACK1_DISCRETIONARY_DATA,
        tags::TRACK2_DISCRETIONARY_DATA,
        tags::CARDHOLDER_NAME,
        tags::CARDHOLDER_NAME_EXTENDED,
        tags::TRANSACTION_PIN_DATA,
        tags::CARD_CVM_LIMIT,
        tags::CARDHOLDER_ID_NUMBER,
    ] {
        assert!(tags::is_sensitive(tag), "{tag}");
    }
    for tag in [
        tags::AMOUNT_AUTHORISED,
        tags::AID,
        tags::TVR,
        tags::EC_BALANCE,
    ] {
        assert!(!tags::is_sensitive(tag), "{tag}");
    }
    assert!(!tags::is_sensitive(Tag::new(0xDF8F4F)));
}

#[test]
fn ppse_dump_names_and_decodes() {
    let text = dump(&bytes(PPSE));
    for needle in [
        "6F File Control Information (FCI) Template [48]",
        "  84 Dedicated File (DF) Name [14]: 325041592E5359532E4444463031 \"2PAY.SYS.DDF01\"",
        "    BF0C File Control Information (FCI) Issuer Discretionary Data [27]",
        "        4F Application Identifier (AID) - card [8]: A000000333010101",
        "        50 Application Label [10]: \"PBOC DEBIT\"",
        "        87 Application Priority Indicator [1]: 01",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert_eq!(text.lines().count(), 8);
    assert_eq!(Dump::new(&bytes(PPSE)).to_string(), text);
}

#[test]
fn gpo_response_decodes_formats() {
    // qPBOC ARQC response from the QK trace (pboc-notes §2.4), with track 2 shortened and the
    // cryptogram made up.
    let mut body = Vec::new();
    tlv::encode(tags::AIP, &bytes("7C00"), &mut body);
    tlv::encode(tags::ATC, &bytes("0ADC"), &mut body);
    tlv::encode(tags::PAN_SEQUENCE_NUMBER, &bytes("00"), &mut body);
    tlv::encode(tags::CTQ, &bytes("0000"), &mut body);
    tlv::encode(
        tags::AVAILABLE_OFFLINE_SPENDING_AMOUNT,
        &bytes("000000038787"),
        &mut body,
    );
    tlv::encode(tags::EC_ISSUER_AUTHORISATION_CODE, b"ECC001", &mut body);
    tlv::encode(
        tags::APPLICATION_EXPIRATION_DATE,
        &bytes("251231"),
        &mut body,
    );
    tlv::encode(Tag::new(0xDF8F4F), &bytes("0102"), &mut body);
    let gpo = tlv::encoded(tags::RESPONSE_TEMPLATE_FORMAT_2, &body);
    let text = dump(&gpo);
    for needle in [
        "77 Response Message Template Format 2 [",
        "  82 Application Interchange Profile (AIP) [2]: 7C00",
        "  9F36 Application Transaction Counter (ATC) [2]: 0ADC",
        "  5F34 Application PAN Sequence Number [1]: 00",
        "  9F5D Available Offline Spending Amount [6]: 000000038787",
        "  9F74 EC Issuer Authorisation Code [6]: \"ECC001\"",
        "  5F24 Application Expiration Date [3]: 251231",
        "  DF8F4F unknown [2]: 0102",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn sensitive_values_are_masked() {
    let pan = "6234567890123456";
    let track2 = "6234567890123456D25122011234567890123F";
    let mut record = Vec::new();
    tlv::encode(tags::PAN, &bytes(pan), &mut record);
    tlv::encode(tags::TRACK2_EQUIVALENT_DATA, &bytes(track2), &mut record);
    tlv::encode(tags::CARDHOLDER_NAME, b"ZHANG/SAN", &mut record);
    tlv::encode(
        tags::TRANSACTION_PIN_DATA,
        &bytes("0412AC89ABCDEF67"),
        &mut record,
    );
    tlv::encode(
        tags::TRACK2_DISCRETIONARY_DATA,
        &bytes("1234567890"),
        &mut record,
    );
    // A 19-digit PAN, F-padded.
    tlv::encode(tags::PAN, &bytes("6234567890123456789F"), &mut record);
    let text = dump(&tlv::encoded(tags::RECORD_TEMPLATE, &record));
    assert!(!text.contains(pan), "{text}");
    assert!(!text.contains("6234567890123456789"), "{text}");
    assert!(
        !text.contains("2512201"),
        "track 2 expiry/discretionary data shown:\n{text}"
    );
    assert!(!text.contains("ZHANG"), "{text}");
    assert!(!text.contains("0412AC89"), "{text}");
    assert!(!text.contains("1234567890"), "{text}");
    assert!(text.contains("  5A Application Primary Account Number (PAN) [8]: 623456******3456"));
    assert!(text.contains("  57 Track 2 Equivalent Data [19]: 623456******3456 ("));
    assert!(text.contains("  5F20 Cardholder Name [9]: <9 bytes hidden>"));
    assert!(text.contains("  99 Transaction PIN Data [8]: <8 bytes hidden>"));
    assert!(text.contains(": 623456*********6789"), "{text}");
}

#[test]
fn malformed_buffer_dumps_what_parsed_then_the_error() {
    // Second object claims 3 bytes but only 1 follows.
    let text = dump(&bytes("9F02060000000010009F360301"));
    assert_eq!(
        text,
        "9F02 Amount, Authorised (Numeric) [6]: 000000001000\n\
         error: malformed TLV at offset 9: TruncatedValue\n"
    );
    // An error inside a template is reported at the template's depth, with the outer offset,
    // and the objects after the template still dump.
    let text = dump(&bytes("6F05A5038802019F360101"));
    assert!(text.contains("  A5 File Control Information (FCI) Proprietary Template [3]\n    error: malformed TLV at offset 4: TruncatedValue\n"), "{text}");
    assert!(
        text.ends_with("9F36 Application Transaction Counter (ATC) [1]: 01\n"),
        "{text}"
    );
}

#[test]
fn odd_values_fall_back_to_hex_or_escapes() {
    let text = dump(&bytes("9F02060000000A10005004414200FF5F2A00"));
    assert!(
        text.contains("9F02 Amount, Authorised (Numeric) [6]: 0000000A1000 (not BCD)"),
        "{text}"
    );
    assert!(
        text.contains("50 Application Label [4]: \"AB\\x00\\xFF\""),
        "{text}"
    );
    assert!(
        text.contains("5F2A Transaction Currency Code [0]: (empty)"),
        "{text}"
    );
    assert_eq!(dump(&[]), "(no data objects)\n");
    assert_eq!(dump(&[0x00, 0xFF, 0x00]), "(no data objects)\n");
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut object = tlv::encoded(tags::PAN, &bytes("6234567890123456"));
    for _ in 0..10_000 {
        object = tlv::encoded(tags::RECORD_TEMPLATE, &object);
    }
    let text = dump(&object);
    assert_eq!(text.lines().count(), MAX_DEPTH);
    assert!(
        text.contains("not shown: nesting deeper than"),
        "{}",
        text.lines().last().unwrap_or("")
    );
    assert!(!text.contains("6234567890123456"));
}

proptest! {
    #[test]
    fn dump_never_panics(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = dump(&input);
        prop_assert!(text.ends_with('\n'));
    }

    #[test]
    fn dump_never_panics_on_tlv_shaped_input(
        objects in proptest::collection::vec(
            (prop::sample::select(DICTIONARY.iter().map(|i| i.tag).collect::<Vec<_>>()),
             proptest::collection::vec(any::<u8>(), 0..40)),
            0..12,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buffer = Vec::new();
        for (tag, value) in &objects {
            tlv::encode(*tag, value, &mut buffer);
        }
        let text = dump(&buffer);
        prop_assert!(text.ends_with('\n'));
        if !buffer.is_empty() {
            let cut = cut.index(buffer.len());
            let _ = dump(&buffer[..cut]);
        }
    }

    #[test]
    fn a_pan_never_appears_in_full(digits in "[0-9]{13,19}") {
        let mut value = digits.clone();
        if value.len() % 2 == 1 {
            value.push('F');
        }
        let mut record = tlv::encoded(tags::PAN, &bytes(&value));
        let track2 = format!("{digits}D2512201{}", if digits.len() % 2 == 0 { "" } else { "F" });
        tlv::encode(tags::TRACK2_EQUIVALENT_DATA, &bytes(&track2), &mut record);
        let text = dump(&tlv::encoded(tags::RECORD_TEMPLATE, &record));
        prop_assert!(!text.contains(&digits), "{}", text);
    }
}
