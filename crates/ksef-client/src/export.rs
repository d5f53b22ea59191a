//! Invoice exports: KSeF builds an encrypted package of invoices asynchronously; the client
//! starts it, waits for it, downloads the parts, checks and decrypts them, and unpacks the archive.
//!
//! The parts go to a private scratch directory (mode 0700, removed afterwards; see
//! [`ExportOptions::with_scratch_dir`]) and the archive
//! is unpacked entry by entry on a blocking thread, so memory stays bounded by one invoice at a
//! time, whatever the package size (up to 10 000 invoices or 1 GB in KSeF).

use std::fmt;
use std::io::BufReader;
use std::path::PathBuf;

use ksef_crypto::{ExpectedPart, ExportUnpacker, SessionKey};
use ksef_model::operations::{ExportInvoices, GetInvoiceExportStatus};
use ksef_model::types::{
    CompressionType, InvoiceExportRequest, InvoicePackage, InvoiceQueryFilters,
};
use ksef_model::values::ReferenceNumber;
use ksef_transport::PresignedRequest;

pub use ksef_crypto::{ExportedInvoice, UnpackedExport};

use crate::client::Client;
use crate::error::Error;
use crate::files::ScratchDir;

/// Invoices handed from the unpacking thread to the caller at most this many at a time.
const HAND_OVER_QUEUE: usize = 8;

/// Options of [`Client::start_export`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExportOptions {
    compression_type: CompressionType,
    only_metadata: bool,
    scratch_dir: Option<PathBuf>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            compression_type: CompressionType::Zip,
            only_metadata: false,
            scratch_dir: None,
        }
    }
}

impl ExportOptions {
    /// A ZIP package with the invoices and `_metadata.json`.
    pub fn new() -> ExportOptions {
        ExportOptions::default()
    }

    /// The archive format to ask for (`Zip`, the default, or `TarGz`); the package is unpacked
    /// by the `compressionType` its status declares.
    pub fn with_compression_type(mut self, compression_type: CompressionType) -> ExportOptions {
        self.compression_type = compression_type;
        self
    }

    /// Only `_metadata.json`, without the invoices.
    pub fn with_only_metadata(mut self, only_metadata: bool) -> ExportOptions {
        self.only_metadata = only_metadata;
        self
    }

    /// Where the downloaded parts and the decrypted archive are kept while unpacking: a private
    /// (0700) `.ksef-tmp` directory is made in `dir` (a symbolic link there is refused), each
    /// download works in its own subdirectory removed afterwards, and what a killed run left
    /// there is removed by the next one. Give the destination directory, so decrypted invoices
    /// never leave it. The system's temporary directory by default.
    pub fn with_scratch_dir(mut self, dir: impl Into<PathBuf>) -> ExportOptions {
        self.scratch_dir = Some(dir.into());
        self
    }

    /// The directory given to [`ExportOptions::with_scratch_dir`], if any.
    pub fn scratch_dir(&self) -> Option<&std::path::Path> {
        self.scratch_dir.as_deref()
    }
}

/// An export KSeF is building (see [`Client::start_export`]). Holds the export's AES key, which
/// its `Debug` output does not show.
pub struct ExportJob {
    client: Client,
    reference_number: ReferenceNumber,
    key: std::sync::Arc<SessionKey>,
    options: ExportOptions,
}

impl fmt::Debug for ExportJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportJob")
            .field("reference_number", &self.reference_number)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts an export of the invoices matching `filters` under a fresh AES-256 key wrapped for
    /// the Ministry's `SymmetricKeyEncryption` certificate.
    ///
    /// KSeF builds the package ascending by the filter's date type and stops at 10 000 invoices
    /// or 1 GB; [`InvoicePackage::is_truncated`] then says so, and the next export continues from
    /// [`InvoicePackage::last_permanent_storage_date`] (or the date of the type filtered by).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a date range KSeF refuses (over 100 days, see
    /// [`crate::check_date_range`]), [`Error::Transport`] (e.g. 21182: ten exports already
    /// in progress), [`Error::Crypto`].
    pub async fn start_export(
        &self,
        filters: InvoiceQueryFilters,
        options: &ExportOptions,
    ) -> Result<ExportJob, Error> {
        crate::query::check_date_range(&filters, chrono::Utc::now())?;
        let key = SessionKey::generate()?;
        let started = self
            .send_with_wrapped_key(&key, |encryption| {
                let mut request = InvoiceExportRequest::new(encryption, filters.clone())
                    .with_compression_type(options.compression_type.clone());
                if options.only_metadata {
                    request = request.with_only_metadata(true);
                }
                async move { self.execute(&ExportInvoices::new(request)).await }
            })
            .await?;
        Ok(ExportJob {
            client: self.clone(),
            reference_number: started.reference_number,
            key: std::sync::Arc::new(key),
            options: options.clone(),
        })
    }
}

impl ExportJob {
    /// The export's reference number.
    pub fn reference_number(&self) -> &ReferenceNumber {
        &self.reference_number
    }

    /// Polls the export's status (with the client's poll settings) until the package is ready.
    ///
    /// # Errors
    ///
    /// [`Error::ExportFailed`] with KSeF's status code (415: the key could not be decrypted;
    /// 420: the range starts after the high-water mark), [`Error::PollTimeout`],
    /// [`Error::Transport`].
    pub async fn wait(&self) -> Result<InvoicePackage, Error> {
        let mut backoff = self.client.inner.poll.start();
        loop {
            let read = self
                .client
                .execute(&GetInvoiceExportStatus::new(self.reference_number.clone()))
                .await;
            let what = || format!("export {}", self.reference_number);
            let Some(status) = backoff.read(what, read).await? else {
                continue;
            };
            match status.status.code {
                100 => {}
                200 => {
                    return status.package.ok_or_else(|| Error::UnexpectedResponse {
                        reason: format!(
                            "export {} is ready but describes no package",
                            self.reference_number
                        ),
                    });
                }
                code => {
                    return Err(Error::ExportFailed {
                        reference_number: self.reference_number.clone(),
                        code,
                        description: status.status.description,
                        details: status.status.details.unwrap_or_default(),
                    });
                }
            }
            backoff
                .wait_or_time_out(|| format!("export {}", self.reference_number))
                .await?;
        }
    }

    /// Downloads the package's parts, checks each against its declared size and hash, decrypts
    /// them, and hands out the invoices one at a time to `on_invoice` (each with its
    /// `_metadata.json` record when the package is a ZIP). Returns the parsed `_metadata.json`
    /// and the count.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for a failed download, [`Error::Crypto`] for a part that does not
    /// match or decrypt or an unsafe archive, [`Error::Storage`] for the scratch directory, and
    /// whatever `on_invoice` returns.
    pub async fn download<F>(
        &self,
        package: &InvoicePackage,
        mut on_invoice: F,
    ) -> Result<UnpackedExport, Error>
    where
        F: FnMut(ExportedInvoice) -> Result<(), Error>,
    {
        let scratch = ScratchDir::create(self.options.scratch_dir.as_deref(), "export")?;
        let mut parts = package.parts.clone();
        parts.sort_by_key(|p| p.ordinal_number);
        let mut files = Vec::with_capacity(parts.len());
        for part in &parts {
            let method = match part.method.to_ascii_uppercase().as_str() {
                "GET" => ksef_model::Method::Get,
                other => {
                    return Err(Error::UnexpectedResponse {
                        reason: format!(
                            "export part {} asks for method {other}",
                            part.ordinal_number
                        ),
                    });
                }
            };
            // Checked before the download, so a malformed status costs no transfer.
            let expected = ExpectedPart::from_package_part(part)?;
            let body = self
                .client
                .transport()
                .execute_presigned(PresignedRequest::new(method, part.url.clone()))
                .await?
                .into_body();
            let path = scratch.path.join(format!("part-{}", part.ordinal_number));
            // Parts run to hundreds of MB: written off the async threads, into a file created
            // afresh in the private scratch directory (never opening one planted there).
            let target = path.clone();
            tokio::task::spawn_blocking(move || {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(target)?;
                std::io::Write::write_all(&mut file, &body)
            })
            .await
            .map_err(|e| {
                Error::storage("the part writing thread failed", std::io::Error::other(e))
            })?
            .map_err(|e| Error::storage(format!("cannot write {}", path.display()), e))?;
            files.push((expected, path));
        }
        // The package says how it is packed; the request only asked.
        let compression = &package.compression_type;
        if !matches!(compression, CompressionType::Zip | CompressionType::TarGz) {
            return Err(Error::UnexpectedResponse {
                reason: format!(
                    "the export package is packed as {compression:?}, not Zip or TarGz"
                ),
            });
        }
        let unpacker = ExportUnpacker::new().compression_type(compression.clone());
        let key = std::sync::Arc::clone(&self.key);
        let archive = scratch.path.join("archive");
        let (sender, mut receiver) = tokio::sync::mpsc::channel(HAND_OVER_QUEUE);
        let unpacking = tokio::task::spawn_blocking(move || {
            let readers = files
                .into_iter()
                .map(|(expected, path)| {
                    let file = std::fs::File::open(&path)?;
                    Ok((expected, BufReader::new(file)))
                })
                .collect::<std::io::Result<Vec<_>>>()
                .map_err(|e| Error::storage("cannot reopen a downloaded export part", e))?;
            let scratch_file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&archive)
                .map_err(|e| Error::storage(format!("cannot create {}", archive.display()), e))?;
            let unpacked = unpacker.unpack(&key, readers, scratch_file, |invoice| {
                // The receiver is gone only when the caller stopped: end the unpacking too.
                sender
                    .blocking_send(invoice)
                    .map_err(|_| ksef_crypto::Error::Io {
                        source: std::io::Error::other("the export download was abandoned"),
                    })
            })?;
            Ok::<_, Error>(unpacked)
        });
        let mut failure = None;
        while let Some(invoice) = receiver.recv().await {
            if let Err(error) = on_invoice(invoice) {
                failure = Some(error);
                break;
            }
        }
        drop(receiver);
        let result = unpacking.await.map_err(|e| Error::UnexpectedResponse {
            reason: format!("the export unpacking thread failed: {e}"),
        })?;
        drop(scratch);
        match failure {
            Some(error) => Err(error),
            None => result,
        }
    }
}
