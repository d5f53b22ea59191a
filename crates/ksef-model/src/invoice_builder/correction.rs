//! The correcting invoice (KOR).

use chrono::NaiveDate;

use super::arith::{check_date, check_text};
use super::assemble::{FaParts, RateSums, Totals, assemble, check_count, fa_line};
use super::{BuildError, InvoiceHeader, Line};
use crate::values::KsefNumber;
use crate::xml::fa3::{
    Faktura, FakturaFaContent156Type, FakturaFaDaneFaKorygowanej,
    FakturaFaDaneFaKorygowanejContent111Type, FakturaFaDaneFaKorygowanejContent112Type,
    TRodzajFakturyType, TTypKorektyType, TWybor1Type,
};
use crate::xml::to_xml;

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
    /// As [`VatInvoice::build`](super::VatInvoice::build).
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
    /// As [`VatInvoice::build`](super::VatInvoice::build).
    pub fn to_xml(&self) -> Result<Vec<u8>, BuildError> {
        Ok(to_xml(&self.build()?)?)
    }
}
