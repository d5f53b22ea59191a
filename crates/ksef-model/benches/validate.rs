//! Validation speed of a ~100 KB FA(3) invoice (the official template with its invoice lines
//! repeated). A plain timing loop, no harness:
//!
//!     cargo bench -p ksef-model --features validate --bench validate
//!
//! Prints the median and best time per validation over a number of rounds.

use std::time::{Duration, Instant};

use ksef_model::validate::validate_invoice;

const TARGET_SIZE: usize = 100_000;

/// The Ministry's fixtures: `$KSEF_SPEC_DIR`, else the repository's `fixtures/ksef-spec/`.
fn spec_dir() -> std::path::PathBuf {
    std::env::var_os("KSEF_SPEC_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ksef-spec")
        })
}

/// The FA(3) template, placeholders filled, its `FaWiersz` lines repeated to about 100 KB
/// (`NrWierszaFa` renumbered so the lines stay distinct).
fn invoice() -> Vec<u8> {
    let path = spec_dir().join("invoice-templates/invoice-template-fa-3.xml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()))
        .replace("#nip#", "5265877635")
        .replace("#invoice_number#", "FV/2025/11/0001");
    let first = text.find("<FaWiersz>").expect("a FaWiersz line");
    let last = text.rfind("</FaWiersz>").expect("a FaWiersz line") + "</FaWiersz>".len();
    let line = &text[first..text[first..].find("</FaWiersz>").unwrap() + first + 11];
    let mut lines = String::new();
    let mut n = 1;
    while text.len() - (last - first) + lines.len() < TARGET_SIZE {
        let start = line.find("<NrWierszaFa>").unwrap() + "<NrWierszaFa>".len();
        let end = line.find("</NrWierszaFa>").unwrap();
        lines.push_str(&line[..start]);
        lines.push_str(&n.to_string());
        lines.push_str(&line[end..]);
        lines.push_str("\n\t\t");
        n += 1;
    }
    format!("{}{}{}", &text[..first], lines, &text[last..]).into_bytes()
}

/// Median time of `f` over `rounds` runs, after a warm-up.
fn time(rounds: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..20 {
        f();
    }
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[rounds / 2], times[0])
}

/// Reading the same document with quick-xml's namespace-aware reader, nothing else.
fn parse_only(xml: &[u8]) -> usize {
    let mut reader = quick_xml::reader::NsReader::from_reader(xml);
    let mut n = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, quick_xml::events::Event::Eof)) | Err(_) => return n,
            Ok(_) => n += 1,
        }
    }
}

/// The same with quick-xml's plain `Reader` (what the validator reads with; it resolves
/// namespaces itself, only where a prefix or a declaration needs it).
fn read_only(xml: &[u8]) -> usize {
    let mut reader = quick_xml::reader::Reader::from_reader(xml);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return n,
            Ok(_) => n += 1,
        }
    }
}

fn main() {
    let xml = invoice();
    let report = validate_invoice(&xml).expect("readable");
    assert!(report.is_valid(), "{:#?}", report.violations);
    let rounds = 300;
    let (median, best) = time(rounds, || {
        std::hint::black_box(validate_invoice(std::hint::black_box(&xml)).unwrap());
    });
    println!(
        "validate_invoice: FA(3), {} bytes: median {median:?}, best {best:?} ({rounds} rounds)",
        xml.len(),
    );
    let (median, best) = time(rounds, || {
        std::hint::black_box(parse_only(std::hint::black_box(&xml)));
    });
    println!("quick-xml NsReader alone: median {median:?}, best {best:?}");
    let (median, best) = time(rounds, || {
        std::hint::black_box(read_only(std::hint::black_box(&xml)));
    });
    println!("quick-xml Reader alone (floor): median {median:?}, best {best:?}");
}
