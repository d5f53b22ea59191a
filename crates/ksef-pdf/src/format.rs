//! Polish number and date formatting.

/// The thousands separator: a no-break space, so an amount never wraps inside a table cell.
pub(crate) const THOUSANDS: char = '\u{a0}';

/// A decimal from the XML (`-1234.5`) Polish-style (`-1 234,50`): thousands grouped with a
/// no-break space, a decimal comma, and at least `min_decimals` decimals. Text that is not a
/// plain decimal is returned unchanged.
pub(crate) fn decimal(value: &str, min_decimals: usize) -> String {
    let value = value.trim();
    let (sign, digits) = match value.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", value.strip_prefix('+').unwrap_or(value)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 4);
    out.push_str(sign);
    let len = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (len - i) % 3 == 0 {
            out.push(THOUSANDS);
        }
        out.push(ch);
    }
    if !frac.is_empty() || min_decimals > 0 {
        out.push(',');
        out.push_str(frac);
        for _ in frac.len()..min_decimals {
            out.push('0');
        }
    }
    out
}

/// An amount of money: at least two decimals.
pub(crate) fn money(value: &str) -> String {
    decimal(value, 2)
}

/// A quantity, price or rate: the decimals as given.
pub(crate) fn number(value: &str) -> String {
    decimal(value, 0)
}

/// An XML date (`2026-01-15`) as `15.01.2026`; a dateTime keeps its time (`15.01.2026
/// 09:30:00`, zone as given). Anything else is returned unchanged.
pub(crate) fn date(value: &str) -> String {
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[8..10].iter().all(u8::is_ascii_digit)
    {
        let day = format!("{}.{}.{}", &v[8..10], &v[5..7], &v[..4]);
        let rest = &v[10..];
        match rest.strip_prefix('T') {
            Some(time) => format!("{day} {time}"),
            None if rest.is_empty() => day,
            None => v.to_owned(),
        }
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_amounts() {
        assert_eq!(money("27292.28"), "27\u{a0}292,28");
        assert_eq!(money("-1234567.5"), "-1\u{a0}234\u{a0}567,50");
        assert_eq!(money("100"), "100,00");
        assert_eq!(money("0.1"), "0,10");
        assert_eq!(number("300.000"), "300,000");
        assert_eq!(number("7"), "7");
        assert_eq!(number("1000"), "1\u{a0}000");
        assert_eq!(number("zw"), "zw");
        assert_eq!(number("1e5"), "1e5");
    }

    #[test]
    fn polish_dates() {
        assert_eq!(date("2026-01-15"), "15.01.2026");
        assert_eq!(date("2026-03-22T03:27:54Z"), "22.03.2026 03:27:54Z");
        assert_eq!(date("2026-13"), "2026-13");
    }
}
