//! The bottom of the stack: a hyper 1 client over rustls that returns complete responses.
//!
//! [`HttpClient`] sends a `Request<Bytes>` with an absolute URI and reads the whole response body,
//! up to a maximum size. It speaks HTTP/1.1 and HTTP/2 (by ALPN), checks certificates against
//! the Mozilla roots (webpki-roots, no OpenSSL, no system store) and can go through an HTTP proxy
//! (`CONNECT` tunnel) taken from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY`.

mod connector;

use std::error::Error as StdError;
use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::Service;

pub(crate) use self::connector::ProxySetting;
use self::connector::{ConnectTimeout, Connector, TcpError};
use crate::error::{BoxError, Error, TimeoutPhase};

/// Settings of [`HttpClient`].
///
/// Defaults: connect timeout 10 s (TCP, proxy tunnel and TLS handshake together), response
/// bodies up to 64 MiB (enough for a 50 MB export part), proxy from the environment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    connect_timeout: Duration,
    max_response_size: usize,
    proxy: ProxySetting,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            max_response_size: 64 * 1024 * 1024,
            proxy: ProxySetting::FromEnv,
        }
    }
}

impl HttpConfig {
    /// The connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.connect_timeout = timeout;
        self
    }

    /// The largest response body accepted, in bytes; larger ones fail with
    /// [`Error::BodyTooLarge`].
    pub fn with_max_response_size(mut self, bytes: usize) -> HttpConfig {
        self.max_response_size = bytes;
        self
    }

    /// Uses no proxy, whatever the environment says.
    pub fn without_proxy(mut self) -> HttpConfig {
        self.proxy = ProxySetting::None;
        self
    }

    /// Reads the proxy from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY` (the default).
    pub fn with_proxy_from_env(mut self) -> HttpConfig {
        self.proxy = ProxySetting::FromEnv;
        self
    }

    /// Sends every request through the `http://` proxy `url` (credentials in the URL are sent as
    /// basic auth), except to hosts matching `no_proxy` (comma-separated, as in `NO_PROXY`).
    pub fn with_proxy(mut self, url: impl Into<String>, no_proxy: impl Into<String>) -> HttpConfig {
        self.proxy = ProxySetting::Fixed {
            url: url.into(),
            no_proxy: no_proxy.into(),
        };
        self
    }

    /// The largest response body accepted.
    pub fn max_response_size(&self) -> usize {
        self.max_response_size
    }
}

/// A hyper client returning complete responses (see the [module docs](self)).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
    max_response_size: usize,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_size", &self.max_response_size)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with `config`. Fails only if the TLS configuration cannot be built.
    pub fn new(config: &HttpConfig) -> Result<HttpClient, Error> {
        let connector = Connector::new(config.connect_timeout, &config.proxy)
            .map_err(|source| Error::Tls { source })?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(HttpClient {
            client,
            max_response_size: config.max_response_size,
        })
    }
}

fn chain_has<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn classify(error: hyper_util::client::legacy::Error) -> Error {
    if let Some(timeout) = chain_has::<ConnectTimeout>(&error) {
        return Error::Timeout {
            phase: TimeoutPhase::Connect,
            after: timeout.0,
        };
    }
    if error.is_connect() {
        return if chain_has::<TcpError>(&error).is_some() {
            Error::Connect {
                source: Box::new(error),
            }
        } else {
            Error::Tls {
                source: Box::new(error),
            }
        };
    }
    Error::Network {
        source: Box::new(error),
    }
}

impl Service<Request<Bytes>> for HttpClient {
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> ResponseFuture {
        let client = self.client.clone();
        let limit = self.max_response_size;
        ResponseFuture::new(async move {
            let response = client
                .request(request.map(Full::new))
                .await
                .map_err(classify)?;
            let (parts, body) = response.into_parts();
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > limit as u64) {
                return Err(Error::BodyTooLarge { limit });
            }
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|error: BoxError| {
                    if error.is::<LengthLimitError>() {
                        Error::BodyTooLarge { limit }
                    } else {
                        Error::TruncatedBody { source: error }
                    }
                })?
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        })
    }
}

crate::macros::boxed_response_future! {
    /// The response future of [`HttpClient`].
}
