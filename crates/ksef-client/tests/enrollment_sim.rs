//! Certificate enrollment as one client flow against the in-process KSeF simulator: the issued
//! certificate and its key then log in with XAdES.

mod common;

use std::time::Duration;

use ksef_client::{
    CertificateEnrollment, CertificateKey, Client, EnrollmentKeyType, Error, KeyType,
    SubjectIdentifierType,
};
use ksef_model::types::KsefCertificateType;
use ksef_sim::Simulator;

use common::{client_builder, requests, seal, seeded_nip, start_simulator, temp_dir, token_login};

async fn simulator() -> Simulator {
    start_simulator(Simulator::builder().token_activation_delay(Duration::from_millis(300))).await
}

fn client_for(sim: &Simulator) -> Client {
    client_builder(sim, Duration::from_millis(100))
        .build()
        .expect("a client")
}

/// A client logged in with a self-signed seal of the seeded company (enrollment needs a
/// certificate login: KSeF copies the subject from it).
async fn seal_login(sim: &Simulator) -> Client {
    let client = client_for(sim);
    let certificate = seal(sim, KeyType::EcdsaP256);
    client
        .login_with_certificate(
            seeded_nip(sim),
            &certificate.signer().expect("a signer"),
            SubjectIdentifierType::CertificateSubject,
        )
        .await
        .expect("seal login");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolled_certificate_logs_in_with_xades() {
    let sim = simulator().await;
    let client = seal_login(&sim).await;

    let enrolled = client
        .enroll_certificate(CertificateEnrollment::new(
            "Pieczęć uwierzytelniająca",
            KsefCertificateType::Authentication,
        ))
        .await
        .expect("the certificate is issued");
    assert_eq!(
        enrolled.certificate_type,
        KsefCertificateType::Authentication
    );
    assert_eq!(enrolled.name, "Pieczęć uwierzytelniająca");
    assert!(enrolled.valid_to > enrolled.valid_from);
    // The flow waited: the enrollment status was polled while the simulator held it at 100.
    assert!(requests(&sim, "certificates.enrollment_status") >= 2);
    // The key is redacted in Debug.
    let debug = format!("{enrolled:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    let key_pem = enrolled.key().to_pkcs8_pem().expect("PEM");
    assert!(!debug.contains(key_pem.lines().nth(1).unwrap_or_default()));
    assert!(
        debug.contains(&enrolled.serial_number) && debug.contains("algorithm"),
        "{debug}"
    );

    // The issued certificate certifies the generated key.
    let (_, parsed) = x509_parser::parse_x509_certificate(&enrolled.der).expect("X.509");
    assert_eq!(
        parsed.tbs_certificate.subject_pki.raw,
        enrolled.key().public_key_der().expect("SPKI").as_slice()
    );
    assert!(
        parsed
            .tbs_certificate
            .serial
            .to_str_radix(16)
            .eq_ignore_ascii_case(enrolled.serial_number.trim_start_matches('0'))
    );

    // Saved: key 0600, certificate readable back, key decrypts with the password.
    let dir = temp_dir("enroll");
    let cert_path = dir.join("auth.pem");
    let key_path = dir.join("auth.key");
    enrolled
        .save(&cert_path, &key_path, Some(b"correct horse"))
        .expect("saved");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let reread = CertificateKey::from_encrypted_pkcs8_pem(
        &std::fs::read_to_string(&key_path).unwrap(),
        b"correct horse",
    )
    .expect("the saved key decrypts");
    assert_eq!(
        reread.public_key_der().unwrap(),
        enrolled.key().public_key_der().unwrap()
    );
    let cert = ksef_client::Certificate::from_pem_or_der(&std::fs::read(&cert_path).unwrap())
        .expect("the saved certificate parses");
    assert_eq!(cert.der(), enrolled.der.as_slice());
    // A key file is never overwritten.
    let again = enrolled.save(&cert_path, &key_path, None);
    assert!(matches!(again, Err(Error::Storage { .. })), "{again:?}");

    // The issued certificate and key log in.
    let other = client_for(&sim);
    let before = requests(&sim, "auth.xades_signature");
    other
        .login_with_certificate(
            seeded_nip(&sim),
            &enrolled.signer().expect("a signer"),
            SubjectIdentifierType::CertificateSubject,
        )
        .await
        .expect("login with the enrolled certificate");
    assert_eq!(requests(&sim, "auth.xades_signature"), before + 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_key_is_certified_and_the_reference_comes_first() {
    let sim = simulator().await;
    let client = seal_login(&sim).await;
    let key = CertificateKey::generate_ec_p256().expect("a key");
    let pending = client
        .start_certificate_enrollment(
            CertificateEnrollment::new("Offline 1", KsefCertificateType::Offline)
                .with_key(key.clone())
                .key_type(EnrollmentKeyType::Rsa2048),
        )
        .await
        .expect("enrollment accepted");
    assert!(!pending.reference_number().as_str().is_empty());
    let enrolled = pending.wait().await.expect("issued");
    assert_eq!(enrolled.certificate_type, KsefCertificateType::Offline);
    assert_eq!(
        enrolled.key().public_key_der().unwrap(),
        key.public_key_der().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed() {
    let sim = simulator().await;
    // A name KSeF would refuse never leaves the client.
    let client = seal_login(&sim).await;
    let refused = client
        .enroll_certificate(CertificateEnrollment::new(
            "bad/name",
            KsefCertificateType::Offline,
        ))
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::InvalidRequest {
                field: "certificateName",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(requests(&sim, "certificates.enrollment_data"), 0);

    // A token login has no subject to copy: KSeF's 25001.
    let token_client = client_for(&sim);
    token_login(&token_client, &sim).await;
    let refused = token_client
        .enroll_certificate(CertificateEnrollment::new(
            "Token cert",
            KsefCertificateType::Offline,
        ))
        .await
        .expect_err("no enrollment data for a token login");
    assert!(refused.has_code(25001), "{refused:?}");
}
