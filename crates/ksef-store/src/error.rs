//! The crate's one error type.

/// What went wrong in the store or the worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store location is not `sqlite:PATH` or `postgres://...` (or names a backend this build
    /// lacks).
    #[error("invalid store location {location:?}: {reason}")]
    InvalidLocation {
        /// The location as given (a PostgreSQL URL with its password replaced by `***`).
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database refused an operation or could not be reached (a read-only or locked file, a
    /// server that stopped or refuses writes): a worker stops on it, leaving what it holds to
    /// lease expiry.
    #[error("database error in store {store} while {action}")]
    Database {
        /// The store, as its location reads (a PostgreSQL password shown as `***`).
        store: String,
        /// What the store was doing.
        action: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database's schema is newer than this build knows.
    #[error(
        "the store's schema is at version {found}, newer than this build's {known}; upgrade ksef-store"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// An invoice was refused at enqueue: it is not a valid invoice, or lacks what the outbox
    /// keys it by.
    #[error("invoice {name} refused: {reason}")]
    InvalidInvoice {
        /// The name the caller gave the invoice (usually its file).
        name: String,
        /// Why, with the validator's findings.
        reason: String,
    },
    /// A row is no longer leased by this worker (its lease expired and another worker took it):
    /// the outcome was not recorded by this worker.
    #[error("outbox row {id} is no longer leased by worker {worker}")]
    LeaseLost {
        /// The row.
        id: i64,
        /// The worker that held the lease.
        worker: String,
    },
    /// No outbox row matches.
    #[error("no invoice {what} in the outbox")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// A row's stored file is not the one its `invoice_hash` (or `invoice_size`) names: a row
    /// written by hand, or bytes changed after enqueue. Recorded on the row (`failed`); never
    /// sent.
    #[error(
        "outbox row {id}: the stored invoice has SHA-256 {actual_hash} and {actual_size} bytes, \
         but the row says {stored_hash} and {stored_size} bytes"
    )]
    InvoiceMismatch {
        /// The row.
        id: i64,
        /// `invoice_hash` as stored.
        stored_hash: String,
        /// `invoice_size` as stored (`?` when NULL).
        stored_size: String,
        /// SHA-256 (base64) of the stored bytes.
        actual_hash: String,
        /// The stored bytes' length.
        actual_size: usize,
    },
    /// A stored value is not what the schema allows (a row written by hand with a bad state).
    #[error("outbox row {id}: {reason}")]
    BadRow {
        /// The row.
        id: i64,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn db(
        action: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Database {
            store: String::new(),
            action: action.into(),
            source: Box::new(source),
        }
    }

    /// Names the store in a [`Error::Database`] that does not name one yet.
    pub(crate) fn in_store(self, name: &str) -> Error {
        match self {
            Error::Database {
                store,
                action,
                source,
            } if store.is_empty() => Error::Database {
                store: name.to_owned(),
                action,
                source,
            },
            other => other,
        }
    }
}
