//! XAdES authentication (`POST /auth/xades-signature`) against the simulator.

mod common;

use std::time::Duration;

use common::{Http, finish_auth, post_xades, start_with};
use ksef_crypto::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_model::types::AuthenticationChallengeResponse;
use ksef_model::values::{Nip, Pesel};
use ksef_sim::Simulator;
use ksef_xades::c14n::Algorithm;
use ksef_xades::request::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
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

/// A random valid NIP (never one of the simulator's seeded subjects).
fn random_nip() -> String {
    use rsa::rand_core::{OsRng, RngCore as _};
    const WEIGHTS: [u32; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    loop {
        // A first digit of 1..=9: a NIP starts with a tax office code.
        let mut digits: Vec<u32> = (0..9).map(|_| OsRng.next_u32() % 10).collect();
        digits[0] = 1 + OsRng.next_u32() % 9;
        let check = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum::<u32>() % 11;
        if check == 10 {
            continue;
        }
        digits.push(check);
        let nip: String = digits
            .iter()
            .map(|d| char::from_digit(*d, 10).unwrap())
            .collect();
        if nip != NIP && nip.parse::<Nip>().is_ok() {
            return nip;
        }
    }
}

/// Signs a login of `cert` into `nip`'s context and posts it (with `query`, e.g.
/// `?verifyCertificateChain=true`).
async fn xades_login(http: &Http, nip: &str, cert: &TestCertificate, query: &str) -> common::Resp {
    let c = challenge(http).await;
    let body = signed(&c, nip, SubjectIdentifierType::CertificateSubject, cert);
    http.send(
        "POST",
        &format!("/auth/xades-signature{query}"),
        None,
        Some(body),
        &[("content-type", "application/xml")],
    )
    .await
}

// Regression (issue 15, section 3): a self-signed seal for a NIP the simulator was not seeded
// with ended in 415; on KSeF's TEST environment it logs in as that NIP's owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mode_self_signed_seal_of_any_nip_is_its_owner() {
    let (sim, http) = start(Simulator::builder()).await;
    let nip = random_nip();
    assert_ne!(nip, sim.seeded_nip());
    let seal = TestCertificate::company("Losowa Firma", &nip.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let login = common::finish_login(&http, xades_login(&http, &nip, &seal, "").await)
        .await
        .expect("a self-signed seal logs in to its own NIP in TEST mode");
    let access = login.access.as_str();
    // An online session and an invoice sold by that NIP.
    let session = common::open_session(&http, access).await;
    let invoice =
        common::send_ok(&http, access, &session, &common::fa3_invoice(&nip, "RND/1")).await;
    let status = common::wait_invoice(&http, access, &session.reference, &invoice).await;
    assert_eq!(status.status.code, 200, "{:?}", status.status);
    assert!(status.ksef_number.is_some());
    // The owner's rights: it may manage credentials (generate a KSeF token) ...
    let token = http
        .post(
            "/tokens",
            Some(access),
            &serde_json::json!({"permissions": ["InvoiceRead", "CredentialsManage"],
                "description": "Token właściciela"}),
        )
        .await;
    assert_eq!(token.status, 202, "{}", token.text());
    // ... and grant permissions in its context.
    let grant = http
        .post(
            "/permissions/persons/grants",
            Some(access),
            &serde_json::json!({"subjectIdentifier": {"type": "Pesel", "value": "44051401359"},
                "permissions": ["InvoiceRead"], "description": "Księgowa",
                "subjectDetails": {"subjectDetailsType": "PersonByIdentifier",
                    "personById": {"firstName": "Anna", "lastName": "Nowak"}}}),
        )
        .await;
    assert_eq!(grant.status, 202, "{}", grant.text());
    // A personal certificate with the NIP (TINPL-) is the owner too.
    let person = TestCertificate::person(
        "Jan",
        "Losowy",
        &PersonIdentifier::Nip(nip.parse().unwrap()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    let resp = xades_login(&http, &nip, &person, "").await;
    assert_eq!(finish_auth(&http, resp).await.0, 200);
    // The seal of one NIP is no one in another NIP's context.
    let resp = xades_login(&http, &random_nip(), &seal, "").await;
    assert_eq!(finish_auth(&http, resp).await.0, 415);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_certificate_chain_refuses_self_signed_certificates() {
    let (sim, http) = start(Simulator::builder()).await;
    // A random NIP and the seeded one alike: a self-signed certificate has no trusted chain.
    for nip in [random_nip(), NIP.to_owned()] {
        let seal =
            TestCertificate::company("Firma", &nip.parse().unwrap(), KeyType::Rsa2048).unwrap();
        let resp = xades_login(&http, &nip, &seal, "?verifyCertificateChain=true").await;
        assert_eq!(resp.status, 202, "{}", resp.text());
        let init: ksef_model::types::AuthenticationInitResponse = resp.json();
        let status = common::wait_auth(
            &http,
            init.reference_number.as_str(),
            &init.authentication_token.token,
        )
        .await;
        assert_eq!(status.status.code, 460, "{:?}", status.status);
        assert!(
            status
                .status
                .details
                .as_ref()
                .is_some_and(|d| d.iter().any(|d| d.contains("łańcuch"))),
            "{:?}",
            status.status
        );
        // `verifyCertificateChain=false` is the default behaviour.
        let resp = xades_login(&http, &nip, &seal, "?verifyCertificateChain=false").await;
        assert_eq!(finish_auth(&http, resp).await.0, 200);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_like_mode_lets_only_seeded_or_trusted_subjects_in() {
    let (sim, http) = start(Simulator::builder().mode(ksef_sim::SimMode::ProductionLike)).await;
    let nip = random_nip();
    let seal = TestCertificate::company("Losowa Firma", &nip.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let resp = xades_login(&http, &nip, &seal, "").await;
    assert_eq!(finish_auth(&http, resp).await.0, 415);
    // The seeded subject's own seal still logs in.
    let seeded =
        TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::EcdsaP256)
            .unwrap();
    let resp = xades_login(&http, NIP, &seeded, "").await;
    assert_eq!(finish_auth(&http, resp).await.0, 200);
    sim.shutdown().await;
}

/// Enrolls a KSeF authentication certificate for the seeded company (logged in with `seal`)
/// and returns a signer with its key and the issued certificate.
async fn enroll_ksef_certificate(http: &Http, seal: &TestCertificate) -> ksef_xades::KeySigner {
    use base64::Engine as _;
    let login = common::finish_login(http, xades_login(http, NIP, seal, "").await)
        .await
        .expect("the seeded seal logs in");
    let access = login.access.as_str();
    let data: ksef_crypto::EnrollmentData = http
        .get("/certificates/enrollments/data", Some(access))
        .await
        .json();
    let key = ksef_crypto::CertificateKey::generate_ec_p256().unwrap();
    let csr = ksef_crypto::CertificateSigningRequest::new(&data, &key).unwrap();
    let body = serde_json::json!({"certificateName": "Certyfikat logowania",
        "certificateType": "Authentication", "csr": csr.to_base64()});
    let resp = http
        .post("/certificates/enrollments", Some(access), &body)
        .await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let enrolled: serde_json::Value = resp.json();
    let status_path = format!(
        "/certificates/enrollments/{}",
        enrolled["referenceNumber"].as_str().unwrap()
    );
    let mut serial = None;
    for _ in 0..200 {
        let status: serde_json::Value = http.get(&status_path, Some(access)).await.json();
        if status["status"]["code"] == 200 {
            serial = status["certificateSerialNumber"]
                .as_str()
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let serial = serial.expect("the enrollment completes");
    let retrieved: serde_json::Value = http
        .post(
            "/certificates/retrieve",
            Some(access),
            &serde_json::json!({"certificateSerialNumbers": [serial]}),
        )
        .await
        .json();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            retrieved["certificates"][0]["certificate"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    ksef_xades::KeySigner::from_pkcs8_der(&key.to_pkcs8_der().unwrap(), &der).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_certificate_chain_accepts_a_ksef_certificate() {
    let (sim, http) = start(Simulator::builder()).await;
    let seal = TestCertificate::company("Firma Testowa", &NIP.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let signer = enroll_ksef_certificate(&http, &seal).await;
    // A certificate issued by the simulator's CA has a trusted chain.
    let c = challenge(&http).await;
    let request = AuthTokenRequest::new(
        c.parse().unwrap(),
        ContextIdentifier::Nip(NIP.parse().unwrap()),
    )
    .with_subject_identifier_type(SubjectIdentifierType::CertificateSubject);
    let body = xades::sign(&request.to_xml().unwrap(), &signer).unwrap();
    let resp = http
        .send(
            "POST",
            "/auth/xades-signature?verifyCertificateChain=true",
            None,
            Some(body),
            &[("content-type", "application/xml")],
        )
        .await;
    assert_eq!(finish_auth(&http, resp).await.0, 200);
    sim.shutdown().await;
}
