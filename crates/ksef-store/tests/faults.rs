//! A database that refuses writes or goes away while a worker runs (issue 18): the worker stops
//! with a typed error naming the store, and nothing enqueued is lost: once the database is back,
//! a restarted worker sends every invoice exactly once. SQLite: another connection holds the
//! write lock (the worker's writes fail busy). PostgreSQL: the private server is stopped as a
//! crash would stop it, then started again.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use ksef_sim::{Simulator, SimulatorBuilder};
use ksef_store::{
    Error, InvoiceOptions, NewInvoice, State, Store, StoreLocation, WorkerOptions, run_worker,
};

use common::{bounded, databases, fa3_invoice, logged_in};

fn options() -> WorkerOptions {
    WorkerOptions::new("dbw")
        .with_batch_size(5)
        .with_lease(Duration::from_secs(1))
        .with_idle_pause(Duration::from_millis(20))
        .with_settle_timeout(Duration::from_secs(20))
        .with_retry_grace(Duration::from_millis(20))
        .exit_when_idle(true)
}

/// How the test takes the database away and gives it back.
enum Outage {
    /// Another connection holding SQLite's write lock (`BEGIN EXCLUSIVE`).
    SqliteLock(Mutex<Option<rusqlite::Connection>>),
    /// The private PostgreSQL server stopped.
    PostgresDown,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_stops_the_worker_naming_the_store_and_loses_nothing() {
    for db in databases("db-outage") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db
            .open()
            .await
            .with_busy_timeout_for_tests(Duration::from_millis(200))
            .unwrap();
        let mut files = Vec::new();
        for i in 0..15 {
            let number = format!("DB-{}-{i}", db.name);
            let bytes = fa3_invoice(sim.seeded_nip(), &number);
            let checked =
                NewInvoice::check(&number, bytes.clone(), InvoiceOptions::online()).unwrap();
            assert!(store.enqueue(&checked).await.unwrap().new);
            files.push(bytes);
        }
        let outage = match &db.location {
            StoreLocation::Sqlite(_) => Outage::SqliteLock(Mutex::new(None)),
            _ => Outage::PostgresDown,
        };
        // After the first batch the database goes away; the next claim meets it.
        let mut batches = 0;
        let error = bounded(run_worker(
            &store,
            &client,
            &options(),
            std::future::pending(),
            |_| {
                batches += 1;
                if batches > 1 {
                    return;
                }
                match (&outage, &db.location) {
                    (Outage::SqliteLock(held), StoreLocation::Sqlite(path)) => {
                        let lock = rusqlite::Connection::open(path).unwrap();
                        lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
                        *held.lock().unwrap() = Some(lock);
                    }
                    _ => db.stop_server(),
                }
            },
        ))
        .await
        .expect_err("the worker stops when its database goes away");
        assert_eq!(batches, 1, "{}", db.name);
        let message = error.to_string();
        match &error {
            Error::Database { store, .. } => {
                assert_eq!(store, &db.location.to_string(), "{}: {message}", db.name);
            }
            other => panic!("{}: not a database error: {other:?}", db.name),
        }
        assert!(
            message.contains(&db.location.to_string()),
            "{}: the error names the store: {message}",
            db.name
        );
        // The database comes back; a new worker (a new process would open the store anew)
        // settles everything, each invoice exactly once.
        let store = match &outage {
            Outage::SqliteLock(held) => {
                drop(held.lock().unwrap().take());
                store
            }
            Outage::PostgresDown => {
                db.start_server();
                drop(store);
                db.open().await
            }
        };
        assert!(
            store.status().await.unwrap().accepted >= 5,
            "{}: the first batch's outcomes were kept",
            db.name
        );
        // Rows the stopped worker held wait for their lease to expire.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for round in 0.. {
            assert!(round < 10, "{}: not settled after 10 runs", db.name);
            bounded(run_worker(
                &store,
                &client,
                &options(),
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

/// Every row accepted with a KSeF number, and the simulator holds each invoice exactly once.
async fn assert_all_accepted_once(store: &Store, sim: &Simulator, files: &[Vec<u8>], what: &str) {
    let rows = store.rows().await.unwrap();
    assert_eq!(rows.len(), files.len(), "{what}");
    for row in &rows {
        assert_eq!(row.state, State::Accepted, "{what}: {row:?}");
        assert!(row.ksef_number.is_some(), "{what}: {row:?}");
    }
    let accepted = sim.stats().accepted_invoice_hashes;
    let unique: BTreeSet<&String> = accepted.iter().collect();
    assert_eq!(
        accepted.len(),
        unique.len(),
        "{what}: an invoice was accepted twice"
    );
    for file in files {
        let hash = ksef_client::OnlineSession::invoice_hash(file);
        assert!(unique.contains(&hash), "{what}: invoice {hash} lost");
    }
}
