//! Layers added with `TransportBuilder::with_layer`: where they sit in the stack and what they
//! see (local servers on 127.0.0.1 only).
#![allow(missing_docs)]

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use ksef_transport::RequestMeta;
use ksef_transport::retry::RetryConfig;
use serde_json::json;
use tower::{Layer, Service};
use wiremock::matchers::{header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// What the layers saw: (layer name, operation id, whether an `Authorization` header was set).
type Log = Arc<Mutex<Vec<(&'static str, &'static str, bool)>>>;

#[derive(Clone)]
struct Recording {
    name: &'static str,
    log: Log,
}

impl<S> Layer<S> for Recording {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Recorded<S> {
    inner: S,
    layer: Recording,
}

impl<S: Service<Request<Bytes>>> Service<Request<Bytes>> for Recorded<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Bytes>) -> S::Future {
        let id = request
            .extensions()
            .get::<RequestMeta>()
            .map_or("no-meta", |meta| meta.operation_id);
        let authorized = request.headers().contains_key("authorization");
        self.layer
            .log
            .lock()
            .unwrap()
            .push((self.layer.name, id, authorized));
        self.inner.call(request)
    }
}

fn recording(name: &'static str, log: &Log) -> Recording {
    Recording {
        name,
        log: log.clone(),
    }
}

#[tokio::test]
async fn user_layers_sit_below_auth_in_the_order_added() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/things"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(path("/v2/things"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    answer(
        &server,
        "/v2/auth/token/refresh",
        ResponseTemplate::new(200).set_body_json(
            json!({"accessToken": {"token": "new", "validUntil": "2099-01-01T00:00:00+00:00"}}),
        ),
    )
    .await;
    let log = Log::default();
    let transport = builder(&server.uri(), tokens("old"))
        .with_layer(recording("outer", &log))
        .with_layer(recording("inner", &log))
        .build()
        .unwrap();
    transport.execute(&GetThing::default()).await.unwrap();

    // Below the auth layer: every request already carries its token, and the refresh call the
    // auth layer makes on its own, and the request it sends again after the 401, pass through.
    // The first layer added is the outermost.
    let expected = [
        ("outer", "things.get", true),
        ("inner", "things.get", true),
        ("outer", "auth.token.refresh", true),
        ("inner", "auth.token.refresh", true),
        ("outer", "things.get", true),
        ("inner", "things.get", true),
    ];
    assert_eq!(*log.lock().unwrap(), expected);
    assert_eq!(count(&server, "/v2/things").await, 2);
}

#[tokio::test]
async fn user_layers_sit_above_retries() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/things"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    answer(
        &server,
        "/v2/things",
        ResponseTemplate::new(200).set_body_json(json!({})),
    )
    .await;
    let log = Log::default();
    let transport = builder(&server.uri(), tokens("t"))
        .retry(
            RetryConfig::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .with_layer(recording("user", &log))
        .build()
        .unwrap();
    transport.execute(&GetThing::default()).await.unwrap();
    // Three attempts on the wire, one call through the user layer.
    assert_eq!(count(&server, "/v2/things").await, 3);
    assert_eq!(*log.lock().unwrap(), [("user", "things.get", true)]);
}
