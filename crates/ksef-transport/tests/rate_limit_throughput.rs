//! The client-side limiter against a local server that notes when each request arrives.
//!
//! 2,000 requests from 64 concurrent tasks, limit 100 requests per sliding second (minute and hour
//! windows off). At most 100 may arrive within any one second, so the last of them can arrive no
//! earlier than 19 s after the first: the ideal span. The test asserts that no one-second window
//! at the server holds more than 100 arrivals, and that the measured span is within 5 % of the
//! ideal (throughput ratio = ideal span / measured span ≥ 0.95). It takes about 20 s.
#![allow(missing_docs)]

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ksef_model::{RateLimit, RateLimitGroup};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REQUESTS: usize = 2_000;
const TASKS: usize = 64;
const PER_SECOND: usize = 100;

struct Record(Arc<Mutex<Vec<Instant>>>);

impl Respond for Record {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200).set_body_json(json!({}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_holds_the_limit_at_full_speed() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::with_capacity(REQUESTS)));
    Mock::given(path("/v2/limited"))
        .respond_with(Record(arrivals.clone()))
        .mount(&server)
        .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    // KSeF's global limit (75/s per IP) would cap this test below its 100/s group limit.
    transport.set_rate_limits(
        [RateLimit::new(RateLimitGroup::Global, 10_000, None, None)]
            .into_iter()
            .collect(),
    );

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let transport = transport.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < REQUESTS {
                    transport.execute(&Limited::default()).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let mut arrivals = arrivals.lock().unwrap().clone();
    arrivals.sort();
    assert_eq!(arrivals.len(), REQUESTS);

    // For every arrival, the arrivals in the one-second window ending at it.
    let window = Duration::from_secs(1);
    let mut worst = 0;
    let mut over = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end] - arrivals[start] >= window {
            start += 1;
        }
        let in_window = end - start + 1;
        worst = worst.max(in_window);
        if in_window > PER_SECOND {
            over += 1;
        }
    }

    let span = arrivals[REQUESTS - 1] - arrivals[0];
    let ideal = Duration::from_secs(((REQUESTS - 1) / PER_SECOND) as u64);
    let ratio = ideal.as_secs_f64() / span.as_secs_f64();
    println!(
        "rate limiter: {REQUESTS} requests, {TASKS} tasks, limit {PER_SECOND}/s: span {span:?} \
         (ideal {ideal:?}), throughput ratio {ratio:.4}, busiest 1 s window {worst}, windows over limit {over}"
    );
    assert_eq!(over, 0, "{over} one-second windows exceeded the limit");
    assert!(ratio >= 0.95, "throughput ratio {ratio:.4} below 0.95");
}
