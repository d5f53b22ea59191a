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

mod operations;
mod rate_limits;
mod render;
mod schemas;

pub(crate) use rate_limits::rate_limit;

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

/// The `Type.field` entries of openapi/types.toml's `what` list, each checked to name a property
/// of a schema of the spec.
fn type_fields(
    schemas: &Map<String, Value>,
    fields: &[String],
    what: &str,
) -> Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    for field in fields {
        let (ty, name) = field
            .split_once('.')
            .with_context(|| format!("openapi/types.toml: {what} `{field}` is not Type.field"))?;
        let known = schemas
            .get(ty)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(name))
            .is_some();
        if !known {
            bail!("openapi/types.toml: {what} field `{field}` names no property of the spec");
        }
        out.insert((ty.to_owned(), name.to_owned()));
    }
    Ok(out)
}

impl<'a> Generator<'a> {
    fn new(spec: &'a Spec, config: &'a TypesFile) -> Result<Self> {
        let schemas = spec.schemas()?;
        let secrets = type_fields(schemas, &config.secrets.fields, "secret")?;
        for name in config.values.keys() {
            if !schemas.contains_key(name) {
                bail!("openapi/types.toml: value type `{name}` names no schema of the spec");
            }
        }
        let relaxed = type_fields(schemas, &config.optional.fields, "optional")?;
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
    use super::render::doc_of;
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
}
