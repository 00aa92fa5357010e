//! The C-2 relay resistance protocol (pboc-notes §9.5): EXCHANGE RELAY RESISTANCE DATA
//! (`80 EA`), timed by the reader, judged against the card's own processing-time bounds and
//! the reader's grace periods.
//!
//! ```text
//! ERRD(terminal entropy = UN) ─▶ 80 0A: device entropy ‖ min ‖ max ‖ device est. R-APDU time
//! measured = elapsed − terminal expected C-APDU − min(device est., terminal expected R-APDU)
//! measured < min − min grace           ─▶ card data error (end application)
//! measured > max + max grace           ─▶ retry (new UN) up to twice, then "time limits exceeded"
//! transmission mismatch / accuracy     ─▶ "threshold exceeded"
//! ```
//!
//! The kernel has no clock: the reader brings one ([`RelayEnvironment`]), with the source of
//! the fresh unpredictable number a retry needs.

use crate::apdu::Command;
use crate::error::{malformed, CardObject, KernelError, Malformation};
use crate::tlv;
use crate::transport::{ApduLayer, Transport};
use crate::values::StatusWord;

use super::config::RelayResistanceConfig;

/// What the reader brings to time the relay resistance exchange: a monotonic clock and fresh
/// unpredictable numbers (the kernel has neither).
pub trait RelayEnvironment {
    /// A monotonic time in microseconds (any origin).
    fn now_micros(&mut self) -> u64;
    /// A fresh unpredictable number, for a retried exchange.
    fn fresh_unpredictable_number(&mut self) -> [u8; 4];
}

/// The values of one relay resistance exchange (times in units of 100 µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RrpData {
    /// `DF8301` Terminal Relay Resistance Entropy (the unpredictable number sent).
    pub terminal_entropy: [u8; 4],
    /// `DF8302` Device Relay Resistance Entropy.
    pub device_entropy: [u8; 4],
    /// `DF8303` Min Time For Processing Relay Resistance APDU.
    pub min_time: u16,
    /// `DF8304` Max Time For Processing Relay Resistance APDU.
    pub max_time: u16,
    /// `DF8305` Device Estimated Transmission Time For Relay Resistance R-APDU.
    pub device_estimated_r_apdu: u16,
    /// `DF8306` Measured Relay Resistance Processing Time.
    pub measured: u16,
    /// `DF8307` RRP Counter: exchanges retried.
    pub counter: u8,
}

impl RrpData {
    /// The 14 bytes C-2 appends to the ICC dynamic data of a CDA signature when relay
    /// resistance was performed (⚠ pboc-notes §9.5): terminal entropy ‖ device entropy ‖ min ‖
    /// max ‖ device estimated R-APDU time.
    pub fn signed_bytes(&self) -> [u8; 14] {
        let mut out = [0u8; 14];
        out[..4].copy_from_slice(&self.terminal_entropy);
        out[4..8].copy_from_slice(&self.device_entropy);
        out[8..10].copy_from_slice(&self.min_time.to_be_bytes());
        out[10..12].copy_from_slice(&self.max_time.to_be_bytes());
        out[12..14].copy_from_slice(&self.device_estimated_r_apdu.to_be_bytes());
        out
    }
}

/// What relay resistance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RrpResult {
    /// The card (AIP byte 2 b1) or the reader (`DF811B`) does not support it.
    NotSupported,
    /// Performed, the card answered within the time limits.
    Performed {
        /// The exchange.
        data: RrpData,
        /// TVR byte 5 b4: the transmission times disagree or the card was slow beyond the
        /// accuracy threshold.
        threshold_exceeded: bool,
    },
    /// Performed, and the card answered too slowly every time (TVR byte 5 b3).
    TimeLimitsExceeded {
        /// The last exchange.
        data: RrpData,
    },
}

impl RrpResult {
    /// The exchange, when one was performed.
    pub fn data(&self) -> Option<&RrpData> {
        match self {
            RrpResult::NotSupported => None,
            RrpResult::Performed { data, .. } | RrpResult::TimeLimitsExceeded { data } => {
                Some(data)
            }
        }
    }

    /// TVR byte 5 as C-2 defines its low bits (⚠ pboc-notes §9.5: b4 threshold exceeded, b3
    /// time limits exceeded, b2–b1 `01` not performed / `10` performed). The PBOC meaning of
    /// those bits (SM2 key errors) does not apply to a C-2 transaction, so they are written as
    /// one byte here rather than as named `Tvr` bits.
    pub(crate) fn tvr_byte_5_bits(&self) -> u8 {
        match self {
            RrpResult::NotSupported => 0x01,
            RrpResult::Performed {
                threshold_exceeded, ..
            } => 0x02 | if *threshold_exceeded { 0x08 } else { 0x00 },
            RrpResult::TimeLimitsExceeded { .. } => 0x02 | 0x04,
        }
    }
}

/// EXCHANGE RELAY RESISTANCE DATA: `80 EA 00 00 04 <entropy> 00`.
pub(crate) fn errd_command(entropy: [u8; 4]) -> Command {
    // Four bytes of data always fit a short APDU.
    Command::new(0x80, 0xEA, 0x00, 0x00, entropy.to_vec(), Some(0x00))
        .unwrap_or_else(|_| Command::header_only(0x80, 0xEA, 0x00, 0x00, Some(0x00)))
}

/// Parses the ERRD answer: a `80` template of exactly 10 bytes.
pub(crate) fn parse_errd(data: &[u8]) -> Result<([u8; 4], u16, u16, u16), Malformation> {
    let root = tlv::parse_single(data)?;
    if root.tag() != crate::tags::RESPONSE_TEMPLATE_FORMAT_1 {
        return Err(Malformation::UnexpectedTemplate(root.tag()));
    }
    let v = root.value();
    let v: [u8; 10] = v.try_into().map_err(|_| Malformation::BadLength {
        tag: crate::tags::RESPONSE_TEMPLATE_FORMAT_1,
        len: v.len(),
    })?;
    let word = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
    Ok(([v[0], v[1], v[2], v[3]], word(4), word(6), word(8)))
}

/// How many times an exchange that took too long is retried (C-2: the RRP counter stops at 2).
const MAX_RETRIES: u8 = 2;

/// Runs the protocol. `unpredictable_number` is the transaction's `9F37`; a retry replaces it
/// (the new value is the one CDOL1 and CDA then use).
pub(crate) fn perform<T: Transport>(
    layer: &mut ApduLayer<T>,
    env: &mut dyn RelayEnvironment,
    config: &RelayResistanceConfig,
    unpredictable_number: &mut [u8; 4],
) -> Result<RrpResult, KernelError<T::Error>> {
    let mut counter = 0u8;
    loop {
        let entropy = *unpredictable_number;
        let start = env.now_micros();
        let response = layer.exchange(&errd_command(entropy))?;
        let elapsed = env.now_micros().saturating_sub(start) / 100;
        if response.sw != StatusWord::OK {
            return Err(KernelError::Refused {
                command: "EXCHANGE RELAY RESISTANCE DATA",
                sw: response.sw,
            });
        }
        let (device_entropy, min_time, max_time, device_estimated_r_apdu) =
            parse_errd(&response.data).map_err(|e| malformed(CardObject::RelayResistance, e))?;
        let expected_r = device_estimated_r_apdu.min(config.terminal_expected_r_apdu);
        let measured = elapsed
            .saturating_sub(u64::from(config.terminal_expected_c_apdu))
            .saturating_sub(u64::from(expected_r));
        let data = RrpData {
            terminal_entropy: entropy,
            device_entropy,
            min_time,
            max_time,
            device_estimated_r_apdu,
            measured: u16::try_from(measured).unwrap_or(u16::MAX),
            counter,
        };
        // Faster than the card says it can be: the card's data cannot be trusted.
        if measured < u64::from(min_time.saturating_sub(config.min_grace_period)) {
            return Err(malformed(
                CardObject::RelayResistance,
                Malformation::InvalidValue(super::config::tags::MIN_TIME_FOR_PROCESSING_RR_APDU),
            ));
        }
        if measured > u64::from(max_time) + u64::from(config.max_grace_period) {
            if counter < MAX_RETRIES {
                counter += 1;
                *unpredictable_number = env.fresh_unpredictable_number();
                continue;
            }
            return Ok(RrpResult::TimeLimitsExceeded { data });
        }
        return Ok(RrpResult::Performed {
            data,
            threshold_exceeded: threshold_exceeded(&data, config),
        });
    }
}

/// The threshold checks (⚠ pboc-notes §9.5): the two transmission time estimates differ by
/// more than the mismatch threshold (either ratio below it, in percent), or the measured time
/// exceeds the card's minimum by more than the accuracy threshold.
fn threshold_exceeded(data: &RrpData, config: &RelayResistanceConfig) -> bool {
    let device = u32::from(data.device_estimated_r_apdu);
    let terminal = u32::from(config.terminal_expected_r_apdu);
    let threshold = u32::from(config.mismatch_threshold);
    let ratio_low = |a: u32, b: u32| b != 0 && a * 100 / b < threshold;
    ratio_low(device, terminal)
        || ratio_low(terminal, device)
        || u32::from(data.measured).saturating_sub(u32::from(data.min_time))
            > u32::from(config.accuracy_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errd_answers() {
        let ok = hex::decode("800A1122334400100020001A").unwrap();
        assert_eq!(
            parse_errd(&ok),
            Ok(([0x11, 0x22, 0x33, 0x44], 0x10, 0x20, 0x1A))
        );
        assert!(parse_errd(&hex::decode("80091122334400100020").unwrap()).is_err());
        assert!(parse_errd(&hex::decode("770A1122334400100020001A").unwrap()).is_err());
        assert!(parse_errd(&[]).is_err());
        assert_eq!(
            hex::encode_upper(errd_command([1, 2, 3, 4]).to_bytes()),
            "80EA0000040102030400"
        );
    }

    #[test]
    fn thresholds() {
        let config = RelayResistanceConfig::default();
        let mut data = RrpData {
            terminal_entropy: [0; 4],
            device_entropy: [0; 4],
            min_time: 10,
            max_time: 30,
            device_estimated_r_apdu: 18,
            measured: 20,
            counter: 0,
        };
        assert!(!threshold_exceeded(&data, &config));
        data.device_estimated_r_apdu = 5; // 5 / 18 = 27 % < 50 %
        assert!(threshold_exceeded(&data, &config));
        data.device_estimated_r_apdu = 18;
        data.measured = 10 + 301;
        assert!(threshold_exceeded(&data, &config));
    }
}
