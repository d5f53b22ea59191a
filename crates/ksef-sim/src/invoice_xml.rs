//! Invoice documents: the form codes the simulator accepts, schema-structure checks with the
//! generated types, and the few facts it keeps of an invoice (read by `ksef_model::invoice_facts`).

use ksef_model::invoice_facts::{Fact, InvoiceFacts as Read, InvoiceFactsError};
use ksef_model::types::{FormCode, FormCodeParams};
use ksef_model::validate::{Schema, validate_as};
use ksef_model::xml::{fa_rr1, fa2, fa3, from_xml};

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

/// What the simulator keeps of an accepted invoice (read by [`ksef_model::invoice_facts`]).
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
    let read = Read::read(xml).map_err(|e| match e {
        InvoiceFactsError::Malformed { position, message } => {
            format!("The document is not well-formed XML: {message} (at byte {position}).")
        }
        InvoiceFactsError::SeveralRoots => {
            "The document has more than one root element.".to_owned()
        }
        InvoiceFactsError::NoRoot => "The document has no complete root element.".to_owned(),
        other => format!("{other}."),
    })?;
    if read.has_processing_instructions {
        return Err("Processing instructions are not allowed.".to_owned());
    }
    let declared = read.form_code.clone().unwrap_or_default();
    if declared.system_code.as_deref() != Some(form.system_code())
        || declared.schema_version.as_deref() != Some(form.schema_version())
    {
        return Err(format!(
            "The document's KodFormularza ({} {}) does not match the session's form code {} {}.",
            declared.system_code.as_deref().unwrap_or("?"),
            declared.schema_version.as_deref().unwrap_or("?"),
            form.system_code(),
            form.schema_version()
        ));
    }
    form.check_structure(xml)?;
    let required = |fact: Fact| {
        read.required(fact)
            .map(str::to_owned)
            .map_err(|_| format!("Missing element {}.", fact.element(read.body)))
    };
    let facts = InvoiceFacts {
        seller_nip: required(Fact::SellerNip)?,
        seller_name: read.seller_name.clone(),
        buyer_nip: read.buyer_nip.clone(),
        buyer_name: read.buyer_name.clone(),
        invoice_number: required(Fact::InvoiceNumber)?,
        issue_date: required(Fact::IssueDate)?,
        currency: match form {
            FormKind::FaRr1 => read.currency.clone().unwrap_or_else(|| "PLN".to_owned()),
            FormKind::Fa2 | FormKind::Fa3 => required(Fact::Currency)?,
        },
        net: read.net_amount,
        vat: read.vat_amount,
        gross: read.gross_amount,
        invoice_type: required(Fact::InvoiceType)?,
        has_attachment: read.has_attachment,
    };
    if chrono::NaiveDate::parse_from_str(&facts.issue_date, "%Y-%m-%d").is_err() {
        return Err(format!("Invalid issue date {}.", facts.issue_date));
    }
    Ok(facts)
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
