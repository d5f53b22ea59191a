//! The builders of the seven grant requests: each sets the fields KSeF requires together and
//! checks the result on [`build`](PersonGrant::build).

use ksef_model::types::{
    EntityAuthorizationPermissionType, EntityAuthorizationPermissionsGrantRequest,
    EntityAuthorizationPermissionsSubjectIdentifier, EntityDetails, EntityPermission,
    EntityPermissionType, EntityPermissionsGrantRequest, EntityPermissionsSubjectIdentifier,
    EuEntityAdministrationPermissionsContextIdentifier,
    EuEntityAdministrationPermissionsGrantRequest,
    EuEntityAdministrationPermissionsSubjectIdentifier, EuEntityDetails, EuEntityPermissionType,
    EuEntityPermissionsGrantRequest, EuEntityPermissionsSubjectIdentifier, IndirectPermissionType,
    IndirectPermissionsGrantRequest, IndirectPermissionsSubjectIdentifier,
    IndirectPermissionsTargetIdentifier, PersonPermissionType, PersonPermissionsGrantRequest,
    PersonPermissionsSubjectIdentifier, SubunitPermissionsContextIdentifier,
    SubunitPermissionsGrantRequest, SubunitPermissionsSubjectIdentifier,
};
use ksef_model::values::{InternalId, Nip, NipVatUe, PeppolId};

use super::checked;
use super::subject::{EuGrantSubject, GrantSubject};
use crate::error::Error;

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
