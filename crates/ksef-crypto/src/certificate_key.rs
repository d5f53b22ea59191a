//! Key pairs for KSeF certificates: RSA or EC P-256, in PKCS#8 (plain or password-encrypted).
//!
//! A [`CertificateKey`] is the private key behind a KSeF certificate: it signs the enrollment CSR
//! ([`CertificateSigningRequest`](crate::CertificateSigningRequest)) and, for an `Offline`
//! certificate, the KOD II QR links ([`certificate_link`](crate::certificate_link)).

use p256::ecdsa::signature::{RandomizedSigner as _, Signer as _};
use pkcs8::der::pem::LineEnding;
use pkcs8::pkcs5::pbes2;
use pkcs8::{
    EncodePrivateKey as _, EncodePublicKey as _, EncryptedPrivateKeyInfo, PrivateKeyInfo,
    SecretDocument,
};
use rsa::rand_core::{OsRng, RngCore as _};
use rsa::signature::SignatureEncoding as _;
use rsa::traits::PublicKeyParts as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{KeyAlgorithm, PrivateKey, PublicKey};
use crate::signer::SignatureAlgorithm;

/// `rsaEncryption`, the algorithm OID of an RSA key in PKCS#8.
const OID_RSA: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey`, the algorithm OID of an EC key in PKCS#8.
const OID_EC: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` (NIST P-256).
pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";

/// The smallest RSA key KSeF accepts.
const MIN_RSA_BITS: usize = 2048;

/// PBKDF2-HMAC-SHA256 iteration count used when encrypting a PKCS#8 key (the OWASP 2023
/// recommendation for PBKDF2-HMAC-SHA256).
pub const PKCS8_PBKDF2_ITERATIONS: u32 = 600_000;

/// PEM label of a plain PKCS#8 key.
pub(crate) const PEM_LABEL: &str = "PRIVATE KEY";
/// PEM label of an encrypted PKCS#8 key.
const ENCRYPTED_PEM_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// The private key of a KSeF certificate: RSA (2048 bits or more) or EC on NIST P-256.
///
/// KSeF recommends EC keys. The key material is zeroized on drop and never printed: `Debug`
/// shows only the algorithm.
///
/// ```
/// use ksef_crypto::CertificateKey;
///
/// # fn main() -> Result<(), ksef_crypto::Error> {
/// let key = CertificateKey::generate_ec_p256()?;
/// let pem = key.to_encrypted_pkcs8_pem(b"correct horse")?;
/// let again = CertificateKey::from_encrypted_pkcs8_pem(&pem, b"correct horse")?;
/// assert_eq!(again.public_key_der()?, key.public_key_der()?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CertificateKey {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Rsa(Box<rsa::RsaPrivateKey>),
    EcP256(p256::SecretKey),
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl From<PrivateKey> for CertificateKey {
    /// Wraps an RSA [`PrivateKey`]; KSeF will refuse it if it is shorter than 2048 bits.
    fn from(key: PrivateKey) -> Self {
        Self {
            inner: Inner::Rsa(Box::new(key.inner)),
        }
    }
}

impl CertificateKey {
    /// Generates an EC key on NIST P-256 (the kind KSeF recommends) with the operating system's
    /// random number generator.
    ///
    /// # Errors
    ///
    /// Does not fail today; the `Result` leaves room for a failing random number generator.
    pub fn generate_ec_p256() -> Result<Self> {
        Ok(Self {
            inner: Inner::EcP256(p256::SecretKey::random(&mut OsRng)),
        })
    }

    /// Generates a 2048-bit RSA key with the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKey`] if generation fails.
    pub fn generate_rsa_2048() -> Result<Self> {
        PrivateKey::generate(MIN_RSA_BITS).map(Self::from)
    }

    /// The key's algorithm: [`KeyAlgorithm::Rsa`] or [`KeyAlgorithm::Ec`] with the P-256 OID.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            Inner::Rsa(key) => KeyAlgorithm::Rsa {
                bits: key.size() * 8,
            },
            Inner::EcP256(_) => KeyAlgorithm::Ec {
                curve: Some(OID_P256.to_owned()),
            },
        }
    }

    /// Decodes a DER PKCS#8 `PrivateKeyInfo` holding an RSA or an EC P-256 key.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the bytes are not PKCS#8, [`Error::UnsupportedPrivateKey`]
    /// for another algorithm or curve, or an RSA key shorter than 2048 bits.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let key = decode_pkcs8_der(der)?;
        if let Inner::Rsa(rsa_key) = &key.inner {
            let bits = rsa_key.size() * 8;
            if bits < MIN_RSA_BITS {
                return Err(Error::UnsupportedPrivateKey {
                    algorithm: format!("RSA ({bits} bits)"),
                });
            }
        }
        Ok(key)
    }

    /// Decodes a PEM private key: `PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` when `password` is
    /// given, as [`from_pkcs8_pem`](Self::from_pkcs8_pem) and
    /// [`from_encrypted_pkcs8_pem`](Self::from_encrypted_pkcs8_pem) do.
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] for malformed PEM, another PEM label, or an encrypted key
    /// without a password; then as the two functions above.
    pub fn from_pem(pem: &str, password: Option<&[u8]>) -> Result<Self> {
        let label = pem
            .trim_start()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.split_once("-----"))
            .map(|(label, _)| label);
        match (label, password) {
            (Some(ENCRYPTED_PEM_LABEL), Some(password)) => {
                Self::from_encrypted_pkcs8_pem(pem, password)
            }
            (Some(ENCRYPTED_PEM_LABEL), None) => Err(Error::PrivateKeyParse {
                format: "encrypted PKCS#8 PEM",
                source: Box::new(crate::error::Cause(
                    "the key is encrypted: a password is needed",
                )),
            }),
            _ => Self::from_pkcs8_pem(pem),
        }
    }

    /// Decodes a PEM `PRIVATE KEY` (PKCS#8) holding an RSA or an EC P-256 key, as written by
    /// `openssl genpkey`.
    ///
    /// # Errors
    ///
    /// As [`from_pkcs8_der`](Self::from_pkcs8_der), with [`Error::PrivateKeyParse`] also for
    /// malformed PEM or another PEM label.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let der = decode_pem(pem, PEM_LABEL, "PKCS#8 PEM")?;
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Decodes a password-encrypted DER PKCS#8 `EncryptedPrivateKeyInfo` (PBES2 with PBKDF2 or
    /// scrypt, and AES-128/192/256-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes).
    ///
    /// # Errors
    ///
    /// [`Error::PrivateKeyParse`] if the bytes are not an `EncryptedPrivateKeyInfo`,
    /// [`Error::PrivateKeyEncryption`] for a wrong password or an unsupported scheme, then as
    /// [`from_pkcs8_der`](Self::from_pkcs8_der).
    pub fn from_encrypted_pkcs8_der(der: &[u8], password: &[u8]) -> Result<Self> {
        let info = EncryptedPrivateKeyInfo::try_from(der).map_err(|e| Error::PrivateKeyParse {
            format: "encrypted PKCS#8 DER",
            source: Box::new(e),
        })?;
        check_kdf_cost(&info.encryption_algorithm)?;
        let plain = info
            .decrypt(password)
            .map_err(|e| Error::PrivateKeyEncryption {
                operation: "decrypt",
                source: Box::new(e),
            })?;
        Self::from_pkcs8_der(plain.as_bytes())
    }

    /// Decodes a PEM `ENCRYPTED PRIVATE KEY`; see
    /// [`from_encrypted_pkcs8_der`](Self::from_encrypted_pkcs8_der).
    ///
    /// # Errors
    ///
    /// As [`from_encrypted_pkcs8_der`](Self::from_encrypted_pkcs8_der), with
    /// [`Error::PrivateKeyParse`] also for malformed PEM or another PEM label.
    pub fn from_encrypted_pkcs8_pem(pem: &str, password: &[u8]) -> Result<Self> {
        let der = decode_pem(pem, ENCRYPTED_PEM_LABEL, "encrypted PKCS#8 PEM")?;
        Self::from_encrypted_pkcs8_der(der.as_bytes(), password)
    }

    /// Encodes the key as DER PKCS#8; the buffer is zeroized on drop.
    ///
    /// # Errors
    ///
    /// [`Error::KeyEncoding`] if encoding fails.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(self.pkcs8_document()?.as_bytes().to_vec()))
    }

    /// Encodes the key as a PEM `PRIVATE KEY` (PKCS#8, LF line endings); the text is zeroized on
    /// drop.
    ///
    /// # Errors
    ///
    /// [`Error::KeyEncoding`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.pkcs8_document()?
            .to_pem(PEM_LABEL, LineEnding::LF)
            .map_err(|e| key_encoding("PKCS#8 PEM", e))
    }

    /// Encrypts the key with `password` into a DER PKCS#8 `EncryptedPrivateKeyInfo`: PBES2 with
    /// PBKDF2-HMAC-SHA256 ([`PKCS8_PBKDF2_ITERATIONS`] iterations, random 16-byte salt) and
    /// AES-256-CBC (random IV), the scheme `openssl pkcs8 -topk8 -v2 aes-256-cbc` uses.
    ///
    /// # Errors
    ///
    /// [`Error::KeyEncoding`] or [`Error::PrivateKeyEncryption`] if encoding or encryption fails.
    pub fn to_encrypted_pkcs8_der(&self, password: &[u8]) -> Result<Vec<u8>> {
        Ok(self.encrypted_document(password)?.as_bytes().to_vec())
    }

    /// Encrypts the key as [`to_encrypted_pkcs8_der`](Self::to_encrypted_pkcs8_der) does and
    /// writes it as a PEM `ENCRYPTED PRIVATE KEY` (LF line endings).
    ///
    /// # Errors
    ///
    /// As [`to_encrypted_pkcs8_der`](Self::to_encrypted_pkcs8_der).
    pub fn to_encrypted_pkcs8_pem(&self, password: &[u8]) -> Result<String> {
        self.encrypted_document(password)?
            .to_pem(ENCRYPTED_PEM_LABEL, LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|e| key_encoding("encrypted PKCS#8 PEM", e))
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`Error::KeyEncoding`] if encoding fails.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let doc = match &self.inner {
            Inner::Rsa(key) => key.to_public_key().to_public_key_der(),
            Inner::EcP256(key) => key.public_key().to_public_key_der(),
        }
        .map_err(|e| key_encoding("public key", e))?;
        Ok(doc.into_vec())
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            Inner::Rsa(key) => PublicKey::from_rsa(key.to_public_key()),
            Inner::EcP256(key) => PublicKey::from_p256(key.public_key()),
        }
    }

    /// The algorithm [`sign`](Self::sign) signs with: [`SignatureAlgorithm::RsaSha256`] for RSA
    /// keys, [`SignatureAlgorithm::EcdsaP256Sha256`] for EC keys.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        match &self.inner {
            Inner::Rsa(_) => SignatureAlgorithm::RsaSha256,
            Inner::EcP256(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    /// Signs `message` (hashed here with SHA-256) with [`signature_algorithm`](Self::signature_algorithm):
    /// RSA PKCS#1 v1.5 (as in XML signatures and RS256 JWTs), or ECDSA P-256 as IEEE P1363
    /// `R || S` (64 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Signature`] if signing fails.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Rsa(key) => {
                let signer =
                    rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa::RsaPrivateKey::clone(key));
                let sig = signer
                    .try_sign(message)
                    .map_err(|e| signature("RSA PKCS#1 v1.5 SHA-256", e))?;
                Ok(sig.to_vec())
            }
            Inner::EcP256(key) => Ok(ecdsa_p256_sign(key, message)?.to_bytes().to_vec()),
        }
    }

    /// Signs `message` for a KSeF QR code KOD II: RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte
    /// salt) for RSA keys, ECDSA P-256 with SHA-256 as IEEE P1363 `R || S` (64 bytes) for EC keys.
    ///
    /// # Errors
    ///
    /// [`Error::Signature`] if signing fails.
    pub fn sign_qr(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Rsa(key) => {
                // The salt length defaults to the digest's output length: 32 bytes for SHA-256.
                let signer = rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(
                    rsa::RsaPrivateKey::clone(key),
                );
                signer
                    .try_sign_with_rng(&mut OsRng, message)
                    .map(|s| s.to_vec())
                    .map_err(|e| signature("RSASSA-PSS SHA-256", e))
            }
            Inner::EcP256(_) => self.sign(message),
        }
    }

    /// Signs a CSR's `CertificationRequestInfo`: `sha256WithRSAEncryption` (PKCS#1 v1.5) or
    /// `ecdsa-with-SHA256` (DER signature, RFC 3279). Returns the algorithm OID, whether the
    /// algorithm identifier carries NULL parameters, and the signature.
    pub(crate) fn sign_csr(&self, message: &[u8]) -> Result<(&'static str, bool, Vec<u8>)> {
        match &self.inner {
            Inner::Rsa(_) => Ok(("1.2.840.113549.1.1.11", true, self.sign(message)?)),
            Inner::EcP256(key) => Ok((
                "1.2.840.10045.4.3.2",
                false,
                ecdsa_p256_sign(key, message)?.to_der().as_bytes().to_vec(),
            )),
        }
    }

    fn pkcs8_document(&self) -> Result<SecretDocument> {
        match &self.inner {
            Inner::Rsa(key) => key.to_pkcs8_der(),
            Inner::EcP256(key) => key.to_pkcs8_der(),
        }
        .map_err(|e| key_encoding("PKCS#8 private key", e))
    }

    fn encrypted_document(&self, password: &[u8]) -> Result<SecretDocument> {
        let plain = self.pkcs8_document()?;
        let info = PrivateKeyInfo::try_from(plain.as_bytes())
            .map_err(|e| key_encoding("PKCS#8 private key", e))?;
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        OsRng.fill_bytes(&mut iv);
        let encryption_error = |e: pkcs8::Error| Error::PrivateKeyEncryption {
            operation: "encrypt",
            source: Box::new(e),
        };
        let params =
            pbes2::Parameters::pbkdf2_sha256_aes256cbc(PKCS8_PBKDF2_ITERATIONS, &salt, &iv)
                .map_err(|e| encryption_error(e.into()))?;
        info.encrypt_with_params(params, password)
            .map_err(encryption_error)
    }
}

/// The one PKCS#8 `PrivateKeyInfo` reader: an RSA key of any size or an EC P-256 key.
fn decode_pkcs8_der(der: &[u8]) -> Result<CertificateKey> {
    let info = PrivateKeyInfo::try_from(der).map_err(|e| Error::PrivateKeyParse {
        format: "PKCS#8 DER",
        source: Box::new(e),
    })?;
    let parse_error = |e: pkcs8::Error| Error::PrivateKeyParse {
        format: "PKCS#8 DER",
        source: Box::new(e),
    };
    let oid = info.algorithm.oid;
    let inner = if oid == OID_RSA {
        Inner::Rsa(Box::new(
            rsa::RsaPrivateKey::try_from(info).map_err(parse_error)?,
        ))
    } else if oid == OID_EC {
        let curve = info
            .algorithm
            .parameters_oid()
            .map(|c| c.to_string())
            .unwrap_or_default();
        if curve != OID_P256 {
            return Err(Error::UnsupportedPrivateKey {
                algorithm: format!("EC (curve {curve})"),
            });
        }
        Inner::EcP256(p256::SecretKey::try_from(info).map_err(parse_error)?)
    } else {
        return Err(Error::UnsupportedPrivateKey {
            algorithm: format!("OID {oid}"),
        });
    };
    Ok(CertificateKey { inner })
}

/// ECDSA P-256 with SHA-256 over `message`.
fn ecdsa_p256_sign(key: &p256::SecretKey, message: &[u8]) -> Result<p256::ecdsa::Signature> {
    p256::ecdsa::SigningKey::from(key)
        .try_sign(message)
        .map_err(|e| signature("ECDSA P-256 SHA-256", e))
}

/// An RSA key (of any size) from DER PKCS#8, for [`PrivateKey`].
pub(crate) fn rsa_from_pkcs8_der(der: &[u8]) -> Result<rsa::RsaPrivateKey> {
    let key = decode_pkcs8_der(der)?;
    match key.inner {
        Inner::Rsa(rsa_key) => Ok(*rsa_key),
        Inner::EcP256(_) => Err(Error::UnsupportedPrivateKey {
            algorithm: key.algorithm().to_string(),
        }),
    }
}

pub(crate) fn decode_pem(
    pem: &str,
    label: &'static str,
    format: &'static str,
) -> Result<SecretDocument> {
    let (found, doc) = SecretDocument::from_pem(pem).map_err(|e| Error::PrivateKeyParse {
        format,
        source: Box::new(e),
    })?;
    if found != label {
        return Err(Error::PrivateKeyParse {
            format,
            source: Box::new(crate::error::Cause("unexpected PEM label")),
        });
    }
    Ok(doc)
}

fn key_encoding(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::KeyEncoding {
        what,
        source: Box::new(e),
    }
}

fn signature(algorithm: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Signature {
        algorithm,
        source: Box::new(e),
    }
}

/// The most PBKDF2 iterations a password-protected key file may ask for: many times what
/// OpenSSL (2048), Java (10000) or current advice (600000 for HMAC-SHA256) use, and still
/// seconds, not hours.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The most memory scrypt may need for a password-protected key file (`128 * N * r * p` bytes):
/// 256 MiB, sixteen times what `openssl pkcs8 -scrypt` uses by default (N=16384, r=8, p=1).
pub const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;

/// Refuses a key derivation a hostile file made too costly, before any of it runs.
pub(crate) fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> Result<()> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let format = "encrypted PKCS#8 key";
    let Some(params) = scheme.pbes2() else {
        return Ok(());
    };
    match &params.kdf {
        Kdf::Pbkdf2(pbkdf2) if pbkdf2.iteration_count > MAX_PBKDF2_ITERATIONS => {
            Err(Error::KdfTooCostly {
                format,
                asked: format!("PBKDF2 with {} iterations", pbkdf2.iteration_count),
                limit: format!("{MAX_PBKDF2_ITERATIONS} PBKDF2 iterations"),
            })
        }
        Kdf::Scrypt(scrypt) => {
            let memory = 128u64
                .saturating_mul(scrypt.cost_parameter)
                .saturating_mul(u64::from(scrypt.block_size))
                .saturating_mul(u64::from(scrypt.parallelization));
            if memory > MAX_SCRYPT_MEMORY {
                Err(Error::KdfTooCostly {
                    format,
                    asked: format!(
                        "scrypt with N={}, r={}, p={} ({memory} bytes of work memory)",
                        scrypt.cost_parameter, scrypt.block_size, scrypt.parallelization
                    ),
                    limit: format!("{MAX_SCRYPT_MEMORY} bytes of scrypt memory"),
                })
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod kdf_tests {
    use super::*;
    use pkcs8::der::Encode as _;
    use pkcs8::pkcs5::pbes2::{Kdf, Parameters, ScryptParams};

    /// An `EncryptedPrivateKeyInfo` whose scheme asks for `kdf` (the ciphertext is junk: the
    /// cost check must come before any decryption).
    fn hostile(kdf: Option<Kdf<'static>>, iterations: u32) -> Vec<u8> {
        let mut params = Parameters::pbkdf2_sha256_aes256cbc(2048, &[7; 16], &[9; 16]).unwrap();
        // Set directly: the constructor itself refuses more than 10^8 iterations.
        if let Kdf::Pbkdf2(pbkdf2) = &mut params.kdf {
            pbkdf2.iteration_count = iterations;
        }
        if let Some(kdf) = kdf {
            params.kdf = kdf;
        }
        EncryptedPrivateKeyInfo {
            encryption_algorithm: params.into(),
            encrypted_data: &[0; 32],
        }
        .to_der()
        .unwrap()
    }

    /// Before the cap, 2^31-1 iterations ran for hours; here one over the cap (which, uncapped,
    /// ran ten million iterations and then failed to decrypt) is refused at once.
    #[test]
    fn a_costly_kdf_is_refused_before_it_runs() {
        let started = std::time::Instant::now();
        for iterations in [MAX_PBKDF2_ITERATIONS + 1, u32::MAX] {
            let error = CertificateKey::from_encrypted_pkcs8_der(&hostile(None, iterations), b"pw")
                .expect_err("too costly");
            assert!(
                matches!(error, Error::KdfTooCostly { .. }),
                "{iterations}: {error:?}"
            );
            assert!(
                error.to_string().contains(&iterations.to_string()),
                "{error}"
            );
        }
        let scrypt = Kdf::Scrypt(ScryptParams {
            salt: &[7; 16],
            cost_parameter: 1 << 20,
            block_size: 8,
            parallelization: 1,
            key_length: None,
        });
        let error = CertificateKey::from_encrypted_pkcs8_der(&hostile(Some(scrypt), 1), b"pw")
            .expect_err("too costly");
        assert!(matches!(error, Error::KdfTooCostly { .. }), "{error:?}");
        assert!(error.to_string().contains("N=1048576"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A usual cost still reaches the decryption (and fails it on the junk ciphertext).
        let error = CertificateKey::from_encrypted_pkcs8_der(&hostile(None, 2048), b"pw")
            .expect_err("junk");
        assert!(
            matches!(error, Error::PrivateKeyEncryption { .. }),
            "{error:?}"
        );
    }
}
