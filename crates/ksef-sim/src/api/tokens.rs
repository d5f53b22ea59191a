//! `/tokens`: generating, listing, reading and revoking KSeF tokens.

use chrono::{DateTime, Duration, Utc};
use ksef_model::types::{
    AuthenticationTokenStatus, GenerateTokenRequest, GenerateTokenResponse, QueryTokensResponse,
    QueryTokensResponseItem, TokenAuthorIdentifierType, TokenAuthorIdentifierTypeIdentifier,
    TokenContextIdentifierType, TokenContextIdentifierTypeIdentifier, TokenPermissionType,
    TokenStatusResponse,
};
use ksef_model::values::ReferenceNumber;

use super::common::{Reply, Req, internal, json, new_reference, token_secret};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::KsefTokenRec;

fn status_of(token: &KsefTokenRec, now: DateTime<Utc>) -> AuthenticationTokenStatus {
    if token.revoked {
        AuthenticationTokenStatus::Revoked
    } else if now < token.active_from {
        AuthenticationTokenStatus::Pending
    } else {
        AuthenticationTokenStatus::Active
    }
}

/// The parts shared by `TokenStatusResponse` and `QueryTokensResponseItem`.
struct View {
    reference: ReferenceNumber,
    author: TokenAuthorIdentifierTypeIdentifier,
    context: TokenContextIdentifierTypeIdentifier,
    description: String,
    permissions: Vec<TokenPermissionType>,
    created: DateTime<chrono::FixedOffset>,
    last_use: Option<DateTime<chrono::FixedOffset>>,
    status: AuthenticationTokenStatus,
}

fn view(token: &KsefTokenRec, now: DateTime<Utc>) -> Result<View, ApiError> {
    Ok(View {
        reference: token
            .reference
            .parse()
            .map_err(|e: ksef_model::values::IdentifierError| ApiError::internal(e.to_string()))?,
        author: TokenAuthorIdentifierTypeIdentifier::new(
            TokenAuthorIdentifierType::Nip,
            token.author_nip.clone(),
        ),
        context: TokenContextIdentifierTypeIdentifier::new(
            TokenContextIdentifierType::Nip,
            token.context_nip.clone(),
        ),
        description: token.description.clone(),
        permissions: token
            .permissions
            .iter()
            .map(|p| TokenPermissionType::from(p.as_str()))
            .collect(),
        created: token.created.fixed_offset(),
        last_use: token.last_use.map(|t| t.fixed_offset()),
        status: status_of(token, now),
    })
}

fn not_found(reference: &str) -> ApiError {
    ApiError::validation(format!(
        "Token o numerze referencyjnym {reference} nie został znaleziony."
    ))
}

/// `POST /tokens`.
pub(super) fn generate(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: GenerateTokenRequest = req.json()?;
    let length = body.description.chars().count();
    if !(5..=256).contains(&length) {
        return Err(ApiError::validation(
            "description must have 5 to 256 characters.",
        ));
    }
    if body.permissions.is_empty() {
        return Err(ApiError::validation("permissions must not be empty."));
    }
    for permission in &body.permissions {
        if !permission.is_known() || !claims.per.iter().any(|p| p == permission.as_str()) {
            return Err(ApiError::bad_request(
                26001,
                "Nie można nadać tokenowi uprawnień, których nie posiada podmiot.",
                format!("Brak uprawnienia {}.", permission.as_str()),
            ));
        }
    }
    let now = req.now;
    let reference = new_reference(now, "TK")?;
    let secret = token_secret(reference.as_str(), &claims.ctx);
    let delay = Duration::from_std(shared.config.token_activation_delay).map_err(internal)?;
    let mut permissions: Vec<String> = body
        .permissions
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    permissions.dedup();
    shared.state().tokens.push(KsefTokenRec {
        reference: reference.to_string(),
        secret: secret.clone(),
        context_nip: claims.ctx.clone(),
        author_nip: claims.ctx.clone(),
        description: body.description,
        permissions,
        created: now,
        active_from: now + delay,
        revoked: false,
        last_use: None,
    });
    json(202, &GenerateTokenResponse::new(reference, secret))
}

/// `GET /tokens`.
pub(super) fn list(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let statuses = req.query_all("status");
    let description = req.query("description").map(str::to_lowercase);
    let author = req.query("authorIdentifier");
    let author_type = req.query("authorIdentifierType");
    let state = shared.state();
    let mut items = Vec::new();
    for token in state
        .tokens
        .iter()
        .rev()
        .filter(|t| t.context_nip == claims.ctx)
    {
        let v = view(token, req.now)?;
        if !statuses.is_empty() && !statuses.contains(&v.status.as_str()) {
            continue;
        }
        if author.is_some_and(|a| a != v.author.value)
            || author_type.is_some_and(|t| t != v.author.r#type.as_str())
        {
            continue;
        }
        if let Some(d) = &description
            && !v.description.to_lowercase().contains(d)
        {
            continue;
        }
        let mut item = QueryTokensResponseItem::new(
            v.reference,
            v.author,
            v.context,
            v.description,
            v.permissions,
            v.created,
            v.status,
        );
        item.last_use_date = v.last_use;
        items.push(item);
    }
    drop(state);
    let (items, next) = req.page(items, 10, 100)?;
    let mut body = QueryTokensResponse::new(items);
    body.continuation_token = next;
    json(200, &body)
}

/// `GET /tokens/{referenceNumber}`.
pub(super) fn status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let state = shared.state();
    let token = state
        .tokens
        .iter()
        .find(|t| t.reference == reference && t.context_nip == claims.ctx)
        .ok_or_else(|| not_found(reference))?;
    let v = view(token, req.now)?;
    drop(state);
    let mut body = TokenStatusResponse::new(
        v.reference,
        v.author,
        v.context,
        v.description,
        v.permissions,
        v.created,
        v.status,
    );
    body.last_use_date = v.last_use;
    json(200, &body)
}

/// `DELETE /tokens/{referenceNumber}`.
pub(super) fn revoke(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let mut state = shared.state();
    let token = state
        .tokens
        .iter_mut()
        .find(|t| t.reference == reference && t.context_nip == claims.ctx)
        .ok_or_else(|| not_found(reference))?;
    token.revoked = true;
    Ok(Reply::Empty(204))
}
