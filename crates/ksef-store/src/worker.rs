//! The worker: claims outbox rows, reconciles what an earlier lease may have sent, sends the rest
//! in one online session per claimed batch and form, and records each invoice's final state.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use ksef_client::{Client, InvoiceOutcome, SendOptions, form_code};
use ksef_model::operations::{
    GetInvoiceUpo, GetInvoiceUpoByKsefNumber, GetSessionInvoiceStatus, ListSessionInvoices,
};
use ksef_model::types::{FormCode, SessionInvoiceStatusResponse};
use ksef_model::values::{KsefNumber, ReferenceNumber};

use crate::error::Error;
use crate::outbox::Store;
use crate::rows::{Claimed, Retry, State};
use crate::worker_options::{WorkerOptions, WorkerSummary};

/// Runs a worker until `shutdown` completes (or, with [`WorkerOptions::exit_when_idle`], until
/// nothing is left): claims batches, reconciles, sends through `client` (logged in to the
/// sellers' context), records outcomes. A batch in progress when `shutdown` fires is finished;
/// rows still held then are released. `on_batch` sees each batch's summary.
///
/// # Errors
///
/// [`Error::Database`] (naming the store: a database that refuses writes, is locked or went
/// away) stops the worker; what it holds is left to lease expiry, and nothing enqueued is lost:
/// a worker started once the database is back reconciles those rows before sending. KSeF failures
/// never do: the rows concerned are given back and tried again.
pub async fn run_worker(
    store: &Store,
    client: &Client,
    options: &WorkerOptions,
    shutdown: impl Future<Output = ()>,
    mut on_batch: impl FnMut(&WorkerSummary),
) -> Result<WorkerSummary, Error> {
    let mut total = WorkerSummary::default();
    let mut shutdown = std::pin::pin!(shutdown);
    let result = loop {
        let claim_asked = Instant::now();
        let claimed = tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            claimed = store.claim(&options.worker_id, options.batch_size, options.lease) => claimed,
        };
        // Taken before the claim was asked for: never later than the leases' start.
        let claimed_at = claim_asked;
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => break Err(e),
        };
        if claimed.is_empty() {
            let wait = match store.next_due().await {
                Ok(wait) => wait,
                Err(e) => break Err(e),
            };
            if options.exit_when_idle && wait.is_none() {
                break Ok(());
            }
            let pause = wait.map_or(options.idle_pause, |w| {
                w.min(options.idle_pause).max(Duration::from_millis(10))
            });
            tokio::select! {
                biased;
                () = &mut shutdown => break Ok(()),
                () = tokio::time::sleep(pause) => continue,
            }
        }
        let mut batch = WorkerSummary {
            batches: 1,
            ..WorkerSummary::default()
        };
        let outcome = process_batch(store, client, options, claimed, claimed_at, &mut batch).await;
        total.add(&batch);
        on_batch(&batch);
        if let Err(e) = outcome {
            break Err(e);
        }
        if batch.released > 0 && batch.settled() == 0 {
            // Nothing settled: KSeF is failing; do not hammer it.
            tokio::select! {
                biased;
                () = &mut shutdown => break Ok(()),
                () = tokio::time::sleep(options.idle_pause) => {}
            }
        }
    };
    let released = store.release_all(&options.worker_id).await;
    result?;
    total.released += released?;
    Ok(total)
}

/// What became of one claimed row before sending.
enum Before {
    /// Recorded final (from an earlier lease's send).
    Settled,
    /// Given back unsettled.
    Released,
    /// Not in KSeF: send it.
    Send(Box<Claimed>),
}

/// Gives a row back after a failure (`why`), waiting the grace period times its try; counts what
/// became of it. A lease another worker took over is not this worker's error.
async fn give_back(
    store: &Store,
    options: &WorkerOptions,
    row: &Claimed,
    why: Retry,
    code: Option<i64>,
    message: &str,
    summary: &mut WorkerSummary,
) -> Result<(), Error> {
    let (tries, limit) = match why {
        Retry::NotSent => (row.row.failures, options.max_attempts),
        Retry::Uncertain => (row.row.unresolved_tries, options.max_unresolved),
    };
    let factor = u32::try_from(tries + 1).unwrap_or(u32::MAX).min(1000);
    let after = options.retry_grace.saturating_mul(factor);
    tracing::warn!(
        id = row.row.id,
        error = message,
        "invoice not settled; giving the row back"
    );
    match store
        .retry(
            &options.worker_id,
            row.row.id,
            why,
            after,
            limit,
            code,
            message,
        )
        .await
    {
        Ok(State::Failed) => summary.failed += 1,
        Ok(State::Unresolved) => summary.unresolved += 1,
        Ok(_) => summary.released += 1,
        Err(error) => held(Err(error))?,
    }
    Ok(())
}

/// The stored file is the one the row names (an ERP may insert rows directly): its SHA-256 and
/// size are recomputed from the bytes.
fn verify(row: &Claimed) -> Result<(), Error> {
    let metadata = ksef_crypto::file_metadata(&row.invoice);
    let actual_hash = metadata.sha256_base64();
    let size_ok = row
        .row
        .invoice_size
        .is_none_or(|s| u64::try_from(s).ok() == Some(metadata.size as u64));
    if actual_hash == row.row.invoice_hash && size_ok {
        return Ok(());
    }
    Err(Error::InvoiceMismatch {
        id: row.row.id,
        stored_hash: row.row.invoice_hash.clone(),
        stored_size: row
            .row
            .invoice_size
            .map_or_else(|| "?".to_owned(), |s| s.to_string()),
        actual_hash,
        actual_size: row.invoice.len(),
    })
}

async fn process_batch(
    store: &Store,
    client: &Client,
    options: &WorkerOptions,
    claimed: Vec<Claimed>,
    claimed_at: Instant,
    summary: &mut WorkerSummary,
) -> Result<(), Error> {
    let worker = options.worker_id.as_str();
    let mut leases = Leases::new(claimed_at, options.lease);
    let mut by_form: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for row in claimed {
        if let Err(mismatch) = verify(&row) {
            tracing::error!(error = %mismatch, "not sending an invoice that does not match its row");
            held(
                store
                    .record_failed(worker, row.row.id, &mismatch.to_string())
                    .await,
            )?;
            summary.failed += 1;
            continue;
        }
        match reconcile(store, client, options, row, summary).await? {
            Before::Settled => summary.reconciled += 1,
            Before::Released => {}
            Before::Send(row) => by_form
                .entry(row.row.form_code.clone())
                .or_default()
                .push(*row),
        }
    }
    for (form, rows) in by_form {
        let session = match client.open_online_session(form_code_of(&form)).await {
            Ok(s) => s,
            Err(error) => {
                let message = format!("opening an online session: {error}");
                for row in &rows {
                    give_back(store, options, row, Retry::NotSent, None, &message, summary).await?;
                }
                continue;
            }
        };
        summary.sessions += 1;
        let session_ref = session.reference_number().to_string();
        // Durable before the first send: a worker killed from here on leaves rows a successor
        // reconciles against this session's invoice list. A row whose lease was lost is not sent.
        let ids: Vec<i64> = rows.iter().map(|row| row.row.id).collect();
        let held_ids = store
            .record_session_held(worker, &ids, &session_ref)
            .await?;
        let mut bound = Vec::with_capacity(rows.len());
        for row in rows {
            if held_ids.contains(&row.row.id) {
                bound.push(row);
            } else {
                let id = row.row.id;
                tracing::warn!(id, "the lease was lost before sending; not sending");
            }
        }
        let mut sent = Vec::new();
        for row in bound {
            // A batch is sent one invoice after another at KSeF's pace: renew the lease right
            // before each send, and send nothing whose lease has run out (a successor may hold
            // it and reconcile it against this session).
            match leases.keep(store, worker, row.row.id).await {
                Ok(()) => {}
                Err(Error::LeaseLost { id, .. }) => {
                    tracing::warn!(id, "the lease ran out before sending; not sending");
                    continue;
                }
                Err(error) => return Err(error),
            }
            let send_options = send_options_of(&row);
            match session.send_with(&row.invoice, &send_options).await {
                Ok(done) => {
                    summary.sent += 1;
                    held(
                        store
                            .record_sent(worker, row.row.id, done.reference_number.as_ref())
                            .await,
                    )?;
                    sent.push((row, done.reference_number));
                }
                Err(ksef_client::Error::InvoiceRejected { status, error, .. }) => {
                    let code = error.codes.first().map_or(i64::from(status), |c| c.code);
                    let message = error
                        .codes
                        .first()
                        .and_then(|c| c.description.clone())
                        .or_else(|| error.detail.clone())
                        .unwrap_or_else(|| format!("HTTP {status}"));
                    held(
                        store
                            .record_rejected(worker, row.row.id, code, &message)
                            .await,
                    )?;
                    summary.rejected += 1;
                }
                Err(error @ ksef_client::Error::UnknownOutcome { .. }) => {
                    // KSeF may have it: reconciled against this session after the grace period.
                    let message = format!("sending: {error}");
                    give_back(
                        store,
                        options,
                        &row,
                        Retry::Uncertain,
                        None,
                        &message,
                        summary,
                    )
                    .await?;
                }
                Err(error) => {
                    // Failed before the request left: KSeF surely does not have it.
                    let message = format!("sending: {error}");
                    give_back(
                        store,
                        options,
                        &row,
                        Retry::NotSent,
                        None,
                        &message,
                        summary,
                    )
                    .await?;
                }
            }
        }
        if let Err(error) = session.close().await {
            tracing::warn!(error = %error, session = %session_ref, "closing the session failed");
        }
        let session_ref = session.reference_number().clone();
        for (row, invoice_ref) in sent {
            // Settling polls KSeF; hold the row while doing it. A row whose lease ran out has its
            // invoice reference stored: its successor settles it without sending it again.
            match leases.keep(store, worker, row.row.id).await {
                Ok(()) => {}
                Err(Error::LeaseLost { .. }) => continue,
                Err(error) => return Err(error),
            }
            settle(
                store,
                client,
                options,
                &session_ref,
                &invoice_ref,
                &row,
                summary,
            )
            .await?;
        }
    }
    Ok(())
}

/// The leases of one claimed batch: when each was last known to start (the claim, or a renewal),
/// by this process's monotonic clock, read before the request so it never overstates what is
/// left.
struct Leases {
    claimed_at: Instant,
    lease: Duration,
    renewed: BTreeMap<i64, Instant>,
}

impl Leases {
    fn new(claimed_at: Instant, lease: Duration) -> Leases {
        Leases {
            claimed_at,
            lease,
            renewed: BTreeMap::new(),
        }
    }

    /// Makes sure the lease of row `id` is held for a while yet: renewed in the database unless
    /// it started less than a quarter of a lease ago (it then runs for three quarters more: no
    /// other worker can hold the row, and one step of sending or settling fits in that). Saves a
    /// write per step while KSeF answers quickly; at KSeF's pace every step still renews.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the lease had run out, [`Error::Database`].
    async fn keep(&mut self, store: &Store, worker: &str, id: i64) -> Result<(), Error> {
        let since = self.renewed.get(&id).copied().unwrap_or(self.claimed_at);
        if since.elapsed() < self.lease / 4 {
            return Ok(());
        }
        let asked = Instant::now();
        store.renew(worker, id, self.lease).await?;
        self.renewed.insert(id, asked);
        Ok(())
    }
}

/// Settles a claimed row an earlier lease may have sent: in every session it was bound to,
/// oldest first, by its invoice reference, else by its hash in the session's invoice list; a
/// row with no session but earlier claims is looked up by a metadata query for the seller's
/// invoice number.
async fn reconcile(
    store: &Store,
    client: &Client,
    options: &WorkerOptions,
    row: Claimed,
    summary: &mut WorkerSummary,
) -> Result<Before, Error> {
    let worker = options.worker_id.as_str();
    let mut sessions = store.sessions(row.row.id).await?;
    if let Some(current) = &row.row.session_ref
        && !sessions.iter().any(|(s, _)| s == current)
    {
        // Bound by a build before the sessions table, or by hand.
        sessions.push((current.clone(), row.row.invoice_ref.clone()));
    }
    if sessions.is_empty() {
        // Every earlier claim ended in a failure before KSeF got the invoice (or there was none).
        if row.row.attempts - 1 <= row.row.failures {
            return Ok(Before::Send(Box::new(row)));
        }
        // Claimed before but never tied to a session: written by another tool, a worker of an
        // older build, or earlier tries that failed before sending. Ask KSeF whether it has
        // the seller's invoice number.
        return match client.find_original(&row.invoice).await {
            Ok(None) => Ok(Before::Send(Box::new(row))),
            Ok(Some(ksef_number)) => {
                tracing::info!(id = row.row.id, %ksef_number, "found in KSeF by a metadata query");
                held(
                    store
                        .record_accepted(worker, row.row.id, ksef_number.as_ref(), None)
                        .await,
                )?;
                summary.accepted += 1;
                Ok(Before::Settled)
            }
            Err(error) => {
                let message = format!("the metadata query: {error}");
                give_back(
                    store,
                    options,
                    &row,
                    Retry::Uncertain,
                    None,
                    &message,
                    summary,
                )
                .await?;
                Ok(Before::Released)
            }
        };
    };
    let mut found = None;
    for (session_text, invoice_text) in &sessions {
        let session_ref = parse_reference(row.row.id, session_text)?;
        let invoice_ref = match invoice_text.as_deref() {
            Some(text) => Some(parse_reference(row.row.id, text)?),
            None => match find_in_session(client, &session_ref, &row.row.invoice_hash).await {
                Ok(found) => found.map(|s| s.reference_number),
                Err(error) => {
                    let message =
                        format!("reading the invoices of session {session_text}: {error}");
                    give_back(
                        store,
                        options,
                        &row,
                        Retry::Uncertain,
                        None,
                        &message,
                        summary,
                    )
                    .await?;
                    return Ok(Before::Released);
                }
            },
        };
        if let Some(invoice_ref) = invoice_ref {
            found = Some((session_ref, invoice_ref));
            break;
        }
    }
    let Some((session_ref, invoice_ref)) = found else {
        // In none of the sessions it was bound to: it never arrived (a row given back waits
        // the grace period, and a lease lasts far longer than KSeF takes to list an invoice it
        // received).
        return Ok(Before::Send(Box::new(row)));
    };
    let before = summary.settled();
    settle(
        store,
        client,
        options,
        &session_ref,
        &invoice_ref,
        &row,
        summary,
    )
    .await?;
    Ok(if summary.settled() > before {
        Before::Settled
    } else {
        Before::Released
    })
}

/// Waits for the final status of a sent invoice and records it, with the UPO; a duplicate (440)
/// is resolved to the original's KSeF number and UPO. Gives the row back (an unknown outcome,
/// reconciled again later) when KSeF does not answer in time or the original of a duplicate is
/// not found yet.
async fn settle(
    store: &Store,
    client: &Client,
    options: &WorkerOptions,
    session_ref: &ReferenceNumber,
    invoice_ref: &ReferenceNumber,
    row: &Claimed,
    summary: &mut WorkerSummary,
) -> Result<(), Error> {
    let worker = options.worker_id.as_str();
    let id = row.row.id;
    let status = match final_status(client, options, session_ref, invoice_ref).await {
        Ok(s) => s,
        Err(error) => {
            return give_back(store, options, row, Retry::Uncertain, None, &error, summary).await;
        }
    };
    let outcome = InvoiceOutcome::of(&status);
    let outcome = match outcome {
        InvoiceOutcome::Duplicate { .. } => {
            match client
                .resolve_duplicate(outcome.clone(), &row.invoice)
                .await
            {
                Ok(resolved) => resolved,
                Err(error) => {
                    let message = format!("finding the original of a duplicate: {error}");
                    return give_back(
                        store,
                        options,
                        row,
                        Retry::Uncertain,
                        Some(440),
                        &message,
                        summary,
                    )
                    .await;
                }
            }
        }
        other => other,
    };
    match outcome {
        InvoiceOutcome::Accepted { ksef_number } => {
            match client
                .execute(&GetInvoiceUpo::new(
                    session_ref.clone(),
                    invoice_ref.clone(),
                ))
                .await
            {
                Ok(upo) => {
                    held(
                        store
                            .record_accepted(worker, id, ksef_number.as_ref(), Some(upo))
                            .await,
                    )?;
                    summary.accepted += 1;
                }
                Err(error) => {
                    let message = format!("reading the UPO: {error}");
                    give_back(
                        store,
                        options,
                        row,
                        Retry::Uncertain,
                        None,
                        &message,
                        summary,
                    )
                    .await?;
                }
            }
        }
        InvoiceOutcome::AlreadyInKsef { ksef_number } => {
            let upo = match duplicate_original_session(&status) {
                Some(original) => match original_upo(client, &original, &ksef_number).await {
                    Ok(upo) => Some(upo),
                    Err(error) => {
                        let message = format!("reading the original's UPO: {error}");
                        return give_back(
                            store,
                            options,
                            row,
                            Retry::Uncertain,
                            None,
                            &message,
                            summary,
                        )
                        .await;
                    }
                },
                None => None,
            };
            tracing::info!(id, %ksef_number, "a duplicate: the invoice is in KSeF already");
            held(
                store
                    .record_accepted(worker, id, ksef_number.as_ref(), upo)
                    .await,
            )?;
            summary.accepted += 1;
        }
        InvoiceOutcome::Duplicate { .. } => {
            // In KSeF, but its number is not found yet (the metadata index lags): never
            // `rejected`; reconciled again later, `unresolved` after the allowed tries.
            give_back(
                store,
                options,
                row,
                Retry::Uncertain,
                Some(440),
                "duplicate of an invoice in KSeF whose KSeF number is not found yet",
                summary,
            )
            .await?;
        }
        InvoiceOutcome::Rejected {
            code,
            description,
            details,
        } => {
            let message = if details.is_empty() {
                description
            } else {
                format!("{description}: {}", details.join("; "))
            };
            held(
                store
                    .record_rejected(worker, id, i64::from(code), &message)
                    .await,
            )?;
            summary.rejected += 1;
        }
        other => {
            let message = format!("unexpected outcome {other:?}");
            give_back(
                store,
                options,
                row,
                Retry::Uncertain,
                None,
                &message,
                summary,
            )
            .await?;
        }
    }
    Ok(())
}

/// Polls an invoice's status until it is final, for at most the settle timeout.
async fn final_status(
    client: &Client,
    options: &WorkerOptions,
    session_ref: &ReferenceNumber,
    invoice_ref: &ReferenceNumber,
) -> Result<SessionInvoiceStatusResponse, String> {
    let deadline = Instant::now() + options.settle_timeout;
    let mut pause = Duration::from_millis(100);
    loop {
        match client
            .execute(&GetSessionInvoiceStatus::new(
                session_ref.clone(),
                invoice_ref.clone(),
            ))
            .await
        {
            Ok(status) if InvoiceOutcome::of(&status).is_final() => return Ok(status),
            Ok(_) => {}
            Err(error) if Instant::now() >= deadline => return Err(error.to_string()),
            Err(error) => tracing::debug!(%error, "reading an invoice status failed"),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "invoice {invoice_ref} still processing after {:?}",
                options.settle_timeout
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The invoice with `hash` in the session's invoice list, reading every page.
async fn find_in_session(
    client: &Client,
    session_ref: &ReferenceNumber,
    hash: &str,
) -> Result<Option<SessionInvoiceStatusResponse>, ksef_client::Error> {
    let mut continuation: Option<String> = None;
    loop {
        let mut operation = ListSessionInvoices::new(session_ref.clone()).with_page_size(1000);
        if let Some(token) = continuation.take() {
            operation = operation.with_continuation_token(token);
        }
        let page = client.execute(&operation).await?;
        if let Some(found) = page
            .invoices
            .into_iter()
            .find(|i| i.invoice_hash.as_str() == hash)
        {
            return Ok(Some(found));
        }
        match page.continuation_token {
            Some(token) if !token.is_empty() => continuation = Some(token),
            _ => return Ok(None),
        }
    }
}

/// The session of the original that a 440 names (`originalSessionReferenceNumber`).
fn duplicate_original_session(status: &SessionInvoiceStatusResponse) -> Option<ReferenceNumber> {
    match InvoiceOutcome::of(status) {
        InvoiceOutcome::Duplicate {
            original_session_reference_number: Some(text),
            ..
        } => text.parse().ok(),
        _ => None,
    }
}

async fn original_upo(
    client: &Client,
    session: &ReferenceNumber,
    ksef_number: &KsefNumber,
) -> Result<Vec<u8>, ksef_client::Error> {
    client
        .execute(&GetInvoiceUpoByKsefNumber::new(
            session.clone(),
            ksef_number.clone(),
        ))
        .await
}

/// A lease another worker took over (this one was too slow) is not an error of this worker: the
/// other one settles the row.
fn held(result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(Error::LeaseLost { id, worker }) => {
            tracing::warn!(
                id,
                worker,
                "the lease expired and another worker took the row over"
            );
            Ok(())
        }
        other => other,
    }
}

fn parse_reference(id: i64, text: &str) -> Result<ReferenceNumber, Error> {
    text.parse().map_err(|_| Error::BadRow {
        id,
        reason: format!("{text:?} is not a KSeF reference number"),
    })
}

fn form_code_of(form: &str) -> FormCode {
    match form {
        "FA2" => form_code::fa2(),
        "FA_RR1" => form_code::fa_rr1(),
        _ => form_code::fa3(),
    }
}

fn send_options_of(row: &Claimed) -> SendOptions {
    match &row.row.corrected_invoice_hash {
        // Checked at enqueue; a row written by hand with a bad hash is sent without it and
        // KSeF's verdict recorded.
        Some(hash) => SendOptions::technical_correction(hash.clone())
            .unwrap_or_else(|_| SendOptions::offline()),
        None if row.row.offline => SendOptions::offline(),
        None => SendOptions::online(),
    }
}
