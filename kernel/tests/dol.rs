//! DOL parsing and building: every case of `vectors/dol-emv.json`, edge cases, properties.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use proptest::prelude::*;
use quickpass_kernel::dol::{Dol, DolEntry, DolError, DolSource, DolValues};
use quickpass_kernel::{Format, Tag};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/dol-emv.json");

fn hex_field(case: &Value, field: &str) -> Vec<u8> {
    hex::decode(case[field].as_str().expect(field)).expect("hex")
}

#[test]
fn every_vector_case_passes() {
    let text = std::fs::read_to_string(VECTORS).expect("vector file");
    let file: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(file["schema"], "quickpass-vectors/1");
    assert_eq!(file["kind"], "dol");
    let cases = file["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    let mut compared = 0;
    let wanted: usize = cases
        .iter()
        .map(|c| c["expect"].as_object().map_or(0, |o| o.len()))
        .sum();
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let expect = case["expect"].as_object().expect("expect");
        let dol_bytes = hex_field(case, "dol");
        match case["operation"].as_str().expect("operation") {
            "parse" => {
                let parsed = Dol::parse(&dol_bytes);
                for (field, want) in expect {
                    match field.as_str() {
                        "ok" => assert_eq!(parsed.is_ok(), want.as_bool().expect("bool"), "{id}"),
                        "entries" => {
                            let dol = parsed.as_ref().expect(id);
                            let want: Vec<(Tag, usize)> = want
                                .as_array()
                                .expect("array")
                                .iter()
                                .map(|e| {
                                    (
                                        e["tag"].as_str().expect("tag").parse().expect("tag"),
                                        e["length"].as_u64().expect("length") as usize,
                                    )
                                })
                                .collect();
                            let got: Vec<(Tag, usize)> =
                                dol.entries().iter().map(|e| (e.tag, e.length)).collect();
                            assert_eq!(got, want, "{id}");
                        }
                        other => panic!("{id}: unknown expect field {other}"),
                    }
                    compared += 1;
                }
            }
            "build" => {
                let dol = Dol::parse(&dol_bytes).expect(id);
                let mut source = DolValues::new();
                if let Some(values) = case["values"].as_object() {
                    for (tag, value) in values {
                        let tag: Tag = tag.parse().expect("tag");
                        source.set_value(
                            tag,
                            hex::decode(value.as_str().expect("hex")).expect("hex"),
                        );
                    }
                }
                if let Some(formats) = case["formats"].as_object() {
                    for (tag, format) in formats {
                        let format: Format =
                            serde_json::from_value(format.clone()).expect("format enum");
                        source.set_format(tag.parse().expect("tag"), format);
                    }
                }
                let output = dol.build(&source);
                for (field, want) in expect {
                    match field.as_str() {
                        "output" => assert_eq!(
                            hex::encode_upper(&output),
                            want.as_str().expect("hex"),
                            "{id}"
                        ),
                        other => panic!("{id}: unknown expect field {other}"),
                    }
                    compared += 1;
                }
                assert_eq!(output.len(), dol.total_length(), "{id}");
            }
            other => panic!("{id}: unsupported operation {other}"),
        }
    }
    assert_eq!(compared, wanted, "every expect field was compared");
    assert!(cases.len() >= 5);
}

#[test]
fn truncation_errors_say_where() {
    // Ends inside a two-byte tag.
    assert_eq!(
        Dol::parse(&[0x9F, 0x02, 0x06, 0x9F]),
        Err(DolError::TruncatedTag { offset: 4 })
    );
    // Tag without length byte.
    assert_eq!(
        Dol::parse(&[0x9F, 0x02, 0x06, 0x95]),
        Err(DolError::MissingLength {
            tag: Tag::new(0x95),
            offset: 4
        })
    );
    // Five-byte tag.
    assert_eq!(
        Dol::parse(&[0x9F, 0x81, 0x82, 0x83, 0x04, 0x01]),
        Err(DolError::TagTooLong { offset: 0 })
    );
}

#[test]
fn multi_byte_tags_and_zero_lengths() {
    let dol = Dol::parse(&hex::decode("DF81010300005F2A02").unwrap()).unwrap();
    assert_eq!(
        dol.entries(),
        &[
            DolEntry {
                tag: Tag::new(0xDF8101),
                length: 3
            },
            DolEntry {
                tag: Tag::new(0x00),
                length: 0
            },
            DolEntry {
                tag: Tag::new(0x5F2A),
                length: 2
            },
        ]
    );
    assert_eq!(dol.total_length(), 5);
    assert_eq!(dol.to_bytes(), hex::decode("DF81010300005F2A02").unwrap());
    let mut values = DolValues::new();
    values.insert(Tag::new(0xDF8101), Format::B, vec![1, 2, 3]);
    values.insert(Tag::new(0x00), Format::B, vec![9]);
    values.insert(Tag::new(0x5F2A), Format::N, vec![0x01, 0x56]);
    assert_eq!(dol.build(&values), vec![1, 2, 3, 0x01, 0x56]);
    assert!(Dol::parse(&[]).unwrap().is_empty());
}

#[test]
fn build_takes_formats_from_the_source() {
    struct Fixed;
    impl DolSource for Fixed {
        fn value(&self, _: Tag) -> Option<&[u8]> {
            Some(&[0x12, 0x34])
        }
        fn format(&self, tag: Tag) -> Format {
            if tag == Tag::new(0x9F02) {
                Format::N
            } else {
                Format::Cn
            }
        }
    }
    let dol = Dol::parse(&hex::decode("9F0203 5A03 9F0201".replace(' ', "")).unwrap()).unwrap();
    assert_eq!(
        hex::encode_upper(dol.build(&Fixed)),
        "00123412 34FF34".replace(' ', "")
    );
    // And through a trait object.
    let dynamic: &dyn DolSource = &Fixed;
    assert_eq!(dol.build(dynamic).len(), 7);
}

#[test]
fn split_log_record() {
    // A plausible 9F4F log format: 9A 03 | 9F21 03 | 9F02 06 | 9C 01.
    let dol = Dol::parse(&hex::decode("9A039F21039F0206 9C01".replace(' ', "")).unwrap()).unwrap();
    let record = hex::decode("240217123456000000001000 00".replace(' ', "")).unwrap();
    let fields = dol.split(&record).unwrap();
    let map: HashMap<Tag, &[u8]> = fields.iter().copied().collect();
    assert_eq!(map[&Tag::new(0x9A)], &[0x24, 0x02, 0x17]);
    assert_eq!(map[&Tag::new(0x9F02)], &[0, 0, 0, 0, 0x10, 0]);
    assert_eq!(fields.last().unwrap().0, Tag::new(0x9C));
    assert_eq!(
        dol.split(&record[1..]),
        Err(DolError::RecordLength {
            expected: 13,
            actual: 12
        })
    );
}

fn format_strategy() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::N),
        Just(Format::Cn),
        Just(Format::B),
        Just(Format::An),
        Just(Format::Ans)
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(dol) = Dol::parse(&bytes) {
            // A successful parse re-encodes to the same bytes.
            prop_assert_eq!(dol.to_bytes(), bytes);
        }
    }

    #[test]
    fn build_output_has_total_length(
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..16),
        format in format_strategy(),
    ) {
        if let Ok(dol) = Dol::parse(&bytes) {
            let mut source = DolValues::new();
            for (entry, value) in dol.entries().iter().zip(values) {
                source.insert(entry.tag, format, value);
            }
            let built = dol.build(&source);
            prop_assert_eq!(built.len(), dol.total_length());
            prop_assert!(dol.split(&built).is_ok());
        }
    }
}
