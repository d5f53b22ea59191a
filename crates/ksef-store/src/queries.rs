//! The SQL of the outbox's claims, retries and reads, the same text for both backends
//! (`$n` placeholders; SQLite takes them too).

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

pub(crate) const RETRY_NOT_SENT: &str = retry_sql!("failures", "failed");
pub(crate) const RETRY_UNCERTAIN: &str = retry_sql!("unresolved_tries", "unresolved");

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

pub(crate) const CLAIM_SQLITE: &str = claim_sql!("");
#[cfg(feature = "postgres")]
pub(crate) const CLAIM_POSTGRES: &str = claim_sql!(" FOR UPDATE SKIP LOCKED");

pub(crate) const SHOW: &str = "SELECT id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size \
     FROM ksef_outbox WHERE invoice_number = $1 OR ksef_number = $1 OR invoice_hash = $1 \
     ORDER BY id";

pub(crate) const ALL_ROWS: &str = "SELECT id, seller_nip, invoice_number, invoice_hash, form_code, offline, \
     corrected_invoice_hash, state, worker, lease_expires_at, session_ref, invoice_ref, attempts, \
     ksef_number, upo, accepted_at, error_code, error_message, enqueued_at, updated_at, \
     not_before, failures, unresolved_tries, invoice_size \
     FROM ksef_outbox ORDER BY id";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::COLUMNS;

    #[test]
    fn the_column_lists_agree() {
        let claim_columns = CLAIM_SQLITE.split("RETURNING ").nth(1).unwrap();
        assert_eq!(claim_columns, format!("{COLUMNS}, invoice"));
        for sql in [SHOW, ALL_ROWS] {
            assert!(sql.contains(COLUMNS), "{sql}");
        }
    }
}
