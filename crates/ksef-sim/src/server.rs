//! The simulator's public handle, its builder, and the HTTP plumbing.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use ksef_model::operations::ALL;
use ksef_model::types::{PublicKeyCertificate, PublicKeyCertificateUsage};
use ksef_model::values::Nip;
use ksef_model::{Auth, OperationInfo};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, Reply, Req};
use crate::errors::ApiError;
use crate::faults::{FaultRng, FaultStats, Faults, InjectedFault, SimBody};
use crate::keys::{Keys, TokenType, certificate};
use crate::rate_limit::RateLimiter;
use crate::state::{KsefTokenRec, State};

/// The operation ids (see [`ksef_model::OperationInfo::id`]) this version simulates: every
/// operation of the spec (an operation missing here would answer `501 Not Implemented`).
pub const SIMULATED_OPERATIONS: &[&str] = &[
    "auth.challenge",
    "auth.ksef_token",
    "auth.sessions.list",
    "auth.sessions.revoke",
    "auth.sessions.revoke_current",
    "auth.status",
    "auth.token.redeem",
    "auth.token.refresh",
    "auth.xades_signature",
    "certificates.enroll",
    "certificates.enrollment_data",
    "certificates.enrollment_status",
    "certificates.limits",
    "certificates.query",
    "certificates.retrieve",
    "certificates.revoke",
    "collective_identifiers.by_ksef_number",
    "collective_identifiers.generate",
    "collective_identifiers.invoices",
    "collective_identifiers.query",
    "invoices.download",
    "invoices.export",
    "invoices.export_status",
    "invoices.query_metadata",
    "limits.context",
    "limits.rate_limits",
    "limits.subject",
    "peppol.query",
    "permissions.attachments.status",
    "permissions.authorizations.grant",
    "permissions.authorizations.revoke",
    "permissions.entities.grant",
    "permissions.eu_entities.administration.grant",
    "permissions.eu_entities.grant",
    "permissions.indirect.grant",
    "permissions.operation_status",
    "permissions.persons.grant",
    "permissions.query.authorizations",
    "permissions.query.entities",
    "permissions.query.entity_roles",
    "permissions.query.eu_entities",
    "permissions.query.personal",
    "permissions.query.persons",
    "permissions.query.subordinate_entity_roles",
    "permissions.query.subunits",
    "permissions.revoke",
    "permissions.subunits.grant",
    "security.public_key_certificates",
    "sessions.batch.close",
    "sessions.batch.open",
    "sessions.failed_invoices",
    "sessions.invoice_status",
    "sessions.invoice_upo",
    "sessions.invoice_upo_by_ksef_number",
    "sessions.invoices",
    "sessions.list",
    "sessions.online.close",
    "sessions.online.open",
    "sessions.online.send_invoice",
    "sessions.status",
    "sessions.upo",
    "testdata.attachment.enable",
    "testdata.attachment.revoke",
    "testdata.certificates.update",
    "testdata.context.block",
    "testdata.context.unblock",
    "testdata.limits.certificate.reset",
    "testdata.limits.certificate.set",
    "testdata.limits.session.reset",
    "testdata.limits.session.set",
    "testdata.permissions.grant",
    "testdata.permissions.revoke",
    "testdata.person.create",
    "testdata.person.remove",
    "testdata.rate_limits.production",
    "testdata.rate_limits.reset",
    "testdata.rate_limits.set",
    "testdata.subject.create",
    "testdata.subject.remove",
    "tokens.generate",
    "tokens.list",
    "tokens.revoke",
    "tokens.status",
];

/// The largest request body accepted (a 3 MB invoice, base64-encoded and encrypted, fits).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The largest batch part body the presigned upload links take: like blob storage, they take
/// any body up to KSeF's part limit (100 MB, encryption padding included) and leave checking it
/// against the declared size and hash to the session's processing.
const MAX_PART_BODY: usize = 100 * 1024 * 1024;

/// Failure to start the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Generating keys or certificates failed.
    #[error("cannot create the simulator's keys: {0}")]
    Keys(String),
    /// Binding the loopback listener failed.
    #[error("cannot listen on loopback")]
    Bind(#[source] std::io::Error),
    /// A seeded subject is not a valid NIP.
    #[error("invalid seeded subject NIP `{0}`")]
    InvalidSubject(String),
    /// The data directory holds a state file that cannot be read.
    #[error("cannot load the saved state: {0}")]
    Data(String),
}

/// Counters the simulator keeps, served as JSON on `GET /_sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Stats {
    /// Requests received per operation id (`unknown` for paths that match no operation).
    pub requests: BTreeMap<String, u64>,
    /// Invoices accepted (given a KSeF number).
    pub invoices_accepted: u64,
    /// Invoices refused as duplicates (status 440).
    pub duplicates_refused: u64,
    /// SHA-256 (base64) of every accepted invoice, in order of acceptance.
    pub accepted_invoice_hashes: Vec<String>,
    /// Accepted technical corrections of rejected offline invoices: SHA-256 (base64) of the
    /// rejected original → SHA-256 (base64) of its accepted correction.
    #[serde(default)]
    pub technical_corrections: BTreeMap<String, String>,
    /// Handler panics turned into HTTP 500 (a simulator bug; expected to stay 0).
    pub internal_errors: u64,
    /// Faults injected, per kind (see [`Faults`]).
    pub faults: FaultStats,
    /// 429 answers sent because a (scaled) rate limit was exceeded; injected 429s are counted
    /// in [`FaultStats::too_many_requests`] instead.
    pub rate_limited: u64,
    /// Every 429 answer sent, real or injected.
    pub too_many_requests_sent: u64,
}

/// Which KSeF environment the simulator behaves like where they differ
/// ([`SimulatorBuilder::mode`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimMode {
    /// Like KSeF's TEST environment (the default): a XAdES login with a self-signed seal or
    /// personal certificate carrying a NIP (`VATPL-`/`TINPL-`) is accepted for that NIP's
    /// context, whatever the NIP, with the owner's permissions; the context exists from its
    /// first login. Unless the login asks for `verifyCertificateChain=true`.
    #[default]
    Test,
    /// Like production, as far as logins go: only the seeded subjects, the
    /// [trusted fingerprints](SimulatorBuilder::trusted_fingerprint) and identifiers granted
    /// permissions log in; any other certificate ends in status 415.
    ProductionLike,
}

/// Settings of a simulator (see [`SimulatorBuilder`] for the defaults).
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) mode: SimMode,
    pub(crate) subjects: Vec<String>,
    pub(crate) seeded_token: String,
    /// `(context NIP, lowercase SHA-256 hex)` of certificates granted permissions by fingerprint.
    pub(crate) trusted_fingerprints: Vec<(String, String)>,
    pub(crate) challenge_lifetime: Duration,
    pub(crate) authentication_token_lifetime: Duration,
    pub(crate) access_token_lifetime: Duration,
    pub(crate) refresh_token_lifetime: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) auth_delay: Duration,
    pub(crate) token_activation_delay: Duration,
    pub(crate) invoice_processing_delay: Duration,
    pub(crate) session_close_delay: Duration,
    pub(crate) rate_limit_scale: Option<f64>,
    pub(crate) faults: Faults,
    pub(crate) data_dir: Option<std::path::PathBuf>,
    pub(crate) data_flush_interval: Duration,
    /// `None`: permanent storage at the end of processing.
    pub(crate) permanent_storage_delay: Option<Duration>,
    pub(crate) export_delay: Duration,
    pub(crate) export_invoice_limit: usize,
    pub(crate) export_part_size: u64,
    /// Packs every export this way, whatever the request asks for.
    pub(crate) export_compression: Option<ksef_model::types::CompressionType>,
    /// What the Lighthouse serves at start.
    pub(crate) lighthouse: crate::lighthouse::LighthouseStatus,
}

/// Builds a [`Simulator`].
///
/// Defaults: one seeded subject (NIP `5265877635`) with a ready, active KSeF token holding every
/// token permission (a random secret unless [`SimulatorBuilder::seeded_token`] sets one);
/// challenge lifetime 10 min; authentication token 1 h; access token 15 min; refresh token 7
/// days; online session 12 h; authentication, token activation, invoice processing, UPO
/// generation and exports each complete 100 ms after they start; exports of at most 10,000
/// invoices in parts of at most 50 MB; rate limits not enforced; no faults; state in memory;
/// [`SimMode::Test`] (self-signed certificates log in to their own NIP's context).
pub struct SimulatorBuilder {
    config: Config,
    listen: SocketAddr,
}

impl fmt::Debug for SimulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorBuilder")
            .field("subjects", &self.config.subjects)
            .field("seeded_token", &"{redacted}")
            .finish_non_exhaustive()
    }
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SimulatorBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        let delay = Duration::from_millis(100);
        SimulatorBuilder {
            config: Config {
                mode: SimMode::Test,
                subjects: vec!["5265877635".to_owned()],
                seeded_token: String::new(),
                trusted_fingerprints: Vec::new(),
                challenge_lifetime: Duration::from_secs(600),
                authentication_token_lifetime: Duration::from_secs(3600),
                access_token_lifetime: Duration::from_secs(15 * 60),
                refresh_token_lifetime: Duration::from_secs(7 * 24 * 3600),
                session_lifetime: Duration::from_secs(12 * 3600),
                auth_delay: delay,
                token_activation_delay: delay,
                invoice_processing_delay: delay,
                session_close_delay: delay,
                rate_limit_scale: None,
                faults: Faults::default(),
                data_dir: None,
                data_flush_interval: Duration::from_secs(2),
                permanent_storage_delay: None,
                export_delay: delay,
                export_invoice_limit: 10_000,
                export_part_size: 50 * 1024 * 1024,
                export_compression: None,
                lighthouse: crate::lighthouse::LighthouseStatus::available(),
            },
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// The address to listen on; by default `127.0.0.1` with a port the system picks. The base
    /// URL and the download links the simulator hands out use the address actually bound.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Which environment the simulator behaves like: [`SimMode::Test`] (the default) accepts
    /// self-signed certificates carrying any NIP as that NIP's owner, as KSeF's TEST
    /// environment does; [`SimMode::ProductionLike`] lets only the seeded subjects, trusted
    /// fingerprints and granted identifiers log in.
    pub fn mode(mut self, mode: SimMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Replaces the seeded subjects. Each gets a ready, active KSeF token with every token
    /// permission ([`Simulator::token_for`]); the first is [`Simulator::seeded_nip`] and its token
    /// is [`Simulator::seeded_token`].
    pub fn subjects<I, S>(mut self, nips: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.subjects = nips.into_iter().map(Into::into).collect();
        self
    }

    /// Grants the certificate with this SHA-256 fingerprint (hex, either case) every permission
    /// in the context `nip`, so that it can log in there with a XAdES signature and
    /// `SubjectIdentifierType` `certificateFingerprint` (as a grant with
    /// `/permissions/persons/grants` at run time would).
    pub fn trusted_fingerprint(
        mut self,
        nip: impl Into<String>,
        sha256_hex: impl Into<String>,
    ) -> Self {
        self.config
            .trusted_fingerprints
            .push((nip.into(), sha256_hex.into().to_ascii_lowercase()));
        self
    }

    /// Uses this secret as the seeded KSeF token instead of a random one.
    pub fn seeded_token(mut self, token: impl Into<String>) -> Self {
        self.config.seeded_token = token.into();
        self
    }

    /// Lifetime of access tokens.
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.access_token_lifetime = lifetime;
        self
    }

    /// Lifetime of refresh tokens.
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.refresh_token_lifetime = lifetime;
        self
    }

    /// Lifetime of authentication tokens (those of `GET /auth/{ref}` and the redeem call).
    pub fn authentication_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.authentication_token_lifetime = lifetime;
        self
    }

    /// Lifetime of challenges (10 minutes in KSeF).
    pub fn challenge_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.challenge_lifetime = lifetime;
        self
    }

    /// How long an authentication stays at status 100 before it completes.
    pub fn auth_delay(mut self, delay: Duration) -> Self {
        self.config.auth_delay = delay;
        self
    }

    /// How long a generated KSeF token stays `Pending` before it becomes `Active`.
    pub fn token_activation_delay(mut self, delay: Duration) -> Self {
        self.config.token_activation_delay = delay;
        self
    }

    /// How long a sent invoice stays at status 150 before its final status shows.
    pub fn invoice_processing_delay(mut self, delay: Duration) -> Self {
        self.config.invoice_processing_delay = delay;
        self
    }

    /// How long a closed session stays at status 170 (UPO being generated).
    pub fn session_close_delay(mut self, delay: Duration) -> Self {
        self.config.session_close_delay = delay;
        self
    }

    /// Sets every processing delay (authentication, token activation, invoice processing, UPO
    /// generation, export) at once.
    pub fn processing_delays(self, delay: Duration) -> Self {
        self.auth_delay(delay)
            .token_activation_delay(delay)
            .invoice_processing_delay(delay)
            .session_close_delay(delay)
            .export_delay(delay)
    }

    /// Enforces the production rate limits of the spec multiplied by `scale` (e.g. `10.0` for ten
    /// times the production limits, `0.1` for a tenth; each limit stays at least 1). Requests
    /// over a limit get HTTP 429 with `Retry-After`. Not enforced unless set.
    pub fn rate_limit_scale(mut self, scale: f64) -> Self {
        self.config.rate_limit_scale = Some(scale);
        self
    }

    /// Keeps the state in `dir` (created if missing): loaded at start if a previous simulator
    /// saved it there, saved every [`data_flush_interval`](Self::data_flush_interval), on
    /// [`Simulator::flush`], on [`Simulator::shutdown`] and when the simulator is dropped.
    ///
    /// Kept: KSeF tokens (the seeded subjects keep their tokens, unless
    /// [`seeded_token`](Self::seeded_token) sets another), accepted invoices and their duplicate
    /// check, test data, limits, permission grants, KSeF certificates and the [`Stats`]. Not
    /// kept: logins and the tokens they issued (log in again), sessions (and the UPOs of closed
    /// ones), exports and operations in progress. The file holds KSeF token secrets: keep the
    /// directory private. Without it, everything lives in memory.
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// How often the state is saved to the [`data_dir`](Self::data_dir) (2 seconds by
    /// default; at least 10 ms).
    pub fn data_flush_interval(mut self, interval: Duration) -> Self {
        self.config.data_flush_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long after its acquisition (KSeF number assigned) an invoice is permanently stored:
    /// its `permanentStorageDate`. By default an invoice is stored when its processing ends
    /// ([`invoice_processing_delay`](Self::invoice_processing_delay) after acquisition), and
    /// never later than that whatever the setting. A delay
    /// shorter than the processing delay models KSeF's asynchronous storage: an invoice can
    /// then have a permanent-storage date in the past while it is not visible yet, and the
    /// permanent-storage high-water mark stays just before that date until it is.
    pub fn permanent_storage_delay(mut self, delay: Duration) -> Self {
        self.config.permanent_storage_delay = Some(delay);
        self
    }

    /// How long an invoice export stays at status 100 before its package is ready (100 ms by
    /// default; the package is built from the invoices visible when the export starts).
    pub fn export_delay(mut self, delay: Duration) -> Self {
        self.config.export_delay = delay;
        self
    }

    /// The most invoices an export package holds before it is truncated (10,000 in KSeF; at
    /// least 1).
    pub fn export_invoice_limit(mut self, invoices: usize) -> Self {
        self.config.export_invoice_limit = invoices.max(1);
        self
    }

    /// The largest part of an export package before encryption, in bytes (50 MB in KSeF; at
    /// least 1).
    pub fn export_part_size(mut self, bytes: u64) -> Self {
        self.config.export_part_size = bytes.max(1);
        self
    }

    /// Packs every export package with `compression` (`Zip` or `TarGz`) whatever the request's
    /// `compressionType` says (by default the request's, `Zip` when it names none), so that a
    /// client is seen to unpack by the package's declared `compressionType`.
    pub fn export_compression(mut self, compression: ksef_model::types::CompressionType) -> Self {
        self.config.export_compression = Some(compression);
        self
    }

    /// What the Lighthouse (`/lighthouse/status`, `/lighthouse/messages`) serves at start
    /// (AVAILABLE with no messages by default); see [`Simulator::set_lighthouse`].
    pub fn lighthouse(mut self, status: crate::lighthouse::LighthouseStatus) -> Self {
        self.config.lighthouse = status;
        self
    }

    /// Answers this share of requests (`0.0..=1.0`) with HTTP 500 or 503 and a KSeF-shaped
    /// error body, without processing them. See [`Faults`] for how faults are drawn.
    pub fn fault_5xx(mut self, rate: f64) -> Self {
        self.config.faults.rate_5xx = clamp_rate(rate);
        self
    }

    /// Answers this share of requests with HTTP 429 and `Retry-After: 1`, without processing
    /// them.
    pub fn fault_429(mut self, rate: f64) -> Self {
        self.config.faults.rate_429 = clamp_rate(rate);
        self
    }

    /// Processes this share of requests fully, then closes the connection without answering:
    /// the client cannot know whether the request took effect.
    pub fn fault_reset(mut self, rate: f64) -> Self {
        self.config.faults.rate_reset = clamp_rate(rate);
        self
    }

    /// Processes this share of requests, then sends the status and headers with the full
    /// `Content-Length` but only half of the body, and closes the connection.
    pub fn fault_truncate(mut self, rate: f64) -> Self {
        self.config.faults.rate_truncate = clamp_rate(rate);
        self
    }

    /// Delays every faultable request by `latency` before handling it.
    pub fn fault_latency(mut self, latency: Duration) -> Self {
        self.config.faults.latency = latency;
        self
    }

    /// Seeds the fault generator, so that the same sequence of requests meets the same faults.
    /// Random unless set.
    pub fn fault_seed(mut self, seed: u64) -> Self {
        self.config.faults.seed = Some(seed);
        self
    }

    /// Restricts fault injection to these operation ids (see
    /// [`ksef_model::OperationInfo::id`], e.g. `sessions.online.send_invoice`); by default every
    /// request outside `/_sim/` may be faulted.
    pub fn fault_operations<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.faults.operations = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces every fault setting at once.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.config.faults = faults;
        self
    }

    /// Starts the simulator on the [`listen`](Self::listen) address, on the current Tokio runtime.
    ///
    /// The first simulator of a process generates three 2048-bit RSA keys (which takes a moment
    /// in debug builds); later ones reuse them, with fresh certificates.
    ///
    /// # Errors
    ///
    /// [`SimError::InvalidSubject`] for a seeded subject that is not a NIP, [`SimError::Keys`] if
    /// key or certificate generation fails, [`SimError::Bind`] if the listener cannot be bound.
    pub async fn start(self) -> Result<Simulator, SimError> {
        let mut config = self.config;
        for nip in &config.subjects {
            nip.parse::<Nip>()
                .map_err(|_| SimError::InvalidSubject(nip.clone()))?;
        }
        if config.subjects.is_empty() {
            return Err(SimError::InvalidSubject(String::new()));
        }
        let keys = tokio::task::spawn_blocking(Keys::shared)
            .await
            .map_err(|e| SimError::Keys(e.to_string()))??;
        let now = Utc::now();
        let token_cert = certificate(
            &keys.token_encryption,
            PublicKeyCertificateUsage::KsefTokenEncryption,
            now,
        )?;
        let symmetric_cert = certificate(
            &keys.symmetric_key_encryption,
            PublicKeyCertificateUsage::SymmetricKeyEncryption,
            now,
        )?;
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        // Not empty: checked above.
        let seeded_nip = config.subjects[0].clone();
        let mut state = State {
            lighthouse: config.lighthouse.clone(),
            ..State::default()
        };
        let mut seeded_tokens = Vec::new();
        for (index, nip) in config.subjects.iter().enumerate() {
            let reference = api::new_reference(now, "TK")
                .map_err(|e| SimError::Keys(e.details.join(" ")))?
                .to_string();
            let secret = if index == 0 && !config.seeded_token.is_empty() {
                config.seeded_token.clone()
            } else {
                api::token_secret(&reference, nip)
            };
            seeded_tokens.push((nip.clone(), secret.clone()));
            state.tokens.push(KsefTokenRec {
                reference,
                secret,
                context_nip: nip.clone(),
                author_nip: nip.clone(),
                description: "Token seeded by ksef-sim".to_owned(),
                permissions: api::ALL_TOKEN_PERMISSIONS
                    .iter()
                    .map(|p| (*p).to_owned())
                    .collect(),
                created: now,
                active_from: now,
                revoked: false,
                last_use: None,
            });
        }
        if let Some(dir) = &config.data_dir {
            let loaded = crate::persist::load(dir).map_err(SimError::Data)?;
            if let Some(snapshot) = loaded {
                let explicit = !config.seeded_token.is_empty();
                let fresh = std::mem::take(&mut state.tokens);
                let mut tokens = snapshot.apply(&mut state);
                // Seeded subjects keep the tokens they had; new subjects get their fresh one.
                for (index, (fresh, (nip, secret))) in
                    fresh.into_iter().zip(seeded_tokens.iter_mut()).enumerate()
                {
                    let kept = tokens.iter_mut().find(|t| {
                        t.context_nip == *nip
                            && t.author_nip == *nip
                            && t.description == fresh.description
                            && !t.revoked
                    });
                    match kept {
                        Some(kept) if index == 0 && explicit => kept.secret.clone_from(secret),
                        Some(kept) => secret.clone_from(&kept.secret),
                        None => tokens.push(fresh),
                    }
                }
                state.tokens = tokens;
            }
        }
        // One token per subject, the first for the first subject.
        config.seeded_token = seeded_tokens[0].1.clone();
        let shared = Arc::new(Shared {
            root_url: format!("http://{addr}"),
            base_url: format!("http://{addr}/v2"),
            config: config.clone(),
            keys,
            certificates: vec![token_cert.listing, symmetric_cert.listing],
            state: Mutex::new(state),
            limiter: Mutex::new(RateLimiter::default()),
            fault_rng: Mutex::new(FaultRng::new(config.faults.seed.unwrap_or_else(|| {
                use rsa::rand_core::RngCore as _;
                rsa::rand_core::OsRng.next_u64()
            }))),
            flush_lock: Mutex::new(()),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        if config.data_dir.is_some() {
            tokio::spawn(flush_periodically(
                shared.clone(),
                config.data_flush_interval,
                stop_rx.clone(),
            ));
        }
        let task = tokio::spawn(serve(listener, shared.clone(), stop_rx));
        Ok(Simulator {
            addr,
            shared,
            seeded_nip,
            seeded_tokens,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// What the request handlers share.
pub(crate) struct Shared {
    pub(crate) root_url: String,
    pub(crate) base_url: String,
    pub(crate) config: Config,
    pub(crate) keys: Arc<Keys>,
    pub(crate) certificates: Vec<PublicKeyCertificate>,
    state: Mutex<State>,
    limiter: Mutex<RateLimiter>,
    fault_rng: Mutex<FaultRng>,
    /// Serializes writers of the state file.
    flush_lock: Mutex<()>,
}

impl Shared {
    /// The state, even if a panicking handler poisoned the lock (its changes are kept).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves the durable state to the data directory, if there is one.
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        match &self.config.data_dir {
            Some(dir) => {
                let _writer = self
                    .flush_lock
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Encode under the state lock, write outside it.
                let json = crate::persist::encode(&self.state())?;
                crate::persist::save(dir, &json)
            }
            None => Ok(()),
        }
    }

    /// The served certificate for `usage`.
    pub(crate) fn certificate(
        &self,
        usage: &PublicKeyCertificateUsage,
    ) -> Option<&PublicKeyCertificate> {
        self.certificates.iter().find(|c| c.usage.contains(usage))
    }
}

/// A running simulator. Dropping it stops the server without waiting; prefer
/// [`Simulator::shutdown`].
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    seeded_nip: String,
    seeded_tokens: Vec<(String, String)>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.shared.base_url)
            .field("seeded_nip", &self.seeded_nip)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A builder with the defaults.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::new()
    }

    /// The API base URL, e.g. `http://127.0.0.1:41234/v2`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The NIP of the first seeded subject, which owns [`Simulator::seeded_token`].
    pub fn seeded_nip(&self) -> &str {
        &self.seeded_nip
    }

    /// The secret of the ready, active KSeF token of [`Simulator::seeded_nip`].
    pub fn seeded_token(&self) -> &str {
        &self.shared.config.seeded_token
    }

    /// The secret of the ready, active KSeF token of a seeded subject (each seeded subject has
    /// one, with every token permission), or `None` for a NIP that was not seeded.
    pub fn token_for(&self, nip: &str) -> Option<&str> {
        self.seeded_tokens
            .iter()
            .find(|(n, _)| n == nip)
            .map(|(_, token)| token.as_str())
    }

    /// The Lighthouse base URL on this simulator, e.g. `http://127.0.0.1:41234/lighthouse`
    /// (`/status` and `/messages` below it).
    pub fn lighthouse_url(&self) -> String {
        format!("{}/lighthouse", self.shared.root_url)
    }

    /// Replaces what the Lighthouse serves from now on (as `PUT /_sim/lighthouse` does).
    pub fn set_lighthouse(&self, status: crate::lighthouse::LighthouseStatus) {
        self.shared.state().lighthouse = status;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.state().stats.clone()
    }

    /// Saves the state to the [`data_dir`](SimulatorBuilder::data_dir) now (nothing to do
    /// without one).
    ///
    /// # Errors
    ///
    /// The I/O error of writing the state file.
    pub fn flush(&self) -> std::io::Result<()> {
        self.shared.flush()
    }

    /// Stops accepting connections, lets requests in flight finish (for up to 5 seconds), saves
    /// the state to the [`data_dir`](SimulatorBuilder::data_dir) if there is one, and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // Drop saves the state.
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        // Errors cannot be reported from here; `flush` reports them.
        let _ = self.shared.flush();
    }
}

/// Saves the state every `interval` until the simulator stops.
async fn flush_periodically(
    shared: Arc<Shared>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {
                // File I/O blocks: keep it off the threads that serve requests.
                let shared = shared.clone();
                let _ = tokio::task::spawn_blocking(move || shared.flush()).await;
            }
            _ = stop.changed() => break,
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let shared = shared.clone();
                let service = service_fn(move |request| {
                    let shared = shared.clone();
                    handle_faulty(shared, request, peer)
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}

/// A rate as a probability (NaN counts as 0).
fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// The faults drawn for one request.
#[derive(Default)]
struct Drawn {
    server_error: Option<u16>,
    too_many: bool,
    reset: bool,
    truncate: bool,
}

/// Applies fault injection around [`handle`]; `Err` makes hyper close the connection without an
/// answer.
async fn handle_faulty(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<SimBody>, InjectedFault> {
    let faults = &shared.config.faults;
    let path = request.uri().path().to_owned();
    if !faults.any() || path.starts_with("/_sim/") {
        return Ok(handle(shared, request, peer).await);
    }
    let id = match path
        .strip_prefix("/v2")
        .map(|p| route(request.method().as_str(), p))
    {
        Some(Routed::Found(op, _)) => Some(op.id),
        _ => None,
    };
    if !faults.applies_to(id) {
        return Ok(handle(shared, request, peer).await);
    }
    let drawn = {
        let mut rng = shared
            .fault_rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Drawn {
            server_error: rng
                .hit(faults.rate_5xx)
                .then(|| if rng.unit() < 0.5 { 500 } else { 503 }),
            too_many: rng.hit(faults.rate_429),
            reset: rng.hit(faults.rate_reset),
            truncate: rng.hit(faults.rate_truncate),
        }
    };
    if !faults.latency.is_zero() {
        shared.state().stats.faults.delayed += 1;
        tokio::time::sleep(faults.latency).await;
    }
    let problem = wants_problem_details(request.headers());
    let instance = path;
    if let Some(status) = drawn.server_error {
        count(&shared, id.unwrap_or("unknown"));
        shared.state().stats.faults.server_errors += 1;
        let error = if status == 500 {
            ApiError::internal("Wystąpił nieoczekiwany błąd (injected by ksef-sim).")
        } else {
            ApiError::other(
                503,
                "Usługa chwilowo niedostępna.",
                "The service is temporarily unavailable (injected by ksef-sim).",
            )
        };
        return Ok(error_response(&error, problem, &instance));
    }
    if drawn.too_many {
        count(&shared, id.unwrap_or("unknown"));
        {
            let mut state = shared.state();
            state.stats.faults.too_many_requests += 1;
            state.stats.too_many_requests_sent += 1;
        }
        return Ok(error_response(
            &ApiError::too_many_requests(1),
            problem,
            &instance,
        ));
    }
    let response = handle(shared.clone(), request, peer).await;
    if drawn.reset {
        shared.state().stats.faults.resets += 1;
        return Err(InjectedFault("connection reset after processing"));
    }
    if drawn.truncate {
        shared.state().stats.faults.truncations += 1;
        return Ok(response.map(SimBody::truncate));
    }
    Ok(response)
}

/// Runs the handler in its own task so that a panic becomes a 500, never a dead server.
async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<SimBody> {
    let problem = wants_problem_details(request.headers());
    let instance = request.uri().path().to_owned();
    let inner = tokio::spawn(handle_inner(shared.clone(), request, peer)).await;
    match inner {
        Ok(response) => response,
        Err(_) => {
            shared.state().stats.internal_errors += 1;
            error_response(
                &ApiError::internal("The simulator failed while handling the request."),
                problem,
                &instance,
            )
        }
    }
}

async fn handle_inner(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    let problem = wants_problem_details(&parts.headers);
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();

    // The Lighthouse, and its switch.
    if let Some(rest) = path.strip_prefix("/lighthouse/") {
        let id = match rest.trim_end_matches('/') {
            "status" => "lighthouse.status",
            "messages" => "lighthouse.messages",
            _ => "unknown",
        };
        count(&shared, id);
        return respond(
            crate::lighthouse::serve(&shared, parts.method.as_str(), rest),
            problem,
            &path,
        );
    }
    if path.trim_end_matches('/') == "/_sim/lighthouse" {
        count(&shared, "_sim");
        let reply = read_body(body, "body")
            .await
            .and_then(|body| crate::lighthouse::admin(&shared, parts.method.as_str(), &body));
        return respond(reply, problem, &path);
    }
    // Simulator extras outside the API.
    if let Some(rest) = path.strip_prefix("/_sim/upload/") {
        count(&shared, "_sim");
        let reply = Limited::new(body, MAX_PART_BODY)
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .map_err(|_| {
                ApiError::other(
                    413,
                    "Przekroczono dopuszczalny rozmiar.",
                    format!("A part body may have at most {MAX_PART_BODY} bytes."),
                )
            })
            .and_then(|body| {
                api::batch::upload(&shared, parts.method.as_str(), rest, &query, &body)
            });
        return respond(reply, problem, &path);
    }
    if let Some(rest) = path.strip_prefix("/_sim/") {
        count(&shared, "_sim");
        let reply = api::sim_extra(&shared, parts.method.as_str(), rest, &query);
        return respond(reply, problem, &path);
    }

    let Some(api_path) = path.strip_prefix("/v2") else {
        count(&shared, "unknown");
        return error_response(
            &ApiError::other(404, "Nie znaleziono.", format!("No resource at {path}.")),
            problem,
            &path,
        );
    };
    let (op, params) = match route(parts.method.as_str(), api_path) {
        Routed::Found(op, params) => (op, params),
        Routed::WrongMethod => {
            count(&shared, "unknown");
            return error_response(
                &ApiError::other(
                    405,
                    "Niedozwolona metoda.",
                    format!("Method {} is not allowed on {path}.", parts.method),
                ),
                problem,
                &path,
            );
        }
        Routed::NotFound => {
            count(&shared, "unknown");
            return error_response(
                &ApiError::other(404, "Nie znaleziono.", format!("No operation at {path}.")),
                problem,
                &path,
            );
        }
    };
    count(&shared, op.id);
    if !SIMULATED_OPERATIONS.contains(&op.id) {
        return error_response(&ApiError::not_simulated(op.id), problem, &path);
    }

    let now = Utc::now();
    let caller = match authorize(&shared, op, &parts.headers, now) {
        Ok(caller) => caller,
        Err(err) => return error_response(&err, problem, &path),
    };
    let overridden = caller.as_ref().and_then(|c| {
        crate::api::admin::rate_override(&shared.state(), &c.ctx, op.rate_limit.group)
    });
    let limits = match overridden {
        Some((s, m, h)) => Some((
            ksef_model::RateLimit::new(op.rate_limit.group, s, Some(m), Some(h)),
            1.0,
        )),
        None => shared
            .config
            .rate_limit_scale
            .map(|scale| (op.rate_limit, scale)),
    };
    if let Some((limit, scale)) = limits {
        let context = caller.as_ref().map(|c| c.ctx.as_str());
        let ip = peer.ip().to_string();
        let checked = shared
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(op, limit, context, &ip, scale, std::time::Instant::now());
        if let Err(seconds) = checked {
            {
                let mut state = shared.state();
                state.stats.rate_limited += 1;
                state.stats.too_many_requests_sent += 1;
            }
            return error_response(&ApiError::too_many_requests(seconds), problem, &path);
        }
    }
    let body = match read_body(body, "request body").await {
        Ok(body) => body,
        Err(err) => return error_response(&err, problem, &path),
    };
    let req = Req {
        op,
        params,
        query: api::parse_query(&query),
        headers: parts.headers,
        body,
        client_ip: peer.ip().to_string(),
        caller,
        now,
    };
    respond(api::dispatch(&shared, &req), problem, &path)
}

/// Whether the client asked for errors as problem details (`X-Error-Format: problem-details`).
fn wants_problem_details(headers: &hyper::HeaderMap) -> bool {
    headers
        .get("x-error-format")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("problem-details"))
}

/// Reads a request body of at most [`MAX_BODY`] bytes; `what` names it in the error.
async fn read_body(body: Incoming, what: &str) -> Result<bytes::Bytes, ApiError> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|_| ApiError::validation(format!("The {what} is too large or could not be read.")))
}

/// The answer to a handled request: its reply, or its error in the format the client chose.
fn respond(result: Result<Reply, ApiError>, problem: bool, path: &str) -> Response<SimBody> {
    match result {
        Ok(reply) => reply_response(reply),
        Err(err) => error_response(&err, problem, path),
    }
}

fn count(shared: &Shared, id: &str) {
    *shared
        .state()
        .stats
        .requests
        .entry(id.to_owned())
        .or_default() += 1;
}

/// Checks the bearer token an operation needs, and the permissions it requires.
fn authorize(
    shared: &Shared,
    op: &OperationInfo,
    headers: &hyper::HeaderMap,
    now: DateTime<Utc>,
) -> Result<Option<crate::keys::Claims>, ApiError> {
    let expected = match op.auth {
        Auth::AccessToken => TokenType::Access,
        Auth::AuthenticationToken => TokenType::Authentication,
        Auth::RefreshToken => TokenType::Refresh,
        _ => return Ok(None),
    };
    let token = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthorized("Brak tokena uwierzytelniającego (missing bearer token).")
        })?;
    let claims = shared.keys.verify_jwt(token, now).ok_or_else(|| {
        ApiError::unauthorized("Token jest nieprawidłowy lub wygasł (invalid or expired token).")
    })?;
    if claims.typ != expected {
        return Err(ApiError::unauthorized(format!(
            "Nieprawidłowy typ tokena: oczekiwano {expected:?}, otrzymano {:?}.",
            claims.typ
        )));
    }
    if !op.required_permissions.is_empty()
        && !op
            .required_permissions
            .iter()
            .any(|p| claims.per.iter().any(|c| c == p))
    {
        return Err(ApiError::forbidden(
            "missing-permissions",
            format!(
                "Operation requires one of: {}.",
                op.required_permissions.join(", ")
            ),
        ));
    }
    Ok(Some(claims))
}

/// Path parameters by template name.
type PathParams = Vec<(&'static str, String)>;

enum Routed {
    Found(&'static OperationInfo, PathParams),
    WrongMethod,
    NotFound,
}

/// Matches a path below `/v2` against the spec's path templates; literal segments win over
/// placeholders (`/auth/sessions` is not `/auth/{referenceNumber}`).
fn route(method: &str, path: &str) -> Routed {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let mut best: Option<(usize, &'static OperationInfo, PathParams)> = None;
    let mut path_matched = false;
    for op in ALL {
        let template: Vec<&'static str> = op.path_template.split('/').skip(1).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut literals = 0;
        let mut params = Vec::new();
        let matched = template.iter().zip(&segments).all(|(t, s)| {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                params.push((name, api::percent_decode(s)));
                !s.is_empty()
            } else {
                literals += 1;
                t == s
            }
        });
        if !matched {
            continue;
        }
        path_matched = true;
        if op.method.as_str() != method {
            continue;
        }
        if best.as_ref().is_none_or(|(l, _, _)| literals > *l) {
            best = Some((literals, op, params));
        }
    }
    match best {
        Some((_, op, params)) => Routed::Found(op, params),
        None if path_matched => Routed::WrongMethod,
        None => Routed::NotFound,
    }
}

fn reply_response(reply: Reply) -> Response<SimBody> {
    let (status, content_type, body, hash) = match reply {
        Reply::Json(status, body) => (status, Some("application/json"), body, None),
        Reply::Xml(body) => {
            let hash = ksef_crypto::file_metadata(&body).sha256_base64();
            (200, Some("application/xml"), body, Some(hash))
        }
        Reply::Binary(body) => {
            let hash = ksef_crypto::file_metadata(&body).sha256_base64();
            (200, Some("application/octet-stream"), body, Some(hash))
        }
        Reply::Empty(status) => (status, None, Vec::new(), None),
    };
    let mut response = Response::new(SimBody::full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(hash) = hash.and_then(|h| HeaderValue::from_str(&h).ok()) {
        response.headers_mut().insert("x-ms-meta-hash", hash);
    }
    response
}

fn error_response(err: &ApiError, problem: bool, instance: &str) -> Response<SimBody> {
    let trace_id = api::random_hex(16).to_lowercase();
    let (content_type, body) = err.render(problem, instance, &trace_id);
    let mut response = Response::new(SimBody::full(body));
    *response.status_mut() =
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(seconds) = err.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{ALL, Routed, route};

    #[test]
    fn every_operation_routes_to_itself() {
        for op in ALL {
            let path = op.path_template.replace('{', "X").replace('}', "");
            match route(op.method.as_str(), &path) {
                Routed::Found(found, _) => assert_eq!(found.id, op.id, "{}", op.path_template),
                _ => panic!("{} {} does not route", op.method, op.path_template),
            }
        }
    }

    #[test]
    fn literal_segments_win_over_placeholders() {
        let Routed::Found(op, _) = route("GET", "/auth/sessions") else {
            panic!()
        };
        assert_eq!(op.id, "auth.sessions.list");
        let Routed::Found(op, params) = route("GET", "/auth/20250101-AU-0000000000-0000000000-00")
        else {
            panic!()
        };
        assert_eq!(op.id, "auth.status");
        assert_eq!(
            params[0],
            (
                "referenceNumber",
                "20250101-AU-0000000000-0000000000-00".to_owned()
            )
        );
        let Routed::Found(op, _) = route("GET", "/sessions/S/invoices/failed") else {
            panic!()
        };
        assert_eq!(op.id, "sessions.failed_invoices");
        assert!(matches!(
            route("PUT", "/auth/challenge"),
            Routed::WrongMethod
        ));
        assert!(matches!(route("GET", "/nothing/here"), Routed::NotFound));
    }

    #[test]
    fn simulated_operations_exist_in_the_spec() {
        for id in super::SIMULATED_OPERATIONS {
            assert!(ALL.iter().any(|op| op.id == *id), "{id}");
        }
    }
}
