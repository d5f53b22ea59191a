//! End-to-end tests of the simulator over loopback HTTP, with the client side built from
//! ksef-crypto and the generated ksef-model types (never ksef-client or ksef-transport).

#[path = "../common/mod.rs"]
mod common;
mod hardening;
mod operations;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use ksef_model::types::{
    AuthenticationChallengeResponse, AuthenticationInitResponse, AuthenticationListResponse,
    AuthenticationTokenRefreshResponse, BadRequestProblemDetails, ExceptionResponse,
    GenerateTokenRequest, GenerateTokenResponse, InvoiceQueryDateRange, InvoiceQueryDateType,
    InvoiceQueryFilters, InvoiceQuerySubjectType, QueryInvoicesMetadataResponse,
    QueryTokensResponse, SessionInvoicesResponse, SessionStatusResponse, SessionsQueryResponse,
    TokenPermissionType, TokenStatusResponse, UnauthorizedProblemDetails,
};
use ksef_model::xml::from_xml;
use ksef_model::xml::upo_v4_3::Potwierdzenie;
use ksef_sim::{Simulator, Stats};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_login_challenge_status_redeem_refresh() {
    let (sim, http) = start_with(Simulator::builder().auth_delay(Duration::from_millis(300))).await;
    assert!(sim.base_url().ends_with("/v2"));

    let (listing, _) = certificates(&http).await;
    assert_eq!(listing.len(), 2);
    for cert in &listing {
        assert_eq!(cert.public_key_id.len(), 44);
        assert!(cert.valid_from < chrono::Utc::now().fixed_offset());
    }

    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    assert_eq!(challenge.challenge.as_str().len(), 36);
    assert_eq!(&challenge.challenge.as_str()[8..12], "-CR-");
    assert_eq!(challenge.client_ip, "127.0.0.1");
    assert_eq!(
        challenge.timestamp.timestamp_millis(),
        challenge.timestamp_ms
    );

    let resp = start_auth(&http, sim.seeded_nip(), sim.seeded_token()).await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let init: AuthenticationInitResponse = resp.json();
    let reference = init.reference_number.to_string();
    let auth_token = init.authentication_token.token;

    // Asynchronous: 100 first, then 200.
    let first = http
        .get(&format!("/auth/{reference}"), Some(&auth_token))
        .await;
    let first: ksef_model::types::AuthenticationOperationStatusResponse = first.json();
    assert_eq!(first.status.code, 100);
    // Redeeming before completion is refused.
    let early = http
        .post_empty("/auth/token/redeem", Some(&auth_token))
        .await;
    assert_eq!(early.status, 400);
    assert_eq!(early.exception_code(), 21301);
    let done = wait_auth(&http, &reference, &auth_token).await;
    assert_eq!(done.status.code, 200);

    let resp = http
        .post_empty("/auth/token/redeem", Some(&auth_token))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let tokens: ksef_model::types::AuthenticationTokensResponse = resp.json();
    assert_eq!(tokens.access_token.token.split('.').count(), 3);

    // One-shot.
    let again = http
        .post_empty("/auth/token/redeem", Some(&auth_token))
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.exception_code(), 21301);

    let resp = http
        .post_empty("/auth/token/refresh", Some(&tokens.refresh_token.token))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let refreshed: AuthenticationTokenRefreshResponse = resp.json();
    let access = refreshed.access_token.token;

    let status = wait_auth(&http, &reference, &auth_token).await;
    assert_eq!(status.is_token_redeemed, Some(true));
    assert!(status.last_token_refresh_date.is_some());

    let sessions: AuthenticationListResponse =
        http.get("/auth/sessions", Some(&access)).await.json();
    assert_eq!(sessions.items.len(), 1);
    assert_eq!(sessions.items[0].is_current, Some(true));

    // Tokens of the wrong kind are refused.
    let wrong = http.post_empty("/auth/token/refresh", Some(&access)).await;
    assert_eq!(wrong.status, 401);

    // Revoking the current session kills the refresh token.
    assert_eq!(
        http.delete("/auth/sessions/current", Some(&access))
            .await
            .status,
        204
    );
    let dead = http
        .post_empty("/auth/token/refresh", Some(&tokens.refresh_token.token))
        .await;
    assert_eq!(dead.status, 401);
    let _: UnauthorizedProblemDetails = dead.json();

    // A used challenge cannot be replayed; a wrong token fails with 450.
    assert_eq!(auth_code(&http, sim.seeded_nip(), "not-a-token").await, 450);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_session_lifecycle_with_upo_metadata_and_download() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let session = open_session(&http, access).await;

    let mut invoices = Vec::new();
    for i in 0..3 {
        let xml = fa3_invoice(&nip, &format!("LIFE-{i}-{}", std::process::id()));
        let reference = send_ok(&http, access, &session, &xml).await;
        invoices.push((reference, xml));
    }
    let mut ksef_numbers = Vec::new();
    for (reference, _) in &invoices {
        let status = wait_invoice(&http, access, &session.reference, reference).await;
        assert_eq!(status.status.code, 200, "{:?}", status.status);
        let ksef = status.ksef_number.expect("KSeF number");
        assert!(ksef.as_str().starts_with(&nip));
        assert!(status.upo_download_url.is_some());
        ksef_numbers.push(ksef.to_string());
    }

    let list: SessionInvoicesResponse = http
        .get(
            &format!("/sessions/{}/invoices", session.reference),
            Some(access),
        )
        .await
        .json();
    assert_eq!(list.invoices.len(), 3);
    let failed: SessionInvoicesResponse = http
        .get(
            &format!("/sessions/{}/invoices/failed", session.reference),
            Some(access),
        )
        .await
        .json();
    assert!(failed.invoices.is_empty());

    let open: SessionStatusResponse = http
        .get(&format!("/sessions/{}", session.reference), Some(access))
        .await
        .json();
    assert_eq!(open.status.code, 100);
    let close = http
        .post_empty(
            &format!("/sessions/online/{}/close", session.reference),
            Some(access),
        )
        .await;
    assert_eq!(close.status, 204, "{}", close.text());
    let closing: SessionStatusResponse = http
        .get(&format!("/sessions/{}", session.reference), Some(access))
        .await
        .json();
    assert_eq!(closing.status.code, 170);
    let mut done = closing;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        done = http
            .get(&format!("/sessions/{}", session.reference), Some(access))
            .await
            .json();
        if done.status.code != 170 {
            break;
        }
    }
    assert_eq!(done.status.code, 200);
    assert_eq!(done.successful_invoice_count, Some(3));
    let page = &done.upo.expect("UPO pages").pages[0];

    // Session UPO: by the API and by the download link (no token).
    let upo = http
        .get(
            &format!(
                "/sessions/{}/upo/{}",
                session.reference, page.reference_number
            ),
            Some(access),
        )
        .await;
    assert_eq!(upo.status, 200, "{}", upo.text());
    let by_link = http.get(&page.download_url, None).await;
    assert_eq!(by_link.body, upo.body);
    xmllint_upo(&upo.body, "session");
    let parsed: Potwierdzenie = from_xml(&upo.body).unwrap();
    assert_eq!(parsed.dokument.len(), 3);
    assert_eq!(parsed.numer_referencyjny_sesji, session.reference);

    // Invoice UPOs, by invoice reference and by KSeF number.
    for ((reference, _), ksef) in invoices.iter().zip(&ksef_numbers) {
        let upo = http
            .get(
                &format!("/sessions/{}/invoices/{reference}/upo", session.reference),
                Some(access),
            )
            .await;
        assert_eq!(upo.status, 200, "{}", upo.text());
        xmllint_upo(&upo.body, "invoice");
        let by_ksef = http
            .get(
                &format!("/sessions/{}/invoices/ksef/{ksef}/upo", session.reference),
                Some(access),
            )
            .await;
        assert_eq!(by_ksef.status, 200);
        let parsed: Potwierdzenie = from_xml(&by_ksef.body).unwrap();
        assert_eq!(&parsed.dokument[0].numer_k_se_f_dokumentu, ksef);
    }

    // Metadata query finds them.
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).fixed_offset();
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, from),
    );
    let resp = http
        .post(
            "/invoices/query/metadata?pageSize=10&sortOrder=Asc",
            Some(access),
            &filters,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let found: QueryInvoicesMetadataResponse = resp.json();
    assert_eq!(found.invoices.len(), 3);
    assert!(!found.has_more);
    assert!(found.permanent_storage_hwm_date.is_some());
    let mut by_number = filters.clone();
    by_number.ksef_number = Some(ksef_numbers[1].parse().unwrap());
    let one: QueryInvoicesMetadataResponse = http
        .post("/invoices/query/metadata", Some(access), &by_number)
        .await
        .json();
    assert_eq!(one.invoices.len(), 1);
    assert_eq!(one.invoices[0].gross_amount, 53.63);
    let bad_page = http
        .post(
            "/invoices/query/metadata?pageSize=5",
            Some(access),
            &filters,
        )
        .await;
    assert_eq!(bad_page.status, 400);
    let buyer = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject2,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::Issue, from),
    );
    let none: QueryInvoicesMetadataResponse = http
        .post("/invoices/query/metadata", Some(access), &buyer)
        .await
        .json();
    assert!(none.invoices.is_empty());

    // Download returns the bytes sent.
    for ((_, xml), ksef) in invoices.iter().zip(&ksef_numbers) {
        let resp = http
            .get(&format!("/invoices/ksef/{ksef}"), Some(access))
            .await;
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body[..], &xml[..]);
        let hash = resp
            .headers
            .get("x-ms-meta-hash")
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(hash, ksef_crypto::file_metadata(xml).sha256_base64());
    }

    let sessions: SessionsQueryResponse = http
        .get("/sessions?sessionType=Online", Some(access))
        .await
        .json();
    assert_eq!(sessions.sessions.len(), 1);
    assert_eq!(sessions.sessions[0].successful_invoice_count, 3);
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none: SessionsQueryResponse = http
        .get(
            &format!("/sessions?sessionType=Online&dateCreatedFrom={later}"),
            Some(access),
        )
        .await
        .json();
    assert!(none.sessions.is_empty());
    let succeeded: SessionsQueryResponse = http
        .get(
            "/sessions?sessionType=Online&statuses=Succeeded",
            Some(access),
        )
        .await
        .json();
    assert_eq!(succeeded.sessions.len(), 1);
    let batch: SessionsQueryResponse = http
        .get("/sessions?sessionType=Batch", Some(access))
        .await
        .json();
    assert!(batch.sessions.is_empty());

    let stats = sim.stats();
    assert_eq!(stats.invoices_accepted, 3);
    assert_eq!(stats.accepted_invoice_hashes.len(), 3);
    assert_eq!(stats.internal_errors, 0);
    let served: Stats = http
        .get(&format!("http://{}/_sim/stats", sim.local_addr()), None)
        .await
        .json();
    assert_eq!(served.invoices_accepted, 3);
    assert!(served.requests["sessions.online.send_invoice"] >= 3);
    let addr = sim.local_addr();
    sim.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_bad_hashes_and_bad_content() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let login = login(&http, &nip, sim.seeded_token()).await;
    let access = login.access.as_str();
    let session = open_session(&http, access).await;

    let xml = fa3_invoice(&nip, "DUP-1");
    let first = send_ok(&http, access, &session, &xml).await;
    let first = wait_invoice(&http, access, &session.reference, &first).await;
    assert_eq!(first.status.code, 200);
    let second = send_ok(&http, access, &session, &xml).await;
    let second = wait_invoice(&http, access, &session.reference, &second).await;
    assert_eq!(second.status.code, 440);
    let extensions = second.status.extensions.expect("extensions");
    assert_eq!(
        extensions["originalKsefNumber"].as_deref(),
        Some(first.ksef_number.as_ref().unwrap().as_str())
    );
    assert_eq!(
        extensions["originalSessionReferenceNumber"].as_deref(),
        Some(session.reference.as_str())
    );
    assert_eq!(sim.stats().duplicates_refused, 1);

    // Wrong declared hash: 400 21403, nothing stored.
    let before = sim.stats();
    let mut wrong = encrypt(&session.key, &fa3_invoice(&nip, "HASH-1"));
    wrong.invoice_hash = ksef_crypto::file_metadata(b"something else")
        .sha256_base64()
        .into();
    let resp = send(&http, access, &session.reference, &wrong).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.exception_code(), 21403);
    let mut wrong_size = encrypt(&session.key, &fa3_invoice(&nip, "HASH-2"));
    wrong_size.encrypted_invoice_size += 1;
    let resp = send(&http, access, &session.reference, &wrong_size).await;
    assert_eq!(resp.exception_code(), 21402);
    let after = sim.stats();
    assert_eq!(before.invoices_accepted, after.invoices_accepted);
    assert_eq!(
        before.accepted_invoice_hashes,
        after.accepted_invoice_hashes
    );
    let list: SessionInvoicesResponse = http
        .get(
            &format!("/sessions/{}/invoices", session.reference),
            Some(access),
        )
        .await
        .json();
    assert_eq!(list.invoices.len(), 2);

    // Undecryptable content: invoice status 435.
    let garbage = vec![7u8; 48];
    let meta = ksef_crypto::file_metadata(&garbage);
    let request = ksef_model::types::SendInvoiceRequest::new(
        meta.sha256_base64(),
        48,
        meta.sha256_base64(),
        48,
        STANDARD.encode(&garbage),
    );
    let resp = send(&http, access, &session.reference, &request).await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let reference: ksef_model::types::SendInvoiceResponse = resp.json();
    let status = wait_invoice(
        &http,
        access,
        &session.reference,
        reference.reference_number.as_str(),
    )
    .await;
    assert_eq!(status.status.code, 435);

    // Not an FA(3) document: 430.
    let bad = send_ok(
        &http,
        access,
        &session,
        b"<Faktura xmlns=\"urn:other\"><P_2>1</P_2></Faktura>",
    )
    .await;
    let status = wait_invoice(&http, access, &session.reference, &bad).await;
    assert_eq!(status.status.code, 430, "{:?}", status.status);
    let broken = send_ok(&http, access, &session, b"<Faktura><unclosed></Faktura>").await;
    assert_eq!(
        wait_invoice(&http, access, &session.reference, &broken)
            .await
            .status
            .code,
        430
    );

    // Well-formed FA(3), but the buyer's NIP breaks its pattern: the schema's facets are checked
    // (the same generated validation as `ksef invoice validate`), 430 naming the element.
    let facet = String::from_utf8(fa3_invoice(&nip, "FACET-1"))
        .unwrap()
        .replace("<NIP>1111111111</NIP>", "<NIP>12AB</NIP>");
    let facet = send_ok(&http, access, &session, facet.as_bytes()).await;
    let status = wait_invoice(&http, access, &session.reference, &facet).await;
    assert_eq!(status.status.code, 430, "{:?}", status.status);
    let details = status.status.details.unwrap_or_default().join(" ");
    assert!(
        details.contains("Podmiot2/DaneIdentyfikacyjne/NIP"),
        "{details}"
    );

    let failed: SessionInvoicesResponse = http
        .get(
            &format!("/sessions/{}/invoices/failed", session.reference),
            Some(access),
        )
        .await
        .json();
    assert_eq!(failed.invoices.len(), 5);

    // A session whose key cannot be decrypted: status 415, sending refused.
    let (_, certs) = certificates(&http).await;
    let cert = certs
        .select(
            ksef_model::types::PublicKeyCertificateUsage::SymmetricKeyEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let mut encryption = ksef_model::types::EncryptionInfo::new(
        STANDARD.encode([1u8; 256]),
        STANDARD.encode([0u8; 16]),
    );
    encryption.public_key_id = cert.public_key_id().map(str::to_owned);
    let resp = http
        .post(
            "/sessions/online",
            Some(access),
            &ksef_model::types::OpenOnlineSessionRequest::new(fa3_form_code(), encryption),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let broken: ksef_model::types::OpenOnlineSessionResponse = resp.json();
    let status: SessionStatusResponse = http
        .get(
            &format!("/sessions/{}", broken.reference_number),
            Some(access),
        )
        .await
        .json();
    assert_eq!(status.status.code, 415);
    let resp = send(
        &http,
        access,
        broken.reference_number.as_str(),
        &encrypt(&session.key, &xml),
    )
    .await;
    assert_eq!(resp.exception_code(), 21180);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_errors_and_error_formats() {
    let (sim, http) = start_with(
        Simulator::builder()
            .access_token_lifetime(Duration::from_secs(1))
            .processing_delays(Duration::ZERO),
    )
    .await;

    let missing = http.get("/sessions?sessionType=Online", None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.headers["content-type"], "application/problem+json");
    let body: UnauthorizedProblemDetails = missing.json();
    assert_eq!(body.status, 401);
    let garbage = http
        .get("/sessions?sessionType=Online", Some("a.b.c"))
        .await;
    assert_eq!(garbage.status, 401);

    let login = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    // The authentication token is not an access token.
    let wrong = http
        .get(
            "/sessions?sessionType=Online",
            Some(&login.authentication_token),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        http.get("/sessions?sessionType=Online", Some(&login.access))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = http
        .get("/sessions?sessionType=Online", Some(&login.access))
        .await;
    assert_eq!(expired.status, 401);
    // The refresh token still works and gives a fresh access token.
    let refreshed: AuthenticationTokenRefreshResponse = http
        .post_empty("/auth/token/refresh", Some(&login.refresh))
        .await
        .json();
    assert_eq!(
        http.get(
            "/sessions?sessionType=Online",
            Some(&refreshed.access_token.token)
        )
        .await
        .status,
        200
    );

    // 400 in both formats.
    let request = serde_json::json!({
        "challenge": "20250101-CR-0000000000-0000000000-00",
        "contextIdentifier": {"type": "Nip", "value": sim.seeded_nip()},
        "encryptedToken": "AAAA"
    });
    let legacy = http.post("/auth/ksef-token", None, &request).await;
    assert_eq!(legacy.status, 400);
    let body: ExceptionResponse = legacy.json();
    let detail = &body.exception.unwrap().exception_detail_list.unwrap()[0];
    assert_eq!(detail.exception_code, Some(21111));
    let problem = http
        .send(
            "POST",
            "/auth/ksef-token",
            None,
            Some(serde_json::to_vec(&request).unwrap()),
            &[("x-error-format", "problem-details")],
        )
        .await;
    assert_eq!(problem.status, 400);
    assert_eq!(problem.headers["content-type"], "application/problem+json");
    let body: BadRequestProblemDetails = problem.json();
    assert_eq!(body.errors[0].code, 21111);

    // Bad input is a 400, never a 500.
    let junk = http
        .send(
            "POST",
            "/auth/ksef-token",
            None,
            Some(b"{not json".to_vec()),
            &[],
        )
        .await;
    assert_eq!(junk.status, 400);
    assert_eq!(junk.exception_code(), 21405);

    let unknown = http.get("/no/such/path", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_token_logs_in_and_can_be_revoked() {
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let admin = login(&http, &nip, sim.seeded_token()).await;
    let request = GenerateTokenRequest::new(
        vec![
            TokenPermissionType::InvoiceRead,
            TokenPermissionType::InvoiceWrite,
        ],
        "Token for the test",
    );
    let resp = http.post("/tokens", Some(&admin.access), &request).await;
    assert_eq!(resp.status, 202, "{}", resp.text());
    let generated: GenerateTokenResponse = resp.json();
    let path = format!("/tokens/{}", generated.reference_number);
    let status: TokenStatusResponse = http.get(&path, Some(&admin.access)).await.json();
    assert_eq!(status.status.as_str(), "Pending");
    tokio::time::sleep(Duration::from_millis(80)).await;
    let status: TokenStatusResponse = http.get(&path, Some(&admin.access)).await.json();
    assert_eq!(status.status.as_str(), "Active");
    let list: QueryTokensResponse = http
        .get("/tokens?status=Active", Some(&admin.access))
        .await
        .json();
    assert_eq!(list.tokens.len(), 2);

    let user = login(&http, &nip, &generated.token).await;
    let session = open_session(&http, &user.access).await;
    assert!(!session.reference.is_empty());
    // This token lacks CredentialsManage... but /tokens needs no permission in the spec; it
    // cannot grant what it does not hold.
    let escalate = GenerateTokenRequest::new(
        vec![TokenPermissionType::CredentialsManage],
        "Escalation attempt",
    );
    let resp = http.post("/tokens", Some(&user.access), &escalate).await;
    assert_eq!(resp.exception_code(), 26001);

    assert_eq!(http.delete(&path, Some(&admin.access)).await.status, 204);
    assert_eq!(auth_code(&http, &nip, &generated.token).await, 450);

    // A second seeded subject has its own token, valid in its own context only.
    let sim2 = Simulator::builder()
        .subjects(["5265877635", "7352765225"])
        .seeded_token("my-own-secret")
        .processing_delays(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let http2 = Http::new(sim2.base_url());
    assert_eq!(sim2.seeded_token(), "my-own-secret");
    assert_eq!(sim2.token_for("5265877635"), Some("my-own-secret"));
    let other = sim2.token_for("7352765225").unwrap();
    login(&http2, "7352765225", other).await;
    assert_eq!(auth_code(&http2, "5265877635", other).await, 415);
    sim2.shutdown().await;

    // A context the token does not belong to: 415.
    assert_eq!(
        auth_code(&http, "1111111111", sim.seeded_token()).await,
        415
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after_when_enabled() {
    // Public endpoints allow 60 requests per second; a twentieth of that is 3.
    let (sim, http) = start_with(Simulator::builder().rate_limit_scale(0.05)).await;
    for _ in 0..3 {
        assert_eq!(http.post_empty("/auth/challenge", None).await.status, 200);
    }
    let limited = http.post_empty("/auth/challenge", None).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "1");
    let body: ksef_model::types::TooManyRequestsResponse = limited.json();
    assert_eq!(body.status.code, 429);
    let problem = http
        .send(
            "POST",
            "/auth/challenge",
            None,
            None,
            &[("x-error-format", "problem-details")],
        )
        .await;
    assert_eq!(problem.status, 429);
    let _: ksef_model::types::TooManyRequestsProblemDetails = problem.json();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(http.post_empty("/auth/challenge", None).await.status, 200);
    sim.shutdown().await;
}

#[test]
fn normalizing_a_upo_fixes_exactly_the_variable_fields() {
    let upo = b"<upo:Potwierdzenie xmlns:upo=\"u\"><upo:NumerReferencyjnySesji>20261207-SE-1</upo:NumerReferencyjnySesji>\
<Nip>1</Nip><NipSprzedawcy>2</NipSprzedawcy><KodFormularza>FA (3)</KodFormularza></upo:Potwierdzenie>";
    assert_eq!(
        String::from_utf8(common::normalize_upo(upo)).unwrap(),
        "<upo:Potwierdzenie xmlns:upo=\"u\"><upo:NumerReferencyjnySesji>36950822-93-9D5A28BFDA-47C899773E-5C</upo:NumerReferencyjnySesji>\
<Nip>5265877635</Nip><NipSprzedawcy>5265877635</NipSprzedawcy><KodFormularza>FA (3)</KodFormularza></upo:Potwierdzenie>"
    );
}

/// API 2.9.0: a metadata query's date range spans at most 100 days, counted in UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_query_window_is_100_days_in_utc() {
    let (sim, http) = start().await;
    let login = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let access = login.access.as_str();
    let query = |from: &str, to: &str| {
        serde_json::json!({
            "subjectType": "Subject1",
            "dateRange": {"dateType": "Invoicing", "from": from, "to": to}
        })
    };
    let status = |resp: &Resp| (resp.status, resp.text());
    let http = &http;
    let post = |from: &'static str, to: &'static str| {
        let body = query(from, to);
        async move {
            http.post("/invoices/query/metadata", Some(access), &body)
                .await
        }
    };
    // Exactly 100 days in UTC (from is 2025-12-31T22:00Z).
    let exact = post("2026-01-01T00:00:00+02:00", "2026-04-10T22:00:00Z").await;
    assert_eq!(exact.status, 200, "{:?}", status(&exact));
    // One second more: refused.
    let over = post("2026-01-01T00:00:00+02:00", "2026-04-10T22:00:01Z").await;
    assert_eq!(over.status, 400, "{:?}", status(&over));
    assert_eq!(over.exception_code(), 21405);
    assert!(over.text().contains("100 days"), "{}", over.text());
    // Wall clocks 100 days and an hour apart, but 99 days 23 hours in UTC: accepted.
    let offsets = post("2026-01-01T00:00:00Z", "2026-04-11T01:00:00+02:00").await;
    assert_eq!(offsets.status, 200, "{:?}", status(&offsets));
    // 2.6.0's three months (e.g. Jan 1 to Apr 1 is 90 days, fine) no longer stretch to 101 days.
    let months = post("2026-01-01T00:00:00Z", "2026-04-12T00:00:00Z").await;
    assert_eq!(months.status, 400, "{:?}", status(&months));
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
