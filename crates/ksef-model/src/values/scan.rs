//! Small shared pieces of the identifier parsers: a cursor-free "check this range" vocabulary and
//! the CRC-8 used by KSeF numbers and reference numbers.

use chrono::{Datelike, NaiveDate};

use super::error::{ChecksumKind, IdentifierError, IdentifierKind};

/// What is being parsed: the identifier kind and the whole input, for building errors.
#[derive(Clone, Copy)]
pub(super) struct Cx<'a> {
    pub(super) kind: IdentifierKind,
    pub(super) input: &'a str,
}

impl<'a> Cx<'a> {
    pub(super) fn new(kind: IdentifierKind, input: &'a str) -> Self {
        Cx { kind, input }
    }

    /// Checks the length in characters and that every character is ASCII, and returns the bytes.
    ///
    /// After this, byte indices and character indices coincide.
    pub(super) fn ascii_with_len(
        self,
        min: usize,
        max: usize,
    ) -> Result<&'a [u8], IdentifierError> {
        let found = self.input.chars().count();
        if found < min || found > max {
            return Err(IdentifierError::Length {
                kind: self.kind,
                input: self.input.to_owned(),
                min,
                max,
                found,
            });
        }
        if let Some((position, found)) = self.input.chars().enumerate().find(|(_, c)| !c.is_ascii())
        {
            return Err(self.invalid_char(position, found, "an ASCII character"));
        }
        Ok(self.input.as_bytes())
    }

    pub(super) fn invalid_char(
        self,
        position: usize,
        found: char,
        expected: &'static str,
    ) -> IdentifierError {
        IdentifierError::InvalidCharacter {
            kind: self.kind,
            input: self.input.to_owned(),
            position,
            found,
            expected,
        }
    }

    pub(super) fn format(self, position: usize, expected: &'static str) -> IdentifierError {
        IdentifierError::Format {
            kind: self.kind,
            input: self.input.to_owned(),
            position,
            expected,
        }
    }

    pub(super) fn date_error(self, position: usize, reason: &'static str) -> IdentifierError {
        IdentifierError::InvalidDate {
            kind: self.kind,
            input: self.input.to_owned(),
            position,
            reason,
        }
    }

    pub(super) fn checksum(
        self,
        checksum: ChecksumKind,
        expected: String,
        found: String,
    ) -> IdentifierError {
        IdentifierError::Checksum {
            kind: self.kind,
            input: self.input.to_owned(),
            checksum,
            expected,
            found,
        }
    }

    /// Every byte of `b[range]` must satisfy `ok`.
    pub(super) fn each(
        self,
        b: &[u8],
        start: usize,
        len: usize,
        ok: fn(u8) -> bool,
        expected: &'static str,
    ) -> Result<(), IdentifierError> {
        for (i, &c) in b[start..start + len].iter().enumerate() {
            if !ok(c) {
                return Err(self.invalid_char(start + i, char::from(c), expected));
            }
        }
        Ok(())
    }

    pub(super) fn digits(self, b: &[u8], start: usize, len: usize) -> Result<(), IdentifierError> {
        self.each(b, start, len, |c| c.is_ascii_digit(), "a digit")
    }

    pub(super) fn upper_hex(
        self,
        b: &[u8],
        start: usize,
        len: usize,
    ) -> Result<(), IdentifierError> {
        self.each(
            b,
            start,
            len,
            is_upper_hex,
            "an uppercase hex digit (0-9, A-F)",
        )
    }

    pub(super) fn separator(
        self,
        b: &[u8],
        position: usize,
        separator: u8,
    ) -> Result<(), IdentifierError> {
        if b[position] == separator {
            Ok(())
        } else {
            Err(IdentifierError::MissingSeparator {
                kind: self.kind,
                input: self.input.to_owned(),
                position,
                separator: char::from(separator),
                found: char::from(b[position]),
            })
        }
    }

    /// `b[start..start + 8]` must be a `YYYYMMDD` date that KSeF can have written: a real calendar
    /// date with a year from 2020 to 9999 (the year range of the spec's patterns).
    pub(super) fn ksef_date(self, b: &[u8], start: usize) -> Result<NaiveDate, IdentifierError> {
        self.digits(b, start, 8)?;
        let year = number(&b[start..start + 4]);
        let month = number(&b[start + 4..start + 6]);
        let day = number(&b[start + 6..start + 8]);
        if year < 2020 {
            return Err(self.date_error(start, "has a year before 2020"));
        }
        if !(1..=12).contains(&month) {
            return Err(self.date_error(start, "has a month outside 01-12"));
        }
        // `year` has at most four digits, so the conversion cannot fail; treat failure as invalid.
        let year = i32::try_from(year).map_err(|_| self.date_error(start, "is out of range"))?;
        NaiveDate::from_ymd_opt(year, month, day)
            .ok_or_else(|| self.date_error(start, "is not a calendar date"))
    }
}

/// `[0-9A-F]`.
pub(super) fn is_upper_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'A'..=b'F').contains(&c)
}

/// The value of ASCII digits (the caller has checked they are digits).
pub(super) fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
}

/// The value of ASCII digits as numbers 0-9 (the caller has checked they are digits).
pub(super) fn digit_values<const N: usize>(digits: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, d) in out.iter_mut().zip(digits) {
        *o = d.wrapping_sub(b'0');
    }
    out
}

/// The date as the eight characters `YYYYMMDD`.
///
/// Years outside 0..=9999 are written with more characters or a sign, so the result then fails
/// any length check, which is what the `from_parts` constructors rely on.
pub(super) fn yyyymmdd(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// Two uppercase hex digits.
pub(super) fn hex2(byte: u8) -> String {
    format!("{byte:02X}")
}

/// The value of two uppercase hex digits (the caller has checked they are hex digits).
pub(super) fn hex_value(hi: u8, lo: u8) -> u8 {
    fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0,
        }
    }
    (nibble(hi) << 4) | nibble(lo)
}

/// CRC-8 with polynomial 0x07, initial value 0x00, no reflection and no final XOR
/// (the "CRC-8/SMBUS" parameters).
pub(super) const fn crc8(data: &[u8]) -> u8 {
    let mut crc: u8 = 0;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i];
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
            bit += 1;
        }
        i += 1;
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc8_standard_check_value() {
        // The catalogue check value of CRC-8/SMBUS (poly 0x07, init 0, no reflection, no xorout).
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc8(b""), 0x00);
    }

    #[test]
    fn ksef_date_rules() {
        let cx = Cx::new(IdentifierKind::KsefNumber, "x");
        assert_eq!(
            cx.ksef_date(b"20240229", 0).ok(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert!(cx.ksef_date(b"20250229", 0).is_err());
        assert!(cx.ksef_date(b"20191231", 0).is_err());
        assert!(cx.ksef_date(b"20251301", 0).is_err());
        assert!(cx.ksef_date(b"20250100", 0).is_err());
        assert!(cx.ksef_date(b"99991231", 0).is_ok());
    }

    #[test]
    fn hex_helpers() {
        assert_eq!(hex2(0x0A), "0A");
        assert_eq!(hex_value(b'A', b'F'), 0xAF);
        assert_eq!(hex_value(b'0', b'9'), 0x09);
        assert_eq!(
            yyyymmdd(NaiveDate::from_ymd_opt(2025, 8, 26).unwrap()),
            "20250826"
        );
    }
}
