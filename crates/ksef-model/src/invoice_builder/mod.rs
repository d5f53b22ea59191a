//! A typed builder for the common FA(3) invoices: a plain VAT invoice ([`VatInvoice`]), a
//! correction of one ([`CorrectionInvoice`], `RodzajFaktury` KOR) and an advance-payment invoice
//! ([`AdvanceInvoice`], ZAL) (feature `invoice-xml`).
//!
//! Everything FA(3) requires is asked for by a constructor ([`InvoiceHeader::new`] takes the
//! seller, the buyer, the invoice number, the issue date and the currency), and what a constructor
//! cannot force (at least one line, texts within their lengths, amounts within their digits) is
//! checked by `build()`, which fails with a [`BuildError`] naming the element at fault as a path
//! of the document (`Fa/FaWiersz[2]/P_8B`). A built document is always valid against the FA(3)
//! schema.
//!
//! The builder computes every amount, exactly, with [`Decimal`]:
//!
//! - each line's net value `P_11` is quantity × unit net price, rounded to the grosz;
//! - for each rate group (`P_13_1`/`P_14_1` for 23 % and 22 %, `P_13_2`/`P_14_2` for 8 % and 7 %,
//!   `P_13_3`/`P_14_3` for 5 %, `P_13_4`/`P_14_4` for the taxi flat rates 4 % and 3 %, and one
//!   net-only field for each 0 % variant, exempt, outside-the-scope and reverse-charge sales)
//!   the net sum of its lines, and the tax computed once on that sum per rate (not per line);
//! - `P_15`, the amount due, as the sum of the net and tax fields.
//!
//! Rounding follows the Polish rule for tax amounts: to the full grosz, a half grosz or more up,
//! less down (negative amounts of a correction mirror positive ones).
//!
//! A correction lists each corrected line twice, as FA(3) allows: once as it stood on the
//! corrected invoice (marked `StanPrzed`) and once as it stands after the correction, numbered
//! separately; its totals are the differences (after minus before). An advance invoice lists the
//! ordered goods in `Zamowienie` and splits the amount received between the rates in proportion
//! to the order's gross value at each rate; the tax in each part is `amount × rate / (100 + rate)`.
//!
//! ```
//! use chrono::NaiveDate;
//! use ksef_model::invoice_builder::{
//!     Address, Buyer, BuyerId, InvoiceHeader, Line, Seller, VatInvoice, VatRate,
//! };
//! use ksef_model::xml::fa3::{TKodKrajuType, TKodWalutyType};
//!
//! let seller = Seller::new(
//!     "5265877635".parse()?,
//!     "Elektrownia S.A.",
//!     Address::new(TKodKrajuType::Pl, "ul. Kwiatowa 1, 00-001 Warszawa"),
//! );
//! let buyer = Buyer::new(BuyerId::Nip("7740001454".parse()?), "F.H.U. Jan Kowalski");
//! let issued = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
//! let header = InvoiceHeader::new(seller, buyer, "FV/2026/01/0001", issued, TKodWalutyType::Pln);
//! let invoice = VatInvoice::new(header)
//!     .line(Line::new("Energia czynna", "20".parse()?, "0.90".parse()?, VatRate::Rate23).with_unit("kWh"))
//!     .line(Line::new("Książka", "1".parse()?, "40.00".parse()?, VatRate::Rate5))
//!     .build()?;
//! assert_eq!(invoice.fa.p_15.to_string(), "64.14"); // 18.00 + 4.14 + 40.00 + 2.00
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod advance;
mod arith;
mod assemble;
mod correction;
mod error;
mod parties;
mod vat;

use chrono::{DateTime, NaiveDate, Utc};

pub use self::advance::AdvanceInvoice;
use self::arith::{check_decimal, mul, round_to_grosz};
pub use self::correction::{CorrectedInvoice, CorrectionInvoice};
pub use self::error::BuildError;
pub use self::parties::{Address, Buyer, BuyerId, Seller};
pub use self::vat::VatInvoice;
use crate::xml::Decimal;
use crate::xml::fa3::{TKodWalutyType, TStawkaPodatkuType};

/// Most lines (`FaWiersz`, `ZamowienieWiersz`) the schema allows.
pub const MAX_LINES: usize = 10_000;

/// The VAT rate of a line (`P_12`), with every value FA(3) defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VatRate {
    /// 23 %, the basic rate.
    Rate23,
    /// 22 %, the basic rate in the years it applied.
    Rate22,
    /// 8 %, the first reduced rate.
    Rate8,
    /// 7 %, the first reduced rate in the years it applied.
    Rate7,
    /// 5 %, the second reduced rate.
    Rate5,
    /// 4 %, the flat rate for passenger taxis.
    Rate4,
    /// 3 %, the flat rate for passenger taxis in the years it applied.
    Rate3,
    /// 0 % on domestic sales (`0 KR`).
    ZeroDomestic,
    /// 0 % on an intra-Community supply of goods (`0 WDT`).
    ZeroIntraCommunity,
    /// 0 % on an export of goods (`0 EX`).
    ZeroExport,
    /// Exempt from VAT (`zw`); the invoice then needs an [`ExemptionBasis`].
    Exempt,
    /// Reverse charge: the buyer accounts for the tax (`oo`).
    ReverseCharge,
    /// Outside the scope of Polish VAT: supplies made abroad, other than those of
    /// [`VatRate::NotTaxableArt100`] (`np I`).
    NotTaxable,
    /// Outside the scope of Polish VAT: services taxed where the buyer is, in the sense of art. 100
    /// sec. 1 item 4 of the VAT act (`np II`).
    NotTaxableArt100,
}

/// Which `P_13_x` (and `P_14_x`) field a rate's sales are summed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Basic,
    Reduced1,
    Reduced2,
    Taxi,
    ZeroDomestic,
    ZeroIntraCommunity,
    ZeroExport,
    Exempt,
    NotTaxable,
    NotTaxableArt100,
    ReverseCharge,
}

impl VatRate {
    /// Every rate.
    pub const ALL: [VatRate; 14] = [
        VatRate::Rate23,
        VatRate::Rate22,
        VatRate::Rate8,
        VatRate::Rate7,
        VatRate::Rate5,
        VatRate::Rate4,
        VatRate::Rate3,
        VatRate::ZeroDomestic,
        VatRate::ZeroIntraCommunity,
        VatRate::ZeroExport,
        VatRate::Exempt,
        VatRate::ReverseCharge,
        VatRate::NotTaxable,
        VatRate::NotTaxableArt100,
    ];

    /// The rate in percent; 0 for the rates on which no tax is charged on the invoice.
    pub fn percent(self) -> u32 {
        match self {
            VatRate::Rate23 => 23,
            VatRate::Rate22 => 22,
            VatRate::Rate8 => 8,
            VatRate::Rate7 => 7,
            VatRate::Rate5 => 5,
            VatRate::Rate4 => 4,
            VatRate::Rate3 => 3,
            _ => 0,
        }
    }

    /// The value of `P_12` in the generated types.
    pub fn to_p12(self) -> TStawkaPodatkuType {
        match self {
            VatRate::Rate23 => TStawkaPodatkuType::_23,
            VatRate::Rate22 => TStawkaPodatkuType::_22,
            VatRate::Rate8 => TStawkaPodatkuType::_8,
            VatRate::Rate7 => TStawkaPodatkuType::_7,
            VatRate::Rate5 => TStawkaPodatkuType::_5,
            VatRate::Rate4 => TStawkaPodatkuType::_4,
            VatRate::Rate3 => TStawkaPodatkuType::_3,
            VatRate::ZeroDomestic => TStawkaPodatkuType::_0Kr,
            VatRate::ZeroIntraCommunity => TStawkaPodatkuType::_0Wdt,
            VatRate::ZeroExport => TStawkaPodatkuType::_0Ex,
            VatRate::Exempt => TStawkaPodatkuType::Zw,
            VatRate::ReverseCharge => TStawkaPodatkuType::Oo,
            VatRate::NotTaxable => TStawkaPodatkuType::NpI,
            VatRate::NotTaxableArt100 => TStawkaPodatkuType::NpIi,
        }
    }

    fn group(self) -> Group {
        match self {
            VatRate::Rate23 | VatRate::Rate22 => Group::Basic,
            VatRate::Rate8 | VatRate::Rate7 => Group::Reduced1,
            VatRate::Rate5 => Group::Reduced2,
            VatRate::Rate4 | VatRate::Rate3 => Group::Taxi,
            VatRate::ZeroDomestic => Group::ZeroDomestic,
            VatRate::ZeroIntraCommunity => Group::ZeroIntraCommunity,
            VatRate::ZeroExport => Group::ZeroExport,
            VatRate::Exempt => Group::Exempt,
            VatRate::ReverseCharge => Group::ReverseCharge,
            VatRate::NotTaxable => Group::NotTaxable,
            VatRate::NotTaxableArt100 => Group::NotTaxableArt100,
        }
    }
}

/// The legal basis of a VAT exemption (`Adnotacje/Zwolnienie`), required when a line is
/// [`VatRate::Exempt`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ExemptionBasis {
    /// A provision of the Polish VAT act or of an act issued under it (`P_19A`).
    Act(String),
    /// A provision of Directive 2006/112/EC (`P_19B`).
    Directive(String),
    /// Another legal basis (`P_19C`).
    Other(String),
}

/// What every invoice needs: the parties, the number, the issue date and the currency, plus the
/// optional details common to all kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceHeader {
    seller: Seller,
    buyer: Buyer,
    number: String,
    issue_date: NaiveDate,
    currency: TKodWalutyType,
    created_at: Option<DateTime<Utc>>,
    place: Option<String>,
    system_info: Option<String>,
    exchange_rate: Option<Decimal>,
    exemption: Option<ExemptionBasis>,
    split_payment: bool,
    cash_accounting: bool,
}

impl InvoiceHeader {
    /// The required data: seller, buyer, invoice number (`P_2`), issue date (`P_1`) and currency
    /// (`KodWaluty`).
    pub fn new(
        seller: Seller,
        buyer: Buyer,
        number: impl Into<String>,
        issue_date: NaiveDate,
        currency: TKodWalutyType,
    ) -> Self {
        Self {
            seller,
            buyer,
            number: number.into(),
            issue_date,
            currency,
            created_at: None,
            place: None,
            system_info: None,
            exchange_rate: None,
            exemption: None,
            split_payment: false,
            cash_accounting: false,
        }
    }

    /// When the document was produced (`DataWytworzeniaFa`, from 2025-09-01 on); without it, the
    /// issue date at midnight UTC.
    #[must_use]
    pub fn with_created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = Some(at);
        self
    }

    /// The place of issue (`P_1M`).
    #[must_use]
    pub fn with_place(mut self, place: impl Into<String>) -> Self {
        self.place = Some(place.into());
        self
    }

    /// The name of the invoicing program (`SystemInfo`).
    #[must_use]
    pub fn with_system_info(mut self, info: impl Into<String>) -> Self {
        self.system_info = Some(info.into());
        self
    }

    /// The złoty per unit of the invoice currency used for the tax, required for any currency
    /// but PLN: the tax of each rate is then also stated in złoty (`P_14_xW`).
    #[must_use]
    pub fn with_exchange_rate(mut self, rate: Decimal) -> Self {
        self.exchange_rate = Some(rate);
        self
    }

    /// The legal basis for exempt lines.
    #[must_use]
    pub fn with_exemption(mut self, basis: ExemptionBasis) -> Self {
        self.exemption = Some(basis);
        self
    }

    /// Marks the invoice "mechanizm podzielonej płatności" (split payment, `P_18A`).
    #[must_use]
    pub fn with_split_payment(mut self) -> Self {
        self.split_payment = true;
        self
    }

    /// Marks the invoice "metoda kasowa" (cash accounting, `P_16`).
    #[must_use]
    pub fn with_cash_accounting(mut self) -> Self {
        self.cash_accounting = true;
        self
    }
}

/// One line of goods or services: name, quantity, unit net price and VAT rate, optionally the
/// unit of measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    name: String,
    unit: Option<String>,
    quantity: Decimal,
    unit_price: Decimal,
    rate: VatRate,
}

impl Line {
    /// A line of `quantity` × `name` at `unit_price` net each (quantity up to 6 fraction digits,
    /// price up to 8), taxed at `rate`.
    pub fn new(
        name: impl Into<String>,
        quantity: Decimal,
        unit_price: Decimal,
        rate: VatRate,
    ) -> Self {
        Self {
            name: name.into(),
            unit: None,
            quantity,
            unit_price,
            rate,
        }
    }

    /// Adds the unit of measure (`P_8A`, e.g. `szt.`, `kWh`).
    #[must_use]
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// The line's VAT rate.
    pub fn rate(&self) -> VatRate {
        self.rate
    }

    /// The line's net value: quantity × unit price, rounded to the grosz.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when the quantity or the price break their digit limits, or the value is
    /// too large for an amount.
    pub fn net_value(&self) -> Result<Decimal, BuildError> {
        self.checked("Fa/FaWiersz", "P_8B", "P_9A", "P_11")
            .map(|c| c.net)
    }

    fn checked(
        &self,
        at: &str,
        qty: &str,
        price: &str,
        net: &str,
    ) -> Result<CheckedLine, BuildError> {
        let quantity = check_decimal(&format!("{at}/{qty}"), self.quantity, 16, 6)?;
        let unit_price = check_decimal(&format!("{at}/{price}"), self.unit_price, 14, 8)?;
        let net_field = format!("{at}/{net}");
        let product = mul(quantity, unit_price).ok_or_else(|| BuildError::AmountOutOfRange {
            field: net_field.clone(),
            value: format!("{quantity} × {unit_price}"),
        })?;
        let net = check_decimal(&net_field, round_to_grosz(product), 16, 2)?;
        Ok(CheckedLine {
            quantity,
            unit_price,
            net,
        })
    }
}

/// A line's numbers after their checks.
struct CheckedLine {
    quantity: Decimal,
    unit_price: Decimal,
    net: Decimal,
}
