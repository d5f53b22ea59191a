//! Limits (`/limits/*`, `/rate-limits`), the test-data API (`/testdata/*`) and the Peppol
//! provider list.
//!
//! Simplified: of the session limits of a context (reported, and changed with the test-data
//! API), only the online session's `maxInvoices` is enforced (21155); invoice sizes and batch
//! counts are checked against the fixed KSeF defaults;
//! certificate limits are enforced by enrollment. Rate limits set with `/testdata/rate-limits`
//! are enforced for that context even when [`SimulatorBuilder::rate_limit_scale`] is not set.
//! Test subjects and persons are recorded (30001 for a second one with the same NIP); a person's
//! owner permission lets a certificate with that PESEL or NIP log in to the person's NIP. The
//! Peppol registry holds the providers seeded at start.
//!
//! [`SimulatorBuilder::rate_limit_scale`]: crate::SimulatorBuilder::rate_limit_scale

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ksef_model::RateLimitGroup;
use ksef_model::types::{
    AttachmentPermissionGrantRequest, AttachmentPermissionRevokeRequest,
    BatchSessionEffectiveContextLimits, BatchSessionEffectiveContextLimitsParams,
    BlockContextAuthenticationRequest, CertificateEffectiveSubjectLimits,
    CheckAttachmentPermissionStatusResponse, CollectiveIdentifierEffectiveContextLimits,
    EffectiveApiRateLimitValues, EffectiveApiRateLimitValuesParams, EffectiveApiRateLimits,
    EffectiveContextLimits, EffectiveSubjectLimits, EnrollmentEffectiveSubjectLimits,
    OnlineSessionEffectiveContextLimits, OnlineSessionEffectiveContextLimitsParams, PeppolProvider,
    PersonCreateRequest, PersonRemoveRequest, QueryPeppolProvidersResponse, SetRateLimitsRequest,
    SetSessionLimitsRequest, SetSubjectLimitsRequest, SubjectCreateRequest, SubjectRemoveRequest,
    TestDataPermissionsGrantRequest, TestDataPermissionsRevokeRequest,
    UnblockContextAuthenticationRequest,
};

use super::common::subjects::{
    COLLECTIVE_IDENTIFIER_MAX_INVOICES, certificate_limits, check_identifier, check_nip, subject_of,
};
use super::common::{Reply, Req, internal, json};
use crate::errors::ApiError;
use crate::rate_limit::rate_override;
use crate::shared::Shared;
use crate::state::{Grant, GrantKind, TestPerson, TestSubject};
/// 30001: the subject, person or permission exists already.
fn exists(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(30001, "Podmiot lub uprawnienie już istnieje.", detail)
}

fn default_context_limits() -> EffectiveContextLimits {
    EffectiveContextLimits::new(
        OnlineSessionEffectiveContextLimits::new(OnlineSessionEffectiveContextLimitsParams {
            max_invoice_size_in_mb: 1,
            max_invoice_with_attachment_size_in_mb: 3,
            max_invoices: 10_000,
        }),
        BatchSessionEffectiveContextLimits::new(BatchSessionEffectiveContextLimitsParams {
            max_invoice_size_in_mb: 1,
            max_invoice_with_attachment_size_in_mb: 3,
            max_invoices: 10_000,
        }),
        CollectiveIdentifierEffectiveContextLimits::new(COLLECTIVE_IDENTIFIER_MAX_INVOICES),
    )
}

/// `GET /limits/context`.
pub(super) fn context_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let limits = shared
        .state()
        .session_limits
        .get(&claims.ctx)
        .cloned()
        .unwrap_or_else(default_context_limits);
    json(200, &limits)
}

/// `GET /limits/subject`.
pub(super) fn subject_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let (enrollments, certificates) = certificate_limits(&shared.state(), &subject);
    let mut body = EffectiveSubjectLimits::new();
    let mut enrollment = EnrollmentEffectiveSubjectLimits::new();
    enrollment.max_enrollments = Some(enrollments);
    let mut certificate = CertificateEffectiveSubjectLimits::new();
    certificate.max_certificates = Some(certificates);
    body.enrollment = Some(enrollment);
    body.certificate = Some(certificate);
    json(200, &body)
}

/// The production limit of a group (generated from the spec: its operations' `x-rate-limits`,
/// else the example of `/rate-limits`); a window the spec leaves open is reported as the
/// per-second limit times its length. A group the spec gives no limits gets `other`'s.
fn production(group: RateLimitGroup) -> (u32, u32, u32) {
    let l = group
        .production()
        .or_else(|| RateLimitGroup::Other.production())
        .unwrap_or_else(|| ksef_model::RateLimit::new(group, 10, Some(30), Some(120)));
    (
        l.per_second,
        l.per_minute.unwrap_or(l.per_second.saturating_mul(60)),
        l.per_hour.unwrap_or(l.per_second.saturating_mul(3600)),
    )
}

/// The limits in force for `context`: the override if set, else production scaled.
pub(crate) fn effective_rate(
    shared: &Shared,
    state: &crate::state::State,
    context: &str,
    group: RateLimitGroup,
) -> (u32, u32, u32) {
    if let Some(set) = rate_override(state, context, group) {
        return set;
    }
    let (s, m, h) = production(group);
    let scale = shared.config.rate_limit_scale.unwrap_or(1.0);
    let scaled = |n: u32| {
        let v = (f64::from(n) * scale).ceil();
        if v < 1.0 {
            1
        } else if v > 1e9 {
            1_000_000_000
        } else {
            // In range: checked above.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = v as u32;
            v
        }
    };
    (scaled(s), scaled(m), scaled(h))
}

/// `GET /rate-limits`.
pub(super) fn rate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let state = shared.state();
    // Every group the spec's `EffectiveApiRateLimits` lists (generated), so a group a new spec
    // adds is reported without a change here; the typed parse checks nothing required is missing.
    let mut groups = serde_json::Map::new();
    for &group in RateLimitGroup::REPORTED {
        let (s, m, h) = effective_rate(shared, &state, &claims.ctx, group);
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        // A window the spec leaves open (`anonymous`, `global`) is reported as KSeF does: -1.
        let open = |window: fn(&ksef_model::RateLimit) -> Option<u32>| {
            rate_override(&state, &claims.ctx, group).is_none()
                && group.production().is_some_and(|l| window(&l).is_none())
        };
        let value = EffectiveApiRateLimitValues::new(EffectiveApiRateLimitValuesParams {
            per_second: int(s),
            per_minute: if open(|l| l.per_minute) { -1 } else { int(m) },
            per_hour: if open(|l| l.per_hour) { -1 } else { int(h) },
        });
        groups.insert(
            group.as_str().to_owned(),
            serde_json::to_value(value).map_err(internal)?,
        );
    }
    drop(state);
    let body: EffectiveApiRateLimits =
        serde_json::from_value(serde_json::Value::Object(groups)).map_err(internal)?;
    json(200, &body)
}

fn positive(name: &str, value: i32) -> Result<u32, ApiError> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::validation(format!("{name} must be a positive integer.")))
}

/// `POST /testdata/rate-limits`.
pub(super) fn set_rate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SetRateLimitsRequest = req.json()?;
    let value: serde_json::Value = serde_json::to_value(&body.rate_limits).map_err(internal)?;
    let mut groups = BTreeMap::new();
    for &group in RateLimitGroup::OVERRIDABLE {
        let name = group.as_str();
        let entry = &value[name];
        let field = |f: &str| -> Result<u32, ApiError> {
            let n = entry[f]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0);
            positive(&format!("rateLimits.{name}.{f}"), n)
        };
        let (s, m, h) = (field("perSecond")?, field("perMinute")?, field("perHour")?);
        if s > m || m > h {
            return Err(ApiError::validation(format!(
                "rateLimits.{name}: perSecond <= perMinute <= perHour is required."
            )));
        }
        groups.insert(name.to_owned(), (s, m, h));
    }
    shared
        .state()
        .rate_overrides
        .insert(claims.ctx.clone(), groups);
    Ok(Reply::Empty(200))
}

/// `DELETE /testdata/rate-limits`: back to the simulator's defaults.
pub(super) fn reset_rate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    shared.state().rate_overrides.remove(&claims.ctx);
    Ok(Reply::Empty(200))
}

/// `POST /testdata/rate-limits/production`: the production values, unscaled.
pub(super) fn production_rate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let groups = RateLimitGroup::OVERRIDABLE
        .iter()
        .map(|&group| (group.as_str().to_owned(), production(group)))
        .collect();
    shared
        .state()
        .rate_overrides
        .insert(claims.ctx.clone(), groups);
    Ok(Reply::Empty(200))
}

/// `POST /testdata/limits/context/session`.
pub(super) fn set_session_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: SetSessionLimitsRequest = req.json()?;
    let o = &body.online_session;
    let b = &body.batch_session;
    for (name, value) in [
        ("onlineSession.maxInvoiceSizeInMB", o.max_invoice_size_in_mb),
        (
            "onlineSession.maxInvoiceWithAttachmentSizeInMB",
            o.max_invoice_with_attachment_size_in_mb,
        ),
        ("onlineSession.maxInvoices", o.max_invoices),
        ("batchSession.maxInvoiceSizeInMB", b.max_invoice_size_in_mb),
        (
            "batchSession.maxInvoiceWithAttachmentSizeInMB",
            b.max_invoice_with_attachment_size_in_mb,
        ),
        ("batchSession.maxInvoices", b.max_invoices),
    ] {
        positive(name, value)?;
    }
    let c = body.collective_identifier.max_invoices;
    if !(2..=5000).contains(&c) {
        return Err(ApiError::validation(
            "collectiveIdentifier.maxInvoices must be between 2 and 5000.",
        ));
    }
    let limits = EffectiveContextLimits::new(
        OnlineSessionEffectiveContextLimits::new(OnlineSessionEffectiveContextLimitsParams {
            max_invoice_size_in_mb: o.max_invoice_size_in_mb,
            max_invoice_with_attachment_size_in_mb: o.max_invoice_with_attachment_size_in_mb,
            max_invoices: o.max_invoices,
        }),
        BatchSessionEffectiveContextLimits::new(BatchSessionEffectiveContextLimitsParams {
            max_invoice_size_in_mb: b.max_invoice_size_in_mb,
            max_invoice_with_attachment_size_in_mb: b.max_invoice_with_attachment_size_in_mb,
            max_invoices: b.max_invoices,
        }),
        CollectiveIdentifierEffectiveContextLimits::new(c),
    );
    shared
        .state()
        .session_limits
        .insert(claims.ctx.clone(), limits);
    Ok(Reply::Empty(200))
}

/// `DELETE /testdata/limits/context/session`.
pub(super) fn reset_session_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    shared.state().session_limits.remove(&claims.ctx);
    Ok(Reply::Empty(200))
}

/// `POST /testdata/limits/subject/certificate`: for the authenticated subject.
pub(super) fn set_certificate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let body: SetSubjectLimitsRequest = req.json()?;
    let enrollments = body.enrollment.and_then(|e| e.max_enrollments);
    let certificates = body.certificate.and_then(|c| c.max_certificates);
    if let Some(n) = enrollments {
        positive("enrollment.maxEnrollments", n)?;
    }
    if let Some(n) = certificates {
        positive("certificate.maxCertificates", n)?;
    }
    shared
        .state()
        .subject_limits
        .insert(subject.1, (enrollments, certificates));
    Ok(Reply::Empty(200))
}

/// `DELETE /testdata/limits/subject/certificate`.
pub(super) fn reset_certificate_limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    shared.state().subject_limits.remove(&subject.1);
    Ok(Reply::Empty(200))
}

/// Whether `nip` is a known subject (seeded or created).
pub(crate) fn subject_exists(shared: &Shared, state: &crate::state::State, nip: &str) -> bool {
    shared.config.subjects.iter().any(|s| s == nip) || state.test_subjects.contains_key(nip)
}

fn created(
    date: Option<&chrono::DateTime<chrono::FixedOffset>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    date.map_or(now, |d| d.with_timezone(&Utc))
}

/// `POST /testdata/subject`.
pub(super) fn create_subject(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: SubjectCreateRequest = req.json()?;
    if !body.subject_type.is_known() {
        return Err(ApiError::validation(
            "subjectType must be EnforcementAuthority, VatGroup or JST.",
        ));
    }
    let nip = body.subject_nip.to_string();
    let subunits = body.subunits.clone().unwrap_or_default();
    let mut state = shared.state();
    for candidate in
        std::iter::once(nip.as_str()).chain(subunits.iter().map(|s| s.subject_nip.as_str()))
    {
        if subject_exists(shared, &state, candidate) {
            return Err(exists(format!("Podmiot o NIP {candidate} już istnieje.")));
        }
    }
    let when = created(body.created_date.as_ref(), req.now);
    state.test_subjects.insert(
        nip.clone(),
        TestSubject {
            subject_type: body.subject_type.as_str().to_owned(),
            description: body.description.clone(),
            parent: None,
            created: when,
        },
    );
    for unit in subunits {
        state.test_subjects.insert(
            unit.subject_nip.to_string(),
            TestSubject {
                subject_type: body.subject_type.as_str().to_owned(),
                description: unit.description,
                parent: Some(nip.clone()),
                created: when,
            },
        );
    }
    Ok(Reply::Empty(200))
}

/// `POST /testdata/subject/remove` (with its subunits and every grant in their contexts).
pub(super) fn remove_subject(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: SubjectRemoveRequest = req.json()?;
    let nip = body.subject_nip.to_string();
    let mut state = shared.state();
    if state.test_subjects.remove(&nip).is_none() {
        return Err(ApiError::validation(format!(
            "Podmiot testowy o NIP {nip} nie istnieje."
        )));
    }
    state
        .test_subjects
        .retain(|_, s| s.parent.as_deref() != Some(nip.as_str()));
    let remaining: Vec<String> = state.test_subjects.keys().cloned().collect();
    let seeded = &shared.config.subjects;
    state.grants.retain(|g| {
        g.context != nip
            && (seeded.contains(&g.context)
                || remaining.contains(&g.context)
                || g.kind != GrantKind::TestData)
    });
    Ok(Reply::Empty(200))
}

/// `POST /testdata/person`: the person owns its NIP context (and, as a bailiff, gets
/// `EnforcementOperations`).
pub(super) fn create_person(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: PersonCreateRequest = req.json()?;
    let nip = body.nip.to_string();
    let pesel = body.pesel.to_string();
    let mut state = shared.state();
    if state.test_persons.contains_key(&nip)
        || state.test_persons.values().any(|p| p.pesel == pesel)
    {
        return Err(exists(format!(
            "Osoba o NIP {nip} lub PESEL {pesel} już istnieje."
        )));
    }
    let mut permissions = vec!["Owner".to_owned()];
    if body.is_bailiff {
        permissions.push("EnforcementOperations".to_owned());
    }
    for scope in permissions {
        let grant = Grant::test_data(&nip, "Pesel", &pesel, &scope, "Osoba testowa", req.now);
        state.grants.push(grant);
    }
    state.test_persons.insert(
        nip,
        TestPerson {
            pesel,
            bailiff: body.is_bailiff,
            deceased: body.is_deceased == Some(true),
            description: body.description,
        },
    );
    Ok(Reply::Empty(200))
}

/// `POST /testdata/person/remove`: the person and every permission it was granted.
pub(super) fn remove_person(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: PersonRemoveRequest = req.json()?;
    let nip = body.nip.to_string();
    let mut state = shared.state();
    let Some(person) = state.test_persons.remove(&nip) else {
        return Err(ApiError::validation(format!(
            "Osoba testowa o NIP {nip} nie istnieje."
        )));
    };
    state
        .grants
        .retain(|g| g.authorized_value != person.pesel && g.authorized_value != nip);
    Ok(Reply::Empty(200))
}

/// `POST /testdata/permissions`.
pub(super) fn grant_test_permissions(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: TestDataPermissionsGrantRequest = req.json()?;
    let context = check_nip("contextIdentifier.value", &body.context_identifier.value)?;
    let kind = body.authorized_identifier.r#type.as_str().to_owned();
    let value = check_identifier(&kind, &body.authorized_identifier.value)?;
    if body.permissions.is_empty() {
        return Err(ApiError::validation("permissions must not be empty."));
    }
    let mut state = shared.state();
    for permission in &body.permissions {
        let scope = permission.permission_type.as_str();
        if !permission.permission_type.is_known() {
            return Err(ApiError::validation(format!(
                "Unknown permissionType {scope}."
            )));
        }
        let duplicate = state.grants.iter().any(|g| {
            g.kind == GrantKind::TestData
                && g.context == context
                && g.authorized_value == value
                && g.scope == scope
        });
        if !duplicate {
            let grant = Grant::test_data(
                &context,
                &kind,
                &value,
                scope,
                &permission.description,
                req.now,
            );
            state.grants.push(grant);
        }
    }
    Ok(Reply::Empty(200))
}

/// `POST /testdata/permissions/revoke`: every test-data grant of the identifier in the context.
pub(super) fn revoke_test_permissions(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: TestDataPermissionsRevokeRequest = req.json()?;
    let context = check_nip("contextIdentifier.value", &body.context_identifier.value)?;
    let kind = body.authorized_identifier.r#type.as_str().to_owned();
    let value = check_identifier(&kind, &body.authorized_identifier.value)?;
    shared.state().grants.retain(|g| {
        !(g.kind == GrantKind::TestData && g.context == context && g.authorized_value == value)
    });
    Ok(Reply::Empty(200))
}

/// `POST /testdata/attachment`.
pub(super) fn enable_attachments(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: AttachmentPermissionGrantRequest = req.json()?;
    shared
        .state()
        .attachments
        .insert(body.nip.to_string(), (true, None));
    Ok(Reply::Empty(200))
}

/// `POST /testdata/attachment/revoke` (from `expectedEndDate`, or at once).
pub(super) fn revoke_attachments(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: AttachmentPermissionRevokeRequest = req.json()?;
    let end = body
        .expected_end_date
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(req.now, |d| d.and_utc());
    shared
        .state()
        .attachments
        .insert(body.nip.to_string(), (false, Some(end)));
    Ok(Reply::Empty(200))
}

/// `GET /permissions/attachments/status` for the current context.
pub(super) fn attachment_status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let record = shared.state().attachments.get(&claims.ctx).copied();
    let mut body = CheckAttachmentPermissionStatusResponse::new();
    match record {
        Some((true, _)) => body.is_attachment_allowed = Some(true),
        Some((false, Some(end))) if req.now < end => {
            body.is_attachment_allowed = Some(true);
            body.revoked_date = Some(end.fixed_offset());
        }
        Some((false, end)) => {
            body.is_attachment_allowed = Some(false);
            body.revoked_date = end.map(|e| e.fixed_offset());
        }
        None => body.is_attachment_allowed = Some(false),
    }
    json(200, &body)
}

fn block_target(
    identifier: Option<&ksef_model::types::TestDataAuthenticationContextIdentifier>,
) -> Result<String, ApiError> {
    let identifier =
        identifier.ok_or_else(|| ApiError::validation("contextIdentifier is required."))?;
    if identifier.r#type.as_str() == "Nip" {
        check_nip("contextIdentifier.value", &identifier.value)
    } else if identifier.value.trim().is_empty() {
        Err(ApiError::validation("contextIdentifier.value is empty."))
    } else {
        Ok(identifier.value.clone())
    }
}

/// `POST /testdata/context/block`: authentication in the context ends in status 480.
pub(super) fn block_context(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: BlockContextAuthenticationRequest = req.json()?;
    let target = block_target(body.context_identifier.as_ref())?;
    shared.state().blocked_contexts.insert(target);
    Ok(Reply::Empty(200))
}

/// `POST /testdata/context/unblock`.
pub(super) fn unblock_context(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: UnblockContextAuthenticationRequest = req.json()?;
    let target = block_target(body.context_identifier.as_ref())?;
    shared.state().blocked_contexts.remove(&target);
    Ok(Reply::Empty(200))
}

/// `GET /peppol/query`: the seeded providers, newest first.
pub(super) fn peppol(_shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let mut providers: Vec<PeppolProvider> = PEPPOL
        .iter()
        .filter_map(|(id, name, date)| {
            let id: ksef_model::values::PeppolId = id.parse().ok()?;
            let date = DateTime::parse_from_rfc3339(date).ok()?;
            Some(PeppolProvider::new(id, *name, date))
        })
        .collect();
    providers.sort_by(|a, b| {
        b.date_created
            .cmp(&a.date_created)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
    let size = usize::try_from(req.query_int("pageSize", 10, 10, 100)?).unwrap_or(10);
    let page =
        usize::try_from(req.query_int("pageOffset", 0, 0, i64::from(i32::MAX))?).unwrap_or(0);
    let start = page.saturating_mul(size);
    let has_more = providers.len() > start.saturating_add(size);
    let items: Vec<PeppolProvider> = providers.into_iter().skip(start).take(size).collect();
    json(200, &QueryPeppolProvidersResponse::new(items, has_more))
}

/// The Peppol providers the simulator knows.
const PEPPOL: &[(&str, &str, &str)] = &[
    (
        "PPL000001",
        "ksef-sim Peppol Provider One",
        "2025-10-01T08:00:00+00:00",
    ),
    (
        "PPL000002",
        "ksef-sim Peppol Provider Two",
        "2025-11-15T12:30:00+00:00",
    ),
];
