//! Fresh identifiers: random hex, reference numbers, KSeF token secrets.

use chrono::{DateTime, Utc};
use ksef_model::values::ReferenceNumber;
use rsa::rand_core::{OsRng, RngCore as _};

use crate::errors::ApiError;

/// `n` random uppercase hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    OsRng.fill_bytes(&mut bytes);
    let mut text: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    text.truncate(n);
    text
}

/// A fresh reference number of `kind` (two characters, e.g. `SO`) dated `now`.
pub(crate) fn new_reference(now: DateTime<Utc>, kind: &str) -> Result<ReferenceNumber, ApiError> {
    ReferenceNumber::from_parts(now.date_naive(), kind, &random_hex(10), &random_hex(10))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The secret of a new KSeF token (the shape KSeF uses: reference, context, random part).
pub(crate) fn token_secret(reference: &str, nip: &str) -> String {
    format!("{reference}|nip-{nip}|{}", random_hex(64).to_lowercase())
}
