//! The valid request of every operation, walked in an order that builds the state each needs.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_a_valid_request_per_spec() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(20))).await;
    let nip = sim.seeded_nip().to_owned();
    let mut w = Walk {
        seen: BTreeSet::new(),
    };

    // Authentication.
    w.ok(
        "security.public_key_certificates",
        &http.get("/security/public-key-certificates", None).await,
    );
    w.ok(
        "auth.challenge",
        &http.post_empty("/auth/challenge", None).await,
    );
    let init = w.ok(
        "auth.ksef_token",
        &start_auth(&http, &nip, sim.seeded_token()).await,
    );
    let auth = init["authenticationToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth_ref = init["referenceNumber"].as_str().unwrap().to_owned();
    wait_auth(&http, &auth_ref, &auth).await;
    w.ok(
        "auth.status",
        &http.get(&format!("/auth/{auth_ref}"), Some(&auth)).await,
    );
    let tokens = w.ok(
        "auth.token.redeem",
        &http.post_empty("/auth/token/redeem", Some(&auth)).await,
    );
    let refresh = tokens["refreshToken"]["token"].as_str().unwrap().to_owned();
    let refreshed = w.ok(
        "auth.token.refresh",
        &http.post_empty("/auth/token/refresh", Some(&refresh)).await,
    );
    let access_owned = refreshed["accessToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = access_owned.as_str();
    w.ok(
        "auth.sessions.list",
        &http.get("/auth/sessions", Some(access)).await,
    );
    let seal = xades_login(&http, &nip).await;
    w.seen.insert("auth.xades_signature");

    // KSeF tokens.
    let generated = w
        .post_ok(
            &http,
            "tokens.generate",
            "/tokens",
            Some(access),
            &json!({"permissions": ["InvoiceRead"], "description": "Contract token"}),
        )
        .await;
    w.ok("tokens.list", &http.get("/tokens", Some(access)).await);
    let token_path = format!("/tokens/{}", generated["referenceNumber"].as_str().unwrap());
    w.ok("tokens.status", &http.get(&token_path, Some(access)).await);
    w.ok(
        "tokens.revoke",
        &http.delete(&token_path, Some(access)).await,
    );

    // Online session, invoice, UPOs.
    let key = ksef_crypto::SessionKey::generate().unwrap();
    let opened = w
        .post_ok(
            &http,
            "sessions.online.open",
            "/sessions/online",
            Some(access),
            &json!({
                "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
                "encryption": serde_json::to_value(wrap_key(&http, &key).await).unwrap(),
            }),
        )
        .await;
    let s = opened["referenceNumber"].as_str().unwrap().to_owned();
    let xml = fa3_invoice(&nip, "CONTRACT-1");
    let sent = w.ok(
        "sessions.online.send_invoice",
        &send(&http, access, &s, &encrypt(&key, &xml)).await,
    );
    let invoice = sent["referenceNumber"].as_str().unwrap().to_owned();
    let status = wait_invoice(&http, access, &s, &invoice).await;
    let ksef = status.ksef_number.unwrap().to_string();
    // A second invoice of the same seller, for the collective identifier.
    let second = send(
        &http,
        access,
        &s,
        &encrypt(&key, &fa3_invoice(&nip, "CONTRACT-2")),
    )
    .await;
    assert_eq!(second.status, 202, "{}", second.text());
    let second: Value = second.json();
    let second = wait_invoice(
        &http,
        access,
        &s,
        second["referenceNumber"].as_str().unwrap(),
    )
    .await
    .ksef_number
    .unwrap()
    .to_string();
    w.ok(
        "sessions.invoice_status",
        &http
            .get(&format!("/sessions/{s}/invoices/{invoice}"), Some(access))
            .await,
    );
    w.ok(
        "sessions.invoices",
        &http
            .get(&format!("/sessions/{s}/invoices"), Some(access))
            .await,
    );
    w.ok(
        "sessions.failed_invoices",
        &http
            .get(&format!("/sessions/{s}/invoices/failed"), Some(access))
            .await,
    );
    w.ok(
        "sessions.invoice_upo",
        &http
            .get(
                &format!("/sessions/{s}/invoices/{invoice}/upo"),
                Some(access),
            )
            .await,
    );
    w.ok(
        "sessions.invoice_upo_by_ksef_number",
        &http
            .get(
                &format!("/sessions/{s}/invoices/ksef/{ksef}/upo"),
                Some(access),
            )
            .await,
    );
    w.ok(
        "sessions.online.close",
        &http
            .post_empty(&format!("/sessions/online/{s}/close"), Some(access))
            .await,
    );
    let mut upo = None;
    for _ in 0..100 {
        let status = w.ok(
            "sessions.status",
            &http.get(&format!("/sessions/{s}"), Some(access)).await,
        );
        if status["status"]["code"] == 200 {
            upo = status["upo"]["pages"][0]["referenceNumber"]
                .as_str()
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let upo = upo.expect("the session UPO");
    w.ok(
        "sessions.upo",
        &http
            .get(&format!("/sessions/{s}/upo/{upo}"), Some(access))
            .await,
    );
    w.ok(
        "sessions.list",
        &http
            .get("/sessions?sessionType=Online&pageSize=10", Some(access))
            .await,
    );
    w.ok(
        "invoices.download",
        &http
            .get(&format!("/invoices/ksef/{ksef}"), Some(access))
            .await,
    );
    let from = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let filters =
        json!({"subjectType": "Subject1", "dateRange": {"dateType": "Invoicing", "from": from}});
    w.post_ok(
        &http,
        "invoices.query_metadata",
        "/invoices/query/metadata",
        Some(access),
        &filters.clone(),
    )
    .await;
    let export = w
        .post_ok(
            &http,
            "invoices.export",
            "/invoices/exports",
            Some(access),
            &json!({
                "encryption": serde_json::to_value(wrap_key(&http, &key).await).unwrap(),
                "filters": filters,
            }),
        )
        .await;
    w.ok(
        "invoices.export_status",
        &http
            .get(
                &format!(
                    "/invoices/exports/{}",
                    export["referenceNumber"].as_str().unwrap()
                ),
                Some(access),
            )
            .await,
    );

    // Collective identifiers.
    let generated = w
        .post_ok(
            &http,
            "collective_identifiers.generate",
            "/collective-identifiers",
            Some(access),
            &json!({"invoices": [
                {"ksefNumber": ksef, "payment": {"amount": 100, "currency": "PLN"},
                 "description": "Faktura 1"},
                {"ksefNumber": second},
            ]}),
        )
        .await;
    let collective = generated["collectiveIdentifierNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = w
        .post_ok(
            &http,
            "collective_identifiers.query",
            "/collective-identifiers/query",
            Some(access),
            &json!({"dateCreatedFrom": from,
                    "dateCreatedTo": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(
        listed["collectiveIdentifiers"][0]["collectiveIdentifierNumber"],
        collective.as_str()
    );
    let by_number = w.ok(
        "collective_identifiers.by_ksef_number",
        &http
            .get(
                &format!("/collective-identifiers/ksef/{second}"),
                Some(access),
            )
            .await,
    );
    assert_eq!(
        by_number["collectiveIdentifiers"][0]["collectiveIdentifierNumber"],
        collective.as_str()
    );
    let members = w
        .post_ok(
            &http,
            "collective_identifiers.invoices",
            "/collective-identifiers/invoices",
            Some(access),
            &json!({"collectiveIdentifierNumbers": [collective]}),
        )
        .await;
    assert_eq!(members["invoices"].as_array().map(Vec::len), Some(2));

    // Batch session.
    let batch = package_batch(vec![(
        "b.xml".to_owned(),
        fa3_invoice(&nip, "CONTRACT-B-1"),
    )]);
    let opened = w
        .post_ok(
            &http,
            "sessions.batch.open",
            "/sessions/batch",
            Some(access),
            &batch_open_request(&http, &batch).await,
        )
        .await;
    let opened: ksef_model::types::OpenBatchSessionResponse =
        serde_json::from_value(opened).unwrap();
    for upload in &opened.part_upload_requests {
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        assert_eq!(upload_part(&http, upload, bytes).await.status, 201);
    }
    w.ok(
        "sessions.batch.close",
        &http
            .post_empty(
                &format!("/sessions/batch/{}/close", opened.reference_number),
                Some(access),
            )
            .await,
    );

    // Limits and the test-data limit overrides.
    w.ok(
        "limits.context",
        &http.get("/limits/context", Some(access)).await,
    );
    w.ok(
        "limits.subject",
        &http.get("/limits/subject", Some(access)).await,
    );
    w.ok(
        "limits.rate_limits",
        &http.get("/rate-limits", Some(access)).await,
    );
    let limits =
        json!({"maxInvoiceSizeInMB": 2, "maxInvoiceWithAttachmentSizeInMB": 4, "maxInvoices": 100});
    w.post_ok(
        &http,
        "testdata.limits.session.set",
        "/testdata/limits/context/session",
        Some(access),
        &json!({"onlineSession": limits, "batchSession": limits,
                "collectiveIdentifier": {"maxInvoices": 100}}),
    )
    .await;
    w.ok(
        "testdata.limits.session.reset",
        &http
            .delete("/testdata/limits/context/session", Some(access))
            .await,
    );
    w.post_ok(&http, "testdata.limits.certificate.set", "/testdata/limits/subject/certificate", Some(access), &json!({"subjectIdentifierType": "Nip", "enrollment": {"maxEnrollments": 5}, "certificate": {"maxCertificates": 3}})).await;
    w.ok(
        "testdata.limits.certificate.reset",
        &http
            .delete("/testdata/limits/subject/certificate", Some(access))
            .await,
    );
    let group = json!({"perSecond": 100, "perMinute": 1000, "perHour": 10000});
    let groups = every_rate_limit_group(&group);
    w.post_ok(
        &http,
        "testdata.rate_limits.set",
        "/testdata/rate-limits",
        Some(access),
        &json!({"rateLimits": groups}),
    )
    .await;
    w.ok(
        "testdata.rate_limits.production",
        &http
            .post_empty("/testdata/rate-limits/production", Some(access))
            .await,
    );
    w.ok(
        "testdata.rate_limits.reset",
        &http.delete("/testdata/rate-limits", Some(access)).await,
    );

    // Test data.
    w.post_ok(
        &http,
        "testdata.subject.create",
        "/testdata/subject",
        None,
        &json!({
        "subjectNip": NIP_B, "subjectType": "VatGroup", "description": "Grupa VAT",
        "subunits": [{"subjectNip": NIP_C, "description": "Członek grupy"}]}),
    )
    .await;
    w.post_ok(
        &http,
        "testdata.person.create",
        "/testdata/person",
        None,
        &json!({
        "nip": NIP_D, "pesel": PESEL, "isBailiff": true, "description": "Komornik testowy"}),
    )
    .await;
    let test_grant = json!({"contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": PESEL},
        "permissions": [{"permissionType": "InvoiceRead", "description": "Odczyt"}]});
    w.post_ok(
        &http,
        "testdata.permissions.grant",
        "/testdata/permissions",
        None,
        &test_grant,
    )
    .await;
    w.post_ok(
        &http,
        "testdata.permissions.revoke",
        "/testdata/permissions/revoke",
        None,
        &json!({
        "contextIdentifier": {"type": "Nip", "value": nip},
        "authorizedIdentifier": {"type": "Pesel", "value": PESEL}}),
    )
    .await;
    w.post_ok(
        &http,
        "testdata.attachment.enable",
        "/testdata/attachment",
        None,
        &json!({"nip": nip}),
    )
    .await;
    w.ok(
        "permissions.attachments.status",
        &http
            .get("/permissions/attachments/status", Some(access))
            .await,
    );
    w.post_ok(
        &http,
        "testdata.attachment.revoke",
        "/testdata/attachment/revoke",
        None,
        &json!({"nip": nip}),
    )
    .await;
    let block = json!({"contextIdentifier": {"type": "Nip", "value": NIP_E}});
    w.post_ok(
        &http,
        "testdata.context.block",
        "/testdata/context/block",
        None,
        &block,
    )
    .await;
    w.post_ok(
        &http,
        "testdata.context.unblock",
        "/testdata/context/unblock",
        None,
        &block,
    )
    .await;
    w.ok(
        "peppol.query",
        &http
            .get("/peppol/query?pageSize=10&pageOffset=0", None)
            .await,
    );

    // Permissions.
    let op = w.post_ok(&http, "permissions.persons.grant", "/permissions/persons/grants", Some(access), &json!({
        "subjectIdentifier": {"type": "Pesel", "value": PESEL}, "permissions": ["InvoiceRead", "InvoiceWrite"],
        "description": "Księgowa", "subjectDetails": person_details()})).await;
    let op_path = format!(
        "/permissions/operations/{}",
        op["referenceNumber"].as_str().unwrap()
    );
    w.ok(
        "permissions.operation_status",
        &http.get(&op_path, Some(access)).await,
    );
    w.post_ok(&http, "permissions.entities.grant", "/permissions/entities/grants", Some(access), &json!({
        "subjectIdentifier": {"type": "Nip", "value": NIP_B}, "permissions": [{"type": "InvoiceRead", "canDelegate": true}],
        "description": "Biuro rachunkowe", "subjectDetails": {"fullName": "Biuro Rachunkowe"}})).await;
    w.post_ok(
        &http,
        "permissions.authorizations.grant",
        "/permissions/authorizations/grants",
        Some(access),
        &json!({
        "subjectIdentifier": {"type": "Nip", "value": NIP_B}, "permission": "SelfInvoicing",
        "description": "Samofakturowanie", "subjectDetails": {"fullName": "Firma B"}}),
    )
    .await;
    w.post_ok(&http, "permissions.indirect.grant", "/permissions/indirect/grants", Some(access), &json!({
        "subjectIdentifier": {"type": "Pesel", "value": PESEL}, "targetIdentifier": {"type": "AllPartners"},
        "permissions": ["InvoiceRead"], "description": "Uprawnienie pośrednie", "subjectDetails": person_details()})).await;
    let unit = ksef_model::values::InternalId::from_parts(&nip.parse().unwrap(), 1)
        .unwrap()
        .to_string();
    w.post_ok(&http, "permissions.subunits.grant", "/permissions/subunits/grants", Some(access), &json!({
        "subjectIdentifier": {"type": "Pesel", "value": PESEL}, "contextIdentifier": {"type": "InternalId", "value": unit},
        "description": "Administrator oddziału", "subunitName": "Oddział 1", "subjectDetails": person_details()})).await;
    let eu_details = json!({"subjectDetailsType": "EntityByFingerprint", "entityByFp": {"fullName": "Firma DE", "address": "Berlin"}});
    w.post_ok(&http, "permissions.eu_entities.administration.grant", "/permissions/eu-entities/administration/grants", Some(access), &json!({
        "subjectIdentifier": {"type": "Fingerprint", "value": FINGERPRINT},
        "contextIdentifier": {"type": "NipVatUe", "value": format!("{nip}-DE123456789")},
        "description": "Administrator podmiotu UE", "euEntityName": "Firma DE GmbH",
        "subjectDetails": eu_details, "euEntityDetails": {"fullName": "Firma DE GmbH", "address": "Berlin"}})).await;
    // Only an EU entity's administrator (VatUeManage) may grant this: 403 for a NIP context.
    w.refused("permissions.eu_entities.grant", &post(&http, "/permissions/eu-entities/grants", access, json!({
        "subjectIdentifier": {"type": "Fingerprint", "value": FINGERPRINT}, "permissions": ["InvoiceRead"],
        "description": "Przedstawiciel UE", "subjectDetails": eu_details})).await, 403);
    w.post_ok(
        &http,
        "permissions.query.personal",
        "/permissions/query/personal/grants",
        Some(access),
        &json!({}),
    )
    .await;
    let persons = w
        .post_ok(
            &http,
            "permissions.query.persons",
            "/permissions/query/persons/grants?pageSize=10",
            Some(access),
            &json!({"queryType": "PermissionsInCurrentContext"}),
        )
        .await;
    let persons = persons["permissions"].as_array().unwrap();
    // Two person grants, the entity grant and the indirect grant.
    assert_eq!(persons.len(), 4, "{persons:?}");
    w.post_ok(
        &http,
        "permissions.query.entities",
        "/permissions/query/entities/grants",
        Some(access),
        &json!({}),
    )
    .await;
    let granted = w
        .post_ok(
            &http,
            "permissions.query.authorizations",
            "/permissions/query/authorizations/grants",
            Some(access),
            &json!({"queryType": "Granted"}),
        )
        .await;
    assert_eq!(granted["authorizationGrants"].as_array().unwrap().len(), 1);
    w.ok(
        "permissions.query.entity_roles",
        &http
            .get("/permissions/query/entities/roles", Some(access))
            .await,
    );
    w.post_ok(
        &http,
        "permissions.query.subordinate_entity_roles",
        "/permissions/query/subordinate-entities/roles",
        Some(access),
        &json!({}),
    )
    .await;
    let subunits = w
        .post_ok(
            &http,
            "permissions.query.subunits",
            "/permissions/query/subunits/grants",
            Some(access),
            &json!({}),
        )
        .await;
    assert_eq!(subunits["permissions"].as_array().unwrap().len(), 1);
    let eu = w
        .post_ok(
            &http,
            "permissions.query.eu_entities",
            "/permissions/query/eu-entities/grants",
            Some(access),
            &json!({}),
        )
        .await;
    assert_eq!(eu["permissions"].as_array().unwrap().len(), 1);
    let id = persons[0]["id"].as_str().unwrap();
    w.ok(
        "permissions.revoke",
        &http
            .delete(&format!("/permissions/common/grants/{id}"), Some(access))
            .await,
    );
    let id = granted["authorizationGrants"][0]["id"].as_str().unwrap();
    w.ok(
        "permissions.authorizations.revoke",
        &http
            .delete(
                &format!("/permissions/authorizations/grants/{id}"),
                Some(access),
            )
            .await,
    );

    // Certificates, for the seal that logged in with XAdES.
    let sealed = seal.access.as_str();
    w.ok(
        "certificates.limits",
        &http.get("/certificates/limits", Some(sealed)).await,
    );
    let data = w.ok(
        "certificates.enrollment_data",
        &http
            .get("/certificates/enrollments/data", Some(sealed))
            .await,
    );
    let data: ksef_crypto::EnrollmentData = serde_json::from_value(data).unwrap();
    let key = ksef_crypto::CertificateKey::generate_ec_p256().unwrap();
    let csr = ksef_crypto::CertificateSigningRequest::new(&data, &key).unwrap();
    let enrolled = w.post_ok(&http, "certificates.enroll", "/certificates/enrollments", Some(sealed), &json!({
        "certificateName": "Certyfikat testowy", "certificateType": "Authentication", "csr": csr.to_base64()})).await;
    let enrollment = format!(
        "/certificates/enrollments/{}",
        enrolled["referenceNumber"].as_str().unwrap()
    );
    let mut serial = None;
    for _ in 0..100 {
        let status = w.ok(
            "certificates.enrollment_status",
            &http.get(&enrollment, Some(sealed)).await,
        );
        if status["status"]["code"] == 200 {
            serial = status["certificateSerialNumber"]
                .as_str()
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let serial = serial.expect("the certificate is issued");
    w.post_ok(
        &http,
        "certificates.retrieve",
        "/certificates/retrieve",
        Some(sealed),
        &json!({"certificateSerialNumbers": [serial]}),
    )
    .await;
    w.post_ok(
        &http,
        "certificates.query",
        "/certificates/query",
        Some(sealed),
        &json!({}),
    )
    .await;
    let valid_to = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    w.ok(
        "testdata.certificates.update",
        &http
            .send(
                "PUT",
                &format!("/testdata/certificates/{serial}"),
                Some(sealed),
                Some(serde_json::to_vec(&json!({"validTo": valid_to})).unwrap()),
                &[],
            )
            .await,
    );
    w.post_ok(
        &http,
        "certificates.revoke",
        &format!("/certificates/{serial}/revoke"),
        Some(sealed),
        &json!({"revocationReason": "Superseded"}),
    )
    .await;

    // Cleanup operations of the test data, and the end of the authentication sessions.
    w.post_ok(
        &http,
        "testdata.person.remove",
        "/testdata/person/remove",
        None,
        &json!({"nip": NIP_D}),
    )
    .await;
    w.post_ok(
        &http,
        "testdata.subject.remove",
        "/testdata/subject/remove",
        None,
        &json!({"subjectNip": NIP_B}),
    )
    .await;
    w.ok(
        "auth.sessions.revoke",
        &http
            .delete(&format!("/auth/sessions/{}", seal.reference), Some(access))
            .await,
    );
    w.ok(
        "auth.sessions.revoke_current",
        &http.delete("/auth/sessions/current", Some(access)).await,
    );

    let missing: Vec<&str> = ALL
        .iter()
        .map(|op| op.id)
        .filter(|id| !w.seen.contains(id))
        .collect();
    assert!(missing.is_empty(), "not walked: {missing:?}");
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
