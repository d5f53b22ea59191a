//! The contract test: every operation of the spec, walked with a valid request and with an
//! invalid one. Each answer must carry a status the spec lists for the operation (its success
//! status for the valid request, one of its error statuses for the invalid one), and its body
//! must deserialize into the spec's response type or the error schema of that status. No
//! operation may answer 500 or 501.

#[path = "../common/mod.rs"]
mod common;
mod invalid;
mod valid;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use ksef_model::operations::*;
use ksef_model::types::{
    AuthenticationChallengeResponse, BadRequestProblemDetails, ExceptionResponse,
    ForbiddenProblemDetails, TooManyRequestsResponse, UnauthorizedProblemDetails,
};
use ksef_model::{ContentKind, OperationInfo};
use ksef_sim::Simulator;
use serde_json::{Value, json};

/// Parses `body` as the response type of operation `O`.
fn parse<O: ksef_model::Operation>(body: &[u8]) -> Result<(), String> {
    O::parse_response(body).map(drop).map_err(|e| e.to_string())
}

/// Parses `body` as the response type of operation `id`.
fn parse_response(id: &str, body: &[u8]) -> Result<(), String> {
    match id {
        "auth.challenge" => parse::<GetChallenge>(body),
        "auth.ksef_token" => parse::<AuthenticateWithKsefToken>(body),
        "auth.sessions.list" => parse::<ListAuthSessions>(body),
        "auth.sessions.revoke" => parse::<RevokeAuthSession>(body),
        "auth.sessions.revoke_current" => parse::<RevokeCurrentAuthSession>(body),
        "auth.status" => parse::<GetAuthStatus>(body),
        "auth.token.redeem" => parse::<RedeemToken>(body),
        "auth.token.refresh" => parse::<RefreshAccessToken>(body),
        "auth.xades_signature" => parse::<AuthenticateWithXadesSignature>(body),
        "certificates.enroll" => parse::<EnrollCertificate>(body),
        "certificates.enrollment_data" => parse::<GetCertificateEnrollmentData>(body),
        "certificates.enrollment_status" => parse::<GetCertificateEnrollmentStatus>(body),
        "certificates.limits" => parse::<GetCertificateLimits>(body),
        "certificates.query" => parse::<QueryCertificates>(body),
        "certificates.retrieve" => parse::<RetrieveCertificates>(body),
        "certificates.revoke" => parse::<RevokeCertificate>(body),
        "invoices.download" => parse::<DownloadInvoice>(body),
        "invoices.export" => parse::<ExportInvoices>(body),
        "invoices.export_status" => parse::<GetInvoiceExportStatus>(body),
        "invoices.query_metadata" => parse::<QueryInvoiceMetadata>(body),
        "limits.context" => parse::<GetContextLimits>(body),
        "limits.rate_limits" => parse::<GetRateLimits>(body),
        "limits.subject" => parse::<GetSubjectLimits>(body),
        "peppol.query" => parse::<QueryPeppolProviders>(body),
        "permissions.attachments.status" => parse::<GetAttachmentPermissionStatus>(body),
        "permissions.authorizations.grant" => parse::<GrantAuthorizationPermissions>(body),
        "permissions.authorizations.revoke" => parse::<RevokeAuthorizationPermission>(body),
        "permissions.entities.grant" => parse::<GrantEntityPermissions>(body),
        "permissions.eu_entities.administration.grant" => {
            parse::<GrantEuEntityAdministrationPermissions>(body)
        }
        "permissions.eu_entities.grant" => parse::<GrantEuEntityRepresentativePermissions>(body),
        "permissions.indirect.grant" => parse::<GrantIndirectPermissions>(body),
        "permissions.operation_status" => parse::<GetPermissionOperationStatus>(body),
        "permissions.persons.grant" => parse::<GrantPersonPermissions>(body),
        "permissions.query.authorizations" => parse::<QueryAuthorizationPermissions>(body),
        "permissions.query.entities" => parse::<QueryEntityPermissions>(body),
        "permissions.query.entity_roles" => parse::<QueryEntityRoles>(body),
        "permissions.query.eu_entities" => parse::<QueryEuEntityPermissions>(body),
        "permissions.query.personal" => parse::<QueryPersonalPermissions>(body),
        "permissions.query.persons" => parse::<QueryPersonPermissions>(body),
        "permissions.query.subordinate_entity_roles" => parse::<QuerySubordinateEntityRoles>(body),
        "permissions.query.subunits" => parse::<QuerySubunitPermissions>(body),
        "permissions.revoke" => parse::<RevokePermission>(body),
        "permissions.subunits.grant" => parse::<GrantSubunitPermissions>(body),
        "security.public_key_certificates" => parse::<GetPublicKeyCertificates>(body),
        "sessions.batch.close" => parse::<CloseBatchSession>(body),
        "sessions.batch.open" => parse::<OpenBatchSession>(body),
        "sessions.failed_invoices" => parse::<ListFailedSessionInvoices>(body),
        "sessions.invoice_status" => parse::<GetSessionInvoiceStatus>(body),
        "sessions.invoice_upo" => parse::<GetInvoiceUpo>(body),
        "sessions.invoice_upo_by_ksef_number" => parse::<GetInvoiceUpoByKsefNumber>(body),
        "sessions.invoices" => parse::<ListSessionInvoices>(body),
        "sessions.list" => parse::<ListSessions>(body),
        "sessions.online.close" => parse::<CloseOnlineSession>(body),
        "sessions.online.open" => parse::<OpenOnlineSession>(body),
        "sessions.online.send_invoice" => parse::<SendInvoice>(body),
        "sessions.status" => parse::<GetSessionStatus>(body),
        "sessions.upo" => parse::<GetSessionUpo>(body),
        "testdata.attachment.enable" => parse::<EnableTestAttachments>(body),
        "testdata.attachment.revoke" => parse::<RevokeTestAttachments>(body),
        "testdata.context.block" => parse::<BlockTestContext>(body),
        "testdata.context.unblock" => parse::<UnblockTestContext>(body),
        "testdata.limits.certificate.reset" => parse::<ResetTestCertificateLimits>(body),
        "testdata.limits.certificate.set" => parse::<SetTestCertificateLimits>(body),
        "testdata.limits.session.reset" => parse::<ResetTestSessionLimits>(body),
        "testdata.limits.session.set" => parse::<SetTestSessionLimits>(body),
        "testdata.permissions.grant" => parse::<GrantTestPermissions>(body),
        "testdata.permissions.revoke" => parse::<RevokeTestPermissions>(body),
        "testdata.person.create" => parse::<CreateTestPerson>(body),
        "testdata.person.remove" => parse::<RemoveTestPerson>(body),
        "testdata.rate_limits.production" => parse::<SetTestRateLimitsToProduction>(body),
        "testdata.rate_limits.reset" => parse::<ResetTestRateLimits>(body),
        "testdata.rate_limits.set" => parse::<SetTestRateLimits>(body),
        "testdata.subject.create" => parse::<CreateTestSubject>(body),
        "testdata.subject.remove" => parse::<RemoveTestSubject>(body),
        "tokens.generate" => parse::<GenerateToken>(body),
        "tokens.list" => parse::<ListTokens>(body),
        "tokens.revoke" => parse::<RevokeToken>(body),
        "tokens.status" => parse::<GetTokenStatus>(body),
        "collective_identifiers.generate" => parse::<GenerateCollectiveIdentifier>(body),
        "collective_identifiers.query" => parse::<QueryCollectiveIdentifiers>(body),
        "collective_identifiers.by_ksef_number" => {
            parse::<GetCollectiveIdentifiersByKsefNumber>(body)
        }
        "collective_identifiers.invoices" => parse::<QueryCollectiveIdentifierInvoices>(body),
        "testdata.certificates.update" => parse::<UpdateTestCertificate>(body),
        other => Err(format!("unknown operation {other}")),
    }
}

fn info(id: &str) -> &'static OperationInfo {
    ALL.iter()
        .find(|op| op.id == id)
        .unwrap_or_else(|| panic!("{id} is not an operation of the spec"))
}

/// Checks an error answer: a status the spec lists for the operation, and a body of the error
/// schema of that status.
fn check_error(op: &OperationInfo, resp: &Resp, what: &str) {
    assert!(
        op.error_statuses.contains(&resp.status),
        "{} ({what}): status {} is not among the spec's {:?}: {}",
        op.id,
        resp.status,
        op.error_statuses,
        resp.text()
    );
    let parsed = match resp.status {
        401 => serde_json::from_slice::<UnauthorizedProblemDetails>(&resp.body).map(drop),
        403 => serde_json::from_slice::<ForbiddenProblemDetails>(&resp.body).map(drop),
        429 => serde_json::from_slice::<TooManyRequestsResponse>(&resp.body).map(drop),
        _ => serde_json::from_slice::<ExceptionResponse>(&resp.body).map(|e| {
            assert!(
                e.exception.is_some(),
                "{}: no exception in {}",
                op.id,
                resp.text()
            );
        }),
    };
    parsed.unwrap_or_else(|e| panic!("{} ({what}): error body: {e}: {}", op.id, resp.text()));
}

/// An invalid request: what is wrong, the path, the bearer token, the body and extra headers.
type Invalid<'a> = (
    &'static str,
    String,
    Option<&'a str>,
    Option<&'static [u8]>,
    &'a [(&'static str, &'static str)],
);

struct Walk {
    seen: BTreeSet<&'static str>,
}

impl Walk {
    /// Checks a valid request's answer: the success status and a body of the response type.
    /// Returns the body as JSON (`Null` when it is not JSON).
    fn ok(&mut self, id: &'static str, resp: &Resp) -> Value {
        let op = info(id);
        assert!(
            !matches!(resp.status, 500 | 501),
            "{id}: {} {}",
            resp.status,
            resp.text()
        );
        assert_eq!(resp.status, op.success_status, "{id}: {}", resp.text());
        parse_response(id, &resp.body).unwrap_or_else(|e| panic!("{id}: {e}: {}", resp.text()));
        self.seen.insert(id);
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
    }

    /// Posts `body` to `path` and checks the answer as [`Walk::ok`] does.
    async fn post_ok<T: serde::Serialize>(
        &mut self,
        http: &Http,
        id: &'static str,
        path: &str,
        bearer: Option<&str>,
        body: &T,
    ) -> Value {
        self.ok(id, &http.post(path, bearer, body).await)
    }

    /// Checks an answer that the spec documents as an error for a request that is valid in
    /// form but not allowed for this caller (e.g. 403 for a missing permission).
    fn refused(&mut self, id: &'static str, resp: &Resp, status: u16) {
        let op = info(id);
        assert_eq!(resp.status, status, "{id}: {}", resp.text());
        check_error(op, resp, "refused");
        self.seen.insert(id);
    }
}

const NIP_B: &str = "1111111111";
const NIP_C: &str = "2222222222";
const NIP_D: &str = "3333333333";
const NIP_E: &str = "4444444444";
const PESEL: &str = "80010112340";
const FINGERPRINT: &str = "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12";

fn person_details() -> Value {
    json!({"subjectDetailsType": "PersonByIdentifier",
           "personById": {"firstName": "Jan", "lastName": "Kowalski"}})
}

async fn xades_login(http: &Http, nip: &str) -> Login {
    use ksef_crypto::test_certificates::{KeyType, TestCertificate};
    use ksef_xades::request::{AuthTokenRequest, ContextIdentifier};
    let nip: ksef_model::values::Nip = nip.parse().unwrap();
    let seal = TestCertificate::company("Firma Testowa", &nip, KeyType::EcdsaP256).unwrap();
    let challenge: AuthenticationChallengeResponse =
        http.post_empty("/auth/challenge", None).await.json();
    let request = AuthTokenRequest::new(challenge.challenge, ContextIdentifier::Nip(nip));
    let signed =
        ksef_xades::xades::sign(&request.to_xml().unwrap(), &seal.signer().unwrap()).unwrap();
    finish_login(http, post_xades(http, signed).await)
        .await
        .expect("the XAdES login succeeds")
}

async fn post(http: &Http, path: &str, bearer: &str, body: Value) -> Resp {
    http.post(path, Some(bearer), &body).await
}
