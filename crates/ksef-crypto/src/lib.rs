//! Local cryptography for KSeF API 2.0, with no HTTP in it.
//!
//! What KSeF asks a client to compute on its own side, and what a simulator needs to undo it:
//!
//! - [`SessionKey`]: the per-session AES-256 key and IV, from the operating system's CSPRNG,
//!   zeroized on drop. [`SessionKey::wrap`] encrypts it with RSAES-OAEP (SHA-256, MGF1-SHA-256,
//!   empty label) for a Ministry certificate; [`WrappedSessionKey::to_encryption_info`] gives the
//!   base64 fields of the spec's `EncryptionInfo`, and [`WrappedSessionKey::unwrap_with`] reverses
//!   it with a [`PrivateKey`].
//! - [`encrypt_ksef_token`]: the `encryptedToken` of `/auth/ksef-token`, RSA-OAEP of
//!   `"{token}|{challengeTimestampMs}"`; [`decrypt_ksef_token`] for the other side.
//! - [`MinistryCertificates`]: the entries of `/security/public-key-certificates` (ksef-model's
//!   `PublicKeyCertificate`) parsed, and [`MinistryCertificates::select`] to pick the one to use.
//! - Streaming AES-256-CBC with PKCS#7 padding in both directions, as [`std::io::Write`] adapters
//!   ([`EncryptingWriter`], [`DecryptingWriter`]), [`std::io::Read`] adapters
//!   ([`EncryptingReader`], [`DecryptingReader`]) and, with the `tokio` feature, their
//!   `tokio::io` counterparts (`AsyncEncryptingWriter`, `AsyncDecryptingWriter`,
//!   `AsyncEncryptingReader`, `AsyncDecryptingReader`). One pass yields the [`FileMetadata`]
//!   (SHA-256 and size) of both the plaintext and the ciphertext, as [`EncryptionMetadata`].
//!   For a whole stream at hand, [`SessionKey::decrypt_stream`] does the same decryption on two
//!   threads (the ciphertext's hash and AES on one, the plaintext's hash and the writes on the
//!   other); [`ExportUnpacker`] uses it.
//! - [`BatchPackager`]: a batch session's invoices into one ZIP (or tar.gz) stream, cut into parts
//!   of at most 100,000,000 bytes, each encrypted into a [`PartSink`] as it is produced, in one
//!   pass with bounded memory and ZIP entries compressed on all cores; [`BatchPackage`] carries
//!   what `OpenBatchSessionRequest.batchFile` declares. [`BatchLimits`] are checked up front.
//! - [`ArchiveSplitter`]: the same parts from an archive that already exists (a file or a
//!   reader), read once: [`SplitArchive`] carries the archive's size and hash and each
//!   [`EncryptedPart`]'s.
//! - Keys and certificates: [`CertificateKey`] (RSA 2048 or EC P-256; the one PKCS#8 reader,
//!   PEM or DER, plain or password-encrypted), [`Certificate`] (the one X.509 reader: names,
//!   serial, validity, public key, fingerprint and the [`SubjectIdentifier`] KSeF derives), the
//!   [`Signer`] trait with [`KeySigner`] (a key paired with its certificate, for XAdES signing
//!   in ksef-xades), [`Pkcs12`] (a key with its certificate and chain in a password-protected
//!   `.p12`/`.pfx` file, read and written), and [`CertificateSigningRequest`], the PKCS#10 request built from the
//!   [`EnrollmentData`] of `GET /certificates/enrollments/data`.
//! - With the `test-util` feature, [`test_certificates`](crate#features): self-signed seal and
//!   person certificates for KSeF's TEST environment, the simulator and tests.
//! - QR codes: [`invoice_link`] (KOD I) and [`certificate_link`] (KOD II, signed with an
//!   `Offline` certificate's key) for each [`QrEnvironment`]; with the `qr-image` feature,
//!   `QrImage` renders them as PNG or SVG with the caption KSeF requires ([`QrCaption`]).
//! - [`ExportUnpacker`]: the reverse for invoice export packages: verifies each part's size and
//!   hash, decrypts, unpacks under archive bomb guards ([`UnpackLimits`]) and parses
//!   `_metadata.json` ([`ExportMetadata`]).
//!
//! # The ciphertext carries no IV
//!
//! KSeF's prose says the IV is prefixed to the ciphertext, but the API sends it separately in
//! `EncryptionInfo.initializationVector`, both official clients produce ciphertext without it, and
//! the spec's batch example (16037 plaintext bytes, 16048 encrypted) only adds up without a prefix.
//! Here the ciphertext is the raw CBC output: `n` bytes encrypt to `(n / 16 + 1) * 16`.
//!
//! # RSA only
//!
//! Encryption to the Ministry is implemented for RSA keys only. The Ministry publishes RSA
//! certificates and documents RSA-OAEP only; the official clients also carry an EC scheme (ECDH on
//! P-256 with AES-256-GCM), but it is undocumented and the two clients implement it differently
//! (different key derivation, different placement of the GCM tag), so implementing it would be a
//! guess. Certificates with EC keys still parse; encrypting with one fails with
//! [`Error::UnsupportedKeyType`].
//!
//! # Example
//!
//! Encrypting an invoice for an online session, in one pass that also yields the hashes and sizes
//! the request declares:
//!
//! ```
//! use std::io::Write as _;
//! use ksef_crypto::{EncryptingWriter, SessionKey};
//!
//! # fn main() -> Result<(), ksef_crypto::Error> {
//! let key = SessionKey::generate()?;
//! let invoice = b"<Faktura>...</Faktura>";
//!
//! let mut writer = EncryptingWriter::new(Vec::new(), &key);
//! writer.write_all(invoice)?;
//! let (ciphertext, metadata) = writer.finish()?;
//!
//! assert_eq!(metadata.plaintext.size, invoice.len() as u64); // invoiceSize
//! assert_eq!(metadata.ciphertext.size, 32); // encryptedInvoiceSize: padded, no IV prefix
//! let _invoice_hash = metadata.plaintext.sha256_base64(); // invoiceHash
//! let _encrypted_hash = metadata.ciphertext.sha256_base64(); // encryptedInvoiceHash
//!
//! let (plaintext, _) = key.decrypt_to_vec(&ciphertext)?;
//! assert_eq!(plaintext, invoice);
//! # Ok(())
//! # }
//! ```
//!
//! Choosing the Ministry certificate and wrapping the session key for `EncryptionInfo` (the
//! certificate listing comes from `GET /security/public-key-certificates`):
//!
//! ```no_run
//! use ksef_crypto::{MinistryCertificates, SessionKey};
//! use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateUsage};
//!
//! # fn main() -> Result<(), ksef_crypto::Error> {
//! # let listing: Vec<PublicKeyCertificate> = Vec::new();
//! let certificates = MinistryCertificates::from_entries(&listing)?;
//! let certificate = certificates.select(
//!     PublicKeyCertificateUsage::SymmetricKeyEncryption,
//!     std::time::SystemTime::now().into(),
//! )?;
//! let key = SessionKey::generate()?;
//! let info = key.wrap(certificate)?.to_encryption_info();
//! // info.encrypted_symmetric_key, info.initialization_vector, info.public_key_id
//! # let _ = info;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `tokio`: the `tokio::io` streaming adapters.
//! - `qr-image`: PNG and SVG rendering of QR codes.
//! - `test-util`: the `test_certificates` module (self-signed certificates; pulls `rcgen`) and
//!   `test_softhsm` (SoftHSM2 tokens for tests, made with `softhsm2-util`).
#![forbid(unsafe_code)]

/// `Debug` for a stream adapter: its name only, never the key, the IV or buffered data.
macro_rules! debug_name_only {
    ($name:ident, $param:ident: $($bound:tt)+) => {
        impl<$param: $($bound)+> std::fmt::Debug for $name<$param> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use debug_name_only;

/// The struct and inherent methods of a reading adapter, sync or async: `$name` over an inner
/// reader bounded by `$bound`, running `$engine`, reading `$input` from the inner reader.
macro_rules! reader_struct {
    ($(#[$doc:meta])* $name:ident, $engine:ident, $input:literal, $param:ident: $($bound:tt)+) => {
        $(#[$doc])*
        pub struct $name<$param: $($bound)+> {
            inner: $param,
            pipe: Pipe<$engine>,
            input: Box<[u8]>,
        }

        impl<$param: $($bound)+> $name<$param> {
            #[doc = concat!("Wraps `inner`, which supplies the ", $input, ".")]
            pub fn new(inner: $param, key: &SessionKey) -> Self {
                Self {
                    inner,
                    pipe: Pipe::new($engine::new(key)),
                    input: vec![0; CHUNK].into_boxed_slice(),
                }
            }

            /// Metadata of both sides, once the end of the stream has been reached.
            pub fn metadata(&self) -> Option<EncryptionMetadata> {
                self.pipe.result().and_then(|r| r.ok())
            }

            /// The inner reader.
            pub fn get_ref(&self) -> &$param {
                &self.inner
            }

            /// Gives back the inner reader.
            pub fn into_inner(self) -> $param {
                self.inner
            }
        }

        crate::debug_name_only!($name, $param: $($bound)+);
    };
}
pub(crate) use reader_struct;

#[cfg(feature = "tokio")]
mod async_stream;
mod certificate;
mod certificate_key;
mod csr;
mod engine;
mod error;
mod export;
mod keys;
mod limits;
mod metadata;
mod packaging;
mod pipeline;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod pkcs12;
mod qr;
#[cfg(feature = "qr-image")]
mod qr_image;
mod session_key;
mod signer;
mod split;
mod stream;
#[cfg(feature = "test-util")]
pub mod test_certificates;
#[cfg(feature = "test-util")]
pub mod test_softhsm;
mod token;
mod x509;

#[cfg(feature = "tokio")]
pub use async_stream::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
pub use certificate::{MinistryCertificate, MinistryCertificates};
pub use certificate_key::{
    CertificateKey, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_MEMORY, PKCS8_PBKDF2_ITERATIONS,
};
pub use csr::{CertificateSigningRequest, EnrollmentData, pem_encode};
pub use error::{BoxError, Error, Result};
pub use export::{
    EXPORT_METADATA_FILE, ExpectedPart, ExportMetadata, ExportUnpacker, ExportedInvoice,
    UnpackedExport,
};
pub use keys::{KeyAlgorithm, PrivateKey, PublicKey};
pub use limits::{
    BatchLimits, Limit, MAX_ARCHIVE_SIZE, MAX_INVOICE_SIZE, MAX_INVOICE_WITH_ATTACHMENTS_SIZE,
    MAX_INVOICES, MAX_PART_SIZE, MAX_PARTS, UnpackLimits,
};
pub use metadata::{EncryptionMetadata, FileHasher, FileMetadata, file_metadata};
pub use packaging::{
    BatchInvoice, BatchPackage, BatchPackager, BatchPart, CompressionLevel, DirectorySink,
    MemorySink, PartSink,
};
#[cfg(feature = "pkcs11")]
pub use pkcs11::{KeySelector, Pkcs11Signer};
pub use pkcs12::{PKCS12_ITERATIONS, PKCS12_MAX_ITERATIONS, Pkcs12};
pub use qr::{
    QrCaption, QrContextType, QrEnvironment, certificate_link, certificate_link_signed_text,
    invoice_link,
};
#[cfg(feature = "qr-image")]
pub use qr_image::{DEFAULT_MODULE_PIXELS, QrImage};
pub use session_key::{IV_LEN, KEY_LEN, SessionKey, WrappedSessionKey};
pub use signer::{ECDSA_SHA256, KeySigner, RSA_SHA256, SignatureAlgorithm, Signer};
pub use split::{ArchiveSplitter, EncryptedPart, SplitArchive};
pub use stream::{DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter};
pub use token::{
    DecryptedKsefToken, EncryptedKsefToken, decrypt_ksef_token, encrypt_ksef_token,
    encrypt_ksef_token_with_key,
};
pub use x509::{Certificate, SubjectIdentifier};
