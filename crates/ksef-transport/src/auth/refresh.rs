//! The single-flight refresh of the access token.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use ksef_model::ResponseError;
use serde::Deserialize;
use tower::{Service, ServiceExt};

use crate::error::{Error, api_error};
use crate::meta::{REFRESH_OPERATION_ID, REFRESH_PATH, RequestMeta};
use crate::token::{Token, TokenKind, TokenSource};

/// Shared by every clone of one auth layer's services.
pub(crate) struct Refresher {
    pub(crate) tokens: Arc<dyn TokenSource>,
    pub(crate) margin: Duration,
    /// Incremented after every refresh attempt, successful or not.
    epoch: AtomicU64,
    /// Held while refreshing; keeps the failure of the last attempt, if it failed.
    flight: tokio::sync::Mutex<Option<Arc<Error>>>,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("margin", &self.margin)
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// `{"accessToken":{"token":"...","validUntil":"..."}}`
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshResponse {
    access_token: TokenInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenInfo {
    token: String,
    valid_until: Option<DateTime<Utc>>,
}

/// `Bearer <token>`, marked sensitive.
pub(crate) fn bearer(token: &Token) -> Result<HeaderValue, Error> {
    let mut value =
        HeaderValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(|_| {
            Error::InvalidRequest {
                reason: "the token contains characters not allowed in a header".to_owned(),
            }
        })?;
    value.set_sensitive(true);
    Ok(value)
}

impl Refresher {
    pub(crate) fn new(tokens: Arc<dyn TokenSource>, margin: Duration) -> Refresher {
        Refresher {
            tokens,
            margin,
            epoch: AtomicU64::new(0),
            flight: tokio::sync::Mutex::new(None),
        }
    }

    /// Read before reading the token a request is sent with.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// An access token that is not about to expire, if there is one.
    pub(crate) fn usable_access_token(&self) -> Option<Token> {
        self.tokens
            .token(TokenKind::Access)
            .filter(|t| !t.expires_within(self.margin, SystemTime::now()))
    }

    /// Refreshes the access token unless a refresh attempt finished after `seen_epoch` was read,
    /// in which case its outcome is shared.
    pub(crate) async fn refresh<S>(&self, seen_epoch: u64, service: &mut S) -> Result<(), Error>
    where
        S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    {
        let mut last_failure = self.flight.lock().await;
        if self.epoch.load(Ordering::Acquire) != seen_epoch {
            return match &*last_failure {
                None => Ok(()),
                Some(error) => Err(Error::RefreshFailed {
                    source: error.clone(),
                }),
            };
        }
        let outcome = match self.call_refresh(service).await {
            Ok(token) => {
                tracing::info!(valid_until = ?token.valid_until(), "access token refreshed");
                self.tokens.store(TokenKind::Access, token);
                *last_failure = None;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "refreshing the access token failed");
                let error = Arc::new(error);
                *last_failure = Some(error.clone());
                Err(Error::RefreshFailed { source: error })
            }
        };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    async fn call_refresh<S>(&self, service: &mut S) -> Result<Token, Error>
    where
        S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    {
        let refresh_token = self
            .tokens
            .token(TokenKind::Refresh)
            .ok_or(Error::MissingToken {
                kind: TokenKind::Refresh,
            })?;
        let mut request = Request::new(Bytes::new());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = http::Uri::from_static(REFRESH_PATH);
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer(&refresh_token)?);
        request
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        request.extensions_mut().insert(RequestMeta::refresh());
        let response = service.ready().await?.call(request).await?;
        if response.status() != StatusCode::OK {
            return Err(api_error(&response));
        }
        let parsed: RefreshResponse =
            serde_json::from_slice(response.body()).map_err(|source| Error::MalformedBody {
                operation: REFRESH_OPERATION_ID,
                source: ResponseError::Json {
                    operation: REFRESH_OPERATION_ID,
                    source,
                },
            })?;
        let mut token = Token::new(parsed.access_token.token);
        if let Some(until) = parsed.access_token.valid_until {
            token = token.with_valid_until(until);
        }
        Ok(token)
    }
}
