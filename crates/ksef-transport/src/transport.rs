//! [`Transport`]: the assembled, type-erased stack, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Uri};
use ksef_model::{ContentKind, Method, Operation};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::auth::AuthLayer;
use crate::base_url::{BaseUrl, BaseUrlLayer, check_absolute, redact_query};
use crate::client::{HttpClient, HttpConfig};
use crate::error::{Error, api_error};
use crate::meta::RequestMeta;
use crate::rate_limit::{RateLimitConfig, RateLimitLayer, RateLimitTable, RateLimiter};
use crate::retry::{RetryConfig, RetryLayer};
use crate::timeout::TimeoutLayer;
use crate::token::{MemoryTokenStore, TokenStore};
use crate::trace::TraceLayer;
use crate::warning::{SystemWarning, warnings_in};

/// A KSeF environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Environment {
    /// The test environment (TE): shared test data, `/testdata` endpoints.
    Test,
    /// The pre-production environment (TR), with production limits.
    Demo,
    /// Production.
    Production,
}

impl Environment {
    /// The API base URL, ending in `/v2`.
    pub const fn base_url(self) -> &'static str {
        match self {
            Environment::Test => "https://api-test.ksef.mf.gov.pl/v2",
            Environment::Demo => "https://api-demo.ksef.mf.gov.pl/v2",
            Environment::Production => "https://api.ksef.mf.gov.pl/v2",
        }
    }
}

/// A type-erased part of the middleware stack: what a layer added with
/// [`TransportBuilder::with_layer`] wraps.
pub type BoxStack = BoxCloneSyncService<Request<Bytes>, http::Response<Bytes>, Error>;

/// A user layer, applied when the stack is built.
type UserLayer = Box<dyn FnOnce(BoxStack) -> BoxStack + Send>;

/// Executes KSeF operations: the whole middleware stack behind one cheap-to-clone handle.
///
/// Built by [`TransportBuilder`]; see the [crate docs](crate) for the layers and their order.
#[derive(Clone)]
pub struct Transport {
    stack: BoxStack,
    limiter: Option<RateLimiter>,
    tokens: Arc<dyn TokenStore>,
    base_url: BaseUrl,
    allow_insecure_http: bool,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

/// A successful response: the parsed value, the status and the system warnings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response<T> {
    value: T,
    status: u16,
    warnings: Vec<SystemWarning>,
    headers: HeaderMap,
}

impl<T> Response<T> {
    /// The parsed body.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The parsed body, by value.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `X-System-Warning`s of the response (also logged as tracing warnings).
    pub fn warnings(&self) -> &[SystemWarning] {
        &self.warnings
    }

    /// The first value of response header `name`, if present and valid text (e.g.
    /// `x-ms-meta-hash` on document downloads).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request to a presigned URL returned by the API: a batch part upload or a UPO or export part
/// download. It never carries a bearer token and is not rate limited.
#[derive(Clone)]
pub struct PresignedRequest {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl PresignedRequest {
    /// A request with `method` to `url`, no extra headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> PresignedRequest {
        PresignedRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> PresignedRequest {
        PresignedRequest::new(Method::Get, url)
    }

    /// Adds a header (e.g. each of the `headers` of a part upload request). `Authorization` is
    /// refused when the request is executed.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> PresignedRequest {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (e.g. the encrypted part), sent as `application/octet-stream` unless a
    /// `Content-Type` header was added.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> PresignedRequest {
        self.body = Bytes::from(body.into());
        self
    }

    /// Sets the body from shared bytes: a request sent again (a retried part) shares one copy.
    pub fn body_bytes(mut self, body: Bytes) -> PresignedRequest {
        self.body = body;
        self
    }
}

/// The signature in a presigned URL is a secret: print only the URL without its query.
impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &redact_query(&self.url))
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The response to a [`PresignedRequest`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RawResponse {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl RawResponse {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name`, if present and valid text (e.g. `x-ms-meta-hash`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, by value.
    pub fn into_body(self) -> Vec<u8> {
        Vec::from(self.body)
    }
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

fn http_method(method: Method) -> Result<http::Method, Error> {
    Ok(match method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        other => {
            return Err(Error::InvalidRequest {
                reason: format!("unsupported method {other}"),
            });
        }
    })
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), Error> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::InvalidRequest {
        reason: format!("invalid header name {name:?}"),
    })?;
    // The value may be a secret: do not echo it.
    let value = HeaderValue::from_str(value).map_err(|_| Error::InvalidRequest {
        reason: format!("invalid value for header {name}"),
    })?;
    headers.append(name, value);
    Ok(())
}

/// Whether media type `content_type` fits `expected`.
fn content_type_fits(expected: ContentKind, content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match expected {
        ContentKind::Json => essence == "application/json" || essence.ends_with("+json"),
        ContentKind::Xml => {
            essence == "application/xml" || essence == "text/xml" || essence.ends_with("+xml")
        }
        _ => true,
    }
}

impl Transport {
    /// A builder for `environment`.
    pub fn builder(environment: Environment) -> TransportBuilder {
        TransportBuilder::new(environment)
    }

    /// Sends `operation` and parses its response.
    ///
    /// A non-2xx status gives [`Error::Api`]; a 2xx response with an empty body, the wrong
    /// content type or a body that does not parse gives [`Error::EmptyBody`],
    /// [`Error::UnexpectedContentType`] or [`Error::MalformedBody`].
    pub async fn execute<O: Operation>(
        &self,
        operation: &O,
    ) -> Result<Response<O::Response>, Error> {
        let request = build_request(operation)?;
        let response = self.stack.clone().oneshot(request).await?;
        finish::<O>(response)
    }

    /// Sends a request to a presigned URL: without a bearer token, without rate limiting, with
    /// the transfer timeout. Retried like an idempotent request if the method is `GET` or `PUT`.
    /// A non-2xx status gives [`Error::Api`].
    pub async fn execute_presigned(&self, request: PresignedRequest) -> Result<RawResponse, Error> {
        let uri: Uri = request.url.parse().map_err(|_| Error::InvalidUrl {
            url: redact_query(&request.url),
            reason: "not a valid absolute URL",
        })?;
        check_absolute(&uri, self.allow_insecure_http)?;
        let idempotent = matches!(request.method, Method::Get | Method::Put);
        let has_body = !request.body.is_empty();
        let mut http_request = Request::new(request.body);
        *http_request.method_mut() = http_method(request.method)?;
        *http_request.uri_mut() = uri;
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("authorization") {
                return Err(Error::InvalidRequest {
                    reason: "a presigned request must not carry an Authorization header".to_owned(),
                });
            }
            insert_header(http_request.headers_mut(), name, value)?;
        }
        if has_body && !http_request.headers().contains_key(header::CONTENT_TYPE) {
            http_request.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        http_request
            .extensions_mut()
            .insert(RequestMeta::presigned(idempotent));
        let response = self.stack.clone().oneshot(http_request).await?;
        if !response.status().is_success() {
            return Err(api_error(&response));
        }
        let (parts, body) = response.into_parts();
        Ok(RawResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// Replaces the rate limits per group (see [`RateLimiter::set_limits`]); no effect if rate
    /// limiting is off.
    pub fn set_rate_limits(&self, table: RateLimitTable) {
        if let Some(limiter) = &self.limiter {
            limiter.set_limits(table);
        }
    }

    /// Changes the rate-limit scale factor (see [`RateLimitConfig::with_scale`]).
    pub fn set_rate_limit_scale(&self, scale: f64) {
        if let Some(limiter) = &self.limiter {
            limiter.set_scale(scale);
        }
    }

    /// The token store requests read their bearer tokens from.
    pub fn token_store(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    /// The API base URL.
    pub fn base_url(&self) -> String {
        self.base_url.as_str()
    }
}

pub(crate) fn build_request<O: Operation>(operation: &O) -> Result<Request<Bytes>, Error> {
    let body = operation.body().map_err(|source| Error::RequestBody {
        operation: O::ID,
        source,
    })?;
    let path = operation.path_and_query();
    let uri: Uri = path
        .parse()
        .ok()
        .filter(|u: &Uri| u.scheme().is_none() && path.starts_with('/'))
        .ok_or_else(|| Error::InvalidRequest {
            reason: format!("operation {} produced an invalid path", O::ID),
        })?;
    let mut request = Request::new(Bytes::copy_from_slice(body.as_bytes()));
    *request.method_mut() = http_method(O::METHOD)?;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for (name, value) in operation.headers() {
        insert_header(headers, name, &value)?;
    }
    if let Some(media_type) = body.kind().media_type() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    }
    // What the spec says the success response is, for every operation alike.
    if let Some(media_type) = O::RESPONSE_CONTENT.media_type() {
        headers.insert(header::ACCEPT, HeaderValue::from_static(media_type));
    }
    request.extensions_mut().insert(RequestMeta::of::<O>());
    Ok(request)
}

pub(crate) fn finish<O: Operation>(
    response: http::Response<Bytes>,
) -> Result<Response<O::Response>, Error> {
    let status = response.status();
    if !status.is_success() {
        return Err(api_error(&response));
    }
    if status.as_u16() != O::SUCCESS_STATUS {
        tracing::debug!(
            expected = O::SUCCESS_STATUS,
            got = status.as_u16(),
            "unexpected success status"
        );
    }
    let (parts, body) = response.into_parts();
    if let Some(expected) = O::RESPONSE_CONTENT.media_type() {
        if body.is_empty() {
            return Err(Error::EmptyBody { operation: O::ID });
        }
        if let Some(found) = parts.headers.get(header::CONTENT_TYPE) {
            let fits = found
                .to_str()
                .is_ok_and(|ct| content_type_fits(O::RESPONSE_CONTENT, ct));
            if !fits {
                return Err(Error::UnexpectedContentType {
                    operation: O::ID,
                    expected,
                    found: Some(String::from_utf8_lossy(found.as_bytes()).into_owned()),
                });
            }
        }
    }
    let value = O::parse_response(&body).map_err(|source| Error::MalformedBody {
        operation: O::ID,
        source,
    })?;
    Ok(Response {
        value,
        status: status.as_u16(),
        warnings: warnings_in(&parts.headers),
        headers: parts.headers,
    })
}

enum Target {
    Environment(Environment),
    Url(String),
}

/// Assembles a [`Transport`].
///
/// Defaults: an empty [`MemoryTokenStore`]; connect timeout 10 s; 30 s per attempt
/// of an API call and 10 min per attempt of a presigned transfer; response bodies up to 64 MiB;
/// proxy from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`; [`RetryConfig::default`];
/// rate limiting on with [`RateLimitConfig::default`]; a server's `Retry-After` honoured up to
/// 5 minutes per wait; access tokens refreshed 30 s before their `validUntil`; plain `http://`
/// only to loopback hosts; no user layers.
pub struct TransportBuilder {
    target: Target,
    allow_insecure_http: bool,
    tokens: Arc<dyn TokenStore>,
    http: HttpConfig,
    timeout: Duration,
    transfer_timeout: Duration,
    retry: RetryConfig,
    rate_limit: Option<RateLimitConfig>,
    refresh_margin: Duration,
    max_retry_after: Option<Duration>,
    layers: Vec<UserLayer>,
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("http", &self.http)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("user_layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// A builder for `environment`, with the defaults above.
    pub fn new(environment: Environment) -> TransportBuilder {
        TransportBuilder {
            target: Target::Environment(environment),
            allow_insecure_http: false,
            tokens: Arc::new(MemoryTokenStore::new()),
            http: HttpConfig::default(),
            timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(600),
            retry: RetryConfig::default(),
            rate_limit: Some(RateLimitConfig::default()),
            refresh_margin: Duration::from_secs(30),
            max_retry_after: None,
            layers: Vec::new(),
        }
    }

    /// Talks to `environment` (TEST, DEMO or PRODUCTION), replacing an earlier
    /// [`TransportBuilder::base_url`].
    pub fn environment(mut self, environment: Environment) -> TransportBuilder {
        self.target = Target::Environment(environment);
        self
    }

    /// Uses this API base URL instead of the environment's (e.g. a local simulator,
    /// `http://127.0.0.1:8080/v2`).
    pub fn base_url(mut self, url: impl Into<String>) -> TransportBuilder {
        self.target = Target::Url(url.into());
        self
    }

    /// Allows plain `http://` to hosts that are not loopback addresses, for the base URL and
    /// presigned URLs. Requests and tokens then travel unencrypted: only for test setups.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> TransportBuilder {
        self.allow_insecure_http = allow;
        self
    }

    /// Where bearer tokens are kept (default: a [`MemoryTokenStore`]).
    pub fn token_store(mut self, store: impl TokenStore) -> TransportBuilder {
        self.tokens = Arc::new(store);
        self
    }

    /// Like [`TransportBuilder::token_store`], for a store that is already shared.
    pub fn shared_token_store(mut self, store: Arc<dyn TokenStore>) -> TransportBuilder {
        self.tokens = store;
        self
    }

    /// The connect timeout (TCP, proxy tunnel and TLS handshake together).
    pub fn connect_timeout(mut self, timeout: Duration) -> TransportBuilder {
        self.http = self.http.with_connect_timeout(timeout);
        self
    }

    /// The total timeout of one attempt of an API call (sending it and reading the response);
    /// waiting for rate-limit capacity and between retries is not counted.
    pub fn timeout(mut self, timeout: Duration) -> TransportBuilder {
        self.timeout = timeout;
        self
    }

    /// The total timeout of one attempt of a presigned upload or download.
    pub fn transfer_timeout(mut self, timeout: Duration) -> TransportBuilder {
        self.transfer_timeout = timeout;
        self
    }

    /// The largest response body accepted, in bytes.
    pub fn max_response_size(mut self, bytes: usize) -> TransportBuilder {
        self.http = self.http.with_max_response_size(bytes);
        self
    }

    /// Sends every request through the `http://` proxy `url`, except to hosts matching
    /// `no_proxy` (as in `NO_PROXY`).
    pub fn proxy(
        mut self,
        url: impl Into<String>,
        no_proxy: impl Into<String>,
    ) -> TransportBuilder {
        self.http = self.http.with_proxy(url, no_proxy);
        self
    }

    /// Uses no proxy, whatever the environment says.
    pub fn without_proxy(mut self) -> TransportBuilder {
        self.http = self.http.without_proxy();
        self
    }

    /// The retry settings ([`RetryConfig::disabled`] to turn retries off).
    pub fn retry(mut self, config: RetryConfig) -> TransportBuilder {
        self.retry = config;
        self
    }

    /// The rate-limiter settings.
    pub fn rate_limit(mut self, config: RateLimitConfig) -> TransportBuilder {
        self.rate_limit = Some(config);
        self
    }

    /// Turns client-side rate limiting off (429s are still honoured by the retry policy).
    pub fn without_rate_limit(mut self) -> TransportBuilder {
        self.rate_limit = None;
        self
    }

    /// The longest one wait a server can impose with `Retry-After` (default 5 minutes), for both
    /// the pause of a rate-limit group after a 429 and the wait before a retry: a server asking
    /// for more waits this long, and the request is then tried again. Overrides the values of
    /// [`RateLimitConfig::with_max_retry_after`] and [`RetryConfig::with_max_retry_after`].
    pub fn max_retry_after(mut self, max: Duration) -> TransportBuilder {
        self.max_retry_after = Some(max);
        self
    }

    /// How long before its `validUntil` an access token is refreshed instead of used.
    pub fn refresh_margin(mut self, margin: Duration) -> TransportBuilder {
        self.refresh_margin = margin;
        self
    }

    /// Puts your own tower layer (metrics, tracing, a custom retry budget, ...) into the stack.
    ///
    /// User layers sit below the auth layer and above the retry layer (see the
    /// [crate docs](crate)): they see every request the transport sends, once per call and
    /// before retries: the API calls and presigned transfers of [`Transport`], the refresh calls
    /// the auth layer makes itself, and a request sent again with a new access token after a 401.
    /// Each request carries its [`RequestMeta`] (operation id, path template, idempotency) in
    /// its extensions and, for the API, its `Authorization` header (marked sensitive: do not log
    /// it). What they return goes to the auth layer, unretried. The first layer added is the
    /// outermost.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use ksef_transport::{Environment, RequestMeta, Transport};
    /// use tower::util::MapRequestLayer;
    ///
    /// let transport = Transport::builder(Environment::Test)
    ///     .with_layer(MapRequestLayer::new(|request: http::Request<Bytes>| {
    ///         if let Some(meta) = request.extensions().get::<RequestMeta>() {
    ///             tracing::debug!(operation = meta.operation_id, "sending");
    ///         }
    ///         request
    ///     }))
    ///     .build()
    ///     .unwrap();
    /// # drop(transport);
    /// ```
    pub fn with_layer<L>(mut self, layer: L) -> TransportBuilder
    where
        L: Layer<BoxStack> + Send + 'static,
        L::Service: Service<Request<Bytes>, Response = http::Response<Bytes>, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<Request<Bytes>>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |inner| {
            BoxCloneSyncService::new(layer.layer(inner))
        }));
        self
    }

    /// Checks the settings and assembles the stack. Call it inside a Tokio runtime's context
    /// or not; requests must be executed on a Tokio runtime with the time driver enabled.
    pub fn build(self) -> Result<Transport, Error> {
        let base_url = match &self.target {
            Target::Environment(environment) => BaseUrl::from_environment(*environment),
            Target::Url(url) => BaseUrl::parse(url, self.allow_insecure_http)?,
        };
        let client = HttpClient::new(&self.http)?;
        let (retry, rate_limit) = match self.max_retry_after {
            Some(max) => (
                self.retry.with_max_retry_after(max),
                self.rate_limit.map(|c| c.with_max_retry_after(max)),
            ),
            None => (self.retry, self.rate_limit),
        };
        let limiter = rate_limit.map(RateLimiter::new);
        let mut below_auth = BoxCloneSyncService::new(
            ServiceBuilder::new()
                .layer(RetryLayer::new(retry))
                .option_layer(limiter.clone().map(RateLimitLayer::new))
                .layer(TimeoutLayer::new(self.timeout, self.transfer_timeout))
                .layer(BaseUrlLayer::new(base_url.clone()))
                .service(client),
        );
        // The first layer added ends up outermost.
        for layer in self.layers.into_iter().rev() {
            below_auth = layer(below_auth);
        }
        let service = ServiceBuilder::new()
            .layer(TraceLayer::new())
            .layer(AuthLayer::with_expiry_margin(
                self.tokens.clone(),
                self.refresh_margin,
            ))
            .service(below_auth);
        Ok(Transport {
            stack: BoxCloneSyncService::new(service),
            limiter,
            tokens: self.tokens,
            base_url,
            allow_insecure_http: self.allow_insecure_http,
        })
    }
}
