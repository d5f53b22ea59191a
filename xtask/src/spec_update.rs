//! `cargo xtask spec-update NEW.json`: adopt a new version of the Ministry's spec in one command.
//!
//! Copies the spec to `openapi/open-api.json`, regenerates the models (which rewrites
//! `openapi/spec.lock`), prints the `spec-diff` from the previous spec as a changelog section, and
//! lists the hand-written places the change touches: operations without a client method, a
//! simulator handler or a CLI command (read from the code: the client's `service!` tables, the
//! simulator's dispatch table, and the operation types the CLI's sources name — the CLI reaches
//! many operations through client flows, so that column lists candidates), and required fields
//! that are new (with where the simulator builds those types).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::project_root;
use crate::spec_diff::{self, SpecDiff};

/// Where the pinned spec lives in the repository.
pub(crate) const PINNED_SPEC: &str = "openapi/open-api.json";

pub(crate) fn run(args: &[String]) -> Result<ExitCode> {
    let [new] = args else {
        bail!("usage: cargo xtask spec-update NEW.json");
    };
    let new = PathBuf::from(new);
    let bytes = std::fs::read(&new).with_context(|| format!("reading {}", new.display()))?;
    let new_doc: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", new.display()))?;
    let root = project_root();
    let pinned = root.join(PINNED_SPEC);
    let old_doc: Option<Value> = match std::fs::read(&pinned) {
        Ok(old) => Some(
            serde_json::from_slice(&old)
                .with_context(|| format!("parsing the pinned {}", pinned.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", pinned.display())),
    };
    let diff = match &old_doc {
        Some(old) => spec_diff::compare(old, &new_doc)?,
        None => spec_diff::compare(
            &serde_json::json!({"paths": {}, "components": {"schemas": {}}}),
            &new_doc,
        )?,
    };
    std::fs::write(&pinned, &bytes).with_context(|| format!("writing {}", pinned.display()))?;
    eprintln!("copied {} to {PINNED_SPEC}", new.display());

    print!("{}", spec_diff::render(&diff));
    let codegen = crate::codegen::Options::parse(&[
        "--spec".to_owned(),
        pinned.to_string_lossy().into_owned(),
    ])
    .and_then(|opts| crate::codegen::run(&opts));
    print!("{}", hand_written_places(&root, &diff)?);
    match codegen {
        Ok(code) => Ok(code),
        Err(e) => Err(e.context(
            "codegen failed for the new spec (fix openapi/*.toml or the generator, then run \
             `cargo xtask codegen`)",
        )),
    }
}

/// Which operations the hand-written crates cover, read from their code.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    /// Descriptor types the client's `service!` tables list.
    pub(crate) client_types: BTreeSet<String>,
    /// Descriptor types whose `Operation::ID` the simulator's route table handles.
    pub(crate) sim_types: BTreeSet<String>,
    /// Descriptor types the CLI's sources mention.
    pub(crate) cli_types: BTreeSet<String>,
}

/// Reads the coverage tables from the sources under `root`.
pub(crate) fn coverage(root: &Path, types: &[String]) -> Result<Coverage> {
    let mut c = Coverage::default();
    let services = crate::read(&root.join("crates/ksef-client/src/services.rs"))?;
    let entry = regex::Regex::new(r"(?m)^\s*[a-z_0-9]+\(([A-Z][A-Za-z0-9]*)\);\s*$")?;
    for cap in entry.captures_iter(&services) {
        c.client_types.insert(cap[1].to_owned());
    }
    let dispatch = crate::read(&root.join("crates/ksef-sim/src/api/mod.rs"))?;
    let route = regex::Regex::new(r"\bops::([A-Z][A-Za-z0-9]*)::ID\b")?;
    for cap in route.captures_iter(&dispatch) {
        c.sim_types.insert(cap[1].to_owned());
    }
    let mut cli = String::new();
    for entry in std::fs::read_dir(root.join("crates/ksef-cli/src"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            cli.push_str(&crate::read(&path)?);
        }
    }
    for ty in types {
        let word = regex::Regex::new(&format!(r"\b{ty}\b"))?;
        if word.is_match(&cli) {
            c.cli_types.insert(ty.clone());
        }
    }
    Ok(c)
}

/// The Markdown list of hand-written places a spec change touches.
pub(crate) fn hand_written_places(root: &Path, diff: &SpecDiff) -> Result<String> {
    let names = crate::openapi::operation_names()?;
    let types: Vec<String> = names.iter().map(|(_, _, t)| t.clone()).collect();
    let cov = coverage(root, &types)?;
    let added: BTreeSet<&str> = diff.ops_added.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = String::from("\n### Hand-written places to revisit\n\n");
    let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (key, id, ty) in &names {
        let mut lacks = Vec::new();
        if !cov.client_types.contains(ty) {
            lacks.push("client method");
        }
        if !cov.sim_types.contains(ty) {
            lacks.push("sim handler");
        }
        if !cov.cli_types.contains(ty) {
            // The CLI reaches many operations through client flows; this lists the operations
            // whose descriptor it never names, the candidates for a command of their own.
            lacks.push("direct CLI use");
        }
        if !lacks.is_empty() {
            let new = if added.contains(key.as_str()) {
                " (new)"
            } else {
                ""
            };
            missing.entry("ops").or_default().push(format!(
                "- `{key}` (`{id}`, `{ty}`){new}: no {}",
                lacks.join(", no ")
            ));
        }
    }
    for key in &added {
        if !names.iter().any(|(k, _, _)| k == key) {
            missing
                .entry("unnamed")
                .or_default()
                .push(format!("- `{key}`: no name in openapi/operations.toml"));
        }
    }
    if let Some(lines) = missing.get("unnamed") {
        out.push_str("Operations to name in `openapi/operations.toml`:\n\n");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        out.push('\n');
    }
    match missing.get("ops") {
        Some(lines) => {
            out.push_str("Operations not covered everywhere:\n\n");
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
            out.push('\n');
        }
        None => out
            .push_str("Every operation has a client method, a sim handler and a CLI command.\n\n"),
    }
    let required = spec_diff::new_required_fields(diff);
    let added_schemas: Vec<&(String, Vec<String>)> = diff
        .schemas_added
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .collect();
    if required.is_empty() && added_schemas.is_empty() {
        out.push_str("No new required fields.\n");
        return Ok(out);
    }
    out.push_str(
        "New required fields (the simulator must fill them where it builds the type; their \
         constructors changed):\n\n",
    );
    let sim_src = sources(&root.join("crates/ksef-sim/src"))?;
    for (schema, fields) in &required {
        let _ = writeln!(
            out,
            "- `{schema}`: {}{}",
            fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            used_at(&sim_src, schema, root)
        );
    }
    for (schema, fields) in added_schemas {
        let _ = writeln!(
            out,
            "- `{schema}` (new): {}{}",
            fields.join(", "),
            used_at(&sim_src, schema, root)
        );
    }
    Ok(out)
}

/// Every `.rs` file under `dir` with its text.
fn sources(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path.clone(), crate::read(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// ` (sim: file:line, …)` for the places the simulator mentions `ty`, or nothing.
fn used_at(sources: &[(PathBuf, String)], ty: &str, root: &Path) -> String {
    let Ok(word) = regex::Regex::new(&format!(r"\b{ty}\b")) else {
        return String::new();
    };
    let mut places = Vec::new();
    for (path, text) in sources {
        for (i, line) in text.lines().enumerate() {
            if word.is_match(line) && !line.trim_start().starts_with("use ") {
                let rel = path.strip_prefix(root).unwrap_or(path);
                places.push(format!("{}:{}", rel.display(), i + 1));
            }
        }
    }
    if places.is_empty() {
        String::new()
    } else {
        format!(" (sim: {})", places.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_read_from_the_code() {
        let types = vec!["GetChallenge".to_owned(), "NoSuchOperation".to_owned()];
        let c = coverage(&project_root(), &types).unwrap();
        assert!(c.client_types.contains("GetChallenge"), "{c:?}");
        assert!(c.client_types.contains("ListTokens"), "{c:?}");
        assert!(c.sim_types.contains("GetChallenge"), "{c:?}");
        assert!(c.sim_types.contains("ListTokens"), "{c:?}");
        assert!(!c.sim_types.contains("NoSuchOperation"), "{c:?}");
        assert!(!c.cli_types.contains("NoSuchOperation"));
        assert!(!c.client_types.contains("NoSuchOperation"));
    }
}
