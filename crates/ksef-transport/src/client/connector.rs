//! TCP (directly or through an HTTP proxy tunnel) + rustls, under one connect timeout.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::{Service, ServiceExt};

use crate::base_url::is_loopback_host;
use crate::error::BoxError;

/// Marks a failure before TLS: DNS, TCP or the proxy tunnel.
#[derive(Debug)]
pub(crate) struct TcpError(pub(crate) BoxError);

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not open a TCP connection")
    }
}

impl std::error::Error for TcpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Marks the connect timeout.
#[derive(Debug)]
pub(crate) struct ConnectTimeout(pub(crate) Duration);

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connecting took longer than {:?}", self.0)
    }
}

impl std::error::Error for ConnectTimeout {}

/// Which proxy to use.
#[derive(Clone)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, read when the transport is built.
    FromEnv,
    /// Never.
    None,
    /// This proxy URL for every scheme, with these `NO_PROXY`-style exclusions.
    Fixed { url: String, no_proxy: String },
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnv => f.write_str("FromEnv"),
            ProxySetting::None => f.write_str("None"),
            // The proxy URL may hold credentials.
            ProxySetting::Fixed { no_proxy, .. } => f
                .debug_struct("Fixed")
                .field("url", &"<redacted>")
                .field("no_proxy", no_proxy)
                .finish(),
        }
    }
}

impl ProxySetting {
    fn matcher(&self) -> Option<Matcher> {
        match self {
            ProxySetting::FromEnv => Some(Matcher::from_env()),
            ProxySetting::None => None,
            ProxySetting::Fixed { url, no_proxy } => Some(
                Matcher::builder()
                    .all(url.clone())
                    .no(no_proxy.clone())
                    .build(),
            ),
        }
    }
}

/// Opens TCP connections, through a proxy's `CONNECT` tunnel where the proxy settings say so.
/// Loopback destinations never go through a proxy.
#[derive(Clone)]
struct TcpConnector {
    http: HttpConnector,
    proxy: Option<Arc<Matcher>>,
}

impl Service<Uri> for TcpConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let loopback = dst.host().is_some_and(is_loopback_host);
        let intercept = self
            .proxy
            .as_ref()
            .filter(|_| !loopback)
            .and_then(|m| m.intercept(&dst));
        let http = self.http.clone();
        Box::pin(async move {
            let result: Result<_, BoxError> = match intercept {
                None => http.oneshot(dst).await.map_err(Into::into),
                Some(proxy) => {
                    if proxy.uri().scheme_str() != Some("http") {
                        return Err(
                            Box::new(TcpError("only http:// proxies are supported".into()))
                                as BoxError,
                        );
                    }
                    let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                    if let Some(auth) = proxy.basic_auth() {
                        tunnel = tunnel.with_auth(auth.clone());
                    }
                    tunnel.oneshot(dst).await.map_err(Into::into)
                }
            };
            result.map_err(|e| Box::new(TcpError(e)) as BoxError)
        })
    }
}

/// The connector the hyper client uses: TCP or tunnel, then TLS for `https`, all under the
/// connect timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    https: HttpsConnector<TcpConnector>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(timeout: Duration, proxy: &ProxySetting) -> Result<Connector, BoxError> {
        let mut http = HttpConnector::new();
        // TLS is added on top; this connector must accept https:// destinations.
        http.enforce_http(false);
        http.set_nodelay(true);
        let tcp = TcpConnector {
            http,
            proxy: proxy.matcher().map(Arc::new),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        Ok(Connector { https, timeout })
    }
}

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.https.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimeout(timeout)) as BoxError),
            }
        })
    }
}
