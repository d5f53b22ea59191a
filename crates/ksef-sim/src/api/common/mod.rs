//! What the operation handlers share: the routed request ([`Req`]), the answer ([`Reply`]),
//! JWT issuing and query parsing here; session lookup and invoice intake, the caller's subject,
//! permissions and limits, invoice queries, presigned link signatures and the simulator's CA in
//! the submodules. Handlers
//! import this module, never each other; nothing here imports a handler.

pub(crate) mod ca;
pub(crate) mod intake;
pub(crate) mod invoice_query;
pub(crate) mod links;
pub(crate) mod session;
pub(crate) mod subjects;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;
use crate::keys::{Claims, TokenType};
use crate::shared::Shared;

pub(crate) use crate::ids::{new_reference, random_hex, token_secret};

/// Every permission a KSeF token can carry: the spec's `TokenPermissionType` (generated), so a
/// value a new spec adds (e.g. `CollectiveIdentifierManage` in 2.9.0) needs no change here.
pub(crate) const ALL_TOKEN_PERMISSIONS: &[&str] = ksef_model::types::TokenPermissionType::VALUES;

/// A routed, authorised request.
pub(crate) struct Req {
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: hyper::HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) client_ip: String,
    pub(crate) caller: Option<Claims>,
    pub(crate) now: DateTime<Utc>,
}

impl Req {
    /// A path parameter (always present once routed).
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter (`?a=1&a=2`).
    pub(crate) fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// An integer query parameter within `min..=max`, or `default`.
    pub(crate) fn query_int(
        &self,
        name: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ApiError> {
        match self.query(name) {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(v) if (min..=max).contains(&v) => Ok(v),
                _ => Err(ApiError::validation(format!(
                    "Parameter {name} must be an integer from {min} to {max}."
                ))),
            },
        }
    }

    /// A date-time query parameter (RFC 3339; a `+` the client left unencoded is accepted).
    pub(crate) fn query_date(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.query(name)
            .map(|text| {
                DateTime::parse_from_rfc3339(&text.replace(' ', "+"))
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::validation(format!(
                            "Parameter {name} is not an RFC 3339 date-time."
                        ))
                    })
            })
            .transpose()
    }

    /// The JSON body.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::validation(format!("Invalid request body: {e}.")))
    }

    /// The verified token of the caller.
    pub(crate) fn caller(&self) -> Result<&Claims, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("Brak tokena uwierzytelniającego."))
    }

    /// The continuation token header, as an offset.
    pub(crate) fn continuation(&self) -> Result<usize, ApiError> {
        match self.headers.get("x-continuation-token") {
            None => Ok(0),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        21418,
                        "Przekazany token kontynuacji ma nieprawidłowy format.",
                        "",
                    )
                }),
        }
    }

    /// One page of `items` by continuation token and `pageSize` (`min..=max`, default `min`).
    pub(crate) fn page<T>(
        &self,
        items: Vec<T>,
        min: i64,
        max: i64,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        let size = usize::try_from(self.query_int("pageSize", min, min, max)?).unwrap_or(10);
        let offset = self.continuation()?;
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
        let next = (offset + size < total).then(|| (offset + size).to_string());
        Ok((page, next))
    }
}

/// A successful answer.
pub(crate) enum Reply {
    Json(u16, Vec<u8>),
    Xml(Vec<u8>),
    /// 200 `application/octet-stream` with `x-ms-meta-hash`.
    Binary(Vec<u8>),
    Empty(u16),
}

/// An internal error (500) whose detail is `e`'s message.
pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// A JSON answer built from a generated response type.
pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> Result<Reply, ApiError> {
    serde_json::to_vec(value)
        .map(|body| Reply::Json(status, body))
        .map_err(internal)
}

/// Who an authentication operation authenticated, and how: what a JWT says besides its context
/// and permissions.
pub(crate) struct Identity<'a> {
    pub(crate) method: &'a ksef_model::types::AuthenticationMethod,
    pub(crate) subject: Option<&'a crate::state::AuthSubject>,
    pub(crate) token_reference: Option<&'a str>,
}

impl Identity<'_> {
    /// The `sud` claim: the subject's identifier and the names its certificate carries.
    fn subject_details(&self) -> Option<serde_json::Value> {
        let subject = self.subject?;
        let mut details = serde_json::Map::new();
        details.insert(
            "subjectIdentifier".to_owned(),
            serde_json::json!({"type": subject.id_type, "value": subject.id_value}),
        );
        let names = subject.names.as_deref().unwrap_or_default();
        let of = |oid: &'static str| {
            names
                .iter()
                .filter(move |(o, _)| o == oid)
                .map(|(_, v)| v.as_str())
        };
        details.insert(
            "givenNames".to_owned(),
            serde_json::json!(of("2.5.4.42").collect::<Vec<_>>()),
        );
        for (name, oid) in [
            ("surname", "2.5.4.4"),
            ("serialNumber", "2.5.4.5"),
            ("commonName", "2.5.4.3"),
            ("countryName", "2.5.4.6"),
        ] {
            if let Some(value) = of(oid).next() {
                details.insert(name.to_owned(), serde_json::json!(value));
            }
        }
        Some(serde_json::Value::Object(details))
    }
}

/// Issues a JWT of the simulator.
#[allow(clippy::too_many_arguments)]
pub(crate) fn issue(
    shared: &Shared,
    typ: TokenType,
    reference: &str,
    context: &str,
    permissions: &[String],
    identity: &Identity<'_>,
    now: DateTime<Utc>,
    lifetime: std::time::Duration,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let lifetime = chrono::Duration::from_std(lifetime).map_err(internal)?;
    let exp = now + lifetime;
    let claims = Claims {
        typ,
        ref_: reference.to_owned(),
        ctx: context.to_owned(),
        per: permissions.to_vec(),
        iat: now.timestamp(),
        exp: exp.timestamp(),
        jti: random_hex(16),
        aum: identity.method.as_str().to_owned(),
        sud: identity.subject_details(),
        trn: identity.token_reference.map(str::to_owned),
    };
    let token = shared.keys.sign_jwt(&claims).map_err(internal)?;
    // `exp` has whole seconds: report that instant as the token's validity.
    let valid_until = DateTime::from_timestamp(exp.timestamp(), 0).unwrap_or(exp);
    Ok((token, valid_until))
}

/// Splits a query string into decoded pairs.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Some(value) = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn duration(d: std::time::Duration) -> Result<Duration, ApiError> {
    Duration::from_std(d).map_err(internal)
}
