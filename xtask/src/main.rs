//! Maintenance tasks for ksef-rs, run as `cargo xtask <task>`.
//!
//! - `cargo xtask codegen [--check] [--spec PATH] [--xsd-dir DIR]`: regenerate (or, with `--check`,
//!   verify) everything under `crates/ksef-model/src/generated/` and `openapi/spec.lock` from the
//!   Ministry's OpenAPI spec (vendored in `openapi/open-api.json`) and XSD schemas (vendored in
//!   `fixtures/ksef-spec/xsd/`). `--check` also fails when the spec's SHA-256 is not the one
//!   `openapi/spec.lock` records.
//! - `cargo xtask spec-diff OLD NEW`: list operations and schemas added, removed or changed between
//!   two versions of the OpenAPI spec.
//! - `cargo xtask spec-update NEW`: copy a new spec to `openapi/open-api.json`, regenerate, print the
//!   changelog section and the hand-written places the change touches.
//! - `cargo xtask oracles [TEST ARGS]`: rewrite the golden files of the independent oracles
//!   (`tests/golden/*.tsv`) by running the tests of the crates using `ksef-oracle` with
//!   `KSEF_ORACLES=record`; needs xmllint, xmlsec1, openssl, unzip, poppler-utils and qpdf.
//!
//! xtask depends on none of the crates it generates code for, so `cargo xtask codegen` still runs
//! when the generated code does not compile. The fault soak is a crate of its own, `ksef-soak`.

mod codegen;
mod openapi;
mod oracles;
mod spec_diff;
mod spec_update;
mod validate;
mod xml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        bail!("usage: cargo xtask <codegen|spec-diff|spec-update|oracles> ...");
    };
    match task.as_str() {
        "codegen" => {
            let opts = codegen::Options::parse(rest)?;
            codegen::run(&opts)
        }
        "spec-diff" => {
            let [old, new] = rest else {
                bail!("usage: cargo xtask spec-diff OLD.json NEW.json");
            };
            print!("{}", spec_diff::diff_files(Path::new(old), Path::new(new))?);
            Ok(ExitCode::SUCCESS)
        }
        "spec-update" => spec_update::run(rest),
        "oracles" => oracles::run(rest),
        "soak" => bail!("the soak moved to its own crate: cargo run -p ksef-soak -- [OPTIONS]"),
        other => {
            bail!("unknown task `{other}`; known tasks: codegen, spec-diff, spec-update, oracles")
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The Ministry's fixtures (XSDs, UPO examples, invoice templates): `KSEF_SPEC_DIR`, else the
/// copies vendored in `fixtures/ksef-spec/`.
pub(crate) fn default_spec_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KSEF_SPEC_DIR") {
        return PathBuf::from(dir);
    }
    project_root().join("fixtures/ksef-spec")
}

/// The pinned OpenAPI spec, vendored unchanged (`openapi/PROVENANCE.md`).
pub(crate) const SPEC_PATH: &str = "openapi/open-api.json";

/// The lock recording the SHA-256 of [`SPEC_PATH`]; written by `cargo xtask codegen`.
pub(crate) const SPEC_LOCK_PATH: &str = "openapi/spec.lock";

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
