//! The arguments of `ksef token`.

use std::path::PathBuf;

use clap::Subcommand;

/// `ksef token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Generate a KSeF token; it is shown once (stdout, or --out written 0600).
    Generate {
        /// What the token is for (5 to 256 characters).
        #[arg(long)]
        description: String,
        /// A permission: InvoiceRead, InvoiceWrite, CredentialsRead, CredentialsManage,
        /// SubunitManage, EnforcementOperations, Introspection, CollectiveIdentifierManage
        /// (repeat or comma-separate).
        #[arg(long = "permission", required = true, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Write the token to this file (0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List the context's KSeF tokens.
    List,
    /// A token's status.
    Status {
        /// The token's reference number.
        reference: String,
    },
    /// Revoke a token.
    Revoke {
        /// The token's reference number.
        reference: String,
    },
}
