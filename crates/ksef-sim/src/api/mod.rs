//! The operation handlers, and what they share.

pub(crate) mod admin;
mod auth;
pub(crate) mod batch;
pub(crate) mod certificates;
pub(crate) mod collective;
pub(crate) mod exports;
mod invoices;
pub(crate) mod permissions;
mod sessions;
mod tokens;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use ksef_model::OperationInfo;
use ksef_model::values::ReferenceNumber;
use rsa::rand_core::{OsRng, RngCore as _};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;
use crate::keys::{Claims, TokenType};
use crate::server::Shared;

/// Every permission a KSeF token can carry: the spec's `TokenPermissionType` (generated), so a
/// value a new spec adds (e.g. `CollectiveIdentifierManage` in 2.9.0) needs no change here.
pub(crate) const ALL_TOKEN_PERMISSIONS: &[&str] = ksef_model::types::TokenPermissionType::VALUES;

/// A routed, authorised request.
pub(crate) struct Req {
    pub(crate) op: &'static OperationInfo,
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

/// Calls the handler of a simulated operation.
pub(crate) fn dispatch(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    match req.op.id {
        "security.public_key_certificates" => json(200, &shared.certificates),
        "auth.challenge" => auth::challenge(shared, req),
        "auth.ksef_token" => auth::ksef_token(shared, req),
        "auth.xades_signature" => auth::xades_signature(shared, req),
        "auth.status" => auth::status(shared, req),
        "auth.token.redeem" => auth::redeem(shared, req),
        "auth.token.refresh" => auth::refresh(shared, req),
        "auth.sessions.list" => auth::list_sessions(shared, req),
        "auth.sessions.revoke_current" => auth::revoke_current(shared, req),
        "auth.sessions.revoke" => auth::revoke(shared, req),
        "tokens.generate" => tokens::generate(shared, req),
        "tokens.list" => tokens::list(shared, req),
        "tokens.status" => tokens::status(shared, req),
        "tokens.revoke" => tokens::revoke(shared, req),
        "sessions.online.open" => sessions::open(shared, req),
        "sessions.online.send_invoice" => sessions::send_invoice(shared, req),
        "sessions.online.close" => sessions::close(shared, req),
        "sessions.batch.open" => batch::open(shared, req),
        "sessions.batch.close" => batch::close(shared, req),
        "sessions.status" => sessions::status(shared, req),
        "sessions.list" => sessions::list(shared, req),
        "sessions.invoices" => sessions::invoices(shared, req, false),
        "sessions.failed_invoices" => sessions::invoices(shared, req, true),
        "sessions.invoice_status" => sessions::invoice_status(shared, req),
        "sessions.invoice_upo" => sessions::invoice_upo(shared, req),
        "sessions.invoice_upo_by_ksef_number" => sessions::invoice_upo_by_ksef_number(shared, req),
        "sessions.upo" => sessions::session_upo(shared, req),
        "invoices.download" => invoices::download(shared, req),
        "invoices.query_metadata" => invoices::query_metadata(shared, req),
        "invoices.export" => exports::start(shared, req),
        "invoices.export_status" => exports::status(shared, req),
        "limits.context" => admin::context_limits(shared, req),
        "limits.subject" => admin::subject_limits(shared, req),
        "limits.rate_limits" => admin::rate_limits(shared, req),
        "testdata.rate_limits.set" => admin::set_rate_limits(shared, req),
        "testdata.rate_limits.reset" => admin::reset_rate_limits(shared, req),
        "testdata.rate_limits.production" => admin::production_rate_limits(shared, req),
        "testdata.limits.session.set" => admin::set_session_limits(shared, req),
        "testdata.limits.session.reset" => admin::reset_session_limits(shared, req),
        "testdata.limits.certificate.set" => admin::set_certificate_limits(shared, req),
        "testdata.limits.certificate.reset" => admin::reset_certificate_limits(shared, req),
        "testdata.subject.create" => admin::create_subject(shared, req),
        "testdata.subject.remove" => admin::remove_subject(shared, req),
        "testdata.person.create" => admin::create_person(shared, req),
        "testdata.person.remove" => admin::remove_person(shared, req),
        "testdata.permissions.grant" => admin::grant_test_permissions(shared, req),
        "testdata.permissions.revoke" => admin::revoke_test_permissions(shared, req),
        "testdata.attachment.enable" => admin::enable_attachments(shared, req),
        "testdata.attachment.revoke" => admin::revoke_attachments(shared, req),
        "testdata.context.block" => admin::block_context(shared, req),
        "testdata.context.unblock" => admin::unblock_context(shared, req),
        "peppol.query" => admin::peppol(shared, req),
        "permissions.attachments.status" => admin::attachment_status(shared, req),
        "permissions.persons.grant" => permissions::grant_persons(shared, req),
        "permissions.entities.grant" => permissions::grant_entities(shared, req),
        "permissions.authorizations.grant" => permissions::grant_authorization(shared, req),
        "permissions.indirect.grant" => permissions::grant_indirect(shared, req),
        "permissions.subunits.grant" => permissions::grant_subunit(shared, req),
        "permissions.eu_entities.administration.grant" => {
            permissions::grant_eu_administration(shared, req)
        }
        "permissions.eu_entities.grant" => permissions::grant_eu_representative(shared, req),
        "permissions.revoke" => permissions::revoke(shared, req, false),
        "permissions.authorizations.revoke" => permissions::revoke(shared, req, true),
        "permissions.operation_status" => permissions::operation_status(shared, req),
        "permissions.query.personal" => permissions::query_personal(shared, req),
        "permissions.query.persons" => permissions::query_persons(shared, req),
        "permissions.query.entities" => permissions::query_entities(shared, req),
        "permissions.query.authorizations" => permissions::query_authorizations(shared, req),
        "permissions.query.entity_roles" => permissions::query_entity_roles(shared, req),
        "permissions.query.subordinate_entity_roles" => {
            permissions::query_subordinate_roles(shared, req)
        }
        "permissions.query.subunits" => permissions::query_subunits(shared, req),
        "permissions.query.eu_entities" => permissions::query_eu_entities(shared, req),
        "certificates.limits" => certificates::limits(shared, req),
        "certificates.enrollment_data" => certificates::enrollment_data(shared, req),
        "certificates.enroll" => certificates::enroll(shared, req),
        "certificates.enrollment_status" => certificates::enrollment_status(shared, req),
        "certificates.retrieve" => certificates::retrieve(shared, req),
        "certificates.query" => certificates::query(shared, req),
        "certificates.revoke" => certificates::revoke(shared, req),
        "collective_identifiers.generate" => collective::generate(shared, req),
        "collective_identifiers.query" => collective::query(shared, req),
        "collective_identifiers.by_ksef_number" => collective::by_ksef_number(shared, req),
        "collective_identifiers.invoices" => collective::invoices(shared, req),
        "testdata.certificates.update" => collective::update_certificate(shared, req),
        other => Err(ApiError::not_simulated(other)),
    }
}

/// `GET /_sim/...`: statistics, the UPO download links and the export part links.
pub(crate) fn sim_extra(
    shared: &Shared,
    method: &str,
    rest: &str,
    query: &str,
) -> Result<Reply, ApiError> {
    if method != "GET" {
        return Err(ApiError::other(
            405,
            "Niedozwolona metoda.",
            "Only GET is served below /_sim/.",
        ));
    }
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["stats"] => json(200, &shared.state().stats),
        ["export", reference, ordinal] => exports::download_part(shared, reference, ordinal, query),
        ["upo", session, upo] => sessions::session_upo_xml(shared, session, upo, None, Utc::now()),
        ["upo", session, "invoices", invoice] => sessions::invoice_upo_xml(
            shared,
            session,
            None,
            |i, _| i.reference == *invoice,
            Utc::now(),
        ),
        _ => Err(ApiError::other(
            404,
            "Nie znaleziono.",
            format!("No simulator resource /_sim/{rest}."),
        )),
    }
}

/// `n` random uppercase hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    OsRng.fill_bytes(&mut bytes);
    let mut text: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    text.truncate(n);
    text
}

/// A fresh reference number of `kind` (two characters, e.g. `SO`) dated `now`.
pub(crate) fn new_reference(now: DateTime<Utc>, kind: &str) -> Result<ReferenceNumber, ApiError> {
    ReferenceNumber::from_parts(now.date_naive(), kind, &random_hex(10), &random_hex(10))
        .map_err(internal)
}

/// The secret of a new KSeF token (the shape KSeF uses: reference, context, random part).
pub(crate) fn token_secret(reference: &str, nip: &str) -> String {
    format!("{reference}|nip-{nip}|{}", random_hex(64).to_lowercase())
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
