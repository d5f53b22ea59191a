//! Atomic file writes: the one way this crate's stores (tokens, checkpoints, synced invoices)
//! reach the disk, public so applications write their files the same way.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary names unique within the process (several writes may run at once).
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary sibling of `path` (mode 0600 on Unix), syncs it and renames it
/// over `path`; then syncs the directory so the rename itself survives a crash. A reader sees the
/// old file or the new one, never a torn one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file_atomically(path, bytes, 0o600)
}

/// Writes `bytes` to `path` atomically with Unix permission bits `mode` (0600 for anything secret,
/// 0644 for public outputs): a temporary sibling, fsync, rename over `path`, fsync of the
/// directory. A reader sees the old file or the new one, never a torn one; the temporary file is
/// removed if anything fails. The permissions are set explicitly, so a umask never widens or
/// narrows them. The stores of this crate write through here, and so can applications (the
/// `ksef` CLI writes every file it produces with it).
///
/// # Errors
///
/// The I/O error of the step that failed.
pub fn write_file_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let unique = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.{}.{unique}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        // Best effort: do not leave a temporary file (perhaps with secrets) behind.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether `name` is a temporary file of [`write_atomically`] left by another process (one that
/// was killed before it could rename or remove it).
pub(crate) fn is_stale_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let mut parts = rest.rsplitn(3, '.');
    let (Some(counter), Some(pid), Some(_file)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    counter.bytes().all(|b| b.is_ascii_digit())
        && !counter.is_empty()
        && pid
            .parse::<u32>()
            .is_ok_and(|pid| pid != std::process::id())
}

/// Makes scratch directory names unique within the process.
static NEXT_SCRATCH: AtomicU64 = AtomicU64::new(0);

/// A private temporary directory (exports' downloaded parts, batches' encrypted parts), removed
/// on drop.
pub(crate) struct ScratchDir {
    /// The directory.
    pub(crate) path: PathBuf,
}

impl ScratchDir {
    /// Creates `{base or the system temp dir}/ksef-{label}-{pid}-{n}`, mode 0700.
    pub(crate) fn create(
        base: Option<&Path>,
        label: &str,
    ) -> Result<ScratchDir, crate::error::Error> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let path = base.join(format!(
            "ksef-{label}-{}-{}",
            std::process::id(),
            NEXT_SCRATCH.fetch_add(1, Ordering::Relaxed)
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(&path).map_err(|e| {
            crate::error::Error::storage(format!("cannot create {}", path.display()), e)
        })?;
        Ok(ScratchDir { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: nothing of an export or a batch should outlive its use.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_other_processes_temporaries() {
        let ours = format!(".a.xml.{}.3.tmp", std::process::id());
        assert!(!is_stale_temporary(&ours));
        let other = if std::process::id() == 1 { 2 } else { 1 };
        assert!(is_stale_temporary(&format!(".a.xml.{other}.3.tmp")));
        assert!(!is_stale_temporary("a.xml"));
        assert!(!is_stale_temporary(".a.xml.tmp"));
        assert!(!is_stale_temporary(".a.xml.x.3.tmp"));
        assert!(!is_stale_temporary(".a.xml.12.y.tmp"));
    }

    #[test]
    fn writes_replace_whole_files() {
        let dir = std::env::temp_dir().join(format!("ksef-client-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
}
