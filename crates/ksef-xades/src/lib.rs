//! XAdES signatures for KSeF authentication.
//!
//! Authenticating to KSeF with a certificate means signing an `AuthTokenRequest` (the challenge, the
//! context and how to identify the subject) with an enveloped XAdES-BES signature. This crate:
//!
//! - builds the request ([`request::AuthTokenRequest`], schema 2.1 by default, 2.0 on request);
//! - signs it ([`xades::sign`]) through ksef-crypto's [`Signer`] trait, implemented by [`KeySigner`]
//!   for RSA (≥ 2048 bits, RSA-SHA256) and P-256 (ECDSA-SHA256, raw `R || S`) keys from PKCS#8 PEM or
//!   DER, encrypted or not, and implementable for keys in an HSM, a PKCS#11 token or a remote service;
//! - verifies signed documents ([`xades::verify`]) and reports the signer's [`Certificate`], its SHA-256
//!   fingerprint and the identifier KSeF derives from it ([`SubjectIdentifier`]: NIP of a seal, PESEL or
//!   NIP of a person);
//! - supports signing elsewhere ([`external`]): hand out the unsigned request, check the signed file;
//! - underneath, parses untrusted XML with limits ([`xml`]) and implements Exclusive XML
//!   Canonicalization 1.0, Canonical XML 1.0 and Canonical XML 1.1, with and without comments
//!   ([`c14n`]).
//!
//! Keys, certificates and the signer are ksef-crypto's (re-exported here); self-signed certificates
//! for KSeF's TEST environment are `ksef_crypto::test_certificates` (its `test-util` feature).
//!
//! The signature follows the profile of the Ministry's own client: `ds:Signature Id="Signature"` as the
//! last child of the root, a whole-document reference (enveloped-signature and exclusive
//! canonicalization transforms, SHA-256), a reference to the XAdES `SignedProperties` (signing time one
//! minute in the past, SHA-256 digest, issuer and serial of the signing certificate), `SignedInfo`
//! canonicalized with exclusive canonicalization, and the certificate in `KeyInfo`. Another of the
//! canonicalizations KSeF accepts can be chosen with [`xades::SignOptions::with_canonicalization`];
//! verification accepts all six.
//!
//! ```
//! use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
//! use ksef_crypto::test_certificates::{KeyType, TestCertificate};
//! use ksef_xades::{SubjectIdentifier, xades};
//!
//! let nip = "5265877635".parse()?;
//! let request = AuthTokenRequest::new(
//!     "20250604-CR-461EA5B000-537A6BA15D-D7".parse()?,
//!     ContextIdentifier::Nip(nip),
//! );
//! // A self-signed company seal for the TEST environment; real users load their own key and certificate
//! // with `KeySigner::from_pkcs8_pem`.
//! let seal = TestCertificate::company("Firma Testowa", &"5265877635".parse()?, KeyType::EcdsaP256)?;
//! let signed = xades::sign(&request.to_xml()?, &seal.signer()?)?;
//!
//! let verified = xades::verify(&signed)?;
//! assert_eq!(verified.challenge(), Some("20250604-CR-461EA5B000-537A6BA15D-D7"));
//! assert_eq!(
//!     verified.certificate().subject_identifier(),
//!     Some(&SubjectIdentifier::SealNip("5265877635".to_owned()))
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Canonicalization on its own:
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
pub mod external;
pub mod request;
pub mod xades;
pub mod xml;

pub use error::{Error, Position, SyntaxError};
// The signer and certificate types are ksef-crypto's; re-exported so that signing needs this crate only.
pub use ksef_crypto::{Certificate, KeySigner, SignatureAlgorithm, Signer, SubjectIdentifier};
