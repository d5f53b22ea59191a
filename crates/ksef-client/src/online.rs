//! Online (interactive) sessions: open, send invoices exactly once, close, wait, statuses, UPO.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset};
use ksef_crypto::SessionKey;
use ksef_model::operations::{
    CloseOnlineSession, GetInvoiceUpo, GetInvoiceUpoByKsefNumber, GetSessionInvoiceStatus,
    GetSessionStatus, GetSessionUpo, ListSessionInvoices, OpenOnlineSession, SendInvoice,
};
use ksef_model::types::{
    FormCode, OpenOnlineSessionRequest, SendInvoiceRequest, SessionInvoiceStatusResponse,
    SessionStatusResponse,
};
use ksef_model::values::{KsefNumber, ReferenceNumber};
use tokio::sync::Semaphore;

use crate::client::Client;
use crate::error::Error;

/// Form codes of the invoice schemas KSeF accepts, for [`Client::open_online_session`].
pub mod form_code {
    use ksef_model::types::FormCode;

    /// FA(3), the structured invoice in force since February 2026.
    pub fn fa3() -> FormCode {
        FormCode::new(ksef_model::types::FormCodeParams {
            system_code: "FA (3)".into(),
            schema_version: "1-0E".into(),
            value: "FA".into(),
        })
    }

    /// FA(2), the previous structured invoice (TEST only).
    pub fn fa2() -> FormCode {
        FormCode::new(ksef_model::types::FormCodeParams {
            system_code: "FA (2)".into(),
            schema_version: "1-0E".into(),
            value: "FA".into(),
        })
    }

    /// PEF(3), a Peppol invoice.
    pub fn pef3() -> FormCode {
        FormCode::new(ksef_model::types::FormCodeParams {
            system_code: "PEF (3)".into(),
            schema_version: "2-1".into(),
            value: "PEF".into(),
        })
    }

    /// PEF_KOR(3), a Peppol correction.
    pub fn pef_kor3() -> FormCode {
        FormCode::new(ksef_model::types::FormCodeParams {
            system_code: "PEF_KOR (3)".into(),
            schema_version: "2-1".into(),
            value: "PEF".into(),
        })
    }

    /// FA_RR(1), the VAT RR invoice for flat-rate farmers.
    pub fn fa_rr1() -> FormCode {
        FormCode::new(ksef_model::types::FormCodeParams {
            system_code: "FA_RR (1)".into(),
            schema_version: "1-1E".into(),
            value: "FA_RR".into(),
        })
    }
}

/// The page size used to read a session's invoice list (KSeF allows 10 to 1000).
const INVOICE_LIST_PAGE_SIZE: i32 = 1000;
/// How many times one invoice is sent at most when earlier sends provably did not arrive. Every
/// resend follows a reconciliation that found the invoice missing, so more attempts never risk a
/// duplicate; two were too few when a 5xx (which KSeF answers without processing) hit twice.
const MAX_SEND_ATTEMPTS: u32 = 5;
/// How many times the session's invoice list is read at most, during one reconciliation, when
/// reading it fails with what may be a passing problem (a network error, a timeout, a 5xx, a
/// 429), on top of the transport's own retries. Past that the outcome stays unknown
/// ([`Error::UnknownOutcome`]).
const MAX_RECONCILE_ATTEMPTS: u32 = 4;

/// How an invoice is sent in an online session: online (the default), in an offline mode, or as
/// the technical correction of a rejected offline invoice.
///
/// Offline invoices (`offlineMode: true`) were issued while KSeF was not used (the `offline24`,
/// `offline` and emergency modes; see [`crate::offline`]); KSeF records their invoicing mode as
/// offline. A technical correction resends an offline invoice that KSeF rejected for technical
/// reasons (schema, size, duplicate), fixed, naming the SHA-256 of the rejected file
/// (`hashOfCorrectedInvoice`); KSeF accepts one correction per original (21166 for a second one,
/// 21167 when the original's status does not allow one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    offline: bool,
    corrected_invoice_hash: Option<String>,
}

impl SendOptions {
    /// An ordinary online send.
    pub fn online() -> SendOptions {
        SendOptions::default()
    }

    /// An invoice issued in an offline mode (`offlineMode: true`).
    pub fn offline() -> SendOptions {
        SendOptions {
            offline: true,
            corrected_invoice_hash: None,
        }
    }

    /// The technical correction of the rejected offline invoice whose file had SHA-256
    /// `hash_of_corrected_invoice` (standard base64, as KSeF lists it in `invoiceHash`; see
    /// [`crate::offline::OfflineInvoice::hash`]). Implies offline mode.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] if the hash is not a base64 SHA-256.
    pub fn technical_correction(
        hash_of_corrected_invoice: impl Into<String>,
    ) -> Result<SendOptions, Error> {
        let hash = hash_of_corrected_invoice.into();
        crate::offline::check_invoice_hash(&hash)?;
        Ok(SendOptions {
            offline: true,
            corrected_invoice_hash: Some(hash),
        })
    }

    /// Whether the invoice is sent with `offlineMode: true`.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The `hashOfCorrectedInvoice` of a technical correction.
    pub fn corrected_invoice_hash(&self) -> Option<&str> {
        self.corrected_invoice_hash.as_deref()
    }
}

/// How an invoice reached the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Delivery {
    /// Sent once; KSeF acknowledged it.
    Sent,
    /// The outcome of the send was unknown; the invoice was found in the session's list.
    Reconciled,
    /// An earlier send provably did not arrive, and the invoice was sent again.
    Resent,
    /// This session had already sent the same bytes; nothing was sent.
    AlreadySent,
}

/// An invoice accepted for processing in an online session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentInvoice {
    /// The invoice's reference number in the session.
    pub reference_number: ReferenceNumber,
    /// SHA-256 (base64) of the plaintext, as KSeF lists it (`invoiceHash`).
    pub invoice_hash: String,
    /// How it got there.
    pub delivery: Delivery,
}

/// An invoice encrypted for a session and not yet sent (see [`OnlineSession::prepare`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreparedInvoice {
    /// The request that sends it.
    pub operation: SendInvoice,
    /// SHA-256 (base64) of the plaintext.
    pub invoice_hash: String,
}

/// What became of an invoice, from its status in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvoiceOutcome {
    /// Still being processed (100 or 150, or 200 without a KSeF number yet).
    Processing {
        /// The status code.
        code: i32,
    },
    /// Accepted: the invoice has a KSeF number.
    Accepted {
        /// The KSeF number.
        ksef_number: KsefNumber,
    },
    /// Rejected as a duplicate (440) of an invoice already in KSeF.
    Duplicate {
        /// The KSeF number of the original invoice, if the server gave it.
        original_ksef_number: Option<String>,
        /// The session the original was sent in, if the server gave it.
        original_session_reference_number: Option<String>,
    },
    /// Rejected for another reason (schema, semantics, permissions, decryption, …).
    Rejected {
        /// The status code.
        code: i32,
        /// The status description.
        description: String,
        /// Further details.
        details: Vec<String>,
    },
}

impl InvoiceOutcome {
    /// Classifies an invoice status.
    pub fn of(status: &SessionInvoiceStatusResponse) -> InvoiceOutcome {
        let info = &status.status;
        match info.code {
            100 | 150 => InvoiceOutcome::Processing { code: info.code },
            200 => match &status.ksef_number {
                Some(ksef_number) => InvoiceOutcome::Accepted {
                    ksef_number: ksef_number.clone(),
                },
                None => InvoiceOutcome::Processing { code: info.code },
            },
            440 => {
                let extension = |name: &str| {
                    info.extensions
                        .as_ref()
                        .and_then(|e| e.get(name).cloned().flatten())
                };
                InvoiceOutcome::Duplicate {
                    original_ksef_number: extension("originalKsefNumber"),
                    original_session_reference_number: extension("originalSessionReferenceNumber"),
                }
            }
            code => InvoiceOutcome::Rejected {
                code,
                description: info.description.clone(),
                details: info.details.clone().unwrap_or_default(),
            },
        }
    }

    /// Whether processing is over (accepted or rejected).
    pub fn is_final(&self) -> bool {
        !matches!(self, InvoiceOutcome::Processing { .. })
    }
}

/// What a failed send means for the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendFailure {
    /// The request certainly was not processed: it can be sent again.
    NotSent,
    /// KSeF refused it.
    Rejected,
    /// It may or may not have been processed.
    Unknown,
}

fn classify(error: &ksef_transport::Error) -> SendFailure {
    use ksef_transport::{Error as T, TimeoutPhase};
    match error {
        T::Api { status, .. } => match status {
            401 | 403 | 429 => SendFailure::NotSent,
            408 => SendFailure::Unknown,
            400..=499 => SendFailure::Rejected,
            _ => SendFailure::Unknown,
        },
        T::Timeout {
            phase: TimeoutPhase::Connect,
            ..
        }
        | T::Connect { .. }
        | T::Tls { .. }
        | T::RequestBody { .. }
        | T::InvalidRequest { .. }
        | T::InvalidUrl { .. }
        | T::InsecureUrl { .. }
        | T::MissingToken { .. }
        | T::RefreshFailed { .. }
        | T::RateLimitWaitTooLong { .. } => SendFailure::NotSent,
        // Timeouts of the attempt, broken connections, unreadable successful responses and
        // anything a newer transport adds: the request may have been processed.
        _ => SendFailure::Unknown,
    }
}

/// The bookkeeping of one hash in a session.
#[derive(Debug, Clone)]
enum Sent {
    InFlight,
    Done(ReferenceNumber),
}

struct SessionInner {
    client: Client,
    reference_number: ReferenceNumber,
    valid_until: DateTime<FixedOffset>,
    key: SessionKey,
    permits: Semaphore,
    sent: Mutex<HashMap<String, Sent>>,
}

/// An open online session. Cheap to clone; clones share the session key, the in-flight limit and
/// the record of what was sent, so invoices can be sent from several tasks at once.
///
/// # Exactly once
///
/// Sending an invoice is not idempotent, so the transport never repeats it. When a send ends
/// without a definite answer (a timeout while waiting for the response, a dropped connection, a
/// 5xx, a 2xx whose body is unreadable) the request may or may not have been processed. Before
/// anything is sent again, [`OnlineSession::send`] looks the invoice up by its hash (SHA-256 of
/// the plaintext, the `invoiceHash` KSeF stores) in the session's invoice list, for as long as
/// the client's reconcile setting allows:
///
/// - found: the send succeeded; its reference number is returned ([`Delivery::Reconciled`]);
/// - not found: it never arrived, and it is sent once more ([`Delivery::Resent`]);
/// - the list cannot be read: it is read again with backoff while the failure looks passing
///   (network errors, timeouts, 5xx, 429; a few reads at most), then
///   [`Error::UnknownOutcome`] with the invoice hash, and nothing is sent again; call
///   [`OnlineSession::send_reconciled`] with the same bytes later.
///
/// A definite refusal (a 4xx answer) is [`Error::InvoiceRejected`]; failures that certainly
/// happened before the request left (no connection, no token, a 429) are returned as they are and
/// the invoice can simply be sent again. The session also remembers what it sent: sending the
/// same bytes again returns the first reference number ([`Delivery::AlreadySent`]).
///
/// KSeF's own duplicate detection (same seller, invoice type and number, status 440) is reported
/// per invoice as [`InvoiceOutcome::Duplicate`].
#[derive(Clone)]
pub struct OnlineSession {
    inner: Arc<SessionInner>,
}

impl fmt::Debug for OnlineSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineSession")
            .field("reference_number", &self.inner.reference_number)
            .field("valid_until", &self.inner.valid_until)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Removes an in-flight mark if the send future is dropped before it finished.
struct InFlightGuard<'a> {
    session: &'a SessionInner,
    hash: String,
    armed: bool,
}

impl InFlightGuard<'_> {
    fn finish(mut self, reference_number: Option<ReferenceNumber>) {
        let mut sent = self.session.sent.lock().unwrap_or_else(|e| e.into_inner());
        match reference_number {
            Some(reference_number) => sent.insert(self.hash.clone(), Sent::Done(reference_number)),
            None => sent.remove(&self.hash),
        };
        self.armed = false;
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.session
                .sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.hash);
        }
    }
}

/// `X-KSeF-Feature: subject-identifier-validation` (API 2.9.0): KSeF checks the NIP and internal
/// identifier check digits of the parties named on each invoice of the session.
pub const FEATURE_SUBJECT_IDENTIFIER_VALIDATION: &str = "subject-identifier-validation";

/// How [`Client::open_online_session_with`] opens a session.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OnlineSessionOptions {
    /// Features asked for with the `X-KSeF-Feature` header (e.g.
    /// [`FEATURE_SUBJECT_IDENTIFIER_VALIDATION`]); none by default.
    pub features: Vec<String>,
}

impl OnlineSessionOptions {
    /// No features.
    pub fn new() -> Self {
        OnlineSessionOptions::default()
    }

    /// Asks for `feature` (sent in `X-KSeF-Feature`; several are comma-separated).
    pub fn with_feature(mut self, feature: impl Into<String>) -> Self {
        self.features.push(feature.into());
        self
    }
}

/// The `X-KSeF-Feature` value for `features`, if any.
pub(crate) fn feature_header(features: &[String]) -> Option<String> {
    (!features.is_empty()).then(|| features.join(","))
}

impl Client {
    /// Opens an online session for invoices of `form_code` (see [`form_code`]): generates the
    /// AES-256 session key, wraps it for the Ministry's `SymmetricKeyEncryption` certificate
    /// (cached per client, fetched again if KSeF reports 21470) and opens the session.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`], [`Error::Crypto`].
    pub async fn open_online_session(&self, form_code: FormCode) -> Result<OnlineSession, Error> {
        self.open_online_session_with(form_code, &OnlineSessionOptions::new())
            .await
    }

    /// [`Client::open_online_session`] with options, e.g. an `X-KSeF-Feature`.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`], [`Error::Crypto`].
    pub async fn open_online_session_with(
        &self,
        form_code: FormCode,
        options: &OnlineSessionOptions,
    ) -> Result<OnlineSession, Error> {
        let key = SessionKey::generate()?;
        let feature = feature_header(&options.features);
        let opened = self
            .send_with_wrapped_key(&key, |encryption| {
                let request = OpenOnlineSessionRequest::new(form_code.clone(), encryption);
                let mut op = OpenOnlineSession::new(request);
                if let Some(feature) = &feature {
                    op = op.with_ksef_feature(feature.clone());
                }
                async move { self.execute(&op).await }
            })
            .await?;
        Ok(OnlineSession {
            inner: Arc::new(SessionInner {
                client: self.clone(),
                reference_number: opened.reference_number,
                valid_until: opened.valid_until,
                key,
                permits: Semaphore::new(self.inner.max_sends_in_flight),
                sent: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl OnlineSession {
    /// The session's reference number.
    pub fn reference_number(&self) -> &ReferenceNumber {
        &self.inner.reference_number
    }

    /// When KSeF closes the session on its own (12 hours after opening).
    pub fn valid_until(&self) -> DateTime<FixedOffset> {
        self.inner.valid_until
    }

    /// SHA-256 (base64) of `invoice`: the `invoiceHash` KSeF will list it under.
    pub fn invoice_hash(invoice: &[u8]) -> String {
        ksef_crypto::file_metadata(invoice).sha256_base64()
    }

    /// Encrypts and sends one invoice (the XML bytes), exactly once: see the
    /// [type docs](OnlineSession#exactly-once). At most the configured number of sends are in flight per session;
    /// further calls wait for a slot.
    ///
    /// # Errors
    ///
    /// [`Error::InvoiceRejected`] for a definite refusal, [`Error::UnknownOutcome`] if the
    /// outcome could not be settled, [`Error::AlreadyInFlight`] if the same bytes are being sent
    /// by another task, [`Error::Transport`] for failures before the request left.
    pub async fn send(&self, invoice: &[u8]) -> Result<SentInvoice, Error> {
        self.deliver(invoice, false, &SendOptions::online()).await
    }

    /// Like [`OnlineSession::send`], with `options`: an offline invoice or a technical
    /// correction ([`SendOptions`]). Delivery is exactly once in the same way.
    ///
    /// # Errors
    ///
    /// As [`OnlineSession::send`]; a refused technical correction is [`Error::InvoiceRejected`]
    /// with KSeF's code (21166, 21167).
    pub async fn send_with(
        &self,
        invoice: &[u8],
        options: &SendOptions,
    ) -> Result<SentInvoice, Error> {
        self.deliver(invoice, false, options).await
    }

    /// Like [`OnlineSession::send`], but first looks the invoice up in the session's invoice
    /// list and sends it only if it is not there: for invoices that may have been sent before
    /// (after [`Error::UnknownOutcome`], or by an earlier run of your program).
    ///
    /// # Errors
    ///
    /// As [`OnlineSession::send`].
    pub async fn send_reconciled(&self, invoice: &[u8]) -> Result<SentInvoice, Error> {
        self.deliver(invoice, true, &SendOptions::online()).await
    }

    /// [`OnlineSession::send_reconciled`] with `options` (see [`OnlineSession::send_with`]).
    ///
    /// # Errors
    ///
    /// As [`OnlineSession::send_with`].
    pub async fn send_reconciled_with(
        &self,
        invoice: &[u8],
        options: &SendOptions,
    ) -> Result<SentInvoice, Error> {
        self.deliver(invoice, true, options).await
    }

    /// Encrypts `invoice` with the session key into a ready [`SendInvoice`] request, without
    /// sending it: for callers that send through [`Client::execute`] themselves and reconcile
    /// with [`OnlineSession::reconcile`] or [`OnlineSession::send_reconciled`].
    pub fn prepare(&self, invoice: &[u8]) -> PreparedInvoice {
        self.prepare_with(invoice, &SendOptions::online())
    }

    /// [`OnlineSession::prepare`] with `options` (offline mode, technical correction).
    pub fn prepare_with(&self, invoice: &[u8], options: &SendOptions) -> PreparedInvoice {
        let (ciphertext, metadata) = self.inner.key.encrypt_to_vec(invoice);
        let invoice_hash = metadata.plaintext.sha256_base64();
        let mut request = SendInvoiceRequest::new(
            invoice_hash.as_str(),
            size_i64(metadata.plaintext.size),
            metadata.ciphertext.sha256_base64(),
            size_i64(metadata.ciphertext.size),
            STANDARD.encode(&ciphertext),
        );
        if options.offline {
            request = request.with_offline_mode(true);
        }
        if let Some(hash) = &options.corrected_invoice_hash {
            request = request.with_hash_of_corrected_invoice(hash.as_str());
        }
        PreparedInvoice {
            operation: SendInvoice::new(self.inner.reference_number.clone(), request),
            invoice_hash,
        }
    }

    async fn deliver(
        &self,
        invoice: &[u8],
        check_first: bool,
        options: &SendOptions,
    ) -> Result<SentInvoice, Error> {
        let session = &*self.inner;
        let PreparedInvoice {
            operation,
            invoice_hash: hash,
        } = self.prepare_with(invoice, options);
        {
            let mut sent = session.sent.lock().unwrap_or_else(|e| e.into_inner());
            match sent.get(&hash) {
                Some(Sent::Done(reference_number)) => {
                    return Ok(SentInvoice {
                        reference_number: reference_number.clone(),
                        invoice_hash: hash,
                        delivery: Delivery::AlreadySent,
                    });
                }
                Some(Sent::InFlight) => return Err(Error::AlreadyInFlight { invoice_hash: hash }),
                None => {
                    sent.insert(hash.clone(), Sent::InFlight);
                }
            }
        }
        let guard = InFlightGuard {
            session,
            hash: hash.clone(),
            armed: true,
        };
        let result = self.deliver_request(&hash, operation, check_first).await;
        guard.finish(result.as_ref().ok().map(|s| s.reference_number.clone()));
        result
    }

    async fn deliver_request(
        &self,
        hash: &str,
        operation: SendInvoice,
        check_first: bool,
    ) -> Result<SentInvoice, Error> {
        let found = |status: SessionInvoiceStatusResponse| SentInvoice {
            reference_number: status.reference_number,
            invoice_hash: hash.to_owned(),
            delivery: Delivery::Reconciled,
        };
        if check_first && let Some(status) = self.find_with_grace(hash).await? {
            return Ok(found(status));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome =
                {
                    // The semaphore is never closed, so acquiring only waits.
                    let _permit = self.inner.permits.acquire().await.map_err(|_| {
                        Error::UnexpectedResponse {
                            reason: "the session's send limiter was closed".to_owned(),
                        }
                    })?;
                    self.inner.client.transport().execute(&operation).await
                };
            let error = match outcome {
                Ok(response) => {
                    return Ok(SentInvoice {
                        reference_number: response.into_value().reference_number,
                        invoice_hash: hash.to_owned(),
                        delivery: if attempt == 1 {
                            Delivery::Sent
                        } else {
                            Delivery::Resent
                        },
                    });
                }
                Err(error) => error,
            };
            match classify(&error) {
                SendFailure::NotSent => return Err(error.into()),
                SendFailure::Rejected => {
                    let status = error.status().unwrap_or_default();
                    return Err(match error {
                        ksef_transport::Error::Api { error, .. } => Error::InvoiceRejected {
                            invoice_hash: hash.to_owned(),
                            status,
                            error,
                        },
                        other => other.into(),
                    });
                }
                SendFailure::Unknown => {
                    tracing::warn!(%error, invoice_hash = hash, "unknown send outcome; reconciling");
                    match self.find_with_grace(hash).await {
                        Ok(Some(status)) => return Ok(found(status)),
                        Ok(None) if attempt < MAX_SEND_ATTEMPTS => {
                            tracing::info!(
                                invoice_hash = hash,
                                "invoice did not arrive; resending"
                            );
                        }
                        Ok(None) => {
                            return Err(Error::UnknownOutcome {
                                invoice_hash: hash.to_owned(),
                                source: Box::new(error.into()),
                            });
                        }
                        Err(reconcile_error) => {
                            return Err(Error::UnknownOutcome {
                                invoice_hash: hash.to_owned(),
                                source: Box::new(reconcile_error),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Looks for `invoice_hash` in the session's invoice list, polling per the client's reconcile
    /// setting while it is absent. A read of the list that fails with a passing problem is tried
    /// again with backoff, up to [`MAX_RECONCILE_ATTEMPTS`] reads in all; the last failure is
    /// returned (the caller turns it into [`Error::UnknownOutcome`]).
    async fn find_with_grace(
        &self,
        invoice_hash: &str,
    ) -> Result<Option<SessionInvoiceStatusResponse>, Error> {
        let config = self.inner.client.inner.reconcile;
        let mut backoff = config.start();
        let mut failures = 0;
        loop {
            match self.reconcile(invoice_hash).await {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {
                    if !backoff.wait().await {
                        return Ok(None);
                    }
                }
                Err(error) if failures + 1 < MAX_RECONCILE_ATTEMPTS && is_passing(&error) => {
                    failures += 1;
                    tracing::warn!(
                        %error,
                        invoice_hash,
                        attempt = failures,
                        "reading the session's invoice list failed; trying again"
                    );
                    tokio::time::sleep(config.pause(failures)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Looks up an invoice by its hash (see [`OnlineSession::invoice_hash`]) in the session's
    /// invoice list, once, reading every page.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn reconcile(
        &self,
        invoice_hash: &str,
    ) -> Result<Option<SessionInvoiceStatusResponse>, Error> {
        Ok(self
            .invoices()
            .await?
            .into_iter()
            .find(|i| i.invoice_hash.as_str() == invoice_hash))
    }

    /// Every invoice of the session with its status, reading all pages of
    /// `GET /sessions/{ref}/invoices`.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn invoices(&self) -> Result<Vec<SessionInvoiceStatusResponse>, Error> {
        let mut all = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let mut operation = ListSessionInvoices::new(self.inner.reference_number.clone())
                .with_page_size(INVOICE_LIST_PAGE_SIZE);
            if let Some(token) = continuation.take() {
                operation = operation.with_continuation_token(token);
            }
            let page = self.inner.client.execute(&operation).await?;
            all.extend(page.invoices);
            match page.continuation_token {
                Some(token) if !token.is_empty() => continuation = Some(token),
                _ => return Ok(all),
            }
        }
    }

    /// Closes the session; KSeF then finishes processing and generates the session UPO.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn close(&self) -> Result<(), Error> {
        self.inner
            .client
            .execute(&CloseOnlineSession::new(
                self.inner.reference_number.clone(),
            ))
            .await
    }

    /// The session's current status.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn status(&self) -> Result<SessionStatusResponse, Error> {
        self.inner
            .client
            .execute(&GetSessionStatus::new(self.inner.reference_number.clone()))
            .await
    }

    /// After [`OnlineSession::close`]: polls the session status with backoff until processing
    /// is over (status 200) and returns it.
    ///
    /// # Errors
    ///
    /// [`Error::SessionFailed`] for a failure status (415, 440, 445, …), [`Error::PollTimeout`],
    /// [`Error::Transport`].
    pub async fn wait_until_processed(&self) -> Result<SessionStatusResponse, Error> {
        let mut backoff = self.inner.client.inner.poll.start();
        loop {
            let status = self.status().await?;
            match status.status.code {
                // 100 open (the close may not be visible yet), 150 processing, 170 closed with
                // the UPO being generated.
                100 | 150 | 170 => {}
                200 => return Ok(status),
                code => {
                    return Err(Error::SessionFailed {
                        reference_number: self.inner.reference_number.clone(),
                        code,
                        description: status.status.description,
                        details: status.status.details.unwrap_or_default(),
                    });
                }
            }
            backoff
                .wait_or_time_out(|| format!("session {}", self.inner.reference_number))
                .await?;
        }
    }

    /// The status of one invoice of the session.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn invoice_status(
        &self,
        invoice_reference_number: &ReferenceNumber,
    ) -> Result<SessionInvoiceStatusResponse, Error> {
        self.inner
            .client
            .execute(&GetSessionInvoiceStatus::new(
                self.inner.reference_number.clone(),
                invoice_reference_number.clone(),
            ))
            .await
    }

    /// Polls an invoice's status with backoff until processing is over, and classifies it.
    ///
    /// # Errors
    ///
    /// [`Error::PollTimeout`], [`Error::Transport`].
    pub async fn wait_for_invoice(
        &self,
        invoice_reference_number: &ReferenceNumber,
    ) -> Result<(InvoiceOutcome, SessionInvoiceStatusResponse), Error> {
        let mut backoff = self.inner.client.inner.poll.start();
        loop {
            let status = self.invoice_status(invoice_reference_number).await?;
            let outcome = InvoiceOutcome::of(&status);
            if outcome.is_final() {
                return Ok((outcome, status));
            }
            backoff
                .wait_or_time_out(|| format!("invoice {invoice_reference_number}"))
                .await?;
        }
    }

    /// The UPO (XML) of one invoice, by its reference number in the session.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] (e.g. 21178 while the UPO does not exist yet).
    pub async fn invoice_upo(
        &self,
        invoice_reference_number: &ReferenceNumber,
    ) -> Result<Vec<u8>, Error> {
        self.inner
            .client
            .execute(&GetInvoiceUpo::new(
                self.inner.reference_number.clone(),
                invoice_reference_number.clone(),
            ))
            .await
    }

    /// The UPO (XML) of one invoice, by its KSeF number.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`].
    pub async fn invoice_upo_by_ksef_number(
        &self,
        ksef_number: &KsefNumber,
    ) -> Result<Vec<u8>, Error> {
        self.inner
            .client
            .execute(&GetInvoiceUpoByKsefNumber::new(
                self.inner.reference_number.clone(),
                ksef_number.clone(),
            ))
            .await
    }

    /// The session UPO (XML), one document per page (each page covers up to 10 000 invoices).
    /// Call it after [`OnlineSession::wait_until_processed`].
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedResponse`] if the status lists no UPO, [`Error::Transport`].
    pub async fn session_upo(&self) -> Result<Vec<Vec<u8>>, Error> {
        let status = self.status().await?;
        let pages = status
            .upo
            .map(|u| u.pages)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::UnexpectedResponse {
                reason: format!(
                    "session {} lists no UPO (status {})",
                    self.inner.reference_number, status.status.code
                ),
            })?;
        let mut documents = Vec::with_capacity(pages.len());
        for page in pages {
            documents.push(
                self.inner
                    .client
                    .execute(&GetSessionUpo::new(
                        self.inner.reference_number.clone(),
                        page.reference_number,
                    ))
                    .await?,
            );
        }
        Ok(documents)
    }
}

/// Whether a failed read may succeed when tried again: a network failure, a timeout, an
/// unreadable answer, 408, 429 or a 5xx. Definite refusals (401, 403, other 4xx) and local
/// mistakes (a bad URL, no token) are not.
fn is_passing(error: &Error) -> bool {
    use ksef_transport::Error as T;
    let Error::Transport { source } = error else {
        return false;
    };
    match source.status() {
        Some(status) => status == 408 || status == 429 || status >= 500,
        None => !matches!(
            source,
            T::InvalidUrl { .. }
                | T::InsecureUrl { .. }
                | T::InvalidRequest { .. }
                | T::RequestBody { .. }
                | T::MissingToken { .. }
        ),
    }
}

/// Sizes are at most a few MB; a `u64` above `i64::MAX` cannot come from a slice in memory.
fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    fn api(status: u16) -> ksef_transport::Error {
        ksef_transport::Error::Api {
            status,
            error: Box::new(ksef_transport::ApiError::from_parts(
                status,
                &http::HeaderMap::new(),
                b"",
            )),
        }
    }

    #[test]
    fn classifies_send_failures() {
        assert_eq!(classify(&api(400)), SendFailure::Rejected);
        assert_eq!(classify(&api(413)), SendFailure::Rejected);
        assert_eq!(classify(&api(429)), SendFailure::NotSent);
        assert_eq!(classify(&api(401)), SendFailure::NotSent);
        assert_eq!(classify(&api(500)), SendFailure::Unknown);
        assert_eq!(classify(&api(503)), SendFailure::Unknown);
        assert_eq!(classify(&api(408)), SendFailure::Unknown);
        let total = ksef_transport::Error::Timeout {
            phase: ksef_transport::TimeoutPhase::Total,
            after: Duration::from_secs(1),
        };
        assert_eq!(classify(&total), SendFailure::Unknown);
        let connect = ksef_transport::Error::Timeout {
            phase: ksef_transport::TimeoutPhase::Connect,
            after: Duration::from_secs(1),
        };
        assert_eq!(classify(&connect), SendFailure::NotSent);
        let missing = ksef_transport::Error::MissingToken {
            kind: ksef_transport::TokenKind::Access,
        };
        assert_eq!(classify(&missing), SendFailure::NotSent);
    }

    #[test]
    fn only_passing_failures_are_read_again() {
        assert!(is_passing(&Error::from(api(503))));
        assert!(is_passing(&Error::from(api(500))));
        assert!(is_passing(&Error::from(api(429))));
        assert!(is_passing(&Error::from(api(408))));
        assert!(!is_passing(&Error::from(api(400))));
        assert!(!is_passing(&Error::from(api(401))));
        assert!(!is_passing(&Error::from(api(403))));
        let timeout = ksef_transport::Error::Timeout {
            phase: ksef_transport::TimeoutPhase::Total,
            after: Duration::from_secs(1),
        };
        assert!(is_passing(&Error::from(timeout)));
        let missing = ksef_transport::Error::MissingToken {
            kind: ksef_transport::TokenKind::Access,
        };
        assert!(!is_passing(&Error::from(missing)));
        assert!(!is_passing(&Error::UnexpectedResponse {
            reason: "x".to_owned()
        }));
    }

    fn status(
        code: i32,
        ksef: Option<&str>,
        ext: Option<BTreeMap<String, Option<String>>>,
    ) -> SessionInvoiceStatusResponse {
        let mut value = serde_json::json!({
            "ordinalNumber": 1,
            "referenceNumber": "20250625-EE-319D7EE000-B67F415CDC-2C",
            "invoiceHash": "KjH0TaS9fey70939GjeuBNAuxmXiwmiIFszGVjFYbtE=",
            "invoicingDate": "2025-06-25T10:00:00+02:00",
            "status": {"code": code, "description": "d", "details": ["x"]},
        });
        if let Some(k) = ksef {
            value["ksefNumber"] = serde_json::Value::from(k);
        }
        if let Some(ext) = ext {
            value["status"]["extensions"] = serde_json::to_value(ext).unwrap();
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn classifies_invoice_outcomes() {
        assert_eq!(
            InvoiceOutcome::of(&status(150, None, None)),
            InvoiceOutcome::Processing { code: 150 }
        );
        assert!(!InvoiceOutcome::of(&status(200, None, None)).is_final());
        let ext: BTreeMap<String, Option<String>> = [
            ("originalKsefNumber".to_owned(), Some("K".to_owned())),
            (
                "originalSessionReferenceNumber".to_owned(),
                Some("S".to_owned()),
            ),
        ]
        .into();
        assert_eq!(
            InvoiceOutcome::of(&status(440, None, Some(ext))),
            InvoiceOutcome::Duplicate {
                original_ksef_number: Some("K".to_owned()),
                original_session_reference_number: Some("S".to_owned()),
            }
        );
        assert!(matches!(
            InvoiceOutcome::of(&status(450, None, None)),
            InvoiceOutcome::Rejected { code: 450, .. }
        ));
    }

    #[test]
    fn form_codes_match_the_spec() {
        let fa3 = form_code::fa3();
        assert_eq!(
            (
                fa3.system_code.as_str(),
                fa3.schema_version.as_str(),
                fa3.value.as_str()
            ),
            ("FA (3)", "1-0E", "FA")
        );
    }
}
