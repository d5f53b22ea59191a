//! Offline invoicing: the QR links an offline invoice carries, and what sending it later needs.
//!
//! When KSeF is unavailable (see [`crate::lighthouse`]), or by the taxpayer's choice
//! (`offline24`), invoices are issued without KSeF and sent later with `offlineMode: true`
//! ([`crate::SendOptions::offline`]). Their visualisation carries two QR codes:
//!
//! - **KOD I** ([`OfflineInvoice::verification_link`]): the invoice's verification link, built
//!   from the seller's NIP and the issue date `P_1` read from the XML and the SHA-256 of the
//!   exact file bytes; the caption is `OFFLINE` until KSeF assigns a number.
//! - **KOD II** ([`OfflineInvoice::certificate_link`]): the issuer's KSeF certificate of type
//!   `Offline`, the link signed with its private key; the caption is `CERTYFIKAT`.
//!
//! The links themselves are `ksef_crypto`'s ([`ksef_crypto::invoice_link`],
//! [`ksef_crypto::certificate_link`]); this module reads the facts they need from the invoice.
//!
//! An offline invoice that KSeF rejects for technical reasons (schema, size, duplicate) can be
//! corrected technically: fix the file and send it with
//! [`crate::SendOptions::technical_correction`] naming [`OfflineInvoice::hash`] of the rejected
//! original. The KOD I of the original then leads to the corrected invoice.
//!
//! ```
//! use ksef_client::offline::OfflineInvoice;
//! use ksef_client::crypto::QrEnvironment;
//!
//! # fn main() -> Result<(), ksef_client::Error> {
//! let xml = br#"<Faktura><Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP>
//!   </DaneIdentyfikacyjne></Podmiot1><Fa><P_1>2026-02-01</P_1></Fa></Faktura>"#;
//! let invoice = OfflineInvoice::parse(xml)?;
//! let link = invoice.verification_link(QrEnvironment::Test)?;
//! assert!(link.starts_with("https://qr-test.ksef.mf.gov.pl/invoice/5265877635/01-02-2026/"));
//! # Ok(())
//! # }
//! ```

use chrono::NaiveDate;
use ksef_crypto::{
    CertificateKey, FileMetadata, QrContextType, QrEnvironment, certificate_link, file_metadata,
    invoice_link,
};
use ksef_model::invoice_facts::{Fact, InvoiceFacts};
use ksef_transport::Environment;

use crate::error::Error;

/// The QR host environment of a KSeF environment.
pub fn qr_environment(environment: Environment) -> QrEnvironment {
    match environment {
        Environment::Demo => QrEnvironment::Demo,
        Environment::Production => QrEnvironment::Production,
        _ => QrEnvironment::Test,
    }
}

/// What the QR links of an invoice need, read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OfflineInvoice {
    /// The seller's NIP (`Faktura/Podmiot1/DaneIdentyfikacyjne/NIP`).
    pub seller_nip: String,
    /// The issue date (`Faktura/Fa/P_1`).
    pub issue_date: NaiveDate,
    /// SHA-256 and size of the exact file bytes.
    pub metadata: FileMetadata,
}

impl OfflineInvoice {
    /// Reads the seller's NIP and the issue date from an FA invoice file
    /// ([`ksef_model::invoice_facts`]) and hashes its bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInvoice`] naming what is missing: the XML is not well-formed, the root is
    /// not `Faktura`, or the seller's NIP or `P_1` is absent or malformed.
    pub fn parse(xml: &[u8]) -> Result<OfflineInvoice, Error> {
        let invalid = |reason: String| Error::InvalidInvoice { reason };
        let facts = InvoiceFacts::read(xml).map_err(|e| invalid(e.to_string()))?;
        if facts.root != "Faktura" {
            return Err(invalid(format!(
                "the root element is {}, not Faktura",
                facts.root
            )));
        }
        let seller_nip = facts
            .required(Fact::SellerNip)
            .map_err(|e| invalid(e.to_string()))?
            .to_owned();
        if seller_nip.len() != 10 || !seller_nip.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "the seller's NIP {seller_nip:?} is not ten digits"
            )));
        }
        let issue_date = facts.issue_date().map_err(|e| invalid(e.to_string()))?;
        Ok(OfflineInvoice {
            seller_nip,
            issue_date,
            metadata: file_metadata(xml),
        })
    }

    /// SHA-256 of the file in standard base64: the `invoiceHash` KSeF lists it under, and the
    /// `hashOfCorrectedInvoice` a technical correction of it names.
    pub fn hash(&self) -> String {
        self.metadata.sha256_base64()
    }

    /// The KOD I link (invoice verification) on `environment`'s QR host.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the link cannot be built.
    pub fn verification_link(&self, environment: QrEnvironment) -> Result<String, Error> {
        Ok(invoice_link(
            environment,
            &self.seller_nip,
            self.issue_date,
            &self.metadata,
        )?)
    }

    /// The KOD II link (the issuer's `Offline` KSeF certificate), signed with `key`, the
    /// certificate's private key. `context_type` and `context_value` name the context the
    /// invoice was issued in (usually `Nip` and the seller's NIP); `certificate_serial` is the
    /// certificate's serial number in hexadecimal.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] for a malformed context or serial number, or if signing fails.
    pub fn certificate_link(
        &self,
        environment: QrEnvironment,
        context_type: QrContextType,
        context_value: &str,
        certificate_serial: &str,
        key: &CertificateKey,
    ) -> Result<String, Error> {
        Ok(certificate_link(
            environment,
            context_type,
            context_value,
            &self.seller_nip,
            certificate_serial,
            &self.metadata,
            key,
        )?)
    }
}

/// Checks a `hashOfCorrectedInvoice` value: SHA-256 in standard base64 (44 characters with
/// padding), as KSeF's `invoiceHash` gives it.
///
/// # Errors
///
/// [`Error::InvalidRequest`] saying what is wrong.
pub fn check_invoice_hash(hash: &str) -> Result<(), Error> {
    use base64::Engine as _;
    let invalid = |reason: &str| Error::InvalidRequest {
        field: "hashOfCorrectedInvoice",
        reason: reason.to_owned(),
    };
    if hash.len() != 44 {
        return Err(invalid(
            "must be 44 characters: the SHA-256 of the rejected file in standard base64",
        ));
    }
    match base64::engine::general_purpose::STANDARD.decode(hash) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(invalid(
            "is not standard base64 of 32 bytes (a SHA-256); base64url or hex are not accepted",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Podmiot1><DaneIdentyfikacyjne>
<NIP>5265877635</NIP></DaneIdentyfikacyjne></Podmiot1><Fa><P_1>2026-02-01</P_1></Fa></Faktura>"#;

    #[test]
    fn reads_the_facts_and_builds_kod_i() {
        let invoice = OfflineInvoice::parse(XML).unwrap();
        assert_eq!(invoice.seller_nip, "5265877635");
        let link = invoice
            .verification_link(QrEnvironment::Production)
            .unwrap();
        assert_eq!(
            link,
            format!(
                "https://qr.ksef.mf.gov.pl/invoice/5265877635/01-02-2026/{}",
                file_metadata(XML).sha256_base64url()
            )
        );
        assert_eq!(invoice.hash(), file_metadata(XML).sha256_base64());
    }

    #[test]
    fn names_what_is_missing() {
        let no_date = br#"<Faktura><Podmiot1><DaneIdentyfikacyjne><NIP>5265877635</NIP>
            </DaneIdentyfikacyjne></Podmiot1><Fa/></Faktura>"#;
        let error = OfflineInvoice::parse(no_date).unwrap_err().to_string();
        assert!(error.contains("P_1"), "{error}");
        let error = OfflineInvoice::parse(b"<Other/>").unwrap_err().to_string();
        assert!(error.contains("Faktura"), "{error}");
    }

    #[test]
    fn checks_corrected_hashes() {
        check_invoice_hash(&file_metadata(b"x").sha256_base64()).unwrap();
        for bad in [
            "",
            "abc",
            &file_metadata(b"x").sha256_base64url(),
            "////////////////////////////////////////////",
        ] {
            assert!(
                matches!(
                    check_invoice_hash(bad),
                    Err(Error::InvalidRequest {
                        field: "hashOfCorrectedInvoice",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
