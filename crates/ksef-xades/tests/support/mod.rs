//! Independent canonicalizers to compare against: `xmllint --exc-c14n` (libxml2-utils) and, for what
//! xmllint cannot do (no comments, a PrefixList, a subtree, an excluded subtree), libxml2's C14N through
//! lxml in a long-lived Python helper (`lxml_exc_c14n.py` next to this file).
//!
//! Their answers go through `ksef-oracle` (`KSEF_ORACLES`): by default they are replayed from
//! `tests/golden/libxml2-BINARY.tsv` (so the generated corpora are seeded). The tests only compare
//! libxml2's output with ours for equality, so a golden line holds its SHA-256 (or the tool's error
//! message), and a batch of comparisons ([`settle`]: a hand-written document) one SHA-256 over the
//! SHA-256s of all its outputs; `live` runs the tools, and a
//! missing one fails naming its Debian package (`libxml2-utils`, `python3-lxml`); `record` rewrites the
//! golden files (`cargo xtask oracles`).

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

pub(crate) mod corpus;
pub(crate) mod libxml2;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

const INSTALL_HINT: &str = "install the reference canonicalizers with `apt-get install -y libxml2-utils python3-lxml` \
     (KSEF_ORACLES=live runs them; unset KSEF_ORACLES to compare against the committed golden files)";

/// Whether the comparisons can run: always in golden mode (answers replayed); in live and record modes
/// the tools must be installed, else this panics naming their packages. Never skips.
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    if !ksef_oracle::Mode::from_env().runs_tools() {
        return true;
    }
    let status = AVAILABLE.get_or_init(|| {
        let xmllint = Command::new("xmllint")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !xmllint.is_ok_and(|s| s.success()) {
            return Err("xmllint not found (Debian package libxml2-utils)".to_owned());
        }
        let lxml = Command::new(python())
            .args(["-c", "import lxml.etree"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !lxml.is_ok_and(|s| s.success()) {
            return Err(format!(
                "{} cannot import lxml (Debian package python3-lxml)",
                python()
            ));
        }
        Ok(())
    });
    match status {
        Ok(()) => true,
        Err(missing) => panic!("{missing}: {INSTALL_HINT}"),
    }
}

/// The golden file of this test binary's libxml2 answers.
pub(crate) fn golden() -> ksef_oracle::Golden {
    ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("libxml2-{}", ksef_oracle::test_binary()),
    )
}

/// libxml2's answer on one canonicalization: the SHA-256 of its output, which is all the golden file
/// keeps (the tests only compare for equality), and the output itself when the tool ran, for a
/// failure's message.
#[derive(Clone, Debug)]
pub(crate) struct Canonical {
    sha256: String,
    bytes: Option<Vec<u8>>,
}

impl Canonical {
    /// Whether libxml2's output is exactly `bytes`.
    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
        ksef_oracle::sha256_hex(bytes) == self.sha256
    }

    /// libxml2's output for a message: the bytes when the tool ran, else their SHA-256.
    pub(crate) fn describe(&self) -> String {
        match &self.bytes {
            Some(bytes) => format!("{:?}", show(bytes)),
            None => format!(
                "output with SHA-256 {} (replayed from the golden file; {}=live shows the bytes)",
                self.sha256,
                ksef_oracle::ENV
            ),
        }
    }
}

/// The answer of a canonicalizer on `case`: `live` runs it (live and record modes), else the golden
/// file answers. A golden line is `sha256;HEX` of the output or `err;BASE64(message)`.
pub(crate) fn canonical_answer(
    case: &ksef_oracle::Case,
    live: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Canonical, String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ran = None;
    let answer = golden().answer(case, || {
        let result = live();
        let line = match &result {
            Ok(bytes) => format!("sha256;{}", ksef_oracle::sha256_hex(bytes)),
            Err(message) => format!("err;{}", b64.encode(message)),
        };
        ran = Some(result);
        line
    });
    let (status, body) = answer.split_once(';').unwrap_or((answer.as_str(), ""));
    match status {
        "sha256" => Ok(Canonical {
            sha256: body.to_owned(),
            bytes: ran.and_then(Result::ok),
        }),
        "err" => Err(match ran {
            Some(Err(message)) => message,
            _ => String::from_utf8_lossy(&b64.decode(body).expect("base64 in the golden file"))
                .into_owned(),
        }),
        other => panic!(
            "unexpected answer {other:?} in the golden file of {}",
            case.label()
        ),
    }
}

/// One question to a canonicalizer, for a batch ([`settle`]): what determines the answer (the
/// inputs of its [`ksef_oracle::Case`]) and how to ask the tool itself.
pub(crate) struct Oracle {
    inputs: Vec<Vec<u8>>,
    live: Box<dyn FnOnce() -> Result<Vec<u8>, String>>,
}

impl Oracle {
    pub(crate) fn new(
        inputs: Vec<Vec<u8>>,
        live: impl FnOnce() -> Result<Vec<u8>, String> + 'static,
    ) -> Oracle {
        Oracle {
            inputs,
            live: Box::new(live),
        }
    }
}

/// One line for a batch of answers: the SHA-256 over the list of each answer's SHA-256.
fn batch_answer<'a>(answers: impl Iterator<Item = Result<&'a [u8], &'a str>>) -> String {
    let mut list = String::new();
    for answer in answers {
        let line = match answer {
            Ok(bytes) => format!("ok {}\n", ksef_oracle::sha256_hex(bytes)),
            Err(message) => format!("err {}\n", ksef_oracle::sha256_hex(message.as_bytes())),
        };
        list.push_str(&line);
    }
    format!("batch;{}", ksef_oracle::sha256_hex(list.as_bytes()))
}

/// Compares each `(what, ours, oracle)` of a batch, returning the disagreements. The golden file
/// holds one line for the whole batch (labelled `label`): the SHA-256 over the SHA-256s of libxml2's
/// outputs, in order. When the tools run (live, record), each comparison is made and reported on its
/// own; when the answer is replayed, ours must hash to the same value, else the batch fails as a
/// whole and `KSEF_ORACLES=live` tells which comparisons differ.
pub(crate) fn settle(label: &str, batch: Vec<(String, Vec<u8>, Oracle)>) -> Vec<String> {
    if batch.is_empty() {
        return Vec::new();
    }
    let mut whats = Vec::with_capacity(batch.len());
    let mut ours = Vec::with_capacity(batch.len());
    let mut oracles = Vec::with_capacity(batch.len());
    for (what, bytes, oracle) in batch {
        whats.push(what);
        ours.push(bytes);
        oracles.push(oracle);
    }
    let mut inputs: Vec<&[u8]> = vec![b"batch"];
    for oracle in &oracles {
        inputs.push(b"item");
        inputs.extend(oracle.inputs.iter().map(Vec::as_slice));
    }
    let case = ksef_oracle::Case::new(format!("{label} ({} comparisons)", ours.len()), &inputs);
    let mut ran: Option<Vec<Result<Vec<u8>, String>>> = None;
    let lives: Vec<_> = oracles.into_iter().map(|o| o.live).collect();
    let answer = golden().answer(&case, || {
        let results: Vec<Result<Vec<u8>, String>> = lives.into_iter().map(|live| live()).collect();
        let line = batch_answer(
            results
                .iter()
                .map(|r| r.as_ref().map(Vec::as_slice).map_err(String::as_str)),
        );
        ran = Some(results);
        line
    });
    let mut failures = Vec::new();
    match ran {
        Some(results) => {
            for ((what, ours), result) in whats.iter().zip(&ours).zip(results) {
                match result {
                    Ok(reference) if &reference == ours => {}
                    Ok(reference) => failures.push(format!(
                        "{what}:\n  ours:    {:?}\n  libxml2: {:?}",
                        show(ours),
                        show(&reference)
                    )),
                    Err(error) => failures.push(format!(
                        "{what}: libxml2 failed: {error}\n  ours: {:?}",
                        show(ours)
                    )),
                }
            }
        }
        None => {
            let expected = batch_answer(ours.iter().map(|o| Ok(o.as_slice())));
            if expected != answer {
                failures.push(format!(
                    "{label}: libxml2's answers on these {} comparisons, replayed from {} \
                     ({answer}), differ from ours ({expected}): run with {}=live to see which",
                    ours.len(),
                    golden().path().display(),
                    ksef_oracle::ENV
                ));
            }
        }
    }
    failures
}

/// Where these labels come from: the first bytes of the document, for a reader of the golden file.
pub(crate) fn label(kind: &str, xml: &[u8]) -> String {
    let text = String::from_utf8_lossy(&xml[..xml.len().min(60)]).into_owned();
    format!("{kind} {text}")
}

/// `xmllint --exc-c14n` of a whole document (comments kept: xmllint has no switch to drop them), live or
/// replayed.
pub(crate) fn xmllint_exc_c14n_with_comments(xml: &[u8]) -> Result<Canonical, String> {
    let case = ksef_oracle::Case::new(
        label("xmllint --exc-c14n", xml),
        &[b"xmllint --exc-c14n", xml],
    );
    canonical_answer(&case, || live_xmllint_exc_c14n_with_comments(xml))
}

/// [`xmllint_exc_c14n_with_comments`] as one question of a batch.
pub(crate) fn xmllint_exc_c14n_oracle(xml: &[u8]) -> Oracle {
    let owned = xml.to_vec();
    Oracle::new(
        vec![b"xmllint --exc-c14n".to_vec(), xml.to_vec()],
        move || live_xmllint_exc_c14n_with_comments(&owned),
    )
}

/// The interpreter with Debian's python3-lxml: the system one unless `KSEF_XADES_PYTHON` names another.
fn python() -> String {
    std::env::var("KSEF_XADES_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".to_owned()
        } else {
            "python3".to_owned()
        }
    })
}

fn live_xmllint_exc_c14n_with_comments(xml: &[u8]) -> Result<Vec<u8>, String> {
    live_xmllint("--exc-c14n", xml)
}

/// `xmllint --nonet SWITCH -` over `xml`: its output, or its error message. A missing xmllint panics
/// naming its package.
pub(crate) fn live_xmllint(switch: &str, xml: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("xmllint")
        .args(["--nonet", switch, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run xmllint: {e}: {INSTALL_HINT}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = xml.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    writer
        .join()
        .map_err(|_| "writer thread panicked".to_owned())?
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// What to ask libxml2 (through lxml) for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pub(crate) with_comments: bool,
    pub(crate) inclusive_prefixes: Vec<String>,
    /// Index of the apex element in document order (root = 0); `None` for the whole document.
    pub(crate) apex: Option<usize>,
    /// Index of the element to leave out, in document order.
    pub(crate) excluded: Option<usize>,
}

/// A long-lived Python helper next to this file: it reads a tab-separated header line (the first
/// field is the document's length) and the document, and answers `OK|ERR LENGTH` and that many bytes.
pub(crate) struct Helper {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts `tests/support/SCRIPT` with `python`; panics with `hint` (what to install) if it cannot.
    pub(crate) fn start(python: &str, script: &str, name: &str, hint: &str) -> Helper {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support")
            .join(script);
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} helper: {e}: {hint}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Helper {
            _child: child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, header: &str, xml: &[u8]) -> std::io::Result<Result<Vec<u8>, String>> {
        self.stdin.write_all(header.as_bytes())?;
        self.stdin.write_all(xml)?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let (status, length) = line
            .trim_end()
            .split_once(' ')
            .ok_or_else(|| std::io::Error::other(format!("bad answer {line:?}")))?;
        let length: usize = length.parse().map_err(std::io::Error::other)?;
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body)?;
        Ok(match status {
            "OK" => Ok(body),
            _ => Err(String::from_utf8_lossy(&body).into_owned()),
        })
    }
}

/// Asks the helper kept in `cell`, started with `start` on first use and started afresh after a
/// failure.
pub(crate) fn ask_helper(
    cell: &OnceLock<Mutex<Option<Helper>>>,
    start: impl FnOnce() -> Helper,
    name: &str,
    header: &str,
    xml: &[u8],
) -> Result<Vec<u8>, String> {
    let mut guard = cell
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let helper = guard.get_or_insert_with(start);
    match helper.ask(header, xml) {
        Ok(answer) => answer,
        Err(e) => {
            // Start afresh next time.
            *guard = None;
            Err(format!("{name} helper failed: {e}"))
        }
    }
}

/// A canonicalization of `xml` asked of `tool` with the request `text`, answered now, live or
/// replayed; `shown` names the tool in the golden file's label.
pub(crate) fn c14n_answer(
    shown: &str,
    tool: &[u8],
    text: &str,
    xml: &[u8],
    live: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Canonical, String> {
    let case = ksef_oracle::Case::new(
        label(&format!("{shown} {text}"), xml),
        &[tool, text.as_bytes(), xml],
    );
    canonical_answer(&case, live)
}

/// The same question as [`c14n_answer`], as one question of a batch.
pub(crate) fn c14n_oracle(
    tool: &[u8],
    text: String,
    xml: &[u8],
    live: impl FnOnce(&[u8]) -> Result<Vec<u8>, String> + 'static,
) -> Oracle {
    let owned = xml.to_vec();
    Oracle::new(
        vec![tool.to_vec(), text.into_bytes(), xml.to_vec()],
        move || live(&owned),
    )
}

/// libxml2's exclusive canonicalization through lxml, per `query`, live or replayed.
pub(crate) fn lxml_exc_c14n(xml: &[u8], query: &Query) -> Result<Canonical, String> {
    c14n_answer("lxml", b"lxml exc-c14n", &query_text(query), xml, || {
        live_lxml_exc_c14n(xml, query)
    })
}

/// [`lxml_exc_c14n`] as one question of a batch.
pub(crate) fn lxml_exc_c14n_oracle(xml: &[u8], query: &Query) -> Oracle {
    let query = query.clone();
    c14n_oracle(b"lxml exc-c14n", query_text(&query), xml, move |xml| {
        live_lxml_exc_c14n(xml, &query)
    })
}

pub(crate) fn query_text(query: &Query) -> String {
    let index = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    format!(
        "comments={} prefixes={} apex={} excluded={}",
        u8::from(query.with_comments),
        query.inclusive_prefixes.join(" "),
        index(query.apex),
        index(query.excluded)
    )
}

fn live_lxml_exc_c14n(xml: &[u8], query: &Query) -> Result<Vec<u8>, String> {
    static HELPER: OnceLock<Mutex<Option<Helper>>> = OnceLock::new();
    let index = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    let prefixes = if query.inclusive_prefixes.is_empty() {
        "-".to_owned()
    } else {
        query.inclusive_prefixes.join(" ")
    };
    let header = format!(
        "{}\t{}\t{}\t{}\t{}\n",
        xml.len(),
        u8::from(query.with_comments),
        prefixes,
        index(query.apex),
        index(query.excluded)
    );
    let start = || Helper::start(&python(), "lxml_exc_c14n.py", "lxml", INSTALL_HINT);
    ask_helper(&HELPER, start, "lxml", &header, xml)
}

/// Shows bytes for an assertion message.
pub(crate) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
