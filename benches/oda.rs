//! Offline data authentication, full chain per method, on public certificates
//! (`vectors/oda-proxmark3.json`, `vectors/oda-visa-debit-fdda.json`): issuer key recovery +
//! ICC key recovery + signature check, every check included. The CA key is built once, as a
//! terminal does at start-up.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass_crypto::capk::{
    rsa_checksum, sm2_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid,
};
use quickpass_crypto::date::Date;
use quickpass_crypto::oda::issue::{
    self, IccCertificateFields, IssuerCertificateFields, Sm2Signer,
};
use quickpass_crypto::oda::{self, SdadFormats};
use serde_json::Value;

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

fn capk(case: &Value) -> CaPublicKey {
    let rid = Rid(hex_of(&case["capk"]["rid"]).try_into().expect("rid"));
    let index = CapkIndex(hex_of(&case["capk"]["index"])[0]);
    let modulus = hex_of(&case["capk"]["modulus"]);
    let exponent = hex_of(&case["capk"]["exponent"]);
    let checksum = rsa_checksum(rid, index, &modulus, &exponent);
    CaPublicKey::new_rsa(
        rid,
        index,
        &modulus,
        &exponent,
        HashAlgorithm::Sha1,
        None,
        &checksum,
    )
    .expect("capk")
}

struct Inputs {
    capk: CaPublicKey,
    today: Date,
    pan: Vec<u8>,
    issuer: [Vec<u8>; 3],
    icc: [Vec<u8>; 3],
    static_data: Vec<u8>,
    case: Value,
}

fn inputs(file: &str, id: &str) -> Inputs {
    let case = case(file, id);
    let part = |object: &str| -> [Vec<u8>; 3] {
        [
            hex_of(&case[object]["certificate"]),
            hex_of(&case[object]["remainder"]),
            hex_of(&case[object]["exponent"]),
        ]
    };
    Inputs {
        capk: capk(&case),
        today: Date::from_yymmdd(case["today"].as_str().expect("today")).expect("date"),
        pan: hex_of(&case["pan"]),
        issuer: part("issuer"),
        icc: if case.get("icc").is_some() {
            part("icc")
        } else {
            Default::default()
        },
        static_data: hex_of(&case["static_data"]),
        case,
    }
}

fn bench_oda(c: &mut Criterion) {
    let mut group = c.benchmark_group("oda_full_chain");

    let sda = inputs("oda-proxmark3.json", "pm3_sda_visa01");
    let ssad = hex_of(&sda.case["ssad"]);
    group.bench_function("sda", |b| {
        b.iter(|| {
            let issuer = oda::recover_issuer_public_key(
                &sda.capk,
                &sda.issuer[0],
                &sda.issuer[1],
                &sda.issuer[2],
                &sda.pan,
                sda.today,
            )
            .expect("issuer");
            oda::verify_ssad(&issuer, &ssad, &sda.static_data).expect("ssad")
        })
    });

    for (name, file, id) in [
        ("dda", "oda-proxmark3.json", "pm3_dda_mc05"),
        (
            "fdda",
            "oda-visa-debit-fdda.json",
            "visa_debit_comdirect_qvsdc_fdda",
        ),
    ] {
        let input = inputs(file, id);
        let sdad = hex_of(&input.case["sdad"]);
        let dynamic = hex_of(&input.case["dynamic_data"]);
        let formats = if name == "fdda" {
            SdadFormats::FDDA
        } else {
            SdadFormats::DDA
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let issuer = oda::recover_issuer_public_key(
                    &input.capk,
                    &input.issuer[0],
                    &input.issuer[1],
                    &input.issuer[2],
                    &input.pan,
                    input.today,
                )
                .expect("issuer");
                let icc = oda::recover_icc_public_key(
                    &issuer,
                    &input.icc[0],
                    &input.icc[1],
                    &input.icc[2],
                    &input.pan,
                    &input.static_data,
                    input.today,
                )
                .expect("icc");
                oda::verify_sdad(&icc, &sdad, &dynamic, formats).expect("sdad")
            })
        });
    }

    let cda = inputs("oda-proxmark3.json", "pm3_cda_mc05");
    let sdad = hex_of(&cda.case["sdad"]);
    let un = hex_of(&cda.case["dynamic_data"]);
    let transaction_data = hex_of(&cda.case["transaction_data"]);
    let cid = hex_of(&cda.case["cid"])[0];
    group.bench_function("cda", |b| {
        b.iter(|| {
            let issuer = oda::recover_issuer_public_key(
                &cda.capk,
                &cda.issuer[0],
                &cda.issuer[1],
                &cda.issuer[2],
                &cda.pan,
                cda.today,
            )
            .expect("issuer");
            let icc = oda::recover_icc_public_key(
                &issuer,
                &cda.icc[0],
                &cda.icc[1],
                &cda.icc[2],
                &cda.pan,
                &cda.static_data,
                cda.today,
            )
            .expect("icc");
            oda::verify_cda(&icc, &sdad, &un, &[&transaction_data], cid).expect("cda")
        })
    });
    group.finish();

    // Cold: a CA key that has never seen these certificates (its Montgomery set-up is done
    // outside the measurement, as a terminal does at start-up).
    let mut cold = c.benchmark_group("oda_full_chain_cold");
    let fdda = inputs(
        "oda-visa-debit-fdda.json",
        "visa_debit_comdirect_qvsdc_fdda",
    );
    let sdad = hex_of(&fdda.case["sdad"]);
    let dynamic = hex_of(&fdda.case["dynamic_data"]);
    cold.bench_function("fdda", |b| {
        b.iter_batched(
            || capk(&fdda.case),
            |capk| {
                let issuer = oda::recover_issuer_public_key(
                    &capk,
                    &fdda.issuer[0],
                    &fdda.issuer[1],
                    &fdda.issuer[2],
                    &fdda.pan,
                    fdda.today,
                )
                .expect("issuer");
                let icc = oda::recover_icc_public_key(
                    &issuer,
                    &fdda.icc[0],
                    &fdda.icc[1],
                    &fdda.icc[2],
                    &fdda.pan,
                    &fdda.static_data,
                    fdda.today,
                )
                .expect("icc");
                oda::verify_sdad(&icc, &sdad, &dynamic, SdadFormats::FDDA).expect("sdad")
            },
            BatchSize::SmallInput,
        )
    });
    cold.bench_function("sda", |b| {
        b.iter_batched(
            || capk(&sda.case),
            |capk| {
                let issuer = oda::recover_issuer_public_key(
                    &capk,
                    &sda.issuer[0],
                    &sda.issuer[1],
                    &sda.issuer[2],
                    &sda.pan,
                    sda.today,
                )
                .expect("issuer");
                oda::verify_ssad(&issuer, &ssad, &sda.static_data).expect("ssad")
            },
            BatchSize::SmallInput,
        )
    });
    cold.finish();
}

/// A PBOC SM2 card (formats 12/13/14/15, ⚠ layout of `oda::sm2`) signed by fixed keys with the
/// personalisation helpers of `oda::issue`: CA → issuer → ICC, plus an fDDA SDAD and an SSAD.
struct Sm2Inputs {
    ca_public: [u8; 64],
    issuer_cert: Vec<u8>,
    icc_cert: Vec<u8>,
    ssad: Vec<u8>,
    sdad: Vec<u8>,
    pan: Vec<u8>,
    static_data: Vec<u8>,
    dynamic_data: Vec<u8>,
    today: Date,
}

fn sm2_signer(hex_scalar: &str) -> Sm2Signer {
    let scalar: [u8; 32] = hex::decode(hex_scalar)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    Sm2Signer::from_bytes(&scalar).expect("sm2 key")
}

fn sm2_capk(public_key: &[u8; 64]) -> CaPublicKey {
    let (rid, index) = (Rid([0xA0, 0, 0, 0x03, 0x33]), CapkIndex(0x18));
    let checksum = sm2_checksum(rid, index, public_key, HashAlgorithm::Sm3);
    CaPublicKey::new_sm2(rid, index, public_key, HashAlgorithm::Sm3, None, &checksum)
        .expect("sm2 capk")
}

fn sm2_inputs() -> Sm2Inputs {
    let ca = sm2_signer("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8");
    let issuer = sm2_signer("1649AB77A00637BD5E2EFE283FBF353534AA7F7CB89463F208DDBC2920BB0DA0");
    let icc = sm2_signer("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21");
    let pan = vec![0x62, 0x28, 0x48, 0x00, 0x12, 0x34, 0x56, 0x78];
    // A typical SDA tag list's worth of records.
    let static_data: Vec<u8> = (0..=255u8).collect();
    let dynamic_data = b"\x12\x34\x56\x78\x00\x00\x00\x00\x01\x00\x01\x56".to_vec();
    let issuer_fields = IssuerCertificateFields {
        issuer_identifier: [0x62, 0x28, 0x48, 0xFF],
        expiry: [0x12, 0x49],
        serial: [0xAB, 0xCD, 0xEF],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    };
    let icc_fields = IccCertificateFields {
        pan: issue::pan_field(&pan).expect("pan"),
        expiry: [0x12, 0x49],
        serial: [0, 0, 1],
        hash_algorithm: 0x07,
        pk_algorithm: issue::SM2_PK_ALGORITHM,
    };
    Sm2Inputs {
        ca_public: *ca.public_key(),
        issuer_cert: issue::sm2_issuer_certificate(&ca, &issuer_fields, issuer.public_key())
            .expect("issuer cert"),
        icc_cert: issue::sm2_icc_certificate(&issuer, &icc_fields, icc.public_key(), &static_data)
            .expect("icc cert"),
        ssad: issue::sm2_ssad(&issuer, [0x12, 0x34], &static_data).expect("ssad"),
        sdad: issue::sm2_sdad(&icc, &[0x02, 0x00, 0x07], &dynamic_data).expect("sdad"),
        pan,
        static_data,
        dynamic_data,
        today: Date::new(2025, 1, 15).expect("date"),
    }
}

impl Sm2Inputs {
    fn issuer(&self, capk: &CaPublicKey) -> oda::IssuerPublicKey {
        oda::recover_issuer_public_key(capk, &self.issuer_cert, &[], &[], &self.pan, self.today)
            .expect("sm2 issuer")
    }

    fn fdda(&self, capk: &CaPublicKey) -> oda::DynamicSignature {
        let issuer = self.issuer(capk);
        let icc = oda::recover_icc_public_key(
            &issuer,
            &self.icc_cert,
            &[],
            &[],
            &self.pan,
            &self.static_data,
            self.today,
        )
        .expect("sm2 icc");
        oda::verify_sdad(&icc, &self.sdad, &self.dynamic_data, SdadFormats::FDDA).expect("sm2 sdad")
    }

    fn sda(&self, capk: &CaPublicKey) -> oda::DataAuthenticationCode {
        let issuer = self.issuer(capk);
        oda::verify_ssad(&issuer, &self.ssad, &self.static_data).expect("sm2 ssad")
    }
}

/// PBOC SM2 ODA (alg `04`), the same chains as the RSA groups: warm (a terminal's CA key that
/// has seen this issuer and card before), cold (a CA key built outside the measurement that has
/// never seen them), and the single SDAD verification every tap pays.
fn bench_oda_sm2(c: &mut Criterion) {
    let input = sm2_inputs();
    let capk = sm2_capk(&input.ca_public);

    let mut group = c.benchmark_group("oda_sm2_full_chain");
    group.bench_function("fdda", |b| b.iter(|| input.fdda(&capk)));
    group.bench_function("sda", |b| b.iter(|| input.sda(&capk)));
    let issuer = input.issuer(&capk);
    let icc = oda::recover_icc_public_key(
        &issuer,
        &input.icc_cert,
        &[],
        &[],
        &input.pan,
        &input.static_data,
        input.today,
    )
    .expect("sm2 icc");
    group.bench_function("sdad_only", |b| {
        b.iter(|| {
            oda::verify_sdad(&icc, &input.sdad, &input.dynamic_data, SdadFormats::FDDA)
                .expect("sm2 sdad")
        })
    });
    group.finish();

    let mut cold = c.benchmark_group("oda_sm2_full_chain_cold");
    cold.bench_function("fdda", |b| {
        b.iter_batched(
            || sm2_capk(&input.ca_public),
            |capk| input.fdda(&capk),
            BatchSize::SmallInput,
        )
    });
    cold.bench_function("sda", |b| {
        b.iter_batched(
            || sm2_capk(&input.ca_public),
            |capk| input.sda(&capk),
            BatchSize::SmallInput,
        )
    });
    cold.finish();
}

criterion_group!(benches, bench_oda, bench_oda_sm2);
criterion_main!(benches);
