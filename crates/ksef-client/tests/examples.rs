//! Runs each example's logic against a fresh simulator.
//!
//! Cargo builds examples but gives tests no path to their binaries, so each example keeps its
//! work in a public `run` function that `main` calls with either the environment's settings or
//! a simulator; this file includes the example sources as modules and calls the same
//! functions. `cargo test` thus runs exactly the code `cargo run --example …` runs.
//!
//! Each example is its own binary and includes the shared `examples/support/template.rs`
//! itself, so here, with all of them in one crate, that file is compiled once per example.
#![allow(clippy::duplicate_mod)]

mod common;

use std::time::Duration;

use ksef_client::{InvoiceOutcome, KeyType, TestCertificate};
use ksef_sim::Simulator;

use common::{requests, seeded_nip, simulator_with_delays, start_simulator, temp_dir};

#[allow(dead_code)]
#[path = "../examples/token_login_online_send.rs"]
mod token_login_online_send;

#[allow(dead_code)]
#[path = "../examples/batch_send.rs"]
mod batch_send;

#[allow(dead_code)]
#[path = "../examples/sync.rs"]
mod sync;

#[allow(dead_code)]
#[path = "../examples/certificate_enrollment.rs"]
mod certificate_enrollment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_login_online_send_example_gets_a_ksef_number_and_upo() {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
    let (outcome, upo) =
        token_login_online_send::run(sim.base_url(), sim.seeded_nip(), sim.seeded_token())
            .await
            .expect("the example runs");
    let InvoiceOutcome::Accepted { ksef_number } = outcome else {
        panic!("not accepted: {outcome:?}");
    };
    let upo = String::from_utf8(upo).expect("a UTF-8 UPO");
    assert!(
        upo.contains(&ksef_number.to_string()),
        "the UPO names KSeF number {ksef_number}"
    );
    assert_eq!(sim.stats().invoices_accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_send_example_sends_every_invoice() {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
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
    let sim = simulator_with_delays(Duration::from_millis(20)).await;
    sync::seed(sim.base_url(), sim.seeded_nip(), sim.seeded_token())
        .await
        .expect("invoices sent");
    let dir = temp_dir("example-sync");
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
    let sim = start_simulator(Simulator::builder()).await;
    let seal =
        TestCertificate::company("Example company", &seeded_nip(&sim), KeyType::EcdsaP256).unwrap();
    let dir = temp_dir("example-enrollment");
    let before = requests(&sim, "auth.xades_signature");
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
