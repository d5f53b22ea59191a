//! Maintenance tasks for ksef-rs, run as `cargo xtask <task>`.
//!
//! - `cargo xtask codegen [--check] [--spec PATH] [--xsd-dir DIR]`: regenerate (or, with `--check`,
//!   verify) everything under `crates/ksef-model/src/generated/` and `openapi/spec.lock` from the
//!   Ministry's OpenAPI spec and XSD schemas.
//! - `cargo xtask spec-diff OLD NEW`: list operations and schemas added, removed or changed between
//!   two versions of the OpenAPI spec.
//! - `cargo xtask soak [--online N] [--batch N] [--fault-rate F] [--kills N]
//!   [--rate-limit-scale F] [--rate-sends N] [--seed N]`: the client against an in-process
//!   simulator injecting faults; fails on a duplicate, a loss or a 429 drawn by our own pacing.
//! - `cargo xtask oracles [TEST ARGS]`: rewrite the golden files of the independent oracles
//!   (`tests/golden/*.tsv`) by running the tests of the crates using `ksef-oracle` with
//!   `KSEF_ORACLES=record`; needs xmllint, xmlsec1, openssl and unzip.

mod codegen;
mod openapi;
mod oracles;
mod soak;
mod spec_diff;
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
        bail!("usage: cargo xtask <codegen|spec-diff|soak|oracles> ...");
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
        "soak" => soak::run(&soak::Options::parse(rest)?),
        "oracles" => oracles::run(rest),
        other => bail!("unknown task `{other}`; known tasks: codegen, spec-diff, soak, oracles"),
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The Ministry's material beside the checkout: `KSEF_SPEC_DIR`, else `../shared/ksef-spec`.
pub(crate) fn default_spec_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KSEF_SPEC_DIR") {
        return PathBuf::from(dir);
    }
    project_root().join("../shared/ksef-spec")
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
