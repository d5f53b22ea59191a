//! PKCS#12 files made by `openssl pkcs12 -export` (the default PBES2/AES encoding and `-legacy`
//! 3DES/RC2; RSA and EC P-256 keys; with and without an issuer in the file) read by
//! `ksef_crypto::Pkcs12`, and what we write read back (by `openssl pkcs12` in live mode).
//!
//! Oracles per mode (`KSEF_ORACLES`, see `common`): the openssl runs that make the keys,
//! certificates and `.p12` files are replayed from `tests/golden/tools-pkcs12.tsv` by default
//! (files included) and run live otherwise. Signatures made with a loaded key are checked with
//! `ring`, independently of our verification code.

mod common;

use chrono::{Duration, Utc};
use common::{TempDir, live, openssl, openssl_live};
use ksef_crypto::{Certificate, Error, KeySigner, Pkcs12, SignatureAlgorithm, Signer as _};

const PASSWORD: &str = "correct horse battery 42";
const PASSOUT: &str = "pass:correct horse battery 42";

#[derive(Clone, Copy, Debug)]
enum Kind {
    Rsa,
    Ec,
}

impl Kind {
    fn newkey(self) -> &'static [&'static str] {
        match self {
            Kind::Rsa => &["-newkey", "rsa:2048"],
            Kind::Ec => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        }
    }
}

/// What openssl made: the `.p12` file and, for comparison, the leaf and CA certificates it holds.
struct Made {
    p12: Vec<u8>,
    leaf: Certificate,
    ca: Option<Certificate>,
}

fn req_x509(dir: &TempDir, kind: Kind, name: &str, days: &str, subject: &str) {
    let key = format!("{name}.key.pem");
    let cert = format!("{name}.pem");
    let mut args = vec!["req", "-x509"];
    args.extend_from_slice(kind.newkey());
    args.extend([
        "-nodes", "-keyout", &key, "-out", &cert, "-days", days, "-subj", subject,
    ]);
    openssl(dir.path(), &args, b"");
}

/// A key and certificate (self-signed, or issued by a P-256 CA when `chain`) exported by
/// `openssl pkcs12 -export` (with `-legacy` when asked).
fn make_p12(dir: &TempDir, kind: Kind, legacy: bool, chain: bool) -> Made {
    make_p12_with(dir, kind, legacy, chain, &[])
}

/// As [`make_p12`], with more arguments for `openssl pkcs12 -export`.
fn make_p12_with(dir: &TempDir, kind: Kind, legacy: bool, chain: bool, extra: &[&str]) -> Made {
    let name = format!(
        "{kind:?}-{}-{}{}",
        if legacy { "legacy" } else { "aes" },
        chain,
        extra.join("")
    );
    let subject = format!("/C=PL/O=Test/organizationIdentifier=VATPL-5265877635/CN={name}");
    if chain {
        req_x509(dir, Kind::Ec, "ca", "36500", "/C=PL/O=Test/CN=Test CA");
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(kind.newkey());
        let key = format!("{name}.key.pem");
        let csr = format!("{name}.csr");
        args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(dir.path(), &args, b"");
        openssl(
            dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key.pem",
                "-set_serial",
                "7",
                "-days",
                "36500",
                "-out",
                &format!("{name}.pem"),
            ],
            b"",
        );
    } else {
        req_x509(dir, kind, &name, "36500", &subject);
    }
    let out = format!("{name}.p12");
    let key = format!("{name}.key.pem");
    let cert = format!("{name}.pem");
    let mut args = vec![
        "pkcs12", "-export", "-inkey", &key, "-in", &cert, "-out", &out, "-passout", PASSOUT,
    ];
    if chain {
        args.extend(["-certfile", "ca.pem"]);
    }
    if legacy {
        args.push("-legacy");
    }
    args.extend_from_slice(extra);
    openssl(dir.path(), &args, b"");
    let read = |file: &str| Certificate::from_pem_or_der(&std::fs::read(dir.file(file)).unwrap());
    Made {
        p12: std::fs::read(dir.file(&out)).unwrap(),
        leaf: read(&cert).unwrap(),
        ca: chain.then(|| read("ca.pem").unwrap()),
    }
}

/// Verifies `signature` over `message` with the certificate's public key, by ring.
fn ring_verifies(
    certificate: &Certificate,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.der()).unwrap();
    let key = parsed.public_key().subject_public_key.data.to_vec();
    let ring_algorithm: &dyn ring::signature::VerificationAlgorithm = match algorithm {
        SignatureAlgorithm::RsaSha256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        SignatureAlgorithm::EcdsaP256Sha256 => &ring::signature::ECDSA_P256_SHA256_FIXED,
        other => panic!("unexpected algorithm {other:?}"),
    };
    ring::signature::UnparsedPublicKey::new(ring_algorithm, key)
        .verify(message, signature)
        .expect("ring verifies the signature with the certificate's key");
}

#[test]
fn openssl_pkcs12_files_load_and_their_keys_sign() {
    let dir = TempDir::new();
    for kind in [Kind::Rsa, Kind::Ec] {
        for legacy in [false, true] {
            for chain in [false, true] {
                let case = format!("{kind:?} legacy={legacy} chain={chain}");
                let made = make_p12(&dir, kind, legacy, chain);
                let bundle =
                    Pkcs12::from_der(&made.p12, PASSWORD).unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(bundle.certificate(), &made.leaf, "{case}");
                match &made.ca {
                    Some(ca) => {
                        assert_eq!(bundle.chain(), std::slice::from_ref(ca), "{case}");
                        assert!(bundle.certificate().is_issued_by(ca), "{case}");
                    }
                    None => assert!(bundle.chain().is_empty(), "{case}"),
                }
                assert_eq!(bundle.key().public_key(), *made.leaf.public_key(), "{case}");
                let debug = format!("{bundle:?}");
                assert!(
                    debug.contains("redacted") && !debug.contains("BEGIN"),
                    "{debug}"
                );

                let signer = KeySigner::from_pkcs12(&made.p12, PASSWORD, now())
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let expected = match kind {
                    Kind::Rsa => SignatureAlgorithm::RsaSha256,
                    Kind::Ec => SignatureAlgorithm::EcdsaP256Sha256,
                };
                assert_eq!(signer.algorithm(), expected, "{case}");
                assert_eq!(signer.certificate_der(), made.leaf.der(), "{case}");
                let message = format!("<SignedInfo>{case}</SignedInfo>");
                let signature = signer.sign(message.as_bytes()).unwrap();
                ring_verifies(&made.leaf, expected, message.as_bytes(), &signature);
            }
        }
    }
}

#[test]
fn a_wrong_password_is_named_and_never_shown() {
    let dir = TempDir::new();
    for legacy in [false, true] {
        let made = make_p12(&dir, Kind::Ec, legacy, false);
        let wrong = "not-the-password-7315";
        let error = Pkcs12::from_der(&made.p12, wrong).unwrap_err();
        assert!(
            matches!(error, Error::Pkcs12WrongPassword),
            "legacy={legacy}: {error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("wrong password"), "{shown}");
        assert!(
            !shown.contains(wrong) && !shown.contains(PASSWORD),
            "{shown}"
        );
        assert!(matches!(
            KeySigner::from_pkcs12(&made.p12, "", now()),
            Err(Error::Pkcs12WrongPassword)
        ));
    }
}

#[test]
fn a_file_asking_for_more_iterations_than_accepted_is_refused_underived() {
    // One more iteration than accepted, for the key derivation and the integrity check alike:
    // refused before any derivation, with the limit named.
    let iterations = (ksef_crypto::PKCS12_MAX_ITERATIONS + 1).to_string();
    let dir = TempDir::new();
    for legacy in [false, true] {
        let made = make_p12_with(&dir, Kind::Ec, legacy, false, &["-iter", &iterations]);
        let error = Pkcs12::from_der(&made.p12, PASSWORD).unwrap_err();
        let shown = error.to_string();
        assert!(
            matches!(error, Error::Pkcs12 { .. }) && shown.contains("more than 1000000 iterations"),
            "legacy={legacy}: {error:?} / {shown}"
        );
        assert!(!shown.contains(PASSWORD), "{shown}");
    }
}

#[test]
fn other_files_are_not_pkcs12() {
    let dir = TempDir::new();
    let made = make_p12(&dir, Kind::Rsa, false, false);
    // The certificate (PEM), the key (PEM), random bytes, nothing, a truncated file.
    let pem_key = std::fs::read(dir.file("Rsa-aes-false.key.pem")).unwrap();
    let inputs: [(&str, &[u8]); 5] = [
        (
            "certificate PEM",
            &std::fs::read(dir.file("Rsa-aes-false.pem")).unwrap(),
        ),
        ("key PEM", &pem_key),
        ("random", &common::pseudo_random(2000, 5)),
        ("empty", b""),
        ("truncated", &made.p12[..made.p12.len() / 2]),
    ];
    for (what, input) in inputs {
        let error = Pkcs12::from_der(input, PASSWORD).unwrap_err();
        assert!(
            matches!(error, Error::NotPkcs12 { .. }),
            "{what}: {error:?}"
        );
        assert!(
            error.to_string().contains("not a PKCS#12"),
            "{what}: {error}"
        );
    }
    // A certificate's DER is a SEQUENCE too, but not a PFX.
    let error = Pkcs12::from_der(made.leaf.der(), PASSWORD).unwrap_err();
    assert!(matches!(error, Error::NotPkcs12 { .. }), "{error:?}");
}

#[test]
fn a_file_without_the_key_or_without_its_certificate_is_refused() {
    let dir = TempDir::new();
    req_x509(&dir, Kind::Ec, "lone", "36500", "/C=PL/CN=lone");
    openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            "lone.pem",
            "-out",
            "certs.p12",
            "-passout",
            PASSOUT,
        ],
        b"",
    );
    let certs_only = std::fs::read(dir.file("certs.p12")).unwrap();
    let error = Pkcs12::from_der(&certs_only, PASSWORD).unwrap_err();
    assert!(
        matches!(error, Error::Pkcs12NoPrivateKey { certificates: 1 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no private key"), "{error}");

    openssl(
        dir.path(),
        &[
            "pkcs12",
            "-export",
            "-nocerts",
            "-inkey",
            "lone.key.pem",
            "-out",
            "key.p12",
            "-passout",
            PASSOUT,
        ],
        b"",
    );
    let key_only = std::fs::read(dir.file("key.p12")).unwrap();
    let error = Pkcs12::from_der(&key_only, PASSWORD).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Pkcs12NoMatchingCertificate { certificates: 0 }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("no certificate of its private key"),
        "{error}"
    );
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_named_with_its_dates() {
    let dir = TempDir::new();
    let made = make_p12(&dir, Kind::Ec, false, false);
    let bundle = Pkcs12::from_der(&made.p12, PASSWORD).unwrap();
    let (from, to) = (made.leaf.not_before(), made.leaf.not_after());
    bundle.check_valid_at(from).unwrap();
    bundle.check_valid_at(to).unwrap();

    let after = to + Duration::seconds(1);
    let error = bundle.check_valid_at(after).unwrap_err();
    assert!(
        matches!(error, Error::CertificateExpired { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    assert!(text.contains("expired"), "{text}");
    for date in [day(from), day(to), day(after)] {
        assert!(text.contains(&date), "{text} names {date}");
    }
    assert!(text.contains("Ec-aes-false"), "{text} names the subject");
    assert!(matches!(
        KeySigner::from_pkcs12(&made.p12, PASSWORD, after),
        Err(Error::CertificateExpired { .. })
    ));

    let before = from - Duration::seconds(1);
    let error = bundle.check_valid_at(before).unwrap_err();
    assert!(
        matches!(error, Error::CertificateNotYetValid { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&day(from)), "{error}");
}

#[test]
fn what_we_write_reads_back_and_openssl_opens_it() {
    let dir = TempDir::new();
    for kind in [Kind::Rsa, Kind::Ec] {
        let made = make_p12(&dir, kind, true, true);
        let bundle = Pkcs12::from_der(&made.p12, PASSWORD).unwrap();
        let ours = bundle.to_der(PASSWORD).unwrap();
        let again = Pkcs12::from_der(&ours, PASSWORD).unwrap();
        assert_eq!(again.certificate(), bundle.certificate());
        assert_eq!(again.chain(), bundle.chain());
        assert_eq!(again.key().public_key(), bundle.key().public_key());
        assert!(matches!(
            Pkcs12::from_der(&ours, "wrong"),
            Err(Error::Pkcs12WrongPassword)
        ));
        // A key and a certificate that do not belong together are refused.
        let other = match kind {
            Kind::Rsa => ksef_crypto::CertificateKey::generate_rsa_2048().unwrap(),
            Kind::Ec => ksef_crypto::CertificateKey::generate_ec_p256().unwrap(),
        };
        assert!(matches!(
            Pkcs12::new(other, bundle.certificate().clone(), Vec::new()),
            Err(Error::KeyCertificateMismatch)
        ));
        if live() {
            // Fresh salts and IVs: openssl runs only in live mode.
            let path = dir.file(&format!("ours-{kind:?}.p12"));
            std::fs::write(&path, &ours).unwrap();
            let path = path.to_str().unwrap();
            let info = openssl_live(
                dir.path(),
                &[
                    "pkcs12", "-info", "-nokeys", "-in", path, "-passin", PASSOUT,
                ],
                b"",
            );
            assert!(
                info.status.success(),
                "{}",
                String::from_utf8_lossy(&info.stderr)
            );
            let text = String::from_utf8_lossy(&info.stdout).into_owned()
                + &String::from_utf8_lossy(&info.stderr);
            assert!(text.contains("BEGIN CERTIFICATE"), "{text}");
            assert!(
                text.contains("AES-256-CBC") || text.contains("aes-256-cbc"),
                "{text}"
            );
            let keys = openssl_live(
                dir.path(),
                &[
                    "pkcs12", "-nocerts", "-nodes", "-in", path, "-passin", PASSOUT,
                ],
                b"",
            );
            assert!(
                keys.status.success(),
                "{}",
                String::from_utf8_lossy(&keys.stderr)
            );
            let pem = String::from_utf8_lossy(&keys.stdout);
            let start = pem
                .find("-----BEGIN PRIVATE KEY-----")
                .expect("openssl prints the key");
            let key = ksef_crypto::CertificateKey::from_pkcs8_pem(&pem[start..]).unwrap();
            assert_eq!(key.public_key(), bundle.key().public_key());
        }
    }
}

/// The current instant (chrono's `clock` feature is not among this crate's).
fn now() -> chrono::DateTime<Utc> {
    std::time::SystemTime::now().into()
}
