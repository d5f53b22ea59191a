//! `/invoices`: download by KSeF number and the metadata query.

use chrono::{DateTime, Utc};
use ksef_model::types::{
    AmountType, BuyerIdentifierType, InvoiceMetadata, InvoiceMetadataBuyer,
    InvoiceMetadataBuyerIdentifier, InvoiceMetadataParams, InvoiceMetadataSeller,
    InvoiceQueryDateType, InvoiceQueryFilters, InvoiceQueryFormType, InvoiceQuerySubjectType,
    InvoiceType, InvoicingMode, QueryInvoicesMetadataResponse,
};
use ksef_model::values::IdentifierError;

use super::{Reply, Req, internal, json};
use crate::errors::ApiError;
use crate::invoice_xml::FormKind;
use crate::server::Shared;
use crate::state::StoredInvoice;

/// Records a filter set can reach before the result is truncated.
const QUERY_CAP: usize = 10_000;

/// `GET /invoices/ksef/{ksefNumber}`: the invoice exactly as it was sent.
pub(super) fn download(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let wanted = req.param("ksefNumber");
    let state = shared.state();
    let invoice = state
        .invoices
        .iter()
        .find(|i| {
            i.ksef_number == wanted
                && (i.facts.seller_nip == claims.ctx
                    || i.facts.buyer_nip.as_deref() == Some(claims.ctx.as_str()))
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                21164,
                "Faktura o podanym identyfikatorze nie istnieje.",
                format!("Faktura o numerze KSeF {wanted} nie została znaleziona."),
            )
        })?;
    if req.now < invoice.visible_from {
        return Err(ApiError::bad_request(
            21165,
            "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.",
            format!("Faktura o numerze KSeF {wanted} jest w trakcie przetwarzania."),
        ));
    }
    Ok(Reply::Xml(invoice.xml.clone()))
}

/// The spec's `InvoiceType` of a `RodzajFaktury`.
fn invoice_type(kind: &str) -> InvoiceType {
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

fn query_form(form: FormKind) -> InvoiceQueryFormType {
    match form {
        FormKind::Fa2 | FormKind::Fa3 => InvoiceQueryFormType::Fa,
        FormKind::FaRr1 => InvoiceQueryFormType::FaRr,
    }
}

/// The date an invoice is filtered and sorted by.
pub(super) fn date_of(invoice: &StoredInvoice, date_type: &InvoiceQueryDateType) -> DateTime<Utc> {
    match date_type {
        InvoiceQueryDateType::Issue => invoice
            .issue_date
            .and_hms_opt(0, 0, 0)
            .map_or(invoice.invoicing_date, |d| d.and_utc()),
        InvoiceQueryDateType::PermanentStorage => invoice.permanent_storage_date,
        _ => invoice.invoicing_date,
    }
}

pub(super) fn matches(
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

pub(super) fn metadata(invoice: &StoredInvoice) -> Result<InvoiceMetadata, ApiError> {
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
pub(super) struct Window {
    pub(super) from: DateTime<Utc>,
    /// The end of the window (`now` when omitted; capped at the HWM when restricted to it).
    pub(super) to: DateTime<Utc>,
    /// Whether the filter is on the permanent-storage date.
    pub(super) storage: bool,
    /// Whether `restrictToPermanentStorageHwmDate` applies and `from` is past the HWM.
    pub(super) beyond_hwm: bool,
}

/// Validates the date range of `filters` (100 days at most in UTC, known date type, `from <= to`) and
/// applies the HWM restriction; 21183 when `from` is later than the HWM under the restriction.
pub(super) fn check_filters(
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
pub(super) fn window(
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

/// `POST /invoices/query/metadata`.
pub(super) fn query_metadata(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let filters: InvoiceQueryFilters = req.json()?;
    let ascending = match req.query("sortOrder") {
        None | Some("Asc") => true,
        Some("Desc") => false,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "sortOrder {other} is not Asc or Desc."
            )));
        }
    };
    // `pageOffset` is a page index (0 = the first page), not a number of records to skip.
    let page_index =
        usize::try_from(req.query_int("pageOffset", 0, 0, i64::from(i32::MAX))?).unwrap_or(0);
    let size = usize::try_from(req.query_int("pageSize", 10, 10, 250)?).unwrap_or(10);
    let offset = page_index.saturating_mul(size);
    let now = req.now;
    let range = &filters.date_range;
    let state = shared.state();
    let hwm = permanent_storage_hwm(&state.invoices, now);
    let window = check_filters(&filters, now, hwm)?;
    let storage = window.storage;
    let (from, to) = (window.from, window.to);
    let mut found: Vec<&StoredInvoice> = state
        .invoices
        .iter()
        .filter(|i| now >= i.visible_from && matches(i, &filters, &claims.ctx, from, to))
        .collect();
    found.sort_by(|a, b| {
        date_of(a, &range.date_type)
            .cmp(&date_of(b, &range.date_type))
            .then_with(|| a.ksef_number.cmp(&b.ksef_number))
    });
    if !ascending {
        found.reverse();
    }
    let reachable = found.len().min(QUERY_CAP);
    let page: Vec<InvoiceMetadata> = found[..reachable]
        .iter()
        .skip(offset)
        .take(size)
        .map(|i| metadata(i))
        .collect::<Result<_, _>>()?;
    let total = found.len();
    drop(state);
    let end = offset.saturating_add(size);
    let has_more = end < total;
    let is_truncated = has_more && end >= QUERY_CAP;
    let mut body = QueryInvoicesMetadataResponse::new(has_more, is_truncated, page);
    body.permanent_storage_hwm_date = storage.then(|| hwm.fixed_offset());
    json(200, &body)
}
