//! A duplicate (440) resolved to the original invoice's KSeF number: KSeF refuses an invoice whose
//! seller, type and number it already holds, and the sender's intent (that invoice in KSeF) is
//! then already met.

use chrono::{Duration, NaiveTime, TimeZone as _, Utc};
use futures_util::TryStreamExt as _;
use ksef_model::invoice_facts::{Fact, InvoiceFacts};
use ksef_model::types::{
    InvoiceMetadata, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType,
};
use ksef_model::values::{KsefNumber, Nip};

use super::InvoiceOutcome;
use crate::client::Client;
use crate::error::Error;
use crate::query::MetadataQuery;

impl Client {
    /// Turns [`InvoiceOutcome::Duplicate`] of `invoice` (the bytes that were sent) into
    /// [`InvoiceOutcome::AlreadyInKsef`] with the original's KSeF number: the one KSeF named in
    /// the status (`originalKsefNumber`), else the one invoice of the seller with the same
    /// invoice number found by a metadata query around the issue date (an invoice with the same
    /// hash is preferred when several match). When nothing identifies the original for certain,
    /// the duplicate is returned as it was; any other outcome is returned unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the metadata query fails.
    pub async fn resolve_duplicate(
        &self,
        outcome: InvoiceOutcome,
        invoice: &[u8],
    ) -> Result<InvoiceOutcome, Error> {
        let InvoiceOutcome::Duplicate {
            original_ksef_number,
            ..
        } = &outcome
        else {
            return Ok(outcome);
        };
        if let Some(ksef_number) = original_ksef_number
            .as_deref()
            .and_then(|n| n.parse::<KsefNumber>().ok())
        {
            return Ok(InvoiceOutcome::AlreadyInKsef { ksef_number });
        }
        Ok(match self.find_original(invoice).await? {
            Some(ksef_number) => InvoiceOutcome::AlreadyInKsef { ksef_number },
            None => outcome,
        })
    }

    /// The KSeF number of the invoice KSeF holds with `invoice`'s seller and number, by a
    /// metadata query (as the seller, `Subject1`) over the days around its issue date: an
    /// invoice with the same hash is preferred when several match, and `None` means nothing
    /// identifies it for certain (or the file lacks the seller, number or issue date). Also how
    /// a sender that lost track of an invoice (no session to look in) finds out whether KSeF
    /// already has it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] if the metadata query fails.
    pub async fn find_original(&self, invoice: &[u8]) -> Result<Option<KsefNumber>, Error> {
        let Ok(facts) = InvoiceFacts::read(invoice) else {
            return Ok(None);
        };
        let (Ok(seller), Ok(number), Ok(issued)) = (
            facts.required(Fact::SellerNip),
            facts.required(Fact::InvoiceNumber),
            facts.issue_date(),
        ) else {
            return Ok(None);
        };
        let Ok(seller) = seller.parse::<Nip>() else {
            return Ok(None);
        };
        // A day either side of the issue date: time zones differ between the file and KSeF.
        let day = Utc.from_utc_datetime(&issued.and_time(NaiveTime::MIN));
        let from = (day - Duration::days(1)).fixed_offset();
        let to = (day + Duration::days(2)).fixed_offset();
        let filters = InvoiceQueryFilters::new(
            InvoiceQuerySubjectType::Subject1,
            InvoiceQueryDateRange::new(InvoiceQueryDateType::Issue, from).with_to(to),
        )
        .with_seller_nip(seller)
        .with_invoice_number(number);
        let found: Vec<InvoiceMetadata> = self
            .invoice_metadata(MetadataQuery::new(filters))
            .try_collect()
            .await?;
        let matching: Vec<&InvoiceMetadata> = found
            .iter()
            .filter(|m| m.invoice_number == number)
            .collect();
        let hash = ksef_crypto::file_metadata(invoice).sha256_base64();
        if let Some(same) = matching.iter().find(|m| m.invoice_hash.0 == hash) {
            return Ok(Some(same.ksef_number.clone()));
        }
        Ok(match matching.as_slice() {
            [only] => Some(only.ksef_number.clone()),
            _ => None,
        })
    }
}
