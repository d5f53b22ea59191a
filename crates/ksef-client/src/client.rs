//! [`Client`] and its builder.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ksef_crypto::{
    CertificateEntry, CertificateUsage, MinistryCertificate, MinistryCertificates, SessionKey,
};
use ksef_model::Operation;
use ksef_model::operations::GetPublicKeyCertificates;
use ksef_model::types::EncryptionInfo;
use ksef_transport::rate_limit::RateLimitConfig;
use ksef_transport::retry::RetryConfig;
use ksef_transport::{Environment, Response, Transport, TransportBuilder};

use crate::auth::UNKNOWN_PUBLIC_KEY_ID;
use crate::error::Error;
use crate::poll::PollConfig;
use crate::token_store::{MemoryTokenStore, StoreSource, TokenStore};

/// The API's `encryptionInfo` of a session key wrapped by `ksef_crypto`.
pub(crate) fn encryption_info(wrapped: &ksef_crypto::EncryptionInfo) -> EncryptionInfo {
    let info = EncryptionInfo::new(
        wrapped.encrypted_symmetric_key.clone(),
        wrapped.initialization_vector.clone(),
    );
    match &wrapped.public_key_id {
        Some(id) => info.with_public_key_id(id.clone()),
        None => info,
    }
}

/// The async KSeF client: cheap to clone (one `Arc`), `Send + Sync`, one per authenticated
/// context.
///
/// Grouped, typed access to every API operation is in [`Client::auth`], [`Client::sessions`],
/// [`Client::invoices`], [`Client::tokens`], [`Client::certificates`], [`Client::permissions`],
/// [`Client::limits`], [`Client::test_data`], [`Client::peppol`] and [`Client::security`]; the
/// flows that take several calls (logging in, online sessions, paged queries) are methods of the
/// client and of [`crate::OnlineSession`]. [`Client::execute`] runs any
/// [`ksef_model::Operation`].
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) poll: PollConfig,
    pub(crate) reconcile: PollConfig,
    pub(crate) max_sends_in_flight: usize,
    /// The Ministry's public-key certificates, fetched on first use.
    certificates: tokio::sync::Mutex<Option<Arc<MinistryCertificates>>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.transport.base_url())
            .field("poll", &self.inner.poll)
            .field("max_sends_in_flight", &self.inner.max_sends_in_flight)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder; the environment defaults to [`Environment::Test`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Runs any operation and returns its parsed response: the escape hatch for everything the
    /// typed services do not cover the way you need.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] with what the transport reported.
    pub async fn execute<O: Operation>(&self, operation: &O) -> Result<O::Response, Error> {
        Ok(self.inner.transport.execute(operation).await?.into_value())
    }

    /// Like [`Client::execute`], but returns the whole response: status, headers (e.g.
    /// `x-ms-meta-hash`) and `X-System-Warning`s.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] with what the transport reported.
    pub async fn execute_full<O: Operation>(
        &self,
        operation: &O,
    ) -> Result<Response<O::Response>, Error> {
        Ok(self.inner.transport.execute(operation).await?)
    }

    /// The transport under the client, for presigned transfers and rate-limit tuning.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The token store the client reads and writes.
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The Ministry certificate to encrypt with for `usage`, from the per-client cache (fetched
    /// from `GET /security/public-key-certificates` on first use).
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the listing cannot be fetched, [`Error::Crypto`] if no listed
    /// certificate fits.
    pub async fn ministry_certificate(
        &self,
        usage: CertificateUsage,
    ) -> Result<MinistryCertificate, Error> {
        let certificates = self.ministry_certificates().await?;
        Ok(certificates.select(usage, Utc::now())?.clone())
    }

    /// Forgets the cached Ministry certificates, so the next use fetches them again (done
    /// automatically when KSeF answers 21470, unknown public key id).
    pub async fn invalidate_ministry_certificates(&self) {
        *self.inner.certificates.lock().await = None;
    }

    /// Wraps `key` for the Ministry's `SymmetricKeyEncryption` certificate and calls `send` with
    /// the API's `encryptionInfo`; when KSeF answers 21470 (unknown public key id) the cached
    /// certificates are fetched again and `send` is called once more. Shared by the online,
    /// batch and export openings.
    pub(crate) async fn send_with_wrapped_key<T, Fut>(
        &self,
        key: &SessionKey,
        mut send: impl FnMut(EncryptionInfo) -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut refetched = false;
        loop {
            let certificate = self
                .ministry_certificate(CertificateUsage::SymmetricKeyEncryption)
                .await?;
            let wrapped = key.wrap(&certificate)?.to_encryption_info();
            match send(encryption_info(&wrapped)).await {
                Err(error) if error.has_code(UNKNOWN_PUBLIC_KEY_ID) && !refetched => {
                    self.invalidate_ministry_certificates().await;
                    refetched = true;
                }
                result => return result,
            }
        }
    }

    async fn ministry_certificates(&self) -> Result<Arc<MinistryCertificates>, Error> {
        let mut cached = self.inner.certificates.lock().await;
        if let Some(certificates) = cached.as_ref() {
            return Ok(certificates.clone());
        }
        let listing = self.execute(&GetPublicKeyCertificates::new()).await?;
        let entries: Vec<CertificateEntry> = listing
            .iter()
            .map(|c| {
                CertificateEntry::new(
                    c.certificate.clone(),
                    c.valid_from.with_timezone(&Utc),
                    c.valid_to.with_timezone(&Utc),
                    c.usage.iter().map(|u| CertificateUsage::from(u.as_str())),
                )
                .with_public_key_id(c.public_key_id.clone())
            })
            .collect();
        let certificates = Arc::new(MinistryCertificates::from_entries(&entries)?);
        *cached = Some(certificates.clone());
        Ok(certificates)
    }
}

enum Target {
    Environment(Environment),
    Url(String),
}

/// Builds a [`Client`].
///
/// Defaults: [`Environment::Test`]; a [`MemoryTokenStore`]; the transport's defaults for
/// timeouts (30 s per API call attempt, 10 s connect, 10 min per presigned transfer), access
/// tokens refreshed 30 s before they expire, retries ([`RetryConfig::default`]) and
/// rate limits ([`RateLimitConfig::default`]); status polling per [`PollConfig::default`];
/// reconciliation after an unknown send outcome per [`PollConfig::reconcile_default`]; at most 4
/// invoice sends in flight per online session.
pub struct ClientBuilder {
    target: Target,
    store: Arc<dyn TokenStore>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    transfer_timeout: Option<Duration>,
    refresh_margin: Option<Duration>,
    retry: Option<RetryConfig>,
    rate_limit: Option<Option<RateLimitConfig>>,
    allow_insecure_http: bool,
    poll: PollConfig,
    reconcile: PollConfig,
    max_sends_in_flight: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("poll", &self.poll)
            .field("max_sends_in_flight", &self.max_sends_in_flight)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// A builder with the defaults above.
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            target: Target::Environment(Environment::Test),
            store: Arc::new(MemoryTokenStore::new()),
            timeout: None,
            connect_timeout: None,
            transfer_timeout: None,
            refresh_margin: None,
            retry: None,
            rate_limit: None,
            allow_insecure_http: false,
            poll: PollConfig::default(),
            reconcile: PollConfig::reconcile_default(),
            max_sends_in_flight: 4,
        }
    }

    /// Talks to `environment` (TEST, DEMO or PRODUCTION).
    pub fn environment(mut self, environment: Environment) -> ClientBuilder {
        self.target = Target::Environment(environment);
        self
    }

    /// Talks to a custom API base URL ending in `/v2`, e.g. a local simulator. Plain `http://` is
    /// accepted for loopback hosts only unless [`ClientBuilder::danger_allow_insecure_http`].
    pub fn base_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.target = Target::Url(url.into());
        self
    }

    /// Allows plain `http://` to hosts that are not loopback addresses: tokens then travel
    /// unencrypted. Only for test setups.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> ClientBuilder {
        self.allow_insecure_http = allow;
        self
    }

    /// Where tokens are kept (default: in memory).
    pub fn token_store(mut self, store: impl TokenStore) -> ClientBuilder {
        self.store = Arc::new(store);
        self
    }

    /// Like [`ClientBuilder::token_store`], for a store that is already shared.
    pub fn shared_token_store(mut self, store: Arc<dyn TokenStore>) -> ClientBuilder {
        self.store = store;
        self
    }

    /// The total timeout of one attempt of an API call.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// The connect timeout (TCP, proxy and TLS together).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The total timeout of one attempt of a presigned upload or download (default 10 min).
    pub fn transfer_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.transfer_timeout = Some(timeout);
        self
    }

    /// How long before its expiry an access token is refreshed instead of used (default 30 s).
    pub fn refresh_margin(mut self, margin: Duration) -> ClientBuilder {
        self.refresh_margin = Some(margin);
        self
    }

    /// Retry settings for idempotent requests (see [`RetryConfig`]).
    pub fn retry(mut self, config: RetryConfig) -> ClientBuilder {
        self.retry = Some(config);
        self
    }

    /// Client-side rate-limit settings (see [`RateLimitConfig`]).
    pub fn rate_limit(mut self, config: RateLimitConfig) -> ClientBuilder {
        self.rate_limit = Some(Some(config));
        self
    }

    /// Turns client-side rate limiting off (429 answers are still honoured).
    pub fn without_rate_limit(mut self) -> ClientBuilder {
        self.rate_limit = Some(None);
        self
    }

    /// How authentication, session and invoice statuses are polled.
    pub fn poll(mut self, config: PollConfig) -> ClientBuilder {
        self.poll = config;
        self
    }

    /// How long, and how often, the session's invoice list is checked for an invoice whose send
    /// had an unknown outcome before concluding that it never arrived.
    pub fn reconcile(mut self, config: PollConfig) -> ClientBuilder {
        self.reconcile = config;
        self
    }

    /// At most `n` invoice sends in flight per online session (at least 1).
    pub fn max_sends_in_flight(mut self, n: usize) -> ClientBuilder {
        self.max_sends_in_flight = n.max(1);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for an invalid base URL or TLS setup.
    pub fn build(self) -> Result<Client, Error> {
        let mut transport = match self.target {
            Target::Environment(environment) => TransportBuilder::new(environment),
            Target::Url(url) => TransportBuilder::new(Environment::Test).base_url(url),
        };
        transport = transport
            .danger_allow_insecure_http(self.allow_insecure_http)
            .token_source(Arc::new(StoreSource {
                store: self.store.clone(),
            }));
        if let Some(timeout) = self.timeout {
            transport = transport.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            transport = transport.connect_timeout(timeout);
        }
        if let Some(timeout) = self.transfer_timeout {
            transport = transport.transfer_timeout(timeout);
        }
        if let Some(margin) = self.refresh_margin {
            transport = transport.refresh_margin(margin);
        }
        if let Some(retry) = self.retry {
            transport = transport.retry(retry);
        }
        match self.rate_limit {
            Some(Some(config)) => transport = transport.rate_limit(config),
            Some(None) => transport = transport.without_rate_limit(),
            None => {}
        }
        Ok(Client {
            inner: Arc::new(Inner {
                transport: transport.build()?,
                store: self.store,
                poll: self.poll,
                reconcile: self.reconcile,
                max_sends_in_flight: self.max_sends_in_flight,
                certificates: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync_clone::<Client>();
    }

    #[test]
    fn builds_for_a_custom_loopback_url() {
        let client = Client::builder()
            .base_url("http://127.0.0.1:9/v2")
            .timeout(Duration::from_secs(5))
            .retry(RetryConfig::disabled())
            .without_rate_limit()
            .max_sends_in_flight(0)
            .build()
            .unwrap();
        assert_eq!(client.inner.max_sends_in_flight, 1);
        assert!(
            client
                .transport()
                .base_url()
                .starts_with("http://127.0.0.1:9")
        );
    }

    #[test]
    fn refuses_plain_http_to_remote_hosts() {
        let error = Client::builder()
            .base_url("http://example.com/v2")
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Transport { .. }));
    }
}
