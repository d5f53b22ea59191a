//! `Pkcs11Signer` against SoftHSM2 (Debian `softhsm2`): RSA and EC P-256 keys imported into a token
//! made in a temporary directory sign, their signatures verify with `ring` under the certificate's
//! key, and a wrong PIN, a missing key, a missing token, a module that cannot be loaded and a
//! removed token are each their own error.
//!
//! SoftHSM2 reads its configuration (where the tokens live) from `SOFTHSM2_CONF` when the module
//! is initialised. The environment is process-wide, so each test runs its body in a child process
//! (this test binary, running only that test) whose environment names the test's own token
//! directory; the parent prepares the token with `softhsm2-util` and checks that the child ran and
//! passed. No oracle is replayed here: SoftHSM2 must be installed (a missing tool fails, naming the
//! package), as xmlsec1 or openssl are for the live oracles.

use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use ksef_crypto::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_crypto::{Certificate, Error, KeySelector, Pkcs11Signer, SignatureAlgorithm, Signer as _};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const TOKEN: &str = "ksef-test-token";
const PIN: &str = "pin-4711-secret";
const SO_PIN: &str = "so-pin-0815";
/// Set in the child: the token directory prepared by the parent.
const CHILD: &str = "KSEF_TEST_SOFTHSM_DIR";
const NIP: &str = "5265877635";

fn softhsm2_util(conf: &Path, args: &[&str]) {
    let output = Command::new("softhsm2-util")
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run softhsm2-util ({e}): install the Debian package softhsm2")
        });
    assert!(
        output.status.success(),
        "softhsm2-util {}: {}{}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes a token in a fresh directory: an RSA 2048 key (label `rsa`, id 01) and an EC P-256 key
/// (label `ec`, id 02) imported from PKCS#8 files, their certificates written beside as DER.
fn make_token(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksef-softhsm-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    softhsm2_util(
        &conf,
        &[
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ],
    );
    let rsa =
        TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::Rsa2048).unwrap();
    let ec = TestCertificate::person(
        "Jan",
        "Kowalski",
        &PersonIdentifier::Pesel("44051401359".parse().unwrap()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    for (name, id, cert) in [("rsa", "01", &rsa), ("ec", "02", &ec)] {
        let key = dir.join(format!("{name}.pk8"));
        std::fs::write(&key, cert.key_pkcs8_pem().as_bytes()).unwrap();
        softhsm2_util(
            &conf,
            &[
                "--import",
                key.to_str().unwrap(),
                "--token",
                TOKEN,
                "--label",
                name,
                "--id",
                id,
                "--pin",
                PIN,
            ],
        );
        std::fs::remove_file(&key).unwrap();
        std::fs::write(dir.join(format!("{name}.der")), cert.certificate_der()).unwrap();
    }
    dir
}

/// Runs `body` in a child process of this test binary (only the test `test`) whose SoftHSM2
/// configuration names a token made for it; in the child, runs `body` with the token's directory.
fn with_token(test: &str, body: impl FnOnce(&Path)) {
    if let Ok(dir) = std::env::var(CHILD) {
        body(Path::new(&dir));
        return;
    }
    let dir = make_token(test);
    let output = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", dir.join("softhsm2.conf"))
        .env(CHILD, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child running {test} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains(PIN) && !stderr.contains(PIN),
        "the PIN leaked"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn cert(dir: &Path, name: &str) -> Certificate {
    Certificate::from_der(&std::fs::read(dir.join(format!("{name}.der"))).unwrap()).unwrap()
}

/// Stores `certificate` on the token as a `CKO_CERTIFICATE` with the key's label and id, through
/// a context of its own that is finalised before the signer loads the module.
fn store_certificate(label: &str, id: u8, certificate: &Certificate) {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.der()).unwrap();
    let subject = parsed.subject().as_raw().to_vec();
    let context = Pkcs11::new(MODULE).unwrap();
    context
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = context
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|slot| context.get_token_info(*slot).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    {
        let session = context.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::new(PIN.into())))
            .unwrap();
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(vec![id]),
                Attribute::Subject(subject),
                Attribute::Value(certificate.der().to_vec()),
            ])
            .unwrap();
    }
    context.finalize().unwrap();
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
        .expect("ring verifies the token's signature with the certificate's key");
}

fn open(key: KeySelector, certificate: Option<Certificate>) -> Result<Pkcs11Signer, Error> {
    Pkcs11Signer::open(Path::new(MODULE), TOKEN, PIN, &key, certificate)
}

#[test]
fn rsa_and_ec_keys_sign_on_the_token() {
    with_token("rsa_and_ec_keys_sign_on_the_token", |dir| {
        let rsa_cert = cert(dir, "rsa");
        let ec_cert = cert(dir, "ec");
        store_certificate("rsa", 1, &rsa_cert);
        let message = b"<ds:SignedInfo>canonical octets</ds:SignedInfo>";

        // RSA by label, the certificate from the token.
        let rsa = open(KeySelector::Label("rsa".into()), None).unwrap();
        assert_eq!(rsa.algorithm(), SignatureAlgorithm::RsaSha256);
        assert_eq!(rsa.certificate_der(), rsa_cert.der());
        let signature = rsa.sign(message).unwrap();
        assert_eq!(signature.len(), 256);
        ring_verifies(
            &rsa_cert,
            SignatureAlgorithm::RsaSha256,
            message,
            &signature,
        );

        // EC by id, the certificate given (the token holds none for it); a second signer of the
        // same module while the first is open, and the first still signs after the second goes.
        let ec = open(KeySelector::Id(vec![2]), Some(ec_cert.clone())).unwrap();
        assert_eq!(ec.algorithm(), SignatureAlgorithm::EcdsaP256Sha256);
        let signature = ec.sign(message).unwrap();
        assert_eq!(signature.len(), 64, "R || S, not DER");
        ring_verifies(
            &ec_cert,
            SignatureAlgorithm::EcdsaP256Sha256,
            message,
            &signature,
        );
        drop(ec);
        let again = rsa.sign(b"another message").unwrap();
        ring_verifies(
            &rsa_cert,
            SignatureAlgorithm::RsaSha256,
            b"another message",
            &again,
        );

        // Debug names the token and the key, never the PIN.
        let debug = format!("{rsa:?}");
        assert!(debug.contains(TOKEN) && debug.contains("label"), "{debug}");
        assert!(!debug.contains(PIN), "{debug}");
        drop(rsa);

        // The EC key has no certificate on the token: asked for, it is a clear error.
        let error = open(KeySelector::Label("ec".into()), None).unwrap_err();
        assert!(
            matches!(&error, Error::Pkcs11CertificateNotFound { key, .. } if key == "label \"ec\""),
            "{error:?}"
        );
        // A certificate of another key: the first signature is refused, not handed to KSeF.
        let wrong = open(
            KeySelector::Label("ec".into()),
            Some(other_ec_certificate()),
        )
        .unwrap();
        let error = wrong.sign(message).unwrap_err();
        assert!(matches!(error, Error::KeyCertificateMismatch), "{error:?}");
        // A certificate of another kind of key is refused when opening.
        let error = open(KeySelector::Label("ec".into()), Some(rsa_cert)).unwrap_err();
        assert!(
            matches!(error, Error::KeyAlgorithmMismatch { .. }),
            "{error:?}"
        );
    });
}

fn other_ec_certificate() -> Certificate {
    let other =
        TestCertificate::company("Inna Firma", &NIP.parse().unwrap(), KeyType::EcdsaP256).unwrap();
    Certificate::from_der(other.certificate_der()).unwrap()
}

#[test]
fn wrong_pin_missing_key_missing_token_and_module_are_typed_errors() {
    with_token(
        "wrong_pin_missing_key_missing_token_and_module_are_typed_errors",
        |dir| {
            let ec_cert = cert(dir, "ec");
            let key = KeySelector::Label("ec".into());
            let wrong_pin = "not-the-pin-1234";
            let error = Pkcs11Signer::open(
                Path::new(MODULE),
                TOKEN,
                wrong_pin,
                &key,
                Some(ec_cert.clone()),
            )
            .unwrap_err();
            assert!(
                matches!(&error, Error::Pkcs11WrongPin { token } if token == TOKEN),
                "{error:?}"
            );
            let message = error.to_string();
            assert_eq!(
                message,
                format!("wrong PIN for the PKCS#11 token {TOKEN:?}")
            );
            assert!(!format!("{error:?}").contains(wrong_pin));

            let error = open(
                KeySelector::Label("no-such-key".into()),
                Some(ec_cert.clone()),
            )
            .unwrap_err();
            assert!(
                matches!(error, Error::Pkcs11KeyNotFound { .. }),
                "{error:?}"
            );
            assert!(
                error.to_string().contains("label \"no-such-key\""),
                "{error}"
            );
            let error = open(KeySelector::Id(vec![0x7f]), Some(ec_cert.clone())).unwrap_err();
            assert!(error.to_string().contains("id 7f"), "{error}");

            let error = Pkcs11Signer::open(Path::new(MODULE), "no-such-token", PIN, &key, None)
                .unwrap_err();
            match &error {
                Error::Pkcs11TokenNotFound { token, present } => {
                    assert_eq!(token, "no-such-token");
                    assert_eq!(present, &vec![TOKEN.to_owned()]);
                }
                other => panic!("{other:?}"),
            }

            let missing = dir.join("no-such-module.so");
            let error = Pkcs11Signer::open(&missing, TOKEN, PIN, &key, None).unwrap_err();
            assert!(matches!(error, Error::Pkcs11ModuleLoad { .. }), "{error:?}");
            assert!(
                error.to_string().contains(missing.to_str().unwrap()),
                "names the path: {error}"
            );
            // A file that is no PKCS#11 module.
            let not_a_module = dir.join("ec.der");
            let error = Pkcs11Signer::open(&not_a_module, TOKEN, PIN, &key, None).unwrap_err();
            assert!(matches!(error, Error::Pkcs11ModuleLoad { .. }), "{error:?}");
        },
    );
}

#[test]
fn a_removed_token_is_a_typed_error() {
    with_token("a_removed_token_is_a_typed_error", |dir| {
        let ec_cert = cert(dir, "ec");
        let signer = open(KeySelector::Label("ec".into()), Some(ec_cert)).unwrap();
        signer.sign(b"while present").unwrap();
        // SoftHSM2 keeps a token as a directory: deleting it is pulling the card.
        softhsm2_util(
            &dir.join("softhsm2.conf"),
            &["--delete-token", "--token", TOKEN],
        );
        let error = signer.sign(b"after removal").unwrap_err();
        assert!(
            matches!(&error, Error::Pkcs11TokenRemoved { token } if token == TOKEN),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("the PKCS#11 token {TOKEN:?} was removed")
        );
    });
}
