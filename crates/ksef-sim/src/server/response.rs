//! Body and error responses: reading request bodies, and turning a handler's reply or error into
//! an HTTP response (JSON, XML, binary with `x-ms-meta-hash`; errors as KSeF's legacy body or
//! problem details).

use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};

use crate::api::common::{Reply, random_hex};
use crate::errors::ApiError;
use crate::faults::SimBody;

/// The largest request body accepted (a 3 MB invoice, base64-encoded and encrypted, fits).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Whether the client asked for errors as problem details (`X-Error-Format: problem-details`).
pub(super) fn wants_problem_details(headers: &hyper::HeaderMap) -> bool {
    headers
        .get("x-error-format")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("problem-details"))
}

/// Reads a request body of at most [`MAX_BODY`] bytes; `what` names it in the error.
pub(super) async fn read_body(body: Incoming, what: &str) -> Result<bytes::Bytes, ApiError> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|_| ApiError::validation(format!("The {what} is too large or could not be read.")))
}

/// The answer to a handled request: its reply, or its error in the format the client chose.
pub(super) fn respond(
    result: Result<Reply, ApiError>,
    problem: bool,
    path: &str,
) -> Response<SimBody> {
    match result {
        Ok(reply) => reply_response(reply),
        Err(err) => error_response(&err, problem, path),
    }
}

fn reply_response(reply: Reply) -> Response<SimBody> {
    let (status, content_type, body, hash) = match reply {
        Reply::Json(status, body) => (status, Some("application/json"), body, None),
        Reply::Xml(body) => {
            let hash = ksef_crypto::file_metadata(&body).sha256_base64();
            (200, Some("application/xml"), body, Some(hash))
        }
        Reply::Binary(body) => {
            let hash = ksef_crypto::file_metadata(&body).sha256_base64();
            (200, Some("application/octet-stream"), body, Some(hash))
        }
        Reply::Empty(status) => (status, None, Vec::new(), None),
    };
    let mut response = Response::new(SimBody::full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(hash) = hash.and_then(|h| HeaderValue::from_str(&h).ok()) {
        response.headers_mut().insert("x-ms-meta-hash", hash);
    }
    response
}

pub(super) fn error_response(err: &ApiError, problem: bool, instance: &str) -> Response<SimBody> {
    let trace_id = random_hex(16).to_lowercase();
    let (content_type, body) = err.render(problem, instance, &trace_id);
    let mut response = Response::new(SimBody::full(body));
    *response.status_mut() =
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(seconds) = err.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
