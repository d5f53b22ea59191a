//! The facts of an invoice file that the SDK, the simulator and the CLI act on (seller, buyer,
//! number, issue date, currency, type, amounts and the form code), read in one streaming pass.
//!
//! The reader is lenient: it checks that the document is well-formed XML with one root element,
//! and collects what it finds, so a caller asks [`InvoiceFacts::required`] for the facts it cannot
//! do without and gets an error naming the missing element. Whether the invoice conforms to its
//! schema is [`crate::validate`]'s question (feature `validate`).
//!
//! Elements are matched by local name below the root, so namespaces and prefixes do not matter.
//! FA(2) and FA(3) keep their facts under `Fa`, FA_RR(1) under `FakturaRR`.
//!
//! ```
//! use ksef_model::invoice_facts::{Fact, InvoiceFacts};
//!
//! let xml = br#"<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
//!   <Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza></Naglowek>
//!   <Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP></DaneIdentyfikacyjne></Podmiot1>
//!   <Fa><KodWaluty>PLN</KodWaluty><P_1>2026-02-01</P_1><P_2>FA/1</P_2><P_13_1>100</P_13_1>
//!     <P_14_1>23</P_14_1><P_15>123</P_15><RodzajFaktury>VAT</RodzajFaktury></Fa>
//! </Faktura>"#;
//! let facts = InvoiceFacts::read(xml)?;
//! assert_eq!(facts.required(Fact::SellerNip)?, "5265877635");
//! assert_eq!(facts.issue_date()?.to_string(), "2026-02-01");
//! assert_eq!(facts.gross_amount, 123.0);
//! assert_eq!(facts.form_code.as_ref().unwrap().system_code.as_deref(), Some("FA (3)"));
//! assert!(facts.required(Fact::BuyerNip).is_err());
//! # Ok::<(), ksef_model::invoice_facts::InvoiceFactsError>(())
//! ```

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};

/// Where an invoice keeps its facts: `Fa` (FA(2), FA(3)) or `FakturaRR` (FA_RR(1)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvoiceBody {
    /// `Fa`, the body of FA(2) and FA(3).
    #[default]
    Fa,
    /// `FakturaRR`, the body of FA_RR(1).
    FakturaRr,
}

impl InvoiceBody {
    /// The element's name.
    pub fn element(self) -> &'static str {
        match self {
            InvoiceBody::Fa => "Fa",
            InvoiceBody::FakturaRr => "FakturaRR",
        }
    }
}

/// `Naglowek/KodFormularza` as the document declares it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeclaredFormCode {
    /// The `kodSystemowy` attribute, e.g. `FA (3)`.
    pub system_code: Option<String>,
    /// The `wersjaSchemy` attribute, e.g. `1-0E`.
    pub schema_version: Option<String>,
    /// The element's text, e.g. `FA`.
    pub value: String,
}

/// A fact an invoice must state for a caller to act on it; see [`InvoiceFacts::required`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fact {
    /// `Podmiot1/DaneIdentyfikacyjne/NIP`.
    SellerNip,
    /// `Podmiot2/DaneIdentyfikacyjne/NIP`.
    BuyerNip,
    /// `Fa/P_2` (`FakturaRR/P_4C`).
    InvoiceNumber,
    /// `Fa/P_1` (`FakturaRR/P_4B`).
    IssueDate,
    /// `Fa/KodWaluty` (`FakturaRR/KodWaluty`).
    Currency,
    /// `Fa/RodzajFaktury` (`FakturaRR/RodzajFaktury`).
    InvoiceType,
}

impl Fact {
    /// The element's path below the root, for an invoice with `body`.
    pub fn element(self, body: InvoiceBody) -> &'static str {
        match (self, body) {
            (Fact::SellerNip, _) => "Podmiot1/DaneIdentyfikacyjne/NIP",
            (Fact::BuyerNip, _) => "Podmiot2/DaneIdentyfikacyjne/NIP",
            (Fact::InvoiceNumber, InvoiceBody::Fa) => "Fa/P_2",
            (Fact::InvoiceNumber, InvoiceBody::FakturaRr) => "FakturaRR/P_4C",
            (Fact::IssueDate, InvoiceBody::Fa) => "Fa/P_1",
            (Fact::IssueDate, InvoiceBody::FakturaRr) => "FakturaRR/P_4B",
            (Fact::Currency, InvoiceBody::Fa) => "Fa/KodWaluty",
            (Fact::Currency, InvoiceBody::FakturaRr) => "FakturaRR/KodWaluty",
            (Fact::InvoiceType, InvoiceBody::Fa) => "Fa/RodzajFaktury",
            (Fact::InvoiceType, InvoiceBody::FakturaRr) => "FakturaRR/RodzajFaktury",
        }
    }

    /// What the fact is, in words.
    pub fn description(self) -> &'static str {
        match self {
            Fact::SellerNip => "the seller's NIP",
            Fact::BuyerNip => "the buyer's NIP",
            Fact::InvoiceNumber => "the invoice number",
            Fact::IssueDate => "the issue date",
            Fact::Currency => "the currency",
            Fact::InvoiceType => "the invoice type",
        }
    }
}

/// Why an invoice's facts could not be read, or a required one is missing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvoiceFactsError {
    /// The document is not well-formed XML.
    #[error("not well-formed XML at byte {position}: {message}")]
    Malformed {
        /// The byte offset where the reader stopped.
        position: u64,
        /// What the reader found.
        message: String,
    },
    /// The document has a second root element.
    #[error("the document has more than one root element")]
    SeveralRoots,
    /// The document has no root element, or it is not closed.
    #[error("the document has no complete root element")]
    NoRoot,
    /// A fact the caller needs is not in the document.
    #[error("{root}/{element} ({}) is missing", .fact.description())]
    Missing {
        /// The fact.
        fact: Fact,
        /// The root element's name (`Faktura`).
        root: String,
        /// The element's path below the root.
        element: &'static str,
    },
    /// The issue date is not a date.
    #[error("{root}/{element} {value:?} is not a date (YYYY-MM-DD)")]
    InvalidDate {
        /// The root element's name (`Faktura`).
        root: String,
        /// The element's path below the root.
        element: &'static str,
        /// The text found.
        value: String,
    },
}

/// What an invoice file states, as read by [`InvoiceFacts::read`]. Texts are trimmed; the first
/// occurrence of an element counts.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct InvoiceFacts {
    /// The root element's local name (`Faktura` for an invoice).
    pub root: String,
    /// Where the invoice keeps its facts: `FakturaRR` when the document has one, else `Fa`.
    pub body: InvoiceBody,
    /// `Naglowek/KodFormularza`, if present.
    pub form_code: Option<DeclaredFormCode>,
    /// `Podmiot1/DaneIdentyfikacyjne/NIP`.
    pub seller_nip: Option<String>,
    /// `Podmiot1/DaneIdentyfikacyjne/Nazwa`.
    pub seller_name: Option<String>,
    /// `Podmiot2/DaneIdentyfikacyjne/NIP`.
    pub buyer_nip: Option<String>,
    /// `Podmiot2/DaneIdentyfikacyjne/Nazwa`.
    pub buyer_name: Option<String>,
    /// `Fa/P_2` (`FakturaRR/P_4C`).
    pub invoice_number: Option<String>,
    /// `Fa/P_1` (`FakturaRR/P_4B`), as written; [`InvoiceFacts::issue_date`] parses it.
    pub issue_date: Option<String>,
    /// `Fa/KodWaluty` (`FakturaRR/KodWaluty`).
    pub currency: Option<String>,
    /// `Fa/RodzajFaktury` as written, e.g. `VAT`, `KOR_ZAL` (`FakturaRR/RodzajFaktury`, e.g.
    /// `VAT_RR`).
    pub invoice_type: Option<String>,
    /// The net amounts: the sum of every `Fa/P_13_*` (`FakturaRR/P_11_1`); unreadable numbers
    /// count as 0.
    pub net_amount: f64,
    /// The VAT amounts: the sum of `Fa/P_14_1` to `P_14_5` (`FakturaRR/P_11_2`).
    pub vat_amount: f64,
    /// The gross amount: `Fa/P_15`, 0 when absent (the sum of `FakturaRR/P_12_1`).
    pub gross_amount: f64,
    /// Whether the document has a `Zalacznik` (attachment) element below the root.
    pub has_attachment: bool,
    /// Whether the document holds processing instructions (`<?...?>`) after its declaration.
    pub has_processing_instructions: bool,
}

/// The `P_13_*` elements (net amounts per rate) of `Fa`.
const FA_NET: &[&str] = &[
    "P_13_1", "P_13_2", "P_13_3", "P_13_4", "P_13_5", "P_13_6_1", "P_13_6_2", "P_13_6_3", "P_13_7",
    "P_13_8", "P_13_9", "P_13_10", "P_13_11",
];
/// The `P_14_*` elements (VAT amounts per rate) of `Fa`.
const FA_VAT: &[&str] = &["P_14_1", "P_14_2", "P_14_3", "P_14_4", "P_14_5"];

/// The facts of one body (`Fa` or `FakturaRR`) while reading.
#[derive(Default)]
struct BodyFacts {
    seen: bool,
    invoice_number: Option<String>,
    issue_date: Option<String>,
    currency: Option<String>,
    invoice_type: Option<String>,
    net: f64,
    vat: f64,
    gross: Option<f64>,
}

impl BodyFacts {
    fn take(&mut self, body: InvoiceBody, name: &str, text: &str) {
        let amount = || text.parse::<f64>().unwrap_or(0.0);
        let first = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(text.to_owned());
            }
        };
        match (body, name) {
            (InvoiceBody::Fa, "P_2") | (InvoiceBody::FakturaRr, "P_4C") => {
                first(&mut self.invoice_number);
            }
            (InvoiceBody::Fa, "P_1") | (InvoiceBody::FakturaRr, "P_4B") => {
                first(&mut self.issue_date);
            }
            (_, "KodWaluty") => first(&mut self.currency),
            (_, "RodzajFaktury") => first(&mut self.invoice_type),
            (InvoiceBody::Fa, "P_15") if self.gross.is_none() => self.gross = Some(amount()),
            (InvoiceBody::Fa, name) if FA_NET.contains(&name) => self.net += amount(),
            (InvoiceBody::Fa, name) if FA_VAT.contains(&name) => self.vat += amount(),
            (InvoiceBody::FakturaRr, "P_11_1") => self.net += amount(),
            (InvoiceBody::FakturaRr, "P_11_2") => self.vat += amount(),
            (InvoiceBody::FakturaRr, "P_12_1") => {
                self.gross = Some(self.gross.unwrap_or(0.0) + amount());
            }
            _ => {}
        }
    }
}

/// Everything collected while reading, before the body is chosen.
#[derive(Default)]
struct Collected {
    facts: InvoiceFacts,
    fa: BodyFacts,
    rr: BodyFacts,
}

impl Collected {
    /// Takes the text of the element at `path` (below the root).
    fn take(&mut self, path: &[String], text: &str) {
        let first = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(text.to_owned());
            }
        };
        match path {
            [party, data, name] if data == "DaneIdentyfikacyjne" => {
                match (party.as_str(), name.as_str()) {
                    ("Podmiot1", "NIP") => first(&mut self.facts.seller_nip),
                    ("Podmiot1", "Nazwa") => first(&mut self.facts.seller_name),
                    ("Podmiot2", "NIP") => first(&mut self.facts.buyer_nip),
                    ("Podmiot2", "Nazwa") => first(&mut self.facts.buyer_name),
                    _ => {}
                }
            }
            [header, code] if header == "Naglowek" && code == "KodFormularza" => {
                if let Some(form_code) = &mut self.facts.form_code
                    && form_code.value.is_empty()
                {
                    form_code.value = text.to_owned();
                }
            }
            [body, name] if body == "Fa" => self.fa.take(InvoiceBody::Fa, name, text),
            [body, name] if body == "FakturaRR" => {
                self.rr.take(InvoiceBody::FakturaRr, name, text);
            }
            _ => {}
        }
    }

    /// Notes an element opening at `path` (below the root).
    fn open(&mut self, path: &[String], start: &BytesStart<'_>, decoder: Decoder) {
        match path {
            [top] if top.starts_with("Zalacznik") => self.facts.has_attachment = true,
            [top] if top == "Fa" => self.fa.seen = true,
            [top] if top == "FakturaRR" => self.rr.seen = true,
            [header, code]
                if header == "Naglowek"
                    && code == "KodFormularza"
                    && self.facts.form_code.is_none() =>
            {
                let mut form_code = DeclaredFormCode::default();
                for attribute in start.attributes().flatten() {
                    let value = attribute
                        .decode_and_unescape_value(decoder)
                        .map(|v| v.into_owned())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
                    match attribute.key.local_name().as_ref() {
                        b"kodSystemowy" => form_code.system_code = Some(value),
                        b"wersjaSchemy" => form_code.schema_version = Some(value),
                        _ => {}
                    }
                }
                self.facts.form_code = Some(form_code);
            }
            _ => {}
        }
    }

    fn finish(self) -> InvoiceFacts {
        let Collected { mut facts, fa, rr } = self;
        let (body, chosen) = if rr.seen && !fa.seen {
            (InvoiceBody::FakturaRr, rr)
        } else {
            (InvoiceBody::Fa, fa)
        };
        facts.body = body;
        facts.invoice_number = chosen.invoice_number;
        facts.issue_date = chosen.issue_date;
        facts.currency = chosen.currency;
        facts.invoice_type = chosen.invoice_type;
        facts.net_amount = chosen.net;
        facts.vat_amount = chosen.vat;
        facts.gross_amount = chosen.gross.unwrap_or(0.0);
        facts
    }
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

impl InvoiceFacts {
    /// Reads the facts of an invoice file in one streaming pass.
    ///
    /// # Errors
    ///
    /// [`InvoiceFactsError::Malformed`] if the document is not well-formed XML,
    /// [`InvoiceFactsError::SeveralRoots`] or [`InvoiceFactsError::NoRoot`].
    pub fn read(xml: &[u8]) -> Result<InvoiceFacts, InvoiceFactsError> {
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().check_end_names = true;
        let mut collected = Collected::default();
        // Element names from the root down; `stack[1..]` is the path below the root.
        let mut stack: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut roots = 0;
        let malformed = |reader: &Reader<&[u8]>, message: String| InvoiceFactsError::Malformed {
            position: reader.buffer_position(),
            message,
        };
        loop {
            let event = reader
                .read_event()
                .map_err(|e| malformed(&reader, e.to_string()))?;
            match event {
                Event::Start(_) | Event::Empty(_) if stack.is_empty() && roots > 0 => {
                    return Err(InvoiceFactsError::SeveralRoots);
                }
                Event::Start(start) => {
                    if stack.is_empty() {
                        roots += 1;
                        collected.facts.root = local_name(&start);
                    }
                    stack.push(local_name(&start));
                    collected.open(&stack[1..], &start, reader.decoder());
                    text.clear();
                }
                Event::Empty(start) => {
                    if stack.is_empty() {
                        roots += 1;
                        collected.facts.root = local_name(&start);
                    } else {
                        // An empty element states nothing; only its attributes count.
                        stack.push(local_name(&start));
                        collected.open(&stack[1..], &start, reader.decoder());
                        stack.pop();
                    }
                    text.clear();
                }
                Event::Text(t) => {
                    text.push_str(&t.decode().map_err(|e| malformed(&reader, e.to_string()))?)
                }
                Event::CData(t) => text.push_str(&String::from_utf8_lossy(t.as_ref())),
                Event::GeneralRef(r) => {
                    if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|e| malformed(&reader, e.to_string()))?
                    {
                        text.push(c);
                    } else {
                        let name = r.decode().map_err(|e| malformed(&reader, e.to_string()))?;
                        text.push_str(match name.as_ref() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            other => {
                                return Err(malformed(
                                    &reader,
                                    format!("undeclared entity &{other};"),
                                ));
                            }
                        });
                    }
                }
                Event::End(_) => {
                    if stack.len() > 1 {
                        collected.take(&stack[1..], text.trim());
                    }
                    stack.pop();
                    text.clear();
                }
                Event::PI(_) => collected.facts.has_processing_instructions = true,
                Event::Eof => break,
                Event::Decl(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
        if roots == 0 || !stack.is_empty() {
            return Err(InvoiceFactsError::NoRoot);
        }
        Ok(collected.finish())
    }

    /// The text of `fact`, or an error naming its element.
    ///
    /// # Errors
    ///
    /// [`InvoiceFactsError::Missing`] if the document does not state it (or states it empty).
    pub fn required(&self, fact: Fact) -> Result<&str, InvoiceFactsError> {
        let value = match fact {
            Fact::SellerNip => &self.seller_nip,
            Fact::BuyerNip => &self.buyer_nip,
            Fact::InvoiceNumber => &self.invoice_number,
            Fact::IssueDate => &self.issue_date,
            Fact::Currency => &self.currency,
            Fact::InvoiceType => &self.invoice_type,
        };
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| InvoiceFactsError::Missing {
                fact,
                root: self.root_name().to_owned(),
                element: fact.element(self.body),
            })
    }

    /// The issue date (`Fa/P_1`, `FakturaRR/P_4B`).
    ///
    /// # Errors
    ///
    /// [`InvoiceFactsError::Missing`] if absent, [`InvoiceFactsError::InvalidDate`] if it is not
    /// a `YYYY-MM-DD` date.
    pub fn issue_date(&self) -> Result<NaiveDate, InvoiceFactsError> {
        let text = self.required(Fact::IssueDate)?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| InvoiceFactsError::InvalidDate {
            root: self.root_name().to_owned(),
            element: Fact::IssueDate.element(self.body),
            value: text.to_owned(),
        })
    }

    fn root_name(&self) -> &str {
        if self.root.is_empty() {
            "Faktura"
        } else {
            &self.root
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FA: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<tns:Faktura xmlns:tns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <tns:Naglowek><tns:KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</tns:KodFormularza></tns:Naglowek>
  <tns:Podmiot1><tns:DaneIdentyfikacyjne><tns:NIP> 5265877635 </tns:NIP><tns:Nazwa>A &amp; B</tns:Nazwa></tns:DaneIdentyfikacyjne></tns:Podmiot1>
  <tns:Podmiot2><tns:DaneIdentyfikacyjne><tns:NIP>1111111111</tns:NIP></tns:DaneIdentyfikacyjne></tns:Podmiot2>
  <tns:Fa><tns:KodWaluty>PLN</tns:KodWaluty><tns:P_1>2026-02-01</tns:P_1><tns:P_2>FA/&#49;</tns:P_2>
    <tns:P_13_1>100.50</tns:P_13_1><tns:P_13_2>10</tns:P_13_2><tns:P_14_1>23.12</tns:P_14_1><tns:P_14_2>0.8</tns:P_14_2>
    <tns:P_15>134.42</tns:P_15><tns:RodzajFaktury>VAT</tns:RodzajFaktury>
    <tns:FaWiersz><tns:P_2>not the number</tns:P_2></tns:FaWiersz></tns:Fa>
  <tns:Zalacznik/>
</tns:Faktura>"#;

    #[test]
    fn reads_every_fact_by_local_name() {
        let facts = InvoiceFacts::read(FA).unwrap();
        assert_eq!(facts.root, "Faktura");
        assert_eq!(facts.body, InvoiceBody::Fa);
        let form_code = facts.form_code.clone().unwrap();
        assert_eq!(form_code.system_code.as_deref(), Some("FA (3)"));
        assert_eq!(form_code.schema_version.as_deref(), Some("1-0E"));
        assert_eq!(form_code.value, "FA");
        assert_eq!(facts.required(Fact::SellerNip).unwrap(), "5265877635");
        assert_eq!(facts.seller_name.as_deref(), Some("A & B"));
        assert_eq!(facts.required(Fact::BuyerNip).unwrap(), "1111111111");
        assert_eq!(facts.required(Fact::InvoiceNumber).unwrap(), "FA/1");
        assert_eq!(facts.required(Fact::Currency).unwrap(), "PLN");
        assert_eq!(facts.required(Fact::InvoiceType).unwrap(), "VAT");
        assert_eq!(
            facts.issue_date().unwrap(),
            NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
        );
        assert!((facts.net_amount - 110.50).abs() < 1e-9);
        assert!((facts.vat_amount - 23.92).abs() < 1e-9);
        assert!((facts.gross_amount - 134.42).abs() < 1e-9);
        assert!(facts.has_attachment);
        assert!(!facts.has_processing_instructions);
    }

    #[test]
    fn reads_fa_rr() {
        let xml = br#"<Faktura><Naglowek><KodFormularza kodSystemowy="FA_RR (1)" wersjaSchemy="1-1E">FA_RR</KodFormularza></Naglowek>
<Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP></DaneIdentyfikacyjne></Podmiot1>
<FakturaRR><P_4B>2026-01-02</P_4B><P_4C>RR/7</P_4C><P_11_1>100</P_11_1><P_11_2>7</P_11_2>
<P_12_1>50</P_12_1><P_12_1>57</P_12_1><RodzajFaktury>VAT_RR</RodzajFaktury></FakturaRR></Faktura>"#;
        let facts = InvoiceFacts::read(xml).unwrap();
        assert_eq!(facts.body, InvoiceBody::FakturaRr);
        assert_eq!(facts.required(Fact::InvoiceNumber).unwrap(), "RR/7");
        assert_eq!(facts.issue_date().unwrap().to_string(), "2026-01-02");
        assert_eq!(facts.invoice_type.as_deref(), Some("VAT_RR"));
        assert_eq!(facts.currency, None);
        assert_eq!(
            (facts.net_amount, facts.vat_amount, facts.gross_amount),
            (100.0, 7.0, 107.0)
        );
        assert!(!facts.has_attachment);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let facts =
            InvoiceFacts::read(b"<Faktura><Fa><P_1>01.02.2026</P_1></Fa></Faktura>").unwrap();
        assert_eq!(
            facts.required(Fact::SellerNip).unwrap_err().to_string(),
            "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP (the seller's NIP) is missing"
        );
        assert_eq!(
            facts.required(Fact::InvoiceNumber).unwrap_err(),
            InvoiceFactsError::Missing {
                fact: Fact::InvoiceNumber,
                root: "Faktura".to_owned(),
                element: "Fa/P_2",
            }
        );
        assert_eq!(
            facts.issue_date().unwrap_err().to_string(),
            r#"Faktura/Fa/P_1 "01.02.2026" is not a date (YYYY-MM-DD)"#
        );
        assert!(matches!(
            InvoiceFacts::read(b"<Faktura><Fa></Faktura>"),
            Err(InvoiceFactsError::Malformed { .. })
        ));
        assert!(matches!(
            InvoiceFacts::read(b"not xml"),
            Err(InvoiceFactsError::NoRoot)
        ));
        assert!(matches!(
            InvoiceFacts::read(b"<a/><b/>"),
            Err(InvoiceFactsError::SeveralRoots)
        ));
        assert!(matches!(
            InvoiceFacts::read(b"<Faktura><Fa>"),
            Err(InvoiceFactsError::NoRoot | InvoiceFactsError::Malformed { .. })
        ));
        assert!(matches!(
            InvoiceFacts::read(b"<Faktura>&nope;</Faktura>"),
            Err(InvoiceFactsError::Malformed { .. })
        ));
        let pi = InvoiceFacts::read(b"<?xml version=\"1.0\"?><?x y?><Faktura/>").unwrap();
        assert!(pi.has_processing_instructions);
        assert_eq!(pi.root, "Faktura");
    }
}
