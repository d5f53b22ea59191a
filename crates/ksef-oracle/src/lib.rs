//! Independent oracles for the tests of ksef-rs, with portable verdicts.
//!
//! The tests check our XML, signatures and cryptography against independent implementations
//! (libxml2's `xmllint`, `xmlsec1`, `openssl`, `unzip`). Those tools are not on every machine, so
//! what they said on the tests' deterministic inputs is committed as golden files, and the
//! environment variable `KSEF_ORACLES` chooses where a test gets the tool's answer from:
//!
//! - unset or `golden` ([`Mode::Golden`], the default): from the committed golden file. A case the
//!   file does not hold fails, telling to run `cargo xtask oracles`.
//! - `live` ([`Mode::Live`]): from the real tool. A tool that is not installed fails the test,
//!   naming the Debian package to install; it never skips.
//! - `record` ([`Mode::Record`]): from the real tool, and the golden file is (re)written.
//!   `cargo xtask oracles` runs the oracle tests this way.
//!
//! A golden file is `tests/golden/NAME.tsv` of the crate under test: one line per case,
//! `KEY<TAB>ANSWER<TAB>LABEL`, sorted by label. `KEY` is a SHA-256 over the tool's input (so an
//! input that changed is a missing case, never a stale answer), `ANSWER` is the tool's verdict or
//! the SHA-256 of its output, `LABEL` names the case for a reader of the diff.
//!
//! This crate is a dev-dependency only and knows nothing of the ksef crates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use sha2::{Digest as _, Sha256};

/// The environment variable that chooses the [`Mode`].
pub const ENV: &str = "KSEF_ORACLES";

/// Where the oracles' answers come from (the environment variable [`ENV`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers come from the committed golden files; no external tool runs.
    Golden,
    /// The real tools run; a missing tool is a failure naming its package.
    Live,
    /// The real tools run and their answers (re)write the golden files.
    Record,
}

impl Mode {
    /// The mode `KSEF_ORACLES` selects: unset, empty or `golden` is [`Mode::Golden`]. Any other
    /// value than `golden`, `live` or `record` panics, naming the variable.
    pub fn from_env() -> Mode {
        match std::env::var(ENV) {
            Err(std::env::VarError::NotPresent) => Mode::Golden,
            Ok(value) => match value.as_str() {
                "" | "golden" => Mode::Golden,
                "live" => Mode::Live,
                "record" => Mode::Record,
                other => {
                    panic!("{ENV}={other:?}: expected `golden` (the default), `live` or `record`")
                }
            },
            Err(err) => panic!("{ENV}: {err}"),
        }
    }

    /// Whether the real tools run in this mode (live and record).
    pub fn runs_tools(self) -> bool {
        matches!(self, Mode::Live | Mode::Record)
    }
}

/// The name of the running test binary (`validate_xmllint` for `tests/validate_xmllint.rs`):
/// the executable's name without cargo's `-HASH` suffix; a natural golden file name for oracles
/// shared by the tests of one binary.
pub fn test_binary() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, hash)) if !name.is_empty() && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

/// The hex SHA-256 of `bytes`: the compact form in which golden files record a tool's output.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// One question to a tool: a label for people and a key derived from everything the tool reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    label: String,
    key: String,
}

impl Case {
    /// A case labelled `label` whose answer depends on exactly `inputs` (the tool's arguments that
    /// matter, the documents, keys and schemas it reads). Each input is length-prefixed before
    /// hashing, so `["ab", "c"]` and `["a", "bc"]` are different cases.
    pub fn new(label: impl Into<String>, inputs: &[&[u8]]) -> Case {
        let mut hasher = Sha256::new();
        for input in inputs {
            hasher.update((input.len() as u64).to_be_bytes());
            hasher.update(input);
        }
        let label: String = label
            .into()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Case {
            label,
            key: hex(&hasher.finalize()[..16]),
        }
    }

    /// The label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The key: hex of the first 128 bits of the SHA-256 over the inputs.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Answers recorded by this process: (golden file, key) -> answer.
static MEMO: Mutex<BTreeMap<(PathBuf, String), String>> = Mutex::new(BTreeMap::new());

fn memo(path: &Path, key: &str) -> Option<String> {
    MEMO.lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(path.to_path_buf(), key.to_owned()))
        .cloned()
}

/// Golden files written by this process: the first write of a file replaces it, later ones (more
/// tests, or proptest cases, of the same binary) merge into it.
static WRITTEN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The answers of one oracle on one test's cases, from the golden file or the real tool.
#[derive(Debug)]
pub struct Golden {
    path: PathBuf,
    mode: Mode,
    /// key -> (answer, label), as committed.
    committed: Arc<BTreeMap<String, (String, String)>>,
    /// key -> (answer, label), recorded by this instance (record mode).
    recorded: Mutex<BTreeMap<String, (String, String)>>,
}

impl Golden {
    /// The golden file `NAME.tsv` in `dir` (by convention `concat!(env!("CARGO_MANIFEST_DIR"),
    /// "/tests/golden")`), in the mode `KSEF_ORACLES` selects. A name belongs to one test binary.
    pub fn open(dir: impl AsRef<Path>, name: &str) -> Golden {
        Golden::with_mode(dir, name, Mode::from_env())
    }

    /// As [`Golden::open`], in the given mode.
    pub fn with_mode(dir: impl AsRef<Path>, name: &str, mode: Mode) -> Golden {
        let path = dir.as_ref().join(format!("{name}.tsv"));
        let committed = if mode == Mode::Record {
            Arc::default()
        } else {
            cached_golden(&path)
        };
        Golden {
            path,
            mode,
            committed,
            recorded: Mutex::new(BTreeMap::new()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The golden file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tool's answer on `case`: `tool` runs in live and record modes; in golden mode the
    /// committed answer is returned, and a case the file lacks panics, telling to run
    /// `cargo xtask oracles`. An answer is one line without tabs (a verdict, a hash, base64).
    pub fn answer(&self, case: &Case, tool: impl FnOnce() -> String) -> String {
        self.answers(std::slice::from_ref(case), || vec![tool()])
            .pop()
            .unwrap_or_default()
    }

    /// The tool's answers on `cases`, in order; `tool` answers all of them at once (a batch).
    pub fn answers(&self, cases: &[Case], tool: impl FnOnce() -> Vec<String>) -> Vec<String> {
        match self.mode {
            Mode::Golden => {
                let missing: Vec<&Case> = cases
                    .iter()
                    .filter(|c| !self.committed.contains_key(&c.key))
                    .collect();
                if !missing.is_empty() {
                    let shown: Vec<String> = missing
                        .iter()
                        .take(5)
                        .map(|c| format!("  {} ({})", c.label, c.key))
                        .collect();
                    panic!(
                        "{} of {} cases have no recorded oracle answer in {}:\n{}{}\n\
                         the inputs changed or are new: run `cargo xtask oracles` (needs the real \
                         tools) and commit the golden files; or run with {ENV}=live",
                        missing.len(),
                        cases.len(),
                        self.path.display(),
                        shown.join("\n"),
                        if missing.len() > 5 { "\n  ..." } else { "" },
                    );
                }
                cases
                    .iter()
                    .map(|c| self.committed[&c.key].0.clone())
                    .collect()
            }
            Mode::Record if cases.iter().all(|c| memo(&self.path, &c.key).is_some()) => {
                // Already answered in this process (by another test of the binary): the same
                // answer, so that everything recorded downstream of it stays consistent.
                let answers: Vec<String> = cases
                    .iter()
                    .map(|c| memo(&self.path, &c.key).unwrap_or_default())
                    .collect();
                let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
                for (case, answer) in cases.iter().zip(&answers) {
                    recorded.insert(case.key.clone(), (answer.clone(), case.label.clone()));
                }
                answers
            }
            Mode::Live | Mode::Record => {
                let answers = tool();
                assert_eq!(
                    answers.len(),
                    cases.len(),
                    "the oracle answered {} of {} cases",
                    answers.len(),
                    cases.len()
                );
                for (case, answer) in cases.iter().zip(&answers) {
                    assert!(
                        !answer.is_empty() && !answer.contains(['\t', '\n', '\r']),
                        "an oracle answer must be one non-empty line without tabs: {answer:?}"
                    );
                    if self.mode == Mode::Live {
                        if let Some((old, _)) = self.committed.get(&case.key)
                            && old != answer
                        {
                            eprintln!(
                                "note: the tool says {answer} on {} but the golden file {} \
                                 says {old}: run `cargo xtask oracles`",
                                case.label,
                                self.path.display()
                            );
                        }
                    } else {
                        MEMO.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert((self.path.clone(), case.key.clone()), answer.clone());
                        self.recorded
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(case.key.clone(), (answer.clone(), case.label.clone()));
                    }
                }
                answers
            }
        }
    }
}

impl Drop for Golden {
    /// In record mode, writes what was recorded, unless the test is failing.
    fn drop(&mut self) {
        if self.mode != Mode::Record || std::thread::panicking() {
            return;
        }
        let recorded = std::mem::take(self.recorded.get_mut().unwrap_or_else(|e| e.into_inner()));
        let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries = if written.contains(&self.path) {
            read_golden(&self.path)
        } else {
            BTreeMap::new()
        };
        entries.extend(recorded);
        write_golden(&self.path, &entries);
        written.insert(self.path.clone());
    }
}

/// Golden files read by this process (golden and live modes read each file once).
fn cached_golden(path: &Path) -> Arc<BTreeMap<String, (String, String)>> {
    type Entries = Arc<BTreeMap<String, (String, String)>>;
    static CACHE: Mutex<BTreeMap<PathBuf, Entries>> = Mutex::new(BTreeMap::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(path.to_path_buf())
        .or_insert_with(|| Arc::new(read_golden(path)))
        .clone()
}

const HEADER: &str = "# What an independent tool said on the tests' inputs: KEY (SHA-256 of the input) \
TAB ANSWER TAB LABEL.\n# Written by `cargo xtask oracles` (KSEF_ORACLES=record); never edit by hand.\n";

fn read_golden(path: &Path) -> BTreeMap<String, (String, String)> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(err) => panic!("reading the golden file {}: {err}", path.display()),
    };
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut fields = line.splitn(3, '\t');
        let (Some(key), Some(answer), label) = (fields.next(), fields.next(), fields.next()) else {
            panic!(
                "{}:{}: expected KEY<TAB>ANSWER<TAB>LABEL",
                path.display(),
                n + 1
            );
        };
        out.insert(
            key.to_owned(),
            (answer.to_owned(), label.unwrap_or_default().to_owned()),
        );
    }
    out
}

fn write_golden(path: &Path, entries: &BTreeMap<String, (String, String)>) {
    let mut lines: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(key, (answer, label))| (label.as_str(), key.as_str(), answer.as_str()))
        .collect();
    lines.sort_unstable();
    let mut text = String::from(HEADER);
    for (label, key, answer) in lines {
        let _ = writeln!(text, "{key}\t{answer}\t{label}");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// What the tool printed on stdout, as a [`Golden::run`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// The bytes themselves (recorded in base64: for small outputs).
    Bytes,
    /// Only their SHA-256 (for large outputs the caller compares by hash).
    Sha256,
}

/// The outcome of a tool run through [`Golden::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Whether the tool exited successfully.
    pub success: bool,
    /// Its stdout, or the hex SHA-256 of it (see [`Stdout`]).
    pub stdout: Vec<u8>,
    /// Its stderr (empty when replayed from the golden file).
    pub stderr: String,
}

impl Golden {
    /// Runs `tool` with `args` in the working directory `dir`, feeding `stdin`, or replays the
    /// recorded run: its exit status, stdout and every file it created or changed under `dir`
    /// (written back into `dir` on replay; in record mode a run already recorded by this process
    /// is replayed too, so that one input always gets one answer). The case key covers the program, the arguments (with
    /// `dir` replaced by `$DIR`; an argument naming an existing file, alone or after a `file:`
    /// style prefix, stands for the hash of that file's contents) and `stdin`: the tool must read
    /// no file its arguments do not name. A run whose inputs were random (a fresh key, a random
    /// IV) has no recorded answer and fails in golden mode: make such inputs deterministic.
    pub fn run(&self, tool: Tool, dir: &Path, args: &[&str], stdin: &[u8], stdout: Stdout) -> Ran {
        let before = snapshot(dir);
        let dir_text = dir.to_string_lossy().into_owned();
        let mut inputs: Vec<Vec<u8>> = vec![tool.program.as_bytes().to_vec()];
        for arg in args {
            let named = [*arg, arg.split_once(':').map_or("", |(_, path)| path)]
                .into_iter()
                .map(|a| dir.join(a))
                .find(|p| !p.as_os_str().is_empty() && p != dir && p.is_file());
            let arg = arg.replace(&dir_text, "$DIR");
            match named {
                Some(path) => {
                    let contents = std::fs::read(&path).unwrap_or_default();
                    inputs.push(format!("{arg}=file:{}", sha256_hex(&contents)).into_bytes());
                }
                None => inputs.push(arg.into_bytes()),
            }
        }
        inputs.push(stdin.to_vec());
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let label = format!(
            "{} {}",
            tool.program,
            args.iter()
                .map(|a| a.replace(&dir_text, "$DIR"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let case = Case::new(label, &refs);
        let mut stderr = String::new();
        let mut ran_now = false;
        let answer = self.answer(&case, || {
            ran_now = true;
            let mut command = tool.command();
            command.args(args).current_dir(dir);
            let output = tool.output(&mut command, stdin);
            stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            let after = snapshot(dir);
            let mut answer = format!(
                "{};{}",
                if output.status.success() {
                    "ok"
                } else {
                    "failed"
                },
                match stdout {
                    Stdout::Bytes => BASE64.encode(&output.stdout),
                    Stdout::Sha256 => sha256_hex(&output.stdout),
                }
            );
            for (name, hash) in &after {
                if before.get(name) != Some(hash) {
                    let contents = std::fs::read(dir.join(name)).unwrap_or_default();
                    let _ = write!(answer, ";{name}:{}", BASE64.encode(contents));
                }
            }
            answer
        });
        let mut fields = answer.split(';');
        let success = fields.next() == Some("ok");
        let out = fields.next().unwrap_or_default();
        let out = match stdout {
            Stdout::Bytes => BASE64
                .decode(out)
                .unwrap_or_else(|e| panic!("{}: bad recorded stdout: {e}", self.path.display())),
            Stdout::Sha256 => out.as_bytes().to_vec(),
        };
        if !ran_now {
            for field in fields {
                let (name, b64) = field.split_once(':').unwrap_or((field, ""));
                let contents = BASE64
                    .decode(b64)
                    .unwrap_or_else(|e| panic!("{}: bad recorded file: {e}", self.path.display()));
                let path = dir.join(name);
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                std::fs::write(&path, contents)
                    .unwrap_or_else(|e| panic!("replaying {}: {e}", path.display()));
            }
        }
        Ran {
            success,
            stdout: out,
            stderr,
        }
    }
}

/// Every file under `dir` (recursively): relative path -> hex SHA-256 of the contents.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(contents) = std::fs::read(&path) {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.insert(name, sha256_hex(&contents));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// An external tool and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program run.
    pub program: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
}

/// libxml2's `xmllint`.
pub const XMLLINT: Tool = Tool::new("xmllint", "libxml2-utils");
/// `xmlsec1`.
pub const XMLSEC1: Tool = Tool::new("xmlsec1", "xmlsec1");
/// The `openssl` command line tool.
pub const OPENSSL: Tool = Tool::new("openssl", "openssl");
/// Info-ZIP `unzip`.
pub const UNZIP: Tool = Tool::new("unzip", "unzip");

impl Tool {
    /// A tool `program` from the Debian package `package`.
    pub const fn new(program: &'static str, package: &'static str) -> Tool {
        Tool { program, package }
    }

    /// A command running this tool (a program path other than the default, such as a Python
    /// interpreter, goes through [`Command::new`] and [`Tool::output`]).
    pub fn command(&self) -> Command {
        Command::new(self.program)
    }

    /// Panics naming the tool and its package: it could not be started.
    pub fn missing(&self, err: &std::io::Error) -> ! {
        panic!(
            "the oracle `{}` could not be run ({err}): install the Debian package `{}` \
             ({ENV}=live and record run the real tools; unset {ENV} to compare against the \
             committed golden files)",
            self.program, self.package
        )
    }

    /// Runs `command` (built from [`Tool::command`]) to completion, feeding it `stdin`; a tool
    /// that cannot be started panics naming its package. The exit status is the caller's to judge.
    pub fn output(&self, command: &mut Command, stdin: &[u8]) -> Output {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| self.missing(&e));
        let mut pipe = child.stdin.take();
        let input = stdin.to_vec();
        let feeder = std::thread::spawn(move || {
            if let Some(pipe) = pipe.as_mut() {
                let _ = pipe.write_all(&input);
            }
        });
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.program));
        let _ = feeder.join();
        output
    }

    /// Runs the tool with `args` in `dir` (if given), feeding `stdin`; returns its stdout and
    /// panics with its stderr when it exits unsuccessfully.
    pub fn run(&self, dir: Option<&Path>, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut command = self.command();
        command.args(args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let output = self.output(&mut command, stdin);
        assert!(
            output.status.success(),
            "{} {args:?} failed ({}): {}{}",
            self.program,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

/// RSA-OAEP decryption with SHA-256 (label hash and MGF1) and an empty label, written from RFC 8017
/// section 7.1.2 over the raw RSA permutation of the `rsa` crate's big integers: an oracle
/// independent of the OAEP code under test (the `rsa` crate's `Oaep`), for the default mode where
/// openssl does not run. Panics, naming the rule, on a ciphertext that does not decode.
pub fn oaep_sha256_decrypt(key_pem: &str, ciphertext: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    use sha2::{Digest as _, Sha256};

    fn mgf1(seed: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for counter in 0u32.. {
            if out.len() >= len {
                break;
            }
            out.extend(
                Sha256::new()
                    .chain_update(seed)
                    .chain_update(counter.to_be_bytes())
                    .finalize(),
            );
        }
        out.truncate(len);
        out
    }

    let key = rsa::RsaPrivateKey::from_pkcs8_pem(key_pem).unwrap();
    let k = key.size();
    assert_eq!(
        ciphertext.len(),
        k,
        "an OAEP ciphertext is as long as the modulus"
    );
    let m = rsa::BigUint::from_bytes_be(ciphertext).modpow(key.d(), key.n());
    let raw = m.to_bytes_be();
    let mut em = vec![0u8; k - raw.len()];
    em.extend(raw);
    let h = 32;
    assert_eq!(em[0], 0, "Y is zero");
    let (masked_seed, masked_db) = em[1..].split_at(h);
    let seed: Vec<u8> = masked_seed
        .iter()
        .zip(mgf1(masked_db, h))
        .map(|(a, b)| a ^ b)
        .collect();
    let db: Vec<u8> = masked_db
        .iter()
        .zip(mgf1(&seed, k - h - 1))
        .map(|(a, b)| a ^ b)
        .collect();
    assert_eq!(db[..h], Sha256::digest(b"")[..], "lHash of the empty label");
    let rest = &db[h..];
    let one = rest
        .iter()
        .position(|&b| b != 0)
        .expect("the 0x01 separator");
    assert_eq!(rest[one], 1, "PS is followed by 0x01");
    rest[one + 1..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ksef-oracle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn record_then_golden_replays_and_missing_cases_fail() {
        let dir = dir("replay");
        let a = Case::new("a\tcase", &[b"one"]);
        let b = Case::new("b", &[b"two"]);
        {
            let golden = Golden::with_mode(&dir, "t", Mode::Record);
            assert_eq!(golden.answer(&a, || "valid".into()), "valid");
        }
        {
            // A second instance in the same process merges.
            let golden = Golden::with_mode(&dir, "t", Mode::Record);
            assert_eq!(
                golden.answers(std::slice::from_ref(&b), || vec!["x".into()]),
                ["x"]
            );
        }
        let text = std::fs::read_to_string(dir.join("t.tsv")).unwrap();
        assert!(
            text.contains(&format!("{}\tvalid\ta case\n", a.key())),
            "{text}"
        );
        let golden = Golden::with_mode(&dir, "t", Mode::Golden);
        assert_eq!(golden.answer(&a, || unreachable!()), "valid");
        assert_eq!(golden.answer(&b, || unreachable!()), "x");
        let c = Case::new("c", &[b"one", b""]);
        assert_ne!(c.key(), a.key());
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            golden.answer(&c, || unreachable!())
        }))
        .unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("cargo xtask oracles") && msg.contains("c ("),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_test_binary_is_named_without_its_hash() {
        assert_eq!(test_binary(), "ksef_oracle");
    }

    #[test]
    fn a_recorded_run_replays_its_stdout_and_files() {
        let golden_dir = dir("run-golden");
        let work = dir("run-work");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("in.txt"), "abc").unwrap();
        let sh = Tool::new("sh", "dash");
        let args = ["-c", "cat \"$0\" > out.txt; echo hi", "in.txt"];
        let recorded = Golden::with_mode(&golden_dir, "run", Mode::Record).run(
            sh,
            &work,
            &args,
            b"",
            Stdout::Bytes,
        );
        assert!(recorded.success);
        assert_eq!(recorded.stdout, b"hi\n");
        std::fs::remove_file(work.join("out.txt")).unwrap();
        let golden = Golden::with_mode(&golden_dir, "run", Mode::Golden);
        let replayed = golden.run(sh, &work, &args, b"", Stdout::Bytes);
        assert_eq!(replayed.stdout, b"hi\n");
        assert_eq!(
            std::fs::read_to_string(work.join("out.txt")).unwrap(),
            "abc"
        );
        // Other input, other case: not recorded.
        std::fs::remove_file(work.join("out.txt")).unwrap();
        std::fs::write(work.join("in.txt"), "abd").unwrap();
        let missing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            golden.run(sh, &work, &args, b"", Stdout::Bytes)
        }));
        assert!(missing.is_err());
        std::fs::remove_dir_all(&golden_dir).unwrap();
        std::fs::remove_dir_all(&work).unwrap();
    }

    #[test]
    fn keys_separate_inputs() {
        assert_ne!(
            Case::new("x", &[b"ab", b"c"]).key(),
            Case::new("x", &[b"a", b"bc"]).key()
        );
        assert_eq!(Case::new("x", &[b"a"]).key(), Case::new("y", &[b"a"]).key());
        assert_eq!(Case::new("x", &[b"a"]).key().len(), 32);
    }

    #[test]
    fn a_missing_tool_names_its_package() {
        let tool = Tool::new("ksef-oracle-no-such-program", "some-package");
        let err = std::panic::catch_unwind(|| tool.run(None, &[], b"")).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("some-package") && msg.contains("ksef-oracle-no-such-program"),
            "{msg}"
        );
    }
}
