//! Checks beyond the schema that KSeF or the law applies: identifiers' check digits, the invoice
//! date, the size limits, the session's form, duplicates within a batch.

use chrono::NaiveDate;

use super::engine::{Collected, validate_collecting};
use super::{Report, Rule, Schema, ValidateError, Violation, detect_schema};
use crate::invoice_facts::{InvoiceFacts, InvoiceFactsError};
use crate::values::{Nip, Pesel};

/// KSeF's size limit of an invoice without attachments (decimal megabyte).
pub const SIZE_LIMIT: usize = 1_000_000;
/// KSeF's size limit of an invoice with attachments (`Zalacznik`).
pub const SIZE_LIMIT_WITH_ATTACHMENTS: usize = 3_000_000;

/// What [`check_business`] compares against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BusinessOptions {
    /// "Today" for the invoice date check (`P_1` must not be later); `None` skips the check. The
    /// caller supplies it: this module never reads a clock.
    pub today: Option<NaiveDate>,
    /// The schema of the session the invoice goes to; `None` skips the check.
    pub expected_schema: Option<Schema>,
}

impl BusinessOptions {
    /// Checks the invoice date against `today`.
    pub fn with_today(mut self, today: NaiveDate) -> Self {
        self.today = Some(today);
        self
    }

    /// Checks the invoice's form against the session's.
    pub fn with_expected_schema(mut self, schema: Schema) -> Self {
        self.expected_schema = Some(schema);
        self
    }
}

/// Business checks of one invoice: NIP and PESEL check digits wherever the document holds one (no
/// element of FA(2), FA(3) or FA_RR(1) is named `PESEL` today; the check is there for schemas that
/// reuse the base structures that have one), the
/// invoice date (`P_1`) not after `options.today`, the size limit (1 MB, or 3 MB when the invoice
/// has attachments) and the session's form. Schema violations are not repeated here (see
/// [`validate_invoice`](super::validate_invoice)); values that break their pattern are left to it.
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed or not an invoice.
pub fn check_business(
    xml: &[u8],
    options: &BusinessOptions,
) -> Result<Vec<Violation>, ValidateError> {
    validate_with_business(xml, options).map(|(_, business)| business)
}

/// [`validate_invoice`](super::validate_invoice) and [`check_business`] in one pass over the
/// document: the schema report, and the business violations (which never repeat the schema's).
/// Callers that want both (`ksef invoice validate`, the PDF visualization) read the document
/// once instead of twice.
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed or not an invoice.
pub fn validate_with_business(
    xml: &[u8],
    options: &BusinessOptions,
) -> Result<(Report, Vec<Violation>), ValidateError> {
    let (report, values) = validate_collecting(xml, None, true)?;
    let mut out = Vec::new();
    let root = "Faktura".to_owned();
    if let Some(expected) = options.expected_schema
        && expected != report.schema
    {
        out.push(Violation {
            path: root.clone(),
            rule: Rule::FormCode {
                expected,
                found: report.schema,
            },
            value: Some(report.schema.system_code().to_owned()),
        });
    }
    let with_attachments = values.iter().any(|c| c.name == "Zalacznik");
    let limit = if with_attachments {
        SIZE_LIMIT_WITH_ATTACHMENTS
    } else {
        SIZE_LIMIT
    };
    if xml.len() > limit {
        out.push(Violation {
            path: root,
            rule: Rule::SizeLimit {
                limit,
                size: xml.len(),
            },
            value: None,
        });
    }
    for Collected { path, name, value } in values {
        let rule = match name {
            "NIP" => Nip::parse_wire(&value)
                .ok()
                .filter(|nip| !nip.has_valid_check_digit())
                .map(|_| Rule::NipChecksum),
            "PESEL" => Pesel::parse_wire(&value)
                .ok()
                .filter(|p| !p.has_valid_check_digit())
                .map(|_| Rule::PeselChecksum),
            "P_1" => match (options.today, NaiveDate::parse_from_str(&value, "%Y-%m-%d")) {
                (Some(today), Ok(date)) if date > today && path.ends_with("Fa/P_1") => {
                    Some(Rule::DateInFuture {
                        today: today.to_string(),
                    })
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(rule) = rule {
            out.push(Violation {
                path,
                rule,
                value: Some(value),
            });
        }
    }
    Ok((report, out))
}

/// The key KSeF treats as identifying an invoice: seller NIP, invoice type, invoice number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DuplicateKey {
    /// `Podmiot1/DaneIdentyfikacyjne/NIP`.
    pub seller_nip: String,
    /// `Fa/RodzajFaktury` (`FakturaRR/RodzajFaktury`).
    pub kind: String,
    /// `Fa/P_2` (`FakturaRR/P_4C`).
    pub number: String,
}

/// The duplicate key of one invoice, or `None` when one of its parts is missing.
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed or not an invoice.
pub fn invoice_key(xml: &[u8]) -> Result<Option<DuplicateKey>, ValidateError> {
    detect_schema(xml)?;
    let facts = InvoiceFacts::read(xml).map_err(|error| match error {
        InvoiceFactsError::Malformed { position, message } => {
            let (line, column) = line_and_column(xml, position);
            ValidateError::Malformed {
                line,
                column,
                message,
            }
        }
        InvoiceFactsError::NoRoot => ValidateError::Empty,
        other => ValidateError::Malformed {
            line: 1,
            column: 1,
            message: other.to_string(),
        },
    })?;
    Ok(
        match (facts.seller_nip, facts.invoice_type, facts.invoice_number) {
            (Some(seller_nip), Some(kind), Some(number)) => Some(DuplicateKey {
                seller_nip,
                kind,
                number,
            }),
            _ => None,
        },
    )
}

/// The 1-based line and column (in bytes) of byte `position` of `xml`.
fn line_and_column(xml: &[u8], position: u64) -> (usize, usize) {
    let before = &xml[..usize::try_from(position).map_or(xml.len(), |p| p.min(xml.len()))];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// Invoices of a batch that share their [`DuplicateKey`]: each group lists the positions (0-based,
/// in `invoices` order) of the invoices with that key, for every key held by more than one.
/// Invoices that cannot be read or lack a part of the key are left out.
pub fn find_duplicates<'a, I>(invoices: I) -> Vec<(DuplicateKey, Vec<usize>)>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut groups: std::collections::BTreeMap<DuplicateKey, Vec<usize>> = Default::default();
    for (i, xml) in invoices.into_iter().enumerate() {
        if let Ok(Some(key)) = invoice_key(xml) {
            groups.entry(key).or_default().push(i);
        }
    }
    groups.into_iter().filter(|(_, v)| v.len() > 1).collect()
}
