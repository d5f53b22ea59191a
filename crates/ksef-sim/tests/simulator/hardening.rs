//! Regressions of issue 20 (D): what a hostile or careless client must not get from the
//! simulator (another session's UPO without its signed link; a connection held open forever).

use super::*;

/// `url` without its query string.
fn unsigned(url: &str) -> String {
    url.split_once('?').map_or(url, |(path, _)| path).to_owned()
}

// Regression (issue 20, D): `/_sim/upo/...` links served any session's UPO to anyone, without a
// token or a signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upo_links_are_signed_and_refused_without_their_signature() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let session = open_session(&http, access).await;
    let xml = fa3_invoice(&nip, &format!("SIGNED-{}", std::process::id()));
    let reference = send_ok(&http, access, &session, &xml).await;
    let status = wait_invoice(&http, access, &session.reference, &reference).await;
    let invoice_link = status.upo_download_url.expect("an invoice UPO link");
    let close = http
        .post_empty(
            &format!("/sessions/online/{}/close", session.reference),
            Some(access),
        )
        .await;
    assert_eq!(close.status, 204, "{}", close.text());
    let mut done: SessionStatusResponse = http
        .get(&format!("/sessions/{}", session.reference), Some(access))
        .await
        .json();
    for _ in 0..100 {
        if done.status.code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        done = http
            .get(&format!("/sessions/{}", session.reference), Some(access))
            .await
            .json();
    }
    let session_link = done.upo.expect("UPO pages").pages[0].download_url.clone();

    for link in [&invoice_link, &session_link] {
        assert!(
            link.contains("/_sim/upo/") && link.contains("?sig="),
            "{link}"
        );
        // The link as handed out works without a token.
        let ok = http.get(link, None).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert!(ok.text().contains(&session.reference));
        // Without its signature, with a forged one, or with a bearer token instead: refused.
        let bare = unsigned(link);
        for attempt in [
            bare.clone(),
            format!("{bare}?sig="),
            link.replace("sig=", "sig=0"),
            format!("{bare}?sig={}", "0".repeat(32)),
        ] {
            let refused = http.get(&attempt, None).await;
            assert_eq!(refused.status, 403, "{attempt}: {}", refused.text());
            assert!(
                !refused.text().contains("Potwierdzenie"),
                "{}",
                refused.text()
            );
        }
        assert_eq!(http.get(&bare, Some(access)).await.status, 403);
    }
    // A link to a session that does not exist is refused alike: links reveal nothing.
    let unknown = session_link.replace(&session.reference, "20250101-SO-0000000000-0000000000-00");
    assert_eq!(http.get(&unknown, None).await.status, 403);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

// Regression (issue 20, D): a connection that trickled its request line was held forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (sim, http) =
        start_with(Simulator::builder().header_read_timeout(Duration::from_secs(1))).await;
    let authority = sim.local_addr().to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let started = std::time::Instant::now();
    stream.write_all(b"GET /v2/secur").await.unwrap();
    // One more byte every 200 ms, never finishing the request line.
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stream.write_all(b"i").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), trickle).await;
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(5),
        "the connection was closed after {closed_after:?}"
    );
    // The connection is gone: reading gives the end (possibly after a 408) or an error.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection stayed open");
    // A well-behaved client is served as before.
    let challenge = http.post_empty("/auth/challenge", None).await;
    assert_eq!(challenge.status, 200, "{}", challenge.text());
    sim.shutdown().await;
}
