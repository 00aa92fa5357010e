//! Online processing and issuer-to-card script processing (EMV Book 3 §10.9, §10.10): the host
//! response (ARC `8A`, issuer authentication data `91`, scripts `71`/`72`), the script
//! commands, and the issuer script results `9F5B`.

use crate::apdu::Command;
use crate::tag::Tag;
use crate::tags;
use crate::tlv::{self, TlvIter};
use crate::transport::{ApduLayer, ExchangeError, Transport};
use alloc::vec::Vec;

/// `9F5B` issuer script results, from the tag dictionary.
pub use crate::tags::ISSUER_SCRIPT_RESULTS;

/// What the host answered to the authorisation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResponse {
    /// Authorisation response code `8A` (2 characters, e.g. `"00"`).
    pub arc: [u8; 2],
    /// Issuer authentication data `91` (8–16 bytes; for PBOC ARPC method 1, ARPC ‖ ARC).
    pub issuer_authentication_data: Option<Vec<u8>>,
    /// Issuer script templates `71` / `72`, concatenated as received (may be empty).
    pub scripts: Vec<u8>,
}

impl HostResponse {
    /// A response with no issuer authentication data and no scripts.
    pub fn new(arc: [u8; 2]) -> Self {
        HostResponse {
            arc,
            issuer_authentication_data: None,
            scripts: Vec::new(),
        }
    }

    /// True when the ARC approves: `00` approved, `08` honour with identification, `10`
    /// partial approval, `11` VIP approval (ISO 8583 response codes; ⚠ which codes approve is
    /// acquirer policy, EMV leaves it open).
    pub fn approved(&self) -> bool {
        matches!(&self.arc, b"00" | b"08" | b"10" | b"11")
    }
}

/// ARC the terminal puts in CDOL2 when it could not go online and approves offline (`Y3`).
pub const ARC_UNABLE_ONLINE_APPROVED: [u8; 2] = *b"Y3";
/// ARC the terminal puts in CDOL2 when it could not go online and declines offline (`Z3`).
pub const ARC_UNABLE_ONLINE_DECLINED: [u8; 2] = *b"Z3";

/// One issuer script, as parsed from a `71` or `72` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerScript {
    /// `71` (before the final GENERATE AC) or `72` (after).
    pub template: Tag,
    /// Script identifier `9F18`, zeros when absent.
    pub identifier: [u8; 4],
    /// The commands (`86` values), in order.
    pub commands: Vec<Vec<u8>>,
    /// The template was malformed (unparseable TLV, a bad identifier, an empty script): it is
    /// not run and counts as failed.
    pub malformed: bool,
}

/// Splits the host's script bytes into scripts; never fails (a malformed template becomes a
/// script marked `malformed`, and the scan stops at bytes that are not TLV).
pub fn parse_scripts(bytes: &[u8]) -> Vec<IssuerScript> {
    let mut scripts = Vec::new();
    for object in TlvIter::new(bytes) {
        let Ok(object) = object else {
            scripts.push(IssuerScript {
                template: tags::ISSUER_SCRIPT_TEMPLATE_1,
                identifier: [0; 4],
                commands: Vec::new(),
                malformed: true,
            });
            break;
        };
        let template = object.tag();
        if template != tags::ISSUER_SCRIPT_TEMPLATE_1 && template != tags::ISSUER_SCRIPT_TEMPLATE_2
        {
            continue;
        }
        let mut script = IssuerScript {
            template,
            identifier: [0; 4],
            commands: Vec::new(),
            malformed: false,
        };
        for child in object.children() {
            match child {
                Ok(c) if c.tag() == tags::ISSUER_SCRIPT_IDENTIFIER => {
                    match <[u8; 4]>::try_from(c.value()) {
                        Ok(id) => script.identifier = id,
                        Err(_) => script.malformed = true,
                    }
                }
                Ok(c) if c.tag() == tags::ISSUER_SCRIPT_COMMAND => {
                    script.commands.push(c.value().to_vec())
                }
                Ok(_) => {}
                Err(_) => {
                    script.malformed = true;
                    break;
                }
            }
        }
        if script.commands.is_empty() {
            script.malformed = true;
        }
        scripts.push(script);
    }
    scripts
}

/// Reads a script command `CLA INS P1 P2 [Lc data] [Le]` into a [`Command`].
pub fn script_command(bytes: &[u8]) -> Option<Command> {
    let [cla, ins, p1, p2, rest @ ..] = bytes else {
        return None;
    };
    match rest {
        [] => Some(Command::header_only(*cla, *ins, *p1, *p2, None)),
        [le] => Some(Command::header_only(*cla, *ins, *p1, *p2, Some(*le))),
        [lc, body @ ..] => {
            let lc = usize::from(*lc);
            let (data, le) = match body.len().checked_sub(lc)? {
                0 => (body, None),
                1 => (&body[..lc], body.last().copied()),
                _ => return None,
            };
            if lc == 0 {
                return None;
            }
            Command::new(*cla, *ins, *p1, *p2, data.to_vec(), le).ok()
        }
    }
}

/// How a script ended (the high nibble of byte 1 of its `9F5B` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStatus {
    /// `0`: not performed.
    NotPerformed,
    /// `1`: processing failed.
    Failed,
    /// `2`: processing successful.
    Successful,
}

/// One script's result (5 bytes of `9F5B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptResult {
    /// How it ended.
    pub status: ScriptStatus,
    /// Sequence number (1-based) of the failing command, `0` when none failed, `F` for the
    /// fifteenth and later.
    pub sequence: u8,
    /// Script identifier (`9F18`, zeros when absent).
    pub identifier: [u8; 4],
    /// `71` or `72`.
    pub template: Tag,
}

impl ScriptResult {
    /// The 5-byte `9F5B` entry: status nibble ‖ sequence nibble, identifier.
    pub fn to_bytes(&self) -> [u8; 5] {
        let status = match self.status {
            ScriptStatus::NotPerformed => 0x00,
            ScriptStatus::Failed => 0x10,
            ScriptStatus::Successful => 0x20,
        };
        let [a, b, c, d] = self.identifier;
        [status | (self.sequence.min(0x0F)), a, b, c, d]
    }
}

/// The `9F5B` value for a list of results.
pub fn script_results_bytes(results: &[ScriptResult]) -> Vec<u8> {
    results.iter().flat_map(|r| r.to_bytes()).collect()
}

/// Runs every script of `template` (`71` or `72`) against the card (§10.10): commands in order;
/// SW1 `90`, `62` or `63` is success, anything else fails the script and skips its remaining
/// commands. Returns the results and whether any script failed.
pub fn run_scripts<T: Transport>(
    layer: &mut ApduLayer<T>,
    scripts: &[IssuerScript],
    template: Tag,
) -> Result<(Vec<ScriptResult>, bool), ExchangeError<T::Error>> {
    let mut results = Vec::new();
    let mut any_failed = false;
    for script in scripts.iter().filter(|s| s.template == template) {
        let mut result = ScriptResult {
            status: ScriptStatus::Successful,
            sequence: 0,
            identifier: script.identifier,
            template,
        };
        if script.malformed {
            result.status = ScriptStatus::Failed;
        }
        for (index, bytes) in script.commands.iter().enumerate() {
            if result.status != ScriptStatus::Successful {
                break;
            }
            let sequence = u8::try_from(index + 1).unwrap_or(0x0F).min(0x0F);
            let ok = match script_command(bytes) {
                Some(command) => {
                    let response = layer.exchange(&command)?;
                    matches!(response.sw.sw1(), 0x90 | 0x62 | 0x63)
                }
                None => false,
            };
            if !ok {
                result.status = ScriptStatus::Failed;
                result.sequence = sequence;
            }
        }
        any_failed |= result.status == ScriptStatus::Failed;
        results.push(result);
    }
    Ok((results, any_failed))
}

/// Objects of the host response as TLV, for a trace (`8A`, `91`).
pub fn response_objects(response: &HostResponse) -> Vec<u8> {
    let mut out = Vec::new();
    tlv::encode(tags::AUTHORISATION_RESPONSE_CODE, &response.arc, &mut out);
    if let Some(iad) = &response.issuer_authentication_data {
        tlv::encode(tags::ISSUER_AUTHENTICATION_DATA, iad, &mut out);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_results_encode() {
        // Truncated TLV: one malformed script, nothing run.
        let scripts = parse_scripts(&[0x71, 0x05, 0x86, 0x01]);
        assert_eq!(scripts.len(), 1);
        assert!(scripts[0].malformed);

        let mut body = Vec::new();
        tlv::encode(tags::ISSUER_SCRIPT_IDENTIFIER, &[1, 2, 3, 4], &mut body);
        tlv::encode(
            tags::ISSUER_SCRIPT_COMMAND,
            &[0x84, 0x1E, 0, 0, 4, 9, 9, 9, 9],
            &mut body,
        );
        let mut bytes = tlv::encoded(tags::ISSUER_SCRIPT_TEMPLATE_1, &body);
        bytes.extend(tlv::encoded(
            tags::ISSUER_SCRIPT_TEMPLATE_2,
            &tlv::encoded(tags::ISSUER_SCRIPT_COMMAND, &[0x84, 0x18, 0, 0]),
        ));
        let scripts = parse_scripts(&bytes);
        assert_eq!(scripts.len(), 2);
        assert_eq!(scripts[0].identifier, [1, 2, 3, 4]);
        assert_eq!(scripts[0].template, tags::ISSUER_SCRIPT_TEMPLATE_1);
        assert!(!scripts[0].malformed && !scripts[1].malformed);
        assert_eq!(scripts[1].template, tags::ISSUER_SCRIPT_TEMPLATE_2);
        // An empty template is malformed.
        assert!(parse_scripts(&[0x71, 0x00])[0].malformed);

        let r = ScriptResult {
            status: ScriptStatus::Failed,
            sequence: 2,
            identifier: [1, 2, 3, 4],
            template: tags::ISSUER_SCRIPT_TEMPLATE_1,
        };
        assert_eq!(r.to_bytes(), [0x12, 1, 2, 3, 4]);
        let ok = ScriptResult {
            status: ScriptStatus::Successful,
            sequence: 0,
            ..r
        };
        assert_eq!(
            script_results_bytes(&[r, ok]),
            vec![0x12, 1, 2, 3, 4, 0x20, 1, 2, 3, 4]
        );
    }

    #[test]
    fn script_commands() {
        let c = script_command(&[0x84, 0x1E, 0, 0, 4, 1, 2, 3, 4]).unwrap();
        assert_eq!(c.to_bytes(), vec![0x84, 0x1E, 0, 0, 4, 1, 2, 3, 4]);
        let c = script_command(&[0x84, 0x1E, 0, 0, 2, 1, 2, 0]).unwrap();
        assert_eq!(c.le(), Some(0));
        assert!(script_command(&[0x84, 0x1E, 0]).is_none());
        assert!(script_command(&[0x84, 0x1E, 0, 0, 5, 1]).is_none());
        assert!(script_command(&[0x84, 0x1E, 0, 0, 1, 1, 2, 3]).is_none());
        assert_eq!(
            script_command(&[0x80, 0xCA, 0x9F, 0x36])
                .unwrap()
                .to_bytes(),
            vec![0x80, 0xCA, 0x9F, 0x36]
        );
    }

    #[test]
    fn approval_codes() {
        assert!(HostResponse::new(*b"00").approved());
        assert!(!HostResponse::new(*b"05").approved());
        assert!(!HostResponse::new(*b"51").approved());
        assert!(!HostResponse::new(ARC_UNABLE_ONLINE_DECLINED).approved());
    }
}
