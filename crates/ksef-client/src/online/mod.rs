//! Online (interactive) sessions: open, send invoices exactly once, close, wait, statuses, UPO.

mod duplicate;
mod send;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};
use ksef_crypto::SessionKey;
use ksef_model::operations::{
    CloseOnlineSession, GetInvoiceUpo, GetInvoiceUpoByKsefNumber, GetSessionInvoiceStatus,
    GetSessionStatus, GetSessionUpo, ListSessionInvoices, ListSessions, OpenOnlineSession,
};
use ksef_model::types::{
    CommonSessionStatus, FormCode, OpenOnlineSessionRequest, SessionInvoiceStatusResponse,
    SessionStatusResponse, SessionType,
};
use ksef_model::values::{KsefNumber, ReferenceNumber};
use tokio::sync::Semaphore;

use crate::client::Client;
use crate::error::Error;

use self::send::Sent;
pub use self::send::{Delivery, PreparedInvoice, SendOptions, SentInvoice};

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
    /// Refused as a duplicate (440), and the original was found (see
    /// [`Client::resolve_duplicate`]): the invoice is in KSeF under the original's number, which
    /// is what sending it meant to achieve.
    AlreadyInKsef {
        /// The original invoice's KSeF number.
        ksef_number: KsefNumber,
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
/// per invoice as [`InvoiceOutcome::Duplicate`]; [`Client::resolve_duplicate`] finds the
/// original's KSeF number ([`InvoiceOutcome::AlreadyInKsef`]).
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
    /// (cached per client, fetched again if KSeF reports 21470) and opens the session. An open
    /// whose answer is lost (a reset, a cut-off answer, a 5xx) is checked against the list of
    /// open sessions and sent again, at most the client's `ceremony_attempts` times.
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
        let mut attempt = 1;
        let opened = loop {
            let started = Utc::now().fixed_offset();
            let result = self
                .send_with_wrapped_key(&key, |encryption| {
                    let request = OpenOnlineSessionRequest::new(form_code.clone(), encryption);
                    let mut op = OpenOnlineSession::new(request);
                    if let Some(feature) = &feature {
                        op = op.with_ksef_feature(feature.clone());
                    }
                    async move { self.execute(&op).await }
                })
                .await;
            match result {
                Err(error) if error.outcome_unknown() && attempt < self.inner.ceremony_attempts => {
                    self.note_unanswered_open(started, &error).await;
                    attempt += 1;
                }
                result => break result?,
            }
        };
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

impl Client {
    /// After an open whose answer was lost: lists the online sessions still open that were
    /// created since the request started. One of them may be the session the lost answer named;
    /// nothing tells which: a listed session carries its reference number, status, dates and
    /// invoice counts, but neither its key nor the authentication that opened it, and the list
    /// covers every session of the context, so another process (or task) logged in to the same
    /// context may have opened one in the same second. Closing a candidate could end that
    /// process's session under it, so none is adopted and none is closed: they are reported
    /// (with their reference numbers, for `ksef session status`), and KSeF closes an unused
    /// session on its own when it expires. The open is then repeated with the same key.
    async fn note_unanswered_open(&self, started: DateTime<FixedOffset>, error: &Error) {
        let since = started - chrono::Duration::seconds(OPEN_CLOCK_SLACK_SECONDS);
        let listing = self
            .execute(
                &ListSessions::new(SessionType::Online)
                    .with_date_created_from(since)
                    .with_statuses(vec![CommonSessionStatus::InProgress]),
            )
            .await;
        match listing {
            Ok(listing) => {
                let candidates: Vec<String> = listing
                    .sessions
                    .iter()
                    .map(|s| s.reference_number.to_string())
                    .collect();
                tracing::warn!(
                    error = %error,
                    sessions = ?candidates,
                    "opening an online session got no answer; opening again (a session the lost \
                     answer named stays unused and KSeF closes it when it expires)"
                );
            }
            Err(list_error) => tracing::warn!(
                error = %error,
                list_error = %list_error,
                "opening an online session got no answer and the open sessions could not be \
                 listed; opening again"
            ),
        }
    }
}

/// How far before the start of a lost open the session list is searched (clock differences).
const OPEN_CLOCK_SLACK_SECONDS: i64 = 5;

impl OnlineSession {
    /// The session's reference number.
    pub fn reference_number(&self) -> &ReferenceNumber {
        &self.inner.reference_number
    }

    /// When KSeF closes the session on its own (12 hours after opening).
    pub fn valid_until(&self) -> DateTime<FixedOffset> {
        self.inner.valid_until
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
    /// A close whose outcome is unknown (a reset, a cut-off answer, a 5xx) is repeated only while
    /// the session's status shows it still open (100); once the status shows it closing or
    /// closed, the close is done. At most the client's `ceremony_attempts` closes are sent.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`]: the last close failure when the attempts are used up, or a
    /// definite refusal.
    pub async fn close(&self) -> Result<(), Error> {
        let client = &self.inner.client;
        let mut attempt = 1;
        loop {
            let error = match client
                .execute(&CloseOnlineSession::new(
                    self.inner.reference_number.clone(),
                ))
                .await
            {
                Ok(()) => return Ok(()),
                Err(error) if error.outcome_unknown() => error,
                Err(error) => {
                    // A close repeated after a lost answer may meet a session already closing.
                    if attempt > 1 && self.closed_already().await {
                        return Ok(());
                    }
                    return Err(error);
                }
            };
            if self.closed_already().await {
                tracing::info!(
                    session = %self.inner.reference_number,
                    "the close got no answer, but the session is closed"
                );
                return Ok(());
            }
            if attempt >= client.inner.ceremony_attempts {
                return Err(error);
            }
            tracing::info!(
                session = %self.inner.reference_number,
                attempt,
                error = %error,
                "the close got no answer and the session is still open; closing again"
            );
            attempt += 1;
        }
    }

    /// Whether the session's status shows it closed or closing (anything but 100, open). A
    /// status that cannot be read counts as still open.
    async fn closed_already(&self) -> bool {
        match self.status().await {
            Ok(status) => status.status.code != 100,
            Err(error) => {
                tracing::info!(
                    session = %self.inner.reference_number,
                    error = %error,
                    "the session's status could not be read after a failed close"
                );
                false
            }
        }
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
            let what = || format!("session {}", self.inner.reference_number);
            let Some(status) = backoff.read(what, self.status().await).await? else {
                continue;
            };
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
            let read = self.invoice_status(invoice_reference_number).await;
            let what = || format!("invoice {invoice_reference_number}");
            let Some(status) = backoff.read(what, read).await? else {
                continue;
            };
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

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
