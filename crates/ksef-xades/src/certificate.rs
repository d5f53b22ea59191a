//! Signing certificates: reading them, their fingerprint and the identifiers KSeF derives from them.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::Error;

const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_SURNAME: &str = "2.5.4.4";
const OID_SERIAL_NUMBER: &str = "2.5.4.5";
const OID_COUNTRY: &str = "2.5.4.6";
const OID_ORGANIZATION: &str = "2.5.4.10";
const OID_GIVEN_NAME: &str = "2.5.4.42";
const OID_ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";

/// What KSeF derives from the subject of a signing certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectIdentifier {
    /// An electronic seal of an organization, identified by the NIP in its `organizationIdentifier`
    /// (`VATPL-NNNNNNNNNN`).
    SealNip(String),
    /// A person identified by the PESEL in the `serialNumber` (`PNOPL-…`).
    PersonPesel(String),
    /// A person identified by the NIP in the `serialNumber` (`TINPL-…`).
    PersonNip(String),
}

/// An X.509 certificate (DER) with what a KSeF signature needs to know about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    serial: String,
    identifier: Option<SubjectIdentifier>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("serial", &self.serial)
            .field("fingerprint", &self.fingerprint_sha256_hex())
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Reads a certificate from DER, or from PEM (`-----BEGIN CERTIFICATE-----`; the first one is taken).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] if the input is not an X.509 certificate.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self, Error> {
        let trimmed = input.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let (_, pem) = x509_parser::pem::parse_x509_pem(trimmed)
                .map_err(|err| invalid(err.to_string()))?;
            if pem.label != "CERTIFICATE" {
                return Err(invalid(format!(
                    "PEM label {:?} is not CERTIFICATE",
                    pem.label
                )));
            }
            Self::from_der(&pem.contents)
        } else {
            Self::from_der(input)
        }
    }

    /// Reads a DER certificate.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] if the input is not exactly one X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|err| invalid(err.to_string()))?;
        if !rest.is_empty() {
            return Err(invalid("trailing bytes after the certificate".to_owned()));
        }
        let subject = rfc4514(cert.subject());
        let issuer = rfc4514(cert.issuer());
        let serial = cert.tbs_certificate.serial.to_string();
        let identifier = identify(&cert);
        Ok(Self {
            der: der.to_vec(),
            subject,
            issuer,
            serial,
            identifier,
        })
    }

    /// The certificate in DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject as an RFC 4514 string (most significant RDN last, `, ` between RDNs).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The issuer as an RFC 4514 string, as written in `X509IssuerName`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The serial number in decimal, as written in `X509SerialNumber`.
    pub fn serial_decimal(&self) -> &str {
        &self.serial
    }

    /// The SHA-256 digest of the DER certificate.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// The SHA-256 fingerprint in upper-case hexadecimal, as KSeF shows and grants permissions to it.
    pub fn fingerprint_sha256_hex(&self) -> String {
        let mut hex = String::with_capacity(64);
        for byte in self.fingerprint_sha256() {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02X}");
        }
        hex
    }

    /// The identifier KSeF derives from the subject (`certificateSubject` authentication), if any.
    ///
    /// Seal certificates (organizationName and organizationIdentifier, without givenName or surname) yield
    /// the NIP of `VATPL-…`; person certificates (givenName, surname, serialNumber, commonName, country) the
    /// PESEL of `PNOPL-…`/`PESEL…` or the NIP of `TINPL-…`/`NIP…`.
    pub fn subject_identifier(&self) -> Option<&SubjectIdentifier> {
        self.identifier.as_ref()
    }

    /// The DER SubjectPublicKeyInfo.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, Error> {
        let (_, cert) =
            X509Certificate::from_der(&self.der).map_err(|err| invalid(err.to_string()))?;
        Ok(cert.public_key().raw.to_vec())
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidCertificate { reason }
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        OID_COMMON_NAME => "CN",
        OID_SURNAME => "SN",
        OID_SERIAL_NUMBER => "SERIALNUMBER",
        OID_COUNTRY => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        OID_ORGANIZATION => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        OID_GIVEN_NAME => "G",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "E",
        _ => return None,
    })
}

fn attribute_text(attr: &x509_parser::x509::AttributeTypeAndValue<'_>) -> String {
    match attr.as_str() {
        Ok(text) => text.to_owned(),
        // Not a string type: RFC 4514 writes the DER value as `#hex`.
        Err(_) => {
            let mut hex = String::from("#");
            for byte in attr.attr_value().data.iter() {
                let _ = write!(hex, "{byte:02x}");
            }
            hex
        }
    }
}

fn escape_rfc4514(value: &str, out: &mut String) {
    if value.starts_with('#')
        && value.len() > 1
        && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        // A hex-encoded value produced by attribute_text: written as is.
        out.push_str(value);
        return;
    }
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
}

fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for rdn in name.iter_rdn() {
        let mut text = String::new();
        for (i, attr) in rdn.iter().enumerate() {
            if i > 0 {
                text.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            text.push_str(short_name(&oid).unwrap_or(&oid));
            text.push('=');
            escape_rfc4514(&attribute_text(attr), &mut text);
        }
        rdns.push(text);
    }
    rdns.reverse();
    rdns.join(", ")
}

fn subject_values(cert: &X509Certificate<'_>, oid: &str) -> Vec<String> {
    cert.subject()
        .iter_attributes()
        .filter(|attr| attr.attr_type().to_id_string() == oid)
        .map(attribute_text)
        .collect()
}

/// The first run of exactly `len` digits following `marker` in `text` (`marker.*?(\d{len})`).
fn digits_after(text: &str, marker: &str, len: usize) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let rest = &text.as_bytes()[start..];
    (0..rest.len().saturating_sub(len - 1)).find_map(|i| {
        let window = rest.get(i..i + len)?;
        window
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| String::from_utf8_lossy(window).into_owned())
    })
}

fn identify(cert: &X509Certificate<'_>) -> Option<SubjectIdentifier> {
    let has = |oid| !subject_values(cert, oid).is_empty();
    let person = has(OID_GIVEN_NAME) || has(OID_SURNAME);
    if person {
        if !(has(OID_GIVEN_NAME) && has(OID_SURNAME) && has(OID_COMMON_NAME) && has(OID_COUNTRY)) {
            return None;
        }
        let serial = subject_values(cert, OID_SERIAL_NUMBER).into_iter().next()?;
        for marker in ["PNOPL", "PESEL"] {
            if let Some(pesel) = digits_after(&serial, marker, 11) {
                return Some(SubjectIdentifier::PersonPesel(pesel));
            }
        }
        for marker in ["TINPL", "NIP"] {
            if let Some(nip) = digits_after(&serial, marker, 10) {
                return Some(SubjectIdentifier::PersonNip(nip));
            }
        }
        None
    } else {
        if !(has(OID_ORGANIZATION) && has(OID_COMMON_NAME) && has(OID_COUNTRY)) {
            return None;
        }
        let id = subject_values(cert, OID_ORGANIZATION_IDENTIFIER)
            .into_iter()
            .next()?;
        digits_after(&id, "VATPL", 10).map(SubjectIdentifier::SealNip)
    }
}

#[cfg(test)]
mod tests {
    use super::digits_after;

    #[test]
    fn digits_after_marker() {
        assert_eq!(
            digits_after("VATPL-5265877635", "VATPL", 10).as_deref(),
            Some("5265877635")
        );
        assert_eq!(digits_after("VATPL-52658", "VATPL", 10), None);
        assert_eq!(
            digits_after("PNOPL-x-12345678901", "PNOPL", 11).as_deref(),
            Some("12345678901")
        );
        assert_eq!(digits_after("", "VATPL", 10), None);
        assert_eq!(digits_after("VATPL", "VATPL", 10), None);
    }
}
