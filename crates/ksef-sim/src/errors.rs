//! KSeF-shaped error responses (the legacy `ExceptionResponse` and RFC 7807 Problem Details), and
//! the failure to start a simulator.

use chrono::Utc;
use ksef_model::types::{
    ApiError as ProblemError, BadRequestProblemDetails, BadRequestProblemDetailsParams,
    ExceptionDetails, ExceptionInfo, ExceptionResponse, ForbiddenProblemDetails,
    ForbiddenProblemDetailsParams, TooManyRequestsProblemDetails,
    TooManyRequestsProblemDetailsParams, TooManyRequestsResponse, TooManyRequestsResponseStatus,
    UnauthorizedProblemDetails,
};

/// An error answer of an operation.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: i32,
    pub(crate) description: String,
    pub(crate) details: Vec<String>,
    pub(crate) reason_code: Option<&'static str>,
    /// Seconds to wait (429 only), sent as `Retry-After`.
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    /// HTTP 400 with one KSeF exception code.
    pub(crate) fn bad_request(code: i32, description: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        ApiError {
            status: 400,
            code,
            description: description.to_owned(),
            details: if detail.is_empty() {
                Vec::new()
            } else {
                vec![detail]
            },
            reason_code: None,
            retry_after: None,
        }
    }

    /// 400 21405: input validation error.
    pub(crate) fn validation(detail: impl Into<String>) -> Self {
        Self::bad_request(21405, "Błąd walidacji danych wejściowych.", detail)
    }

    /// HTTP 401.
    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError {
            status: 401,
            code: 401,
            description: "Unauthorized".to_owned(),
            details: vec![detail.into()],
            reason_code: None,
            retry_after: None,
        }
    }

    /// HTTP 403 with a reason code.
    pub(crate) fn forbidden(reason_code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status: 403,
            code: 403,
            description: "Forbidden".to_owned(),
            details: vec![detail.into()],
            reason_code: Some(reason_code),
            retry_after: None,
        }
    }

    /// Any other status (404, 405, 413, 500, 501) with the legacy code field set to the status.
    pub(crate) fn other(status: u16, description: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code: i32::from(status),
            description: description.to_owned(),
            details: vec![detail.into()],
            reason_code: None,
            retry_after: None,
        }
    }

    /// HTTP 429: a request limit is exceeded.
    pub(crate) fn too_many_requests(retry_after: u64) -> Self {
        let mut error = Self::other(
            429,
            "Too Many Requests",
            format!("Przekroczono limit żądań. Spróbuj ponownie po {retry_after} sekundach."),
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// HTTP 501 for an operation the simulator recognises but does not simulate yet.
    pub(crate) fn not_simulated(operation_id: &str) -> Self {
        Self::other(
            501,
            "Operacja nie jest jeszcze symulowana.",
            format!("Operation `{operation_id}` is not yet simulated by ksef-sim."),
        )
    }

    /// HTTP 500 (a bug in the simulator).
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::other(500, "Nieznany błąd.", detail)
    }

    /// The body and content type of this error.
    pub(crate) fn render(
        &self,
        problem_details: bool,
        instance: &str,
        trace_id: &str,
    ) -> (&'static str, Vec<u8>) {
        let now = Utc::now().fixed_offset();
        let title = title(self.status);
        let detail = self
            .details
            .first()
            .cloned()
            .unwrap_or_else(|| self.description.clone());
        let json = match self.status {
            401 => {
                let mut body = UnauthorizedProblemDetails::new(title, 401, detail, now);
                body.instance = Some(instance.to_owned());
                body.trace_id = Some(trace_id.to_owned());
                serde_json::to_vec(&body)
            }
            403 => {
                let mut body = ForbiddenProblemDetails::new(ForbiddenProblemDetailsParams {
                    title: title.to_owned(),
                    status: 403,
                    detail: detail.clone(),
                    reason_code: self.reason_code.unwrap_or("missing-permissions").to_owned(),
                });
                body.timestamp = Some(now);
                body.instance = Some(instance.to_owned());
                body.trace_id = Some(trace_id.to_owned());
                serde_json::to_vec(&body)
            }
            429 if problem_details => serde_json::to_vec(&TooManyRequestsProblemDetails::new(
                TooManyRequestsProblemDetailsParams {
                    title: title.to_owned(),
                    status: 429,
                    instance: instance.to_owned(),
                    detail: detail.clone(),
                    timestamp: now,
                    trace_id: trace_id.to_owned(),
                },
            )),
            429 => serde_json::to_vec(&TooManyRequestsResponse::new(
                TooManyRequestsResponseStatus::new(
                    429,
                    self.description.clone(),
                    self.details.clone(),
                ),
            )),
            _ if problem_details => {
                let mut error = ProblemError::new(self.code, self.description.clone());
                error.details = Some(self.details.clone());
                let body = BadRequestProblemDetails::new(BadRequestProblemDetailsParams {
                    title: title.to_owned(),
                    status: i32::from(self.status),
                    instance: instance.to_owned(),
                    detail: detail.clone(),
                    errors: vec![error],
                    timestamp: now,
                    trace_id: trace_id.to_owned(),
                });
                serde_json::to_vec(&body)
            }
            _ => {
                let mut entry = ExceptionDetails::new();
                entry.exception_code = Some(self.code);
                entry.exception_description = Some(self.description.clone());
                entry.details = Some(self.details.clone());
                let mut info = ExceptionInfo::new();
                info.exception_detail_list = Some(vec![entry]);
                info.service_code = Some(trace_id.to_owned());
                info.service_ctx = Some("ksef-sim".to_owned());
                info.service_name = Some("ksef-sim".to_owned());
                info.timestamp = Some(now);
                let mut body = ExceptionResponse::new();
                body.exception = Some(info);
                serde_json::to_vec(&body)
            }
        };
        // Serializing these plain structs cannot fail; fall back to an empty object regardless.
        let json = json.unwrap_or_else(|_| b"{}".to_vec());
        let problem = problem_details || matches!(self.status, 401 | 403);
        (
            if problem {
                "application/problem+json"
            } else {
                "application/json"
            },
            json,
        )
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Failure to start the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Generating keys or certificates failed.
    #[error("cannot create the simulator's keys: {0}")]
    Keys(String),
    /// Binding the loopback listener failed.
    #[error("cannot listen on loopback")]
    Bind(#[source] std::io::Error),
    /// A seeded subject is not a valid NIP.
    #[error("invalid seeded subject NIP `{0}`")]
    InvalidSubject(String),
    /// The data directory holds a state file that cannot be read.
    #[error("cannot load the saved state: {0}")]
    Data(String),
}
