//! `ksef invoice sample`: realistic batches of valid FA(3) invoices for trying KSeF out.
//!
//! Every invoice comes from ksef-model's typed builder (`invoice_builder::VatInvoice`), which
//! computes the amounts and cannot produce a structurally invalid document. The numbers carry a
//! tag of the run (UTC time to the millisecond) and a sequence number, so they are unique within
//! a batch and across runs; the buyers, lines, quantities, prices and rates vary with the
//! sequence number, deterministically.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{NaiveDate, Utc};
use ksef_model::invoice_builder::{
    Address, Buyer, BuyerId, InvoiceHeader, Line, Seller, VatInvoice, VatRate,
};
use ksef_model::xml::fa3::{TKodKrajuType, TKodWalutyType};
use serde_json::json;

use crate::context::{Ctx, print_json};
use crate::files::write_public;

/// Buyers the samples rotate through: (NIP, name, address).
const BUYERS: [(&str, &str, &str); 4] = [
    (
        "7740001454",
        "F.H.U. Jan Kowalski",
        "ul. Polna 5, 09-400 Płock",
    ),
    (
        "9876543210",
        "Piekarnia Pod Lipami Sp. z o.o.",
        "ul. Lipowa 12, 30-001 Kraków",
    ),
    (
        "5554443334",
        "Biuro Rachunkowe Saldo s.c.",
        "al. Wolności 3, 60-101 Poznań",
    ),
    (
        "5265877635",
        "Elektrownia S.A.",
        "ul. Kwiatowa 1, 00-001 Warszawa",
    ),
];

/// Goods and services the lines pick from: (name, unit, unit net price, rate).
const ITEMS: [(&str, &str, &str, VatRate); 8] = [
    ("Energia czynna", "kWh", "0.90", VatRate::Rate23),
    ("Usługa księgowa", "h", "150.00", VatRate::Rate23),
    ("Papier ksero A4", "ryza", "21.49", VatRate::Rate23),
    ("Chleb żytni", "szt.", "6.80", VatRate::Rate5),
    ("Książka", "szt.", "40.00", VatRate::Rate5),
    ("Usługa gastronomiczna", "usł.", "85.00", VatRate::Rate8),
    ("Woda mineralna 1,5 l", "szt.", "2.35", VatRate::Rate8),
    ("Transport towaru", "km", "3.10", VatRate::Rate23),
];

/// Runs `ksef invoice sample`.
pub(crate) fn run(
    ctx: &Ctx,
    count: u32,
    nip: Option<&str>,
    out: &Path,
    date: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let seller_nip = ctx.nip(nip)?;
    let now = Utc::now();
    let issued = date.unwrap_or_else(|| now.date_naive());
    let tag = now.format("%Y%m%d-%H%M%S%3f");
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the directory {}", out.display()))?;
    let buyers: Vec<_> = BUYERS
        .iter()
        .filter(|(buyer_nip, _, _)| *buyer_nip != seller_nip.as_str())
        .collect();
    let width = count.to_string().len().max(4);
    let mut written: Vec<(PathBuf, String)> = Vec::new();
    for i in 1..=count {
        let number = format!("SAMPLE/{tag}/{i:0width$}");
        let path = out.join(format!("sample-{i:0width$}.xml"));
        if path.exists() {
            bail!(
                "{} exists; sample never overwrites a file: give an empty --out directory",
                path.display()
            );
        }
        let (buyer_nip, buyer_name, buyer_address) = buyers[(i as usize - 1) % buyers.len()];
        let seller = Seller::new(
            seller_nip.clone(),
            format!("Sprzedawca {seller_nip}"),
            Address::new(TKodKrajuType::Pl, "ul. Przykładowa 1, 00-950 Warszawa"),
        );
        let buyer = Buyer::new(BuyerId::Nip(buyer_nip.parse()?), *buyer_name)
            .with_address(Address::new(TKodKrajuType::Pl, *buyer_address));
        let header = InvoiceHeader::new(seller, buyer, number.clone(), issued, TKodWalutyType::Pln)
            .with_created_at(now);
        let invoice = VatInvoice::new(header).lines(lines(i)?);
        let xml = invoice
            .to_xml()
            .with_context(|| format!("cannot build sample invoice {number}"))?;
        write_public(&path, &xml)?;
        written.push((path, number));
    }
    if ctx.json() {
        print_json(&json!({
            "count": written.len(),
            "dir": out,
            "issueDate": issued.to_string(),
            "invoices": written
                .iter()
                .map(|(file, number)| json!({"file": file, "number": number}))
                .collect::<Vec<_>>(),
        }))?;
    } else {
        let first = written.first().map_or("", |(_, n)| n.as_str());
        let last = written.last().map_or("", |(_, n)| n.as_str());
        outln!(
            "✓ {} sample FA(3) invoices of seller {seller_nip} in {}",
            written.len(),
            out.display()
        );
        outln!("  numbers          {first} … {last}");
        outln!("  issued           {issued}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines of invoice `i`: one to five items, varied quantities (some fractional).
fn lines(i: u32) -> anyhow::Result<Vec<Line>> {
    let seed = i.wrapping_mul(2_654_435_761);
    let count = 1 + (seed >> 7) as usize % 5;
    let mut lines = Vec::with_capacity(count);
    for k in 0..count {
        let pick = (i as usize * 3 + k * 5 + (seed >> 11) as usize) % ITEMS.len();
        let (name, unit, price, rate) = ITEMS[pick];
        let whole = 1 + (seed >> (k * 3)) % 40;
        let quantity = if k % 2 == 1 {
            format!("{whole}.5")
        } else {
            whole.to_string()
        };
        lines.push(Line::new(name, quantity.parse()?, price.parse()?, rate).with_unit(unit));
    }
    Ok(lines)
}
