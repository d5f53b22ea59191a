//! Lexical checks quick-xml leaves to its user: attribute separation, the XML declaration, namespace
//! declarations and attribute values.

use super::chars::{is_xml_whitespace, resolve_reference};
use super::{XML_NAMESPACE, XMLNS_NAMESPACE};
use crate::error::{Error, Position};

/// Whether every quoted attribute value is followed by whitespace or the end of the tag, as XML requires
/// (quick-xml accepts `a="1"b="2"`).
pub(super) fn attributes_separated(raw: &[u8]) -> bool {
    let mut quote = None;
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        match quote {
            Some(q) if b == q => {
                quote = None;
                if bytes
                    .peek()
                    .is_some_and(|&&next| !matches!(next, b' ' | b'\t' | b'\n' | b'\r' | b'/'))
                {
                    return false;
                }
            }
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None => {}
        }
    }
    true
}

/// Reads `<?xml version="…" encoding="…" standalone="…"?>` strictly (XML 1.0 production `XMLDecl`) and returns
/// the version and the encoding, or `None` if the declaration is malformed.
pub(super) fn xml_declaration(raw: &str) -> Option<(&str, Option<&str>)> {
    let mut rest = raw.strip_prefix("<?xml")?.strip_suffix("?>")?;
    let mut pseudo_attributes: Vec<(&str, &str)> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_xml_whitespace);
        if trimmed.is_empty() {
            break;
        }
        // Whitespace must separate the target and each pseudo-attribute.
        if trimmed.len() == rest.len() {
            return None;
        }
        let name_end = trimmed.find(|c: char| !c.is_ascii_lowercase())?;
        let (name, after) = trimmed.split_at(name_end);
        let after = after
            .trim_start_matches(is_xml_whitespace)
            .strip_prefix('=')?;
        let after = after.trim_start_matches(is_xml_whitespace);
        let quote = after.chars().next().filter(|&q| q == '"' || q == '\'')?;
        let after = &after[1..];
        let value_end = after.find(quote)?;
        pseudo_attributes.push((name, &after[..value_end]));
        rest = &after[value_end + 1..];
    }
    let mut attributes = pseudo_attributes.into_iter().peekable();
    let version = attributes.next().filter(|(name, _)| *name == "version")?.1;
    let version_valid = version
        .strip_prefix("1.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    let encoding = attributes
        .next_if(|(name, _)| *name == "encoding")
        .map(|(_, value)| value);
    let encoding_valid = encoding.is_none_or(|e| {
        let mut chars = e.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    });
    let standalone_valid = attributes
        .next_if(|(name, _)| *name == "standalone")
        .is_none_or(|(_, value)| value == "yes" || value == "no");
    (version_valid && encoding_valid && standalone_valid && attributes.next().is_none())
        .then_some((version, encoding))
}

/// Checks one namespace declaration against Namespaces in XML 1.0 (third edition).
pub(super) fn check_declaration(prefix: &str, uri: &str, at: Position) -> Result<(), Error> {
    let valid = match prefix {
        "xml" => uri == XML_NAMESPACE,
        "xmlns" => false,
        // Only the default namespace may be undeclared (`xmlns=""`).
        "" => uri != XML_NAMESPACE && uri != XMLNS_NAMESPACE,
        _ => !uri.is_empty() && uri != XML_NAMESPACE && uri != XMLNS_NAMESPACE,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidNamespaceDeclaration {
            prefix: prefix.to_owned(),
            uri: uri.to_owned(),
            at,
        })
    }
}

/// Whether a namespace name is an absolute URI (RFC 3986): only URI characters, `%` followed by two hex
/// digits, and a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`) before any `/`, `?` or `#`.
pub(super) fn is_absolute_uri(uri: &str) -> bool {
    let bytes = uri.as_bytes();
    let characters_valid = bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        b if b.is_ascii_alphanumeric() => true,
        b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' => true,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => true,
        _ => false,
    });
    let scheme_valid = uri.split_once(':').is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    characters_valid && scheme_valid
}

/// Resolves references in an attribute value and normalizes it as a non-validating XML 1.0 parser must
/// (section 3.3.3): each literal whitespace character becomes a space, while a character reference keeps
/// the character it denotes. Line ends are already normalized.
pub(super) fn attribute_value(raw: &str, name: &str, at: Position) -> Result<String, Error> {
    let mut value = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\n', '\r']) {
        value.push_str(&rest[..i]);
        let special = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        match special {
            b'&' => {
                let Some(end) = rest.find(';') else {
                    return Err(Error::InvalidAttributeValue {
                        name: name.to_owned(),
                        at,
                    });
                };
                let reference = &rest[..end];
                let resolved =
                    resolve_reference(reference).ok_or_else(|| Error::InvalidReference {
                        reference: reference.to_owned(),
                        at,
                    })?;
                value.push(resolved);
                rest = &rest[end + 1..];
            }
            b'<' => {
                return Err(Error::InvalidAttributeValue {
                    name: name.to_owned(),
                    at,
                });
            }
            _ => value.push(' '),
        }
    }
    value.push_str(rest);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_separation() {
        assert!(attributes_separated(b" a='1' b=\"2\"\t c='x\"y'"));
        assert!(attributes_separated(b" a='1'/"));
        assert!(!attributes_separated(b" a='1'b='2'"));
        assert!(!attributes_separated(b" a=\"1\"b=\"2\""));
    }

    #[test]
    fn xml_declarations() {
        assert_eq!(
            xml_declaration("<?xml version=\"1.0\"?>"),
            Some(("1.0", None))
        );
        assert_eq!(
            xml_declaration("<?xml\tversion = '1.0'\nencoding='UTF-8' standalone=\"no\" ?>"),
            Some(("1.0", Some("UTF-8")))
        );
        assert_eq!(
            xml_declaration("<?xml version='1.1'?>"),
            Some(("1.1", None))
        );
        for bad in [
            "<?xml?>",
            "<?xml encoding='UTF-8'?>",
            "<?xml version=\"1.0\" <encoding=\"UTF-8\"?>",
            "<?xml version='1.0'encoding='UTF-8'?>",
            "<?xml version='1.0' standalone='no' encoding='UTF-8'?>",
            "<?xml version='1.0' standalone='maybe'?>",
            "<?xml version='1.0' version='1.0'?>",
            "<?xml version='1.0\"?>",
            "<?xml version='2.0'?>",
            "<?xml version='1.0' encoding='8bit'?>",
            "<?xml version='1.0' other='x'?>",
        ] {
            assert_eq!(xml_declaration(bad), None, "{bad}");
        }
    }

    #[test]
    fn absolute_uris() {
        assert!(is_absolute_uri("urn:x"));
        assert!(is_absolute_uri("http://www.w3.org/2000/09/xmldsig#"));
        assert!(is_absolute_uri("http://example.com/a%20b?x=1&y=[2]"));
        assert!(is_absolute_uri("a+b.c-d:"));
        assert!(!is_absolute_uri("x"));
        assert!(!is_absolute_uri("a/b:c"));
        assert!(!is_absolute_uri("1a:b"));
        assert!(!is_absolute_uri(":b"));
        assert!(!is_absolute_uri("#frag"));
        assert!(!is_absolute_uri("http:>//x"));
        assert!(!is_absolute_uri("urn:a b"));
        assert!(!is_absolute_uri("urn:%4"));
        assert!(!is_absolute_uri("urn:żółw"));
    }

    #[test]
    fn attribute_values_are_normalized() {
        let at = Position::default();
        assert_eq!(
            attribute_value("a\tb\nc&#9;&#xA;&#13;&lt;&amp;", "n", at).unwrap(),
            "a b c\t\n\r<&"
        );
        assert!(matches!(
            attribute_value("a<b", "n", at),
            Err(Error::InvalidAttributeValue { .. })
        ));
        assert!(matches!(
            attribute_value("a&b", "n", at),
            Err(Error::InvalidAttributeValue { .. })
        ));
        assert!(matches!(
            attribute_value("&nbsp;", "n", at),
            Err(Error::InvalidReference { .. })
        ));
    }
}
