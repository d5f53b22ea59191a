//! `/auth/*`: challenge, KSeF-token authentication, status, redeem, refresh, auth sessions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use ksef_model::types::{
    AuthenticationChallengeResponse, AuthenticationContextIdentifierType,
    AuthenticationInitResponse, AuthenticationListItem, AuthenticationListResponse,
    AuthenticationMethod, AuthenticationMethodCategory, AuthenticationMethodInfo,
    AuthenticationOperationStatusResponse, AuthenticationTokenRefreshResponse,
    AuthenticationTokensResponse, InitTokenAuthenticationRequest, PublicKeyCertificateUsage,
    StatusInfo, TokenInfo,
};
use ksef_model::values::{Challenge, Nip};

use super::{Reply, Req, issue, json, new_reference, random_hex};
use crate::errors::ApiError;
use crate::keys::TokenType;
use crate::server::Shared;
use crate::state::{AuthOp, ChallengeRec, Outcome};

fn fixed(t: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    t.fixed_offset()
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// `POST /auth/challenge`.
pub(super) fn challenge(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let ms = req.now.timestamp_millis();
    let timestamp = DateTime::from_timestamp_millis(ms).unwrap_or(req.now);
    let challenge = Challenge::from_parts(timestamp.date_naive(), &random_hex(10), &random_hex(10))
        .map_err(internal)?;
    let lifetime = Duration::from_std(shared.config.challenge_lifetime).map_err(internal)?;
    {
        let mut state = shared.state();
        state.challenges.retain(|_, c| c.expires > timestamp);
        state.challenges.insert(
            challenge.to_string(),
            ChallengeRec {
                timestamp_ms: ms,
                expires: timestamp + lifetime,
                used: false,
            },
        );
    }
    json(
        200,
        &AuthenticationChallengeResponse::new(
            challenge,
            fixed(timestamp),
            ms,
            req.client_ip.clone(),
        ),
    )
}

fn fail(code: i32, description: &str, detail: &str) -> Outcome {
    Outcome {
        code,
        description: description.to_owned(),
        details: vec![detail.to_owned()],
    }
}

/// `POST /auth/ksef-token`.
pub(super) fn ksef_token(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: InitTokenAuthenticationRequest = req.json()?;
    let now = req.now;
    let token_certificate = shared
        .certificate(&PublicKeyCertificateUsage::KsefTokenEncryption)
        .ok_or_else(|| ApiError::internal("no token-encryption certificate"))?;
    if let Some(id) = &body.public_key_id
        && *id != token_certificate.public_key_id
    {
        return Err(ApiError::bad_request(
            21470,
            "Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.",
            format!("Klucz o identyfikatorze {id} nie jest wspierany."),
        ));
    }
    if body.context_identifier.r#type != AuthenticationContextIdentifierType::Nip {
        return Err(ApiError::validation(format!(
            "Context identifier type {} is not simulated; use Nip.",
            body.context_identifier.r#type.as_str()
        )));
    }
    let context: Nip = body
        .context_identifier
        .value
        .parse()
        .map_err(|_| ApiError::validation("contextIdentifier.value is not a valid NIP."))?;
    let encrypted = STANDARD
        .decode(body.encrypted_token.trim())
        .map_err(|_| ApiError::validation("encryptedToken is not base64."))?;

    // RSA decryption happens before taking the state lock.
    let decrypted = ksef_crypto::decrypt_ksef_token(&shared.keys.token_encryption, &encrypted);
    let mut state = shared.state();
    let challenge_ms = match state.challenges.get_mut(body.challenge.as_str()) {
        Some(c) if !c.used && c.expires > now => {
            c.used = true;
            c.timestamp_ms
        }
        _ => {
            return Err(ApiError::bad_request(
                21111,
                "Nieprawidłowe wyzwanie autoryzacyjne.",
                "",
            ));
        }
    };

    let bad_token = "Uwierzytelnianie zakończone niepowodzeniem z powodu nieprawidłowego tokenu.";
    let mut permissions = Vec::new();
    let mut token_reference = None;
    let outcome = match decrypted {
        Err(_) => fail(450, bad_token, "Nieprawidłowy token."),
        Ok(decrypted) if decrypted.challenge_timestamp_ms() != challenge_ms => {
            fail(450, bad_token, "Nieprawidłowy czas tokena.")
        }
        Ok(decrypted) => match state
            .tokens
            .iter_mut()
            .find(|t| t.secret == decrypted.token())
        {
            None => fail(450, bad_token, "Nieprawidłowy token."),
            Some(t) if t.revoked => fail(450, bad_token, "Token unieważniony."),
            Some(t) if now < t.active_from => fail(450, bad_token, "Token nieaktywny."),
            Some(t) if t.context_nip != context.as_str() => fail(
                415,
                "Uwierzytelnianie zakończone niepowodzeniem z powodu braku nadanych uprawnień.",
                "Token nie jest przypisany do wskazanego kontekstu.",
            ),
            Some(t) => {
                t.last_use = Some(now);
                permissions = t.permissions.clone();
                token_reference = Some(t.reference.clone());
                Outcome {
                    code: 200,
                    description: "Uwierzytelnianie zakończone sukcesem".to_owned(),
                    details: Vec::new(),
                }
            }
        },
    };
    let reference = new_reference(now, "AU")?;
    let (token, valid_until) = issue(
        shared,
        TokenType::Authentication,
        reference.as_str(),
        context.as_str(),
        &permissions,
        now,
        shared.config.authentication_token_lifetime,
    )?;
    let delay = Duration::from_std(shared.config.auth_delay).map_err(internal)?;
    state.auth_ops.insert(
        reference.to_string(),
        AuthOp {
            reference: reference.to_string(),
            context_nip: context.to_string(),
            started: now,
            completes: now + delay,
            outcome,
            permissions,
            token_reference,
            redeemed: false,
            revoked: false,
            last_refresh: None,
            refresh_valid_until: None,
        },
    );
    drop(state);
    json(
        202,
        &AuthenticationInitResponse::new(reference, TokenInfo::new(token, fixed(valid_until))),
    )
}

fn method_info() -> AuthenticationMethodInfo {
    AuthenticationMethodInfo::new(
        AuthenticationMethodCategory::Token,
        "token.ksef",
        "Token KSeF",
    )
}

fn status_info(op: &AuthOp, now: DateTime<Utc>) -> StatusInfo {
    if !op.done(now) {
        return StatusInfo::new(100, "Uwierzytelnianie w toku");
    }
    let mut status = StatusInfo::new(op.outcome.code, op.outcome.description.clone());
    if !op.outcome.details.is_empty() {
        status.details = Some(op.outcome.details.clone());
    }
    status
}

fn not_found(reference: &str) -> ApiError {
    ApiError::bad_request(
        21304,
        "Brak uwierzytelnienia.",
        format!(
            "Operacja uwierzytelniania o numerze referencyjnym {reference} nie została znaleziona."
        ),
    )
}

/// `GET /auth/{referenceNumber}`.
pub(super) fn status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let state = shared.state();
    let op = state
        .auth_ops
        .get(reference)
        .filter(|op| op.reference == claims.ref_)
        .ok_or_else(|| not_found(reference))?;
    let mut body = AuthenticationOperationStatusResponse::new(
        fixed(op.started),
        AuthenticationMethod::Token,
        method_info(),
        status_info(op, req.now),
    );
    if op.succeeded(req.now) {
        body.is_token_redeemed = Some(op.redeemed);
    }
    body.last_token_refresh_date = op.last_refresh.map(fixed);
    body.refresh_token_valid_until = op.refresh_valid_until.map(fixed);
    json(200, &body)
}

/// `POST /auth/token/redeem`.
pub(super) fn redeem(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let now = req.now;
    let mut state = shared.state();
    let op = state
        .auth_ops
        .get_mut(&claims.ref_)
        .ok_or_else(|| not_found(&claims.ref_))?;
    if op.redeemed {
        return Err(ApiError::bad_request(
            21301,
            "Brak autoryzacji.",
            format!(
                "Tokeny dla operacji uwierzytelniania {} zostały już pobrane.",
                op.reference
            ),
        ));
    }
    if !op.succeeded(now) {
        let code = if op.done(now) { op.outcome.code } else { 100 };
        return Err(ApiError::bad_request(
            21301,
            "Brak autoryzacji.",
            format!("Status uwierzytelniania ({code}) nie pozwala na pobranie tokenów."),
        ));
    }
    let config = &shared.config;
    let (access, access_until) = issue(
        shared,
        TokenType::Access,
        &op.reference,
        &op.context_nip,
        &op.permissions,
        now,
        config.access_token_lifetime,
    )?;
    let (refresh, refresh_until) = issue(
        shared,
        TokenType::Refresh,
        &op.reference,
        &op.context_nip,
        &op.permissions,
        now,
        config.refresh_token_lifetime,
    )?;
    op.redeemed = true;
    op.refresh_valid_until = Some(refresh_until);
    drop(state);
    json(
        200,
        &AuthenticationTokensResponse::new(
            TokenInfo::new(access, fixed(access_until)),
            TokenInfo::new(refresh, fixed(refresh_until)),
        ),
    )
}

/// `POST /auth/token/refresh`.
pub(super) fn refresh(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let now = req.now;
    let mut state = shared.state();
    let op = state
        .auth_ops
        .get_mut(&claims.ref_)
        .filter(|op| !op.revoked)
        .ok_or_else(|| ApiError::unauthorized("Sesja uwierzytelniania została unieważniona."))?;
    let (access, access_until) = issue(
        shared,
        TokenType::Access,
        &op.reference,
        &op.context_nip,
        &op.permissions,
        now,
        shared.config.access_token_lifetime,
    )?;
    op.last_refresh = Some(now);
    drop(state);
    json(
        200,
        &AuthenticationTokenRefreshResponse::new(TokenInfo::new(access, fixed(access_until))),
    )
}

/// `GET /auth/sessions`.
pub(super) fn list_sessions(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let now = req.now;
    let state = shared.state();
    let mut ops: Vec<&AuthOp> = state
        .auth_ops
        .values()
        .filter(|op| {
            op.context_nip == claims.ctx
                && op.redeemed
                && !op.revoked
                && op.refresh_valid_until.is_some_and(|t| t > now)
        })
        .collect();
    ops.sort_by(|a, b| {
        b.started
            .cmp(&a.started)
            .then_with(|| b.reference.cmp(&a.reference))
    });
    let mut items = Vec::new();
    for op in ops {
        let mut item = AuthenticationListItem::new(
            fixed(op.started),
            AuthenticationMethod::Token,
            method_info(),
            status_info(op, now),
            op.reference
                .parse::<ksef_model::values::ReferenceNumber>()
                .map_err(internal)?,
        );
        item.is_token_redeemed = Some(op.redeemed);
        item.last_token_refresh_date = op.last_refresh.map(fixed);
        item.refresh_token_valid_until = op.refresh_valid_until.map(fixed);
        item.is_current = Some(op.reference == claims.ref_);
        items.push(item);
    }
    drop(state);
    let (items, next) = req.page(items, 10, 100)?;
    let mut body = AuthenticationListResponse::new(items);
    body.continuation_token = next;
    json(200, &body)
}

/// `DELETE /auth/sessions/current`.
pub(super) fn revoke_current(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let mut state = shared.state();
    let op = state
        .auth_ops
        .get_mut(&claims.ref_)
        .ok_or_else(|| not_found(&claims.ref_))?;
    op.revoked = true;
    Ok(Reply::Empty(204))
}

/// `DELETE /auth/sessions/{referenceNumber}`.
pub(super) fn revoke(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let reference = req.param("referenceNumber");
    let mut state = shared.state();
    let op = state
        .auth_ops
        .get_mut(reference)
        .filter(|op| op.context_nip == claims.ctx)
        .ok_or_else(|| not_found(reference))?;
    op.revoked = true;
    Ok(Reply::Empty(204))
}
