//! Offline data authentication in the flow (EMV Book 3 §10.3, Book 2 §5–6, EMV Book C-3 /
//! JR/T 0025.12 for fDDA): find the CA key, recover the issuer and ICC keys, check the
//! signature, consult the revocation list, and say in the TVR and TSI what happened.
//!
//! The only way to get an [`OdaVerified`] token — which an offline approval requires — is a
//! successful run here.

use alloc::{string::String, vec::Vec};
use quickpass_crypto::capk::{CapkIndex, PkAlgorithm, Rid};
use quickpass_crypto::date::Date;
use quickpass_crypto::oda::{self, IccPublicKey, IssuerPublicKey, OdaError, SdadFormats};

use crate::afl::StaticDataError;
use crate::bits::{Tsi, Tvr};
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::tag::Tag;
use crate::tags;
use crate::values::{Aid, StatusWord, TransactionDate};

/// Which ODA method ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OdaMethod {
    /// Static data authentication.
    Sda,
    /// Dynamic data authentication (INTERNAL AUTHENTICATE).
    Dda,
    /// Fast DDA (signature in the GPO response or a record; qPBOC / qVSDC).
    Fdda,
    /// Combined DDA / application cryptogram generation.
    Cda,
}

/// The ODA result as the outcome reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OdaStatus {
    /// ODA ran and every check passed.
    Ok,
    /// ODA ran and a check failed (or a needed object was missing).
    Fail,
    /// No ODA was performed.
    NotPerformed,
}

/// Why ODA failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OdaFailure {
    /// A data object ODA needs is missing (TVR byte 1 b6 "ICC data missing").
    #[error("ICC data missing: {0}")]
    IccDataMissing(Tag),
    /// The terminal has no usable CA public key for this RID and index.
    #[error("no CA public key {rid} index {index:02X}")]
    CaKeyMissing {
        /// RID (hex).
        rid: String,
        /// Index.
        index: u8,
    },
    /// The issuer certificate is on the revocation list.
    #[error("issuer certificate revoked")]
    Revoked,
    /// The static data could not be assembled.
    #[error(transparent)]
    StaticData(StaticDataError),
    /// A certificate or signature check failed.
    #[error(transparent)]
    Crypto(OdaError),
    /// The card refused the command that returns the signature (INTERNAL AUTHENTICATE).
    #[error("card refused INTERNAL AUTHENTICATE with {0}")]
    CardRefused(StatusWord),
    /// The card's answer carrying the signature is not a `80` / `77` template with it.
    #[error("malformed {0} response")]
    MalformedResponse(&'static str),
    /// The DDOL in use (the card's `9F49` or the default DDOL) does not ask for the
    /// unpredictable number `9F37` (EMV Book 2 §6.5.1).
    #[error("DDOL without the unpredictable number")]
    DdolWithoutUnpredictableNumber,
}

/// Proof that ODA succeeded; only this module makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OdaVerified {
    _private: (),
}

#[cfg(test)]
impl OdaVerified {
    /// A token for unit tests of decisions downstream of ODA.
    pub(crate) fn for_tests() -> Self {
        OdaVerified { _private: () }
    }
}

/// What ODA did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdaReport {
    /// The method that ran, if any.
    pub method: Option<OdaMethod>,
    /// The verified token, when ODA succeeded.
    pub verified: Option<OdaVerified>,
    /// Why it failed, when it did.
    pub failure: Option<OdaFailure>,
    /// Recovered issuer public key modulus (public data).
    pub issuer_public_key: Option<Vec<u8>>,
    /// Recovered ICC public key modulus (public data).
    pub icc_public_key: Option<Vec<u8>>,
    /// ICC dynamic number from the verified signature.
    pub icc_dynamic_number: Option<Vec<u8>>,
    /// The signed data format of the verified fDDA signature: `05` (EMV, PBOC), `95` (Visa
    /// fDDA, pboc-notes §8.3) or `15` (SM2).
    pub signed_data_format: Option<u8>,
}

impl OdaReport {
    /// No ODA performed.
    pub fn not_performed() -> Self {
        OdaReport {
            method: None,
            verified: None,
            failure: None,
            issuer_public_key: None,
            icc_public_key: None,
            icc_dynamic_number: None,
            signed_data_format: None,
        }
    }

    /// The status for the outcome.
    pub fn status(&self) -> OdaStatus {
        match (self.method, self.verified) {
            (None, _) => OdaStatus::NotPerformed,
            (Some(_), Some(_)) => OdaStatus::Ok,
            (Some(_), None) => OdaStatus::Fail,
        }
    }

    /// Sets the TVR and TSI bits EMV Book 3 §10.3 names for this result.
    pub fn apply(&self, tvr: &mut Tvr, tsi: &mut Tsi) {
        let Some(method) = self.method else {
            tvr.set(Tvr::OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED);
            return;
        };
        tsi.set(Tsi::OFFLINE_DATA_AUTHENTICATION_PERFORMED);
        if self.verified.is_some() {
            return;
        }
        if matches!(self.failure, Some(OdaFailure::IccDataMissing(_))) {
            tvr.set(Tvr::ICC_DATA_MISSING);
        }
        tvr.set(match method {
            OdaMethod::Sda => Tvr::SDA_FAILED,
            OdaMethod::Dda | OdaMethod::Fdda => Tvr::DDA_FAILED,
            OdaMethod::Cda => Tvr::CDA_FAILED,
        });
    }
}

/// Runs fDDA: recovers the keys with the CA key named by `8F` and verifies `9F4B` over the
/// terminal's dynamic data (`9F37` ‖ `9F02` ‖ `5F2A` ‖ `9F69` for fDDA version 01, else `9F37`).
pub fn run_fdda(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    dynamic_data: &[u8],
    date: TransactionDate,
) -> OdaReport {
    let mut report = OdaReport {
        method: Some(OdaMethod::Fdda),
        ..OdaReport::not_performed()
    };
    let icc = match recover_chain(config, aid, card, static_data, date, &mut report) {
        Ok(icc) => icc,
        Err(failure) => {
            report.failure = Some(failure);
            return report;
        }
    };
    let result = card
        .get(tags::SIGNED_DYNAMIC_APPLICATION_DATA)
        .ok_or(OdaFailure::IccDataMissing(
            tags::SIGNED_DYNAMIC_APPLICATION_DATA,
        ))
        .and_then(|sdad| {
            oda::verify_sdad(&icc, sdad, dynamic_data, SdadFormats::FDDA)
                .map_err(OdaFailure::Crypto)
        });
    match result {
        Ok(signature) => {
            report.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
            report.signed_data_format = Some(signature.format());
            report.verified = Some(OdaVerified { _private: () });
        }
        Err(failure) => report.failure = Some(failure),
    }
    report
}

/// An RSA key's exponent is mandatory; SM2 certificates (PBOC 3.0 part 17) have none.
fn exponent(algorithm: PkAlgorithm, card: &CardData, tag: Tag) -> Result<&[u8], OdaFailure> {
    match algorithm {
        PkAlgorithm::Rsa => required(card, tag),
        _ => Ok(card.get(tag).unwrap_or_default()),
    }
}

/// Runs SDA (EMV Book 2 §5, Book 3 §10.3): recovers the issuer key with the CA key named by
/// `8F` and verifies the signed static application data `93` over the static data to be
/// authenticated. No ICC key is involved.
pub fn run_sda(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    date: TransactionDate,
) -> OdaReport {
    let mut report = OdaReport {
        method: Some(OdaMethod::Sda),
        ..OdaReport::not_performed()
    };
    let result = recover_issuer(config, aid, card, date, &mut report).and_then(|issuer| {
        let static_data = static_data
            .as_ref()
            .map_err(|e| OdaFailure::StaticData(*e))?;
        let ssad = required(card, tags::SIGNED_STATIC_APPLICATION_DATA)?;
        oda::verify_ssad(&issuer, ssad, static_data).map_err(OdaFailure::Crypto)
    });
    match result {
        Ok(_data_authentication_code) => report.verified = Some(OdaVerified { _private: () }),
        Err(failure) => report.failure = Some(failure),
    }
    report
}

/// Runs DDA (EMV Book 2 §6.5): recovers the keys and verifies the SDAD the card returned to
/// INTERNAL AUTHENTICATE over `ddol_data` (the command data sent). `signature` is the `9F4B`
/// value, or why the card phase has none (refused command, malformed answer, DDOL without
/// `9F37`).
pub fn run_dda(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    ddol_data: &[u8],
    signature: Result<&[u8], OdaFailure>,
    date: TransactionDate,
) -> OdaReport {
    let mut report = OdaReport {
        method: Some(OdaMethod::Dda),
        ..OdaReport::not_performed()
    };
    let result = recover_chain(config, aid, card, static_data, date, &mut report).and_then(|icc| {
        let sdad = signature?;
        oda::verify_sdad(&icc, sdad, ddol_data, SdadFormats::DDA).map_err(OdaFailure::Crypto)
    });
    match result {
        Ok(signature) => {
            report.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
            report.verified = Some(OdaVerified { _private: () });
        }
        Err(failure) => report.failure = Some(failure),
    }
    report
}

/// The ICC public key recovered for CDA before the GENERATE AC that carries the signature
/// (EMV Book 2 §6.6.1). Only [`prepare_cda`] makes one.
#[derive(Clone)]
pub struct CdaKey {
    icc: IccPublicKey,
    issuer_public_key: Option<Vec<u8>>,
    icc_public_key: Option<Vec<u8>>,
}

impl core::fmt::Debug for CdaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CdaKey(..)")
    }
}

/// A CDA check of one GENERATE AC answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdaOutcome {
    /// The ODA report (method CDA; verified only when the signature checked out).
    pub report: OdaReport,
    /// The application cryptogram inside the verified signature (the card sends no `9F26`
    /// with CDA).
    pub application_cryptogram: Option<Vec<u8>>,
    /// The ICC dynamic data inside the verified signature (C-2 appends its relay resistance
    /// values after the transaction data hash code).
    pub icc_dynamic_data: Option<Vec<u8>>,
}

/// Recovers the issuer and ICC keys for CDA. On failure the report says why (method CDA):
/// the terminal then sets "CDA failed" and asks for the cryptogram without CDA.
pub fn prepare_cda(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    date: TransactionDate,
) -> Result<CdaKey, OdaReport> {
    let mut report = OdaReport {
        method: Some(OdaMethod::Cda),
        ..OdaReport::not_performed()
    };
    match recover_chain(config, aid, card, static_data, date, &mut report) {
        Ok(icc) => Ok(CdaKey {
            icc,
            issuer_public_key: report.issuer_public_key,
            icc_public_key: report.icc_public_key,
        }),
        Err(failure) => {
            report.failure = Some(failure);
            Err(report)
        }
    }
}

/// Verifies the CDA signature of a GENERATE AC answer (EMV Book 2 §6.6.2): `sdad` is its
/// `9F4B` (absent → ICC data missing), `unpredictable_number` the `9F37` sent, and
/// `transaction_data` the pieces hashed into the transaction data hash code (PDOL data, CDOL1
/// data, [CDOL2 data], the answer's objects other than `9F4B`, as TLV, in answer order).
pub fn run_cda(
    key: &CdaKey,
    sdad: Option<&[u8]>,
    unpredictable_number: &[u8],
    transaction_data: &[&[u8]],
    cid: u8,
) -> CdaOutcome {
    let mut report = OdaReport {
        method: Some(OdaMethod::Cda),
        issuer_public_key: key.issuer_public_key.clone(),
        icc_public_key: key.icc_public_key.clone(),
        ..OdaReport::not_performed()
    };
    let result = sdad
        .ok_or(OdaFailure::IccDataMissing(
            tags::SIGNED_DYNAMIC_APPLICATION_DATA,
        ))
        .and_then(|sdad| {
            oda::verify_cda(&key.icc, sdad, unpredictable_number, transaction_data, cid)
                .map_err(OdaFailure::Crypto)
        });
    match result {
        Ok(signature) => {
            report.icc_dynamic_number = Some(signature.icc_dynamic_number().to_vec());
            report.verified = Some(OdaVerified { _private: () });
            CdaOutcome {
                report,
                application_cryptogram: Some(signature.application_cryptogram().to_vec()),
                icc_dynamic_data: Some(signature.icc_dynamic_data().to_vec()),
            }
        }
        Err(failure) => {
            report.failure = Some(failure);
            CdaOutcome {
                report,
                application_cryptogram: None,
                icc_dynamic_data: None,
            }
        }
    }
}

fn required(card: &CardData, tag: Tag) -> Result<&[u8], OdaFailure> {
    card.get(tag).ok_or(OdaFailure::IccDataMissing(tag))
}

fn transaction_day(date: TransactionDate) -> Result<Date, OdaFailure> {
    Date::new(date.year(), date.month(), date.day())
        .map_err(|_| OdaFailure::IccDataMissing(tags::TRANSACTION_DATE))
}

/// The issuer public key: CA key lookup (unexpired), certificate recovery, revocation list.
fn recover_issuer(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    date: TransactionDate,
    report: &mut OdaReport,
) -> Result<IssuerPublicKey, OdaFailure> {
    let today = transaction_day(date)?;
    let rid = Rid(aid.rid());
    let index = match required(card, tags::CA_PUBLIC_KEY_INDEX)? {
        [index] => CapkIndex(*index),
        _ => return Err(OdaFailure::IccDataMissing(tags::CA_PUBLIC_KEY_INDEX)),
    };
    let capk = config
        .capks
        .get(rid, index)
        .filter(|key| !key.is_expired(today))
        .ok_or_else(|| OdaFailure::CaKeyMissing {
            rid: hex::encode_upper(rid.0),
            index: index.0,
        })?;
    let pan = required(card, tags::PAN)?;
    let issuer = oda::recover_issuer_public_key(
        capk,
        required(card, tags::ISSUER_PUBLIC_KEY_CERTIFICATE)?,
        card.get(tags::ISSUER_PUBLIC_KEY_REMAINDER)
            .unwrap_or_default(),
        exponent(capk.pk_algorithm(), card, tags::ISSUER_PUBLIC_KEY_EXPONENT)?,
        pan,
        today,
    )
    .map_err(OdaFailure::Crypto)?;
    report.issuer_public_key = issuer.modulus().map(<[u8]>::to_vec);
    if config
        .terminal
        .is_revoked(rid, index, issuer.certificate_serial())
    {
        return Err(OdaFailure::Revoked);
    }
    Ok(issuer)
}

fn recover_chain(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    date: TransactionDate,
    report: &mut OdaReport,
) -> Result<IccPublicKey, OdaFailure> {
    let today = transaction_day(date)?;
    let issuer = recover_issuer(config, aid, card, date, report)?;
    let pan = required(card, tags::PAN)?;
    let static_data = static_data
        .as_ref()
        .map_err(|e| OdaFailure::StaticData(*e))?;
    let icc = oda::recover_icc_public_key(
        &issuer,
        required(card, tags::ICC_PUBLIC_KEY_CERTIFICATE)?,
        card.get(tags::ICC_PUBLIC_KEY_REMAINDER).unwrap_or_default(),
        exponent(issuer.algorithm(), card, tags::ICC_PUBLIC_KEY_EXPONENT)?,
        pan,
        static_data,
        today,
    )
    .map_err(OdaFailure::Crypto)?;
    report.icc_public_key = icc.modulus().map(<[u8]>::to_vec);
    Ok(icc)
}
