//! A stateful KSeF API 2.0 simulator on loopback, with real cryptography.
//!
//! [`Simulator`] starts an HTTP/1.1 server on `127.0.0.1` (a random port) that answers the
//! Ministry's API under [`Simulator::base_url`] (ending in `/v2`, as the real environments do).
//! Any correct client can run the invoice lifecycle against it: fetch the encryption
//! certificates, authenticate with a KSeF token, open an online session, send encrypted invoices,
//! close the session, download UPOs, query metadata and download the invoices again.
//!
//! What is real: RSA-OAEP decryption of KSeF tokens and session keys with the simulator's own
//! certificates (generated at start, one per usage), AES-256-CBC decryption of invoices, SHA-256
//! checks of the declared hashes, RS256-signed JWTs with expiry, challenge expiry and one-time use,
//! one-shot token redemption, duplicate detection, KSeF numbers with their CRC-8, and UPO v4-3
//! documents valid against the Ministry's schema.
//!
//! Every operation of the spec is recognised (routing uses
//! [`ksef_model::operations::ALL`]); those not yet simulated answer `501 Not Implemented` with a
//! KSeF-shaped error body naming the operation id. See [`SIMULATED_OPERATIONS`].
//!
//! Outside `/v2`, `GET /_sim/stats` returns the [`Stats`] as JSON, and
//! `GET /_sim/upo/...` serves the UPO download links and `PUT /_sim/upload/...` takes batch parts
//! (like the real presigned links, they need no bearer token).
//!
//! Errors follow KSeF: HTTP 400 with the legacy `ExceptionResponse` body by default and Problem
//! Details (`application/problem+json`) when the request sends `X-Error-Format: problem-details`;
//! 401 (missing, malformed, expired or wrong-kind bearer token) and 403 always as Problem Details.
//! Every JSON body is built from the generated types of [`ksef_model::types`], so it deserializes
//! into the spec's response type of its operation.
//!
//! # Knowingly simplified
//!
//! - Authentication only in a `Nip` context. KSeF tokens: the seeded tokens (one per seeded
//!   subject) and tokens generated with `POST /tokens` can log in, each only in its own context
//!   (another context ends in status 415). Permissions are those of the token, checked against
//!   the spec's `x-required-permissions` (403 `missing-permissions`).
//! - XAdES (`POST /auth/xades-signature`): the signature is verified for real, but any
//!   certificate is trusted, self-signed ones included (as on KSeF's TEST environment; no chain,
//!   OCSP or CRL checks). With `certificateSubject` a seal's or person's NIP must be the context
//!   and a seeded subject (all permissions in its own context); with `certificateFingerprint` the
//!   fingerprint must be granted with [`SimulatorBuilder::trusted_fingerprint`]. Anything else ends
//!   in status 415. Signature problems answer 400 with 9101/9102/9103/9105 (21115 for an unusable
//!   certificate), a used or unknown challenge 21111.
//! - Asynchronous work (authentication, token activation, invoice processing, UPO generation)
//!   completes after a fixed delay, evaluated when the state is read; nothing runs in the
//!   background.
//! - Declared hash/size mismatches (`invoiceHash`/`invoiceSize` after decryption as well as
//!   `encryptedInvoiceHash`/`encryptedInvoiceSize`) are refused at once with 400 21403/21402 and
//!   nothing is stored. Undecryptable content is accepted (202) and ends in invoice status 435; a
//!   session key that does not decrypt opens the session in status 415.
//! - Invoices are checked for structure with the generated FA(2)/FA(3)/FA_RR(1) types (not for
//!   value facets), for the form code of the session, UTF-8 without BOM, size, the seller's NIP
//!   (must be the context: otherwise 410), an issue date not in the future (450) and duplicates
//!   (440).
//! - All stored invoices are final at once: the permanent-storage high-water mark is "now".
//!   Metadata queries read seller and buyer NIPs only (`Subject3` and `SubjectAuthorized` find
//!   nothing).
//! - UPOs are not signed (no XAdES signature); a session UPO has one page. Download links point to
//!   `/_sim/upo/...` on the simulator and carry no signature.
//! - Rate limits are enforced only when enabled with [`SimulatorBuilder::rate_limit_scale`]
//!   (sliding windows per group, context and IP; a fixed `Retry-After`, no growing penalties).
//! - Continuation tokens are plain offsets.
//! - Batch sessions accept Zip packages only (up to 50 parts). The presigned part links are
//!   `PUT /_sim/upload/{session}/{ordinal}?sig=...` on the simulator (no bearer token); each
//!   upload is checked against the declared part size and hash at once (400 21402/21403). Close
//!   unpacks the package synchronously and runs every invoice through the online acceptance
//!   checks; a missing part or a wrong whole-archive size or hash ends the session in 405.
//! - Sessions past `validUntil` count as closed at that instant; nothing else expires (no 410 for
//!   old authentication operations).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ksef_sim::SimError> {
//! let sim = ksef_sim::Simulator::builder().start().await?;
//! println!("KSeF API at {}", sim.base_url());
//! println!("log in to NIP {} with token {}", sim.seeded_nip(), sim.seeded_token());
//! // ... run a client against sim.base_url() ...
//! let stats = sim.stats();
//! println!("{} invoices accepted", stats.invoices_accepted);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod api;
mod errors;
mod invoice_xml;
mod keys;
mod rate_limit;
mod server;
mod state;
mod upo;

pub use server::{SIMULATED_OPERATIONS, SimError, Simulator, SimulatorBuilder, Stats};
