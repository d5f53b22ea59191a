//! Incremental invoice sync by KSeF's permanent-storage high-water mark (HWM).
//!
//! KSeF reports, with every metadata query by `PermanentStorage` date, the instant
//! (`permanentStorageHwmDate`) up to which the set of stored invoices is final: no invoice with a
//! permanent-storage date at or before it will ever appear later. Sync keeps one checkpoint per
//! subject role (seller, buyer, third party, authorised subject) and, on every run, reads the
//! window from the checkpoint to the HWM:
//!
//! 1. ask for the window by `PermanentStorage` date, from the checkpoint, with
//!    `restrictToPermanentStorageHwmDate` set (and a window end when the checkpoint is more than
//!    KSeF's 100-day range behind): as one encrypted export package ([`SyncSource::Export`],
//!    the default and what KSeF recommends), or as metadata pages plus one download per invoice
//!    ([`SyncSource::Query`], for small volumes: downloads are limited to 64 an hour);
//! 2. hand every invoice the sink does not hold yet, checked against its metadata hash, to the
//!    sink, which stores it atomically;
//! 3. only when the window is complete, move the checkpoint to the HWM (or to the window end when
//!    it comes first). A package KSeF truncates (10 000 invoices or 1 GB) moves the checkpoint to
//!    its `lastPermanentStorageDate`, and a truncated metadata listing to the last record's date,
//!    as soon as every earlier invoice is stored.
//!
//! Windows are contiguous, so nothing falls between them; records on a boundary come twice and
//! are skipped by KSeF number. A crash or kill at any point therefore resumes with no gap (the
//! checkpoint never passes an invoice that is not stored) and no duplicate (the sink is keyed by
//! KSeF number and its writes are atomic).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset};
use futures_util::StreamExt as _;
use futures_util::stream;
use ksef_model::types::{
    InvoiceMetadata, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType,
};
use ksef_model::values::KsefNumber;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::files::DirectoryLock;
use crate::query::{MetadataQuery, Pager};

/// KSeF's error code for a range starting after the HWM while restricted to it: nothing new yet.
const RANGE_BEYOND_HWM: i64 = 21183;

/// The export status for the same case.
const EXPORT_BEYOND_HWM: i32 = 420;

/// How many times sync starts an export whose start got no usable answer.
const EXPORT_START_ATTEMPTS: u32 = 4;

/// Stores one invoice after checking its bytes (`actual`: their size and SHA-256) against the
/// hash its metadata declares, and counts it.
fn store_checked(
    sink: &dyn InvoiceSink,
    metadata: &InvoiceMetadata,
    xml: &[u8],
    actual: &ksef_crypto::FileMetadata,
    report: &mut SubjectSyncReport,
) -> Result<(), Error> {
    let hash = actual.sha256_base64();
    if hash != metadata.invoice_hash.as_str() {
        return Err(Error::UnexpectedResponse {
            reason: format!(
                "invoice {} came with SHA-256 {hash}, but its metadata says {}",
                metadata.ksef_number,
                metadata.invoice_hash.as_str()
            ),
        });
    }
    sink.store(metadata, xml)?;
    report.stored += 1;
    Ok(())
}

/// How a window ended.
enum Window {
    /// KSeF says the window starts beyond the HWM: nothing to read yet.
    NothingYet,
    /// Every invoice up to the HWM is stored.
    Complete(DateTime<FixedOffset>),
    /// An export stopped at KSeF's cap; every invoice before this date is stored.
    Truncated(DateTime<FixedOffset>),
}

/// Where sync keeps its checkpoints (one instant per key; keys name the context and the role).
///
/// Implementations must make [`CheckpointStore::save`] durable and atomic: after a crash,
/// [`CheckpointStore::load`] returns either the previous checkpoint or the new one.
pub trait CheckpointStore: Send + Sync {
    /// The checkpoint saved under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the store cannot be read.
    fn load(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, Error>;

    /// Replaces the checkpoint under `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the checkpoint could not be persisted.
    fn save(&self, key: &str, checkpoint: DateTime<FixedOffset>) -> Result<(), Error>;
}

/// Checkpoints in memory (for tests and one-off runs).
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    checkpoints: Mutex<BTreeMap<String, DateTime<FixedOffset>>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> MemoryCheckpointStore {
        MemoryCheckpointStore::default()
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    fn load(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, Error> {
        Ok(lock(&self.checkpoints).get(key).copied())
    }

    fn save(&self, key: &str, checkpoint: DateTime<FixedOffset>) -> Result<(), Error> {
        lock(&self.checkpoints).insert(key.to_owned(), checkpoint);
        Ok(())
    }
}

/// The checkpoints behind `mutex`, also after a panic while it was held (every update replaces
/// whole values).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Checkpoints in one JSON file (`{"checkpoints": {key: instant}}`), rewritten atomically on
/// every save (temporary file, fsync, rename).
#[derive(Debug)]
pub struct FileCheckpointStore {
    path: PathBuf,
    checkpoints: Mutex<BTreeMap<String, DateTime<FixedOffset>>>,
}

/// The file layout of [`FileCheckpointStore`].
#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckpointFile {
    checkpoints: BTreeMap<String, DateTime<FixedOffset>>,
}

impl FileCheckpointStore {
    /// Opens (or, on the first save, creates) the checkpoint file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the file exists but cannot be read or parsed.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileCheckpointStore, Error> {
        let path = path.into();
        let read = crate::files::read_state_file(&path, crate::files::STATE_FILE_LIMIT);
        let checkpoints = match read {
            Ok(bytes) => {
                serde_json::from_slice::<CheckpointFile>(&bytes)
                    .map_err(|e| {
                        Error::storage(format!("{} is not a checkpoint file", path.display()), e)
                    })?
                    .checkpoints
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::storage(format!("cannot read {}", path.display()), e)),
        };
        Ok(FileCheckpointStore {
            path,
            checkpoints: Mutex::new(checkpoints),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CheckpointStore for FileCheckpointStore {
    fn load(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, Error> {
        Ok(lock(&self.checkpoints).get(key).copied())
    }

    fn save(&self, key: &str, checkpoint: DateTime<FixedOffset>) -> Result<(), Error> {
        let mut checkpoints = lock(&self.checkpoints);
        let mut next = CheckpointFile {
            checkpoints: checkpoints.clone(),
        };
        next.checkpoints.insert(key.to_owned(), checkpoint);
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| Error::storage("cannot serialize the checkpoints", e))?;
        crate::files::write_atomically(&self.path, &bytes)
            .map_err(|e| Error::storage(format!("cannot write {}", self.path.display()), e))?;
        *checkpoints = next.checkpoints;
        Ok(())
    }
}

/// Where synced invoices go. Keyed by KSeF number: an invoice the sink already holds is neither
/// downloaded nor stored again.
pub trait InvoiceSink: Send + Sync {
    /// Whether the invoice is already stored in full.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the sink cannot tell.
    fn contains(&self, ksef_number: &KsefNumber) -> Result<bool, Error>;

    /// Stores one invoice (its XML exactly as KSeF returned it, and its metadata record) so that
    /// after a crash it is either wholly present (and [`InvoiceSink::contains`] says so) or
    /// absent.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if it could not be stored.
    fn store(&self, metadata: &InvoiceMetadata, xml: &[u8]) -> Result<(), Error>;

    /// Where sync keeps export packages while they are decrypted and unpacked, unless
    /// [`SyncOptions::with_scratch_dir`] says otherwise: a private `.ksef-tmp` directory is made
    /// there, and what a killed run left in it is removed on the next run. `None` (the default)
    /// means the system's temporary directory; a sink that keeps invoices on disk should name
    /// its own directory, so decrypted invoices never leave the destination.
    fn scratch_dir(&self) -> Option<&Path> {
        None
    }
}

/// Invoices as files in one directory: `{ksefNumber}.xml` (the invoice as KSeF keeps it) and
/// `{ksefNumber}.json` (its metadata record). Each file is written atomically (mode 0600), the XML
/// first, so the metadata file marks a complete invoice.
///
/// The sink holds an OS lock on the directory ([`DirectoryLock`]) for as long as it (or a clone)
/// lives: a second sink on the same directory, in this process or another, is refused with
/// [`Error::DirectoryBusy`] naming the holder. The lock goes with the process, also when it is
/// killed.
#[derive(Debug, Clone)]
pub struct DirectorySink {
    dir: PathBuf,
    _lock: std::sync::Arc<DirectoryLock>,
}

impl DirectorySink {
    /// A sink writing into `dir` (created if missing), locked against a second writer.
    ///
    /// # Errors
    ///
    /// [`Error::DirectoryBusy`] if another sink (another `invoice sync`) holds the directory,
    /// [`Error::Storage`] if the directory cannot be created or locked.
    ///
    /// Temporary files a killed earlier run left behind (`.{name}.{pid}.{random}.tmp` of another
    /// process) are removed, and so are its scratch directories (see
    /// [`SyncOptions::with_scratch_dir`]).
    pub fn new(dir: impl Into<PathBuf>) -> Result<DirectorySink, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::storage(format!("cannot create {}", dir.display()), e))?;
        let lock = DirectoryLock::acquire(&dir, "invoice sync")?;
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::storage(format!("cannot read {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if crate::files::is_stale_temporary(&name.to_string_lossy()) {
                // Best effort: a leftover that cannot be removed does no harm.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(DirectorySink {
            dir,
            _lock: std::sync::Arc::new(lock),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint file sync keeps beside the invoices by default (`.ksef-sync.json`).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(".ksef-sync.json")
    }

    fn file(&self, ksef_number: &KsefNumber, extension: &str) -> PathBuf {
        self.dir
            .join(format!("{}.{extension}", ksef_number.as_str()))
    }
}

impl InvoiceSink for DirectorySink {
    fn contains(&self, ksef_number: &KsefNumber) -> Result<bool, Error> {
        let path = self.file(ksef_number, "json");
        path.try_exists()
            .map_err(|e| Error::storage(format!("cannot check {}", path.display()), e))
    }

    fn store(&self, metadata: &InvoiceMetadata, xml: &[u8]) -> Result<(), Error> {
        let xml_path = self.file(&metadata.ksef_number, "xml");
        crate::files::write_atomically(&xml_path, xml)
            .map_err(|e| Error::storage(format!("cannot write {}", xml_path.display()), e))?;
        let json = serde_json::to_vec_pretty(metadata)
            .map_err(|e| Error::storage("cannot serialize invoice metadata", e))?;
        let json_path = self.file(&metadata.ksef_number, "json");
        crate::files::write_atomically(&json_path, &json)
            .map_err(|e| Error::storage(format!("cannot write {}", json_path.display()), e))
    }

    fn scratch_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }
}

/// How sync reads a window from KSeF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncSource {
    /// One encrypted export package per window (up to 10 000 invoices each): what KSeF
    /// recommends for incremental sync, and the only way that scales (exports are limited to 20
    /// an hour, single downloads to 64 an hour).
    #[default]
    Export,
    /// Metadata queries plus one download per invoice: for small volumes, or where exports are
    /// not permitted.
    Query,
}

/// What [`Client::sync_invoices`] reads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    source: SyncSource,
    export: crate::export::ExportOptions,
    subject_types: Vec<InvoiceQuerySubjectType>,
    start: DateTime<FixedOffset>,
    scope: String,
    concurrency: usize,
    page_size: i32,
}

impl SyncOptions {
    /// Sync the invoices where the logged-in context is the seller (`Subject1`), the buyer
    /// (`Subject2`) and a third party (`Subject3`), starting at `start` for a role without a
    /// checkpoint yet. `scope` prefixes the checkpoint keys (use the context NIP, and the
    /// environment if one store serves several).
    pub fn new(scope: impl Into<String>, start: DateTime<FixedOffset>) -> SyncOptions {
        SyncOptions {
            subject_types: vec![
                InvoiceQuerySubjectType::Subject1,
                InvoiceQuerySubjectType::Subject2,
                InvoiceQuerySubjectType::Subject3,
            ],
            source: SyncSource::Export,
            export: crate::export::ExportOptions::new(),
            start,
            scope: scope.into(),
            concurrency: 4,
            page_size: 250,
        }
    }

    /// The roles to sync, in order (each has its own checkpoint).
    pub fn with_subject_types(
        mut self,
        subject_types: impl IntoIterator<Item = InvoiceQuerySubjectType>,
    ) -> SyncOptions {
        self.subject_types = subject_types.into_iter().collect();
        self
    }

    /// How windows are read (default [`SyncSource::Export`]).
    pub fn with_source(mut self, source: SyncSource) -> SyncOptions {
        self.source = source;
        self
    }

    /// Where export packages are decrypted and unpacked (see
    /// [`ExportOptions::with_scratch_dir`](crate::ExportOptions::with_scratch_dir)); by default
    /// the sink's [`InvoiceSink::scratch_dir`] (for a [`DirectorySink`], its own directory).
    pub fn with_scratch_dir(mut self, dir: impl Into<PathBuf>) -> SyncOptions {
        self.export = self.export.with_scratch_dir(dir);
        self
    }

    /// Downloads in flight at once with [`SyncSource::Query`] (at least 1; default 4).
    pub fn with_concurrency(mut self, concurrency: usize) -> SyncOptions {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Records per metadata page (KSeF accepts 10 to 250; default 250).
    pub fn with_page_size(mut self, page_size: i32) -> SyncOptions {
        self.page_size = page_size;
        self
    }

    /// The checkpoint key of one role: `{scope}/{subjectType}`.
    pub fn checkpoint_key(&self, subject_type: &InvoiceQuerySubjectType) -> String {
        format!("{}/{}", self.scope, subject_type.as_str())
    }
}

/// What one role's sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectSyncReport {
    /// The role.
    pub subject_type: InvoiceQuerySubjectType,
    /// The checkpoint the run started from.
    pub from: DateTime<FixedOffset>,
    /// The checkpoint it ended at (the HWM, when caught up).
    pub checkpoint: DateTime<FixedOffset>,
    /// Metadata records KSeF listed (boundary records counted once).
    pub listed: u64,
    /// Invoices downloaded and stored by this run.
    pub stored: u64,
    /// Listed invoices the sink already held (from an earlier, interrupted run or another role).
    pub already_present: u64,
    /// Windows queried.
    pub windows: u32,
}

/// What [`Client::sync_invoices`] did, per role.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// One entry per role, in the order of [`SyncOptions::with_subject_types`].
    pub subjects: Vec<SubjectSyncReport>,
}

impl SyncReport {
    /// Invoices stored by this run over all roles.
    pub fn stored(&self) -> u64 {
        self.subjects.iter().map(|s| s.stored).sum()
    }
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.subjects.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{}: {} listed, {} stored, {} already present, checkpoint {}",
                s.subject_type.as_str(),
                s.listed,
                s.stored,
                s.already_present,
                s.checkpoint.to_rfc3339()
            )?;
        }
        Ok(())
    }
}

impl Client {
    /// Brings `sink` up to date with KSeF by the high-water-mark algorithm (see the
    /// [module docs](crate::sync)): for each role in `options`, reads the invoices whose
    /// permanent-storage date lies between the role's checkpoint in `checkpoints` (or
    /// [`SyncOptions::new`]'s start) and the HWM, stores the ones `sink` lacks, and moves the
    /// checkpoint forward only past invoices that are stored.
    ///
    /// Safe to interrupt at any point (drop the future, kill the process) and run again: the next
    /// run resumes from the last saved checkpoint, skips what the sink already holds, and ends with
    /// every invoice exactly once.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] from KSeF, [`Error::Storage`] from the sink or the checkpoint store,
    /// [`Error::UnexpectedResponse`] if a downloaded invoice does not match its metadata hash.
    pub async fn sync_invoices(
        &self,
        options: &SyncOptions,
        checkpoints: &dyn CheckpointStore,
        sink: &dyn InvoiceSink,
    ) -> Result<SyncReport, Error> {
        let mut subjects = Vec::with_capacity(options.subject_types.len());
        for subject_type in &options.subject_types {
            subjects.push(
                self.sync_subject(options, subject_type, checkpoints, sink)
                    .await?,
            );
        }
        Ok(SyncReport { subjects })
    }

    async fn sync_subject(
        &self,
        options: &SyncOptions,
        subject_type: &InvoiceQuerySubjectType,
        checkpoints: &dyn CheckpointStore,
        sink: &dyn InvoiceSink,
    ) -> Result<SubjectSyncReport, Error> {
        let key = options.checkpoint_key(subject_type);
        let from = checkpoints.load(&key)?.unwrap_or(options.start);
        let mut report = SubjectSyncReport {
            subject_type: subject_type.clone(),
            from,
            checkpoint: from,
            listed: 0,
            stored: 0,
            already_present: 0,
            windows: 0,
        };
        loop {
            let window_start = report.checkpoint;
            // KSeF refuses ranges over 100 days (in UTC): cap the window when far behind.
            let now = chrono::Utc::now().fixed_offset();
            let window_end = window_start
                .checked_add_signed(chrono::TimeDelta::days(crate::query::MAX_DATE_RANGE_DAYS))
                .filter(|end| *end < now);
            let mut range =
                InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, window_start)
                    .with_restrict_to_permanent_storage_hwm_date(true);
            if let Some(end) = window_end {
                range = range.with_to(end);
            }
            let filters = InvoiceQueryFilters::new(subject_type.clone(), range);
            report.windows += 1;
            let outcome = match options.source {
                SyncSource::Query => {
                    let query = MetadataQuery::new(filters).with_page_size(options.page_size);
                    self.sync_window(options, &key, query, checkpoints, sink, &mut report)
                        .await?
                }
                SyncSource::Export => {
                    self.sync_window_export(options, filters, sink, &mut report)
                        .await?
                }
            };
            let hwm = match outcome {
                // Nothing past the HWM yet: the checkpoint stays.
                Window::NothingYet => break,
                // The package stopped at KSeF's cap: continue from its last date.
                Window::Truncated(next) => {
                    if next <= report.checkpoint {
                        return Err(Error::UnexpectedResponse {
                            reason: format!(
                                "more invoices than one export holds share the permanent-storage date {next}"
                            ),
                        });
                    }
                    checkpoints.save(&key, next)?;
                    report.checkpoint = next;
                    continue;
                }
                Window::Complete(hwm) => hwm,
            };
            // The window ends at its `to` when that comes before the HWM, else at the HWM.
            let end = match window_end {
                Some(end) if end < hwm => end,
                _ => hwm,
            };
            if end > report.checkpoint {
                checkpoints.save(&key, end)?;
                report.checkpoint = end;
            }
            if window_end.is_none_or(|window_end| window_end >= hwm) {
                break;
            }
        }
        tracing::info!(
            subject_type = subject_type.as_str(),
            listed = report.listed,
            stored = report.stored,
            checkpoint = %report.checkpoint,
            "invoice sync finished"
        );
        Ok(report)
    }

    /// Reads one window page by page, storing what the sink lacks. Returns the window's HWM, or
    /// `None` when KSeF says the window starts beyond it (nothing to read yet).
    async fn sync_window(
        &self,
        options: &SyncOptions,
        key: &str,
        query: MetadataQuery,
        checkpoints: &dyn CheckpointStore,
        sink: &dyn InvoiceSink,
        report: &mut SubjectSyncReport,
    ) -> Result<Window, Error> {
        let mut pager = Pager::new(query);
        let mut narrowed = 0;
        while !pager.done() {
            let page = match self.execute(&pager.request()).await {
                Ok(page) => page,
                Err(error) if error.has_code(RANGE_BEYOND_HWM) => return Ok(Window::NothingYet),
                Err(error) => return Err(error),
            };
            let records = pager.absorb(page)?;
            report.listed += records.len() as u64;
            let mut missing = Vec::with_capacity(records.len());
            for record in records {
                if sink.contains(&record.ksef_number)? {
                    report.already_present += 1;
                } else {
                    missing.push(record);
                }
            }
            let mut downloads = stream::iter(missing)
                .map(|record| async move {
                    let xml = self.download_invoice(&record.ksef_number).await?;
                    Ok::<_, Error>((record, xml))
                })
                .buffer_unordered(options.concurrency);
            while let Some(downloaded) = downloads.next().await {
                let (record, xml) = downloaded?;
                store_checked(
                    sink,
                    &record,
                    &xml,
                    &ksef_crypto::file_metadata(&xml),
                    report,
                )?;
            }
            // After a truncated page the range restarts at the last record's date: every record
            // before that date is stored now, so the checkpoint may move there.
            let (times, restart) = pager.narrowing();
            if times > narrowed {
                narrowed = times;
                if restart > report.checkpoint {
                    checkpoints.save(key, restart)?;
                    report.checkpoint = restart;
                }
            }
        }
        Ok(Window::Complete(pager.hwm().ok_or_else(|| {
            Error::UnexpectedResponse {
                reason:
                    "a metadata query by permanent-storage date without permanentStorageHwmDate"
                        .to_owned(),
            }
        })?))
    }

    /// Reads one window as an export package, storing what the sink lacks.
    async fn sync_window_export(
        &self,
        options: &SyncOptions,
        filters: InvoiceQueryFilters,
        sink: &dyn InvoiceSink,
        report: &mut SubjectSyncReport,
    ) -> Result<Window, Error> {
        // Starting an export is not idempotent, so the transport does not repeat it when the
        // answer is lost; a second export of the same window is harmless (read-only, and the
        // first one is simply never downloaded), so sync does.
        let mut export = options.export.clone();
        if export.scratch_dir().is_none()
            && let Some(dir) = sink.scratch_dir()
        {
            export = export.with_scratch_dir(dir);
        }
        let mut attempt = 1;
        let job = loop {
            match self.start_export(filters.clone(), &export).await {
                Ok(job) => break job,
                Err(error) if error.has_code(RANGE_BEYOND_HWM) => return Ok(Window::NothingYet),
                Err(error) if attempt < EXPORT_START_ATTEMPTS && error.outcome_unknown() => {
                    tracing::warn!(attempt, %error, "starting the export failed; starting it again");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                }
                Err(error) => return Err(error),
            }
        };
        let package = match job.wait().await {
            Ok(package) => package,
            Err(Error::ExportFailed {
                code: EXPORT_BEYOND_HWM,
                ..
            }) => return Ok(Window::NothingYet),
            Err(error) => return Err(error),
        };
        if !package.parts.is_empty() {
            let reference = job.reference_number().clone();
            job.download(&package, |invoice| {
                let metadata =
                    invoice
                        .record
                        .as_ref()
                        .ok_or_else(|| Error::UnexpectedResponse {
                            reason: format!(
                                "export {reference} holds {} without a record in _metadata.json",
                                invoice.name
                            ),
                        })?;
                report.listed += 1;
                if sink.contains(&metadata.ksef_number)? {
                    report.already_present += 1;
                    return Ok(());
                }
                store_checked(sink, metadata, &invoice.content, &invoice.metadata, report)?;
                Ok(())
            })
            .await?;
        }
        if package.is_truncated {
            let next =
                package
                    .last_permanent_storage_date
                    .ok_or_else(|| Error::UnexpectedResponse {
                        reason: format!(
                            "export {} is truncated but has no lastPermanentStorageDate",
                            job.reference_number()
                        ),
                    })?;
            return Ok(Window::Truncated(next));
        }
        let hwm = package
            .permanent_storage_hwm_date
            .ok_or_else(|| Error::UnexpectedResponse {
                reason: format!(
                    "export {} by permanent-storage date has no permanentStorageHwmDate",
                    job.reference_number()
                ),
            })?;
        Ok(Window::Complete(hwm))
    }
}
