//! Exactly-once delivery under faults: the simulator answers a share of requests with 5xx or 429,
//! drops the connection after processing others (the client cannot know the outcome) and
//! truncates some bodies. Every invoice must end up accepted exactly once, counted on the
//! simulator's side.
//!
//! Sizes come from `KSEF_FAULT_ONLINE` (default 500) and `KSEF_FAULT_BATCH` (default 2000); the
//! rates from `KSEF_FAULT_RATE` (default 0.03 for each kind).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt as _;
use futures_util::stream;
use ksef_client::{
    BatchInvoice, BatchOptions, Client, InvoiceOutcome, PollConfig, RetryConfig, form_code,
};
use ksef_sim::Simulator;

use common::{fa3_template, fill_fa3, seeded_nip, start_simulator};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invoice_is_accepted_exactly_once_despite_faults() {
    let online = env_number("KSEF_FAULT_ONLINE", 500);
    let batched = env_number("KSEF_FAULT_BATCH", 2000);
    let rate: f64 = std::env::var("KSEF_FAULT_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.03);
    let template = fa3_template();
    let sim = start_simulator(
        Simulator::builder()
            .processing_delays(Duration::from_millis(10))
            .fault_5xx(rate)
            .fault_429(rate)
            .fault_reset(rate)
            .fault_truncate(rate)
            .fault_seed(20261123),
    )
    .await;
    let client = Client::builder()
        .transport(|t| {
            t.base_url(sim.base_url()).without_rate_limit().retry(
                RetryConfig::default()
                    .with_max_attempts(8)
                    .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
                    .with_budget(1000, 1.0),
            )
        })
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(100))
                .with_timeout(Duration::from_secs(60)),
        )
        .reconcile(
            PollConfig::reconcile_default()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(100))
                .with_timeout(Duration::from_secs(10)),
        )
        .max_sends_in_flight(4)
        .build()
        .expect("a client");
    let nip = seeded_nip(&sim);
    let started = Instant::now();
    client
        .login_with_ksef_token(nip.clone(), sim.seeded_token())
        .await
        .expect("login despite faults");
    let run = Utc::now().timestamp_millis();
    let mut expected = BTreeSet::new();

    // Online: every invoice sent through one session, four in flight.
    let session = client
        .open_online_session(form_code::fa3())
        .await
        .expect("an online session despite faults");
    let invoices: Vec<Vec<u8>> = (0..online)
        .map(|i| fill_fa3(&template, nip.as_str(), &format!("FAULT-ON-{run}-{i}")))
        .collect();
    for bytes in &invoices {
        expected.insert(ksef_crypto::file_metadata(bytes).sha256_base64().to_owned());
    }
    let results: Vec<_> = stream::iter(invoices.iter())
        .map(|bytes| session.send(bytes))
        .buffer_unordered(4)
        .collect()
        .await;
    for result in &results {
        assert!(result.is_ok(), "a send failed for good: {result:?}");
    }
    session.close().await.expect("close despite faults");
    session
        .wait_until_processed()
        .await
        .expect("processed despite faults");

    // Batches of 500, each retried on its own if a fault ends it.
    let mut batches = 0;
    for (b, chunk) in (0..batched).collect::<Vec<_>>().chunks(500).enumerate() {
        let files: Vec<BatchInvoice> = chunk
            .iter()
            .map(|i| {
                let bytes = fill_fa3(&template, nip.as_str(), &format!("FAULT-B-{run}-{i}"));
                expected.insert(
                    ksef_crypto::file_metadata(&bytes)
                        .sha256_base64()
                        .to_owned(),
                );
                BatchInvoice::from_bytes(format!("{b}-{i}.xml"), bytes)
            })
            .collect();
        let outcome = client
            .send_batch(
                form_code::fa3(),
                files,
                BatchOptions::new()
                    .max_part_size(64 * 1024)
                    .upload_attempts(8),
            )
            .await
            .expect("the batch despite faults");
        assert!(
            outcome
                .invoices
                .iter()
                .all(|i| matches!(i.outcome, InvoiceOutcome::Accepted { .. })),
            "every invoice of batch {b} accepted"
        );
        batches += 1;
    }
    let elapsed = started.elapsed();

    let stats = sim.stats();
    let accepted: Vec<String> = stats.accepted_invoice_hashes.clone();
    let unique: BTreeSet<String> = accepted.iter().cloned().collect();
    let faults = &stats.faults;
    let injected =
        faults.server_errors + faults.too_many_requests + faults.resets + faults.truncations;
    eprintln!(
        "fault run: {online} online + {batched} batched ({batches} sessions) in {elapsed:?}; \
         faults injected: {} 5xx, {} 429, {} resets, {} truncations; accepted {}, unique {}, \
         duplicates refused {}",
        faults.server_errors,
        faults.too_many_requests,
        faults.resets,
        faults.truncations,
        accepted.len(),
        unique.len(),
        stats.duplicates_refused
    );
    assert!(injected > 0, "faults were injected");
    assert_eq!(unique, expected, "no invoice lost");
    assert_eq!(
        accepted.len(),
        online + batched,
        "no invoice accepted twice"
    );
    assert_eq!(stats.internal_errors, 0);
    sim.shutdown().await;
}
