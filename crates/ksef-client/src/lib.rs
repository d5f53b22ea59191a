//! The high-level async client for KSeF API 2.0, the Polish national e-invoicing system.
//!
//! [`Client`] composes `ksef-model` (what each operation sends and receives), `ksef-transport`
//! (HTTP, bearer tokens with automatic refresh, retries, rate limits, typed API errors) and
//! `ksef-crypto` (token and invoice encryption) into the flows an integration needs:
//!
//! - logging in with a KSeF token ([`Client::login_with_ksef_token`]), with the polling and
//!   token redemption shared by every login method ([`Client::complete_authentication`]), and
//!   logging out ([`Client::logout`]); tokens live in a [`TokenStore`] (in memory, or a
//!   [`FileTokenStore`], or your own);
//! - online sessions ([`Client::open_online_session`], [`OnlineSession`]): encrypted sends with
//!   a bounded number in flight and exactly-once delivery, closing, waiting for processing,
//!   per-invoice statuses ([`InvoiceOutcome`]) and UPOs;
//! - invoice metadata as a self-paging stream ([`Client::invoice_metadata`]) and downloads
//!   ([`Client::download_invoice`]);
//! - batch sessions ([`Client::send_batch`], or [`Client::submit_batch`] to return once the
//!   session is closed and [`SubmittedBatch::wait`] later; [`batch_open_request`] for packages
//!   made ahead of time);
//! - certificate enrollment as one flow ([`Client::enroll_certificate`]): key, CSR, enrollment,
//!   waiting, retrieval, and [`EnrolledCertificate::save`];
//! - permission grants built and checked before sending ([`grants`]);
//! - incremental sync by KSeF's high-water mark ([`Client::sync_invoices`], [`sync`]): resumable
//!   after a crash with no gap and no duplicate;
//! - typed access to all 83 operations of KSeF API 2.9.0, grouped by area ([`Client::auth`],
//!   [`Client::sessions`], [`Client::invoices`], [`Client::tokens`], [`Client::certificates`],
//!   [`Client::permissions`], [`Client::limits`], [`Client::test_data`], [`Client::peppol`],
//!   [`Client::security`]), and [`Client::execute`] for any [`ksef_model::Operation`].
//! - offline invoicing ([`offline`]): sends with `offlineMode` and technical corrections
//!   ([`SendOptions`], [`OnlineSession::send_with`]), the KOD I and KOD II links of an invoice;
//! - KSeF's availability from the unofficial Lighthouse status service ([`lighthouse`]).
//!
//! ```no_run
//! use ksef_client::{Client, Environment, FileTokenStore, form_code};
//! use ksef_model::values::Nip;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = FileTokenStore::open("ksef-tokens.json")?;
//! let client = Client::builder()
//!     .transport(|t| t.environment(Environment::Test).token_store(tokens))
//!     .build()?;
//!
//! let nip: Nip = "5265877635".parse()?;
//! client.login_with_ksef_token(nip, std::env::var("KSEF_TOKEN")?).await?;
//!
//! let session = client.open_online_session(form_code::fa3()).await?;
//! let sent = session.send(&std::fs::read("invoice.xml")?).await?;
//! session.close().await?;
//! session.wait_until_processed().await?;
//! let upo = session.invoice_upo(&sent.reference_number).await?;
//! println!("UPO: {} bytes", upo.len());
//!
//! client.logout().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]. KSeF API failures keep their HTTP status and KSeF
//! error codes ([`Error::api`], [`Error::has_code`]); failed authentications and sessions carry
//! KSeF's status code, description and details.
#![forbid(unsafe_code)]

mod auth;
mod batch;
pub mod batch_files;
mod client;
pub mod collective;
mod enrollment;
mod error;
pub mod export;
pub mod files;
pub mod grants;
#[cfg(feature = "keyring")]
mod keyring_store;
pub mod lighthouse;
pub mod offline;
mod online;
mod poll;
mod query;
pub mod services;
pub mod sync;
mod token_store;

pub use crate::auth::{AuthContext, KsefToken, LoginSession};
pub use crate::batch::{
    BatchEvent, BatchInvoiceOutcome, BatchOptions, BatchOutcome, BatchProgress, SubmittedBatch,
    batch_open_request,
};
pub use crate::client::{Client, ClientBuilder};
pub use crate::collective::CollectiveIdentifierStream;
pub use crate::enrollment::{
    CertificateEnrollment, EnrolledCertificate, EnrollmentKeyType, PendingCertificateEnrollment,
    save_key,
};
pub use crate::error::Error;
pub use crate::export::{ExportJob, ExportOptions};
#[cfg(feature = "keyring")]
pub use crate::keyring_store::{DEFAULT_KEYRING_TIMEOUT, KeyringTokenStore, SecretHolder};
pub use crate::online::{
    Delivery, FEATURE_SUBJECT_IDENTIFIER_VALIDATION, InvoiceOutcome, OnlineSession,
    OnlineSessionOptions, PreparedInvoice, SendOptions, SentInvoice, form_code,
};
pub use crate::poll::PollConfig;
pub use crate::query::{MAX_DATE_RANGE_DAYS, MetadataQuery, MetadataStream, check_date_range};
pub use crate::sync::{
    CheckpointStore, DirectorySink, FileCheckpointStore, InvoiceSink, MemoryCheckpointStore,
    SyncOptions, SyncReport, SyncSource,
};
pub use crate::token_store::FileTokenStore;
#[cfg(feature = "keyring")]
pub use keyring_core;
// The ksef-crypto and ksef-xades types this crate's API takes or returns, so that an
// application can depend on ksef-client alone; the whole crates are reachable as
// `ksef_client::crypto` and `ksef_client::xades`.
pub use ksef_crypto as crypto;
/// Self-signed certificates for KSeF's TEST environment (the `test-util` feature).
#[cfg(feature = "test-util")]
pub use ksef_crypto::test_certificates::{KeyType, TestCertificate};
pub use ksef_crypto::{
    BatchInvoice, BatchPackage, Certificate, CertificateKey, KeyAlgorithm, KeySigner,
    MinistryCertificate, Pkcs12, SignatureAlgorithm, Signer, SubjectIdentifier, UnpackedExport,
};
/// The transport's error, which [`Error::Transport`] wraps (to match on its kind).
pub use ksef_transport::Error as TransportError;
pub use ksef_transport::rate_limit::RateLimitConfig;
pub use ksef_transport::retry::RetryConfig;
pub use ksef_transport::{
    BoxStack, Environment, MemoryTokenStore, Token, TokenKind, TokenStore, TokenStoreError,
    TransportBuilder,
};
pub use ksef_xades as xades;
pub use ksef_xades::request::SubjectIdentifierType;
