//! `cargo xtask spec-diff OLD NEW`: what changed between two versions of the spec.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::openapi::{operations_of, schemas_of};

/// Describes the differences between two spec files.
pub(crate) fn diff_files(old: &Path, new: &Path) -> Result<String> {
    let load = |p: &Path| -> Result<Value> {
        serde_json::from_str(&crate::read(p)?).with_context(|| format!("parsing {}", p.display()))
    };
    diff(&load(old)?, &load(new)?)
}

/// Describes the differences between two parsed specs.
pub(crate) fn diff(old: &Value, new: &Value) -> Result<String> {
    let mut out = String::new();
    section(
        &mut out,
        "operations",
        &operations_of(old),
        &operations_of(new),
    );
    section(&mut out, "schemas", &schemas_of(old)?, &schemas_of(new)?);
    if out.is_empty() {
        out.push_str("no differences in operations or schemas\n");
    }
    Ok(out)
}

fn section(
    out: &mut String,
    what: &str,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
) {
    let added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();
    let removed: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
    let changed: Vec<(&String, Vec<String>)> = old
        .iter()
        .filter_map(|(k, v)| {
            let n = new.get(k)?;
            let mut paths = Vec::new();
            changed_paths(v, n, String::new(), &mut paths);
            (!paths.is_empty()).then_some((k, paths))
        })
        .collect();
    for k in added {
        let _ = writeln!(out, "+ {what}: {k}");
    }
    for k in removed {
        let _ = writeln!(out, "- {what}: {k}");
    }
    for (k, paths) in changed {
        let _ = writeln!(out, "~ {what}: {k}");
        for p in paths.iter().take(20) {
            let _ = writeln!(out, "    {p}");
        }
        if paths.len() > 20 {
            let _ = writeln!(out, "    ... and {} more", paths.len() - 20);
        }
    }
}

/// JSON-pointer-like paths where two values differ, ignoring prose (`description`, `summary`).
fn changed_paths(old: &Value, new: &Value, at: String, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if matches!(
                    k.as_str(),
                    "description" | "summary" | "example" | "examples"
                ) {
                    continue;
                }
                let path = format!("{at}/{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => changed_paths(x, y, path, out),
                    (Some(_), None) => out.push(format!("removed {path}")),
                    (None, Some(_)) => out.push(format!("added {path}")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!("changed {}", if at.is_empty() { "/" } else { &at })),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_added_removed_and_changed() {
        let old = json!({
            "paths": {"/a": {"get": {"summary": "x"}}, "/b": {"post": {"x-rate-limits": {"perSecond": 1}}}},
            "components": {"schemas": {"A": {"type": "string"}, "B": {"type": "object"}}}
        });
        let new = json!({
            "paths": {"/b": {"post": {"x-rate-limits": {"perSecond": 2}}}, "/c": {"delete": {}}},
            "components": {"schemas": {"A": {"type": "string", "description": "prose only"}, "C": {}}}
        });
        let text = diff(&old, &new).unwrap();
        assert!(text.contains("+ operations: DELETE /c"), "{text}");
        assert!(text.contains("- operations: GET /a"), "{text}");
        assert!(
            text.contains("~ operations: POST /b\n    changed /x-rate-limits/perSecond"),
            "{text}"
        );
        assert!(text.contains("+ schemas: C"), "{text}");
        assert!(text.contains("- schemas: B"), "{text}");
        assert!(
            !text.contains("~ schemas: A"),
            "prose changes are ignored: {text}"
        );
    }
}
