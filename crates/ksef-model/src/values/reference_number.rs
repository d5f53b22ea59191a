//! [`ReferenceNumber`] (of sessions, invoices, operations…) and [`Challenge`].

use chrono::NaiveDate;
use serde::Serialize;

use super::error::{IdentifierError, IdentifierKind};
use super::scan::{self, Cx};
use super::{Level, string_identifier};

/// The number of characters of a reference number or a challenge.
const LEN: usize = 36;
/// The number of leading characters the (unenforced) CRC-8 is computed over.
const CRC_INPUT_LEN: usize = 33;
/// Where the kind code starts.
const KIND: usize = 9;
/// Where the first hex group starts.
const FIRST: usize = 12;
/// Where the second hex group starts.
const SECOND: usize = 23;
/// Where the checksum starts.
const CHECKSUM: usize = 34;

/// The reference number KSeF gives a session, an invoice, an authentication, an export, a UPO and
/// other asynchronous operations, e.g. `20250626-SO-2F14610000-242991F8C9-B4`.
///
/// The form is `YYYYMMDD-KK-XXXXXXXXXX-XXXXXXXXXX-CC` (36 characters), as in the UPO schema's
/// `TNumerReferencyjny` pattern (the OpenAPI schema only fixes the length):
///
/// - a date: a real calendar date with a year from 2020 to 9999;
/// - a two-character kind code of uppercase letters or digits, e.g. `SO` (online session),
///   `SB` (batch session), `AU` (authentication), `CR` (challenge), `EU`, `EE`, `EC`, `EH`…;
/// - two groups of 10 uppercase hex digits;
/// - two uppercase hex digits.
///
/// # The last two hex digits
///
/// In most examples they are the CRC-8 of the first 33 characters (the KSeF number's algorithm,
/// [`ReferenceNumber::has_valid_checksum`]), but not in all: of the 29 distinct reference numbers
/// in the spec, the docs and the UPO samples, 6 do not match (e.g.
/// `20250918-EU-2EBD6FA000-242EB9B66D-43` in the spec, `20250819-EC-1ECDD12000-5EE71AE5E3-B7` in
/// the UPO samples), and no document defines this checksum. Parsing therefore checks the shape
/// only; [`ReferenceNumber::from_parts`] still writes the CRC-8, so built numbers look like the
/// server's. For the same reason both checking levels are the same:
/// [`ReferenceNumber::parse_wire`] and deserialization accept exactly what
/// [`FromStr`](std::str::FromStr) accepts.
///
/// ```
/// use chrono::NaiveDate;
/// use ksef_model::values::ReferenceNumber;
///
/// let r: ReferenceNumber = "20250626-SO-2F14610000-242991F8C9-B4".parse()?;
/// assert_eq!(r.kind_code(), "SO");
/// assert_eq!(r.date(), NaiveDate::from_ymd_opt(2025, 6, 26).unwrap());
/// assert_eq!(r.checksum(), 0xB4);
/// assert!(r.has_valid_checksum());
///
/// let built = ReferenceNumber::from_parts(r.date(), "SO", "2F14610000", "242991F8C9")?;
/// assert_eq!(built, r);
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct ReferenceNumber(String);

string_identifier!(ReferenceNumber);

impl ReferenceNumber {
    /// The number of characters of a reference number.
    pub const LEN: usize = LEN;

    /// Builds a reference number from its parts, writing the CRC-8 of the first 33 characters as
    /// the last two hex digits.
    ///
    /// # Errors
    ///
    /// The errors of parsing the assembled number (its text is the error's input): a date outside
    /// the years 2020-9999, a `kind_code` that is not two uppercase letters or digits, or a group
    /// that is not exactly 10 uppercase hex digits.
    pub fn from_parts(
        date: NaiveDate,
        kind_code: &str,
        first: &str,
        second: &str,
    ) -> Result<Self, IdentifierError> {
        let text = assemble(date, kind_code, first, second);
        check_reference(Cx::new(IdentifierKind::ReferenceNumber, &text), false)?;
        Ok(ReferenceNumber(text))
    }

    /// The date in the first eight characters.
    pub fn date(&self) -> NaiveDate {
        date(IdentifierKind::ReferenceNumber, &self.0)
    }

    /// The two-character kind code, e.g. `"SO"` for an online session.
    pub fn kind_code(&self) -> &str {
        &self.0[KIND..KIND + 2]
    }

    /// The value of the last two hex digits.
    pub fn checksum(&self) -> u8 {
        checksum(&self.0)
    }

    /// Whether the last two hex digits are the CRC-8 of the first 33 characters, as they are in
    /// numbers KSeF generates (see the type's documentation for why this is not enforced).
    pub fn has_valid_checksum(&self) -> bool {
        has_valid_checksum(&self.0)
    }

    /// Checks a reference number; both levels check the same (there is no check digit to skip).
    fn check(input: &str, _level: Level) -> Result<(), IdentifierError> {
        check_reference(Cx::new(IdentifierKind::ReferenceNumber, input), false)
    }
}

/// An authentication challenge from `POST /auth/challenge`, e.g.
/// `20250625-CR-2FDC223000-C2BFC98A9C-4E`: a [`ReferenceNumber`] whose kind code is `CR`.
///
/// The form is `YYYYMMDD-CR-XXXXXXXXXX-XXXXXXXXXX-CC` (36 characters), with the same date and
/// hex-digit rules as [`ReferenceNumber`]. All four challenges in the spec and docs end in the
/// CRC-8 of their first 33 characters, but as for reference numbers in general the checksum is
/// undocumented and not enforced ([`Challenge::has_valid_checksum`] reports it): a challenge is
/// only ever copied from the server's answer back to the server, so rejecting one would only stop
/// authentication. Both checking levels are the same: [`Challenge::parse_wire`] and
/// deserialization accept exactly what [`FromStr`](std::str::FromStr) accepts.
///
/// ```
/// use ksef_model::values::{Challenge, ReferenceNumber};
///
/// let c: Challenge = "20250625-CR-2FDC223000-C2BFC98A9C-4E".parse()?;
/// assert!(c.has_valid_checksum());
/// assert!("20250625-SO-2FDC223000-C2BFC98A9C-4E".parse::<Challenge>().is_err());
/// let r: ReferenceNumber = c.into();
/// assert_eq!(r.kind_code(), "CR");
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Challenge(String);

string_identifier!(Challenge);

impl Challenge {
    /// The number of characters of a challenge.
    pub const LEN: usize = LEN;
    /// The kind code of every challenge.
    pub const KIND_CODE: &'static str = "CR";

    /// Builds a challenge from its date and hex groups, writing the CRC-8 of the first 33
    /// characters as the last two hex digits (for simulators and tests).
    ///
    /// # Errors
    ///
    /// The errors of parsing the assembled challenge (its text is the error's input): a date
    /// outside the years 2020-9999, or a group that is not exactly 10 uppercase hex digits.
    pub fn from_parts(date: NaiveDate, first: &str, second: &str) -> Result<Self, IdentifierError> {
        let text = assemble(date, Self::KIND_CODE, first, second);
        Self::check(&text, Level::Strict)?;
        Ok(Challenge(text))
    }

    /// The date in the first eight characters.
    pub fn date(&self) -> NaiveDate {
        date(IdentifierKind::Challenge, &self.0)
    }

    /// The value of the last two hex digits.
    pub fn checksum(&self) -> u8 {
        checksum(&self.0)
    }

    /// Whether the last two hex digits are the CRC-8 of the first 33 characters.
    pub fn has_valid_checksum(&self) -> bool {
        has_valid_checksum(&self.0)
    }

    /// Checks a challenge; both levels check the same (there is no check digit to skip).
    fn check(input: &str, _level: Level) -> Result<(), IdentifierError> {
        check_reference(Cx::new(IdentifierKind::Challenge, input), true)
    }
}

impl From<Challenge> for ReferenceNumber {
    fn from(challenge: Challenge) -> Self {
        // Every challenge has the shape of a reference number, with kind code `CR`.
        ReferenceNumber(challenge.0)
    }
}

/// `YYYYMMDD-KK-FIRST-SECOND-CC` with the CRC-8 of the first 33 characters as `CC`.
fn assemble(date: NaiveDate, kind_code: &str, first: &str, second: &str) -> String {
    let mut text = format!("{}-{kind_code}-{first}-{second}-", scan::yyyymmdd(date));
    let crc = text.as_bytes().get(..CRC_INPUT_LEN).map_or(0, scan::crc8);
    text.push_str(&scan::hex2(crc));
    text
}

/// Checks the shape; a `challenge` must have the kind code `CR`.
fn check_reference(cx: Cx<'_>, challenge: bool) -> Result<(), IdentifierError> {
    let b = cx.ascii_with_len(LEN, LEN)?;
    cx.ksef_date(b, 0)?;
    cx.separator(b, KIND - 1, b'-')?;
    cx.each(
        b,
        KIND,
        2,
        |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
        "an uppercase letter or digit (kind code)",
    )?;
    if challenge && &b[KIND..KIND + 2] != Challenge::KIND_CODE.as_bytes() {
        return Err(cx.format(KIND, "the kind code CR"));
    }
    cx.separator(b, FIRST - 1, b'-')?;
    cx.upper_hex(b, FIRST, 10)?;
    cx.separator(b, SECOND - 1, b'-')?;
    cx.upper_hex(b, SECOND, 10)?;
    cx.separator(b, CHECKSUM - 1, b'-')?;
    cx.upper_hex(b, CHECKSUM, 2)
}

fn date(kind: IdentifierKind, text: &str) -> NaiveDate {
    // Invariant: the date was checked to be a calendar date when the value was built.
    Cx::new(kind, text)
        .ksef_date(text.as_bytes(), 0)
        .expect("a reference number holds a valid date")
}

fn checksum(text: &str) -> u8 {
    let b = text.as_bytes();
    scan::hex_value(b[CHECKSUM], b[CHECKSUM + 1])
}

fn has_valid_checksum(text: &str) -> bool {
    scan::crc8(&text.as_bytes()[..CRC_INPUT_LEN]) == checksum(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_shapes_and_reports_checksum() {
        let r: ReferenceNumber = "20250901-SB-47FA636000-5960B49115-9D".parse().unwrap();
        assert_eq!(r.kind_code(), "SB");
        assert!(r.has_valid_checksum());
        // A spec example whose last two digits are not the CRC-8 still parses.
        let r: ReferenceNumber = "20250918-EU-2EBD6FA000-242EB9B66D-43".parse().unwrap();
        assert!(!r.has_valid_checksum());
        assert_eq!(r.checksum(), 0x43);
        // Digit kind codes are allowed by the UPO schema (its samples use them).
        let r: ReferenceNumber = "36950822-93-9D5A28BFDA-47C899773E-5C".parse().unwrap();
        assert_eq!(r.kind_code(), "93");
    }

    #[test]
    fn rejects_bad_shapes() {
        type Expect = fn(&IdentifierError) -> bool;
        let cases: [(&str, Expect); 6] = [
            ("20250626-so-2F14610000-242991F8C9-B4", |e| {
                matches!(e, IdentifierError::InvalidCharacter { position: 9, .. })
            }),
            ("20250626-SO-2f14610000-242991F8C9-B4", |e| {
                matches!(e, IdentifierError::InvalidCharacter { position: 13, .. })
            }),
            ("20250626_SO-2F14610000-242991F8C9-B4", |e| {
                matches!(e, IdentifierError::MissingSeparator { position: 8, .. })
            }),
            ("20250631-SO-2F14610000-242991F8C9-B4", |e| {
                matches!(e, IdentifierError::InvalidDate { position: 0, .. })
            }),
            ("20250626-SO-2F14610000-242991F8C9B4", |e| {
                matches!(e, IdentifierError::Length { found: 35, .. })
            }),
            ("20250626-SO-2F14610000-242991F8C9-G4", |e| {
                matches!(
                    e,
                    IdentifierError::InvalidCharacter {
                        position: 34,
                        found: 'G',
                        ..
                    }
                )
            }),
        ];
        for (s, ok) in cases {
            let err = s.parse::<ReferenceNumber>().unwrap_err();
            assert!(ok(&err), "{s}: {err:?}");
        }
    }

    #[test]
    fn challenge_requires_cr() {
        assert!(matches!(
            "20250625-SO-2FDC223000-C2BFC98A9C-4E".parse::<Challenge>(),
            Err(IdentifierError::Format {
                kind: IdentifierKind::Challenge,
                position: 9,
                ..
            })
        ));
        let date = NaiveDate::from_ymd_opt(2025, 6, 25).unwrap();
        let c = Challenge::from_parts(date, "2FDC223000", "C2BFC98A9C").unwrap();
        assert_eq!(c, "20250625-CR-2FDC223000-C2BFC98A9C-4E");
        assert_eq!(c.date(), date);
        assert_eq!(c.checksum(), 0x4E);
    }

    #[test]
    fn from_parts_rejects_bad_parts() {
        let date = NaiveDate::from_ymd_opt(2025, 6, 26).unwrap();
        assert!(ReferenceNumber::from_parts(date, "S", "2F14610000", "242991F8C9").is_err());
        assert!(ReferenceNumber::from_parts(date, "so", "2F14610000", "242991F8C9").is_err());
        assert!(ReferenceNumber::from_parts(date, "SO", "2F1461000", "242991F8C9").is_err());
        assert!(ReferenceNumber::from_parts(date, "SO", "2F14610000", "242991F8CG").is_err());
        let built = ReferenceNumber::from_parts(date, "SO", "2F14610000", "242991F8C9").unwrap();
        assert_eq!(built, "20250626-SO-2F14610000-242991F8C9-B4");
    }
}
