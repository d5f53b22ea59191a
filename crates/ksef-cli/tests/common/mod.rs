//! Helpers shared by the test files: an isolated `ksef` command, a `ksef sim` child process, and
//! checks for exit codes, JSON documents, file modes and secrets.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ksef");

/// A fresh directory under the system's temporary directory, removed with everything in it when
/// the test drops it; kept (and named on stderr) when the test fails, to look into.
pub fn temp_dir(name: &str) -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ksef-cli-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// See [`temp_dir`]: derefs to its path.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `command` on a pseudo-terminal (util-linux `script`), with its environment changes: what
/// a person at a terminal would see, stdout and stderr together on the output's stdout.
pub fn on_terminal(command: &Command) -> Output {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let (mut removed, mut set) = (String::new(), String::new());
    for (name, value) in command.get_envs() {
        let name = name.to_string_lossy();
        match value {
            Some(value) => set += &format!(" {name}={}", quote(value)),
            None => removed += &format!(" -u {name}"),
        }
    }
    let mut line = format!("env{removed}{set} {}", quote(command.get_program()));
    for arg in command.get_args() {
        line += " ";
        line += &quote(arg);
    }
    Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux runs the command on a pseudo-terminal")
}

/// The sample FA(3) invoice of the fixtures.
pub fn sample_invoice() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/invoices/fa3-sample.xml")
}

/// A `ksef` command isolated from the caller's environment: its own home, no KSEF_* variables.
pub fn ksef(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("KSEF_ENV")
        .env_remove("KSEF_BASE_URL")
        .env_remove("KSEF_TOKEN")
        .env_remove("KSEF_P12_PASSWORD")
        .env_remove("KSEF_PKCS11_PIN")
        .env_remove("SOFTHSM2_CONF")
        .env_remove("RUST_LOG")
        .env_remove("KSEF_LOG")
        .env_remove("KSEF_DEADLINE")
        .env("KSEF_HOME", home)
        .env("XDG_STATE_HOME", home.join("xdg"))
        .stdin(Stdio::null());
    command
}

/// How long one `ksef` command of a test may run before the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Runs `command` to completion like `Command::output`, but kills it and fails the test when it
/// runs longer than `limit`, so no test can hang.
pub fn output_within(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            // Arguments only: the environment may hold a token.
            let args: Vec<_> = command.get_args().collect();
            panic!("`ksef {args:?}` did not finish within {limit:?}");
        }
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// Fails if `secret` shows up in the output of a command.
pub fn assert_no_secret(output: &Output, secret: &str) {
    assert!(
        !text(&output.stdout).contains(secret) && !text(&output.stderr).contains(secret),
        "a secret leaked into the output"
    );
}

/// Asserts success and parses stdout as exactly one JSON document.
pub fn json_ok(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", describe(output));
    json_doc(output)
}

/// Parses stdout as exactly one JSON document, whatever the exit code.
pub fn json_doc(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            describe(output)
        )
    })
}

/// Asserts exit code 1 and an error message on stderr mentioning `needle`.
pub fn assert_fails_with(output: &Output, needle: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", describe(output));
    assert!(
        text(&output.stderr).contains(needle),
        "stderr should mention {needle:?}:\n{}",
        describe(output)
    );
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A running `ksef sim` child; stopped with SIGTERM (then killed) when dropped.
pub struct Sim {
    pub child: Child,
    pub base_url: String,
    pub nip: String,
    pub token: String,
}

fn unquote(value: &str) -> String {
    value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value)
        .replace(r"'\''", "'")
}

impl Sim {
    /// Starts `ksef sim` with extra arguments and reads its three lines.
    pub fn start_with(home: &Path, extra: &[&str]) -> Sim {
        let mut args = vec!["sim", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = ksef(home, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = |key: &str| {
            let line = lines.next().expect("a line").expect("readable");
            let value = line
                .strip_prefix(&format!("{key}="))
                .unwrap_or_else(|| panic!("expected {key}=..., got a different line"));
            unquote(value)
        };
        let base_url = next("KSEF_BASE_URL");
        let nip = next("KSEF_NIP");
        let token = next("KSEF_TOKEN");
        Sim {
            child,
            base_url,
            nip,
            token,
        }
    }

    /// Starts `ksef sim`.
    pub fn start(home: &Path) -> Sim {
        Sim::start_with(home, &[])
    }

    /// A `ksef` command against this simulator (no token in its environment); the argv is
    /// checked never to carry the token.
    pub fn ksef(&self, home: &Path, args: &[&str]) -> Command {
        assert!(
            args.iter().all(|a| !a.contains(&self.token)),
            "the token must never be an argument"
        );
        let mut command = ksef(home, args);
        command.env("KSEF_BASE_URL", &self.base_url);
        command
    }

    /// Runs a command against this simulator and checks that the seeded token does not leak.
    pub fn run(&self, home: &Path, args: &[&str]) -> Output {
        let output = output_within(self.ksef(home, args), RUN_LIMIT);
        assert_no_secret(&output, &self.token);
        output
    }

    /// Logs the profile of `home` in to the seeded company's context with certificate `cert`
    /// and its `key`; `extra` arguments follow the NIP.
    pub fn cert_login(&self, home: &Path, extra: &[&str], cert: &Path, key: &Path) -> Output {
        let mut args = vec!["auth", "login", "--nip", self.nip.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        self.run(home, &args)
    }

    /// Makes a self-signed ECDSA seal of the seeded company in `home` (`seal.pem`, `seal.key`) and
    /// logs the profile in with it: the login that certificate enrollment needs.
    pub fn seal_login(&self, home: &Path) {
        let seal = home.join("seal.pem");
        let seal_key = home.join("seal.key");
        let made = self_signed_ec(home, &["--nip", &self.nip], &seal, &seal_key);
        assert!(made.status.success(), "{}", describe(&made));
        let login = self.cert_login(home, &[], &seal, &seal_key);
        assert!(login.status.success(), "{}", describe(&login));
    }

    /// Logs the profile of `home` in with the seeded token (from the environment).
    pub fn login(&self, home: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["auth", "login", "--nip", self.nip.as_str()];
        args.extend_from_slice(extra);
        let output = self
            .ksef(home, &args)
            .env("KSEF_TOKEN", &self.token)
            .output()
            .unwrap();
        assert_no_secret(&output, &self.token);
        assert!(output.status.success(), "{}", describe(&output));
        output
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ksef cert self-signed` for `who` (e.g. `["--nip", nip]`) with an ECDSA key, writing
/// `cert` and `key`.
pub fn self_signed_ec(home: &Path, who: &[&str], cert: &Path, key: &Path) -> Output {
    let mut args = vec!["cert", "self-signed"];
    args.extend_from_slice(who);
    args.extend_from_slice(&[
        "--ec",
        "--cert-out",
        cert.to_str().unwrap(),
        "--key-out",
        key.to_str().unwrap(),
    ]);
    ksef(home, &args).output().unwrap()
}

/// A date (UTC) as YYYY-MM-DD from `date -u -d OFFSET` (the tests need no date crate): `offset`
/// like "today", "yesterday" or "2 days ago".
pub fn date(offset: &str) -> String {
    let output = Command::new("date")
        .args(["-u", "-d", offset, "+%Y-%m-%d"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    text(&output.stdout).trim().to_owned()
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    date("today")
}

/// The sample invoice's XML as it is in the fixtures.
pub fn sample_xml() -> String {
    std::fs::read_to_string(sample_invoice()).unwrap()
}

/// The sample invoice with the seller `nip`, numbered `number`, issued on `issued`
/// (YYYY-MM-DD).
pub fn invoice_issued(nip: &str, number: &str, issued: &str) -> String {
    sample_xml()
        .replace("2026-01-15T09:30:00Z", &format!("{issued}T00:00:00Z"))
        .replace("2026-01-15", issued)
        .replace("5265877635", nip)
        .replace("KSEF-RS-SAMPLE-0001", number)
}

/// The sample invoice with the seller `nip`, numbered `number`, issued today.
pub fn invoice(nip: &str, number: &str) -> String {
    invoice_issued(nip, number, &today())
}

/// Writes `content` to `dir/name` (creating `dir`) and returns the path.
pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

// ---- Independent oracles (crate `ksef-oracle`, `KSEF_ORACLES`) --------------------------------
//
// openssl and unzip runs on deterministic inputs are replayed from `tests/golden/tools-BINARY.tsv`
// by default, run live with `KSEF_ORACLES=live`, recorded with `record`. What the `ksef` binary
// makes with fresh randomness (keys, session keys, OAEP and PSS padding) is checked by default with
// independent Rust code (x509-parser, rsa/p256 key parsing, an OAEP decoder written here, ring), and
// live mode adds openssl.

/// Whether the real tools run (`KSEF_ORACLES=live` or `record`).
pub fn live() -> bool {
    ksef_oracle::Mode::from_env().runs_tools()
}

/// Runs `tool` with `args` in `dir`, or replays the recorded run; returns stdout, panicking with
/// stderr on failure. The inputs must be deterministic (see `ksef_oracle::Golden::run`).
pub fn replayed(tool: ksef_oracle::Tool, dir: &Path, args: &[&str]) -> Vec<u8> {
    let golden = ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("tools-{}", ksef_oracle::test_binary()),
    );
    let ran = golden.run(tool, dir, args, b"", ksef_oracle::Stdout::Bytes);
    assert!(ran.success, "{} {args:?}: {}", tool.program, ran.stderr);
    ran.stdout
}

/// A NIP for the seals in PKCS#12 files made by openssl (fixed, so that the runs replay).
pub const P12_NIP: &str = "5265877635";

/// A company seal of [`P12_NIP`] made by `openssl req -x509` (`kind`: `rsa:2048` or `ec` for
/// P-256) and exported by `openssl pkcs12 -export` (`-legacy`: 3DES and RC2, when `legacy`) with
/// `password`, as `dir/NAME.p12`; replayed from the golden file by default.
pub fn openssl_p12(dir: &Path, name: &str, kind: &str, password: &str, legacy: bool) -> PathBuf {
    let key = format!("{name}.key.pem");
    let cert = format!("{name}.pem");
    let out = format!("{name}.p12");
    let subject = format!("/C=PL/O=Test seal/organizationIdentifier=VATPL-{P12_NIP}/CN={name}");
    let mut args = vec!["req", "-x509", "-newkey", kind];
    if kind == "ec" {
        args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    args.extend([
        "-nodes", "-keyout", &key, "-out", &cert, "-days", "36500", "-subj", &subject,
    ]);
    replayed(ksef_oracle::OPENSSL, dir, &args);
    let passout = format!("pass:{password}");
    let mut args = vec![
        "pkcs12", "-export", "-inkey", &key, "-in", &cert, "-out", &out, "-passout", &passout,
    ];
    if legacy {
        args.push("-legacy");
    }
    replayed(ksef_oracle::OPENSSL, dir, &args);
    dir.join(out)
}

/// Runs the real `openssl` (live and record modes only); returns stdout, panicking on failure.
pub fn openssl_live(args: &[&str]) -> Vec<u8> {
    let mut command = ksef_oracle::OPENSSL.command();
    command.args(args);
    let output = ksef_oracle::OPENSSL.output(&mut command, b"");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        describe(&output)
    );
    output.stdout
}

/// The DER of the first certificate in a PEM file.
pub fn cert_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    pem.contents
}

/// The SubjectPublicKeyInfo (DER) of a certificate file, read by x509-parser.
pub fn cert_spki(path: &Path) -> Vec<u8> {
    let der = cert_der(path);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.public_key().raw.to_vec()
}

/// The values of the subject attributes of a certificate file, as `OID=value`, read by x509-parser.
pub fn cert_subject(path: &Path) -> Vec<String> {
    let der = cert_der(path);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    cert.subject()
        .iter_attributes()
        .map(|a| format!("{}={}", a.attr_type(), a.as_str().unwrap_or("?")))
        .collect()
}

/// The SubjectPublicKeyInfo (DER) derived from a PKCS#8 PEM private key (RSA or P-256) by the
/// RustCrypto `rsa` and `p256` crates.
pub fn key_spki(path: &Path) -> Vec<u8> {
    use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
    let pem = std::fs::read_to_string(path).unwrap();
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(&pem) {
        return key
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
    }
    let key = p256::SecretKey::from_pkcs8_pem(&pem).expect("an RSA or P-256 PKCS#8 key");
    key.public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// Checks that `plaintext` (PKCS#7-padded here) is the AES-256-CBC decryption of `ciphertext`
/// under `key` and `iv`, with ring's AES (an implementation independent of the binary's): for
/// each block, the first 5 bytes of AES_K(P_i XOR C_i-1), which ring's QUIC header protection
/// computes, must equal those of C_i.
pub fn assert_aes_cbc(key: &[u8], iv: &[u8], ciphertext: &[u8], plaintext: &[u8]) {
    assert_eq!(ciphertext.len() % 16, 0);
    let pad = ciphertext.len() - plaintext.len();
    assert!((1..=16).contains(&pad), "PKCS#7 padding of {pad} bytes");
    let mut padded = plaintext.to_vec();
    padded.extend(std::iter::repeat_n(u8::try_from(pad).unwrap(), pad));
    let aes = ring::aead::quic::HeaderProtectionKey::new(&ring::aead::quic::AES_256, key).unwrap();
    let mut previous = iv.to_vec();
    for (p, c) in padded.chunks(16).zip(ciphertext.chunks(16)) {
        let input: Vec<u8> = p.iter().zip(&previous).map(|(a, b)| a ^ b).collect();
        let mask = aes.new_mask(&input).unwrap();
        assert_eq!(mask[..], c[..5], "AES-256-CBC block mismatch");
        previous = c.to_vec();
    }
}

/// Encrypts the PKCS#8 PEM key at `key` with the password in `password_file` (first line) into
/// `out` as PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC): by `openssl pkcs8 -topk8 -v2 aes-256-cbc` in
/// live mode, by the RustCrypto `pkcs8`/`pkcs5` crates by default (fresh salt and IV either way).
pub fn encrypt_key(key: &Path, out: &Path, password_file: &Path) {
    if live() {
        openssl_live(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            key.to_str().unwrap(),
            "-out",
            out.to_str().unwrap(),
            "-passout",
            &format!("file:{}", password_file.display()),
        ]);
        return;
    }
    use pkcs8::der::Decode as _;
    use pkcs8::der::pem::LineEnding;
    let password = std::fs::read_to_string(password_file).unwrap();
    let password = password.lines().next().unwrap_or_default();
    let pem = std::fs::read_to_string(key).unwrap();
    let document = pkcs8::SecretDocument::from_pem(&pem).unwrap().1;
    let info = pkcs8::PrivateKeyInfo::from_der(document.as_bytes()).unwrap();
    let salt: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
    let iv: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0xa5);
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv).unwrap();
    let encrypted = info.encrypt_with_params(params, password).unwrap();
    std::fs::write(
        out,
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
}

/// Runs `command` with `line` and a newline on its standard input.
pub fn with_stdin(mut command: Command, line: &str) -> Output {
    use std::io::Write as _;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}
