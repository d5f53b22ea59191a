//! Access checks before a handler runs: the bearer token an operation needs, its required
//! permissions, and the rate limits.

use std::net::SocketAddr;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use ksef_model::{Auth, OperationInfo};

use crate::errors::ApiError;
use crate::keys::{Claims, TokenType};
use crate::rate_limit::rate_override;
use crate::shared::Shared;

/// Checks the bearer token an operation needs, and the permissions it requires.
pub(super) fn authorize(
    shared: &Shared,
    op: &OperationInfo,
    headers: &hyper::HeaderMap,
    now: DateTime<Utc>,
) -> Result<Option<Claims>, ApiError> {
    let expected = match op.auth {
        Auth::AccessToken => TokenType::Access,
        Auth::AuthenticationToken => TokenType::Authentication,
        Auth::RefreshToken => TokenType::Refresh,
        _ => return Ok(None),
    };
    let token = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthorized("Brak tokena uwierzytelniającego (missing bearer token).")
        })?;
    let claims = shared.keys.verify_jwt(token, now).ok_or_else(|| {
        ApiError::unauthorized("Token jest nieprawidłowy lub wygasł (invalid or expired token).")
    })?;
    if claims.typ != expected {
        return Err(ApiError::unauthorized(format!(
            "Nieprawidłowy typ tokena: oczekiwano {expected:?}, otrzymano {:?}.",
            claims.typ
        )));
    }
    if !op.required_permissions.is_empty()
        && !op
            .required_permissions
            .iter()
            .any(|p| claims.per.iter().any(|c| c == p))
    {
        return Err(ApiError::forbidden(
            "missing-permissions",
            format!(
                "Operation requires one of: {}.",
                op.required_permissions.join(", ")
            ),
        ));
    }
    Ok(Some(claims))
}

/// Checks the rate limit of `op` for the caller's context and IP: the context's override if one
/// is set, else the production limits scaled (not enforced without a scale).
pub(super) fn check_rate_limit(
    shared: &Shared,
    op: &'static OperationInfo,
    caller: Option<&Claims>,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let overridden =
        caller.and_then(|c| rate_override(&shared.state(), &c.ctx, op.rate_limit.group));
    let limits = match overridden {
        Some((s, m, h)) => Some((
            ksef_model::RateLimit::new(op.rate_limit.group, s, Some(m), Some(h)),
            1.0,
        )),
        None => shared
            .config
            .rate_limit_scale
            .map(|scale| (op.rate_limit, scale)),
    };
    if let Some((limit, scale)) = limits {
        let context = caller.map(|c| c.ctx.as_str());
        let ip = peer.ip().to_string();
        let checked = shared
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(op, limit, context, &ip, scale, std::time::Instant::now());
        if let Err(seconds) = checked {
            {
                let mut state = shared.state();
                state.stats.rate_limited += 1;
                state.stats.too_many_requests_sent += 1;
            }
            return Err(ApiError::too_many_requests(seconds));
        }
    }
    Ok(())
}
