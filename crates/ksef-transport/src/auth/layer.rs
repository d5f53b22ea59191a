use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use super::Auth;
use super::refresh::Refresher;
use crate::token::TokenStore;

/// Adds bearer tokens and refreshes the access token (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    refresher: Arc<Refresher>,
}

impl AuthLayer {
    /// A layer reading tokens from `tokens`, refreshing an access token that expires within
    /// 30 seconds.
    pub fn new(tokens: Arc<dyn TokenStore>) -> AuthLayer {
        AuthLayer::with_expiry_margin(tokens, Duration::from_secs(30))
    }

    /// A layer refreshing an access token that expires within `margin` before using it.
    pub fn with_expiry_margin(tokens: Arc<dyn TokenStore>, margin: Duration) -> AuthLayer {
        AuthLayer {
            refresher: Arc::new(Refresher::new(tokens, margin)),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth::from_parts(inner, self.refresher.clone())
    }
}
