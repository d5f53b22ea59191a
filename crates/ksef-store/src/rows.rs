//! The outbox's rows as Rust sees them: the states, one row, a claimed row with its invoice,
//! the counts by state, and how a database row becomes an [`OutboxRow`].

use std::fmt;
use std::str::FromStr;

use crate::db::{Row, Value};
use crate::error::Error;

/// Why a row is given back to the outbox unfinished ([`Store::retry`](crate::Store::retry)).
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

/// What [`Store::enqueue`](crate::Store::enqueue) did.
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
pub(crate) const COLUMNS: &str = "id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size";

/// How many columns an [`OutboxRow`] has (a claim adds `invoice`).
pub(crate) const ROW_COLUMNS: usize = 24;

pub(crate) fn row_of(mut values: Row) -> Result<(OutboxRow, Option<Vec<u8>>), Error> {
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

/// How many rows are in each state ([`Store::status`](crate::Store::status)).
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
