//! The outbox: invoices stored durably before anything touches the network, claimed by workers
//! under leases, and finished with KSeF's verdict.

use std::fmt;
use std::time::Duration;

use crate::db::{Db, NamedDb, Row, Value};
use crate::error::Error;
use crate::location::StoreLocation;
use crate::new_invoice::NewInvoice;
#[cfg(feature = "postgres")]
use crate::queries::CLAIM_POSTGRES;
use crate::queries::{ALL_ROWS, CLAIM_SQLITE, RETRY_NOT_SENT, RETRY_UNCERTAIN, SHOW};
use crate::rows::{Claimed, Enqueued, OutboxRow, Retry, State, StateCounts, row_of};

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
        let bound = self.record_session_held(worker, ids, session_ref).await?;
        match ids.iter().find(|id| !bound.contains(id)) {
            Some(&id) => lease_held(0, id, worker),
            None => Ok(()),
        }
    }

    /// As [`Store::record_session`] for every row of `ids` whose lease `worker` still holds, in
    /// two statements whatever their number; returns those rows' ids (the others are not to be
    /// sent: another worker may hold them).
    ///
    /// # Errors
    ///
    /// [`Error::Database`].
    pub async fn record_session_held(
        &self,
        worker: &str,
        ids: &[i64],
        session_ref: &str,
    ) -> Result<Vec<i64>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_text();
        // $1 session, $2 time, $3 worker, then the ids.
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let params = || {
            let mut params: Vec<Value> =
                vec![session_ref.into(), now.as_str().into(), worker.into()];
            params.extend(ids.iter().map(|&id| Value::from(id)));
            params
        };
        // The sessions first: a worker killed between the two statements leaves sessions the
        // successor reconciles against, never a row sent in an unrecorded session.
        self.db
            .execute(
                "recording the session of invoices",
                &format!(
                    "INSERT INTO ksef_outbox_sessions (outbox_id, session_ref, recorded_at) \
                     SELECT id, $1, $2 FROM ksef_outbox \
                     WHERE id IN ({list}) AND worker = $3 AND state = 'leased' \
                     ON CONFLICT (outbox_id, session_ref) DO NOTHING"
                ),
                params(),
            )
            .await?;
        let rows = self
            .db
            .query(
                "recording the session of invoices",
                &format!(
                    "UPDATE ksef_outbox SET session_ref = $1, invoice_ref = NULL, updated_at = $2 \
                     WHERE id IN ({list}) AND worker = $3 AND state = 'leased' RETURNING id"
                ),
                params(),
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| match row.first() {
                Some(Value::Int(id)) => Some(*id),
                _ => None,
            })
            .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_as_text() {
        let a = now_text();
        let b = later_text(Duration::from_millis(1500));
        assert!(a < b, "{a} {b}");
        assert!(a.ends_with('Z') && a.len() == 24, "{a}");
    }
}
