//! How a worker runs ([`WorkerOptions`]) and what it did ([`WorkerSummary`]).

use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// The worker's name in the `worker` column (unique per running worker).
    pub worker_id: String,
    /// Rows claimed at once; they share one online session per form.
    pub batch_size: usize,
    /// How long a claim holds a row; a row whose lease expires is taken over by another worker
    /// (after reconciliation). Longer than a batch takes.
    pub lease: Duration,
    /// How long to wait before claiming again when the outbox is empty or KSeF failed.
    pub idle_pause: Duration,
    /// How long to wait at most for KSeF to finish processing a sent invoice before giving the
    /// row back (it is settled by the next claim).
    pub settle_timeout: Duration,
    /// Stop when the outbox has no claimable row instead of waiting for more (rows waiting for
    /// their `not_before` are waited for).
    pub exit_when_idle: bool,
    /// How long a row given back after a failure or an unknown outcome waits before any worker
    /// claims it again (`not_before`), so that KSeF can finish processing what it got before
    /// anyone reconciles or resends; the n-th try of a row waits n times this.
    pub retry_grace: Duration,
    /// Tries that fail before KSeF gets the invoice, after which the row is `failed`.
    pub max_attempts: u32,
    /// Reconciliations that cannot settle an unknown outcome, after which the row is
    /// `unresolved` (in KSeF, number not known yet).
    pub max_unresolved: u32,
}

impl WorkerOptions {
    /// Defaults: batches of 100, 10-minute leases, a 2-second idle pause, 2 minutes to settle.
    pub fn new(worker_id: impl Into<String>) -> WorkerOptions {
        WorkerOptions {
            worker_id: worker_id.into(),
            batch_size: 100,
            lease: Duration::from_secs(600),
            idle_pause: Duration::from_secs(2),
            settle_timeout: Duration::from_secs(120),
            exit_when_idle: false,
            retry_grace: Duration::from_secs(30),
            max_attempts: 10,
            max_unresolved: 10,
        }
    }

    /// Sets the retry grace period.
    pub fn with_retry_grace(mut self, grace: Duration) -> Self {
        self.retry_grace = grace;
        self
    }

    /// Sets the maximum number of failed attempts (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the maximum number of unsettled reconciliations (at least 1).
    pub fn with_max_unresolved(mut self, n: u32) -> Self {
        self.max_unresolved = n.max(1);
        self
    }

    /// Sets the batch size (at least 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets the lease.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets the idle pause.
    pub fn with_idle_pause(mut self, pause: Duration) -> Self {
        self.idle_pause = pause;
        self
    }

    /// Sets the settle timeout.
    pub fn with_settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Stops when nothing is left to claim.
    pub fn exit_when_idle(mut self, exit: bool) -> Self {
        self.exit_when_idle = exit;
        self
    }
}

/// A default worker name: the host, the process id and the start time.
pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{host}-{}-{started}", std::process::id())
}

/// What a worker did (summed over its run, or for one batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerSummary {
    /// Claimed batches.
    pub batches: u64,
    /// Online sessions opened.
    pub sessions: u64,
    /// Invoices sent.
    pub sent: u64,
    /// Rows recorded accepted (sent now, reconciled, or resolved from a duplicate).
    pub accepted: u64,
    /// Rows recorded rejected.
    pub rejected: u64,
    /// Rows an earlier lease had sent, settled from the session's list or a metadata query.
    pub reconciled: u64,
    /// Rows given back unsettled (KSeF failed or was slow; a later claim settles them).
    pub released: u64,
    /// Rows recorded `failed` (a stored file that does not match its hash, or out of attempts).
    pub failed: u64,
    /// Rows recorded `unresolved` (in KSeF, number not known yet).
    pub unresolved: u64,
}

impl WorkerSummary {
    pub(crate) fn add(&mut self, other: &WorkerSummary) {
        self.batches += other.batches;
        self.sessions += other.sessions;
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.reconciled += other.reconciled;
        self.released += other.released;
        self.failed += other.failed;
        self.unresolved += other.unresolved;
    }

    pub(crate) fn settled(&self) -> u64 {
        self.accepted + self.rejected + self.failed + self.unresolved
    }
}
