//! XAdES signature verification of arbitrary documents (`ksef_xades::xades::verify`).
//!
//! Invariants, for every document that verifies:
//! - it also verifies without the XAdES `SignedProperties` requirement (the relaxed check accepts
//!   everything the strict one does) and reports the same certificate and algorithm;
//! - the reported certificate is one the document carries: it parses on its own, and its
//!   fingerprint is the SHA-256 of its DER;
//! - `external::check_signed_request` accepts the document for exactly the challenge `verify`
//!   reports, and rejects it for any other.
//!
//! Any input that does not verify must fail with an error, never a panic; the relaxed check is run
//! on those too.
//!
//! Every input is also signed (`xades::sign_with`, a fixed P-256 test certificate and signing time):
//! signing may refuse a document only for being malformed or unsignable, never because its own
//! signature fails to verify, and what it returns verifies with our certificate and signing time.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use ksef_crypto::test_certificates::{KeyType, TestCertificate};
use ksef_xades::external::check_signed_request;
use ksef_xades::xades::{SignOptions, VerifyOptions, sign_with, verify, verify_with};
use ksef_xades::{Certificate, Error, KeySigner, Signer};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// One P-256 company seal for the whole run (generating it per input would dominate the time).
fn signer() -> &'static KeySigner {
    static SIGNER: OnceLock<KeySigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let nip = "5265877635".parse().expect("valid NIP");
        TestCertificate::company("Fuzz", &nip, KeyType::EcdsaP256)
            .and_then(|seal| seal.signer())
            .expect("a test certificate")
    })
}

/// Signs `data` and checks the result (see the module documentation).
fn sign_and_verify(data: &[u8]) {
    let time = DateTime::<Utc>::from_timestamp(1_749_038_400, 0).expect("in range");
    let signer = signer();
    match sign_with(data, signer, &SignOptions::new().with_signing_time(time)) {
        Ok(signed) => {
            let verified = verify(&signed).unwrap_or_else(|err| {
                panic!(
                    "a document sign_with returned does not verify: {err}\n{}",
                    String::from_utf8_lossy(&signed)
                )
            });
            assert_eq!(verified.certificate().der(), signer.certificate_der());
            assert_eq!(verified.signing_time(), Some("2025-06-04T12:00:00Z"));
        }
        Err(
            err @ (Error::NoSignature
            | Error::TooManySignatures { .. }
            | Error::MalformedSignature { .. }
            | Error::UnsupportedAlgorithm { .. }
            | Error::UnacceptableReference { .. }
            | Error::DigestMismatch { .. }
            | Error::InvalidSignatureValue
            | Error::SigningCertificateMismatch
            | Error::SigningFailed { .. }
            | Error::InvalidCertificate { .. }),
        ) => panic!(
            "signing failed on its own signature: {err}\n{}",
            String::from_utf8_lossy(data)
        ),
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    sign_and_verify(data);
    let relaxed = verify_with(
        data,
        &VerifyOptions::new().with_require_signed_properties(false),
    );
    let verified = match verify(data) {
        Ok(verified) => verified,
        Err(_) => return,
    };
    let relaxed = relaxed.expect("the relaxed check accepts what the strict one does");
    assert_eq!(relaxed.certificate().der(), verified.certificate().der());
    assert_eq!(relaxed.algorithm(), verified.algorithm());

    let certificate = verified.certificate();
    let digest: [u8; 32] = Sha256::digest(certificate.der()).into();
    assert_eq!(certificate.fingerprint_sha256(), digest);
    let reparsed =
        Certificate::from_der(certificate.der()).expect("the signer's certificate parses");
    assert_eq!(reparsed.subject(), certificate.subject());
    assert_eq!(
        reparsed.subject_identifier(),
        certificate.subject_identifier()
    );

    let challenge = verified.challenge().unwrap_or_default().to_owned();
    check_signed_request(data, &challenge).expect("the reported challenge is accepted");
    let other = format!("{challenge}0");
    assert!(matches!(
        check_signed_request(data, &other),
        Err(Error::ChallengeMismatch { .. })
    ));
});
