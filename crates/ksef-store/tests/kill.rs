//! Worker processes killed at random (issue 18): several worker processes share one store, the
//! simulator injects 5xx, 429, resets and truncated bodies, and a killer sends SIGKILL to a
//! random worker every fraction of a second and starts it again. At the end every invoice is
//! accepted exactly once (the simulator's accepted-hash list, and no resend met KSeF's duplicate
//! check), and every row is final with its KSeF number and a UPO naming it.
//!
//! PostgreSQL (feature `postgres`, a private server): 4 workers. SQLite: 1 worker (one process
//! writes an SQLite store at a time). The workers are this test executable started again with
//! `KSEF_STORE_KILL_WORKER` set: real processes, killed as a deploy or the OOM killer would.
//! `KSEF_KILL_INVOICES` (default 240) and `KSEF_KILL_KILLS` (default 6) size the run; the closing
//! figures of issue 18 were taken with 10,000 invoices.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ksef_sim::{SeededRng, SimulatorBuilder};
use ksef_store::{InvoiceOptions, NewInvoice, State, Store, StoreLocation, WorkerOptions};

use common::{client_for, databases, fa3_invoice};

const WORKER_ENV: &str = "KSEF_STORE_KILL_WORKER";
const TEST_NAME: &str = "killed_worker_processes_lose_and_duplicate_nothing";

fn main() {
    if std::env::var_os(WORKER_ENV).is_some() {
        worker_process();
        return;
    }
    // As libtest: positional arguments filter by name; `--list` lists.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{TEST_NAME}: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| TEST_NAME.contains(f.as_str())) {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 1 filtered out\n"
        );
        return;
    }
    println!("\nrunning 1 test");
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(killed_worker_processes_lose_and_duplicate_nothing());
    println!("test {TEST_NAME} ... ok");
    println!(
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished \
         in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a count")),
        Err(_) => default,
    }
}

/// What a worker process is told through its environment.
struct Job {
    base_url: String,
    nip: String,
    token: String,
    store: String,
}

impl Job {
    fn spawn(&self, id: &str) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .env(WORKER_ENV, id)
            .env("KSEF_STORE_KILL_URL", &self.base_url)
            .env("KSEF_STORE_KILL_NIP", &self.nip)
            .env("KSEF_STORE_KILL_TOKEN", &self.token)
            .env("KSEF_STORE_KILL_STORE", &self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("a worker process starts")
    }
}

fn options(id: &str) -> WorkerOptions {
    WorkerOptions::new(id)
        .with_batch_size(20)
        .with_lease(Duration::from_secs(2))
        .with_idle_pause(Duration::from_millis(50))
        .with_settle_timeout(Duration::from_secs(30))
        // Rows given back after a fault wait this long (not the production 30 s).
        .with_retry_grace(Duration::from_millis(100))
        .exit_when_idle(true)
}

/// A worker process: logs in with the seeded token and works until nothing is left.
fn worker_process() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let id = var(WORKER_ENV);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let location: StoreLocation = var("KSEF_STORE_KILL_STORE").parse().unwrap();
        let store = Store::open(&location).await.expect("the store opens");
        let client = client_for(&var("KSEF_STORE_KILL_URL"));
        let nip: ksef_model::values::Nip = var("KSEF_STORE_KILL_NIP").parse().unwrap();
        // A login meets injected faults too; the ceremony is retried as a whole.
        let mut attempts = 0;
        while let Err(error) = client
            .login_with_ksef_token(nip.clone(), var("KSEF_STORE_KILL_TOKEN"))
            .await
        {
            attempts += 1;
            assert!(attempts < 20, "{id}: no login in 20 attempts: {error}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ksef_store::run_worker(
            &store,
            &client,
            &options(&id),
            std::future::pending(),
            |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    });
}

async fn killed_worker_processes_lose_and_duplicate_nothing() {
    let invoices = env_count("KSEF_KILL_INVOICES", 240);
    let kills_wanted = env_count("KSEF_KILL_KILLS", 6);
    for db in databases("kill") {
        let started = Instant::now();
        let workers = if db.name == "postgres" { 4 } else { 1 };
        let sim = SimulatorBuilder::new()
            .fault_5xx(0.02)
            .fault_429(0.01)
            .fault_reset(0.02)
            .fault_truncate(0.02)
            .fault_seed(18)
            .start()
            .await
            .unwrap();
        let store = db.open().await;
        let mut ours = BTreeSet::new();
        let mut batch = Vec::new();
        for i in 0..invoices {
            let number = format!("KILL-{}-{i}", db.name);
            let bytes = fa3_invoice(sim.seeded_nip(), &number);
            ours.insert(ksef_client::OnlineSession::invoice_hash(&bytes));
            batch.push(NewInvoice::check(&number, bytes, InvoiceOptions::online()).unwrap());
        }
        store.enqueue_all(&batch).await.unwrap();
        drop(batch);
        let job = Job {
            base_url: sim.base_url().to_owned(),
            nip: sim.seeded_nip().to_owned(),
            token: sim.seeded_token().to_owned(),
            store: db.location.to_string(),
        };

        // The kill phase: every 200-1200 ms a random worker is killed and started again.
        let mut rng = SeededRng::new(18 + workers as u64);
        let mut children: Vec<Option<Child>> = (0..workers)
            .map(|w| Some(job.spawn(&format!("w{w}"))))
            .collect();
        let mut kills = 0;
        let mut restarts = 0;
        let phase_end = Instant::now() + Duration::from_secs(120);
        while kills < kills_wanted && Instant::now() < phase_end {
            tokio::time::sleep(Duration::from_millis(200 + rng.below(1000))).await;
            let victim = rng.below(workers as u64) as usize;
            let Some(child) = children[victim].as_mut() else {
                continue;
            };
            if child.try_wait().unwrap().is_some() {
                // It finished (nothing left for it): the kill phase is over for it.
                children[victim] = None;
                if children.iter().all(Option::is_none) {
                    break;
                }
                continue;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            children[victim] = Some(job.spawn(&format!("w{victim}")));
            restarts += 1;
        }

        // Then the workers run to the end, and again until every row is final (the leases of
        // killed workers expire after 2 s and are reconciled before anything is resent).
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            for (w, child) in children.iter_mut().enumerate() {
                if let Some(mut running) = child.take() {
                    let status = tokio::task::spawn_blocking(move || running.wait().unwrap())
                        .await
                        .unwrap();
                    assert!(status.success(), "{}: worker w{w}: {status}", db.name);
                }
            }
            let status = store.status().await.unwrap();
            if status.not_final() == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not final in time: {status:?}",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            children = (0..workers)
                .map(|w| Some(job.spawn(&format!("w{w}-final"))))
                .collect();
        }

        // Every row accepted with its KSeF number and a UPO naming it.
        let rows = store.rows().await.unwrap();
        assert_eq!(rows.len(), invoices, "{}", db.name);
        for row in &rows {
            assert_eq!(row.state, State::Accepted, "{}: {row:?}", db.name);
            let ksef_number = row.ksef_number.as_deref().expect("a KSeF number");
            let upo = String::from_utf8(row.upo.clone().expect("a UPO")).unwrap();
            assert!(upo.contains(ksef_number), "{}: {row:?}", db.name);
        }
        // KSeF holds each invoice exactly once, and nothing a killed worker had sent was sent
        // again (a resend would have met the duplicate check).
        let stats = sim.stats();
        let accepted = &stats.accepted_invoice_hashes;
        let unique: BTreeSet<&String> = accepted.iter().collect();
        assert_eq!(
            accepted.len(),
            unique.len(),
            "{}: an invoice was accepted twice",
            db.name
        );
        let held: BTreeSet<String> = unique.into_iter().cloned().collect();
        assert_eq!(held, ours, "{}: lost invoices", db.name);
        assert_eq!(
            stats.duplicates_refused, 0,
            "{}: invoices a killed worker had sent were sent again",
            db.name
        );
        assert!(kills >= 1, "{}: no worker was killed mid-run", db.name);
        println!(
            "kill test ({}): {invoices} invoices, {workers} worker(s), {kills} kills, {restarts} \
             restarts, {} requests, faults {:?}, {} accepted, 0 duplicates, 0 resent, 0 lost, \
             {:.1} s",
            db.name,
            stats.requests.values().sum::<u64>(),
            stats.faults,
            held.len(),
            started.elapsed().as_secs_f64()
        );
        sim.shutdown().await;
    }
}
