//! One tracing span per request, and `X-System-Warning`s logged as warnings.
//!
//! The span `ksef.request` has the fields `operation`, `method`, `path` (the path *template*, so
//! no identifiers or tokens end up in logs), `status`, `duration_ms` and `attempt` (set by the
//! retry layer when it retries). Headers and bodies are never logged: they hold tokens, keys and
//! signed documents.
//!
//! ```
//! use ksef_transport::trace::TraceLayer;
//!
//! let _layer = TraceLayer::new();
//! ```

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::Error;
use crate::meta::meta_of;
use crate::warning::warnings_in;

/// Wraps each request in a `ksef.request` span.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer {
    _private: (),
}

impl TraceLayer {
    /// The layer.
    pub fn new() -> TraceLayer {
        TraceLayer::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

/// The service of [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
}

impl<S> Service<Request<Bytes>> for Trace<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Bytes>) -> ResponseFuture {
        let meta = meta_of(&request);
        let span = tracing::info_span!(
            "ksef.request",
            operation = meta.map_or("unknown", |m| m.operation_id),
            method = %request.method(),
            path = meta.map_or("unknown", |m| m.path_template),
            status = Empty,
            duration_ms = Empty,
            attempt = 1u32,
        );
        let call = span.in_scope(|| self.inner.call(request));
        let started = Instant::now();
        let record = span.clone();
        ResponseFuture::new(
            async move {
                let result = call.await;
                let elapsed = started.elapsed().as_millis();
                record.record("duration_ms", elapsed as u64);
                match &result {
                    Ok(response) => {
                        record.record("status", response.status().as_u16());
                        for warning in warnings_in(response.headers()) {
                            tracing::warn!(
                                code = %warning.code,
                                message = %warning.message,
                                "KSeF system warning"
                            );
                        }
                        tracing::debug!(status = response.status().as_u16(), "response");
                    }
                    Err(error) => {
                        if let Some(status) = error.status() {
                            record.record("status", status);
                        }
                        tracing::debug!(%error, "request failed");
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

crate::macros::boxed_response_future! {
    /// The response future of [`Trace`].
}
