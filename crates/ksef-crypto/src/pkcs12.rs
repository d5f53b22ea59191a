//! PKCS#12 (.p12/.pfx) files: a password-protected private key with its certificate and the
//! certificates of its issuers, the form in which certificate vendors hand out qualified seals and
//! signatures.
//!
//! Reading and writing the container is done by the `p12-keystore` crate (PBES2 with AES, as
//! OpenSSL 3 writes by default, and the legacy PBES1 schemes with 3DES and RC2 of `openssl pkcs12
//! -legacy` and older tools); what is inside is read by this crate's own types: the key by
//! [`CertificateKey`], the certificates by [`Certificate`].

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::certificate_key::CertificateKey;
use crate::error::{Error, Result};
use crate::signer::KeySigner;
use crate::x509::Certificate;

/// The most key-derivation or MAC iterations a PKCS#12 file read may ask for (the limit of the
/// `p12-keystore` reader, checked before deriving anything): far above what vendors and
/// `openssl pkcs12` use (2,048 to 600,000).
pub const PKCS12_MAX_ITERATIONS: u32 = 1_000_000;

/// How many PBKDF2 and MAC iterations [`Pkcs12::to_der`] uses (the count OpenSSL 3 and Java use).
pub const PKCS12_ITERATIONS: u32 = 10_000;

/// A private key with its certificate and the certificates of its issuers, as read from or
/// written to a PKCS#12 file.
///
/// `Debug` shows the certificate's subject and the chain's length, never the key.
///
/// ```no_run
/// use ksef_crypto::Pkcs12;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let password = String::new();
/// let bundle = Pkcs12::from_der(&std::fs::read("seal.p12")?, &password)?;
/// bundle.check_valid_at(std::time::SystemTime::now().into())?;
/// println!("{} (chain of {})", bundle.certificate().subject(), bundle.chain().len());
/// let signer = bundle.into_signer(); // for ksef-xades
/// # let _ = signer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pkcs12 {
    key: CertificateKey,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Pkcs12 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs12")
            .field("certificate", &self.certificate)
            .field("chain", &self.chain.len())
            .field("key", &"{redacted}")
            .finish()
    }
}

impl Pkcs12 {
    /// A bundle of `key`, the `certificate` that certifies it and the certificates of its
    /// issuers (`chain`, the issuer of `certificate` first; may be empty).
    ///
    /// # Errors
    ///
    /// [`Error::KeyCertificateMismatch`] if the certificate certifies another key.
    pub fn new(
        key: CertificateKey,
        certificate: Certificate,
        chain: Vec<Certificate>,
    ) -> Result<Self> {
        if key.public_key() != *certificate.public_key() {
            return Err(Error::KeyCertificateMismatch);
        }
        Ok(Self {
            key,
            certificate,
            chain,
        })
    }

    /// Reads a PKCS#12 file (DER, as `.p12` and `.pfx` files hold it) protected by `password`.
    ///
    /// The key is the first private key of the file for which the file holds a certificate (the
    /// certificate is found by its public key, not by the optional `localKeyId`); the chain is
    /// built from the other certificates by issuer name, up to a self-signed one. Certificates
    /// this crate cannot read (an unsupported key type of a root, say) are left out of the chain.
    /// Validity dates are not checked here: see [`check_valid_at`](Self::check_valid_at).
    ///
    /// # Errors
    ///
    /// - [`Error::NotPkcs12`]: the bytes are not a PKCS#12 file (a PEM file, say);
    /// - [`Error::Pkcs12WrongPassword`]: the password is wrong;
    /// - [`Error::Pkcs12`]: an encryption scheme that is not supported, damaged contents;
    /// - [`Error::Pkcs12NoPrivateKey`], [`Error::Pkcs12NoMatchingCertificate`];
    /// - as [`CertificateKey::from_pkcs8_der`] for a key KSeF cannot use (RSA below 2048 bits,
    ///   a curve other than P-256), and as [`Certificate::from_der`].
    pub fn from_der(der: &[u8], password: &str) -> Result<Self> {
        let archive =
            p12_keystore::Pkcs12Archive::from_pkcs12(der, password).map_err(read_error)?;
        let mut certificates = Vec::with_capacity(archive.certs.len());
        for bag in &archive.certs {
            // A certificate we cannot read cannot be the key's (checked below) and is left out of
            // the chain.
            if let Ok(certificate) = Certificate::from_der(bag.cert.as_der()) {
                certificates.push(certificate);
            }
        }
        if archive.keys.is_empty() {
            return Err(Error::Pkcs12NoPrivateKey {
                certificates: archive.certs.len(),
            });
        }
        let mut first_error = None;
        for bag in &archive.keys {
            // `p12-keystore` keeps the decrypted PKCS#8 in a plain `Vec` it owns; our copy at least
            // is wiped.
            let pkcs8 = Zeroizing::new(bag.key.as_der().to_vec());
            let key = match CertificateKey::from_pkcs8_der(&pkcs8) {
                Ok(key) => key,
                Err(error) => {
                    first_error.get_or_insert(error);
                    continue;
                }
            };
            let public = key.public_key();
            let Some(position) = certificates.iter().position(|c| *c.public_key() == public) else {
                continue;
            };
            let certificate = certificates.swap_remove(position);
            let chain = build_chain(&certificate, certificates);
            return Ok(Self {
                key,
                certificate,
                chain,
            });
        }
        Err(first_error.unwrap_or(Error::Pkcs12NoMatchingCertificate {
            certificates: archive.certs.len(),
        }))
    }

    /// The private key.
    pub fn key(&self) -> &CertificateKey {
        &self.key
    }

    /// The key's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certificates of the issuers, the direct issuer of [`certificate`](Self::certificate)
    /// first (empty when the file holds none).
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// Checks that the key's certificate is valid at `at`.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateExpired`] or [`Error::CertificateNotYetValid`], naming the dates.
    pub fn check_valid_at(&self, at: DateTime<Utc>) -> Result<()> {
        check_validity(&self.certificate, at)
    }

    /// A [`KeySigner`] over the key and its certificate (the chain is not needed for KSeF's
    /// XAdES signatures).
    pub fn into_signer(self) -> KeySigner {
        KeySigner::from_checked_parts(self.key, self.certificate)
    }

    /// Writes the bundle as a PKCS#12 file protected by `password`: the key encrypted with PBES2
    /// (PBKDF2-HMAC-SHA256, AES-256-CBC), the certificates likewise, an HMAC-SHA256 integrity
    /// check, [`PKCS12_ITERATIONS`] iterations each; `openssl pkcs12` 3.x and the usual vendors'
    /// tools read it. The certificate's subject is the entry's friendly name.
    ///
    /// # Errors
    ///
    /// [`Error::Pkcs12`] if the encoder fails, as [`CertificateKey::to_pkcs8_der`] if the key
    /// cannot be encoded.
    pub fn to_der(&self, password: &str) -> Result<Vec<u8>> {
        let pkcs8 = self.key.to_pkcs8_der()?;
        let key = p12_keystore::PrivateKey::from_der(&pkcs8).map_err(write_error)?;
        let mut certificates = Vec::with_capacity(1 + self.chain.len());
        for certificate in std::iter::once(&self.certificate).chain(&self.chain) {
            certificates
                .push(p12_keystore::Certificate::from_der(certificate.der()).map_err(write_error)?);
        }
        let local_key_id = self.certificate.fingerprint_sha256()[..20].to_vec();
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            self.certificate.subject(),
            p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
                local_key_id,
                key,
                certificates,
            )),
        );
        store
            .writer(password)
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(PKCS12_ITERATIONS)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
            .mac_iterations(PKCS12_ITERATIONS)
            .write()
            .map_err(write_error)
    }
}

/// The issuers of `leaf` among `others`, by issuer name, up to a self-signed certificate.
fn build_chain(leaf: &Certificate, mut others: Vec<Certificate>) -> Vec<Certificate> {
    let mut chain = Vec::new();
    let mut current = leaf.clone();
    while current.issuer() != current.subject() {
        let Some(position) = others.iter().position(|c| c.subject() == current.issuer()) else {
            break;
        };
        let issuer = others.swap_remove(position);
        chain.push(issuer.clone());
        current = issuer;
    }
    chain
}

/// Checks that `certificate` is valid at `at`.
pub(crate) fn check_validity(certificate: &Certificate, at: DateTime<Utc>) -> Result<()> {
    let (not_before, not_after) = (certificate.not_before(), certificate.not_after());
    if at > not_after {
        return Err(Error::CertificateExpired {
            subject: certificate.subject().to_owned(),
            not_before,
            not_after,
            at,
        });
    }
    if at < not_before {
        return Err(Error::CertificateNotYetValid {
            subject: certificate.subject().to_owned(),
            not_before,
            not_after,
            at,
        });
    }
    Ok(())
}

fn read_error(error: p12_keystore::error::Error) -> Error {
    use p12_keystore::error::Error as E;
    match error {
        E::MacError(_) => Error::Pkcs12WrongPassword,
        // Without a MAC a wrong password shows as bad padding, or as garbage where the decrypted
        // contents should begin.
        E::UnpadError => Error::Pkcs12WrongPassword,
        E::DerError(e) => Error::NotPkcs12 {
            source: Box::new(e),
        },
        E::InvalidVersion => Error::NotPkcs12 {
            source: Box::new(crate::error::Cause("the PFX version is not 3")),
        },
        E::UnsupportedContentType => Error::NotPkcs12 {
            source: Box::new(crate::error::Cause(
                "the contents are neither data nor encrypted data (public-key protected PKCS#12 \
                 files are not supported)",
            )),
        },
        // The reader's answer both to parameters that are absent and to a key derivation or
        // integrity check asking for more iterations than it accepts (a hostile file's way to
        // hang the process); it does not say which, so the reason names both.
        E::InvalidParameters => Error::Pkcs12 {
            operation: "read",
            reason: format!(
                "its encryption or integrity-check parameters are missing, or ask for more than \
                 {PKCS12_MAX_ITERATIONS} iterations (the most accepted; nothing was derived)"
            ),
        },
        other => Error::Pkcs12 {
            operation: "read",
            reason: other.to_string(),
        },
    }
}

fn write_error(error: p12_keystore::error::Error) -> Error {
    Error::Pkcs12 {
        operation: "written",
        reason: error.to_string(),
    }
}
