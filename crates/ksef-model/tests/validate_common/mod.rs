//! Shared helpers of the validation tests: the official templates, local copies of the schemas
//! for xmllint, a mutation generator and a batched xmllint oracle (live or replayed from golden
//! files, as `KSEF_ORACLES` selects).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ksef_model::validate::{Schema, detect_schema, validate_invoice};
use ksef_oracle::{Case, Golden, XMLLINT};

#[path = "../placeholders/mod.rs"]
mod placeholders;
use placeholders::PLACEHOLDERS;

/// The Ministry's fixtures: `$KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
pub fn spec_dir() -> PathBuf {
    std::env::var_os("KSEF_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec")
        })
}

/// The FA(2), FA(3) and FA_RR(1) templates (placeholders filled in), by file name. The PEF
/// templates are UBL documents of another schema family and are not covered.
pub fn templates() -> Vec<(String, Vec<u8>)> {
    let dir = spec_dir().join("invoice-templates");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    entries.sort();
    for path in entries {
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (placeholder, value) in PLACEHOLDERS {
            text = text.replace(placeholder, value);
        }
        if detect_schema(text.as_bytes()).is_ok() {
            assert!(
                !text.contains("#nip"),
                "unfilled placeholder in {}",
                path.display()
            );
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                text.into_bytes(),
            ));
        }
    }
    out
}

/// xmllint's schema verdicts (`xmllint --noout --nonet --schema`), live or from the golden file
/// `tests/golden/xmllint-BINARY.tsv` as `KSEF_ORACLES` selects (crate `ksef-oracle`). In the live
/// and record modes: a temporary directory with copies of the three schemas whose http import
/// points to the local base schema; removed on drop.
pub struct Oracle {
    pub dir: PathBuf,
    schemas: BTreeMap<&'static str, PathBuf>,
    /// The text of each main schema: part of every case's key, so a new schema is a new case.
    texts: BTreeMap<&'static str, String>,
    golden: Golden,
    tag: String,
}

const BASE_URL: &str = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/";

impl Oracle {
    pub fn new(tag: &str) -> Oracle {
        let golden = Golden::open(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"),
            &format!("xmllint-{}", ksef_oracle::test_binary()),
        );
        let live = golden.mode().runs_tools();
        if live {
            // Fails naming the package when xmllint is missing.
            XMLLINT.run(None, &["--version"], b"");
        }
        let dir = std::env::temp_dir().join(format!("ksef-validate-{tag}-{}", std::process::id()));
        if live {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let xsd = spec_dir().join("xsd/invoice");
        let base = xsd.join("FA/bazowe");
        let base = base
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", base.display()));
        let mut schemas = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for (key, rel) in [
            ("FA(2)", "FA/schemat_FA(2)_v1-0E.xsd"),
            ("FA(3)", "FA/schemat_FA(3)_v1-0E.xsd"),
            ("FA_RR(1)", "RR/schemat_FA_RR(1)_v1-1E.xsd"),
        ] {
            let path = xsd.join(rel);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()));
            assert!(text.contains(BASE_URL), "{rel} imports {BASE_URL}");
            let local = format!("schemaLocation=\"file://{}/", base.display());
            let path = dir.join(format!("{}.xsd", key.replace(['(', ')'], "_")));
            if live {
                let text = text.replace(&format!("schemaLocation=\"{BASE_URL}"), &local);
                std::fs::write(&path, text).unwrap();
            }
            schemas.insert(key, path);
            texts.insert(key, text);
        }
        Oracle {
            dir,
            schemas,
            texts,
            golden,
            tag: tag.to_owned(),
        }
    }

    /// xmllint's verdict (valid?) on each document, all checked against `schema`, in batches.
    pub fn verdicts(&self, schema: Schema, docs: &[Vec<u8>]) -> Vec<bool> {
        let labelled: Vec<(String, &[u8])> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("{} {i}", self.tag), d.as_slice()))
            .collect();
        self.verdicts_of(schema, &labelled)
    }

    /// As [`Oracle::verdicts`], with a label per document for the golden file.
    pub fn verdicts_of<L: AsRef<str>>(&self, schema: Schema, docs: &[(L, &[u8])]) -> Vec<bool> {
        let name = schema.to_string();
        let text = &self.texts[name.as_str()];
        let cases: Vec<Case> = docs
            .iter()
            .map(|(label, doc)| {
                Case::new(
                    format!("{name} {}", label.as_ref()),
                    &[b"xmllint --schema", text.as_bytes(), doc],
                )
            })
            .collect();
        let docs: Vec<&[u8]> = docs.iter().map(|(_, d)| *d).collect();
        self.golden
            .answers(&cases, || {
                self.run_xmllint(&name, &docs)
                    .into_iter()
                    .map(|ok| if ok { "valid" } else { "invalid" }.to_owned())
                    .collect()
            })
            .into_iter()
            .map(|answer| match answer.as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!(
                    "{}: unexpected verdict {other:?}",
                    self.golden.path().display()
                ),
            })
            .collect()
    }

    fn run_xmllint(&self, schema: &str, docs: &[&[u8]]) -> Vec<bool> {
        let xsd = &self.schemas[schema];
        let mut out = Vec::with_capacity(docs.len());
        for (chunk_no, chunk) in docs.chunks(400).enumerate() {
            let mut files = Vec::new();
            for (i, doc) in chunk.iter().enumerate() {
                let path = self.dir.join(format!("doc-{chunk_no}-{i}.xml"));
                std::fs::write(&path, doc).unwrap();
                files.push(path);
            }
            let mut command = XMLLINT.command();
            command
                .arg("--noout")
                .arg("--nonet")
                .arg("--schema")
                .arg(xsd)
                .args(&files);
            let output = XMLLINT.output(&mut command, b"");
            let stderr = String::from_utf8_lossy(&output.stderr);
            for path in &files {
                let name = path.display().to_string();
                let ok = stderr.lines().any(|l| l == format!("{name} validates"));
                let bad = stderr
                    .lines()
                    .any(|l| l == format!("{name} fails to validate"))
                    || stderr
                        .lines()
                        .any(|l| l.starts_with(&format!("{name}:")) && l.contains("parser error"));
                assert!(ok != bad, "no verdict of xmllint for {name}:\n{stderr}");
                out.push(ok);
                std::fs::remove_file(path).unwrap();
            }
        }
        out
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Our verdict: valid when the report is empty; a document we refuse to read is invalid.
pub fn ours(doc: &[u8]) -> bool {
    validate_invoice(doc).is_ok_and(|r| r.is_valid())
}

/// One element of a document: byte offsets of its tags and content.
#[derive(Debug, Clone)]
pub struct Span {
    pub name: String,
    pub start: usize,
    /// End of the start tag.
    pub open_end: usize,
    /// Start of the end tag.
    pub close_start: usize,
    pub end: usize,
    pub depth: usize,
    pub leaf: bool,
}

/// Every element of a document with its byte offsets.
pub fn spans(doc: &[u8]) -> Vec<Span> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(doc);
    reader.config_mut().expand_empty_elements = false;
    let mut out: Vec<Span> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        let pos = reader.buffer_position() as usize;
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                if let Some(&parent) = stack.last() {
                    out[parent].leaf = false;
                }
                out.push(Span {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    start: pos,
                    open_end: reader.buffer_position() as usize,
                    close_start: 0,
                    end: 0,
                    depth: stack.len(),
                    leaf: true,
                });
                stack.push(out.len() - 1);
            }
            Event::Empty(e) => {
                if let Some(&parent) = stack.last() {
                    out[parent].leaf = false;
                }
                let end = reader.buffer_position() as usize;
                out.push(Span {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    start: pos,
                    open_end: end,
                    close_start: end,
                    end,
                    depth: stack.len(),
                    leaf: false,
                });
            }
            Event::End(_) => {
                let i = stack.pop().unwrap();
                out[i].close_start = pos;
                out[i].end = reader.buffer_position() as usize;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The kinds of mutation, each aimed at one kind of rule.
pub const VALUE_KINDS: &[(&str, &str)] = &[
    ("empty", ""),
    (
        "too-long",
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    ("letters", "abc"),
    ("total-digits", "12345678901234567890.5"),
    ("fraction-digits", "1.123456789"),
    ("negative", "-5"),
    ("huge", "99999999999999"),
    ("bad-date", "2025-02-30"),
    ("date-out-of-range", "1899-12-31"),
    ("bad-enumeration", "ZZ"),
    ("zero", "0"),
    ("padded", "  7  "),
    ("datetime", "2025-01-01T25:00:00Z"),
];

pub const STRUCT_KINDS: &[&str] = &[
    "delete",
    "duplicate",
    "swap-with-next",
    "wrong-namespace",
    "unknown-sibling",
    "unknown-attribute",
    "text-in-complex",
];

/// Applies one mutation; `None` when it does not apply to that element.
pub fn mutate(doc: &[u8], spans: &[Span], target: usize, kind: &str) -> Option<Vec<u8>> {
    let s = spans.get(target)?;
    let splice = |from: usize, to: usize, with: &[u8]| {
        let mut out = Vec::with_capacity(doc.len() + with.len());
        out.extend_from_slice(&doc[..from]);
        out.extend_from_slice(with);
        out.extend_from_slice(&doc[to..]);
        out
    };
    if let Some((_, value)) = VALUE_KINDS.iter().find(|(k, _)| *k == kind) {
        if !s.leaf || s.close_start < s.open_end {
            return None;
        }
        return Some(splice(s.open_end, s.close_start, value.as_bytes()));
    }
    if s.depth == 0 {
        return None;
    }
    Some(match kind {
        "delete" => splice(s.start, s.end, b""),
        "duplicate" => {
            let copy = doc[s.start..s.end].to_vec();
            splice(s.end, s.end, &copy)
        }
        "swap-with-next" => {
            let next = spans[target + 1..]
                .iter()
                .find(|n| n.start >= s.end && n.depth == s.depth)?;
            if next.depth != s.depth
                || spans[target + 1..]
                    .iter()
                    .any(|n| n.start >= s.end && n.start < next.start && n.depth < s.depth)
            {
                return None;
            }
            let mut out = doc[..s.start].to_vec();
            out.extend_from_slice(&doc[next.start..next.end]);
            out.extend_from_slice(&doc[s.end..next.start]);
            out.extend_from_slice(&doc[s.start..s.end]);
            out.extend_from_slice(&doc[next.end..]);
            out
        }
        "wrong-namespace" => {
            // A prefixed name in another namespace (the content keeps the default namespace).
            let tag_end = s.start + 1 + s.name.len();
            let mut out = doc[..s.start].to_vec();
            out.extend_from_slice(format!("<w:{} xmlns:w=\"urn:wrong\"", s.name).as_bytes());
            if s.close_start == s.end {
                out.extend_from_slice(&doc[tag_end..]);
                return Some(out);
            }
            out.extend_from_slice(&doc[tag_end..s.close_start]);
            out.extend_from_slice(format!("</w:{}>", s.name).as_bytes());
            out.extend_from_slice(&doc[s.end..]);
            out
        }
        "unknown-sibling" => splice(s.end, s.end, b"<Nieznany>1</Nieznany>"),
        "unknown-attribute" => {
            let at = s.start + 1 + s.name.len();
            splice(at, at, b" dodatkowy=\"1\"")
        }
        "text-in-complex" => {
            if s.leaf {
                return None;
            }
            splice(s.open_end, s.open_end, b"tekst")
        }
        _ => return None,
    })
}
