//! Fault injection seen by raw HTTP clients: injected 5xx and 429 answers (nothing processed),
//! resets after processing (the effect stays), truncated bodies, latency, reproducible seeds.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ksef_model::types::{
    ExceptionResponse, GenerateTokenRequest, QueryTokensResponse, SessionInvoicesResponse,
    TokenPermissionType, TooManyRequestsResponse,
};
use ksef_sim::{Simulator, SimulatorBuilder, Stats};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn start_with(builder: SimulatorBuilder) -> (Simulator, Http) {
    common::start_with(builder.processing_delays(Duration::from_millis(50))).await
}

fn token_request() -> GenerateTokenRequest {
    GenerateTokenRequest::new(
        vec![TokenPermissionType::InvoiceRead],
        "A token for the fault tests",
    )
}

async fn token_count(http: &Http, access: &str) -> usize {
    let resp = http.get("/tokens", Some(access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json::<QueryTokensResponse>().tokens.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_5xx_and_429_are_not_processed_and_are_counted() {
    let (sim, http) = start_with(
        Simulator::builder()
            .fault_5xx(1.0)
            .fault_seed(1)
            .fault_operations(["tokens.generate"]),
    )
    .await;
    let creds = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let before = token_count(&http, &creds.access).await;
    for _ in 0..3 {
        let resp = http
            .post("/tokens", Some(&creds.access), &token_request())
            .await;
        assert!(matches!(resp.status, 500 | 503), "{}", resp.status);
        let body: ExceptionResponse = resp.json();
        assert!(body.exception.is_some());
    }
    assert_eq!(token_count(&http, &creds.access).await, before);
    let stats = sim.stats();
    assert_eq!(stats.faults.server_errors, 3);
    assert_eq!(stats.requests["tokens.generate"], 3);
    assert_eq!(stats.internal_errors, 0);
    sim.shutdown().await;

    let (sim, http) = start_with(
        Simulator::builder()
            .fault_429(1.0)
            .fault_operations(["tokens.generate"]),
    )
    .await;
    let creds = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let before = token_count(&http, &creds.access).await;
    let resp = http
        .post("/tokens", Some(&creds.access), &token_request())
        .await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.headers["retry-after"], "1");
    let body: TooManyRequestsResponse = resp.json();
    assert_eq!(body.status.code, 429);
    assert_eq!(token_count(&http, &creds.access).await, before);
    let stats: Stats = http
        .get(&format!("http://{}/_sim/stats", sim.local_addr()), None)
        .await
        .json();
    assert_eq!(stats.faults.too_many_requests, 1);
    assert_eq!(stats.too_many_requests_sent, 1);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.faults.server_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_invoice_send_still_stores_the_invoice() {
    let (sim, http) = start_with(
        Simulator::builder()
            .fault_reset(1.0)
            .fault_operations(["sessions.online.send_invoice"]),
    )
    .await;
    let nip = sim.seeded_nip().to_owned();
    let creds = login(&http, &nip, sim.seeded_token()).await;
    let session = open_session(&http, &creds.access).await;
    let xml = fa3_invoice(&nip, "FV/RESET/1");
    let request = encrypt(&session.key, &xml);
    let outcome = http
        .try_send(
            "POST",
            &format!("/sessions/online/{}/invoices", session.reference),
            Some(&creds.access),
            Some(serde_json::to_vec(&request).unwrap()),
            &[],
        )
        .await;
    let error = outcome
        .err()
        .expect("the connection should drop unanswered");
    assert!(error.starts_with("no response"), "{error}");

    // The invoice was processed: it is in the session and in the stats.
    let mut listed = None;
    for _ in 0..100 {
        let resp = http
            .get(
                &format!("/sessions/{}/invoices", session.reference),
                Some(&creds.access),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.text());
        let list: SessionInvoicesResponse = resp.json();
        if list.invoices.iter().all(|i| i.status.code == 200) && !list.invoices.is_empty() {
            listed = Some(list);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let list = listed.expect("the invoice should reach status 200");
    assert_eq!(list.invoices.len(), 1);
    let hash = ksef_crypto::file_metadata(&xml).sha256_base64();
    assert_eq!(list.invoices[0].invoice_hash.to_string(), hash);
    let stats = sim.stats();
    assert_eq!(stats.faults.resets, 1);
    assert_eq!(stats.invoices_accepted, 1);
    assert_eq!(stats.accepted_invoice_hashes, vec![hash]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_answer_announces_more_than_it_sends() {
    let (sim, http) = start_with(
        Simulator::builder()
            .fault_truncate(1.0)
            .fault_operations(["auth.challenge"]),
    )
    .await;
    // Through hyper: the status arrives, the body does not complete.
    let outcome = http
        .try_send("POST", "/auth/challenge", None, None, &[])
        .await;
    let error = outcome.err().expect("the body should be cut short");
    assert!(
        error.starts_with("body cut short after status 200"),
        "{error}"
    );

    // Over a plain socket: headers with the full length, half the body, then the end.
    let mut stream = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /v2/auth/challenge HTTP/1.1\r\nhost: sim\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("the server should close the connection")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let announced: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    assert!(announced > 0);
    assert_eq!(body.len(), announced / 2, "{text}");
    assert_eq!(sim.stats().faults.truncations, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_faults_repeat_and_sim_endpoints_are_exempt() {
    async fn run(seed: u64) -> (Vec<u16>, Stats) {
        let (sim, http) = start_with(Simulator::builder().fault_5xx(0.5).fault_seed(seed)).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                http.get("/security/public-key-certificates", None)
                    .await
                    .status,
            );
        }
        // Never faulted, whatever the rate.
        let stats: Stats = http
            .get(&format!("http://{}/_sim/stats", sim.local_addr()), None)
            .await
            .json();
        sim.shutdown().await;
        (statuses, stats)
    }
    let (first, stats) = run(42).await;
    let (second, _) = run(42).await;
    assert_eq!(first, second);
    let faulted = first.iter().filter(|s| matches!(s, 500 | 503)).count();
    assert!(first.iter().all(|s| matches!(s, 200 | 500 | 503)));
    assert!((5..=35).contains(&faulted), "{faulted} of 40");
    assert_eq!(stats.faults.server_errors, faulted as u64);
    assert_eq!(stats.requests["security.public_key_certificates"], 40);
    let (other, _) = run(43).await;
    assert_ne!(first, other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_api_requests_only() {
    let (sim, http) =
        start_with(Simulator::builder().fault_latency(Duration::from_millis(300))).await;
    let started = Instant::now();
    let resp = http.get("/security/public-key-certificates", None).await;
    assert_eq!(resp.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let stats: Stats = http
        .get(&format!("http://{}/_sim/stats", sim.local_addr()), None)
        .await
        .json();
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(stats.faults.delayed, 1);
    sim.shutdown().await;
}
