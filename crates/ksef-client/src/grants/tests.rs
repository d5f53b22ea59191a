use chrono::NaiveDate;
use ksef_model::types::{
    EntityAuthorizationPermissionType, EntityPermissionType, EuEntityPermissionType, IdDocument,
    IndirectPermissionType, IndirectPermissionsTargetIdentifier,
    PersonByFingerprintWithIdentifierDetails, PersonByFingerprintWithoutIdentifierDetails,
    PersonIdentifier, PersonIdentifierType, PersonPermissionSubjectDetails, PersonPermissionType,
};
use ksef_model::values::Nip;

use super::*;
use crate::error::Error;

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
    let with_id = GrantSubject::person_by_fingerprint(FingerprintPerson::with_identifier(
        FINGERPRINT,
        "Jan",
        "Kowalski",
        person_identifier(),
    ));
    PersonGrant::new(with_id, "Certificate holder")
        .permission(PersonPermissionType::CredentialsRead)
        .build()
        .unwrap();
    let without_id = GrantSubject::person_by_fingerprint(FingerprintPerson::without_identifier(
        FINGERPRINT,
        "John",
        "Smith",
        NaiveDate::from_ymd_opt(1980, 1, 2).unwrap(),
        id_document("DE"),
    ));
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
    let long_last = GrantSubject::person_by_pesel(PESEL.parse().unwrap(), "Anna", "N".repeat(82));
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
    let bad_fp = GrantSubject::person_by_fingerprint(FingerprintPerson::with_identifier(
        "abc",
        "Jan",
        "Kowalski",
        person_identifier(),
    ));
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
    request.target_identifier =
        Some(IndirectPermissionsTargetIdentifier::new("InternalId").with_value("5265877635-12345"));
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
            EuGrantSubject::person(FingerprintPerson::with_identifier(
                FINGERPRINT,
                "Hans",
                "Müller",
                person_identifier(),
            )),
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
    let no_doc_country = EuGrantSubject::person(FingerprintPerson::without_identifier(
        FINGERPRINT,
        "Hans",
        "Müller",
        NaiveDate::from_ymd_opt(1975, 5, 5).unwrap(),
        id_document("Austria"),
    ));
    let (field, _) = refused(
        EuEntityRepresentativeGrant::new(no_doc_country, "Representative")
            .permission(EuEntityPermissionType::InvoiceRead)
            .build(),
    );
    assert_eq!(field, "subjectDetails.personByFpNoId.idDocument.country");
}
