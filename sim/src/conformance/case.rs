//! Typed, bookkeeping access to one vector case.
//!
//! The vector format says every `expect` field present must be compared and every optional
//! input present must be used. [`Case`] records which fields a kind handler read; after the
//! handler returns, any field nobody read fails the case, so a new field in a file we have never
//! seen can never pass silently.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Why a case failed: a human-readable reason, printed after `FAIL file#id:`.
pub type Failure = String;

/// Result of a check inside a case.
pub type Check<T = ()> = Result<T, Failure>;

/// Fields that only humans read (vectors README §1.1 and §1.3).
const INFORMATIONAL: &[&str] = &["id", "expect", "comment"];

/// One case of a vector file, with the bookkeeping of which fields were read.
pub struct Case<'a> {
    fields: &'a Map<String, Value>,
    expect: &'a Map<String, Value>,
    read_inputs: RefCell<BTreeSet<String>>,
    read_expects: RefCell<BTreeSet<String>>,
}

impl<'a> Case<'a> {
    /// Wraps a case object; fails when it has no `expect` object.
    pub fn new(value: &'a Value) -> Check<Self> {
        let fields = value.as_object().ok_or("case is not an object")?;
        let expect = fields
            .get("expect")
            .and_then(Value::as_object)
            .filter(|e| !e.is_empty())
            .ok_or("case has no non-empty expect object")?;
        Ok(Case {
            fields,
            expect,
            read_inputs: RefCell::new(BTreeSet::new()),
            read_expects: RefCell::new(BTreeSet::new()),
        })
    }

    /// Marks input fields as informational for this kind (read by nobody on purpose).
    pub fn informational(&self, names: &[&str]) {
        let mut read = self.read_inputs.borrow_mut();
        for name in names {
            read.insert((*name).to_owned());
        }
    }

    /// An input field, if present.
    pub fn input(&self, name: &str) -> Option<&'a Value> {
        self.read_inputs.borrow_mut().insert(name.to_owned());
        self.fields.get(name)
    }

    /// A required input field.
    pub fn required(&self, name: &str) -> Check<&'a Value> {
        self.input(name)
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    /// A required hex input.
    pub fn hex(&self, name: &str) -> Check<Vec<u8>> {
        decode_hex(self.required(name)?, name)
    }

    /// An optional hex input.
    pub fn hex_opt(&self, name: &str) -> Check<Option<Vec<u8>>> {
        self.input(name).map(|v| decode_hex(v, name)).transpose()
    }

    /// A required hex input of exactly `N` bytes.
    pub fn hex_array<const N: usize>(&self, name: &str) -> Check<[u8; N]> {
        let bytes = self.hex(name)?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("field `{name}` has {} bytes, want {N}", b.len()))
    }

    /// A required string input.
    pub fn str(&self, name: &str) -> Check<&'a str> {
        self.required(name)?
            .as_str()
            .ok_or_else(|| format!("field `{name}` is not a string"))
    }

    /// A required integer input.
    pub fn int(&self, name: &str) -> Check<u64> {
        self.required(name)?
            .as_u64()
            .ok_or_else(|| format!("field `{name}` is not a non-negative integer"))
    }

    /// An optional integer input.
    pub fn int_opt(&self, name: &str) -> Check<Option<u64>> {
        match self.input(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("field `{name}` is not a non-negative integer")),
        }
    }

    /// An expected value, if present (and from then on counted as compared).
    pub fn expect(&self, name: &str) -> Option<&'a Value> {
        self.read_expects.borrow_mut().insert(name.to_owned());
        self.expect.get(name)
    }

    /// Compares an expected hex field with `actual`, when the field is present.
    pub fn expect_hex(&self, name: &str, actual: &[u8]) -> Check {
        match self.expect(name) {
            None => Ok(()),
            Some(value) => {
                let want = decode_hex(value, name)?;
                if want == actual {
                    Ok(())
                } else {
                    Err(format!(
                        "{name} mismatch: expected {}, got {}",
                        hex::encode_upper(&want),
                        hex::encode_upper(actual)
                    ))
                }
            }
        }
    }

    /// Compares an expected boolean field with `actual`, when present.
    pub fn expect_bool(&self, name: &str, actual: bool) -> Check {
        match self.expect(name) {
            None => Ok(()),
            Some(Value::Bool(want)) if *want == actual => Ok(()),
            Some(Value::Bool(want)) => Err(format!("{name}: expected {want}, got {actual}")),
            Some(_) => Err(format!("expect.{name} is not a boolean")),
        }
    }

    /// Compares an expected JSON value with `actual`, when present.
    pub fn expect_json(&self, name: &str, actual: &Value) -> Check {
        match self.expect(name) {
            None => Ok(()),
            Some(want) if want == actual => Ok(()),
            Some(want) => Err(format!("{name}: expected {want}, got {actual}")),
        }
    }

    /// After the handler: fails on any input or expect field that nobody read.
    pub fn check_all_fields_used(&self) -> Check {
        let inputs = self.read_inputs.borrow();
        if let Some(unused) = self
            .fields
            .keys()
            .find(|k| !INFORMATIONAL.contains(&k.as_str()) && !inputs.contains(k.as_str()))
        {
            return Err(format!("unsupported field `{unused}`"));
        }
        let expects = self.read_expects.borrow();
        if let Some(unused) = self.expect.keys().find(|k| !expects.contains(k.as_str())) {
            return Err(format!("unsupported expect field `{unused}`"));
        }
        Ok(())
    }
}

/// Decodes a vector `hex` value (README §1.2).
pub fn decode_hex(value: &Value, name: &str) -> Check<Vec<u8>> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("field `{name}` is not a hex string"))?;
    hex::decode(text).map_err(|e| format!("field `{name}` is not hex: {e}"))
}

/// Reads a field of a nested object as hex.
pub fn object_hex(object: &Value, name: &str) -> Check<Vec<u8>> {
    decode_hex(
        object
            .get(name)
            .ok_or_else(|| format!("missing field `{name}`"))?,
        name,
    )
}

/// Fails with `unsupported <what> <value>` (README §1.3).
pub fn unsupported<T>(what: &str, value: &str) -> Check<T> {
    Err(format!("unsupported {what} {value}"))
}

/// Fails unless `actual == expected`, naming the field.
pub fn ensure_eq<T: PartialEq + core::fmt::Debug>(name: &str, expected: T, actual: T) -> Check {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{name}: expected {expected:?}, got {actual:?}"))
    }
}
