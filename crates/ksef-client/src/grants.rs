//! Permission grants that are checked before they are sent.
//!
//! KSeF's seven grant endpoints take requests whose fields depend on each other: the kind of
//! subject identifier decides which subject details must follow, some grants take only a
//! certificate fingerprint, descriptions and names have length limits. The builders here
//! ([`PersonGrant`], [`EntityGrant`], [`AuthorizationGrant`], [`IndirectGrant`],
//! [`SubunitGrant`], [`EuEntityAdministrationGrant`], [`EuEntityRepresentativeGrant`]) produce the
//! generated request types of `ksef-model` and refuse, with [`Error::InvalidRequest`] naming the
//! field, what KSeF would refuse. [`GrantRequest::check`] applies the same rules to a request
//! built by other means (e.g. read from JSON), and [`PermissionsApi::grant`] checks and sends.
//!
//! ```no_run
//! use ksef_client::grants::{GrantSubject, PersonGrant};
//! use ksef_model::types::PersonPermissionType;
//!
//! # async fn example(client: ksef_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let request = PersonGrant::new(
//!     GrantSubject::person_by_pesel("90010112349".parse()?, "Anna", "Nowak"),
//!     "Accountant: reads and issues invoices",
//! )
//! .permission(PersonPermissionType::InvoiceRead)
//! .permission(PersonPermissionType::InvoiceWrite)
//! .build()?;
//! let operation = client.permissions().grant(request).await?;
//! println!("grant {}", operation.reference_number);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeSet;

use chrono::NaiveDate;
use ksef_model::operations::{
    GrantAuthorizationPermissions, GrantEntityPermissions, GrantEuEntityAdministrationPermissions,
    GrantEuEntityRepresentativePermissions, GrantIndirectPermissions, GrantPersonPermissions,
    GrantSubunitPermissions,
};
use ksef_model::types::{
    EntityAuthorizationPermissionType, EntityAuthorizationPermissionsGrantRequest,
    EntityAuthorizationPermissionsSubjectIdentifier, EntityByFingerprintDetails, EntityDetails,
    EntityPermission, EntityPermissionType, EntityPermissionsGrantRequest,
    EntityPermissionsSubjectIdentifier, EuEntityAdministrationPermissionsContextIdentifier,
    EuEntityAdministrationPermissionsGrantRequest,
    EuEntityAdministrationPermissionsSubjectIdentifier, EuEntityDetails,
    EuEntityPermissionSubjectDetails, EuEntityPermissionType, EuEntityPermissionsGrantRequest,
    EuEntityPermissionsSubjectIdentifier, IdDocument, IndirectPermissionType,
    IndirectPermissionsGrantRequest, IndirectPermissionsSubjectIdentifier,
    IndirectPermissionsTargetIdentifier, PermissionsOperationResponse,
    PersonByFingerprintWithIdentifierDetails, PersonByFingerprintWithoutIdentifierDetails,
    PersonDetails, PersonIdentifier, PersonPermissionSubjectDetails, PersonPermissionType,
    PersonPermissionsGrantRequest, PersonPermissionsSubjectIdentifier,
    SubunitPermissionsContextIdentifier, SubunitPermissionsGrantRequest,
    SubunitPermissionsSubjectIdentifier,
};
use ksef_model::values::{InternalId, Nip, NipVatUe, PeppolId, Pesel};

use crate::error::Error;
use crate::services::PermissionsApi;

/// `description` of every grant: 5 to 256 characters.
const DESCRIPTION: (usize, usize) = (5, 256);
/// `firstName`: 2 to 30 characters.
const FIRST_NAME: (usize, usize) = (2, 30);
/// `lastName`: 2 to 81 characters.
const LAST_NAME: (usize, usize) = (2, 81);
/// `EntityDetails.fullName`: 5 to 90 characters.
const ENTITY_NAME: (usize, usize) = (5, 90);
/// `subunitName` and `euEntityName`: 5 to 256 characters.
const LONG_NAME: (usize, usize) = (5, 256);
/// `EuEntityDetails` / `EntityByFingerprintDetails`: `fullName` up to 100, `address` up to 512.
const EU_FULL_NAME: (usize, usize) = (1, 100);
const EU_ADDRESS: (usize, usize) = (1, 512);
/// `IdDocument.type` and `.number`: up to 20 characters.
const ID_DOCUMENT_FIELD: (usize, usize) = (1, 20);

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidRequest {
        field,
        reason: reason.into(),
    }
}

fn check_length(field: &'static str, value: &str, (min, max): (usize, usize)) -> Result<(), Error> {
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

fn check_permissions<'a>(
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

fn check_nip(field: &'static str, value: &str) -> Result<(), Error> {
    value
        .parse::<Nip>()
        .map(|_| ())
        .map_err(|e| invalid(field, format!("{value:?} is not a valid NIP ({e})")))
}

fn check_pesel(field: &'static str, value: &str) -> Result<(), Error> {
    value
        .parse::<Pesel>()
        .map(|_| ())
        .map_err(|e| invalid(field, format!("{value:?} is not a valid PESEL ({e})")))
}

/// An internal identifier: the NIP, a dash and five digits, the last a check digit (KSeF
/// validates it).
fn check_internal_id(field: &'static str, value: &str) -> Result<(), Error> {
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
fn check_fingerprint(field: &'static str, value: &str) -> Result<(), Error> {
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
fn check_subject_identifier(kind: &str, value: &str) -> Result<(), Error> {
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
fn required<'a, T>(
    details: Option<&'a T>,
    field: &'static str,
    kind: &str,
) -> Result<&'a T, Error> {
    details.ok_or_else(|| invalid(field, format!("is required for subjectDetailsType {kind}")))
}

/// Of the details objects `given` (name, whether set), none but `wanted` is set.
fn check_only_wanted(given: &[(&str, bool)], wanted: &str, kind: &str) -> Result<(), Error> {
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
fn check_entity_description(description: &str, full_name: &str) -> Result<(), Error> {
    check_length("description", description, DESCRIPTION)?;
    check_length("subjectDetails.fullName", full_name, ENTITY_NAME)
}

fn check_names(first: &str, last: &str) -> Result<(), Error> {
    check_length("subjectDetails.firstName", first, FIRST_NAME)?;
    check_length("subjectDetails.lastName", last, LAST_NAME)
}

fn check_person_identifier(identifier: &PersonIdentifier) -> Result<(), Error> {
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

fn check_id_document(document: &IdDocument) -> Result<(), Error> {
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

fn check_fp_with_id(
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

fn check_fp_no_id(
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
fn check_person_details(
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
fn check_eu_subject(role: &str, kind: &str, value: &str) -> Result<(), Error> {
    if kind != "Fingerprint" {
        return Err(invalid(
            "subjectIdentifier.type",
            format!("an EU entity {role} is identified by a certificate fingerprint only"),
        ));
    }
    check_fingerprint("subjectIdentifier.value", value)
}

fn check_eu_details(details: &EuEntityPermissionSubjectDetails) -> Result<(), Error> {
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

mod sealed {
    pub trait Sealed {}
}

/// A permission grant request of one of KSeF's seven grant endpoints: checked with the rules
/// of the spec and KSeF's documentation, and sent by [`PermissionsApi::grant`].
pub trait GrantRequest: sealed::Sealed + Sized {
    /// Checks the request as KSeF would, without sending it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the first field that is wrong.
    fn check(&self) -> Result<(), Error>;

    /// Sends the request (unchecked) through the permissions service.
    #[doc(hidden)]
    fn send(
        self,
        api: PermissionsApi<'_>,
    ) -> impl std::future::Future<Output = Result<PermissionsOperationResponse, Error>> + Send;
}

/// [`check_permissions`] of a request's `permissions`, a list of one of the generated
/// permission enums.
macro_rules! check_permission_list {
    ($permissions:expr) => {
        check_permissions(
            "permissions",
            $permissions.iter().map(|p| (p.as_str(), p.is_known())),
        )
    };
}

macro_rules! grant_request {
    ($request:ty, $operation:ident, $method:ident, |$this:ident| $check:block) => {
        impl sealed::Sealed for $request {}

        impl GrantRequest for $request {
            fn check(&self) -> Result<(), Error> {
                let $this = self;
                $check
            }

            async fn send(
                self,
                api: PermissionsApi<'_>,
            ) -> Result<PermissionsOperationResponse, Error> {
                api.$method($operation::new(self)).await
            }
        }
    };
}

grant_request!(
    PersonPermissionsGrantRequest,
    GrantPersonPermissions,
    grant_persons,
    |r| {
        check_subject_identifier(
            r.subject_identifier.r#type.as_str(),
            &r.subject_identifier.value,
        )?;
        check_permission_list!(r.permissions)?;
        check_length("description", &r.description, DESCRIPTION)?;
        check_person_details(r.subject_identifier.r#type.as_str(), &r.subject_details)
    }
);

grant_request!(
    EntityPermissionsGrantRequest,
    GrantEntityPermissions,
    grant_entities,
    |r| {
        if r.subject_identifier.r#type.as_str() != "Nip" {
            return Err(invalid(
                "subjectIdentifier.type",
                format!(
                    "{:?}: entity permissions are granted to a NIP only",
                    r.subject_identifier.r#type.as_str()
                ),
            ));
        }
        check_nip("subjectIdentifier.value", &r.subject_identifier.value)?;
        check_permissions(
            "permissions",
            r.permissions
                .iter()
                .map(|p| (p.r#type.as_str(), p.r#type.is_known())),
        )?;
        check_entity_description(&r.description, &r.subject_details.full_name)
    }
);

grant_request!(
    EntityAuthorizationPermissionsGrantRequest,
    GrantAuthorizationPermissions,
    grant_authorizations,
    |r| {
        let value = &r.subject_identifier.value;
        match r.subject_identifier.r#type.as_str() {
            "Nip" => check_nip("subjectIdentifier.value", value)?,
            "PeppolId" => {
                value.parse::<PeppolId>().map_err(|e| {
                    invalid(
                        "subjectIdentifier.value",
                        format!("{value:?} is not a valid Peppol identifier ({e})"),
                    )
                })?;
                if r.permission.as_str() != "PefInvoicing" {
                    return Err(invalid(
                        "permission",
                        "a Peppol provider (PeppolId) is authorized for PefInvoicing only",
                    ));
                }
            }
            other => {
                return Err(invalid(
                    "subjectIdentifier.type",
                    format!("{other:?} is not Nip or PeppolId"),
                ));
            }
        }
        if !r.permission.is_known() {
            return Err(invalid(
                "permission",
                format!(
                    "{:?} is not one of SelfInvoicing, RRInvoicing, TaxRepresentative, PefInvoicing",
                    r.permission.as_str()
                ),
            ));
        }
        check_entity_description(&r.description, &r.subject_details.full_name)
    }
);

grant_request!(
    IndirectPermissionsGrantRequest,
    GrantIndirectPermissions,
    grant_indirect,
    |r| {
        check_subject_identifier(
            r.subject_identifier.r#type.as_str(),
            &r.subject_identifier.value,
        )?;
        if let Some(target) = &r.target_identifier {
            let value = target.value.as_deref();
            match (target.r#type.as_str(), value) {
                ("AllPartners", None) => {}
                ("AllPartners", Some(_)) => {
                    return Err(invalid(
                        "targetIdentifier.value",
                        "AllPartners (a general grant) takes no value",
                    ));
                }
                ("Nip", Some(v)) => check_nip("targetIdentifier.value", v)?,
                ("InternalId", Some(v)) => check_internal_id("targetIdentifier.value", v)?,
                ("Nip" | "InternalId", None) => {
                    return Err(invalid(
                        "targetIdentifier.value",
                        "a selective grant names the partner's identifier",
                    ));
                }
                (other, _) => {
                    return Err(invalid(
                        "targetIdentifier.type",
                        format!("{other:?} is not one of Nip, AllPartners, InternalId"),
                    ));
                }
            }
        }
        check_permission_list!(r.permissions)?;
        check_length("description", &r.description, DESCRIPTION)?;
        check_person_details(r.subject_identifier.r#type.as_str(), &r.subject_details)
    }
);

grant_request!(
    SubunitPermissionsGrantRequest,
    GrantSubunitPermissions,
    grant_subunits,
    |r| {
        check_subject_identifier(
            r.subject_identifier.r#type.as_str(),
            &r.subject_identifier.value,
        )?;
        let context = &r.context_identifier.value;
        match r.context_identifier.r#type.as_str() {
            "Nip" => check_nip("contextIdentifier.value", context)?,
            "InternalId" => check_internal_id("contextIdentifier.value", context)?,
            other => {
                return Err(invalid(
                    "contextIdentifier.type",
                    format!("{other:?} is not InternalId or Nip"),
                ));
            }
        }
        check_length("description", &r.description, DESCRIPTION)?;
        if let Some(name) = &r.subunit_name {
            check_length("subunitName", name, LONG_NAME)?;
        }
        check_person_details(r.subject_identifier.r#type.as_str(), &r.subject_details)
    }
);

grant_request!(
    EuEntityAdministrationPermissionsGrantRequest,
    GrantEuEntityAdministrationPermissions,
    grant_eu_entity_administration,
    |r| {
        check_eu_subject(
            "administrator",
            r.subject_identifier.r#type.as_str(),
            &r.subject_identifier.value,
        )?;
        if r.context_identifier.r#type.as_str() != "NipVatUe" {
            return Err(invalid(
                "contextIdentifier.type",
                "the context of an EU entity is NipVatUe",
            ));
        }
        let context = &r.context_identifier.value;
        context.parse::<NipVatUe>().map_err(|e| {
            invalid(
                "contextIdentifier.value",
                format!("{context:?} is not NIP-VATUE ({e})"),
            )
        })?;
        check_length("description", &r.description, DESCRIPTION)?;
        check_length("euEntityName", &r.eu_entity_name, LONG_NAME)?;
        check_length(
            "euEntityDetails.fullName",
            &r.eu_entity_details.full_name,
            EU_FULL_NAME,
        )?;
        check_length(
            "euEntityDetails.address",
            &r.eu_entity_details.address,
            EU_ADDRESS,
        )?;
        check_eu_details(&r.subject_details)
    }
);

grant_request!(
    EuEntityPermissionsGrantRequest,
    GrantEuEntityRepresentativePermissions,
    grant_eu_entity_representatives,
    |r| {
        check_eu_subject(
            "representative",
            r.subject_identifier.r#type.as_str(),
            &r.subject_identifier.value,
        )?;
        check_permission_list!(r.permissions)?;
        check_length("description", &r.description, DESCRIPTION)?;
        check_eu_details(&r.subject_details)
    }
);

/// `request` if it passes [`GrantRequest::check`].
fn checked<R: GrantRequest>(request: R) -> Result<R, Error> {
    request.check()?;
    Ok(request)
}

impl PermissionsApi<'_> {
    /// Checks a grant request ([`GrantRequest::check`]) and sends it to its endpoint. The grant
    /// runs asynchronously: poll `operation_status` with the returned reference number.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] (nothing was sent), [`Error::Transport`].
    pub async fn grant<R: GrantRequest>(
        &self,
        request: R,
    ) -> Result<PermissionsOperationResponse, Error> {
        request.check()?;
        request.send(*self).await
    }
}

/// Who receives a person-like grant ([`PersonGrant`], [`IndirectGrant`], [`SubunitGrant`]): the
/// subject identifier and the matching subject details.
#[derive(Debug, Clone)]
pub struct GrantSubject {
    identifier_type: &'static str,
    value: String,
    details: PersonPermissionSubjectDetails,
}

impl GrantSubject {
    /// A person identified by NIP, with their names.
    pub fn person_by_nip(
        nip: Nip,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Self::by_identifier("Nip", nip.as_str().to_owned(), first_name, last_name)
    }

    /// A person identified by PESEL, with their names.
    pub fn person_by_pesel(
        pesel: Pesel,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        Self::by_identifier("Pesel", pesel.as_str().to_owned(), first_name, last_name)
    }

    fn by_identifier(
        kind: &'static str,
        value: String,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> Self {
        GrantSubject {
            identifier_type: kind,
            value,
            details: PersonPermissionSubjectDetails::new("PersonByIdentifier")
                .with_person_by_id(PersonDetails::new(first_name, last_name)),
        }
    }

    /// A person identified by the SHA-256 fingerprint (hex) of their certificate, whose
    /// certificate also carries a NIP or PESEL (`identifier`).
    pub fn fingerprint_with_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        identifier: PersonIdentifier,
    ) -> Self {
        Self::by_fingerprint(EuGrantSubject::person_with_identifier(
            fingerprint,
            first_name,
            last_name,
            identifier,
        ))
    }

    /// A person identified by the SHA-256 fingerprint (hex) of a certificate without a Polish
    /// identifier: names, birth date and an identity document.
    pub fn fingerprint_without_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        birth_date: NaiveDate,
        id_document: IdDocument,
    ) -> Self {
        Self::by_fingerprint(EuGrantSubject::person_without_identifier(
            fingerprint,
            first_name,
            last_name,
            birth_date,
            id_document,
        ))
    }

    /// The same person by fingerprint: the two fingerprint forms of the details are those of
    /// an EU-entity grant.
    fn by_fingerprint(subject: EuGrantSubject) -> Self {
        let mut details =
            PersonPermissionSubjectDetails::new(subject.details.subject_details_type.as_str());
        details.person_by_fp_with_id = subject.details.person_by_fp_with_id;
        details.person_by_fp_no_id = subject.details.person_by_fp_no_id;
        GrantSubject {
            identifier_type: "Fingerprint",
            value: subject.fingerprint,
            details,
        }
    }
}

/// `POST /permissions/persons/grants`: KSeF work permissions for a person in the current
/// context.
#[derive(Debug, Clone)]
pub struct PersonGrant {
    subject: GrantSubject,
    description: String,
    permissions: Vec<PersonPermissionType>,
}

impl PersonGrant {
    /// A grant to `subject` with `description` (5 to 256 characters); add permissions next.
    pub fn new(subject: GrantSubject, description: impl Into<String>) -> Self {
        PersonGrant {
            subject,
            description: description.into(),
            permissions: Vec::new(),
        }
    }

    /// Adds a permission (listing one twice is refused by [`build`](Self::build)).
    pub fn permission(mut self, permission: PersonPermissionType) -> Self {
        self.permissions.push(permission);
        self
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<PersonPermissionsGrantRequest, Error> {
        checked(PersonPermissionsGrantRequest::new(
            PersonPermissionsSubjectIdentifier::new(
                self.subject.identifier_type,
                self.subject.value,
            ),
            self.permissions,
            self.description,
            self.subject.details,
        ))
    }
}

/// `POST /permissions/entities/grants`: invoice permissions for another company (by NIP),
/// each optionally with the right to pass it on.
#[derive(Debug, Clone)]
pub struct EntityGrant {
    nip: Nip,
    full_name: String,
    description: String,
    permissions: Vec<EntityPermission>,
}

impl EntityGrant {
    /// A grant to the company `nip` called `full_name` (5 to 90 characters).
    pub fn new(nip: Nip, full_name: impl Into<String>, description: impl Into<String>) -> Self {
        EntityGrant {
            nip,
            full_name: full_name.into(),
            description: description.into(),
            permissions: Vec::new(),
        }
    }

    /// Adds a permission; `can_delegate` lets the company pass it on (indirect grants).
    pub fn permission(mut self, permission: EntityPermissionType, can_delegate: bool) -> Self {
        self.permissions
            .push(EntityPermission::new(permission).with_can_delegate(can_delegate));
        self
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<EntityPermissionsGrantRequest, Error> {
        checked(EntityPermissionsGrantRequest::new(
            EntityPermissionsSubjectIdentifier::new("Nip", self.nip.as_str()),
            self.permissions,
            self.description,
            EntityDetails::new(self.full_name),
        ))
    }
}

/// Who receives an entity authorization: a company by NIP, or a Peppol provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorizedEntity {
    /// A company by NIP.
    Nip(Nip),
    /// A Peppol service provider (for `PefInvoicing`).
    PeppolId(PeppolId),
}

/// `POST /permissions/authorizations/grants`: an entity authorization (self-invoicing, RR
/// invoicing, tax representative, PEF invoicing).
#[derive(Debug, Clone)]
pub struct AuthorizationGrant {
    subject: AuthorizedEntity,
    full_name: String,
    permission: EntityAuthorizationPermissionType,
    description: String,
}

impl AuthorizationGrant {
    /// Authorizes `subject` (called `full_name`, 5 to 90 characters) for `permission`.
    pub fn new(
        subject: AuthorizedEntity,
        full_name: impl Into<String>,
        permission: EntityAuthorizationPermissionType,
        description: impl Into<String>,
    ) -> Self {
        AuthorizationGrant {
            subject,
            full_name: full_name.into(),
            permission,
            description: description.into(),
        }
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong (e.g. a Peppol provider for
    /// anything but `PefInvoicing`).
    pub fn build(self) -> Result<EntityAuthorizationPermissionsGrantRequest, Error> {
        let identifier = match &self.subject {
            AuthorizedEntity::Nip(nip) => {
                EntityAuthorizationPermissionsSubjectIdentifier::new("Nip", nip.as_str())
            }
            AuthorizedEntity::PeppolId(id) => {
                EntityAuthorizationPermissionsSubjectIdentifier::new("PeppolId", id.as_str())
            }
        };
        checked(EntityAuthorizationPermissionsGrantRequest::new(
            identifier,
            self.permission,
            self.description,
            EntityDetails::new(self.full_name),
        ))
    }
}

/// Whose invoices an indirect grant covers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IndirectTarget {
    /// Every client (a general grant).
    AllPartners,
    /// One client by NIP (a selective grant).
    Nip(Nip),
    /// One client's internal identifier (a selective grant).
    InternalId(InternalId),
}

/// `POST /permissions/indirect/grants`: invoice permissions over clients' invoices, passed on
/// by an intermediary.
#[derive(Debug, Clone)]
pub struct IndirectGrant {
    subject: GrantSubject,
    target: Option<IndirectTarget>,
    description: String,
    permissions: Vec<IndirectPermissionType>,
}

impl IndirectGrant {
    /// A grant to `subject`; add permissions and the target next.
    pub fn new(subject: GrantSubject, description: impl Into<String>) -> Self {
        IndirectGrant {
            subject,
            target: None,
            description: description.into(),
            permissions: Vec::new(),
        }
    }

    /// Whose invoices the grant covers.
    pub fn target(mut self, target: IndirectTarget) -> Self {
        self.target = Some(target);
        self
    }

    /// Adds a permission.
    pub fn permission(mut self, permission: IndirectPermissionType) -> Self {
        self.permissions.push(permission);
        self
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<IndirectPermissionsGrantRequest, Error> {
        let mut request = IndirectPermissionsGrantRequest::new(
            IndirectPermissionsSubjectIdentifier::new(
                self.subject.identifier_type,
                self.subject.value,
            ),
            self.permissions,
            self.description,
            self.subject.details,
        );
        request.target_identifier = self.target.map(|target| match target {
            IndirectTarget::AllPartners => IndirectPermissionsTargetIdentifier::new("AllPartners"),
            IndirectTarget::Nip(nip) => {
                IndirectPermissionsTargetIdentifier::new("Nip").with_value(nip.as_str())
            }
            IndirectTarget::InternalId(id) => {
                IndirectPermissionsTargetIdentifier::new("InternalId").with_value(id.as_str())
            }
        });
        checked(request)
    }
}

/// The unit a subunit administrator manages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SubunitContext {
    /// A subordinate entity by NIP (for local-government and VAT-group parents).
    Nip(Nip),
    /// An internal unit: the parent's NIP and five digits, the last a checksum.
    InternalId(InternalId),
}

/// `POST /permissions/subunits/grants`: a subunit administrator.
#[derive(Debug, Clone)]
pub struct SubunitGrant {
    subject: GrantSubject,
    context: SubunitContext,
    description: String,
    subunit_name: Option<String>,
}

impl SubunitGrant {
    /// Makes `subject` the administrator of `context`.
    pub fn new(
        subject: GrantSubject,
        context: SubunitContext,
        description: impl Into<String>,
    ) -> Self {
        SubunitGrant {
            subject,
            context,
            description: description.into(),
            subunit_name: None,
        }
    }

    /// The subunit's name (5 to 256 characters).
    pub fn subunit_name(mut self, name: impl Into<String>) -> Self {
        self.subunit_name = Some(name.into());
        self
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<SubunitPermissionsGrantRequest, Error> {
        let context = match &self.context {
            SubunitContext::Nip(nip) => {
                SubunitPermissionsContextIdentifier::new("Nip", nip.as_str())
            }
            SubunitContext::InternalId(id) => {
                SubunitPermissionsContextIdentifier::new("InternalId", id.as_str())
            }
        };
        let mut request = SubunitPermissionsGrantRequest::new(
            SubunitPermissionsSubjectIdentifier::new(
                self.subject.identifier_type,
                self.subject.value,
            ),
            context,
            self.description,
            self.subject.details,
        );
        request.subunit_name = self.subunit_name;
        checked(request)
    }
}

/// Who receives an EU-entity grant: always identified by a certificate fingerprint, with
/// details that depend on the certificate.
#[derive(Debug, Clone)]
pub struct EuGrantSubject {
    fingerprint: String,
    details: EuEntityPermissionSubjectDetails,
}

impl EuGrantSubject {
    /// A person whose certificate carries a NIP or PESEL.
    pub fn person_with_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        identifier: PersonIdentifier,
    ) -> Self {
        EuGrantSubject {
            fingerprint: fingerprint.into(),
            details: EuEntityPermissionSubjectDetails::new("PersonByFingerprintWithIdentifier")
                .with_person_by_fp_with_id(PersonByFingerprintWithIdentifierDetails::new(
                    first_name, last_name, identifier,
                )),
        }
    }

    /// A person without a Polish identifier: names, birth date and an identity document.
    pub fn person_without_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        birth_date: NaiveDate,
        id_document: IdDocument,
    ) -> Self {
        EuGrantSubject {
            fingerprint: fingerprint.into(),
            details: EuEntityPermissionSubjectDetails::new("PersonByFingerprintWithoutIdentifier")
                .with_person_by_fp_no_id(PersonByFingerprintWithoutIdentifierDetails::new(
                    first_name,
                    last_name,
                    birth_date,
                    id_document,
                )),
        }
    }

    /// An entity (an electronic seal's certificate) with its name and address.
    pub fn entity(
        fingerprint: impl Into<String>,
        full_name: impl Into<String>,
        address: impl Into<String>,
    ) -> Self {
        EuGrantSubject {
            fingerprint: fingerprint.into(),
            details: EuEntityPermissionSubjectDetails::new("EntityByFingerprint")
                .with_entity_by_fp(EntityByFingerprintDetails::new(full_name, address)),
        }
    }
}

/// `POST /permissions/eu-entities/administration/grants`: the administrator of an EU entity's
/// context (NIP-VATUE); KSeF grants the administrator's permissions itself.
#[derive(Debug, Clone)]
pub struct EuEntityAdministrationGrant {
    subject: EuGrantSubject,
    context: NipVatUe,
    eu_entity_name: String,
    eu_entity_details: EuEntityDetails,
    description: String,
}

impl EuEntityAdministrationGrant {
    /// Makes `subject` the administrator of the context `context`; `eu_entity_name` (5 to 256
    /// characters) names the context, `full_name` (up to 100) and `address` (up to 512)
    /// describe the EU entity.
    pub fn new(
        subject: EuGrantSubject,
        context: NipVatUe,
        eu_entity_name: impl Into<String>,
        full_name: impl Into<String>,
        address: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        EuEntityAdministrationGrant {
            subject,
            context,
            eu_entity_name: eu_entity_name.into(),
            eu_entity_details: EuEntityDetails::new(full_name, address),
            description: description.into(),
        }
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<EuEntityAdministrationPermissionsGrantRequest, Error> {
        checked(EuEntityAdministrationPermissionsGrantRequest::new(
            EuEntityAdministrationPermissionsSubjectIdentifier::new(
                "Fingerprint",
                self.subject.fingerprint,
            ),
            EuEntityAdministrationPermissionsContextIdentifier::new(
                "NipVatUe",
                self.context.as_str(),
            ),
            self.description,
            self.eu_entity_name,
            self.subject.details,
            self.eu_entity_details,
        ))
    }
}

/// `POST /permissions/eu-entities/grants`: invoice permissions for a representative of the EU
/// entity of the current context.
#[derive(Debug, Clone)]
pub struct EuEntityRepresentativeGrant {
    subject: EuGrantSubject,
    description: String,
    permissions: Vec<EuEntityPermissionType>,
}

impl EuEntityRepresentativeGrant {
    /// A grant to `subject`; add permissions next.
    pub fn new(subject: EuGrantSubject, description: impl Into<String>) -> Self {
        EuEntityRepresentativeGrant {
            subject,
            description: description.into(),
            permissions: Vec::new(),
        }
    }

    /// Adds a permission.
    pub fn permission(mut self, permission: EuEntityPermissionType) -> Self {
        self.permissions.push(permission);
        self
    }

    /// The request, checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the field that is wrong.
    pub fn build(self) -> Result<EuEntityPermissionsGrantRequest, Error> {
        checked(EuEntityPermissionsGrantRequest::new(
            EuEntityPermissionsSubjectIdentifier::new("Fingerprint", self.subject.fingerprint),
            self.permissions,
            self.description,
            self.subject.details,
        ))
    }
}

#[cfg(test)]
mod tests {
    use ksef_model::types::PersonIdentifierType;

    use super::*;

    const NIP: &str = "5265877635";
    const PESEL: &str = "90010112349";
    const FINGERPRINT: &str = "7A3F0C9B1E2D4F5A6B7C8D9E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C";

    fn nip() -> Nip {
        NIP.parse().unwrap()
    }

    fn pesel_subject() -> GrantSubject {
        GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "Nowak")
    }

    /// The field an expected refusal names.
    fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> (&'static str, String) {
        match result {
            Err(Error::InvalidRequest { field, reason }) => (field, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn person_identifier() -> PersonIdentifier {
        PersonIdentifier::new(PersonIdentifierType::Pesel, PESEL)
    }

    fn id_document(country: &str) -> IdDocument {
        IdDocument::new(ksef_model::types::IdDocumentParams {
            r#type: "Passport".into(),
            number: "AB123456".into(),
            country: country.into(),
        })
    }

    #[test]
    fn person_grants_build_for_every_subject_form() {
        let by_pesel = PersonGrant::new(pesel_subject(), "Accountant")
            .permission(PersonPermissionType::InvoiceRead)
            .permission(PersonPermissionType::InvoiceWrite)
            .build()
            .unwrap();
        assert_eq!(by_pesel.subject_identifier.r#type.as_str(), "Pesel");
        assert_eq!(
            by_pesel.subject_details.subject_details_type.as_str(),
            "PersonByIdentifier"
        );
        let by_nip = GrantSubject::person_by_nip(nip(), "Jan", "Kowalski");
        PersonGrant::new(by_nip, "Owner's helper")
            .permission(PersonPermissionType::Introspection)
            .build()
            .unwrap();
        let with_id = GrantSubject::fingerprint_with_identifier(
            FINGERPRINT,
            "Jan",
            "Kowalski",
            person_identifier(),
        );
        PersonGrant::new(with_id, "Certificate holder")
            .permission(PersonPermissionType::CredentialsRead)
            .build()
            .unwrap();
        let without_id = GrantSubject::fingerprint_without_identifier(
            FINGERPRINT,
            "John",
            "Smith",
            NaiveDate::from_ymd_opt(1980, 1, 2).unwrap(),
            id_document("DE"),
        );
        PersonGrant::new(without_id, "Foreign accountant")
            .permission(PersonPermissionType::InvoiceRead)
            .build()
            .unwrap();
    }

    #[test]
    fn empty_and_duplicated_permissions_are_refused() {
        let (field, reason) = refused(PersonGrant::new(pesel_subject(), "Accountant").build());
        assert_eq!(field, "permissions");
        assert!(reason.contains("at least one"), "{reason}");
        let (field, reason) = refused(
            PersonGrant::new(pesel_subject(), "Accountant")
                .permission(PersonPermissionType::InvoiceRead)
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "permissions");
        assert!(reason.contains("InvoiceRead is listed twice"), "{reason}");
        let (field, _) = refused(
            EntityGrant::new(nip(), "Biuro rachunkowe", "Bookkeeping")
                .permission(EntityPermissionType::InvoiceRead, true)
                .permission(EntityPermissionType::InvoiceRead, false)
                .build(),
        );
        assert_eq!(field, "permissions");
        let (field, reason) = refused(
            PersonGrant::new(pesel_subject(), "Accountant")
                .permission(PersonPermissionType::from("Everything"))
                .build(),
        );
        assert_eq!(field, "permissions");
        assert!(reason.contains("Everything"), "{reason}");
    }

    #[test]
    fn description_and_name_lengths_are_the_specs() {
        let (field, reason) = refused(
            PersonGrant::new(pesel_subject(), "abcd")
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "description");
        assert!(reason.contains("5 to 256"), "{reason}");
        let (field, _) = refused(
            PersonGrant::new(pesel_subject(), "x".repeat(257))
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "description");
        PersonGrant::new(pesel_subject(), "ż".repeat(256))
            .permission(PersonPermissionType::InvoiceRead)
            .build()
            .unwrap();
        let short_name = GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "A", "Nowak");
        let (field, _) = refused(
            PersonGrant::new(short_name, "Accountant")
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "subjectDetails.firstName");
        let long_last =
            GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "N".repeat(82));
        let (field, _) = refused(
            PersonGrant::new(long_last, "Accountant")
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "subjectDetails.lastName");
        let (field, _) = refused(
            EntityGrant::new(nip(), "Firm", "Bookkeeping")
                .permission(EntityPermissionType::InvoiceRead, false)
                .build(),
        );
        assert_eq!(field, "subjectDetails.fullName");
        let (field, _) = refused(
            SubunitGrant::new(
                pesel_subject(),
                SubunitContext::InternalId("5265877635-12346".parse().unwrap()),
                "Branch admin",
            )
            .subunit_name("Dep")
            .build(),
        );
        assert_eq!(field, "subunitName");
    }

    #[test]
    fn identifiers_must_fit_the_grant() {
        // A raw request mixing a PESEL with fingerprint details.
        let mut request = PersonGrant::new(pesel_subject(), "Accountant")
            .permission(PersonPermissionType::InvoiceRead)
            .build()
            .unwrap();
        request.subject_details =
            PersonPermissionSubjectDetails::new("PersonByFingerprintWithIdentifier")
                .with_person_by_fp_with_id(PersonByFingerprintWithIdentifierDetails::new(
                    "Anna",
                    "Nowak",
                    person_identifier(),
                ));
        let (field, reason) = refused(request.check());
        assert_eq!(field, "subjectDetails.subjectDetailsType");
        assert!(reason.contains("Pesel"), "{reason}");

        // The right type, but the details object of another type.
        let mut request = PersonGrant::new(pesel_subject(), "Accountant")
            .permission(PersonPermissionType::InvoiceRead)
            .build()
            .unwrap();
        request.subject_details.person_by_fp_no_id =
            Some(PersonByFingerprintWithoutIdentifierDetails::new(
                "Anna",
                "Nowak",
                NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
                id_document("PL"),
            ));
        let (field, reason) = refused(request.check());
        assert_eq!(field, "subjectDetails");
        assert!(reason.contains("personByFpNoId"), "{reason}");

        // The type without its details.
        let mut request = PersonGrant::new(pesel_subject(), "Accountant")
            .permission(PersonPermissionType::InvoiceRead)
            .build()
            .unwrap();
        request.subject_details.person_by_id = None;
        let (field, _) = refused(request.check());
        assert_eq!(field, "subjectDetails.personById");

        // Entity grants go to a NIP only; a PESEL there is refused.
        let mut entity = EntityGrant::new(nip(), "Biuro rachunkowe", "Bookkeeping")
            .permission(EntityPermissionType::InvoiceWrite, false)
            .build()
            .unwrap();
        entity.subject_identifier.r#type = "Pesel".into();
        let (field, _) = refused(entity.check());
        assert_eq!(field, "subjectIdentifier.type");
        entity.subject_identifier.r#type = "Nip".into();
        entity.subject_identifier.value = "5265877636".into();
        let (field, reason) = refused(entity.check());
        assert_eq!(field, "subjectIdentifier.value");
        assert!(reason.contains("NIP"), "{reason}");

        // A fingerprint is 64 hex digits.
        let bad_fp = GrantSubject::fingerprint_with_identifier(
            "abc",
            "Jan",
            "Kowalski",
            person_identifier(),
        );
        let (field, _) = refused(
            PersonGrant::new(bad_fp, "Certificate holder")
                .permission(PersonPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "subjectIdentifier.value");

        // EU grants take fingerprints only.
        let mut eu = EuEntityRepresentativeGrant::new(
            EuGrantSubject::entity(FINGERPRINT, "EU GmbH", "Berlin"),
            "Representative",
        )
        .permission(EuEntityPermissionType::InvoiceWrite)
        .build()
        .unwrap();
        eu.subject_identifier.r#type = "Nip".into();
        let (field, _) = refused(eu.check());
        assert_eq!(field, "subjectIdentifier.type");
    }

    #[test]
    fn authorization_rules() {
        AuthorizationGrant::new(
            AuthorizedEntity::Nip(nip()),
            "Samofakturujący sp. z o.o.",
            EntityAuthorizationPermissionType::SelfInvoicing,
            "Self-invoicing agreement",
        )
        .build()
        .unwrap();
        AuthorizationGrant::new(
            AuthorizedEntity::PeppolId("PPL123456".parse().unwrap()),
            "Peppol provider",
            EntityAuthorizationPermissionType::PefInvoicing,
            "PEF invoices",
        )
        .build()
        .unwrap();
        let (field, reason) = refused(
            AuthorizationGrant::new(
                AuthorizedEntity::PeppolId("PPL123456".parse().unwrap()),
                "Peppol provider",
                EntityAuthorizationPermissionType::SelfInvoicing,
                "PEF invoices",
            )
            .build(),
        );
        assert_eq!(field, "permission");
        assert!(reason.contains("PefInvoicing"), "{reason}");
    }

    #[test]
    fn indirect_targets() {
        let base = || {
            IndirectGrant::new(pesel_subject(), "Client service")
                .permission(IndirectPermissionType::InvoiceRead)
        };
        base().build().unwrap();
        base().target(IndirectTarget::AllPartners).build().unwrap();
        base().target(IndirectTarget::Nip(nip())).build().unwrap();
        base()
            .target(IndirectTarget::InternalId(
                "5265877635-12346".parse().unwrap(),
            ))
            .build()
            .unwrap();
        let mut request = base().target(IndirectTarget::AllPartners).build().unwrap();
        request.target_identifier =
            Some(IndirectPermissionsTargetIdentifier::new("AllPartners").with_value(NIP));
        let (field, _) = refused(request.check());
        assert_eq!(field, "targetIdentifier.value");
        request.target_identifier = Some(IndirectPermissionsTargetIdentifier::new("Nip"));
        let (field, reason) = refused(request.check());
        assert_eq!(field, "targetIdentifier.value");
        assert!(reason.contains("selective"), "{reason}");
        request.target_identifier = Some(
            IndirectPermissionsTargetIdentifier::new("InternalId").with_value("5265877635-12345"),
        );
        let (field, _) = refused(request.check());
        assert_eq!(field, "targetIdentifier.value");
    }

    #[test]
    fn subunit_and_eu_contexts() {
        SubunitGrant::new(
            pesel_subject(),
            SubunitContext::Nip(nip()),
            "Subordinate unit admin",
        )
        .subunit_name("Gmina Testowa")
        .build()
        .unwrap();
        let mut request = SubunitGrant::new(
            pesel_subject(),
            SubunitContext::InternalId("5265877635-12346".parse().unwrap()),
            "Branch admin",
        )
        .build()
        .unwrap();
        request.context_identifier.r#type = "Pesel".into();
        let (field, _) = refused(request.check());
        assert_eq!(field, "contextIdentifier.type");

        let admin = || {
            EuEntityAdministrationGrant::new(
                EuGrantSubject::person_with_identifier(
                    FINGERPRINT,
                    "Hans",
                    "Müller",
                    person_identifier(),
                ),
                "5265877635-ATU12345678".parse().unwrap(),
                "EU entity context",
                "Beispiel GmbH",
                "Wien, Stephansplatz 1",
                "EU administrator",
            )
        };
        admin().build().unwrap();
        let mut request = admin().build().unwrap();
        request.context_identifier.value = "5265877635".into();
        let (field, _) = refused(request.check());
        assert_eq!(field, "contextIdentifier.value");
        let mut request = admin().build().unwrap();
        request.eu_entity_details.address = "a".repeat(513);
        let (field, _) = refused(request.check());
        assert_eq!(field, "euEntityDetails.address");
        let no_doc_country = EuGrantSubject::person_without_identifier(
            FINGERPRINT,
            "Hans",
            "Müller",
            NaiveDate::from_ymd_opt(1975, 5, 5).unwrap(),
            id_document("Austria"),
        );
        let (field, _) = refused(
            EuEntityRepresentativeGrant::new(no_doc_country, "Representative")
                .permission(EuEntityPermissionType::InvoiceRead)
                .build(),
        );
        assert_eq!(field, "subjectDetails.personByFpNoId.idDocument.country");
    }
}
