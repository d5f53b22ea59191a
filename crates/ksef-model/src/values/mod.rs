//! Checked KSeF identifiers: values that cannot hold a malformed identifier.
//!
//! Each type is a newtype over the identifier's text, built only through a parser that checks it
//! ("parse, don't validate"): once you hold a [`Nip`] or a [`KsefNumber`] you never check its form
//! again. Every type parses with [`FromStr`](std::str::FromStr), `TryFrom<String>`,
//! `TryFrom<&str>` and `parse_wire`, writes itself back unchanged with
//! [`Display`](std::fmt::Display), `as_str()` and `into_inner()`, and (de)serializes as a plain
//! JSON string, rejecting malformed input while deserializing. All parsers fail with one error
//! type, [`IdentifierError`], which says which identifier, what is wrong and where, and carries the
//! input.
//!
//! # Two levels of checking
//!
//! KSeF verifies the NIP check digit only in the production environment: the TEST environment
//! accepts invoices, contexts and permissions with NIPs whose check digit is wrong (integrators use
//! random NIPs there), so KSeF numbers, context identifiers and metadata coming back from it can
//! contain such NIPs. Data the server sends must never fail to parse over a check digit the server
//! itself does not enforce, so the parsers check at two levels:
//!
//! - **Wire level**: deserialization (serde `Deserialize`) and `parse_wire` (e.g.
//!   [`Nip::parse_wire`]). Everything the spec's schema requires (length, pattern) and the
//!   structural checks real data always meets (separators, calendar dates, a KSeF number's CRC-8,
//!   hex digits), but **not** the NIP check digit nor the PESEL check digit. The spec's schema of
//!   a PESEL is only a pattern and no document says KSeF verifies its check digit in any
//!   environment, so the same reasoning applies to it.
//! - **Strict level**: [`FromStr`](std::str::FromStr), `TryFrom<String>` and `TryFrom<&str>`,
//!   meant for user input (e.g. a `--nip` option): the wire level plus the NIP check digit
//!   (wherever a NIP is part of the identifier, except in a [`KsefNumber`]) and the PESEL check
//!   digit, so that a typo is caught before anything is sent.
//!
//! A value that arrived over the wire can be checked later with [`Nip::has_valid_check_digit`] /
//! [`Nip::verify_check_digit`] (and [`Pesel`]'s equivalents), e.g. by code that must behave like
//! the production environment. Serialization writes the text back unchanged at either level.
//!
//! | type | form | wire level | strict level adds |
//! | --- | --- | --- | --- |
//! | [`Nip`] | 10 digits | spec pattern | mod-11 check digit |
//! | [`Pesel`] | 11 digits | digits, month code | check digit |
//! | [`VatUe`] | country prefix + national part | the spec's per-country patterns | nothing |
//! | [`NipVatUe`] | `NIP-VATUE` | NIP pattern, `-`, EU VAT number | NIP check digit |
//! | [`InternalId`] | `NIP-#####` | NIP pattern, `-`, five digits; the last digit's checksum is exposed, never enforced (see the type) | NIP check digit |
//! | [`PeppolId`] | `P` + 2 letters + 6 digits | pattern | nothing |
//! | [`KsefNumber`] | `NIP-YYYYMMDD-XXXXXXXXXXXX-CC` | NIP pattern, calendar date, hex, CRC-8; 36-character KSeF 1.0 form accepted | nothing: KSeF assigns these numbers (see the type) |
//! | [`ReferenceNumber`] | `YYYYMMDD-KK-XXXXXXXXXX-XXXXXXXXXX-CC` | shape and calendar date | nothing |
//! | [`Challenge`] | `YYYYMMDD-CR-XXXXXXXXXX-XXXXXXXXXX-CC` | shape and calendar date | nothing |
//!
//! ```
//! use chrono::NaiveDate;
//! use ksef_model::values::{IdentifierError, KsefNumber, Nip};
//!
//! let number: KsefNumber = "5265877635-20250826-0100001AF629-AF".parse()?;
//! assert_eq!(number.nip().as_str(), "5265877635");
//! assert_eq!(number.date(), NaiveDate::from_ymd_opt(2025, 8, 26).unwrap());
//! assert_eq!(number.crc(), 0xAF);
//!
//! // A mistyped character is caught by the CRC-8.
//! let err = "5265877635-20250826-0100001AF628-AF".parse::<KsefNumber>().unwrap_err();
//! assert!(matches!(err, IdentifierError::Checksum { .. }));
//!
//! // Build a number from its parts; the CRC is computed.
//! let nip: Nip = "5265877635".parse()?;
//! let date = NaiveDate::from_ymd_opt(2025, 6, 26).unwrap();
//! let built = KsefNumber::from_parts(&nip, date, "010080DD2B5E")?;
//! assert_eq!(built, "5265877635-20250626-010080DD2B5E-26");
//!
//! // Identifiers serialize as plain strings and are checked at wire level when deserialized:
//! // a malformed NIP is rejected, a wrong check digit is not (the TEST environment sends them).
//! assert_eq!(serde_json::to_string(&nip).unwrap(), r#""5265877635""#);
//! assert!(serde_json::from_str::<Nip>(r#""526587763""#).is_err());
//! let from_test_env: Nip = serde_json::from_str(r#""5265877634""#).unwrap();
//! assert!(!from_test_env.has_valid_check_digit());
//! // User input goes through the strict level, which rejects it.
//! assert!(matches!(
//!     "5265877634".parse::<Nip>(),
//!     Err(IdentifierError::Checksum { .. })
//! ));
//! # Ok::<(), IdentifierError>(())
//! ```

mod error;
mod internal_id;
mod ksef_number;
mod nip;
mod peppol_id;
mod pesel;
mod reference_number;
mod scan;
mod vat_ue;

pub use error::{ChecksumKind, IdentifierError, IdentifierKind};
pub use internal_id::InternalId;
pub use ksef_number::KsefNumber;
pub use nip::Nip;
pub use peppol_id::PeppolId;
pub use pesel::Pesel;
pub use reference_number::{Challenge, ReferenceNumber};
pub use vat_ue::{NipVatUe, VatUe};

/// How much of an identifier a parser checks (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// What data from KSeF always meets: used by deserialization and `parse_wire`.
    Wire,
    /// The wire level plus the check digits KSeF enforces only in production: used by `FromStr`
    /// and `TryFrom`, for user input.
    Strict,
}

/// Implements the conversions shared by every identifier newtype `$ty(String)`.
///
/// The type must have an associated
/// `fn check(input: &str, level: Level) -> Result<(), IdentifierError>` that accepts exactly the
/// identifiers valid at `level`. `FromStr` and `TryFrom` check at [`Level::Strict`];
/// `parse_wire` and `Deserialize` at [`Level::Wire`]; `Serialize` must be derived with
/// `#[serde(into = "String")]`.
macro_rules! string_identifier {
    ($ty:ident) => {
        impl $ty {
            /// Parses `input` with the wire-level checks only, as deserialization does: what the
            /// spec's schema requires, without the check digits KSeF enforces only in production
            /// (see the type's documentation and the
            /// [module documentation](crate::values#two-levels-of-checking)). Use it for
            /// identifiers that come from KSeF; parse user input with `FromStr`.
            ///
            /// # Errors
            ///
            /// The [`IdentifierError`](crate::values::IdentifierError) describing the first
            /// problem found.
            pub fn parse_wire(input: &str) -> Result<Self, $crate::values::IdentifierError> {
                Self::check(input, $crate::values::Level::Wire)?;
                Ok(Self(input.to_owned()))
            }

            /// The identifier as text, exactly as it was parsed.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as an owned `String`, without copying.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::values::IdentifierError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::check(input, $crate::values::Level::Strict)?;
                Ok(Self(input.to_owned()))
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::values::IdentifierError;

            fn try_from(input: String) -> Result<Self, Self::Error> {
                Self::check(&input, $crate::values::Level::Strict)?;
                Ok(Self(input))
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::values::IdentifierError;

            fn try_from(input: &str) -> Result<Self, Self::Error> {
                input.parse()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                let input = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::check(&input, $crate::values::Level::Wire)
                    .map_err(<D::Error as ::serde::de::Error>::custom)?;
                Ok(Self(input))
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Sound: `Eq`, `Ord` and `Hash` are derived from the single `String` field, so they agree
        // with those of `str`.
        impl ::std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$ty> for str {
            fn eq(&self, other: &$ty) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$ty> for &str {
            fn eq(&self, other: &$ty) -> bool {
                *self == other.0
            }
        }
    };
}
use string_identifier;
