//! Shared helpers of the ksef-model integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod schemas;

use std::path::PathBuf;

use serde_json::Value;

/// The pinned OpenAPI spec vendored in `openapi/`: the generated code matches exactly that file.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/open-api.json")
}

/// The pinned OpenAPI spec (`openapi/open-api.json`), parsed.
pub fn spec() -> Value {
    let path = spec_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading the pinned OpenAPI spec {}: {e} (openapi/PROVENANCE.md)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the spec is JSON")
}

/// A form of a JSON value in which equivalent documents are equal: object keys holding `null` are
/// dropped (an absent optional field and an explicit null mean the same), and date-time strings are
/// rewritten in one canonical form (instant and offset kept, fraction digits normalised).
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(dt) => Value::String(dt.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)),
            Err(_) => value.clone(),
        },
        // Numbers compare by value: 1 and 1.0 are the same number.
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(_), _) => value.clone(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        _ => value.clone(),
    }
}

/// The schema name a `$ref` (or an `allOf` of one `$ref`) points to.
pub fn schema_ref(schema: &Value) -> Option<String> {
    let direct = schema.get("$ref").and_then(Value::as_str);
    let via_all_of = || {
        let parts = schema.get("allOf")?.as_array()?;
        match parts.as_slice() {
            [one] => one.get("$ref")?.as_str(),
            _ => None,
        }
    };
    direct
        .or_else(via_all_of)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}
