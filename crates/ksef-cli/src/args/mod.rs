//! The command line: global flags and every subcommand, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod auth;
mod batch;
mod cert;
mod collective;
mod config;
mod invoice;
mod outbox;
mod permissions;
mod qr;
mod session;
mod sim;
mod status;
mod testdata;
mod token;
mod xades;

pub(crate) use auth::*;
pub(crate) use batch::*;
pub(crate) use cert::*;
pub(crate) use collective::*;
pub(crate) use config::*;
pub(crate) use invoice::*;
pub(crate) use outbox::*;
pub(crate) use permissions::*;
pub(crate) use qr::*;
pub(crate) use session::*;
pub(crate) use sim::*;
pub(crate) use status::*;
pub(crate) use testdata::*;
pub(crate) use token::*;
pub(crate) use xades::*;

/// `ksef`: the command-line tool for KSeF API 2.0, the Polish national e-invoicing system.
///
/// Secrets are never taken as arguments: the KSeF token comes from `--token-file`,
/// `--token-stdin` or the `KSEF_TOKEN` environment variable.
#[derive(Debug, Parser)]
#[command(name = "ksef", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command understands. Help pages list them under their own heading, after the
/// command's own options.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The KSeF environment to talk to. With a base URL too, the base URL wins (a flag over an
    /// environment variable first), and a note says which was ignored.
    #[arg(long, global = true, value_enum, env = "KSEF_ENV")]
    pub(crate) env: Option<EnvName>,
    /// A custom API base URL ending in /v2 (e.g. a local `ksef sim`); wins over an environment
    /// name given the same way.
    #[arg(long, global = true, env = "KSEF_BASE_URL", value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Where the profiles' session files are kept [default: $XDG_STATE_HOME/ksef or
    /// ~/.local/state/ksef]; given, config.toml is kept there too [default:
    /// $XDG_CONFIG_HOME/ksef or ~/.config/ksef].
    #[arg(long, global = true, env = "KSEF_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// The profile: one login (context and tokens) per profile.
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub(crate) profile: String,
    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More detail on stderr: each KSeF request traced (operation, path template, status,
    /// duration; never tokens or bodies). `KSEF_LOG=target=level,...` sets the levels instead.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Stop the command after this long in total (90s, 30m, 2h, 1d; off for none), naming what
    /// it was waiting for [default: config.toml's deadline, else 6h; none for sim and worker].
    #[arg(long, global = true, env = "KSEF_DEADLINE", value_name = "DURATION",
          value_parser = crate::deadline::parse)]
    pub(crate) deadline: Option<crate::deadline::Deadline>,
}

/// The KSeF environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvName {
    /// The test environment (fictitious data).
    Test,
    /// The demo (pre-production) environment.
    Demo,
    /// Production.
    Prod,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the whole invoice lifecycle against an in-process simulator, narrating each step.
    Demo(DemoArgs),
    /// Serve a local KSeF simulator until SIGINT/SIGTERM (or in the background with --detach,
    /// until `ksef sim stop`).
    Sim(SimArgs),
    /// Log in and out, inspect the stored session.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Send, download and query invoices.
    #[command(subcommand)]
    Invoice(InvoiceCommand),
    /// The durable outbox: invoices stored in a database (SQLite, or PostgreSQL) before any
    /// network, sent by `ksef worker`.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Send the outbox's invoices until SIGTERM/Ctrl-C: one online session per claimed batch,
    /// each outcome (KSeF number and UPO, or the refusal) recorded; a summary at the end.
    Worker(WorkerArgs),
    /// Inspect sessions, their invoices and UPOs.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Send invoices in a batch session, or package them offline.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// KSeF tokens: generate, list, status, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Certificates: KSeF certificates (limits, enrollment, retrieval, revocation) and
    /// self-signed test certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Permissions: grant, revoke, query, operation status.
    #[command(subcommand)]
    Permissions(PermissionsCommand),
    /// The effective limits of the context and the subject, and the API rate limits.
    Limits,
    /// Whether KSeF is available, from the Ministry's Lighthouse status service (unofficial),
    /// with its announcements. Exit 0 when KSeF is AVAILABLE, 1 when it is not (maintenance,
    /// failure, an unknown status) or the Lighthouse cannot be reached: switch to offline
    /// invoicing then.
    Status(StatusArgs),
    /// The TEST environment's test-data API.
    Testdata(TestdataArgs),
    /// Collective identifiers: one payment identifier for several invoices of one seller.
    #[command(subcommand)]
    Collective(CollectiveCommand),
    /// Defaults (nip, env, base-url) kept in config.toml in the home directory.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// KSeF QR codes (KOD I for invoices, KOD II for offline certificates).
    #[command(subcommand)]
    Qr(QrCommand),
    /// XAdES signatures of XML documents (e.g. an AuthTokenRequest), offline.
    #[command(subcommand)]
    Xades(XadesCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `--schema`: the invoice schema (form code) of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaArg {
    /// FA(3).
    #[value(name = "FA3")]
    Fa3,
    /// FA(2).
    #[value(name = "FA2")]
    Fa2,
    /// FA_RR(1).
    #[value(name = "FA_RR")]
    FaRr,
}

/// A request body as JSON: `--body FILE`, or `-` for stdin.
#[derive(Debug, Args)]
pub(crate) struct BodyArgs {
    /// The request body as JSON, in the API's shape (a file, or - for stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) body: Option<PathBuf>,
}
