//! PDF rendering throughput: a typical 3 KB FA(3) invoice (the Ministry's template) rendered in a
//! loop on one thread, a 1,000-line invoice, and the peak RSS of each (Linux).
//!
//! ```text
//! cargo bench -p ksef-pdf --bench render [-- --out DIR]
//! ```
//!
//! `--out DIR` also writes the two inputs (`typical.xml`, `lines-1000.xml`) so other renderers
//! can be run on the same documents (BENCHMARKS.md).

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "../tests/shared/many_lines.rs"]
mod many_lines;

use ksef_model::invoice_builder::{Line, VatRate};
use ksef_pdf::{Options, render_invoice};
use many_lines::many_lines;

fn typical() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ksef-spec/invoice-templates/invoice-template-fa-3.xml");
    let text = std::fs::read_to_string(&path).expect("the FA(3) template");
    text.replace("#nip#", "5265877635")
        .replace("#invoice_number#", "FV/2026/01/0001")
        .into_bytes()
}

fn lines(n: usize) -> Vec<u8> {
    many_lines(n, "FV/2026/01/1000", |i| {
        Line::new(
            format!("Pozycja {i}: towar handlowy"),
            format!("{}", 1 + i % 7).parse().unwrap(),
            format!("{}.{:02}", 1 + i % 300, i % 100).parse().unwrap(),
            VatRate::Rate23,
        )
        .with_unit("szt.")
    })
}

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`), so the rate per CPU second
/// holds on a machine busy with other work, where wall-clock rates fall with the load.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> f64 {
    many_lines::peak_rss_kib().map_or(f64::NAN, |kib| kib as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let typical = typical();
    let big = lines(1000);
    if let Some(i) = args.iter().position(|a| a == "--out") {
        let dir = PathBuf::from(&args[i + 1]);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("typical.xml"), &typical).unwrap();
        std::fs::write(dir.join("lines-1000.xml"), &big).unwrap();
    }
    let options = Options::default().with_ksef_number("5265877635-20250916-0200A0D6723E-C2");

    // Warm up (font tables are parsed once per process).
    render_invoice(&typical, &options).unwrap();
    reset_peak();
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut n = 0u32;
    let mut bytes = 0;
    while start.elapsed() < Duration::from_secs(3) {
        bytes = render_invoice(&typical, &options).unwrap().len();
        n += 1;
    }
    let per_sec = f64::from(n) / start.elapsed().as_secs_f64();
    let per_cpu_sec = match (cpu_start, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => format!("{:.0}", f64::from(n) / (b - a)),
        _ => "n/a".to_owned(),
    };
    println!(
        "typical FA(3) ({} B XML -> {} B PDF): {per_sec:.0} invoices/s on one thread ({:.2} ms each), \
         {per_cpu_sec} per CPU second, peak RSS {:.1} MiB",
        typical.len(),
        bytes,
        1000.0 / per_sec,
        peak_mib()
    );

    reset_peak();
    let mut times = Vec::new();
    let mut pages = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let pdf = render_invoice(&big, &options).unwrap();
        times.push(t.elapsed());
        pages = pdf.len();
    }
    times.sort();
    println!(
        "1,000-line invoice ({} KiB XML -> {} KiB PDF): median {:.3} s of 5, peak RSS {:.1} MiB",
        big.len() / 1024,
        pages / 1024,
        times[2].as_secs_f64(),
        peak_mib()
    );
}
