//! Batch sessions against the simulator: package, open, upload, close, statuses.

mod common;

use std::time::Duration;

use common::*;
use ksef_model::types::{
    OpenBatchSessionResponse, SessionInvoicesResponse, SessionStatusResponse, SessionsQueryResponse,
};

async fn wait_session(http: &Http, access: &str, session: &str) -> SessionStatusResponse {
    for _ in 0..200 {
        let status: SessionStatusResponse = http
            .get(&format!("/sessions/{session}"), Some(access))
            .await
            .json();
        if !matches!(status.status.code, 100 | 150) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("batch session processing did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_three_invoices_is_accepted() {
    // Processing long enough for status 150 to be seen right after the close, on a busy machine.
    let (sim, http) =
        start_with(ksef_sim::Simulator::builder().processing_delays(Duration::from_millis(500)))
            .await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let invoices = (1..=3)
        .map(|i| (format!("inv-{i}.xml"), fa3_invoice(&nip, &format!("B/{i}"))))
        .collect();
    let batch = package_batch_in_parts(invoices, Some(1024));
    assert!(batch.parts.len() > 1, "several parts");
    let request = batch_open_request(&http, &batch).await;
    let resp = http.post("/sessions/batch", Some(access), &request).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let opened: OpenBatchSessionResponse = resp.json();
    let session = opened.reference_number.to_string();
    assert_eq!(opened.part_upload_requests.len(), batch.parts.len());
    for upload in &opened.part_upload_requests {
        assert_eq!(upload.method, "PUT");
        assert!(upload.url.contains("/_sim/upload/"), "{}", upload.url);
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        let resp = upload_part(&http, upload, bytes).await;
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let status: SessionStatusResponse = http
        .get(&format!("/sessions/{session}"), Some(access))
        .await
        .json();
    assert_eq!(status.status.code, 100);
    let resp = http
        .post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let status: SessionStatusResponse = http
        .get(&format!("/sessions/{session}"), Some(access))
        .await
        .json();
    assert_eq!(status.status.code, 150);
    let done = wait_session(&http, access, &session).await;
    assert_eq!(done.status.code, 200, "{:?}", done.status);
    assert_eq!(done.successful_invoice_count, Some(3));
    let upo = done.upo.expect("session UPO").pages[0].download_url.clone();
    let upo = http.get(&upo, None).await;
    assert_eq!(upo.status, 200, "{}", upo.text());

    let list: SessionInvoicesResponse = http
        .get(&format!("/sessions/{session}/invoices"), Some(access))
        .await
        .json();
    let mut names: Vec<&str> = list
        .invoices
        .iter()
        .map(|i| {
            assert_eq!(i.status.code, 200, "{:?}", i.status);
            assert!(i.ksef_number.is_some());
            batch
                .package
                .file_name_for_hash(i.invoice_hash.as_str())
                .expect("hash of a packaged invoice")
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["inv-1.xml", "inv-2.xml", "inv-3.xml"]);
    let batches: SessionsQueryResponse = http
        .get("/sessions?sessionType=Batch", Some(access))
        .await
        .json();
    assert_eq!(batches.sessions.len(), 1);
    let stats = sim.stats();
    assert_eq!(stats.invoices_accepted, 3);
    assert_eq!(stats.internal_errors, 0);

    // The same package again: every invoice is a duplicate, so the session has none valid.
    let again = batch_open_request(&http, &batch).await;
    let opened: OpenBatchSessionResponse = http
        .post("/sessions/batch", Some(access), &again)
        .await
        .json();
    for upload in &opened.part_upload_requests {
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        assert_eq!(upload_part(&http, upload, bytes).await.status, 201);
    }
    let second = opened.reference_number.to_string();
    http.post_empty(&format!("/sessions/batch/{second}/close"), Some(access))
        .await;
    let done = wait_session(&http, access, &second).await;
    assert_eq!(done.status.code, 445, "{:?}", done.status);
    assert_eq!(sim.stats().invoices_accepted, 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_or_missing_parts_are_refused() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let batch = package_batch(vec![("a.xml".to_owned(), fa3_invoice(&nip, "T/1"))]);
    let request = batch_open_request(&http, &batch).await;
    let opened: OpenBatchSessionResponse = http
        .post("/sessions/batch", Some(access), &request)
        .await
        .json();
    let upload = &opened.part_upload_requests[0];
    let mut tampered = batch.parts[0].clone();
    tampered[0] ^= 1;
    let resp = upload_part(&http, upload, tampered).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21403);
    let resp = upload_part(&http, upload, batch.parts[0][1..].to_vec()).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21402);
    // A wrong signature is refused.
    let mut forged = upload.clone();
    forged.url = forged.url.replace("sig=", "sig=0");
    let resp = upload_part(&http, &forged, batch.parts[0].clone()).await;
    assert_eq!(resp.status, 403, "{}", resp.text());

    // Closing without the part: the package cannot be verified.
    let session = opened.reference_number.to_string();
    let resp = http
        .post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let done = wait_session(&http, access, &session).await;
    assert_eq!(done.status.code, 405, "{:?}", done.status);

    // More than 50 parts are refused at open.
    let mut too_many = request.clone();
    let part = too_many.batch_file.file_parts[0].clone();
    too_many.batch_file.file_parts = (1..=51)
        .map(|i| {
            let mut p = part.clone();
            p.ordinal_number = i;
            p
        })
        .collect();
    let resp = http.post("/sessions/batch", Some(access), &too_many).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21161);
    assert_eq!(sim.stats().invoices_accepted, 0);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
