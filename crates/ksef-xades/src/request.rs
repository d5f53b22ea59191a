//! Building the unsigned `AuthTokenRequest` document.
//!
//! The document is written by the generated types of `ksef-model` (schema 2.1 by default, 2.0 on
//! request), so its shape always follows the Ministry's XSD.

use std::net::Ipv4Addr;

use ksef_model::values::{Challenge, InternalId, Nip, NipVatUe};
use ksef_model::xml::{auth_v2_0, auth_v2_1, to_xml};

use crate::Error;

/// The most entries KSeF accepts in each list of an authorization policy (addresses, ranges, masks).
pub const MAX_ALLOWED_IPS_PER_KIND: usize = 10;

/// Which version of the `AuthTokenRequest` schema to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaVersion {
    /// `http://ksef.mf.gov.pl/auth/token/2.0`.
    V2_0,
    /// `http://ksef.mf.gov.pl/auth/token/2.1` (the default; it only corrects the IP address patterns).
    #[default]
    V2_1,
}

impl SchemaVersion {
    /// The namespace of the root element in this version.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V2_0 => "http://ksef.mf.gov.pl/auth/token/2.0",
            Self::V2_1 => "http://ksef.mf.gov.pl/auth/token/2.1",
        }
    }
}

/// The context the session is opened in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextIdentifier {
    /// A taxpayer identified by NIP.
    Nip(Nip),
    /// An internal identifier (`NIP-nnnnn`).
    InternalId(InternalId),
    /// A NIP combined with an EU VAT number (`NIP-VATUE`).
    NipVatUe(NipVatUe),
}

/// How KSeF identifies the authenticating subject from the signing certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectIdentifierType {
    /// From the identifiers in the certificate subject (NIP, PESEL).
    #[default]
    CertificateSubject,
    /// From the SHA-256 fingerprint of the certificate (which must have been granted permissions).
    CertificateFingerprint,
}

/// IPv4 addresses, ranges and masks a KSeF token obtained with this request may be used from.
///
/// Each list holds at most [`MAX_ALLOWED_IPS_PER_KIND`] entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedIps {
    addresses: Vec<String>,
    ranges: Vec<String>,
    masks: Vec<String>,
}

impl AllowedIps {
    /// An empty policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows one address.
    pub fn with_address(mut self, address: Ipv4Addr) -> Self {
        self.addresses.push(address.to_string());
        self
    }

    /// Allows the inclusive range `first-last`.
    pub fn with_range(mut self, first: Ipv4Addr, last: Ipv4Addr) -> Self {
        self.ranges.push(format!("{first}-{last}"));
        self
    }

    /// Allows a network written as `address/prefix_len`.
    ///
    /// A `prefix_len` above 32 is reported by [`AuthTokenRequest::to_xml`].
    pub fn with_mask(mut self, network: Ipv4Addr, prefix_len: u8) -> Self {
        self.masks.push(format!("{network}/{prefix_len}"));
        self
    }

    /// The allowed addresses, as written.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// The allowed ranges, as written (`a.b.c.d-e.f.g.h`).
    pub fn ranges(&self) -> &[String] {
        &self.ranges
    }

    /// The allowed masks, as written (`a.b.c.d/n`).
    pub fn masks(&self) -> &[String] {
        &self.masks
    }

    fn check(&self) -> Result<(), Error> {
        for (name, list) in [
            ("Ip4Address", &self.addresses),
            ("Ip4Range", &self.ranges),
            ("Ip4Mask", &self.masks),
        ] {
            if list.len() > MAX_ALLOWED_IPS_PER_KIND {
                return Err(Error::InvalidRequest {
                    reason: format!(
                        "{} {name} entries, at most {MAX_ALLOWED_IPS_PER_KIND} are allowed",
                        list.len()
                    ),
                });
            }
        }
        for mask in &self.masks {
            let prefix_ok = mask
                .rsplit_once('/')
                .and_then(|(_, len)| len.parse::<u8>().ok())
                .is_some_and(|len| len <= 32);
            if !prefix_ok {
                return Err(Error::InvalidRequest {
                    reason: format!("mask {mask:?} has a prefix length above 32"),
                });
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.ranges.is_empty() && self.masks.is_empty()
    }
}

/// An unsigned `AuthTokenRequest`: the document signed with XAdES to authenticate with a certificate.
///
/// ```
/// use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
///
/// let request = AuthTokenRequest::new(
///     "20250604-CR-461EA5B000-537A6BA15D-D7".parse()?,
///     ContextIdentifier::Nip("5265877635".parse()?),
/// );
/// let xml = String::from_utf8(request.to_xml()?).unwrap();
/// assert!(xml.contains("<Nip>5265877635</Nip>"));
/// assert!(xml.contains("<SubjectIdentifierType>certificateSubject</SubjectIdentifierType>"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthTokenRequest {
    challenge: Challenge,
    context: ContextIdentifier,
    subject_identifier_type: SubjectIdentifierType,
    allowed_ips: Option<AllowedIps>,
    version: SchemaVersion,
}

impl AuthTokenRequest {
    /// A request for `challenge` in `context`, identifying the subject by certificate subject, without an
    /// authorization policy, in schema 2.1.
    pub fn new(challenge: Challenge, context: ContextIdentifier) -> Self {
        Self {
            challenge,
            context,
            subject_identifier_type: SubjectIdentifierType::default(),
            allowed_ips: None,
            version: SchemaVersion::default(),
        }
    }

    /// Sets how the subject is identified from the certificate.
    pub fn with_subject_identifier_type(mut self, kind: SubjectIdentifierType) -> Self {
        self.subject_identifier_type = kind;
        self
    }

    /// Restricts where the resulting token may be used from (an empty policy is left out).
    pub fn with_allowed_ips(mut self, allowed_ips: AllowedIps) -> Self {
        self.allowed_ips = Some(allowed_ips).filter(|ips| !ips.is_empty());
        self
    }

    /// Chooses the schema version.
    pub fn with_schema_version(mut self, version: SchemaVersion) -> Self {
        self.version = version;
        self
    }

    /// The challenge.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The context identifier.
    pub fn context(&self) -> &ContextIdentifier {
        &self.context
    }

    /// The subject identifier type.
    pub fn subject_identifier_type(&self) -> SubjectIdentifierType {
        self.subject_identifier_type
    }

    /// The authorization policy, if any.
    pub fn allowed_ips(&self) -> Option<&AllowedIps> {
        self.allowed_ips.as_ref()
    }

    /// The schema version.
    pub fn schema_version(&self) -> SchemaVersion {
        self.version
    }

    /// Writes the unsigned document (UTF-8, with an XML declaration, without indentation).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] if the authorization policy has too many entries or a bad mask, or the
    /// document cannot be written.
    pub fn to_xml(&self) -> Result<Vec<u8>, Error> {
        if let Some(ips) = &self.allowed_ips {
            ips.check()?;
        }
        let challenge = self.challenge.as_str().to_owned();
        // The two schema versions' generated types have the same names and shapes.
        macro_rules! document {
            ($version:ident) => {{
                use $version as v;
                let ctx = match &self.context {
                    ContextIdentifier::Nip(n) => v::TContextIdentifierType::Nip(n.as_str().into()),
                    ContextIdentifier::InternalId(i) => {
                        v::TContextIdentifierType::InternalId(i.as_str().into())
                    }
                    ContextIdentifier::NipVatUe(n) => {
                        v::TContextIdentifierType::NipVatUe(n.as_str().into())
                    }
                };
                let subject = match self.subject_identifier_type {
                    SubjectIdentifierType::CertificateSubject => {
                        v::SubjectIdentifierTypeEnumType::CertificateSubject
                    }
                    SubjectIdentifierType::CertificateFingerprint => {
                        v::SubjectIdentifierTypeEnumType::CertificateFingerprint
                    }
                };
                let policy = self.allowed_ips.as_ref().map(|ips| {
                    v::AuthTokenRequestAuthorizationPolicyElementType {
                        allowed_ips: v::AuthTokenRequestAuthorizationPolicyAllowedIpsElementType {
                            ip_4_address: ips.addresses.clone(),
                            ip_4_range: ips.ranges.clone(),
                            ip_4_mask: ips.masks.clone(),
                        },
                    }
                });
                to_xml(&v::AuthTokenRequest {
                    challenge,
                    context_identifier: ctx,
                    subject_identifier_type: subject,
                    authorization_policy: policy,
                })
            }};
        }
        let written = match self.version {
            SchemaVersion::V2_0 => document!(auth_v2_0),
            SchemaVersion::V2_1 => document!(auth_v2_1),
        };
        written.map_err(|err| Error::InvalidRequest {
            reason: format!("the document could not be written: {err}"),
        })
    }
}
