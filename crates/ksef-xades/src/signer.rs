//! Who produces the signature value: the [`Signer`] trait and the file-based [`KeySigner`].

use p256::ecdsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use crate::Error;
use crate::certificate::Certificate;

/// URI of RSA PKCS#1 v1.5 with SHA-256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// URI of ECDSA with SHA-256 (the signature value is the raw `R || S`).
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// A signature algorithm this crate signs and verifies with.
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
}

/// Produces XML signature values with a private key that may live anywhere (a file, an HSM, a PKCS#11
/// token, a remote signing service).
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
    /// Whatever the key store reports, best wrapped in [`Error::SigningFailed`].
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error>;
}

impl<S: Signer + ?Sized> Signer for &S {
    fn algorithm(&self) -> SignatureAlgorithm {
        (**self).algorithm()
    }

    fn certificate_der(&self) -> &[u8] {
        (**self).certificate_der()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        (**self).sign(data)
    }
}

enum Key {
    Rsa(Box<rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>>),
    Ec(p256::ecdsa::SigningKey),
}

/// A [`Signer`] over an in-memory RSA (≥ 2048 bits) or P-256 private key, read from PKCS#8 (plain or
/// password-encrypted, PEM or DER), paired with its certificate.
///
/// Its `Debug` output never shows the key.
pub struct KeySigner {
    key: Key,
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

fn bad_key(reason: impl Into<String>) -> Error {
    Error::InvalidKey {
        reason: reason.into(),
    }
}

impl KeySigner {
    /// A signer from an unencrypted PKCS#8 DER key and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the key is neither RSA (≥ 2048 bits) nor P-256 or does not match the
    /// certificate; [`Error::InvalidCertificate`] if the certificate cannot be read.
    pub fn from_pkcs8_der(key_der: &[u8], certificate: &[u8]) -> Result<Self, Error> {
        let certificate = Certificate::from_pem_or_der(certificate)?;
        let spki = certificate.spki_der()?;
        let key = if let Ok(rsa_key) =
            <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(key_der)
        {
            if rsa_key.size() * 8 < 2048 {
                return Err(bad_key("RSA keys must have at least 2048 bits"));
            }
            let cert_key = rsa::RsaPublicKey::from_public_key_der(&spki)
                .map_err(|_| bad_key("the certificate does not hold an RSA key"))?;
            if cert_key != rsa_key.to_public_key() {
                return Err(bad_key("the key does not belong to the certificate"));
            }
            Key::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(rsa_key)))
        } else if let Ok(secret) =
            <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_der(key_der)
        {
            let signing = p256::ecdsa::SigningKey::from(secret);
            let cert_key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki)
                .map_err(|_| bad_key("the certificate does not hold a P-256 key"))?;
            if &cert_key != signing.verifying_key() {
                return Err(bad_key("the key does not belong to the certificate"));
            }
            Key::Ec(signing)
        } else {
            return Err(bad_key(
                "not an unencrypted PKCS#8 RSA or P-256 private key",
            ));
        };
        Ok(Self { key, certificate })
    }

    /// A signer from a PKCS#8 PEM key (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` when `password` is
    /// given) and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// As for [`from_pkcs8_der`](Self::from_pkcs8_der); also [`Error::InvalidKey`] if the PEM cannot be
    /// read, an encrypted key comes without a password, or the password is wrong.
    pub fn from_pkcs8_pem(
        key_pem: &str,
        password: Option<&[u8]>,
        certificate: &[u8],
    ) -> Result<Self, Error> {
        let (label, document) = pkcs8::SecretDocument::from_pem(key_pem)
            .map_err(|_| bad_key("the key is not valid PEM"))?;
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(document.as_bytes(), certificate),
            "ENCRYPTED PRIVATE KEY" => {
                let password = password
                    .ok_or_else(|| bad_key("the key is encrypted: a password is needed"))?;
                Self::from_encrypted_pkcs8_der(document.as_bytes(), password, certificate)
            }
            other => Err(bad_key(format!(
                "PEM label {other:?} is not PRIVATE KEY or ENCRYPTED PRIVATE KEY"
            ))),
        }
    }

    /// A signer from a password-encrypted PKCS#8 DER key (PBES2) and a certificate (PEM or DER).
    ///
    /// # Errors
    ///
    /// As for [`from_pkcs8_der`](Self::from_pkcs8_der); also [`Error::InvalidKey`] if the key cannot be
    /// decrypted with `password`.
    pub fn from_encrypted_pkcs8_der(
        key_der: &[u8],
        password: &[u8],
        certificate: &[u8],
    ) -> Result<Self, Error> {
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(key_der)
            .map_err(|_| bad_key("not an encrypted PKCS#8 key"))?;
        let plain = info
            .decrypt(password)
            .map_err(|_| bad_key("the key cannot be decrypted (wrong password?)"))?;
        let plain = Zeroizing::new(plain.as_bytes().to_vec());
        Self::from_pkcs8_der(&plain, certificate)
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }
}

impl Signer for KeySigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        match self.key {
            Key::Rsa(_) => SignatureAlgorithm::RsaSha256,
            Key::Ec(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.key {
            Key::Rsa(key) => {
                let signature: rsa::pkcs1v15::Signature =
                    rsa::signature::Signer::try_sign(key.as_ref(), data).map_err(|err| {
                        Error::SigningFailed {
                            source: Box::new(err),
                        }
                    })?;
                Ok(signature.to_vec())
            }
            Key::Ec(key) => {
                let signature: p256::ecdsa::Signature =
                    key.try_sign(data).map_err(|err| Error::SigningFailed {
                        source: Box::new(err),
                    })?;
                Ok(signature.to_bytes().to_vec())
            }
        }
    }
}

/// Checks `signature` over `data` with the public key of `certificate`.
pub(crate) fn verify_with_certificate(
    algorithm: SignatureAlgorithm,
    certificate: &Certificate,
    data: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    use p256::ecdsa::signature::Verifier as _;
    let spki = certificate.spki_der()?;
    match algorithm {
        SignatureAlgorithm::RsaSha256 => {
            let key = rsa::RsaPublicKey::from_public_key_der(&spki).map_err(|_| {
                Error::InvalidCertificate {
                    reason: "rsa-sha256 signature, but the certificate holds no RSA key".into(),
                }
            })?;
            let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature)
                .map_err(|_| Error::InvalidSignatureValue)?;
            verifier
                .verify(data, &signature)
                .map_err(|_| Error::InvalidSignatureValue)
        }
        SignatureAlgorithm::EcdsaP256Sha256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).map_err(|_| {
                Error::InvalidCertificate {
                    reason: "ecdsa-sha256 signature, but the certificate holds no P-256 key".into(),
                }
            })?;
            let signature = p256::ecdsa::Signature::from_slice(signature)
                .map_err(|_| Error::InvalidSignatureValue)?;
            key.verify(data, &signature)
                .map_err(|_| Error::InvalidSignatureValue)
        }
    }
}
