//! Offline data authentication in the flow (EMV Book 3 §10.3, Book 2 §5–6, EMV Book C-3 /
//! JR/T 0025.12 for fDDA): find the CA key, recover the issuer and ICC keys, check the
//! signature, consult the revocation list, and say in the TVR and TSI what happened.
//!
//! The only way to get an [`OdaVerified`] token — which an offline approval requires — is a
//! successful run here.

use quickpass_crypto::capk::{CapkIndex, PkAlgorithm, Rid};
use quickpass_crypto::date::Date;
use quickpass_crypto::oda::{self, IccPublicKey, OdaError, SdadFormats};

use crate::afl::StaticDataError;
use crate::bits::{Tsi, Tvr};
use crate::card_data::CardData;
use crate::config::KernelConfig;
use crate::tag::Tag;
use crate::tags;
use crate::values::{Aid, TransactionDate};

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
}

/// Proof that ODA succeeded; only this module makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OdaVerified {
    _private: (),
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

fn required(card: &CardData, tag: Tag) -> Result<&[u8], OdaFailure> {
    card.get(tag).ok_or(OdaFailure::IccDataMissing(tag))
}

fn recover_chain(
    config: &KernelConfig,
    aid: &Aid,
    card: &CardData,
    static_data: &Result<Vec<u8>, StaticDataError>,
    date: TransactionDate,
    report: &mut OdaReport,
) -> Result<IccPublicKey, OdaFailure> {
    let today = Date::new(date.year(), date.month(), date.day())
        .map_err(|_| OdaFailure::IccDataMissing(tags::TRANSACTION_DATE))?;
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
