use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use ksef_model::Auth as AuthKind;
use tower::{Service, ServiceExt};

use super::ResponseFuture;
use super::refresh::{Refresher, bearer, token_kind};
use crate::error::Error;
use crate::meta::meta_of;
use crate::token::TokenKind;

/// The service of [`super::AuthLayer`].
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    refresher: Arc<Refresher>,
}

impl<S> Auth<S> {
    pub(crate) fn from_parts(inner: S, refresher: Arc<Refresher>) -> Auth<S> {
        Auth { inner, refresher }
    }
}

impl<S> Service<Request<Bytes>> for Auth<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Bytes>) -> ResponseFuture {
        // Use the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(run(self.refresher.clone(), inner, request))
    }
}

async fn run<S>(
    refresher: Arc<Refresher>,
    mut inner: S,
    mut request: Request<Bytes>,
) -> Result<Response<Bytes>, Error>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone,
{
    let kind = match meta_of(&request) {
        Some(meta) if !meta.presigned => meta.auth,
        _ => AuthKind::None,
    };
    let Some(kind) = token_kind(kind) else {
        request.headers_mut().remove(AUTHORIZATION);
        return inner.call(request).await;
    };
    if kind != TokenKind::Access {
        let token = refresher
            .tokens
            .load(kind)
            .ok_or(Error::MissingToken { kind })?;
        request.headers_mut().insert(AUTHORIZATION, bearer(&token)?);
        return inner.call(request).await;
    }

    // Read the epoch before the token, so a refresh that lands in between is noticed.
    let mut epoch = refresher.epoch();
    let token = match refresher.usable_access_token() {
        Some(token) => token,
        // Without a refresh token, send the token we have (the server decides), or fail.
        None if refresher.tokens.load(TokenKind::Refresh).is_none() => refresher
            .tokens
            .load(TokenKind::Access)
            .ok_or(Error::MissingToken { kind })?,
        None => {
            refresher.refresh(epoch, &mut inner.clone()).await?;
            epoch = refresher.epoch();
            refresher
                .tokens
                .load(TokenKind::Access)
                .ok_or(Error::MissingToken { kind })?
        }
    };
    let mut again = request.clone();
    request.headers_mut().insert(AUTHORIZATION, bearer(&token)?);
    let mut retry_service = inner.clone();
    let response = inner.call(request).await?;
    if response.status() != StatusCode::UNAUTHORIZED
        || refresher.tokens.load(TokenKind::Refresh).is_none()
    {
        return Ok(response);
    }
    tracing::debug!("401 with the access token; refreshing");
    refresher.refresh(epoch, &mut retry_service.clone()).await?;
    let token = refresher
        .tokens
        .load(TokenKind::Access)
        .ok_or(Error::MissingToken { kind })?;
    again.headers_mut().insert(AUTHORIZATION, bearer(&token)?);
    retry_service.ready().await?.call(again).await
}
