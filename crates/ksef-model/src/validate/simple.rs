//! Checks of simple values: whitespace normalisation, the builtin type's lexical space and every
//! facet of every restriction step.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

use super::Rule;
use super::tables::{Builtin, Facets, SchemaTables, Variety, WhiteSpace};

/// The compiled patterns of one schema, built on first use.
pub(crate) fn regexes(
    t: &'static SchemaTables,
    cache: &'static OnceLock<Vec<Regex>>,
) -> &'static [Regex] {
    cache.get_or_init(|| {
        t.patterns
            .iter()
            .map(|p| {
                Regex::new(p.regex).unwrap_or_else(|e| panic!("generated pattern {}: {e}", p.regex))
            })
            .collect()
    })
}

/// XSD whitespace normalisation.
pub(crate) fn normalize(value: &str, ws: WhiteSpace) -> Cow<'_, str> {
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    match ws {
        WhiteSpace::Preserve => Cow::Borrowed(value),
        WhiteSpace::Replace => {
            if value.contains(['\t', '\n', '\r']) {
                Cow::Owned(value.replace(['\t', '\n', '\r'], " "))
            } else {
                Cow::Borrowed(value)
            }
        }
        WhiteSpace::Collapse => {
            let trimmed = value.trim_matches(is_ws);
            let needs = trimmed.contains(['\t', '\n', '\r']) || trimmed.contains("  ");
            if !needs {
                return Cow::Borrowed(trimmed);
            }
            let mut out = String::with_capacity(trimmed.len());
            let mut space = false;
            for c in trimmed.chars() {
                if is_ws(c) {
                    space = true;
                } else {
                    if space {
                        out.push(' ');
                        space = false;
                    }
                    out.push(c);
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Checks `raw` against simple type `st`; the first rule broken and the normalised value.
pub(crate) fn check(
    t: &'static SchemaTables,
    res: &[Regex],
    st: u16,
    raw: &str,
) -> Result<(), (Rule, String)> {
    let ty = &t.simple[usize::from(st)];
    match &ty.variety {
        Variety::Union(members) => {
            if members.iter().any(|&m| check(t, res, m, raw).is_ok()) {
                Ok(())
            } else {
                Err((
                    Rule::Datatype { ty: ty.name },
                    normalize(raw, WhiteSpace::Collapse).into_owned(),
                ))
            }
        }
        Variety::Atomic {
            builtin,
            whitespace,
            steps,
        } => {
            let value = normalize(raw, *whitespace);
            check_atomic(t, res, ty.name, *builtin, *whitespace, &value, steps)
                .map_err(|rule| (rule, value.into_owned()))
        }
    }
}

fn check_atomic(
    t: &'static SchemaTables,
    res: &[Regex],
    name: &'static str,
    builtin: Builtin,
    ws: WhiteSpace,
    value: &str,
    steps: &'static [Facets],
) -> Result<(), Rule> {
    let parsed = lexical(builtin, value).ok_or(Rule::Datatype {
        ty: builtin_name(builtin, name),
    })?;
    for step in steps {
        if !step.patterns.is_empty()
            && !step
                .patterns
                .iter()
                .any(|&p| res[usize::from(p)].is_match(value))
        {
            let p = &t.patterns[usize::from(step.patterns[0])];
            return Err(Rule::Pattern { pattern: p.xsd });
        }
        if !step.enumeration.is_empty()
            && !step
                .enumeration
                .iter()
                .any(|e| equal(builtin, &parsed, value, e, ws))
        {
            return Err(Rule::Enumeration {
                allowed: step.enumeration,
            });
        }
        if let Some(len) = length(builtin, value) {
            if let Some(n) = step.length
                && len != n as usize
            {
                return Err(Rule::Length(n));
            }
            if let Some(n) = step.min_length
                && len < n as usize
            {
                return Err(Rule::MinLength(n));
            }
            if let Some(n) = step.max_length
                && len > n as usize
            {
                return Err(Rule::MaxLength(n));
            }
        }
        if let Value::Decimal(d) = &parsed {
            if let Some(n) = step.total_digits
                && d.total_digits() > n as usize
            {
                return Err(Rule::TotalDigits(n));
            }
            if let Some(n) = step.fraction_digits
                && d.frac.len() > n as usize
            {
                return Err(Rule::FractionDigits(n));
            }
        }
        let cmp = |bound: &str| compare(builtin, &parsed, bound);
        if let Some(b) = step.min_inclusive
            && cmp(b).is_some_and(|o| o == Ordering::Less)
        {
            return Err(Rule::MinInclusive(b));
        }
        if let Some(b) = step.max_inclusive
            && cmp(b).is_some_and(|o| o == Ordering::Greater)
        {
            return Err(Rule::MaxInclusive(b));
        }
        if let Some(b) = step.min_exclusive
            && cmp(b).is_some_and(|o| o != Ordering::Greater)
        {
            return Err(Rule::MinExclusive(b));
        }
        if let Some(b) = step.max_exclusive
            && cmp(b).is_some_and(|o| o != Ordering::Less)
        {
            return Err(Rule::MaxExclusive(b));
        }
    }
    Ok(())
}

fn builtin_name(b: Builtin, fallback: &'static str) -> &'static str {
    match b {
        Builtin::Decimal => "xs:decimal",
        Builtin::Integer => "xs:integer",
        Builtin::NonNegativeInteger => "xs:nonNegativeInteger",
        Builtin::PositiveInteger => "xs:positiveInteger",
        Builtin::Int => "xs:int",
        Builtin::Byte => "xs:byte",
        Builtin::Long => "xs:long",
        Builtin::Short => "xs:short",
        Builtin::Date => "xs:date",
        Builtin::DateTime => "xs:dateTime",
        Builtin::GYear => "xs:gYear",
        Builtin::Boolean => "xs:boolean",
        _ => fallback,
    }
}

/// A value in the builtin's value space, as far as facets need it.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    Text,
    Decimal(Dec<'a>),
    /// Date/time: a sortable key (year, month, day, seconds of day in nanoseconds, offset known).
    Moment(Moment),
}

/// A decimal number: sign, integer digits without leading zeros, fraction digits without
/// trailing zeros (so `0012.500` is `12.5`, and zero has no digits at all).
#[derive(Debug, PartialEq, Clone, Copy)]
pub(crate) struct Dec<'a> {
    pub(crate) negative: bool,
    pub(crate) int: &'a str,
    pub(crate) frac: &'a str,
}

impl Dec<'_> {
    /// Parses the lexical form of `xs:decimal` (`[+-]?(\d+(\.\d*)?|\.\d+)`).
    pub(crate) fn parse(s: &str) -> Option<Dec<'_>> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        Some(Dec {
            negative: negative && !(int.is_empty() && frac.is_empty()),
            int,
            frac,
        })
    }

    /// `totalDigits` as XSD counts them: significant digits of the value.
    pub(crate) fn total_digits(&self) -> usize {
        self.int.len() + self.frac.len()
    }

    fn cmp_abs(&self, other: &Dec<'_>) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(other.int))
            .then_with(|| self.frac.cmp(other.frac))
    }

    pub(crate) fn cmp(&self, other: &Dec<'_>) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_abs(other),
            (true, true) => other.cmp_abs(self),
        }
    }
}

/// A point in time or a date, comparable when both have (or both lack) a timezone.
#[derive(Debug, PartialEq, Clone, Copy)]
struct Moment {
    year: i64,
    month: u8,
    day: u8,
    /// Nanoseconds since midnight, timezone applied.
    nanos: i64,
    tz: Option<i32>,
}

impl Moment {
    fn key(&self) -> (i64, i64) {
        let days = days_from_civil(self.year, self.month, self.day);
        let offset = i64::from(self.tz.unwrap_or(0)) * 60_000_000_000;
        let total = days as i128 * 86_400_000_000_000 + i128::from(self.nanos) - i128::from(offset);
        (
            (total.div_euclid(86_400_000_000_000)) as i64,
            total.rem_euclid(86_400_000_000_000) as i64,
        )
    }
}

fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn lexical(b: Builtin, v: &str) -> Option<Value<'_>> {
    use Builtin as B;
    fn integer(v: &str) -> Option<Dec<'_>> {
        let d = Dec::parse(v)?;
        (!v.contains('.')).then_some(d)
    }
    let ranged = |v, lo: i128, hi: i128| -> Option<Value<'_>> {
        let d = integer(v)?;
        if d.int.len() > 20 {
            return None;
        }
        let n: i128 = if d.int.is_empty() {
            0
        } else {
            d.int.parse().ok()?
        };
        let n = if d.negative { -n } else { n };
        (lo..=hi).contains(&n).then_some(Value::Decimal(d))
    };
    Some(match b {
        B::AnySimpleType | B::String | B::NormalizedString | B::Token | B::AnyUri => Value::Text,
        B::Language => {
            let ok = v.split('-').enumerate().all(|(i, part)| {
                (1..=8).contains(&part.len())
                    && if i == 0 {
                        part.bytes().all(|c| c.is_ascii_alphabetic())
                    } else {
                        part.bytes().all(|c| c.is_ascii_alphanumeric())
                    }
            });
            ok.then_some(Value::Text)?
        }
        B::Boolean => matches!(v, "true" | "false" | "1" | "0").then_some(Value::Text)?,
        B::Decimal => Value::Decimal(Dec::parse(v)?),
        B::Integer => Value::Decimal(integer(v)?),
        B::NonNegativeInteger
        | B::UnsignedLong
        | B::UnsignedInt
        | B::UnsignedShort
        | B::UnsignedByte => {
            let d = integer(v)?;
            if d.negative {
                return None;
            }
            match b {
                B::UnsignedLong => ranged(v, 0, u64::MAX.into())?,
                B::UnsignedInt => ranged(v, 0, u32::MAX.into())?,
                B::UnsignedShort => ranged(v, 0, u16::MAX.into())?,
                B::UnsignedByte => ranged(v, 0, u8::MAX.into())?,
                _ => Value::Decimal(d),
            }
        }
        B::PositiveInteger => {
            let d = integer(v)?;
            (!d.negative && !d.int.is_empty()).then_some(Value::Decimal(d))?
        }
        B::NonPositiveInteger => {
            let d = integer(v)?;
            (d.negative || d.int.is_empty()).then_some(Value::Decimal(d))?
        }
        B::NegativeInteger => {
            let d = integer(v)?;
            d.negative.then_some(Value::Decimal(d))?
        }
        B::Long => ranged(v, i64::MIN.into(), i64::MAX.into())?,
        B::Int => ranged(v, i32::MIN.into(), i32::MAX.into())?,
        B::Short => ranged(v, i16::MIN.into(), i16::MAX.into())?,
        B::Byte => ranged(v, i8::MIN.into(), i8::MAX.into())?,
        B::Date => Value::Moment(date_time(v, true, false)?),
        B::DateTime => Value::Moment(date_time(v, true, true)?),
        B::Time => Value::Moment(date_time(&format!("2000-01-01T{v}"), true, true)?),
        B::GYear => Value::Moment(date_time(v, false, false)?),
        B::GYearMonth => {
            let (ym, tz) = split_tz(v);
            Value::Moment(date_time(&format!("{ym}-01{tz}"), true, false)?)
        }
        B::Base64Binary => base64_len(v).map(|_| Value::Text)?,
        B::HexBinary => (v.len().is_multiple_of(2) && v.bytes().all(|c| c.is_ascii_hexdigit()))
            .then_some(Value::Text)?,
    })
}

fn split_tz(v: &str) -> (&str, &str) {
    if let Some(stripped) = v.strip_suffix('Z') {
        return (stripped, "Z");
    }
    if v.len() > 6 {
        let (a, b) = v.split_at(v.len() - 6);
        if (b.starts_with('+') || b.starts_with('-')) && b.as_bytes()[3] == b':' {
            return (a, b);
        }
    }
    (v, "")
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `-?YYYY[-MM-DD[Thh:mm:ss(.s+)?]](Z|±hh:mm)?` as libxml2 accepts it.
fn date_time(v: &str, with_date: bool, with_time: bool) -> Option<Moment> {
    let (body, tz) = split_tz(v);
    let tz = match tz {
        "" => None,
        "Z" => Some(0),
        t => {
            let h = digits(&t[1..3], 2)? as i32;
            let m = digits(&t[4..6], 2)? as i32;
            if h > 14 || m > 59 || (h == 14 && m != 0) {
                return None;
            }
            Some(if t.starts_with('-') {
                -(h * 60 + m)
            } else {
                h * 60 + m
            })
        }
    };
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let year_len = body.bytes().take_while(u8::is_ascii_digit).count();
    if year_len < 4 || (year_len > 4 && body.starts_with('0')) || year_len > 18 {
        return None;
    }
    let year: i64 = body[..year_len].parse().ok()?;
    if year == 0 {
        return None;
    }
    let year = if negative { -year } else { year };
    let rest = &body[year_len..];
    let mut m = Moment {
        year,
        month: 1,
        day: 1,
        nanos: 0,
        tz,
    };
    if !with_date {
        return rest.is_empty().then_some(m);
    }
    let rest = rest.strip_prefix('-')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let (mm, dd) = date.split_once('-')?;
    m.month = u8::try_from(digits(mm, 2)?).ok()?;
    m.day = u8::try_from(digits(dd, 2)?).ok()?;
    if !(1..=12).contains(&m.month) || m.day == 0 || m.day > days_in_month(year, m.month) {
        return None;
    }
    match (with_time, time) {
        (false, None) => Some(m),
        (true, Some(time)) => {
            let (hms, frac) = match time.split_once('.') {
                Some((a, f)) => {
                    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    (a, f)
                }
                None => (time, ""),
            };
            let mut parts = hms.split(':');
            let h = digits(parts.next()?, 2)?;
            let mi = digits(parts.next()?, 2)?;
            let s = digits(parts.next()?, 2)?;
            if parts.next().is_some() || mi > 59 || s > 59 {
                return None;
            }
            let frac_zero = frac.bytes().all(|b| b == b'0');
            if h > 24 || (h == 24 && (mi != 0 || s != 0 || !frac_zero)) {
                return None;
            }
            let mut nanos = i64::from(h * 3600 + mi * 60 + s) * 1_000_000_000;
            let f9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            nanos += f9.parse::<i64>().ok()?;
            m.nanos = nanos;
            Some(m)
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 => {
            // libxml2 counts leap years on the year as written (no year zero shift).
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if leap { 29 } else { 28 }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn base64_len(v: &str) -> Option<usize> {
    let chars: Vec<u8> = v.bytes().filter(|b| *b != b' ').collect();
    if !chars.len().is_multiple_of(4) {
        return None;
    }
    let pad = chars.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 2
        || !chars[..chars.len() - pad]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return None;
    }
    Some(chars.len() / 4 * 3 - pad)
}

/// The length `length`/`minLength`/`maxLength` measure: characters, or octets for binaries.
fn length(b: Builtin, v: &str) -> Option<usize> {
    match b {
        Builtin::Base64Binary => base64_len(v),
        Builtin::HexBinary => Some(v.len() / 2),
        Builtin::String
        | Builtin::NormalizedString
        | Builtin::Token
        | Builtin::Language
        | Builtin::AnyUri
        | Builtin::AnySimpleType => Some(v.chars().count()),
        _ => None,
    }
}

fn equal(b: Builtin, parsed: &Value<'_>, value: &str, literal: &str, ws: WhiteSpace) -> bool {
    match parsed {
        Value::Text => normalize(literal, ws) == value,
        _ => compare(b, parsed, literal) == Some(Ordering::Equal),
    }
}

fn compare(b: Builtin, parsed: &Value<'_>, literal: &str) -> Option<Ordering> {
    let literal = literal.trim();
    match (parsed, lexical(b, literal)?) {
        (Value::Decimal(a), Value::Decimal(bound)) => Some(a.cmp(&bound)),
        (Value::Moment(a), Value::Moment(bound)) => {
            if a.tz.is_some() != bound.tz.is_some() {
                // Comparable only within ±14h; compare as if both were UTC.
                let (x, y) = (Moment { tz: None, ..*a }, Moment { tz: None, ..bound });
                return Some(x.key().cmp(&y.key()));
            }
            Some(a.key().cmp(&bound.key()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits_are_counted_as_xsd_does() {
        let d = |s| Dec::parse(s).unwrap();
        assert_eq!((d("0012.500").int, d("0012.500").frac), ("12", "5"));
        assert_eq!(d("0012.500").total_digits(), 3);
        assert_eq!(d("123.0").total_digits(), 3);
        assert_eq!(d("0.001").frac.len(), 3);
        assert_eq!(d("00.00").total_digits(), 0);
        assert!(!d("-0").negative, "minus zero is zero");
        assert_eq!(d(".5").frac, "5");
        assert_eq!(d("5.").int, "5");
        assert!(Dec::parse("1.2e1").is_none());
        assert!(Dec::parse(".").is_none());
        assert!(Dec::parse("").is_none());
        assert!(Dec::parse("+").is_none());
        assert!(Dec::parse("1 2").is_none());
        assert_eq!(d("-1.5").cmp(&d("-1.25")), Ordering::Less);
        assert_eq!(d("10").cmp(&d("9.99")), Ordering::Greater);
        assert_eq!(d("0.0").cmp(&d("-0")), Ordering::Equal);
    }

    #[test]
    fn dates_follow_libxml2() {
        let ok = |s| date_time(s, true, false).is_some();
        assert!(ok("2024-02-29"));
        assert!(!ok("2023-02-29"));
        assert!(!ok("2023-13-01"));
        assert!(!ok("0000-01-01"));
        assert!(ok("-0001-01-01"));
        assert!(ok("12024-01-01"));
        assert!(!ok("02024-01-01"));
        assert!(ok("2024-01-01+14:00"));
        assert!(!ok("2024-01-01+14:01"));
        assert!(!ok("2024-1-01"));
        let dt = |s| date_time(s, true, true).is_some();
        assert!(dt("2024-01-01T24:00:00"));
        assert!(!dt("2024-01-01T24:00:01"));
        assert!(!dt("2024-01-01T23:59:60"));
        assert!(dt("2024-01-01T23:59:59.123456789Z"));
        assert!(!dt("2024-01-01T23:59:59."));
        assert!(!dt("2024-01-01T23:59"));
        assert!(dt("2024-01-01T23:59:59-13:59"));
        let y = |s| date_time(s, false, false).is_some();
        assert!(y("-2024") && y("20240") && y("2024Z"));
        assert!(!y("0000") && !y("024"));
    }

    #[test]
    fn whitespace_normalisation() {
        assert_eq!(normalize(" a \t b\n", WhiteSpace::Collapse), "a b");
        assert_eq!(normalize("a\tb", WhiteSpace::Replace), "a b");
        assert_eq!(normalize(" a ", WhiteSpace::Preserve), " a ");
    }
}
