//! The command line: global flags and every subcommand, declared with clap's derive API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// Options every command understands.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The KSeF environment to talk to.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KSEF_ENV",
        conflicts_with = "base_url"
    )]
    pub(crate) env: Option<EnvName>,
    /// A custom API base URL ending in /v2 (e.g. a local `ksef sim`).
    #[arg(long, global = true, env = "KSEF_BASE_URL", value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Where session files are kept [default: $XDG_STATE_HOME/ksef or ~/.local/state/ksef].
    #[arg(long, global = true, env = "KSEF_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// The profile: one login (context and tokens) per profile.
    #[arg(long, global = true, default_value = "default", value_name = "NAME")]
    pub(crate) profile: String,
    /// Print one JSON document on stdout instead of human-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More detail on stderr.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
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
    /// Serve a local KSeF simulator until SIGINT/SIGTERM.
    Sim(SimArgs),
    /// Log in and out, inspect the stored session.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Send, download and query invoices.
    #[command(subcommand)]
    Invoice(InvoiceCommand),
    /// Inspect sessions, their invoices and UPOs.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `ksef demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to save the UPO (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// `ksef sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Persist the simulator's state in DIR (not supported by this build).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
}

/// Where the KSeF token comes from.
#[derive(Debug, Args)]
pub(crate) struct TokenSourceArgs {
    /// Read the KSeF token from this file (first line).
    #[arg(long, value_name = "FILE", conflicts_with = "token_stdin")]
    pub(crate) token_file: Option<PathBuf>,
    /// Read the KSeF token from standard input (first line).
    #[arg(long)]
    pub(crate) token_stdin: bool,
}

/// `ksef auth ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Log in with a KSeF token (from --token-file, --token-stdin or KSEF_TOKEN).
    Login {
        /// The context NIP.
        #[arg(long)]
        nip: String,
        /// Where the token comes from.
        #[command(flatten)]
        token: TokenSourceArgs,
    },
    /// Show what the session file holds (context, expiry; no secrets).
    Whoami,
    /// Refresh the access token now.
    Refresh,
    /// Revoke the current authentication session and delete the session file.
    Logout,
    /// Ask KSeF for an authentication challenge.
    Challenge,
    /// Authentication sessions.
    #[command(subcommand)]
    Sessions(AuthSessionsCommand),
}

/// `ksef auth sessions ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthSessionsCommand {
    /// List the active authentication sessions of the context.
    List,
}

/// `ksef invoice ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum InvoiceCommand {
    /// Send FA(3) invoices in one online session.
    Send {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// Wait until KSeF processed them (KSeF numbers, final statuses).
        #[arg(long)]
        wait: bool,
        /// Save each invoice's UPO in this directory (implies --wait).
        #[arg(long, value_name = "DIR")]
        upo_dir: Option<PathBuf>,
    },
    /// Download an invoice by its KSeF number.
    Get {
        /// The KSeF number.
        ksef_number: String,
        /// Write the XML here instead of to stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Query invoice metadata.
    Query {
        /// Start of the date range (RFC 3339, or YYYY-MM-DD).
        #[arg(long, value_name = "T")]
        from: String,
        /// End of the date range (RFC 3339, or YYYY-MM-DD).
        #[arg(long, value_name = "T")]
        to: Option<String>,
        /// Whose invoices: subject1 (seller), subject2 (buyer), subject3, authorized.
        #[arg(long, value_enum, default_value = "subject1")]
        subject_type: SubjectTypeArg,
        /// Which date the range applies to.
        #[arg(long, value_enum, default_value = "permanent-storage")]
        date_type: DateTypeArg,
    },
}

/// `--subject-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SubjectTypeArg {
    /// The seller.
    Subject1,
    /// The buyer.
    Subject2,
    /// Another party (Podmiot3).
    Subject3,
    /// An authorized subject.
    Authorized,
}

/// `--date-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DateTypeArg {
    /// The issue date (P_1).
    Issue,
    /// When KSeF received the invoice.
    Invoicing,
    /// When it was stored permanently.
    PermanentStorage,
}

/// `ksef session ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// List sessions.
    List {
        /// Which kind of sessions.
        #[arg(long = "type", value_enum, default_value = "online")]
        kind: SessionKindArg,
    },
    /// A session's status.
    Status {
        /// The session's reference number.
        reference: String,
    },
    /// The invoices of a session with their statuses.
    Invoices {
        /// The session's reference number.
        reference: String,
    },
    /// Download the session UPO.
    Upo {
        /// The session's reference number.
        reference: String,
        /// Where to save the UPO pages (default: the current directory).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `--type` of `session list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SessionKindArg {
    /// Online (interactive) sessions.
    Online,
    /// Batch sessions.
    Batch,
}
