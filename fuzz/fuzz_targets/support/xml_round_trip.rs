//! The round trip the XML targets (`upo_xml`, `invoice_xml`) check, shared through `#[path]`.

use ksef_model::xml::{XmlDocument, from_xml, to_xml};
use ksef_xades::xml::{Document, ParseLimits};

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
pub fn round_trip<T: XmlDocument + PartialEq + std::fmt::Debug>(data: &[u8]) {
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
