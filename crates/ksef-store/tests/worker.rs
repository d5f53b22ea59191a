//! The worker against the in-process simulator, on every backend this build has: batches share a
//! session, every row ends final with its KSeF number and UPO, a dead worker's sends are
//! reconciled instead of resent, and injected faults lose or duplicate nothing.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use ksef_client::form_code;
use ksef_sim::{Simulator, SimulatorBuilder};
use ksef_store::{InvoiceOptions, NewInvoice, State, Store, WorkerOptions, run_worker};

use common::{bounded, databases, fa3_invoice, logged_in};

async fn enqueue(store: &Store, nip: &str, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for i in 0..n {
        let number = format!("{prefix}-{i}");
        let bytes = fa3_invoice(nip, &number);
        let checked = NewInvoice::check(&number, bytes.clone(), InvoiceOptions::online()).unwrap();
        assert!(store.enqueue(&checked).await.unwrap().new);
        files.push(bytes);
    }
    files
}

fn options(id: &str) -> WorkerOptions {
    WorkerOptions::new(id)
        .with_batch_size(10)
        .with_idle_pause(Duration::from_millis(50))
        .with_settle_timeout(Duration::from_secs(20))
        .with_retry_grace(Duration::from_millis(50))
        .exit_when_idle(true)
}

/// Every row final and accepted with a KSeF number and a UPO naming it, and the simulator holds
/// each invoice exactly once.
async fn assert_all_accepted_once(store: &Store, sim: &Simulator, files: &[Vec<u8>], what: &str) {
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), files.len(), "{what}");
    for row in &rows {
        assert_eq!(row.state, State::Accepted, "{what}: {row:?}");
        let ksef_number = row.ksef_number.as_deref().expect("a KSeF number");
        let upo = String::from_utf8(row.upo.clone().expect("a UPO")).unwrap();
        assert!(
            upo.contains(ksef_number),
            "{what}: the UPO names {ksef_number}"
        );
    }
    let accepted = sim.stats().accepted_invoice_hashes;
    let unique: BTreeSet<&String> = accepted.iter().collect();
    assert_eq!(
        accepted.len(),
        unique.len(),
        "{what}: an invoice was accepted twice"
    );
    let ours: BTreeSet<String> = files
        .iter()
        .map(|f| ksef_client::OnlineSession::invoice_hash(f))
        .collect();
    for hash in &ours {
        assert!(unique.contains(hash), "{what}: invoice {hash} lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sends_each_batch_in_one_session() {
    for db in databases("worker-batch") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let files = enqueue(&store, sim.seeded_nip(), &format!("W-{}", db.name), 25).await;
        let mut batches = 0;
        let summary = bounded(run_worker(
            &store,
            &client,
            &options("w1"),
            std::future::pending(),
            |_| {
                batches += 1;
            },
        ))
        .await
        .unwrap();
        assert_eq!(
            (summary.sent, summary.accepted),
            (25, 25),
            "{}: {summary:?}",
            db.name
        );
        assert_eq!(
            (summary.batches, summary.sessions, batches),
            (3, 3, 3),
            "{}",
            db.name
        );
        let opened = sim
            .stats()
            .requests
            .get("sessions.online.open")
            .copied()
            .unwrap_or_default();
        assert_eq!(
            opened, 3,
            "{}: one session per batch, never one per invoice",
            db.name
        );
        assert_all_accepted_once(&store, &sim, &files, db.name).await;
        let counts = store.status().await.unwrap();
        assert_eq!((counts.accepted, counts.not_final()), (25, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_sends_are_reconciled_not_resent() {
    for db in databases("worker-reconcile") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let files = enqueue(&store, sim.seeded_nip(), &format!("R-{}", db.name), 6).await;
        // A worker that claimed, bound its rows to a session, sent four of six, recorded the
        // reference of only the first, and died.
        let claimed = store
            .claim("dead", 6, Duration::from_millis(100))
            .await
            .unwrap();
        let session = client.open_online_session(form_code::fa3()).await.unwrap();
        let ids: Vec<i64> = claimed.iter().map(|c| c.row.id).collect();
        store
            .record_session("dead", &ids, session.reference_number().as_ref())
            .await
            .unwrap();
        for (i, row) in claimed.iter().take(4).enumerate() {
            let sent = session.send(&row.invoice).await.unwrap();
            if i == 0 {
                store
                    .record_sent("dead", row.row.id, sent.reference_number.as_ref())
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let summary = bounded(run_worker(
            &store,
            &client,
            &options("heir"),
            std::future::pending(),
            |_| {},
        ))
        .await
        .unwrap();
        assert_eq!(
            (summary.reconciled, summary.sent, summary.accepted),
            (4, 2, 6),
            "{}: {summary:?}",
            db.name
        );
        assert_eq!(
            sim.stats().duplicates_refused,
            0,
            "{}: nothing was resent",
            db.name
        );
        assert_all_accepted_once(&store, &sim, &files, db.name).await;
        for row in store.rows().await.unwrap() {
            assert_eq!(row.attempts, 2, "{}", db.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_refused_as_duplicate_resolves_to_the_original() {
    for db in databases("worker-duplicate") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let number = format!("D-{}", db.name);
        let bytes = fa3_invoice(sim.seeded_nip(), &number);
        // The invoice reached KSeF by another way (an earlier run that lost its records).
        let session = client.open_online_session(form_code::fa3()).await.unwrap();
        let sent = session.send(&bytes).await.unwrap();
        let (outcome, _) = session
            .wait_for_invoice(&sent.reference_number)
            .await
            .unwrap();
        let ksef_client::InvoiceOutcome::Accepted { ksef_number } = outcome else {
            panic!("{outcome:?}");
        };
        store
            .enqueue(&NewInvoice::check(&number, bytes, InvoiceOptions::online()).unwrap())
            .await
            .unwrap();
        let summary = bounded(run_worker(
            &store,
            &client,
            &options("w"),
            std::future::pending(),
            |_| {},
        ))
        .await
        .unwrap();
        assert_eq!(summary.accepted, 1, "{}: {summary:?}", db.name);
        assert_eq!(sim.stats().duplicates_refused, 1);
        let row = &store.show(&common::full_number(&number)).await.unwrap()[0];
        assert_eq!(row.state, State::Accepted);
        assert_eq!(
            row.ksef_number.as_deref(),
            Some(ksef_number.to_string().as_str())
        );
        let upo = String::from_utf8(row.upo.clone().unwrap()).unwrap();
        assert!(upo.contains(&ksef_number.to_string()), "the original's UPO");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_duplicate_nothing() {
    for db in databases("worker-faults") {
        let sim = SimulatorBuilder::new()
            .fault_5xx(0.05)
            .fault_reset(0.05)
            .fault_truncate(0.05)
            .fault_seed(18)
            .start()
            .await
            .unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let files = enqueue(&store, sim.seeded_nip(), &format!("F-{}", db.name), 40).await;
        // A failed batch gives rows back; run until everything is final (bounded).
        for round in 0.. {
            assert!(round < 20, "{}: not settled after 20 runs", db.name);
            bounded(run_worker(
                &store,
                &client,
                &options("fw"),
                std::future::pending(),
                |_| {},
            ))
            .await
            .unwrap();
            if store.status().await.unwrap().not_final() == 0 {
                break;
            }
        }
        assert_all_accepted_once(&store, &sim, &files, db.name).await;
    }
}
