//! A timeout on each attempt of a request: sending it and reading the whole response.
//!
//! ```
//! use std::time::Duration;
//! use ksef_transport::timeout::TimeoutLayer;
//!
//! // 30 s for API calls, 10 min for presigned uploads and downloads.
//! let _layer = TimeoutLayer::new(Duration::from_secs(30), Duration::from_secs(600));
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service};

use crate::error::{Error, TimeoutPhase};
use crate::meta::meta_of;

/// Fails an attempt with [`Error::Timeout`] when it takes longer than its limit.
///
/// The wait for rate-limit capacity and the pauses between retries are outside this layer when it
/// sits below them, as in [`crate::Transport`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    api: Duration,
    transfer: Duration,
}

impl TimeoutLayer {
    /// `api` for API calls, `transfer` for requests to presigned URLs.
    pub fn new(api: Duration, transfer: Duration) -> TimeoutLayer {
        TimeoutLayer { api, transfer }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            config: *self,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    config: TimeoutLayer,
}

impl<S> Service<Request<Bytes>> for Timeout<S>
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
        let after = if meta_of(&request).is_some_and(|m| m.presigned) {
            self.config.transfer
        } else {
            self.config.api
        };
        let call = self.inner.call(request);
        ResponseFuture::new(async move {
            match tokio::time::timeout(after, call).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout {
                    phase: TimeoutPhase::Total,
                    after,
                }),
            }
        })
    }
}

crate::macros::boxed_response_future! {
    /// The response future of [`Timeout`].
}
