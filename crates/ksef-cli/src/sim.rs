//! `ksef sim`: a local simulator for scripts and manual testing.
//!
//! The simulator listens on `--listen ADDR` itself, so the base URL and the download links it hands
//! out carry that address.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use ksef_sim::Simulator;

use crate::args::SimArgs;
use crate::context::Ctx;

/// Runs `ksef sim`.
pub(crate) async fn run(ctx: &Ctx, args: SimArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.data {
        bail!(
            "--data {}: persistence is not supported by this simulator build (its state lives in \
             memory and is gone when it stops); run `ksef sim` without --data",
            dir.display()
        );
    }
    let sim = Simulator::builder()
        .listen(args.listen)
        .start()
        .await
        .with_context(|| {
            format!(
                "the simulator did not start on {}; pick another address",
                args.listen
            )
        })?;
    let addr = sim.local_addr();
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
    shutdown_signal().await?;
    ctx.note("ksef sim: stopping");
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// `value` as a POSIX shell word: as it is when that is safe, else in single quotes (the
/// simulator's tokens contain `|`), so `eval "$(ksef sim | head -3)"` works.
fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Resolves on SIGINT or (on Unix) SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for SIGINT")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
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
