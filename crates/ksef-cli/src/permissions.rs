//! `ksef permissions`: grants, revocations, operation status and queries. Request bodies are the
//! API's JSON (`--body FILE`), checked against the typed requests before anything is sent.

use std::process::ExitCode;

use ksef_client::grants::GrantRequest as _;
use ksef_model::operations::{
    GetAttachmentPermissionStatus, GetPermissionOperationStatus, QueryAuthorizationPermissions,
    QueryEntityPermissions, QueryEntityRoles, QueryEuEntityPermissions, QueryPersonPermissions,
    QueryPersonalPermissions, QuerySubordinateEntityRoles, QuerySubunitPermissions,
    RevokeAuthorizationPermission, RevokePermission,
};
use ksef_model::types::PermissionId;
use serde_json::{Value, json};

use crate::api::{collect_page, print_value, read_body, to_value};
use crate::args::{GrantKind, PermissionsCommand, QueryKind};
use crate::context::{Ctx, parse_reference};

/// Items per page of a permission query.
const PAGE_SIZE: i32 = 100;

/// Runs a `permissions` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: PermissionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        PermissionsCommand::Grant { kind, body } => {
            let body = body.body.as_deref();
            macro_rules! grant {
                ($type:ident) => {{
                    let request: ksef_model::types::$type =
                        read_body(body, stringify!($type), None)?;
                    // The rules of the spec and KSeF's documentation, before logging in.
                    request.check()?;
                    let client = ctx.logged_in_client()?;
                    client.permissions().grant(request).await?
                }};
            }
            let response = match kind {
                GrantKind::Persons => grant!(PersonPermissionsGrantRequest),
                GrantKind::Entities => grant!(EntityPermissionsGrantRequest),
                GrantKind::Authorizations => grant!(EntityAuthorizationPermissionsGrantRequest),
                GrantKind::Indirect => grant!(IndirectPermissionsGrantRequest),
                GrantKind::Subunits => grant!(SubunitPermissionsGrantRequest),
                GrantKind::EuEntityAdministration => {
                    grant!(EuEntityAdministrationPermissionsGrantRequest)
                }
                GrantKind::EuEntityRepresentatives => grant!(EuEntityPermissionsGrantRequest),
            };
            print_value(ctx, &to_value(&response)?)?;
            ctx.note("the grant runs asynchronously; check it with `ksef permissions status REF`");
            Ok(ExitCode::SUCCESS)
        }
        PermissionsCommand::Revoke {
            permission_id,
            authorization,
        } => {
            let client = ctx.logged_in_client()?;
            let id = PermissionId::from(permission_id.as_str());
            let response = if authorization {
                client
                    .permissions()
                    .revoke_authorization(RevokeAuthorizationPermission::new(id))
                    .await?
            } else {
                client
                    .permissions()
                    .revoke(RevokePermission::new(id))
                    .await?
            };
            print_value(ctx, &to_value(&response)?)?;
            Ok(ExitCode::SUCCESS)
        }
        PermissionsCommand::Status { reference } => {
            let reference = parse_reference(&reference, "copy it from the grant")?;
            let client = ctx.logged_in_client()?;
            let response = client
                .permissions()
                .operation_status(GetPermissionOperationStatus::new(reference))
                .await?;
            let code = response.status.code;
            print_value(ctx, &to_value(&response)?)?;
            Ok(if code < 300 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PermissionsCommand::Query { kind, body } => {
            let body = body.body.as_deref();
            let client = ctx.logged_in_client()?;
            let mut items: Vec<Value> = Vec::new();
            // Every page of a paged query, into `items`.
            macro_rules! pages {
                ($method:ident, $op:expr) => {{
                    let mut offset = 0;
                    loop {
                        let op = $op.with_page_size(PAGE_SIZE).with_page_offset(offset);
                        let page = client.permissions().$method(op).await?;
                        if !collect_page(to_value(&page)?, &mut items) {
                            break;
                        }
                        offset += 1;
                    }
                }};
            }
            // One row per query taking a request body: the kind, the operation, its client
            // method, its request type and the request sent when no `--body` is given.
            macro_rules! query {
                ($($kind:ident: $op:ident, $method:ident, $request:ident, $default:literal;)*) => {
                    match kind {
                        $(QueryKind::$kind => {
                            let request: ksef_model::types::$request =
                                read_body(body, stringify!($request), Some($default))?;
                            pages!($method, $op::new(request.clone()))
                        })*
                        QueryKind::EntityRoles => {
                            pages!(query_entity_roles, QueryEntityRoles::new())
                        }
                        QueryKind::Attachments => {
                            let status = client
                                .permissions()
                                .attachment_status(GetAttachmentPermissionStatus::new())
                                .await?;
                            print_value(ctx, &to_value(&status)?)?;
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                };
            }
            query! {
                Personal: QueryPersonalPermissions, query_personal,
                    PersonalPermissionsQueryRequest, "{}";
                Persons: QueryPersonPermissions, query_persons,
                    PersonPermissionsQueryRequest, r#"{"queryType":"PermissionsInCurrentContext"}"#;
                Subunits: QuerySubunitPermissions, query_subunits,
                    SubunitPermissionsQueryRequest, "{}";
                SubordinateEntityRoles: QuerySubordinateEntityRoles, query_subordinate_entity_roles,
                    SubordinateEntityRolesQueryRequest, "{}";
                Authorizations: QueryAuthorizationPermissions, query_authorizations,
                    EntityAuthorizationPermissionsQueryRequest, r#"{"queryType":"Granted"}"#;
                Entities: QueryEntityPermissions, query_entities,
                    EntityPermissionsQueryRequest, "{}";
                EuEntities: QueryEuEntityPermissions, query_eu_entities,
                    EuEntityPermissionsQueryRequest, "{}";
            }
            if !ctx.json() && items.is_empty() {
                outln!("no permissions match");
            } else {
                print_value(ctx, &json!(items))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
