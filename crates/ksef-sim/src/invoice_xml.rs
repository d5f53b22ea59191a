//! Invoice documents: the form codes the simulator accepts, schema-structure checks with the
//! generated types, and the few facts it reads from an invoice.

use ksef_model::validate::{Schema, validate_as};
use std::collections::HashMap;

use ksef_model::types::{FormCode, FormCodeParams};
use ksef_model::xml::{fa_rr1, fa2, fa3, from_xml};
use quick_xml::Reader;
use quick_xml::events::Event;

/// An invoice schema an online session can be opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum FormKind {
    Fa2,
    Fa3,
    FaRr1,
}

impl FormKind {
    /// The kind a session's `formCode` names, if the simulator supports it.
    pub(crate) fn from_form_code(code: &FormCode) -> Option<Self> {
        match (
            code.system_code.as_str(),
            code.schema_version.as_str(),
            code.value.as_str(),
        ) {
            ("FA (2)", "1-0E", "FA") => Some(FormKind::Fa2),
            ("FA (3)", "1-0E", "FA") => Some(FormKind::Fa3),
            ("FA_RR (1)", "1-1E", "FA_RR" | "RR") => Some(FormKind::FaRr1),
            _ => None,
        }
    }

    /// `systemCode`, e.g. `FA (3)`.
    pub(crate) fn system_code(self) -> &'static str {
        match self {
            FormKind::Fa2 => "FA (2)",
            FormKind::Fa3 => "FA (3)",
            FormKind::FaRr1 => "FA_RR (1)",
        }
    }

    /// `schemaVersion`.
    pub(crate) fn schema_version(self) -> &'static str {
        match self {
            FormKind::Fa2 | FormKind::Fa3 => "1-0E",
            FormKind::FaRr1 => "1-1E",
        }
    }

    /// The spec's `FormCode` of this kind.
    pub(crate) fn form_code(self) -> FormCode {
        let value = match self {
            FormKind::Fa2 | FormKind::Fa3 => "FA",
            FormKind::FaRr1 => "FA_RR",
        };
        FormCode::new(FormCodeParams {
            system_code: self.system_code().into(),
            schema_version: self.schema_version().into(),
            value: value.into(),
        })
    }

    /// `NazwaStrukturyLogicznej` of the UPO, e.g. `Schemat_FA(3)_v1-0E.xsd`.
    pub(crate) fn structure_name(self) -> String {
        format!(
            "Schemat_{}_v{}.xsd",
            self.system_code().replace(' ', ""),
            self.schema_version()
        )
    }

    /// Checks the document's structure against the generated types of this schema.
    fn check_structure(self, xml: &[u8]) -> Result<(), String> {
        let result = match self {
            FormKind::Fa2 => from_xml::<fa2::Faktura>(xml).map(drop),
            FormKind::Fa3 => from_xml::<fa3::Faktura>(xml).map(drop),
            FormKind::FaRr1 => from_xml::<fa_rr1::Faktura>(xml).map(drop),
        };
        result.map_err(|e| error_chain(&e))?;
        // Every facet of the schema (patterns, lengths, digits, enumerations, occurrences): the
        // same validation `ksef invoice validate` runs, generated from the XSDs.
        let schema = match self {
            FormKind::Fa2 => Schema::Fa2,
            FormKind::Fa3 => Schema::Fa3,
            FormKind::FaRr1 => Schema::FaRr1,
        };
        let report = validate_as(xml, schema).map_err(|e| e.to_string())?;
        if report.is_valid() {
            return Ok(());
        }
        let shown: Vec<String> = report
            .violations
            .iter()
            .take(MAX_VIOLATIONS_SHOWN)
            .map(ToString::to_string)
            .collect();
        let more = report.violations.len().saturating_sub(MAX_VIOLATIONS_SHOWN);
        Err(format!(
            "The document does not conform to the {schema} schema: {}{}",
            shown.join("; "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        ))
    }
}

/// Schema violations named in one rejection (the rest are counted).
const MAX_VIOLATIONS_SHOWN: usize = 5;

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What the simulator reads from an accepted invoice.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct InvoiceFacts {
    pub(crate) seller_nip: String,
    pub(crate) seller_name: Option<String>,
    pub(crate) buyer_nip: Option<String>,
    pub(crate) buyer_name: Option<String>,
    pub(crate) invoice_number: String,
    pub(crate) issue_date: String,
    pub(crate) currency: String,
    pub(crate) net: f64,
    pub(crate) vat: f64,
    pub(crate) gross: f64,
    /// `RodzajFaktury` as written, e.g. `VAT`, `KOR_ZAL`, `VAT_RR`.
    pub(crate) invoice_type: String,
    pub(crate) has_attachment: bool,
}

impl InvoiceFacts {
    /// What makes two invoices duplicates: seller NIP, invoice type and invoice number (the key
    /// of [`State::duplicates`](crate::state::State::duplicates)).
    pub(crate) fn duplicate_key(&self) -> (String, String, String) {
        (
            self.seller_nip.clone(),
            self.invoice_type.clone(),
            self.invoice_number.clone(),
        )
    }
}

/// Verifies an invoice for a session of `form` and reads its facts; the error text explains
/// why the invoice fails verification (status 430).
pub(crate) fn verify(xml: &[u8], form: FormKind) -> Result<InvoiceFacts, String> {
    if xml.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err("The document starts with a byte order mark.".to_owned());
    }
    if std::str::from_utf8(xml).is_err() {
        return Err("The document is not valid UTF-8.".to_owned());
    }
    let fields = read_fields(xml)?;
    let attr = |name: &str| fields.attributes.get(name).map(String::as_str);
    if attr("kodSystemowy") != Some(form.system_code())
        || attr("wersjaSchemy") != Some(form.schema_version())
    {
        return Err(format!(
            "The document's KodFormularza ({} {}) does not match the session's form code {} {}.",
            attr("kodSystemowy").unwrap_or("?"),
            attr("wersjaSchemy").unwrap_or("?"),
            form.system_code(),
            form.schema_version()
        ));
    }
    form.check_structure(xml)?;
    let first = |path: &str| fields.values.get(path).and_then(|v| v.first()).cloned();
    let sum = |prefix: &str, names: &[&str]| -> f64 {
        names
            .iter()
            .filter_map(|n| fields.values.get(&format!("{prefix}/{n}")))
            .flatten()
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .sum()
    };
    let required = |path: &str| first(path).ok_or_else(|| format!("Missing element {path}."));
    let seller_nip = required("Podmiot1/DaneIdentyfikacyjne/NIP")?;
    let facts = match form {
        FormKind::Fa2 | FormKind::Fa3 => InvoiceFacts {
            seller_name: first("Podmiot1/DaneIdentyfikacyjne/Nazwa"),
            buyer_nip: first("Podmiot2/DaneIdentyfikacyjne/NIP"),
            buyer_name: first("Podmiot2/DaneIdentyfikacyjne/Nazwa"),
            invoice_number: required("Fa/P_2")?,
            issue_date: required("Fa/P_1")?,
            currency: required("Fa/KodWaluty")?,
            net: sum(
                "Fa",
                &[
                    "P_13_1", "P_13_2", "P_13_3", "P_13_4", "P_13_5", "P_13_6_1", "P_13_6_2",
                    "P_13_6_3", "P_13_7", "P_13_8", "P_13_9", "P_13_10", "P_13_11",
                ],
            ),
            vat: sum("Fa", &["P_14_1", "P_14_2", "P_14_3", "P_14_4", "P_14_5"]),
            gross: first("Fa/P_15")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.0),
            invoice_type: required("Fa/RodzajFaktury")?,
            has_attachment: fields.values.keys().any(|k| k.starts_with("Zalacznik")),
            seller_nip,
        },
        FormKind::FaRr1 => InvoiceFacts {
            seller_name: first("Podmiot1/DaneIdentyfikacyjne/Nazwa"),
            buyer_nip: first("Podmiot2/DaneIdentyfikacyjne/NIP"),
            buyer_name: first("Podmiot2/DaneIdentyfikacyjne/Nazwa"),
            invoice_number: required("FakturaRR/P_4C")?,
            issue_date: required("FakturaRR/P_4B")?,
            currency: first("FakturaRR/KodWaluty").unwrap_or_else(|| "PLN".to_owned()),
            net: sum("FakturaRR", &["P_11_1"]),
            vat: sum("FakturaRR", &["P_11_2"]),
            gross: sum("FakturaRR", &["P_12_1"]),
            invoice_type: required("FakturaRR/RodzajFaktury")?,
            has_attachment: false,
            seller_nip,
        },
    };
    if chrono::NaiveDate::parse_from_str(&facts.issue_date, "%Y-%m-%d").is_err() {
        return Err(format!("Invalid issue date {}.", facts.issue_date));
    }
    Ok(facts)
}

/// Element texts by path below the root (`Fa/P_2`), and the attributes of `KodFormularza`.
#[derive(Default)]
struct Fields {
    values: HashMap<String, Vec<String>>,
    attributes: HashMap<String, String>,
}

fn read_fields(xml: &[u8]) -> Result<Fields, String> {
    let mut reader = Reader::from_reader(xml);
    let mut fields = Fields::default();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut roots = 0;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "The document is not well-formed XML: {e} (at byte {}).",
                reader.buffer_position()
            )
        })?;
        match event {
            Event::Start(start) | Event::Empty(start) if stack.is_empty() && roots > 0 => {
                drop(start);
                return Err("The document has more than one root element.".to_owned());
            }
            Event::Start(start) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if name == "KodFormularza" {
                    for attribute in start.attributes().flatten() {
                        let key = String::from_utf8_lossy(attribute.key.local_name().as_ref())
                            .into_owned();
                        let value = String::from_utf8_lossy(&attribute.value).into_owned();
                        fields.attributes.insert(key, value);
                    }
                }
                stack.push(name);
                text.clear();
            }
            Event::Empty(start) => {
                if stack.is_empty() {
                    roots += 1;
                }
                drop(start);
            }
            Event::Text(t) => {
                text.push_str(&String::from_utf8_lossy(t.as_ref()));
            }
            Event::CData(t) => {
                text.push_str(&String::from_utf8_lossy(t.as_ref()));
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                text.push_str(match name.as_str() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(_) => {
                if stack.len() > 1 {
                    // Below the root (index 0), which the length check guarantees exists.
                    let path = stack[1..].join("/");
                    fields
                        .values
                        .entry(path)
                        .or_default()
                        .push(text.trim().to_owned());
                }
                stack.pop();
                text.clear();
            }
            Event::PI(_) => return Err("Processing instructions are not allowed.".to_owned()),
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if roots == 0 || !stack.is_empty() {
        return Err("The document has no complete root element.".to_owned());
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::{FormKind, verify};

    /// The Ministry's template `name`, from `$KSEF_SPEC_DIR/invoice-templates/` (by default the
    /// repository's `fixtures/ksef-spec/`), placeholders filled.
    fn template(name: &str) -> Vec<u8> {
        let path = std::env::var_os("KSEF_SPEC_DIR")
            .map_or_else(
                || {
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../fixtures/ksef-spec")
                },
                std::path::PathBuf::from,
            )
            .join("invoice-templates")
            .join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set KSEF_SPEC_DIR)", path.display()))
            .replace("#nip#", "5265877635")
            .replace("#buyer_nip#", "1111111111")
            .replace("#invoice_number#", "T-1")
            .into_bytes()
    }

    #[test]
    fn official_templates_verify_and_yield_their_facts() {
        let fa3 = verify(&template("invoice-template-fa-3.xml"), FormKind::Fa3).unwrap();
        assert_eq!(fa3.seller_nip, "5265877635");
        assert_eq!(fa3.invoice_number, "FA/GRQMB-T-1/05/2025");
        assert_eq!(fa3.invoice_type, "VAT");
        assert_eq!((fa3.net, fa3.vat, fa3.gross), (43.60, 10.03, 53.63));
        let fa2 = verify(&template("invoice-template-fa-2.xml"), FormKind::Fa2).unwrap();
        assert_eq!(fa2.invoice_type, "VAT");
        let rr = verify(&template("invoice-template-fa-rr-1.xml"), FormKind::FaRr1).unwrap();
        assert_eq!(rr.invoice_number, "T-1");
        assert_eq!(rr.invoice_type, "VAT_RR");
        assert_eq!(rr.gross, 2140.00);
    }

    #[test]
    fn form_code_and_structure_mismatches_are_refused() {
        assert!(verify(&template("invoice-template-fa-3.xml"), FormKind::Fa2).is_err());
        assert!(verify(b"<Faktura/>", FormKind::Fa3).is_err());
        assert!(verify(b"not xml", FormKind::Fa3).is_err());
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend(template("invoice-template-fa-3.xml"));
        assert!(verify(&bom, FormKind::Fa3).is_err());
        let missing = String::from_utf8(template("invoice-template-fa-3.xml"))
            .unwrap()
            .replace("<P_15>53.63</P_15>", "");
        assert!(verify(missing.as_bytes(), FormKind::Fa3).is_err());
    }

    #[test]
    fn structure_names_follow_the_upo_convention() {
        assert_eq!(FormKind::Fa3.structure_name(), "Schemat_FA(3)_v1-0E.xsd");
        assert_eq!(
            FormKind::FaRr1.structure_name(),
            "Schemat_FA_RR(1)_v1-1E.xsd"
        );
    }
}
