//! Certificates from the network: the Ministry's listing (`ksef_crypto::MinistryCertificate`,
//! `MinistryCertificates::select`, then wrapping a session key with the chosen one) and the
//! signer's certificate of a XAdES signature (`ksef_xades::Certificate`).
//!
//! Input layout: one flag byte, then the certificate. Flag bit 0 set: the rest is the listing's
//! `certificate` text as is (base64 expected); clear: the rest is DER, base64-encoded here. Bits
//! 1-2 pick the listed usages; bits 3-5 move the listing's validity relative to the selection time.
//!
//! Invariants:
//! - a parsed Ministry certificate keeps the decoded DER, the listed dates and usages;
//! - `select` returns only a certificate listed for the usage and valid at the instant (by the
//!   listing and its own validity), and reports "no suitable certificate" only when there is none;
//! - wrapping a session key with the selected certificate fails cleanly or gives one RSA block
//!   of the key's size;
//! - a XAdES certificate that parses keeps its DER, its fingerprint is the SHA-256 of it, and the
//!   same certificate in PEM parses to the same DER.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use ksef_crypto::{Error, KeyAlgorithm, MinistryCertificate, MinistryCertificates, SessionKey};
use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateParams, PublicKeyCertificateUsage};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (text, der) = if flags & 1 == 1 {
        (String::from_utf8_lossy(rest).into_owned(), None)
    } else {
        (STANDARD.encode(rest), Some(rest))
    };
    let usage = match (flags >> 1) & 3 {
        0 => vec![PublicKeyCertificateUsage::SymmetricKeyEncryption],
        1 => vec![PublicKeyCertificateUsage::KsefTokenEncryption],
        2 => vec![
            PublicKeyCertificateUsage::KsefTokenEncryption,
            PublicKeyCertificateUsage::SymmetricKeyEncryption,
        ],
        _ => vec![PublicKeyCertificateUsage::Unknown("Future".to_owned())],
    };
    // 2026-01-01T00:00:00Z: fixed, so that runs are reproducible.
    let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("in range");
    let shift = TimeDelta::days(400 * (i64::from((flags >> 3) & 7) - 3));
    let entry = PublicKeyCertificate::new(PublicKeyCertificateParams {
        certificate: text,
        certificate_id: "c".to_owned(),
        public_key_id: "k".to_owned(),
        valid_from: (at + shift - TimeDelta::days(365)).fixed_offset(),
        valid_to: (at + shift + TimeDelta::days(365)).fixed_offset(),
        usage: usage.clone(),
    });

    if let Some(der) = der {
        xades_certificate(der);
    }

    let parsed = match MinistryCertificate::from_entry(&entry) {
        Ok(parsed) => parsed,
        Err(_) => {
            assert!(MinistryCertificates::from_entries([&entry]).is_err());
            return;
        }
    };
    if let Some(der) = der {
        assert_eq!(parsed.der(), der);
    }
    assert_eq!(parsed.usage(), usage.as_slice());
    assert_eq!(parsed.valid_from(), entry.valid_from);
    assert_eq!(parsed.valid_to(), entry.valid_to);
    assert_eq!(parsed.public_key_id(), Some("k"));

    let listing = MinistryCertificates::from_entries([&entry, &entry]).expect("parsed once");
    assert_eq!(listing.as_slice().len(), 2);
    for wanted in [
        PublicKeyCertificateUsage::SymmetricKeyEncryption,
        PublicKeyCertificateUsage::KsefTokenEncryption,
    ] {
        let fits = parsed.has_usage(&wanted) && parsed.is_valid_at(at);
        match listing.select(wanted.clone(), at) {
            Ok(selected) => {
                assert!(fits, "selected a certificate that does not fit");
                assert!(selected.has_usage(&wanted));
                assert!(selected.is_valid_at(at));
                let key = SessionKey::from_bytes([7; 32], [9; 16]);
                if let Ok(wrapped) = key.wrap(selected) {
                    let info = wrapped.to_encryption_info();
                    let wrapped = STANDARD
                        .decode(&info.encrypted_symmetric_key)
                        .expect("base64");
                    match selected.public_key().algorithm() {
                        KeyAlgorithm::Rsa { bits } => assert_eq!(wrapped.len() * 8, bits),
                        other => panic!("wrapped with a {other:?} key"),
                    }
                }
            }
            Err(Error::NoSuitableCertificate { .. }) => assert!(!fits),
            Err(Error::UnsupportedKeyType { .. }) => assert!(fits),
            Err(other) => panic!("unexpected selection error: {other}"),
        }
    }
});

fn xades_certificate(der: &[u8]) {
    let Ok(certificate) = ksef_xades::Certificate::from_der(der) else {
        return;
    };
    assert_eq!(certificate.der(), der);
    let digest: [u8; 32] = Sha256::digest(der).into();
    assert_eq!(certificate.fingerprint_sha256(), digest);
    let _ = (
        certificate.subject(),
        certificate.issuer(),
        certificate.serial_decimal(),
    );
    let _ = certificate.subject_identifier();
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(der)
    );
    let from_pem = ksef_xades::Certificate::from_pem_or_der(pem.as_bytes())
        .expect("a parsed certificate parses from PEM");
    assert_eq!(from_pem.der(), der);
}
