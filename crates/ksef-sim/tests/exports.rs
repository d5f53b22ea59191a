//! Invoice exports: encrypted packages decrypted with ksef-crypto's unpacker and compared with
//! the invoices sent; truncation at the cap; TarGz; the permanent-storage high-water mark.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::*;
use ksef_crypto::{ExpectedPart, ExportUnpacker, SessionKey};
use ksef_model::types::{
    CompressionType, ExportInvoicesResponse, InvoiceExportRequest, InvoiceExportStatusResponse,
    InvoicePackage, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType, QueryInvoicesMetadataResponse,
};
use ksef_sim::Simulator;

fn filters(date_type: InvoiceQueryDateType) -> InvoiceQueryFilters {
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset();
    InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(date_type, from),
    )
}

async fn start_export(http: &Http, access: &str, request: &InvoiceExportRequest) -> String {
    let resp = http.post("/invoices/exports", Some(access), request).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json::<ExportInvoicesResponse>()
        .reference_number
        .to_string()
}

async fn wait_export(http: &Http, access: &str, reference: &str) -> InvoiceExportStatusResponse {
    for _ in 0..200 {
        let resp = http
            .get(&format!("/invoices/exports/{reference}"), Some(access))
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let status: InvoiceExportStatusResponse = resp.json();
        if status.status.code != 100 {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the export did not finish");
}

/// Downloads the parts (no token), checks `x-ms-meta-hash`, and unpacks them.
async fn unpack(
    http: &Http,
    key: &SessionKey,
    package: &InvoicePackage,
    compression: CompressionType,
) -> (
    ksef_crypto::UnpackedExport,
    Vec<ksef_crypto::ExportedInvoice>,
) {
    let mut parts = Vec::new();
    for part in &package.parts {
        assert_eq!(part.method, "GET");
        let resp = http.get(&part.url, None).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(
            resp.headers["x-ms-meta-hash"].to_str().unwrap(),
            part.encrypted_part_hash.0
        );
        assert_eq!(resp.body.len() as i64, part.encrypted_part_size);
        let expected = ExpectedPart::from_package_part(part).unwrap();
        parts.push((expected, Cursor::new(resp.body.to_vec())));
    }
    let mut invoices = Vec::new();
    let unpacked = ExportUnpacker::new()
        .compression_type(compression)
        .unpack(key, parts, Cursor::new(Vec::new()), |invoice| {
            invoices.push(invoice);
            Ok(())
        })
        .unwrap();
    assert_eq!(unpacked.archive.size as i64, package.size);
    (unpacked, invoices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_export_holds_every_invoice_and_its_metadata() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(50))).await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let access = creds.access.as_str();
    let sent = send_invoices(&http, access, &nip, "FV/EXP", 3).await;

    let key = SessionKey::generate().unwrap();
    let request = InvoiceExportRequest::new(
        wrap_key(&http, &key).await,
        filters(InvoiceQueryDateType::Invoicing),
    );
    let reference = start_export(&http, access, &request).await;
    let status = wait_export(&http, access, &reference).await;
    assert_eq!(status.status.code, 200, "{:?}", status.status);
    assert!(status.completed_date.is_some());
    let package = status.package.unwrap();
    assert_eq!(package.invoice_count, 3);
    assert!(!package.is_truncated);
    assert!(package.last_invoicing_date.is_none());
    // Not filtered by permanent-storage date: no HWM.
    assert!(package.permanent_storage_hwm_date.is_none());
    assert_eq!(package.parts.len(), 1);
    assert!(package.parts[0].part_name.ends_with(".zip.aes"));

    let (unpacked, invoices) = unpack(&http, &key, &package, CompressionType::Zip).await;
    assert_eq!(unpacked.invoice_count, 3);
    let metadata = unpacked.metadata.expect("_metadata.json");
    let listed: Vec<&str> = metadata
        .invoices
        .iter()
        .map(|m| m.ksef_number.as_str())
        .collect();
    let expected: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(listed, expected, "ascending by invoicing date");
    for (ksef, xml) in &sent {
        let found = invoices
            .iter()
            .find(|i| i.ksef_number() == Some(ksef.as_str()))
            .unwrap_or_else(|| panic!("{ksef} missing from the package"));
        assert_eq!(&found.content, xml);
    }

    // The wrong signature or an unknown part is refused; the link needs no token.
    let url = &package.parts[0].url;
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(http.get(&tampered, None).await.status, 403);
    let beyond = url.replace("/1?", "/2?");
    assert_eq!(http.get(&beyond, None).await.status, 404);

    // Only metadata.
    let mut only = request.clone();
    only.only_metadata = Some(true);
    let reference = start_export(&http, access, &only).await;
    let package = wait_export(&http, access, &reference)
        .await
        .package
        .unwrap();
    let (unpacked, invoices) = unpack(&http, &key, &package, CompressionType::Zip).await;
    assert!(invoices.is_empty());
    assert_eq!(unpacked.metadata.unwrap().invoices.len(), 3);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_gz_export_truncates_at_the_cap_and_splits_into_parts() {
    let (sim, http) = start_with(
        Simulator::builder()
            .processing_delays(Duration::from_millis(50))
            .export_invoice_limit(2)
            .export_part_size(1000),
    )
    .await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let access = creds.access.as_str();
    let sent = send_invoices(&http, access, &nip, "FV/TAR", 3).await;

    let key = SessionKey::generate().unwrap();
    let mut request = InvoiceExportRequest::new(
        wrap_key(&http, &key).await,
        filters(InvoiceQueryDateType::PermanentStorage),
    );
    request.compression_type = Some(CompressionType::TarGz);
    let reference = start_export(&http, access, &request).await;
    let package = wait_export(&http, access, &reference)
        .await
        .package
        .unwrap();
    assert_eq!(package.invoice_count, 2);
    assert!(package.is_truncated);
    assert!(package.parts.len() > 1, "{} parts", package.parts.len());
    assert!(package.parts.iter().all(|p| p.part_size <= 1000));
    assert!(package.parts[0].part_name.ends_with(".tar.gz.aes"));
    let hwm = package
        .permanent_storage_hwm_date
        .expect("HWM for PermanentStorage");
    let last = package
        .last_permanent_storage_date
        .expect("lastPermanentStorageDate");
    assert!(last <= hwm);

    let (unpacked, invoices) = unpack(&http, &key, &package, CompressionType::TarGz).await;
    assert_eq!(invoices.len(), 2);
    let metadata = unpacked.metadata.expect("_metadata.json");
    assert_eq!(metadata.invoices.len(), 2);
    assert_eq!(metadata.invoices[0].ksef_number.as_str(), sent[0].0);
    assert_eq!(metadata.invoices[1].ksef_number.as_str(), sent[1].0);
    assert_eq!(metadata.invoices[1].permanent_storage_date, last);

    // Continuing from lastPermanentStorageDate reaches the third invoice.
    let mut next = request.clone();
    next.filters.date_range.from = last;
    let reference = start_export(&http, access, &next).await;
    let package = wait_export(&http, access, &reference)
        .await
        .package
        .unwrap();
    assert!(!package.is_truncated);
    let (unpacked, _) = unpack(&http, &key, &package, CompressionType::TarGz).await;
    let numbers: Vec<String> = unpacked
        .metadata
        .unwrap()
        .invoices
        .into_iter()
        .map(|m| m.ksef_number.as_str().to_owned())
        .collect();
    assert_eq!(numbers, vec![sent[1].0.clone(), sent[2].0.clone()]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hwm_waits_for_invoices_in_processing() {
    let (sim, http) = start_with(
        Simulator::builder()
            .processing_delays(Duration::from_millis(50))
            .invoice_processing_delay(Duration::from_millis(1500))
            .permanent_storage_delay(Duration::ZERO),
    )
    .await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let access = creds.access.as_str();
    let session = open_session(&http, access).await;
    let before_send = chrono::Utc::now();
    send_ok(&http, access, &session, &fa3_invoice(&nip, "FV/HWM/1")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut restricted = filters(InvoiceQueryDateType::PermanentStorage);
    restricted.date_range.restrict_to_permanent_storage_hwm_date = Some(true);
    let resp = http
        .post("/invoices/query/metadata", Some(access), &restricted)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let page: QueryInvoicesMetadataResponse = resp.json();
    let hwm = page.permanent_storage_hwm_date.unwrap();
    // Held back before the pending invoice's permanent-storage date, although time went on.
    assert!(hwm <= chrono::Utc::now() - chrono::Duration::milliseconds(150));
    assert!(hwm >= before_send - chrono::Duration::seconds(1));
    assert!(page.invoices.is_empty());

    // From after the HWM: 21183 for the query, status 420 for an export.
    let mut beyond = restricted.clone();
    beyond.date_range.from = hwm + chrono::Duration::milliseconds(100);
    let resp = http
        .post("/invoices/query/metadata", Some(access), &beyond)
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21183);
    let key = SessionKey::generate().unwrap();
    let request = InvoiceExportRequest::new(wrap_key(&http, &key).await, beyond.clone());
    let reference = start_export(&http, access, &request).await;
    let status = wait_export(&http, access, &reference).await;
    assert_eq!(status.status.code, 420);
    assert!(status.package.is_none());

    // Once processed, the HWM catches up and the invoice is found.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let page: QueryInvoicesMetadataResponse = http
        .post("/invoices/query/metadata", Some(access), &restricted)
        .await
        .json();
    assert_eq!(page.invoices.len(), 1);
    assert!(page.permanent_storage_hwm_date.unwrap() >= page.invoices[0].permanent_storage_date);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_export_requests() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(20))).await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let access = creds.access.as_str();
    let key = SessionKey::generate().unwrap();
    let good = InvoiceExportRequest::new(
        wrap_key(&http, &key).await,
        filters(InvoiceQueryDateType::Invoicing),
    );

    // A key the simulator cannot decrypt: accepted, then status 415.
    let mut bad_key = good.clone();
    bad_key.encryption.encrypted_symmetric_key = base64_of(&[7u8; 256]);
    let reference = start_export(&http, access, &bad_key).await;
    assert_eq!(
        wait_export(&http, access, &reference).await.status.code,
        415
    );

    // An unknown public key id: 21470.
    let mut unknown_id = good.clone();
    unknown_id.encryption.public_key_id = Some("AAAA".to_owned());
    let resp = http
        .post("/invoices/exports", Some(access), &unknown_id)
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21470);

    // A window over 100 days (API 2.9.0): 21405.
    let mut wide = good.clone();
    wide.filters.date_range.from =
        (chrono::Utc::now() - chrono::Duration::days(101)).fixed_offset();
    let resp = http.post("/invoices/exports", Some(access), &wide).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21405);

    // Not JSON; no token; an unknown reference.
    let resp = http
        .send(
            "POST",
            "/invoices/exports",
            Some(access),
            Some(b"{".to_vec()),
            &[],
        )
        .await;
    assert_eq!(resp.exception_code(), 21405);
    assert_eq!(
        http.post("/invoices/exports", None, &good).await.status,
        401
    );
    let resp = http
        .get(
            "/invoices/exports/20250101-EX-0000000000-0000000000-00",
            Some(access),
        )
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21175);

    // At most ten exports in progress.
    let (sim2, http2) =
        start_with(Simulator::builder().export_delay(Duration::from_secs(30))).await;
    let creds2 = login(&http2, sim2.seeded_nip(), sim2.seeded_token()).await;
    let good2 = InvoiceExportRequest::new(
        wrap_key(&http2, &key).await,
        filters(InvoiceQueryDateType::Invoicing),
    );
    for _ in 0..10 {
        start_export(&http2, &creds2.access, &good2).await;
    }
    let resp = http2
        .post("/invoices/exports", Some(&creds2.access), &good2)
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21182);
    assert_eq!(sim.stats().internal_errors, 0);
    sim2.shutdown().await;
    sim.shutdown().await;
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
