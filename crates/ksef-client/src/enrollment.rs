//! KSeF certificate enrollment as one flow: fetch the subject KSeF expects, generate (or take) a
//! key, build and sign the CSR, enroll, wait for issuance and download the certificate.
//!
//! [`Client::enroll_certificate`] does it all; [`Client::start_certificate_enrollment`] stops
//! once KSeF accepted the request, so the key can be stored before waiting
//! ([`PendingCertificateEnrollment::wait`]).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, Utc};
use ksef_crypto::{
    Certificate, CertificateKey, CertificateSigningRequest, EnrollmentData, KeySigner,
};
use ksef_model::operations::{
    EnrollCertificate, GetCertificateEnrollmentData, GetCertificateEnrollmentStatus,
    RetrieveCertificates,
};
use ksef_model::types::{
    CertificateEnrollmentDataResponse, EnrollCertificateRequest, KsefCertificateType,
    RetrieveCertificatesRequest,
};
use ksef_model::values::ReferenceNumber;

use crate::client::Client;
use crate::error::Error;
use crate::files::write_file_atomically;

/// The shortest certificate name KSeF accepts (`EnrollCertificateRequest.certificateName`).
const NAME_MIN_CHARS: usize = 5;
/// The longest certificate name KSeF accepts.
const NAME_MAX_CHARS: usize = 100;
/// Polish letters the name may hold besides ASCII letters, digits, `_`, `-` and space.
const NAME_POLISH_LETTERS: &str = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ";

/// The kind of key [`Client::enroll_certificate`] generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EnrollmentKeyType {
    /// ECDSA on NIST P-256, the kind KSeF recommends (the default).
    #[default]
    EcP256,
    /// RSA with a 2048-bit modulus (generation takes a few seconds).
    Rsa2048,
}

/// What to enroll: the certificate's name and type, and the key (generated or given).
///
/// ```
/// use ksef_client::{CertificateEnrollment, EnrollmentKeyType};
/// use ksef_model::types::KsefCertificateType;
///
/// let request = CertificateEnrollment::new("Offline seal 2026", KsefCertificateType::Offline)
///     .key_type(EnrollmentKeyType::Rsa2048);
/// assert_eq!(request.name(), "Offline seal 2026");
/// ```
#[derive(Debug, Clone)]
pub struct CertificateEnrollment {
    name: String,
    certificate_type: KsefCertificateType,
    key_type: EnrollmentKeyType,
    key: Option<CertificateKey>,
    valid_from: Option<DateTime<FixedOffset>>,
}

impl CertificateEnrollment {
    /// A request for a certificate called `name` (5 to 100 letters, digits, `_`, `-` or spaces;
    /// Polish letters allowed) of type `certificate_type`, with a new EC P-256 key.
    pub fn new(name: impl Into<String>, certificate_type: KsefCertificateType) -> Self {
        CertificateEnrollment {
            name: name.into(),
            certificate_type,
            key_type: EnrollmentKeyType::default(),
            key: None,
            valid_from: None,
        }
    }

    /// The kind of key to generate (ignored when [`with_key`](Self::with_key) gives one).
    pub fn key_type(mut self, key_type: EnrollmentKeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// Certifies this key instead of generating one: store it before enrolling and an issued
    /// certificate is never left without its key.
    pub fn with_key(mut self, key: CertificateKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The start of the certificate's validity (by default, the moment it is issued).
    pub fn valid_from(mut self, from: DateTime<FixedOffset>) -> Self {
        self.valid_from = Some(from);
        self
    }

    /// The certificate's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the name against the spec's length and character rules.
    fn check(&self) -> Result<(), Error> {
        let count = self.name.chars().count();
        if !(NAME_MIN_CHARS..=NAME_MAX_CHARS).contains(&count) {
            return Err(Error::InvalidRequest {
                field: "certificateName",
                reason: format!(
                    "must have {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters (it has {count})"
                ),
            });
        }
        if let Some(bad) = self.name.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | ' ')
                || NAME_POLISH_LETTERS.contains(*c))
        }) {
            return Err(Error::InvalidRequest {
                field: "certificateName",
                reason: format!(
                    "{bad:?} is not allowed (letters, digits, '_', '-' and spaces only)"
                ),
            });
        }
        Ok(())
    }
}

/// An enrollment KSeF accepted and is processing; [`wait`](Self::wait) for the certificate.
///
/// Holds the private key: `Debug` shows only its algorithm.
#[derive(Debug)]
pub struct PendingCertificateEnrollment {
    client: Client,
    reference_number: ReferenceNumber,
    key: CertificateKey,
}

impl PendingCertificateEnrollment {
    /// The enrollment's reference number (for `GET /certificates/enrollments/{ref}`).
    pub fn reference_number(&self) -> &ReferenceNumber {
        &self.reference_number
    }

    /// The private key the CSR was signed with.
    pub fn key(&self) -> &CertificateKey {
        &self.key
    }

    /// Polls the enrollment with the client's [`PollConfig`](crate::PollConfig) until KSeF
    /// issued the certificate, then downloads it.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateEnrollmentFailed`] for a failure status (e.g. 400 rejected, 500
    /// unknown error), [`Error::PollTimeout`], [`Error::Transport`], and
    /// [`Error::UnexpectedResponse`] if KSeF does not return the certificate it named.
    pub async fn wait(self) -> Result<EnrolledCertificate, Error> {
        let mut backoff = self.client.inner.poll.start();
        let serial_number = loop {
            let read = self
                .client
                .certificates()
                .enrollment_status(GetCertificateEnrollmentStatus::new(
                    self.reference_number.clone(),
                ))
                .await;
            let what = || format!("certificate enrollment {}", self.reference_number);
            let Some(status) = backoff.read(what, read).await? else {
                continue;
            };
            match status.status.code {
                100 => {}
                200 => {
                    break status.certificate_serial_number.ok_or_else(|| {
                        Error::UnexpectedResponse {
                            reason: format!(
                                "enrollment {} is done but names no certificate serial number",
                                self.reference_number
                            ),
                        }
                    })?;
                }
                code => {
                    return Err(Error::CertificateEnrollmentFailed {
                        reference_number: self.reference_number,
                        code,
                        description: status.status.description,
                        details: status.status.details.unwrap_or_default(),
                    });
                }
            }
            backoff
                .wait_or_time_out(|| format!("certificate enrollment {}", self.reference_number))
                .await?;
        };
        let retrieved = self
            .client
            .certificates()
            .retrieve(RetrieveCertificates::new(RetrieveCertificatesRequest::new(
                vec![serial_number.clone()],
            )))
            .await?;
        let item = retrieved
            .certificates
            .into_iter()
            .find(|c| {
                c.certificate_serial_number
                    .eq_ignore_ascii_case(&serial_number)
            })
            .ok_or_else(|| Error::UnexpectedResponse {
                reason: format!("KSeF returned no certificate for serial number {serial_number}"),
            })?;
        let der =
            STANDARD
                .decode(item.certificate.trim())
                .map_err(|_| Error::UnexpectedResponse {
                    reason: format!("certificate {serial_number} is not base64"),
                })?;
        let certificate = Certificate::from_der(&der).map_err(|_| Error::UnexpectedResponse {
            reason: format!("certificate {serial_number} is not a readable X.509 certificate"),
        })?;
        let (valid_from, valid_to) = (certificate.not_before(), certificate.not_after());
        if *certificate.public_key() != self.key.public_key() {
            return Err(Error::UnexpectedResponse {
                reason: format!(
                    "certificate {serial_number} does not certify the key of the enrollment"
                ),
            });
        }
        Ok(EnrolledCertificate {
            reference_number: self.reference_number,
            serial_number: item.certificate_serial_number,
            name: item.certificate_name,
            certificate_type: item.certificate_type,
            der,
            valid_from,
            valid_to,
            key: self.key,
        })
    }
}

/// An issued KSeF certificate with its private key.
///
/// `Debug` shows the key's algorithm only; the key material is zeroized when dropped.
#[derive(Clone)]
#[non_exhaustive]
pub struct EnrolledCertificate {
    /// The enrollment's reference number.
    pub reference_number: ReferenceNumber,
    /// The certificate's serial number (hexadecimal, as KSeF lists it).
    pub serial_number: String,
    /// The certificate's name.
    pub name: String,
    /// `Authentication` or `Offline`.
    pub certificate_type: KsefCertificateType,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity.
    pub valid_to: DateTime<Utc>,
    key: CertificateKey,
}

impl std::fmt::Debug for EnrolledCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolledCertificate")
            .field("reference_number", &self.reference_number)
            .field("serial_number", &self.serial_number)
            .field("name", &self.name)
            .field("certificate_type", &self.certificate_type)
            .field("der_len", &self.der.len())
            .field("valid_from", &self.valid_from)
            .field("valid_to", &self.valid_to)
            .field("key", &self.key)
            .finish()
    }
}

impl EnrolledCertificate {
    /// The private key.
    pub fn key(&self) -> &CertificateKey {
        &self.key
    }

    /// The certificate as PEM (`CERTIFICATE`, 64-character lines).
    pub fn certificate_pem(&self) -> String {
        ksef_crypto::pem_encode("CERTIFICATE", &self.der)
    }

    /// A XAdES signer with this certificate and key, for [`Client::login_with_certificate`]
    /// (an `Authentication` certificate).
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the certificate cannot be read or does not certify the key.
    pub fn signer(&self) -> Result<KeySigner, Error> {
        Ok(KeySigner::new(
            self.key.clone(),
            Certificate::from_der(&self.der)?,
        )?)
    }

    /// Writes the certificate (PEM, mode 0644) and the private key (PKCS#8 PEM, mode 0600;
    /// `ENCRYPTED PRIVATE KEY` with PBES2/AES-256-CBC when `key_password` is given), each
    /// atomically. An existing key file is never overwritten.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] if the key file exists or a write fails, [`Error::Crypto`] if the key
    /// cannot be encoded.
    pub fn save(
        &self,
        certificate_path: &Path,
        key_path: &Path,
        key_password: Option<&[u8]>,
    ) -> Result<(), Error> {
        save_key(&self.key, key_path, key_password)?;
        write_file_atomically(certificate_path, self.certificate_pem().as_bytes(), 0o644)
            .map_err(|e| Error::storage(format!("cannot write {}", certificate_path.display()), e))
    }
}

/// Writes `key` as PKCS#8 PEM (encrypted when a password is given) to a new file, mode 0600.
///
/// # Errors
///
/// [`Error::Storage`] if the file exists or the write fails, [`Error::Crypto`] if the key
/// cannot be encoded.
pub fn save_key(key: &CertificateKey, path: &Path, password: Option<&[u8]>) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Storage {
            reason: format!(
                "{} exists; a private key file is never overwritten",
                path.display()
            ),
            source: None,
        });
    }
    let pem = match password {
        Some(password) => zeroize::Zeroizing::new(key.to_encrypted_pkcs8_pem(password)?),
        None => key.to_pkcs8_pem()?,
    };
    write_file_atomically(path, pem.as_bytes(), 0o600)
        .map_err(|e| Error::storage(format!("cannot write {}", path.display()), e))
}

/// The spec's enrollment data as the CSR builder wants it.
fn enrollment_data(data: CertificateEnrollmentDataResponse) -> EnrollmentData {
    EnrollmentData {
        common_name: data.common_name,
        country_name: data.country_name,
        given_names: data.given_name.into_iter().collect(),
        surname: data.surname,
        serial_number: data.serial_number,
        unique_identifier: data.unique_identifier,
        organization_name: data.organization_name,
        organization_identifier: data.organization_identifier,
    }
}

impl Client {
    /// Enrolls a KSeF certificate and waits for it: [`start_certificate_enrollment`] then
    /// [`PendingCertificateEnrollment::wait`].
    ///
    /// Needs a session opened with a certificate (XAdES): KSeF copies the CSR's subject from
    /// the certificate used to log in.
    ///
    /// [`start_certificate_enrollment`]: Client::start_certificate_enrollment
    ///
    /// # Errors
    ///
    /// As the two steps.
    pub async fn enroll_certificate(
        &self,
        request: CertificateEnrollment,
    ) -> Result<EnrolledCertificate, Error> {
        self.start_certificate_enrollment(request)
            .await?
            .wait()
            .await
    }

    /// Fetches the enrollment data, generates the key (unless the request holds one), builds
    /// the CSR with the subject exactly as KSeF returned it, signs it and sends the enrollment.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a name KSeF would refuse (nothing is sent),
    /// [`Error::Crypto`] if key generation or the CSR fails, [`Error::Transport`] (e.g. 25001:
    /// no enrollment data for a token login; 25003: subject mismatch).
    pub async fn start_certificate_enrollment(
        &self,
        request: CertificateEnrollment,
    ) -> Result<PendingCertificateEnrollment, Error> {
        request.check()?;
        let data = self
            .certificates()
            .enrollment_data(GetCertificateEnrollmentData::new())
            .await?;
        let key = match request.key {
            Some(key) => key,
            None => match request.key_type {
                EnrollmentKeyType::EcP256 => CertificateKey::generate_ec_p256()?,
                EnrollmentKeyType::Rsa2048 => {
                    tokio::task::spawn_blocking(CertificateKey::generate_rsa_2048)
                        .await
                        .map_err(|e| Error::UnexpectedResponse {
                            reason: format!("RSA key generation stopped: {e}"),
                        })??
                }
            },
        };
        let csr = CertificateSigningRequest::new(&enrollment_data(data), &key)?;
        let mut body = EnrollCertificateRequest::new(
            request.name.clone(),
            request.certificate_type.clone(),
            csr.to_base64(),
        );
        if let Some(from) = request.valid_from {
            body = body.with_valid_from(from);
        }
        let enrolled = self
            .certificates()
            .enroll(EnrollCertificate::new(body))
            .await?;
        Ok(PendingCertificateEnrollment {
            client: self.clone(),
            reference_number: enrolled.reference_number,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_error(name: &str) -> Option<String> {
        match CertificateEnrollment::new(name, KsefCertificateType::Offline).check() {
            Ok(()) => None,
            Err(Error::InvalidRequest { field, reason }) => {
                assert_eq!(field, "certificateName");
                Some(reason)
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn names_follow_the_spec() {
        assert_eq!(name_error("Pieczęć offline_1-a"), None);
        assert!(name_error("abcd").unwrap().contains("5 to 100"));
        assert!(name_error(&"x".repeat(101)).unwrap().contains("101"));
        assert_eq!(name_error(&"x".repeat(100)), None);
        assert!(name_error("name/with/slash").unwrap().contains("'/'"));
    }

    #[test]
    fn enrollment_data_keeps_every_attribute() {
        let mut data = CertificateEnrollmentDataResponse::new("Jan Kowalski", "PL");
        data.given_name = Some("Jan".into());
        data.surname = Some("Kowalski".into());
        data.serial_number = Some("PNOPL-80010112345".into());
        let mapped = enrollment_data(data);
        assert_eq!(mapped.common_name, "Jan Kowalski");
        assert_eq!(mapped.given_names, vec!["Jan".to_owned()]);
        assert_eq!(mapped.serial_number.as_deref(), Some("PNOPL-80010112345"));
        assert_eq!(mapped.organization_name, None);
    }
}
