//! [`Nip`]: the Polish tax identification number.

use serde::Serialize;

use super::error::{ChecksumKind, IdentifierError, IdentifierKind};
use super::scan::{Cx, digit_values};
use super::{Level, string_identifier};

/// The weights of the first nine NIP digits.
const WEIGHTS: [u8; 9] = [6, 5, 7, 2, 3, 4, 5, 6, 7];

/// A NIP (numer identyfikacji podatkowej): the ten-digit Polish tax identification number.
///
/// Every `Nip` matches the spec's pattern `^[1-9]((\d[1-9])|([1-9]\d))\d{7}$` (ten digits, no
/// leading zero, the second and third digits not both zero). Its tenth digit should be the check
/// digit: the sum of the first nine digits weighted 6, 5, 7, 2, 3, 4, 5, 6, 7, modulo 11 (a
/// remainder of 10 matches no digit, so such prefixes never form a valid NIP).
///
/// # Checking levels
///
/// - **Strict** ([`FromStr`](std::str::FromStr), `TryFrom<String>`, `TryFrom<&str>`,
///   [`Nip::from_first_nine`]): pattern and check digit. Use it for user input.
/// - **Wire** (deserialization, [`Nip::parse_wire`]): the pattern only. KSeF verifies the check
///   digit only in the production environment; the TEST environment accepts NIPs with a wrong
///   check digit (integrators use random NIPs there) and sends them back in KSeF numbers, context
///   identifiers and metadata, which must not fail to parse.
///
/// A `Nip` may therefore hold a wrong check digit if it was deserialized or built with
/// [`Nip::parse_wire`] (or taken from a composite identifier that was). Check it with
/// [`Nip::has_valid_check_digit`] or [`Nip::verify_check_digit`] where that matters (e.g. when
/// behaving like the production environment).
///
/// ```
/// use ksef_model::values::{IdentifierError, Nip};
///
/// let nip: Nip = "5265877635".parse()?;
/// assert_eq!(nip.as_str(), "5265877635");
/// assert!(nip.has_valid_check_digit());
/// assert!("5265877636".parse::<Nip>().is_err()); // wrong check digit
/// assert!("0265877635".parse::<Nip>().is_err()); // leading zero
/// assert_eq!(Nip::check_digit([5, 2, 6, 5, 8, 7, 7, 6, 3]), Some(5));
///
/// // As KSeF's TEST environment may send it: the pattern holds, the check digit does not.
/// let wire = Nip::parse_wire("5265877636")?;
/// assert!(!wire.has_valid_check_digit());
/// assert!(matches!(wire.verify_check_digit(), Err(IdentifierError::Checksum { .. })));
/// assert!(Nip::parse_wire("0265877635").is_err()); // the pattern is always checked
/// # Ok::<(), IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Nip(String);

string_identifier!(Nip);

impl Nip {
    /// The number of characters of a NIP.
    pub const LEN: usize = 10;

    /// The check digit for the first nine digits of a NIP, given as numbers 0-9.
    ///
    /// Returns `None` when the weighted sum leaves remainder 10 (no NIP starts with these digits)
    /// or when an element is greater than 9.
    pub const fn check_digit(first_nine: [u8; 9]) -> Option<u8> {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < 9 {
            if first_nine[i] > 9 {
                return None;
            }
            sum += first_nine[i] as u32 * WEIGHTS[i] as u32;
            i += 1;
        }
        let rest = (sum % 11) as u8;
        if rest == 10 { None } else { Some(rest) }
    }

    /// Builds a NIP from its first nine digits (numbers 0-9) by appending the check digit.
    ///
    /// # Errors
    ///
    /// [`IdentifierError::NoValidCheckDigit`] when no check digit exists for these digits, and
    /// [`IdentifierError::InvalidCharacter`] when they break the spec's pattern (a leading zero, or
    /// zero second and third digits) or an element is greater than 9 (written as `?`). The error's
    /// input is the nine digits written out.
    pub fn from_first_nine(first_nine: [u8; 9]) -> Result<Self, IdentifierError> {
        let mut text: String = first_nine
            .iter()
            .map(|&d| if d <= 9 { char::from(b'0' + d) } else { '?' })
            .collect();
        let cx = Cx::new(IdentifierKind::Nip, &text);
        check_pattern(cx, text.as_bytes(), 0, Self::LEN - 1)?;
        let check = expected_check_digit(cx, text.as_bytes(), 0)?;
        text.push(char::from(b'0' + check));
        Ok(Nip(text))
    }

    /// Whether the tenth digit is the check digit of the first nine (see the type's
    /// documentation). Always `true` for a NIP parsed with the strict checks.
    pub fn has_valid_check_digit(&self) -> bool {
        self.verify_check_digit().is_ok()
    }

    /// Checks the tenth digit against the check digit of the first nine, as the strict parsers
    /// and KSeF's production environment do.
    ///
    /// # Errors
    ///
    /// [`IdentifierError::Checksum`] with [`ChecksumKind::Nip`] when they differ, and
    /// [`IdentifierError::NoValidCheckDigit`] when the first nine digits have no check digit.
    pub fn verify_check_digit(&self) -> Result<(), IdentifierError> {
        verify_at(Cx::new(IdentifierKind::Nip, &self.0), self.0.as_bytes(), 0)
    }

    /// Checks a stand-alone NIP.
    fn check(input: &str, level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::Nip, input);
        let bytes = cx.ascii_with_len(Self::LEN, Self::LEN)?;
        check_at(cx, bytes, 0, level)
    }

    /// Wraps text already checked as a NIP at wire level at least (for the accessors of composite
    /// identifiers).
    pub(super) fn from_checked(text: &str) -> Self {
        Nip(text.to_owned())
    }
}

/// Checks that `b[start..start + 10]` is a NIP at `level` (the pattern, and at the strict level
/// the check digit); errors point into the whole input of `cx`.
///
/// `b` is ASCII and long enough (the caller has checked the overall length).
pub(super) fn check_at(
    cx: Cx<'_>,
    b: &[u8],
    start: usize,
    level: Level,
) -> Result<(), IdentifierError> {
    check_pattern(cx, b, start, Nip::LEN)?;
    match level {
        Level::Wire => Ok(()),
        Level::Strict => verify_at(cx, b, start),
    }
}

/// Checks that `b[start..start + len]` (the whole NIP, or its first nine digits) are digits that
/// can start a NIP under the spec's pattern: no leading zero, second and third digits not both 0.
fn check_pattern(cx: Cx<'_>, b: &[u8], start: usize, len: usize) -> Result<(), IdentifierError> {
    cx.digits(b, start, len)?;
    if b[start] == b'0' {
        return Err(cx.invalid_char(start, '0', "a digit 1-9 (a NIP does not start with 0)"));
    }
    if b[start + 1] == b'0' && b[start + 2] == b'0' {
        return Err(cx.invalid_char(
            start + 2,
            '0',
            "a digit 1-9 (the second and third digits of a NIP are not both 0)",
        ));
    }
    Ok(())
}

/// The check digit completing the digits `b[start..start + 9]` (already checked to be digits).
fn expected_check_digit(cx: Cx<'_>, b: &[u8], start: usize) -> Result<u8, IdentifierError> {
    Nip::check_digit(digit_values(&b[start..start + 9])).ok_or_else(|| {
        IdentifierError::NoValidCheckDigit {
            kind: cx.kind,
            input: cx.input.to_owned(),
            position: start,
        }
    })
}

/// Checks the check digit of the NIP `b[start..start + 10]` (already checked to be digits).
fn verify_at(cx: Cx<'_>, b: &[u8], start: usize) -> Result<(), IdentifierError> {
    let check = expected_check_digit(cx, b, start)?;
    let found = b[start + Nip::LEN - 1].wrapping_sub(b'0');
    if found == check {
        Ok(())
    } else {
        Err(cx.checksum(ChecksumKind::Nip, check.to_string(), found.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for s in [
            "5265877635",
            "7762811692",
            "5555555555",
            "1111111111",
            "7980332920",
            "3755747347",
        ] {
            assert_eq!(
                s.parse::<Nip>().map(Nip::into_inner).as_deref(),
                Ok(s),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_wrong_check_digit() {
        let err = "5265877634".parse::<Nip>().unwrap_err();
        assert_eq!(
            err,
            IdentifierError::Checksum {
                kind: IdentifierKind::Nip,
                input: "5265877634".into(),
                checksum: ChecksumKind::Nip,
                expected: "5".into(),
                found: "4".into(),
            }
        );
    }

    #[test]
    fn rejects_remainder_ten() {
        // 1234567890: weighted sum 230, 230 mod 11 = 10.
        assert_eq!(Nip::check_digit([1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        assert!(matches!(
            "1234567890".parse::<Nip>(),
            Err(IdentifierError::NoValidCheckDigit { position: 0, .. })
        ));
        assert_eq!(
            Nip::from_first_nine([1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Err(IdentifierError::NoValidCheckDigit {
                kind: IdentifierKind::Nip,
                input: "123456789".into(),
                position: 0,
            })
        );
    }

    #[test]
    fn rejects_spec_pattern_violations() {
        // Leading zero: 0000000000 has check digit 0 but breaks the pattern.
        assert!(matches!(
            "0000000000".parse::<Nip>(),
            Err(IdentifierError::InvalidCharacter {
                position: 0,
                found: '0',
                ..
            })
        ));
        // Second and third digits both zero, with the check digit that would otherwise fit.
        let nine = [1, 0, 0, 1, 1, 1, 1, 1, 1];
        let check = Nip::check_digit(nine).unwrap();
        let s = format!("100111111{check}");
        assert!(matches!(
            s.parse::<Nip>(),
            Err(IdentifierError::InvalidCharacter { position: 2, .. })
        ));
        assert!(Nip::from_first_nine(nine).is_err());
    }

    #[test]
    fn rejects_bad_length_and_characters() {
        assert!(matches!(
            "526587763".parse::<Nip>(),
            Err(IdentifierError::Length {
                min: 10,
                max: 10,
                found: 9,
                ..
            })
        ));
        assert!(matches!(
            "526-587763".parse::<Nip>(),
            Err(IdentifierError::InvalidCharacter {
                position: 3,
                found: '-',
                ..
            })
        ));
        assert!(matches!(
            "52658776ą5".parse::<Nip>(),
            Err(IdentifierError::InvalidCharacter {
                position: 8,
                found: 'ą',
                ..
            })
        ));
        assert!(matches!(
            "".parse::<Nip>(),
            Err(IdentifierError::Length { found: 0, .. })
        ));
    }

    #[test]
    fn wire_level_checks_the_pattern_but_not_the_check_digit() {
        let nip = Nip::parse_wire("5265877634").unwrap();
        assert!(!nip.has_valid_check_digit());
        assert_eq!(
            nip.verify_check_digit(),
            Err(IdentifierError::Checksum {
                kind: IdentifierKind::Nip,
                input: "5265877634".into(),
                checksum: ChecksumKind::Nip,
                expected: "5".into(),
                found: "4".into(),
            })
        );
        // Remainder 10: no check digit fits, yet the pattern holds.
        let nip = Nip::parse_wire("1234567890").unwrap();
        assert!(!nip.has_valid_check_digit());
        assert!(matches!(
            nip.verify_check_digit(),
            Err(IdentifierError::NoValidCheckDigit { position: 0, .. })
        ));
        assert!(
            Nip::parse_wire("5265877635")
                .unwrap()
                .has_valid_check_digit()
        );
        for (s, position) in [("0265877634", 0), ("1005877634", 2), ("526587763a", 9)] {
            assert!(
                matches!(
                    Nip::parse_wire(s),
                    Err(IdentifierError::InvalidCharacter { position: p, .. }) if p == position
                ),
                "{s}"
            );
        }
        assert!(matches!(
            Nip::parse_wire("526587763"),
            Err(IdentifierError::Length { found: 9, .. })
        ));
    }

    #[test]
    fn builds_from_first_nine() {
        assert_eq!(
            Nip::from_first_nine([5, 2, 6, 5, 8, 7, 7, 6, 3]).unwrap(),
            "5265877635"
        );
        assert!(matches!(
            Nip::from_first_nine([5, 2, 6, 5, 8, 7, 7, 6, 10]),
            Err(IdentifierError::InvalidCharacter {
                position: 8,
                found: '?',
                ..
            })
        ));
    }
}
