//! The arguments of `ksef session`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

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
        /// Also write each page as a PDF visualization beside its XML.
        #[arg(long)]
        pdf: bool,
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
