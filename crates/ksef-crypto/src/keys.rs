//! RSA keys and RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label).
//!
//! Only RSA is implemented. The Ministry publishes RSA certificates, and KSeF's documentation
//! describes RSA-OAEP only. The official clients also carry an EC scheme (ephemeral P-256 ECDH plus
//! AES-256-GCM), but the Ministry has not documented it and the two clients disagree on it (one
//! hashes the shared secret into the AES key and puts the tag before the ciphertext, the other uses
//! the raw shared secret and appends the tag). Implementing either would be guessing, so an EC key
//! is parsed (certificate listings may carry one) but any attempt to encrypt with it fails with
//! [`Error::UnsupportedKeyType`].

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey};
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

use crate::certificate_key;
use crate::error::{Cause, Error, Result};
use crate::signer::SignatureAlgorithm;

/// Length of a SHA-256 digest, the OAEP hash.
const OAEP_HASH_LEN: usize = 32;

fn oaep() -> rsa::Oaep {
    // `Oaep::new` uses the same digest for the label hash and MGF1, with an empty label.
    rsa::Oaep::new::<sha2::Sha256>()
}

/// The algorithm of a [`PublicKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// An RSA key (the only kind this crate encrypts with).
    Rsa {
        /// Size of the modulus in bits.
        bits: usize,
    },
    /// An elliptic-curve key (`id-ecPublicKey`); not supported for encryption.
    Ec {
        /// The named curve's OID in dotted form, if the key names one.
        curve: Option<String>,
    },
    /// Any other algorithm; not supported for encryption.
    Other {
        /// The algorithm's OID in dotted form.
        oid: String,
    },
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA ({bits} bits)"),
            Self::Ec { curve: Some(curve) } => write!(f, "EC (curve {curve})"),
            Self::Ec { curve: None } => f.write_str("EC"),
            Self::Other { oid } => write!(f, "OID {oid}"),
        }
    }
}

/// A public key taken from a certificate or a SubjectPublicKeyInfo.
///
/// Any algorithm is accepted when parsing, but only RSA keys can encrypt; the others report
/// [`Error::UnsupportedKeyType`] when used. RSA and EC P-256 keys verify signatures
/// ([`PublicKey::verify`]).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: PublicKeyInner,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicKeyInner {
    Rsa(rsa::RsaPublicKey),
    EcP256(p256::PublicKey),
    Unsupported(KeyAlgorithm),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm())
            .finish()
    }
}

impl PublicKey {
    /// Parses a DER-encoded SubjectPublicKeyInfo (as found in certificates and `PUBLIC KEY` PEM).
    ///
    /// # Errors
    ///
    /// [`Error::PublicKeyParse`] if the bytes are not a SubjectPublicKeyInfo or the RSA key in it is
    /// malformed.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let (rest, spki) =
            SubjectPublicKeyInfo::from_der(der).map_err(|e| Error::PublicKeyParse {
                source: Box::new(e),
            })?;
        if !rest.is_empty() {
            return Err(Error::PublicKeyParse {
                source: Box::new(Cause("trailing bytes after the SubjectPublicKeyInfo")),
            });
        }
        Self::from_parsed_spki(&spki)
    }

    pub(crate) fn from_rsa(key: rsa::RsaPublicKey) -> Self {
        Self {
            inner: PublicKeyInner::Rsa(key),
        }
    }

    pub(crate) fn from_p256(key: p256::PublicKey) -> Self {
        Self {
            inner: PublicKeyInner::EcP256(key),
        }
    }

    pub(crate) fn from_parsed_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Self> {
        let oid = &spki.algorithm.algorithm;
        let inner = if *oid == OID_PKCS1_RSAENCRYPTION {
            let key = rsa::RsaPublicKey::from_public_key_der(spki.raw).map_err(|e| {
                Error::PublicKeyParse {
                    source: Box::new(e),
                }
            })?;
            PublicKeyInner::Rsa(key)
        } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match p256::PublicKey::from_public_key_der(spki.raw) {
                Ok(key) if curve.as_deref() == Some(certificate_key::OID_P256) => {
                    PublicKeyInner::EcP256(key)
                }
                _ => PublicKeyInner::Unsupported(KeyAlgorithm::Ec { curve }),
            }
        } else {
            PublicKeyInner::Unsupported(KeyAlgorithm::Other {
                oid: oid.to_id_string(),
            })
        };
        Ok(Self { inner })
    }

    /// The key's algorithm (and, for RSA, its size).
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            PublicKeyInner::Rsa(key) => KeyAlgorithm::Rsa {
                bits: key.size() * 8,
            },
            PublicKeyInner::EcP256(_) => KeyAlgorithm::Ec {
                curve: Some(certificate_key::OID_P256.to_owned()),
            },
            PublicKeyInner::Unsupported(algorithm) => algorithm.clone(),
        }
    }

    /// Checks `signature` over `data`: RSA PKCS#1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256
    /// given as the 64-byte `R || S`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyAlgorithmMismatch`] if the key is not of the algorithm's kind,
    /// [`Error::SignatureInvalid`] if the signature does not verify.
    pub fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        use p256::ecdsa::signature::Verifier as _;
        let invalid = || Error::SignatureInvalid {
            algorithm: algorithm.name(),
        };
        match (algorithm, &self.inner) {
            (SignatureAlgorithm::RsaSha256, PublicKeyInner::Rsa(key)) => {
                let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone());
                let signature =
                    rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| invalid())?;
                verifier.verify(data, &signature).map_err(|_| invalid())
            }
            (SignatureAlgorithm::EcdsaP256Sha256, PublicKeyInner::EcP256(key)) => {
                let verifier = p256::ecdsa::VerifyingKey::from(key);
                let signature =
                    p256::ecdsa::Signature::from_slice(signature).map_err(|_| invalid())?;
                verifier.verify(data, &signature).map_err(|_| invalid())
            }
            _ => Err(Error::KeyAlgorithmMismatch {
                algorithm: algorithm.name(),
                key: self.algorithm().to_string(),
            }),
        }
    }

    /// The longest message, in bytes, that [`PublicKey::encrypt_oaep`] accepts under this key.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKeyType`] for keys other than RSA.
    pub fn max_oaep_message_len(&self) -> Result<usize> {
        let key = self.rsa()?;
        Ok(key.size().saturating_sub(2 * OAEP_HASH_LEN + 2))
    }

    /// Encrypts `message` with RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label), the scheme KSeF
    /// uses for session keys and KSeF tokens. The output is randomized.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKeyType`] for keys other than RSA, [`Error::MessageTooLong`] when the
    /// message does not fit the key, [`Error::RsaEncryption`] if the RSA library fails (for example
    /// the random number generator).
    pub fn encrypt_oaep(&self, message: &[u8]) -> Result<Vec<u8>> {
        let max = self.max_oaep_message_len()?;
        if message.len() > max {
            return Err(Error::MessageTooLong {
                len: message.len(),
                max,
            });
        }
        self.rsa()?
            .encrypt(&mut OsRng, oaep(), message)
            .map_err(|e| Error::RsaEncryption {
                source: Box::new(e),
            })
    }

    fn rsa(&self) -> Result<&rsa::RsaPublicKey> {
        match &self.inner {
            PublicKeyInner::Rsa(key) => Ok(key),
            PublicKeyInner::EcP256(_) | PublicKeyInner::Unsupported(_) => {
                Err(Error::UnsupportedKeyType {
                    algorithm: self.algorithm().to_string(),
                })
            }
        }
    }
}

/// An RSA private key, for decrypting what was encrypted to the matching certificate (the
/// simulator's side of KSeF, and tests).
///
/// The key material is zeroized on drop and never printed: `Debug` shows only the key size.
///
/// Decryption uses the `rsa` crate, whose RSA decryption is not constant-time (the "Marvin"
/// timing side channel, RUSTSEC-2023-0071). That is acceptable for a local simulator and tests,
/// but do not expose this decryption as a network service to untrusted parties.
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) inner: rsa::RsaPrivateKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &(self.inner.size() * 8))
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a fresh RSA key of `bits` bits (at least 2048 for anything but tests) with the
    /// operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKey`] if the size is not supported or generation fails.
    pub fn generate(bits: usize) -> Result<Self> {
        let inner = rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| Error::PrivateKey {
            bits,
            source: Box::new(e),
        })?;
        Ok(Self { inner })
    }

    /// Decodes a DER-encoded PKCS#8 `PrivateKeyInfo` holding an RSA key (of any size; the
    /// PKCS#8 reader is [`CertificateKey`](crate::CertificateKey)'s).
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the bytes are not PKCS#8, [`Error::UnsupportedPrivateKey`]
    /// if the key is not RSA.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        certificate_key::rsa_from_pkcs8_der(der).map(|inner| Self { inner })
    }

    /// Decodes a PEM `PRIVATE KEY` (PKCS#8) holding an RSA key, as written by `openssl genpkey`.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the text is not PKCS#8 PEM, then as
    /// [`from_pkcs8_der`](Self::from_pkcs8_der).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let der = certificate_key::decode_pem(pem, certificate_key::PEM_LABEL, "PKCS#8 PEM")?;
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Decodes a DER-encoded PKCS#1 `RSAPrivateKey`.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the bytes are not such a key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map(|inner| Self { inner })
            .map_err(|e| Error::PrivateKeyParse {
                format: "PKCS#1 DER",
                source: Box::new(e),
            })
    }

    /// Decodes a PEM `RSA PRIVATE KEY` (PKCS#1).
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the text is not such a key.
    pub fn from_pkcs1_pem(pem: &str) -> Result<Self> {
        rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .map(|inner| Self { inner })
            .map_err(|e| Error::PrivateKeyParse {
                format: "PKCS#1 PEM",
                source: Box::new(e),
            })
    }

    /// Encodes the key as DER PKCS#8 (e.g. to build a test certificate for it); the buffer is
    /// zeroized on drop.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKey`] if encoding fails.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc = self.inner.to_pkcs8_der().map_err(|e| Error::PrivateKey {
            bits: self.inner.size() * 8,
            source: Box::new(e),
        })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: PublicKeyInner::Rsa(self.inner.to_public_key()),
        }
    }

    /// Decrypts an RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) ciphertext; the plaintext is
    /// zeroized on drop.
    ///
    /// # Errors
    ///
    /// [`Error::RsaDecryption`] for a wrong key or a damaged ciphertext.
    pub fn decrypt_oaep(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.inner
            .decrypt(oaep(), ciphertext)
            .map(Zeroizing::new)
            .map_err(|_| Error::RsaDecryption {
                ciphertext_len: ciphertext.len(),
            })
    }
}
