//! Shared helpers of the ksef-pdf tests: the Ministry's documents and the poppler/qpdf oracles
//! (with a QR reader over rendered pages), live or from golden files as `KSEF_ORACLES` selects.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ksef_oracle::{Case, Golden, Ran, Stdout, Tool};

/// The Ministry's fixtures.
pub fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec")
}

/// Valid values for the templates' placeholders (NIPs with correct check digits).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("#nip#", "5265877635"),
    ("#nip_podmiot1#", "5265877635"),
    ("#nipOdbiorca#", "7740001454"),
    ("#nip_podmiot2#", "7740001454"),
    ("#nip1_podmiot3#", "9512330455"),
    ("#nip2_podmiot3#", "1111111111"),
    ("#idwew1_podmiot3#", "9512330455-00001"),
    ("#idwew2_podmiot3#", "1111111111-00002"),
    ("#supplier_nip#", "5265877635"),
    ("#buyer_nip#", "7740001454"),
    ("#invoice_number#", "FV/2025/11/0001"),
    ("#issue_date#", "2026-01-15"),
    ("#due_date#", "2026-02-15"),
    ("#iban#", "PL61109010140000071219812874"),
    ("#ksef_number#", "5265877635-20250916-0200A0D6723E-C2"),
    ("#buyer_reference#", "REF-1"),
    ("#compliant#", "true"),
    ("#extended#", "true"),
];

/// Every file of `invoice-templates`, placeholders filled in, by file name.
pub fn templates() -> Vec<(String, Vec<u8>)> {
    let dir = spec_dir().join("invoice-templates");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|path| {
            let mut text = std::fs::read_to_string(&path).unwrap();
            for (placeholder, value) in PLACEHOLDERS {
                text = text.replace(placeholder, value);
            }
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                text.into_bytes(),
            )
        })
        .collect()
}

/// Every UPO example (v4-2 and v4-3), by path under `upo-examples`.
pub fn upos() -> Vec<(String, Vec<u8>)> {
    let root = spec_dir().join("upo-examples");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "xml") {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh scratch directory under the target dir.
pub fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "ksef-pdf-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub const PDFTOTEXT: Tool = Tool::new("pdftotext", "poppler-utils");
pub const PDFFONTS: Tool = Tool::new("pdffonts", "poppler-utils");
pub const PDFINFO: Tool = Tool::new("pdfinfo", "poppler-utils");
pub const PDFTOPPM: Tool = Tool::new("pdftoppm", "poppler-utils");
pub const QPDF: Tool = Tool::new("qpdf", "qpdf");

/// The independent PDF tools (poppler-utils, qpdf), live or replayed from
/// `tests/golden/NAME.tsv` as `KSEF_ORACLES` selects (see ksef-oracle).
pub struct Tools {
    golden: Golden,
}

impl Tools {
    /// The tools of one test binary (`name` names its golden file).
    pub fn open(name: &str) -> Tools {
        Tools {
            golden: Golden::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"), name),
        }
    }

    fn run(&self, tool: Tool, pdf: &[u8], args: &[&str]) -> Ran {
        let dir = scratch();
        std::fs::write(dir.join("doc.pdf"), pdf).unwrap();
        let mut full: Vec<&str> = args.to_vec();
        full.push("doc.pdf");
        let ran = self.golden.run(tool, &dir, &full, b"", Stdout::Bytes);
        std::fs::remove_dir_all(dir).ok();
        ran
    }

    /// A question answered by running pdftotext on `pdf` and summing its text up with `f` (for
    /// documents too large to record whole); the summary (one line, no tabs) is what is recorded.
    pub fn pdftotext_summary(
        &self,
        label: &str,
        pdf: &[u8],
        f: impl FnOnce(&str) -> String,
    ) -> String {
        let case = Case::new(
            format!("pdftotext summary: {label}"),
            &[b"pdftotext -raw summary", label.as_bytes(), pdf],
        );
        self.golden.answer(&case, || {
            let dir = scratch();
            let path = dir.join("doc.pdf");
            std::fs::write(&path, pdf).unwrap();
            let out = PDFTOTEXT.run(
                None,
                &["-raw", "-enc", "UTF-8", path.to_str().unwrap(), "-"],
                b"",
            );
            std::fs::remove_dir_all(dir).ok();
            f(&String::from_utf8(out).unwrap())
        })
    }

    /// `pdftotext -raw`: the text in content-stream order (each cell's lines stay together).
    pub fn pdftotext(&self, pdf: &[u8]) -> String {
        let dir = scratch();
        std::fs::write(dir.join("doc.pdf"), pdf).unwrap();
        let ran = self.golden.run(
            PDFTOTEXT,
            &dir,
            &["-raw", "-enc", "UTF-8", "doc.pdf", "out.txt"],
            b"",
            Stdout::Bytes,
        );
        assert!(ran.success, "pdftotext failed: {}", ran.stderr);
        let text = std::fs::read_to_string(dir.join("out.txt")).unwrap();
        std::fs::remove_dir_all(dir).ok();
        text
    }

    /// The text of each page (pdftotext separates pages with form feeds).
    pub fn pages_text(&self, pdf: &[u8]) -> Vec<String> {
        let text = self.pdftotext(pdf);
        let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
        if pages.last().is_some_and(|p| p.trim().is_empty()) {
            pages.pop();
        }
        pages
    }

    /// `qpdf --check` passes.
    pub fn qpdf_check(&self, pdf: &[u8]) {
        let ran = self.run(QPDF, pdf, &["--check"]);
        let stdout = String::from_utf8_lossy(&ran.stdout);
        assert!(
            ran.success && stdout.contains("No syntax or stream encoding errors found"),
            "qpdf --check: {stdout}{}",
            ran.stderr
        );
    }

    /// `pdffonts`: every font embedded (as a subset) with a ToUnicode map; returns the names.
    pub fn pdffonts(&self, pdf: &[u8]) -> Vec<String> {
        let ran = self.run(PDFFONTS, pdf, &[]);
        assert!(ran.success, "pdffonts: {}", ran.stderr);
        let text = String::from_utf8(ran.stdout).unwrap();
        // name type... encoding emb sub uni object ID; the last five columns are fixed.
        let mut names = Vec::new();
        for line in text.lines().skip(2) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert!(cols.len() >= 7, "pdffonts line {line:?}");
            let n = cols.len();
            let (emb, sub, uni) = (cols[n - 5], cols[n - 4], cols[n - 3]);
            assert_eq!(
                (emb, sub, uni),
                ("yes", "yes", "yes"),
                "font not embedded: {line}"
            );
            names.push(cols[0].to_owned());
        }
        names
    }

    /// The number of pages (`pdfinfo`).
    pub fn page_count(&self, pdf: &[u8]) -> usize {
        let ran = self.run(PDFINFO, pdf, &[]);
        let text = String::from_utf8(ran.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .expect("pdfinfo prints Pages")
            .trim()
            .parse()
            .unwrap()
    }

    /// Renders page `page` (1-based) with pdftoppm at `dpi` and decodes every QR code on it
    /// with rqrr; the decoded links are what is recorded.
    pub fn qr_codes(&self, pdf: &[u8], page: usize, dpi: u32) -> Vec<String> {
        let p = page.to_string();
        let r = dpi.to_string();
        let case = Case::new(
            format!("pdftoppm+rqrr page {page} at {dpi} dpi"),
            &[
                b"pdftoppm -png -gray | rqrr",
                p.as_bytes(),
                r.as_bytes(),
                pdf,
            ],
        );
        let answer = self.golden.answer(&case, || {
            let dir = scratch();
            let path = dir.join("doc.pdf");
            std::fs::write(&path, pdf).unwrap();
            let prefix = dir.join("page");
            PDFTOPPM.run(
                None,
                &[
                    "-png",
                    "-gray",
                    "-r",
                    &r,
                    "-f",
                    &p,
                    "-l",
                    &p,
                    "-singlefile",
                    path.to_str().unwrap(),
                    prefix.to_str().unwrap(),
                ],
                b"",
            );
            let codes = decode_png(&dir.join("page.png"));
            std::fs::remove_dir_all(dir).ok();
            format!("codes:{}", BASE64.encode(codes.join("\n")))
        });
        let encoded = answer.strip_prefix("codes:").expect("a QR answer");
        let joined = String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap();
        if joined.is_empty() {
            Vec::new()
        } else {
            joined.split('\n').map(str::to_owned).collect()
        }
    }
}

/// Text without any whitespace (no-break spaces included), for finding values that wrapped.
pub fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn decode_png(path: &Path) -> Vec<String> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let bytes_per_sample = if info.bit_depth == png::BitDepth::Sixteen {
        2
    } else {
        1
    };
    let stride = info.line_size;
    let luma = |x: usize, y: usize| -> u8 { buf[y * stride + x * channels * bytes_per_sample] };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, luma);
    let mut codes: Vec<String> = img
        .detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("QR decodes").1)
        .collect();
    codes.sort();
    codes
}

/// Polish money formatting, written independently of the renderer: digits with a decimal
/// comma and at least two decimals (thousands separators are whitespace, squashed away).
pub fn pl_money(v: &str) -> String {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let mut frac = frac.to_owned();
    while frac.len() < 2 {
        frac.push('0');
    }
    format!("{int},{frac}")
}

/// Polish decimal (as many decimals as given).
pub fn pl_number(v: &str) -> String {
    v.replace('.', ",")
}

/// `YYYY-MM-DD` as `DD.MM.YYYY`.
pub fn pl_date(v: &str) -> String {
    format!("{}.{}.{}", &v[8..10], &v[5..7], &v[..4])
}
