//! Incremental sync against the simulator: every invoice exactly once on disk, whatever the
//! interruptions.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ksef_client::{
    BatchInvoice, BatchOptions, CheckpointStore, Client, DirectorySink, Error, FileCheckpointStore,
    MemoryCheckpointStore, SyncOptions, SyncSource, form_code,
};
use ksef_model::types::InvoiceQuerySubjectType;
use ksef_model::values::Nip;
use ksef_sim::Simulator;

use common::{client_builder, fa3_template, fill_fa3, start_simulator, temp_dir};

const SELLER: &str = "5265877635";
const BUYER: &str = "7791011327";

/// The Ministry's FA(3) template from `SELLER` to `buyer`, numbered `number`, issued today.
fn invoice(template: &str, buyer: &str, number: &str) -> Vec<u8> {
    let to_buyer = template.replace("<NIP>1111111111</NIP>", &format!("<NIP>{buyer}</NIP>"));
    fill_fa3(&to_buyer, SELLER, number)
}

async fn simulator() -> Simulator {
    simulator_with_export_limit(10_000).await
}

async fn simulator_with_export_limit(limit: usize) -> Simulator {
    start_simulator(
        Simulator::builder()
            .subjects([SELLER, BUYER])
            .processing_delays(Duration::from_millis(20))
            .export_invoice_limit(limit),
    )
    .await
}

async fn logged_in(sim: &Simulator, nip: &str) -> Client {
    let client = client_builder(sim, Duration::from_millis(200))
        // Production pacing allows 16 downloads a minute; the simulator here does not limit.
        .transport(|t| t.without_rate_limit())
        .build()
        .expect("a client");
    let parsed: Nip = nip.parse().expect("a valid NIP");
    client
        .login_with_ksef_token(parsed, sim.token_for(nip).expect("a seeded token"))
        .await
        .expect("token login");
    client
}

/// Sends `count` invoices in one batch session; `every_nth_to_buyer` of them go to `BUYER`.
async fn send(client: &Client, template: &str, run: &str, count: usize, every_nth_to_buyer: usize) {
    let invoices = (0..count)
        .map(|i| {
            let buyer = if i % every_nth_to_buyer == 0 {
                BUYER
            } else {
                "1111111111"
            };
            BatchInvoice::from_bytes(
                format!("{run}-{i}.xml"),
                invoice(template, buyer, &format!("{run}-{i}")),
            )
        })
        .collect();
    let outcome = client
        .send_batch(form_code::fa3(), invoices, BatchOptions::new())
        .await
        .expect("the batch is accepted");
    assert_eq!(outcome.invoices.len(), count);
}

/// SHA-256 (base64) of every `*.xml` in `dir`, and whether each has its `*.json` beside it.
fn stored_hashes(dir: &Path) -> Vec<String> {
    let mut hashes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the sync directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "a temporary file was left: {name}");
        if name.ends_with(".xml") {
            assert!(
                path.with_extension("json").exists(),
                "{name} has no metadata file"
            );
            let bytes = std::fs::read(&path).unwrap();
            hashes.push(
                ksef_crypto::file_metadata(&bytes)
                    .sha256_base64()
                    .to_owned(),
            );
        }
    }
    hashes.sort();
    hashes
}

fn sorted(mut hashes: Vec<String>) -> Vec<String> {
    hashes.sort();
    hashes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sync_survives_interruptions_with_no_gap_and_no_duplicate() {
    // Packages of at most 7 invoices: the 40 take several truncated windows.
    interrupted_sync(SyncSource::Export, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_sync_survives_interruptions_with_no_gap_and_no_duplicate() {
    interrupted_sync(SyncSource::Query, 10_000).await;
}

async fn interrupted_sync(source: SyncSource, export_limit: usize) {
    let template = fa3_template();
    let sim = simulator_with_export_limit(export_limit).await;
    let seller = logged_in(&sim, SELLER).await;
    let run = format!("SYNC-{}", Utc::now().timestamp_millis());
    // Eight batches of five: invoices of one batch share their permanent-storage instant, and an
    // export continues after a truncated package from the last instant it holds.
    for batch in 0..8 {
        send(&seller, &template, &format!("{run}-{batch}"), 5, 4).await;
    }
    let accepted = sorted(sim.stats().accepted_invoice_hashes);
    assert_eq!(accepted.len(), 40);

    let dir = temp_dir("sync-interrupted");
    let sink = Arc::new(DirectorySink::new(&dir).unwrap());
    let checkpoints = Arc::new(FileCheckpointStore::open(sink.checkpoint_path()).unwrap());
    let start = (Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let options = SyncOptions::new(SELLER, start)
        .with_source(source)
        .with_subject_types([InvoiceQuerySubjectType::Subject1])
        .with_page_size(10)
        .with_concurrency(2);

    // Interrupt the sync at growing delays (the future is dropped mid-flight, as a kill would
    // stop it), reopening the checkpoint file each time as a new process would.
    let mut interrupted = 0;
    for delay_ms in [5u64, 15, 30, 60, 90, 150] {
        let client = seller.clone();
        let options = options.clone();
        let sink = Arc::clone(&sink);
        let path = sink.checkpoint_path();
        let task = tokio::spawn(async move {
            let checkpoints = FileCheckpointStore::open(path).unwrap();
            client
                .sync_invoices(&options, &checkpoints, sink.as_ref())
                .await
        });
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        if !task.is_finished() {
            interrupted += 1;
        }
        task.abort();
        let _ = task.await;
    }
    assert!(interrupted > 0, "at least one run was cut short");

    let report = seller
        .sync_invoices(
            &options,
            &FileCheckpointStore::open(checkpoints.path()).unwrap(),
            sink.as_ref(),
        )
        .await
        .expect("the final sync completes");
    assert_eq!(
        stored_hashes(&dir),
        accepted,
        "exactly the accepted invoices"
    );
    // An interrupted run may already have finished the window; what counts is the directory.
    let subject = &report.subjects[0];
    assert!(subject.checkpoint > start);
    let saved = FileCheckpointStore::open(checkpoints.path())
        .unwrap()
        .load(&options.checkpoint_key(&InvoiceQuerySubjectType::Subject1))
        .unwrap()
        .expect("a saved checkpoint");
    assert_eq!(saved, subject.checkpoint);

    // Nothing new: the next run lists nothing past the checkpoint and stores nothing.
    let again = seller
        .sync_invoices(
            &options,
            &FileCheckpointStore::open(checkpoints.path()).unwrap(),
            sink.as_ref(),
        )
        .await
        .unwrap();
    assert_eq!(again.stored(), 0);

    // New invoices: later runs store exactly those, once KSeF's high-water mark has passed
    // their permanent-storage date.
    send(&seller, &template, &format!("{run}-more"), 5, 100).await;
    let mut stored = 0;
    for _ in 0..100 {
        let more = seller
            .sync_invoices(
                &options,
                &FileCheckpointStore::open(checkpoints.path()).unwrap(),
                sink.as_ref(),
            )
            .await
            .unwrap();
        stored += more.stored();
        if stored >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 5);
    assert_eq!(
        stored_hashes(&dir),
        sorted(sim.stats().accepted_invoice_hashes)
    );

    // From scratch without interruptions: packages of `export_limit` invoices need one window
    // per package, each continuing where the truncated one stopped.
    let fresh = temp_dir("sync-fresh");
    let report = seller
        .sync_invoices(
            &options,
            &MemoryCheckpointStore::new(),
            &DirectorySink::new(&fresh).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        stored_hashes(&fresh),
        sorted(sim.stats().accepted_invoice_hashes)
    );
    let subject = &report.subjects[0];
    assert_eq!(subject.stored, 45);
    if source == SyncSource::Export {
        assert!(subject.windows >= 45 / 7, "{} windows", subject.windows);
    }
    std::fs::remove_dir_all(&fresh).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_syncs_its_purchases_and_roles_keep_their_own_checkpoints() {
    let template = fa3_template();
    let sim = simulator().await;
    let seller = logged_in(&sim, SELLER).await;
    let run = format!("ROLE-{}", Utc::now().timestamp_millis());
    send(&seller, &template, &run, 12, 3).await;

    let buyer = logged_in(&sim, BUYER).await;
    let dir = temp_dir("sync-buyer");
    let sink = DirectorySink::new(&dir).unwrap();
    let checkpoints = MemoryCheckpointStore::new();
    let start = (Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let options = SyncOptions::new(BUYER, start);
    let report = buyer
        .sync_invoices(&options, &checkpoints, &sink)
        .await
        .expect("the buyer's sync");
    let roles: Vec<_> = report
        .subjects
        .iter()
        .map(|s| (s.subject_type.as_str().to_owned(), s.stored))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("Subject1".to_owned(), 0),
            ("Subject2".to_owned(), 4),
            ("Subject3".to_owned(), 0)
        ]
    );
    assert_eq!(stored_hashes(&dir).len(), 4);
    for subject in &report.subjects {
        assert_eq!(
            checkpoints
                .load(&options.checkpoint_key(&subject.subject_type))
                .unwrap(),
            Some(subject.checkpoint)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    sim.shutdown().await;
}

#[test]
fn a_corrupt_checkpoint_file_is_a_storage_error_naming_it() {
    let dir = temp_dir("sync-corrupt");
    let path = dir.join("checkpoints.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let error = FileCheckpointStore::open(&path).unwrap_err();
    assert!(matches!(error, Error::Storage { .. }), "{error:?}");
    assert!(error.to_string().contains("checkpoints.json"), "{error}");

    let path = dir.join("fresh.json");
    let store = FileCheckpointStore::open(&path).unwrap();
    assert_eq!(store.load("a/Subject1").unwrap(), None);
    let instant = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00+01:00").unwrap();
    store.save("a/Subject1", instant).unwrap();
    assert_eq!(
        FileCheckpointStore::open(&path)
            .unwrap()
            .load("a/Subject1")
            .unwrap(),
        Some(instant)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sync_starts_an_export_again_when_the_answer_is_lost() {
    let template = fa3_template();
    let sim = start_simulator(
        Simulator::builder()
            .subjects([SELLER, BUYER])
            .processing_delays(Duration::from_millis(20))
            // Packages of 4 over groups of 3 sharing their storage instant: several windows.
            .export_invoice_limit(4)
            .fault_reset(0.4)
            .fault_operations(["invoices.export"])
            .fault_seed(7),
    )
    .await;
    let seller = logged_in(&sim, SELLER).await;
    let run = format!("LOST-{}", Utc::now().timestamp_millis());
    for batch in 0..3 {
        send(&seller, &template, &format!("{run}-{batch}"), 3, 100).await;
    }
    let dir = temp_dir("sync-lost");
    let start = (Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let options =
        SyncOptions::new(SELLER, start).with_subject_types([InvoiceQuerySubjectType::Subject1]);
    let report = seller
        .sync_invoices(
            &options,
            &MemoryCheckpointStore::new(),
            &DirectorySink::new(&dir).unwrap(),
        )
        .await
        .expect("sync despite lost export answers");
    assert_eq!(report.stored(), 9);
    assert_eq!(
        stored_hashes(&dir),
        sorted(sim.stats().accepted_invoice_hashes)
    );
    assert!(sim.stats().faults.resets > 0, "answers were lost");
    std::fs::remove_dir_all(&dir).unwrap();
    sim.shutdown().await;
}
