use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use tower::retry::Policy;
use tower::retry::budget::{Budget, TpsBudget};

use crate::error::{Error, parse_retry_after};
use crate::meta::meta_of;

/// Retry settings.
///
/// Defaults: at most 3 attempts per request; backoff starting at 250 ms, doubling, capped at
/// 20 s, with "equal jitter" (a random point in the upper half of each step); a server's
/// `Retry-After` honoured up to 5 minutes; a budget that always allows 10 retries per second and
/// beyond that 20 % of the requests of the last 10 seconds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    budget_min_per_second: u32,
    budget_ratio: f32,
    max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            budget_min_per_second: 10,
            budget_ratio: 0.2,
            max_retry_after: crate::rate_limit::DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> RetryConfig {
        RetryConfig::default().with_max_attempts(1)
    }

    /// At most `attempts` attempts per request, the first included (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> RetryConfig {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff step and the largest one.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> RetryConfig {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The retry budget: `min_per_second` retries per second always allowed, plus `ratio` (0 to
    /// 1000) retries per request sent in the last 10 seconds.
    pub fn with_budget(mut self, min_per_second: u32, ratio: f32) -> RetryConfig {
        self.budget_min_per_second = min_per_second;
        self.budget_ratio = ratio.clamp(0.0, 1000.0);
        self
    }

    /// The longest wait before a retry that a server's `Retry-After` can impose: asking for more
    /// (a day, or `u64::MAX` seconds) waits this long and then retries.
    pub fn with_max_retry_after(mut self, max: Duration) -> RetryConfig {
        self.max_retry_after = max;
        self
    }

    /// At most this many attempts per request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff before retry number `retry` (1-based), before jitter is applied.
    fn step(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A uniformly random fraction in `[0, 1)`, from std's randomly keyed hasher (no RNG crate).
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The [`tower::retry::Policy`] of this crate: see the [module docs](super).
#[derive(Clone)]
pub struct RetryPolicy {
    config: Arc<RetryConfig>,
    budget: Arc<TpsBudget>,
    /// Attempts made so far for the current request (the policy is cloned per request).
    attempts: u32,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("config", &self.config)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    /// A policy with its own budget.
    pub fn new(config: RetryConfig) -> RetryPolicy {
        let budget = TpsBudget::new(
            Duration::from_secs(10),
            config.budget_min_per_second,
            config.budget_ratio,
        );
        RetryPolicy {
            config: Arc::new(config),
            budget: Arc::new(budget),
            attempts: 1,
        }
    }

    /// Why `result` may be retried and the least wait the server asked for; `None` if it may not.
    fn retryable(result: &Result<Response<Bytes>, Error>) -> Option<(Reason, Duration)> {
        match result {
            Ok(response) => {
                let status = response.status();
                if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                    return None;
                }
                let retry_after = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()))
                    .unwrap_or(Duration::ZERO);
                let reason = if status == StatusCode::TOO_MANY_REQUESTS {
                    Reason::TooManyRequests
                } else {
                    Reason::ServerError
                };
                Some((reason, retry_after))
            }
            Err(Error::Connect { .. }) => Some((Reason::Connect, Duration::ZERO)),
            Err(Error::Network { .. }) => Some((Reason::Network, Duration::ZERO)),
            Err(Error::TruncatedBody { .. }) => Some((Reason::TruncatedBody, Duration::ZERO)),
            Err(Error::Timeout { .. }) => Some((Reason::Timeout, Duration::ZERO)),
            Err(_) => None,
        }
    }
}

/// Why a failed attempt may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    TooManyRequests,
    ServerError,
    Connect,
    Network,
    TruncatedBody,
    Timeout,
}

impl Reason {
    /// The reason as the retry logs name it.
    fn as_str(self) -> &'static str {
        match self {
            Reason::TooManyRequests => "429",
            Reason::ServerError => "5xx",
            Reason::Connect => "connect",
            Reason::Network => "network",
            Reason::TruncatedBody => "truncated body",
            Reason::Timeout => "timeout",
        }
    }

    /// Whether the failure proves the server did not process the request (KSeF refuses with 429
    /// before doing anything; a connection never made carried nothing), so that even a request
    /// that is not idempotent may be repeated.
    fn proves_unprocessed(self) -> bool {
        matches!(self, Reason::TooManyRequests | Reason::Connect)
    }
}

impl Policy<Request<Bytes>, Response<Bytes>, Error> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Bytes>,
        result: &mut Result<Response<Bytes>, Error>,
    ) -> Option<Self::Future> {
        let Some((reason, server_wait)) = Self::retryable(result) else {
            if result.is_ok() {
                self.budget.deposit();
            }
            return None;
        };
        if !reason.proves_unprocessed() && !meta_of(request).is_some_and(|m| m.idempotent) {
            return None;
        }
        let reason = reason.as_str();
        if self.attempts >= self.config.max_attempts {
            tracing::debug!(
                attempts = self.attempts,
                reason,
                "not retrying: attempts used up"
            );
            return None;
        }
        if !self.budget.withdraw() {
            tracing::debug!(reason, "not retrying: retry budget exhausted");
            return None;
        }
        let step = self.config.step(self.attempts);
        let jittered = step / 2 + step.mul_f64(random_fraction() / 2.0);
        let cap = self.config.max_retry_after;
        let capped = server_wait > cap;
        let delay = jittered.max(server_wait.min(cap));
        self.attempts += 1;
        tracing::Span::current().record("attempt", self.attempts);
        let operation = meta_of(request).map_or("", |m| m.operation_id);
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        if capped {
            tracing::warn!(
                attempt = self.attempts,
                reason,
                operation,
                delay_ms,
                retry_after_s = server_wait.as_secs(),
                "the server asked for a longer wait than the maximum; retrying after the maximum"
            );
        } else if delay >= crate::rate_limit::LONG_WAIT {
            tracing::info!(
                attempt = self.attempts,
                reason,
                operation,
                delay_ms,
                "retrying after a long wait"
            );
        } else {
            tracing::info!(attempt = self.attempts, reason, delay_ms, "retrying");
        }
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<Bytes>) -> Option<Request<Bytes>> {
        // Every request is kept for a retry: even one that is not idempotent may be repeated
        // after a 429 or a failed connect (see `retry`). The body is shared, not copied.
        (meta_of(request).is_some() && self.config.max_attempts > 1).then(|| request.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_steps() {
        let c =
            RetryConfig::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(c.step(1), Duration::from_millis(100));
        assert_eq!(c.step(2), Duration::from_millis(200));
        assert_eq!(c.step(4), Duration::from_millis(800));
        assert_eq!(c.step(5), Duration::from_secs(1));
        assert_eq!(c.step(60), Duration::from_secs(1));
    }

    #[test]
    fn jitter_in_range() {
        for _ in 0..1000 {
            let f = random_fraction();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
