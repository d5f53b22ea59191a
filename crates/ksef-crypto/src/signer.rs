//! Who produces a signature with a certificate's key: the [`Signer`] trait (a key that may live in a
//! file, an HSM, a PKCS#11 token or a remote service) and [`KeySigner`], a [`CertificateKey`] paired
//! with its [`Certificate`].

use crate::certificate_key::CertificateKey;
use crate::error::{Error, Result};
use crate::x509::Certificate;

/// URI of RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// URI of ECDSA with SHA-256 (the signature value is the raw `R || S`).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// A signature algorithm of KSeF's XAdES signatures (and the simulator's RS256 tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (RSA keys of at least 2048 bits).
    RsaSha256,
    /// ECDSA on P-256 with SHA-256; the signature is the 64-byte `R || S`, not DER.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The XML Signature algorithm URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => RSA_SHA256,
            Self::EcdsaP256Sha256 => ECDSA_SHA256,
        }
    }

    /// The algorithm with this URI, if supported.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            RSA_SHA256 => Some(Self::RsaSha256),
            ECDSA_SHA256 => Some(Self::EcdsaP256Sha256),
            _ => None,
        }
    }

    /// A short human-readable name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::RsaSha256 => "RSA PKCS#1 v1.5 SHA-256",
            Self::EcdsaP256Sha256 => "ECDSA P-256 SHA-256",
        }
    }
}

/// Produces signature values (for KSeF: XML signatures) with a private key that may live anywhere (a
/// file, an HSM, a PKCS#11 token, a remote signing service).
///
/// `sign` receives the canonical `SignedInfo` octets and must hash them itself (SHA-256) and sign:
/// for [`SignatureAlgorithm::RsaSha256`] an RSA PKCS#1 v1.5 signature, for
/// [`SignatureAlgorithm::EcdsaP256Sha256`] the 64-byte big-endian `R || S` (convert a DER
/// `ECDSA-Sig-Value` first).
pub trait Signer {
    /// The signature algorithm.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// The signing certificate in DER, embedded in `KeyInfo` and named in `SigningCertificate`.
    fn certificate_der(&self) -> &[u8];

    /// Signs `data`.
    ///
    /// # Errors
    ///
    /// Whatever the key store reports, best wrapped in [`Error::Signature`].
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>>;
}

impl<S: Signer + ?Sized> Signer for &S {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }

    fn certificate_der(&self) -> &[u8] {
        (**self).certificate_der()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
        (**self).sign(data)
    }
}

/// A [`Signer`] over an in-memory RSA (≥ 2048 bits) or P-256 [`CertificateKey`] (read from PKCS#8,
/// plain or password-encrypted, PEM or DER), paired with its certificate.
///
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct KeySigner {
    key: CertificateKey,
    certificate: Certificate,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner")
            .field("algorithm", &self.algorithm())
            .field("certificate", &self.certificate)
            .field("key", &"{redacted}")
            .finish()
    }
}

impl KeySigner {
    /// A signer from a key and the certificate that certifies it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCertificateMismatch`] if the certificate certifies another key.
    pub fn new(key: CertificateKey, certificate: Certificate) -> Result<Self> {
        if key.public_key() != *certificate.public_key() {
            return Err(Error::KeyCertificateMismatch);
        }
        Ok(Self { key, certificate })
    }

    /// A signer from a key and certificate already known to match.
    pub(crate) fn from_checked_parts(key: CertificateKey, certificate: Certificate) -> Self {
        Self { key, certificate }
    }

    /// A signer from a PKCS#12 file (`.p12`/`.pfx`, DER) protected by `password`, whose
    /// certificate must be valid at `at`; see [`Pkcs12::from_der`](crate::Pkcs12::from_der).
    ///
    /// # Errors
    ///
    /// As [`Pkcs12::from_der`](crate::Pkcs12::from_der) and
    /// [`Pkcs12::check_valid_at`](crate::Pkcs12::check_valid_at).
    pub fn from_pkcs12(
        der: &[u8],
        password: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self> {
        let bundle = crate::Pkcs12::from_der(der, password)?;
        bundle.check_valid_at(at)?;
        Ok(bundle.into_signer())
    }

    /// A signer from an unencrypted PKCS#8 DER key and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// As [`CertificateKey::from_pkcs8_der`] and [`Certificate::from_pem_or_der`];
    /// [`Error::KeyCertificateMismatch`] if the key does not belong to the certificate.
    pub fn from_pkcs8_der(key_der: &[u8], certificate: &[u8]) -> Result<Self> {
        Self::new(
            CertificateKey::from_pkcs8_der(key_der)?,
            Certificate::from_pem_or_der(certificate)?,
        )
    }

    /// A signer from a PKCS#8 PEM key (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` when `password` is
    /// given) and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// As [`CertificateKey::from_pem`] and [`from_pkcs8_der`](Self::from_pkcs8_der).
    pub fn from_pkcs8_pem(
        key_pem: &str,
        password: Option<&[u8]>,
        certificate: &[u8],
    ) -> Result<Self> {
        Self::new(
            CertificateKey::from_pem(key_pem, password)?,
            Certificate::from_pem_or_der(certificate)?,
        )
    }

    /// A signer from a password-encrypted PKCS#8 DER key (PBES2) and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// As [`CertificateKey::from_encrypted_pkcs8_der`] and [`from_pkcs8_der`](Self::from_pkcs8_der).
    pub fn from_encrypted_pkcs8_der(
        key_der: &[u8],
        password: &[u8],
        certificate: &[u8],
    ) -> Result<Self> {
        Self::new(
            CertificateKey::from_encrypted_pkcs8_der(key_der, password)?,
            Certificate::from_pem_or_der(certificate)?,
        )
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The key.
    pub fn key(&self) -> &CertificateKey {
        &self.key
    }
}

impl Signer for KeySigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.signature_algorithm()
    }

    fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.key.sign(data)
    }
}
