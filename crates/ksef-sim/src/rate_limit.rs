//! KSeF's request limits: sliding windows of one second, one minute and one hour per
//! (rate-limit group, context, client IP), scaled by the simulator's setting.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use ksef_model::{OperationInfo, RateLimit, RateLimitGroup};

/// Request times per counter.
#[derive(Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Counts a request of `op` by `context` (if authenticated) from `ip`; `Err(seconds)` if a
    /// limit is exceeded, with the time until the request would be allowed.
    pub(crate) fn check(
        &mut self,
        op: &OperationInfo,
        limit: RateLimit,
        context: Option<&str>,
        ip: &str,
        scale: f64,
        now: Instant,
    ) -> Result<(), u64> {
        // "Other" endpoints each have their own counter; anonymous ones count per IP only.
        let group = if limit.group == RateLimitGroup::Other {
            op.id
        } else {
            limit.group.as_str()
        };
        let context = if limit.group == RateLimitGroup::Anonymous {
            "-"
        } else {
            context.unwrap_or("-")
        };
        let key = format!("{group}|{context}|{ip}");
        let times = self.windows.entry(key).or_default();
        let hour = Duration::from_secs(3600);
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= hour)
        {
            times.pop_front();
        }
        let scaled = |n: u32| -> usize {
            let value = (f64::from(n) * scale).ceil();
            if value < 1.0 {
                1
            } else if value > 1e9 {
                1_000_000_000
            } else {
                value as usize
            }
        };
        let windows = [
            (Duration::from_secs(1), Some(limit.per_second)),
            (Duration::from_secs(60), limit.per_minute),
            (hour, limit.per_hour),
        ];
        let mut wait = Duration::ZERO;
        for (window, max) in windows {
            let Some(max) = max else { continue };
            let max = scaled(max);
            let inside: Vec<&Instant> = times
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if inside.len() >= max {
                // The oldest request that must leave the window before another one fits
                // (`inside.len() >= max >= 1`, so the index is in bounds).
                let oldest = inside[inside.len() - max];
                wait = wait.max(window.saturating_sub(now.duration_since(*oldest)));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        times.push_back(now);
        Ok(())
    }
}

/// The override of the group of `op` in `context`, if one is set: (name of the group, values).
pub(crate) fn rate_override(
    state: &crate::state::State,
    context: &str,
    group: RateLimitGroup,
) -> Option<(u32, u32, u32)> {
    state
        .rate_overrides
        .get(context)?
        .get(group.as_str())
        .copied()
}
