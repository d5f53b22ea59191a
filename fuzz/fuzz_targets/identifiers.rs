//! The KSeF identifier parsers of `ksef_model::values` on arbitrary text.
//!
//! Invariants, for each identifier type and any input:
//! - the strict level (`FromStr`) accepts only what the wire level (`parse_wire`) accepts;
//! - a parsed value keeps its text: `as_str`, `Display` and serialization give back the input, and
//!   re-parsing the displayed text (at the same level) and deserializing the JSON give an equal
//!   value; deserialization accepts exactly what `parse_wire` accepts;
//! - the accessors never panic on a parsed value, and values rebuilt from their parts
//!   (`from_parts`, `from_first_nine`) are equal to the original where the parts determine it;
//! - failed parses report the input and a kind.
#![no_main]

use std::fmt::Debug;
use std::str::FromStr;

use ksef_model::values::{
    Challenge, IdentifierError, InternalId, KsefNumber, Nip, NipVatUe, PeppolId, Pesel,
    ReferenceNumber, VatUe,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The checks every identifier type shares; returns the wire-level value.
fn common<T>(input: &str, parse_wire: fn(&str) -> Result<T, IdentifierError>) -> Option<T>
where
    T: FromStr<Err = IdentifierError>
        + Serialize
        + DeserializeOwned
        + PartialEq
        + Debug
        + ToString
        + AsRef<str>,
{
    let json = serde_json::to_string(input).expect("a string serializes");
    let deserialized = serde_json::from_str::<T>(&json);
    let strict = input.parse::<T>();
    let wire = match parse_wire(input) {
        Ok(wire) => wire,
        Err(err) => {
            assert_eq!(err.input(), input, "the error carries another input");
            let _ = err.to_string();
            assert!(
                strict.is_err(),
                "strict accepts what wire rejects: {input:?}"
            );
            assert!(
                deserialized.is_err(),
                "deserialization accepts what wire rejects: {input:?}"
            );
            return None;
        }
    };
    assert_eq!(wire.as_ref(), input);
    let displayed = wire.to_string();
    assert_eq!(displayed, input);
    assert_eq!(parse_wire(&displayed).ok().as_ref(), Some(&wire));
    assert_eq!(
        deserialized.ok().as_ref(),
        Some(&wire),
        "deserialization differs from parse_wire"
    );
    let written = serde_json::to_string(&wire).expect("serializes");
    assert_eq!(written, json, "serialization changed the text");
    if let Ok(strict) = strict {
        assert_eq!(strict, wire);
        assert_eq!(strict.to_string().parse::<T>().ok().as_ref(), Some(&strict));
    }
    Some(wire)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let input = input.trim_end_matches('\n');

    if let Some(nip) = common::<Nip>(input, Nip::parse_wire) {
        let digits: Vec<u8> = nip.as_str().bytes().map(|b| b - b'0').collect();
        let first_nine: [u8; 9] = digits[..9].try_into().expect("ten digits");
        let valid = nip.has_valid_check_digit();
        assert_eq!(valid, nip.verify_check_digit().is_ok());
        assert_eq!(valid, input.parse::<Nip>().is_ok());
        match Nip::from_first_nine(first_nine) {
            Ok(rebuilt) => assert_eq!(rebuilt == nip, valid),
            Err(_) => assert!(!valid),
        }
    }
    if let Some(pesel) = common::<Pesel>(input, Pesel::parse_wire) {
        assert_eq!(
            pesel.has_valid_check_digit(),
            pesel.verify_check_digit().is_ok()
        );
        let _ = pesel.birth_date();
    }
    if let Some(vat_ue) = common::<VatUe>(input, VatUe::parse_wire) {
        let joined = format!("{}{}", vat_ue.country_code(), vat_ue.national_part());
        assert_eq!(joined, input);
    }
    if let Some(id) = common::<NipVatUe>(input, NipVatUe::parse_wire) {
        assert_eq!(NipVatUe::from_parts(&id.nip(), &id.vat_ue()), id);
    }
    if let Some(id) = common::<InternalId>(input, InternalId::parse_wire) {
        assert_eq!(id.has_valid_check_digit(), id.verify_check_digit().is_ok());
        let unit: u16 = id.unit()[..4].parse().expect("four digits");
        let rebuilt = InternalId::from_parts(&id.nip(), unit).expect("unit below 10000");
        assert_eq!(rebuilt == id, id.has_valid_check_digit());
    }
    let _ = common::<PeppolId>(input, PeppolId::parse_wire);
    if let Some(number) = common::<KsefNumber>(input, KsefNumber::parse_wire) {
        let rebuilt =
            KsefNumber::from_parts(&number.nip(), number.date(), &number.technical_part())
                .expect("the parts of a number build one");
        if number.is_legacy() {
            assert_eq!(rebuilt.nip(), number.nip());
            assert_eq!(rebuilt.date(), number.date());
        } else {
            assert_eq!(rebuilt, number);
            assert_eq!(
                number.crc(),
                KsefNumber::crc8(&input.as_bytes()[..KsefNumber::CRC_INPUT_LEN])
            );
        }
    }
    if let Some(reference) = common::<ReferenceNumber>(input, ReferenceNumber::parse_wire) {
        let _ = (
            reference.date(),
            reference.kind_code(),
            reference.checksum(),
        );
        let valid = reference.has_valid_checksum();
        let rebuilt = ReferenceNumber::from_parts(
            reference.date(),
            reference.kind_code(),
            &input[12..22],
            &input[23..33],
        )
        .expect("the parts of a reference number build one");
        assert_eq!(rebuilt == reference, valid);
    }
    if let Some(challenge) = common::<Challenge>(input, Challenge::parse_wire) {
        let reference: ReferenceNumber = challenge.clone().into();
        assert_eq!(reference.as_str(), challenge.as_str());
        assert_eq!(reference.kind_code(), Challenge::KIND_CODE);
        let rebuilt = Challenge::from_parts(challenge.date(), &input[12..22], &input[23..33])
            .expect("the parts of a challenge build one");
        assert_eq!(rebuilt == challenge, challenge.has_valid_checksum());
    }
});
