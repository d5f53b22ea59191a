//! `ksef sim`: a local simulator for scripts and manual testing.
//!
//! The simulator listens on `--listen ADDR` itself, so the base URL and the download links it hands
//! out carry that address. `--detach` starts the same command again in the background (with the
//! hidden `--detached-child`), relays its three lines as `export` lines once it serves, and
//! returns; the background process keeps its pid in `sim.pid` in the state directory (0600),
//! which `ksef sim stop` reads to send it SIGTERM.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ksef_sim::Simulator;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::args::{RateLimitsArg, SimAction, SimArgs, SimModeArg};
use crate::context::{Ctx, print_json};
use crate::files::write_private;

/// What `sim.pid` holds: the background simulator's process and address.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PidFile {
    pid: u32,
    base_url: String,
}

fn pid_path(ctx: &Ctx) -> PathBuf {
    ctx.home.join("sim.pid")
}

fn log_path(ctx: &Ctx) -> PathBuf {
    ctx.home.join("sim.log")
}

/// Runs `ksef sim`.
pub(crate) async fn run(ctx: &Ctx, args: SimArgs) -> anyhow::Result<ExitCode> {
    if let Some(SimAction::Stop) = args.action {
        return stop(ctx).await;
    }
    if args.detach {
        return detach(ctx);
    }
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
    if let Some(scale) = rate_limit_scale(args.rate_limits, args.rate_limit_scale)? {
        builder = builder.rate_limit_scale(scale);
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
    // In the background: outlive the terminal (SIGHUP is received and ignored) and leave the
    // pid file for `ksef sim stop`.
    let _hangup = if args.detached_child {
        write_private(
            &pid_path(ctx),
            &serde_json::to_vec_pretty(&PidFile {
                pid: std::process::id(),
                base_url: format!("http://{addr}/v2"),
            })?,
        )?;
        Some(ignore_hangup()?)
    } else {
        None
    };
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
    if args.detached_child {
        // Only our own pid file: a newer simulator may have replaced it.
        if read_pid_file(&pid_path(ctx))?.is_some_and(|p| p.pid == std::process::id()) {
            crate::context::remove_file(&pid_path(ctx))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ksef sim --detach`: starts `ksef sim --detached-child` with the same arguments in a process
/// group of its own, waits for its three lines (printed once it serves) and prints them as
/// `export` lines.
fn detach(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let pid_file = pid_path(ctx);
    if let Some(running) = read_pid_file(&pid_file)? {
        if is_simulator(running.pid) {
            bail!(
                "a detached simulator is already running at {} (pid {}); stop it with \
                 `ksef sim stop` first",
                running.base_url,
                running.pid
            );
        }
        crate::context::remove_file(&pid_file)?;
    }
    create_private_dir(&ctx.home)?;
    let log = log_path(ctx);
    let log_file = open_log(&log)?;
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .skip(1)
        .map(|arg| {
            if arg == "--detach" {
                "--detached-child".into()
            } else {
                arg
            }
        })
        .collect();
    let exe = std::env::current_exe().context("cannot find the path of the ksef binary")?;
    let mut command = std::process::Command::new(exe);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log_file);
    #[cfg(unix)]
    {
        // Out of the terminal's process group: a Ctrl-C typed later does not reach it.
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
    }
    let mut child = command
        .spawn()
        .context("cannot start the background simulator")?;
    let stdout = child.stdout.take().context("no pipe from the simulator")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut exports = Vec::new();
    for _ in 0..3 {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("KSEF_") => exports.push(line),
            _ => {
                let status = child.wait().ok();
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                bail!(
                    "the background simulator did not start ({}): {}",
                    status.map_or_else(|| "no exit status".to_owned(), |s| s.to_string()),
                    tail.trim()
                );
            }
        }
    }
    for line in &exports {
        outln!("export {line}");
    }
    ctx.note(format!(
        "ksef sim: serving in the background (pid {}, log {}); stop it with `ksef sim stop`",
        child.id(),
        log.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `ksef sim stop`: SIGTERM to the detached simulator, then waits (10 s at most) for it to exit.
async fn stop(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let path = pid_path(ctx);
    let Some(running) = read_pid_file(&path)? else {
        bail!(
            "no detached simulator to stop: {} does not exist (start one with `ksef sim --detach`)",
            path.display()
        );
    };
    let stopped = if is_simulator(running.pid) {
        send_sigterm(running.pid)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_simulator(running.pid) {
            if Instant::now() > deadline {
                bail!(
                    "the simulator (pid {}) did not stop within 10 s of SIGTERM",
                    running.pid
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    } else {
        false
    };
    crate::context::remove_file(&path)?;
    if ctx.json() {
        print_json(&json!({
            "stopped": stopped,
            "pid": running.pid,
            "baseUrl": running.base_url,
        }))?;
    } else if stopped {
        outln!(
            "✓ stopped the simulator at {} (pid {})",
            running.base_url,
            running.pid
        );
    } else {
        outln!(
            "✓ the simulator (pid {}) had already stopped; removed {}",
            running.pid,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_pid_file(path: &Path) -> anyhow::Result<Option<PidFile>> {
    match crate::files::read_state(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is damaged; delete it (and stop the simulator by hand if it still runs)",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The detached simulator's log, owner-only (it may name paths of the state directory).
fn open_log(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create the simulator's log {}", path.display()))
}

/// Whether `pid` is a running `ksef sim` (not a stale pid reused by another program): on Linux
/// its command line must carry `--detached-child` (a zombie's is empty); elsewhere `kill -0`
/// must find it.
fn is_simulator(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == b"--detached-child")
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        kill(&["-0", &pid.to_string()]).is_ok()
    }
}

/// Sends SIGTERM to `pid` with the system's `kill(1)`: no unsafe code and no dependency for one
/// signal.
fn send_sigterm(pid: u32) -> anyhow::Result<()> {
    kill(&["-TERM", &pid.to_string()])
        .with_context(|| format!("cannot send SIGTERM to the simulator (pid {pid})"))
}

fn kill(args: &[&str]) -> anyhow::Result<()> {
    let output = std::process::Command::new("kill")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run kill(1)")?;
    if output.status.success() {
        Ok(())
    } else {
        bail!(
            "kill {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    }
}

/// Receives SIGHUP and does nothing with it, so the background simulator outlives the terminal
/// it was started from; keep the returned value alive.
#[cfg(unix)]
fn ignore_hangup() -> anyhow::Result<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).context("cannot listen for SIGHUP")
}

#[cfg(not(unix))]
fn ignore_hangup() -> anyhow::Result<()> {
    Ok(())
}

/// The scale of the enforced rate limits, or `None` when they are off: `--rate-limits production`
/// is the spec's limits (1.0), `--rate-limit-scale F` those times F; both off by default.
fn rate_limit_scale(
    mode: Option<RateLimitsArg>,
    scale: Option<f64>,
) -> anyhow::Result<Option<f64>> {
    match (mode, scale) {
        (Some(RateLimitsArg::Off), Some(_)) => {
            bail!("--rate-limit-scale scales enforced limits; it cannot go with --rate-limits off")
        }
        (Some(RateLimitsArg::Off) | None, None) => Ok(None),
        (Some(RateLimitsArg::Production), None) => Ok(Some(1.0)),
        (_, Some(scale)) => Ok(Some(scale)),
    }
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
pub(crate) fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
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
    use super::{RateLimitsArg, rate_limit_scale, shell_quote};

    #[test]
    fn rate_limits_are_off_unless_asked_for() {
        assert_eq!(rate_limit_scale(None, None).unwrap(), None);
        assert_eq!(
            rate_limit_scale(Some(RateLimitsArg::Off), None).unwrap(),
            None
        );
        assert_eq!(
            rate_limit_scale(Some(RateLimitsArg::Production), None).unwrap(),
            Some(1.0)
        );
        assert_eq!(rate_limit_scale(None, Some(0.5)).unwrap(), Some(0.5));
        assert_eq!(
            rate_limit_scale(Some(RateLimitsArg::Production), Some(2.0)).unwrap(),
            Some(2.0)
        );
        let error = rate_limit_scale(Some(RateLimitsArg::Off), Some(2.0)).unwrap_err();
        assert!(error.to_string().contains("--rate-limits off"), "{error}");
    }

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
