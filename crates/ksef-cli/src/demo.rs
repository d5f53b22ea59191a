//! `ksef demo`: the whole invoice lifecycle against an in-process simulator, step by step.
//!
//! The exit code is 0 only when every step checked out.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use futures_util::TryStreamExt as _;
use ksef_client::{
    BatchInvoice, BatchOptions, Client, DirectorySink, InvoiceOutcome, MemoryCheckpointStore,
    MetadataQuery, PollConfig, SyncOptions, form_code,
};
use ksef_model::types::{
    InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters, InvoiceQuerySubjectType,
};
use ksef_model::values::Nip;
use ksef_sim::Simulator;
use serde_json::{Value, json};

use crate::args::DemoArgs;
use crate::context::{Ctx, print_json};

/// Our own sample FA(3) invoice (valid against the Ministry's schema); the seller NIP, the
/// number and the dates are replaced at run time.
const SAMPLE_INVOICE: &str = include_str!("../../../fixtures/invoices/fa3-sample.xml");

/// Invoices the demo sends in one batch session.
const BATCH_SIZE: usize = 100;

/// The sample invoice for `nip`, numbered `number`, issued today.
pub(crate) fn sample_invoice(nip: &str, number: &str) -> Vec<u8> {
    let now = Utc::now();
    SAMPLE_INVOICE
        .replace(
            "2026-01-15T09:30:00Z",
            &now.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .replace("2026-01-15", &now.format("%Y-%m-%d").to_string())
        .replace("5265877635", nip)
        .replace("KSEF-RS-SAMPLE-0001", number)
        .into_bytes()
}

struct Step {
    name: &'static str,
    status: &'static str,
    duration: Option<Duration>,
    detail: String,
}

struct Narrator<'a> {
    ctx: &'a Ctx,
    steps: Vec<Step>,
}

impl Narrator<'_> {
    fn print(&self, line: &str) -> anyhow::Result<()> {
        if self.ctx.json() {
            self.ctx.note(line);
        } else if !self.ctx.global.quiet {
            outln!("{line}");
        }
        Ok(())
    }

    /// Runs one step, timing it and printing a check mark (or a cross) with its detail.
    async fn step<T>(
        &mut self,
        name: &'static str,
        work: impl Future<Output = anyhow::Result<(T, String)>>,
    ) -> anyhow::Result<T> {
        let start = Instant::now();
        let result = work.await;
        let elapsed = start.elapsed();
        match result {
            Ok((value, detail)) => {
                self.print(&format!(
                    "✓ {name:<26} {:>6} ms  {detail}",
                    elapsed.as_millis()
                ))?;
                self.steps.push(Step {
                    name,
                    status: "ok",
                    duration: Some(elapsed),
                    detail,
                });
                Ok(value)
            }
            Err(error) => {
                let detail = format!("{error:#}");
                self.print(&format!(
                    "✗ {name:<26} {:>6} ms  {detail}",
                    elapsed.as_millis()
                ))?;
                self.steps.push(Step {
                    name,
                    status: "failed",
                    duration: Some(elapsed),
                    detail,
                });
                Err(error)
            }
        }
    }
}

#[derive(Default)]
struct Facts {
    base_url: Option<String>,
    nip: Option<String>,
    session: Option<String>,
    invoice_reference: Option<String>,
    ksef_number: Option<String>,
    upo: Option<PathBuf>,
}

/// `ksef demo` always runs its own in-process simulator: `--env` and `--base-url` typed on its
/// command line would be ignored, so they are refused as a usage error (exit 2). The same
/// settings from `KSEF_ENV`/`KSEF_BASE_URL` are left alone (a shell set up for `ksef sim` may
/// run the demo too).
pub(crate) fn refuse_api_flags(matches: &clap::ArgMatches) {
    use clap::CommandFactory as _;
    use clap::parser::ValueSource;
    for (id, flag) in [("env", "--env"), ("base_url", "--base-url")] {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            crate::args::Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "`ksef demo` runs its own in-process simulator and talks to no other \
                         KSeF API, so {flag} cannot be used with it; to try an environment, \
                         log in there with `ksef auth login`"
                    ),
                )
                .exit();
        }
    }
}

/// Runs `ksef demo`.
pub(crate) async fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut narrator = Narrator {
        ctx,
        steps: Vec::new(),
    };
    let mut facts = Facts::default();
    let outcome = lifecycle(&mut narrator, &mut facts, args).await;
    let count = |status: &str| narrator.steps.iter().filter(|s| s.status == status).count();
    let (passed, failed) = (count("ok"), count("failed"));
    let ok = outcome.is_ok() && failed == 0;
    let verdict = if ok {
        format!("demo passed: all {passed} steps checked out")
    } else {
        format!("demo FAILED: {passed} steps passed, {failed} failed")
    };
    narrator.print(&verdict)?;
    if ctx.json() {
        let steps: Vec<Value> = narrator
            .steps
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "status": s.status,
                    "durationMs": s.duration.map(|d| d.as_millis() as u64),
                    "detail": s.detail,
                })
            })
            .collect();
        print_json(&json!({
            "ok": ok,
            "passed": passed,
            "failed": failed,
            "baseUrl": facts.base_url,
            "nip": facts.nip,
            "sessionReferenceNumber": facts.session,
            "invoiceReferenceNumber": facts.invoice_reference,
            "ksefNumber": facts.ksef_number,
            "upoPath": facts.upo,
            "steps": steps,
        }))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn lifecycle(n: &mut Narrator<'_>, facts: &mut Facts, args: DemoArgs) -> anyhow::Result<()> {
    let started_at = Utc::now() - ChronoDuration::minutes(5);
    let sim = n
        .step("start simulator", async {
            let sim = Simulator::builder()
                .processing_delays(Duration::from_millis(50))
                .start()
                .await
                .context("the simulator did not start")?;
            let detail = format!("{} (in-process)", sim.base_url());
            Ok((sim, detail))
        })
        .await?;
    facts.base_url = Some(sim.base_url().to_owned());
    facts.nip = Some(sim.seeded_nip().to_owned());
    let result = with_simulator(n, facts, &sim, args, started_at).await;
    sim.shutdown().await;
    result
}

async fn with_simulator(
    n: &mut Narrator<'_>,
    facts: &mut Facts,
    sim: &Simulator,
    args: DemoArgs,
    started_at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let client = Client::builder()
        .transport(|t| t.base_url(sim.base_url()))
        .poll(
            PollConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
                .with_timeout(Duration::from_secs(30)),
        )
        .build()?;
    let nip: Nip = sim.seeded_nip().parse()?;

    n.step("token login", async {
        let login = client
            .login_with_ksef_token(nip.clone(), sim.seeded_token())
            .await?;
        Ok(((), format!("NIP {nip}, {}", login.reference_number)))
    })
    .await?;

    let session = n
        .step("open online session", async {
            let session = client.open_online_session(form_code::fa3()).await?;
            let detail = session.reference_number().to_string();
            Ok((session, detail))
        })
        .await?;
    facts.session = Some(session.reference_number().to_string());

    let number = format!("KSEF-RS-DEMO-{}", Utc::now().format("%Y%m%d-%H%M%S%3f"));
    let invoice = sample_invoice(nip.as_str(), &number);
    let sent = n
        .step("send FA(3) invoice", async {
            let sent = session.send(&invoice).await?;
            let detail = format!("{number} → {}", sent.reference_number);
            Ok((sent, detail))
        })
        .await?;
    facts.invoice_reference = Some(sent.reference_number.to_string());

    n.step("close session", async {
        session.close().await?;
        Ok(((), "UPO generation started".to_owned()))
    })
    .await?;

    let ksef_number = n
        .step("wait until processed", async {
            let status = session.wait_until_processed().await?;
            let (outcome, _) = session.wait_for_invoice(&sent.reference_number).await?;
            let InvoiceOutcome::Accepted { ksef_number } = outcome else {
                bail!("the invoice was not accepted: {outcome:?}");
            };
            let detail = format!(
                "session {} {}, KSeF number {ksef_number}",
                status.status.code, status.status.description
            );
            Ok((ksef_number, detail))
        })
        .await?;
    facts.ksef_number = Some(ksef_number.to_string());

    let upo_path = n
        .step("save UPO", async {
            let upo = session.invoice_upo(&sent.reference_number).await?;
            let dir = match &args.out {
                Some(dir) => dir.clone(),
                None => std::env::temp_dir().join(format!(
                    "ksef-demo-{}-{}",
                    std::process::id(),
                    Utc::now().timestamp_millis()
                )),
            };
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(format!("UPO-{ksef_number}.xml"));
            crate::files::write_document(&path, &upo)?;
            if !String::from_utf8_lossy(&upo).contains(ksef_number.as_str()) {
                bail!("the UPO does not mention {ksef_number}");
            }
            let detail = format!("{} ({} bytes)", path.display(), upo.len());
            Ok((path, detail))
        })
        .await?;
    facts.upo = Some(upo_path);

    n.step("query metadata", async {
        let filters = InvoiceQueryFilters::new(
            InvoiceQuerySubjectType::Subject1,
            InvoiceQueryDateRange::new(
                InvoiceQueryDateType::PermanentStorage,
                started_at.fixed_offset(),
            ),
        );
        let found: Vec<_> = client
            .invoice_metadata(MetadataQuery::new(filters))
            .try_collect()
            .await?;
        let Some(record) = found.iter().find(|m| m.ksef_number == ksef_number) else {
            bail!(
                "{ksef_number} is not among the {} invoices found",
                found.len()
            );
        };
        let detail = format!(
            "found {} ({}, gross {:.2} {})",
            record.ksef_number, record.invoice_number, record.gross_amount, record.currency
        );
        Ok(((), detail))
    })
    .await?;

    n.step("download and compare", async {
        let downloaded = client.download_invoice(&ksef_number).await?;
        if downloaded != invoice {
            bail!(
                "the downloaded invoice differs from the one sent ({} vs {} bytes)",
                downloaded.len(),
                invoice.len()
            );
        }
        Ok(((), format!("{} bytes, identical", downloaded.len())))
    })
    .await?;

    n.step("batch send 100 invoices", async {
        let stamp = Utc::now().format("%Y%m%d-%H%M%S%3f");
        let invoices: Vec<BatchInvoice> = (1..=BATCH_SIZE)
            .map(|i| {
                let number = format!("KSEF-RS-DEMO-BATCH-{stamp}-{i:03}");
                BatchInvoice::from_bytes(
                    format!("{number}.xml"),
                    sample_invoice(nip.as_str(), &number),
                )
            })
            .collect();
        let outcome = client
            .send_batch(form_code::fa3(), invoices, BatchOptions::default())
            .await?;
        let accepted = outcome
            .invoices
            .iter()
            .filter(|i| matches!(i.outcome, InvoiceOutcome::Accepted { .. }))
            .count();
        if accepted != BATCH_SIZE {
            bail!(
                "{accepted} of {BATCH_SIZE} invoices accepted in batch session {}",
                outcome.reference_number
            );
        }
        let detail = format!(
            "{} in {} part(s): {accepted}/{BATCH_SIZE} accepted, each mapped back to its file",
            outcome.reference_number,
            outcome.package.parts.len()
        );
        Ok(((), detail))
    })
    .await?;

    n.step("incremental sync", async {
        let dir = match &args.out {
            Some(dir) => dir.join("sync"),
            None => std::env::temp_dir().join(format!(
                "ksef-demo-sync-{}-{}",
                std::process::id(),
                Utc::now().timestamp_millis()
            )),
        };
        let sink = DirectorySink::new(&dir)?;
        let checkpoints = MemoryCheckpointStore::new();
        let options = SyncOptions::new(nip.as_str(), started_at.fixed_offset())
            .with_subject_types([InvoiceQuerySubjectType::Subject1]);
        let expected = BATCH_SIZE as u64 + 1;
        let mut stored = 0;
        let mut windows = 0;
        // KSeF's high-water mark passes an invoice only once its storage is final: poll briefly.
        for _ in 0..50 {
            let report = client.sync_invoices(&options, &checkpoints, &sink).await?;
            stored += report.stored();
            windows += report.subjects.iter().map(|s| s.windows).sum::<u32>();
            if stored >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if stored != expected {
            bail!("sync stored {stored} invoices, expected {expected}");
        }
        let synced = std::fs::read(dir.join(format!("{ksef_number}.xml")))
            .with_context(|| format!("the synced copy of {ksef_number}"))?;
        if synced != invoice {
            bail!("the synced copy of {ksef_number} differs from the invoice sent");
        }
        let again = client.sync_invoices(&options, &checkpoints, &sink).await?;
        if again.stored() != 0 {
            bail!("a second sync stored {} invoices again", again.stored());
        }
        let detail = format!(
            "{stored} invoices into {} by export packages ({windows} window(s)); a second run stored none",
            dir.display()
        );
        Ok(((), detail))
    })
    .await?;

    n.step("logout", async {
        client.logout().await?;
        Ok(((), "authentication session revoked".to_owned()))
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sample_invoice;

    #[test]
    fn sample_invoice_gets_the_nip_number_and_today() {
        let xml = String::from_utf8(sample_invoice("7010002137", "NR-1")).unwrap();
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert!(xml.contains("<NIP>7010002137</NIP>"));
        assert!(xml.contains("<P_2>NR-1</P_2>"));
        assert!(xml.contains(&format!("<P_1>{today}</P_1>")));
        assert!(!xml.contains("5265877635"));
        // The buyer stays as it was.
        assert!(xml.contains("<NIP>7740001454</NIP>"));
    }
}
