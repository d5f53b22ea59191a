//! The one error type of every identifier parser in [`values`](super).

use std::fmt;

/// Which identifier a value was being parsed as.
///
/// Carried by every [`IdentifierError`] so a message says what the input was meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IdentifierKind {
    /// A Polish tax identification number, [`Nip`](super::Nip).
    Nip,
    /// A Polish personal identification number, [`Pesel`](super::Pesel).
    Pesel,
    /// An EU VAT number with its country prefix, [`VatUe`](super::VatUe).
    VatUe,
    /// A NIP joined to an EU VAT number, [`NipVatUe`](super::NipVatUe).
    NipVatUe,
    /// A NIP followed by five digits, [`InternalId`](super::InternalId).
    InternalId,
    /// A Peppol service provider identifier, [`PeppolId`](super::PeppolId).
    PeppolId,
    /// The number KSeF assigns to an invoice, [`KsefNumber`](super::KsefNumber).
    KsefNumber,
    /// A reference number of a KSeF operation, [`ReferenceNumber`](super::ReferenceNumber).
    ReferenceNumber,
    /// An authentication challenge, [`Challenge`](super::Challenge).
    Challenge,
}

impl IdentifierKind {
    /// A short English name of the identifier, as used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            IdentifierKind::Nip => "NIP",
            IdentifierKind::Pesel => "PESEL",
            IdentifierKind::VatUe => "EU VAT number",
            IdentifierKind::NipVatUe => "NIP-VAT UE identifier",
            IdentifierKind::InternalId => "internal identifier",
            IdentifierKind::PeppolId => "Peppol ID",
            IdentifierKind::KsefNumber => "KSeF number",
            IdentifierKind::ReferenceNumber => "reference number",
            IdentifierKind::Challenge => "challenge",
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which check digit or checksum did not match, in [`IdentifierError::Checksum`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ChecksumKind {
    /// The tenth digit of a NIP: weighted sum (6, 5, 7, 2, 3, 4, 5, 6, 7) modulo 11.
    Nip,
    /// The eleventh digit of a PESEL: weighted sum (1, 3, 7, 9, …) subtracted from 10, modulo 10.
    Pesel,
    /// The last digit of an internal identifier: weighted sum (1, 3, 1, 3, …) modulo 10.
    InternalId,
    /// A CRC-8 (polynomial 0x07, initial value 0x00) written as two uppercase hex digits.
    Crc8,
}

impl ChecksumKind {
    /// A short English description, as used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            ChecksumKind::Nip => "NIP check digit",
            ChecksumKind::Pesel => "PESEL check digit",
            ChecksumKind::InternalId => "internal identifier check digit",
            ChecksumKind::Crc8 => "CRC-8 checksum",
        }
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a valid identifier.
///
/// Every variant names the identifier [`kind`](Self::kind) and carries the offending
/// [`input`](Self::input) in full: identifiers are not secrets, and the input is what a user needs
/// to see to fix a typo. Positions are 0-based character indices into `input`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The input has the wrong number of characters.
    #[error("invalid {kind}: expected {} characters, found {found}: {input:?}", LengthRange(*.min, *.max))]
    Length {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// The smallest accepted number of characters.
        min: usize,
        /// The largest accepted number of characters.
        max: usize,
        /// The number of characters found.
        found: usize,
    },

    /// A character is not allowed where it stands.
    #[error("invalid {kind}: found {found:?} at index {position}, expected {expected}: {input:?}")]
    InvalidCharacter {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index of the offending character.
        position: usize,
        /// The offending character.
        found: char,
        /// What was expected there, in English (e.g. "a digit").
        expected: &'static str,
    },

    /// A separator (such as `-`) is missing.
    #[error(
        "invalid {kind}: expected separator {separator:?} at index {position}, found {found:?}: {input:?}"
    )]
    MissingSeparator {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index where the separator belongs.
        position: usize,
        /// The separator that belongs there.
        separator: char,
        /// The character found instead.
        found: char,
    },

    /// A check digit or checksum does not match the rest of the input.
    #[error("invalid {kind}: {checksum} is {found}, expected {expected}: {input:?}")]
    Checksum {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// Which check digit or checksum failed.
        checksum: ChecksumKind,
        /// The value computed from the rest of the input, as it would be written.
        expected: String,
        /// The value written in the input.
        found: String,
    },

    /// The first nine digits of a NIP give remainder 10 modulo 11, so no check digit can complete
    /// them: no valid NIP starts with these digits.
    #[error(
        "invalid {kind}: the NIP digits at index {position} give remainder 10, which no check digit matches: {input:?}"
    )]
    NoValidCheckDigit {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index where the NIP starts.
        position: usize,
    },

    /// A date field (`YYYYMMDD`, or the birth date of a PESEL) is not acceptable.
    #[error("invalid {kind}: date at index {position} {reason}: {input:?}")]
    InvalidDate {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index where the date field starts.
        position: usize,
        /// What is wrong with it, in English (e.g. "is not a calendar date").
        reason: &'static str,
    },

    /// An EU VAT number starts with a prefix that is not one of the country codes KSeF accepts.
    #[error("invalid {kind}: unknown EU country prefix {country:?} at index {position}: {input:?}")]
    UnknownCountry {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index where the country prefix starts.
        position: usize,
        /// The two characters found where the country prefix belongs.
        country: String,
    },

    /// A part of the input does not have the form required there, for a reason that is not a
    /// single wrong character (an EU VAT number's national part, a reference number's kind code,
    /// a part given to a `from_parts` constructor).
    #[error("invalid {kind}: the part at index {position} is not {expected}: {input:?}")]
    Format {
        /// The identifier being parsed.
        kind: IdentifierKind,
        /// The whole input.
        input: String,
        /// 0-based character index where the part starts.
        position: usize,
        /// The form required, in English (e.g. "U followed by 8 digits (AT)").
        expected: &'static str,
    },
}

impl IdentifierError {
    /// The identifier the input was being parsed as.
    pub fn kind(&self) -> IdentifierKind {
        match self {
            IdentifierError::Length { kind, .. }
            | IdentifierError::InvalidCharacter { kind, .. }
            | IdentifierError::MissingSeparator { kind, .. }
            | IdentifierError::Checksum { kind, .. }
            | IdentifierError::NoValidCheckDigit { kind, .. }
            | IdentifierError::InvalidDate { kind, .. }
            | IdentifierError::UnknownCountry { kind, .. }
            | IdentifierError::Format { kind, .. } => *kind,
        }
    }

    /// The rejected input.
    pub fn input(&self) -> &str {
        match self {
            IdentifierError::Length { input, .. }
            | IdentifierError::InvalidCharacter { input, .. }
            | IdentifierError::MissingSeparator { input, .. }
            | IdentifierError::Checksum { input, .. }
            | IdentifierError::NoValidCheckDigit { input, .. }
            | IdentifierError::InvalidDate { input, .. }
            | IdentifierError::UnknownCountry { input, .. }
            | IdentifierError::Format { input, .. } => input,
        }
    }
}

/// Formats an accepted length as `10` or `35 to 36`.
struct LengthRange(usize, usize);

impl fmt::Display for LengthRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{} to {}", self.0, self.1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_kind_the_problem_and_the_input() {
        let err = IdentifierError::Length {
            kind: IdentifierKind::KsefNumber,
            input: "abc".to_owned(),
            min: 35,
            max: 36,
            found: 3,
        };
        assert_eq!(
            err.to_string(),
            r#"invalid KSeF number: expected 35 to 36 characters, found 3: "abc""#
        );
        let err = IdentifierError::Checksum {
            kind: IdentifierKind::Nip,
            input: "5265877634".to_owned(),
            checksum: ChecksumKind::Nip,
            expected: "5".to_owned(),
            found: "4".to_owned(),
        };
        assert_eq!(
            err.to_string(),
            r#"invalid NIP: NIP check digit is 4, expected 5: "5265877634""#
        );
        assert_eq!(err.kind(), IdentifierKind::Nip);
        assert_eq!(err.input(), "5265877634");
    }

    #[test]
    fn exact_length_is_written_once() {
        let err = IdentifierError::Length {
            kind: IdentifierKind::Nip,
            input: "1".to_owned(),
            min: 10,
            max: 10,
            found: 1,
        };
        assert!(err.to_string().contains("expected 10 characters, found 1"));
    }
}
