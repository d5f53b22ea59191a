//! Every simulated operation: answers of its spec response type, and bad input that is never
//! answered with a 500.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_simulated_operation_is_never_a_500() {
    let (sim, http) = start().await;
    let login = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    for op in ksef_model::operations::ALL {
        let path = op.path_template.replace('{', "X").replace('}', "");
        let bearer = match op.auth {
            ksef_model::Auth::AuthenticationToken => Some(login.authentication_token.as_str()),
            ksef_model::Auth::RefreshToken => Some(login.refresh.as_str()),
            ksef_model::Auth::AccessToken => Some(login.access.as_str()),
            _ => None,
        };
        for body in [
            None,
            Some(b"{not json".to_vec()),
            Some(b"{}".to_vec()),
            Some(b"[1,2]".to_vec()),
        ] {
            let resp = http
                .send(op.method.as_str(), &path, bearer, body, &[])
                .await;
            assert!(
                resp.status < 500,
                "{} {path}: {} {}",
                op.method,
                resp.status,
                resp.text()
            );
        }
    }
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}

/// Checks a response against the operation's descriptor: the spec's success status, and a body
/// that the descriptor's own parser reads into the operation's generated response type.
fn conforms<O: ksef_model::Operation>(resp: &Resp, seen: &mut Vec<&'static str>) -> O::Response {
    let info = O::INFO;
    assert_eq!(
        resp.status,
        info.success_status,
        "{}: {}",
        info.id,
        resp.text()
    );
    seen.push(info.id);
    O::parse_response(&resp.body).unwrap_or_else(|e| panic!("{}: {e}: {}", info.id, resp.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulated_operation_answers_its_spec_response_type() {
    use ksef_model::operations::*;
    let (sim, http) = start().await;
    let nip = sim.seeded_nip().to_owned();
    let mut seen = Vec::new();

    conforms::<GetPublicKeyCertificates>(
        &http.get("/security/public-key-certificates", None).await,
        &mut seen,
    );
    conforms::<GetChallenge>(&http.post_empty("/auth/challenge", None).await, &mut seen);
    let init = conforms::<AuthenticateWithKsefToken>(
        &start_auth(&http, &nip, sim.seeded_token()).await,
        &mut seen,
    );
    let auth = init.authentication_token.token.clone();
    wait_auth(&http, init.reference_number.as_str(), &auth).await;
    {
        use ksef_crypto::test_certificates::{KeyType, TestCertificate};
        use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
        let nip: ksef_model::values::Nip = nip.parse().unwrap();
        let seal = TestCertificate::company("Firma Testowa", &nip, KeyType::EcdsaP256).unwrap();
        let challenge: ksef_model::types::AuthenticationChallengeResponse =
            http.post_empty("/auth/challenge", None).await.json();
        let request = AuthTokenRequest::new(challenge.challenge, ContextIdentifier::Nip(nip));
        let signed =
            ksef_xades::xades::sign(&request.to_xml().unwrap(), &seal.signer().unwrap()).unwrap();
        let xml = [("content-type", "application/xml")];
        let resp = http
            .send("POST", "/auth/xades-signature", None, Some(signed), &xml)
            .await;
        conforms::<AuthenticateWithXadesSignature>(&resp, &mut seen);
    }
    conforms::<GetAuthStatus>(
        &http
            .get(&format!("/auth/{}", init.reference_number), Some(&auth))
            .await,
        &mut seen,
    );
    let tokens = conforms::<RedeemToken>(
        &http.post_empty("/auth/token/redeem", Some(&auth)).await,
        &mut seen,
    );
    let refresh = tokens.refresh_token.token.clone();
    let access = conforms::<RefreshAccessToken>(
        &http.post_empty("/auth/token/refresh", Some(&refresh)).await,
        &mut seen,
    )
    .access_token
    .token;
    let access = access.as_str();
    conforms::<ListAuthSessions>(&http.get("/auth/sessions", Some(access)).await, &mut seen);

    let request =
        GenerateTokenRequest::new(vec![TokenPermissionType::InvoiceRead], "Conformance token");
    let generated = conforms::<GenerateToken>(
        &http.post("/tokens", Some(access), &request).await,
        &mut seen,
    );
    conforms::<ListTokens>(&http.get("/tokens", Some(access)).await, &mut seen);
    let token_path = format!("/tokens/{}", generated.reference_number);
    conforms::<GetTokenStatus>(&http.get(&token_path, Some(access)).await, &mut seen);
    conforms::<RevokeToken>(&http.delete(&token_path, Some(access)).await, &mut seen);

    let (_, certs) = certificates(&http).await;
    let cert = certs
        .select(
            ksef_model::types::PublicKeyCertificateUsage::SymmetricKeyEncryption,
            chrono::Utc::now(),
        )
        .unwrap();
    let key = ksef_crypto::SessionKey::generate().unwrap();
    let info = key.wrap(cert).unwrap().to_encryption_info();
    let mut encryption = ksef_model::types::EncryptionInfo::new(
        info.encrypted_symmetric_key,
        info.initialization_vector,
    );
    encryption.public_key_id = info.public_key_id;
    let open = ksef_model::types::OpenOnlineSessionRequest::new(fa3_form_code(), encryption);
    let opened = conforms::<OpenOnlineSession>(
        &http.post("/sessions/online", Some(access), &open).await,
        &mut seen,
    );
    let session = OnlineSession {
        reference: opened.reference_number.to_string(),
        key,
    };
    let s = session.reference.as_str();
    let xml = fa3_invoice(&nip, "CONFORMANCE-1");
    let sent = conforms::<SendInvoice>(
        &send(&http, access, s, &encrypt(&session.key, &xml)).await,
        &mut seen,
    );
    let invoice = sent.reference_number.to_string();
    let status = wait_invoice(&http, access, s, &invoice).await;
    let ksef = status.ksef_number.unwrap().to_string();
    conforms::<GetSessionInvoiceStatus>(
        &http
            .get(&format!("/sessions/{s}/invoices/{invoice}"), Some(access))
            .await,
        &mut seen,
    );
    conforms::<ListSessionInvoices>(
        &http
            .get(&format!("/sessions/{s}/invoices"), Some(access))
            .await,
        &mut seen,
    );
    conforms::<ListFailedSessionInvoices>(
        &http
            .get(&format!("/sessions/{s}/invoices/failed"), Some(access))
            .await,
        &mut seen,
    );
    conforms::<GetInvoiceUpo>(
        &http
            .get(
                &format!("/sessions/{s}/invoices/{invoice}/upo"),
                Some(access),
            )
            .await,
        &mut seen,
    );
    conforms::<GetInvoiceUpoByKsefNumber>(
        &http
            .get(
                &format!("/sessions/{s}/invoices/ksef/{ksef}/upo"),
                Some(access),
            )
            .await,
        &mut seen,
    );
    conforms::<CloseOnlineSession>(
        &http
            .post_empty(&format!("/sessions/online/{s}/close"), Some(access))
            .await,
        &mut seen,
    );
    let mut done = None;
    for _ in 0..100 {
        let status = conforms::<GetSessionStatus>(
            &http.get(&format!("/sessions/{s}"), Some(access)).await,
            &mut seen,
        );
        if status.status.code == 200 {
            done = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let upo = done.expect("session processed").upo.unwrap().pages[0]
        .reference_number
        .clone();
    conforms::<GetSessionUpo>(
        &http
            .get(&format!("/sessions/{s}/upo/{upo}"), Some(access))
            .await,
        &mut seen,
    );
    conforms::<ListSessions>(
        &http
            .get("/sessions?sessionType=Online&pageSize=10", Some(access))
            .await,
        &mut seen,
    );
    let downloaded = conforms::<DownloadInvoice>(
        &http
            .get(&format!("/invoices/ksef/{ksef}"), Some(access))
            .await,
        &mut seen,
    );
    assert_eq!(downloaded, xml);
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(
            InvoiceQueryDateType::Invoicing,
            (chrono::Utc::now() - chrono::Duration::days(1)).fixed_offset(),
        ),
    );
    conforms::<QueryInvoiceMetadata>(
        &http
            .post("/invoices/query/metadata", Some(access), &filters)
            .await,
        &mut seen,
    );
    let export_key = ksef_crypto::SessionKey::generate().unwrap();
    let export = conforms::<ExportInvoices>(
        &http
            .post(
                "/invoices/exports",
                Some(access),
                &ksef_model::types::InvoiceExportRequest::new(
                    wrap_key(&http, &export_key).await,
                    filters.clone(),
                ),
            )
            .await,
        &mut seen,
    );
    conforms::<GetInvoiceExportStatus>(
        &http
            .get(
                &format!("/invoices/exports/{}", export.reference_number),
                Some(access),
            )
            .await,
        &mut seen,
    );

    let batch = package_batch(vec![("b.xml".to_owned(), fa3_invoice(&nip, "CONF/B/1"))]);
    let opened = conforms::<OpenBatchSession>(
        &http
            .post(
                "/sessions/batch",
                Some(access),
                &batch_open_request(&http, &batch).await,
            )
            .await,
        &mut seen,
    );
    for upload in &opened.part_upload_requests {
        let bytes = batch.parts[usize::try_from(upload.ordinal_number - 1).unwrap()].clone();
        assert_eq!(upload_part(&http, upload, bytes).await.status, 201);
    }
    conforms::<CloseBatchSession>(
        &http
            .post_empty(
                &format!("/sessions/batch/{}/close", opened.reference_number),
                Some(access),
            )
            .await,
        &mut seen,
    );

    let other = login(&http, &nip, sim.seeded_token()).await;
    conforms::<RevokeAuthSession>(
        &http
            .delete(&format!("/auth/sessions/{}", other.reference), Some(access))
            .await,
        &mut seen,
    );
    conforms::<RevokeCurrentAuthSession>(
        &http.delete("/auth/sessions/current", Some(access)).await,
        &mut seen,
    );

    // The administrative groups are walked by tests/contract.rs (collective identifiers also by
    // tests/collective.rs).
    let elsewhere = [
        "certificates.",
        "collective_identifiers.",
        "limits.",
        "peppol.",
        "permissions.",
        "testdata.",
    ];
    for id in ksef_sim::SIMULATED_OPERATIONS {
        if elsewhere.iter().any(|prefix| id.starts_with(prefix)) {
            continue;
        }
        assert!(seen.contains(id), "{id} not exercised");
    }
    sim.shutdown().await;
}
