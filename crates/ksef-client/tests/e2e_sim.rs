//! End-to-end flows of the client against the in-process KSeF simulator.

mod common;

use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use futures_util::TryStreamExt as _;
use ksef_client::{
    Client, Delivery, Error, InvoiceOutcome, MetadataQuery, Token, TokenKind, form_code,
};
use ksef_model::types::{
    InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters, InvoiceQuerySubjectType,
};
use ksef_sim::Simulator;

use common::{
    client_builder, expire_access_token, fa3_invoice, quick_reconcile, requests, seeded_nip,
    simulator_with_delays, token_login, unique,
};

async fn simulator() -> Simulator {
    simulator_with_delays(Duration::from_millis(50)).await
}

/// A client with quick reconciliation and three sends in flight.
fn client_for(sim: &Simulator) -> Client {
    client_builder(sim, Duration::from_millis(200))
        .reconcile(quick_reconcile())
        .max_sends_in_flight(3)
        .build()
        .expect("a client")
}

async fn logged_in(sim: &Simulator) -> Client {
    let client = client_for(sim);
    token_login(&client, sim).await;
    client
}

fn sends(sim: &Simulator) -> u64 {
    requests(sim, "sessions.online.send_invoice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_online_lifecycle() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let start = Utc::now() - ChronoDuration::minutes(5);

    // Refresh: an access token that is about to expire is replaced before the next call.
    expire_access_token(&client);
    let session = client
        .open_online_session(form_code::fa3())
        .await
        .expect("open session (after an automatic refresh)");
    assert!(requests(&sim, "auth.token.refresh") >= 1);
    client
        .refresh_access_token()
        .await
        .expect("explicit refresh");

    // Five invoices, sent concurrently.
    let nip = sim.seeded_nip().to_owned();
    let run = unique("E2E");
    let invoices: Vec<Vec<u8>> = (1..=5)
        .map(|i| fa3_invoice(&nip, &format!("{run}-{i}")))
        .collect();
    let mut tasks = Vec::new();
    for invoice in invoices.clone() {
        let session = session.clone();
        tasks.push(tokio::spawn(async move { session.send(&invoice).await }));
    }
    let mut sent = Vec::new();
    for task in tasks {
        let invoice = task.await.unwrap().expect("send");
        assert_eq!(invoice.delivery, Delivery::Sent);
        sent.push(invoice);
    }
    assert_eq!(sends(&sim), 5);

    // The same bytes again: the session knows them, nothing is sent.
    let again = session.send(&invoices[0]).await.unwrap();
    assert_eq!(again.delivery, Delivery::AlreadySent);
    assert_eq!(again.reference_number, sent[0].reference_number);
    assert_eq!(sends(&sim), 5);

    session.close().await.expect("close");
    let status = session.wait_until_processed().await.expect("processed");
    assert_eq!(status.status.code, 200);

    let mut ksef_numbers = Vec::new();
    for invoice in &sent {
        let (outcome, status) = session
            .wait_for_invoice(&invoice.reference_number)
            .await
            .unwrap();
        assert_eq!(status.status.code, 200, "{:?}", status.status);
        let InvoiceOutcome::Accepted { ksef_number } = outcome else {
            panic!("not accepted: {outcome:?}");
        };
        let upo = session
            .invoice_upo(&invoice.reference_number)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&upo).contains(ksef_number.as_str()));
        let upo_by_number = session
            .invoice_upo_by_ksef_number(&ksef_number)
            .await
            .unwrap();
        assert!(!upo_by_number.is_empty());
        ksef_numbers.push(ksef_number);
    }
    let session_upo = session.session_upo().await.expect("session UPO");
    assert!(!session_upo.is_empty());
    let session_upo_text: String = session_upo
        .iter()
        .map(|page| String::from_utf8_lossy(page).into_owned())
        .collect();
    for number in &ksef_numbers {
        assert!(session_upo_text.contains(number.as_str()));
    }

    // The metadata stream finds all five, and downloads return the bytes sent.
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, start.fixed_offset()),
    );
    let found: Vec<_> = client
        .invoice_metadata(MetadataQuery::new(filters).with_page_size(10))
        .try_collect()
        .await
        .expect("metadata");
    for number in &ksef_numbers {
        assert!(
            found.iter().any(|m| &m.ksef_number == number),
            "{number} missing from metadata"
        );
    }
    for (number, invoice) in ksef_numbers.iter().zip(&invoices) {
        let downloaded = client.download_invoice(number).await.expect("download");
        assert_eq!(&downloaded, invoice);
    }

    let refresh = client.token_store().load(TokenKind::Refresh).unwrap();
    client.logout().await.expect("logout");
    assert!(client.token_store().load(TokenKind::Refresh).is_none());
    // The revoked session's refresh token no longer works.
    client
        .token_store()
        .save(TokenKind::Refresh, refresh)
        .unwrap();
    let error = client.refresh_access_token().await.unwrap_err();
    assert!(matches!(error.status(), Some(400 | 401)), "{error:?}");
    assert_eq!(sim.stats().internal_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_invoice_is_a_typed_outcome() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let invoice = fa3_invoice(sim.seeded_nip(), &unique("DUP"));

    let first = client.open_online_session(form_code::fa3()).await.unwrap();
    let original = first.send(&invoice).await.unwrap();
    let (outcome, _) = first
        .wait_for_invoice(&original.reference_number)
        .await
        .unwrap();
    let InvoiceOutcome::Accepted { ksef_number } = outcome else {
        panic!("not accepted: {outcome:?}");
    };

    let second = client.open_online_session(form_code::fa3()).await.unwrap();
    let copy = second.send(&invoice).await.unwrap();
    assert_eq!(copy.delivery, Delivery::Sent);
    let (outcome, status) = second
        .wait_for_invoice(&copy.reference_number)
        .await
        .unwrap();
    assert_eq!(status.status.code, 440);
    match outcome {
        InvoiceOutcome::Duplicate {
            original_ksef_number,
            original_session_reference_number,
        } => {
            assert_eq!(original_ksef_number.as_deref(), Some(ksef_number.as_str()));
            assert_eq!(
                original_session_reference_number.as_deref(),
                Some(first.reference_number().as_str())
            );
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(sim.stats().duplicates_refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcome_is_reconciled_without_sending_twice() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let invoice = fa3_invoice(sim.seeded_nip(), &unique("REC"));

    // A send whose response is lost: the request reached KSeF, the caller never saw the answer.
    let prepared = session.prepare(&invoice);
    drop(client.execute(&prepared.operation).await);
    assert_eq!(sends(&sim), 1);

    let found = session.reconcile(&prepared.invoice_hash).await.unwrap();
    assert!(found.is_some(), "the invoice is in the session's list");

    let settled = session.send_reconciled(&invoice).await.unwrap();
    assert_eq!(settled.delivery, Delivery::Reconciled);
    assert_eq!(settled.invoice_hash, prepared.invoice_hash);
    assert_eq!(sends(&sim), 1, "nothing was sent twice");

    // And once settled, a plain send of the same bytes is recognised too.
    let again = session.send(&invoice).await.unwrap();
    assert_eq!(again.delivery, Delivery::AlreadySent);
    assert_eq!(sends(&sim), 1);

    // An invoice that never arrived is sent by `send_reconciled`, once.
    let fresh = fa3_invoice(sim.seeded_nip(), &unique("REC2"));
    assert!(
        session
            .reconcile(&ksef_client::OnlineSession::invoice_hash(&fresh))
            .await
            .unwrap()
            .is_none()
    );
    let delivered = session.send_reconciled(&fresh).await.unwrap();
    assert_eq!(delivered.delivery, Delivery::Sent);
    assert_eq!(sends(&sim), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_fails_with_the_ksef_status() {
    let sim = simulator().await;
    let client = client_for(&sim);
    let error = client
        .login_with_ksef_token(seeded_nip(&sim), "not-a-real-token")
        .await
        .unwrap_err();
    match &error {
        Error::AuthenticationFailed { code, .. } => assert_eq!(*code, 450),
        other => panic!("expected AuthenticationFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_invoice_is_rejected_per_invoice_and_services_work() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    // Typed services: the grouped thin methods reach the same API.
    let certificates = client
        .security()
        .public_key_certificates(ksef_model::operations::GetPublicKeyCertificates::new())
        .await
        .unwrap();
    assert!(certificates.len() >= 2);
    let sessions = client
        .auth()
        .list_sessions(ksef_model::operations::ListAuthSessions::new())
        .await
        .unwrap();
    assert!(!sessions.items.is_empty());

    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let sent = session.send(b"<not-an-invoice/>").await.unwrap();
    let (outcome, _) = session
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    assert!(
        matches!(outcome, InvoiceOutcome::Rejected { .. }),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_access_token_is_refreshed_on_401() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let refreshes = || requests(&sim, "auth.token.refresh");
    let before = refreshes();
    // A token with no known expiry that the server does not accept: the transport sees the 401,
    // refreshes once with the refresh token and repeats the request.
    client
        .token_store()
        .save(TokenKind::Access, Token::new("not-a-jwt"))
        .unwrap();
    let page = client
        .tokens()
        .list(ksef_model::operations::ListTokens::new())
        .await
        .expect("the call succeeds after a refresh");
    let _ = page.tokens;
    assert_eq!(refreshes(), before + 1);
    assert_ne!(
        client
            .token_store()
            .load(TokenKind::Access)
            .unwrap()
            .expose_secret(),
        "not-a-jwt"
    );
}

// The spec defines `pageOffset` as a page index ("Indeks pierwszej strony wyników (0 = pierwsza
// strona)", and "hasMore = true, isTruncated = false: increase pageOffset"). This test caught the
// simulator skipping `pageOffset` records instead of pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_stream_pages_through_more_than_one_page() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let start = Utc::now() - ChronoDuration::minutes(5);
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let run = unique("PAGE");
    let mut references = Vec::new();
    for i in 1..=12 {
        let invoice = fa3_invoice(sim.seeded_nip(), &format!("{run}-{i}"));
        references.push(session.send(&invoice).await.unwrap().reference_number);
    }
    session.close().await.unwrap();
    session.wait_until_processed().await.unwrap();
    for reference in &references {
        session.wait_for_invoice(reference).await.unwrap();
    }
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, start.fixed_offset()),
    );
    let found: Vec<_> = client
        .invoice_metadata(MetadataQuery::new(filters).with_page_size(10))
        .try_collect()
        .await
        .unwrap();
    let mine: Vec<_> = found
        .iter()
        .filter(|m| m.invoice_number.contains(&run))
        .collect();
    assert_eq!(mine.len(), 12, "every invoice once, across two pages");
    assert!(requests(&sim, "invoices.query_metadata") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_a_closed_session_is_a_definite_rejection() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    session
        .send(&fa3_invoice(sim.seeded_nip(), &unique("CLOSED-1")))
        .await
        .unwrap();
    session.close().await.unwrap();
    let before = sends(&sim);
    let error = session
        .send(&fa3_invoice(sim.seeded_nip(), &unique("CLOSED-2")))
        .await
        .unwrap_err();
    match &error {
        Error::InvoiceRejected { status, error, .. } => {
            assert_eq!(*status, 400);
            assert!(error.has_code(21180), "{error:?}");
        }
        other => panic!("expected InvoiceRejected, got {other:?}"),
    }
    assert!(error.has_code(21180));
    assert_eq!(sends(&sim), before + 1, "a rejection is not retried");
}

/// API 2.9.0: a metadata query or export over more than 100 days (UTC) is refused before it is
/// sent; 100 days exactly reach the simulator, which accepts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_ranges_over_100_days_are_refused_before_sending() {
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    let to = Utc::now() - ChronoDuration::hours(1);
    let filters = |days: i64, extra: ChronoDuration| {
        InvoiceQueryFilters::new(
            InvoiceQuerySubjectType::Subject1,
            InvoiceQueryDateRange::new(
                InvoiceQueryDateType::Invoicing,
                (to - ChronoDuration::days(days) - extra).fixed_offset(),
            )
            .with_to(to.fixed_offset()),
        )
    };
    let refused = client
        .invoice_metadata(MetadataQuery::new(filters(100, ChronoDuration::seconds(1))))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::InvalidRequest {
                field: "dateRange.to",
                ..
            }
        ),
        "{refused:?}"
    );
    let export = client
        .start_export(
            filters(101, ChronoDuration::zero()),
            &ksef_client::ExportOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(export, Error::InvalidRequest { .. }), "{export:?}");
    assert_eq!(requests(&sim, "invoices.query_metadata"), 0, "nothing sent");
    assert_eq!(requests(&sim, "invoices.export"), 0, "nothing sent");
    client
        .invoice_metadata(MetadataQuery::new(filters(100, ChronoDuration::zero())))
        .try_collect::<Vec<_>>()
        .await
        .expect("100 days are accepted");
    assert_eq!(requests(&sim, "invoices.query_metadata"), 1);
}

/// `X-KSeF-Feature: subject-identifier-validation` (API 2.9.0, named only in the spec's prose)
/// travels from the client's session options through the generated descriptor to the
/// simulator, which then checks the parties' NIP check digits: the same invoice with a buyer NIP
/// whose check digit is wrong is accepted in a plain session and refused (450) in one that asked
/// for the validation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ksef_feature_header_turns_on_subject_identifier_validation() {
    use ksef_client::{FEATURE_SUBJECT_IDENTIFIER_VALIDATION, OnlineSessionOptions};
    let sim = simulator().await;
    let client = logged_in(&sim).await;
    // 1111111112: the weighted sum gives check digit 1, not 2.
    assert!("1111111112".parse::<ksef_model::values::Nip>().is_err());
    let invoice = |number: &str| {
        String::from_utf8(fa3_invoice(sim.seeded_nip(), number))
            .unwrap()
            .replace("<NIP>1111111111</NIP>", "<NIP>1111111112</NIP>")
            .into_bytes()
    };
    let run = unique("FEAT");

    let plain = client.open_online_session(form_code::fa3()).await.unwrap();
    let sent = plain.send(&invoice(&format!("{run}-1"))).await.unwrap();
    let (outcome, _) = plain
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    assert!(
        matches!(outcome, InvoiceOutcome::Accepted { .. }),
        "without the feature the check digit is not checked: {outcome:?}"
    );

    let options = OnlineSessionOptions::new().with_feature(FEATURE_SUBJECT_IDENTIFIER_VALIDATION);
    let validating = client
        .open_online_session_with(form_code::fa3(), &options)
        .await
        .unwrap();
    let sent = validating
        .send(&invoice(&format!("{run}-2")))
        .await
        .unwrap();
    let (outcome, _) = validating
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    match outcome {
        InvoiceOutcome::Rejected { code, details, .. } => {
            assert_eq!(code, 450);
            assert!(
                details.iter().any(|d| d.contains("1111111112 (Podmiot2)")),
                "{details:?}"
            );
        }
        other => panic!("expected a 450 rejection, got {other:?}"),
    }
    // A valid invoice still goes through in the validating session.
    let sent = validating
        .send(&fa3_invoice(sim.seeded_nip(), &format!("{run}-3")))
        .await
        .unwrap();
    let (outcome, _) = validating
        .wait_for_invoice(&sent.reference_number)
        .await
        .unwrap();
    assert!(
        matches!(outcome, InvoiceOutcome::Accepted { .. }),
        "{outcome:?}"
    );
}
