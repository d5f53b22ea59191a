//! Builder invoices with many lines and the process's peak RSS: shared by the large-invoice test
//! and the rendering bench (included in both with `#[path]`).

use chrono::NaiveDate;
use ksef_model::invoice_builder::{
    Address, Buyer, BuyerId, InvoiceHeader, Line, Seller, VatInvoice,
};
use ksef_model::xml::fa3::{TKodKrajuType, TKodWalutyType};

/// An FA(3) VAT invoice numbered `number` between two fixed companies, with the lines
/// `line(1)` to `line(n)`.
pub(crate) fn many_lines(n: usize, number: &str, line: impl Fn(usize) -> Line) -> Vec<u8> {
    let seller = Seller::new(
        "5265877635".parse().unwrap(),
        "Hurtownia Łódzka Sp. z o.o.",
        Address::new(TKodKrajuType::Pl, "ul. Piotrkowska 1").with_line2("90-001 Łódź"),
    );
    let buyer = Buyer::new(
        BuyerId::Nip("7740001454".parse().unwrap()),
        "Sklep „Żabka” s.c.",
    );
    let header = InvoiceHeader::new(
        seller,
        buyer,
        number,
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        TKodWalutyType::Pln,
    );
    VatInvoice::new(header)
        .lines((1..=n).map(line))
        .to_xml()
        .unwrap()
}

/// Peak resident memory of this process since the last reset (writing 5 to
/// `/proc/self/clear_refs`), in KiB; `None` where `/proc` does not say.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
