//! The tag dictionary: name, format, length, source and sensitivity of every data element the
//! kernel knows (EMV Book 3 Annex A, EMV contactless Books A–C, JR/T 0025 PBOC 3.0 and the
//! UnionPay/Chinese POS conventions).
//!
//! One table serves the parsers (the DOL builder pads a value by its [`Format`]), the
//! human-readable dumps ([`crate::dump`]) and anything that must decide whether a value may be
//! shown ([`TagInfo::sensitive`]).
//!
//! The tag type itself ([`Tag`], its encoding [`TagBytes`] and [`TagClass`], the value
//! [`Format`]s and the parse errors) is re-exported here; [`Tag`] and [`Format`] also from the
//! crate root.
//!
//! Where a fact comes from the project's PBOC digest (`docs/pboc-notes.md`) rather than from
//! an EMV book, [`TagInfo::notes`] names the digest's source keys (`"BT, TAG"`, …) and carries a
//! ⚠ when the digest marks the fact unverified. Some contactless tags mean different things in
//! different kernels (`9F6B`, `9F6D`, `9F63`, `9F5D`, `9F69`, `9F6E`, `9F7C`); this dictionary
//! gives the PBOC / UnionPay (kernel 7) meaning and says so in the notes.
//!
//! ```
//! use quickpass_kernel::tags::{self, Format, Length};
//!
//! let info = tags::lookup(tags::EC_BALANCE).unwrap();
//! assert_eq!(info.name, "Electronic Cash (EC) Balance");
//! assert_eq!((info.format, info.length), (Format::N, Length::Fixed(6)));
//! assert!(tags::lookup(tags::PAN).unwrap().sensitive);
//! assert_eq!(tags::format_of(quickpass_kernel::Tag::new(0xDF8F4F)), Format::B);
//! ```

pub use crate::tag::{Format, Tag, TagBytes, TagClass, TagError, TagParseError};
use Format::{An, Ans, Cn, Template, A, B, N};

/// The allowed length of a data element's value, in bytes (EMV Book 3 Annex A "Length" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Length {
    /// Exactly this many bytes.
    Fixed(usize),
    /// From `min` to `max` bytes inclusive (`var. up to N` is `Range(0, N)`).
    Range(usize, usize),
    /// Variable with no fixed bound in the dictionary (e.g. a certificate whose length is the
    /// length of a key modulus, or a proprietary object of unknown size).
    Var,
}

impl Length {
    /// True when a value of `len` bytes fits this length rule.
    pub const fn allows(self, len: usize) -> bool {
        match self {
            Length::Fixed(n) => len == n,
            Length::Range(min, max) => min <= len && len <= max,
            Length::Var => true,
        }
    }
}

/// Which specification (or convention) defines a data element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// EMV 4.x Book 1 (application selection).
    EmvBook1,
    /// EMV 4.x Book 2 (security and key management).
    EmvBook2,
    /// EMV 4.x Book 3 Annex A (application specification data elements).
    EmvBook3,
    /// EMV contactless Book A (architecture and general requirements, e.g. TTQ).
    EmvBookA,
    /// EMV contactless Book B (entry point, e.g. kernel identifier).
    EmvBookB,
    /// EMV contactless Book C (kernel specifications C-1 … C-7).
    EmvBookC,
    /// ISO/IEC 7816-4 / 7816-6 interindustry data objects.
    Iso7816,
    /// JR/T 0025 (PBOC 3.0), the People's Bank of China IC card specification.
    Pboc,
    /// UnionPay kernel 7 / QuickPass conventions beyond JR/T 0025.
    UnionPay,
    /// Visa (VIS / VCPS) definitions.
    Visa,
    /// Mastercard (M/Chip, Book C-2) definitions.
    Mastercard,
    /// A convention of Chinese POS terminal SDKs for parameter files, not a card standard.
    PosVendor,
}

/// Everything the dictionary knows about one data element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagInfo {
    /// The tag.
    pub tag: Tag,
    /// The data element's name, as the defining specification spells it.
    pub name: &'static str,
    /// The value's format (decides DOL padding and how dumps decode it).
    pub format: Format,
    /// The allowed value length in bytes.
    pub length: Length,
    /// The specification that defines the element.
    pub source: Source,
    /// True when the value identifies the cardholder or account (PAN, track data, name, PIN
    /// block, …): dumps and logs must mask or hide it.
    pub sensitive: bool,
    /// Source keys from `docs/pboc-notes.md` §0 (e.g. `"BT, TAG"`) and caveats; a ⚠ marks a
    /// fact the digest could not verify. Empty for plain EMV book facts.
    pub notes: &'static str,
}

impl TagInfo {
    /// A new, non-sensitive entry without notes.
    const fn new(
        tag: Tag,
        name: &'static str,
        format: Format,
        length: Length,
        source: Source,
    ) -> Self {
        TagInfo {
            tag,
            name,
            format,
            length,
            source,
            sensitive: false,
            notes: "",
        }
    }

    /// The same entry, marked sensitive.
    const fn hidden(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// The same entry, with notes.
    const fn per(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }

    /// True when a value of `len` bytes has an allowed length for this element.
    pub const fn allows_length(&self, len: usize) -> bool {
        self.length.allows(len)
    }
}

// ---------------------------------------------------------------------------------------------
// Named tags, grouped by the part of the specifications that uses them.
// ---------------------------------------------------------------------------------------------

// Application selection: PSE / PPSE / FCI (EMV Book 1 §11–12, Book B, pboc-notes §1).

/// `6F` File Control Information (FCI) Template (Book 1 §11.3).
pub const FCI_TEMPLATE: Tag = Tag::new(0x6F);
/// `84` Dedicated File (DF) Name.
pub const DF_NAME: Tag = Tag::new(0x84);
/// `A5` FCI Proprietary Template.
pub const FCI_PROPRIETARY_TEMPLATE: Tag = Tag::new(0xA5);
/// `BF0C` FCI Issuer Discretionary Data (holds the PPSE directory entries).
pub const FCI_ISSUER_DISCRETIONARY_DATA: Tag = Tag::new(0xBF0C);
/// `61` Application Template (one directory entry).
pub const APPLICATION_TEMPLATE: Tag = Tag::new(0x61);
/// `4F` Application Identifier (AID) – card (ADF Name).
pub const AID: Tag = Tag::new(0x4F);
/// `50` Application Label.
pub const APPLICATION_LABEL: Tag = Tag::new(0x50);
/// `87` Application Priority Indicator.
pub const APPLICATION_PRIORITY_INDICATOR: Tag = Tag::new(0x87);
/// `88` Short File Identifier (SFI) of the PSE directory.
pub const SFI: Tag = Tag::new(0x88);
/// `9D` Directory Definition File (DDF) Name.
pub const DDF_NAME: Tag = Tag::new(0x9D);
/// `73` Directory Discretionary Template.
pub const DIRECTORY_DISCRETIONARY_TEMPLATE: Tag = Tag::new(0x73);
/// `5F2D` Language Preference.
pub const LANGUAGE_PREFERENCE: Tag = Tag::new(0x5F2D);
/// `9F11` Issuer Code Table Index.
pub const ISSUER_CODE_TABLE_INDEX: Tag = Tag::new(0x9F11);
/// `9F12` Application Preferred Name.
pub const APPLICATION_PREFERRED_NAME: Tag = Tag::new(0x9F12);
/// `9F38` Processing Options Data Object List (PDOL).
pub const PDOL: Tag = Tag::new(0x9F38);
/// `9F2A` Kernel Identifier (EMV Book B; UnionPay is kernel 7).
pub const KERNEL_IDENTIFIER: Tag = Tag::new(0x9F2A);
/// `9F29` Extended Selection (EMV Book B).
pub const EXTENDED_SELECTION: Tag = Tag::new(0x9F29);
/// `9F0A` Application Selection Registered Proprietary Data (EMV Book 1).
pub const ASRPD: Tag = Tag::new(0x9F0A);
/// `9F06` Application Identifier (AID) – terminal; also the RID in CAPK parameter sets.
pub const AID_TERMINAL: Tag = Tag::new(0x9F06);
/// `42` Issuer Identification Number (IIN).
pub const IIN: Tag = Tag::new(0x42);
/// `9F0C` Issuer Identification Number Extended (IINE).
pub const IINE: Tag = Tag::new(0x9F0C);
/// `5F50` Issuer URL.
pub const ISSUER_URL: Tag = Tag::new(0x5F50);
/// `5F53` International Bank Account Number (IBAN).
pub const IBAN: Tag = Tag::new(0x5F53);
/// `5F54` Bank Identifier Code (BIC).
pub const BIC: Tag = Tag::new(0x5F54);
/// `5F55` Issuer Country Code (alpha2 format).
pub const ISSUER_COUNTRY_CODE_ALPHA2: Tag = Tag::new(0x5F55);
/// `5F56` Issuer Country Code (alpha3 format).
pub const ISSUER_COUNTRY_CODE_ALPHA3: Tag = Tag::new(0x5F56);

// Response templates and initiation (Book 3 §6.5, §10.1).

/// `70` READ RECORD Response Message Template (EMV proprietary template).
pub const RECORD_TEMPLATE: Tag = Tag::new(0x70);
/// `77` Response Message Template Format 2.
pub const RESPONSE_TEMPLATE_FORMAT_2: Tag = Tag::new(0x77);
/// `80` Response Message Template Format 1.
pub const RESPONSE_TEMPLATE_FORMAT_1: Tag = Tag::new(0x80);
/// `83` Command Template (GET PROCESSING OPTIONS data).
pub const COMMAND_TEMPLATE: Tag = Tag::new(0x83);
/// `82` Application Interchange Profile (AIP).
pub const AIP: Tag = Tag::new(0x82);
/// `94` Application File Locator (AFL).
pub const AFL: Tag = Tag::new(0x94);

// Card data read from records (Book 3 §10.2).

/// `5A` Application Primary Account Number (PAN). Sensitive.
pub const PAN: Tag = Tag::new(0x5A);
/// `5F34` Application PAN Sequence Number.
pub const PAN_SEQUENCE_NUMBER: Tag = Tag::new(0x5F34);
/// `57` Track 2 Equivalent Data. Sensitive.
pub const TRACK2_EQUIVALENT_DATA: Tag = Tag::new(0x57);
/// `56` Track 1 Data (EMV Book C-2). Sensitive.
pub const TRACK1_DATA: Tag = Tag::new(0x56);
/// `9F1F` Track 1 Discretionary Data. Sensitive.
pub const TRACK1_DISCRETIONARY_DATA: Tag = Tag::new(0x9F1F);
/// `9F20` Track 2 Discretionary Data. Sensitive.
pub const TRACK2_DISCRETIONARY_DATA: Tag = Tag::new(0x9F20);
/// `5F20` Cardholder Name. Sensitive.
pub const CARDHOLDER_NAME: Tag = Tag::new(0x5F20);
/// `9F0B` Cardholder Name Extended. Sensitive.
pub const CARDHOLDER_NAME_EXTENDED: Tag = Tag::new(0x9F0B);
/// `5F24` Application Expiration Date (YYMMDD).
pub const APPLICATION_EXPIRATION_DATE: Tag = Tag::new(0x5F24);
/// `5F25` Application Effective Date (YYMMDD).
pub const APPLICATION_EFFECTIVE_DATE: Tag = Tag::new(0x5F25);
/// `5F28` Issuer Country Code.
pub const ISSUER_COUNTRY_CODE: Tag = Tag::new(0x5F28);
/// `5F30` Service Code.
pub const SERVICE_CODE: Tag = Tag::new(0x5F30);
/// `9F07` Application Usage Control (AUC).
pub const APPLICATION_USAGE_CONTROL: Tag = Tag::new(0x9F07);
/// `9F08` Application Version Number – card.
pub const APPLICATION_VERSION_NUMBER_CARD: Tag = Tag::new(0x9F08);
/// `9F05` Application Discretionary Data.
pub const APPLICATION_DISCRETIONARY_DATA: Tag = Tag::new(0x9F05);
/// `9F42` Application Currency Code.
pub const APPLICATION_CURRENCY_CODE: Tag = Tag::new(0x9F42);
/// `9F44` Application Currency Exponent.
pub const APPLICATION_CURRENCY_EXPONENT: Tag = Tag::new(0x9F44);
/// `9F3B` Application Reference Currency.
pub const APPLICATION_REFERENCE_CURRENCY: Tag = Tag::new(0x9F3B);
/// `9F43` Application Reference Currency Exponent.
pub const APPLICATION_REFERENCE_CURRENCY_EXPONENT: Tag = Tag::new(0x9F43);
/// `9F24` Payment Account Reference (PAR).
pub const PAYMENT_ACCOUNT_REFERENCE: Tag = Tag::new(0x9F24);
/// `9F19` Token Requestor ID.
pub const TOKEN_REQUESTOR_ID: Tag = Tag::new(0x9F19);
/// `9F25` Last 4 Digits of PAN.
pub const LAST_4_DIGITS_OF_PAN: Tag = Tag::new(0x9F25);

// Data object lists (Book 3 §5.4).

/// `8C` Card Risk Management Data Object List 1 (CDOL1).
pub const CDOL1: Tag = Tag::new(0x8C);
/// `8D` Card Risk Management Data Object List 2 (CDOL2).
pub const CDOL2: Tag = Tag::new(0x8D);
/// `97` Transaction Certificate Data Object List (TDOL).
pub const TDOL: Tag = Tag::new(0x97);
/// `9F49` Dynamic Data Authentication Data Object List (DDOL).
pub const DDOL: Tag = Tag::new(0x9F49);

// Offline data authentication (Book 2, Book 3 §10.3, pboc-notes §3.1).

/// `8F` Certification Authority Public Key Index – card.
pub const CA_PUBLIC_KEY_INDEX: Tag = Tag::new(0x8F);
/// `9F22` Certification Authority Public Key Index – terminal.
pub const CA_PUBLIC_KEY_INDEX_TERMINAL: Tag = Tag::new(0x9F22);
/// `90` Issuer Public Key Certificate.
pub const ISSUER_PUBLIC_KEY_CERTIFICATE: Tag = Tag::new(0x90);
/// `92` Issuer Public Key Remainder.
pub const ISSUER_PUBLIC_KEY_REMAINDER: Tag = Tag::new(0x92);
/// `9F32` Issuer Public Key Exponent.
pub const ISSUER_PUBLIC_KEY_EXPONENT: Tag = Tag::new(0x9F32);
/// `93` Signed Static Application Data (SSAD).
pub const SIGNED_STATIC_APPLICATION_DATA: Tag = Tag::new(0x93);
/// `9F46` ICC Public Key Certificate.
pub const ICC_PUBLIC_KEY_CERTIFICATE: Tag = Tag::new(0x9F46);
/// `9F47` ICC Public Key Exponent.
pub const ICC_PUBLIC_KEY_EXPONENT: Tag = Tag::new(0x9F47);
/// `9F48` ICC Public Key Remainder.
pub const ICC_PUBLIC_KEY_REMAINDER: Tag = Tag::new(0x9F48);
/// `9F4A` Static Data Authentication Tag List.
pub const SDA_TAG_LIST: Tag = Tag::new(0x9F4A);
/// `9F4B` Signed Dynamic Application Data (SDAD).
pub const SIGNED_DYNAMIC_APPLICATION_DATA: Tag = Tag::new(0x9F4B);
/// `9F4C` ICC Dynamic Number.
pub const ICC_DYNAMIC_NUMBER: Tag = Tag::new(0x9F4C);
/// `9F45` Data Authentication Code.
pub const DATA_AUTHENTICATION_CODE: Tag = Tag::new(0x9F45);
/// `9F2D` ICC PIN Encipherment Public Key Certificate.
pub const ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_CERTIFICATE: Tag = Tag::new(0x9F2D);
/// `9F2E` ICC PIN Encipherment Public Key Exponent.
pub const ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_EXPONENT: Tag = Tag::new(0x9F2E);
/// `9F2F` ICC PIN Encipherment Public Key Remainder.
pub const ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_REMAINDER: Tag = Tag::new(0x9F2F);

// Cardholder verification (Book 3 §10.5).

/// `8E` Cardholder Verification Method (CVM) List.
pub const CVM_LIST: Tag = Tag::new(0x8E);
/// `9F34` Cardholder Verification Method (CVM) Results.
pub const CVM_RESULTS: Tag = Tag::new(0x9F34);
/// `9F17` Personal Identification Number (PIN) Try Counter.
pub const PIN_TRY_COUNTER: Tag = Tag::new(0x9F17);
/// `99` Transaction Personal Identification Number (PIN) Data. Sensitive.
pub const TRANSACTION_PIN_DATA: Tag = Tag::new(0x99);

// Transaction data supplied by the terminal (Book 3 Annex A, Book 4).

/// `9F02` Amount, Authorised (Numeric).
pub const AMOUNT_AUTHORISED: Tag = Tag::new(0x9F02);
/// `9F03` Amount, Other (Numeric).
pub const AMOUNT_OTHER: Tag = Tag::new(0x9F03);
/// `81` Amount, Authorised (Binary).
pub const AMOUNT_AUTHORISED_BINARY: Tag = Tag::new(0x81);
/// `9F04` Amount, Other (Binary).
pub const AMOUNT_OTHER_BINARY: Tag = Tag::new(0x9F04);
/// `9F3A` Amount, Reference Currency.
pub const AMOUNT_REFERENCE_CURRENCY: Tag = Tag::new(0x9F3A);
/// `5F2A` Transaction Currency Code.
pub const TRANSACTION_CURRENCY_CODE: Tag = Tag::new(0x5F2A);
/// `5F36` Transaction Currency Exponent.
pub const TRANSACTION_CURRENCY_EXPONENT: Tag = Tag::new(0x5F36);
/// `9F3C` Transaction Reference Currency Code.
pub const TRANSACTION_REFERENCE_CURRENCY_CODE: Tag = Tag::new(0x9F3C);
/// `9F3D` Transaction Reference Currency Exponent.
pub const TRANSACTION_REFERENCE_CURRENCY_EXPONENT: Tag = Tag::new(0x9F3D);
/// `9A` Transaction Date (YYMMDD).
pub const TRANSACTION_DATE: Tag = Tag::new(0x9A);
/// `9F21` Transaction Time (HHMMSS).
pub const TRANSACTION_TIME: Tag = Tag::new(0x9F21);
/// `9C` Transaction Type.
pub const TRANSACTION_TYPE: Tag = Tag::new(0x9C);
/// `9F37` Unpredictable Number.
pub const UNPREDICTABLE_NUMBER: Tag = Tag::new(0x9F37);
/// `9F41` Transaction Sequence Counter.
pub const TRANSACTION_SEQUENCE_COUNTER: Tag = Tag::new(0x9F41);
/// `9F01` Acquirer Identifier.
pub const ACQUIRER_IDENTIFIER: Tag = Tag::new(0x9F01);
/// `9F15` Merchant Category Code.
pub const MERCHANT_CATEGORY_CODE: Tag = Tag::new(0x9F15);
/// `9F16` Merchant Identifier.
pub const MERCHANT_IDENTIFIER: Tag = Tag::new(0x9F16);
/// `9F4E` Merchant Name and Location.
pub const MERCHANT_NAME_AND_LOCATION: Tag = Tag::new(0x9F4E);
/// `9F1A` Terminal Country Code.
pub const TERMINAL_COUNTRY_CODE: Tag = Tag::new(0x9F1A);
/// `9F1B` Terminal Floor Limit.
pub const TERMINAL_FLOOR_LIMIT: Tag = Tag::new(0x9F1B);
/// `9F1C` Terminal Identification.
pub const TERMINAL_IDENTIFICATION: Tag = Tag::new(0x9F1C);
/// `9F1D` Terminal Risk Management Data.
pub const TERMINAL_RISK_MANAGEMENT_DATA: Tag = Tag::new(0x9F1D);
/// `9F1E` Interface Device (IFD) Serial Number.
pub const IFD_SERIAL_NUMBER: Tag = Tag::new(0x9F1E);
/// `9F33` Terminal Capabilities.
pub const TERMINAL_CAPABILITIES: Tag = Tag::new(0x9F33);
/// `9F40` Additional Terminal Capabilities.
pub const ADDITIONAL_TERMINAL_CAPABILITIES: Tag = Tag::new(0x9F40);
/// `9F35` Terminal Type.
pub const TERMINAL_TYPE: Tag = Tag::new(0x9F35);
/// `9F39` Point-of-Service (POS) Entry Mode.
pub const POS_ENTRY_MODE: Tag = Tag::new(0x9F39);
/// `9F09` Application Version Number – terminal.
pub const APPLICATION_VERSION_NUMBER_TERMINAL: Tag = Tag::new(0x9F09);

// Risk management and action analysis (Book 3 §10.6–10.8, pboc-notes §5).

/// `95` Terminal Verification Results (TVR).
pub const TVR: Tag = Tag::new(0x95);
/// `9B` Transaction Status Information (TSI).
pub const TSI: Tag = Tag::new(0x9B);
/// `9F0D` Issuer Action Code – Default.
pub const IAC_DEFAULT: Tag = Tag::new(0x9F0D);
/// `9F0E` Issuer Action Code – Denial.
pub const IAC_DENIAL: Tag = Tag::new(0x9F0E);
/// `9F0F` Issuer Action Code – Online.
pub const IAC_ONLINE: Tag = Tag::new(0x9F0F);
/// `9F13` Last Online Application Transaction Counter (ATC) Register.
pub const LAST_ONLINE_ATC_REGISTER: Tag = Tag::new(0x9F13);
/// `9F14` Lower Consecutive Offline Limit.
pub const LOWER_CONSECUTIVE_OFFLINE_LIMIT: Tag = Tag::new(0x9F14);
/// `9F23` Upper Consecutive Offline Limit.
pub const UPPER_CONSECUTIVE_OFFLINE_LIMIT: Tag = Tag::new(0x9F23);
/// `9F4D` Log Entry (SFI and number of records of the transaction log).
pub const LOG_ENTRY: Tag = Tag::new(0x9F4D);
/// `9F4F` Log Format (a DOL describing each transaction log record).
pub const LOG_FORMAT: Tag = Tag::new(0x9F4F);

// Application cryptograms and issuer processing (Book 2 §8, Book 3 §6.5.5, §10.9–10.10).

/// `9F26` Application Cryptogram.
pub const APPLICATION_CRYPTOGRAM: Tag = Tag::new(0x9F26);
/// `9F27` Cryptogram Information Data (CID).
pub const CID: Tag = Tag::new(0x9F27);
/// `9F36` Application Transaction Counter (ATC).
pub const ATC: Tag = Tag::new(0x9F36);
/// `9F10` Issuer Application Data (IAD).
pub const ISSUER_APPLICATION_DATA: Tag = Tag::new(0x9F10);
/// `89` Authorisation Code.
pub const AUTHORISATION_CODE: Tag = Tag::new(0x89);
/// `8A` Authorisation Response Code.
pub const AUTHORISATION_RESPONSE_CODE: Tag = Tag::new(0x8A);
/// `91` Issuer Authentication Data.
pub const ISSUER_AUTHENTICATION_DATA: Tag = Tag::new(0x91);
/// `71` Issuer Script Template 1.
pub const ISSUER_SCRIPT_TEMPLATE_1: Tag = Tag::new(0x71);
/// `72` Issuer Script Template 2.
pub const ISSUER_SCRIPT_TEMPLATE_2: Tag = Tag::new(0x72);
/// `86` Issuer Script Command.
pub const ISSUER_SCRIPT_COMMAND: Tag = Tag::new(0x86);
/// `9F18` Issuer Script Identifier.
pub const ISSUER_SCRIPT_IDENTIFIER: Tag = Tag::new(0x9F18);
/// `98` Transaction Certificate (TC) Hash Value.
pub const TC_HASH_VALUE: Tag = Tag::new(0x98);

// Contactless (EMV Books A and C) as qPBOC uses them (pboc-notes §2).

/// `9F66` Terminal Transaction Qualifiers (TTQ).
pub const TTQ: Tag = Tag::new(0x9F66);
/// `9F6C` Card Transaction Qualifiers (CTQ).
pub const CTQ: Tag = Tag::new(0x9F6C);
/// `9F69` Card Authentication Related Data (fDDA input).
pub const CARD_AUTHENTICATION_RELATED_DATA: Tag = Tag::new(0x9F69);
/// `9F5D` Available Offline Spending Amount.
pub const AVAILABLE_OFFLINE_SPENDING_AMOUNT: Tag = Tag::new(0x9F5D);
/// `9F5A` Application Program Identifier (Visa, in the FCI's `BF0C`): selects the dynamic
/// reader limits of the card's program (pboc-notes §8.3).
pub const APPLICATION_PROGRAM_ID: Tag = Tag::new(0x9F5A);
/// `9F6E` Form Factor Indicator (Visa) / Third Party Data (Mastercard).
pub const FORM_FACTOR_INDICATOR: Tag = Tag::new(0x9F6E);
/// `9F7C` Customer Exclusive Data.
pub const CUSTOMER_EXCLUSIVE_DATA: Tag = Tag::new(0x9F7C);

// PBOC electronic cash and card risk data (JR/T 0025 Parts 12/13, pboc-notes §2.8–2.10).

/// `9F79` Electronic Cash (EC) Balance.
pub const EC_BALANCE: Tag = Tag::new(0x9F79);
/// `9F77` EC Balance Limit.
pub const EC_BALANCE_LIMIT: Tag = Tag::new(0x9F77);
/// `9F78` EC Single Transaction Limit.
pub const EC_SINGLE_TRANSACTION_LIMIT: Tag = Tag::new(0x9F78);
/// `9F6D` EC Reset Threshold.
pub const EC_RESET_THRESHOLD: Tag = Tag::new(0x9F6D);
/// `9F74` EC Issuer Authorisation Code.
pub const EC_ISSUER_AUTHORISATION_CODE: Tag = Tag::new(0x9F74);
/// `9F7A` EC Terminal Support Indicator.
pub const EC_TERMINAL_SUPPORT_INDICATOR: Tag = Tag::new(0x9F7A);
/// `9F7B` EC Terminal Transaction Limit.
pub const EC_TERMINAL_TRANSACTION_LIMIT: Tag = Tag::new(0x9F7B);
/// `9F68` Card Additional Processes (CAP).
pub const CARD_ADDITIONAL_PROCESSES: Tag = Tag::new(0x9F68);
/// `9F6B` Card CVM Limit (PBOC meaning; Track 2 Data in Mastercard Book C-2).
pub const CARD_CVM_LIMIT: Tag = Tag::new(0x9F6B);
/// `9F51` Application Currency Code (PBOC card risk management).
pub const PBOC_APPLICATION_CURRENCY_CODE: Tag = Tag::new(0x9F51);
/// `9F54` Cumulative Total Transaction Amount Limit (CTTAL).
pub const CTTA_LIMIT: Tag = Tag::new(0x9F54);
/// `9F5C` Cumulative Total Transaction Amount Upper Limit (CTTAUL).
pub const CTTA_UPPER_LIMIT: Tag = Tag::new(0x9F5C);
/// `9F5B` Issuer Script Results (per script: result ‖ sequence ‖ script identifier).
pub const ISSUER_SCRIPT_RESULTS: Tag = Tag::new(0x9F5B);
/// `9F63` Product Identification Information (UnionPay kernel 7).
pub const PRODUCT_IDENTIFICATION_INFORMATION: Tag = Tag::new(0x9F63);
/// `9F61` Cardholder ID Number. Sensitive.
pub const CARDHOLDER_ID_NUMBER: Tag = Tag::new(0x9F61);
/// `9F62` Cardholder ID Type.
pub const CARDHOLDER_ID_TYPE: Tag = Tag::new(0x9F62);
/// `DF4D` Load (圈存) Log Entry.
pub const LOAD_LOG_ENTRY: Tag = Tag::new(0xDF4D);
/// `DF4F` Load Log Format.
pub const LOAD_LOG_FORMAT: Tag = Tag::new(0xDF4F);
/// `DF69` SM Algorithm Support Indicator (SM2/SM3/SM4, JR/T 0025.17).
pub const SM_ALGORITHM_SUPPORT_INDICATOR: Tag = Tag::new(0xDF69);

// PBOC qPBOC extended application: segmented fares (JR/T 0025.14, pboc-notes §2.12).

/// `DF60` CAPP Transaction Indicator.
pub const CAPP_TRANSACTION_INDICATOR: Tag = Tag::new(0xDF60);
/// `DF61` Segmented-Fee Application Identifier.
pub const SEGMENTED_FEE_APPLICATION_ID: Tag = Tag::new(0xDF61);
/// `DF62` Segmented-Fee Deduction Limit.
pub const SEGMENTED_FEE_DEDUCTION_LIMIT: Tag = Tag::new(0xDF62);
/// `DF63` Segmented-Fee Deducted Amount.
pub const SEGMENTED_FEE_DEDUCTED_AMOUNT: Tag = Tag::new(0xDF63);

// PBOC dual-currency electronic cash (JR/T 0025.15). Per-tag meanings are unverified.

/// `DF71` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF71: Tag = Tag::new(0xDF71);
/// `DF72` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF72: Tag = Tag::new(0xDF72);
/// `DF76` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF76: Tag = Tag::new(0xDF76);
/// `DF77` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF77: Tag = Tag::new(0xDF77);
/// `DF78` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF78: Tag = Tag::new(0xDF78);
/// `DF79` Second-currency EC data object (⚠ exact meaning unverified).
pub const EC_SECOND_CURRENCY_DF79: Tag = Tag::new(0xDF79);

// Terminal parameter files of Chinese POS SDKs (pboc-notes §2.1, §3.2): not card data.

/// `DF02` CA public key modulus (POS parameter convention).
pub const CAPK_MODULUS: Tag = Tag::new(0xDF02);
/// `DF03` CA public key checksum (POS parameter convention).
pub const CAPK_CHECKSUM: Tag = Tag::new(0xDF03);
/// `DF04` CA public key exponent (POS parameter convention).
pub const CAPK_EXPONENT: Tag = Tag::new(0xDF04);
/// `DF05` CA public key expiry date (POS parameter convention).
pub const CAPK_EXPIRY_DATE: Tag = Tag::new(0xDF05);
/// `DF06` CA public key hash algorithm indicator (POS parameter convention).
pub const CAPK_HASH_ALGORITHM_INDICATOR: Tag = Tag::new(0xDF06);
/// `DF07` CA public key algorithm indicator (POS parameter convention).
pub const CAPK_ALGORITHM_INDICATOR: Tag = Tag::new(0xDF07);
/// `DF19` Contactless offline floor limit (⚠ POS vendor convention).
pub const CONTACTLESS_OFFLINE_FLOOR_LIMIT: Tag = Tag::new(0xDF19);
/// `DF20` Contactless transaction limit (⚠ POS vendor convention).
pub const CONTACTLESS_TRANSACTION_LIMIT: Tag = Tag::new(0xDF20);
/// `DF21` Contactless CVM limit (⚠ POS vendor convention).
pub const CONTACTLESS_CVM_LIMIT: Tag = Tag::new(0xDF21);

// ---------------------------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------------------------

use Length::{Fixed, Range};
use Source::{EmvBook1, EmvBook3, EmvBookA, EmvBookB, EmvBookC, Pboc, PosVendor, UnionPay, Visa};

/// Shorthand for [`Length::Var`] in the table.
const VAR: Length = Length::Var;
/// Shorthand for a [`Format::Var`] (EMV "var.") value.
const FVAR: Format = Format::Var;
/// Shorthand for "an amount in n12": six BCD bytes.
const N12: Length = Fixed(6);

/// Sorted by packed tag value; checked at compile time below and by the tests.
#[rustfmt::skip]
const ENTRIES: &[TagInfo] = &[
    TagInfo::new(IIN, "Issuer Identification Number (IIN)", N, Fixed(3), EmvBook3),
    TagInfo::new(AID, "Application Identifier (AID) - card", B, Range(5, 16), EmvBook3),
    TagInfo::new(APPLICATION_LABEL, "Application Label", Ans, Range(1, 16), EmvBook3),
    TagInfo::new(TRACK1_DATA, "Track 1 Data", Ans, Range(0, 76), EmvBookC).hidden(),
    TagInfo::new(TRACK2_EQUIVALENT_DATA, "Track 2 Equivalent Data", B, Range(0, 19), EmvBook3)
        .hidden(),
    TagInfo::new(PAN, "Application Primary Account Number (PAN)", Cn, Range(0, 10), EmvBook3)
        .hidden(),
    TagInfo::new(APPLICATION_TEMPLATE, "Application Template", Template, Range(0, 252), EmvBook3),
    TagInfo::new(FCI_TEMPLATE, "File Control Information (FCI) Template", Template, Range(0, 252), EmvBook3),
    TagInfo::new(RECORD_TEMPLATE, "READ RECORD Response Message Template", Template, Range(0, 252), EmvBook3),
    TagInfo::new(ISSUER_SCRIPT_TEMPLATE_1, "Issuer Script Template 1", Template, VAR, EmvBook3),
    TagInfo::new(ISSUER_SCRIPT_TEMPLATE_2, "Issuer Script Template 2", Template, VAR, EmvBook3),
    TagInfo::new(DIRECTORY_DISCRETIONARY_TEMPLATE, "Directory Discretionary Template", Template, Range(0, 252), EmvBook3),
    TagInfo::new(RESPONSE_TEMPLATE_FORMAT_2, "Response Message Template Format 2", Template, VAR, EmvBook3),
    TagInfo::new(RESPONSE_TEMPLATE_FORMAT_1, "Response Message Template Format 1", B, VAR, EmvBook3),
    TagInfo::new(AMOUNT_AUTHORISED_BINARY, "Amount, Authorised (Binary)", B, Fixed(4), EmvBook3),
    TagInfo::new(AIP, "Application Interchange Profile (AIP)", B, Fixed(2), EmvBook3),
    TagInfo::new(COMMAND_TEMPLATE, "Command Template", B, VAR, EmvBook3),
    TagInfo::new(DF_NAME, "Dedicated File (DF) Name", B, Range(5, 16), EmvBook3),
    TagInfo::new(ISSUER_SCRIPT_COMMAND, "Issuer Script Command", B, Range(0, 261), EmvBook3),
    TagInfo::new(APPLICATION_PRIORITY_INDICATOR, "Application Priority Indicator", B, Fixed(1), EmvBook3),
    TagInfo::new(SFI, "Short File Identifier (SFI)", B, Fixed(1), EmvBook3),
    TagInfo::new(AUTHORISATION_CODE, "Authorisation Code", An, Fixed(6), EmvBook3),
    TagInfo::new(AUTHORISATION_RESPONSE_CODE, "Authorisation Response Code", An, Fixed(2), EmvBook3),
    TagInfo::new(CDOL1, "Card Risk Management Data Object List 1 (CDOL1)", B, Range(0, 252), EmvBook3),
    TagInfo::new(CDOL2, "Card Risk Management Data Object List 2 (CDOL2)", B, Range(0, 252), EmvBook3),
    TagInfo::new(CVM_LIST, "Cardholder Verification Method (CVM) List", B, Range(10, 252), EmvBook3),
    TagInfo::new(CA_PUBLIC_KEY_INDEX, "Certification Authority Public Key Index", B, Fixed(1), EmvBook3)
        .per("EU"),
    TagInfo::new(ISSUER_PUBLIC_KEY_CERTIFICATE, "Issuer Public Key Certificate", B, VAR, EmvBook3)
        .per("EU; length = CA modulus length"),
    TagInfo::new(ISSUER_AUTHENTICATION_DATA, "Issuer Authentication Data", B, Range(8, 16), EmvBook3),
    TagInfo::new(ISSUER_PUBLIC_KEY_REMAINDER, "Issuer Public Key Remainder", B, VAR, EmvBook3)
        .per("EU"),
    TagInfo::new(SIGNED_STATIC_APPLICATION_DATA, "Signed Static Application Data (SSAD)", B, VAR, EmvBook3)
        .per("EU; length = issuer modulus length"),
    TagInfo::new(AFL, "Application File Locator (AFL)", B, Range(0, 252), EmvBook3),
    TagInfo::new(TVR, "Terminal Verification Results (TVR)", B, Fixed(5), EmvBook3).per("EU"),
    TagInfo::new(TDOL, "Transaction Certificate Data Object List (TDOL)", B, Range(0, 252), EmvBook3),
    TagInfo::new(TC_HASH_VALUE, "Transaction Certificate (TC) Hash Value", B, Fixed(20), EmvBook3),
    TagInfo::new(TRANSACTION_PIN_DATA, "Transaction PIN Data", B, VAR, EmvBook3).hidden(),
    TagInfo::new(TRANSACTION_DATE, "Transaction Date", N, Fixed(3), EmvBook3),
    TagInfo::new(TSI, "Transaction Status Information (TSI)", B, Fixed(2), EmvBook3).per("EU"),
    TagInfo::new(TRANSACTION_TYPE, "Transaction Type", N, Fixed(1), EmvBook3),
    TagInfo::new(DDF_NAME, "Directory Definition File (DDF) Name", B, Range(5, 16), EmvBook3),
    TagInfo::new(FCI_PROPRIETARY_TEMPLATE, "File Control Information (FCI) Proprietary Template", Template, VAR, EmvBook3),
    TagInfo::new(CARDHOLDER_NAME, "Cardholder Name", Ans, Range(2, 26), EmvBook3).hidden(),
    TagInfo::new(APPLICATION_EXPIRATION_DATE, "Application Expiration Date", N, Fixed(3), EmvBook3),
    TagInfo::new(APPLICATION_EFFECTIVE_DATE, "Application Effective Date", N, Fixed(3), EmvBook3),
    TagInfo::new(ISSUER_COUNTRY_CODE, "Issuer Country Code", N, Fixed(2), EmvBook3),
    TagInfo::new(TRANSACTION_CURRENCY_CODE, "Transaction Currency Code", N, Fixed(2), EmvBook3),
    TagInfo::new(LANGUAGE_PREFERENCE, "Language Preference", An, Range(2, 8), EmvBook3),
    TagInfo::new(SERVICE_CODE, "Service Code", N, Fixed(2), EmvBook3),
    TagInfo::new(PAN_SEQUENCE_NUMBER, "Application PAN Sequence Number", N, Fixed(1), EmvBook3),
    TagInfo::new(TRANSACTION_CURRENCY_EXPONENT, "Transaction Currency Exponent", N, Fixed(1), EmvBook3),
    TagInfo::new(ISSUER_URL, "Issuer URL", Ans, VAR, EmvBook3),
    TagInfo::new(IBAN, "International Bank Account Number (IBAN)", FVAR, Range(0, 34), EmvBook3)
        .hidden(),
    TagInfo::new(BIC, "Bank Identifier Code (BIC)", FVAR, Range(8, 11), EmvBook3),
    TagInfo::new(ISSUER_COUNTRY_CODE_ALPHA2, "Issuer Country Code (alpha2 format)", A, Fixed(2), EmvBook3),
    TagInfo::new(ISSUER_COUNTRY_CODE_ALPHA3, "Issuer Country Code (alpha3 format)", A, Fixed(3), EmvBook3),
    TagInfo::new(ACQUIRER_IDENTIFIER, "Acquirer Identifier", N, Fixed(6), EmvBook3),
    TagInfo::new(AMOUNT_AUTHORISED, "Amount, Authorised (Numeric)", N, N12, EmvBook3),
    TagInfo::new(AMOUNT_OTHER, "Amount, Other (Numeric)", N, N12, EmvBook3),
    TagInfo::new(AMOUNT_OTHER_BINARY, "Amount, Other (Binary)", B, Fixed(4), EmvBook3),
    TagInfo::new(APPLICATION_DISCRETIONARY_DATA, "Application Discretionary Data", B, Range(1, 32), EmvBook3),
    TagInfo::new(AID_TERMINAL, "Application Identifier (AID) - terminal", B, Range(5, 16), EmvBook3)
        .per("CP: also the 5-byte RID of a CAPK parameter set"),
    TagInfo::new(APPLICATION_USAGE_CONTROL, "Application Usage Control (AUC)", B, Fixed(2), EmvBook3),
    TagInfo::new(APPLICATION_VERSION_NUMBER_CARD, "Application Version Number - card", B, Fixed(2), EmvBook3),
    TagInfo::new(APPLICATION_VERSION_NUMBER_TERMINAL, "Application Version Number - terminal", B, Fixed(2), EmvBook3),
    TagInfo::new(ASRPD, "Application Selection Registered Proprietary Data (ASRPD)", B, VAR, EmvBook1),
    TagInfo::new(CARDHOLDER_NAME_EXTENDED, "Cardholder Name Extended", Ans, Range(27, 45), EmvBook3)
        .hidden(),
    TagInfo::new(IINE, "Issuer Identification Number Extended (IINE)", N, Fixed(4), EmvBook3)
        .hidden()
        .per("TU, MD: China T-Union FCIs reuse 9F0C for a 30-byte copy of EF15; sensitive because that copy holds the card number"),
    TagInfo::new(IAC_DEFAULT, "Issuer Action Code - Default", B, Fixed(5), EmvBook3),
    TagInfo::new(IAC_DENIAL, "Issuer Action Code - Denial", B, Fixed(5), EmvBook3),
    TagInfo::new(IAC_ONLINE, "Issuer Action Code - Online", B, Fixed(5), EmvBook3),
    TagInfo::new(ISSUER_APPLICATION_DATA, "Issuer Application Data (IAD)", B, Range(0, 32), EmvBook3)
        .per("BT, QK: PBOC layout 07|DKI|CVN|CVR(4)|byte 8|issuer discretionary"),
    TagInfo::new(ISSUER_CODE_TABLE_INDEX, "Issuer Code Table Index", N, Fixed(1), EmvBook3),
    TagInfo::new(APPLICATION_PREFERRED_NAME, "Application Preferred Name", Ans, Range(1, 16), EmvBook3),
    TagInfo::new(LAST_ONLINE_ATC_REGISTER, "Last Online ATC Register", B, Fixed(2), EmvBook3),
    TagInfo::new(LOWER_CONSECUTIVE_OFFLINE_LIMIT, "Lower Consecutive Offline Limit", B, Fixed(1), EmvBook3),
    TagInfo::new(MERCHANT_CATEGORY_CODE, "Merchant Category Code", N, Fixed(2), EmvBook3),
    TagInfo::new(MERCHANT_IDENTIFIER, "Merchant Identifier", Ans, Fixed(15), EmvBook3),
    TagInfo::new(PIN_TRY_COUNTER, "PIN Try Counter", B, Fixed(1), EmvBook3),
    TagInfo::new(ISSUER_SCRIPT_IDENTIFIER, "Issuer Script Identifier", B, Fixed(4), EmvBook3),
    TagInfo::new(TOKEN_REQUESTOR_ID, "Token Requestor ID", N, Fixed(6), EmvBook3),
    TagInfo::new(TERMINAL_COUNTRY_CODE, "Terminal Country Code", N, Fixed(2), EmvBook3),
    TagInfo::new(TERMINAL_FLOOR_LIMIT, "Terminal Floor Limit", B, Fixed(4), EmvBook3),
    TagInfo::new(TERMINAL_IDENTIFICATION, "Terminal Identification", An, Fixed(8), EmvBook3),
    TagInfo::new(TERMINAL_RISK_MANAGEMENT_DATA, "Terminal Risk Management Data", B, Range(1, 8), EmvBook3),
    TagInfo::new(IFD_SERIAL_NUMBER, "Interface Device (IFD) Serial Number", An, Fixed(8), EmvBook3),
    TagInfo::new(TRACK1_DISCRETIONARY_DATA, "Track 1 Discretionary Data", Ans, VAR, EmvBook3).hidden(),
    TagInfo::new(TRACK2_DISCRETIONARY_DATA, "Track 2 Discretionary Data", Cn, VAR, EmvBook3).hidden(),
    TagInfo::new(TRANSACTION_TIME, "Transaction Time", N, Fixed(3), EmvBook3),
    TagInfo::new(CA_PUBLIC_KEY_INDEX_TERMINAL, "Certification Authority Public Key Index - terminal", B, Fixed(1), EmvBook3)
        .per("CP: CAPK index in POS parameter files"),
    TagInfo::new(UPPER_CONSECUTIVE_OFFLINE_LIMIT, "Upper Consecutive Offline Limit", B, Fixed(1), EmvBook3),
    TagInfo::new(PAYMENT_ACCOUNT_REFERENCE, "Payment Account Reference (PAR)", An, Fixed(29), EmvBook3),
    TagInfo::new(LAST_4_DIGITS_OF_PAN, "Last 4 Digits of PAN", N, Fixed(2), EmvBook3),
    TagInfo::new(APPLICATION_CRYPTOGRAM, "Application Cryptogram", B, Fixed(8), EmvBook3),
    TagInfo::new(CID, "Cryptogram Information Data (CID)", B, Fixed(1), EmvBook3)
        .per("QK: absent in qPBOC GPO responses; type then comes from the IAD"),
    TagInfo::new(EXTENDED_SELECTION, "Extended Selection", B, VAR, EmvBookB),
    TagInfo::new(KERNEL_IDENTIFIER, "Kernel Identifier", B, Range(1, 8), EmvBookB)
        .per("EU: UnionPay is kernel 7"),
    TagInfo::new(ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_CERTIFICATE, "ICC PIN Encipherment Public Key Certificate", B, VAR, EmvBook3),
    TagInfo::new(ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_EXPONENT, "ICC PIN Encipherment Public Key Exponent", B, Range(1, 3), EmvBook3),
    TagInfo::new(ICC_PIN_ENCIPHERMENT_PUBLIC_KEY_REMAINDER, "ICC PIN Encipherment Public Key Remainder", B, VAR, EmvBook3),
    TagInfo::new(ISSUER_PUBLIC_KEY_EXPONENT, "Issuer Public Key Exponent", B, Range(1, 3), EmvBook3)
        .per("EU"),
    TagInfo::new(TERMINAL_CAPABILITIES, "Terminal Capabilities", B, Fixed(3), EmvBook3),
    TagInfo::new(CVM_RESULTS, "Cardholder Verification Method (CVM) Results", B, Fixed(3), EmvBook3),
    TagInfo::new(TERMINAL_TYPE, "Terminal Type", N, Fixed(1), EmvBook3),
    TagInfo::new(ATC, "Application Transaction Counter (ATC)", B, Fixed(2), EmvBook3),
    TagInfo::new(UNPREDICTABLE_NUMBER, "Unpredictable Number", B, Fixed(4), EmvBook3),
    TagInfo::new(PDOL, "Processing Options Data Object List (PDOL)", B, VAR, EmvBook3),
    TagInfo::new(POS_ENTRY_MODE, "Point-of-Service (POS) Entry Mode", N, Fixed(1), EmvBook3),
    TagInfo::new(AMOUNT_REFERENCE_CURRENCY, "Amount, Reference Currency", B, Fixed(4), EmvBook3),
    TagInfo::new(APPLICATION_REFERENCE_CURRENCY, "Application Reference Currency", N, Range(2, 8), EmvBook3),
    TagInfo::new(TRANSACTION_REFERENCE_CURRENCY_CODE, "Transaction Reference Currency Code", N, Fixed(2), EmvBook3),
    TagInfo::new(TRANSACTION_REFERENCE_CURRENCY_EXPONENT, "Transaction Reference Currency Exponent", N, Fixed(1), EmvBook3),
    TagInfo::new(ADDITIONAL_TERMINAL_CAPABILITIES, "Additional Terminal Capabilities", B, Fixed(5), EmvBook3),
    TagInfo::new(TRANSACTION_SEQUENCE_COUNTER, "Transaction Sequence Counter", N, Range(2, 4), EmvBook3),
    TagInfo::new(APPLICATION_CURRENCY_CODE, "Application Currency Code", N, Fixed(2), EmvBook3),
    TagInfo::new(APPLICATION_REFERENCE_CURRENCY_EXPONENT, "Application Reference Currency Exponent", N, Range(1, 4), EmvBook3),
    TagInfo::new(APPLICATION_CURRENCY_EXPONENT, "Application Currency Exponent", N, Fixed(1), EmvBook3),
    TagInfo::new(DATA_AUTHENTICATION_CODE, "Data Authentication Code", B, Fixed(2), EmvBook3),
    TagInfo::new(ICC_PUBLIC_KEY_CERTIFICATE, "ICC Public Key Certificate", B, VAR, EmvBook3)
        .per("EU, PM; length = issuer modulus length"),
    TagInfo::new(ICC_PUBLIC_KEY_EXPONENT, "ICC Public Key Exponent", B, Range(1, 3), EmvBook3)
        .per("EU"),
    TagInfo::new(ICC_PUBLIC_KEY_REMAINDER, "ICC Public Key Remainder", B, VAR, EmvBook3).per("EU"),
    TagInfo::new(DDOL, "Dynamic Data Authentication Data Object List (DDOL)", B, Range(0, 252), EmvBook3),
    TagInfo::new(SDA_TAG_LIST, "Static Data Authentication Tag List", B, VAR, EmvBook3)
        .per("EU, PM: may only list tag 82"),
    TagInfo::new(SIGNED_DYNAMIC_APPLICATION_DATA, "Signed Dynamic Application Data (SDAD)", B, VAR, EmvBook3)
        .per("BT, PM: returned by GPO or in a record in qPBOC fDDA"),
    TagInfo::new(ICC_DYNAMIC_NUMBER, "ICC Dynamic Number", B, Range(2, 8), EmvBook3),
    TagInfo::new(LOG_ENTRY, "Log Entry", B, Fixed(2), EmvBook3).per("BT, QK: SFI | number of records"),
    TagInfo::new(MERCHANT_NAME_AND_LOCATION, "Merchant Name and Location", Ans, VAR, EmvBook3),
    TagInfo::new(LOG_FORMAT, "Log Format", B, VAR, EmvBook3).per("BT, QK: a DOL; read with GET DATA"),
    TagInfo::new(PBOC_APPLICATION_CURRENCY_CODE, "Application Currency Code (PBOC)", N, Fixed(2), Pboc)
        .per("BT"),
    TagInfo::new(CTTA_LIMIT, "Cumulative Total Transaction Amount Limit (CTTAL)", N, N12, Pboc)
        .per("BT; ⚠ pboc-notes §2.8 calls 9F54 the CTTA itself, VIS and PBOC tag lists call it the limit"),
    TagInfo::new(APPLICATION_PROGRAM_ID, "Application Program Identifier", B, Range(1, 16), Visa)
        .per("⚠ VCPS as recalled: selects the dynamic reader limits (pboc-notes §8.3)"),
    TagInfo::new(ISSUER_SCRIPT_RESULTS, "Issuer Script Results", B, VAR, EmvBook3)
        .per("terminal-sourced, sent to the host after script processing"),
    TagInfo::new(CTTA_UPPER_LIMIT, "Cumulative Total Transaction Amount Upper Limit (CTTAUL)", N, N12, Pboc)
        .per("BT"),
    TagInfo::new(AVAILABLE_OFFLINE_SPENDING_AMOUNT, "Available Offline Spending Amount", N, N12, Pboc)
        .per("BT, QK; Visa/Book C-3 meaning, Mastercard C-2 uses 9F5D for Application Capabilities Information"),
    TagInfo::new(CARDHOLDER_ID_NUMBER, "Cardholder ID Number", An, Range(1, 40), Pboc)
        .hidden()
        .per("⚠ public PBOC tag lists only, not in pboc-notes"),
    TagInfo::new(CARDHOLDER_ID_TYPE, "Cardholder ID Type", Cn, Fixed(1), Pboc)
        .per("⚠ public PBOC tag lists only, not in pboc-notes"),
    TagInfo::new(PRODUCT_IDENTIFICATION_INFORMATION, "Product Identification Information", B, Fixed(16), UnionPay)
        .per("BT, EU: kernel 7 meaning"),
    TagInfo::new(TTQ, "Terminal Transaction Qualifiers (TTQ)", B, Fixed(4), EmvBookA)
        .per("GL, QK, EU: PBOC bit meanings differ in byte 1"),
    TagInfo::new(CARD_ADDITIONAL_PROCESSES, "Card Additional Processes (CAP)", B, Fixed(4), Pboc)
        .per("BT ⚠ bit positions"),
    TagInfo::new(CARD_AUTHENTICATION_RELATED_DATA, "Card Authentication Related Data", B, Range(5, 16), Pboc)
        .per("BT, TAG: 8 bytes in BT (fDDA version | card UN | CTQ | 1 byte ⚠)"),
    TagInfo::new(CARD_CVM_LIMIT, "Card CVM Limit", N, N12, Pboc)
        .hidden()
        .per("BT; sensitive because Mastercard Book C-2 uses 9F6B for Track 2 Data"),
    TagInfo::new(CTQ, "Card Transaction Qualifiers (CTQ)", B, Fixed(2), EmvBookC).per("BT, EU"),
    TagInfo::new(EC_RESET_THRESHOLD, "EC Reset Threshold", N, N12, Pboc)
        .per("BT; Amex Book C-4 uses 9F6D for Contactless Reader Capabilities"),
    TagInfo::new(FORM_FACTOR_INDICATOR, "Form Factor Indicator / Third Party Data", B, Range(0, 32), Visa)
        .per("EU: Visa FFI (4 bytes), Mastercard Third Party Data"),
    TagInfo::new(EC_ISSUER_AUTHORISATION_CODE, "EC Issuer Authorisation Code", An, Fixed(6), Pboc)
        .per("BT, GL; value \"ECC001\" ⚠"),
    TagInfo::new(EC_BALANCE_LIMIT, "EC Balance Limit", N, N12, Pboc).per("BT"),
    TagInfo::new(EC_SINGLE_TRANSACTION_LIMIT, "EC Single Transaction Limit", N, N12, Pboc).per("BT"),
    TagInfo::new(EC_BALANCE, "Electronic Cash (EC) Balance", N, N12, Pboc).per("BT, QK"),
    TagInfo::new(EC_TERMINAL_SUPPORT_INDICATOR, "EC Terminal Support Indicator", B, Fixed(1), Pboc)
        .per("BT, GL: 01 = EC supported"),
    TagInfo::new(EC_TERMINAL_TRANSACTION_LIMIT, "EC Terminal Transaction Limit", N, N12, Pboc)
        .per("BT, CP"),
    TagInfo::new(CUSTOMER_EXCLUSIVE_DATA, "Customer Exclusive Data", B, Range(0, 32), Visa)
        .per("Visa/Book C-3 meaning; Mastercard C-2 uses 9F7C for Merchant Custom Data"),
    TagInfo::new(FCI_ISSUER_DISCRETIONARY_DATA, "File Control Information (FCI) Issuer Discretionary Data", Template, Range(0, 222), EmvBook3),
    TagInfo::new(CAPK_MODULUS, "CA Public Key Modulus (terminal parameter)", B, Range(1, 248), PosVendor)
        .per("CP"),
    TagInfo::new(CAPK_CHECKSUM, "CA Public Key Check Sum (terminal parameter)", B, Fixed(20), PosVendor)
        .per("CP, EU: SHA-1(RID | index | modulus | exponent)"),
    TagInfo::new(CAPK_EXPONENT, "CA Public Key Exponent (terminal parameter)", B, Range(1, 3), PosVendor)
        .per("CP"),
    TagInfo::new(CAPK_EXPIRY_DATE, "CA Public Key Expiry Date (terminal parameter)", N, Fixed(4), PosVendor)
        .per("CP: YYYYMMDD, e.g. 20401231 ⚠ some SDKs store it as text"),
    TagInfo::new(CAPK_HASH_ALGORITHM_INDICATOR, "CA Public Key Hash Algorithm Indicator (terminal parameter)", B, Fixed(1), PosVendor)
        .per("CP: 01 = SHA-1"),
    TagInfo::new(CAPK_ALGORITHM_INDICATOR, "CA Public Key Algorithm Indicator (terminal parameter)", B, Fixed(1), PosVendor)
        .per("CP: 01 = RSA, 04 = SM2"),
    TagInfo::new(CONTACTLESS_OFFLINE_FLOOR_LIMIT, "Contactless Offline Floor Limit (terminal parameter)", N, N12, PosVendor)
        .per("CP ⚠ vendor convention"),
    TagInfo::new(CONTACTLESS_TRANSACTION_LIMIT, "Contactless Transaction Limit (terminal parameter)", N, N12, PosVendor)
        .per("CP ⚠ vendor convention"),
    TagInfo::new(CONTACTLESS_CVM_LIMIT, "Contactless CVM Limit (terminal parameter)", N, N12, PosVendor)
        .per("CP ⚠ vendor convention"),
    TagInfo::new(LOAD_LOG_ENTRY, "Load Log Entry", B, Fixed(2), Pboc).per("BT, TAG, QK"),
    TagInfo::new(LOAD_LOG_FORMAT, "Load Log Format", B, VAR, Pboc).per("BT, TAG, QK: a DOL"),
    TagInfo::new(CAPP_TRANSACTION_INDICATOR, "CAPP Transaction Indicator", B, Fixed(1), Pboc)
        .per("BT, TAG, XA: 1 segmented fare, 2 offline pre-auth, 3 pre-auth completion"),
    TagInfo::new(SEGMENTED_FEE_APPLICATION_ID, "Segmented-Fee Application Identifier", B, Fixed(1), Pboc)
        .per("BT, TAG, XA"),
    TagInfo::new(SEGMENTED_FEE_DEDUCTION_LIMIT, "Segmented-Fee Deduction Limit", N, N12, Pboc)
        .per("BT, TAG"),
    TagInfo::new(SEGMENTED_FEE_DEDUCTED_AMOUNT, "Segmented-Fee Deducted Amount", N, N12, Pboc)
        .per("BT, TAG"),
    TagInfo::new(SM_ALGORITHM_SUPPORT_INDICATOR, "SM Algorithm Support Indicator", B, Fixed(1), Pboc)
        .per("BT, TAG, QK: 01 = SM2/SM3/SM4 supported"),
    TagInfo::new(EC_SECOND_CURRENCY_DF71, "EC Second Currency Data (DF71)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
    TagInfo::new(EC_SECOND_CURRENCY_DF72, "EC Second Currency Data (DF72)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
    TagInfo::new(EC_SECOND_CURRENCY_DF76, "EC Second Currency Data (DF76)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
    TagInfo::new(EC_SECOND_CURRENCY_DF77, "EC Second Currency Data (DF77)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
    TagInfo::new(EC_SECOND_CURRENCY_DF78, "EC Second Currency Data (DF78)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
    TagInfo::new(EC_SECOND_CURRENCY_DF79, "EC Second Currency Data (DF79)", FVAR, VAR, Pboc)
        .per("BT, TAG ⚠ exact meaning"),
];

// Compile-time guarantee that `lookup`'s binary search is valid.
const _: () = {
    let mut i = 1;
    while i < ENTRIES.len() {
        assert!(
            ENTRIES[i - 1].tag.packed() < ENTRIES[i].tag.packed(),
            "tags::ENTRIES must be sorted by packed tag value, without duplicates"
        );
        i += 1;
    }
};

/// Every data element the kernel knows, sorted by packed tag value (so [`lookup`] can binary
/// search it), with no duplicates.
pub static DICTIONARY: &[TagInfo] = ENTRIES;

/// The dictionary entry for `tag`, if the kernel knows it (binary search, O(log n)).
pub fn lookup(tag: Tag) -> Option<&'static TagInfo> {
    DICTIONARY
        .binary_search_by_key(&tag.packed(), |info| info.tag.packed())
        .ok()
        .and_then(|index| DICTIONARY.get(index))
}

/// The format of `tag`'s value, [`Format::B`] when the dictionary does not know the tag.
///
/// This is what the DOL builder uses to pad or truncate a value (EMV Book 3 §5.4).
pub fn format_of(tag: Tag) -> Format {
    lookup(tag).map_or(Format::B, |info| info.format)
}

/// True when `tag`'s value must be masked in dumps and logs. Unknown tags are not sensitive.
pub fn is_sensitive(tag: Tag) -> bool {
    lookup(tag).is_some_and(|info| info.sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        assert!(DICTIONARY
            .windows(2)
            .all(|pair| pair[0].tag.packed() < pair[1].tag.packed()));
    }

    #[test]
    fn unknown_tags_default_to_binary() {
        assert!(lookup(Tag::new(0xDF8F4F)).is_none());
        assert_eq!(format_of(Tag::new(0xDF8F4F)), Format::B);
        assert_eq!(format_of(AMOUNT_AUTHORISED), Format::N);
        assert_eq!(format_of(PAN), Format::Cn);
    }

    #[test]
    fn length_rules() {
        assert!(Length::Fixed(6).allows(6));
        assert!(!Length::Fixed(6).allows(5));
        assert!(Length::Range(5, 16).allows(8));
        assert!(!Length::Range(5, 16).allows(17));
        assert!(Length::Var.allows(1000));
    }
}
