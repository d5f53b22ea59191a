//! `ksef testdata`: the TEST environment's test-data API (subjects, persons, permissions,
//! attachments, context blocking, limits, a certificate's validity). Request bodies are the API's
//! JSON (`--body FILE`).

use std::process::ExitCode;

use anyhow::bail;
use ksef_model::operations::{
    BlockTestContext, CreateTestPerson, CreateTestSubject, EnableTestAttachments,
    GrantTestPermissions, RemoveTestPerson, RemoveTestSubject, ResetTestCertificateLimits,
    ResetTestRateLimits, ResetTestSessionLimits, RevokeTestAttachments, RevokeTestPermissions,
    SetTestCertificateLimits, SetTestRateLimits, SetTestRateLimitsToProduction,
    SetTestSessionLimits, UnblockTestContext, UpdateTestCertificate,
};
use serde_json::json;

use crate::api::{print_value, read_body};
use crate::args::{TestdataArgs, TestdataOp};
use crate::context::Ctx;

/// Runs `ksef testdata`.
pub(crate) async fn run(ctx: &Ctx, args: TestdataArgs) -> anyhow::Result<ExitCode> {
    let body = args.body.body.as_deref();
    let client = ctx.client()?;
    let api = client.test_data();
    macro_rules! with_body {
        ($op:ident, $method:ident, $request:ident) => {{
            let request: ksef_model::types::$request = read_body(body, stringify!($request), None)?;
            api.$method($op::new(request)).await?
        }};
    }
    macro_rules! without_body {
        ($op:ident, $method:ident) => {{
            if body.is_some() {
                bail!("this operation takes no --body");
            }
            api.$method($op::new()).await?
        }};
    }
    if args.operation != TestdataOp::CertificateUpdate
        && (args.serial.is_some() || args.valid_to.is_some())
    {
        bail!("--serial and --valid-to belong to certificate-update only");
    }
    let name = match args.operation {
        TestdataOp::SubjectCreate => {
            with_body!(CreateTestSubject, create_subject, SubjectCreateRequest);
            "subject-create"
        }
        TestdataOp::SubjectRemove => {
            with_body!(RemoveTestSubject, remove_subject, SubjectRemoveRequest);
            "subject-remove"
        }
        TestdataOp::PersonCreate => {
            with_body!(CreateTestPerson, create_person, PersonCreateRequest);
            "person-create"
        }
        TestdataOp::PersonRemove => {
            with_body!(RemoveTestPerson, remove_person, PersonRemoveRequest);
            "person-remove"
        }
        TestdataOp::PermissionsGrant => {
            with_body!(
                GrantTestPermissions,
                grant_permissions,
                TestDataPermissionsGrantRequest
            );
            "permissions-grant"
        }
        TestdataOp::PermissionsRevoke => {
            with_body!(
                RevokeTestPermissions,
                revoke_permissions,
                TestDataPermissionsRevokeRequest
            );
            "permissions-revoke"
        }
        TestdataOp::AttachmentsEnable => {
            with_body!(
                EnableTestAttachments,
                enable_attachments,
                AttachmentPermissionGrantRequest
            );
            "attachments-enable"
        }
        TestdataOp::AttachmentsRevoke => {
            with_body!(
                RevokeTestAttachments,
                revoke_attachments,
                AttachmentPermissionRevokeRequest
            );
            "attachments-revoke"
        }
        TestdataOp::ContextBlock => {
            with_body!(
                BlockTestContext,
                block_context,
                BlockContextAuthenticationRequest
            );
            "context-block"
        }
        TestdataOp::ContextUnblock => {
            with_body!(
                UnblockTestContext,
                unblock_context,
                UnblockContextAuthenticationRequest
            );
            "context-unblock"
        }
        TestdataOp::SessionLimitsSet => {
            with_body!(
                SetTestSessionLimits,
                set_session_limits,
                SetSessionLimitsRequest
            );
            "session-limits-set"
        }
        TestdataOp::SessionLimitsReset => {
            without_body!(ResetTestSessionLimits, reset_session_limits);
            "session-limits-reset"
        }
        TestdataOp::CertificateLimitsSet => {
            with_body!(
                SetTestCertificateLimits,
                set_certificate_limits,
                SetSubjectLimitsRequest
            );
            "certificate-limits-set"
        }
        TestdataOp::CertificateLimitsReset => {
            without_body!(ResetTestCertificateLimits, reset_certificate_limits);
            "certificate-limits-reset"
        }
        TestdataOp::CertificateUpdate => {
            let Some(serial) = args.serial.as_deref() else {
                bail!("certificate-update needs --serial SERIAL");
            };
            let request: ksef_model::types::TestDataUpdateCertificateRequest =
                match (&args.valid_to, body) {
                    (Some(_), Some(_)) => bail!("give --valid-to or --body, not both"),
                    (Some(text), None) => ksef_model::types::TestDataUpdateCertificateRequest::new(
                        crate::invoice::parse_time(text, "--valid-to")?,
                    ),
                    (None, _) => read_body(body, "TestDataUpdateCertificateRequest", None)?,
                };
            if serial.len() != 16 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("--serial {serial:?} is not 16 hexadecimal digits");
            }
            api.update_certificate(UpdateTestCertificate::new(
                serial.to_ascii_uppercase(),
                request,
            ))
            .await?;
            "certificate-update"
        }
        TestdataOp::RateLimitsSet => {
            with_body!(SetTestRateLimits, set_rate_limits, SetRateLimitsRequest);
            "rate-limits-set"
        }
        TestdataOp::RateLimitsReset => {
            without_body!(ResetTestRateLimits, reset_rate_limits);
            "rate-limits-reset"
        }
        TestdataOp::RateLimitsProduction => {
            without_body!(SetTestRateLimitsToProduction, set_rate_limits_to_production);
            "rate-limits-production"
        }
    };
    if ctx.json() {
        print_value(ctx, &json!({ "operation": name, "ok": true }))?;
    } else {
        outln!("✓ testdata {name}");
    }
    Ok(ExitCode::SUCCESS)
}
