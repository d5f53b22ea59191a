//! `ksef-soak` (`cargo run -p ksef-soak -- [OPTIONS]`, see SOAK.md): drives the client against an in-process simulator that injects faults, and
//! checks that nothing is lost or duplicated, then that the client's own pacing draws no 429.
//!
//! Phases:
//! 0. ceremonies inside the faults: `--ceremonies` logins, each followed by an online session
//!    opened, sent one invoice and closed (then one more login for the phases below);
//! 1. online sends through one session, four in flight, with 5xx, 429, resets, truncated bodies
//!    and latency injected;
//! 2. batch sends of up to 500 invoices (parts of 64 KiB, so part uploads are faulted too); the
//!    first `--kills` batches are interrupted at a random point (the task is aborted, as a killed
//!    process would stop) and sent again as a restarted process would;
//! 3. an incremental sync into a temporary directory, interrupted `--kills` times at random
//!    points and resumed from its checkpoint file, then compared with what the simulator accepted;
//! 4. with faults off, the simulator's rate limiting on (`--rate-limit-scale`) and the client's
//!    rate limiter on at the same scale: online sends as fast as the client allows, measured
//!    against the limit of `sessions.online.send_invoice`; the simulator must send no 429.
//!
//! Options: `[--online N] [--batch N] [--fault-rate F] [--kills N] [--rate-limit-scale F]
//! [--rate-sends N] [--seed N] [--ceremonies N]`. The invoices are made from the Ministry's FA(3) template in
//! `$KSEF_SPEC_DIR/invoice-templates/` (by default the repository's `fixtures/ksef-spec/`).
//!
//! Exits non-zero on a duplicate, a loss, or a 429 drawn by the client's own pacing.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use futures_util::StreamExt as _;
use futures_util::stream;
use ksef_client::{
    BatchInvoice, BatchOptions, Client, DirectorySink, FileCheckpointStore, InvoiceOutcome,
    PollConfig, RateLimitConfig, RetryConfig, SyncOptions, form_code,
};
use ksef_model::types::InvoiceQuerySubjectType;
use ksef_model::values::Nip;
use ksef_sim::{SeededRng, Simulator};

/// The operation whose limit the rate phase measures.
const RATE_OPERATION: &str = "sessions.online.send_invoice";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Options::parse(&args).and_then(|opts| run(&opts)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Options of `ksef-soak`.
#[derive(Debug, Clone)]
struct Options {
    online: usize,
    batch: usize,
    fault_rate: f64,
    kills: usize,
    rate_limit_scale: f64,
    rate_sends: usize,
    seed: u64,
    ceremonies: usize,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut opts = Options {
            online: 200,
            batch: 1000,
            fault_rate: 0.03,
            kills: 3,
            rate_limit_scale: 10.0,
            rate_sends: 0,
            seed: u64::try_from(Utc::now().timestamp_millis()).unwrap_or(1),
            ceremonies: 10,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .with_context(|| format!("{flag} needs a value"))
                    .cloned()
            };
            match flag.as_str() {
                "--online" => opts.online = value()?.parse().context("--online")?,
                "--batch" => opts.batch = value()?.parse().context("--batch")?,
                "--fault-rate" => opts.fault_rate = value()?.parse().context("--fault-rate")?,
                "--kills" => opts.kills = value()?.parse().context("--kills")?,
                "--rate-limit-scale" => {
                    opts.rate_limit_scale = value()?.parse().context("--rate-limit-scale")?;
                }
                "--rate-sends" => opts.rate_sends = value()?.parse().context("--rate-sends")?,
                "--seed" => opts.seed = value()?.parse().context("--seed")?,
                "--ceremonies" => opts.ceremonies = value()?.parse().context("--ceremonies")?,
                other => bail!(
                    "unknown option `{other}`; usage: ksef-soak [--online N] [--batch N] \
                     [--fault-rate F] [--kills N] [--rate-limit-scale F] [--rate-sends N] \
                     [--seed N] [--ceremonies N]"
                ),
            }
        }
        if !(0.0..0.5).contains(&opts.fault_rate) {
            bail!("--fault-rate must be in [0, 0.5)");
        }
        if !(opts.rate_limit_scale.is_finite() && opts.rate_limit_scale > 0.0) {
            bail!("--rate-limit-scale must be positive");
        }
        if opts.rate_sends == 0 {
            // By default three minutes' worth of the scaled per-minute limit is too long for CI:
            // send as many as the per-minute window allows, which exercises the second and the
            // minute windows in a few seconds.
            let limit = send_limit();
            opts.rate_sends = scaled(
                limit.per_minute.unwrap_or(limit.per_second),
                opts.rate_limit_scale,
            );
        }
        Ok(opts)
    }
}

/// A duration in `[lo, hi)` milliseconds, drawn from `rng` (reproducible interruption points).
fn millis(rng: &mut SeededRng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(lo + rng.below(hi.saturating_sub(lo)))
}

fn send_limit() -> ksef_model::RateLimit {
    ksef_model::operations::ALL
        .iter()
        .find(|op| op.id == RATE_OPERATION)
        .map(|op| op.rate_limit)
        .expect("the send operation is in the spec")
}

/// A limit scaled as the simulator scales it (rounded up, at least 1).
fn scaled(n: u32, scale: f64) -> usize {
    let value = (f64::from(n) * scale).ceil();
    if value < 1.0 { 1 } else { value as usize }
}

/// The Ministry's fixtures: `KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
fn spec_dir() -> PathBuf {
    std::env::var_os("KSEF_SPEC_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec"),
        PathBuf::from,
    )
}

fn template() -> Result<String> {
    let path = spec_dir().join("invoice-templates/invoice-template-fa-3.xml");
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the FA(3) invoice template {} (the Ministry's fixtures; set KSEF_SPEC_DIR)",
            path.display()
        )
    })
}

fn invoice(template: &str, nip: &str, number: &str) -> Vec<u8> {
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    template
        .replace("#nip#", nip)
        .replace("#invoice_number#", number)
        .replace("<P_1>2025-09-01</P_1>", &format!("<P_1>{today}</P_1>"))
        .into_bytes()
}

fn hash(bytes: &[u8]) -> String {
    ksef_crypto::file_metadata(bytes).sha256_base64().to_owned()
}

fn fast_client(base_url: &str, rate_limit: Option<f64>) -> Result<Client> {
    let retry = RetryConfig::default()
        .with_max_attempts(10)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(100))
        .with_budget(100_000, 1.0);
    let builder = Client::builder()
        .transport(|t| {
            let t = t.base_url(base_url).retry(retry);
            match rate_limit {
                Some(scale) => t.rate_limit(RateLimitConfig::default().with_scale(scale)),
                None => t.without_rate_limit(),
            }
        })
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(200))
                .with_timeout(Duration::from_secs(300)),
        )
        .reconcile(
            PollConfig::reconcile_default()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(200))
                .with_timeout(Duration::from_secs(10)),
        )
        .max_sends_in_flight(4);
    Ok(builder.build()?)
}

/// Results of the run, printed as a table.
#[derive(Default)]
struct Report {
    logins: usize,
    sessions_cycled: usize,
    online_sent: usize,
    batch_sent: usize,
    batch_sessions: usize,
    online_resent: usize,
    batch_interrupted: usize,
    batch_resent: usize,
    batch_already_in: usize,
    sync_interrupted: usize,
    sync_failed: usize,
    faults: BTreeMap<&'static str, u64>,
    accepted: usize,
    duplicates: usize,
    lost_on_send: usize,
    on_disk: usize,
    lost_on_sync: usize,
    duplicates_on_disk: usize,
    fault_phase: Duration,
    rate_sends: usize,
    rate_elapsed: Duration,
    rate_allowed: usize,
    rate_limit_text: String,
    rate_429_real: u64,
    rate_429_all: u64,
}

fn run(opts: &Options) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(soak(opts))?;
    print_report(opts, &report);
    let failed = report.duplicates > 0
        || report.lost_on_send > 0
        || report.lost_on_sync > 0
        || report.duplicates_on_disk > 0
        || report.rate_429_real > 0;
    Ok(if failed {
        eprintln!("soak: FAILED (a duplicate, a loss or a self-drawn 429)");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn soak(opts: &Options) -> Result<Report> {
    let template = template()?;
    let mut rng = SeededRng::new(opts.seed);
    let mut report = Report::default();
    let mut ceremony_failed: Vec<Vec<u8>> = Vec::new();
    let rate = opts.fault_rate;
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(10))
        .fault_5xx(rate)
        .fault_429(rate)
        .fault_reset(rate)
        .fault_truncate(rate)
        .fault_latency(Duration::from_millis(1))
        .fault_seed(opts.seed)
        .start()
        .await
        .context("starting the simulator")?;
    let client = fast_client(sim.base_url(), None)?;
    let nip: Nip = sim.seeded_nip().parse()?;
    let started = Instant::now();
    let run = Utc::now().timestamp_millis();
    let mut expected = BTreeSet::new();

    // 0. Ceremonies inside the faults: logins, and online sessions opened, used and closed.
    for i in 0..=opts.ceremonies {
        client
            .login_with_ksef_token(nip.clone(), sim.seeded_token())
            .await
            .with_context(|| format!("login {i}"))?;
        report.logins += 1;
        if i == opts.ceremonies {
            break;
        }
        let session = client
            .open_online_session(form_code::fa3())
            .await
            .with_context(|| format!("opening online session {i}"))?;
        let bytes = invoice(&template, nip.as_str(), &format!("SOAK-CER-{run}-{i}"));
        expected.insert(hash(&bytes));
        let sent = session.send(&bytes).await;
        session
            .close()
            .await
            .with_context(|| format!("closing online session {i}"))?;
        report.sessions_cycled += 1;
        if sent.is_err() {
            // Its outcome is unknown: sent again below with the online phase's failures.
            ceremony_failed.push(bytes);
        }
    }

    // 1. Online.
    let session = client.open_online_session(form_code::fa3()).await?;
    let invoices: Vec<Vec<u8>> = (0..opts.online)
        .map(|i| invoice(&template, nip.as_str(), &format!("SOAK-ON-{run}-{i}")))
        .collect();
    expected.extend(invoices.iter().map(|b| hash(b)));
    let results: Vec<_> = stream::iter(invoices.iter())
        .map(|bytes| session.send(bytes))
        .buffer_unordered(4)
        .collect()
        .await;
    session.close().await?;
    session.wait_until_processed().await?;
    // A send the client gives up on (its outcome unknown and not reconciled) is sent again in a
    // new session, as a restarted job would; KSeF refuses it as a duplicate if it got through.
    let mut failed: Vec<&Vec<u8>> = invoices
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_err())
        .map(|(b, _)| b)
        .chain(&ceremony_failed)
        .collect();
    for round in 0..3 {
        if failed.is_empty() {
            break;
        }
        eprintln!(
            "soak: {} online sends failed; sending them again",
            failed.len()
        );
        report.online_resent += failed.len();
        let session = client.open_online_session(form_code::fa3()).await?;
        let mut again = Vec::new();
        for bytes in failed {
            if session.send(bytes).await.is_err() {
                again.push(bytes);
            }
        }
        session.close().await?;
        session.wait_until_processed().await?;
        if round == 2 && !again.is_empty() {
            bail!("{} online sends failed three times", again.len());
        }
        failed = again;
    }
    report.online_sent = opts.online;
    eprintln!(
        "soak: online phase done at {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 2. Batches; the first `kills` are interrupted once and sent again.
    let numbers: Vec<usize> = (0..opts.batch).collect();
    for (b, chunk) in numbers.chunks(500).enumerate() {
        let files: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .map(|i| {
                let bytes = invoice(&template, nip.as_str(), &format!("SOAK-B-{run}-{i}"));
                (format!("{b}-{i}.xml"), bytes)
            })
            .collect();
        expected.extend(files.iter().map(|(_, bytes)| hash(bytes)));
        let batch = |files: &[(String, Vec<u8>)]| {
            let client = client.clone();
            let files: Vec<BatchInvoice> = files
                .iter()
                .map(|(name, bytes)| BatchInvoice::from_bytes(name.clone(), bytes.clone()))
                .collect();
            async move {
                client
                    .send_batch(
                        form_code::fa3(),
                        files,
                        BatchOptions::new()
                            .max_part_size(64 * 1024)
                            .upload_attempts(10),
                    )
                    .await
            }
        };
        if b < opts.kills {
            let task = tokio::spawn(batch(&files));
            tokio::time::sleep(millis(&mut rng, 20, 400)).await;
            if !task.is_finished() {
                report.batch_interrupted += 1;
            }
            task.abort();
            let _ = task.await;
            // A restarted process comes back a moment later.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A batch the client gives up on is sent again, as an operator or a restarted job
        // would; invoices already accepted come back as duplicates, never accepted twice.
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match batch(&files).await {
                Ok(outcome) => break Some(outcome),
                // The interrupted attempt got through: KSeF refuses the whole batch as
                // duplicates (445). Checked against what the simulator accepted.
                Err(_)
                    if {
                        let done: BTreeSet<String> =
                            sim.stats().accepted_invoice_hashes.into_iter().collect();
                        files.iter().all(|(_, bytes)| done.contains(&hash(bytes)))
                    } =>
                {
                    report.batch_already_in += 1;
                    break None;
                }
                Err(err) if attempt < 5 => {
                    eprintln!("soak: batch {b} failed ({err}); sending it again");
                    report.batch_resent += 1;
                }
                Err(err) => return Err(err).context("a batch failed five times"),
            }
        };
        for i in outcome.iter().flat_map(|o| &o.invoices) {
            match &i.outcome {
                InvoiceOutcome::Accepted { .. } | InvoiceOutcome::Duplicate { .. } => {}
                other => bail!("batch {b}: an invoice was not accepted: {other:?}"),
            }
        }
        report.batch_sessions += 1;
    }
    report.batch_sent = opts.batch;
    eprintln!(
        "soak: batch phase done at {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 3. Sync, interrupted and resumed.
    let dir = std::env::temp_dir().join(format!("ksef-soak-{}-{run}", std::process::id()));
    let sink = Arc::new(DirectorySink::new(&dir)?);
    let start = (Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let options = SyncOptions::new(nip.as_str(), start)
        .with_subject_types([InvoiceQuerySubjectType::Subject1])
        .with_concurrency(4);
    for _ in 0..opts.kills {
        let client = client.clone();
        let options = options.clone();
        let sink = Arc::clone(&sink);
        let task = tokio::spawn(async move {
            let checkpoints = FileCheckpointStore::open(sink.checkpoint_path())?;
            client
                .sync_invoices(&options, &checkpoints, sink.as_ref())
                .await
        });
        tokio::time::sleep(millis(&mut rng, 20, 600)).await;
        if !task.is_finished() {
            report.sync_interrupted += 1;
        }
        task.abort();
        let _ = task.await;
    }
    let stats = sim.stats();
    let accepted = stats.accepted_invoice_hashes.clone();
    let unique: BTreeSet<String> = accepted.iter().cloned().collect();
    // Resume until KSeF's high-water mark has passed every invoice (or give up after a while).
    let deadline = Instant::now() + Duration::from_secs(120);
    let disk = loop {
        let checkpoints = FileCheckpointStore::open(sink.checkpoint_path())?;
        // A run the client gives up on (a fault it does not retry) is resumed from its
        // checkpoint, as a restarted job would.
        if let Err(err) = client
            .sync_invoices(&options, &checkpoints, sink.as_ref())
            .await
        {
            eprintln!(
                "soak: a sync run failed at {:.1} s ({err}); resuming",
                started.elapsed().as_secs_f64()
            );
            report.sync_failed += 1;
        }
        let disk = stored_hashes(&dir)?;
        let set: BTreeSet<&String> = disk.iter().collect();
        if unique.iter().all(|h| set.contains(h)) || Instant::now() > deadline {
            break disk;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    report.fault_phase = started.elapsed();
    eprintln!(
        "soak: sync phase done at {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let disk_set: BTreeSet<String> = disk.iter().cloned().collect();
    report.on_disk = disk.len();
    report.duplicates_on_disk = disk.len() - disk_set.len();
    report.lost_on_sync = unique.difference(&disk_set).count();
    report.accepted = accepted.len();
    report.duplicates = accepted.len() - unique.len();
    report.lost_on_send = expected.difference(&unique).count();
    let f = &stats.faults;
    report.faults = BTreeMap::from([
        ("5xx", f.server_errors),
        ("429 (injected)", f.too_many_requests),
        ("connection resets", f.resets),
        ("truncated bodies", f.truncations),
        ("delayed requests", f.delayed),
    ]);
    if stats.internal_errors > 0 {
        bail!(
            "the simulator had {} internal errors",
            stats.internal_errors
        );
    }
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    // 4. Pacing under the simulator's real limits, faults off.
    let sim = Simulator::builder()
        .processing_delays(Duration::from_millis(10))
        .rate_limit_scale(opts.rate_limit_scale)
        .start()
        .await
        .context("starting the rate-limited simulator")?;
    let client = fast_client(sim.base_url(), Some(opts.rate_limit_scale))?;
    client
        .login_with_ksef_token(nip.clone(), sim.seeded_token())
        .await?;
    let session = client.open_online_session(form_code::fa3()).await?;
    let invoices: Vec<Vec<u8>> = (0..opts.rate_sends)
        .map(|i| invoice(&template, nip.as_str(), &format!("SOAK-RATE-{run}-{i}")))
        .collect();
    let before = sim
        .stats()
        .requests
        .get(RATE_OPERATION)
        .copied()
        .unwrap_or(0);
    let t0 = Instant::now();
    let results: Vec<_> = stream::iter(invoices.iter())
        .map(|bytes| session.send(bytes))
        .buffer_unordered(8)
        .collect()
        .await;
    report.rate_elapsed = t0.elapsed();
    for result in results {
        result.context("a paced send failed")?;
    }
    let stats = sim.stats();
    report.rate_sends =
        usize::try_from(stats.requests.get(RATE_OPERATION).copied().unwrap_or(0) - before)?;
    report.rate_429_real = stats.rate_limited;
    report.rate_429_all = stats.too_many_requests_sent;
    let limit = send_limit();
    let secs = report.rate_elapsed.as_secs_f64();
    // What the sliding windows allow in a run of this length.
    let windows = |n: u32, window: f64| {
        scaled(n, opts.rate_limit_scale) * (secs / window).ceil().max(1.0) as usize
    };
    let mut allowed = windows(limit.per_second, 1.0);
    if let Some(m) = limit.per_minute {
        allowed = allowed.min(windows(m, 60.0));
    }
    if let Some(h) = limit.per_hour {
        allowed = allowed.min(windows(h, 3600.0));
    }
    report.rate_allowed = allowed;
    report.rate_limit_text = format!(
        "{}/s, {}/min, {}/h (spec × {})",
        scaled(limit.per_second, opts.rate_limit_scale),
        limit
            .per_minute
            .map_or("-".into(), |m| scaled(m, opts.rate_limit_scale).to_string()),
        limit
            .per_hour
            .map_or("-".into(), |h| scaled(h, opts.rate_limit_scale).to_string()),
        opts.rate_limit_scale
    );
    session.close().await?;
    sim.shutdown().await;
    Ok(report)
}

/// Hashes of the complete invoices in a sync directory (XML with its metadata file).
fn stored_hashes(dir: &Path) -> Result<Vec<String>> {
    let mut hashes = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "xml") && path.with_extension("json").exists() {
            hashes.push(hash(&std::fs::read(&path)?));
        }
    }
    Ok(hashes)
}

fn print_report(opts: &Options, r: &Report) {
    let row = |k: &str, v: String| println!("| {k:<50} | {v:>36} |");
    println!(
        "soak: --online {} --batch {} --fault-rate {} --kills {} --rate-limit-scale {} \
         --rate-sends {} --seed {} --ceremonies {}",
        opts.online,
        opts.batch,
        opts.fault_rate,
        opts.kills,
        opts.rate_limit_scale,
        opts.rate_sends,
        opts.seed,
        opts.ceremonies
    );
    println!("| {:<50} | {:>36} |", "measure", "value");
    println!("|{:-<52}|{:->38}|", "", "");
    row("logins (faulted)", r.logins.to_string());
    row(
        "online sessions opened, used, closed (faulted)",
        r.sessions_cycled.to_string(),
    );
    row("invoices sent online", r.online_sent.to_string());
    row(
        "online sends failed and sent again",
        r.online_resent.to_string(),
    );
    row(
        "invoices sent in batches (sessions)",
        format!("{} ({})", r.batch_sent, r.batch_sessions),
    );
    row("batch uploads interrupted", r.batch_interrupted.to_string());
    row("batches failed and sent again", r.batch_resent.to_string());
    row(
        "batches already accepted when resent",
        r.batch_already_in.to_string(),
    );
    row("syncs interrupted", r.sync_interrupted.to_string());
    row("sync runs failed and resumed", r.sync_failed.to_string());
    for (kind, n) in &r.faults {
        row(&format!("faults injected: {kind}"), n.to_string());
    }
    row("invoices accepted by the simulator", r.accepted.to_string());
    row("duplicates (accepted twice)", r.duplicates.to_string());
    row("losses (sent, not accepted)", r.lost_on_send.to_string());
    row("invoices on disk after sync", r.on_disk.to_string());
    row("losses (accepted, not on disk)", r.lost_on_sync.to_string());
    row("duplicates on disk", r.duplicates_on_disk.to_string());
    row(
        "fault phases, wall time",
        format!("{:.1} s", r.fault_phase.as_secs_f64()),
    );
    row(
        &format!("rate phase: {RATE_OPERATION} limit"),
        r.rate_limit_text.clone(),
    );
    let secs = r.rate_elapsed.as_secs_f64();
    row(
        "rate phase: requests, time",
        format!(
            "{} in {:.2} s ({:.1}/s)",
            r.rate_sends,
            secs,
            r.rate_sends as f64 / secs
        ),
    );
    row(
        "rate phase: share of what the limits allow",
        format!(
            "{}/{} = {:.0}%",
            r.rate_sends,
            r.rate_allowed,
            100.0 * r.rate_sends as f64 / r.rate_allowed.max(1) as f64
        ),
    );
    row(
        "rate phase: 429s from the real limiter",
        r.rate_429_real.to_string(),
    );
    row("rate phase: 429s sent in all", r.rate_429_all.to_string());
}
