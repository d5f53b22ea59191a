//! What the layers need to know about a request, carried in its `http::Extensions`.

use ksef_model::{Auth, Operation, RateLimit};

/// The description of a request that the middleware acts on, stored in the request's
/// extensions.
///
/// [`crate::Transport`] attaches it to every request. When you use the layers on their own,
/// insert one yourself (`request.extensions_mut().insert(RequestMeta::of::<MyOp>())`); a request
/// without it passes through every layer untouched, except that it gets no bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestMeta {
    /// The operation's id, e.g. `sessions.online.open`.
    pub operation_id: &'static str,
    /// The path template, e.g. `/sessions/{referenceNumber}` (logged instead of the real path).
    pub path_template: &'static str,
    /// The bearer token to send.
    pub auth: Auth,
    /// The rate limit to apply, if any.
    pub rate_limit: Option<RateLimit>,
    /// Whether the request may be sent again after an unknown outcome.
    pub idempotent: bool,
    /// Whether the request goes to a presigned URL (batch part upload, UPO or export part
    /// download): an absolute URL outside the API, never with a bearer token, not rate limited.
    pub presigned: bool,
}

impl RequestMeta {
    /// A description of a request that is not one of `ksef-model`'s operations.
    pub fn new(
        operation_id: &'static str,
        path_template: &'static str,
        auth: Auth,
        rate_limit: Option<RateLimit>,
        idempotent: bool,
    ) -> RequestMeta {
        RequestMeta {
            operation_id,
            path_template,
            auth,
            rate_limit,
            idempotent,
            presigned: false,
        }
    }

    /// The description of operation `O`.
    pub fn of<O: Operation>() -> RequestMeta {
        RequestMeta {
            operation_id: O::ID,
            path_template: O::PATH_TEMPLATE,
            auth: O::AUTH,
            rate_limit: Some(O::RATE_LIMIT),
            idempotent: O::IDEMPOTENT,
            presigned: false,
        }
    }

    /// A request to a presigned URL.
    pub fn presigned(idempotent: bool) -> RequestMeta {
        RequestMeta {
            operation_id: "presigned",
            path_template: "<presigned>",
            auth: Auth::None,
            rate_limit: None,
            idempotent,
            presigned: true,
        }
    }
}

/// The metadata of `request`, if any.
pub(crate) fn meta_of<B>(request: &http::Request<B>) -> Option<RequestMeta> {
    request.extensions().get::<RequestMeta>().copied()
}
