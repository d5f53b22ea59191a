//! Offline validation of FA(2), FA(3) and FA_RR(1) invoices, before they are sent to KSeF
//! (feature `validate`).
//!
//! [`validate_invoice`] picks the schema from the namespace of the root `Faktura` element, streams
//! the document once and checks it against tables generated from the Ministry's XSDs by
//! `cargo xtask codegen`: which child elements may appear, in which order and how many times,
//! namespaces, attributes (unknown, missing, fixed values), and every facet of every simple value
//! (pattern, length, enumeration, digits, ranges, the builtin type's own syntax, after the XSD
//! whitespace normalisation). Its verdict is meant to agree with `xmllint --schema` on the same
//! schema; the test suite checks that on every official template and on hundreds of mutated ones.
//! It does not need the (large) generated invoice types.
//!
//! [`check_business`] adds checks KSeF or the law applies beyond the schema (NIP and PESEL check
//! digits, the invoice date, size limits, the session's form code) and [`find_duplicates`] finds
//! invoices of a batch that share the key KSeF treats as a duplicate.
//!
//! ## Paths
//!
//! A [`Violation`]'s path lists local element names from the root, separated by `/`
//! (`Faktura/Fa/FaWiersz[3]/P_8B`). An element the schema lets repeat (its own `maxOccurs` or an
//! enclosing group's is above 1) always carries its 1-based position among its same-named
//! siblings, `[1]` included; an element that can occur only once never does. A violation of an
//! attribute ends in `/@name`.
//!
//! ```
//! use ksef_model::validate::{validate_invoice, Rule, Schema};
//!
//! let xml = br#"<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
//!   <Naglowek>
//!     <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
//!     <WariantFormularza>4</WariantFormularza>
//!   </Naglowek>
//! </Faktura>"#;
//! let report = validate_invoice(xml)?;
//! assert_eq!(report.schema, Schema::Fa3);
//! assert!(!report.is_valid());
//! let first = &report.violations[0];
//! assert_eq!(first.path, "Faktura/Naglowek/WariantFormularza");
//! assert!(matches!(first.rule, Rule::Enumeration { .. }));
//! println!("{first}"); // Faktura/Naglowek/WariantFormularza: value "4" is not one of: 3
//! # Ok::<(), ksef_model::validate::ValidateError>(())
//! ```

mod business;
mod engine;
mod simple;
pub(crate) mod tables;

use std::fmt;

pub use business::{
    BusinessOptions, DuplicateKey, SIZE_LIMIT, SIZE_LIMIT_WITH_ATTACHMENTS, check_business,
    find_duplicates, invoice_key, validate_with_business,
};

use crate::generated::validate as gen_tables;

/// The invoice schemas the validator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schema {
    /// FA(2), schema 1-0E.
    Fa2,
    /// FA(3), schema 1-0E.
    Fa3,
    /// FA_RR(1), schema 1-1E.
    FaRr1,
}

impl Schema {
    /// Every schema.
    pub const ALL: [Schema; 3] = [Schema::Fa2, Schema::Fa3, Schema::FaRr1];

    /// Namespace of the root element.
    pub fn namespace(self) -> &'static str {
        self.tables().namespace
    }

    /// The form code KSeF knows the schema by (`kodSystemowy`, e.g. `FA (3)`).
    pub fn system_code(self) -> &'static str {
        match self {
            Schema::Fa2 => "FA (2)",
            Schema::Fa3 => "FA (3)",
            Schema::FaRr1 => "FA_RR (1)",
        }
    }

    /// The schema version (`wersjaSchemy`, e.g. `1-0E`).
    pub fn schema_version(self) -> &'static str {
        match self {
            Schema::Fa2 | Schema::Fa3 => "1-0E",
            Schema::FaRr1 => "1-1E",
        }
    }

    pub(crate) fn tables(self) -> &'static tables::SchemaTables {
        match self {
            Schema::Fa2 => &gen_tables::fa2::SCHEMA,
            Schema::Fa3 => &gen_tables::fa3::SCHEMA,
            Schema::FaRr1 => &gen_tables::fa_rr1::SCHEMA,
        }
    }

    fn by_namespace(ns: &str) -> Option<Schema> {
        Schema::ALL.into_iter().find(|s| s.namespace() == ns)
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schema::Fa2 => "FA(2)",
            Schema::Fa3 => "FA(3)",
            Schema::FaRr1 => "FA_RR(1)",
        })
    }
}

/// The outcome of validating one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The schema the document was checked against.
    pub schema: Schema,
    /// What is wrong, in document order (empty when the document is valid).
    pub violations: Vec<Violation>,
}

impl Report {
    /// No violations.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where (see the module docs for the path syntax).
    pub path: String,
    /// Which rule, with the facet's value.
    pub rule: Rule,
    /// The offending value (whitespace-normalised), when there is one.
    pub value: Option<String>,
}

/// The rule a [`Violation`] breaks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// The value does not match the pattern (shown as written in the XSD).
    Pattern {
        /// XSD pattern.
        pattern: &'static str,
    },
    /// The value must have exactly this many characters.
    Length(u32),
    /// The value needs at least this many characters.
    MinLength(u32),
    /// The value may have at most this many characters.
    MaxLength(u32),
    /// The value is not one of the allowed values.
    Enumeration {
        /// The allowed values.
        allowed: &'static [&'static str],
    },
    /// More significant digits than allowed.
    TotalDigits(u32),
    /// More digits after the decimal point than allowed.
    FractionDigits(u32),
    /// Below the minimum.
    MinInclusive(&'static str),
    /// Above the maximum.
    MaxInclusive(&'static str),
    /// Not above the exclusive minimum.
    MinExclusive(&'static str),
    /// Not below the exclusive maximum.
    MaxExclusive(&'static str),
    /// Not a value of the type at all (a number, a date, …).
    Datatype {
        /// The type.
        ty: &'static str,
    },
    /// The element or attribute has a fixed value and this is not it.
    Fixed {
        /// The only allowed value.
        expected: &'static str,
    },
    /// A required element is missing.
    MissingElement {
        /// The elements that could come here.
        expected: Vec<&'static str>,
    },
    /// An element the parent does not allow (here or at all).
    UnexpectedElement {
        /// The elements that could come here instead (empty: no more elements).
        expected: Vec<&'static str>,
    },
    /// An element allowed in the parent, but not at this position.
    WrongOrder {
        /// The elements that could come here.
        expected: Vec<&'static str>,
    },
    /// The element occurs more often than allowed in a row.
    TooManyOccurrences {
        /// `maxOccurs`.
        max: u32,
    },
    /// The element's name is right but its namespace is not.
    WrongNamespace {
        /// The namespace the schema wants.
        expected: &'static str,
        /// The namespace found.
        found: String,
    },
    /// A required attribute is missing.
    MissingAttribute {
        /// Its name.
        name: &'static str,
    },
    /// An attribute the element does not declare.
    UnexpectedAttribute {
        /// Its name (`{namespace}name` when qualified).
        name: String,
    },
    /// Text where only child elements may appear.
    UnexpectedText,
    /// Business check: the NIP's check digit is wrong.
    NipChecksum,
    /// Business check: the PESEL's check digit is wrong.
    PeselChecksum,
    /// Business check: the invoice date is after the given "today".
    DateInFuture {
        /// The reference date.
        today: String,
    },
    /// Business check: the document is larger than KSeF accepts.
    SizeLimit {
        /// The limit in bytes.
        limit: usize,
        /// The document's size in bytes.
        size: usize,
    },
    /// Business check: the document's form is not the session's.
    FormCode {
        /// The schema the session uses.
        expected: Schema,
        /// The schema of the document.
        found: Schema,
    },
}

fn list(names: &[&str]) -> String {
    const SHOWN: usize = 12;
    let mut out = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(", … ({} values)", names.len()));
    }
    out
}

impl Rule {
    /// A stable name of the rule for machine-readable output (`pattern`, `maxLength`,
    /// `missingElement`, `nipChecksum`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Pattern { .. } => "pattern",
            Rule::Length { .. } => "length",
            Rule::MinLength { .. } => "minLength",
            Rule::MaxLength { .. } => "maxLength",
            Rule::Enumeration { .. } => "enumeration",
            Rule::TotalDigits { .. } => "totalDigits",
            Rule::FractionDigits { .. } => "fractionDigits",
            Rule::MinInclusive { .. } => "minInclusive",
            Rule::MaxInclusive { .. } => "maxInclusive",
            Rule::MinExclusive { .. } => "minExclusive",
            Rule::MaxExclusive { .. } => "maxExclusive",
            Rule::Datatype { .. } => "datatype",
            Rule::Fixed { .. } => "fixed",
            Rule::MissingElement { .. } => "missingElement",
            Rule::UnexpectedElement { .. } => "unexpectedElement",
            Rule::WrongOrder { .. } => "wrongOrder",
            Rule::TooManyOccurrences { .. } => "tooManyOccurrences",
            Rule::WrongNamespace { .. } => "wrongNamespace",
            Rule::MissingAttribute { .. } => "missingAttribute",
            Rule::UnexpectedAttribute { .. } => "unexpectedAttribute",
            Rule::UnexpectedText => "unexpectedText",
            Rule::NipChecksum => "nipChecksum",
            Rule::PeselChecksum => "peselChecksum",
            Rule::DateInFuture { .. } => "dateInFuture",
            Rule::SizeLimit { .. } => "sizeLimit",
            Rule::FormCode { .. } => "formCode",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        let value = self.value.as_deref().unwrap_or_default();
        match &self.rule {
            Rule::Pattern { pattern } => {
                write!(f, "value {value:?} does not match the pattern {pattern}")
            }
            Rule::Length(n) => write!(
                f,
                "value {value:?} has {} characters; exactly {n} are required",
                value.chars().count()
            ),
            Rule::MinLength(n) => write!(f, "value {value:?} is shorter than {n} characters"),
            Rule::MaxLength(n) => write!(f, "value {value:?} is longer than {n} characters"),
            Rule::Enumeration { allowed } => {
                write!(f, "value {value:?} is not one of: {}", list(allowed))
            }
            Rule::TotalDigits(n) => write!(f, "value {value:?} has more than {n} digits"),
            Rule::FractionDigits(n) => write!(
                f,
                "value {value:?} has more than {n} digits after the decimal point"
            ),
            Rule::MinInclusive(b) => write!(f, "value {value:?} is below the minimum {b}"),
            Rule::MaxInclusive(b) => write!(f, "value {value:?} is above the maximum {b}"),
            Rule::MinExclusive(b) => write!(f, "value {value:?} must be greater than {b}"),
            Rule::MaxExclusive(b) => write!(f, "value {value:?} must be less than {b}"),
            Rule::Datatype { ty } => write!(f, "value {value:?} is not a valid {ty}"),
            Rule::Fixed { expected } => {
                write!(f, "value {value:?} must be exactly {expected:?}")
            }
            Rule::MissingElement { expected } => {
                write!(
                    f,
                    "a required element is missing; expected {}",
                    list(expected)
                )
            }
            Rule::UnexpectedElement { expected } if expected.is_empty() => {
                write!(f, "element not allowed here; no more elements are expected")
            }
            Rule::UnexpectedElement { expected } => {
                write!(f, "element not allowed here; expected {}", list(expected))
            }
            Rule::WrongOrder { expected } => write!(
                f,
                "element in the wrong place; expected {} here",
                list(expected)
            ),
            Rule::TooManyOccurrences { max } => {
                write!(f, "element repeated more than {max} times")
            }
            Rule::WrongNamespace { expected, found } => write!(
                f,
                "element in namespace {found:?}; expected namespace {expected:?}"
            ),
            Rule::MissingAttribute { name } => write!(f, "required attribute {name} is missing"),
            Rule::UnexpectedAttribute { name } => write!(f, "attribute {name} is not allowed"),
            Rule::UnexpectedText => write!(f, "text {value:?} is not allowed, only elements"),
            Rule::NipChecksum => write!(f, "NIP {value:?} has a wrong check digit"),
            Rule::PeselChecksum => write!(f, "PESEL {value:?} has a wrong check digit"),
            Rule::DateInFuture { today } => {
                write!(f, "invoice date {value:?} is later than today ({today})")
            }
            Rule::SizeLimit { limit, size } => write!(
                f,
                "the invoice has {size} bytes; KSeF accepts at most {limit}"
            ),
            Rule::FormCode { expected, found } => write!(
                f,
                "the invoice is {found} but the session expects {expected}"
            ),
        }
    }
}

/// The document could not be validated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// Not well-formed XML (or not UTF-8).
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// The root element is not the `Faktura` of a known invoice schema.
    #[error("unknown document: root element {root} is not the Faktura of FA(2), FA(3) or FA_RR(1)")]
    UnknownForm {
        /// The root found, as `{namespace}name`.
        root: String,
    },
    /// No root element.
    #[error("the document has no root element")]
    Empty,
}

/// Validates an invoice (FA(2), FA(3) or FA_RR(1), chosen by the root element's namespace)
/// against its schema.
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed or is not one of these invoices; every
/// schema violation is in the [`Report`] instead.
pub fn validate_invoice(xml: &[u8]) -> Result<Report, ValidateError> {
    engine::validate(xml, None)
}

/// Like [`validate_invoice`], but for a given schema: a document of another one is reported as a
/// wrong namespace of its root.
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed.
pub fn validate_as(xml: &[u8], schema: Schema) -> Result<Report, ValidateError> {
    engine::validate(xml, Some(schema))
}

/// The schema of an invoice, from its root element's namespace (reads only up to the root).
///
/// # Errors
///
/// [`ValidateError`] when the document is not well-formed up to its root, or not an invoice.
pub fn detect_schema(xml: &[u8]) -> Result<Schema, ValidateError> {
    engine::detect(xml)
}
