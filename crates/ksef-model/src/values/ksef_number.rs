//! [`KsefNumber`]: the number KSeF assigns to an accepted invoice.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Serialize;

use super::error::{ChecksumKind, IdentifierError, IdentifierKind};
use super::nip::{self, Nip};
use super::scan::{self, Cx};
use super::{Level, string_identifier};

/// The number KSeF assigns to an invoice it accepts, e.g. `5265877635-20250826-0100001AF629-AF`.
///
/// The 35-character form of KSeF 2.0 is `NNNNNNNNNN-YYYYMMDD-XXXXXXXXXXXX-CC`:
///
/// - the seller's [`Nip`] (its pattern is checked, its check digit is not: see below);
/// - the date the invoice was accepted, a real calendar date with a year from 2020 to 9999 (the
///   spec's pattern);
/// - a technical part of 12 uppercase hex digits;
/// - a CRC-8 (polynomial 0x07, initial value 0x00, no reflection, no final XOR) of the ASCII bytes
///   of the first 32 characters, as 2 uppercase hex digits ([`KsefNumber::crc8`]).
///
/// Every separator is checked too, unlike the Ministry's C# validator, which checks only the
/// length and the CRC.
///
/// # The seller's NIP check digit
///
/// KSeF numbers are assigned by the server, and KSeF verifies a seller's NIP check digit only in
/// the production environment: the TEST environment accepts and numbers invoices whose seller NIP
/// has a wrong check digit. So the NIP's check digit is **not** checked at either level: the
/// strict parsers ([`FromStr`](std::str::FromStr), `TryFrom`) accept exactly what
/// deserialization and [`KsefNumber::parse_wire`] accept, and a number copied from the TEST
/// environment can always be typed back in. A mistyped NIP is still caught, by the CRC-8, which
/// covers it. Check it with `number.nip().has_valid_check_digit()` where that matters.
///
/// # KSeF 1.0 numbers (36 characters)
///
/// The spec's `KsefNumber` schema also accepts 36 characters, `NNNNNNNNNN-YYYYMMDD-XXXXXX-XXXXXX-CC`,
/// "for backward compatibility with KSeF 1.0" (KSeF 2.0 only generates the 35-character form), and
/// KSeF 2.0 accepts them as input (e.g. to download an invoice issued in KSeF 1.0). Such numbers
/// are accepted and **kept exactly as written**: they are what KSeF 1.0 issued and stored, and
/// their last two characters are not a CRC-8 of the 35-character form (the Ministry confirmed this
/// is intended, CIRFMF/ksef-api#55; e.g. `7781464139-20230721-80B510-9675F7-B5` has `B5` while the
/// CRC-8 of `7781464139-20230721-80B5109675F7` is `2F`), so removing the extra `-` would make an
/// invalid 2.0 number. Their NIP, date, separators and hex digits are checked; their checksum is
/// not, since no algorithm is documented for it. [`KsefNumber::is_legacy`] tells them apart.
///
/// ```
/// use chrono::NaiveDate;
/// use ksef_model::values::KsefNumber;
///
/// let n: KsefNumber = "5265877635-20250826-0100001AF629-AF".parse()?;
/// assert_eq!(n.nip().as_str(), "5265877635");
/// assert_eq!(n.date(), NaiveDate::from_ymd_opt(2025, 8, 26).unwrap());
/// assert_eq!(n.technical_part(), "0100001AF629");
/// assert_eq!(n.crc(), 0xAF);
/// assert!(!n.is_legacy());
/// assert_eq!(KsefNumber::crc8(b"5265877635-20250826-0100001AF629"), 0xAF);
///
/// let old: KsefNumber = "7781464139-20230721-80B510-9675F7-B5".parse()?;
/// assert!(old.is_legacy());
/// assert_eq!(old.technical_part(), "80B5109675F7");
///
/// // From the TEST environment: the NIP's check digit is wrong, the CRC-8 is right.
/// let test: KsefNumber = "1234567890-20250826-0100001AF629-46".parse()?;
/// assert!(!test.nip().has_valid_check_digit());
/// # Ok::<(), ksef_model::values::IdentifierError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct KsefNumber(String);

string_identifier!(KsefNumber);

/// Where the date starts.
const DATE: usize = Nip::LEN + 1;
/// Where the technical part starts.
const TECHNICAL: usize = DATE + 9;

impl KsefNumber {
    /// The number of characters of a KSeF 2.0 number.
    pub const LEN: usize = 35;
    /// The number of characters of a KSeF 1.0 number, still accepted as input.
    pub const LEGACY_LEN: usize = 36;
    /// The number of leading characters the CRC-8 is computed over.
    pub const CRC_INPUT_LEN: usize = 32;

    /// CRC-8 with polynomial 0x07, initial value 0x00, no reflection and no final XOR, as used by
    /// KSeF numbers (over their first 32 characters).
    pub const fn crc8(data: &[u8]) -> u8 {
        scan::crc8(data)
    }

    /// Builds the KSeF 2.0 number of an invoice of seller `nip` accepted on `date` with the
    /// 12-hex-digit `technical` part, computing the CRC-8.
    ///
    /// # Errors
    ///
    /// The errors of parsing the assembled number (its text is the error's input): a date outside
    /// the years 2020-9999, or a `technical` part that is not exactly 12 uppercase hex digits.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use ksef_model::values::{KsefNumber, Nip};
    ///
    /// let nip: Nip = "5265877635".parse()?;
    /// let date = NaiveDate::from_ymd_opt(2025, 8, 26).unwrap();
    /// let n = KsefNumber::from_parts(&nip, date, "0100001AF629")?;
    /// assert_eq!(n, "5265877635-20250826-0100001AF629-AF");
    /// assert!(KsefNumber::from_parts(&nip, date, "0100001af629").is_err());
    /// # Ok::<(), ksef_model::values::IdentifierError>(())
    /// ```
    pub fn from_parts(
        nip: &Nip,
        date: NaiveDate,
        technical: &str,
    ) -> Result<Self, IdentifierError> {
        let mut text = format!("{nip}-{}-{technical}-", scan::yyyymmdd(date));
        let crc = text
            .as_bytes()
            .get(..Self::CRC_INPUT_LEN)
            .map_or(0, Self::crc8);
        text.push_str(&scan::hex2(crc));
        // Only the 35-character form: a `technical` part with a `-` in it must not slip through as
        // a KSeF 1.0 number.
        check_number(&text, false)?;
        Ok(KsefNumber(text))
    }

    /// Whether this is a 36-character KSeF 1.0 number (see the type's documentation).
    pub fn is_legacy(&self) -> bool {
        self.0.len() == Self::LEGACY_LEN
    }

    /// The seller's NIP (the first ten characters); its check digit may be wrong (see the type).
    pub fn nip(&self) -> Nip {
        Nip::from_checked(&self.0[..Nip::LEN])
    }

    /// The date the invoice was accepted into KSeF.
    pub fn date(&self) -> NaiveDate {
        // Invariant: the date was checked to be a calendar date when the value was built.
        Cx::new(IdentifierKind::KsefNumber, &self.0)
            .ksef_date(self.0.as_bytes(), DATE)
            .expect("a KsefNumber holds a valid date")
    }

    /// The 12 hex digits of the technical part (without the extra `-` of a KSeF 1.0 number).
    pub fn technical_part(&self) -> Cow<'_, str> {
        if self.is_legacy() {
            Cow::Owned(format!(
                "{}{}",
                &self.0[TECHNICAL..TECHNICAL + 6],
                &self.0[TECHNICAL + 7..TECHNICAL + 13]
            ))
        } else {
            Cow::Borrowed(&self.0[TECHNICAL..TECHNICAL + 12])
        }
    }

    /// The value of the last two hex digits: the CRC-8 of a KSeF 2.0 number (checked), or the
    /// unchecked checksum of a KSeF 1.0 number.
    pub fn crc(&self) -> u8 {
        let b = self.0.as_bytes();
        scan::hex_value(b[b.len() - 2], b[b.len() - 1])
    }

    /// Checks a KSeF number; both levels check the same (see the type).
    fn check(input: &str, _level: Level) -> Result<(), IdentifierError> {
        check_number(input, true)
    }
}

/// Checks a KSeF number (its NIP at wire level only); `allow_legacy` admits the 36-character
/// KSeF 1.0 form.
fn check_number(input: &str, allow_legacy: bool) -> Result<(), IdentifierError> {
    let cx = Cx::new(IdentifierKind::KsefNumber, input);
    let max = if allow_legacy {
        KsefNumber::LEGACY_LEN
    } else {
        KsefNumber::LEN
    };
    let b = cx.ascii_with_len(KsefNumber::LEN, max)?;
    nip::check_at(cx, b, 0, Level::Wire)?;
    cx.separator(b, Nip::LEN, b'-')?;
    cx.ksef_date(b, DATE)?;
    cx.separator(b, DATE + 8, b'-')?;
    if b.len() == KsefNumber::LEGACY_LEN {
        cx.upper_hex(b, TECHNICAL, 6)?;
        cx.separator(b, TECHNICAL + 6, b'-')?;
        cx.upper_hex(b, TECHNICAL + 7, 6)?;
        cx.separator(b, TECHNICAL + 13, b'-')?;
        cx.upper_hex(b, TECHNICAL + 14, 2)
    } else {
        cx.upper_hex(b, TECHNICAL, 12)?;
        cx.separator(b, KsefNumber::CRC_INPUT_LEN, b'-')?;
        cx.upper_hex(b, KsefNumber::CRC_INPUT_LEN + 1, 2)?;
        let expected = KsefNumber::crc8(&b[..KsefNumber::CRC_INPUT_LEN]);
        let found = scan::hex_value(b[33], b[34]);
        if expected == found {
            Ok(())
        } else {
            Err(cx.checksum(ChecksumKind::Crc8, scan::hex2(expected), scan::hex2(found)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 35-character KSeF number in the spec, the docs and the UPO examples.
    const DOC_NUMBERS: [&str; 9] = [
        "5265877635-20250826-0100001AF629-AF",
        "5265877635-20250626-010080DD2B5E-26",
        "5265877635-20250916-0200A0D6723E-C2",
        "5265877635-20250916-010040741B3E-46",
        "5265877635-20250916-02000009FF3E-FB",
        "5265877635-20250916-0100C002FF3E-D5",
        "5265877635-20250916-020000583241-84",
        "5265877635-20250925-010020A0A242-0A",
        "5555555555-20250828-010080615740-E4",
    ];

    #[test]
    fn accepts_every_documented_number() {
        for s in DOC_NUMBERS {
            let n: KsefNumber = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(!n.is_legacy());
            assert_eq!(scan::hex2(n.crc()), &s[33..]);
        }
    }

    #[test]
    fn rebuilds_documented_numbers_from_parts() {
        for s in DOC_NUMBERS {
            let n: KsefNumber = s.parse().unwrap();
            let rebuilt = KsefNumber::from_parts(&n.nip(), n.date(), &n.technical_part()).unwrap();
            assert_eq!(rebuilt, n);
        }
    }

    #[test]
    fn checksum_mismatch_reports_both_values() {
        assert_eq!(
            "5265877635-20250826-0100001AF629-AE".parse::<KsefNumber>(),
            Err(IdentifierError::Checksum {
                kind: IdentifierKind::KsefNumber,
                input: "5265877635-20250826-0100001AF629-AE".into(),
                checksum: ChecksumKind::Crc8,
                expected: "AF".into(),
                found: "AE".into(),
            })
        );
    }

    #[test]
    fn separators_dates_and_nip_are_checked() {
        // The 33rd character must be '-' even when the CRC is right (the C# validator misses it).
        assert!(matches!(
            "5265877635-20250826-0100001AF629XAF".parse::<KsefNumber>(),
            Err(IdentifierError::MissingSeparator {
                position: 32,
                found: 'X',
                separator: '-',
                ..
            })
        ));
        assert!(matches!(
            "5265877635-20250231-0100001AF629-AF".parse::<KsefNumber>(),
            Err(IdentifierError::InvalidDate { position: 11, .. })
        ));
        // The NIP's pattern is checked.
        assert!(matches!(
            "0265877635-20250826-0100001AF629-AF".parse::<KsefNumber>(),
            Err(IdentifierError::InvalidCharacter { position: 0, .. })
        ));
        // A changed NIP digit breaks the CRC-8 (the NIP's check digit itself is not checked).
        assert!(matches!(
            "5265877636-20250826-0100001AF629-AF".parse::<KsefNumber>(),
            Err(IdentifierError::Checksum {
                checksum: ChecksumKind::Crc8,
                ..
            })
        ));
        assert!(matches!(
            "5265877635-20250826-0100001af629-AF".parse::<KsefNumber>(),
            Err(IdentifierError::InvalidCharacter {
                position: 27,
                found: 'a',
                ..
            })
        ));
    }

    #[test]
    fn nip_check_digit_is_not_checked_at_either_level() {
        for nip in ["1234567890", "5265877636"] {
            let nip = Nip::parse_wire(nip).unwrap();
            assert!(!nip.has_valid_check_digit());
            let date = NaiveDate::from_ymd_opt(2025, 8, 26).unwrap();
            let n = KsefNumber::from_parts(&nip, date, "0100001AF629").unwrap();
            assert_eq!(n.nip(), nip);
            assert_eq!(n.as_str().parse::<KsefNumber>().as_ref(), Ok(&n));
            assert_eq!(KsefNumber::parse_wire(n.as_str()).as_ref(), Ok(&n));
            // The CRC-8 stays strict in both paths.
            let bad_crc = format!("{}{}", &n.as_str()[..33], scan::hex2(n.crc() ^ 1));
            for result in [
                bad_crc.parse::<KsefNumber>(),
                KsefNumber::parse_wire(&bad_crc),
            ] {
                assert!(matches!(
                    result,
                    Err(IdentifierError::Checksum {
                        checksum: ChecksumKind::Crc8,
                        ..
                    })
                ));
            }
        }
        // A KSeF 1.0 number too.
        let old: KsefNumber = "1234567890-20230721-80B510-9675F7-B5".parse().unwrap();
        assert!(!old.nip().has_valid_check_digit());
    }

    #[test]
    fn legacy_numbers_are_kept_verbatim() {
        let s = "7781464139-20230721-80B510-9675F7-B5";
        let n: KsefNumber = s.parse().unwrap();
        assert!(n.is_legacy());
        assert_eq!(n.as_str(), s);
        assert_eq!(n.crc(), 0xB5);
        assert_eq!(n.date(), NaiveDate::from_ymd_opt(2023, 7, 21).unwrap());
        // Its checksum is not the 2.0 CRC of either form.
        assert_ne!(KsefNumber::crc8(b"7781464139-20230721-80B5109675F7"), 0xB5);
        assert_ne!(KsefNumber::crc8(&s.as_bytes()[..33]), 0xB5);
        // The 36-character form needs both dashes.
        assert!(matches!(
            "7781464139-20230721-80B510X9675F7-B5".parse::<KsefNumber>(),
            Err(IdentifierError::MissingSeparator { position: 26, .. })
        ));
    }

    #[test]
    fn from_parts_rejects_bad_parts() {
        let nip: Nip = "5265877635".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 8, 26).unwrap();
        assert!(matches!(
            KsefNumber::from_parts(&nip, date, "0100001AF62"),
            Err(IdentifierError::Length { found: 34, .. })
        ));
        assert!(matches!(
            KsefNumber::from_parts(&nip, date, "010000-1AF629"),
            Err(IdentifierError::Length {
                found: 36,
                max: 35,
                ..
            })
        ));
        let old = NaiveDate::from_ymd_opt(2019, 12, 31).unwrap();
        assert!(matches!(
            KsefNumber::from_parts(&nip, old, "0100001AF629"),
            Err(IdentifierError::InvalidDate { .. })
        ));
    }
}
