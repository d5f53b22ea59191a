//! XAdES authentication (`POST /auth/xades-signature`) against the simulator.

mod common;

use std::time::Duration;

use common::{Http, finish_auth, post_xades, start_with};
use ksef_model::types::AuthenticationChallengeResponse;
use ksef_model::values::{Nip, Pesel};
use ksef_sim::Simulator;
use ksef_xades::c14n::Algorithm;
use ksef_xades::request::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
use ksef_xades::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_xades::xades::{self, SignOptions};

const NIP: &str = "5265877635";

async fn challenge(http: &Http) -> String {
    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    challenge.challenge.to_string()
}

fn signed(
    challenge: &str,
    nip: &str,
    kind: SubjectIdentifierType,
    cert: &TestCertificate,
) -> Vec<u8> {
    let nip: Nip = nip.parse().unwrap();
    let request = AuthTokenRequest::new(challenge.parse().unwrap(), ContextIdentifier::Nip(nip))
        .with_subject_identifier_type(kind);
    xades::sign(&request.to_xml().unwrap(), &cert.signer().unwrap()).unwrap()
}

async fn start(builder: ksef_sim::SimulatorBuilder) -> (Simulator, Http) {
    start_with(builder.processing_delays(Duration::from_millis(20))).await
}

#[tokio::test]
async fn company_seal_logs_in_and_challenge_is_single_use() {
    let (sim, http) = start(Simulator::builder()).await;
    let seal =
        TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::Rsa2048).unwrap();
    let c = challenge(&http).await;
    let document = signed(&c, NIP, SubjectIdentifierType::CertificateSubject, &seal);
    let (code, access) = finish_auth(&http, post_xades(&http, document.clone()).await).await;
    assert_eq!(code, 200);
    // The access token works on an authenticated endpoint.
    let sessions = http.get("/auth/sessions", access.as_deref()).await;
    assert_eq!(sessions.status, 200, "{}", sessions.text());
    assert!(
        sessions.text().contains("XadesSignature"),
        "{}",
        sessions.text()
    );

    // The same signed document again: the challenge is used up.
    let again = post_xades(&http, document).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.exception_code(), 21111);
    // An unknown challenge.
    let unknown = signed(
        "20250101-CR-0000000000-0000000000-00",
        NIP,
        SubjectIdentifierType::CertificateSubject,
        &seal,
    );
    assert_eq!(post_xades(&http, unknown).await.exception_code(), 21111);
    sim.shutdown().await;
}

#[tokio::test]
async fn signature_errors_map_to_ksef_codes() {
    let (sim, http) = start(Simulator::builder()).await;
    let seal = TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let c = challenge(&http).await;
    let document = signed(&c, NIP, SubjectIdentifierType::CertificateSubject, &seal);

    // Tampered content: the whole-document digest no longer matches.
    let tampered = String::from_utf8(document.clone())
        .unwrap()
        .replace("certificateSubject", "certificateFingerprint")
        .into_bytes();
    let resp = post_xades(&http, tampered).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 9105);

    // Unsigned document.
    let nip: Nip = NIP.parse().unwrap();
    let unsigned = AuthTokenRequest::new(c.parse().unwrap(), ContextIdentifier::Nip(nip))
        .to_xml()
        .unwrap();
    assert_eq!(post_xades(&http, unsigned).await.exception_code(), 9102);

    // Two signatures: a copy of the signature (with fresh ids) next to the original.
    let text = String::from_utf8(document.clone()).unwrap();
    let start = text.find("<ds:Signature").unwrap();
    let end = text.rfind("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let copy = text[start..end].replace("Id=\"", "Id=\"copy-");
    let twice = format!("{}{copy}{}", &text[..end], &text[end..]).into_bytes();
    assert_eq!(post_xades(&http, twice).await.exception_code(), 9103);

    // Not XML at all.
    assert_eq!(
        post_xades(&http, b"not xml".to_vec())
            .await
            .exception_code(),
        9101
    );

    // The failed attempts did not use up the challenge.
    let (code, _) = finish_auth(&http, post_xades(&http, document).await).await;
    assert_eq!(code, 200);
    sim.shutdown().await;
}

/// Issue 15: a XAdES request canonicalized with Canonical XML 1.1 (or a `#WithComments` variant), which
/// the Ministry's XAdES document allows, was refused with 400/9105. Each variant now logs in.
#[tokio::test]
async fn every_allowed_canonicalization_logs_in() {
    let (sim, http) = start(Simulator::builder()).await;
    let seal =
        TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::Rsa2048).unwrap();
    for (algorithm, with_comments) in [
        (Algorithm::Inclusive11, false),
        (Algorithm::Inclusive11, true),
        (Algorithm::Inclusive10, true),
        (Algorithm::Exclusive, true),
    ] {
        let c = challenge(&http).await;
        let request = AuthTokenRequest::new(
            c.parse().unwrap(),
            ContextIdentifier::Nip(NIP.parse().unwrap()),
        );
        let options = SignOptions::new().with_canonicalization(algorithm, with_comments);
        let document = xades::sign_with(
            &request.to_xml().unwrap(),
            &seal.signer().unwrap(),
            &options,
        )
        .unwrap();
        let uri = algorithm.uri(with_comments);
        assert!(
            String::from_utf8_lossy(&document)
                .contains(&format!("CanonicalizationMethod Algorithm=\"{uri}\"")),
            "{uri}"
        );
        let (code, access) = finish_auth(&http, post_xades(&http, document).await).await;
        assert_eq!(code, 200, "{uri}");
        let sessions = http.get("/auth/sessions", access.as_deref()).await;
        assert_eq!(sessions.status, 200, "{uri}: {}", sessions.text());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn subject_must_match_the_context() {
    let other = "7352765225";
    let (sim, http) = start(Simulator::builder().subjects([NIP, other])).await;
    // A seal of NIP asking for the other context: no permissions.
    let seal = TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let c = challenge(&http).await;
    let resp = post_xades(
        &http,
        signed(&c, other, SubjectIdentifierType::CertificateSubject, &seal),
    )
    .await;
    assert_eq!(finish_auth(&http, resp).await.0, 415);

    // A person with TINPL-<NIP> in their own context.
    let person = TestCertificate::person(
        "Jan",
        "Kowalski",
        &PersonIdentifier::Nip(other.parse().unwrap()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    let c = challenge(&http).await;
    let resp = post_xades(
        &http,
        signed(
            &c,
            other,
            SubjectIdentifierType::CertificateSubject,
            &person,
        ),
    )
    .await;
    assert_eq!(finish_auth(&http, resp).await.0, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn person_with_pesel_needs_a_fingerprint_grant() {
    let pesel: Pesel = "44051401359".parse().unwrap();
    let person = TestCertificate::person(
        "Anna",
        "Nowak",
        &PersonIdentifier::Pesel(pesel.clone()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    let fingerprint = ksef_xades::Certificate::from_der(person.certificate_der())
        .unwrap()
        .fingerprint_sha256_hex();

    // Without a grant: by subject (PESEL has no permissions) and by fingerprint both end in 415.
    let (sim, http) = start(Simulator::builder()).await;
    for kind in [
        SubjectIdentifierType::CertificateSubject,
        SubjectIdentifierType::CertificateFingerprint,
    ] {
        let c = challenge(&http).await;
        let resp = post_xades(&http, signed(&c, NIP, kind, &person)).await;
        assert_eq!(finish_auth(&http, resp).await.0, 415);
    }
    sim.shutdown().await;

    // With a grant for the fingerprint in NIP's context.
    let (sim, http) =
        start(Simulator::builder().trusted_fingerprint(NIP, fingerprint.to_ascii_uppercase()))
            .await;
    let c = challenge(&http).await;
    let resp = post_xades(
        &http,
        signed(
            &c,
            NIP,
            SubjectIdentifierType::CertificateFingerprint,
            &person,
        ),
    )
    .await;
    assert_eq!(finish_auth(&http, resp).await.0, 200);
    // Another context is not granted.
    let c = challenge(&http).await;
    let resp = post_xades(
        &http,
        signed(
            &c,
            "7352765225",
            SubjectIdentifierType::CertificateFingerprint,
            &person,
        ),
    )
    .await;
    assert_eq!(finish_auth(&http, resp).await.0, 415);
    sim.shutdown().await;
}
