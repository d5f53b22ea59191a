//! End-to-end throughput of the durable path against a plain online session (a benchmark, not a
//! test), through an in-process simulator with its rate limits off and clients that do not pace,
//! so the figures are the code's and the database's, not KSeF's rate table:
//!
//! - **plain**: what `ksef invoice send --upo-dir` does: one online session, the `N` invoices
//!   sent one after another, the session closed, then each invoice's outcome and UPO read;
//! - **outbox**: the `N` invoices enqueued (`enqueue_all`), then `W` workers (`run_worker`, in
//!   this process, each with its own store handle and logged-in client, batches of 100) until
//!   every row is final with its KSeF number and UPO. For 1, 2 and 4 workers.
//!
//! `cargo run --release -p ksef-store --example outbox_throughput -- [N] [STORE]`: `N` defaults to
//! 1,000; `STORE` is `sqlite` (a file in a temporary directory, the default) or a `postgres://`
//! URL (each run empties the outbox tables there first).

use std::time::{Duration, Instant};

use ksef_client::{Client, PollConfig};
use ksef_sim::SimulatorBuilder;
use ksef_store::{InvoiceOptions, NewInvoice, State, Store, StoreLocation, WorkerOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse().expect("N is a number"))
        .unwrap_or(1_000);
    let store_arg = args.next().unwrap_or_else(|| "sqlite".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(n, &store_arg));
}

fn template() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/ksef-spec/invoice-templates/invoice-template-fa-3.xml"),
    )
    .expect("the FA(3) template")
}

fn invoices(nip: &str, prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    let template = template();
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    (0..n)
        .map(|i| {
            let number = format!("{prefix}-{i}");
            let bytes = template
                .replace("#nip#", nip)
                .replace("#invoice_number#", &number)
                .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
                .into_bytes();
            (number, bytes)
        })
        .collect()
}

async fn client(sim: &ksef_sim::Simulator) -> Client {
    let client = Client::builder()
        .transport(|t| t.base_url(sim.base_url()).without_rate_limit())
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
                .with_timeout(Duration::from_secs(60)),
        )
        .build()
        .expect("a client");
    client
        .login_with_ksef_token(
            sim.seeded_nip().parse::<ksef_model::values::Nip>().unwrap(),
            sim.seeded_token(),
        )
        .await
        .expect("a login");
    client
}

async fn run(n: usize, store_arg: &str) {
    let sim = SimulatorBuilder::new()
        .start()
        .await
        .expect("the simulator");
    let nip = sim.seeded_nip().to_owned();
    println!(
        "{n} invoices of the FA(3) template, store {store_arg}, {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Plain: one session, as `ksef invoice send --upo-dir`.
    let plain = client(&sim).await;
    let files = invoices(&nip, "PLAIN", n);
    let started = Instant::now();
    let session = plain
        .open_online_session(ksef_client::form_code::fa3())
        .await
        .expect("a session");
    let mut sent = Vec::with_capacity(n);
    for (_, bytes) in &files {
        sent.push(session.send(bytes).await.expect("sent").reference_number);
    }
    session.close().await.expect("closed");
    for reference in &sent {
        let (outcome, _) = session
            .wait_for_invoice(reference)
            .await
            .expect("an outcome");
        assert!(
            matches!(outcome, ksef_client::InvoiceOutcome::Accepted { .. }),
            "{outcome:?}"
        );
        session.invoice_upo(reference).await.expect("a UPO");
    }
    let plain_time = started.elapsed();
    report("plain online session (invoice send)", n, plain_time, None);

    for workers in [1usize, 2, 4] {
        let dir = std::env::temp_dir().join(format!(
            "ksef-store-throughput-{}-{workers}",
            std::process::id()
        ));
        let location: StoreLocation = match store_arg {
            "sqlite" => StoreLocation::Sqlite(dir.join("outbox.sqlite")),
            url => url.parse().expect("a store location"),
        };
        if let StoreLocation::Postgres(_) = &location {
            empty_postgres(store_arg).await;
        }
        let store = Store::open(&location).await.expect("the store");
        let checked: Vec<NewInvoice> = invoices(&nip, &format!("W{workers}"), n)
            .into_iter()
            .map(|(number, bytes)| {
                NewInvoice::check(&number, bytes, InvoiceOptions::online()).expect("valid")
            })
            .collect();
        let mut clients = Vec::with_capacity(workers);
        for _ in 0..workers {
            clients.push(client(&sim).await);
        }
        let started = Instant::now();
        store.enqueue_all(&checked).await.expect("enqueued");
        let mut runs = tokio::task::JoinSet::new();
        for (w, client) in clients.into_iter().enumerate() {
            let location = location.clone();
            runs.spawn(async move {
                let store = Store::open(&location).await.expect("the store");
                let options = WorkerOptions::new(format!("bench-{w}"))
                    .with_batch_size(100)
                    .with_idle_pause(Duration::from_millis(20))
                    .with_retry_grace(Duration::from_millis(50))
                    .exit_when_idle(true);
                ksef_store::run_worker(&store, &client, &options, std::future::pending(), |_| {})
                    .await
                    .expect("the worker")
            });
        }
        let summaries = runs.join_all().await;
        let elapsed = started.elapsed();
        let rows = store.rows().await.expect("rows");
        let accepted = rows
            .iter()
            .filter(|r| r.state == State::Accepted && r.upo.is_some())
            .count();
        assert_eq!(accepted, n, "every row accepted with its UPO");
        let sessions: u64 = summaries.iter().map(|s| s.sessions).sum();
        report(
            &format!("outbox: enqueue_all + {workers} worker(s), {sessions} sessions"),
            n,
            elapsed,
            Some(plain_time),
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    sim.shutdown().await;
}

/// Empties the outbox tables of a PostgreSQL store (a benchmark database, not a real one).
async fn empty_postgres(url: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(connection);
    let _ = client
        .batch_execute(
            "DROP TABLE IF EXISTS ksef_outbox_sessions, ksef_outbox, ksef_store_migrations CASCADE",
        )
        .await;
}

fn report(what: &str, n: usize, time: Duration, against: Option<Duration>) {
    let rate = n as f64 / time.as_secs_f64();
    match against {
        Some(plain) => println!(
            "{what:<58} {:>7.2} s {rate:>8.0} invoices/s  {:+.0} % time vs plain",
            time.as_secs_f64(),
            (time.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
        ),
        None => println!(
            "{what:<58} {:>7.2} s {rate:>8.0} invoices/s",
            time.as_secs_f64()
        ),
    }
}
