//! The arguments of `ksef invoice`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::SchemaArg;

/// `ksef invoice ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum InvoiceCommand {
    /// Send FA(3) invoices in one online session.
    Send {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// The invoice schema (the session's form).
        #[arg(long, value_enum, default_value = "FA3")]
        schema: SchemaArg,
        /// Wait until KSeF processed them (KSeF numbers, final statuses).
        #[arg(long)]
        wait: bool,
        /// Save each invoice's UPO in this directory (implies --wait).
        #[arg(long, value_name = "DIR")]
        upo_dir: Option<PathBuf>,
        /// Send without validating first (KSeF then judges each invoice).
        #[arg(long)]
        no_validate: bool,
        /// The invoices were issued in an offline mode (offline24, KSeF unavailable, failure):
        /// send them with offlineMode, so KSeF records them as offline invoices. Each one's KOD I
        /// link is printed too.
        #[arg(long)]
        offline: bool,
        /// Send the one FILE as the technical correction of an offline invoice KSeF rejected for
        /// technical reasons: HASH is the SHA-256 of the originally rejected file in standard
        /// base64 (its invoiceHash). Implies --offline.
        #[arg(long, value_name = "HASH", value_parser = parse_invoice_hash)]
        corrects: Option<String>,
    },
    /// Check invoices offline against their schema (FA(2), FA(3), FA_RR(1), picked from each
    /// document) and the rules KSeF applies beyond it; exit 1 naming every invalid file.
    Validate {
        /// The invoice XML files.
        #[arg(required = true, value_name = "FILES")]
        files: Vec<PathBuf>,
        /// Also require this form (the one of the session the invoices are meant for).
        #[arg(long, value_enum)]
        schema: Option<SchemaArg>,
    },
    /// Write sample FA(3) invoices (built with ksef-model's invoice builder, so each is valid)
    /// for trying KSeF out: unique numbers, varied lines, buyers and VAT rates.
    Sample {
        /// How many invoices.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
        /// The seller's NIP [default: `nip` of config.toml].
        #[arg(long)]
        nip: Option<String>,
        /// The directory to write them to (created if missing; existing files are never
        /// overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The issue date, YYYY-MM-DD [default: today (UTC)].
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
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
        #[command(flatten)]
        range: InvoiceRangeArgs,
    },
    /// Export invoices as an encrypted package KSeF builds, then download, check, decrypt and
    /// unpack it: one XML per invoice plus _metadata.json.
    Export {
        #[command(flatten)]
        range: InvoiceRangeArgs,
        /// Only _metadata.json, without the invoices.
        #[arg(long)]
        only_metadata: bool,
        /// The directory to write to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Render invoices as PDF visualizations with the KSeF QR codes (no network).
    Pdf(crate::pdf::InvoicePdfArgs),
    /// Bring a directory up to date with KSeF (incremental, resumable): one {ksefNumber}.xml and
    /// {ksefNumber}.json per invoice; the checkpoints live in DIR/.ksef-sync.json.
    Sync {
        /// The directory to keep the invoices in.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Also write {ksefNumber}.pdf beside every stored invoice that has none yet.
        #[arg(long)]
        pdf: bool,
        /// The roles to sync (repeatable) [default: subject1, subject2, subject3].
        #[arg(long, value_enum)]
        subject_type: Vec<SubjectTypeArg>,
        /// Where to start for a role that has no checkpoint yet (RFC 3339 or YYYY-MM-DD)
        /// [default: 30 days ago].
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// How to read from KSeF: export packages (recommended) or metadata queries plus one
        /// download per invoice (small volumes only).
        #[arg(long, value_enum, default_value = "export")]
        source: SyncSourceArg,
    },
}

/// The invoice range `invoice query` and `invoice export` select.
#[derive(Debug, Args)]
pub(crate) struct InvoiceRangeArgs {
    /// Start of the date range (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "T")]
    pub(crate) from: String,
    /// End of the date range (RFC 3339, or YYYY-MM-DD).
    #[arg(long, value_name = "T")]
    pub(crate) to: Option<String>,
    /// Whose invoices: subject1 (seller), subject2 (buyer), subject3, authorized.
    #[arg(long, value_enum, default_value = "subject1")]
    pub(crate) subject_type: SubjectTypeArg,
    /// Which date the range applies to.
    #[arg(long, value_enum, default_value = "permanent-storage")]
    pub(crate) date_type: DateTypeArg,
}

/// `--source` of `invoice sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SyncSourceArg {
    /// Encrypted export packages (up to 10 000 invoices each).
    Export,
    /// Metadata queries and single downloads.
    Query,
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

/// A SHA-256 in standard base64 (`--corrects`).
fn parse_invoice_hash(text: &str) -> Result<String, String> {
    let text = text.trim();
    ksef_client::offline::check_invoice_hash(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}
