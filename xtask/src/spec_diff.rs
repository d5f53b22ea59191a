//! `cargo xtask spec-diff OLD NEW`: what changed between two versions of the spec, as a Markdown
//! changelog section that shows values: added and removed enum values, fields that became
//! required or optional, and each operation's rate-limit group and limits (read from
//! `x-rate-limits` and the 429 description's table).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::openapi::{operations_of, rate_limit, schemas_of};

/// Describes the differences between two spec files.
pub(crate) fn diff_files(old: &Path, new: &Path) -> Result<String> {
    let load = |p: &Path| -> Result<Value> {
        serde_json::from_str(&crate::read(p)?).with_context(|| format!("parsing {}", p.display()))
    };
    diff(&load(old)?, &load(new)?)
}

/// The API version a spec states in its description ("**Wersja API:** 2.6.0"), else
/// `info.version`.
pub(crate) fn api_version(doc: &Value) -> String {
    doc.pointer("/info/description")
        .and_then(Value::as_str)
        .and_then(|d| d.split("Wersja API:**").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .or_else(|| doc.pointer("/info/version").and_then(Value::as_str))
        .unwrap_or("?")
        .to_owned()
}

/// What changed in one schema, with values.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SchemaChange {
    pub(crate) enum_added: Vec<String>,
    pub(crate) enum_removed: Vec<String>,
    /// New properties: (name, required).
    pub(crate) props_added: Vec<(String, bool)>,
    pub(crate) props_removed: Vec<String>,
    /// Existing properties that became required.
    pub(crate) now_required: Vec<String>,
    /// Existing properties that are no longer required.
    pub(crate) now_optional: Vec<String>,
    /// Other structural changes (JSON-pointer-like paths), prose ignored.
    pub(crate) other: Vec<String>,
}

impl SchemaChange {
    fn is_empty(&self) -> bool {
        *self == SchemaChange::default()
    }
}

/// The structured differences of two specs.
#[derive(Debug, Default)]
pub(crate) struct SpecDiff {
    pub(crate) old_version: String,
    pub(crate) new_version: String,
    /// `METHOD path` of added operations, with their rate limit in words.
    pub(crate) ops_added: Vec<(String, String)>,
    pub(crate) ops_removed: Vec<String>,
    /// Changed operations: what changed, in words.
    pub(crate) ops_changed: Vec<(String, Vec<String>)>,
    pub(crate) schemas_added: Vec<(String, Vec<String>)>,
    pub(crate) schemas_removed: Vec<String>,
    pub(crate) schemas_changed: Vec<(String, SchemaChange)>,
    pub(crate) operation_count: (usize, usize),
    pub(crate) schema_count: (usize, usize),
}

/// Compares two parsed specs.
pub(crate) fn compare(old: &Value, new: &Value) -> Result<SpecDiff> {
    let old_ops = operations_of(old);
    let new_ops = operations_of(new);
    let old_schemas = schemas_of(old)?;
    let new_schemas = schemas_of(new)?;
    let mut d = SpecDiff {
        old_version: api_version(old),
        new_version: api_version(new),
        operation_count: (old_ops.len(), new_ops.len()),
        schema_count: (old_schemas.len(), new_schemas.len()),
        ..SpecDiff::default()
    };
    (d.ops_added, d.ops_changed, d.ops_removed) =
        diff_by_name(&old_ops, &new_ops, describe_op, |a, b| {
            Some(op_changes(a, b)).filter(|c| !c.is_empty())
        });
    (d.schemas_added, d.schemas_changed, d.schemas_removed) =
        diff_by_name(&old_schemas, &new_schemas, required_of, |a, b| {
            Some(schema_change(a, b)).filter(|c| !c.is_empty())
        });
    Ok(d)
}

/// Describes the differences between two parsed specs as Markdown.
pub(crate) fn diff(old: &Value, new: &Value) -> Result<String> {
    Ok(render(&compare(old, new)?))
}

/// An operation's rate limit and permissions in words.
/// Added (name, description), changed (name, change) and removed names.
type NameDiff<A, C> = (Vec<(String, A)>, Vec<(String, C)>, Vec<String>);

/// The entries of `new` not in `old` (described by `added`), those in both that `changed` finds
/// different, and the names of those only in `old`.
fn diff_by_name<A, C>(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    added: impl Fn(&Value) -> A,
    changed: impl Fn(&Value, &Value) -> Option<C>,
) -> NameDiff<A, C> {
    let (mut new_entries, mut changes) = (Vec::new(), Vec::new());
    for (name, entry) in new {
        match old.get(name) {
            None => new_entries.push((name.clone(), added(entry))),
            Some(before) => changes.extend(changed(before, entry).map(|c| (name.clone(), c))),
        }
    }
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (new_entries, changes, removed)
}

fn describe_op(op: &Value) -> String {
    let mut parts = vec![rate_words(op)];
    let perms = permissions(op);
    if !perms.is_empty() {
        parts.push(format!(
            "permissions: {}",
            perms.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    parts.join("; ")
}

fn rate_words(op: &Value) -> String {
    match rate_limit(op) {
        Ok(r) => {
            let limits = r
                .limits
                .map_or_else(|| "no x-rate-limits".to_owned(), |l| l.to_string());
            match r.warning {
                Some(w) => format!("rate limit: `{}` {limits} ({w})", r.group),
                None => format!("rate limit: `{}` {limits}", r.group),
            }
        }
        Err(e) => format!("rate limit unreadable: {e:#}"),
    }
}

fn permissions(op: &Value) -> BTreeSet<String> {
    op.get("x-required-permissions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn op_changes(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (rate_words(old), rate_words(new));
    if a != b {
        out.push(format!("{a} → {b}"));
    }
    let (pa, pb) = (permissions(old), permissions(new));
    for p in pb.difference(&pa) {
        out.push(format!("permission added: {p}"));
    }
    for p in pa.difference(&pb) {
        out.push(format!("permission removed: {p}"));
    }
    let mut paths = Vec::new();
    changed_paths(old, new, String::new(), &mut paths);
    paths.retain(|p| !p.contains("/x-rate-limits") && !p.contains("/x-required-permissions"));
    out.extend(paths);
    out
}

fn required_of(schema: &Value) -> Vec<String> {
    strings_at(schema, "required")
}

fn enum_of(schema: &Value) -> BTreeSet<String> {
    strings_at(schema, "enum")
}

/// The strings of the array `schema[key]` (none when it is missing or not an array).
fn strings_at<C: FromIterator<String>>(schema: &Value, key: &str) -> C {
    schema
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn schema_change(old: &Value, new: &Value) -> SchemaChange {
    let mut c = SchemaChange::default();
    let (ea, eb) = (enum_of(old), enum_of(new));
    c.enum_added = eb.difference(&ea).cloned().collect();
    c.enum_removed = ea.difference(&eb).cloned().collect();
    let props = |s: &Value| -> BTreeSet<String> {
        s.get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (pa, pb) = (props(old), props(new));
    let (ra, rb): (BTreeSet<String>, BTreeSet<String>) = (
        required_of(old).into_iter().collect(),
        required_of(new).into_iter().collect(),
    );
    c.props_added = pb
        .difference(&pa)
        .map(|p| (p.clone(), rb.contains(p)))
        .collect();
    c.props_removed = pa.difference(&pb).cloned().collect();
    c.now_required = rb
        .difference(&ra)
        .filter(|p| pa.contains(*p))
        .cloned()
        .collect();
    c.now_optional = ra
        .difference(&rb)
        .filter(|p| pb.contains(*p))
        .cloned()
        .collect();
    let mut paths = Vec::new();
    changed_paths(old, new, String::new(), &mut paths);
    // What the lists above say already.
    paths.retain(|p| {
        !(p.starts_with("changed /enum/")
            || p.starts_with("added /enum/")
            || p.starts_with("removed /enum/")
            || p.starts_with("changed /required/")
            || p.starts_with("added /required/")
            || p.starts_with("removed /required/")
            || p == "added /required"
            || p == "removed /required"
            || c.props_added
                .iter()
                .any(|(n, _)| *p == format!("added /properties/{n}"))
            || c.props_removed
                .iter()
                .any(|n| *p == format!("removed /properties/{n}")))
    });
    c.other = paths;
    c
}

/// Renders the differences as a changelog section.
pub(crate) fn render(d: &SpecDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## KSeF API {} → {}\n\n{} → {} operations, {} → {} schemas.\n",
        d.old_version,
        d.new_version,
        d.operation_count.0,
        d.operation_count.1,
        d.schema_count.0,
        d.schema_count.1
    );
    let nothing = d.ops_added.is_empty()
        && d.ops_removed.is_empty()
        && d.ops_changed.is_empty()
        && d.schemas_added.is_empty()
        && d.schemas_removed.is_empty()
        && d.schemas_changed.is_empty();
    if nothing {
        out.push_str("No differences in operations or schemas.\n");
        return out;
    }
    section(
        &mut out,
        "Added operations",
        &d.ops_added,
        |out, (k, what)| {
            let _ = writeln!(out, "- `{k}`: {what}");
        },
    );
    section(&mut out, "Removed operations", &d.ops_removed, |out, k| {
        let _ = writeln!(out, "- `{k}`");
    });
    section(
        &mut out,
        "Changed operations",
        &d.ops_changed,
        |out, (k, changes)| {
            let _ = writeln!(out, "- `{k}`");
            push_capped(out, changes);
        },
    );
    section(
        &mut out,
        "Added schemas",
        &d.schemas_added,
        |out, (k, required)| {
            if required.is_empty() {
                let _ = writeln!(out, "- `{k}`");
            } else {
                let _ = writeln!(out, "- `{k}` (required: {})", required.join(", "));
            }
        },
    );
    section(&mut out, "Removed schemas", &d.schemas_removed, |out, k| {
        let _ = writeln!(out, "- `{k}`");
    });
    section(
        &mut out,
        "Changed schemas",
        &d.schemas_changed,
        |out, (k, c)| {
            let _ = writeln!(out, "- `{k}`");
            push_capped(out, &schema_change_lines(c));
        },
    );
    out
}

/// A `### title` section listing `items` (one `item` call each), or nothing when there are none.
fn section<T>(out: &mut String, title: &str, items: &[T], item: impl Fn(&mut String, &T)) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "### {title}\n");
    for entry in items {
        item(out, entry);
    }
    out.push('\n');
}

/// The lines that describe one schema's change.
fn schema_change_lines(c: &SchemaChange) -> Vec<String> {
    let mut lines = Vec::new();
    if !c.enum_added.is_empty() {
        lines.push(format!("enum values added: {}", c.enum_added.join(", ")));
    }
    if !c.enum_removed.is_empty() {
        lines.push(format!(
            "enum values removed: {}",
            c.enum_removed.join(", ")
        ));
    }
    for (p, required) in &c.props_added {
        lines.push(format!(
            "field added: `{p}`{}",
            if *required { " (**required**)" } else { "" }
        ));
    }
    for p in &c.props_removed {
        lines.push(format!("field removed: `{p}`"));
    }
    for p in &c.now_required {
        lines.push(format!("field became **required**: `{p}`"));
    }
    for p in &c.now_optional {
        lines.push(format!("field became optional: `{p}`"));
    }
    lines.extend(c.other.iter().cloned());
    lines
}

fn push_capped(out: &mut String, lines: &[String]) {
    for p in lines.iter().take(20) {
        let _ = writeln!(out, "  - {p}");
    }
    if lines.len() > 20 {
        let _ = writeln!(out, "  - ... and {} more", lines.len() - 20);
    }
}

/// JSON-pointer-like paths where two values differ, ignoring prose (`description`, `summary`).
fn changed_paths(old: &Value, new: &Value, at: String, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
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

/// Schema names whose required fields grew, with the new required fields (for the list of
/// hand-written places to revisit).
pub(crate) fn new_required_fields(d: &SpecDiff) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (k, c) in &d.schemas_changed {
        let mut fields: Vec<String> = c
            .props_added
            .iter()
            .filter(|(_, r)| *r)
            .map(|(p, _)| p.clone())
            .collect();
        fields.extend(c.now_required.iter().cloned());
        if !fields.is_empty() {
            out.insert(k.clone(), fields);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_added_removed_and_changed_with_values() {
        let old = json!({
            "info": {"version": "v2", "description": "**Wersja API:** 1.0.0 (build x)"},
            "paths": {
                "/a": {"get": {"summary": "x"}},
                "/b": {"post": {"x-rate-limits": {"perSecond": 1, "perMinute": 2},
                    "responses": {"429": {"description": "| L | 1 | 2 | onlineSession\n"}}}}
            },
            "components": {"schemas": {
                "A": {"type": "string", "enum": ["X", "Y"]},
                "B": {"type": "object"},
                "R": {"required": ["a"], "properties": {"a": {}, "b": {}, "c": {}}}
            }}
        });
        let new = json!({
            "info": {"version": "v2", "description": "**Wersja API:** 1.1.0 (build y)"},
            "paths": {
                "/b": {"post": {"x-rate-limits": {"perSecond": 2, "perMinute": 4},
                    "x-required-permissions": ["InvoiceRead"],
                    "responses": {"429": {"description": "| L | 2 | 4 | onlineSessionClose\n"}}}},
                "/c": {"delete": {"x-rate-limits": {"perSecond": 60}}}
            },
            "components": {"schemas": {
                "A": {"type": "string", "enum": ["X", "Z"], "description": "prose only"},
                "C": {"required": ["id"], "properties": {"id": {}}},
                "R": {"required": ["b", "d"], "properties": {"a": {}, "b": {}, "c": {}, "d": {}}}
            }}
        });
        let text = diff(&old, &new).unwrap();
        assert!(text.starts_with("## KSeF API 1.0.0 → 1.1.0\n"), "{text}");
        assert!(
            text.contains("- `DELETE /c`: rate limit: `anonymous` 60/s"),
            "{text}"
        );
        assert!(
            text.contains("### Removed operations\n\n- `GET /a`"),
            "{text}"
        );
        assert!(
            text.contains(
                "- `POST /b`\n  - rate limit: `onlineSession` 1/s, 2/min → rate limit: `onlineSessionClose` 2/s, 4/min\n  - permission added: InvoiceRead"
            ),
            "{text}"
        );
        assert!(text.contains("- `C` (required: id)"), "{text}");
        assert!(text.contains("- `B`"), "{text}");
        assert!(
            text.contains("- `A`\n  - enum values added: Z\n  - enum values removed: Y\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "- `R`\n  - field added: `d` (**required**)\n  - field became **required**: `b`\n  - field became optional: `a`\n"
            ),
            "{text}"
        );
        let d = compare(&old, &new).unwrap();
        assert_eq!(
            new_required_fields(&d).get("R"),
            Some(&vec!["d".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn prose_changes_are_ignored() {
        let old = json!({"paths": {}, "components": {"schemas": {"A": {"type": "string"}}}});
        let new = json!({"paths": {}, "components": {"schemas": {"A": {"type": "string", "description": "x"}}}});
        assert!(diff(&old, &new).unwrap().contains("No differences"));
    }
}
