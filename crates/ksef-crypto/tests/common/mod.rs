//! Helpers shared by the integration tests: temporary directories and the `openssl` command line
//! tool, which serves as an independent implementation to check ours against.
//!
//! Every tool run goes through `ksef-oracle` (`KSEF_ORACLES`): by default it is replayed from
//! `tests/golden/tools-BINARY.tsv` (stdout and the files the tool wrote), so its inputs must be
//! deterministic (fixed keys and IVs, seeded data); `live` runs the real tool, `record` rewrites
//! the golden file (`cargo xtask oracles`).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ksef_model::types::{
    PublicKeyCertificate, PublicKeyCertificateParams, PublicKeyCertificateUsage,
};

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

/// The golden file of this test binary's tool runs.
pub fn golden() -> ksef_oracle::Golden {
    ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("tools-{}", ksef_oracle::test_binary()),
    )
}

/// Runs `tool` with `args` in `dir` (or replays the run), feeding `stdin`; returns stdout (or its
/// hex SHA-256), panicking with stderr on failure.
pub fn tool(
    tool: ksef_oracle::Tool,
    dir: &Path,
    args: &[&str],
    stdin: &[u8],
    stdout: ksef_oracle::Stdout,
) -> Vec<u8> {
    let ran = golden().run(tool, dir, args, stdin, stdout);
    assert!(
        ran.success,
        "{} {args:?} failed: {}",
        tool.program, ran.stderr
    );
    ran.stdout
}

/// Runs `openssl` with `args` in `dir`, feeding `stdin`; returns stdout, panicking with stderr on
/// failure. Replayed from the golden file by default (see the module docs).
pub fn openssl(dir: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    tool(
        ksef_oracle::OPENSSL,
        dir,
        args,
        stdin,
        ksef_oracle::Stdout::Bytes,
    )
}

/// As [`openssl`], for large outputs: the hex SHA-256 of stdout.
pub fn openssl_sha256(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    String::from_utf8(tool(
        ksef_oracle::OPENSSL,
        dir,
        args,
        stdin,
        ksef_oracle::Stdout::Sha256,
    ))
    .unwrap()
}

/// Runs the real `openssl` (never replayed: for inputs that are random by design, in the live
/// and record modes only); returns the process output.
pub fn openssl_live(dir: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut command = ksef_oracle::OPENSSL.command();
    command.args(args).current_dir(dir);
    ksef_oracle::OPENSSL.output(&mut command, stdin)
}

/// Whether the real tools run (`KSEF_ORACLES=live` or `record`).
pub fn live() -> bool {
    ksef_oracle::Mode::from_env().runs_tools()
}

/// A session key fixed by `seed` (key and IV), so tool runs on what it encrypts replay.
pub fn fixed_session_key(seed: u64) -> ksef_crypto::SessionKey {
    let bytes = pseudo_random(48, seed);
    ksef_crypto::SessionKey::from_slices(&bytes[..32], &bytes[32..]).unwrap()
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

    /// A listing entry for this certificate (`publicKeyId` `test-key-id`).
    pub fn entry(
        &self,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: &[PublicKeyCertificateUsage],
    ) -> PublicKeyCertificate {
        listing_entry(self.base64(), valid_from, valid_to, usage)
    }
}

/// A certificate valid from its making for `days` days; `key` is `rsa:2048` or `ec` (P-256).
/// Replayed from the golden file by default: the key and dates are those recorded.
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

/// An RSA certificate valid for a century: its recorded copy (golden mode) stays valid.
pub fn rsa_cert(dir: &TempDir, name: &str) -> TestCert {
    make_cert(dir, name, "rsa:2048", 36_500)
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

/// Invoice-like content: XML-ish text with some randomness, `len` bytes.
pub fn invoice_content(len: usize, seed: u64) -> Vec<u8> {
    let noise = pseudo_random(len / 8 + 8, seed);
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(
            format!(
                "<Wiersz><NrWiersza>{i}</NrWiersza><P_7>Towar {:02x}{:02x}</P_7><P_9A>{}.{:02}</P_9A></Wiersz>\n",
                noise[i % noise.len()],
                noise[(i * 7) % noise.len()],
                u32::from(noise[(i * 3) % noise.len()]) * 13,
                noise[(i * 5) % noise.len()] % 100
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// `n` invoice file names as an export names them (`{ksefNumber}.xml`).
pub fn names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("5265877635-20250826-{i:012X}-AF.xml"))
        .collect()
}

/// A listing entry (`PublicKeyCertificate`) for the base64 `certificate`, with `publicKeyId`
/// `test-key-id`.
pub fn listing_entry(
    certificate: String,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    usage: &[PublicKeyCertificateUsage],
) -> PublicKeyCertificate {
    PublicKeyCertificate::new(PublicKeyCertificateParams {
        certificate,
        certificate_id: "test-certificate".to_owned(),
        public_key_id: "test-key-id".to_owned(),
        valid_from: valid_from.fixed_offset(),
        valid_to: valid_to.fixed_offset(),
        usage: usage.to_vec(),
    })
}

/// Sets a listing entry's `publicKeyId`.
pub trait WithKeyId {
    fn with_public_key_id(self, id: &str) -> Self;
}

impl WithKeyId for PublicKeyCertificate {
    fn with_public_key_id(mut self, id: &str) -> Self {
        self.public_key_id = id.to_owned();
        self
    }
}
