//! Helpers shared by the integration tests: temporary directories and the `openssl` command line
//! tool, which serves as an independent implementation to check ours against.

#![allow(dead_code, unreachable_pub)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ksef_crypto::{CertificateEntry, CertificateUsage};

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "ksef-crypto-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl` with `args` in `dir`, feeding `stdin`; returns stdout, panicking with stderr on
/// failure.
pub fn openssl(dir: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command line tool must be installed for these tests");
    let mut child_stdin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = child_stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key pair and self-signed certificate made by `openssl req -x509`.
pub struct TestCert {
    /// PKCS#8 PEM private key.
    pub key_pem: String,
    /// The certificate in DER.
    pub cert_der: Vec<u8>,
    /// Where the key and certificate files are.
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
}

impl TestCert {
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.cert_der)
    }

    /// A listing entry for this certificate.
    pub fn entry(
        &self,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: &[CertificateUsage],
    ) -> CertificateEntry {
        CertificateEntry::new(self.base64(), valid_from, valid_to, usage.iter().cloned())
    }
}

/// A certificate valid from now for `days` days; `key` is `rsa:2048` or `ec` (P-256).
pub fn make_cert(dir: &TempDir, name: &str, key: &str, days: u32) -> TestCert {
    let key_file = format!("{name}.key.pem");
    let cert_file = format!("{name}.cert.der");
    let days = days.to_string();
    let mut args = vec!["req", "-x509", "-newkey", key];
    if key == "ec" {
        args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    args.extend([
        "-nodes",
        "-keyout",
        &key_file,
        "-out",
        &cert_file,
        "-outform",
        "DER",
        "-days",
        &days,
        "-subj",
        "/C=PL/O=Test/CN=Ministerstwo Finansow (test)",
    ]);
    openssl(dir.path(), &args, b"");
    TestCert {
        key_pem: std::fs::read_to_string(dir.file(&key_file)).unwrap(),
        cert_der: std::fs::read(dir.file(&cert_file)).unwrap(),
        key_path: dir.file(&key_file),
        cert_path: dir.file(&cert_file),
    }
}

pub fn rsa_cert(dir: &TempDir, name: &str) -> TestCert {
    make_cert(dir, name, "rsa:2048", 365)
}

/// Deterministic pseudo-random bytes (xorshift), cheap enough for megabytes of test data.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The current instant (chrono's `clock` feature is not enabled in this workspace).
pub fn now() -> DateTime<Utc> {
    std::time::SystemTime::now().into()
}
