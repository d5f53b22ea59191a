//! Sessions as every session handler sees them: lookup in the caller's context, status, and
//! opening (the session key unwrapped), shared by online and batch sessions.

use chrono::{DateTime, Duration, Utc};
use ksef_crypto::WrappedSessionKey;
use ksef_model::types::PublicKeyCertificateUsage;
use ksef_model::values::ReferenceNumber;

use super::{Req, internal, new_reference};
use crate::errors::ApiError;
use crate::invoice_xml::FormKind;
use crate::shared::Shared;
use crate::state::{InvoiceOutcome, Session, State};

pub(crate) fn reference(text: &str) -> Result<ReferenceNumber, ApiError> {
    text.parse()
        .map_err(|e: ksef_model::values::IdentifierError| internal(e))
}

pub(crate) fn no_session(reference: &str) -> ApiError {
    ApiError::bad_request(
        21173,
        "Brak sesji o wskazanym numerze referencyjnym.",
        format!("Sesja o numerze referencyjnym {reference} nie została odnaleziona."),
    )
}

/// The session of the caller's context.
pub(crate) fn session_of<'a>(
    state: &'a State,
    reference: &str,
    context: Option<&str>,
) -> Result<&'a Session, ApiError> {
    state
        .session(reference)
        .filter(|s| context.is_none_or(|c| s.context_nip == c))
        .ok_or_else(|| no_session(reference))
}

/// The status of a session at `now`: code, description, details.
pub(crate) fn session_status(
    shared: &Shared,
    session: &Session,
    now: DateTime<Utc>,
) -> (i32, &'static str, Option<&'static str>) {
    if session.key.is_none() {
        return (415, "Błąd odszyfrowania dostarczonego klucza", None);
    }
    if let Some(batch) = &session.batch {
        return batch_status(shared, session, batch, now);
    }
    // A session past its validity is closed by the system at that moment.
    let Some(closed) = session
        .closed
        .or((now >= session.valid_until).then_some(session.valid_until))
    else {
        return (100, "Sesja interaktywna otwarta", None);
    };
    let close_delay = Duration::from_std(shared.config.session_close_delay).unwrap_or_default();
    if now < closed + close_delay || session.invoices.iter().any(|i| now < i.processed) {
        return (170, "Sesja interaktywna zamknięta", None);
    }
    let successful = session
        .invoices
        .iter()
        .filter(|i| matches!(i.outcome, InvoiceOutcome::Accepted(_)))
        .count();
    if session.invoices.is_empty() {
        (440, "Sesja anulowana", Some("Nie przesłano faktur"))
    } else if successful == 0 {
        (445, "Błąd weryfikacji, brak poprawnych faktur", None)
    } else {
        (200, "Sesja interaktywna przetworzona pomyślnie", None)
    }
}

/// The status of a batch session with a usable key at `now`.
fn batch_status(
    shared: &Shared,
    session: &Session,
    batch: &crate::state::BatchState,
    now: DateTime<Utc>,
) -> (i32, &'static str, Option<&'static str>) {
    let Some(closed) = session.closed else {
        if now >= session.valid_until {
            return (440, "Sesja anulowana", Some("Przekroczono czas wysyłki"));
        }
        return (100, "Sesja wsadowa rozpoczęta", None);
    };
    if let Some((code, description, details)) = batch.failure {
        return (code, description, details);
    }
    let close_delay = Duration::from_std(shared.config.session_close_delay).unwrap_or_default();
    if now < closed + close_delay || session.invoices.iter().any(|i| now < i.processed) {
        return (150, "Trwa przetwarzanie", None);
    }
    let successful = session
        .invoices
        .iter()
        .filter(|i| matches!(i.outcome, InvoiceOutcome::Accepted(_)))
        .count();
    if successful == 0 {
        (445, "Błąd weryfikacji, brak poprawnych faktur", None)
    } else {
        (200, "Sesja wsadowa przetworzona pomyślnie", None)
    }
}

pub(crate) fn counts(session: &Session, now: DateTime<Utc>) -> (i32, i32, i32) {
    let total = session.invoices.len();
    let done = session.invoices.iter().filter(|i| now >= i.processed);
    let (mut ok, mut failed) = (0usize, 0usize);
    for invoice in done {
        match invoice.outcome {
            InvoiceOutcome::Accepted(_) => ok += 1,
            InvoiceOutcome::Rejected { .. } => failed += 1,
        }
    }
    let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    (int(total), int(ok), int(failed))
}

/// Decrypts the session key of an open request: `Ok(None)` when it does not decrypt (the
/// session then opens in status 415); shared by online and batch sessions.
pub(crate) fn unwrap_session_key(
    shared: &Shared,
    encryption: &ksef_model::types::EncryptionInfo,
) -> Result<Option<ksef_crypto::SessionKey>, ApiError> {
    let certificate = shared
        .certificate(&PublicKeyCertificateUsage::SymmetricKeyEncryption)
        .ok_or_else(|| ApiError::internal("no symmetric-key certificate"))?;
    if let Some(id) = &encryption.public_key_id
        && *id != certificate.public_key_id
    {
        return Err(ApiError::bad_request(
            21470,
            "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.",
            format!("Klucz o identyfikatorze {id} nie jest wspierany."),
        ));
    }
    let wrapped = WrappedSessionKey::from_encryption_info(encryption)
        .map_err(|e| ApiError::validation(format!("Invalid encryption data: {e}.")))?;
    // A key that does not decrypt opens the session in status 415, as KSeF reports it.
    Ok(wrapped
        .unwrap_with(&shared.keys.symmetric_key_encryption)
        .ok())
}

/// A new session of the caller, opened at `req.now` (online when `batch` is `None`).
pub(crate) fn new_session(
    state: &State,
    req: &Req,
    reference: String,
    form: FormKind,
    key: Option<ksef_crypto::SessionKey>,
    valid_until: DateTime<Utc>,
    batch: Option<crate::state::BatchState>,
) -> Result<Session, ApiError> {
    let claims = req.caller()?;
    let token_reference = state
        .auth_ops
        .get(&claims.ref_)
        .and_then(|op| op.token_reference.clone());
    Ok(Session {
        reference,
        context_nip: claims.ctx.clone(),
        auth_reference: claims.ref_.clone(),
        token_reference,
        form,
        key,
        created: req.now,
        updated: req.now,
        valid_until,
        closed: None,
        upo_reference: new_reference(req.now, "UP")?.to_string(),
        link_signature: super::links::new_signature(),
        invoices: Vec::new(),
        batch,
        features: requested_features(req),
    })
}

/// The features of `X-KSeF-Feature` (API 2.9.0, described in the prose of the session opens):
/// accepted and recorded on the session; `subject-identifier-validation` is acted upon.
fn requested_features(req: &Req) -> Vec<String> {
    req.headers
        .get_all("x-ksef-feature")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}
