//! `ksef invoice`: send, get, query.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone as _};
use futures_util::TryStreamExt as _;
use ksef_client::offline::{OfflineInvoice, qr_environment};
use ksef_client::{
    DirectorySink, ExportOptions, FileCheckpointStore, InvoiceOutcome, InvoiceSink, MetadataQuery,
    SendOptions, SyncOptions, SyncSource,
};
use ksef_model::types::{
    InvoiceMetadata, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType,
};
use ksef_model::values::KsefNumber;
use serde_json::{Value, json};

use crate::args::{DateTypeArg, InvoiceCommand, InvoiceRangeArgs, SubjectTypeArg, SyncSourceArg};
use crate::context::{Ctx, UsageError, print_json};

/// Runs an `invoice` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: InvoiceCommand) -> anyhow::Result<ExitCode> {
    match command {
        InvoiceCommand::Send {
            files,
            schema,
            wait,
            upo_dir,
            no_validate,
            offline,
            corrects,
        } => {
            if corrects.is_some() && files.len() != 1 {
                return Err(UsageError(format!(
                    "--corrects sends one technical correction: give exactly one file, not {}",
                    files.len()
                ))
                .into());
            }
            let options = match corrects {
                Some(hash) => SendOptions::technical_correction(hash)?,
                None if offline => SendOptions::offline(),
                None => SendOptions::online(),
            };
            // Read every file once, before anything is sent: a typo in the last path leaves
            // nothing half sent, and what is validated is exactly what is sent.
            let mut invoices = Vec::with_capacity(files.len());
            for file in &files {
                let bytes = crate::files::read_invoice(file).context("nothing was sent")?;
                invoices.push(bytes);
            }
            if !no_validate {
                crate::validate::ensure_valid_contents(
                    ctx,
                    &files,
                    &invoices,
                    crate::validate::schema_of(schema),
                )?;
            }
            send(
                ctx,
                files,
                invoices,
                schema,
                wait || upo_dir.is_some(),
                upo_dir,
                &options,
            )
            .await
        }
        InvoiceCommand::Validate { files, schema } => crate::validate::run(ctx, &files, schema),
        InvoiceCommand::Sample {
            count,
            nip,
            out,
            date,
        } => crate::sample::run(ctx, count, nip.as_deref(), &out, date),
        InvoiceCommand::Pdf(args) => crate::pdf::run_invoice_pdf(ctx, args),
        InvoiceCommand::Get { ksef_number, out } => {
            let number = parse_ksef_number(&ksef_number)?;
            let client = ctx.logged_in_client()?;
            let bytes = client.download_invoice(&number).await?;
            match &out {
                Some(path) => crate::files::write_document(path, &bytes)?,
                None if ctx.json() => {}
                None => crate::output::write_stdout_bytes(&bytes)?,
            }
            if ctx.json() {
                let mut doc = json!({
                    "ksefNumber": number.as_str(),
                    "size": bytes.len(),
                    "file": out,
                });
                if out.is_none() {
                    doc["xml"] = Value::String(String::from_utf8_lossy(&bytes).into_owned());
                }
                print_json(&doc)?;
            } else if let Some(path) = &out {
                outln!(
                    "✓ saved invoice {number} to {} ({} bytes)",
                    path.display(),
                    bytes.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        InvoiceCommand::Query { range } => {
            let filters = filters_of(&range)?;
            let client = ctx.logged_in_client()?;
            let records: Vec<InvoiceMetadata> = client
                .invoice_metadata(MetadataQuery::new(filters))
                .try_collect()
                .await?;
            if ctx.json() {
                print_json(&Value::Array(records.iter().map(metadata_json).collect()))?;
            } else if records.is_empty() {
                outln!("no invoices match");
            } else {
                outln!(
                    "{:<36} {:<24} {:<10} {:<10} {:>12} {:<3}",
                    "KSEF NUMBER",
                    "INVOICE NUMBER",
                    "ISSUED",
                    "SELLER",
                    "GROSS",
                    "CUR"
                );
                for r in &records {
                    outln!(
                        "{:<36} {:<24} {:<10} {:<10} {:>12.2} {:<3}",
                        r.ksef_number.as_str(),
                        r.invoice_number,
                        r.issue_date,
                        r.seller.nip.as_str(),
                        r.gross_amount,
                        r.currency
                    );
                }
                ctx.note(format!("{} invoice(s)", records.len()));
            }
            Ok(ExitCode::SUCCESS)
        }
        InvoiceCommand::Export {
            range,
            only_metadata,
            out,
        } => export(ctx, filters_of(&range)?, only_metadata, &out).await,
        InvoiceCommand::Sync {
            out,
            pdf,
            subject_type,
            since,
            source,
        } => sync(ctx, &out, &subject_type, since.as_deref(), source, pdf).await,
    }
}

/// `invoice export`: one package, written out file by file.
async fn export(
    ctx: &Ctx,
    filters: InvoiceQueryFilters,
    only_metadata: bool,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", display(out)))?;
    let client = ctx.logged_in_client()?;
    // The package is decrypted inside the destination (its private .ksef-tmp), never elsewhere.
    let options = ExportOptions::new()
        .with_only_metadata(only_metadata)
        .with_scratch_dir(out);
    let job = client.start_export(filters, &options).await?;
    let waiting = crate::progress::waiting(
        ctx,
        format!(
            "export {} started; waiting for KSeF to build the package",
            job.reference_number()
        ),
    );
    let package = job.wait().await;
    waiting.finish_and_clear();
    let package = package?;
    let mut files = Vec::new();
    let unpacked = if package.parts.is_empty() {
        None
    } else {
        Some(
            job.download(&package, |invoice| {
                let path = out.join(&invoice.name);
                crate::files::write_document(&path, &invoice.content).map_err(|e| {
                    ksef_client::Error::Storage {
                        reason: format!("cannot write {}", path.display()),
                        source: Some(e.into()),
                    }
                })?;
                files.push(invoice.name);
                Ok(())
            })
            .await?,
        )
    };
    if let Some(metadata) = unpacked.as_ref().and_then(|u| u.metadata.as_ref()) {
        let path = out.join("_metadata.json");
        let bytes = serde_json::to_vec_pretty(metadata)?;
        crate::files::write_document(&path, &bytes)?;
    }
    let listed = unpacked
        .as_ref()
        .and_then(|u| u.metadata.as_ref())
        .map_or(0, |m| m.invoices.len());
    if ctx.json() {
        print_json(&json!({
            "referenceNumber": job.reference_number().as_str(),
            "invoiceCount": package.invoice_count,
            "files": files,
            "metadataRecords": listed,
            "isTruncated": package.is_truncated,
            "lastPermanentStorageDate": package.last_permanent_storage_date,
            "permanentStorageHwmDate": package.permanent_storage_hwm_date,
            "out": out,
        }))?;
    } else {
        outln!(
            "✓ export {}: {} invoice file(s), {listed} metadata record(s) in {}{}",
            job.reference_number(),
            files.len(),
            display(out),
            if package.is_truncated {
                " (truncated by KSeF: export again from lastPermanentStorageDate for the rest)"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A sink that counts what it stores on a progress counter (a sync's total is not known ahead).
struct CountingSink<'a> {
    inner: &'a DirectorySink,
    counter: indicatif::ProgressBar,
}

impl InvoiceSink for CountingSink<'_> {
    fn contains(&self, ksef_number: &KsefNumber) -> Result<bool, ksef_client::Error> {
        self.inner.contains(ksef_number)
    }

    fn store(
        &self,
        metadata: &ksef_model::types::InvoiceMetadata,
        xml: &[u8],
    ) -> Result<(), ksef_client::Error> {
        self.inner.store(metadata, xml)?;
        self.counter.inc(1);
        Ok(())
    }

    fn scratch_dir(&self) -> Option<&Path> {
        self.inner.scratch_dir()
    }
}

/// `invoice sync`: incremental and resumable, checkpoints beside the invoices.
async fn sync(
    ctx: &Ctx,
    out: &Path,
    subject_types: &[SubjectTypeArg],
    since: Option<&str>,
    source: SyncSourceArg,
    pdf: bool,
) -> anyhow::Result<ExitCode> {
    let start = match since {
        Some(text) => parse_time(text, "--since")?,
        None => (chrono::Utc::now() - chrono::Duration::days(30)).fixed_offset(),
    };
    let client = ctx.logged_in_client()?;
    let meta = ctx
        .load_meta()?
        .context("no login in this profile: run `ksef auth login` first")?;
    let sink = DirectorySink::new(out)?;
    let checkpoints = FileCheckpointStore::open(sink.checkpoint_path())?;
    let mut options = SyncOptions::new(format!("{}/{}", meta.base_url, meta.context), start)
        .with_source(match source {
            SyncSourceArg::Export => SyncSource::Export,
            SyncSourceArg::Query => SyncSource::Query,
        });
    if !subject_types.is_empty() {
        options = options.with_subject_types(subject_types.iter().map(|s| subject_type_of(*s)));
    }
    let counted = CountingSink {
        inner: &sink,
        counter: crate::progress::counter(ctx, "storing invoices"),
    };
    let report = client
        .sync_invoices(&options, &checkpoints, &counted)
        .await?;
    counted.counter.finish_and_clear();
    let pdfs = if pdf {
        Some(crate::pdf::sync_pdfs(ctx, out)?)
    } else {
        None
    };
    if ctx.json() {
        let subjects: Vec<Value> = report
            .subjects
            .iter()
            .map(|s| {
                json!({
                    "subjectType": s.subject_type.as_str(),
                    "from": s.from,
                    "checkpoint": s.checkpoint,
                    "listed": s.listed,
                    "stored": s.stored,
                    "alreadyPresent": s.already_present,
                    "windows": s.windows,
                })
            })
            .collect();
        print_json(&json!({
            "out": out,
            "stored": report.stored(),
            "subjects": subjects,
            "pdfs": pdfs.as_ref().map(crate::pdf::SyncPdfs::json),
        }))?;
    } else {
        for s in &report.subjects {
            outln!(
                "✓ {}: {} new, {} already present; up to date until {}",
                s.subject_type.as_str(),
                s.stored,
                s.already_present,
                s.checkpoint.to_rfc3339()
            );
        }
        if let Some(pdfs) = &pdfs {
            pdfs.print()?;
        }
    }
    Ok(match pdfs {
        Some(pdfs) if !pdfs.failed.is_empty() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// The JSON row of one metadata record.
pub(crate) fn metadata_json(r: &InvoiceMetadata) -> Value {
    json!({
        "ksefNumber": r.ksef_number.as_str(),
        "invoiceNumber": r.invoice_number,
        "issueDate": r.issue_date,
        "invoicingDate": r.invoicing_date,
        "permanentStorageDate": r.permanent_storage_date,
        "sellerNip": r.seller.nip.as_str(),
        "netAmount": r.net_amount,
        "vatAmount": r.vat_amount,
        "grossAmount": r.gross_amount,
        "currency": r.currency,
        "invoicingMode": r.invoicing_mode.as_str(),
        "hashOfCorrectedInvoice": r.hash_of_corrected_invoice.as_ref().map(|h| h.as_str()),
    })
}

fn parse_ksef_number(text: &str) -> anyhow::Result<KsefNumber> {
    text.parse().with_context(|| {
        format!("{text:?} is not a valid KSeF number; copy the 35-character number KSeF assigned")
    })
}

/// The query filters `--from`, `--to`, `--subject-type` and `--date-type` select.
fn filters_of(range: &InvoiceRangeArgs) -> anyhow::Result<InvoiceQueryFilters> {
    let mut dates = InvoiceQueryDateRange::new(
        date_type_of(range.date_type),
        parse_time(&range.from, "--from")?,
    );
    if let Some(to) = &range.to {
        dates = dates.with_to(parse_time(to, "--to")?);
    }
    Ok(InvoiceQueryFilters::new(
        subject_type_of(range.subject_type),
        dates,
    ))
}

pub(crate) fn parse_time(text: &str, flag: &str) -> anyhow::Result<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // A bare date is midnight UTC.
        let utc = FixedOffset::east_opt(0).context("a UTC offset")?;
        if let Some(t) = utc
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .single()
        {
            return Ok(t);
        }
    }
    bail!(
        "{flag} {text:?} is not a time; use RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)"
    )
}

fn subject_type_of(arg: SubjectTypeArg) -> InvoiceQuerySubjectType {
    match arg {
        SubjectTypeArg::Subject1 => InvoiceQuerySubjectType::Subject1,
        SubjectTypeArg::Subject2 => InvoiceQuerySubjectType::Subject2,
        SubjectTypeArg::Subject3 => InvoiceQuerySubjectType::Subject3,
        SubjectTypeArg::Authorized => InvoiceQuerySubjectType::SubjectAuthorized,
    }
}

fn date_type_of(arg: DateTypeArg) -> InvoiceQueryDateType {
    match arg {
        DateTypeArg::Issue => InvoiceQueryDateType::Issue,
        DateTypeArg::Invoicing => InvoiceQueryDateType::Invoicing,
        DateTypeArg::PermanentStorage => InvoiceQueryDateType::PermanentStorage,
    }
}

/// The result of sending one file.
struct Sent {
    file: PathBuf,
    reference_number: String,
    ksef_number: Option<String>,
    code: i32,
    description: String,
    upo: Option<PathBuf>,
    accepted: bool,
    /// Refused as a duplicate of the invoice KSeF holds as `ksef_number`: what the send meant to
    /// achieve, so it counts as accepted.
    already_in_ksef: bool,
    /// The index of the file's bytes in the command's invoices.
    index: usize,
    /// KOD I of an offline invoice (`None` for online sends, or if the file lacks the seller's
    /// NIP or P_1).
    verification_link: Option<String>,
}

async fn send(
    ctx: &Ctx,
    files: Vec<PathBuf>,
    invoices: Vec<Vec<u8>>,
    schema: crate::args::SchemaArg,
    wait: bool,
    upo_dir: Option<PathBuf>,
    options: &SendOptions,
) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &upo_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let client = ctx.logged_in_client()?;
    let session = client
        .open_online_session(crate::batch::form_code_of(schema))
        .await?;
    ctx.note(format!("online session {}", session.reference_number()));
    let qr_host = qr_environment(ctx.environment()?);
    let mut results = Vec::with_capacity(files.len());
    let mut send_error = None;
    for (index, (file, bytes)) in files.iter().zip(&invoices).enumerate() {
        let verification_link = if options.is_offline() {
            match OfflineInvoice::parse(bytes).and_then(|i| i.verification_link(qr_host)) {
                Ok(link) => Some(link),
                Err(error) => {
                    ctx.note(format!("{}: no KOD I link: {error}", file.display()));
                    None
                }
            }
        } else {
            None
        };
        match session.send_with(bytes, options).await {
            Ok(sent) => {
                ctx.note(format!(
                    "sent {} → {}",
                    file.display(),
                    sent.reference_number
                ));
                results.push(Sent {
                    file: file.clone(),
                    reference_number: sent.reference_number.to_string(),
                    ksef_number: None,
                    code: 150,
                    description: "Sent; processing".to_owned(),
                    upo: None,
                    accepted: true,
                    already_in_ksef: false,
                    index,
                    verification_link,
                });
            }
            Err(error) => {
                let what = send_failure_advice(&error);
                send_error = Some(
                    anyhow::Error::new(error)
                        .context(format!("sending {} failed; {what}", file.display())),
                );
                break;
            }
        }
    }
    // The invoices sent so far are reported even when the close fails: their outcome is read
    // from the session either way.
    let close_error = session.close().await.err().map(|error| {
        anyhow::Error::new(error).context(format!(
            "closing online session {} failed; the invoices above were sent, do not send them \
             again (KSeF closes the session on its own when it expires)",
            session.reference_number()
        ))
    });
    if wait && close_error.is_none() {
        let waiting = crate::progress::waiting(
            ctx,
            format!(
                "waiting until KSeF has processed session {}",
                session.reference_number()
            ),
        );
        let processed = session.wait_until_processed().await;
        waiting.finish_and_clear();
        match processed {
            Ok(_) => {}
            // E.g. 445 when no invoice was valid: the per-invoice statuses below say why.
            Err(ksef_client::Error::SessionFailed {
                code, description, ..
            }) => ctx.note(format!(
                "the session ended with status {code}: {description}"
            )),
            Err(error) => return Err(error.into()),
        }
        for result in &mut results {
            let reference = result.reference_number.parse()?;
            let (outcome, status) = session.wait_for_invoice(&reference).await?;
            result.code = status.status.code;
            result.description = status.status.description.clone();
            let outcome = resolve_duplicate(ctx, &client, outcome, &invoices[result.index]).await;
            match outcome {
                InvoiceOutcome::AlreadyInKsef { ksef_number } => {
                    result.already_in_ksef(&ksef_number);
                }
                InvoiceOutcome::Accepted { ksef_number } => {
                    result.ksef_number = Some(ksef_number.to_string());
                    if let Some(dir) = &upo_dir {
                        let upo = session.invoice_upo(&reference).await?;
                        let path = dir.join(format!("UPO-{ksef_number}.xml"));
                        crate::files::write_document(&path, &upo)?;
                        result.upo = Some(path);
                    }
                }
                _ => result.accepted = false,
            }
        }
    } else {
        for result in &mut results {
            let reference = result.reference_number.parse()?;
            if let Ok(status) = session.invoice_status(&reference).await {
                result.code = status.status.code;
                result.description = status.status.description.clone();
                result.ksef_number = status.ksef_number.as_ref().map(|k| k.to_string());
                let outcome = InvoiceOutcome::of(&status);
                if let InvoiceOutcome::Duplicate { .. } = outcome {
                    match resolve_duplicate(ctx, &client, outcome, &invoices[result.index]).await {
                        InvoiceOutcome::AlreadyInKsef { ksef_number } => {
                            result.already_in_ksef(&ksef_number);
                        }
                        _ => result.accepted = false,
                    }
                }
            }
        }
    }
    if ctx.json() {
        let session_reference = session.reference_number().to_string();
        let rows: Vec<Value> = results
            .iter()
            .map(|r| {
                json!({
                    "file": r.file,
                    "session": session_reference,
                    "referenceNumber": r.reference_number,
                    "ksefNumber": r.ksef_number,
                    "status": {"code": r.code, "description": r.description},
                    "upo": r.upo,
                    "alreadyInKsef": r.already_in_ksef,
                    "offline": options.is_offline(),
                    "correctsInvoiceHash": options.corrected_invoice_hash(),
                    "verificationLink": r.verification_link,
                })
            })
            .collect();
        let error = send_error.as_ref().or(close_error.as_ref());
        if let Some(error) = error {
            // One document: every invoice's outcome and the error that ended the command.
            let mut document = crate::error_document(error);
            document["invoices"] = Value::Array(rows);
            document["session"] = Value::from(session.reference_number().to_string());
            print_json(&document)?;
            if let (Some(_), Some(close)) = (&send_error, &close_error) {
                ctx.note(format!("{close:#}"));
            }
            crate::report_to_stderr(error);
            return Ok(ExitCode::FAILURE);
        }
        print_json(&Value::Array(rows))?;
    } else {
        for r in &results {
            let mark = if r.accepted { "✓" } else { "✗" };
            outln!(
                "{mark} {}  {}  {}  {} {}",
                r.file.display(),
                r.reference_number,
                r.ksef_number.as_deref().unwrap_or("-"),
                r.code,
                r.description
            );
            if let Some(upo) = &r.upo {
                outln!("  UPO saved to {}", display(upo));
            }
            if let Some(link) = &r.verification_link {
                outln!("  KOD I: {link}");
            }
        }
        outln!("session {}", session.reference_number());
    }
    if let Some(error) = send_error {
        if let Some(close) = close_error {
            ctx.note(format!("{close:#}"));
        }
        return Err(error);
    }
    if let Some(error) = close_error {
        return Err(error);
    }
    if results.iter().any(|r| !r.accepted) {
        ctx.note("some invoices were rejected; see the status descriptions above");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

impl Sent {
    /// KSeF refused the invoice as a duplicate of `ksef_number`: it is in KSeF.
    fn already_in_ksef(&mut self, ksef_number: &KsefNumber) {
        self.ksef_number = Some(ksef_number.to_string());
        self.description = format!("already in KSeF as {ksef_number}");
        self.already_in_ksef = true;
        self.accepted = true;
    }
}

/// A duplicate (440) resolved to the original's KSeF number where it can be found; a failed
/// look-up leaves the duplicate as it was (a note says why).
pub(crate) async fn resolve_duplicate(
    ctx: &Ctx,
    client: &ksef_client::Client,
    outcome: InvoiceOutcome,
    invoice: &[u8],
) -> InvoiceOutcome {
    match client.resolve_duplicate(outcome.clone(), invoice).await {
        Ok(resolved) => resolved,
        Err(error) => {
            ctx.note(format!(
                "a duplicate's original could not be looked up: {:#}",
                anyhow::Error::new(error)
            ));
            outcome
        }
    }
}

/// What to do about a send that failed, by the kind of failure: a definite refusal of the file
/// is fixed in the file; a rate limit, a server error or a lost answer is not the file's fault.
fn send_failure_advice(error: &ksef_client::Error) -> &'static str {
    if error.has_code(21166) {
        return "KSeF refused the technical correction: the original already has an accepted one \
                (21166)";
    }
    if error.has_code(21167) {
        return "KSeF refused the technical correction: the original is not an offline invoice \
                of this context rejected for technical reasons, or is still being processed \
                (21167); check --corrects";
    }
    match error {
        ksef_client::Error::UnknownOutcome { .. } => {
            "its outcome is unknown; the files before it were sent, and sending this one again \
             is safe (KSeF refuses a duplicate, and the CLI reports the original's KSeF number)"
        }
        _ => match error.status() {
            Some(429) => {
                "KSeF rate-limited the send; the files before it were sent, send this one and the \
                 rest again in a moment"
            }
            Some(500..=599) => {
                "KSeF had a server error; the files before it were sent, send this one and the \
                 rest again later"
            }
            Some(400..=499) => "KSeF refused the file; fix it and send it again",
            _ => {
                "the files before it were sent; check the network connection, then send this one \
                 and the rest again"
            }
        },
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(
            parse_time("2026-01-31", "--from").unwrap().to_rfc3339(),
            "2026-01-31T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-01-31T12:00:00+01:00", "--from")
                .unwrap()
                .to_rfc3339(),
            "2026-01-31T12:00:00+01:00"
        );
        let error = parse_time("yesterday", "--to").unwrap_err().to_string();
        assert!(error.contains("--to"));
    }
}
