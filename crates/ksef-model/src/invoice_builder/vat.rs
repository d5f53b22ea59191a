//! The basic VAT invoice.

use chrono::NaiveDate;

use super::arith::check_date;
use super::assemble::{FaParts, RateSums, Totals, assemble, check_count, fa_line};
use super::{BuildError, InvoiceHeader, Line};
use crate::xml::fa3::{Faktura, TRodzajFakturyType};
use crate::xml::to_xml;

/// A basic VAT invoice (`RodzajFaktury` VAT).
#[derive(Debug, Clone, PartialEq)]
pub struct VatInvoice {
    header: InvoiceHeader,
    lines: Vec<Line>,
    delivery_date: Option<NaiveDate>,
}

impl VatInvoice {
    /// An invoice with `header` and no lines yet (at least one is required).
    pub fn new(header: InvoiceHeader) -> Self {
        Self {
            header,
            lines: Vec::new(),
            delivery_date: None,
        }
    }

    /// Adds a line.
    #[must_use]
    pub fn line(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    /// Adds lines.
    #[must_use]
    pub fn lines(mut self, lines: impl IntoIterator<Item = Line>) -> Self {
        self.lines.extend(lines);
        self
    }

    /// The date of delivery or completion of the service, when it differs from the issue date
    /// (`P_6`).
    #[must_use]
    pub fn with_delivery_date(mut self, date: NaiveDate) -> Self {
        self.delivery_date = Some(date);
        self
    }

    /// The FA(3) document.
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming the element at fault: no lines, a text or number out of its limits,
    /// an exempt line without basis, a foreign currency without exchange rate.
    pub fn build(&self) -> Result<Faktura, BuildError> {
        check_count("Fa/FaWiersz", self.lines.len())?;
        let mut sums = RateSums::default();
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            let built = fa_line(line, i + 1, false)?;
            sums.add(line.rate, built.p_11.expect("set by fa_line"));
            lines.push(built);
        }
        let parts = FaParts {
            kind: TRodzajFakturyType::Vat,
            totals: Totals::new(sums.groups()),
            lines,
            rates: self.lines.iter().map(|l| l.rate).collect(),
            correction: None,
            order: None,
            event_date: self
                .delivery_date
                .map(|d| check_date("Fa/P_6", d))
                .transpose()?,
            advance_exchange_rate: false,
        };
        assemble(&self.header, parts)
    }

    /// The document as UTF-8 XML.
    ///
    /// # Errors
    ///
    /// As [`VatInvoice::build`].
    pub fn to_xml(&self) -> Result<Vec<u8>, BuildError> {
        Ok(to_xml(&self.build()?)?)
    }
}
