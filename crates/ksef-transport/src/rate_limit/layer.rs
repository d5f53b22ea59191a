use tower::Layer;

use super::{RateLimit, RateLimiter};

/// Applies a [`RateLimiter`] to requests (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    /// A layer using `limiter` (clone the limiter first to change its limits later).
    pub fn new(limiter: RateLimiter) -> RateLimitLayer {
        RateLimitLayer { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, self.limiter.clone())
    }
}
