//! File helpers shared by every command: the one way secrets and session state reach the disk,
//! and reading secret files.

use std::path::Path;

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

/// Writes `bytes` to `path` atomically (a temporary file beside it, then a rename), readable and
/// writable by the owner only (0600 on Unix). Every file holding a secret or session state goes
/// through here: session files, KSeF tokens, private keys, config.toml.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, bytes, ksef_client::files::PRIVATE_MODE)
}

/// Writes invoice data to `path` atomically, owner only (0600 on Unix): invoices (`invoice get`,
/// `invoice export`), UPOs (`--upo-dir`, `session upo`) and what is rendered from them. They name
/// counterparties and amounts; `invoice sync` stores its invoices the same way. A symbolic link
/// at `path` is refused, never written through.
pub(crate) fn write_document(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, bytes, ksef_client::files::PRIVATE_MODE)
}

/// Writes `bytes` to `path` atomically with the usual permissions (0644 on Unix): for public
/// outputs such as certificates, signed documents and images.
pub(crate) fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, bytes, ksef_client::files::PUBLIC_MODE)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    ksef_client::files::write_file_atomically(path, bytes, mode)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A size limit of files the user names, with the name the error gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadLimit {
    /// The most bytes read.
    pub(crate) bytes: u64,
    /// What the limit is, for the error ("KSeF's invoice size limit").
    pub(crate) name: &'static str,
}

/// Invoices: KSeF's size limit of an invoice with attachments (3 MB; the validator then applies
/// the 1 MB limit of invoices without).
pub(crate) const INVOICE_LIMIT: ReadLimit = ReadLimit {
    bytes: ksef_client::crypto::MAX_INVOICE_WITH_ATTACHMENTS_SIZE,
    name: "KSeF's invoice size limit (3 MB with attachments)",
};

/// Every other input file (certificates, keys, PKCS#12 files, UPOs, signed documents, request
/// bodies): far above any real one, far below what would hurt.
pub(crate) const INPUT_LIMIT: ReadLimit = ReadLimit {
    bytes: 16 * 1024 * 1024,
    name: "the 16 MiB limit of input files",
};

/// Files holding one secret line (KSeF tokens, key passwords).
pub(crate) const SECRET_LIMIT: ReadLimit = ReadLimit {
    bytes: 64 * 1024,
    name: "the 64 KiB limit of token and password files",
};

/// A file the user named is larger than its limit: refused before (or while) reading, never
/// read whole.
#[derive(Debug)]
pub(crate) struct FileTooLarge {
    /// What the file is ("the invoice file").
    pub(crate) what: String,
    /// The file.
    pub(crate) path: std::path::PathBuf,
    /// The limit.
    pub(crate) limit: ReadLimit,
    /// Its size, when the file system says (not for devices and pipes).
    pub(crate) size: Option<u64>,
}

impl std::fmt::Display for FileTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} is larger than {} ({} bytes)",
            self.what,
            self.path.display(),
            self.limit.name,
            self.limit.bytes
        )?;
        if let Some(size) = self.size {
            write!(f, ": it has {size} bytes")?;
        }
        f.write_str("; it was not read")
    }
}

impl std::error::Error for FileTooLarge {}

/// Reads a file the user named, at most `limit` bytes: refused by its size first (a regular
/// file), then read through a cap (`/dev/zero`, a pipe), so it is never read whole into memory.
/// `what` names it in the errors.
pub(crate) fn read_bounded(path: &Path, what: &str, limit: ReadLimit) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    let cannot = || {
        format!(
            "cannot read {what} {}; check the path and its permissions",
            path.display()
        )
    };
    let file = std::fs::File::open(path).with_context(cannot)?;
    let meta = file.metadata().with_context(cannot)?;
    let too_large = |size| FileTooLarge {
        what: what.to_owned(),
        path: path.to_path_buf(),
        limit,
        size,
    };
    if meta.is_file() && meta.len() > limit.bytes {
        return Err(too_large(Some(meta.len())).into());
    }
    let capacity = if meta.is_file() { meta.len() } else { 0 };
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    file.take(limit.bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(cannot)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(None).into());
    }
    Ok(bytes)
}

/// Reads a state file of ours (config.toml, a profile's session file, a pending external login,
/// the detached simulator's pid file) with ksef-client's bounded reader: a missing file is
/// `NotFound` as from `std::fs::read`, one over 4 MiB is refused unread.
pub(crate) fn read_state(path: &Path) -> std::io::Result<Vec<u8>> {
    ksef_client::files::read_state_file(path, ksef_client::files::STATE_FILE_LIMIT)
}

/// Reads a file the user named on the command line ([`INPUT_LIMIT`]), saying which flag named it
/// if it fails.
pub(crate) fn read_input(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, what, INPUT_LIMIT)
}

/// Reads an invoice file ([`INVOICE_LIMIT`]).
pub(crate) fn read_invoice(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, "the invoice file", INVOICE_LIMIT)
}

/// Reads a secret from the first line of a file (a key password); the bytes are wiped on drop.
pub(crate) fn read_secret_line(path: &Path, what: &str) -> anyhow::Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(read_bounded(
        path,
        &format!("the {what} file"),
        SECRET_LIMIT,
    )?);
    let text =
        Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
            anyhow::anyhow!("the {what} file {} is not UTF-8 text", path.display())
        })?);
    let line = Zeroizing::new(text.lines().next().unwrap_or_default().to_owned());
    if line.is_empty() {
        bail!("the {what} file {} is empty", path.display());
    }
    Ok(line)
}

/// The first line of standard input without its line end, or `None` when standard input is
/// empty; `what` names it in the error. The buffer is wiped on drop (it holds a secret).
pub(crate) fn stdin_line(what: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
    use std::io::BufRead as _;
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    if read == 0 {
        return Ok(None);
    }
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(Some(line))
}

/// The environment variable that may hold the password of a PKCS#12 file.
pub(crate) const P12_PASSWORD_ENV: &str = "KSEF_P12_PASSWORD";

/// The password of the PKCS#12 file `file`, never from the command line: the first line of
/// standard input with `--password-stdin`, else `KSEF_P12_PASSWORD`, else asked for on the
/// terminal without echo (twice when `new`, for a file about to be written). Wiped on drop.
pub(crate) fn p12_password(
    from_stdin: bool,
    file: &Path,
    new: bool,
) -> anyhow::Result<Zeroizing<String>> {
    use std::io::IsTerminal as _;
    let password = if from_stdin {
        stdin_line("the PKCS#12 password")?.with_context(|| {
            format!(
                "--password-stdin: standard input is empty; write the password of {} to it",
                file.display()
            )
        })?
    } else if let Some(value) = std::env::var_os(P12_PASSWORD_ENV) {
        Zeroizing::new(
            value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{P12_PASSWORD_ENV} is not valid UTF-8 text"))?,
        )
    } else if std::io::stdin().is_terminal() {
        let prompt = format!("password of {}: ", file.display());
        let first = Zeroizing::new(
            rpassword::prompt_password(&prompt).context("cannot read the password")?,
        );
        if new {
            let again = Zeroizing::new(
                rpassword::prompt_password("the same password again: ")
                    .context("cannot read the password")?,
            );
            if *again != *first {
                bail!("the two passwords differ; nothing was written");
            }
        }
        first
    } else {
        bail!(
            "no password for the PKCS#12 file {}: pass --password-stdin, set {P12_PASSWORD_ENV}, \
             or run in a terminal to be asked (passwords are never accepted as arguments)",
            file.display()
        );
    };
    if new && password.is_empty() {
        bail!(
            "the password of {} is empty; choose one (the file holds a private key)",
            file.display()
        );
    }
    Ok(password)
}

/// Reads a PKCS#12 file (.p12/.pfx) for signing: its key and certificate, the password from
/// [`p12_password`]; the certificate must be valid now.
pub(crate) fn read_p12_signer(
    path: &Path,
    password_stdin: bool,
) -> anyhow::Result<ksef_crypto::KeySigner> {
    let der = Zeroizing::new(read_input(path, "the PKCS#12 file")?);
    let password = p12_password(password_stdin, path, false)?;
    ksef_crypto::KeySigner::from_pkcs12(&der, &password, chrono::Utc::now())
        .with_context(|| format!("cannot use the PKCS#12 file {}", path.display()))
}

/// Reads the offline certificate's private key (PKCS#8 PEM, encrypted when `password_file` names
/// the file holding its password); the PEM text and the password are wiped on drop.
pub(crate) fn read_certificate_key(
    key: &Path,
    password_file: Option<&Path>,
) -> anyhow::Result<ksef_crypto::CertificateKey> {
    use ksef_crypto::CertificateKey;
    let pem = Zeroizing::new(
        String::from_utf8(read_input(key, "the private key")?)
            .map_err(|_| anyhow::anyhow!("the key {} is not PEM text", key.display()))?,
    );
    match password_file {
        Some(path) => {
            let password = read_secret_line(path, "key password")?;
            CertificateKey::from_encrypted_pkcs8_pem(&pem, password.as_bytes())
        }
        None => CertificateKey::from_pkcs8_pem(&pem),
    }
    .with_context(|| {
        format!(
            "cannot read the key {} (PKCS#8 PEM; --key-password-file if encrypted)",
            key.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_owner_only_and_replaced_atomically() {
        let dir = std::env::temp_dir().join(format!("ksef-cli-files-{}", std::process::id()));
        let path = dir.join("secret.txt");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn reads_stop_at_the_limit_whatever_the_file_says() {
        let limit = ReadLimit {
            bytes: 10,
            name: "a test limit",
        };
        let error = read_bounded(Path::new("/dev/zero"), "the invoice file", limit).unwrap_err();
        let typed = error.downcast_ref::<FileTooLarge>().expect("typed");
        assert_eq!(typed.size, None);
        assert_eq!(
            error.to_string(),
            "the invoice file /dev/zero is larger than a test limit (10 bytes); it was not read"
        );
        let dir = std::env::temp_dir().join(format!("ksef-cli-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_bounded(&path, "f", limit).unwrap(), b"0123456789");
        std::fs::write(&path, b"0123456789A").unwrap();
        let error = read_bounded(&path, "f", limit).unwrap_err();
        assert_eq!(error.downcast_ref::<FileTooLarge>().unwrap().size, Some(11));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_secret_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("ksef-cli-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty");
        std::fs::write(&path, "\n").unwrap();
        let error = read_secret_line(&path, "password").unwrap_err().to_string();
        assert!(error.contains("empty"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
