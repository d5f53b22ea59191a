//! The single-flight refresh of the access token.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::Utc;
use http::header::{self, HeaderValue};
use http::{Request, Response};
use ksef_model::operations::RefreshAccessToken;
use ksef_model::{Auth as AuthKind, Operation};
use tower::{Service, ServiceExt};

use crate::error::Error;
use crate::token::{Token, TokenKind, TokenStore};
use crate::transport::{build_request, finish};

/// Shared by every clone of one auth layer's services.
pub(crate) struct Refresher {
    pub(crate) tokens: Arc<dyn TokenStore>,
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

/// The token an operation's descriptor names ([`ksef_model::Operation::AUTH`]), if any.
pub(crate) fn token_kind(auth: AuthKind) -> Option<TokenKind> {
    match auth {
        AuthKind::AccessToken => Some(TokenKind::Access),
        AuthKind::AuthenticationToken => Some(TokenKind::Authentication),
        AuthKind::RefreshToken => Some(TokenKind::Refresh),
        _ => None,
    }
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
    pub(crate) fn new(tokens: Arc<dyn TokenStore>, margin: Duration) -> Refresher {
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
            .load(TokenKind::Access)
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
                // The token is used from the store; a store that cannot persist it can only
                // say so (see `TokenStore::save`).
                if let Err(error) = self.tokens.save(TokenKind::Access, token) {
                    tracing::warn!(%error, "could not persist the refreshed access token");
                }
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

    /// Sends [`RefreshAccessToken`] (built from its generated descriptor: path, method, token,
    /// rate limit, idempotency, response type) to `service`, below this layer, and returns the
    /// new access token.
    async fn call_refresh<S>(&self, service: &mut S) -> Result<Token, Error>
    where
        S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    {
        // The descriptor says the call carries the refresh token; checked when this compiles.
        const _: () = assert!(matches!(RefreshAccessToken::AUTH, AuthKind::RefreshToken));
        let kind = TokenKind::Refresh;
        let refresh_token = self.tokens.load(kind).ok_or(Error::MissingToken { kind })?;
        let mut request = build_request(&RefreshAccessToken::new())?;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, bearer(&refresh_token)?);
        let response = service.ready().await?.call(request).await?;
        let access = finish::<RefreshAccessToken>(response)?
            .into_value()
            .access_token;
        Ok(Token::new(access.token).with_valid_until(access.valid_until.with_timezone(&Utc)))
    }
}
