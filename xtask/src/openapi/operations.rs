//! The operation descriptors of `generated/operations.rs`, one per operation of the spec.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::rate_limits::{
    FALLBACK_LIMITS, Limits, opt_u32, rate_limit, rate_limit_groups, render_rate_limit_groups,
};
use super::render::{doc_of, escape_doc, push_doc};
use super::{Generator, OperationName, OperationsFile, Ty, body_ref, pascal, ref_name, snake};

impl Generator<'_> {
    pub(super) fn operations(&mut self, names: &OperationsFile) -> Result<String> {
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
