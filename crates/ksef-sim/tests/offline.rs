//! Offline invoicing through HTTP: `offlineMode`, the rules of `hashOfCorrectedInvoice`
//! (technical corrections), and the Lighthouse with its `/_sim/lighthouse` switch.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use ksef_crypto::file_metadata;
use ksef_model::types::InvoicingMode;
use serde_json::{Value, json};

/// The same invoice with an element FA(3) does not allow (rejected with 430).
fn broken(invoice: &[u8]) -> Vec<u8> {
    String::from_utf8(invoice.to_vec())
        .unwrap()
        .replace("</Fa>", "<Zbedny>1</Zbedny></Fa>")
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technical_corrections_follow_the_documented_rules() {
    let (sim, http) = start().await;
    let login = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let session = open_session(&http, &login.access).await;
    let number = format!("OFF-{}", chrono::Utc::now().timestamp_millis());
    let good = fa3_invoice(sim.seeded_nip(), &number);
    let bad = broken(&good);
    let bad_hash = file_metadata(&bad).sha256_base64();

    // An online original, rejected: not correctable (technical correction is for offline
    // invoices only).
    let online_bad = broken(&fa3_invoice(sim.seeded_nip(), &format!("{number}-ON")));
    let online_ref = send_ok(&http, &login.access, &session, &online_bad).await;
    let status = wait_invoice(&http, &login.access, &session.reference, &online_ref).await;
    assert_eq!(status.status.code, 430);
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Online));
    let online_hash = file_metadata(&online_bad).sha256_base64();
    let request = encrypt(&session.key, &good)
        .with_offline_mode(true)
        .with_hash_of_corrected_invoice(online_hash.as_str());
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21167);

    // The offline original, rejected for its schema.
    let request = encrypt(&session.key, &bad).with_offline_mode(true);
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let sent: Value = resp.json();
    let original = sent["referenceNumber"].as_str().unwrap().to_owned();
    let status = wait_invoice(&http, &login.access, &session.reference, &original).await;
    assert_eq!(status.status.code, 430);
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Offline));

    // A correction without offlineMode, and one with a hash that is not a SHA-256: 21405.
    let request = encrypt(&session.key, &good).with_hash_of_corrected_invoice(bad_hash.as_str());
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21405);
    let request = encrypt(&session.key, &good)
        .with_offline_mode(true)
        .with_hash_of_corrected_invoice(STANDARD.encode(b"short"));
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.exception_code(), 21405, "{}", resp.text());

    // The correction is accepted once.
    let request = encrypt(&session.key, &good)
        .with_offline_mode(true)
        .with_hash_of_corrected_invoice(bad_hash.as_str());
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let sent: Value = resp.json();
    let corrected = sent["referenceNumber"].as_str().unwrap().to_owned();
    let status = wait_invoice(&http, &login.access, &session.reference, &corrected).await;
    assert_eq!(status.status.code, 200, "{:?}", status.status);
    assert_eq!(status.invoicing_mode, Some(InvoicingMode::Offline));
    assert_eq!(
        sim.stats().technical_corrections.get(&bad_hash),
        Some(&file_metadata(&good).sha256_base64())
    );

    // A second correction of the same original: 21166.
    let other = fa3_invoice(sim.seeded_nip(), &format!("{number}-2"));
    let request = encrypt(&session.key, &other)
        .with_offline_mode(true)
        .with_hash_of_corrected_invoice(bad_hash.as_str());
    let resp = send(&http, &login.access, &session.reference, &request).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21166);
    assert_eq!(sim.stats().technical_corrections.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lighthouse_is_served_and_switched_through_http() {
    let (sim, http) = start().await;
    let lighthouse = sim.lighthouse_url();
    let resp = http.get(&format!("{lighthouse}/status"), None).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json::<Value>(),
        json!({"status": "AVAILABLE", "messages": []})
    );

    let document = json!({
        "status": "MAINTENANCE",
        "messages": [{
            "id": "m-7",
            "eventId": 7,
            "category": "MAINTENANCE",
            "type": "MAINTENANCE_ANNOUNCEMENT",
            "title": "Prace serwisowe",
            "text": "KSeF będzie niedostępny.",
            "start": "2026-11-24T16:00:00Z",
            "end": "2026-11-24T18:00:00Z",
            "version": 1,
            "published": "2026-11-23T08:00:00Z"
        }]
    });
    let root = lighthouse.trim_end_matches("/lighthouse");
    let resp = http
        .send(
            "PUT",
            &format!("{root}/_sim/lighthouse"),
            None,
            Some(serde_json::to_vec(&document).unwrap()),
            &[],
        )
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let status: Value = http.get(&format!("{lighthouse}/status"), None).await.json();
    assert_eq!(status, document);
    let messages: Value = http
        .get(&format!("{lighthouse}/messages"), None)
        .await
        .json();
    assert_eq!(messages, document["messages"]);
    let read_back: Value = http
        .get(&format!("{root}/_sim/lighthouse"), None)
        .await
        .json();
    assert_eq!(read_back, document);

    // A malformed document is refused and changes nothing.
    let resp = http
        .send(
            "PUT",
            &format!("{root}/_sim/lighthouse"),
            None,
            Some(b"{\"messages\": 1}".to_vec()),
            &[],
        )
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21405);
    let status: Value = http.get(&format!("{lighthouse}/status"), None).await.json();
    assert_eq!(status["status"], "MAINTENANCE");
    assert_eq!(
        http.get(&format!("{lighthouse}/other"), None).await.status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lighthouse_starts_as_the_builder_set_it() {
    let sim = ksef_sim::Simulator::builder()
        .lighthouse(ksef_sim::LighthouseStatus::new("FAILURE").with_message(
            ksef_sim::LighthouseMessage::new(
                "f-1",
                3,
                "FAILURE",
                "FAILURE_START",
                "Awaria",
                "KSeF nie działa.",
            ),
        ))
        .start()
        .await
        .unwrap();
    let http = Http::new(sim.base_url());
    let status: Value = http
        .get(&format!("{}/status", sim.lighthouse_url()), None)
        .await
        .json();
    assert_eq!(status["status"], "FAILURE");
    assert_eq!(status["messages"][0]["type"], "FAILURE_START");
    assert_eq!(status["messages"][0]["eventId"], 3);
    assert!(status["messages"][0].get("end").is_none(), "{status}");
}
