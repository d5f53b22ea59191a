//! Incremental sync: store every invoice of the context in a directory, exactly once, and
//! remember how far it got (a checkpoint file in the same directory). Run it again and it
//! fetches only what is new.
//!
//! With no environment variables it starts the in-process simulator, sends it two invoices and
//! syncs them:
//!
//! ```text
//! cargo run -p ksef-client --example sync
//! ```
//!
//! Against a real environment, set `KSEF_BASE_URL`, `KSEF_NIP`, `KSEF_TOKEN` (a KSeF token
//! with `InvoiceRead`) and `KSEF_SYNC_DIR` (the directory to fill; by default `ksef-invoices`).

#[path = "support/template.rs"]
mod template;

use std::error::Error as StdError;
use std::path::Path;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use ksef_client::{
    Client, DirectorySink, FileCheckpointStore, PollConfig, SyncOptions, SyncReport,
};
use ksef_model::types::InvoiceQuerySubjectType;
use ksef_model::values::Nip;

/// The error type of the examples: anything, sendable between tasks.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Logs in and syncs the invoices the context issued (`Subject1`) and received (`Subject2`)
/// into `dir`, starting 30 days back the first time.
pub(crate) async fn run(
    base_url: &str,
    nip: &str,
    token: &str,
    dir: &Path,
) -> Result<SyncReport, BoxError> {
    let client = Client::builder()
        .transport(|t| t.base_url(base_url))
        .poll(
            PollConfig::default().with_backoff(Duration::from_millis(100), Duration::from_secs(5)),
        )
        .build()?;
    let context: Nip = nip.parse()?;
    client.login_with_ksef_token(context, token).await?;

    let sink = DirectorySink::new(dir)?;
    let checkpoints = FileCheckpointStore::open(sink.checkpoint_path())?;
    let start = (Utc::now() - ChronoDuration::days(30)).fixed_offset();
    let options = SyncOptions::new(nip, start).with_subject_types([
        InvoiceQuerySubjectType::Subject1,
        InvoiceQuerySubjectType::Subject2,
    ]);
    let report = client.sync_invoices(&options, &checkpoints, &sink).await?;
    println!("{report}");
    client.logout().await?;
    Ok(report)
}

/// Sends two invoices to a simulator so that there is something to sync (made from the
/// Ministry's FA(3) template, see [`template::path`]).
pub(crate) async fn seed(base_url: &str, nip: &str, token: &str) -> Result<(), BoxError> {
    let template = template::read()?;
    let client = Client::builder()
        .transport(|t| t.base_url(base_url))
        .poll(PollConfig::default().with_backoff(Duration::from_millis(50), Duration::from_secs(1)))
        .build()?;
    client
        .login_with_ksef_token(nip.parse::<Nip>()?, token)
        .await?;
    let session = client
        .open_online_session(ksef_client::form_code::fa3())
        .await?;
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let run = Utc::now().timestamp_millis();
    for i in 1..=2 {
        let xml = template
            .replace("#nip#", nip)
            .replace("#invoice_number#", &format!("SYNC-EX-{run}-{i}"))
            .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"));
        session.send(xml.as_bytes()).await?;
    }
    session.close().await?;
    session.wait_until_processed().await?;
    client.logout().await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let dir = std::env::var("KSEF_SYNC_DIR").unwrap_or_else(|_| "ksef-invoices".to_owned());
    match std::env::var("KSEF_BASE_URL") {
        Ok(url) => {
            run(
                &url,
                &std::env::var("KSEF_NIP")?,
                &std::env::var("KSEF_TOKEN")?,
                Path::new(&dir),
            )
            .await?;
        }
        Err(_) => {
            let sim = ksef_sim::Simulator::builder().start().await?;
            seed(sim.base_url(), sim.seeded_nip(), sim.seeded_token()).await?;
            run(
                sim.base_url(),
                sim.seeded_nip(),
                sim.seeded_token(),
                Path::new(&dir),
            )
            .await?;
            sim.shutdown().await;
        }
    }
    Ok(())
}
