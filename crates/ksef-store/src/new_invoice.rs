//! An invoice checked before it is stored: the offline validator's verdict, the facts the
//! outbox is keyed on (seller NIP, number, hash) and how it is to be sent.

use std::fmt;

use ksef_model::invoice_facts::{Fact, InvoiceFacts};
use ksef_model::validate::{BusinessOptions, Schema, validate_with_business};

use crate::error::Error;

/// How an invoice is to be sent (stored with it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvoiceOptions {
    /// Issued in an offline mode (`offlineMode: true`).
    pub offline: bool,
    /// The technical correction of the rejected offline invoice with this SHA-256 (base64).
    pub corrected_invoice_hash: Option<String>,
}

impl InvoiceOptions {
    /// An ordinary online invoice.
    pub fn online() -> InvoiceOptions {
        InvoiceOptions::default()
    }

    /// An invoice issued in an offline mode.
    pub fn offline() -> InvoiceOptions {
        InvoiceOptions {
            offline: true,
            corrected_invoice_hash: None,
        }
    }

    /// The technical correction of the offline invoice whose file had SHA-256 `hash` (base64).
    pub fn technical_correction(hash: impl Into<String>) -> InvoiceOptions {
        InvoiceOptions {
            offline: true,
            corrected_invoice_hash: Some(hash.into()),
        }
    }
}

/// An invoice checked and ready to be stored ([`NewInvoice::check`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NewInvoice {
    pub(crate) seller_nip: String,
    pub(crate) invoice_number: String,
    pub(crate) invoice_hash: String,
    pub(crate) form_code: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) options: InvoiceOptions,
}

impl fmt::Debug for NewInvoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewInvoice")
            .field("seller_nip", &self.seller_nip)
            .field("invoice_number", &self.invoice_number)
            .field("invoice_hash", &self.invoice_hash)
            .field("form_code", &self.form_code)
            .field("bytes", &self.bytes.len())
            .field("options", &self.options)
            .finish()
    }
}

impl NewInvoice {
    /// Checks `bytes` as ksef-model's offline validator does (its schema, then the business rules
    /// that need no session: check digits, the issue date not in the future, the size limit)
    /// and reads the seller's NIP and the invoice number. `name` names the invoice in errors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInvoice`] naming the first findings, or the element that is missing.
    pub fn check(name: &str, bytes: Vec<u8>, options: InvoiceOptions) -> Result<NewInvoice, Error> {
        let refuse = |reason: String| Error::InvalidInvoice {
            name: name.to_owned(),
            reason,
        };
        let today = chrono::Utc::now().date_naive();
        let (report, business) =
            validate_with_business(&bytes, &BusinessOptions::default().with_today(today))
                .map_err(|e| refuse(e.to_string()))?;
        let mut violations = report.violations;
        violations.extend(business);
        if !violations.is_empty() {
            let shown: Vec<String> = violations.iter().take(3).map(|v| v.to_string()).collect();
            let more = violations.len().saturating_sub(shown.len());
            let mut reason = format!(
                "not a valid {} invoice: {}",
                report.schema,
                shown.join("; ")
            );
            if more > 0 {
                reason.push_str(&format!(" (and {more} more)"));
            }
            return Err(refuse(reason));
        }
        let form_code = match report.schema {
            Schema::Fa3 => "FA3",
            Schema::Fa2 => "FA2",
            Schema::FaRr1 => "FA_RR1",
            other => return Err(refuse(format!("schema {other} cannot be sent online"))),
        };
        let facts = InvoiceFacts::read(&bytes).map_err(|e| refuse(e.to_string()))?;
        let seller_nip = facts
            .required(Fact::SellerNip)
            .map_err(|e| refuse(e.to_string()))?
            .to_owned();
        let invoice_number = facts
            .required(Fact::InvoiceNumber)
            .map_err(|e| refuse(e.to_string()))?
            .to_owned();
        if let Some(hash) = &options.corrected_invoice_hash {
            ksef_client::SendOptions::technical_correction(hash.clone())
                .map_err(|e| refuse(format!("hashOfCorrectedInvoice: {e}")))?;
        }
        let invoice_hash = ksef_crypto::file_metadata(&bytes).sha256_base64();
        Ok(NewInvoice {
            seller_nip,
            invoice_number,
            invoice_hash,
            form_code,
            bytes,
            options,
        })
    }

    /// The seller's NIP (`Podmiot1`).
    pub fn seller_nip(&self) -> &str {
        &self.seller_nip
    }

    /// The invoice number (`P_2`).
    pub fn invoice_number(&self) -> &str {
        &self.invoice_number
    }

    /// SHA-256 (base64) of the bytes, as KSeF lists it.
    pub fn invoice_hash(&self) -> &str {
        &self.invoice_hash
    }

    /// What the check found, without the bytes (to check many files first and store them
    /// after, with one file in memory at a time): [`CheckedInvoice::with_bytes`] takes them
    /// back.
    pub fn without_bytes(self) -> CheckedInvoice {
        CheckedInvoice {
            invoice: NewInvoice {
                bytes: Vec::new(),
                ..self
            },
        }
    }
}

/// A checked invoice without its bytes ([`NewInvoice::without_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedInvoice {
    invoice: NewInvoice,
}

impl CheckedInvoice {
    /// The checked invoice again, with `bytes`: they must be the bytes that were checked (the
    /// same SHA-256); nothing is validated again.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInvoice`] when the bytes are not the ones checked.
    pub fn with_bytes(self, bytes: Vec<u8>) -> Result<NewInvoice, Error> {
        let hash = ksef_crypto::file_metadata(&bytes).sha256_base64();
        if hash != self.invoice.invoice_hash {
            return Err(Error::InvalidInvoice {
                name: self.invoice.invoice_number.clone(),
                reason: format!(
                    "the file changed since it was checked (SHA-256 {hash}, checked {})",
                    self.invoice.invoice_hash
                ),
            });
        }
        Ok(NewInvoice {
            bytes,
            ..self.invoice
        })
    }

    /// The seller's NIP (`Podmiot1`).
    pub fn seller_nip(&self) -> &str {
        &self.invoice.seller_nip
    }

    /// The invoice number (`P_2`).
    pub fn invoice_number(&self) -> &str {
        &self.invoice.invoice_number
    }
}
