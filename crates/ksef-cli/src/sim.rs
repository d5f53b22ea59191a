//! `ksef sim`: a local simulator for scripts and manual testing.
//!
//! The simulator listens on `--listen ADDR` itself, so the base URL and the download links it hands
//! out carry that address.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ksef_sim::Simulator;

use crate::args::{SimArgs, SimModeArg};
use crate::context::Ctx;

/// Runs `ksef sim`.
pub(crate) async fn run(ctx: &Ctx, args: SimArgs) -> anyhow::Result<ExitCode> {
    let mut builder = Simulator::builder()
        .listen(args.listen)
        .mode(match args.mode {
            SimModeArg::Test => ksef_sim::SimMode::Test,
            SimModeArg::ProdLike => ksef_sim::SimMode::ProductionLike,
        });
    for grant in &args.trust_fingerprint {
        let Some((nip, fingerprint)) = grant.split_once('=') else {
            bail!("--trust-fingerprint {grant:?}: use NIP=SHA256HEX");
        };
        let nip: ksef_model::values::Nip = nip.parse().with_context(|| {
            format!("--trust-fingerprint {grant:?}: {nip:?} is not a valid NIP")
        })?;
        if fingerprint.len() != 64 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--trust-fingerprint {grant:?}: the fingerprint must be 64 hex digits (SHA-256)");
        }
        builder = builder.trusted_fingerprint(nip.to_string(), fingerprint);
    }
    if let Some(dir) = &args.data {
        create_private_dir(dir)?;
        builder = builder.data_dir(dir);
    }
    if let Some(rate) = args.fault_5xx {
        builder = builder.fault_5xx(rate);
    }
    if let Some(rate) = args.fault_429 {
        builder = builder.fault_429(rate);
    }
    if let Some(rate) = args.fault_reset {
        builder = builder.fault_reset(rate);
    }
    if let Some(rate) = args.fault_truncate {
        builder = builder.fault_truncate(rate);
    }
    if let Some(ms) = args.fault_latency_ms {
        builder = builder.fault_latency(std::time::Duration::from_millis(ms));
    }
    if let Some(seed) = args.fault_seed {
        builder = builder.fault_seed(seed);
    }
    if !args.fault_operations.is_empty() {
        for id in &args.fault_operations {
            if !ksef_model::operations::ALL
                .iter()
                .any(|op| op.id == id.as_str())
            {
                bail!(
                    "--fault-operation {id:?} is not an operation id \
                     (e.g. sessions.online.send_invoice)"
                );
            }
        }
        builder = builder.fault_operations(args.fault_operations.clone());
    }
    let sim = builder.start().await.with_context(|| {
        format!(
            "the simulator did not start on {}; pick another address",
            args.listen
        )
    })?;
    let addr = sim.local_addr();
    // Listen for the signals before announcing the address: a script may send SIGTERM as soon
    // as it has read the three lines.
    let stop = shutdown_signal()?;
    {
        // The first three lines are for `eval`/env files: keep them first and flushed.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "KSEF_BASE_URL={}",
            shell_quote(&format!("http://{addr}/v2"))
        )?;
        writeln!(out, "KSEF_NIP={}", shell_quote(sim.seeded_nip()))?;
        writeln!(out, "KSEF_TOKEN={}", shell_quote(sim.seeded_token()))?;
        out.flush()?;
    }
    ctx.note(format!("ksef sim: serving on {addr}; Ctrl-C to stop"));
    stop.await;
    ctx.note("ksef sim: stopping");
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Creates the state directory owner-only (0700 on Unix) if it does not exist yet.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))
}

/// `value` as a POSIX shell word: as it is when that is safe, else in single quotes (the
/// simulator's tokens contain `|`), so the three lines can be sourced as an env file
/// (`set -a; . ./sim.env; set +a`).
fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// A future that resolves on SIGINT or (on Unix) SIGTERM; the handlers are registered when this
/// returns, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(
            shell_quote("http://127.0.0.1:80/v2"),
            "http://127.0.0.1:80/v2"
        );
        assert_eq!(shell_quote("a|b"), "'a|b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
