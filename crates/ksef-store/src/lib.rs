//! Durable KSeF work on a database: an **outbox** of invoices that survives crashes, on SQLite
//! (the default: one file, nothing to install) or PostgreSQL (feature `postgres`: many workers
//! on many hosts share one database), and a **worker** that sends it exactly once.
//!
//! [`Store::enqueue`] checks an invoice with ksef-model's offline validator (a malformed invoice
//! is refused here, never mid-batch) and commits it before anything touches the network.
//! [`run_worker`] claims rows under leases, sends them in one online session per claimed batch
//! (and form), and records each invoice's KSeF number and UPO, or KSeF's refusal. A worker that
//! dies leaves leases that expire; the next claim of such a row first looks for the invoice in
//! every session it was bound to (each stored before its first send), so nothing is sent twice,
//! and a duplicate (440) is resolved to the original's KSeF number. A row given back after a
//! failure or an unknown outcome waits a grace period (`not_before`) before anyone reconciles or
//! resends it; tries are bounded (`failed`, `unresolved`). The stored file is checked against its
//! hash and size before anything is sent. On PostgreSQL leases are measured by the database's
//! clock.
//!
//! # The tables are an interface
//!
//! An ERP in any language may insert invoices and read outcomes directly; these tables and
//! states are stable across minor versions (a change is a new migration, recorded in
//! `ksef_store_migrations (version, applied_at)`).
//!
//! `ksef_outbox`, one row per invoice (timestamps are text, RFC 3339 in UTC with milliseconds,
//! e.g. `2026-01-31T12:00:00.000Z`, so text order is time order):
//!
//! | column | type | meaning |
//! | --- | --- | --- |
//! | `id` | integer, key | assigned on insert |
//! | `seller_nip` | text | the seller's NIP (`Podmiot1`) |
//! | `invoice_number` | text | `P_2` |
//! | `invoice_hash` | text | SHA-256 of the file, standard base64 (KSeF's `invoiceHash`) |
//! | `form_code` | text | `FA3`, `FA2` or `FA_RR1` |
//! | `invoice` | blob (bytea) | the invoice file, as sent |
//! | `offline` | integer 0/1 | sent with `offlineMode: true` |
//! | `corrected_invoice_hash` | text, null | a technical correction of this hash |
//! | `state` | text | `pending`, `leased`, `accepted`, `rejected`, `failed`, `unresolved` (below) |
//! | `worker`, `lease_expires_at` | text, null | who holds the lease, until when |
//! | `session_ref`, `invoice_ref` | text, null | the latest online session and the invoice's reference in it |
//! | `attempts` | integer | how many times the row was claimed |
//! | `ksef_number`, `upo`, `accepted_at` | text, blob, text | set when accepted |
//! | `error_code`, `error_message` | integer, text | KSeF's refusal when rejected; else the last error |
//! | `enqueued_at`, `updated_at` | text | defaults to the insert time |
//! | `not_before` | text, null | a `pending` row is not claimed before this time |
//! | `failures` | integer | tries that failed before KSeF got the invoice |
//! | `unresolved_tries` | integer | reconciliations that could not settle an unknown outcome |
//! | `invoice_size` | integer, null | the file's size in bytes (checked when set) |
//!
//! `ksef_outbox_sessions`, one row per session an invoice was bound to (since version 2):
//! `outbox_id` (the `ksef_outbox.id`), `session_ref`, `invoice_ref` (null until the send was
//! answered), `recorded_at`; the key is `(outbox_id, session_ref)`.
//!
//! `(seller_nip, invoice_number, invoice_hash)` is unique: enqueueing the same invoice twice
//! adds nothing. The states:
//!
//! - `pending`: stored, waiting for a worker. An ERP inserts rows in this state, giving
//!   `seller_nip`, `invoice_number`, `invoice_hash`, `form_code` and `invoice` (and best
//!   `invoice_size`). Such rows skip the enqueue checks, but the worker recomputes the SHA-256
//!   (and size) of `invoice` before anything is sent: a mismatch makes the row `failed`, never
//!   sent. KSeF's verdict on them is recorded as for any other.
//! - `leased`: a worker holds it until `lease_expires_at`; `session_ref` is set before the
//!   invoice is sent. An expired lease is claimable again, and reconciled before any resend.
//! - `accepted` (final): `ksef_number`, `upo` (the invoice's UPO XML) and `accepted_at`; also an
//!   invoice KSeF refused as a duplicate (440) of one it holds, with the original's number. `upo`
//!   is NULL when no session was known to read it from: an invoice found by a metadata query, or
//!   a duplicate whose original's session KSeF did not name.
//! - `rejected` (final): `error_code` (KSeF's status code, e.g. 450) and `error_message`.
//! - `failed` (final): KSeF surely does not hold the invoice and the outbox gave up:
//!   `error_message` says why (the file does not match `invoice_hash`/`invoice_size`, or the
//!   maximum of attempts that failed before KSeF got it, e.g. no session could be opened).
//! - `unresolved` (parked, not final): in KSeF, KSeF number not known yet. A duplicate (440)
//!   whose original was not found, or an unknown outcome no session list settled, after the
//!   allowed reconciliations (`unresolved_tries`). Never `rejected`, never resent: workers do
//!   not claim it; set `state` back to `pending` to reconcile it again.
//!
//! A `pending` row with a `not_before` in the future was given back after a failure or an
//! unknown outcome and waits (the grace period) so KSeF can finish processing what it got.
//!
//! A row is final once `accepted`, `rejected` or `failed`; nothing changes it after that.
//!
//! # Example
//!
//! ```no_run
//! # async fn example(client: ksef_client::Client) -> Result<(), ksef_store::Error> {
//! use ksef_store::{InvoiceOptions, NewInvoice, Store, StoreLocation, WorkerOptions};
//!
//! let store = Store::open(&"sqlite:/var/lib/erp/outbox.sqlite".parse()?).await?;
//! let bytes = std::fs::read("FV-1.xml").expect("readable");
//! store.enqueue(&NewInvoice::check("FV-1.xml", bytes, InvoiceOptions::online())?).await?;
//! let options = WorkerOptions::new(ksef_store::default_worker_id()).exit_when_idle(true);
//! let summary =
//!     ksef_store::run_worker(&store, &client, &options, std::future::pending(), |_| {}).await?;
//! println!("{} accepted", summary.accepted);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod db;
mod error;
mod location;
mod new_invoice;
mod outbox;
mod queries;
mod rows;
mod schema;
mod worker;
mod worker_options;

pub use crate::error::Error;
pub use crate::location::{DEFAULT_SQLITE_FILE, PostgresUrl, StoreLocation};
pub use crate::new_invoice::{CheckedInvoice, InvoiceOptions, NewInvoice};
pub use crate::outbox::{ENQUEUE_CHUNK, Store};
pub use crate::rows::{Claimed, Enqueued, OutboxRow, Retry, State, StateCounts};
pub use crate::worker::run_worker;
pub use crate::worker_options::{WorkerOptions, WorkerSummary, default_worker_id};

/// The schema version this build creates (the highest `ksef_store_migrations.version`).
pub fn schema_version() -> i64 {
    schema::latest()
}
