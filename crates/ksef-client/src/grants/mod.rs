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

mod builders;
mod rules;
mod subject;
#[cfg(test)]
mod tests;

use ksef_model::operations::{
    GrantAuthorizationPermissions, GrantEntityPermissions, GrantEuEntityAdministrationPermissions,
    GrantEuEntityRepresentativePermissions, GrantIndirectPermissions, GrantPersonPermissions,
    GrantSubunitPermissions,
};
use ksef_model::types::{
    EntityAuthorizationPermissionsGrantRequest, EntityPermissionsGrantRequest,
    EuEntityAdministrationPermissionsGrantRequest, EuEntityPermissionsGrantRequest,
    IndirectPermissionsGrantRequest, PermissionsOperationResponse, PersonPermissionsGrantRequest,
    SubunitPermissionsGrantRequest,
};
use ksef_model::values::{NipVatUe, PeppolId};

pub use self::builders::{
    AuthorizationGrant, AuthorizedEntity, EntityGrant, EuEntityAdministrationGrant,
    EuEntityRepresentativeGrant, IndirectGrant, IndirectTarget, PersonGrant, SubunitContext,
    SubunitGrant,
};
use self::rules::{
    DESCRIPTION, EU_ADDRESS, EU_FULL_NAME, LONG_NAME, check_entity_description, check_eu_details,
    check_eu_subject, check_internal_id, check_length, check_nip, check_permissions,
    check_person_details, check_subject_identifier, invalid,
};
pub use self::subject::{EuGrantSubject, FingerprintPerson, GrantSubject};
use crate::error::Error;
use crate::services::PermissionsApi;

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
