//! Regression tests of the review of the outbox (issue 18), on every backend this build has:
//! unknown outcomes retried after a grace period and parked as `unresolved` (never `rejected`),
//! sure failures bounded by a maximum of attempts (`failed`), every session an invoice was sent
//! in kept and reconciled, rows inserted by hand checked against their hash, and leases measured
//! by the database's clock on PostgreSQL.

mod common;

use std::time::Duration;

use ksef_client::form_code;
use ksef_sim::SimulatorBuilder;
use ksef_store::{
    InvoiceOptions, NewInvoice, Retry, State, StoreLocation, WorkerOptions, run_worker,
};

use common::{NIP, bounded, client_for, databases, fa3_invoice, full_number, logged_in};

fn invoice(nip: &str, number: &str) -> NewInvoice {
    NewInvoice::check(number, fa3_invoice(nip, number), InvoiceOptions::online())
        .expect("a valid invoice")
}

fn options(id: &str) -> WorkerOptions {
    WorkerOptions::new(id)
        .with_batch_size(10)
        .with_idle_pause(Duration::from_millis(20))
        .with_settle_timeout(Duration::from_secs(20))
        .with_retry_grace(Duration::from_millis(20))
        .exit_when_idle(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_waits_its_grace_period_and_ends_unresolved_never_rejected() {
    for db in databases("review-unresolved") {
        let store = db.open().await;
        let id = store.enqueue(&invoice(NIP, "U-1")).await.unwrap().id;
        let lease = Duration::from_secs(60);
        assert_eq!(store.claim("w", 5, lease).await.unwrap().len(), 1);
        let state = store
            .retry(
                "w",
                id,
                Retry::Uncertain,
                Duration::from_millis(600),
                2,
                Some(440),
                "duplicate, original not found yet",
            )
            .await
            .unwrap();
        assert_eq!(state, State::Pending, "{}", db.name);
        // Not claimable during the grace period: KSeF may still be processing it.
        assert!(
            store.claim("x", 5, lease).await.unwrap().is_empty(),
            "{}: claimed at once",
            db.name
        );
        let due = store.next_due().await.unwrap().expect("a row waits");
        assert!(due <= Duration::from_millis(600), "{}: {due:?}", db.name);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let again = store.claim("x", 5, lease).await.unwrap();
        assert_eq!(again.len(), 1, "{}", db.name);
        assert_eq!(again[0].row.unresolved_tries, 1);
        let state = store
            .retry(
                "x",
                id,
                Retry::Uncertain,
                Duration::ZERO,
                2,
                Some(440),
                "duplicate, original not found yet",
            )
            .await
            .unwrap();
        assert_eq!(state, State::Unresolved, "{}", db.name);
        assert!(!state.is_final());
        // Parked: no worker claims (and so resends) it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(store.claim("y", 5, lease).await.unwrap().is_empty());
        assert_eq!(store.next_due().await.unwrap(), None);
        let counts = store.status().await.unwrap();
        assert_eq!(
            (
                counts.unresolved,
                counts.rejected,
                counts.not_final(),
                counts.total()
            ),
            (1, 0, 1, 1),
            "{}",
            db.name
        );
        let row = &store.show(&full_number("U-1")).await.unwrap()[0];
        assert_eq!(row.state, State::Unresolved);
        assert_eq!(row.error_code, Some(440));
        assert!(row.error_message.as_deref().unwrap().contains("not found"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sure_failures_end_failed_after_the_maximum_of_attempts() {
    for db in databases("review-failed") {
        let store = db.open().await;
        for n in 1..=3 {
            store
                .enqueue(&invoice(NIP, &format!("M-{n}")))
                .await
                .unwrap();
        }
        // A client that is logged in nowhere: no session can be opened, nothing is ever sent.
        let client = client_for("http://127.0.0.1:9");
        let summary = bounded(run_worker(
            &store,
            &client,
            &options("w").with_max_attempts(3),
            std::future::pending(),
            |_| {},
        ))
        .await
        .unwrap();
        assert_eq!(
            (summary.failed, summary.sent),
            (3, 0),
            "{}: {summary:?}",
            db.name
        );
        for row in store.rows().await.unwrap() {
            assert_eq!(row.state, State::Failed, "{}: {row:?}", db.name);
            assert!(row.state.is_final());
            assert_eq!((row.attempts, row.failures), (3, 3), "{}", db.name);
            assert!(
                row.error_message
                    .as_deref()
                    .unwrap()
                    .contains("opening an online session"),
                "{}: {:?}",
                db.name,
                row.error_message
            );
        }
        let counts = store.status().await.unwrap();
        assert_eq!((counts.failed, counts.not_final()), (3, 0), "{}", db.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_an_invoice_was_bound_to_is_kept_and_reconciled() {
    for db in databases("review-sessions") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let number = format!("S-{}", db.name);
        let bytes = fa3_invoice(sim.seeded_nip(), &number);
        store
            .enqueue(&NewInvoice::check(&number, bytes.clone(), InvoiceOptions::online()).unwrap())
            .await
            .unwrap();
        // A first worker sends it in session A, its answer is lost, and it dies.
        let first = store
            .claim("a", 1, Duration::from_millis(100))
            .await
            .unwrap();
        let id = first[0].row.id;
        let a = client.open_online_session(form_code::fa3()).await.unwrap();
        store
            .record_session("a", &[id], a.reference_number().as_ref())
            .await
            .unwrap();
        a.send(&bytes).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        // A second binds it to session B, and dies before sending.
        store
            .claim("b", 1, Duration::from_millis(100))
            .await
            .unwrap();
        let b = client.open_online_session(form_code::fa3()).await.unwrap();
        store
            .record_session("b", &[id], b.reference_number().as_ref())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let sessions: Vec<String> = store
            .sessions(id)
            .await
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            sessions,
            [
                a.reference_number().to_string(),
                b.reference_number().to_string()
            ],
            "{}",
            db.name
        );
        // The heir finds it in A (not in B, the last one) and sends nothing.
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
            (1, 0, 1),
            "{}: {summary:?}",
            db.name
        );
        assert_eq!(sim.stats().duplicates_refused, 0, "{}: resent", db.name);
        let row = &store.show(&full_number(&number)).await.unwrap()[0];
        assert_eq!(row.state, State::Accepted);
        assert!(row.upo.is_some());
    }
}

/// Inserts a row as an ERP would, by hand, with `hash` as its `invoice_hash`.
async fn insert_by_hand(location: &StoreLocation, number: &str, hash: &str, bytes: Vec<u8>) {
    let sql = "INSERT INTO ksef_outbox (seller_nip, invoice_number, invoice_hash, form_code, \
               invoice) VALUES ($1, $2, $3, 'FA3', $4)";
    match location {
        StoreLocation::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            connection
                .execute(
                    &sql.replace('$', "?"),
                    rusqlite::params![NIP, number, hash, bytes],
                )
                .unwrap();
        }
        StoreLocation::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .execute(sql, &[&NIP, &number, &hash, &bytes])
                .await
                .unwrap();
        }
        _ => unreachable!("a location the tests make"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_inserted_by_hand_with_a_wrong_hash_is_failed_never_sent() {
    for db in databases("review-hash") {
        let sim = SimulatorBuilder::new().start().await.unwrap();
        let client = logged_in(&sim).await;
        let store = db.open().await;
        let good = fa3_invoice(sim.seeded_nip(), "H-1");
        let other = fa3_invoice(sim.seeded_nip(), "H-2");
        // The hash of another file.
        let wrong = ksef_client::OnlineSession::invoice_hash(&other);
        insert_by_hand(&db.location, &full_number("H-1"), &wrong, good).await;
        let summary = bounded(run_worker(
            &store,
            &client,
            &options("w"),
            std::future::pending(),
            |_| {},
        ))
        .await
        .unwrap();
        assert_eq!(
            (summary.failed, summary.sent),
            (1, 0),
            "{}: {summary:?}",
            db.name
        );
        assert!(
            sim.stats().accepted_invoice_hashes.is_empty(),
            "{}",
            db.name
        );
        let row = &store.show(&full_number("H-1")).await.unwrap()[0];
        assert_eq!(row.state, State::Failed, "{}", db.name);
        let message = row.error_message.as_deref().unwrap();
        assert!(
            message.contains("SHA-256") && message.contains(&wrong),
            "{message}"
        );
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leases_use_the_database_clock_not_the_workers() {
    for db in databases("review-clock") {
        if db.name != "postgres" {
            continue;
        }
        // A worker whose clock is an hour slow claims with a 10-minute lease: by its own clock
        // the lease would have ended 50 minutes ago, free for anyone to take at once.
        let slow = db
            .open()
            .await
            .with_clock_skew_for_tests(chrono::Duration::hours(-1));
        let store = db.open().await;
        store.enqueue(&invoice(NIP, "C-1")).await.unwrap();
        let claimed = slow
            .claim("slow", 1, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(
            store
                .claim("other", 1, Duration::from_secs(600))
                .await
                .unwrap()
                .is_empty(),
            "a lease held by the database's clock was taken over"
        );
        slow.renew("slow", claimed[0].row.id, Duration::from_secs(600))
            .await
            .expect("the lease is still held by the database's clock");
    }
}
