//! The arguments of `ksef batch`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::SchemaArg;

/// `ksef batch ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BatchCommand {
    /// Send invoices in one batch session (with --wait: and report each invoice's outcome).
    Send(BatchSendArgs),
    /// Package invoices offline: encrypted parts plus batch.json with the session-open request.
    Pack {
        /// The directory of invoice XML files (*.xml).
        dir: PathBuf,
        /// The Ministry's symmetric-key encryption certificate (PEM or DER).
        #[arg(long, value_name = "PEM")]
        public_cert: PathBuf,
        /// Where to write the parts and batch.json (created; must be empty if it exists).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The invoice schema.
        #[arg(long, value_enum, default_value = "FA3")]
        schema: SchemaArg,
        /// The largest part in bytes, before encryption (default: KSeF's limit, 100 MB).
        #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..))]
        part_size: Option<u64>,
        /// Package without validating first (as `batch send --no-validate`).
        #[arg(long)]
        no_validate: bool,
    },
}

/// `ksef batch send`.
#[derive(Debug, Args)]
pub(crate) struct BatchSendArgs {
    /// Invoice XML files, or directories whose *.xml files are sent.
    #[arg(required = true, value_name = "DIR|FILES")]
    pub(crate) inputs: Vec<PathBuf>,
    /// The invoice schema.
    #[arg(long, value_enum, default_value = "FA3")]
    pub(crate) schema: SchemaArg,
    /// The largest part in bytes, before encryption (default: KSeF's limit, 100 MB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..))]
    pub(crate) part_size: Option<u64>,
    /// The archive format of the package (`compressionType`).
    #[arg(long, value_enum, default_value = "zip")]
    pub(crate) compression: CompressionArg,
    /// Parts uploaded at once.
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) jobs: u16,
    /// Wait until KSeF processed the session and report each invoice's outcome (without
    /// it: print the session's reference number once the session is closed).
    #[arg(long)]
    pub(crate) wait: bool,
    /// Save the session UPO and each accepted invoice's UPO in this directory (needs
    /// --wait).
    #[arg(long, value_name = "DIR", requires = "wait")]
    pub(crate) upo_dir: Option<PathBuf>,
    /// Send without validating first (KSeF then judges each invoice).
    #[arg(long)]
    pub(crate) no_validate: bool,
}

/// `--compression`: the archive format of a batch package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressionArg {
    /// A ZIP archive (KSeF's default).
    Zip,
    /// A gzip-compressed tar archive.
    #[value(name = "tar-gz")]
    TarGz,
}
