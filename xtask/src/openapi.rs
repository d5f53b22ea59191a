//! Generation of the JSON models and operation descriptors from the OpenAPI spec.
//!
//! Inputs: the spec, `openapi/operations.toml` (our names for its operations) and `openapi/types.toml`
//! (schemas implemented by hand, secret fields). Outputs: `generated/types.rs`,
//! `generated/operations.rs`, the schema dispatch table used by the example tests, and
//! `openapi/spec.lock`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::codegen::{Files, GENERATED_DIR, rustfmt};
use crate::{project_root, read};

/// Adds the generated JSON modules and the spec lock to `files`.
pub(crate) fn generate(spec_path: &Path, files: &mut Files) -> Result<()> {
    let spec = Spec::load(spec_path)?;
    let names = OperationsFile::load(&project_root().join("openapi/operations.toml"))?;
    let config = TypesFile::load(&project_root().join("openapi/types.toml"))?;
    let out = Generator::new(&spec, &config)?.run(&names)?;
    for warning in &out.warnings {
        eprintln!("warning: {warning}");
    }
    let dir = PathBuf::from(GENERATED_DIR);
    files.insert(dir.join("types.rs"), rustfmt(&out.types)?);
    files.insert(dir.join("operations.rs"), rustfmt(&out.operations)?);
    files.insert(
        PathBuf::from("crates/ksef-model/tests/support/schemas.rs"),
        rustfmt(&out.schema_dispatch)?,
    );
    files.insert(PathBuf::from(crate::SPEC_LOCK_PATH), spec.lock_file());
    Ok(())
}

/// A loaded spec with the facts the lock records.
pub(crate) struct Spec {
    pub(crate) doc: Value,
    sha256: String,
    info_version: String,
    api_version: Option<String>,
}

impl Spec {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "reading the OpenAPI spec {} (set KSEF_SPEC or --spec)",
                path.display()
            )
        })?;
        let doc: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing {} as JSON", path.display()))?;
        let sha256 = sha256_hex(&bytes);
        let info = doc.get("info").context("the spec has no `info`")?;
        let info_version = info
            .get("version")
            .and_then(Value::as_str)
            .context("the spec has no info.version")?
            .to_owned();
        // The API's own version is only in the description ("**Wersja API:** 2.6.0 (build ...)").
        let api_version = info
            .get("description")
            .and_then(Value::as_str)
            .and_then(|d| d.split("Wersja API:**").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned);
        Ok(Spec {
            doc,
            sha256,
            info_version,
            api_version,
        })
    }

    fn lock_file(&self) -> String {
        let mut out = String::from(
            "# The spec the generated models came from; written by `cargo xtask codegen`.\n",
        );
        let _ = writeln!(out, "info_version = \"{}\"", self.info_version);
        if let Some(v) = &self.api_version {
            let _ = writeln!(out, "api_version = \"{v}\"");
        }
        let _ = writeln!(out, "sha256 = \"{}\"", self.sha256);
        out
    }

    fn schemas(&self) -> Result<&Map<String, Value>> {
        self.doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .context("the spec has no components.schemas")
    }
}

/// The SHA-256 of `bytes` in lower-case hex, as `spec.lock` records it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The `sha256` value of a `spec.lock` file, if it has one.
pub(crate) fn locked_sha256(lock: &str) -> Option<&str> {
    lock.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "sha256").then(|| value.trim().trim_matches('"'))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[derive(Deserialize)]
struct OperationsFile {
    operation: Vec<OperationName>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct OperationName {
    method: String,
    path: String,
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default)]
    idempotent: bool,
    token: Option<String>,
    /// Request headers the spec describes only in the operation's prose (not as parameters).
    #[serde(default)]
    headers: Vec<ProseHeader>,
}

/// A request header named only in an operation's description, e.g. `X-KSeF-Feature`.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ProseHeader {
    /// The header's name on the wire.
    name: String,
    /// The descriptor's field (an optional string, with a `with_…` setter).
    field: String,
}

impl OperationsFile {
    fn load(path: &Path) -> Result<Self> {
        toml::from_str(&read(path)?).with_context(|| format!("parsing {}", path.display()))
    }
}

/// `(METHOD path, id, type)` of every operation named in `openapi/operations.toml`.
pub(crate) fn operation_names() -> Result<Vec<(String, String, String)>> {
    let file = OperationsFile::load(&project_root().join("openapi/operations.toml"))?;
    Ok(file
        .operation
        .into_iter()
        .map(|o| {
            (
                format!("{} {}", o.method.to_uppercase(), o.path),
                o.name,
                o.type_name,
            )
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypesFile {
    values: BTreeMap<String, String>,
    secrets: Secrets,
    #[serde(default)]
    optional: Optional,
}

/// Fields the spec still requires but KSeF is removing: generated as `Option`, so a response
/// without them parses.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Optional {
    fields: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Secrets {
    fields: Vec<String>,
}

impl TypesFile {
    fn load(path: &Path) -> Result<Self> {
        toml::from_str(&read(path)?).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The three generated sources.
pub(crate) struct Output {
    pub(crate) types: String,
    pub(crate) operations: String,
    pub(crate) schema_dispatch: String,
    /// What the generator had to assume (a missing `x-rate-limits`, a deprecated required field).
    pub(crate) warnings: Vec<String>,
}

/// A Rust type for a schema or property.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Named(String),
    String,
    Bool,
    I32,
    I64,
    F64,
    DateTime,
    Date,
    Vec(Box<Ty>),
    Map(Box<Ty>),
    Json,
    Opt(Box<Ty>),
}

impl Ty {
    fn render(&self) -> String {
        match self {
            Ty::Named(n) => n.clone(),
            Ty::String => "String".into(),
            Ty::Bool => "bool".into(),
            Ty::I32 => "i32".into(),
            Ty::I64 => "i64".into(),
            Ty::F64 => "f64".into(),
            Ty::DateTime => "chrono::DateTime<chrono::FixedOffset>".into(),
            Ty::Date => "chrono::NaiveDate".into(),
            Ty::Vec(t) => format!("Vec<{}>", t.render()),
            Ty::Map(t) => format!("std::collections::BTreeMap<String, {}>", t.render()),
            Ty::Json => "serde_json::Value".into(),
            Ty::Opt(t) => format!("Option<{}>", t.render()),
        }
    }

    /// Named types this type mentions.
    fn named(&self, out: &mut BTreeSet<String>) {
        match self {
            Ty::Named(n) => {
                out.insert(n.clone());
            }
            Ty::Vec(t) | Ty::Map(t) | Ty::Opt(t) => t.named(out),
            _ => {}
        }
    }
}

/// One field of a generated struct.
struct Field {
    json: String,
    rust: String,
    ty: Ty,
    required: bool,
    nullable: bool,
    doc: Option<String>,
    secret: bool,
}

/// What a schema becomes.
enum Item {
    Struct {
        doc: Option<String>,
        fields: Vec<Field>,
    },
    Enum {
        doc: Option<String>,
        values: Vec<String>,
    },
    OneOf {
        doc: Option<String>,
        variants: Vec<(String, String)>,
        tag: Option<String>,
    },
    StringNewtype {
        doc: Option<String>,
    },
    IntNewtype {
        doc: Option<String>,
        ty: Ty,
    },
    Value {
        path: String,
    },
}

struct Generator<'a> {
    spec: &'a Spec,
    config: &'a TypesFile,
    schemas: &'a Map<String, Value>,
    items: BTreeMap<String, Item>,
    secrets: BTreeSet<(String, String)>,
    /// `(schema, property)` pairs generated as optional although the spec requires them.
    relaxed: BTreeSet<(String, String)>,
    /// What the generator had to assume; printed, never fatal.
    warnings: BTreeSet<String>,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a Spec, config: &'a TypesFile) -> Result<Self> {
        let schemas = spec.schemas()?;
        let mut secrets = BTreeSet::new();
        for field in &config.secrets.fields {
            let (ty, name) = field.split_once('.').with_context(|| {
                format!("openapi/types.toml: secret `{field}` is not Type.field")
            })?;
            let known = schemas
                .get(ty)
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(name))
                .is_some();
            if !known {
                bail!("openapi/types.toml: secret field `{field}` names no property of the spec");
            }
            secrets.insert((ty.to_owned(), name.to_owned()));
        }
        for name in config.values.keys() {
            if !schemas.contains_key(name) {
                bail!("openapi/types.toml: value type `{name}` names no schema of the spec");
            }
        }
        let mut relaxed = BTreeSet::new();
        for field in &config.optional.fields {
            let (ty, name) = field.split_once('.').with_context(|| {
                format!("openapi/types.toml: optional `{field}` is not Type.field")
            })?;
            let known = schemas
                .get(ty)
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(name))
                .is_some();
            if !known {
                bail!("openapi/types.toml: optional field `{field}` names no property of the spec");
            }
            relaxed.insert((ty.to_owned(), name.to_owned()));
        }
        Ok(Generator {
            spec,
            config,
            schemas,
            items: BTreeMap::new(),
            secrets,
            relaxed,
            warnings: BTreeSet::new(),
        })
    }

    fn run(mut self, names: &OperationsFile) -> Result<Output> {
        for (name, schema) in self.schemas {
            let item = self
                .schema_item(name, schema)
                .with_context(|| format!("schema `{name}`"))?;
            self.items.insert(name.clone(), item);
        }
        let operations = self.operations(names)?;
        let types = self.render_types()?;
        let schema_dispatch = self.render_dispatch();
        Ok(Output {
            types,
            operations,
            schema_dispatch,
            warnings: self.warnings.into_iter().collect(),
        })
    }

    fn schema_item(&mut self, name: &str, schema: &Value) -> Result<Item> {
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
    fn prop_type(&mut self, owner: &str, prop_name: &str, p: &Value) -> Result<(Ty, bool)> {
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

    fn checked_ref(&self, target: &str) -> Result<String> {
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

    fn render_types(&self) -> Result<String> {
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
    fn render_dispatch(&self) -> String {
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

    fn operations(&mut self, names: &OperationsFile) -> Result<String> {
        let paths = self
            .spec
            .doc
            .get("paths")
            .and_then(Value::as_object)
            .context("the spec has no paths")?;
        let mut by_key: BTreeMap<(String, String), &OperationName> = BTreeMap::new();
        for n in &names.operation {
            if by_key
                .insert((n.method.to_uppercase(), n.path.clone()), n)
                .is_some()
            {
                bail!(
                    "openapi/operations.toml names {} {} twice",
                    n.method,
                    n.path
                );
            }
        }
        let mut ids = BTreeSet::new();
        let mut types = BTreeSet::new();
        for n in &names.operation {
            if !ids.insert(&n.name) {
                bail!("openapi/operations.toml uses the name `{}` twice", n.name);
            }
            if !types.insert(&n.type_name) {
                bail!(
                    "openapi/operations.toml uses the type `{}` twice",
                    n.type_name
                );
            }
        }
        let mut ops = Vec::new();
        let mut unnamed = Vec::new();
        for (path, item) in paths {
            let item = item.as_object().context("path item is not an object")?;
            for (method, op) in item {
                if !matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch") {
                    continue;
                }
                let key = (method.to_uppercase(), path.clone());
                match by_key.remove(&key) {
                    Some(name) => ops.push((name.clone(), path.clone(), method.clone(), op)),
                    None => unnamed.push(format!("{} {path}", method.to_uppercase())),
                }
            }
        }
        if !unnamed.is_empty() {
            bail!(
                "operations of the spec with no name in openapi/operations.toml: {}",
                unnamed.join(", ")
            );
        }
        if !by_key.is_empty() {
            let stray: Vec<String> = by_key
                .values()
                .map(|n| format!("{} ({} {})", n.name, n.method, n.path))
                .collect();
            bail!(
                "names in openapi/operations.toml that match no operation of the spec: {}",
                stray.join(", ")
            );
        }
        ops.sort_by(|a, b| a.0.name.cmp(&b.0.name));

        let mut out = String::from(
            "//! One descriptor per operation of the KSeF API, implementing [`Operation`].\n\n\
             #![allow(clippy::too_many_arguments, rustdoc::bare_urls)]\n\n\
             use crate::operation::{encode_path_segment, Auth, Body, ContentKind, Method, Operation, \
             OperationInfo, RateLimit, RequestError, ResponseError};\n\
             #[allow(unused_imports)]\nuse crate::types::*;\n\n",
        );
        let (groups, warnings) = rate_limit_groups(&self.spec.doc)?;
        self.warnings.extend(warnings);
        out.push_str(&render_rate_limit_groups(&groups));
        let group_limits: BTreeMap<String, Option<Limits>> =
            groups.iter().map(|(n, f)| (n.clone(), f.limits)).collect();
        let mut all = Vec::new();
        for (name, path, method, op) in &ops {
            let code = self
                .operation(name, path, method, op, &group_limits)
                .with_context(|| {
                    format!("operation {} {path} ({})", method.to_uppercase(), name.name)
                })?;
            out.push_str(&code);
            all.push(name.type_name.clone());
        }
        let _ = writeln!(
            out,
            "/// Every operation, sorted by id.\npub const ALL: &[OperationInfo] = &[{}];",
            all.iter()
                .map(|t| format!("<{t} as Operation>::INFO"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(out)
    }

    fn operation(
        &mut self,
        name: &OperationName,
        path: &str,
        method: &str,
        op: &Value,
        group_limits: &BTreeMap<String, Option<Limits>>,
    ) -> Result<String> {
        let ty = &name.type_name;
        let method_variant = match method {
            "get" => "Get",
            "post" => "Post",
            "put" => "Put",
            "delete" => "Delete",
            other => bail!("unsupported method {other}"),
        };
        let secured = op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        let auth = match (secured, name.token.as_deref()) {
            (false, None) => "Auth::None",
            (true, None) => "Auth::AccessToken",
            (true, Some("authentication")) => "Auth::AuthenticationToken",
            (true, Some("refresh")) => "Auth::RefreshToken",
            (false, Some(_)) => bail!("a token is named but the spec says the operation is public"),
            (true, Some(other)) => bail!("unknown token kind `{other}`"),
        };
        if name.idempotent && method != "post" {
            bail!("`idempotent` is only for POSTs (GET and DELETE always are)");
        }
        let idempotent = matches!(method, "get" | "delete") || name.idempotent;
        let rate = rate_limit(op)?;
        let permissions: Vec<String> = op
            .get("x-required-permissions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| format!("{s:?}"))
                    .collect()
            })
            .unwrap_or_default();

        // Success response.
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .context("no responses")?;
        let successes: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(c, _)| c.starts_with('2'))
            .collect();
        let [(status, success)] = successes.as_slice() else {
            bail!(
                "expected exactly one 2xx response, found {}",
                successes.len()
            );
        };
        let mut errors: Vec<u16> = responses
            .keys()
            .filter(|c| !c.starts_with('2'))
            .map(|c| c.parse().with_context(|| format!("status `{c}`")))
            .collect::<Result<_>>()?;
        errors.sort_unstable();
        let (response_ty, response_kind, parse) = match success
            .get("content")
            .and_then(Value::as_object)
        {
            None => ("()".to_owned(), "Empty", "let _ = body; Ok(())".to_owned()),
            Some(content) => {
                if let Some(json) = content.get("application/json") {
                    let schema = json
                        .get("schema")
                        .context("JSON response without a schema")?;
                    let ty = match body_ref(schema) {
                        Some(target) => self.checked_ref(&target)?,
                        None => match (
                            schema.get("type").and_then(Value::as_str),
                            schema.get("items").and_then(ref_name),
                        ) {
                            (Some("array"), Some(target)) => {
                                format!("Vec<{}>", self.checked_ref(&target)?)
                            }
                            _ => {
                                bail!("JSON response schema is neither a $ref nor an array of one")
                            }
                        },
                    };
                    (
                        ty,
                        "Json",
                        "serde_json::from_slice(body).map_err(|source| ResponseError::Json { operation: Self::INFO.id, source })".to_owned(),
                    )
                } else if content.contains_key("application/xml") {
                    ("Vec<u8>".to_owned(), "Xml", "Ok(body.to_vec())".to_owned())
                } else {
                    bail!(
                        "unsupported response media types {:?}",
                        content.keys().collect::<Vec<_>>()
                    );
                }
            }
        };

        // Request body.
        let mut body_field: Option<(Ty, &'static str)> = None;
        if let Some(rb) = op.get("requestBody") {
            let content = rb
                .get("content")
                .and_then(Value::as_object)
                .context("request body without content")?;
            if let Some(json) = content.get("application/json") {
                let target = json
                    .get("schema")
                    .and_then(body_ref)
                    .context("JSON request body without a schema $ref")?;
                body_field = Some((Ty::Named(self.checked_ref(&target)?), "Json"));
            } else if content.contains_key("application/xml") {
                body_field = Some((Ty::Named("Vec<u8>".into()), "Xml"));
            } else {
                bail!("unsupported request media types");
            }
        }

        // Parameters.
        struct Param {
            wire: String,
            rust: String,
            ty: Ty,
            required: bool,
            location: String,
            doc: Option<String>,
        }
        let mut params = Vec::new();
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let wire = p
                .get("name")
                .and_then(Value::as_str)
                .context("parameter without name")?;
            let location = p
                .get("in")
                .and_then(Value::as_str)
                .context("parameter without `in`")?;
            let schema = p.get("schema").context("parameter without schema")?;
            let (pty, _) = self.prop_type(ty, wire, schema)?;
            let rust = snake(wire.trim_start_matches("x-"));
            let required = p.get("required").and_then(Value::as_bool) == Some(true);
            if location == "path" && !required {
                bail!("path parameter `{wire}` is not required");
            }
            if !matches!(location, "path" | "query" | "header") {
                bail!("unsupported parameter location `{location}`");
            }
            params.push(Param {
                wire: wire.to_owned(),
                rust,
                ty: pty,
                required,
                location: location.to_owned(),
                doc: doc_of(p),
            });
        }
        let description = op.get("description").and_then(Value::as_str).unwrap_or("");
        for h in &name.headers {
            if !description.contains(&format!("`{}", h.name)) {
                bail!(
                    "openapi/operations.toml lists the header `{}`, which the operation's \
                     description does not mention",
                    h.name
                );
            }
            if params.iter().any(|p| p.rust == h.field) {
                bail!("header field `{}` clashes with a parameter", h.field);
            }
            params.push(Param {
                wire: h.name.clone(),
                rust: h.field.clone(),
                ty: Ty::String,
                required: false,
                location: "header".to_owned(),
                doc: Some(
                    "Described only in the operation's prose, not as a parameter of the spec \
                     (`openapi/operations.toml`)."
                        .to_owned(),
                ),
            });
        }
        let prose_headers: Vec<String> = name
            .headers
            .iter()
            .map(|h| format!("{:?}", h.name))
            .collect();
        for segment in path.split('/') {
            if let Some(p) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                && !params.iter().any(|q| q.location == "path" && q.wire == p)
            {
                bail!("path placeholder `{p}` has no parameter");
            }
        }

        let mut out = String::new();
        let summary = op
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        let summary = summary.lines().next().unwrap_or("");
        let _ = writeln!(
            out,
            "/// `{} {path}`: {}",
            method.to_uppercase(),
            escape_doc(summary)
        );
        if let Some(d) = doc_of(op) {
            out.push_str("///\n");
            push_doc(&mut out, &d);
        }
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\npub struct ");
        out.push_str(ty);
        out.push_str(" {\n");
        for p in &params {
            let kind = match p.location.as_str() {
                "path" => "Path parameter",
                "query" => "Query parameter",
                _ => "Header",
            };
            let _ = writeln!(out, "/// {kind} `{}`.", p.wire);
            if let Some(d) = &p.doc {
                out.push_str("///\n");
                push_doc(&mut out, d);
            }
            let fty = if p.required {
                p.ty.clone()
            } else {
                Ty::Opt(Box::new(p.ty.clone()))
            };
            let _ = writeln!(out, "pub {}: {},", p.rust, fty.render());
        }
        if let Some((bty, _)) = &body_field {
            let _ = writeln!(out, "/// The request body.\npub body: {},", bty.render());
        }
        out.push_str("}\n\n");

        // Constructor and setters.
        let mut args = Vec::new();
        let mut inits = Vec::new();
        for p in &params {
            if p.required {
                args.push(format!("{}: {}", p.rust, p.ty.render()));
                inits.push(p.rust.clone());
            } else {
                inits.push(format!("{}: None", p.rust));
            }
        }
        if let Some((bty, _)) = &body_field {
            args.push(format!("body: {}", bty.render()));
            inits.push("body".into());
        }
        let _ = writeln!(out, "impl {ty} {{");
        let _ = writeln!(
            out,
            "/// A request with the required parameters; optional ones start unset.\n\
             #[allow(clippy::new_without_default)]\n\
             pub fn new({}) -> Self {{ {ty} {{ {} }} }}",
            args.join(", "),
            inits.join(", ")
        );
        for p in params.iter().filter(|p| !p.required) {
            let _ = writeln!(
                out,
                "/// Sets `{}`.\npub fn with_{}(mut self, value: impl Into<{}>) -> Self {{ self.{} = Some(value.into()); self }}",
                p.wire,
                p.rust.trim_start_matches("r#"),
                p.ty.render(),
                p.rust
            );
        }
        out.push_str("}\n\n");

        // Operation impl.
        let limits = rate
            .limits
            .or_else(|| group_limits.get(&rate.group).copied().flatten())
            .unwrap_or(FALLBACK_LIMITS);
        let rate_expr = format!(
            "RateLimit::new(RateLimitGroup::{}, {}, {}, {})",
            pascal(&rate.group),
            limits.per_second,
            opt_u32(limits.per_minute),
            opt_u32(limits.per_hour)
        );
        let request_kind = body_field.as_ref().map_or("Empty", |(_, k)| k);
        let _ = writeln!(
            out,
            "impl Operation for {ty} {{\ntype Response = {response_ty};\n\
             const INFO: OperationInfo = OperationInfo {{\n\
             id: {id:?}, type_name: {ty:?}, method: Method::{method_variant}, path_template: {path:?},\n\
             auth: {auth}, rate_limit: {rate_expr}, success_status: {status},\n\
             request_content: ContentKind::{request_kind}, response_content: ContentKind::{response_kind},\n\
             error_statuses: &[{errors}], required_permissions: &[{perms}], idempotent: {idempotent},\n\
             prose_headers: &[{prose}],\n}};",
            id = name.name,
            errors = errors
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            perms = permissions.join(", "),
            prose = prose_headers.join(", "),
        );
        // path()
        let mut fmt_path = String::new();
        let mut fmt_args = Vec::new();
        for segment in path.split('/').skip(1) {
            fmt_path.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => {
                    fmt_path.push_str("{}");
                    let rust = &params
                        .iter()
                        .find(|q| q.location == "path" && q.wire == p)
                        .context("path parameter")?
                        .rust;
                    fmt_args.push(format!("encode_path_segment(self.{rust}.as_ref())"));
                }
                None => fmt_path.push_str(segment),
            }
        }
        if fmt_args.is_empty() {
            let _ = writeln!(out, "fn path(&self) -> String {{ {path:?}.to_owned() }}");
        } else {
            let _ = writeln!(
                out,
                "fn path(&self) -> String {{ format!({fmt_path:?}, {}) }}",
                fmt_args.join(", ")
            );
        }
        // query() and headers()
        for (fname, location) in [("query", "query"), ("headers", "header")] {
            let selected: Vec<&Param> = params.iter().filter(|p| p.location == location).collect();
            if selected.is_empty() {
                let _ = writeln!(
                    out,
                    "fn {fname}(&self) -> Vec<(&'static str, String)> {{ Vec::new() }}"
                );
                continue;
            }
            let _ = writeln!(
                out,
                "fn {fname}(&self) -> Vec<(&'static str, String)> {{\n#[allow(unused_mut)]\nlet mut out = Vec::new();"
            );
            for p in selected {
                let push = render_param_push(&p.wire, "v", &p.ty);
                if p.required {
                    let _ = writeln!(out, "{{ let v = &self.{}; {push} }}", p.rust);
                } else {
                    let _ = writeln!(out, "if let Some(v) = &self.{} {{ {push} }}", p.rust);
                }
            }
            out.push_str("out\n}\n");
        }
        // body()
        match &body_field {
            None => out.push_str("fn body(&self) -> Result<Body, RequestError> { Ok(Body::Empty) }\n"),
            Some((_, "Xml")) => out.push_str(
                "fn body(&self) -> Result<Body, RequestError> { Ok(Body::Xml(self.body.clone())) }\n",
            ),
            Some(_) => out.push_str(
                "fn body(&self) -> Result<Body, RequestError> {\n\
                 serde_json::to_vec(&self.body).map(Body::Json).map_err(|source| RequestError { operation: Self::INFO.id, source })\n}\n",
            ),
        }
        let _ = writeln!(
            out,
            "fn parse_response(body: &[u8]) -> Result<Self::Response, ResponseError> {{ {parse} }}\n}}\n"
        );
        Ok(out)
    }
}

/// Code pushing a parameter's wire form(s) onto `out`.
fn render_param_push(wire: &str, var: &str, ty: &Ty) -> String {
    match ty {
        Ty::Vec(inner) => format!(
            "for item in {var}.iter() {{ {} }}",
            render_param_push(wire, "item", inner)
        ),
        Ty::DateTime => format!("out.push(({wire:?}, {var}.to_rfc3339()));"),
        _ => format!("out.push(({wire:?}, {var}.to_string()));"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) per_second: u32,
    pub(crate) per_minute: Option<u32>,
    pub(crate) per_hour: Option<u32>,
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s", self.per_second)?;
        if let Some(m) = self.per_minute {
            write!(f, ", {m}/min")?;
        }
        if let Some(h) = self.per_hour {
            write!(f, ", {h}/h")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Rate {
    /// The group's wire name, e.g. `invoiceSend`.
    pub(crate) group: String,
    /// `None` when the operation has no `x-rate-limits` (resolved to the fallback later).
    pub(crate) limits: Option<Limits>,
    /// What the generator had to assume, for a warning.
    pub(crate) warning: Option<String>,
}

/// The group of operations whose 429 table names none and that are limited per second only:
/// the unauthenticated endpoints, which `EffectiveApiRateLimits` calls `anonymous` (since 2.9.0).
pub(crate) const UNNAMED_GROUP: &str = "anonymous";
/// The group of an operation without `x-rate-limits` or without a readable group: the spec's
/// catch-all, where each endpoint counts by itself.
pub(crate) const FALLBACK_GROUP: &str = "other";
/// The limits of [`FALLBACK_GROUP`] when the spec states them nowhere (KSeF's `other` limits).
pub(crate) const FALLBACK_LIMITS: Limits = Limits {
    per_second: 10,
    per_minute: Some(30),
    per_hour: Some(120),
};
/// Groups the hand-written code relies on, generated even when no operation names them:
/// `other` (per endpoint), `anonymous` (per IP) and `global` (every request, per IP).
pub(crate) const ALWAYS_GROUPS: &[&str] = &[UNNAMED_GROUP, FALLBACK_GROUP, "global"];
/// The schema of `GET /rate-limits`, whose properties are the groups KSeF reports.
pub(crate) const REPORTED_GROUPS_SCHEMA: &str = "EffectiveApiRateLimits";
/// The schema of `POST /testdata/rate-limits`, whose properties are the groups a test may set.
pub(crate) const OVERRIDABLE_GROUPS_SCHEMA: &str = "ApiRateLimitsOverride";

/// The limits from `x-rate-limits` and the group from the 429 description's table ("grupa").
///
/// Never fails on a missing or odd entry: the result says what was assumed in `warning`.
pub(crate) fn rate_limit(op: &Value) -> Result<Rate> {
    let Some(limits) = op.get("x-rate-limits") else {
        return Ok(Rate {
            group: FALLBACK_GROUP.to_owned(),
            limits: None,
            warning: Some(format!(
                "no x-rate-limits: counted in the `{FALLBACK_GROUP}` group with its limits"
            )),
        });
    };
    let get = |k: &str| -> Result<Option<u32>> {
        limits
            .get(k)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .with_context(|| format!("x-rate-limits.{k} is not a small integer"))
            })
            .transpose()
    };
    let per_second = get("perSecond")?.context("x-rate-limits without perSecond")?;
    let per_minute = get("perMinute")?;
    let per_hour = get("perHour")?;
    let limits = Limits {
        per_second,
        per_minute,
        per_hour,
    };
    let group = group_from_429_table(op);
    let (group, warning) = match group {
        Some(g) => (g, None),
        // Endpoints limited only per second without a named group are the anonymous ones.
        None if per_minute.is_none() && per_hour.is_none() => (UNNAMED_GROUP.to_owned(), None),
        None => (
            FALLBACK_GROUP.to_owned(),
            Some(format!(
                "no rate-limit group in the 429 description: counted in `{FALLBACK_GROUP}`"
            )),
        ),
    };
    Ok(Rate {
        group,
        limits: Some(limits),
        warning,
    })
}

/// The last column of the last row of the 429 response's table, if it is a plain name.
pub(crate) fn group_from_429_table(op: &Value) -> Option<String> {
    let table = op
        .pointer("/responses/429/description")
        .and_then(Value::as_str)
        .unwrap_or("");
    table
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('|'))
        .and_then(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let last = cells.iter().rev().find(|c| !c.is_empty())?;
            last.chars()
                .all(|c| c.is_ascii_alphabetic())
                .then(|| last.to_string())
        })
}

/// One rate-limit group as the spec describes it.
#[derive(Debug, Default)]
pub(crate) struct GroupFacts {
    /// Production limits, from its operations' `x-rate-limits`, else from the example of the
    /// `/rate-limits` response (`-1` = unlimited).
    pub(crate) limits: Option<Limits>,
    /// The description of its property in [`REPORTED_GROUPS_SCHEMA`].
    pub(crate) doc: Option<String>,
    /// Reported by `GET /rate-limits`.
    pub(crate) reported: bool,
    /// Settable with the test-data API.
    pub(crate) overridable: bool,
    /// `METHOD path` of its operations.
    pub(crate) operations: Vec<String>,
}

/// Rate-limit groups by wire name, in order.
pub(crate) type Groups = Vec<(String, GroupFacts)>;

/// Every rate-limit group of the spec, in a stable order (reported groups in the schema's order,
/// then the others by name), with what the generator had to assume.
pub(crate) fn rate_limit_groups(doc: &Value) -> Result<(Groups, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut groups: BTreeMap<String, GroupFacts> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let schema_props = |name: &str| -> Vec<(String, Option<String>)> {
        doc.pointer(&format!("/components/schemas/{name}/properties"))
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| (k.clone(), doc_of(v)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    for (name, prop_doc) in schema_props(REPORTED_GROUPS_SCHEMA) {
        order.push(name.clone());
        let g = groups.entry(name).or_default();
        g.reported = true;
        g.doc = prop_doc;
    }
    for (name, _) in schema_props(OVERRIDABLE_GROUPS_SCHEMA) {
        if !groups.contains_key(&name) {
            warnings.push(format!(
                "{OVERRIDABLE_GROUPS_SCHEMA} has `{name}`, which {REPORTED_GROUPS_SCHEMA} lacks"
            ));
        }
        groups.entry(name).or_default().overridable = true;
    }
    for (key, op) in operations_of(doc) {
        let rate = rate_limit(&op).with_context(|| format!("operation {key}"))?;
        if let Some(w) = &rate.warning {
            warnings.push(format!("{key}: {w}"));
        }
        let g = groups.entry(rate.group.clone()).or_default();
        g.operations.push(key.clone());
        match (g.limits, rate.limits) {
            (None, Some(l)) => g.limits = Some(l),
            (Some(a), Some(b)) if a != b && rate.group != FALLBACK_GROUP => {
                warnings.push(format!(
                    "{key}: limits {b} differ from {a} of other `{}` operations",
                    rate.group
                ));
            }
            _ => {}
        }
    }
    for name in ALWAYS_GROUPS {
        groups.entry((*name).to_owned()).or_default();
    }
    // Limits the /rate-limits example states for groups no operation declares.
    if let Some(example) = rate_limits_example(doc) {
        for (name, g) in groups.iter_mut() {
            if g.limits.is_some() {
                continue;
            }
            let Some(v) = example.get(name) else { continue };
            let get = |k: &str| {
                v.get(k)
                    .and_then(Value::as_i64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            if let Some(per_second) = get("perSecond") {
                g.limits = Some(Limits {
                    per_second,
                    per_minute: get("perMinute"),
                    per_hour: get("perHour"),
                });
            }
        }
    }
    if let Some(other) = groups.get_mut(FALLBACK_GROUP)
        && other.limits.is_none()
    {
        warnings.push(format!(
            "the spec states no limits for `{FALLBACK_GROUP}`: using {FALLBACK_LIMITS}"
        ));
        other.limits = Some(FALLBACK_LIMITS);
    }
    let mut rest: Vec<String> = groups
        .keys()
        .filter(|k| !order.contains(k))
        .cloned()
        .collect();
    rest.sort();
    order.extend(rest);
    let out = order
        .into_iter()
        .map(|name| {
            let facts = groups.remove(&name).unwrap_or_default();
            (name, facts)
        })
        .collect();
    Ok((out, warnings))
}

/// The example body of a response whose schema is [`REPORTED_GROUPS_SCHEMA`].
fn rate_limits_example(doc: &Value) -> Option<Value> {
    let schema_ref = format!("#/components/schemas/{REPORTED_GROUPS_SCHEMA}");
    if let Some(ex) = doc.pointer(&format!(
        "/components/schemas/{REPORTED_GROUPS_SCHEMA}/example"
    )) {
        return Some(ex.clone());
    }
    for (_, op) in operations_of(doc) {
        let Some(json) = op.pointer("/responses/200/content/application~1json") else {
            continue;
        };
        if json.pointer("/schema/$ref").and_then(Value::as_str) == Some(schema_ref.as_str())
            && let Some(ex) = json.get("example")
        {
            return Some(ex.clone());
        }
    }
    None
}

/// `RateLimitGroup`: one variant per group, with wire names, production limits and the
/// reported/overridable lists.
fn render_rate_limit_groups(groups: &[(String, GroupFacts)]) -> String {
    let mut out = String::from(
        "/// The rate-limit group an operation counts against: the \"grupa\" column of the spec's \
         limit tables, plus the groups `GET /rate-limits` reports.\n\
         ///\n/// Generated from the spec: operations without a named group and limited per second only \
         count as `anonymous`; an operation without `x-rate-limits` counts as `other`.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\n\
         pub enum RateLimitGroup {\n",
    );
    for (name, facts) in groups {
        let _ = writeln!(out, "/// `{name}`.");
        if let Some(d) = &facts.doc {
            out.push_str("///\n");
            push_doc(&mut out, d);
        }
        if !facts.operations.is_empty() {
            let _ = writeln!(
                out,
                "///\n/// Operations: {}.",
                facts
                    .operations
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "{},", pascal(name));
    }
    out.push_str("}\n\nimpl RateLimitGroup {\n");
    let list = |filter: &dyn Fn(&GroupFacts) -> bool| {
        groups
            .iter()
            .filter(|(_, f)| filter(f))
            .map(|(n, _)| format!("RateLimitGroup::{}", pascal(n)))
            .collect::<Vec<_>>()
    };
    let all = list(&|_| true);
    let _ = writeln!(
        out,
        "/// Every group.\npub const ALL: [RateLimitGroup; {}] = [{}];",
        all.len(),
        all.join(", ")
    );
    let _ = writeln!(
        out,
        "/// The groups `GET /rate-limits` reports (the properties of `{REPORTED_GROUPS_SCHEMA}`).\n\
         pub const REPORTED: &'static [RateLimitGroup] = &[{}];",
        list(&|f| f.reported).join(", ")
    );
    let _ = writeln!(
        out,
        "/// The groups the test-data API can set (the properties of `{OVERRIDABLE_GROUPS_SCHEMA}`).\n\
         pub const OVERRIDABLE: &'static [RateLimitGroup] = &[{}];",
        list(&|f| f.overridable).join(", ")
    );
    out.push_str(
        "/// The group's name as the spec and the `/rate-limits` endpoint spell it.\n\
         pub const fn as_str(self) -> &'static str {\nmatch self {\n",
    );
    for (name, _) in groups {
        let _ = writeln!(out, "RateLimitGroup::{} => {name:?},", pascal(name));
    }
    out.push_str(
        "}\n}\n\n/// The group with this wire name.\n\
         pub fn from_wire(name: &str) -> Option<RateLimitGroup> {\n\
         RateLimitGroup::ALL.into_iter().find(|g| g.as_str() == name)\n}\n\n\
         /// The production limits the spec states for the group (its operations' `x-rate-limits`, \
         else the example of `GET /rate-limits`), if it states any.\n\
         pub const fn production(self) -> Option<RateLimit> {\nmatch self {\n",
    );
    for (name, facts) in groups {
        let value = facts.limits.map_or_else(
            || "None".to_owned(),
            |l| {
                format!(
                    "Some(RateLimit::new(self, {}, {}, {}))",
                    l.per_second,
                    opt_u32(l.per_minute),
                    opt_u32(l.per_hour)
                )
            },
        );
        let _ = writeln!(out, "RateLimitGroup::{} => {value},", pascal(name));
    }
    out.push_str("}\n}\n}\n\n");
    out
}

fn opt_u32(v: Option<u32>) -> String {
    v.map_or_else(|| "None".to_owned(), |n| format!("Some({n})"))
}

fn ty_has_float(ty: &Ty) -> bool {
    match ty {
        Ty::F64 => true,
        Ty::Vec(t) | Ty::Map(t) | Ty::Opt(t) => ty_has_float(t),
        _ => false,
    }
}

fn wrap_opt(ty: Ty, nullable: bool) -> Ty {
    if nullable { Ty::Opt(Box::new(ty)) } else { ty }
}

fn int_type(schema: &Value) -> Ty {
    match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Ty::I32,
        _ => Ty::I64,
    }
}

/// The schema a body refers to: a `$ref`, or an `allOf` of one `$ref` (how the spec writes request
/// bodies, restating the required properties beside it).
fn body_ref(schema: &Value) -> Option<String> {
    ref_name(schema).or_else(|| match schema.get("allOf")?.as_array()?.as_slice() {
        [single] => ref_name(single),
        _ => None,
    })
}

/// `#/components/schemas/Name` → `Name`.
fn ref_name(v: &Value) -> Option<String> {
    v.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}

fn render_struct(out: &mut String, name: &str, doc: Option<&str>, fields: &[Field], eq: bool) {
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

fn render_enum(out: &mut String, name: &str, doc: Option<&str>, values: &[String]) -> Result<()> {
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

fn render_one_of(
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

fn render_string_newtype(out: &mut String, name: &str, doc: Option<&str>) {
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

fn render_int_newtype(out: &mut String, name: &str, doc: Option<&str>, ty: &Ty) {
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

fn push_doc(out: &mut String, doc: &str) {
    for line in doc.lines() {
        if line.trim().is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {}", line.trim_end());
        }
    }
}

/// The first prose paragraph of a description, made safe for rustdoc.
fn doc_of(v: &Value) -> Option<String> {
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
fn escape_doc(line: &str) -> String {
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

/// `camelCase` or `kebab-case` → `snake_case`, escaping keywords.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == '.' || c == ' ' {
            out.push('_');
        } else if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    match out.as_str() {
        "type" | "ref" | "match" | "mod" | "use" | "fn" | "impl" | "struct" | "enum" | "self"
        | "super" | "crate" | "where" | "loop" | "move" | "static" | "const" | "trait" | "in"
        | "for" | "as" | "box" | "async" | "await" | "dyn" => format!("r#{out}"),
        _ => out,
    }
}

/// `camelCase`, `snake_case`, `UPPER_CASE` → `PascalCase`.
pub(crate) fn pascal(name: &str) -> String {
    let mut out = String::new();
    for part in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let all_upper = part.len() > 1 && part.chars().all(|c| !c.is_ascii_lowercase());
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            if all_upper {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// For `spec-diff`: a map from operation key (`METHOD path`) to its JSON.
pub(crate) fn operations_of(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(item) = item.as_object() {
                for (method, op) in item {
                    if matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch") {
                        out.insert(format!("{} {path}", method.to_uppercase()), op.clone());
                    }
                }
            }
        }
    }
    out
}

/// For `spec-diff`: a map from schema name to its JSON.
pub(crate) fn schemas_of(doc: &Value) -> Result<BTreeMap<String, Value>> {
    Ok(doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("no components.schemas"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("referenceNumber"), "reference_number");
        assert_eq!(snake("x-continuation-token"), "x_continuation_token");
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("ip4Addresses"), "ip4_addresses");
        assert_eq!(snake("isTokenRedeemed"), "is_token_redeemed");
        assert_eq!(snake("upoURL"), "upo_url");
        assert_eq!(pascal("FA_RR"), "FaRr");
        assert_eq!(pascal("InvoiceWrite"), "InvoiceWrite");
        assert_eq!(pascal("invoiceMetadata"), "InvoiceMetadata");
        assert_eq!(pascal("sha3-256"), "Sha3256");
    }

    #[test]
    fn doc_skips_tables_and_escapes() {
        let v = serde_json::json!({"description": "| a | b |\n\nSee [x] <b>.\n\nMore."});
        assert_eq!(doc_of(&v).as_deref(), Some("See \\[x\\] \\<b\\>."));
    }

    fn synthetic(schemas: serde_json::Value) -> (Spec, TypesFile) {
        let doc = serde_json::json!({"info": {"version": "t"}, "paths": {}, "components": {"schemas": schemas}});
        let spec = Spec {
            doc,
            sha256: String::new(),
            info_version: "t".into(),
            api_version: None,
        };
        let config = TypesFile {
            values: BTreeMap::new(),
            secrets: Secrets { fields: Vec::new() },
            optional: Optional::default(),
        };
        (spec, config)
    }

    #[test]
    fn prose_headers_must_be_named_in_the_description() {
        let op = serde_json::json!({
            "description": "**Headers:**\n\n`X-KSeF-Feature: subject-identifier-validation` - on.",
            "x-rate-limits": {"perSecond": 1},
            "responses": {"200": {"description": "OK"}}
        });
        let doc = serde_json::json!({
            "info": {"version": "t"},
            "paths": {"/a": {"post": op}},
            "components": {"schemas": {}}
        });
        let spec = Spec {
            doc,
            sha256: String::new(),
            info_version: "t".into(),
            api_version: None,
        };
        let (_, config) = synthetic(serde_json::json!({}));
        let names = |header: &str| OperationsFile {
            operation: vec![OperationName {
                method: "POST".into(),
                path: "/a".into(),
                name: "a.open".into(),
                type_name: "OpenA".into(),
                idempotent: false,
                token: None,
                headers: vec![ProseHeader {
                    name: header.into(),
                    field: "ksef_feature".into(),
                }],
            }],
        };
        let mut generator = Generator::new(&spec, &config).unwrap();
        let code = generator.operations(&names("X-KSeF-Feature")).unwrap();
        assert!(code.contains("pub ksef_feature: Option<String>"), "{code}");
        assert!(
            code.contains("prose_headers: &[\"X-KSeF-Feature\"]"),
            "{code}"
        );
        assert!(code.contains("out.push((\"X-KSeF-Feature\""), "{code}");
        let mut generator = Generator::new(&spec, &config).unwrap();
        let err = generator.operations(&names("X-Other")).unwrap_err();
        assert!(format!("{err:#}").contains("X-Other"), "{err:#}");
    }

    #[test]
    fn many_required_fields_of_one_type_are_named_and_removed_fields_relaxed() {
        let (spec, mut config) = synthetic(serde_json::json!({
            "Limits": {"type": "object", "required": ["a", "b", "c"], "properties": {
                "a": {"type": "integer", "format": "int32"},
                "b": {"type": "integer", "format": "int32"},
                "c": {"type": "integer", "format": "int32"}}},
            "Pair": {"type": "object", "required": ["a", "b"], "properties": {
                "a": {"type": "string"}, "b": {"type": "string"}}},
            "Status": {"type": "object", "required": ["method", "code"], "properties": {
                "method": {"type": "string", "deprecated": true},
                "code": {"type": "integer", "format": "int32"}}},
            "Other": {"type": "object", "required": ["gone"], "properties": {
                "gone": {"type": "string", "deprecated": true}}}
        }));
        config.optional.fields = vec!["Status.method".to_owned()];
        let mut generator = Generator::new(&spec, &config).unwrap();
        for (name, schema) in spec.schemas().unwrap() {
            let item = generator.schema_item(name, schema).unwrap();
            generator.items.insert(name.clone(), item);
        }
        let code = generator.render_types().unwrap();
        assert!(code.contains("pub struct LimitsParams {"), "{code}");
        assert!(
            code.contains("pub fn new(params: LimitsParams) -> Self"),
            "{code}"
        );
        assert!(
            !code.contains("PairParams"),
            "two of a type stay positional: {code}"
        );
        assert!(code.contains("pub method: Option<String>"), "{code}");
        assert!(
            code.contains("pub fn new(code: impl Into<i32>) -> Self"),
            "{code}"
        );
        // A deprecated required field not in the list is a warning, not a stop.
        assert!(
            generator
                .warnings
                .iter()
                .any(|w| w.starts_with("Other.gone is deprecated yet required")),
            "{:?}",
            generator.warnings
        );
        rustfmt(&code).unwrap();
        // A listed field that names no property is refused.
        config.optional.fields = vec!["Status.nope".to_owned()];
        assert!(Generator::new(&spec, &config).is_err());
    }

    #[test]
    fn all_of_is_flattened_and_one_of_becomes_an_enum() {
        let (spec, config) = synthetic(serde_json::json!({
            "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "Extra": {"type": "object", "properties": {"note": {"type": "string", "nullable": true}}},
            "Both": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"$ref": "#/components/schemas/Extra"},
                               {"type": "object", "properties": {"count": {"type": "integer", "format": "int32"}}}]},
            "Either": {"oneOf": [{"$ref": "#/components/schemas/Base"}, {"$ref": "#/components/schemas/Extra"}],
                       "discriminator": {"propertyName": "kind"}},
            "Loose": {"oneOf": [{"$ref": "#/components/schemas/Base"}]}
        }));
        let mut generator = Generator::new(&spec, &config).unwrap();
        for (name, schema) in spec.schemas().unwrap() {
            let item = generator.schema_item(name, schema).unwrap();
            generator.items.insert(name.clone(), item);
        }
        let code = generator.render_types().unwrap();
        let both = &code[code.find("pub struct Both").unwrap()..];
        let both = &both[..both.find('}').unwrap()];
        assert!(both.contains("pub id: String"), "{both}");
        assert!(both.contains("pub note: Option<String>"), "{both}");
        assert!(both.contains("pub count: Option<i32>"), "{both}");
        assert!(code.contains("#[serde(tag = \"kind\")]"), "{code}");
        assert!(code.contains("pub enum Either"), "{code}");
        assert!(code.contains("Base(Base),"), "{code}");
        assert!(code.contains("#[serde(untagged)]"), "{code}");
        // The generated text is valid Rust.
        rustfmt(&code).unwrap();
    }

    #[test]
    fn unsupported_shapes_are_refused_with_their_location() {
        let (spec, config) = synthetic(serde_json::json!({
            "Odd": {"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}]}}}
        }));
        let mut generator = Generator::new(&spec, &config).unwrap();
        let Err(err) = generator.schema_item("Odd", &spec.schemas().unwrap()["Odd"]) else {
            panic!("an anyOf property must be refused");
        };
        assert!(format!("{err:#}").contains("property `x`"), "{err:#}");
    }

    #[test]
    fn rate_limit_group_is_read_from_the_429_table() {
        let op = serde_json::json!({
            "x-rate-limits": {"perSecond": 8, "perMinute": 16, "perHour": 20},
            "responses": {"429": {"description": "| | req / s | grupa\n| --- | --- |\n| **L** | 8 | invoiceMetadata\n"}}
        });
        let r = rate_limit(&op).unwrap();
        let l = r.limits.unwrap();
        assert_eq!(
            (r.group.as_str(), l.per_second, l.per_minute, l.per_hour),
            ("invoiceMetadata", 8, Some(16), Some(20))
        );
        assert!(r.warning.is_none());
        let public = serde_json::json!({"x-rate-limits": {"perSecond": 60}, "responses": {}});
        assert_eq!(rate_limit(&public).unwrap().group, "anonymous");
        // A group the generator has never seen is simply a new group.
        let brand_new = serde_json::json!({
            "x-rate-limits": {"perSecond": 1, "perMinute": 2},
            "responses": {"429": {"description": "| x | 1 | brandNew\n"}}
        });
        assert_eq!(rate_limit(&brand_new).unwrap().group, "brandNew");
    }

    #[test]
    fn a_missing_rate_limit_is_a_warning_with_the_other_groups_limits() {
        let doc = serde_json::json!({
            "paths": {
                "/a": {"get": {"x-rate-limits": {"perSecond": 3, "perMinute": 4, "perHour": 5},
                    "responses": {"429": {"description": "| L | 3 | 4 | 5 | other\n"}}}},
                "/b": {"post": {"responses": {}}},
                "/c": {"post": {"x-rate-limits": {"perSecond": 9, "perMinute": 9},
                    "responses": {"429": {"description": "| L | 9 | 9 | - | collectiveIdentifier\n"}}}}
            },
            "components": {"schemas": {
                "EffectiveApiRateLimits": {"properties": {
                    "collectiveIdentifier": {"description": "cid"},
                    "global": {}
                }},
                "ApiRateLimitsOverride": {"properties": {"collectiveIdentifier": {}}}
            }}
        });
        let missing = rate_limit(&doc["paths"]["/b"]["post"]).unwrap();
        assert_eq!(missing.group, "other");
        assert!(missing.limits.is_none());
        assert!(missing.warning.unwrap().contains("no x-rate-limits"));
        let (groups, warnings) = rate_limit_groups(&doc).unwrap();
        assert!(
            warnings.iter().any(|w| w.starts_with("POST /b:")),
            "{warnings:?}"
        );
        let names: Vec<&str> = groups.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["collectiveIdentifier", "global", "anonymous", "other"]
        );
        let facts = |n: &str| &groups.iter().find(|(g, _)| g == n).unwrap().1;
        assert_eq!(
            facts("other").limits,
            Some(Limits {
                per_second: 3,
                per_minute: Some(4),
                per_hour: Some(5)
            })
        );
        assert!(
            facts("collectiveIdentifier").reported && facts("collectiveIdentifier").overridable
        );
        assert!(facts("global").reported && !facts("global").overridable);
        assert_eq!(facts("global").limits, None, "no example, no operation");
        let code = render_rate_limit_groups(&groups);
        assert!(code.contains("CollectiveIdentifier,"), "{code}");
        assert!(
            code.contains(
                "RateLimitGroup::Other => Some(RateLimit::new(self, 3, Some(4), Some(5)))"
            ),
            "{code}"
        );
    }
}
