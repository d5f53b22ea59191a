//! Collective identifiers (API 2.9.0): generating one for several invoices of one seller, the
//! paged queries, and the invoices of up to ten identifiers.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt as _;
use futures_util::stream;
use ksef_model::operations::{
    GenerateCollectiveIdentifier, GetCollectiveIdentifiersByKsefNumber,
    QueryCollectiveIdentifierInvoices, QueryCollectiveIdentifiers,
};
use ksef_model::types::{
    CollectiveIdentifierInvoice, CollectiveIdentifierInvoicesQueryRequest,
    CollectiveIdentifierInvoicesQueryResponseItem,
    CollectiveIdentifiersByKsefNumberQueryResponseItem, CollectiveIdentifiersQueryRequest,
    CollectiveIdentifiersQueryResponseItem, GenerateCollectiveIdentifierRequest,
};
use ksef_model::values::KsefNumber;

use crate::client::Client;
use crate::error::Error;

/// The fewest invoices one collective identifier groups.
pub const MIN_INVOICES: usize = 2;
/// The most identifier numbers one invoices query may name.
pub const MAX_NUMBERS_PER_INVOICES_QUERY: usize = 10;
/// The longest payment description.
pub const MAX_DESCRIPTION_CHARS: usize = 512;
/// The page sizes KSeF accepts for the identifier lists (the invoices list takes up to 500).
const LIST_PAGE_SIZE: (i32, i32) = (10, 200);
const INVOICES_PAGE_SIZE: (i32, i32) = (10, 500);

/// The collective identifiers matching a query, one at a time, paging on its own (see
/// [`Client::collective_identifiers_stream`]).
pub struct CollectiveIdentifierStream {
    inner:
        Pin<Box<dyn Stream<Item = Result<CollectiveIdentifiersQueryResponseItem, Error>> + Send>>,
}

impl fmt::Debug for CollectiveIdentifierStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectiveIdentifierStream")
            .finish_non_exhaustive()
    }
}

impl Stream for CollectiveIdentifierStream {
    type Item = Result<CollectiveIdentifiersQueryResponseItem, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The next continuation token, or `None` when the page was the last.
fn next_token(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty())
}

impl Client {
    /// Generates a collective identifier for `invoices` (KSeF numbers of one seller, each with
    /// optional payment details and description) and returns its number.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] before anything is sent: fewer than [`MIN_INVOICES`] invoices,
    /// a KSeF number given twice, a description longer than [`MAX_DESCRIPTION_CHARS`], a payment
    /// amount that is not positive. [`Error::Transport`] with KSeF's refusal (71001 unknown
    /// invoice, 71002 invoice in too many identifiers, 71004 different sellers, 71005 repeated
    /// number, 21405 more invoices than the context's limit, 403 without `InvoiceRead`,
    /// `InvoiceWrite` or `CollectiveIdentifierManage`).
    pub async fn generate_collective_identifier(
        &self,
        invoices: Vec<CollectiveIdentifierInvoice>,
    ) -> Result<String, Error> {
        if invoices.len() < MIN_INVOICES {
            return Err(Error::InvalidRequest {
                field: "invoices",
                reason: format!(
                    "a collective identifier groups at least {MIN_INVOICES} invoices, {} given",
                    invoices.len()
                ),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for (index, invoice) in invoices.iter().enumerate() {
            if !seen.insert(invoice.ksef_number.as_str()) {
                return Err(Error::InvalidRequest {
                    field: "invoices",
                    reason: format!(
                        "KSeF number {} is given twice (item {index})",
                        invoice.ksef_number
                    ),
                });
            }
            if let Some(description) = &invoice.description
                && description.chars().count() > MAX_DESCRIPTION_CHARS
            {
                return Err(Error::InvalidRequest {
                    field: "description",
                    reason: format!(
                        "item {index} has a description longer than {MAX_DESCRIPTION_CHARS} characters"
                    ),
                });
            }
            if let Some(payment) = &invoice.payment
                && !(payment.amount.is_finite() && payment.amount > 0.0)
            {
                return Err(Error::InvalidRequest {
                    field: "amount",
                    reason: format!("item {index} has a payment amount that is not positive"),
                });
            }
        }
        let response = self
            .execute(&GenerateCollectiveIdentifier::new(
                GenerateCollectiveIdentifierRequest::new(invoices),
            ))
            .await?;
        Ok(response.collective_identifier_number)
    }

    /// Streams the collective identifiers of the current context matching `query` (newest first),
    /// following the continuation tokens; `page_size` is clamped to KSeF's 10 to 200. The stream
    /// ends after the first error.
    pub fn collective_identifiers_stream(
        &self,
        query: CollectiveIdentifiersQueryRequest,
        page_size: i32,
    ) -> CollectiveIdentifierStream {
        let page_size = page_size.clamp(LIST_PAGE_SIZE.0, LIST_PAGE_SIZE.1);
        let client = self.clone();
        // State: the client, the token of the next page, and whether paging is over.
        let pages = stream::unfold(
            (client, None::<String>, false),
            move |(client, token, done)| {
                let query = query.clone();
                async move {
                    if done {
                        return None;
                    }
                    let mut operation =
                        QueryCollectiveIdentifiers::new(query).with_page_size(page_size);
                    if let Some(token) = token {
                        operation = operation.with_continuation_token(token);
                    }
                    match client.execute(&operation).await {
                        Ok(page) => {
                            let next = next_token(page.continuation_token);
                            let last = next.is_none();
                            let items: Vec<_> =
                                page.collective_identifiers.into_iter().map(Ok).collect();
                            Some((stream::iter(items), (client, next, last)))
                        }
                        Err(error) => Some((stream::iter(vec![Err(error)]), (client, None, true))),
                    }
                }
            },
        );
        CollectiveIdentifierStream {
            inner: Box::pin(pages.flatten()),
        }
    }

    /// Every collective identifier the invoice `ksef_number` belongs to that the current
    /// context may see (all pages, newest first).
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] with what KSeF reported.
    pub async fn collective_identifiers_of(
        &self,
        ksef_number: &KsefNumber,
    ) -> Result<Vec<CollectiveIdentifiersByKsefNumberQueryResponseItem>, Error> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut operation = GetCollectiveIdentifiersByKsefNumber::new(ksef_number.clone())
                .with_page_size(LIST_PAGE_SIZE.1);
            if let Some(token) = token.take() {
                operation = operation.with_continuation_token(token);
            }
            let page = self.execute(&operation).await?;
            all.extend(page.collective_identifiers);
            match next_token(page.continuation_token) {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// The invoices of up to [`MAX_NUMBERS_PER_INVOICES_QUERY`] collective identifiers (all
    /// pages, by KSeF number descending), each naming its identifier. Payment details come only
    /// to the identifier's creator and the parties on the invoice; others get `detailsHidden`.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyCollectiveIdentifiers`] naming the count when `numbers` has more than
    /// [`MAX_NUMBERS_PER_INVOICES_QUERY`] entries, [`Error::InvalidRequest`] when it is empty
    /// (nothing is sent in either case); [`Error::Transport`] with what KSeF reported.
    pub async fn collective_identifier_invoices(
        &self,
        numbers: &[String],
    ) -> Result<Vec<CollectiveIdentifierInvoicesQueryResponseItem>, Error> {
        if numbers.len() > MAX_NUMBERS_PER_INVOICES_QUERY {
            return Err(Error::TooManyCollectiveIdentifiers {
                count: numbers.len(),
                max: MAX_NUMBERS_PER_INVOICES_QUERY,
            });
        }
        if numbers.is_empty() {
            return Err(Error::InvalidRequest {
                field: "collectiveIdentifierNumbers",
                reason: "at least one identifier number is required".to_owned(),
            });
        }
        let request = CollectiveIdentifierInvoicesQueryRequest::new(numbers.to_vec());
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut operation = QueryCollectiveIdentifierInvoices::new(request.clone())
                .with_page_size(INVOICES_PAGE_SIZE.1);
            if let Some(token) = token.take() {
                operation = operation.with_continuation_token(token);
            }
            let page = self.execute(&operation).await?;
            all.extend(page.invoices);
            match next_token(page.continuation_token) {
                Some(next) => token = Some(next),
                None => return Ok(all),
            }
        }
    }
}
