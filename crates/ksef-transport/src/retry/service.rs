use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::Service;

use super::{ResponseFuture, RetryPolicy};
use crate::error::Error;

/// The service of [`super::RetryLayer`]: tower's retry middleware with [`RetryPolicy`].
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: tower::retry::Retry<RetryPolicy, S>,
}

impl<S> Retry<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, policy: RetryPolicy) -> Retry<S> {
        Retry {
            inner: tower::retry::Retry::new(policy, inner),
        }
    }
}

impl<S> Service<Request<Bytes>> for Retry<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Bytes>) -> ResponseFuture {
        ResponseFuture::new(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ksef_model::Auth;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::RequestMeta;
    use crate::retry::{RetryConfig, RetryLayer};

    async fn attempts(idempotent: bool, status: u16) -> usize {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let service = ServiceBuilder::new()
            .layer(RetryLayer::new(RetryConfig::default().with_max_attempts(4)))
            .service(service_fn(move |_: Request<Bytes>| {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = Response::builder().status(status).body(Bytes::new());
                async move { Ok::<_, Error>(response.unwrap()) }
            }));
        let mut request = Request::new(Bytes::new());
        request
            .extensions_mut()
            .insert(RequestMeta::new("t", "/t", Auth::None, None, idempotent));
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), status);
        calls.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_what_is_safe() {
        assert_eq!(attempts(true, 503).await, 4);
        assert_eq!(attempts(true, 429).await, 4);
        assert_eq!(attempts(false, 503).await, 1);
        assert_eq!(attempts(true, 400).await, 1);
        assert_eq!(attempts(true, 200).await, 1);
    }
}
