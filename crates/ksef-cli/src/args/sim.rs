//! The arguments of `ksef demo` and `ksef sim`: the in-process and the served simulator.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `ksef demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to save the UPO (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `ksef sim`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct SimArgs {
    /// `ksef sim stop`; without it, serve.
    #[command(subcommand)]
    pub(crate) action: Option<SimAction>,
    /// Start the simulator in the background and return once it is ready, printing
    /// `export KSEF_BASE_URL=…`, `KSEF_NIP` and `KSEF_TOKEN` lines for
    /// `eval "$(ksef sim --detach)"`. Its pid is kept in sim.pid in the state directory (0600)
    /// for `ksef sim stop`; its stderr goes to sim.log there.
    #[arg(long)]
    pub(crate) detach: bool,
    /// Internal: the background process `--detach` starts (writes the pid file, ignores SIGHUP).
    #[arg(long, hide = true, conflicts_with = "detach")]
    pub(crate) detached_child: bool,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Keep the simulator's state in DIR across restarts (KSeF tokens, invoices, test data,
    /// permissions, certificates; not logins or open sessions). The directory is created 0700:
    /// it holds token secrets.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Answer this share of requests (0 to 1) with HTTP 500/503 without processing them.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_5xx: Option<f64>,
    /// Answer this share of requests with HTTP 429 (Retry-After: 1).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_429: Option<f64>,
    /// Process this share of requests, then drop the connection without answering.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_reset: Option<f64>,
    /// Process this share of requests, then send only half of the body.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub(crate) fault_truncate: Option<f64>,
    /// Delay every faultable request by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub(crate) fault_latency_ms: Option<u64>,
    /// Seed the fault generator (the same requests then meet the same faults).
    #[arg(long, value_name = "N")]
    pub(crate) fault_seed: Option<u64>,
    /// Inject faults only into this operation id, e.g. sessions.online.send_invoice
    /// (repeatable; default: every operation).
    #[arg(long = "fault-operation", value_name = "ID")]
    pub(crate) fault_operations: Vec<String>,
    /// Trust a certificate by fingerprint in a context, as NIP=SHA256HEX (repeatable): it can
    /// then log in with `--subject fingerprint`.
    #[arg(long, value_name = "NIP=SHA256HEX")]
    pub(crate) trust_fingerprint: Vec<String>,
    /// Which KSeF environment to behave like: `test` accepts a self-signed seal or personal
    /// certificate carrying any NIP as that NIP's owner (as KSeF's TEST does); `prod-like`
    /// lets only the seeded subject, --trust-fingerprint and granted identifiers log in.
    #[arg(long, value_enum, default_value = "test")]
    pub(crate) mode: SimModeArg,
    /// Enforce KSeF's rate limits (`production`: the spec's limits per group, answered with 429
    /// and Retry-After as KSeF does) or not (`off`, the default).
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) rate_limits: Option<RateLimitsArg>,
    /// Enforce the production rate limits multiplied by F (e.g. 0.1 for a tenth, so a CI run
    /// meets 429s sooner); implies `--rate-limits production`.
    #[arg(long, value_name = "F", value_parser = parse_scale)]
    pub(crate) rate_limit_scale: Option<f64>,
}

/// `ksef sim --rate-limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RateLimitsArg {
    /// KSeF's production limits (scaled by --rate-limit-scale if given).
    Production,
    /// No limits enforced.
    Off,
}

/// `ksef sim stop`.
#[derive(Debug, Subcommand)]
pub(crate) enum SimAction {
    /// Stop the simulator started with `ksef sim --detach` (SIGTERM, then wait for it to exit).
    Stop,
}

/// `ksef sim --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimModeArg {
    /// Like KSeF's TEST environment (self-signed certificates accepted).
    Test,
    /// Like production: only trusted or seeded subjects log in.
    #[value(name = "prod-like")]
    ProdLike,
}

/// A rate-limit scale: a positive, finite number.
fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// A fault rate: a number from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{text:?} is not a rate from 0 to 1")),
    }
}
