//! Retries with exponential backoff and jitter for requests that are safe to repeat.
//!
//! Requests whose [`crate::RequestMeta::idempotent`] is set are retried after a connection
//! failure, a timeout, a truncated body, a 5xx or a 429. Other requests (invoice sends, session
//! opens) are retried only when the server provably did not process them: a 429 (KSeF refuses
//! before doing anything) or a connection that was never established. Any other failure of such
//! a request is left to the caller, whose outcome may be unknown. A 429 or 503 with
//! `Retry-After` is never retried sooner than it says. A shared budget caps how many retries
//! all requests together may make, so an outage does not multiply the load.
//!
//! The policy is a [`tower::retry::Policy`]; [`RetryLayer`] wraps tower's retry middleware.
//!
//! ```
//! use std::time::Duration;
//! use ksef_transport::retry::{RetryConfig, RetryLayer};
//!
//! let config = RetryConfig::default()
//!     .with_max_attempts(5)
//!     .with_backoff(Duration::from_millis(200), Duration::from_secs(30));
//! let _layer = RetryLayer::new(config);
//! ```

mod future;
mod layer;
mod policy;
mod service;

pub use self::future::ResponseFuture;
pub use self::layer::RetryLayer;
pub use self::policy::{RetryConfig, RetryPolicy};
pub use self::service::Retry;
