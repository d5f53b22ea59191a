//! `/permissions`: grants of every kind (asynchronous operations), their status, revocation and
//! the queries.
//!
//! Simplified: a grant takes effect at once and its operation reports 200 after the
//! token-activation delay (no failure statuses 410–450: relations between subjects are not
//! checked beyond the identifiers' validity); a repeated grant is not duplicated. Grants to a
//! certificate's PESEL, NIP or fingerprint in a NIP context let that certificate log in there
//! with XAdES, with the granted permissions. Permission ids are random; `permissionState` is
//! always `Active` (revoked grants disappear). Operation statuses never expire.

use ksef_model::types::{
    EntityAuthorizationPermissionsGrantRequest, EntityPermissionsGrantRequest,
    EuEntityAdministrationPermissionsGrantRequest, EuEntityPermissionsGrantRequest,
    IndirectPermissionsGrantRequest, PermissionsOperationResponse,
    PermissionsOperationStatusResponse, PersonPermissionsGrantRequest, StatusInfo,
    SubunitPermissionsGrantRequest,
};

use super::common::subjects::{check_identifier, check_nip, new_permission_id, subject_of};
use super::common::{Reply, Req, duration, json, new_reference};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{Grant, GrantKind, PermissionOp};

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
    let completes = req.now + duration(shared.config.token_activation_delay)?;
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
