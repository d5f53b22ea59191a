//! The Ministry of Finance's public-key certificates (`GET /security/public-key-certificates`) and
//! the choice of the one to encrypt with.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateUsage};

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::x509::Certificate;

/// A parsed Ministry certificate: the listing's dates, usages and key id, plus the certificate's own
/// validity and public key.
#[derive(Clone, Debug)]
pub struct MinistryCertificate {
    certificate: Certificate,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    usage: Vec<PublicKeyCertificateUsage>,
    public_key_id: Option<String>,
}

impl MinistryCertificate {
    /// Decodes and parses one entry of the spec's listing (`PublicKeyCertificate`).
    ///
    /// A certificate whose key is not RSA is accepted here (listings may carry one); it fails with
    /// [`Error::UnsupportedKeyType`] only when used to encrypt.
    ///
    /// # Errors
    ///
    /// [`Error::Base64`] if `certificate` is not base64, [`Error::CertificateParse`] if it is not a
    /// DER X.509 certificate, [`Error::PublicKeyParse`] if its RSA key is malformed.
    pub fn from_entry(entry: &PublicKeyCertificate) -> Result<Self> {
        let der = STANDARD
            .decode(entry.certificate.trim())
            .map_err(|e| Error::base64("certificate", e))?;
        Ok(Self {
            certificate: Certificate::from_der(&der)?,
            valid_from: entry.valid_from.with_timezone(&Utc),
            valid_to: entry.valid_to.with_timezone(&Utc),
            usage: entry.usage.clone(),
            public_key_id: Some(entry.public_key_id.clone()),
        })
    }

    /// A certificate obtained outside a listing (e.g. a file): listed for `usage`, with its own
    /// validity as the listed one and no `publicKeyId`.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateParse`] if `der` is not a DER X.509 certificate,
    /// [`Error::PublicKeyParse`] if its RSA key is malformed.
    pub fn from_der(
        der: impl AsRef<[u8]>,
        usage: impl IntoIterator<Item = PublicKeyCertificateUsage>,
    ) -> Result<Self> {
        let certificate = Certificate::from_der(der.as_ref())?;
        Ok(Self {
            valid_from: certificate.not_before(),
            valid_to: certificate.not_after(),
            certificate,
            usage: usage.into_iter().collect(),
            public_key_id: None,
        })
    }

    /// The certificate in DER.
    pub fn der(&self) -> &[u8] {
        self.certificate.der()
    }

    /// The certificate itself (subject, issuer, serial, validity, public key).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.certificate.public_key()
    }

    /// The listed `publicKeyId`, if any.
    pub fn public_key_id(&self) -> Option<&str> {
        self.public_key_id.as_deref()
    }

    /// The listed usages.
    pub fn usage(&self) -> &[PublicKeyCertificateUsage] {
        &self.usage
    }

    /// Whether the listed usages include `usage`.
    pub fn has_usage(&self, usage: &PublicKeyCertificateUsage) -> bool {
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
        self.certificate.not_before()
    }

    /// End of the certificate's own validity (`notAfter`).
    pub fn not_after(&self) -> DateTime<Utc> {
        self.certificate.not_after()
    }

    /// Whether `at` lies within both the listed validity and the certificate's own (bounds
    /// included).
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from <= at && at <= self.valid_to && self.certificate.is_valid_at(at)
    }

    pub(crate) fn require_usage(&self, required: PublicKeyCertificateUsage) -> Result<()> {
        if self.has_usage(&required) {
            Ok(())
        } else {
            Err(Error::WrongCertificateUsage { required })
        }
    }
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
        entries: impl IntoIterator<Item = &'a PublicKeyCertificate>,
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
        usage: PublicKeyCertificateUsage,
        at: DateTime<Utc>,
    ) -> Result<&MinistryCertificate> {
        let candidates = || {
            self.certificates
                .iter()
                .filter(|c| c.has_usage(&usage) && c.is_valid_at(at))
        };
        let supported = candidates()
            .filter(|c| c.public_key().max_oaep_message_len().is_ok())
            .max_by_key(|c| c.valid_from);
        if let Some(found) = supported {
            return Ok(found);
        }
        match candidates().max_by_key(|c| c.valid_from) {
            Some(unsupported) => Err(Error::UnsupportedKeyType {
                algorithm: unsupported.public_key().algorithm().to_string(),
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
