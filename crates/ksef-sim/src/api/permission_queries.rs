//! `/permissions/query/...`: the permission queries, over the grants that
//! [`permissions`](super::permissions) records (paged, newest first).

use chrono::{DateTime, Utc};
use ksef_model::types::{
    EntityAuthorizationPermissionsQueryRequest, EntityPermissionsQueryRequest,
    EuEntityPermissionsQueryRequest, PersonPermissionsQueryRequest,
    PersonalPermissionsQueryRequest, SubordinateEntityRolesQueryRequest,
    SubunitPermissionsQueryRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json as j};

use super::common::subjects::subject_of;
use super::common::{Reply, Req, internal, json};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{Grant, GrantKind};

/// Whether a query's optional `permissionTypes` (none or empty: every type) admits `scope`.
macro_rules! wants_scope {
    ($types:expr, $scope:expr) => {
        $types
            .as_ref()
            .is_none_or(|t| t.is_empty() || t.iter().any(|t| t.as_str() == $scope))
    };
}

/// A generated response type from JSON (so that the shape is checked against the spec's types).
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(internal)
}

/// One page (`pageOffset` is a page index; `pageSize` 10..=100) and whether more follow.
fn page<T>(req: &Req, items: Vec<T>) -> Result<(Vec<T>, bool), ApiError> {
    let size = usize::try_from(req.query_int("pageSize", 10, 10, 100)?).unwrap_or(10);
    let index =
        usize::try_from(req.query_int("pageOffset", 0, 0, i64::from(i32::MAX))?).unwrap_or(0);
    let start = index.saturating_mul(size);
    let more = items.len() > start.saturating_add(size);
    Ok((items.into_iter().skip(start).take(size).collect(), more))
}

/// Grants sorted as KSeF lists them: `startDate` descending, then id.
fn sorted(mut grants: Vec<&Grant>) -> Vec<&Grant> {
    grants.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.id.cmp(&b.id)));
    grants
}

fn wants_active(state: Option<&ksef_model::types::PermissionState>) -> bool {
    state.is_none_or(|s| s.as_str() == "Active")
}

/// The page of `items` the request asks for, as the response `R` with the items under `list`.
fn paged<R: DeserializeOwned + serde::Serialize>(
    req: &Req,
    list: &str,
    items: Vec<Value>,
) -> Result<Reply, ApiError> {
    let (items, has_more) = page(req, items)?;
    let mut body = serde_json::Map::new();
    body.insert(list.to_owned(), Value::Array(items));
    body.insert("hasMore".to_owned(), Value::Bool(has_more));
    let body: R = typed(Value::Object(body))?;
    json(200, &body)
}

/// A page of the grants `keep` selects, [`sorted`] and shown by `show`, as the response `R`
/// with the items under `list`.
fn query_grants<R: DeserializeOwned + serde::Serialize>(
    shared: &Shared,
    req: &Req,
    list: &str,
    keep: impl Fn(&Grant) -> bool,
    show: impl Fn(&Grant) -> Value,
) -> Result<Reply, ApiError> {
    let state = shared.state();
    let items: Vec<Value> = sorted(state.grants.iter().filter(|g| keep(g)).collect())
        .into_iter()
        .map(show)
        .collect();
    drop(state);
    paged::<R>(req, list, items)
}

fn date(d: DateTime<Utc>) -> Value {
    Value::String(d.fixed_offset().to_rfc3339())
}

/// `POST /permissions/query/personal/grants`: the caller's own permissions.
pub(super) fn query_personal(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: PersonalPermissionsQueryRequest = req.json()?;
    let subject = subject_of(shared, req)?;
    query_grants::<ksef_model::types::QueryPersonalPermissionsResponse>(
        shared,
        req,
        "permissions",
        |g| {
            g.authorized_value.eq_ignore_ascii_case(&subject.1)
                && g.scope != "Owner"
                && matches!(
                    g.kind,
                    GrantKind::Person
                        | GrantKind::TestData
                        | GrantKind::Indirect
                        | GrantKind::EuAdministration
                )
                && body
                    .context_identifier
                    .as_ref()
                    .is_none_or(|c| c.value == g.context)
                && wants_scope!(body.permission_types, g.scope)
                && wants_active(body.permission_state.as_ref())
        },
        |g| {
            let context_type = if g.context_type == "InternalId" {
                "InternalId"
            } else {
                "Nip"
            };
            j!({
                "id": g.id,
                "contextIdentifier": {"type": context_type, "value": g.context.get(..10).unwrap_or(&g.context)},
                "authorizedIdentifier": {"type": g.authorized_type, "value": g.authorized_value},
                "targetIdentifier": g.target.as_ref().map(|(t, v)| j!({"type": t, "value": v})),
                "permissionScope": g.scope,
                "description": g.description,
                "permissionState": "Active",
                "startDate": date(g.start),
                "canDelegate": g.can_delegate,
            })
        },
    )
}

fn author_json(author: &(String, String)) -> Value {
    if author.0 == "System" {
        j!({"type": "System"})
    } else {
        j!({"type": author.0, "value": author.1})
    }
}

/// `POST /permissions/query/persons/grants`: permissions to work in KSeF held by persons or
/// entities.
///
/// `PermissionsInCurrentContext` lists every permission in force in the current context: grants
/// to persons and entities (`/permissions/entities/grants`, with `authorizedIdentifier` of type
/// `Nip`), and the indirect grants the context made. `PermissionsGrantedInCurrentContext` lists
/// those the authenticated subject granted itself: the same kinds plus the administrators of
/// subunits (with the subunit as `contextIdentifier`).
pub(super) fn query_persons(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: PersonPermissionsQueryRequest = req.json()?;
    let granted_by_caller = match body.query_type.as_str() {
        "PermissionsInCurrentContext" => false,
        "PermissionsGrantedInCurrentContext" => true,
        _ => {
            return Err(ApiError::validation(
                "queryType must be PermissionsInCurrentContext or PermissionsGrantedInCurrentContext.",
            ));
        }
    };
    let caller = subject_of(shared, req)?;
    query_grants::<ksef_model::types::QueryPersonPermissionsResponse>(
        shared,
        req,
        "permissions",
        |g| {
            let kind_listed = match g.kind {
                GrantKind::Person | GrantKind::Entity | GrantKind::Indirect => true,
                GrantKind::TestData => !granted_by_caller,
                GrantKind::Subunit => granted_by_caller,
                _ => false,
            };
            kind_listed
                && g.context == claims.ctx
                && g.scope != "Owner"
                && (!granted_by_caller
                    || (g.author.0 == caller.0 && g.author.1.eq_ignore_ascii_case(&caller.1)))
                && body
                    .authorized_identifier
                    .as_ref()
                    .is_none_or(|a| a.value.eq_ignore_ascii_case(&g.authorized_value))
                && body
                    .author_identifier
                    .as_ref()
                    .is_none_or(|a| a.value.as_deref() == Some(g.author.1.as_str()))
                && body
                    .context_identifier
                    .as_ref()
                    .is_none_or(|c| c.value == shown_context(g).1)
                && wants_scope!(body.permission_types, g.scope)
                && wants_active(body.permission_state.as_ref())
        },
        |g| {
            let (context_type, context) = shown_context(g);
            let entity = (g.kind == GrantKind::Entity).then(|| {
                j!({
                    "subjectDetailsType": "EntityByIdentifier",
                    "fullName": g.name.clone().unwrap_or_default(),
                })
            });
            j!({
                "id": g.id,
                "authorizedIdentifier": {"type": g.authorized_type, "value": g.authorized_value},
                "contextIdentifier": {"type": context_type, "value": context},
                "targetIdentifier": (g.kind == GrantKind::Indirect)
                    .then(|| g.target.as_ref().map(|(t, v)| j!({"type": t, "value": v})))
                    .flatten(),
                "authorIdentifier": author_json(&g.author),
                "permissionScope": g.scope,
                "description": g.description,
                "subjectEntityDetails": entity,
                "permissionState": "Active",
                "startDate": date(g.start),
                "canDelegate": g.can_delegate,
            })
        },
    )
}

/// The context a grant listed by the persons query works in: the subunit for a subunit
/// administrator, the grant's context otherwise.
fn shown_context(g: &Grant) -> (&str, &str) {
    match (&g.kind, &g.target) {
        (GrantKind::Subunit, Some((kind, Some(unit)))) => (kind.as_str(), unit.as_str()),
        _ => ("Nip", g.context.as_str()),
    }
}

/// `POST /permissions/query/entities/grants`: invoice permissions other contexts granted to the
/// current one.
pub(super) fn query_entities(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: EntityPermissionsQueryRequest = req.json()?;
    query_grants::<ksef_model::types::QueryEntityPermissionsResponse>(
        shared,
        req,
        "permissions",
        |g| {
            g.kind == GrantKind::Entity
                && g.authorized_value == claims.ctx
                && body
                    .context_identifier
                    .as_ref()
                    .is_none_or(|c| c.value == g.context)
        },
        |g| {
            j!({
                "id": g.id,
                "contextIdentifier": {"type": "Nip", "value": g.context},
                "permissionScope": g.scope,
                "description": g.description,
                "startDate": date(g.start),
                "canDelegate": g.can_delegate,
            })
        },
    )
}

/// `POST /permissions/query/authorizations/grants`.
pub(super) fn query_authorizations(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: EntityAuthorizationPermissionsQueryRequest = req.json()?;
    let granted = match body.query_type.as_str() {
        "Granted" => true,
        "Received" => false,
        other => {
            return Err(ApiError::validation(format!(
                "queryType {other} is not Granted or Received."
            )));
        }
    };
    query_grants::<ksef_model::types::QueryEntityAuthorizationPermissionsResponse>(
        shared,
        req,
        "authorizationGrants",
        |g| {
            g.kind == GrantKind::Authorization
                && if granted {
                    g.context == claims.ctx
                } else {
                    g.authorized_value == claims.ctx
                }
                && wants_scope!(body.permission_types, g.scope)
                && body
                    .authorized_identifier
                    .as_ref()
                    .is_none_or(|a| a.value == g.authorized_value)
                && body
                    .authorizing_identifier
                    .as_ref()
                    .is_none_or(|a| a.value == g.context)
        },
        |g| {
            let author = if g.author.0 == "System" {
                Value::Null
            } else {
                j!({"type": g.author.0, "value": g.author.1})
            };
            j!({
                "id": g.id,
                "authorIdentifier": author,
                "authorizedEntityIdentifier": {"type": g.authorized_type, "value": g.authorized_value},
                "authorizingEntityIdentifier": {"type": "Nip", "value": g.context},
                "authorizationScope": g.scope,
                "description": g.description,
                "startDate": date(g.start),
            })
        },
    )
}

/// `GET /permissions/query/entities/roles`: the roles of the current context (test subjects of
/// type VAT group, JST or enforcement authority, and their subunits).
pub(super) fn query_entity_roles(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    let mut roles = Vec::new();
    if let Some(subject) = state.test_subjects.get(&claims.ctx) {
        let role = match (subject.subject_type.as_str(), subject.parent.is_some()) {
            ("VatGroup", false) => "VatGroupUnit",
            ("VatGroup", true) => "VatGroupSubUnit",
            ("JST", false) => "LocalGovernmentUnit",
            ("JST", true) => "LocalGovernmentSubUnit",
            _ => "EnforcementAuthority",
        };
        roles.push(j!({
            "parentEntityIdentifier": subject.parent.as_ref().map(|p| j!({"type": "Nip", "value": p})),
            "role": role,
            "description": subject.description,
            "startDate": date(subject.created),
        }));
    }
    if let Some(person) = state.test_persons.get(&claims.ctx)
        && person.bailiff
    {
        roles.push(j!({
            "role": "CourtBailiff",
            "description": person.description,
            "startDate": date(req.now),
        }));
    }
    drop(state);
    paged::<ksef_model::types::QueryEntityRolesResponse>(req, "roles", roles)
}

/// `POST /permissions/query/subordinate-entities/roles`: the subunits of the current context.
pub(super) fn query_subordinate_roles(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SubordinateEntityRolesQueryRequest = req.json()?;
    let state = shared.state();
    let items: Vec<Value> = state
        .test_subjects
        .iter()
        .filter(|(nip, s)| {
            s.parent.as_deref() == Some(claims.ctx.as_str())
                && body
                    .subordinate_entity_identifier
                    .as_ref()
                    .is_none_or(|i| i.value == **nip)
        })
        .map(|(nip, s)| {
            let role = if s.subject_type == "JST" {
                "LocalGovernmentSubUnit"
            } else {
                "VatGroupSubUnit"
            };
            j!({
                "subordinateEntityIdentifier": {"type": "Nip", "value": nip},
                "role": role,
                "description": s.description,
                "startDate": date(s.created),
            })
        })
        .collect();
    drop(state);
    paged::<ksef_model::types::QuerySubordinateEntityRolesResponse>(req, "roles", items)
}

/// `POST /permissions/query/subunits/grants`: subunit administrators granted in the context.
pub(super) fn query_subunits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SubunitPermissionsQueryRequest = req.json()?;
    query_grants::<ksef_model::types::QuerySubunitPermissionsResponse>(
        shared,
        req,
        "permissions",
        |g| {
            g.kind == GrantKind::Subunit
                && g.context == claims.ctx
                && body.subunit_identifier.as_ref().is_none_or(|s| {
                    g.target.as_ref().and_then(|t| t.1.as_deref()) == Some(s.value.as_str())
                })
        },
        |g| {
            let (unit_type, unit) = g.target.clone().unwrap_or(("Nip".to_owned(), None));
            j!({
                "id": g.id,
                "authorizedIdentifier": {"type": g.authorized_type, "value": g.authorized_value},
                "subunitIdentifier": {"type": unit_type, "value": unit.unwrap_or_default()},
                "authorIdentifier": {"type": g.author.0, "value": g.author.1},
                "permissionScope": "CredentialsManage",
                "description": g.description,
                "subunitName": g.name,
                "startDate": date(g.start),
            })
        },
    )
}

/// `POST /permissions/query/eu-entities/grants`.
pub(super) fn query_eu_entities(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: EuEntityPermissionsQueryRequest = req.json()?;
    query_grants::<ksef_model::types::QueryEuEntityPermissionsResponse>(
        shared,
        req,
        "permissions",
        |g| {
            matches!(
                g.kind,
                GrantKind::EuAdministration | GrantKind::EuRepresentative
            ) && g.context.starts_with(claims.ctx.as_str())
                && body
                    .vat_ue_identifier
                    .as_ref()
                    .is_none_or(|v| *v == g.context)
                && body
                    .authorized_fingerprint_identifier
                    .as_ref()
                    .is_none_or(|f| f.eq_ignore_ascii_case(&g.authorized_value))
                && wants_scope!(body.permission_types, g.scope)
        },
        |g| {
            j!({
                "id": g.id,
                "authorIdentifier": {"type": g.author.0, "value": g.author.1},
                "vatUeIdentifier": g.context,
                "euEntityName": g.name.clone().unwrap_or_default(),
                "authorizedFingerprintIdentifier": g.authorized_value,
                "permissionScope": g.scope,
                "description": g.description,
                "startDate": date(g.start),
            })
        },
    )
}
