//! The contactless GENERATE AC with CDA that the EMV-mode international kernels share
//! (Mastercard C-2, Amex C-4; pboc-notes §9.4): one command, one answer parser, one CDA check
//! run *after* the card has left the field, and RECOVER AC (`80 D0`) for C-2's torn
//! transactions, whose answer is the GENERATE AC answer the terminal never received.
//!
//! ```text
//! send_generate_ac:  80 AE P1 (b8-b7 cryptogram | b5 CDA) 00 Lc <CDOL1 data> 00 ─▶ AcResponse
//! recover_ac:        80 D0 00 00 Lc <DRDOL data> 00 ─▶ AcResponse | card does not have it
//! verify_cda:        SDAD 9F4B over (PDOL data ‖ CDOL1 data ‖ answer objects but 9F4B)
//!                    ─▶ CdaCheck (OdaReport; the AC and ICC dynamic data only when verified)
//! ```
//!
//! The C-2 / C-4 flows call the three in this order, so a tampered signature or cryptogram
//! can only ever give an unverified report: an offline approval needs the `OdaVerified` token
//! the report then lacks.

use alloc::vec::Vec;

use crate::apdu::{Command, RequestedCryptogram};
use crate::contact::{parse_ac_response, AcResponse};
use crate::dol::DolSource;
use crate::error::{malformed, CardObject, KernelError, Malformation};
use crate::oda::{self, CdaKey, OdaReport};
use crate::tag::{Format, Tag};
use crate::terminal_values::TerminalValues;
use crate::transport::{ApduLayer, Transport};
use crate::values::StatusWord;

/// The terminal values with a kernel's own objects laid over them: the DOL source of C-2's and
/// C-4's PDOL, CDOL1 and DRDOL (their reader capabilities, CVM results, TVR as the flow sets
/// them), falling back to the transaction's [`TerminalValues`].
pub(crate) struct KernelValues<'a> {
    terminal: &'a TerminalValues,
    extra: Vec<(Tag, Vec<u8>)>,
}

impl<'a> KernelValues<'a> {
    /// The terminal values with nothing laid over them yet.
    pub(crate) fn new(terminal: &'a TerminalValues) -> Self {
        KernelValues {
            terminal,
            extra: Vec::new(),
        }
    }

    /// Sets (or replaces) the kernel's value of `tag`.
    pub(crate) fn set(&mut self, tag: Tag, value: Vec<u8>) {
        match self.extra.iter_mut().find(|(t, _)| *t == tag) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((tag, value)),
        }
    }
}

impl DolSource for KernelValues<'_> {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.extra
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
            .or_else(|| self.terminal.get(tag))
    }

    fn format(&self, tag: Tag) -> Format {
        crate::tags::format_of(tag)
    }
}

/// The command name in refusals.
const GENERATE_AC: &str = "GENERATE AC";

/// Sends the first (and, in C-2 / C-4, only) GENERATE AC with `cdol_data` and parses the
/// answer (format 1 or 2). `cda` sets P1 b5; the C-2 kernels ask with CDA for a TC or an ARQC
/// when the card's AIP and the reader's security capability both have it.
pub(crate) fn send_generate_ac<T: Transport>(
    layer: &mut ApduLayer<T>,
    requested: RequestedCryptogram,
    cda: bool,
    cdol_data: &[u8],
) -> Result<AcResponse, KernelError<T::Error>> {
    let command = Command::generate_ac(requested, cda, cdol_data)
        .map_err(|e| malformed(CardObject::Cdol1, e))?;
    let response = layer.exchange(&command)?;
    if response.sw != StatusWord::OK {
        return Err(KernelError::Refused {
            command: GENERATE_AC,
            sw: response.sw,
        });
    }
    answer(&response.data, requested, cda, cdol_data)
}

/// RECOVER AC (`80 D0 00 00 Lc <DRDOL related data> 00`, C-2 torn transaction recovery,
/// pboc-notes §9.6): the card answers with the GENERATE AC answer of the torn transaction
/// when it holds one for these data, else a status word other than `9000` (`Ok(None)`: no
/// answer to recover, the kernel goes on with a fresh GENERATE AC). `requested`, `cda` and
/// `cdol_data` are the torn transaction's, needed to parse and verify the answer.
pub(crate) fn recover_ac<T: Transport>(
    layer: &mut ApduLayer<T>,
    drdol_data: &[u8],
    requested: RequestedCryptogram,
    cda: bool,
    cdol_data: &[u8],
) -> Result<Option<AcResponse>, KernelError<T::Error>> {
    let command = Command::new(0x80, 0xD0, 0x00, 0x00, drdol_data, Some(0x00))
        .map_err(|e| malformed(CardObject::FirstGenerateAc, e))?;
    let response = layer.exchange(&command)?;
    if response.sw != StatusWord::OK {
        return Ok(None);
    }
    answer(&response.data, requested, cda, cdol_data).map(Some)
}

fn answer<E: core::error::Error + 'static>(
    data: &[u8],
    requested: RequestedCryptogram,
    cda: bool,
    cdol_data: &[u8],
) -> Result<AcResponse, KernelError<E>> {
    let mut ac = parse_ac_response(data, requested, cda)
        .map_err(|e| malformed(CardObject::FirstGenerateAc, e))?;
    // A card may give less than asked (AAC < ARQC < TC), never more (EMV Book 3 §9.3).
    let given = ac.cid.cryptogram_type();
    if !given_allowed(requested, given) {
        return Err(malformed(
            CardObject::FirstGenerateAc,
            Malformation::InvalidValue(crate::tags::CID),
        ));
    }
    ac.cdol_data = cdol_data.to_vec();
    Ok(ac)
}

/// Whether the card may answer `given` to a request for `requested`: AAC always; ARQC to an
/// ARQC or TC request; TC only to a TC request.
fn given_allowed(requested: RequestedCryptogram, given: crate::bits::CryptogramType) -> bool {
    use crate::bits::CryptogramType as C;
    match given {
        C::Aac => true,
        C::Arqc => requested != RequestedCryptogram::Aac,
        C::Tc => requested == RequestedCryptogram::Tc,
        _ => false,
    }
}

/// The CDA check of one GENERATE AC / RECOVER AC answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CdaCheck {
    /// The ODA report (method CDA; verified only when every check passed).
    pub report: OdaReport,
    /// The application cryptogram inside the verified signature.
    pub application_cryptogram: Option<Vec<u8>>,
    /// The ICC dynamic data of the verified signature (C-2 appends the relay resistance
    /// values to it, pboc-notes §9.5).
    pub icc_dynamic_data: Option<Vec<u8>>,
}

/// Verifies the CDA signature of `ac` (EMV Book 2 §6.6.2): the transaction data hash code
/// covers the PDOL data sent, the CDOL1 data sent and the answer's objects other than `9F4B`,
/// in the order received; the signed CID must be the one returned.
pub(crate) fn verify_cda(
    key: &CdaKey,
    ac: &AcResponse,
    pdol_data: &[u8],
    unpredictable_number: &[u8],
) -> CdaCheck {
    let mut pieces: Vec<&[u8]> = alloc::vec![pdol_data, &ac.cdol_data];
    pieces.extend(ac.objects.iter().map(Vec::as_slice));
    let outcome = oda::run_cda(
        key,
        ac.sdad.as_deref(),
        unpredictable_number,
        &pieces,
        ac.cid.byte(),
    );
    CdaCheck {
        report: outcome.report,
        application_cryptogram: outcome.application_cryptogram,
        icc_dynamic_data: outcome.icc_dynamic_data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bits::CryptogramType;

    #[test]
    fn a_card_may_give_less_never_more() {
        use RequestedCryptogram as R;
        assert!(given_allowed(R::Tc, CryptogramType::Tc));
        assert!(given_allowed(R::Tc, CryptogramType::Arqc));
        assert!(given_allowed(R::Arqc, CryptogramType::Aac));
        assert!(!given_allowed(R::Arqc, CryptogramType::Tc));
        assert!(!given_allowed(R::Aac, CryptogramType::Arqc));
        assert!(!given_allowed(R::Aac, CryptogramType::Tc));
    }
}
