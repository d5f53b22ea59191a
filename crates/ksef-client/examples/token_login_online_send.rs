//! Log in with a KSeF token, send one FA(3) invoice in an online session, wait for its KSeF
//! number and fetch the UPO.
//!
//! With no environment variables it starts the in-process simulator and runs against it:
//!
//! ```text
//! cargo run -p ksef-client --example token_login_online_send
//! ```
//!
//! Against a real environment, set:
//!
//! - `KSEF_BASE_URL`: the API base URL, e.g. `https://api-test.ksef.mf.gov.pl/v2`;
//! - `KSEF_NIP`: the context NIP (the seller of the invoice);
//! - `KSEF_TOKEN`: a KSeF token with the `InvoiceWrite` permission in that context;
//! - `KSEF_INVOICE` (optional): a path to the FA(3) XML to send; by default the Ministry's
//!   template (`$KSEF_SPEC_DIR/invoice-templates/invoice-template-fa-3.xml`, by default the
//!   repository's `fixtures/ksef-spec/`) with `#nip#` and `#invoice_number#` filled in.

#[path = "support/template.rs"]
mod template;

use std::error::Error as StdError;
use std::time::Duration;

use ksef_client::{Client, InvoiceOutcome, PollConfig, form_code};
use ksef_model::values::Nip;

fn invoice_for(nip: &str) -> Result<Vec<u8>, Box<dyn StdError>> {
    if let Ok(path) = std::env::var("KSEF_INVOICE") {
        return Ok(std::fs::read(path)?);
    }
    let template = template::read()?;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let number = format!("EX-{}", chrono::Utc::now().timestamp());
    Ok(template
        .replace("#nip#", nip)
        .replace("#invoice_number#", &number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes())
}

/// Logs in with the KSeF token, sends one invoice in an online session, closes it, waits for the
/// outcome and fetches the invoice's UPO; logs out. Returns the outcome and the UPO.
pub(crate) async fn run(
    base_url: &str,
    nip: &str,
    token: &str,
) -> Result<(InvoiceOutcome, Vec<u8>), Box<dyn StdError>> {
    let client = Client::builder()
        .transport(|t| t.base_url(base_url))
        .poll(
            PollConfig::default().with_backoff(Duration::from_millis(200), Duration::from_secs(5)),
        )
        .build()?;

    let context: Nip = nip.parse()?;
    let login = client.login_with_ksef_token(context, token).await?;
    println!("logged in: {}", login.reference_number);

    let session = client.open_online_session(form_code::fa3()).await?;
    println!("online session {}", session.reference_number());

    let sent = session.send(&invoice_for(nip)?).await?;
    println!(
        "sent invoice {} ({:?})",
        sent.reference_number, sent.delivery
    );

    session.close().await?;
    session.wait_until_processed().await?;
    let (outcome, _) = session.wait_for_invoice(&sent.reference_number).await?;
    let upo = session.invoice_upo(&sent.reference_number).await?;
    client.logout().await?;
    Ok((outcome, upo))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn StdError>> {
    // Either a real environment from the variables, or a simulator we start ourselves.
    let mut simulator = None;
    let (base_url, nip, token) = match std::env::var("KSEF_BASE_URL") {
        Ok(url) => (
            url,
            std::env::var("KSEF_NIP")?,
            std::env::var("KSEF_TOKEN")?,
        ),
        Err(_) => {
            let sim = ksef_sim::Simulator::builder().start().await?;
            let values = (
                sim.base_url().to_owned(),
                sim.seeded_nip().to_owned(),
                sim.seeded_token().to_owned(),
            );
            simulator = Some(sim);
            values
        }
    };
    println!("KSeF API at {base_url}");
    let (outcome, upo) = run(&base_url, &nip, &token).await?;
    match outcome {
        InvoiceOutcome::Accepted { ksef_number } => println!("KSeF number {ksef_number}"),
        other => println!("not accepted: {other:?}"),
    }
    println!("UPO: {} bytes", upo.len());
    if let Some(sim) = simulator {
        sim.shutdown().await;
    }
    Ok(())
}
