//! libxml2's canonicalization as an independent reference for every algorithm:
//!
//! - `xmllint --c14n`, `--c14n11` and `--exc-c14n` (libxml2-utils 2.9.14 here): whole documents, and each
//!   keeps comments (its help says "with comments"; xmllint has no switch to drop them);
//! - everything else (without comments, a PrefixList, subtrees, an excluded subtree) through
//!   `libxml2_c14n.py` next to this file, which calls the same library function as xmllint
//!   (`xmlC14NExecute`) through Python's ctypes, with a visibility callback that describes the document
//!   subset.
//!
//! Their answers go through `ksef-oracle` (`KSEF_ORACLES`), as in `support/mod.rs`: by default the
//! SHA-256 of libxml2's output (or its error) is replayed from `tests/golden/libxml2-BINARY.tsv`, so
//! no tool runs; `live` runs them and `record` rewrites the golden file. The tools are Debian packages:
//! `apt-get install -y libxml2-utils python3` (libxml2-utils brings the libxml2 library); in live and
//! record modes a missing one fails the test with that hint.

use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use ksef_xades::c14n::Algorithm;

use super::{
    Canonical, Helper, Oracle, ask_helper, c14n_answer, c14n_oracle, canonical_answer, label,
    live_xmllint,
};

const INSTALL_HINT: &str =
    "install libxml2's tools with `apt-get install -y libxml2-utils python3` (Debian packages)";

/// In live and record modes, panics, naming what to install, unless xmllint, python3 and the libxml2
/// library are all there; in golden mode (no tool runs) does nothing. Never skips.
pub(crate) fn require() {
    if !ksef_oracle::Mode::from_env().runs_tools() {
        return;
    }
    static STATUS: OnceLock<Result<(), String>> = OnceLock::new();
    let status = STATUS.get_or_init(|| {
        let xmllint = Command::new("xmllint")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !xmllint.is_ok_and(|s| s.success()) {
            return Err("xmllint (Debian package libxml2-utils) not found".to_owned());
        }
        let library = Command::new(python())
            .args([
                "-c",
                "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('xml2') or 'libxml2.so.2').xmlC14NExecute",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !library.is_ok_and(|s| s.success()) {
            return Err(format!(
                "{} cannot load libxml2's xmlC14NExecute (Debian packages python3, libxml2)",
                python()
            ));
        }
        Ok(())
    });
    if let Err(missing) = status {
        panic!("{missing}: {INSTALL_HINT}");
    }
}

fn python() -> String {
    std::env::var("KSEF_XADES_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// xmllint's switch for an algorithm.
pub(crate) fn xmllint_switch(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Exclusive => "--exc-c14n",
        Algorithm::Inclusive10 => "--c14n",
        Algorithm::Inclusive11 => "--c14n11",
        other => panic!("no xmllint switch for {other:?}"),
    }
}

/// `xmllint --c14n | --c14n11 | --exc-c14n` of a whole document, comments kept, live or replayed.
pub(crate) fn xmllint_with_comments(xml: &[u8], algorithm: Algorithm) -> Result<Canonical, String> {
    let command = format!("xmllint {}", xmllint_switch(algorithm));
    let case = ksef_oracle::Case::new(label(&command, xml), &[command.as_bytes(), xml]);
    canonical_answer(&case, || live_xmllint_with_comments(xml, algorithm))
}

/// [`xmllint_with_comments`] as one question of a batch.
pub(crate) fn xmllint_oracle(xml: &[u8], algorithm: Algorithm) -> Oracle {
    let owned = xml.to_vec();
    let command = format!("xmllint {}", xmllint_switch(algorithm));
    Oracle::new(vec![command.into_bytes(), xml.to_vec()], move || {
        live_xmllint_with_comments(&owned, algorithm)
    })
}

fn live_xmllint_with_comments(xml: &[u8], algorithm: Algorithm) -> Result<Vec<u8>, String> {
    live_xmllint(xmllint_switch(algorithm), xml)
}

/// What to ask libxml2 for.
#[derive(Clone, Debug, Default)]
pub(crate) struct Request {
    pub(crate) algorithm: Algorithm,
    pub(crate) with_comments: bool,
    /// The InclusiveNamespaces PrefixList (exclusive canonicalization only).
    pub(crate) inclusive_prefixes: Vec<String>,
    /// Index of the apex element in document order (root = 0); `None` for the whole document.
    pub(crate) apex: Option<usize>,
    /// Index of the element to leave out, in document order.
    pub(crate) excluded: Option<usize>,
}

/// libxml2's canonicalization of `xml` per `request`, through `libxml2_c14n.py`, live or replayed.
pub(crate) fn libxml2_c14n(xml: &[u8], request: &Request) -> Result<Canonical, String> {
    let text = request_text(request);
    c14n_answer("libxml2_c14n.py", b"libxml2_c14n.py", &text, xml, || {
        live_libxml2_c14n(xml, request)
    })
}

/// [`libxml2_c14n`] as one question of a batch.
pub(crate) fn libxml2_c14n_oracle(xml: &[u8], request: &Request) -> Oracle {
    let request = request.clone();
    c14n_oracle(
        b"libxml2_c14n.py",
        request_text(&request),
        xml,
        move |xml| live_libxml2_c14n(xml, &request),
    )
}

fn request_text(request: &Request) -> String {
    let query = super::Query {
        with_comments: request.with_comments,
        inclusive_prefixes: request.inclusive_prefixes.clone(),
        apex: request.apex,
        excluded: request.excluded,
    };
    format!("{:?} {}", request.algorithm, super::query_text(&query))
}

fn live_libxml2_c14n(xml: &[u8], request: &Request) -> Result<Vec<u8>, String> {
    static HELPER: OnceLock<Mutex<Option<Helper>>> = OnceLock::new();
    let index = |i: Option<usize>| i.map_or("-".to_owned(), |i| i.to_string());
    let prefixes = if request.inclusive_prefixes.is_empty() {
        "-".to_owned()
    } else {
        request.inclusive_prefixes.join(" ")
    };
    // libxml2's xmlC14NMode.
    let mode = match request.algorithm {
        Algorithm::Inclusive10 => 0,
        Algorithm::Exclusive => 1,
        Algorithm::Inclusive11 => 2,
        other => panic!("no libxml2 mode for {other:?}"),
    };
    let header = format!(
        "{}\t{mode}\t{}\t{prefixes}\t{}\t{}\n",
        xml.len(),
        u8::from(request.with_comments),
        index(request.apex),
        index(request.excluded)
    );
    let start = || Helper::start(&python(), "libxml2_c14n.py", "libxml2", INSTALL_HINT);
    ask_helper(&HELPER, start, "libxml2", &header, xml)
}
