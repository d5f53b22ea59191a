//! The outbox: invoices stored durably before anything touches the network, claimed by workers
//! under leases, and finished with KSeF's verdict.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::db::{Db, NamedDb, Row, Value};
use crate::error::Error;
use crate::location::StoreLocation;
use crate::new_invoice::NewInvoice;

/// The time format of every timestamp column: RFC 3339 in UTC with milliseconds, so that text
/// order is time order (`2026-01-31T12:00:00.000Z`).
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// The current time as the store writes it.
pub(crate) fn now_text() -> String {
    chrono::Utc::now().format(TIME_FORMAT).to_string()
}

fn text_of(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format(TIME_FORMAT).to_string()
}

fn plus(time: chrono::DateTime<chrono::Utc>, after: Duration) -> chrono::DateTime<chrono::Utc> {
    time + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::days(365))
}

#[cfg(test)]
fn later_text(after: Duration) -> String {
    text_of(plus(chrono::Utc::now(), after))
}

/// Why a row is given back to the outbox unfinished ([`Store::retry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retry {
    /// KSeF surely did not get the invoice (no session opened, a send that failed before the
    /// request left): counts towards `failures`; at the limit the row is `failed`.
    NotSent,
    /// KSeF may hold the invoice but its outcome is not settled (a lost answer, a duplicate
    /// whose original is not found yet, a status that is not final in time): counts towards
    /// `unresolved_tries`; at the limit the row is `unresolved`, never resent blindly.
    Uncertain,
}

/// The state of an outbox row (the `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// Stored, not yet claimed by a worker (or released by one).
    Pending,
    /// Claimed by a worker until `lease_expires_at`.
    Leased,
    /// In KSeF: `ksef_number`, `upo` and `accepted_at` are set.
    Accepted,
    /// Refused by KSeF: `error_code` and `error_message` are set.
    Rejected,
    /// Given up (final): KSeF surely does not hold the invoice. The stored file does not match
    /// its `invoice_hash` or `invoice_size`, or every one of the allowed attempts failed before
    /// KSeF got it; `error_message` holds the last error.
    Failed,
    /// In KSeF (or possibly so), KSeF number not known yet: the outcome could not be settled in
    /// the allowed tries (a duplicate whose original is not found, a lost answer no session list
    /// settles). Workers leave it alone and never resend it; set it back to `pending` to
    /// reconcile it again.
    Unresolved,
}

impl State {
    /// The value of the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Leased => "leased",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Failed => "failed",
            State::Unresolved => "unresolved",
        }
    }

    /// Whether the row is final (accepted, rejected or failed).
    pub fn is_final(self) -> bool {
        matches!(self, State::Accepted | State::Rejected | State::Failed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<State, String> {
        Ok(match s {
            "pending" => State::Pending,
            "leased" => State::Leased,
            "accepted" => State::Accepted,
            "rejected" => State::Rejected,
            "failed" => State::Failed,
            "unresolved" => State::Unresolved,
            other => return Err(format!("unknown state {other:?}")),
        })
    }
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The row's id.
    pub id: i64,
    /// `false` when the same invoice (seller NIP, number and hash) was already in the outbox:
    /// nothing was added.
    pub new: bool,
}

/// One outbox row, without the invoice's bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxRow {
    /// `id`.
    pub id: i64,
    /// `seller_nip`.
    pub seller_nip: String,
    /// `invoice_number`.
    pub invoice_number: String,
    /// `invoice_hash`: SHA-256 (base64) of the invoice file.
    pub invoice_hash: String,
    /// `form_code`: `FA3`, `FA2` or `FA_RR1`.
    pub form_code: String,
    /// `offline`.
    pub offline: bool,
    /// `corrected_invoice_hash`.
    pub corrected_invoice_hash: Option<String>,
    /// `state`.
    pub state: State,
    /// `worker`: the worker holding the lease.
    pub worker: Option<String>,
    /// `lease_expires_at`.
    pub lease_expires_at: Option<String>,
    /// `session_ref`: the online session the invoice was (or was about to be) sent in.
    pub session_ref: Option<String>,
    /// `invoice_ref`: the invoice's reference number in that session.
    pub invoice_ref: Option<String>,
    /// `attempts`: how many times it was claimed.
    pub attempts: i64,
    /// `ksef_number`.
    pub ksef_number: Option<String>,
    /// `upo`: the invoice's UPO (XML).
    pub upo: Option<Vec<u8>>,
    /// `accepted_at`.
    pub accepted_at: Option<String>,
    /// `error_code`: KSeF's status code of a refusal.
    pub error_code: Option<i64>,
    /// `error_message`.
    pub error_message: Option<String>,
    /// `enqueued_at`.
    pub enqueued_at: String,
    /// `updated_at`.
    pub updated_at: String,
    /// `not_before`: a released row is not claimed before this time.
    pub not_before: Option<String>,
    /// `failures`: attempts that failed before KSeF got the invoice.
    pub failures: i64,
    /// `unresolved_tries`: reconciliations that could not settle the outcome.
    pub unresolved_tries: i64,
    /// `invoice_size`: the file's size in bytes (NULL in rows an ERP inserted without it).
    pub invoice_size: Option<i64>,
}

impl fmt::Debug for OutboxRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxRow")
            .field("id", &self.id)
            .field("seller_nip", &self.seller_nip)
            .field("invoice_number", &self.invoice_number)
            .field("state", &self.state)
            .field("session_ref", &self.session_ref)
            .field("ksef_number", &self.ksef_number)
            .field("upo", &self.upo.as_ref().map(Vec::len))
            .field("error_code", &self.error_code)
            .finish_non_exhaustive()
    }
}

/// The columns of [`OutboxRow`], in its order (`invoice` is added for claims); the SQL below
/// spells them out and a test checks it agrees.
#[cfg(test)]
const COLUMNS: &str = "id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size";

/// How many columns an [`OutboxRow`] has (a claim adds `invoice`).
const ROW_COLUMNS: usize = 24;

fn row_of(mut values: Row) -> Result<(OutboxRow, Option<Vec<u8>>), Error> {
    let id = match values.first() {
        Some(Value::Int(id)) => *id,
        _ => 0,
    };
    let bad = |reason: &str| Error::BadRow {
        id,
        reason: reason.to_owned(),
    };
    let invoice = if values.len() > ROW_COLUMNS {
        match values.pop() {
            Some(Value::Bytes(b)) => Some(b),
            Some(Value::Text(t)) => Some(t.into_bytes()),
            _ => return Err(bad("invoice is not a BLOB")),
        }
    } else {
        None
    };
    let mut it = values.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    let text = |v: Value, name: &str| match v {
        Value::Text(t) => Ok(t),
        _ => Err(bad(&format!("{name} is not text"))),
    };
    let opt_text = |v: Value| match v {
        Value::Text(t) => Some(t),
        _ => None,
    };
    let int = |v: Value| match v {
        Value::Int(i) => Some(i),
        _ => None,
    };
    let _ = next();
    let seller_nip = text(next(), "seller_nip")?;
    let invoice_number = text(next(), "invoice_number")?;
    let invoice_hash = text(next(), "invoice_hash")?;
    let form_code = text(next(), "form_code")?;
    let offline = int(next()) == Some(1);
    let corrected_invoice_hash = opt_text(next());
    let state = text(next(), "state")?
        .parse::<State>()
        .map_err(|e| bad(&e))?;
    let row = OutboxRow {
        id,
        seller_nip,
        invoice_number,
        invoice_hash,
        form_code,
        offline,
        corrected_invoice_hash,
        state,
        worker: opt_text(next()),
        lease_expires_at: opt_text(next()),
        session_ref: opt_text(next()),
        invoice_ref: opt_text(next()),
        attempts: int(next()).unwrap_or(0),
        ksef_number: opt_text(next()),
        upo: match next() {
            Value::Bytes(b) => Some(b),
            Value::Text(t) => Some(t.into_bytes()),
            _ => None,
        },
        accepted_at: opt_text(next()),
        error_code: int(next()),
        error_message: opt_text(next()),
        enqueued_at: opt_text(next()).unwrap_or_default(),
        updated_at: opt_text(next()).unwrap_or_default(),
        not_before: opt_text(next()),
        failures: int(next()).unwrap_or(0),
        unresolved_tries: int(next()).unwrap_or(0),
        invoice_size: int(next()),
    };
    Ok((row, invoice))
}

/// A row claimed by a worker, with the invoice's bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// The row as it is after the claim.
    pub row: OutboxRow,
    /// The invoice file.
    pub invoice: Vec<u8>,
}

impl fmt::Debug for Claimed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claimed")
            .field("row", &self.row)
            .field("invoice", &self.invoice.len())
            .finish()
    }
}

/// How many rows are in each state ([`Store::status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateCounts {
    /// `pending`.
    pub pending: u64,
    /// `leased`.
    pub leased: u64,
    /// `accepted`.
    pub accepted: u64,
    /// `rejected`.
    pub rejected: u64,
    /// `failed`.
    pub failed: u64,
    /// `unresolved`: in KSeF (or possibly so), KSeF number not known yet.
    pub unresolved: u64,
}

impl StateCounts {
    /// Rows not yet final (pending, leased or unresolved).
    pub fn not_final(&self) -> u64 {
        self.pending + self.leased + self.unresolved
    }

    /// Every row.
    pub fn total(&self) -> u64 {
        self.not_final() + self.accepted + self.rejected + self.failed
    }
}

/// An open store: the outbox tables on SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: NamedDb,
    /// Added to this process's clock (tests of a worker whose clock is wrong); PostgreSQL's
    /// leases use the database's clock and ignore it.
    skew: chrono::Duration,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.backend())
            .finish()
    }
}

impl Store {
    /// Opens the store at `location`, creating the SQLite file and applying the migrations this
    /// build has that the database lacks.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when the database cannot be opened or migrated,
    /// [`Error::SchemaTooNew`], [`Error::InvalidLocation`] for PostgreSQL in a build without the
    /// `postgres` feature.
    pub async fn open(location: &StoreLocation) -> Result<Store, Error> {
        let name = location.to_string();
        let db = match location {
            StoreLocation::Sqlite(path) => Db::open_sqlite(path.clone()).await,
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(url) => Db::open_postgres(url.expose()).await,
            #[cfg(not(feature = "postgres"))]
            StoreLocation::Postgres(url) => {
                return Err(Error::InvalidLocation {
                    location: url.to_string(),
                    reason: "this build has no PostgreSQL support (feature `postgres`)".to_owned(),
                });
            }
        }
        .map_err(|e| e.in_store(&name))?;
        Ok(Store {
            db: NamedDb {
                inner: db,
                name: name.into(),
            },
            skew: chrono::Duration::zero(),
        })
    }

    /// For tests: this store's idea of the local clock is off by `skew` (a worker host whose
    /// clock is wrong). On PostgreSQL leases and claims use the database's clock.
    #[doc(hidden)]
    pub fn with_clock_skew_for_tests(mut self, skew: chrono::Duration) -> Store {
        self.skew = skew;
        self
    }

    /// For tests: a SQLite writer waits `timeout` (not 30 s) for another connection's lock
    /// before failing busy. No effect on PostgreSQL.
    #[doc(hidden)]
    pub fn with_busy_timeout_for_tests(self, timeout: Duration) -> Result<Store, Error> {
        self.db.set_busy_timeout(timeout)?;
        Ok(self)
    }

    /// The time leases and claims are measured by: the database's clock on PostgreSQL (workers
    /// on many hosts agree on it), this process's on SQLite (one machine).
    async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, Error> {
        match self.db.inner {
            Db::Sqlite(_) => Ok(chrono::Utc::now() + self.skew),
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => {
                let rows = self
                    .db
                    .query(
                        "reading the database's clock",
                        "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
                        vec![],
                    )
                    .await?;
                let millis = first_int(&rows).unwrap_or_default();
                chrono::DateTime::from_timestamp_millis(millis).ok_or_else(|| Error::BadRow {
                    id: 0,
                    reason: format!("the database's clock reads {millis} ms"),
                })
            }
        }
    }

    /// Stores a checked invoice as `pending`, durably (the commit is on disk when this returns).
    /// Idempotent on (seller NIP, invoice number, hash): the same invoice again returns the first
    /// row's id with `new: false`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn enqueue(&self, invoice: &NewInvoice) -> Result<Enqueued, Error> {
        let enqueued = self.enqueue_all(std::slice::from_ref(invoice)).await?;
        enqueued.into_iter().next().ok_or_else(|| Error::NotFound {
            what: format!(
                "{} of seller {} after enqueueing it",
                invoice.invoice_number, invoice.seller_nip
            ),
        })
    }

    /// Stores checked invoices as `pending`, many in one statement (one transaction, one
    /// commit to disk, per [`ENQUEUE_CHUNK`] invoices): what [`Store::enqueue`] does for each,
    /// at a far higher rate. The results are in the order of `invoices`.
    ///
    /// # Errors
    ///
    /// [`Error::Database`]; the invoices of a chunk are stored all or none.
    pub async fn enqueue_all(&self, invoices: &[NewInvoice]) -> Result<Vec<Enqueued>, Error> {
        let mut out = Vec::with_capacity(invoices.len());
        for chunk in invoices.chunks(ENQUEUE_CHUNK) {
            out.extend(self.enqueue_chunk(chunk).await?);
        }
        Ok(out)
    }

    async fn enqueue_chunk(&self, invoices: &[NewInvoice]) -> Result<Vec<Enqueued>, Error> {
        let now = now_text();
        let mut sql = String::from(
            "INSERT INTO ksef_outbox (seller_nip, invoice_number, invoice_hash, form_code, \
             invoice, offline, corrected_invoice_hash, state, enqueued_at, updated_at, \
             invoice_size) VALUES ",
        );
        let mut params: Vec<Value> = Vec::with_capacity(invoices.len() * 9);
        for (i, invoice) in invoices.iter().enumerate() {
            let p = i * 9;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 'pending', ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 8,
                p + 9
            ));
            params.extend([
                invoice.seller_nip.as_str().into(),
                invoice.invoice_number.as_str().into(),
                invoice.invoice_hash.as_str().into(),
                invoice.form_code.into(),
                invoice.bytes.clone().into(),
                i64::from(invoice.options.offline).into(),
                invoice.options.corrected_invoice_hash.clone().into(),
                now.as_str().into(),
                i64::try_from(invoice.bytes.len())
                    .unwrap_or(i64::MAX)
                    .into(),
            ]);
        }
        sql.push_str(
            " ON CONFLICT (seller_nip, invoice_number, invoice_hash) DO NOTHING \
             RETURNING id, seller_nip, invoice_number, invoice_hash",
        );
        let inserted = self.db.query("enqueueing invoices", &sql, params).await?;
        let mut ids = std::collections::HashMap::new();
        for row in inserted {
            if let [
                Value::Int(id),
                Value::Text(nip),
                Value::Text(number),
                Value::Text(hash),
            ] = row.as_slice()
            {
                ids.insert((nip.clone(), number.clone(), hash.clone()), *id);
            }
        }
        let mut out = Vec::with_capacity(invoices.len());
        for invoice in invoices {
            let key = (
                invoice.seller_nip.clone(),
                invoice.invoice_number.clone(),
                invoice.invoice_hash.clone(),
            );
            match ids.remove(&key) {
                Some(id) => out.push(Enqueued { id, new: true }),
                None => out.push(Enqueued {
                    id: self.existing_id(invoice).await?,
                    new: false,
                }),
            }
        }
        Ok(out)
    }

    async fn existing_id(&self, invoice: &NewInvoice) -> Result<i64, Error> {
        let existing = self
            .db
            .query(
                "finding an enqueued invoice",
                "SELECT id FROM ksef_outbox \
                 WHERE seller_nip = $1 AND invoice_number = $2 AND invoice_hash = $3",
                vec![
                    invoice.seller_nip.as_str().into(),
                    invoice.invoice_number.as_str().into(),
                    invoice.invoice_hash.as_str().into(),
                ],
            )
            .await?;
        first_int(&existing).ok_or_else(|| Error::NotFound {
            what: format!(
                "{} of seller {} after a conflicting insert",
                invoice.invoice_number, invoice.seller_nip
            ),
        })
    }

    /// Claims up to `n` rows for `worker` until now + `lease`: pending rows whose `not_before`
    /// has passed, and leased rows whose lease expired (their worker died), oldest first. A
    /// claimed row keeps its sessions ([`Store::sessions`]), so the worker can reconcile before
    /// sending again. Time is the database's on PostgreSQL, where concurrent claims skip each
    /// other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the claim is one statement, a
    /// transaction of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::BadRow`].
    pub async fn claim(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        let now = self.now().await?;
        let params = vec![
            worker.into(),
            text_of(plus(now, lease)).into(),
            text_of(now).into(),
            i64::try_from(n).unwrap_or(i64::MAX).into(),
        ];
        let rows = match self.db.inner {
            Db::Sqlite(_) => {
                self.db
                    .query("claiming invoices", CLAIM_SQLITE, params)
                    .await?
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => {
                self.db
                    .query("claiming invoices", CLAIM_POSTGRES, params)
                    .await?
            }
        };
        let mut claimed = rows
            .into_iter()
            .map(|values| {
                let (row, invoice) = row_of(values)?;
                Ok(Claimed {
                    invoice: invoice.unwrap_or_default(),
                    row,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        claimed.sort_by_key(|c| c.row.id);
        Ok(claimed)
    }

    /// Records, before any invoice of it is sent, the online session `session_ref` the leased
    /// rows `ids` go to: added to the row's sessions ([`Store::sessions`]; earlier ones are
    /// kept) and set as its `session_ref` (its `invoice_ref` is cleared).
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] (nothing of the others is undone), [`Error::Database`].
    pub async fn record_session(
        &self,
        worker: &str,
        ids: &[i64],
        session_ref: &str,
    ) -> Result<(), Error> {
        for &id in ids {
            let now = now_text();
            // The session first: a worker killed between the two statements leaves a session
            // the successor reconciles against, never a row sent in an unrecorded session.
            self.db
                .execute(
                    "recording the session of an invoice",
                    "INSERT INTO ksef_outbox_sessions (outbox_id, session_ref, recorded_at) \
                     SELECT id, $1, $2 FROM ksef_outbox \
                     WHERE id = $3 AND worker = $4 AND state = 'leased' \
                     ON CONFLICT (outbox_id, session_ref) DO NOTHING",
                    vec![
                        session_ref.into(),
                        now.as_str().into(),
                        id.into(),
                        worker.into(),
                    ],
                )
                .await?;
            let changed = self
                .db
                .execute(
                    "recording the session of an invoice",
                    "UPDATE ksef_outbox SET session_ref = $1, invoice_ref = NULL, updated_at = $2 \
                     WHERE id = $3 AND worker = $4 AND state = 'leased'",
                    vec![session_ref.into(), now.into(), id.into(), worker.into()],
                )
                .await?;
            lease_held(changed, id, worker)?;
        }
        Ok(())
    }

    /// Every session row `id` was bound to, oldest first: `(session_ref, invoice_ref)`, the
    /// invoice's reference when its send was answered.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn sessions(&self, id: i64) -> Result<Vec<(String, Option<String>)>, Error> {
        let rows = self
            .db
            .query(
                "reading an invoice's sessions",
                "SELECT session_ref, invoice_ref FROM ksef_outbox_sessions \
                 WHERE outbox_id = $1 ORDER BY recorded_at, session_ref",
                vec![id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let mut it = row.into_iter();
                match (it.next(), it.next()) {
                    (Some(Value::Text(session)), Some(Value::Text(invoice))) => {
                        Some((session, Some(invoice)))
                    }
                    (Some(Value::Text(session)), _) => Some((session, None)),
                    _ => None,
                }
            })
            .collect())
    }

    /// Extends the lease on row `id` to `lease` from now, but only while it is still held: leased
    /// by `worker` and not yet expired. A worker calls it right before sending a row (and before
    /// settling one), so a row is never sent once a successor may have taken it over, and a long
    /// batch does not outlive its leases.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the lease expired or another worker holds the row;
    /// [`Error::Database`].
    pub async fn renew(&self, worker: &str, id: i64, lease: Duration) -> Result<(), Error> {
        let now = self.now().await?;
        let changed = self
            .db
            .execute(
                "renewing a lease",
                "UPDATE ksef_outbox SET lease_expires_at = $1, updated_at = $2 \
                 WHERE id = $3 AND worker = $4 AND state = 'leased' AND lease_expires_at > $2",
                vec![
                    text_of(plus(now, lease)).into(),
                    text_of(now).into(),
                    id.into(),
                    worker.into(),
                ],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Records the reference number KSeF gave the leased row `id` in its current session.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    pub async fn record_sent(&self, worker: &str, id: i64, invoice_ref: &str) -> Result<(), Error> {
        self.db
            .execute(
                "recording a sent invoice",
                "UPDATE ksef_outbox_sessions SET invoice_ref = $1 \
                 WHERE outbox_id = $2 AND session_ref = \
                 (SELECT session_ref FROM ksef_outbox WHERE id = $2 AND worker = $3 \
                 AND state = 'leased')",
                vec![invoice_ref.into(), id.into(), worker.into()],
            )
            .await?;
        let changed = self
            .db
            .execute(
                "recording a sent invoice",
                "UPDATE ksef_outbox SET invoice_ref = $1, updated_at = $2 \
                 WHERE id = $3 AND worker = $4 AND state = 'leased'",
                vec![
                    invoice_ref.into(),
                    now_text().into(),
                    id.into(),
                    worker.into(),
                ],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Finishes the leased row `id` as accepted, with its KSeF number and UPO (`None` when no
    /// session was known to read it from: an invoice found by a metadata query, or a duplicate
    /// whose original's session KSeF did not name).
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    pub async fn record_accepted(
        &self,
        worker: &str,
        id: i64,
        ksef_number: &str,
        upo: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let now = now_text();
        let changed = self
            .db
            .execute(
                "recording an accepted invoice",
                "UPDATE ksef_outbox SET state = 'accepted', ksef_number = $1, upo = $2, \
                 accepted_at = $3, updated_at = $3, worker = NULL, lease_expires_at = NULL, \
                 error_code = NULL, error_message = NULL, not_before = NULL \
                 WHERE id = $4 AND worker = $5 AND state = 'leased'",
                vec![
                    ksef_number.into(),
                    upo.into(),
                    now.into(),
                    id.into(),
                    worker.into(),
                ],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Finishes the leased row `id` as refused by KSeF with status `code` and `message`.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    pub async fn record_rejected(
        &self,
        worker: &str,
        id: i64,
        code: i64,
        message: &str,
    ) -> Result<(), Error> {
        let changed = self
            .db
            .execute(
                "recording a rejected invoice",
                "UPDATE ksef_outbox SET state = 'rejected', error_code = $1, error_message = $2, \
                 updated_at = $3, worker = NULL, lease_expires_at = NULL, not_before = NULL \
                 WHERE id = $4 AND worker = $5 AND state = 'leased'",
                vec![
                    code.into(),
                    message.into(),
                    now_text().into(),
                    id.into(),
                    worker.into(),
                ],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Finishes the leased row `id` as `failed` with `message`: KSeF surely does not hold it (its
    /// stored file does not match its hash, say); it is never sent.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    pub async fn record_failed(&self, worker: &str, id: i64, message: &str) -> Result<(), Error> {
        let changed = self
            .db
            .execute(
                "recording a failed invoice",
                "UPDATE ksef_outbox SET state = 'failed', error_code = NULL, error_message = $1, \
                 updated_at = $2, worker = NULL, lease_expires_at = NULL, not_before = NULL \
                 WHERE id = $3 AND worker = $4 AND state = 'leased'",
                vec![message.into(), now_text().into(), id.into(), worker.into()],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Gives the leased row `id` back (`pending`) at once, keeping its sessions for the
    /// reconciliation of the next claim (a worker stopping; not after a failure: see
    /// [`Store::retry`]).
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    pub async fn release(&self, worker: &str, id: i64) -> Result<(), Error> {
        let changed = self
            .db
            .execute(
                "releasing an invoice",
                "UPDATE ksef_outbox SET state = 'pending', worker = NULL, \
                 lease_expires_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND worker = $3 AND state = 'leased'",
                vec![now_text().into(), id.into(), worker.into()],
            )
            .await?;
        lease_held(changed, id, worker)
    }

    /// Gives the leased row `id` back after a failure: `pending`, not claimable before `after`
    /// from now (KSeF may still be processing what it got), with `message` (and KSeF's `code`,
    /// if any) as its last error. `why` says which counter grows; at `limit` tries the row goes
    /// to `failed` ([`Retry::NotSent`]) or `unresolved` ([`Retry::Uncertain`]) instead. Returns
    /// the row's new state.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`], [`Error::Database`].
    #[allow(clippy::too_many_arguments)]
    pub async fn retry(
        &self,
        worker: &str,
        id: i64,
        why: Retry,
        after: Duration,
        limit: u32,
        code: Option<i64>,
        message: &str,
    ) -> Result<State, Error> {
        let now = self.now().await?;
        let params = vec![
            text_of(plus(now, after)).into(),
            code.into(),
            message.into(),
            text_of(now).into(),
            i64::from(limit.max(1)).into(),
            id.into(),
            worker.into(),
        ];
        let sql = match why {
            Retry::NotSent => RETRY_NOT_SENT,
            Retry::Uncertain => RETRY_UNCERTAIN,
        };
        let rows = self.db.query("giving an invoice back", sql, params).await?;
        match rows.first().and_then(|r| r.first()) {
            Some(Value::Text(state)) => {
                state.parse().map_err(|reason| Error::BadRow { id, reason })
            }
            _ => Err(Error::LeaseLost {
                id,
                worker: worker.to_owned(),
            }),
        }
    }

    /// How long until the earliest `pending` row that waits for its `not_before` may be claimed
    /// (`None` when no row waits).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn next_due(&self) -> Result<Option<Duration>, Error> {
        let now = self.now().await?;
        let rows = self
            .db
            .query(
                "reading the next retry time",
                "SELECT MIN(not_before) FROM ksef_outbox \
                 WHERE state = 'pending' AND not_before > $1",
                vec![text_of(now).into()],
            )
            .await?;
        let Some(Value::Text(next)) = rows.first().and_then(|r| r.first()) else {
            return Ok(None);
        };
        let next = chrono::NaiveDateTime::parse_from_str(next, TIME_FORMAT)
            .map_err(|e| Error::BadRow {
                id: 0,
                reason: format!("not_before {next:?}: {e}"),
            })?
            .and_utc();
        Ok(Some((next - now).to_std().unwrap_or_default()))
    }
    /// Gives back every row `worker` still holds; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn release_all(&self, worker: &str) -> Result<u64, Error> {
        self.db
            .execute(
                "releasing a worker's invoices",
                "UPDATE ksef_outbox SET state = 'pending', worker = NULL, \
                 lease_expires_at = NULL, updated_at = $1 \
                 WHERE worker = $2 AND state = 'leased'",
                vec![now_text().into(), worker.into()],
            )
            .await
    }

    /// How many rows are in each state.
    ///
    /// # Errors
    ///
    /// [`Error::Database`], [`Error::BadRow`] for a state the schema does not know.
    pub async fn status(&self) -> Result<StateCounts, Error> {
        let rows = self
            .db
            .query(
                "counting the outbox",
                "SELECT state, COUNT(*) FROM ksef_outbox GROUP BY state",
                vec![],
            )
            .await?;
        let mut counts = StateCounts::default();
        for row in rows {
            let (Some(Value::Text(state)), Some(Value::Int(n))) = (row.first(), row.get(1)) else {
                continue;
            };
            let n = u64::try_from(*n).unwrap_or(0);
            match state.parse::<State>() {
                Ok(State::Pending) => counts.pending = n,
                Ok(State::Leased) => counts.leased = n,
                Ok(State::Accepted) => counts.accepted = n,
                Ok(State::Rejected) => counts.rejected = n,
                Ok(State::Failed) => counts.failed = n,
                Ok(State::Unresolved) => counts.unresolved = n,
                Err(reason) => return Err(Error::BadRow { id: 0, reason }),
            }
        }
        Ok(counts)
    }

    /// The rows whose invoice number, KSeF number or invoice hash is `invoice`, oldest first
    /// (one invoice number may belong to several sellers).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when none matches, [`Error::Database`].
    pub async fn show(&self, invoice: &str) -> Result<Vec<OutboxRow>, Error> {
        let rows = self
            .db
            .query("looking up an invoice", SHOW, vec![invoice.into()])
            .await?;
        if rows.is_empty() {
            return Err(Error::NotFound {
                what: format!("{invoice:?} (by invoice number, KSeF number or hash)"),
            });
        }
        rows.into_iter()
            .map(|r| row_of(r).map(|(row, _)| row))
            .collect()
    }

    /// Every row, oldest first (for tests and reports of a small outbox).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn rows(&self) -> Result<Vec<OutboxRow>, Error> {
        let rows = self
            .db
            .query("reading the outbox", ALL_ROWS, vec![])
            .await?;
        rows.into_iter()
            .map(|r| row_of(r).map(|(row, _)| row))
            .collect()
    }
}

/// Invoices stored by one statement of [`Store::enqueue_all`] (9 parameters each, within
/// SQLite's limit of 32,766).
pub const ENQUEUE_CHUNK: usize = 500;

fn first_int(rows: &[Row]) -> Option<i64> {
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Int(id)) => Some(*id),
        _ => None,
    }
}

fn lease_held(changed: u64, id: i64, worker: &str) -> Result<(), Error> {
    if changed == 0 {
        return Err(Error::LeaseLost {
            id,
            worker: worker.to_owned(),
        });
    }
    Ok(())
}

macro_rules! retry_sql {
    ($counter:literal, $limit_state:literal) => {
        concat!(
            "UPDATE ksef_outbox SET ",
            $counter,
            " = ",
            $counter,
            " + 1, state = CASE WHEN ",
            $counter,
            " + 1 >= $5 THEN '",
            $limit_state,
            "' ELSE 'pending' END, not_before = $1, error_code = $2, error_message = $3, \
             worker = NULL, lease_expires_at = NULL, updated_at = $4 \
             WHERE id = $6 AND worker = $7 AND state = 'leased' RETURNING state"
        )
    };
}

const RETRY_NOT_SENT: &str = retry_sql!("failures", "failed");
const RETRY_UNCERTAIN: &str = retry_sql!("unresolved_tries", "unresolved");

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE ksef_outbox SET state = 'leased', worker = $1, lease_expires_at = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM ksef_outbox \
             WHERE (state = 'pending' AND (not_before IS NULL OR not_before <= $3)) \
             OR (state = 'leased' AND lease_expires_at < $3) \
             ORDER BY id LIMIT $4",
            $lock,
            ") RETURNING id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
             corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, \
             attempts, ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, \
             updated_at, not_before, failures, unresolved_tries, invoice_size, invoice"
        )
    };
}

const CLAIM_SQLITE: &str = claim_sql!("");
#[cfg(feature = "postgres")]
const CLAIM_POSTGRES: &str = claim_sql!(" FOR UPDATE SKIP LOCKED");

const SHOW: &str = "SELECT id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size \
     FROM ksef_outbox WHERE invoice_number = $1 OR ksef_number = $1 OR invoice_hash = $1 \
     ORDER BY id";

const ALL_ROWS: &str = "SELECT id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size \
     FROM ksef_outbox ORDER BY id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_column_lists_agree() {
        let claim_columns = CLAIM_SQLITE.split("RETURNING ").nth(1).unwrap();
        assert_eq!(claim_columns, format!("{COLUMNS}, invoice"));
        for sql in [SHOW, ALL_ROWS] {
            assert!(sql.contains(COLUMNS), "{sql}");
        }
    }

    #[test]
    fn times_sort_as_text() {
        let a = now_text();
        let b = later_text(Duration::from_millis(1500));
        assert!(a < b, "{a} {b}");
        assert!(a.ends_with('Z') && a.len() == 24, "{a}");
    }
}
