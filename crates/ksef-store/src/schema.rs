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
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
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
}];

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
}
