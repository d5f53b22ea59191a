//! Why an invoice cannot be built.

use crate::xml::XmlError;

/// Why an invoice cannot be built. Every variant names the element at fault by its path below
/// `Faktura` (for example `Fa/FaWiersz[2]/P_8B`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required list is empty (the invoice has no lines, the order no items).
    #[error("{field}: at least one is required")]
    NoLines {
        /// The element that must occur.
        field: &'static str,
    },
    /// More lines than the schema allows ([`MAX_LINES`](super::MAX_LINES)).
    #[error("{field}: {count} lines, at most {max} allowed")]
    TooManyLines {
        /// The repeated element.
        field: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A text is empty after whitespace is collapsed, or holds a refused character.
    #[error("{field}: text {reason}")]
    InvalidText {
        /// Where.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A text is longer than its element allows.
    #[error("{field}: text longer than {max} characters")]
    TextTooLong {
        /// Where.
        field: String,
        /// The element's maximum length in characters.
        max: usize,
    },
    /// A number has more digits before the point than its element allows (given or computed).
    #[error("{field}: {value} has too many digits")]
    AmountOutOfRange {
        /// Where.
        field: String,
        /// The value.
        value: String,
    },
    /// A number has more fraction digits than its element allows.
    #[error("{field}: {value} has more than {max} fraction digits")]
    TooManyFractionDigits {
        /// Where.
        field: String,
        /// The value.
        value: String,
        /// The element's maximum number of fraction digits.
        max: u32,
    },
    /// A date outside the range its element allows.
    #[error("{field}: date {date} outside {min}..={max}")]
    DateOutOfRange {
        /// Where.
        field: String,
        /// The date or date-time given.
        date: String,
        /// The earliest allowed.
        min: String,
        /// The latest allowed.
        max: String,
    },
    /// A line is exempt from VAT but the invoice gives no legal basis for the exemption.
    #[error(
        "Fa/Adnotacje/Zwolnienie: exempt lines need an exemption basis (InvoiceHeader::with_exemption)"
    )]
    MissingExemptionBasis,
    /// The invoice is in a foreign currency and no exchange rate was given to state the tax in
    /// złoty.
    #[error(
        "Fa/KodWaluty: {currency} invoices need the exchange rate (InvoiceHeader::with_exchange_rate)"
    )]
    MissingExchangeRate {
        /// The invoice currency.
        currency: String,
    },
    /// The advance received is not above zero, or exceeds the order's gross value.
    #[error("Fa/P_15: advance {advance} must be above 0 and at most the order's value {order}")]
    AdvanceOutOfRange {
        /// The advance received.
        advance: String,
        /// The order's gross value.
        order: String,
    },
    /// Writing the built document failed.
    #[error("cannot write the invoice")]
    Xml(#[from] XmlError),
}
