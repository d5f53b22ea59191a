//! `ksef outbox add|status|show` and `ksef worker`: the durable outbox of ksef-store.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use ksef_store::{
    InvoiceOptions, NewInvoice, OutboxRow, Store, StoreLocation, WorkerOptions, WorkerSummary,
};
use serde_json::{Value, json};

use crate::args::{OutboxCommand, StoreArgs, WorkerArgs};
use crate::context::{Ctx, print_json};
use crate::files::{read_invoice, write_document};

/// Runs an `outbox` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    match command {
        OutboxCommand::Add {
            files,
            offline,
            corrects,
            store,
        } => add(ctx, files, offline, corrects, &store).await,
        OutboxCommand::Status { store } => status(ctx, &store).await,
        OutboxCommand::Show {
            invoice,
            upo_dir,
            store,
        } => show(ctx, &invoice, upo_dir, &store).await,
    }
}

/// The store `--store` (or `KSEF_STORE`) names, or `outbox.sqlite` in the ksef home.
fn location(ctx: &Ctx, args: &StoreArgs) -> anyhow::Result<StoreLocation> {
    let Some(text) = &args.store else {
        return Ok(StoreLocation::default_in(&ctx.home));
    };
    let location: StoreLocation = text.parse()?;
    // A password in argv is visible to every user of the machine (ps, /proc).
    let from_env = std::env::var("KSEF_STORE").ok().as_deref() == Some(text.as_str());
    if let StoreLocation::Postgres(url) = &location
        && !from_env
        && url.to_string() != url.expose()
    {
        bail!(
            "--store {url} holds a password; give the URL in the KSEF_STORE environment variable \
             instead (arguments are visible to other users)"
        );
    }
    Ok(location)
}

async fn open(ctx: &Ctx, args: &StoreArgs) -> anyhow::Result<Store> {
    let location = location(ctx, args)?;
    Store::open(&location)
        .await
        .with_context(|| format!("cannot open the outbox {location}"))
}

async fn add(
    ctx: &Ctx,
    files: Vec<std::path::PathBuf>,
    offline: bool,
    corrects: Option<String>,
    store_args: &StoreArgs,
) -> anyhow::Result<ExitCode> {
    if corrects.is_some() && files.len() != 1 {
        bail!("--corrects names the one invoice a single file corrects; give one file");
    }
    let options = match corrects {
        Some(hash) => InvoiceOptions::technical_correction(hash),
        None if offline => InvoiceOptions::offline(),
        None => InvoiceOptions::online(),
    };
    // Every file is checked (once) before anything is stored: a bad file stops the command
    // whole. One file's bytes are in memory at a time: what the check found is kept without
    // them, and the bytes read again when stored must have the checked hash.
    let mut checked = Vec::with_capacity(files.len());
    for file in &files {
        let invoice = NewInvoice::check(
            &file.display().to_string(),
            read_invoice(file)?,
            options.clone(),
        )?;
        checked.push(invoice.without_bytes());
    }
    let store = open(ctx, store_args).await?;
    let mut rows = Vec::with_capacity(files.len());
    for (file, checked) in files.iter().zip(checked) {
        let invoice = checked
            .with_bytes(read_invoice(file)?)
            .with_context(|| format!("{} changed while the files were added", file.display()))?;
        let enqueued = store.enqueue(&invoice).await?;
        if !ctx.json() {
            let what = if enqueued.new {
                "queued"
            } else {
                "already queued"
            };
            outln!(
                "{} {}  #{}  seller {}  number {}",
                what,
                file.display(),
                enqueued.id,
                invoice.seller_nip(),
                invoice.invoice_number()
            );
        }
        rows.push(json!({
            "file": file,
            "id": enqueued.id,
            "new": enqueued.new,
            "sellerNip": invoice.seller_nip(),
            "invoiceNumber": invoice.invoice_number(),
            "invoiceHash": invoice.invoice_hash(),
        }));
    }
    if ctx.json() {
        print_json(&Value::Array(rows))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(ctx: &Ctx, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let store = open(ctx, store_args).await?;
    let counts = store.status().await?;
    if ctx.json() {
        print_json(&json!({
            "pending": counts.pending,
            "leased": counts.leased,
            "accepted": counts.accepted,
            "rejected": counts.rejected,
            "failed": counts.failed,
            "unresolved": counts.unresolved,
            "notFinal": counts.not_final(),
            "total": counts.total(),
        }))?;
    } else {
        outln!("pending   {}", counts.pending);
        outln!("leased    {}", counts.leased);
        outln!("accepted  {}", counts.accepted);
        outln!("rejected  {}", counts.rejected);
        outln!("failed    {}", counts.failed);
        outln!(
            "unresolved {} (in KSeF, number not known yet)",
            counts.unresolved
        );
        outln!("not final {} of {}", counts.not_final(), counts.total());
    }
    Ok(ExitCode::SUCCESS)
}

fn row_json(row: &OutboxRow, upo_file: Option<&std::path::Path>) -> Value {
    json!({
        "id": row.id,
        "sellerNip": row.seller_nip,
        "invoiceNumber": row.invoice_number,
        "invoiceHash": row.invoice_hash,
        "formCode": row.form_code,
        "offline": row.offline,
        "correctedInvoiceHash": row.corrected_invoice_hash,
        "state": row.state.as_str(),
        "worker": row.worker,
        "leaseExpiresAt": row.lease_expires_at,
        "sessionReferenceNumber": row.session_ref,
        "invoiceReferenceNumber": row.invoice_ref,
        "attempts": row.attempts,
        "failures": row.failures,
        "unresolvedTries": row.unresolved_tries,
        "notBefore": row.not_before,
        "ksefNumber": row.ksef_number,
        "acceptedAt": row.accepted_at,
        "upo": row.upo.as_ref().map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
        "upoFile": upo_file,
        "error": row.error_code.map(|code| json!({"code": code, "message": row.error_message})),
        "enqueuedAt": row.enqueued_at,
        "updatedAt": row.updated_at,
    })
}

async fn show(
    ctx: &Ctx,
    invoice: &str,
    upo_dir: Option<std::path::PathBuf>,
    store_args: &StoreArgs,
) -> anyhow::Result<ExitCode> {
    let store = open(ctx, store_args).await?;
    let rows = store.show(invoice).await?;
    let mut documents = Vec::with_capacity(rows.len());
    for row in &rows {
        let upo_file = match (&upo_dir, &row.upo, &row.ksef_number) {
            (Some(dir), Some(upo), Some(ksef_number)) if !upo.is_empty() => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let path = dir.join(format!("UPO-{ksef_number}.xml"));
                write_document(&path, upo)?;
                Some(path)
            }
            _ => None,
        };
        if ctx.json() {
            documents.push(row_json(row, upo_file.as_deref()));
            continue;
        }
        outln!(
            "#{}  {}  seller {}  number {}",
            row.id,
            row.state,
            row.seller_nip,
            row.invoice_number
        );
        outln!("  hash        {}", row.invoice_hash);
        outln!("  enqueued    {}", row.enqueued_at);
        if let Some(session) = &row.session_ref {
            outln!("  session     {session}");
        }
        if let Some(worker) = &row.worker {
            outln!(
                "  leased by   {worker} until {}",
                row.lease_expires_at.as_deref().unwrap_or("-")
            );
        }
        if let Some(ksef_number) = &row.ksef_number {
            outln!("  KSeF number {ksef_number}");
            outln!(
                "  accepted    {}",
                row.accepted_at.as_deref().unwrap_or("-")
            );
        }
        if let Some(upo) = &row.upo {
            outln!("  UPO         {} bytes", upo.len());
        }
        if let Some(path) = &upo_file {
            outln!("  UPO saved to {}", path.display());
        }
        match (row.state, row.error_code, &row.error_message) {
            (ksef_store::State::Rejected, Some(code), message) => {
                outln!("  refused     {code}: {}", message.as_deref().unwrap_or(""));
            }
            (_, _, Some(message)) => outln!("  last error  {message}"),
            _ => {}
        }
    }
    if ctx.json() {
        print_json(&Value::Array(documents))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_line(summary: &WorkerSummary) -> String {
    format!(
        "{} sent, {} accepted, {} rejected, {} reconciled, {} given back, {} failed, {} unresolved, {} sessions",
        summary.sent,
        summary.accepted,
        summary.rejected,
        summary.reconciled,
        summary.released,
        summary.failed,
        summary.unresolved,
        summary.sessions
    )
}

/// `ksef worker`.
pub(crate) async fn worker(ctx: &Ctx, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let scale = match args.rate_limit_scale {
        Some(f) if !(f.is_finite() && f > 0.0) => bail!("--rate-limit-scale must be above 0"),
        other => other,
    };
    let store = open(ctx, &args.store).await?;
    let client = match scale {
        None => ctx.logged_in_client()?,
        Some(scale) => {
            // The login check first, then the same client with its pacing scaled.
            ctx.logged_in_client()?;
            let crate::context::StoreState::Usable(tokens) = ctx.open_token_store()? else {
                bail!("the profile's token file is damaged; run `ksef auth login` again");
            };
            crate::context::client_builder(&ctx.base_url()?)
                .transport(|t| {
                    t.token_store(tokens)
                        .rate_limit(ksef_client::RateLimitConfig::default().with_scale(scale))
                })
                .build()?
        }
    };
    let options = WorkerOptions::new(ksef_store::default_worker_id())
        .with_batch_size(args.batch_size)
        .with_lease(Duration::from_secs(args.lease_secs.max(1)))
        .with_retry_grace(Duration::from_millis(args.retry_grace_ms))
        .with_max_attempts(args.max_attempts)
        .with_max_unresolved(args.max_unresolved)
        .exit_when_idle(args.until_empty);
    let stop = crate::sim::shutdown_signal()?;
    ctx.note(format!(
        "worker {} on {}; stop with Ctrl-C or SIGTERM",
        options.worker_id,
        location(ctx, &args.store)?
    ));
    let summary = ksef_store::run_worker(&store, &client, &options, stop, |batch| {
        ctx.note(format!("batch: {}", summary_line(batch)));
    })
    .await
    .context(
        "the outbox worker stopped; the invoices it held go back to the outbox when their \
         leases expire, and a restarted worker checks KSeF for them before sending anything",
    )?;
    if ctx.json() {
        print_json(&json!({
            "worker": options.worker_id,
            "batches": summary.batches,
            "sessions": summary.sessions,
            "sent": summary.sent,
            "accepted": summary.accepted,
            "rejected": summary.rejected,
            "reconciled": summary.reconciled,
            "released": summary.released,
            "failed": summary.failed,
            "unresolved": summary.unresolved,
        }))?;
    } else {
        outln!("worker {}: {}", options.worker_id, summary_line(&summary));
    }
    Ok(ExitCode::SUCCESS)
}
