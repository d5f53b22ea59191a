//! Exclusive XML canonicalization of arbitrary XML.
//!
//! Invariants, for every document `ksef_xades::xml::Document::parse` accepts:
//! - canonicalization is idempotent: the canonical form parses, and canonicalizing it again gives
//!   the same bytes (with and without comments);
//! - dropping comments commutes: the comment-free canonical form of the with-comments canonical form
//!   equals the comment-free canonical form of the input;
//! - exclusive canonicalization of a subtree does not depend on its context: canonicalizing the
//!   canonical bytes of an element as a document of their own gives the same bytes;
//! - excluding a node (the enveloped-signature transform) yields a parseable, idempotent result.
#![no_main]

use ksef_xades::c14n::{C14nOptions, canonicalize};
use ksef_xades::xml::{Document, ParseLimits};
use libfuzzer_sys::fuzz_target;

/// How many elements get the subtree checks (the first ones in document order).
const SUBTREES: usize = 8;

fn reparse(canonical: &[u8], what: &str) -> Document {
    match Document::parse(canonical, &ParseLimits::default()) {
        Ok(doc) => doc,
        Err(err) => panic!(
            "{what}: canonical output does not parse: {err}\n{}",
            String::from_utf8_lossy(canonical)
        ),
    }
}

fn check_idempotent(canonical: &[u8], options: &C14nOptions, what: &str) {
    let doc = reparse(canonical, what);
    let again = canonicalize(doc.as_node(), options)
        .unwrap_or_else(|err| panic!("{what}: canonical output does not canonicalize: {err}"));
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(canonical),
        "{what}: canonicalization is not idempotent"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse(data, &ParseLimits::default()) else {
        return;
    };
    let plain = C14nOptions::new();
    let with_comments = C14nOptions::new().with_comments(true);
    let Ok(canonical) = canonicalize(doc.as_node(), &plain) else {
        // The only failure is a relative namespace URI, which every node shares.
        assert!(canonicalize(doc.root(), &plain).is_err());
        return;
    };
    assert!(
        std::str::from_utf8(&canonical).is_ok(),
        "canonical output is not UTF-8"
    );
    check_idempotent(&canonical, &plain, "document");

    let commented = canonicalize(doc.as_node(), &with_comments).expect("as without comments");
    check_idempotent(&commented, &with_comments, "document with comments");
    let stripped = canonicalize(reparse(&commented, "with comments").as_node(), &plain)
        .expect("canonicalizes");
    assert_eq!(
        String::from_utf8_lossy(&stripped),
        String::from_utf8_lossy(&canonical),
        "dropping comments after canonicalization differs from dropping them during it"
    );

    let root = doc.root();
    for element in std::iter::once(root)
        .chain(root.descendant_elements())
        .take(SUBTREES)
    {
        let subtree = canonicalize(element, &plain).expect("the document canonicalizes");
        check_idempotent(&subtree, &plain, "subtree");
        // Excluding this element from the whole document (as the enveloped-signature transform
        // excludes the signature) leaves a document, unless it was the root.
        let options = C14nOptions::new().with_excluded(element.id());
        let without = canonicalize(doc.as_node(), &options).expect("the document canonicalizes");
        if element.id() != root.id() {
            check_idempotent(&without, &plain, "document without a subtree");
        }
    }
});
