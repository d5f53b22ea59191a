//! XAdES signatures for KSeF authentication.
//!
//! This crate will build the `AuthTokenRequest` document, canonicalize XML with W3C Exclusive XML
//! Canonicalization 1.0, and sign and verify it with an enveloped XAdES-BES signature (RSA-SHA256 or
//! ECDSA-SHA256 on P-256).
//!
//! What is here so far is the XML foundation the signature code stands on:
//!
//! - [`xml`]: a namespace-aware tree parsed from untrusted bytes, refusing document type declarations and
//!   bounded by [`xml::ParseLimits`];
//! - [`c14n`]: Exclusive XML Canonicalization 1.0 (with or without comments, with the InclusiveNamespaces
//!   PrefixList) of a whole document, of any element's subtree, and of either with one subtree left out
//!   (the enveloped-signature transform).
//!
//! ```
//! use ksef_xades::c14n::{canonicalize, C14nOptions};
//! use ksef_xades::xml::{Document, ParseLimits};
//!
//! let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
//!            <AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\">\r\n\
//!            <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge><Empty/>\r\n\
//!            </AuthTokenRequest>";
//! let doc = Document::parse(xml.as_bytes(), &ParseLimits::default())?;
//! let canonical = canonicalize(doc.as_node(), &C14nOptions::new())?;
//! assert_eq!(
//!     String::from_utf8(canonical).unwrap(),
//!     "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\">\n\
//!      <Challenge>20250604-CR-461EA5B000-537A6BA15D-D7</Challenge><Empty></Empty>\n\
//!      </AuthTokenRequest>"
//! );
//! # Ok::<(), ksef_xades::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod c14n;
mod error;
pub mod xml;

pub use error::{Error, Position, SyntaxError};
