//! Exact amount arithmetic and the value checks the builder applies before anything reaches the
//! document: rounding to the grosz, the digit limits of the schema's number types, the text and
//! date limits.

use chrono::NaiveDate;

use super::BuildError;
use crate::xml::Decimal;

/// `10^n` as an `i128` (`n` at most 38).
fn pow10(n: u32) -> i128 {
    10_i128.pow(n)
}

/// `n / d` rounded to the nearest integer, halves away from zero (`d` > 0).
pub(super) fn div_round(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

/// A value rounded to two fraction digits (the grosz), halves away from zero: 0.005 becomes 0.01
/// and -0.005 becomes -0.01, so a correction's negative amounts mirror the positive ones.
pub(super) fn round_to_grosz(value: Decimal) -> Decimal {
    let (m, s) = (value.mantissa(), value.scale());
    if s <= 2 {
        Decimal::new(m * pow10(2 - s), 2)
    } else {
        Decimal::new(div_round(m, pow10(s - 2)), 2)
    }
}

/// `a × b`, exact, or `None` when the digits do not fit.
pub(super) fn mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    let m = a.mantissa().checked_mul(b.mantissa())?;
    let s = a.scale().checked_add(b.scale())?;
    (s <= 38).then(|| Decimal::new(m, s))
}

/// The mantissa of a value at exactly two fraction digits (values already in grosz).
pub(super) fn grosz(value: Decimal) -> i128 {
    round_to_grosz(value).mantissa()
}

/// An amount of `m` grosz.
pub(super) fn from_grosz(m: i128) -> Decimal {
    Decimal::new(m, 2)
}

/// Number of decimal digits of `n` (0 has one).
fn digits(n: u128) -> u32 {
    n.checked_ilog10().map_or(1, |d| d + 1)
}

/// Checks a decimal against a schema number type: at most `int_digits` digits before the point
/// and `frac_digits` after it.
pub(super) fn check_decimal(
    field: &str,
    value: Decimal,
    int_digits: u32,
    frac_digits: u32,
) -> Result<Decimal, BuildError> {
    if value.scale() > frac_digits {
        return Err(BuildError::TooManyFractionDigits {
            field: field.to_owned(),
            value: value.to_string(),
            max: frac_digits,
        });
    }
    let int_part = value.mantissa().unsigned_abs() / 10_u128.pow(value.scale());
    if int_part != 0 && digits(int_part) > int_digits {
        return Err(BuildError::AmountOutOfRange {
            field: field.to_owned(),
            value: value.to_string(),
        });
    }
    Ok(value)
}

/// Checks an amount of `TKwotowy` (16 digits before the point, 2 after).
pub(super) fn check_amount(field: &str, grosz: i128) -> Result<Decimal, BuildError> {
    check_decimal(field, from_grosz(grosz), 16, 2)
}

/// The characters XML 1.0 forbids or KSeF refuses as discouraged.
fn forbidden_char(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || (0x7F..=0x84).contains(&u)
        || (0x86..=0x9F).contains(&u)
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
}

/// A text value as the schema's `token` types hold it: runs of spaces, tabs and line breaks
/// collapsed to one space, no leading or trailing space, between 1 and `max` characters, and no
/// character XML or KSeF refuses. Collapsing here keeps the value unchanged by a write and a read.
pub(super) fn check_text(field: &str, value: &str, max: usize) -> Result<String, BuildError> {
    let text = value
        .split([' ', '\t', '\n', '\r'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let invalid = |reason: &'static str| BuildError::InvalidText {
        field: field.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(invalid("is empty"));
    }
    if text.chars().count() > max {
        return Err(BuildError::TextTooLong {
            field: field.to_owned(),
            max,
        });
    }
    if text.chars().any(forbidden_char) {
        return Err(invalid(
            "holds a control or non-character code point refused by XML or KSeF",
        ));
    }
    Ok(text)
}

/// A date of the schema's `TDataT` type (2006-01-01 to 2050-01-01), written `YYYY-MM-DD`.
pub(super) fn check_date(field: &str, date: NaiveDate) -> Result<String, BuildError> {
    let min = NaiveDate::from_ymd_opt(2006, 1, 1).expect("valid date");
    let max = NaiveDate::from_ymd_opt(2050, 1, 1).expect("valid date");
    if date < min || date > max {
        return Err(BuildError::DateOutOfRange {
            field: field.to_owned(),
            date: date.to_string(),
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    Ok(date.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero_to_the_grosz() {
        let r = |s: &str| round_to_grosz(s.parse().unwrap()).to_string();
        assert_eq!(r("1.005"), "1.01");
        assert_eq!(r("1.0049999"), "1.00");
        assert_eq!(r("-1.005"), "-1.01");
        assert_eq!(r("-1.004"), "-1.00");
        assert_eq!(r("2"), "2.00");
        assert_eq!(r("0.5"), "0.50");
        assert_eq!(div_round(5, 10), 1);
        assert_eq!(div_round(-5, 10), -1);
        assert_eq!(div_round(14, 10), 1);
    }

    #[test]
    fn digit_limits_are_enforced() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(check_decimal("x", d("1234567890123456.12"), 16, 2).is_ok());
        assert!(matches!(
            check_decimal("x", d("12345678901234567"), 16, 2),
            Err(BuildError::AmountOutOfRange { .. })
        ));
        assert!(matches!(
            check_decimal("x", d("1.123"), 16, 2),
            Err(BuildError::TooManyFractionDigits { max: 2, .. })
        ));
    }

    #[test]
    fn text_is_collapsed_and_checked() {
        assert_eq!(check_text("f", "  a \t b\n", 10).unwrap(), "a b");
        assert!(matches!(
            check_text("f", " \n ", 10),
            Err(BuildError::InvalidText { .. })
        ));
        assert!(matches!(
            check_text("f", "abc", 2),
            Err(BuildError::TextTooLong { max: 2, .. })
        ));
        assert!(check_text("f", "a\u{1}b", 10).is_err());
        assert!(check_text("f", "a\u{85}b", 10).is_ok());
        assert!(check_text("f", "a\u{9F}b", 10).is_err());
    }
}
