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
    assert_eq!(ALL.len(), from_spec.len(), "one descriptor per operation");
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
    assert_eq!(group("auth.challenge").group, RateLimitGroup::Anonymous);
    assert_eq!(group("tokens.list").group, RateLimitGroup::Other);
    // 2.9.0: closing a session has its own, larger limits.
    let close = group("sessions.online.close");
    assert_eq!(
        (
            close.group,
            close.per_second,
            close.per_minute,
            close.per_hour
        ),
        (RateLimitGroup::OnlineSessionClose, 20, Some(60), Some(240))
    );
    let close = group("sessions.batch.close");
    assert_eq!(
        (
            close.group,
            close.per_second,
            close.per_minute,
            close.per_hour
        ),
        (RateLimitGroup::BatchSessionClose, 20, Some(40), Some(120))
    );
    let collective = group("collective_identifiers.generate");
    assert_eq!(
        (
            collective.group,
            collective.per_second,
            collective.per_minute,
            collective.per_hour
        ),
        (
            RateLimitGroup::CollectiveIdentifier,
            20,
            Some(120),
            Some(240)
        )
    );
}

/// The last cell of the last row of an operation's 429 table: the group's name, if one is given.
fn group_in_429_table(op: &Value) -> Option<String> {
    let table = op["responses"]["429"]["description"].as_str()?;
    let row = table
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('|'))?;
    let last = row
        .split('|')
        .map(str::trim)
        .rev()
        .find(|c| !c.is_empty())?;
    last.chars()
        .all(|c| c.is_ascii_alphabetic())
        .then(|| last.to_owned())
}

#[test]
fn rate_limit_groups_are_the_specs() {
    let spec = support::spec();
    // Every operation's group is the one its 429 table names (`anonymous` where none is named).
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let info = ALL
                .iter()
                .find(|i| i.method.as_str() == method.to_uppercase() && i.path_template == path)
                .unwrap();
            let named = group_in_429_table(op).unwrap_or_else(|| "anonymous".to_owned());
            assert_eq!(info.rate_limit.group.as_str(), named, "{}", info.id);
            assert_eq!(
                RateLimitGroup::from_wire(&named),
                Some(info.rate_limit.group)
            );
            let production = info.rate_limit.group.production().unwrap();
            if info.rate_limit.group != RateLimitGroup::Other {
                assert_eq!(production, info.rate_limit, "{}", info.id);
            }
        }
    }
    // `GET /rate-limits` reports exactly the generated `REPORTED` groups, with the example's
    // values where no operation states them.
    let schema = &spec["components"]["schemas"]["EffectiveApiRateLimits"];
    let reported: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let generated: BTreeSet<&str> = RateLimitGroup::REPORTED
        .iter()
        .map(|g| g.as_str())
        .collect();
    assert_eq!(generated, reported);
    let global = RateLimitGroup::Global.production().unwrap();
    assert_eq!((global.per_second, global.per_minute), (75, None));
    let overridable: BTreeSet<&str> =
        spec["components"]["schemas"]["ApiRateLimitsOverride"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
    let generated: BTreeSet<&str> = RateLimitGroup::OVERRIDABLE
        .iter()
        .map(|g| g.as_str())
        .collect();
    assert_eq!(generated, overridable);
    assert!(
        !generated.contains("onlineSessionClose"),
        "not overridable in 2.9.0"
    );
    for group in RateLimitGroup::ALL {
        assert_eq!(RateLimitGroup::from_wire(group.as_str()), Some(group));
    }
}

#[test]
fn the_pinned_spec_is_2_9_0_with_83_operations_and_306_schemas() {
    let spec = support::spec();
    let lock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/spec.lock"),
    )
    .unwrap();
    assert!(lock.contains("api_version = \"2.9.0\""), "{lock}");
    let operations: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, 83);
    assert_eq!(ALL.len(), operations);
    let schemas = spec["components"]["schemas"].as_object().unwrap().len();
    assert_eq!(schemas, 306);
    assert_eq!(support::schemas::SCHEMAS.len(), schemas);
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
    use ksef_model::types::{EncryptionInfo, FormCode, FormCodeParams, OpenOnlineSessionRequest};
    let request = OpenOnlineSessionRequest::new(
        FormCode::new(FormCodeParams {
            system_code: "FA (3)".into(),
            schema_version: "1-0E".into(),
            value: "FA".into(),
        }),
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

/// `authenticationMethod` is obsolete (planned removal 2026-11-16) yet still required by the
/// spec: `openapi/types.toml` makes it optional, so a status without it still parses.
#[test]
fn an_auth_status_without_the_deprecated_authentication_method_parses() {
    use ksef_model::operations::{GetAuthStatus, ListAuthSessions};
    let status = br#"{
        "startDate": "2026-12-01T10:00:00+01:00",
        "authenticationMethodInfo": {"category": "Token", "code": "Token", "displayName": "Token KSeF"},
        "status": {"code": 200, "description": "Uwierzytelnianie zakonczone sukcesem"}
    }"#;
    let parsed =
        GetAuthStatus::parse_response(status).expect("a status without authenticationMethod");
    assert_eq!(parsed.authentication_method, None);
    assert_eq!(parsed.authentication_method_info.code, "Token");
    assert_eq!(parsed.status.code, 200);
    let with_it = br#"{
        "startDate": "2026-12-01T10:00:00+01:00",
        "authenticationMethod": "Token",
        "authenticationMethodInfo": {"category": "Token", "code": "Token", "displayName": "Token KSeF"},
        "status": {"code": 200, "description": "OK"}
    }"#;
    let parsed = GetAuthStatus::parse_response(with_it).unwrap();
    assert_eq!(
        parsed.authentication_method.as_ref().map(|m| m.as_str()),
        Some("Token")
    );
    let list = br#"{"items": [{
        "startDate": "2026-12-01T10:00:00+01:00",
        "referenceNumber": "20250626-AU-2F14610000-242991F8C9-B4",
        "authenticationMethodInfo": {"category": "XadesSignature", "code": "QualifiedSeal", "displayName": "Pieczec"},
        "status": {"code": 200, "description": "OK"}
    }]}"#;
    let parsed = ListAuthSessions::parse_response(list).expect("a list item without it");
    assert_eq!(parsed.items[0].authentication_method, None);
    // Still required by the other fields: a status without `status` is refused.
    let broken = br#"{"startDate": "2026-12-01T10:00:00+01:00",
        "authenticationMethodInfo": {"category": "Token", "code": "Token", "displayName": "x"}}"#;
    assert!(GetAuthStatus::parse_response(broken).is_err());
}

/// `X-KSeF-Feature` is named only in the prose of the session opens: `openapi/operations.toml`
/// gives the descriptors an optional field for it, sent as a header and listed in the info.
#[test]
fn prose_headers_are_carried_by_the_descriptors() {
    use ksef_model::operations::{OpenBatchSession, OpenOnlineSession};
    let spec = support::spec();
    for (path, op_info) in [
        ("/sessions/online", OpenOnlineSession::INFO),
        ("/sessions/batch", OpenBatchSession::INFO),
    ] {
        assert_eq!(op_info.prose_headers, ["X-KSeF-Feature"]);
        let description = spec["paths"][path]["post"]["description"].as_str().unwrap();
        assert!(description.contains("`X-KSeF-Feature: subject-identifier-validation`"));
    }
    let with_headers: Vec<&str> = ALL
        .iter()
        .filter(|i| !i.prose_headers.is_empty())
        .map(|i| i.id)
        .collect();
    assert_eq!(
        with_headers,
        ["sessions.batch.open", "sessions.online.open"]
    );
    let body: ksef_model::types::OpenOnlineSessionRequest =
        serde_json::from_value(serde_json::json!({
            "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            "encryption": {"encryptedSymmetricKey": "a2V5", "initializationVector": "aXY="}
        }))
        .unwrap();
    let plain = OpenOnlineSession::new(body.clone());
    assert!(plain.headers().is_empty());
    let op = OpenOnlineSession::new(body).with_ksef_feature("subject-identifier-validation");
    assert_eq!(
        op.headers(),
        vec![("X-KSeF-Feature", "subject-identifier-validation".to_owned())]
    );
}
