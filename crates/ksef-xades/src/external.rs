//! Signing outside this library: hand out the unsigned request, check what comes back.
//!
//! Users who sign with a qualified signature application (or any tool that cannot be driven through the
//! [`Signer`](crate::Signer) trait) get the unsigned `AuthTokenRequest` from [`unsigned_request`], sign it
//! there, and pass the signed file to [`check_signed_request`] before it is submitted, which catches a
//! wrong file, a broken signature or a stale challenge locally instead of as a KSeF error.

use crate::Error;
use crate::request::AuthTokenRequest;
use crate::xades::{VerifiedSignature, verify};

/// The unsigned document to sign externally (the same as [`AuthTokenRequest::to_xml`]).
///
/// # Errors
///
/// As for [`AuthTokenRequest::to_xml`].
pub fn unsigned_request(request: &AuthTokenRequest) -> Result<Vec<u8>, Error> {
    request.to_xml()
}

/// Checks an externally signed `AuthTokenRequest`: well-formed, carrying exactly one valid XAdES
/// signature (see [`verify`]), and answering `expected_challenge`.
///
/// # Errors
///
/// Any error of [`verify`]; [`Error::ChallengeMismatch`] if the document is for another challenge (or
/// has none).
pub fn check_signed_request(
    signed: &[u8],
    expected_challenge: &str,
) -> Result<VerifiedSignature, Error> {
    let verified = verify(signed)?;
    let found = verified.challenge().unwrap_or_default();
    if found != expected_challenge {
        return Err(Error::ChallengeMismatch {
            expected: expected_challenge.to_owned(),
            found: found.to_owned(),
        });
    }
    Ok(verified)
}
