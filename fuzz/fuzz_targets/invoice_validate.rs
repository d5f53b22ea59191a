//! The offline validator every local invoice file meets first (`ksef invoice validate`, and
//! `invoice send`/`batch send`/`batch pack` before anything is sent): `validate::validate_invoice`,
//! `check_business`, `detect_schema`, `invoice_key` and `InvoiceFacts::read`.
//!
//! Invariants: the entry points agree on what is an invoice (a document `validate_invoice` takes
//! is one `detect_schema` and `check_business` take too, of the same schema); validating is
//! deterministic; and a document the validator accepts (no schema violation, no business
//! violation) parses into the generated types of its schema and round-trips through them
//! (parse → `to_xml` → parse gives an equal value).
#![no_main]

use ksef_model::invoice_facts::InvoiceFacts;
use ksef_model::validate::{
    BusinessOptions, Schema, check_business, detect_schema, invoice_key, validate_invoice,
};
use ksef_model::xml::{XmlDocument, fa_rr1, fa2, fa3, from_xml, to_xml};
use libfuzzer_sys::fuzz_target;

/// An accepted document parses as `T` and survives a round trip.
fn accepted_round_trips<T: XmlDocument + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let first = from_xml::<T>(data).unwrap_or_else(|err| {
        panic!(
            "the validator accepts a {} the generated types refuse: {err}",
            T::ROOT
        )
    });
    let written = to_xml(&first).expect("an accepted invoice serializes");
    let second = from_xml::<T>(&written).unwrap_or_else(|err| {
        panic!(
            "a serialized accepted invoice does not parse: {err}\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(first, second, "an accepted invoice changed in a round trip");
}

fuzz_target!(|data: &[u8]| {
    // Never panics, whatever the input.
    let facts = InvoiceFacts::read(data);
    let key = invoice_key(data);
    let Ok(report) = validate_invoice(data) else {
        return;
    };
    assert_eq!(
        validate_invoice(data).ok().as_ref(),
        Some(&report),
        "validation is deterministic"
    );
    assert_eq!(
        detect_schema(data).ok(),
        Some(report.schema),
        "detect_schema agrees with validate_invoice"
    );
    let business = check_business(data, &BusinessOptions::default())
        .expect("check_business takes what validate_invoice takes");
    let strict = check_business(
        data,
        &BusinessOptions::default().with_expected_schema(report.schema),
    )
    .expect("check_business takes what validate_invoice takes");
    assert_eq!(
        business, strict,
        "the document's own schema is never a violation"
    );
    if !report.is_valid() || !business.is_empty() {
        return;
    }
    assert!(
        key.is_ok(),
        "the duplicate key of an accepted invoice reads: {key:?}"
    );
    assert!(
        facts.is_ok(),
        "the facts of an accepted invoice read: {facts:?}"
    );
    match report.schema {
        Schema::Fa3 => accepted_round_trips::<fa3::Faktura>(data),
        Schema::Fa2 => accepted_round_trips::<fa2::Faktura>(data),
        Schema::FaRr1 => accepted_round_trips::<fa_rr1::Faktura>(data),
        other => panic!("a schema this target does not know yet: {other}"),
    }
});
