//! The administrative groups through HTTP: test data, limits, permissions and certificates, with
//! the state transitions and error codes KSeF documents.

mod common;

use std::time::Duration;

use common::*;
use ksef_crypto::test_certificates::{KeyType, PersonIdentifier, TestCertificate};
use ksef_model::types::{
    AuthenticationChallengeResponse, EffectiveApiRateLimits, EffectiveContextLimits,
    EffectiveSubjectLimits,
};
use ksef_model::values::{Nip, Pesel};
use ksef_sim::{Simulator, Stats};
use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
use serde_json::{Value, json};

const PERSON_NIP: &str = "3333333333";
const PESEL: &str = "80010112340";

async fn start() -> (Simulator, Http) {
    start_with(
        Simulator::builder()
            .processing_delays(Duration::from_millis(20))
            // Long enough to observe status 100 of permission operations and enrollments.
            .token_activation_delay(Duration::from_millis(400)),
    )
    .await
}

/// Logs in with a XAdES signature by `cert` in the context `nip`: the final status code, and
/// the access token on success.
async fn xades(http: &Http, nip: &str, cert: &TestCertificate) -> (i32, Option<String>) {
    let nip: Nip = nip.parse().unwrap();
    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    let request = AuthTokenRequest::new(challenge.challenge, ContextIdentifier::Nip(nip));
    let signed =
        ksef_xades::xades::sign(&request.to_xml().unwrap(), &cert.signer().unwrap()).unwrap();
    finish_auth(http, post_xades(http, signed).await).await
}

/// Asks for an offline KSeF certificate named `name` for `csr` (base64 DER).
async fn enroll(http: &Http, bearer: &str, csr: String, name: &str) -> Resp {
    let body = json!({"certificateName": name, "certificateType": "Offline", "csr": csr});
    http.post("/certificates/enrollments", Some(bearer), &body)
        .await
}

fn person_cert() -> TestCertificate {
    let pesel: Pesel = PESEL.parse().unwrap();
    TestCertificate::person(
        "Jan",
        "Kowalski",
        &PersonIdentifier::Pesel(pesel),
        KeyType::EcdsaP256,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_data_subjects_persons_blocks_and_their_effect_on_login() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let subject = json!({"subjectNip": "1111111111", "subjectType": "JST", "description": "Gmina",
        "subunits": [{"subjectNip": "2222222222", "description": "Szkoła"}]});
    assert_eq!(
        http.post("/testdata/subject", None, &subject).await.status,
        200
    );
    // Again, or the seeded subject: 30001.
    let again = http.post("/testdata/subject", None, &subject).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.exception_code(), 30001);
    let seeded = json!({"subjectNip": nip, "subjectType": "VatGroup", "description": "Grupa VAT"});
    assert_eq!(
        http.post("/testdata/subject", None, &seeded)
            .await
            .exception_code(),
        30001
    );
    // Not a NIP at all (a leading zero): 21405. (Like KSeF's TEST environment, the test-data
    // API does not insist on the check digit.)
    let bad = json!({"subjectNip": "0123456789", "subjectType": "JST", "description": "x"});
    assert_eq!(
        http.post("/testdata/subject", None, &bad)
            .await
            .exception_code(),
        21405
    );

    // A person owns its NIP: its PESEL certificate logs in there with every permission.
    let person =
        json!({"nip": PERSON_NIP, "pesel": PESEL, "isBailiff": false, "description": "Osoba"});
    assert_eq!(
        http.post("/testdata/person", None, &person).await.status,
        200
    );
    assert_eq!(
        http.post("/testdata/person", None, &person)
            .await
            .exception_code(),
        30001
    );
    let cert = person_cert();
    let (code, access) = xades(&http, PERSON_NIP, &cert).await;
    assert_eq!(code, 200);
    let access = access.unwrap();
    let tokens = http
        .post(
            "/tokens",
            Some(&access),
            &json!({"permissions": ["InvoiceRead"], "description": "Token osoby"}),
        )
        .await;
    assert_eq!(tokens.status, 202, "{}", tokens.text());
    // Not in the seeded company's context.
    assert_eq!(xades(&http, &nip, &cert).await.0, 415);
    // Removed: no more login.
    assert_eq!(
        http.post("/testdata/person/remove", None, &json!({"nip": PERSON_NIP}))
            .await
            .status,
        200
    );
    assert_eq!(xades(&http, PERSON_NIP, &cert).await.0, 415);
    // A deceased person's credentials: 470.
    let deceased = json!({"nip": PERSON_NIP, "pesel": PESEL, "isBailiff": false,
        "description": "Osoba zmarła", "isDeceased": true});
    assert_eq!(
        http.post("/testdata/person", None, &deceased).await.status,
        200
    );
    assert_eq!(xades(&http, PERSON_NIP, &cert).await.0, 470);

    // Test-data permissions: InvoiceRead only, in the seeded context.
    let grant = json!({"contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": "90020211117"},
        "permissions": [{"permissionType": "InvoiceRead", "description": "Odczyt"}]});
    assert_eq!(
        http.post("/testdata/permissions", None, &grant)
            .await
            .status,
        200
    );
    let reader = TestCertificate::person(
        "Anna",
        "Nowak",
        &PersonIdentifier::Pesel("90020211117".parse().unwrap()),
        KeyType::EcdsaP256,
    )
    .unwrap();
    let (code, access) = xades(&http, &nip, &reader).await;
    assert_eq!(code, 200);
    let access = access.unwrap();
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let query =
        json!({"subjectType": "Subject1", "dateRange": {"dateType": "Invoicing", "from": from}});
    assert_eq!(
        http.post("/invoices/query/metadata", Some(&access), &query)
            .await
            .status,
        200
    );
    // Reading invoices does not allow reading the context's permissions.
    let refused = http
        .post(
            "/permissions/query/persons/grants",
            Some(&access),
            &json!({"queryType": "PermissionsInCurrentContext"}),
        )
        .await;
    assert_eq!(refused.status, 403);
    let revoke = json!({"contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": "90020211117"}});
    assert_eq!(
        http.post("/testdata/permissions/revoke", None, &revoke)
            .await
            .status,
        200
    );
    assert_eq!(xades(&http, &nip, &reader).await.0, 415);

    // A blocked context: 480 until unblocked.
    let block = json!({"contextIdentifier": {"type": "Nip", "value": nip}});
    assert_eq!(
        http.post("/testdata/context/block", None, &block)
            .await
            .status,
        200
    );
    assert_eq!(auth_code(&http, &nip, sim.seeded_token()).await, 480);
    assert_eq!(
        http.post("/testdata/context/unblock", None, &block)
            .await
            .status,
        200
    );
    assert_eq!(auth_code(&http, &nip, sim.seeded_token()).await, 200);

    // Attachments: off, on, revoked; an invoice with an attachment needs them on.
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let with_attachment = fixture("invoice-templates/invoice-template-fa-3-with-attachment.xml")
        .replace("#nip#", &nip)
        .replace(
            "<P_1>2025-09-01</P_1>",
            &format!("<P_1>{}</P_1>", chrono::Utc::now().date_naive()),
        );
    let session = open_session(&http, &creds.access).await;
    let numbered = |n: &str| with_attachment.replace("#invoice_number#", n).into_bytes();
    let refused = send_ok(&http, &creds.access, &session, &numbered("ATT-1")).await;
    let refused = wait_invoice(&http, &creds.access, &session.reference, &refused).await;
    assert_eq!(refused.status.code, 415, "{:?}", refused.status);
    let status = |resp: Resp| -> Value { resp.json() };
    let off = status(
        http.get("/permissions/attachments/status", Some(&creds.access))
            .await,
    );
    assert_eq!(off["isAttachmentAllowed"], false);
    http.post("/testdata/attachment", None, &json!({"nip": nip}))
        .await;
    let on = status(
        http.get("/permissions/attachments/status", Some(&creds.access))
            .await,
    );
    assert_eq!(on["isAttachmentAllowed"], true);
    let accepted = send_ok(&http, &creds.access, &session, &numbered("ATT-2")).await;
    let accepted = wait_invoice(&http, &creds.access, &session.reference, &accepted).await;
    assert_eq!(accepted.status.code, 200, "{:?}", accepted.status);
    http.post("/testdata/attachment/revoke", None, &json!({"nip": nip}))
        .await;
    let revoked = status(
        http.get("/permissions/attachments/status", Some(&creds.access))
            .await,
    );
    assert_eq!(revoked["isAttachmentAllowed"], false);
    assert!(revoked["revokedDate"].is_string());

    // The JST and its unit show in the roles queries of their contexts.
    let roles: Value = http
        .post(
            "/permissions/query/subordinate-entities/roles",
            Some(&creds.access),
            &json!({}),
        )
        .await
        .json();
    assert!(roles["roles"].as_array().unwrap().is_empty());
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_can_be_overridden_and_rate_limits_are_enforced() {
    let (sim, http) = start().await;
    let creds = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let access = creds.access.as_str();
    let defaults: EffectiveContextLimits = http.get("/limits/context", Some(access)).await.json();
    assert_eq!(defaults.online_session.max_invoices, 10_000);
    // 2.9.0: the collective identifier's invoice limit is required, 500 by default.
    assert_eq!(defaults.collective_identifier.max_invoices, 500);
    let limits =
        json!({"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 5, "maxInvoices": 7});
    let without_collective = http
        .post(
            "/testdata/limits/context/session",
            Some(access),
            &json!({"onlineSession": limits, "batchSession": limits}),
        )
        .await;
    assert_eq!(
        without_collective.status, 400,
        "collectiveIdentifier is required"
    );
    let out_of_range = http
        .post(
            "/testdata/limits/context/session",
            Some(access),
            &json!({"onlineSession": limits, "batchSession": limits,
                    "collectiveIdentifier": {"maxInvoices": 1}}),
        )
        .await;
    assert_eq!(out_of_range.status, 400, "{}", out_of_range.text());
    let set = http
        .post(
            "/testdata/limits/context/session",
            Some(access),
            &json!({"onlineSession": limits, "batchSession": limits,
                    "collectiveIdentifier": {"maxInvoices": 20}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let changed: EffectiveContextLimits = http.get("/limits/context", Some(access)).await.json();
    assert_eq!(changed.online_session.max_invoices, 7);
    assert_eq!(changed.collective_identifier.max_invoices, 20);
    // The online session takes seven invoices, not eight.
    let nip = sim.seeded_nip().to_owned();
    let session = open_session(&http, access).await;
    for n in 0..7 {
        send_ok(
            &http,
            access,
            &session,
            &fa3_invoice(&nip, &format!("LIMIT/{n}")),
        )
        .await;
    }
    let eighth = send(
        &http,
        access,
        &session.reference,
        &encrypt(&session.key, &fa3_invoice(&nip, "LIMIT/7")),
    )
    .await;
    assert_eq!(eighth.exception_code(), 21155);
    assert_eq!(
        changed.batch_session.max_invoice_with_attachment_size_in_mb,
        5
    );
    http.delete("/testdata/limits/context/session", Some(access))
        .await;
    let reset: EffectiveContextLimits = http.get("/limits/context", Some(access)).await.json();
    assert_eq!(reset, defaults);
    // Zero is refused.
    let zero =
        json!({"maxInvoiceSizeInMB": 0, "maxInvoiceWithAttachmentSizeInMB": 5, "maxInvoices": 7});
    let refused = http
        .post(
            "/testdata/limits/context/session",
            Some(access),
            &json!({"onlineSession": zero, "batchSession": limits}),
        )
        .await;
    assert_eq!(refused.exception_code(), 21405);

    let subject: EffectiveSubjectLimits = http.get("/limits/subject", Some(access)).await.json();
    assert_eq!(subject.certificate.unwrap().max_certificates, Some(100));

    // Rate limits: production by default; a override is reported and enforced.
    let rates: EffectiveApiRateLimits = http.get("/rate-limits", Some(access)).await.json();
    assert_eq!(rates.invoice_export.per_second, 8);
    // 2.9.0's groups, with the spec's values.
    let close = &rates.online_session_close;
    assert_eq!(
        (close.per_second, close.per_minute, close.per_hour),
        (20, 60, 240)
    );
    let close = &rates.batch_session_close;
    assert_eq!(
        (close.per_second, close.per_minute, close.per_hour),
        (20, 40, 120)
    );
    let collective = &rates.collective_identifier;
    assert_eq!(
        (
            collective.per_second,
            collective.per_minute,
            collective.per_hour
        ),
        (20, 120, 240)
    );
    assert_eq!(
        (
            rates.anonymous.per_second,
            rates.anonymous.per_minute,
            rates.anonymous.per_hour
        ),
        (60, -1, -1),
        "as the spec's example: no minute or hour window"
    );
    assert_eq!((rates.global.per_second, rates.global.per_minute), (75, -1));
    let slow = json!({"perSecond": 1, "perMinute": 2, "perHour": 100});
    let fast = json!({"perSecond": 100, "perMinute": 1000, "perHour": 10000});
    let mut groups = every_rate_limit_group(&fast);
    groups.insert("sessionList".to_owned(), slow);
    let set = http
        .post(
            "/testdata/rate-limits",
            Some(access),
            &json!({"rateLimits": groups}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let rates: EffectiveApiRateLimits = http.get("/rate-limits", Some(access)).await.json();
    assert_eq!(rates.session_list.per_minute, 2);
    assert_eq!(
        http.get("/sessions?sessionType=Online", Some(access))
            .await
            .status,
        200
    );
    let limited = http.get("/sessions?sessionType=Online", Some(access)).await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.contains_key("retry-after"));
    let stats: Stats = http
        .get(&format!("http://{}/_sim/stats", sim.local_addr()), None)
        .await
        .json();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.too_many_requests_sent, 1);
    http.delete("/testdata/rate-limits", Some(access)).await;
    assert_eq!(
        http.get("/sessions?sessionType=Online", Some(access))
            .await
            .status,
        200
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_grant_status_query_login_and_revoke() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let access = creds.access.as_str();
    let grant = json!({"subjectIdentifier": {"type": "Pesel", "value": PESEL},
        "permissions": ["InvoiceRead", "CredentialsRead"], "description": "Księgowa",
        "subjectDetails": {"subjectDetailsType": "PersonByIdentifier",
            "personById": {"firstName": "Jan", "lastName": "Kowalski"}}});
    let resp = http
        .post("/permissions/persons/grants", Some(access), &grant)
        .await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let op: Value = resp.json();
    let op_path = format!(
        "/permissions/operations/{}",
        op["referenceNumber"].as_str().unwrap()
    );
    let first: Value = http.get(&op_path, Some(access)).await.json();
    assert_eq!(first["status"]["code"], 100);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done: Value = http.get(&op_path, Some(access)).await.json();
    assert_eq!(done["status"]["code"], 200);

    // The person logs in with the granted permissions and sees them as its own.
    let cert = person_cert();
    let (code, person) = xades(&http, &nip, &cert).await;
    assert_eq!(code, 200);
    let person = person.unwrap();
    let mine: Value = http
        .post(
            "/permissions/query/personal/grants",
            Some(&person),
            &json!({}),
        )
        .await
        .json();
    let mut scopes: Vec<&str> = mine["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permissionScope"].as_str().unwrap())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["CredentialsRead", "InvoiceRead"]);
    // CredentialsRead allows the persons query, not a grant.
    let listed = http
        .post(
            "/permissions/query/persons/grants",
            Some(&person),
            &json!({"queryType": "PermissionsInCurrentContext", "permissionTypes": ["InvoiceRead"]}),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let listed: Value = listed.json();
    let items = listed["permissions"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["authorizedIdentifier"]["value"], PESEL);
    assert_eq!(
        http.post("/permissions/persons/grants", Some(&person), &grant)
            .await
            .status,
        403
    );

    // Bad input: a PESEL with a wrong check digit, a short description, an unknown scope.
    let mut bad = grant.clone();
    bad["subjectIdentifier"]["value"] = json!("80010112341");
    assert_eq!(
        http.post("/permissions/persons/grants", Some(access), &bad)
            .await
            .exception_code(),
        21405
    );
    let mut bad = grant.clone();
    bad["description"] = json!("abc");
    assert_eq!(
        http.post("/permissions/persons/grants", Some(access), &bad)
            .await
            .exception_code(),
        21405
    );
    let mut bad = grant.clone();
    bad["permissions"] = json!(["Everything"]);
    assert_eq!(
        http.post("/permissions/persons/grants", Some(access), &bad)
            .await
            .exception_code(),
        21405
    );
    // A subunit with a wrong internal-id check digit.
    let unit = ksef_model::values::InternalId::from_parts(&nip.parse().unwrap(), 1)
        .unwrap()
        .to_string();
    let mut wrong = unit.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    let subunit = json!({"subjectIdentifier": {"type": "Pesel", "value": PESEL},
        "contextIdentifier": {"type": "InternalId", "value": wrong}, "description": "Administrator",
        "subjectDetails": {"subjectDetailsType": "PersonByIdentifier",
            "personById": {"firstName": "Jan", "lastName": "Kowalski"}}});
    assert_eq!(
        http.post("/permissions/subunits/grants", Some(access), &subunit)
            .await
            .exception_code(),
        21405
    );

    // Revoking each grant removes it; the person is left without permissions.
    let all: Value = http
        .post(
            "/permissions/query/persons/grants",
            Some(access),
            &json!({"queryType": "PermissionsInCurrentContext"}),
        )
        .await
        .json();
    for item in all["permissions"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let resp = http
            .delete(&format!("/permissions/common/grants/{id}"), Some(access))
            .await;
        assert_eq!(resp.status, 202, "{}", resp.text());
        let again = http
            .delete(&format!("/permissions/common/grants/{id}"), Some(access))
            .await;
        assert_eq!(again.exception_code(), 21405);
    }
    assert_eq!(xades(&http, &nip, &cert).await.0, 415);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_enroll_issue_retrieve_query_and_revoke() {
    use x509_parser::prelude::FromDer as _;
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    // Token logins cannot enroll.
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let data = http
        .get("/certificates/enrollments/data", Some(&creds.access))
        .await;
    assert_eq!(data.exception_code(), 25001);

    let seal = TestCertificate::company("Firma Testowa", &nip.parse().unwrap(), KeyType::EcdsaP256)
        .unwrap();
    let (code, access) = xades(&http, &nip, &seal).await;
    assert_eq!(code, 200);
    let access = access.unwrap();
    let data: Value = http
        .get("/certificates/enrollments/data", Some(&access))
        .await
        .json();
    assert_eq!(data["commonName"], "Firma Testowa");
    assert_eq!(data["organizationIdentifier"], format!("VATPL-{nip}"));
    let data: ksef_crypto::EnrollmentData = serde_json::from_value(data).unwrap();
    let key = ksef_crypto::CertificateKey::generate_ec_p256().unwrap();
    let csr = ksef_crypto::CertificateSigningRequest::new(&data, &key).unwrap();
    let token_enroll = enroll(&http, &creds.access, csr.to_base64(), "Certyfikat offline").await;
    assert_eq!(token_enroll.exception_code(), 25002);
    // A different subject: 25003.
    let mut other = data.clone();
    other.common_name = "Ktoś Inny".to_owned();
    let foreign = ksef_crypto::CertificateSigningRequest::new(&other, &key).unwrap();
    let resp = enroll(&http, &access, foreign.to_base64(), "Certyfikat offline").await;
    assert_eq!(resp.exception_code(), 25003);
    // Not base64, not a CSR, a broken signature: 25004.
    let mut tampered = csr.der().to_vec();
    let at = tampered.len() - 5;
    tampered[at] ^= 0x55;
    for junk in [
        "@@@".to_owned(),
        base64_of(b"not a csr"),
        base64_of(&tampered),
    ] {
        let resp = enroll(&http, &access, junk, "Certyfikat offline").await;
        assert_eq!(resp.exception_code(), 25004, "{}", resp.text());
    }
    // A name with characters outside the allowed set.
    let resp = enroll(&http, &access, csr.to_base64(), "Zły <name>").await;
    assert_eq!(resp.exception_code(), 21405);

    let resp = enroll(&http, &access, csr.to_base64(), "Certyfikat offline").await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let enrolled: Value = resp.json();
    let status_path = format!(
        "/certificates/enrollments/{}",
        enrolled["referenceNumber"].as_str().unwrap()
    );
    let first: Value = http.get(&status_path, Some(&access)).await.json();
    assert_eq!(first["status"]["code"], 100);
    assert!(first["certificateSerialNumber"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done: Value = http.get(&status_path, Some(&access)).await.json();
    assert_eq!(done["status"]["code"], 200);
    let serial = done["certificateSerialNumber"].as_str().unwrap().to_owned();
    assert_eq!(serial.len(), 16);
    assert!(
        serial
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
    );

    // The issued certificate carries the CSR's subject and key, signed by the simulator's CA.
    let retrieved: Value = http
        .post(
            "/certificates/retrieve",
            Some(&access),
            &json!({"certificateSerialNumbers": [serial]}),
        )
        .await
        .json();
    let item = &retrieved["certificates"][0];
    assert_eq!(item["certificateType"], "Offline");
    assert_eq!(item["certificateName"], "Certyfikat offline");
    let der = base64_decode(item["certificate"].as_str().unwrap());
    let (_, issued) = x509_parser::certificate::X509Certificate::from_der(&der).unwrap();
    let (_, request) =
        x509_parser::certification_request::X509CertificationRequest::from_der(csr.der()).unwrap();
    assert_eq!(
        issued.subject().to_string(),
        request.certification_request_info.subject.to_string()
    );
    assert_eq!(
        issued.public_key().raw,
        request.certification_request_info.subject_pki.raw
    );
    assert!(issued.issuer().to_string().contains("ksef-sim CA"));
    assert_eq!(
        issued
            .raw_serial_as_string()
            .replace(':', "")
            .to_uppercase(),
        serial
    );
    let usage = issued.key_usage().unwrap().unwrap().value;
    assert!(usage.non_repudiation() && !usage.digital_signature());

    let limits: Value = http.get("/certificates/limits", Some(&access)).await.json();
    assert_eq!(limits["certificate"]["remaining"], 99);
    assert_eq!(limits["enrollment"]["remaining"], 299);

    let query: Value = http
        .post(
            "/certificates/query",
            Some(&access),
            &json!({"status": "Active"}),
        )
        .await
        .json();
    assert_eq!(query["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(query["certificates"][0]["subjectIdentifier"]["value"], nip);

    let revoke_path = format!("/certificates/{serial}/revoke");
    let body = json!({"revocationReason": "KeyCompromise"});
    assert_eq!(
        http.post(&revoke_path, Some(&access), &body).await.status,
        204
    );
    assert_eq!(
        http.post(&revoke_path, Some(&access), &body)
            .await
            .exception_code(),
        25009
    );
    assert_eq!(
        http.post(
            "/certificates/0000000000000000/revoke",
            Some(&access),
            &body
        )
        .await
        .exception_code(),
        25008
    );
    let revoked: Value = http
        .post(
            "/certificates/query",
            Some(&access),
            &json!({"status": "Revoked"}),
        )
        .await
        .json();
    assert_eq!(revoked["certificates"].as_array().unwrap().len(), 1);

    // A lowered enrollment limit: 25006.
    let set = http
        .post(
            "/testdata/limits/subject/certificate",
            Some(&access),
            &json!({"subjectIdentifierType": "Nip", "enrollment": {"maxEnrollments": 1}}),
        )
        .await;
    assert_eq!(set.status, 200);
    let resp = enroll(&http, &access, csr.to_base64(), "Drugi certyfikat").await;
    assert_eq!(resp.exception_code(), 25006);
    let unknown = http
        .get(
            "/certificates/enrollments/20250101-CE-0000000000-0000000000-00",
            Some(&access),
        )
        .await;
    assert_eq!(unknown.exception_code(), 25005);
    sim.shutdown().await;
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
