//! `cargo xtask oracles`: regenerates the golden files of the independent oracles (xmllint,
//! xmlsec1, openssl, unzip, poppler, qpdf) by running the tests of every crate that uses
//! `ksef-oracle` with `KSEF_ORACLES=record`. Needs the real tools; a missing one fails, naming its Debian package.
//! This task only spawns `cargo test`; it links no ksef crate.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::project_root;

/// The crates whose tests use the oracle helper: their manifests list `ksef-oracle`.
fn oracle_crates(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let crates = root.join("crates");
    for entry in
        std::fs::read_dir(&crates).with_context(|| format!("reading {}", crates.display()))?
    {
        let dir = entry?.path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let manifest = dir.join("Cargo.toml");
        if name == "ksef-oracle" || !manifest.is_file() {
            continue;
        }
        if crate::read(&manifest)?
            .lines()
            .any(|l| l.trim_start().starts_with("ksef-oracle"))
        {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Runs the task; `args` are passed to every `cargo test` after `--` (e.g. a test name filter,
/// which re-records only the golden files those tests write).
pub(crate) fn run(args: &[String]) -> Result<ExitCode> {
    let root = project_root();
    let crates = oracle_crates(&root)?;
    if crates.is_empty() {
        bail!("no crate under crates/ lists ksef-oracle as a dev-dependency");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for name in &crates {
        // Golden files of tests that no longer exist must not linger: each crate's are rewritten
        // (all of them only when every test runs: with a filter, the others stay).
        let golden = root.join("crates").join(name).join("tests/golden");
        if args.is_empty() && golden.is_dir() {
            for entry in std::fs::read_dir(&golden)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "tsv") {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
            }
        }
        eprintln!("== KSEF_ORACLES=record cargo test -p {name} --tests");
        let status = Command::new(&cargo)
            .current_dir(&root)
            .env("KSEF_ORACLES", "record")
            .args(["test", "-p", name, "--tests", "--"])
            .args(args)
            .status()
            .context("running cargo test")?;
        if !status.success() {
            bail!(
                "the tests of {name} failed while recording ({status}); its golden files are \
                 incomplete: fix the failure (or install the tool named above) and rerun, or \
                 `git checkout crates/{name}/tests/golden` to restore them"
            );
        }
    }
    eprintln!("golden files rewritten for: {}", crates.join(", "));
    Ok(ExitCode::SUCCESS)
}
