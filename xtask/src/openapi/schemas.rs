//! The types of the spec's schemas: what each schema becomes, rendered as `generated/types.rs` and
//! the schema dispatch table of the example tests.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::render::{
    doc_of, render_enum, render_int_newtype, render_one_of, render_string_newtype, render_struct,
};
use super::{
    Field, Generator, Item, Ty, int_type, pascal, ref_name, snake, ty_has_float, wrap_opt,
};

impl Generator<'_> {
    pub(super) fn schema_item(&mut self, name: &str, schema: &Value) -> Result<Item> {
        let doc = doc_of(schema);
        if let Some(path) = self.config.values.get(name) {
            return Ok(Item::Value { path: path.clone() });
        }
        if let Some(values) = schema.get("enum") {
            let values = values
                .as_array()
                .context("`enum` is not an array")?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .context("only string enums are supported")
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Item::Enum { doc, values });
        }
        if let Some(parts) = schema.get("oneOf") {
            let mut variants = Vec::new();
            for part in parts.as_array().context("`oneOf` is not an array")? {
                let target = ref_name(part).context("`oneOf` members must be $refs")?;
                variants.push((pascal(&target), target));
            }
            let tag = schema
                .pointer("/discriminator/propertyName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Ok(Item::OneOf { doc, variants, tag });
        }
        if schema.get("properties").is_some() || schema.get("allOf").is_some() {
            let fields = self.struct_fields(name, schema)?;
            return Ok(Item::Struct { doc, fields });
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => Ok(Item::StringNewtype { doc }),
            Some("integer") => Ok(Item::IntNewtype {
                doc,
                ty: int_type(schema),
            }),
            Some("object") => Ok(Item::Struct {
                doc,
                fields: Vec::new(),
            }),
            other => bail!("unsupported schema shape (type {other:?})"),
        }
    }

    /// The fields of an object schema, with `allOf` members flattened in order.
    fn struct_fields(&mut self, owner: &str, schema: &Value) -> Result<Vec<Field>> {
        let mut fields = Vec::new();
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                let resolved = match ref_name(part) {
                    Some(target) => self
                        .schemas
                        .get(&target)
                        .with_context(|| format!("allOf refers to unknown schema `{target}`"))?
                        .clone(),
                    None => part.clone(),
                };
                fields.extend(self.struct_fields(owner, &resolved)?);
            }
        }
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (json, prop) in props {
                let (ty, nullable) = self
                    .prop_type(owner, json, prop)
                    .with_context(|| format!("property `{json}`"))?;
                let mut doc = doc_of(prop);
                if prop.get("deprecated").and_then(Value::as_bool) == Some(true) {
                    let note = "**Deprecated** in the spec.".to_owned();
                    doc = Some(match doc {
                        Some(d) => format!("{d}\n\n{note}"),
                        None => note,
                    });
                }
                let relaxed = self.relaxed.contains(&(owner.to_owned(), json.clone()));
                if !relaxed
                    && required.contains(json.as_str())
                    && prop.get("deprecated").and_then(Value::as_bool) == Some(true)
                {
                    self.warnings.insert(format!(
                        "{owner}.{json} is deprecated yet required: consider listing it under \
                         [optional] in openapi/types.toml"
                    ));
                }
                if relaxed {
                    let note = "Optional here although the spec requires it: KSeF is removing it \
                                (`openapi/types.toml`, `[optional]`)."
                        .to_owned();
                    doc = Some(match doc {
                        Some(d) => format!("{d}\n\n{note}"),
                        None => note,
                    });
                }
                fields.push(Field {
                    rust: snake(json),
                    json: json.clone(),
                    ty,
                    required: required.contains(json.as_str()) && !relaxed,
                    nullable,
                    doc,
                    secret: self.secrets.contains(&(owner.to_owned(), json.clone())),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for f in &fields {
            if !seen.insert(f.rust.clone()) {
                bail!("two properties map to the Rust field `{}`", f.rust);
            }
        }
        Ok(fields)
    }

    /// The type of a property; inline objects and enums become named items `{Owner}{Property}`.
    pub(super) fn prop_type(
        &mut self,
        owner: &str,
        prop_name: &str,
        p: &Value,
    ) -> Result<(Ty, bool)> {
        let nullable = p.get("nullable").and_then(Value::as_bool) == Some(true);
        if let Some(target) = ref_name(p) {
            return Ok((Ty::Named(self.checked_ref(&target)?), nullable));
        }
        if let Some(parts) = p.get("allOf").and_then(Value::as_array) {
            if let [single] = parts.as_slice()
                && let Some(target) = ref_name(single)
            {
                return Ok((Ty::Named(self.checked_ref(&target)?), nullable));
            }
            let name = format!("{owner}{}", pascal(prop_name));
            let fields = self.struct_fields(&name, p)?;
            self.items.insert(
                name.clone(),
                Item::Struct {
                    doc: doc_of(p),
                    fields,
                },
            );
            return Ok((Ty::Named(name), nullable));
        }
        if p.get("oneOf").is_some() || p.get("anyOf").is_some() {
            bail!("inline oneOf/anyOf is not supported: give it a schema of its own");
        }
        if p.get("enum").is_some() || p.get("properties").is_some() {
            let name = format!("{owner}{}", pascal(prop_name));
            let item = self.schema_item(&name, p)?;
            self.items.insert(name.clone(), item);
            return Ok((Ty::Named(name), nullable));
        }
        let ty = match p.get("type").and_then(Value::as_str) {
            Some("string") => match p.get("format").and_then(Value::as_str) {
                Some("date-time") => Ty::DateTime,
                Some("date") => Ty::Date,
                _ => Ty::String,
            },
            Some("integer") => int_type(p),
            Some("number") => Ty::F64,
            Some("boolean") => Ty::Bool,
            Some("array") => {
                let items = p.get("items").context("array without items")?;
                let (inner, inner_nullable) = self.prop_type(owner, prop_name, items)?;
                Ty::Vec(Box::new(wrap_opt(inner, inner_nullable)))
            }
            Some("object") => match p.get("additionalProperties") {
                Some(Value::Object(ap)) if ap.get("type").is_none() && ap.get("$ref").is_none() => {
                    Ty::Map(Box::new(Ty::Json))
                }
                Some(ap @ Value::Object(_)) => {
                    let (inner, inner_nullable) = self.prop_type(owner, prop_name, ap)?;
                    Ty::Map(Box::new(wrap_opt(inner, inner_nullable)))
                }
                _ => Ty::Json,
            },
            other => bail!("unsupported property type {other:?}"),
        };
        Ok((ty, nullable))
    }

    pub(super) fn checked_ref(&self, target: &str) -> Result<String> {
        if !self.schemas.contains_key(target) {
            bail!("reference to unknown schema `{target}`");
        }
        Ok(target.to_owned())
    }

    /// Types that (transitively) hold an `f64`, so cannot derive `Eq`.
    fn non_eq_types(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        loop {
            let before = out.len();
            for (name, item) in &self.items {
                if let Item::Struct { fields, .. } = item {
                    let tainted = fields.iter().any(|f| {
                        let mut named = BTreeSet::new();
                        f.ty.named(&mut named);
                        ty_has_float(&f.ty) || named.iter().any(|n| out.contains(n))
                    });
                    if tainted {
                        out.insert(name.clone());
                    }
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    pub(super) fn render_types(&self) -> Result<String> {
        let non_eq = self.non_eq_types();
        let mut out = String::new();
        out.push_str(
            "//! One type per schema of the KSeF OpenAPI spec (`components.schemas`).\n//!\n\
             //! Documentation comes from the spec's descriptions (Polish, as the Ministry wrote them).\n\n\
             #![allow(clippy::too_many_arguments, clippy::large_enum_variant, rustdoc::bare_urls)]\n\n",
        );
        let values: Vec<&str> = self
            .items
            .values()
            .filter_map(|i| match i {
                Item::Value { path } => Some(path.as_str()),
                _ => None,
            })
            .collect();
        if !values.is_empty() {
            let _ = writeln!(out, "pub use crate::values::{{{}}};\n", values.join(", "));
        }
        for (name, item) in &self.items {
            match item {
                Item::Value { .. } => {}
                Item::Struct { doc, fields } => render_struct(
                    &mut out,
                    name,
                    doc.as_deref(),
                    fields,
                    !non_eq.contains(name),
                ),
                Item::Enum { doc, values } => render_enum(&mut out, name, doc.as_deref(), values)?,
                Item::OneOf { doc, variants, tag } => {
                    render_one_of(&mut out, name, doc.as_deref(), variants, tag.as_deref())
                }
                Item::StringNewtype { doc } => {
                    render_string_newtype(&mut out, name, doc.as_deref())
                }
                Item::IntNewtype { doc, ty } => {
                    render_int_newtype(&mut out, name, doc.as_deref(), ty)
                }
            }
        }
        Ok(out)
    }

    /// A test-support function mapping a schema name to a JSON round trip through its type.
    pub(super) fn render_dispatch(&self) -> String {
        let mut out = String::from(
            "//! Round-trips JSON through the generated type of a schema, by schema name.\n\n\
             use ksef_model::types;\n\n\
             /// Deserializes `json` as the type of `schema` and serializes it back; `None` for an \
             unknown schema.\n\
             pub fn roundtrip(schema: &str, json: &serde_json::Value) -> Option<Result<serde_json::Value, String>> {\n\
             fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(json: &serde_json::Value) -> Result<serde_json::Value, String> {\n\
             let value: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;\n\
             serde_json::to_value(&value).map_err(|e| e.to_string())\n}\n\
             Some(match schema {\n",
        );
        for name in self.schemas.keys() {
            let _ = writeln!(out, "{name:?} => rt::<types::{name}>(json),");
        }
        out.push_str("_ => return None,\n})\n}\n\n");
        let _ = writeln!(
            out,
            "/// Every schema name of the spec the types were generated from.\npub const SCHEMAS: &[&str] = &[{}];",
            self.schemas
                .keys()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        out
    }
}
