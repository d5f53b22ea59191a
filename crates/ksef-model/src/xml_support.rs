//! Reading and writing the XML documents of [`crate::xml`], and the exact [`Decimal`] their amounts
//! use.
//!
//! Hand-written support for the generated XML modules: [`from_xml`] and [`to_xml`] wrap the
//! generated quick-xml (de)serializers of any [`XmlDocument`] (the root element types of the
//! generated modules), and [`XmlError`] reports their failures without exposing the generator's
//! runtime types.

use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;

use quick_xml::NsReader;
use quick_xml::events::{BytesDecl, Event};
use quick_xml::name::ResolveResult;
use xsd_parser_types::quick_xml::{
    DeserializeBytesFromStr, DeserializeSync, SerializeBytesToString, SerializeSync, SliceReader,
    WithDeserializer, WithSerializer, Writer,
};

/// A whole XML document type: the root element of one of the generated schemas
/// (for example `fa3::Faktura`, `upo_v4_3::Potwierdzenie`, `auth_v2_1::AuthTokenRequest`).
///
/// Implemented by the generated code; [`from_xml`] and [`to_xml`] accept only these types, so a
/// fragment can never be written out as if it were a document.
pub trait XmlDocument: WithSerializer + WithDeserializer {
    /// Local name of the root element, e.g. `"Faktura"`.
    const ROOT: &'static str;
    /// Namespace URI of the root element; [`to_xml`] declares it as the default namespace.
    const NAMESPACE: &'static str;
}

/// Parses an XML document into its generated type.
///
/// The input is UTF-8 XML with or without the XML declaration. The structure (elements, their
/// order and cardinality, attributes) is checked against the schema the type was generated from;
/// value facets (patterns, lengths, enumerations of free-text types) are not.
///
/// ```
/// use ksef_model::xml::{from_xml, upo_v4_3::Potwierdzenie};
///
/// let xml = r#"<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">
///   <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>
/// </Potwierdzenie>"#;
/// // Incomplete: the receipt lacks its required elements.
/// assert!(from_xml::<Potwierdzenie>(xml.as_bytes()).is_err());
/// ```
///
/// # Errors
///
/// [`XmlError::UnexpectedRoot`] if the root element is not `T`'s (by namespace and name);
/// [`XmlError::Read`] if the input is not well-formed XML or does not have the structure of `T`.
pub fn from_xml<T: XmlDocument>(xml: &[u8]) -> Result<T, XmlError> {
    // The generated deserializers match unprefixed elements by local name only, whatever default
    // namespace is in scope; checking the root's expanded name keeps, say, a UPO v4-2 or an
    // AuthTokenRequest 2.0 from being read as the other version.
    if let Some((namespace, local_name)) = root_element(xml)
        && (namespace.as_deref() != Some(T::NAMESPACE) || local_name != T::ROOT)
    {
        return Err(XmlError::UnexpectedRoot {
            expected: T::ROOT,
            expected_namespace: T::NAMESPACE,
            found: local_name,
            found_namespace: namespace,
        });
    }
    if let Some(position) = cdata_end_in_text(xml) {
        return Err(XmlError::Read {
            root: T::ROOT,
            position: Some(position),
            path: Vec::new(),
            source: Box::new(NotWellFormed("`]]>` in character data")),
        });
    }
    let mut reader = SliceReader::from_bytes(xml);
    <T as DeserializeSync<'_, SliceReader<'_>>>::deserialize(&mut reader).map_err(|err| {
        XmlError::Read {
            root: T::ROOT,
            position: err.position,
            path: err.elements.clone().unwrap_or_default(),
            source: Box::new(err),
        }
    })
}

/// Why a document is not well-formed XML, where the parser underneath does not say so itself.
#[derive(Debug)]
struct NotWellFormed(&'static str);

impl fmt::Display for NotWellFormed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not well-formed XML: {}", self.0)
    }
}

impl StdError for NotWellFormed {}

/// The byte offset of a `]]>` in character data, which XML forbids (the parser underneath lets it
/// through, and the writer then refuses the value). Outside CDATA sections, comments and
/// processing instructions only; the common case, no `]]>` at all, costs one scan.
fn cdata_end_in_text(xml: &[u8]) -> Option<u64> {
    if !xml.windows(3).any(|w| w == b"]]>") {
        return None;
    }
    let mut reader = quick_xml::Reader::from_reader(xml);
    loop {
        let before = reader.buffer_position();
        match reader.read_event() {
            Ok(Event::Text(text)) => {
                if let Some(i) = text.windows(3).position(|w| w == b"]]>") {
                    return Some(before + i as u64);
                }
            }
            // Other errors are reported by the deserializer with their context.
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The namespace URI and local name of the first element, or `None` if the input breaks off (or
/// is not XML) before one: the deserializer then reports the error with its position.
fn root_element(xml: &[u8]) -> Option<(Option<String>, String)> {
    let mut reader = NsReader::from_reader(xml);
    loop {
        match reader.read_resolved_event().ok()? {
            (namespace, Event::Start(start) | Event::Empty(start)) => {
                let namespace = match namespace {
                    ResolveResult::Bound(ns) => {
                        Some(String::from_utf8_lossy(ns.as_ref()).into_owned())
                    }
                    ResolveResult::Unbound | ResolveResult::Unknown(_) => None,
                };
                let local_name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                return Some((namespace, local_name));
            }
            (_, Event::Eof) => return None,
            _ => {}
        }
    }
}

/// Writes a document as UTF-8 XML, with the XML declaration, the root element in its schema's
/// namespace declared as the default namespace (`<Faktura xmlns="http://crd.gov.pl/wzor/…">`),
/// and no indentation.
///
/// ```
/// use ksef_model::xml::auth_v2_1::{
///     AuthTokenRequest, SubjectIdentifierTypeEnumType, TContextIdentifierType,
/// };
/// use ksef_model::xml::to_xml;
///
/// let request = AuthTokenRequest {
///     challenge: "20250625-CR-20F5EE4000-DA48AE4124-46".to_owned(),
///     context_identifier: TContextIdentifierType::Nip("5265877635".to_owned()),
///     subject_identifier_type: SubjectIdentifierTypeEnumType::CertificateSubject,
///     authorization_policy: None,
/// };
/// let xml = String::from_utf8(to_xml(&request)?).unwrap();
/// assert!(xml.contains(r#"<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.1">"#));
/// # Ok::<(), ksef_model::xml::XmlError>(())
/// ```
///
/// # Errors
///
/// [`XmlError::Write`] if a value cannot be represented (the generated serializers reject, for
/// example, a list with more items than the schema allows).
pub fn to_xml<T: XmlDocument>(value: &T) -> Result<Vec<u8>, XmlError> {
    let write_error = |source: Box<dyn StdError + Send + Sync>| XmlError::Write {
        root: T::ROOT,
        source,
    };
    let mut writer = Writer::new(Vec::new());
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(|err| write_error(Box::new(err)))?;
    value
        .serialize(T::ROOT, &mut writer)
        .map_err(|err| write_error(Box::new(err)))?;
    Ok(writer.into_inner())
}

/// Failure to read or write an XML document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The root element is not the one of the expected document type (another document, or
    /// another version of its schema).
    #[error(
        "expected XML document `{expected}` in namespace {expected_namespace}, found `{found}` in {}",
        found_namespace.as_deref().unwrap_or("no namespace")
    )]
    UnexpectedRoot {
        /// Local name of the expected root element.
        expected: &'static str,
        /// Namespace URI of the expected root element.
        expected_namespace: &'static str,
        /// Local name of the root element found.
        found: String,
        /// Namespace URI of the root element found, if it has one.
        found_namespace: Option<String>,
    },
    /// The input is not well-formed XML, or not a document of the expected type.
    #[error("cannot read XML document `{root}`{}", Location(*position, path))]
    Read {
        /// Root element of the expected document.
        root: &'static str,
        /// Byte offset in the input where reading failed, when known.
        position: Option<u64>,
        /// Elements from the root down to where reading failed (empty when unknown).
        path: Vec<String>,
        /// What went wrong.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The value cannot be written as XML.
    #[error("cannot write XML document `{root}`")]
    Write {
        /// Root element of the document.
        root: &'static str,
        /// What went wrong.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Formats the position and element path of [`XmlError::Read`].
struct Location<'a>(Option<u64>, &'a [String]);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(position) = self.0 {
            write!(f, " at byte {position}")?;
        }
        if !self.1.is_empty() {
            write!(f, " in /{}", self.1.join("/"))?;
        }
        Ok(())
    }
}

/// An exact `xs:decimal`: `mantissa × 10^-scale`, keeping the scale it was written with.
///
/// Amounts, prices and quantities of the invoice schemas use it instead of a binary float, so
/// values are exact and a document read and written again keeps `0.00` as `0.00`. Equality is
/// equality of representation: `1.0` and `1.00` are different values of this type.
///
/// ```
/// use ksef_model::xml::Decimal;
///
/// let price: Decimal = "1234.50".parse()?;
/// assert_eq!((price.mantissa(), price.scale()), (123450, 2));
/// assert_eq!(price.to_string(), "1234.50");
/// assert_eq!(Decimal::new(-5, 3).to_string(), "-0.005");
/// # Ok::<(), ksef_model::xml::ParseDecimalError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// The value `mantissa × 10^-scale`, written with `scale` fraction digits.
    #[must_use]
    pub const fn new(mantissa: i128, scale: u32) -> Self {
        Self { mantissa, scale }
    }

    /// The digits as an integer, e.g. `123450` for `1234.50`.
    #[must_use]
    pub const fn mantissa(self) -> i128 {
        self.mantissa
    }

    /// The number of fraction digits, e.g. `2` for `1234.50`.
    #[must_use]
    pub const fn scale(self) -> u32 {
        self.scale
    }
}

impl From<i64> for Decimal {
    fn from(value: i64) -> Self {
        Self::new(i128::from(value), 0)
    }
}

/// Why a string is not an [`xs:decimal`](Decimal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDecimalError {
    /// Not of the form `[+-]digits[.digits]` (digits on at least one side of the point).
    #[error("not a decimal number")]
    Syntax,
    /// More significant digits than fit (about 38).
    #[error("decimal number out of range")]
    OutOfRange,
}

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // xs:decimal collapses whitespace.
        let s = s.trim_matches([' ', '\t', '\r', '\n']);
        let (negative, unsigned) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(ParseDecimalError::Syntax);
        }
        let mut mantissa: i128 = 0;
        for digit in int.bytes().chain(frac.bytes()) {
            let digit = i128::from(digit - b'0');
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(digit))
                .ok_or(ParseDecimalError::OutOfRange)?;
        }
        let scale = u32::try_from(frac.len()).map_err(|_| ParseDecimalError::OutOfRange)?;
        Ok(Self::new(
            if negative { -mantissa } else { mantissa },
            scale,
        ))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if scale == 0 {
            write!(f, "{sign}{digits}")
        } else if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{sign}{int}.{frac}")
        } else {
            write!(f, "{sign}0.{:0>scale$}", digits)
        }
    }
}

impl SerializeBytesToString for Decimal {}
impl DeserializeBytesFromStr for Decimal {}

#[cfg(test)]
mod tests {
    use super::{Decimal, ParseDecimalError};

    #[test]
    fn decimal_keeps_its_written_form() {
        for text in [
            "0",
            "0.00",
            "1234.50",
            "-0.005",
            "0.0030",
            "100",
            "12345678901234.56",
        ] {
            let value: Decimal = text.parse().unwrap();
            assert_eq!(value.to_string(), text);
        }
    }

    #[test]
    fn decimal_accepts_every_xsd_lexical_form() {
        let cases = [
            ("+1.5", "1.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("007.10", "7.10"),
            (" 2 ", "2"),
        ];
        for (text, shown) in cases {
            assert_eq!(
                text.parse::<Decimal>().unwrap().to_string(),
                shown,
                "{text}"
            );
        }
        assert_eq!(
            "-12.345".parse::<Decimal>().unwrap(),
            Decimal::new(-12345, 3)
        );
    }

    #[test]
    fn decimal_rejects_what_is_not_a_decimal() {
        for text in ["", ".", "-", "1e5", "1,5", "1.2.3", "--1", "NaN", "0x10"] {
            assert_eq!(
                text.parse::<Decimal>(),
                Err(ParseDecimalError::Syntax),
                "{text:?}"
            );
        }
        let huge = "9".repeat(40);
        assert_eq!(huge.parse::<Decimal>(), Err(ParseDecimalError::OutOfRange));
    }
}
