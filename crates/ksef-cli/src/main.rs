//! `ksef`: the command-line tool for KSeF API 2.0.
//!
//! Human-readable output by default, `--json` for scripts (one JSON document on stdout, camelCase
//! keys). Exit codes: 0 on success, 1 when KSeF or the input says no, 2 for usage errors.
//! Everything KSeF-specific goes through `ksef-client`; `ksef demo` and `ksef sim` run the
//! `ksef-sim` simulator in-process.
#![forbid(unsafe_code)]

mod args;
mod auth;
mod context;
mod demo;
mod invoice;
mod session;
mod sim;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::args::{Cli, Command};
use crate::context::Ctx;

fn main() -> ExitCode {
    // Usage errors exit with 2 here (clap's convention).
    let cli = Cli::parse();
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "ksef", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.global.json;
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            report(&error, json);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(cli.global)?;
    match cli.command {
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Sim(args) => sim::run(&ctx, args).await,
        Command::Auth(command) => auth::run(&ctx, command).await,
        Command::Invoice(command) => invoice::run(&ctx, command).await,
        Command::Session(command) => session::run(&ctx, command).await,
        // Handled before the runtime starts.
        Command::Completions { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// Prints an error with its causes and, where one is known, what to do next. With `--json` a
/// `{"error": ...}` document also goes to stdout, so scripts always get one document.
fn report(error: &anyhow::Error, json: bool) {
    let hint = hint(error);
    eprintln!("error: {error:#}");
    if let Some(hint) = &hint {
        eprintln!("hint: {hint}");
    }
    if json {
        let mut document = serde_json::json!({ "error": format!("{error:#}") });
        if let Some(hint) = hint {
            document["hint"] = serde_json::Value::String(hint);
        }
        let _ = context::print_json(&document);
    }
}

fn hint(error: &anyhow::Error) -> Option<String> {
    let client = error
        .chain()
        .find_map(|e| e.downcast_ref::<ksef_client::Error>())?;
    if let Some(status) = client.status() {
        return Some(match status {
            401 => "the login is missing or expired; run `ksef auth login --nip NIP`".to_owned(),
            403 => {
                "the token lacks a permission this needs; check its permissions in KSeF".to_owned()
            }
            429 => "KSeF rate-limited the request; wait a moment and try again".to_owned(),
            500..=599 => "KSeF had a server error; try again later".to_owned(),
            _ => "KSeF refused the request; the details above name the KSeF error code".to_owned(),
        });
    }
    match client {
        ksef_client::Error::Transport { .. } => {
            Some("check the base URL (--env/--base-url) and your network connection".to_owned())
        }
        ksef_client::Error::AuthenticationFailed { .. } => {
            Some("check the NIP and that the token belongs to that context".to_owned())
        }
        ksef_client::Error::PollTimeout { .. } => Some(
            "KSeF is slow to answer; check the status later with `ksef session status`".to_owned(),
        ),
        _ => None,
    }
}
