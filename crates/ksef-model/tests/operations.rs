//! The generated operation table agrees with the spec, and descriptors render requests correctly.

mod support;

use std::collections::BTreeSet;

use ksef_model::operations::{self, ALL};
use ksef_model::{Auth, Body, ContentKind, Method, Operation, RateLimitGroup};
use serde_json::Value;

#[test]
fn table_has_exactly_the_spec_operations() {
    let spec = support::spec();
    let mut from_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            from_spec.insert((method.to_uppercase(), path.clone()));
            let info = ALL
                .iter()
                .find(|i| i.method.as_str() == method.to_uppercase() && i.path_template == path)
                .unwrap_or_else(|| panic!("{method} {path} missing from the table"));
            let limits = &op["x-rate-limits"];
            assert_eq!(
                u64::from(info.rate_limit.per_second),
                limits["perSecond"].as_u64().unwrap()
            );
            assert_eq!(
                info.rate_limit.per_minute.map(u64::from),
                limits["perMinute"].as_u64()
            );
            assert_eq!(
                info.rate_limit.per_hour.map(u64::from),
                limits["perHour"].as_u64()
            );
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            assert_eq!(info.auth != Auth::None, secured, "{}", info.id);
            let success: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with('2'))
                .map(|k| k.parse().unwrap())
                .collect();
            assert_eq!(success, vec![info.success_status], "{}", info.id);
            let perms: Vec<&str> = op
                .get("x-required-permissions")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(perms, info.required_permissions, "{}", info.id);
        }
    }
    assert_eq!(from_spec.len(), 78, "the spec v2.6 has 78 operations");
    assert_eq!(ALL.len(), from_spec.len());
    let ids: BTreeSet<&str> = ALL.iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), ALL.len(), "operation ids are unique");
    println!("operation table: {} operations", ALL.len());
}

#[test]
fn bearer_tokens_follow_the_three_jwt_rule() {
    let by_id = |id: &str| ALL.iter().find(|i| i.id == id).unwrap();
    assert_eq!(by_id("auth.status").auth, Auth::AuthenticationToken);
    assert_eq!(by_id("auth.token.redeem").auth, Auth::AuthenticationToken);
    assert_eq!(by_id("auth.token.refresh").auth, Auth::RefreshToken);
    assert_eq!(by_id("auth.challenge").auth, Auth::None);
    assert_eq!(by_id("sessions.online.open").auth, Auth::AccessToken);
    // Only queries among the POSTs may be retried; an invoice send never is.
    assert!(!by_id("sessions.online.send_invoice").idempotent);
    assert!(by_id("invoices.query_metadata").idempotent);
    assert!(
        ALL.iter()
            .filter(|i| i.method == Method::Get)
            .all(|i| i.idempotent)
    );
}

#[test]
fn rate_limit_groups_match_the_published_table() {
    let group = |id: &str| ALL.iter().find(|i| i.id == id).unwrap().rate_limit;
    let send = group("sessions.online.send_invoice");
    assert_eq!(
        (send.group, send.per_second, send.per_minute, send.per_hour),
        (RateLimitGroup::InvoiceSend, 10, Some(30), Some(180))
    );
    assert_eq!(
        group("invoices.query_metadata").group,
        RateLimitGroup::InvoiceMetadata
    );
    assert_eq!(group("sessions.upo").group, RateLimitGroup::SessionMisc);
    assert_eq!(group("auth.challenge").group, RateLimitGroup::Public);
    assert_eq!(group("tokens.list").group, RateLimitGroup::Other);
}

#[test]
fn paths_queries_and_headers_render() {
    let reference = "20250626-SO-2F14610000-242991F8C9-B4".parse().unwrap();
    let op = operations::ListSessionInvoices::new(reference)
        .with_page_size(100)
        .with_continuation_token("abc+/=");
    assert_eq!(
        op.path(),
        "/sessions/20250626-SO-2F14610000-242991F8C9-B4/invoices"
    );
    assert_eq!(op.query(), vec![("pageSize", "100".to_owned())]);
    assert_eq!(
        op.headers(),
        vec![("x-continuation-token", "abc+/=".to_owned())]
    );
    assert_eq!(
        op.path_and_query(),
        "/sessions/20250626-SO-2F14610000-242991F8C9-B4/invoices?pageSize=100"
    );
    assert_eq!(op.body().unwrap(), Body::Empty);

    use ksef_model::types::CommonSessionStatus;
    let op = operations::ListSessions::new(ksef_model::types::SessionType::Online)
        .with_statuses(vec![
            CommonSessionStatus::InProgress,
            CommonSessionStatus::Succeeded,
        ])
        .with_date_created_from(
            chrono::DateTime::parse_from_rfc3339("2025-10-01T10:00:00+02:00").unwrap(),
        );
    assert_eq!(
        op.path_and_query(),
        "/sessions?sessionType=Online&dateCreatedFrom=2025-10-01T10%3A00%3A00%2B02%3A00&statuses=InProgress&statuses=Succeeded"
    );
}

#[test]
fn bodies_serialize_and_responses_parse() {
    use ksef_model::types::{EncryptionInfo, FormCode, OpenOnlineSessionRequest};
    let request = OpenOnlineSessionRequest::new(
        FormCode::new("FA (3)", "1-0E", "FA"),
        EncryptionInfo::new("a2V5", "aXY="),
    );
    let op = operations::OpenOnlineSession::new(request);
    let Body::Json(bytes) = op.body().unwrap() else {
        panic!("JSON body expected")
    };
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["formCode"]["systemCode"], "FA (3)");
    assert_eq!(json["encryption"]["encryptedSymmetricKey"], "a2V5");
    assert!(
        json["encryption"].get("publicKeyId").is_none(),
        "unset optional fields are omitted"
    );
    assert_eq!(
        operations::OpenOnlineSession::RESPONSE_CONTENT,
        ContentKind::Json
    );

    let challenge = operations::GetChallenge::parse_response(
        br#"{"challenge":"20250514-CR-226FB7B000-3ACF9BE4C0-10","timestamp":"2025-07-11T12:23:56.0154302+00:00","timestampMs":1752236636015,"clientIp":"127.0.0.1","future":"ignored"}"#,
    )
    .unwrap();
    assert_eq!(challenge.timestamp_ms, 1752236636015);
    let err = operations::GetChallenge::parse_response(b"{\"challenge\":1}").unwrap_err();
    assert!(err.to_string().contains("auth.challenge"), "{err}");

    let upo = operations::GetSessionUpo::parse_response(b"<Potwierdzenie/>").unwrap();
    assert_eq!(upo, b"<Potwierdzenie/>");
}

#[test]
fn secrets_are_redacted_in_debug() {
    use ksef_model::types::TokenInfo;
    let token = TokenInfo::new(
        "eyJhbGciOiJSUzI1NiJ9.secret",
        chrono::DateTime::parse_from_rfc3339("2025-07-11T12:23:56+00:00").unwrap(),
    );
    let shown = format!("{token:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn unknown_enum_values_survive() {
    use ksef_model::types::SessionType;
    let v: SessionType = serde_json::from_str("\"Quantum\"").unwrap();
    assert_eq!(v, SessionType::Unknown("Quantum".into()));
    assert_eq!(serde_json::to_string(&v).unwrap(), "\"Quantum\"");
    let known: SessionType = serde_json::from_str("\"Batch\"").unwrap();
    assert_eq!(known, SessionType::Batch);
    assert!(SessionType::VALUES.contains(&"Online"));
}
