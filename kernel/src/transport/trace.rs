//! Masked APDU traces (cargo feature `tracing`): one `tracing::debug!` event per low-level
//! exchange of the [`ApduLayer`](super::ApduLayer), target `quickpass_kernel::apdu`.
//!
//! Fields: `header` (CLA INS P1 P2), `command_len`, `response_len`, `sw`, and the bodies
//! `command_data` and `response_data`, masked:
//!
//! - Command data is shown only for SELECT (`A4`: an AID or a file name). Any other command
//!   data — PIN blocks of VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER, DOL data,
//!   purse and PSAM commands carrying the card serial, MACs, keys — is `<n bytes hidden>`.
//! - Response data is dumped through [`crate::dump`] (which masks the PAN `5A`, track 2 `57`,
//!   `9F6B`, the T-Union `9F0C` copy of EF15 and every other object the dictionary marks
//!   sensitive) only when it is a well-formed BER-TLV sequence starting with a template (`6F`,
//!   `70`, `77`) or a format 1 response (`80`) to GPO or GENERATE AC; the values of
//!   certificates, key remainders and exponents and signed data (`90`, `92`, `93`, `9F2D`,
//!   `9F2E`, `9F2F`, `9F46`, `9F47`, `9F48`, `9F4B`) are then hidden as well. Anything else —
//!   purse responses, EF15 read by READ BINARY, log records, a GET RESPONSE fragment — is
//!   `<n bytes hidden>`.
//!
//! The layer has already replaced PIN block bytes with `FF` before this module sees a
//! command; this module hides them again regardless.

use crate::dump;
use crate::tlv;
use alloc::{borrow::ToOwned, format, string::String, vec::Vec};

/// Tags whose values a trace never shows, beyond the dictionary's sensitive tags:
/// certificates, key parts and signatures (EMV Book 2 §5–6, PBOC SM2 alike).
const HIDDEN_IN_TRACES: [u32; 10] = [
    0x90, 0x92, 0x93, 0x9F2D, 0x9F2E, 0x9F2F, 0x9F46, 0x9F47, 0x9F48, 0x9F4B,
];

const INS_SELECT: u8 = 0xA4;
const INS_GPO: u8 = 0xA8;
const INS_GENERATE_AC: u8 = 0xAE;

fn hidden(len: usize) -> String {
    format!("<{len} bytes hidden>")
}

/// The command data as a trace may show it.
fn command_data(command: &[u8]) -> String {
    let data = match command.get(4) {
        Some(&lc) if command.len() > 5 => command.get(5..5 + usize::from(lc)).unwrap_or(&[]),
        _ => &[],
    };
    if data.is_empty() {
        return String::new();
    }
    if command.get(1) == Some(&INS_SELECT) {
        hex::encode_upper(data)
    } else {
        hidden(data.len())
    }
}

/// The response data as a trace may show it.
fn response_data(ins: Option<u8>, data: &[u8]) -> String {
    if data.is_empty() {
        return String::new();
    }
    let dumpable = match data[0] {
        0x6F | 0x70 | 0x77 => true,
        0x80 => matches!(ins, Some(INS_GPO | INS_GENERATE_AC)),
        _ => false,
    };
    if !dumpable || tlv::parse_sequence(data).is_err() {
        return hidden(data.len());
    }
    dump::dump(data)
        .lines()
        .map(mask_line)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A dump line with the value of a [`HIDDEN_IN_TRACES`] tag replaced by its length.
fn mask_line(line: &str) -> String {
    let trimmed = line.trim_start();
    let tag = trimmed
        .split(' ')
        .next()
        .and_then(|t| u32::from_str_radix(t, 16).ok());
    match (tag, trimmed.find("]: ")) {
        (Some(tag), Some(at)) if HIDDEN_IN_TRACES.contains(&tag) => {
            format!("{}]: <hidden>", &line[..line.len() - trimmed.len() + at])
        }
        _ => line.trim_end().to_owned(),
    }
}

/// Emits the event for one exchange (`reply` is `None` when the transport failed).
pub(super) fn exchange(command: &[u8], reply: Option<&[u8]>) {
    let header = hex::encode_upper(command.get(..4).unwrap_or(command));
    let command_data = command_data(command);
    let Some(reply) = reply else {
        tracing::debug!(
            target: "quickpass_kernel::apdu",
            header = %header,
            command_len = command.len(),
            command_data = %command_data,
            "apdu: transport failed"
        );
        return;
    };
    let (data, sw) = reply.split_at(reply.len().saturating_sub(2));
    tracing::debug!(
        target: "quickpass_kernel::apdu",
        header = %header,
        command_len = command.len(),
        response_len = reply.len(),
        sw = %hex::encode_upper(sw),
        command_data = %command_data,
        response_data = %response_data(command.get(1).copied(), data),
        "apdu"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use core::fmt::Write as _;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use crate::apdu::Command;
    use crate::transport::{ApduLayer, Transport};

    /// Collects every event as `name=value` text, one line per event.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<String>>>);

    struct Line<'a>(&'a mut String);

    impl Visit for Line<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn core::fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    impl Subscriber for Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut line = format!("{} ", event.metadata().target());
            event.record(&mut Line(&mut line));
            self.0.lock().unwrap().push(line);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Answers each command with the next scripted response.
    struct Script(Vec<Vec<u8>>);

    #[derive(Debug)]
    struct Gone;
    impl core::fmt::Display for Gone {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("card gone")
        }
    }
    impl core::error::Error for Gone {}
    impl crate::transport::TransportError for Gone {}

    impl Transport for Script {
        type Error = Gone;
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, Gone> {
            if self.0.is_empty() {
                return Err(Gone);
            }
            Ok(self.0.remove(0))
        }
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const PAN: &str = "6228480012345678901";
    const TRACK2: &str = "6228480012345678901D30122011234567890F";
    const CERT: &str = "5E8A3C71D2049B6FA1C3";
    const PIN_BLOCK: &str = "241234FFFFFFFFFF";
    const SERIAL: &str = "0312345678909876";

    #[test]
    fn traces_mask_pan_pin_block_certificates_and_card_serial() {
        // A record with PAN, track 2, expiry and (a piece of) an issuer certificate.
        let inner = h(&format!(
            "5A 0A {PAN}F 57 13 {TRACK2} 5F24 03 301231 90 0A {CERT}"
        ));
        let mut record_response = vec![0x70, inner.len() as u8];
        record_response.extend(&inner);
        record_response.extend([0x90, 0x00]);
        // READ BINARY of EF15 (raw, 30 bytes, the card serial at bytes 10..20).
        let ef15 = h(&format!(
            "{} {SERIAL}0000 {} 9000",
            "00".repeat(10),
            "00".repeat(10)
        ));
        assert_eq!(ef15.len(), 32);
        let mut layer = ApduLayer::new(Script(vec![
            h("6F10 840E 325041592E5359532E4444463031 9000"),
            record_response,
            h("63C2"),
            ef15,
        ]));
        let collect = Collect::default();
        let events = collect.0.clone();
        tracing::subscriber::with_default(collect, || {
            layer.exchange(&Command::select_ppse()).unwrap();
            let read_record = Command::header_only(0x00, 0xB2, 0x01, 0x0C, Some(0));
            layer.exchange(&read_record).unwrap();
            let pin_block: [u8; 8] = h(PIN_BLOCK).try_into().unwrap();
            layer
                .exchange(&Command::verify_plaintext(&pin_block))
                .unwrap();
            let read_binary = Command::header_only(0x00, 0xB0, 0x95, 0x00, Some(0x1E));
            layer.exchange(&read_binary).unwrap();
            // The transport fails: still one event, no data.
            assert!(layer.exchange(&Command::select_ppse()).is_err());
        });
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 5, "{events:#?}");
        assert!(events
            .iter()
            .all(|e| e.starts_with("quickpass_kernel::apdu ")));
        let all = events.join("\n");
        for secret in [PAN, TRACK2, CERT, &PIN_BLOCK[..6], SERIAL, "12345678901"] {
            assert!(!all.contains(secret), "{secret} in {all}");
            assert!(!all.contains(&secret.to_lowercase()), "{secret} in {all}");
        }
        // What a trace is for is still there: headers, lengths, status words, the AID, the
        // masked PAN, the certificate's length.
        assert!(events[0].contains("header=00A40400"), "{}", events[0]);
        assert!(events[0].contains("325041592E5359532E4444463031"));
        assert!(events[0].contains("sw=9000"));
        assert!(events[1].contains("header=00B2010C"), "{}", events[1]);
        assert!(events[1].contains("622848*********8901"), "{}", events[1]);
        assert!(events[1].contains("[10]: <hidden>"), "{}", events[1]);
        assert!(events[1].contains("5F24"), "{}", events[1]);
        assert!(events[2].contains("header=00200080"), "{}", events[2]);
        assert!(events[2].contains("command_data=<8 bytes hidden>"));
        assert!(events[2].contains("sw=63C2"));
        assert!(
            events[3].contains("response_data=<30 bytes hidden>"),
            "{}",
            events[3]
        );
        assert!(events[4].contains("transport failed"), "{}", events[4]);
    }

    #[test]
    fn masking_rules() {
        use super::{command_data, mask_line, response_data};
        assert_eq!(command_data(&h("00B2010C00")), "");
        assert_eq!(command_data(&h("80A8000002830000")), "<2 bytes hidden>");
        // A truncated command: never a panic, nothing shown.
        assert_eq!(command_data(&h("00A40400FFA0")), "");
        assert_eq!(response_data(Some(0xB0), &h("6F")), "<1 bytes hidden>");
        assert_eq!(response_data(Some(0xA8), &h("8002")), "<2 bytes hidden>");
        assert_eq!(
            response_data(Some(0x88), &h("80021234")),
            "<4 bytes hidden>"
        );
        assert!(response_data(Some(0xA8), &h("80021234")).contains("1234"));
        assert_eq!(
            mask_line("  9F46 ICC Public Key Certificate [3]: 0102AB"),
            "  9F46 ICC Public Key Certificate [3]: <hidden>"
        );
        assert_eq!(mask_line("  9F36 ATC [2]: 0001"), "  9F36 ATC [2]: 0001");
    }
}
