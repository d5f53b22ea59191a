//! XAdES logins of the client against the in-process KSeF simulator.

mod common;

use std::time::Duration;

use ksef_client::{Delivery, Error, SubjectIdentifierType, form_code};
use ksef_crypto::test_certificates::KeyType;
use ksef_sim::Simulator;
use ksef_xades::xades;

use common::{client_for, fa3_invoice, requests, seal, seeded_nip, simulator_with_delays, unique};

async fn simulator() -> Simulator {
    simulator_with_delays(Duration::from_millis(50)).await
}

fn auth_count(sim: &Simulator) -> u64 {
    requests(sim, "auth.xades_signature")
}

/// Logs in with a self-signed seal, opens an online session and sends one invoice.
async fn login_and_send(key_type: KeyType) {
    let sim = simulator().await;
    let client = client_for(&sim);
    let nip = seeded_nip(&sim);
    let signer = seal(&sim, key_type).signer().expect("a signer");
    let login = client
        .login_with_certificate(nip, &signer, SubjectIdentifierType::CertificateSubject)
        .await
        .expect("XAdES login");
    assert!(login.refresh_valid_until > login.access_valid_until - chrono::Duration::hours(1));
    assert_eq!(auth_count(&sim), 1);

    let session = client
        .open_online_session(form_code::fa3())
        .await
        .expect("open session");
    let number = unique(&format!("XADES-{key_type:?}"));
    let sent = session
        .send(&fa3_invoice(sim.seeded_nip(), &number))
        .await
        .expect("send");
    assert_eq!(sent.delivery, Delivery::Sent);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xades_login_with_rsa_seal_sends_an_invoice() {
    login_and_send(KeyType::Rsa2048).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xades_login_with_ecdsa_p256_seal_sends_an_invoice() {
    login_and_send(KeyType::EcdsaP256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_two_phase_login() {
    let sim = simulator().await;
    let client = client_for(&sim);
    let nip = seeded_nip(&sim);
    let (challenge, unsigned) = client
        .unsigned_auth_request(nip, SubjectIdentifierType::CertificateSubject)
        .await
        .expect("unsigned request");
    let text = String::from_utf8(unsigned.clone()).expect("UTF-8");
    assert!(text.contains(challenge.as_str()), "{text}");
    // "Elsewhere": any XAdES signer.
    let signer = seal(&sim, KeyType::EcdsaP256).signer().expect("a signer");
    let signed = xades::sign(&unsigned, &signer).expect("signed");
    client
        .login_with_signed_request(signed, &challenge)
        .await
        .expect("login with the signed request");
    client
        .open_online_session(form_code::fa3())
        .await
        .expect("open session");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_request_for_another_challenge_is_refused_before_submission() {
    let sim = simulator().await;
    let client = client_for(&sim);
    let nip = seeded_nip(&sim);
    let signer = seal(&sim, KeyType::EcdsaP256).signer().expect("a signer");
    let (first, unsigned_first) = client
        .unsigned_auth_request(nip.clone(), SubjectIdentifierType::CertificateSubject)
        .await
        .expect("first unsigned request");
    let (second, _) = client
        .unsigned_auth_request(nip, SubjectIdentifierType::CertificateSubject)
        .await
        .expect("second unsigned request");
    assert_ne!(first, second);
    let signed_first = xades::sign(&unsigned_first, &signer).expect("signed");

    let error = client
        .login_with_signed_request(signed_first.clone(), &second)
        .await
        .expect_err("another challenge");
    assert!(
        matches!(
            error,
            Error::Xades {
                source: ksef_xades::Error::ChallengeMismatch { .. }
            }
        ),
        "{error:?}"
    );
    // A tampered document is refused locally too.
    let tampered = String::from_utf8(signed_first.clone())
        .expect("UTF-8")
        .replace("certificateSubject", "certificateFingerprint")
        .into_bytes();
    let error = client
        .login_with_signed_request(tampered, &first)
        .await
        .expect_err("a broken signature");
    assert!(matches!(error, Error::Xades { .. }), "{error:?}");
    assert_eq!(auth_count(&sim), 0, "nothing was submitted");

    // The right pairing still works.
    client
        .login_with_signed_request(signed_first, &first)
        .await
        .expect("login");
    assert_eq!(auth_count(&sim), 1);
    sim.shutdown().await;
}
