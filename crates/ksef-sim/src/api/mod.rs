//! The operation handlers, one module per area, and the route table from each simulated
//! operation (by its generated [`Operation::ID`]) to its handler. What handlers share lives in
//! [`common`]; a handler never imports another handler.

pub(crate) mod admin;
mod auth;
pub(crate) mod batch;
mod certificates;
mod collective;
pub(crate) mod common;
pub(crate) mod exports;
mod invoices;
mod permission_queries;
mod permissions;
pub(crate) mod sessions;
mod tokens;

use ksef_model::Operation;
use ksef_model::operations as ops;

use self::common::{Reply, Req, json};
use crate::errors::ApiError;
use crate::shared::Shared;

/// Answers one routed, authorised request of its operation.
pub(crate) type Handler = fn(&Shared, &Req) -> Result<Reply, ApiError>;

/// Every simulated operation, by its generated id, and its handler. An operation of the spec
/// missing here answers `501 Not Implemented`.
pub(crate) const ROUTES: &[(&str, Handler)] = &[
    (ops::GetPublicKeyCertificates::ID, |shared, _| {
        json(200, &shared.certificates)
    }),
    (ops::GetChallenge::ID, auth::challenge),
    (ops::AuthenticateWithKsefToken::ID, auth::ksef_token),
    (
        ops::AuthenticateWithXadesSignature::ID,
        auth::xades_signature,
    ),
    (ops::GetAuthStatus::ID, auth::status),
    (ops::RedeemToken::ID, auth::redeem),
    (ops::RefreshAccessToken::ID, auth::refresh),
    (ops::ListAuthSessions::ID, auth::list_sessions),
    (ops::RevokeCurrentAuthSession::ID, auth::revoke_current),
    (ops::RevokeAuthSession::ID, auth::revoke),
    (ops::GenerateToken::ID, tokens::generate),
    (ops::ListTokens::ID, tokens::list),
    (ops::GetTokenStatus::ID, tokens::status),
    (ops::RevokeToken::ID, tokens::revoke),
    (ops::OpenOnlineSession::ID, sessions::open),
    (ops::SendInvoice::ID, sessions::send_invoice),
    (ops::CloseOnlineSession::ID, sessions::close),
    (ops::OpenBatchSession::ID, batch::open),
    (ops::CloseBatchSession::ID, batch::close),
    (ops::GetSessionStatus::ID, sessions::status),
    (ops::ListSessions::ID, sessions::list),
    (ops::ListSessionInvoices::ID, |shared, req| {
        sessions::invoices(shared, req, false)
    }),
    (ops::ListFailedSessionInvoices::ID, |shared, req| {
        sessions::invoices(shared, req, true)
    }),
    (ops::GetSessionInvoiceStatus::ID, sessions::invoice_status),
    (ops::GetInvoiceUpo::ID, sessions::invoice_upo),
    (
        ops::GetInvoiceUpoByKsefNumber::ID,
        sessions::invoice_upo_by_ksef_number,
    ),
    (ops::GetSessionUpo::ID, sessions::session_upo),
    (ops::DownloadInvoice::ID, invoices::download),
    (ops::QueryInvoiceMetadata::ID, invoices::query_metadata),
    (ops::ExportInvoices::ID, exports::start),
    (ops::GetInvoiceExportStatus::ID, exports::status),
    (ops::GetContextLimits::ID, admin::context_limits),
    (ops::GetSubjectLimits::ID, admin::subject_limits),
    (ops::GetRateLimits::ID, admin::rate_limits),
    (ops::SetTestRateLimits::ID, admin::set_rate_limits),
    (ops::ResetTestRateLimits::ID, admin::reset_rate_limits),
    (
        ops::SetTestRateLimitsToProduction::ID,
        admin::production_rate_limits,
    ),
    (ops::SetTestSessionLimits::ID, admin::set_session_limits),
    (ops::ResetTestSessionLimits::ID, admin::reset_session_limits),
    (
        ops::SetTestCertificateLimits::ID,
        admin::set_certificate_limits,
    ),
    (
        ops::ResetTestCertificateLimits::ID,
        admin::reset_certificate_limits,
    ),
    (ops::CreateTestSubject::ID, admin::create_subject),
    (ops::RemoveTestSubject::ID, admin::remove_subject),
    (ops::CreateTestPerson::ID, admin::create_person),
    (ops::RemoveTestPerson::ID, admin::remove_person),
    (ops::GrantTestPermissions::ID, admin::grant_test_permissions),
    (
        ops::RevokeTestPermissions::ID,
        admin::revoke_test_permissions,
    ),
    (ops::EnableTestAttachments::ID, admin::enable_attachments),
    (ops::RevokeTestAttachments::ID, admin::revoke_attachments),
    (ops::BlockTestContext::ID, admin::block_context),
    (ops::UnblockTestContext::ID, admin::unblock_context),
    (ops::QueryPeppolProviders::ID, admin::peppol),
    (
        ops::GetAttachmentPermissionStatus::ID,
        admin::attachment_status,
    ),
    (ops::GrantPersonPermissions::ID, permissions::grant_persons),
    (ops::GrantEntityPermissions::ID, permissions::grant_entities),
    (
        ops::GrantAuthorizationPermissions::ID,
        permissions::grant_authorization,
    ),
    (
        ops::GrantIndirectPermissions::ID,
        permissions::grant_indirect,
    ),
    (ops::GrantSubunitPermissions::ID, permissions::grant_subunit),
    (
        ops::GrantEuEntityAdministrationPermissions::ID,
        permissions::grant_eu_administration,
    ),
    (
        ops::GrantEuEntityRepresentativePermissions::ID,
        permissions::grant_eu_representative,
    ),
    (ops::RevokePermission::ID, |shared, req| {
        permissions::revoke(shared, req, false)
    }),
    (ops::RevokeAuthorizationPermission::ID, |shared, req| {
        permissions::revoke(shared, req, true)
    }),
    (
        ops::GetPermissionOperationStatus::ID,
        permissions::operation_status,
    ),
    (
        ops::QueryPersonalPermissions::ID,
        permission_queries::query_personal,
    ),
    (
        ops::QueryPersonPermissions::ID,
        permission_queries::query_persons,
    ),
    (
        ops::QueryEntityPermissions::ID,
        permission_queries::query_entities,
    ),
    (
        ops::QueryAuthorizationPermissions::ID,
        permission_queries::query_authorizations,
    ),
    (
        ops::QueryEntityRoles::ID,
        permission_queries::query_entity_roles,
    ),
    (
        ops::QuerySubordinateEntityRoles::ID,
        permission_queries::query_subordinate_roles,
    ),
    (
        ops::QuerySubunitPermissions::ID,
        permission_queries::query_subunits,
    ),
    (
        ops::QueryEuEntityPermissions::ID,
        permission_queries::query_eu_entities,
    ),
    (ops::GetCertificateLimits::ID, certificates::limits),
    (
        ops::GetCertificateEnrollmentData::ID,
        certificates::enrollment_data,
    ),
    (ops::EnrollCertificate::ID, certificates::enroll),
    (
        ops::GetCertificateEnrollmentStatus::ID,
        certificates::enrollment_status,
    ),
    (ops::RetrieveCertificates::ID, certificates::retrieve),
    (ops::QueryCertificates::ID, certificates::query),
    (ops::RevokeCertificate::ID, certificates::revoke),
    (ops::GenerateCollectiveIdentifier::ID, collective::generate),
    (ops::QueryCollectiveIdentifiers::ID, collective::query),
    (
        ops::GetCollectiveIdentifiersByKsefNumber::ID,
        collective::by_ksef_number,
    ),
    (
        ops::QueryCollectiveIdentifierInvoices::ID,
        collective::invoices,
    ),
    (
        ops::UpdateTestCertificate::ID,
        collective::update_certificate,
    ),
];

/// The operation ids (see [`ksef_model::OperationInfo::id`]) this version simulates: every
/// operation of the spec (an operation missing here would answer `501 Not Implemented`).
pub const SIMULATED_OPERATIONS: &[&str] = &route_ids();

/// The ids of [`ROUTES`], in its order.
const fn route_ids() -> [&'static str; ROUTES.len()] {
    let mut ids = [""; ROUTES.len()];
    let mut i = 0;
    while i < ROUTES.len() {
        ids[i] = ROUTES[i].0;
        i += 1;
    }
    ids
}

/// The handler of the operation `id`, if it is simulated.
pub(crate) fn handler(id: &str) -> Option<Handler> {
    ROUTES
        .iter()
        .find(|(route, _)| *route == id)
        .map(|(_, handler)| *handler)
}

#[cfg(test)]
mod tests {
    use ksef_model::operations::ALL;

    use super::{ROUTES, SIMULATED_OPERATIONS};

    #[test]
    fn every_route_is_an_operation_of_the_spec_listed_once() {
        for (index, (id, _)) in ROUTES.iter().enumerate() {
            assert!(ALL.iter().any(|op| op.id == *id), "{id}");
            assert!(
                ROUTES[index + 1..].iter().all(|(other, _)| other != id),
                "{id} is routed twice"
            );
        }
        assert_eq!(SIMULATED_OPERATIONS.len(), ROUTES.len());
    }
}
