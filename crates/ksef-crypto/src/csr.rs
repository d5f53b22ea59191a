//! PKCS#10 certificate signing requests for KSeF certificate enrollment.
//!
//! `GET /certificates/enrollments/data` returns the X.500 attributes the subject must carry,
//! read from the certificate used to authenticate; KSeF rejects a request whose subject differs
//! (error 25003). [`EnrollmentData`] mirrors that response; [`CertificateSigningRequest::new`]
//! builds and signs the request with a [`CertificateKey`], and
//! [`CertificateSigningRequest::to_base64`] gives the `csr` field of
//! `POST /certificates/enrollments` (DER, standard base64).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::der::asn1::{BitString, PrintableStringRef, SetOfVec, Utf8StringRef};
use x509_cert::der::{Any, Decode as _, Encode as _};
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};

use crate::certificate_key::CertificateKey;
use crate::error::{Error, Result};

/// The subject attributes KSeF requires in an enrollment CSR, as returned by
/// `GET /certificates/enrollments/data` (`CertificateEnrollmentDataResponse`).
///
/// Copy the values exactly. `common_name` and `country_name` are always present; a person has
/// `surname`, `given_names` and `serial_number`; a company seal has `organization_name` and
/// `organization_identifier`; either may have `unique_identifier`.
///
/// With `serde`, it deserializes from the API's JSON (camelCase names); `givenName` is accepted
/// as a single string (as the OpenAPI schema has it) or as a list of strings (as the prose says).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentData {
    /// `commonName` (2.5.4.3).
    pub common_name: String,
    /// `countryName` (2.5.4.6), a two-letter ISO 3166 code such as `"PL"`.
    pub country_name: String,
    /// `givenName` (2.5.4.42); one attribute per name, in the order given.
    #[serde(
        rename = "givenName",
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub given_names: Vec<String>,
    /// `surname` (2.5.4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// `serialNumber` (2.5.4.5), e.g. `"PNOPL-80010112345"` or `"TINPL-5265877635"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// `uniqueIdentifier` (2.5.4.45).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_identifier: Option<String>,
    /// `organizationName` (2.5.4.10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    /// `organizationIdentifier` (2.5.4.97), e.g. `"VATPL-5265877635"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_identifier: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(
        match <Option<OneOrMany> as serde::Deserialize>::deserialize(deserializer)? {
            None => Vec::new(),
            Some(OneOrMany::One(name)) => vec![name],
            Some(OneOrMany::Many(names)) => names,
        },
    )
}

/// How an attribute value is encoded.
#[derive(Clone, Copy)]
enum StringKind {
    /// `PrintableString`, which X.520 requires for `countryName` and `serialNumber`.
    Printable,
    /// `UTF8String` (the `DirectoryString` choice that carries Polish letters).
    Utf8,
}

impl EnrollmentData {
    /// The subject's attributes in the order they are written: one relative distinguished name
    /// per attribute, in the order of KSeF's attribute table (ascending OID): commonName,
    /// surname, serialNumber, countryName, organizationName, givenName (each), uniqueIdentifier,
    /// organizationIdentifier. Empty optional fields are left out.
    #[allow(clippy::type_complexity)]
    fn attributes(&self) -> Result<Vec<(&'static str, &'static str, StringKind, &str)>> {
        if self.common_name.is_empty() {
            return Err(Error::InvalidEnrollmentData {
                field: "commonName",
                reason: "must not be empty",
            });
        }
        if self.country_name.len() != 2
            || !self.country_name.bytes().all(|b| b.is_ascii_uppercase())
        {
            return Err(Error::InvalidEnrollmentData {
                field: "countryName",
                reason: "must be two upper-case letters (ISO 3166)",
            });
        }
        let mut out = vec![(
            "commonName",
            "2.5.4.3",
            StringKind::Utf8,
            self.common_name.as_str(),
        )];
        fn optional<'a>(
            out: &mut Vec<(&'static str, &'static str, StringKind, &'a str)>,
            field: &'static str,
            oid: &'static str,
            kind: StringKind,
            value: &'a Option<String>,
        ) {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                out.push((field, oid, kind, value));
            }
        }
        optional(
            &mut out,
            "surname",
            "2.5.4.4",
            StringKind::Utf8,
            &self.surname,
        );
        optional(
            &mut out,
            "serialNumber",
            "2.5.4.5",
            StringKind::Printable,
            &self.serial_number,
        );
        out.push((
            "countryName",
            "2.5.4.6",
            StringKind::Printable,
            self.country_name.as_str(),
        ));
        optional(
            &mut out,
            "organizationName",
            "2.5.4.10",
            StringKind::Utf8,
            &self.organization_name,
        );
        for name in self.given_names.iter().filter(|n| !n.is_empty()) {
            out.push(("givenName", "2.5.4.42", StringKind::Utf8, name.as_str()));
        }
        optional(
            &mut out,
            "uniqueIdentifier",
            "2.5.4.45",
            StringKind::Utf8,
            &self.unique_identifier,
        );
        optional(
            &mut out,
            "organizationIdentifier",
            "2.5.4.97",
            StringKind::Utf8,
            &self.organization_identifier,
        );
        Ok(out)
    }

    fn subject(&self) -> Result<RdnSequence> {
        let mut rdns = Vec::new();
        for (field, oid, kind, value) in self.attributes()? {
            let value = match kind {
                StringKind::Printable => {
                    let s = PrintableStringRef::new(value).map_err(|_| {
                        Error::InvalidEnrollmentData {
                            field,
                            reason: "must contain only PrintableString characters",
                        }
                    })?;
                    Any::encode_from(&s)
                }
                StringKind::Utf8 => {
                    let s = Utf8StringRef::new(value).map_err(csr_encoding)?;
                    Any::encode_from(&s)
                }
            }
            .map_err(csr_encoding)?;
            let atv = AttributeTypeAndValue {
                oid: ObjectIdentifier::new(oid).map_err(|e| csr_encoding(e.into()))?,
                value,
            };
            let set = SetOfVec::try_from(vec![atv]).map_err(csr_encoding)?;
            rdns.push(RelativeDistinguishedName(set));
        }
        Ok(RdnSequence(rdns))
    }
}

/// A signed PKCS#10 certificate signing request.
///
/// RSA keys sign with `sha256WithRSAEncryption` (PKCS#1 v1.5), EC P-256 keys with
/// `ecdsa-with-SHA256` (DER signature, RFC 3279): both are among the algorithms KSeF accepts.
/// The request has no attributes or extensions: KSeF sets the key usage from
/// `certificateType`.
///
/// ```
/// use ksef_crypto::{CertificateKey, CertificateSigningRequest, EnrollmentData};
///
/// # fn main() -> Result<(), ksef_crypto::Error> {
/// let data: EnrollmentData = serde_json::from_str(
///     r#"{"commonName":"Jan Kowalski","countryName":"PL","givenName":"Jan",
///         "surname":"Kowalski","serialNumber":"PNOPL-80010112345"}"#,
/// ).unwrap();
/// let key = CertificateKey::generate_ec_p256()?;
/// let csr = CertificateSigningRequest::new(&data, &key)?;
/// let _csr_field = csr.to_base64(); // POST /certificates/enrollments {"csr": ...}
/// assert!(csr.to_pem().starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSigningRequest {
    der: Vec<u8>,
}

impl CertificateSigningRequest {
    /// Builds the request for `data`'s subject and `key`'s public key, and signs it with `key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnrollmentData`] for an empty `commonName`, a `countryName` that is not
    /// two upper-case letters, or a `serialNumber` with characters PrintableString cannot hold;
    /// [`Error::KeyEncoding`], [`Error::Signature`] or [`Error::CsrEncoding`] if encoding or
    /// signing fails.
    pub fn new(data: &EnrollmentData, key: &CertificateKey) -> Result<Self> {
        let subject = data.subject()?;
        let spki_der = key.public_key_der()?;
        let public_key = SubjectPublicKeyInfoOwned::from_der(&spki_der).map_err(csr_encoding)?;
        let info = CertReqInfo {
            version: Version::V1,
            subject,
            public_key,
            attributes: SetOfVec::new(),
        };
        let info_der = info.to_der().map_err(csr_encoding)?;
        let (oid, null_parameters, signature) = key.sign_csr(&info_der)?;
        let algorithm = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new(oid).map_err(|e| csr_encoding(e.into()))?,
            parameters: null_parameters.then(Any::null),
        };
        let request = CertReq {
            info,
            algorithm,
            signature: BitString::from_bytes(&signature).map_err(csr_encoding)?,
        };
        let der = request.to_der().map_err(csr_encoding)?;
        Ok(Self { der })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER encoding, by value.
    pub fn into_der(self) -> Vec<u8> {
        self.der
    }

    /// The DER encoding in standard base64 with padding: the `csr` field of
    /// `POST /certificates/enrollments`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// PEM `CERTIFICATE REQUEST` (64-character lines, LF line endings), as `openssl req` reads.
    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE REQUEST", &self.der)
    }
}

fn csr_encoding(e: x509_cert::der::Error) -> Error {
    Error::CsrEncoding {
        source: Box::new(e),
    }
}

/// DER bytes as PEM with `label` (`-----BEGIN {label}-----`, standard base64 in 64-character
/// lines, LF line endings), as `openssl` reads: certificates (`CERTIFICATE`), requests
/// (`CERTIFICATE REQUEST`).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    pem.push_str("-----BEGIN ");
    pem.push_str(label);
    pem.push_str("-----\n");
    // Base64 output is ASCII, so splitting its bytes keeps every chunk valid UTF-8.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END ");
    pem.push_str(label);
    pem.push_str("-----\n");
    pem
}
