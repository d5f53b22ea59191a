//! Batch sessions of the client against the in-process KSeF simulator.

mod common;

use std::time::Duration;

use ksef_client::{BatchEvent, BatchInvoice, BatchOptions, Error, InvoiceOutcome, form_code};
use ksef_sim::Simulator;

use common::{fa3_invoice, logged_in, requests, simulator_with_delays, start_simulator, unique};

/// Invoices 1 to `count` of seller `nip`, numbered `{numbers}-{i}` and named `file_name(i)`.
fn batch(
    nip: &str,
    numbers: &str,
    count: usize,
    file_name: impl Fn(usize) -> String,
) -> Vec<BatchInvoice> {
    (1..=count)
        .map(|i| {
            BatchInvoice::from_bytes(file_name(i), fa3_invoice(nip, &format!("{numbers}-{i}")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_100_invoices_is_accepted_once_with_file_names() {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
    let client = logged_in(&sim).await;
    let numbers = unique("BATCH");
    let invoices = batch(sim.seeded_nip(), &numbers, 100, |i| {
        format!("invoice-{i:03}.xml")
    });
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let outcome = client
        .send_batch(
            form_code::fa3(),
            invoices,
            BatchOptions::new()
                .max_uploads_in_flight(3)
                .max_part_size(8 * 1024)
                .on_progress(move |event| seen.lock().unwrap().push(event.clone())),
        )
        .await
        .expect("the batch is processed");
    assert!(outcome.package.parts.len() > 3, "several parts uploaded");
    // Progress: packaged, opened, each part once (any order), closed; the sizes as packaged.
    let events = events.lock().unwrap().clone();
    let parts = &outcome.package.parts;
    let total: u64 = parts.iter().map(|p| p.encrypted.size).sum();
    assert_eq!(
        events.first(),
        Some(&BatchEvent::Packaged {
            invoices: 100,
            parts: parts.len(),
            bytes: total
        })
    );
    let session = outcome.reference_number.clone();
    assert_eq!(
        events.get(1),
        Some(&BatchEvent::Opened {
            reference_number: session.clone()
        })
    );
    assert_eq!(
        events[events.len() - 2..],
        [
            BatchEvent::Closing {
                reference_number: session.clone()
            },
            BatchEvent::Closed {
                reference_number: session
            }
        ]
    );
    let mut uploaded: Vec<(i32, u64)> = events[2..events.len() - 2]
        .iter()
        .map(|event| match event {
            BatchEvent::PartUploaded { part, bytes } => (*part, *bytes),
            other => panic!("not an upload between open and close: {other:?}"),
        })
        .collect();
    uploaded.sort_unstable();
    let expected: Vec<(i32, u64)> = parts
        .iter()
        .map(|p| (p.ordinal_number as i32, p.encrypted.size))
        .collect();
    assert_eq!(uploaded, expected);
    assert_eq!(outcome.status.status.code, 200);
    assert_eq!(outcome.invoices.len(), 100);
    let mut names: Vec<String> = outcome
        .invoices
        .iter()
        .map(|invoice| {
            assert!(
                matches!(invoice.outcome, InvoiceOutcome::Accepted { .. }),
                "{:?}",
                invoice.outcome
            );
            invoice.file_name.clone().expect("a mapped file name")
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 100);
    assert!(outcome.invoice("invoice-042.xml").is_some());

    let stats = sim.stats();
    assert_eq!(stats.invoices_accepted, 100);
    assert_eq!(stats.accepted_invoice_hashes.len(), 100);
    let mut hashes = stats.accepted_invoice_hashes.clone();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 100, "every invoice accepted exactly once");
    assert_eq!(stats.internal_errors, 0);

    let upo = outcome.session_upo().await.expect("the session UPO");
    assert_eq!(upo.len(), 1);
    let first = &outcome.invoices[0];
    let invoice_upo = outcome.invoice_upo(first).await.expect("an invoice UPO");
    assert!(!invoice_upo.is_empty());

    // The same invoices again: all duplicates, so the session has no valid invoice (445); it is
    // still an outcome that lists each invoice's refusal.
    let again = batch(sim.seeded_nip(), &numbers, 3, |i| format!("again-{i}.xml"));
    let refused = client
        .send_batch(form_code::fa3(), again, BatchOptions::new())
        .await
        .expect("a processed session with every invoice refused is an outcome");
    assert_eq!(refused.status.status.code, 445);
    assert_eq!(refused.invoices.len(), 3);
    for invoice in &refused.invoices {
        assert!(
            matches!(invoice.outcome, InvoiceOutcome::Duplicate { .. }),
            "{:?}: {:?}",
            invoice.file_name,
            invoice.outcome
        );
        assert!(invoice.file_name.as_deref().unwrap().starts_with("again-"));
    }
    assert_eq!(sim.stats().invoices_accepted, 100);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_batch_returns_before_processing_and_waits_later() {
    let sim = simulator_with_delays(Duration::from_millis(1500)).await;
    let client = logged_in(&sim).await;
    let invoices = batch(sim.seeded_nip(), &unique("SUB"), 3, |i| {
        format!("later-{i}.xml")
    });
    let submitted = client
        .submit_batch(form_code::fa3(), invoices, BatchOptions::new())
        .await
        .expect("the batch is submitted");
    // Submitting closed the session and did not poll it; KSeF has not finished yet.
    assert_eq!(requests(&sim, "sessions.status"), 0);
    assert_eq!(requests(&sim, "sessions.batch.close"), 1);
    let now = client
        .sessions()
        .status(ksef_model::operations::GetSessionStatus::new(
            submitted.reference_number.clone(),
        ))
        .await
        .expect("session status");
    assert_ne!(now.status.code, 200, "{:?}", now.status);
    assert_eq!(submitted.package.invoices.len(), 3);

    let reference = submitted.reference_number.clone();
    let outcome = submitted.wait().await.expect("the batch is processed");
    assert_eq!(outcome.reference_number, reference);
    assert_eq!(outcome.status.status.code, 200);
    let mut names: Vec<&str> = outcome
        .invoices
        .iter()
        .map(|i| i.file_name.as_deref().expect("a file name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["later-1.xml", "later-2.xml", "later-3.xml"]);
    assert!(
        outcome
            .invoices
            .iter()
            .all(|i| matches!(i.outcome, InvoiceOutcome::Accepted { .. }))
    );
}

/// Opening and closing a batch session are not idempotent: when the answer is a 5xx or is lost
/// after processing, the client checks (close) or opens a fresh session (open) instead of
/// failing, and every invoice is still accepted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_to_batch_open_and_close_are_survived() {
    let mut injected = 0;
    for seed in [1_u64, 2, 3, 4] {
        let sim = start_simulator(
            Simulator::builder()
                .processing_delays(Duration::from_millis(20))
                .fault_5xx(0.3)
                .fault_reset(0.3)
                .fault_seed(seed)
                .fault_operations(["sessions.batch.open", "sessions.batch.close"]),
        )
        .await;
        let client = logged_in(&sim).await;
        let invoices = batch(sim.seeded_nip(), &unique("FLT"), 2, |i| {
            format!("f-{i}.xml")
        });
        let outcome = client
            .send_batch(form_code::fa3(), invoices, BatchOptions::new())
            .await
            .expect("the batch despite lost answers");
        assert_eq!(outcome.invoices.len(), 2);
        let stats = sim.stats();
        assert_eq!(stats.accepted_invoice_hashes.len(), 2, "seed {seed}");
        injected += stats.faults.server_errors + stats.faults.resets;
        sim.shutdown().await;
    }
    assert!(injected > 0, "faults hit the batch open or close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_wait_in_a_private_scratch_directory_that_is_removed() {
    let sim = simulator_with_delays(Duration::from_millis(10)).await;
    let client = logged_in(&sim).await;
    let scratch = common::temp_dir("batch-scratch");
    let numbers = unique("SCRATCH");
    let options = || {
        BatchOptions::new()
            .max_part_size(4 * 1024)
            .with_scratch_dir(&scratch)
    };
    // Files in the private directories below `scratch/.ksef-tmp` (not counting their locks).
    let parts_in = |scratch: &std::path::Path| -> usize {
        std::fs::read_dir(scratch.join(".ksef-tmp"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|dir| std::fs::read_dir(dir.path()).ok())
            .map(|files| files.flatten().filter(|f| f.file_name() != ".lock").count())
            .sum()
    };
    let send = client.send_batch(
        form_code::fa3(),
        batch(sim.seeded_nip(), &numbers, 20, |i| format!("s-{i}.xml")),
        options(),
    );
    tokio::pin!(send);
    // The parts wait there from packaging until their upload: watch while the batch is sent.
    let mut parts_seen = 0;
    let outcome = loop {
        tokio::select! {
            outcome = &mut send => break outcome.expect("the batch is processed"),
            () = tokio::time::sleep(Duration::from_millis(2)) => {
                parts_seen = parts_seen.max(parts_in(&scratch));
            }
        }
    };
    assert!(outcome.package.parts.len() > 1, "several parts");
    assert_eq!(
        parts_seen,
        outcome.package.parts.len(),
        "every part waited in the scratch directory"
    );
    assert_eq!(outcome.invoices.len(), 20);
    let left: Vec<_> = std::fs::read_dir(scratch.join(".ksef-tmp"))
        .unwrap()
        .collect();
    assert!(
        left.is_empty(),
        "nothing left in the scratch directory: {left:?}"
    );

    // A package refused before anything is sent (two entries with one name) leaves nothing
    // behind either.
    let twice = batch(sim.seeded_nip(), &unique("TWICE"), 2, |_| {
        "same.xml".to_owned()
    });
    let error = client
        .submit_batch(form_code::fa3(), twice, options())
        .await
        .expect_err("duplicate entry names are refused");
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
    let left: Vec<_> = std::fs::read_dir(scratch.join(".ksef-tmp"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "nothing left after a refusal: {left:?}");

    // The parts do go there: a scratch directory that cannot be made is a storage error.
    let missing = scratch.join("missing").join("deeper");
    let error = client
        .submit_batch(
            form_code::fa3(),
            batch(sim.seeded_nip(), &unique("MISSING"), 2, |i| {
                format!("m-{i}.xml")
            }),
            BatchOptions::new().with_scratch_dir(&missing),
        )
        .await
        .expect_err("no scratch directory, no batch");
    assert!(matches!(error, Error::Storage { .. }), "{error:?}");
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// A layer that forges the signature of every presigned part upload (so the simulator's storage
/// refuses it with 403, as blob storage refuses a bad link) and counts them.
fn forge_upload_links(
    uploads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> tower::util::MapRequestLayer<
    impl Fn(http::Request<bytes::Bytes>) -> http::Request<bytes::Bytes> + Clone + Send + Sync + 'static,
> {
    tower::util::MapRequestLayer::new(move |mut request: http::Request<bytes::Bytes>| {
        let presigned = request
            .extensions()
            .get::<ksef_transport::RequestMeta>()
            .is_some_and(|meta| meta.presigned);
        if presigned && request.method() == http::Method::PUT {
            uploads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let forged = request.uri().to_string().replace("sig=", "sig=0");
            *request.uri_mut() = forged.parse().expect("a URI");
        }
        request
    })
}

// Regression (issue 20, D): a part upload refused with a 4xx was tried twice more, and the
// session was left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_part_upload_is_final_and_the_session_is_closed() {
    let sim = simulator_with_delays(Duration::from_millis(20)).await;
    let uploads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = common::client_builder(&sim, Duration::from_millis(100))
        .with_layer(forge_upload_links(uploads.clone()))
        .build()
        .expect("a client");
    common::token_login(&client, &sim).await;
    let numbers = unique("REFUSED");
    let invoices = batch(sim.seeded_nip(), &numbers, 1, |i| format!("r-{i}.xml"));
    let error = client
        .submit_batch(form_code::fa3(), invoices, BatchOptions::new())
        .await
        .expect_err("the part upload is refused");
    let Error::BatchUploadFailed {
        reference_number,
        part,
        close_error,
        ..
    } = &error
    else {
        panic!("not a batch upload failure: {error:?}");
    };
    assert_eq!(*part, 1);
    assert!(close_error.is_none(), "{close_error:?}");
    assert_eq!(error.status(), Some(403), "{error:?}");
    assert!(
        error.to_string().contains(&reference_number.to_string())
            && error.to_string().contains("the session was closed"),
        "{error}"
    );
    // One attempt, not three (the default `upload_attempts`).
    assert_eq!(uploads.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Closed, so KSeF ends it for the missing part instead of it staying open ("100").
    assert_eq!(requests(&sim, "sessions.batch.close"), 1);
    let status = client
        .sessions()
        .status(ksef_model::operations::GetSessionStatus::new(
            reference_number.clone(),
        ))
        .await
        .expect("session status");
    assert_ne!(status.status.code, 100, "{:?}", status.status);
    assert_eq!(sim.stats().invoices_accepted, 0);
    sim.shutdown().await;
}
