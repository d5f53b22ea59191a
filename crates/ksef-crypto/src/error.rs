//! The crate's error type.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::certificate::CertificateUsage;

/// A boxed cause kept behind [`std::error::Error::source`], so that the error types of the
/// cryptography crates we build on do not become part of our public API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `ksef-crypto`.
///
/// Messages never contain key material, tokens or plaintext; they name what failed and, where it
/// helps, lengths, usages and instants. Causes from the underlying libraries are reachable through
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key, IV or decrypted key had the wrong number of bytes.
    #[error("{what} must be {expected} bytes long, got {actual}")]
    InvalidLength {
        /// What was measured, e.g. `"AES-256 key"` or `"initialization vector"`.
        what: &'static str,
        /// The required length in bytes.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },

    /// A base64 text (standard alphabet, padded) could not be decoded.
    #[error("{field} is not valid base64")]
    Base64 {
        /// Which field held the text, e.g. `"certificate"` or `"encryptedSymmetricKey"`.
        field: &'static str,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random {
        /// The generator's error.
        #[source]
        source: BoxError,
    },

    /// A certificate is not a well-formed DER-encoded X.509 certificate.
    #[error("the certificate is not a well-formed DER-encoded X.509 certificate")]
    CertificateParse {
        /// The parser's error.
        #[source]
        source: BoxError,
    },

    /// A public key (a SubjectPublicKeyInfo, or the RSA key inside one) could not be decoded.
    #[error("the public key could not be decoded")]
    PublicKeyParse {
        /// The decoder's error.
        #[source]
        source: BoxError,
    },

    /// A private key could not be decoded from the given PKCS#8 or PKCS#1 encoding.
    #[error("the RSA private key could not be decoded from {format}")]
    PrivateKeyParse {
        /// The encoding that was tried, e.g. `"PKCS#8 DER"`.
        format: &'static str,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },

    /// A private key could not be generated or encoded.
    #[error("the RSA private key could not be generated or encoded ({bits} bits)")]
    PrivateKey {
        /// Size of the key in bits.
        bits: usize,
        /// The key library's error.
        #[source]
        source: BoxError,
    },

    /// The key is not an RSA key.
    ///
    /// KSeF encryption is implemented for RSA keys only: the Ministry publishes RSA certificates,
    /// and the EC scheme found in the official clients is undocumented and implemented differently
    /// by each of them (see the crate documentation).
    #[error("unsupported public key type {algorithm}: only RSA keys are supported")]
    UnsupportedKeyType {
        /// The key's algorithm, e.g. `"EC (curve 1.2.840.10045.3.1.7)"` or a dotted OID.
        algorithm: String,
    },

    /// The certificate is not listed for the operation it was used for.
    #[error("the certificate is not meant for {required}")]
    WrongCertificateUsage {
        /// The usage the operation needs.
        required: CertificateUsage,
    },

    /// No certificate with the requested usage is valid at the requested instant.
    #[error(
        "no Ministry certificate for {usage} is valid at {}",
        .at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )]
    NoSuitableCertificate {
        /// The usage that was asked for.
        usage: CertificateUsage,
        /// The instant at which the certificate had to be valid.
        at: DateTime<Utc>,
    },

    /// The message is too long for RSA-OAEP with SHA-256 under this key.
    #[error("the message is {len} bytes long, RSA-OAEP-SHA256 under this key takes at most {max}")]
    MessageTooLong {
        /// Length of the message in bytes.
        len: usize,
        /// The longest message the key can encrypt, in bytes.
        max: usize,
    },

    /// RSA-OAEP encryption failed.
    #[error("RSA-OAEP encryption failed")]
    RsaEncryption {
        /// The RSA library's error.
        #[source]
        source: BoxError,
    },

    /// RSA-OAEP decryption failed: wrong private key, or a damaged or forged ciphertext.
    ///
    /// Deliberately carries no further detail about why the padding check failed.
    #[error("RSA-OAEP decryption of a {ciphertext_len}-byte ciphertext failed")]
    RsaDecryption {
        /// Length of the ciphertext in bytes.
        ciphertext_len: usize,
    },

    /// A decrypted KSeF-token payload is not `"{token}|{timestampMs}"`.
    #[error("the decrypted KSeF-token payload is malformed: {reason}")]
    MalformedTokenPayload {
        /// What is wrong with it (never the payload itself).
        reason: &'static str,
    },

    /// AES-256-CBC ciphertext whose length is zero or not a multiple of 16 bytes.
    #[error(
        "the ciphertext is {len} bytes long; AES-256-CBC ciphertext is a non-zero multiple of 16 bytes"
    )]
    TruncatedCiphertext {
        /// Length of the ciphertext in bytes.
        len: u64,
    },

    /// The PKCS#7 padding of the last block is invalid: wrong key or IV, or damaged ciphertext.
    #[error(
        "invalid PKCS#7 padding after decrypting {len} bytes (wrong key or IV, or damaged ciphertext)"
    )]
    InvalidPadding {
        /// Length of the ciphertext in bytes.
        len: u64,
    },

    /// Reading from or writing to the wrapped reader or writer failed.
    #[error("I/O error")]
    Io {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn base64(field: &'static str, source: base64::DecodeError) -> Self {
        Self::Base64 {
            field,
            source: Box::new(source),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Self::Io { source }
    }
}

/// Turns an [`Error`] into an [`std::io::Error`]: [`Error::Io`] gives back the I/O error it holds,
/// every other variant becomes [`std::io::ErrorKind::InvalidData`] with the `Error` inside (reach it
/// with [`std::io::Error::get_ref`] and `downcast_ref::<Error>()`).
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Io { source } => source,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// A cause that is only a fixed message, for the few failures we detect ourselves.
#[derive(Debug)]
pub(crate) struct Cause(pub(crate) &'static str);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Cause {}
