//! Client-side rate limiting per KSeF endpoint group, so requests wait instead of drawing a 429.
//!
//! Each operation names its group and production limits ([`ksef_model::Operation::RATE_LIMIT`]).
//! Requests of one group share sliding windows of one second, one minute and one hour, except
//! [`ksef_model::RateLimitGroup::Other`], where each endpoint (path template) counts by itself.
//! Every request also counts in [`ksef_model::RateLimitGroup::Global`] (KSeF's limit on all
//! requests from one IP, 75/s in API 2.9.0). The groups and their production limits are generated
//! from the spec, so a new group needs no change here.
//! The limits can be replaced at run time with a [`RateLimitTable`] (e.g. read from the
//! `/rate-limits` endpoint) and scaled.
//!
//! A 429 pauses its whole group until the `Retry-After` has passed (at most
//! [`RateLimitConfig::with_max_retry_after`], 5 minutes by default); further 429s in a row pause
//! longer. Long waits are announced as `tracing` events naming the group. Requests to presigned URLs and requests without [`crate::RequestMeta`] are not limited.
//!
//! ```
//! use ksef_transport::rate_limit::{RateLimitConfig, RateLimitLayer, RateLimiter};
//!
//! let limiter = RateLimiter::new(RateLimitConfig::default().with_scale(0.9));
//! let _layer = RateLimitLayer::new(limiter.clone());
//! // later: limiter.set_limits(table_from_the_rate_limits_endpoint);
//! ```

mod future;
mod layer;
mod limiter;
mod service;

pub use self::future::ResponseFuture;
pub use self::layer::RateLimitLayer;
pub use self::limiter::{
    DEFAULT_MAX_RETRY_AFTER, Permit, RateLimitConfig, RateLimitTable, RateLimiter,
};
pub use self::service::RateLimit;

pub(crate) use self::limiter::LONG_WAIT;
