//! The simulator's certificate authority (the issuer of KSeF certificates) and the identity
//! attributes of certificate names.

use std::sync::OnceLock;

use ksef_crypto::Certificate;

use crate::errors::ApiError;

/// The DN attributes KSeF puts in its certificates, by OID, with their JSON names.
pub(crate) const NAME_OIDS: [(&str, &str); 8] = [
    ("2.5.4.3", "commonName"),
    ("2.5.4.6", "countryName"),
    ("2.5.4.42", "givenName"),
    ("2.5.4.4", "surname"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.45", "uniqueIdentifier"),
    ("2.5.4.10", "organizationName"),
    ("2.5.4.97", "organizationIdentifier"),
];

/// The identity attributes of a DN given as its string attributes (dotted OID, value) in DN
/// order, in `NAME_OIDS` order (repeated attributes in DN order).
pub(crate) fn dn_attributes<'a>(
    attributes: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (oid, _) in NAME_OIDS {
        for (attr_oid, text) in attributes.clone() {
            if attr_oid == oid {
                out.push((oid.to_owned(), text.to_owned()));
            }
        }
    }
    out
}

/// The simulator's certificate authority.
pub(crate) struct Ca {
    pub(crate) issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA's own (self-signed) certificate, parsed once.
    pub(crate) certificate: Certificate,
}

static CA: OnceLock<Result<Ca, String>> = OnceLock::new();

pub(crate) fn ca() -> Result<&'static Ca, ApiError> {
    CA.get_or_init(|| {
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ksef-sim CA");
        params
            .distinguished_name
            .push(rcgen::DnType::CountryName, "PL");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let der = params
            .clone()
            .self_signed(&key)
            .map_err(|e| e.to_string())?
            .der()
            .to_vec();
        let certificate = Certificate::from_der(&der).map_err(|e| e.to_string())?;
        Ok(Ca {
            issuer: rcgen::Issuer::new(params, key),
            certificate,
        })
    })
    .as_ref()
    .map_err(|e| ApiError::internal(e.clone()))
}

/// Whether `certificate` chains to the simulator's CA: a KSeF certificate it issued (issuer name
/// and signature checked). Self-signed and foreign certificates do not.
pub(crate) fn issued_by_ca(certificate: &Certificate) -> bool {
    ca().is_ok_and(|ca| certificate.is_issued_by(&ca.certificate))
}
