//! Exactly-once sends when the response to a send is lost on the way back: a loopback proxy in
//! front of the simulator forwards the first invoice send and then drops the connection without
//! answering, so the client cannot know whether KSeF got it.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ksef_client::{Client, Delivery, KeyType, RetryConfig, SubjectIdentifierType, form_code};
use ksef_sim::Simulator;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use common::{
    fa3_invoice, poll, quick_reconcile, requests, seal, seeded_nip, simulator_with_delays,
    start_simulator, token_login, unique,
};

/// What the proxy does with invoice sends.
#[derive(Clone, Copy)]
enum Mode {
    /// Forward everything, but replace the `publicKeyId`s of the first certificate listing with
    /// an id KSeF does not know (same length, so `Content-Length` still fits).
    StaleFirstKeyIds,
    /// Forward the first send, then hang up without the response.
    LoseFirstResponse,
    /// Answer the first send with 503 without forwarding it.
    RefuseFirstWith503,
    /// Lose the response to the first send (as `LoseFirstResponse`), then answer the first this
    /// many reads of the session's invoice list with 503 without forwarding them.
    LoseFirstResponseAndFailLists(usize),
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from `stream`.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf))
}

/// Replaces every `publicKeyId` value in a JSON response with `A`s of the same length.
fn stale_key_ids(response: &[u8]) -> Vec<u8> {
    let mut out = response.to_vec();
    let needle = b"\"publicKeyId\":\"";
    let mut i = 0;
    while let Some(pos) = out[i..].windows(needle.len()).position(|w| w == needle) {
        let mut j = i + pos + needle.len();
        while j < out.len() && out[j] != b'"' {
            out[j] = b'A';
            j += 1;
        }
        i = j;
    }
    out
}

/// A proxy handling one request per connection (it asks the upstream to close after each).
async fn proxy(
    upstream: Arc<Mutex<SocketAddr>>,
    mode: Mode,
    sends_seen: Arc<AtomicUsize>,
) -> SocketAddr {
    proxy_counting(upstream, mode, sends_seen, Arc::new(AtomicUsize::new(0))).await
}

/// [`proxy`], also counting the reads of a session's invoice list in `lists_seen`.
async fn proxy_counting(
    upstream: Arc<Mutex<SocketAddr>>,
    mode: Mode,
    sends_seen: Arc<AtomicUsize>,
    lists_seen: Arc<AtomicUsize>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listings = Arc::new(AtomicUsize::new(0));
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let sends_seen = sends_seen.clone();
            let lists_seen = lists_seen.clone();
            let listings = listings.clone();
            let upstream = *upstream.lock().unwrap();
            tokio::spawn(async move {
                let Some((head, request)) = read_request(&mut client).await else {
                    return;
                };
                let first_line = head.lines().next().unwrap_or_default().to_owned();
                let is_send = first_line.starts_with("POST ")
                    && first_line.contains("/sessions/online/")
                    && first_line.contains("/invoices ");
                let is_listing = first_line.contains("/security/public-key-certificates");
                let first_send = is_send && sends_seen.fetch_add(1, Ordering::SeqCst) == 0;
                let is_list = first_line.starts_with("GET ")
                    && first_line.contains("/sessions/")
                    && (first_line.contains("/invoices?") || first_line.contains("/invoices "));
                if is_list {
                    let earlier = lists_seen.fetch_add(1, Ordering::SeqCst);
                    if matches!(mode, Mode::LoseFirstResponseAndFailLists(n) if earlier < n) {
                        let _ = client
                            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                }
                let tamper = is_listing
                    && matches!(mode, Mode::StaleFirstKeyIds)
                    && listings.fetch_add(1, Ordering::SeqCst) == 0;
                if first_send && matches!(mode, Mode::RefuseFirstWith503) {
                    let _ = client
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    return;
                }
                // Ask the upstream to close after answering, so its answer ends at EOF.
                let head_len = head.len();
                let mut forwarded = request[..head_len - 2].to_vec();
                forwarded.extend_from_slice(b"connection: close\r\n\r\n");
                forwarded.extend_from_slice(&request[head_len..]);
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                if server.write_all(&forwarded).await.is_err() {
                    return;
                }
                let mut response = Vec::new();
                let _ = server.read_to_end(&mut response).await;
                if first_send
                    && matches!(
                        mode,
                        Mode::LoseFirstResponse | Mode::LoseFirstResponseAndFailLists(_)
                    )
                {
                    // KSeF processed it; the answer never reaches the client.
                    return;
                }
                if tamper {
                    response = stale_key_ids(&response);
                }
                let _ = client.write_all(&response).await;
                let _ = client.shutdown().await;
            });
        }
    });
    addr
}

async fn setup(mode: Mode) -> (Simulator, Client, Arc<AtomicUsize>) {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
    let seen = Arc::new(AtomicUsize::new(0));
    let addr = proxy(Arc::new(Mutex::new(sim.local_addr())), mode, seen.clone()).await;
    let client = client_via(addr);
    token_login(&client, &sim).await;
    (sim, client, seen)
}

/// A simulator and a client that reach it through a proxy whose first certificate listing
/// carries key ids KSeF no longer knows.
async fn behind_stale_key_ids() -> (Simulator, Client) {
    let sim = start_simulator(Simulator::builder()).await;
    let upstream = Arc::new(Mutex::new(sim.local_addr()));
    let addr = proxy(
        upstream,
        Mode::StaleFirstKeyIds,
        Arc::new(AtomicUsize::new(0)),
    )
    .await;
    (sim, client_via(addr))
}

fn client_via(addr: SocketAddr) -> Client {
    Client::builder()
        .transport(|t| {
            t.base_url(format!("http://{addr}/v2")).retry(
                RetryConfig::default()
                    .with_backoff(Duration::from_millis(10), Duration::from_millis(50)),
            )
        })
        .poll(poll(Duration::from_millis(200)))
        .reconcile(quick_reconcile())
        .build()
        .unwrap()
}

/// A new online session and an FA(3) invoice of the seeded taxpayer numbered with `tag`.
async fn fresh_invoice(
    sim: &Simulator,
    client: &Client,
    tag: &str,
) -> (ksef_client::OnlineSession, Vec<u8>) {
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    (session, fa3_invoice(sim.seeded_nip(), &unique(tag)))
}

fn simulator_sends(sim: &Simulator) -> u64 {
    requests(sim, "sessions.online.send_invoice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_is_reconciled_not_resent() {
    let (sim, client, seen) = setup(Mode::LoseFirstResponse).await;
    let (session, invoice) = fresh_invoice(&sim, &client, "LOST").await;

    let sent = session
        .send(&invoice)
        .await
        .expect("settled by reconciliation");
    assert_eq!(sent.delivery, Delivery::Reconciled);
    assert_eq!(seen.load(Ordering::SeqCst), 1, "the client sent once");
    assert_eq!(simulator_sends(&sim), 1, "KSeF received it once");
    assert_eq!(sim.stats().invoices_accepted, 1);

    let (_, status) = session
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    assert_eq!(status.status.code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_send_that_never_arrived_is_sent_again_once() {
    let (sim, client, seen) = setup(Mode::RefuseFirstWith503).await;
    let (session, invoice) = fresh_invoice(&sim, &client, "503").await;

    let sent = session
        .send(&invoice)
        .await
        .expect("resent after reconciliation");
    assert_eq!(sent.delivery, Delivery::Resent);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "one lost attempt, one resend"
    );
    assert_eq!(simulator_sends(&sim), 1, "KSeF received it once");
    assert_eq!(sim.stats().invoices_accepted, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_encryption_certificate_is_refetched_on_21470() {
    // The first certificate listing the client sees carries key ids KSeF no longer knows, like
    // a cache that outlived a key rotation: the login is refused with 21470, the client fetches
    // the listing again and succeeds.
    let (sim, client) = behind_stale_key_ids().await;

    client
        .login_with_ksef_token(seeded_nip(&sim), sim.seeded_token())
        .await
        .expect("login after refetching the certificates");
    let requests = sim.stats().requests;
    assert_eq!(
        requests.get("auth.ksef_token").copied(),
        Some(2),
        "{requests:?}"
    );
    assert_eq!(
        requests.get("security.public_key_certificates").copied(),
        Some(2)
    );
    // The online session uses the refreshed cache: no further listing.
    client.open_online_session(form_code::fa3()).await.unwrap();
    assert_eq!(
        sim.stats()
            .requests
            .get("security.public_key_certificates")
            .copied(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_opening_refetches_a_stale_encryption_certificate() {
    // A XAdES login lists no certificates, so the session opening sees the stale listing first:
    // KSeF refuses it with 21470 and the client opens again with the fetched-again certificate.
    let (sim, client) = behind_stale_key_ids().await;
    let certificate = seal(&sim, KeyType::EcdsaP256);
    client
        .login_with_certificate(
            seeded_nip(&sim),
            &certificate.signer().expect("a signer"),
            SubjectIdentifierType::CertificateSubject,
        )
        .await
        .expect("seal login");
    assert_eq!(requests(&sim, "security.public_key_certificates"), 0);

    client
        .open_online_session(form_code::fa3())
        .await
        .expect("the session opens after refetching the certificates");
    assert_eq!(requests(&sim, "sessions.online.open"), 2);
    assert_eq!(requests(&sim, "security.public_key_certificates"), 2);
}

/// A client through a proxy that fails the first `failing` reads of the invoice list, with the
/// transport's own retries off (so only the reconciliation's retries are at work).
async fn setup_failing_lists(failing: usize) -> (Simulator, Client, Arc<AtomicUsize>) {
    let sim = simulator_with_delays(Duration::from_millis(50)).await;
    let lists = Arc::new(AtomicUsize::new(0));
    let addr = proxy_counting(
        Arc::new(Mutex::new(sim.local_addr())),
        Mode::LoseFirstResponseAndFailLists(failing),
        Arc::new(AtomicUsize::new(0)),
        lists.clone(),
    )
    .await;
    let client = Client::builder()
        .transport(|t| {
            t.base_url(format!("http://{addr}/v2"))
                .retry(RetryConfig::disabled())
        })
        .reconcile(quick_reconcile())
        .build()
        .unwrap();
    token_login(&client, &sim).await;
    (sim, client, lists)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reads_the_list_again_after_passing_failures() {
    let (sim, client, lists) = setup_failing_lists(2).await;
    let (session, invoice) = fresh_invoice(&sim, &client, "LISTS").await;
    let sent = session
        .send(&invoice)
        .await
        .expect("settled by the third read of the list");
    assert_eq!(sent.delivery, Delivery::Reconciled);
    assert_eq!(
        lists.load(Ordering::SeqCst),
        3,
        "two failed reads, one good"
    );
    assert_eq!(simulator_sends(&sim), 1, "KSeF received it once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_that_keeps_failing_leaves_the_outcome_unknown() {
    let (sim, client, lists) = setup_failing_lists(usize::MAX).await;
    let (session, invoice) = fresh_invoice(&sim, &client, "NOLIST").await;
    let error = session.send(&invoice).await.unwrap_err();
    let ksef_client::Error::UnknownOutcome { invoice_hash, .. } = &error else {
        panic!("expected an unknown outcome, got {error:?}");
    };
    assert_eq!(
        *invoice_hash,
        ksef_client::OnlineSession::invoice_hash(&invoice)
    );
    assert!(error.to_string().contains("unknown"), "{error}");
    assert_eq!(lists.load(Ordering::SeqCst), 4, "a bounded number of reads");
    assert_eq!(simulator_sends(&sim), 1, "nothing was sent again");
}
