//! [`Client`] and its builder.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chrono::Utc;
use ksef_crypto::{MinistryCertificate, MinistryCertificates, SessionKey};
use ksef_model::Operation;
use ksef_model::operations::GetPublicKeyCertificates;
use ksef_model::types::{EncryptionInfo, PublicKeyCertificateUsage};
#[cfg(doc)]
use ksef_transport::rate_limit::RateLimitConfig;
#[cfg(doc)]
use ksef_transport::retry::RetryConfig;
use ksef_transport::{BoxStack, Environment, Response, Transport, TransportBuilder};

use crate::auth::UNKNOWN_PUBLIC_KEY_ID;
use crate::error::Error;
use crate::poll::PollConfig;
use ksef_transport::TokenStore;
use tower::{Layer, Service};

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

/// How many times a ceremony is started by default (see [`ClientBuilder::ceremony_attempts`]).
pub(crate) const DEFAULT_CEREMONY_ATTEMPTS: u32 = 6;

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) poll: PollConfig,
    pub(crate) reconcile: PollConfig,
    pub(crate) max_sends_in_flight: usize,
    pub(crate) ceremony_attempts: u32,
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

    /// The token store the client reads and writes (the transport's).
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        self.inner.transport.token_store()
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
        usage: PublicKeyCertificateUsage,
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
                .ministry_certificate(PublicKeyCertificateUsage::SymmetricKeyEncryption)
                .await?;
            let wrapped = key.wrap(&certificate)?.to_encryption_info();
            match send(wrapped).await {
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
        let certificates = Arc::new(MinistryCertificates::from_entries(listing.iter())?);
        *cached = Some(certificates.clone());
        Ok(certificates)
    }
}

/// Builds a [`Client`]: a [`TransportBuilder`] for everything HTTP, plus the client's own
/// settings.
///
/// The transport's settings (environment or base URL, token store, timeouts, retries, rate
/// limits, proxy, your own tower layers) are set on the transport builder, with
/// [`ClientBuilder::transport`] or by starting from one with [`ClientBuilder::from_transport`];
/// [`ClientBuilder::with_layer`] is a shortcut for [`TransportBuilder::with_layer`].
///
/// Defaults: the transport's ([`TransportBuilder`]: [`Environment::Test`], a
/// [`ksef_transport::MemoryTokenStore`], 30 s per API call attempt, 10 s connect, 10 min per
/// presigned transfer, access tokens refreshed 30 s before they expire, [`RetryConfig::default`],
/// [`RateLimitConfig::default`]); status polling per [`PollConfig::default`]; reconciliation
/// after an unknown send outcome per [`PollConfig::reconcile_default`]; at most 4 invoice sends
/// in flight per online session.
///
/// ```no_run
/// use std::time::Duration;
/// use ksef_client::{Client, Environment, FileTokenStore, RetryConfig};
///
/// # fn example() -> Result<(), ksef_client::Error> {
/// let tokens = FileTokenStore::open("ksef-tokens.json")?;
/// let client = Client::builder()
///     .transport(|t| {
///         t.environment(Environment::Demo)
///             .token_store(tokens)
///             .timeout(Duration::from_secs(60))
///             .retry(RetryConfig::default().with_max_attempts(5))
///     })
///     .max_sends_in_flight(8)
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct ClientBuilder {
    transport: TransportBuilder,
    poll: PollConfig,
    reconcile: PollConfig,
    max_sends_in_flight: usize,
    ceremony_attempts: u32,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("transport", &self.transport)
            .field("poll", &self.poll)
            .field("reconcile", &self.reconcile)
            .field("max_sends_in_flight", &self.max_sends_in_flight)
            .field("ceremony_attempts", &self.ceremony_attempts)
            .finish()
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
        ClientBuilder::from_transport(TransportBuilder::new(Environment::Test))
    }

    /// A builder over `transport`, with the client's defaults for the rest.
    pub fn from_transport(transport: TransportBuilder) -> ClientBuilder {
        ClientBuilder {
            transport,
            poll: PollConfig::default(),
            reconcile: PollConfig::reconcile_default(),
            max_sends_in_flight: 4,
            ceremony_attempts: DEFAULT_CEREMONY_ATTEMPTS,
        }
    }

    /// Changes the transport's settings: `configure` gets the transport builder and returns it
    /// (`.transport(|t| t.base_url(url).retry(config))`).
    pub fn transport(
        mut self,
        configure: impl FnOnce(TransportBuilder) -> TransportBuilder,
    ) -> ClientBuilder {
        self.transport = configure(self.transport);
        self
    }

    /// Puts your own tower layer into the transport's stack (see
    /// [`TransportBuilder::with_layer`] for where it sits and what it sees).
    pub fn with_layer<L>(mut self, layer: L) -> ClientBuilder
    where
        L: Layer<BoxStack> + Send + 'static,
        L::Service: Service<
                http::Request<bytes::Bytes>,
                Response = http::Response<bytes::Bytes>,
                Error = ksef_transport::Error,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<http::Request<bytes::Bytes>>>::Future: Send + 'static,
    {
        self.transport = self.transport.with_layer(layer);
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

    /// How many times a ceremony (a login, opening or closing an online session) is started
    /// again after a step whose outcome is unknown (a reset, a cut-off answer, a 5xx); at least 1,
    /// 6 by default. A login starts again from a new challenge; a session open or close first
    /// checks the session's status. A definite refusal is never repeated.
    pub fn ceremony_attempts(mut self, attempts: u32) -> ClientBuilder {
        self.ceremony_attempts = attempts.max(1);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] for an invalid base URL or TLS setup.
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client {
            inner: Arc::new(Inner {
                transport: self.transport.build()?,
                poll: self.poll,
                reconcile: self.reconcile,
                max_sends_in_flight: self.max_sends_in_flight,
                ceremony_attempts: self.ceremony_attempts,
                certificates: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync_clone::<Client>();
    }

    #[test]
    fn builds_for_a_custom_loopback_url() {
        let client = Client::builder()
            .transport(|t| {
                t.base_url("http://127.0.0.1:9/v2")
                    .timeout(Duration::from_secs(5))
                    .retry(ksef_transport::retry::RetryConfig::disabled())
                    .without_rate_limit()
            })
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
            .transport(|t| t.base_url("http://example.com/v2"))
            .build()
            .unwrap_err();
        assert!(matches!(error, Error::Transport { .. }));
    }
}
