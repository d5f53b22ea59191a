//! Self-signed certificates for KSeF's TEST environment, the simulator and tests (`test-util`
//! feature).
//!
//! KSeF's TEST environment accepts self-signed certificates whose subject carries the identifiers of a
//! company seal (organizationName, organizationIdentifier `VATPL-<NIP>`, commonName, country `PL`) or of a
//! person (givenName, surname, serialNumber `PNOPL-<PESEL>` or `TINPL-<NIP>`, commonName, country `PL`).
//! The certificates made here are valid from 61 minutes ago for two years, for digital signatures.
//! They are worthless outside TEST: never use them to sign anything real.

use std::time::{Duration, SystemTime};

use ksef_model::values::{Nip, Pesel};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rsa::rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

use crate::certificate_key::CertificateKey;
use crate::csr::pem_encode;
use crate::error::{Error, Result};
use crate::signer::KeySigner;

/// The key type of a generated certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA, 2048 bits (certificate signed with RSA-SHA256).
    Rsa2048,
    /// ECDSA on P-256 (certificate signed with ECDSA-SHA256); fast to generate.
    #[default]
    EcdsaP256,
}

/// How a person is identified in the certificate's serialNumber.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersonIdentifier {
    /// `PNOPL-<PESEL>`.
    Pesel(Pesel),
    /// `TINPL-<NIP>`.
    Nip(Nip),
}

/// A generated self-signed certificate with its private key. `Debug` never shows the key.
pub struct TestCertificate {
    certificate_der: Vec<u8>,
    key_pkcs8_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificate")
            .field("certificate_der_len", &self.certificate_der.len())
            .field("key", &"{redacted}")
            .finish()
    }
}

fn generation_failed(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::CertificateGeneration {
        source: Box::new(err),
    }
}

fn printable(text: &str) -> Result<DnValue> {
    Ok(DnValue::PrintableString(
        text.try_into().map_err(generation_failed)?,
    ))
}

impl TestCertificate {
    /// A company seal certificate: `O=<organization>`, `organizationIdentifier=VATPL-<nip>`,
    /// `CN=<organization>`, `C=PL`.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateGeneration`] if key or certificate generation fails.
    pub fn company(organization: &str, nip: &Nip, key_type: KeyType) -> Result<Self> {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("PL")?);
        dn.push(DnType::OrganizationName, organization);
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 97]),
            DnValue::Utf8String(format!("VATPL-{}", nip.as_str())),
        );
        dn.push(DnType::CommonName, organization);
        Self::generate(dn, key_type)
    }

    /// A personal certificate: `givenName`, `surname`, `serialNumber=PNOPL-<PESEL>` or `TINPL-<NIP>`,
    /// `CN=<given> <surname>`, `C=PL`.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateGeneration`] if key or certificate generation fails.
    pub fn person(
        given_name: &str,
        surname: &str,
        identifier: &PersonIdentifier,
        key_type: KeyType,
    ) -> Result<Self> {
        let serial = match identifier {
            PersonIdentifier::Pesel(pesel) => format!("PNOPL-{}", pesel.as_str()),
            PersonIdentifier::Nip(nip) => format!("TINPL-{}", nip.as_str()),
        };
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, printable("PL")?);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), given_name);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), surname);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), printable(&serial)?);
        dn.push(DnType::CommonName, format!("{given_name} {surname}"));
        Self::generate(dn, key_type)
    }

    fn generate(dn: DistinguishedName, key_type: KeyType) -> Result<Self> {
        let key = match key_type {
            KeyType::Rsa2048 => CertificateKey::generate_rsa_2048()?,
            KeyType::EcdsaP256 => CertificateKey::generate_ec_p256()?,
        };
        let key_der = key.to_pkcs8_der()?;
        let key_pair = KeyPair::try_from(key_der.as_slice()).map_err(generation_failed)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn;
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(61 * 60)).into();
        params.not_after = (now + Duration::from_secs(2 * 365 * 24 * 3600)).into();
        let mut serial = [0u8; 16];
        OsRng.fill_bytes(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let certificate = params.self_signed(&key_pair).map_err(generation_failed)?;
        Ok(Self {
            certificate_der: certificate.der().to_vec(),
            key_pkcs8_der: key_der,
        })
    }

    /// The certificate in DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate in PEM.
    pub fn certificate_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.certificate_der)
    }

    /// The private key as unencrypted PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> &[u8] {
        &self.key_pkcs8_der
    }

    /// The private key as unencrypted PKCS#8 PEM.
    pub fn key_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem_encode("PRIVATE KEY", &self.key_pkcs8_der))
    }

    /// A signer with this key and certificate.
    ///
    /// # Errors
    ///
    /// None in practice; the key and certificate are read back as any others.
    pub fn signer(&self) -> Result<KeySigner> {
        KeySigner::from_pkcs8_der(&self.key_pkcs8_der, &self.certificate_der)
    }
}
