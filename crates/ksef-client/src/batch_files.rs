//! The invoice files of a batch: collected from files and directories, named uniquely, and
//! packaged into encrypted part files for a batch session opened elsewhere.
//!
//! [`Client::submit_batch`](crate::Client::submit_batch) takes [`BatchFiles::invoices`];
//! [`BatchFiles::pack_to_directory`] writes the parts of a package to upload by other means, and
//! [`batch_open_request`](crate::batch_open_request) declares them.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use ksef_client::batch_files::BatchFiles;
//! use ksef_client::crypto::SessionKey;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let files = BatchFiles::collect(&[PathBuf::from("invoices/")])?;
//! let key = SessionKey::generate()?;
//! let packed = files.pack_to_directory(&key, "out/".as_ref(), None)?;
//! println!("{} part(s)", packed.part_paths.len());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ksef_crypto::{BatchInvoice, BatchPackage, BatchPackager, DirectorySink, SessionKey};

/// Why the invoice files of a batch cannot be collected or packaged. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchFilesError {
    /// A file or directory given cannot be read.
    #[error("cannot read {}; check the path (nothing was sent)", .path.display())]
    Unreadable {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A directory given cannot be listed.
    #[error("cannot list {}", .path.display())]
    CannotList {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Entries of a directory named `*.xml` that cannot be sent: each with why (a symbolic link
    /// to nothing or in a loop, a directory or special file, a file that cannot be read).
    #[error(
        "{} has entries that cannot be sent (nothing was sent): {}",
        .dir.display(),
        .entries.iter().map(|(name, why)| format!("{name}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    BadEntries {
        /// The directory.
        dir: PathBuf,
        /// Each entry's name and what is wrong with it.
        entries: Vec<(String, String)>,
    },
    /// No invoice file was given, and the directories hold no `*.xml` file.
    #[error("no invoice files (*.xml) found in the given directories")]
    NoInvoiceFiles,
    /// A file's name is not UTF-8 (it names the invoice inside the package).
    #[error("{} has no UTF-8 file name", .path.display())]
    NonUtf8Name {
        /// The file.
        path: PathBuf,
    },
    /// Two files have the same name (it names the invoice inside the package).
    #[error(
        "two invoices are named {name:?}; file names must be unique within a batch (rename one)"
    )]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// An invoice file cannot be read for packaging.
    #[error("cannot read invoice file {}", .path.display())]
    InvoiceFile {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: ksef_crypto::Error,
    },
    /// Packaging failed (a limit, an I/O error, a file that changed); the part files already
    /// written are incomplete.
    #[error("packaging failed; the part files in the output directory are incomplete")]
    Packaging {
        /// The error.
        #[source]
        source: ksef_crypto::Error,
    },
}

/// The invoice files of a batch, each with the unique name it has inside the package (its file
/// name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFiles {
    files: Vec<(String, PathBuf)>,
    skipped: Vec<PathBuf>,
}

/// The parts of a package written to a directory by [`BatchFiles::pack_to_directory`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectoryPackage {
    /// What the package declares (hashes and sizes of the archive, the parts and the invoices).
    pub package: BatchPackage,
    /// The part files, in order (`part.001.aes`, ...).
    pub part_paths: Vec<PathBuf>,
}

impl BatchFiles {
    /// The invoice files among `inputs`: files as given, directories as their `*.xml` files
    /// (any case of the extension) in name order. Every entry of a directory is accounted for:
    /// one named `*.xml` is an invoice file, or the collection fails naming it and why
    /// ([`BatchFilesError::BadEntries`]: a dangling link, a link loop, a directory, a special
    /// file, a file that cannot be opened); any other entry is listed by
    /// [`BatchFiles::skipped`].
    ///
    /// # Errors
    ///
    /// [`BatchFilesError`]: an input that cannot be read or listed, an entry that cannot be sent,
    /// no file at all, a file name that is not UTF-8, or two files with the same name.
    pub fn collect(inputs: &[PathBuf]) -> Result<BatchFiles, BatchFilesError> {
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        for input in inputs {
            let meta = std::fs::metadata(input).map_err(|source| BatchFilesError::Unreadable {
                path: input.clone(),
                source,
            })?;
            if meta.is_dir() {
                let (mut found, mut others) = collect_directory(input)?;
                found.sort();
                others.sort();
                files.extend(found);
                skipped.extend(others);
            } else {
                files.push(input.clone());
            }
        }
        if files.is_empty() {
            return Err(BatchFilesError::NoInvoiceFiles);
        }
        let mut seen = BTreeSet::new();
        let mut named = Vec::with_capacity(files.len());
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| BatchFilesError::NonUtf8Name { path: path.clone() })?
                .to_owned();
            if !seen.insert(name.clone()) {
                return Err(BatchFilesError::DuplicateName { name });
            }
            named.push((name, path));
        }
        Ok(BatchFiles {
            files: named,
            skipped,
        })
    }

    /// The entries of the given directories that are not invoice files (not named `*.xml`), in
    /// name order per directory: not sent, so a caller can say so.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Each file's name in the package and its path, in order.
    pub fn files(&self) -> &[(String, PathBuf)] {
        &self.files
    }

    /// The paths, in order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|(_, path)| path.clone()).collect()
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there is no file (never, for a collected batch).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files as invoices to package, read when packaged.
    ///
    /// # Errors
    ///
    /// [`BatchFilesError::InvoiceFile`] if a file's size cannot be read.
    pub fn invoices(&self) -> Result<Vec<BatchInvoice>, BatchFilesError> {
        self.files
            .iter()
            .map(|(name, path)| {
                BatchInvoice::from_path(name.clone(), path.clone()).map_err(|source| {
                    BatchFilesError::InvoiceFile {
                        path: path.clone(),
                        source,
                    }
                })
            })
            .collect()
    }

    /// Packages the files (Zip, KSeF's limits, parts of at most `max_part_size` bytes when
    /// given) under `key` into part files in `out`, which must exist.
    ///
    /// # Errors
    ///
    /// [`BatchFilesError::InvoiceFile`] before anything is written,
    /// [`BatchFilesError::Packaging`] after.
    pub fn pack_to_directory(
        &self,
        key: &SessionKey,
        out: &Path,
        max_part_size: Option<u64>,
    ) -> Result<DirectoryPackage, BatchFilesError> {
        BatchFiles::pack_invoices_to_directory(self.invoices()?, key, out, max_part_size)
    }

    /// [`BatchFiles::pack_to_directory`] of invoices already prepared (e.g. from
    /// [`BatchFiles::invoices`], each bound to the hash of what was validated with
    /// [`BatchInvoice::expect_sha256`]).
    ///
    /// # Errors
    ///
    /// [`BatchFilesError::Packaging`] (also when a file changed since it was validated).
    pub fn pack_invoices_to_directory(
        invoices: Vec<BatchInvoice>,
        key: &SessionKey,
        out: &Path,
        max_part_size: Option<u64>,
    ) -> Result<DirectoryPackage, BatchFilesError> {
        let mut packager = BatchPackager::new();
        if let Some(size) = max_part_size {
            let limits = (*packager.current_limits()).with_max_part_size(size);
            packager = packager.limits(limits);
        }
        let mut sink = DirectorySink::new(out);
        let package = packager
            .package(key, invoices, &mut sink)
            .map_err(|source| BatchFilesError::Packaging { source })?;
        let part_paths = package
            .parts
            .iter()
            .map(|part| sink.path_of(part.ordinal_number))
            .collect();
        Ok(DirectoryPackage {
            package,
            part_paths,
        })
    }
}

/// The `*.xml` files of `dir` and its other entries; fails naming every `*.xml` entry that is not
/// an invoice file one can read.
fn collect_directory(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), BatchFilesError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BatchFilesError::CannotList {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    let mut others = Vec::new();
    let mut bad = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| BatchFilesError::CannotList {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let is_xml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        if !is_xml {
            others.push(path);
            continue;
        }
        if let Some(why) = why_not_an_invoice_file(&path) {
            bad.push((entry.file_name().to_string_lossy().into_owned(), why));
        } else {
            found.push(path);
        }
    }
    if !bad.is_empty() {
        bad.sort();
        return Err(BatchFilesError::BadEntries {
            dir: dir.to_path_buf(),
            entries: bad,
        });
    }
    Ok((found, others))
}

/// Why `path` (a directory entry named `*.xml`) cannot be sent, or `None` when it is a regular
/// file (directly or through a link) that opens for reading.
fn why_not_an_invoice_file(path: &Path) -> Option<String> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if is_link && e.kind() == std::io::ErrorKind::NotFound => {
            return Some("a symbolic link to a file that does not exist".to_owned());
        }
        Err(e) if is_link => return Some(format!("a symbolic link that cannot be followed ({e})")),
        Err(e) => return Some(format!("cannot be read ({e})")),
    };
    if meta.is_dir() {
        return Some("a directory, not an invoice file".to_owned());
    }
    if !meta.is_file() {
        return Some("a special file, not an invoice file".to_owned());
    }
    match std::fs::File::open(path) {
        Ok(_) => None,
        Err(e) => Some(format!("cannot be read ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("ksef-batch-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn collects_xml_files_of_directories_in_name_order_and_files_as_given() {
        let dir = Scratch::new("collect");
        for name in ["b.xml", "a.XML", "notes.txt"] {
            std::fs::write(dir.0.join(name), b"<Faktura/>").unwrap();
        }
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        let other = Scratch::new("collect-other");
        std::fs::write(other.0.join("c.txt"), b"<Faktura/>").unwrap();
        let files = BatchFiles::collect(&[dir.0.clone(), other.0.join("c.txt")]).unwrap();
        let names: Vec<&str> = files.files().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.XML", "b.xml", "c.txt"]);
        assert_eq!(files.len(), 3);
        assert_eq!(files.paths()[2], other.0.join("c.txt"));
        assert_eq!(
            files.skipped(),
            [dir.0.join("notes.txt"), dir.0.join("sub")]
        );
    }

    #[cfg(unix)]
    #[test]
    fn every_xml_entry_is_sent_or_named_in_an_error() {
        let dir = Scratch::new("entries");
        std::fs::write(dir.0.join("a.xml"), b"<Faktura/>").unwrap();
        std::os::unix::fs::symlink(dir.0.join("gone.xml"), dir.0.join("b.xml")).unwrap();
        std::os::unix::fs::symlink(dir.0.join("c.xml"), dir.0.join("c.xml")).unwrap();
        std::fs::create_dir(dir.0.join("d.xml")).unwrap();
        let error = BatchFiles::collect(std::slice::from_ref(&dir.0)).unwrap_err();
        let BatchFilesError::BadEntries { entries, .. } = &error else {
            panic!("expected BadEntries, got {error:?}");
        };
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b.xml", "c.xml", "d.xml"]);
        let text = error.to_string();
        assert!(
            text.contains("b.xml: a symbolic link to a file that does not exist"),
            "{text}"
        );
        assert!(
            text.contains("c.xml: a symbolic link that cannot be followed"),
            "{text}"
        );
        assert!(text.contains("d.xml: a directory"), "{text}");
        assert!(text.contains("nothing was sent"), "{text}");
        // A link to a real file is sent like the file.
        for bad in ["b.xml", "c.xml"] {
            std::fs::remove_file(dir.0.join(bad)).unwrap();
        }
        std::fs::remove_dir(dir.0.join("d.xml")).unwrap();
        std::os::unix::fs::symlink(dir.0.join("a.xml"), dir.0.join("e.xml")).unwrap();
        let files = BatchFiles::collect(std::slice::from_ref(&dir.0)).unwrap();
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn refuses_what_cannot_be_packaged() {
        let dir = Scratch::new("refuse");
        let missing = dir.0.join("missing");
        let error = BatchFiles::collect(std::slice::from_ref(&missing)).unwrap_err();
        assert!(matches!(error, BatchFilesError::Unreadable { ref path, .. } if *path == missing));
        assert!(error.to_string().starts_with("cannot read "), "{error}");
        assert!(matches!(
            BatchFiles::collect(std::slice::from_ref(&dir.0)),
            Err(BatchFilesError::NoInvoiceFiles)
        ));
        let sub = dir.0.join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(dir.0.join("a.xml"), b"1").unwrap();
        std::fs::write(sub.join("a.xml"), b"2").unwrap();
        let error = BatchFiles::collect(&[dir.0.clone(), sub]).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"two invoices are named "a.xml"; file names must be unique within a batch (rename one)"#
        );
    }

    #[test]
    fn packs_into_part_files_that_decrypt_to_the_declared_archive() {
        let dir = Scratch::new("pack");
        let input = dir.0.join("in");
        let out = dir.0.join("out");
        std::fs::create_dir_all(&input).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        // Text that does not compress (a linear congruential sequence of digits), so that the
        // archive is larger than one part.
        let mut state: u64 = 1;
        for i in 0..5 {
            let text: String = (0..i * 700)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    char::from(b'0' + u8::try_from(state >> 60).unwrap() % 10)
                })
                .collect();
            std::fs::write(
                input.join(format!("{i}.xml")),
                format!("<Faktura>{text}</Faktura>"),
            )
            .unwrap();
        }
        let files = BatchFiles::collect(std::slice::from_ref(&input)).unwrap();
        let key = SessionKey::generate().unwrap();
        let packed = files.pack_to_directory(&key, &out, Some(1024)).unwrap();
        assert!(packed.part_paths.len() > 1);
        assert_eq!(packed.part_paths.len(), packed.package.parts.len());
        let mut archive = Vec::new();
        for (path, part) in packed.part_paths.iter().zip(&packed.package.parts) {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(ksef_crypto::file_metadata(&bytes), part.encrypted);
            archive.extend(key.decrypt_to_vec(&bytes).unwrap().0);
        }
        assert_eq!(ksef_crypto::file_metadata(&archive), packed.package.archive);
        assert_eq!(packed.package.invoices.len(), 5);
    }
}
