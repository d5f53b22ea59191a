//! Resolving request paths against the API base URL, and the headers every request carries.
//!
//! ```
//! use ksef_transport::Environment;
//! use ksef_transport::base_url::{BaseUrl, BaseUrlLayer};
//!
//! let base = BaseUrl::from_environment(Environment::Test);
//! assert_eq!(base.as_str(), "https://api-test.ksef.mf.gov.pl/v2");
//! let _layer = BaseUrlLayer::new(base);
//!
//! // Plain http:// is only for loopback hosts.
//! assert!(BaseUrl::parse("http://127.0.0.1:8080/v2", false).is_ok());
//! assert!(BaseUrl::parse("http://ksef.example/v2", false).is_err());
//! ```

use std::fmt;
use std::net::IpAddr;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use tower::{Layer, Service};

use crate::Environment;
use crate::error::Error;
use crate::meta::meta_of;

/// The request header asking KSeF for RFC 7807 error bodies.
pub const ERROR_FORMAT_HEADER: &str = "x-error-format";

/// The `User-Agent` this crate sends.
pub const USER_AGENT: &str = concat!("ksef-rs/", env!("CARGO_PKG_VERSION"));

/// A checked API base URL: `https://`, or plain `http://` to a loopback host, or plain `http://`
/// anywhere if insecure HTTP was allowed explicitly.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    /// The path prefix without a trailing slash (may be empty).
    prefix: String,
    allow_insecure_http: bool,
}

impl BaseUrl {
    /// The base URL of a KSeF environment.
    pub fn from_environment(environment: Environment) -> BaseUrl {
        BaseUrl {
            scheme: Scheme::HTTPS,
            authority: Authority::from_static(
                environment
                    .base_url()
                    .trim_start_matches("https://")
                    .trim_end_matches("/v2"),
            ),
            prefix: "/v2".to_owned(),
            allow_insecure_http: false,
        }
    }

    /// Parses and checks a base URL. With `allow_insecure_http` false, `http://` is accepted
    /// only for `localhost` and loopback addresses.
    pub fn parse(url: &str, allow_insecure_http: bool) -> Result<BaseUrl, Error> {
        let uri: Uri = url.parse().map_err(|_| Error::InvalidUrl {
            url: redact_query(url),
            reason: "not a valid absolute URL",
        })?;
        let (scheme, authority) = check_absolute(&uri, allow_insecure_http)?;
        if uri.query().is_some() {
            return Err(Error::InvalidUrl {
                url: redact_query(url),
                reason: "a base URL cannot have a query",
            });
        }
        Ok(BaseUrl {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            allow_insecure_http,
        })
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.prefix)
    }

    /// `path_and_query` (starting with `/`) appended to the base URL.
    pub(crate) fn join(&self, path_and_query: &PathAndQuery) -> Result<Uri, Error> {
        let full = format!("{}{}", self.prefix, path_and_query.as_str());
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(full)
            .build()
            .map_err(|_| Error::InvalidRequest {
                reason: "the request path cannot be joined to the base URL".to_owned(),
            })
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BaseUrl").field(&self.as_str()).finish()
    }
}

/// The URL without its query string (presigned URLs carry their signature there).
pub(crate) fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((before, _)) => format!("{before}?<redacted>"),
        None => url.to_owned(),
    }
}

/// Whether `host` (as written in a URL) is `localhost` or a loopback address.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks an absolute URL's scheme and host against the plain-HTTP policy.
pub(crate) fn check_absolute(
    uri: &Uri,
    allow_insecure_http: bool,
) -> Result<(Scheme, Authority), Error> {
    let text = redact_query(&uri.to_string());
    let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(Error::InvalidUrl {
            url: text,
            reason: "not an absolute URL",
        });
    };
    if *scheme == Scheme::HTTP {
        if !allow_insecure_http && !is_loopback_host(authority.host()) {
            return Err(Error::InsecureUrl { url: text });
        }
    } else if *scheme != Scheme::HTTPS {
        return Err(Error::InvalidUrl {
            url: text,
            reason: "the scheme must be https or http",
        });
    }
    Ok((scheme.clone(), authority.clone()))
}

/// Resolves relative request URIs against a [`BaseUrl`] and adds the headers every KSeF request
/// carries: `User-Agent: ksef-rs/<version>` and, on API requests (not on presigned URLs),
/// `X-Error-Format: problem-details`. Absolute URIs (presigned URLs) are checked against the
/// same plain-HTTP policy and sent as they are.
#[derive(Debug, Clone)]
pub struct BaseUrlLayer {
    base: BaseUrl,
}

impl BaseUrlLayer {
    /// A layer resolving against `base`.
    pub fn new(base: BaseUrl) -> BaseUrlLayer {
        BaseUrlLayer { base }
    }
}

impl<S> Layer<S> for BaseUrlLayer {
    type Service = SetBaseUrl<S>;

    fn layer(&self, inner: S) -> SetBaseUrl<S> {
        SetBaseUrl {
            inner,
            base: self.base.clone(),
        }
    }
}

/// The service of [`BaseUrlLayer`].
#[derive(Debug, Clone)]
pub struct SetBaseUrl<S> {
    inner: S,
    base: BaseUrl,
}

impl<S> SetBaseUrl<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, base: BaseUrl) -> SetBaseUrl<S> {
        SetBaseUrl { inner, base }
    }

    fn prepare(&self, request: &mut Request<Bytes>) -> Result<(), Error> {
        let presigned = meta_of(request).is_some_and(|m| m.presigned);
        let uri = request.uri();
        if uri.scheme().is_some() {
            check_absolute(uri, self.base.allow_insecure_http)?;
        } else {
            let path = uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *request.uri_mut() = self.base.join(&path)?;
        }
        let headers = request.headers_mut();
        headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(USER_AGENT));
        if !presigned {
            headers.insert(
                ERROR_FORMAT_HEADER,
                HeaderValue::from_static("problem-details"),
            );
        }
        Ok(())
    }
}

impl<S> Service<Request<Bytes>> for SetBaseUrl<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Bytes>) -> ResponseFuture {
        match self.prepare(&mut request) {
            Ok(()) => ResponseFuture::new(self.inner.call(request)),
            Err(e) => ResponseFuture::new(std::future::ready(Err(e))),
        }
    }
}

crate::macros::boxed_response_future! {
    /// The response future of [`SetBaseUrl`].
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments() {
        for env in [
            Environment::Test,
            Environment::Demo,
            Environment::Production,
        ] {
            assert_eq!(BaseUrl::from_environment(env).as_str(), env.base_url());
            assert_eq!(
                BaseUrl::parse(env.base_url(), false).unwrap(),
                BaseUrl::from_environment(env)
            );
        }
    }

    #[test]
    fn plain_http_policy() {
        assert!(BaseUrl::parse("http://localhost:1/v2", false).is_ok());
        assert!(BaseUrl::parse("http://[::1]:1/", false).is_ok());
        assert!(BaseUrl::parse("http://127.0.0.2/", false).is_ok());
        assert!(matches!(
            BaseUrl::parse("http://10.0.0.1/v2", false),
            Err(Error::InsecureUrl { .. })
        ));
        assert!(BaseUrl::parse("http://10.0.0.1/v2", true).is_ok());
        assert!(matches!(
            BaseUrl::parse("ftp://x/", true),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            BaseUrl::parse("/v2", true),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn joins_paths() {
        let base = BaseUrl::parse("http://127.0.0.1:9/v2/", false).unwrap();
        let uri = base
            .join(&PathAndQuery::from_static("/sessions/x?a=1"))
            .unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9/v2/sessions/x?a=1");
    }

    #[test]
    fn redacts_query() {
        assert_eq!(
            redact_query("https://h/p?sig=abc"),
            "https://h/p?<redacted>"
        );
    }
}
