//! Renders an invoice or a UPO to PDF.
//!
//! ```text
//! cargo run -p ksef-pdf --example render -- invoice.xml out.pdf [KSEF_NUMBER]
//! ```

use std::error::Error;

use ksef_pdf::{Options, render_invoice, render_upo};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: render INPUT.xml OUTPUT.pdf [KSEF_NUMBER]".into());
    };
    let xml = std::fs::read(&input)?;
    let mut options = Options::default();
    if let Some(number) = args.next() {
        options = options.with_ksef_number(number);
    }
    let is_upo = String::from_utf8_lossy(&xml[..xml.len().min(400)]).contains("Potwierdzenie");
    let pdf = if is_upo {
        render_upo(&xml, &options)?
    } else {
        render_invoice(&xml, &options)?
    };
    std::fs::write(&output, pdf)?;
    Ok(())
}
