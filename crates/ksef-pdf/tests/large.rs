//! A 10,000-line invoice: many pages, the line table's header on every page it spans, every line
//! present, and memory bounded (peak RSS of the rendering measured in this process, alone in
//! its test binary).

mod common;

#[path = "shared/many_lines.rs"]
mod many_lines;

use common::*;
use ksef_model::invoice_builder::{Line, VatRate};
use ksef_pdf::{Options, render_invoice_full};
use many_lines::many_lines;

const LINES: usize = 10_000;

fn big_invoice() -> Vec<u8> {
    let rates = [VatRate::Rate23, VatRate::Rate8, VatRate::Rate5];
    many_lines(LINES, "FV/2026/01/9999", |i| {
        let name = if i % 10 == 0 {
            format!(
                "Pozycja {i}: towar o bardzo długiej nazwie, która nie mieści się w jednym wierszu tabeli i musi zostać zawinięta"
            )
        } else {
            format!("Pozycja {i}: towar")
        };
        Line::new(
            name,
            format!("{}", 1 + i % 7).parse().unwrap(),
            format!("{}.{:02}", 1 + i % 300, i % 100).parse().unwrap(),
            rates[i % 3],
        )
        .with_unit("szt.")
    })
}

/// Peak resident memory of this process since the last reset, in KiB.
fn peak_rss_kib() -> u64 {
    many_lines::peak_rss_kib().expect("VmHWM in /proc/self/status")
}

#[test]
fn ten_thousand_lines_render_with_bounded_memory() {
    let tools = Tools::open("large");
    let xml = big_invoice();
    // Reset the peak (Linux: writing 5 to clear_refs) so that only the rendering counts.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let before = peak_rss_kib();
    let rendered = render_invoice_full(&xml, &Options::default()).unwrap();
    let peak = peak_rss_kib();
    eprintln!(
        "{LINES} lines: {} KiB of XML, {} pages, {} KiB of PDF, peak RSS {} MiB (was {} MiB before)",
        xml.len() / 1024,
        rendered.pages,
        rendered.pdf.len() / 1024,
        peak / 1024,
        before / 1024
    );
    assert!(rendered.pages > 100, "{} pages", rendered.pages);
    // Bounded: the document tree and one page at a time, not a copy per page (debug build).
    assert!(peak < 256 * 1024, "peak RSS {} MiB", peak / 1024);
    assert_eq!(tools.page_count(&rendered.pdf), rendered.pages);

    let summary = tools.pdftotext_summary(
        "10k lines: header per page, lines present",
        &rendered.pdf,
        |text| {
            let pages: Vec<&str> = text
                .split('\u{c}')
                .filter(|p| !p.trim().is_empty())
                .collect();
            let first = pages
                .iter()
                .position(|p| p.contains("Pozycje"))
                .unwrap_or(usize::MAX);
            let last = pages
                .iter()
                .position(|p| p.contains("Podsumowanie stawek podatku"))
                .unwrap_or(0);
            let without_header = (first..=last)
                .filter(|&i| !squash(pages[i]).contains(&squash("Nazwa towaru lub usługi")))
                .count();
            let squashed = squash(text);
            let missing = (1..=LINES)
                .filter(|i| !squashed.contains(&format!("Pozycja{i}:towar")))
                .count();
            format!(
                "pages={} table_pages={} without_header={without_header} missing_lines={missing}",
                pages.len(),
                last.saturating_sub(first) + 1
            )
        },
    );
    eprintln!("{summary}");
    let field = |name: &str| -> usize {
        summary
            .split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(field("pages"), rendered.pages);
    assert!(field("table_pages") > 100);
    assert_eq!(field("without_header"), 0, "{summary}");
    assert_eq!(field("missing_lines"), 0, "{summary}");
}
