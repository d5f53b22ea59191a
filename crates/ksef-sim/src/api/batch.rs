//! Batch sessions: open with the declared parts, part uploads on presigned links served by the
//! simulator, and close, which decrypts, unpacks and accepts every invoice of the package.

use std::collections::BTreeMap;
use std::io::Read as _;

use ksef_crypto::file_metadata;
use ksef_model::types::{
    CompressionType, OpenBatchSessionRequest, OpenBatchSessionResponse, PartUploadRequest,
};

use super::common::intake::{check_plain, record_invoice};
use super::common::session::{new_session, session_of, session_status, unwrap_session_key};
use super::common::{Reply, Req, duration, json, links, new_reference};
use crate::errors::ApiError;
use crate::invoice_xml::FormKind;
use crate::shared::Shared;
use crate::state::{BatchState, SessionFailure};

/// Parts a package may have.
const MAX_PARTS: usize = 50;
/// Size of one encrypted part: KSeF's limit of 100,000,000 bytes applies to a part before
/// encryption ([`ksef_crypto::MAX_PART_SIZE`]), and AES-CBC's PKCS#7 padding adds a whole block
/// (16 bytes) to a part of exactly that size. Declared sizes are checked against it at open, and
/// upload bodies while they are read.
pub(crate) const MAX_PART_SIZE: i64 = ksef_crypto::MAX_PART_SIZE as i64 + 16;
/// Size of the whole package.
const MAX_ARCHIVE_SIZE: i64 = 5_000_000_000;
/// Invoices in one package.
const MAX_INVOICES: usize = 10_000;
/// The header the upload instructions carry (as Azure block blobs want).
const BLOB_TYPE_HEADER: (&str, &str) = ("x-ms-blob-type", "BlockBlob");

fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(21405, "Błąd walidacji danych wejściowych.", detail)
}

/// `POST /sessions/batch`.
pub(super) fn open(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    req.caller()?;
    let body: OpenBatchSessionRequest = req.json()?;
    let form = FormKind::from_form_code(&body.form_code).ok_or_else(|| {
        ApiError::validation(format!(
            "Form code {} {} {} is not supported (simulated: FA (2), FA (3), FA_RR (1)).",
            body.form_code.system_code, body.form_code.schema_version, body.form_code.value
        ))
    })?;
    let file = &body.batch_file;
    let tar_gz = match &file.compression_type {
        None => false,
        Some(c) if *c == CompressionType::Zip => false,
        Some(c) if *c == CompressionType::TarGz => true,
        Some(other) => {
            return Err(refused(format!(
                "Nieobsługiwany typ kompresji {}.",
                other.as_str()
            )));
        }
    };
    if !(1..=MAX_ARCHIVE_SIZE).contains(&file.file_size) {
        return Err(refused(format!(
            "Rozmiar paczki musi wynosić od 1 do {MAX_ARCHIVE_SIZE} bajtów."
        )));
    }
    let count = file.file_parts.len();
    if count == 0 || count > MAX_PARTS {
        return Err(ApiError::bad_request(
            21161,
            "Przekroczono dozwoloną liczbę części pliku.",
            format!("Paczka musi mieć od 1 do {MAX_PARTS} części, ma {count}."),
        ));
    }
    let mut parts = BTreeMap::new();
    for part in &file.file_parts {
        if !(1..=MAX_PART_SIZE).contains(&part.file_size) {
            return Err(ApiError::bad_request(
                21157,
                "Nieprawidłowy rozmiar części pliku.",
                format!(
                    "Część {} ma rozmiar {}, dozwolony od 1 do {MAX_PART_SIZE} bajtów.",
                    part.ordinal_number, part.file_size
                ),
            ));
        }
        parts.insert(
            part.ordinal_number,
            (part.file_size, part.file_hash.0.clone()),
        );
    }
    // Ordinal numbers must be 1..=n, each once.
    if parts.len() != count
        || parts
            .keys()
            .zip(1..)
            .any(|(ordinal, expected)| *ordinal != expected)
    {
        return Err(refused(
            "Numery porządkowe części muszą być kolejnymi liczbami od 1, bez powtórzeń.",
        ));
    }
    let key = unwrap_session_key(shared, &body.encryption)?;
    let now = req.now;
    let reference = new_reference(now, "SB")?;
    let session_reference = reference.to_string();
    let valid_until = now + duration(shared.config.session_lifetime)?;
    let signature = links::new_signature();
    let uploads = parts
        .keys()
        .map(|ordinal| {
            let url = links::sign(
                &format!(
                    "{}/_sim/upload/{session_reference}/{ordinal}",
                    shared.root_url
                ),
                &signature,
            );
            let headers = BTreeMap::from([(
                BLOB_TYPE_HEADER.0.to_owned(),
                Some(BLOB_TYPE_HEADER.1.to_owned()),
            )]);
            PartUploadRequest::new(*ordinal, "PUT", url, headers)
        })
        .collect::<Vec<_>>();
    let mut state = shared.state();
    let session = new_session(
        &state,
        req,
        session_reference.clone(),
        form,
        key,
        valid_until,
        Some(BatchState {
            archive_size: file.file_size,
            archive_hash: file.file_hash.0.clone(),
            tar_gz,
            parts,
            uploaded: BTreeMap::new(),
            signature,
            offline: body.offline_mode.unwrap_or(false),
            failure: None,
        }),
    )?;
    state.sessions.push(session);
    drop(state);
    json(201, &OpenBatchSessionResponse::new(reference, uploads))
}

/// `PUT /_sim/upload/{session}/{ordinal}?sig=...`: the presigned part upload (no bearer token).
/// With `body` `None`, only checks that the link would take a body.
pub(crate) fn upload(
    shared: &Shared,
    method: &str,
    rest: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<Reply, ApiError> {
    if method != "PUT" {
        return Err(ApiError::other(
            405,
            "Niedozwolona metoda.",
            "Parts are uploaded with PUT.",
        ));
    }
    let not_found = || {
        ApiError::other(
            404,
            "Nie znaleziono.",
            format!("No upload link /_sim/upload/{rest}."),
        )
    };
    let (session_reference, ordinal) = rest.split_once('/').ok_or_else(not_found)?;
    let ordinal: i32 = ordinal.parse().map_err(|_| not_found())?;
    let mut state = shared.state();
    let session = state.session_mut(session_reference).ok_or_else(not_found)?;
    let open = session.closed.is_none();
    let batch = session.batch.as_mut().ok_or_else(not_found)?;
    links::check(query, &batch.signature)?;
    if !batch.parts.contains_key(&ordinal) {
        return Err(not_found());
    }
    if !open {
        return Err(ApiError::bad_request(
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            "Sesja wsadowa jest zamknięta.",
        ));
    }
    // Like blob storage, the link takes any body: the part is checked against its declared
    // size and hash when the closed session is processed (405 if it does not match).
    if let Some(body) = body {
        batch.uploaded.insert(ordinal, body.to_vec());
    }
    Ok(Reply::Empty(201))
}

/// What unpacking a closed package gave: the invoices, or a session failure.
type Unpacked = Result<Vec<Vec<u8>>, SessionFailure>;

/// Decrypts each part, joins them, checks the archive and unpacks it (Zip, or tar.gz when
/// `tar_gz`).
fn unpack(
    key: &ksef_crypto::SessionKey,
    parts: &BTreeMap<i32, (i64, String)>,
    uploaded: &BTreeMap<i32, Vec<u8>>,
    archive_size: i64,
    archive_hash: &str,
    tar_gz: bool,
) -> Unpacked {
    const VERIFICATION: &str = "Błąd weryfikacji poprawności dostarczonych elementów paczki";
    // Every declared part must have arrived with its declared size and hash.
    for (ordinal, (size, hash)) in parts {
        let Some(ciphertext) = uploaded.get(ordinal) else {
            return Err((
                405,
                VERIFICATION,
                Some("Nie przesłano wszystkich zadeklarowanych części paczki."),
            ));
        };
        let actual = file_metadata(ciphertext);
        if i64::try_from(actual.size).ok() != Some(*size) {
            return Err((
                405,
                VERIFICATION,
                Some("Rozmiar przesłanej części paczki nie zgadza się z zadeklarowanym."),
            ));
        }
        if actual.sha256_base64() != *hash {
            return Err((
                405,
                VERIFICATION,
                Some("Skrót przesłanej części paczki nie zgadza się z zadeklarowanym."),
            ));
        }
    }
    let mut archive = Vec::new();
    for ciphertext in uploaded.values() {
        let (plain, _) = key
            .decrypt_to_vec(ciphertext)
            .map_err(|_| (435, "Błąd odszyfrowania pliku", None))?;
        archive.extend_from_slice(&plain);
    }
    let metadata = file_metadata(&archive);
    if i64::try_from(metadata.size).ok() != Some(archive_size)
        || metadata.sha256_base64() != archive_hash
    {
        return Err((
            405,
            VERIFICATION,
            Some("Rozmiar lub skrót paczki nie zgadza się z zadeklarowanym."),
        ));
    }
    if tar_gz {
        return untar(&archive);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(|_| DECOMPRESSION)?;
    let mut invoices = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|_| DECOMPRESSION)?;
        if entry.is_dir() {
            continue;
        }
        if invoices.len() >= MAX_INVOICES {
            return Err((420, "Przekroczony limit faktur w sesji", None));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|_| DECOMPRESSION)?;
        invoices.push(bytes);
    }
    Ok(invoices)
}

/// A failure to decompress the package.
const DECOMPRESSION: SessionFailure = (430, "Błąd dekompresji pierwotnego archiwum", None);

/// The files of a tar.gz archive, in order (directories and other non-file entries skipped).
fn untar(archive: &[u8]) -> Unpacked {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut invoices = Vec::new();
    for entry in tar.entries().map_err(|_| DECOMPRESSION)? {
        let mut entry = entry.map_err(|_| DECOMPRESSION)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if invoices.len() >= MAX_INVOICES {
            return Err((420, "Przekroczony limit faktur w sesji", None));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|_| DECOMPRESSION)?;
        invoices.push(bytes);
    }
    Ok(invoices)
}

/// `POST /sessions/batch/{referenceNumber}/close`.
pub(super) fn close(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let session_reference = req.param("referenceNumber");
    let now = req.now;
    let state = shared.state();
    let session = session_of(&state, session_reference, Some(&claims.ctx))?;
    let (code, _, _) = session_status(shared, session, now);
    let batch = session.batch.as_ref().filter(|_| code == 100);
    let (Some(batch), Some(key)) = (batch, session.key.clone()) else {
        return Err(ApiError::bad_request(
            21180,
            "Status sesji nie pozwala na wykonanie operacji.",
            format!("Status sesji {code} uniemożliwia jej zamknięcie."),
        ));
    };
    let form = session.form;
    let offline = batch.offline;
    let parts = batch.parts.clone();
    let uploaded = batch.uploaded.clone();
    let (archive_size, archive_hash) = (batch.archive_size, batch.archive_hash.clone());
    let tar_gz = batch.tar_gz;
    // Decryption, unpacking and schema checks run without the state lock.
    drop(state);
    let unpacked = unpack(&key, &parts, &uploaded, archive_size, &archive_hash, tar_gz);
    let checked: Result<Vec<_>, _> = unpacked.map(|invoices| {
        invoices
            .into_iter()
            .map(|plain| {
                let hash = file_metadata(&plain).sha256_base64();
                (hash, check_plain(plain, form))
            })
            .collect()
    });
    let mut state = shared.state();
    let failure = match checked {
        Ok(invoices) => {
            for (hash, checked) in invoices {
                record_invoice(
                    shared,
                    &mut state,
                    session_reference,
                    now,
                    hash,
                    offline,
                    checked,
                )?;
            }
            None
        }
        Err(failure) => Some(failure),
    };
    let session = state
        .session_mut(session_reference)
        .ok_or_else(|| ApiError::internal("batch session vanished"))?;
    session.closed = Some(now);
    session.updated = now;
    if let Some(batch) = session.batch.as_mut() {
        batch.failure = failure;
        // The parts are no longer needed once unpacked.
        batch.uploaded.clear();
    }
    drop(state);
    Ok(Reply::Empty(204))
}
