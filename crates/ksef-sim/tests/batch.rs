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
    let done = open_upload_close(&http, access, &again, &batch).await;
    assert_eq!(done.status.code, 445, "{:?}", done.status);
    assert_eq!(sim.stats().invoices_accepted, 3);
    sim.shutdown().await;
}

/// Opens a batch session with `request`, uploads every part of `batch`, closes it and waits for
/// its final status.
async fn open_upload_close(
    http: &Http,
    access: &str,
    request: &ksef_model::types::OpenBatchSessionRequest,
    batch: &Batch,
) -> SessionStatusResponse {
    let opened: OpenBatchSessionResponse = http
        .post("/sessions/batch", Some(access), request)
        .await
        .json();
    for upload in &opened.part_upload_requests {
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        assert_eq!(upload_part(http, upload, bytes).await.status, 201);
    }
    let session = opened.reference_number.to_string();
    http.post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
    wait_session(http, access, &session).await
}

/// Opens a batch session for `batch`, uploads `bodies` (ordinal → body; parts left out are
/// not uploaded), closes it and waits for its final status.
async fn send_bodies(
    http: &Http,
    access: &str,
    batch: &Batch,
    bodies: &[(i32, Vec<u8>)],
) -> SessionStatusResponse {
    let request = batch_open_request(http, batch).await;
    let resp = http.post("/sessions/batch", Some(access), &request).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let opened: OpenBatchSessionResponse = resp.json();
    for (ordinal, body) in bodies {
        let upload = opened
            .part_upload_requests
            .iter()
            .find(|u| u.ordinal_number == *ordinal)
            .expect("an upload link per declared part");
        // Like blob storage, the link takes any body; the session checks it when processed.
        let resp = upload_part(http, upload, body.clone()).await;
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let session = opened.reference_number.to_string();
    let resp = http
        .post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    wait_session(http, access, &session).await
}

// Regression (issue 15 section 3, issue 20 section D): a part that does not match its
// declaration was refused at upload (400 21402/21403), and a body over 8 MiB with 400 21405;
// KSeF's blob storage takes any body and the session fails in processing (405) instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_or_missing_parts_fail_the_session() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();

    // A part whose bytes differ from the declared hash (same size).
    let batch = package_batch(vec![("a.xml".to_owned(), fa3_invoice(&nip, "T/1"))]);
    let mut tampered = batch.parts[0].clone();
    tampered[0] ^= 1;
    let done = send_bodies(&http, access, &batch, &[(1, tampered)]).await;
    assert_eq!(done.status.code, 405, "{:?}", done.status);
    assert!(
        done.status
            .details
            .as_ref()
            .is_some_and(|d| d.iter().any(|d| d.contains("Skrót"))),
        "{:?}",
        done.status
    );

    // A part shorter than declared.
    let done = send_bodies(&http, access, &batch, &[(1, batch.parts[0][1..].to_vec())]).await;
    assert_eq!(done.status.code, 405, "{:?}", done.status);
    assert!(
        done.status
            .details
            .as_ref()
            .is_some_and(|d| d.iter().any(|d| d.contains("Rozmiar"))),
        "{:?}",
        done.status
    );

    // A declared part never uploaded (the other one is).
    let two = package_batch_in_parts(
        (1..=2)
            .map(|i| (format!("m-{i}.xml"), fa3_invoice(&nip, &format!("M/{i}"))))
            .collect(),
        Some(1024),
    );
    assert!(two.parts.len() >= 2);
    let done = send_bodies(&http, access, &two, &[(1, two.parts[0].clone())]).await;
    assert_eq!(done.status.code, 405, "{:?}", done.status);

    // The same package with every part intact is accepted: nothing above was recorded.
    let bodies: Vec<(i32, Vec<u8>)> = two
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| (i32::try_from(i + 1).unwrap(), p.clone()))
        .collect();
    let done = send_bodies(&http, access, &two, &bodies).await;
    assert_eq!(done.status.code, 200, "{:?}", done.status);
    assert_eq!(sim.stats().invoices_accepted, 2);

    // A wrong link signature is refused.
    let request = batch_open_request(&http, &batch).await;
    let opened: OpenBatchSessionResponse = http
        .post("/sessions/batch", Some(access), &request)
        .await
        .json();
    let mut forged = opened.part_upload_requests[0].clone();
    forged.url = forged.url.replace("sig=", "sig=0");
    let resp = upload_part(&http, &forged, batch.parts[0].clone()).await;
    assert_eq!(resp.status, 403, "{}", resp.text());

    // A 9 MiB body (more than any API request body) is taken by the upload link.
    let big = vec![0x5a_u8; 9 * 1024 * 1024];
    let resp = upload_part(&http, &opened.part_upload_requests[0], big).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let session = opened.reference_number.to_string();
    http.post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
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
    assert_eq!(sim.stats().invoices_accepted, 2);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

/// Packages `invoices` as a tar.gz archive with a fresh session key, in parts of `part_size`.
fn package_tar_gz(invoices: Vec<(String, Vec<u8>)>, part_size: u64) -> Batch {
    let packager = ksef_crypto::BatchPackager::new()
        .compression_type(ksef_model::types::CompressionType::TarGz);
    package_batch_with(packager, invoices, Some(part_size))
}

// Regression (issue 15, section 3): `compressionType: TarGz` was refused at open with 400 21405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_gz_batch_is_unpacked_and_accepted() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let invoices = (1..=3)
        .map(|i| {
            (
                format!("tgz-{i}.xml"),
                fa3_invoice(&nip, &format!("TGZ/{i}")),
            )
        })
        .collect();
    let batch = package_tar_gz(invoices, 1024);
    assert_eq!(
        batch.package.compression_type,
        ksef_model::types::CompressionType::TarGz
    );
    assert!(batch.parts.len() > 1, "several parts");
    // The plain archive really is gzip (magic 1f 8b), not a Zip (PK).
    let first = batch
        .key
        .decrypt_to_vec(&batch.parts[0])
        .map(|(plain, _)| plain)
        .unwrap();
    assert_eq!(&first[..2], &[0x1f, 0x8b]);
    let mut request = batch_open_request(&http, &batch).await;
    request.batch_file.compression_type = Some(ksef_model::types::CompressionType::TarGz);
    let resp = http.post("/sessions/batch", Some(access), &request).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let opened: OpenBatchSessionResponse = resp.json();
    for upload in &opened.part_upload_requests {
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        assert_eq!(upload_part(&http, upload, bytes).await.status, 201);
    }
    let session = opened.reference_number.to_string();
    let resp = http
        .post_empty(&format!("/sessions/batch/{session}/close"), Some(access))
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let done = wait_session(&http, access, &session).await;
    assert_eq!(done.status.code, 200, "{:?}", done.status);
    assert_eq!(done.successful_invoice_count, Some(3));
    let list: SessionInvoicesResponse = http
        .get(&format!("/sessions/{session}/invoices"), Some(access))
        .await
        .json();
    let mut names: Vec<&str> = list
        .invoices
        .iter()
        .map(|i| {
            assert_eq!(i.status.code, 200, "{:?}", i.status);
            batch
                .package
                .file_name_for_hash(i.invoice_hash.as_str())
                .expect("hash of a packaged invoice")
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["tgz-1.xml", "tgz-2.xml", "tgz-3.xml"]);

    // A Zip package declared as TarGz does not decompress: the session fails with 430.
    let zip = package_batch(vec![("z.xml".to_owned(), fa3_invoice(&nip, "TGZ/Z"))]);
    let mut request = batch_open_request(&http, &zip).await;
    request.batch_file.compression_type = Some(ksef_model::types::CompressionType::TarGz);
    let done = open_upload_close(&http, access, &request, &zip).await;
    assert_eq!(done.status.code, 430, "{:?}", done.status);
    assert_eq!(sim.stats().invoices_accepted, 3);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

/// Sends `head` (a request line and headers) and `body` on a fresh connection to the simulator
/// and returns the whole answer as text.
async fn raw_exchange(base_url: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = base_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/v2"))
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the simulator answers at once")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

// Regression (issue 20, D): every request body, part uploads included, was capped at 8 MiB, so a
// batch with parts of the default size failed; and a declared part of exactly KSeF's 100 MB
// (plain) limit, 100,000,016 bytes encrypted, was refused at open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_up_to_ksefs_limit_are_taken_and_larger_ones_refused() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let batch = package_batch(vec![("a.xml".to_owned(), fa3_invoice(&nip, "LIMIT/1"))]);
    let limit: i64 = 100_000_000 + 16;

    // Declared sizes: KSeF's limit (a full 100 MB part with its padding block) is accepted, one
    // byte more is refused with 21157.
    let mut request = batch_open_request(&http, &batch).await;
    request.batch_file.file_parts[0].file_size = limit + 1;
    let resp = http.post("/sessions/batch", Some(access), &request).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(resp.exception_code(), 21157);
    request.batch_file.file_parts[0].file_size = limit;
    let resp = http.post("/sessions/batch", Some(access), &request).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let opened: OpenBatchSessionResponse = resp.json();
    let upload = &opened.part_upload_requests[0];

    // A body over the API's 8 MiB is taken by the upload link.
    let nine = vec![0x5a_u8; 9 * 1024 * 1024];
    let resp = upload_part(&http, upload, nine).await;
    assert_eq!(resp.status, 201, "{}", resp.text());

    // A body declared larger than the limit is refused before it is read, with KSeF's status
    // (only the head is sent: the simulator answers without waiting for the body).
    let path = upload
        .url
        .strip_prefix(http.base.trim_end_matches("/v2"))
        .unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: sim\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        limit + 1
    );
    let answer = raw_exchange(&http.base, &head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("21157"), "{answer}");
    // A forged link is refused before its body is looked at.
    let forged = path.replace("sig=", "sig=0");
    let head = format!(
        "PUT {forged} HTTP/1.1\r\nHost: sim\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        limit + 1
    );
    let answer = raw_exchange(&http.base, &head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
