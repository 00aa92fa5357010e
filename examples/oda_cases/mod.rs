//! The ODA chains measured by `benches/oda.rs` and `examples/oda_bench.rs`, in the three states
//! a terminal meets them in (shared so that the criterion figures and the example's medians
//! measure the same thing):
//!
//! - **cold**: a CA key (built beforehand, as a terminal does at start-up) that has never seen
//!   the issuer: every certificate recovered or verified, every key built;
//! - **known issuer, new card**: the issuer certificate was seen before (a bus's usual case:
//!   another card of a bank it already met), the card's certificates and signature are new;
//! - **memo hit**: the same card again (its certificates remembered; the dynamic signature is
//!   checked every time).
//!
//! RSA chains run on public certificates of real cards (`vectors/oda-proxmark3.json`,
//! `vectors/oda-visa-debit-fdda.json`), the same as the peer comparison in issue 14; SM2
//! chains on certificates made with the test CA's SM2 keys (the sim's personalisation helpers)
//! in the set-up. Example code: it panics on a failed check (a benchmark of a failure is
//! meaningless).
#![allow(dead_code)]

use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::date::Date;
use quickpass_crypto::hash::sha1;
use quickpass_crypto::oda::issue::{self, IccCertificateFields, IssuerCertificateFields};
use quickpass_crypto::oda::{self, SdadFormats};
use quickpass_sim::ca::TestCa;
use serde_json::Value;

/// The four ODA methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Static data authentication: issuer certificate + SSAD.
    Sda,
    /// Dynamic data authentication: issuer and ICC certificates + SDAD.
    Dda,
    /// Combined DDA / application cryptogram: DDA plus the CID and transaction data hash.
    Cda,
    /// Fast DDA (qPBOC / qVSDC).
    Fdda,
}

impl Method {
    /// Every method, in the README's order.
    pub const ALL: [Method; 4] = [Method::Sda, Method::Dda, Method::Cda, Method::Fdda];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sda => "sda",
            Method::Dda => "dda",
            Method::Cda => "cda",
            Method::Fdda => "fdda",
        }
    }
}

/// The three states of a chain (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing seen before.
    Cold,
    /// The issuer seen before, the card new.
    KnownIssuerNewCard,
    /// The same card again.
    MemoHit,
}

impl State {
    /// Every state, stream case first.
    pub const ALL: [State; 3] = [State::KnownIssuerNewCard, State::Cold, State::MemoHit];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            State::Cold => "cold",
            State::KnownIssuerNewCard => "known_issuer_new_card",
            State::MemoHit => "memo_hit",
        }
    }
}

fn case(file: &str, id: &str) -> Value {
    let path = format!("{}/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("json");
    document["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .expect("case")
        .clone()
}

fn hex_of(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("hex")
}

/// One RSA chain on a public vector.
pub struct RsaChain {
    /// The method.
    pub method: Method,
    rid: Rid,
    index: CapkIndex,
    ca_modulus: Vec<u8>,
    ca_exponent: Vec<u8>,
    today: Date,
    pan: Vec<u8>,
    issuer: [Vec<u8>; 3],
    icc: [Vec<u8>; 3],
    static_data: Vec<u8>,
    /// SSAD (SDA) or SDAD (the others).
    signed: Vec<u8>,
    dynamic: Vec<u8>,
    transaction_data: Vec<u8>,
    cid: u8,
}

impl RsaChain {
    /// The four chains (SDA `pm3_sda_visa01`, DDA `pm3_dda_mc05`, CDA `pm3_cda_mc05`, fDDA
    /// `visa_debit_comdirect_qvsdc_fdda`).
    pub fn all() -> Vec<RsaChain> {
        [
            (Method::Sda, "oda-proxmark3.json", "pm3_sda_visa01"),
            (Method::Dda, "oda-proxmark3.json", "pm3_dda_mc05"),
            (Method::Cda, "oda-proxmark3.json", "pm3_cda_mc05"),
            (
                Method::Fdda,
                "oda-visa-debit-fdda.json",
                "visa_debit_comdirect_qvsdc_fdda",
            ),
        ]
        .into_iter()
        .map(|(method, file, id)| Self::load(method, file, id))
        .collect()
    }

    fn load(method: Method, file: &str, id: &str) -> Self {
        let case = case(file, id);
        let part = |object: &str| -> [Vec<u8>; 3] {
            if case.get(object).is_none() {
                return Default::default();
            }
            [
                hex_of(&case[object]["certificate"]),
                hex_of(&case[object]["remainder"]),
                hex_of(&case[object]["exponent"]),
            ]
        };
        let signed = match method {
            Method::Sda => hex_of(&case["ssad"]),
            _ => hex_of(&case["sdad"]),
        };
        let optional = |key: &str| case.get(key).map(hex_of).unwrap_or_default();
        RsaChain {
            method,
            rid: Rid(hex_of(&case["capk"]["rid"]).try_into().expect("rid")),
            index: CapkIndex(hex_of(&case["capk"]["index"])[0]),
            ca_modulus: hex_of(&case["capk"]["modulus"]),
            ca_exponent: hex_of(&case["capk"]["exponent"]),
            today: Date::from_yymmdd(case["today"].as_str().expect("today")).expect("date"),
            pan: hex_of(&case["pan"]),
            issuer: part("issuer"),
            icc: part("icc"),
            static_data: hex_of(&case["static_data"]),
            signed,
            dynamic: optional("dynamic_data"),
            transaction_data: optional("transaction_data"),
            cid: optional("cid").first().copied().unwrap_or_default(),
        }
    }

    /// A CA key that has seen nothing (what a terminal builds at start-up).
    pub fn fresh_ca(&self) -> CaPublicKey {
        let checksum = rsa_checksum(self.rid, self.index, &self.ca_modulus, &self.ca_exponent);
        CaPublicKey::new_rsa(
            self.rid,
            self.index,
            &self.ca_modulus,
            &self.ca_exponent,
            HashAlgorithm::Sha1,
            None,
            &checksum,
        )
        .expect("capk")
    }

    /// The issuer key recovered with `ca`.
    pub fn issuer(&self, ca: &CaPublicKey) -> oda::IssuerPublicKey {
        oda::recover_issuer_public_key(
            ca,
            &self.issuer[0],
            &self.issuer[1],
            &self.issuer[2],
            &self.pan,
            self.today,
        )
        .expect("issuer")
    }

    /// The CA key in `state` for this chain, ready for [`RsaChain::run`] (set-up, not timed).
    pub fn ca_in_state(&self, state: State) -> CaPublicKey {
        let ca = self.fresh_ca();
        match state {
            State::Cold => {}
            State::KnownIssuerNewCard => {
                self.issuer(&ca);
            }
            State::MemoHit => {
                self.run(&ca);
            }
        }
        ca
    }

    /// The whole chain with every check; panics on a failed check.
    pub fn run(&self, ca: &CaPublicKey) {
        let issuer = self.issuer(ca);
        if self.method == Method::Sda {
            oda::verify_ssad(&issuer, &self.signed, &self.static_data).expect("ssad");
            return;
        }
        let icc = oda::recover_icc_public_key(
            &issuer,
            &self.icc[0],
            &self.icc[1],
            &self.icc[2],
            &self.pan,
            &self.static_data,
            self.today,
        )
        .expect("icc");
        match self.method {
            Method::Cda => {
                oda::verify_cda(
                    &icc,
                    &self.signed,
                    &self.dynamic,
                    &[&self.transaction_data],
                    self.cid,
                )
                .expect("cda");
            }
            Method::Fdda => {
                oda::verify_sdad(&icc, &self.signed, &self.dynamic, SdadFormats::FDDA)
                    .expect("fdda");
            }
            _ => {
                oda::verify_sdad(&icc, &self.signed, &self.dynamic, SdadFormats::DDA).expect("dda");
            }
        }
    }
}

/// One SM2 card: its ICC certificate, SSAD and the dynamic signatures of each method.
pub struct Sm2Card {
    pan: Vec<u8>,
    icc_cert: Vec<u8>,
    ssad: Vec<u8>,
    sdad: Vec<u8>,
    cda_sdad: Vec<u8>,
}

/// One SM2 issuer: its certificate and its cards.
pub struct Sm2Issuer {
    cert: Vec<u8>,
    cards: Vec<Sm2Card>,
}

/// SM2 chains (PBOC formats 12–15, ⚠ layout of `oda::sm2`) signed with the test CA's SM2 keys:
/// many distinct issuer certificates (for cold chains) and many distinct cards of one issuer
/// (for known-issuer-new-card), more of each than a key's memo holds, so cycling through them
/// never hits it.
pub struct Sm2Chains {
    ca: CaPublicKey,
    /// Issuer 0 has [`Sm2Chains::CARDS`] cards; the others one each.
    issuers: Vec<Sm2Issuer>,
    static_data: Vec<u8>,
    dynamic: Vec<u8>,
    transaction_data: Vec<u8>,
    today: Date,
}

/// CID in the SM2 CDA signature.
const CDA_CID: u8 = 0x40;

impl Sm2Chains {
    /// Distinct issuer certificates, and cards of issuer 0 (above the memo's 64).
    pub const CARDS: usize = 96;

    /// Makes the certificates and signatures (a second or so).
    pub fn new() -> Self {
        let ca = TestCa::shared().expect("test CA");
        let ca_key = ca.sm2_key("ca").expect("sm2 ca");
        let issuer_key = ca.sm2_key("issuer").expect("sm2 issuer");
        let icc_key = ca.sm2_key("icc").expect("sm2 icc");
        let static_data: Vec<u8> = (0..=255u8).collect();
        let dynamic = b"\x12\x34\x56\x78\x00\x00\x00\x00\x01\x00\x01\x56".to_vec();
        let transaction_data = b"PDOL and CDOL1 data, GENERATE AC response".to_vec();
        let card = |serial: u32, pan: Vec<u8>| {
            let [_, a, b, c] = serial.to_be_bytes();
            let fields = IccCertificateFields {
                pan: issue::pan_field(&pan).expect("pan"),
                expiry: [0x12, 0x49],
                serial: [a, b, c],
                hash_algorithm: 0x07,
                pk_algorithm: issue::SM2_PK_ALGORITHM,
            };
            let number = [0x02, a ^ b, c];
            let mut cda_data = vec![0x02, a ^ b, c, CDA_CID];
            cda_data.extend_from_slice(&[0xAC; 8]);
            cda_data.extend_from_slice(&sha1(&transaction_data));
            Sm2Card {
                icc_cert: issue::sm2_icc_certificate(
                    issuer_key,
                    &fields,
                    icc_key.public_key(),
                    &static_data,
                )
                .expect("icc cert"),
                ssad: issue::sm2_ssad(issuer_key, [a, c], &static_data).expect("ssad"),
                sdad: issue::sm2_sdad(icc_key, &number, &dynamic).expect("sdad"),
                cda_sdad: issue::sm2_sdad(icc_key, &cda_data, &dynamic[..4]).expect("cda"),
                pan,
            }
        };
        let pan_of = |card: u32| {
            let digits = format!("62284800{card:08}");
            hex::decode(digits).expect("pan")
        };
        let issuers = (0..Self::CARDS as u32)
            .map(|i| {
                let [_, a, b, c] = (0x10_0000 + i).to_be_bytes();
                let fields = IssuerCertificateFields {
                    issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
                    expiry: [0x12, 0x49],
                    serial: [a, b, c],
                    hash_algorithm: 0x07,
                    pk_algorithm: issue::SM2_PK_ALGORITHM,
                };
                let cert = issue::sm2_issuer_certificate(ca_key, &fields, issuer_key.public_key())
                    .expect("issuer cert");
                let count = if i == 0 { Self::CARDS as u32 } else { 1 };
                let cards = (0..count)
                    .map(|n| card(i * 1000 + n + 1, pan_of(i * 1000 + n + 1)))
                    .collect();
                Sm2Issuer { cert, cards }
            })
            .collect();
        Sm2Chains {
            ca: ca.sm2_ca_public_key().expect("sm2 ca key"),
            issuers,
            static_data,
            dynamic,
            transaction_data,
            today: Date::new(2025, 1, 15).expect("date"),
        }
    }

    /// The CA key (its tables built when it was loaded).
    pub fn ca(&self) -> &CaPublicKey {
        &self.ca
    }

    /// Brings issuer 0 to the known state (seen, its table built) and card 0 to a memo hit.
    pub fn warm(&self) {
        for method in Method::ALL {
            for i in 0..3 {
                self.run(method, State::KnownIssuerNewCard, i);
            }
            self.run(method, State::MemoHit, 0);
        }
    }

    /// Runs `method` in `state`; `i` picks the issuer (cold) or card (known issuer) — cycle it
    /// so that every run is new to the memo. Panics on a failed check.
    pub fn run(&self, method: Method, state: State, i: usize) {
        let (issuer, card) = match state {
            State::Cold => {
                let issuer = &self.issuers[1 + i % (Self::CARDS - 1)];
                (issuer, &issuer.cards[0])
            }
            State::KnownIssuerNewCard => {
                // Card 0 is the memo-hit card; the other 95 are more than the memo holds.
                let issuer = &self.issuers[0];
                (issuer, &issuer.cards[1 + i % (Self::CARDS - 1)])
            }
            State::MemoHit => (&self.issuers[0], &self.issuers[0].cards[0]),
        };
        let key =
            oda::recover_issuer_public_key(&self.ca, &issuer.cert, &[], &[], &card.pan, self.today)
                .expect("sm2 issuer");
        if method == Method::Sda {
            oda::verify_ssad(&key, &card.ssad, &self.static_data).expect("sm2 ssad");
            return;
        }
        let icc = oda::recover_icc_public_key(
            &key,
            &card.icc_cert,
            &[],
            &[],
            &card.pan,
            &self.static_data,
            self.today,
        )
        .expect("sm2 icc");
        match method {
            Method::Cda => {
                oda::verify_cda(
                    &icc,
                    &card.cda_sdad,
                    &self.dynamic[..4],
                    &[&self.transaction_data],
                    CDA_CID,
                )
                .expect("sm2 cda");
            }
            Method::Fdda => {
                oda::verify_sdad(&icc, &card.sdad, &self.dynamic, SdadFormats::FDDA)
                    .expect("sm2 fdda");
            }
            _ => {
                oda::verify_sdad(&icc, &card.sdad, &self.dynamic, SdadFormats::DDA)
                    .expect("sm2 dda");
            }
        }
    }

    /// One SM2 verification with a key that has its table (issuer 0's key, known): the ICC
    /// certificate of a new card (`i` cycles the cards). Returns the key first (set-up).
    pub fn known_issuer_key(&self) -> oda::IssuerPublicKey {
        let issuer = &self.issuers[0];
        oda::recover_issuer_public_key(
            &self.ca,
            &issuer.cert,
            &[],
            &[],
            &issuer.cards[0].pan,
            self.today,
        )
        .expect("sm2 issuer")
    }

    /// One SM2 verification by a tabled key: the ICC certificate of card `i` of issuer 0,
    /// with a key whose memo has not seen it (`key` from [`Sm2Chains::known_issuer_key`]).
    pub fn verify_icc_certificate(&self, key: &oda::IssuerPublicKey, i: usize) {
        let card = &self.issuers[0].cards[1 + i % (Self::CARDS - 1)];
        oda::recover_icc_public_key(
            key,
            &card.icc_cert,
            &[],
            &[],
            &card.pan,
            &self.static_data,
            self.today,
        )
        .expect("sm2 icc");
    }

    /// The ICC key of card 0 (a key without a table).
    pub fn icc_key(&self) -> oda::IccPublicKey {
        let key = self.known_issuer_key();
        let card = &self.issuers[0].cards[0];
        oda::recover_icc_public_key(
            &key,
            &card.icc_cert,
            &[],
            &[],
            &card.pan,
            &self.static_data,
            self.today,
        )
        .expect("sm2 icc")
    }

    /// One SM2 verification by a key without a table: card 0's SDAD (fDDA).
    pub fn verify_sdad(&self, icc: &oda::IccPublicKey) {
        oda::verify_sdad(
            icc,
            &self.issuers[0].cards[0].sdad,
            &self.dynamic,
            SdadFormats::FDDA,
        )
        .expect("sm2 sdad");
    }
}
