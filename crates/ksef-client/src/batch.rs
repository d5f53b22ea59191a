//! Batch sessions: package invoices, open the session, upload the parts, close, and report what
//! became of each invoice by its local file name.

use futures_util::stream;
use futures_util::{FutureExt as _, StreamExt as _};
use std::path::PathBuf;

use bytes::Bytes;
use ksef_crypto::{BatchInvoice, BatchPackage, BatchPackager, DirectorySink, SessionKey};
use ksef_model::Method;
use ksef_model::operations::{
    CloseBatchSession, GetSessionStatus, GetSessionUpo, ListSessionInvoices, OpenBatchSession,
};
use ksef_model::types::{
    CompressionType, EncryptionInfo, FormCode, OpenBatchSessionRequest, PartUploadRequest,
    SessionInvoiceStatusResponse, SessionStatusResponse,
};
use ksef_model::values::ReferenceNumber;
use ksef_transport::PresignedRequest;

use crate::client::Client;
use crate::error::Error;
use crate::files::ScratchDir;
use crate::online::InvoiceOutcome;

/// Attempts at opening or closing a batch session when the answer is lost or a 5xx.
const SESSION_CALL_ATTEMPTS: u32 = 4;

/// Invoices per page when listing a session's invoices.
const INVOICE_LIST_PAGE_SIZE: i32 = 1000;

/// How [`Client::send_batch`] packages and uploads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchOptions {
    /// Parts uploaded at once (at least 1; default 4).
    pub max_uploads_in_flight: usize,
    /// Attempts per part before the upload gives up (at least 1; default 3). Each attempt is
    /// itself retried by the transport's retry policy; only the failed part is sent again.
    pub upload_attempts: u32,
    /// Declares the invoices as issued in offline mode.
    pub offline_mode: bool,
    /// The archive format of the package: Zip (the default) or tar.gz (`compressionType`).
    pub compression_type: CompressionType,
    /// The largest encrypted part in bytes (default: the KSeF limit of 100 MB).
    pub max_part_size: Option<u64>,
    /// Where the encrypted parts wait for their upload (default: the system's temporary
    /// directory). A private directory (0700) is made inside it and removed when the upload is
    /// over, whatever its outcome.
    pub scratch_dir: Option<PathBuf>,
    /// Features asked for with the `X-KSeF-Feature` header on session open (e.g.
    /// [`crate::FEATURE_SUBJECT_IDENTIFIER_VALIDATION`]); none by default.
    pub features: Vec<String>,
    /// Told what the submission is doing ([`BatchOptions::on_progress`]); none by default.
    pub progress: Option<BatchProgress>,
}

/// What [`Client::submit_batch`] has just done, for a progress display or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchEvent {
    /// The invoices are packaged and encrypted: `parts` parts of `bytes` bytes in all.
    Packaged {
        /// Invoices in the package.
        invoices: usize,
        /// Encrypted parts to upload.
        parts: usize,
        /// Their total size in bytes.
        bytes: u64,
    },
    /// The batch session is open; its parts are not all uploaded yet. Until
    /// [`BatchEvent::Closed`], KSeF processes none of its invoices: a session that is never
    /// closed is cancelled when its upload time runs out.
    Opened {
        /// The session's reference number.
        reference_number: ReferenceNumber,
    },
    /// One part is uploaded.
    PartUploaded {
        /// Its ordinal number (from 1).
        part: i32,
        /// Its encrypted size in bytes.
        bytes: u64,
    },
    /// Every part is uploaded and the session's close is being sent: from here on the close may
    /// take effect even if the submission is abandoned (the session's status tells).
    Closing {
        /// The session's reference number.
        reference_number: ReferenceNumber,
    },
    /// Every part is uploaded and the session is closed: KSeF processes its invoices now.
    Closed {
        /// The session's reference number.
        reference_number: ReferenceNumber,
    },
}

/// The callback of [`BatchOptions::on_progress`].
#[derive(Clone)]
pub struct BatchProgress(std::sync::Arc<dyn Fn(&BatchEvent) + Send + Sync>);

impl std::fmt::Debug for BatchProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchProgress(..)")
    }
}

impl BatchProgress {
    fn tell(progress: Option<&BatchProgress>, event: BatchEvent) {
        if let Some(progress) = progress {
            (progress.0)(&event);
        }
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_uploads_in_flight: 4,
            upload_attempts: 3,
            offline_mode: false,
            compression_type: CompressionType::Zip,
            max_part_size: None,
            scratch_dir: None,
            features: Vec::new(),
            progress: None,
        }
    }
}

impl BatchOptions {
    /// The defaults: 4 uploads in flight, 3 attempts per part, online mode.
    pub fn new() -> Self {
        BatchOptions::default()
    }

    /// Sets the number of parts uploaded at once.
    pub fn max_uploads_in_flight(mut self, n: usize) -> Self {
        self.max_uploads_in_flight = n.max(1);
        self
    }

    /// Sets the attempts per part.
    pub fn upload_attempts(mut self, n: u32) -> Self {
        self.upload_attempts = n.max(1);
        self
    }

    /// Splits the package into parts of at most `bytes` (below the KSeF limit).
    pub fn max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = Some(bytes);
        self
    }

    /// Keeps the encrypted parts under `dir` until they are uploaded (instead of the system's
    /// temporary directory).
    pub fn with_scratch_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.scratch_dir = Some(dir.into());
        self
    }

    /// Declares the invoices as issued in offline mode.
    pub fn offline_mode(mut self, offline: bool) -> Self {
        self.offline_mode = offline;
        self
    }

    /// Packages the invoices as a Zip (the default) or a tar.gz archive.
    pub fn compression_type(mut self, compression_type: CompressionType) -> Self {
        self.compression_type = compression_type;
        self
    }

    /// Asks for `feature` on session open (sent in `X-KSeF-Feature`; several are
    /// comma-separated).
    pub fn with_feature(mut self, feature: impl Into<String>) -> Self {
        self.features.push(feature.into());
        self
    }

    /// Calls `progress` with each [`BatchEvent`] of the submission (packaged, opened, each part
    /// uploaded, closing, closed), on the task that submits; keep it quick.
    pub fn on_progress(mut self, progress: impl Fn(&BatchEvent) + Send + Sync + 'static) -> Self {
        self.progress = Some(BatchProgress(std::sync::Arc::new(progress)));
        self
    }
}

/// What became of one invoice of a batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchInvoiceOutcome {
    /// The local file name the invoice was packaged under (`None` if KSeF reports a hash that
    /// matches no packaged invoice).
    pub file_name: Option<String>,
    /// The SHA-256 (base64) of the invoice.
    pub invoice_hash: String,
    /// The invoice's reference number in the session.
    pub reference_number: ReferenceNumber,
    /// The classified outcome.
    pub outcome: InvoiceOutcome,
    /// The full status KSeF reported.
    pub status: SessionInvoiceStatusResponse,
}

/// The result of a processed batch session.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    client: Client,
    /// The batch session's reference number.
    pub reference_number: ReferenceNumber,
    /// The final session status: 200, or 445 when every invoice was refused.
    pub status: SessionStatusResponse,
    /// One entry per invoice KSeF reported, in KSeF's order.
    pub invoices: Vec<BatchInvoiceOutcome>,
    /// The package that was sent (hashes and sizes of the archive, parts and invoices).
    pub package: BatchPackage,
}

impl BatchOutcome {
    /// The outcome of the invoice packaged under `file_name`.
    pub fn invoice(&self, file_name: &str) -> Option<&BatchInvoiceOutcome> {
        self.invoices
            .iter()
            .find(|i| i.file_name.as_deref() == Some(file_name))
    }

    /// The session UPO (XML), one document per page.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedResponse`] if the status lists no UPO, [`Error::Transport`].
    pub async fn session_upo(&self) -> Result<Vec<Vec<u8>>, Error> {
        let pages = self
            .status
            .upo
            .as_ref()
            .map(|u| u.pages.clone())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::UnexpectedResponse {
                reason: format!("batch session {} lists no UPO", self.reference_number),
            })?;
        let mut documents = Vec::with_capacity(pages.len());
        for page in pages {
            documents.push(
                self.client
                    .execute(&GetSessionUpo::new(
                        self.reference_number.clone(),
                        page.reference_number,
                    ))
                    .await?,
            );
        }
        Ok(documents)
    }

    /// The UPO (XML) of one accepted invoice, from the download link of its status.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedResponse`] if the invoice has no UPO link, [`Error::Transport`].
    pub async fn invoice_upo(&self, invoice: &BatchInvoiceOutcome) -> Result<Vec<u8>, Error> {
        let url =
            invoice
                .status
                .upo_download_url
                .clone()
                .ok_or_else(|| Error::UnexpectedResponse {
                    reason: format!("invoice {} has no UPO link", invoice.reference_number),
                })?;
        let response = self
            .client
            .transport()
            .execute_presigned(PresignedRequest::get(url))
            .await?;
        Ok(response.body().to_vec())
    }
}

/// The `POST /sessions/batch` request for a package: the form code, the archive's and each
/// part's size and SHA-256 exactly as packaged, and the wrapped session key (with the Ministry
/// key's id when the wrapping knew it).
///
/// For packages made ahead of time ([`ksef_crypto::BatchPackager`] with a
/// [`ksef_crypto::DirectorySink`]) and sent by other means; [`Client::send_batch`] builds the
/// same request itself. Set `offline_mode` on the result for invoices issued offline.
///
/// ```
/// use ksef_client::crypto::{BatchInvoice, BatchPackager, MemorySink, SessionKey};
/// use ksef_client::{batch_open_request, form_code};
/// use ksef_model::types::EncryptionInfo;
///
/// # fn example(key: SessionKey, wrapped: EncryptionInfo) -> Result<(), Box<dyn std::error::Error>> {
/// // `wrapped`: `key.wrap(&ministry_certificate)?.to_encryption_info()`
/// let invoices = vec![BatchInvoice::from_bytes("a.xml", b"<Faktura/>".to_vec())];
/// let package = BatchPackager::new().package(&key, invoices, &mut MemorySink::new())?;
/// let request = batch_open_request(form_code::fa3(), &package, &wrapped);
/// assert_eq!(request.batch_file.file_parts.len(), package.parts.len());
/// # Ok(())
/// # }
/// ```
pub fn batch_open_request(
    form_code: FormCode,
    package: &BatchPackage,
    encryption: &EncryptionInfo,
) -> OpenBatchSessionRequest {
    OpenBatchSessionRequest::new(form_code, package.batch_file_info(), encryption.clone())
}

/// A batch session whose parts are uploaded and which is closed: KSeF processes it on its own.
/// [`wait`](Self::wait) for the outcome now or later.
#[derive(Debug, Clone)]
pub struct SubmittedBatch {
    client: Client,
    /// The batch session's reference number (`ksef session status REF`, or
    /// `GET /sessions/{referenceNumber}`).
    pub reference_number: ReferenceNumber,
    /// The package that was sent (hashes and sizes of the archive, parts and invoices).
    pub package: BatchPackage,
}

impl SubmittedBatch {
    /// Waits with the client's [`PollConfig`](crate::PollConfig) until KSeF has processed the
    /// session and reports each invoice's outcome under its local file name.
    ///
    /// # Errors
    ///
    /// A session that KSeF processed but in which no invoice was valid (status 445) is an
    /// outcome, not an error: every invoice is listed with its own refusal (a duplicate, a
    /// schema error, ...), as in a session where only some were refused; check
    /// [`BatchOutcome::status`].
    ///
    /// # Errors
    ///
    /// [`Error::SessionFailed`] for a session KSeF could not process (405, 415, 420, 430, 435,
    /// 440), [`Error::PollTimeout`], [`Error::Transport`].
    pub async fn wait(self) -> Result<BatchOutcome, Error> {
        let client = self.client;
        let reference_number = self.reference_number;
        let package = self.package;
        let status = client.wait_for_batch(&reference_number).await?;
        let listed = client.batch_invoices(&reference_number).await?;
        let invoices = listed
            .into_iter()
            .map(|status| BatchInvoiceOutcome {
                file_name: package
                    .file_name_for_hash(status.invoice_hash.as_str())
                    .map(str::to_owned),
                invoice_hash: status.invoice_hash.as_str().to_owned(),
                reference_number: status.reference_number.clone(),
                outcome: InvoiceOutcome::of(&status),
                status,
            })
            .collect();
        Ok(BatchOutcome {
            client,
            reference_number,
            status,
            invoices,
            package,
        })
    }
}

/// The session status of a processed session in which no invoice was valid.
const NO_VALID_INVOICES: i32 = 445;

/// Whether a part upload's failure is final: a 4xx says the request itself is wrong (a bad or
/// expired link, a part the storage will not take); sending it again gets the same answer. 408
/// and 429 ask for another try.
fn refused_for_good(error: &ksef_transport::Error) -> bool {
    error
        .status()
        .is_some_and(|status| (400..500).contains(&status) && status != 408 && status != 429)
}

impl Client {
    /// Sends `invoices` (FA(3), FA(2), … as `form_code` says) in one batch session and waits for
    /// the outcome: [`submit_batch`](Client::submit_batch), then [`SubmittedBatch::wait`].
    ///
    /// # Errors
    ///
    /// As the two steps.
    pub async fn send_batch(
        &self,
        form_code: FormCode,
        invoices: Vec<BatchInvoice>,
        options: BatchOptions,
    ) -> Result<BatchOutcome, Error> {
        self.submit_batch(form_code, invoices, options)
            .await?
            .wait()
            .await
    }

    /// Packages `invoices` into an encrypted Zip (or tar.gz, [`BatchOptions::compression_type`])
    /// split into parts, opens the batch session,
    /// uploads the parts (`options.max_uploads_in_flight` at once, each failed part retried
    /// alone) and closes the session; returns without waiting for KSeF to process it.
    ///
    /// Packaging runs on a blocking thread and writes the encrypted parts to a private scratch
    /// directory ([`BatchOptions::with_scratch_dir`]); each part is read back when it is uploaded.
    /// Memory is bounded by the packager's buffers and the parts in flight, not by the batch.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] (packaging, limits, key wrapping), [`Error::Transport`],
    /// [`Error::BatchUploadFailed`] for a part refused with a 4xx (not retried) or failing every
    /// attempt (the session is then closed, or the error says why it could not be).
    pub async fn submit_batch(
        &self,
        form_code: FormCode,
        invoices: Vec<BatchInvoice>,
        options: BatchOptions,
    ) -> Result<SubmittedBatch, Error> {
        let scratch = ScratchDir::create(options.scratch_dir.as_deref(), "batch")?;
        let max_part_size = options.max_part_size;
        let compression_type = options.compression_type;
        let dir = scratch.path.clone();
        let (key, package, parts) = tokio::task::spawn_blocking(move || {
            let key = SessionKey::generate()?;
            let mut sink = DirectorySink::new(dir);
            let mut packager = BatchPackager::new().compression_type(compression_type);
            if let Some(size) = max_part_size {
                let limits = packager.current_limits().with_max_part_size(size);
                packager = packager.limits(limits);
            }
            let package = packager.package(&key, invoices, &mut sink)?;
            Ok::<_, Error>((key, package, sink.paths().to_vec()))
        })
        .await
        .map_err(|e| Error::storage("the packaging thread failed", std::io::Error::other(e)))??;

        let progress = options.progress.as_ref();
        BatchProgress::tell(
            progress,
            BatchEvent::Packaged {
                invoices: package.invoices.len(),
                parts: package.parts.len(),
                bytes: package.parts.iter().map(|p| p.encrypted.size).sum(),
            },
        );

        let mut open_attempts = 1;
        let opened = loop {
            let opening = self.send_with_wrapped_key(&key, |encryption| {
                let mut request = OpenBatchSessionRequest::new(
                    form_code.clone(),
                    package.batch_file_info(),
                    encryption,
                );
                if options.offline_mode {
                    request = request.with_offline_mode(true);
                }
                let mut op = OpenBatchSession::new(request);
                if let Some(feature) = crate::online::feature_header(&options.features) {
                    op = op.with_ksef_feature(feature);
                }
                async move { self.execute(&op).await }
            });
            match opening.await {
                Ok(opened) => break opened,
                // Opening again is safe: a session opened by a lost answer gets no parts and
                // KSeF cancels it when its upload time runs out.
                Err(error) if open_attempts < SESSION_CALL_ATTEMPTS && error.outcome_unknown() => {
                    tracing::warn!(%error, attempt = open_attempts, "opening the batch session failed without a definite answer; opening another");
                    open_attempts += 1;
                }
                Err(error) => return Err(error),
            }
        };
        let reference_number = opened.reference_number;
        BatchProgress::tell(
            progress,
            BatchEvent::Opened {
                reference_number: reference_number.clone(),
            },
        );

        let uploads = opened.part_upload_requests.into_iter().map(|request| {
            let index = usize::try_from(request.ordinal_number - 1).ok();
            let body = index.and_then(|index| parts.get(index)).cloned();
            let bytes = index
                .and_then(|index| package.parts.get(index))
                .map_or(0, |p| p.encrypted.size);
            let part = request.ordinal_number;
            self.upload_part(request, body, options.upload_attempts)
                .map(move |result| match result {
                    Ok(()) => {
                        BatchProgress::tell(progress, BatchEvent::PartUploaded { part, bytes });
                        Ok(())
                    }
                    Err(error) => Err((part, error)),
                })
        });
        let results: Vec<Result<(), (i32, Error)>> = stream::iter(uploads)
            .buffer_unordered(options.max_uploads_in_flight.max(1))
            .collect()
            .await;
        drop(scratch);
        let failed = results
            .into_iter()
            .filter_map(Result::err)
            .min_by_key(|(part, _)| *part);
        if let Some((part, error)) = failed {
            // Never leave the session open: closed now, KSeF ends it for the missing part.
            let close_error = self.close_batch(&reference_number).await.err();
            if let Some(close_error) = &close_error {
                tracing::warn!(session = %reference_number, error = %close_error, "closing the batch session after a failed upload failed");
            }
            return Err(Error::BatchUploadFailed {
                reference_number,
                part,
                source: Box::new(error),
                close_error: close_error.map(Box::new),
            });
        }

        BatchProgress::tell(
            progress,
            BatchEvent::Closing {
                reference_number: reference_number.clone(),
            },
        );
        self.close_batch(&reference_number).await?;
        BatchProgress::tell(
            progress,
            BatchEvent::Closed {
                reference_number: reference_number.clone(),
            },
        );
        Ok(SubmittedBatch {
            client: self.clone(),
            reference_number,
            package,
        })
    }

    /// Closes a batch session. When the answer is lost or a 5xx, the session's status says
    /// whether the close took effect (anything but 100, "started") before it is sent again.
    async fn close_batch(&self, reference_number: &ReferenceNumber) -> Result<(), Error> {
        let mut attempt = 1;
        loop {
            let error = match self
                .execute(&CloseBatchSession::new(reference_number.clone()))
                .await
            {
                Ok(()) => return Ok(()),
                Err(error) if attempt < SESSION_CALL_ATTEMPTS && error.outcome_unknown() => error,
                Err(error) => return Err(error),
            };
            let status = self
                .execute(&GetSessionStatus::new(reference_number.clone()))
                .await?;
            if status.status.code != 100 {
                return Ok(());
            }
            tracing::warn!(%error, attempt, session = %reference_number, "closing the batch session failed and it is still open; closing again");
            attempt += 1;
        }
    }

    /// Uploads one part as its upload request says, retrying it alone up to `attempts` times;
    /// a 4xx answer (other than 408 and 429, which ask to try again) is final.
    async fn upload_part(
        &self,
        request: PartUploadRequest,
        path: Option<PathBuf>,
        attempts: u32,
    ) -> Result<(), Error> {
        let path = path.ok_or_else(|| Error::UnexpectedResponse {
            reason: format!(
                "KSeF asked for part {}, which the package does not have",
                request.ordinal_number
            ),
        })?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            "PUT" => Method::Put,
            "POST" => Method::Post,
            other => {
                return Err(Error::UnexpectedResponse {
                    reason: format!("unsupported part upload method {other}"),
                });
            }
        };
        // Read when its turn comes: only the parts in flight are in memory.
        let body = tokio::task::spawn_blocking({
            let path = path.clone();
            move || std::fs::read(path)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|read| read)
        .map(Bytes::from)
        .map_err(|e| Error::storage(format!("cannot read {}", path.display()), e))?;
        let mut attempt = 1;
        loop {
            let mut presigned =
                PresignedRequest::new(method, request.url.clone()).body_bytes(body.clone());
            for (name, value) in &request.headers {
                if let Some(value) = value {
                    presigned = presigned.header(name.clone(), value.clone());
                }
            }
            match self.transport().execute_presigned(presigned).await {
                Ok(_) => return Ok(()),
                Err(error) if attempt < attempts && !refused_for_good(&error) => {
                    tracing::warn!(
                        part = request.ordinal_number,
                        attempt,
                        %error,
                        "batch part upload failed; retrying this part"
                    );
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Polls a closed batch session until it is processed (200).
    async fn wait_for_batch(
        &self,
        reference_number: &ReferenceNumber,
    ) -> Result<SessionStatusResponse, Error> {
        let mut backoff = self.inner.poll.start();
        loop {
            let read = self
                .execute(&GetSessionStatus::new(reference_number.clone()))
                .await;
            let what = || format!("batch session {reference_number}");
            let Some(status) = backoff.read(what, read).await? else {
                continue;
            };
            match status.status.code {
                100 | 150 => {}
                // 445: processed, and every invoice refused; the listing says why for each.
                200 | NO_VALID_INVOICES => return Ok(status),
                code => {
                    return Err(Error::SessionFailed {
                        reference_number: reference_number.clone(),
                        code,
                        description: status.status.description,
                        details: status.status.details.unwrap_or_default(),
                    });
                }
            }
            backoff
                .wait_or_time_out(|| format!("batch session {reference_number}"))
                .await?;
        }
    }

    /// Every invoice of a session, page by page.
    async fn batch_invoices(
        &self,
        reference_number: &ReferenceNumber,
    ) -> Result<Vec<SessionInvoiceStatusResponse>, Error> {
        let mut all = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let mut operation = ListSessionInvoices::new(reference_number.clone())
                .with_page_size(INVOICE_LIST_PAGE_SIZE);
            if let Some(token) = continuation.take() {
                operation = operation.with_continuation_token(token);
            }
            let page = self.execute(&operation).await?;
            all.extend(page.invoices);
            match page.continuation_token {
                Some(token) if !token.is_empty() => continuation = Some(token),
                _ => return Ok(all),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ksef_crypto::{BatchPackager, MemorySink};

    use super::*;

    #[test]
    fn open_request_declares_the_package_as_packaged() {
        let key = SessionKey::generate().expect("a key");
        let invoices: Vec<BatchInvoice> = (0..20)
            .map(|i| {
                BatchInvoice::from_bytes(
                    format!("{i}.xml"),
                    format!("<Faktura>{}</Faktura>", "x".repeat(i * 400)).into_bytes(),
                )
            })
            .collect();
        let mut packager = BatchPackager::new();
        let limits = packager.current_limits().with_max_part_size(2048);
        packager = packager.limits(limits);
        let mut sink = MemorySink::new();
        let package = packager
            .package(&key, invoices, &mut sink)
            .expect("packaged");
        assert!(package.parts.len() > 1);
        let encryption = EncryptionInfo::new("S0VZ", "SVY=").with_public_key_id("key-1");
        let request = batch_open_request(crate::form_code::fa3(), &package, &encryption);
        assert_eq!(request.form_code, crate::form_code::fa3());
        assert_eq!(request.encryption.encrypted_symmetric_key, "S0VZ");
        assert_eq!(request.encryption.initialization_vector, "SVY=");
        assert_eq!(request.encryption.public_key_id.as_deref(), Some("key-1"));
        assert_eq!(request.batch_file.file_size as u64, package.archive.size);
        assert_eq!(
            request.batch_file.file_hash.as_str(),
            package.archive.sha256_base64()
        );
        assert_eq!(request.batch_file.file_parts.len(), package.parts.len());
        for (declared, part) in request.batch_file.file_parts.iter().zip(&package.parts) {
            assert_eq!(declared.ordinal_number as u64, part.ordinal_number as u64);
            assert_eq!(declared.file_size as u64, part.encrypted.size);
            assert_eq!(declared.file_hash.as_str(), part.encrypted.sha256_base64());
        }
        assert_eq!(request.offline_mode, None);
    }
}
