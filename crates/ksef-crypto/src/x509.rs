//! X.509 certificates: reading them (PEM or DER), their names, serial, validity, public key and
//! fingerprint, the identifiers KSeF derives from the subject, and whether one issued another.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::error::{Cause, Detail, Error, Result};
use crate::keys::PublicKey;
use crate::signer::SignatureAlgorithm;

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

/// `ecdsa-with-SHA256`, the signature algorithm of a certificate signed with ECDSA P-256.
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
/// `sha256WithRSAEncryption`, the signature algorithm of a certificate signed with RSA PKCS#1 v1.5.
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";

/// An X.509 certificate (DER) with what KSeF's clients and the simulator need to know about it:
/// subject and issuer names, serial number, validity, public key, SHA-256 fingerprint and the
/// identifier KSeF derives from the subject. The one certificate type of the workspace.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    serial: String,
    identifier: Option<SubjectIdentifier>,
    subject_attributes: Vec<(String, String)>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    public_key: PublicKey,
    spki: Vec<u8>,
    signed: SignedPart,
}

/// What checking the certificate's own signature needs.
#[derive(Clone, PartialEq, Eq)]
struct SignedPart {
    tbs: Vec<u8>,
    subject_name: Vec<u8>,
    issuer_name: Vec<u8>,
    algorithm: String,
    signature: Vec<u8>,
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
    /// [`Error::CertificateParse`] if the input is not an X.509 certificate.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self> {
        let trimmed = input.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN") {
            let (_, pem) = x509_parser::pem::parse_x509_pem(trimmed).map_err(|err| {
                Error::CertificateParse {
                    source: Box::new(err),
                }
            })?;
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
    /// [`Error::CertificateParse`] if the input is not exactly one X.509 certificate or its
    /// validity dates are out of range, [`Error::PublicKeyParse`] if its RSA or P-256 key is
    /// malformed.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|err| Error::CertificateParse {
                source: Box::new(err),
            })?;
        if !rest.is_empty() {
            return Err(Error::CertificateParse {
                source: Box::new(Cause("trailing bytes after the certificate")),
            });
        }
        let subject = rfc4514(cert.subject());
        let issuer = rfc4514(cert.issuer());
        let serial = cert.tbs_certificate.serial.to_string();
        let identifier = identify(&cert);
        let subject_attributes = cert
            .subject()
            .iter_attributes()
            .filter_map(|attr| {
                let text = attr.as_str().ok()?;
                Some((attr.attr_type().to_id_string(), text.to_owned()))
            })
            .collect();
        let validity = cert.validity();
        let not_before = asn1_time(validity.not_before.timestamp())?;
        let not_after = asn1_time(validity.not_after.timestamp())?;
        let public_key = PublicKey::from_parsed_spki(cert.public_key())?;
        let signed = SignedPart {
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            subject_name: cert.subject().as_raw().to_vec(),
            issuer_name: cert.issuer().as_raw().to_vec(),
            algorithm: cert.signature_algorithm.algorithm.to_id_string(),
            signature: cert.signature_value.data.to_vec(),
        };
        Ok(Self {
            der: der.to_vec(),
            subject,
            issuer,
            serial,
            identifier,
            subject_attributes,
            not_before,
            not_after,
            public_key,
            spki: cert.public_key().raw.to_vec(),
            signed,
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

    /// The subject's attributes that are strings, as (dotted OID, value), in the order of the DN.
    pub fn subject_attributes(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.subject_attributes
            .iter()
            .map(|(oid, value)| (oid.as_str(), value.as_str()))
    }

    /// Start of the certificate's validity (`notBefore`).
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of the certificate's validity (`notAfter`).
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Whether `at` lies within the certificate's validity (bounds included).
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// The certified public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The certified public key as the DER SubjectPublicKeyInfo found in the certificate.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// Whether `issuer` issued this certificate: this certificate's issuer name is `issuer`'s
    /// subject name and its signature (ECDSA P-256 or RSA PKCS#1 v1.5, with SHA-256) verifies
    /// with `issuer`'s public key. A self-signed certificate is issued by itself.
    pub fn is_issued_by(&self, issuer: &Certificate) -> bool {
        if self.signed.issuer_name != issuer.signed.subject_name {
            return false;
        }
        let algorithm = match self.signed.algorithm.as_str() {
            OID_ECDSA_SHA256 => {
                // Certificates carry the DER `ECDSA-Sig-Value`, verification takes `R || S`.
                let Ok(signature) = p256::ecdsa::Signature::from_der(&self.signed.signature) else {
                    return false;
                };
                return issuer
                    .public_key
                    .verify(
                        SignatureAlgorithm::EcdsaP256Sha256,
                        &self.signed.tbs,
                        &signature.to_bytes(),
                    )
                    .is_ok();
            }
            OID_RSA_SHA256 => SignatureAlgorithm::RsaSha256,
            _ => return false,
        };
        issuer
            .public_key
            .verify(algorithm, &self.signed.tbs, &self.signed.signature)
            .is_ok()
    }
}

fn invalid(reason: String) -> Error {
    Error::CertificateParse {
        source: Box::new(Detail(reason)),
    }
}

fn asn1_time(seconds: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| Error::CertificateParse {
        source: Box::new(Cause("validity date out of range")),
    })
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
