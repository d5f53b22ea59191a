//! The sliding-window limiter behind [`super::RateLimitLayer`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use ksef_model::{RateLimit, RateLimitGroup};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::Error;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The default cap on one wait the server asks for (`Retry-After`): five minutes.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Waits at least this long are announced at `info` level (shorter ones at `debug`).
pub(crate) const LONG_WAIT: Duration = Duration::from_secs(5);

/// `at + wait`, or about thirty years after `at` when that overflows: a deadline a hostile or
/// broken server pushes out of range means "never" in practice, not a panic.
pub(crate) fn saturating_deadline(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait).unwrap_or_else(|| {
        let far = Duration::from_secs(86_400 * 365 * 30);
        at.checked_add(far).unwrap_or(at)
    })
}

/// Limits per endpoint group that replace the ones built into the operations, e.g. as read from
/// the `/rate-limits` endpoint.
///
/// ```
/// use ksef_model::{RateLimit, RateLimitGroup};
/// use ksef_transport::rate_limit::RateLimitTable;
///
/// let table: RateLimitTable = [RateLimit::new(RateLimitGroup::InvoiceSend, 10, Some(30), Some(180))]
///     .into_iter()
///     .collect();
/// assert!(table.get(RateLimitGroup::InvoiceSend).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitTable {
    limits: HashMap<RateLimitGroup, RateLimit>,
}

impl RateLimitTable {
    /// An empty table: every operation uses its built-in limits.
    pub fn new() -> RateLimitTable {
        RateLimitTable::default()
    }

    /// Sets the limits of `limit.group`, replacing earlier ones.
    pub fn insert(&mut self, limit: RateLimit) {
        self.limits.insert(limit.group, limit);
    }

    /// The limits of `group`, if the table has them.
    pub fn get(&self, group: RateLimitGroup) -> Option<RateLimit> {
        self.limits.get(&group).copied()
    }
}

impl FromIterator<RateLimit> for RateLimitTable {
    fn from_iter<I: IntoIterator<Item = RateLimit>>(iter: I) -> RateLimitTable {
        let mut table = RateLimitTable::new();
        for limit in iter {
            table.insert(limit);
        }
        table
    }
}

/// Settings of the client-side rate limiter.
///
/// Defaults: scale `1.0` (the spec's production limits, which are also TEST's and DEMO's),
/// no maximum wait (a request waits as long as its windows need, up to an hour), a `1 s`
/// base for the extra pause added after repeated 429s, growing to at most `5 min`, and a 429's
/// `Retry-After` honoured up to [`DEFAULT_MAX_RETRY_AFTER`] (`5 min`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RateLimitConfig {
    scale: f64,
    max_wait: Option<Duration>,
    penalty_base: Duration,
    max_penalty: Duration,
    max_retry_after: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            scale: 1.0,
            max_wait: None,
            penalty_base: Duration::from_secs(1),
            max_penalty: Duration::from_secs(300),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RateLimitConfig {
    /// Multiplies every limit by `scale` (e.g. `0.8` to keep a margin); each limit stays at
    /// least 1. Non-finite or non-positive values are ignored.
    pub fn with_scale(mut self, scale: f64) -> RateLimitConfig {
        if scale.is_finite() && scale > 0.0 {
            self.scale = scale;
        }
        self
    }

    /// Fails a request with [`Error::RateLimitWaitTooLong`] instead of waiting longer than
    /// `max_wait` for capacity.
    pub fn with_max_wait(mut self, max_wait: Duration) -> RateLimitConfig {
        self.max_wait = Some(max_wait);
        self
    }

    /// The extra pause after the second 429 in a row (doubling with each further one, up to
    /// `max`); the first 429 pauses exactly as long as its `Retry-After` says.
    pub fn with_penalty(mut self, base: Duration, max: Duration) -> RateLimitConfig {
        self.penalty_base = base;
        self.max_penalty = max;
        self
    }

    /// The longest a 429's `Retry-After` pauses the group: a server asking for more (a day, or
    /// `u64::MAX` seconds) pauses it this long, after which requests are tried again. The
    /// extra pause after repeated 429s is added on top, bounded by its own maximum.
    pub fn with_max_retry_after(mut self, max: Duration) -> RateLimitConfig {
        self.max_retry_after = max;
        self
    }
}

/// What counts against a limit: a group, or for [`RateLimitGroup::Other`] each endpoint by
/// itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    group: RateLimitGroup,
    endpoint: Option<&'static str>,
}

impl Key {
    pub(crate) fn new(group: RateLimitGroup, path_template: &'static str) -> Key {
        Key {
            group,
            endpoint: (group == RateLimitGroup::Other).then_some(path_template),
        }
    }
}

/// A client-side limiter with sliding windows of one second, minute and hour per key.
///
/// A request takes a slot when it is let through and holds it while in flight; the slot counts
/// against the windows from the moment the response was complete (or the request was abandoned),
/// so that it also covers the server's view, which counts the request on arrival. Waiters are
/// served first come, first served. Dropping a waiting future takes no slot.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    settings: RwLock<Settings>,
    keys: Mutex<HashMap<Key, Arc<KeyState>>>,
}

struct Settings {
    table: RateLimitTable,
    config: RateLimitConfig,
}

struct KeyState {
    /// Waiters queue here (tokio's mutex is fair), so at most one at a time inspects the log.
    turn: tokio::sync::Mutex<()>,
    log: Mutex<Log>,
    /// Signalled when a slot completes or the limits change.
    changed: Notify,
}

#[derive(Default)]
struct Log {
    slots: VecDeque<Slot>,
    next_id: u64,
    paused_until: Option<Instant>,
    strikes: u32,
}

struct Slot {
    id: u64,
    /// When the request finished; `None` while in flight.
    done: Option<Instant>,
}

enum Decision {
    Go,
    WaitUntil(Instant),
    WaitForCompletion,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data is updated in single steps that cannot panic halfway.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Log {
    fn prune(&mut self, now: Instant) {
        if let Some(cutoff) = now.checked_sub(HOUR) {
            self.slots
                .retain(|slot| slot.done.is_none_or(|done| done > cutoff));
        }
    }

    fn decide(&mut self, now: Instant, windows: &[(Duration, u32)]) -> Decision {
        self.prune(now);
        let mut until = now;
        if let Some(paused) = self.paused_until {
            if paused > now {
                until = paused;
            } else {
                self.paused_until = None;
            }
        }
        let mut wait_for_completion = false;
        for &(window, limit) in windows {
            let cutoff = now.checked_sub(window);
            let mut in_flight = 0usize;
            let mut done: Vec<Instant> = Vec::new();
            for slot in &self.slots {
                match slot.done {
                    None => in_flight += 1,
                    Some(at) if cutoff.is_none_or(|c| at > c) => done.push(at),
                    Some(_) => {}
                }
            }
            let used = in_flight + done.len();
            let limit = limit as usize;
            if used < limit {
                continue;
            }
            // `excess` slots must leave the window before one more fits.
            let excess = used - limit + 1;
            if excess > done.len() {
                wait_for_completion = true;
                continue;
            }
            done.sort_unstable();
            until = until.max(saturating_deadline(done[excess - 1], window));
        }
        if until > now {
            Decision::WaitUntil(until)
        } else if wait_for_completion {
            Decision::WaitForCompletion
        } else {
            Decision::Go
        }
    }

    fn take(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.slots.push_back(Slot { id, done: None });
        id
    }

    fn complete(&mut self, id: u64, at: Instant) {
        if let Some(slot) = self.slots.iter_mut().rev().find(|s| s.id == id) {
            slot.done = Some(at);
        }
    }
}

impl RateLimiter {
    /// A limiter with the operations' built-in limits.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            shared: Arc::new(Shared {
                settings: RwLock::new(Settings {
                    table: RateLimitTable::new(),
                    config,
                }),
                keys: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Replaces the limits per group; groups missing from `table` go back to the operations'
    /// built-in limits. Waiting requests re-check at once.
    pub fn set_limits(&self, table: RateLimitTable) {
        self.shared
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .table = table;
        self.wake_all();
    }

    /// Changes the scale factor (see [`RateLimitConfig::with_scale`]).
    pub fn set_scale(&self, scale: f64) {
        {
            let mut settings = self
                .shared
                .settings
                .write()
                .unwrap_or_else(|e| e.into_inner());
            settings.config = settings.config.clone().with_scale(scale);
        }
        self.wake_all();
    }

    fn wake_all(&self) {
        for state in lock(&self.shared.keys).values() {
            state.changed.notify_waiters();
        }
    }

    fn state(&self, key: Key) -> Arc<KeyState> {
        lock(&self.shared.keys)
            .entry(key)
            .or_insert_with(|| {
                Arc::new(KeyState {
                    turn: tokio::sync::Mutex::new(()),
                    log: Mutex::new(Log::default()),
                    changed: Notify::new(),
                })
            })
            .clone()
    }

    /// The windows in force for `default`'s group: (window, scaled limit).
    fn windows(&self, default: RateLimit) -> (Vec<(Duration, u32)>, Option<Duration>) {
        let settings = self
            .shared
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let limit = settings.table.get(default.group).unwrap_or(default);
        let scale = settings.config.scale;
        let scaled = |n: u32| ((f64::from(n) * scale).floor() as u32).max(1);
        let mut windows = vec![(SECOND, scaled(limit.per_second))];
        if let Some(n) = limit.per_minute {
            windows.push((MINUTE, scaled(n)));
        }
        if let Some(n) = limit.per_hour {
            windows.push((HOUR, scaled(n)));
        }
        (windows, settings.config.max_wait)
    }

    /// The limits of [`RateLimitGroup::Global`] (every request, per client IP): the table's, else
    /// the spec's.
    fn global_limit(&self) -> Option<RateLimit> {
        let settings = self
            .shared
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner());
        settings
            .table
            .get(RateLimitGroup::Global)
            .or_else(|| RateLimitGroup::Global.production())
    }

    /// Waits until a request under `limit` (on the endpoint `path_template`) may be sent, and
    /// takes a slot: one in its group's windows, then one in the [`RateLimitGroup::Global`]
    /// windows that every request shares. The slots are released into the windows when the
    /// returned permit is dropped.
    ///
    /// Dropping the returned future before it completes takes no slot.
    pub async fn acquire(
        &self,
        limit: RateLimit,
        path_template: &'static str,
    ) -> Result<Permit, Error> {
        let mut permit = self.acquire_one(limit, path_template).await?;
        if limit.group != RateLimitGroup::Global
            && let Some(global) = self.global_limit()
        {
            // Always taken second, so waiters never hold the global turn while waiting for a group.
            let global = self.acquire_one(global, path_template).await?;
            permit.global = Some(Box::new(global));
        }
        Ok(permit)
    }

    /// Takes a slot in the windows of `limit`'s group (or endpoint).
    async fn acquire_one(
        &self,
        limit: RateLimit,
        path_template: &'static str,
    ) -> Result<Permit, Error> {
        let key = Key::new(limit.group, path_template);
        let state = self.state(key);
        let _turn = state.turn.lock().await;
        loop {
            let changed = state.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (windows, max_wait) = self.windows(limit);
            let now = Instant::now();
            let decision = lock(&state.log).decide(now, &windows);
            match decision {
                Decision::Go => {
                    let id = lock(&state.log).take();
                    return Ok(Permit {
                        state: state.clone(),
                        id,
                        global: None,
                    });
                }
                Decision::WaitUntil(until) => {
                    let wait = until.saturating_duration_since(now);
                    if max_wait.is_some_and(|max| wait > max) {
                        return Err(Error::RateLimitWaitTooLong {
                            group: limit.group,
                            wait,
                        });
                    }
                    if wait >= LONG_WAIT {
                        tracing::info!(
                            group = limit.group.as_str(),
                            endpoint = path_template,
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "waiting for rate-limit capacity"
                        );
                    } else {
                        tracing::debug!(
                            group = limit.group.as_str(),
                            wait_ms = wait.as_millis() as u64,
                            "waiting for rate-limit capacity"
                        );
                    }
                    // Wakes at `until`, or earlier when a slot completes or the limits change.
                    let _ = tokio::time::timeout_at(until, changed).await;
                }
                Decision::WaitForCompletion => changed.await,
            }
        }
    }

    /// Records a 429 for `limit`'s group (or endpoint): no request of it is let through until
    /// `retry_after` (capped at the configured maximum; a default of one penalty base when
    /// absent) has passed; each further 429 in a row adds a doubling penalty. Returns the pause.
    pub(crate) fn throttled(
        &self,
        limit: RateLimit,
        path_template: &'static str,
        retry_after: Option<Duration>,
    ) -> Duration {
        let (base, max, cap) = {
            let settings = self
                .shared
                .settings
                .read()
                .unwrap_or_else(|e| e.into_inner());
            (
                settings.config.penalty_base,
                settings.config.max_penalty,
                settings.config.max_retry_after,
            )
        };
        let state = self.state(Key::new(limit.group, path_template));
        let mut log = lock(&state.log);
        log.strikes = log.strikes.saturating_add(1);
        let extra = if log.strikes > 1 {
            base.saturating_mul(1 << (log.strikes - 2).min(16)).min(max)
        } else {
            Duration::ZERO
        };
        let asked = retry_after.unwrap_or(base);
        let capped = asked > cap;
        let pause = asked.min(cap).saturating_add(extra);
        let until = saturating_deadline(Instant::now(), pause);
        log.paused_until = Some(log.paused_until.map_or(until, |p| p.max(until)));
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if capped {
            tracing::warn!(
                group = limit.group.as_str(),
                endpoint = path_template,
                pause_ms = millis(pause),
                retry_after_s = asked.as_secs(),
                strikes = log.strikes,
                "KSeF answered 429 with a Retry-After longer than the maximum; pausing the group for the maximum instead"
            );
        } else {
            tracing::warn!(
                group = limit.group.as_str(),
                endpoint = path_template,
                pause_ms = millis(pause),
                strikes = log.strikes,
                "KSeF answered 429; pausing the group"
            );
        }
        pause
    }

    /// Records a response that was not a 429, ending a run of 429s.
    pub(crate) fn not_throttled(&self, limit: RateLimit, path_template: &'static str) {
        let state = self.state(Key::new(limit.group, path_template));
        lock(&state.log).strikes = 0;
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self
            .shared
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner());
        f.debug_struct("RateLimiter")
            .field("table", &settings.table)
            .field("config", &settings.config)
            .finish_non_exhaustive()
    }
}

/// A slot taken from a [`RateLimiter`]; dropping it marks the request as finished.
pub struct Permit {
    state: Arc<KeyState>,
    id: u64,
    /// The request's slot in the global windows.
    global: Option<Box<Permit>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        lock(&self.state.log).complete(self.id, Instant::now());
        self.state.changed.notify_waiters();
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("id", &self.id).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, per_minute: Option<u32>) -> RateLimit {
        RateLimit::new(RateLimitGroup::SessionList, per_second, per_minute, None)
    }

    /// Takes `n` slots and finishes each at once, returning the instants they were granted.
    async fn run(limiter: &RateLimiter, limit: RateLimit, n: usize) -> Vec<Instant> {
        let mut times = Vec::new();
        for _ in 0..n {
            let permit = limiter.acquire(limit, "/x").await.unwrap();
            times.push(Instant::now());
            drop(permit);
        }
        times
    }

    fn max_in_window(times: &[Instant], window: Duration) -> usize {
        times
            .iter()
            .map(|&end| {
                times
                    .iter()
                    .filter(|&&t| t <= end && t + window > end)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn per_second_window() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let start = Instant::now();
        let times = run(&limiter, limit(5, None), 12).await;
        assert!(times[..5].iter().all(|t| *t == start));
        assert_eq!(times[5] - start, SECOND);
        assert_eq!(times[10] - start, 2 * SECOND);
        assert_eq!(max_in_window(&times, SECOND), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_also_counts_in_the_global_group() {
        // The spec's global limit (75/s per IP) holds across groups and endpoints.
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let global = RateLimitGroup::Global.production().unwrap().per_second as usize;
        assert_eq!(global, 75);
        let a = RateLimit::new(RateLimitGroup::InvoiceStatus, 1_000, None, None);
        let b = RateLimit::new(RateLimitGroup::Other, 1_000, None, None);
        let start = Instant::now();
        let mut times = Vec::new();
        for i in 0..(2 * global + 1) {
            let (l, path) = if i % 2 == 0 { (a, "/a") } else { (b, "/b") };
            drop(limiter.acquire(l, path).await.unwrap());
            times.push(Instant::now());
        }
        assert!(times[..global].iter().all(|t| *t == start));
        assert_eq!(times[global] - start, SECOND);
        assert_eq!(times[2 * global] - start, 2 * SECOND);
        // A table entry replaces the spec's global limit.
        limiter.set_limits(
            [RateLimit::new(RateLimitGroup::Global, 2, None, None)]
                .into_iter()
                .collect(),
        );
        let later = Instant::now() + 10 * SECOND;
        tokio::time::sleep_until(later).await;
        let times = run(&limiter, a, 3).await;
        assert_eq!(times[2] - times[0], SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn per_minute_window() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let start = Instant::now();
        let times = run(&limiter, limit(10, Some(15)), 16).await;
        assert!(times[..10].iter().all(|t| *t == start));
        assert_eq!(times[10] - start, SECOND);
        assert_eq!(times[15] - start, MINUTE);
        assert_eq!(max_in_window(&times, MINUTE), 15);
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_slots_count() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let l = limit(2, None);
        let a = limiter.acquire(l, "/x").await.unwrap();
        let b = limiter.acquire(l, "/x").await.unwrap();
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let _p = limiter.acquire(l, "/x").await.unwrap();
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        let finished = Instant::now();
        drop(a);
        drop(b);
        // The slot counts from completion, so the waiter goes one window later.
        assert_eq!(waiter.await.unwrap() - finished, SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_wait_takes_no_slot() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let l = limit(1, None);
        drop(limiter.acquire(l, "/x").await.unwrap());
        // Waits a second, but is dropped after 100 ms.
        let r = tokio::time::timeout(Duration::from_millis(100), limiter.acquire(l, "/x")).await;
        assert!(r.is_err());
        let start = Instant::now();
        drop(limiter.acquire(l, "/x").await.unwrap());
        assert_eq!(Instant::now() - start, Duration::from_millis(900));
        let log = lock(&limiter.state(Key::new(l.group, "/x")).log)
            .slots
            .len();
        assert_eq!(log, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn limits_replaced_at_run_time_and_scaled() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let l = limit(1, None);
        drop(limiter.acquire(l, "/x").await.unwrap());
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                drop(limiter.acquire(l, "/x").await.unwrap());
                Instant::now() - start
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        limiter.set_limits([limit(3, None)].into_iter().collect());
        assert!(waiter.await.unwrap() <= Duration::from_millis(10));

        limiter.set_scale(0.5); // 3 * 0.5 = 1.5 -> 1 per second
        tokio::time::sleep(SECOND).await;
        let times = run(&limiter, l, 3).await;
        assert_eq!(times[2] - times[0], 2 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn other_group_counts_per_endpoint() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let other = RateLimit::new(RateLimitGroup::Other, 1, None, None);
        let start = Instant::now();
        drop(limiter.acquire(other, "/a").await.unwrap());
        drop(limiter.acquire(other, "/b").await.unwrap());
        assert_eq!(Instant::now(), start);
        let shared = limit(1, None);
        drop(limiter.acquire(shared, "/a").await.unwrap());
        drop(limiter.acquire(shared, "/b").await.unwrap());
        assert_eq!(Instant::now() - start, SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_pauses_and_grows() {
        let limiter = RateLimiter::new(RateLimitConfig::default());
        let l = limit(100, None);
        let three = Duration::from_secs(3);
        assert_eq!(limiter.throttled(l, "/x", Some(three)), three);
        let start = Instant::now();
        drop(limiter.acquire(l, "/x").await.unwrap());
        assert_eq!(Instant::now() - start, three);
        assert_eq!(limiter.throttled(l, "/x", Some(three)), three + SECOND);
        assert_eq!(limiter.throttled(l, "/x", Some(three)), three + 2 * SECOND);
        limiter.not_throttled(l, "/x");
        assert_eq!(limiter.throttled(l, "/x", None), SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn max_wait_fails_fast() {
        let limiter =
            RateLimiter::new(RateLimitConfig::default().with_max_wait(Duration::from_millis(500)));
        let l = limit(1, None);
        drop(limiter.acquire(l, "/x").await.unwrap());
        let err = limiter.acquire(l, "/x").await.unwrap_err();
        assert!(matches!(err, Error::RateLimitWaitTooLong { .. }));
    }
}
