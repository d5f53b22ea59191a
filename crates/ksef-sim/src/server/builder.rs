//! [`SimulatorBuilder`]: the simulator's settings, and starting it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use ksef_model::types::PublicKeyCertificateUsage;
use ksef_model::values::Nip;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::simulator::{Simulator, flush_periodically, serve};
use crate::api::common::{ALL_TOKEN_PERMISSIONS, new_reference, token_secret};
use crate::config::{Config, SimMode};
use crate::errors::SimError;
use crate::faults::{Faults, SeededRng};
use crate::keys::{Keys, certificate};
use crate::rate_limit::RateLimiter;
use crate::shared::Shared;
use crate::state::{KsefTokenRec, State};

/// Builds a [`Simulator`].
///
/// Defaults: one seeded subject (NIP `5265877635`) with a ready, active KSeF token holding every
/// token permission (a random secret unless [`SimulatorBuilder::seeded_token`] sets one);
/// challenge lifetime 10 min; authentication token 1 h; access token 15 min; refresh token 7
/// days; online session 12 h; authentication, token activation, invoice processing, UPO
/// generation and exports each complete 100 ms after they start; exports of at most 10,000
/// invoices in parts of at most 50 MB; rate limits not enforced; no faults; state in memory;
/// request headers read within 30 s;
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

impl Simulator {
    /// A builder with the defaults.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::new()
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
                header_read_timeout: Duration::from_secs(30),
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
    /// check, test data, limits, permission grants, KSeF certificates and the [`Stats`](crate::Stats). Not
    /// kept: logins and the tokens they issued (log in again), sessions (and the UPOs of closed
    /// ones), exports and operations in progress. The file holds KSeF token secrets: on Unix the
    /// directory is made 0700 and the file 0600 at start and on every save, also when they
    /// existed before with looser modes. Without it, everything lives in memory.
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

    /// How long a client may take to send a request's line and headers (30 s by default; at
    /// least 10 ms): a connection that trickles them slower, or idles longer between requests,
    /// is closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.header_read_timeout = timeout.max(Duration::from_millis(10));
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
            let reference = new_reference(now, "TK")
                .map_err(|e| SimError::Keys(e.details.join(" ")))?
                .to_string();
            let secret = if index == 0 && !config.seeded_token.is_empty() {
                config.seeded_token.clone()
            } else {
                token_secret(&reference, nip)
            };
            seeded_tokens.push((nip.clone(), secret.clone()));
            state.tokens.push(KsefTokenRec {
                reference,
                secret,
                context_nip: nip.clone(),
                author_nip: nip.clone(),
                description: "Token seeded by ksef-sim".to_owned(),
                permissions: ALL_TOKEN_PERMISSIONS
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
            crate::persist::secure(dir).map_err(|e| {
                SimError::Data(format!("cannot make {} private: {e}", dir.display()))
            })?;
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
            fault_rng: Mutex::new(SeededRng::new(config.faults.seed.unwrap_or_else(|| {
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

/// A rate as a probability (NaN counts as 0).
fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}
