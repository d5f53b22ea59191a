//! Runs each example's logic against a fresh simulator.
//!
//! Cargo builds examples but gives tests no path to their binaries, so each example keeps its
//! work in a public `run` function that `main` calls with either the environment's settings or
//! a simulator; this file includes the example sources as modules and calls the same
//! functions. `cargo test` thus runs exactly the code `cargo run --example …` runs.

use std::time::Duration;

use ksef_client::{InvoiceOutcome, KeyType, TestCertificate};
use ksef_model::values::Nip;
use ksef_sim::Simulator;

#[allow(dead_code)]
#[path = "../examples/batch_send.rs"]
mod batch_send;

#[allow(dead_code)]
#[path = "../examples/sync.rs"]
mod sync;

#[allow(dead_code)]
#[path = "../examples/certificate_enrollment.rs"]
mod certificate_enrollment;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ksef-client-example-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_send_example_sends_every_invoice() {
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(50))
        .start()
        .await
        .expect("the simulator starts");
    let outcome = batch_send::run(sim.base_url(), sim.seeded_nip(), sim.seeded_token())
        .await
        .expect("the example runs");
    assert_eq!(outcome.invoices.len(), 3);
    assert!(
        outcome
            .invoices
            .iter()
            .all(|i| matches!(i.outcome, InvoiceOutcome::Accepted { .. }))
    );
    assert!(outcome.invoice("invoice-2.xml").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_example_stores_the_sent_invoices_once() {
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(20))
        .start()
        .await
        .expect("the simulator starts");
    sync::seed(sim.base_url(), sim.seeded_nip(), sim.seeded_token())
        .await
        .expect("invoices sent");
    let dir = temp_dir("sync");
    // KSeF lists invoices once its high-water mark passed them: run until both are stored.
    let mut stored = 0;
    for _ in 0..100 {
        let report = sync::run(sim.base_url(), sim.seeded_nip(), sim.seeded_token(), &dir)
            .await
            .expect("the example runs");
        stored += report.stored();
        if stored >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 2);
    let again = sync::run(sim.base_url(), sim.seeded_nip(), sim.seeded_token(), &dir)
        .await
        .expect("the example runs again");
    assert_eq!(again.stored(), 0, "a second run finds nothing new");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_enrollment_example_logs_in_with_the_new_certificate() {
    let sim = Simulator::builder()
        .start()
        .await
        .expect("the simulator starts");
    let nip: Nip = sim.seeded_nip().parse().unwrap();
    let seal = TestCertificate::company("Example company", &nip, KeyType::EcdsaP256).unwrap();
    let dir = temp_dir("enrollment");
    let before = sim
        .stats()
        .requests
        .get("auth.xades_signature")
        .copied()
        .unwrap_or_default();
    let enrolled = certificate_enrollment::run(
        sim.base_url(),
        sim.seeded_nip(),
        &seal.signer().unwrap(),
        &dir,
    )
    .await
    .expect("the example runs");
    assert!(dir.join("ksef-auth.pem").exists());
    assert!(dir.join("ksef-auth.key").exists());
    assert!(!enrolled.serial_number.is_empty());
    let after = sim.stats().requests["auth.xades_signature"];
    assert_eq!(
        after,
        before + 2,
        "the seal's login and the new certificate's"
    );
    let _ = std::fs::remove_dir_all(dir);
}
