//! `/invoices`: download by KSeF number and the metadata query.

use ksef_model::types::{InvoiceMetadata, InvoiceQueryFilters, QueryInvoicesMetadataResponse};

use super::common::invoice_query::{
    check_filters, date_of, matches, metadata, permanent_storage_hwm,
};
use super::common::{Reply, Req, json};
use crate::errors::ApiError;
use crate::shared::Shared;
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
