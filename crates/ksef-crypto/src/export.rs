//! Unpacking invoice export packages: verify and decrypt the parts, unpack the archive with guards
//! against archive bombs, and hand out the invoices and the typed `_metadata.json`.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use ksef_model::types::{CompressionType, InvoiceMetadata, InvoicePackagePart};
use serde::{Deserialize, Serialize};
use zip::ZipArchive;

use crate::error::{Cause, Error, Result};
use crate::limits::{Limit, UnpackLimits, check, check_file_name};
use crate::metadata::{FileHasher, FileMetadata, file_metadata};
use crate::packaging::{ArchiveFormat, from_io, tar_error, zip_error};
use crate::pipeline::decrypt_pipelined;
use crate::session_key::SessionKey;

/// The name of the metadata file in an export package.
pub const EXPORT_METADATA_FILE: &str = "_metadata.json";

/// The content of `_metadata.json` in an export package: the spec's `InvoiceMetadata` of every
/// invoice in it. Unknown fields are ignored; enumeration values added by later API versions parse
/// as their `Unknown` variant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExportMetadata {
    /// One entry per invoice in the package.
    pub invoices: Vec<InvoiceMetadata>,
}

impl ExportMetadata {
    /// Parses `_metadata.json`.
    ///
    /// # Errors
    ///
    /// [`Error::ExportMetadata`] if the JSON is malformed or lacks required fields.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::ExportMetadata {
            source: Box::new(e),
        })
    }
}

/// What the export status declares about one part (`InvoicePackagePart`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpectedPart {
    /// `ordinalNumber`, from 1.
    pub ordinal_number: u32,
    /// `encryptedPartSize` and `encryptedPartHash`.
    pub encrypted: FileMetadata,
    /// `partSize` and `partHash`, when known.
    pub plaintext: Option<FileMetadata>,
}

impl ExpectedPart {
    /// A part with its encrypted size and hash.
    pub fn new(ordinal_number: u32, encrypted: FileMetadata) -> Self {
        Self {
            ordinal_number,
            encrypted,
            plaintext: None,
        }
    }

    /// Also checks the decrypted part's size and hash.
    pub fn with_plaintext(mut self, plaintext: FileMetadata) -> Self {
        self.plaintext = Some(plaintext);
        self
    }

    /// A part from the status's fields: `encryptedPartSize`, `encryptedPartHash`, `partSize`,
    /// `partHash`.
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] or [`Error::InvalidLength`] if a hash is not base64 of 32 bytes.
    pub fn from_status(
        ordinal_number: u32,
        encrypted_part_size: u64,
        encrypted_part_hash: &str,
        part_size: u64,
        part_hash: &str,
    ) -> Result<Self> {
        Ok(Self::new(
            ordinal_number,
            FileMetadata::from_base64(encrypted_part_hash, encrypted_part_size)?,
        )
        .with_plaintext(FileMetadata::from_base64(part_hash, part_size)?))
    }

    /// A part as an export's status lists it (`InvoicePackagePart`): its ordinal number and the
    /// sizes and hashes of the encrypted and the decrypted part. A negative size or number counts
    /// as 0 (and then fails the checks of [`ExportUnpacker::unpack`]).
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] or [`Error::InvalidLength`] if a hash is not base64 of 32 bytes.
    pub fn from_package_part(part: &InvoicePackagePart) -> Result<Self> {
        Self::from_status(
            u32::try_from(part.ordinal_number).unwrap_or(0),
            u64::try_from(part.encrypted_part_size).unwrap_or(0),
            part.encrypted_part_hash.as_str(),
            u64::try_from(part.part_size).unwrap_or(0),
            part.part_hash.as_str(),
        )
    }
}

/// One invoice out of an export package.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ExportedInvoice {
    /// The file name in the archive (`{ksefNumber}.xml`).
    pub name: String,
    /// The invoice's bytes.
    pub content: Vec<u8>,
    /// Size and SHA-256 of the bytes (compare with `invoiceHash` in the metadata).
    pub metadata: FileMetadata,
    /// The invoice's record in `_metadata.json`, when that file was read before the invoice:
    /// always for a ZIP package that has one (it is read first); for TarGz only if it comes
    /// earlier in the stream.
    pub record: Option<InvoiceMetadata>,
}

impl ExportedInvoice {
    /// The entry `name` holding `content`, with the size and SHA-256 of the bytes.
    fn new(name: String, content: Vec<u8>, record: Option<InvoiceMetadata>) -> Self {
        Self {
            metadata: file_metadata(&content),
            name,
            content,
            record,
        }
    }

    /// The KSeF number, if the name is `{ksefNumber}.xml`.
    pub fn ksef_number(&self) -> Option<&str> {
        self.name.strip_suffix(".xml")
    }
}

/// The outcome of unpacking an export package.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UnpackedExport {
    /// The parsed `_metadata.json`, if the package has one.
    pub metadata: Option<ExportMetadata>,
    /// Number of invoices handed out.
    pub invoice_count: u64,
    /// Size and SHA-256 of the decrypted archive.
    pub archive: FileMetadata,
}

/// Unpacks export packages: checks each encrypted part's size and hash (and the decrypted part's,
/// when declared), decrypts the parts into a scratch store, and unpacks the archive entry by
/// entry under [`UnpackLimits`].
///
/// Memory stays bounded by one entry at a time; the decrypted archive goes to the scratch store
/// (a temporary file for real packages, a `Cursor<Vec<u8>>` for small ones), because a ZIP's
/// directory sits at its end.
#[derive(Clone, Debug)]
pub struct ExportUnpacker {
    compression_type: CompressionType,
    limits: UnpackLimits,
}

impl Default for ExportUnpacker {
    fn default() -> Self {
        Self {
            compression_type: CompressionType::Zip,
            limits: UnpackLimits::default(),
        }
    }
}

impl ExportUnpacker {
    /// An unpacker for ZIP packages with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// The archive format of the package (its `compressionType`): Zip or TarGz; any other value
    /// fails [`unpack`](Self::unpack) with [`Error::UnsupportedCompressionType`].
    pub fn compression_type(mut self, compression_type: CompressionType) -> Self {
        self.compression_type = compression_type;
        self
    }

    /// Sets the archive bomb guards.
    pub fn limits(mut self, limits: UnpackLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Verifies, decrypts and unpacks the parts, in order, calling `on_invoice` for each invoice
    /// (in archive order). `scratch` must be empty; it receives the decrypted archive.
    ///
    /// For ZIP, `_metadata.json` is parsed before the first invoice is handed out.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedCompressionType`] for an archive format other than Zip or TarGz,
    /// [`Error::PartOrder`] if the parts are not numbered 1, 2, ... in order,
    /// [`Error::PartMismatch`] if a part's size or hash differs from the declared one (checked
    /// before its padding), [`Error::TruncatedCiphertext`]/[`Error::InvalidPadding`] if a part
    /// does not decrypt, [`Error::LimitExceeded`] from the guards, [`Error::InvalidFileName`] or
    /// [`Error::DuplicateFileName`] for unsafe entries, [`Error::Archive`] for a malformed archive,
    /// [`Error::ExportMetadata`] for a malformed `_metadata.json`, [`Error::Io`], and whatever
    /// `on_invoice` returns.
    pub fn unpack<I, R, S, F>(
        &self,
        key: &SessionKey,
        parts: I,
        mut scratch: S,
        mut on_invoice: F,
    ) -> Result<UnpackedExport>
    where
        I: IntoIterator<Item = (ExpectedPart, R)>,
        R: Read,
        S: Read + Write + Seek,
        F: FnMut(ExportedInvoice) -> Result<()>,
    {
        let format = ArchiveFormat::of(&self.compression_type)?;
        let start = scratch.stream_position()?;
        let mut parts = parts.into_iter().peekable();
        let mut whole = FileHasher::new();
        let mut only_part = None;
        let mut index = 0_usize;
        while let Some((expected, reader)) = parts.next() {
            let due = u32::try_from(index + 1).unwrap_or(u32::MAX);
            if expected.ordinal_number != due {
                return Err(Error::PartOrder {
                    expected: due,
                    actual: expected.ordinal_number,
                });
            }
            let single = index == 0 && parts.peek().is_none();
            let hasher = (!single).then_some(&mut whole);
            let decrypted = decrypt_part(key, &expected, reader, &mut scratch, hasher)?;
            if single {
                only_part = Some(decrypted);
            }
            index += 1;
        }
        let archive = only_part.unwrap_or_else(|| whole.finish());
        let end = scratch.seek(SeekFrom::End(0))?;
        if end - start != archive.size {
            return Err(Error::Archive {
                format: "scratch",
                file: None,
                source: Box::new(Cause("the scratch store was not empty")),
            });
        }
        scratch.seek(SeekFrom::Start(start))?;
        let (metadata, invoice_count) = match format {
            ArchiveFormat::Zip => self.unzip(&mut scratch, archive.size, &mut on_invoice)?,
            ArchiveFormat::TarGz => self.untar(&mut scratch, archive.size, &mut on_invoice)?,
        };
        Ok(UnpackedExport {
            metadata,
            invoice_count,
            archive,
        })
    }

    /// The size limit of the entry `name`.
    fn entry_limit(&self, name: &str) -> u64 {
        if name == EXPORT_METADATA_FILE {
            self.limits.max_metadata_size
        } else {
            self.limits.max_entry_size
        }
    }

    fn check_ratio(&self, name: Option<&str>, size: u64, compressed: u64) -> Result<()> {
        if size > self.limits.ratio_threshold {
            let ratio = size / compressed.max(1);
            check(Limit::CompressionRatio, name, ratio, self.limits.max_ratio)?;
        }
        Ok(())
    }

    fn unzip<S: Read + Seek, F: FnMut(ExportedInvoice) -> Result<()>>(
        &self,
        scratch: S,
        _archive_size: u64,
        on_invoice: &mut F,
    ) -> Result<(Option<ExportMetadata>, u64)> {
        let mut zip = ZipArchive::new(BufReader::with_capacity(64 << 10, scratch))
            .map_err(|e| zip_error(e, ""))?;
        let entries = zip.len() as u64;
        if entries > self.limits.max_entries {
            let index = usize::try_from(self.limits.max_entries).unwrap_or(usize::MAX);
            let name = zip
                .by_index_raw(index)
                .ok()
                .map(|file| String::from_utf8_lossy(file.name_raw()).into_owned());
            check(
                Limit::EntryCount,
                name.as_deref(),
                entries,
                self.limits.max_entries,
            )?;
        }
        // Everything the central directory declares, checked before anything is inflated.
        let mut names = HashSet::with_capacity(zip.len());
        let mut declared_total: u64 = 0;
        let mut metadata_index = None;
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(|e| zip_error(e, ""))?;
            let name = std::str::from_utf8(file.name_raw())
                .map_err(|_| Error::InvalidFileName {
                    name: String::from_utf8_lossy(file.name_raw()).into_owned(),
                    reason: "not UTF-8",
                })?
                .to_owned();
            check_file_name(&name)?;
            check(
                Limit::EntrySize,
                Some(&name),
                file.size(),
                self.entry_limit(&name),
            )?;
            self.check_ratio(Some(&name), file.size(), file.compressed_size())?;
            declared_total = declared_total.saturating_add(file.size());
            check(
                Limit::TotalUncompressedSize,
                Some(&name),
                declared_total,
                self.limits.max_total_size,
            )?;
            if name == EXPORT_METADATA_FILE {
                metadata_index = Some(index);
            }
            if !names.insert(name.clone()) {
                return Err(Error::DuplicateFileName { name });
            }
        }
        drop(names);
        // The declared sizes may lie: every read is bounded by the limit as well.
        let mut total: u64 = 0;
        let mut read_entry = |zip: &mut ZipArchive<_>, index: usize| -> Result<(String, Vec<u8>)> {
            let file = zip.by_index(index).map_err(|e| zip_error(e, ""))?;
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            let limit = self.entry_limit(&name);
            let compressed = file.compressed_size();
            let capacity = usize::try_from(file.size().min(limit)).unwrap_or(0);
            let mut content = Vec::with_capacity(capacity);
            file.take(limit.saturating_add(1))
                .read_to_end(&mut content)
                .map_err(|e| name_zip_read_error(e, &name))?;
            let size = content.len() as u64;
            check(Limit::EntrySize, Some(&name), size, limit)?;
            self.check_ratio(Some(&name), size, compressed)?;
            total = total.saturating_add(size);
            check(
                Limit::TotalUncompressedSize,
                Some(&name),
                total,
                self.limits.max_total_size,
            )?;
            Ok((name, content))
        };
        let metadata = match metadata_index {
            Some(index) => Some(ExportMetadata::from_json(&read_entry(&mut zip, index)?.1)?),
            None => None,
        };
        let records = record_index(metadata.as_ref());
        let mut invoice_count = 0;
        for index in 0..zip.len() {
            if Some(index) == metadata_index {
                continue;
            }
            let (name, content) = read_entry(&mut zip, index)?;
            let record = find_record(metadata.as_ref(), &records, &name);
            on_invoice(ExportedInvoice::new(name, content, record))?;
            invoice_count += 1;
        }
        Ok((metadata, invoice_count))
    }

    fn untar<S: Read, F: FnMut(ExportedInvoice) -> Result<()>>(
        &self,
        scratch: S,
        archive_size: u64,
        on_invoice: &mut F,
    ) -> Result<(Option<ExportMetadata>, u64)> {
        let gzip = flate2::read::GzDecoder::new(BufReader::with_capacity(64 << 10, scratch));
        let mut tar = tar::Archive::new(gzip);
        let mut names = HashSet::new();
        let mut metadata = None;
        let mut records = HashMap::new();
        let mut entries_seen: u64 = 0;
        let mut invoice_count = 0;
        let mut total: u64 = 0;
        for entry in tar.entries().map_err(|e| tar_error(e, ""))? {
            let entry = entry.map_err(|e| tar_error(e, ""))?;
            let name_bytes = entry.path_bytes();
            let name = std::str::from_utf8(&name_bytes)
                .map_err(|_| Error::InvalidFileName {
                    name: String::from_utf8_lossy(&name_bytes).into_owned(),
                    reason: "not UTF-8",
                })?
                .to_owned();
            entries_seen += 1;
            check(
                Limit::EntryCount,
                Some(&name),
                entries_seen,
                self.limits.max_entries,
            )?;
            check_file_name(&name)?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(Error::InvalidFileName {
                    name,
                    reason: "not a regular file",
                });
            }
            let limit = self.entry_limit(&name);
            check(Limit::EntrySize, Some(&name), entry.size(), limit)?;
            if !names.insert(name.clone()) {
                return Err(Error::DuplicateFileName { name });
            }
            let mut content = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry
                .take(limit.saturating_add(1))
                .read_to_end(&mut content)
                .map_err(|e| tar_error(e, &name))?;
            let size = content.len() as u64;
            check(Limit::EntrySize, Some(&name), size, limit)?;
            total = total.saturating_add(size);
            check(
                Limit::TotalUncompressedSize,
                Some(&name),
                total,
                self.limits.max_total_size,
            )?;
            // tar.gz compresses the whole stream: the ratio is that of everything so far.
            self.check_ratio(Some(&name), total, archive_size)?;
            if name == EXPORT_METADATA_FILE {
                metadata = Some(ExportMetadata::from_json(&content)?);
                records = record_index(metadata.as_ref());
            } else {
                let record = find_record(metadata.as_ref(), &records, &name);
                on_invoice(ExportedInvoice::new(name, content, record))?;
                invoice_count += 1;
            }
        }
        Ok((metadata, invoice_count))
    }
}

/// Positions of the records in `_metadata.json` by KSeF number.
fn record_index(metadata: Option<&ExportMetadata>) -> HashMap<String, usize> {
    metadata.map_or_else(HashMap::new, |m| {
        m.invoices
            .iter()
            .enumerate()
            .map(|(i, record)| (record.ksef_number.as_str().to_owned(), i))
            .collect()
    })
}

/// The record of the entry `name` (`{ksefNumber}.xml`), if the metadata lists it.
fn find_record(
    metadata: Option<&ExportMetadata>,
    records: &HashMap<String, usize>,
    name: &str,
) -> Option<InvoiceMetadata> {
    let index = *records.get(name.strip_suffix(".xml")?)?;
    metadata.map(|m| m.invoices[index].clone())
}

fn name_zip_read_error(error: io::Error, name: &str) -> Error {
    match from_io(error) {
        Error::Io { source } => Error::Archive {
            format: "ZIP",
            file: Some(name.to_owned()),
            source: Box::new(source),
        },
        other => other,
    }
}

fn mismatch(ordinal_number: u32, what: &'static str, expected: String, actual: String) -> Error {
    Error::PartMismatch {
        ordinal_number,
        what,
        expected,
        actual,
    }
}

/// Compares the metadata of one side of a part with what was declared.
fn compare(
    ordinal_number: u32,
    side: &str,
    expected: &FileMetadata,
    actual: &FileMetadata,
) -> Result<()> {
    let (size, hash) = if side == "encrypted" {
        ("encrypted size", "encrypted hash")
    } else {
        ("size", "hash")
    };
    if expected.size != actual.size {
        return Err(mismatch(
            ordinal_number,
            size,
            expected.size.to_string(),
            actual.size.to_string(),
        ));
    }
    if expected.sha256 != actual.sha256 {
        return Err(mismatch(
            ordinal_number,
            hash,
            expected.sha256_base64(),
            actual.sha256_base64(),
        ));
    }
    Ok(())
}

/// Decrypts one part into `scratch` (on two threads, see [`SessionKey::decrypt_stream`]), reading
/// at most one byte more than declared, and checks its encrypted size and hash before reporting
/// any decryption failure. `whole` is fed the plaintext too when the archive has more than one
/// part (for one part, the part's plaintext metadata is the archive's).
fn decrypt_part<R: Read, W: Write>(
    key: &SessionKey,
    expected: &ExpectedPart,
    reader: R,
    scratch: &mut W,
    whole: Option<&mut FileHasher>,
) -> Result<FileMetadata> {
    let ordinal = expected.ordinal_number;
    let input = reader.take(expected.encrypted.size.saturating_add(1));
    let outcome = decrypt_pipelined(key, input, scratch, whole).map_err(from_io)?;
    // A part longer than declared shows in its size: one byte more was read.
    compare(
        ordinal,
        "encrypted",
        &expected.encrypted,
        &outcome.ciphertext,
    )?;
    let decrypted = outcome.plaintext?;
    if let Some(plaintext) = &expected.plaintext {
        compare(ordinal, "plaintext", plaintext, &decrypted)?;
    }
    Ok(decrypted)
}
