use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use tower::{Service, ServiceExt};

use super::{RateLimiter, ResponseFuture};
use crate::error::{Error, parse_retry_after};
use crate::meta::meta_of;

/// The service of [`super::RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S> RateLimit<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limiter: RateLimiter) -> RateLimit<S> {
        RateLimit { inner, limiter }
    }
}

impl<S> Service<Request<Bytes>> for RateLimit<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Readiness of the inner service is awaited after the wait for capacity.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> ResponseFuture {
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        let meta = meta_of(&request).filter(|m| !m.presigned);
        ResponseFuture::new(async move {
            let Some((limit, path)) = meta.and_then(|m| Some((m.rate_limit?, m.path_template)))
            else {
                return inner.oneshot(request).await;
            };
            let permit = limiter.acquire(limit, path).await?;
            let result = inner.oneshot(request).await;
            if let Ok(response) = &result {
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    let retry_after = response
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
                    limiter.throttled(limit, path, retry_after);
                } else {
                    limiter.not_throttled(limit, path);
                }
            }
            drop(permit);
            result
        })
    }
}
