//! XAdES signatures for KSeF authentication.
//!
//! This crate will build the `AuthTokenRequest` document, canonicalize XML with W3C Exclusive XML
//! Canonicalization 1.0, and sign and verify it with an enveloped XAdES-BES signature (RSA-SHA256 or
//! ECDSA-SHA256 on P-256).
//!
//! Work in progress: see the ksef-xades issue for what lands here.
#![forbid(unsafe_code)]
