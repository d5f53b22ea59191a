//! The Ministry of Finance's public-key certificates (`GET /security/public-key-certificates`) and
//! the choice of the one to encrypt with.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{Cause, Error, Result};
use crate::keys::PublicKey;

/// What a Ministry certificate may be used for (the spec's `PublicKeyCertificateUsage`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateUsage {
    /// `KsefTokenEncryption`: encrypting KSeF tokens for `/auth/ksef-token`.
    KsefTokenEncryption,
    /// `SymmetricKeyEncryption`: wrapping the AES session key of online/batch sessions and exports.
    SymmetricKeyEncryption,
    /// A value this version does not know, kept verbatim so newer server values do not fail.
    Other(String),
}

impl CertificateUsage {
    /// The spec's name for the usage.
    pub fn as_str(&self) -> &str {
        match self {
            Self::KsefTokenEncryption => "KsefTokenEncryption",
            Self::SymmetricKeyEncryption => "SymmetricKeyEncryption",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for CertificateUsage {
    /// Maps the spec's names to the known variants and anything else to [`CertificateUsage::Other`].
    fn from(name: &str) -> Self {
        match name {
            "KsefTokenEncryption" => Self::KsefTokenEncryption,
            "SymmetricKeyEncryption" => Self::SymmetricKeyEncryption,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for CertificateUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the `/security/public-key-certificates` response, as the client layer maps it from
/// the spec's `PublicKeyCertificate`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateEntry {
    /// The certificate in DER, base64-encoded (standard alphabet, no PEM armour).
    pub certificate: String,
    /// Start of the period in which the Ministry lists the certificate as valid.
    pub valid_from: DateTime<Utc>,
    /// End of that period.
    pub valid_to: DateTime<Utc>,
    /// What the certificate may be used for.
    pub usage: Vec<CertificateUsage>,
    /// The key's identifier to send along with what it encrypted (44 base64 characters), if listed.
    pub public_key_id: Option<String>,
}

impl CertificateEntry {
    /// An entry without a `publicKeyId`; add one with [`CertificateEntry::with_public_key_id`].
    pub fn new(
        certificate: impl Into<String>,
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
        usage: impl IntoIterator<Item = CertificateUsage>,
    ) -> Self {
        Self {
            certificate: certificate.into(),
            valid_from,
            valid_to,
            usage: usage.into_iter().collect(),
            public_key_id: None,
        }
    }

    /// Sets the `publicKeyId`.
    #[must_use]
    pub fn with_public_key_id(mut self, public_key_id: impl Into<String>) -> Self {
        self.public_key_id = Some(public_key_id.into());
        self
    }
}

/// A parsed Ministry certificate: the listing's dates, usages and key id, plus the certificate's own
/// validity and public key.
#[derive(Clone, Debug)]
pub struct MinistryCertificate {
    der: Vec<u8>,
    public_key: PublicKey,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    usage: Vec<CertificateUsage>,
    public_key_id: Option<String>,
}

impl MinistryCertificate {
    /// Decodes and parses one listing entry.
    ///
    /// A certificate whose key is not RSA is accepted here (listings may carry one); it fails with
    /// [`Error::UnsupportedKeyType`] only when used to encrypt.
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] if `certificate` is not base64, [`Error::CertificateParse`] if it is not a
    /// DER X.509 certificate, [`Error::PublicKeyParse`] if its RSA key is malformed.
    pub fn from_entry(entry: &CertificateEntry) -> Result<Self> {
        let der = STANDARD
            .decode(entry.certificate.trim())
            .map_err(|e| Error::base64("certificate", e))?;
        let (rest, cert) =
            X509Certificate::from_der(&der).map_err(|e| Error::CertificateParse {
                source: Box::new(e),
            })?;
        if !rest.is_empty() {
            return Err(Error::CertificateParse {
                source: Box::new(Cause("trailing bytes after the certificate")),
            });
        }
        let public_key = PublicKey::from_parsed_spki(cert.public_key())?;
        let validity = cert.validity();
        let not_before = asn1_time(validity.not_before.timestamp())?;
        let not_after = asn1_time(validity.not_after.timestamp())?;
        drop(cert);
        Ok(Self {
            der,
            public_key,
            valid_from: entry.valid_from,
            valid_to: entry.valid_to,
            not_before,
            not_after,
            usage: entry.usage.clone(),
            public_key_id: entry.public_key_id.clone(),
        })
    }

    /// The certificate in DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The listed `publicKeyId`, if any.
    pub fn public_key_id(&self) -> Option<&str> {
        self.public_key_id.as_deref()
    }

    /// The listed usages.
    pub fn usage(&self) -> &[CertificateUsage] {
        &self.usage
    }

    /// Whether the listed usages include `usage`.
    pub fn has_usage(&self, usage: &CertificateUsage) -> bool {
        self.usage.contains(usage)
    }

    /// Start of the listed validity (`validFrom`).
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.valid_from
    }

    /// End of the listed validity (`validTo`).
    pub fn valid_to(&self) -> DateTime<Utc> {
        self.valid_to
    }

    /// Start of the certificate's own validity (`notBefore`).
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// End of the certificate's own validity (`notAfter`).
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Whether `at` lies within both the listed validity and the certificate's own (bounds
    /// included).
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from <= at
            && at <= self.valid_to
            && self.not_before <= at
            && at <= self.not_after
    }

    pub(crate) fn require_usage(&self, required: CertificateUsage) -> Result<()> {
        if self.has_usage(&required) {
            Ok(())
        } else {
            Err(Error::WrongCertificateUsage { required })
        }
    }
}

fn asn1_time(seconds: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| Error::CertificateParse {
        source: Box::new(Cause("validity date out of range")),
    })
}

/// The Ministry's certificates, as listed by `/security/public-key-certificates`.
#[derive(Clone, Debug, Default)]
pub struct MinistryCertificates {
    certificates: Vec<MinistryCertificate>,
}

impl MinistryCertificates {
    /// A set of already parsed certificates.
    pub fn new(certificates: Vec<MinistryCertificate>) -> Self {
        Self { certificates }
    }

    /// Parses every entry of a listing.
    ///
    /// # Errors
    ///
    /// The first error of [`MinistryCertificate::from_entry`].
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a CertificateEntry>,
    ) -> Result<Self> {
        let certificates = entries
            .into_iter()
            .map(MinistryCertificate::from_entry)
            .collect::<Result<_>>()?;
        Ok(Self { certificates })
    }

    /// The certificates, in listing order.
    pub fn as_slice(&self) -> &[MinistryCertificate] {
        &self.certificates
    }

    /// Picks the certificate to encrypt with for `usage` at the instant `at` (normally now): among
    /// those listed for the usage and valid at `at` — by the listed dates and by the certificate's
    /// own validity — the one with the latest listed `validFrom` (on a tie, the later in the
    /// listing). Certificates with RSA keys are preferred over ones this crate cannot encrypt with.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuitableCertificate`] if no certificate fits, [`Error::UnsupportedKeyType`] if
    /// only certificates with keys other than RSA fit.
    pub fn select(
        &self,
        usage: CertificateUsage,
        at: DateTime<Utc>,
    ) -> Result<&MinistryCertificate> {
        let candidates = || {
            self.certificates
                .iter()
                .filter(|c| c.has_usage(&usage) && c.is_valid_at(at))
        };
        let supported = candidates()
            .filter(|c| c.public_key.max_oaep_message_len().is_ok())
            .max_by_key(|c| c.valid_from);
        if let Some(found) = supported {
            return Ok(found);
        }
        match candidates().max_by_key(|c| c.valid_from) {
            Some(unsupported) => Err(Error::UnsupportedKeyType {
                algorithm: unsupported.public_key.algorithm().to_string(),
            }),
            None => Err(Error::NoSuitableCertificate { usage, at }),
        }
    }
}

impl From<Vec<MinistryCertificate>> for MinistryCertificates {
    fn from(certificates: Vec<MinistryCertificate>) -> Self {
        Self::new(certificates)
    }
}
