//! The authenticated subject of a request, identifier checks, permissions held through grants,
//! and the subject's limits.

use chrono::{DateTime, Utc};

use super::{ALL_TOKEN_PERMISSIONS, Req, random_hex};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{Grant, GrantKind, State};

/// Enrollments and active certificates a NIP may have (KSeF's defaults).
pub(crate) const NIP_CERTIFICATE_LIMITS: (i32, i32) = (300, 100);

/// Enrollments and active certificates a PESEL or fingerprint may have.
pub(crate) const PERSON_CERTIFICATE_LIMITS: (i32, i32) = (12, 6);

/// The default number of invoices one collective identifier may group (the spec's prose: 500,
/// settable per context from 2 to 5000).
pub(crate) const COLLECTIVE_IDENTIFIER_MAX_INVOICES: i32 = 500;

/// The authenticated subject of a request: `(identifier type, value)` (the token author's NIP
/// for KSeF tokens, the certificate's identifier for XAdES).
pub(crate) fn subject_of(shared: &Shared, req: &Req) -> Result<(String, String), ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    Ok(state
        .auth_ops
        .get(&claims.ref_)
        .and_then(|op| op.subject.as_ref())
        .map(|s| (s.id_type.clone(), s.id_value.clone()))
        .unwrap_or_else(|| ("Nip".to_owned(), claims.ctx.clone())))
}

/// The effective certificate limits of a subject: `(enrollments, certificates)`.
pub(crate) fn certificate_limits(state: &State, subject: &(String, String)) -> (i32, i32) {
    let defaults = if subject.0 == "Nip" {
        NIP_CERTIFICATE_LIMITS
    } else {
        PERSON_CERTIFICATE_LIMITS
    };
    let set = state.subject_limits.get(&subject.1);
    (
        set.and_then(|s| s.0).unwrap_or(defaults.0),
        set.and_then(|s| s.1).unwrap_or(defaults.1),
    )
}

/// A valid NIP, or 21405 naming the field.
pub(crate) fn check_nip(field: &str, value: &str) -> Result<String, ApiError> {
    value
        .parse::<ksef_model::values::Nip>()
        .map(|n| n.to_string())
        .map_err(|_| ApiError::validation(format!("{field} is not a valid NIP: {value}.")))
}

/// A valid identifier of `kind` (`Nip`, `Pesel` or `Fingerprint`), or 21405.
pub(crate) fn check_identifier(kind: &str, value: &str) -> Result<String, ApiError> {
    match kind {
        "Nip" => check_nip("identifier", value),
        "Pesel" => value
            .parse::<ksef_model::values::Pesel>()
            .map(|p| p.to_string())
            .map_err(|_| ApiError::validation(format!("Not a valid PESEL: {value}."))),
        "Fingerprint" => {
            if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(value.to_ascii_uppercase())
            } else {
                Err(ApiError::validation(format!(
                    "A fingerprint is 64 hexadecimal digits (SHA-256): {value}."
                )))
            }
        }
        other => Err(ApiError::validation(format!(
            "Identifier type {other} is not allowed here."
        ))),
    }
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

pub(crate) fn new_permission_id() -> String {
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

/// The permissions a certificate identifier holds in a NIP context through grants.
pub(crate) fn granted_permissions(
    state: &State,
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
                ALL_TOKEN_PERMISSIONS
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
