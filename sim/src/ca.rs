//! The test certification authority: fixed key pairs that issue the ODA certificates of the
//! simulated cards at personalisation (EMV Book 2 §5.3 Table 6, §6.4 Table 14; PBOC 3.0
//! Part 17 formats `12`/`14`, ⚠ layout of [`quickpass_crypto::oda::sm2`]).
//!
//! ☢ TEST ONLY. The private keys are public (they live in `sim/test-ca/`), so anything this CA
//! signs proves nothing outside tests.
//!
//! | key | file | use |
//! |---|---|---|
//! | RSA CA, 1408 bits, e = 3 | `sim/test-ca/test-rsa.json` `ca` | RID `A000000333` index [`RSA_CA_INDEX`] (`F1`), published in `sim/test-ca/capk-quickpass-test.json` |
//! | RSA issuer, 1152 bits, e = 3 | `issuer` | issuer key of every RSA card (certificate `90` + 4-byte remainder `92`) |
//! | RSA issuer, 1024 bits, e = 65537 | `issuer_small` | alternative issuer key |
//! | RSA ICC, 1024 bits, e = 3 | `icc` | ICC key of every RSA card (SDAD fits a qPBOC GPO response) |
//! | RSA ICC, 768 bits, e = 65537 | `icc_small` | alternative ICC key |
//! | SM2 CA | `sim/test-ca/test-sm2.json` `ca` | RID `A000000333` index [`SM2_CA_INDEX`] (`F2`); only from [`TestCa::sm2_ca_public_key`] |
//! | SM2 issuer, SM2 ICC | `issuer`, `icc` | SM2 cards |
//!
//! The key files are embedded with `include_str!`, so the CA works from any directory.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use quickpass_crypto::capk::{
    rsa_checksum, sm2_checksum, CaPublicKey, CapkError, CapkIndex, CapkStore, HashAlgorithm, Rid,
};
use quickpass_crypto::oda::issue::{
    self, IccCertificateFields, IssueError, IssuerCertificateFields, RsaCertificate, RsaSigner,
    Sm2Signer,
};
use serde::Deserialize;

/// The RID of every test CA key: UnionPay's `A000000333` (so a terminal looks the key up exactly
/// as for a real UnionPay card).
pub const TEST_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x03, 0x33];
/// Visa's RID, under which the RSA test CA is also published for the simulated Visa card
/// (`vectors/cards/visa-qvsdc.json`): a terminal looks its key up by the card AID's RID.
pub const TEST_VISA_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x00, 0x03];
/// CA public key index (`8F`) of the RSA test CA. Not a UnionPay index.
pub const RSA_CA_INDEX: u8 = 0xF1;
/// CA public key index (`8F`) of the SM2 test CA. Not a UnionPay index.
pub const SM2_CA_INDEX: u8 = 0xF2;
/// Name of the RSA issuer key used by default.
pub const DEFAULT_RSA_ISSUER: &str = "issuer";
/// Name of the RSA ICC key used by default.
pub const DEFAULT_RSA_ICC: &str = "icc";
/// Name of the SM2 issuer key.
pub const SM2_ISSUER: &str = "issuer";
/// Name of the SM2 ICC key.
pub const SM2_ICC: &str = "icc";

const RSA_KEYS_JSON: &str = include_str!("../test-ca/test-rsa.json");
const SM2_KEYS_JSON: &str = include_str!("../test-ca/test-sm2.json");
const KEYS_SCHEMA: &str = "quickpass-keys/1";

/// Why the test CA could not load its keys or issue an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// A key file is malformed (not the `quickpass-keys/1` layout, bad hex, bad key).
    #[error("test key file {file}: {reason}")]
    KeyFile {
        /// Which file.
        file: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No key of that name.
    #[error("no test {kind} key named {name:?}")]
    UnknownKey {
        /// `rsa` or `sm2`.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// The crypto crate refused to build or sign the object.
    #[error("cannot issue: {0}")]
    Issue(#[from] IssueError),
    /// The CA public key could not be built.
    #[error("CA public key: {0}")]
    Capk(#[from] CapkError),
}

#[derive(Deserialize)]
struct KeyFile<K> {
    schema: String,
    keys: BTreeMap<String, K>,
}

#[derive(Deserialize)]
struct RsaKeyHex {
    modulus: String,
    exponent: String,
    private_exponent: String,
    prime1: String,
    prime2: String,
}

#[derive(Deserialize)]
struct Sm2KeyHex {
    private: String,
}

/// The test certification authority and the issuer/ICC key pairs it certifies.
pub struct TestCa {
    rsa: BTreeMap<String, RsaSigner>,
    sm2: BTreeMap<String, Sm2Signer>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("rsa_keys", &self.rsa.keys().collect::<Vec<_>>())
            .field("sm2_keys", &self.sm2.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_file<K: for<'de> Deserialize<'de>>(
    file: &'static str,
    text: &str,
) -> Result<BTreeMap<String, K>, CaError> {
    let parsed: KeyFile<K> = serde_json::from_str(text).map_err(|e| CaError::KeyFile {
        file,
        reason: e.to_string(),
    })?;
    if parsed.schema != KEYS_SCHEMA {
        return Err(CaError::KeyFile {
            file,
            reason: format!("schema {:?}", parsed.schema),
        });
    }
    Ok(parsed.keys)
}

fn unhex(file: &'static str, what: &str, text: &str) -> Result<Vec<u8>, CaError> {
    hex::decode(text).map_err(|_| CaError::KeyFile {
        file,
        reason: format!("{what} is not hex"),
    })
}

impl TestCa {
    /// Loads every key of the embedded key files.
    pub fn load() -> Result<Self, CaError> {
        const RSA_FILE: &str = "sim/test-ca/test-rsa.json";
        const SM2_FILE: &str = "sim/test-ca/test-sm2.json";
        let mut rsa = BTreeMap::new();
        for (name, k) in parse_file::<RsaKeyHex>(RSA_FILE, RSA_KEYS_JSON)? {
            let part = |what: &str, text: &str| unhex(RSA_FILE, &format!("{name}.{what}"), text);
            let signer = RsaSigner::from_components(
                &part("modulus", &k.modulus)?,
                &part("exponent", &k.exponent)?,
                &part("private_exponent", &k.private_exponent)?,
                &part("prime1", &k.prime1)?,
                &part("prime2", &k.prime2)?,
            )
            .map_err(|e| CaError::KeyFile {
                file: RSA_FILE,
                reason: format!("{name}: {e}"),
            })?;
            rsa.insert(name, signer);
        }
        let mut sm2 = BTreeMap::new();
        for (name, k) in parse_file::<Sm2KeyHex>(SM2_FILE, SM2_KEYS_JSON)? {
            let scalar: [u8; 32] =
                unhex(SM2_FILE, &name, &k.private)?
                    .try_into()
                    .map_err(|_| CaError::KeyFile {
                        file: SM2_FILE,
                        reason: format!("{name}: private key is not 32 bytes"),
                    })?;
            let signer = Sm2Signer::from_bytes(&scalar).map_err(|e| CaError::KeyFile {
                file: SM2_FILE,
                reason: format!("{name}: {e}"),
            })?;
            sm2.insert(name, signer);
        }
        for (kind, present) in [
            ("rsa", rsa.contains_key("ca")),
            ("sm2", sm2.contains_key("ca")),
        ] {
            if !present {
                return Err(CaError::UnknownKey {
                    kind,
                    name: "ca".into(),
                });
            }
        }
        Ok(TestCa { rsa, sm2 })
    }

    /// The process-wide test CA, loaded once (RSA key setup is not free).
    pub fn shared() -> Result<&'static TestCa, CaError> {
        static CA: OnceLock<Result<TestCa, CaError>> = OnceLock::new();
        CA.get_or_init(TestCa::load).as_ref().map_err(Clone::clone)
    }

    /// An RSA key pair by name (`ca`, `issuer`, `issuer_small`, `icc`, `icc_small`).
    pub fn rsa_key(&self, name: &str) -> Result<&RsaSigner, CaError> {
        self.rsa.get(name).ok_or_else(|| CaError::UnknownKey {
            kind: "rsa",
            name: name.into(),
        })
    }

    /// An SM2 key pair by name (`ca`, `issuer`, `icc`).
    pub fn sm2_key(&self, name: &str) -> Result<&Sm2Signer, CaError> {
        self.sm2.get(name).ok_or_else(|| CaError::UnknownKey {
            kind: "sm2",
            name: name.into(),
        })
    }

    /// The RSA test CA public key (RID `A000000333`, index `F1`, valid checksum), the same as
    /// `sim/test-ca/capk-quickpass-test.json`.
    pub fn rsa_ca_public_key(&self) -> Result<CaPublicKey, CaError> {
        self.rsa_ca_public_key_under(TEST_RID)
    }

    /// The RSA test CA public key published under another RID (index `F1`, never a scheme's
    /// index, valid checksum): the simulated Visa card ([`TEST_VISA_RID`]) and Mastercard card
    /// (`A000000004`) are certified by the same test CA, and a terminal looks the key up by the
    /// card's RID. ☢ Test only: the production CA key lists refuse this key under any RID (its
    /// modulus is a known test key).
    pub fn rsa_ca_public_key_under(&self, rid: [u8; 5]) -> Result<CaPublicKey, CaError> {
        let ca = self.rsa_key("ca")?;
        let (rid, index) = (Rid(rid), CapkIndex(RSA_CA_INDEX));
        let checksum = rsa_checksum(rid, index, ca.modulus(), ca.exponent());
        Ok(CaPublicKey::new_rsa(
            rid,
            index,
            ca.modulus(),
            ca.exponent(),
            HashAlgorithm::Sha1,
            None,
            &checksum,
        )?)
    }

    /// The SM2 test CA public key (RID `A000000333`, index `F2`, hash algorithm SM3, checksum
    /// by the crypto crate's ⚠ unverified SM2 rule).
    pub fn sm2_ca_public_key(&self) -> Result<CaPublicKey, CaError> {
        let ca = self.sm2_key("ca")?;
        let (rid, index) = (Rid(TEST_RID), CapkIndex(SM2_CA_INDEX));
        let checksum = sm2_checksum(rid, index, ca.public_key(), HashAlgorithm::Sm3);
        Ok(CaPublicKey::new_sm2(
            rid,
            index,
            ca.public_key(),
            HashAlgorithm::Sm3,
            None,
            &checksum,
        )?)
    }

    /// A CAPK store holding both test CA keys.
    pub fn capk_store(&self) -> Result<CapkStore, CaError> {
        let mut store = CapkStore::new();
        store.insert(self.rsa_ca_public_key()?)?;
        store.insert(self.sm2_ca_public_key()?)?;
        Ok(store)
    }

    /// RSA issuer public key certificate (`90`, format `02`) and remainder (`92`) for the
    /// issuer key `issuer`, signed by the RSA CA (EMV Book 2 §5.3 Table 6). The exponent to put
    /// in `9F32` is [`RsaSigner::exponent`] of that key.
    pub fn issuer_certificate_rsa(
        &self,
        issuer: &str,
        fields: &IssuerCertificateFields,
    ) -> Result<RsaCertificate, CaError> {
        let key = self.rsa_key(issuer)?;
        Ok(issue::issuer_certificate(
            self.rsa_key("ca")?,
            fields,
            key.modulus(),
            key.exponent(),
        )?)
    }

    /// SM2 issuer public key certificate (`90`, format `12`) for the SM2 issuer key `issuer`,
    /// signed by the SM2 CA (⚠ layout of the crypto crate's `oda::sm2`).
    pub fn issuer_certificate_sm2(
        &self,
        issuer: &str,
        fields: &IssuerCertificateFields,
    ) -> Result<Vec<u8>, CaError> {
        let key = self.sm2_key(issuer)?;
        Ok(issue::sm2_issuer_certificate(
            self.sm2_key("ca")?,
            fields,
            key.public_key(),
        )?)
    }

    /// RSA ICC public key certificate (`9F46`, format `04`) and remainder (`9F48`) for the ICC
    /// key `icc`, signed by the RSA issuer key `issuer` over the fields, the key and
    /// `static_data` (EMV Book 2 §6.4 Table 14).
    pub fn icc_certificate_rsa(
        &self,
        issuer: &str,
        icc: &str,
        fields: &IccCertificateFields,
        static_data: &[u8],
    ) -> Result<RsaCertificate, CaError> {
        let key = self.rsa_key(icc)?;
        Ok(issue::icc_certificate(
            self.rsa_key(issuer)?,
            fields,
            key.modulus(),
            key.exponent(),
            static_data,
        )?)
    }

    /// SM2 ICC public key certificate (`9F46`, format `14`) for the SM2 ICC key `icc`, signed by
    /// the SM2 issuer key `issuer` over the body and `static_data` (⚠ layout).
    pub fn icc_certificate_sm2(
        &self,
        issuer: &str,
        icc: &str,
        fields: &IccCertificateFields,
        static_data: &[u8],
    ) -> Result<Vec<u8>, CaError> {
        let key = self.sm2_key(icc)?;
        Ok(issue::sm2_icc_certificate(
            self.sm2_key(issuer)?,
            fields,
            key.public_key(),
            static_data,
        )?)
    }
}

/// Issuer identifier of a certificate: the leftmost `digits` (3–8) PAN digits, BCD, right-padded
/// with `F` (EMV Book 2 Table 6). `None` when the PAN is not decimal or too short.
pub fn issuer_identifier(pan: &str, digits: usize) -> Option<[u8; 4]> {
    if !(3..=8).contains(&digits) || pan.len() < digits || !pan.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut nibbles: Vec<u8> = pan.bytes().take(digits).map(|b| b - b'0').collect();
    nibbles.resize(8, 0x0F);
    let mut out = [0u8; 4];
    for (o, pair) in out.iter_mut().zip(nibbles.chunks_exact(2)) {
        *o = (pair[0] << 4) | pair[1];
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use quickpass_crypto::date::Date;
    use quickpass_crypto::oda::{recover_icc_public_key, recover_issuer_public_key, OdaError};

    fn today() -> Date {
        Date::new(2025, 6, 1).unwrap()
    }

    #[test]
    fn keys_load_and_match_the_published_capk_file() {
        let ca = TestCa::shared().unwrap();
        let mut store = CapkStore::new();
        let report = store
            .load_vector_file(include_str!("../test-ca/capk-quickpass-test.json"))
            .unwrap();
        assert!(report.refused.is_empty(), "{:?}", report.refused);
        let published = store
            .get(Rid(TEST_RID), CapkIndex(RSA_CA_INDEX))
            .expect("F1 published");
        let ours = ca.rsa_ca_public_key().unwrap();
        assert_eq!(published.key_bytes(), ours.key_bytes());
        assert_eq!(published.exponent(), ours.exponent());
        assert!(ca.sm2_ca_public_key().unwrap().checksum_is_valid());
        assert_eq!(ca.capk_store().unwrap().len(), 2);
        assert!(ca.rsa_key("nope").is_err());
        assert!(!format!("{ca:?}").contains("private"));
    }

    #[test]
    fn rsa_chain_verifies_and_an_expired_issuer_certificate_does_not() {
        let ca = TestCa::shared().unwrap();
        let capk = ca.rsa_ca_public_key().unwrap();
        let pan = [0x62, 0x28, 0x48, 0x00, 0x00, 0x00, 0x00, 0x01];
        let mut fields = IssuerCertificateFields {
            issuer_identifier: issuer_identifier("6228480000000001", 6).unwrap(),
            expiry: [0x12, 0x49],
            serial: [0, 0, 1],
            hash_algorithm: 1,
            pk_algorithm: 1,
        };
        let cert = ca.issuer_certificate_rsa("issuer", &fields).unwrap();
        let exponent = ca.rsa_key("issuer").unwrap().exponent().to_vec();
        let issuer = recover_issuer_public_key(
            &capk,
            &cert.certificate,
            &cert.remainder,
            &exponent,
            &pan,
            today(),
        )
        .unwrap();
        assert_eq!(issuer.certificate_serial(), [0, 0, 1]);
        let icc_fields = IccCertificateFields {
            pan: issue::pan_field(&pan).unwrap(),
            expiry: [0x12, 0x30],
            serial: [0, 0, 2],
            hash_algorithm: 1,
            pk_algorithm: 1,
        };
        let icc = ca
            .icc_certificate_rsa("issuer", "icc", &icc_fields, b"static")
            .unwrap();
        let key = recover_icc_public_key(
            &issuer,
            &icc.certificate,
            &icc.remainder,
            ca.rsa_key("icc").unwrap().exponent(),
            &pan,
            b"static",
            today(),
        )
        .unwrap();
        assert_eq!(key.modulus(), Some(ca.rsa_key("icc").unwrap().modulus()));

        fields.expiry = [0x12, 0x20];
        let expired = ca.issuer_certificate_rsa("issuer", &fields).unwrap();
        let err = recover_issuer_public_key(
            &capk,
            &expired.certificate,
            &expired.remainder,
            &exponent,
            &pan,
            today(),
        )
        .unwrap_err();
        assert!(matches!(err, OdaError::CertificateExpired { .. }), "{err}");
    }

    #[test]
    fn sm2_chain_verifies() {
        let ca = TestCa::shared().unwrap();
        let capk = ca.sm2_ca_public_key().unwrap();
        let pan = [0x62, 0x10, 0x98, 0x76, 0x54, 0x32, 0x10, 0x00, 0x1F];
        let fields = IssuerCertificateFields {
            issuer_identifier: issuer_identifier("62109876543210001", 6).unwrap(),
            expiry: [0x12, 0x49],
            serial: [0, 0, 3],
            hash_algorithm: 0x07,
            pk_algorithm: issue::SM2_PK_ALGORITHM,
        };
        let cert = ca.issuer_certificate_sm2("issuer", &fields).unwrap();
        let issuer = recover_issuer_public_key(&capk, &cert, &[], &[], &pan, today()).unwrap();
        let icc_fields = IccCertificateFields {
            pan: issue::pan_field(&pan).unwrap(),
            expiry: [0x12, 0x30],
            serial: [0, 0, 4],
            hash_algorithm: 0x07,
            pk_algorithm: issue::SM2_PK_ALGORITHM,
        };
        let icc = ca
            .icc_certificate_sm2("issuer", "icc", &icc_fields, b"static")
            .unwrap();
        let key =
            recover_icc_public_key(&issuer, &icc, &[], &[], &pan, b"static", today()).unwrap();
        assert_eq!(
            key.sm2_public_key(),
            Some(ca.sm2_key("icc").unwrap().public_key())
        );
        assert!(recover_icc_public_key(&issuer, &icc, &[], &[], &pan, b"other", today()).is_err());
    }

    #[test]
    fn issuer_identifier_pads_with_f() {
        assert_eq!(
            issuer_identifier("6228480000", 6),
            Some([0x62, 0x28, 0x48, 0xFF])
        );
        assert_eq!(
            issuer_identifier("62284800", 8),
            Some([0x62, 0x28, 0x48, 0x00])
        );
        assert_eq!(issuer_identifier("62", 3), None);
        assert_eq!(issuer_identifier("62a456", 3), None);
    }
}
