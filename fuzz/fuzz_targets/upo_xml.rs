//! UPO v4-3 receipts (`ksef_model::xml::from_xml::<upo_v4_3::Potwierdzenie>`).
//!
//! Invariant: a receipt that parses writes back out (`to_xml`), and the written document parses to
//! an equal value, which writes out to the same bytes (parse → serialize → parse is stable). The
//! invariant is checked on well-formed documents (see `round_trip`).
#![no_main]

use ksef_model::xml::{XmlDocument, from_xml, to_xml, upo_v4_3};
use ksef_xades::xml::{Document, ParseLimits};
use libfuzzer_sys::fuzz_target;

/// An error with its sources.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Parse → serialize → parse → serialize: the two values are equal and the two documents identical.
fn round_trip<T: XmlDocument + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(first) = from_xml::<T>(data) else {
        return;
    };
    // The reader accepts some input that is not well-formed XML (finding 1 in README.md); the
    // round trip is promised for well-formed documents, as the strict parser of ksef-xades
    // judges them.
    if Document::parse(data, &ParseLimits::default()).is_err() {
        return;
    }
    let written = to_xml(&first)
        .unwrap_or_else(|err| panic!("a parsed {} does not serialize: {}", T::ROOT, chain(&err)));
    let second = from_xml::<T>(&written).unwrap_or_else(|err| {
        panic!(
            "a serialized {} does not parse: {}\n{}",
            T::ROOT,
            chain(&err),
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(first, second, "{} changed in a round trip", T::ROOT);
    let rewritten = to_xml(&second).expect("serializes");
    assert_eq!(
        String::from_utf8_lossy(&rewritten),
        String::from_utf8_lossy(&written),
        "{} serializes differently after a round trip",
        T::ROOT
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip::<upo_v4_3::Potwierdzenie>(data);
});
