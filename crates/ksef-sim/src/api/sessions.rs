//! Online sessions: open, send, close, statuses, invoice lists and UPOs.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use ksef_crypto::file_metadata;
use ksef_model::types::{
    InvoiceStatusInfo, InvoicingMode, OpenOnlineSessionRequest, OpenOnlineSessionResponse,
    SendInvoiceRequest, SendInvoiceResponse, SessionInvoiceStatusResponse, SessionInvoicesResponse,
    SessionStatusResponse, SessionsQueryResponse, SessionsQueryResponseItem,
    SessionsQueryResponseItemParams, StatusInfo, UpoPageResponse, UpoResponse,
};

use super::common::intake::{check_plain, record_invoice, reject};
use super::common::session::{
    counts, new_session, no_session, reference, session_of, session_status, unwrap_session_key,
};
use super::common::{Reply, Req, duration, internal, json, links, new_reference};
use crate::errors::ApiError;
use crate::invoice_xml::FormKind;
use crate::shared::Shared;
use crate::state::{InvoiceOutcome, Session, SessionInvoice, State, StoredInvoice};
use crate::upo;

/// Invoices per session.
const MAX_INVOICES: usize = 10_000;
/// How long UPO download links stay valid.
const LINK_LIFETIME_MINUTES: i64 = 60;

fn no_upo(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(21178, "Nie znaleziono UPO.", detail)
}

/// `POST /sessions/online`.
pub(super) fn open(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    req.caller()?;
    let body: OpenOnlineSessionRequest = req.json()?;
    let form = FormKind::from_form_code(&body.form_code).ok_or_else(|| {
        ApiError::validation(format!(
            "Form code {} {} {} is not supported (simulated: FA (2), FA (3), FA_RR (1)).",
            body.form_code.system_code, body.form_code.schema_version, body.form_code.value
        ))
    })?;
    let key = unwrap_session_key(shared, &body.encryption)?;
    let now = req.now;
    let session_reference = new_reference(now, "SO")?;
    let valid_until = now + duration(shared.config.session_lifetime)?;
    let mut state = shared.state();
    let session = new_session(
        &state,
        req,
        session_reference.to_string(),
        form,
        key,
        valid_until,
        None,
    )?;
    state.sessions.push(session);
    drop(state);
    json(
        201,
        &OpenOnlineSessionResponse::new(session_reference, valid_until.fixed_offset()),
    )
}

fn sending_refused(code: i32) -> ApiError {
    ApiError::bad_request(
        21180,
        "Status sesji nie pozwala na wykonanie operacji.",
        format!("Status sesji {code} uniemożliwia wysyłkę faktur."),
    )
}

/// `POST /sessions/online/{referenceNumber}/invoices`.
pub(super) fn send_invoice(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SendInvoiceRequest = req.json()?;
    let session_reference = req.param("referenceNumber");
    let now = req.now;
    let ciphertext = STANDARD
        .decode(body.encrypted_invoice_content.trim())
        .map_err(|_| ApiError::validation("encryptedInvoiceContent is not base64."))?;
    let size_error = || {
        ApiError::bad_request(
            21402,
            "Nieprawidłowy rozmiar pliku.",
            "Długość treści nie zgadza się z rozmiarem pliku.",
        )
    };
    let hash_error = || {
        ApiError::bad_request(
            21403,
            "Nieprawidłowy skrót pliku.",
            "Skrót treści nie zgadza się ze skrótem pliku.",
        )
    };

    let state = shared.state();
    let session = session_of(&state, session_reference, Some(&claims.ctx))?;
    let (code, _, _) = session_status(shared, session, now);
    let Some(key) = session
        .key
        .as_ref()
        .filter(|_| code == 100 && now < session.valid_until)
    else {
        return Err(sending_refused(code));
    };
    // The context's limit, as set with `/testdata/limits/context/session`.
    let limit = state
        .session_limits
        .get(&claims.ctx)
        .and_then(|l| usize::try_from(l.online_session.max_invoices).ok())
        .unwrap_or(MAX_INVOICES);
    if session.invoices.len() >= limit {
        return Err(ApiError::bad_request(
            21155,
            "Przekroczono dozwoloną liczbę faktur w sesji.",
            format!(
                "Sesja o numerze referencyjnym {session_reference} osiągnęła dozwolony limit liczby faktur {limit}."
            ),
        ));
    }
    let key = key.clone();
    let form = session.form;
    // Hashing, decryption and schema checks run without the state lock.
    drop(state);
    let encrypted = file_metadata(&ciphertext);
    if i64::try_from(encrypted.size).ok() != Some(body.encrypted_invoice_size) {
        return Err(size_error());
    }
    if encrypted.sha256_base64() != body.encrypted_invoice_hash.0 {
        return Err(hash_error());
    }
    let decrypted = key.decrypt_to_vec(&ciphertext).map(|(plain, _)| plain);
    let offline_requested = body.offline_mode.unwrap_or(false);
    let corrects = body
        .hash_of_corrected_invoice
        .as_ref()
        .map(|h| check_corrected_hash(h.as_str(), offline_requested))
        .transpose()?;

    let (outcome, plaintext, facts) = match decrypted {
        Err(e) => (
            reject(
                435,
                "Błąd odszyfrowania pliku",
                format!("Nie udało się odszyfrować faktury: {e}."),
            ),
            None,
            None,
        ),
        Ok(plain) => {
            let declared = file_metadata(&plain);
            if i64::try_from(declared.size).ok() != Some(body.invoice_size) {
                return Err(size_error());
            }
            if declared.sha256_base64() != body.invoice_hash.0 {
                return Err(hash_error());
            }
            check_plain(plain, form)
        }
    };
    let mut state = shared.state();
    // The session may have been closed meanwhile.
    let session = session_of(&state, session_reference, Some(&claims.ctx))?;
    let (code, _, _) = session_status(shared, session, now);
    if code != 100 {
        return Err(sending_refused(code));
    }
    if let Some(original) = &corrects {
        technical_correction_allowed(&state, &claims.ctx, original, now)?;
    }
    let invoice_reference = record_invoice(
        shared,
        &mut state,
        session_reference,
        now,
        body.invoice_hash.0.clone(),
        offline_requested,
        (outcome, plaintext, facts),
    )?;
    if let Some(original) = corrects {
        mark_correction(&mut state, session_reference, original)?;
    }
    drop(state);
    json(202, &SendInvoiceResponse::new(invoice_reference))
}

/// Checks the form of `hashOfCorrectedInvoice`: SHA-256 in standard base64, sent with
/// `offlineMode: true` (a technical correction is always an offline invoice).
fn check_corrected_hash(hash: &str, offline: bool) -> Result<String, ApiError> {
    let decoded = STANDARD.decode(hash).ok().filter(|d| d.len() == 32);
    if decoded.is_none() {
        return Err(ApiError::validation(
            "hashOfCorrectedInvoice nie jest skrótem SHA-256 zakodowanym w Base64.",
        ));
    }
    if !offline {
        return Err(ApiError::validation(
            "Korekta techniczna (hashOfCorrectedInvoice) wymaga offlineMode = true.",
        ));
    }
    Ok(hash.to_owned())
}

/// Whether a rejection lets the invoice be corrected technically: everything except the
/// permission problems (410 no permission for the seller, 415 attachments not enabled).
fn technical_rejection(code: i32) -> bool {
    !matches!(code, 410 | 415)
}

/// KSeF's rules for a technical correction of the invoice with hash `original` in `context`: the
/// original must be an offline invoice of this context that was rejected for technical reasons
/// (21167 otherwise, also while it is still processing or when it was accepted), and it must not
/// have an accepted correction yet (21166).
fn technical_correction_allowed(
    state: &State,
    context: &str,
    original: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let status_forbids = |detail: String| {
        ApiError::bad_request(
            21167,
            "Status faktury nie pozwala na korektę techniczną.",
            detail,
        )
    };
    let in_context = || {
        state
            .sessions
            .iter()
            .filter(move |s| s.context_nip == context)
            .flat_map(|s| s.invoices.iter())
    };
    let mut correctable = false;
    for invoice in in_context().filter(|i| i.invoice_hash == original) {
        if now < invoice.processed {
            return Err(status_forbids(format!(
                "Faktura o skrócie {original} jest w trakcie przetwarzania."
            )));
        }
        match &invoice.outcome {
            InvoiceOutcome::Accepted(_) => {
                return Err(status_forbids(
                    "Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury."
                        .to_owned(),
                ));
            }
            InvoiceOutcome::Rejected { code, .. } => {
                correctable |= invoice.offline && technical_rejection(*code);
            }
        }
    }
    if !correctable {
        return Err(status_forbids(format!(
            "Brak faktury offline o skrócie {original} odrzuconej z przyczyn technicznych."
        )));
    }
    let corrected = in_context().any(|i| {
        i.corrects.as_deref() == Some(original) && matches!(i.outcome, InvoiceOutcome::Accepted(_))
    });
    if corrected {
        return Err(ApiError::bad_request(
            21166,
            "Korekta techniczna niedostępna.",
            "Faktura posiada już przetworzoną prawidłowo korektę techniczną.",
        ));
    }
    Ok(())
}

/// Records that the invoice just sent in `session_reference` corrects `original`.
fn mark_correction(
    state: &mut State,
    session_reference: &str,
    original: String,
) -> Result<(), ApiError> {
    let session = state
        .session_mut(session_reference)
        .ok_or_else(|| no_session(session_reference))?;
    let invoice = session
        .invoices
        .last_mut()
        .ok_or_else(|| ApiError::internal("the correction was not recorded"))?;
    invoice.corrects = Some(original.clone());
    let accepted = match invoice.outcome {
        InvoiceOutcome::Accepted(index) => Some((index, invoice.invoice_hash.clone())),
        InvoiceOutcome::Rejected { .. } => None,
    };
    if let Some((index, hash)) = accepted {
        if let Some(stored) = state.invoices.get_mut(index) {
            stored.hash_of_corrected_invoice = Some(original.clone());
        }
        state.stats.technical_corrections.insert(original, hash);
    }
    Ok(())
}

/// `POST /sessions/online/{referenceNumber}/close`.
pub(super) fn close(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let session_reference = req.param("referenceNumber");
    let mut state = shared.state();
    let session = session_of(&state, session_reference, Some(&claims.ctx))?;
    let (code, _, _) = session_status(shared, session, req.now);
    if code != 100 {
        return Err(ApiError::bad_request(
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            format!("Status sesji {code} uniemożliwia jej zamknięcie."),
        ));
    }
    let session = state
        .session_mut(session_reference)
        .ok_or_else(|| no_session(session_reference))?;
    session.closed = Some(req.now);
    session.updated = req.now;
    Ok(Reply::Empty(204))
}

/// `GET /sessions/{referenceNumber}`.
pub(super) fn status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    let session = session_of(&state, req.param("referenceNumber"), Some(&claims.ctx))?;
    let (code, description, detail) = session_status(shared, session, req.now);
    let mut status = StatusInfo::new(code, description);
    status.details = detail.map(|d| vec![d.to_owned()]);
    let (total, ok, failed) = counts(session, req.now);
    let mut body = SessionStatusResponse::new(
        status,
        session.created.fixed_offset(),
        session.updated.fixed_offset(),
    );
    body.valid_until = Some(session.valid_until.fixed_offset());
    body.invoice_count = Some(total);
    body.successful_invoice_count = Some(ok);
    body.failed_invoice_count = Some(failed);
    if code == 200 {
        let url = links::sign(
            &format!(
                "{}/_sim/upo/{}/{}",
                shared.root_url, session.reference, session.upo_reference
            ),
            &session.link_signature,
        );
        let expires = (req.now + Duration::minutes(LINK_LIFETIME_MINUTES)).fixed_offset();
        body.upo = Some(UpoResponse::new(vec![UpoPageResponse::new(
            reference(&session.upo_reference)?,
            url,
            expires,
        )]));
    }
    json(200, &body)
}

/// `GET /sessions`.
pub(super) fn list(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let session_type = req
        .query("sessionType")
        .ok_or_else(|| ApiError::validation("Parameter sessionType is required."))?;
    if !matches!(session_type, "Online" | "Batch") {
        return Err(ApiError::validation("sessionType must be Online or Batch."));
    }
    let statuses = req.query_all("statuses");
    let wanted_reference = req.query("referenceNumber");
    let within =
        |value: Option<DateTime<Utc>>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
            (from.is_none() && to.is_none())
                || value.is_some_and(|v| from.is_none_or(|f| v >= f) && to.is_none_or(|t| v <= t))
        };
    let created = (
        req.query_date("dateCreatedFrom")?,
        req.query_date("dateCreatedTo")?,
    );
    let closed = (
        req.query_date("dateClosedFrom")?,
        req.query_date("dateClosedTo")?,
    );
    let modified = (
        req.query_date("dateModifiedFrom")?,
        req.query_date("dateModifiedTo")?,
    );
    let state = shared.state();
    let mut items = Vec::new();
    for session in
        state.sessions.iter().rev().filter(|s| {
            (session_type == "Batch") == s.batch.is_some() && s.context_nip == claims.ctx
        })
    {
        if wanted_reference.is_some_and(|r| r != session.reference)
            || !within(Some(session.created), created.0, created.1)
            || !within(session.closed, closed.0, closed.1)
            || !within(Some(session.updated), modified.0, modified.1)
        {
            continue;
        }
        let (code, description, _) = session_status(shared, session, req.now);
        let common = match code {
            100 | 150 | 170 => "InProgress",
            200 => "Succeeded",
            440 => "Cancelled",
            _ => "Failed",
        };
        if !statuses.is_empty() && !statuses.contains(&common) {
            continue;
        }
        let (total, ok, failed) = counts(session, req.now);
        let mut item = SessionsQueryResponseItem::new(SessionsQueryResponseItemParams {
            reference_number: reference(&session.reference)?,
            status: StatusInfo::new(code, description),
            date_created: session.created.fixed_offset(),
            date_updated: session.updated.fixed_offset(),
            total_invoice_count: total,
            successful_invoice_count: ok,
            failed_invoice_count: failed,
        });
        item.valid_until = Some(session.valid_until.fixed_offset());
        items.push(item);
    }
    drop(state);
    let (items, next) = req.page(items, 10, 1000)?;
    let mut body = SessionsQueryResponse::new(items);
    body.continuation_token = next;
    json(200, &body)
}

fn invoice_view(
    shared: &Shared,
    state: &State,
    session: &Session,
    invoice: &SessionInvoice,
    now: DateTime<Utc>,
) -> Result<SessionInvoiceStatusResponse, ApiError> {
    let mode = if invoice.offline {
        InvoicingMode::Offline
    } else {
        InvoicingMode::Online
    };
    if now < invoice.processed {
        let mut view = SessionInvoiceStatusResponse::new(
            invoice.ordinal,
            reference(&invoice.reference)?,
            invoice.invoice_hash.as_str(),
            invoice.invoicing_date.fixed_offset(),
            InvoiceStatusInfo::new(150, "Trwa przetwarzanie"),
        );
        view.invoicing_mode = Some(mode);
        return Ok(view);
    }
    let status = match &invoice.outcome {
        InvoiceOutcome::Accepted(_) => InvoiceStatusInfo::new(200, "Sukces"),
        InvoiceOutcome::Rejected {
            code,
            description,
            details,
            extensions,
            ..
        } => {
            let mut status = InvoiceStatusInfo::new(*code, description.clone());
            status.details = Some(details.clone());
            if !extensions.is_empty() {
                status.extensions = Some(
                    extensions
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect::<BTreeMap<_, _>>(),
                );
            }
            status
        }
    };
    let mut view = SessionInvoiceStatusResponse::new(
        invoice.ordinal,
        reference(&invoice.reference)?,
        invoice.invoice_hash.as_str(),
        invoice.invoicing_date.fixed_offset(),
        status,
    );
    view.invoicing_mode = Some(mode);
    match &invoice.outcome {
        InvoiceOutcome::Accepted(index) => {
            let stored = state
                .invoices
                .get(*index)
                .ok_or_else(|| ApiError::internal("invoice index"))?;
            view.invoice_number = Some(stored.facts.invoice_number.clone());
            view.ksef_number = Some(
                stored
                    .ksef_number
                    .parse()
                    .map_err(|e: ksef_model::values::IdentifierError| internal(e))?,
            );
            view.acquisition_date = Some(stored.acquisition_date.fixed_offset());
            view.permanent_storage_date = Some(stored.permanent_storage_date.fixed_offset());
            view.upo_download_url = Some(links::sign(
                &format!(
                    "{}/_sim/upo/{}/invoices/{}",
                    shared.root_url, session.reference, invoice.reference
                ),
                &session.link_signature,
            ));
            view.upo_download_url_expiration_date =
                Some((now + Duration::minutes(LINK_LIFETIME_MINUTES)).fixed_offset());
        }
        InvoiceOutcome::Rejected { invoice_number, .. } => {
            view.invoice_number = invoice_number.clone()
        }
    }
    Ok(view)
}

/// `GET /sessions/{referenceNumber}/invoices` and `.../invoices/failed`.
pub(super) fn invoices(shared: &Shared, req: &Req, failed_only: bool) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    let session = session_of(&state, req.param("referenceNumber"), Some(&claims.ctx))?;
    let mut views = Vec::new();
    for invoice in &session.invoices {
        let failed = req.now >= invoice.processed
            && matches!(invoice.outcome, InvoiceOutcome::Rejected { .. });
        if failed_only && !failed {
            continue;
        }
        views.push(invoice_view(shared, &state, session, invoice, req.now)?);
    }
    drop(state);
    let (views, next) = req.page(views, 10, 1000)?;
    let mut body = SessionInvoicesResponse::new(views);
    body.continuation_token = next;
    json(200, &body)
}

/// `GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}`.
pub(super) fn invoice_status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    let session = session_of(&state, req.param("referenceNumber"), Some(&claims.ctx))?;
    let wanted = req.param("invoiceReferenceNumber");
    let invoice = session
        .invoices
        .iter()
        .find(|i| i.reference == wanted)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Faktura o numerze referencyjnym {wanted} nie została znaleziona w sesji."
            ))
        })?;
    let view = invoice_view(shared, &state, session, invoice, req.now)?;
    drop(state);
    json(200, &view)
}

/// The UPO of one accepted invoice of a session, as XML.
pub(crate) fn invoice_upo_xml(
    shared: &Shared,
    session_reference: &str,
    context: Option<&str>,
    matches: impl Fn(&SessionInvoice, Option<&StoredInvoice>) -> bool,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let state = shared.state();
    let session = session_of(&state, session_reference, context)?;
    let stored = session.invoices.iter().find_map(|invoice| {
        let stored = match invoice.outcome {
            InvoiceOutcome::Accepted(index) => state.invoices.get(index),
            InvoiceOutcome::Rejected { .. } => None,
        };
        (matches(invoice, stored) && now >= invoice.processed)
            .then_some(stored)
            .flatten()
    });
    let stored = stored.ok_or_else(|| no_upo("UPO faktury nie zostało odnalezione."))?;
    let xml = upo::build(session, &[stored], false)?;
    Ok(Reply::Xml(xml))
}

/// Refuses a UPO download link (`/_sim/upo/{session}/...`) that does not carry the session's
/// link signature with 403; an unknown session is refused alike, so links reveal nothing.
pub(crate) fn check_upo_link(
    shared: &Shared,
    session_reference: &str,
    query: &str,
) -> Result<(), ApiError> {
    let state = shared.state();
    let expected = state
        .session(session_reference)
        .map_or("", |s| s.link_signature.as_str());
    links::check(query, expected)
}

/// The UPO of a processed session, as XML.
pub(crate) fn session_upo_xml(
    shared: &Shared,
    session_reference: &str,
    upo_reference: &str,
    context: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let state = shared.state();
    let session = session_of(&state, session_reference, context)?;
    let (code, _, _) = session_status(shared, session, now);
    if code != 200 || session.upo_reference != upo_reference {
        return Err(no_upo(format!(
            "UPO {upo_reference} sesji {session_reference} nie zostało odnalezione."
        )));
    }
    let documents: Vec<&StoredInvoice> = session
        .invoices
        .iter()
        .filter_map(|invoice| match invoice.outcome {
            InvoiceOutcome::Accepted(index) => state.invoices.get(index),
            InvoiceOutcome::Rejected { .. } => None,
        })
        .collect();
    let xml = upo::build(session, &documents, true)?;
    Ok(Reply::Xml(xml))
}

/// `GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo`.
pub(super) fn invoice_upo(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let wanted = req.param("invoiceReferenceNumber");
    invoice_upo_xml(
        shared,
        req.param("referenceNumber"),
        Some(&claims.ctx),
        |i, _| i.reference == wanted,
        req.now,
    )
}

/// `GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo`.
pub(super) fn invoice_upo_by_ksef_number(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let wanted = req.param("ksefNumber");
    invoice_upo_xml(
        shared,
        req.param("referenceNumber"),
        Some(&claims.ctx),
        |_, stored| stored.is_some_and(|s| s.ksef_number == wanted),
        req.now,
    )
}

/// `GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}`.
pub(super) fn session_upo(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    session_upo_xml(
        shared,
        req.param("referenceNumber"),
        req.param("upoReferenceNumber"),
        Some(&claims.ctx),
        req.now,
    )
}
