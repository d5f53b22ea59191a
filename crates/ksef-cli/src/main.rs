//! `ksef`: the command-line tool for KSeF API 2.0.
//!
//! Human-readable output by default, `--json` for scripts (one JSON document on stdout, camelCase
//! keys). Exit codes: 0 on success, 1 when KSeF or the input says no, 2 for usage errors. Results
//! go to stdout through `output.rs`; when its reader closes the pipe (`| head`), the command stops
//! quietly with 0.
//! Everything KSeF-specific goes through `ksef-client`; `ksef demo` and `ksef sim` run the
//! `ksef-sim` simulator in-process.
#![forbid(unsafe_code)]

// First, so that its `outln!`/`out!` macros are visible in every module below.
#[macro_use]
mod output;

mod api;
mod args;
mod auth;
mod batch;
mod cert;
mod collective;
mod config;
mod context;
mod deadline;
mod demo;
mod files;
mod invoice;
mod outbox;
mod pdf;
mod permissions;
mod progress;
mod qr;
mod sample;
mod secrets;
mod session;
mod signing;
mod sim;
mod status;
mod testdata;
mod token;
mod validate;
mod xades;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::args::{Cli, Command};
use crate::context::Ctx;

fn main() -> ExitCode {
    // Usage errors exit with 2 here (clap's convention).
    let arg_matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&arg_matches).unwrap_or_else(|error| error.exit());
    if let Command::Demo(_) = &cli.command {
        demo::refuse_api_flags(&arg_matches);
    }
    let precedence_note = context::resolve_api_choice(&mut cli.global, &arg_matches);
    if let Command::Completions { shell } = &cli.command {
        // Generated into memory: clap_complete panics when its writer fails (a closed pipe).
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "ksef", &mut script);
        return match output::write_stdout_bytes(&script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) if output::is_stdout_closed(&error) => ExitCode::SUCCESS,
            Err(error) => {
                errln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            errln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = init_logging(cli.global.verbose, cli.global.quiet) {
        errln!("error: {error:#}");
        return ExitCode::from(2);
    }
    if let Some(note) = precedence_note
        && !cli.global.quiet
    {
        errln!("note: {note}");
    }
    let json = cli.global.json;
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // The reader of stdout went away (`| head`): it asked for no more, so stop quietly.
        Err(error) if output::is_stdout_closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error, json);
            if error.downcast_ref::<context::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(cli.global)?;
    let limit = deadline::of(ctx.global.deadline, ctx.config.deadline()?, &cli.command);
    deadline::run_within(limit, dispatch(&ctx, cli.command)).await
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(args) => demo::run(ctx, args).await,
        Command::Sim(args) => sim::run(ctx, args).await,
        Command::Auth(command) => auth::run(ctx, command).await,
        Command::Invoice(command) => invoice::run(ctx, command).await,
        Command::Outbox(command) => outbox::run(ctx, command).await,
        Command::Worker(args) => outbox::worker(ctx, args).await,
        Command::Session(command) => session::run(ctx, command).await,
        Command::Batch(command) => batch::run(ctx, command).await,
        Command::Token(command) => token::run(ctx, command).await,
        Command::Cert(command) => cert::run(ctx, command).await,
        Command::Permissions(command) => permissions::run(ctx, command).await,
        Command::Limits => api::limits(ctx).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Testdata(args) => testdata::run(ctx, args).await,
        Command::Collective(command) => collective::run(ctx, command).await,
        Command::Config(command) => config::run(ctx, command).await,
        Command::Qr(command) => qr::run(ctx, command).await,
        Command::Xades(command) => xades::run(ctx, command).await,
        // Handled before the runtime starts.
        Command::Completions { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// Sends the libraries' tracing events to stderr: warnings by default, debug detail of the ksef
/// crates with `-v` (each HTTP request: operation, path template, status, duration; never
/// headers, bodies or tokens, which the transport does not log), nothing below errors with `-q`.
/// `KSEF_LOG` (e.g. `ksef_transport=trace,warn`) overrides the levels.
fn init_logging(verbose: bool, quiet: bool) -> anyhow::Result<()> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;

    let targets = match std::env::var("KSEF_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse::<Targets>().map_err(|e| {
            anyhow::anyhow!("KSEF_LOG {spec:?} is not a list of target=level directives: {e}")
        })?,
        _ if quiet => Targets::new().with_default(LevelFilter::ERROR),
        _ if verbose => Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("ksef_client", LevelFilter::DEBUG)
            .with_target("ksef_transport", LevelFilter::DEBUG)
            .with_target("ksef_crypto", LevelFilter::DEBUG)
            .with_target("ksef_xades", LevelFilter::DEBUG),
        _ => Targets::new().with_default(LevelFilter::WARN),
    };
    // Without internal error logs: tracing-subscriber reports a failed write with eprintln!,
    // which panics when stderr is a closed pipe.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_target(verbose)
        .without_time();
    tracing_subscriber::registry()
        .with(layer.with_filter(targets))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Prints an error with its causes and, where one is known, what to do next. With `--json` a
/// `{"error": ...}` document also goes to stdout, so scripts always get one document.
fn report(error: &anyhow::Error, json: bool) {
    report_to_stderr(error);
    if json {
        let _ = context::print_json(&error_document(error));
    }
}

/// Prints an error with its causes, and the hint where one is known, on stderr.
pub(crate) fn report_to_stderr(error: &anyhow::Error) {
    errln!("error: {error:#}");
    if let Some(hint) = hint(error) {
        errln!("hint: {hint}");
    }
}

/// The `{"error": ..., "hint": ...}` document of an error (`--json`).
pub(crate) fn error_document(error: &anyhow::Error) -> serde_json::Value {
    let mut document = serde_json::json!({ "error": format!("{error:#}") });
    if let Some(hint) = hint(error) {
        document["hint"] = serde_json::Value::String(hint);
    }
    document
}

fn hint(error: &anyhow::Error) -> Option<String> {
    let client = error
        .chain()
        .find_map(|e| e.downcast_ref::<ksef_client::Error>())?;
    if client.has_code(25001) || client.has_code(25002) {
        return Some(
            "certificate enrollment needs a login with a certificate (XAdES) or a trusted \
             profile, not a KSeF token: log in with `ksef auth login --nip NIP --cert CERT \
             --key KEY` (or `ksef auth login-external`), then enroll"
                .to_owned(),
        );
    }
    if let ksef_client::Error::BatchUploadFailed {
        reference_number,
        close_error,
        ..
    } = client
    {
        // A refused part upload is about the presigned link or the part, not the login.
        return Some(match close_error {
            None => format!(
                "batch session {reference_number} was closed without the part; fix the cause above and send the batch again"
            ),
            Some(_) => format!(
                "batch session {reference_number} is still open; KSeF cancels it when its upload time runs out (`ksef session status {reference_number}`)"
            ),
        });
    }
    if let Some(status) = client.status() {
        return Some(match status {
            401 => "the login is missing, expired or was ended on the server; log in again with \
                    `ksef auth login --nip NIP`"
                .to_owned(),
            403 => {
                "the token lacks a permission this needs; check its permissions in KSeF".to_owned()
            }
            429 => "KSeF rate-limited the request; wait a moment and try again".to_owned(),
            500..=599 => "KSeF had a server error; try again later".to_owned(),
            _ => "KSeF refused the request; the details above name the KSeF error code".to_owned(),
        });
    }
    match client {
        ksef_client::Error::Transport { source } => transport_hint(source),
        ksef_client::Error::AuthenticationFailed { .. } => {
            Some("check the NIP and that the token belongs to that context".to_owned())
        }
        ksef_client::Error::PollTimeout { .. } => Some(
            "KSeF is slow to answer; check the status later with `ksef session status`".to_owned(),
        ),
        _ => None,
    }
}

/// The hint for a transport failure, by its kind: only a failure to reach the server points at
/// the base URL and the network.
fn transport_hint(error: &ksef_client::TransportError) -> Option<String> {
    use ksef_client::TransportError as T;
    match error {
        T::RefreshFailed { source } => match source.status() {
            Some(400 | 401 | 403) => Some(
                "the refresh token is invalid, expired or revoked; log in again with \
                 `ksef auth login --nip NIP`"
                    .to_owned(),
            ),
            Some(429) => {
                Some("KSeF rate-limited the token refresh; wait a moment and try again".to_owned())
            }
            Some(500..=599) => Some("KSeF had a server error; try again later".to_owned()),
            _ => transport_hint(source),
        },
        T::MissingToken { .. } => {
            Some("not logged in, or the login is gone; run `ksef auth login --nip NIP`".to_owned())
        }
        T::Connect { .. }
        | T::Tls { .. }
        | T::Network { .. }
        | T::Timeout { .. }
        | T::TruncatedBody { .. } => {
            Some("check the base URL (--env/--base-url) and your network connection".to_owned())
        }
        T::InvalidUrl { .. } | T::InsecureUrl { .. } => {
            Some("check the base URL (--env/--base-url)".to_owned())
        }
        _ => None,
    }
}
