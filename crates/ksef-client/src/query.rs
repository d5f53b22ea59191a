//! Invoice retrieval: the self-paging metadata stream and single downloads.

use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone as _};
use futures_core::Stream;
use futures_util::StreamExt as _;
use futures_util::stream;
use ksef_model::operations::{DownloadInvoice, QueryInvoiceMetadata};
use ksef_model::types::{
    InvoiceMetadata, InvoiceQueryDateType, InvoiceQueryFilters, QueryInvoicesMetadataResponse,
    SortOrder,
};
use ksef_model::values::KsefNumber;

use crate::client::Client;
use crate::error::Error;

/// The smallest and largest page size KSeF accepts for metadata queries.
const PAGE_SIZE_RANGE: (i32, i32) = (10, 250);

/// The longest date range, in days, KSeF accepts in an invoice metadata query or export, counted
/// in UTC (API 2.9.0; 2.6.0 allowed three months).
pub const MAX_DATE_RANGE_DAYS: i64 = 100;

/// Refuses, before anything is sent, a date range KSeF would refuse: `to` earlier than `from`,
/// or `to` (now when absent) more than [`MAX_DATE_RANGE_DAYS`] days after `from`, both instants
/// compared in UTC whatever offsets they carry.
///
/// # Errors
///
/// [`Error::InvalidRequest`] naming `dateRange.to` and both instants in UTC.
pub fn check_date_range(
    filters: &InvoiceQueryFilters,
    now: DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let range = &filters.date_range;
    let from = range.from.with_timezone(&chrono::Utc);
    let to = range.to.map_or(now, |t| t.with_timezone(&chrono::Utc));
    if to < from {
        return Err(Error::InvalidRequest {
            field: "dateRange.to",
            reason: format!("{to:?} is earlier than dateRange.from {from:?} (UTC)"),
        });
    }
    if to - from > chrono::TimeDelta::days(MAX_DATE_RANGE_DAYS) {
        return Err(Error::InvalidRequest {
            field: "dateRange.to",
            reason: format!(
                "the range {from:?} .. {to:?} (UTC{}) is longer than KSeF's {MAX_DATE_RANGE_DAYS} days",
                if range.to.is_none() { ", to = now" } else { "" }
            ),
        });
    }
    Ok(())
}

/// Options of [`Client::invoice_metadata`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetadataQuery {
    filters: InvoiceQueryFilters,
    sort_order: SortOrder,
    page_size: i32,
}

impl MetadataQuery {
    /// A query with `filters`, ascending by the filter's date type, 250 records per page.
    pub fn new(filters: InvoiceQueryFilters) -> Self {
        MetadataQuery {
            filters,
            sort_order: SortOrder::Asc,
            page_size: PAGE_SIZE_RANGE.1,
        }
    }

    /// The sort order (by the date the filter's `dateType` names).
    pub fn with_sort_order(mut self, sort_order: SortOrder) -> Self {
        self.sort_order = sort_order;
        self
    }

    /// Records per page, clamped to KSeF's 10 to 250.
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size.clamp(PAGE_SIZE_RANGE.0, PAGE_SIZE_RANGE.1);
        self
    }
}

/// The paging state: which page to ask for next, and what to skip after the date range was
/// narrowed.
#[derive(Debug)]
pub(crate) struct Pager {
    query: MetadataQuery,
    page_offset: i32,
    /// `permanentStorageHwmDate` of the first page (constant across the pages of one query).
    hwm: Option<DateTime<FixedOffset>>,
    /// How many times the date range was narrowed after a truncated page.
    narrowed: u32,
    /// The most advanced record date seen (in sort direction), and the KSeF numbers seen with it.
    boundary: Option<(DateTime<FixedOffset>, HashSet<KsefNumber>)>,
    /// Records already returned that a narrowed range returns again.
    skip: HashSet<KsefNumber>,
    done: bool,
}

impl Pager {
    pub(crate) fn new(query: MetadataQuery) -> Self {
        Pager {
            query,
            page_offset: 0,
            hwm: None,
            narrowed: 0,
            boundary: None,
            skip: HashSet::new(),
            done: false,
        }
    }

    fn descending(&self) -> bool {
        self.query.sort_order == SortOrder::Desc
    }

    /// Whether the last page was the last one.
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    /// The high-water mark reported by the first page, if any.
    pub(crate) fn hwm(&self) -> Option<DateTime<FixedOffset>> {
        self.hwm
    }

    /// How many times the range was narrowed, and the current start (ascending) of the range.
    pub(crate) fn narrowing(&self) -> (u32, DateTime<FixedOffset>) {
        (self.narrowed, self.query.filters.date_range.from)
    }

    pub(crate) fn request(&self) -> QueryInvoiceMetadata {
        QueryInvoiceMetadata::new(self.query.filters.clone())
            .with_sort_order(self.query.sort_order.clone())
            .with_page_offset(self.page_offset)
            .with_page_size(self.query.page_size)
    }

    /// The record's date by the filter's date type: what the server sorts and filters by.
    fn date_of(&self, record: &InvoiceMetadata) -> DateTime<FixedOffset> {
        match self.query.filters.date_range.date_type {
            InvoiceQueryDateType::Issue => {
                // The issue date is a calendar day; midnight at UTC+2 (Warsaw summer time) is not
                // later than the day's start in Warsaw, so the narrowed range still includes it.
                // Invariant: two hours is well within the ±24 h a FixedOffset allows.
                let offset = FixedOffset::east_opt(2 * 3600).expect("a valid offset");
                offset
                    .from_local_datetime(&record.issue_date.and_time(NaiveTime::MIN))
                    .single()
                    .unwrap_or(record.invoicing_date)
            }
            InvoiceQueryDateType::Invoicing => record.invoicing_date,
            _ => record.permanent_storage_date,
        }
    }

    /// Takes one page: returns the records not returned before and moves to the next page.
    pub(crate) fn absorb(
        &mut self,
        page: QueryInvoicesMetadataResponse,
    ) -> Result<Vec<InvoiceMetadata>, Error> {
        let descending = self.descending();
        if self.hwm.is_none() {
            self.hwm = page.permanent_storage_hwm_date;
        }
        let mut fresh = Vec::with_capacity(page.invoices.len());
        for record in page.invoices {
            let date = self.date_of(&record);
            let beyond = |boundary: &DateTime<FixedOffset>| {
                if descending {
                    date < *boundary
                } else {
                    date > *boundary
                }
            };
            match &mut self.boundary {
                Some((boundary, numbers)) if *boundary == date => {
                    numbers.insert(record.ksef_number.clone());
                }
                Some((boundary, _)) if !beyond(boundary) => {}
                _ => self.boundary = Some((date, HashSet::from([record.ksef_number.clone()]))),
            }
            if !self.skip.contains(&record.ksef_number) {
                fresh.push(record);
            }
        }
        if !page.has_more {
            self.done = true;
        } else if !page.is_truncated {
            self.page_offset += 1;
        } else {
            // KSeF stops at 10 000 records per filter set: continue from the last record's date
            // (ascending: a new `from`; descending: a new `to`) at page 0. Records with exactly
            // that date come again and are skipped.
            let Some((date, numbers)) = &self.boundary else {
                return Err(Error::UnexpectedResponse {
                    reason: "a truncated metadata page without records".to_owned(),
                });
            };
            let range = &mut self.query.filters.date_range;
            let unchanged = if descending {
                range.to == Some(*date)
            } else {
                range.from == *date
            };
            if unchanged {
                return Err(Error::UnexpectedResponse {
                    reason: format!(
                        "more than the query limit of invoices share the date {date}; narrow the filters"
                    ),
                });
            }
            if descending {
                range.to = Some(*date);
            } else {
                range.from = *date;
            }
            self.skip = numbers.clone();
            self.page_offset = 0;
            self.narrowed += 1;
        }
        Ok(fresh)
    }
}

/// The invoice metadata matching a query, one record at a time, paging on its own (see
/// [`Client::invoice_metadata`]).
pub struct MetadataStream {
    inner: Pin<Box<dyn Stream<Item = Result<InvoiceMetadata, Error>> + Send>>,
}

impl fmt::Debug for MetadataStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataStream").finish_non_exhaustive()
    }
}

impl Stream for MetadataStream {
    type Item = Result<InvoiceMetadata, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Client {
    /// Streams the metadata of every invoice matching `query`, paging on its own: `pageOffset`
    /// goes up while `hasMore`; when KSeF reports `isTruncated` (10 000 records per filter set)
    /// the date range is narrowed from the last record's date and paging restarts, skipping
    /// records already returned. The stream ends after the first error.
    ///
    /// ```no_run
    /// # async fn example(client: ksef_client::Client) -> Result<(), ksef_client::Error> {
    /// use futures_util::TryStreamExt as _;
    /// use ksef_client::MetadataQuery;
    /// use ksef_model::types::{InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    ///     InvoiceQuerySubjectType};
    ///
    /// let from = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00+01:00").unwrap();
    /// let filters = InvoiceQueryFilters::new(
    ///     InvoiceQuerySubjectType::Subject1,
    ///     InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, from),
    /// );
    /// let mut stream = client.invoice_metadata(MetadataQuery::new(filters));
    /// while let Some(invoice) = stream.try_next().await? {
    ///     println!("{} {}", invoice.ksef_number, invoice.invoice_number);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn invoice_metadata(&self, query: MetadataQuery) -> MetadataStream {
        if let Err(error) = check_date_range(&query.filters, chrono::Utc::now()) {
            return MetadataStream {
                inner: Box::pin(stream::iter([Err(error)])),
            };
        }
        let client = self.clone();
        let pages = stream::unfold(
            (client, Pager::new(query)),
            |(client, mut pager)| async move {
                if pager.done {
                    return None;
                }
                let batch = match client.execute(&pager.request()).await {
                    Ok(page) => match pager.absorb(page) {
                        Ok(records) => records.into_iter().map(Ok).collect(),
                        Err(error) => {
                            pager.done = true;
                            vec![Err(error)]
                        }
                    },
                    Err(error) => {
                        pager.done = true;
                        vec![Err(error)]
                    }
                };
                Some((stream::iter(batch), (client, pager)))
            },
        );
        MetadataStream {
            inner: Box::pin(pages.flatten()),
        }
    }

    /// Downloads one invoice's XML by its KSeF number. If the response carries `x-ms-meta-hash`,
    /// the bytes are checked against it.
    ///
    /// # Errors
    ///
    /// [`Error::Transport`] (e.g. 21164 no such invoice, 21165 not available yet),
    /// [`Error::UnexpectedResponse`] if the hash does not match.
    pub async fn download_invoice(&self, ksef_number: &KsefNumber) -> Result<Vec<u8>, Error> {
        let response = self
            .execute_full(&DownloadInvoice::new(ksef_number.clone()))
            .await?;
        if let Some(expected) = response.header("x-ms-meta-hash") {
            let actual = ksef_crypto::file_metadata(response.value()).sha256_base64();
            if actual != expected.trim() {
                return Err(Error::UnexpectedResponse {
                    reason: format!("invoice {ksef_number} does not match its x-ms-meta-hash"),
                });
            }
        }
        Ok(response.into_value())
    }
}

#[cfg(test)]
mod tests {
    use ksef_model::types::{InvoiceQueryDateRange, InvoiceQuerySubjectType};

    use super::*;

    fn range(from: &str, to: Option<&str>) -> InvoiceQueryFilters {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        let mut range = InvoiceQueryDateRange::new(InvoiceQueryDateType::Invoicing, at(from));
        if let Some(to) = to {
            range = range.with_to(at(to));
        }
        InvoiceQueryFilters::new(InvoiceQuerySubjectType::Subject1, range)
    }

    #[test]
    fn date_ranges_over_100_days_in_utc_are_refused_locally() {
        let now = chrono::Utc::now();
        // Exactly 100 days in UTC, across offsets.
        check_date_range(
            &range("2026-01-01T00:00:00+02:00", Some("2026-04-10T22:00:00Z")),
            now,
        )
        .unwrap();
        let over = check_date_range(
            &range("2026-01-01T00:00:00+02:00", Some("2026-04-10T22:00:01Z")),
            now,
        )
        .unwrap_err();
        assert!(
            matches!(&over, Error::InvalidRequest { field: "dateRange.to", reason } if reason.contains("100 days")),
            "{over:?}"
        );
        // 100 days and an hour on the wall clocks, 99 days 23 hours in UTC.
        check_date_range(
            &range("2026-01-01T00:00:00Z", Some("2026-04-11T01:00:00+02:00")),
            now,
        )
        .unwrap();
        // Without `to`, the range ends now.
        let from = (now - chrono::TimeDelta::days(101)).to_rfc3339();
        assert!(check_date_range(&range(&from, None), now).is_err());
        let from = (now - chrono::TimeDelta::days(99)).to_rfc3339();
        check_date_range(&range(&from, None), now).unwrap();
        // `to` before `from`.
        assert!(
            check_date_range(
                &range("2026-02-01T00:00:00Z", Some("2026-01-01T00:00:00Z")),
                now
            )
            .is_err()
        );
    }

    fn record(n: u32, storage: &str) -> InvoiceMetadata {
        let nip: ksef_model::values::Nip = "5265877635".parse().unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2025, 6, 26).unwrap();
        let ksef = KsefNumber::from_parts(&nip, date, &format!("{n:012X}")).unwrap();
        let value = serde_json::json!({
            "ksefNumber": ksef,
            "invoiceNumber": format!("FV/{n}"),
            "issueDate": "2025-06-26",
            "invoicingDate": storage,
            "acquisitionDate": storage,
            "permanentStorageDate": storage,
            "seller": {"nip": "5265877635"},
            "buyer": {"identifier": {"type": "None"}},
            "netAmount": 1.0, "grossAmount": 1.23, "vatAmount": 0.23,
            "currency": "PLN",
            "invoicingMode": "Online",
            "invoiceType": "Vat",
            "formCode": {"systemCode": "FA (3)", "schemaVersion": "1-0E", "value": "FA"},
            "isSelfInvoicing": false,
            "hasAttachment": false,
            "invoiceHash": "KjH0TaS9fey70939GjeuBNAuxmXiwmiIFszGVjFYbtE=",
        });
        serde_json::from_value(value).expect("valid metadata")
    }

    fn page(
        records: Vec<InvoiceMetadata>,
        has_more: bool,
        truncated: bool,
    ) -> QueryInvoicesMetadataResponse {
        serde_json::from_value(serde_json::json!({
            "hasMore": has_more,
            "isTruncated": truncated,
            "invoices": records,
        }))
        .expect("valid page")
    }

    fn pager() -> Pager {
        let from = DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z").unwrap();
        let filters = InvoiceQueryFilters::new(
            InvoiceQuerySubjectType::Subject1,
            InvoiceQueryDateRange::new(InvoiceQueryDateType::PermanentStorage, from),
        );
        Pager::new(MetadataQuery::new(filters).with_page_size(5000))
    }

    #[test]
    fn pages_then_narrows_on_truncation_and_skips_the_overlap() {
        let mut pager = pager();
        assert_eq!(pager.query.page_size, 250);
        let t1 = "2025-06-10T10:00:00Z";
        let t2 = "2025-06-11T10:00:00Z";
        let got = pager
            .absorb(page(vec![record(1, t1), record(2, t1)], true, false))
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(pager.page_offset, 1);
        let got = pager
            .absorb(page(vec![record(3, t2), record(4, t2)], true, true))
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(pager.page_offset, 0);
        assert_eq!(
            pager.query.filters.date_range.from,
            DateTime::parse_from_rfc3339(t2).unwrap()
        );
        // The narrowed range starts with records 3 and 4 again.
        let got = pager
            .absorb(page(
                vec![record(3, t2), record(4, t2), record(5, t2)],
                false,
                false,
            ))
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].invoice_number, "FV/5");
        assert!(pager.done);
    }

    #[test]
    fn refuses_to_loop_when_narrowing_cannot_progress() {
        let mut pager = pager();
        let t = "2025-06-01T00:00:00Z";
        let error = pager
            .absorb(page(vec![record(1, t)], true, true))
            .unwrap_err();
        assert!(matches!(error, Error::UnexpectedResponse { .. }));
    }
}
