//! Offline data authentication, full chain per method, on public certificates
//! (`vectors/oda-proxmark3.json`, `vectors/oda-visa-debit-fdda.json`): issuer key recovery +
//! ICC key recovery + signature check, every check included. The CA key is built once, as a
//! terminal does at start-up.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass_crypto::capk::{rsa_checksum, CaPublicKey, CapkIndex, HashAlgorithm, Rid};
use quickpass_crypto::date::Date;
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

criterion_group!(benches, bench_oda);
criterion_main!(benches);
