//! `ksef outbox ...` and `ksef worker`: the durable outbox (ksef-store).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `--store`: where the outbox lives.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The store: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE [default: sqlite:outbox.sqlite
    /// in the ksef home]. A PostgreSQL password belongs in KSEF_STORE (the environment), never
    /// in the argument.
    #[arg(long, env = "KSEF_STORE", value_name = "LOCATION")]
    pub(crate) store: Option<String>,
}

/// `ksef outbox ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// Check invoice files (as `invoice validate` does) and store them durably for `ksef
    /// worker`; nothing is stored unless every file is valid. The same invoice (seller NIP,
    /// number, hash) again is not added twice.
    Add {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The invoices were issued in an offline mode (sent with offlineMode).
        #[arg(long)]
        offline: bool,
        /// A technical correction of the rejected offline invoice with this SHA-256 (base64);
        /// implies --offline. One file only.
        #[arg(long, value_name = "HASH")]
        corrects: Option<String>,
        /// Where the outbox lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// How many invoices are in each state (pending, leased, accepted, rejected, failed,
    /// unresolved).
    Status {
        /// Where the outbox lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// An invoice's row(s): state, KSeF number, UPO, refusal. By invoice number, KSeF number or
    /// invoice hash.
    Show {
        /// The invoice number (P_2), KSeF number or SHA-256 (base64) of the file.
        invoice: String,
        /// Write the UPO of each accepted row into this directory as `UPO-<KSeF number>.xml`.
        #[arg(long, value_name = "DIR")]
        upo_dir: Option<PathBuf>,
        /// Where the outbox lives.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `ksef worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Where the outbox lives.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Invoices claimed at once; each claimed batch is sent in one online session per form.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) batch_size: usize,
    /// How long a claim holds an invoice (seconds); a dead worker's invoices are taken over,
    /// after reconciliation, when it expires.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub(crate) lease_secs: u64,
    /// Stop when no invoice is left to claim instead of waiting for more.
    #[arg(long)]
    pub(crate) until_empty: bool,
    /// Multiply the client's pacing limits (the Ministry's per-context table) by F: below 1 for
    /// a margin; above 1 only against a simulator whose limits are off or scaled alike (`ksef
    /// sim --rate-limit-scale`).
    #[arg(long, value_name = "F")]
    pub(crate) rate_limit_scale: Option<f64>,
    /// How long an invoice given back after a failure or an unknown outcome waits before it is
    /// claimed again (milliseconds; the n-th try waits n times this), so KSeF can finish
    /// processing before it is reconciled or resent.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub(crate) retry_grace_ms: u64,
    /// Tries that fail before KSeF gets an invoice, after which it is `failed`.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) max_attempts: u32,
    /// Reconciliations that cannot settle an unknown outcome, after which the invoice is
    /// `unresolved` (in KSeF, number not known yet; never resent).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) max_unresolved: u32,
}
