//! API 2.9.0 moved session closes into groups of their own (`onlineSessionClose` 20/s, 60/min;
//! `batchSessionClose` 20/s, 40/min). With the simulator's real limiter at a tenth of production
//! (2 closes a second for both, 6 a minute online, 4 a minute batch) and the client's limiter at
//! the same scale, bursts of closes are paced by the client and draw no 429.
//!
//! The groups without a close in them are raised for the context (`/testdata/rate-limits`) and in
//! the client's table alike, so that only the close groups pace the run. It takes a few seconds.

mod common;

use std::time::{Duration, Instant};

use ksef_client::{BatchInvoice, BatchOptions, Client, form_code};
use ksef_model::operations::SetTestRateLimits;
use ksef_model::types::SetRateLimitsRequest;
use ksef_model::{RateLimit, RateLimitGroup};
use ksef_sim::Simulator;
use ksef_transport::rate_limit::{RateLimitConfig, RateLimitTable};

use common::{client_builder, fa3_invoice, requests, start_simulator, token_login, unique};

const SCALE: f64 = 0.1;
const ONLINE: usize = 6;
const BATCHES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_closes_are_paced_by_their_own_groups_without_a_429() {
    let sim = start_simulator(
        Simulator::builder()
            .rate_limit_scale(SCALE)
            .processing_delays(Duration::from_millis(20)),
    )
    .await;
    let client: Client = client_builder(&sim, Duration::from_millis(200))
        .transport(|t| t.rate_limit(RateLimitConfig::default().with_scale(SCALE)))
        .build()
        .unwrap();
    token_login(&client, &sim).await;

    // Every overridable group fast, on both sides; the close groups are not overridable.
    let fast = serde_json::json!({"perSecond": 1000, "perMinute": 10000, "perHour": 100000});
    let groups: serde_json::Map<String, serde_json::Value> = RateLimitGroup::OVERRIDABLE
        .iter()
        .map(|g| (g.as_str().to_owned(), fast.clone()))
        .collect();
    assert!(!RateLimitGroup::OVERRIDABLE.contains(&RateLimitGroup::OnlineSessionClose));
    assert!(!RateLimitGroup::OVERRIDABLE.contains(&RateLimitGroup::BatchSessionClose));
    let request: SetRateLimitsRequest =
        serde_json::from_value(serde_json::json!({ "rateLimits": groups })).unwrap();
    client
        .test_data()
        .set_rate_limits(SetTestRateLimits::new(request))
        .await
        .unwrap();
    let table: RateLimitTable = RateLimitGroup::OVERRIDABLE
        .iter()
        .map(|&g| RateLimit::new(g, 1000, Some(10_000), Some(100_000)))
        .collect();
    client.transport().set_rate_limits(table);

    // The limits the simulator enforces now, as it reports them.
    let reported = client
        .limits()
        .rate_limits(ksef_model::operations::GetRateLimits::new())
        .await
        .unwrap();
    assert_eq!(reported.online_session_close.per_second, 2);
    assert_eq!(reported.online_session_close.per_minute, 6);
    assert_eq!(reported.batch_session_close.per_second, 2);
    assert_eq!(reported.batch_session_close.per_minute, 4);
    assert_eq!(reported.online_session.per_second, 1000, "overridden");

    let run = unique("CLOSE");
    let mut sessions = Vec::new();
    for _ in 0..ONLINE {
        sessions.push(client.open_online_session(form_code::fa3()).await.unwrap());
    }
    let online = async {
        let started = Instant::now();
        let closes = sessions.iter().map(|s| s.close());
        for result in futures_util::future::join_all(closes).await {
            result.unwrap();
        }
        started.elapsed()
    };
    let batches = async {
        let started = Instant::now();
        let submits = (0..BATCHES).map(|b| {
            let invoices = vec![BatchInvoice::from_bytes(
                "a.xml",
                fa3_invoice(sim.seeded_nip(), &format!("{run}-{b}")),
            )];
            client.submit_batch(form_code::fa3(), invoices, BatchOptions::new())
        });
        for result in futures_util::future::join_all(submits).await {
            result.unwrap();
        }
        started.elapsed()
    };
    let (online_took, batches_took) = tokio::join!(online, batches);

    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 0, "a 429 drawn by our own pacing");
    assert_eq!(stats.too_many_requests_sent, 0);
    assert_eq!(requests(&sim, "sessions.online.close"), ONLINE as u64);
    assert_eq!(requests(&sim, "sessions.batch.close"), BATCHES as u64);
    // Six closes at two a second need three one-second windows; four batch closes, two.
    assert!(
        online_took >= Duration::from_millis(1900),
        "online closes were not paced: {online_took:?}"
    );
    assert!(
        batches_took >= Duration::from_millis(900),
        "batch closes were not paced: {batches_took:?}"
    );
    println!(
        "closes: {ONLINE} online in {online_took:?}, {BATCHES} batch in {batches_took:?}, 0 429s"
    );
    sim.shutdown().await;
}
