//! Bearer authentication from a [`crate::TokenStore`], with a single-flight access-token refresh.
//!
//! Each request gets the token its [`crate::RequestMeta::auth`] names. For access-token requests:
//!
//! - if there is no access token, or it expires within the configured margin, and there is a
//!   refresh token, the access token is refreshed before sending;
//! - on a 401, the access token is refreshed and the request is sent once more with the new one.
//!
//! However many requests need a refresh at the same time, one `POST /auth/token/refresh` is made
//! and all of them wait for it; if it fails, each gets [`crate::Error::RefreshFailed`]. The
//! refresh call itself, and requests with the authentication or refresh token, never trigger a
//! refresh. Requests to presigned URLs and requests without [`crate::RequestMeta`] never carry an
//! `Authorization` header: any such header is removed. The header is marked sensitive.
//!
//! The refresh call is built from the generated descriptor
//! [`ksef_model::operations::RefreshAccessToken`] (path, method, token, rate limit, idempotency,
//! response type) and goes through the layers below this one, so it is rate limited like any
//! other request and retried as its descriptor allows: the spec marks it idempotent (a refresh
//! token may be used any number of times), so a 5xx, a timeout or a lost connection is retried.
//!
//! ```
//! use std::sync::Arc;
//! use ksef_transport::auth::AuthLayer;
//! use ksef_transport::{MemoryTokenStore, Token, TokenKind, TokenStore};
//!
//! let tokens = Arc::new(MemoryTokenStore::new());
//! tokens.save(TokenKind::Refresh, Token::new("refresh-jwt")).unwrap();
//! let _layer = AuthLayer::new(tokens.clone());
//! ```

mod future;
mod layer;
mod refresh;
mod service;

pub use self::future::ResponseFuture;
pub use self::layer::AuthLayer;
pub use self::service::Auth;
