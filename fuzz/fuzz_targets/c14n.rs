//! XML canonicalization of arbitrary XML, with each algorithm (exclusive, Canonical XML 1.0 and 1.1).
//!
//! Invariants, for every document `ksef_xades::xml::Document::parse` accepts and every algorithm:
//! - canonicalization is idempotent: the canonical form parses, and canonicalizing it again gives
//!   the same bytes (with and without comments);
//! - dropping comments commutes: the comment-free canonical form of the with-comments canonical form
//!   equals the comment-free canonical form of the input;
//! - the canonical form of a subtree does not depend on its context: canonicalizing the canonical
//!   bytes of an element as a document of their own gives the same bytes (exclusive canonicalization
//!   renders what the subtree uses; the inclusive algorithms write onto the subtree's top element the
//!   namespaces in scope and the `xml:*` attributes it inherits, so nothing outside is needed either);
//! - excluding a node (the enveloped-signature transform) yields a parseable, idempotent result;
//! - Canonical XML 1.0 and 1.1 give the same bytes for a whole document (they differ only in what a
//!   subset inherits from omitted ancestors).
#![no_main]

use ksef_xades::c14n::{Algorithm, C14nOptions, canonicalize};
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
    for algorithm in Algorithm::ALL {
        check(&doc, algorithm);
    }
    let whole = |algorithm| {
        canonicalize(
            doc.as_node(),
            &C14nOptions::new()
                .with_algorithm(algorithm)
                .with_comments(true),
        )
    };
    if let (Ok(c14n10), Ok(c14n11)) = (whole(Algorithm::Inclusive10), whole(Algorithm::Inclusive11))
    {
        assert_eq!(
            String::from_utf8_lossy(&c14n10),
            String::from_utf8_lossy(&c14n11),
            "Canonical XML 1.0 and 1.1 differ on a whole document"
        );
    }
});

fn check(doc: &Document, algorithm: Algorithm) {
    let plain = C14nOptions::new().with_algorithm(algorithm);
    let with_comments = plain.clone().with_comments(true);
    let Ok(canonical) = canonicalize(doc.as_node(), &plain) else {
        // The only failure is a relative namespace URI, which every node shares.
        assert!(canonicalize(doc.root(), &plain).is_err(), "{algorithm:?}");
        return;
    };
    assert!(
        std::str::from_utf8(&canonical).is_ok(),
        "canonical output is not UTF-8"
    );
    check_idempotent(&canonical, &plain, &format!("{algorithm:?} document"));

    let commented = canonicalize(doc.as_node(), &with_comments).expect("as without comments");
    check_idempotent(
        &commented,
        &with_comments,
        &format!("{algorithm:?} document with comments"),
    );
    let stripped = canonicalize(
        reparse(&commented, &format!("{algorithm:?} with comments")).as_node(),
        &plain,
    )
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
        check_idempotent(&subtree, &plain, &format!("{algorithm:?} subtree"));
        // Excluding this element from the whole document (as the enveloped-signature transform
        // excludes the signature) leaves a document, unless it was the root.
        let options = plain.clone().with_excluded(element.id());
        let without = canonicalize(doc.as_node(), &options).expect("the document canonicalizes");
        if element.id() != root.id() {
            check_idempotent(
                &without,
                &plain,
                &format!("{algorithm:?} document without a subtree"),
            );
        }
    }
}
