//! `dol` cases (README §3.12): data object list parsing and building.

use std::collections::HashMap;

use quickpass_kernel::dol::{Dol, DolSource};
use quickpass_kernel::{Format, Tag};
use serde_json::{json, Value};

use crate::conformance::case::{decode_hex, unsupported, Case, Check};

/// Values and formats given by the case.
struct CaseValues {
    values: HashMap<Tag, Vec<u8>>,
    formats: HashMap<Tag, Format>,
}

impl DolSource for CaseValues {
    fn value(&self, tag: Tag) -> Option<&[u8]> {
        self.values.get(&tag).map(Vec::as_slice)
    }

    fn format(&self, tag: Tag) -> Format {
        self.formats.get(&tag).copied().unwrap_or(Format::B)
    }
}

pub(super) fn run(case: &Case<'_>) -> Check {
    let bytes = case.hex("dol")?;
    match case.str("operation")? {
        "parse" => {
            let parsed = Dol::parse(&bytes);
            case.expect_bool("ok", parsed.is_ok())?;
            if let Ok(dol) = parsed {
                let entries: Vec<Value> = dol
                    .entries()
                    .iter()
                    .map(|e| json!({"tag": e.tag.to_string(), "length": e.length}))
                    .collect();
                case.expect_json("entries", &Value::Array(entries))?;
            }
            Ok(())
        }
        "build" => {
            let dol = Dol::parse(&bytes).map_err(|e| e.to_string())?;
            let source = CaseValues {
                values: tag_map(case.input("values"), decode_hex)?,
                formats: tag_map(case.input("formats"), |v, _| format(v))?,
            };
            case.expect_hex("output", &dol.build(&source))
        }
        other => unsupported("operation", other),
    }
}

/// Reads a README "tag map" object.
pub(super) fn tag_map<T>(
    value: Option<&Value>,
    read: impl Fn(&Value, &str) -> Check<T>,
) -> Check<HashMap<Tag, T>> {
    let Some(value) = value else {
        return Ok(HashMap::new());
    };
    let object = value.as_object().ok_or("tag map is not an object")?;
    object
        .iter()
        .map(|(key, v)| {
            let tag: Tag = key
                .parse()
                .map_err(|e: quickpass_kernel::tags::TagParseError| e.to_string())?;
            Ok((tag, read(v, key)?))
        })
        .collect()
}

fn format(value: &Value) -> Check<Format> {
    match value.as_str() {
        Some("n") => Ok(Format::N),
        Some("cn") => Ok(Format::Cn),
        Some("b") => Ok(Format::B),
        Some("an") => Ok(Format::An),
        Some("ans") => Ok(Format::Ans),
        Some(other) => unsupported("format", other),
        None => Err("format is not a string".to_owned()),
    }
}
