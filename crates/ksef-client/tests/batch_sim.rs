//! Batch sessions of the client against the in-process KSeF simulator.

use std::time::Duration;

use chrono::Utc;
use ksef_client::{
    BatchInvoice, BatchOptions, Client, Error, InvoiceOutcome, PollConfig, form_code,
};
use ksef_model::values::Nip;
use ksef_sim::Simulator;

const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/ksef-spec/invoice-templates/invoice-template-fa-3.xml"
);

/// The Ministry's FA(3) template with the seller NIP, the invoice number and today's issue date.
fn fa3_invoice(nip: &str, number: &str) -> Vec<u8> {
    let path = std::env::var("KSEF_INVOICE_TEMPLATE").unwrap_or_else(|_| TEMPLATE.to_owned());
    let template = std::fs::read_to_string(&path).expect("the FA(3) invoice template");
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    template
        .replace("#nip#", nip)
        .replace("#invoice_number#", number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes()
}

async fn logged_in(sim: &Simulator) -> Client {
    let client = Client::builder()
        .base_url(sim.base_url())
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
                .with_timeout(Duration::from_secs(30)),
        )
        .build()
        .expect("a client");
    let nip: Nip = sim.seeded_nip().parse().expect("a valid seeded NIP");
    client
        .login_with_ksef_token(nip, sim.seeded_token())
        .await
        .expect("token login");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_of_100_invoices_is_accepted_once_with_file_names() {
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(50))
        .start()
        .await
        .expect("the simulator starts");
    let client = logged_in(&sim).await;
    let nip = sim.seeded_nip().to_owned();
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let invoices: Vec<BatchInvoice> = (1..=100)
        .map(|i| {
            BatchInvoice::from_bytes(
                format!("invoice-{i:03}.xml"),
                fa3_invoice(&nip, &format!("BATCH-{run}-{i}")),
            )
        })
        .collect();
    let outcome = client
        .send_batch(
            form_code::fa3(),
            invoices,
            BatchOptions::new()
                .max_uploads_in_flight(3)
                .max_part_size(8 * 1024),
        )
        .await
        .expect("the batch is processed");
    assert!(outcome.package.parts.len() > 3, "several parts uploaded");
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

    // The same invoices again: all duplicates, so the session has no valid invoice.
    let again: Vec<BatchInvoice> = (1..=3)
        .map(|i| {
            BatchInvoice::from_bytes(
                format!("again-{i}.xml"),
                fa3_invoice(&nip, &format!("BATCH-{run}-{i}")),
            )
        })
        .collect();
    let failed = client
        .send_batch(form_code::fa3(), again, BatchOptions::new())
        .await;
    assert!(
        matches!(failed, Err(Error::SessionFailed { code: 445, .. })),
        "{failed:?}"
    );
    assert_eq!(sim.stats().invoices_accepted, 100);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_batch_returns_before_processing_and_waits_later() {
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(1500))
        .start()
        .await
        .expect("the simulator starts");
    let client = logged_in(&sim).await;
    let nip = sim.seeded_nip().to_owned();
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let invoices: Vec<BatchInvoice> = (1..=3)
        .map(|i| {
            BatchInvoice::from_bytes(
                format!("later-{i}.xml"),
                fa3_invoice(&nip, &format!("SUB-{run}-{i}")),
            )
        })
        .collect();
    let submitted = client
        .submit_batch(form_code::fa3(), invoices, BatchOptions::new())
        .await
        .expect("the batch is submitted");
    let statuses = |sim: &Simulator| {
        sim.stats()
            .requests
            .get("sessions.status")
            .copied()
            .unwrap_or_default()
    };
    // Submitting closed the session and did not poll it; KSeF has not finished yet.
    assert_eq!(statuses(&sim), 0);
    assert_eq!(
        sim.stats()
            .requests
            .get("sessions.batch.close")
            .copied()
            .unwrap_or_default(),
        1
    );
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
        let sim = Simulator::builder()
            .processing_delays(Duration::from_millis(20))
            .fault_5xx(0.3)
            .fault_reset(0.3)
            .fault_seed(seed)
            .fault_operations(["sessions.batch.open", "sessions.batch.close"])
            .start()
            .await
            .expect("the simulator starts");
        let client = logged_in(&sim).await;
        let nip = sim.seeded_nip().to_owned();
        let run = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let invoices: Vec<BatchInvoice> = (1..=2)
            .map(|i| {
                BatchInvoice::from_bytes(
                    format!("f-{i}.xml"),
                    fa3_invoice(&nip, &format!("FLT-{run}-{i}")),
                )
            })
            .collect();
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
