//! The one error type of this crate, and KSeF's two error body formats.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, header};
use ksef_model::{RateLimitGroup, RequestError, ResponseError};
use serde::Deserialize;

use crate::token::TokenKind;

/// A boxed error from a lower layer (hyper, rustls, the OS), reachable through
/// [`std::error::Error::source`] only, so those crates stay out of our public API.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while executing a KSeF request.
///
/// Match on the variant to decide what to do; the cause, where there is one, is available through
/// [`std::error::Error::source`] and is not repeated in the `Display` text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The KSeF API answered with an error status (4xx or 5xx, or an unexpected status).
    #[error("the KSeF API answered HTTP {status}: {error}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// What the error body and headers said.
        error: Box<ApiError>,
    },
    /// A timeout elapsed.
    #[error("the {phase} timeout of {after:?} elapsed")]
    Timeout {
        /// Which timeout it was.
        phase: TimeoutPhase,
        /// The configured duration.
        after: Duration,
    },
    /// No connection could be made (DNS, TCP, proxy tunnel).
    #[error("could not connect to the server")]
    Connect {
        /// The underlying cause.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed (for example an untrusted certificate or a host name mismatch).
    #[error("the TLS handshake failed")]
    Tls {
        /// The underlying cause.
        #[source]
        source: BoxError,
    },
    /// The connection failed while the request was being sent or the response head read; the
    /// request may or may not have reached the server.
    #[error("the connection failed during the request")]
    Network {
        /// The underlying cause.
        #[source]
        source: BoxError,
    },
    /// The connection failed or was closed before the whole response body arrived.
    #[error("the response body was cut short")]
    TruncatedBody {
        /// The underlying cause.
        #[source]
        source: BoxError,
    },
    /// The response body is larger than the configured maximum.
    #[error("the response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// A successful response that should have had a body had none.
    #[error("the {operation} response has an empty body")]
    EmptyBody {
        /// The operation's id.
        operation: &'static str,
    },
    /// A successful response came with a media type the operation does not produce.
    #[error("the {operation} response has content type {found:?}, expected {expected}")]
    UnexpectedContentType {
        /// The operation's id.
        operation: &'static str,
        /// The media type expected.
        expected: &'static str,
        /// The `Content-Type` received, if any.
        found: Option<String>,
    },
    /// A successful response body could not be parsed into the operation's response type.
    #[error("the {operation} response body could not be parsed")]
    MalformedBody {
        /// The operation's id.
        operation: &'static str,
        /// What the parser reported.
        #[source]
        source: ResponseError,
    },
    /// The operation's request body could not be serialized.
    #[error("the {operation} request body could not be built")]
    RequestBody {
        /// The operation's id.
        operation: &'static str,
        /// What the serializer reported.
        #[source]
        source: RequestError,
    },
    /// The request could not be built (an invalid header name or value, an invalid path).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What was wrong.
        reason: String,
    },
    /// A URL is not valid for this transport.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, without its query string.
        url: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A plain `http://` URL to a host that is not a loopback address was refused (see
    /// `TransportBuilder::danger_allow_insecure_http`).
    #[error("refusing plain http:// to a non-loopback host: {url:?}")]
    InsecureUrl {
        /// The URL, without its query string.
        url: String,
    },
    /// The operation needs a bearer token that the token source does not have.
    #[error("no {kind} token is available")]
    MissingToken {
        /// The token that was needed.
        kind: TokenKind,
    },
    /// Refreshing the access token failed; the request was not retried.
    #[error("refreshing the access token failed")]
    RefreshFailed {
        /// Why the refresh call failed (shared by every request that waited for it).
        #[source]
        source: Arc<Error>,
    },
    /// Waiting for rate-limit capacity would take longer than the configured maximum, so the
    /// request was not sent.
    #[error("rate-limit group {} needs a wait of {wait:?}, more than allowed", group.as_str())]
    RateLimitWaitTooLong {
        /// The rate-limit group.
        group: RateLimitGroup,
        /// How long the request would have had to wait.
        wait: Duration,
    },
}

impl Error {
    /// The API error details, if this is [`Error::Api`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status of an API error, if this is [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Which timeout elapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Establishing the connection (TCP, proxy tunnel and TLS handshake).
    Connect,
    /// One attempt of a request: sending it and reading the whole response.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Total => "total",
        })
    }
}

/// Which of KSeF's error body formats a response used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorFormat {
    /// The legacy `{"exception": {...}}` body (`ExceptionResponse`).
    Exception,
    /// The legacy 429 body `{"status": {"code", "description", "details"}}`.
    Status,
    /// RFC 7807 problem details (`application/problem+json`).
    ProblemDetails,
    /// No body, or a body in no known format (for example an HTML page from a proxy).
    Unrecognized,
}

/// One KSeF error code with its description, from either error format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorCode {
    /// The numeric KSeF code (`exceptionCode` or `errors[].code`), e.g. `21405`.
    pub code: i64,
    /// The general description of the code.
    pub description: Option<String>,
    /// Specific messages about this occurrence.
    pub details: Vec<String>,
}

/// What the KSeF API said about a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The body format.
    pub format: ErrorFormat,
    /// The problem title (problem details) or the status description (legacy 429).
    pub title: Option<String>,
    /// The general problem description.
    pub detail: Option<String>,
    /// The KSeF error codes, in the order the server gave them.
    pub codes: Vec<ErrorCode>,
    /// The reason code of a 403 (`missing-permissions`, `ip-not-allowed`, ...).
    pub reason_code: Option<String>,
    /// The `security` object of a 403, as compact JSON text.
    pub security: Option<String>,
    /// The reference number the error is about, when the server names one.
    pub reference_number: Option<String>,
    /// The legacy `serviceCode` (a W3C trace context string).
    pub service_code: Option<String>,
    /// The trace id (`traceId`, or the trace part of the legacy `serviceCode`).
    pub trace_id: Option<String>,
    /// The problem instance URI.
    pub instance: Option<String>,
    /// When the error happened, as the server wrote it.
    pub timestamp: Option<String>,
    /// How long to wait before trying again, from the `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Whether any of the error codes equals `code`.
    pub fn has_code(&self, code: i64) -> bool {
        self.codes.iter().any(|c| c.code == code)
    }

    /// Parses an error response: status, headers and body. Never fails: a body in no known
    /// format gives [`ErrorFormat::Unrecognized`] with only the status and headers filled in.
    pub fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
        let mut error = ApiError {
            status,
            format: ErrorFormat::Unrecognized,
            title: None,
            detail: None,
            codes: Vec::new(),
            reason_code: None,
            security: None,
            reference_number: None,
            service_code: None,
            trace_id: None,
            instance: None,
            timestamp: None,
            retry_after: headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
        };
        if let Ok(wire) = serde_json::from_slice::<WireError>(body) {
            wire.fill(&mut error);
        }
        error
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        for code in &self.codes {
            if wrote {
                f.write_str("; ")?;
            }
            write!(f, "[{}]", code.code)?;
            if let Some(description) = &code.description {
                write!(f, " {description}")?;
            }
            if !code.details.is_empty() {
                write!(f, " ({})", code.details.join(" "))?;
            }
            wrote = true;
        }
        if !wrote {
            match (&self.title, &self.detail) {
                (Some(title), Some(detail)) => write!(f, "{title}: {detail}")?,
                (Some(text), None) | (None, Some(text)) => f.write_str(text)?,
                (None, None) => f.write_str("no error details")?,
            }
        }
        if let Some(reason) = &self.reason_code {
            write!(f, " (reason {reason})")?;
        }
        Ok(())
    }
}

/// Builds [`Error::Api`] from a complete error response.
pub(crate) fn api_error(response: &http::Response<Bytes>) -> Error {
    let status = response.status().as_u16();
    Error::Api {
        status,
        error: Box::new(ApiError::from_parts(
            status,
            response.headers(),
            response.body(),
        )),
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (relative to `now`; a date in the
/// past gives zero).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The union of every KSeF error body shape; every field optional so that any of them parses.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireError {
    exception: Option<WireException>,
    status: Option<WireStatus>,
    title: Option<String>,
    detail: Option<String>,
    instance: Option<String>,
    errors: Option<Vec<WireProblemError>>,
    reason_code: Option<String>,
    security: Option<serde_json::Value>,
    trace_id: Option<String>,
    timestamp: Option<serde_json::Value>,
    reference_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireException {
    exception_detail_list: Option<Vec<WireExceptionDetail>>,
    reference_number: Option<String>,
    service_code: Option<String>,
    timestamp: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireExceptionDetail {
    exception_code: Option<i64>,
    exception_description: Option<String>,
    details: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireStatus {
    Code(#[allow(dead_code)] i64),
    Legacy {
        #[allow(dead_code)] // the HTTP status is taken from the response line
        code: Option<i64>,
        description: Option<String>,
        details: Option<Vec<String>>,
    },
}

#[derive(Deserialize)]
struct WireProblemError {
    code: Option<i64>,
    description: Option<String>,
    details: Option<Vec<String>>,
}

fn timestamp_text(value: Option<serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The trace id inside a W3C `traceparent`-shaped string (`00-<trace>-<span>-<flags>`).
fn trace_id_of_service_code(service_code: &str) -> Option<String> {
    let mut parts = service_code.split('-');
    let (_version, trace, _span, _flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit())).then(|| trace.to_owned())
}

impl WireError {
    fn fill(self, error: &mut ApiError) {
        if let Some(exception) = self.exception {
            error.format = ErrorFormat::Exception;
            error.codes = exception
                .exception_detail_list
                .unwrap_or_default()
                .into_iter()
                .map(|d| ErrorCode {
                    code: d.exception_code.unwrap_or_default(),
                    description: d.exception_description,
                    details: d.details.unwrap_or_default(),
                })
                .collect();
            error.trace_id = exception
                .service_code
                .as_deref()
                .and_then(trace_id_of_service_code);
            error.reference_number = exception.reference_number;
            error.service_code = exception.service_code;
            error.timestamp = timestamp_text(exception.timestamp);
            return;
        }
        match self.status {
            Some(WireStatus::Legacy {
                description,
                details,
                ..
            }) => {
                error.format = ErrorFormat::Status;
                error.title = description;
                let details = details.unwrap_or_default();
                if !details.is_empty() {
                    error.detail = Some(details.join(" "));
                }
                return;
            }
            Some(WireStatus::Code(_)) => error.format = ErrorFormat::ProblemDetails,
            None if self.title.is_some() || self.detail.is_some() => {
                error.format = ErrorFormat::ProblemDetails;
            }
            None => return,
        }
        error.title = self.title;
        error.detail = self.detail;
        error.instance = self.instance;
        error.codes = self
            .errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| ErrorCode {
                code: e.code.unwrap_or_default(),
                description: e.description,
                details: e.details.unwrap_or_default(),
            })
            .collect();
        error.reason_code = self.reason_code;
        error.security = self
            .security
            .filter(|v| !v.is_null())
            .map(|v| v.to_string());
        error.trace_id = self.trace_id;
        error.timestamp = timestamp_text(self.timestamp);
        error.reference_number = self.reference_number;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> ApiError {
        ApiError::from_parts(status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn legacy_exception() {
        let e = parse(
            400,
            r#"{"exception":{"exceptionDetailList":[{"exceptionCode":21405,"exceptionDescription":"Błąd walidacji danych wejściowych.","details":["bad form code"]},{"exceptionCode":21157,"exceptionDescription":"x"}],"referenceNumber":"20250626-SO-2F14610000-242991F8C9-B4","serviceCode":"00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00","serviceCtx":"srvABCDA","serviceName":"Undefined","timestamp":"2025-10-11T12:23:56.0154302"}}"#,
        );
        assert_eq!(e.format, ErrorFormat::Exception);
        assert_eq!(e.codes.len(), 2);
        assert!(e.has_code(21405) && e.has_code(21157));
        assert_eq!(e.codes[0].details, vec!["bad form code".to_owned()]);
        assert_eq!(
            e.reference_number.as_deref(),
            Some("20250626-SO-2F14610000-242991F8C9-B4")
        );
        assert_eq!(
            e.trace_id.as_deref(),
            Some("c02cc3747020c605be02159bf3324f0e")
        );
        assert!(e.to_string().starts_with("[21405] Błąd"));
    }

    #[test]
    fn problem_details_variants() {
        let e = parse(
            400,
            r#"{"title":"Bad Request","status":400,"instance":"/v2/x","detail":"bad","errors":[{"code":21405,"description":"d","details":["a","b"]}],"timestamp":"2025-07-11T12:23:56+00:00","traceId":"abc"}"#,
        );
        assert_eq!(e.format, ErrorFormat::ProblemDetails);
        assert_eq!(e.codes[0].code, 21405);
        assert_eq!(e.codes[0].details.len(), 2);
        assert_eq!(e.trace_id.as_deref(), Some("abc"));

        let e = parse(
            403,
            r#"{"title":"Forbidden","status":403,"detail":"no","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceRead"],"presentPermissions":[]},"timestamp":"2025-07-11T12:23:56+00:00"}"#,
        );
        assert_eq!(e.reason_code.as_deref(), Some("missing-permissions"));
        assert!(e.security.as_deref().unwrap().contains("InvoiceRead"));

        let e = parse(
            410,
            r#"{"title":"Gone","status":410,"instance":"/i","detail":"gone","timestamp":"t","traceId":"t1"}"#,
        );
        assert_eq!(e.format, ErrorFormat::ProblemDetails);
        assert_eq!(e.detail.as_deref(), Some("gone"));
    }

    #[test]
    fn legacy_429_and_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "30".parse().unwrap());
        let e = ApiError::from_parts(
            429,
            &headers,
            br#"{"status":{"code":429,"description":"Too Many Requests","details":["try again after 30 seconds."]}}"#,
        );
        assert_eq!(e.format, ErrorFormat::Status);
        assert_eq!(e.title.as_deref(), Some("Too Many Requests"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn unrecognized_bodies() {
        assert_eq!(parse(502, "<html>").format, ErrorFormat::Unrecognized);
        assert_eq!(parse(500, "").format, ErrorFormat::Unrecognized);
        assert_eq!(parse(500, "{}").format, ErrorFormat::Unrecognized);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06T08:49:37Z
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
