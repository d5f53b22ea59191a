//! The rules the grant builders and [`super::GrantRequest::check`] apply: lengths, identifiers,
//! and which subject details go with which identifier.

use std::collections::BTreeSet;

use ksef_model::types::{
    EuEntityPermissionSubjectDetails, IdDocument, PersonByFingerprintWithIdentifierDetails,
    PersonByFingerprintWithoutIdentifierDetails, PersonIdentifier, PersonPermissionSubjectDetails,
};
use ksef_model::values::{InternalId, Nip, Pesel};

use crate::error::Error;

/// `description` of every grant: 5 to 256 characters.
pub(super) const DESCRIPTION: (usize, usize) = (5, 256);
/// `firstName`: 2 to 30 characters.
pub(super) const FIRST_NAME: (usize, usize) = (2, 30);
/// `lastName`: 2 to 81 characters.
pub(super) const LAST_NAME: (usize, usize) = (2, 81);
/// `EntityDetails.fullName`: 5 to 90 characters.
pub(super) const ENTITY_NAME: (usize, usize) = (5, 90);
/// `subunitName` and `euEntityName`: 5 to 256 characters.
pub(super) const LONG_NAME: (usize, usize) = (5, 256);
/// `EuEntityDetails` / `EntityByFingerprintDetails`: `fullName` up to 100, `address` up to 512.
pub(super) const EU_FULL_NAME: (usize, usize) = (1, 100);
pub(super) const EU_ADDRESS: (usize, usize) = (1, 512);
/// `IdDocument.type` and `.number`: up to 20 characters.
pub(super) const ID_DOCUMENT_FIELD: (usize, usize) = (1, 20);

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidRequest {
        field,
        reason: reason.into(),
    }
}

pub(super) fn check_length(
    field: &'static str,
    value: &str,
    (min, max): (usize, usize),
) -> Result<(), Error> {
    let count = value.chars().count();
    if value.trim().is_empty() && min > 0 {
        return Err(invalid(field, "must not be empty"));
    }
    if !(min..=max).contains(&count) {
        return Err(invalid(
            field,
            format!("must have {min} to {max} characters (it has {count})"),
        ));
    }
    Ok(())
}

pub(super) fn check_permissions<'a>(
    field: &'static str,
    permissions: impl IntoIterator<Item = (&'a str, bool)>,
) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for (name, known) in permissions {
        if !known {
            return Err(invalid(
                field,
                format!("{name:?} is not a permission of this grant"),
            ));
        }
        if !seen.insert(name) {
            return Err(invalid(field, format!("{name} is listed twice")));
        }
    }
    if seen.is_empty() {
        return Err(invalid(field, "at least one permission is needed"));
    }
    Ok(())
}

pub(super) fn check_nip(field: &'static str, value: &str) -> Result<(), Error> {
    value
        .parse::<Nip>()
        .map(|_| ())
        .map_err(|e| invalid(field, format!("{value:?} is not a valid NIP ({e})")))
}

pub(super) fn check_pesel(field: &'static str, value: &str) -> Result<(), Error> {
    value
        .parse::<Pesel>()
        .map(|_| ())
        .map_err(|e| invalid(field, format!("{value:?} is not a valid PESEL ({e})")))
}

/// An internal identifier: the NIP, a dash and five digits, the last a check digit (KSeF
/// validates it).
pub(super) fn check_internal_id(field: &'static str, value: &str) -> Result<(), Error> {
    let id = value.parse::<InternalId>().map_err(|e| {
        invalid(
            field,
            format!("{value:?} is not a valid internal identifier ({e})"),
        )
    })?;
    if !id.has_valid_check_digit() {
        return Err(invalid(
            field,
            format!("{value:?}: the last digit is not the check digit"),
        ));
    }
    Ok(())
}

/// A certificate fingerprint: SHA-256, 64 hexadecimal digits.
pub(super) fn check_fingerprint(field: &'static str, value: &str) -> Result<(), Error> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            "a certificate fingerprint is the SHA-256 as 64 hexadecimal digits",
        ))
    }
}

/// A subject identifier of the person-like grants (`Nip`, `Pesel`, `Fingerprint`).
pub(super) fn check_subject_identifier(kind: &str, value: &str) -> Result<(), Error> {
    const FIELD: &str = "subjectIdentifier.value";
    match kind {
        "Nip" => check_nip(FIELD, value),
        "Pesel" => check_pesel(FIELD, value),
        "Fingerprint" => check_fingerprint(FIELD, value),
        other => Err(invalid(
            "subjectIdentifier.type",
            format!("{other:?} is not one of Nip, Pesel, Fingerprint"),
        )),
    }
}

/// The details object `field` that subjectDetailsType `kind` requires.
pub(super) fn required<'a, T>(
    details: Option<&'a T>,
    field: &'static str,
    kind: &str,
) -> Result<&'a T, Error> {
    details.ok_or_else(|| invalid(field, format!("is required for subjectDetailsType {kind}")))
}

/// Of the details objects `given` (name, whether set), none but `wanted` is set.
pub(super) fn check_only_wanted(
    given: &[(&str, bool)],
    wanted: &str,
    kind: &str,
) -> Result<(), Error> {
    match given.iter().find(|(name, set)| *set && *name != wanted) {
        Some((extra, _)) => Err(invalid(
            "subjectDetails",
            format!("{extra} does not belong to subjectDetailsType {kind}"),
        )),
        None => Ok(()),
    }
}

/// The `description` and the company's `subjectDetails.fullName` of entity grants and
/// authorizations.
pub(super) fn check_entity_description(description: &str, full_name: &str) -> Result<(), Error> {
    check_length("description", description, DESCRIPTION)?;
    check_length("subjectDetails.fullName", full_name, ENTITY_NAME)
}

pub(super) fn check_names(first: &str, last: &str) -> Result<(), Error> {
    check_length("subjectDetails.firstName", first, FIRST_NAME)?;
    check_length("subjectDetails.lastName", last, LAST_NAME)
}

pub(super) fn check_person_identifier(identifier: &PersonIdentifier) -> Result<(), Error> {
    const FIELD: &str = "subjectDetails.personByFpWithId.identifier";
    match identifier.r#type.as_str() {
        "Nip" => check_nip(FIELD, &identifier.value),
        "Pesel" => check_pesel(FIELD, &identifier.value),
        other => Err(invalid(
            FIELD,
            format!("type {other:?} is not Nip or Pesel"),
        )),
    }
}

pub(super) fn check_id_document(document: &IdDocument) -> Result<(), Error> {
    check_length(
        "subjectDetails.personByFpNoId.idDocument.type",
        &document.r#type,
        ID_DOCUMENT_FIELD,
    )?;
    check_length(
        "subjectDetails.personByFpNoId.idDocument.number",
        &document.number,
        ID_DOCUMENT_FIELD,
    )?;
    if document.country.len() != 2 || !document.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "subjectDetails.personByFpNoId.idDocument.country",
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 code (two capital letters)",
                document.country
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_fp_with_id(
    details: Option<&PersonByFingerprintWithIdentifierDetails>,
) -> Result<(), Error> {
    let details = required(
        details,
        "subjectDetails.personByFpWithId",
        "PersonByFingerprintWithIdentifier",
    )?;
    check_names(&details.first_name, &details.last_name)?;
    check_person_identifier(&details.identifier)
}

pub(super) fn check_fp_no_id(
    details: Option<&PersonByFingerprintWithoutIdentifierDetails>,
) -> Result<(), Error> {
    let details = required(
        details,
        "subjectDetails.personByFpNoId",
        "PersonByFingerprintWithoutIdentifier",
    )?;
    check_names(&details.first_name, &details.last_name)?;
    check_id_document(&details.id_document)
}

/// The subject details of a person-like grant agree with its identifier: a NIP or PESEL goes
/// with `PersonByIdentifier`, a fingerprint with one of the two fingerprint forms; exactly the
/// matching details object is given.
pub(super) fn check_person_details(
    identifier_type: &str,
    details: &PersonPermissionSubjectDetails,
) -> Result<(), Error> {
    let kind = details.subject_details_type.as_str();
    let expected: &[&str] = match identifier_type {
        "Nip" | "Pesel" => &["PersonByIdentifier"],
        _ => &[
            "PersonByFingerprintWithIdentifier",
            "PersonByFingerprintWithoutIdentifier",
        ],
    };
    if !expected.contains(&kind) {
        return Err(invalid(
            "subjectDetails.subjectDetailsType",
            format!(
                "{kind:?} does not go with a {identifier_type} subject identifier (expected {})",
                expected.join(" or ")
            ),
        ));
    }
    let given = [
        ("personById", details.person_by_id.is_some()),
        ("personByFpWithId", details.person_by_fp_with_id.is_some()),
        ("personByFpNoId", details.person_by_fp_no_id.is_some()),
    ];
    let wanted = match kind {
        "PersonByIdentifier" => "personById",
        "PersonByFingerprintWithIdentifier" => "personByFpWithId",
        _ => "personByFpNoId",
    };
    check_only_wanted(&given, wanted, kind)?;
    match kind {
        "PersonByIdentifier" => {
            let person = required(
                details.person_by_id.as_ref(),
                "subjectDetails.personById",
                "PersonByIdentifier",
            )?;
            check_names(&person.first_name, &person.last_name)
        }
        "PersonByFingerprintWithIdentifier" => {
            check_fp_with_id(details.person_by_fp_with_id.as_ref())
        }
        _ => check_fp_no_id(details.person_by_fp_no_id.as_ref()),
    }
}

/// The subject of an EU-entity grant (its `role`: administrator or representative): a
/// certificate fingerprint only.
pub(super) fn check_eu_subject(role: &str, kind: &str, value: &str) -> Result<(), Error> {
    if kind != "Fingerprint" {
        return Err(invalid(
            "subjectIdentifier.type",
            format!("an EU entity {role} is identified by a certificate fingerprint only"),
        ));
    }
    check_fingerprint("subjectIdentifier.value", value)
}

pub(super) fn check_eu_details(details: &EuEntityPermissionSubjectDetails) -> Result<(), Error> {
    let kind = details.subject_details_type.as_str();
    let given = [
        ("personByFpWithId", details.person_by_fp_with_id.is_some()),
        ("personByFpNoId", details.person_by_fp_no_id.is_some()),
        ("entityByFp", details.entity_by_fp.is_some()),
    ];
    let wanted = match kind {
        "PersonByFingerprintWithIdentifier" => "personByFpWithId",
        "PersonByFingerprintWithoutIdentifier" => "personByFpNoId",
        "EntityByFingerprint" => "entityByFp",
        other => {
            return Err(invalid(
                "subjectDetails.subjectDetailsType",
                format!(
                    "{other:?} is not one of PersonByFingerprintWithIdentifier, \
                     PersonByFingerprintWithoutIdentifier, EntityByFingerprint"
                ),
            ));
        }
    };
    check_only_wanted(&given, wanted, kind)?;
    match wanted {
        "personByFpWithId" => check_fp_with_id(details.person_by_fp_with_id.as_ref()),
        "personByFpNoId" => check_fp_no_id(details.person_by_fp_no_id.as_ref()),
        _ => {
            let entity = required(
                details.entity_by_fp.as_ref(),
                "subjectDetails.entityByFp",
                "EntityByFingerprint",
            )?;
            check_length(
                "subjectDetails.entityByFp.fullName",
                &entity.full_name,
                EU_FULL_NAME,
            )?;
            check_length(
                "subjectDetails.entityByFp.address",
                &entity.address,
                EU_ADDRESS,
            )
        }
    }
}
