//! The C-2 reader configuration: the `DF81xx` data objects Book C-2 defines for the terminal
//! (pboc-notes §9.2), typed, validated when built, and readable from / writable to TLV so a
//! configuration can come from the same TLV files readers load.

use alloc::vec::Vec;

use crate::tag::Tag;
use crate::tlv::{self, TlvIter};

/// The C-2 terminal data objects (Book C-2 Annex A; pboc-notes §9.2).
pub mod tags {
    use crate::tag::Tag;

    /// `DF810C` Kernel ID (`02` for C-2).
    pub const KERNEL_ID: Tag = Tag::new(0xDF810C);
    /// `DF8115` Error Indication (6 bytes).
    pub const ERROR_INDICATION: Tag = Tag::new(0xDF8115);
    /// `DF8116` User Interface Request Data (22 bytes).
    pub const UI_REQUEST_DATA: Tag = Tag::new(0xDF8116);
    /// `DF8117` Card Data Input Capability (`9F33` byte 1).
    pub const CARD_DATA_INPUT_CAPABILITY: Tag = Tag::new(0xDF8117);
    /// `DF8118` CVM Capability – CVM Required (`9F33` byte 2 above the CVM required limit).
    pub const CVM_CAPABILITY_CVM_REQUIRED: Tag = Tag::new(0xDF8118);
    /// `DF8119` CVM Capability – No CVM Required (`9F33` byte 2 up to the limit).
    pub const CVM_CAPABILITY_NO_CVM_REQUIRED: Tag = Tag::new(0xDF8119);
    /// `DF811B` Kernel Configuration.
    pub const KERNEL_CONFIGURATION: Tag = Tag::new(0xDF811B);
    /// `DF811C` Max Lifetime of Torn Transaction Log Record (seconds, 2 bytes).
    pub const MAX_LIFETIME_OF_TORN_RECORD: Tag = Tag::new(0xDF811C);
    /// `DF811D` Max Number of Torn Transaction Log Records.
    pub const MAX_NUMBER_OF_TORN_RECORDS: Tag = Tag::new(0xDF811D);
    /// `DF811F` Security Capability (`9F33` byte 3).
    pub const SECURITY_CAPABILITY: Tag = Tag::new(0xDF811F);
    /// `DF8120` Terminal Action Code – Default.
    pub const TAC_DEFAULT: Tag = Tag::new(0xDF8120);
    /// `DF8121` Terminal Action Code – Denial.
    pub const TAC_DENIAL: Tag = Tag::new(0xDF8121);
    /// `DF8122` Terminal Action Code – Online.
    pub const TAC_ONLINE: Tag = Tag::new(0xDF8122);
    /// `DF8123` Reader Contactless Floor Limit (n12).
    pub const READER_CONTACTLESS_FLOOR_LIMIT: Tag = Tag::new(0xDF8123);
    /// `DF8124` Reader Contactless Transaction Limit (No On-device CVM) (n12).
    pub const TRANSACTION_LIMIT_NO_ON_DEVICE_CVM: Tag = Tag::new(0xDF8124);
    /// `DF8125` Reader Contactless Transaction Limit (On-device CVM) (n12).
    pub const TRANSACTION_LIMIT_ON_DEVICE_CVM: Tag = Tag::new(0xDF8125);
    /// `DF8126` Reader CVM Required Limit (n12).
    pub const READER_CVM_REQUIRED_LIMIT: Tag = Tag::new(0xDF8126);
    /// `DF8129` Outcome Parameter Set (8 bytes).
    pub const OUTCOME_PARAMETER_SET: Tag = Tag::new(0xDF8129);
    /// `DF812D` Message Hold Time (n6, units of 100 ms).
    pub const MESSAGE_HOLD_TIME: Tag = Tag::new(0xDF812D);
    /// `DF8132` Minimum Relay Resistance Grace Period (units of 100 µs).
    pub const MIN_RELAY_RESISTANCE_GRACE_PERIOD: Tag = Tag::new(0xDF8132);
    /// `DF8133` Maximum Relay Resistance Grace Period (units of 100 µs).
    pub const MAX_RELAY_RESISTANCE_GRACE_PERIOD: Tag = Tag::new(0xDF8133);
    /// `DF8134` Terminal Expected Transmission Time For Relay Resistance C-APDU (100 µs).
    pub const TERMINAL_EXPECTED_TIME_C_APDU: Tag = Tag::new(0xDF8134);
    /// `DF8135` Terminal Expected Transmission Time For Relay Resistance R-APDU (100 µs).
    pub const TERMINAL_EXPECTED_TIME_R_APDU: Tag = Tag::new(0xDF8135);
    /// `DF8136` Relay Resistance Accuracy Threshold (100 µs).
    pub const RELAY_RESISTANCE_ACCURACY_THRESHOLD: Tag = Tag::new(0xDF8136);
    /// `DF8137` Relay Resistance Transmission Time Mismatch Threshold (percent).
    pub const RELAY_RESISTANCE_MISMATCH_THRESHOLD: Tag = Tag::new(0xDF8137);
    /// `DF8301` Terminal Relay Resistance Entropy.
    pub const TERMINAL_RELAY_RESISTANCE_ENTROPY: Tag = Tag::new(0xDF8301);
    /// `DF8302` Device Relay Resistance Entropy.
    pub const DEVICE_RELAY_RESISTANCE_ENTROPY: Tag = Tag::new(0xDF8302);
    /// `DF8303` Min Time For Processing Relay Resistance APDU.
    pub const MIN_TIME_FOR_PROCESSING_RR_APDU: Tag = Tag::new(0xDF8303);
    /// `DF8304` Max Time For Processing Relay Resistance APDU.
    pub const MAX_TIME_FOR_PROCESSING_RR_APDU: Tag = Tag::new(0xDF8304);
    /// `DF8305` Device Estimated Transmission Time For Relay Resistance R-APDU.
    pub const DEVICE_ESTIMATED_TIME_R_APDU: Tag = Tag::new(0xDF8305);
    /// `DF8306` Measured Relay Resistance Processing Time.
    pub const MEASURED_RR_PROCESSING_TIME: Tag = Tag::new(0xDF8306);
    /// `DF8307` RRP Counter.
    pub const RRP_COUNTER: Tag = Tag::new(0xDF8307);
    /// `FF8101` Torn Record.
    pub const TORN_RECORD: Tag = Tag::new(0xFF8101);
    /// `FF8105` Data Record.
    pub const DATA_RECORD: Tag = Tag::new(0xFF8105);
    /// `FF8106` Discretionary Data.
    pub const DISCRETIONARY_DATA: Tag = Tag::new(0xFF8106);
    /// `9F51` DRDOL (C-2's meaning; PBOC uses `9F51` for the application currency code).
    pub const DRDOL: Tag = Tag::new(0x9F51);
    /// `9F5D` Application Capabilities Information (C-2's meaning).
    pub const APPLICATION_CAPABILITIES_INFORMATION: Tag = Tag::new(0x9F5D);
    /// `9F6E` Third Party Data (C-2's meaning).
    pub const THIRD_PARTY_DATA: Tag = Tag::new(0x9F6E);
    /// `9F7C` Merchant Custom Data (C-2's meaning).
    pub const MERCHANT_CUSTOM_DATA: Tag = Tag::new(0x9F7C);
    /// `9F53` Transaction Category Code.
    pub const TRANSACTION_CATEGORY_CODE: Tag = Tag::new(0x9F53);
    /// `9F1D` Terminal Risk Management Data.
    pub const TERMINAL_RISK_MANAGEMENT_DATA: Tag = Tag::new(0x9F1D);
    /// `9F24` Payment Account Reference.
    pub const PAYMENT_ACCOUNT_REFERENCE: Tag = Tag::new(0x9F24);
}

/// `DF811B` Kernel Configuration, byte 1 (pboc-notes §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelConfiguration {
    /// b8: mag-stripe mode contactless transactions not supported.
    pub mag_stripe_mode_not_supported: bool,
    /// b7: EMV mode contactless transactions not supported.
    pub emv_mode_not_supported: bool,
    /// b6: on-device cardholder verification supported.
    pub on_device_cvm_supported: bool,
    /// b5: relay resistance protocol supported.
    pub relay_resistance_supported: bool,
}

impl KernelConfiguration {
    /// The byte.
    pub fn to_byte(self) -> u8 {
        u8::from(self.mag_stripe_mode_not_supported) << 7
            | u8::from(self.emv_mode_not_supported) << 6
            | u8::from(self.on_device_cvm_supported) << 5
            | u8::from(self.relay_resistance_supported) << 4
    }

    /// Reads the byte (other bits ignored).
    pub fn from_byte(byte: u8) -> Self {
        KernelConfiguration {
            mag_stripe_mode_not_supported: byte & 0x80 != 0,
            emv_mode_not_supported: byte & 0x40 != 0,
            on_device_cvm_supported: byte & 0x20 != 0,
            relay_resistance_supported: byte & 0x10 != 0,
        }
    }
}

/// The relay resistance parameters of the reader (`DF8132`–`DF8137`), times in units of
/// 100 µs as C-2 counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayResistanceConfig {
    /// `DF8132` Minimum Relay Resistance Grace Period.
    pub min_grace_period: u16,
    /// `DF8133` Maximum Relay Resistance Grace Period.
    pub max_grace_period: u16,
    /// `DF8134` Terminal Expected Transmission Time For Relay Resistance C-APDU.
    pub terminal_expected_c_apdu: u16,
    /// `DF8135` Terminal Expected Transmission Time For Relay Resistance R-APDU.
    pub terminal_expected_r_apdu: u16,
    /// `DF8136` Relay Resistance Accuracy Threshold.
    pub accuracy_threshold: u16,
    /// `DF8137` Relay Resistance Transmission Time Mismatch Threshold (percent).
    pub mismatch_threshold: u8,
}

impl Default for RelayResistanceConfig {
    /// The values Book C-2 proposes as defaults (⚠ pboc-notes §9.5: min 0.5 ms, max 0.5 ms,
    /// C-APDU 1.8 ms, R-APDU 1.8 ms, accuracy 30 ms, mismatch 50 %).
    fn default() -> Self {
        RelayResistanceConfig {
            min_grace_period: 5,
            max_grace_period: 5,
            terminal_expected_c_apdu: 18,
            terminal_expected_r_apdu: 18,
            accuracy_threshold: 300,
            mismatch_threshold: 50,
        }
    }
}

/// The C-2 reader configuration for one combination (AID, kernel 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2Config {
    /// `DF8117` Card Data Input Capability.
    pub card_data_input_capability: u8,
    /// `DF8118` CVM Capability – CVM Required.
    pub cvm_capability_cvm_required: u8,
    /// `DF8119` CVM Capability – No CVM Required.
    pub cvm_capability_no_cvm_required: u8,
    /// `DF811B` Kernel Configuration.
    pub kernel_configuration: KernelConfiguration,
    /// `DF811F` Security Capability (`08`: CDA).
    pub security_capability: u8,
    /// `DF8120` TAC – Default.
    pub tac_default: [u8; 5],
    /// `DF8121` TAC – Denial.
    pub tac_denial: [u8; 5],
    /// `DF8122` TAC – Online.
    pub tac_online: [u8; 5],
    /// `DF8123` Reader Contactless Floor Limit (minor units).
    pub floor_limit: u64,
    /// `DF8124` Reader Contactless Transaction Limit (No On-device CVM).
    pub transaction_limit_no_on_device_cvm: u64,
    /// `DF8125` Reader Contactless Transaction Limit (On-device CVM).
    pub transaction_limit_on_device_cvm: u64,
    /// `DF8126` Reader CVM Required Limit.
    pub cvm_required_limit: u64,
    /// `DF811C` Max Lifetime of Torn Transaction Log Record, seconds.
    pub max_torn_lifetime_s: u16,
    /// `DF811D` Max Number of Torn Transaction Log Records.
    pub max_torn_records: u8,
    /// `DF812D` Message Hold Time (units of 100 ms).
    pub message_hold_time: u16,
    /// `9F09` Application Version Number (Reader).
    pub application_version: [u8; 2],
    /// Relay resistance parameters (`DF8132`–`DF8137`).
    pub relay_resistance: RelayResistanceConfig,
}

/// `9F33` byte 3 b4: CDA.
pub const SECURITY_CAPABILITY_CDA: u8 = 0x08;

impl Default for C2Config {
    /// A transit-style reader: online capable, CDA, on-device CVM and relay resistance
    /// supported, signature and no CVM (no PIN pad at a gate), floor limit 0 (every TC needs
    /// the TACs' leave), transaction limits 1 000.00, CVM required above 100.00. TACs are the
    /// values Mastercard publishes for contactless M/Chip (⚠ pboc-notes §9.2).
    fn default() -> Self {
        C2Config {
            card_data_input_capability: 0x00,
            cvm_capability_cvm_required: 0x60,
            cvm_capability_no_cvm_required: 0x08,
            kernel_configuration: KernelConfiguration {
                mag_stripe_mode_not_supported: true,
                emv_mode_not_supported: false,
                on_device_cvm_supported: true,
                relay_resistance_supported: true,
            },
            security_capability: SECURITY_CAPABILITY_CDA,
            tac_default: [0xF4, 0x50, 0x84, 0x80, 0x0C],
            tac_denial: [0x00, 0x00, 0x00, 0x00, 0x00],
            tac_online: [0xF4, 0x50, 0x84, 0x80, 0x0C],
            floor_limit: 0,
            transaction_limit_no_on_device_cvm: 100_000,
            transaction_limit_on_device_cvm: 100_000,
            cvm_required_limit: 10_000,
            max_torn_lifetime_s: 300,
            max_torn_records: 1,
            message_hold_time: 13,
            application_version: [0x00, 0x02],
            relay_resistance: RelayResistanceConfig::default(),
        }
    }
}

/// Why a C-2 configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum C2ConfigError {
    /// The TLV is malformed.
    #[error("C-2 configuration is not BER-TLV")]
    Tlv(#[source] crate::tlv::TlvError),
    /// A data object has the wrong length.
    #[error("C-2 configuration: {tag} has length {len}, expected {expected}")]
    Length {
        /// The object.
        tag: Tag,
        /// Its length.
        len: usize,
        /// The length C-2 defines.
        expected: usize,
    },
    /// An amount is not n12 BCD.
    #[error("C-2 configuration: {0} is not n12 BCD")]
    NotBcd(Tag),
    /// `DF810C` is present and not `02`.
    #[error("C-2 configuration names kernel {0:02X}, not 02")]
    WrongKernel(u8),
}

fn fixed<const N: usize>(tag: Tag, value: &[u8]) -> Result<[u8; N], C2ConfigError> {
    <[u8; N]>::try_from(value).map_err(|_| C2ConfigError::Length {
        tag,
        len: value.len(),
        expected: N,
    })
}

fn n12(tag: Tag, value: &[u8]) -> Result<u64, C2ConfigError> {
    let bytes = fixed::<6>(tag, value)?;
    crate::values::bcd::bcd_to_u64(&bytes).map_err(|_| C2ConfigError::NotBcd(tag))
}

fn n12_bytes(value: u64) -> [u8; 6] {
    crate::values::bcd::u64_to_bcd::<6>(value.min(999_999_999_999)).unwrap_or([0x99; 6])
}

impl C2Config {
    /// The configuration with the `DF81xx` / `9F09` objects of `bytes` (a concatenation of
    /// TLVs) applied over [`C2Config::default`]; unknown tags are ignored.
    pub fn from_tlv(bytes: &[u8]) -> Result<Self, C2ConfigError> {
        let mut config = C2Config::default();
        for object in TlvIter::new(bytes) {
            let object = object.map_err(C2ConfigError::Tlv)?;
            let (tag, v) = (object.tag(), object.value());
            match tag {
                tags::KERNEL_ID => match fixed::<1>(tag, v)? {
                    [0x02] => {}
                    [other] => return Err(C2ConfigError::WrongKernel(other)),
                },
                tags::CARD_DATA_INPUT_CAPABILITY => {
                    config.card_data_input_capability = fixed::<1>(tag, v)?[0]
                }
                tags::CVM_CAPABILITY_CVM_REQUIRED => {
                    config.cvm_capability_cvm_required = fixed::<1>(tag, v)?[0]
                }
                tags::CVM_CAPABILITY_NO_CVM_REQUIRED => {
                    config.cvm_capability_no_cvm_required = fixed::<1>(tag, v)?[0]
                }
                tags::KERNEL_CONFIGURATION => {
                    config.kernel_configuration =
                        KernelConfiguration::from_byte(fixed::<1>(tag, v)?[0])
                }
                tags::SECURITY_CAPABILITY => config.security_capability = fixed::<1>(tag, v)?[0],
                tags::TAC_DEFAULT => config.tac_default = fixed(tag, v)?,
                tags::TAC_DENIAL => config.tac_denial = fixed(tag, v)?,
                tags::TAC_ONLINE => config.tac_online = fixed(tag, v)?,
                tags::READER_CONTACTLESS_FLOOR_LIMIT => config.floor_limit = n12(tag, v)?,
                tags::TRANSACTION_LIMIT_NO_ON_DEVICE_CVM => {
                    config.transaction_limit_no_on_device_cvm = n12(tag, v)?
                }
                tags::TRANSACTION_LIMIT_ON_DEVICE_CVM => {
                    config.transaction_limit_on_device_cvm = n12(tag, v)?
                }
                tags::READER_CVM_REQUIRED_LIMIT => config.cvm_required_limit = n12(tag, v)?,
                tags::MAX_LIFETIME_OF_TORN_RECORD => {
                    config.max_torn_lifetime_s = u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::MAX_NUMBER_OF_TORN_RECORDS => {
                    config.max_torn_records = fixed::<1>(tag, v)?[0]
                }
                tags::MESSAGE_HOLD_TIME => {
                    let bytes = fixed::<3>(tag, v)?;
                    let value = crate::values::bcd::bcd_to_u64(&bytes)
                        .map_err(|_| C2ConfigError::NotBcd(tag))?;
                    config.message_hold_time = u16::try_from(value).unwrap_or(u16::MAX);
                }
                crate::tags::APPLICATION_VERSION_NUMBER_TERMINAL => {
                    config.application_version = fixed(tag, v)?
                }
                tags::MIN_RELAY_RESISTANCE_GRACE_PERIOD => {
                    config.relay_resistance.min_grace_period = u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::MAX_RELAY_RESISTANCE_GRACE_PERIOD => {
                    config.relay_resistance.max_grace_period = u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::TERMINAL_EXPECTED_TIME_C_APDU => {
                    config.relay_resistance.terminal_expected_c_apdu =
                        u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::TERMINAL_EXPECTED_TIME_R_APDU => {
                    config.relay_resistance.terminal_expected_r_apdu =
                        u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::RELAY_RESISTANCE_ACCURACY_THRESHOLD => {
                    config.relay_resistance.accuracy_threshold = u16::from_be_bytes(fixed(tag, v)?)
                }
                tags::RELAY_RESISTANCE_MISMATCH_THRESHOLD => {
                    config.relay_resistance.mismatch_threshold = fixed::<1>(tag, v)?[0]
                }
                _ => {}
            }
        }
        Ok(config)
    }

    /// The configuration as TLVs (`DF810C` first), the inverse of [`C2Config::from_tlv`].
    pub fn to_tlv(&self) -> Vec<u8> {
        let rr = &self.relay_resistance;
        let hold = crate::values::bcd::u64_to_bcd::<3>(u64::from(self.message_hold_time))
            .unwrap_or([0x99; 3]);
        let objects: [(Tag, &[u8]); 23] = [
            (tags::KERNEL_ID, &[0x02]),
            (
                tags::CARD_DATA_INPUT_CAPABILITY,
                &[self.card_data_input_capability],
            ),
            (
                tags::CVM_CAPABILITY_CVM_REQUIRED,
                &[self.cvm_capability_cvm_required],
            ),
            (
                tags::CVM_CAPABILITY_NO_CVM_REQUIRED,
                &[self.cvm_capability_no_cvm_required],
            ),
            (
                tags::KERNEL_CONFIGURATION,
                &[self.kernel_configuration.to_byte()],
            ),
            (tags::SECURITY_CAPABILITY, &[self.security_capability]),
            (tags::TAC_DEFAULT, &self.tac_default),
            (tags::TAC_DENIAL, &self.tac_denial),
            (tags::TAC_ONLINE, &self.tac_online),
            (
                tags::READER_CONTACTLESS_FLOOR_LIMIT,
                &n12_bytes(self.floor_limit),
            ),
            (
                tags::TRANSACTION_LIMIT_NO_ON_DEVICE_CVM,
                &n12_bytes(self.transaction_limit_no_on_device_cvm),
            ),
            (
                tags::TRANSACTION_LIMIT_ON_DEVICE_CVM,
                &n12_bytes(self.transaction_limit_on_device_cvm),
            ),
            (
                tags::READER_CVM_REQUIRED_LIMIT,
                &n12_bytes(self.cvm_required_limit),
            ),
            (
                tags::MAX_LIFETIME_OF_TORN_RECORD,
                &self.max_torn_lifetime_s.to_be_bytes(),
            ),
            (tags::MAX_NUMBER_OF_TORN_RECORDS, &[self.max_torn_records]),
            (tags::MESSAGE_HOLD_TIME, &hold),
            (
                crate::tags::APPLICATION_VERSION_NUMBER_TERMINAL,
                &self.application_version,
            ),
            (
                tags::MIN_RELAY_RESISTANCE_GRACE_PERIOD,
                &rr.min_grace_period.to_be_bytes(),
            ),
            (
                tags::MAX_RELAY_RESISTANCE_GRACE_PERIOD,
                &rr.max_grace_period.to_be_bytes(),
            ),
            (
                tags::TERMINAL_EXPECTED_TIME_C_APDU,
                &rr.terminal_expected_c_apdu.to_be_bytes(),
            ),
            (
                tags::TERMINAL_EXPECTED_TIME_R_APDU,
                &rr.terminal_expected_r_apdu.to_be_bytes(),
            ),
            (
                tags::RELAY_RESISTANCE_ACCURACY_THRESHOLD,
                &rr.accuracy_threshold.to_be_bytes(),
            ),
            (
                tags::RELAY_RESISTANCE_MISMATCH_THRESHOLD,
                &[rr.mismatch_threshold],
            ),
        ];
        let mut out = Vec::new();
        for (tag, value) in objects {
            tlv::encode(tag, value, &mut out);
        }
        out
    }

    /// Whether the reader supports CDA (`DF811F` b4).
    pub fn cda_supported(&self) -> bool {
        self.security_capability & SECURITY_CAPABILITY_CDA != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_round_trip() {
        let mut config = C2Config {
            floor_limit: 12_345,
            cvm_required_limit: 5_000,
            max_torn_records: 3,
            ..C2Config::default()
        };
        config.relay_resistance.max_grace_period = 77;
        config.kernel_configuration.relay_resistance_supported = false;
        let bytes = config.to_tlv();
        assert_eq!(C2Config::from_tlv(&bytes), Ok(config));
    }

    #[test]
    fn bad_objects_are_typed_errors() {
        assert_eq!(
            C2Config::from_tlv(&hex::decode("DF810C0103").unwrap()),
            Err(C2ConfigError::WrongKernel(3))
        );
        assert!(matches!(
            C2Config::from_tlv(&hex::decode("DF81230100").unwrap()),
            Err(C2ConfigError::Length { len: 1, .. })
        ));
        assert_eq!(
            C2Config::from_tlv(&hex::decode("DF8126060000000000AA").unwrap()),
            Err(C2ConfigError::NotBcd(tags::READER_CVM_REQUIRED_LIMIT))
        );
        assert!(matches!(
            C2Config::from_tlv(&[0xDF, 0x81]),
            Err(C2ConfigError::Tlv(_))
        ));
    }
}
