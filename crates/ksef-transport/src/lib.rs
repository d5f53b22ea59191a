//! The HTTP layer every KSeF call goes through: tower middleware over hyper 1 and rustls.
//!
//! [`Transport`] executes any [`ksef_model::Operation`]: it knows HTTP and KSeF's wire
//! conventions (base URLs, bearer tokens, rate-limit groups, error bodies, system warnings), never
//! business flows. Under it is a stack of tower layers, each usable on its own over
//! `http::Request<Bytes>` → `http::Response<Bytes>` services, outermost first:
//!
//! | layer | does |
//! | --- | --- |
//! | [`trace::TraceLayer`] | one `ksef.request` span per request; logs `X-System-Warning`s |
//! | [`auth::AuthLayer`] | bearer tokens from a [`TokenStore`]; single-flight refresh on 401 |
//! | your layers | whatever you add with [`TransportBuilder::with_layer`], first added outermost |
//! | [`retry::RetryLayer`] | backoff with jitter for idempotent requests; honours `Retry-After` |
//! | [`rate_limit::RateLimitLayer`] | sliding windows per endpoint group; pauses a group on 429 |
//! | [`timeout::TimeoutLayer`] | total timeout per attempt |
//! | [`base_url::BaseUrlLayer`] | base URL, plain-HTTP policy, `User-Agent`, `X-Error-Format` |
//! | [`client::HttpClient`] | hyper + rustls (webpki roots), proxy, connect timeout, body cap |
//!
//! The layers find what they need in a [`RequestMeta`] in the request's extensions.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ksef_model::operations::GetChallenge;
//! use ksef_transport::{Environment, MemoryTokenStore, Token, TokenKind, TokenStore, Transport};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = Arc::new(MemoryTokenStore::new());
//! tokens.save(TokenKind::Access, Token::new("access-jwt"))?;
//! tokens.save(TokenKind::Refresh, Token::new("refresh-jwt"))?;
//!
//! let transport = Transport::builder(Environment::Test)
//!     .shared_token_store(tokens.clone())
//!     .build()?;
//! let response = transport.execute(&GetChallenge::new()).await?;
//! for warning in response.warnings() {
//!     eprintln!("{}: {}", warning.code, warning.message);
//! }
//! println!("{:?}", response.value());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod macros;

pub mod auth;
pub mod base_url;
pub mod client;
mod error;
mod meta;
pub mod rate_limit;
pub mod retry;
pub mod timeout;
mod token;
pub mod trace;
mod transport;
pub mod warning;

pub use crate::error::{ApiError, Error, ErrorCode, ErrorFormat, TimeoutPhase};
pub use crate::meta::RequestMeta;
pub use crate::token::{MemoryTokenStore, Token, TokenKind, TokenStore, TokenStoreError};
pub use crate::transport::{
    BoxStack, Environment, PresignedRequest, RawResponse, Response, Transport, TransportBuilder,
};
