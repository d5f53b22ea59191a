//! The arguments of `ksef collective`.

use clap::Subcommand;

/// `ksef collective ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CollectiveCommand {
    /// Generate a collective identifier for invoices of one seller (at least 2 KSeF numbers).
    Create {
        /// The invoices' KSeF numbers.
        #[arg(required = true, num_args = 2.., value_name = "KSEF_NUMBER")]
        ksef_numbers: Vec<String>,
        /// A payment description for every invoice (up to 512 characters).
        #[arg(long)]
        description: Option<String>,
        /// A payment amount for every invoice (needs --currency).
        #[arg(long, requires = "currency")]
        amount: Option<f64>,
        /// The payment currency code, e.g. PLN (needs --amount).
        #[arg(long, requires = "amount")]
        currency: Option<String>,
    },
    /// List the context's collective identifiers (newest first).
    List {
        /// Created from (RFC 3339 or YYYY-MM-DD); default 30 days ago.
        #[arg(long, value_name = "T")]
        from: Option<String>,
        /// Created up to (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long, value_name = "T")]
        to: Option<String>,
    },
    /// The collective identifiers an invoice belongs to.
    Show {
        /// The invoice's KSeF number.
        ksef_number: String,
    },
    /// The invoices of up to 10 collective identifiers.
    Invoices {
        /// The collective identifier numbers (at most 10).
        #[arg(required = true, value_name = "ID")]
        numbers: Vec<String>,
    },
}
