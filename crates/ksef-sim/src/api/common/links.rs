//! Presigned links (batch part uploads, export parts, UPOs): each carries a random signature
//! in its `sig` query parameter, kept with what it gives access to, and is refused without it.
//! The one place links are signed and checked.

use crate::errors::ApiError;

use super::{parse_query, random_hex};

/// A fresh link signature: 128 random bits as lowercase hex.
pub(crate) fn new_signature() -> String {
    random_hex(32).to_lowercase()
}

/// `url` with `signature` appended as its `sig` query parameter.
pub(crate) fn sign(url: &str, signature: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sig={signature}")
}

/// Whether `query` carries `expected` as its `sig` (an empty `expected` signs nothing).
pub(crate) fn is_signed(query: &str, expected: &str) -> bool {
    !expected.is_empty()
        && parse_query(query)
            .iter()
            .any(|(name, value)| name == "sig" && same(value.as_bytes(), expected.as_bytes()))
}

/// Refuses a link whose `sig` is missing or wrong with 403, as blob storage does.
pub(crate) fn check(query: &str, expected: &str) -> Result<(), ApiError> {
    if is_signed(query, expected) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "insufficient-resource-access",
            "The link signature is missing or wrong.",
        ))
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the secret.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_links_check_and_forged_ones_do_not() {
        let signature = new_signature();
        assert_eq!(signature.len(), 32);
        let url = sign("http://h/_sim/upo/S/U", &signature);
        let query = url.split_once('?').unwrap().1;
        assert!(is_signed(query, &signature));
        assert!(check(query, &signature).is_ok());
        assert!(!is_signed("", &signature));
        assert!(!is_signed("sig=", &signature));
        assert!(!is_signed(&format!("sig=0{signature}"), &signature));
        assert!(!is_signed("sig=", ""));
        assert_eq!(check("sig=x", &signature).unwrap_err().status, 403);
        assert_eq!(sign("http://h/x?a=1", "s"), "http://h/x?a=1&sig=s");
    }
}
