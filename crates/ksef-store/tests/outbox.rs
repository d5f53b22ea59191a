//! The outbox API on every backend this build has (SQLite always; PostgreSQL with the `postgres`
//! feature, on a private server the test starts): enqueue checks and idempotency, claims and
//! leases, recording outcomes, status and show, and the migrations.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use ksef_store::{Error, InvoiceOptions, NewInvoice, State, Store};

use common::{NIP, databases, fa3_invoice, full_number};

fn invoice(number: &str) -> NewInvoice {
    NewInvoice::check(number, fa3_invoice(NIP, number), InvoiceOptions::online())
        .expect("a valid invoice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_checks_the_invoice_and_is_idempotent() {
    for db in databases("enqueue") {
        let store = db.open().await;
        let first = store.enqueue(&invoice("E-1")).await.unwrap();
        assert!(first.new, "{}", db.name);
        let again = store.enqueue(&invoice("E-1")).await.unwrap();
        assert_eq!((again.id, again.new), (first.id, false), "{}", db.name);
        let other = store.enqueue(&invoice("E-2")).await.unwrap();
        assert!(other.new && other.id != first.id, "{}", db.name);

        let row = &store.show(&full_number("E-1")).await.unwrap()[0];
        assert_eq!(row.state, State::Pending);
        assert_eq!(row.seller_nip, NIP);
        assert_eq!(row.form_code, "FA3");
        assert_eq!(
            row.invoice_hash,
            ksef_client::OnlineSession::invoice_hash(&fa3_invoice(NIP, "E-1")),
            "{}",
            db.name
        );
        let counts = store.status().await.unwrap();
        assert_eq!((counts.pending, counts.total()), (2, 2), "{}", db.name);
    }
}

#[test]
fn malformed_and_invalid_invoices_are_refused_at_enqueue() {
    let error = NewInvoice::check("broken.xml", b"<Faktura".to_vec(), InvoiceOptions::online())
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInvoice { name, .. } if name == "broken.xml"),
        "{error}"
    );
    // Valid XML, wrong content: a bad NIP check digit names the rule and the element.
    let bad = String::from_utf8(fa3_invoice("5265877636", "X-1")).unwrap();
    let error =
        NewInvoice::check("bad-nip.xml", bad.into_bytes(), InvoiceOptions::online()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("bad-nip.xml") && text.contains("NIP"),
        "{text}"
    );
    // A technical correction must name a SHA-256.
    let error = NewInvoice::check(
        "c.xml",
        fa3_invoice(NIP, "C-1"),
        InvoiceOptions::technical_correction("not-a-hash"),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("hashOfCorrectedInvoice"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_lease_rows_and_only_the_holder_records() {
    for db in databases("claim") {
        let store = db.open().await;
        for n in 1..=3 {
            store.enqueue(&invoice(&format!("L-{n}"))).await.unwrap();
        }
        let lease = Duration::from_secs(60);
        let a = store.claim("a", 2, lease).await.unwrap();
        let b = store.claim("b", 5, lease).await.unwrap();
        assert_eq!((a.len(), b.len()), (2, 1), "{}", db.name);
        assert!(store.claim("c", 5, lease).await.unwrap().is_empty());
        assert_eq!(a[0].invoice, fa3_invoice(NIP, "L-1"), "{}", db.name);
        assert_eq!(a[0].row.state, State::Leased);
        assert_eq!(a[0].row.worker.as_deref(), Some("a"));
        assert_eq!(a[0].row.attempts, 1);

        let (id1, id2, id3) = (a[0].row.id, a[1].row.id, b[0].row.id);
        store
            .record_session("a", &[id1, id2], "20250101-SO-0000000000-0000000000-00")
            .await
            .unwrap();
        // b does not hold a's rows.
        let lost = store
            .record_accepted("b", id1, "x", Some(b"<UPO/>".to_vec()))
            .await
            .unwrap_err();
        assert!(
            matches!(lost, Error::LeaseLost { id, .. } if id == id1),
            "{lost}"
        );
        store
            .record_sent("a", id1, "20250101-EE-0000000000-0000000000-01")
            .await
            .unwrap();
        store
            .record_accepted(
                "a",
                id1,
                "5265877635-20250101-0123456789AB-CD",
                Some(b"<UPO/>".to_vec()),
            )
            .await
            .unwrap();
        store
            .record_rejected("b", id3, 450, "semantics")
            .await
            .unwrap();
        store.release("a", id2).await.unwrap();
        // A final row is never changed again.
        assert!(store.record_rejected("a", id1, 1, "late").await.is_err());

        let counts = store.status().await.unwrap();
        assert_eq!(
            (
                counts.pending,
                counts.leased,
                counts.accepted,
                counts.rejected
            ),
            (1, 0, 1, 1),
            "{}",
            db.name
        );
        let accepted = &store
            .show("5265877635-20250101-0123456789AB-CD")
            .await
            .unwrap()[0];
        assert_eq!(accepted.invoice_number, full_number("L-1"));
        assert_eq!(accepted.upo.as_deref(), Some(&b"<UPO/>"[..]));
        assert!(accepted.accepted_at.is_some() && accepted.worker.is_none());
        let rejected = &store.show(&full_number("L-3")).await.unwrap()[0];
        assert_eq!(
            (
                rejected.state,
                rejected.error_code,
                rejected.error_message.as_deref()
            ),
            (State::Rejected, Some(450), Some("semantics"))
        );
        // The released row keeps its session for the next claim's reconciliation.
        let again = store.claim("c", 5, lease).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].row.id, id2);
        assert_eq!(again[0].row.attempts, 2);
        assert_eq!(
            again[0].row.session_ref.as_deref(),
            Some("20250101-SO-0000000000-0000000000-00")
        );
        assert!(matches!(
            store.show("nothing-like-it").await.unwrap_err(),
            Error::NotFound { .. }
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over() {
    for db in databases("expiry") {
        let store = db.open().await;
        store.enqueue(&invoice("X-1")).await.unwrap();
        let first = store
            .claim("dead", 1, Duration::from_millis(500))
            .await
            .unwrap();
        store
            .record_session(
                "dead",
                &[first[0].row.id],
                "20250101-SO-0000000000-0000000000-00",
            )
            .await
            .unwrap();
        assert!(
            store
                .claim("live", 1, Duration::from_secs(60))
                .await
                .unwrap()
                .is_empty()
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        let taken = store
            .claim("live", 1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "{}", db.name);
        assert_eq!(taken[0].row.worker.as_deref(), Some("live"));
        assert!(taken[0].row.session_ref.is_some());
        // The dead worker's late write is refused.
        assert!(matches!(
            store.release("dead", taken[0].row.id).await.unwrap_err(),
            Error::LeaseLost { .. }
        ));
        assert_eq!(store.release_all("live").await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_only_while_it_is_held() {
    for db in databases("renew") {
        let store = db.open().await;
        store.enqueue(&invoice("R-1")).await.unwrap();
        let id = store
            .claim("slow", 1, Duration::from_millis(1500))
            .await
            .unwrap()[0]
            .row
            .id;
        // Renewed while held: the row outlives its first lease and no one else can claim it.
        // (Margins of half a second or more either way, for a loaded machine.)
        tokio::time::sleep(Duration::from_millis(700)).await;
        store
            .renew("slow", id, Duration::from_millis(1500))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(
            store
                .claim("other", 1, Duration::from_secs(60))
                .await
                .unwrap()
                .is_empty(),
            "{}: the renewed lease was taken",
            db.name
        );
        // Another worker's renewal is refused.
        assert!(matches!(
            store
                .renew("other", id, Duration::from_secs(60))
                .await
                .unwrap_err(),
            Error::LeaseLost { .. }
        ));
        // Once it has run out, it is not renewed (the worker then does not send the row), and
        // after a successor's claim, neither.
        tokio::time::sleep(Duration::from_millis(1700)).await;
        assert!(matches!(
            store
                .renew("slow", id, Duration::from_secs(60))
                .await
                .unwrap_err(),
            Error::LeaseLost { .. }
        ));
        let taken = store
            .claim("other", 1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "{}", db.name);
        assert!(matches!(
            store
                .renew("slow", id, Duration::from_secs(60))
                .await
                .unwrap_err(),
            Error::LeaseLost { .. }
        ));
        store
            .renew("other", id, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.release_all("other").await.unwrap(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_share_a_row() {
    for db in databases("concurrent") {
        let store = db.open().await;
        for n in 0..120 {
            store.enqueue(&invoice(&format!("K-{n}"))).await.unwrap();
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            // Each worker with its own connection, as separate processes would.
            let store = Store::open(&db.location).await.unwrap();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim(&format!("w{w}"), 7, Duration::from_secs(60))
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|c| c.row.id));
                }
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let unique: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(
            all.len(),
            120,
            "{}: a row was claimed twice or not at all",
            db.name
        );
        assert_eq!(unique.len(), 120, "{}", db.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_and_refuse_a_newer_schema() {
    for db in databases("migrate") {
        let store = db.open().await;
        store.enqueue(&invoice("M-1")).await.unwrap();
        drop(store);
        // Opening again keeps the data and applies nothing twice.
        let store = db.open().await;
        assert_eq!(store.status().await.unwrap().total(), 1, "{}", db.name);
        assert_eq!(ksef_store::schema_version(), 2);
        if let ksef_store::StoreLocation::Sqlite(path) = &db.location {
            let connection = bump_to_99(path);
            assert!(connection, "bumped");
            let error = Store::open(&db.location).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::SchemaTooNew {
                        found: 99,
                        known: 2
                    }
                ),
                "{error}"
            );
        }
    }
}

/// Records a migration version 99 in the SQLite file, as a newer build would have.
fn bump_to_99(path: &std::path::Path) -> bool {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute(
            "INSERT INTO ksef_store_migrations (version, applied_at) VALUES (99, 'x')",
            [],
        )
        .is_ok()
}

#[test]
fn a_checked_invoice_takes_back_only_the_bytes_that_were_checked() {
    let checked = invoice("K-1").without_bytes();
    assert_eq!(checked.invoice_number(), full_number("K-1"));
    let back = checked
        .clone()
        .with_bytes(fa3_invoice(NIP, "K-1"))
        .expect("the same bytes");
    assert_eq!(back.invoice_hash(), invoice("K-1").invoice_hash());
    // Another file (valid or not) in its place is refused, not checked again.
    let error = checked.with_bytes(fa3_invoice(NIP, "K-2")).unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInvoice { reason, .. } if reason.contains("changed")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_all_stores_many_in_one_statement_and_is_idempotent() {
    for db in databases("enqueue-all") {
        let store = db.open().await;
        let first = store.enqueue(&invoice("B-0")).await.unwrap();
        let batch: Vec<NewInvoice> = (0..=600).map(|i| invoice(&format!("B-{i}"))).collect();
        let enqueued = store.enqueue_all(&batch).await.unwrap();
        assert_eq!(enqueued.len(), 601, "{}", db.name);
        assert_eq!((enqueued[0].id, enqueued[0].new), (first.id, false));
        assert!(enqueued[1..].iter().all(|e| e.new), "{}", db.name);
        let ids: BTreeSet<i64> = enqueued.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 601);
        let row = &store.show(&full_number("B-600")).await.unwrap()[0];
        assert_eq!(row.id, enqueued[600].id);
        assert_eq!(
            row.invoice_size,
            Some(fa3_invoice(NIP, "B-600").len() as i64)
        );
        assert_eq!(store.status().await.unwrap().pending, 601, "{}", db.name);
    }
}
