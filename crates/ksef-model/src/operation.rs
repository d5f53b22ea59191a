//! The sans-IO description of an API operation: everything a transport needs to execute it.

use std::fmt;

/// An HTTP method used by the KSeF API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which bearer token, if any, an operation is called with.
///
/// KSeF uses three different JWTs: the authentication token (only to poll the authentication status
/// and to redeem it), the refresh token (only to refresh) and the access token (everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Auth {
    /// No `Authorization` header.
    None,
    /// `Bearer <accessToken>`.
    AccessToken,
    /// `Bearer <authenticationToken>`, returned when an authentication is started.
    AuthenticationToken,
    /// `Bearer <refreshToken>`.
    RefreshToken,
}

/// The rate-limit groups, generated from the spec (see [`crate::operations`]).
pub use crate::generated::operations::RateLimitGroup;

/// The production request limits of an operation, from the spec's `x-rate-limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RateLimit {
    /// The group whose counters the operation uses.
    pub group: RateLimitGroup,
    /// Requests per second.
    pub per_second: u32,
    /// Requests per minute, where limited.
    pub per_minute: Option<u32>,
    /// Requests per hour, where limited.
    pub per_hour: Option<u32>,
}

impl RateLimit {
    /// A limit as the spec states it.
    pub const fn new(
        group: RateLimitGroup,
        per_second: u32,
        per_minute: Option<u32>,
        per_hour: Option<u32>,
    ) -> Self {
        RateLimit {
            group,
            per_second,
            per_minute,
            per_hour,
        }
    }
}

/// The kind of body an operation sends or receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentKind {
    /// No body.
    Empty,
    /// `application/json`.
    Json,
    /// `application/xml`.
    Xml,
}

impl ContentKind {
    /// The media type, if there is a body.
    pub const fn media_type(self) -> Option<&'static str> {
        match self {
            ContentKind::Empty => None,
            ContentKind::Json => Some("application/json"),
            ContentKind::Xml => Some("application/xml"),
        }
    }
}

/// A request body, already serialized.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Vec<u8>),
    /// An XML document.
    Xml(Vec<u8>),
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> ContentKind {
        match self {
            Body::Empty => ContentKind::Empty,
            Body::Json(_) => ContentKind::Json,
            Body::Xml(_) => ContentKind::Xml,
        }
    }

    /// The bytes to send (empty for [`Body::Empty`]).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Json(bytes) | Body::Xml(bytes) => bytes,
        }
    }
}

/// Bodies may carry secrets (encrypted tokens, signed documents): print only their kind and size.
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Body::{:?}({} bytes)",
            self.kind(),
            self.as_bytes().len()
        )
    }
}

/// A response body could not be turned into the operation's response type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The JSON body does not match the response schema.
    #[error("the {operation} response body does not match its schema")]
    Json {
        /// The operation's name, e.g. `auth.challenge`.
        operation: &'static str,
        /// What serde reported, with the line and column.
        #[source]
        source: serde_json::Error,
    },
}

/// A request body could not be serialized.
#[derive(Debug, thiserror::Error)]
#[error("the {operation} request body could not be serialized")]
pub struct RequestError {
    /// The operation's name.
    pub operation: &'static str,
    /// What serde reported.
    #[source]
    pub source: serde_json::Error,
}

/// The static facts of one operation, as the spec states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationInfo {
    /// Our name for the operation, e.g. `sessions.online.open` (the spec has no operation ids).
    pub id: &'static str,
    /// The descriptor type's name in [`crate::operations`].
    pub type_name: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path below the API base URL, with `{name}` placeholders, e.g. `/sessions/{referenceNumber}`.
    pub path_template: &'static str,
    /// The bearer token the operation needs.
    pub auth: Auth,
    /// Production request limits.
    pub rate_limit: RateLimit,
    /// The status code of a successful response.
    pub success_status: u16,
    /// The media type of the request body.
    pub request_content: ContentKind,
    /// The media type of a successful response.
    pub response_content: ContentKind,
    /// The status codes the spec documents as errors.
    pub error_statuses: &'static [u16],
    /// Permissions of which the caller needs at least one (empty when the spec names none).
    pub required_permissions: &'static [&'static str],
    /// Whether sending the same request twice has the effect of sending it once, so a transport may
    /// retry it after an unknown outcome: GET and DELETE, and the POSTs that only query.
    pub idempotent: bool,
    /// Request headers the spec describes only in the operation's prose, not as parameters (e.g.
    /// `X-KSeF-Feature` on session open); the descriptor has an optional field for each, listed in
    /// `openapi/operations.toml`, and sends it from [`Operation::headers`].
    pub prose_headers: &'static [&'static str],
}

impl OperationInfo {
    /// Facts for an operation of your own (e.g. a test double or an endpoint a newer spec added):
    /// no bearer token, the `Other` rate-limit group at 10/s, 30/min, 120/h, `200` with a JSON
    /// response and no request body, idempotent for `GET` and `DELETE`. Adjust with the `with_…`
    /// methods, which are `const` so the result can be an associated constant.
    pub const fn new(id: &'static str, method: Method, path_template: &'static str) -> Self {
        OperationInfo {
            id,
            type_name: id,
            method,
            path_template,
            auth: Auth::None,
            rate_limit: RateLimit::new(RateLimitGroup::Other, 10, Some(30), Some(120)),
            success_status: 200,
            request_content: ContentKind::Empty,
            response_content: ContentKind::Json,
            error_statuses: &[],
            required_permissions: &[],
            idempotent: matches!(method, Method::Get | Method::Delete),
            prose_headers: &[],
        }
    }

    /// Sets the bearer token kind.
    pub const fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the rate limit.
    pub const fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets the success status.
    pub const fn with_success_status(mut self, status: u16) -> Self {
        self.success_status = status;
        self
    }

    /// Sets the request and response media types.
    pub const fn with_content(mut self, request: ContentKind, response: ContentKind) -> Self {
        self.request_content = request;
        self.response_content = response;
        self
    }

    /// Sets whether a transport may repeat the request.
    pub const fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sets the documented error statuses.
    pub const fn with_error_statuses(mut self, statuses: &'static [u16]) -> Self {
        self.error_statuses = statuses;
        self
    }

    /// Sets the required permissions.
    pub const fn with_required_permissions(mut self, permissions: &'static [&'static str]) -> Self {
        self.required_permissions = permissions;
        self
    }

    /// Sets the headers described only in prose.
    pub const fn with_prose_headers(mut self, headers: &'static [&'static str]) -> Self {
        self.prose_headers = headers;
        self
    }
}

/// One KSeF API operation, described as data.
///
/// A value of an implementing type is one request: its path parameters, query parameters, headers
/// and body. [`Operation::INFO`] describes the operation itself; the other constants are shortcuts
/// into it. Executing a request is the job of a transport (`ksef-transport`, or any HTTP stack of
/// your own).
pub trait Operation {
    /// What a successful response deserializes into: a generated type, `Vec<u8>` for XML documents,
    /// or `()` when the response has no body.
    type Response;

    /// The static facts of the operation.
    const INFO: OperationInfo;
    /// Our name for the operation, e.g. `sessions.online.open`.
    const ID: &'static str = Self::INFO.id;
    /// The HTTP method.
    const METHOD: Method = Self::INFO.method;
    /// The path template, e.g. `/sessions/{referenceNumber}`.
    const PATH_TEMPLATE: &'static str = Self::INFO.path_template;
    /// The bearer token the operation needs.
    const AUTH: Auth = Self::INFO.auth;
    /// Production request limits.
    const RATE_LIMIT: RateLimit = Self::INFO.rate_limit;
    /// The status code of a successful response.
    const SUCCESS_STATUS: u16 = Self::INFO.success_status;
    /// The media type of a successful response.
    const RESPONSE_CONTENT: ContentKind = Self::INFO.response_content;
    /// Whether a transport may repeat the request after an unknown outcome.
    const IDEMPOTENT: bool = Self::INFO.idempotent;

    /// The path with the parameters filled in and percent-encoded.
    fn path(&self) -> String;

    /// Query parameters, unencoded, in a stable order; a repeated name is a list.
    fn query(&self) -> Vec<(&'static str, String)>;

    /// Request headers the operation defines (e.g. `x-continuation-token`).
    fn headers(&self) -> Vec<(&'static str, String)>;

    /// The serialized request body.
    fn body(&self) -> Result<Body, RequestError>;

    /// Parses the body of a response whose status is [`Operation::SUCCESS_STATUS`].
    fn parse_response(body: &[u8]) -> Result<Self::Response, ResponseError>;

    /// The path followed by the percent-encoded query string, if any.
    fn path_and_query(&self) -> String {
        let mut out = self.path();
        let query = self.query();
        for (i, (name, value)) in query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            encode_into(&mut out, name);
            out.push('=');
            encode_into(&mut out, value);
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes one path segment.
pub(crate) fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    encode_into(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_info_can_be_built_in_const_context() {
        const INFO: OperationInfo = OperationInfo::new("custom.op", Method::Post, "/custom")
            .with_auth(Auth::AccessToken)
            .with_content(ContentKind::Json, ContentKind::Empty)
            .with_success_status(204);
        let info = INFO;
        assert_eq!(info.type_name, "custom.op");
        assert_eq!(info.auth, Auth::AccessToken);
        assert!(!info.idempotent, "a POST is not idempotent by default");
        assert!(OperationInfo::new("g", Method::Get, "/g").idempotent);
        assert_eq!(info.success_status, 204);
    }

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode_path_segment("a b/c+d"), "a%20b%2Fc%2Bd");
        assert_eq!(
            encode_path_segment("20250626-SO-2F14610000-242991F8C9-B4"),
            "20250626-SO-2F14610000-242991F8C9-B4"
        );
        assert_eq!(encode_path_segment("zażółć"), "za%C5%BC%C3%B3%C5%82%C4%87");
    }
}
