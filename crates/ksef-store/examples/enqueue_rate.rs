//! The outbox's enqueue rate on SQLite (a benchmark, not a test): `N` invoices from the Ministry's
//! FA(3) template are checked (`NewInvoice::check`), then stored one by one (`Store::enqueue`, one
//! commit each) and in batches (`Store::enqueue_all`, one statement and commit per 500).
//!
//! `cargo run --release -p ksef-store --example enqueue_rate -- [N]` (default 10,000); the SQLite
//! file goes to a temporary directory, removed at the end.

use std::time::Instant;

use ksef_store::{InvoiceOptions, NewInvoice, Store, StoreLocation};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a number"))
        .unwrap_or(10_000);
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/ksef-spec/invoice-templates/invoice-template-fa-3.xml"),
    )
    .expect("the FA(3) template");
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let file = |prefix: &str, i: usize| {
        template
            .replace("#nip#", "5265877635")
            .replace("#invoice_number#", &format!("{prefix}-{i}"))
            .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
            .into_bytes()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = std::env::temp_dir().join(format!("ksef-store-enqueue-rate-{}", std::process::id()));
    let location = StoreLocation::Sqlite(dir.join("outbox.sqlite"));
    let store = runtime.block_on(Store::open(&location)).expect("the store");

    let started = Instant::now();
    let checked: Vec<NewInvoice> = (0..n)
        .map(|i| NewInvoice::check("bench", file("B", i), InvoiceOptions::online()).expect("valid"))
        .collect();
    let check = started.elapsed();

    let singles = n.min(1000);
    let singles_files: Vec<NewInvoice> = (0..singles)
        .map(|i| NewInvoice::check("bench", file("S", i), InvoiceOptions::online()).expect("valid"))
        .collect();
    let started = Instant::now();
    for invoice in &singles_files {
        runtime.block_on(store.enqueue(invoice)).expect("enqueued");
    }
    let single = started.elapsed();

    let started = Instant::now();
    let stored = runtime
        .block_on(store.enqueue_all(&checked))
        .expect("enqueued");
    let batch = started.elapsed();
    assert!(stored.iter().all(|e| e.new));

    let rate = |count: usize, took: std::time::Duration| count as f64 / took.as_secs_f64();
    println!("| step | invoices | time | invoices/s |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| check (`NewInvoice::check`) | {n} | {check:.2?} | {:.0} |",
        rate(n, check)
    );
    println!(
        "| `enqueue`, one commit each | {singles} | {single:.2?} | {:.0} |",
        rate(singles, single)
    );
    println!(
        "| `enqueue_all`, one commit per 500 | {n} | {batch:.2?} | {:.0} |",
        rate(n, batch)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
