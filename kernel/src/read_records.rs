//! READ RECORD for every record of the AFL (EMV Book 3 §10.2; JR/T 0025.12 for qPBOC), shared
//! by the contactless and contact flows; and the GPO response that holds the AFL.

use crate::afl::{self, StaticData, StaticDataError};
use crate::apdu::Command;
use crate::card_data::CardData;
use crate::error::{aip_check, malformed, CardObject, KernelError, Malformation};
use crate::tags;
use crate::tlv::{self, TlvIter};
use crate::transport::{ApduLayer, Transport};
use crate::values::StatusWord;
use alloc::vec::Vec;

/// Whether the card must give an AFL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AflPolicy {
    /// Contact EMV / PBOC: the AFL is mandatory (Book 3 §10.2, Annex A); a GPO answer without
    /// one is malformed.
    Mandatory,
    /// qPBOC: an online-only card may answer the GPO without an AFL (nothing to read; JR/T
    /// 0025.12 §7.4).
    Optional,
}

/// Reads a GPO response, format 1 (`80`: AIP ‖ AFL) or format 2 (`77`), into the card data;
/// the AIP must be there, 2 bytes (Book 3 §6.5.8.4).
pub fn absorb_gpo_response<E: core::error::Error + 'static>(
    card: &mut CardData,
    data: &[u8],
) -> Result<(), KernelError<E>> {
    let bad = |reason: Malformation| malformed(CardObject::GpoResponse, reason);
    let response = tlv::parse_single(data).map_err(|e| bad(e.into()))?;
    match response.tag() {
        tags::RESPONSE_TEMPLATE_FORMAT_1 => {
            let value = response.value();
            if value.len() < 2 || (value.len() - 2) % 4 != 0 {
                return Err(bad(Malformation::BadLength {
                    tag: tags::RESPONSE_TEMPLATE_FORMAT_1,
                    len: value.len(),
                }));
            }
            card.insert(tags::AIP, &value[..2]);
            card.insert(tags::AFL, &value[2..]);
        }
        tags::RESPONSE_TEMPLATE_FORMAT_2 => card
            .absorb(TlvIter::with_offset(
                response.value(),
                response.value_offset(),
            ))
            .map_err(|e| bad(e.into()))?,
        other => return Err(bad(Malformation::UnexpectedTemplate(other))),
    }
    aip_check(card.get(tags::AIP).map(<[u8]>::len)).map_err(bad)
}

/// READ RECORD for every record of the AFL, in order: a refusal, or a record of SFI 1–10 that
/// is not a `70` template, ends the flow. Returns the static data to be authenticated (or why
/// it could not be assembled).
pub fn read_records<T: Transport>(
    layer: &mut ApduLayer<T>,
    card: &mut CardData,
    policy: AflPolicy,
) -> Result<Result<Vec<u8>, StaticDataError>, KernelError<T::Error>> {
    let entries = match (card.get(tags::AFL), policy) {
        (Some(afl), _) => afl::parse_afl(afl).map_err(|e| malformed(CardObject::Afl, e))?,
        (None, AflPolicy::Optional) => Vec::new(),
        (None, AflPolicy::Mandatory) => {
            return Err(malformed(
                CardObject::GpoResponse,
                Malformation::MissingTag(tags::AFL),
            ))
        }
    };
    let mut static_data = StaticData::default();
    for entry in &entries {
        for (record, signed) in entry.records() {
            let command = Command::read_record(record, entry.sfi)
                .map_err(|e| malformed(CardObject::Afl, e))?;
            let response = layer.exchange(&command)?;
            if response.sw != StatusWord::OK {
                return Err(KernelError::Refused {
                    command: "READ RECORD",
                    sw: response.sw,
                });
            }
            if signed {
                static_data.add_record(entry.sfi, record, &response.data);
            }
            if entry.sfi.value() <= 10 {
                afl::absorb_record(card, &response.data).map_err(|e| {
                    malformed(
                        CardObject::Record {
                            sfi: entry.sfi.value(),
                            record,
                        },
                        e,
                    )
                })?;
            }
        }
    }
    Ok(static_data.finish(card))
}
