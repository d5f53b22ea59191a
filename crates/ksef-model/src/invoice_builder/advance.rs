//! The advance-payment invoice (ZAL).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::arith::{
    check_amount, check_date, check_decimal, check_text, div_round, from_grosz, grosz,
};
use super::assemble::{FaParts, Totals, assemble, check_count};
use super::{BuildError, Group, InvoiceHeader, Line, VatRate};
use crate::xml::fa3::{
    Faktura, FakturaFaZamowienie, FakturaFaZamowienieZamowienieWiersz, TRodzajFakturyType,
};
use crate::xml::{Decimal, to_xml};

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
    /// As [`VatInvoice::build`](super::VatInvoice::build), and [`BuildError::AdvanceOutOfRange`]
    /// when the amount is not above zero or exceeds the order's gross value.
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
