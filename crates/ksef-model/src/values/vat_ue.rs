//! [`VatUe`] (an EU VAT number) and [`NipVatUe`] (a NIP joined to one).

use serde::Serialize;

use super::error::{IdentifierError, IdentifierKind};
use super::nip::{self, Nip};
use super::scan::Cx;
use super::{Level, string_identifier};

/// An EU VAT number: a two-letter country prefix followed by the national part.
///
/// Valid when the prefix is one of the 27 the spec's `NipVatUe` pattern lists (the EU member
/// states other than Poland, with `EL` for Greece, plus `XI` for Northern Ireland) and the
/// national part matches that country's pattern in the spec (for example `ATU` + 8 digits,
/// `DE` + 9 digits, `NL` + 12 of `[A-Z0-9+*]`). National check digits are not verified: the spec
/// does not, and their rules differ per country. Both checking levels are therefore the same:
/// [`VatUe::parse_wire`] and deserialization accept exactly what [`FromStr`](std::str::FromStr)
/// accepts.
///
/// ```
/// use ksef_model::values::VatUe;
///
/// let vat: VatUe = "ATU12345678".parse()?;
/// assert_eq!(vat.country_code(), "AT");
/// assert_eq!(vat.national_part(), "U12345678");
/// assert!("DE12345678".parse::<VatUe>().is_err()); // DE needs 9 digits
/// assert!("PL5265877635".parse::<VatUe>().is_err()); // not a foreign EU prefix
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct VatUe(String);

string_identifier!(VatUe);

/// The shortest accepted EU VAT number (`RO` + 2 digits).
const MIN_LEN: usize = 4;
/// The longest accepted EU VAT number (`SE`, `LT`, `XI` + 12 digits; `NL` + 12 characters).
const MAX_LEN: usize = 14;

impl VatUe {
    /// The country prefixes accepted, in the spec's order.
    pub const COUNTRY_CODES: [&'static str; 27] = [
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE",
        "IT", "LT", "LU", "LV", "MT", "NL", "PT", "RO", "SE", "SI", "SK", "XI",
    ];

    /// The two-letter country prefix, e.g. `"DE"`.
    pub fn country_code(&self) -> &str {
        &self.0[..2]
    }

    /// Everything after the country prefix.
    pub fn national_part(&self) -> &str {
        &self.0[2..]
    }

    /// Checks an EU VAT number; both levels check the same.
    fn check(input: &str, _level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::VatUe, input);
        let b = cx.ascii_with_len(MIN_LEN, MAX_LEN)?;
        check_at(cx, b, 0)
    }
}

/// Checks that `b[start..]` is an EU VAT number; errors point into the whole input of `cx`.
///
/// `b` is ASCII and `b[start..]` has `MIN_LEN..=MAX_LEN` bytes (checked by the caller).
fn check_at(cx: Cx<'_>, b: &[u8], start: usize) -> Result<(), IdentifierError> {
    cx.each(
        b,
        start,
        2,
        |c| c.is_ascii_uppercase(),
        "an uppercase letter (country prefix)",
    )?;
    let country = &b[start..start + 2];
    let n = &b[start + 2..];
    let Some((ok, expected)) = national_rule(country) else {
        return Err(IdentifierError::UnknownCountry {
            kind: cx.kind,
            input: cx.input.to_owned(),
            position: start,
            country: String::from_utf8_lossy(country).into_owned(),
        });
    };
    if ok(n) {
        Ok(())
    } else {
        Err(cx.format(start + 2, expected))
    }
}

/// The national-part rule of a country prefix, with its English description.
type Rule = (fn(&[u8]) -> bool, &'static str);

/// The spec's `NipVatUe` pattern, one arm per country.
fn national_rule(country: &[u8]) -> Option<Rule> {
    Some(match country {
        b"AT" => (
            |n| n.len() == 9 && n[0] == b'U' && digits(&n[1..]),
            "U followed by 8 digits (AT)",
        ),
        b"BE" => (
            |n| n.len() == 10 && matches!(n[0], b'0' | b'1') && digits(n),
            "0 or 1 followed by 9 digits (BE)",
        ),
        b"BG" => (
            |n| matches!(n.len(), 9 | 10) && digits(n),
            "9 or 10 digits (BG)",
        ),
        b"CY" => (
            |n| n.len() == 9 && digits(&n[..8]) && n[8].is_ascii_uppercase(),
            "8 digits followed by a letter (CY)",
        ),
        b"CZ" => (
            |n| (8..=10).contains(&n.len()) && digits(n),
            "8 to 10 digits (CZ)",
        ),
        b"DE" => (|n| n.len() == 9 && digits(n), "9 digits (DE)"),
        b"DK" => (|n| n.len() == 8 && digits(n), "8 digits (DK)"),
        b"EE" => (|n| n.len() == 9 && digits(n), "9 digits (EE)"),
        b"EL" => (|n| n.len() == 9 && digits(n), "9 digits (EL)"),
        b"ES" => (
            |n| {
                n.len() == 9
                    && digits(&n[1..8])
                    && (n[0].is_ascii_uppercase() || n[0].is_ascii_digit())
                    && (n[8].is_ascii_uppercase() || n[8].is_ascii_digit())
                    // letter+8 digits, 8 digits+letter, or letter+7 digits+letter; not 9 digits.
                    && (n[0].is_ascii_uppercase() || n[8].is_ascii_uppercase())
            },
            "a letter and 8 digits, 8 digits and a letter, or a letter, 7 digits and a letter (ES)",
        ),
        b"FI" => (|n| n.len() == 8 && digits(n), "8 digits (FI)"),
        b"FR" => (
            |n| n.len() == 11 && n[..2].iter().all(|&c| upper_or_digit(c)) && digits(&n[2..]),
            "2 letters or digits followed by 9 digits (FR)",
        ),
        b"HR" => (|n| n.len() == 11 && digits(n), "11 digits (HR)"),
        b"HU" => (|n| n.len() == 8 && digits(n), "8 digits (HU)"),
        b"IE" => (
            |n| match n.len() {
                9 => digits(&n[..7]) && n[7..].iter().all(u8::is_ascii_uppercase),
                8 => {
                    n[0].is_ascii_digit()
                        && (upper_or_digit(n[1]) || matches!(n[1], b'+' | b'*'))
                        && digits(&n[2..7])
                        && n[7].is_ascii_uppercase()
                }
                _ => false,
            },
            "7 digits and 2 letters, or a digit, a letter/digit/+/*, 5 digits and a letter (IE)",
        ),
        b"IT" => (|n| n.len() == 11 && digits(n), "11 digits (IT)"),
        b"LT" => (
            |n| matches!(n.len(), 9 | 12) && digits(n),
            "9 or 12 digits (LT)",
        ),
        b"LU" => (|n| n.len() == 8 && digits(n), "8 digits (LU)"),
        b"LV" => (|n| n.len() == 11 && digits(n), "11 digits (LV)"),
        b"MT" => (|n| n.len() == 8 && digits(n), "8 digits (MT)"),
        b"NL" => (
            |n| {
                n.len() == 12
                    && n.iter()
                        .all(|&c| upper_or_digit(c) || matches!(c, b'+' | b'*'))
            },
            "12 letters, digits, + or * (NL)",
        ),
        b"PT" => (|n| n.len() == 9 && digits(n), "9 digits (PT)"),
        b"RO" => (
            |n| (2..=10).contains(&n.len()) && digits(n),
            "2 to 10 digits (RO)",
        ),
        b"SE" => (|n| n.len() == 12 && digits(n), "12 digits (SE)"),
        b"SI" => (|n| n.len() == 8 && digits(n), "8 digits (SI)"),
        b"SK" => (|n| n.len() == 10 && digits(n), "10 digits (SK)"),
        b"XI" => (
            |n| {
                (matches!(n.len(), 9 | 12) && digits(n))
                    || (n.len() == 5 && matches!(&n[..2], b"GD" | b"HA") && digits(&n[2..]))
            },
            "9 or 12 digits, or GD or HA followed by 3 digits (XI)",
        ),
        _ => return None,
    })
}

fn digits(n: &[u8]) -> bool {
    n.iter().all(u8::is_ascii_digit)
}

fn upper_or_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// A composite identifier: the NIP of a Polish entity, `-`, and the EU VAT number of an EU entity
/// (the spec's `NipVatUe`, e.g. `5265877635-ATU12345678`).
///
/// Valid when the first ten characters are a NIP matching the spec's pattern, the eleventh is `-`
/// and the rest is a valid [`VatUe`]. The strict parsers ([`FromStr`](std::str::FromStr),
/// `TryFrom<String>`, `TryFrom<&str>`: for user input) also check the NIP's check digit;
/// deserialization and [`NipVatUe::parse_wire`] do not, because KSeF verifies it only in the
/// production environment and the TEST environment sends back identifiers built on NIPs with a
/// wrong check digit (see [`Nip`]'s documentation). Check it with
/// `id.nip().has_valid_check_digit()` where that matters.
///
/// ```
/// use ksef_model::values::NipVatUe;
///
/// let id: NipVatUe = "5265877635-ATU12345678".parse()?;
/// assert_eq!(id.nip().as_str(), "5265877635");
/// assert_eq!(id.vat_ue().as_str(), "ATU12345678");
///
/// // A NIP with a wrong check digit, as the TEST environment may send it.
/// assert!("5265877636-ATU12345678".parse::<NipVatUe>().is_err());
/// let wire = NipVatUe::parse_wire("5265877636-ATU12345678")?;
/// assert!(!wire.nip().has_valid_check_digit());
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct NipVatUe(String);

string_identifier!(NipVatUe);

impl NipVatUe {
    /// Joins a NIP and an EU VAT number (the result passes the strict checks if `nip` has a valid
    /// check digit, and the wire-level checks in any case).
    pub fn from_parts(nip: &Nip, vat_ue: &VatUe) -> Self {
        NipVatUe(format!("{nip}-{vat_ue}"))
    }

    /// The NIP part (the first ten characters); its check digit is wrong only if this
    /// identifier was deserialized or built with [`NipVatUe::parse_wire`] or from such a NIP
    /// (see the type).
    pub fn nip(&self) -> Nip {
        Nip::from_checked(&self.0[..Nip::LEN])
    }

    /// The EU VAT number part (everything after the `-`).
    pub fn vat_ue(&self) -> VatUe {
        VatUe(self.0[Nip::LEN + 1..].to_owned())
    }

    fn check(input: &str, level: Level) -> Result<(), IdentifierError> {
        let cx = Cx::new(IdentifierKind::NipVatUe, input);
        let b = cx.ascii_with_len(Nip::LEN + 1 + MIN_LEN, Nip::LEN + 1 + MAX_LEN)?;
        nip::check_at(cx, b, 0, level)?;
        cx.separator(b, Nip::LEN, b'-')?;
        check_at(cx, b, Nip::LEN + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One valid example per country, written from the spec's pattern.
    const VALID: [&str; 34] = [
        "ATU12345678",
        "BE0123456789",
        "BE1123456789",
        "BG123456789",
        "BG1234567890",
        "CY12345678X",
        "CZ12345678",
        "CZ1234567890",
        "DE123456789",
        "DK12345678",
        "EE123456789",
        "EL123456789",
        "ESA12345678",
        "ES12345678Z",
        "ESA1234567Z",
        "FI12345678",
        "FRAB123456789",
        "FR12123456789",
        "HR12345678901",
        "HU12345678",
        "IE1234567AB",
        "IE1+12345X",
        "IT12345678901",
        "LT123456789",
        "LT123456789012",
        "LU12345678",
        "LV12345678901",
        "MT12345678",
        "NL12345678B01+",
        "PT123456789",
        "RO12",
        "SE123456789012",
        "SI12345678",
        "XIGD123",
    ];

    #[test]
    fn accepts_every_country() {
        for s in VALID {
            let v: VatUe = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(v.country_code(), &s[..2]);
            assert_eq!(v.national_part(), &s[2..]);
        }
        for s in [
            "SK1234567890",
            "XI123456789",
            "XI123456789012",
            "XIHA999",
            "RO1234567890",
        ] {
            assert!(s.parse::<VatUe>().is_ok(), "{s}");
        }
        let mut seen: Vec<&str> = VALID.iter().map(|s| &s[..2]).collect();
        seen.extend(["SK", "XI"]);
        for code in VatUe::COUNTRY_CODES {
            assert!(seen.contains(&code), "no example for {code}");
        }
    }

    #[test]
    fn rejects_country_mismatches() {
        for s in [
            "AT12345678",     // missing U
            "ATU1234567",     // 7 digits
            "BE2123456789",   // first digit 2
            "CY123456789",    // no trailing letter
            "CZ1234567",      // 7 digits
            "DE12345678",     // 8 digits
            "ES123456789",    // 9 digits, no letter
            "FRAB12345678",   // 8 digits after the two
            "IE12345678",     // 8 characters without the final letter
            "LT1234567890",   // 10 digits
            "NL12345678B01",  // 11 characters
            "NL12345678b01+", // lowercase
            "RO1",            // too short for RO (and below MIN_LEN)
            "RO12345678901",  // 11 digits
            "XIGB123",        // GB not allowed
            "XI1234567890",   // 10 digits
        ] {
            assert!(s.parse::<VatUe>().is_err(), "{s}");
        }
        assert!(matches!(
            "DE12345678".parse::<VatUe>(),
            Err(IdentifierError::Format {
                position: 2,
                expected: "9 digits (DE)",
                ..
            })
        ));
    }

    #[test]
    fn rejects_unknown_or_lowercase_country() {
        assert!(matches!(
            "PL5265877635".parse::<VatUe>(),
            Err(IdentifierError::UnknownCountry { position: 0, ref country, .. }) if country == "PL"
        ));
        assert!(matches!(
            "GR123456789".parse::<VatUe>(),
            Err(IdentifierError::UnknownCountry { .. })
        ));
        assert!(matches!(
            "de123456789".parse::<VatUe>(),
            Err(IdentifierError::InvalidCharacter { position: 0, .. })
        ));
    }

    #[test]
    fn nip_vat_ue_parts() {
        let id: NipVatUe = "5265877635-ATU12345678".parse().unwrap();
        assert_eq!(id.nip(), "5265877635");
        assert_eq!(id.vat_ue(), "ATU12345678");
        assert_eq!(NipVatUe::from_parts(&id.nip(), &id.vat_ue()), id);
    }

    #[test]
    fn nip_vat_ue_wire_level_accepts_a_wrong_nip_check_digit() {
        let id = NipVatUe::parse_wire("5265877636-ATU12345678").unwrap();
        assert!(!id.nip().has_valid_check_digit());
        assert_eq!(id.vat_ue(), "ATU12345678");
        let id = NipVatUe::parse_wire("1234567890-DE123456789").unwrap();
        assert!(!id.nip().has_valid_check_digit());
        assert!(matches!(
            "1234567890-DE123456789".parse::<NipVatUe>(),
            Err(IdentifierError::NoValidCheckDigit {
                kind: IdentifierKind::NipVatUe,
                position: 0,
                ..
            })
        ));
        // Everything else is still checked.
        assert!(matches!(
            NipVatUe::parse_wire("0265877635-ATU12345678"),
            Err(IdentifierError::InvalidCharacter { position: 0, .. })
        ));
        assert!(matches!(
            NipVatUe::parse_wire("5265877636-ATX12345678"),
            Err(IdentifierError::Format { position: 13, .. })
        ));
        assert_eq!(
            VatUe::parse_wire("DE12345678"),
            "DE12345678".parse::<VatUe>()
        );
    }

    #[test]
    fn nip_vat_ue_errors_point_into_the_whole_input() {
        assert!(matches!(
            "5265877636-ATU12345678".parse::<NipVatUe>(),
            Err(IdentifierError::Checksum {
                kind: IdentifierKind::NipVatUe,
                ..
            })
        ));
        assert!(matches!(
            "5265877635_ATU12345678".parse::<NipVatUe>(),
            Err(IdentifierError::MissingSeparator {
                position: 10,
                found: '_',
                ..
            })
        ));
        assert!(matches!(
            "5265877635-ATX12345678".parse::<NipVatUe>(),
            Err(IdentifierError::Format { position: 13, .. })
        ));
        assert!(matches!(
            "5265877635-PL12345678".parse::<NipVatUe>(),
            Err(IdentifierError::UnknownCountry { position: 11, .. })
        ));
        assert!(matches!(
            "5265877635-".parse::<NipVatUe>(),
            Err(IdentifierError::Length {
                min: 15,
                max: 25,
                ..
            })
        ));
    }
}
