//! Builds an FA(3) VAT invoice with lines at three rates, checks it with the offline validator
//! and prints the XML.
//!
//! ```text
//! cargo run -p ksef-model --example build_invoice --features invoice-xml,validate
//! ```

use std::error::Error;

use chrono::{NaiveDate, TimeZone, Utc};
use ksef_model::invoice_builder::{
    Address, Buyer, BuyerId, InvoiceHeader, Line, Seller, VatInvoice, VatRate,
};
use ksef_model::validate::validate_invoice;
use ksef_model::xml::fa3::{TKodKrajuType, TKodWalutyType};

fn main() -> Result<(), Box<dyn Error>> {
    let seller = Seller::new(
        "5265877635".parse()?,
        "Elektrownia S.A.",
        Address::new(TKodKrajuType::Pl, "ul. Kwiatowa 1 m. 2").with_line2("00-001 Warszawa"),
    );
    let buyer = Buyer::new(BuyerId::Nip("7740001454".parse()?), "F.H.U. Jan Kowalski")
        .with_address(Address::new(TKodKrajuType::Pl, "ul. Polna 1").with_line2("00-001 Warszawa"));
    let issued = NaiveDate::from_ymd_opt(2026, 1, 15).ok_or("bad date")?;
    let header = InvoiceHeader::new(
        seller,
        buyer,
        "FV/2026/01/0001",
        issued,
        TKodWalutyType::Pln,
    )
    .with_place("Warszawa")
    .with_created_at(
        Utc.with_ymd_and_hms(2026, 1, 15, 9, 30, 0)
            .single()
            .ok_or("bad time")?,
    )
    .with_system_info("ksef-rs example");

    let invoice = VatInvoice::new(header)
        .line(
            Line::new(
                "Energia czynna",
                "20.00".parse()?,
                "0.90".parse()?,
                VatRate::Rate23,
            )
            .with_unit("kWh"),
        )
        .line(Line::new(
            "Usługa dystrybucji",
            "1".parse()?,
            "25.60".parse()?,
            VatRate::Rate23,
        ))
        .line(
            Line::new("Posiłek", "3".parse()?, "12.50".parse()?, VatRate::Rate8).with_unit("szt."),
        )
        .line(
            Line::new("Książka", "2".parse()?, "39.99".parse()?, VatRate::Rate5).with_unit("szt."),
        );

    let built = invoice.build()?;
    eprintln!("amount due (P_15): {} PLN", built.fa.p_15);
    let xml = invoice.to_xml()?;
    let report = validate_invoice(&xml)?;
    if !report.is_valid() {
        for violation in &report.violations {
            eprintln!("{violation}");
        }
        return Err("the built invoice is not valid".into());
    }
    eprintln!("valid FA(3) ({} bytes)", xml.len());
    println!("{}", String::from_utf8(xml)?);
    Ok(())
}
