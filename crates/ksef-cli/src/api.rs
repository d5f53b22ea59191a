//! Shared pieces of the administrative commands (`permissions`, `testdata`, `limits`, `cert`):
//! typed request bodies from JSON files and a readable rendering of any response.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::{Ctx, print_json};

/// Reads a request body of type `T` from `--body FILE` (`-` for stdin). Without `--body`,
/// `default` is used (e.g. `{}` for a query without filters), or the command refuses if there is
/// none. Errors name the file, the type and serde's line/column and field.
pub(crate) fn read_body<T: DeserializeOwned>(
    body: Option<&Path>,
    type_name: &str,
    default: Option<&str>,
) -> anyhow::Result<T> {
    let (bytes, source) = match body {
        Some(path) if path == Path::new("-") => {
            let mut bytes = Vec::new();
            let limit = crate::files::INPUT_LIMIT;
            std::io::stdin()
                .lock()
                .take(limit.bytes.saturating_add(1))
                .read_to_end(&mut bytes)
                .context("cannot read the request body from stdin")?;
            if bytes.len() as u64 > limit.bytes {
                bail!(
                    "the request body on stdin is larger than {} ({} bytes)",
                    limit.name,
                    limit.bytes
                );
            }
            (bytes, "stdin".to_owned())
        }
        Some(path) => (
            crate::files::read_input(path, "the request body")?,
            path.display().to_string(),
        ),
        None => match default {
            Some(text) => (
                text.as_bytes().to_vec(),
                "the default (no --body)".to_owned(),
            ),
            None => bail!("this operation needs --body FILE: a {type_name} as JSON"),
        },
    };
    serde_json::from_slice(&bytes).with_context(|| {
        format!("{source} is not a valid {type_name}; check the field names and values against the KSeF API")
    })
}

/// Prints a response: the JSON document with `--json`, else an indented key/value rendering.
pub(crate) fn print_value(ctx: &Ctx, value: &Value) -> anyhow::Result<()> {
    if ctx.json() {
        return print_json(value);
    }
    let mut out = String::new();
    render(value, 0, &mut out);
    out!("{out}");
    Ok(())
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn render(value: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        render(item, indent + 1, out);
                    }
                    Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                        out.push_str(&format!("{pad}{key}: ({} item(s))\n", items.len()));
                        render(item, indent + 1, out);
                    }
                    Value::Array(items) => {
                        let items: Vec<String> = items.iter().map(scalar).collect();
                        out.push_str(&format!("{pad}{key}: {}\n", items.join(", ")));
                    }
                    other => out.push_str(&format!("{pad}{key}: {}\n", scalar(other))),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                out.push_str(&format!("{pad}- [{}]\n", index + 1));
                render(item, indent + 1, out);
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// A response as JSON (the generated types serialize in the API's camelCase shape).
pub(crate) fn to_value(response: &impl serde::Serialize) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(response)?)
}

/// Appends the items of one page of a paged query (its only array field) to `items`; returns
/// whether more pages follow (`hasMore`).
pub(crate) fn collect_page(page: Value, items: &mut Vec<Value>) -> bool {
    let more = page
        .get("hasMore")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Value::Object(map) = page {
        for (_, value) in map {
            if let Value::Array(list) = value {
                items.extend(list);
            }
        }
    }
    more
}

/// Runs `ksef limits`.
pub(crate) async fn limits(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    use ksef_model::operations::{GetContextLimits, GetRateLimits, GetSubjectLimits};
    let client = ctx.logged_in_client()?;
    let context = client.limits().context(GetContextLimits::new()).await?;
    let subject = client.limits().subject(GetSubjectLimits::new()).await?;
    let rate = client.limits().rate_limits(GetRateLimits::new()).await?;
    print_value(
        ctx,
        &json!({
            "context": to_value(&context)?,
            "subject": to_value(&subject)?,
            "rateLimits": to_value(&rate)?,
        }),
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_collected_from_their_array_field() {
        let mut items = Vec::new();
        assert!(collect_page(
            json!({"permissions": [{"id": 1}], "hasMore": true}),
            &mut items
        ));
        assert!(!collect_page(
            json!({"permissions": [{"id": 2}]}),
            &mut items
        ));
        assert_eq!(items, vec![json!({"id": 1}), json!({"id": 2})]);
    }

    #[test]
    fn nested_values_render_as_indented_lines() {
        let mut out = String::new();
        render(&json!({"a": {"b": 1}, "c": [1, 2], "d": null}), 0, &mut out);
        assert_eq!(out, "a:\n  b: 1\nc: 1, 2\nd: -\n");
    }
}
