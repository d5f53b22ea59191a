//! Durable KSeF work on a database: an **outbox** of invoices that survives crashes, on SQLite
//! (the default: one file, nothing to install) or PostgreSQL (feature `postgres`: many workers
//! on many hosts share one database), and a **worker** that sends it exactly once.
//!
//! [`Store::enqueue`] checks an invoice with ksef-model's offline validator (a malformed invoice
//! is refused here, never mid-batch) and commits it before anything touches the network.
//! [`run_worker`] claims rows under leases, sends them in one online session per claimed batch
//! (and form), and records each invoice's KSeF number and UPO, or KSeF's refusal. A worker that
//! dies leaves leases that expire; the next claim of such a row first looks for the invoice in
//! the session it was bound to (stored before the first send), so nothing is sent twice, and a
//! duplicate (440) is resolved to the original's KSeF number.
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
//! | `state` | text | `pending`, `leased`, `accepted`, `rejected` (below) |
//! | `worker`, `lease_expires_at` | text, null | who holds the lease, until when |
//! | `session_ref`, `invoice_ref` | text, null | the online session and the invoice's reference in it |
//! | `attempts` | integer | how many times the row was claimed |
//! | `ksef_number`, `upo`, `accepted_at` | text, blob, text | set when accepted |
//! | `error_code`, `error_message` | integer, text | KSeF's refusal, set when rejected |
//! | `enqueued_at`, `updated_at` | text | defaults to the insert time |
//!
//! `(seller_nip, invoice_number, invoice_hash)` is unique: enqueueing the same invoice twice
//! adds nothing. The states:
//!
//! - `pending`: stored, waiting for a worker. An ERP inserts rows in this state, giving
//!   `seller_nip`, `invoice_number`, `invoice_hash`, `form_code` and `invoice` (such rows skip the
//!   enqueue checks; KSeF's verdict on them is recorded as for any other).
//! - `leased`: a worker holds it until `lease_expires_at`; `session_ref` is set before the
//!   invoice is sent. An expired lease is claimable again, and reconciled before any resend.
//! - `accepted` (final): `ksef_number`, `upo` (the invoice's UPO XML) and `accepted_at`; also an
//!   invoice KSeF refused as a duplicate (440) of one it holds, with the original's number. `upo`
//!   is NULL when no session was known to read it from: an invoice found by a metadata query, or
//!   a duplicate whose original's session KSeF did not name.
//! - `rejected` (final): `error_code` (KSeF's status code, e.g. 450) and `error_message`.
//!
//! A row is final once `accepted` or `rejected`; nothing changes it after that.
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
mod schema;
mod worker;

pub use crate::error::Error;
pub use crate::location::{DEFAULT_SQLITE_FILE, PostgresUrl, StoreLocation};
pub use crate::new_invoice::{InvoiceOptions, NewInvoice};
pub use crate::outbox::{Claimed, Enqueued, OutboxRow, State, StateCounts, Store};
pub use crate::worker::{WorkerOptions, WorkerSummary, default_worker_id, run_worker};

/// The schema version this build creates (the highest `ksef_store_migrations.version`).
pub fn schema_version() -> i64 {
    schema::latest()
}
