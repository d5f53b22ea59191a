//! [`InternalId`]: the identifier of an internal unit of an entity.

use serde::Serialize;

use super::error::{ChecksumKind, IdentifierError, IdentifierKind};
use super::nip::{self, Nip};
use super::scan::{Cx, digit_values};
use super::{Level, string_identifier};

/// An internal identifier (identyfikator wewnętrzny): the NIP of an entity, `-`, and five digits
/// naming one of its internal units, e.g. `6824515772-12343` (the spec's `InternalId`).
///
/// Parsing checks what the spec's schema requires everywhere the identifier is used: 16
/// characters, a NIP matching the spec's pattern, `-`, and five digits. The strict parsers
/// ([`FromStr`](std::str::FromStr), `TryFrom<String>`, `TryFrom<&str>`: for user input) also
/// check the NIP's check digit; deserialization and [`InternalId::parse_wire`] do not, because
/// KSeF verifies it only in the production environment and the TEST environment sends back
/// identifiers built on NIPs with a wrong check digit (see [`Nip`]'s documentation). Check it
/// with `id.nip().has_valid_check_digit()` where that matters.
///
/// # The check digit
///
/// The spec (description of `POST /permissions/subunits/grants`) says the fifth digit is a
/// checksum: the ten digits of the NIP and the first four unit digits, weighted alternately
/// 1, 3, 1, 3, …, summed, modulo 10. It is exposed here ([`InternalId::check_digit`],
/// [`InternalId::has_valid_check_digit`], [`InternalId::verify_check_digit`]) and used by
/// [`InternalId::from_parts`], but **not enforced when parsing**: the Ministry's own examples
/// (`5265877635-12345` in the UPO samples and the authentication docs, `7762811692-12345` and
/// `5555555555-12345` in the spec) fail it, and the server is documented to check it only when a
/// unit is created with that operation. Rejecting those values would make the SDK refuse documents
/// KSeF itself produced.
///
/// ```
/// use ksef_model::values::{InternalId, Nip};
///
/// let id: InternalId = "6824515772-12343".parse()?;
/// assert_eq!(id.nip().as_str(), "6824515772");
/// assert_eq!(id.unit(), "12343");
/// assert!(id.has_valid_check_digit());
///
/// let nip: Nip = "6824515772".parse()?;
/// assert_eq!(InternalId::from_parts(&nip, 1234)?, id);
///
/// // A NIP with a wrong check digit, as the TEST environment may send it.
/// assert!("6824515773-12343".parse::<InternalId>().is_err());
/// let wire = InternalId::parse_wire("6824515773-12343")?;
/// assert!(!wire.nip().has_valid_check_digit());
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct InternalId(String);

string_identifier!(InternalId);

/// The largest unit number that fits in the four digits before the check digit.
const MAX_UNIT: u16 = 9999;

impl InternalId {
    /// The number of characters of an internal identifier.
    pub const LEN: usize = 16;

    /// The check digit for the ten NIP digits followed by the four unit digits, given as numbers
    /// 0-9: the sum of the digits weighted 1, 3, 1, 3, …, modulo 10.
    ///
    /// Returns `None` when an element is greater than 9.
    pub const fn check_digit(first_fourteen: [u8; 14]) -> Option<u8> {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i < 14 {
            if first_fourteen[i] > 9 {
                return None;
            }
            let weight = if i % 2 == 0 { 1 } else { 3 };
            sum += first_fourteen[i] as u32 * weight;
            i += 1;
        }
        Some((sum % 10) as u8)
    }

    /// Builds the internal identifier of unit `unit` (0-9999, written as four digits) of the
    /// entity `nip`, appending the check digit.
    ///
    /// # Errors
    ///
    /// [`IdentifierError::Format`] when `unit` is greater than 9999; its input is `unit` written out.
    pub fn from_parts(nip: &Nip, unit: u16) -> Result<Self, IdentifierError> {
        if unit > MAX_UNIT {
            return Err(IdentifierError::Format {
                kind: IdentifierKind::InternalId,
                input: unit.to_string(),
                position: 0,
                expected: "a unit number from 0 to 9999",
            });
        }
        let mut text = format!("{nip}-{unit:04}");
        let check = Self::expected_check_digit(text.as_bytes());
        text.push(char::from(b'0' + check));
        Ok(InternalId(text))
    }

    /// The NIP of the entity (the first ten characters); its check digit is wrong only if this
    /// identifier was deserialized or built with [`InternalId::parse_wire`] (see the type).
    pub fn nip(&self) -> Nip {
        Nip::from_checked(&self.0[..Nip::LEN])
    }

    /// The five digits after the `-`, including the check digit.
    pub fn unit(&self) -> &str {
        &self.0[Nip::LEN + 1..]
    }

    /// Whether the last digit is the check digit of the others (see the type's documentation).
    pub fn has_valid_check_digit(&self) -> bool {
        self.verify_check_digit().is_ok()
    }

    /// Checks the last digit against the check digit of the others.
    ///
    /// # Errors
    ///
    /// [`IdentifierError::Checksum`] with [`ChecksumKind::InternalId`] when they differ.
    pub fn verify_check_digit(&self) -> Result<(), IdentifierError> {
        let b = self.0.as_bytes();
        let expected = Self::expected_check_digit(b);
        let found = b[Self::LEN - 1].wrapping_sub(b'0');
        if expected == found {
            Ok(())
        } else {
            Err(Cx::new(IdentifierKind::InternalId, &self.0).checksum(
                ChecksumKind::InternalId,
                expected.to_string(),
                found.to_string(),
            ))
        }
    }

    /// The check digit of `NNNNNNNNNN-UUUU…` (ASCII, NIP and unit digits already checked).
    fn expected_check_digit(b: &[u8]) -> u8 {
        let mut first_fourteen = [0u8; 14];
        first_fourteen[..10].copy_from_slice(&digit_values::<10>(&b[..10]));
        first_fourteen[10..].copy_from_slice(&digit_values::<4>(&b[11..15]));
        // Every element is a digit value 0-9, so the result is `Some`.
        Self::check_digit(first_fourteen).unwrap_or(0)
    }

    fn check(input: &str, level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::InternalId, input);
        let b = cx.ascii_with_len(Self::LEN, Self::LEN)?;
        nip::check_at(cx, b, 0, level)?;
        cx.separator(b, Nip::LEN, b'-')?;
        cx.digits(b, Nip::LEN + 1, 5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_algorithm_example() {
        // The worked example of the spec: "6824515772-1234" gives 113, check digit 3.
        assert_eq!(
            InternalId::check_digit([6, 8, 2, 4, 5, 1, 5, 7, 7, 2, 1, 2, 3, 4]),
            Some(3)
        );
        let id: InternalId = "6824515772-12343".parse().unwrap();
        assert!(id.has_valid_check_digit());
    }

    #[test]
    fn ministry_examples_parse_but_fail_the_check_digit() {
        for s in ["5265877635-12345", "7762811692-12345", "5555555555-12345"] {
            let id: InternalId = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!id.has_valid_check_digit(), "{s}");
            assert!(matches!(
                id.verify_check_digit(),
                Err(IdentifierError::Checksum {
                    checksum: ChecksumKind::InternalId,
                    ..
                })
            ));
        }
    }

    #[test]
    fn from_parts_pads_and_checks() {
        let nip: Nip = "5265877635".parse().unwrap();
        let id = InternalId::from_parts(&nip, 7).unwrap();
        assert_eq!(&id.as_str()[..15], "5265877635-0007");
        assert!(id.has_valid_check_digit());
        assert_eq!(id.nip(), nip);
        assert!(matches!(
            InternalId::from_parts(&nip, 10_000),
            Err(IdentifierError::Format { .. })
        ));
    }

    #[test]
    fn wire_level_accepts_a_wrong_nip_check_digit() {
        for s in ["5265877636-12345", "1234567890-12345"] {
            let id = InternalId::parse_wire(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!id.nip().has_valid_check_digit(), "{s}");
            assert_eq!(id.unit(), "12345");
            let err = s.parse::<InternalId>().unwrap_err();
            assert_eq!(err.kind(), IdentifierKind::InternalId);
            assert!(
                matches!(
                    err,
                    IdentifierError::Checksum {
                        checksum: ChecksumKind::Nip,
                        ..
                    } | IdentifierError::NoValidCheckDigit { position: 0, .. }
                ),
                "{s}: {err:?}"
            );
        }
        assert!(matches!(
            InternalId::parse_wire("0265877635-12345"),
            Err(IdentifierError::InvalidCharacter { position: 0, .. })
        ));
        assert!(matches!(
            InternalId::parse_wire("5265877636_12345"),
            Err(IdentifierError::MissingSeparator { position: 10, .. })
        ));
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(matches!(
            "5265877636-12345".parse::<InternalId>(),
            Err(IdentifierError::Checksum {
                checksum: ChecksumKind::Nip,
                ..
            })
        ));
        assert!(matches!(
            "5265877635 12345".parse::<InternalId>(),
            Err(IdentifierError::MissingSeparator { position: 10, .. })
        ));
        assert!(matches!(
            "5265877635-1234A".parse::<InternalId>(),
            Err(IdentifierError::InvalidCharacter { position: 15, .. })
        ));
        assert!(matches!(
            "5265877635-1234".parse::<InternalId>(),
            Err(IdentifierError::Length { found: 15, .. })
        ));
    }
}
