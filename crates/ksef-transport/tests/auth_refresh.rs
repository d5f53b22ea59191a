//! The auth layer against local servers (127.0.0.1 only): bearer tokens, the single-flight
//! refresh, and the refresh call built from its generated descriptor.
#![allow(missing_docs)]

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use ksef_model::Operation;
use ksef_model::operations::RefreshAccessToken;
use ksef_transport::{Error, TokenKind, TokenStore};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn refresh_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(
            json!({"accessToken": {"token": "new", "validUntil": "2099-01-01T00:00:00+00:00"}}),
        )
        .set_delay(Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_for_fifty_concurrent_401s() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/things"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"title":"Unauthorized","status":401,"detail":"expired","timestamp":"t"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/things"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/auth/token/refresh"))
        .and(header("authorization", "Bearer refresh"))
        .respond_with(refresh_ok())
        .mount(&server)
        .await;

    let tokens = tokens("old");
    let transport = builder(&server.uri(), tokens.clone()).build().unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move { t.execute(&GetThing::default()).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.value()["ok"], true);
        ok += 1;
    }
    let refreshes = count(&server, "/v2/auth/token/refresh").await;
    println!("concurrent 401s: {ok} succeeded, refresh calls = {refreshes}");
    assert_eq!(ok, 50);
    assert_eq!(refreshes, 1);
    assert_eq!(
        tokens.load(TokenKind::Access).unwrap().expose_secret(),
        "new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_refresh_is_typed_and_shared() {
    let server = MockServer::start().await;
    answer(&server, "/v2/things", ResponseTemplate::new(401)).await;
    let refused = json!({"exception": {"exceptionDetailList": [
        {"exceptionCode": 21301, "exceptionDescription": "Brak autoryzacji."}
    ]}});
    answer(
        &server,
        "/v2/auth/token/refresh",
        ResponseTemplate::new(400)
            .set_body_json(refused)
            .set_delay(Duration::from_millis(200)),
    )
    .await;
    let transport = builder(&server.uri(), tokens("old")).build().unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let t = transport.clone();
            tokio::spawn(async move { t.execute(&GetThing::default()).await })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            Err(Error::RefreshFailed { source }) => {
                assert!(source.api().unwrap().has_code(21301));
            }
            other => panic!("expected RefreshFailed, got {other:?}"),
        }
    }
    assert_eq!(count(&server, "/v2/auth/token/refresh").await, 1);
}

#[tokio::test]
async fn a_401_on_the_refresh_call_does_not_refresh_again() {
    let server = MockServer::start().await;
    answer(&server, "/v2/things", ResponseTemplate::new(401)).await;
    answer(
        &server,
        "/v2/auth/token/refresh",
        ResponseTemplate::new(401),
    )
    .await;
    let transport = builder(&server.uri(), tokens("old")).build().unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    let Error::RefreshFailed { source } = err else {
        panic!("expected RefreshFailed, got {err:?}")
    };
    assert_eq!(source.status(), Some(401));
    assert_eq!(count(&server, "/v2/auth/token/refresh").await, 1);
    assert_eq!(count(&server, "/v2/things").await, 1);
}

#[tokio::test]
async fn authentication_token_operations_never_refresh() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/auth/status"))
        .and(header("authorization", "Bearer authn"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    answer(&server, "/v2/auth/token/refresh", refresh_ok()).await;
    let transport = builder(&server.uri(), tokens("old")).build().unwrap();
    let err = transport.execute(&AuthStatus::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(count(&server, "/v2/auth/token/refresh").await, 0);
}

#[tokio::test]
async fn missing_access_token_is_refreshed_first() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/things"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    answer(&server, "/v2/auth/token/refresh", refresh_ok()).await;
    let tokens = tokens("unused");
    tokens.clear().unwrap();
    tokens
        .save(TokenKind::Refresh, ksef_transport::Token::new("refresh"))
        .unwrap();
    let transport = builder(&server.uri(), tokens).build().unwrap();
    transport.execute(&GetThing::default()).await.unwrap();
    assert_eq!(count(&server, "/v2/auth/token/refresh").await, 1);
}

#[tokio::test]
async fn the_refresh_call_follows_its_descriptor_and_is_retried_as_idempotent() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/things",
        ResponseTemplate::new(200).set_body_json(json!({})),
    )
    .await;
    // A 503 on the first refresh attempt: retried, because the descriptor marks it idempotent.
    Mock::given(method("POST"))
        .and(path("/v2/auth/token/refresh"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/auth/token/refresh"))
        .and(header("authorization", "Bearer refresh"))
        .and(header("accept", "application/json"))
        .respond_with(refresh_ok())
        .mount(&server)
        .await;
    let tokens = tokens("unused");
    tokens.clear().unwrap();
    tokens
        .save(TokenKind::Refresh, ksef_transport::Token::new("refresh"))
        .unwrap();
    let transport = builder(&server.uri(), tokens.clone())
        .retry(
            ksef_transport::retry::RetryConfig::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    transport.execute(&GetThing::default()).await.unwrap();
    assert_eq!(count(&server, "/v2/auth/token/refresh").await, 2);
    let access = tokens.load(TokenKind::Access).unwrap();
    assert_eq!(access.expose_secret(), "new");
    assert!(access.valid_until().is_some());
}

#[tokio::test]
async fn a_refresh_answer_without_valid_until_is_a_typed_error() {
    let server = MockServer::start().await;
    answer(&server, "/v2/things", ResponseTemplate::new(401)).await;
    answer(
        &server,
        "/v2/auth/token/refresh",
        ResponseTemplate::new(200).set_body_json(json!({"accessToken": {"token": "new"}})),
    )
    .await;
    let transport = builder(&server.uri(), tokens("old")).build().unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    let Error::RefreshFailed { source } = err else {
        panic!("expected RefreshFailed, got {err:?}")
    };
    assert!(
        matches!(&*source, Error::MalformedBody { operation, .. } if *operation == RefreshAccessToken::ID),
        "{source:?}"
    );
}
