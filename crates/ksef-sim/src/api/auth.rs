//! `/auth/*`: challenge, KSeF-token and XAdES authentication, status, redeem, refresh, auth sessions.

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
use ksef_xades::SubjectIdentifier;
use ksef_xades::xml::{Document, Element, ParseLimits};

use super::common::ca::{dn_attributes, issued_by_ca};
use super::common::subjects::granted_permissions;
use super::common::{
    ALL_TOKEN_PERMISSIONS, Identity, Reply, Req, internal, issue, json, new_reference, random_hex,
};
use crate::errors::ApiError;
use crate::keys::TokenType;
use crate::shared::Shared;
use crate::state::{AuthOp, ChallengeRec, Outcome, State};

fn fixed(t: DateTime<Utc>) -> DateTime<chrono::FixedOffset> {
    t.fixed_offset()
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
    let challenge_ms = use_challenge(&mut state, body.challenge.as_str(), now)?;

    let bad_token = "Uwierzytelnianie zakończone niepowodzeniem z powodu nieprawidłowego tokenu.";
    let mut permissions = Vec::new();
    let mut token_reference = None;
    let mut subject = None;
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
                subject = Some(crate::state::AuthSubject {
                    id_type: "Nip".to_owned(),
                    id_value: t.author_nip.clone(),
                    names: None,
                });
                Outcome {
                    code: 200,
                    description: "Uwierzytelnianie zakończone sukcesem".to_owned(),
                    details: Vec::new(),
                }
            }
        },
    };
    start_operation(
        shared,
        &mut state,
        now,
        &context,
        Started {
            method: AuthenticationMethod::Token,
            outcome,
            permissions,
            token_reference,
            subject,
        },
    )
}

/// What a started authentication operation records besides its context.
struct Started {
    method: AuthenticationMethod,
    outcome: Outcome,
    permissions: Vec<String>,
    token_reference: Option<String>,
    subject: Option<crate::state::AuthSubject>,
}

/// Records an authentication operation and answers 202 with its reference and authentication
/// token (the common tail of `/auth/ksef-token` and `/auth/xades-signature`).
fn start_operation(
    shared: &Shared,
    state: &mut State,
    now: DateTime<Utc>,
    context: &Nip,
    started: Started,
) -> Result<Reply, ApiError> {
    let reference = new_reference(now, "AU")?;
    let (token, valid_until) = issue(
        shared,
        TokenType::Authentication,
        reference.as_str(),
        context.as_str(),
        &started.permissions,
        &Identity {
            method: &started.method,
            subject: started.subject.as_ref(),
            token_reference: started.token_reference.as_deref(),
        },
        now,
        shared.config.authentication_token_lifetime,
    )?;
    let delay = Duration::from_std(shared.config.auth_delay).map_err(internal)?;
    let mut started = started;
    if started.outcome.code == 200 && state.blocked_contexts.contains(context.as_str()) {
        started.outcome = fail(
            480,
            "Uwierzytelnianie zablokowane.",
            "Uwierzytelnianie w tym kontekście zostało zablokowane (incydent bezpieczeństwa).",
        );
    }
    let subject = (started.outcome.code == 200)
        .then_some(started.subject)
        .flatten();
    state.auth_ops.insert(
        reference.to_string(),
        AuthOp {
            reference: reference.to_string(),
            context_nip: context.to_string(),
            method: started.method,
            started: now,
            completes: now + delay,
            outcome: started.outcome,
            permissions: started.permissions,
            token_reference: started.token_reference,
            redeemed: false,
            revoked: false,
            last_refresh: None,
            refresh_valid_until: None,
            subject,
        },
    );
    json(
        202,
        &AuthenticationInitResponse::new(reference, TokenInfo::new(token, fixed(valid_until))),
    )
}

/// Marks `challenge` used if it is live and unused; 21111 otherwise.
fn use_challenge(state: &mut State, challenge: &str, now: DateTime<Utc>) -> Result<i64, ApiError> {
    match state.challenges.get_mut(challenge) {
        Some(c) if !c.used && c.expires > now => {
            c.used = true;
            Ok(c.timestamp_ms)
        }
        _ => Err(ApiError::bad_request(
            21111,
            "Nieprawidłowe wyzwanie autoryzacyjne.",
            "",
        )),
    }
}

/// The fields of a (verified) `AuthTokenRequest` the simulator reads.
struct SignedRequest {
    context_type: String,
    context_value: String,
    by_fingerprint: bool,
}

fn invalid_document(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(9101, "Nieprawidłowy dokument.", detail)
}

fn child<'a>(parent: Element<'a>, name: &str) -> Option<Element<'a>> {
    parent
        .as_node()
        .children()
        .filter_map(|n| n.as_element())
        .find(|e| e.local_name() == name)
}

fn text_of(element: Element<'_>) -> String {
    element
        .as_node()
        .children()
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Reads the context and the subject identifier type of a signed `AuthTokenRequest`.
fn read_request(xml: &[u8]) -> Result<SignedRequest, ApiError> {
    let doc = Document::parse(xml, &ParseLimits::default())
        .map_err(|e| invalid_document(e.to_string()))?;
    let root = doc.root();
    let namespace_ok = root
        .namespace()
        .is_some_and(|ns| ns.starts_with("http://ksef.mf.gov.pl/auth/token/"));
    if root.local_name() != "AuthTokenRequest" || !namespace_ok {
        return Err(invalid_document(
            "The root element is not AuthTokenRequest.",
        ));
    }
    let context = child(root, "ContextIdentifier")
        .and_then(|c| c.as_node().children().find_map(|n| n.as_element()))
        .ok_or_else(|| invalid_document("ContextIdentifier is missing."))?;
    let subject = child(root, "SubjectIdentifierType")
        .map(text_of)
        .ok_or_else(|| invalid_document("SubjectIdentifierType is missing."))?;
    let by_fingerprint = match subject.as_str() {
        "certificateSubject" => false,
        "certificateFingerprint" => true,
        other => {
            return Err(invalid_document(format!(
                "Unknown SubjectIdentifierType `{other}`."
            )));
        }
    };
    Ok(SignedRequest {
        context_type: context.local_name().to_owned(),
        context_value: text_of(context),
        by_fingerprint,
    })
}

/// The 400 answer to a document whose signature does not verify.
fn signature_error(error: &ksef_xades::Error) -> ApiError {
    use ksef_xades::Error as X;
    let detail = error.to_string();
    match error {
        X::NoSignature => ApiError::bad_request(9102, "Brak podpisu.", detail),
        X::TooManySignatures { .. } => {
            ApiError::bad_request(9103, "Przekroczona dozwolona liczba podpisów.", detail)
        }
        X::InvalidCertificate { .. } => {
            ApiError::bad_request(21115, "Nieprawidłowy certyfikat.", detail)
        }
        X::MalformedSignature { .. }
        | X::UnsupportedAlgorithm { .. }
        | X::UnacceptableReference { .. }
        | X::DigestMismatch { .. }
        | X::InvalidSignatureValue
        | X::SigningCertificateMismatch
        | X::DuplicateId { .. } => ApiError::bad_request(9105, "Nieprawidłowy podpis.", detail),
        _ => invalid_document(detail),
    }
}

/// `POST /auth/xades-signature`.
pub(super) fn xades_signature(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let now = req.now;
    // Signature verification (parsing, digests, RSA/ECDSA) happens before taking the state lock.
    // Like KSeF's TEST environment, self-signed certificates are accepted unless the request
    // asks for `verifyCertificateChain=true` (no OCSP or CRL checks in any case).
    let verified = ksef_xades::xades::verify(&req.body).map_err(|e| signature_error(&e))?;
    let request = read_request(&req.body)?;
    let challenge = verified
        .challenge()
        .ok_or_else(|| invalid_document("Challenge is missing."))?
        .to_owned();
    if request.context_type != "Nip" {
        return Err(ApiError::validation(format!(
            "Context identifier type {} is not simulated; use Nip.",
            request.context_type
        )));
    }
    let context: Nip = request
        .context_value
        .parse()
        .map_err(|_| invalid_document("ContextIdentifier/Nip is not a valid NIP."))?;
    let certificate = verified.certificate();
    let identifier = certificate.subject_identifier();
    let seal = matches!(identifier, Some(SubjectIdentifier::SealNip(_)));
    let no_permissions = |detail: &str| {
        fail(
            415,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu braku nadanych uprawnień.",
            detail,
        )
    };
    // `verifyCertificateChain=true`: only certificates that chain to a trusted CA (here: KSeF
    // certificates the simulator issued) authenticate; self-signed ones end in 460.
    let verify_chain = req.query.iter().any(|(name, value)| {
        name == "verifyCertificateChain" && value.eq_ignore_ascii_case("true")
    });
    let own_nip_is_owner = |nip: &str| {
        shared.config.mode == crate::SimMode::Test
            || shared.config.subjects.iter().any(|s| s == nip)
    };
    let outcome = if verify_chain && !issued_by_ca(certificate) {
        Some(fail(
            460,
            "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu.",
            "Niezaufany łańcuch certyfikatów.",
        ))
    } else if request.by_fingerprint {
        let fingerprint = certificate.fingerprint_sha256_hex();
        let granted =
            shared.config.trusted_fingerprints.iter().any(|(nip, hex)| {
                nip == context.as_str() && hex.eq_ignore_ascii_case(&fingerprint)
            });
        if granted {
            None
        } else {
            Some(no_permissions(
                "Odcisk palca certyfikatu nie ma uprawnień w tym kontekście.",
            ))
        }
    } else {
        match identifier {
            // A NIP's own certificate is its owner: any NIP in TEST mode (the context exists
            // from its first login), only the seeded subjects otherwise.
            Some(SubjectIdentifier::SealNip(nip) | SubjectIdentifier::PersonNip(nip))
                if nip == context.as_str() && own_nip_is_owner(nip) =>
            {
                None
            }
            Some(_) => Some(no_permissions(
                "Podmiot certyfikatu nie ma uprawnień w tym kontekście.",
            )),
            None => Some(fail(
                460,
                "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu.",
                "Certyfikat nie zawiera identyfikatora podmiotu.",
            )),
        }
    };
    let fingerprint = certificate.fingerprint_sha256_hex().to_ascii_uppercase();
    let (id_type, id_value) = if request.by_fingerprint {
        ("Fingerprint", fingerprint.clone())
    } else {
        match identifier {
            Some(SubjectIdentifier::PersonPesel(pesel)) => ("Pesel", pesel.clone()),
            Some(SubjectIdentifier::SealNip(nip) | SubjectIdentifier::PersonNip(nip)) => {
                ("Nip", nip.clone())
            }
            _ => ("Fingerprint", fingerprint.clone()),
        }
    };
    let names = Some(dn_attributes(certificate.subject_attributes()));
    let subject = crate::state::AuthSubject {
        id_type: id_type.to_owned(),
        id_value: id_value.clone(),
        names,
    };
    let mut state = shared.state();
    use_challenge(&mut state, &challenge, now)?;
    // Permissions granted to the certificate's identifier (or fingerprint) in the context.
    let mut granted = Vec::new();
    let outcome = match outcome {
        Some(failed) if failed.code == 415 => {
            let identifiers = [id_value.clone(), fingerprint.clone()];
            granted = granted_permissions(&state, context.as_str(), &identifiers);
            let deceased = id_type == "Pesel"
                && state
                    .test_persons
                    .values()
                    .any(|p| p.deceased && p.pesel == id_value);
            if deceased {
                Some(fail(
                    470,
                    "Uwierzytelnianie zakończone niepowodzeniem z powodu użycia poświadczeń osoby zmarłej.",
                    "Osoba, której dotyczy certyfikat, nie żyje.",
                ))
            } else if granted.is_empty() {
                Some(failed)
            } else {
                None
            }
        }
        other => other,
    };
    let (outcome, permissions) = match outcome {
        Some(failed) => (failed, Vec::new()),
        None if !granted.is_empty() => (
            Outcome {
                code: 200,
                description: "Uwierzytelnianie zakończone sukcesem".to_owned(),
                details: Vec::new(),
            },
            granted,
        ),
        None => (
            Outcome {
                code: 200,
                description: "Uwierzytelnianie zakończone sukcesem".to_owned(),
                details: Vec::new(),
            },
            ALL_TOKEN_PERMISSIONS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
        ),
    };
    start_operation(
        shared,
        &mut state,
        now,
        &context,
        Started {
            method: if seal {
                AuthenticationMethod::QualifiedSeal
            } else {
                AuthenticationMethod::QualifiedSignature
            },
            outcome,
            permissions,
            token_reference: None,
            subject: Some(subject),
        },
    )
}

fn method_info(method: &AuthenticationMethod) -> AuthenticationMethodInfo {
    match method {
        AuthenticationMethod::Token => AuthenticationMethodInfo::new(
            AuthenticationMethodCategory::Token,
            "token.ksef",
            "Token KSeF",
        ),
        AuthenticationMethod::QualifiedSeal => AuthenticationMethodInfo::new(
            AuthenticationMethodCategory::XadesSignature,
            "xades.seal",
            "Pieczęć elektroniczna",
        ),
        _ => AuthenticationMethodInfo::new(
            AuthenticationMethodCategory::XadesSignature,
            "xades.signature",
            "Podpis elektroniczny",
        ),
    }
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
        method_info(&op.method),
        status_info(op, req.now),
    );
    // Obsolete (KSeF plans to drop it on 2026-11-16) but still in 2.9.0's schema: sent for the
    // clients that read it.
    body.authentication_method = Some(op.method.clone());
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
    let identity = Identity {
        method: &op.method,
        subject: op.subject.as_ref(),
        token_reference: op.token_reference.as_deref(),
    };
    let (access, access_until) = issue(
        shared,
        TokenType::Access,
        &op.reference,
        &op.context_nip,
        &op.permissions,
        &identity,
        now,
        config.access_token_lifetime,
    )?;
    let (refresh, refresh_until) = issue(
        shared,
        TokenType::Refresh,
        &op.reference,
        &op.context_nip,
        &op.permissions,
        &identity,
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
        &Identity {
            method: &op.method,
            subject: op.subject.as_ref(),
            token_reference: op.token_reference.as_deref(),
        },
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
            method_info(&op.method),
            status_info(op, now),
            op.reference
                .parse::<ksef_model::values::ReferenceNumber>()
                .map_err(internal)?,
        );
        item.authentication_method = Some(op.method.clone());
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
