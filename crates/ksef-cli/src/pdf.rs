//! PDF visualizations: `ksef invoice pdf`, and the PDFs `session upo --pdf` writes beside the
//! UPO files (rendering by ksef-pdf).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use ksef_client::offline::qr_environment;
use ksef_crypto::{CertificateKey, QrContextType};
use ksef_model::values::{KsefNumber, Nip};
use ksef_pdf::{Language, OfflineQr, Options};
use serde_json::{Value, json};

use crate::context::{Ctx, print_json};
use crate::files::{read_certificate_key, read_input, write_document};

/// `ksef invoice pdf`.
#[derive(Debug, Args)]
pub(crate) struct InvoicePdfArgs {
    /// The invoice XML files (FA(3), FA(2), FA_RR(1)).
    #[arg(required = true, value_name = "FILES")]
    files: Vec<PathBuf>,
    /// The directory to write the PDFs to (created if missing); each is named after its XML.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The invoice's KSeF number (one FILE only). Without it, each file's number comes from its
    /// sidecar `{name}.json` (`ksefNumber`, as `invoice sync` writes) or from a file name that is
    /// a KSeF number; with none, KOD I is captioned OFFLINE.
    #[arg(long, value_name = "N")]
    ksef_number: Option<String>,
    /// Render invoices that fail validation anyway; the PDF carries a notice and the findings.
    #[arg(long)]
    force: bool,
    /// English labels instead of Polish.
    #[arg(long)]
    english: bool,
    /// Leave the QR codes out.
    #[arg(long)]
    no_qr: bool,
    /// KOD II for an offline invoice: the Offline certificate's serial number (hexadecimal).
    #[arg(long, value_name = "HEX", requires = "key")]
    cert_serial: Option<String>,
    /// KOD II: the Offline certificate's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE", requires = "cert_serial")]
    key: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted key.
    #[arg(long, value_name = "FILE", requires = "key")]
    key_password_file: Option<PathBuf>,
    /// KOD II: the context NIP the invoice was issued in [default: the seller's NIP].
    #[arg(long, value_name = "NIP", requires = "key")]
    context_nip: Option<String>,
}

/// The KSeF number of `file`: its sidecar `{stem}.json` (`ksefNumber`) or its file name.
fn sidecar_number(file: &Path) -> anyhow::Result<Option<String>> {
    let sidecar = file.with_extension("json");
    if sidecar.is_file() {
        let bytes = read_input(&sidecar, "the sidecar")?;
        let value: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not JSON", sidecar.display()))?;
        if let Some(number) = value.get("ksefNumber").and_then(Value::as_str) {
            let parsed: KsefNumber = number.parse().with_context(|| {
                format!(
                    "{}: ksefNumber {number:?} is not a KSeF number",
                    sidecar.display()
                )
            })?;
            return Ok(Some(parsed.to_string()));
        }
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    Ok(stem.parse::<KsefNumber>().ok().map(|n| n.to_string()))
}

/// Runs `ksef invoice pdf`: exit 1 when any file could not be rendered (the others are).
pub(crate) fn run_invoice_pdf(ctx: &Ctx, args: InvoicePdfArgs) -> anyhow::Result<ExitCode> {
    if args.ksef_number.is_some() && args.files.len() > 1 {
        bail!("--ksef-number names one invoice: give one FILE (or sidecar .json files instead)");
    }
    // Each FILE becomes {stem}.pdf in --out: two files with one stem would overwrite each other.
    let mut stems = std::collections::HashMap::new();
    for file in &args.files {
        if let Some(earlier) = stems.insert(file.file_stem(), file) {
            bail!(
                "{} and {} would both be written as {}.pdf in {}; render them into separate --out \
                 directories",
                earlier.display(),
                file.display(),
                file.file_stem().unwrap_or_default().to_string_lossy(),
                args.out.display()
            );
        }
    }
    let fixed_number = match &args.ksef_number {
        Some(text) => Some(
            text.parse::<KsefNumber>()
                .with_context(|| {
                    format!(
                        "--ksef-number {text:?} is not a valid KSeF number; copy the \
                         35-character number KSeF assigned"
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    let key = match &args.key {
        Some(path) => {
            let key = read_certificate_key(path, args.key_password_file.as_deref())?;
            Some(key)
        }
        None => None,
    };
    let context_nip = match &args.context_nip {
        Some(text) => Some(
            text.parse::<Nip>()
                .with_context(|| format!("--context-nip {text:?} is not a valid NIP"))?
                .to_string(),
        ),
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let environment = qr_environment(ctx.environment()?);
    let mut results = Vec::new();
    let mut failed = 0usize;
    let progress = crate::progress::bar(ctx, args.files.len() as u64, "rendering");
    for file in &args.files {
        progress.inc(1);
        let outcome = render_one(
            file,
            &args,
            fixed_number.clone(),
            key.as_ref(),
            context_nip.as_deref(),
            environment,
        );
        match outcome {
            Ok(entry) => {
                if !ctx.json() {
                    let forced = entry["violations"].as_array().map_or(0, Vec::len);
                    outln!(
                        "✓ {} → {}{}",
                        file.display(),
                        entry["pdf"].as_str().unwrap_or(""),
                        if forced > 0 {
                            format!(" (rendered despite {forced} validation finding(s))")
                        } else {
                            String::new()
                        }
                    );
                }
                results.push(entry);
            }
            Err(e) => {
                failed += 1;
                if !ctx.json() {
                    errln!("✗ {}: {e:#}", file.display());
                }
                results.push(json!({ "file": file, "error": format!("{e:#}") }));
            }
        }
    }
    if ctx.json() {
        print_json(&json!({ "files": results, "failed": failed }))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render_one(
    file: &Path,
    args: &InvoicePdfArgs,
    fixed_number: Option<String>,
    key: Option<&CertificateKey>,
    context_nip: Option<&str>,
    environment: ksef_crypto::QrEnvironment,
) -> anyhow::Result<Value> {
    let bytes = crate::files::read_invoice(file)?;
    let number = match fixed_number {
        Some(n) => Some(n),
        None => sidecar_number(file)?,
    };
    let mut options = Options::default()
        .with_environment(environment)
        .with_force(args.force)
        .with_language(if args.english {
            Language::English
        } else {
            Language::Polish
        });
    if let Some(n) = &number {
        options = options.with_ksef_number(n.clone());
    }
    if args.no_qr {
        options = options.without_qr();
    }
    if let (Some(key), Some(serial)) = (key, &args.cert_serial) {
        let context = match context_nip {
            Some(nip) => nip.to_owned(),
            None => {
                ksef_client::offline::OfflineInvoice::parse(&bytes)
                    .with_context(|| {
                        format!(
                            "{}: no seller NIP for KOD II; give the context with --context-nip",
                            file.display()
                        )
                    })?
                    .seller_nip
            }
        };
        options = options.with_offline(OfflineQr::Sign {
            key: key.clone(),
            serial: serial.clone(),
            context_type: QrContextType::Nip,
            context_value: context,
        });
    }
    let rendered = ksef_pdf::render_invoice_full(&bytes, &options).map_err(|e| match e {
        ksef_pdf::Error::Invalid { .. } => anyhow::anyhow!(
            "{e}\nhint: fix the invoice, or render it anyway with --force (the findings are \
             printed in the PDF)"
        ),
        other => anyhow::Error::new(other),
    })?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "invoice".into());
    let pdf_path = args.out.join(format!("{name}.pdf"));
    write_document(&pdf_path, &rendered.pdf)?;
    Ok(json!({
        "file": file,
        "pdf": pdf_path,
        "pages": rendered.pages,
        "ksefNumber": number,
        "kodI": rendered.kod_i,
        "kodII": rendered.kod_ii,
        "violations": rendered.violations,
    }))
}

/// Renders each saved UPO file as a PDF beside it (`UPO-x.xml` → `UPO-x.pdf`); returns the
/// PDFs written.
pub(crate) fn upo_pdfs(files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for file in files {
        let bytes = read_input(file, "the UPO")?;
        let pdf = ksef_pdf::render_upo(&bytes, &Options::default())
            .with_context(|| format!("{}: cannot render the UPO", file.display()))?;
        let path = file.with_extension("pdf");
        write_document(&path, &pdf)?;
        out.push(path);
    }
    Ok(out)
}

/// What `invoice sync --pdf` rendered.
pub(crate) struct SyncPdfs {
    /// The PDFs written.
    pub(crate) written: Vec<PathBuf>,
    /// Invoices whose PDF could not be rendered, with the reason.
    pub(crate) failed: Vec<(PathBuf, String)>,
    /// PDFs rendered despite validation findings (each carries a notice listing them).
    pub(crate) with_findings: Vec<PathBuf>,
}

impl SyncPdfs {
    pub(crate) fn json(&self) -> Value {
        json!({
            "written": self.written,
            "withFindings": self.with_findings,
            "failed": self.failed.iter().map(|(file, error)| json!({
                "file": file,
                "error": error,
            })).collect::<Vec<_>>(),
        })
    }

    /// The summary on stdout (it is the command's result), the failures on stderr.
    pub(crate) fn print(&self) -> anyhow::Result<()> {
        outln!("✓ {} PDF(s) written", self.written.len());
        for file in &self.with_findings {
            outln!(
                "  {} rendered despite validation findings (listed in the PDF)",
                file.display()
            );
        }
        for (file, error) in &self.failed {
            errln!("✗ {}: {error}", file.display());
        }
        Ok(())
    }
}

/// Writes `{ksefNumber}.pdf` beside every complete invoice of a sync directory (its XML and its
/// metadata `.json` both present) that has no PDF yet, so an interrupted run is caught up on the
/// next one. An invoice KSeF accepted is rendered even if our validator finds fault with it (the
/// PDF then says so); one that cannot be rendered at all is reported and the others still are.
pub(crate) fn sync_pdfs(ctx: &Ctx, dir: &Path) -> anyhow::Result<SyncPdfs> {
    let environment = qr_environment(ctx.environment()?);
    let mut numbers: Vec<KsefNumber> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".xml")?.parse::<KsefNumber>().ok()
        })
        .collect();
    numbers.sort();
    let mut done = SyncPdfs {
        written: Vec::new(),
        failed: Vec::new(),
        with_findings: Vec::new(),
    };
    let progress = crate::progress::bar(ctx, numbers.len() as u64, "rendering PDFs");
    for number in numbers {
        progress.inc(1);
        let xml = dir.join(format!("{}.xml", number.as_str()));
        let pdf = dir.join(format!("{}.pdf", number.as_str()));
        if pdf.exists() || !dir.join(format!("{}.json", number.as_str())).is_file() {
            continue;
        }
        let options = Options::default()
            .with_environment(environment)
            .with_ksef_number(number.as_str())
            .with_force(true);
        let rendered = crate::files::read_invoice(&xml).and_then(|bytes| {
            ksef_pdf::render_invoice_full(&bytes, &options).map_err(anyhow::Error::from)
        });
        match rendered {
            Ok(rendered) => {
                write_document(&pdf, &rendered.pdf)?;
                if !rendered.violations.is_empty() {
                    done.with_findings.push(pdf.clone());
                }
                done.written.push(pdf);
            }
            Err(e) => done.failed.push((xml, format!("{e:#}"))),
        }
    }
    Ok(done)
}
