//! A server's `Retry-After` never panics the client and never makes it sleep longer than the cap.
//!
//! The transport tests run against a local wiremock server with a small cap in real time; the
//! layer tests run the retry and rate-limit layers over an in-process service in Tokio's paused
//! time, so the default 5-minute cap is checked exactly and fast.
#![allow(missing_docs)]

#[macro_use]
mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use ksef_transport::rate_limit::{RateLimitConfig, RateLimitLayer, RateLimiter};
use ksef_transport::retry::{RetryConfig, RetryLayer};
use ksef_transport::{Error, RequestMeta};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};
use wiremock::{MockServer, Request as MockRequest, Respond, ResponseTemplate};

const HUGE: &str = "18446744073709551615";
const DAY: &str = "86400";

/// Collects what `tracing` prints while the returned guard lives (this thread only).
///
/// Every test of this file installs one: tracing caches per call site whether any subscriber
/// wants its events, and a test running with none could make another test's capture miss them.
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || sink.clone())
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

fn text(buffer: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// Answers 429 with `Retry-After: value` the first time and 200 afterwards.
struct ThrottleOnce {
    value: &'static str,
    calls: Arc<AtomicUsize>,
}

impl Respond for ThrottleOnce {
    fn respond(&self, _: &MockRequest) -> ResponseTemplate {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            ResponseTemplate::new(429)
                .insert_header("retry-after", self.value)
                .set_body_json(
                    json!({"status":{"code":429,"description":"Too Many Requests","details":[]}}),
                )
        } else {
            ResponseTemplate::new(200).set_body_json(json!({}))
        }
    }
}

async fn transport_waits_the_cap(value: &'static str) {
    let (logs, _guard) = capture_logs();
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    answer(
        &server,
        "/v2/things",
        ThrottleOnce {
            value,
            calls: calls.clone(),
        },
    )
    .await;
    let cap = Duration::from_millis(300);
    let transport = builder(&server.uri(), tokens("t"))
        .max_retry_after(cap)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        transport.execute(&GetThing::default()),
    )
    .await
    .expect("the transport slept past the cap");
    let took = started.elapsed();
    result.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "retried once after the 429"
    );
    assert!(took >= cap, "did not wait the cap: {took:?}");
    assert!(took < Duration::from_secs(5), "waited too long: {took:?}");
    let logs = text(&logs);
    assert!(
        logs.contains("longer than the maximum") && logs.contains("things.get"),
        "no event naming the capped wait and the operation: {logs}"
    );
}

#[tokio::test]
async fn retry_after_u64_max_waits_the_cap_without_panicking() {
    transport_waits_the_cap(HUGE).await;
}

#[tokio::test]
async fn retry_after_a_day_waits_the_cap() {
    transport_waits_the_cap(DAY).await;
}

/// The retry and rate-limit layers over a service answering 429 with `Retry-After: value` once.
async fn layers_wait(value: &'static str, retry: RetryConfig, limits: RateLimitConfig) -> Duration {
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = {
        let calls = calls.clone();
        tower::service_fn(move |_request: Request<Bytes>| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                let response = if first {
                    Response::builder()
                        .status(429)
                        .header("retry-after", value)
                        .body(Bytes::new())
                } else {
                    Response::builder().status(200).body(Bytes::new())
                };
                Ok::<_, Error>(response.unwrap())
            }
        })
    };
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(retry))
        .layer(RateLimitLayer::new(RateLimiter::new(limits)))
        .service(inner);
    let mut request = Request::new(Bytes::new());
    request
        .extensions_mut()
        .insert(RequestMeta::of::<GetThing>());
    let started = tokio::time::Instant::now();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn default_cap_is_five_minutes_for_u64_max() {
    let (logs, _guard) = capture_logs();
    let waited = layers_wait(HUGE, RetryConfig::default(), RateLimitConfig::default()).await;
    assert!(
        waited >= Duration::from_secs(300) && waited < Duration::from_secs(301),
        "waited {waited:?}"
    );
    let logs = text(&logs);
    assert!(
        logs.contains("pausing the group for the maximum"),
        "the limiter did not say it capped the pause: {logs}"
    );
    assert!(
        logs.contains("retry_after_s=18446744073709551615"),
        "{logs}"
    );
}

#[tokio::test(start_paused = true)]
async fn default_cap_is_five_minutes_for_a_day() {
    let (_logs, _guard) = capture_logs();
    let waited = layers_wait(DAY, RetryConfig::default(), RateLimitConfig::default()).await;
    assert!(
        waited >= Duration::from_secs(300) && waited < Duration::from_secs(301),
        "waited {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_below_the_cap_is_honoured_in_full() {
    let (_logs, _guard) = capture_logs();
    let waited = layers_wait("120", RetryConfig::default(), RateLimitConfig::default()).await;
    assert!(
        waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
        "waited {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn each_config_has_its_own_cap() {
    let (_logs, _guard) = capture_logs();
    let waited = layers_wait(
        HUGE,
        RetryConfig::default().with_max_retry_after(Duration::from_secs(10)),
        RateLimitConfig::default().with_max_retry_after(Duration::from_secs(10)),
    )
    .await;
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "waited {waited:?}"
    );
}
