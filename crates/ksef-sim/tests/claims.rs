//! The claims of the simulator's JWTs: the names and encodings real KSeF access tokens carry
//! (the Ministry's client and other clients in the field parse them).

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{finish_login, login, post_xades, start_with};
use ksef_crypto::test_certificates::{KeyType, TestCertificate};
use ksef_model::types::AuthenticationChallengeResponse;
use ksef_sim::Simulator;
use ksef_xades::request::{AuthTokenRequest, ContextIdentifier, SubjectIdentifierType};
use serde_json::{Map, Value};

/// The JWT's body, decoded (no signature check: this is what a client in the field reads).
fn payload(jwt: &str) -> Map<String, Value> {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact serialization");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let body: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    body.as_object().expect("a JSON object").clone()
}

/// A claim that is a string holding JSON: the parsed JSON.
fn json_in_string(claims: &Map<String, Value>, name: &str) -> Value {
    let text = claims
        .get(name)
        .unwrap_or_else(|| panic!("claim {name} missing: {claims:?}"))
        .as_str()
        .unwrap_or_else(|| panic!("claim {name} is not a string: {claims:?}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("claim {name} is not JSON ({e}): {text}"))
}

/// A claim that is a string holding a JSON array of strings.
fn string_array(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match json_in_string(claims, name) {
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().expect("strings only").to_owned())
            .collect(),
        other => panic!("claim {name} is not a JSON array: {other}"),
    }
}

/// The claims every token carries, checked against the login.
fn check_common(claims: &Map<String, Value>, nip: &str, reference: &str, typ: &str) {
    for name in ["iss", "aud"] {
        assert!(
            claims[name].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: {claims:?}"
        );
    }
    let iat = claims["iat"].as_i64().expect("iat: seconds");
    let exp = claims["exp"].as_i64().expect("exp: seconds");
    assert!(exp > iat);
    assert_eq!(claims["typ"], typ);
    assert_eq!(claims["cit"], "Nip");
    assert_eq!(claims["civ"], nip);
    assert_eq!(claims["arn"], reference);
    assert!(json_in_string(claims, "ipp").is_object());
    assert!(json_in_string(claims, "sud").is_object());
    let per = string_array(claims, "per");
    let pec = string_array(claims, "pec");
    let pep = string_array(claims, "pep");
    let _roles = string_array(claims, "rol");
    assert!(per.iter().any(|p| p == "InvoiceWrite"), "{per:?}");
    // Effective = granted less excluded.
    let effective: Vec<&String> = per.iter().filter(|p| !pec.contains(p)).collect();
    assert_eq!(pep.iter().collect::<Vec<_>>(), effective);
    // The old names are gone.
    for old in ["ctx", "ref"] {
        assert!(!claims.contains_key(old), "{old}: {claims:?}");
    }
}

// Regression (issue 15, section 3): the tokens carried `per` as a JSON array, `ctx`/`ref`
// instead of `civ`/`arn`, and no `trn`, `cit`, `aum`, `sud`, `ipp`, `pec`, `rol`, `pep`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_login_claims_have_ksef_names_and_encodings() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(20))).await;
    let nip = sim.seeded_nip().to_owned();
    let session = login(&http, &nip, sim.seeded_token()).await;
    let access = payload(&session.access);
    check_common(&access, &nip, &session.reference, "access");
    assert_eq!(access["aum"], "Token");
    let sud = json_in_string(&access, "sud");
    assert_eq!(sud["subjectIdentifier"]["type"], "Nip");
    assert_eq!(sud["subjectIdentifier"]["value"], nip);
    // `trn`: the reference number of the KSeF token used, as `GET /tokens` lists it.
    let tokens: Value = http.get("/tokens", Some(&session.access)).await.json();
    let seeded = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["description"] == "Token seeded by ksef-sim")
        .expect("the seeded token is listed");
    assert_eq!(access["trn"], seeded["referenceNumber"]);
    // The refresh token and a refreshed access token say the same.
    let refresh = payload(&session.refresh);
    check_common(&refresh, &nip, &session.reference, "refresh");
    assert_eq!(refresh["trn"], seeded["referenceNumber"]);
    let refreshed: Value = http
        .post_empty("/auth/token/refresh", Some(&session.refresh))
        .await
        .json();
    let again = refreshed["accessToken"]["token"].as_str().unwrap();
    let again = payload(again);
    check_common(&again, &nip, &session.reference, "access");
    assert_eq!(again["trn"], seeded["referenceNumber"]);
    // The authentication token too.
    check_common(
        &payload(&session.authentication_token),
        &nip,
        &session.reference,
        "authentication",
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xades_login_claims_carry_the_certificate_subject_and_no_trn() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(20))).await;
    let nip = sim.seeded_nip().to_owned();
    let seal = TestCertificate::company("Firma Testowa", &nip.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    let request = AuthTokenRequest::new(
        challenge.challenge.to_string().parse().unwrap(),
        ContextIdentifier::Nip(nip.parse().unwrap()),
    )
    .with_subject_identifier_type(SubjectIdentifierType::CertificateSubject);
    let signed =
        ksef_xades::xades::sign(&request.to_xml().unwrap(), &seal.signer().unwrap()).unwrap();
    let session = finish_login(&http, post_xades(&http, signed).await)
        .await
        .expect("the seal logs in");
    let access = payload(&session.access);
    check_common(&access, &nip, &session.reference, "access");
    assert_eq!(access["aum"], "QualifiedSeal");
    assert!(!access.contains_key("trn"), "{access:?}");
    let sud = json_in_string(&access, "sud");
    assert_eq!(sud["subjectIdentifier"]["type"], "Nip");
    assert_eq!(sud["subjectIdentifier"]["value"], nip);
    assert_eq!(sud["commonName"], "Firma Testowa");
    assert_eq!(sud["countryName"], "PL");
    assert!(sud["givenNames"].is_array());
    // The token still authorizes.
    let listed = http.get("/auth/sessions", Some(&session.access)).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    sim.shutdown().await;
}
