//! `/collective-identifiers`: collective identifiers grouping invoices of one seller, and the
//! test-data certificate update.
//!
//! Rules (the spec's 2.9.0 prose): an identifier groups at least 2 invoices of one seller, at
//! most the context's `collectiveIdentifier.maxInvoices` (default 500); an invoice belongs to at
//! most [`MAX_IDENTIFIERS_PER_INVOICE`] identifiers of one context; the invoices query takes at
//! most [`MAX_NUMBERS_PER_INVOICES_QUERY`] identifier numbers. Payment details are shown only to
//! the creator or a party on the invoice.

use chrono::{DateTime, Duration, Utc};
use ksef_model::types::{
    CollectiveIdentifierInvoicesQueryRequest, CollectiveIdentifierInvoicesQueryResponse,
    CollectiveIdentifierInvoicesQueryResponseItem,
    CollectiveIdentifierInvoicesQueryResponseItemPayment,
    CollectiveIdentifiersByKsefNumberQueryResponse,
    CollectiveIdentifiersByKsefNumberQueryResponseItem, CollectiveIdentifiersQueryRequest,
    CollectiveIdentifiersQueryResponse, CollectiveIdentifiersQueryResponseItem,
    GenerateCollectiveIdentifierRequest, GenerateCollectiveIdentifierResponse,
    TestDataUpdateCertificateRequest,
};
use ksef_model::values::KsefNumber;

use super::common::subjects::COLLECTIVE_IDENTIFIER_MAX_INVOICES;
use super::common::{Reply, Req, json, random_hex};
use crate::errors::ApiError;
use crate::shared::Shared;
use crate::state::{CollectiveEntry, CollectiveRec, State};

/// Identifiers one invoice may belong to within one context.
pub(crate) const MAX_IDENTIFIERS_PER_INVOICE: usize = 132;
/// Identifier numbers one invoices query may name.
pub(crate) const MAX_NUMBERS_PER_INVOICES_QUERY: usize = 10;
/// The longest `dateCreatedFrom`..`dateCreatedTo` range of a query.
const MAX_QUERY_DAYS: i64 = 100;
/// The longest payment description.
const MAX_DESCRIPTION: usize = 512;

/// 71001: no such invoice (for this context).
fn no_invoice(ksef_number: &str) -> ApiError {
    ApiError::bad_request(
        71001,
        "Faktura o podanym identyfikatorze nie istnieje.",
        format!("Faktura o numerze KSeF {ksef_number} nie została znaleziona."),
    )
}

/// Whether `context` is a party (seller or buyer) on the invoice `ksef_number`.
fn party_on(state: &State, ksef_number: &str, context: &str) -> bool {
    state.invoices.iter().any(|i| {
        i.ksef_number == ksef_number
            && (i.facts.seller_nip == context || i.facts.buyer_nip.as_deref() == Some(context))
    })
}

/// Whether `context` sees the identifier in its lists: it generated it, or (a NIP context) it is
/// the seller (Podmiot1) of its invoices.
fn listed_for(rec: &CollectiveRec, context: &str) -> bool {
    rec.creator == context || rec.seller_nip == context
}

/// The number of a new identifier: `NIP-IZYYYYMM-<12 hex>-<CRC-8>`.
fn new_number(seller_nip: &str, now: DateTime<Utc>) -> String {
    let hex = random_hex(12);
    let head = format!("{seller_nip}-IZ{}-{hex}", now.format("%Y%m"));
    let crc = KsefNumber::crc8(head.as_bytes());
    format!("{head}-{crc:02X}")
}

/// `POST /collective-identifiers`.
pub(super) fn generate(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: GenerateCollectiveIdentifierRequest = req.json()?;
    let mut state = shared.state();
    let limit = state
        .session_limits
        .get(&claims.ctx)
        .map_or(COLLECTIVE_IDENTIFIER_MAX_INVOICES, |l| {
            l.collective_identifier.max_invoices
        });
    let count = body.invoices.len();
    if count < 2 {
        return Err(ApiError::validation(format!(
            "invoices: a collective identifier groups at least 2 invoices, {count} given."
        )));
    }
    if count > usize::try_from(limit).unwrap_or(0) {
        return Err(ApiError::validation(format!(
            "invoices: at most {limit} invoices in one collective identifier (context limit), {count} given."
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut seller: Option<String> = None;
    let mut entries = Vec::with_capacity(count);
    for (index, item) in body.invoices.iter().enumerate() {
        let number = item.ksef_number.as_str();
        if !seen.insert(number) {
            return Err(ApiError::bad_request(
                71005,
                "Powtórzony numer KSeF w żądaniu.",
                format!("Powtórzony numer KSeF {number}."),
            ));
        }
        if let Some(description) = &item.description
            && description.chars().count() > MAX_DESCRIPTION
        {
            return Err(ApiError::validation(format!(
                "invoices[{index}].description is longer than {MAX_DESCRIPTION} characters."
            )));
        }
        if let Some(payment) = &item.payment
            && !(payment.amount.is_finite() && payment.amount > 0.0)
        {
            return Err(ApiError::validation(format!(
                "invoices[{index}].payment.amount must be a positive number."
            )));
        }
        let invoice = state
            .invoices
            .iter()
            .find(|i| {
                i.ksef_number == number
                    && req.now >= i.visible_from
                    && (i.facts.seller_nip == claims.ctx
                        || i.facts.buyer_nip.as_deref() == Some(claims.ctx.as_str()))
            })
            .ok_or_else(|| no_invoice(number))?;
        match &seller {
            None => seller = Some(invoice.facts.seller_nip.clone()),
            Some(first) if *first != invoice.facts.seller_nip => {
                return Err(ApiError::bad_request(
                    71004,
                    "Faktury mają różnych sprzedawców.",
                    format!("Faktura o numerze KSeF {number} ma innego sprzedawcę."),
                ));
            }
            Some(_) => {}
        }
        let memberships = state
            .collective
            .iter()
            .filter(|r| {
                r.creator == claims.ctx && r.invoices.iter().any(|e| e.ksef_number == number)
            })
            .count();
        if memberships >= MAX_IDENTIFIERS_PER_INVOICE {
            return Err(ApiError::bad_request(
                71002,
                "Faktura jest już przypisana do maksymalnej liczby Identyfikatorów Zbiorczych.",
                format!(
                    "Faktura o numerze KSeF {number} jest już przypisana do maksymalnej liczby Identyfikatorów Zbiorczych."
                ),
            ));
        }
        entries.push(CollectiveEntry {
            ksef_number: number.to_owned(),
            payment: item
                .payment
                .as_ref()
                .map(|p| (p.amount, p.currency.as_str().to_owned())),
            description: item.description.clone(),
        });
    }
    let seller_nip = seller.unwrap_or_default();
    let number = loop {
        let candidate = new_number(&seller_nip, req.now);
        if !state.collective.iter().any(|r| r.number == candidate) {
            break candidate;
        }
    };
    state.collective.push(CollectiveRec {
        number: number.clone(),
        seller_nip,
        creator: claims.ctx.clone(),
        created: req.now,
        invoices: entries,
    });
    drop(state);
    json(201, &GenerateCollectiveIdentifierResponse::new(number))
}

/// Newest first, then by number descending.
fn sort_desc(list: &mut [&CollectiveRec]) {
    list.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| b.number.cmp(&a.number))
    });
}

/// `POST /collective-identifiers/query`.
pub(super) fn query(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: CollectiveIdentifiersQueryRequest = req.json()?;
    let from = body.date_created_from.with_timezone(&Utc);
    let to = body.date_created_to.with_timezone(&Utc);
    if to < from {
        return Err(ApiError::validation(
            "dateCreatedTo is earlier than dateCreatedFrom.",
        ));
    }
    if to - from > Duration::days(MAX_QUERY_DAYS) {
        return Err(ApiError::validation(format!(
            "dateCreatedFrom..dateCreatedTo spans more than {MAX_QUERY_DAYS} days."
        )));
    }
    let state = shared.state();
    let mut found: Vec<&CollectiveRec> = state
        .collective
        .iter()
        .filter(|r| {
            let count = i32::try_from(r.invoices.len()).unwrap_or(i32::MAX);
            listed_for(r, &claims.ctx)
                && r.created >= from
                && r.created <= to
                && body
                    .collective_identifier_number
                    .as_ref()
                    .is_none_or(|n| *n == r.number)
                && body.invoice_count_from.is_none_or(|c| count >= c)
                && body.invoice_count_to.is_none_or(|c| count <= c)
                && body
                    .created_in_current_context
                    .is_none_or(|mine| mine == (r.creator == claims.ctx))
        })
        .collect();
    sort_desc(&mut found);
    let items: Vec<CollectiveIdentifiersQueryResponseItem> = found
        .into_iter()
        .map(|r| {
            CollectiveIdentifiersQueryResponseItem::new(
                r.number.clone(),
                r.created.fixed_offset(),
                i32::try_from(r.invoices.len()).unwrap_or(i32::MAX),
                r.creator == claims.ctx,
            )
        })
        .collect();
    let (page, next) = req.page(items, 10, 200)?;
    let mut response = CollectiveIdentifiersQueryResponse::new(page);
    if let Some(next) = next {
        response = response.with_continuation_token(next);
    }
    json(200, &response)
}

/// `GET /collective-identifiers/ksef/{ksefNumber}`.
pub(super) fn by_ksef_number(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let wanted = req.param("ksefNumber");
    KsefNumber::parse_wire(wanted)
        .map_err(|e| ApiError::validation(format!("ksefNumber {wanted:?}: {e}.")))?;
    let state = shared.state();
    let party = party_on(&state, wanted, &claims.ctx);
    let mut found: Vec<&CollectiveRec> = state
        .collective
        .iter()
        .filter(|r| {
            r.invoices.iter().any(|e| e.ksef_number == wanted)
                && (party || listed_for(r, &claims.ctx))
        })
        .collect();
    sort_desc(&mut found);
    let items: Vec<CollectiveIdentifiersByKsefNumberQueryResponseItem> = found
        .into_iter()
        .map(|r| {
            CollectiveIdentifiersByKsefNumberQueryResponseItem::new(
                r.number.clone(),
                r.creator == claims.ctx,
                r.created.fixed_offset(),
            )
        })
        .collect();
    let (page, next) = req.page(items, 10, 200)?;
    let mut response = CollectiveIdentifiersByKsefNumberQueryResponse::new(page);
    if let Some(next) = next {
        response = response.with_continuation_token(next);
    }
    json(200, &response)
}

/// `POST /collective-identifiers/invoices`.
pub(super) fn invoices(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    let claims = req.caller()?;
    let body: CollectiveIdentifierInvoicesQueryRequest = req.json()?;
    let count = body.collective_identifier_numbers.len();
    if count == 0 {
        return Err(ApiError::validation(
            "collectiveIdentifierNumbers: at least one number is required.",
        ));
    }
    if count > MAX_NUMBERS_PER_INVOICES_QUERY {
        return Err(ApiError::validation(format!(
            "collectiveIdentifierNumbers: at most {MAX_NUMBERS_PER_INVOICES_QUERY} numbers, {count} given."
        )));
    }
    let state = shared.state();
    let mut items: Vec<CollectiveIdentifierInvoicesQueryResponseItem> = Vec::new();
    for rec in state
        .collective
        .iter()
        .filter(|r| body.collective_identifier_numbers.contains(&r.number))
    {
        for entry in &rec.invoices {
            let Ok(number) = KsefNumber::parse_wire(&entry.ksef_number) else {
                continue;
            };
            let has_details = entry.payment.is_some() || entry.description.is_some();
            let may_see =
                rec.creator == claims.ctx || party_on(&state, &entry.ksef_number, &claims.ctx);
            let mut item = CollectiveIdentifierInvoicesQueryResponseItem::new(
                number,
                rec.number.clone(),
                has_details && !may_see,
            );
            if may_see {
                if let Some((amount, currency)) = &entry.payment {
                    item = item.with_payment(
                        CollectiveIdentifierInvoicesQueryResponseItemPayment::new(
                            *amount,
                            currency.clone(),
                        ),
                    );
                }
                if let Some(description) = &entry.description {
                    item = item.with_description(description.clone());
                }
            }
            items.push(item);
        }
    }
    items.sort_by(|a, b| {
        b.ksef_number
            .as_str()
            .cmp(a.ksef_number.as_str())
            .then_with(|| {
                b.collective_identifier_number
                    .cmp(&a.collective_identifier_number)
            })
    });
    let (page, next) = req.page(items, 10, 500)?;
    let mut response = CollectiveIdentifierInvoicesQueryResponse::new(page);
    if let Some(next) = next {
        response = response.with_continuation_token(next);
    }
    json(200, &response)
}

/// `PUT /testdata/certificates/{serialNumber}`: moves a KSeF certificate's end of validity
/// (never later than it is).
pub(super) fn update_certificate(shared: &Shared, req: &Req) -> Result<Reply, ApiError> {
    req.caller()?;
    let serial = req.param("serialNumber");
    if serial.len() != 16
        || !serial
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return Err(ApiError::validation(format!(
            "serialNumber {serial:?} is not 16 uppercase hexadecimal digits."
        )));
    }
    let body: TestDataUpdateCertificateRequest = req.json()?;
    let valid_to = body.valid_to.with_timezone(&Utc);
    let mut state = shared.state();
    let certificate = state
        .certificates
        .iter_mut()
        .find(|c| c.serial.eq_ignore_ascii_case(serial))
        .ok_or_else(|| {
            ApiError::bad_request(
                25008,
                "Certyfikat o podanym numerze seryjnym nie istnieje.",
                format!("No certificate with serial number {serial}."),
            )
        })?;
    if valid_to > certificate.valid_to {
        return Err(ApiError::validation(format!(
            "validTo {} is later than the certificate's current end of validity {}.",
            body.valid_to.to_rfc3339(),
            certificate.valid_to.to_rfc3339()
        )));
    }
    if valid_to < certificate.valid_from {
        return Err(ApiError::validation(format!(
            "validTo {} is earlier than the certificate's start of validity {}.",
            body.valid_to.to_rfc3339(),
            certificate.valid_from.to_rfc3339()
        )));
    }
    certificate.valid_to = valid_to;
    drop(state);
    Ok(Reply::Empty(200))
}
