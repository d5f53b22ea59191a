//! Files on disk: the one atomic writer (tokens, checkpoints, synced and exported invoices, UPOs
//! reach the disk through it), private scratch directories, and the lock that keeps two syncs
//! out of one directory. Public so applications write their files the same way.
//!
//! The mode policy: [`PRIVATE_MODE`] (0600) for anything secret and for invoice data (invoices,
//! UPOs, export packages and their metadata name counterparties and amounts), [`PUBLIC_MODE`]
//! (0644) for public outputs (certificates, signed documents, images).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Unix permission bits of files holding secrets or invoice data (owner read/write only).
pub const PRIVATE_MODE: u32 = 0o600;

/// Unix permission bits of public outputs (certificates, signed documents, images).
pub const PUBLIC_MODE: u32 = 0o644;

/// The name of the private (0700) scratch directory kept inside a destination directory
/// (see [`crate::ExportOptions::with_scratch_dir`]).
pub const SCRATCH_DIR_NAME: &str = ".ksef-tmp";

/// The name of the lock file [`DirectoryLock`] keeps in a directory.
pub const LOCK_FILE_NAME: &str = ".ksef-sync.lock";

/// Random characters in temporary names (62^12, about 71 bits: not guessable in advance).
const RANDOM_CHARS: usize = 12;

/// A write or a scratch directory was refused: `path` is a symbolic link, a directory or
/// another special file where a regular file (or our own directory) is expected. Nothing was
/// written through it. Reached through the [`std::io::Error`] the writer returns
/// (`error.get_ref()` and `downcast_ref`).
#[derive(Debug, thiserror::Error)]
#[error("{} is {found}, not a {expected}; refusing to write through it (remove it or choose another path)", .path.display())]
pub struct UnexpectedFileType {
    /// The path.
    pub path: PathBuf,
    /// What is there ("a symbolic link", "a directory", "a special file").
    pub found: &'static str,
    /// What was expected there ("regular file" or "directory").
    pub expected: &'static str,
}

/// What `meta` describes, in words, for [`UnexpectedFileType`].
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

fn unexpected(path: &Path, meta: &std::fs::Metadata, expected: &'static str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        UnexpectedFileType {
            path: path.to_path_buf(),
            found: kind_of(meta),
            expected,
        },
    )
}

/// Fails unless `path` is absent or a regular file (a symbolic link is never followed).
fn ensure_file_or_absent(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(unexpected(path, &meta, "regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The most bytes of a state file of ours read (a sync checkpoint file, a profile's session
/// file, a token file): far above any real one, far below what would hurt.
pub const STATE_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Reads a state file of ours (a checkpoint file, a session file), at most `limit` bytes:
/// refused by its size first, then read through a cap (a device or a pipe planted in its place),
/// so it is never read whole into memory. A missing file is [`std::io::ErrorKind::NotFound`] as
/// from [`std::fs::read`]; a larger one is [`std::io::ErrorKind::InvalidData`] naming the limit.
///
/// # Errors
///
/// As [`std::fs::read`], and the size limit.
pub fn read_state_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is larger than the {limit} bytes a state file may have; it was not read"
            ),
        )
    };
    if meta.is_file() && meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Writes `bytes` to a temporary sibling of `path` (mode 0600 on Unix), syncs it and renames it
/// over `path`; then syncs the directory so the rename itself survives a crash. A reader sees the
/// old file or the new one, never a torn one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file_atomically(path, bytes, PRIVATE_MODE)
}

/// Writes `bytes` to `path` atomically with Unix permission bits `mode` ([`PRIVATE_MODE`] for
/// anything secret and for invoice data, [`PUBLIC_MODE`] for public outputs): a temporary sibling
/// with an unpredictable name created exclusively (never opening something planted there), fsync,
/// rename over `path`, fsync of the directory. A reader sees the old file or the new one, never a
/// torn one; the temporary file is removed if anything fails. The permissions are set explicitly,
/// so a umask never widens or narrows them. A symbolic link, directory or special file at `path`
/// is refused ([`UnexpectedFileType`]), never written through.
///
/// # Errors
///
/// The I/O error of the step that failed; [`UnexpectedFileType`] inside it when `path` is not a
/// regular file.
pub fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    ensure_file_or_absent(path)?;
    let mut builder = tempfile::Builder::new();
    // `.{name}.{pid}.{random}.tmp`: the pid lets a later run tell a dead process's leftovers
    // from a live one's (see `is_stale_temporary`); the random part makes the name unguessable.
    let prefix = format!(".{file_name}.{}.", std::process::id());
    builder
        .prefix(&prefix)
        .suffix(".tmp")
        .rand_bytes(RANDOM_CHARS);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(mode & 0o600));
    }
    #[cfg(not(unix))]
    let _ = mode;
    // Created with O_CREAT|O_EXCL: a link planted at the name makes this fail, never followed.
    let mut temporary = builder.tempfile_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        temporary
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    // The check again, just before the rename (which replaces a link, never follows it).
    ensure_file_or_absent(path)?;
    // On failure the temporary file is removed when the error (which holds it) is dropped.
    temporary.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// Whether `name` is a temporary file of [`write_file_atomically`] left by another process (one
/// that was killed before it could rename or remove it).
pub(crate) fn is_stale_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let mut parts = rest.rsplitn(3, '.');
    let (Some(random), Some(pid), Some(_file)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !random.is_empty()
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
        && pid
            .parse::<u32>()
            .is_ok_and(|pid| pid != std::process::id())
}

/// Creates `path` as a private directory (0700 on Unix) if it is missing, and makes it private if
/// it exists; refuses a symbolic link or anything else that is not a directory there.
///
/// # Errors
///
/// The I/O error, with [`UnexpectedFileType`] inside it when `path` is not a directory.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    match builder.create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_dir() {
        return Err(unexpected(path, &meta, "directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// A private temporary directory (exports' downloaded parts and decrypted archive, batches'
/// encrypted parts), removed on drop. It holds a lock on its `.lock` file while in use, so a
/// later run can tell what a killed run left behind (unlocked) and remove it.
pub(crate) struct ScratchDir {
    /// The directory.
    pub(crate) path: PathBuf,
    /// Held for the directory's lifetime; the OS releases it when the process dies.
    _lock: std::fs::File,
}

impl ScratchDir {
    /// Creates `{base}/.ksef-tmp/ksef-{label}-{random}` (or, without a base, the same under the
    /// system's temporary directory), mode 0700, after removing the scratch directories killed
    /// runs left there.
    pub(crate) fn create(base: Option<&Path>, label: &str) -> Result<ScratchDir, Error> {
        let root = match base {
            Some(base) => {
                let root = base.join(SCRATCH_DIR_NAME);
                create_private_dir(&root)
                    .map_err(|e| Error::storage(format!("cannot create {}", root.display()), e))?;
                root
            }
            None => std::env::temp_dir(),
        };
        let mut builder = tempfile::Builder::new();
        let prefix = format!("ksef-{label}-");
        builder.prefix(&prefix).rand_bytes(RANDOM_CHARS);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let path = builder
            .tempdir_in(&root)
            .map_err(|e| {
                Error::storage(
                    format!("cannot create a scratch directory in {}", root.display()),
                    e,
                )
            })?
            .keep();
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path.join(".lock"))
            .and_then(|file| {
                file.try_lock().map_err(std::io::Error::from)?;
                Ok(file)
            });
        let lock = match lock {
            Ok(lock) => lock,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                return Err(Error::storage(format!("cannot lock {}", path.display()), e));
            }
        };
        remove_abandoned_scratch(&root, &path);
        Ok(ScratchDir { path, _lock: lock })
    }
}

/// Removes the `ksef-*` scratch directories in `root` that no live process holds (a killed run's
/// leftovers), except `ours`; under the shared temporary directory only those of our own user.
fn remove_abandoned_scratch(root: &Path, ours: &Path) {
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::symlink_metadata(ours).map(|m| m.uid()).ok()
    };
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == ours || !entry.file_name().to_string_lossy().starts_with("ksef-") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_dir() {
            continue;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            if owner != Some(meta.uid()) {
                continue;
            }
        }
        match std::fs::File::open(path.join(".lock")) {
            // Unlocked: its process is gone. Removed while we hold the lock, so no new owner.
            Ok(lock) if lock.try_lock().is_ok() => {
                tracing::debug!(path = %path.display(), "removing an abandoned scratch directory");
                let _ = std::fs::remove_dir_all(&path);
            }
            Ok(_) => {}
            // No lock file: killed between creating the directory and its lock, or not ours.
            // Removed once it is old enough that no live run can still be creating it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(60));
                if old {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
            Err(_) => {}
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: nothing of an export or a batch should outlive its use.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// An exclusive OS lock on a directory (the file [`LOCK_FILE_NAME`] in it), held until drop or
/// the end of the process (also a kill: the OS releases it). Keeps two syncs out of one
/// directory; the lock file names the holder for the error the second one gets.
#[derive(Debug)]
pub struct DirectoryLock {
    file: std::fs::File,
    path: PathBuf,
}

impl DirectoryLock {
    /// Takes the lock on `dir` for `purpose` (written into the lock file with the process id).
    ///
    /// # Errors
    ///
    /// [`Error::DirectoryBusy`] naming the holder when another process (or another lock in this
    /// one) holds it; [`Error::Storage`] when the lock file cannot be opened (a symbolic link
    /// there is refused).
    pub fn acquire(dir: &Path, purpose: &str) -> Result<DirectoryLock, Error> {
        let path = dir.join(LOCK_FILE_NAME);
        ensure_file_or_absent(&path)
            .map_err(|e| Error::storage(format!("cannot lock {}", dir.display()), e))?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(PRIVATE_MODE);
        }
        let mut file = options
            .open(&path)
            .map_err(|e| Error::storage(format!("cannot open {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(
                    &mut std::io::Read::take(&mut file, 1024),
                    &mut holder,
                );
                let holder = holder.trim();
                return Err(Error::DirectoryBusy {
                    dir: dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "another process".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::storage(format!("cannot lock {}", path.display()), e));
            }
        }
        let note = format!(
            "{purpose} (process {}, since {})",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        let written = file
            .set_len(0)
            .and_then(|()| std::io::Seek::rewind(&mut file))
            .and_then(|()| file.write_all(note.as_bytes()));
        written.map_err(|e| Error::storage(format!("cannot write {}", path.display()), e))?;
        Ok(DirectoryLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        // Best effort: the holder's note goes; the OS drops the lock with the handle anyway.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint file swapped for a huge one (sparse: no disk used) is refused by its size
    /// before it is read; it was read whole before (then failed to parse, after using the
    /// memory), and `/dev/zero` in its place was read forever.
    #[test]
    fn a_huge_state_file_is_refused_unread() {
        let dir = temp_dir("state");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoints.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(STATE_FILE_LIMIT + 1).unwrap();
        let error = crate::sync::FileCheckpointStore::open(&path).expect_err("too large");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            source.as_deref().is_some_and(|s| s.contains("larger than")),
            "{error}: {source:?}"
        );
        #[cfg(unix)]
        {
            let error = read_state_file(Path::new("/dev/zero"), 1024).expect_err("capped");
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        }
        let missing = read_state_file(&dir.join("missing.json"), 1024).expect_err("missing");
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        std::fs::write(&path, b"{}").unwrap();
        assert_eq!(read_state_file(&path, 1024).unwrap(), b"{}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn temp_dir(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ksef-client-files-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn recognises_only_other_processes_temporaries() {
        let ours = format!(".a.xml.{}.Ab3dE5gH9jK1.tmp", std::process::id());
        assert!(!is_stale_temporary(&ours));
        let other = if std::process::id() == 1 { 2 } else { 1 };
        assert!(is_stale_temporary(&format!(
            ".a.xml.{other}.Ab3dE5gH9jK1.tmp"
        )));
        assert!(!is_stale_temporary("a.xml"));
        assert!(!is_stale_temporary(".a.xml.tmp"));
        assert!(!is_stale_temporary(".a.xml.x.3.tmp"));
        assert!(!is_stale_temporary(".a.xml.12.y-z.tmp"));
    }

    #[test]
    fn writes_replace_whole_files() {
        let dir = temp_dir("replace");
        let path = dir.join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_destination_is_refused_not_followed() {
        let dir = temp_dir("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let link = dir.join("a.xml");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let error = write_atomically(&link, b"<Faktura/>").unwrap_err();
        let typed = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<UnexpectedFileType>())
            .expect("a typed error");
        assert_eq!(typed.path, link);
        assert_eq!(typed.found, "a symbolic link");
        assert!(error.to_string().contains("a.xml"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn links_planted_at_predictable_temporary_names_are_never_written_through() {
        // The old writer used `.{name}.{pid}.{n}.tmp` with n counting from 0, opened without
        // O_EXCL: a link planted at the next name received the invoice.
        let dir = temp_dir("planted");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        for n in 0..64 {
            let planted = dir.join(format!(".a.xml.{}.{n}.tmp", std::process::id()));
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
        }
        for _ in 0..8 {
            write_atomically(&dir.join("a.xml"), b"<Faktura/>").unwrap();
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(std::fs::read(dir.join("a.xml")).unwrap(), b"<Faktura/>");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn scratch_directories_are_private_and_leftovers_of_dead_runs_are_removed() {
        use std::os::unix::fs::PermissionsExt as _;
        let base = temp_dir("scratch");
        let root = base.join(SCRATCH_DIR_NAME);
        // A killed run's leftover: a scratch directory whose lock nobody holds.
        std::fs::create_dir_all(root.join("ksef-export-dead")).unwrap();
        std::fs::write(root.join("ksef-export-dead/.lock"), b"").unwrap();
        std::fs::write(root.join("ksef-export-dead/archive"), b"plaintext").unwrap();
        let live = ScratchDir::create(Some(&base), "export").unwrap();
        assert!(!root.join("ksef-export-dead").exists());
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mode = std::fs::metadata(&live.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A second, concurrent one leaves the live one alone.
        let second = ScratchDir::create(Some(&base), "export").unwrap();
        assert!(live.path.exists());
        let (first, second_path) = (live.path.clone(), second.path.clone());
        drop(live);
        drop(second);
        assert!(!first.exists() && !second_path.exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_scratch_root_is_refused() {
        let base = temp_dir("scratch-link");
        let elsewhere = temp_dir("scratch-elsewhere");
        std::os::unix::fs::symlink(&elsewhere, base.join(SCRATCH_DIR_NAME)).unwrap();
        let error = ScratchDir::create(Some(&base), "export")
            .err()
            .expect("refused");
        assert!(
            format!("{:?}", error).contains("symbolic link"),
            "{error:?}"
        );
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_dir_all(&base).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[test]
    fn a_directory_lock_refuses_a_second_holder_and_names_the_first() {
        let dir = temp_dir("lock");
        let first = DirectoryLock::acquire(&dir, "invoice sync").unwrap();
        let error = DirectoryLock::acquire(&dir, "invoice sync").unwrap_err();
        match &error {
            Error::DirectoryBusy { dir: busy, holder } => {
                assert_eq!(busy, &dir);
                assert!(holder.contains("invoice sync"), "{holder}");
                assert!(
                    holder.contains(&format!("process {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected DirectoryBusy, got {other:?}"),
        }
        drop(first);
        let again = DirectoryLock::acquire(&dir, "invoice sync").unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
