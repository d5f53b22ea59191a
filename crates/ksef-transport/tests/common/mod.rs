//! Shared helpers for the integration tests: hand-written operations and a transport builder.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;

use ksef_model::{Auth, Body, ContentKind, Method, RateLimit, RateLimitGroup};
use ksef_model::{Operation, OperationInfo, RequestError, ResponseError};
use ksef_transport::{
    Environment, MemoryTokenStore, Token, TokenKind, TokenStore, Transport, TransportBuilder,
};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Respond};

/// Declares a test operation with a JSON (`serde_json::Value`) or raw (`Vec<u8>`) response.
macro_rules! op {
    ($name:ident, $id:literal, $method:ident, $path:literal, $auth:ident,
     $limit:expr, idempotent = $idem:literal, $content:ident, $body:expr) => {
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            pub path: Option<String>,
        }

        impl Operation for $name {
            type Response = op!(@response $content);
            const INFO: OperationInfo = OperationInfo::new($id, Method::$method, $path)
                .with_auth(Auth::$auth)
                .with_rate_limit($limit)
                .with_content(ContentKind::Empty, ContentKind::$content)
                .with_error_statuses(&[400, 401, 403, 429])
                .with_idempotent($idem);

            fn path(&self) -> String {
                self.path.clone().unwrap_or_else(|| $path.to_owned())
            }
            fn query(&self) -> Vec<(&'static str, String)> {
                Vec::new()
            }
            fn headers(&self) -> Vec<(&'static str, String)> {
                Vec::new()
            }
            fn body(&self) -> Result<Body, RequestError> {
                Ok($body)
            }
            fn parse_response(body: &[u8]) -> Result<Self::Response, ResponseError> {
                op!(@parse $content, body)
            }
        }
    };
    (@response Json) => { serde_json::Value };
    (@response Xml) => { Vec<u8> };
    (@response Empty) => { () };
    (@parse Json, $body:ident) => {
        serde_json::from_slice($body).map_err(|source| ResponseError::Json { operation: Self::ID, source })
    };
    (@parse Xml, $body:ident) => { Ok($body.to_vec()) };
    (@parse Empty, $body:ident) => {{ let _ = $body; Ok(()) }};
}

const HIGH: RateLimit = RateLimit::new(RateLimitGroup::Other, 10_000, None, None);

op!(
    GetThing,
    "things.get",
    Get,
    "/things",
    AccessToken,
    HIGH,
    idempotent = true,
    Json,
    Body::Empty
);
op!(
    SendThing,
    "things.send",
    Post,
    "/things",
    AccessToken,
    RateLimit::new(RateLimitGroup::InvoiceSend, 10_000, None, None),
    idempotent = false,
    Json,
    Body::Json(br#"{"a":1}"#.to_vec())
);
op!(
    AuthStatus,
    "auth.status",
    Get,
    "/auth/status",
    AuthenticationToken,
    RateLimit::new(RateLimitGroup::Anonymous, 10_000, None, None),
    idempotent = true,
    Json,
    Body::Empty
);
op!(
    GetDoc,
    "doc.get",
    Get,
    "/doc",
    AccessToken,
    HIGH,
    idempotent = true,
    Xml,
    Body::Empty
);
op!(
    Limited,
    "limited.get",
    Get,
    "/limited",
    None,
    RateLimit::new(RateLimitGroup::Other, 100, None, None),
    idempotent = true,
    Json,
    Body::Empty
);

pub fn tokens(access: &str) -> Arc<MemoryTokenStore> {
    let tokens = Arc::new(MemoryTokenStore::new());
    for (kind, secret) in [
        (TokenKind::Access, access),
        (TokenKind::Refresh, "refresh"),
        (TokenKind::Authentication, "authn"),
    ] {
        tokens
            .save(kind, Token::new(secret))
            .expect("a memory store");
    }
    tokens
}

pub fn builder(base: &str, tokens: Arc<MemoryTokenStore>) -> TransportBuilder {
    let tokens: Arc<dyn TokenStore> = tokens;
    Transport::builder(Environment::Test)
        .base_url(format!("{base}/v2"))
        .without_proxy()
        .shared_token_store(tokens)
}

/// How many requests to path `p` `server` has received.
pub async fn count(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// Makes `server` answer every request to path `p` with `template` (a `ResponseTemplate` or
/// any other responder).
pub async fn answer(server: &MockServer, p: &str, template: impl Respond + 'static) {
    Mock::given(path(p))
        .respond_with(template)
        .mount(server)
        .await;
}
