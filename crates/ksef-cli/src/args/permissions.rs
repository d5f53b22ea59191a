//! The arguments of `ksef permissions`.

use clap::{Subcommand, ValueEnum};

use super::BodyArgs;

/// `ksef permissions ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PermissionsCommand {
    /// Grant permissions (asynchronous: prints the operation's reference number).
    Grant {
        /// What kind of grant.
        #[arg(value_enum)]
        kind: GrantKind,
        /// The grant request.
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Revoke a granted permission by its id.
    Revoke {
        /// The permission id (from `ksef permissions query`).
        permission_id: String,
        /// The id is of an entity authorization (self-invoicing, tax representative, PEF).
        #[arg(long)]
        authorization: bool,
    },
    /// The status of a grant or revocation operation.
    Status {
        /// The operation's reference number.
        reference: String,
    },
    /// Query permissions (every page).
    Query {
        /// Which permissions.
        #[arg(value_enum)]
        kind: QueryKind,
        /// The query filters (default: none; `persons` defaults to the permissions in the current
        /// context, `authorizations` to those granted).
        #[command(flatten)]
        body: BodyArgs,
    },
}

/// Kinds of permission grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GrantKind {
    /// To persons (PersonPermissionsGrantRequest).
    Persons,
    /// To entities (EntityPermissionsGrantRequest).
    Entities,
    /// Entity authorizations (EntityAuthorizationPermissionsGrantRequest).
    Authorizations,
    /// Indirect, through an intermediary (IndirectPermissionsGrantRequest).
    Indirect,
    /// Subunit administrators (SubunitPermissionsGrantRequest).
    Subunits,
    /// EU entity administration (EuEntityAdministrationPermissionsGrantRequest).
    EuEntityAdministration,
    /// EU entity representatives (EuEntityPermissionsGrantRequest).
    EuEntityRepresentatives,
}

/// Kinds of permission queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum QueryKind {
    /// The caller's own permissions.
    Personal,
    /// Permissions granted to persons.
    Persons,
    /// Subunit administrators.
    Subunits,
    /// The context's entity roles.
    EntityRoles,
    /// Roles of subordinate entities.
    SubordinateEntityRoles,
    /// Entity authorizations.
    Authorizations,
    /// Permissions granted to entities.
    Entities,
    /// EU entity permissions.
    EuEntities,
    /// Whether the context may send invoices with attachments.
    Attachments,
}
