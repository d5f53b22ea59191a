//! `/permissions`: grants of every kind (asynchronous operations), their status, revocation and
//! the queries.
//!
//! Simplified: a grant takes effect at once and its operation reports 200 after the
//! token-activation delay (no failure statuses 410–450: relations between subjects are not
//! checked beyond the identifiers' validity); a repeated grant is not duplicated. Grants to a
//! certificate's PESEL, NIP or fingerprint in a NIP context let that certificate log in there
//! with XAdES, with the granted permissions. Permission ids are random; `permissionState` is
//! always `Active` (revoked grants disappear). Operation statuses never expire.

use chrono::{DateTime, Utc};
use ksef_model::types::{
    EntityAuthorizationPermissionsGrantRequest, EntityAuthorizationPermissionsQueryRequest,
    EntityPermissionsGrantRequest, EntityPermissionsQueryRequest,
    EuEntityAdministrationPermissionsGrantRequest, EuEntityPermissionsGrantRequest,
    EuEntityPermissionsQueryRequest, IndirectPermissionsGrantRequest, PermissionsOperationResponse,
    PermissionsOperationStatusResponse, PersonPermissionsGrantRequest,
    PersonPermissionsQueryRequest, PersonalPermissionsQueryRequest, StatusInfo,
    SubordinateEntityRolesQueryRequest, SubunitPermissionsGrantRequest,
    SubunitPermissionsQueryRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json as j};

use super::admin::{check_identifier, check_nip, subject_of};
use super::{Reply, Req, internal, json, new_reference, random_hex};
use crate::errors::ApiError;
use crate::server::Shared;

/// What kind of grant a [`Grant`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum GrantKind {
    /// `POST /permissions/persons/grants`.
    Person,
    /// `POST /permissions/entities/grants`.
    Entity,
    /// `POST /permissions/authorizations/grants`.
    Authorization,
    /// `POST /permissions/indirect/grants`.
    Indirect,
    /// `POST /permissions/subunits/grants`.
    Subunit,
    /// `POST /permissions/eu-entities/administration/grants`.
    EuAdministration,
    /// `POST /permissions/eu-entities/grants`.
    EuRepresentative,
    /// `POST /testdata/permissions` and the owner permission of test persons.
    TestData,
}

/// One permission held by an identifier in a context.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Grant {
    pub(crate) id: String,
    pub(crate) kind: GrantKind,
    /// The context the permission works in (NIP, internal id or NIP-VAT UE).
    pub(crate) context: String,
    pub(crate) context_type: String,
    pub(crate) authorized_type: String,
    pub(crate) authorized_value: String,
    /// `(type, value)` of the partner an indirect permission is limited to.
    pub(crate) target: Option<(String, Option<String>)>,
    pub(crate) scope: String,
    pub(crate) can_delegate: bool,
    pub(crate) description: String,
    pub(crate) author: (String, String),
    pub(crate) start: DateTime<Utc>,
    /// Subunit or EU entity name.
    pub(crate) name: Option<String>,
}

impl Grant {
    /// A grant made through the test-data API.
    pub(crate) fn test_data(
        context: &str,
        authorized_type: &str,
        authorized_value: &str,
        scope: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Grant {
            id: new_permission_id(),
            kind: GrantKind::TestData,
            context: context.to_owned(),
            context_type: "Nip".to_owned(),
            authorized_type: authorized_type.to_owned(),
            authorized_value: authorized_value.to_owned(),
            target: None,
            scope: scope.to_owned(),
            can_delegate: false,
            description: description.to_owned(),
            author: ("System".to_owned(), String::new()),
            start: now,
            name: None,
        }
    }
}

/// An asynchronous permission operation.
pub(crate) struct PermissionOp {
    pub(crate) context: String,
    pub(crate) completes: DateTime<Utc>,
    pub(crate) code: i32,
    pub(crate) description: String,
}

fn new_permission_id() -> String {
    let hex = random_hex(32).to_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A generated response type from JSON (so that the shape is checked against the spec's types).
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(internal)
}

/// The permissions a certificate identifier holds in a NIP context through grants.
pub(crate) fn granted_permissions(
    state: &crate::state::State,
    context: &str,
    identifiers: &[String],
) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for grant in &state.grants {
        if grant.context == context
            && identifiers
                .iter()
                .any(|i| i.eq_ignore_ascii_case(&grant.authorized_value))
            && matches!(grant.kind, GrantKind::Person | GrantKind::TestData)
        {
            let expanded: Vec<String> = if grant.scope == "Owner" {
                super::ALL_TOKEN_PERMISSIONS
                    .iter()
                    .map(|p| (*p).to_owned())
                    .collect()
            } else {
                vec![grant.scope.clone()]
            };
            for scope in expanded {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
    }
    scopes
}

fn description(text: &str) -> Result<(), ApiError> {
    let length = text.chars().count();
    if (5..=256).contains(&length) {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "description must have 5 to 256 characters (has {length})."
        )))
    }
}

/// Records grants (skipping those held already) and starts an operation reporting 200.
fn record(shared: &Shared, req: &Req, grants: Vec<Grant>) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = new_reference(req.now, "OP")?;
    let completes = req.now + super::sessions::duration(shared.config.token_activation_delay)?;
    let mut state = shared.state();
    for grant in grants {
        let held = state.grants.iter().any(|g| {
            g.kind == grant.kind
                && g.context == grant.context
                && g.authorized_value == grant.authorized_value
                && g.scope == grant.scope
                && g.target == grant.target
        });
        if !held {
            state.grants.push(grant);
        }
    }
    state.permission_ops.insert(
        reference.to_string(),
        PermissionOp {
            context: claims.ctx.clone(),
            completes,
            code: 200,
            description: "Operacja zakończona sukcesem".to_owned(),
        },
    );
    drop(state);
    json(202, &PermissionsOperationResponse::new(reference))
}

/// A grant in the caller's context, filled in from the common parts.
fn grant(
    shared: &Shared,
    req: &Req,
    kind: GrantKind,
    authorized: (&str, String),
    scope: &str,
    text: &str,
) -> Result<Grant, ApiError> {
    let claims = req.caller()?;
    let author = subject_of(shared, req)?;
    Ok(Grant {
        id: new_permission_id(),
        kind,
        context: claims.ctx.clone(),
        context_type: "Nip".to_owned(),
        authorized_type: authorized.0.to_owned(),
        authorized_value: authorized.1,
        target: None,
        scope: scope.to_owned(),
        can_delegate: false,
        description: text.to_owned(),
        author,
        start: req.now,
        name: None,
    })
}

fn known_all<'a>(
    field: &str,
    values: impl IntoIterator<Item = (&'a str, bool)>,
) -> Result<Vec<&'a str>, ApiError> {
    let values: Vec<(&str, bool)> = values.into_iter().collect();
    if values.is_empty() {
        return Err(ApiError::validation(format!("{field} must not be empty.")));
    }
    values
        .into_iter()
        .map(|(v, known)| {
            if known {
                Ok(v)
            } else {
                Err(ApiError::validation(format!("{field}: unknown value {v}.")))
            }
        })
        .collect()
}

/// The scopes of a grant request's `permissions` (a list of one of the generated permission
/// enums): every value known, at least one.
macro_rules! known_permissions {
    ($permissions:expr) => {
        known_all(
            "permissions",
            $permissions.iter().map(|p| (p.as_str(), p.is_known())),
        )
    };
}

/// One [`grant`] of `kind` to `authorized` for each of `scopes`.
fn grant_each(
    shared: &Shared,
    req: &Req,
    kind: GrantKind,
    authorized: (&str, &str),
    scopes: Vec<&str>,
    text: &str,
) -> Result<Vec<Grant>, ApiError> {
    scopes
        .into_iter()
        .map(|scope| {
            grant(
                shared,
                req,
                kind,
                (authorized.0, authorized.1.to_owned()),
                scope,
                text,
            )
        })
        .collect()
}

/// `POST /permissions/persons/grants`.
pub(super) fn grant_persons(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: PersonPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let kind = body.subject_identifier.r#type.as_str();
    let value = check_identifier(kind, &body.subject_identifier.value)?;
    let scopes = known_permissions!(body.permissions)?;
    let grants = grant_each(
        shared,
        req,
        GrantKind::Person,
        (kind, &value),
        scopes,
        &body.description,
    )?;
    record(shared, req, grants)
}

/// `POST /permissions/entities/grants`.
pub(super) fn grant_entities(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: EntityPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let value = check_nip("subjectIdentifier.value", &body.subject_identifier.value)?;
    let scopes = known_all(
        "permissions",
        body.permissions
            .iter()
            .map(|p| (p.r#type.as_str(), p.r#type.is_known())),
    )?;
    let mut grants = grant_each(
        shared,
        req,
        GrantKind::Entity,
        ("Nip", &value),
        scopes,
        &body.description,
    )?;
    for (g, permission) in grants.iter_mut().zip(&body.permissions) {
        g.can_delegate = permission.can_delegate == Some(true);
        g.name = Some(body.subject_details.full_name.clone());
    }
    record(shared, req, grants)
}

/// `POST /permissions/authorizations/grants`.
pub(super) fn grant_authorization(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: EntityAuthorizationPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let kind = body.subject_identifier.r#type.as_str();
    let value = match kind {
        "Nip" => check_nip("subjectIdentifier.value", &body.subject_identifier.value)?,
        "PeppolId" => body
            .subject_identifier
            .value
            .parse::<ksef_model::values::PeppolId>()
            .map(|p| p.to_string())
            .map_err(|_| ApiError::validation("subjectIdentifier.value is not a Peppol id."))?,
        other => {
            return Err(ApiError::validation(format!(
                "subjectIdentifier.type {other} is not allowed."
            )));
        }
    };
    if !body.permission.is_known() {
        return Err(ApiError::validation(format!(
            "permission: unknown value {}.",
            body.permission.as_str()
        )));
    }
    let g = grant(
        shared,
        req,
        GrantKind::Authorization,
        (kind, value),
        body.permission.as_str(),
        &body.description,
    )?;
    record(shared, req, vec![g])
}

/// `POST /permissions/indirect/grants`.
pub(super) fn grant_indirect(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: IndirectPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let kind = body.subject_identifier.r#type.as_str();
    let value = check_identifier(kind, &body.subject_identifier.value)?;
    let target = match &body.target_identifier {
        None => None,
        Some(t) => match t.r#type.as_str() {
            "AllPartners" => Some(("AllPartners".to_owned(), None)),
            "Nip" => Some((
                "Nip".to_owned(),
                Some(check_nip(
                    "targetIdentifier.value",
                    t.value.as_deref().unwrap_or(""),
                )?),
            )),
            "InternalId" => Some((
                "InternalId".to_owned(),
                Some(check_internal_id(
                    "targetIdentifier.value",
                    t.value.as_deref().unwrap_or(""),
                )?),
            )),
            other => {
                return Err(ApiError::validation(format!(
                    "targetIdentifier.type {other} is not allowed."
                )));
            }
        },
    };
    let scopes = known_permissions!(body.permissions)?;
    let mut grants = grant_each(
        shared,
        req,
        GrantKind::Indirect,
        (kind, &value),
        scopes,
        &body.description,
    )?;
    for g in &mut grants {
        g.target.clone_from(&target);
    }
    record(shared, req, grants)
}

fn check_internal_id(field: &str, value: &str) -> Result<String, ApiError> {
    let id: ksef_model::values::InternalId = value
        .parse()
        .map_err(|_| ApiError::validation(format!("{field} is not an internal id: {value}.")))?;
    id.verify_check_digit()
        .map_err(|_| ApiError::validation(format!("{field} has a wrong check digit: {value}.")))?;
    Ok(id.to_string())
}

/// `POST /permissions/subunits/grants`: a subunit administrator (`CredentialsManage` in the
/// subunit's context).
pub(super) fn grant_subunit(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SubunitPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let kind = body.subject_identifier.r#type.as_str();
    let value = check_identifier(kind, &body.subject_identifier.value)?;
    let (context_type, context) = match body.context_identifier.r#type.as_str() {
        "InternalId" => {
            let id = check_internal_id("contextIdentifier.value", &body.context_identifier.value)?;
            if !id.starts_with(claims.ctx.as_str()) {
                return Err(ApiError::validation(format!(
                    "contextIdentifier {id} is not a unit of the context {}.",
                    claims.ctx
                )));
            }
            ("InternalId", id)
        }
        "Nip" => (
            "Nip",
            check_nip("contextIdentifier.value", &body.context_identifier.value)?,
        ),
        other => {
            return Err(ApiError::validation(format!(
                "contextIdentifier.type {other} is not allowed."
            )));
        }
    };
    let mut g = grant(
        shared,
        req,
        GrantKind::Subunit,
        (kind, value),
        "CredentialsManage",
        &body.description,
    )?;
    g.target = Some((context_type.to_owned(), Some(context)));
    g.name.clone_from(&body.subunit_name);
    record(shared, req, vec![g])
}

fn check_vat_ue(value: &str) -> Result<String, ApiError> {
    value
        .parse::<ksef_model::values::NipVatUe>()
        .map(|v| v.to_string())
        .map_err(|_| ApiError::validation(format!("Not a NIP-VAT UE identifier: {value}.")))
}

/// `POST /permissions/eu-entities/administration/grants`.
pub(super) fn grant_eu_administration(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: EuEntityAdministrationPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let kind = body.subject_identifier.r#type.as_str();
    let value = check_identifier(kind, &body.subject_identifier.value)?;
    let context = check_vat_ue(&body.context_identifier.value)?;
    let claims = req.caller()?;
    if !context.starts_with(claims.ctx.as_str()) {
        return Err(ApiError::validation(format!(
            "contextIdentifier {context} does not start with the context NIP {}.",
            claims.ctx
        )));
    }
    let mut g = grant(
        shared,
        req,
        GrantKind::EuAdministration,
        (kind, value),
        "VatUeManage",
        &body.description,
    )?;
    g.context = context;
    g.context_type = "NipVatUe".to_owned();
    g.name = Some(body.eu_entity_name.clone());
    record(shared, req, vec![g])
}

/// `POST /permissions/eu-entities/grants` (needs `VatUeManage`, which only an EU entity's
/// administrator holds).
pub(super) fn grant_eu_representative(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: EuEntityPermissionsGrantRequest = req.json()?;
    description(&body.description)?;
    let value = check_identifier("Fingerprint", &body.subject_identifier.value)?;
    let scopes = known_permissions!(body.permissions)?;
    let grants = grant_each(
        shared,
        req,
        GrantKind::EuRepresentative,
        ("Fingerprint", &value),
        scopes,
        &body.description,
    )?;
    record(shared, req, grants)
}

/// `DELETE /permissions/common/grants/{permissionId}` or
/// `DELETE /permissions/authorizations/grants/{permissionId}`.
pub(super) fn revoke(shared: &Shared, req: &Req, authorizations: bool) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let id = req.param("permissionId");
    let mut state = shared.state();
    let position = state.grants.iter().position(|g| {
        g.id == id
            && (g.kind == GrantKind::Authorization) == authorizations
            && (g.context == claims.ctx || g.context.starts_with(claims.ctx.as_str()))
    });
    let Some(position) = position else {
        return Err(ApiError::validation(format!(
            "Uprawnienie o identyfikatorze {id} nie istnieje w bieżącym kontekście."
        )));
    };
    state.grants.remove(position);
    drop(state);
    record(shared, req, Vec::new())
}

/// `GET /permissions/operations/{referenceNumber}`.
pub(super) fn operation_status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let state = shared.state();
    let op = state
        .permission_ops
        .get(reference)
        .filter(|op| op.context == claims.ctx)
        .ok_or_else(|| {
            ApiError::validation(format!(
                "Operacja o numerze referencyjnym {reference} nie istnieje."
            ))
        })?;
    let status = if req.now < op.completes {
        StatusInfo::new(100, "Operacja przyjęta do realizacji")
    } else {
        StatusInfo::new(op.code, op.description.clone())
    };
    json(200, &PermissionsOperationStatusResponse::new(status))
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

/// Whether a query's optional `permissionTypes` (none or empty: every type) admits `scope`.
macro_rules! wants_scope {
    ($types:expr, $scope:expr) => {
        $types
            .as_ref()
            .is_none_or(|t| t.is_empty() || t.iter().any(|t| t.as_str() == $scope))
    };
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
