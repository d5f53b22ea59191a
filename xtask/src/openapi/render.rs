//! Rendering of the generated items: structs, enums, one-of enums, newtypes and their docs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Result, bail};
use serde_json::Value;

use super::{Field, Ty, pascal};

pub(super) fn render_struct(
    out: &mut String,
    name: &str,
    doc: Option<&str>,
    fields: &[Field],
    eq: bool,
) {
    push_item_doc(out, name, doc);
    let has_secret = fields.iter().any(|f| f.secret);
    let mut derives = vec![];
    if !has_secret {
        derives.push("Debug");
    }
    derives.extend(["Clone", "PartialEq"]);
    if eq {
        derives.push("Eq");
    }
    derives.extend(["serde::Serialize", "serde::Deserialize"]);
    let _ = writeln!(
        out,
        "#[derive({})]\n#[non_exhaustive]\npub struct {name} {{",
        derives.join(", ")
    );
    for f in fields {
        match &f.doc {
            Some(d) => push_doc(out, d),
            None => {
                let _ = writeln!(out, "/// `{}`", f.json);
            }
        }
        let optional = !f.required || f.nullable;
        let mut attrs = vec![format!("rename = {:?}", f.json)];
        if !f.required {
            attrs.push("default".into());
            attrs.push("skip_serializing_if = \"Option::is_none\"".into());
        } else if f.nullable {
            attrs.push("default".into());
        }
        let _ = writeln!(out, "#[serde({})]", attrs.join(", "));
        let ty = if optional {
            Ty::Opt(Box::new(f.ty.clone()))
        } else {
            f.ty.clone()
        };
        let _ = writeln!(out, "pub {}: {},", f.rust, ty.render());
    }
    out.push_str("}\n\n");

    // new(required...) and setters.
    let required: Vec<&Field> = fields
        .iter()
        .filter(|f| f.required && !f.nullable)
        .collect();
    let inits: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.required && !f.nullable {
                format!("{}: {}.into()", f.rust, f.rust)
            } else {
                format!("{}: None", f.rust)
            }
        })
        .collect();
    if needs_params(&required) {
        // Positional arguments of one type could be passed in each other's place, and a field the
        // spec inserts would shift the rest silently: name them instead.
        let params = format!("{name}Params");
        let _ = writeln!(
            out,
            "/// The required fields of [`{name}`], by name: a field the spec adds is a compile \
             error here, never a shifted value.\n#[derive({})]\npub struct {params} {{",
            if has_secret {
                "Clone, PartialEq"
            } else {
                "Debug, Clone, PartialEq"
            }
        );
        for f in &required {
            let _ = writeln!(out, "/// `{}`.\npub {}: {},", f.json, f.rust, f.ty.render());
        }
        out.push_str("}\n\n");
        let moved: Vec<String> = fields
            .iter()
            .map(|f| {
                if f.required && !f.nullable {
                    format!("{}: params.{}", f.rust, f.rust)
                } else {
                    format!("{}: None", f.rust)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "impl From<{params}> for {name} {{\nfn from(params: {params}) -> Self {{ {name} {{ {} }} }}\n}}\n\n\
             impl {name} {{\n/// A value with the required fields set; optional ones start unset.\n\
             pub fn new(params: {params}) -> Self {{ params.into() }}",
            moved.join(", ")
        );
    } else {
        let args: Vec<String> = required
            .iter()
            .map(|f| format!("{}: impl Into<{}>", f.rust, f.ty.render()))
            .collect();
        let _ = writeln!(
            out,
            "impl {name} {{\n/// A value with the required fields set; optional ones start unset.\n\
             #[allow(clippy::new_without_default)]\n\
             pub fn new({}) -> Self {{ {name} {{ {} }} }}",
            args.join(", "),
            inits.join(", ")
        );
    }
    for f in fields.iter().filter(|f| !f.required || f.nullable) {
        let _ = writeln!(
            out,
            "/// Sets `{}`.\npub fn with_{}(mut self, value: impl Into<{}>) -> Self {{ self.{} = Some(value.into()); self }}",
            f.json,
            f.rust.trim_start_matches("r#"),
            f.ty.render(),
            f.rust
        );
    }
    out.push_str("}\n\n");

    if has_secret {
        let _ = writeln!(
            out,
            "impl std::fmt::Debug for {name} {{\nfn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\nf.debug_struct({name:?})"
        );
        for f in fields {
            let name = f.rust.trim_start_matches("r#");
            if f.secret {
                let _ = writeln!(out, ".field({name:?}, &\"<redacted>\")");
            } else {
                let _ = writeln!(out, ".field({name:?}, &self.{})", f.rust);
            }
        }
        out.push_str(".finish()\n}\n}\n\n");
    }
}

/// How many required fields of one type make positional arguments risky.
const SAME_TYPE_PARAMS: usize = 3;

/// Whether a struct's constructor takes a `…Params` struct with named fields: when at least
/// [`SAME_TYPE_PARAMS`] required fields share a type.
fn needs_params(required: &[&Field]) -> bool {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in required {
        *counts.entry(f.ty.render()).or_default() += 1;
    }
    counts.values().any(|n| *n >= SAME_TYPE_PARAMS)
}

pub(super) fn render_enum(
    out: &mut String,
    name: &str,
    doc: Option<&str>,
    values: &[String],
) -> Result<()> {
    out.push_str("crate::string_enum! {\n");
    push_item_doc(out, name, doc);
    let _ = writeln!(out, "{name} {{");
    let mut seen = BTreeSet::new();
    for v in values {
        let variant = pascal(v);
        if variant == "Unknown" || !seen.insert(variant.clone()) {
            bail!("enum value `{v}` of `{name}` gives the variant `{variant}`, which is taken");
        }
        let _ = writeln!(out, "/// `{v}`\n{variant} = {v:?},");
    }
    out.push_str("}\n}\n\n");
    Ok(())
}

pub(super) fn render_one_of(
    out: &mut String,
    name: &str,
    doc: Option<&str>,
    variants: &[(String, String)],
    tag: Option<&str>,
) {
    push_item_doc(out, name, doc);
    out.push_str("#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]\n");
    match tag {
        Some(t) => {
            let _ = writeln!(out, "#[serde(tag = {t:?})]");
        }
        None => out.push_str("#[serde(untagged)]\n"),
    }
    let _ = writeln!(out, "#[non_exhaustive]\npub enum {name} {{");
    for (variant, target) in variants {
        let _ = writeln!(out, "/// A [`{target}`].\n{variant}({target}),");
    }
    out.push_str("}\n\n");
}

pub(super) fn render_string_newtype(out: &mut String, name: &str, doc: Option<&str>) {
    push_item_doc(out, name, doc);
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]\n\
         #[serde(transparent)]\npub struct {name}(pub String);\n\n\
         impl {name} {{\n/// Wraps a value.\npub fn new(value: impl Into<String>) -> Self {{ {name}(value.into()) }}\n\
         /// The value.\npub fn as_str(&self) -> &str {{ &self.0 }}\n}}\n\n\
         impl std::fmt::Display for {name} {{\nfn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{ f.write_str(&self.0) }}\n}}\n\n\
         impl From<String> for {name} {{\nfn from(value: String) -> Self {{ {name}(value) }}\n}}\n\n\
         impl From<&str> for {name} {{\nfn from(value: &str) -> Self {{ {name}(value.to_owned()) }}\n}}\n\n\
         impl AsRef<str> for {name} {{\nfn as_ref(&self) -> &str {{ &self.0 }}\n}}\n"
    );
}

pub(super) fn render_int_newtype(out: &mut String, name: &str, doc: Option<&str>, ty: &Ty) {
    push_item_doc(out, name, doc);
    let t = ty.render();
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]\n\
         #[serde(transparent)]\npub struct {name}(pub {t});\n\n\
         impl std::fmt::Display for {name} {{\nfn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{ self.0.fmt(f) }}\n}}\n\n\
         impl From<{t}> for {name} {{\nfn from(value: {t}) -> Self {{ {name}(value) }}\n}}\n"
    );
}

fn push_item_doc(out: &mut String, name: &str, doc: Option<&str>) {
    match doc {
        Some(d) => {
            push_doc(out, d);
            let _ = writeln!(out, "///\n/// Schema `{name}`.");
        }
        None => {
            let _ = writeln!(out, "/// Schema `{name}`.");
        }
    }
}

pub(super) fn push_doc(out: &mut String, doc: &str) {
    for line in doc.lines() {
        if line.trim().is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {}", line.trim_end());
        }
    }
}

/// The first prose paragraph of a description, made safe for rustdoc.
pub(super) fn doc_of(v: &Value) -> Option<String> {
    let text = v.get("description")?.as_str()?;
    let para = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty() && !p.starts_with('|'))?
        .to_owned();
    let cleaned: Vec<String> = para
        .lines()
        .take_while(|l| !l.trim_start().starts_with('|'))
        .map(escape_doc)
        .collect();
    let joined = cleaned.join("\n").trim().to_owned();
    (!joined.is_empty()).then_some(joined)
}

/// Escapes what rustdoc would read as links or HTML.
pub(super) fn escape_doc(line: &str) -> String {
    let mut s = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '[' | ']' | '<' | '>' => {
                s.push('\\');
                s.push(c);
            }
            _ => s.push(c),
        }
    }
    s.replace("<br\\>", " ")
}
