//! Who receives a grant: [`GrantSubject`] for person-like grants, [`EuGrantSubject`] for
//! EU-entity grants; a person known by a certificate fingerprint ([`FingerprintPerson`]) can be
//! either.

use chrono::NaiveDate;
use ksef_model::types::{
    EntityByFingerprintDetails, EuEntityPermissionSubjectDetails, IdDocument,
    PersonByFingerprintWithIdentifierDetails, PersonByFingerprintWithoutIdentifierDetails,
    PersonDetails, PersonIdentifier, PersonPermissionSubjectDetails,
};
use ksef_model::values::{Nip, Pesel};

/// Who receives a person-like grant ([`PersonGrant`](super::PersonGrant),
/// [`IndirectGrant`](super::IndirectGrant), [`SubunitGrant`](super::SubunitGrant)): the subject
/// identifier and the matching subject details.
#[derive(Debug, Clone)]
pub struct GrantSubject {
    pub(super) identifier_type: &'static str,
    pub(super) value: String,
    pub(super) details: PersonPermissionSubjectDetails,
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

    /// A person identified by the SHA-256 fingerprint of their certificate (see
    /// [`FingerprintPerson`]).
    pub fn person_by_fingerprint(person: FingerprintPerson) -> Self {
        let mut details = PersonPermissionSubjectDetails::new(person.details.type_name());
        match person.details {
            FingerprintDetails::WithIdentifier(d) => details.person_by_fp_with_id = Some(d),
            FingerprintDetails::WithoutIdentifier(d) => details.person_by_fp_no_id = Some(d),
        }
        GrantSubject {
            identifier_type: "Fingerprint",
            value: person.fingerprint,
            details,
        }
    }
}

/// A person identified by the SHA-256 fingerprint (hex) of their certificate, with the details
/// KSeF wants for such a certificate: for [`GrantSubject::person_by_fingerprint`] and
/// [`EuGrantSubject::person`].
#[derive(Debug, Clone)]
pub struct FingerprintPerson {
    fingerprint: String,
    details: FingerprintDetails,
}

#[derive(Debug, Clone)]
enum FingerprintDetails {
    WithIdentifier(PersonByFingerprintWithIdentifierDetails),
    WithoutIdentifier(PersonByFingerprintWithoutIdentifierDetails),
}

impl FingerprintDetails {
    /// The `subjectDetailsType` that goes with the details.
    fn type_name(&self) -> &'static str {
        match self {
            FingerprintDetails::WithIdentifier(_) => "PersonByFingerprintWithIdentifier",
            FingerprintDetails::WithoutIdentifier(_) => "PersonByFingerprintWithoutIdentifier",
        }
    }
}

impl FingerprintPerson {
    /// A person whose certificate also carries a NIP or PESEL (`identifier`).
    pub fn with_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        identifier: PersonIdentifier,
    ) -> Self {
        FingerprintPerson {
            fingerprint: fingerprint.into(),
            details: FingerprintDetails::WithIdentifier(
                PersonByFingerprintWithIdentifierDetails::new(first_name, last_name, identifier),
            ),
        }
    }

    /// A person whose certificate carries no Polish identifier: names, birth date and an
    /// identity document.
    pub fn without_identifier(
        fingerprint: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        birth_date: NaiveDate,
        id_document: IdDocument,
    ) -> Self {
        FingerprintPerson {
            fingerprint: fingerprint.into(),
            details: FingerprintDetails::WithoutIdentifier(
                PersonByFingerprintWithoutIdentifierDetails::new(
                    first_name,
                    last_name,
                    birth_date,
                    id_document,
                ),
            ),
        }
    }
}

/// Who receives an EU-entity grant: always identified by a certificate fingerprint, with
/// details that depend on the certificate.
#[derive(Debug, Clone)]
pub struct EuGrantSubject {
    pub(super) fingerprint: String,
    pub(super) details: EuEntityPermissionSubjectDetails,
}

impl EuGrantSubject {
    /// A person identified by their certificate's fingerprint.
    pub fn person(person: FingerprintPerson) -> Self {
        let mut details = EuEntityPermissionSubjectDetails::new(person.details.type_name());
        match person.details {
            FingerprintDetails::WithIdentifier(d) => details.person_by_fp_with_id = Some(d),
            FingerprintDetails::WithoutIdentifier(d) => details.person_by_fp_no_id = Some(d),
        }
        EuGrantSubject {
            fingerprint: person.fingerprint,
            details,
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
