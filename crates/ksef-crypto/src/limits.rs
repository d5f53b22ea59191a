//! The limits KSeF puts on batch packages, the guards applied to export packages, and the rules for
//! file names inside archives.

use std::fmt;

use crate::error::{Error, Result};

/// The limit an [`Error::LimitExceeded`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Number of invoices in one batch (KSeF: 10,000).
    InvoiceCount,
    /// Size of one invoice in bytes (KSeF: 1,000,000 without attachments, 3,000,000 with).
    InvoiceSize,
    /// Size of the whole plain archive in bytes (KSeF: 5,000,000,000).
    ArchiveSize,
    /// Number of parts of one batch (KSeF: 50).
    PartCount,
    /// Number of entries in an export archive.
    EntryCount,
    /// Uncompressed size of one entry of an export archive, in bytes.
    EntrySize,
    /// Uncompressed to compressed size ratio of an export archive entry (or, for tar.gz, of the
    /// whole archive).
    CompressionRatio,
    /// Total uncompressed size of an export archive, in bytes.
    TotalUncompressedSize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvoiceCount => "invoice count limit",
            Self::InvoiceSize => "invoice size limit",
            Self::ArchiveSize => "archive size limit",
            Self::PartCount => "part count limit",
            Self::EntryCount => "archive entry count limit",
            Self::EntrySize => "archive entry size limit",
            Self::CompressionRatio => "compression ratio limit",
            Self::TotalUncompressedSize => "total uncompressed size limit",
        })
    }
}

/// KSeF's batch limit on the size of one part before encryption: 100,000,000 bytes.
pub const MAX_PART_SIZE: u64 = 100_000_000;
/// KSeF's batch limit on the number of parts: 50.
pub const MAX_PARTS: u32 = 50;
/// KSeF's batch limit on the size of the plain archive: 5,000,000,000 bytes.
pub const MAX_ARCHIVE_SIZE: u64 = 5_000_000_000;
/// KSeF's limit on invoices per session: 10,000.
pub const MAX_INVOICES: u32 = 10_000;
/// KSeF's size limit of an invoice without attachments: 1,000,000 bytes.
pub const MAX_INVOICE_SIZE: u64 = 1_000_000;
/// KSeF's size limit of an invoice with attachments: 3,000,000 bytes.
pub const MAX_INVOICE_WITH_ATTACHMENTS_SIZE: u64 = 3_000_000;

/// The limits a batch is checked against. The defaults are KSeF's; each can be lowered (a smaller
/// part size, for instance) or, for the invoice size, raised to the 3,000,000 bytes allowed for
/// invoices with attachments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchLimits {
    /// Largest part before encryption, in bytes (default 100,000,000). At least 1.
    pub max_part_size: u64,
    /// Most parts (default 50).
    pub max_parts: u32,
    /// Largest plain archive, in bytes (default 5,000,000,000).
    pub max_archive_size: u64,
    /// Largest invoice, in bytes (default 1,000,000).
    pub max_invoice_size: u64,
    /// Most invoices (default 10,000).
    pub max_invoices: u32,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_part_size: MAX_PART_SIZE,
            max_parts: MAX_PARTS,
            max_archive_size: MAX_ARCHIVE_SIZE,
            max_invoice_size: MAX_INVOICE_SIZE,
            max_invoices: MAX_INVOICES,
        }
    }
}

impl BatchLimits {
    /// The KSeF limits with another part size (clamped to at least 1 byte).
    pub fn with_max_part_size(mut self, bytes: u64) -> Self {
        self.max_part_size = bytes.max(1);
        self
    }

    /// The limits with another invoice size limit, e.g.
    /// [`MAX_INVOICE_WITH_ATTACHMENTS_SIZE`] for a context allowed attachments.
    pub fn with_max_invoice_size(mut self, bytes: u64) -> Self {
        self.max_invoice_size = bytes;
        self
    }

    /// The limits with another part count limit.
    pub fn with_max_parts(mut self, parts: u32) -> Self {
        self.max_parts = parts;
        self
    }

    /// The limits with another archive size limit.
    pub fn with_max_archive_size(mut self, bytes: u64) -> Self {
        self.max_archive_size = bytes;
        self
    }

    /// The limits with another invoice count limit.
    pub fn with_max_invoices(mut self, invoices: u32) -> Self {
        self.max_invoices = invoices;
        self
    }
}

/// Guards against archive bombs when unpacking an export package.
///
/// The defaults accept any package KSeF can legally produce: 10,000 invoices of up to 3,000,000
/// bytes plus `_metadata.json` (which is allowed up to 256 MiB), and refuse entries whose
/// uncompressed size is more than 250 times their compressed size once they exceed 1 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnpackLimits {
    /// Most entries in the archive (default 10,001: 10,000 invoices and `_metadata.json`).
    pub max_entries: u64,
    /// Largest uncompressed invoice entry, in bytes (default 3,000,000).
    pub max_entry_size: u64,
    /// Largest uncompressed `_metadata.json`, in bytes (default 256 MiB).
    pub max_metadata_size: u64,
    /// Largest total uncompressed size, in bytes (default 32 GB: 10,000 × 3 MB and metadata).
    pub max_total_size: u64,
    /// Largest uncompressed/compressed ratio (default 250; deflate itself cannot exceed about 1,032), applied to entries larger than
    /// [`ratio_threshold`](Self::ratio_threshold).
    pub max_ratio: u64,
    /// Entries up to this uncompressed size are exempt from the ratio check (default 1 MiB).
    pub ratio_threshold: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_entries: u64::from(MAX_INVOICES) + 1,
            max_entry_size: MAX_INVOICE_WITH_ATTACHMENTS_SIZE,
            max_metadata_size: 256 << 20,
            max_total_size: 32_000_000_000,
            max_ratio: 250,
            ratio_threshold: 1 << 20,
        }
    }
}

impl UnpackLimits {
    /// The limits with another entry count limit.
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }

    /// The limits with another invoice entry size limit.
    pub fn with_max_entry_size(mut self, bytes: u64) -> Self {
        self.max_entry_size = bytes;
        self
    }

    /// The limits with another total size limit.
    pub fn with_max_total_size(mut self, bytes: u64) -> Self {
        self.max_total_size = bytes;
        self
    }

    /// The limits with another ratio limit and the size below which it does not apply.
    pub fn with_max_ratio(mut self, ratio: u64, threshold: u64) -> Self {
        self.max_ratio = ratio;
        self.ratio_threshold = threshold;
        self
    }
}

/// Checks that `name` is safe as a flat archive entry name: 1 to 255 bytes, no path separators,
/// no `.`/`..`, no control characters, no leading or trailing whitespace, and none of the
/// characters Windows forbids in file names.
pub(crate) fn check_file_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > 255 {
        Some("longer than 255 bytes")
    } else if name == "." || name == ".." {
        Some("a directory reference")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.contains([':', '*', '?', '"', '<', '>', '|']) {
        Some("contains a character not allowed in file names")
    } else if name.trim() != name {
        Some("starts or ends with whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidFileName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `Err(LimitExceeded)` when `actual > max`.
pub(crate) fn check(limit: Limit, file: Option<&str>, actual: u64, max: u64) -> Result<()> {
    if actual > max {
        Err(Error::LimitExceeded {
            limit,
            file: file.map(str::to_owned),
            actual,
            max,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        for good in [
            "a.xml",
            "5265877635-20250826-0100001AF629-AF.xml",
            "faktura 1.xml",
            "_metadata.json",
        ] {
            check_file_name(good).unwrap();
        }
        for bad in [
            "", ".", "..", "a/b.xml", "..\\x", "../x.xml", "c:x", "a\0b", " a.xml", "a.xml\n",
        ] {
            assert!(
                matches!(check_file_name(bad), Err(Error::InvalidFileName { .. })),
                "{bad:?}"
            );
        }
        assert!(check_file_name(&"x".repeat(256)).is_err());
    }
}
