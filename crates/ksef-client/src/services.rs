//! Typed access to every KSeF operation, grouped by area.
//!
//! Each method takes the operation's descriptor from [`ksef_model::operations`] (built with
//! `new(required…)` and `with_…` setters for optional path, query and header parameters) and
//! returns the parsed response. They are thin: no polling, no paging, no retries beyond the
//! transport's. The multi-step flows are on [`Client`] and [`crate::OnlineSession`].
//!
//! ```no_run
//! # async fn example(client: ksef_client::Client) -> Result<(), ksef_client::Error> {
//! use ksef_model::operations::ListTokens;
//!
//! let page = client.tokens().list(ListTokens::new().with_page_size(20)).await?;
//! println!("{} tokens", page.tokens.len());
//! # Ok(())
//! # }
//! ```

use ksef_model::Operation;
use ksef_model::operations::*;

use crate::client::Client;
use crate::error::Error;

macro_rules! service {
    (
        $(#[$meta:meta])*
        $name:ident, $accessor:ident, $area:literal {
            $( $method:ident($op:ident); )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            client: &'a Client,
        }

        impl<'a> $name<'a> {
            /// The operation ids this service covers, in declaration order.
            pub const OPERATION_IDS: &'static [&'static str] = &[$(<$op as Operation>::ID),*];

            $(
                #[doc = concat!("Runs [`", stringify!($op), "`] (see its docs for the endpoint).")]
                ///
                /// # Errors
                ///
                /// [`Error::Transport`] with what the transport or the API reported.
                pub async fn $method(&self, request: $op) -> Result<<$op as Operation>::Response, Error> {
                    self.client.execute(&request).await
                }
            )*
        }

        impl Client {
            #[doc = concat!("The ", $area, " operations.")]
            pub fn $accessor(&self) -> $name<'_> {
                $name { client: self }
            }
        }
    };
}

service! {
    /// Authentication: challenges, KSeF-token and XAdES authentication, status, token redemption
    /// and refresh, and authentication sessions.
    AuthApi, auth, "authentication" {
        challenge(GetChallenge);
        ksef_token(AuthenticateWithKsefToken);
        xades_signature(AuthenticateWithXadesSignature);
        status(GetAuthStatus);
        redeem(RedeemToken);
        refresh(RefreshAccessToken);
        list_sessions(ListAuthSessions);
        revoke_session(RevokeAuthSession);
        revoke_current_session(RevokeCurrentAuthSession);
    }
}

service! {
    /// Online and batch sessions, their invoices and UPOs.
    SessionsApi, sessions, "session" {
        open_online(OpenOnlineSession);
        send_invoice(SendInvoice);
        close_online(CloseOnlineSession);
        open_batch(OpenBatchSession);
        close_batch(CloseBatchSession);
        list(ListSessions);
        status(GetSessionStatus);
        invoices(ListSessionInvoices);
        failed_invoices(ListFailedSessionInvoices);
        invoice_status(GetSessionInvoiceStatus);
        invoice_upo(GetInvoiceUpo);
        invoice_upo_by_ksef_number(GetInvoiceUpoByKsefNumber);
        upo(GetSessionUpo);
    }
}

service! {
    /// Invoice retrieval: download, metadata queries and exports.
    InvoicesApi, invoices, "invoice retrieval" {
        download(DownloadInvoice);
        query_metadata(QueryInvoiceMetadata);
        export(ExportInvoices);
        export_status(GetInvoiceExportStatus);
    }
}

service! {
    /// KSeF tokens: generate, list, status, revoke.
    TokensApi, tokens, "KSeF token" {
        generate(GenerateToken);
        list(ListTokens);
        status(GetTokenStatus);
        revoke(RevokeToken);
    }
}

service! {
    /// KSeF-issued certificates: limits, enrollment, queries, retrieval, revocation.
    CertificatesApi, certificates, "KSeF certificate" {
        limits(GetCertificateLimits);
        enrollment_data(GetCertificateEnrollmentData);
        enroll(EnrollCertificate);
        enrollment_status(GetCertificateEnrollmentStatus);
        query(QueryCertificates);
        retrieve(RetrieveCertificates);
        revoke(RevokeCertificate);
    }
}

service! {
    /// Permissions: grants, revocations, queries and operation status.
    PermissionsApi, permissions, "permission" {
        grant_persons(GrantPersonPermissions);
        grant_entities(GrantEntityPermissions);
        grant_authorizations(GrantAuthorizationPermissions);
        grant_indirect(GrantIndirectPermissions);
        grant_subunits(GrantSubunitPermissions);
        grant_eu_entity_administration(GrantEuEntityAdministrationPermissions);
        grant_eu_entity_representatives(GrantEuEntityRepresentativePermissions);
        revoke(RevokePermission);
        revoke_authorization(RevokeAuthorizationPermission);
        operation_status(GetPermissionOperationStatus);
        attachment_status(GetAttachmentPermissionStatus);
        query_personal(QueryPersonalPermissions);
        query_persons(QueryPersonPermissions);
        query_subunits(QuerySubunitPermissions);
        query_entity_roles(QueryEntityRoles);
        query_subordinate_entity_roles(QuerySubordinateEntityRoles);
        query_authorizations(QueryAuthorizationPermissions);
        query_entities(QueryEntityPermissions);
        query_eu_entities(QueryEuEntityPermissions);
    }
}

service! {
    /// Effective limits: context, subject and API rate limits.
    LimitsApi, limits, "limit" {
        context(GetContextLimits);
        subject(GetSubjectLimits);
        rate_limits(GetRateLimits);
    }
}

service! {
    /// The test-data API (TEST environment only).
    TestDataApi, test_data, "test-data (TEST only)" {
        create_subject(CreateTestSubject);
        remove_subject(RemoveTestSubject);
        create_person(CreateTestPerson);
        remove_person(RemoveTestPerson);
        grant_permissions(GrantTestPermissions);
        revoke_permissions(RevokeTestPermissions);
        enable_attachments(EnableTestAttachments);
        revoke_attachments(RevokeTestAttachments);
        block_context(BlockTestContext);
        unblock_context(UnblockTestContext);
        set_session_limits(SetTestSessionLimits);
        reset_session_limits(ResetTestSessionLimits);
        set_certificate_limits(SetTestCertificateLimits);
        reset_certificate_limits(ResetTestCertificateLimits);
        set_rate_limits(SetTestRateLimits);
        reset_rate_limits(ResetTestRateLimits);
        set_rate_limits_to_production(SetTestRateLimitsToProduction);
        update_certificate(UpdateTestCertificate);
    }
}

service! {
    /// Collective identifiers (API 2.9.0): one identifier for a payment covering several invoices
    /// of one seller.
    CollectiveIdentifiersApi, collective_identifiers, "collective-identifier" {
        generate(GenerateCollectiveIdentifier);
        query(QueryCollectiveIdentifiers);
        by_ksef_number(GetCollectiveIdentifiersByKsefNumber);
        invoices(QueryCollectiveIdentifierInvoices);
    }
}

service! {
    /// Peppol service providers.
    PeppolApi, peppol, "Peppol" {
        query(QueryPeppolProviders);
    }
}

service! {
    /// The Ministry's public-key certificates.
    SecurityApi, security, "security" {
        public_key_certificates(GetPublicKeyCertificates);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_operation_is_covered_exactly_once() {
        let groups: [&[&str]; 11] = [
            AuthApi::OPERATION_IDS,
            SessionsApi::OPERATION_IDS,
            InvoicesApi::OPERATION_IDS,
            TokensApi::OPERATION_IDS,
            CertificatesApi::OPERATION_IDS,
            PermissionsApi::OPERATION_IDS,
            LimitsApi::OPERATION_IDS,
            TestDataApi::OPERATION_IDS,
            PeppolApi::OPERATION_IDS,
            SecurityApi::OPERATION_IDS,
            CollectiveIdentifiersApi::OPERATION_IDS,
        ];
        let all: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        let unique: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "an operation is listed twice");
        // The generated table is the spec's: every operation in it needs a method here.
        let spec: BTreeSet<&str> = ksef_model::operations::ALL.iter().map(|i| i.id).collect();
        let missing: Vec<&str> = spec.difference(&unique).copied().collect();
        assert!(
            missing.is_empty(),
            "operations without a client method: {missing:?}"
        );
        let stray: Vec<&str> = unique.difference(&spec).copied().collect();
        assert!(
            stray.is_empty(),
            "methods for no operation of the spec: {stray:?}"
        );
    }
}
