//! Behaviour of the checked identifiers in `ksef_model::values`, through the public API only:
//! documented examples and test vectors, rejections with precise errors, serde, and property tests
//! of the checksums.

use chrono::{Days, NaiveDate};
use ksef_model::values::{
    Challenge, ChecksumKind, IdentifierError, IdentifierKind, InternalId, KsefNumber, Nip,
    NipVatUe, PeppolId, Pesel, ReferenceNumber, VatUe,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------------------------------------
// features.md §5 test vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn vector_1_crc_of_the_docs_example() {
    assert_eq!(KsefNumber::crc8(b"5265877635-20250826-0100001AF629"), 0xAF);
    let n: KsefNumber = "5265877635-20250826-0100001AF629-AF".parse().unwrap();
    assert_eq!(n.crc(), 0xAF);
    assert_eq!(n.nip(), "5265877635");
    assert_eq!(n.date(), date(2025, 8, 26));
    assert_eq!(n.technical_part(), "0100001AF629");
}

#[test]
fn vector_2_crc_of_the_changelog_example() {
    assert_eq!(KsefNumber::crc8(b"5265877635-20250626-010080DD2B5E"), 0x26);
    let nip: Nip = "5265877635".parse().unwrap();
    let n = KsefNumber::from_parts(&nip, date(2025, 6, 26), "010080DD2B5E").unwrap();
    assert_eq!(n.as_str(), "5265877635-20250626-010080DD2B5E-26");
}

#[test]
fn vector_3_length_34_is_rejected() {
    let s = "5265877635-20250826-0100001AF629-A";
    assert_eq!(s.len(), 34);
    assert_eq!(
        s.parse::<KsefNumber>(),
        Err(IdentifierError::Length {
            kind: IdentifierKind::KsefNumber,
            input: s.to_owned(),
            min: 35,
            max: 36,
            found: 34,
        })
    );
}

#[test]
fn vector_4_missing_separator_before_the_crc_is_rejected() {
    // 32 data characters, `X` instead of `-`, and the right CRC: the C# validator accepts this.
    let s = format!("5265877635-20250826-0100001AF629X{:02X}", 0xAF);
    assert_eq!(s.len(), 35);
    assert_eq!(
        s.parse::<KsefNumber>(),
        Err(IdentifierError::MissingSeparator {
            kind: IdentifierKind::KsefNumber,
            input: s.clone(),
            position: 32,
            separator: '-',
            found: 'X',
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Valid and invalid examples per type
// ---------------------------------------------------------------------------------------------

#[test]
fn nip_examples() {
    for s in [
        "5265877635",
        "7762811692",
        "5555555555",
        "1111111111",
        "6824515772",
    ] {
        let nip: Nip = s.parse().unwrap();
        assert_eq!(nip.to_string(), s);
    }
    let cases = [
        ("5265877636", "Checksum"),
        ("1234567890", "NoValidCheckDigit"),
        ("0265877635", "InvalidCharacter"),
        ("5005877635", "InvalidCharacter"),
        ("526587763", "Length"),
        ("52658776351", "Length"),
        ("526587763a", "InvalidCharacter"),
        (" 526587763", "InvalidCharacter"),
    ];
    for (s, variant) in cases {
        let err = s.parse::<Nip>().unwrap_err();
        assert!(format!("{err:?}").starts_with(variant), "{s}: {err:?}");
        assert_eq!(err.kind(), IdentifierKind::Nip);
        assert_eq!(err.input(), s);
    }
}

#[test]
fn nip_error_messages_are_specific() {
    let err = "5265877636".parse::<Nip>().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid NIP: NIP check digit is 6, expected 5: "5265877636""#
    );
    let err = "526587763a".parse::<Nip>().unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid NIP: found 'a' at index 9, expected a digit: "526587763a""#
    );
}

#[test]
fn pesel_examples() {
    let p: Pesel = "30112206276".parse().unwrap();
    assert_eq!(p.birth_date(), Some(date(1930, 11, 22)));
    let p: Pesel = "02270803624".parse().unwrap();
    assert_eq!(p.birth_date(), Some(date(2002, 7, 8)));
    assert!(matches!(
        "30112206275".parse::<Pesel>(),
        Err(IdentifierError::Checksum {
            checksum: ChecksumKind::Pesel,
            ..
        })
    ));
    assert!(matches!(
        "30332206276".parse::<Pesel>(),
        Err(IdentifierError::InvalidDate { position: 2, .. })
    ));
    assert!(matches!(
        "3011220627".parse::<Pesel>(),
        Err(IdentifierError::Length { .. })
    ));
}

#[test]
fn vat_ue_and_nip_vat_ue_examples() {
    let v: VatUe = "ATU12345678".parse().unwrap();
    assert_eq!((v.country_code(), v.national_part()), ("AT", "U12345678"));
    assert!("DE123456789".parse::<VatUe>().is_ok());
    assert!("XIHA123".parse::<VatUe>().is_ok());
    assert!(matches!(
        "PL1234567890".parse::<VatUe>(),
        Err(IdentifierError::UnknownCountry { .. })
    ));
    assert!(matches!(
        "DE1234567890".parse::<VatUe>(),
        Err(IdentifierError::Format { .. })
    ));

    // The docs' NipVatUe example.
    let id: NipVatUe = "5265877635-ATU12345678".parse().unwrap();
    assert_eq!(id.nip(), "5265877635");
    assert_eq!(id.vat_ue(), v);
    assert_eq!(NipVatUe::from_parts(&id.nip(), &v), id);
    assert!(matches!(
        "5265877635ATU12345678".parse::<NipVatUe>(),
        Err(IdentifierError::MissingSeparator { position: 10, .. })
    ));
}

#[test]
fn internal_id_examples() {
    // The Ministry's examples parse (spec pattern) though their last digit is not the checksum.
    for s in ["5265877635-12345", "7762811692-12345", "5555555555-12345"] {
        let id: InternalId = s.parse().unwrap();
        assert_eq!(id.nip().as_str(), &s[..10]);
        assert_eq!(id.unit(), "12345");
        assert!(!id.has_valid_check_digit());
    }
    // The spec's worked example of the checksum.
    let id: InternalId = "6824515772-12343".parse().unwrap();
    assert!(id.has_valid_check_digit());
    assert_eq!(InternalId::from_parts(&id.nip(), 1234).unwrap(), id);
    assert_eq!(
        "6824515772-12344"
            .parse::<InternalId>()
            .unwrap()
            .verify_check_digit(),
        Err(IdentifierError::Checksum {
            kind: IdentifierKind::InternalId,
            input: "6824515772-12344".into(),
            checksum: ChecksumKind::InternalId,
            expected: "3".into(),
            found: "4".into(),
        })
    );
    assert!(matches!(
        "5265877636-12345".parse::<InternalId>(),
        Err(IdentifierError::Checksum {
            checksum: ChecksumKind::Nip,
            ..
        })
    ));
}

#[test]
fn peppol_id_examples() {
    assert!("PPL123456".parse::<PeppolId>().is_ok());
    for s in [
        "PPL12345",
        "PPL1234567",
        "APL123456",
        "Ppl123456",
        "PPLA23456",
    ] {
        assert!(s.parse::<PeppolId>().is_err(), "{s}");
    }
}

#[test]
fn ksef_number_examples() {
    // Every 35-character number in the spec, docs and UPO samples.
    for s in [
        "5265877635-20250826-0100001AF629-AF",
        "5265877635-20250626-010080DD2B5E-26",
        "5265877635-20250916-0200A0D6723E-C2",
        "5265877635-20250916-010040741B3E-46",
        "5265877635-20250916-02000009FF3E-FB",
        "5265877635-20250916-0100C002FF3E-D5",
        "5265877635-20250916-020000583241-84",
        "5265877635-20250925-010020A0A242-0A",
        "5555555555-20250828-010080615740-E4",
    ] {
        assert!(s.parse::<KsefNumber>().is_ok(), "{s}");
    }
    // KSeF 1.0 form: accepted verbatim, checksum not verified.
    let old: KsefNumber = "7781464139-20230721-80B510-9675F7-B5".parse().unwrap();
    assert!(old.is_legacy());
    assert_eq!(old.to_string(), "7781464139-20230721-80B510-9675F7-B5");
    assert_eq!(old.nip(), "7781464139");
    assert_eq!(old.technical_part(), "80B5109675F7");

    let bad = [
        // calendar date
        "5265877635-20250229-0100001AF629-AF",
        // year before the spec's range
        "5265877635-20190826-0100001AF629-AF",
        // lowercase hex
        "5265877635-20250826-0100001AF629-af",
        // a changed NIP digit: the CRC-8 no longer matches
        "5265877634-20250826-0100001AF629-AF",
        // NIP pattern (leading zero)
        "0265877635-20250826-0100001AF629-AF",
        // separator after the NIP
        "5265877635 20250826-0100001AF629-AF",
        // 36 characters with the dash in the wrong place
        "5265877635-20250826-0100001-AF629-AF",
    ];
    for s in bad {
        assert!(s.parse::<KsefNumber>().is_err(), "{s}");
    }
}

/// Every reference number (of any kind) in the spec, the docs and the UPO samples.
const REFERENCE_NUMBERS: [&str; 29] = [
    "20250514-AU-2DFC46C000-3AC6D5877F-D4",
    "20250514-CR-226FB7B000-3ACF9BE4C0-10",
    "20250604-CR-461EA5B000-537A6BA15D-D7",
    "20250625-CR-20F5EE4000-DA48AE4124-46",
    "20250625-CR-2FDC223000-C2BFC98A9C-4E",
    "20250625-EE-319D7EE000-B67F415CDC-2C",
    "20250625-SO-2C3E6C8000-B675CF5D68-07",
    "20250626-EE-2F20AD2000-242386DF86-52",
    "20250626-EG-333C814000-C529F710D8-D2",
    "20250626-SB-213D593000-4DE10D80A5-E9",
    "20250626-SO-2F14610000-242991F8C9-B4",
    "20250819-EC-1ECDD12000-5EE71AE5E3-B7",
    "20250901-EU-47FDBE3000-5961A5D232-BF",
    "20250901-EU-48D8488000-59667BB54C-C8",
    "20250901-SB-47FA636000-5960B49115-9D",
    "20250918-EE-2F15D39000-242207E5C4-1B",
    "20250918-EE-2F20AD2000-242386DF86-52",
    "20250918-EU-2EBD6FA000-242EB9B66D-43",
    "20250918-SB-3789A40000-20373E1269-A3",
    "20250925-EH-2D2C11B000-E9C9ED8340-EE",
    "20250925-SO-2F67776000-97273B191A-65",
    "20250928-SO-494B541000-3AD87C01BA-5D",
    "20251001-EC-220B0CE000-E228129563-96",
    "20251001-EC-2DD3AFF000-A6B7F19A95-11",
    "20251010-AU-19F5E39000-39B5B182BA-B8",
    "20251010-EC-1DCE3E3000-12ECB5B36E-45",
    "20251010-EH-1B6C9EB000-4B15D3AEB9-89",
    "36950822-93-9D5A28BFDA-47C899773E-5C",
    "58550905-BD-D0587DA4A3-4AE171EDED-46",
];

#[test]
fn every_documented_reference_number_parses() {
    let mut crc_ok = 0;
    for s in REFERENCE_NUMBERS {
        let r: ReferenceNumber = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(r.kind_code(), &s[9..11]);
        if r.has_valid_checksum() {
            crc_ok += 1;
        }
    }
    // The evidence behind not enforcing the checksum: 23 of 29 match the CRC-8, 6 do not.
    assert_eq!(crc_ok, 23);
}

#[test]
fn every_documented_challenge_parses() {
    for s in REFERENCE_NUMBERS.iter().filter(|s| &s[9..11] == "CR") {
        let c: Challenge = s.parse().unwrap();
        assert!(c.has_valid_checksum(), "{s}");
        assert_eq!(ReferenceNumber::from(c).as_str(), *s);
    }
    assert!(matches!(
        "20250626-SO-2F14610000-242991F8C9-B4".parse::<Challenge>(),
        Err(IdentifierError::Format { position: 9, .. })
    ));
    assert!(matches!(
        "20250625-CR-2FDC223000-C2BFC98A9C-4".parse::<Challenge>(),
        Err(IdentifierError::Length { found: 35, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Conversions and serde
// ---------------------------------------------------------------------------------------------

#[test]
fn conversions_are_lossless() {
    let s = "5265877635-20250826-0100001AF629-AF";
    let a: KsefNumber = s.parse().unwrap();
    let b = KsefNumber::try_from(s.to_owned()).unwrap();
    let c = KsefNumber::try_from(s).unwrap();
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(a.as_ref(), s);
    assert_eq!(String::from(a.clone()), s);
    assert_eq!(a.into_inner(), s);
    assert!(KsefNumber::try_from("nope").is_err());

    // `Borrow<str>` lets maps keyed by identifiers be queried with plain strings.
    let mut set = std::collections::HashSet::new();
    set.insert(c);
    assert!(set.contains(s));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sample {
    nip: Nip,
    pesel: Pesel,
    vat_ue: VatUe,
    nip_vat_ue: NipVatUe,
    internal_id: InternalId,
    peppol_id: PeppolId,
    ksef_number: KsefNumber,
    reference_number: ReferenceNumber,
    challenge: Challenge,
}

const SAMPLE_JSON: &str = r#"{"nip":"5265877635","pesel":"30112206276","vatUe":"ATU12345678","nipVatUe":"5265877635-ATU12345678","internalId":"5265877635-12345","peppolId":"PPL123456","ksefNumber":"5265877635-20250826-0100001AF629-AF","referenceNumber":"20250626-SO-2F14610000-242991F8C9-B4","challenge":"20250625-CR-2FDC223000-C2BFC98A9C-4E"}"#;

#[test]
fn serde_round_trips_as_plain_strings() {
    let sample: Sample = serde_json::from_str(SAMPLE_JSON).unwrap();
    assert_eq!(sample.nip, "5265877635");
    assert_eq!(sample.challenge.date(), date(2025, 6, 25));
    assert_eq!(serde_json::to_string(&sample).unwrap(), SAMPLE_JSON);
}

#[test]
fn serde_rejects_each_invalid_field() {
    // Each breaks what the wire level checks: length, pattern, separators, CRC-8, hex, kind code.
    let replacements = [
        ("5265877635\",\"pesel", "0265877635\",\"pesel"),
        ("30112206276", "30132206276"),
        ("ATU12345678\",\"nipVatUe", "ATU1234567\",\"nipVatUe"),
        ("5265877635-ATU12345678", "5265877635-PL12345678"),
        ("5265877635-12345", "5265877635-1234"),
        ("PPL123456", "PPL12345"),
        ("0100001AF629-AF", "0100001AF629-AE"),
        ("242991F8C9-B4", "242991F8C9-b4"),
        ("20250625-CR", "20250625-SO"),
    ];
    for (from, to) in replacements {
        assert!(SAMPLE_JSON.contains(from), "{from}");
        let json = SAMPLE_JSON.replacen(from, to, 1);
        let err = serde_json::from_str::<Sample>(&json).unwrap_err();
        assert!(err.to_string().starts_with("invalid "), "{to}: {err}");
    }
    // The error says what is wrong and shows the value.
    let err = serde_json::from_str::<KsefNumber>(r#""5265877635-20250826-0100001AF629-AE""#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CRC-8 checksum is AE, expected AF"), "{err}");
    assert!(err.contains("5265877635-20250826-0100001AF629-AE"), "{err}");
    // Non-strings are rejected too.
    assert!(serde_json::from_str::<Nip>("5265877635").is_err());
    // Wrong length and a broken NIP pattern, alone and inside composite identifiers.
    for json in [
        r#""526587763""#,
        r#""52658776350""#,
        r#""0265877635""#,
        r#""5005877635""#,
    ] {
        assert!(serde_json::from_str::<Nip>(json).is_err(), "{json}");
    }
    assert!(serde_json::from_str::<InternalId>(r#""0265877635-12345""#).is_err());
    assert!(serde_json::from_str::<NipVatUe>(r#""5005877635-ATU12345678""#).is_err());
    assert!(serde_json::from_str::<KsefNumber>(r#""526587763-20250826-0100001AF629-AF""#).is_err());
}

// ---------------------------------------------------------------------------------------------
// Wire level: what the TEST environment may send
// ---------------------------------------------------------------------------------------------

/// NIPs matching the spec's pattern whose check digit is wrong: `1234567890` leaves remainder 10
/// (no check digit fits), `5265877636` has 6 where 5 belongs.
const BAD_CHECK_DIGIT_NIPS: [(&str, &str); 2] = [
    ("1234567890", "NoValidCheckDigit"),
    ("5265877636", "Checksum"),
];

#[test]
fn bad_check_digit_nips_fail_mod_11() {
    // 1·6 + 2·5 + 3·7 + 4·2 + 5·3 + 6·4 + 7·5 + 8·6 + 9·7 = 230 = 20·11 + 10.
    assert_eq!(Nip::check_digit([1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
    assert_eq!(Nip::check_digit([5, 2, 6, 5, 8, 7, 7, 6, 3]), Some(5));
}

#[test]
fn nip_with_wrong_check_digit_deserializes_but_does_not_parse() {
    for (s, variant) in BAD_CHECK_DIGIT_NIPS {
        let json = format!("\"{s}\"");
        let nip: Nip = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(nip, s);
        assert!(!nip.has_valid_check_digit(), "{s}");
        assert_eq!(Nip::parse_wire(s).as_ref(), Ok(&nip));
        // Serialization is unchanged.
        assert_eq!(serde_json::to_string(&nip).unwrap(), json);

        // The strict level (user input) rejects it, with the error `verify_check_digit` gives.
        let err = s.parse::<Nip>().unwrap_err();
        assert!(format!("{err:?}").starts_with(variant), "{s}: {err:?}");
        assert_eq!(err.kind(), IdentifierKind::Nip);
        assert_eq!(Nip::try_from(s), Err(err.clone()));
        assert_eq!(Nip::try_from(s.to_owned()), Err(err.clone()));
        assert_eq!(nip.verify_check_digit(), Err(err));
    }
    let err = "5265877636".parse::<Nip>().unwrap_err();
    assert_eq!(
        err,
        IdentifierError::Checksum {
            kind: IdentifierKind::Nip,
            input: "5265877636".into(),
            checksum: ChecksumKind::Nip,
            expected: "5".into(),
            found: "6".into(),
        }
    );
    assert_eq!(
        "1234567890".parse::<Nip>(),
        Err(IdentifierError::NoValidCheckDigit {
            kind: IdentifierKind::Nip,
            input: "1234567890".into(),
            position: 0,
        })
    );
}

#[test]
fn composites_with_a_wrong_nip_check_digit_deserialize() {
    for (nip, variant) in BAD_CHECK_DIGIT_NIPS {
        // Inside a KSeF number (with a correct CRC-8): accepted at both levels.
        let wire_nip = Nip::parse_wire(nip).unwrap();
        let number = KsefNumber::from_parts(&wire_nip, date(2025, 8, 26), "0100001AF629").unwrap();
        let json = serde_json::to_string(&number).unwrap();
        let parsed: KsefNumber = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, number);
        assert_eq!(parsed.nip(), nip);
        assert!(!parsed.nip().has_valid_check_digit());
        assert_eq!(number.as_str().parse::<KsefNumber>().as_ref(), Ok(&number));
        assert_eq!(KsefNumber::try_from(number.as_str()).as_ref(), Ok(&number));

        // Inside an internal identifier: accepted on the wire, rejected as user input.
        let text = format!("{nip}-12345");
        let id: InternalId = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(id.nip(), nip);
        assert!(!id.nip().has_valid_check_digit());
        assert_eq!(InternalId::parse_wire(&text).as_ref(), Ok(&id));
        let err = text.parse::<InternalId>().unwrap_err();
        assert!(format!("{err:?}").starts_with(variant), "{text}: {err:?}");
        assert_eq!(err.kind(), IdentifierKind::InternalId);
        assert!(InternalId::try_from(text.clone()).is_err());

        // Inside a NIP-VAT UE identifier: the same.
        let text = format!("{nip}-ATU12345678");
        let id: NipVatUe = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        assert_eq!(id.nip(), nip);
        assert!(!id.nip().has_valid_check_digit());
        assert_eq!(id.vat_ue(), "ATU12345678");
        assert_eq!(NipVatUe::parse_wire(&text).as_ref(), Ok(&id));
        let err = text.parse::<NipVatUe>().unwrap_err();
        assert!(format!("{err:?}").starts_with(variant), "{text}: {err:?}");
        assert_eq!(err.kind(), IdentifierKind::NipVatUe);
        assert!(NipVatUe::try_from(text.as_str()).is_err());
    }
}

#[test]
fn pesel_with_wrong_check_digit_deserializes_but_does_not_parse() {
    let p: Pesel = serde_json::from_str(r#""30112206277""#).unwrap();
    assert!(!p.has_valid_check_digit());
    assert_eq!(p.birth_date(), Some(date(1930, 11, 22)));
    assert_eq!(Pesel::parse_wire("30112206277").as_ref(), Ok(&p));
    let err = "30112206277".parse::<Pesel>().unwrap_err();
    assert!(matches!(
        err,
        IdentifierError::Checksum {
            checksum: ChecksumKind::Pesel,
            ..
        }
    ));
    assert_eq!(p.verify_check_digit(), Err(err));
    // The month code is part of the spec's pattern: checked on the wire too.
    assert!(serde_json::from_str::<Pesel>(r#""30132206276""#).is_err());
}

#[test]
fn a_response_from_the_test_environment_deserializes_whole() {
    // Every NIP and the PESEL with a wrong check digit; the KSeF number's CRC-8 is right.
    let number = KsefNumber::from_parts(
        &Nip::parse_wire("5265877636").unwrap(),
        date(2025, 8, 26),
        "0100001AF629",
    )
    .unwrap();
    let json = SAMPLE_JSON
        .replace("5265877635", "5265877636")
        .replace("30112206276", "30112206277")
        .replace("5265877636-20250826-0100001AF629-AF", number.as_str());
    assert_ne!(json, SAMPLE_JSON);
    let sample: Sample = serde_json::from_str(&json).unwrap();
    assert!(!sample.nip.has_valid_check_digit());
    assert!(!sample.pesel.has_valid_check_digit());
    assert!(!sample.nip_vat_ue.nip().has_valid_check_digit());
    assert!(!sample.internal_id.nip().has_valid_check_digit());
    assert!(!sample.ksef_number.nip().has_valid_check_digit());
    assert_eq!(sample.ksef_number, number);
    // Written back exactly as received.
    assert_eq!(serde_json::to_string(&sample).unwrap(), json);
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

/// A valid NIP, built from nine random digits (prefixes with no check digit are skipped).
fn nip() -> impl Strategy<Value = Nip> {
    prop::array::uniform9(0u8..10).prop_filter_map("no valid check digit or pattern", |d| {
        Nip::from_first_nine(d).ok()
    })
}

/// A date KSeF can write: 2020-01-01 to 9999-12-31.
fn ksef_date() -> impl Strategy<Value = NaiveDate> {
    let first = date(2020, 1, 1);
    let span = date(9999, 12, 31).signed_duration_since(first).num_days();
    (0..=span).prop_map(move |n| first + Days::new(n.unsigned_abs()))
}

/// Replaces the character at `position` with `replacement`.
fn replace_at(s: &str, position: usize, replacement: char) -> String {
    let mut out = s.to_owned();
    out.replace_range(position..position + 1, replacement.encode_utf8(&mut [0; 4]));
    out
}

/// `c` shifted by `1..=9` within the digits, so it is always a different digit.
fn other_digit(c: u8, shift: u8) -> char {
    char::from(b'0' + (c - b'0' + shift) % 10)
}

/// `c` shifted by `1..=15` within the uppercase hex digits, so it is always a different one.
fn other_hex(c: u8, shift: u8) -> char {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let i = HEX.iter().position(|&h| h == c).unwrap();
    char::from(HEX[(i + usize::from(shift)) % 16])
}

proptest! {
    /// The wire level accepts exactly the NIPs matching the spec's pattern; the strict level
    /// accepts exactly those of them whose check digit is right.
    #[test]
    fn nip_levels(first in 1u8..10, rest in prop::array::uniform9(0u8..10)) {
        let s: String = std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect();
        let wire = Nip::parse_wire(&s);
        let pattern = !(rest[0] == 0 && rest[1] == 0);
        prop_assert_eq!(wire.is_ok(), pattern, "{}", s);
        prop_assert_eq!(serde_json::from_str::<Nip>(&format!("\"{s}\"")).ok(), wire.clone().ok());
        if let Ok(nip) = wire {
            let mut first_nine = [0u8; 9];
            first_nine[0] = first;
            first_nine[1..].copy_from_slice(&rest[..8]);
            let valid = Nip::check_digit(first_nine) == Some(rest[8]);
            prop_assert_eq!(nip.has_valid_check_digit(), valid);
            prop_assert_eq!(s.parse::<Nip>().is_ok(), valid);
        }
    }

    #[test]
    fn generated_nips_parse(nip in nip()) {
        let parsed: Nip = nip.as_str().parse().unwrap();
        prop_assert_eq!(parsed, nip);
    }

    /// Changing one digit of a valid NIP by d (d ≠ 0 mod 10, so |d| in 1..=9) changes the weighted
    /// sum by w·d for the first nine digits; every weight (6,5,7,2,3,4,5,6,7) and every such d is
    /// non-zero mod 11 and 11 is prime, so w·d ≢ 0 (mod 11): the remainder changes and can no
    /// longer equal the unchanged check digit. Changing the check digit itself trivially
    /// mismatches. So a single-digit change is always rejected (by the checksum, or earlier by
    /// the pattern or the remainder-10 rule).
    #[test]
    fn nip_single_digit_change_is_rejected(nip in nip(), position in 0usize..10, shift in 1u8..10) {
        let b = nip.as_str().as_bytes();
        let mutated = replace_at(nip.as_str(), position, other_digit(b[position], shift));
        prop_assert!(mutated.parse::<Nip>().is_err(), "{} accepted", mutated);
    }

    #[test]
    fn pesel_generated_and_single_digit_change(
        yy in 0u8..100,
        band in prop::sample::select(vec![0u8, 20, 40, 60, 80]),
        month in 1u8..=12,
        day in 1u8..=28,
        serial in 0u16..10_000,
        position in 0usize..11,
        shift in 1u8..10,
    ) {
        let first_ten = format!("{yy:02}{:02}{day:02}{serial:04}", month + band);
        let digits: Vec<u8> = first_ten.bytes().map(|b| b - b'0').collect();
        let check = Pesel::check_digit(digits.try_into().unwrap()).unwrap();
        let s = format!("{first_ten}{check}");
        let pesel: Pesel = s.parse().unwrap();
        prop_assert!(pesel.birth_date().is_some());

        // Weights 1, 3, 7, 9 are coprime with 10, so w·d ≢ 0 (mod 10) for d in 1..=9: any one-digit
        // change alters the check value (or breaks the month code first).
        let mutated = replace_at(&s, position, other_digit(s.as_bytes()[position], shift));
        prop_assert!(mutated.parse::<Pesel>().is_err(), "{} accepted", mutated);
    }

    #[test]
    fn internal_id_from_parts_and_unit_digit_change(
        nip in nip(),
        unit in 0u16..10_000,
        position in 11usize..16,
        shift in 1u8..10,
    ) {
        let id = InternalId::from_parts(&nip, unit).unwrap();
        let parsed: InternalId = id.as_str().parse().unwrap();
        prop_assert!(parsed.has_valid_check_digit());
        prop_assert_eq!(parsed.nip(), nip);
        prop_assert_eq!(&parsed.unit()[..4], format!("{unit:04}"));

        // Weights 1 and 3 are coprime with 10: a changed unit digit or check digit still parses
        // (the checksum is not enforced) but always fails the check-digit test.
        let mutated = replace_at(id.as_str(), position, other_digit(id.as_str().as_bytes()[position], shift));
        let mutated: InternalId = mutated.parse().unwrap();
        prop_assert!(!mutated.has_valid_check_digit());
    }

    #[test]
    fn ksef_number_from_parts_round_trips(nip in nip(), date in ksef_date(), technical in "[0-9A-F]{12}") {
        let n = KsefNumber::from_parts(&nip, date, &technical).unwrap();
        let parsed: KsefNumber = n.as_str().parse().unwrap();
        prop_assert_eq!(&parsed, &n);
        prop_assert_eq!(parsed.nip(), nip);
        prop_assert_eq!(parsed.date(), date);
        prop_assert_eq!(parsed.technical_part(), technical.as_str());
        prop_assert_eq!(parsed.crc(), KsefNumber::crc8(&n.as_str().as_bytes()[..32]));
        let json = serde_json::to_string(&n).unwrap();
        prop_assert_eq!(serde_json::from_str::<KsefNumber>(&json).unwrap(), n);
    }

    /// A single changed character of the technical part or of the CRC is always caught: the
    /// change is an error polynomial x^k·e(x) with e ≠ 0 of degree < 8, and the generator
    /// x^8 + x^2 + x + 1 divides neither x^k (its constant term is 1) nor e (its degree is 8), so
    /// the CRC changes; a changed CRC digit mismatches the unchanged data.
    #[test]
    fn ksef_number_single_hex_change_fails_the_crc(
        nip in nip(),
        date in ksef_date(),
        technical in "[0-9A-F]{12}",
        position in prop::sample::select((20usize..32).chain(33..35).collect::<Vec<_>>()),
        shift in 1u8..16,
    ) {
        let n = KsefNumber::from_parts(&nip, date, &technical).unwrap();
        let mutated = replace_at(n.as_str(), position, other_hex(n.as_str().as_bytes()[position], shift));
        let err = mutated.parse::<KsefNumber>().unwrap_err();
        let is_crc_error = matches!(err, IdentifierError::Checksum { checksum: ChecksumKind::Crc8, .. });
        prop_assert!(is_crc_error, "{:?}", err);
    }

    #[test]
    fn ksef_number_any_single_change_is_rejected(
        nip in nip(),
        date in ksef_date(),
        technical in "[0-9A-F]{12}",
        position in 0usize..35,
        replacement in prop::sample::select(b"0123456789ABCDEF-X".to_vec()),
    ) {
        let n = KsefNumber::from_parts(&nip, date, &technical).unwrap();
        // A valid number never contains `X`, so this is always a change.
        let replacement = if n.as_str().as_bytes()[position] == replacement { b'X' } else { replacement };
        let mutated = replace_at(n.as_str(), position, char::from(replacement));
        prop_assert!(mutated.parse::<KsefNumber>().is_err(), "{} accepted", mutated);
    }

    #[test]
    fn reference_number_crc_is_reported_not_enforced(
        date in ksef_date(),
        kind in "[A-Z0-9]{2}",
        first in "[0-9A-F]{10}",
        second in "[0-9A-F]{10}",
        position in prop::sample::select((12usize..22).chain(23..33).chain(34..36).collect::<Vec<_>>()),
        shift in 1u8..16,
    ) {
        let r = ReferenceNumber::from_parts(date, &kind, &first, &second).unwrap();
        let parsed: ReferenceNumber = r.as_str().parse().unwrap();
        prop_assert!(parsed.has_valid_checksum());
        prop_assert_eq!(parsed.kind_code(), kind.as_str());
        prop_assert_eq!(parsed.date(), date);

        let mutated = replace_at(r.as_str(), position, other_hex(r.as_str().as_bytes()[position], shift));
        let mutated: ReferenceNumber = mutated.parse().unwrap();
        prop_assert!(!mutated.has_valid_checksum());
    }

    #[test]
    fn challenge_from_parts_round_trips(date in ksef_date(), first in "[0-9A-F]{10}", second in "[0-9A-F]{10}") {
        let c = Challenge::from_parts(date, &first, &second).unwrap();
        let parsed: Challenge = c.as_str().parse().unwrap();
        prop_assert!(parsed.has_valid_checksum());
        prop_assert_eq!(parsed.date(), date);
        prop_assert_eq!(&c.as_str()[9..11], "CR");
    }

    /// No input makes a parser panic, anything accepted prints back unchanged, and whatever the
    /// strict level accepts, the wire level (and so deserialization) accepts too.
    #[test]
    fn parsers_never_panic(s in "\\PC{0,40}") {
        fn roundtrip<T>(s: &str) -> bool
        where
            T: std::str::FromStr + std::fmt::Display + serde::de::DeserializeOwned + PartialEq,
        {
            let wire = serde_json::from_value::<T>(serde_json::Value::from(s));
            let wire_ok = wire.as_ref().map_or(true, |v| v.to_string() == s);
            let strict_ok = s.parse::<T>().map_or(true, |v| {
                v.to_string() == s && wire.as_ref().ok() == Some(&v)
            });
            wire_ok && strict_ok
        }
        prop_assert!(roundtrip::<Nip>(&s));
        prop_assert!(roundtrip::<Pesel>(&s));
        prop_assert!(roundtrip::<VatUe>(&s));
        prop_assert!(roundtrip::<NipVatUe>(&s));
        prop_assert!(roundtrip::<InternalId>(&s));
        prop_assert!(roundtrip::<PeppolId>(&s));
        prop_assert!(roundtrip::<KsefNumber>(&s));
        prop_assert!(roundtrip::<ReferenceNumber>(&s));
        prop_assert!(roundtrip::<Challenge>(&s));
    }

    /// Near-miss inputs (the right alphabet and length, multibyte characters mixed in).
    #[test]
    fn near_misses_never_panic(s in "[0-9A-F\\-ąX]{34,37}") {
        let _ = s.parse::<KsefNumber>();
        let _ = s.parse::<ReferenceNumber>();
        let _ = s.parse::<Challenge>();
        let _ = s.parse::<NipVatUe>();
        let _ = KsefNumber::parse_wire(&s);
        let _ = NipVatUe::parse_wire(&s);
        let _ = InternalId::parse_wire(&s);
    }
}
