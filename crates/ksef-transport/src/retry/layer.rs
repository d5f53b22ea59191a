use tower::Layer;

use super::{Retry, RetryConfig, RetryPolicy};

/// Retries safe requests (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer with `config`; every service it makes shares one retry budget.
    pub fn new(config: RetryConfig) -> RetryLayer {
        RetryLayer {
            policy: RetryPolicy::new(config),
        }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, self.policy.clone())
    }
}
