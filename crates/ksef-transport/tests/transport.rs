//! Behaviour of the assembled transport against local servers (127.0.0.1 only).
#![allow(missing_docs)]

#[macro_use]
mod common;

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ksef_model::Method;
use ksef_transport::retry::RetryConfig;
use ksef_transport::{Error, ErrorFormat, PresignedRequest, TimeoutPhase};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[tokio::test]
async fn non_idempotent_post_is_not_retried_after_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/things"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    let err = transport.execute(&SendThing::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(count(&server, "/v2/things").await, 1);
}

#[tokio::test]
async fn non_idempotent_post_is_retried_after_429_which_proves_it_was_not_processed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/things"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/things"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    transport.execute(&SendThing::default()).await.unwrap();
    assert_eq!(count(&server, "/v2/things").await, 2);
}

#[tokio::test]
async fn idempotent_get_is_retried_after_5xx() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/things"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer(
        &server,
        "/v2/things",
        ResponseTemplate::new(200).set_body_json(json!({"n": 2})),
    )
    .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    let response = transport.execute(&GetThing::default()).await.unwrap();
    assert_eq!(response.value()["n"], 2);
    assert_eq!(count(&server, "/v2/things").await, 2);
}

/// Answers 429 with `Retry-After: 1` the first time and 200 afterwards, noting arrival times.
struct ThrottleOnce {
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for ThrottleOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap();
        arrivals.push(Instant::now());
        if arrivals.len() == 1 {
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"status":{"code":429,"description":"Too Many Requests","details":["try again after 1 second"]}}))
        } else {
            ResponseTemplate::new(200).set_body_json(json!({}))
        }
    }
}

/// A server whose `/v2/things` answers 429 with `Retry-After: 1` once, then 200; and the
/// instants its requests arrived.
async fn throttled_once() -> (MockServer, Arc<Mutex<Vec<Instant>>>) {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    answer(
        &server,
        "/v2/things",
        ThrottleOnce {
            arrivals: arrivals.clone(),
        },
    )
    .await;
    (server, arrivals)
}

#[tokio::test]
async fn retry_after_is_respected() {
    let (server, arrivals) = throttled_once().await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    transport.execute(&GetThing::default()).await.unwrap();
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    let gap = arrivals[1] - arrivals[0];
    println!("Retry-After: 1 -> retried after {gap:?}");
    assert!(gap >= Duration::from_secs(1), "retried too early: {gap:?}");
    assert!(
        gap < Duration::from_millis(1100),
        "retried too late: {gap:?}"
    );
}

#[tokio::test]
async fn a_429_pauses_the_group_for_other_requests() {
    let (server, arrivals) = throttled_once().await;
    let transport = builder(&server.uri(), tokens("t"))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status, 429);
    assert_eq!(api.format, ErrorFormat::Status);
    assert_eq!(api.retry_after, Some(Duration::from_secs(1)));
    // A second request of the same endpoint waits out the pause.
    transport.execute(&GetThing::default()).await.unwrap();
    let arrivals = arrivals.lock().unwrap().clone();
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(1));
}

#[tokio::test]
async fn total_timeout() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/things",
        ResponseTemplate::new(200)
            .set_body_json(json!({}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let transport = builder(&server.uri(), tokens("t"))
        .timeout(Duration::from_millis(200))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Timeout {
            phase: TimeoutPhase::Total,
            ..
        }
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let transport = builder(&format!("http://127.0.0.1:{port}"), tokens("t"))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.source().is_some());
}

async fn serve(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, "/v2/things", template).await;
    server
}

async fn get_thing(server: &MockServer) -> Result<serde_json::Value, Error> {
    builder(&server.uri(), tokens("t"))
        .retry(RetryConfig::disabled())
        .max_response_size(1024)
        .build()
        .unwrap()
        .execute(&GetThing::default())
        .await
        .map(|r| r.into_value())
}

#[tokio::test]
async fn bad_success_bodies_give_typed_errors() {
    let malformed =
        serve(ResponseTemplate::new(200).set_body_raw("{\"a\": [1, 2", "application/json")).await;
    let err = get_thing(&malformed).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MalformedBody {
                operation: "things.get",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.source().is_some());

    let empty =
        serve(ResponseTemplate::new(200).insert_header("content-type", "application/json")).await;
    let err = get_thing(&empty).await.unwrap_err();
    assert!(matches!(err, Error::EmptyBody { .. }), "{err:?}");

    let html = serve(ResponseTemplate::new(200).set_body_raw("<html></html>", "text/html")).await;
    let err = get_thing(&html).await.unwrap_err();
    let Error::UnexpectedContentType {
        expected, found, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*expected, "application/json");
    assert_eq!(found.as_deref(), Some("text/html"));

    let big =
        serve(ResponseTemplate::new(200).set_body_raw(vec![b' '; 2048], "application/json")).await;
    let err = get_thing(&big).await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1024 }),
        "{err:?}"
    );

    let ok = serve(
        ResponseTemplate::new(200).set_body_raw("{\"x\":1}", "application/json; charset=utf-8"),
    )
    .await;
    assert_eq!(get_thing(&ok).await.unwrap()["x"], 1);
}

/// A one-shot raw HTTP server answering every connection with `response`, then closing.
async fn raw_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let _ = socket.write_all(response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn truncated_and_oversized_streams() {
    let truncated = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\":",
    )
    .await;
    let transport = builder(&truncated, tokens("t"))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    assert!(matches!(err, Error::TruncatedBody { .. }), "{err:?}");

    // Chunked, no length announced: the cap is enforced while reading.
    let body = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n400\r\n{}\r\n400\r\n{}\r\n0\r\n\r\n",
        " ".repeat(1024),
        " ".repeat(1024)
    );
    let chunked = raw_server(Box::leak(body.into_bytes().into_boxed_slice())).await;
    let transport = builder(&chunked, tokens("t"))
        .retry(RetryConfig::disabled())
        .max_response_size(1500)
        .build()
        .unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1500 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn both_error_formats_parse_into_api() {
    let legacy = serve(ResponseTemplate::new(400).set_body_json(json!({
        "exception": {
            "exceptionDetailList": [{"exceptionCode": 21405, "exceptionDescription": "Błąd walidacji danych wejściowych.", "details": ["formCode"]}],
            "referenceNumber": "20250626-EE-1234567890-ABCDEF1234-12",
            "serviceCode": "00-c02cc3747020c605be02159bf3324f0e-eee7647dc67aa74a-00",
            "serviceCtx": "srvABCDA", "serviceName": "Undefined", "timestamp": "2025-10-11T12:23:56.0154302"
        }
    })))
    .await;
    let err = get_thing(&legacy).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status, 400);
    assert_eq!(api.format, ErrorFormat::Exception);
    assert!(api.has_code(21405));
    assert_eq!(api.codes[0].details, ["formCode"]);
    assert_eq!(
        api.reference_number.as_deref(),
        Some("20250626-EE-1234567890-ABCDEF1234-12")
    );
    assert_eq!(
        api.trace_id.as_deref(),
        Some("c02cc3747020c605be02159bf3324f0e")
    );

    let problem = serve(ResponseTemplate::new(400).set_body_raw(
        r#"{"title":"Bad Request","status":400,"instance":"/v2/things","detail":"Żądanie jest nieprawidłowe.","errors":[{"code":21405,"description":"Błąd walidacji","details":["a"]},{"code":21157,"description":"Nieprawidłowy rozmiar części pakietu."}],"timestamp":"2025-07-11T12:23:56.0154302+00:00","traceId":"673843e023c432286660bc0501a3af44"}"#,
        "application/problem+json",
    ))
    .await;
    let err = get_thing(&problem).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.format, ErrorFormat::ProblemDetails);
    assert!(api.has_code(21405) && api.has_code(21157));
    assert_eq!(
        api.trace_id.as_deref(),
        Some("673843e023c432286660bc0501a3af44")
    );

    let forbidden = serve(ResponseTemplate::new(403).set_body_raw(
        r#"{"title":"Forbidden","status":403,"detail":"Brak uprawnień.","reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":["InvoiceRead"],"presentPermissions":["InvoiceWrite"]},"traceId":"x","timestamp":"2025-07-11T12:23:56Z"}"#,
        "application/problem+json",
    ))
    .await;
    let err = get_thing(&forbidden).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status, 403);
    assert_eq!(api.reason_code.as_deref(), Some("missing-permissions"));
    assert!(
        api.security
            .as_deref()
            .unwrap()
            .contains("requiredAnyOfPermissions")
    );

    let gone = serve(ResponseTemplate::new(410).set_body_raw(
        r#"{"title":"Gone","status":410,"instance":"/v2/auth/x","detail":"Status retention elapsed.","timestamp":"2025-07-11T12:23:56Z","traceId":"g"}"#,
        "application/problem+json",
    ))
    .await;
    let err = get_thing(&gone).await.unwrap_err();
    assert_eq!(err.status(), Some(410));
    assert_eq!(
        err.api().unwrap().detail.as_deref(),
        Some("Status retention elapsed.")
    );

    let throttled = serve(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .set_body_raw(
                r#"{"title":"Too Many Requests","status":429,"instance":"/v2/things","detail":"Spróbuj ponownie po 7 sekundach.","timestamp":"2025-07-11T12:23:56Z","traceId":"r"}"#,
                "application/problem+json",
            ),
    )
    .await;
    let err = get_thing(&throttled).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.format, ErrorFormat::ProblemDetails);
    assert_eq!(api.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn problem_details_header_is_sent_and_warnings_surface() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/things"))
        .and(header("x-error-format", "problem-details"))
        .and(header(
            "user-agent",
            concat!("ksef-rs/", env!("CARGO_PKG_VERSION")),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "x-system-warning",
                    "[W-1]: Field X is deprecated. | [W-2]: Second.",
                )
                .set_body_json(json!({})),
        )
        .mount(&server)
        .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    let response = transport.execute(&GetThing::default()).await.unwrap();
    assert_eq!(response.status(), 200);
    let codes: Vec<_> = response
        .warnings()
        .iter()
        .map(|w| w.code.as_str())
        .collect();
    assert_eq!(codes, ["W-1", "W-2"]);
    assert_eq!(response.warnings()[0].message, "Field X is deprecated.");
}

#[tokio::test]
async fn xml_documents() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/doc",
        ResponseTemplate::new(200)
            .insert_header("x-ms-meta-hash", "abc=")
            .set_body_raw("<Faktura/>", "application/xml"),
    )
    .await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    let response = transport.execute(&GetDoc::default()).await.unwrap();
    assert_eq!(response.value(), b"<Faktura/>");
    assert_eq!(response.header("x-ms-meta-hash"), Some("abc="));
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let err = builder("http://ksef.example", tokens("t"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InsecureUrl { .. }), "{err:?}");
    assert!(
        builder("http://ksef.example", tokens("t"))
            .danger_allow_insecure_http(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn presigned_requests_carry_no_token() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/storage/batch-parts/1"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/upo/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-meta-hash", "h=")
                .set_body_raw("<UPO/>", "application/xml"),
        )
        .mount(&server)
        .await;
    let transport = builder(&server.uri(), tokens("secret-access"))
        .build()
        .unwrap();
    let upload = PresignedRequest::new(
        Method::Put,
        format!("{}/storage/batch-parts/1?sv=1&sig=SECRET", server.uri()),
    )
    .header("x-ms-blob-type", "BlockBlob")
    .body(vec![1u8; 4096]);
    assert!(!format!("{upload:?}").contains("SECRET"));
    let response = transport.execute_presigned(upload).await.unwrap();
    assert_eq!(response.status(), 201);
    let download = transport
        .execute_presigned(PresignedRequest::get(format!(
            "{}/storage/upo/1?sig=S",
            server.uri()
        )))
        .await
        .unwrap();
    assert_eq!(download.body(), b"<UPO/>");
    assert_eq!(download.header("x-ms-meta-hash"), Some("h="));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(request.headers.get("authorization").is_none());
        assert!(request.headers.get("x-error-format").is_none());
    }
    assert_eq!(
        requests[0].headers.get("x-ms-blob-type").unwrap(),
        "BlockBlob"
    );
    assert_eq!(requests[0].body.len(), 4096);
    assert_eq!(
        requests[0].headers.get("content-type").unwrap(),
        "application/octet-stream"
    );

    // An explicit Authorization header is refused, and so is plain http to a remote host.
    let err = transport
        .execute_presigned(
            PresignedRequest::get(format!("{}/x", server.uri()))
                .header("Authorization", "Bearer x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }));
    let err = transport
        .execute_presigned(PresignedRequest::get(
            "http://blob.example/part?sig=TOPSECRET",
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsecureUrl { .. }));
    assert!(!err.to_string().contains("TOPSECRET"));
}

#[tokio::test]
async fn operations_without_auth_send_no_authorization() {
    let server = MockServer::start().await;
    let seen = Arc::new(AtomicUsize::new(0));
    struct NoAuth(Arc<AtomicUsize>);
    impl Respond for NoAuth {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            assert!(request.headers.get("authorization").is_none());
            self.0.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(json!({}))
        }
    }
    answer(&server, "/v2/limited", NoAuth(seen.clone())).await;
    let transport = builder(&server.uri(), tokens("t")).build().unwrap();
    transport.execute(&Limited::default()).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tls_failure_is_typed() {
    // A plain-HTTP server behind an https:// URL: the handshake fails.
    let server = MockServer::start().await;
    let address = server.address();
    let transport = builder(&format!("https://{address}"), tokens("t"))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = transport.execute(&GetThing::default()).await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
}

/// A minimal HTTP proxy: answers `CONNECT` and pipes the tunnel to `target`, whatever host was
/// asked for. Counts the tunnels it opened.
async fn connect_proxy(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = tunnels.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match client.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                assert!(buf.starts_with(b"CONNECT ksef.invalid:"));
                counter.fetch_add(1, Ordering::SeqCst);
                let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (format!("http://{addr}"), tunnels)
}

#[tokio::test]
async fn requests_go_through_a_configured_proxy() {
    let server = MockServer::start().await;
    answer(
        &server,
        "/v2/things",
        ResponseTemplate::new(200).set_body_json(json!({"via": "proxy"})),
    )
    .await;
    let (proxy, tunnels) = connect_proxy(*server.address()).await;
    let port = server.address().port();
    let transport = builder(&format!("http://ksef.invalid:{port}"), tokens("t"))
        .danger_allow_insecure_http(true)
        .proxy(proxy, "")
        .build()
        .unwrap();
    let response = transport.execute(&GetThing::default()).await.unwrap();
    assert_eq!(response.value()["via"], "proxy");
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
}
