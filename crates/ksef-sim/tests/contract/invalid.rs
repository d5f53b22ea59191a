//! An invalid request of every operation, refused with an error status the spec lists.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_refuses_an_invalid_request_per_spec() {
    let (sim, http) =
        start_with(Simulator::builder().processing_delays(Duration::from_millis(20))).await;
    let creds = login(&http, sim.seeded_nip(), sim.seeded_token()).await;
    let mut skipped = Vec::new();
    for op in ALL {
        let bearer = match op.auth {
            ksef_model::Auth::AccessToken => Some(creds.access.as_str()),
            ksef_model::Auth::AuthenticationToken => Some(creds.authentication_token.as_str()),
            ksef_model::Auth::RefreshToken => Some(creds.refresh.as_str()),
            _ => None,
        };
        let has_params = op.path_template.contains('{');
        let path = op
            .path_template
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "20250101-XX-0000000000-0000000000-00"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let xml = [("content-type", "application/xml")];
        let (what, target, bearer, body, headers): Invalid<'_> =
            if op.request_content == ContentKind::Json {
                // Not an object: refused by every request schema.
                (
                    "a body of the wrong shape",
                    path.clone(),
                    bearer,
                    Some(b"[1, 2]"),
                    &[],
                )
            } else if op.request_content != ContentKind::Empty {
                (
                    "a body that is not the document",
                    path.clone(),
                    bearer,
                    Some(b"<not-xml"),
                    &xml,
                )
            } else if has_params {
                ("an unknown reference", path.clone(), bearer, None, &[])
            } else if bearer.is_some() {
                (
                    "a malformed bearer token",
                    path.clone(),
                    Some("not.a.jwt"),
                    None,
                    &[],
                )
            } else if op.id == "peppol.query" {
                (
                    "a page size below the minimum",
                    format!("{path}?pageSize=1"),
                    None,
                    None,
                    &[],
                )
            } else {
                // Public operations without input: nothing can be wrong.
                skipped.push(op.id);
                continue;
            };
        let resp = http
            .send(
                op.method.as_str(),
                &target,
                bearer,
                body.map(<[u8]>::to_vec),
                headers,
            )
            .await;
        assert!(
            !matches!(resp.status, 500 | 501),
            "{}: {} {}",
            op.id,
            resp.status,
            resp.text()
        );
        assert_ne!(
            resp.status,
            op.success_status,
            "{} accepted {what}: {}",
            op.id,
            resp.text()
        );
        check_error(op, &resp, what);
        // The same in the Problem Details format.
        if resp.status == 400 {
            let mut problem_headers = headers.to_vec();
            problem_headers.push(("x-error-format", "problem-details"));
            let problem = http
                .send(
                    op.method.as_str(),
                    &target,
                    bearer,
                    body.map(<[u8]>::to_vec),
                    &problem_headers,
                )
                .await;
            assert_eq!(problem.status, 400, "{}: {}", op.id, problem.text());
            assert_eq!(
                problem.headers["content-type"], "application/problem+json",
                "{}",
                op.id
            );
            let details: BadRequestProblemDetails = problem.json();
            assert!(!details.errors.is_empty(), "{}: {}", op.id, problem.text());
        }
    }
    assert_eq!(
        skipped,
        ["auth.challenge", "security.public_key_certificates"]
    );
    assert_eq!(sim.stats().internal_errors, 0);
    sim.shutdown().await;
}
