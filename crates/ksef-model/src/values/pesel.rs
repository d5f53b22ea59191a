//! [`Pesel`]: the Polish personal identification number.

use chrono::NaiveDate;
use serde::Serialize;

use super::error::{ChecksumKind, IdentifierError, IdentifierKind};
use super::scan::{Cx, digit_values, number};
use super::{Level, string_identifier};

/// The weights of the first ten PESEL digits.
const WEIGHTS: [u8; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];

/// A PESEL: the eleven-digit Polish personal identification number.
///
/// Every `Pesel` is eleven digits whose month code (third and fourth digits) is one the spec's
/// pattern allows (01-12, 21-32, 41-52, 61-72 or 81-92: the month plus 0, 20, 40, 60 or 80 for
/// births in the 1900s, 2000s, 2100s, 2200s or 1800s). Its last digit should be the check digit:
/// 10 minus the sum of the first ten digits weighted 1, 3, 7, 9, 1, 3, 7, 9, 1, 3, modulo 10.
///
/// The day of month is not checked, as the spec does not check it either; [`Pesel::birth_date`]
/// returns `None` when the encoded date does not exist.
///
/// # Checking levels
///
/// - **Strict** ([`FromStr`](std::str::FromStr), `TryFrom<String>`, `TryFrom<&str>`): digits,
///   month code and check digit. Use it for user input.
/// - **Wire** (deserialization, [`Pesel::parse_wire`]): digits and month code only, which is all
///   the spec's schema requires. No document says KSeF verifies a PESEL's check digit in any
///   environment (it verifies even the NIP's only in production), so, as for a [`Nip`](super::Nip),
///   a PESEL the server sends is not rejected over its check digit. Check it with
///   [`Pesel::has_valid_check_digit`] or [`Pesel::verify_check_digit`] where that matters.
///
/// ```
/// use chrono::NaiveDate;
/// use ksef_model::values::Pesel;
///
/// let pesel: Pesel = "30112206276".parse()?;
/// assert_eq!(pesel.birth_date(), NaiveDate::from_ymd_opt(1930, 11, 22));
/// assert!(pesel.has_valid_check_digit());
/// assert!("30112206277".parse::<Pesel>().is_err()); // wrong check digit
/// assert!("30132206270".parse::<Pesel>().is_err()); // month code 13
///
/// let wire = Pesel::parse_wire("30112206277")?; // as the server may send it
/// assert!(!wire.has_valid_check_digit());
/// assert!(Pesel::parse_wire("30132206270").is_err()); // the month code is always checked
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Pesel(String);

string_identifier!(Pesel);

impl Pesel {
    /// The number of characters of a PESEL.
    pub const LEN: usize = 11;

    /// The check digit for the first ten digits of a PESEL, given as numbers 0-9.
    ///
    /// Returns `None` when an element is greater than 9.
    pub const fn check_digit(first_ten: [u8; 10]) -> Option<u8> {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < 10 {
            if first_ten[i] > 9 {
                return None;
            }
            sum += first_ten[i] as u32 * WEIGHTS[i] as u32;
            i += 1;
        }
        Some(((10 - sum % 10) % 10) as u8)
    }

    /// The date of birth encoded in the first six digits, or `None` if that date does not exist.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let b = self.0.as_bytes();
        let yy = number(&b[0..2]);
        let code = number(&b[2..4]);
        let day = number(&b[4..6]);
        let (century, month) = match code {
            1..=12 => (1900, code),
            21..=32 => (2000, code - 20),
            41..=52 => (2100, code - 40),
            61..=72 => (2200, code - 60),
            81..=92 => (1800, code - 80),
            _ => return None,
        };
        let year = i32::try_from(century + yy).ok()?;
        NaiveDate::from_ymd_opt(year, month, day)
    }

    /// Whether the last digit is the check digit of the first ten (see the type's
    /// documentation). Always `true` for a PESEL parsed with the strict checks.
    pub fn has_valid_check_digit(&self) -> bool {
        self.verify_check_digit().is_ok()
    }

    /// Checks the last digit against the check digit of the first ten, as the strict parsers do.
    ///
    /// # Errors
    ///
    /// [`IdentifierError::Checksum`] with [`ChecksumKind::Pesel`] when they differ.
    pub fn verify_check_digit(&self) -> Result<(), IdentifierError> {
        verify(Cx::new(IdentifierKind::Pesel, &self.0), self.0.as_bytes())
    }

    fn check(input: &str, level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::Pesel, input);
        let b = cx.ascii_with_len(Self::LEN, Self::LEN)?;
        cx.digits(b, 0, Self::LEN)?;
        let code = number(&b[2..4]);
        if !matches!(code, 1..=12 | 21..=32 | 41..=52 | 61..=72 | 81..=92) {
            return Err(cx.date_error(
                2,
                "has a month code outside 01-12, 21-32, 41-52, 61-72 and 81-92",
            ));
        }
        match level {
            Level::Wire => Ok(()),
            Level::Strict => verify(cx, b),
        }
    }
}

/// Checks the check digit of the eleven digits `b` (already checked to be digits).
fn verify(cx: Cx<'_>, b: &[u8]) -> Result<(), IdentifierError> {
    let digits: [u8; 11] = digit_values(b);
    let mut first_ten = [0u8; 10];
    first_ten.copy_from_slice(&digits[..10]);
    match Pesel::check_digit(first_ten) {
        Some(check) if check == digits[10] => Ok(()),
        check => Err(cx.checksum(
            ChecksumKind::Pesel,
            check.map_or_else(String::new, |c| c.to_string()),
            digits[10].to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid() {
        // The test-data example of the Ministry's docs, and numbers from each century band.
        for s in ["30112206276", "44051401359", "02270803624", "00010100008"] {
            assert!(s.parse::<Pesel>().is_ok(), "{s}");
        }
    }

    #[test]
    fn birth_dates_by_century() {
        let p: Pesel = "02270803624".parse().unwrap();
        assert_eq!(p.birth_date(), NaiveDate::from_ymd_opt(2002, 7, 8));
        let p: Pesel = "44051401359".parse().unwrap();
        assert_eq!(p.birth_date(), NaiveDate::from_ymd_opt(1944, 5, 14));
        // Day 00 passes the spec's pattern but is no date.
        let p: Pesel = "00010000001".parse().unwrap();
        assert_eq!(p.birth_date(), None);
    }

    #[test]
    fn rejects_bad_month_code() {
        for s in ["30132206270", "30002206270", "30202206270", "30932206270"] {
            assert!(
                matches!(
                    s.parse::<Pesel>(),
                    Err(IdentifierError::InvalidDate { position: 2, .. })
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_wrong_check_digit() {
        assert_eq!(
            "30112206277".parse::<Pesel>(),
            Err(IdentifierError::Checksum {
                kind: IdentifierKind::Pesel,
                input: "30112206277".into(),
                checksum: ChecksumKind::Pesel,
                expected: "6".into(),
                found: "7".into(),
            })
        );
    }

    #[test]
    fn wire_level_skips_only_the_check_digit() {
        let p = Pesel::parse_wire("30112206277").unwrap();
        assert!(!p.has_valid_check_digit());
        assert_eq!(
            p.verify_check_digit(),
            "30112206277".parse::<Pesel>().map(|_| ())
        );
        assert_eq!(p.birth_date(), NaiveDate::from_ymd_opt(1930, 11, 22));
        assert!(
            Pesel::parse_wire("30112206276")
                .unwrap()
                .has_valid_check_digit()
        );
        assert!(matches!(
            Pesel::parse_wire("30132206270"),
            Err(IdentifierError::InvalidDate { position: 2, .. })
        ));
        assert!(matches!(
            Pesel::parse_wire("3011220627X"),
            Err(IdentifierError::InvalidCharacter { position: 10, .. })
        ));
        assert!(matches!(
            Pesel::parse_wire("3011220627"),
            Err(IdentifierError::Length { .. })
        ));
    }

    #[test]
    fn rejects_length_and_characters() {
        assert!(matches!(
            "3011220627".parse::<Pesel>(),
            Err(IdentifierError::Length { .. })
        ));
        assert!(matches!(
            "3011220627X".parse::<Pesel>(),
            Err(IdentifierError::InvalidCharacter { position: 10, .. })
        ));
    }
}
