//! The links behind the KSeF QR codes on an invoice's visualisation.
//!
//! - **KOD I** ([`invoice_link`]) lets the buyer verify the invoice:
//!   `https://{host}/invoice/{sellerNip}/{issue date DD-MM-YYYY}/{SHA-256 of the invoice file}`.
//!   Every invoice carries it; under the code goes the KSeF number, or `OFFLINE` while none is
//!   assigned ([`QrCaption`]).
//! - **KOD II** ([`certificate_link`]) is added to offline invoices only and proves who issued
//!   them: `https://{host}/certificate/{contextType}/{contextValue}/{sellerNip}/{certificate
//!   serial}/{SHA-256 of the invoice file}/{signature}`, signed with the private key of a KSeF
//!   certificate of type `Offline`. The caption under it is `CERTYFIKAT`.
//!
//! Hashes and signatures are URL-safe base64 without padding. The signed text is the link
//! without `https://` ([`certificate_link_signed_text`]); RSA keys sign it with RSASSA-PSS
//! (SHA-256, MGF1-SHA-256, 32-byte salt), EC P-256 keys with ECDSA SHA-256 in IEEE P1363 form
//! (`R || S`, 64 bytes).
//!
//! Rendering the codes as PNG or SVG is in `QrImage`, behind the `qr-image` feature.
//!
//! ```
//! use chrono::NaiveDate;
//! use ksef_crypto::{QrEnvironment, file_metadata, invoice_link};
//!
//! # fn main() -> Result<(), ksef_crypto::Error> {
//! let invoice = file_metadata(b"<x/>");
//! let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
//! let link = invoice_link(QrEnvironment::Test, "0000000000", date, &invoice)?;
//! assert_eq!(
//!     link,
//!     "https://qr-test.ksef.mf.gov.pl/invoice/0000000000/01-02-2026/KjH0TaS9fey70939GjeuBNAuxmXiwmiIFszGVjFYbtE"
//! );
//! # Ok(())
//! # }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;

use crate::certificate_key::CertificateKey;
use crate::error::{Error, Result};
use crate::metadata::FileMetadata;

/// The KSeF environment whose QR host a link points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QrEnvironment {
    /// TEST (TE): `qr-test.ksef.mf.gov.pl`.
    Test,
    /// DEMO (TR, pre-production): `qr-demo.ksef.mf.gov.pl`.
    Demo,
    /// Production (PRD): `qr.ksef.mf.gov.pl`.
    Production,
}

impl QrEnvironment {
    /// The QR host name, without scheme or trailing slash.
    pub fn host(self) -> &'static str {
        match self {
            Self::Test => "qr-test.ksef.mf.gov.pl",
            Self::Demo => "qr-demo.ksef.mf.gov.pl",
            Self::Production => "qr.ksef.mf.gov.pl",
        }
    }
}

/// The type of the context identifier in a KOD II link (the context the invoice was issued in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QrContextType {
    /// A ten-digit NIP.
    Nip,
    /// An internal identifier, `{NIP}-{5 digits}`.
    InternalId,
    /// A NIP joined with an EU VAT number, `{NIP}-{VAT UE}`.
    NipVatUe,
    /// A Peppol service provider identifier.
    PeppolId,
}

impl QrContextType {
    /// The path segment, as in the API's `ContextIdentifier.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nip => "Nip",
            Self::InternalId => "InternalId",
            Self::NipVatUe => "NipVatUe",
            Self::PeppolId => "PeppolId",
        }
    }
}

/// The caption KSeF requires under a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QrCaption {
    /// Under KOD I once the invoice has a KSeF number: the number itself.
    KsefNumber(String),
    /// Under KOD I while the invoice has no KSeF number yet (offline invoices before sending):
    /// `OFFLINE`.
    Offline,
    /// Under KOD II: `CERTYFIKAT`.
    Certificate,
}

impl QrCaption {
    /// The text to print.
    pub fn text(&self) -> &str {
        match self {
            Self::KsefNumber(number) => number,
            Self::Offline => "OFFLINE",
            Self::Certificate => "CERTYFIKAT",
        }
    }
}

/// The KOD I link: verification of the invoice.
///
/// `issue_date` is the invoice's issue date (`P_1`); `invoice` is the [`FileMetadata`] of the
/// exact invoice file bytes sent to KSeF (e.g. from [`file_metadata`](crate::file_metadata)).
///
/// # Errors
///
/// [`Error::InvalidQrInput`] if `seller_nip` is not ten digits.
pub fn invoice_link(
    environment: QrEnvironment,
    seller_nip: &str,
    issue_date: NaiveDate,
    invoice: &FileMetadata,
) -> Result<String> {
    check_nip("sellerNip", seller_nip)?;
    Ok(format!(
        "https://{}/invoice/{}/{}/{}",
        environment.host(),
        seller_nip,
        issue_date.format("%d-%m-%Y"),
        invoice.sha256_base64url()
    ))
}

/// The text a KOD II link signs: the link without `https://` and without the signature, with
/// no trailing slash, e.g.
/// `qr-test.ksef.mf.gov.pl/certificate/Nip/1111111111/1111111111/01F20A5D352AE590/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE`.
///
/// `certificate_serial` is the KSeF certificate's serial number in hexadecimal, as
/// `certificateSerialNumber` gives it.
///
/// # Errors
///
/// [`Error::InvalidQrInput`] if `seller_nip` is not ten digits, `certificate_serial` is not
/// hexadecimal, or `context_value` is empty or holds characters other than ASCII letters,
/// digits and `-`.
pub fn certificate_link_signed_text(
    environment: QrEnvironment,
    context_type: QrContextType,
    context_value: &str,
    seller_nip: &str,
    certificate_serial: &str,
    invoice: &FileMetadata,
) -> Result<String> {
    check_nip("sellerNip", seller_nip)?;
    if context_value.is_empty()
        || !context_value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::InvalidQrInput {
            field: "contextValue",
            reason: "must be non-empty ASCII letters, digits and '-'",
        });
    }
    if certificate_serial.is_empty() || !certificate_serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidQrInput {
            field: "certificateSerial",
            reason: "must be hexadecimal",
        });
    }
    Ok(format!(
        "{}/certificate/{}/{}/{}/{}/{}",
        environment.host(),
        context_type.as_str(),
        context_value,
        seller_nip,
        certificate_serial,
        invoice.sha256_base64url()
    ))
}

/// The KOD II link: the issuer's `Offline` KSeF certificate, with the link signed by `key`, the
/// certificate's private key (RSASSA-PSS for RSA keys, ECDSA P-256 as `R || S` for EC keys;
/// see [`CertificateKey::sign_qr`]).
///
/// RSA-PSS and ECDSA signatures are randomized, so two calls give different links; both verify.
///
/// # Errors
///
/// As [`certificate_link_signed_text`], and [`Error::Signature`] if signing fails.
pub fn certificate_link(
    environment: QrEnvironment,
    context_type: QrContextType,
    context_value: &str,
    seller_nip: &str,
    certificate_serial: &str,
    invoice: &FileMetadata,
    key: &CertificateKey,
) -> Result<String> {
    let signed = certificate_link_signed_text(
        environment,
        context_type,
        context_value,
        seller_nip,
        certificate_serial,
        invoice,
    )?;
    let signature = key.sign_qr(signed.as_bytes())?;
    Ok(format!(
        "https://{signed}/{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn check_nip(field: &'static str, nip: &str) -> Result<()> {
    if nip.len() == 10 && nip.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidQrInput {
            field,
            reason: "must be ten digits",
        })
    }
}
