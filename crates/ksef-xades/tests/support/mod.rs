//! Independent canonicalizers to compare against: `xmllint --exc-c14n` (libxml2-utils) and, for what
//! xmllint cannot do (no comments, a PrefixList, a subtree, an excluded subtree), libxml2's C14N through
//! lxml in a long-lived Python helper (`lxml_exc_c14n.py` next to this file).
//!
//! Their answers go through `ksef-oracle` (`KSEF_ORACLES`): by default they are replayed from
//! `tests/golden/libxml2-BINARY.tsv` (so the generated corpora are seeded); `live` runs the tools, and a
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
fn golden() -> ksef_oracle::Golden {
    ksef_oracle::Golden::open(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
        &format!("libxml2-{}", ksef_oracle::test_binary()),
    )
}

/// A canonicalizer's answer as one golden line: `ok;BASE64` or `err;BASE64(message)`.
fn encode(answer: Result<Vec<u8>, String>) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    match answer {
        Ok(bytes) => format!("ok;{}", b64.encode(bytes)),
        Err(message) => format!("err;{}", b64.encode(message)),
    }
}

fn decode(answer: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (status, body) = answer.split_once(';').unwrap_or((answer, ""));
    let body = b64.decode(body).expect("base64 in the golden file");
    match status {
        "ok" => Ok(body),
        _ => Err(String::from_utf8_lossy(&body).into_owned()),
    }
}

/// Where these labels come from: the first bytes of the document, for a reader of the golden file.
fn label(kind: &str, xml: &[u8]) -> String {
    let text = String::from_utf8_lossy(&xml[..xml.len().min(60)]).into_owned();
    format!("{kind} {text}")
}

/// `xmllint --exc-c14n` of a whole document (comments kept: xmllint has no switch to drop them), live or
/// replayed.
pub(crate) fn xmllint_exc_c14n_with_comments(xml: &[u8]) -> Result<Vec<u8>, String> {
    let case = ksef_oracle::Case::new(
        label("xmllint --exc-c14n", xml),
        &[b"xmllint --exc-c14n", xml],
    );
    decode(&golden().answer(&case, || encode(live_xmllint_exc_c14n_with_comments(xml))))
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
    let mut child = Command::new("xmllint")
        .args(["--nonet", "--exc-c14n", "-"])
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

struct Helper {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    fn start() -> Helper {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/lxml_exc_c14n.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the lxml helper: {e}: {INSTALL_HINT}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Helper {
            _child: child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, xml: &[u8], query: &Query) -> std::io::Result<Result<Vec<u8>, String>> {
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

/// libxml2's exclusive canonicalization through lxml, per `query`, live or replayed.
pub(crate) fn lxml_exc_c14n(xml: &[u8], query: &Query) -> Result<Vec<u8>, String> {
    let index = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    let query_text = format!(
        "comments={} prefixes={} apex={} excluded={}",
        u8::from(query.with_comments),
        query.inclusive_prefixes.join(" "),
        index(query.apex),
        index(query.excluded)
    );
    let case = ksef_oracle::Case::new(
        label(&format!("lxml {query_text}"), xml),
        &[b"lxml exc-c14n", query_text.as_bytes(), xml],
    );
    decode(&golden().answer(&case, || encode(live_lxml_exc_c14n(xml, query))))
}

fn live_lxml_exc_c14n(xml: &[u8], query: &Query) -> Result<Vec<u8>, String> {
    static HELPER: OnceLock<Mutex<Option<Helper>>> = OnceLock::new();
    let mut guard = HELPER
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let helper = guard.get_or_insert_with(Helper::start);
    match helper.ask(xml, query) {
        Ok(answer) => answer,
        Err(e) => {
            // Start afresh next time.
            *guard = None;
            Err(format!("lxml helper failed: {e}"))
        }
    }
}

/// Shows bytes for an assertion message.
pub(crate) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
