//! Batch packaging: invoices → one ZIP (or tar.gz) stream → parts of at most the KSeF part size →
//! each part AES-256-CBC encrypted into its own sink, in a single pass.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};

use zip::write::{PreparedZipFile, SimpleFileOptions};
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Cause, Error, Result};
use crate::limits::{BatchLimits, Limit, check, check_file_name};
use crate::metadata::{FileHasher, FileMetadata, file_metadata};
use crate::session_key::SessionKey;
use crate::stream::EncryptingWriter;

/// The archive format of a batch or an export package: the spec's `CompressionType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionType {
    /// A ZIP archive (KSeF's default).
    #[default]
    Zip,
    /// A gzip-compressed tar archive (accepted since API 2.6.0).
    TarGz,
}

impl CompressionType {
    /// The value of the spec's `compressionType` field: `"Zip"` or `"TarGz"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "Zip",
            Self::TarGz => "TarGz",
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

/// Receives the encrypted parts of a batch, one after the other, as they are produced.
pub trait PartSink {
    /// Where one part's ciphertext is written.
    type Writer: Write;

    /// Opens the destination of part `ordinal_number` (1-based).
    ///
    /// # Errors
    ///
    /// Any I/O error; packaging stops with it.
    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer>;

    /// Called with the writer of a part once all its ciphertext has been written and flushed.
    ///
    /// # Errors
    ///
    /// Any I/O error; packaging stops with it.
    fn finish_part(&mut self, ordinal_number: u32, writer: Self::Writer) -> io::Result<()>;
}

impl<S: PartSink + ?Sized> PartSink for &mut S {
    type Writer = S::Writer;

    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer> {
        (**self).create_part(ordinal_number)
    }

    fn finish_part(&mut self, ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        (**self).finish_part(ordinal_number, writer)
    }
}

/// Writes each part to a file `{prefix}.{ordinal:03}.aes` in a directory (`part.001.aes`, ... by
/// default), creating or truncating it.
#[derive(Clone, Debug)]
pub struct DirectorySink {
    dir: PathBuf,
    prefix: String,
    paths: Vec<PathBuf>,
}

impl DirectorySink {
    /// A sink writing into `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            prefix: "part".to_owned(),
            paths: Vec::new(),
        }
    }

    /// Uses `prefix` instead of `part` at the start of the file names.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The path of part `ordinal_number`.
    pub fn path_of(&self, ordinal_number: u32) -> PathBuf {
        self.dir
            .join(format!("{}.{ordinal_number:03}.aes", self.prefix))
    }

    /// The paths of the parts written so far, in order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl PartSink for DirectorySink {
    type Writer = BufWriter<File>;

    fn create_part(&mut self, ordinal_number: u32) -> io::Result<Self::Writer> {
        let path = self.path_of(ordinal_number);
        let file = File::create(&path)?;
        self.paths.push(path);
        Ok(BufWriter::with_capacity(256 << 10, file))
    }

    fn finish_part(&mut self, _ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok(())
    }
}

/// Keeps the parts in memory (for tests and small batches).
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    parts: Vec<Vec<u8>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encrypted parts received so far, in order.
    pub fn parts(&self) -> &[Vec<u8>] {
        &self.parts
    }

    /// Gives back the encrypted parts, in order.
    pub fn into_parts(self) -> Vec<Vec<u8>> {
        self.parts
    }
}

impl PartSink for MemorySink {
    type Writer = Vec<u8>;

    fn create_part(&mut self, _ordinal_number: u32) -> io::Result<Self::Writer> {
        Ok(Vec::new())
    }

    fn finish_part(&mut self, _ordinal_number: u32, writer: Self::Writer) -> io::Result<()> {
        self.parts.push(writer);
        Ok(())
    }
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

    /// Chooses the archive format.
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
    /// Those of [`check`](Self::check), before any part is created; then
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
        let invoices: Vec<BatchInvoice> = invoices.into_iter().collect();
        self.check(&invoices)?;
        let splitter = Splitter {
            sink: &mut sink,
            key,
            limits: self.limits,
            current: None,
            parts: Vec::new(),
            whole: FileHasher::new(),
            failed: false,
        };
        let (splitter, hashes) = match self.compression_type {
            CompressionType::Zip => self.write_zip(invoices, splitter)?,
            CompressionType::TarGz => self.write_tar_gz(invoices, splitter)?,
        };
        let (parts, archive) = splitter.finish()?;
        Ok(BatchPackage {
            compression_type: self.compression_type,
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

/// The archive stream's destination: cuts it into parts and encrypts each into the sink.
struct Splitter<'s, S: PartSink> {
    sink: &'s mut S,
    key: &'s SessionKey,
    limits: BatchLimits,
    /// The part being written and the plain bytes it holds so far.
    current: Option<(EncryptingWriter<S::Writer>, u64)>,
    parts: Vec<BatchPart>,
    whole: FileHasher,
    /// Set after the first error: the archive writer's `Drop` then finalizes into nothing instead
    /// of reporting a second failure on stderr.
    failed: bool,
}

impl<S: PartSink> Splitter<'_, S> {
    fn close_part(&mut self) -> Result<()> {
        if let Some((writer, _)) = self.current.take() {
            let (inner, metadata) = writer.finish()?;
            // Parts are numbered from 1 and never exceed `max_parts` (a u32).
            let ordinal_number = self.parts.len() as u32 + 1;
            self.sink.finish_part(ordinal_number, inner)?;
            self.parts.push(BatchPart {
                ordinal_number,
                encrypted: metadata.ciphertext,
                plaintext: metadata.plaintext,
            });
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Vec<BatchPart>, FileMetadata)> {
        self.close_part()?;
        Ok((self.parts, self.whole.finish()))
    }

    fn write_some(&mut self, buf: &[u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let max_part = self.limits.max_part_size.max(1);
        if self
            .current
            .as_ref()
            .is_some_and(|(_, len)| *len >= max_part)
        {
            self.close_part()?;
        }
        let file = None;
        check(
            Limit::ArchiveSize,
            file,
            self.whole.size() + buf.len() as u64,
            self.limits.max_archive_size,
        )?;
        let (writer, len) = match &mut self.current {
            Some(current) => current,
            None => {
                let ordinal = self.parts.len() as u64 + 1;
                check(
                    Limit::PartCount,
                    file,
                    ordinal,
                    u64::from(self.limits.max_parts),
                )?;
                // Checked just above: the ordinal fits in `max_parts`, a u32.
                let inner = self.sink.create_part(ordinal as u32)?;
                self.current
                    .insert((EncryptingWriter::new(inner, self.key), 0))
            }
        };
        let room = usize::try_from(max_part - *len).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        writer.write_all(&buf[..n])?;
        *len += n as u64;
        self.whole.update(&buf[..n]);
        Ok(n)
    }
}

impl<S: PartSink> Write for Splitter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        self.write_some(buf).map_err(|error| {
            self.failed = true;
            io::Error::from(error)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! A batch ZIP beyond 4 GiB, which needs ZIP64. Pushing 4.3 GB through encryption and four
    //! SHA-256 passes takes some 20 s of CPU even in release, so this test drives the ZIP stage
    //! of the packager (the same [`BatchPackager::write_zip`] that `package` runs, into the
    //! [`Splitter`] there) into a sparse file instead; the splitter and the encryption are size
    //! agnostic and covered by the round-trip tests. The invoices are a line naming them followed
    //! by zeros, so the 4.3 GB archive takes a few megabytes of disk. The ZIP64 end records and
    //! every central directory entry are then parsed by hand, each local header is checked where
    //! the directory puts it, and Info-ZIP's `unzip -t` reads the whole archive and checks every
    //! entry's CRC.

    use std::io::{self, Read as _, Write};
    use std::os::unix::fs::FileExt as _;

    use super::*;

    const INVOICES: usize = 1_440;
    const INVOICE_SIZE: u64 = 3_000_000;
    const FOUR_GIB: u64 = 1 << 32;

    fn name(i: usize) -> String {
        format!("5265877635-20250826-{i:012X}-AF.xml")
    }

    fn head(i: usize) -> String {
        format!("<Faktura nr=\"{i}\">\n")
    }

    /// An invoice: a line naming it (so that every entry's CRC differs), then zeros.
    fn invoice(i: usize) -> BatchInvoice {
        let head = head(i).into_bytes();
        let zeros = io::repeat(0).take(INVOICE_SIZE - head.len() as u64);
        BatchInvoice::from_reader(name(i), INVOICE_SIZE, io::Cursor::new(head).chain(zeros))
    }

    /// Writes at the stream's offset, leaving holes for whole blocks of zeros.
    struct Sparse {
        file: File,
        offset: u64,
    }

    impl Write for Sparse {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            for block in buf.chunks(4096) {
                if block.iter().any(|&b| b != 0) {
                    self.file.write_all_at(block, self.offset)?;
                }
                self.offset += block.len() as u64;
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    fn u64_at(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    }

    fn read_at(file: &File, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, offset).unwrap();
        buf
    }

    /// One central directory entry: name, local header offset, compressed size.
    type Entry = (String, u64, u64);

    /// Parses the end of the archive and its central directory by hand (APPNOTE 4.3.14 to
    /// 4.3.16, 4.5.3): the entries, and where the directory starts.
    fn central_directory(file: &File, size: u64) -> (Vec<Entry>, u64) {
        // End of central directory record (no comment): the last 22 bytes.
        let eocd = read_at(file, size - 22, 22);
        assert_eq!(u32_at(&eocd, 0), 0x0605_4b50, "end of central directory");
        assert_eq!(usize::from(u16_at(&eocd, 10)), INVOICES);
        assert_eq!(
            u32_at(&eocd, 16),
            u32::MAX,
            "offset deferred to the ZIP64 record"
        );
        // ZIP64 end of central directory locator: the 20 bytes before it.
        let locator = read_at(file, size - 42, 20);
        assert_eq!(u32_at(&locator, 0), 0x0706_4b50, "ZIP64 locator");
        assert_eq!(u32_at(&locator, 16), 1, "one disk");
        let record_at = u64_at(&locator, 8);
        // ZIP64 end of central directory record.
        let record = read_at(file, record_at, 56);
        assert_eq!(
            u32_at(&record, 0),
            0x0606_4b50,
            "ZIP64 end of central directory"
        );
        assert_eq!(
            u64_at(&record, 4),
            44,
            "record size after its first 12 bytes"
        );
        assert_eq!(u64_at(&record, 24), INVOICES as u64);
        assert_eq!(u64_at(&record, 32), INVOICES as u64);
        let directory_size = u64_at(&record, 40);
        let directory_at = u64_at(&record, 48);
        assert!(directory_at > FOUR_GIB, "the directory starts beyond 4 GiB");
        assert_eq!(directory_at + directory_size, record_at);

        let directory = read_at(file, directory_at, directory_size.try_into().unwrap());
        let mut entries = Vec::new();
        let mut at = 0;
        while at < directory.len() {
            assert_eq!(u32_at(&directory, at), 0x0201_4b50, "central header");
            let compressed = u32_at(&directory, at + 20);
            let uncompressed = u32_at(&directory, at + 24);
            let name_len = usize::from(u16_at(&directory, at + 28));
            let extra_len = usize::from(u16_at(&directory, at + 30));
            let comment_len = usize::from(u16_at(&directory, at + 32));
            let offset = u32_at(&directory, at + 42);
            let name = String::from_utf8(directory[at + 46..at + 46 + name_len].to_vec()).unwrap();
            let extra = &directory[at + 46 + name_len..at + 46 + name_len + extra_len];
            // Stored entries of 3,000,000 bytes need no ZIP64 sizes; only the offset may.
            assert_eq!(u64::from(compressed), INVOICE_SIZE, "{name}");
            assert_eq!(u64::from(uncompressed), INVOICE_SIZE, "{name}");
            let mut zip64_offset = None;
            let mut e = 0;
            while e + 4 <= extra.len() {
                let (id, len) = (u16_at(extra, e), usize::from(u16_at(extra, e + 2)));
                if id == 0x0001 {
                    assert_eq!(len, 8, "{name}: the ZIP64 field holds the offset alone");
                    zip64_offset = Some(u64_at(extra, e + 4));
                }
                e += 4 + len;
            }
            let offset = if offset == u32::MAX {
                zip64_offset.unwrap_or_else(|| panic!("{name}: no ZIP64 offset"))
            } else {
                assert_eq!(
                    zip64_offset, None,
                    "{name}: a ZIP64 field the header does not mark"
                );
                u64::from(offset)
            };
            entries.push((name, offset, u64::from(compressed)));
            at += 46 + name_len + extra_len + comment_len;
        }
        (entries, directory_at)
    }

    #[test]
    fn a_zip_beyond_4_gib_has_valid_zip64_records() {
        let dir = std::env::temp_dir().join(format!(
            "ksef-crypto-zip64-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("batch.zip");
        let sparse = Sparse {
            file: File::create(&path).unwrap(),
            offset: 0,
        };
        let packager = BatchPackager::new()
            .jobs(2)
            .level(CompressionLevel::Stored)
            .limits(BatchLimits::default().with_max_invoice_size(INVOICE_SIZE));
        let invoices: Vec<BatchInvoice> = (0..INVOICES).map(invoice).collect();
        packager.check(&invoices).unwrap();
        let (sparse, hashes) = packager.write_zip(invoices, sparse).unwrap();
        let size = sparse.offset;
        sparse.file.set_len(size).unwrap();
        drop(sparse);
        assert!(size > FOUR_GIB, "{size}");
        assert_eq!(hashes.len(), INVOICES);

        let file = File::open(&path).unwrap();
        assert_eq!(file.metadata().unwrap().len(), size);
        let (entries, directory_at) = central_directory(&file, size);
        assert_eq!(entries.len(), INVOICES);
        let mut next = 0;
        for (i, (entry_name, offset, compressed)) in entries.iter().enumerate() {
            assert_eq!(*entry_name, name(i));
            assert_eq!(*offset, next, "{entry_name}: entries follow each other");
            let local = read_at(&file, *offset, 30 + entry_name.len());
            assert_eq!(u32_at(&local, 0), 0x0403_4b50, "{entry_name}: local header");
            assert_eq!(&local[30..], entry_name.as_bytes());
            let extra_len = u64::from(u16_at(&local, 28));
            let data = offset + 30 + entry_name.len() as u64 + extra_len;
            let head = head(i);
            assert_eq!(
                read_at(&file, data, head.len()),
                head.as_bytes(),
                "{entry_name}"
            );
            // The next entry (or the directory) follows the data, after a data descriptor (12
            // to 24 bytes) if the general purpose flags announce one.
            let end = data + compressed;
            next = end;
            if u16_at(&local, 6) & 0x0008 != 0 {
                next = entries.get(i + 1).map_or(directory_at, |e| e.1);
                assert!(
                    (end + 12..=end + 24).contains(&next),
                    "{entry_name}: data descriptor"
                );
            }
        }
        assert_eq!(next, directory_at);
        assert!(
            entries[INVOICES - 1].1 > FOUR_GIB,
            "entries lie beyond 4 GiB"
        );

        // The reading above (this test's own, not the zip crate's) is the default oracle; a 4 GiB
        // archive is too large to key a golden answer on, so Info-ZIP runs in live mode only
        // (`KSEF_ORACLES=live`, crate `ksef-oracle`).
        if !ksef_oracle::Mode::from_env().runs_tools() {
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        // Info-ZIP lists every entry from the central directory, and reads and checks the CRC
        // of the first entries and of the last ones, which lie beyond 4 GiB. (All of them would
        // take Info-ZIP's CRC some 15 s of CPU.)
        let unzip = |args: &[&str]| {
            let mut command = ksef_oracle::UNZIP.command();
            command.args(args).current_dir(&dir);
            let output = ksef_oracle::UNZIP.output(&mut command, b"");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "unzip {args:?}: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            stdout
        };
        let listed = unzip(&["-Z1", "batch.zip"]);
        let expected: Vec<String> = (0..INVOICES).map(name).collect();
        assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
        let beyond = entries.iter().filter(|e| e.1 > FOUR_GIB).count();
        assert!(beyond >= 5, "{beyond} entries beyond 4 GiB");
        let mut args = vec!["-t".to_owned(), "batch.zip".to_owned()];
        args.extend((0..3).chain(INVOICES - beyond..INVOICES).map(name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let tested = unzip(&args);
        let _ = std::fs::remove_dir_all(&dir);
        for i in (0..3).chain(INVOICES - beyond..INVOICES) {
            let testing = format!("testing: {} ", name(i));
            assert!(
                tested
                    .lines()
                    .any(|l| l.trim_start().starts_with(&testing) && l.ends_with(" OK")),
                "{}: {tested}",
                name(i)
            );
        }
        let summary = format!(
            "No errors detected in batch.zip for the {} files tested.",
            3 + beyond
        );
        assert!(tested.contains(&summary), "{tested}");
    }
}
