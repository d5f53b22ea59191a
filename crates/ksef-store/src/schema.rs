//! The versioned, embedded migrations: each version is applied once, in order, inside one
//! transaction that also records it in `ksef_store_migrations`.

/// One migration: its version and its SQL for each backend.
pub(crate) struct Migration {
    /// Versions start at 1 and grow by one.
    pub(crate) version: i64,
    /// For SQLite.
    pub(crate) sqlite: &'static str,
    /// For PostgreSQL (only read with the `postgres` feature).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) postgres: &'static str,
}

/// Every migration, oldest first. Released migrations are never edited: a change is a new one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: "
CREATE TABLE ksef_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_nip TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    invoice_hash TEXT NOT NULL,
    form_code TEXT NOT NULL CHECK (form_code IN ('FA3', 'FA2', 'FA_RR1')),
    invoice BLOB NOT NULL,
    offline INTEGER NOT NULL DEFAULT 0 CHECK (offline IN (0, 1)),
    corrected_invoice_hash TEXT,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'leased', 'accepted', 'rejected')),
    worker TEXT,
    lease_expires_at TEXT,
    session_ref TEXT,
    invoice_ref TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    ksef_number TEXT,
    upo BLOB,
    accepted_at TEXT,
    error_code INTEGER,
    error_message TEXT,
    enqueued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (seller_nip, invoice_number, invoice_hash)
);
CREATE INDEX ksef_outbox_by_state ON ksef_outbox (state, id);
CREATE INDEX ksef_outbox_by_ksef_number ON ksef_outbox (ksef_number);
CREATE INDEX ksef_outbox_by_invoice_number ON ksef_outbox (invoice_number);
",
        postgres: "
CREATE TABLE ksef_outbox (
    id BIGSERIAL PRIMARY KEY,
    seller_nip TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    invoice_hash TEXT NOT NULL,
    form_code TEXT NOT NULL CHECK (form_code IN ('FA3', 'FA2', 'FA_RR1')),
    invoice BYTEA NOT NULL,
    offline BIGINT NOT NULL DEFAULT 0 CHECK (offline IN (0, 1)),
    corrected_invoice_hash TEXT,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'leased', 'accepted', 'rejected')),
    worker TEXT,
    lease_expires_at TEXT,
    session_ref TEXT,
    invoice_ref TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    ksef_number TEXT,
    upo BYTEA,
    accepted_at TEXT,
    error_code BIGINT,
    error_message TEXT,
    enqueued_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
    updated_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
    UNIQUE (seller_nip, invoice_number, invoice_hash)
);
CREATE INDEX ksef_outbox_by_state ON ksef_outbox (state, id);
CREATE INDEX ksef_outbox_by_ksef_number ON ksef_outbox (ksef_number);
CREATE INDEX ksef_outbox_by_invoice_number ON ksef_outbox (invoice_number);
",
    },
    // Version 2: the states `failed` and `unresolved`, a not-before time for retries, the
    // counters that bound them, the file's size, and every session an invoice was sent in.
    // SQLite cannot change a CHECK constraint: the table is rebuilt with the same ids.
    Migration {
        version: 2,
        sqlite: "
CREATE TABLE ksef_outbox_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seller_nip TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    invoice_hash TEXT NOT NULL,
    form_code TEXT NOT NULL CHECK (form_code IN ('FA3', 'FA2', 'FA_RR1')),
    invoice BLOB NOT NULL,
    offline INTEGER NOT NULL DEFAULT 0 CHECK (offline IN (0, 1)),
    corrected_invoice_hash TEXT,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'leased', 'accepted', 'rejected', 'failed', 'unresolved')),
    worker TEXT,
    lease_expires_at TEXT,
    session_ref TEXT,
    invoice_ref TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    ksef_number TEXT,
    upo BLOB,
    accepted_at TEXT,
    error_code INTEGER,
    error_message TEXT,
    enqueued_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    not_before TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    unresolved_tries INTEGER NOT NULL DEFAULT 0,
    invoice_size INTEGER,
    UNIQUE (seller_nip, invoice_number, invoice_hash)
);
INSERT INTO ksef_outbox_v2 (id, seller_nip, invoice_number, invoice_hash, form_code, invoice,
    offline, corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref,
    attempts, ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at,
    invoice_size)
SELECT id, seller_nip, invoice_number, invoice_hash, form_code, invoice, offline,
    corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts,
    ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at,
    length(invoice)
FROM ksef_outbox;
DROP TABLE ksef_outbox;
ALTER TABLE ksef_outbox_v2 RENAME TO ksef_outbox;
CREATE INDEX ksef_outbox_by_state ON ksef_outbox (state, id);
CREATE INDEX ksef_outbox_by_ksef_number ON ksef_outbox (ksef_number);
CREATE INDEX ksef_outbox_by_invoice_number ON ksef_outbox (invoice_number);
CREATE TABLE ksef_outbox_sessions (
    outbox_id INTEGER NOT NULL REFERENCES ksef_outbox (id),
    session_ref TEXT NOT NULL,
    invoice_ref TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (outbox_id, session_ref)
);
INSERT INTO ksef_outbox_sessions (outbox_id, session_ref, invoice_ref, recorded_at)
SELECT id, session_ref, invoice_ref, updated_at FROM ksef_outbox WHERE session_ref IS NOT NULL;
",
        postgres: "
ALTER TABLE ksef_outbox DROP CONSTRAINT ksef_outbox_state_check;
ALTER TABLE ksef_outbox ADD CONSTRAINT ksef_outbox_state_check
    CHECK (state IN ('pending', 'leased', 'accepted', 'rejected', 'failed', 'unresolved'));
ALTER TABLE ksef_outbox ADD COLUMN not_before TEXT;
ALTER TABLE ksef_outbox ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ksef_outbox ADD COLUMN unresolved_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ksef_outbox ADD COLUMN invoice_size BIGINT;
UPDATE ksef_outbox SET invoice_size = length(invoice);
CREATE TABLE ksef_outbox_sessions (
    outbox_id BIGINT NOT NULL REFERENCES ksef_outbox (id),
    session_ref TEXT NOT NULL,
    invoice_ref TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (outbox_id, session_ref)
);
INSERT INTO ksef_outbox_sessions (outbox_id, session_ref, invoice_ref, recorded_at)
SELECT id, session_ref, invoice_ref, updated_at FROM ksef_outbox WHERE session_ref IS NOT NULL;
",
    },
];

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The table that records applied versions (the same SQL on both backends).
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS ksef_store_migrations (
    version BIGINT PRIMARY KEY,
    applied_at TEXT NOT NULL
)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_grow_by_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        assert_eq!(latest(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn version_2_keeps_the_rows_ids_and_sessions_of_version_1_on_sqlite() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection.execute_batch(MIGRATIONS[0].sqlite).unwrap();
        connection
            .execute_batch(
                "INSERT INTO ksef_outbox (id, seller_nip, invoice_number, invoice_hash, \
                 form_code, invoice, state, session_ref, invoice_ref) VALUES \
                 (7, '5265877635', 'FV/1', 'h', 'FA3', X'3c613e', 'leased', 'S-1', 'I-1');",
            )
            .unwrap();
        connection.execute_batch(MIGRATIONS[1].sqlite).unwrap();
        let (id, state, size): (i64, String, i64) = connection
            .query_row("SELECT id, state, invoice_size FROM ksef_outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((id, state.as_str(), size), (7, "leased", 3));
        let session: (i64, String, String) = connection
            .query_row(
                "SELECT outbox_id, session_ref, invoice_ref FROM ksef_outbox_sessions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(session, (7, "S-1".to_owned(), "I-1".to_owned()));
        // New ids continue after the old ones; the new states are allowed.
        connection
            .execute_batch(
                "INSERT INTO ksef_outbox (seller_nip, invoice_number, invoice_hash, form_code, \
                 invoice, state) VALUES ('5265877635', 'FV/2', 'h2', 'FA3', X'00', 'unresolved');",
            )
            .unwrap();
        let max: i64 = connection
            .query_row("SELECT MAX(id) FROM ksef_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(max, 8);
    }
}
