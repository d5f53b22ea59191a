//! `ksef session`: list, status, invoices, upo.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ksef_model::operations::{GetSessionStatus, GetSessionUpo, ListSessionInvoices, ListSessions};
use ksef_model::types::SessionType;
use serde_json::{Value, json};

use crate::args::{SessionCommand, SessionKindArg};
use crate::context::{Ctx, all_pages, parse_reference, print_json};

/// Where a valid session reference number is found.
const REFERENCE_HINT: &str =
    "copy it from `ksef session list` (e.g. 20250626-SO-2F14610000-242991F8C9-B4)";

/// Runs a `session` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: SessionCommand) -> anyhow::Result<ExitCode> {
    let client = ctx.logged_in_client()?;
    match command {
        SessionCommand::List { kind } => {
            let session_type = match kind {
                SessionKindArg::Online => SessionType::Online,
                SessionKindArg::Batch => SessionType::Batch,
            };
            let client = &client;
            let session_type = &session_type;
            let sessions = all_pages(|token| async move {
                let mut request = ListSessions::new(session_type.clone()).with_page_size(100);
                if let Some(token) = token {
                    request = request.with_continuation_token(token);
                }
                let page = client.sessions().list(request).await?;
                Ok((page.sessions, page.continuation_token))
            })
            .await?;
            if ctx.json() {
                let rows: Vec<Value> = sessions
                    .iter()
                    .map(|s| {
                        json!({
                            "referenceNumber": s.reference_number.as_str(),
                            "status": {"code": s.status.code, "description": s.status.description},
                            "dateCreated": s.date_created,
                            "dateUpdated": s.date_updated,
                            "validUntil": s.valid_until,
                            "totalInvoiceCount": s.total_invoice_count,
                            "successfulInvoiceCount": s.successful_invoice_count,
                            "failedInvoiceCount": s.failed_invoice_count,
                        })
                    })
                    .collect();
                print_json(&Value::Array(rows))?;
            } else if sessions.is_empty() {
                outln!("no sessions");
            } else {
                outln!(
                    "{:<38} {:>6} {:<27} {:>5} {:>5} {:>5}",
                    "REFERENCE",
                    "STATUS",
                    "CREATED",
                    "TOTAL",
                    "OK",
                    "FAIL"
                );
                for s in &sessions {
                    outln!(
                        "{:<38} {:>6} {:<27} {:>5} {:>5} {:>5}",
                        s.reference_number.as_str(),
                        s.status.code,
                        s.date_created
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        s.total_invoice_count,
                        s.successful_invoice_count,
                        s.failed_invoice_count
                    );
                }
            }
        }
        SessionCommand::Status { reference } => {
            let reference = parse_reference(&reference, REFERENCE_HINT)?;
            let status = client
                .sessions()
                .status(GetSessionStatus::new(reference.clone()))
                .await?;
            if ctx.json() {
                print_json(&json!({
                    "referenceNumber": reference.as_str(),
                    "status": {"code": status.status.code, "description": status.status.description, "details": status.status.details},
                    "dateCreated": status.date_created,
                    "dateUpdated": status.date_updated,
                    "validUntil": status.valid_until,
                    "invoiceCount": status.invoice_count,
                    "successfulInvoiceCount": status.successful_invoice_count,
                    "upoPages": status.upo.as_ref().map(|u| u.pages.iter().map(|p| p.reference_number.as_str().to_owned()).collect::<Vec<_>>()),
                }))?;
            } else {
                outln!("session          {reference}");
                outln!(
                    "status           {} {}",
                    status.status.code,
                    status.status.description
                );
                outln!("created          {}", status.date_created);
                outln!("updated          {}", status.date_updated);
                if let Some(count) = status.invoice_count {
                    outln!("invoices         {count}");
                }
                if let Some(count) = status.successful_invoice_count {
                    outln!("accepted         {count}");
                }
                if let Some(upo) = &status.upo {
                    outln!("UPO pages        {}", upo.pages.len());
                }
            }
        }
        SessionCommand::Invoices { reference } => {
            let reference = parse_reference(&reference, REFERENCE_HINT)?;
            let client = &client;
            let reference = &reference;
            let invoices = all_pages(|token| async move {
                let mut request = ListSessionInvoices::new(reference.clone()).with_page_size(1000);
                if let Some(token) = token {
                    request = request.with_continuation_token(token);
                }
                let page = client.sessions().invoices(request).await?;
                Ok((page.invoices, page.continuation_token))
            })
            .await?;
            if ctx.json() {
                let rows: Vec<Value> = invoices
                    .iter()
                    .map(|i| {
                        json!({
                            "ordinalNumber": i.ordinal_number,
                            "referenceNumber": i.reference_number.as_str(),
                            "invoiceNumber": i.invoice_number,
                            "ksefNumber": i.ksef_number.as_ref().map(|k| k.as_str().to_owned()),
                            "invoiceHash": i.invoice_hash.to_string(),
                            "status": {"code": i.status.code, "description": i.status.description},
                        })
                    })
                    .collect();
                print_json(&Value::Array(rows))?;
            } else if invoices.is_empty() {
                outln!("no invoices in session {reference}");
            } else {
                for i in &invoices {
                    outln!(
                        "{:>4} {:<38} {:<36} {} {}",
                        i.ordinal_number,
                        i.reference_number.as_str(),
                        i.ksef_number.as_ref().map(|k| k.as_str()).unwrap_or("-"),
                        i.status.code,
                        i.status.description
                    );
                }
            }
        }
        SessionCommand::Upo {
            reference,
            out,
            pdf,
        } => {
            let reference = parse_reference(&reference, REFERENCE_HINT)?;
            let status = client
                .sessions()
                .status(GetSessionStatus::new(reference.clone()))
                .await?;
            let Some(upo) = status.upo.filter(|u| !u.pages.is_empty()) else {
                bail!(
                    "session {reference} has no UPO yet (status {} {}); close the session and wait until it is processed",
                    status.status.code,
                    status.status.description
                );
            };
            let dir = out.unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut saved = Vec::new();
            for page in &upo.pages {
                let bytes = client
                    .sessions()
                    .upo(GetSessionUpo::new(
                        reference.clone(),
                        page.reference_number.clone(),
                    ))
                    .await?;
                let path = dir.join(format!("UPO-{}.xml", page.reference_number));
                crate::files::write_document(&path, &bytes)?;
                saved.push(path);
            }
            let pdfs = if pdf {
                crate::pdf::upo_pdfs(&saved)?
            } else {
                Vec::new()
            };
            if ctx.json() {
                print_json(
                    &json!({ "referenceNumber": reference.as_str(), "files": saved, "pdfs": pdfs }),
                )?;
            } else {
                for path in saved.iter().chain(&pdfs) {
                    outln!("✓ saved {}", path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
