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
//! Every operation of the spec is simulated (routing uses [`ksef_model::operations::ALL`]; see
//! [`SIMULATED_OPERATIONS`]): authentication, KSeF tokens, online and batch sessions, invoices
//! (download, metadata query, encrypted exports), permissions, KSeF certificates (issued by the
//! simulator's own CA from a PKCS#10 request), collective identifiers, limits and rate limits, the
//! test-data API and the Peppol provider list.
//!
//! Outside `/v2`, `GET /_sim/stats` returns the [`Stats`] as JSON, and
//! `GET /_sim/upo/...` serves the UPO download links, `PUT /_sim/upload/...` takes batch parts
//! (up to KSeF's part limit, 100 MB before encryption; a larger body is refused with 400 21157)
//! and `GET /_sim/export/...` serves the encrypted parts of export packages with their
//! `x-ms-meta-hash`. Like the real presigned links, they need no bearer token but carry a random
//! signature (`sig`) handed out with the link; a link without it, or with a wrong one, is refused
//! with 403.
//!
//! Connections must send a request's line and headers within
//! [`SimulatorBuilder::header_read_timeout`] (30 s), and the accept loop pauses (100 ms growing
//! to 1 s) after an accept error such as running out of file descriptors.
//!
//! The Lighthouse, KSeF's availability status service, is served under `/lighthouse`
//! ([`Simulator::lighthouse_url`]; see [`LighthouseStatus`]), switchable while running with
//! [`Simulator::set_lighthouse`] or `PUT /_sim/lighthouse`.
//!
//! # Persistence
//!
//! By default everything lives in memory. With [`SimulatorBuilder::data_dir`] the durable state
//! (KSeF tokens, invoices, test data, limits, grants, certificates, counters) is saved to a
//! directory periodically and on shutdown, and loaded again by the next simulator started there.
//! The file holds KSeF token secrets: the directory is made 0700 and the file 0600 (on Unix).
//!
//! # Fault injection
//!
//! For reliability tests, [`SimulatorBuilder::fault_5xx`], [`SimulatorBuilder::fault_429`] (both
//! answer without processing the request), [`SimulatorBuilder::fault_reset`] (processes the
//! request, then drops the connection unanswered), [`SimulatorBuilder::fault_truncate`]
//! (processes it, then cuts the body short) and [`SimulatorBuilder::fault_latency`] inject
//! failures per request, drawn from a generator seeded with [`SimulatorBuilder::fault_seed`]
//! and optionally limited to some operations ([`SimulatorBuilder::fault_operations`]). Requests
//! below `/_sim/` are never faulted. [`Stats::faults`] counts what was injected.
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
//!   the spec's `x-required-permissions` (403 `missing-permissions`). A context blocked with
//!   `/testdata/context/block` ends authentication in status 480.
//! - XAdES (`POST /auth/xades-signature`): the signature is verified for real; self-signed
//!   certificates are accepted (as on KSeF's TEST environment) unless the request asks for
//!   `verifyCertificateChain=true`: then only the KSeF certificates the simulator's CA issued
//!   authenticate, anything else ends in status 460 (no OCSP or CRL checks). With
//!   `certificateSubject` a seal's or person's NIP must be the context: in [`SimMode::Test`] (the
//!   default) any NIP's own certificate is its owner (all permissions; the context exists from
//!   its first login), in [`SimMode::ProductionLike`] only a seeded subject's; with
//!   `certificateFingerprint` the fingerprint must be granted with
//!   [`SimulatorBuilder::trusted_fingerprint`]. A PESEL certificate needs a grant (or a test
//!   person linking it to the NIP), as on KSeF. A certificate's
//!   PESEL, NIP or fingerprint that was granted permissions in the context
//!   (`/permissions/persons/grants`, `/testdata/permissions`, or a test person's own NIP) logs
//!   in with those permissions; a deceased test person's certificate ends in status 470.
//!   Anything else ends in status 415. Signature problems answer 400 with 9101/9102/9103/9105
//!   (21115 for an unusable certificate), a used or unknown challenge 21111.
//! - Asynchronous work (authentication, token activation, invoice processing, UPO generation,
//!   exports, permission operations, certificate enrollments) completes after a fixed delay,
//!   evaluated when the state is read; nothing runs in the background.
//! - Declared hash/size mismatches (`invoiceHash`/`invoiceSize` after decryption as well as
//!   `encryptedInvoiceHash`/`encryptedInvoiceSize`) are refused at once with 400 21403/21402 and
//!   nothing is stored. Undecryptable content is accepted (202) and ends in invoice status 435; a
//!   session key that does not decrypt opens the session in status 415.
//! - Invoices are checked for structure with the generated FA(2)/FA(3)/FA_RR(1) types (not for
//!   value facets), for the form code of the session, UTF-8 without BOM, size, the seller's NIP
//!   (must be the context: otherwise 410), attachments (only for a NIP enabled with
//!   `/testdata/attachment`: otherwise 415), an issue date not in the future (450) and
//!   duplicates (440).
//! - An invoice's `permanentStorageDate` is the end of its processing, or its acquisition plus
//!   [`SimulatorBuilder::permanent_storage_delay`] when set; the high-water mark is just before
//!   the earliest permanent-storage date of an invoice still being processed, or now. Metadata
//!   queries and exports read seller and buyer NIPs only (`Subject3` and `SubjectAuthorized` find
//!   nothing).
//! - Exports: the package is built when the export starts and shows after
//!   [`SimulatorBuilder::export_delay`]; only the invoice-count cap
//!   ([`SimulatorBuilder::export_invoice_limit`]) truncates it (no 1 GB cap); a `from` past the
//!   HWM with `restrictToPermanentStorageHwmDate` ends in status 420, an undecryptable key in 415;
//!   statuses and part links never expire (no 410).
//! - Limits: of the session limits set with the test-data API only the online session's
//!   `maxInvoices` is enforced (invoice sizes and batch counts use the fixed defaults);
//!   certificate limits are enforced at enrollment.
//! - Permissions: grants take effect at once and their operations end in 200 after the
//!   token-activation delay (no failure statuses 410–450: relations between subjects are not
//!   checked, only the identifiers); repeated grants are not duplicated; revoked grants vanish
//!   (no `Inactive` state). Roles come from test subjects (VAT groups, JST) and bailiffs only.
//! - Certificates: enrollment needs a XAdES login (25001/25002 otherwise); the CSR's signature,
//!   key (RSA 2048 or EC P-256), signature algorithm and subject (exactly the enrollment data,
//!   25003) are checked; the certificate is issued at once by the simulator's ECDSA CA, valid two
//!   years from midnight UTC of `validFrom`, and shows after the token-activation delay (no
//!   rejected enrollments; `Blocked` never happens).
//! - Peppol: two fixed providers.
//! - UPOs are not signed (no XAdES signature); a session UPO has one page. Download links point to
//!   `/_sim/upo/...` on the simulator, signed per session.
//! - Rate limits are enforced only when enabled with [`SimulatorBuilder::rate_limit_scale`], or
//!   for a context whose limits were set with `/testdata/rate-limits` (sliding windows per
//!   group, context and IP; a fixed `Retry-After`, no growing penalties). The groups and their
//!   production limits are the spec's (generated); the `global` limit on all requests of one IP
//!   is reported by `/rate-limits` but not enforced.
//! - Invoice metadata queries and exports accept date ranges of at most 100 days, counted in UTC
//!   (21405 otherwise).
//! - `X-KSeF-Feature` on session open is recorded on the session (comma-separated values); with
//!   `subject-identifier-validation` an invoice whose seller or buyer NIP has a wrong check digit
//!   is refused with 450 (internal identifiers are not checked). Other values are accepted and
//!   have no effect.
//! - Continuation tokens are plain offsets.
//! - Batch sessions accept Zip and TarGz packages (up to 50 parts). The presigned part links
//!   are `PUT /_sim/upload/{session}/{ordinal}?sig=...` on the simulator (no bearer token); like
//!   blob storage they take any body up to 100 MiB (413 beyond). Close unpacks the package
//!   synchronously and runs every invoice through the online acceptance checks; a missing part,
//!   a part whose size or hash differs from its declaration, or a wrong whole-archive size or
//!   hash ends the session in 405 (with details naming which), an archive that does not
//!   decompress in 430.
//! - JWTs carry the claims real KSeF access tokens carry (`iss`, `aud`, `iat`, `exp`, `typ`,
//!   `cit`, `civ`, `aum`, `arn`, `sud` and `ipp` as JSON objects inside strings, `per`, `pec`,
//!   `rol`, `pep` as JSON string arrays inside strings, `trn` for KSeF-token logins); `ipp` is
//!   always `{}` (IP policies are not enforced), `pec` and `rol` are empty.
//! - Technical corrections (`hashOfCorrectedInvoice`, online sessions only): the hash must be a
//!   base64 SHA-256 and `offlineMode` true (21405 otherwise); the original must be an offline
//!   invoice of the same context whose processing ended in a rejection other than the permission
//!   ones (410, 415), else 21167 (also when no invoice has that hash: KSeF documents no answer
//!   for that case); 21166 once a correction of it was accepted. Accepted corrections are listed
//!   in [`Stats::technical_corrections`] and carry `hashOfCorrectedInvoice` in their metadata.
//! - The Lighthouse serves what it was set to; the API does not follow it (a `MAINTENANCE` status
//!   does not make the API refuse requests).
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
mod config;
mod errors;
mod faults;
mod ids;
mod invoice_xml;
mod keys;
mod lighthouse;
mod persist;
mod rate_limit;
mod server;
mod shared;
mod state;
mod stats;
mod upo;

pub use api::SIMULATED_OPERATIONS;
pub use config::SimMode;
pub use errors::SimError;
pub use faults::{FaultStats, Faults, SeededRng};
pub use lighthouse::{LighthouseMessage, LighthouseStatus};
pub use server::{Simulator, SimulatorBuilder};
pub use stats::Stats;
