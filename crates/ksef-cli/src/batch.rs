//! `ksef batch`: send invoices in a batch session, or package them offline for a batch session
//! opened elsewhere.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ksef_client::batch_files::{BatchFiles, DirectoryPackage};
use ksef_client::{BatchOptions, InvoiceOutcome, batch_open_request, form_code};
use ksef_crypto::{MinistryCertificate, SessionKey};
use ksef_model::types::{FormCode, PublicKeyCertificateUsage};
use serde_json::{Value, json};

use crate::args::{BatchCommand, BatchSendArgs, CompressionArg, SchemaArg};
use crate::context::{Ctx, print_json};
use crate::files::{read_input, write_document, write_public};

/// The form code of `--schema`.
pub(crate) fn form_code_of(schema: SchemaArg) -> FormCode {
    match schema {
        SchemaArg::Fa3 => form_code::fa3(),
        SchemaArg::Fa2 => form_code::fa2(),
        SchemaArg::FaRr => form_code::fa_rr1(),
    }
}

/// Runs a `batch` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: BatchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BatchCommand::Send(args) => send(ctx, args).await,
        BatchCommand::Pack {
            dir,
            public_cert,
            out,
            schema,
            part_size,
            no_validate,
        } => pack(
            ctx,
            &dir,
            &public_cert,
            &out,
            schema,
            part_size,
            no_validate,
        ),
    }
}

/// Ctrl-C (or SIGTERM) while a batch is packaged, uploaded or closed. KSeF processes a batch
/// session only once it is closed: before the close was sent, the invoices are safe to send
/// again; after, the session's status says whether the close took effect, rather than a guess.
async fn interrupted_before_close(
    client: &ksef_client::Client,
    opened: Option<(ksef_model::values::ReferenceNumber, bool)>,
    invoices: usize,
) -> anyhow::Result<ExitCode> {
    let Some((reference, closing)) = opened else {
        errln!(
            "interrupted before a batch session was opened: none of the {invoices} invoice(s) was \
             sent"
        );
        return Ok(ExitCode::from(130));
    };
    if !closing {
        errln!(
            "interrupted: batch session {reference} was never closed, so KSeF processes none of \
             its {invoices} invoice(s) (it cancels the session when its upload time runs out); \
             sending the files again is safe"
        );
        return Ok(ExitCode::from(130));
    }
    let status = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.execute(&ksef_model::operations::GetSessionStatus::new(
            reference.clone(),
        )),
    )
    .await;
    match status {
        Ok(Ok(status)) if status.status.code != 100 => errln!(
            "interrupted: batch session {reference} is closed (status {} {}): KSeF processes its \
             {invoices} invoice(s); do not send these files again. Its outcome: `ksef session \
             status {reference}`",
            status.status.code,
            status.status.description
        ),
        _ => errln!(
            "interrupted while batch session {reference} was being closed: the close was sent and \
             may still take effect. Check `ksef session status {reference}` in a minute before \
             sending these files again (still 100 means it was never closed, and KSeF processes \
             none of them)"
        ),
    }
    Ok(ExitCode::from(130))
}

async fn send(ctx: &Ctx, args: BatchSendArgs) -> anyhow::Result<ExitCode> {
    let BatchSendArgs {
        inputs,
        schema,
        part_size,
        compression,
        jobs,
        wait,
        upo_dir,
        no_validate,
    } = args;
    let files = collect(ctx, &inputs)?;
    let invoices = checked_invoices(ctx, &files, schema, no_validate)?;
    if let Some(dir) = &upo_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let client = ctx.logged_in_client()?;
    // The encrypted parts wait in the profile's private .ksef-tmp, not in the shared $TMPDIR;
    // what a killed send left there is removed by the next one.
    let mut options = BatchOptions::new()
        .with_scratch_dir(&ctx.home)
        .max_uploads_in_flight(usize::from(jobs))
        .compression_type(match compression {
            CompressionArg::Zip => ksef_model::types::CompressionType::Zip,
            CompressionArg::TarGz => ksef_model::types::CompressionType::TarGz,
        });
    if let Some(size) = part_size {
        options = options.max_part_size(size);
    }
    ctx.note(format!(
        "sending {} invoice(s) in a batch session …",
        files.len()
    ));
    // The session opened, and whether its close was sent: for a Ctrl-C before it is closed.
    let opened = std::sync::Arc::new(std::sync::Mutex::new(None));
    let bar = crate::progress::batch_upload(ctx, files.len());
    options = options.on_progress({
        let (opened, bar) = (opened.clone(), bar.clone());
        move |event| {
            use ksef_client::BatchEvent;
            let stage = match event {
                BatchEvent::Opened { reference_number } => Some((reference_number, false)),
                BatchEvent::Closing { reference_number } => Some((reference_number, true)),
                _ => None,
            };
            if let Some((reference, closing)) = stage {
                *opened.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((reference.clone(), closing));
            }
            crate::progress::batch_event(&bar, event);
        }
    });
    // One listener for the whole command: an interrupt is never left to the default action.
    let mut interrupted = std::pin::pin!(crate::sim::shutdown_signal()?);
    let submitted = tokio::select! {
        submitted = client.submit_batch(form_code_of(schema), invoices, options) => submitted?,
        () = &mut interrupted => {
            bar.finish_and_clear();
            let opened = opened.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return interrupted_before_close(&client, opened, files.len()).await;
        }
    };
    bar.finish_and_clear();
    if !wait {
        let reference = &submitted.reference_number;
        if ctx.json() {
            print_json(&json!({
                "referenceNumber": reference.as_str(),
                "parts": submitted.package.parts.len(),
                "compressionType": submitted.package.compression_type.as_str(),
                "invoiceCount": files.len(),
                "waited": false,
            }))?;
        } else {
            outln!(
                "✓ batch session {reference} sent and closed: {} invoice(s) in {} part(s); KSeF processes it now",
                files.len(),
                submitted.package.parts.len()
            );
            outln!("  check it with   ksef session status {reference}");
            outln!("  (or send with --wait to wait for each invoice's outcome)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let waiting = crate::progress::waiting(
        ctx,
        format!(
            "batch session {} closed; waiting until KSeF has processed it",
            submitted.reference_number
        ),
    );
    let reference = submitted.reference_number.clone();
    let outcome = tokio::select! {
        outcome = submitted.wait() => outcome,
        // Ctrl-C (or SIGTERM) while KSeF processes: every part is uploaded and the session closed, so the
        // invoices are KSeF's now; say where to read their outcome instead of dying silently
        // (a rerun would send them again and meet duplicates).
        () = &mut interrupted => {
            waiting.finish_and_clear();
            errln!(
                "interrupted: batch session {reference} is closed with all {} invoice(s) uploaded, \
                 and KSeF processes it whether we wait or not; do not send these files again. \
                 Its outcome: `ksef session status {reference}` (and `ksef session upo {reference}`)",
                files.len()
            );
            return Ok(ExitCode::from(130));
        }
    };
    waiting.finish_and_clear();
    let outcome = outcome?;
    ctx.note(format!(
        "batch session {}: {} part(s), status {} {}",
        outcome.reference_number,
        outcome.package.parts.len(),
        outcome.status.status.code,
        outcome.status.status.description
    ));
    let mut session_upos = Vec::new();
    let any_accepted = outcome
        .invoices
        .iter()
        .any(|i| matches!(i.outcome, InvoiceOutcome::Accepted { .. }));
    // A session in which every invoice was refused (445) confirms nothing: no session UPO.
    if let (Some(dir), true) = (&upo_dir, any_accepted) {
        for (index, page) in outcome.session_upo().await?.iter().enumerate() {
            let path = dir.join(format!(
                "UPO-{}-{}.xml",
                outcome.reference_number,
                index + 1
            ));
            write_document(&path, page)?;
            session_upos.push(path);
        }
    }
    let mut rows = Vec::with_capacity(outcome.invoices.len());
    let mut rejected = 0usize;
    for invoice in &outcome.invoices {
        let mut row = BatchRow {
            invoice,
            ksef_number: None,
            upo: None,
            already_in_ksef: false,
            description: invoice.status.status.description.clone(),
        };
        match &invoice.outcome {
            InvoiceOutcome::Accepted { ksef_number } => {
                row.ksef_number = Some(ksef_number.to_string());
                if let Some(dir) = &upo_dir {
                    let bytes = outcome.invoice_upo(invoice).await?;
                    let path = dir.join(format!("UPO-{ksef_number}.xml"));
                    write_document(&path, &bytes)?;
                    row.upo = Some(path);
                }
            }
            // Sent before (a rerun after an interrupted send): the original's KSeF number, and
            // the invoice counts as in KSeF, not as refused.
            InvoiceOutcome::Duplicate { .. } => match sent_bytes(&files, invoice) {
                Some(bytes) => match crate::invoice::resolve_duplicate(
                    ctx,
                    &client,
                    invoice.outcome.clone(),
                    &bytes,
                )
                .await
                {
                    InvoiceOutcome::AlreadyInKsef { ksef_number } => {
                        row.description = format!("already in KSeF as {ksef_number}");
                        row.ksef_number = Some(ksef_number.to_string());
                        row.already_in_ksef = true;
                    }
                    _ => rejected += 1,
                },
                None => rejected += 1,
            },
            _ => rejected += 1,
        }
        rows.push(row);
    }
    // KSeF lists only the invoices it read: a file missing from the listing was not processed.
    let reported: BTreeSet<&str> = outcome
        .invoices
        .iter()
        .filter_map(|i| i.file_name.as_deref())
        .collect();
    let missing: Vec<&str> = files
        .files()
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !reported.contains(name))
        .collect();
    if ctx.json() {
        let invoices: Vec<Value> = rows
            .iter()
            .map(|row| {
                let invoice = row.invoice;
                json!({
                    "file": invoice.file_name,
                    "referenceNumber": invoice.reference_number.as_str(),
                    "ksefNumber": row.ksef_number,
                    "invoiceHash": invoice.invoice_hash,
                    "status": {"code": invoice.status.status.code, "description": row.description},
                    "upo": row.upo,
                    "alreadyInKsef": row.already_in_ksef,
                })
            })
            .collect();
        print_json(&json!({
            "referenceNumber": outcome.reference_number.as_str(),
            "status": {"code": outcome.status.status.code, "description": outcome.status.status.description},
            "parts": outcome.package.parts.len(),
            "compressionType": outcome.package.compression_type.as_str(),
            "invoiceCount": files.len(),
            "accepted": rows.len() - rejected,
            "rejected": rejected,
            "missing": missing,
            "invoices": invoices,
            "sessionUpo": session_upos,
        }))?;
    } else {
        for row in &rows {
            let invoice = row.invoice;
            let mark = if row.ksef_number.is_some() {
                "✓"
            } else {
                "✗"
            };
            outln!(
                "{mark} {}  {}  {}  {} {}",
                invoice.file_name.as_deref().unwrap_or("?"),
                invoice.reference_number,
                row.ksef_number.as_deref().unwrap_or("-"),
                invoice.status.status.code,
                row.description
            );
            if let Some(upo) = &row.upo {
                outln!("  UPO saved to {}", upo.display());
            }
        }
        for name in &missing {
            outln!("✗ {name}  not reported by KSeF");
        }
        outln!(
            "batch session {}: {}/{} accepted",
            outcome.reference_number,
            rows.len() - rejected,
            files.len()
        );
    }
    if rejected > 0 || !missing.is_empty() {
        ctx.note("some invoices were not accepted; see the statuses above");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// One invoice of a processed batch as reported.
struct BatchRow<'a> {
    invoice: &'a ksef_client::BatchInvoiceOutcome,
    ksef_number: Option<String>,
    upo: Option<std::path::PathBuf>,
    /// Refused as a duplicate of an invoice already in KSeF (its number is `ksef_number`).
    already_in_ksef: bool,
    description: String,
}

/// The bytes of the file `invoice` was packaged from, read again (bounded); `None` when the
/// invoice maps to no file or the file cannot be read now.
fn sent_bytes(files: &BatchFiles, invoice: &ksef_client::BatchInvoiceOutcome) -> Option<Vec<u8>> {
    let name = invoice.file_name.as_deref()?;
    let (_, path) = files.files().iter().find(|(n, _)| n == name)?;
    crate::files::read_invoice(path).ok()
}

/// The invoice files of `inputs`; notes the directory entries that are not sent.
fn collect(ctx: &Ctx, inputs: &[std::path::PathBuf]) -> anyhow::Result<BatchFiles> {
    let files = BatchFiles::collect(inputs)?;
    if !files.skipped().is_empty() {
        let names: Vec<String> = files
            .skipped()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        ctx.note(format!("not sent (not named *.xml): {}", names.join(", ")));
    }
    Ok(files)
}

/// The files as invoices to package, validated first unless `no_validate` and then bound to
/// the hash of what was validated (packaging reads the files again).
fn checked_invoices(
    ctx: &Ctx,
    files: &BatchFiles,
    schema: SchemaArg,
    no_validate: bool,
) -> anyhow::Result<Vec<ksef_client::BatchInvoice>> {
    let invoices = files.invoices()?;
    if no_validate {
        return Ok(invoices);
    }
    let hashes =
        crate::validate::ensure_valid(ctx, &files.paths(), crate::validate::schema_of(schema))?;
    Ok(invoices
        .into_iter()
        .zip(hashes)
        .map(|(invoice, sha256)| invoice.expect_sha256(sha256))
        .collect())
}

/// Reads the public-key certificate to wrap the session key for.
fn encryption_certificate(path: &Path) -> anyhow::Result<MinistryCertificate> {
    let bytes = read_input(path, "the public certificate")?;
    let certificate = ksef_xades::Certificate::from_pem_or_der(&bytes).with_context(|| {
        format!(
            "{} is not an X.509 certificate (PEM or DER); give the Ministry's \
             SymmetricKeyEncryption certificate",
            path.display()
        )
    })?;
    MinistryCertificate::from_der(
        certificate.der(),
        [PublicKeyCertificateUsage::SymmetricKeyEncryption],
    )
    .with_context(|| format!("cannot use the certificate {}", path.display()))
}

fn pack(
    ctx: &Ctx,
    dir: &Path,
    public_cert: &Path,
    out: &Path,
    schema: SchemaArg,
    part_size: Option<u64>,
    no_validate: bool,
) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the directory holding the invoice XML files",
            dir.display()
        );
    }
    let files = collect(ctx, &[dir.to_path_buf()])?;
    let certificate = encryption_certificate(public_cert)?;
    if out.exists()
        && std::fs::read_dir(out)
            .with_context(|| format!("cannot list {}", out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty; give a new or empty output directory",
            out.display()
        );
    }
    // Validated like `batch send`: nothing is written for a package KSeF would refuse.
    let invoices = checked_invoices(ctx, &files, schema, no_validate)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let key = SessionKey::generate()?;
    let wrapped = key
        .wrap(&certificate)
        .with_context(|| {
            format!(
                "cannot encrypt the session key for {}",
                public_cert.display()
            )
        })?
        .to_encryption_info();
    ctx.note(format!("packaging {} invoice(s) …", files.len()));
    let DirectoryPackage {
        package,
        part_paths,
        ..
    } = BatchFiles::pack_invoices_to_directory(invoices, &key, out, part_size)?;
    let part_files: Vec<String> = part_paths
        .iter()
        .map(|path| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let request = batch_open_request(form_code_of(schema), &package, &wrapped);
    let manifest = json!({
        "openRequest": serde_json::to_value(&request)?,
        "partFiles": part_files,
    });
    let manifest_path = out.join("batch.json");
    write_public(&manifest_path, &serde_json::to_vec_pretty(&manifest)?)?;
    if ctx.json() {
        print_json(&json!({
            "out": out,
            "manifest": manifest_path,
            "invoiceCount": files.len(),
            "partFiles": part_files,
            "archiveSize": package.archive.size,
            "archiveHash": package.archive.sha256_base64(),
        }))?;
    } else {
        outln!(
            "✓ packaged {} invoice(s) into {} part(s) in {}",
            files.len(),
            part_files.len(),
            out.display()
        );
        outln!("  open request     {}", manifest_path.display());
    }
    Ok(ExitCode::SUCCESS)
}
