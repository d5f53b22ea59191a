//! The one error type of this crate.

use std::time::Duration;

use ksef_model::values::ReferenceNumber;
use ksef_transport::ApiError;

/// A boxed lower-level error (an I/O error of a token store), reachable only through
/// [`std::error::Error::source`].
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a client call.
///
/// Match on the variant to decide what to do; causes are reachable through
/// [`std::error::Error::source`] and are not repeated in the `Display` text. KSeF API failures
/// (HTTP 4xx/5xx) are [`Error::Transport`] wrapping [`ksef_transport::Error::Api`]; use
/// [`Error::api`] and [`Error::status`] to reach the status and the KSeF error codes directly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request failed in the transport: an API error status, a timeout, a network failure, a
    /// malformed response.
    #[error("the KSeF request failed")]
    Transport {
        /// What the transport reported.
        #[source]
        source: ksef_transport::Error,
    },
    /// Local cryptography failed (no suitable Ministry certificate, an unusable key).
    #[error("a cryptographic step failed")]
    Crypto {
        /// What `ksef-crypto` reported.
        #[source]
        source: ksef_crypto::Error,
    },
    /// Building, signing or checking a XAdES-signed `AuthTokenRequest` failed locally (an
    /// unusable key, a broken signature, a signed request for another challenge, a context a
    /// signed request cannot carry). Nothing was sent to KSeF.
    #[error("the XAdES authentication request failed locally")]
    Xades {
        /// What `ksef-xades` reported.
        #[source]
        source: ksef_xades::Error,
    },
    /// KSeF finished an authentication with a status other than 200 (e.g. 415 no permissions,
    /// 450 bad token, 460 certificate error).
    #[error("authentication {reference_number} failed with status {code}: {description}")]
    AuthenticationFailed {
        /// The authentication's reference number.
        reference_number: ReferenceNumber,
        /// The KSeF status code.
        code: i32,
        /// The status description.
        description: String,
        /// Further details the server gave.
        details: Vec<String>,
    },
    /// An online or batch session ended in a failure status (e.g. 415 key decryption error,
    /// 440 cancelled, 445 no valid invoices).
    #[error("session {reference_number} ended with status {code}: {description}")]
    SessionFailed {
        /// The session's reference number.
        reference_number: ReferenceNumber,
        /// The KSeF status code.
        code: i32,
        /// The status description.
        description: String,
        /// Further details the server gave.
        details: Vec<String>,
    },
    /// KSeF definitely refused an invoice when it was sent (a 4xx answer to the send request):
    /// it was not accepted, and sending the same bytes again will fail the same way.
    #[error("the invoice {invoice_hash} was rejected: HTTP {status}")]
    InvoiceRejected {
        /// SHA-256 (base64) of the invoice's plaintext.
        invoice_hash: String,
        /// The HTTP status.
        status: u16,
        /// What the server said.
        error: Box<ApiError>,
    },
    /// A send's outcome is unknown (the request may or may not have been processed) and the
    /// session's invoice list could not be checked to find out. Nothing was sent again; call
    /// `OnlineSession::send_reconciled` with the same bytes later to settle it.
    #[error("the outcome of sending invoice {invoice_hash} is unknown and could not be reconciled")]
    UnknownOutcome {
        /// SHA-256 (base64) of the invoice's plaintext.
        invoice_hash: String,
        /// Why the reconciliation failed (or, when it found nothing too often, the last send
        /// failure).
        #[source]
        source: Box<Error>,
    },
    /// The same invoice (by plaintext hash) is already being sent in this session by another
    /// task.
    #[error("invoice {invoice_hash} is already being sent in this session")]
    AlreadyInFlight {
        /// SHA-256 (base64) of the invoice's plaintext.
        invoice_hash: String,
    },
    /// A login step ended with an unknown outcome (a reset or a cut-off answer after KSeF may
    /// have processed it, a 5xx) and the login cannot start again by itself: its request was
    /// signed elsewhere for one challenge (`Client::login_with_signed_request`), or the
    /// authentication was started by the caller (`Client::complete_authentication`). Nothing is
    /// left to clean up: an unredeemed authentication expires. Fetch a new challenge
    /// (`Client::unsigned_auth_request`), sign the new request and log in again.
    #[error(
        "the login was interrupted and cannot be repeated with the same signed request: fetch a \
         new challenge, sign the new request and log in again"
    )]
    LoginNotRepeatable {
        /// The failure of the interrupted step.
        #[source]
        source: Box<Error>,
    },
    /// Polling did not reach a final status in time.
    #[error("{what} did not finish within {after:?}")]
    PollTimeout {
        /// What was polled, e.g. `authentication 20250625-AU-…`.
        what: String,
        /// How long the client waited.
        after: Duration,
    },
    /// A token store could not read or write its tokens.
    #[error("the token store failed: {reason}")]
    TokenStore {
        /// What failed.
        reason: String,
        /// The underlying I/O or format error.
        #[source]
        source: Option<BoxError>,
    },
    /// An invoice export ended with a failure status.
    #[error("export {reference_number} ended with status {code}: {description}")]
    ExportFailed {
        /// The export's reference number.
        reference_number: ReferenceNumber,
        /// KSeF's status code (e.g. 415: the key could not be decrypted; 420: the range starts
        /// after the high-water mark).
        code: i32,
        /// KSeF's description.
        description: String,
        /// KSeF's details.
        details: Vec<String>,
    },
    /// Another process (or another lock in this one) holds the lock on a directory that takes
    /// one writer at a time (see [`crate::files::DirectoryLock`]): e.g. a second `invoice sync`
    /// into the directory another one is writing. Nothing was written.
    #[error("{} is in use by {holder}; wait for it to finish (or stop it) and run again", .dir.display())]
    DirectoryBusy {
        /// The directory.
        dir: std::path::PathBuf,
        /// Who holds the lock, as its lock file says (what, process id, since when).
        holder: String,
    },
    /// A checkpoint store or an invoice sink could not read or write.
    #[error("storage failed: {reason}")]
    Storage {
        /// What failed, naming the file where there is one.
        reason: String,
        /// The underlying I/O or format error.
        #[source]
        source: Option<BoxError>,
    },
    /// A request was refused locally before anything was sent: `field` (the spec's name of the
    /// JSON property, or of the builder's argument) breaks a rule the spec or KSeF's
    /// documentation states.
    #[error("invalid {field}: {reason}")]
    InvalidRequest {
        /// The field that was wrong, e.g. `permissions` or `description`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// More collective identifier numbers than one invoices query may name (KSeF allows at most
    /// `max`, 10); nothing was sent.
    #[error("{count} collective identifier numbers given, at most {max} per query")]
    TooManyCollectiveIdentifiers {
        /// How many numbers were given.
        count: usize,
        /// The most one query may name.
        max: usize,
    },
    /// A certificate enrollment ended with a failure status (e.g. 400 rejected, 500 unknown
    /// error, 550 cancelled).
    #[error("certificate enrollment {reference_number} failed with status {code}: {description}")]
    CertificateEnrollmentFailed {
        /// The enrollment's reference number.
        reference_number: ReferenceNumber,
        /// The KSeF status code.
        code: i32,
        /// The status description.
        description: String,
        /// Further details the server gave.
        details: Vec<String>,
    },
    /// No Lighthouse (KSeF status service) is known for this environment (DEMO): give its URL
    /// with `LighthouseBuilder::url`.
    #[error("no Lighthouse URL is known for the {environment:?} environment; give one explicitly")]
    NoLighthouse {
        /// The environment asked for.
        environment: ksef_transport::Environment,
    },
    /// An invoice file lacks what an offline helper needs (e.g. the seller's NIP or the issue
    /// date `P_1` for a QR link), or is not an FA invoice at all.
    #[error("the invoice cannot be used: {reason}")]
    InvalidInvoice {
        /// What is missing or wrong, naming the element.
        reason: String,
    },
    /// A part of a batch could not be uploaded: refused with a 4xx (final, not retried), or
    /// failed every attempt. The batch session was then closed, so that KSeF ends it (in a failure
    /// status: a part is missing) instead of leaving it open; when closing failed as well,
    /// `close_error` says why and the session stays open until KSeF cancels it at the end of its
    /// upload time.
    #[error(
        "part {part} of batch session {reference_number} could not be uploaded; {}",
        if close_error.is_none() {
            "the session was closed"
        } else {
            "closing the session failed too: it stays open until KSeF cancels it"
        }
    )]
    BatchUploadFailed {
        /// The batch session's reference number.
        reference_number: ReferenceNumber,
        /// The ordinal number of the part (the first that failed).
        part: i32,
        /// Why the upload failed.
        #[source]
        source: Box<Error>,
        /// Why closing the session afterwards failed, if it did.
        close_error: Option<Box<Error>>,
    },
    /// The server answered with something the client cannot use (e.g. a UPO listed without
    /// pages).
    #[error("unexpected server response: {reason}")]
    UnexpectedResponse {
        /// What was unexpected.
        reason: String,
    },
}

impl Error {
    /// The KSeF API error details, if the server answered with an error status (through the
    /// transport, or a definite invoice rejection).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Transport { source } => source.api(),
            Error::InvoiceRejected { error, .. } => Some(error),
            Error::UnknownOutcome { source, .. } => source.api(),
            Error::BatchUploadFailed { source, .. } => source.api(),
            Error::LoginNotRepeatable { source } => source.api(),
            _ => None,
        }
    }

    /// The HTTP status of an API error, if there is one.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    /// Whether the server reported KSeF error code `code` (e.g. `21470`).
    pub fn has_code(&self, code: i64) -> bool {
        self.api().is_some_and(|e| e.has_code(code))
    }

    /// The transport error, if this is [`Error::Transport`].
    pub fn transport(&self) -> Option<&ksef_transport::Error> {
        match self {
            Error::Transport { source } => Some(source),
            _ => None,
        }
    }

    /// Whether the call may or may not have been processed, or was refused by a server error
    /// (5xx, 408, a lost, cut-off or unreadable answer): a call that is safe to repeat is then
    /// worth repeating (batch open and close, sync's export start).
    pub(crate) fn outcome_unknown(&self) -> bool {
        use ksef_transport::Error as T;
        match self.transport() {
            Some(T::Api { status, .. }) => *status >= 500 || *status == 408,
            Some(
                T::Network { .. }
                | T::TruncatedBody { .. }
                | T::Timeout { .. }
                | T::EmptyBody { .. }
                | T::MalformedBody { .. },
            ) => true,
            _ => false,
        }
    }

    pub(crate) fn storage(reason: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Storage {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn token_store(reason: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::TokenStore {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }
}

impl From<ksef_transport::Error> for Error {
    fn from(source: ksef_transport::Error) -> Self {
        Error::Transport { source }
    }
}

/// A [`ksef_transport::TokenStore`] failure keeps its reason and cause.
impl From<ksef_transport::TokenStoreError> for Error {
    fn from(error: ksef_transport::TokenStoreError) -> Self {
        let ksef_transport::TokenStoreError { reason, source, .. } = error;
        Error::TokenStore { reason, source }
    }
}

impl From<ksef_xades::Error> for Error {
    fn from(source: ksef_xades::Error) -> Self {
        Error::Xades { source }
    }
}

impl From<ksef_crypto::Error> for Error {
    fn from(source: ksef_crypto::Error) -> Self {
        Error::Crypto { source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_is_reachable_through_transport() {
        let api = ApiError::from_parts(
            400,
            &http::HeaderMap::new(),
            br#"{"exception":{"exceptionDetailList":[{"exceptionCode":21470,"exceptionDescription":"bad key"}],"serviceCode":"x"}}"#,
        );
        let error = Error::from(ksef_transport::Error::Api {
            status: 400,
            error: Box::new(api),
        });
        assert_eq!(error.status(), Some(400));
        assert!(error.has_code(21470));
        assert!(!error.has_code(21405));
        let source = std::error::Error::source(&error).expect("has a source");
        assert!(source.to_string().contains("400"));
    }
}
