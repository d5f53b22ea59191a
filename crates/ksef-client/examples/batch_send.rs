//! Send FA(3) invoices in one batch session: submit (package, open, upload, close), note the
//! session's reference number, then wait for each invoice's outcome.
//!
//! With no environment variables it starts the in-process simulator and runs against it:
//!
//! ```text
//! cargo run -p ksef-client --example batch_send
//! ```
//!
//! Against a real environment, set `KSEF_BASE_URL`, `KSEF_NIP` and `KSEF_TOKEN` (a KSeF token
//! with `InvoiceWrite` in that context); `KSEF_INVOICE_DIR` (optional) names a directory whose
//! `*.xml` files are sent, by default three invoices made from the Ministry's FA(3) template
//! (`$KSEF_SPEC_DIR/invoice-templates/invoice-template-fa-3.xml`, by default the repository's
//! `fixtures/ksef-spec/`).

#[path = "support/template.rs"]
mod template;

use std::error::Error as StdError;
use std::time::Duration;

use ksef_client::{BatchInvoice, BatchOptions, BatchOutcome, Client, PollConfig, form_code};
use ksef_model::values::Nip;

/// The error type of the examples: anything, sendable between tasks.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// The invoices to send: the `*.xml` files of `KSEF_INVOICE_DIR`, or three made from the
/// template for `nip`.
pub(crate) fn invoices_for(nip: &str) -> Result<Vec<BatchInvoice>, BoxError> {
    if let Ok(dir) = std::env::var("KSEF_INVOICE_DIR") {
        let mut invoices = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "xml") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                invoices.push(BatchInvoice::from_path(name, path)?);
            }
        }
        return Ok(invoices);
    }
    let template = template::read()?;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let run = chrono::Utc::now().timestamp_millis();
    Ok((1..=3)
        .map(|i| {
            let xml = template
                .replace("#nip#", nip)
                .replace("#invoice_number#", &format!("BATCH-EX-{run}-{i}"))
                .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"));
            BatchInvoice::from_bytes(format!("invoice-{i}.xml"), xml.into_bytes())
        })
        .collect())
}

/// Logs in with the KSeF token, submits the invoices and waits for the outcome.
pub(crate) async fn run(base_url: &str, nip: &str, token: &str) -> Result<BatchOutcome, BoxError> {
    let client = Client::builder()
        .transport(|t| t.base_url(base_url))
        .poll(
            PollConfig::default().with_backoff(Duration::from_millis(100), Duration::from_secs(5)),
        )
        .build()?;
    let context: Nip = nip.parse()?;
    client.login_with_ksef_token(context, token).await?;

    let invoices = invoices_for(nip)?;
    println!("sending {} invoice(s) in a batch session", invoices.len());
    let submitted = client
        .submit_batch(form_code::fa3(), invoices, BatchOptions::new())
        .await?;
    // The session is closed and KSeF processes it; this reference is all it takes to check on
    // it later (`ksef session status REF`).
    println!("batch session {} submitted", submitted.reference_number);

    let outcome = submitted.wait().await?;
    for invoice in &outcome.invoices {
        println!(
            "{}: {:?}",
            invoice.file_name.as_deref().unwrap_or("?"),
            invoice.outcome
        );
    }
    client.logout().await?;
    Ok(outcome)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    match std::env::var("KSEF_BASE_URL") {
        Ok(url) => {
            run(
                &url,
                &std::env::var("KSEF_NIP")?,
                &std::env::var("KSEF_TOKEN")?,
            )
            .await?;
        }
        Err(_) => {
            let sim = ksef_sim::Simulator::builder().start().await?;
            run(sim.base_url(), sim.seeded_nip(), sim.seeded_token()).await?;
            sim.shutdown().await;
        }
    }
    Ok(())
}
