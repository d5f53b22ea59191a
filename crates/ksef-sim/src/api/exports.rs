//! `/invoices/exports`: asynchronous, encrypted invoice packages, and their part downloads.
//!
//! Simplified: the package is built when the export starts (from the invoices visible then) and
//! shows after [`export_delay`](crate::SimulatorBuilder::export_delay); only the invoice-count
//! cap truncates it (no 1 GB compressed-size cap); statuses never expire (no 410 after 7 days)
//! and part links never stop working.

use chrono::{Duration, Utc};
use ksef_crypto::{BatchInvoice, BatchLimits, BatchPackager, MemorySink};
use ksef_model::types::{
    CompressionType, ExportInvoicesResponse, InvoiceExportRequest, InvoiceExportStatusResponse,
    InvoiceMetadata, InvoicePackage, InvoicePackagePart, InvoicePackagePartParams,
    InvoiceQueryDateType, StatusInfo,
};
use serde::Serialize;

use super::common::invoice_query::{date_of, matches, metadata, permanent_storage_hwm, window};
use super::common::session::unwrap_session_key;
use super::common::subjects::subject_of;
use super::common::{Reply, Req, duration, internal, json, links, new_reference};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{ExportOutcome, ExportPackage, ExportPart, ExportRec, StoredInvoice};

/// Exports in progress one authenticated subject may have in a context.
const MAX_CONCURRENT: usize = 10;

/// The `_metadata.json` of a package.
#[derive(Serialize)]
struct MetadataFile<'a> {
    invoices: &'a [InvoiceMetadata],
}

/// `POST /invoices/exports`.
pub(super) fn start(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: InvoiceExportRequest = req.json()?;
    let now = req.now;
    let compression = shared
        .config
        .export_compression
        .clone()
        .or_else(|| body.compression_type.clone())
        .unwrap_or(CompressionType::Zip);
    if !matches!(compression, CompressionType::Zip | CompressionType::TarGz) {
        return Err(ApiError::validation(
            "compressionType must be Zip or TarGz.",
        ));
    }
    let key = unwrap_session_key(shared, &body.encryption)?;
    let subject = subject_of(shared, req)?;
    let filters = &body.filters;
    let date_type = filters.date_range.date_type.clone();

    // Select under the lock, package outside it.
    let state = shared.state();
    let hwm = permanent_storage_hwm(&state.invoices, now);
    let window = window(filters, now, hwm)?;
    let running = state
        .exports
        .iter()
        .filter(|e| e.context_nip == claims.ctx && e.subject == subject.1 && now < e.completes)
        .count();
    if running >= MAX_CONCURRENT {
        return Err(ApiError::bad_request(
            21182,
            "Osiągnięto limit trwających eksportów.",
            format!(
                "Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit {MAX_CONCURRENT} równoczesnych eksportów faktur. Spróbuj ponownie później."
            ),
        ));
    }
    let mut found: Vec<&StoredInvoice> = state
        .invoices
        .iter()
        .filter(|i| {
            now >= i.visible_from && matches(i, filters, &claims.ctx, window.from, window.to)
        })
        .collect();
    found.sort_by(|a, b| {
        date_of(a, &date_type)
            .cmp(&date_of(b, &date_type))
            .then_with(|| a.ksef_number.cmp(&b.ksef_number))
    });
    let limit = shared.config.export_invoice_limit;
    let is_truncated = found.len() > limit;
    found.truncate(limit);
    let selected: Vec<(String, Vec<u8>, InvoiceMetadata)> = found
        .iter()
        .map(|i| Ok((i.ksef_number.clone(), i.xml.clone(), metadata(i)?)))
        .collect::<Result<_, ApiError>>()?;
    let last = found
        .last()
        .map(|i| (i.issue_date, i.invoicing_date, i.permanent_storage_date));
    drop(found);
    drop(state);

    let reference_number = new_reference(now, "EX")?;
    let reference = reference_number.to_string();
    let outcome = match key {
        None => ExportOutcome::Failed(415, "Błąd odszyfrowania dostarczonego klucza."),
        Some(_) if window.beyond_hwm => ExportOutcome::Failed(
            420,
            "Zakres filtrowania wykracza poza dostępny zakres danych (dateRange.from > PermanentStorageHwmDate).",
        ),
        Some(key) => {
            let invoices: Vec<InvoiceMetadata> =
                selected.iter().map(|(_, _, m)| m.clone()).collect();
            let metadata_json = serde_json::to_vec(&MetadataFile {
                invoices: &invoices,
            })
            .map_err(internal)?;
            let mut files = vec![BatchInvoice::from_bytes(
                ksef_crypto::EXPORT_METADATA_FILE,
                metadata_json,
            )];
            if body.only_metadata != Some(true) {
                files.extend(selected.iter().map(|(number, xml, _)| {
                    BatchInvoice::from_bytes(format!("{number}.xml"), xml.clone())
                }));
            }
            let limits = BatchLimits::default()
                .with_max_part_size(shared.config.export_part_size)
                .with_max_parts(u32::MAX)
                .with_max_archive_size(u64::MAX)
                .with_max_invoice_size(u64::MAX)
                .with_max_invoices(u32::MAX);
            let mut sink = MemorySink::new();
            let package = BatchPackager::new()
                .compression_type(compression.clone())
                .jobs(1)
                .limits(limits)
                .package(&key, files, &mut sink)
                .map_err(internal)?;
            let storage_hwm = window.storage.then_some(window.to.min(hwm));
            let (last_issue, last_invoicing, last_storage) = match (is_truncated, last) {
                (true, Some((issue, invoicing, storage))) => match date_type {
                    InvoiceQueryDateType::Issue => (Some(issue), None, None),
                    InvoiceQueryDateType::PermanentStorage => (None, None, Some(storage)),
                    _ => (None, Some(invoicing), None),
                },
                _ => (None, None, None),
            };
            ExportOutcome::Ready(ExportPackage {
                invoice_count: selected.len(),
                archive_size: package.archive.size,
                extension: match compression {
                    CompressionType::TarGz => "tar.gz",
                    _ => "zip",
                },
                compression,
                signature: links::new_signature(),
                parts: package
                    .parts
                    .iter()
                    .zip(sink.into_parts())
                    .map(|(part, bytes)| ExportPart {
                        plaintext: part.plaintext,
                        encrypted: part.encrypted,
                        bytes,
                    })
                    .collect(),
                is_truncated,
                last_issue_date: last_issue,
                last_invoicing_date: last_invoicing,
                last_permanent_storage_date: last_storage,
                permanent_storage_hwm_date: storage_hwm,
            })
        }
    };
    let completes = now + duration(shared.config.export_delay)?;
    shared.state().exports.push(ExportRec {
        reference: reference.clone(),
        context_nip: claims.ctx.clone(),
        subject: subject.1.clone(),
        completes,
        outcome,
    });
    json(201, &ExportInvoicesResponse::new(reference_number))
}

fn not_found(reference: &str) -> ApiError {
    ApiError::bad_request(
        21175,
        "Wynik zapytania o podanym identyfikatorze nie istnieje.",
        format!("Eksport {reference} nie został znaleziony."),
    )
}

/// `GET /invoices/exports/{referenceNumber}`.
pub(super) fn status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let now = req.now;
    let state = shared.state();
    let export = state
        .exports
        .iter()
        .find(|e| e.reference == reference && e.context_nip == claims.ctx)
        .ok_or_else(|| not_found(reference))?;
    if now < export.completes {
        return json(
            200,
            &InvoiceExportStatusResponse::new(StatusInfo::new(
                100,
                "Eksport faktur w trakcie przetwarzania.",
            )),
        );
    }
    let completed = export.completes.fixed_offset();
    let mut body = match &export.outcome {
        ExportOutcome::Failed(code, description) => {
            InvoiceExportStatusResponse::new(StatusInfo::new(*code, *description))
        }
        ExportOutcome::Ready(package) => {
            let expires = (now + Duration::hours(1)).fixed_offset();
            let parts: Vec<InvoicePackagePart> = package
                .parts
                .iter()
                .enumerate()
                .map(|(index, part)| {
                    let ordinal = index + 1;
                    InvoicePackagePart::new(InvoicePackagePartParams {
                        ordinal_number: i32::try_from(ordinal).unwrap_or(i32::MAX),
                        part_name: format!("{reference}-{ordinal:03}.{}.aes", package.extension),
                        method: "GET".to_owned(),
                        url: links::sign(
                            &format!("{}/_sim/export/{reference}/{ordinal}", shared.root_url),
                            &package.signature,
                        ),
                        part_size: i64::try_from(part.plaintext.size).unwrap_or(i64::MAX),
                        part_hash: part.plaintext.sha256_base64().into(),
                        encrypted_part_size: i64::try_from(part.encrypted.size).unwrap_or(i64::MAX),
                        encrypted_part_hash: part.encrypted.sha256_base64().into(),
                        expiration_date: expires,
                    })
                })
                .collect();
            let mut view = InvoicePackage::new(
                i64::try_from(package.invoice_count).unwrap_or(i64::MAX),
                i64::try_from(package.archive_size).unwrap_or(i64::MAX),
                parts,
                package.is_truncated,
                package.compression.clone(),
            );
            view.last_issue_date = package.last_issue_date;
            view.last_invoicing_date = package.last_invoicing_date.map(|d| d.fixed_offset());
            view.last_permanent_storage_date = package
                .last_permanent_storage_date
                .map(|d| d.fixed_offset());
            view.permanent_storage_hwm_date =
                package.permanent_storage_hwm_date.map(|d| d.fixed_offset());
            let mut body = InvoiceExportStatusResponse::new(StatusInfo::new(
                200,
                "Eksport faktur zakończony sukcesem",
            ));
            body.package = Some(view);
            body.package_expiration_date =
                Some((export.completes + Duration::days(7)).fixed_offset());
            body
        }
    };
    body.completed_date = Some(completed);
    json(200, &body)
}

/// `GET /_sim/export/{reference}/{ordinal}?sig=...`: one encrypted part (no bearer token, like
/// the real storage links), with its SHA-256 in `x-ms-meta-hash`.
pub(crate) fn download_part(
    shared: &Shared,
    reference: &str,
    ordinal: &str,
    query: &str,
) -> Result<Reply, ApiError> {
    let state = shared.state();
    let package = state
        .exports
        .iter()
        .find(|e| e.reference == reference)
        .and_then(|e| match &e.outcome {
            ExportOutcome::Ready(package) if Utc::now() >= e.completes => Some(package),
            _ => None,
        })
        .ok_or_else(|| ApiError::other(404, "Nie znaleziono.", "No such export package."))?;
    links::check(query, &package.signature)?;
    let part = ordinal
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| package.parts.get(i))
        .ok_or_else(|| ApiError::other(404, "Nie znaleziono.", "No such package part."))?;
    Ok(Reply::Binary(part.bytes.clone()))
}
