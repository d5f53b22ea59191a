//! Invoice queries, shared by the metadata query and exports: date windows, filters, and the
//! metadata of a stored invoice.

use chrono::{DateTime, Utc};
use ksef_model::types::{
    AmountType, BuyerIdentifierType, InvoiceMetadata, InvoiceMetadataBuyer,
    InvoiceMetadataBuyerIdentifier, InvoiceMetadataParams, InvoiceMetadataSeller,
    InvoiceQueryDateType, InvoiceQueryFilters, InvoiceQueryFormType, InvoiceQuerySubjectType,
    InvoiceType, InvoicingMode,
};
use ksef_model::values::IdentifierError;

use super::internal;
use crate::errors::ApiError;
use crate::invoice_xml::FormKind;
use crate::state::StoredInvoice;

/// The spec's `InvoiceType` of a `RodzajFaktury`.
pub(crate) fn invoice_type(kind: &str) -> InvoiceType {
    match kind {
        "VAT" => InvoiceType::Vat,
        "ZAL" => InvoiceType::Zal,
        "KOR" => InvoiceType::Kor,
        "ROZ" => InvoiceType::Roz,
        "UPR" => InvoiceType::Upr,
        "KOR_ZAL" => InvoiceType::KorZal,
        "KOR_ROZ" => InvoiceType::KorRoz,
        "VAT_RR" => InvoiceType::VatRr,
        "KOR_VAT_RR" => InvoiceType::KorVatRr,
        other => InvoiceType::from(other),
    }
}

pub(crate) fn query_form(form: FormKind) -> InvoiceQueryFormType {
    match form {
        FormKind::Fa2 | FormKind::Fa3 => InvoiceQueryFormType::Fa,
        FormKind::FaRr1 => InvoiceQueryFormType::FaRr,
    }
}

/// The date an invoice is filtered and sorted by.
pub(crate) fn date_of(invoice: &StoredInvoice, date_type: &InvoiceQueryDateType) -> DateTime<Utc> {
    match date_type {
        InvoiceQueryDateType::Issue => invoice
            .issue_date
            .and_hms_opt(0, 0, 0)
            .map_or(invoice.invoicing_date, |d| d.and_utc()),
        InvoiceQueryDateType::PermanentStorage => invoice.permanent_storage_date,
        _ => invoice.invoicing_date,
    }
}

pub(crate) fn matches(
    invoice: &StoredInvoice,
    filters: &InvoiceQueryFilters,
    context: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    let facts = &invoice.facts;
    let subject = match filters.subject_type {
        InvoiceQuerySubjectType::Subject1 => facts.seller_nip == context,
        InvoiceQuerySubjectType::Subject2 => facts.buyer_nip.as_deref() == Some(context),
        // Third subjects and authorised subjects are not read from invoices yet.
        _ => false,
    };
    let date = date_of(invoice, &filters.date_range.date_type);
    let in_range = match filters.date_range.date_type {
        InvoiceQueryDateType::Issue => {
            invoice.issue_date >= from.date_naive() && invoice.issue_date <= to.date_naive()
        }
        _ => date >= from && date <= to,
    };
    let amount_ok = filters.amount.as_ref().is_none_or(|amount| {
        let value = match amount.r#type {
            AmountType::Netto => facts.net,
            AmountType::Vat => facts.vat,
            _ => facts.gross,
        };
        amount.from.is_none_or(|f| value >= f) && amount.to.is_none_or(|t| value <= t)
    });
    let mode = if invoice.offline {
        InvoicingMode::Offline
    } else {
        InvoicingMode::Online
    };
    subject
        && in_range
        && amount_ok
        && filters
            .ksef_number
            .as_ref()
            .is_none_or(|k| k.as_str() == invoice.ksef_number)
        && filters
            .invoice_number
            .as_ref()
            .is_none_or(|n| *n == facts.invoice_number)
        && filters
            .seller_nip
            .as_ref()
            .is_none_or(|n| n.as_str() == facts.seller_nip)
        && filters
            .buyer_identifier
            .as_ref()
            .is_none_or(|b| match b.r#type {
                BuyerIdentifierType::Nip => b.value.as_deref() == facts.buyer_nip.as_deref(),
                BuyerIdentifierType::None => facts.buyer_nip.is_none(),
                _ => false,
            })
        && filters
            .currency_codes
            .as_ref()
            .is_none_or(|c| c.is_empty() || c.iter().any(|c| c.as_str() == facts.currency))
        && filters.invoicing_mode.as_ref().is_none_or(|m| *m == mode)
        && filters.is_self_invoicing.is_none_or(|s| !s)
        && filters
            .form_type
            .as_ref()
            .is_none_or(|f| *f == query_form(invoice.form))
        && filters
            .invoice_types
            .as_ref()
            .is_none_or(|t| t.is_empty() || t.contains(&invoice_type(&facts.invoice_type)))
        && filters
            .has_attachment
            .is_none_or(|h| h == facts.has_attachment)
}

pub(crate) fn metadata(invoice: &StoredInvoice) -> Result<InvoiceMetadata, ApiError> {
    let facts = &invoice.facts;
    let mut seller = InvoiceMetadataSeller::new(
        facts
            .seller_nip
            .parse::<ksef_model::values::Nip>()
            .map_err(|e: IdentifierError| internal(e))?,
    );
    seller.name = facts.seller_name.clone();
    let identifier = match &facts.buyer_nip {
        Some(nip) => {
            let mut id = InvoiceMetadataBuyerIdentifier::new(BuyerIdentifierType::Nip);
            id.value = Some(nip.clone());
            id
        }
        None => InvoiceMetadataBuyerIdentifier::new(BuyerIdentifierType::None),
    };
    let mut buyer = InvoiceMetadataBuyer::new(identifier);
    buyer.name = facts.buyer_name.clone();
    let mut metadata = InvoiceMetadata::new(InvoiceMetadataParams {
        ksef_number: invoice
            .ksef_number
            .parse::<ksef_model::values::KsefNumber>()
            .map_err(|e: IdentifierError| internal(e))?,
        invoice_number: facts.invoice_number.clone(),
        issue_date: invoice.issue_date,
        invoicing_date: invoice.invoicing_date.fixed_offset(),
        acquisition_date: invoice.acquisition_date.fixed_offset(),
        permanent_storage_date: invoice.permanent_storage_date.fixed_offset(),
        seller,
        buyer,
        net_amount: facts.net,
        gross_amount: facts.gross,
        vat_amount: facts.vat,
        currency: facts.currency.clone(),
        invoicing_mode: if invoice.offline {
            InvoicingMode::Offline
        } else {
            InvoicingMode::Online
        },
        invoice_type: invoice_type(&facts.invoice_type),
        form_code: invoice.form.form_code(),
        is_self_invoicing: false,
        has_attachment: facts.has_attachment,
        invoice_hash: invoice.hash.as_str().into(),
    });
    metadata.hash_of_corrected_invoice =
        invoice.hash_of_corrected_invoice.as_deref().map(Into::into);
    Ok(metadata)
}

/// The instant up to which the set of invoices with a permanent-storage date at or before it is
/// final: just before the earliest permanent-storage date of an invoice still being processed
/// (not visible yet), and never after `now`.
pub(crate) fn permanent_storage_hwm(
    invoices: &[StoredInvoice],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    invoices
        .iter()
        .filter(|i| now < i.visible_from)
        .map(|i| i.permanent_storage_date - chrono::Duration::microseconds(1))
        .fold(now, DateTime::min)
}

/// The longest date range of an invoice query or export, in days (UTC).
pub(crate) const MAX_DATE_RANGE_DAYS: i64 = 100;

/// The date window of a filter set, checked.
pub(crate) struct Window {
    pub(crate) from: DateTime<Utc>,
    /// The end of the window (`now` when omitted; capped at the HWM when restricted to it).
    pub(crate) to: DateTime<Utc>,
    /// Whether the filter is on the permanent-storage date.
    pub(crate) storage: bool,
    /// Whether `restrictToPermanentStorageHwmDate` applies and `from` is past the HWM.
    pub(crate) beyond_hwm: bool,
}

/// Validates the date range of `filters` (100 days at most in UTC, known date type, `from <= to`) and
/// applies the HWM restriction; 21183 when `from` is later than the HWM under the restriction.
pub(crate) fn check_filters(
    filters: &InvoiceQueryFilters,
    now: DateTime<Utc>,
    hwm: DateTime<Utc>,
) -> Result<Window, ApiError> {
    let window = window(filters, now, hwm)?;
    if window.beyond_hwm {
        return Err(ApiError::bad_request(
            21183,
            "Zakres filtrowania wykracza poza dostępny zakres danych.",
            "Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate.",
        ));
    }
    Ok(window)
}

/// [`check_filters`] without the 21183 refusal (exports report it as status 420).
pub(crate) fn window(
    filters: &InvoiceQueryFilters,
    now: DateTime<Utc>,
    hwm: DateTime<Utc>,
) -> Result<Window, ApiError> {
    let range = &filters.date_range;
    if !range.date_type.is_known() {
        return Err(ApiError::validation(
            "dateRange.dateType must be Issue, Invoicing or PermanentStorage.",
        ));
    }
    if !filters.subject_type.is_known() {
        return Err(ApiError::validation(
            "subjectType must be Subject1, Subject2, Subject3 or SubjectAuthorized.",
        ));
    }
    let from = range.from.with_timezone(&Utc);
    let mut to = range.to.map_or(now, |t| t.with_timezone(&Utc));
    if to < from {
        return Err(ApiError::validation(
            "dateRange.to is earlier than dateRange.from.",
        ));
    }
    // API 2.9.0: at most 100 days, counted in UTC (2.6.0 allowed three months).
    if to - from > chrono::TimeDelta::days(MAX_DATE_RANGE_DAYS) {
        return Err(ApiError::validation(format!(
            "dateRange spans more than {MAX_DATE_RANGE_DAYS} days (UTC)."
        )));
    }
    let storage = range.date_type == InvoiceQueryDateType::PermanentStorage;
    let restricted = storage && range.restrict_to_permanent_storage_hwm_date == Some(true);
    if restricted {
        to = to.min(hwm);
    }
    Ok(Window {
        from,
        to,
        storage,
        beyond_hwm: restricted && from > hwm,
    })
}
