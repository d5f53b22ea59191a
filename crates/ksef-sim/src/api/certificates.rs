//! `/certificates`: limits, enrollment data, enrollment with a PKCS#10 CSR, issuance by the
//! simulator's CA, retrieval, query and revocation.
//!
//! Simplified: the certificate is issued when the enrollment is accepted and shows after the
//! token-activation delay (status 100 until then; no status 400/500/550 outcomes, and a key
//! certified for someone else is not detected). Certificates are valid for two years from
//! `validFrom` (or now); the simulator's CA is an ECDSA P-256 self-signed certificate made at
//! first use. Revocation takes effect at once; `Blocked` never happens; statuses never expire.
//! The issued certificates are not accepted for XAdES login unless their fingerprint or
//! identifier is granted permissions (as with any other certificate).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use ksef_model::types::{
    CertificateEnrollmentStatusResponse, CertificateLimit, CertificateLimitsResponse,
    EnrollCertificateRequest, EnrollCertificateResponse, QueryCertificatesRequest,
    RetrieveCertificatesRequest, RevokeCertificateRequest, StatusInfo,
};
use serde_json::{Value, json as j};
use x509_parser::prelude::{FromDer as _, X509CertificationRequest};

use super::common::ca::{NAME_OIDS, ca, dn_attributes};
use super::common::subjects::{certificate_limits, subject_of};
use super::common::{Reply, Req, duration, internal, json, new_reference, random_hex};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{Enrollment, IssuedCertificate};

impl IssuedCertificate {
    fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked {
            "Revoked"
        } else if now > self.valid_to {
            "Expired"
        } else {
            "Active"
        }
    }
}

/// The subject public key of a CSR, for rcgen.
struct CsrKey {
    bits: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl rcgen::PublicKeyData for CsrKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

fn bad_csr(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        25004,
        "Niepoprawny format CSR lub niepoprawny podpis CSR.",
        detail,
    )
}

/// What the subject `subject` (identifier value) has used of its limits at `now`: enrollments
/// made, and certificates active.
fn usage(state: &crate::state::State, subject: &str, now: DateTime<Utc>) -> (usize, usize) {
    let enrollments = state
        .enrollments
        .iter()
        .filter(|e| e.subject == subject)
        .count();
    let active = state
        .certificates
        .iter()
        .filter(|c| c.subject.1 == subject && c.status(now) == "Active")
        .count();
    (enrollments, active)
}

/// `GET /certificates/limits`.
pub(super) fn limits(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let state = shared.state();
    let (max_enrollments, max_certificates) = certificate_limits(&state, &subject);
    let (enrollments, active) = usage(&state, &subject.1, req.now);
    drop(state);
    let remaining =
        |limit: i32, used: usize| (limit - i32::try_from(used).unwrap_or(i32::MAX)).max(0);
    let enrollment =
        CertificateLimit::new(remaining(max_enrollments, enrollments), max_enrollments);
    let certificate = CertificateLimit::new(remaining(max_certificates, active), max_certificates);
    let can = enrollment.remaining > 0 && certificate.remaining > 0;
    json(
        200,
        &CertificateLimitsResponse::new(can, enrollment, certificate),
    )
}

/// The DN attributes of the certificate the caller authenticated with (XAdES only).
fn caller_names(
    shared: &Shared,
    req: &Req,
    code: i32,
    text: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let claims = req.caller()?;
    shared
        .state()
        .auth_ops
        .get(&claims.ref_)
        .and_then(|op| op.subject.as_ref())
        .and_then(|s| s.names.clone())
        .ok_or_else(|| ApiError::bad_request(code, text, ""))
}

/// `GET /certificates/enrollments/data`.
pub(super) fn enrollment_data(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let names = caller_names(
        shared,
        req,
        25001,
        "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
    )?;
    let mut body = serde_json::Map::new();
    for (oid, key) in NAME_OIDS {
        let values: Vec<&str> = names
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, v)| v.as_str())
            .collect();
        if !values.is_empty() {
            body.insert(key.to_owned(), Value::String(values.join(" ")));
        }
    }
    let body: ksef_model::types::CertificateEnrollmentDataResponse = serde_json::from_value(
        Value::Object(body),
    )
    .map_err(|_| {
        ApiError::bad_request(
            25001,
            "Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.",
            "The certificate used to log in has no common name or country.",
        )
    })?;
    json(200, &body)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let length = name.chars().count();
    let allowed = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '));
    if (5..=100).contains(&length) && allowed {
        Ok(())
    } else {
        Err(ApiError::validation(
            "certificateName must have 5 to 100 letters, digits, spaces, '_' or '-'.",
        ))
    }
}

/// `POST /certificates/enrollments`.
pub(super) fn enroll(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let body: EnrollCertificateRequest = req.json()?;
    check_name(&body.certificate_name)?;
    let kind = body.certificate_type.as_str().to_owned();
    if !body.certificate_type.is_known() {
        return Err(ApiError::validation(
            "certificateType must be Authentication or Offline.",
        ));
    }
    let names = caller_names(
        shared,
        req,
        25002,
        "Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.",
    )?;
    let subject = subject_of(shared, req)?;
    let der = STANDARD
        .decode(body.csr.trim())
        .map_err(|_| bad_csr("csr is not base64."))?;
    let (rest, csr) =
        X509CertificationRequest::from_der(&der).map_err(|_| bad_csr("csr is not PKCS#10 DER."))?;
    if !rest.is_empty() {
        return Err(bad_csr("csr has trailing bytes."));
    }
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let key_oid = spki.algorithm.algorithm.to_id_string();
    let algorithm: &'static rcgen::SignatureAlgorithm = match key_oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let size = spki.parsed().map(|k| k.key_size()).unwrap_or(0);
            if size != 2048 {
                return Err(key_error(format!(
                    "RSA keys must have 2048 bits (has {size})."
                )));
            }
            &rcgen::PKCS_RSA_SHA256
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if curve.as_deref() != Some("1.2.840.10045.3.1.7") {
                return Err(key_error("EC keys must be on the P-256 curve."));
            }
            &rcgen::PKCS_ECDSA_P256_SHA256
        }
        other => return Err(key_error(format!("Key algorithm {other} is not allowed."))),
    };
    let signature_oid = csr.signature_algorithm.algorithm.to_id_string();
    let allowed_signatures = [
        "1.2.840.113549.1.1.5",
        "1.2.840.113549.1.1.11",
        "1.2.840.113549.1.1.12",
        "1.2.840.113549.1.1.13",
        "1.2.840.113549.1.1.10",
        "1.2.840.10045.4.1",
        "1.2.840.10045.4.3.2",
        "1.2.840.10045.4.3.3",
        "1.2.840.10045.4.3.4",
    ];
    if !allowed_signatures.contains(&signature_oid.as_str()) {
        return Err(ApiError::bad_request(
            25011,
            "Nieprawidłowy algorytm podpisu CSR.",
            format!("Signature algorithm {signature_oid} is not allowed."),
        ));
    }
    csr.verify_signature()
        .map_err(|e| bad_csr(format!("The CSR signature does not verify: {e}.")))?;
    let csr_subject: Vec<(String, String)> = info
        .subject
        .iter_attributes()
        .filter_map(|attr| {
            Some((
                attr.attr_type().to_id_string(),
                attr.as_str().ok()?.to_owned(),
            ))
        })
        .collect();
    let requested_names = dn_attributes(csr_subject.iter().map(|(o, v)| (o.as_str(), v.as_str())));
    if requested_names != names {
        return Err(ApiError::bad_request(
            25003,
            "Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.",
            "The CSR subject must hold exactly the values of GET /certificates/enrollments/data.",
        ));
    }
    let key = CsrKey {
        bits: spki.subject_public_key.data.to_vec(),
        algorithm,
    };

    let now = req.now;
    // The certificate is made and signed before the state lock is taken.
    // A positive DER integer of exactly eight bytes: the first byte from 0x10 to 0x7F.
    let mut serial = random_hex(16);
    let first = u8::from_str_radix(&serial[..1], 16).unwrap_or(1) % 7 + 1;
    serial.replace_range(..1, &first.to_string());
    // Validity has day precision: from midnight UTC of `validFrom` (or today), for two years.
    let valid_from = midnight(body.valid_from.map_or(now, |d| d.with_timezone(&Utc)));
    let valid_to = valid_from + Duration::days(730);
    let mut params = rcgen::CertificateParams::default();
    for (oid, value) in &names {
        let dn_type = match oid.as_str() {
            "2.5.4.3" => rcgen::DnType::CommonName,
            "2.5.4.6" => rcgen::DnType::CountryName,
            "2.5.4.10" => rcgen::DnType::OrganizationName,
            other => rcgen::DnType::CustomDnType(
                other.split('.').filter_map(|p| p.parse().ok()).collect(),
            ),
        };
        params.distinguished_name.push(dn_type, value.as_str());
    }
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&hex_bytes(&serial)));
    let (y, m, d) = ymd(valid_from)?;
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(valid_to)?;
    params.not_after = rcgen::date_time_ymd(y, m, d);
    params.key_usages = vec![if kind == "Offline" {
        rcgen::KeyUsagePurpose::ContentCommitment
    } else {
        rcgen::KeyUsagePurpose::DigitalSignature
    }];
    let certificate = params.signed_by(&key, &ca()?.issuer).map_err(internal)?;
    let common_name = names
        .iter()
        .find(|(o, _)| o == "2.5.4.3")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut state = shared.state();
    let (max_enrollments, max_certificates) = certificate_limits(&state, &subject);
    let (enrollments, active) = usage(&state, &subject.1, now);
    if enrollments >= usize::try_from(max_enrollments).unwrap_or(0) {
        return Err(ApiError::bad_request(
            25006,
            "Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.",
            "",
        ));
    }
    if active >= usize::try_from(max_certificates).unwrap_or(0) {
        return Err(ApiError::bad_request(
            25007,
            "Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.",
            "",
        ));
    }
    let reference = new_reference(now, "CE")?;
    let completes = now + duration(shared.config.token_activation_delay)?;
    state.enrollments.push(Enrollment {
        reference: reference.to_string(),
        subject: subject.1.clone(),
        requested: now,
        completes,
        serial: serial.clone(),
    });
    state.certificates.push(IssuedCertificate {
        serial,
        subject,
        name: body.certificate_name.clone(),
        kind,
        common_name,
        der: certificate.der().to_vec(),
        valid_from,
        valid_to,
        requested: now,
        visible_from: completes,
        revoked: false,
    });
    drop(state);
    json(
        202,
        &EnrollCertificateResponse::new(reference, now.fixed_offset()),
    )
}

fn key_error(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(25010, "Nieprawidłowy typ lub długość klucza.", detail)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(t, |d| d.and_utc())
}

/// A day as rcgen's validity dates want it: (year, month, day).
fn ymd(t: DateTime<Utc>) -> Result<(i32, u8, u8), ApiError> {
    use chrono::Datelike as _;
    let month = u8::try_from(t.month()).map_err(internal)?;
    let day = u8::try_from(t.day()).map_err(internal)?;
    Ok((t.year(), month, day))
}

/// `GET /certificates/enrollments/{referenceNumber}`.
pub(super) fn enrollment_status(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let reference = req.param("referenceNumber");
    let state = shared.state();
    let enrollment = state
        .enrollments
        .iter()
        .find(|e| e.reference == reference && e.subject == subject.1)
        .ok_or_else(|| {
            ApiError::bad_request(
                25005,
                "Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.",
                "",
            )
        })?;
    let mut body = if req.now < enrollment.completes {
        CertificateEnrollmentStatusResponse::new(
            enrollment.requested.fixed_offset(),
            StatusInfo::new(100, "Wniosek przyjęty do realizacji"),
        )
    } else {
        CertificateEnrollmentStatusResponse::new(
            enrollment.requested.fixed_offset(),
            StatusInfo::new(200, "Wniosek obsłużony pomyślnie"),
        )
    };
    if req.now >= enrollment.completes {
        body.certificate_serial_number = Some(enrollment.serial.clone());
    }
    json(200, &body)
}

/// `POST /certificates/retrieve`: the caller's certificates among the serial numbers given.
pub(super) fn retrieve(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let body: RetrieveCertificatesRequest = req.json()?;
    if body.certificate_serial_numbers.is_empty() || body.certificate_serial_numbers.len() > 10 {
        return Err(ApiError::validation(
            "certificateSerialNumbers must hold 1 to 10 serial numbers.",
        ));
    }
    let state = shared.state();
    let items: Vec<Value> = body
        .certificate_serial_numbers
        .iter()
        .filter_map(|serial| {
            state.certificates.iter().find(|c| {
                c.serial.eq_ignore_ascii_case(serial)
                    && c.subject.1 == subject.1
                    && req.now >= c.visible_from
            })
        })
        .map(|c| {
            j!({
                "certificate": STANDARD.encode(&c.der),
                "certificateName": c.name,
                "certificateSerialNumber": c.serial,
                "certificateType": c.kind,
            })
        })
        .collect();
    drop(state);
    let body: ksef_model::types::RetrieveCertificatesResponse =
        serde_json::from_value(j!({ "certificates": items })).map_err(internal)?;
    json(200, &body)
}

/// `POST /certificates/query`: the caller's certificates, newest request first.
pub(super) fn query(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    let body: QueryCertificatesRequest = req.json()?;
    let size = usize::try_from(req.query_int("pageSize", 10, 10, 50)?).unwrap_or(10);
    let index =
        usize::try_from(req.query_int("pageOffset", 0, 0, i64::from(i32::MAX))?).unwrap_or(0);
    let now = req.now;
    let state = shared.state();
    let mut found: Vec<&IssuedCertificate> = state
        .certificates
        .iter()
        .filter(|c| {
            c.subject.1 == subject.1
                && now >= c.visible_from
                && body
                    .certificate_serial_number
                    .as_ref()
                    .is_none_or(|s| c.serial.eq_ignore_ascii_case(s))
                && body
                    .name
                    .as_ref()
                    .is_none_or(|n| c.name.to_lowercase().contains(&n.to_lowercase()))
                && body.r#type.as_ref().is_none_or(|t| t.as_str() == c.kind)
                && body
                    .status
                    .as_ref()
                    .is_none_or(|s| s.as_str() == c.status(now))
                && body
                    .expires_after
                    .is_none_or(|e| c.valid_to > e.with_timezone(&Utc))
        })
        .collect();
    found.sort_by_key(|c| std::cmp::Reverse(c.requested));
    let start = index.saturating_mul(size);
    let has_more = found.len() > start.saturating_add(size);
    let items: Vec<Value> = found
        .into_iter()
        .skip(start)
        .take(size)
        .map(|c| {
            j!({
                "certificateSerialNumber": c.serial,
                "name": c.name,
                "type": c.kind,
                "commonName": c.common_name,
                "status": c.status(now),
                "subjectIdentifier": {"type": c.subject.0, "value": c.subject.1},
                "validFrom": c.valid_from.fixed_offset().to_rfc3339(),
                "validTo": c.valid_to.fixed_offset().to_rfc3339(),
                "requestDate": c.requested.fixed_offset().to_rfc3339(),
            })
        })
        .collect();
    drop(state);
    let body: ksef_model::types::QueryCertificatesResponse =
        serde_json::from_value(j!({"certificates": items, "hasMore": has_more}))
            .map_err(internal)?;
    json(200, &body)
}

/// `POST /certificates/{certificateSerialNumber}/revoke`.
pub(super) fn revoke(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let subject = subject_of(shared, req)?;
    if !req.body.is_empty() {
        let body: RevokeCertificateRequest = req.json()?;
        if let Some(reason) = body.revocation_reason
            && !reason.is_known()
        {
            return Err(ApiError::validation(
                "revocationReason must be Unspecified, Superseded or KeyCompromise.",
            ));
        }
    }
    let serial = req.param("certificateSerialNumber");
    let now = req.now;
    let mut state = shared.state();
    let certificate = state
        .certificates
        .iter_mut()
        .find(|c| {
            c.serial.eq_ignore_ascii_case(serial)
                && c.subject.1 == subject.1
                && now >= c.visible_from
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                25008,
                "Certyfikat o podanym numerze seryjnym nie istnieje.",
                "",
            )
        })?;
    if certificate.status(now) != "Active" {
        return Err(ApiError::bad_request(
            25009,
            "Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany lub nieważny.",
            "",
        ));
    }
    certificate.revoked = true;
    Ok(Reply::Empty(204))
}
