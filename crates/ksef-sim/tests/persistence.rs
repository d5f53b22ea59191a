//! `data_dir`: the state outlives the simulator process.

mod common;

use std::time::Duration;

use common::*;
use ksef_model::types::{
    GenerateTokenResponse, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType, QueryInvoicesMetadataResponse, SendInvoiceResponse,
};
use ksef_sim::{SimError, Simulator};
use serde_json::json;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ksef-sim-persist-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_in(dir: &std::path::Path) -> (Simulator, Http) {
    start_with(
        Simulator::builder()
            .processing_delays(Duration::from_millis(20))
            .data_dir(dir),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_invoices_test_data_and_stats_survive_a_restart() {
    let dir = temp_dir("restart");
    let (sim, http) = start_in(&dir).await;
    let nip = sim.seeded_nip().to_owned();
    let seeded = sim.seeded_token().to_owned();
    let creds = login(&http, &nip, &seeded).await;
    let sent = send_invoices(&http, &creds.access, &nip, "FV/PERSIST", 1).await;
    let (ksef, xml) = sent[0].clone();
    let generated: GenerateTokenResponse = http
        .post(
            "/tokens",
            Some(&creds.access),
            &json!({"permissions": ["InvoiceRead"], "description": "Token do odczytu"}),
        )
        .await
        .json();
    let subject = json!({"subjectNip": "1111111111", "subjectType": "JST", "description": "Gmina"});
    assert_eq!(
        http.post("/testdata/subject", None, &subject).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.shutdown().await;
    assert!(dir.join("ksef-sim-state.json").exists());

    let (sim, http) = start_in(&dir).await;
    assert_eq!(
        sim.seeded_token(),
        seeded,
        "the seeded subject keeps its token"
    );
    let creds = login(&http, &nip, &seeded).await;
    // The invoice is still there, byte for byte, and found by the metadata query.
    let downloaded = http
        .get(&format!("/invoices/ksef/{ksef}"), Some(&creds.access))
        .await;
    assert_eq!(downloaded.status, 200, "{}", downloaded.text());
    assert_eq!(downloaded.body.as_ref(), xml.as_slice());
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(
            InvoiceQueryDateType::PermanentStorage,
            (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset(),
        ),
    );
    let found: QueryInvoicesMetadataResponse = http
        .post("/invoices/query/metadata", Some(&creds.access), &filters)
        .await
        .json();
    assert_eq!(found.invoices.len(), 1);
    assert_eq!(found.invoices[0].ksef_number.as_str(), ksef);
    // Sending it again is a duplicate of the original.
    let session = open_session(&http, &creds.access).await;
    let reference = send(
        &http,
        &creds.access,
        &session.reference,
        &encrypt(&session.key, &xml),
    )
    .await
    .json::<SendInvoiceResponse>()
    .reference_number
    .to_string();
    let status = wait_invoice(&http, &creds.access, &session.reference, &reference).await;
    assert_eq!(status.status.code, 440);
    // The generated token still logs in; the test subject still exists.
    assert_eq!(auth_code(&http, &nip, &generated.token).await, 200);
    assert_eq!(
        http.post("/testdata/subject", None, &subject)
            .await
            .exception_code(),
        30001
    );
    let stats = sim.stats();
    assert_eq!(stats.invoices_accepted, 1);
    assert_eq!(stats.duplicates_refused, 1);
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_is_saved_periodically_and_a_bad_file_is_refused() {
    let dir = temp_dir("periodic");
    let (sim, http) = start_with(
        Simulator::builder()
            .data_dir(&dir)
            .data_flush_interval(Duration::from_millis(50)),
    )
    .await;
    let subject =
        json!({"subjectNip": "2222222222", "subjectType": "VatGroup", "description": "Grupa"});
    assert_eq!(
        http.post("/testdata/subject", None, &subject).await.status,
        200
    );
    let file = dir.join("ksef-sim-state.json");
    let mut saved = String::new();
    for _ in 0..100 {
        saved = std::fs::read_to_string(&file).unwrap_or_default();
        if saved.contains("2222222222") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saved.contains("2222222222"), "saved without a shutdown");
    sim.shutdown().await;

    std::fs::write(&file, b"{not json").unwrap();
    let refused = Simulator::builder().data_dir(&dir).start().await;
    assert!(matches!(refused, Err(SimError::Data(_))), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// Regression (issue 20, D): `--data DIR` on an existing directory wrote the state file (with the
// seeded token) 0644 in a 0755 directory.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_data_dir_and_state_file_are_made_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("modes");
    let file = dir.join("ksef-sim-state.json");
    // A first simulator writes the state; then someone (or an older version) loosens the modes.
    let (sim, _http) = start_in(&dir).await;
    sim.shutdown().await;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (sim, _http) = start_in(&dir).await;
    // Private from the start, before anything is saved.
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    // And on every save: loosened again while running, tightened by the next write.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    sim.flush().unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    sim.shutdown().await;
    assert_eq!(mode(&file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("ksef-sim-state.json")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// A directory that does not exist yet is created private too.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_data_dir_is_created_private() {
    let parent = temp_dir("new-dir");
    let dir = parent.join("state");
    let (sim, _http) = start_in(&dir).await;
    assert_eq!(mode(&dir), 0o700);
    sim.shutdown().await;
    assert_eq!(mode(&dir.join("ksef-sim-state.json")), 0o600);
    std::fs::remove_dir_all(&parent).unwrap();
}
