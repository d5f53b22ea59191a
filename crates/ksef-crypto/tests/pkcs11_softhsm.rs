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
use ksef_crypto::test_softhsm::{SOFTHSM2_MODULE as MODULE, SoftHsmToken};
use ksef_crypto::{Certificate, Error, KeySelector, Pkcs11Signer, SignatureAlgorithm, Signer as _};

const TOKEN: &str = "ksef-test-token";
const PIN: &str = "pin-4711-secret";
const SO_PIN: &str = "so-pin-0815";
/// Set in the child: the token directory prepared by the parent.
const CHILD: &str = "KSEF_TEST_SOFTHSM_DIR";
const NIP: &str = "5265877635";

/// Makes a token in a fresh directory: an RSA 2048 key (label `rsa`, id 01) and an EC P-256 key
/// (label `ec`, id 02) imported from PKCS#8, their certificates written beside as DER.
fn make_token(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ksef-softhsm-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let token = SoftHsmToken::init(&dir, TOKEN, PIN, SO_PIN);
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
        token.import_key_pem(&cert.key_pkcs8_pem(), name, id);
        std::fs::write(dir.join(format!("{name}.der")), cert.certificate_der()).unwrap();
        std::fs::write(dir.join(format!("{name}.p8")), cert.key_pkcs8_der()).unwrap();
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

/// Runs `work` in a read-write session logged in as the user on the test token, through a
/// context of its own that is finalised afterwards (before a signer loads the module).
fn as_user(work: impl FnOnce(&cryptoki::session::Session)) {
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
        work(&session);
    }
    context.finalize().unwrap();
}

/// Stores `certificate` on the token as a `CKO_CERTIFICATE` with the key's label and id, through
/// a context of its own that is finalised before the signer loads the module.
fn store_certificate(label: &str, id: u8, certificate: &Certificate) {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.der()).unwrap();
    let subject = parsed.subject().as_raw().to_vec();
    as_user(|session| {
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
    });
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
        SoftHsmToken::existing(dir, TOKEN, PIN).delete();
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

/// The PKCS#11 attributes of the key in a PKCS#8 `PrivateKeyInfo`: `CKK_RSA` with the PKCS#1
/// components, or `CKK_EC` on P-256 with the private scalar.
fn private_key_attributes(pkcs8: &[u8]) -> Vec<Attribute> {
    use cryptoki::object::KeyType as CkKeyType;
    use x509_parser::der_parser::ber::BerObjectContent;
    use x509_parser::der_parser::parse_der;
    fn items(der: &[u8]) -> Vec<Vec<u8>> {
        let (_, object) = parse_der(der).unwrap();
        object
            .as_sequence()
            .unwrap()
            .iter()
            .map(|item| match &item.content {
                BerObjectContent::Integer(bytes) | BerObjectContent::OctetString(bytes) => {
                    bytes.to_vec()
                }
                _ => Vec::new(),
            })
            .collect()
    }
    let info = items(pkcs8);
    let inner = items(&info[2]);
    if inner.len() >= 9 {
        // RSAPrivateKey: version, n, e, d, p, q, dp, dq, qinv
        vec![
            Attribute::KeyType(CkKeyType::RSA),
            Attribute::Modulus(inner[1].clone()),
            Attribute::PublicExponent(inner[2].clone()),
            Attribute::PrivateExponent(inner[3].clone()),
            Attribute::Prime1(inner[4].clone()),
            Attribute::Prime2(inner[5].clone()),
            Attribute::Exponent1(inner[6].clone()),
            Attribute::Exponent2(inner[7].clone()),
            Attribute::Coefficient(inner[8].clone()),
        ]
    } else {
        // ECPrivateKey: version, privateKey, ...; the curve is P-256 (prime256v1).
        vec![
            Attribute::KeyType(CkKeyType::EC),
            Attribute::EcParams(vec![
                0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
            ]),
            Attribute::Value(inner[1].clone()),
        ]
    }
}

/// Marks the private key labelled `label` `CKA_ALWAYS_AUTHENTICATE` (made again with it), through
/// a context of its own,
/// and checks that SoftHSM2 then refuses a one-call `C_Sign` without a context-specific login
/// (what a signer that ignores the attribute would do).
fn always_authenticate(dir: &Path, label: &str) {
    use cryptoki::error::{Error as CkError, RvError};
    use cryptoki::mechanism::Mechanism;
    as_user(|session| {
        let key = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .unwrap()[0];
        // SoftHSM2 takes CKA_ALWAYS_AUTHENTICATE only when an object is made (neither
        // C_SetAttributeValue nor C_CopyObject may set it): the imported key is destroyed and made
        // again from its PKCS#8 (written beside the token by make_token) with the attribute set.
        session.destroy_object(key).unwrap();
        let pkcs8 = std::fs::read(dir.join(format!("{label}.p8"))).unwrap();
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::AlwaysAuthenticate(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(vec![if label == "rsa" { 1 } else { 2 }]),
        ];
        template.extend(private_key_attributes(&pkcs8));
        let key = session.create_object(&template).unwrap();
        let refused = session
            .sign(&Mechanism::Sha256RsaPkcs, key, b"x")
            .or_else(|_| session.sign(&Mechanism::Ecdsa, key, &[0; 32]));
        assert!(
            matches!(refused, Err(CkError::Pkcs11(RvError::UserNotLoggedIn, _))),
            "SoftHSM2 signs with an always-authenticate key without a context login: {refused:?}"
        );
    });
}

#[test]
fn keys_that_always_authenticate_sign_after_a_context_specific_login() {
    with_token(
        "keys_that_always_authenticate_sign_after_a_context_specific_login",
        |dir| {
            let message = b"<ds:SignedInfo>signed with a qualified key</ds:SignedInfo>";
            // RSA: CKM_SHA256_RSA_PKCS multi-part, with the context-specific login after C_SignInit.
            // Both keys are marked before a signer loads the module.
            always_authenticate(dir, "rsa");
            always_authenticate(dir, "ec");
            let certificate = cert(dir, "rsa");
            let signer = open(KeySelector::Label("rsa".into()), Some(certificate.clone())).unwrap();
            // Each signature logs in again: two in a row both work.
            for _ in 0..2 {
                let signature = signer.sign(message).unwrap_or_else(|e| panic!("rsa: {e}"));
                ring_verifies(
                    &certificate,
                    SignatureAlgorithm::RsaSha256,
                    message,
                    &signature,
                );
            }
            assert!(!format!("{signer:?}").contains(PIN));
            // EC: an always-authenticate key needs CKM_ECDSA_SHA256 (multi-part; raw CKM_ECDSA is
            // one C_Sign, with no room for the login after C_SignInit). SoftHSM2 2.6 has no
            // CKM_ECDSA_SHA256: the signer reports that as a typed token error, naming the token.
            let signer = open(KeySelector::Label("ec".into()), Some(cert(dir, "ec"))).unwrap();
            let error = signer.sign(message).unwrap_err();
            assert!(
                matches!(&error, Error::Pkcs11 { token, operation, .. } if token == TOKEN && *operation == "sign"),
                "{error:?}"
            );
            assert!(!format!("{error:?}").contains(PIN));
        },
    );
}
