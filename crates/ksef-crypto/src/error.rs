//! The crate's error type.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::limits::Limit;
use ksef_model::types::PublicKeyCertificateUsage;

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

    /// A package's `compressionType` is neither `Zip` nor `TarGz`, the archive formats this crate
    /// writes and reads.
    #[error("compressionType {value:?} is not supported: only Zip and TarGz are")]
    UnsupportedCompressionType {
        /// The value as given.
        value: String,
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
    #[error("the private key could not be decoded from {format}")]
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
        required: PublicKeyCertificateUsage,
    },

    /// No certificate with the requested usage is valid at the requested instant.
    #[error(
        "no Ministry certificate for {usage} is valid at {}",
        .at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )]
    NoSuitableCertificate {
        /// The usage that was asked for.
        usage: PublicKeyCertificateUsage,
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

    /// A batch or an export package exceeds one of its limits.
    ///
    /// Batch limits are checked before any work starts where the inputs determine them (invoice
    /// count, invoice sizes); the archive size and part count are checked as the archive is
    /// produced, and fail as soon as they are exceeded.
    #[error(
        "{limit} exceeded{}: {actual} > {max}",
        .file.as_deref().map(|f| format!(" by {f:?}")).unwrap_or_default()
    )]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
        /// The file that crossed it (an invoice or archive entry name), when one did.
        file: Option<String>,
        /// The value that was reached (bytes, a count or a ratio, as `limit` says).
        actual: u64,
        /// The largest value allowed.
        max: u64,
    },

    /// A file name cannot be an archive entry: empty, a path, or otherwise unsafe to unpack.
    #[error("invalid file name {name:?}: {reason}")]
    InvalidFileName {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Two files in one archive have the same name.
    #[error("duplicate file name {name:?}")]
    DuplicateFileName {
        /// The repeated name.
        name: String,
    },

    /// An invoice reader yielded a different number of bytes than its declared size.
    #[error("invoice {file:?} was declared as {declared} bytes but has {actual}")]
    InvoiceSizeMismatch {
        /// The invoice's file name.
        file: String,
        /// The declared size.
        declared: u64,
        /// The number of bytes read (up to one past the declared size).
        actual: u64,
    },

    /// An invoice's bytes no longer have the SHA-256 it was checked with
    /// ([`BatchInvoice::expect_sha256`](crate::BatchInvoice::expect_sha256)): the file changed
    /// after it was validated.
    #[error("invoice {file:?} changed after it was checked; check it again before sending")]
    InvoiceChanged {
        /// The invoice's file name.
        file: String,
    },

    /// Writing or reading a ZIP or tar.gz archive failed (the archive is malformed, or an entry's
    /// CRC does not match).
    #[error("{format} archive error{}", .file.as_deref().map(|f| format!(" in {f:?}")).unwrap_or_default())]
    Archive {
        /// `"ZIP"` or `"tar.gz"`.
        format: &'static str,
        /// The entry being processed, when known.
        file: Option<String>,
        /// The archive library's error.
        #[source]
        source: BoxError,
    },

    /// A downloaded export part does not match what the export status declared.
    #[error("export part {ordinal_number}: {what} mismatch (expected {expected}, got {actual})")]
    PartMismatch {
        /// The part's `ordinalNumber`.
        ordinal_number: u32,
        /// What differs: `"encrypted size"`, `"encrypted hash"`, `"size"` or `"hash"`.
        what: &'static str,
        /// The declared value (sizes in bytes, hashes in base64).
        expected: String,
        /// The value found.
        actual: String,
    },

    /// Export parts were given out of order, or some are missing.
    #[error("export part {actual} given where part {expected} was expected")]
    PartOrder {
        /// The ordinal number that was due.
        expected: u32,
        /// The ordinal number that was given (0 if the parts ran out).
        actual: u32,
    },

    /// The `_metadata.json` of an export package is not valid JSON of the documented shape.
    #[error("_metadata.json of the export package is malformed")]
    ExportMetadata {
        /// The JSON parser's error.
        #[source]
        source: BoxError,
    },

    /// A private key is of an algorithm (or curve) that KSeF certificates do not use.
    ///
    /// KSeF certificates take RSA keys of 2048 bits or more, or EC keys on NIST P-256.
    #[error(
        "unsupported private key: {algorithm}; KSeF certificates use RSA (2048 bits or more) or EC P-256"
    )]
    UnsupportedPrivateKey {
        /// What the key is, e.g. `"RSA (1024 bits)"` or `"OID 1.3.101.112"`.
        algorithm: String,
    },

    /// A password-encrypted PKCS#8 private key could not be decrypted (wrong password, damaged
    /// data or an unsupported encryption scheme), or a key could not be encrypted.
    ///
    /// The password never appears in the message.
    #[error("could not {operation} the password-protected PKCS#8 private key")]
    PrivateKeyEncryption {
        /// `"encrypt"` or `"decrypt"`.
        operation: &'static str,
        /// The PKCS#5/PKCS#8 library's error.
        #[source]
        source: BoxError,
    },

    /// A password-protected key file asks for a key derivation costlier than any real one (a
    /// PBKDF2 iteration count or scrypt parameters that would take hours or gigabytes): refused
    /// before deriving anything, so a hostile file cannot hang the process.
    #[error("the {format} asks for {asked}, more than the {limit} accepted; nothing was derived")]
    KdfTooCostly {
        /// The file's format, e.g. `"encrypted PKCS#8 key"`.
        format: &'static str,
        /// What the file asks for, e.g. `"PBKDF2 with 2147483647 iterations"`.
        asked: String,
        /// The limit, e.g. `"1000000 PBKDF2 iterations"`.
        limit: String,
    },

    /// A key could not be encoded (as PKCS#8 or as a SubjectPublicKeyInfo).
    #[error("the {what} could not be encoded")]
    KeyEncoding {
        /// What was being encoded, e.g. `"EC private key"`.
        what: &'static str,
        /// The encoder's error.
        #[source]
        source: BoxError,
    },

    /// Signing failed.
    #[error("{algorithm} signing failed")]
    Signature {
        /// The signature algorithm, e.g. `"RSASSA-PSS SHA-256"`.
        algorithm: &'static str,
        /// The signing library's error.
        #[source]
        source: BoxError,
    },

    /// A private key was paired with a certificate that certifies another key.
    #[error("the private key does not belong to the certificate")]
    KeyCertificateMismatch,

    /// A signature does not verify with the public key it was checked against.
    #[error("the {algorithm} signature does not verify")]
    SignatureInvalid {
        /// The signature algorithm, e.g. `"ECDSA P-256 SHA-256"`.
        algorithm: &'static str,
    },

    /// A signature algorithm was used with a key of another kind.
    #[error("a {algorithm} signature needs another key than {key}")]
    KeyAlgorithmMismatch {
        /// The signature algorithm, e.g. `"RSA PKCS#1 v1.5 SHA-256"`.
        algorithm: &'static str,
        /// The key's algorithm, e.g. `"EC (curve 1.2.840.10045.3.1.7)"`.
        key: String,
    },

    /// A self-signed test certificate could not be generated (`test-util` feature).
    #[error("the test certificate could not be generated")]
    CertificateGeneration {
        /// The certificate library's error.
        #[source]
        source: BoxError,
    },

    /// Certificate enrollment data cannot be put into a CSR subject as given.
    #[error("enrollment data field {field} is invalid: {reason}")]
    InvalidEnrollmentData {
        /// The field, named as in the API (`"countryName"`, `"givenName"`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A PKCS#10 certificate signing request could not be encoded.
    #[error("the certificate signing request could not be encoded")]
    CsrEncoding {
        /// The DER encoder's error.
        #[source]
        source: BoxError,
    },

    /// An input of a KSeF QR link is not of the required form.
    #[error("QR link input {field} is invalid: {reason}")]
    InvalidQrInput {
        /// The input, e.g. `"sellerNip"` or `"certificateSerial"`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A QR code image could not be produced (the text is too long for a QR code, or the PNG
    /// encoder failed).
    #[error("the QR code image could not be produced")]
    QrImage {
        /// The QR or PNG library's error.
        #[source]
        source: BoxError,
    },

    /// The input is not a PKCS#12 (.p12/.pfx) file, or its outer structure is damaged.
    #[error("not a PKCS#12 (.p12/.pfx) file, or a damaged one")]
    NotPkcs12 {
        /// The decoder's error.
        #[source]
        source: BoxError,
    },

    /// The password of a PKCS#12 file is wrong: its integrity check (MAC) or the decryption of
    /// its contents failed. The password never appears in the message.
    #[error("wrong password for the PKCS#12 file (its integrity check failed)")]
    Pkcs12WrongPassword,

    /// A PKCS#12 file could be opened but not read or written (an encryption or MAC algorithm
    /// this crate does not implement, damaged contents).
    #[error("the PKCS#12 file could not be {operation}: {reason}")]
    Pkcs12 {
        /// `"read"` or `"written"`.
        operation: &'static str,
        /// What went wrong (never secret material).
        reason: String,
    },

    /// A PKCS#12 file holds no private key.
    #[error(
        "the PKCS#12 file holds no private key (only {certificates} certificate(s)); \
         export it with its key"
    )]
    Pkcs12NoPrivateKey {
        /// How many certificates it holds.
        certificates: usize,
    },

    /// A PKCS#12 file holds a private key but no certificate of that key.
    #[error(
        "the PKCS#12 file holds no certificate of its private key ({certificates} other \
         certificate(s)); export it with the key's certificate"
    )]
    Pkcs12NoMatchingCertificate {
        /// How many certificates it holds (none of them certifies the key).
        certificates: usize,
    },

    /// A certificate's validity ended before the instant it was needed at.
    #[error(
        "the certificate {subject} expired on {} (valid from {} to {}; checked at {})",
        .not_after.to_rfc3339_opts(SecondsFormat::Secs, true),
        .not_before.to_rfc3339_opts(SecondsFormat::Secs, true),
        .not_after.to_rfc3339_opts(SecondsFormat::Secs, true),
        .at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )]
    CertificateExpired {
        /// The certificate's subject.
        subject: String,
        /// Start of its validity.
        not_before: DateTime<Utc>,
        /// End of its validity.
        not_after: DateTime<Utc>,
        /// The instant it was checked at.
        at: DateTime<Utc>,
    },

    /// A certificate's validity starts after the instant it was needed at.
    #[error(
        "the certificate {subject} is not valid yet: valid from {} to {} (checked at {})",
        .not_before.to_rfc3339_opts(SecondsFormat::Secs, true),
        .not_after.to_rfc3339_opts(SecondsFormat::Secs, true),
        .at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )]
    CertificateNotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Start of its validity.
        not_before: DateTime<Utc>,
        /// End of its validity.
        not_after: DateTime<Utc>,
        /// The instant it was checked at.
        at: DateTime<Utc>,
    },

    /// A PKCS#11 module could not be loaded (no such file, not a PKCS#11 library) or initialised.
    #[error("cannot load the PKCS#11 module {}", .path.display())]
    Pkcs11ModuleLoad {
        /// The module's path, as given.
        path: std::path::PathBuf,
        /// The loader's or the module's error.
        #[source]
        source: BoxError,
    },

    /// No token with the given label is present in any slot of the PKCS#11 module.
    #[error(
        "no PKCS#11 token labelled {token:?} (tokens present: {})",
        if .present.is_empty() { "none".to_owned() } else { format!("{:?}", .present) }
    )]
    Pkcs11TokenNotFound {
        /// The label asked for.
        token: String,
        /// The labels of the tokens that are present.
        present: Vec<String>,
    },

    /// The token refused the PIN (`CKR_PIN_INCORRECT`). The PIN never appears in the message.
    #[error("wrong PIN for the PKCS#11 token {token:?}")]
    Pkcs11WrongPin {
        /// The token's label.
        token: String,
    },

    /// The token's user PIN is locked after too many wrong attempts (`CKR_PIN_LOCKED`).
    #[error("the PIN of the PKCS#11 token {token:?} is locked; unblock it with the token's tools")]
    Pkcs11PinLocked {
        /// The token's label.
        token: String,
    },

    /// The token holds no private key with the given label or id.
    #[error("the PKCS#11 token {token:?} holds no private key with {key}")]
    Pkcs11KeyNotFound {
        /// The token's label.
        token: String,
        /// The key asked for (`label "..."` or `id ..`).
        key: String,
    },

    /// No certificate was given and the token holds none with the key's id or label.
    #[error(
        "the PKCS#11 token {token:?} holds no certificate for the key with {key}; give the \
         certificate file"
    )]
    Pkcs11CertificateNotFound {
        /// The token's label.
        token: String,
        /// The key (`label "..."` or `id ..`).
        key: String,
    },

    /// The key on the token is not one KSeF signs with (RSA, or EC on P-256).
    #[error("the PKCS#11 key is {what}: only RSA and EC P-256 keys sign for KSeF")]
    Pkcs11UnsupportedKey {
        /// What kind of key it is.
        what: String,
    },

    /// The token was removed while in use: the module reports it gone, the session closed, or the
    /// key found when the signer was opened no longer there.
    #[error("the PKCS#11 token {token:?} was removed")]
    Pkcs11TokenRemoved {
        /// The token's label.
        token: String,
    },

    /// Another failure reported by the PKCS#11 module.
    #[error("PKCS#11 token {token:?}: cannot {operation}")]
    Pkcs11 {
        /// The token's label.
        token: String,
        /// What was being done, e.g. `"sign"`.
        operation: &'static str,
        /// The module's error (a `CKR_...` code).
        #[source]
        source: BoxError,
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

/// A cause that is a message built at run time (never secret material).
#[derive(Debug)]
pub(crate) struct Detail(pub(crate) String);

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Detail {}
