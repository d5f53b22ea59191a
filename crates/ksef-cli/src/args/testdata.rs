//! The arguments of `ksef testdata`.

use clap::{Args, ValueEnum};

use super::BodyArgs;

/// `ksef testdata OPERATION [--body FILE]`.
#[derive(Debug, Args)]
pub(crate) struct TestdataArgs {
    /// The test-data operation.
    #[arg(value_enum)]
    pub(crate) operation: TestdataOp,
    /// certificate-update: the certificate's serial number (16 hexadecimal digits).
    #[arg(long, value_name = "SERIAL")]
    pub(crate) serial: Option<String>,
    /// certificate-update: its new end of validity (RFC 3339 or YYYY-MM-DD), not later than the
    /// current one.
    #[arg(long, value_name = "T")]
    pub(crate) valid_to: Option<String>,
    /// Its request body, where it takes one.
    #[command(flatten)]
    pub(crate) body: BodyArgs,
}

/// The test-data operations (TEST environment only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestdataOp {
    /// Create a test subject (SubjectCreateRequest).
    SubjectCreate,
    /// Remove a test subject (SubjectRemoveRequest).
    SubjectRemove,
    /// Create a test person (PersonCreateRequest).
    PersonCreate,
    /// Remove a test person (PersonRemoveRequest).
    PersonRemove,
    /// Grant test permissions (TestDataPermissionsGrantRequest).
    PermissionsGrant,
    /// Revoke test permissions (TestDataPermissionsRevokeRequest).
    PermissionsRevoke,
    /// Allow invoices with attachments (AttachmentPermissionGrantRequest).
    AttachmentsEnable,
    /// Disallow invoices with attachments (AttachmentPermissionRevokeRequest).
    AttachmentsRevoke,
    /// Block authentication in a context (BlockContextAuthenticationRequest).
    ContextBlock,
    /// Unblock authentication in a context (UnblockContextAuthenticationRequest).
    ContextUnblock,
    /// Change the session limits (SetSessionLimitsRequest).
    SessionLimitsSet,
    /// Restore the default session limits.
    SessionLimitsReset,
    /// Change the certificate limits (SetSubjectLimitsRequest).
    CertificateLimitsSet,
    /// Restore the default certificate limits.
    CertificateLimitsReset,
    /// Shorten a KSeF certificate's validity (--serial, --valid-to; or --body
    /// TestDataUpdateCertificateRequest).
    CertificateUpdate,
    /// Change the API rate limits (SetRateLimitsRequest).
    RateLimitsSet,
    /// Restore the default API rate limits.
    RateLimitsReset,
    /// Use production's API rate limits.
    RateLimitsProduction,
}
