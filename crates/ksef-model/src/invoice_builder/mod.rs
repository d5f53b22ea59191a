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

mod arith;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use self::arith::{
    check_amount, check_date, check_decimal, check_text, div_round, from_grosz, grosz, mul,
    round_to_grosz,
};
use crate::values::{KsefNumber, Nip};
use crate::xml::fa3::{
    Faktura, FakturaFa, FakturaFaAdnotacje, FakturaFaAdnotacjeNoweSrodkiTransportu,
    FakturaFaAdnotacjePMarzy, FakturaFaAdnotacjeZwolnienie,
    FakturaFaAdnotacjeZwolnienieContent96Type, FakturaFaAdnotacjeZwolnienieContent97Type,
    FakturaFaContent150Type, FakturaFaContent151Type, FakturaFaContent152Type,
    FakturaFaContent153Type, FakturaFaContent154Type, FakturaFaContent156Type,
    FakturaFaDaneFaKorygowanej, FakturaFaDaneFaKorygowanejContent111Type,
    FakturaFaDaneFaKorygowanejContent112Type, FakturaFaFaWiersz, FakturaFaZamowienie,
    FakturaFaZamowienieZamowienieWiersz, FakturaPodmiot1, FakturaPodmiot2, FakturaPodmiot2Gv,
    FakturaPodmiot2Jst, TAdresType, TKodFormularzaType, TKodKrajuType, TKodWalutyType,
    TNaglowekKodFormularza, TNaglowekType, TNaglowekWariantFormularza, TPodmiot1Type,
    TPodmiot2Content74Type, TPodmiot2Content76Type, TPodmiot2Content77Type, TPodmiot2Type,
    TRodzajFakturyType, TStawkaPodatkuType, TTypKorektyType, TWybor1Type, TWybor12Type,
};
use crate::xml::{Decimal, XmlError, to_xml};

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
    /// More lines than the schema allows ([`MAX_LINES`]).
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

/// An address (`Adres`): country and up to two free-text lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    country: TKodKrajuType,
    line1: String,
    line2: Option<String>,
}

impl Address {
    /// An address in `country`, first line `line1` (street and number, or the whole address).
    pub fn new(country: TKodKrajuType, line1: impl Into<String>) -> Self {
        Self {
            country,
            line1: line1.into(),
            line2: None,
        }
    }

    /// Adds the second line (postcode and town, for example).
    #[must_use]
    pub fn with_line2(mut self, line2: impl Into<String>) -> Self {
        self.line2 = Some(line2.into());
        self
    }

    fn build(&self, at: &str) -> Result<TAdresType, BuildError> {
        Ok(TAdresType {
            kod_kraju: self.country.clone(),
            adres_l1: check_text(&format!("{at}/AdresL1"), &self.line1, 512)?,
            adres_l2: self
                .line2
                .as_deref()
                .map(|l| check_text(&format!("{at}/AdresL2"), l, 512))
                .transpose()?,
            gln: None,
        })
    }
}

/// The seller (`Podmiot1`): NIP, name and address, all required.
#[derive(Debug, Clone, PartialEq)]
pub struct Seller {
    nip: Nip,
    name: String,
    address: Address,
}

impl Seller {
    /// A seller identified by `nip`.
    pub fn new(nip: Nip, name: impl Into<String>, address: Address) -> Self {
        Self {
            nip,
            name: name.into(),
            address,
        }
    }

    fn build(&self) -> Result<FakturaPodmiot1, BuildError> {
        Ok(FakturaPodmiot1 {
            prefiks_podatnika: None,
            nr_eori: None,
            dane_identyfikacyjne: TPodmiot1Type {
                nip: self.nip.as_str().to_owned(),
                nazwa: check_text("Podmiot1/DaneIdentyfikacyjne/Nazwa", &self.name, 512)?,
            },
            adres: self.address.build("Podmiot1/Adres")?,
            adres_koresp: None,
            dane_kontaktowe: Vec::new(),
            status_info_podatnika: None,
        })
    }
}

/// How the buyer is identified for tax (`Podmiot2/DaneIdentyfikacyjne`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BuyerId {
    /// A Polish NIP.
    Nip(Nip),
    /// Another tax identifier (up to 50 characters), optionally with the country that issued it.
    Other {
        /// The issuing country, when known.
        country: Option<TKodKrajuType>,
        /// The identifier.
        id: String,
    },
    /// The buyer has no tax identifier, or it is not shown (a consumer, for example).
    None,
}

/// The buyer (`Podmiot2`): identifier and name, optionally an address.
#[derive(Debug, Clone, PartialEq)]
pub struct Buyer {
    id: BuyerId,
    name: String,
    address: Option<Address>,
}

impl Buyer {
    /// A buyer identified by `id`, named `name`.
    pub fn new(id: BuyerId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            address: None,
        }
    }

    /// Adds the buyer's address.
    #[must_use]
    pub fn with_address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    fn build(&self) -> Result<FakturaPodmiot2, BuildError> {
        let id = match &self.id {
            BuyerId::Nip(nip) => TPodmiot2Content74Type::Nip(nip.as_str().to_owned()),
            BuyerId::Other { country, id } => {
                TPodmiot2Content74Type::Content76(TPodmiot2Content76Type {
                    kod_kraju: country.clone(),
                    nr_id: check_text("Podmiot2/DaneIdentyfikacyjne/NrID", id, 50)?,
                })
            }
            BuyerId::None => TPodmiot2Content74Type::BrakId(TWybor1Type::_1),
        };
        Ok(FakturaPodmiot2 {
            nr_eori: None,
            dane_identyfikacyjne: TPodmiot2Type {
                content_74: id,
                content_77: Some(TPodmiot2Content77Type {
                    nazwa: check_text("Podmiot2/DaneIdentyfikacyjne/Nazwa", &self.name, 512)?,
                }),
            },
            adres: self
                .address
                .as_ref()
                .map(|a| a.build("Podmiot2/Adres"))
                .transpose()?,
            adres_koresp: None,
            dane_kontaktowe: Vec::new(),
            nr_klienta: None,
            id_nabywcy: None,
            jst: FakturaPodmiot2Jst::_2,
            gv: FakturaPodmiot2Gv::_2,
        })
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

/// Net sums per rate, in grosz.
#[derive(Default)]
struct RateSums(BTreeMap<VatRate, i128>);

impl RateSums {
    fn add(&mut self, rate: VatRate, net: Decimal) {
        *self.0.entry(rate).or_default() += grosz(net);
    }

    /// Net and tax per group, in grosz: the tax computed on each rate's net sum.
    fn groups(&self) -> BTreeMap<Group, (i128, i128)> {
        let mut out: BTreeMap<Group, (i128, i128)> = BTreeMap::new();
        for (&rate, &net) in &self.0 {
            let tax = div_round(net * i128::from(rate.percent()), 100);
            let entry = out.entry(rate.group()).or_default();
            entry.0 += net;
            entry.1 += tax;
        }
        out
    }
}

/// Net and tax per group (in grosz) and the amount due.
struct Totals {
    groups: BTreeMap<Group, (i128, i128)>,
    due: i128,
}

impl Totals {
    fn new(groups: BTreeMap<Group, (i128, i128)>) -> Self {
        let due = groups.values().map(|(net, tax)| net + tax).sum();
        Self { groups, due }
    }

    /// `after - before`, group by group (a group of either side is kept, even when it nets to 0).
    fn difference(after: &Self, before: &Self) -> Self {
        let mut groups = after.groups.clone();
        for (group, (net, tax)) in &before.groups {
            let entry = groups.entry(*group).or_default();
            entry.0 -= net;
            entry.1 -= tax;
        }
        Totals::new(groups)
    }
}

/// What the kinds of invoice put into `Fa` besides the common fields.
struct FaParts {
    kind: TRodzajFakturyType,
    totals: Totals,
    lines: Vec<FakturaFaFaWiersz>,
    rates: Vec<VatRate>,
    correction: Option<FakturaFaContent156Type>,
    order: Option<FakturaFaZamowienie>,
    event_date: Option<String>,
    advance_exchange_rate: bool,
}

fn check_count(field: &'static str, count: usize) -> Result<(), BuildError> {
    if count == 0 {
        return Err(BuildError::NoLines { field });
    }
    if count > MAX_LINES {
        return Err(BuildError::TooManyLines {
            field,
            count,
            max: MAX_LINES,
        });
    }
    Ok(())
}

/// One `FaWiersz`.
fn fa_line(line: &Line, number: usize, before: bool) -> Result<FakturaFaFaWiersz, BuildError> {
    let at = format!("Fa/FaWiersz[{number}]");
    let checked = line.checked(&at, "P_8B", "P_9A", "P_11")?;
    Ok(FakturaFaFaWiersz {
        nr_wiersza_fa: number as u64,
        uu_id: None,
        p_6a: None,
        p_7: Some(check_text(&format!("{at}/P_7"), &line.name, 512)?),
        indeks: None,
        gtin: None,
        pk_wi_u: None,
        cn: None,
        pkob: None,
        p_8a: line
            .unit
            .as_deref()
            .map(|u| check_text(&format!("{at}/P_8A"), u, 256))
            .transpose()?,
        p_8b: Some(checked.quantity),
        p_9a: Some(checked.unit_price),
        p_9b: None,
        p_10: None,
        p_11: Some(checked.net),
        p_11a: None,
        p_11_vat: None,
        p_12: Some(line.rate.to_p12()),
        p_12_xii: None,
        p_12_zal_15: None,
        kwota_akcyzy: None,
        gtu: None,
        procedura: None,
        kurs_waluty: None,
        stan_przed: before.then_some(TWybor1Type::_1),
    })
}

fn yes_no(flag: bool) -> TWybor12Type {
    if flag {
        TWybor12Type::_1
    } else {
        TWybor12Type::_2
    }
}

/// Assembles the document from the header and the kind's parts.
fn assemble(header: &InvoiceHeader, parts: FaParts) -> Result<Faktura, BuildError> {
    let issue_date = check_date("Fa/P_1", header.issue_date)?;
    let created_at = header.created_at.unwrap_or_else(|| {
        header
            .issue_date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    });
    let created_min = DateTime::parse_from_rfc3339("2025-09-01T00:00:00Z").expect("valid");
    let created_max = DateTime::parse_from_rfc3339("2050-01-01T23:59:59Z").expect("valid");
    if created_at < created_min || created_at > created_max {
        return Err(BuildError::DateOutOfRange {
            field: "Naglowek/DataWytworzeniaFa".to_owned(),
            date: created_at.to_rfc3339(),
            min: created_min.to_rfc3339(),
            max: created_max.to_rfc3339(),
        });
    }

    let foreign = header.currency != TKodWalutyType::Pln;
    let exchange_rate = match header.exchange_rate {
        Some(rate) => Some(check_decimal("Fa/KursWalutyZ", rate, 16, 6)?),
        None if foreign => {
            let currency = format!("{:?}", header.currency).to_uppercase();
            return Err(BuildError::MissingExchangeRate { currency });
        }
        None => None,
    };

    let exempt = parts.rates.contains(&VatRate::Exempt);
    let reverse_charge = parts.rates.contains(&VatRate::ReverseCharge);
    let zwolnienie = match (&header.exemption, exempt) {
        (_, false) => FakturaFaAdnotacjeZwolnienie::P19N(TWybor1Type::_1),
        (None, true) => return Err(BuildError::MissingExemptionBasis),
        (Some(basis), true) => {
            let field = "Fa/Adnotacje/Zwolnienie";
            let content_97 = match basis {
                ExemptionBasis::Act(t) => FakturaFaAdnotacjeZwolnienieContent97Type::P19A(
                    check_text(&format!("{field}/P_19A"), t, 256)?,
                ),
                ExemptionBasis::Directive(t) => FakturaFaAdnotacjeZwolnienieContent97Type::P19B(
                    check_text(&format!("{field}/P_19B"), t, 256)?,
                ),
                ExemptionBasis::Other(t) => FakturaFaAdnotacjeZwolnienieContent97Type::P19C(
                    check_text(&format!("{field}/P_19C"), t, 256)?,
                ),
            };
            FakturaFaAdnotacjeZwolnienie::Content96(FakturaFaAdnotacjeZwolnienieContent96Type {
                p_19: TWybor1Type::_1,
                content_97,
            })
        }
    };

    let groups = &parts.totals.groups;
    let net = |group: Group, field: &str| -> Result<Option<Decimal>, BuildError> {
        groups
            .get(&group)
            .map(|(net, _)| check_amount(field, *net))
            .transpose()
    };
    let in_pln = |tax: i128, field: &str| -> Result<Option<Decimal>, BuildError> {
        match (foreign, exchange_rate) {
            (true, Some(rate)) => {
                let value =
                    mul(from_grosz(tax), rate).ok_or_else(|| BuildError::AmountOutOfRange {
                        field: field.to_owned(),
                        value: format!("{} × {rate}", from_grosz(tax)),
                    })?;
                Ok(Some(check_amount(field, grosz(value))?))
            }
            _ => Ok(None),
        }
    };
    macro_rules! taxed {
        ($group:expr, $ty:ident, $net:ident, $tax:ident, $w:ident, $n:literal) => {
            match groups.get(&$group) {
                Some(&(n, t)) => Some($ty {
                    $net: check_amount(concat!("Fa/P_13_", $n), n)?,
                    $tax: check_amount(concat!("Fa/P_14_", $n), t)?,
                    $w: in_pln(t, concat!("Fa/P_14_", $n, "W"))?,
                }),
                None => None,
            }
        };
    }

    let fa = FakturaFa {
        kod_waluty: header.currency.clone(),
        p_1: issue_date,
        p_1m: header
            .place
            .as_deref()
            .map(|p| check_text("Fa/P_1M", p, 256))
            .transpose()?,
        p_2: check_text("Fa/P_2", &header.number, 256)?,
        wz: Vec::new(),
        content_150: parts.event_date.map(FakturaFaContent150Type::P6),
        content_151: taxed!(
            Group::Basic,
            FakturaFaContent151Type,
            p_13_1,
            p_14_1,
            p_14_1w,
            "1"
        ),
        content_152: taxed!(
            Group::Reduced1,
            FakturaFaContent152Type,
            p_13_2,
            p_14_2,
            p_14_2w,
            "2"
        ),
        content_153: taxed!(
            Group::Reduced2,
            FakturaFaContent153Type,
            p_13_3,
            p_14_3,
            p_14_3w,
            "3"
        ),
        content_154: taxed!(
            Group::Taxi,
            FakturaFaContent154Type,
            p_13_4,
            p_14_4,
            p_14_4w,
            "4"
        ),
        content_155: None,
        p_13_6_1: net(Group::ZeroDomestic, "Fa/P_13_6_1")?,
        p_13_6_2: net(Group::ZeroIntraCommunity, "Fa/P_13_6_2")?,
        p_13_6_3: net(Group::ZeroExport, "Fa/P_13_6_3")?,
        p_13_7: net(Group::Exempt, "Fa/P_13_7")?,
        p_13_8: net(Group::NotTaxable, "Fa/P_13_8")?,
        p_13_9: net(Group::NotTaxableArt100, "Fa/P_13_9")?,
        p_13_10: net(Group::ReverseCharge, "Fa/P_13_10")?,
        p_13_11: None,
        p_15: check_amount("Fa/P_15", parts.totals.due)?,
        kurs_waluty_z: if parts.advance_exchange_rate && foreign {
            exchange_rate
        } else {
            None
        },
        adnotacje: FakturaFaAdnotacje {
            p_16: yes_no(header.cash_accounting),
            p_17: TWybor12Type::_2,
            p_18: yes_no(reverse_charge),
            p_18a: yes_no(header.split_payment),
            zwolnienie,
            nowe_srodki_transportu: FakturaFaAdnotacjeNoweSrodkiTransportu::P22N(TWybor1Type::_1),
            p_23: TWybor12Type::_2,
            p_marzy: FakturaFaAdnotacjePMarzy::PPMarzyN(TWybor1Type::_1),
        },
        rodzaj_faktury: parts.kind,
        content_156: parts.correction,
        zaliczka_czesciowa: Vec::new(),
        fp: None,
        tp: None,
        dodatkowy_opis: Vec::new(),
        faktura_zaliczkowa: Vec::new(),
        zwrot_akcyzy: None,
        fa_wiersz: parts.lines,
        rozliczenie: None,
        platnosc: None,
        warunki_transakcji: None,
        zamowienie: parts.order,
    };

    Ok(Faktura {
        naglowek: TNaglowekType {
            kod_formularza: TNaglowekKodFormularza {
                kod_systemowy: "FA (3)".to_owned(),
                wersja_schemy: "1-0E".to_owned(),
                content: TKodFormularzaType::Fa,
            },
            wariant_formularza: TNaglowekWariantFormularza::_3,
            data_wytworzenia_fa: created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            system_info: header
                .system_info
                .as_deref()
                .map(|s| check_text("Naglowek/SystemInfo", s, 256))
                .transpose()?,
        },
        podmiot_1: header.seller.build()?,
        podmiot_2: header.buyer.build()?,
        podmiot_3: Vec::new(),
        podmiot_upowazniony: None,
        fa,
        stopka: None,
        zalacznik: None,
    })
}

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

/// The invoice a correction corrects (`DaneFaKorygowanej`).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectedInvoice {
    issue_date: NaiveDate,
    number: String,
    ksef_number: Option<KsefNumber>,
}

impl CorrectedInvoice {
    /// An invoice sent through KSeF: its issue date, its number (`P_2`) and its KSeF number.
    pub fn in_ksef(issue_date: NaiveDate, number: impl Into<String>, ksef: KsefNumber) -> Self {
        Self {
            issue_date,
            number: number.into(),
            ksef_number: Some(ksef),
        }
    }

    /// An invoice issued outside KSeF: its issue date and number.
    pub fn outside_ksef(issue_date: NaiveDate, number: impl Into<String>) -> Self {
        Self {
            issue_date,
            number: number.into(),
            ksef_number: None,
        }
    }
}

/// A correcting invoice (`RodzajFaktury` KOR).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionInvoice {
    header: InvoiceHeader,
    corrected: CorrectedInvoice,
    reason: String,
    effect: Option<TTypKorektyType>,
    changes: Vec<(Line, Line)>,
}

impl CorrectionInvoice {
    /// A correction of `corrected`, for `reason` (`PrzyczynaKorekty`), with no changed lines yet
    /// (at least one is required).
    pub fn new(
        header: InvoiceHeader,
        corrected: CorrectedInvoice,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            header,
            corrected,
            reason: reason.into(),
            effect: None,
            changes: Vec::new(),
        }
    }

    /// Adds a corrected line: as it stood on the corrected invoice, and as it stands now.
    #[must_use]
    pub fn change(mut self, before: Line, after: Line) -> Self {
        self.changes.push((before, after));
        self
    }

    /// When the correction takes effect in the VAT records (`TypKorekty`).
    #[must_use]
    pub fn with_effect(mut self, effect: TTypKorektyType) -> Self {
        self.effect = Some(effect);
        self
    }

    /// The FA(3) document: each change as two lines (before, marked `StanPrzed`, then after) and
    /// totals that are the differences.
    ///
    /// # Errors
    ///
    /// As [`VatInvoice::build`].
    pub fn build(&self) -> Result<Faktura, BuildError> {
        check_count("Fa/FaWiersz", self.changes.len() * 2)?;
        let mut before_sums = RateSums::default();
        let mut after_sums = RateSums::default();
        let mut lines = Vec::with_capacity(self.changes.len() * 2);
        let mut rates = Vec::new();
        for (i, (before, after)) in self.changes.iter().enumerate() {
            let b = fa_line(before, 2 * i + 1, true)?;
            let a = fa_line(after, 2 * i + 2, false)?;
            before_sums.add(before.rate, b.p_11.expect("set by fa_line"));
            after_sums.add(after.rate, a.p_11.expect("set by fa_line"));
            lines.push(b);
            lines.push(a);
            rates.extend([before.rate, after.rate]);
        }
        let totals = Totals::difference(
            &Totals::new(after_sums.groups()),
            &Totals::new(before_sums.groups()),
        );
        let at = "Fa/DaneFaKorygowanej";
        let content_111 = match &self.corrected.ksef_number {
            Some(n) => FakturaFaDaneFaKorygowanejContent111Type::Content112(
                FakturaFaDaneFaKorygowanejContent112Type {
                    nr_k_se_f: TWybor1Type::_1,
                    nr_k_se_f_fa_korygowanej: n.as_str().to_owned(),
                },
            ),
            None => FakturaFaDaneFaKorygowanejContent111Type::NrKSeFn(TWybor1Type::_1),
        };
        let correction = FakturaFaContent156Type {
            przyczyna_korekty: Some(check_text("Fa/PrzyczynaKorekty", &self.reason, 256)?),
            typ_korekty: self.effect.clone(),
            dane_fa_korygowanej: vec![FakturaFaDaneFaKorygowanej {
                data_wyst_fa_korygowanej: check_date(
                    &format!("{at}/DataWystFaKorygowanej"),
                    self.corrected.issue_date,
                )?,
                nr_fa_korygowanej: check_text(
                    &format!("{at}/NrFaKorygowanej"),
                    &self.corrected.number,
                    256,
                )?,
                content_111,
            }],
            okres_fa_korygowanej: None,
            nr_fa_korygowany: None,
            podmiot_1k: None,
            podmiot_2k: Vec::new(),
            content_157: None,
        };
        let parts = FaParts {
            kind: TRodzajFakturyType::Kor,
            totals,
            lines,
            rates,
            correction: Some(correction),
            order: None,
            event_date: None,
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

/// An advance-payment invoice (`RodzajFaktury` ZAL): documents `amount` (gross) received before
/// the sale, against an order whose items are listed in `Zamowienie`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvanceInvoice {
    header: InvoiceHeader,
    amount: Decimal,
    received_on: Option<NaiveDate>,
    order: Vec<Line>,
}

impl AdvanceInvoice {
    /// An advance invoice for `amount` received (gross, in the invoice currency), with no order
    /// items yet (at least one is required).
    pub fn new(header: InvoiceHeader, amount: Decimal) -> Self {
        Self {
            header,
            amount,
            received_on: None,
            order: Vec::new(),
        }
    }

    /// Adds an item of the order or contract.
    #[must_use]
    pub fn order_line(mut self, line: Line) -> Self {
        self.order.push(line);
        self
    }

    /// The date the payment was received, when it differs from the issue date (`P_6`).
    #[must_use]
    pub fn with_received_on(mut self, date: NaiveDate) -> Self {
        self.received_on = Some(date);
        self
    }

    /// The FA(3) document.
    ///
    /// # Errors
    ///
    /// As [`VatInvoice::build`], and [`BuildError::AdvanceOutOfRange`] when the amount is not
    /// above zero or exceeds the order's gross value.
    pub fn build(&self) -> Result<Faktura, BuildError> {
        let field = "Fa/Zamowienie/ZamowienieWiersz";
        check_count(field, self.order.len())?;
        let mut rows = Vec::with_capacity(self.order.len());
        let mut gross_by_rate: BTreeMap<VatRate, i128> = BTreeMap::new();
        for (i, line) in self.order.iter().enumerate() {
            let at = format!("{field}[{}]", i + 1);
            let checked = line.checked(&at, "P_8BZ", "P_9AZ", "P_11NettoZ")?;
            let net = grosz(checked.net);
            let tax = div_round(net * i128::from(line.rate.percent()), 100);
            *gross_by_rate.entry(line.rate).or_default() += net + tax;
            rows.push(FakturaFaZamowienieZamowienieWiersz {
                nr_wiersza_zam: (i + 1) as u64,
                uu_idz: None,
                p_7z: Some(check_text(&format!("{at}/P_7Z"), &line.name, 512)?),
                indeks_z: None,
                gtinz: None,
                pk_wi_uz: None,
                cnz: None,
                pkobz: None,
                p_8az: line
                    .unit
                    .as_deref()
                    .map(|u| check_text(&format!("{at}/P_8AZ"), u, 256))
                    .transpose()?,
                p_8bz: Some(checked.quantity),
                p_9az: Some(checked.unit_price),
                p_11_netto_z: Some(checked.net),
                p_11_vat_z: Some(check_amount(&format!("{at}/P_11VatZ"), tax)?),
                p_12z: Some(line.rate.to_p12()),
                p_12z_xii: None,
                p_12z_zal_15: None,
                gtuz: None,
                procedura_z: None,
                kwota_akcyzy_z: None,
                stan_przed_z: None,
            });
        }
        let order_total: i128 = gross_by_rate.values().sum();
        let order_value = check_amount("Fa/Zamowienie/WartoscZamowienia", order_total)?;
        let amount = check_decimal("Fa/P_15", self.amount, 16, 2)?;
        let advance = grosz(amount);
        if advance <= 0 || advance > order_total {
            return Err(BuildError::AdvanceOutOfRange {
                advance: amount.to_string(),
                order: order_value.to_string(),
            });
        }
        // The advance split by the order's gross value at each rate; the last part takes the
        // rounding remainder so the parts add up to the advance exactly.
        let mut groups: BTreeMap<Group, (i128, i128)> = BTreeMap::new();
        let mut left = advance;
        let count = gross_by_rate.len();
        for (k, (&rate, &gross)) in gross_by_rate.iter().enumerate() {
            let share = if k + 1 == count {
                left
            } else {
                let weighted =
                    advance
                        .checked_mul(gross)
                        .ok_or_else(|| BuildError::AmountOutOfRange {
                            field: "Fa/P_15".to_owned(),
                            value: format!("{amount} × {}", from_grosz(gross)),
                        })?;
                div_round(weighted, order_total)
            };
            left -= share;
            let pct = i128::from(rate.percent());
            let tax = div_round(share * pct, 100 + pct);
            let entry = groups.entry(rate.group()).or_default();
            entry.0 += share - tax;
            entry.1 += tax;
        }
        let parts = FaParts {
            kind: TRodzajFakturyType::Zal,
            totals: Totals::new(groups),
            lines: Vec::new(),
            rates: self.order.iter().map(|l| l.rate).collect(),
            correction: None,
            order: Some(FakturaFaZamowienie {
                wartosc_zamowienia: order_value,
                zamowienie_wiersz: rows,
            }),
            event_date: self
                .received_on
                .map(|d| check_date("Fa/P_6", d))
                .transpose()?,
            advance_exchange_rate: true,
        };
        assemble(&self.header, parts)
    }

    /// The document as UTF-8 XML.
    ///
    /// # Errors
    ///
    /// As [`AdvanceInvoice::build`].
    pub fn to_xml(&self) -> Result<Vec<u8>, BuildError> {
        Ok(to_xml(&self.build()?)?)
    }
}
