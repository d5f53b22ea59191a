//! What every kind of invoice shares: the sums per rate, the totals, the `FaWiersz` lines and the
//! assembly of the document from the header and the kind's parts.

use std::collections::BTreeMap;

use chrono::DateTime;

use super::arith::{
    check_amount, check_date, check_decimal, check_text, div_round, from_grosz, grosz, mul,
};
use super::{BuildError, ExemptionBasis, Group, InvoiceHeader, Line, MAX_LINES, VatRate};
use crate::xml::Decimal;
use crate::xml::fa3::{
    Faktura, FakturaFa, FakturaFaAdnotacje, FakturaFaAdnotacjeNoweSrodkiTransportu,
    FakturaFaAdnotacjePMarzy, FakturaFaAdnotacjeZwolnienie,
    FakturaFaAdnotacjeZwolnienieContent96Type, FakturaFaAdnotacjeZwolnienieContent97Type,
    FakturaFaContent150Type, FakturaFaContent151Type, FakturaFaContent152Type,
    FakturaFaContent153Type, FakturaFaContent154Type, FakturaFaContent156Type, FakturaFaFaWiersz,
    FakturaFaZamowienie, TKodFormularzaType, TKodWalutyType, TNaglowekKodFormularza, TNaglowekType,
    TNaglowekWariantFormularza, TRodzajFakturyType, TWybor1Type, TWybor12Type,
};

/// Net sums per rate, in grosz.
#[derive(Default)]
pub(super) struct RateSums(BTreeMap<VatRate, i128>);

impl RateSums {
    pub(super) fn add(&mut self, rate: VatRate, net: Decimal) {
        *self.0.entry(rate).or_default() += grosz(net);
    }

    /// Net and tax per group, in grosz: the tax computed on each rate's net sum.
    pub(super) fn groups(&self) -> BTreeMap<Group, (i128, i128)> {
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
pub(super) struct Totals {
    groups: BTreeMap<Group, (i128, i128)>,
    due: i128,
}

impl Totals {
    pub(super) fn new(groups: BTreeMap<Group, (i128, i128)>) -> Self {
        let due = groups.values().map(|(net, tax)| net + tax).sum();
        Self { groups, due }
    }

    /// `after - before`, group by group (a group of either side is kept, even when it nets to 0).
    pub(super) fn difference(after: &Self, before: &Self) -> Self {
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
pub(super) struct FaParts {
    pub(super) kind: TRodzajFakturyType,
    pub(super) totals: Totals,
    pub(super) lines: Vec<FakturaFaFaWiersz>,
    pub(super) rates: Vec<VatRate>,
    pub(super) correction: Option<FakturaFaContent156Type>,
    pub(super) order: Option<FakturaFaZamowienie>,
    pub(super) event_date: Option<String>,
    pub(super) advance_exchange_rate: bool,
}

pub(super) fn check_count(field: &'static str, count: usize) -> Result<(), BuildError> {
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
pub(super) fn fa_line(
    line: &Line,
    number: usize,
    before: bool,
) -> Result<FakturaFaFaWiersz, BuildError> {
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
pub(super) fn assemble(header: &InvoiceHeader, parts: FaParts) -> Result<Faktura, BuildError> {
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
