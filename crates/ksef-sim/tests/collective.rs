//! Collective identifiers: the rules of generation (71001/71002/71004/71005, the count limits),
//! the queries and their order, who sees payment details, permissions and persistence; and the
//! test-data certificate validity update.

mod common;

use std::time::Duration;

use common::*;
use ksef_sim::Simulator;
use serde_json::{Value, json};

/// The seller of the invoices.
const A: &str = "5265877635";
/// Another seller, whose invoices have the same buyer.
const B: &str = "7352765225";
/// The buyer on every invoice (the invoice template's Podmiot2).
const C: &str = "1111111111";

fn range() -> Value {
    json!({
        "dateCreatedFrom": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
        "dateCreatedTo": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

fn numbers(list: &Value) -> Vec<String> {
    list["collectiveIdentifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["collectiveIdentifierNumber"].as_str().unwrap().to_owned())
        .collect()
}

async fn generate(http: &Http, access: &str, invoices: Value) -> Resp {
    http.post(
        "/collective-identifiers",
        Some(access),
        &json!({ "invoices": invoices }),
    )
    .await
}

fn created(resp: &Resp) -> String {
    assert_eq!(resp.status, 201, "{}", resp.text());
    let body: Value = resp.json();
    let number = body["collectiveIdentifierNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    // NIP-IZYYYYMM-<12 hex>-<CRC-8 of the first 32 characters>.
    assert_eq!(number.len(), 35, "{number}");
    assert_eq!(&number[10..13], "-IZ");
    let crc = ksef_model::values::KsefNumber::crc8(&number.as_bytes()[..32]);
    assert_eq!(&number[33..], format!("{crc:02X}"), "{number}");
    number
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collective_identifiers_follow_the_spec_rules() {
    let dir = std::env::temp_dir().join(format!(
        "ksef-sim-collective-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let builder = || {
        Simulator::builder()
            .subjects([A, B, C])
            .processing_delays(Duration::ZERO)
            .data_dir(&dir)
    };
    let (sim, http) = start_with(builder()).await;
    let a = login(&http, A, sim.token_for(A).unwrap()).await;
    let b = login(&http, B, sim.token_for(B).unwrap()).await;
    let c = login(&http, C, sim.token_for(C).unwrap()).await;
    let from_a: Vec<String> = send_invoices(&http, &a.access, A, "FV/A", 3)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let from_b: Vec<String> = send_invoices(&http, &b.access, B, "FV/B", 1)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();

    // The buyer groups two invoices of seller A, with payment details on one.
    let by_buyer = created(
        &generate(
            &http,
            &c.access,
            json!([
                {"ksefNumber": from_a[0], "payment": {"amount": 100.5, "currency": "PLN"},
                 "description": "Rata 1"},
                {"ksefNumber": from_a[1]},
            ]),
        )
        .await,
    );
    assert!(by_buyer.starts_with(A), "the seller's NIP: {by_buyer}");
    // The seller groups two without details.
    let by_seller = created(
        &generate(
            &http,
            &a.access,
            json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[2]}]),
        )
        .await,
    );

    // Refusals.
    let one = generate(&http, &c.access, json!([{"ksefNumber": from_a[0]}])).await;
    assert_eq!(
        (one.status, one.exception_code()),
        (400, 21405),
        "{}",
        one.text()
    );
    let foreign = generate(
        &http,
        &c.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_b[0]}]),
    )
    .await;
    assert_eq!(foreign.exception_code(), 71004, "{}", foreign.text());
    assert!(foreign.text().contains(&from_b[0]), "{}", foreign.text());
    let repeated = generate(
        &http,
        &c.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[0]}]),
    )
    .await;
    assert_eq!(repeated.exception_code(), 71005, "{}", repeated.text());
    // B is no party on A's invoices: to B they do not exist.
    let unseen = generate(
        &http,
        &b.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[1]}]),
    )
    .await;
    assert_eq!(unseen.exception_code(), 71001, "{}", unseen.text());
    assert!(unseen.text().contains(&from_a[0]), "{}", unseen.text());
    // The context limit of invoices per identifier.
    let limits =
        json!({"maxInvoiceSizeInMB": 1, "maxInvoiceWithAttachmentSizeInMB": 3, "maxInvoices": 100});
    let set = http
        .post(
            "/testdata/limits/context/session",
            Some(&a.access),
            &json!({"onlineSession": limits, "batchSession": limits,
                    "collectiveIdentifier": {"maxInvoices": 2}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    let three = generate(
        &http,
        &a.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[1]}, {"ksefNumber": from_a[2]}]),
    )
    .await;
    assert_eq!(three.exception_code(), 21405, "{}", three.text());
    assert_eq!(
        http.delete("/testdata/limits/context/session", Some(&a.access))
            .await
            .status,
        200
    );

    // Queries: A sees both (its own, and the buyer's as the seller), newest first; B none.
    let list: Value = http
        .post("/collective-identifiers/query", Some(&a.access), &range())
        .await
        .json();
    assert_eq!(numbers(&list), [by_seller.clone(), by_buyer.clone()]);
    assert_eq!(
        list["collectiveIdentifiers"][0]["createdInCurrentContext"],
        true
    );
    assert_eq!(
        list["collectiveIdentifiers"][1]["createdInCurrentContext"],
        false
    );
    assert_eq!(list["collectiveIdentifiers"][0]["invoiceCount"], 2);
    let mut only_mine = range();
    only_mine["createdInCurrentContext"] = json!(true);
    let mine: Value = http
        .post("/collective-identifiers/query", Some(&a.access), &only_mine)
        .await
        .json();
    assert_eq!(numbers(&mine), std::slice::from_ref(&by_seller));
    let none: Value = http
        .post("/collective-identifiers/query", Some(&b.access), &range())
        .await
        .json();
    assert!(numbers(&none).is_empty());
    let mut too_long = range();
    too_long["dateCreatedFrom"] =
        json!((chrono::Utc::now() - chrono::Duration::days(101)).to_rfc3339());
    let refused = http
        .post("/collective-identifiers/query", Some(&a.access), &too_long)
        .await;
    assert_eq!(refused.exception_code(), 21405, "{}", refused.text());

    // By KSeF number: the invoice in both identifiers.
    let by_number: Value = http
        .get(
            &format!("/collective-identifiers/ksef/{}", from_a[0]),
            Some(&c.access),
        )
        .await
        .json();
    assert_eq!(numbers(&by_number), [by_seller.clone(), by_buyer.clone()]);
    let by_number: Value = http
        .get(
            &format!("/collective-identifiers/ksef/{}", from_a[2]),
            Some(&c.access),
        )
        .await
        .json();
    assert_eq!(numbers(&by_number), std::slice::from_ref(&by_seller));

    // Invoices: payment details to the creator and the parties; hidden from B.
    let members = |access: String| {
        let http = &http;
        let by_buyer = by_buyer.clone();
        let by_seller = by_seller.clone();
        async move {
            let resp = http
                .post(
                    "/collective-identifiers/invoices",
                    Some(&access),
                    &json!({"collectiveIdentifierNumbers": [by_buyer, by_seller]}),
                )
                .await;
            assert_eq!(resp.status, 200, "{}", resp.text());
            resp.json::<Value>()["invoices"].as_array().unwrap().clone()
        }
    };
    for access in [&a.access, &c.access] {
        let items = members(access.clone()).await;
        assert_eq!(items.len(), 4);
        let detailed: Vec<&Value> = items
            .iter()
            .filter(|i| i.get("payment").is_some())
            .collect();
        assert_eq!(detailed.len(), 1, "{items:?}");
        assert_eq!(detailed[0]["ksefNumber"], from_a[0].as_str());
        assert_eq!(detailed[0]["collectiveIdentifierNumber"], by_buyer.as_str());
        assert_eq!(detailed[0]["payment"]["amount"], 100.5);
        assert_eq!(detailed[0]["description"], "Rata 1");
        assert!(items.iter().all(|i| i["detailsHidden"] == false));
    }
    let items = members(b.access.clone()).await;
    assert_eq!(items.len(), 4);
    assert!(
        items
            .iter()
            .all(|i| i.get("payment").is_none() && i.get("description").is_none())
    );
    let hidden: Vec<&Value> = items
        .iter()
        .filter(|i| i["detailsHidden"] == true)
        .collect();
    assert_eq!(hidden.len(), 1, "{items:?}");
    assert_eq!(hidden[0]["ksefNumber"], from_a[0].as_str());
    assert_eq!(hidden[0]["collectiveIdentifierNumber"], by_buyer.as_str());
    // Sorted by KSeF number, descending.
    let order: Vec<&str> = items
        .iter()
        .map(|i| i["ksefNumber"].as_str().unwrap())
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(order, sorted);
    let eleven: Vec<String> = (0..11).map(|_| by_buyer.clone()).collect();
    let refused = http
        .post(
            "/collective-identifiers/invoices",
            Some(&a.access),
            &json!({"collectiveIdentifierNumbers": eleven}),
        )
        .await;
    assert_eq!(refused.exception_code(), 21405, "{}", refused.text());
    assert!(refused.text().contains("11"), "{}", refused.text());

    // At most 132 identifiers per invoice within one context; paging of the list.
    for _ in 1..132 {
        created(
            &generate(
                &http,
                &c.access,
                json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[1]}]),
            )
            .await,
        );
    }
    let full = generate(
        &http,
        &c.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[1]}]),
    )
    .await;
    assert_eq!(full.exception_code(), 71002, "{}", full.text());
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let headers: Vec<(&str, &str)> = token
            .as_deref()
            .map(|t| vec![("x-continuation-token", t)])
            .unwrap_or_default();
        let resp = http
            .send(
                "POST",
                "/collective-identifiers/query?pageSize=50",
                Some(&c.access),
                Some(serde_json::to_vec(&range()).unwrap()),
                &headers,
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let page: Value = resp.json();
        assert!(numbers(&page).len() <= 50);
        seen.extend(numbers(&page));
        match page["continuationToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 132, "C's identifiers");
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 132);

    // Without InvoiceRead, InvoiceWrite or CollectiveIdentifierManage: 403.
    let token = http
        .post(
            "/tokens",
            Some(&a.access),
            &json!({"permissions": ["CredentialsRead"], "description": "Bez faktur"}),
        )
        .await;
    assert_eq!(token.status, 202, "{}", token.text());
    let token: Value = token.json();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reader = login(&http, A, token["token"].as_str().unwrap()).await;
    let forbidden = http
        .post(
            "/collective-identifiers/query",
            Some(&reader.access),
            &range(),
        )
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    let forbidden = generate(
        &http,
        &reader.access,
        json!([{"ksefNumber": from_a[0]}, {"ksefNumber": from_a[1]}]),
    )
    .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    // With CollectiveIdentifierManage alone: allowed.
    let token: Value = http
        .post(
            "/tokens",
            Some(&a.access),
            &json!({"permissions": ["CollectiveIdentifierManage"], "description": "Identyfikatory"}),
        )
        .await
        .json();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let manager = login(&http, A, token["token"].as_str().unwrap()).await;
    let allowed = http
        .post(
            "/collective-identifiers/query",
            Some(&manager.access),
            &range(),
        )
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());

    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;

    // The identifiers survive a restart with the same data directory.
    let (sim, http) = start_with(builder()).await;
    let a = login(&http, A, sim.token_for(A).unwrap()).await;
    let list: Value = http
        .post(
            "/collective-identifiers/query?pageSize=200",
            Some(&a.access),
            &range(),
        )
        .await
        .json();
    let after = numbers(&list);
    assert!(
        after.contains(&by_buyer) && after.contains(&by_seller),
        "{after:?}"
    );
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_data_certificate_validity_can_only_be_shortened() {
    let (sim, http) = start_with(Simulator::builder().processing_delays(Duration::ZERO)).await;
    let nip = sim.seeded_nip().to_owned();
    // Enrollment needs the identity of a certificate: a company seal's XAdES login.
    let creds = {
        use ksef_crypto::test_certificates::{KeyType, TestCertificate};
        use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
        let nip: ksef_model::values::Nip = nip.parse().unwrap();
        let seal = TestCertificate::company("Firma Testowa", &nip, KeyType::EcdsaP256).unwrap();
        let challenge: ksef_model::types::AuthenticationChallengeResponse =
            http.post_empty("/auth/challenge", None).await.json();
        let request = AuthTokenRequest::new(challenge.challenge, ContextIdentifier::Nip(nip));
        let signed =
            ksef_xades::xades::sign(&request.to_xml().unwrap(), &seal.signer().unwrap()).unwrap();
        finish_login(&http, post_xades(&http, signed).await)
            .await
            .expect("the XAdES login succeeds")
    };
    let data: Value = http
        .get("/certificates/enrollments/data", Some(&creds.access))
        .await
        .json();
    let data: ksef_crypto::EnrollmentData = serde_json::from_value(data).unwrap();
    let key = ksef_crypto::CertificateKey::generate_ec_p256().unwrap();
    let csr = ksef_crypto::CertificateSigningRequest::new(&data, &key).unwrap();
    let enrolled = http
        .post(
            "/certificates/enrollments",
            Some(&creds.access),
            &json!({"certificateName": "Do skrócenia", "certificateType": "Authentication",
                    "csr": csr.to_base64()}),
        )
        .await;
    assert_eq!(enrolled.status, 202, "{}", enrolled.text());
    let reference = enrolled.json::<Value>()["referenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut serial = None;
    for _ in 0..100 {
        let status: Value = http
            .get(
                &format!("/certificates/enrollments/{reference}"),
                Some(&creds.access),
            )
            .await
            .json();
        if status["status"]["code"] == 200 {
            serial = status["certificateSerialNumber"]
                .as_str()
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let serial = serial.expect("the certificate is issued");
    let put = |serial: String, valid_to: String| {
        let http = &http;
        let access = creds.access.clone();
        async move {
            http.send(
                "PUT",
                &format!("/testdata/certificates/{serial}"),
                Some(&access),
                Some(serde_json::to_vec(&json!({"validTo": valid_to})).unwrap()),
                &[],
            )
            .await
        }
    };
    let query = || async {
        let list: Value = http
            .post("/certificates/query", Some(&creds.access), &json!({}))
            .await
            .json();
        list["certificates"][0].clone()
    };
    // Later than now: refused.
    let later = (chrono::Utc::now() + chrono::Duration::days(3650)).to_rfc3339();
    let refused = put(serial.clone(), later).await;
    assert_eq!(refused.exception_code(), 21405, "{}", refused.text());
    // Unknown serial: 25008.
    let unknown = put(
        "0123456789ABCDEF".to_owned(),
        chrono::Utc::now().to_rfc3339(),
    )
    .await;
    assert_eq!(unknown.exception_code(), 25008, "{}", unknown.text());
    // Shortened to a month: the query shows it; moved into the past: the certificate is expired.
    let month = chrono::Utc::now() + chrono::Duration::days(30);
    let ok = put(serial.clone(), month.to_rfc3339()).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let listed = query().await;
    let shown = chrono::DateTime::parse_from_rfc3339(listed["validTo"].as_str().unwrap()).unwrap();
    assert!(
        (shown.timestamp() - month.timestamp()).abs() <= 1,
        "{listed}"
    );
    assert_eq!(listed["status"], "Active");
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let ok = put(serial.clone(), past.to_rfc3339()).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(query().await["status"], "Expired");
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
