//! Batch packaging: invoices → one ZIP (or tar.gz) stream → parts of at most the KSeF part size →
//! each part AES-256-CBC encrypted into its own sink, in a single pass.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};

use ksef_model::types::{BatchFileInfo, BatchFilePartInfo, CompressionType};
use zip::write::{PreparedZipFile, SimpleFileOptions};
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Cause, Error, Result};
use crate::limits::{BatchLimits, Limit, check, check_file_name};
use crate::metadata::{FileMetadata, file_metadata};
use crate::session_key::SessionKey;

mod sink;
mod splitter;
#[cfg(test)]
mod tests;

pub use sink::{DirectorySink, MemorySink, PartSink};
use splitter::Splitter;

/// The two archive formats of a package's `compressionType` that this crate writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArchiveFormat {
    Zip,
    TarGz,
}

impl ArchiveFormat {
    /// The format of `compression_type`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedCompressionType`] for a value other than `Zip` or `TarGz`.
    pub(crate) fn of(compression_type: &CompressionType) -> Result<Self> {
        match compression_type {
            CompressionType::Zip => Ok(Self::Zip),
            CompressionType::TarGz => Ok(Self::TarGz),
            other => Err(Error::UnsupportedCompressionType {
                value: other.as_str().to_owned(),
            }),
        }
    }
}

/// How hard to compress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionLevel {
    /// No compression (ZIP entries are stored; tar.gz uses stored deflate blocks).
    Stored,
    /// Deflate level 1.
    Fast,
    /// Deflate level 6, the level of `zip` and `gzip` by default.
    #[default]
    Default,
    /// Deflate level 9.
    Best,
}

impl CompressionLevel {
    fn deflate_level(self) -> u32 {
        match self {
            Self::Stored => 0,
            Self::Fast => 1,
            Self::Default => 6,
            Self::Best => 9,
        }
    }
}

/// Where an invoice's bytes come from.
enum Source {
    Bytes(Vec<u8>),
    Path(PathBuf),
    Reader(Box<dyn Read + Send>),
}

/// One invoice to package: its file name inside the archive, its size, and where to read it.
pub struct BatchInvoice {
    name: String,
    size: u64,
    source: Source,
    /// The SHA-256 the bytes must have when packaged (see [`BatchInvoice::expect_sha256`]).
    expected_sha256: Option<[u8; 32]>,
}

impl std::fmt::Debug for BatchInvoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchInvoice")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BatchInvoice {
    /// An invoice held in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        Self {
            name: name.into(),
            // usize always fits in u64 on supported targets.
            size: bytes.len() as u64,
            source: Source::Bytes(bytes),
            expected_sha256: None,
        }
    }

    /// An invoice in a file, read when it is packaged. The size is taken from the file system now.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file's metadata cannot be read.
    pub fn from_path(name: impl Into<String>, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let size = std::fs::metadata(&path)?.len();
        Ok(Self {
            name: name.into(),
            size,
            source: Source::Path(path),
            expected_sha256: None,
        })
    }

    /// An invoice in a file, under the file's own name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFileName`] if the path has no UTF-8 file name, [`Error::Io`] if its
    /// metadata cannot be read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name =
            path.file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Error::InvalidFileName {
                    name: path.display().to_string(),
                    reason: "the path has no UTF-8 file name",
                })?;
        Self::from_path(name, path)
    }

    /// An invoice read from `reader`, which must yield exactly `size` bytes (checked).
    pub fn from_reader(
        name: impl Into<String>,
        size: u64,
        reader: impl Read + Send + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            size,
            source: Source::Reader(Box::new(reader)),
            expected_sha256: None,
        }
    }

    /// Requires the bytes packaged to have this SHA-256: for an invoice checked (validated)
    /// before packaging from a file that could change in between. Packaging a file whose bytes
    /// differ fails with [`Error::InvoiceChanged`]; a batch session opens only after packaging,
    /// so nothing unchecked is sent.
    pub fn expect_sha256(mut self, sha256: [u8; 32]) -> Self {
        self.expected_sha256 = Some(sha256);
        self
    }

    /// The file name inside the archive.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads the whole invoice, checking its size, and hashes it.
    fn read(self) -> Result<(String, Vec<u8>, FileMetadata)> {
        let Self {
            name,
            size,
            source,
            expected_sha256,
        } = self;
        let bytes = match source {
            Source::Bytes(bytes) => bytes,
            Source::Path(path) => read_exact_size(File::open(path)?, &name, size)?,
            Source::Reader(reader) => read_exact_size(reader, &name, size)?,
        };
        let actual = bytes.len() as u64;
        if actual != size {
            return Err(Error::InvoiceSizeMismatch {
                file: name,
                declared: size,
                actual,
            });
        }
        let metadata = file_metadata(&bytes);
        if expected_sha256.is_some_and(|expected| expected != metadata.sha256) {
            return Err(Error::InvoiceChanged { file: name });
        }
        Ok((name, bytes, metadata))
    }
}

/// Reads up to `size + 1` bytes (enough to notice a longer input without reading all of it).
fn read_exact_size(reader: impl Read, name: &str, size: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
    reader
        .take(size.saturating_add(1))
        .read_to_end(&mut bytes)?;
    let actual = bytes.len() as u64;
    if actual != size {
        return Err(Error::InvoiceSizeMismatch {
            file: name.to_owned(),
            declared: size,
            actual,
        });
    }
    Ok(bytes)
}

/// One encrypted part of a batch: what `BatchFilePartInfo` declares, and the plain slice's
/// metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchPart {
    /// `ordinalNumber`, from 1.
    pub ordinal_number: u32,
    /// Size and SHA-256 of the encrypted part (`fileSize`, `fileHash`).
    pub encrypted: FileMetadata,
    /// Size and SHA-256 of the part's slice of the plain archive.
    pub plaintext: FileMetadata,
}

/// The result of packaging a batch: everything `OpenBatchSessionRequest.batchFile` declares, and
/// the invoices' hashes to trace statuses back to files.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchPackage {
    /// `compressionType`.
    pub compression_type: CompressionType,
    /// Size and SHA-256 of the whole plain archive (`fileSize`, `fileHash`).
    pub archive: FileMetadata,
    /// The parts in order (`fileParts`).
    pub parts: Vec<BatchPart>,
    /// Each invoice's file name and the size and SHA-256 of its bytes (`invoiceHash` in the
    /// session's invoice statuses).
    pub invoices: BTreeMap<String, FileMetadata>,
}

impl BatchPackage {
    /// The file name of the invoice whose SHA-256 is `sha256_base64` (as a status reports it).
    pub fn file_name_for_hash(&self, sha256_base64: &str) -> Option<&str> {
        self.invoices
            .iter()
            .find(|(_, meta)| meta.sha256_base64() == sha256_base64)
            .map(|(name, _)| name.as_str())
    }

    /// The spec's `BatchFileInfo` of the package (`OpenBatchSessionRequest.batchFile`): the
    /// archive's size and SHA-256, each part's, and the `compressionType`.
    pub fn batch_file_info(&self) -> BatchFileInfo {
        let parts = self
            .parts
            .iter()
            .map(|part| {
                BatchFilePartInfo::new(
                    i32::try_from(part.ordinal_number).unwrap_or(i32::MAX),
                    size_i64(part.encrypted.size),
                    part.encrypted.sha256_base64(),
                )
            })
            .collect::<Vec<_>>();
        BatchFileInfo::new(
            size_i64(self.archive.size),
            self.archive.sha256_base64(),
            parts,
        )
        .with_compression_type(self.compression_type.clone())
    }
}

/// Package sizes are bounded by the batch limits (5 GB), far below `i64::MAX`.
fn size_i64(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// Builds the encrypted parts of a KSeF batch in one pass.
///
/// The invoices go into one archive stream (ZIP by default, or tar.gz); the stream is cut into
/// slices of at most [`BatchLimits::max_part_size`] bytes, and each slice is encrypted with
/// AES-256-CBC/PKCS#7 under the session key and IV, as its own CBC stream, into the
/// [`PartSink`] as it is produced. Memory stays bounded by the working buffers (a few invoices
/// per worker), whatever the size of the batch.
///
/// ZIP entries are compressed independently on `jobs` worker threads and written in order;
/// tar.gz is compressed on the calling thread.
///
/// ```
/// use ksef_crypto::{BatchInvoice, BatchPackager, MemorySink, SessionKey};
///
/// # fn main() -> Result<(), ksef_crypto::Error> {
/// let key = SessionKey::generate()?;
/// let invoices = vec![
///     BatchInvoice::from_bytes("fa-1.xml", b"<Faktura>1</Faktura>".to_vec()),
///     BatchInvoice::from_bytes("fa-2.xml", b"<Faktura>2</Faktura>".to_vec()),
/// ];
/// let mut sink = MemorySink::new();
/// let package = BatchPackager::new().package(&key, invoices, &mut sink)?;
/// assert_eq!(package.parts.len(), 1);
/// assert_eq!(package.invoices.len(), 2);
/// let _file_hash = package.archive.sha256_base64(); // batchFile.fileHash
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BatchPackager {
    compression_type: CompressionType,
    level: CompressionLevel,
    jobs: usize,
    limits: BatchLimits,
}

impl Default for BatchPackager {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchPackager {
    /// ZIP, deflate level 6, one job per available core, KSeF's limits.
    pub fn new() -> Self {
        Self {
            compression_type: CompressionType::Zip,
            level: CompressionLevel::Default,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            limits: BatchLimits::default(),
        }
    }

    /// Chooses the archive format: Zip (the default) or TarGz; any other value fails
    /// [`package`](Self::package) with [`Error::UnsupportedCompressionType`].
    pub fn compression_type(mut self, compression_type: CompressionType) -> Self {
        self.compression_type = compression_type;
        self
    }

    /// Chooses the compression level.
    pub fn level(mut self, level: CompressionLevel) -> Self {
        self.level = level;
        self
    }

    /// Number of threads compressing ZIP entries (0 counts as 1). With 1, the calling thread waits
    /// while the worker compresses, so the work is serial and uses one core at a time; the output
    /// bytes are the same for any number of jobs.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Sets the limits to check against.
    pub fn limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits checked against.
    pub fn current_limits(&self) -> &BatchLimits {
        &self.limits
    }

    /// Checks what can be checked before packaging: invoice count, names (safe and unique) and
    /// sizes, and, for stored (uncompressed) ZIP entries, the archive size and part count.
    ///
    /// # Errors
    ///
    /// [`Error::LimitExceeded`] naming the limit and the first file that crosses it,
    /// [`Error::InvalidFileName`] or [`Error::DuplicateFileName`].
    pub fn check(&self, invoices: &[BatchInvoice]) -> Result<()> {
        let limits = &self.limits;
        if let Some(extra) =
            invoices.get(usize::try_from(limits.max_invoices).unwrap_or(usize::MAX))
        {
            check(
                Limit::InvoiceCount,
                Some(&extra.name),
                invoices.len() as u64,
                u64::from(limits.max_invoices),
            )?;
        }
        let mut names = HashSet::with_capacity(invoices.len());
        let mut stored_total: u64 = 22; // end of central directory record
        for invoice in invoices {
            check_file_name(&invoice.name)?;
            if !names.insert(invoice.name.as_str()) {
                return Err(Error::DuplicateFileName {
                    name: invoice.name.clone(),
                });
            }
            check(
                Limit::InvoiceSize,
                Some(&invoice.name),
                invoice.size,
                limits.max_invoice_size,
            )?;
            if self.compression_type == CompressionType::Zip
                && self.level == CompressionLevel::Stored
            {
                // Local header (30) + central header (46) + the name twice: a lower bound.
                stored_total = stored_total
                    .saturating_add(invoice.size)
                    .saturating_add(76 + 2 * invoice.name.len() as u64);
                check(
                    Limit::ArchiveSize,
                    Some(&invoice.name),
                    stored_total,
                    limits.max_archive_size,
                )?;
                let parts = stored_total.div_ceil(limits.max_part_size.max(1));
                check(
                    Limit::PartCount,
                    Some(&invoice.name),
                    parts,
                    u64::from(limits.max_parts),
                )?;
            }
        }
        Ok(())
    }

    /// Packages `invoices` in order into encrypted parts delivered to `sink`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedCompressionType`] for an archive format other than Zip or TarGz;
    /// those of [`check`](Self::check), before any part is created; then
    /// [`Error::LimitExceeded`] ([`Limit::ArchiveSize`] or [`Limit::PartCount`], naming the
    /// invoice being written) as soon as the archive outgrows them,
    /// [`Error::InvoiceSizeMismatch`] if an invoice's reader or file does not hold its declared
    /// size, [`Error::Io`] from reading invoices or from the sink, [`Error::Archive`] from the
    /// archive writer. Parts already delivered to the sink are then incomplete and must be
    /// discarded.
    pub fn package<S: PartSink>(
        &self,
        key: &SessionKey,
        invoices: impl IntoIterator<Item = BatchInvoice>,
        mut sink: S,
    ) -> Result<BatchPackage> {
        let format = ArchiveFormat::of(&self.compression_type)?;
        let invoices: Vec<BatchInvoice> = invoices.into_iter().collect();
        self.check(&invoices)?;
        let splitter = Splitter::new(&mut sink, key, self.limits);
        let (splitter, hashes) = match format {
            ArchiveFormat::Zip => self.write_zip(invoices, splitter)?,
            ArchiveFormat::TarGz => self.write_tar_gz(invoices, splitter)?,
        };
        let (parts, archive) = splitter.finish()?;
        Ok(BatchPackage {
            compression_type: self.compression_type.clone(),
            archive,
            parts,
            invoices: hashes,
        })
    }

    fn entry_options(&self) -> SimpleFileOptions {
        let options = SimpleFileOptions::default().unix_permissions(0o644);
        match self.level {
            CompressionLevel::Stored => options.compression_method(CompressionMethod::Stored),
            level => options
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(i64::from(level.deflate_level()))),
        }
    }

    /// Writes the ZIP stream of `invoices` to `out` (the [`Splitter`] when packaging).
    fn write_zip<W: Write>(
        &self,
        invoices: Vec<BatchInvoice>,
        out: W,
    ) -> Result<(W, BTreeMap<String, FileMetadata>)> {
        let options = self.entry_options();
        let mut zip = ZipWriter::new_stream(out);
        let mut hashes = BTreeMap::new();
        let mut append = |zip: &mut ZipWriter<_>, group: CompressedGroup| -> Result<()> {
            for (prepared, (name, metadata)) in group.files.into_iter().zip(group.entries) {
                zip.add_prepared_file(prepared)
                    .map_err(|e| zip_error(e, &name))?;
                hashes.insert(name, metadata);
            }
            Ok(())
        };
        let mut groups = Groups {
            invoices: invoices.into_iter().peekable(),
        };
        type Job = (Vec<BatchInvoice>, SyncSender<Result<CompressedGroup>>);
        let jobs = self.jobs;
        // With one job, the calling thread waits for each group (a window of one): the work is
        // serial, as on one core, but the short-lived allocations of compression (the `zip`
        // crate's deflate state for every entry) are made in the worker thread's heap, apart
        // from the long-lived per-entry bookkeeping made here, which would otherwise fragment
        // the heap and raise the peak. With more jobs, up to two groups per job are in flight.
        let window = if jobs == 1 { 1 } else { jobs * 2 };
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(window);
        let job_rx = Mutex::new(job_rx);
        std::thread::scope(|scope| -> Result<()> {
            // Dropping `job_tx` when this closure returns (normally or early) stops the workers.
            let job_tx = job_tx;
            for _ in 0..jobs {
                let job_rx = &job_rx;
                scope.spawn(move || {
                    loop {
                        let job = job_rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok((group, result_tx)) = job else { break };
                        // The receiver is gone only if packaging already failed.
                        let _ = result_tx.send(compress_group(group, options));
                    }
                });
            }
            // At most `window` groups are in flight: memory is bounded by the group size.
            let mut pending: VecDeque<Receiver<Result<CompressedGroup>>> =
                VecDeque::with_capacity(window);
            loop {
                while pending.len() < window {
                    let Some(group) = groups.next() else {
                        break;
                    };
                    let (result_tx, result_rx) = mpsc::sync_channel(1);
                    job_tx
                        .send((group, result_tx))
                        .map_err(|_| worker_stopped())?;
                    pending.push_back(result_rx);
                }
                let Some(result_rx) = pending.pop_front() else {
                    break;
                };
                let group = result_rx.recv().map_err(|_| worker_stopped())??;
                append(&mut zip, group)?;
            }
            Ok(())
        })?;
        let stream = zip.finish().map_err(|e| zip_error(e, ""))?;
        Ok((stream.into_inner(), hashes))
    }

    fn write_tar_gz<'s, S: PartSink>(
        &self,
        invoices: Vec<BatchInvoice>,
        splitter: Splitter<'s, S>,
    ) -> Result<(Splitter<'s, S>, BTreeMap<String, FileMetadata>)> {
        let gzip = flate2::write::GzEncoder::new(
            splitter,
            flate2::Compression::new(self.level.deflate_level()),
        );
        let mut builder = tar::Builder::new(gzip);
        builder.mode(tar::HeaderMode::Deterministic);
        let mut hashes = BTreeMap::new();
        for invoice in invoices {
            let (name, bytes, metadata) = invoice.read()?;
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(metadata.size);
            header.set_mode(0o644);
            header.set_mtime(0);
            builder
                .append_data(&mut header, &name, bytes.as_slice())
                .map_err(|e| tar_error(e, &name))?;
            hashes.insert(name, metadata);
        }
        let gzip = builder.into_inner().map_err(|e| tar_error(e, ""))?;
        let splitter = gzip.finish().map_err(|e| tar_error(e, ""))?;
        Ok((splitter, hashes))
    }
}

fn worker_stopped() -> Error {
    Error::Archive {
        format: "ZIP",
        file: None,
        source: Box::new(Cause("a compression worker stopped")),
    }
}

/// Consecutive invoices are handed to the workers in groups, so that the hand-over between threads
/// is shared; a group holds at most this many bytes of invoices (or one invoice, if larger)...
const GROUP_BYTES: u64 = 1 << 20;
/// ... and at most this many invoices.
const GROUP_INVOICES: usize = 256;

/// Cuts the invoices into groups of consecutive invoices.
struct Groups<I: Iterator<Item = BatchInvoice>> {
    invoices: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = BatchInvoice>> Iterator for Groups<I> {
    type Item = Vec<BatchInvoice>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut group = Vec::new();
        let mut bytes = 0u64;
        while group.len() < GROUP_INVOICES {
            let Some(next_size) = self.invoices.peek().map(|invoice| invoice.size) else {
                break;
            };
            if !group.is_empty() && bytes + next_size > GROUP_BYTES {
                break;
            }
            bytes += next_size;
            group.extend(self.invoices.next());
        }
        (!group.is_empty()).then_some(group)
    }
}

/// A group of invoices compressed (each into its own deflate stream) off the writing thread,
/// ready to be appended in order with [`ZipWriter::add_prepared_file`].
struct CompressedGroup {
    files: Vec<PreparedZipFile>,
    /// Each entry's name and the metadata of its plain bytes, in the same order.
    entries: Vec<(String, FileMetadata)>,
}

fn compress_group(
    invoices: Vec<BatchInvoice>,
    options: SimpleFileOptions,
) -> Result<CompressedGroup> {
    let mut files = Vec::with_capacity(invoices.len());
    let mut entries = Vec::with_capacity(invoices.len());
    for invoice in invoices {
        let (name, bytes, metadata) = invoice.read()?;
        let prepared =
            PreparedZipFile::from_data(&name, options, &bytes).map_err(|e| zip_error(e, &name))?;
        files.push(prepared);
        entries.push((name, metadata));
    }
    Ok(CompressedGroup { files, entries })
}

/// Gives back the [`Error`] an I/O error carries (our sink's limit errors travel through the
/// archive writers this way), or wraps it.
pub(crate) fn from_io(error: io::Error) -> Error {
    if error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        // Checked just above: the inner error is present and is an `Error`.
        if let Some(inner) = error.into_inner() {
            match inner.downcast::<Error>() {
                Ok(ours) => return *ours,
                Err(other) => {
                    return Error::Io {
                        source: io::Error::other(other),
                    };
                }
            }
        }
        return Error::Io {
            source: io::Error::other("I/O error"),
        };
    }
    Error::Io { source: error }
}

/// Names `file` in a limit error that names no file yet (the splitter does not know which entry
/// its bytes belong to).
fn name_file(error: Error, file: &str) -> Error {
    match error {
        Error::LimitExceeded {
            limit,
            file: None,
            actual,
            max,
        } if !file.is_empty() => Error::LimitExceeded {
            limit,
            file: Some(file.to_owned()),
            actual,
            max,
        },
        other => other,
    }
}

pub(crate) fn zip_error(error: zip::result::ZipError, file: &str) -> Error {
    match error {
        zip::result::ZipError::Io(io) => name_file(from_io(io), file),
        other => Error::Archive {
            format: "ZIP",
            file: (!file.is_empty()).then(|| file.to_owned()),
            source: Box::new(other),
        },
    }
}

pub(crate) fn tar_error(error: io::Error, file: &str) -> Error {
    if error.kind() == io::ErrorKind::InvalidData
        || error.get_ref().is_some_and(|inner| inner.is::<Error>())
    {
        match from_io(error) {
            Error::Io { source } => Error::Archive {
                format: "tar.gz",
                file: (!file.is_empty()).then(|| file.to_owned()),
                source: Box::new(source),
            },
            ours => name_file(ours, file),
        }
    } else {
        from_io(error)
    }
}
