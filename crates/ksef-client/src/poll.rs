//! Polling with exponential backoff.

use std::time::Duration;

use tokio::time::Instant;

/// How a status is polled: the first pause, the largest pause (pauses double up to it) and the
/// total time before giving up with [`crate::Error::PollTimeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollConfig {
    initial: Duration,
    max: Duration,
    timeout: Duration,
}

impl Default for PollConfig {
    /// 500 ms first pause, up to 5 s, give up after 10 minutes.
    fn default() -> Self {
        PollConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

impl PollConfig {
    /// The default for reconciliation after an unknown send outcome: 250 ms first pause, up to
    /// 2 s, look for 10 s before concluding that the invoice never arrived.
    pub fn reconcile_default() -> Self {
        PollConfig {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }

    /// The first pause and the largest one.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max.max(initial);
        self
    }

    /// The total time before giving up.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The total time before giving up.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The `n`-th pause (from 1) of a backoff that doubles from the first pause up to the
    /// largest.
    pub(crate) fn pause(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }

    pub(crate) fn start(&self) -> Backoff {
        Backoff {
            next: self.initial,
            max: self.max,
            timeout: self.timeout,
            deadline: deadline_after(self.timeout),
        }
    }
}

/// `timeout` from now, or about thirty years when that is out of the clock's range (a timeout of
/// `Duration::MAX` means "no deadline", never a panic).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365 * 30)))
        .unwrap_or(now)
}

/// One polling run.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
    timeout: Duration,
    deadline: Instant,
}

impl Backoff {
    /// Sleeps for the next pause; `false` (without sleeping past it) once the deadline passed.
    pub(crate) async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let pause = self.next.min(self.deadline - now);
        tokio::time::sleep(pause).await;
        self.next = self.next.saturating_mul(2).min(self.max);
        true
    }

    /// [`Backoff::wait`], or [`crate::Error::PollTimeout`] for `what` (e.g. "session …") once
    /// the deadline passed.
    pub(crate) async fn wait_or_time_out(
        &mut self,
        what: impl FnOnce() -> String,
    ) -> Result<(), crate::Error> {
        if self.wait().await {
            Ok(())
        } else {
            Err(crate::Error::PollTimeout {
                what: what(),
                after: self.timeout,
            })
        }
    }
}

impl Backoff {
    /// One status read of a polling loop: `Ok(Some(value))` for an answer; `Ok(None)` after a
    /// passing failure (a reset, a cut-off answer, a 5xx: [`crate::Error::outcome_unknown`])
    /// once the next pause has been slept, so the caller reads again; the failure itself once the
    /// deadline has passed or when it is definite (a 4xx). A status read creates nothing, so a
    /// failure the transport gave up on never ends the wait early.
    pub(crate) async fn read<T>(
        &mut self,
        what: impl FnOnce() -> String,
        result: Result<T, crate::Error>,
    ) -> Result<Option<T>, crate::Error> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.outcome_unknown() => {
                tracing::info!(
                    waiting_for = %what(),
                    error = %error,
                    "a status read failed; reading again after a pause"
                );
                if self.wait().await {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_unbounded_timeout_and_backoff_never_overflow() {
        // A timeout of Duration::MAX used to overflow the deadline (a panic in `start`).
        let config = PollConfig::default()
            .with_backoff(Duration::from_secs(1), Duration::MAX)
            .with_timeout(Duration::MAX);
        let mut backoff = config.start();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(backoff.wait().await);
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(1 + 2 + 4));
        // A pause that cannot double used to overflow the next pause (a panic in `wait`).
        let huge = Duration::from_secs(u64::MAX / 2 + 1);
        let mut backoff = PollConfig::default()
            .with_backoff(huge, Duration::MAX)
            .with_timeout(Duration::from_secs(5))
            .start();
        assert!(backoff.wait().await);
        assert_eq!(backoff.next, Duration::MAX);
        assert!(!backoff.wait().await, "the deadline has passed");
    }

    #[test]
    fn pauses_double_up_to_the_largest() {
        let config = PollConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300));
        let pauses: Vec<u128> = (1..=4).map(|n| config.pause(n).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 300, 300]);
        assert_eq!(config.pause(u32::MAX), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn backs_off_and_stops_at_the_deadline() {
        let config = PollConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(400))
            .with_timeout(Duration::from_secs(1));
        let start = Instant::now();
        let mut backoff = config.start();
        let mut waits = 0;
        while backoff.wait().await {
            waits += 1;
        }
        // 100 + 200 + 400 + 300 (cut at the deadline)
        assert_eq!(waits, 4);
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }
}
