//! Sending invoices in an online session exactly once: encryption, the in-flight record, and
//! reconciliation by invoice hash after an unknown outcome.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ksef_model::operations::SendInvoice;
use ksef_model::types::{SendInvoiceRequest, SessionInvoiceStatusResponse};
use ksef_model::values::ReferenceNumber;

use super::{OnlineSession, SessionInner};
use crate::error::Error;

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
pub(super) enum Sent {
    InFlight,
    Done(ReferenceNumber),
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

impl OnlineSession {
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
    /// sending it: for callers that send through [`crate::Client::execute`] themselves and reconcile
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
}
