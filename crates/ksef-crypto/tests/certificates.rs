//! Parsing the Ministry's certificate listing and choosing a certificate, with certificates made by
//! the `openssl` command line tool (replayed from the golden file by default: `common`).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{TempDir, TestCert, WithKeyId as _, listing_entry, make_cert, now, rsa_cert};
use ksef_crypto::{
    Error, KeyAlgorithm, MinistryCertificate, MinistryCertificates, SessionKey, encrypt_ksef_token,
};
use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateUsage};

use PublicKeyCertificateUsage::{KsefTokenEncryption, SymmetricKeyEncryption};

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn listing(entries: &[PublicKeyCertificate]) -> MinistryCertificates {
    MinistryCertificates::from_entries(entries).unwrap()
}

fn is(chosen: &MinistryCertificate, cert: &TestCert) -> bool {
    chosen.der() == cert.cert_der.as_slice()
}

#[test]
fn usage_filter_picks_the_certificate_for_the_operation() {
    let dir = TempDir::new();
    let token_cert = rsa_cert(&dir, "token");
    let key_cert = rsa_cert(&dir, "key");
    let t = now();
    let certs = listing(&[
        token_cert
            .entry(t - days(10), t + days(10), &[KsefTokenEncryption])
            .with_public_key_id("token-key-id"),
        key_cert
            .entry(t - days(10), t + days(10), &[SymmetricKeyEncryption])
            .with_public_key_id("session-key-id"),
    ]);
    let for_token = certs.select(KsefTokenEncryption, t).unwrap();
    assert!(is(for_token, &token_cert));
    assert_eq!(for_token.public_key_id(), Some("token-key-id"));
    let for_key = certs.select(SymmetricKeyEncryption, t).unwrap();
    assert!(is(for_key, &key_cert));
    assert_eq!(for_key.usage(), &[SymmetricKeyEncryption]);

    // Using a certificate for the other operation is a typed error.
    let session = SessionKey::generate().unwrap();
    assert!(matches!(
        session.wrap(for_token),
        Err(Error::WrongCertificateUsage {
            required: SymmetricKeyEncryption
        })
    ));
    assert!(matches!(
        encrypt_ksef_token(for_key, "token", 1),
        Err(Error::WrongCertificateUsage {
            required: KsefTokenEncryption
        })
    ));
    assert_eq!(
        session.wrap(for_key).unwrap().public_key_id.as_deref(),
        Some("session-key-id")
    );
}

#[test]
fn latest_valid_from_wins_among_valid_certificates() {
    let dir = TempDir::new();
    let oldest = rsa_cert(&dir, "oldest");
    let steady = rsa_cert(&dir, "steady");
    let middle = rsa_cert(&dir, "middle");
    let future = rsa_cert(&dir, "future");
    let ending = rsa_cert(&dir, "ending");
    let ended = rsa_cert(&dir, "ended");
    let both = [SymmetricKeyEncryption, KsefTokenEncryption];
    let t = now();
    let certs = listing(&[
        oldest.entry(t - days(30), t + days(300), &both),
        steady.entry(t - days(5), t + days(300), &both),
        middle.entry(t - days(20), t + days(300), &both),
        // Listed later than all others, but not yet valid.
        future.entry(t + days(1), t + days(300), &both),
        // The latest validFrom among the current ones; its listed validity ends in an hour.
        ending.entry(t - days(2), t + Duration::hours(1), &both),
        // An even later validFrom, but its listed validity has already ended.
        ended.entry(t - days(1), t - Duration::hours(1), &both),
    ]);
    assert_eq!(certs.as_slice().len(), 6);
    assert!(is(
        certs.select(SymmetricKeyEncryption, t).unwrap(),
        &ending
    ));
    assert!(is(certs.select(KsefTokenEncryption, t).unwrap(), &ending));
    // Bounds are inclusive.
    let end = t + Duration::hours(1);
    assert!(is(certs.select(KsefTokenEncryption, end).unwrap(), &ending));
    let after = end + Duration::seconds(1);
    assert!(is(
        certs.select(KsefTokenEncryption, after).unwrap(),
        &steady
    ));
    // Later on (within the certificates' own 365 days) the future one takes over.
    assert!(is(
        certs.select(SymmetricKeyEncryption, t + days(2)).unwrap(),
        &future
    ));
    let _ = (oldest, middle);
}

#[test]
fn the_certificates_own_validity_counts_too() {
    let dir = TempDir::new();
    // Valid for one day from now by its own dates, listed for much longer.
    let short = make_cert(&dir, "short", "rsa:2048", 1);
    let listed_from: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
    let listed_to: DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
    let certs = listing(&[short.entry(listed_from, listed_to, &[SymmetricKeyEncryption])]);
    let cert = &certs.as_slice()[0];
    // An instant within the certificate's own day (its recorded copy is replayed by default).
    let t = cert.not_before() + Duration::minutes(30);
    assert!(cert.not_before() <= t && t <= cert.not_after());
    assert!(cert.not_after() - cert.not_before() <= days(1) + Duration::minutes(1));
    assert_eq!(cert.valid_from(), listed_from);
    assert_eq!(cert.valid_to(), listed_to);
    assert!(certs.select(SymmetricKeyEncryption, t).is_ok());

    let later = t + days(3);
    assert!(!cert.is_valid_at(later));
    match certs.select(SymmetricKeyEncryption, later) {
        Err(Error::NoSuitableCertificate { usage, at }) => {
            assert_eq!(usage, SymmetricKeyEncryption);
            assert_eq!(at, later);
        }
        other => panic!("unexpected {other:?}"),
    }
    let earlier = t - days(3);
    assert!(certs.select(SymmetricKeyEncryption, earlier).is_err());
}

#[test]
fn no_fitting_certificate_is_a_typed_error_naming_usage_and_instant() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "only");
    let t: DateTime<Utc> = now();
    let certs = listing(&[cert.entry(t - days(1), t + days(1), &[SymmetricKeyEncryption])]);
    let at: DateTime<Utc> = "2030-05-06T07:08:09Z".parse().unwrap();
    let err = certs.select(KsefTokenEncryption, t).unwrap_err();
    assert!(matches!(
        err,
        Error::NoSuitableCertificate {
            usage: KsefTokenEncryption,
            ..
        }
    ));
    let err = certs.select(SymmetricKeyEncryption, at).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no Ministry certificate for SymmetricKeyEncryption is valid at 2030-05-06T07:08:09Z"
    );
    let empty = MinistryCertificates::default();
    assert!(matches!(
        empty.select(SymmetricKeyEncryption, t),
        Err(Error::NoSuitableCertificate { .. })
    ));
}

#[test]
fn ec_certificates_parse_but_cannot_encrypt() {
    let dir = TempDir::new();
    let ec = make_cert(&dir, "ec", "ec", 36_500);
    let rsa = rsa_cert(&dir, "rsa");
    let t = now();
    let both = [SymmetricKeyEncryption, KsefTokenEncryption];
    let ec_entry = ec.entry(t - days(1), t + days(10), &both);
    let ec_cert = MinistryCertificate::from_entry(&ec_entry).unwrap();
    assert_eq!(
        ec_cert.public_key().algorithm(),
        KeyAlgorithm::Ec {
            curve: Some("1.2.840.10045.3.1.7".into())
        }
    );
    match encrypt_ksef_token(&ec_cert, "token", 1) {
        Err(e @ Error::UnsupportedKeyType { .. }) => {
            assert!(e.to_string().contains("EC"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        SessionKey::generate().unwrap().wrap(&ec_cert),
        Err(Error::UnsupportedKeyType { .. })
    ));

    // Only an EC certificate fits: say so rather than "none fits".
    let only_ec = listing(std::slice::from_ref(&ec_entry));
    assert!(matches!(
        only_ec.select(KsefTokenEncryption, t),
        Err(Error::UnsupportedKeyType { .. })
    ));
    // An RSA certificate is preferred even over a later EC one.
    let mixed = listing(&[rsa.entry(t - days(5), t + days(10), &both), ec_entry]);
    assert!(is(mixed.select(KsefTokenEncryption, t).unwrap(), &rsa));
}

#[test]
fn malformed_listing_entries_are_typed_errors_never_panics() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "der");
    let t = now();
    let entry = |b64: String| listing_entry(b64, t, t + days(1), &[SymmetricKeyEncryption]);
    assert!(matches!(
        MinistryCertificate::from_entry(&entry("not base64 at all!".into())),
        Err(Error::Base64 {
            field: "certificate",
            ..
        })
    ));
    assert!(matches!(
        MinistryCertificate::from_entry(&entry("aGVsbG8gd29ybGQ=".into())),
        Err(Error::CertificateParse { .. })
    ));
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let mut trailing = cert.cert_der.clone();
    trailing.push(0);
    assert!(matches!(
        MinistryCertificate::from_entry(&entry(b64(&trailing))),
        Err(Error::CertificateParse { .. })
    ));
    // Every truncation and many single-byte corruptions fail cleanly (or, for harmless bytes,
    // still parse).
    for len in 0..cert.cert_der.len() {
        let result = MinistryCertificate::from_entry(&entry(b64(&cert.cert_der[..len])));
        assert!(result.is_err(), "truncated to {len} bytes");
    }
    for i in (0..cert.cert_der.len()).step_by(7) {
        let mut corrupted = cert.cert_der.clone();
        corrupted[i] ^= 0x5a;
        let _ = MinistryCertificate::from_entry(&entry(b64(&corrupted)));
    }
    // The PEM armour is not accepted: KSeF sends bare base64 DER.
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
        cert.base64()
    );
    assert!(MinistryCertificate::from_entry(&entry(pem)).is_err());
    // Surrounding whitespace is tolerated.
    assert!(MinistryCertificate::from_entry(&entry(format!(" {}\n", cert.base64()))).is_ok());
}

#[test]
fn usages_map_from_and_to_the_spec_names() {
    assert_eq!(
        PublicKeyCertificateUsage::from("KsefTokenEncryption"),
        KsefTokenEncryption
    );
    assert_eq!(
        PublicKeyCertificateUsage::from("SymmetricKeyEncryption"),
        SymmetricKeyEncryption
    );
    let other = PublicKeyCertificateUsage::from("FutureUsage");
    assert_eq!(
        other,
        PublicKeyCertificateUsage::Unknown("FutureUsage".into())
    );
    assert_eq!(other.to_string(), "FutureUsage");
    assert_eq!(KsefTokenEncryption.as_str(), "KsefTokenEncryption");
}

#[test]
fn a_certificate_outside_a_listing_has_its_own_validity_and_no_key_id() {
    let dir = TempDir::new();
    let cert = rsa_cert(&dir, "der");
    let parsed =
        MinistryCertificate::from_der(cert.cert_der.clone(), [SymmetricKeyEncryption]).unwrap();
    assert!(is(&parsed, &cert));
    assert_eq!(parsed.valid_from(), parsed.not_before());
    assert_eq!(parsed.valid_to(), parsed.not_after());
    assert!(parsed.not_before() < parsed.not_after());
    assert_eq!(parsed.public_key_id(), None);
    assert_eq!(parsed.usage(), &[SymmetricKeyEncryption]);
    let wrapped = SessionKey::generate().unwrap().wrap(&parsed).unwrap();
    assert_eq!(wrapped.public_key_id, None);
    assert!(matches!(
        MinistryCertificate::from_der(vec![0x30, 0x00], [SymmetricKeyEncryption]),
        Err(Error::CertificateParse { .. })
    ));
}
