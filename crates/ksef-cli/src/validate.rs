//! `ksef invoice validate`, and the check `invoice send` and `batch send` run before sending.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use ksef_model::validate::{
    BusinessOptions, DuplicateKey, Schema, Violation, invoice_key, validate_with_business,
};
use serde_json::{Value, json};

use crate::args::SchemaArg;
use crate::context::{Ctx, print_json};

/// The verdict on one file.
pub(crate) struct Verdict {
    file: PathBuf,
    schema: Option<Schema>,
    violations: Vec<Violation>,
    /// Not an invoice at all (not well-formed, unknown form, unreadable).
    error: Option<String>,
}

impl Verdict {
    fn valid(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }

    fn json(&self) -> Value {
        json!({
            "file": self.file,
            "schema": self.schema.map(|s| s.to_string()),
            "valid": self.valid(),
            "error": self.error,
            "violations": self.violations.iter().map(|v| json!({
                "path": v.path,
                "rule": v.rule.name(),
                "value": v.value,
                "message": v.to_string(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The schema `--schema` names.
pub(crate) fn schema_of(arg: SchemaArg) -> Schema {
    match arg {
        SchemaArg::Fa3 => Schema::Fa3,
        SchemaArg::Fa2 => Schema::Fa2,
        SchemaArg::FaRr => Schema::FaRr1,
    }
}

/// Checks every invoice against its schema (picked from the document) and the rules beyond it:
/// NIP check digits, the issue date not in the future, the size limit, the expected form, and
/// duplicates (seller NIP, invoice type, number) among the files. Files are read one at a time,
/// so a large batch is never held in memory at once.
pub(crate) fn check(ctx: &Ctx, files: &[PathBuf], expected: Option<Schema>) -> Vec<Verdict> {
    check_contents(
        ctx,
        files,
        |index| {
            crate::files::read_invoice(&files[index])
                .map(Cow::Owned)
                .map_err(|e| format!("{e:#}"))
        },
        expected,
    )
}

/// [`check`] of contents `content(i)` gives, one file at a time: the bytes of `files[i]`, or why
/// they could not be read.
fn check_contents<'a>(
    ctx: &Ctx,
    files: &[PathBuf],
    mut content: impl FnMut(usize) -> Result<Cow<'a, [u8]>, String>,
    expected: Option<Schema>,
) -> Vec<Verdict> {
    let today = chrono::Utc::now().date_naive();
    let mut options = BusinessOptions::default().with_today(today);
    if let Some(schema) = expected {
        options = options.with_expected_schema(schema);
    }
    let mut verdicts = Vec::with_capacity(files.len());
    let mut keys: BTreeMap<DuplicateKey, Vec<usize>> = BTreeMap::new();
    let progress = crate::progress::bar(ctx, files.len() as u64, "validating");
    for (index, file) in files.iter().enumerate() {
        progress.inc(1);
        let mut verdict = Verdict {
            file: file.clone(),
            schema: None,
            violations: Vec::new(),
            error: None,
        };
        match content(index) {
            Err(e) => verdict.error = Some(e),
            Ok(bytes) => match validate_with_business(&bytes, &options) {
                Ok((report, business)) => {
                    verdict.schema = Some(report.schema);
                    verdict.violations = report.violations;
                    verdict.violations.extend(business);
                    if let Ok(Some(key)) = invoice_key(&bytes) {
                        keys.entry(key).or_default().push(index);
                    }
                }
                Err(e) => verdict.error = Some(e.to_string()),
            },
        }
        verdicts.push(verdict);
    }
    for (key, indices) in keys.into_iter().filter(|(_, v)| v.len() > 1) {
        for &i in &indices {
            let others: Vec<String> = indices
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| files[j].display().to_string())
                .collect();
            verdicts[i].error.get_or_insert_with(|| {
                format!(
                    "duplicate of {} (same seller NIP {}, invoice type {} and number {}): KSeF accepts only one",
                    others.join(", "),
                    key.seller_nip,
                    key.kind,
                    key.number
                )
            });
        }
    }
    verdicts
}

fn print_human(ctx: &Ctx, verdicts: &[Verdict], to_stdout: bool) -> anyhow::Result<()> {
    for verdict in verdicts {
        let mut lines = Vec::new();
        if verdict.valid() {
            lines.push(format!(
                "✓ {} is a valid {} invoice",
                verdict.file.display(),
                verdict.schema.map_or_else(String::new, |s| s.to_string())
            ));
        } else {
            lines.push(format!("✗ {} is not valid:", verdict.file.display()));
            if let Some(error) = &verdict.error {
                lines.push(format!("    {error}"));
            }
            for violation in &verdict.violations {
                lines.push(format!("    {violation}"));
            }
        }
        for line in lines {
            if to_stdout {
                outln!("{line}");
            } else {
                ctx.note(line);
            }
        }
    }
    Ok(())
}

/// `ksef invoice validate FILES... [--schema S]`: exit 1 if any file is invalid.
pub(crate) fn run(
    ctx: &Ctx,
    files: &[PathBuf],
    schema: Option<SchemaArg>,
) -> anyhow::Result<ExitCode> {
    for file in files {
        if !file.exists() {
            bail!("cannot read invoice file {}: no such file", file.display());
        }
    }
    let verdicts = check(ctx, files, schema.map(schema_of));
    let invalid = verdicts.iter().filter(|v| !v.valid()).count();
    if ctx.json() {
        print_json(&Value::Array(verdicts.iter().map(Verdict::json).collect()))?;
    } else {
        print_human(ctx, &verdicts, true)?;
    }
    if invalid > 0 {
        ctx.note(format!(
            "{invalid} of {} invoice(s) invalid; fix them before sending",
            verdicts.len()
        ));
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// The check before a batch send: refuses the whole send if any invoice is invalid, listing
/// why. Returns the SHA-256 of each file as it was validated, so that packaging, which reads
/// the files again, can refuse one that changed in between
/// ([`BatchInvoice::expect_sha256`](ksef_client::BatchInvoice::expect_sha256)).
pub(crate) fn ensure_valid(
    ctx: &Ctx,
    files: &[PathBuf],
    expected: Schema,
) -> anyhow::Result<Vec<[u8; 32]>> {
    let mut hashes = Vec::with_capacity(files.len());
    let verdicts = check_contents(
        ctx,
        files,
        |index| {
            let bytes = crate::files::read_invoice(&files[index]).map_err(|e| format!("{e:#}"))?;
            hashes.push(ksef_client::crypto::file_metadata(&bytes).sha256);
            Ok(Cow::Owned(bytes))
        },
        Some(expected),
    );
    refuse_invalid(ctx, verdicts)?;
    // Every file was read (an unreadable one is invalid), so there is one hash per file.
    Ok(hashes)
}

/// [`ensure_valid`] of invoices already read (`invoices[i]` from `files[i]`): what is validated
/// is exactly what will be sent.
pub(crate) fn ensure_valid_contents(
    ctx: &Ctx,
    files: &[PathBuf],
    invoices: &[Vec<u8>],
    expected: Schema,
) -> anyhow::Result<()> {
    refuse_invalid(
        ctx,
        check_contents(
            ctx,
            files,
            |index| Ok(Cow::Borrowed(invoices[index].as_slice())),
            Some(expected),
        ),
    )
}

/// How many invalid files a refused send shows with their findings.
const SHOWN_IN_FULL: usize = 10;

/// How many invalid files the error line of a refused send names.
const NAMED: usize = 3;

/// Prints the invalid verdicts (the first [`SHOWN_IN_FULL`] with their findings) and fails with
/// their count, naming the first few files; `Ok` when all are valid.
fn refuse_invalid(ctx: &Ctx, verdicts: Vec<Verdict>) -> anyhow::Result<()> {
    let total = verdicts.len();
    let owned: Vec<Verdict> = verdicts.into_iter().filter(|v| !v.valid()).collect();
    if owned.is_empty() {
        return Ok(());
    }
    print_human(ctx, &owned[..owned.len().min(SHOWN_IN_FULL)], false)?;
    if owned.len() > SHOWN_IN_FULL {
        ctx.note(format!(
            "… and {} more invalid file(s); `ksef invoice validate` lists every finding",
            owned.len() - SHOWN_IN_FULL
        ));
    }
    bail!(
        "{} of {total} invoice(s) failed validation ({}); nothing was sent. Fix them, or pass \
         --no-validate to let KSeF judge",
        owned.len(),
        first_few(&owned)
    )
}

/// The first [`NAMED`] files of `verdicts`, then how many more there are.
fn first_few(verdicts: &[Verdict]) -> String {
    let mut names: Vec<String> = verdicts
        .iter()
        .take(NAMED)
        .map(|v| display(&v.file))
        .collect();
    if verdicts.len() > NAMED {
        names.push(format!("and {} more", verdicts.len() - NAMED));
    }
    names.join(", ")
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
